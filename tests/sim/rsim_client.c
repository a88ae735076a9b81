/* The replica simulator's clients: S3-style object operations in one bucket
 * as real state-machine commands (md_cmd.h) and linearizable reads (as the
 * daemon's read handler does: under the lease, md_query on the replica's
 * store checked by its md_readgate; otherwise md_replica_read, then md_query),
 * retried across failover with the same (client, seq);
 * their history for the linearizability check. See rsim.h. */
#include "rsim_int.h"

#include "cn_error.h"
#include "md_cmd.h"
#include "md_query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_TIMEOUT_MS 250

/* What a replica keeps for a request it handed to md_replica. */
struct rs_token {
    uint32_t client, kind;
    uint64_t op;
    uint8_t *query; /* reads: the packed md.Query, run once read_done says so */
    size_t query_len;
};

static const char *const kind_names[] = {
    "?", "get", "put", "put-if-none", "put-if-match", "delete", "delete-if-match", "list"};

static const char *kind_name(uint32_t kind)
{
    if (kind < sizeof(kind_names) / sizeof(kind_names[0]))
        return kind_names[kind];
    return kind == RS_OP_CREATE_BUCKET ? "create-bucket" : "set-replica";
}

static int is_read(uint32_t kind)
{
    return kind == LC_B_GET || kind == LC_B_LIST;
}

/* ETag numbers travel as "e<n>"; 0 when s is not one. */
static uint32_t etag_num(const char *s)
{
    unsigned v = 0;
    char end;
    return s && sscanf(s, "e%u%c", &v, &end) == 1 ? v : 0;
}

/* "g<g>/k<k>" -> k, when it is a key of group g; else -1. */
static int key_index(const char *key, uint32_t g)
{
    unsigned gg, k;
    char end;
    if (sscanf(key, "g%u/k%u%c", &gg, &k, &end) != 2 || gg != g || k >= LC_GROUP_KEYS)
        return -1;
    return (int)k;
}

/* --------------------------------------------------------- replica side -- */

static void reply(struct rsim *s, const struct rs_reply *q)
{
    if (rs_net_drop(s))
        return;
    struct rs_event e = {.time = s->now + rs_net_delay(s), .type = EV_CREP, .rep = *q};
    rs_push(s, &e);
}

/* A read through the core: md_replica_read, then the query once read_done
 * says so (rs_read_done). */
static void read_through_core(struct rsim *s, struct rs_node *nd, const struct rs_event *e)
{
    struct rs_token *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->client = e->from;
    t->kind = e->kind;
    t->op = e->x;
    t->query = malloc(e->len);
    if (!t->query)
        abort();
    memcpy(t->query, e->buf, e->len);
    t->query_len = e->len;
    md_replica_read(nd->rep, t, rs_node_now(s, nd));
    rs_after(s, nd);
}

void rs_node_request(struct rsim *s, struct rs_node *nd, const struct rs_event *e)
{
    struct md_readgate_ticket tk;
    if (is_read(e->kind) && md_readgate_enter(&nd->gate, rs_node_now(s, nd), &tk)) {
        /* cairn-meta's lease path: the HTTP thread reads the store itself,
         * no core call, then confirms (rs_node_query): a little later, and
         * now and then much later (a thread descheduled past the lease) */
        uint64_t delay = rs_rnd(s, 50) == 0 ? rs_rnd(s, 1500) : rs_rnd(s, 4);
        struct rs_event q = {.time = s->now + delay,
                             .type = EV_QUERY,
                             .node = nd->id,
                             .inc = nd->inc,
                             .from = e->from,
                             .x = e->x,
                             .kind = e->kind,
                             .len = e->len,
                             .lease_local = 1,
                             .tk = tk};
        q.buf = malloc(e->len);
        if (!q.buf)
            abort();
        memcpy(q.buf, e->buf, e->len);
        rs_push(s, &q);
        return;
    }
    if (is_read(e->kind)) {
        read_through_core(s, nd, e);
        return;
    }
    struct rs_token *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->client = e->from;
    t->kind = e->kind;
    t->op = e->x;
    md_replica_submit(nd->rep, s->clients[e->from].client_id, e->x, e->buf, e->len, t,
                      rs_node_now(s, nd));
    rs_after(s, nd);
}

