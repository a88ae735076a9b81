/* Open fragments (packed chunk groups): appends, reads while open, sealing
 * into the very file a put would store, the errors of each, and crash safety
 * at every file-system call of an append and of a seal, on the
 * fault-injecting file system (cs_io_fault). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_log.h"
#include "cs_io_fault.h"
#include "cs_store.h"
#include "ec_crc.h"

#define DIR_A    "/data"
#define DIR_B    "/other"
#define UNIT     4096u
#define CAPACITY (64ull << 20)
#define MAXLEN   (40 * UNIT)

typedef struct world {
    cs_io_fault *fs;
    const cs_io *io;
    cs_store *s;
} world;

static uint8_t data[MAXLEN];

static void fill(void)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < MAXLEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (uint8_t)x;
    }
}

static int open_store(world *w, const char *dir, cs_store **out)
{
    cs_store_opts o = {.io = w->io, .dir = dir, .durable = true};
    return cs_store_open(&o, out);
}

static void world_new(world *w, uint64_t seed)
{
    ck_assert_int_eq(cs_io_fault_new(CAPACITY, seed, &w->fs), 0);
    w->io = cs_io_fault_io(w->fs);
    ck_assert_int_eq(open_store(w, DIR_A, &w->s), 0);
}

static void world_free(world *w)
{
    cs_store_free(w->s);
    cs_io_fault_free(w->fs);
}

static void crash_and_restart(world *w, enum cs_io_restart how)
{
    cs_io_fault_crash_now(w->fs);
    cs_store_free(w->s);
    w->s = NULL;
    cs_io_fault_restart(w->fs, how);
    ck_assert_int_eq(open_store(w, DIR_A, &w->s), 0);
}

static cs_frag_meta meta_of(uint8_t tag)
{
    cs_frag_meta m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        m.group[i] = (uint8_t)(tag * 31 + i);
    m.index = tag % 6;
    m.k = 4;
    m.m = 2;
    m.unit = UNIT;
    return m;
}

/* Reads the whole fragment through the store (open or sealed) and compares
 * it with data[0..len). 0, or the error. */
static int check_content(world *w, const cs_frag_meta *m, uint64_t len)
{
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(w->s, m->group, m->index, &r);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(buf);
    if (cs_frag_reader_meta(r)->data_len != len)
        rc = CAIRN_E_RANGE;
    else
        rc = cs_frag_reader_read(r, 0, (size_t)len, buf, NULL);
    if (rc == 0 && memcmp(buf, data, len) != 0)
        rc = CAIRN_E_CORRUPT;
    free(buf);
    cs_frag_reader_close(r);
    return rc;
}

/* The first len bytes are data[0..len) (the fragment may be longer). */
static int check_prefix(world *w, const cs_frag_meta *m, uint64_t len)
{
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(w->s, m->group, m->index, &r);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(buf);
    rc = cs_frag_reader_read(r, 0, (size_t)len, buf, NULL);
    if (rc == 0 && memcmp(buf, data, len) != 0)
        rc = CAIRN_E_CORRUPT;
    free(buf);
    cs_frag_reader_close(r);
    return rc;
}

static int count_open_name(void *arg, const char *name)
{
    if (strstr(name, ".open") || strstr(name, ".crc"))
        (*(int *)arg)++;
    return 0;
}

/* Files of open fragments in m's fan-out directory. */
static int open_files(world *w, const cs_frag_meta *m)
{
    char hex[CS_GROUP_HEX_LEN + 1], dir[256];
    cs_group_format(m->group, hex);
    snprintf(dir, sizeof(dir), "%s/frags/%.2s/%.2s", DIR_A, hex, hex + 2);
    int n = 0;
    w->io->list(w->io, dir, count_open_name, &n);
    return n;
}

/* The bytes of a whole file. */
static uint8_t *file_bytes(world *w, const char *path, size_t *len)
{
    char *p;
    ck_assert_int_eq(cs_io_read_file(w->io, path, 64 << 20, &p, len), 0);
    return (uint8_t *)p;
}

static void frag_file(const char *dir, const cs_frag_meta *m, char out[256])
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(m->group, hex);
    snprintf(out, 256, "%s/frags/%.2s/%.2s/%s.%u", dir, hex, hex + 2, hex, m->index);
}

static void open_file(const char *dir, const cs_frag_meta *m, const char *suffix, char out[256])
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(m->group, hex);
    snprintf(out, 256, "%s/frags/%.2s/%.2s/%s.%u%s", dir, hex, hex + 2, hex, m->index, suffix);
}

