/* Multi-Paxos core, elections: pre-vote, Phase 1 (prepare / promise) for every
 * open slot, becoming leader (the no-op slot) and stepping down, check-quorum
 * and the leader lease. See docs/paxos.md. */
#include "paxos_int.h"

#include "cn_error.h"
#include "cn_log.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t noop_value[1] = {0};

/* ---------- role changes ---------- */

uint32_t pxc_votes_in(struct paxos *p, const struct paxos_membership *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct peer *pr = pxc_peer_find(p, m->voters[i]);
        n += pr && pr->voted;
    }
    return n;
}

uint64_t pxc_random_timeout(struct paxos *p)
{
    uint64_t t = p->cfg.election_ms;
    return t + (t ? p->io->random(p->io) % t : 0);
}

void pxc_p1_free(struct paxos *p)
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
        p->p1 = pxc_grow(p->p1, &p->p1_cap, idx + 1, sizeof(*p->p1));
        p->p1_len = idx + 1;
    }
    struct log_ent *e = &p->p1[idx];
    if (e->data && e->ballot >= ballot)
        return;
    free(e->data);
    e->data = pxc_dupbytes(data, len);
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
void pxc_become_follower(struct paxos *p, uint32_t leader)
{
    uint32_t old = p->role;
    if (old == PAXOS_LEADER && p->io->lease_lost)
        p->io->lease_lost(p->io); /* first: a driver's lease reads stop before anything else */
    p->role = PAXOS_FOLLOWER;
    p->lease_until = 0;
    p->handing_over = false;
    p->leader = leader;
    pxc_p1_free(p);
    if (old == PAXOS_LEADER) {
        CN_DEBUG(MOD, "replica %u: leader of ballot %llu steps down", p->cfg.id,
                 (unsigned long long)p->ballot);
        fail_pending(p);
    }
    p->election_deadline = p->now + pxc_random_timeout(p);
}

/* The leader hint given to clients: none from a replica outside the membership
 * (what it remembers is stale). */
uint32_t pxc_leader_hint(const struct paxos *p)
{
    return pxc_ms_member(&p->conf, p->cfg.id) ? p->leader : 0;
}

static bool leader_recent(const struct paxos *p)
{
    if (p->role == PAXOS_LEADER)
        return true;
    return p->have_contact && p->now - p->last_contact < p->cfg.election_ms;
}

void pxc_start_prevote(struct paxos *p)
{
    p->role = PAXOS_PRECANDIDATE;
    p->leader = 0;
    p->have_contact = false;
    p->election_deadline = p->now + pxc_random_timeout(p);
    uint64_t b = PAXOS_BALLOT(umax(p->max_round, PAXOS_BALLOT_ROUND(p->promised)) + 1, p->cfg.id);
    p->ballot = b;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        p->peers[i].voted = p->peers[i].id == p->cfg.id;
    for (uint32_t i = 0; i < p->conf.n_voters; i++) {
        if (p->conf.voters[i] == p->cfg.id)
            continue;
        struct paxos_msg m = {.type = PAXOS_MSG_PREVOTE, .ballot = b, .commit = p->commit};
        pxc_send_msg(p, p->conf.voters[i], &m);
    }
}

static void send_prepare(struct paxos *p, const struct paxos_membership *m)
{
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct peer *pr = pxc_peer_add(p, m->voters[i]);
        if (!pr || pr->id == p->cfg.id || pr->prepared)
            continue;
        pr->prepared = true;
        struct paxos_msg msg = {.type = PAXOS_MSG_PREPARE,
                                .ballot = p->ballot,
                                .commit = p->commit,
                                .ok = p->ballot == p->transfer_ballot};
        pxc_send_msg(p, pr->id, &msg);
    }
}

/* Phase 1 is complete with a majority of the applied membership and of every
 * membership that a value learned for an open slot would install: each change
 * was chosen by a majority of the one before it, so this chain of quorums sees
 * every value chosen under any of them. Also (re)sends PREPARE to voters of
 * memberships discovered in promises. */
bool pxc_phase1_complete(struct paxos *p)
{
    bool ok = pxc_votes_in(p, &p->conf) >= pxc_ms_quorum(&p->conf);
    for (size_t i = 0; i < p->p1_len; i++) {
        struct paxos_membership m;
        if (!p->p1[i].data || paxos_value_membership(p->p1[i].data, p->p1[i].len, &m) != 0)
            continue;
        send_prepare(p, &m);
        if (pxc_votes_in(p, &m) < pxc_ms_quorum(&m))
            ok = false;
    }
    return ok;
}

