/* The replica simulator's world: the event queue, the network, the
 * replicas' processes (their core, persist and snapshot threads as the
 * daemon has them), faults, the per-step checks and the run. See rsim.h. */
#include "rsim_int.h"

#include "cn_error.h"
#include "md_check.h"
#include "md_plog.h"
#include "md_sm.h"
#include "md_snap.h"
#include "ec_crc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HEAL_MAX_MS 60000
#define FNV_INIT    1469598103934665603ull

/* ------------------------------------------------------------ utilities -- */

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv_mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xFF;
        h *= 1099511628211ull;
    }
    return h;
}

void rs_fail(struct rsim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = 1;
    s->r->ok = false;
    s->r->fail_step = s->step;
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(s->r->error, sizeof(s->r->error), "t=%" PRIu64 "ms: ", s->now);
    vsnprintf(s->r->error + k, sizeof(s->r->error) - (size_t)k, fmt, ap);
    va_end(ap);
}

void rs_trace(struct rsim *s, const char *fmt, ...)
{
    if (!s->o.trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->o.trace, "  t=%" PRIu64 " ", s->now);
    vfprintf(s->o.trace, fmt, ap);
    fputc('\n', s->o.trace);
    va_end(ap);
}

uint64_t rs_rnd(struct rsim *s, uint64_t n)
{
    return n ? rng_next(&s->rng) % n : 0;
}

void *rs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

static void *xcalloc(size_t n, size_t m)
{
    void *q = calloc(n ? n : 1, m ? m : 1);
    if (!q)
        abort();
    return q;
}

/* ---------------------------------------------------------- event heap -- */

static int ev_less(const struct rs_event *a, const struct rs_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void rs_push(struct rsim *s, struct rs_event *e)
{
    e->seq = s->ev_seq++;
    if (s->heap_len == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 256;
        s->heap = rs_xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
    }
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (ev_less(&s->heap[par], e))
            break;
        s->heap[i] = s->heap[par];
        i = par;
    }
    s->heap[i] = *e;
}

static void heap_pop(struct rsim *s, struct rs_event *out)
{
    *out = s->heap[0];
    struct rs_event last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct rs_event *best = &last;
        if (l < s->heap_len && ev_less(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < s->heap_len && ev_less(&s->heap[r], best))
            m = r;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->heap_len)
        s->heap[i] = last;
}

static void event_free(struct rs_event *e)
{
    if (e->msg) {
        for (uint32_t i = 0; i < e->msg->m.n_entries; i++)
            free((void *)e->msg->ents[i].data);
        free(e->msg->ents);
        free(e->msg);
    }
    free(e->buf);
}

/* ------------------------------------------------------------- network -- */

uint64_t rs_net_delay(struct rsim *s)
{
    uint64_t d = 1 + rs_rnd(s, s->max_delay);
    if (rs_rnd(s, 1000) < s->p_slow)
        d += rs_rnd(s, 150);                 /* a slow one: reordering */
    return s->now < s->attack_until ? 1 : d; /* a lease attack: as fast as it goes */
}

int rs_net_drop(struct rsim *s)
{
    return s->now >= s->attack_until && rs_rnd(s, 1000) < s->p_drop;
}

/* A replica's clock: simulated time at its own rate (within the seed's drift
 * bound) plus a step of 0..jump ms that may change at any time, so over any
 * interval it advances by (1 +- drift) times the real time, +- jump: the bound
 * paxos_lease_max assumes. A step back reaches the core as a pause. */
uint64_t rs_node_now(const struct rsim *s, const struct rs_node *nd)
{
    return nd->clk_base + (s->now - nd->clk_t0) * nd->clock_pm / 1000 + nd->clk_off;
}

/* Changes a replica's clock rate from now on (no step). */
static void clock_set_rate(struct rsim *s, struct rs_node *nd, uint32_t pm)
{
    nd->clk_base += (s->now - nd->clk_t0) * nd->clock_pm / 1000;
    nd->clk_t0 = s->now;
    nd->clock_pm = pm;
}

static struct rs_msg *msg_clone(const struct paxos_msg *m)
{
    struct rs_msg *c = xcalloc(1, sizeof(*c));
    c->m = *m;
    if (m->n_entries) {
        c->ents = xcalloc(m->n_entries, sizeof(*c->ents));
        for (uint32_t i = 0; i < m->n_entries; i++) {
            c->ents[i] = m->entries[i];
            uint8_t *d = xcalloc(1, m->entries[i].len);
            memcpy(d, m->entries[i].data, m->entries[i].len);
            c->ents[i].data = d;
        }
    }
    c->m.entries = c->ents;
    return c;
}

/* ---------------------------------------------------------- the oracle -- */

/* The state hash after slot `slot` must be the same wherever and whenever
 * it is seen (a replica, a restart from its store, a snapshot). */
static void oracle_state(struct rsim *s, struct rs_node *nd, uint64_t slot, const char *when)
{
    uint8_t h[32];
    int rc = md_sm_state_hash(nd->store, h);
    if (rc != 0) {
        rs_fail(s, "replica %u: state hash: %s", nd->id, cairn_strerror(rc));
        return;
    }
    size_t lo = 0, hi = s->n_hashes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->hashes[mid].slot < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_hashes && s->hashes[lo].slot == slot) {
        if (memcmp(s->hashes[lo].h, h, 32) != 0)
            rs_fail(s, "replica %u %s: state after slot %" PRIu64 " differs from another's", nd->id,
                    when, slot);
        return;
    }
    if (s->n_hashes == s->cap_hashes) {
        s->cap_hashes = s->cap_hashes ? s->cap_hashes * 2 : 256;
        s->hashes = rs_xrealloc(s->hashes, s->cap_hashes * sizeof(*s->hashes));
    }
    memmove(s->hashes + lo + 1, s->hashes + lo, (s->n_hashes - lo) * sizeof(*s->hashes));
    s->hashes[lo].slot = slot;
    memcpy(s->hashes[lo].h, h, 32);
    s->n_hashes++;
}