START_TEST(append_read_seal_is_a_put)
{
    world w;
    world_new(&w, 1);
    cs_frag_meta m = meta_of(1);
    uint64_t len = 0;
    /* Batches of 1, 7 and 16 units; readable (and exact) after each. */
    static const uint64_t batches[] = {1, 7, 16};
    uint64_t at = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t n = batches[i] * UNIT;
        ck_assert_int_eq(cs_store_append(w.s, &m, at, data + at, n, &len), 0);
        at += n;
        ck_assert_uint_eq(len, at);
        ck_assert_int_eq(check_content(&w, &m, at), 0);
    }
    /* Ranged reads inside units and across them. */
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(w.s, m.group, m.index, &r), 0);
    uint8_t buf[3 * UNIT];
    ck_assert_int_eq(cs_frag_reader_read(r, UNIT + 17, 2 * UNIT + 5, buf, NULL), 0);
    ck_assert_mem_eq(buf, data + UNIT + 17, 2 * UNIT + 5);
    ck_assert_int_eq(cs_frag_reader_read(r, at - 3, 4, buf, NULL), CAIRN_E_RANGE);
    cs_frag_reader_close(r);
    cs_frag_meta got;
    ck_assert_int_eq(cs_store_open_length(w.s, m.group, m.index, &got), 0);
    ck_assert_uint_eq(got.data_len, at);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(w.s, &st), 0);
    ck_assert_uint_eq(st.open_fragments, 1);
    ck_assert_uint_eq(st.open_bytes, at);
    ck_assert_uint_eq(st.fragments, 0);

    enum cs_put_result res;
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, at, &res), 0);
    ck_assert_int_eq(res, CS_PUT_CREATED);
    ck_assert_int_eq(check_content(&w, &m, at), 0);
    ck_assert_int_eq(open_files(&w, &m), 0);
    ck_assert_int_eq(cs_store_stats_get(w.s, &st), 0);
    ck_assert_uint_eq(st.open_fragments, 0);
    ck_assert_uint_eq(st.fragments, 1);

    /* A put of the same data in another store writes the same file. */
    cs_store *b;
    ck_assert_int_eq(open_store(&w, DIR_B, &b), 0);
    cs_frag_meta pm = m;
    pm.data_len = at;
    cs_put *p;
    ck_assert_int_eq(cs_store_put_begin(b, &pm, &p), 0);
    ck_assert_int_eq(cs_put_write(p, data, (size_t)at), 0);
    ck_assert_int_eq(cs_put_commit(p, false, 0, false, NULL), 0);
    char pa[256], pb[256];
    frag_file(DIR_A, &m, pa);
    frag_file(DIR_B, &m, pb);
    size_t la, lb;
    uint8_t *fa = file_bytes(&w, pa, &la), *fb = file_bytes(&w, pb, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(fa, fb, la), 0);
    free(fa);
    free(fb);
    cs_store_free(b);

    /* A sealed fragment survives a reopen and counts in the inventory. */
    crash_and_restart(&w, CS_IO_POWER);
    ck_assert_int_eq(check_content(&w, &m, at), 0);
    ck_assert_int_eq(cs_store_stats_get(w.s, &st), 0);
    ck_assert_uint_eq(st.fragments, 1);
    ck_assert_uint_eq(st.open_fragments, 0);
    world_free(&w);
}
END_TEST

