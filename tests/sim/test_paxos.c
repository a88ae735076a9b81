/* Unit tests of the Multi-Paxos core (metadata/paxos.h), the linearizability
 * checker, and the simulator's determinism. The core is driven by hand here
 * (a tiny harness: explicit delivery, explicit disk syncs) so each test pins
 * one rule of the protocol. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "lincheck.h"
#include "paxos.h"
#include "sim.h"

/* ---------- harness ---------- */

#define HN 5
#define HQ 4096

struct hmsg {
    uint32_t from, to;
    struct paxos_msg m;
    struct paxos_entry *ents;
};

struct hnode {
    struct paxos *px;
    struct paxos_io io;
    uint32_t idx;
    uint64_t issued; /* highest persist seq requested */
    uint64_t synced;
    uint64_t applied_slots;
    uint32_t last_n;       /* commands in the last applied slot */
    uint32_t max_n;        /* most commands seen in one slot */
    uint32_t snap_req[HN]; /* send_snapshot calls per target */
    uint64_t reads_ok, reads_failed;
    uint32_t rejects;
    /* what a driver serving lease reads itself would hold: the core's
     * paxos_lease_read_until after each step, cleared by lease_lost */
    uint64_t published;
    uint32_t lease_lost;
    /* durable store (what a restart gets back) and what was applied per slot */
    uint64_t dpromised;
    struct {
        bool has;
        uint64_t ballot;
        uint32_t len;
        uint8_t data[256];
    } dlog[128];
    uint64_t ahash[128];
};

struct harness {
    uint32_t n;
    struct hnode nodes[HN];
    struct hmsg q[HQ];
    uint32_t qlen;
    bool cut[HN][HN];
    uint64_t now;
    uint64_t rng;
    uint32_t sent_by_type[16]; /* by enum paxos_msg_type */
    uint64_t lease_ms;         /* for h_init */
};

static struct harness H;

static void h_send(struct paxos_io *io, uint32_t to, const struct paxos_msg *m)
{
    struct hnode *nd = io->data;
    ck_assert_uint_lt(m->type, sizeof(H.sent_by_type) / sizeof(H.sent_by_type[0]));
    H.sent_by_type[m->type]++;
    /* Publish before act: nothing that lets another replica lead leaves a
     * replica whose driver may still serve reads on its lease. */
    if (m->type == PAXOS_MSG_TIMEOUT_NOW || (m->type == PAXOS_MSG_PROMISE && m->ok))
        ck_assert_msg(nd->published <= H.now, "replica %u sends %s with lease reads published",
                      nd->idx + 1, paxos_msg_type_name(m->type));
    if (H.qlen >= HQ)
        return;
    struct hmsg *q = &H.q[H.qlen++];
    q->from = nd->idx;
    q->to = to - 1;
    q->m = *m;
    q->ents = NULL;
    if (m->n_entries) {
        q->ents = calloc(m->n_entries, sizeof(*q->ents));
        for (uint32_t i = 0; i < m->n_entries; i++) {
            q->ents[i] = m->entries[i];
            uint8_t *d = malloc(m->entries[i].len);
            memcpy(d, m->entries[i].data, m->entries[i].len);
            q->ents[i].data = d;
        }
    }
    q->m.entries = q->ents;
}

static void h_persist(struct paxos_io *io, const struct paxos_persist *rec)
{
    struct hnode *nd = io->data;
    nd->issued = rec->seq;
    nd->dpromised = rec->promised;
    for (uint32_t i = 0; i < rec->n_entries; i++) {
        const struct paxos_entry *e = &rec->entries[i];
        if (e->slot >= 128 || e->len > 256)
            continue;
        nd->dlog[e->slot].has = true;
        nd->dlog[e->slot].ballot = e->ballot;
        nd->dlog[e->slot].len = e->len;
        memcpy(nd->dlog[e->slot].data, e->data, e->len);
    }
}

static void h_apply(struct paxos_io *io, uint64_t slot, const struct paxos_cmd *cmds, uint32_t n)
{
    struct hnode *nd = io->data;
    ck_assert_uint_eq(slot, nd->applied_slots + 1);
    nd->applied_slots = slot;
    nd->last_n = n;
    uint64_t h = 1469598103934665603ull ^ n;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (cmds[i].client_id * 31 + cmds[i].seq)) * 1099511628211ull;
    if (slot < 128)
        nd->ahash[slot] = h;
    if (n > nd->max_n)
        nd->max_n = n;
}

static void h_reject(struct paxos_io *io, uint64_t c, uint64_t s, int err, uint32_t l)
{
    struct hnode *nd = io->data;
    nd->rejects++;
}

static void h_read_done(struct paxos_io *io, uint64_t id, int status, uint32_t l)
{
    struct hnode *nd = io->data;
    if (status == 0)
        nd->reads_ok++;
    else
        nd->reads_failed++;
}

static void h_snap(struct paxos_io *io, uint32_t to)
{
    struct hnode *nd = io->data;
    nd->snap_req[to - 1]++;
}

static void h_lease_lost(struct paxos_io *io)
{
    struct hnode *nd = io->data;
    nd->published = 0;
    nd->lease_lost++;
}

static uint64_t h_random(struct paxos_io *io)
{
    H.rng = H.rng * 6364136223846793005ull + 1442695040888963407ull;
    return H.rng >> 11;
}

static void h_free_msg(struct hmsg *q)
{
    for (uint32_t i = 0; i < q->m.n_entries; i++)
        free((void *)q->ents[i].data);
    free(q->ents);
}

static void h_init_voters(uint32_t n, uint32_t voters, uint32_t window);

static void h_init(uint32_t n, uint32_t window)
{
    h_init_voters(n, n, window);
}

static void h_node_io(struct hnode *nd);

/* The first `voters` replicas form the initial membership; the rest run outside
 * it (ready to be added). */
static void h_init_voters(uint32_t n, uint32_t voters, uint32_t window)
{
    uint64_t lease = H.lease_ms;
    memset(&H, 0, sizeof(H));
    H.lease_ms = lease;
    H.n = n;
    H.rng = 42;
    uint32_t ids[HN];
    for (uint32_t i = 0; i < n; i++)
        ids[i] = i + 1;
    for (uint32_t i = 0; i < n; i++) {
        struct hnode *nd = &H.nodes[i];
        nd->idx = i;
        h_node_io(nd);
        struct paxos_config cfg;
        paxos_config_init(&cfg, i + 1, voters, ids);
        cfg.heartbeat_ms = 50;
        cfg.election_ms = 500;
        cfg.window = window;
        cfg.lease_ms = H.lease_ms;
        ck_assert_int_eq(paxos_new(&cfg, &nd->io, NULL, 0, &nd->px), 0);
    }
}

