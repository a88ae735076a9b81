/* Unit tests of cs_compact: a new packed-group fragment written from ranges
 * of the chunkserver's own sealed fragment of the old group (issue #17).
 * The result is the concatenation of the ranges, byte for byte the fragment
 * an ordinary put of those bytes stores (a put of them answers identical), a
 * retry answers identical; a missing, open, corrupt or differently shaped
 * old fragment, or a range past its end, stores nothing; the request parser
 * refuses malformed requests. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cs_compact.h"
#include "cs_store.h"
#include "ec_crc.h"

#define UNIT  4096u
#define UNITS 40u /* old fragment: 160 KiB, three CRC blocks */

static char test_dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/cs_compact_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

static void teardown(void)
{
    nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static cs_store *open_store(void)
{
    cs_store_opts o = {.dir = test_dir, .durable = true};
    cs_store *s = NULL;
    ck_assert_int_eq(cs_store_open(&o, &s), 0);
    return s;
}

static void group_id(uint8_t g[CS_GROUP_ID_LEN], uint8_t seed)
{
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        g[i] = (uint8_t)(seed * 37 + i);
}

static cs_frag_meta meta_of(const uint8_t g[CS_GROUP_ID_LEN], uint32_t index)
{
    cs_frag_meta m;
    memset(&m, 0, sizeof(m));
    memcpy(m.group, g, CS_GROUP_ID_LEN);
    m.index = index;
    m.k = 4;
    m.m = 2;
    m.unit = UNIT;
    return m;
}

/* The old fragment as a packed group's is made: appended, then sealed
 * (seal 0: left open). Its bytes into data (UNITS * UNIT). */
static void make_old(cs_store *s, const uint8_t g[CS_GROUP_ID_LEN], uint32_t index, uint8_t *data,
                     int seal)
{
    for (size_t i = 0; i < UNITS * UNIT; i++)
        data[i] = (uint8_t)(i * 7 + index + (i >> 12));
    cs_frag_meta m = meta_of(g, index);
    uint64_t len;
    /* two appends, as two batches would */
    ck_assert_int_eq(cs_store_append(s, &m, 0, data, 10 * UNIT, &len), 0);
    ck_assert_int_eq(cs_store_append(s, &m, 10 * UNIT, data + 10 * UNIT, (UNITS - 10) * UNIT, &len),
                     0);
    ck_assert_uint_eq(len, UNITS * UNIT);
    if (seal) {
        enum cs_put_result res;
        ck_assert_int_eq(cs_store_seal(s, g, index, UNITS * UNIT, &res), 0);
    }
}

static cs_compact_req request(const uint8_t nw[CS_GROUP_ID_LEN], const uint8_t old[CS_GROUP_ID_LEN],
                              uint32_t index, cs_compact_range *ranges, size_t n)
{
    cs_compact_req r;
    memset(&r, 0, sizeof(r));
    memcpy(r.new_group, nw, CS_GROUP_ID_LEN);
    memcpy(r.old_group, old, CS_GROUP_ID_LEN);
    r.meta = meta_of(nw, index);
    r.ranges = ranges;
    r.n_ranges = n;
    for (size_t i = 0; i < n; i++)
        r.meta.data_len += ranges[i].length;
    return r;
}

/* The new fragment's bytes (NULL if it is not there). */
static uint8_t *read_all(cs_store *s, const uint8_t g[CS_GROUP_ID_LEN], uint32_t index,
                         uint64_t *len)
{
    cs_frag_reader *r;
    if (cs_store_open_fragment(s, g, index, &r) != 0)
        return NULL;
    *len = cs_frag_reader_meta(r)->data_len;
    uint8_t *b = malloc(*len);
    uint64_t bad;
    ck_assert_int_eq(cs_frag_reader_read(r, 0, *len, b, &bad), 0);
    ck_assert(!cs_frag_reader_is_open(r));
    cs_frag_reader_close(r);
    return b;
}

START_TEST(test_compact_copies_ranges)
{
    cs_store *s = open_store();
    uint8_t old[CS_GROUP_ID_LEN], nw[CS_GROUP_ID_LEN];
    group_id(old, 1);
    group_id(nw, 2);
    uint8_t *data = malloc(UNITS * UNIT);
    make_old(s, old, 3, data, 1);
    /* out of order on the old side, spanning CRC blocks */
    cs_compact_range rs[] = {
        {30 * UNIT, 5 * UNIT}, {3 * UNIT, 2 * UNIT}, {14 * UNIT, 3 * UNIT}, {0, UNIT}};
    cs_compact_req r = request(nw, old, 3, rs, 4);
    uint32_t crc;
    enum cs_put_result put;
    int bad;
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), 0);
    ck_assert_int_eq(put, CS_PUT_CREATED);
    ck_assert(!bad);
    uint8_t *want = malloc(11 * UNIT);
    size_t at = 0;
    for (size_t i = 0; i < 4; i++) {
        memcpy(want + at, data + rs[i].offset, rs[i].length);
        at += rs[i].length;
    }
    uint64_t len;
    uint8_t *got = read_all(s, nw, 3, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, 11 * UNIT);
    ck_assert_mem_eq(got, want, len);
    ck_assert_uint_eq(crc, ec_crc32c(want, len));
    /* a retry finds it there */
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), 0);
    ck_assert_int_eq(put, CS_PUT_IDENTICAL);
    /* an ordinary put of the same bytes finds the same fragment */
    cs_frag_meta m = meta_of(nw, 3);
    m.data_len = len;
    cs_put *p;
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
    ck_assert_int_eq(cs_put_write(p, want, len), 0);
    ck_assert_int_eq(cs_put_commit(p, true, crc, false, &put), 0);
    ck_assert_int_eq(put, CS_PUT_IDENTICAL);
    /* the old fragment is untouched */
    free(got);
    got = read_all(s, old, 3, &len);
    ck_assert_mem_eq(got, data, UNITS * UNIT);
    free(got);
    free(want);
    free(data);
    cs_store_free(s);
}
END_TEST

