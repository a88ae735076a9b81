/* Crash safety and error paths of the fragment store, on the fault-injecting
 * file system (cs_io_fault): a crash, an EIO or an ENOSPC at every file-system
 * call of put, replace, delete, get, open and a scrub pass, torn writes, and
 * bit flips on the medium. Everything is driven by explicit call numbers and
 * seeds, so a failure names the case that replays it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cs_damage.h"
#include "cs_io_fault.h"
#include "cs_scrub.h"
#include "cs_store.h"
#include "ec_crc.h"

#define DATA_DIR "/data"
#define TMP_DIR  DATA_DIR "/tmp"
#define FRAG_LEN (3 * EC_CRC_BLOCK + 1000)
#define CAPACITY (64ull << 20)

/* ---- fixture ---- */

typedef struct world {
    cs_io_fault *fs;
    const cs_io *io;
    cs_store *s;
} world;

static void world_new(world *w, uint64_t seed)
{
    ck_assert_int_eq(cs_io_fault_new(CAPACITY, seed, &w->fs), 0);
    w->io = cs_io_fault_io(w->fs);
    w->s = NULL;
}

static int store_open(world *w)
{
    cs_store_opts o = {.io = w->io, .dir = DATA_DIR, .durable = true, .writeback_bytes = 128 << 10};
    return cs_store_open(&o, &w->s);
}

static void store_close(world *w)
{
    cs_store_free(w->s);
    w->s = NULL;
}

static void world_free(world *w)
{
    store_close(w);
    cs_io_fault_free(w->fs);
}

/* The machine stops (if an armed crash has not stopped it already), the
 * store is dropped without cleanup, and the disk comes back as `how` says. */
static void crash_and_restart(world *w, enum cs_io_restart how)
{
    cs_io_fault_crash_now(w->fs);
    store_close(w);
    cs_io_fault_restart(w->fs, how);
    ck_assert_int_eq(store_open(w), 0);
}

/* Fragments: group bytes 0 and 1 pick the fan-out directory. */
static cs_frag_meta frag(uint8_t g0, uint8_t g1, uint8_t tag)
{
    cs_frag_meta m;
    memset(&m, 0, sizeof(m));
    m.group[0] = g0;
    m.group[1] = g1;
    for (int i = 2; i < CS_GROUP_ID_LEN; i++)
        m.group[i] = (uint8_t)(tag * 7 + i);
    m.index = tag % 6;
    m.k = 4;
    m.m = 2;
    m.unit = 65536;
    m.data_len = FRAG_LEN;
    return m;
}

enum { D_A, D_B, D_B2, D_C, D__COUNT };
static uint8_t content[D__COUNT][FRAG_LEN];

static void fill_contents(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int c = 0; c < D__COUNT; c++)
        for (size_t i = 0; i < FRAG_LEN; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            content[c][i] = (uint8_t)x;
        }
}

/* Puts data in three pieces (staged, large, rest); returns commit's code. */
static int put(world *w, const cs_frag_meta *m, const uint8_t *data, bool replace,
               enum cs_put_result *res)
{
    cs_put *p;
    int rc = cs_store_put_begin(w->s, m, &p);
    if (rc != 0)
        return rc;
    static const size_t pieces[] = {5000, 100000, FRAG_LEN - 105000};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        rc = cs_put_write(p, data + off, pieces[i]);
        if (rc != 0) {
            cs_put_abort(p);
            return rc;
        }
        off += pieces[i];
    }
    return cs_put_commit(p, true, ec_crc32c(data, FRAG_LEN), replace, res);
}

enum frag_state { ABSENT, EXACT, CORRUPT, OTHER };
static const char *const state_names[] = {"absent", "exact", "corrupt", "other content"};

/* What a reader of fragment m finds, compared with data. */
static enum frag_state frag_state(world *w, const cs_frag_meta *m, const uint8_t *data)
{
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(w->s, m->group, m->index, &r);
    if (rc == CAIRN_E_NOTFOUND)
        return ABSENT;
    if (rc == CAIRN_E_CORRUPT)
        return CORRUPT;
    ck_assert_msg(rc == 0, "open_fragment: %s", cairn_strerror(rc));
    const cs_frag_meta *got = cs_frag_reader_meta(r);
    enum frag_state st = OTHER;
    if (got->data_len == FRAG_LEN && got->k == m->k && got->m == m->m && got->unit == m->unit) {
        uint8_t *buf = malloc(FRAG_LEN);
        rc = cs_frag_reader_read(r, 0, FRAG_LEN, buf, NULL);
        if (rc == CAIRN_E_CORRUPT)
            st = CORRUPT;
        else if (rc == 0 && memcmp(buf, data, FRAG_LEN) == 0)
            st = EXACT;
        else
            ck_assert_msg(rc == 0, "read: %s", cairn_strerror(rc));
        free(buf);
    }
    cs_frag_reader_close(r);
    return st;
}

