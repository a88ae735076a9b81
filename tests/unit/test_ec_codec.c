/* ec_codec: round trips over a grid of schemes, erasure patterns and lengths;
 * exhaustive patterns for common schemes; too many erasures never yields data;
 * concurrent decoding with cache churn. */
#include "cn_error.h"
#include "ec_codec.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64: deterministic, seeded per test. */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct stripe {
    int k, m;
    size_t len;
    uint8_t *orig[EC_MAX_FRAGS]; /* what encode produced: the truth */
    uint8_t *work[EC_MAX_FRAGS]; /* decode target */
};

static void stripe_init(struct stripe *s, ec_codec *c, size_t len)
{
    s->k = ec_codec_k(c);
    s->m = ec_codec_m(c);
    s->len = len;
    for (int i = 0; i < s->k + s->m; i++) {
        s->orig[i] = malloc(len ? len : 1);
        s->work[i] = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(s->orig[i]);
        ck_assert_ptr_nonnull(s->work[i]);
    }
    for (int i = 0; i < s->k; i++)
        for (size_t b = 0; b < len; b++)
            s->orig[i][b] = (uint8_t)rnd();
    ck_assert_int_eq(ec_encode(c, len, (const uint8_t *const *)s->orig, s->orig + s->k), 0);
}

static void stripe_free(struct stripe *s)
{
    for (int i = 0; i < s->k + s->m; i++) {
        free(s->orig[i]);
        free(s->work[i]);
    }
}

/* Loses the fragments in `lost`, decodes them, and checks every byte. */
static void check_pattern(ec_codec *c, struct stripe *s, uint64_t lost)
{
    int n = s->k + s->m;
    uint64_t present = ((1ull << n) - 1) & ~lost;
    for (int i = 0; i < n; i++) {
        if (lost & (1ull << i))
            memset(s->work[i], 0xA5, s->len);
        else
            memcpy(s->work[i], s->orig[i], s->len);
    }
    int rc = ec_decode(c, s->len, s->work, present, lost);
    ck_assert_msg(rc == 0, "decode %d+%d len %zu lost %llx: %s", s->k, s->m, s->len,
                  (unsigned long long)lost, cairn_strerror(rc));
    for (int i = 0; i < n; i++)
        ck_assert_msg(memcmp(s->work[i], s->orig[i], s->len) == 0,
                      "fragment %d wrong after decode %d+%d len %zu lost %llx", i, s->k, s->m,
                      s->len, (unsigned long long)lost);
}

static uint64_t random_pattern(int n, int count)
{
    uint64_t mask = 0;
    while (__builtin_popcountll(mask) < count)
        mask |= 1ull << (rnd() % (uint64_t)n);
    return mask;
}

