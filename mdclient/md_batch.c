#include "md_batch.h"
#include "md_client.h"
#include "md_client_int.h"
#include "md_pool.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "meta.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One caller's request, on its stack while it waits. */
struct item {
    struct item *next;
    pthread_cond_t cv; /* signalled when done, or when its owner should send */
    int query;
    uint64_t client_id, seq;
    const void *body;
    size_t len;
    int done; /* under the batcher's mu */
    int rc;
    uint8_t *result;
    size_t result_len;
};

struct md_batcher {
    pthread_mutex_t mu;
    struct item *head, *tail; /* queued, not yet sent */
    unsigned inflight;
    unsigned max_inflight, max_items;
    size_t max_bytes;
    int64_t refused_until;   /* cn_mono_ms: the leader refused batches; send alone */
    struct md_pool *senders; /* md_batcher_open_senders: one per batch in flight */
    atomic_uint_fast64_t batches, items, alone, again;
};

#define REFUSED_PAUSE_MS 60000

int md_batcher_new(const struct md_batcher_opts *o, struct md_batcher **out)
{
    if (!out || (o && o->max_items > 1024))
        return CAIRN_E_INVAL;
    struct md_batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return CAIRN_E_NOMEM;
    b->max_inflight = o && o->max_inflight ? o->max_inflight : 2;
    b->max_items = o && o->max_items ? o->max_items : 128;
    b->max_bytes = o && o->max_bytes ? o->max_bytes : (1u << 20);
    pthread_mutex_init(&b->mu, NULL);
    *out = b;
    return 0;
}

