/* Deterministic simulator for the Multi-Paxos core. See sim.h. */
#include "sim.h"

#include "cn_error.h"
#include "lincheck.h"
#include "paxos.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAXN              7
#define MAXC              8
#define MAXK              8
#define TICK_MS           10
#define CLIENT_TIMEOUT_MS 250
#define HEAL_MAX_MS       60000

/* ---------- PRNG (splitmix64) ---------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
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

static uint64_t fnv_bytes(uint64_t h, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= d[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV_INIT 1469598103934665603ull

/* ---------- state machine: a few registers + per-client dedup table ---------- */

struct kv {
    uint64_t applied;
    uint32_t voters, learners; /* membership as of applied: bit i = replica i + 1 */
    uint32_t val[MAXK];
    uint64_t last_seq[MAXC];
    uint32_t last_res[MAXC];
};

static uint64_t kv_hash(const struct kv *s)
{
    uint64_t h = fnv_mix(FNV_INIT, s->applied);
    h = fnv_mix(h, s->voters);
    h = fnv_mix(h, s->learners);
    for (int i = 0; i < MAXK; i++)
        h = fnv_mix(h, s->val[i]);
    for (int i = 0; i < MAXC; i++) {
        h = fnv_mix(h, s->last_seq[i]);
        h = fnv_mix(h, s->last_res[i]);
    }
    return h;
}

/* command bytes: u8 kind, u8 key, u32 a, u32 b */
#define CMD_LEN 10

static void cmd_encode(uint8_t *b, uint32_t kind, uint32_t key, uint32_t a, uint32_t bb)
{
    b[0] = (uint8_t)kind;
    b[1] = (uint8_t)key;
    for (int i = 0; i < 4; i++) {
        b[2 + i] = (uint8_t)(a >> (8 * i));
        b[6 + i] = (uint8_t)(bb >> (8 * i));
    }
}

static void ms_from_masks(uint32_t voters, uint32_t learners, struct paxos_membership *m)
{
    memset(m, 0, sizeof(*m));
    for (uint32_t i = 0; i < 32; i++) {
        if (voters & (1u << i))
            m->voters[m->n_voters++] = i + 1;
        if (learners & (1u << i))
            m->learners[m->n_learners++] = i + 1;
    }
}

static uint32_t ms_mask(const uint32_t *ids, uint32_t n)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < n; i++)
        mask |= 1u << (ids[i] - 1);
    return mask;
}

/* ---------- events ---------- */

enum {
    EV_MSG = 1,
    EV_SNAP,
    EV_SYNC,
    EV_TICK,
    EV_CREQ,
    EV_CREP,
    EV_CTIMER,
    EV_CSTART,
    EV_FAULT,
    EV_RESTART,
    EV_ATTACK, /* the lease attack's second half (node: the leader attacked) */
};

struct creq {
    uint32_t client;
    uint64_t seq;
    uint32_t kind, key, a, b;
    int status;
    uint32_t result;
    uint32_t hint;
};

struct msgcopy {
    struct paxos_msg m;
    struct paxos_entry *ents;
};

struct event {
    uint64_t time, seq;
    int type;
    uint32_t node, from, inc;
    uint64_t x;
    struct msgcopy *msg;
    struct kv *snap;
    struct creq req;
};

/* ---------- nodes, clients, oracle ---------- */

struct dent {
    uint64_t ballot;
    uint32_t len;
    uint8_t *data;
};

struct prec {
    uint64_t seq, promised, trim;
    uint32_t n;
    struct paxos_entry *ents;
};

struct sim;

struct node {
    struct sim *sim;
    uint32_t idx, id;
    bool up;
    uint32_t inc;
    struct paxos *px;
    struct paxos_io io;
    /* disk: durable part */
    uint64_t d_promised, d_base;
    struct dent *d_log;
    size_t d_len, d_cap;
    /* disk: written, not yet synced */
    struct prec *pend;
    size_t pend_len, pend_cap;
    uint64_t last_sync_time;
    /* state machine and its durable checkpoint */
    struct kv sm, ckpt;
    uint64_t applied_seen;
    struct {
        bool active;
        uint64_t seq;
    } wpend[MAXC];
    struct {
        bool active;
        uint64_t seq, read_id;
        uint32_t key;
    } rpend[MAXC];
    uint64_t next_read_id;
    /* its monotonic clock: clk_base at simulated time clk_t0, then clock_pm
     * per mille of simulated time, plus a step clk_off in [0, jump] */
    uint32_t clock_pm;
    uint64_t clk_base, clk_t0, clk_off;
    /* until then io->random returns 0: election timeouts at their shortest */
    uint64_t rand_low_until;
    uint64_t paused_until; /* a stalled process (GC pause, VM freeze) */
};

struct client {
    uint32_t idx;
    uint64_t seq;
    bool busy;
    uint32_t kind, key, a, b;
    uint32_t target;
    uint32_t hist;
    uint64_t gen;
    uint32_t last_val[MAXK];
    uint64_t acked_max_seq;
    uint32_t next_value;
};

struct acc {
    uint64_t ballot, vhash;
    uint32_t mask;
    bool conf; /* a membership value (kept to learn the voters it installs) */
    uint8_t conf_data[1 + 4 + 4 * 16 + 4 + 4 * 16];
    uint32_t conf_len;
};

struct oconf {
    uint64_t slot;
    uint32_t voters;
};

struct slotinfo {
    bool chosen, has_state;
    uint64_t chosen_hash, chosen_ballot, state_hash;
    struct acc *accs;
    uint32_t n_accs, cap_accs;
};

struct leader_rec {
    uint64_t ballot;
    uint32_t node, inc;
};

struct sim {
    struct sim_opts o;
    struct sim_result *r;
    uint64_t rng;
    uint64_t now;
    uint64_t ev_seq;
    struct event *heap;
    size_t heap_len, heap_cap;
    uint32_t n;
    struct node nodes[MAXN];
    struct client clients[MAXC];
    bool cut[MAXN][MAXN]; /* cut[a][b]: messages a -> b are lost */
    /* fault model, drawn from the seed */
    uint32_t p_drop, p_dup, p_slow; /* per mille */
    uint32_t max_delay, disk_delay;
    uint32_t drift; /* max clock rate error, per mille */
    uint32_t jump;  /* max clock step, ms (the drift bound's jump_ms) */
    /* a lease attack on replica attack_ld runs until attack_until: no other
     * fault meanwhile, odd clients keep away from that replica */
    uint64_t attack_until;
    uint32_t attack_ld;
    bool membership_ops;
    uint32_t ckpt_every;
    bool healing;
    struct paxos_config base_cfg;
    /* oracle */
    struct slotinfo *slots;
    size_t n_slots;
    struct oconf *confs; /* chosen membership changes, by slot */
    size_t n_confs, cap_confs;
    uint32_t initial_voters;
    uint64_t changes;
    struct leader_rec *leaders;
    size_t n_leaders, cap_leaders;
    struct lc_op *hist;
    size_t n_hist, cap_hist;
    bool failed;
    uint64_t step;
};

static void fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    s->r->ok = false;
    s->r->fail_step = s->step;
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(s->r->error, sizeof(s->r->error), "t=%" PRIu64 "ms: ", s->now);
    vsnprintf(s->r->error + k, sizeof(s->r->error) - (size_t)k, fmt, ap);
    va_end(ap);
}

