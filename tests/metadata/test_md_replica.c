/* md_replica's snapshot install is all or nothing: a truncated stream, one
 * with a flipped byte, one announced for another slot or one whose transport
 * fails leaves the replica's state hash and applied slot as they were (and
 * io->fatal uncalled); a good one afterwards installs. A disk that dies at
 * any point of an install leaves, after the restart, the old state or the
 * snapshot's, whole. Both store backends. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_replica.h"
#include "md_snap.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a replica with an io that records what it was asked ---- */

struct rio {
    int fatal;
    int snapshots_asked;
    uint64_t rng;
};

static void rio_send(void *ctx, uint32_t to, const struct paxos_msg *m) {}

static void rio_cmd_done(void *ctx, void *token, int status, uint32_t leader, uint8_t *result,
                         size_t len)
{
    free(result);
}

static void rio_read_done(void *ctx, void *token, int status, uint32_t leader) {}

static void rio_send_snapshot(void *ctx, uint32_t to)
{
    ((struct rio *)ctx)->snapshots_asked++;
}

static void rio_fatal(void *ctx, int err, const char *what)
{
    ((struct rio *)ctx)->fatal++;
}

static uint64_t rio_random(void *ctx)
{
    struct rio *r = ctx;
    r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
    return r->rng >> 11;
}

static struct md_replica *open_replica(struct md_store *store, struct rio *io)
{
    struct md_replica_config cfg = {.id = 2, .n_peers = 3, .peer_ids = {1, 2, 3}};
    struct md_replica_io rio = {.ctx = io,
                                .send = rio_send,
                                .cmd_done = rio_cmd_done,
                                .read_done = rio_read_done,
                                .send_snapshot = rio_send_snapshot,
                                .fatal = rio_fatal,
                                .random = rio_random};
    struct md_replica *r = NULL;
    const char *what;
    int rc = md_replica_open(&cfg, store, &rio, 0, &r, &what);
    ck_assert_msg(rc == 0, "md_replica_open: %s (%s)", cairn_strerror(rc), what);
    return r;
}

/* ---- snapshot streams ---- */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static int buf_write(void *ctx, const void *p, size_t len)
{
    struct buf *b = ctx;
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, p, len);
    b->n += len;
    return 0;
}

/* A reader over bytes [0, n) that hands them out in small pieces and, with
 * fail_at, fails with CAIRN_E_IO once it has read that far. */
struct reader {
    const uint8_t *p;
    size_t n, off, fail_at;
};

static long read_piece(void *ctx, void *buf, size_t max)
{
    struct reader *rd = ctx;
    if (rd->fail_at && rd->off >= rd->fail_at)
        return CAIRN_E_IO;
    size_t k = rd->n - rd->off;
    if (k > max)
        k = max;
    if (k > 7777)
        k = 7777;
    memcpy(buf, rd->p + rd->off, k);
    rd->off += k;
    return (long)k;
}

static int install(struct md_replica *r, const uint8_t *p, size_t n, size_t fail_at, uint64_t slot)
{
    struct reader rd = {.p = p, .n = n, .fail_at = fail_at};
    return md_replica_install_snapshot(r, 1, read_piece, &rd, slot, 1000);
}

/* The source: a bucket and `objects` inline objects, applied one per slot. */
static void build_source(struct tsm *t, int objects)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), "bkt", "", "", 0, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    for (int i = 0; i < objects; i++) {
        char key[32], etag[32];
        snprintf(key, sizeof(key), "obj/%05d", i);
        snprintf(etag, sizeof(etag), "e%d", i);
        struct md_object_desc o = {
            .size = 3, .etag = etag, .has_inline = 1, .inline_data = "abc", .inline_len = 3};
        ck_assert_int_eq(
            md_cmd_put_object(t->client, tsm_seq(t), "bkt", key, &o, MD_COND_NONE, NULL, &c, &l),
            0);
        ck_assert_int_eq(tsm_run(t, c, l), 0);
    }
}

/* The replica's own, older state: a few slots of something else. */
static void build_own(struct md_store *store)
{
    struct md_sm *sm;
    ck_assert_int_eq(md_sm_open(store, NULL, &sm), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "own-%u", (unsigned)i);
        uint8_t *c, *res;
        size_t l, rl;
        ck_assert_int_eq(md_cmd_create_bucket(7, i, name, "", "", 0, 1, &c, &l), 0);
        ck_assert_int_eq(md_sm_apply(sm, i, c, l, &res, &rl), 0);
        free(c);
        free(res);
    }
    md_sm_free(sm);
}

static void hash_of(struct md_store *store, uint8_t h[32])
{
    ck_assert_int_eq(md_sm_state_hash(store, h), 0);
}

static uint64_t applied_of(struct md_replica *r)
{
    struct paxos_status st;
    md_replica_end_round(r, &st);
    ck_assert_uint_eq(st.applied, md_sm_applied_index(md_replica_sm(r)));
    return st.applied;
}