START_TEST(append_and_seal_errors)
{
    world w;
    world_new(&w, 2);
    cs_frag_meta m = meta_of(2);
    uint64_t len = 99;
    /* Shape checks. */
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, UNIT - 1, &len), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_store_append(w.s, &m, 1, data, UNIT, &len), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, 0, &len), CAIRN_E_INVAL);
    cs_frag_meta odd = m;
    odd.unit = 3000; /* not a divisor of 64 KiB */
    ck_assert_int_eq(cs_store_append(w.s, &odd, 0, data, 6000, &len), CAIRN_E_INVAL);
    /* The first append is at 0. */
    ck_assert_int_eq(cs_store_append(w.s, &m, UNIT, data, UNIT, &len), CAIRN_E_PRECOND);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(cs_store_open_length(w.s, m.group, m.index, &odd), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(open_files(&w, &m), 0);
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, 2 * UNIT, &len), 0);
    /* A gap, and an overlap that is not a retry, change nothing. */
    ck_assert_int_eq(cs_store_append(w.s, &m, 3 * UNIT, data, UNIT, &len), CAIRN_E_PRECOND);
    ck_assert_uint_eq(len, 2 * UNIT);
    ck_assert_int_eq(cs_store_append(w.s, &m, UNIT, data + UNIT, 2 * UNIT, &len), CAIRN_E_PRECOND);
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data + 1, UNIT, &len), CAIRN_E_PRECOND);
    /* A retry of what was acknowledged is acknowledged again. */
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, 2 * UNIT, &len), 0);
    ck_assert_int_eq(cs_store_append(w.s, &m, UNIT, data + UNIT, UNIT, &len), 0);
    ck_assert_uint_eq(len, 2 * UNIT);
    /* Another shape for the same fragment. */
    cs_frag_meta other = m;
    other.unit = 2 * UNIT;
    ck_assert_int_eq(cs_store_append(w.s, &other, 2 * UNIT, data, 2 * UNIT, &len), CAIRN_E_EXISTS);
    other = m;
    other.k = 3;
    ck_assert_int_eq(cs_store_append(w.s, &other, 2 * UNIT, data, UNIT, &len), CAIRN_E_EXISTS);
    ck_assert_int_eq(check_content(&w, &m, 2 * UNIT), 0);
    /* Seals: past the length, not whole units; then a retry. */
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, 3 * UNIT, NULL), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, UNIT + 1, NULL), CAIRN_E_RANGE);
    enum cs_put_result res;
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, 2 * UNIT, &res), 0);
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, 2 * UNIT, &res), 0);
    ck_assert_int_eq(res, CS_PUT_IDENTICAL);
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, UNIT, NULL), CAIRN_E_EXISTS);
    /* Nothing is appended to a sealed fragment. */
    ck_assert_int_eq(cs_store_append(w.s, &m, 2 * UNIT, data, UNIT, &len), CAIRN_E_EXISTS);
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, UNIT, &len), CAIRN_E_EXISTS);
    ck_assert_int_eq(check_content(&w, &m, 2 * UNIT), 0);
    /* Unknown fragments. */
    cs_frag_meta none = meta_of(9);
    ck_assert_int_eq(cs_store_seal(w.s, none.group, none.index, 0, NULL), CAIRN_E_NOTFOUND);
    ck_assert_uint_eq(cs_io_fault_open_files(w.fs), 1); /* the lock file */
    world_free(&w);
}
END_TEST

/* Sealing below the acknowledged length (the group is closed at the last
 * length the gateway saw acknowledged): the file holds more, so the seal
 * copies; the result is the shorter fragment, exactly. */
START_TEST(seal_shorter_and_delete)
{
    world w;
    world_new(&w, 3);
    cs_frag_meta m = meta_of(3);
    uint64_t len;
    ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, 3 * UNIT, &len), 0);
    ck_assert_int_eq(cs_store_append(w.s, &m, 3 * UNIT, data + 3 * UNIT, 5 * UNIT, &len), 0);
    ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, 3 * UNIT, NULL), 0);
    ck_assert_int_eq(check_content(&w, &m, 3 * UNIT), 0);
    ck_assert_int_eq(open_files(&w, &m), 0);
    crash_and_restart(&w, CS_IO_POWER);
    ck_assert_int_eq(check_content(&w, &m, 3 * UNIT), 0);

    /* An open fragment is deleted like any other. */
    cs_frag_meta d = meta_of(4);
    ck_assert_int_eq(cs_store_append(w.s, &d, 0, data, UNIT, &len), 0);
    ck_assert_int_eq(open_files(&w, &d), 2);
    ck_assert_int_eq(cs_store_delete(w.s, d.group, d.index), 0);
    ck_assert_int_eq(check_content(&w, &d, UNIT), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(open_files(&w, &d), 0);
    ck_assert_int_eq(cs_store_delete(w.s, d.group, d.index), CAIRN_E_NOTFOUND);
    cs_store_stats st;
    ck_assert_int_eq(cs_store_stats_get(w.s, &st), 0);
    ck_assert_uint_eq(st.open_fragments, 0);
    ck_assert_uint_eq(st.open_bytes, 0);
    world_free(&w);
}
END_TEST

/* Damage in an open fragment's data or CRCs is caught by reads and refused by
 * the seal (which must not launder it into a checked-looking file). */
START_TEST(damage_caught_before_and_at_seal)
{
    for (int where = 0; where < 2; where++) {
        world w;
        world_new(&w, 4);
        cs_frag_meta m = meta_of(5);
        uint64_t len;
        ck_assert_int_eq(cs_store_append(w.s, &m, 0, data, 4 * UNIT, &len), 0);
        char path[256];
        open_file(DIR_A, &m, where == 0 ? ".open" : ".crc", path);
        /* data: byte 100 of unit 2; CRC file: the entry of unit 2. */
        uint64_t byte = where == 0 ? 64 + 2 * UNIT + 100 : 128 + 2 * 4 + 1;
        ck_assert_int_eq(cs_io_fault_flip(w.fs, path, byte, 3), 0);
        cs_frag_reader *r;
        ck_assert_int_eq(cs_store_open_fragment(w.s, m.group, m.index, &r), 0);
        uint8_t buf[UNIT];
        uint64_t bad = 0;
        ck_assert_int_eq(cs_frag_reader_read(r, 0, UNIT, buf, NULL), 0);
        ck_assert_int_eq(cs_frag_reader_read(r, 2 * UNIT + 50, 10, buf, &bad), CAIRN_E_CORRUPT);
        ck_assert_uint_eq(bad, 2);
        cs_frag_reader_close(r);
        ck_assert_int_eq(cs_store_seal(w.s, m.group, m.index, 4 * UNIT, NULL), CAIRN_E_CORRUPT);
        /* Nothing sealed; the open fragment is still there to be rebuilt. */
        char sealed[256];
        frag_file(DIR_A, &m, sealed);
        cs_io_stat st;
        ck_assert_int_eq(w.io->stat(w.io, sealed, &st), CAIRN_E_NOTFOUND);
        ck_assert_int_eq(open_files(&w, &m), 2);
        world_free(&w);
    }
}
END_TEST

