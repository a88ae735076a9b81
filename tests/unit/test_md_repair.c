/* md_repair: the planner on a real state machine (memory store, commands
 * applied with md_sm_apply, fake clock and liveness), and the executor
 * against real cairn-chunk processes on 127.0.0.1 with a LevelDB store. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "ec_codec.h"
#include "md_cmd.h"
#include "md_place.h"
#include "md_query.h"
#include "md_repair.h"
#include "md_sm.h"
#include "md_store.h"

#include <check.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define N_CS 9 /* ids 1..9; hosts h1..h8, cs 9 shares host h1 with cs 1 */
#define K    4
#define M    2

/* ------------------------------------------------------------ fixture -- */

struct fx {
    struct md_store *store;
    struct md_sm *sm;
    pthread_mutex_t mu; /* the executor test commits from worker threads */
    uint64_t index;
    int64_t now;
    int64_t last_seen[N_CS + 1];
    int known[N_CS + 1];
    int alive[N_CS + 1]; /* executor test: seen "now" */
    volatile int leader; /* executor test: is_leader() */
    char addr[N_CS + 1][64];
};

static int fx_live(void *ctx, uint64_t id, struct md_repair_live *out)
{
    struct fx *f = ctx;
    if (id > N_CS || !f->known[id])
        return CAIRN_E_NOTFOUND;
    out->last_seen_ms = f->alive[id] ? cn_mono_ms() : f->last_seen[id];
    out->free = 100ull << 30;
    snprintf(out->address, sizeof(out->address), "%s", f->addr[id]);
    return 0;
}

static int fx_apply(struct fx *f, uint8_t *cmd, size_t len)
{
    uint8_t *res;
    size_t rlen;
    pthread_mutex_lock(&f->mu);
    int rc = md_sm_apply(f->sm, ++f->index, cmd, len, &res, &rlen);
    pthread_mutex_unlock(&f->mu);
    free(cmd);
    ck_assert_int_eq(rc, 0);
    int st = md_result_status(res, rlen, NULL);
    free(res);
    return st;
}

static void fx_register(struct fx *f, uint64_t id, const char *host, const char *addr)
{
    struct md_cs_desc d = {
        .id = id, .address = addr, .host = host, .capacity = 1ull << 40, .free = 1ull << 39};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_register_cs(1, 0, &d, 1000, &c, &l), 0);
    ck_assert_int_eq(fx_apply(f, c, l), 0);
    snprintf(f->addr[id], sizeof(f->addr[id]), "%s", addr);
    f->known[id] = 1;
}

static void fx_init(struct fx *f, int leveldb_dir_or_0, const char *dir)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    if (leveldb_dir_or_0) {
        struct md_store_options so;
        md_store_options_default(&so);
        so.sync = 0;
        ck_assert_int_eq(md_store_open_leveldb(dir, &so, &f->store), 0);
    } else {
        ck_assert_int_eq(md_store_open_mem(&f->store), 0);
    }
    struct md_sm_options o;
    md_sm_options_default(&o);
    ck_assert_int_eq(md_sm_open(f->store, &o, &f->sm), 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt", "alice", "", 0, 1000, &c, &l), 0);
    ck_assert_int_eq(fx_apply(f, c, l), 0);
    f->now = 100000;
}

static void fx_register_all(struct fx *f)
{
    for (uint64_t id = 1; id <= N_CS; id++) {
        char host[16], addr[32];
        snprintf(host, sizeof(host), "h%" PRIu64, id == 9 ? 1 : id);
        snprintf(addr, sizeof(addr), "127.0.0.1:%" PRIu64, 10000 + id);
        fx_register(f, id, host, addr);
        f->last_seen[id] = f->now;
    }
}

static void fx_free(struct fx *f)
{
    md_sm_free(f->sm);
    md_store_free(f->store);
    pthread_mutex_destroy(&f->mu);
}

static void gid_of(uint8_t gid[16], unsigned n)
{
    memset(gid, 0, 16);
    gid[0] = (uint8_t)(n >> 8);
    gid[1] = (uint8_t)n;
    gid[15] = 0x5a;
}

/* Object "o<n>" with one 4+2 group gid_of(n) of data_len bytes, unit 4096. */
static void fx_put(struct fx *f, unsigned n, const uint64_t cs[K + M], uint64_t data_len)
{
    struct md_group_desc g = {
        .k = K, .m = M, .unit = 4096, .data_length = data_len, .fragment_cs = cs};
    gid_of(g.id, n);
    struct md_object_desc o = {
        .size = data_len, .etag = "e", .mtime_ms = 1, .groups = &g, .n_groups = 1};
    char key[16];
    snprintf(key, sizeof(key), "o%u", n);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(1, 0, "bkt", key, &o, MD_COND_NONE, NULL, &c, &l), 0);
    ck_assert_int_eq(fx_apply(f, c, l), 0);
}

static void fx_move(struct fx *f, const struct md_repair_task *t)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_move_fragment(1, 0, t->group_id, t->index, t->old_cs, t->new_cs, &c, &l), 0);
    ck_assert_int_eq(fx_apply(f, c, l), 0);
}

static uint64_t fx_location(struct fx *f, const uint8_t gid[16], uint32_t index)
{
    Md__QueryResult *qr;
    ck_assert_int_eq(md_query_get_group(f->store, gid, &qr), 0);
    uint64_t cs = qr->group->group->fragment_cs[index];
    md_query_result_free(qr);
    return cs;
}

static struct md_repair_planner *fx_planner(struct fx *f, uint32_t budget, uint64_t seed)
{
    struct md_repair_plan_opts o;
    md_repair_plan_opts_default(&o);
    o.down_after_ms = 3000;
    o.out_after_ms = 10000;
    o.scan_interval_ms = 0;
    o.retry_base_ms = 1000;
    o.seed = seed;
    if (budget)
        o.scan_budget = budget;
    o.live = fx_live;
    o.live_ctx = f;
    struct md_repair_planner *p;
    ck_assert_int_eq(md_repair_planner_new(&o, f->now, &p), 0);
    return p;
}

/* md_repair_plan_next, called again while it says BUSY. */
static int fx_next(struct fx *f, struct md_repair_planner *p, struct md_repair_task *t)
{
    int rc;
    while ((rc = md_repair_plan_next(p, f->store, f->now, t)) == CAIRN_E_BUSY)
        ;
    return rc;
}

/* Runs scan steps until a pass ends; returns the number of steps. */
static int fx_pass(struct fx *f, struct md_repair_planner *p)
{
    for (int i = 1; i < 100000; i++) {
        int rc = md_repair_plan_step(p, f->store, f->now);
        ck_assert_int_ge(rc, 0);
        if (rc == 1)
            return i;
    }
    ck_abort_msg("pass did not end");
    return 0;
}