static void h_node_io(struct hnode *nd)
{
    nd->io = (struct paxos_io){.data = nd,
                               .send = h_send,
                               .persist = h_persist,
                               .apply = h_apply,
                               .reject = h_reject,
                               .read_done = h_read_done,
                               .send_snapshot = h_snap,
                               .random = h_random,
                               .lease_lost = h_lease_lost};
}

/* Crash and restart replica i from its durable store, with a state machine
 * that lost everything (checkpoint at slot 0, bootstrap membership). */
static void h_restart_blank(uint32_t i, uint32_t voters)
{
    struct hnode *nd = &H.nodes[i];
    paxos_free(nd->px);
    struct paxos_entry ents[128];
    uint32_t n = 0;
    for (uint32_t s = 1; s < 128; s++)
        if (nd->dlog[s].has)
            ents[n++] = (struct paxos_entry){.slot = s,
                                             .ballot = nd->dlog[s].ballot,
                                             .len = nd->dlog[s].len,
                                             .data = nd->dlog[s].data};
    struct paxos_restore rs = {
        .promised = nd->dpromised, .applied = 0, .n_entries = n, .entries = ents};
    uint32_t ids[HN];
    for (uint32_t k = 0; k < HN; k++)
        ids[k] = k + 1;
    struct paxos_config cfg;
    paxos_config_init(&cfg, i + 1, voters, ids);
    cfg.heartbeat_ms = 50;
    cfg.election_ms = 500;
    h_node_io(nd);
    ck_assert_int_eq(paxos_new(&cfg, &nd->io, &rs, H.now, &nd->px), 0);
    nd->issued = nd->synced = 0;
    nd->applied_slots = 0;
}

static void h_fini(void)
{
    for (uint32_t i = 0; i < H.qlen; i++)
        h_free_msg(&H.q[i]);
    for (uint32_t i = 0; i < H.n; i++)
        paxos_free(H.nodes[i].px);
}

/* Delivers every queued message (and what they trigger) except across cuts. */
static void h_deliver(void)
{
    for (int round = 0; round < 64 && H.qlen; round++) {
        uint32_t n = H.qlen;
        struct hmsg *batch = malloc(n * sizeof(*batch));
        memcpy(batch, H.q, n * sizeof(*batch));
        H.qlen = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct hmsg *q = &batch[i];
            if (!H.cut[q->from][q->to] && H.nodes[q->to].px)
                ck_assert_int_eq(paxos_recv(H.nodes[q->to].px, &q->m, H.now), 0);
            h_free_msg(q);
        }
        free(batch);
    }
}

static void h_sync(uint32_t i)
{
    struct hnode *nd = &H.nodes[i];
    if (nd->issued > nd->synced) {
        nd->synced = nd->issued;
        paxos_persisted(nd->px, nd->synced, H.now);
    }
}

static void h_sync_all(void)
{
    for (uint32_t i = 0; i < H.n; i++)
        h_sync(i);
}

/* Runs ms of simulated time: tick every 10 ms, deliver, sync everything. */
static void h_run(uint64_t ms)
{
    uint64_t end = H.now + ms;
    while (H.now < end) {
        H.now += 10;
        for (uint32_t i = 0; i < H.n; i++)
            paxos_tick(H.nodes[i].px, H.now);
        for (int k = 0; k < 8; k++) {
            h_deliver();
            h_sync_all();
        }
    }
}

static int h_leader(void)
{
    int leader = -1;
    for (uint32_t i = 0; i < H.n; i++) {
        struct paxos_status st;
        paxos_status(H.nodes[i].px, &st);
        if (st.role == PAXOS_LEADER) {
            ck_assert_int_eq(leader, -1);
            leader = (int)i;
        }
    }
    return leader;
}

static struct paxos_status h_status(uint32_t i)
{
    struct paxos_status st;
    paxos_status(H.nodes[i].px, &st);
    return st;
}

static void h_isolate(uint32_t a, bool on)
{
    for (uint32_t i = 0; i < H.n; i++)
        H.cut[a][i] = H.cut[i][a] = on && i != a;
}

/* ---------- value encoding ---------- */

static void count_cmd(void *arg, const struct paxos_cmd *c)
{
    (*(int *)arg)++;
}

START_TEST(test_value_decode)
{
    uint8_t noop[1] = {0};
    ck_assert_int_eq(paxos_value_decode(noop, 1, NULL, NULL), 0);
    uint8_t b[64] = {1, 2, 0, 0, 0};
    /* two commands: (7, 1, "ab") and (8, 2, "") */
    size_t off = 5;
    b[off] = 7;
    b[off + 8] = 1;
    b[off + 16] = 2;
    b[off + 20] = 'a';
    b[off + 21] = 'b';
    off += 22;
    b[off] = 8;
    b[off + 8] = 2;
    off += 20;
    int cnt = 0;
    ck_assert_int_eq(paxos_value_decode(b, (uint32_t)off, count_cmd, &cnt), 2);
    ck_assert_int_eq(cnt, 2);
    cnt = 0;
    ck_assert_int_eq(paxos_value_decode(b, (uint32_t)off - 1, count_cmd, &cnt), CAIRN_E_CORRUPT);
    ck_assert_int_eq(cnt, 0); /* all or nothing */
    ck_assert_int_eq(paxos_value_decode(b, (uint32_t)off + 1, NULL, NULL), CAIRN_E_CORRUPT);
    b[0] = 9;
    ck_assert_int_eq(paxos_value_decode(b, (uint32_t)off, NULL, NULL), CAIRN_E_CORRUPT);
    ck_assert_int_eq(paxos_value_decode(b, 0, NULL, NULL), CAIRN_E_CORRUPT);
}
END_TEST

START_TEST(test_config_rejects)
{
    uint32_t ids[3] = {1, 2, 2};
    struct paxos_config cfg;
    struct paxos_io io = {0};
    struct paxos *p = NULL;
    paxos_config_init(&cfg, 1, 3, ids);
    ck_assert_int_eq(paxos_new(&cfg, &io, NULL, 0, &p), CAIRN_E_INVAL); /* no callbacks */
    h_init(1, 4);
    cfg.id = 1;
    ck_assert_int_eq(paxos_new(&cfg, &H.nodes[0].io, NULL, 0, &p), CAIRN_E_INVAL); /* dup id */
    ids[2] = 3;
    cfg.window = 0;
    ck_assert_int_eq(paxos_new(&cfg, &H.nodes[0].io, NULL, 0, &p), CAIRN_E_INVAL);
    /* a replica outside the membership (about to join) starts, but never stands */
    paxos_config_init(&cfg, 4, 3, ids);
    ck_assert_int_eq(paxos_new(&cfg, &H.nodes[0].io, NULL, 0, &p), 0);
    for (uint64_t t = 10; t < 5000; t += 10) {
        paxos_tick(p, t);
        struct paxos_status st;
        paxos_status(p, &st);
        ck_assert_int_eq(st.role, PAXOS_FOLLOWER);
    }
    paxos_free(p);
    h_fini();
}
END_TEST

