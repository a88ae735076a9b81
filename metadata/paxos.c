/* Multi-Paxos protocol core: see paxos.h for the contract and docs/paxos.md for
 * the protocol and its invariants. */
#include "paxos.h"

#include "cn_error.h"
#include "cn_log.h"

#include <stdlib.h>
#include <string.h>

#define MOD "paxos"
/* An acceptor ignores slots further than this beyond its trim point. */
#define MAX_LOG_SPAN         (1u << 16)
#define MAX_MSG_ENTRIES_HARD 256
#define PLACEHOLDER          UINT64_MAX
#define LEASE_RING           64

struct log_ent {
    uint64_t ballot;
    uint64_t pseq; /* persist record that wrote it (0: restored, durable) */
    uint32_t len;
    bool queued;   /* written in memory, not yet handed to io->persist */
    uint8_t *data; /* NULL: slot empty */
};

struct peer {
    uint32_t id;
    uint64_t match;      /* highest slot known durably accepted in our ballot (or chosen) */
    uint64_t reported;   /* match in its latest ack: lower than match after it restarted */
    uint64_t next;       /* next slot to send */
    uint64_t acked_read; /* highest read round acknowledged in our ballot */
    uint64_t last_ack;   /* time of the last ACCEPTED in our ballot */
    uint64_t snap_sent;  /* time a snapshot was last requested, 0 = never */
    bool acked;          /* has acknowledged anything in our ballot */
    bool voted;          /* pre-vote granted / promise received */
    bool prepared;       /* candidate: PREPARE sent */
};

struct pending_cmd {
    uint64_t client_id;
    uint64_t seq;
    uint32_t len;
    uint8_t *data;
};

struct pending_read {
    uint64_t id;
    uint64_t index; /* PLACEHOLDER until our first slot commits */
    uint64_t round;
    bool confirmed;
};

struct outmsg {
    struct outmsg *next;
    uint64_t after; /* send when durable_seq >= after */
    uint32_t to;
    struct paxos_msg msg;
    struct paxos_entry *entries;
};

struct inflight {
    uint64_t seq;
    uint64_t promised;
};

struct paxos {
    struct paxos_config cfg;
    struct paxos_io *io;
    uint64_t now;
    struct paxos_membership conf;  /* applied: in force for slot applied + 1 */
    struct paxos_membership lconf; /* leader: in force after the last slot of its log */
    uint64_t lconf_slot;           /* leader: slot of an uncommitted change, else 0 */

    uint32_t role;
    uint32_t leader;
    uint64_t ballot; /* own ballot while candidate or leader */
    uint64_t promised;
    uint64_t promised_durable;
    uint64_t max_round;

    /* persistence */
    uint64_t persist_seq;
    uint64_t durable_seq;
    bool dirty_promise;
    uint64_t trim_pending;
    uint64_t *wq; /* slots to write in the next record */
    size_t wq_len, wq_cap;
    struct inflight *infl;
    size_t infl_len, infl_cap;

    /* log: slot s lives at log[s - base - 1] for base < s <= base + log_len */
    uint64_t base;
    struct log_ent *log;
    size_t log_len, log_cap;
    uint64_t commit;
    uint64_t applied;

    /* follower */
    bool have_contact;
    uint64_t last_contact;
    uint64_t election_deadline;
    bool ack_pending;
    uint32_t ack_to;
    uint64_t ack_after;
    uint64_t read_seen_ballot;
    uint64_t read_seen;
    uint64_t match_cache_ballot;
    uint64_t match_cache;

    /* candidate: best value seen per open slot, p1[s - p1_base - 1] */
    uint64_t cand_seq;
    uint64_t p1_base;
    struct log_ent *p1;
    size_t p1_len, p1_cap;

    /* leader */
    struct peer peers[PAXOS_MAX_REPLICAS];
    uint64_t term_start;
    uint64_t hb_round;
    uint64_t round_sent[LEASE_RING]; /* send time of heartbeat round r at [r % ring] */
    uint64_t lease_until;            /* leader: reads need no round before this */
    uint64_t probe_round;            /* last read round started (0: none) */
    bool round_wanted;               /* reads wait for the round after probe_round */
    uint64_t next_heartbeat;
    uint64_t checkq_deadline;
    struct pending_cmd *cmds; /* ring */
    size_t cmd_head, cmd_len, cmd_cap;
    struct pending_read *reads;
    size_t reads_len, reads_cap;

    struct outmsg *out_head, *out_tail;
    struct paxos_cmd *applybuf;
    size_t applybuf_cap;
};

/* ---------- small helpers ---------- */

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(arr, ncap * elem);
    if (!n) {
        CN_ERROR(MOD, "out of memory");
        abort();
    }
    memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
    *cap = ncap;
    return n;
}

static uint8_t *dupbytes(const uint8_t *d, uint32_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    if (!c) {
        CN_ERROR(MOD, "out of memory");
        abort();
    }
    if (len)
        memcpy(c, d, len);
    return c;
}

static uint64_t umax(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t umin(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static const uint8_t noop_value[1] = {0};

int paxos_value_decode(const uint8_t *data, uint32_t len,
                       void (*fn)(void *arg, const struct paxos_cmd *cmd), void *arg)
{
    if (len < 1)
        return CAIRN_E_CORRUPT;
    if (data[0] == 0)
        return len == 1 ? 0 : CAIRN_E_CORRUPT;
    if (data[0] == 2)
        return paxos_value_membership(data, len, NULL) == 0 ? 0 : CAIRN_E_CORRUPT;
    if (data[0] != 1 || len < 5)
        return CAIRN_E_CORRUPT;
    uint32_t count = get_u32(data + 1);
    size_t off = 5;
    /* validate first so that fn sees all or nothing */
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < 20)
            return CAIRN_E_CORRUPT;
        uint32_t l = get_u32(data + off + 16);
        off += 20;
        if (len - off < l)
            return CAIRN_E_CORRUPT;
        off += l;
    }
    if (off != len)
        return CAIRN_E_CORRUPT;
    off = 5;
    for (uint32_t i = 0; i < count; i++) {
        struct paxos_cmd c;
        c.client_id = get_u64(data + off);
        c.seq = get_u64(data + off + 8);
        c.len = get_u32(data + off + 16);
        c.data = data + off + 20;
        off += 20 + c.len;
        if (fn)
            fn(arg, &c);
    }
    return (int)count;
}

const char *paxos_msg_type_name(uint32_t type)
{
    switch (type) {
    case PAXOS_MSG_PREVOTE:
        return "PREVOTE";
    case PAXOS_MSG_PREVOTE_REPLY:
        return "PREVOTE_REPLY";
    case PAXOS_MSG_PREPARE:
        return "PREPARE";
    case PAXOS_MSG_PROMISE:
        return "PROMISE";
    case PAXOS_MSG_ACCEPT:
        return "ACCEPT";
    case PAXOS_MSG_ACCEPTED:
        return "ACCEPTED";
    case PAXOS_MSG_LEARN:
        return "LEARN";
    default:
        return "?";
    }
}

/* ---------- membership ---------- */