static void fx_heartbeat_all(struct fx *f)
{
    for (int id = 1; id <= N_CS; id++)
        f->last_seen[id] = f->now;
}

static const char *host_of(uint64_t cs)
{
    static const char *h[] = {"", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h1"};
    return cs <= N_CS ? h[cs] : "?";
}

/* Checks a task's invariants against the group in the store. */
static void check_task(struct fx *f, const struct md_repair_task *t)
{
    Md__QueryResult *qr;
    ck_assert_int_eq(md_query_get_group(f->store, t->group_id, &qr), 0);
    const Md__ChunkGroup *g = qr->group->group;
    ck_assert_uint_eq(t->k, g->k);
    ck_assert_uint_eq(t->m, g->m);
    ck_assert_uint_eq(t->old_cs, g->fragment_cs[t->index]);
    ck_assert_uint_ge(t->n_sources, t->k);
    for (uint32_t i = 0; i < t->n_sources; i++) {
        ck_assert_uint_ne(t->sources[i].index, t->index);
        ck_assert_uint_eq(t->sources[i].cs, g->fragment_cs[t->sources[i].index]);
        ck_assert_str_eq(t->sources[i].address, f->addr[t->sources[i].cs]);
        if (i)
            ck_assert_uint_gt(t->sources[i].index, t->sources[i - 1].index);
    }
    ck_assert_str_eq(t->target_address, f->addr[t->new_cs]);
    if (t->new_cs != t->old_cs) {
        /* the target is on a host holding no other fragment of the group */
        for (size_t i = 0; i < g->n_fragment_cs; i++) {
            if (i == t->index || !g->fragment_cs[i])
                continue;
            ck_assert_uint_ne(g->fragment_cs[i], t->new_cs);
            ck_assert_str_ne(host_of(g->fragment_cs[i]), host_of(t->new_cs));
        }
    }
    md_query_result_free(qr);
}

/* ------------------------------------------------------------ planner -- */

START_TEST(test_lost_fragment)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 0, 4, 5, 6};
    fx_put(&f, 1, cs, 2 * K * 4096 + 100); /* 2 full stripes and a short one */
    uint64_t ok[6] = {3, 4, 5, 6, 7, 8};
    fx_put(&f, 2, ok, 50000);
    struct md_repair_planner *p = fx_planner(&f, 0, 7);
    fx_pass(&f, p);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 1);
    ck_assert_uint_eq(st.queued_groups, 1);

    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    uint8_t g1[16];
    gid_of(g1, 1);
    ck_assert_mem_eq(t.group_id, g1, 16);
    ck_assert_uint_eq(t.index, 2);
    ck_assert_int_eq(t.why, MD_REPAIR_LOST);
    ck_assert_uint_eq(t.old_cs, 0);
    ck_assert(t.new_cs == 3 || t.new_cs == 7 || t.new_cs == 8); /* 9 shares h1 with 1 */
    ck_assert_uint_eq(t.n_sources, 5);
    ck_assert_uint_eq(t.fragment_length, 2 * 4096 + 25); /* ceil(100 / 4) */
    ck_assert_uint_eq(t.data_length, 2 * K * 4096 + 100);
    ck_assert_uint_eq(t.missing, 1);
    check_task(&f, &t);
    /* the group is in flight: nothing else to hand out */
    struct md_repair_task t2;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t2), CAIRN_E_NOTFOUND);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.in_flight, 1);

    /* committed: the group is healthy and forgotten */
    fx_move(&f, &t);
    md_repair_plan_done(p, &t, 0, f.now);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t2), CAIRN_E_NOTFOUND);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    ck_assert_uint_eq(st.tasks_done, 1);
    ck_assert_uint_eq(st.bytes_rebuilt, t.fragment_length);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(fx_location(&f, g1, 2), t.new_cs);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

/* A packed group (issue #17) is repaired like any other once sealed, at
 * its committed length, and the move lands in its own record; while open
 * (still growing) it waits. */
START_TEST(test_packed_group)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
    struct md_group_desc g = {.k = K, .m = M, .unit = 4096, .fragment_cs = cs};
    gid_of(g.id, 77);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_open_group(1, 0, &g, 1000, "gw", "", &c, &l), 0);
    ck_assert_int_eq(fx_apply(&f, c, l), 0);
    struct md_packed_desc d = {.bucket = "bkt", .key = "p", .group_offset = 0};
    d.obj.size = 3 * K * 4096 - 10;
    d.obj.etag = "e";
    ck_assert_int_eq(md_cmd_commit_packed(1, 0, &g, 0, 3 * K * 4096, &d, 1, 2000, &c, &l), 0);
    ck_assert_int_eq(fx_apply(&f, c, l), 0);
    struct md_repair_planner *p = fx_planner(&f, 0, 3);
    struct md_repair_task t;
    f.now += 20000; /* cs 3 out */
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 20000;
    fx_pass(&f, p);
    ck_assert_int_eq(fx_next(&f, p, &t), CAIRN_E_NOTFOUND); /* open: waits */
    ck_assert_int_eq(md_cmd_seal_group(1, 0, g.id, 3 * K * 4096, 0, 3000, &c, &l), 0);
    ck_assert_int_eq(fx_apply(&f, c, l), 0);
    fx_pass(&f, p);
    ck_assert_int_eq(fx_next(&f, p, &t), 0);
    ck_assert_mem_eq(t.group_id, g.id, 16);
    ck_assert_uint_eq(t.index, 2);
    ck_assert_uint_eq(t.old_cs, 3);
    ck_assert_uint_eq(t.data_length, 3 * K * 4096);
    ck_assert_uint_eq(t.fragment_length, 3 * 4096);
    check_task(&f, &t);
    fx_move(&f, &t);
    md_repair_plan_done(p, &t, 0, f.now);
    ck_assert_uint_eq(fx_location(&f, g.id, 2), t.new_cs);
    Md__QueryResult *qr;
    ck_assert_int_eq(md_query_get_group(f.store, g.id, &qr), 0);
    ck_assert_ptr_nonnull(qr->group->packed);
    ck_assert_uint_eq(qr->group->packed->group->fragment_cs[2], t.new_cs);
    md_query_result_free(qr);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_targets_distinct_hosts)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    /* 40 groups, each on 6 of the 8 hosts (cs 1 or 9 for h1), one fragment lost */
    uint64_t seedstate = 42;
    for (unsigned n = 1; n <= 40; n++) {
        uint64_t cs[6];
        int used[9] = {0};
        for (int i = 0; i < 6; i++) {
            uint64_t h;
            do
                h = 1 + md_place_rand(&seedstate) % 8;
            while (used[h]);
            used[h] = 1;
            cs[i] = (h == 1 && (n & 1)) ? 9 : h;
        }
        cs[n % 6] = 0;
        fx_put(&f, n, cs, 40000);
    }
    for (uint64_t seed = 0; seed < 5; seed++) {
        struct md_repair_planner *p = fx_planner(&f, 0, seed);
        fx_pass(&f, p);
        struct md_repair_task t;
        int n = 0;
        while (md_repair_plan_next(p, f.store, f.now, &t) == 0) {
            check_task(&f, &t);
            ck_assert_uint_eq(t.index, t.group_id[1] % 6);
            n++;
        }
        ck_assert_int_eq(n, 40);
        md_repair_planner_free(p);
    }
    fx_free(&f);
}
END_TEST