/* ---------- protocol rules ---------- */

START_TEST(test_single_replica)
{
    h_init(1, 4);
    h_run(1200);
    ck_assert_int_eq(h_leader(), 0);
    uint32_t hint;
    ck_assert_int_eq(paxos_submit(H.nodes[0].px, 1, 1, "x", 1, H.now, &hint), 0);
    h_run(20);
    ck_assert_uint_eq(H.nodes[0].last_n, 1);
    ck_assert_int_eq(paxos_read(H.nodes[0].px, 5, H.now, &hint), 0);
    h_run(20);
    ck_assert_uint_eq(H.nodes[0].reads_ok, 1);
    h_fini();
}
END_TEST

START_TEST(test_election_and_noop)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    struct paxos_status st = h_status((uint32_t)l);
    /* the leader committed its no-op, and every replica applied it */
    ck_assert_uint_ge(st.commit, st.term_start);
    ck_assert_uint_ge(st.term_start, 1);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(h_status(i).applied, st.commit);
    ck_assert_uint_eq(PAXOS_BALLOT_ID(st.ballot), (uint32_t)l + 1);
    h_fini();
}
END_TEST

/* An acceptor's promise and its Phase 2b acknowledgement wait for the disk. */
START_TEST(test_no_reply_before_durable)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t f = ((uint32_t)l + 1) % 3, g = ((uint32_t)l + 2) % 3;
    uint32_t hint;
    ck_assert_int_eq(paxos_submit(H.nodes[l].px, 1, 1, "abc", 3, H.now, &hint), 0);
    uint64_t before = h_status((uint32_t)l).commit;
    /* deliver the ACCEPTs but sync no follower: nothing may commit */
    H.cut[g][l] = true;
    for (int k = 0; k < 4; k++) {
        h_deliver();
        h_sync((uint32_t)l);
    }
    ck_assert_uint_eq(h_status((uint32_t)l).commit, before);
    ck_assert_uint_gt(H.nodes[f].issued, H.nodes[f].synced);
    /* once the follower's write is durable, its ack commits the slot */
    h_sync(f);
    h_deliver();
    ck_assert_uint_eq(h_status((uint32_t)l).commit, before + 1);
    h_fini();
}
END_TEST

START_TEST(test_candidate_waits_for_own_promise)
{
    h_init(3, 4);
    /* only node 0's timers run, so it is the one that stands */
    while (h_status(0).role != PAXOS_PRECANDIDATE) {
        H.now += 10;
        paxos_tick(H.nodes[0].px, H.now);
    }
    for (int k = 0; k < 6; k++) {
        h_deliver();
        h_sync(1);
        h_sync(2);
    }
    /* it holds both promises, but its own is not on disk yet */
    ck_assert_int_eq(h_status(0).role, PAXOS_CANDIDATE);
    ck_assert_uint_gt(H.nodes[0].issued, H.nodes[0].synced);
    h_sync(0);
    ck_assert_int_eq(h_status(0).role, PAXOS_LEADER);
    h_fini();
}
END_TEST

/* A replica cut off and returning (with a higher round in mind) cannot depose
 * a healthy leader: its pre-votes are refused while the others hear the leader. */
START_TEST(test_prevote_protects_leader)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint64_t ballot = h_status((uint32_t)l).ballot;
    uint32_t x = ((uint32_t)l + 1) % 3;
    h_isolate(x, true);
    h_run(5000); /* x keeps timing out and pre-voting, alone */
    ck_assert_int_eq(h_status(x).role != PAXOS_LEADER, 1);
    ck_assert_uint_eq(h_status(x).promised, ballot); /* pre-vote never raised it */
    /* even a more up-to-date pre-vote or prepare with a higher ballot is refused
     * by a replica that hears from its leader */
    uint32_t y = ((uint32_t)l + 2) % 3;
    for (uint32_t type = PAXOS_MSG_PREVOTE; type <= PAXOS_MSG_PREPARE; type += 2) {
        struct paxos_msg m = {
            .type = type, .from = x + 1, .ballot = PAXOS_BALLOT(100, x + 1), .commit = 1000};
        uint32_t q0 = H.qlen;
        ck_assert_int_eq(paxos_recv(H.nodes[y].px, &m, H.now), 0);
        h_sync(y);
        ck_assert_uint_eq(H.qlen, q0 + 1);
        ck_assert_uint_eq(H.q[q0].m.type, type + 1);
        ck_assert_uint_eq(H.q[q0].m.ok, 0);
        ck_assert_uint_eq(h_status(y).promised, ballot);
    }
    h_isolate(x, false);
    h_run(2000);
    ck_assert_int_eq(h_leader(), l);
    ck_assert_uint_eq(h_status((uint32_t)l).ballot, ballot);
    ck_assert_uint_eq(h_status(x).applied, h_status((uint32_t)l).applied);
    h_fini();
}
END_TEST

/* A leader that cannot reach a quorum steps down (check-quorum); the majority
 * elects a new leader with a higher ballot. */
START_TEST(test_check_quorum)
{
    h_init(5, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint64_t ballot = h_status((uint32_t)l).ballot;
    uint32_t hint;
    ck_assert_int_eq(paxos_submit(H.nodes[l].px, 1, 1, "q", 1, H.now, &hint), 0);
    h_isolate((uint32_t)l, true);
    h_run(1200);
    ck_assert_int_ne(h_status((uint32_t)l).role, PAXOS_LEADER);
    int l2 = h_leader();
    ck_assert_int_ge(l2, 0);
    ck_assert_int_ne(l2, l);
    ck_assert_uint_gt(h_status((uint32_t)l2).ballot, ballot);
    /* reads on the deposed leader fail; new submits are refused */
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 1, H.now, &hint), CAIRN_E_NOTLEADER);
    ck_assert_int_eq(paxos_submit(H.nodes[l].px, 1, 2, "r", 1, H.now, &hint), CAIRN_E_NOTLEADER);
    h_isolate((uint32_t)l, false);
    h_run(1000);
    ck_assert_uint_eq(h_status((uint32_t)l).applied, h_status((uint32_t)l2).applied);
    h_fini();
}
END_TEST

