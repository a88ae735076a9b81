/* cairn-meta's membership API: who is in the group (GET /v1/members, from
 * any replica: how a joining replica and a client find the group; with
 * ?from=leader only from the leader, as `cairn meta` asks) and
 * membership changes on the leader (POST /v1/meta/change: add a replica by
 * URL — it joins as a learner and is promoted once caught up —, or remove
 * one by id). One change at a time: the Paxos core refuses a second while
 * one is in the log, and this file serializes requests. */
#include "md_server_int.h"

#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_cmd.h"
#include "md_sm.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG MD_LOG

uint64_t md_members_fingerprint(const struct paxos_membership *m)
{
    /* Order-independent: the ids are distinct, so a sum and an xor of their
     * mixes, voters and learners apart, tell memberships apart. */
    uint64_t sum = 0, x = 0;
    for (uint32_t i = 0; i < m->n_voters + m->n_learners; i++) {
        uint64_t id = i < m->n_voters ? m->voters[i] : m->learners[i - m->n_voters];
        uint64_t z = (id << 1 | (i >= m->n_voters)) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
        sum += z;
        x ^= z ^ (z >> 29);
    }
    return (sum ^ (x * 0x94D049BB133111EBull)) | 1; /* never 0: 0 is "unknown" */
}

/* GET /v1/members: this replica's view (the applied membership, and a
 * change in flight on the leader), one "member ID URL voter|learner" line
 * each, then "leader ID". */
static int members_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    struct paxos_membership m, latest;
    uint32_t leader;
    pthread_mutex_lock(&s->st_mu);
    m = s->members;
    latest = s->members_latest;
    leader = s->st.leader;
    int is_leader = s->st.role == PAXOS_LEADER;
    pthread_mutex_unlock(&s->st_mu);
    if (atomic_load(&s->removed))
        return cn_http_respond_error(req, 410,
                                     "this replica was removed from the group: ask a member");
    /* ?from=leader: only the leader's view (a follower's may lag, a removed
     * replica's is stale); a follower answers 421 with the leader's address. */
    if (cn_http_req_arg(req, "from") && !strcmp(cn_http_req_arg(req, "from"), "leader") &&
        !is_leader)
        return md_respond_not_leader(req, s, atomic_load(&s->removed) ? 0 : leader);
    /* A learner the leader has added but not applied yet is already worth
     * naming: it is what the joining replica waits for. */
    for (uint32_t i = 0; i < latest.n_learners; i++) {
        if (!paxos_membership_has(&m, latest.learners[i]) && m.n_learners < PAXOS_MAX_REPLICAS)
            m.learners[m.n_learners++] = latest.learners[i];
    }
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return CAIRN_E_NOMEM;
    for (uint32_t i = 0; i < m.n_voters + m.n_learners; i++) {
        uint32_t id = i < m.n_voters ? m.voters[i] : m.learners[i - m.n_voters];
        char url[MD_URL_MAX];
        if (md_server_peer_url(s, id, url))
            fprintf(f, "member %u %s %s\n", id, url, i < m.n_voters ? "voter" : "learner");
    }
    fprintf(f, "leader %u\n", leader);
    fclose(f);
    int rc = out ? cn_http_respond(req, 200, "text/plain", out, outlen) : CAIRN_E_NOMEM;
    free(out);
    return rc;
}

/* Runs one command through the log (as the daemon's own client) and waits. */
static int commit(struct md_server *s, uint8_t *cmd, size_t len, uint64_t client, uint64_t seq)
{
    int rc = md_server_commit(s, client, seq, cmd, len);
    free(cmd);
    return rc;
}

/* Proposes a change on the core thread and waits for the core's answer
 * (*hint: the waiter's leader, when not NULL). */
static int change_hint(struct md_server *s, uint32_t op, uint32_t id, uint32_t *hint)
{
    struct md_waiter *w = md_server_change(s, op, id);
    if (!w)
        return CAIRN_E_NOMEM;
    int rc = md_waiter_wait(w, (int64_t)s->cfg.request_timeout_ms) ? w->status : CAIRN_E_TIMEOUT;
    if (hint)
        *hint = w->leader;
    md_waiter_put(w);
    return rc;
}

