/* Unit tests of the fragment format (cs_fragment) and the store (cs_store). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cn_error.h"
#include "cs_fragment.h"
#include "cs_store.h"
#include "ec_crc.h"

static char test_dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/cs_store_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

static void teardown(void)
{
    nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint8_t *random_bytes(size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)rng();
    return b;
}

static cs_frag_meta make_meta(uint8_t seed, uint32_t index, uint64_t len)
{
    cs_frag_meta m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        m.group[i] = (uint8_t)(seed * 31 + i);
    m.index = index;
    m.k = 4;
    m.m = 2;
    m.unit = 65536;
    m.data_len = len;
    return m;
}

static cs_store *open_store(bool durable, uint64_t reserve)
{
    cs_store_opts o = {
        .dir = test_dir, .reserve_bytes = reserve, .durable = durable, .writeback_bytes = 1 << 20};
    cs_store *s = NULL;
    ck_assert_int_eq(cs_store_open(&o, &s), 0);
    return s;
}

/* Puts data in pieces of odd sizes; returns commit's result code. */
static int put_data(cs_store *s, const cs_frag_meta *m, const uint8_t *data, bool replace,
                    enum cs_put_result *res)
{
    cs_put *p;
    int rc = cs_store_put_begin(s, m, &p);
    if (rc != 0)
        return rc;
    size_t off = 0;
    while (off < m->data_len) {
        size_t n = 1 + rng() % 200000;
        if (n > m->data_len - off)
            n = m->data_len - off;
        rc = cs_put_write(p, data + off, n);
        if (rc != 0) {
            cs_put_abort(p);
            return rc;
        }
        off += n;
    }
    return cs_put_commit(p, true, ec_crc32c(data, m->data_len), replace, res);
}

static int count_dir(const char *sub)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", test_dir, sub);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void frag_file(const cs_frag_meta *m, char *out, size_t len)
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(m->group, hex);
    snprintf(out, len, "%s/frags/%.2s/%.2s/%s.%u", test_dir, hex, hex + 2, hex, m->index);
}

START_TEST(group_id_parse)
{
    uint8_t g[16];
    char hex[33];
    ck_assert_int_eq(cs_group_parse("00112233445566778899AABBCCDDEEFF", g), 0);
    cs_group_format(g, hex);
    ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff");
    ck_assert_int_eq(cs_group_parse("00112233445566778899aabbccddeef", g), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_group_parse("00112233445566778899aabbccddeeff0", g), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_group_parse("../../../../../../etc/passwd0000", g), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_group_parse("", g), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_group_parse(NULL, g), CAIRN_E_INVAL);
}
END_TEST

START_TEST(header_round_trip)
{
    cs_frag_meta m = make_meta(7, 5, 123456789), d;
    m.data_crc = 0xdeadbeef;
    uint8_t h[CS_FRAG_HEADER_LEN];
    cs_frag_header_encode(&m, 0x12345678, h);
    uint32_t tcrc = 0;
    ck_assert_int_eq(cs_frag_header_decode(h, &d, &tcrc), 0);
    ck_assert_mem_eq(d.group, m.group, 16);
    ck_assert_uint_eq(d.index, 5);
    ck_assert_uint_eq(d.k, 4);
    ck_assert_uint_eq(d.m, 2);
    ck_assert_uint_eq(d.unit, 65536);
    ck_assert_uint_eq(d.data_len, 123456789);
    ck_assert_uint_eq(d.data_crc, 0xdeadbeef);
    ck_assert_uint_eq(tcrc, 0x12345678);
    for (int bit = 0; bit < CS_FRAG_HEADER_LEN * 8; bit++) {
        uint8_t c[CS_FRAG_HEADER_LEN];
        memcpy(c, h, sizeof(c));
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_ne(cs_frag_header_decode(c, &d, &tcrc), 0);
    }
    /* Bad field values with a valid CRC are refused too. */
    cs_frag_meta bad = m;
    bad.index = 6;
    cs_frag_header_encode(&bad, 0, h);
    ck_assert_int_eq(cs_frag_header_decode(h, &d, &tcrc), CAIRN_E_CORRUPT);
}
END_TEST

