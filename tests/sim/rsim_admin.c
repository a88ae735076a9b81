/* The replica simulator's operator: one membership change at a time, as
 * `cairn meta add|remove|replace` and metadata/md_membership.c carry them
 * out against the leader — add (record the URL through the log, add a
 * learner, start the new replica with an empty store and the membership it
 * was given; the leader promotes it once caught up), remove (a leader asked
 * to remove itself hands leadership over first; refused when it would leave
 * too few live voters; the record is forgotten once the removal is applied;
 * the removed replica is stopped, or left running to be refused), replace
 * (add, then remove). See rsim.h. */
#include "rsim_int.h"

#include "cn_error.h"

#include <inttypes.h>
#include <string.h>

#define TASK_MAX_MS 30000

enum { T_NONE = 0, T_ADD, T_REMOVE, T_REPLACE };

enum {
    S_RECORD = 1,   /* ADD: the URL record through the log */
    S_RECORDED,     /* ... acknowledged */
    S_ADD,          /* md_replica_change(ADD_LEARNER) on the leader */
    S_JOIN,         /* the new replica starts */
    S_AWAIT_VOTER,  /* until the leader has promoted it */
    S_HAND_OVER,    /* REMOVE of the leader: md_replica_transfer(0) */
    S_AWAIT_HANDED, /* ... until it no longer leads */
    S_REMOVE,       /* md_replica_change(REMOVE) on the leader */
    S_AWAIT_GONE,   /* until the removal is applied */
    S_FORGOTTEN,    /* the record's removal acknowledged: stop the replica */
};

static int has(const struct paxos_membership *m, uint32_t id, int voter_only)
{
    for (uint32_t i = 0; i < m->n_voters; i++)
        if (m->voters[i] == id)
            return 1;
    for (uint32_t i = 0; !voter_only && i < m->n_learners; i++)
        if (m->learners[i] == id)
            return 1;
    return 0;
}

static void done(struct rsim *s, const char *how)
{
    struct rs_admin *a = &s->admin;
    rs_trace(s, "operator: task on replica %u %s", a->id, how);
    memset(a, 0, sizeof(*a));
}

static void to_step(struct rsim *s, int step, uint64_t within)
{
    s->admin.step = step;
    s->admin.deadline = s->now + within;
}

/* md_server.c's removal_keeps_quorum: the voters left that the leader heard
 * from lately (itself included) are a majority of the voters left. */
static int removal_keeps_quorum(struct rsim *s, struct rs_node *ld, uint32_t id)
{
    struct paxos_membership m;
    md_replica_membership(ld->rep, 1, &m);
    uint32_t left = 0, alive = 0;
    uint64_t now = rs_node_now(s, ld);
    for (uint32_t i = 0; i < m.n_voters; i++) {
        uint32_t v = m.voters[i];
        if (v == id)
            continue;
        left++;
        struct paxos_peer_info pi;
        if (v == ld->id)
            alive++;
        else if (md_replica_peer_info(ld->rep, v, &pi) == 0 && pi.acked &&
                 now - pi.last_ack_ms <= 2 * RS_ELECT_MS)
            alive++;
    }
    return left > 0 && alive >= left / 2 + 1;
}

static void begin_remove(struct rsim *s, uint32_t id)
{
    struct rs_node *ld = rs_leader(s);
    s->admin.id = id;
    s->admin.keep_running = rs_rnd(s, 3) == 0;
    if (ld && ld->id == id)
        to_step(s, S_HAND_OVER, 4 * RS_ELECT_MS);
    else
        to_step(s, S_REMOVE, 5000);
}

static int change(struct rsim *s, struct rs_node *ld, uint32_t op, uint32_t id)
{
    uint32_t hint = 0;
    int rc = md_replica_change(ld->rep, op, id, rs_node_now(s, ld), &hint);
    rs_after(s, ld);
    return rc;
}