static void check_leader(struct rsim *s, struct rs_node *nd)
{
    const struct paxos_status *st = &nd->st;
    if (st->role != PAXOS_LEADER)
        return;
    if (PAXOS_BALLOT_ID(st->ballot) != nd->id)
        rs_fail(s, "replica %u leads a ballot that is not its own", nd->id);
    for (size_t i = 0; i < s->n_leaders; i++) {
        if (s->leaders[i].ballot != st->ballot)
            continue;
        if (s->leaders[i].node != nd->id || s->leaders[i].inc != nd->inc)
            rs_fail(s, "two leaderships for ballot %" PRIu64, st->ballot);
        return;
    }
    if (s->n_leaders == s->cap_leaders) {
        s->cap_leaders = s->cap_leaders ? s->cap_leaders * 2 : 16;
        s->leaders = rs_xrealloc(s->leaders, s->cap_leaders * sizeof(*s->leaders));
    }
    s->leaders[s->n_leaders++] =
        (struct rs_leader){.ballot = st->ballot, .node = nd->id, .inc = nd->inc};
    s->r->elections++;
}

/* The state machine's own invariants (md_check.h) on a replica's store. */
static void check_store(struct rsim *s, struct rs_node *nd, const char *when)
{
    char why[256] = "";
    int rc = md_sm_check(nd->store, why, sizeof(why));
    if (rc != 0)
        rs_fail(s, "replica %u %s: md_sm_check: %s (%s)", nd->id, when, why, cairn_strerror(rc));
}

/* ------------------------------------------------------ replica io ----- */

static void rio_send(void *ctx, uint32_t to, const struct paxos_msg *m)
{
    struct rs_node *nd = ctx;
    struct rsim *s = nd->sim;
    if (nd->dead || to == 0 || to > RS_MAXN || to == nd->id)
        return;
    if (s->cut[nd->id][to] || rs_net_drop(s))
        return;
    int copies = rs_rnd(s, 1000) < s->p_dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        struct rs_event e = {
            .time = s->now + rs_net_delay(s), .type = EV_MSG, .node = to, .from = nd->id};
        e.msg = msg_clone(m);
        rs_push(s, &e);
    }
}

/* The daemon flags the peer and wakes its snapshot thread, which sends one
 * stream at a time. */
static void rio_send_snapshot(void *ctx, uint32_t to)
{
    struct rs_node *nd = ctx;
    struct rsim *s = nd->sim;
    if (nd->dead || to == 0 || to > RS_MAXN || nd->snap_to[to])
        return;
    nd->snap_to[to] = 1;
    struct rs_event e = {.time = s->now + 1 + rs_rnd(s, 20),
                         .type = EV_SNAP_SEND,
                         .node = nd->id,
                         .inc = nd->inc,
                         .x = to};
    rs_push(s, &e);
}

static void rio_fatal(void *ctx, int err, const char *what)
{
    struct rs_node *nd = ctx;
    rs_trace(nd->sim, "replica %u: store %s failed (%s): the process exits", nd->id, what,
             cairn_strerror(err));
    nd->dead = 1;
}

static uint64_t rio_random(void *ctx)
{
    struct rs_node *nd = ctx;
    if (nd->sim->now < nd->rand_low_until)
        return 0; /* the adversary's draw: safety must not rest on the jitter */
    return rng_next(&nd->sim->rng);
}

static int is_member(const struct paxos_membership *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->n_voters; i++)
        if (m->voters[i] == id)
            return 1;
    for (uint32_t i = 0; i < m->n_learners; i++)
        if (m->learners[i] == id)
            return 1;
    return 0;
}

/* As the daemon: out of the membership after being in it is removed. */
/* The core gives up its lease: lease reads stop first (md_server.c). */
static void rio_lease_lost(void *ctx)
{
    struct rs_node *nd = ctx;
    md_readgate_revoke(&nd->gate);
}

static void rio_membership_changed(void *ctx, const struct paxos_membership *m)
{
    struct rs_node *nd = ctx;
    if (is_member(m, nd->id))
        nd->was_member = 1;
    else if (nd->was_member)
        nd->removed = 1;
}

/* ----------------------------------------------------- replica process -- */

static void schedule_tick(struct rsim *s, struct rs_node *nd, uint64_t after)
{
    struct rs_event e = {.time = s->now + after, .type = EV_TICK, .node = nd->id, .inc = nd->inc};
    rs_push(s, &e);
}

/* Opens the replica over its store, as the daemon's open_store does: the
 * identity a joined replica keeps, else the bootstrap membership. */