START_TEST(put_get_sizes)
{
    cs_store *s = open_store(true, 0);
    static const uint64_t sizes[] = {
        0, 1, 65535, 65536, 65537, 3 * 65536 + 100, 2 << 20, (9 << 20) + 7};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        cs_frag_meta m = make_meta((uint8_t)i, 1, sizes[i]);
        uint8_t *data = random_bytes(sizes[i]);
        enum cs_put_result res;
        ck_assert_int_eq(put_data(s, &m, data, false, &res), 0);
        ck_assert_int_eq(res, CS_PUT_CREATED);
        cs_frag_reader *r;
        ck_assert_int_eq(cs_store_open_fragment(s, m.group, 1, &r), 0);
        ck_assert_uint_eq(cs_frag_reader_meta(r)->data_len, sizes[i]);
        ck_assert_uint_eq(cs_frag_reader_meta(r)->data_crc, ec_crc32c(data, sizes[i]));
        uint8_t *back = malloc(sizes[i] + 1);
        ck_assert_int_eq(cs_frag_reader_read(r, 0, sizes[i], back, NULL), 0);
        ck_assert(memcmp(back, data, sizes[i]) == 0);
        /* Ranged reads at random offsets and around block edges. */
        for (int t = 0; t < 50 && sizes[i] > 0; t++) {
            uint64_t off = rng() % sizes[i];
            if (t % 5 == 0)
                off = (off / EC_CRC_BLOCK) * EC_CRC_BLOCK;
            uint64_t len = rng() % (sizes[i] - off + 1);
            memset(back, 0, sizes[i]);
            ck_assert_int_eq(cs_frag_reader_read(r, off, len, back, NULL), 0);
            ck_assert(memcmp(back, data + off, len) == 0);
        }
        ck_assert_int_eq(cs_frag_reader_read(r, sizes[i], 1, back, NULL), CAIRN_E_RANGE);
        ck_assert_int_eq(cs_frag_reader_read(r, 0, sizes[i] + 1, back, NULL), CAIRN_E_RANGE);
        cs_frag_reader_close(r);
        free(back);
        free(data);
    }
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    ck_assert_uint_eq(st.fragments, 8);
    ck_assert_uint_eq(st.inflight_bytes, 0);
    ck_assert_int_eq(count_dir("tmp"), 0);
    cs_store_free(s);
}
END_TEST

/* Flips one bit of the fragment file at byte pos and reports whether a full
 * open + read detects it. */
static bool flip_detected(cs_store *s, const cs_frag_meta *m, uint64_t pos, int bit)
{
    char path[512];
    frag_file(m, path, sizeof(path));
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)pos), 1);
    b ^= (uint8_t)(1u << bit);
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
    cs_frag_reader *r;
    bool detected = false;
    int rc = cs_store_open_fragment(s, m->group, m->index, &r);
    if (rc != 0) {
        ck_assert_int_eq(rc, CAIRN_E_CORRUPT);
        detected = true;
    } else {
        uint8_t *buf = malloc(m->data_len);
        uint64_t bad = UINT64_MAX;
        rc = cs_frag_reader_read(r, 0, m->data_len, buf, &bad);
        if (rc != 0) {
            ck_assert_int_eq(rc, CAIRN_E_CORRUPT);
            detected = true;
            /* The bad block is the one flipped; the others still read. */
            uint64_t data_pos = pos - CS_FRAG_HEADER_LEN;
            ck_assert_uint_eq(bad, data_pos / EC_CRC_BLOCK);
            for (uint64_t blk = 0; blk < cs_frag_block_count(m->data_len); blk++) {
                uint64_t off = blk * EC_CRC_BLOCK;
                uint64_t len = m->data_len - off < EC_CRC_BLOCK ? m->data_len - off : EC_CRC_BLOCK;
                ck_assert_int_eq(cs_frag_reader_read(r, off, len, buf, NULL),
                                 blk == bad ? CAIRN_E_CORRUPT : 0);
            }
            /* A one-byte read inside the bad block fails too. */
            ck_assert_int_eq(cs_frag_reader_read(r, data_pos, 1, buf, NULL), CAIRN_E_CORRUPT);
            uint8_t scratch[EC_CRC_BLOCK];
            ck_assert_int_eq(cs_frag_reader_verify_block(r, bad, scratch), CAIRN_E_CORRUPT);
        }
        free(buf);
        cs_frag_reader_close(r);
    }
    b ^= (uint8_t)(1u << bit);
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
    close(fd);
    return detected;
}