void rs_admin_step(struct rsim *s)
{
    struct rs_admin *a = &s->admin;
    if (!a->task)
        return;
    struct rs_event next = {.time = s->now + 20 + rs_rnd(s, 40), .type = EV_ADMIN};
    rs_push(s, &next);
    /* (a learner added to the log is started whatever the time) */
    if (s->now - a->started > TASK_MAX_MS && a->step != S_JOIN) {
        done(s, "abandoned (too slow)");
        return;
    }
    struct rs_client *oc = &s->clients[RS_CLIENTS];
    struct rs_node *ld = rs_leader(s);
    struct paxos_membership m;
    switch (a->step) {
    case S_RECORD:
        rs_admin_command(s, RS_OP_SET_REPLICA, a->id);
        to_step(s, S_RECORDED, 0);
        break;
    case S_RECORDED:
        if (!oc->busy)
            to_step(s, S_ADD, 0);
        break;
    case S_ADD: {
        if (!ld)
            break;
        int rc = change(s, ld, PAXOS_ADD_LEARNER, a->id);
        if (rc == 0) {
            md_replica_membership(ld->rep, 1, &a->join);
            a->join_at = s->now + rs_rnd(s, 300);
            s->r->changes++;
            rs_trace(s, "operator: replica %u added as a learner", a->id);
            to_step(s, S_JOIN, 0);
        } else if (rc != CAIRN_E_BUSY && rc != CAIRN_E_NOTLEADER) {
            done(s, "not added");
        }
        break;
    }
    case S_JOIN:
        if (s->now >= a->join_at) {
            rs_node_join(s, a->id, &a->join);
            to_step(s, S_AWAIT_VOTER, 15000);
        }
        break;
    case S_AWAIT_VOTER:
        if (ld) {
            md_replica_membership(ld->rep, 0, &m);
            if (has(&m, a->id, 1)) {
                if (a->task == T_REPLACE) {
                    rs_trace(s, "operator: replica %u votes; now removing %u", a->id, a->old);
                    begin_remove(s, a->old);
                    a->task = T_REMOVE;
                } else {
                    done(s, "added and promoted");
                }
                break;
            }
        }
        if (s->now > a->deadline)
            done(s, "added, not promoted in time");
        break;
    case S_HAND_OVER: {
        if (!ld || ld->id != a->id) {
            to_step(s, S_REMOVE, 5000);
            break;
        }
        uint32_t to = 0;
        int rc = md_replica_transfer(ld->rep, 0, rs_node_now(s, ld), &to);
        rs_after(s, ld);
        if (rc == 0) {
            s->r->transfers++;
            rs_trace(s, "operator: leader %u hands over to %u before its removal", ld->id, to);
            to_step(s, S_AWAIT_HANDED, 4 * RS_ELECT_MS);
        } else if (rc != CAIRN_E_BUSY || s->now > a->deadline) {
            to_step(s, S_REMOVE, 5000); /* nobody can take it: it removes itself */
        }
        break;
    }
    case S_AWAIT_HANDED:
        if ((ld && ld->id != a->id) || s->now > a->deadline)
            to_step(s, S_REMOVE, 5000);
        break;
    case S_REMOVE: {
        if (!ld)
            break;
        md_replica_membership(ld->rep, 1, &m);
        if (!has(&m, a->id, 0)) {
            done(s, "was not a member");
            break;
        }
        if (!removal_keeps_quorum(s, ld, a->id)) {
            if (s->now > a->deadline)
                done(s, "not removed: too few live voters would be left");
            break;
        }
        int rc = change(s, ld, PAXOS_REMOVE, a->id);
        if (rc == 0) {
            s->r->changes++;
            rs_trace(s, "operator: replica %u removed (leader %u)", a->id, ld->id);
            to_step(s, S_AWAIT_GONE, 15000);
        } else if (rc != CAIRN_E_BUSY && rc != CAIRN_E_NOTLEADER) {
            done(s, "not removed");
        }
        break;
    }
    case S_AWAIT_GONE:
        if (ld) {
            md_replica_membership(ld->rep, 0, &m);
            if (!has(&m, a->id, 0)) {
                rs_admin_command(s, RS_OP_FORGET_REPLICA, a->id);
                to_step(s, S_FORGOTTEN, 0);
                break;
            }
        }
        if (s->now > a->deadline)
            done(s, "removal not applied in time");
        break;
    case S_FORGOTTEN:
        if (!oc->busy) {
            struct rs_node *nd = &s->nodes[a->id];
            if (!a->keep_running && nd->exists && !nd->retired)
                rs_node_retire(s, nd);
            done(s, a->keep_running ? "removed (left running)" : "removed and stopped");
        }
        break;
    }
}

int rs_admin_idle(const struct rsim *s)
{
    return s->admin.task == T_NONE;
}

/* Sometimes starts a task: add, remove or replace (the leader included),
 * keeping 3 to 5 voters and ids below RS_MAXN. */
void rs_admin_maybe_start(struct rsim *s)
{
    struct rs_admin *a = &s->admin;
    struct rs_node *ld = rs_leader(s);
    if (!s->membership_ops || a->task || !s->bucket_ready || s->healing || !ld ||
        s->clients[RS_CLIENTS].busy || rs_rnd(s, 100) >= 35)
        return;
    struct paxos_membership m;
    md_replica_membership(ld->rep, 1, &m);
    if (s->next_id <= s->n_init)
        s->next_id = s->n_init + 1;
    uint32_t next_id = s->next_id;
    int can_add = next_id <= RS_MAXN && m.n_voters + m.n_learners < 6;
    uint32_t r = (uint32_t)rs_rnd(s, 3);
    uint32_t pick_voter = m.n_voters ? m.voters[rs_rnd(s, m.n_voters)] : 0;
    if (r == 0 && can_add && m.n_voters < 5) {
        a->task = T_ADD;
        a->id = next_id;
        to_step(s, S_RECORD, 0);
    } else if (r == 1 && (m.n_voters > 3 || m.n_learners)) {
        a->task = T_REMOVE;
        begin_remove(s, m.n_voters > 3 ? pick_voter : m.learners[rs_rnd(s, m.n_learners)]);
    } else if (can_add && pick_voter) {
        a->task = T_REPLACE;
        a->id = next_id;
        a->old = pick_voter;
        to_step(s, S_RECORD, 0);
    } else {
        return;
    }
    if (a->task != T_REMOVE)
        s->next_id++; /* ids are never reused, even when the add fails */
    a->started = s->now;
    if (a->task == T_REPLACE)
        rs_trace(s, "operator: replace replica %u with %u", a->old, a->id);
    else
        rs_trace(s, "operator: %s replica %u", a->task == T_ADD ? "add" : "remove", a->id);
    struct rs_event e = {.time = s->now + 1, .type = EV_ADMIN};
    rs_push(s, &e);
}