/* Concurrent rebuilds spread over the eligible targets: 12 groups lose the
 * same fragment and only cs 6, 7 and 8 may take it (cs 9 shares a host with
 * holder cs 1); with tasks in flight they never differ by more than one, and
 * after some finish the next ones go where fewest run. */
static unsigned spread_gap(const unsigned on[N_CS + 1])
{
    unsigned lo = on[6], hi = on[6];
    for (int c = 7; c <= 8; c++) {
        lo = on[c] < lo ? on[c] : lo;
        hi = on[c] > hi ? on[c] : hi;
    }
    return hi - lo;
}

START_TEST(test_targets_spread)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 0};
    for (unsigned g = 1; g <= 12; g++)
        fx_put(&f, g, cs, 40000);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct md_repair_planner *p = fx_planner(&f, 0, seed);
        fx_heartbeat_all(&f);
        fx_pass(&f, p);
        struct md_repair_task t[12];
        unsigned on[N_CS + 1] = {0};
        for (int i = 0; i < 9; i++) {
            ck_assert_int_eq(fx_next(&f, p, &t[i]), 0);
            check_task(&f, &t[i]);
            ck_assert(t[i].new_cs >= 6 && t[i].new_cs <= 8);
            on[t[i].new_cs]++;
            ck_assert_uint_le(spread_gap(on), 1);
        }
        /* the first two end (failed): the next go where fewest run */
        for (int i = 0; i < 2; i++) {
            md_repair_plan_done(p, &t[i], CAIRN_E_IO, f.now);
            on[t[i].new_cs]--;
        }
        for (int i = 9; i < 12; i++) {
            ck_assert_int_eq(fx_next(&f, p, &t[i]), 0);
            unsigned least = on[6] < on[7] ? on[6] : on[7];
            least = on[8] < least ? on[8] : least;
            ck_assert_uint_eq(on[t[i].new_cs], least);
            on[t[i].new_cs]++;
        }
        md_repair_planner_free(p);
    }
    fx_free(&f);
}
END_TEST

START_TEST(test_order_most_at_risk_then_oldest)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t one_a[6] = {1, 2, 3, 4, 5, 0};
    fx_put(&f, 0x300, one_a, 40000); /* missing 1, seen first */
    struct md_repair_planner *p = fx_planner(&f, 0, 1);
    fx_pass(&f, p);
    f.now += 1000;
    fx_heartbeat_all(&f);
    uint64_t one_b[6] = {1, 2, 3, 4, 0, 6};
    fx_put(&f, 0x100, one_b, 40000); /* missing 1, seen later, smaller id */
    uint64_t two[6] = {0, 2, 0, 4, 5, 6};
    fx_put(&f, 0x200, two, 40000); /* missing 2, seen later */
    fx_pass(&f, p);
    struct md_repair_task t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t[i]), 0);
    ck_assert_uint_eq(t[0].group_id[0], 0x02);
    ck_assert_uint_eq(t[0].missing, 2);
    ck_assert_uint_eq(t[0].index, 0);
    ck_assert_uint_eq(t[1].group_id[0], 0x03); /* older */
    ck_assert_int_eq(t[1].degraded_since_ms, 100000);
    ck_assert_uint_eq(t[2].group_id[0], 0x01);
    ck_assert_int_eq(t[2].degraded_since_ms, 101000);
    for (int i = 0; i < 3; i++)
        check_task(&f, &t[i]);
    /* after the first fragment of the 2-missing group is back, its second comes next */
    fx_move(&f, &t[0]);
    md_repair_plan_done(p, &t[0], 0, f.now);
    struct md_repair_task u;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &u), 0);
    ck_assert_uint_eq(u.group_id[0], 0x02);
    ck_assert_uint_eq(u.index, 2);
    ck_assert_uint_eq(u.missing, 1);
    check_task(&f, &u);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_down_then_out)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
    fx_put(&f, 1, cs, 40000);
    uint64_t other[6] = {7, 8, 2, 4, 5, 6};
    fx_put(&f, 2, other, 40000);
    struct md_repair_planner *p = fx_planner(&f, 0, 1);
    struct md_repair_stats st;
    struct md_repair_task t;

    /* cs 3 silent 2 s: up */
    f.now += 2000;
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 2000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_cs_state(p, 3), MD_REPAIR_CS_UP);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);

    /* silent 5 s: down -- degraded, not rebuilt */
    f.now += 3000;
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 5000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_cs_state(p, 3), MD_REPAIR_CS_DOWN);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 1);
    ck_assert_uint_eq(st.queued_groups, 0);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);

    /* back before out_after: up again, nothing degraded */
    f.now += 1000;
    fx_heartbeat_all(&f);
    fx_pass(&f, p);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);

    /* silent 11 s: out -- its fragment is rebuilt elsewhere */
    f.now += 11000;
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 11000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_cs_state(p, 3), MD_REPAIR_CS_OUT);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_uint_eq(t.group_id[1], 1);
    ck_assert_uint_eq(t.index, 2);
    ck_assert_int_eq(t.why, MD_REPAIR_OUT);
    ck_assert_uint_eq(t.old_cs, 3);
    ck_assert(t.new_cs == 7 || t.new_cs == 8);
    check_task(&f, &t);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    md_repair_planner_free(p);

    /* a new leader that never heard from cs 3 counts from its own start */
    f.known[3] = 0;
    p = fx_planner(&f, 0, 1);
    f.now += 5000;
    fx_heartbeat_all(&f);
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_cs_state(p, 3), MD_REPAIR_CS_DOWN);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    f.now += 6000;
    fx_heartbeat_all(&f);
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_cs_state(p, 3), MD_REPAIR_CS_OUT);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_uint_eq(t.old_cs, 3);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