START_TEST(test_compact_refusals)
{
    cs_store *s = open_store();
    uint8_t old[CS_GROUP_ID_LEN], nw[CS_GROUP_ID_LEN], open_g[CS_GROUP_ID_LEN];
    group_id(old, 11);
    group_id(nw, 12);
    group_id(open_g, 13);
    uint8_t *data = malloc(UNITS * UNIT);
    make_old(s, old, 0, data, 1);
    make_old(s, open_g, 0, data, 0);
    cs_compact_range rs[] = {{0, UNIT}};
    uint32_t crc;
    enum cs_put_result put;
    int bad;
    uint64_t len;
    /* no such old fragment (another index) */
    cs_compact_req r = request(nw, old, 1, rs, 1);
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), CAIRN_E_NOTFOUND);
    ck_assert(!bad);
    /* still open */
    r = request(nw, open_g, 0, rs, 1);
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), CAIRN_E_PRECOND);
    /* another scheme */
    r = request(nw, old, 0, rs, 1);
    r.meta.m = 3;
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), CAIRN_E_PRECOND);
    /* a range past the end */
    cs_compact_range past[] = {{(UNITS - 1) * UNIT, 2 * UNIT}};
    r = request(nw, old, 0, past, 1);
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), CAIRN_E_PRECOND);
    ck_assert_ptr_null(read_all(s, nw, 0, &len));
    /* a flipped byte in the old fragment's second CRC block */
    char hex[CS_GROUP_HEX_LEN + 1], path[512];
    cs_group_format(old, hex);
    snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s/%s.0", test_dir, hex, hex + 2, hex);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    off_t at = CS_FRAG_HEADER_LEN + EC_CRC_BLOCK + 100;
    ck_assert_int_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
    cs_compact_range across[] = {{0, UNIT}, {16 * UNIT, 2 * UNIT}};
    r = request(nw, old, 0, across, 2);
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), CAIRN_E_CORRUPT);
    ck_assert(bad);
    ck_assert_ptr_null(read_all(s, nw, 0, &len));
    /* the untouched block still copies */
    r = request(nw, old, 0, rs, 1);
    ck_assert_int_eq(cs_compact_run(s, &r, &crc, &put, &bad), 0);
    free(data);
    cs_store_free(s);
}
END_TEST

