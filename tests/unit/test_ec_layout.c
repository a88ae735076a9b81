/* ec_layout against a brute-force reference: the reference lays an object out
 * byte by byte exactly as the encoder fills stripes; the iterator, lengths and
 * inverse map must agree with it on thousands of random layouts and ranges. */
#include "cn_error.h"
#include "ec_layout.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

/* check records every assertion with a write(); inner loops use these, which
 * only call into check when they fail. */
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg("%s:%d: requirement failed: %s", __FILE__, __LINE__, #c);                 \
    } while (0)
#define REQUIRE_EQ(a, b) REQUIRE((uint64_t)(a) == (uint64_t)(b))

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct loc {
    uint64_t group, stripe, frag_off;
    uint32_t frag, su;
};

/* Fills ref[0..size) by walking groups, stripes, fragments and bytes in the
 * order the encoder stores them. Returns the per-group fragment length in
 * flen[g]. */
static void reference(const ec_layout *l, uint64_t size, struct loc *ref, uint64_t *flen)
{
    uint64_t obj = 0, g = 0;
    while (obj < size) {
        uint64_t group_start = obj;
        uint64_t group_left = size - obj;
        uint64_t cap = (uint64_t)l->k * l->frag_max;
        if (group_left > cap)
            group_left = cap;
        uint64_t frag_pos = 0, s = 0;
        while (obj - group_start < group_left) {
            uint64_t left = group_left - (obj - group_start);
            uint64_t sdl = (uint64_t)l->k * l->unit;
            uint32_t su = l->unit;
            if (left < sdl) {
                sdl = left;
                su = (uint32_t)((left + l->k - 1) / l->k);
            }
            for (uint32_t f = 0; f < l->k; f++)
                for (uint32_t b = 0; b < su; b++) {
                    uint64_t so = (uint64_t)f * su + b;
                    if (so < sdl)
                        ref[obj + so] = (struct loc){g, s, frag_pos + b, f, su};
                }
            obj += sdl;
            frag_pos += su;
            s++;
        }
        flen[g] = frag_pos;
        g++;
    }
}

static void random_layout(ec_layout *l)
{
    l->k = 1 + (uint32_t)(rnd() % 6);
    l->m = 1 + (uint32_t)(rnd() % 3);
    l->unit = 1 + (uint32_t)(rnd() % 40);
    l->frag_max = (uint64_t)l->unit * (1 + rnd() % 5);
}

