/* Multi-Paxos protocol core: see paxos.h for the contract and docs/paxos.md for
 * the protocol and its invariants. This file: construction, the event entry
 * points and tick dispatch, the value codec, the in-memory log, persistence and
 * the outbox; the protocol's phases are in paxos_election.c,
 * paxos_replication.c and paxos_membership.c (see paxos_int.h). */
#include "paxos_int.h"

#include "cn_error.h"
#include "cn_log.h"

#include <stdlib.h>
#include <string.h>

/* ---------- small helpers ---------- */

void *pxc_grow(void *arr, size_t *cap, size_t need, size_t elem)
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

uint8_t *pxc_dupbytes(const uint8_t *d, uint32_t len)
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

/* ---------- value codec ---------- */

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
    case PAXOS_MSG_TIMEOUT_NOW:
        return "TIMEOUT_NOW";
    default:
        return "?";
    }
}

/* ---------- log ---------- */

/* Stores (slot, ballot, value) in memory and queues it for the next record. */
void pxc_log_put(struct paxos *p, uint64_t slot, uint64_t ballot, const uint8_t *data, uint32_t len)
{
    if (slot > log_last(p)) {
        size_t need = (size_t)(slot - p->base);
        p->log = pxc_grow(p->log, &p->log_cap, need, sizeof(*p->log));
        p->log_len = need;
    }
    struct log_ent *e = &p->log[slot - p->base - 1];
    free(e->data);
    e->data = pxc_dupbytes(data, len);
    e->len = len;
    e->ballot = ballot;
    e->pseq = 0;
    if (!e->queued) {
        e->queued = true;
        p->wq = pxc_grow(p->wq, &p->wq_cap, p->wq_len + 1, sizeof(*p->wq));
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

/* ---------- output and persistence ---------- */

void pxc_send_msg(struct paxos *p, uint32_t to, struct paxos_msg *m)
{
    m->from = p->cfg.id;
    p->io->send(p->io, to, m);
}

/* Queues a message that may only leave once everything persisted so far is
 * durable (the placeholder is resolved at the end of the current call). */
void pxc_send_after_durable(struct paxos *p, uint32_t to, const struct paxos_msg *m)
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
            o->entries[i].data = pxc_dupbytes(m->entries[i].data, m->entries[i].len);
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
    p->infl = pxc_grow(p->infl, &p->infl_cap, p->infl_len + 1, sizeof(*p->infl));
    p->infl[p->infl_len++] = (struct inflight){.seq = seq, .promised = p->promised};
    p->io->persist(p->io, &rec);
    free(ents);
    p->wq_len = 0;
    p->dirty_promise = false;
    p->trim_pending = 0;
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
void pxc_finish(struct paxos *p)
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
        pxc_send_ack(p);
    if (p->role == PAXOS_CANDIDATE && p->cand_seq <= p->durable_seq) {
        /* our own promise is durable: it counts, and we may lead */
        struct peer *me = pxc_peer_find(p, p->cfg.id);
        if (me)
            me->voted = true;
        if (pxc_phase1_complete(p)) {
            pxc_become_leader(p);
            flush_persist(p);
        }
    }
    if (p->role == PAXOS_LEADER)
        pxc_leader_advance(p);
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

uint64_t paxos_lease_max(uint64_t election_ms, uint32_t drift_ppm, uint64_t jump_ms)
{
    if (drift_ppm >= 1000000 || election_ms <= jump_ms || election_ms > UINT32_MAX)
        return 0;
    uint64_t l = (election_ms - jump_ms) * (1000000 - drift_ppm) / (1000000 + drift_ppm);
    l = l > jump_ms ? l - jump_ms : 0;
    return l < election_ms ? l : election_ms - 1; /* paxos_new wants it below T */
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
    if (!pxc_ms_valid(&conf))
        return CAIRN_E_INVAL;
    struct paxos *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    p->cfg = *cfg;
    p->io = io;
    p->now = now;
    p->conf = p->lconf = conf;
    pxc_peer_add(p, cfg->id);
    pxc_peers_sync(p);
    if (rs) {
        p->promised = rs->promised;
        p->base = p->commit = p->applied = rs->applied;
        for (uint32_t i = 0; i < rs->n_entries; i++) {
            const struct paxos_entry *e = &rs->entries[i];
            p->promised = umax(p->promised, e->ballot);
            if (e->slot <= p->base || e->slot > p->base + MAX_LOG_SPAN || !e->len || !e->data)
                continue;
            pxc_log_put(p, e->slot, e->ballot, e->data, e->len);
        }
        /* restored entries are already durable */
        for (size_t i = 0; i < p->log_len; i++)
            p->log[i].queued = false;
        p->wq_len = 0;
    }
    p->promised_durable = p->promised;
    p->max_round = PAXOS_BALLOT_ROUND(p->promised);
    p->role = PAXOS_FOLLOWER;
    p->election_deadline = now + pxc_random_timeout(p);
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
    pxc_p1_free(p);
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
    case PAXOS_MSG_TIMEOUT_NOW:
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
        pxc_on_prevote(p, m);
        break;
    case PAXOS_MSG_PREVOTE_REPLY:
        pxc_on_prevote_reply(p, m);
        break;
    case PAXOS_MSG_PREPARE:
        pxc_on_prepare(p, m);
        break;
    case PAXOS_MSG_PROMISE:
        pxc_on_promise(p, m);
        break;
    case PAXOS_MSG_ACCEPT:
        pxc_on_accept(p, m);
        break;
    case PAXOS_MSG_ACCEPTED:
        pxc_on_accepted(p, m);
        break;
    case PAXOS_MSG_LEARN:
        pxc_on_learn(p, m);
        break;
    case PAXOS_MSG_TIMEOUT_NOW:
        pxc_on_timeout_now(p, m);
        break;
    }
    pxc_finish(p);
    return 0;
}

/* Leader, every tick: check-quorum first (it may step down), then heartbeats. */
static void leader_tick(struct paxos *p)
{
    if (pxc_check_quorum(p))
        pxc_leader_heartbeat(p);
}

void paxos_tick(struct paxos *p, uint64_t now)
{
    p->now = umax(p->now, now);
    if (p->role == PAXOS_LEADER) {
        leader_tick(p);
    } else if (p->now >= p->election_deadline) {
        if (pxc_ms_voter(&p->conf, p->cfg.id))
            pxc_start_prevote(p);
        else
            pxc_become_follower(p, p->leader); /* learners and non-members never stand */
    }
    if (p->role == PAXOS_PRECANDIDATE && pxc_votes_in(p, &p->conf) >= pxc_ms_quorum(&p->conf))
        pxc_start_candidacy(p);
    pxc_finish(p);
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
    pxc_finish(p);
}

uint64_t paxos_trim(struct paxos *p, uint64_t slot)
{
    uint64_t t = umin(slot, p->applied);
    if (t > p->base) {
        log_trim(p, t);
        pxc_finish(p);
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
            pxc_become_follower(p, from);
        log_trim(p, slot);
        p->commit = p->applied = slot;
        p->match_cache_ballot = 0;
        if (m && pxc_ms_valid(m)) {
            p->conf = p->lconf = *m;
            p->lconf_slot = 0;
            pxc_peers_sync(p);
        }
    }
    if (known_peer(p, from)) {
        p->ack_pending = true;
        p->ack_to = from;
        p->ack_after = PLACEHOLDER;
    }
    pxc_finish(p);
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