void rs_cmd_done(void *ctx, void *token, int status, uint32_t leader, uint8_t *result, size_t len)
{
    struct rs_node *nd = ctx;
    struct rsim *s = nd->sim;
    struct rs_token *t = token;
    if (!nd->dead) {
        struct rs_reply q = {.client = t->client, .op = t->op, .status = status, .hint = leader};
        if (status == 0) {
            Md__Result *res = md_result_decode(result, len);
            if (!res) {
                rs_fail(s, "replica %u: undecodable result", nd->id);
            } else {
                q.result = res->status;
                if (t->kind == LC_B_DELETE || t->kind == LC_B_DELETE_IF_MATCH)
                    q.got = res->existed;
                else
                    q.got = etag_num(res->etag);
                md_result_free(res);
            }
        }
        reply(s, &q);
    }
    free(result);
    free(t->query);
    free(t);
}

/* The daemon's read handler runs the query when its waiter completes: a
 * little later, on the store as it is then. */
void rs_read_done(void *ctx, void *token, int status, uint32_t leader)
{
    struct rs_node *nd = ctx;
    struct rsim *s = nd->sim;
    struct rs_token *t = token;
    if (!nd->dead && status != 0) {
        struct rs_reply q = {.client = t->client, .op = t->op, .status = status, .hint = leader};
        reply(s, &q);
    } else if (!nd->dead) {
        struct rs_event e = {.time = s->now + rs_rnd(s, 4),
                             .type = EV_QUERY,
                             .node = nd->id,
                             .inc = nd->inc,
                             .from = t->client,
                             .x = t->op,
                             .kind = t->kind,
                             .buf = t->query,
                             .len = t->query_len};
        t->query = NULL; /* the event owns it */
        rs_push(s, &e);
    }
    free(t->query);
    free(t);
}

/* A GET's answer: the ETag number (0: NoSuchKey); the object's bytes are
 * its ETag, so a torn or foreign record shows. */
static void answer_get(struct rsim *s, struct rs_node *nd, const Md__QueryResult *r,
                       struct rs_reply *q)
{
    q->result = r->status;
    if (r->status == CAIRN_E_NOTFOUND)
        return;
    const Md__ObjectRecord *o = r->object;
    if (r->status != 0 || !o) {
        rs_fail(s, "replica %u: get answered %s", nd->id, cairn_strerror(r->status));
        return;
    }
    q->got = etag_num(o->etag);
    if (!q->got || !o->has_inline || o->size != o->inline_data.len ||
        o->inline_data.len != strlen(o->etag) ||
        memcmp(o->inline_data.data, o->etag, o->inline_data.len) != 0)
        rs_fail(s, "replica %u: object with ETag %s holds other bytes", nd->id, o->etag);
}

static void answer_list(struct rsim *s, struct rs_node *nd, uint32_t g, const Md__QueryResult *r,
                        struct rs_reply *q)
{
    q->result = r->status;
    const Md__ListObjectsR *l = r->list_objects;
    if (r->status != 0 || !l || l->truncated || l->n_common_prefixes) {
        rs_fail(s, "replica %u: listing answered %s", nd->id, cairn_strerror(r->status));
        return;
    }
    int last = -1;
    for (size_t i = 0; i < l->n_entries; i++) {
        const Md__ListEntry *le = l->entries[i];
        int k = key_index(le->key, g);
        uint32_t et = le->record ? etag_num(le->record->etag) : 0;
        if (k < 0 || k <= last || !et) {
            rs_fail(s, "replica %u: listing of g%u/ has %s out of place", nd->id, g, le->key);
            return;
        }
        q->list[k] = et;
        last = k;
    }
}