START_TEST(single_bit_flips_detected)
{
    cs_store *s = open_store(false, 0);
    cs_frag_meta m = make_meta(42, 3, 2 * EC_CRC_BLOCK + 777);
    uint8_t *data = random_bytes(m.data_len);
    ck_assert_int_eq(put_data(s, &m, data, false, NULL), 0);
    uint64_t fsize = cs_frag_file_size(m.data_len);
    /* Every bit of the header and of the CRC table. */
    for (uint64_t pos = 0; pos < CS_FRAG_HEADER_LEN; pos++)
        for (int bit = 0; bit < 8; bit++)
            ck_assert_msg(flip_detected(s, &m, pos, bit), "header byte %lu", (unsigned long)pos);
    for (uint64_t pos = CS_FRAG_HEADER_LEN + m.data_len; pos < fsize; pos++)
        for (int bit = 0; bit < 8; bit++)
            ck_assert_msg(flip_detected(s, &m, pos, bit), "table byte %lu", (unsigned long)pos);
    /* Data: first and last byte of every block, and random positions. */
    for (uint64_t blk = 0; blk < cs_frag_block_count(m.data_len); blk++) {
        uint64_t first = CS_FRAG_HEADER_LEN + blk * EC_CRC_BLOCK;
        uint64_t last = first + EC_CRC_BLOCK - 1;
        if (last >= CS_FRAG_HEADER_LEN + m.data_len)
            last = CS_FRAG_HEADER_LEN + m.data_len - 1;
        ck_assert(flip_detected(s, &m, first, 0));
        ck_assert(flip_detected(s, &m, last, 7));
    }
    for (int t = 0; t < 300; t++)
        ck_assert(flip_detected(s, &m, CS_FRAG_HEADER_LEN + rng() % m.data_len, (int)(rng() % 8)));
    /* Truncation and extension are caught by the size check. */
    char path[512];
    frag_file(&m, path, sizeof(path));
    ck_assert_int_eq(truncate(path, (off_t)fsize - 1), 0);
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), CAIRN_E_CORRUPT);
    ck_assert_int_eq(truncate(path, (off_t)fsize + 1), 0);
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), CAIRN_E_CORRUPT);
    free(data);
    cs_store_free(s);
}
END_TEST

START_TEST(idempotent_reput)
{
    cs_store *s = open_store(true, 0);
    cs_frag_meta m = make_meta(9, 0, 100000);
    uint8_t *data = random_bytes(m.data_len);
    enum cs_put_result res;
    ck_assert_int_eq(put_data(s, &m, data, false, &res), 0);
    ck_assert_int_eq(res, CS_PUT_CREATED);
    ck_assert_int_eq(put_data(s, &m, data, false, &res), 0);
    ck_assert_int_eq(res, CS_PUT_IDENTICAL);
    /* A damaged stored copy is not "identical": re-putting repairs it. */
    char path[512];
    frag_file(&m, path, sizeof(path));
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "\xff\x00", 2, CS_FRAG_HEADER_LEN + 70000), 2);
    close(fd);
    ck_assert_int_eq(put_data(s, &m, data, false, &res), 0);
    ck_assert_int_eq(res, CS_PUT_REPLACED);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    ck_assert_uint_eq(st.fragments, 1);
    uint64_t digest1 = st.inventory_digest;
    /* Different content under the same name is refused, unless replacing. */
    uint8_t *other = random_bytes(m.data_len);
    ck_assert_int_eq(put_data(s, &m, other, false, &res), CAIRN_E_EXISTS);
    cs_frag_reader *r;
    uint8_t *back = malloc(m.data_len);
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, 0, &r), 0);
    ck_assert_int_eq(cs_frag_reader_read(r, 0, m.data_len, back, NULL), 0);
    ck_assert(memcmp(back, data, m.data_len) == 0);
    cs_frag_reader_close(r);
    ck_assert_int_eq(put_data(s, &m, other, true, &res), 0);
    ck_assert_int_eq(res, CS_PUT_REPLACED);
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, 0, &r), 0);
    ck_assert_int_eq(cs_frag_reader_read(r, 0, m.data_len, back, NULL), 0);
    ck_assert(memcmp(back, other, m.data_len) == 0);
    cs_frag_reader_close(r);
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    ck_assert_uint_eq(st.fragments, 1);
    ck_assert_uint_eq(st.inventory_digest, digest1);
    ck_assert_int_eq(count_dir("tmp"), 0);
    free(back);
    free(other);
    free(data);
    cs_store_free(s);
}
END_TEST

