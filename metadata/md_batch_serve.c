/* POST /v1/batch: several clients' commands and queries in one request
 * (meta.proto Batch; the client side is mdclient/md_batch.h).
 *
 * Every item is done as if it had come alone through /v1/cmd or /v1/read:
 * the same role check, the same deduplication by (client id, seq), the same
 * linearizable read. What the batch saves is the per-request cost on both
 * ends (one HTTP request instead of many) and, for commands, a Paxos slot:
 * they reach the core thread together and go into one slot's batch. Reads are
 * answered on this thread under one lease ticket for all of them (falling back
 * to one confirmation by the core for all), while the commands are in
 * consensus. */
#include "md_server_int.h"

#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_query.h"
#include "meta.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG MD_LOG

/* Bounds on one batch: items, and the query answers held at once (later
 * queries answer CAIRN_E_BUSY and are sent again alone). */
#define BATCH_MAX_ITEMS  1024
#define BATCH_MAX_ANSWER (16u << 20)

struct item_out {
    struct md_waiter *w; /* a submitted command's */
    int status;
    uint8_t *body; /* a query's answer (malloc'ed) */
    size_t len;
    char why[96]; /* a refusal's reason */
    int ran;      /* a query run_queries answered (or found no room for) */
};

/* Checks each item and hands the commands to the core thread (all of them
 * before waiting for any, so they share slots). */
static void submit_commands(struct md_server *s, enum cn_role role, const Md__Batch *b,
                            struct item_out *out)
{
    for (size_t i = 0; i < b->n_items; i++) {
        const Md__BatchItem *it = b->items[i];
        struct item_out *o = &out[i];
        if (!it->query && (it->client_id == 0 || it->body.len == 0)) {
            o->status = CAIRN_E_INVAL;
            snprintf(o->why, sizeof(o->why), "a command needs a client id and a body");
            continue;
        }
        int rc = md_op_check(role, it->body.data, it->body.len, !it->query, o->why, sizeof(o->why));
        if (rc != 0) {
            o->status = CAIRN_E_INVAL;
            continue;
        }
        if (it->query)
            continue;
        o->w = md_server_submit(s, it->client_id, it->seq, it->body.data, it->body.len);
        if (!o->w)
            o->status = CAIRN_E_NOMEM;
    }
}

/* The batch's queries (those not refused), for md_read_linearizable. */
struct batch_reads {
    struct md_server *s;
    const Md__Batch *b;
    struct item_out *out;
};

static int pending_query(const struct batch_reads *br, size_t i)
{
    return br->b->items[i]->query && br->out[i].status == 0;
}

/* Runs them against the store. */
static void run_queries(void *ctx)
{
    struct batch_reads *br = ctx;
    size_t held = 0;
    for (size_t i = 0; i < br->b->n_items; i++) {
        struct item_out *o = &br->out[i];
        if (!pending_query(br, i))
            continue;
        o->ran = 1;
        if (held > BATCH_MAX_ANSWER) {
            o->status = CAIRN_E_BUSY;
            continue;
        }
        const Md__BatchItem *it = br->b->items[i];
        o->status = md_query(br->s->store, it->body.data, it->body.len, &o->body, &o->len);
        held += o->len;
    }
}

/* Throws their answers away (the lease ticket did not confirm): they are
 * run again once the core confirms. Refused queries stay refused. */
static void drop_answers(void *ctx)
{
    struct batch_reads *br = ctx;
    for (size_t i = 0; i < br->b->n_items; i++)
        if (br->out[i].ran) {
            free(br->out[i].body);
            br->out[i] = (struct item_out){0};
        }
}

/* Answers the queries as one linearizable read (md_read_linearizable). */
static void answer_queries(struct md_server *s, const Md__Batch *b, struct item_out *out)
{
    struct batch_reads br = {.s = s, .b = b, .out = out};
    size_t n = 0;
    for (size_t i = 0; i < b->n_items; i++)
        n += pending_query(&br, i);
    if (n == 0)
        return;
    uint32_t leader;
    int status = md_read_linearizable(s, n, run_queries, drop_answers, &br, &leader);
    for (size_t i = 0; status != 0 && i < b->n_items; i++)
        if (pending_query(&br, i))
            out[i].status = status;
}

