/* Multi-Paxos core, membership: voter/learner sets and their value encoding,
 * the table of peer records kept for every member, and membership change
 * through the log (add a learner, promote it, remove). See docs/paxos.md. */
#include "paxos_int.h"

#include "cn_error.h"
#include "cn_log.h"

#include <string.h>

/* ---------- membership sets and their value encoding ---------- */

static bool ms_has(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

int paxos_membership_has(const struct paxos_membership *m, uint32_t id)
{
    return pxc_ms_member(m, id);
}

int paxos_membership_votes(const struct paxos_membership *m, uint32_t id)
{
    return pxc_ms_voter(m, id);
}

bool pxc_ms_voter(const struct paxos_membership *m, uint32_t id)
{
    return ms_has(m->voters, m->n_voters, id);
}

bool pxc_ms_member(const struct paxos_membership *m, uint32_t id)
{
    return pxc_ms_voter(m, id) || ms_has(m->learners, m->n_learners, id);
}

uint32_t pxc_ms_quorum(const struct paxos_membership *m)
{
    return m->n_voters / 2 + 1;
}

bool pxc_ms_valid(const struct paxos_membership *m)
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
    if (!pxc_ms_valid(&t))
        return CAIRN_E_CORRUPT;
    if (m)
        *m = t;
    return 0;
}

/* ---------- peers ---------- */

struct peer *pxc_peer_find(struct paxos *p, uint32_t id)
{
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        if (p->peers[i].id == id && id)
            return &p->peers[i];
    return NULL;
}

static bool in_use(const struct paxos *p, uint32_t id)
{
    return id == p->cfg.id || pxc_ms_member(&p->conf, id) || pxc_ms_member(&p->lconf, id);
}

/* Finds or allocates the peer record of a member (NULL if the table is full). */
struct peer *pxc_peer_add(struct paxos *p, uint32_t id)
{
    struct peer *pr = pxc_peer_find(p, id);
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

void pxc_peers_sync(struct paxos *p)
{
    for (uint32_t i = 0; i < p->conf.n_voters; i++)
        pxc_peer_add(p, p->conf.voters[i]);
    for (uint32_t i = 0; i < p->conf.n_learners; i++)
        pxc_peer_add(p, p->conf.learners[i]);
    for (uint32_t i = 0; i < p->lconf.n_voters; i++)
        pxc_peer_add(p, p->lconf.voters[i]);
    for (uint32_t i = 0; i < p->lconf.n_learners; i++)
        pxc_peer_add(p, p->lconf.learners[i]);
}

/* Replicas the leader replicates to: members of the applied and latest configs. */
bool pxc_is_target(const struct paxos *p, uint32_t id)
{
    return id && id != p->cfg.id && (pxc_ms_member(&p->conf, id) || pxc_ms_member(&p->lconf, id));
}

/* ---------- public API ---------- */

void paxos_membership_get(const struct paxos *p, struct paxos_membership *out)
{
    *out = p->conf;
}

void paxos_membership_latest(const struct paxos *p, struct paxos_membership *out)
{
    *out = p->role == PAXOS_LEADER ? p->lconf : p->conf;
}

int paxos_peer_info(const struct paxos *p, uint32_t id, struct paxos_peer_info *out)
{
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++) {
        const struct peer *pr = &p->peers[i];
        if (pr->id == id && id != p->cfg.id && pxc_is_target(p, id)) {
            out->match = pr->match;
            out->last_ack_ms = pr->last_ack;
            out->acked = pr->acked;
            return 0;
        }
    }
    return CAIRN_E_NOTFOUND;
}

int paxos_transfer(struct paxos *p, uint32_t to, uint64_t now, uint32_t *chosen)
{
    p->now = umax(p->now, now);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    const struct peer *best = NULL;
    for (uint32_t i = 0; i < p->lconf.n_voters; i++) {
        uint32_t id = p->lconf.voters[i];
        const struct peer *pr = pxc_peer_find(p, id);
        if (id == p->cfg.id || !pr || !pr->acked || (to && id != to))
            continue;
        if (!to && p->now - pr->last_ack >= p->cfg.election_ms)
            continue; /* not heard lately */
        if (!best || pr->match > best->match)
            best = pr;
    }
    if (!best)
        return CAIRN_E_NOTFOUND;
    if (best->match < log_last(p) || best->reported < p->commit)
        return CAIRN_E_BUSY;
    if (chosen)
        *chosen = best->id;
    CN_INFO(MOD, "replica %u: handing leadership to replica %u", p->cfg.id, best->id);
    /* Voters grant the successor's PREPARE although they hear this leader:
     * from now on, for the rest of this term, no read is served on a lease. */
    if (p->io->lease_lost)
        p->io->lease_lost(p->io); /* before TIMEOUT_NOW can let the successor lead */
    p->handing_over = true;
    p->lease_until = 0;
    struct paxos_msg m = {.type = PAXOS_MSG_TIMEOUT_NOW, .ballot = p->ballot, .commit = p->commit};
    pxc_send_msg(p, best->id, &m);
    pxc_finish(p);
    return 0;
}

int paxos_change(struct paxos *p, uint32_t op, uint32_t id, uint64_t now, uint32_t *leader)
{
    p->now = umax(p->now, now);
    if (leader)
        *leader = pxc_leader_hint(p);
    if (p->role != PAXOS_LEADER)
        return CAIRN_E_NOTLEADER;
    if (id == 0 || id > PAXOS_MAX_ID)
        return CAIRN_E_INVAL;
    /* one change at a time, and only once this leadership has committed */
    if (p->commit < p->term_start || p->lconf_slot > p->commit)
        return CAIRN_E_BUSY;
    struct paxos_membership n = p->lconf;
    struct peer *pr = pxc_peer_find(p, id);
    switch (op) {
    case PAXOS_ADD_LEARNER:
        if (pxc_ms_member(&n, id))
            return CAIRN_E_EXISTS;
        if (n.n_voters + n.n_learners >= PAXOS_MAX_REPLICAS)
            return CAIRN_E_NOSPACE;
        n.learners[n.n_learners++] = id;
        break;
    case PAXOS_PROMOTE:
        if (!pxc_ms_member(&n, id) || pxc_ms_voter(&n, id))
            return pxc_ms_voter(&n, id) ? CAIRN_E_EXISTS : CAIRN_E_NOTFOUND;
        if (!pr || !pr->acked || pr->reported < p->commit)
            return CAIRN_E_BUSY; /* not caught up yet */
        for (uint32_t i = 0; i < n.n_learners; i++)
            if (n.learners[i] == id)
                n.learners[i] = n.learners[--n.n_learners];
        n.voters[n.n_voters++] = id;
        break;
    case PAXOS_REMOVE:
        if (!pxc_ms_member(&n, id))
            return CAIRN_E_NOTFOUND;
        if (pxc_ms_voter(&n, id) && n.n_voters == 1)
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
    pxc_log_put(p, slot, p->ballot, v, len);
    p->lconf = n;
    p->lconf_slot = slot;
    pxc_peers_sync(p);
    CN_DEBUG(MOD, "replica %u: membership change %u of %u at slot %llu", p->cfg.id, op, id,
             (unsigned long long)slot);
    for (uint32_t i = 0; i < PAXOS_MAX_REPLICAS; i++)
        if (pxc_is_target(p, p->peers[i].id))
            pxc_leader_send(p, &p->peers[i], false);
    pxc_finish(p);
    return 0;
}