START_TEST(bad_puts_leave_nothing)
{
    cs_store *s = open_store(true, 0);
    cs_frag_meta m = make_meta(11, 2, 70000);
    uint8_t *data = random_bytes(m.data_len);
    cs_put *p;
    /* Wrong CRC. */
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
    ck_assert_int_eq(cs_put_write(p, data, m.data_len), 0);
    ck_assert_int_eq(cs_put_commit(p, true, ec_crc32c(data, m.data_len) ^ 1, false, NULL),
                     CAIRN_E_CORRUPT);
    /* Short body. */
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
    ck_assert_int_eq(cs_put_write(p, data, m.data_len - 1), 0);
    ck_assert_int_eq(cs_put_commit(p, false, 0, false, NULL), CAIRN_E_RANGE);
    /* Long body. */
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
    ck_assert_int_eq(cs_put_write(p, data, m.data_len - 1), 0);
    ck_assert_int_eq(cs_put_write(p, data, 2), CAIRN_E_RANGE);
    cs_put_abort(p);
    /* Aborted. */
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), 0);
    ck_assert_int_eq(cs_put_write(p, data, 1000), 0);
    ck_assert_int_eq(count_dir("tmp"), 1);
    cs_put_abort(p);
    /* The same for a put of several MiB. */
    cs_frag_meta big = make_meta(11, 3, (5 << 20) + 3);
    uint8_t *bdata = random_bytes(big.data_len);
    ck_assert_int_eq(cs_store_put_begin(s, &big, &p), 0);
    ck_assert_int_eq(cs_put_write(p, bdata, big.data_len), 0);
    ck_assert_int_eq(cs_put_commit(p, true, ec_crc32c(bdata, big.data_len) ^ 1, false, NULL),
                     CAIRN_E_CORRUPT);
    ck_assert_int_eq(cs_store_put_begin(s, &big, &p), 0);
    ck_assert_int_eq(cs_put_write(p, bdata, big.data_len - 1), 0);
    ck_assert_int_eq(cs_put_commit(p, false, 0, false, NULL), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_store_put_begin(s, &big, &p), 0);
    ck_assert_int_eq(cs_put_write(p, bdata, 3 << 20), 0);
    ck_assert_int_eq(cs_put_write(p, bdata, 3 << 20), CAIRN_E_RANGE);
    cs_put_abort(p);
    ck_assert_int_eq(cs_store_put_begin(s, &big, &p), 0);
    ck_assert_int_eq(cs_put_write(p, bdata, 3 << 20), 0);
    cs_put_abort(p);
    free(bdata);
    /* Invalid meta. */
    cs_frag_meta bad = m;
    bad.index = 6;
    ck_assert_int_eq(cs_store_put_begin(s, &bad, &p), CAIRN_E_INVAL);
    bad = m;
    bad.unit = 0;
    ck_assert_int_eq(cs_store_put_begin(s, &bad, &p), CAIRN_E_INVAL);

    ck_assert_int_eq(count_dir("tmp"), 0);
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, 2, &r), CAIRN_E_NOTFOUND);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    ck_assert_uint_eq(st.fragments, 0);
    ck_assert_uint_eq(st.inflight_bytes, 0);
    free(data);
    cs_store_free(s);
}
END_TEST

START_TEST(reserve_refuses)
{
    cs_store *s = open_store(true, 0);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    cs_store_free(s);
    /* A reserve just above what is free refuses even an empty fragment. */
    s = open_store(true, st.free_bytes + (1ull << 30));
    cs_frag_meta m = make_meta(12, 0, 10);
    cs_put *p;
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p), CAIRN_E_NOSPACE);
    ck_assert_int_eq(count_dir("tmp"), 0);
    ck_assert_int_eq(count_dir("frags"), 0);
    cs_store_free(s);
    /* Puts in flight count against the space: with room for 2.5 fragments of
     * 256 MiB (a margin of 128 MiB for other writers on this disk), two
     * begin and the third is refused. */
    ck_assert_uint_gt(st.free_bytes, 1ull << 30);
    s = open_store(true, st.free_bytes - (640ull << 20));
    m.data_len = 256ull << 20;
    cs_put *p1, *p2, *p3;
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p1), 0);
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p2), 0);
    ck_assert_int_eq(cs_store_put_begin(s, &m, &p3), CAIRN_E_NOSPACE);
    cs_put_abort(p1);
    cs_put_abort(p2);
    ck_assert_int_eq(count_dir("tmp"), 0);
    cs_store_free(s);
}
END_TEST