START_TEST(test_layout_check)
{
    ec_layout ok = {4, 2, 1 << 20, 64u << 20};
    ck_assert_int_eq(ec_layout_check(&ok), 0);
    ec_layout bad[] = {
        {0, 2, 1024, 4096}, {33, 2, 1024, 4096}, {4, 0, 1024, 4096}, {4, 17, 1024, 4096},
        {4, 2, 0, 4096},    {4, 2, 1024, 0},     {4, 2, 1024, 4097},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(ec_layout_check(&bad[i]), CAIRN_E_INVAL);
    ck_assert_int_eq(ec_layout_check(NULL), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_against_reference)
{
    rng_state = 42;
    for (int round = 0; round < 400; round++) {
        ec_layout l;
        random_layout(&l);
        REQUIRE_EQ(ec_layout_check(&l), 0);
        uint64_t size = rnd() % 3 == 0 ? rnd() % 8 : rnd() % 2500;
        struct loc *ref = calloc(size + 1, sizeof(*ref));
        uint64_t ngroups = ec_layout_group_count(&l, size);
        uint64_t *flen = calloc(ngroups + 1, sizeof(*flen));
        reference(&l, size, ref, flen);

        /* Group and fragment lengths. */
        uint64_t total = 0;
        for (uint64_t g = 0; g < ngroups; g++) {
            uint64_t gl = ec_layout_group_len(&l, size, g);
            REQUIRE((gl) > (0));
            total += gl;
            REQUIRE_EQ(ec_layout_frag_len(&l, gl), flen[g]);
            REQUIRE((flen[g]) <= (l.frag_max));
            uint64_t sum_units = 0, sum_data = 0;
            for (uint64_t s = 0; s < ec_layout_stripe_count(&l, gl); s++) {
                sum_units += ec_layout_stripe_unit(&l, gl, s);
                sum_data += ec_layout_stripe_data_len(&l, gl, s);
            }
            REQUIRE_EQ(sum_units, flen[g]);
            REQUIRE_EQ(sum_data, gl);
            REQUIRE_EQ(ec_layout_stripe_unit(&l, gl, ec_layout_stripe_count(&l, gl)), 0);
        }
        REQUIRE_EQ(total, size);
        REQUIRE_EQ(ec_layout_group_len(&l, size, ngroups), 0);

        /* Inverse map: every stored data byte maps back; padding does not. */
        for (uint64_t o = 0; o < size; o++) {
            uint64_t back = ~0ull;
            REQUIRE_EQ(
                ec_layout_frag_to_obj(&l, size, ref[o].group, ref[o].frag, ref[o].frag_off, &back),
                0);
            REQUIRE_EQ(back, o);
        }
        for (uint64_t g = 0; g < ngroups; g++) {
            uint64_t mapped = 0;
            for (uint32_t f = 0; f < l.k; f++)
                for (uint64_t fo = 0; fo < flen[g] + 2; fo++) {
                    uint64_t back;
                    if (ec_layout_frag_to_obj(&l, size, g, f, fo, &back) == 0) {
                        REQUIRE((back) < (size));
                        REQUIRE_EQ(ref[back].group, g);
                        REQUIRE_EQ(ref[back].frag, f);
                        REQUIRE_EQ(ref[back].frag_off, fo);
                        mapped++;
                    }
                }
            REQUIRE_EQ(mapped, ec_layout_group_len(&l, size, g));
            uint64_t back;
            REQUIRE_EQ(ec_layout_frag_to_obj(&l, size, g, l.k, 0, &back), CAIRN_E_RANGE);
        }

        /* Random ranges (including empty, clipped and whole-object ones). */
        for (int r = 0; r < 25; r++) {
            uint64_t off = rnd() % (size + 3);
            uint64_t len = r == 0 ? UINT64_MAX : rnd() % (size + 5);
            if (r == 1)
                off = 0, len = size;
            uint64_t end = off >= size ? size : (len > size - off ? size : off + len);
            uint64_t start = off > size ? size : off;
            ec_range_iter it;
            ec_range_iter_init(&it, &l, size, off, len);
            ec_piece p, prev = {0};
            uint64_t pos = start;
            int n = 0;
            while (ec_range_iter_next(&it, &p)) {
                REQUIRE_EQ(p.obj_off, pos);
                REQUIRE((p.len) > (0));
                REQUIRE((p.obj_off + p.len) <= (end));
                for (uint64_t b = 0; b < p.len; b++) {
                    const struct loc *e = &ref[p.obj_off + b];
                    REQUIRE_EQ(e->group, p.group);
                    REQUIRE_EQ(e->stripe, p.stripe);
                    REQUIRE_EQ(e->frag, p.frag);
                    REQUIRE_EQ(e->su, p.stripe_unit);
                    REQUIRE_EQ(e->frag_off, p.frag_off + b);
                }
                /* Maximal: a piece never continues the previous one in the
                 * same fragment of the same stripe. */
                if (n > 0)
                    REQUIRE(!(prev.group == p.group && prev.stripe == p.stripe &&
                              prev.frag == p.frag && prev.frag_off + prev.len == p.frag_off));
                prev = p;
                pos += p.len;
                n++;
            }
            REQUIRE_EQ(pos, end);
        }
        free(ref);
        free(flen);
    }
}
END_TEST

/* Realistic sizes: 4+2, 1 MiB unit, 64 MiB fragments, a 10 TiB object. */
START_TEST(test_large_object)
{
    ec_layout l = {4, 2, 1u << 20, 64ull << 20};
    uint64_t size = 10ull << 40;
    uint64_t cap = 256ull << 20;
    ck_assert_uint_eq(ec_layout_group_capacity(&l), cap);
    ck_assert_uint_eq(ec_layout_group_count(&l, size), size / cap);
    ck_assert_uint_eq(ec_layout_frag_len(&l, cap), 64ull << 20);
    /* One byte past a group boundary. */
    ec_range_iter it;
    ec_piece p;
    ec_range_iter_init(&it, &l, size, 3 * cap - 1, 2);
    ck_assert(ec_range_iter_next(&it, &p));
    ck_assert_uint_eq(p.group, 2);
    ck_assert_uint_eq(p.frag, 3);
    ck_assert_uint_eq(p.stripe, 63);
    ck_assert_uint_eq(p.frag_off, (64ull << 20) - 1);
    ck_assert_uint_eq(p.len, 1);
    ck_assert(ec_range_iter_next(&it, &p));
    ck_assert_uint_eq(p.group, 3);
    ck_assert_uint_eq(p.frag, 0);
    ck_assert_uint_eq(p.frag_off, 0);
    ck_assert(!ec_range_iter_next(&it, &p));
    /* A 100 KiB tail object: one short stripe of 25 KiB units, not 1 MiB. */
    ck_assert_uint_eq(ec_layout_frag_len(&l, 100 << 10), 25 << 10);
    ck_assert_uint_eq(ec_layout_frag_len(&l, 0), 0);
    ck_assert_uint_eq(ec_layout_group_count(&l, 0), 0);
    /* A range over a 1 MiB-aligned span touches exactly one piece per unit. */
    int n = 0;
    ec_range_iter_init(&it, &l, size, 5ull << 20, 3ull << 20);
    while (ec_range_iter_next(&it, &p)) {
        ck_assert_uint_eq(p.len, 1u << 20);
        n++;
    }
    ck_assert_int_eq(n, 3);
}
END_TEST

static Suite *layout_suite(void)
{
    Suite *s = suite_create("ec_layout");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_layout_check);
    tcase_add_test(tc, test_against_reference);
    tcase_add_test(tc, test_large_object);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(layout_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