static bool ms_has(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool ms_voter(const struct paxos_membership *m, uint32_t id)
{
    return ms_has(m->voters, m->n_voters, id);
}

static bool ms_member(const struct paxos_membership *m, uint32_t id)
{
    return ms_voter(m, id) || ms_has(m->learners, m->n_learners, id);
}

static uint32_t ms_quorum(const struct paxos_membership *m)
{
    return m->n_voters / 2 + 1;
}

static bool ms_valid(const struct paxos_membership *m)
{
    if (m->n_voters == 0 || m->n_voters > PAXOS_MAX_REPLICAS ||
        m->n_learners > PAXOS_MAX_REPLICAS || m->n_voters + m->n_learners > PAXOS_MAX_REPLICAS)
        return false;
    for (uint32_t i = 0; i < m->n_voters + m->n_learners; i++) {
        uint32_t id = i < m->n_voters ? m->voters[i] : m->learners[i - m->n_voters];
        if (id == 0 || id > PAXOS_MAX_ID)
            return false;
        for (uint32_t j = 0; j < i; j++) {
            uint32_t o = j < m->n_voters ? m->voters[j] : m->learners[j - m->n_voters];
            if (o == id)
                return false;
        }
    }
    return true;
}

#define MS_VALUE_MAX (1 + 4 + 4 * PAXOS_MAX_REPLICAS + 4 + 4 * PAXOS_MAX_REPLICAS)

static uint32_t ms_encode(const struct paxos_membership *m, uint8_t *buf)
{
    uint32_t off = 0;
    buf[off++] = 2;
    put_u32(buf + off, m->n_voters);
    off += 4;
    for (uint32_t i = 0; i < m->n_voters; i++, off += 4)
        put_u32(buf + off, m->voters[i]);
    put_u32(buf + off, m->n_learners);
    off += 4;
    for (uint32_t i = 0; i < m->n_learners; i++, off += 4)
        put_u32(buf + off, m->learners[i]);
    return off;
}

int paxos_value_membership(const uint8_t *data, uint32_t len, struct paxos_membership *m)
{
    if (len < 1 || data[0] != 2)
        return CAIRN_E_NOTFOUND;
    struct paxos_membership t;
    memset(&t, 0, sizeof(t));
    uint32_t off = 1;
    if (len - off < 4)
        return CAIRN_E_CORRUPT;
    t.n_voters = get_u32(data + off);
    off += 4;
    if (t.n_voters > PAXOS_MAX_REPLICAS || len - off < 4 * t.n_voters + 4)
        return CAIRN_E_CORRUPT;
    for (uint32_t i = 0; i < t.n_voters; i++, off += 4)
        t.voters[i] = get_u32(data + off);
    t.n_learners = get_u32(data + off);
    off += 4;
    if (t.n_learners > PAXOS_MAX_REPLICAS || len - off != 4 * t.n_learners)
        return CAIRN_E_CORRUPT;
    for (uint32_t i = 0; i < t.n_learners; i++, off += 4)
        t.learners[i] = get_u32(data + off);
    if (!ms_valid(&t))
        return CAIRN_E_CORRUPT;
    if (m)
        *m = t;
    return 0;
}

/* ---------- log ---------- */

static struct log_ent *log_at(struct paxos *p, uint64_t slot)
{
    if (slot <= p->base || slot > p->base + p->log_len)
        return NULL;
    return &p->log[slot - p->base - 1];
}

static struct log_ent *log_get(struct paxos *p, uint64_t slot)
{
    struct log_ent *e = log_at(p, slot);
    return e && e->data ? e : NULL;
}

static uint64_t log_last(const struct paxos *p)
{
    return p->base + p->log_len;
}

/* Stores (slot, ballot, value) in memory and queues it for the next record. */
static void log_put(struct paxos *p, uint64_t slot, uint64_t ballot, const uint8_t *data,
                    uint32_t len)
{
    if (slot > log_last(p)) {
        size_t need = (size_t)(slot - p->base);
        p->log = grow(p->log, &p->log_cap, need, sizeof(*p->log));
        p->log_len = need;
    }
    struct log_ent *e = &p->log[slot - p->base - 1];
    free(e->data);
    e->data = dupbytes(data, len);
    e->len = len;
    e->ballot = ballot;
    e->pseq = 0;
    if (!e->queued) {
        e->queued = true;
        p->wq = grow(p->wq, &p->wq_cap, p->wq_len + 1, sizeof(*p->wq));
        p->wq[p->wq_len++] = slot;
    }
    if (slot <= p->match_cache)
        p->match_cache_ballot = 0; /* invalidate */
}

/* Forgets every entry <= slot. */
static void log_trim(struct paxos *p, uint64_t slot)
{
    if (slot <= p->base)
        return;
    size_t n = (size_t)umin(slot - p->base, p->log_len);
    if (n) {
        for (size_t i = 0; i < n; i++)
            free(p->log[i].data);
        memmove(p->log, p->log + n, (p->log_len - n) * sizeof(*p->log));
        memset(p->log + (p->log_len - n), 0, n * sizeof(*p->log));
        p->log_len -= n;
    }
    p->base = slot;
    p->trim_pending = umax(p->trim_pending, slot);
}

static bool ent_durable(const struct paxos *p, const struct log_ent *e)
{
    return !e->queued && e->pseq <= p->durable_seq;
}

/* Highest slot m such that every slot in (commit, m] is durably accepted at
 * ballot b (slots <= commit are chosen and count as accepted). */
static uint64_t durable_match(struct paxos *p, uint64_t b)
{
    uint64_t m = p->commit;
    if (p->match_cache_ballot == b && p->match_cache > m)
        m = p->match_cache;
    for (;;) {
        struct log_ent *e = log_get(p, m + 1);
        if (!e || e->ballot != b || !ent_durable(p, e))
            break;
        m++;
    }
    p->match_cache_ballot = b;
    p->match_cache = m;
    return m;
}

/* ---------- output ---------- */

static void send_msg(struct paxos *p, uint32_t to, struct paxos_msg *m)
{
    m->from = p->cfg.id;
    p->io->send(p->io, to, m);
}

/* Queues a message that may only leave once everything persisted so far is
 * durable (the placeholder is resolved at the end of the current call). */
static void send_after_durable(struct paxos *p, uint32_t to, const struct paxos_msg *m)
{
    struct outmsg *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->to = to;
    o->after = PLACEHOLDER;
    o->msg = *m;
    o->msg.from = p->cfg.id;
    if (m->n_entries) {
        o->entries = calloc(m->n_entries, sizeof(*o->entries));
        if (!o->entries)
            abort();
        for (uint32_t i = 0; i < m->n_entries; i++) {
            o->entries[i] = m->entries[i];
            o->entries[i].data = dupbytes(m->entries[i].data, m->entries[i].len);
        }
    }
    o->msg.entries = o->entries;
    if (p->out_tail)
        p->out_tail->next = o;
    else
        p->out_head = o;
    p->out_tail = o;
}

static void outmsg_free(struct outmsg *o)
{
    for (uint32_t i = 0; i < o->msg.n_entries; i++)
        free((void *)o->entries[i].data);
    free(o->entries);
    free(o);
}

static void flush_persist(struct paxos *p)
{
    if (!p->dirty_promise && !p->trim_pending && p->wq_len == 0)
        return;
    struct paxos_entry *ents = NULL;
    uint32_t n = 0;
    uint64_t seq = ++p->persist_seq;
    if (p->wq_len) {
        ents = calloc(p->wq_len, sizeof(*ents));
        if (!ents)
            abort();
        for (size_t i = 0; i < p->wq_len; i++) {
            struct log_ent *e = log_get(p, p->wq[i]);
            if (!e || !e->queued)
                continue;
            e->queued = false;
            e->pseq = seq;
            ents[n].slot = p->wq[i];
            ents[n].ballot = e->ballot;
            ents[n].len = e->len;
            ents[n].data = e->data;
            n++;
        }
    }
    struct paxos_persist rec = {.seq = seq,
                                .promised = p->promised,
                                .trim_through = p->trim_pending,
                                .n_entries = n,
                                .entries = ents};
    p->infl = grow(p->infl, &p->infl_cap, p->infl_len + 1, sizeof(*p->infl));
    p->infl[p->infl_len++] = (struct inflight){.seq = seq, .promised = p->promised};
    p->io->persist(p->io, &rec);
    free(ents);
    p->wq_len = 0;
    p->dirty_promise = false;
    p->trim_pending = 0;
}

/* ---------- peers ---------- */

static struct peer *peer_find(struct paxos *p, uint32_t id)
{
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        if (p->peers[i].id == id && id)
            return &p->peers[i];
    return NULL;
}

static bool in_use(const struct paxos *p, uint32_t id)
{
    return id == p->cfg.id || ms_member(&p->conf, id) || ms_member(&p->lconf, id);
}

/* Finds or allocates the peer record of a member (NULL if the table is full). */
static struct peer *peer_add(struct paxos *p, uint32_t id)
{
    struct peer *pr = peer_find(p, id);
    if (pr)
        return pr;
    /* a free record first, else one of a replica no longer in any membership */
    for (uint32_t pass = 0; pass < 2 && !pr; pass++)
        for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS && !pr; i++)
            if (pass == 0 ? p->peers[i].id == 0 : !in_use(p, p->peers[i].id))
                pr = &p->peers[i];
    if (!pr)
        return NULL;
    memset(pr, 0, sizeof(*pr));
    pr->id = id;
    pr->next = p->commit + 1;
    pr->last_ack = p->now;
    return pr;
}