START_TEST(startup_cleans_and_keeps_id)
{
    cs_store *s = open_store(true, 0);
    char id[CS_ID_HEX_LEN + 1];
    strcpy(id, cs_store_id(s));
    ck_assert_uint_eq(strlen(id), 32);
    cs_frag_meta m = make_meta(13, 4, 5000);
    uint8_t *data = random_bytes(m.data_len);
    ck_assert_int_eq(put_data(s, &m, data, false, NULL), 0);
    cs_store_stats before;
    ck_assert_int_eq(cs_store_stats_get(s, &before), 0);
    /* The directory is locked while s has it. */
    cs_store_opts o = {.dir = test_dir, .durable = true};
    cs_store *other = NULL;
    ck_assert_int_eq(cs_store_open(&o, &other), CAIRN_E_BUSY);
    cs_store_free(s);
    /* A process that dies with a put in flight, and a stray temporary. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        cs_store *cs;
        cs_put *p;
        if (cs_store_open(&o, &cs) != 0 || cs_store_put_begin(cs, &m, &p) != 0 ||
            cs_put_write(p, data, 100) != 0)
            _exit(1);
        _exit(0); /* no cleanup, like a crash */
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/tmp/garbage.tmp", test_dir);
    FILE *f = fopen(path, "w");
    fputs("x", f);
    fclose(f);
    ck_assert_int_eq(count_dir("tmp"), 2);

    cs_store *s2 = open_store(true, 0);
    ck_assert_int_eq(count_dir("tmp"), 0);
    ck_assert_str_eq(cs_store_id(s2), id);
    cs_store_stats after;
    ck_assert_int_eq(cs_store_stats_get(s2, &after), 0);
    ck_assert_uint_eq(after.fragments, before.fragments);
    ck_assert_uint_eq(after.fragment_bytes, before.fragment_bytes);
    ck_assert_uint_eq(after.inventory_digest, before.inventory_digest);
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(s2, m.group, 4, &r), 0);
    cs_frag_reader_close(r);
    cs_store_free(s2);
    free(data);
}
END_TEST

typedef struct visit_log {
    int n;
    uint8_t group[64][16];
    uint32_t index[64];
} visit_log;

static int log_visit(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    visit_log *v = arg;
    memcpy(v->group[v->n], group, 16);
    v->index[v->n] = index;
    v->n++;
    return 0;
}

START_TEST(foreach_delete)
{
    cs_store *s = open_store(false, 0);
    uint8_t data[10] = {0};
    for (int g = 0; g < 5; g++)
        for (uint32_t i = 0; i < 3; i++) {
            cs_frag_meta m = make_meta((uint8_t)(g * 50), i, sizeof(data));
            ck_assert_int_eq(put_data(s, &m, data, false, NULL), 0);
        }
    visit_log v = {0};
    ck_assert_int_eq(cs_store_foreach(s, NULL, 0, log_visit, &v), 0);
    ck_assert_int_eq(v.n, 15);
    for (int i = 1; i < v.n; i++) {
        int c = memcmp(v.group[i - 1], v.group[i], 16);
        ck_assert(c < 0 || (c == 0 && v.index[i - 1] < v.index[i]));
    }
    /* Resume after the 7th. */
    visit_log w = {0};
    ck_assert_int_eq(cs_store_foreach(s, v.group[6], v.index[6], log_visit, &w), 0);
    ck_assert_int_eq(w.n, 8);
    ck_assert_mem_eq(w.group[0], v.group[7], 16);
    ck_assert_uint_eq(w.index[0], v.index[7]);

    ck_assert_int_eq(cs_store_delete(s, v.group[3], v.index[3]), 0);
    ck_assert_int_eq(cs_store_delete(s, v.group[3], v.index[3]), CAIRN_E_NOTFOUND);
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(s, v.group[3], v.index[3], &r), CAIRN_E_NOTFOUND);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(s, &st), 0);
    ck_assert_uint_eq(st.fragments, 14);
    cs_store_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cs_store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, group_id_parse);
    tcase_add_test(tc, header_round_trip);
    tcase_add_test(tc, put_get_sizes);
    tcase_add_test(tc, single_bit_flips_detected);
    tcase_add_test(tc, idempotent_reput);
    tcase_add_test(tc, bad_puts_leave_nothing);
    tcase_add_test(tc, reserve_refuses);
    tcase_add_test(tc, startup_cleans_and_keeps_id);
    tcase_add_test(tc, foreach_delete);
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