/* With one slot in flight, every command that waits goes into the next slot. */
START_TEST(test_batching_and_window)
{
    h_init(3, 1);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t hint;
    struct paxos_status st0 = h_status((uint32_t)l);
    for (uint64_t i = 1; i <= 6; i++)
        ck_assert_int_eq(paxos_submit(H.nodes[l].px, 9, i, "cmd", 3, H.now, &hint), 0);
    struct paxos_status st = h_status((uint32_t)l);
    ck_assert_uint_eq(st.last, st0.last + 1); /* window 1: one slot proposed */
    ck_assert_uint_eq(st.pending, 5);
    h_run(100);
    st = h_status((uint32_t)l);
    ck_assert_uint_eq(st.commit, st0.commit + 2); /* 1 + a batch of 5 */
    ck_assert_uint_eq(H.nodes[l].max_n, 5);
    h_fini();
}
END_TEST

/* A read completes only after a quorum answers a heartbeat round. */
START_TEST(test_read_index_needs_quorum)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t hint;
    h_isolate((uint32_t)l, true);
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 77, H.now, &hint), 0);
    h_deliver();
    h_sync_all();
    ck_assert_uint_eq(H.nodes[l].reads_ok, 0);
    h_isolate((uint32_t)l, false);
    /* the probe was lost; the next heartbeat (same round or later) confirms */
    h_run(100);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1);
    /* reads arriving while a round is in flight share the next round */
    uint32_t accepts = H.sent_by_type[PAXOS_MSG_ACCEPT];
    uint64_t ok0 = H.nodes[l].reads_ok;
    for (uint64_t id = 100; id < 110; id++)
        ck_assert_int_eq(paxos_read(H.nodes[l].px, id, H.now, &hint), 0);
    ck_assert_uint_eq(H.sent_by_type[PAXOS_MSG_ACCEPT], accepts + 2); /* one round */
    h_deliver();
    h_sync_all();
    h_deliver();
    ck_assert_uint_eq(H.sent_by_type[PAXOS_MSG_ACCEPT], accepts + 4); /* and one more */
    ck_assert_uint_eq(H.nodes[l].reads_ok, ok0 + 10);
    /* a read on a follower is refused with a leader hint */
    uint32_t f = ((uint32_t)l + 1) % 3;
    ck_assert_int_eq(paxos_read(H.nodes[f].px, 78, H.now, &hint), CAIRN_E_NOTLEADER);
    ck_assert_uint_eq(hint, (uint32_t)l + 1);
    /* a read pending when leadership is lost fails */
    h_isolate((uint32_t)l, true);
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 79, H.now, &hint), 0);
    h_run(1200);
    ck_assert_uint_eq(H.nodes[l].reads_failed, 1);
    h_fini();
}
END_TEST

/* paxos_lease_max: the longest lease that ends, in real time, before any
 * replica that acknowledged its round can vote again, for every clock within
 * the drift bound — and not 1 ms longer (unless capped below T). */
START_TEST(test_lease_bound)
{
    ck_assert_uint_eq(paxos_lease_max(500, 50000, 5), 442); /* the daemon's default */
    ck_assert_uint_eq(paxos_lease_max(200, 0, 0), 199);     /* below T for paxos_new */
    ck_assert_uint_eq(paxos_lease_max(200, 1000000, 0), 0);
    ck_assert_uint_eq(paxos_lease_max(10, 0, 10), 0);
    ck_assert_uint_eq(paxos_lease_max(100, 500000, 20), 6);
    ck_assert_uint_eq(paxos_lease_max(100, 500000, 30), 0);
    static const uint64_t ts[] = {20, 100, 200, 500, 1000, 10000};
    static const uint32_t rhos[] = {0, 1, 500, 50000, 200000, 400000, 999999};
    static const uint64_t js[] = {0, 1, 5, 15};
    for (size_t a = 0; a < sizeof(ts) / sizeof(ts[0]); a++)
        for (size_t b = 0; b < sizeof(rhos) / sizeof(rhos[0]); b++)
            for (size_t c = 0; c < sizeof(js) / sizeof(js[0]); c++) {
                uint64_t t = ts[a], j = js[c];
                double rho = rhos[b] / 1e6;
                uint64_t l = paxos_lease_max(t, rhos[b], j);
                ck_assert_uint_lt(l, t);
                if (l == 0)
                    continue;
                /* the leader's lease ends (real time, slowest clock) no later
                 * than a follower may vote again (fastest clock) */
                double lease_end = ((double)l + (double)j) / (1 - rho);
                double vote_again = ((double)t - (double)j) / (1 + rho);
                ck_assert(lease_end <= vote_again + 1e-9);
                if (l < t - 1) /* and 1 ms more would not */
                    ck_assert(((double)l + 1 + (double)j) / (1 - rho) > vote_again);
            }
}
END_TEST

/* Under a lease the leader answers reads without a round; once the lease has
 * run out (cut off), a read waits for a round again. A restarted replica votes
 * for no one for an election timeout. */
START_TEST(test_lease_reads)
{
    H.lease_ms = 300;
    h_init(3, 4);
    H.lease_ms = 0;
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t hint;
    uint32_t accepts = H.sent_by_type[PAXOS_MSG_ACCEPT];
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 1, H.now, &hint), 0);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1); /* at once */
    ck_assert_uint_eq(H.sent_by_type[PAXOS_MSG_ACCEPT], accepts);
    h_isolate((uint32_t)l, true);
    h_run(350);
    ck_assert_int_eq(h_status((uint32_t)l).role, PAXOS_LEADER); /* not yet stepped down */
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 2, H.now, &hint), 0);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1);
    ck_assert_uint_gt(H.sent_by_type[PAXOS_MSG_ACCEPT], accepts); /* a round is needed */
    h_run(1000);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1);
    ck_assert_uint_eq(H.nodes[l].reads_failed, 1);
    h_fini();

    /* the restart rule */
    h_init(2, 4);
    struct paxos_config cfg;
    uint32_t ids[2] = {1, 2};
    paxos_config_init(&cfg, 1, 2, ids);
    cfg.lease_ms = 300;
    struct paxos *p;
    ck_assert_int_eq(paxos_new(&cfg, &H.nodes[0].io, NULL, 1000, &p), 0);
    struct paxos_msg m = {.type = PAXOS_MSG_PREVOTE, .from = 2, .ballot = PAXOS_BALLOT(1, 2)};
    uint32_t q0 = H.qlen;
    ck_assert_int_eq(paxos_recv(p, &m, 1400), 0);
    ck_assert_uint_eq(H.q[q0].m.ok, 0);
    ck_assert_int_eq(paxos_recv(p, &m, 1600), 0);
    ck_assert_uint_eq(H.q[q0 + 1].m.ok, 1);
    paxos_free(p);
    h_fini();
}
END_TEST

static void h_change(int leader, uint32_t op, uint32_t id)
{
    uint32_t hint;
    int rc = CAIRN_E_BUSY;
    for (int k = 0; k < 50 && rc == CAIRN_E_BUSY; k++) {
        rc = paxos_change(H.nodes[leader].px, op, id, H.now, &hint);
        h_run(50);
    }
    ck_assert_int_eq(rc, 0);
    h_run(200);
}