static void node_open(struct rsim *s, struct rs_node *nd)
{
    struct md_replica_config cfg = s->base_cfg;
    cfg.id = nd->id;
    uint32_t id = 0;
    struct paxos_membership m;
    int rc = md_plog_identity_get(nd->store, &id, &m);
    if (rc == 0) {
        if (id != nd->id) {
            rs_fail(s, "replica %u's store says it is replica %u", nd->id, id);
            return;
        }
        cfg.n_peers = m.n_voters;
        memcpy(cfg.peer_ids, m.voters, m.n_voters * sizeof(uint32_t));
        cfg.n_learners = m.n_learners;
        memcpy(cfg.learner_ids, m.learners, m.n_learners * sizeof(uint32_t));
    } else if (rc != CAIRN_E_NOTFOUND || nd->id > s->n_init) {
        rs_fail(s, "replica %u: identity: %s", nd->id, cairn_strerror(rc));
        return;
    }
    struct md_replica_io io = {.ctx = nd,
                               .send = rio_send,
                               .cmd_done = rs_cmd_done,
                               .read_done = rs_read_done,
                               .send_snapshot = rio_send_snapshot,
                               .fatal = rio_fatal,
                               .random = rio_random,
                               .membership_changed = rio_membership_changed,
                               .lease_lost = rio_lease_lost};
    const char *what = "";
    nd->dead = 0;
    md_readgate_init(&nd->gate); /* a new process */
    rc = md_replica_open(&cfg, nd->store, &io, rs_node_now(s, nd), &nd->rep, &what);
    if (rc != 0) {
        rs_fail(s, "replica %u cannot start from its store: %s (%s)", nd->id, what,
                cairn_strerror(rc));
        return;
    }
    nd->removed = md_sm_removed(nd->store, nd->id) == 1;
    nd->was_member = 0;
    nd->up = 1;
    nd->exists = 1;
    nd->inc++;
    nd->persist_busy = 0;
    memset(nd->snap_to, 0, sizeof(nd->snap_to));
    md_replica_end_round(nd->rep, &nd->st);
    nd->applied_seen = nd->st.applied;
    if (nd->st.applied != md_sm_applied_index(md_replica_sm(nd->rep)))
        rs_fail(s, "replica %u restarted with core and state machine at different slots", nd->id);
    oracle_state(s, nd, nd->st.applied, "after a restart");
    check_store(s, nd, "after a restart");
    if (nd->id > s->max_id)
        s->max_id = nd->id;
    schedule_tick(s, nd, 1 + rs_rnd(s, RS_TICK_MS));
    rs_trace(s, "replica %u up (incarnation %u) at slot %" PRIu64, nd->id, nd->inc, nd->st.applied);
}

/* The process dies: the replica's memory is gone; of its store, what was
 * synced survives plus (a power loss) some prefix of the later writes or
 * (a process crash) all of them. */
static void node_crash(struct rsim *s, struct rs_node *nd, int restart)
{
    if (!nd->up)
        return;
    nd->dead = 1; /* what md_replica_free reports goes nowhere */
    md_replica_free(nd->rep);
    nd->rep = NULL;
    md_plog_batch_clear(&nd->persisting);
    nd->persist_busy = 0;
    size_t n = md_store_mem_unsynced(nd->store);
    size_t keep = rs_rnd(s, 2) ? n : rs_rnd(s, n + 1);
    struct md_store *after;
    if (md_store_mem_crash(nd->store, keep, &after) != 0)
        abort();
    md_store_free(nd->store);
    nd->store = after;
    nd->up = 0;
    nd->dead = 0;
    nd->paused_until = 0;
    s->r->crashes++;
    rs_trace(s, "replica %u crashed (kept %zu of %zu unsynced writes)", nd->id, keep, n);
    if (restart) {
        struct rs_event e = {
            .time = s->now + 20 + rs_rnd(s, 1500), .type = EV_RESTART, .node = nd->id};
        rs_push(s, &e);
    }
}

void rs_node_join(struct rsim *s, uint32_t id, const struct paxos_membership *m)
{
    struct rs_node *nd = &s->nodes[id];
    if (md_store_open_mem(&nd->store) != 0 || md_store_mem_track_durability(nd->store) != 0)
        abort();
    /* as join_group + identity(): who it is and the membership it was given */
    int rc = md_plog_identity_put(nd->store, id, m);
    if (rc != 0) {
        rs_fail(s, "replica %u: identity: %s", id, cairn_strerror(rc));
        return;
    }
    node_open(s, nd);
}

void rs_node_retire(struct rsim *s, struct rs_node *nd)
{
    node_crash(s, nd, 0);
    nd->retired = 1;
    rs_trace(s, "replica %u stopped for good", nd->id);
}

struct rs_node *rs_leader(struct rsim *s)
{
    struct rs_node *best = NULL;
    for (uint32_t id = 1; id <= s->max_id; id++) {
        struct rs_node *nd = &s->nodes[id];
        if (nd->up && nd->st.role == PAXOS_LEADER && (!best || nd->st.ballot > best->st.ballot))
            best = nd;
    }
    return best;
}

/* The persist thread takes the round's records when it is idle. */
static void hand_off_persist(struct rsim *s, struct rs_node *nd)
{
    if (nd->persist_busy || md_replica_take_persist(nd->rep, &nd->persisting) == 0)
        return;
    nd->persist_busy = 1;
    uint64_t t = s->now + 1 + rs_rnd(s, s->disk_delay);
    if (rs_rnd(s, 1000) < s->p_slow)
        t += rs_rnd(s, 100); /* an fsync stall */
    if (s->now < s->attack_until)
        t = s->now + 1; /* a lease attack: the disks as fast as they go */
    struct rs_event e = {.time = t, .type = EV_PERSIST, .node = nd->id, .inc = nd->inc};
    rs_push(s, &e);
}

