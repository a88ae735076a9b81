/* cli_parity (cairn scrub --deep): a consistent window passes; one damaged
 * fragment, data or parity, at any index and any byte, is found and named;
 * two damaged fragments, or any damage with m == 1, are detected but no
 * fragment is named; lengths and bounds. */
#include "cli_parity.h"
#include "cn_error.h"
#include "ec_codec.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A window of k+m fragments, len bytes each, encoded with ec_codec. */
struct window {
    int k, m;
    size_t len;
    uint8_t *f[EC_MAX_FRAGS];
};

static void window_init(struct window *w, int k, int m, size_t len)
{
    w->k = k;
    w->m = m;
    w->len = len;
    for (int i = 0; i < k + m; i++) {
        w->f[i] = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(w->f[i]);
        for (size_t b = 0; i < k && b < len; b++)
            w->f[i][b] = (uint8_t)rnd();
    }
    ec_codec *c;
    ck_assert_int_eq(ec_codec_new(k, m, &c), 0);
    ck_assert_int_eq(ec_encode(c, len, (const uint8_t *const *)w->f, w->f + k), 0);
    ec_codec_free(c);
}

static void window_free(struct window *w)
{
    for (int i = 0; i < w->k + w->m; i++)
        free(w->f[i]);
}

static int check(struct cli_parity *p, struct window *w, int *bad)
{
    return cli_parity_check(p, (const uint8_t *const *)w->f, w->len, bad);
}

START_TEST(test_consistent)
{
    rng_state = 1;
    static const int schemes[][2] = {{4, 2}, {1, 1}, {2, 1}, {6, 3}, {10, 4}, {32, 16}};
    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        struct window w;
        window_init(&w, schemes[s][0], schemes[s][1], 4096);
        struct cli_parity *p;
        ck_assert_int_eq(cli_parity_new(w.k, w.m, 4096, &p), 0);
        int bad = 7;
        ck_assert_int_eq(check(p, &w, &bad), 0);
        ck_assert_int_eq(bad, -1);
        cli_parity_free(p);
        window_free(&w);
    }
}
END_TEST

/* Every index of 4+2 and 6+3, one flipped byte at several offsets. */
START_TEST(test_one_damaged_is_named)
{
    rng_state = 2;
    static const int schemes[][2] = {{4, 2}, {6, 3}, {3, 2}};
    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        struct window w;
        window_init(&w, schemes[s][0], schemes[s][1], 65536 + 13);
        struct cli_parity *p;
        ck_assert_int_eq(cli_parity_new(w.k, w.m, w.len, &p), 0);
        size_t offsets[] = {0, 1, 4096, w.len - 1};
        for (int f = 0; f < w.k + w.m; f++) {
            for (size_t o = 0; o < 4; o++) {
                uint8_t flip = (uint8_t)(1 + rnd() % 255);
                w.f[f][offsets[o]] ^= flip;
                int bad = -2;
                ck_assert_int_eq(check(p, &w, &bad), 1);
                ck_assert_int_eq(bad, f);
                w.f[f][offsets[o]] ^= flip;
            }
            /* A whole fragment rewritten (as a wrong write would). */
            uint8_t *saved = malloc(w.len);
            memcpy(saved, w.f[f], w.len);
            for (size_t b = 0; b < w.len; b++)
                w.f[f][b] = (uint8_t)rnd();
            int bad = -2;
            ck_assert_int_eq(check(p, &w, &bad), 1);
            ck_assert_int_eq(bad, f);
            memcpy(w.f[f], saved, w.len);
            free(saved);
        }
        int bad;
        ck_assert_int_eq(check(p, &w, &bad), 0); /* restored */
        cli_parity_free(p);
        window_free(&w);
    }
}
END_TEST

START_TEST(test_ambiguous_not_named)
{
    rng_state = 3;
    /* Two damaged fragments of 4+2: detected, none named. */
    struct window w;
    window_init(&w, 4, 2, 1000);
    struct cli_parity *p;
    ck_assert_int_eq(cli_parity_new(4, 2, 1000, &p), 0);
    for (int a = 0; a < 6; a++) {
        for (int b = a + 1; b < 6; b++) {
            w.f[a][10] ^= 0x5a;
            w.f[b][500] ^= 0xa5;
            int bad = -2;
            ck_assert_int_eq(check(p, &w, &bad), 1);
            ck_assert_int_eq(bad, -1);
            w.f[a][10] ^= 0x5a;
            w.f[b][500] ^= 0xa5;
        }
    }
    cli_parity_free(p);
    window_free(&w);
    /* m == 1: any damage is detected, but every fragment would explain it. */
    window_init(&w, 4, 1, 1000);
    ck_assert_int_eq(cli_parity_new(4, 1, 1000, &p), 0);
    for (int f = 0; f < 5; f++) {
        w.f[f][999] ^= 1;
        int bad = -2;
        ck_assert_int_eq(check(p, &w, &bad), 1);
        ck_assert_int_eq(bad, -1);
        w.f[f][999] ^= 1;
    }
    cli_parity_free(p);
    window_free(&w);
}
END_TEST

START_TEST(test_bounds)
{
    rng_state = 4;
    struct cli_parity *p;
    ck_assert_int_eq(cli_parity_new(0, 2, 100, &p), CAIRN_E_INVAL);
    ck_assert_int_eq(cli_parity_new(4, 0, 100, &p), CAIRN_E_INVAL);
    ck_assert_int_eq(cli_parity_new(4, 2, 0, &p), CAIRN_E_INVAL);
    struct window w;
    window_init(&w, 4, 2, 200);
    ck_assert_int_eq(cli_parity_new(4, 2, 100, &p), 0);
    int bad;
    ck_assert_int_eq(check(p, &w, &bad), CAIRN_E_INVAL); /* longer than len_max */
    w.len = 100;                                         /* a shorter window is fine */
    ck_assert_int_eq(check(p, &w, &bad), 0);
    w.len = 0;
    ck_assert_int_eq(check(p, &w, &bad), 0);
    cli_parity_free(p);
    window_free(&w);
}
END_TEST

static Suite *parity_suite(void)
{
    Suite *s = suite_create("cli_parity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_consistent);
    tcase_add_test(tc, test_one_damaged_is_named);
    tcase_add_test(tc, test_ambiguous_not_named);
    tcase_add_test(tc, test_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parity_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