/* Waits for the submitted commands, all within one request timeout. */
static void wait_commands(struct md_server *s, const Md__Batch *b, struct item_out *out)
{
    int64_t deadline = cn_mono_ms() + (int64_t)s->cfg.request_timeout_ms;
    for (size_t i = 0; i < b->n_items; i++) {
        struct item_out *o = &out[i];
        if (!o->w)
            continue;
        int64_t left = deadline - cn_mono_ms();
        if (!md_waiter_wait(o->w, left > 0 ? left : 0))
            o->status = CAIRN_E_TIMEOUT;
        else if (o->w->status != 0)
            o->status = o->w->status;
        else {
            o->body = o->w->result; /* still the waiter's: packed before the put */
            o->len = o->w->result_len;
        }
    }
}

/* Packs the answers. Returns 0 or CAIRN_E_NOMEM. */
static int pack_answers(const Md__Batch *b, const struct item_out *out, uint8_t **buf, size_t *len)
{
    Md__BatchItemResult *rs = calloc(b->n_items, sizeof(*rs));
    Md__BatchItemResult **rp = calloc(b->n_items, sizeof(*rp));
    int rc = rs && rp ? 0 : CAIRN_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < b->n_items; i++) {
        md__batch_item_result__init(&rs[i]);
        rs[i].status = out[i].status;
        if (out[i].status == 0) {
            rs[i].body.data = out[i].body;
            rs[i].body.len = out[i].len;
        } else if (out[i].why[0]) {
            rs[i].body.data = (uint8_t *)out[i].why;
            rs[i].body.len = strlen(out[i].why);
        }
        rp[i] = &rs[i];
    }
    if (rc == 0) {
        Md__BatchResult r = MD__BATCH_RESULT__INIT;
        r.n_items = b->n_items;
        r.items = rp;
        *len = md__batch_result__get_packed_size(&r);
        *buf = malloc(*len ? *len : 1);
        if (*buf)
            md__batch_result__pack(&r, *buf);
        else
            rc = CAIRN_E_NOMEM;
    }
    free(rs);
    free(rp);
    return rc;
}

static void release(const Md__Batch *b, struct item_out *out)
{
    for (size_t i = 0; i < b->n_items; i++) {
        if (out[i].w)
            md_waiter_put(out[i].w); /* frees a command's result */
        else if (b->items[i]->query)
            free(out[i].body);
    }
}

static int batch_begin(struct cn_http_req *req, void *cls)
{
    (void)cls;
    return cn_http_req_buffer_body(req, MD_MAX_CMD_BODY);
}

static int batch_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    size_t len;
    const void *body = cn_http_req_body(req, &len);
    Md__Batch *b = md__batch__unpack(NULL, len, body);
    if (!b)
        return cn_http_respond_error(req, 400, "malformed batch");
    if (b->n_items == 0 || b->n_items > BATCH_MAX_ITEMS) {
        md__batch__free_unpacked(b, NULL);
        return cn_http_respond_error(req, 400, "a batch holds 1 to 1024 items");
    }
    struct item_out *out = calloc(b->n_items, sizeof(*out));
    if (!out) {
        md__batch__free_unpacked(b, NULL);
        return CAIRN_E_NOMEM;
    }
    s->m_batches++;
    s->m_batch_items += b->n_items;
    submit_commands(s, cn_http_req_role(req), b, out);
    answer_queries(s, b, out);
    wait_commands(s, b, out);
    uint8_t *buf = NULL;
    size_t blen = 0;
    int rc = pack_answers(b, out, &buf, &blen);
    release(b, out);
    free(out);
    md__batch__free_unpacked(b, NULL);
    if (rc == 0 && (rc = md_members_header(req, s)) == 0)
        return cn_http_respond_take(req, 200, "application/x-protobuf", buf, blen);
    free(buf);
    return rc;
}

int md_batch_register(struct md_server *s)
{
    const struct cn_http_handler h = {.begin = batch_begin, .end = batch_end};
    return cn_http_server_route(s->http, "POST", CN_ROUTE_MD_BATCH, CN_HTTP_ROUTE_EXACT, &h, s);
}