#define ASSERT_STATE(w, m, data, want)                                                             \
    do {                                                                                           \
        enum frag_state got_ = frag_state(w, m, data);                                             \
        ck_assert_msg(got_ == (want), "%s: fragment %s, expected %s", case_name,                   \
                      state_names[got_], state_names[want]);                                       \
    } while (0)

#define ASSERT_STATE2(w, m, data, want1, want2)                                                    \
    do {                                                                                           \
        enum frag_state got_ = frag_state(w, m, data);                                             \
        ck_assert_msg(got_ == (want1) || got_ == (want2), "%s: fragment %s, expected %s or %s",    \
                      case_name, state_names[got_], state_names[want1], state_names[want2]);       \
    } while (0)

static int count_name(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return 0;
}

static int tmp_files(world *w)
{
    int n = 0;
    ck_assert_int_eq(w->io->list(w->io, TMP_DIR, count_name, &n), 0);
    return n;
}

/* The store's counters equal what a fresh open counts on the same disk (a
 * process restart: nothing lost), and no descriptor but the lock is open. */
static void assert_counts_consistent(world *w, const char *case_name)
{
    ck_assert_msg(cs_io_fault_open_files(w->fs) == 1, "%s: %zu descriptors open", case_name,
                  cs_io_fault_open_files(w->fs));
    cs_store_stats live, fresh;
    ck_assert_int_eq(cs_store_stats_get(w->s, &live), 0);
    store_close(w);
    cs_io_fault_restart(w->fs, CS_IO_PROCESS);
    ck_assert_int_eq(store_open(w), 0);
    ck_assert_int_eq(cs_store_stats_get(w->s, &fresh), 0);
    ck_assert_msg(
        live.fragments == fresh.fragments && live.fragment_bytes == fresh.fragment_bytes &&
            live.inventory_digest == fresh.inventory_digest,
        "%s: counters %llu/%llu/%016llx, disk %llu/%llu/%016llx", case_name,
        (unsigned long long)live.fragments, (unsigned long long)live.fragment_bytes,
        (unsigned long long)live.inventory_digest, (unsigned long long)fresh.fragments,
        (unsigned long long)fresh.fragment_bytes, (unsigned long long)fresh.inventory_digest);
    ck_assert_uint_eq(live.inflight_bytes, 0);
}

static const char *how_name(enum cs_io_restart how)
{
    return how == CS_IO_PROCESS ? "process" : how == CS_IO_POWER ? "power" : "torn";
}

/* ---- crashes ---- */

/* Calls of one put of b on a store holding a. */
static uint64_t count_put_calls(const cs_frag_meta *a, const cs_frag_meta *b, const uint8_t *bdata,
                                bool replace)
{
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, a, content[D_A], false, NULL), 0);
    cs_io_fault_reset_counts(w.fs);
    ck_assert_int_eq(put(&w, b, bdata, replace, NULL), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    world_free(&w);
    ck_assert_uint_gt(n, 5);
    return n;
}

/* A put of b crashes before each of its calls in turn (and once after the
 * last): after the restart a (acknowledged before) is exact, b is exact if
 * its put was acknowledged and absent or exact otherwise, no temporary is
 * left, the counters match the disk, and the store takes new puts. */
static void crash_every_call_of_put(enum cs_io_restart how, uint64_t seed, bool same_fanout)
{
    cs_frag_meta a = frag(0x11, 0x22, 1);
    cs_frag_meta b = same_fanout ? frag(0x11, 0x22, 2) : frag(0x33, 0x44, 2);
    cs_frag_meta c = frag(0x55, 0x66, 3);
    uint64_t n = count_put_calls(&a, &b, content[D_B], false);
    for (uint64_t i = 1; i <= n + 1; i++) {
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "put crash at call %llu/%llu%s, %s, seed %llu",
                 (unsigned long long)i, (unsigned long long)n, i <= n ? "" : " (after the last)",
                 how_name(how), (unsigned long long)(seed + i));
        world w;
        world_new(&w, seed + i);
        ck_assert_int_eq(store_open(&w), 0);
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        cs_io_fault_reset_counts(w.fs);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        bool acked = put(&w, &b, content[D_B], false, NULL) == 0;
        ck_assert_msg(acked == (i > n), "%s: acknowledged %d", case_name, acked);
        crash_and_restart(&w, how);
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        if (acked)
            ASSERT_STATE(&w, &b, content[D_B], EXACT);
        else
            ASSERT_STATE2(&w, &b, content[D_B], ABSENT, EXACT);
        ck_assert_msg(tmp_files(&w) == 0, "%s: temporaries left", case_name);
        assert_counts_consistent(&w, case_name);
        ck_assert_int_eq(put(&w, &c, content[D_C], false, NULL), 0);
        ASSERT_STATE(&w, &c, content[D_C], EXACT);
        world_free(&w);
    }
}