/* A chunkserver that goes DOWN, then OUT, is scanned at once, not after the
 * scan interval; without a state change the interval holds. */
START_TEST(test_state_change_starts_pass)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
    fx_put(&f, 1, cs, 40000);
    struct md_repair_plan_opts o;
    md_repair_plan_opts_default(&o);
    o.down_after_ms = 3000;
    o.out_after_ms = 10000;
    o.scan_interval_ms = 600000;
    o.live = fx_live;
    o.live_ctx = &f;
    struct md_repair_planner *p;
    ck_assert_int_eq(md_repair_planner_new(&o, f.now, &p), 0);
    struct md_repair_stats st;
    struct md_repair_task t;
    fx_heartbeat_all(&f);
    fx_pass(&f, p); /* the first pass: all up */
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 1);
    ck_assert_uint_eq(st.degraded_groups, 0);

    /* nothing changes: no pass before the interval */
    f.now += 5000;
    fx_heartbeat_all(&f);
    ck_assert_int_eq(md_repair_plan_step(p, f.store, f.now), 1);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 1);

    /* cs 3 silent 4 s: DOWN -- a pass now finds the group degraded */
    f.now += 4000;
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 4000;
    fx_pass(&f, p);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 2);
    ck_assert_uint_eq(st.degraded_groups, 1);
    ck_assert_int_eq(fx_next(&f, p, &t), CAIRN_E_NOTFOUND);

    /* still DOWN: no state change, no pass, still no task */
    f.now += 2000;
    f.last_seen[3] = f.now - 6000;
    ck_assert_int_eq(md_repair_plan_step(p, f.store, f.now), 1);
    ck_assert_int_eq(fx_next(&f, p, &t), CAIRN_E_NOTFOUND);

    /* OUT: a pass at once, and the task */
    f.now += 5000;
    fx_heartbeat_all(&f);
    f.last_seen[3] = f.now - 11000;
    fx_pass(&f, p);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 3);
    ck_assert_int_eq(fx_next(&f, p, &t), 0);
    ck_assert_uint_eq(t.old_cs, 3);
    ck_assert_int_eq(t.why, MD_REPAIR_OUT);
    check_task(&f, &t);

    /* an early pass waits at least 1 s after the previous one ended */
    f.now += 100;
    fx_heartbeat_all(&f);
    f.last_seen[4] = f.now - 4000; /* cs 4 DOWN */
    ck_assert_int_eq(md_repair_plan_step(p, f.store, f.now), 1);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 3);
    f.now += 1000;
    f.last_seen[4] = f.now - 5000;
    fx_pass(&f, p);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.passes, 4);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_unrecoverable_and_waiting)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t a[6] = {0, 2, 0, 4, 5, 6}; /* 2 lost; cs 5 out -> 3 live < k */
    fx_put(&f, 1, a, 40000);
    uint64_t b[6] = {1, 0, 3, 0, 7, 8}; /* 2 lost; cs 7 down -> wait */
    fx_put(&f, 2, b, 40000);
    struct md_repair_planner *p = fx_planner(&f, 0, 1);
    f.now += 20000;
    fx_heartbeat_all(&f);
    f.last_seen[5] = f.now - 20000;
    f.last_seen[7] = f.now - 5000;
    fx_pass(&f, p);
    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.unrecoverable, 1);
    ck_assert_uint_eq(st.unrecoverable_seen, 1);
    ck_assert_uint_eq(st.degraded_groups, 2);
    /* next pass: still unrecoverable, logged once; cs 7 back -> b is repaired */
    f.now += 1000;
    fx_heartbeat_all(&f);
    f.last_seen[5] = f.now - 21000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_uint_eq(t.group_id[1], 2);
    ck_assert_uint_eq(t.index, 1);
    ck_assert_uint_eq(t.missing, 2);
    check_task(&f, &t);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.unrecoverable, 1);
    ck_assert_uint_eq(st.unrecoverable_seen, 1);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_damage_reports)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
    fx_put(&f, 1, cs, 40000);
    struct md_repair_planner *p = fx_planner(&f, 0, 1);
    fx_pass(&f, p);
    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    uint8_t g[16];
    gid_of(g, 1);
    /* a stale report (fragment 1 is on cs 2, not 5) is dropped */
    ck_assert_int_eq(md_repair_plan_damage(p, g, 1, 5, f.now), 0);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    /* a real one is rebuilt in place, from the other five */
    ck_assert_int_eq(md_repair_plan_damage(p, g, 1, 2, f.now), 0);
    ck_assert_int_eq(md_repair_plan_damage(p, g, 1, 2, f.now), 0); /* duplicate */
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_int_eq(t.why, MD_REPAIR_DAMAGED);
    ck_assert_uint_eq(t.index, 1);
    ck_assert_uint_eq(t.old_cs, 2);
    ck_assert_uint_eq(t.new_cs, 2);
    ck_assert_uint_eq(t.n_sources, 5);
    check_task(&f, &t);
    /* a failure retries after the backoff, then succeeds */
    md_repair_plan_done(p, &t, CAIRN_E_IO, f.now);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now + 999, &t), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now + 1000, &t), 0);
    ck_assert_uint_eq(t.attempt, 1);
    md_repair_plan_done(p, &t, CAIRN_E_IO, f.now + 1000);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now + 2999, &t), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now + 3000, &t), 0);
    ck_assert_uint_eq(t.attempt, 2);
    md_repair_plan_done(p, &t, 0, f.now + 3000);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now + 3000, &t), CAIRN_E_NOTFOUND);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    ck_assert_uint_eq(st.tasks_failed, 2);
    ck_assert_uint_eq(st.tasks_done, 1);
    ck_assert_uint_eq(st.damage_reports, 2);
    /* a damaged copy on a DOWN server waits; OUT: rebuilt elsewhere */
    ck_assert_int_eq(md_repair_plan_damage(p, g, 4, 5, f.now), 0);
    f.now += 5000;
    fx_heartbeat_all(&f);
    f.last_seen[5] = f.now - 5000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    f.now += 6000;
    fx_heartbeat_all(&f);
    f.last_seen[5] = f.now - 11000;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_int_eq(t.why, MD_REPAIR_OUT);
    ck_assert_uint_eq(t.index, 4);
    ck_assert_uint_ne(t.new_cs, 5);
    check_task(&f, &t);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_damage_table_bounded)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    struct md_repair_plan_opts o;
    md_repair_plan_opts_default(&o);
    o.max_damage = 3;
    o.live = fx_live;
    o.live_ctx = &f;
    struct md_repair_planner *p;
    ck_assert_int_eq(md_repair_planner_new(&o, f.now, &p), 0);
    uint8_t g[16];
    gid_of(g, 9);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_int_eq(md_repair_plan_damage(p, g, i, 1 + i, f.now), 0);
    ck_assert_int_eq(md_repair_plan_damage(p, g, 3, 4, f.now), CAIRN_E_BUSY);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.damage_dropped, 1);
    /* the group does not exist: the reports go at evaluation */
    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_repair_plan_damage(p, g, 3, 4, f.now), 0);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_bounded_scan_resumes)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    for (unsigned n = 1; n <= 10; n++) {
        uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
        cs[n % 6] = 0;
        fx_put(&f, n, cs, 40000);
    }
    /* 4 more groups with a fragment on cs 8, which goes out */
    for (unsigned n = 11; n <= 14; n++) {
        uint64_t cs[6] = {1, 2, 3, 4, 5, 8};
        fx_put(&f, n, cs, 40000);
    }
    f.now += 20000;
    fx_heartbeat_all(&f);
    f.last_seen[8] = f.now - 20000;
    struct md_repair_planner *p = fx_planner(&f, 3, 1);
    struct md_repair_stats st;
    /* iterator moves of a step: reading the chunkserver table, then <= budget keys */
    uint64_t seeks0, nexts0, seeks1, nexts1, seeks2, nexts2;
    md_store_iter_stats(f.store, &seeks0, &nexts0);
    Md__QueryResult *qr;
    ck_assert_int_eq(md_query_chunkservers(f.store, &qr), 0);
    md_query_result_free(qr);
    md_store_iter_stats(f.store, &seeks1, &nexts1);
    ck_assert_int_eq(md_repair_plan_step(p, f.store, f.now), 0);
    md_store_iter_stats(f.store, &seeks2, &nexts2);
    ck_assert_uint_le(nexts2 - nexts1, (nexts1 - nexts0) + 3);
    ck_assert_uint_le(seeks2 - seeks1, (seeks1 - seeks0) + 1);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.keys_scanned, 3);
    ck_assert_uint_eq(st.degraded_groups, 3);
    int steps = 1;
    int rc;
    while ((rc = md_repair_plan_step(p, f.store, f.now)) == 0) {
        steps++;
        md_repair_plan_stats(p, &st);
        ck_assert_uint_eq(st.keys_scanned, 3u * (unsigned)steps);
    }
    ck_assert_int_eq(rc, 1);
    steps++;
    ck_assert_int_eq(steps, 5); /* 14 keys, 3 per step */
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.keys_scanned, 14);
    ck_assert_uint_eq(st.degraded_groups, 14);
    ck_assert_uint_eq(st.passes, 1);
    int n = 0;
    struct md_repair_task t;
    while (md_repair_plan_next(p, f.store, f.now, &t) == 0) {
        check_task(&f, &t);
        if (t.group_id[1] > 10) {
            ck_assert_uint_eq(t.old_cs, 8);
            ck_assert_uint_eq(t.index, 5);
        } else {
            ck_assert_uint_eq(t.old_cs, 0);
        }
        n++;
    }
    ck_assert_int_eq(n, 14);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_repair_group_and_rescan)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 6};
    fx_put(&f, 1, cs, 40000);
    struct md_repair_plan_opts o;
    md_repair_plan_opts_default(&o);
    o.scan_interval_ms = 60000;
    o.live = fx_live;
    o.live_ctx = &f;
    struct md_repair_planner *p;
    ck_assert_int_eq(md_repair_planner_new(&o, f.now, &p), 0);
    fx_pass(&f, p);
    /* a healthy group asked for by name: evaluated, nothing to do */
    uint8_t g[16];
    gid_of(g, 1);
    ck_assert_int_eq(md_repair_plan_group(p, g, f.now), 0);
    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    /* a new lost fragment waits for the next pass (interval 60 s) unless rescanned */
    uint64_t lost[6] = {1, 2, 3, 4, 5, 0};
    fx_put(&f, 2, lost, 40000);
    f.now += 1000;
    fx_heartbeat_all(&f);
    ck_assert_int_eq(md_repair_plan_step(p, f.store, f.now), 1);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    md_repair_plan_rescan(p);
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_uint_eq(t.group_id[1], 2);
    ck_assert_uint_eq(t.index, 5);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