START_TEST(test_invalid_schemes)
{
    ec_codec *c = NULL;
    ck_assert_int_eq(ec_codec_new(0, 2, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_codec_new(33, 2, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_codec_new(4, 0, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_codec_new(4, 17, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_codec_new(-1, -1, &c), CAIRN_E_INVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(ec_codec_new(32, 16, &c), 0);
    ck_assert_int_eq(ec_codec_k(c), 32);
    ck_assert_int_eq(ec_codec_m(c), 16);
    ec_codec_free(c);
    ck_assert_int_eq(ec_codec_new(1, 1, &c), 0);
    ec_codec_free(c);
}
END_TEST

/* Every k+m up to 16+8, random lengths (0, 1, odd, not multiples of 64) and
 * random erasure patterns of 1..m fragments, data and parity alike. */
START_TEST(test_grid_roundtrip)
{
    rng_state = 1;
    static const size_t fixed_lens[] = {0, 1, 7, 63, 65, 1000, 4097};
    for (int k = 1; k <= 16; k++) {
        for (int m = 1; m <= 8; m++) {
            ec_codec *c;
            ck_assert_int_eq(ec_codec_new(k, m, &c), 0);
            for (size_t li = 0; li < sizeof(fixed_lens) / sizeof(fixed_lens[0]) + 2; li++) {
                size_t len = li < sizeof(fixed_lens) / sizeof(fixed_lens[0]) ? fixed_lens[li]
                                                                             : 1 + rnd() % 6000;
                struct stripe s;
                stripe_init(&s, c, len);
                for (int e = 1; e <= m; e++)
                    check_pattern(c, &s, random_pattern(k + m, e));
                stripe_free(&s);
            }
            ec_codec_free(c);
        }
    }
}
END_TEST

/* The largest schemes the codec accepts. */
START_TEST(test_large_schemes)
{
    rng_state = 2;
    static const int schemes[][2] = {{32, 16}, {20, 10}, {32, 1}, {1, 16}, {24, 8}};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        ec_codec *c;
        ck_assert_int_eq(ec_codec_new(schemes[i][0], schemes[i][1], &c), 0);
        struct stripe s;
        stripe_init(&s, c, 777);
        for (int t = 0; t < 20; t++)
            check_pattern(c, &s, random_pattern(s.k + s.m, 1 + (int)(rnd() % (uint64_t)s.m)));
        /* As many data fragments lost as the code allows. */
        check_pattern(c, &s, (1ull << (s.k < s.m ? s.k : s.m)) - 1);
        stripe_free(&s);
        ec_codec_free(c);
    }
}
END_TEST

/* Every pattern of exactly m (and fewer) lost fragments for common schemes:
 * a Vandermonde matrix fails some of these; Cauchy must not. */
static void all_patterns(int k, int m)
{
    ec_codec *c;
    ck_assert_int_eq(ec_codec_new(k, m, &c), 0);
    struct stripe s;
    stripe_init(&s, c, 333);
    int n = k + m;
    for (uint64_t lost = 1; lost < (1ull << n); lost++)
        if (__builtin_popcountll(lost) <= m)
            check_pattern(c, &s, lost);
    stripe_free(&s);
    ec_codec_free(c);
}

START_TEST(test_exhaustive_patterns)
{
    rng_state = 3;
    all_patterns(4, 2);
    all_patterns(6, 3);
    all_patterns(8, 3);
    all_patterns(10, 4);
    all_patterns(12, 4);
}
END_TEST

/* More than m lost: an error, and nothing written into the targets. */
START_TEST(test_too_many_erasures)
{
    rng_state = 4;
    for (int k = 1; k <= 12; k++) {
        for (int m = 1; m <= 4; m++) {
            ec_codec *c;
            ck_assert_int_eq(ec_codec_new(k, m, &c), 0);
            struct stripe s;
            stripe_init(&s, c, 100);
            int n = k + m;
            for (int t = 0; t < 10; t++) {
                int lose = m + 1 + (int)(rnd() % (uint64_t)(n - m));
                uint64_t lost = random_pattern(n, lose);
                uint64_t present = ((1ull << n) - 1) & ~lost;
                for (int i = 0; i < n; i++)
                    memset(s.work[i], 0x5A, s.len);
                ck_assert_int_eq(ec_decode(c, s.len, s.work, present, lost), CAIRN_E_ERASURES);
                for (int i = 0; i < n; i++)
                    for (size_t b = 0; b < s.len; b++)
                        if (s.work[i][b] != 0x5A)
                            ck_abort_msg("decode wrote into fragment %d after refusing", i);
            }
            stripe_free(&s);
            ec_codec_free(c);
        }
    }
}
END_TEST

START_TEST(test_decode_arguments)
{
    ec_codec *c;
    ck_assert_int_eq(ec_codec_new(4, 2, &c), 0);
    uint8_t buf[6][16];
    uint8_t *frags[6];
    for (int i = 0; i < 6; i++)
        frags[i] = buf[i];
    memset(buf, 1, sizeof(buf));
    /* Bits beyond k+m. */
    ck_assert_int_eq(ec_decode(c, 16, frags, 0x3f | 0x40, 0), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_decode(c, 16, frags, 0x3e, 0x80), CAIRN_E_INVAL);
    /* Nothing wanted: a no-op. */
    ck_assert_int_eq(ec_decode(c, 16, frags, 0x3f, 0), 0);
    /* Wanted bits that are present are ignored. */
    ck_assert_int_eq(ec_decode(c, 16, frags, 0x3f, 0x3f), 0);
    /* A needed buffer missing. */
    frags[0] = NULL;
    ck_assert_int_eq(ec_decode(c, 16, frags, 0x3e, 0x01), CAIRN_E_INVAL);
    ec_codec_free(c);
}
END_TEST

/* Only the k lowest present fragments are read: the others may be garbage. */
START_TEST(test_reads_lowest_k_only)
{
    rng_state = 5;
    ec_codec *c;
    ck_assert_int_eq(ec_codec_new(4, 3, &c), 0);
    struct stripe s;
    stripe_init(&s, c, 512);
    for (int i = 0; i < 7; i++)
        memcpy(s.work[i], s.orig[i], s.len);
    memset(s.work[1], 0, s.len);    /* lost */
    memset(s.work[6], 0xFF, s.len); /* present but must not be read */
    ck_assert_int_eq(ec_decode(c, s.len, s.work, 0x7d, 0x02), 0);
    ck_assert_mem_eq(s.work[1], s.orig[1], s.len);
    stripe_free(&s);
    ec_codec_free(c);
}
END_TEST

struct thread_arg {
    ec_codec *codec;
    uint64_t seed;
    int failures;
};

static void *decode_worker(void *p)
{
    struct thread_arg *a = p;
    uint64_t st = a->seed;
    int k = ec_codec_k(a->codec), m = ec_codec_m(a->codec), n = k + m;
    size_t len = 256;
    uint8_t *orig[EC_MAX_FRAGS], *work[EC_MAX_FRAGS];
    for (int i = 0; i < n; i++) {
        orig[i] = malloc(len);
        work[i] = malloc(len);
    }
    for (int i = 0; i < k; i++)
        for (size_t b = 0; b < len; b++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            orig[i][b] = (uint8_t)(st >> 56);
        }
    ec_encode(a->codec, len, (const uint8_t *const *)orig, orig + k);
    for (int t = 0; t < 400; t++) {
        uint64_t lost = 0;
        int want = 1 + (int)((st >> 33) % (uint64_t)m);
        while (__builtin_popcountll(lost) < want) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            lost |= 1ull << ((st >> 33) % (uint64_t)n);
        }
        for (int i = 0; i < n; i++) {
            if (lost & (1ull << i))
                memset(work[i], 0, len);
            else
                memcpy(work[i], orig[i], len);
        }
        if (ec_decode(a->codec, len, work, ((1ull << n) - 1) & ~lost, lost) != 0)
            a->failures++;
        for (int i = 0; i < n; i++)
            if (memcmp(work[i], orig[i], len) != 0)
                a->failures++;
    }
    for (int i = 0; i < n; i++) {
        free(orig[i]);
        free(work[i]);
    }
    return NULL;
}

/* Eight threads share one codec; 16+8 has far more erasure patterns than the
 * cache holds, so entries are evicted while other threads may use them. */
START_TEST(test_concurrent_decode)
{
    ec_codec *c;
    ck_assert_int_eq(ec_codec_new(16, 8, &c), 0);
    pthread_t th[8];
    struct thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct thread_arg){.codec = c, .seed = 100 + (uint64_t)i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, decode_worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    ck_assert_uint_le(ec_codec_cached_tables(c), 512);
    ck_assert_uint_gt(ec_codec_cached_tables(c), 0);
    ec_codec_free(c);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("ec_codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_invalid_schemes);
    tcase_add_test(tc, test_grid_roundtrip);
    tcase_add_test(tc, test_large_schemes);
    tcase_add_test(tc, test_exhaustive_patterns);
    tcase_add_test(tc, test_too_many_erasures);
    tcase_add_test(tc, test_decode_arguments);
    tcase_add_test(tc, test_reads_lowest_k_only);
    tcase_add_test(tc, test_concurrent_decode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