START_TEST(crash_during_put_power)
{
    crash_every_call_of_put(CS_IO_POWER, 1000, false);
    crash_every_call_of_put(CS_IO_POWER, 2000, true);
}
END_TEST

START_TEST(crash_during_put_torn)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        crash_every_call_of_put(CS_IO_POWER_TORN, seed * 10000, false);
        crash_every_call_of_put(CS_IO_POWER_TORN, seed * 10000 + 5000, true);
    }
}
END_TEST

/* The process dies at each call of a put (the page cache survives); the
 * restarted process re-puts b and puts c next to it, both acknowledged;
 * then the power fails. Everything acknowledged must be there: what the dead
 * process left visible but not durable must not be taken as durable. */
START_TEST(process_crash_then_power_loss_during_put)
{
    cs_frag_meta a = frag(0x11, 0x22, 1), b = frag(0x33, 0x44, 2), c = frag(0x33, 0x44, 3);
    uint64_t n = count_put_calls(&a, &b, content[D_B], false);
    for (uint64_t i = 1; i <= n; i++) {
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "put killed at call %llu/%llu, then power loss",
                 (unsigned long long)i, (unsigned long long)n);
        world w;
        world_new(&w, i);
        ck_assert_int_eq(store_open(&w), 0);
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        cs_io_fault_reset_counts(w.fs);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        ck_assert_int_ne(put(&w, &b, content[D_B], false, NULL), 0);
        crash_and_restart(&w, CS_IO_PROCESS);
        ck_assert_msg(put(&w, &b, content[D_B], false, NULL) == 0, "%s: re-put of b", case_name);
        ck_assert_int_eq(put(&w, &c, content[D_C], false, NULL), 0);
        crash_and_restart(&w, CS_IO_POWER);
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        ASSERT_STATE(&w, &b, content[D_B], EXACT);
        ASSERT_STATE(&w, &c, content[D_C], EXACT);
        world_free(&w);
    }
}
END_TEST

/* The first open of an empty disk (layout, lock, id) crashes at each call;
 * a second open succeeds and a put is acknowledged; after a power loss the
 * store has the same id and the fragment. With `process` the first crash
 * keeps the page cache (a kill -9), else it is a power loss too. */
static void crash_every_call_of_open(bool process)
{
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    world_free(&w);
    cs_frag_meta a = frag(0x11, 0x22, 1);
    for (uint64_t i = 1; i <= n; i++) {
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "first open crashed at call %llu/%llu (%s)",
                 (unsigned long long)i, (unsigned long long)n, process ? "process" : "power");
        world_new(&w, i);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        ck_assert_int_ne(store_open(&w), 0);
        cs_io_fault_restart(w.fs, process ? CS_IO_PROCESS : CS_IO_POWER);
        ck_assert_msg(store_open(&w) == 0, "%s: second open", case_name);
        char id[CS_ID_HEX_LEN + 1];
        snprintf(id, sizeof(id), "%s", cs_store_id(w.s));
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        crash_and_restart(&w, CS_IO_POWER);
        ck_assert_msg(strcmp(cs_store_id(w.s), id) == 0, "%s: id %s became %s", case_name, id,
                      cs_store_id(w.s));
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        world_free(&w);
    }
}

START_TEST(crash_during_first_open)
{
    crash_every_call_of_open(false);
    crash_every_call_of_open(true);
}
END_TEST

/* Deleting b crashes at each call: a stays; b is gone if the delete was
 * acknowledged, else gone or exact. Then (process crashes) the restarted
 * process deletes b again, and whatever it answers (deleted or not found)
 * must hold after a power loss. */