static void peers_sync(struct paxos *p)
{
    for (uint32_t i = 0; i < p->conf.n_voters; i++)
        peer_add(p, p->conf.voters[i]);
    for (uint32_t i = 0; i < p->conf.n_learners; i++)
        peer_add(p, p->conf.learners[i]);
    for (uint32_t i = 0; i < p->lconf.n_voters; i++)
        peer_add(p, p->lconf.voters[i]);
    for (uint32_t i = 0; i < p->lconf.n_learners; i++)
        peer_add(p, p->lconf.learners[i]);
}

/* Replicas the leader replicates to: members of the applied and latest configs. */
static bool is_target(const struct paxos *p, uint32_t id)
{
    return id && id != p->cfg.id && (ms_member(&p->conf, id) || ms_member(&p->lconf, id));
}

static uint32_t votes_in(struct paxos *p, const struct paxos_membership *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct peer *pr = peer_find(p, m->voters[i]);
        n += pr && pr->voted;
    }
    return n;
}

/* ---------- role changes ---------- */

static uint64_t random_timeout(struct paxos *p)
{
    uint64_t t = p->cfg.election_ms;
    return t + (t ? p->io->random(p->io) % t : 0);
}

static void p1_free(struct paxos *p)
{
    for (size_t i = 0; i < p->p1_len; i++)
        free(p->p1[i].data);
    free(p->p1);
    p->p1 = NULL;
    p->p1_len = 0;
    p->p1_cap = 0;
}

static void p1_merge(struct paxos *p, uint64_t slot, uint64_t ballot, const uint8_t *data,
                     uint32_t len)
{
    if (slot <= p->p1_base || slot > p->p1_base + MAX_LOG_SPAN || !data || !len)
        return;
    size_t idx = (size_t)(slot - p->p1_base - 1);
    if (idx >= p->p1_len) {
        p->p1 = grow(p->p1, &p->p1_cap, idx + 1, sizeof(*p->p1));
        p->p1_len = idx + 1;
    }
    struct log_ent *e = &p->p1[idx];
    if (e->data && e->ballot >= ballot)
        return;
    free(e->data);
    e->data = dupbytes(data, len);
    e->len = len;
    e->ballot = ballot;
}

static void fail_pending(struct paxos *p)
{
    while (p->cmd_len) {
        struct pending_cmd *c = &p->cmds[p->cmd_head];
        p->io->reject(p->io, c->client_id, c->seq, CAIRN_E_NOTLEADER, p->leader);
        free(c->data);
        p->cmd_head = (p->cmd_head + 1) % p->cmd_cap;
        p->cmd_len--;
    }
    p->cmd_head = 0;
    for (size_t i = 0; i < p->reads_len; i++)
        p->io->read_done(p->io, p->reads[i].id, CAIRN_E_NOTLEADER, p->leader);
    p->reads_len = 0;
}

/* Leaves any candidate/leader role; `leader` is the new leader hint (or 0). */
static void become_follower(struct paxos *p, uint32_t leader)
{
    uint32_t old = p->role;
    p->role = PAXOS_FOLLOWER;
    p->lease_until = 0;
    p->leader = leader;
    p1_free(p);
    if (old == PAXOS_LEADER) {
        CN_DEBUG(MOD, "replica %u: leader of ballot %llu steps down", p->cfg.id,
                 (unsigned long long)p->ballot);
        fail_pending(p);
    }
    p->election_deadline = p->now + random_timeout(p);
}

/* The leader hint given to clients: none from a replica outside the membership
 * (what it remembers is stale). */
static uint32_t leader_hint(const struct paxos *p)
{
    return ms_member(&p->conf, p->cfg.id) ? p->leader : 0;
}

static bool leader_recent(const struct paxos *p)
{
    if (p->role == PAXOS_LEADER)
        return true;
    return p->have_contact && p->now - p->last_contact < p->cfg.election_ms;
}

static void start_prevote(struct paxos *p)
{
    p->role = PAXOS_PRECANDIDATE;
    p->leader = 0;
    p->have_contact = false;
    p->election_deadline = p->now + random_timeout(p);
    uint64_t b = PAXOS_BALLOT(umax(p->max_round, PAXOS_BALLOT_ROUND(p->promised)) + 1, p->cfg.id);
    p->ballot = b;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        p->peers[i].voted = p->peers[i].id == p->cfg.id;
    for (uint32_t i = 0; i < p->conf.n_voters; i++) {
        if (p->conf.voters[i] == p->cfg.id)
            continue;
        struct paxos_msg m = {.type = PAXOS_MSG_PREVOTE, .ballot = b, .commit = p->commit};
        send_msg(p, p->conf.voters[i], &m);
    }
}

static void send_prepare(struct paxos *p, const struct paxos_membership *m)
{
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct peer *pr = peer_add(p, m->voters[i]);
        if (!pr || pr->id == p->cfg.id || pr->prepared)
            continue;
        pr->prepared = true;
        struct paxos_msg msg = {
            .type = PAXOS_MSG_PREPARE, .ballot = p->ballot, .commit = p->commit};
        send_msg(p, pr->id, &msg);
    }
}

/* Phase 1 is complete with a majority of the applied membership and of every
 * membership that a value learned for an open slot would install: each change
 * was chosen by a majority of the one before it, so this chain of quorums sees
 * every value chosen under any of them. Also (re)sends PREPARE to voters of
 * memberships discovered in promises. */
static bool phase1_complete(struct paxos *p)
{
    bool ok = votes_in(p, &p->conf) >= ms_quorum(&p->conf);
    for (size_t i = 0; i < p->p1_len; i++) {
        struct paxos_membership m;
        if (!p->p1[i].data || paxos_value_membership(p->p1[i].data, p->p1[i].len, &m) != 0)
            continue;
        send_prepare(p, &m);
        if (votes_in(p, &m) < ms_quorum(&m))
            ok = false;
    }
    return ok;
}