START_TEST(test_no_target)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t cs[6] = {1, 2, 3, 4, 5, 0};
    fx_put(&f, 1, cs, 40000);
    /* only 6, 7, 8 could take it; all down */
    f.now += 5000;
    fx_heartbeat_all(&f);
    f.last_seen[6] = f.last_seen[7] = f.last_seen[8] = f.now - 5000;
    struct md_repair_planner *p = fx_planner(&f, 0, 1);
    fx_pass(&f, p);
    struct md_repair_task t;
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), CAIRN_E_NOTFOUND);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.no_target, 1);
    ck_assert_uint_eq(st.queued_groups, 1);
    f.now += 1000;
    f.last_seen[7] = f.now;
    fx_pass(&f, p);
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t), 0);
    ck_assert_uint_eq(t.new_cs, 7);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

/* Thousands of degraded groups: the entry table grows, and entries leave it
 * in every order as their groups are repaired. */
START_TEST(test_many_groups)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    enum { NG = 3000 };
    uint64_t seedstate = 7;
    for (unsigned n = 1; n <= NG; n++) {
        uint64_t cs[6];
        int used[9] = {0};
        for (int i = 0; i < 6; i++) {
            uint64_t h;
            do
                h = 1 + md_place_rand(&seedstate) % 8;
            while (used[h]);
            used[h] = 1;
            cs[i] = h;
        }
        cs[md_place_rand(&seedstate) % 6] = 0;
        fx_put(&f, n, cs, 40000);
    }
    struct md_repair_planner *p = fx_planner(&f, 500, 3);
    fx_pass(&f, p);
    struct md_repair_stats st;
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, NG);
    static struct md_repair_task t[NG + 1];
    static uint8_t seen[NG + 1];
    memset(seen, 0, sizeof(seen));
    int n = 0;
    while (n < NG + 1 && fx_next(&f, p, &t[n]) == 0) {
        unsigned id = (unsigned)t[n].group_id[0] << 8 | t[n].group_id[1];
        ck_assert(id >= 1 && id <= NG && !seen[id]);
        seen[id] = 1;
        n++;
    }
    ck_assert_int_eq(n, NG);
    /* even groups: committed; odd: failed */
    for (int i = 0; i < n; i++) {
        unsigned id = (unsigned)t[i].group_id[0] << 8 | t[i].group_id[1];
        if (id % 2 == 0)
            fx_move(&f, &t[i]);
        md_repair_plan_done(p, &t[i], id % 2 == 0 ? 0 : CAIRN_E_IO, f.now);
    }
    f.now += 2000;
    fx_heartbeat_all(&f);
    int again = 0;
    while (fx_next(&f, p, &t[again]) == 0) {
        unsigned id = (unsigned)t[again].group_id[0] << 8 | t[again].group_id[1];
        ck_assert_uint_eq(id % 2, 1);
        ck_assert_uint_eq(t[again].attempt, 1);
        again++;
    }
    ck_assert_int_eq(again, NG / 2);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, NG / 2);
    ck_assert_uint_eq(st.in_flight, NG / 2);
    for (int i = 0; i < again; i++) {
        fx_move(&f, &t[i]);
        md_repair_plan_done(p, &t[i], 0, f.now);
    }
    /* 1500 groups to re-read, 64 per call */
    ck_assert_int_eq(md_repair_plan_next(p, f.store, f.now, &t[0]), CAIRN_E_BUSY);
    ck_assert_int_eq(fx_next(&f, p, &t[0]), CAIRN_E_NOTFOUND);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_eq(st.tasks_done, NG);
    fx_pass(&f, p);
    md_repair_plan_stats(p, &st);
    ck_assert_uint_eq(st.degraded_groups, 0);
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