static void crash_every_call_of_delete(enum cs_io_restart how, uint64_t seed)
{
    cs_frag_meta a = frag(0x11, 0x22, 1), b = frag(0x11, 0x22, 2);
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
    ck_assert_int_eq(put(&w, &b, content[D_B], false, NULL), 0);
    cs_io_fault_reset_counts(w.fs);
    ck_assert_int_eq(cs_store_delete(w.s, b.group, b.index), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    world_free(&w);
    for (uint64_t i = 1; i <= n + 1; i++) {
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "delete crash at call %llu/%llu, %s, seed %llu",
                 (unsigned long long)i, (unsigned long long)n, how_name(how),
                 (unsigned long long)(seed + i));
        world_new(&w, seed + i);
        ck_assert_int_eq(store_open(&w), 0);
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        ck_assert_int_eq(put(&w, &b, content[D_B], false, NULL), 0);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        bool acked = cs_store_delete(w.s, b.group, b.index) == 0;
        ck_assert_msg(acked == (i > n), "%s: acknowledged %d", case_name, acked);
        crash_and_restart(&w, how);
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        if (acked)
            ASSERT_STATE(&w, &b, content[D_B], ABSENT);
        else
            ASSERT_STATE2(&w, &b, content[D_B], ABSENT, EXACT);
        assert_counts_consistent(&w, case_name);
        if (how == CS_IO_PROCESS) {
            int rc = cs_store_delete(w.s, b.group, b.index);
            ck_assert_msg(rc == 0 || rc == CAIRN_E_NOTFOUND, "%s: second delete %s", case_name,
                          cairn_strerror(rc));
            crash_and_restart(&w, CS_IO_POWER);
            ASSERT_STATE(&w, &b, content[D_B], ABSENT);
            ASSERT_STATE(&w, &a, content[D_A], EXACT);
        }
        world_free(&w);
    }
}

START_TEST(crash_during_delete)
{
    crash_every_call_of_delete(CS_IO_POWER, 100);
    crash_every_call_of_delete(CS_IO_PROCESS, 200);
    for (uint64_t seed = 1; seed <= 4; seed++)
        crash_every_call_of_delete(CS_IO_POWER_TORN, seed * 1000);
}
END_TEST

/* Replacing a stored fragment crashes at each call: after the restart the
 * fragment is the old or the new content, complete either way, and the new
 * one if the replace was acknowledged. `damaged` replaces a copy with a
 * flipped data bit by the same content (the repair path); otherwise a
 * different content is put with replace set. */
static void frag_file(const cs_frag_meta *m, char path[256])
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(m->group, hex);
    snprintf(path, 256, DATA_DIR "/frags/%.2s/%.2s/%s.%u", hex, hex + 2, hex, m->index);
}

/* A store holding a with content old, damaged (a flipped data bit) or not. */
static void replace_setup(world *w, uint64_t seed, const cs_frag_meta *a, const uint8_t *old,
                          bool damaged)
{
    world_new(w, seed);
    ck_assert_int_eq(store_open(w), 0);
    ck_assert_int_eq(put(w, a, old, false, NULL), 0);
    if (damaged) {
        char path[256];
        frag_file(a, path);
        ck_assert_int_eq(cs_io_fault_flip(w->fs, path, CS_FRAG_HEADER_LEN + 70000, 3), 0);
    }
}

/* Replacing a stored fragment crashes at each call: after the restart the
 * fragment is the old or the new content, complete either way, and the new
 * one if the replace was acknowledged. `damaged` replaces a copy with a
 * flipped data bit by the same content (the repair path); otherwise a
 * different content is put with replace set. */
static void crash_every_call_of_replace(enum cs_io_restart how, uint64_t seed, bool damaged)
{
    cs_frag_meta a = frag(0x11, 0x22, 1);
    const uint8_t *old = content[D_B], *neu = damaged ? content[D_B] : content[D_B2];
    world w;
    replace_setup(&w, 0, &a, old, damaged);
    cs_io_fault_reset_counts(w.fs);
    enum cs_put_result res;
    ck_assert_int_eq(put(&w, &a, neu, true, &res), 0);
    ck_assert_int_eq(res, CS_PUT_REPLACED);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    world_free(&w);
    for (uint64_t i = 1; i <= n + 1; i++) {
        char case_name[160];
        snprintf(case_name, sizeof(case_name), "%s crash at call %llu/%llu, %s, seed %llu",
                 damaged ? "repair" : "replace", (unsigned long long)i, (unsigned long long)n,
                 how_name(how), (unsigned long long)(seed + i));
        replace_setup(&w, seed + i, &a, old, damaged);
        cs_io_fault_crash_at(w.fs, CS_IO_OP_ANY, i);
        bool acked = put(&w, &a, neu, true, &res) == 0;
        ck_assert_msg(acked == (i > n), "%s: acknowledged %d", case_name, acked);
        crash_and_restart(&w, how);
        if (acked) {
            ASSERT_STATE(&w, &a, neu, EXACT);
        } else if (damaged) {
            /* the damaged copy, or the repaired one */
            ASSERT_STATE2(&w, &a, neu, CORRUPT, EXACT);
        } else {
            enum frag_state st = frag_state(&w, &a, neu);
            if (st != EXACT)
                ASSERT_STATE(&w, &a, old, EXACT);
        }
        ck_assert_msg(tmp_files(&w) == 0, "%s: temporaries left", case_name);
        assert_counts_consistent(&w, case_name);
        world_free(&w);
    }
}