void pxc_start_candidacy(struct paxos *p)
{
    uint64_t b = PAXOS_BALLOT(umax(p->max_round, PAXOS_BALLOT_ROUND(p->promised)) + 1, p->cfg.id);
    p->max_round = PAXOS_BALLOT_ROUND(b);
    p->role = PAXOS_CANDIDATE;
    p->ballot = b;
    p->transfer_ballot = p->transfer_pending ? b : 0;
    p->transfer_pending = false;
    p->promised = b;
    p->dirty_promise = true;
    p->cand_seq = PLACEHOLDER;
    p->leader = 0;
    p->election_deadline = p->now + pxc_random_timeout(p);
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        p->peers[i].voted = false; /* self counts once its promise is durable */
        p->peers[i].prepared = false;
    }
    pxc_p1_free(p);
    p->p1_base = p->commit;
    for (uint64_t s = p->commit + 1; s <= log_last(p); s++) {
        struct log_ent *e = log_get(p, s);
        if (e)
            p1_merge(p, s, e->ballot, e->data, e->len);
    }
    CN_DEBUG(MOD, "replica %u: candidate for ballot %llu", p->cfg.id, (unsigned long long)b);
    send_prepare(p, &p->conf);
    pxc_phase1_complete(p); /* reaches voters of memberships in our own open slots */
}

void pxc_become_leader(struct paxos *p)
{
    p->role = PAXOS_LEADER;
    p->leader = p->cfg.id;
    p->lease_until = 0;
    p->handing_over = false;
    p->probe_round = 0;
    p->round_wanted = false;
    uint64_t top = umax(log_last(p), p->p1_base + p->p1_len);
    for (uint64_t s = p->commit + 1; s <= top; s++) {
        struct log_ent *best = NULL;
        if (s > p->p1_base && s - p->p1_base <= p->p1_len && p->p1[s - p->p1_base - 1].data)
            best = &p->p1[s - p->p1_base - 1];
        if (best)
            pxc_log_put(p, s, p->ballot, best->data, best->len);
        else
            pxc_log_put(p, s, p->ballot, noop_value, sizeof(noop_value));
    }
    pxc_p1_free(p);
    p->term_start = top + 1;
    pxc_log_put(p, p->term_start, p->ballot, noop_value, sizeof(noop_value));
    /* the latest membership in the log governs replication and quorums */
    p->lconf = p->conf;
    p->lconf_slot = 0;
    for (uint64_t s = p->commit + 1; s <= top; s++) {
        struct log_ent *e = log_get(p, s);
        if (e && paxos_value_membership(e->data, e->len, &p->lconf) == 0)
            p->lconf_slot = s;
    }
    pxc_peers_sync(p);
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
        if (pxc_is_target(p, p->peers[i].id))
            pxc_leader_send(p, &p->peers[i], true);
}

/* ---------- check-quorum and the leader lease ---------- */

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
        struct peer *pr = pxc_peer_find(p, m->voters[i]);
        if (!pr)
            continue;
        if (what == Q_READ ? pr->acked_read >= arg : p->now - pr->last_ack < p->cfg.election_ms)
            n++;
    }
    return n >= pxc_ms_quorum(m);
}

bool pxc_has_quorum_both(struct paxos *p, int what, uint64_t arg)
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
        struct peer *pr = pxc_peer_find(p, m->voters[i]);
        v[i] = m->voters[i] == p->cfg.id ? p->hb_round : (pr ? pr->acked_read : 0);
    }
    qsort(v, m->n_voters, sizeof(v[0]), cmp_desc);
    return v[pxc_ms_quorum(m) - 1];
}

/* Lease: a majority acknowledged round r, and each of them refuses to vote for
 * election_ms (its clock) after it received r, so no other leader can exist
 * before sent(r) + lease_ms (lease_ms is below election_ms by the drift bound). */
void pxc_lease_update(struct paxos *p)
{
    if (!p->cfg.lease_ms || p->role != PAXOS_LEADER || p->handing_over)
        return;
    uint64_t r = umin(quorum_round(p, &p->conf), quorum_round(p, &p->lconf));
    if (r == 0 || p->hb_round - r >= LEASE_RING)
        return;
    p->lease_until = umax(p->lease_until, p->round_sent[r % LEASE_RING] + p->cfg.lease_ms);
}