static const char *how_name(enum cs_io_restart how)
{
    return how == CS_IO_PROCESS ? "process" : how == CS_IO_POWER ? "power" : "torn";
}

/* Calls of one operation, measured on a clean run. */
enum step { S_FIRST, S_APPEND, S_SEAL };

static int run_step(world *w, const cs_frag_meta *m, enum step step, uint64_t *len)
{
    switch (step) {
    case S_FIRST:
        return cs_store_append(w->s, m, 0, data, 3 * UNIT, len);
    case S_APPEND:
        return cs_store_append(w->s, m, 3 * UNIT, data + 3 * UNIT, 9 * UNIT, len);
    case S_SEAL:
        return cs_store_seal(w->s, m->group, m->index, 12 * UNIT, NULL);
    }
    return CAIRN_E_INVAL;
}

static void prepare(world *w, const cs_frag_meta *m, enum step step)
{
    uint64_t len;
    if (step >= S_APPEND)
        ck_assert_int_eq(run_step(w, m, S_FIRST, &len), 0);
    if (step >= S_SEAL)
        ck_assert_int_eq(run_step(w, m, S_APPEND, &len), 0);
}

/* Crashes before each call of one step (and once after its last): after
 * the restart what was acknowledged is exact, what was not is absent or
 * exact, the fragment can be taken on (retried, appended to, sealed), and
 * no stray file is left once it is sealed. */