static void start_candidacy(struct paxos *p)
{
    uint64_t b = PAXOS_BALLOT(umax(p->max_round, PAXOS_BALLOT_ROUND(p->promised)) + 1, p->cfg.id);
    p->max_round = PAXOS_BALLOT_ROUND(b);
    p->role = PAXOS_CANDIDATE;
    p->ballot = b;
    p->promised = b;
    p->dirty_promise = true;
    p->cand_seq = PLACEHOLDER;
    p->leader = 0;
    p->election_deadline = p->now + random_timeout(p);
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        p->peers[i].voted = false; /* self counts once its promise is durable */
        p->peers[i].prepared = false;
    }
    p1_free(p);
    p->p1_base = p->commit;
    for (uint64_t s = p->commit + 1; s <= log_last(p); s++) {
        struct log_ent *e = log_get(p, s);
        if (e)
            p1_merge(p, s, e->ballot, e->data, e->len);
    }
    CN_DEBUG(MOD, "replica %u: candidate for ballot %llu", p->cfg.id, (unsigned long long)b);
    send_prepare(p, &p->conf);
    phase1_complete(p); /* reaches voters of memberships in our own open slots */
}

static void leader_send(struct paxos *p, struct peer *pr, bool heartbeat);
static void leader_propose(struct paxos *p);

static void become_leader(struct paxos *p)
{
    p->role = PAXOS_LEADER;
    p->leader = p->cfg.id;
    p->lease_until = 0;
    p->probe_round = 0;
    p->round_wanted = false;
    uint64_t top = umax(log_last(p), p->p1_base + p->p1_len);
    for (uint64_t s = p->commit + 1; s <= top; s++) {
        struct log_ent *best = NULL;
        if (s > p->p1_base && s - p->p1_base <= p->p1_len && p->p1[s - p->p1_base - 1].data)
            best = &p->p1[s - p->p1_base - 1];
        if (best)
            log_put(p, s, p->ballot, best->data, best->len);
        else
            log_put(p, s, p->ballot, noop_value, sizeof(noop_value));
    }
    p1_free(p);
    p->term_start = top + 1;
    log_put(p, p->term_start, p->ballot, noop_value, sizeof(noop_value));
    /* the latest membership in the log governs replication and quorums */
    p->lconf = p->conf;
    p->lconf_slot = 0;
    for (uint64_t s = p->commit + 1; s <= top; s++) {
        struct log_ent *e = log_get(p, s);
        if (e && paxos_value_membership(e->data, e->len, &p->lconf) == 0)
            p->lconf_slot = s;
    }
    peers_sync(p);
    CN_DEBUG(MOD, "replica %u: leader of ballot %llu, commit %llu, no-op at %llu", p->cfg.id,
             (unsigned long long)p->ballot, (unsigned long long)p->commit,
             (unsigned long long)p->term_start);
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        struct peer *pr = &p->peers[i];
        pr->match = pr->reported = 0;
        pr->next = p->commit + 1;
        pr->acked_read = 0;
        pr->last_ack = p->now;
        pr->snap_sent = 0;
        pr->acked = false;
    }
    p->checkq_deadline = p->now + p->cfg.election_ms;
    p->next_heartbeat = p->now + p->cfg.heartbeat_ms;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        if (is_target(p, p->peers[i].id))
            leader_send(p, &p->peers[i], true);
}

/* ---------- leader ---------- */

static void leader_send(struct paxos *p, struct peer *pr, bool heartbeat)
{
    if (pr->acked && pr->reported < p->base) {
        /* the slots it needs are trimmed: catch up by snapshot */
        if (!pr->snap_sent || p->now - pr->snap_sent >= p->cfg.election_ms) {
            pr->snap_sent = p->now ? p->now : 1;
            p->io->send_snapshot(p->io, pr->id);
        }
        pr->next = p->base + 1;
        if (heartbeat) {
            struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                                  .ballot = p->ballot,
                                  .commit = p->commit,
                                  .read_seq = p->hb_round};
            send_msg(p, pr->id, &m);
        }
        return;
    }
    uint64_t limit = umax(p->cfg.window, p->cfg.max_msg_entries);
    uint64_t from = umax(umax(pr->next, pr->reported + 1), p->base + 1);
    uint64_t to = umin(log_last(p), (pr->acked ? pr->reported : from - 1) + limit);
    struct paxos_entry ents[MAX_MSG_ENTRIES_HARD];
    bool sent = false;
    while (from <= to) {
        uint32_t n = 0;
        uint64_t s = from;
        for (; s <= to && n < p->cfg.max_msg_entries; s++) {
            struct log_ent *e = log_get(p, s);
            if (!e)
                break; /* cannot happen for a leader; be safe */
            ents[n++] = (struct paxos_entry){
                .slot = s, .ballot = p->ballot, .len = e->len, .data = e->data};
        }
        if (n == 0)
            break;
        struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                              .ballot = p->ballot,
                              .commit = p->commit,
                              .read_seq = p->hb_round,
                              .n_entries = n,
                              .entries = ents};
        send_msg(p, pr->id, &m);
        sent = true;
        from = s;
        pr->next = s;
    }
    if (!sent && heartbeat) {
        struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                              .ballot = p->ballot,
                              .commit = p->commit,
                              .read_seq = p->hb_round};
        send_msg(p, pr->id, &m);
    }
}

struct collect {
    struct paxos *p;
    uint32_t n;
};

static void collect_cmd(void *arg, const struct paxos_cmd *cmd)
{
    struct collect *c = arg;
    c->p->applybuf = grow(c->p->applybuf, &c->p->applybuf_cap, c->n + 1, sizeof(*c->p->applybuf));
    c->p->applybuf[c->n++] = *cmd;
}

static void apply_committed(struct paxos *p)
{
    while (p->applied < p->commit) {
        uint64_t s = p->applied + 1;
        struct log_ent *e = log_get(p, s);
        if (!e) {
            CN_ERROR(MOD, "replica %u: committed slot %llu missing", p->cfg.id,
                     (unsigned long long)s);
            abort();
        }
        struct paxos_membership m;
        if (paxos_value_membership(e->data, e->len, &m) == 0) {
            p->applied = s;
            p->conf = m;
            if (p->lconf_slot <= s)
                p->lconf_slot = 0;
            if (p->role != PAXOS_LEADER)
                p->lconf = m;
            peers_sync(p);
            if (p->io->membership)
                p->io->membership(p->io, s, &m);
            p->io->apply(p->io, s, NULL, 0);
            if (!ms_voter(&m, p->cfg.id) && p->role != PAXOS_FOLLOWER) {
                CN_DEBUG(MOD, "replica %u: no longer a voter", p->cfg.id);
                become_follower(p, 0);
            }
            continue;
        }
        struct collect c = {.p = p, .n = 0};
        int rc = paxos_value_decode(e->data, e->len, collect_cmd, &c);
        if (rc < 0) {
            CN_ERROR(MOD, "replica %u: slot %llu holds a malformed value; applied as no-op",
                     p->cfg.id, (unsigned long long)s);
            c.n = 0;
        }
        p->applied = s;
        p->io->apply(p->io, s, p->applybuf, c.n);
    }
}

enum { Q_READ, Q_ALIVE };

/* A majority of m's voters acknowledged read round `arg` (Q_READ) or were heard
 * from within the election timeout (Q_ALIVE); this replica counts if it votes. */
static bool has_quorum(struct paxos *p, const struct paxos_membership *m, int what, uint64_t arg)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] == p->cfg.id) {
            n++;
            continue;
        }
        struct peer *pr = peer_find(p, m->voters[i]);
        if (!pr)
            continue;
        if (what == Q_READ ? pr->acked_read >= arg : p->now - pr->last_ack < p->cfg.election_ms)
            n++;
    }
    return n >= ms_quorum(m);
}