void rs_after(struct rsim *s, struct rs_node *nd)
{
    if (!nd->up)
        return;
    if (nd->dead) {
        s->r->disk_failures++;
        node_crash(s, nd, 1);
        return;
    }
    md_replica_end_round(nd->rep, &nd->st);
    if (nd->dead) { /* a sync before a trim failed */
        s->r->disk_failures++;
        node_crash(s, nd, 1);
        return;
    }
    /* as cairn-meta's core thread after each round (md_server.c) */
    md_readgate_publish(&nd->gate, md_replica_lease_read_until(nd->rep));
    hand_off_persist(s, nd);
    const struct paxos_status *st = &nd->st;
    uint64_t sm_applied = md_sm_applied_index(md_replica_sm(nd->rep));
    if (st->applied != sm_applied)
        rs_fail(s, "replica %u: core applied %" PRIu64 ", state machine %" PRIu64, nd->id,
                st->applied, sm_applied);
    if (st->applied < nd->applied_seen)
        rs_fail(s, "replica %u: applied slot went back from %" PRIu64 " to %" PRIu64, nd->id,
                nd->applied_seen, st->applied);
    if (st->commit < st->applied || st->base > st->applied)
        rs_fail(s, "replica %u: inconsistent indexes", nd->id);
    if (st->applied != nd->applied_seen) {
        nd->applied_seen = st->applied;
        oracle_state(s, nd, st->applied, "applying");
        if (st->applied > s->r->commits)
            s->r->commits = st->applied;
    }
    check_leader(s, nd);
}

/* --------------------------------------------------------- persistence -- */

static void node_persist(struct rsim *s, struct rs_node *nd)
{
    uint64_t seq = 0;
    int64_t us = 0;
    nd->persist_busy = 0;
    int rc = md_plog_write(md_replica_plog(nd->rep), &nd->persisting, &seq, &us);
    if (rc != 0) { /* the daemon exits */
        rs_trace(s, "replica %u: Paxos log write failed (%s)", nd->id, cairn_strerror(rc));
        s->r->disk_failures++;
        node_crash(s, nd, 1);
        return;
    }
    struct rs_event e = {.time = s->now + rs_rnd(s, 3),
                         .type = EV_PERSISTED,
                         .node = nd->id,
                         .inc = nd->inc,
                         .x = seq};
    rs_push(s, &e);
}

/* ----------------------------------------------------------- snapshots -- */

struct sbuf {
    uint8_t *p;
    size_t n, cap;
};

static int sbuf_write(void *ctx, const void *p, size_t len)
{
    struct sbuf *b = ctx;
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2;
        b->p = rs_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, len);
    b->n += len;
    return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Flips a byte inside one frame's payload and fixes that frame's CRC, as a
 * sender that corrupted its state before checksumming would: only the
 * stream's own checks (key order, record count, state hash, header, store
 * info) can catch it. */
