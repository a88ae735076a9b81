/* Snapshots: stream out of one store, load into another (every pair of
 * backends), identical state hashes, the replica carries on; corruption,
 * truncation and interrupted loads are refused. */
#include "md_test_util.h"
#include "md_check.h"
#include "md_snap.h"
#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    uint8_t *buf;
    size_t n, cap;
    size_t calls, max_call;
    struct tsm *mutate; /* if set, the first call changes the source */
};

static int sink_write(void *ctx, const void *p, size_t len)
{
    struct sink *s = ctx;
    if (s->mutate && s->calls == 0) {
        uint8_t *c;
        size_t l;
        ck_assert_int_eq(md_cmd_create_bucket(5, 0, "late", "", "", 0, 0, &c, &l), 0);
        ck_assert_int_eq(tsm_run(s->mutate, c, l), 0);
    }
    s->calls++;
    if (len > s->max_call)
        s->max_call = len;
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->buf = realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->n, p, len);
    s->n += len;
    return 0;
}

/* A varied state: buckets, objects (inline and extents), an upload with a
 * part, chunkservers, garbage, access keys, sessions. */
static void build_state(struct tsm *t, int objects)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), "bkt", "o", "", 0, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    for (int i = 0; i < objects; i++) {
        char key[32];
        snprintf(key, sizeof(key), "obj/%05d", i);
        struct md_group_desc g;
        uint64_t cs[6];
        make_group(&g, (uint64_t)i + 1, 4, 2, 1000, cs);
        struct md_object_desc o = {.size = 1000, .etag = "etag", .groups = &g, .n_groups = 1};
        struct md_object_desc in = {
            .size = 3, .etag = "e", .has_inline = 1, .inline_data = "abc", .inline_len = 3};
        ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), "bkt", key, i % 2 ? &in : &o,
                                           MD_COND_NONE, NULL, &c, &l),
                         0);
        ck_assert_int_eq(tsm_run(t, c, l), 0);
    }
    ck_assert_int_eq(
        md_cmd_delete_object(t->client, tsm_seq(t), "bkt", "obj/00000", 0, NULL, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    ck_assert_int_eq(
        md_cmd_create_upload(t->client, tsm_seq(t), "bkt", "mp", "U", "", NULL, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 900000, 4, 2, 10, cs);
    ck_assert_int_eq(md_cmd_put_part(t->client, tsm_seq(t), "bkt", "mp", "U", 1,
                                     "0123456789abcdef0123456789abcdef", 10, 1, &g, 1, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    struct md_cs_desc d = {.id = 100, .address = "127.0.0.1:1", .host = "h", .free = 5};
    ck_assert_int_eq(md_cmd_register_cs(t->client, tsm_seq(t), &d, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    ck_assert_int_eq(md_cmd_create_access_key(t->client, tsm_seq(t), "AK", "S", "o", 1, 1, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
}

static void load_all(struct md_store *dst, const uint8_t *buf, size_t n, size_t chunk,
                     uint64_t *applied)
{
    struct md_snap_loader *ld;
    ck_assert_int_eq(md_snap_load_begin(dst, &ld), 0);
    for (size_t off = 0; off < n; off += chunk)
        ck_assert_int_eq(md_snap_load_feed(ld, buf + off, n - off < chunk ? n - off : chunk), 0);
    ck_assert_int_eq(md_snap_load_finish(ld, 0, applied), 0);
}

/* _i: source backend = _i / 2, destination = _i % 2. */
START_TEST(test_round_trip)
{
    struct tsm src, dst;
    tsm_open(&src, _i / 2);
    tsm_open(&dst, _i % 2);
    build_state(&src, 40);
    /* the destination had its own, different state: it is replaced */
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 0, "stale", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&dst, c, l), 0);

    struct sink s = {0};
    uint64_t applied;
    ck_assert_int_eq(md_snap_write(src.ts.store, sink_write, &s, &applied), 0);
    ck_assert_uint_eq(applied, md_sm_applied_index(src.sm));
    uint64_t got;
    load_all(dst.ts.store, s.buf, s.n, 1 + (size_t)_i * 7, &got);
    ck_assert_uint_eq(got, applied);
    ck_assert_int_eq(md_sm_reload(dst.sm), 0);
    ck_assert_uint_eq(md_sm_applied_index(dst.sm), applied);
    dst.index = applied;
    uint8_t ha[32], hb[32];
    ck_assert_int_eq(md_sm_state_hash(src.ts.store, ha), 0);
    ck_assert_int_eq(md_sm_state_hash(dst.ts.store, hb), 0);
    ck_assert(memcmp(ha, hb, 32) == 0);
    Md__QueryResult *r;
    ck_assert_int_eq(md_query_head_bucket(dst.ts.store, "stale", &r), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_query_get_object(dst.ts.store, "bkt", "obj/00001", &r), 0);
    md_query_result_free(r);

    /* both replicas carry on from the same state to the same state, the
     * dedup table included (the source's client retrying its last seq) */
    for (int side = 0; side < 2; side++) {
        struct tsm *t = side ? &dst : &src;
        ck_assert_int_eq(
            md_cmd_delete_object(src.client, src.seq, "bkt", "obj/00002", 0, NULL, &c, &l), 0);
        uint8_t *res;
        size_t rl;
        ck_assert_int_eq(md_sm_apply(t->sm, applied + 1, c, l, &res, &rl), 0);
        free(c);
        free(res);
        ck_assert_int_eq(
            md_cmd_delete_object(src.client, src.seq + 1, "bkt", "obj/00003", 0, NULL, &c, &l), 0);
        ck_assert_int_eq(md_sm_apply(t->sm, applied + 2, c, l, &res, &rl), 0);
        free(c);
        free(res);
    }
    ck_assert_int_eq(md_sm_state_hash(src.ts.store, ha), 0);
    ck_assert_int_eq(md_sm_state_hash(dst.ts.store, hb), 0);
    ck_assert(memcmp(ha, hb, 32) == 0);
    free(s.buf);
    tsm_close(&src);
    tsm_close(&dst);
}
END_TEST

START_TEST(test_bounded_frames_and_consistent_snapshot)
{
    struct tsm src, dst;
    tsm_open(&src, _i);
    tsm_open(&dst, 1 - _i);
    build_state(&src, 3000);
    uint8_t before[32], after[32], loaded[32];
    ck_assert_int_eq(md_sm_state_hash(src.ts.store, before), 0);
    struct sink s = {.mutate = &src};
    ck_assert_int_eq(md_snap_write(src.ts.store, sink_write, &s, NULL), 0);
    ck_assert_int_gt(s.calls, 3); /* header, several record frames, end */
    ck_assert_uint_lt(s.max_call, (256u << 10) + 4096);
    /* the source changed during the stream; the stream did not */
    ck_assert_int_eq(md_sm_state_hash(src.ts.store, after), 0);
    ck_assert(memcmp(before, after, 32) != 0);
    load_all(dst.ts.store, s.buf, s.n, 65536, NULL);
    ck_assert_int_eq(md_sm_state_hash(dst.ts.store, loaded), 0);
    ck_assert(memcmp(before, loaded, 32) == 0);
    free(s.buf);
    tsm_close(&src);
    tsm_close(&dst);
}
END_TEST

/* 1 if store holds a key starting with byte b. */
static int has_range(struct md_store *store, unsigned char b)
{
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(store, &it), 0);
    md_iter_seek(it, &b, 1);
    size_t kl;
    int any = md_iter_valid(it) && ((const unsigned char *)md_iter_key(it, &kl))[0] == b;
    md_iter_free(it);
    return any;
}

static void hash_of(struct md_store *store, uint8_t h[32])
{
    ck_assert_int_eq(md_sm_state_hash(store, h), 0);
}

/* A refused stream leaves the destination's state exactly as it was (it is
 * staged beside it and verified whole first), and nothing staged behind. */
START_TEST(test_damaged_streams_refused)
{
    struct tsm src;
    tsm_open(&src, _i);
    build_state(&src, 20);
    struct sink s = {0};
    uint64_t applied = 0;
    ck_assert_int_eq(md_snap_write(src.ts.store, sink_write, &s, &applied), 0);

    /* the destination has a state of its own */
    struct tsm dst;
    tsm_open(&dst, 1 - _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 1, "mine", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&dst, c, l), 0);
    uint8_t before[32], now[32];
    hash_of(dst.ts.store, before);

    /* every single flipped byte is caught (by a frame CRC or the end hash) */
    for (size_t pos = 0; pos < s.n; pos += 1 + s.n / 97) {
        uint8_t *bad = malloc(s.n);
        memcpy(bad, s.buf, s.n);
        bad[pos] ^= 0x20;
        struct md_snap_loader *ld;
        ck_assert_int_eq(md_snap_load_begin(dst.ts.store, &ld), 0);
        int rc = md_snap_load_feed(ld, bad, s.n);
        if (rc) {
            ck_assert_int_eq(rc, CAIRN_E_CORRUPT);
            md_snap_load_abort(ld);
        } else {
            ck_assert_int_eq(md_snap_load_finish(ld, applied, NULL), CAIRN_E_CORRUPT);
        }
        free(bad);
        hash_of(dst.ts.store, now);
        ck_assert(memcmp(before, now, 32) == 0);
        ck_assert(!has_range(dst.ts.store, 'T'));
    }
    /* a truncated stream, at every frame boundary and inside frames */
    for (size_t cut = 0; cut < s.n; cut += 1 + s.n / 13) {
        struct md_snap_loader *ld;
        ck_assert_int_eq(md_snap_load_begin(dst.ts.store, &ld), 0);
        ck_assert_int_eq(md_snap_load_feed(ld, s.buf, cut), 0);
        ck_assert_int_eq(md_snap_load_finish(ld, 0, NULL), CAIRN_E_CORRUPT);
        hash_of(dst.ts.store, now);
        ck_assert(memcmp(before, now, 32) == 0);
    }
    /* a whole, good stream announced for another slot */
    struct md_snap_loader *ld;
    ck_assert_int_eq(md_snap_load_begin(dst.ts.store, &ld), 0);
    ck_assert_int_eq(md_snap_load_feed(ld, s.buf, s.n), 0);
    ck_assert_int_eq(md_snap_load_finish(ld, applied + 1, NULL), CAIRN_E_CORRUPT);
    /* the state machine over the store never noticed: it carries on */
    ck_assert_uint_eq(md_sm_applied_index(dst.sm), 1);
    ck_assert_int_eq(md_sm_check(dst.ts.store, NULL, 0), 0);
    tstore_reopen(&dst.ts);
    hash_of(dst.ts.store, now);
    ck_assert(memcmp(before, now, 32) == 0);

    /* a load that stopped half way (a crash) leaves staged keys: the next
     * begin, or md_snap_recover, clears them; the state is untouched */
    ck_assert_int_eq(md_snap_load_begin(dst.ts.store, &ld), 0);
    ck_assert_int_eq(md_snap_load_feed(ld, s.buf, s.n - 49), 0); /* all but the end frame */
    ck_assert(has_range(dst.ts.store, 'T'));
    ck_assert_int_eq(md_snap_recover(dst.ts.store), 0);
    ck_assert(!has_range(dst.ts.store, 'T'));
    md_snap_load_abort(ld);
    hash_of(dst.ts.store, now);
    ck_assert(memcmp(before, now, 32) == 0);

    /* a good stream replaces the state, and survives a reopen */
    md_sm_free(dst.sm);
    dst.sm = NULL;
    load_all(dst.ts.store, s.buf, s.n, 4096, NULL);
    ck_assert(!has_range(dst.ts.store, 'T'));
    tstore_reopen(&dst.ts);
    struct md_sm *sm;
    ck_assert_int_eq(md_sm_open(dst.ts.store, NULL, &sm), 0);
    ck_assert_uint_eq(md_sm_applied_index(sm), applied);
    uint8_t ha[32];
    hash_of(src.ts.store, ha);
    hash_of(dst.ts.store, now);
    ck_assert(memcmp(ha, now, 32) == 0);
    md_sm_free(sm);
    free(s.buf);
    tsm_close(&dst);
    tsm_close(&src);
}
END_TEST

/* The disk dies at every step of an install in turn: after the crash, and
 * md_snap_recover, the store holds either the old state or the snapshot's,
 * whole, and opens. */
START_TEST(test_interrupted_install)
{
    struct tsm src;
    tsm_open(&src, BACKEND_MEM);
    build_state(&src, 1000); /* several frames, several batches in the swap */
    struct sink s = {0};
    ck_assert_int_eq(md_snap_write(src.ts.store, sink_write, &s, NULL), 0);
    uint8_t snap_hash[32], old_hash[32], h[32];
    hash_of(src.ts.store, snap_hash);

    struct tsm dst;
    tsm_open(&dst, BACKEND_MEM);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 1, "mine", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&dst, c, l), 0);
    hash_of(dst.ts.store, old_hash);
    ck_assert_int_eq(md_store_mem_track_durability(dst.ts.store), 0);
    int saw_old = 0, saw_new = 0, recovered_swap = 0;
    for (long n = 0;; n++) {
        struct md_store *work;
        ck_assert_int_eq(md_store_mem_crash(dst.ts.store, 0, &work), 0);
        md_store_mem_fail_after(work, n);
        struct md_snap_loader *ld;
        int rc = md_snap_load_begin(work, &ld);
        if (rc == 0) {
            rc = md_snap_load_feed(ld, s.buf, s.n);
            if (rc == 0)
                rc = md_snap_load_finish(ld, 0, NULL);
            else
                md_snap_load_abort(ld);
        }
        if (rc == 0) {
            md_store_free(work);
            break;
        }
        ck_assert_int_eq(rc, CAIRN_E_IO);
        /* crash: what was synced, and then any prefix of the rest */
        size_t unsynced = md_store_mem_unsynced(work);
        for (size_t keep = 0; keep <= unsynced; keep += unsynced / 3 + 1) {
            struct md_store *after;
            ck_assert_int_eq(md_store_mem_crash(work, keep, &after), 0);
            struct md_sm *sm;
            int mid_swap = md_sm_open(after, NULL, &sm) == CAIRN_E_CORRUPT;
            if (!mid_swap)
                md_sm_free(sm);
            recovered_swap += mid_swap;
            ck_assert_int_eq(md_snap_recover(after), 0);
            ck_assert(!has_range(after, 'T'));
            ck_assert_int_eq(md_sm_open(after, NULL, &sm), 0);
            md_sm_free(sm);
            hash_of(after, h);
            int is_old = memcmp(h, old_hash, 32) == 0, is_new = memcmp(h, snap_hash, 32) == 0;
            ck_assert_msg(is_old || is_new, "disk died after %ld writes, %zu kept: mixed state", n,
                          keep);
            saw_old |= is_old;
            saw_new |= is_new;
            if (is_old) /* (the new one is the source's, hash for hash) */
                ck_assert_int_eq(md_sm_check(after, NULL, 0), 0);
            md_store_free(after);
        }
        md_store_free(work);
        ck_assert_int_lt(n, 100000);
    }
    ck_assert(saw_old && saw_new && recovered_swap > 0);
    free(s.buf);
    tsm_close(&dst);
    tsm_close(&src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_snap");
    TCase *tc = tcase_create("snapshots");
    tcase_add_loop_test(tc, test_round_trip, 0, 4);
    tcase_add_loop_test(tc, test_bounded_frames_and_consistent_snapshot, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_damaged_streams_refused, 0, BACKEND_COUNT);
    tcase_add_test(tc, test_interrupted_install);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