static bool has_quorum_both(struct paxos *p, int what, uint64_t arg)
{
    return has_quorum(p, &p->conf, what, arg) && has_quorum(p, &p->lconf, what, arg);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

/* The highest heartbeat round a majority of m's voters has acknowledged. */
static uint64_t quorum_round(struct paxos *p, const struct paxos_membership *m)
{
    uint64_t v[PAXOS_MAX_REPLICAS];
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct peer *pr = peer_find(p, m->voters[i]);
        v[i] = m->voters[i] == p->cfg.id ? p->hb_round : (pr ? pr->acked_read : 0);
    }
    qsort(v, m->n_voters, sizeof(v[0]), cmp_desc);
    return v[ms_quorum(m) - 1];
}

/* Lease: a majority acknowledged round r, and each of them refuses to vote for
 * election_ms (its clock) after it received r, so no other leader can exist
 * before sent(r) + lease_ms (lease_ms is below election_ms by the drift bound). */
static void lease_update(struct paxos *p)
{
    if (!p->cfg.lease_ms || p->role != PAXOS_LEADER)
        return;
    uint64_t r = umin(quorum_round(p, &p->conf), quorum_round(p, &p->lconf));
    if (r == 0 || p->hb_round - r >= LEASE_RING)
        return;
    p->lease_until = umax(p->lease_until, p->round_sent[r % LEASE_RING] + p->cfg.lease_ms);
}

static bool lease_valid(const struct paxos *p)
{
    return p->cfg.lease_ms && p->role == PAXOS_LEADER && p->now < p->lease_until;
}

static void start_read_round(struct paxos *p);

static void reads_check(struct paxos *p)
{
    if (p->role != PAXOS_LEADER)
        return;
    if (p->round_wanted && has_quorum_both(p, Q_READ, p->probe_round))
        start_read_round(p);
    size_t w = 0;
    for (size_t i = 0; i < p->reads_len; i++) {
        struct pending_read *r = &p->reads[i];
        if (!r->confirmed)
            r->confirmed = lease_valid(p) || has_quorum_both(p, Q_READ, r->round);
        if (r->index == PLACEHOLDER && p->commit >= p->term_start)
            r->index = p->commit;
        if (r->confirmed && r->index != PLACEHOLDER && p->applied >= r->index) {
            p->io->read_done(p->io, r->id, 0, p->cfg.id);
            continue;
        }
        p->reads[w++] = *r;
    }
    p->reads_len = w;
}

static void leader_advance(struct paxos *p)
{
    if (p->role != PAXOS_LEADER)
        return;
    /* slot y is chosen once a majority of the voters in force for y (the
     * membership after the last change before y) accepted it in our ballot */
    uint64_t self_match = durable_match(p, p->ballot);
    struct paxos_membership cur = p->conf;
    uint64_t c = p->commit;
    while (c < log_last(p)) {
        uint64_t y = c + 1;
        uint32_t n = 0;
        for (uint32_t i = 0; i < cur.n_voters; i++) {
            if (cur.voters[i] == p->cfg.id) {
                n += self_match >= y;
            } else {
                struct peer *pr = peer_find(p, cur.voters[i]);
                n += pr && pr->match >= y;
            }
        }
        if (n < ms_quorum(&cur))
            break;
        struct log_ent *e = log_get(p, y);
        if (e)
            paxos_value_membership(e->data, e->len, &cur);
        c = y;
    }
    if (c > p->commit) {
        p->commit = c;
        apply_committed(p);
        leader_propose(p);
    }
    reads_check(p);
}

static void leader_propose(struct paxos *p)
{
    if (p->role != PAXOS_LEADER)
        return;
    bool proposed = false;
    /* nothing is proposed after an uncommitted membership change */
    while (p->cmd_len && log_last(p) < p->commit + p->cfg.window && p->lconf_slot <= p->commit) {
        /* size the batch */
        size_t size = 5, n = 0;
        while (n < p->cmd_len) {
            struct pending_cmd *c = &p->cmds[(p->cmd_head + n) % p->cmd_cap];
            if (n > 0 && size + 20 + c->len > p->cfg.max_batch_bytes)
                break;
            size += 20 + c->len;
            n++;
        }
        uint8_t *v = malloc(size);
        if (!v)
            abort();
        v[0] = 1;
        put_u32(v + 1, (uint32_t)n);
        size_t off = 5;
        for (size_t i = 0; i < n; i++) {
            struct pending_cmd *c = &p->cmds[p->cmd_head];
            put_u64(v + off, c->client_id);
            put_u64(v + off + 8, c->seq);
            put_u32(v + off + 16, c->len);
            memcpy(v + off + 20, c->data, c->len);
            off += 20 + c->len;
            free(c->data);
            p->cmd_head = (p->cmd_head + 1) % p->cmd_cap;
            p->cmd_len--;
        }
        log_put(p, log_last(p) + 1, p->ballot, v, (uint32_t)size);
        free(v);
        proposed = true;
    }
    if (p->cmd_len == 0)
        p->cmd_head = 0;
    if (proposed)
        for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
            if (is_target(p, p->peers[i].id))
                leader_send(p, &p->peers[i], false);
}

/* Starts heartbeat round hb_round + 1 with a probe to every member. */
static void start_read_round(struct paxos *p)
{
    p->hb_round++;
    p->round_sent[p->hb_round % LEASE_RING] = p->now;
    p->probe_round = p->hb_round;
    p->round_wanted = false;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        if (!is_target(p, p->peers[i].id))
            continue;
        struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                              .ballot = p->ballot,
                              .commit = p->commit,
                              .read_seq = p->hb_round};
        send_msg(p, p->peers[i].id, &m);
    }
}

static void leader_tick(struct paxos *p)
{
    if (p->now >= p->checkq_deadline) {
        if (!has_quorum_both(p, Q_ALIVE, 0)) {
            CN_DEBUG(MOD, "replica %u: lost its quorum, stepping down", p->cfg.id);
            become_follower(p, 0);
            return;
        }
        p->checkq_deadline = p->now + p->cfg.election_ms;
    }
    if (p->now >= p->next_heartbeat) {
        p->next_heartbeat = p->now + p->cfg.heartbeat_ms;
        if (p->cfg.lease_ms || p->round_wanted) {
            /* this heartbeat is a new round: it may extend the lease, and it
             * serves reads waiting behind a round that is slow to complete */
            p->hb_round++;
            p->round_sent[p->hb_round % LEASE_RING] = p->now;
            if (p->round_wanted)
                p->probe_round = p->hb_round;
            p->round_wanted = false;
        }
        for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
            if (!is_target(p, p->peers[i].id))
                continue;
            struct peer *pr = &p->peers[i];
            /* go back: retransmit anything unacknowledged */
            pr->next = pr->acked ? pr->reported + 1 : p->commit + 1;
            leader_send(p, pr, true);
        }
    }
}

/* ---------- follower side ---------- */

static void send_ack(struct paxos *p)
{
    p->ack_pending = false;
    uint64_t b = p->promised_durable;
    struct paxos_msg m = {.type = PAXOS_MSG_ACCEPTED,
                          .ballot = b,
                          .ok = 1,
                          .commit = p->commit,
                          .match = durable_match(p, b),
                          .read_seq = p->read_seen_ballot == b ? p->read_seen : 0};
    send_msg(p, p->ack_to, &m);
}