START_TEST(crash_during_replace)
{
    for (int damaged = 0; damaged <= 1; damaged++) {
        crash_every_call_of_replace(CS_IO_POWER, 100, damaged);
        for (uint64_t seed = 1; seed <= 3; seed++)
            crash_every_call_of_replace(CS_IO_POWER_TORN, seed * 1000, damaged);
    }
}
END_TEST

/* ---- injected errors ---- */

/* Operations that can really report ENOSPC (allocating ones). */
static bool can_run_out(enum cs_io_op op)
{
    switch (op) {
    case CS_IO_OP_OPEN:
    case CS_IO_OP_PWRITE:
    case CS_IO_OP_FSYNC:
    case CS_IO_OP_FDATASYNC:
    case CS_IO_OP_MKDIR:
    case CS_IO_OP_RENAME:
    case CS_IO_OP_SYNC_DIR:
        return true;
    default:
        return false;
    }
}

/* Calls whose failure changes nothing for the caller: a writeback hint, and
 * closing a descriptor whose data is already synced or only read. */
static bool harmless(enum cs_io_op op)
{
    return op == CS_IO_OP_WRITEBACK || op == CS_IO_OP_CLOSE;
}

/* A put of b into a new fan-out directory, with err injected at each of its
 * calls in turn: the put fails with err (or succeeds, when the call was
 * harmless), leaves no temporary and no open descriptor, b is absent (or
 * exact: the failure came after the rename), the counters match the disk,
 * and the store keeps working: b re-put, c put, and after a power loss a, b
 * and c are all exact. */
static void error_at_every_call_of_put(int err)
{
    cs_frag_meta a = frag(0x11, 0x22, 1), b = frag(0x33, 0x44, 2), c = frag(0x33, 0x44, 3);
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
    cs_io_fault_reset_counts(w.fs);
    ck_assert_int_eq(put(&w, &b, content[D_B], false, NULL), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    enum cs_io_op ops[64];
    ck_assert_uint_le(n, 64);
    for (uint64_t i = 1; i <= n; i++)
        ops[i - 1] = cs_io_fault_call_op(w.fs, i);
    world_free(&w);
    for (uint64_t i = 1; i <= n; i++) {
        enum cs_io_op op = ops[i - 1];
        if (err == CAIRN_E_NOSPACE && !can_run_out(op))
            continue;
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "put with %s at call %llu/%llu (%s)",
                 cairn_strerror(err), (unsigned long long)i, (unsigned long long)n,
                 cs_io_op_name(op));
        world_new(&w, i);
        ck_assert_int_eq(store_open(&w), 0);
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        cs_io_fault_fail(w.fs, CS_IO_OP_ANY, i, err, false);
        int rc = put(&w, &b, content[D_B], false, NULL);
        int want = harmless(op) ? 0 : err;
        ck_assert_msg(rc == want, "%s: returned %s, expected %s", case_name, cairn_strerror(rc),
                      cairn_strerror(want));
        ck_assert_msg(tmp_files(&w) == 0, "%s: temporaries left", case_name);
        if (rc == 0)
            ASSERT_STATE(&w, &b, content[D_B], EXACT);
        else
            ASSERT_STATE2(&w, &b, content[D_B], ABSENT, EXACT);
        assert_counts_consistent(&w, case_name);
        ck_assert_msg(put(&w, &b, content[D_B], false, NULL) == 0, "%s: re-put", case_name);
        ck_assert_int_eq(put(&w, &c, content[D_C], false, NULL), 0);
        crash_and_restart(&w, CS_IO_POWER);
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        ASSERT_STATE(&w, &b, content[D_B], EXACT);
        ASSERT_STATE(&w, &c, content[D_C], EXACT);
        world_free(&w);
    }
}

START_TEST(eio_during_put)
{
    error_at_every_call_of_put(CAIRN_E_IO);
}
END_TEST

START_TEST(enospc_during_put)
{
    error_at_every_call_of_put(CAIRN_E_NOSPACE);
}
END_TEST

/* An I/O error while looking for an existing copy must fail the put, not
 * replace a different fragment nor count one twice. */
START_TEST(eio_looking_for_existing_copy)
{
    const char *case_name = "stat fails at commit over a different fragment";
    cs_frag_meta a = frag(0x11, 0x22, 1);
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
    cs_io_fault_fail(w.fs, CS_IO_OP_STAT, 1, CAIRN_E_IO, false);
    ck_assert_int_eq(put(&w, &a, content[D_B], false, NULL), CAIRN_E_IO);
    ASSERT_STATE(&w, &a, content[D_A], EXACT);
    assert_counts_consistent(&w, case_name);
    ck_assert_int_eq(put(&w, &a, content[D_B], false, NULL), CAIRN_E_EXISTS);
    world_free(&w);
}
END_TEST