static uint64_t rnd(struct sim *s, uint64_t n)
{
    return n ? rng_next(&s->rng) % n : 0;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

static void *xcalloc(size_t n, size_t m)
{
    void *q = calloc(n ? n : 1, m);
    if (!q)
        abort();
    return q;
}

static void heap_push(struct sim *s, struct event *e)
{
    e->seq = s->ev_seq++;
    if (s->heap_len == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 256;
        s->heap = xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
    }
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        struct event *pp = &s->heap[par];
        if (pp->time < e->time || (pp->time == e->time && pp->seq < e->seq))
            break;
        s->heap[i] = *pp;
        i = par;
    }
    s->heap[i] = *e;
}

static bool ev_less(const struct event *a, const struct event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void heap_pop(struct sim *s, struct event *out)
{
    *out = s->heap[0];
    struct event last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct event *best = &last;
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

static void event_free(struct event *e)
{
    if (e->msg) {
        for (uint32_t i = 0; i < e->msg->m.n_entries; i++)
            free((void *)e->msg->ents[i].data);
        free(e->msg->ents);
        free(e->msg);
    }
    free(e->snap);
}

static struct msgcopy *msg_clone(const struct paxos_msg *m)
{
    struct msgcopy *c = xcalloc(1, sizeof(*c));
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

/* Whether the network loses this message (never during a lease attack). */
static bool net_drop(struct sim *s)
{
    return s->now >= s->attack_until && rnd(s, 1000) < s->p_drop;
}

/* Network delay for one delivery. */
static uint64_t net_delay(struct sim *s)
{
    uint64_t d = 1 + rnd(s, s->max_delay);
    if (rnd(s, 1000) < s->p_slow)
        d += rnd(s, 150);
    return s->now < s->attack_until ? 1 : d; /* a lease attack: as fast as it goes */
}

/* A replica's clock: simulated time at the replica's own rate (within the
 * seed's drift bound), plus a step of 0..jump ms that may change at any time —
 * so over any interval it advances by (1 +- drift) times the real time, +- jump:
 * exactly the bound paxos_lease_max assumes. A step back reaches the core as a
 * pause (it keeps the largest time it saw). */
static uint64_t node_now(const struct sim *s, const struct node *nd)
{
    return nd->clk_base + (s->now - nd->clk_t0) * nd->clock_pm / 1000 + nd->clk_off;
}

/* Changes a replica's clock rate from now on (no step). */
static void clock_set_rate(struct sim *s, struct node *nd, uint32_t pm)
{
    nd->clk_base += (s->now - nd->clk_t0) * nd->clock_pm / 1000;
    nd->clk_t0 = s->now;
    nd->clock_pm = pm;
}

/* ---------- oracle ---------- */

static struct slotinfo *slot_info(struct sim *s, uint64_t slot)
{
    if (slot >= s->n_slots) {
        size_t n = s->n_slots ? s->n_slots : 64;
        while (n <= slot)
            n *= 2;
        s->slots = xrealloc(s->slots, n * sizeof(*s->slots));
        memset(s->slots + s->n_slots, 0, (n - s->n_slots) * sizeof(*s->slots));
        s->n_slots = n;
    }
    return &s->slots[slot];
}

struct vh {
    uint64_t h;
};

static void vh_cmd(void *arg, const struct paxos_cmd *c)
{
    struct vh *v = arg;
    v->h = fnv_mix(v->h, c->client_id);
    v->h = fnv_mix(v->h, c->seq);
    v->h = fnv_mix(v->h, c->len);
    v->h = fnv_bytes(v->h, c->data, c->len);
}

static uint64_t value_hash(const uint8_t *d, uint32_t len)
{
    struct vh v = {.h = FNV_INIT};
    int n = paxos_value_decode(d, len, vh_cmd, &v);
    return fnv_mix(v.h, (uint64_t)(int64_t)n);
}

static uint64_t cmds_hash(const struct paxos_cmd *cmds, uint32_t n)
{
    struct vh v = {.h = FNV_INIT};
    for (uint32_t i = 0; i < n; i++)
        vh_cmd(&v, &cmds[i]);
    return fnv_mix(v.h, n);
}

/* Voters in force for `slot`: set by the last chosen change before it. */
static uint32_t voters_for(const struct sim *s, uint64_t slot)
{
    uint32_t v = s->initial_voters;
    for (size_t i = 0; i < s->n_confs; i++)
        if (s->confs[i].slot < slot)
            v = s->confs[i].voters;
    return v;
}

static void slot_recheck(struct sim *s, uint64_t slot);

static void oracle_conf_chosen(struct sim *s, uint64_t slot, const uint8_t *d, uint32_t len)
{
    struct paxos_membership m;
    if (paxos_value_membership(d, len, &m) != 0)
        return;
    for (size_t i = 0; i < s->n_confs; i++)
        if (s->confs[i].slot == slot)
            return;
    if (s->n_confs == s->cap_confs) {
        s->cap_confs = s->cap_confs ? s->cap_confs * 2 : 8;
        s->confs = xrealloc(s->confs, s->cap_confs * sizeof(*s->confs));
    }
    size_t k = s->n_confs++;
    while (k > 0 && s->confs[k - 1].slot > slot) {
        s->confs[k] = s->confs[k - 1];
        k--;
    }
    s->confs[k] = (struct oconf){.slot = slot, .voters = ms_mask(m.voters, m.n_voters)};
    /* slots after it may already hold accepts: judge them by the new voters */
    for (uint64_t y = slot + 1; y < s->n_slots; y++)
        if (s->slots[y].n_accs)
            slot_recheck(s, y);
}

/* A value is chosen at (slot, ballot) once a majority of the voters in force
 * for the slot (those of the last chosen change before it) durably accepted it.
 * Checks that a slot never has two chosen values. */
static void slot_recheck(struct sim *s, uint64_t slot)
{
    struct slotinfo *si = slot_info(s, slot);
    uint32_t voters = voters_for(s, slot);
    uint32_t need = (uint32_t)__builtin_popcount(voters) / 2 + 1;
    for (uint32_t i = 0; i < si->n_accs; i++) {
        struct acc *a = &si->accs[i];
        if ((uint32_t)__builtin_popcount(a->mask & voters) < need)
            continue;
        if (si->chosen && si->chosen_hash != a->vhash)
            fail(s,
                 "slot %" PRIu64 ": two different values chosen (ballots %" PRIu64 " and %" PRIu64
                 ")",
                 slot, si->chosen_ballot, a->ballot);
        if (!si->chosen || a->ballot < si->chosen_ballot) {
            si->chosen = true;
            si->chosen_hash = a->vhash;
            si->chosen_ballot = a->ballot;
            if (a->conf)
                oracle_conf_chosen(s, slot, a->conf_data, a->conf_len);
        }
    }
}

/* A replica's durable accept of (slot, ballot, value). Checks one value per
 * (slot, ballot) and that once a value is chosen, every accept at a higher
 * ballot carries it (P2b), so at most one value is ever chosen per slot. */
static void oracle_accept(struct sim *s, uint32_t node, uint64_t slot, uint64_t ballot,
                          const uint8_t *data, uint32_t len)
{
    uint64_t vh = value_hash(data, len);
    struct slotinfo *si = slot_info(s, slot);
    if (si->chosen && ballot >= si->chosen_ballot && vh != si->chosen_hash)
        fail(s,
             "slot %" PRIu64 ": replica %u accepted a different value at ballot %" PRIu64
             " after a value was chosen at ballot %" PRIu64,
             slot, node + 1, ballot, si->chosen_ballot);
    struct acc *a = NULL;
    for (uint32_t i = 0; i < si->n_accs; i++)
        if (si->accs[i].ballot == ballot)
            a = &si->accs[i];
    if (!a) {
        if (si->n_accs == si->cap_accs) {
            si->cap_accs = si->cap_accs ? si->cap_accs * 2 : 2;
            si->accs = xrealloc(si->accs, si->cap_accs * sizeof(*si->accs));
        }
        a = &si->accs[si->n_accs++];
        *a = (struct acc){.ballot = ballot, .vhash = vh, .mask = 0};
        if (paxos_value_membership(data, len, NULL) == 0 && len <= sizeof(a->conf_data)) {
            a->conf = true;
            memcpy(a->conf_data, data, len);
            a->conf_len = len;
        }
    } else if (a->vhash != vh) {
        fail(s, "slot %" PRIu64 ": two values accepted in ballot %" PRIu64, slot, ballot);
    }
    a->mask |= 1u << node;
    slot_recheck(s, slot);
}

/* ---------- network ---------- */

static void net_send_msg(struct sim *s, uint32_t from, uint32_t to, const struct paxos_msg *m)
{
    if (to >= s->n || from == to)
        return;
    if (s->cut[from][to] || net_drop(s))
        return;
    int copies = rnd(s, 1000) < s->p_dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        struct event e = {.time = s->now + net_delay(s), .type = EV_MSG, .node = to, .from = from};
        e.msg = msg_clone(m);
        heap_push(s, &e);
    }
}

static void reply_client(struct sim *s, struct node *nd, uint32_t client, uint64_t seq, int status,
                         uint32_t result, uint32_t hint)
{
    if (net_drop(s))
        return;
    struct event e = {.time = s->now + net_delay(s), .type = EV_CREP, .from = nd->idx};
    e.req = (struct creq){
        .client = client, .seq = seq, .status = status, .result = result, .hint = hint};
    heap_push(s, &e);
}

/* ---------- the io interface ---------- */

static void io_send(struct paxos_io *io, uint32_t to, const struct paxos_msg *m)
{
    struct node *nd = io->data;
    net_send_msg(nd->sim, nd->idx, to - 1, m);
}

static void io_persist(struct paxos_io *io, const struct paxos_persist *rec)
{
    struct node *nd = io->data;
    struct sim *s = nd->sim;
    if (nd->pend_len == nd->pend_cap) {
        nd->pend_cap = nd->pend_cap ? nd->pend_cap * 2 : 16;
        nd->pend = xrealloc(nd->pend, nd->pend_cap * sizeof(*nd->pend));
    }
    struct prec *p = &nd->pend[nd->pend_len++];
    p->seq = rec->seq;
    p->promised = rec->promised;
    p->trim = rec->trim_through;
    p->n = rec->n_entries;
    p->ents = xcalloc(rec->n_entries, sizeof(*p->ents));
    for (uint32_t i = 0; i < rec->n_entries; i++) {
        p->ents[i] = rec->entries[i];
        uint8_t *d = xcalloc(1, rec->entries[i].len);
        memcpy(d, rec->entries[i].data, rec->entries[i].len);
        p->ents[i].data = d;
    }
    uint64_t t = s->now + 1 + rnd(s, s->disk_delay);
    if (rnd(s, 1000) < s->p_slow)
        t += rnd(s, 100); /* an fsync stall */
    if (s->now < s->attack_until)
        t = s->now + 1; /* a lease attack: the disks as fast as they go */
    if (t < nd->last_sync_time)
        t = nd->last_sync_time;
    nd->last_sync_time = t;
    struct event e = {.time = t, .type = EV_SYNC, .node = nd->idx, .inc = nd->inc, .x = rec->seq};
    heap_push(s, &e);
}

static void sm_apply_cmd(struct sim *s, struct node *nd, const struct paxos_cmd *c)
{
    if (c->len != CMD_LEN || c->client_id >= MAXC) {
        fail(s, "malformed command in the log");
        return;
    }
    uint32_t cl = (uint32_t)c->client_id;
    uint32_t kind = c->data[0], key = c->data[1] % MAXK;
    uint32_t a = 0, b = 0;
    for (int i = 0; i < 4; i++) {
        a |= (uint32_t)c->data[2 + i] << (8 * i);
        b |= (uint32_t)c->data[6 + i] << (8 * i);
    }
    uint32_t res;
    if (c->seq <= nd->sm.last_seq[cl]) {
        /* a retry of something already applied: answer from the table */
        res = nd->sm.last_res[cl];
        if (c->seq < nd->sm.last_seq[cl])
            return;
    } else {
        if (kind == LC_PUT) {
            nd->sm.val[key] = a;
            res = 0;
        } else if (kind == LC_CAS) {
            res = nd->sm.val[key] == a;
            if (res)
                nd->sm.val[key] = b;
        } else {
            fail(s, "unknown command kind %u", kind);
            return;
        }
        nd->sm.last_seq[cl] = c->seq;
        nd->sm.last_res[cl] = res;
    }
    if (nd->wpend[cl].active && nd->wpend[cl].seq == c->seq) {
        nd->wpend[cl].active = false;
        reply_client(s, nd, cl, c->seq, 0, res, nd->id);
    }
}

static void io_apply(struct paxos_io *io, uint64_t slot, const struct paxos_cmd *cmds, uint32_t n)
{
    struct node *nd = io->data;
    struct sim *s = nd->sim;
    if (slot != nd->sm.applied + 1)
        fail(s, "replica %u applied slot %" PRIu64 " after %" PRIu64, nd->id, slot, nd->sm.applied);
    slot_recheck(s, slot);
    struct slotinfo *si = slot_info(s, slot);
    uint64_t h = cmds_hash(cmds, n);
    if (!si->chosen)
        fail(s,
             "replica %u applied slot %" PRIu64
             " that no majority durably accepted (voters %#x, accepted by %#x)",
             nd->id, slot, voters_for(s, slot), si->n_accs ? si->accs[si->n_accs - 1].mask : 0);
    else if (si->chosen_hash != h)
        fail(s, "replica %u applied a value at slot %" PRIu64 " that is not the chosen one", nd->id,
             slot);
    for (uint32_t i = 0; i < n; i++)
        sm_apply_cmd(s, nd, &cmds[i]);
    nd->sm.applied = slot;
    uint64_t sh = kv_hash(&nd->sm);
    si = slot_info(s, slot);
    if (si->has_state && si->state_hash != sh)
        fail(s, "replica %u diverged: state after slot %" PRIu64 " differs", nd->id, slot);
    si->has_state = true;
    si->state_hash = sh;
    if (slot > s->r->commits)
        s->r->commits = slot;
}

static void io_membership(struct paxos_io *io, uint64_t slot, const struct paxos_membership *m)
{
    struct node *nd = io->data;
    nd->sm.voters = ms_mask(m->voters, m->n_voters);
    nd->sm.learners = ms_mask(m->learners, m->n_learners);
}

static void io_reject(struct paxos_io *io, uint64_t client_id, uint64_t seq, int err,
                      uint32_t leader)
{
    struct node *nd = io->data;
    if (client_id < MAXC && nd->wpend[client_id].active && nd->wpend[client_id].seq == seq) {
        nd->wpend[client_id].active = false;
        reply_client(nd->sim, nd, (uint32_t)client_id, seq, err, 0, leader);
    }
}

static void io_read_done(struct paxos_io *io, uint64_t read_id, int status, uint32_t leader)
{
    struct node *nd = io->data;
    for (uint32_t c = 0; c < MAXC; c++) {
        if (nd->rpend[c].active && nd->rpend[c].read_id == read_id) {
            nd->rpend[c].active = false;
            uint32_t v = status == 0 ? nd->sm.val[nd->rpend[c].key] : 0;
            reply_client(nd->sim, nd, c, nd->rpend[c].seq, status, v, leader);
        }
    }
}

static void io_send_snapshot(struct paxos_io *io, uint32_t to)
{
    struct node *nd = io->data;
    struct sim *s = nd->sim;
    uint32_t t = to - 1;
    if (t >= s->n || s->cut[nd->idx][t] || net_drop(s))
        return;
    struct event e = {
        .time = s->now + net_delay(s) + 5, .type = EV_SNAP, .node = t, .from = nd->idx};
    e.snap = xcalloc(1, sizeof(*e.snap));
    *e.snap = nd->sm;
    heap_push(s, &e);
}

static uint64_t io_random(struct paxos_io *io)
{
    struct node *nd = io->data;
    if (nd->sim->now < nd->rand_low_until)
        return 0; /* the adversary's draw: safety must not rest on the jitter */
    return rng_next(&nd->sim->rng);
}

/* ---------- node lifecycle ---------- */

static void disk_free_pending(struct node *nd)
{
    for (size_t i = 0; i < nd->pend_len; i++) {
        for (uint32_t k = 0; k < nd->pend[i].n; k++)
            free((void *)nd->pend[i].ents[k].data);
        free(nd->pend[i].ents);
    }
    nd->pend_len = 0;
}

static void disk_trim(struct node *nd, uint64_t t)
{
    if (t <= nd->d_base)
        return;
    size_t k = (size_t)(t - nd->d_base);
    if (k > nd->d_len)
        k = nd->d_len;
    if (k) {
        for (size_t i = 0; i < k; i++)
            free(nd->d_log[i].data);
        memmove(nd->d_log, nd->d_log + k, (nd->d_len - k) * sizeof(*nd->d_log));
        nd->d_len -= k;
    }
    nd->d_base = t;
}

static void disk_store(struct node *nd, const struct paxos_entry *e)
{
    if (e->slot <= nd->d_base)
        return;
    size_t idx = (size_t)(e->slot - nd->d_base - 1);
    if (idx >= nd->d_len) {
        if (idx >= nd->d_cap) {
            size_t nc = nd->d_cap ? nd->d_cap : 64;
            while (nc <= idx)
                nc *= 2;
            nd->d_log = xrealloc(nd->d_log, nc * sizeof(*nd->d_log));
            nd->d_cap = nc;
        }
        memset(nd->d_log + nd->d_len, 0, (idx + 1 - nd->d_len) * sizeof(*nd->d_log));
        nd->d_len = idx + 1;
    }
    struct dent *d = &nd->d_log[idx];
    free(d->data);
    d->data = xcalloc(1, e->len);
    memcpy(d->data, e->data, e->len);
    d->len = e->len;
    d->ballot = e->ballot;
}

static void node_start(struct sim *s, struct node *nd)
{
    nd->io = (struct paxos_io){.data = nd,
                               .send = io_send,
                               .persist = io_persist,
                               .apply = io_apply,
                               .reject = io_reject,
                               .read_done = io_read_done,
                               .send_snapshot = io_send_snapshot,
                               .random = io_random,
                               .membership = io_membership};
    struct paxos_config cfg = s->base_cfg;
    cfg.id = nd->id;
    struct paxos_entry *ents = xcalloc(nd->d_len, sizeof(*ents));
    uint32_t n = 0;
    for (size_t i = 0; i < nd->d_len; i++) {
        if (!nd->d_log[i].data)
            continue;
        ents[n++] = (struct paxos_entry){.slot = nd->d_base + 1 + i,
                                         .ballot = nd->d_log[i].ballot,
                                         .len = nd->d_log[i].len,
                                         .data = nd->d_log[i].data};
    }
    nd->sm = nd->ckpt;
    struct paxos_restore rs = {
        .promised = nd->d_promised, .applied = nd->ckpt.applied, .n_entries = n, .entries = ents};
    if (nd->ckpt.voters)
        ms_from_masks(nd->ckpt.voters, nd->ckpt.learners, &rs.membership);
    int rc = paxos_new(&cfg, &nd->io, &rs, node_now(s, nd), &nd->px);
    free(ents);
    if (rc != 0) {
        fail(s, "paxos_new failed: %s", cairn_strerror(rc));
        return;
    }
    nd->up = true;
    nd->inc++;
    nd->applied_seen = nd->sm.applied;
    memset(nd->wpend, 0, sizeof(nd->wpend));
    memset(nd->rpend, 0, sizeof(nd->rpend));
    nd->last_sync_time = 0;
    struct event e = {
        .time = s->now + 1 + rnd(s, TICK_MS), .type = EV_TICK, .node = nd->idx, .inc = nd->inc};
    heap_push(s, &e);
}

static void node_crash(struct sim *s, struct node *nd)
{
    paxos_free(nd->px);
    nd->px = NULL;
    nd->up = false;
    disk_free_pending(nd); /* unsynced writes are lost */
    s->r->crashes++;
}

/* ---------- per-step invariants ---------- */

static void check_node(struct sim *s, struct node *nd)
{
    if (!nd->up)
        return;
    struct paxos_status st;
    paxos_status(nd->px, &st);
    if (st.applied < nd->applied_seen)
        fail(s, "replica %u: applied index went back from %" PRIu64 " to %" PRIu64, nd->id,
             nd->applied_seen, st.applied);
    nd->applied_seen = st.applied;
    if (st.applied != nd->sm.applied)
        fail(s, "replica %u: core applied %" PRIu64 " but state machine at %" PRIu64, nd->id,
             st.applied, nd->sm.applied);
    if (st.commit < st.applied || st.base > st.applied)
        fail(s, "replica %u: inconsistent indexes", nd->id);
    if (st.role == PAXOS_LEADER) {
        if (PAXOS_BALLOT_ID(st.ballot) != nd->id)
            fail(s, "replica %u leads a ballot that is not its own", nd->id);
        struct leader_rec *lr = NULL;
        for (size_t i = 0; i < s->n_leaders; i++)
            if (s->leaders[i].ballot == st.ballot)
                lr = &s->leaders[i];
        if (!lr) {
            if (s->n_leaders == s->cap_leaders) {
                s->cap_leaders = s->cap_leaders ? s->cap_leaders * 2 : 16;
                s->leaders = xrealloc(s->leaders, s->cap_leaders * sizeof(*s->leaders));
            }
            s->leaders[s->n_leaders++] =
                (struct leader_rec){.ballot = st.ballot, .node = nd->idx, .inc = nd->inc};
            s->r->elections++;
        } else if (lr->node != nd->idx || lr->inc != nd->inc) {
            fail(s, "two leaderships for ballot %" PRIu64, st.ballot);
        }
    }
}

/* The state machine checkpoint is durable at once (a synced LevelDB write in
 * the daemon); the core may then trim the log up to it. */
static void maybe_checkpoint(struct sim *s, struct node *nd)
{
    if (!nd->up || nd->sm.applied < nd->ckpt.applied + s->ckpt_every)
        return;
    nd->ckpt = nd->sm;
    paxos_trim(nd->px, nd->ckpt.applied);
}

/* ---------- clients ---------- */

static void client_send(struct sim *s, struct client *c)
{
    if (!net_drop(s)) {
        struct event e = {.time = s->now + net_delay(s), .type = EV_CREQ, .node = c->target};
        e.req = (struct creq){
            .client = c->idx, .seq = c->seq, .kind = c->kind, .key = c->key, .a = c->a, .b = c->b};
        heap_push(s, &e);
    }
    c->gen++;
    struct event t = {
        .time = s->now + CLIENT_TIMEOUT_MS, .type = EV_CTIMER, .x = c->gen, .from = c->idx};
    heap_push(s, &t);
}

static void client_start(struct sim *s, struct client *c)
{
    if (s->healing || c->busy)
        return;
    uint32_t r = (uint32_t)rnd(s, 100);
    c->kind = r < 40 ? LC_GET : (r < 80 ? LC_PUT : LC_CAS);
    if (s->now < s->attack_until) /* the replica under attack is read, the others written */
        c->kind = c->idx % 2 ? LC_PUT : LC_GET;
    c->key = (uint32_t)rnd(s, s->o.keys);
    c->a = c->b = 0;
    if (c->kind == LC_PUT) {
        c->a = ++c->next_value * MAXC + c->idx + 1; /* unique per client */
    } else if (c->kind == LC_CAS) {
        c->a = rnd(s, 4) ? c->last_val[c->key] : 0;
        c->b = ++c->next_value * MAXC + c->idx + 1;
    }
    c->seq++;
    c->busy = true;
    if (s->n_hist == s->cap_hist) {
        s->cap_hist = s->cap_hist ? s->cap_hist * 2 : 256;
        s->hist = xrealloc(s->hist, s->cap_hist * sizeof(*s->hist));
    }
    c->hist = (uint32_t)s->n_hist;
    s->hist[s->n_hist++] = (struct lc_op){.kind = c->kind,
                                          .key = c->key,
                                          .a = c->a,
                                          .b = c->b,
                                          .known = false,
                                          .call = s->now,
                                          .ret = LC_NEVER};
    client_send(s, c);
}

/* During a lease attack, odd clients write through the other replicas (they
 * do not follow hints to the leader under attack), even ones read from it. */
static void client_keep_away(struct sim *s, struct client *c)
{
    if (s->now < s->attack_until && c->idx % 2 && c->target == s->attack_ld && s->n > 1)
        c->target = (c->target + 1) % s->n;
}

static void client_reply(struct sim *s, struct client *c, const struct creq *q)
{
    if (!c->busy || q->seq != c->seq)
        return; /* stale */
    if (q->status == 0) {
        struct lc_op *op = &s->hist[c->hist];
        op->known = true;
        op->ret = s->now;
        op->result = q->result;
        if (c->kind == LC_GET)
            c->last_val[c->key] = q->result;
        else if (c->seq > c->acked_max_seq)
            c->acked_max_seq = c->seq;
        if (c->kind == LC_PUT)
            c->last_val[c->key] = c->a;
        if (c->kind == LC_CAS && q->result)
            c->last_val[c->key] = c->b;
        c->busy = false;
        s->r->ops_done++;
        c->gen++;
        struct event e = {.time = s->now + rnd(s, 20), .type = EV_CSTART, .from = c->idx};
        heap_push(s, &e);
        return;
    }
    /* not the leader / busy: retry soon, following the hint */
    /* hints can be stale (a removed replica remembers its last leader): follow
     * one only half of the time, else try the next replica */
    if (q->status == CAIRN_E_NOTLEADER && q->hint >= 1 && q->hint <= s->n &&
        q->hint - 1 != c->target && rnd(s, 2))
        c->target = q->hint - 1;
    else
        c->target = (c->target + 1) % s->n;
    client_keep_away(s, c);
    c->gen++;
    struct event t = {
        .time = s->now + 5 + rnd(s, 10), .type = EV_CTIMER, .x = c->gen, .from = c->idx};
    heap_push(s, &t);
}

static void node_client_req(struct sim *s, struct node *nd, const struct creq *q)
{
    uint32_t hint = 0;
    if (q->kind == LC_GET) {
        uint64_t id = ++nd->next_read_id;
        /* register first: read_done may come synchronously */
        uint32_t cl = q->client;
        nd->rpend[cl].active = true;
        nd->rpend[cl].seq = q->seq;
        nd->rpend[cl].read_id = id;
        nd->rpend[cl].key = q->key;
        int rc = paxos_read(nd->px, id, node_now(s, nd), &hint);
        if (rc != 0) {
            nd->rpend[cl].active = false;
            reply_client(s, nd, cl, q->seq, rc, 0, hint);
        }
        return;
    }
    uint8_t b[CMD_LEN];
    cmd_encode(b, q->kind, q->key, q->a, q->b);
    uint32_t cl = q->client;
    nd->wpend[cl].active = true;
    nd->wpend[cl].seq = q->seq;
    int rc = paxos_submit(nd->px, cl, q->seq, b, CMD_LEN, node_now(s, nd), &hint);
    if (rc != 0) {
        nd->wpend[cl].active = false;
        reply_client(s, nd, cl, q->seq, rc, 0, hint);
    }
}

/* ---------- faults ---------- */

static void heal_partitions(struct sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
}

static struct node *current_leader(struct sim *s)
{
    struct node *best = NULL;
    uint64_t ballot = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        struct paxos_status st;
        if (!s->nodes[i].up)
            continue;
        paxos_status(s->nodes[i].px, &st);
        if (st.role == PAXOS_LEADER && st.ballot >= ballot) {
            best = &s->nodes[i];
            ballot = st.ballot;
        }
    }
    return best;
}

/* Asks the leader for one membership change: add an outsider as a learner,
 * promote a learner, or remove a member (never below two voters). */
static void membership_op(struct sim *s)
{
    struct node *ld = current_leader(s);
    if (!ld)
        return;
    struct paxos_membership m;
    paxos_membership_get(ld->px, &m);
    uint32_t voters = ms_mask(m.voters, m.n_voters), learners = ms_mask(m.learners, m.n_learners);
    uint32_t outside = ((1u << s->n) - 1) & ~(voters | learners);
    uint32_t op = 0, pick = 0;
    uint32_t r = (uint32_t)rnd(s, 3);
    if (r == 0 && learners) {
        op = PAXOS_PROMOTE;
        pick = learners;
    } else if (r == 1 && outside) {
        op = PAXOS_ADD_LEARNER;
        pick = outside;
    } else if (__builtin_popcount(voters) > 2 || learners) {
        op = PAXOS_REMOVE;
        pick = __builtin_popcount(voters) > 2 ? voters | learners : learners;
    }
    if (!op)
        return;
    uint32_t k = (uint32_t)rnd(s, (uint64_t)__builtin_popcount(pick));
    uint32_t id = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if ((pick >> i) & 1 && k-- == 0)
            id = i + 1;
    uint32_t hint;
    if (paxos_change(ld->px, op, id, node_now(s, ld), &hint) == 0)
        s->changes++;
}

/* The worst case the drift bound allows, aimed at the lease, in two steps.
 * First (lease_attack): the followers' election timeouts are drawn at their
 * shortest (io->random is the adversary's: safety must not rest on it), the
 * clients split (even ones read from the leader, odd ones write through the
 * others), the network and disks turn as fast as they go (so a new leader is
 * elected and commits as early as the protocol lets it), and half the time
 * one follower stops hearing the leader a heartbeat later (its timer runs out
 * first, and it asks the others for votes while they may still be in the
 * lease window).
 * Two heartbeats later, or up to T/2 after f stopped hearing the leader
 * (lease_attack_cut): the leader's clock runs as slow as
 * it may and steps back (its lease lasts as long as it can in real time),
 * every other replica's runs as fast as it may and steps forward (it stops
 * refusing votes as early as it can); then the leader is cut off from the
 * other replicas, but not from the clients, which keep reading from it — or
 * one time in three it first hands leadership over (paxos_transfer) and only
 * stops hearing the others; half the time one follower also crashes and
 * restarts at once. A lease longer than paxos_lease_max allows, or a replica
 * that votes within the window, shows up as a stale read. */
static void lease_attack(struct sim *s)
{
    struct node *ld = current_leader(s);
    if (!ld || s->n < 2)
        return;
    s->r->lease_attacks++;
    s->attack_ld = ld->idx;
    s->attack_until = s->now + 5 * s->base_cfg.election_ms;
    heal_partitions(s);
    for (uint32_t i = 0; i < s->n; i++)
        if (i != ld->idx)
            s->nodes[i].rand_low_until = s->now + 4 * s->base_cfg.election_ms;
    for (uint32_t c = 0; c < s->o.clients; c++) {
        uint32_t other = (ld->idx + 1 + (uint32_t)rnd(s, s->n - 1)) % s->n;
        s->clients[c].target = c % 2 ? other : ld->idx;
    }
    uint64_t cut = s->now + 2 * s->base_cfg.heartbeat_ms;
    if (rnd(s, 2)) {
        /* one heartbeat on (its election timeout drawn at the shortest by
         * then), f stops hearing the leader; the others hear it up to half an
         * election timeout longer, so f stands while they may be in the window */
        uint32_t f = (ld->idx + 1 + (uint32_t)rnd(s, s->n - 1)) % s->n;
        struct event e = {.time = s->now + s->base_cfg.heartbeat_ms + 1,
                          .type = EV_ATTACK,
                          .node = ld->idx,
                          .from = f,
                          .x = 1};
        heap_push(s, &e);
        cut = e.time + 1 + rnd(s, s->base_cfg.election_ms / 2);
    }
    struct event e = {.time = cut, .type = EV_ATTACK, .node = ld->idx};
    heap_push(s, &e);
}

static void lease_attack_cut(struct sim *s, uint32_t ld)
{
    struct node *l = &s->nodes[ld];
    bool transfer = false;
    uint32_t chosen;
    if (l->up && rnd(s, 3) == 0 && paxos_transfer(l->px, 0, node_now(s, l), &chosen) == 0) {
        s->r->transfers++;
        transfer = true;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        clock_set_rate(s, nd, i == ld ? 1000 - s->drift : 1000 + s->drift);
        nd->clk_off = i == ld ? 0 : s->jump;
        if (i != ld) {
            s->cut[i][ld] = true;
            s->cut[ld][i] = !transfer; /* its TIMEOUT_NOW gets through */
        }
    }
    if (rnd(s, 2)) {
        struct node *g = &s->nodes[(ld + 1 + (uint32_t)rnd(s, s->n - 1)) % s->n];
        if (g->up) {
            node_crash(s, g);
            struct event e = {.time = s->now + 1 + rnd(s, 5), .type = EV_RESTART, .node = g->idx};
            heap_push(s, &e);
        }
    }
}

static void fault(struct sim *s)
{
    if (s->membership_ops && rnd(s, 100) < 60)
        membership_op(s);
    if (s->now < s->attack_until)
        return;
    if (s->base_cfg.lease_ms && rnd(s, 100) < 4) {
        lease_attack(s);
        return;
    }
    if ((s->drift || s->jump) && rnd(s, 100) < 10) {
        /* a clock changes its rate or steps, within the bound */
        struct node *nd = &s->nodes[rnd(s, s->n)];
        if (rnd(s, 2))
            clock_set_rate(s, nd, 1000 - s->drift + (uint32_t)rnd(s, 2 * s->drift + 1));
        else
            nd->clk_off = rnd(s, s->jump + 1);
        return;
    }
    uint32_t r = (uint32_t)rnd(s, 100);
    uint32_t a = (uint32_t)rnd(s, s->n);
    if (rnd(s, 2)) {
        /* aim at the leader half of the time: that is where the bugs live */
        for (uint32_t i = 0; i < s->n; i++) {
            struct paxos_status st;
            if (!s->nodes[i].up)
                continue;
            paxos_status(s->nodes[i].px, &st);
            if (st.role == PAXOS_LEADER)
                a = i;
        }
    }
    if (r < 20) {
        struct node *nd = &s->nodes[a];
        if (nd->up) {
            node_crash(s, nd);
            struct event e = {.time = s->now + 20 + rnd(s, 1500), .type = EV_RESTART, .node = a};
            heap_push(s, &e);
        }
    } else if (r < 35) {
        for (uint32_t i = 0; i < s->n; i++)
            s->cut[a][i] = s->cut[i][a] = i != a;
    } else if (r < 45) {
        uint32_t mask = (uint32_t)rnd(s, 1u << s->n);
        for (uint32_t i = 0; i < s->n; i++)
            for (uint32_t j = 0; j < s->n; j++)
                s->cut[i][j] = ((mask >> i) & 1) != ((mask >> j) & 1);
    } else if (r < 55) {
        uint32_t b = (uint32_t)rnd(s, s->n);
        if (a != b)
            s->cut[a][b] = true; /* one direction only */
    } else if (r < 62) {
        for (uint32_t i = 0; i < s->n; i++)
            s->cut[a][i] = i != a; /* a can receive but not send */
    } else if (r < 80) {
        heal_partitions(s);
    } else if (r < 92) {
        /* stall a replica: it handles nothing until it resumes, then catches up
         * on everything queued (a deposed leader must not serve stale reads) */
        s->nodes[a].paused_until = s->now + 50 + rnd(s, 1000);
        if (rnd(s, 2)) /* ... and cut off while stalled */
            for (uint32_t i = 0; i < s->n; i++)
                s->cut[a][i] = s->cut[i][a] = i != a;
    } else if (r < 96) {
        /* the leader hands over: to any caught-up voter, or a named replica */
        struct node *ld = current_leader(s);
        uint32_t chosen, to = rnd(s, 2) ? 0 : a + 1;
        if (ld && paxos_transfer(ld->px, to, node_now(s, ld), &chosen) == 0)
            s->r->transfers++;
    }
}

/* ---------- main loop ---------- */

static uint64_t trace_event(struct sim *s, const struct event *e)
{
    uint64_t h = s->r->trace_hash;
    h = fnv_mix(h, e->time);
    h = fnv_mix(h, (uint64_t)e->type);
    h = fnv_mix(h, e->node);
    h = fnv_mix(h, e->from);
    h = fnv_mix(h, e->x);
    if (e->msg) {
        h = fnv_mix(h, e->msg->m.type);
        h = fnv_mix(h, e->msg->m.ballot);
        h = fnv_mix(h, e->msg->m.commit);
        h = fnv_mix(h, e->msg->m.match);
        h = fnv_mix(h, e->msg->m.n_entries);
    }
    if (e->type == EV_CREQ || e->type == EV_CREP) {
        h = fnv_mix(h, e->req.client);
        h = fnv_mix(h, e->req.seq);
        h = fnv_mix(h, (uint64_t)(int64_t)e->req.status);
        h = fnv_mix(h, e->req.result);
    }
    if (s->o.trace) {
        static const char *names[] = {"?",    "msg",    "snap",   "sync",  "tick",    "creq",
                                      "crep", "ctimer", "cstart", "fault", "restart", "attack"};
        fprintf(s->o.trace, "%" PRIu64 " t=%" PRIu64 " %s node=%u from=%u x=%" PRIu64, s->step,
                e->time, names[e->type], e->node + 1, e->from + 1, e->x);
        if (e->msg)
            fprintf(s->o.trace, " %s b=%" PRIu64 ".%u c=%" PRIu64 " m=%" PRIu64 " ok=%u n=%u",
                    paxos_msg_type_name(e->msg->m.type), PAXOS_BALLOT_ROUND(e->msg->m.ballot),
                    PAXOS_BALLOT_ID(e->msg->m.ballot), e->msg->m.commit, e->msg->m.match,
                    e->msg->m.ok, e->msg->m.n_entries);
        if (e->type == EV_CREQ || e->type == EV_CREP)
            fprintf(s->o.trace, " client=%u seq=%" PRIu64 " kind=%u key=%u st=%d res=%u",
                    e->req.client, e->req.seq, e->req.kind, e->req.key, e->req.status,
                    e->req.result);
        fputc('\n', s->o.trace);
    }
    return h;
}

static void do_event(struct sim *s, struct event *e)
{
    struct node *nd = e->type == EV_CREP || e->type == EV_CTIMER || e->type == EV_CSTART ||
                              e->type == EV_FAULT || e->type == EV_ATTACK
                          ? NULL
                          : &s->nodes[e->node];
    switch (e->type) {
    case EV_MSG:
        if (nd->up && !s->cut[e->from][e->node]) {
            int rc = paxos_recv(nd->px, &e->msg->m, node_now(s, nd));
            if (rc != 0)
                fail(s, "replica %u rejected a well-formed message: %s", nd->id,
                     cairn_strerror(rc));
        }
        break;
    case EV_SNAP:
        if (nd->up && !s->cut[e->from][e->node] &&
            paxos_snapshot_wanted(nd->px, e->snap->applied)) {
            struct slotinfo *si = slot_info(s, e->snap->applied);
            if (si->has_state && si->state_hash != kv_hash(e->snap))
                fail(s, "snapshot at slot %" PRIu64 " differs from the applied state",
                     e->snap->applied);
            nd->sm = *e->snap;
            nd->ckpt = *e->snap; /* installed durably */
            s->r->snapshots++;
            struct paxos_membership m;
            ms_from_masks(e->snap->voters, e->snap->learners, &m);
            paxos_snapshot_installed(nd->px, e->from + 1, e->snap->applied,
                                     e->snap->voters ? &m : NULL, node_now(s, nd));
        }
        break;
    case EV_SYNC:
        if (nd->up && nd->inc == e->inc) {
            size_t k = 0;
            while (k < nd->pend_len && nd->pend[k].seq <= e->x) {
                struct prec *p = &nd->pend[k];
                nd->d_promised = p->promised;
                disk_trim(nd, p->trim);
                for (uint32_t i = 0; i < p->n; i++) {
                    disk_store(nd, &p->ents[i]);
                    oracle_accept(s, nd->idx, p->ents[i].slot, p->ents[i].ballot, p->ents[i].data,
                                  p->ents[i].len);
                    free((void *)p->ents[i].data);
                }
                free(p->ents);
                k++;
            }
            if (k) {
                memmove(nd->pend, nd->pend + k, (nd->pend_len - k) * sizeof(*nd->pend));
                nd->pend_len -= k;
            }
            paxos_persisted(nd->px, e->x, node_now(s, nd));
        }
        break;
    case EV_TICK:
        if (nd->up && nd->inc == e->inc) {
            paxos_tick(nd->px, node_now(s, nd));
            struct event t = {
                .time = s->now + TICK_MS, .type = EV_TICK, .node = e->node, .inc = e->inc};
            heap_push(s, &t);
        }
        break;
    case EV_CREQ:
        if (nd->up)
            node_client_req(s, nd, &e->req);
        break;
    case EV_CREP:
        client_reply(s, &s->clients[e->req.client], &e->req);
        break;
    case EV_CTIMER: {
        struct client *c = &s->clients[e->from];
        if (c->busy && e->x == c->gen) {
            if (e->time - s->hist[c->hist].call >= CLIENT_TIMEOUT_MS && rnd(s, 2))
                c->target = (c->target + 1) % s->n;
            client_keep_away(s, c);
            client_send(s, c);
        }
        break;
    }
    case EV_CSTART:
        client_start(s, &s->clients[e->from]);
        break;
    case EV_FAULT:
        if (!s->healing) {
            fault(s);
            struct event f = {.time = s->now + 100 + rnd(s, 500), .type = EV_FAULT};
            heap_push(s, &f);
        }
        break;
    case EV_RESTART:
        if (!nd->up)
            node_start(s, nd);
        break;
    case EV_ATTACK:
        if (s->healing)
            break;
        if (e->x == 1)
            s->cut[e->node][e->from] = true;
        else
            lease_attack_cut(s, e->node);
        break;
    }
    if (nd && !s->failed) {
        maybe_checkpoint(s, nd);
        check_node(s, nd);
    }
}

/* Replicas in the leader's membership (all replicas if there is no leader). */
static uint32_t members(struct sim *s)
{
    struct node *ld = current_leader(s);
    if (!ld)
        return (1u << s->n) - 1;
    struct paxos_membership m;
    paxos_membership_get(ld->px, &m);
    return ms_mask(m.voters, m.n_voters) | ms_mask(m.learners, m.n_learners);
}

static bool converged(struct sim *s)
{
    for (uint32_t i = 0; i < s->o.clients; i++)
        if (s->clients[i].busy)
            return false;
    for (uint32_t i = 0; i < s->n; i++)
        if (!s->nodes[i].up)
            return false;
    struct node *ld = current_leader(s);
    if (!ld)
        return false;
    struct paxos_status ls;
    paxos_status(ld->px, &ls);
    if (ls.commit < ls.term_start || ls.last != ls.commit)
        return false;
    uint32_t mem = members(s);
    for (uint32_t i = 0; i < s->n; i++) {
        struct paxos_status st;
        paxos_status(s->nodes[i].px, &st);
        if (((mem >> i) & 1) && st.applied != ls.applied)
            return false;
    }
    return true;
}

void sim_opts_default(struct sim_opts *o, uint64_t seed, uint32_t replicas, uint64_t steps)
{
    memset(o, 0, sizeof(*o));
    o->seed = seed;
    o->replicas = replicas;
    o->steps = steps;
    o->clients = 0; /* from the seed */
    o->keys = 0;
}

static void final_checks(struct sim *s)
{
    /* all members hold the same state */
    uint32_t mem = members(s);
    struct node *ref = current_leader(s);
    if (!ref) {
        fail(s, "no leader at the end");
        return;
    }
    uint64_t h0 = kv_hash(&ref->sm);
    for (uint32_t i = 0; i < s->n; i++)
        if (((mem >> i) & 1) && kv_hash(&s->nodes[i].sm) != h0)
            fail(s, "replicas %u and %u hold different final states", ref->id, i + 1);
    /* every acknowledged write survived (the dedup table is replicated state) */
    for (uint32_t c = 0; c < s->o.clients; c++)
        if (ref->sm.last_seq[c] < s->clients[c].acked_max_seq)
            fail(s, "client %u: acknowledged write seq %" PRIu64 " lost (state has %" PRIu64 ")", c,
                 s->clients[c].acked_max_seq, ref->sm.last_seq[c]);
    uint32_t bad = 0;
    if (!s->failed && !lc_check(s->hist, (uint32_t)s->n_hist, &bad))
        fail(s, "history of key %u is not linearizable", bad);
}

bool sim_run(const struct sim_opts *o, struct sim_result *r)
{
    memset(r, 0, sizeof(*r));
    r->ok = true;
    r->trace_hash = FNV_INIT;
    struct sim *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->r = r;
    s->n = o->replicas < 1 ? 1 : (o->replicas > MAXN ? MAXN : o->replicas);
    s->rng = o->seed * 0x2545F4914F6CDD1Dull + 0x1234567;
    if (s->o.clients == 0 || s->o.clients > MAXC)
        s->o.clients = 2 + (uint32_t)rnd(s, 4);
    if (s->o.keys == 0 || s->o.keys > MAXK)
        s->o.keys = 1 + (uint32_t)rnd(s, 3);
    /* fault intensities for this seed */
    s->p_drop = (uint32_t)rnd(s, 80);
    s->p_dup = (uint32_t)rnd(s, 40);
    s->p_slow = (uint32_t)rnd(s, 100);
    s->max_delay = 2 + (uint32_t)rnd(s, 15);
    s->ckpt_every = 3 + (uint32_t)rnd(s, 30);
    s->disk_delay = 1 + (uint32_t)rnd(s, 30);
    s->drift = rnd(s, 2) ? (uint32_t)rnd(s, 400) : 0;
    s->membership_ops = rnd(s, 2);
    uint32_t ids[MAXN];
    for (uint32_t i = 0; i < s->n; i++)
        ids[i] = i + 1;
    /* with membership changes, 5-replica runs start with 3 voters: the other two
     * join as learners, get promoted, and anyone may be removed again */
    uint32_t n_init = s->membership_ops && s->n >= 5 ? 3 : s->n;
    s->initial_voters = (1u << n_init) - 1;
    paxos_config_init(&s->base_cfg, 1, n_init, ids);
    s->base_cfg.heartbeat_ms = 30;
    s->base_cfg.election_ms = 200;
    s->base_cfg.window = 1 + (uint32_t)rnd(s, 6);
    s->base_cfg.max_batch_bytes = 64 + (uint32_t)rnd(s, 256);
    s->base_cfg.max_pending = 16;
    s->base_cfg.max_msg_entries = 1 + (uint32_t)rnd(s, 8);
    /* clock steps of up to 15 ms in half the seeds; leases in three seeds out
     * of four, as long as the drift bound (rate and steps) allows */
    s->jump = rnd(s, 2) ? (uint32_t)rnd(s, 16) : 0;
    if (rnd(s, 4))
        s->base_cfg.lease_ms = paxos_lease_max(s->base_cfg.election_ms, s->drift * 1000, s->jump);
    for (uint32_t i = 0; i < s->n; i++) {
        s->nodes[i].sim = s;
        s->nodes[i].idx = i;
        s->nodes[i].id = i + 1;
        s->nodes[i].clock_pm =
            s->drift ? 1000 - s->drift + (uint32_t)rnd(s, 2 * s->drift + 1) : 1000;
        s->nodes[i].clk_off = rnd(s, s->jump + 1);
        node_start(s, &s->nodes[i]);
    }
    for (uint32_t c = 0; c < s->o.clients; c++) {
        s->clients[c].idx = c;
        s->clients[c].target = (uint32_t)rnd(s, s->n);
        struct event e = {.time = 1 + rnd(s, 100), .type = EV_CSTART, .from = c};
        heap_push(s, &e);
    }
    struct event f = {.time = 300 + rnd(s, 500), .type = EV_FAULT};
    heap_push(s, &f);

    uint64_t heal_deadline = 0;
    while (!s->failed && s->heap_len) {
        if (!s->healing && s->step >= o->steps) {
            /* heal: no more faults, every replica back, let clients finish */
            s->healing = true;
            heal_partitions(s);
            s->p_drop = s->p_dup = s->p_slow = 0;
            for (uint32_t i = 0; i < s->n; i++)
                s->nodes[i].paused_until = 0;
            for (uint32_t i = 0; i < s->n; i++)
                if (!s->nodes[i].up)
                    node_start(s, &s->nodes[i]);
            heal_deadline = s->now + HEAL_MAX_MS;
        }
        if (s->healing) {
            if (converged(s))
                break;
            if (s->now > heal_deadline) {
                char st[320];
                size_t off = 0;
                for (uint32_t i = 0; i < s->n && off < sizeof(st) - 64; i++) {
                    struct paxos_status ps;
                    struct paxos_membership m;
                    paxos_status(s->nodes[i].px, &ps);
                    paxos_membership_get(s->nodes[i].px, &m);
                    off += (size_t)snprintf(st + off, sizeof(st) - off,
                                            " [%u: role %u commit %" PRIu64 " voters %#x]", i + 1,
                                            ps.role, ps.commit, ms_mask(m.voters, m.n_voters));
                }
                fail(s, "no progress %d ms after healing (liveness):%s", HEAL_MAX_MS, st);
                break;
            }
        }
        struct event e;
        heap_pop(s, &e);
        s->now = e.time;
        if ((e.type == EV_MSG || e.type == EV_SNAP || e.type == EV_SYNC || e.type == EV_TICK ||
             e.type == EV_CREQ) &&
            s->nodes[e.node].paused_until > s->now) {
            /* the process is stalled; after it resumes, its timer may fire only
             * after it has worked through what queued up */
            e.time = s->nodes[e.node].paused_until;
            if (e.type == EV_TICK)
                e.time += rnd(s, 3 * TICK_MS);
            heap_push(s, &e);
            continue;
        }
        s->step++;
        r->trace_hash = trace_event(s, &e);
        do_event(s, &e);
        event_free(&e);
    }
    if (!s->failed)
        final_checks(s);
    r->steps = s->step;
    r->sim_ms = s->now;
    r->trace_hash = fnv_mix(r->trace_hash, kv_hash(&s->nodes[0].sm));
    r->changes = s->changes;

    for (size_t i = 0; i < s->heap_len; i++)
        event_free(&s->heap[i]);
    free(s->heap);
    for (uint32_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        paxos_free(nd->px);
        disk_free_pending(nd);
        free(nd->pend);
        for (size_t k = 0; k < nd->d_len; k++)
            free(nd->d_log[k].data);
        free(nd->d_log);
    }
    for (size_t i = 0; i < s->n_slots; i++)
        free(s->slots[i].accs);
    free(s->slots);
    free(s->leaders);
    free(s->confs);
    free(s->hist);
    free(s);
    return r->ok;
}