static void on_accept(struct paxos *p, const struct paxos_msg *m)
{
    if (m->ballot < p->promised) {
        struct paxos_msg r = {
            .type = PAXOS_MSG_ACCEPTED, .ballot = p->promised, .ok = 0, .commit = p->commit};
        send_msg(p, m->from, &r);
        return;
    }
    if (m->ballot > p->promised) {
        p->promised = m->ballot;
        p->dirty_promise = true;
    }
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (p->role != PAXOS_FOLLOWER)
        become_follower(p, m->from);
    p->leader = m->from;
    p->have_contact = true;
    p->last_contact = p->now;
    p->election_deadline = p->now + random_timeout(p);
    if (p->read_seen_ballot != m->ballot) {
        p->read_seen_ballot = m->ballot;
        p->read_seen = 0;
    }
    p->read_seen = umax(p->read_seen, m->read_seq);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct paxos_entry *e = &m->entries[i];
        if (e->slot <= p->commit || e->slot <= p->base || e->slot > p->base + MAX_LOG_SPAN)
            continue;
        struct log_ent *cur = log_get(p, e->slot);
        if (cur && cur->ballot == m->ballot)
            continue; /* a ballot proposes one value per slot */
        log_put(p, e->slot, m->ballot, e->data, e->len);
    }
    uint64_t c = p->commit;
    while (c < m->commit) {
        struct log_ent *e = log_get(p, c + 1);
        if (!e || e->ballot != m->ballot)
            break;
        c++;
    }
    if (c > p->commit) {
        p->commit = c;
        apply_committed(p);
    }
    p->ack_pending = true;
    p->ack_to = m->from;
    p->ack_after = PLACEHOLDER;
}

static void on_accepted(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (m->ballot > p->promised) {
        /* someone promised a higher ballot: our leadership (if any) is over */
        if (p->role == PAXOS_LEADER || p->role == PAXOS_CANDIDATE)
            become_follower(p, 0);
        return;
    }
    if (p->role != PAXOS_LEADER || m->ballot != p->ballot || !m->ok)
        return;
    struct peer *pr = peer_find(p, m->from);
    if (!pr)
        return;
    pr->last_ack = p->now;
    pr->acked = true;
    uint64_t match = umin(m->match, log_last(p));
    if (match > pr->match)
        pr->match = match;
    pr->reported = match;
    if (pr->next <= pr->reported)
        pr->next = pr->reported + 1;
    pr->acked_read = umax(pr->acked_read, m->read_seq);
    lease_update(p);
    leader_advance(p);
    if (p->role == PAXOS_LEADER && (pr->next <= log_last(p) || pr->reported < p->base))
        leader_send(p, pr, false);
}

/* A replica asked for a vote by one that is behind it sends it what it has
 * learned is chosen (or a snapshot, if that is trimmed), so that the most
 * up-to-date voters can always win an election. */
static void send_learn(struct paxos *p, uint32_t to, uint64_t from_commit)
{
    if (from_commit >= p->commit)
        return;
    if (from_commit < p->base) {
        struct peer *pr = peer_find(p, to);
        if (pr && pr->snap_sent && p->now - pr->snap_sent < p->cfg.election_ms)
            return;
        if (pr)
            pr->snap_sent = p->now ? p->now : 1;
        p->io->send_snapshot(p->io, to);
        return;
    }
    struct paxos_entry ents[MAX_MSG_ENTRIES_HARD];
    uint32_t n = 0;
    for (uint64_t s = from_commit + 1; s <= p->commit && n < p->cfg.max_msg_entries; s++) {
        struct log_ent *e = log_get(p, s);
        if (!e)
            break;
        ents[n++] =
            (struct paxos_entry){.slot = s, .ballot = e->ballot, .len = e->len, .data = e->data};
    }
    struct paxos_msg m = {
        .type = PAXOS_MSG_LEARN, .commit = p->commit, .n_entries = n, .entries = ents};
    if (n)
        send_msg(p, to, &m);
}

/* Chosen values from a replica that is ahead: stored, committed and applied. A
 * chosen value may replace whatever was accepted for its slot. */
static void on_learn(struct paxos *p, const struct paxos_msg *m)
{
    if (p->role == PAXOS_LEADER)
        return;
    bool advanced = false;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct paxos_entry *e = &m->entries[i];
        if (e->slot != p->commit + 1 || e->slot > m->commit)
            continue;
        struct log_ent *cur = log_get(p, e->slot);
        if (!cur || cur->ballot != e->ballot || cur->len != e->len ||
            memcmp(cur->data, e->data, e->len) != 0)
            log_put(p, e->slot, e->ballot, e->data, e->len);
        p->commit = e->slot;
        advanced = true;
    }
    if (!advanced)
        return;
    if (p->role == PAXOS_CANDIDATE)
        become_follower(p, 0); /* stand again with the longer prefix */
    p->match_cache_ballot = 0;
    apply_committed(p);
}

static void on_prevote(struct paxos *p, const struct paxos_msg *m)
{
    bool grant = m->ballot > p->promised && m->commit >= p->commit && !leader_recent(p);
    if (m->commit < p->commit)
        send_learn(p, m->from, m->commit);
    struct paxos_msg r = {.type = PAXOS_MSG_PREVOTE_REPLY,
                          .ballot = m->ballot,
                          .ok = grant,
                          .match = p->promised,
                          .commit = p->commit};
    send_msg(p, m->from, &r);
}

static void on_prevote_reply(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->match));
    if (p->role != PAXOS_PRECANDIDATE || m->ballot != p->ballot || !m->ok)
        return;
    struct peer *pr = peer_find(p, m->from);
    if (pr)
        pr->voted = true;
    if (votes_in(p, &p->conf) >= ms_quorum(&p->conf))
        start_candidacy(p);
}

static void on_prepare(struct paxos *p, const struct paxos_msg *m)
{
    bool fresh =
        m->ballot > p->promised || (m->ballot == p->promised && p->role == PAXOS_FOLLOWER &&
                                    PAXOS_BALLOT_ID(m->ballot) == m->from);
    bool grant = fresh && m->commit >= p->commit && !leader_recent(p);
    if (!grant) {
        if (m->commit < p->commit)
            send_learn(p, m->from, m->commit);
        p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
        struct paxos_msg r = {.type = PAXOS_MSG_PROMISE,
                              .ballot = m->ballot,
                              .ok = 0,
                              .match = p->promised,
                              .commit = p->commit};
        send_msg(p, m->from, &r);
        return;
    }
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (m->ballot > p->promised) {
        p->promised = m->ballot;
        p->dirty_promise = true;
    }
    if (p->role != PAXOS_FOLLOWER)
        become_follower(p, 0);
    p->leader = 0;
    p->election_deadline = p->now + random_timeout(p);
    /* report every accepted value above the candidate's commit */
    uint32_t n = 0;
    struct paxos_entry *ents = NULL;
    uint64_t lo = umax(m->commit, p->base) + 1;
    if (log_last(p) >= lo) {
        ents = calloc((size_t)(log_last(p) - lo + 1), sizeof(*ents));
        if (!ents)
            abort();
        for (uint64_t s = lo; s <= log_last(p); s++) {
            struct log_ent *e = log_get(p, s);
            if (e)
                ents[n++] = (struct paxos_entry){
                    .slot = s, .ballot = e->ballot, .len = e->len, .data = e->data};
        }
    }
    struct paxos_msg r = {.type = PAXOS_MSG_PROMISE,
                          .ballot = m->ballot,
                          .ok = 1,
                          .match = p->promised,
                          .commit = p->commit,
                          .n_entries = n,
                          .entries = ents};
    send_after_durable(p, m->from, &r);
    free(ents);
}

static void on_promise(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->match));
    if (p->role != PAXOS_CANDIDATE || m->ballot != p->ballot)
        return;
    if (!m->ok) {
        if (m->match > p->ballot)
            become_follower(p, 0); /* a higher ballot exists */
        return;
    }
    struct peer *pr = peer_find(p, m->from);
    if (!pr || pr->voted)
        return;
    pr->voted = true;
    for (uint32_t i = 0; i < m->n_entries; i++)
        p1_merge(p, m->entries[i].slot, m->entries[i].ballot, m->entries[i].data,
                 m->entries[i].len);
}

