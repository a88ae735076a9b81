/* Multi-Paxos core, replication: Phase 2 (accept / accepted) with batching and a
 * bounded window, commit and apply, catch-up by learn, heartbeats, and
 * linearizable reads by read index. See docs/paxos.md. */
#include "paxos_int.h"

#include "cn_error.h"
#include "cn_log.h"

#include <stdlib.h>
#include <string.h>

/* ---------- durable prefix ---------- */

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

/* ---------- leader ---------- */

void pxc_leader_send(struct paxos *p, struct peer *pr, bool heartbeat)
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
            pxc_send_msg(p, pr->id, &m);
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
        pxc_send_msg(p, pr->id, &m);
        sent = true;
        from = s;
        pr->next = s;
    }
    if (!sent && heartbeat) {
        struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                              .ballot = p->ballot,
                              .commit = p->commit,
                              .read_seq = p->hb_round};
        pxc_send_msg(p, pr->id, &m);
    }
}

struct collect {
    struct paxos *p;
    uint32_t n;
};

static void collect_cmd(void *arg, const struct paxos_cmd *cmd)
{
    struct collect *c = arg;
    c->p->applybuf =
        pxc_grow(c->p->applybuf, &c->p->applybuf_cap, c->n + 1, sizeof(*c->p->applybuf));
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
            pxc_peers_sync(p);
            if (p->io->membership)
                p->io->membership(p->io, s, &m);
            p->io->apply(p->io, s, NULL, 0);
            if (!pxc_ms_voter(&m, p->cfg.id) && p->role != PAXOS_FOLLOWER) {
                CN_DEBUG(MOD, "replica %u: no longer a voter", p->cfg.id);
                pxc_become_follower(p, 0);
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

/* Starts heartbeat round hb_round + 1 with a probe to every member. */
static void start_read_round(struct paxos *p)
{
    p->hb_round++;
    p->round_sent[p->hb_round % LEASE_RING] = p->now;
    p->probe_round = p->hb_round;
    p->round_wanted = false;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        if (!pxc_is_target(p, p->peers[i].id))
            continue;
        struct paxos_msg m = {.type = PAXOS_MSG_ACCEPT,
                              .ballot = p->ballot,
                              .commit = p->commit,
                              .read_seq = p->hb_round};
        pxc_send_msg(p, p->peers[i].id, &m);
    }
}

static void reads_check(struct paxos *p)
{
    if (p->role != PAXOS_LEADER)
        return;
    if (p->round_wanted && pxc_has_quorum_both(p, Q_READ, p->probe_round))
        start_read_round(p);
    size_t w = 0;
    for (size_t i = 0; i < p->reads_len; i++) {
        struct pending_read *r = &p->reads[i];
        if (!r->confirmed)
            r->confirmed = pxc_lease_valid(p) || pxc_has_quorum_both(p, Q_READ, r->round);
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
        pxc_log_put(p, log_last(p) + 1, p->ballot, v, (uint32_t)size);
        free(v);
        proposed = true;
    }
    if (p->cmd_len == 0)
        p->cmd_head = 0;
    if (proposed)
        for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
            if (pxc_is_target(p, p->peers[i].id))
                pxc_leader_send(p, &p->peers[i], false);
}

void pxc_leader_advance(struct paxos *p)
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
                struct peer *pr = pxc_peer_find(p, cur.voters[i]);
                n += pr && pr->match >= y;
            }
        }
        if (n < pxc_ms_quorum(&cur))
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

/* Every heartbeat_ms a leader sends every target an ACCEPT from where it last
 * acknowledged (a heartbeat, and retransmission of anything unacknowledged);
 * with a lease or waiting reads the heartbeat starts a new read round. Leader only. */
void pxc_leader_heartbeat(struct paxos *p)
{
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
            if (!pxc_is_target(p, p->peers[i].id))
                continue;
            struct peer *pr = &p->peers[i];
            /* go back: retransmit anything unacknowledged */
            pr->next = pr->acked ? pr->reported + 1 : p->commit + 1;
            pxc_leader_send(p, pr, true);
        }
    }
}

/* ---------- follower side ---------- */

void pxc_send_ack(struct paxos *p)
{
    p->ack_pending = false;
    uint64_t b = p->promised_durable;
    struct paxos_msg m = {.type = PAXOS_MSG_ACCEPTED,
                          .ballot = b,
                          .ok = 1,
                          .commit = p->commit,
                          .match = durable_match(p, b),
                          .read_seq = p->read_seen_ballot == b ? p->read_seen : 0};
    pxc_send_msg(p, p->ack_to, &m);
}