START_TEST(test_bad_snapshots_keep_the_replica)
{
    struct tsm src;
    tsm_open(&src, BACKEND_MEM);
    build_source(&src, 300);
    struct buf snap = {0};
    uint64_t slot = 0;
    ck_assert_int_eq(md_snap_write(src.ts.store, buf_write, &snap, &slot), 0);
    ck_assert_uint_eq(slot, 301);

    struct tstore ts;
    tstore_open(&ts, _i);
    build_own(ts.store);
    struct rio io = {.rng = 1};
    struct md_replica *r = open_replica(ts.store, &io);
    uint8_t before[32], now[32];
    hash_of(ts.store, before);
    ck_assert_uint_eq(applied_of(r), 3);
    ck_assert_int_eq(md_replica_snapshot_wanted(r, slot), 1);

    /* truncated: inside the header, inside a record frame, before the end */
    size_t cuts[] = {5, snap.n / 2, snap.n - 49, snap.n - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        ck_assert_int_eq(install(r, snap.p, cuts[i], 0, slot), CAIRN_E_CORRUPT);
        hash_of(ts.store, now);
        ck_assert(memcmp(before, now, 32) == 0);
        ck_assert_uint_eq(applied_of(r), 3);
    }
    /* a flipped byte: in the header, a record, the end frame's hash */
    size_t flips[] = {14, snap.n / 3, snap.n - 10};
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        uint8_t *bad = malloc(snap.n);
        memcpy(bad, snap.p, snap.n);
        bad[flips[i]] ^= 0x01;
        ck_assert_int_eq(install(r, bad, snap.n, 0, slot), CAIRN_E_CORRUPT);
        free(bad);
        hash_of(ts.store, now);
        ck_assert(memcmp(before, now, 32) == 0);
        ck_assert_uint_eq(applied_of(r), 3);
    }
    /* a good stream announced for another slot, and a transport that fails */
    ck_assert_int_eq(install(r, snap.p, snap.n, 0, slot + 1), CAIRN_E_CORRUPT);
    ck_assert_int_eq(install(r, snap.p, snap.n, snap.n / 2, slot), CAIRN_E_IO);
    hash_of(ts.store, now);
    ck_assert(memcmp(before, now, 32) == 0);
    ck_assert_uint_eq(applied_of(r), 3);
    ck_assert_int_eq(md_sm_check(ts.store, NULL, 0), 0);
    ck_assert_int_eq(io.fatal, 0);
    struct md_replica_counters ctr;
    md_replica_counters(r, &ctr);
    ck_assert_uint_eq(ctr.snapshots_refused, 9);
    ck_assert_uint_eq(ctr.snapshots_installed, 0);

    /* the good one installs: the source's state and slot, and a restart keeps it */
    ck_assert_int_eq(install(r, snap.p, snap.n, 0, slot), 0);
    ck_assert_int_eq(io.fatal, 0);
    ck_assert_uint_eq(applied_of(r), slot);
    uint8_t want[32];
    hash_of(src.ts.store, want);
    hash_of(ts.store, now);
    ck_assert(memcmp(want, now, 32) == 0);
    ck_assert_int_eq(md_replica_snapshot_wanted(r, slot), 0);
    ck_assert_int_eq(install(r, snap.p, snap.n, 0, slot), CAIRN_E_EXISTS);
    md_replica_free(r);
    tstore_reopen(&ts);
    r = open_replica(ts.store, &io);
    ck_assert_uint_eq(applied_of(r), slot);
    hash_of(ts.store, now);
    ck_assert(memcmp(want, now, 32) == 0);
    md_replica_free(r);
    tstore_close(&ts);
    free(snap.p);
    tsm_close(&src);
}
END_TEST

/* The disk dies after n writes/syncs, for every n through a whole install:
 * the replica gives up (io->fatal), the machine crashes (keeping what was
 * synced and some prefix of the rest), the replica restarts: its state is
 * the old one or the snapshot's — never a mix — and opens. */
START_TEST(test_install_interrupted_by_a_dead_disk)
{
    struct tsm src;
    tsm_open(&src, BACKEND_MEM);
    build_source(&src, 1500);
    struct buf snap = {0};
    uint64_t slot = 0;
    ck_assert_int_eq(md_snap_write(src.ts.store, buf_write, &snap, &slot), 0);
    uint8_t want[32], old[32], now[32];
    hash_of(src.ts.store, want);

    struct md_store *disk;
    ck_assert_int_eq(md_store_open_mem(&disk), 0);
    build_own(disk);
    hash_of(disk, old);
    ck_assert_int_eq(md_store_mem_track_durability(disk), 0);
    int olds = 0, news = 0;
    for (long n = 0;; n++) {
        struct md_store *work;
        ck_assert_int_eq(md_store_mem_crash(disk, 0, &work), 0);
        struct rio io = {.rng = 1};
        struct md_replica *r = open_replica(work, &io);
        md_store_mem_fail_after(work, n);
        int rc = install(r, snap.p, snap.n, 0, slot);
        md_replica_free(r);
        if (rc == 0) {
            ck_assert_int_eq(io.fatal, 0);
            md_store_free(work);
            break;
        }
        ck_assert_int_eq(rc, CAIRN_E_IO);
        ck_assert_int_eq(io.fatal, 1);
        size_t unsynced = md_store_mem_unsynced(work);
        for (size_t keep = 0; keep <= unsynced; keep += unsynced / 2 + 1) {
            struct md_store *after;
            ck_assert_int_eq(md_store_mem_crash(work, keep, &after), 0);
            struct rio io2 = {.rng = 1};
            r = open_replica(after, &io2);
            uint64_t applied = applied_of(r);
            hash_of(after, now);
            if (applied == slot) {
                ck_assert(memcmp(want, now, 32) == 0);
                news++;
            } else {
                ck_assert_uint_eq(applied, 3);
                ck_assert(memcmp(old, now, 32) == 0);
                olds++;
            }
            md_replica_free(r);
            md_store_free(after);
        }
        md_store_free(work);
        ck_assert_int_lt(n, 10000);
    }
    ck_assert_int_gt(olds, 0);
    ck_assert_int_gt(news, 0);
    md_store_free(disk);
    free(snap.p);
    tsm_close(&src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_replica");
    TCase *tc = tcase_create("snapshot install");
    tcase_add_loop_test(tc, test_bad_snapshots_keep_the_replica, 0, BACKEND_COUNT);
    tcase_add_test(tc, test_install_interrupted_by_a_dead_disk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