/* ---------- end-of-call bookkeeping ---------- */

static void release_outbox(struct paxos *p)
{
    while (p->out_head && p->out_head->after <= p->durable_seq) {
        struct outmsg *o = p->out_head;
        p->out_head = o->next;
        if (!p->out_head)
            p->out_tail = NULL;
        p->io->send(p->io, o->to, &o->msg);
        outmsg_free(o);
    }
}

/* Ends every entry point: hands this call's writes to io->persist, sends what
 * was waiting for durability, and lets a candidate or leader make progress. */
static void finish(struct paxos *p)
{
    flush_persist(p);
    for (struct outmsg *o = p->out_head; o; o = o->next)
        if (o->after == PLACEHOLDER)
            o->after = p->persist_seq;
    if (p->ack_pending && p->ack_after == PLACEHOLDER)
        p->ack_after = p->persist_seq;
    if (p->role == PAXOS_CANDIDATE && p->cand_seq == PLACEHOLDER)
        p->cand_seq = p->persist_seq;
    release_outbox(p);
    if (p->ack_pending && p->ack_after <= p->durable_seq)
        send_ack(p);
    if (p->role == PAXOS_CANDIDATE && p->cand_seq <= p->durable_seq) {
        /* our own promise is durable: it counts, and we may lead */
        struct peer *me = peer_find(p, p->cfg.id);
        if (me)
            me->voted = true;
        if (phase1_complete(p)) {
            become_leader(p);
            flush_persist(p);
        }
    }
    if (p->role == PAXOS_LEADER)
        leader_advance(p);
    flush_persist(p);
}

/* ---------- public API ---------- */

void paxos_config_init(struct paxos_config *cfg, uint32_t id, uint32_t n, const uint32_t *ids)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->id = id;
    cfg->n_replicas = n > PAXOS_MAX_REPLICAS ? PAXOS_MAX_REPLICAS : n;
    for (uint32_t i = 0; i < cfg->n_replicas; i++)
        cfg->replicas[i] = ids[i];
    cfg->heartbeat_ms = 50;
    cfg->election_ms = 500;
    cfg->window = 8;
    cfg->max_batch_bytes = 64 * 1024;
    cfg->max_pending = 1024;
    cfg->max_msg_entries = 64;
}

int paxos_new(const struct paxos_config *cfg, struct paxos_io *io, const struct paxos_restore *rs,
              uint64_t now, struct paxos **out)
{
    if (!cfg || !io || !out || cfg->n_replicas == 0 || cfg->n_replicas > PAXOS_MAX_REPLICAS ||
        cfg->id == 0 || cfg->id > PAXOS_MAX_ID || cfg->window == 0 || cfg->max_msg_entries == 0 ||
        cfg->max_msg_entries > MAX_MSG_ENTRIES_HARD || cfg->max_batch_bytes < 64 ||
        cfg->heartbeat_ms == 0 || cfg->election_ms <= cfg->heartbeat_ms ||
        cfg->lease_ms >= cfg->election_ms)
        return CAIRN_E_INVAL;
    if (!io->send || !io->persist || !io->apply || !io->reject || !io->read_done ||
        !io->send_snapshot || !io->random)
        return CAIRN_E_INVAL;
    struct paxos_membership conf;
    memset(&conf, 0, sizeof(conf));
    if (rs && rs->membership.n_voters) {
        conf = rs->membership;
    } else {
        conf.n_voters = cfg->n_replicas;
        memcpy(conf.voters, cfg->replicas, sizeof(conf.voters));
    }
    if (!ms_valid(&conf))
        return CAIRN_E_INVAL;
    struct paxos *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    p->cfg = *cfg;
    p->io = io;
    p->now = now;
    p->conf = p->lconf = conf;
    peer_add(p, cfg->id);
    peers_sync(p);
    if (rs) {
        p->promised = rs->promised;
        p->base = p->commit = p->applied = rs->applied;
        for (uint32_t i = 0; i < rs->n_entries; i++) {
            const struct paxos_entry *e = &rs->entries[i];
            p->promised = umax(p->promised, e->ballot);
            if (e->slot <= p->base || e->slot > p->base + MAX_LOG_SPAN || !e->len || !e->data)
                continue;
            log_put(p, e->slot, e->ballot, e->data, e->len);
        }
        /* restored entries are already durable */
        for (size_t i = 0; i < p->log_len; i++)
            p->log[i].queued = false;
        p->wq_len = 0;
    }
    p->promised_durable = p->promised;
    p->max_round = PAXOS_BALLOT_ROUND(p->promised);
    p->role = PAXOS_FOLLOWER;
    p->election_deadline = now + random_timeout(p);
    if (cfg->lease_ms) {
        /* a restarted replica may have acknowledged a leader's lease round just
         * before it crashed: it votes for no one for a full election timeout */
        p->have_contact = true;
        p->last_contact = now;
    }
    *out = p;
    return 0;
}

void paxos_free(struct paxos *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->log_len; i++)
        free(p->log[i].data);
    free(p->log);
    p1_free(p);
    for (size_t i = 0; i < p->cmd_len; i++)
        free(p->cmds[(p->cmd_head + i) % p->cmd_cap].data);
    free(p->cmds);
    free(p->reads);
    free(p->wq);
    free(p->infl);
    free(p->applybuf);
    while (p->out_head) {
        struct outmsg *o = p->out_head;
        p->out_head = o->next;
        outmsg_free(o);
    }
    free(p);
}

static bool known_peer(const struct paxos *p, uint32_t id)
{
    return id && id <= PAXOS_MAX_ID && id != p->cfg.id;
}

int paxos_recv(struct paxos *p, const struct paxos_msg *m, uint64_t now)
{
    p->now = umax(p->now, now);
    if (!m || !known_peer(p, m->from) || m->n_entries > MAX_LOG_SPAN ||
        (m->n_entries && !m->entries))
        return CAIRN_E_PROTO;
    for (uint32_t i = 0; i < m->n_entries; i++)
        if (!m->entries[i].data || !m->entries[i].len)
            return CAIRN_E_PROTO;
    switch (m->type) {
    case PAXOS_MSG_PREVOTE:
    case PAXOS_MSG_PREPARE:
    case PAXOS_MSG_ACCEPT:
        if (PAXOS_BALLOT_ID(m->ballot) != m->from)
            return CAIRN_E_PROTO;
        break;
    case PAXOS_MSG_PREVOTE_REPLY:
    case PAXOS_MSG_PROMISE:
    case PAXOS_MSG_ACCEPTED:
    case PAXOS_MSG_LEARN:
        break;
    default:
        return CAIRN_E_PROTO;
    }
    switch (m->type) {
    case PAXOS_MSG_PREVOTE:
        on_prevote(p, m);
        break;
    case PAXOS_MSG_PREVOTE_REPLY:
        on_prevote_reply(p, m);
        break;
    case PAXOS_MSG_PREPARE:
        on_prepare(p, m);
        break;
    case PAXOS_MSG_PROMISE:
        on_promise(p, m);
        break;
    case PAXOS_MSG_ACCEPT:
        on_accept(p, m);
        break;
    case PAXOS_MSG_ACCEPTED:
        on_accepted(p, m);
        break;
    case PAXOS_MSG_LEARN:
        on_learn(p, m);
        break;
    }
    finish(p);
    return 0;
}