/* Add a learner, promote it, remove a voter: the membership follows the log,
 * learners catch up, and a removed leader steps down. */
START_TEST(test_membership_change)
{
    h_init_voters(4, 3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    ck_assert_int_lt(l, 3);
    uint32_t hint;
    /* promoting a replica that is not a learner, or adding a member, is refused */
    ck_assert_int_eq(paxos_change(H.nodes[l].px, PAXOS_PROMOTE, 4, H.now, &hint), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(paxos_change(H.nodes[l].px, PAXOS_ADD_LEARNER, 1, H.now, &hint),
                     CAIRN_E_EXISTS);
    h_change(l, PAXOS_ADD_LEARNER, 4);
    ck_assert_uint_eq(h_status(3).n_learners, 1);
    ck_assert_uint_eq(h_status(3).applied, h_status((uint32_t)l).applied); /* caught up */
    ck_assert_int_eq(h_status(3).role, PAXOS_FOLLOWER);
    h_change(l, PAXOS_PROMOTE, 4);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_uint_eq(h_status(i).n_voters, 4);
    /* remove the leader itself: it steps down, the other three elect */
    h_change(l, PAXOS_REMOVE, (uint32_t)l + 1);
    h_run(2000);
    int l2 = h_leader();
    ck_assert_int_ge(l2, 0);
    ck_assert_int_ne(l2, l);
    ck_assert_uint_eq(h_status((uint32_t)l2).n_voters, 3);
    ck_assert_int_eq(paxos_submit(H.nodes[l2].px, 1, 1, "m", 1, H.now, &hint), 0);
    h_run(200);
    for (uint32_t i = 0; i < 4; i++)
        if ((int)i != l)
            ck_assert_uint_eq(h_status(i).applied, h_status((uint32_t)l2).applied);
    h_fini();
}
END_TEST

/* Two voters of the first membership restart with state machines that forgot
 * every change (so they count only each other as a quorum) while their logs
 * still hold the changes. They must not elect a leader among themselves: Phase 1
 * needs a majority of every membership those logs install. Otherwise they would
 * overwrite slots that the grown membership has chosen. */
START_TEST(test_membership_quorum_chain)
{
    h_init_voters(5, 3, 4);
    h_run(1500);
    int x = h_leader();
    ck_assert_int_ge(x, 0);
    ck_assert_int_lt(x, 3);
    uint32_t a = ((uint32_t)x + 1) % 3, b = ((uint32_t)x + 2) % 3;
    h_change(x, PAXOS_ADD_LEARNER, 4);
    h_change(x, PAXOS_PROMOTE, 4);
    h_change(x, PAXOS_ADD_LEARNER, 5);
    h_change(x, PAXOS_PROMOTE, 5);
    /* a and b fall silent; x, 4 and 5 (a majority of five) commit more */
    h_isolate(a, true);
    h_isolate(b, true);
    uint32_t hint;
    for (uint64_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(paxos_submit(H.nodes[x].px, 7, i, "w", 1, H.now, &hint), 0);
        h_run(50);
    }
    uint64_t chosen = h_status((uint32_t)x).commit;
    ck_assert_uint_gt(chosen, h_status(a).commit);
    /* a and b restart with blank state machines; x, 4, 5 go away */
    h_restart_blank(a, 3);
    h_restart_blank(b, 3);
    h_isolate((uint32_t)x, true);
    h_isolate(3, true);
    h_isolate(4, true);
    for (uint32_t i = 0; i < HN; i++)
        for (uint32_t j = 0; j < HN; j++)
            if ((i == a || i == b) && (j == a || j == b))
                H.cut[i][j] = false;
    bool elected = false;
    for (int t = 0; t < 500 && !elected; t++) {
        h_run(10);
        elected = h_status(a).role == PAXOS_LEADER || h_status(b).role == PAXOS_LEADER;
    }
    /* everyone back (at once, should a or b lead: then x, 4 and 5 would accept
     * its no-ops over their chosen slots) */
    for (uint32_t i = 0; i < HN; i++)
        h_isolate(i, false);
    h_run(3000);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    for (uint32_t i = 0; i < HN; i++) {
        ck_assert_uint_ge(h_status(i).applied, chosen);
        for (uint64_t s = 1; s <= chosen; s++)
            ck_assert_uint_eq(H.nodes[i].ahash[s], H.nodes[x].ahash[s]);
    }
    ck_assert(!elected);
    h_fini();
}
END_TEST

/* Delivers and syncs until nothing moves, with the clock stopped: what
 * happens here happens without any timer firing. */
static void h_settle(void)
{
    for (int k = 0; k < 16; k++) {
        h_deliver();
        h_sync_all();
    }
}

/* Leadership transfer: the leader hands over to a caught-up voter, which
 * wins at once (its transfer-flagged PREPARE is granted although every
 * replica hears a live leader) with no election timeout; the old leader
 * becomes a follower; every committed slot stays, and the group goes on. */
START_TEST(test_leadership_transfer)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t hint, chosen = 0;
    for (uint64_t i = 1; i <= 5; i++)
        ck_assert_int_eq(paxos_submit(H.nodes[l].px, 4, i, "t", 1, H.now, &hint), 0);
    h_run(100);
    struct paxos_status old = h_status((uint32_t)l);
    ck_assert_uint_eq(old.commit, old.last);
    uint32_t to = ((uint32_t)l + 1) % 3, third = ((uint32_t)l + 2) % 3;
    ck_assert_uint_eq(h_status(to).applied, old.commit);
    /* only the leader may, only to a voter */
    ck_assert_int_eq(paxos_transfer(H.nodes[to].px, 0, H.now, &chosen), CAIRN_E_NOTLEADER);
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, 9, H.now, &chosen), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, to + 1, H.now, &chosen), 0);
    ck_assert_uint_eq(chosen, to + 1);
    uint64_t t0 = H.now;
    h_settle();
    ck_assert_uint_eq(H.now, t0); /* no timer was needed */
    ck_assert_int_eq(h_status(to).role, PAXOS_LEADER);
    ck_assert_int_eq(h_status((uint32_t)l).role, PAXOS_FOLLOWER);
    ck_assert_int_eq(h_status(third).role, PAXOS_FOLLOWER);
    ck_assert_int_eq(h_leader(), (int)to);
    struct paxos_status st = h_status(to);
    ck_assert_uint_gt(st.ballot, old.ballot);
    ck_assert_uint_ge(st.commit, st.term_start); /* its no-op committed: usable */
    /* every slot committed before is still what it was, everywhere */
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_uint_ge(h_status(i).applied, old.commit);
        for (uint64_t sl = 1; sl <= old.commit; sl++)
            ck_assert_uint_eq(H.nodes[i].ahash[sl], H.nodes[l].ahash[sl]);
    }
    /* the old leader refuses clients and names its successor */
    ck_assert_int_eq(paxos_submit(H.nodes[l].px, 4, 6, "u", 1, H.now, &hint), CAIRN_E_NOTLEADER);
    ck_assert_uint_eq(hint, to + 1);
    ck_assert_int_eq(paxos_submit(H.nodes[to].px, 4, 6, "u", 1, H.now, &hint), 0);
    h_run(2000); /* and the new leadership is stable */
    ck_assert_int_eq(h_leader(), (int)to);
    ck_assert_uint_eq(h_status(to).ballot, st.ballot);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(h_status(i).applied, h_status(to).applied);
    h_fini();
}
END_TEST