void pxc_on_accept(struct paxos *p, const struct paxos_msg *m)
{
    if (m->ballot < p->promised) {
        struct paxos_msg r = {
            .type = PAXOS_MSG_ACCEPTED, .ballot = p->promised, .ok = 0, .commit = p->commit};
        pxc_send_msg(p, m->from, &r);
        return;
    }
    if (m->ballot > p->promised) {
        p->promised = m->ballot;
        p->dirty_promise = true;
    }
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (p->role != PAXOS_FOLLOWER)
        pxc_become_follower(p, m->from);
    p->leader = m->from;
    p->have_contact = true;
    p->last_contact = p->now;
    p->election_deadline = p->now + pxc_random_timeout(p);
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
        pxc_log_put(p, e->slot, m->ballot, e->data, e->len);
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

void pxc_on_accepted(struct paxos *p, const struct paxos_msg *m)
{
    p->max_round = umax(p->max_round, PAXOS_BALLOT_ROUND(m->ballot));
    if (m->ballot > p->promised) {
        /* someone promised a higher ballot: our leadership (if any) is over */
        if (p->role == PAXOS_LEADER || p->role == PAXOS_CANDIDATE)
            pxc_become_follower(p, 0);
        return;
    }
    if (p->role != PAXOS_LEADER || m->ballot != p->ballot || !m->ok)
        return;
    struct peer *pr = pxc_peer_find(p, m->from);
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
    pxc_lease_update(p);
    pxc_leader_advance(p);
    if (p->role == PAXOS_LEADER && (pr->next <= log_last(p) || pr->reported < p->base))
        pxc_leader_send(p, pr, false);
}

/* A replica asked for a vote by one that is behind it sends it what it has
 * learned is chosen (or a snapshot, if that is trimmed), so that the most
 * up-to-date voters can always win an election. */
void pxc_send_learn(struct paxos *p, uint32_t to, uint64_t from_commit)
{
    if (from_commit >= p->commit)
        return;
    if (from_commit < p->base) {
        struct peer *pr = pxc_peer_find(p, to);
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
        pxc_send_msg(p, to, &m);
}

/* Chosen values from a replica that is ahead: stored, committed and applied. A
 * chosen value may replace whatever was accepted for its slot. */
void pxc_on_learn(struct paxos *p, const struct paxos_msg *m)
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
            pxc_log_put(p, e->slot, e->ballot, e->data, e->len);
        p->commit = e->slot;
        advanced = true;
    }
    if (!advanced)
        return;
    if (p->role == PAXOS_CANDIDATE)
        pxc_become_follower(p, 0); /* stand again with the longer prefix */
    p->match_cache_ballot = 0;
    apply_committed(p);
}

/* ---------- public API ---------- */

int paxos_submit(struct paxos *p, uint64_t client_id, uint64_t seq, const void *data, uint32_t len,
                 uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = pxc_leader_hint(p);
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
    c->data = pxc_dupbytes(data, len);
    p->cmd_len++;
    leader_propose(p);
    pxc_finish(p);
    return 0;
}

/* The lease path of paxos_read and reads_check for a read arriving now: the
 * read is confirmed by the lease, its index is the commit (known once the
 * term's no-op is committed) and it is released once applied reaches it. */
uint64_t paxos_lease_read_until(const struct paxos *p)
{
    if (!pxc_lease_valid(p) || p->commit < p->term_start || p->applied < p->commit)
        return 0;
    return p->lease_until;
}

int paxos_read(struct paxos *p, uint64_t read_id, uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = pxc_leader_hint(p);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    p->reads = pxc_grow(p->reads, &p->reads_cap, p->reads_len + 1, sizeof(*p->reads));
    struct pending_read *r = &p->reads[p->reads_len++];
    r->id = read_id;
    r->index = p->commit >= p->term_start ? p->commit : PLACEHOLDER;
    r->confirmed = false;
    if (pxc_lease_valid(p)) {
        r->round = p->hb_round;
        reads_check(p);
        pxc_finish(p);
        return 0;
    }
    /* confirmed by the first round that starts from now on: at once if no round
     * is in flight, else when it completes (reads arriving meanwhile share it) */
    r->round = p->hb_round + 1;
    p->round_wanted = true;
    if (!p->probe_round || pxc_has_quorum_both(p, Q_READ, p->probe_round))
        start_read_round(p);
    reads_check(p);
    pxc_finish(p);
    return 0;
}