/* Encodes a CompactRequest with ranges rs[n] and parses it. */
static int parse(const uint8_t nw[16], const uint8_t old[16], uint32_t k, uint32_t unit,
                 const cs_compact_range *rs, size_t n, cs_compact_req *out)
{
    Chunk__FragmentRange fr[8], *frp[8];
    ck_assert_uint_le(n, 8);
    for (size_t i = 0; i < n; i++) {
        chunk__fragment_range__init(&fr[i]);
        fr[i].offset = rs[i].offset;
        fr[i].length = rs[i].length;
        frp[i] = &fr[i];
    }
    Chunk__CompactRequest msg = CHUNK__COMPACT_REQUEST__INIT;
    msg.new_group_id = (ProtobufCBinaryData){16, (uint8_t *)nw};
    msg.old_group_id = (ProtobufCBinaryData){16, (uint8_t *)old};
    msg.index = 5;
    msg.k = k;
    msg.m = 2;
    msg.unit = unit;
    msg.n_ranges = n;
    msg.ranges = frp;
    uint8_t buf[1024];
    size_t len = chunk__compact_request__pack(&msg, buf);
    return cs_compact_parse(buf, len, out);
}

START_TEST(test_parse)
{
    uint8_t a[16], b[16];
    group_id(a, 21);
    group_id(b, 22);
    cs_compact_req r;
    cs_compact_range ok[] = {{2 * UNIT, UNIT}, {0, 2 * UNIT}};
    ck_assert_int_eq(parse(a, b, 4, UNIT, ok, 2, &r), 0);
    ck_assert_uint_eq(r.meta.data_len, 3 * UNIT);
    ck_assert_uint_eq(r.meta.index, 5);
    ck_assert_mem_eq(r.meta.group, a, 16);
    ck_assert_mem_eq(r.old_group, b, 16);
    cs_compact_req_free(&r);
    ck_assert_int_eq(parse(a, a, 4, UNIT, ok, 2, &r), CAIRN_E_INVAL); /* same ids */
    ck_assert_int_eq(parse(a, b, 4, 1000, ok, 2, &r), CAIRN_E_INVAL); /* unit */
    ck_assert_int_eq(parse(a, b, 4, UNIT, ok, 0, &r), CAIRN_E_INVAL); /* no range */
    ck_assert_int_eq(parse(a, b, 0, UNIT, ok, 2, &r), CAIRN_E_INVAL); /* k */
    ck_assert_int_eq(parse(a, b, 4, UNIT, (cs_compact_range[]){{0, 2 * UNIT}, {UNIT, UNIT}}, 2, &r),
                     CAIRN_E_INVAL); /* overlap */
    ck_assert_int_eq(parse(a, b, 4, UNIT, (cs_compact_range[]){{100, UNIT}}, 1, &r),
                     CAIRN_E_INVAL); /* off a unit */
    ck_assert_int_eq(parse(a, b, 4, UNIT, (cs_compact_range[]){{0, 0}}, 1, &r),
                     CAIRN_E_INVAL); /* empty */
    ck_assert_int_eq(cs_compact_parse("\xff\xff\xff", 3, &r), CAIRN_E_PROTO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cs_compact");
    TCase *tc = tcase_create("compact");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_compact_copies_ranges);
    tcase_add_test(tc, test_compact_refusals);
    tcase_add_test(tc, test_parse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