static int change(struct md_server *s, uint32_t op, uint32_t id)
{
    return change_hint(s, op, id, NULL);
}

/* The leader is asked to remove itself: it hands leadership to a caught-up
 * voter first, so the group is never without a leader; the client retries
 * the removal there (421). Returns 1 when handed over (*to the successor),
 * 0 when nobody can take it (the leader then removes itself and steps down). */
static int hand_over(struct md_server *s, uint32_t *to)
{
    int64_t end = cn_mono_ms() + 4 * (int64_t)s->cfg.election_ms;
    for (;;) {
        int rc = change_hint(s, MD_OP_TRANSFER, 0, to);
        if (rc == 0)
            break;
        if (rc != CAIRN_E_BUSY || cn_mono_ms() > end)
            return 0; /* (no live voter, or none catches up) */
        cn_sleep_ms(20);
    }
    while (cn_mono_ms() < end) {
        pthread_mutex_lock(&s->st_mu);
        int leading = s->st.role == PAXOS_LEADER;
        pthread_mutex_unlock(&s->st_mu);
        if (!leading)
            return 1;
        cn_sleep_ms(10);
    }
    return 1; /* the successor's PREPARE is late; the client's retry finds out */
}

/* Waits until the applied membership says (in) or no longer says (!in) id. */
static int await_applied(struct md_server *s, uint32_t id, int in, int64_t timeout_ms)
{
    int64_t end = cn_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&s->st_mu);
        int now_in = paxos_membership_has(&s->members, id);
        pthread_mutex_unlock(&s->st_mu);
        if (now_in == in)
            return 0;
        if (cn_mono_ms() > end)
            return CAIRN_E_TIMEOUT;
        cn_sleep_ms(20);
    }
}

/* The smallest id no replica ever had: above every member, recorded replica,
 * removed one and seed. */
static uint32_t next_id(struct md_server *s)
{
    uint32_t top = s->cfg.id;
    pthread_mutex_lock(&s->st_mu);
    struct paxos_membership m = s->members_latest;
    pthread_mutex_unlock(&s->st_mu);
    for (uint32_t i = 0; i < m.n_voters; i++)
        top = m.voters[i] > top ? m.voters[i] : top;
    for (uint32_t i = 0; i < m.n_learners; i++)
        top = m.learners[i] > top ? m.learners[i] : top;
    pthread_mutex_lock(&s->peers_mu);
    for (uint32_t i = 0; i < s->n_seeds; i++)
        top = s->seeds[i].id > top ? s->seeds[i].id : top;
    pthread_mutex_unlock(&s->peers_mu);
    /* recorded and removed replicas ("SR", "SX" be32 id): the highest key */
    for (char t = 'R'; t <= 'X'; t = t == 'R' ? 'X' : 'Y') {
        struct md_iter *it;
        if (md_store_iter_new(s->store, &it) != 0)
            continue;
        uint8_t pre[2] = {'S', (uint8_t)t};
        for (md_iter_seek(it, pre, 2); md_iter_valid(it); md_iter_next(it)) {
            size_t kl;
            const uint8_t *k = md_iter_key(it, &kl);
            if (kl != 6 || k[0] != 'S' || k[1] != (uint8_t)t)
                break;
            uint32_t id = (uint32_t)k[2] << 24 | (uint32_t)k[3] << 16 | (uint32_t)k[4] << 8 | k[5];
            top = id > top ? id : top;
        }
        md_iter_free(it);
    }
    return top + 1;
}