void rs_node_query(struct rsim *s, struct rs_node *nd, const struct rs_event *e)
{
    const struct rs_client *c = &s->clients[e->from];
    if (!c->busy || c->op != e->x)
        return; /* an earlier attempt's: its answer would go nowhere */
    uint8_t *out = NULL;
    size_t outlen = 0;
    int rc = md_query(nd->store, e->buf, e->len, &out, &outlen);
    if (e->lease_local) {
        /* read through the store snapshot; only a confirmed read is answered */
        if (!md_readgate_confirm(&nd->gate, &e->tk, rs_node_now(s, nd))) {
            free(out);
            s->r->local_retries++;
            read_through_core(s, nd, e);
            return;
        }
        s->r->local_reads++;
    }
    Md__QueryResult *r = rc == 0 ? md_query_result_decode(out, outlen) : NULL;
    free(out);
    if (!r) {
        rs_fail(s, "replica %u: query failed: %s", nd->id, cairn_strerror(rc));
        return;
    }
    struct rs_reply q = {.client = e->from, .op = e->x};
    if (e->kind == LC_B_GET)
        answer_get(s, nd, r, &q);
    else
        answer_list(s, nd, s->hist[c->hist].group, r, &q);
    md_query_result_free(r);
    reply(s, &q);
}

/* ----------------------------------------------------------- client side -- */

static void send_request(struct rsim *s, struct rs_client *c)
{
    if (!rs_net_drop(s)) {
        struct rs_event e = {.time = s->now + rs_net_delay(s),
                             .type = EV_CREQ,
                             .node = c->target,
                             .from = c->idx,
                             .x = c->op,
                             .kind = (uint32_t)c->kind,
                             .len = c->cmd_len};
        e.buf = malloc(c->cmd_len);
        if (!e.buf)
            abort();
        memcpy(e.buf, c->cmd, c->cmd_len);
        rs_push(s, &e);
    }
}

static void arm_timer(struct rsim *s, struct rs_client *c, uint64_t after)
{
    c->gen++;
    struct rs_event t = {.time = s->now + after, .type = EV_CTIMER, .x = c->gen, .from = c->idx};
    rs_push(s, &t);
}

static void client_send(struct rsim *s, struct rs_client *c)
{
    send_request(s, c);
    arm_timer(s, c, CLIENT_TIMEOUT_MS);
}

/* The next replica to try: any that ever ran (the client knows no better). */
static void next_target(struct rsim *s, struct rs_client *c, uint32_t hint)
{
    if (hint >= 1 && hint <= s->max_id && hint != c->target && rs_rnd(s, 2))
        c->target = hint;
    else
        c->target = 1 + (c->target % s->max_id);
    /* a lease attack: odd clients write through the other replicas */
    if (s->now < s->attack_until && c->idx % 2 && c->target == s->attack_ld && s->max_id > 1)
        c->target = 1 + (c->target % s->max_id);
}

void rs_clients_attack(struct rsim *s)
{
    for (uint32_t i = 0; i < s->n_clients; i++) {
        struct rs_client *c = &s->clients[i];
        c->target = s->attack_ld;
        if (c->idx % 2)
            next_target(s, c, 0);
    }
}

void rs_client_timer(struct rsim *s, struct rs_client *c, uint64_t gen)
{
    if (!c->busy || gen != c->gen)
        return;
    if (s->now - c->started >= CLIENT_TIMEOUT_MS && rs_rnd(s, 2))
        next_target(s, c, 0);
    client_send(s, c);
}

static void begin(struct rsim *s, struct rs_client *c, int kind, uint8_t *cmd, size_t len)
{
    free(c->cmd);
    c->cmd = cmd;
    c->cmd_len = len;
    c->kind = kind;
    c->busy = 1;
    c->started = s->now;
    client_send(s, c);
}