/* ----------------------------------------------------------- executor -- */

#define X_CS   7 /* 6 hold the group, 1 spare */
#define X_UNIT 65536u
#define X_LEN  (3u * X_UNIT) /* fragment length: 3 full stripes */

struct xcs {
    pid_t pid;
    char addr[64];
};

static char x_dir[] = "/tmp/md-repair-test.XXXXXX";

static void path_of_chunk(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(n, 0);
    self[n] = 0;
    /* BUILD/tests/unit/test_md_repair -> BUILD/chunkserver/cairn-chunk */
    char *d = dirname(dirname(dirname(self)));
    snprintf(out, cap, "%s/chunkserver/cairn-chunk", d);
}

static void start_cs(struct xcs *c, const char *bin, int i)
{
    char data[PATH_MAX], portf[PATH_MAX], secret[PATH_MAX], logf[PATH_MAX];
    snprintf(data, sizeof(data), "%s/cs%d", x_dir, i);
    snprintf(portf, sizeof(portf), "%s/cs%d.port", x_dir, i);
    snprintf(secret, sizeof(secret), "%s/secret", x_dir);
    snprintf(logf, sizeof(logf), "%s/cs%d.log", x_dir, i);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "--data-dir", data, "--port", "0", "--port-file", portf,
              "--cluster-secret-file", secret, "--reserve", "0", "--no-sync", "--log-level", "warn",
              (char *)NULL);
        _exit(127);
    }
    c->pid = pid;
    for (int t = 0; t < 400; t++) {
        char *buf = NULL;
        size_t len = 0;
        if (cn_read_file(portf, 64, &buf, &len) == 0 && len > 0) {
            snprintf(c->addr, sizeof(c->addr), "127.0.0.1:%d", atoi(buf));
            free(buf);
            return;
        }
        free(buf);
        int st;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "cairn-chunk %d exited at start", i);
        cn_sleep_ms(25);
    }
    ck_abort_msg("cairn-chunk %d did not start", i);
}