/* A transfer to a voter that is behind the log is refused (BUSY: retry);
 * with no target named, the most caught-up live voter is chosen. A replica
 * that is behind ignores a TIMEOUT_NOW. */
START_TEST(test_transfer_refused_when_behind)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t behind = ((uint32_t)l + 1) % 3, other = ((uint32_t)l + 2) % 3;
    h_isolate(behind, true);
    uint32_t hint, chosen = 0;
    for (uint64_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(paxos_submit(H.nodes[l].px, 5, i, "b", 1, H.now, &hint), 0);
        h_run(30);
    }
    struct paxos_status ls = h_status((uint32_t)l);
    ck_assert_uint_lt(h_status(behind).commit, ls.commit);
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, behind + 1, H.now, &chosen), CAIRN_E_BUSY);
    h_settle();
    ck_assert_int_eq(h_leader(), l); /* nothing happened */
    ck_assert_uint_eq(h_status((uint32_t)l).ballot, ls.ballot);
    /* a TIMEOUT_NOW reaching a replica that lacks committed slots is ignored */
    struct paxos_msg m = {.type = PAXOS_MSG_TIMEOUT_NOW,
                          .from = (uint32_t)l + 1,
                          .ballot = ls.ballot,
                          .commit = ls.commit};
    ck_assert_int_eq(paxos_recv(H.nodes[behind].px, &m, H.now), 0);
    ck_assert_int_eq(h_status(behind).role, PAXOS_FOLLOWER);
    /* any caught-up voter: the one that is not behind */
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, 0, H.now, &chosen), 0);
    ck_assert_uint_eq(chosen, other + 1);
    h_settle();
    ck_assert_int_eq(h_leader(), (int)other);
    h_isolate(behind, false);
    h_run(1000);
    ck_assert_int_eq(h_leader(), (int)other);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(h_status(i).applied, h_status(other).applied);
    h_fini();
}
END_TEST

/* A leader that has sent TIMEOUT_NOW serves no read on a lease for the rest
 * of its term, whatever becomes of the transfer: voters now grant the
 * successor's PREPARE although they hear this leader, so their acks no
 * longer promise anything. Here the TIMEOUT_NOW is lost, the leader goes on
 * leading and its heartbeats are acknowledged — yet every read takes a round. */
START_TEST(test_transfer_drops_lease)
{
    H.lease_ms = 300;
    h_init(3, 4);
    H.lease_ms = 0;
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t hint, chosen = 0;
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 1, H.now, &hint), 0);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1); /* under the lease: at once */
    uint32_t to = ((uint32_t)l + 1) % 3;
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, to + 1, H.now, &chosen), 0);
    h_isolate(to, true); /* the TIMEOUT_NOW is lost */
    h_run(100);          /* heartbeats, acknowledged by the third replica */
    ck_assert_int_eq(h_leader(), l);
    uint32_t accepts = H.sent_by_type[PAXOS_MSG_ACCEPT];
    ck_assert_int_eq(paxos_read(H.nodes[l].px, 2, H.now, &hint), 0);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 1);                    /* not at once */
    ck_assert_uint_gt(H.sent_by_type[PAXOS_MSG_ACCEPT], accepts); /* a round */
    h_run(50);
    ck_assert_uint_eq(H.nodes[l].reads_ok, 2); /* which confirms it */
    h_isolate(to, false);
    h_fini();
}
END_TEST

static void h_publish(void)
{
    for (uint32_t i = 0; i < H.n; i++)
        H.nodes[i].published = paxos_lease_read_until(H.nodes[i].px);
}

/* paxos_lease_read_until is the lease path's own decision: whenever it lies
 * ahead, a read arriving now is released at once; it is never further than a
 * lease ahead and only a leader has it. Through elections, a leader cut off
 * (it steps down: lease_lost) and a transfer (lease_lost before TIMEOUT_NOW;
 * h_send checks no vote or TIMEOUT_NOW leaves a replica still publishing). */
START_TEST(test_lease_read_until)
{
    H.lease_ms = 300;
    h_init(3, 4);
    H.lease_ms = 0;
    uint64_t read_id = 100, served = 0;
    int cut = -1;
    for (int step = 0; step < 400; step++) {
        if (step == 150) {
            cut = h_leader();
            ck_assert_int_ge(cut, 0);
            h_isolate((uint32_t)cut, true);
        }
        if (step == 250) {
            h_isolate((uint32_t)cut, false);
        }
        h_run(10);
        h_publish();
        for (uint32_t i = 0; i < H.n; i++) {
            struct hnode *nd = &H.nodes[i];
            if (nd->published <= H.now)
                continue;
            ck_assert_int_eq(h_status(i).role, PAXOS_LEADER);
            ck_assert_uint_le(nd->published, H.now + 300);
            uint64_t ok = nd->reads_ok;
            uint32_t hint;
            ck_assert_int_eq(paxos_read(nd->px, read_id++, H.now, &hint), 0);
            ck_assert_uint_eq(nd->reads_ok, ok + 1); /* released at once */
            served++;
        }
    }
    ck_assert_uint_gt(served, 200);
    ck_assert_uint_ge(H.nodes[cut].lease_lost, 1); /* it stepped down while cut off */
    ck_assert_uint_eq(H.nodes[cut].published, 0);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    ck_assert_uint_gt(H.nodes[l].published, H.now);
    uint32_t lost = H.nodes[l].lease_lost, chosen = 0;
    ck_assert_int_eq(paxos_transfer(H.nodes[l].px, 0, H.now, &chosen), 0);
    ck_assert_uint_eq(H.nodes[l].lease_lost, lost + 1);
    ck_assert_uint_eq(paxos_lease_read_until(H.nodes[l].px), 0);
    h_run(300);
    h_publish();
    ck_assert_int_ne(h_leader(), l);
    ck_assert_uint_eq(H.nodes[l].published, 0);
    h_fini();
}
END_TEST