void rs_client_start(struct rsim *s, struct rs_client *c)
{
    if (s->healing || c->busy || !s->bucket_ready)
        return;
    uint32_t r = (uint32_t)rs_rnd(s, 100);
    int kind = r < 25   ? LC_B_GET
               : r < 37 ? LC_B_LIST
               : r < 60 ? LC_B_PUT
               : r < 70 ? LC_B_PUT_IF_NONE
               : r < 82 ? LC_B_PUT_IF_MATCH
               : r < 92 ? LC_B_DELETE
                        : LC_B_DELETE_IF_MATCH;
    uint32_t g = (uint32_t)rs_rnd(s, RS_GROUPS), k = (uint32_t)rs_rnd(s, LC_GROUP_KEYS);
    if (s->now < s->attack_until) {
        /* a lease attack: reads from the leader under attack, plain writes
         * through the others, on two keys */
        kind = c->idx % 2 ? LC_B_PUT : LC_B_GET;
        g = 0;
        k = (uint32_t)rs_rnd(s, 2);
    }
    uint32_t etag = 0, match = 0;
    if (kind == LC_B_PUT || kind == LC_B_PUT_IF_NONE || kind == LC_B_PUT_IF_MATCH)
        etag = ++c->next_value * (RS_CLIENTS + 1) + c->idx + 1;
    if (kind == LC_B_PUT_IF_MATCH || kind == LC_B_DELETE_IF_MATCH)
        match = c->seen[g][k] && rs_rnd(s, 4) ? c->seen[g][k] : 1 + (uint32_t)rs_rnd(s, 64);
    c->op++;
    char key[32], et[16], mt[16], prefix[16];
    snprintf(key, sizeof(key), "g%u/k%u", g, k);
    snprintf(et, sizeof(et), "e%u", etag);
    snprintf(mt, sizeof(mt), "e%u", match);
    snprintf(prefix, sizeof(prefix), "g%u/", g);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc;
    if (kind == LC_B_GET) {
        rc = md_q_get_object(RS_BUCKET, key, &cmd, &len);
    } else if (kind == LC_B_LIST) {
        rc = md_q_list_objects(RS_BUCKET, prefix, "", "", 1000, &cmd, &len);
    } else if (kind == LC_B_DELETE || kind == LC_B_DELETE_IF_MATCH) {
        rc = md_cmd_delete_object(c->client_id, c->op, RS_BUCKET, key,
                                  kind == LC_B_DELETE ? MD_COND_NONE : MD_COND_IF_MATCH, mt, &cmd,
                                  &len);
    } else {
        struct md_object_desc obj = {.size = strlen(et),
                                     .etag = et,
                                     .mtime_ms = (int64_t)s->now,
                                     .has_inline = 1,
                                     .inline_data = et,
                                     .inline_len = strlen(et)};
        enum md_cond cond = kind == LC_B_PUT           ? MD_COND_NONE
                            : kind == LC_B_PUT_IF_NONE ? MD_COND_IF_NONE_MATCH
                                                       : MD_COND_IF_MATCH;
        rc = md_cmd_put_object(c->client_id, c->op, RS_BUCKET, key, &obj, cond, mt, &cmd, &len);
    }
    if (rc != 0) {
        rs_fail(s, "client %u: cannot build a %s: %s", c->idx, kind_name((uint32_t)kind),
                cairn_strerror(rc));
        free(cmd);
        return;
    }
    if (s->n_hist == s->cap_hist) {
        s->cap_hist = s->cap_hist ? s->cap_hist * 2 : 256;
        s->hist = rs_xrealloc(s->hist, s->cap_hist * sizeof(*s->hist));
    }
    c->hist = (uint32_t)s->n_hist;
    s->hist[s->n_hist++] = (struct lc_bop){.kind = (uint32_t)kind,
                                           .group = g,
                                           .key = k,
                                           .etag = etag,
                                           .match = match,
                                           .known = false,
                                           .call = s->now,
                                           .ret = LC_NEVER};
    begin(s, c, kind, cmd, len);
}