void md_batcher_free(struct md_batcher *b)
{
    if (!b)
        return;
    md_pool_free(b->senders);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int md_batcher_open_senders(struct md_batcher *b, const struct md_client_opts *o, unsigned n)
{
    if (!b || !o || n == 0 || n > MD_POOL_MAX || b->senders)
        return CAIRN_E_INVAL;
    struct md_pool *p;
    int rc = md_pool_new(o, n, &p);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&b->mu);
    b->senders = p;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

void md_batcher_stats(struct md_batcher *b, struct md_batcher_stats *out)
{
    out->batches = atomic_load(&b->batches);
    out->items = atomic_load(&b->items);
    out->alone = atomic_load(&b->alone);
    out->again = atomic_load(&b->again);
}

/* Detaches the queue's head items, up to the batch bounds (at least one).
 * With mu held. */
static struct item *take(struct md_batcher *b, size_t *n)
{
    struct item *list = b->head, *last = list;
    size_t bytes = list->len;
    *n = 1;
    while (last->next && *n < b->max_items && bytes + last->next->len <= b->max_bytes) {
        last = last->next;
        bytes += last->len;
        (*n)++;
    }
    b->head = last->next;
    if (!b->head)
        b->tail = NULL;
    last->next = NULL;
    return list;
}

static void set_all(struct item *list, int rc)
{
    for (struct item *it = list; it; it = it->next)
        it->rc = rc;
}

/* Gives each item its answer from a BatchResult. */
static void distribute(struct md_batcher *b, struct item *list, size_t n, const uint8_t *raw,
                       size_t rlen)
{
    Md__BatchResult *r = md__batch_result__unpack(NULL, rlen, raw);
    if (!r || r->n_items != n) {
        CN_WARN("md-client", "a batch of %zu was answered with %zu items", n, r ? r->n_items : 0);
        set_all(list, MD_BATCH_AGAIN);
        if (r)
            md__batch_result__free_unpacked(r, NULL);
        return;
    }
    size_t i = 0;
    for (struct item *it = list; it; it = it->next, i++) {
        const Md__BatchItemResult *ir = r->items[i];
        if (ir->status == 0) {
            it->result = malloc(ir->body.len ? ir->body.len : 1);
            it->rc = it->result ? 0 : CAIRN_E_NOMEM;
            if (it->result) {
                if (ir->body.len)
                    memcpy(it->result, ir->body.data, ir->body.len);
                it->result_len = ir->body.len;
            }
        } else if (ir->status == CAIRN_E_INVAL) {
            /* Refused: alone, it would be refused too. */
            CN_WARN("md-client", "%s refused: %.*s", it->query ? "read" : "command",
                    (int)(ir->body.len < 200 ? ir->body.len : 200), (const char *)ir->body.data);
            it->rc = CAIRN_E_INVAL;
        } else {
            it->rc = MD_BATCH_AGAIN;
        }
    }
    md__batch_result__free_unpacked(r, NULL);
}

/* Sends list (n items) on c and sets each item's rc and result. */
static void send_list(struct md_batcher *b, struct md_client *c, struct item *list, size_t n)
{
    if (n == 1) {
        atomic_fetch_add(&b->alone, 1);
        list->rc = md_client_send_one(c, list->query, list->client_id, list->seq, list->body,
                                      list->len, &list->result, &list->result_len);
        return;
    }
    Md__BatchItem *its = calloc(n, sizeof(*its));
    Md__BatchItem **ip = calloc(n, sizeof(*ip));
    uint8_t *buf = NULL;
    size_t i = 0, len = 0;
    if (its && ip) {
        for (struct item *it = list; it; it = it->next, i++) {
            md__batch_item__init(&its[i]);
            its[i].query = it->query;
            its[i].client_id = it->client_id;
            its[i].seq = it->seq;
            its[i].body.data = (uint8_t *)it->body;
            its[i].body.len = it->len;
            ip[i] = &its[i];
        }
        Md__Batch m = MD__BATCH__INIT;
        m.n_items = n;
        m.items = ip;
        len = md__batch__get_packed_size(&m);
        if ((buf = malloc(len)) != NULL)
            md__batch__pack(&m, buf);
    }
    free(its);
    free(ip);
    if (!buf) {
        set_all(list, MD_BATCH_AGAIN);
        return;
    }
    uint8_t *raw = NULL;
    size_t rlen = 0;
    atomic_fetch_add(&b->batches, 1);
    atomic_fetch_add(&b->items, n);
    /* A batch carries the requests of many: not the id of the one this
     * thread serves (cn_log.h), which its log lines would otherwise carry. */
    char rid[CN_LOG_REQUEST_MAX + 1] = "";
    if (cn_log_request())
        snprintf(rid, sizeof(rid), "%s", cn_log_request());
    cn_log_set_request(NULL);
    int rc = md_client_send_batch(c, buf, len, &raw, &rlen);
    cn_log_set_request(rid);
    free(buf);
    if (rc == 0)
        distribute(b, list, n, raw, rlen);
    else if (rc == CAIRN_E_INVAL) {
        /* The leader refused the batch itself (a replica that predates
         * batches answers 404): send alone for a while. */
        CN_WARN("md-client", "the metadata leader refused a batch: sending requests alone for %d s",
                REFUSED_PAUSE_MS / 1000);
        pthread_mutex_lock(&b->mu);
        b->refused_until = cn_mono_ms() + REFUSED_PAUSE_MS;
        pthread_mutex_unlock(&b->mu);
        set_all(list, MD_BATCH_AGAIN);
    } else
        set_all(list, rc); /* the whole deadline went by, or authentication failed */
    free(raw);
}

int md_batcher_run(struct md_batcher *b, struct md_client *c, int query, uint64_t client_id,
                   uint64_t seq, const void *body, size_t len, uint8_t **result, size_t *result_len)
{
    if (len > b->max_bytes)
        return MD_BATCH_AGAIN;
    struct item it = {.query = query, .client_id = client_id, .seq = seq, .body = body, .len = len};
    pthread_cond_init(&it.cv, NULL);
    pthread_mutex_lock(&b->mu);
    if (b->refused_until && cn_mono_ms() < b->refused_until) {
        pthread_mutex_unlock(&b->mu);
        pthread_cond_destroy(&it.cv);
        return MD_BATCH_AGAIN;
    }
    if (b->tail)
        b->tail->next = &it;
    else
        b->head = &it;
    b->tail = &it;
    while (!it.done) {
        if (b->inflight < b->max_inflight && b->head) {
            size_t n;
            struct item *list = take(b, &n);
            b->inflight++;
            /* One of the batcher's own clients if one is free, else the
             * caller's (which borrows from its pool, if it has one). */
            struct md_client *sender = b->senders ? md_pool_try_take(b->senders) : NULL;
            /* More queued and a slot free: their oldest owner sends too. */
            if (b->head && b->inflight < b->max_inflight && b->head != &it)
                pthread_cond_signal(&b->head->cv);
            pthread_mutex_unlock(&b->mu);
            send_list(b, sender ? sender : c, list, n);
            if (sender)
                md_pool_give(b->senders, sender);
            pthread_mutex_lock(&b->mu);
            b->inflight--;
            for (struct item *x = list, *next; x; x = next) {
                next = x->next;
                x->done = 1;
                if (x != &it)
                    pthread_cond_signal(&x->cv);
            }
            /* A slot is free: the oldest waiting owner sends next. */
            if (b->head && b->head != &it)
                pthread_cond_signal(&b->head->cv);
        } else {
            pthread_cond_wait(&it.cv, &b->mu);
        }
    }
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&it.cv);
    if (it.rc == MD_BATCH_AGAIN)
        atomic_fetch_add(&b->again, 1);
    if (it.rc == 0) {
        *result = it.result;
        *result_len = it.result_len;
    }
    return it.rc;
}