static int get(world *w, const cs_frag_meta *m, uint8_t *buf)
{
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(w->s, m->group, m->index, &r);
    if (rc != 0)
        return rc;
    rc = cs_frag_reader_read(r, 0, FRAG_LEN, buf, NULL);
    cs_frag_reader_close(r);
    return rc;
}

START_TEST(eio_during_get)
{
    cs_frag_meta a = frag(0x11, 0x22, 1);
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
    uint8_t *buf = malloc(FRAG_LEN);
    cs_io_fault_reset_counts(w.fs);
    ck_assert_int_eq(get(&w, &a, buf), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    enum cs_io_op ops[32];
    ck_assert_uint_le(n, 32);
    for (uint64_t i = 1; i <= n; i++)
        ops[i - 1] = cs_io_fault_call_op(w.fs, i);
    for (uint64_t i = 1; i <= n; i++) {
        cs_io_fault_fail(w.fs, CS_IO_OP_ANY, i, CAIRN_E_IO, false);
        int rc = get(&w, &a, buf);
        int want = harmless(ops[i - 1]) ? 0 : CAIRN_E_IO;
        ck_assert_msg(rc == want, "get with EIO at call %llu (%s): %s", (unsigned long long)i,
                      cs_io_op_name(ops[i - 1]), cairn_strerror(rc));
        ck_assert_uint_eq(cs_io_fault_open_files(w.fs), 1);
        memset(buf, 0, FRAG_LEN);
        ck_assert_int_eq(get(&w, &a, buf), 0);
        ck_assert_mem_eq(buf, content[D_A], FRAG_LEN);
    }
    /* A disk that fails every read: every get fails, nothing leaks. */
    cs_io_fault_fail(w.fs, CS_IO_OP_PREAD, 1, CAIRN_E_IO, true);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(get(&w, &a, buf), CAIRN_E_IO);
    ck_assert_uint_eq(cs_io_fault_open_files(w.fs), 1);
    free(buf);
    world_free(&w);
}
END_TEST

/* A delete of b with err at each of its calls (ENOSPC only where it can
 * happen: the directory fsync): it fails with CAIRN_E_IO (a delete is never
 * "no space"), the counters match the disk, a retry answers deleted or not
 * found, and that answer holds after a power loss. */
static void error_at_every_call_of_delete(int err)
{
    cs_frag_meta a = frag(0x11, 0x22, 1), b = frag(0x11, 0x22, 2);
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
    ck_assert_int_eq(put(&w, &b, content[D_B], false, NULL), 0);
    cs_io_fault_reset_counts(w.fs);
    ck_assert_int_eq(cs_store_delete(w.s, b.group, b.index), 0);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    enum cs_io_op ops[8];
    ck_assert_uint_le(n, 8);
    for (uint64_t i = 1; i <= n; i++)
        ops[i - 1] = cs_io_fault_call_op(w.fs, i);
    world_free(&w);
    for (uint64_t i = 1; i <= n; i++) {
        if (err == CAIRN_E_NOSPACE && !can_run_out(ops[i - 1]))
            continue;
        char case_name[128];
        snprintf(case_name, sizeof(case_name), "delete with %s at call %llu/%llu (%s)",
                 cairn_strerror(err), (unsigned long long)i, (unsigned long long)n,
                 cs_io_op_name(ops[i - 1]));
        world_new(&w, i);
        ck_assert_int_eq(store_open(&w), 0);
        ck_assert_int_eq(put(&w, &a, content[D_A], false, NULL), 0);
        ck_assert_int_eq(put(&w, &b, content[D_B], false, NULL), 0);
        cs_io_fault_fail(w.fs, CS_IO_OP_ANY, i, err, false);
        int rc = cs_store_delete(w.s, b.group, b.index);
        ck_assert_msg(rc == CAIRN_E_IO, "%s: returned %s", case_name, cairn_strerror(rc));
        ASSERT_STATE2(&w, &b, content[D_B], ABSENT, EXACT);
        assert_counts_consistent(&w, case_name);
        rc = cs_store_delete(w.s, b.group, b.index);
        ck_assert_msg(rc == 0 || rc == CAIRN_E_NOTFOUND, "%s: retry %s", case_name,
                      cairn_strerror(rc));
        crash_and_restart(&w, CS_IO_POWER);
        ASSERT_STATE(&w, &b, content[D_B], ABSENT);
        ASSERT_STATE(&w, &a, content[D_A], EXACT);
        world_free(&w);
    }
}

START_TEST(eio_during_delete)
{
    error_at_every_call_of_delete(CAIRN_E_IO);
}
END_TEST

START_TEST(enospc_during_delete)
{
    error_at_every_call_of_delete(CAIRN_E_NOSPACE);
}
END_TEST

/* ---- the scrubber ---- */

#define SCRUB_FRAGS 3

static void wait_passes(cs_scrub *sc, uint64_t passes)
{
    cs_scrub_stats st;
    for (int i = 0; i < 5000; i++) {
        cs_scrub_stats_get(sc, &st);
        if (st.passes_done >= passes)
            return;
        cn_sleep_ms(2);
    }
    ck_abort_msg("scrub pass %llu did not finish", (unsigned long long)passes);
}

static int count_scrub_tmp(void *arg, const char *name)
{
    if (strstr(name, ".tmp") != NULL)
        (*(int *)arg)++;
    return 0;
}

/* A scrub pass with an error at each of its calls: the scrubber carries on
 * and finishes the pass; a fragment is listed damaged only when a block of
 * its data could not be read (an unreadable block is damage, as a bad CRC
 * is); the next clean pass clears the list; no descriptor stays open and no
 * temporary state file is left. */
static void error_at_every_call_of_scrub(int err)
{
    world w;
    world_new(&w, 0);
    ck_assert_int_eq(store_open(&w), 0);
    for (int i = 0; i < SCRUB_FRAGS; i++) {
        cs_frag_meta m = frag((uint8_t)(0x10 * i), 0x22, (uint8_t)(i + 1));
        ck_assert_int_eq(put(&w, &m, content[i], false, NULL), 0);
    }
    cs_damage *d;
    ck_assert_int_eq(cs_damage_new(&d), 0);
    cs_scrub_opts o = {.rate_bytes_per_s = 1ull << 30, .interval_ms = 3600000};
    cs_scrub *sc;
    ck_assert_int_eq(cs_scrub_start(w.s, d, &o, &sc), 0);
    uint64_t passes = 1;
    wait_passes(sc, passes);
    ck_assert_uint_eq(cs_damage_count(d), 0);
    cs_io_fault_reset_counts(w.fs);
    cs_scrub_now(sc);
    wait_passes(sc, ++passes);
    uint64_t n = cs_io_fault_calls(w.fs, CS_IO_OP_ANY);
    enum cs_io_op ops[128];
    ck_assert_uint_le(n, 128);
    for (uint64_t i = 1; i <= n; i++)
        ops[i - 1] = cs_io_fault_call_op(w.fs, i);
    uint64_t block_reads = 0;
    for (uint64_t i = 1; i <= n; i++) {
        enum cs_io_op op = ops[i - 1];
        if (err == CAIRN_E_NOSPACE && !can_run_out(op))
            continue;
        /* Per fragment: open, header, fstat, table, then one read per block. */
        bool block_read = op == CS_IO_OP_PREAD && i > 1 && ops[i - 2] == CS_IO_OP_PREAD;
        block_reads += block_read;
        cs_io_fault_fail(w.fs, CS_IO_OP_ANY, i, err, false);
        cs_scrub_now(sc);
        wait_passes(sc, ++passes);
        ck_assert_msg(cs_damage_count(d) == (block_read ? 1 : 0),
                      "scrub with %s at call %llu/%llu (%s): %llu damaged", cairn_strerror(err),
                      (unsigned long long)i, (unsigned long long)n, cs_io_op_name(op),
                      (unsigned long long)cs_damage_count(d));
        ck_assert_uint_eq(cs_io_fault_open_files(w.fs), 1);
        cs_scrub_now(sc);
        wait_passes(sc, ++passes);
        ck_assert_uint_eq(cs_damage_count(d), 0);
    }
    if (err == CAIRN_E_IO)
        ck_assert_uint_eq(block_reads, SCRUB_FRAGS * cs_frag_block_count(FRAG_LEN));
    int stray = 0;
    ck_assert_int_eq(w.io->list(w.io, DATA_DIR, count_scrub_tmp, &stray), 0);
    ck_assert_int_eq(stray, 0);
    cs_scrub_stop(sc);
    cs_damage_free(d);
    world_free(&w);
}

START_TEST(eio_during_scrub)
{
    error_at_every_call_of_scrub(CAIRN_E_IO);
}
END_TEST

START_TEST(enospc_during_scrub)
{
    error_at_every_call_of_scrub(CAIRN_E_NOSPACE);
}
END_TEST

/* ---- bit flips ---- */

/* Seeded flips of one bit in the header, the data or the CRC table of one
 * of three fragments: a get fails with CAIRN_E_CORRUPT, the scrubber lists
 * that fragment (with the flipped block, or "header" for the header and
 * table) and only it; a power loss does not heal it; a re-put repairs it. */
START_TEST(bit_flips_detected_by_get_and_scrub)
{
    uint64_t x = 12345;
    uint8_t *buf = malloc(FRAG_LEN);
    for (int round = 0; round < 24; round++) {
        world w;
        world_new(&w, (uint64_t)round);
        ck_assert_int_eq(store_open(&w), 0);
        cs_frag_meta m[3];
        for (int i = 0; i < 3; i++) {
            m[i] = frag((uint8_t)(0x40 + i), 0x22, (uint8_t)(i + 1));
            ck_assert_int_eq(put(&w, &m[i], content[i], false, NULL), 0);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int victim = (int)(x % 3);
        uint64_t blocks = cs_frag_block_count(FRAG_LEN);
        uint64_t file_len = cs_frag_file_size(FRAG_LEN);
        /* A third of the rounds in the header, a third in the table. */
        uint64_t byte = round % 3 == 0   ? x % CS_FRAG_HEADER_LEN
                        : round % 3 == 1 ? CS_FRAG_HEADER_LEN + FRAG_LEN + (x >> 8) % (4 * blocks)
                                         : CS_FRAG_HEADER_LEN + (x >> 8) % FRAG_LEN;
        bool in_data = byte >= CS_FRAG_HEADER_LEN && byte < CS_FRAG_HEADER_LEN + FRAG_LEN;
        ck_assert_uint_lt(byte, file_len);
        char path[256], hex[CS_GROUP_HEX_LEN + 1];
        cs_group_format(m[victim].group, hex);
        frag_file(&m[victim], path);
        ck_assert_int_eq(cs_io_fault_flip(w.fs, path, byte, (unsigned)(x >> 40) % 8), 0);
        crash_and_restart(&w, CS_IO_POWER);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(get(&w, &m[i], buf), i == victim ? CAIRN_E_CORRUPT : 0);

        cs_damage *d;
        ck_assert_int_eq(cs_damage_new(&d), 0);
        cs_scrub_opts o = {.rate_bytes_per_s = 1ull << 30, .interval_ms = 3600000};
        cs_scrub *sc;
        ck_assert_int_eq(cs_scrub_start(w.s, d, &o, &sc), 0);
        wait_passes(sc, 1);
        cs_scrub_stop(sc);
        ck_assert_uint_eq(cs_damage_count(d), 1);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        cs_damage_write(d, out);
        fclose(out);
        char want[96];
        if (in_data)
            snprintf(want, sizeof(want), "%s %u %llu scrub ", hex, m[victim].index,
                     (unsigned long long)((byte - CS_FRAG_HEADER_LEN) / EC_CRC_BLOCK));
        else
            snprintf(want, sizeof(want), "%s %u header scrub ", hex, m[victim].index);
        ck_assert_msg(strncmp(text, want, strlen(want)) == 0,
                      "round %d: listed \"%s\", want \"%s\"", round, text, want);
        free(text);
        cs_damage_free(d);

        enum cs_put_result res;
        ck_assert_int_eq(put(&w, &m[victim], content[victim], false, &res), 0);
        ck_assert_int_eq(res, CS_PUT_REPLACED);
        ck_assert_int_eq(get(&w, &m[victim], buf), 0);
        ck_assert_mem_eq(buf, content[victim], FRAG_LEN);
        world_free(&w);
    }
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cs_store_faults");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, fill_contents, NULL);
    tcase_add_test(tc, crash_during_put_power);
    tcase_add_test(tc, crash_during_put_torn);
    tcase_add_test(tc, process_crash_then_power_loss_during_put);
    tcase_add_test(tc, crash_during_first_open);
    tcase_add_test(tc, crash_during_delete);
    tcase_add_test(tc, crash_during_replace);
    tcase_add_test(tc, eio_during_put);
    tcase_add_test(tc, enospc_during_put);
    tcase_add_test(tc, eio_looking_for_existing_copy);
    tcase_add_test(tc, eio_during_get);
    tcase_add_test(tc, eio_during_delete);
    tcase_add_test(tc, enospc_during_delete);
    tcase_add_test(tc, eio_during_scrub);
    tcase_add_test(tc, enospc_during_scrub);
    tcase_add_test(tc, bit_flips_detected_by_get_and_scrub);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Every injected failure is logged as an error by the store; keep the
     * warnings and info lines out of the way. */
    cn_log_set_level(CN_LOG_ERROR);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