/* What each operation may answer (anything else is a bug). */
static int answer_allowed(const struct lc_bop *op, const struct rs_reply *q)
{
    switch (op->kind) {
    case LC_B_GET:
        return q->result == 0 || q->result == CAIRN_E_NOTFOUND;
    case LC_B_LIST:
    case LC_B_DELETE:
        return q->result == 0;
    case LC_B_PUT:
        return q->result == 0 && q->got == op->etag;
    case LC_B_PUT_IF_NONE:
        return (q->result == 0 && q->got == op->etag) || q->result == CAIRN_E_PRECOND;
    case LC_B_PUT_IF_MATCH:
        return (q->result == 0 && q->got == op->etag) || q->result == CAIRN_E_PRECOND ||
               q->result == CAIRN_E_NOTFOUND;
    case LC_B_DELETE_IF_MATCH:
        return q->result == 0 || q->result == CAIRN_E_PRECOND || q->result == CAIRN_E_NOTFOUND;
    }
    return 0;
}

static void client_done(struct rsim *s, struct rs_client *c, const struct rs_reply *q)
{
    struct lc_bop *op = &s->hist[c->hist];
    if (!answer_allowed(op, q)) {
        rs_fail(s, "client %u: %s of g%u/k%u answered %s (got %u)", c->idx, kind_name(op->kind),
                op->group, op->key, cairn_strerror(q->result), q->got);
        return;
    }
    op->known = true;
    op->ret = s->now;
    op->status = is_read(op->kind) ? 0 : q->result;
    op->got = op->kind == LC_B_DELETE || op->kind == LC_B_DELETE_IF_MATCH || op->kind == LC_B_GET
                  ? q->got
                  : 0;
    memcpy(op->list, q->list, sizeof(op->list));
    if (op->kind == LC_B_GET)
        c->seen[op->group][op->key] = q->got;
    else if (op->kind == LC_B_LIST)
        memcpy(c->seen[op->group], q->list, sizeof(q->list));
    else if (q->result == 0)
        c->seen[op->group][op->key] = op->etag; /* 0 for a delete */
    s->r->ops_done++;
    struct rs_event e = {.time = s->now + rs_rnd(s, 20), .type = EV_CSTART, .from = c->idx};
    rs_push(s, &e);
}

void rs_client_reply(struct rsim *s, const struct rs_reply *q)
{
    struct rs_client *c = &s->clients[q->client];
    if (!c->busy || q->op != c->op)
        return; /* an answer to an earlier attempt of a finished operation */
    if (q->status != 0) {
        /* not the leader, busy, shutting down: retry soon, maybe elsewhere */
        next_target(s, c, q->status == CAIRN_E_NOTLEADER ? q->hint : 0);
        c->gen++;
        struct rs_event t = {
            .time = s->now + 5 + rs_rnd(s, 10), .type = EV_CTIMER, .x = c->gen, .from = c->idx};
        rs_push(s, &t);
        return;
    }
    c->busy = 0;
    c->gen++;
    if (q->client == RS_CLIENTS) { /* the operator's */
        c->done = *q;
        if (c->kind == RS_OP_CREATE_BUCKET) {
            if (q->result != 0) {
                rs_fail(s, "creating the bucket answered %s", cairn_strerror(q->result));
                return;
            }
            s->bucket_ready = 1;
            for (uint32_t i = 0; i < s->n_clients; i++) {
                struct rs_event e = {.time = s->now + rs_rnd(s, 50), .type = EV_CSTART, .from = i};
                rs_push(s, &e);
            }
        } else if (q->result != 0) {
            rs_fail(s, "the operator's %s answered %s", kind_name((uint32_t)c->kind),
                    cairn_strerror(q->result));
        }
        return;
    }
    client_done(s, c, q);
}