static void crash_every_call(enum step step, enum cs_io_restart how, uint64_t seed)
{
    cs_frag_meta m = meta_of(6);
    world w;
    world_new(&w, 0);
    prepare(&w, &m, step);
    cs_io_fault_reset_counts(w.fs);
    uint64_t len;
    ck_assert_int_eq(run_step(&w, &m, step, &len), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    /* Closing descriptors after the last sync cannot undo an answer. */
    uint64_t last = n;
    while (last > 0 && cs_io_fault_call_op(w.fs, last) == CS_IO_OP_CLOSE)
        last--;
    if (getenv("DBG"))
        for (uint64_t c = 1; c <= n; c++)
            fprintf(stderr, "step %d call %llu: %s\n", (int)step, (unsigned long long)c,
                    cs_io_op_name(cs_io_fault_call_op(w.fs, c)));
    world_free(&w);
    ck_assert_uint_gt(n, 3);
    uint64_t before = step == S_FIRST ? 0 : step == S_APPEND ? 3 * UNIT : 12 * UNIT;
    uint64_t after = step == S_FIRST ? 3 * UNIT : 12 * UNIT;
    for (uint64_t i = 1; i <= n + 1; i++) {
        char name[128];
        snprintf(name, sizeof(name), "step %d crash at call %llu/%llu, %s, seed %llu", (int)step,
                 (unsigned long long)i, (unsigned long long)n, how_name(how),
                 (unsigned long long)(seed + i));
        world_new(&w, seed + i);
        prepare(&w, &m, step);
        cs_io_fault_reset_counts(w.fs);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        bool acked = run_step(&w, &m, step, &len) == 0;
        ck_assert_msg(acked == (i > last), "%s: acknowledged %d", name, acked);
        crash_and_restart(&w, how);
        if (acked)
            ck_assert_msg(check_content(&w, &m, after) == 0, "%s: acknowledged content lost", name);
        else if (before)
            ck_assert_msg(check_prefix(&w, &m, before) == 0, "%s: acknowledged prefix lost (%d)",
                          name, check_prefix(&w, &m, before));
        /* Taking it on: the step again (a retry) succeeds, then the rest.
         * An append that was never acknowledged may have left a length
         * whose CRCs did not all land: the retry is then refused, and the
         * group is sealed at the last acknowledged length instead (what the
         * gateway does after any failed append). */
        int rc = run_step(&w, &m, step, &len);
        if (rc == CAIRN_E_PRECOND && !acked && step != S_SEAL) {
            ck_assert_msg(cs_store_seal(w.s, m.group, m.index, before, NULL) == 0,
                          "%s: seal at the acknowledged length", name);
            ck_assert_msg(check_content(&w, &m, before) == 0, "%s: sealed short", name);
            ck_assert_msg(open_files(&w, &m) == 0, "%s: open files left", name);
            world_free(&w);
            continue;
        }
        ck_assert_msg(rc == 0, "%s: retry (%d)", name, rc);
        for (enum step s = step + 1; s <= S_SEAL; s++)
            ck_assert_msg(run_step(&w, &m, s, &len) == 0, "%s: step %d after", name, (int)s);
        ck_assert_msg(check_content(&w, &m, 12 * UNIT) == 0, "%s: final content", name);
        ck_assert_msg(open_files(&w, &m) == 0, "%s: open files left", name);
        cs_store_stats st;
        ck_assert_int_eq(cs_store_stats_get(w.s, &st), 0);
        ck_assert_msg(st.fragments == 1 && st.open_fragments == 0, "%s: counts %llu %llu", name,
                      (unsigned long long)st.fragments, (unsigned long long)st.open_fragments);
        world_free(&w);
    }
}

START_TEST(crash_during_first_append)
{
    crash_every_call(S_FIRST, CS_IO_POWER, 100);
    crash_every_call(S_FIRST, CS_IO_PROCESS, 200);
    for (uint64_t seed = 1; seed <= 3; seed++)
        crash_every_call(S_FIRST, CS_IO_POWER_TORN, seed * 1000);
}
END_TEST

START_TEST(crash_during_append)
{
    crash_every_call(S_APPEND, CS_IO_POWER, 300);
    crash_every_call(S_APPEND, CS_IO_PROCESS, 400);
    for (uint64_t seed = 1; seed <= 3; seed++)
        crash_every_call(S_APPEND, CS_IO_POWER_TORN, seed * 1000 + 500);
}
END_TEST

START_TEST(crash_during_seal)
{
    crash_every_call(S_SEAL, CS_IO_POWER, 500);
    crash_every_call(S_SEAL, CS_IO_PROCESS, 600);
    for (uint64_t seed = 1; seed <= 3; seed++)
        crash_every_call(S_SEAL, CS_IO_POWER_TORN, seed * 1000 + 700);
}
END_TEST

/* EIO at every call of an append: refused, nothing acknowledged changes,
 * and the next try succeeds. */
START_TEST(eio_during_append)
{
    cs_frag_meta m = meta_of(7);
    world w;
    world_new(&w, 0);
    prepare(&w, &m, S_APPEND);
    cs_io_fault_reset_counts(w.fs);
    uint64_t len;
    ck_assert_int_eq(run_step(&w, &m, S_APPEND, &len), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    world_free(&w);
    for (uint64_t i = 1; i <= n; i++) {
        world_new(&w, i);
        prepare(&w, &m, S_APPEND);
        cs_io_fault_reset_counts(w.fs);
        cs_io_fault_fail(w.fs, CS_IO_OP_ANY, i, CAIRN_E_IO, false);
        int rc = run_step(&w, &m, S_APPEND, &len);
        ck_assert_msg(rc != 0 || cs_io_fault_call_op(w.fs, i) == CS_IO_OP_CLOSE,
                      "EIO at call %llu not reported", (unsigned long long)i);
        ck_assert_msg(check_content(&w, &m, 3 * UNIT) == 0 || check_content(&w, &m, 12 * UNIT) == 0,
                      "EIO at call %llu: content", (unsigned long long)i);
        ck_assert_int_eq(run_step(&w, &m, S_APPEND, &len), 0);
        ck_assert_int_eq(check_content(&w, &m, 12 * UNIT), 0);
        ck_assert_uint_eq(cs_io_fault_open_files(w.fs), 1);
        world_free(&w);
    }
}
END_TEST

/* A cs_io that counts the bytes asked of pread and passes every call on to
 * the fault-injecting file system: what a read of an open fragment costs. */
typedef struct counting_io {
    cs_io io; /* first: the callbacks get &counting_io.io */
    const cs_io *inner;
    uint64_t pread_bytes;
} counting_io;

static int counting_pread(const cs_io *io, int fd, void *buf, size_t len, uint64_t off,
                          size_t *done)
{
    counting_io *c = (counting_io *)io;
    c->pread_bytes += len;
    return c->inner->pread(c->inner, fd, buf, len, off, done);
}

static void counting_init(counting_io *c, const cs_io *inner)
{
    c->io = *inner; /* same impl: every other call goes straight through */
    c->io.pread = counting_pread;
    c->inner = inner;
    c->pread_bytes = 0;
}

/* Reads [off, off + len) through r, compares it with data, and returns the
 * bytes pread asked for on the way (data and CRC entries). */
static uint64_t read_cost(counting_io *c, cs_frag_reader *r, uint64_t off, size_t len)
{
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    c->pread_bytes = 0;
    ck_assert_int_eq(cs_frag_reader_read(r, off, len, buf, NULL), 0);
    ck_assert_mem_eq(buf, data + off, len);
    free(buf);
    return c->pread_bytes;
}

/* A ranged read of an open fragment preads the CRC entries of the blocks it
 * touches and nothing else of the table; every block it returns is still
 * checked, so damage to an entry in the range fails it and damage outside
 * does not (until a read covers it); a table cut short under an open
 * reader is corruption, not a shorter answer. */
START_TEST(open_reads_fetch_only_their_crcs)
{
    cs_io_fault *fs;
    ck_assert_int_eq(cs_io_fault_new(CAPACITY, 11, &fs), 0);
    counting_io c;
    counting_init(&c, cs_io_fault_io(fs));
    cs_store_opts o = {.io = &c.io, .dir = DIR_A, .durable = true};
    cs_store *s;
    ck_assert_int_eq(cs_store_open(&o, &s), 0);
    cs_frag_meta m = meta_of(8);
    uint64_t len;
    ck_assert_int_eq(cs_store_append(s, &m, 0, data, MAXLEN, &len), 0);

    cs_frag_reader *r;
    c.pread_bytes = 0;
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), 0);
    ck_assert_uint_le(c.pread_bytes, 128); /* the CRC file's header and slots */
    ck_assert(cs_frag_reader_is_open(r));
    ck_assert_uint_eq(cs_frag_reader_table_crc(r), 0);
    ck_assert_uint_eq(cs_frag_reader_meta(r)->data_len, MAXLEN);
    /* One block at block boundaries: that block and its one entry. */
    ck_assert_uint_eq(read_cost(&c, r, 5 * UNIT, UNIT), UNIT + 4);
    ck_assert_uint_eq(read_cost(&c, r, 0, UNIT), UNIT + 4);
    ck_assert_uint_eq(read_cost(&c, r, MAXLEN - UNIT, UNIT), UNIT + 4);
    /* Spanning blocks 3..7, the first and last partly: five blocks, read
     * whole, and five entries. */
    ck_assert_uint_eq(read_cost(&c, r, 3 * UNIT + 100, 4 * UNIT - 83), 5 * UNIT + 5 * 4);
    ck_assert_uint_eq(read_cost(&c, r, 2 * UNIT, 3 * UNIT), 3 * UNIT + 3 * 4);
    /* Inside one block, and the tail of the last block. */
    ck_assert_uint_eq(read_cost(&c, r, 7 * UNIT + 1, 10), UNIT + 4);
    ck_assert_uint_eq(read_cost(&c, r, MAXLEN - 100, 100), UNIT + 4);
    ck_assert_uint_eq(read_cost(&c, r, MAXLEN - UNIT - 1, 2), 2 * UNIT + 2 * 4);
    /* Everything: the whole table once. */
    ck_assert_uint_eq(read_cost(&c, r, 0, MAXLEN), MAXLEN + (MAXLEN / UNIT) * 4);
    /* Nothing past the committed length. */
    uint8_t buf[2 * UNIT];
    ck_assert_int_eq(cs_frag_reader_read(r, MAXLEN - 3, 4, buf, NULL), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_frag_reader_read(r, MAXLEN + 1, 0, buf, NULL), CAIRN_E_RANGE);
    uint8_t *scratch = malloc(UNIT);
    ck_assert_ptr_nonnull(scratch);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, MAXLEN / UNIT, scratch), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, 39, scratch), 0);

    /* The CRC entry of unit 20 damaged (under the open reader: its reads
     * fetch the entries they check, so they see it). */
    char crc_path[256];
    open_file(DIR_A, &m, ".crc", crc_path);
    ck_assert_int_eq(cs_io_fault_flip(fs, crc_path, 128 + 20 * 4 + 2, 5), 0);
    uint64_t bad = 0;
    for (int fresh = 0; fresh < 2; fresh++) {
        if (fresh) { /* and a reader opened after the damage */
            cs_frag_reader_close(r);
            ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), 0);
        }
        /* Ranges beside it, up to its edges, are intact. */
        read_cost(&c, r, 19 * UNIT, UNIT);
        read_cost(&c, r, 21 * UNIT, UNIT);
        read_cost(&c, r, 0, 20 * UNIT);
        read_cost(&c, r, 21 * UNIT, MAXLEN - 21 * UNIT);
        ck_assert_int_eq(cs_frag_reader_verify_block(r, 19, scratch), 0);
        /* Ranges covering it are not. */
        static const uint64_t from[] = {20 * UNIT, 20 * UNIT + 5, 18 * UNIT + 7, 0, 19 * UNIT};
        static const uint64_t n[] = {UNIT, 10, 3 * UNIT, MAXLEN, UNIT + 1};
        for (int i = 0; i < 5; i++) {
            uint8_t *big = malloc(MAXLEN);
            ck_assert_ptr_nonnull(big);
            bad = 0;
            ck_assert_int_eq(cs_frag_reader_read(r, from[i], n[i], big, &bad), CAIRN_E_CORRUPT);
            ck_assert_uint_eq(bad, 20);
            free(big);
        }
        ck_assert_int_eq(cs_frag_reader_verify_block(r, 20, scratch), CAIRN_E_CORRUPT);
    }

    /* The table cut to 30 entries under the open reader (which may read 40):
     * entries it no longer finds are corruption of the whole fragment (no
     * block named), the others still read. */
    size_t crc_len;
    uint8_t *crc_file = file_bytes(&(world){.fs = fs, .io = &c.io}, crc_path, &crc_len);
    ck_assert_uint_eq(crc_len, 128 + (MAXLEN / UNIT) * 4);
    int fd;
    ck_assert_int_eq(c.io.open(&c.io, crc_path, CS_IO_WRITE | CS_IO_TRUNC, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(&c.io, fd, crc_file, 128 + 30 * 4, 0), 0);
    c.io.close(&c.io, fd);
    free(crc_file);
    read_cost(&c, r, 29 * UNIT, UNIT);
    bad = UINT64_MAX;
    ck_assert_int_eq(cs_frag_reader_read(r, 29 * UNIT, 2 * UNIT, buf, &bad), CAIRN_E_CORRUPT);
    ck_assert_uint_eq(bad, UINT64_MAX);
    ck_assert_int_eq(cs_frag_reader_read(r, 35 * UNIT, 10, buf, &bad), CAIRN_E_CORRUPT);
    ck_assert_uint_eq(bad, UINT64_MAX);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, 35, scratch), CAIRN_E_CORRUPT);
    cs_frag_reader_close(r);
    /* A reader opened now takes the length the CRCs cover (a crash's
     * leftover, never acknowledged past it) and reads nothing beyond. */
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), 0);
    ck_assert_uint_eq(cs_frag_reader_meta(r)->data_len, 30 * UNIT);
    ck_assert_int_eq(cs_frag_reader_read(r, 30 * UNIT, 1, buf, NULL), CAIRN_E_RANGE);
    read_cost(&c, r, 29 * UNIT + 9, UNIT - 9);
    cs_frag_reader_close(r);
    free(scratch);
    ck_assert_uint_eq(cs_io_fault_open_files(fs), 1); /* the lock file */
    cs_store_free(s);
    cs_io_fault_free(fs);
}
END_TEST