static int respond_text(struct cn_http_req *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int respond_text(struct cn_http_req *req, unsigned status, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    return status / 100 == 2 ? cn_http_respond(req, status, "text/plain", buf, (size_t)n)
                             : cn_http_respond_error(req, status, buf);
}

static int add_replica(struct cn_http_req *req, struct md_server *s, const char *url)
{
    if (!url || strncmp(url, "http", 4) != 0 || strlen(url) >= MD_URL_MAX || strchr(url, ' '))
        return respond_text(req, 400, "url must be the new replica's http://HOST:PORT");
    pthread_mutex_lock(&s->st_mu);
    struct paxos_membership m = s->members_latest;
    pthread_mutex_unlock(&s->st_mu);
    for (uint32_t i = 0; i < m.n_voters + m.n_learners; i++) {
        uint32_t id = i < m.n_voters ? m.voters[i] : m.learners[i - m.n_voters];
        char u[MD_URL_MAX];
        if (md_server_peer_url(s, id, u) && !strcmp(u, url)) /* (a retry, often) */
            return respond_text(req, 200, "id %u\nalready a member\n", id);
    }
    uint32_t id = next_id(s);
    /* The URL first (a replicated record every member and client reads),
     * then the membership change that makes it a learner. */
    uint8_t *cmd = NULL;
    size_t len = 0;
    uint64_t seq = ++s->admin_seq; /* under change_mu */
    int rc = md_cmd_set_replica(s->admin_client, seq, id, url, 0, cn_wall_ms(), &cmd, &len);
    if (rc == 0)
        rc = commit(s, cmd, len, s->admin_client, seq);
    if (rc == 0)
        rc = change(s, PAXOS_ADD_LEARNER, id);
    if (rc == CAIRN_E_NOTLEADER)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    if (rc == CAIRN_E_BUSY)
        return respond_text(req, 503, "another membership change is in progress; try again");
    if (rc != 0)
        return respond_text(req, cn_http_status_for_error(rc), "adding %s: %s", url,
                            cairn_strerror(rc));
    /* Answered only once committed: a leader cut off now loses the change. */
    if (await_applied(s, id, 1, (int64_t)s->cfg.request_timeout_ms) != 0)
        return respond_text(req, 504,
                            "replica %u (%s) was proposed but is not committed yet: see cairn meta "
                            "status before trying again",
                            id, url);
    CN_INFO(LOG, "added replica %u at %s as a learner", id, url);
    return respond_text(req, 200, "id %u\n", id);
}

static int remove_replica(struct cn_http_req *req, struct md_server *s, const char *ids)
{
    uint64_t id;
    if (cn_parse_u64(ids, PAXOS_MAX_ID, &id) != 0 || id == 0)
        return respond_text(req, 400, "id must be a replica id");
    pthread_mutex_lock(&s->st_mu);
    struct paxos_membership m = s->members_latest;
    pthread_mutex_unlock(&s->st_mu);
    if (!paxos_membership_has(&m, (uint32_t)id)) {
        if (md_sm_removed(s->store, (uint32_t)id) == 1) /* (a retry, often) */
            return respond_text(req, 200, "removed %" PRIu64 "\nalready\n", id);
        return respond_text(req, 404, "replica %" PRIu64 " is not a member", id);
    }
    uint32_t successor = 0;
    if (id == s->cfg.id && hand_over(s, &successor)) {
        CN_INFO(LOG, "asked to remove itself: handed leadership to replica %u", successor);
        return md_respond_not_leader(req, s, successor);
    }
    int rc = change(s, PAXOS_REMOVE, (uint32_t)id);
    if (rc == CAIRN_E_NOTLEADER)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    if (rc == CAIRN_E_BUSY)
        return respond_text(req, 503, "another membership change is in progress; try again");
    if (rc == CAIRN_E_UNAVAIL)
        return respond_text(req, 409,
                            "removing replica %" PRIu64 " would leave too few live voters for a "
                            "majority; bring the others back (or add one) first",
                            id);
    if (rc == CAIRN_E_INVAL)
        return respond_text(req, 409, "replica %" PRIu64 " is the last voter", id);
    if (rc != 0)
        return respond_text(req, cn_http_status_for_error(rc), "removing replica %" PRIu64 ": %s",
                            id, cairn_strerror(rc));
    /* Applied here means committed: the removed replica's record can go. A
     * leader that removed itself steps down: the record stays (harmless; the
     * membership decides who is a member). */
    if (await_applied(s, (uint32_t)id, 0, (int64_t)s->cfg.request_timeout_ms) != 0)
        return respond_text(req, 504,
                            "the removal of replica %" PRIu64 " was proposed but is not committed "
                            "yet: see cairn meta status before trying again",
                            id);
    if (id != s->cfg.id) {
        uint8_t *cmd = NULL;
        size_t len = 0;
        uint64_t seq = ++s->admin_seq; /* under change_mu */
        if (md_cmd_set_replica(s->admin_client, seq, (uint32_t)id, "", 1, cn_wall_ms(), &cmd,
                               &len) == 0)
            commit(s, cmd, len, s->admin_client, seq);
    }
    CN_INFO(LOG, "removed replica %" PRIu64 " from the group", id);
    return respond_text(req, 200, "removed %" PRIu64 "\n", id);
}

/* Hands leadership to voter ids (absent or 0: the most caught-up one) and
 * answers once this replica no longer leads: "leader N" (the successor). A
 * forced leader change for operators and tests; the membership is unchanged. */
static int transfer_leader(struct cn_http_req *req, struct md_server *s, const char *ids)
{
    uint64_t id = 0;
    if (ids && cn_parse_u64(ids, PAXOS_MAX_ID, &id) != 0)
        return respond_text(req, 400, "id must be a replica id");
    if (id == s->cfg.id)
        return respond_text(req, 200, "leader %u\nalready\n", s->cfg.id);
    /* A successor that has not learned the latest commit yet ignores the
     * TIMEOUT_NOW (under writes, often): ask again until it takes over. */
    int64_t end = cn_mono_ms() + 4 * (int64_t)s->cfg.election_ms;
    uint32_t to = 0;
    int rc = 0;
    while (cn_mono_ms() < end) {
        rc = change_hint(s, MD_OP_TRANSFER, (uint32_t)id, &to);
        if (rc == CAIRN_E_BUSY) {
            cn_sleep_ms(20); /* the successor is catching up */
            continue;
        }
        if (rc != 0)
            break;
        for (int i = 0; i < 30; i++) {
            pthread_mutex_lock(&s->st_mu);
            int leading = s->st.role == PAXOS_LEADER;
            pthread_mutex_unlock(&s->st_mu);
            if (!leading)
                return respond_text(req, 200, "leader %u\n", to);
            cn_sleep_ms(5);
        }
    }
    if (rc == CAIRN_E_NOTLEADER)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    if (rc == CAIRN_E_NOTFOUND)
        return respond_text(req, 404, "no live voter %s to hand leadership to",
                            id ? "with that id" : "caught up");
    if (rc != 0 && rc != CAIRN_E_BUSY)
        return respond_text(req, cn_http_status_for_error(rc), "transfer: %s", cairn_strerror(rc));
    return respond_text(req, 504, "replica %u has not taken the leadership in time", to);
}

/* POST /v1/meta/change?op=add&url=URL | ?op=remove&id=N | ?op=transfer[&id=N]
 * (leader only). */
static int change_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    const char *op = cn_http_req_arg(req, "op");
    if (!op || (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0 && strcmp(op, "transfer") != 0))
        return respond_text(
            req, 400, "op must be add (with url), remove (with id) or transfer (id optional)");
    pthread_mutex_lock(&s->change_mu);
    int rc = !strcmp(op, "add")      ? add_replica(req, s, cn_http_req_arg(req, "url"))
             : !strcmp(op, "remove") ? remove_replica(req, s, cn_http_req_arg(req, "id"))
                                     : transfer_leader(req, s, cn_http_req_arg(req, "id"));
    pthread_mutex_unlock(&s->change_mu);
    return rc;
}

int md_membership_register(struct md_server *s)
{
    const struct cn_http_handler members = {.end = members_end};
    const struct cn_http_handler chg = {.end = change_end};
    int rc =
        cn_http_server_route(s->http, "GET", CN_ROUTE_MD_MEMBERS, CN_HTTP_ROUTE_EXACT, &members, s);
    return rc ? rc
              : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_CHANGE, CN_HTTP_ROUTE_EXACT, &chg,
                                     s);
}