bool pxc_lease_valid(const struct paxos *p)
{
    return p->cfg.lease_ms && p->role == PAXOS_LEADER && !p->handing_over &&
           p->now < p->lease_until;
}

/* Check-quorum: a leader that has not heard from a majority of the applied and
 * of the latest membership within an election timeout steps down. Returns false
 * when it stepped down. Leader only. */
bool pxc_check_quorum(struct paxos *p)
{
    if (p->now >= p->checkq_deadline) {
        if (!pxc_has_quorum_both(p, Q_ALIVE, 0)) {
            CN_DEBUG(MOD, "replica %u: lost its quorum, stepping down", p->cfg.id);
            pxc_become_follower(p, 0);
            return false;
        }
        p->checkq_deadline = p->now + p->cfg.election_ms;
    }
    return true;
}

/* ---------- messages: pre-vote and Phase 1 ---------- */

/* The leader hands over: stand now, with the transfer flag, if this replica
 * is a voter following that leader and has everything it committed. */
void pxc_on_timeout_now(struct paxos *p, const struct paxos_msg *m)
{
    if (p->role != PAXOS_FOLLOWER || p->leader != m->from || m->ballot != p->promised ||
        !pxc_ms_voter(&p->conf, p->cfg.id) || p->commit < m->commit)
        return;
    CN_INFO(MOD, "replica %u: replica %u hands leadership over", p->cfg.id, m->from);
    p->transfer_pending = true;
    pxc_start_candidacy(p);
}

void pxc_on_prevote(struct paxos *p, const struct paxos_msg *m)
{
    bool grant = m->ballot > p->promised && m->commit >= p->commit && !leader_recent(p);
    if (m->commit < p->commit)
        pxc_send_learn(p, m->from, m->commit);
    struct paxos_msg r = {.type = PAXOS_MSG_PREVOTE_REPLY,
                          .ballot = m->ballot,
                          .ok = grant,
                          .match = p->promised,
                          .commit = p->commit};
    pxc_send_msg(p, m->from, &r);
}

void pxc_on_prevote_reply(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->match));
    if (p->role != PAXOS_PRECANDIDATE || m->ballot != p->ballot || !m->ok)
        return;
    struct peer *pr = pxc_peer_find(p, m->from);
    if (pr)
        pr->voted = true;
    if (pxc_votes_in(p, &p->conf) >= pxc_ms_quorum(&p->conf))
        pxc_start_candidacy(p);
}

void pxc_on_prepare(struct paxos *p, const struct paxos_msg *m)
{
    bool fresh =
        m->ballot > p->promised || (m->ballot == p->promised && p->role == PAXOS_FOLLOWER &&
                                    PAXOS_BALLOT_ID(m->ballot) == m->from);
    bool grant = fresh && m->commit >= p->commit && (!leader_recent(p) || m->ok);
    if (!grant) {
        if (m->commit < p->commit)
            pxc_send_learn(p, m->from, m->commit);
        p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
        struct paxos_msg r = {.type = PAXOS_MSG_PROMISE,
                              .ballot = m->ballot,
                              .ok = 0,
                              .match = p->promised,
                              .commit = p->commit};
        pxc_send_msg(p, m->from, &r);
        return;
    }
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (m->ballot > p->promised) {
        p->promised = m->ballot;
        p->dirty_promise = true;
    }
    if (p->role != PAXOS_FOLLOWER)
        pxc_become_follower(p, 0);
    p->leader = 0;
    p->election_deadline = p->now + pxc_random_timeout(p);
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
    pxc_send_after_durable(p, m->from, &r);
    free(ents);
}

void pxc_on_promise(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->match));
    if (p->role != PAXOS_CANDIDATE || m->ballot != p->ballot)
        return;
    if (!m->ok) {
        if (m->match > p->ballot)
            pxc_become_follower(p, 0); /* a higher ballot exists */
        return;
    }
    struct peer *pr = pxc_peer_find(p, m->from);
    if (!pr || pr->voted)
        return;
    pr->voted = true;
    for (uint32_t i = 0; i < m->n_entries; i++)
        p1_merge(p, m->entries[i].slot, m->entries[i].ballot, m->entries[i].data,
                 m->entries[i].len);
}