/* Small units: a read of more blocks than the reader's stack buffer holds
 * fetches its entries into the heap, the same slice. */
START_TEST(open_reads_of_many_small_units)
{
    cs_io_fault *fs;
    ck_assert_int_eq(cs_io_fault_new(CAPACITY, 12, &fs), 0);
    counting_io c;
    counting_init(&c, cs_io_fault_io(fs));
    cs_store_opts o = {.io = &c.io, .dir = DIR_A, .durable = false};
    cs_store *s;
    ck_assert_int_eq(cs_store_open(&o, &s), 0);
    cs_frag_meta m = meta_of(9);
    m.unit = 512;
    uint64_t len;
    ck_assert_int_eq(cs_store_append(s, &m, 0, data, MAXLEN, &len), 0);
    cs_frag_reader *r;
    ck_assert_int_eq(cs_store_open_fragment(s, m.group, m.index, &r), 0);
    ck_assert_uint_eq(read_cost(&c, r, 512 * 3 + 1, 512 * 200), 512 * 201 + 201 * 4);
    ck_assert_uint_eq(read_cost(&c, r, 0, MAXLEN), MAXLEN + (MAXLEN / 512) * 4);
    char crc_path[256];
    open_file(DIR_A, &m, ".crc", crc_path);
    ck_assert_int_eq(cs_io_fault_flip(fs, crc_path, 128 + 250 * 4, 0), 0);
    read_cost(&c, r, 0, 250 * 512);
    uint8_t *buf = malloc(MAXLEN);
    ck_assert_ptr_nonnull(buf);
    uint64_t bad = 0;
    ck_assert_int_eq(cs_frag_reader_read(r, 100 * 512, 200 * 512, buf, &bad), CAIRN_E_CORRUPT);
    ck_assert_uint_eq(bad, 250);
    free(buf);
    cs_frag_reader_close(r);
    cs_store_free(s);
    cs_io_fault_free(fs);
}
END_TEST