void rs_admin_command(struct rsim *s, int kind, uint32_t id)
{
    struct rs_client *c = &s->clients[RS_CLIENTS];
    c->op++;
    uint8_t *cmd = NULL;
    size_t len = 0;
    char url[32];
    snprintf(url, sizeof(url), "http://sim-%u:9000", id);
    int rc = kind == RS_OP_CREATE_BUCKET
                 ? md_cmd_create_bucket(c->client_id, c->op, RS_BUCKET, "", "", 0, (int64_t)s->now,
                                        &cmd, &len)
                 : md_cmd_set_replica(c->client_id, c->op, id, kind == RS_OP_SET_REPLICA ? url : "",
                                      kind == RS_OP_FORGET_REPLICA, (int64_t)s->now, &cmd, &len);
    if (rc != 0) {
        rs_fail(s, "the operator cannot build its command: %s", cairn_strerror(rc));
        free(cmd);
        return;
    }
    begin(s, c, kind, cmd, len);
}

void rs_clients_init(struct rsim *s)
{
    s->n_clients = 2 + (uint32_t)rs_rnd(s, RS_CLIENTS - 1);
    for (uint32_t i = 0; i <= RS_CLIENTS; i++) {
        struct rs_client *c = &s->clients[i];
        c->idx = i;
        c->client_id = 0x51000 + i;
        c->target = 1 + (uint32_t)rs_rnd(s, s->n_init);
    }
    rs_admin_command(s, RS_OP_CREATE_BUCKET, 0);
}

int rs_clients_idle(struct rsim *s)
{
    for (uint32_t i = 0; i <= RS_CLIENTS; i++)
        if (s->clients[i].busy)
            return 0;
    return 1;
}

void rs_clients_final(struct rsim *s, struct rs_node *leader)
{
    /* a last listing of every group, on the leader's state (every operation
     * has returned): so a lost acknowledged write shows even if nobody read
     * it afterwards */
    for (uint32_t g = 0; g < RS_GROUPS && !s->failed; g++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "g%u/", g);
        Md__QueryResult *r = NULL;
        int rc = md_query_list_objects(leader->store, RS_BUCKET, prefix, "", "", 1000, &r);
        if (rc != 0) {
            rs_fail(s, "final listing of %s: %s", prefix, cairn_strerror(rc));
            return;
        }
        struct rs_reply q = {0};
        answer_list(s, leader, g, r, &q);
        md_query_result_free(r);
        if (s->n_hist == s->cap_hist) {
            s->cap_hist = s->cap_hist ? s->cap_hist * 2 : 256;
            s->hist = rs_xrealloc(s->hist, s->cap_hist * sizeof(*s->hist));
        }
        struct lc_bop op = {
            .kind = LC_B_LIST, .group = g, .known = true, .call = s->now, .ret = s->now};
        memcpy(op.list, q.list, sizeof(op.list));
        s->hist[s->n_hist++] = op;
    }
    uint32_t bad = 0;
    if (s->failed || lc_bucket_check(s->hist, (uint32_t)s->n_hist, &bad))
        return;
    rs_fail(s, "the history of prefix g%u/ is not linearizable", bad);
    /* with --verbose: that prefix's history, to read against the trace */
    for (size_t i = 0; s->o.trace && i < s->n_hist; i++) {
        const struct lc_bop *op = &s->hist[i];
        if (op->group != bad)
            continue;
        fprintf(s->o.trace,
                "history g%u: [%" PRIu64 ", %" PRIu64 "] %s k%u etag %u match %u -> %s got %u"
                " list %u %u %u %u\n",
                bad, op->call, op->ret, kind_name(op->kind), op->key, op->etag, op->match,
                op->known ? cairn_strerror(op->status) : "unknown", op->got, op->list[0],
                op->list[1], op->list[2], op->list[3]);
    }
}