static void stop_cs(struct xcs *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    int st = 0;
    ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
    c->pid = 0;
    /* a TERM'd chunkserver exits 0 (sanitizer reports make it fail) */
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int x_http(struct cn_http_client *cl, const char *method, const char *addr,
                  const uint8_t gid[16], uint32_t idx, const uint8_t *body, size_t len,
                  struct cn_http_response *resp)
{
    char url[96], target[96], hex[33], hk[32], hm[32], hu[40], hl[48];
    snprintf(url, sizeof(url), "http://%s", addr);
    cn_hex_encode(gid, 16, hex);
    snprintf(target, sizeof(target), "/v1/fragment/%s/%u", hex, idx);
    snprintf(hk, sizeof(hk), "X-Cairn-K: %d", K);
    snprintf(hm, sizeof(hm), "X-Cairn-M: %d", M);
    snprintf(hu, sizeof(hu), "X-Cairn-Unit: %u", X_UNIT);
    snprintf(hl, sizeof(hl), "X-Cairn-Data-Length: %u", X_LEN);
    const char *hdrs[] = {hk, hm, hu, hl, NULL};
    struct cn_http_request req = {.method = method,
                                  .base_url = url,
                                  .target = target,
                                  .headers = strcmp(method, "PUT") ? NULL : hdrs,
                                  .body = body,
                                  .body_len = len,
                                  .resp_max = 4u << 20,
                                  /* fragment data: its signed CRC headers cover it */
                                  .resp_body_unsigned_ok = 1};
    memset(resp, 0, sizeof(*resp));
    return cn_http_client_do(cl, &req, resp);
}

static int x_is_leader(void *ctx)
{
    struct fx *f = ctx;
    return f->leader;
}

/* Reports damage, waiting until the executor acts as leader. */
static void x_report(struct md_repair *r, const uint8_t gid[16], uint32_t idx, uint64_t cs)
{
    int rc;
    for (int i = 0; (rc = md_repair_report_damage(r, gid, idx, cs)) == CAIRN_E_NOTLEADER && i < 500;
         i++)
        cn_sleep_ms(10);
    ck_assert_int_eq(rc, 0);
}

static void x_check_fragment(struct cn_http_client *cl, const char *addr, const uint8_t gid[16],
                             uint32_t idx, const uint8_t *want)
{
    struct cn_http_response resp;
    ck_assert_int_eq(x_http(cl, "GET", addr, gid, idx, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.body_len, X_LEN);
    ck_assert_mem_eq(resp.body, want, X_LEN);
    cn_http_response_clear(&resp);
}

static int x_commit(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len)
{
    struct fx *f = ctx;
    Md__Command *mc = md__command__unpack(NULL, len, cmd);
    ck_assert_ptr_nonnull(mc);
    ck_assert_uint_eq(mc->client_id, client_id);
    ck_assert_uint_eq(mc->seq, seq);
    ck_assert_uint_ne(client_id, 0);
    ck_assert_uint_ne(seq, 0);
    md__command__free_unpacked(mc, NULL);
    uint8_t *res;
    size_t rlen;
    pthread_mutex_lock(&f->mu);
    int rc = md_sm_apply(f->sm, ++f->index, cmd, len, &res, &rlen);
    pthread_mutex_unlock(&f->mu);
    if (rc)
        return rc;
    int st = md_result_status(res, rlen, NULL);
    free(res);
    return st;
}

static int wait_location(struct fx *f, const uint8_t gid[16], uint32_t idx, uint64_t want,
                         int64_t ms)
{
    int64_t end = cn_mono_ms() + ms;
    while (cn_mono_ms() < end) {
        pthread_mutex_lock(&f->mu);
        uint64_t at = fx_location(f, gid, idx);
        pthread_mutex_unlock(&f->mu);
        if (at == want)
            return 1;
        cn_sleep_ms(20);
    }
    return 0;
}

START_TEST(test_executor_real_chunkservers)
{
    char bin[PATH_MAX];
    path_of_chunk(bin, sizeof(bin));
    ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
    ck_assert_ptr_nonnull(mkdtemp(x_dir));
    char secret_path[PATH_MAX], sec[33];
    snprintf(secret_path, sizeof(secret_path), "%s/secret", x_dir);
    uint8_t raw[16];
    ck_assert_int_eq(cn_random_bytes(raw, sizeof(raw)), 0);
    cn_hex_encode(raw, sizeof(raw), sec);
    FILE *sf = fopen(secret_path, "w");
    ck_assert_ptr_nonnull(sf);
    fputs(sec, sf);
    fclose(sf);
    struct cn_auth *auth;
    ck_assert_int_eq(cn_auth_new(sec, strlen(sec), CN_ROLE_ADMIN, 0, &auth), 0);

    struct xcs cs[X_CS + 1];
    memset(cs, 0, sizeof(cs));
    for (int i = 1; i <= X_CS; i++)
        start_cs(&cs[i], bin, i);

    char mddir[PATH_MAX];
    snprintf(mddir, sizeof(mddir), "%s/md", x_dir);
    struct fx f;
    fx_init(&f, 1, mddir);
    for (int i = 1; i <= X_CS; i++) {
        char host[16];
        snprintf(host, sizeof(host), "h%d", i);
        fx_register(&f, (uint64_t)i, host, cs[i].addr);
        f.alive[i] = 1;
    }

    /* a 4+2 group of 3 full stripes on cs 1..6, fragments encoded with ISA-L */
    uint8_t *frag[K + M];
    for (int i = 0; i < K + M; i++) {
        frag[i] = malloc(X_LEN);
        ck_assert_ptr_nonnull(frag[i]);
    }
    uint64_t st = 12345;
    for (int i = 0; i < K; i++)
        for (size_t b = 0; b < X_LEN; b += 8) {
            uint64_t v = md_place_rand(&st);
            memcpy(frag[i] + b, &v, 8);
        }
    ec_codec *codec;
    ck_assert_int_eq(ec_codec_new(K, M, &codec), 0);
    ck_assert_int_eq(ec_encode(codec, X_LEN, (const uint8_t *const *)frag, frag + K), 0);
    ec_codec_free(codec);
    uint8_t gid[16];
    ck_assert_int_eq(cn_random_bytes(gid, 16), 0);
    struct cn_http_client_opts co = {.auth = auth};
    struct cn_http_client *cl;
    ck_assert_int_eq(cn_http_client_new(&co, &cl), 0);
    for (int i = 0; i < K + M; i++) {
        struct cn_http_response r;
        ck_assert_int_eq(x_http(cl, "PUT", cs[i + 1].addr, gid, (uint32_t)i, frag[i], X_LEN, &r),
                         0);
        ck_assert_int_eq(r.status, 201);
        cn_http_response_clear(&r);
    }
    uint64_t loc[6] = {1, 2, 3, 4, 5, 6};
    struct md_group_desc g = {
        .k = K, .m = M, .unit = X_UNIT, .data_length = (uint64_t)K * X_LEN, .fragment_cs = loc};
    memcpy(g.id, gid, 16);
    struct md_object_desc o = {
        .size = g.data_length, .etag = "e", .mtime_ms = 1, .groups = &g, .n_groups = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(1, 0, "bkt", "big", &o, MD_COND_NONE, NULL, &c, &l), 0);
    ck_assert_int_eq(fx_apply(&f, c, l), 0);

    struct md_repair_opts ro;
    md_repair_opts_default(&ro);
    ro.plan.down_after_ms = 100;
    ro.plan.out_after_ms = 300;
    ro.plan.scan_interval_ms = 50;
    ro.plan.live = fx_live;
    ro.plan.live_ctx = &f;
    ro.store = f.store;
    ro.auth = auth;
    ro.is_leader = x_is_leader;
    ro.commit = x_commit;
    ro.ctx = &f;
    ro.task_timeout_ms = 10000;
    ro.tick_ms = 20;
    struct md_repair *r;
    ck_assert_int_eq(md_repair_start(&ro, &r), 0);
    /* not leader: nothing is accepted */
    cn_sleep_ms(60);
    ck_assert_int_eq(md_repair_report_damage(r, gid, 0, 1), CAIRN_E_NOTLEADER);
    ck_assert_int_eq(md_repair_rescan(r), CAIRN_E_NOTLEADER);
    f.leader = 1;

    /* chunkserver 3 (fragment 2) dies: its fragment file is gone with it */
    stop_cs(&cs[3]);
    {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf %s/cs3", x_dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    pthread_mutex_lock(&f.mu);
    f.alive[3] = 0;
    f.last_seen[3] = cn_mono_ms();
    pthread_mutex_unlock(&f.mu);
    /* the only eligible target is the spare, 7 */
    ck_assert_msg(wait_location(&f, gid, 2, 7, 15000), "fragment 2 not moved to cs 7");
    struct cn_http_response resp;
    ck_assert_int_eq(x_http(cl, "GET", cs[7].addr, gid, 2, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.body_len, X_LEN);
    ck_assert_mem_eq(resp.body, frag[2], X_LEN);
    cn_http_response_clear(&resp);

    /* fragment 4 deleted behind cs 5's back and reported damaged: rebuilt in place */
    ck_assert_int_eq(x_http(cl, "DELETE", cs[5].addr, gid, 4, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 204);
    cn_http_response_clear(&resp);
    x_report(r, gid, 4, 5);
    int64_t end = cn_mono_ms() + 15000;
    struct md_repair_stats rs;
    do {
        cn_sleep_ms(20);
        md_repair_get_stats(r, &rs);
    } while (rs.tasks_done < 2 && cn_mono_ms() < end);
    ck_assert_uint_eq(rs.tasks_done, 2);
    ck_assert_uint_eq(rs.bytes_rebuilt, 2ull * X_LEN);
    ck_assert_uint_eq(fx_location(&f, gid, 4), 5);
    ck_assert_int_eq(x_http(cl, "GET", cs[5].addr, gid, 4, NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.body_len, X_LEN);
    ck_assert_mem_eq(resp.body, frag[4], X_LEN);
    cn_http_response_clear(&resp);
    char metrics[2048];
    ck_assert_uint_gt(md_repair_metrics(r, metrics, sizeof(metrics)), 0);
    ck_assert_ptr_nonnull(strstr(metrics, "cairn_repair_tasks_done_total 2\n"));

    /* leadership lost: nothing accepted; regained: a new planner, repairs go on */
    f.leader = 0;
    end = cn_mono_ms() + 5000;
    while (md_repair_rescan(r) != CAIRN_E_NOTLEADER && cn_mono_ms() < end)
        cn_sleep_ms(10);
    ck_assert_int_eq(md_repair_report_damage(r, gid, 3, 4), CAIRN_E_NOTLEADER);
    f.leader = 1;
    x_report(r, gid, 3, 4);
    end = cn_mono_ms() + 15000;
    do {
        cn_sleep_ms(20);
        md_repair_get_stats(r, &rs);
    } while (rs.tasks_done < 3 && cn_mono_ms() < end);
    ck_assert_uint_eq(rs.tasks_done, 3);
    x_check_fragment(cl, cs[4].addr, gid, 3, frag[3]);
    md_repair_stop(r);

    /* bandwidth budget 0.1 MB/s (1 s burst): of two rebuilds of 196608 bytes
     * each, the second waits ~1 s for tokens (unlimited, each takes ~10 ms) */
    ro.bandwidth_mb_s = 0.1;
    ck_assert_int_eq(md_repair_start(&ro, &r), 0);
    int64_t t0 = cn_mono_ms();
    x_report(r, gid, 0, 1);
    x_report(r, gid, 1, 2);
    end = cn_mono_ms() + 15000;
    do {
        cn_sleep_ms(20);
        md_repair_get_stats(r, &rs);
    } while (rs.tasks_done < 2 && cn_mono_ms() < end);
    int64_t took = cn_mono_ms() - t0;
    ck_assert_uint_eq(rs.tasks_done, 2);
    ck_assert_uint_eq(rs.tasks_failed, 0);
    ck_assert_msg(took >= 900 && took < 5000, "2 rebuilds at 0.1 MB/s took %" PRId64 " ms", took);
    md_repair_stop(r);
    x_check_fragment(cl, cs[1].addr, gid, 0, frag[0]);
    x_check_fragment(cl, cs[2].addr, gid, 1, frag[1]);
    ck_assert_uint_eq(fx_location(&f, gid, 0), 1);
    ck_assert_uint_eq(fx_location(&f, gid, 1), 2);

    cn_http_client_free(cl);
    for (int i = 1; i <= X_CS; i++)
        stop_cs(&cs[i]);
    for (int i = 0; i < K + M; i++)
        free(frag[i]);
    fx_free(&f);
    cn_auth_free(auth);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", x_dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A DRAINING chunkserver that is up: its fragments are moved to other hosts
 * (it stays a source), lost fragments go first, and it receives nothing. */
START_TEST(test_drain)
{
    struct fx f;
    fx_init(&f, 0, NULL);
    fx_register_all(&f);
    uint64_t a[6] = {1, 2, 3, 4, 5, 6};
    fx_put(&f, 1, a, 50000);
    uint64_t b[6] = {2, 3, 4, 5, 6, 0}; /* also a lost parity fragment */
    fx_put(&f, 2, b, 50000);
    uint8_t *cmd;
    size_t clen;
    ck_assert_int_eq(md_cmd_set_cs_state(7000, 1, 2, MD__CHUNKSERVER_STATE__CS_DRAINING, 0, 0, 0, 1,
                                         &cmd, &clen),
                     0);
    ck_assert_int_eq(fx_apply(&f, cmd, clen), 0);
    fx_heartbeat_all(&f);
    struct md_repair_planner *p = fx_planner(&f, 0, 11);
    fx_pass(&f, p);
    uint8_t g1[16], g2[16];
    gid_of(g1, 1);
    gid_of(g2, 2);
    int moved = 0, lost_first = 0;
    for (int round = 0; round < 6; round++) {
        struct md_repair_task t;
        int rc = md_repair_plan_next(p, f.store, f.now, &t);
        if (rc == CAIRN_E_NOTFOUND) {
            fx_pass(&f, p);
            rc = md_repair_plan_next(p, f.store, f.now, &t);
        }
        if (rc == CAIRN_E_NOTFOUND)
            break;
        ck_assert_int_eq(rc, 0);
        check_task(&f, &t);
        ck_assert_uint_ne(t.new_cs, 2); /* never onto the draining one */
        for (uint32_t i = 0; i < t.n_sources; i++)
            ck_assert_uint_ne(t.sources[i].index, t.index);
        if (t.why == MD_REPAIR_LOST) {
            ck_assert_int_eq(moved, 0); /* the lost fragment before any move */
            lost_first = 1;
        } else {
            ck_assert_int_eq(t.why, MD_REPAIR_DRAIN);
            ck_assert_uint_eq(t.old_cs, 2);
            moved++;
        }
        fx_move(&f, &t);
        md_repair_plan_done(p, &t, 0, f.now);
    }
    ck_assert_int_eq(lost_first, 1);
    ck_assert_int_eq(moved, 2); /* one fragment of each group was on cs 2 */
    for (uint32_t i = 0; i < K + M; i++) {
        ck_assert_uint_ne(fx_location(&f, g1, i), 2);
        ck_assert_uint_ne(fx_location(&f, g2, i), 2);
        ck_assert_uint_ne(fx_location(&f, g2, i), 0);
    }
    md_repair_planner_free(p);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_repair");
    TCase *tc = tcase_create("planner");
    tcase_add_test(tc, test_lost_fragment);
    tcase_add_test(tc, test_packed_group);
    tcase_add_test(tc, test_drain);
    tcase_add_test(tc, test_targets_distinct_hosts);
    tcase_add_test(tc, test_order_most_at_risk_then_oldest);
    tcase_add_test(tc, test_targets_spread);
    tcase_add_test(tc, test_down_then_out);
    tcase_add_test(tc, test_state_change_starts_pass);
    tcase_add_test(tc, test_unrecoverable_and_waiting);
    tcase_add_test(tc, test_damage_reports);
    tcase_add_test(tc, test_damage_table_bounded);
    tcase_add_test(tc, test_bounded_scan_resumes);
    tcase_add_test(tc, test_repair_group_and_rescan);
    tcase_add_test(tc, test_no_target);
    tcase_add_test(tc, test_many_groups);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("executor");
    tcase_set_timeout(te, 60);
    tcase_add_test(te, test_executor_real_chunkservers);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