/* cs_frag_reader_open_table by itself: a short last block, a table at any
 * offset, and the arguments it refuses (the caller keeps its descriptors). */
START_TEST(open_table_reader_short_last_block)
{
    cs_io_fault *fs;
    ck_assert_int_eq(cs_io_fault_new(CAPACITY, 13, &fs), 0);
    const cs_io *io = cs_io_fault_io(fs);
    const uint64_t dlen = 5 * UNIT + 1000, blocks = 6, toff = 16;
    int dfd, tfd;
    ck_assert_int_eq(io->open(io, "/d", CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &dfd), 0);
    ck_assert_int_eq(io->open(io, "/t", CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &tfd), 0);
    uint8_t zero[CS_FRAG_HEADER_LEN] = {0};
    ck_assert_int_eq(cs_io_write_all(io, dfd, zero, sizeof(zero), 0), 0);
    ck_assert_int_eq(cs_io_write_all(io, dfd, data, dlen, CS_FRAG_HEADER_LEN), 0);
    uint8_t table[16 + 6 * 4] = {0};
    for (uint64_t b = 0; b < blocks; b++) {
        uint64_t l = b + 1 < blocks ? UNIT : dlen - b * UNIT;
        cs_le_put_u32(table + toff + 4 * b, ec_crc32c(data + b * UNIT, l));
    }
    ck_assert_int_eq(cs_io_write_all(io, tfd, table, sizeof(table), 0), 0);
    cs_frag_meta m = meta_of(10);
    m.data_len = dlen;
    cs_frag_reader *r;
    ck_assert_int_eq(cs_frag_reader_open_table(io, dfd, &m, 3000, tfd, toff, &r), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_frag_reader_open_table(io, dfd, &m, UNIT, -1, toff, &r), CAIRN_E_INVAL);
    ck_assert_uint_eq(cs_io_fault_open_files(fs), 2); /* still the caller's */
    ck_assert_int_eq(cs_frag_reader_open_table(io, dfd, &m, UNIT, tfd, toff, &r), 0);
    uint8_t buf[2 * UNIT];
    static const uint64_t from[] = {5 * UNIT, 5 * UNIT + 10, 4 * UNIT + 5, dlen - 1, 4 * UNIT};
    static const uint64_t n[] = {1000, 20, UNIT + 995, 1, UNIT + 1000};
    for (int i = 0; i < 5; i++) {
        memset(buf, 0, sizeof(buf));
        ck_assert_int_eq(cs_frag_reader_read(r, from[i], n[i], buf, NULL), 0);
        ck_assert_mem_eq(buf, data + from[i], n[i]);
    }
    ck_assert_int_eq(cs_frag_reader_read(r, dlen - 1, 2, buf, NULL), CAIRN_E_RANGE);
    uint8_t *scratch = malloc(UNIT);
    ck_assert_ptr_nonnull(scratch);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, 5, scratch), 0);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, 6, scratch), CAIRN_E_RANGE);
    /* A flipped data bit in the short block. */
    ck_assert_int_eq(cs_io_fault_flip(fs, "/d", CS_FRAG_HEADER_LEN + 5 * UNIT + 999, 1), 0);
    uint64_t bad = 0;
    ck_assert_int_eq(cs_frag_reader_read(r, 5 * UNIT + 998, 1, buf, &bad), CAIRN_E_CORRUPT);
    ck_assert_uint_eq(bad, 5);
    ck_assert_int_eq(cs_frag_reader_verify_block(r, 5, scratch), CAIRN_E_CORRUPT);
    ck_assert_int_eq(cs_frag_reader_read(r, 3 * UNIT, 2 * UNIT, buf, NULL), 0);
    ck_assert_mem_eq(buf, data + 3 * UNIT, 2 * UNIT);
    free(scratch);
    cs_frag_reader_close(r);
    ck_assert_uint_eq(cs_io_fault_open_files(fs), 0);
    cs_io_fault_free(fs);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cs_store_open");
    TCase *tc = tcase_create("open");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, fill, NULL);
    tcase_add_test(tc, append_read_seal_is_a_put);
    tcase_add_test(tc, append_and_seal_errors);
    tcase_add_test(tc, seal_shorter_and_delete);
    tcase_add_test(tc, damage_caught_before_and_at_seal);
    tcase_add_test(tc, open_reads_fetch_only_their_crcs);
    tcase_add_test(tc, open_reads_of_many_small_units);
    tcase_add_test(tc, open_table_reader_short_last_block);
    tcase_add_test(tc, crash_during_first_append);
    tcase_add_test(tc, crash_during_append);
    tcase_add_test(tc, crash_during_seal);
    tcase_add_test(tc, eio_during_append);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    cn_log_set_level(CN_LOG_OFF);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