static void damage_behind_crc(struct rsim *s, struct sbuf *b)
{
    size_t frames[64], n = 0;
    for (size_t off = 0; off + 9 <= b->n && n < 64;) {
        size_t len = get_be32(b->p + off + 1);
        if (len && off + 9 + len <= b->n)
            frames[n++] = off;
        off += 9 + len;
    }
    if (!n)
        return;
    size_t off = frames[rs_rnd(s, n)], len = get_be32(b->p + off + 1);
    b->p[off + 9 + rs_rnd(s, len)] ^= (uint8_t)(1u << rs_rnd(s, 8));
    uint32_t crc = ec_crc32c(b->p + off + 9, len);
    for (int i = 0; i < 4; i++)
        b->p[off + 5 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

/* The snapshot thread streams the live store (a consistent view) to `to`;
 * some streams are damaged on the way (a flipped byte, a cut) or before
 * (a byte flipped under a valid frame CRC). */
static void node_snap_send(struct rsim *s, struct rs_node *nd, uint32_t to)
{
    nd->snap_to[to] = 0;
    struct sbuf b = {0};
    uint64_t slot = 0;
    int rc = md_snap_write(nd->store, sbuf_write, &b, &slot);
    if (rc != 0) {
        rs_fail(s, "replica %u: snapshot write: %s", nd->id, cairn_strerror(rc));
        free(b.p);
        return;
    }
    if (s->cut[nd->id][to] || rs_net_drop(s)) {
        free(b.p);
        return;
    }
    int damaged = 0;
    if (rs_rnd(s, 1000) < s->p_snap_bad) {
        damaged = 1;
        uint32_t how = (uint32_t)rs_rnd(s, 3);
        if (how == 0)
            b.p[rs_rnd(s, b.n)] ^= (uint8_t)(1u << rs_rnd(s, 8));
        else if (how == 1)
            b.n = rs_rnd(s, b.n);
        else
            damage_behind_crc(s, &b);
    }
    struct rs_event e = {.time = s->now + rs_net_delay(s) + b.n / 65536,
                         .type = EV_SNAP_RECV,
                         .node = to,
                         .from = nd->id,
                         .x = slot,
                         .buf = b.p,
                         .len = b.n,
                         .damaged = damaged};
    rs_push(s, &e);
}

struct reader {
    const uint8_t *p;
    size_t n, off, piece;
};

static long read_piece(void *ctx, void *buf, size_t max)
{
    struct reader *rd = ctx;
    size_t k = rd->n - rd->off;
    if (k > max)
        k = max;
    if (k > rd->piece)
        k = rd->piece;
    memcpy(buf, rd->p + rd->off, k);
    rd->off += k;
    return (long)k;
}

/* The daemon's install_snapshot: only a wanted one; all or nothing. */
static void node_snap_recv(struct rsim *s, struct rs_node *nd, const struct rs_event *e)
{
    if (!md_replica_snapshot_wanted(nd->rep, e->x))
        return;
    uint8_t before[32], after[32];
    uint64_t applied = nd->st.applied;
    if (md_sm_state_hash(nd->store, before) != 0)
        abort();
    if (!s->healing && rs_rnd(s, 12) == 0) /* the disk dies during the install */
        md_store_mem_fail_after(nd->store, (long)rs_rnd(s, 12));
    struct reader rd = {.p = e->buf, .n = e->len, .piece = 1 + rs_rnd(s, 300000)};
    int rc =
        md_replica_install_snapshot(nd->rep, e->from, read_piece, &rd, e->x, rs_node_now(s, nd));
    if (nd->dead) { /* the disk died during the install */
        rs_after(s, nd);
        return;
    }
    rs_trace(s, "replica %u: snapshot from %u through slot %" PRIu64 "%s: %s", nd->id, e->from,
             e->x, e->damaged ? " (damaged)" : "", rc ? cairn_strerror(rc) : "installed");
    if (rc == 0) {
        if (e->damaged)
            rs_fail(s, "replica %u installed a damaged snapshot", nd->id);
        check_store(s, nd, "after a snapshot install");
        s->r->snapshots++;
    } else {
        if (!e->damaged)
            rs_fail(s, "replica %u refused a good snapshot through slot %" PRIu64 ": %s", nd->id,
                    e->x, cairn_strerror(rc));
        if (md_sm_state_hash(nd->store, after) != 0)
            abort();
        md_replica_end_round(nd->rep, &nd->st);
        if (memcmp(before, after, 32) != 0 || nd->st.applied != applied)
            rs_fail(s, "replica %u: a refused snapshot changed its state", nd->id);
        s->r->snapshots_refused++;
    }
    rs_after(s, nd);
}

/* ---------------------------------------------------------------- faults -- */

static void heal_partitions(struct rsim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
}

/* A random replica that exists and is not retired (the leader half the time). */
static struct rs_node *pick_node(struct rsim *s)
{
    struct rs_node *ld = rs_leader(s);
    if (ld && rs_rnd(s, 2))
        return ld;
    for (int tries = 0; tries < 32; tries++) {
        struct rs_node *nd = &s->nodes[1 + rs_rnd(s, s->max_id)];
        if (nd->exists && !nd->retired)
            return nd;
    }
    return NULL;
}

/* A running replica other than id (none: NULL). */
static struct rs_node *pick_other(struct rsim *s, uint32_t id)
{
    for (int tries = 0; tries < 32; tries++) {
        struct rs_node *nd = &s->nodes[1 + rs_rnd(s, s->max_id)];
        if (nd->id != id && nd->exists && !nd->retired && nd->up)
            return nd;
    }
    return NULL;
}

/* The worst case the drift bound allows, aimed at the lease, as in cairn-sim
 * (tests/sim/sim.c lease_attack has the whole story): election timeouts drawn
 * at their shortest, clients split (even ones read from the leader, odd ones
 * write through the others: rsim_client.c), fast network and disks, half the
 * time one follower that stops hearing the leader early; then
 * (lease_attack_cut) the leader's clock slow and stepped back, the others'
 * fast and stepped forward, the leader cut off (or handing over first, one
 * time in three), and half the time one follower crashing and restarting at
 * once. A lease longer than paxos_lease_max allows, or a replica that votes
 * within the window, shows up as a stale read. */
static void lease_attack(struct rsim *s)
{
    struct rs_node *ld = rs_leader(s);
    if (!ld)
        return;
    s->r->lease_attacks++;
    rs_trace(s, "lease attack on leader %u", ld->id);
    s->attack_ld = ld->id;
    s->attack_until = s->now + 5 * RS_ELECT_MS;
    heal_partitions(s);
    for (uint32_t id = 1; id <= RS_MAXN; id++)
        if (id != ld->id)
            s->nodes[id].rand_low_until = s->now + 4 * RS_ELECT_MS;
    rs_clients_attack(s);
    uint64_t cut = s->now + 2 * RS_HEART_MS;
    struct rs_node *f = pick_other(s, ld->id);
    if (f && rs_rnd(s, 2)) {
        struct rs_event e = {.time = s->now + RS_HEART_MS + 1,
                             .type = EV_ATTACK,
                             .node = ld->id,
                             .from = f->id,
                             .x = 1};
        rs_push(s, &e);
        cut = e.time + 1 + rs_rnd(s, RS_ELECT_MS / 2);
    }
    struct rs_event e = {.time = cut, .type = EV_ATTACK, .node = ld->id};
    rs_push(s, &e);
}

static void lease_attack_cut(struct rsim *s, uint32_t ld)
{
    struct rs_node *l = &s->nodes[ld];
    int transfer = 0;
    uint32_t chosen = 0;
    if (l->up && rs_rnd(s, 3) == 0 &&
        md_replica_transfer(l->rep, 0, rs_node_now(s, l), &chosen) == 0) {
        s->r->transfers++;
        transfer = 1;
        rs_trace(s, "replica %u hands leadership to %u", ld, chosen);
    }
    if (l->up)
        rs_after(s, l);
    for (uint32_t id = 1; id <= RS_MAXN; id++) {
        struct rs_node *nd = &s->nodes[id];
        clock_set_rate(s, nd, id == ld ? 1000 - s->drift : 1000 + s->drift);
        nd->clk_off = id == ld ? 0 : s->jump;
        if (id != ld) {
            s->cut[id][ld] = 1;
            s->cut[ld][id] = !transfer; /* its TIMEOUT_NOW gets through */
        }
    }
    struct rs_node *g = pick_other(s, ld);
    if (g && g->up && rs_rnd(s, 2)) {
        node_crash(s, g, 0);
        struct rs_event e = {.time = s->now + 1 + rs_rnd(s, 5), .type = EV_RESTART, .node = g->id};
        rs_push(s, &e);
    }
}

static void fault(struct rsim *s)
{
    if (s->now < s->attack_until)
        return;
    rs_admin_maybe_start(s);
    if (s->base_cfg.lease_ms && rs_rnd(s, 100) < 4) {
        lease_attack(s);
        return;
    }
    if ((s->drift || s->jump) && rs_rnd(s, 100) < 10) {
        /* a clock changes its rate or steps, within the bound */
        struct rs_node *nd = &s->nodes[1 + rs_rnd(s, RS_MAXN)];
        if (rs_rnd(s, 2))
            clock_set_rate(s, nd, 1000 - s->drift + (uint32_t)rs_rnd(s, 2 * s->drift + 1));
        else
            nd->clk_off = rs_rnd(s, s->jump + 1);
        return;
    }
    struct rs_node *nd = pick_node(s);
    if (!nd)
        return;
    uint32_t a = nd->id, r = (uint32_t)rs_rnd(s, 100);
    if (r < 16) {
        node_crash(s, nd, 1);
    } else if (r < 20) {
        /* the disk dies a few writes from now: the replica exits then */
        if (nd->up)
            md_store_mem_fail_after(nd->store, (long)rs_rnd(s, 40));
    } else if (r < 33) {
        for (uint32_t i = 1; i <= RS_MAXN; i++)
            s->cut[a][i] = s->cut[i][a] = i != a;
    } else if (r < 43) {
        uint32_t mask = (uint32_t)rs_rnd(s, 1u << RS_MAXN);
        for (uint32_t i = 1; i <= RS_MAXN; i++)
            for (uint32_t j = 1; j <= RS_MAXN; j++)
                s->cut[i][j] = ((mask >> (i - 1)) & 1) != ((mask >> (j - 1)) & 1);
    } else if (r < 52) {
        uint32_t b = 1 + (uint32_t)rs_rnd(s, s->max_id);
        if (a != b)
            s->cut[a][b] = 1; /* one direction only */
    } else if (r < 58) {
        for (uint32_t i = 1; i <= RS_MAXN; i++)
            s->cut[a][i] = i != a; /* a can receive but not send */
    } else if (r < 78) {
        heal_partitions(s);
    } else if (r < 90) {
        /* a stalled process: it handles nothing until it resumes */
        nd->paused_until = s->now + 50 + rs_rnd(s, 1000);
        if (rs_rnd(s, 2))
            for (uint32_t i = 1; i <= RS_MAXN; i++)
                s->cut[a][i] = s->cut[i][a] = i != a;
    } else if (r < 95) {
        /* the leader hands over (to any caught-up voter, or to a) */
        struct rs_node *ld = rs_leader(s);
        uint32_t chosen = 0, to = rs_rnd(s, 2) ? 0 : a;
        if (ld && md_replica_transfer(ld->rep, to, rs_node_now(s, ld), &chosen) == 0) {
            s->r->transfers++;
            rs_trace(s, "replica %u hands leadership to %u", ld->id, chosen);
        }
        if (ld)
            rs_after(s, ld);
    }
}

/* ------------------------------------------------------------ main loop -- */

static const char *const ev_names[EV__COUNT] = {
    "?",     "msg",  "tick",   "persist", "persisted", "snap-send", "snap-recv", "creq",
    "query", "crep", "ctimer", "cstart",  "fault",     "restart",   "admin",     "attack"};

static void trace_event(struct rsim *s, const struct rs_event *e)
{
    uint64_t h = s->r->trace_hash;
    h = fnv_mix(h, e->time);
    h = fnv_mix(h, (uint64_t)e->type);
    h = fnv_mix(h, e->node);
    h = fnv_mix(h, e->from);
    h = fnv_mix(h, e->x);
    h = fnv_mix(h, e->len);
    if (e->msg) {
        h = fnv_mix(h, e->msg->m.type);
        h = fnv_mix(h, e->msg->m.ballot);
        h = fnv_mix(h, e->msg->m.commit);
        h = fnv_mix(h, e->msg->m.match);
        h = fnv_mix(h, e->msg->m.n_entries);
    }
    if (e->type == EV_CREP) {
        h = fnv_mix(h, e->rep.client);
        h = fnv_mix(h, e->rep.op);
        h = fnv_mix(h, (uint64_t)(int64_t)e->rep.status);
        h = fnv_mix(h, (uint64_t)(int64_t)e->rep.result);
        h = fnv_mix(h, e->rep.got);
    }
    s->r->trace_hash = h;
    if (!s->o.trace)
        return;
    fprintf(s->o.trace, "%" PRIu64 " t=%" PRIu64 " %s node=%u from=%u x=%" PRIu64, s->step, e->time,
            ev_names[e->type], e->node, e->from, e->x);
    if (e->msg)
        fprintf(s->o.trace, " %s b=%" PRIu64 ".%u c=%" PRIu64 " m=%" PRIu64 " ok=%u n=%u",
                paxos_msg_type_name(e->msg->m.type), PAXOS_BALLOT_ROUND(e->msg->m.ballot),
                PAXOS_BALLOT_ID(e->msg->m.ballot), e->msg->m.commit, e->msg->m.match, e->msg->m.ok,
                e->msg->m.n_entries);
    if (e->type == EV_CREP)
        fprintf(s->o.trace, " client=%u op=%" PRIu64 " st=%d res=%d got=%u", e->rep.client,
                e->rep.op, e->rep.status, e->rep.result, e->rep.got);
    if (e->type == EV_SNAP_RECV)
        fprintf(s->o.trace, " bytes=%zu%s", e->len, e->damaged ? " damaged" : "");
    fputc('\n', s->o.trace);
}

/* Whether e belongs to node's process (stalled with it). */
static int node_event(int type)
{
    return type == EV_MSG || type == EV_TICK || type == EV_PERSIST || type == EV_PERSISTED ||
           type == EV_SNAP_SEND || type == EV_SNAP_RECV || type == EV_CREQ || type == EV_QUERY;
}

static void do_event(struct rsim *s, struct rs_event *e)
{
    struct rs_node *nd = node_event(e->type) || e->type == EV_RESTART ? &s->nodes[e->node] : NULL;
    int same = nd && nd->up && nd->inc == e->inc;
    switch (e->type) {
    case EV_MSG:
        if (!nd->up || s->cut[e->from][e->node])
            break;
        /* the daemon refuses (403) a replica the group removed, which then
         * knows it is out */
        if (md_sm_removed(nd->store, e->from) == 1) {
            s->nodes[e->from].removed = 1;
            break;
        }
        md_replica_recv(nd->rep, &e->msg->m, rs_node_now(s, nd));
        rs_after(s, nd);
        break;
    case EV_TICK:
        if (!same)
            break;
        if (!nd->removed) /* a removed replica does not stand */
            md_replica_tick(nd->rep, rs_node_now(s, nd));
        rs_after(s, nd);
        schedule_tick(s, nd, RS_TICK_MS);
        break;
    case EV_PERSIST:
        if (same)
            node_persist(s, nd);
        break;
    case EV_PERSISTED:
        if (same) {
            md_replica_persisted(nd->rep, e->x, rs_node_now(s, nd));
            rs_after(s, nd);
        }
        break;
    case EV_SNAP_SEND:
        if (same)
            node_snap_send(s, nd, (uint32_t)e->x);
        break;
    case EV_SNAP_RECV:
        if (nd->up && !s->cut[e->from][e->node])
            node_snap_recv(s, nd, e);
        break;
    case EV_CREQ:
        if (nd->up)
            rs_node_request(s, nd, e);
        break;
    case EV_QUERY:
        if (same)
            rs_node_query(s, nd, e);
        break;
    case EV_CREP:
        rs_client_reply(s, &e->rep);
        break;
    case EV_CTIMER:
        rs_client_timer(s, &s->clients[e->from], e->x);
        break;
    case EV_CSTART:
        rs_client_start(s, &s->clients[e->from]);
        break;
    case EV_FAULT:
        if (!s->healing) {
            fault(s);
            struct rs_event f = {.time = s->now + 100 + rs_rnd(s, 500), .type = EV_FAULT};
            rs_push(s, &f);
        }
        break;
    case EV_RESTART:
        if (!nd->up && !nd->retired)
            node_open(s, nd);
        break;
    case EV_ADMIN:
        rs_admin_step(s);
        break;
    case EV_ATTACK:
        if (s->healing)
            break;
        if (e->x == 1)
            s->cut[e->node][e->from] = 1; /* f stops hearing the leader */
        else
            lease_attack_cut(s, e->node);
        break;
    }
}

/* Every member of the leader's membership is up and has applied all the
 * leader committed; clients and operator are done. */
static int converged(struct rsim *s)
{
    if (!rs_clients_idle(s) || !rs_admin_idle(s))
        return 0;
    struct rs_node *ld = rs_leader(s);
    if (!ld)
        return 0;
    const struct paxos_status *ls = &ld->st;
    if (ls->commit < ls->term_start || ls->last != ls->commit)
        return 0;
    struct paxos_membership m, latest;
    md_replica_membership(ld->rep, 0, &m);
    md_replica_membership(ld->rep, 1, &latest);
    if (latest.n_voters != m.n_voters || latest.n_learners != m.n_learners)
        return 0;
    for (uint32_t id = 1; id <= s->max_id; id++) {
        struct rs_node *nd = &s->nodes[id];
        if (!is_member(&m, id))
            continue;
        if (!nd->up || nd->st.applied != ls->applied)
            return 0;
    }
    return 1;
}

static void final_checks(struct rsim *s)
{
    struct rs_node *ld = rs_leader(s);
    if (!ld) {
        rs_fail(s, "no leader at the end");
        return;
    }
    struct paxos_membership m;
    md_replica_membership(ld->rep, 0, &m);
    uint8_t h0[32], h[32];
    if (md_sm_state_hash(ld->store, h0) != 0)
        abort();
    for (uint32_t id = 1; id <= s->max_id && !s->failed; id++) {
        struct rs_node *nd = &s->nodes[id];
        if (!is_member(&m, id))
            continue;
        if (md_sm_state_hash(nd->store, h) != 0)
            abort();
        if (memcmp(h, h0, 32) != 0)
            rs_fail(s, "replicas %u and %u hold different final states", ld->id, id);
        check_store(s, nd, "at the end");
    }
    if (!s->failed)
        rs_clients_final(s, ld);
}

void rsim_opts_default(struct rsim_opts *o, uint64_t seed, uint32_t replicas, uint64_t steps)
{
    memset(o, 0, sizeof(*o));
    o->seed = seed;
    o->replicas = replicas;
    o->steps = steps;
}

static void heal(struct rsim *s)
{
    s->healing = 1;
    heal_partitions(s);
    s->p_drop = s->p_dup = s->p_slow = s->p_snap_bad = 0;
    for (uint32_t id = 1; id <= s->max_id; id++) {
        struct rs_node *nd = &s->nodes[id];
        nd->paused_until = 0;
        if (nd->store)
            md_store_mem_fail_after(nd->store, -1);
        if (nd->exists && !nd->up && !nd->retired)
            node_open(s, nd);
    }
}

static void liveness_failure(struct rsim *s)
{
    char st[400];
    size_t off = 0;
    for (uint32_t id = 1; id <= s->max_id && off < sizeof(st) - 80; id++) {
        struct rs_node *nd = &s->nodes[id];
        if (!nd->exists || nd->retired)
            continue;
        struct paxos_membership m;
        if (nd->up)
            md_replica_membership(nd->rep, 0, &m);
        off += (size_t)snprintf(st + off, sizeof(st) - off,
                                " [%u:%s role %u commit %" PRIu64 " voters %u learners %u]", id,
                                nd->up ? "" : " down", nd->st.role, nd->st.commit,
                                nd->up ? m.n_voters : 0, nd->up ? m.n_learners : 0);
    }
    rs_fail(s, "no progress %d ms after healing (liveness; clients %s, operator %s):%s",
            HEAL_MAX_MS, rs_clients_idle(s) ? "idle" : "busy", rs_admin_idle(s) ? "idle" : "busy",
            st);
}

bool rsim_run(const struct rsim_opts *o, struct rsim_result *r)
{
    memset(r, 0, sizeof(*r));
    r->ok = true;
    r->trace_hash = FNV_INIT;
    struct rsim *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->r = r;
    s->rng = o->seed * 0x2545F4914F6CDD1Dull + 0x7654321;
    s->n_init = o->replicas < 1 ? 1 : (o->replicas > 7 ? 7 : o->replicas);
    /* the fault intensities of this seed */
    s->p_drop = (uint32_t)rs_rnd(s, 80);
    s->p_dup = (uint32_t)rs_rnd(s, 40);
    s->p_slow = (uint32_t)rs_rnd(s, 100);
    s->p_snap_bad = (uint32_t)rs_rnd(s, 300);
    s->max_delay = 2 + (uint32_t)rs_rnd(s, 15);
    s->disk_delay = 1 + (uint32_t)rs_rnd(s, 20);
    s->drift = rs_rnd(s, 2) ? (uint32_t)rs_rnd(s, 200) : 0;
    s->membership_ops = rs_rnd(s, 4) != 0;
    s->base_cfg = (struct md_replica_config){.n_peers = s->n_init,
                                             .heartbeat_ms = RS_HEART_MS,
                                             .election_ms = RS_ELECT_MS,
                                             .window = 1 + (uint32_t)rs_rnd(s, 6),
                                             .trim_every = 2 + rs_rnd(s, 12),
                                             .trim_keep = rs_rnd(s, 4)};
    /* a third of the seeds also trim by applied command bytes (the daemon's
     * --trim-bytes), so trims come between the slot-count ones */
    if (rs_rnd(s, 3) == 0)
        s->base_cfg.trim_bytes = 64 + rs_rnd(s, 4096);
    for (uint32_t i = 0; i < s->n_init; i++)
        s->base_cfg.peer_ids[i] = i + 1;
    /* clock steps of up to 15 ms in half the seeds; the daemon's leader lease
     * (as long as the drift bound allows) in three seeds out of four */
    s->jump = rs_rnd(s, 2) ? (uint32_t)rs_rnd(s, 16) : 0;
    if (rs_rnd(s, 4))
        s->base_cfg.lease_ms = paxos_lease_max(RS_ELECT_MS, s->drift * 1000, s->jump);
    for (uint32_t id = 1; id <= RS_MAXN; id++) {
        struct rs_node *nd = &s->nodes[id];
        nd->sim = s;
        nd->id = id;
        nd->clock_pm = s->drift ? 1000 - s->drift + (uint32_t)rs_rnd(s, 2 * s->drift + 1) : 1000;
        nd->clk_off = rs_rnd(s, s->jump + 1);
    }
    for (uint32_t id = 1; id <= s->n_init; id++) {
        struct rs_node *nd = &s->nodes[id];
        if (md_store_open_mem(&nd->store) != 0 || md_store_mem_track_durability(nd->store) != 0)
            abort();
        node_open(s, nd);
    }
    rs_clients_init(s);
    struct rs_event f = {.time = 300 + rs_rnd(s, 500), .type = EV_FAULT};
    rs_push(s, &f);

    uint64_t heal_deadline = 0;
    while (!s->failed && s->heap_len) {
        if (!s->healing && s->step >= o->steps) {
            heal(s);
            heal_deadline = s->now + HEAL_MAX_MS;
        }
        if (s->healing) {
            if (converged(s))
                break;
            if (s->now > heal_deadline) {
                liveness_failure(s);
                break;
            }
        }
        struct rs_event e;
        heap_pop(s, &e);
        s->now = e.time;
        if (node_event(e.type) && s->nodes[e.node].paused_until > s->now) {
            /* stalled: it works through what queued up once it resumes,
             * before its timer fires */
            e.time = s->nodes[e.node].paused_until;
            if (e.type == EV_TICK)
                e.time += rs_rnd(s, 3 * RS_TICK_MS);
            rs_push(s, &e);
            continue;
        }
        s->step++;
        trace_event(s, &e);
        do_event(s, &e);
        event_free(&e);
    }
    if (!s->failed)
        final_checks(s);
    struct rs_node *ld = rs_leader(s);
    uint8_t h[32] = {0};
    if (!s->failed && ld && md_sm_state_hash(ld->store, h) == 0) {
        uint64_t v;
        memcpy(&v, h, sizeof(v));
        r->trace_hash = fnv_mix(r->trace_hash, v); /* and the same final state */
    }
    r->steps = s->step;
    r->sim_ms = s->now;

    for (size_t i = 0; i < s->heap_len; i++)
        event_free(&s->heap[i]);
    free(s->heap);
    for (uint32_t id = 1; id <= RS_MAXN; id++) {
        struct rs_node *nd = &s->nodes[id];
        nd->dead = 1;
        md_replica_free(nd->rep);
        md_plog_batch_clear(&nd->persisting);
        free(nd->persisting.recs);
        md_store_free(nd->store);
    }
    for (uint32_t c = 0; c <= RS_CLIENTS; c++)
        free(s->clients[c].cmd);
    free(s->hashes);
    free(s->leaders);
    free(s->hist);
    free(s);
    return r->ok;
}