void paxos_tick(struct paxos *p, uint64_t now)
{
    p->now = umax(p->now, now);
    if (p->role == PAXOS_LEADER) {
        leader_tick(p);
    } else if (p->now >= p->election_deadline) {
        if (ms_voter(&p->conf, p->cfg.id))
            start_prevote(p);
        else
            become_follower(p, p->leader); /* learners and non-members never stand */
    }
    if (p->role == PAXOS_PRECANDIDATE && votes_in(p, &p->conf) >= ms_quorum(&p->conf))
        start_candidacy(p);
    finish(p);
}

void paxos_persisted(struct paxos *p, uint64_t seq, uint64_t now)
{
    p->now = umax(p->now, now);
    if (seq > p->persist_seq)
        seq = p->persist_seq;
    if (seq <= p->durable_seq)
        return;
    p->durable_seq = seq;
    size_t k = 0;
    while (k < p->infl_len && p->infl[k].seq <= seq) {
        p->promised_durable = umax(p->promised_durable, p->infl[k].promised);
        k++;
    }
    if (k) {
        memmove(p->infl, p->infl + k, (p->infl_len - k) * sizeof(*p->infl));
        p->infl_len -= k;
    }
    finish(p);
}

int paxos_submit(struct paxos *p, uint64_t client_id, uint64_t seq, const void *data, uint32_t len,
                 uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = leader_hint(p);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    if ((uint64_t)len + 25 > p->cfg.max_batch_bytes || (len && !data))
        return CAIRN_E_INVAL;
    if (p->cmd_len >= p->cfg.max_pending)
        return CAIRN_E_BUSY;
    if (p->cmd_len + 1 > p->cmd_cap) {
        /* unroll the ring into a larger array */
        size_t ncap = p->cmd_cap ? p->cmd_cap * 2 : 16;
        struct pending_cmd *n = calloc(ncap, sizeof(*n));
        if (!n)
            return CAIRN_E_NOMEM;
        for (size_t i = 0; i < p->cmd_len; i++)
            n[i] = p->cmds[(p->cmd_head + i) % p->cmd_cap];
        free(p->cmds);
        p->cmds = n;
        p->cmd_cap = ncap;
        p->cmd_head = 0;
    }
    struct pending_cmd *c = &p->cmds[(p->cmd_head + p->cmd_len) % p->cmd_cap];
    c->client_id = client_id;
    c->seq = seq;
    c->len = len;
    c->data = dupbytes(data, len);
    p->cmd_len++;
    leader_propose(p);
    finish(p);
    return 0;
}

int paxos_read(struct paxos *p, uint64_t read_id, uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = leader_hint(p);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    p->reads = grow(p->reads, &p->reads_cap, p->reads_len + 1, sizeof(*p->reads));
    struct pending_read *r = &p->reads[p->reads_len++];
    r->id = read_id;
    r->index = p->commit >= p->term_start ? p->commit : PLACEHOLDER;
    r->confirmed = false;
    if (lease_valid(p)) {
        r->round = p->hb_round;
        reads_check(p);
        finish(p);
        return 0;
    }
    /* confirmed by the first round that starts from now on: at once if no round
     * is in flight, else when it completes (reads arriving meanwhile share it) */
    r->round = p->hb_round + 1;
    p->round_wanted = true;
    if (!p->probe_round || has_quorum_both(p, Q_READ, p->probe_round))
        start_read_round(p);
    reads_check(p);
    finish(p);
    return 0;
}

uint64_t paxos_trim(struct paxos *p, uint64_t slot)
{
    uint64_t t = umin(slot, p->applied);
    if (t > p->base) {
        log_trim(p, t);
        finish(p);
    }
    return p->base;
}

bool paxos_snapshot_wanted(const struct paxos *p, uint64_t slot)
{
    return slot > p->applied;
}

void paxos_snapshot_installed(struct paxos *p, uint32_t from, uint64_t slot,
                              const struct paxos_membership *m, uint64_t now)
{
    p->now = umax(p->now, now);
    if (slot > p->applied) {
        if (p->role != PAXOS_FOLLOWER)
            become_follower(p, from);
        log_trim(p, slot);
        p->commit = p->applied = slot;
        p->match_cache_ballot = 0;
        if (m && ms_valid(m)) {
            p->conf = p->lconf = *m;
            p->lconf_slot = 0;
            peers_sync(p);
        }
    }
    if (known_peer(p, from)) {
        p->ack_pending = true;
        p->ack_to = from;
        p->ack_after = PLACEHOLDER;
    }
    finish(p);
}

void paxos_status(const struct paxos *p, struct paxos_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = p->cfg.id;
    st->role = p->role;
    st->leader = p->leader;
    st->ballot = (p->role == PAXOS_LEADER || p->role == PAXOS_CANDIDATE) ? p->ballot : p->promised;
    st->promised = p->promised;
    st->commit = p->commit;
    st->applied = p->applied;
    st->base = p->base;
    st->last = log_last(p);
    st->term_start = p->role == PAXOS_LEADER ? p->term_start : 0;
    st->pending = (uint32_t)p->cmd_len;
    st->n_voters = p->conf.n_voters;
    st->n_learners = p->conf.n_learners;
}

void paxos_membership_get(const struct paxos *p, struct paxos_membership *out)
{
    *out = p->conf;
}

int paxos_change(struct paxos *p, uint32_t op, uint32_t id, uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = leader_hint(p);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    if (id == 0 || id > PAXOS_MAX_ID)
        return CAIRN_E_INVAL;
    /* one change at a time, and only once this leadership has committed */
    if (p->commit < p->term_start || p->lconf_slot > p->commit)
        return CAIRN_E_BUSY;
    struct paxos_membership n = p->lconf;
    struct peer *pr = peer_find(p, id);
    switch (op) {
    case PAXOS_ADD_LEARNER:
        if (ms_member(&n, id))
            return CAIRN_E_EXISTS;
        if (n.n_voters + n.n_learners >= PAXOS_MAX_REPLICAS)
            return CAIRN_E_NOSPACE;
        n.learners[n.n_learners++] = id;
        break;
    case PAXOS_PROMOTE:
        if (!ms_member(&n, id) || ms_voter(&n, id))
            return ms_voter(&n, id) ? CAIRN_E_EXISTS : CAIRN_E_NOTFOUND;
        if (!pr || !pr->acked || pr->reported < p->commit)
            return CAIRN_E_BUSY; /* not caught up yet */
        for (uint32_t i = 0; i < n.n_learners; i++)
            if (n.learners[i] == id)
                n.learners[i] = n.learners[--n.n_learners];
        n.voters[n.n_voters++] = id;
        break;
    case PAXOS_REMOVE:
        if (!ms_member(&n, id))
            return CAIRN_E_NOTFOUND;
        if (ms_voter(&n, id) && n.n_voters == 1)
            return CAIRN_E_INVAL;
        for (uint32_t i = 0; i < n.n_voters; i++)
            if (n.voters[i] == id)
                n.voters[i] = n.voters[--n.n_voters];
        for (uint32_t i = 0; i < n.n_learners; i++)
            if (n.learners[i] == id)
                n.learners[i] = n.learners[--n.n_learners];
        break;
    default:
        return CAIRN_E_INVAL;
    }
    uint8_t v[MS_VALUE_MAX];
    uint32_t len = ms_encode(&n, v);
    uint64_t slot = log_last(p) + 1;
    log_put(p, slot, p->ballot, v, len);
    p->lconf = n;
    p->lconf_slot = slot;
    peers_sync(p);
    CN_DEBUG(MOD, "replica %u: membership change %u of %u at slot %llu", p->cfg.id, op, id,
             (unsigned long long)slot);
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        if (is_target(p, p->peers[i].id))
            leader_send(p, &p->peers[i], false);
    finish(p);
    return 0;
}