/* A follower behind the trim point is caught up by snapshot. */
START_TEST(test_trim_and_snapshot)
{
    h_init(3, 4);
    h_run(1500);
    int l = h_leader();
    ck_assert_int_ge(l, 0);
    uint32_t f = ((uint32_t)l + 1) % 3;
    h_isolate(f, true);
    uint32_t hint;
    for (uint64_t i = 1; i <= 20; i++) {
        ck_assert_int_eq(paxos_submit(H.nodes[l].px, 3, i, "v", 1, H.now, &hint), 0);
        h_run(20);
    }
    struct paxos_status st = h_status((uint32_t)l);
    ck_assert_uint_eq(paxos_trim(H.nodes[l].px, st.applied), st.applied);
    ck_assert_uint_eq(h_status((uint32_t)l).base, st.applied);
    ck_assert_uint_lt(h_status(f).applied, st.applied);
    h_isolate(f, false);
    h_run(100);
    ck_assert_uint_ge(H.nodes[l].snap_req[f], 1);
    /* the driver would ship the state machine; pretend it did */
    ck_assert(paxos_snapshot_wanted(H.nodes[f].px, st.applied));
    H.nodes[f].applied_slots = st.applied;
    paxos_snapshot_installed(H.nodes[f].px, (uint32_t)l + 1, st.applied, NULL, H.now);
    h_run(200);
    ck_assert_uint_eq(h_status(f).applied, h_status((uint32_t)l).applied);
    ck_assert(!paxos_snapshot_wanted(H.nodes[f].px, st.applied));
    h_fini();
}
END_TEST

/* A restarted replica recovers its promise and accepted values from disk. */
START_TEST(test_restore)
{
    h_init(1, 4);
    struct paxos_entry e[2] = {
        {.slot = 3, .ballot = PAXOS_BALLOT(5, 1), .len = 1, .data = (const uint8_t *)"\0"},
        {.slot = 1, .ballot = PAXOS_BALLOT(2, 1), .len = 1, .data = (const uint8_t *)"\0"}};
    struct paxos_restore rs = {
        .promised = PAXOS_BALLOT(4, 1), .applied = 2, .n_entries = 2, .entries = e};
    struct paxos *p;
    uint32_t ids[1] = {1};
    struct paxos_config cfg;
    paxos_config_init(&cfg, 1, 1, ids);
    ck_assert_int_eq(paxos_new(&cfg, &H.nodes[0].io, &rs, 0, &p), 0);
    struct paxos_status st;
    paxos_status(p, &st);
    ck_assert_uint_eq(st.promised, PAXOS_BALLOT(5, 1)); /* max of promise and accepts */
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_uint_eq(st.base, 2);
    ck_assert_uint_eq(st.last, 3);
    paxos_free(p);
    h_fini();
}
END_TEST

/* ---------- linearizability checker ---------- */

START_TEST(test_lincheck_planted_stale_read)
{
    /* put 1, then put 2 completes, then a get returns 1: stale */
    struct lc_op h[] = {
        {.kind = LC_PUT, .key = 0, .a = 1, .known = true, .call = 0, .ret = 10},
        {.kind = LC_PUT, .key = 0, .a = 2, .known = true, .call = 20, .ret = 30},
        {.kind = LC_GET, .key = 0, .result = 1, .known = true, .call = 40, .ret = 50},
    };
    uint32_t bad = 99;
    ck_assert(!lc_check(h, 3, &bad));
    ck_assert_uint_eq(bad, 0);
    /* the same get overlapping the second put is fine */
    h[2].call = 25;
    ck_assert(lc_check(h, 3, NULL));
    /* reading 2 after it completed is fine */
    h[2].call = 40;
    h[2].result = 2;
    ck_assert(lc_check(h, 3, NULL));
}
END_TEST

START_TEST(test_lincheck_cas_and_incomplete)
{
    struct lc_op h[] = {
        {.kind = LC_PUT, .key = 1, .a = 5, .known = true, .call = 0, .ret = 10},
        {.kind = LC_CAS,
         .key = 1,
         .a = 5,
         .b = 6,
         .result = 1,
         .known = true,
         .call = 20,
         .ret = 30},
        {.kind = LC_CAS,
         .key = 1,
         .a = 5,
         .b = 7,
         .result = 1,
         .known = true,
         .call = 40,
         .ret = 50},
    };
    ck_assert(!lc_check(h, 3, NULL)); /* the second cas cannot succeed */
    h[2].result = 0;
    ck_assert(lc_check(h, 3, NULL));
    /* an unacknowledged put may or may not have happened */
    struct lc_op g[] = {
        {.kind = LC_PUT, .key = 2, .a = 9, .known = false, .call = 0, .ret = LC_NEVER},
        {.kind = LC_GET, .key = 2, .result = 9, .known = true, .call = 10, .ret = 20},
        {.kind = LC_GET, .key = 2, .result = 0, .known = true, .call = 30, .ret = 40},
    };
    ck_assert(!lc_check(g, 3, NULL)); /* seen, then unseen: not linearizable */
    g[1].result = 0;
    ck_assert(lc_check(g, 3, NULL));
    /* independent keys are checked separately */
    struct lc_op k[] = {
        {.kind = LC_PUT, .key = 0, .a = 1, .known = true, .call = 0, .ret = 10},
        {.kind = LC_GET, .key = 1, .result = 0, .known = true, .call = 20, .ret = 30},
        {.kind = LC_GET, .key = 0, .result = 1, .known = true, .call = 20, .ret = 30},
    };
    ck_assert(lc_check(k, 3, NULL));
}
END_TEST

#define BOP(k, g, key_, et, m, st, gt, c, r)                                                       \
    {                                                                                              \
        .kind = (k), .group = (g), .key = (key_), .etag = (et), .match = (m), .status = (st),      \
        .got = (gt), .known = true, .call = (c), .ret = (r)                                        \
    }

