/* Unit tests of the scrubber (cs_scrub) and the damaged list (cs_damage) on a
 * real store in a temporary directory. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_error.h"
#include "cn_util.h"
#include "cs_damage.h"
#include "cs_scrub.h"
#include "cs_store.h"
#include "ec_crc.h"

static char test_dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/cs_scrub_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

static void teardown(void)
{
    nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#define NFRAGS   6
#define FRAG_LEN (3 * EC_CRC_BLOCK + 100)

static cs_frag_meta meta_of(int i)
{
    cs_frag_meta m;
    memset(&m, 0, sizeof(m));
    for (int b = 0; b < CS_GROUP_ID_LEN; b++)
        m.group[b] = (uint8_t)(i * 41 + b);
    m.index = 2;
    m.k = 4;
    m.m = 2;
    m.unit = 65536;
    m.data_len = FRAG_LEN;
    return m;
}

static cs_store *fill_store(void)
{
    cs_store_opts o = {.dir = test_dir, .durable = false};
    cs_store *s;
    ck_assert_int_eq(cs_store_open(&o, &s), 0);
    uint8_t *data = malloc(FRAG_LEN);
    for (int i = 0; i < NFRAGS; i++) {
        for (size_t j = 0; j < FRAG_LEN; j++)
            data[j] = (uint8_t)(i + j * 7);
        cs_frag_meta m = meta_of(i);
        cs_put *p;
        ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
        ck_assert_int_eq(cs_put_write(p, data, FRAG_LEN), 0);
        ck_assert_int_eq(cs_put_commit(p, false, 0, false, NULL), 0);
    }
    free(data);
    return s;
}

static void flip(int i, uint64_t data_off)
{
    cs_frag_meta m = meta_of(i);
    char hex[CS_GROUP_HEX_LEN + 1], path[512];
    cs_group_format(m.group, hex);
    snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s/%s.%u", test_dir, hex, hex + 2, hex, m.index);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)(CS_FRAG_HEADER_LEN + data_off)), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(CS_FRAG_HEADER_LEN + data_off)), 1);
    close(fd);
}

static void wait_passes(cs_scrub *sc, uint64_t passes)
{
    cs_scrub_stats st;
    for (int i = 0; i < 500; i++) {
        cs_scrub_stats_get(sc, &st);
        if (st.passes_done >= passes)
            return;
        cn_sleep_ms(10);
    }
    ck_abort_msg("scrub pass did not finish");
}

START_TEST(finds_damage_and_clears_it)
{
    cs_store *s = fill_store();
    cs_damage *d;
    ck_assert_int_eq(cs_damage_new(&d), 0);
    flip(1, 2 * EC_CRC_BLOCK + 5); /* block 2 */
    flip(4, 0);                    /* block 0 */
    flip(4, 3 * EC_CRC_BLOCK + 1); /* block 3 (the short last one) */
    cs_scrub_opts o = {.rate_bytes_per_s = 1ull << 30, .interval_ms = 3600000};
    cs_scrub *sc;
    ck_assert_int_eq(cs_scrub_start(s, d, &o, &sc), 0);
    wait_passes(sc, 1);
    cs_scrub_stats st;
    cs_scrub_stats_get(sc, &st);
    ck_assert_uint_eq(st.fragments_checked, NFRAGS);
    ck_assert_uint_eq(st.bytes_checked, (uint64_t)NFRAGS * FRAG_LEN);
    ck_assert_uint_eq(st.corrupt_fragments, 2);
    ck_assert_uint_eq(st.corrupt_blocks, 3);
    ck_assert_uint_eq(cs_damage_count(d), 2);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cs_damage_write(d, out);
    fclose(out);
    char hex[CS_GROUP_HEX_LEN + 1], line[128];
    cs_frag_meta m = meta_of(1);
    cs_group_format(m.group, hex);
    snprintf(line, sizeof(line), "%s 2 2 scrub ", hex);
    ck_assert_ptr_nonnull(strstr(text, line));
    m = meta_of(4);
    cs_group_format(m.group, hex);
    snprintf(line, sizeof(line), "%s 2 0 scrub ", hex);
    ck_assert_ptr_nonnull(strstr(text, line));
    free(text);
    cs_scrub_stop(sc);
    /* Clearing and re-adding. */
    cs_damage_clear(d, meta_of(1).group, 2);
    ck_assert_uint_eq(cs_damage_count(d), 1);
    ck_assert_uint_eq(cs_damage_total(d), 2);
    cs_damage_free(d);
    cs_store_free(s);
}
END_TEST

START_TEST(rate_limit_holds)
{
    cs_store *s = fill_store();
    cs_damage *d;
    ck_assert_int_eq(cs_damage_new(&d), 0);
    /* ~1.2 MiB at 2 MiB/s: at least ~0.5 s. */
    cs_scrub_opts o = {.rate_bytes_per_s = 2u << 20, .interval_ms = 3600000};
    cs_scrub *sc;
    int64_t t0 = cn_mono_ms();
    ck_assert_int_eq(cs_scrub_start(s, d, &o, &sc), 0);
    wait_passes(sc, 1);
    int64_t took = cn_mono_ms() - t0;
    ck_assert_int_ge(took, (int64_t)((uint64_t)NFRAGS * FRAG_LEN * 1000 / (2u << 20)) - 50);
    cs_scrub_stop(sc);
    cs_damage_free(d);
    cs_store_free(s);
}
END_TEST

static int group_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CS_GROUP_ID_LEN);
}

START_TEST(state_survives_restart)
{
    cs_store *s = fill_store();
    cs_damage *d;
    ck_assert_int_eq(cs_damage_new(&d), 0);
    cs_scrub_opts o = {.rate_bytes_per_s = 1ull << 30, .interval_ms = 3600000};
    cs_scrub *sc;
    ck_assert_int_eq(cs_scrub_start(s, d, &o, &sc), 0);
    wait_passes(sc, 1);
    cs_scrub_stop(sc);
    /* A restart within the interval does not start a pass. */
    ck_assert_int_eq(cs_scrub_start(s, d, &o, &sc), 0);
    cn_sleep_ms(200);
    cs_scrub_stats st;
    cs_scrub_stats_get(sc, &st);
    ck_assert_uint_eq(st.fragments_checked, 0);
    cs_scrub_stop(sc);
    /* A pass interrupted after the 4th fragment (path order) resumes there. */
    uint8_t groups[NFRAGS][CS_GROUP_ID_LEN];
    for (int i = 0; i < NFRAGS; i++)
        memcpy(groups[i], meta_of(i).group, CS_GROUP_ID_LEN);
    qsort(groups, NFRAGS, CS_GROUP_ID_LEN, group_cmp);
    char hex[CS_GROUP_HEX_LEN + 1], path[512];
    cs_group_format(groups[3], hex);
    snprintf(path, sizeof(path), "%s/scrub-state", test_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "pass_start %lld\ncursor %s 2\n", (long long)cn_wall_s() - 10, hex);
    fclose(f);
    ck_assert_int_eq(cs_scrub_start(s, d, &o, &sc), 0);
    wait_passes(sc, 1);
    cs_scrub_stats_get(sc, &st);
    ck_assert_uint_eq(st.fragments_checked, NFRAGS - 4);
    cs_scrub_stop(sc);
    cs_damage_free(d);
    cs_store_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cs_scrub");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, finds_damage_and_clears_it);
    tcase_add_test(tc, rate_limit_holds);
    tcase_add_test(tc, state_survives_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