START_TEST(test_lincheck_bucket_reads)
{
    /* put e1, then put e2 completes, then a get returns e1: stale */
    struct lc_bop h[] = {
        BOP(LC_B_PUT, 0, 1, 11, 0, 0, 0, 0, 10),
        BOP(LC_B_PUT, 0, 1, 12, 0, 0, 0, 20, 30),
        BOP(LC_B_GET, 0, 1, 0, 0, 0, 11, 40, 50),
    };
    uint32_t bad = 99;
    ck_assert(!lc_bucket_check(h, 3, &bad));
    ck_assert_uint_eq(bad, 0);
    h[2].call = 25; /* overlapping the second put: fine */
    ck_assert(lc_bucket_check(h, 3, NULL));
    h[2].call = 40;
    h[2].got = 12;
    ck_assert(lc_bucket_check(h, 3, NULL));
    h[2].got = 0; /* NoSuchKey after two puts */
    ck_assert(!lc_bucket_check(h, 3, NULL));
    /* a listing is one atomic view of the group: k0 then k1 were put one
     * after the other, so a listing after both sees both, and no listing
     * sees k1 without k0 */
    struct lc_bop l[] = {
        BOP(LC_B_PUT, 2, 0, 21, 0, 0, 0, 0, 10),
        BOP(LC_B_PUT, 2, 1, 22, 0, 0, 0, 20, 30),
        BOP(LC_B_LIST, 2, 0, 0, 0, 0, 0, 40, 50),
    };
    l[2].list[0] = 21;
    ck_assert(!lc_bucket_check(l, 3, &bad)); /* k1 missing */
    ck_assert_uint_eq(bad, 2);
    l[2].list[1] = 22;
    ck_assert(lc_bucket_check(l, 3, NULL));
    l[2].call = 5; /* during both puts: {}, {k0}, {k0, k1} but never {k1} */
    l[2].list[0] = 0;
    ck_assert(!lc_bucket_check(l, 3, NULL));
    l[2].list[1] = 0;
    ck_assert(lc_bucket_check(l, 3, NULL));
    /* groups are independent: a get in group 1 does not see group 2's key */
    struct lc_bop g[] = {
        BOP(LC_B_PUT, 2, 0, 21, 0, 0, 0, 0, 10),
        BOP(LC_B_GET, 1, 0, 0, 0, 0, 0, 20, 30),
    };
    ck_assert(lc_bucket_check(g, 2, NULL));
}
END_TEST

START_TEST(test_lincheck_bucket_conditions)
{
    /* If-None-Match: * succeeds once; the second, after it, must fail */
    struct lc_bop h[] = {
        BOP(LC_B_PUT_IF_NONE, 0, 0, 1, 0, 0, 0, 0, 10),
        BOP(LC_B_PUT_IF_NONE, 0, 0, 2, 0, 0, 0, 20, 30),
    };
    ck_assert(!lc_bucket_check(h, 2, NULL));
    h[1].status = CAIRN_E_PRECOND;
    ck_assert(lc_bucket_check(h, 2, NULL));
    h[1].call = 5; /* concurrent: still only one may win */
    h[1].status = 0;
    ck_assert(!lc_bucket_check(h, 2, NULL));
    /* If-Match: a compare-and-swap on the ETag */
    struct lc_bop m[] = {
        BOP(LC_B_PUT, 0, 3, 5, 0, 0, 0, 0, 10),
        BOP(LC_B_PUT_IF_MATCH, 0, 3, 6, 5, 0, 0, 20, 30),
        BOP(LC_B_PUT_IF_MATCH, 0, 3, 7, 5, 0, 0, 40, 50),
        BOP(LC_B_DELETE_IF_MATCH, 0, 2, 0, 5, CAIRN_E_NOTFOUND, 0, 60, 70),
    };
    ck_assert(!lc_bucket_check(m, 4, NULL)); /* the second cannot match */
    m[2].status = CAIRN_E_PRECOND;
    ck_assert(lc_bucket_check(m, 4, NULL));
    m[3].status = CAIRN_E_PRECOND; /* key 2 never existed: NoSuchKey, not 412 */
    ck_assert(!lc_bucket_check(m, 4, NULL));
    /* delete says whether the key existed */
    struct lc_bop d[] = {
        BOP(LC_B_PUT, 1, 0, 9, 0, 0, 0, 0, 10),
        BOP(LC_B_DELETE, 1, 0, 0, 0, 0, 1, 20, 30),
        BOP(LC_B_DELETE, 1, 0, 0, 0, 0, 1, 40, 50),
    };
    ck_assert(!lc_bucket_check(d, 3, NULL));
    d[2].got = 0;
    ck_assert(lc_bucket_check(d, 3, NULL));
    /* an unacknowledged put may or may not have happened, but not both */
    struct lc_bop u[] = {
        BOP(LC_B_PUT, 0, 0, 9, 0, 0, 0, 0, 0),
        BOP(LC_B_GET, 0, 0, 0, 0, 0, 9, 10, 20),
        BOP(LC_B_GET, 0, 0, 0, 0, 0, 0, 30, 40),
    };
    u[0].known = false;
    ck_assert(!lc_bucket_check(u, 3, NULL));
    u[1].got = 0;
    ck_assert(lc_bucket_check(u, 3, NULL));
}
END_TEST

/* ---------- simulator ---------- */

START_TEST(test_sim_deterministic)
{
    struct sim_opts o;
    struct sim_result a, b, c;
    sim_opts_default(&o, 4242, 5, 3000);
    ck_assert(sim_run(&o, &a));
    ck_assert(sim_run(&o, &b));
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
    ck_assert_uint_eq(a.steps, b.steps);
    o.seed = 4243;
    ck_assert(sim_run(&o, &c));
    ck_assert_uint_ne(a.trace_hash, c.trace_hash);
}
END_TEST

START_TEST(test_sim_few_seeds)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct sim_opts o;
        struct sim_result r;
        sim_opts_default(&o, seed, seed % 2 ? 5 : 3, 3000);
        bool ok = sim_run(&o, &r);
        if (!ok)
            ck_abort_msg("seed %llu: %s", (unsigned long long)seed, r.error);
        ck_assert_uint_gt(r.ops_done, 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("paxos");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_value_decode);
    tcase_add_test(tc, test_config_rejects);
    tcase_add_test(tc, test_single_replica);
    tcase_add_test(tc, test_election_and_noop);
    tcase_add_test(tc, test_no_reply_before_durable);
    tcase_add_test(tc, test_candidate_waits_for_own_promise);
    tcase_add_test(tc, test_prevote_protects_leader);
    tcase_add_test(tc, test_check_quorum);
    tcase_add_test(tc, test_batching_and_window);
    tcase_add_test(tc, test_read_index_needs_quorum);
    tcase_add_test(tc, test_lease_reads);
    tcase_add_test(tc, test_lease_bound);
    tcase_add_test(tc, test_trim_and_snapshot);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_membership_change);
    tcase_add_test(tc, test_membership_quorum_chain);
    tcase_add_test(tc, test_leadership_transfer);
    tcase_add_test(tc, test_transfer_refused_when_behind);
    tcase_add_test(tc, test_transfer_drops_lease);
    tcase_add_test(tc, test_lease_read_until);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("lincheck");
    tcase_add_test(tl, test_lincheck_planted_stale_read);
    tcase_add_test(tl, test_lincheck_cas_and_incomplete);
    tcase_add_test(tl, test_lincheck_bucket_reads);
    tcase_add_test(tl, test_lincheck_bucket_conditions);
    suite_add_tcase(s, tl);
    TCase *ts = tcase_create("sim");
    tcase_add_test(ts, test_sim_deterministic);
    tcase_add_test(ts, test_sim_few_seeds);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
