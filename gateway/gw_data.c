#include "gw_data.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_codec.h"
#include "ec_crc.h"
#include "md_batch.h"
#include "md_client.h"
#include "md_pool.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_data_int.h"

static void tls_free(void *p)
{
    struct tls_res *t = p;
    md_client_free(t->meta);
    cn_http_fanout_free(t->fanout);
    free(t);
}

struct tls_res *gw_tls_get(struct gw_ctx *ctx)
{
    struct tls_res *t = pthread_getspecific(ctx->tls);
    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    struct md_client_opts mo = {
        .view = ctx->view,
        .auth = ctx->auth,
        .timeout_ms = 15000,
        .batcher = ctx->batcher,
        .pool = ctx->side,
    };
    struct cn_http_client_opts ho = {.auth = ctx->auth,
                                     .connect_timeout_ms = 1000,
                                     .timeout_ms = ctx->frag_timeout_ms,
                                     .stall_timeout_ms = ctx->frag_timeout_ms};
    if (md_client_new(&mo, &t->meta) != 0 || cn_http_fanout_new(&ho, &t->fanout) != 0) {
        tls_free(t);
        return NULL;
    }
    pthread_setspecific(ctx->tls, t);
    return t;
}

int gw_ctx_new(const struct gw_ctx_opts *o, struct gw_ctx **out)
{
    if (!o || o->n_meta == 0 || o->n_meta > MD_CLIENT_MAX_REPLICAS || !o->auth)
        return CAIRN_E_INVAL;
    struct gw_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return CAIRN_E_NOMEM;
    /* The members the threads' clients learn and the leader they find are
     * shared: a thread made later starts from the group as it is now. */
    if (md_view_new((const char *const *)o->meta_urls, o->n_meta, &ctx->view) != 0)
        goto err_nomem;
    ctx->auth = o->auth;
    if (o->meta_batch) {
        struct md_batcher_opts bo = {.max_inflight = o->meta_batch};
        /* The batches go out on connections of their own, whichever thread
         * sends them: the leader sees meta_batch connections from this
         * gateway, not one per client connection. */
        struct md_client_opts mo = {.view = ctx->view, .auth = ctx->auth, .timeout_ms = 15000};
        /* What does not go in a batch (placement, damage reports, a request
         * sent again alone) goes out on GW_META_SIDE more. */
        if (md_batcher_new(&bo, &ctx->batcher) != 0 ||
            md_batcher_open_senders(ctx->batcher, &mo, o->meta_batch) != 0 ||
            md_pool_new(&mo, GW_META_SIDE, &ctx->side) != 0)
            goto err_nomem;
    }
    ctx->quorum_extra = o->write_quorum_extra;
    ctx->frag_timeout_ms = o->fragment_timeout_ms > 0 ? o->fragment_timeout_ms : 10000;
    ctx->mem_limit = o->memory_budget;
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_key_create(&ctx->tls, tls_free);
    *out = ctx;
    return 0;

err_nomem:
    md_pool_free(ctx->side);
    md_batcher_free(ctx->batcher); /* before the view: its senders use it */
    md_view_free(ctx->view);
    free(ctx);
    return CAIRN_E_NOMEM;
}

void gw_ctx_free(struct gw_ctx *ctx)
{
    if (!ctx)
        return;
    struct tls_res *t = pthread_getspecific(ctx->tls);
    if (t) {
        tls_free(t);
        pthread_setspecific(ctx->tls, NULL);
    }
    pthread_key_delete(ctx->tls);
    for (int k = 0; k <= EC_MAX_K; k++)
        for (int m = 0; m <= EC_MAX_M; m++)
            ec_codec_free(ctx->codecs[k][m]);
    md_pool_free(ctx->side);       /* after every thread's client, before the view */
    md_batcher_free(ctx->batcher); /* before the view: its senders use it */
    md_view_free(ctx->view);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
}

struct md_client *gw_ctx_meta(struct gw_ctx *ctx)
{
    struct tls_res *t = gw_tls_get(ctx);
    return t ? t->meta : NULL;
}

int gw_ctx_query(struct gw_ctx *ctx, uint8_t *q, size_t len, Md__QueryResult **out)
{
    struct md_client *mc = gw_ctx_meta(ctx);
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = mc ? md_client_read(mc, q, len, &res, &rlen) : CAIRN_E_NOMEM;
    free(q);
    if (rc != 0)
        return rc;
    *out = md_query_result_decode(res, rlen);
    free(res);
    return *out ? 0 : CAIRN_E_PROTO;
}

void gw_ctx_stats(struct gw_ctx *ctx, struct gw_data_stats *out)
{
    out->degraded_reads = ctx->degraded;
    out->decodes = ctx->decodes;
    out->fragment_errors = ctx->frag_errors;
    out->short_groups = ctx->short_groups;
    out->direct_fills = ctx->direct_fills;
    out->prefetch_redone = ctx->prefetch_redone;
    out->mem_limit = ctx->mem_limit;
    out->mem_used = atomic_load(&ctx->mem_used);
    out->mem_peak = atomic_load(&ctx->mem_peak);
    out->mem_refused = atomic_load(&ctx->mem_refused);
    struct md_batcher_stats bs = {0};
    if (ctx->batcher)
        md_batcher_stats(ctx->batcher, &bs);
    out->md_batches = bs.batches;
    out->md_batch_items = bs.items;
    out->md_alone = bs.alone;
    out->md_again = bs.again;
}

static void mem_note_peak(struct gw_ctx *ctx, uint64_t used)
{
    uint64_t peak = atomic_load(&ctx->mem_peak);
    while (used > peak && !atomic_compare_exchange_weak(&ctx->mem_peak, &peak, used))
        ;
}

int gw_ctx_mem_take(struct gw_ctx *ctx, uint64_t bytes)
{
    uint64_t used = atomic_load(&ctx->mem_used);
    do {
        if (ctx->mem_limit && used + bytes > ctx->mem_limit) {
            atomic_fetch_add(&ctx->mem_refused, 1);
            return CAIRN_E_BUSY;
        }
    } while (!atomic_compare_exchange_weak(&ctx->mem_used, &used, used + bytes));
    mem_note_peak(ctx, used + bytes);
    return 0;
}

void gw_ctx_mem_force(struct gw_ctx *ctx, uint64_t bytes)
{
    mem_note_peak(ctx, atomic_fetch_add(&ctx->mem_used, bytes) + bytes);
}

void gw_ctx_mem_give(struct gw_ctx *ctx, uint64_t bytes)
{
    atomic_fetch_sub(&ctx->mem_used, bytes);
}

/* Shared codec for k+m (created once, then read-only but for its locked
 * decode cache). */
static ec_codec *codec_for(struct gw_ctx *ctx, uint32_t k, uint32_t m)
{
    if (k < 1 || k > EC_MAX_K || m < 1 || m > EC_MAX_M)
        return NULL;
    pthread_mutex_lock(&ctx->mu);
    if (!ctx->codecs[k][m])
        ec_codec_new((int)k, (int)m, &ctx->codecs[k][m]);
    ec_codec *c = ctx->codecs[k][m];
    pthread_mutex_unlock(&ctx->mu);
    return c;
}

static void addr_remember(struct gw_ctx *ctx, uint64_t id, const char *addr)
{
    pthread_mutex_lock(&ctx->mu);
    size_t i;
    for (i = 0; i < ctx->n_addrs; i++)
        if (ctx->addrs[i].id == id)
            break;
    if (i == ctx->n_addrs && ctx->n_addrs < MAX_CS)
        ctx->n_addrs++;
    if (i < MAX_CS) {
        ctx->addrs[i].id = id;
        snprintf(ctx->addrs[i].addr, ADDR_LEN, "%s", addr);
    }
    pthread_mutex_unlock(&ctx->mu);
}

static int addr_lookup(struct gw_ctx *ctx, uint64_t id, char out[ADDR_LEN])
{
    int found = 0;
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->n_addrs; i++)
        if (ctx->addrs[i].id == id) {
            memcpy(out, ctx->addrs[i].addr, ADDR_LEN);
            found = 1;
        }
    pthread_mutex_unlock(&ctx->mu);
    return found;
}

/* Chunkserver id -> "http://host:port"; refreshes the cache from the
 * metadata service on a miss. */
int gw_cs_url(struct gw_ctx *ctx, uint64_t id, char out[ADDR_LEN + 8])
{
    char addr[ADDR_LEN];
    if (!addr_lookup(ctx, id, addr)) {
        uint8_t *q = NULL;
        size_t qlen = 0;
        if (md_q_list_chunkservers(&q, &qlen) != 0)
            return CAIRN_E_NOMEM;
        Md__QueryResult *r = NULL;
        int rc = gw_ctx_query(ctx, q, qlen, &r);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < r->n_chunkservers; i++)
            addr_remember(ctx, r->chunkservers[i]->id, r->chunkservers[i]->address);
        md__query_result__free_unpacked(r, NULL);
        if (!addr_lookup(ctx, id, addr))
            return CAIRN_E_NOTFOUND;
    }
    snprintf(out, ADDR_LEN + 8, "http://%s", addr);
    return 0;
}

/* 1 if reads should skip chunkserver id now (it did not answer lately).
 * When its time is up the caller that asks first probes it (gets 0) and the
 * others keep skipping it for another period. */
int gw_cs_skip(struct gw_ctx *ctx, uint64_t id)
{
    int skip = 0;
    int64_t now = cn_mono_ms();
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->n_addrs; i++)
        if (ctx->addrs[i].id == id && ctx->addrs[i].suspect_until) {
            if (ctx->addrs[i].suspect_until > now)
                skip = 1;
            else
                ctx->addrs[i].suspect_until = now + CS_SUSPECT_MS;
        }
    pthread_mutex_unlock(&ctx->mu);
    return skip;
}

/* Records whether chunkserver id answered (any HTTP response) or not. */
void gw_cs_answered(struct gw_ctx *ctx, uint64_t id, int answered)
{
    int64_t until = answered ? 0 : cn_mono_ms() + CS_SUSPECT_MS;
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->n_addrs; i++)
        if (ctx->addrs[i].id == id && ctx->addrs[i].suspect_until != until) {
            if (!answered && !ctx->addrs[i].suspect_until)
                CN_WARN(LOG,
                        "chunkserver %016" PRIx64 " (%s) does not answer: reads skip it"
                        " for %d s at a time",
                        id, ctx->addrs[i].addr, CS_SUSPECT_MS / 1000);
            ctx->addrs[i].suspect_until = until;
        }
    pthread_mutex_unlock(&ctx->mu);
}

void gw_fragment_target(const uint8_t gid[16], uint32_t index,
                        char out[CN_WIRE_FRAGMENT_TARGET_MAX])
{
    /* index < EC_MAX_FRAGS: cannot fail */
    cn_wire_fragment_target(out, CN_WIRE_FRAGMENT_TARGET_MAX, gid, index);
}

/* -------------------------------------------------------- packed groups -- */

ec_codec *gw_ctx_codec(struct gw_ctx *ctx, uint32_t k, uint32_t m)
{
    return codec_for(ctx, k, m);
}

int gw_packed_place(struct gw_ctx *ctx, uint32_t k, uint32_t m, uint64_t *cs)
{
    struct tls_res *t = gw_tls_get(ctx);
    if (!t)
        return CAIRN_E_NOMEM;
    uint32_t n = k + m, got = 0;
    if (k < 1 || k > EC_MAX_K || m < 1 || m > EC_MAX_M)
        return CAIRN_E_INVAL;
    struct md_placement pl[EC_MAX_FRAGS];
    /* min 1: with fewer than k+m alive the leader answers at once with what
     * there is (asking for all k+m would wait for them until the timeout) */
    int rc = md_client_place(t->meta, n, 1, NULL, 0, pl, &got);
    if (rc != 0)
        return rc;
    if (got < n)
        return CAIRN_E_UNAVAIL; /* an append needs every fragment's chunkserver */
    for (uint32_t i = 0; i < n; i++) {
        addr_remember(ctx, pl[i].id, pl[i].address);
        cs[i] = pl[i].id;
    }
    return 0;
}

int gw_packed_append(struct gw_ctx *ctx, const struct md_group_desc *g, uint64_t frag_off,
                     const uint8_t *const *bodies, size_t frag_len, int64_t timeout_ms)
{
    struct tls_res *t = gw_tls_get(ctx);
    if (!t)
        return CAIRN_E_NOMEM;
    uint32_t n = g->k + g->m;
    if (n > EC_MAX_FRAGS || frag_len == 0 || frag_len % g->unit || frag_off % g->unit)
        return CAIRN_E_INVAL;
    struct cn_http_request reqs[EC_MAX_FRAGS];
    struct cn_http_response resps[EC_MAX_FRAGS];
    int errs[EC_MAX_FRAGS];
    char urls[EC_MAX_FRAGS][ADDR_LEN + 8], targets[EC_MAX_FRAGS][CN_WIRE_FRAGMENT_TARGET_MAX + 32];
    char hk[32], hm[32], hu[40], crcs[EC_MAX_FRAGS][48];
    const char *hdrs[EC_MAX_FRAGS][5];
    snprintf(hk, sizeof(hk), CN_HDR_K ": %u", g->k);
    snprintf(hm, sizeof(hm), CN_HDR_M ": %u", g->m);
    snprintf(hu, sizeof(hu), CN_HDR_UNIT ": %u", g->unit);
    memset(resps, 0, sizeof(resps));
    for (uint32_t i = 0; i < n; i++) {
        if (g->fragment_cs[i] == 0 || gw_cs_url(ctx, g->fragment_cs[i], urls[i]) != 0)
            return CAIRN_E_UNAVAIL;
        char base[CN_WIRE_FRAGMENT_TARGET_MAX];
        gw_fragment_target(g->id, i, base);
        snprintf(targets[i], sizeof(targets[i]), "%s?append=%" PRIu64, base, frag_off);
        snprintf(crcs[i], sizeof(crcs[i]), CN_HDR_DATA_CRC ": %08x",
                 ec_crc32c(bodies[i], frag_len));
        hdrs[i][0] = hk;
        hdrs[i][1] = hm;
        hdrs[i][2] = hu;
        hdrs[i][3] = crcs[i];
        hdrs[i][4] = NULL;
        reqs[i] = (struct cn_http_request){.method = "POST",
                                           .base_url = urls[i],
                                           .target = targets[i],
                                           .headers = hdrs[i],
                                           .body = bodies[i],
                                           .body_len = frag_len,
                                           .timeout_ms = timeout_ms};
    }
    int rc = cn_http_fanout_run(t->fanout, reqs, n, resps, errs);
    if (rc != 0)
        return rc;
    uint32_t ok = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (errs[i] == 0 && resps[i].status == 200) {
            ok++;
        } else {
            ctx->frag_errors++;
            const char *len = cn_http_response_header(&resps[i], CN_HDR_OPEN_LENGTH);
            CN_WARN(LOG, "append of fragment %u at %" PRIu64 " to %s failed (%s, HTTP %d%s%s)", i,
                    frag_off, urls[i], cairn_strerror(errs[i]), resps[i].status,
                    len ? ", acknowledged length " : "", len ? len : "");
        }
        gw_cs_answered(ctx, g->fragment_cs[i], resps[i].status != 0);
        cn_http_response_clear(&resps[i]);
    }
    return ok == n ? 0 : CAIRN_E_UNAVAIL;
}

/* ------------------------------------------------------------------ PUT -- */

struct stream_hdrs {
    char k[32], m[32], unit[40], len[48];
    const char *list[5];
};

struct gw_put {
    struct gw_ctx *ctx;
    ec_layout l;
    ec_codec *codec;
    uint64_t size, pos;
    EVP_MD_CTX *md5;
    uint32_t n;         /* k + m */
    uint32_t n_streams; /* fragments 0..n_streams-1 of the open group have a
                           chunkserver; the rest (parity) are written later by repair */

    uint64_t n_groups;
    struct md_group_desc *groups;
    uint64_t *cs_ids; /* n_groups * n */

    /* the group being written */
    int group_open;
    uint64_t g, group_len, stripe, fill;
    uint8_t *stripe_buf; /* k * unit */
    uint8_t *parity;     /* m * unit */
    uint32_t crc[EC_MAX_FRAGS];
    char urls[EC_MAX_FRAGS][ADDR_LEN + 8];
    char targets[EC_MAX_FRAGS][CN_WIRE_FRAGMENT_TARGET_MAX];
    struct stream_hdrs hdrs;
    int failed;

    /* MD5 beside the pipeline (objects longer than one stripe): a helper
     * thread hashes full stripe buffers in order while this thread encodes
     * and pushes them and fills the other buffer. */
    int md5_th;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint8_t *sbuf[2]; /* stripe buffers; stripe_buf is sbuf[cur] */
    int cur;
    size_t md_len[2];
    int md_busy[2]; /* posted to the helper, not yet hashed */

    uint64_t mem;     /* bytes taken from the budget (0: prepaid by the caller) */
    int failed_group; /* groups[g] closed below quorum with durable fragments */
};

static void *md5_main(void *arg)
{
    struct gw_put *p = arg;
    for (int i = 0;; i ^= 1) {
        pthread_mutex_lock(&p->mu);
        while (!p->md_busy[i] && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        size_t len = p->md_len[i];
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        EVP_DigestUpdate(p->md5, p->sbuf[i], len);
        pthread_mutex_lock(&p->mu);
        p->md_busy[i] = 0;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* Hashes the len first bytes of the current stripe buffer: hands them to the
 * helper, or hashes them here when there is none. */
static void md5_post(struct gw_put *p, size_t len)
{
    if (!p->md5_th) {
        EVP_DigestUpdate(p->md5, p->stripe_buf, len);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->md_len[p->cur] = len;
    p->md_busy[p->cur] = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Switches to the other stripe buffer once the helper is done with it. */
static void md5_next_buffer(struct gw_put *p)
{
    if (!p->md5_th)
        return;
    pthread_mutex_lock(&p->mu);
    p->cur ^= 1;
    while (p->md_busy[p->cur])
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    p->stripe_buf = p->sbuf[p->cur];
}

/* Waits until every posted byte is hashed. */
static void md5_drain(struct gw_put *p)
{
    if (!p->md5_th)
        return;
    pthread_mutex_lock(&p->mu);
    while (p->md_busy[0] || p->md_busy[1])
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

uint64_t gw_put_memory(const ec_layout *l, uint64_t size)
{
    uint64_t stripe = (uint64_t)l->k * l->unit;
    return (size > stripe ? 2 * stripe : stripe) + (uint64_t)l->m * l->unit;
}

static int put_begin(struct gw_ctx *ctx, const ec_layout *l, uint64_t size, int prepaid,
                     struct gw_put **out)
{
    if (!ctx || ec_layout_check(l) != 0)
        return CAIRN_E_INVAL;
    uint64_t mem = prepaid ? 0 : gw_put_memory(l, size);
    if (mem && gw_ctx_mem_take(ctx, mem) != 0)
        return CAIRN_E_BUSY;
    struct gw_put *p = calloc(1, sizeof(*p));
    if (!p) {
        gw_ctx_mem_give(ctx, mem);
        return CAIRN_E_NOMEM;
    }
    p->mem = mem;
    p->ctx = ctx;
    p->l = *l;
    p->size = size;
    p->n = l->k + l->m;
    p->codec = codec_for(ctx, l->k, l->m);
    p->n_groups = ec_layout_group_count(l, size);
    p->groups = calloc(p->n_groups ? p->n_groups : 1, sizeof(*p->groups));
    p->cs_ids = calloc((p->n_groups ? p->n_groups : 1) * p->n, sizeof(uint64_t));
    p->sbuf[0] = p->stripe_buf = malloc((size_t)l->k * l->unit);
    p->parity = malloc((size_t)l->m * l->unit);
    p->md5 = EVP_MD_CTX_new();
    if (!p->codec || !p->groups || !p->cs_ids || !p->stripe_buf || !p->parity || !p->md5 ||
        EVP_DigestInit_ex(p->md5, EVP_md5(), NULL) != 1) {
        gw_put_free(p);
        return CAIRN_E_NOMEM;
    }
    if (size > (uint64_t)l->k * l->unit) {
        p->sbuf[1] = malloc((size_t)l->k * l->unit);
        if (!p->sbuf[1]) {
            gw_put_free(p);
            return CAIRN_E_NOMEM;
        }
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        if (pthread_create(&p->th, NULL, md5_main, p) != 0) {
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->cv);
            gw_put_free(p);
            return CAIRN_E_NOMEM;
        }
        p->md5_th = 1;
    }
    *out = p;
    return 0;
}

int gw_put_begin(struct gw_ctx *ctx, const ec_layout *l, uint64_t size, struct gw_put **out)
{
    return put_begin(ctx, l, size, 0, out);
}

int gw_put_begin_prepaid(struct gw_ctx *ctx, const ec_layout *l, uint64_t size, struct gw_put **out)
{
    return put_begin(ctx, l, size, 1, out);
}

/* Asks the leader for k+m chunkservers and opens one PUT stream to each. */
static int open_group(struct gw_put *p)
{
    struct gw_ctx *ctx = p->ctx;
    struct tls_res *t = gw_tls_get(ctx);
    if (!t)
        return CAIRN_E_NOMEM;
    struct md_group_desc *gd = &p->groups[p->g];
    cn_random_bytes(gd->id, sizeof(gd->id));
    gd->k = p->l.k;
    gd->m = p->l.m;
    gd->unit = p->l.unit;
    gd->data_length = p->group_len = ec_layout_group_len(&p->l, p->size, p->g);
    gd->fragment_cs = p->cs_ids + p->g * p->n;

    /* Every fragment a place if possible; with fewer live hosts, at least the
     * write quorum (the rest are recorded missing and repaired later). */
    uint32_t quorum = p->l.k + p->ctx->quorum_extra;
    if (quorum > p->n)
        quorum = p->n;
    struct md_placement pl[EC_MAX_FRAGS];
    uint32_t got = 0;
    int rc = md_client_place(t->meta, p->n, quorum, NULL, 0, pl, &got);
    if (rc != 0) {
        CN_WARN(LOG, "no placement for a %u+%u group: %s", p->l.k, p->l.m, cairn_strerror(rc));
        return CAIRN_E_UNAVAIL;
    }
    for (uint32_t i = 0; i < got; i++) {
        addr_remember(ctx, pl[i].id, pl[i].address);
        p->cs_ids[p->g * p->n + i] = pl[i].id;
        snprintf(p->urls[i], sizeof(p->urls[i]), "http://%s", pl[i].address);
    }
    if (got < quorum || got < p->l.k) {
        CN_WARN(LOG, "placement gave %u chunkservers for a %u+%u group (need %u)", got, p->l.k,
                p->l.m, quorum);
        return CAIRN_E_UNAVAIL;
    }
    if (got < p->n)
        CN_WARN(LOG,
                "only %u chunkservers on distinct hosts for a %u+%u group: writing %u "
                "fragments, the rest go to repair",
                got, p->l.k, p->l.m, got);
    p->n_streams = got;

    uint64_t flen = ec_layout_frag_len(&p->l, p->group_len);
    struct stream_hdrs *h = &p->hdrs;
    snprintf(h->k, sizeof(h->k), CN_HDR_K ": %u", p->l.k);
    snprintf(h->m, sizeof(h->m), CN_HDR_M ": %u", p->l.m);
    snprintf(h->unit, sizeof(h->unit), CN_HDR_UNIT ": %u", p->l.unit);
    snprintf(h->len, sizeof(h->len), CN_HDR_DATA_LEN ": %" PRIu64, flen);
    h->list[0] = h->k;
    h->list[1] = h->m;
    h->list[2] = h->unit;
    h->list[3] = h->len;
    h->list[4] = NULL;
    /* A fragment stream lives as long as the upload feeds it: its total
     * timeout allows 1 MB/s on top of the per-request timeout (many
     * concurrent uploads share the machine); a stream with no progress for
     * the stall timeout still fails at once. */
    int64_t stream_ms = p->ctx->frag_timeout_ms + (int64_t)(flen / 1000);
    struct cn_http_request reqs[EC_MAX_FRAGS];
    memset(reqs, 0, sizeof(reqs));
    for (uint32_t i = 0; i < p->n_streams; i++) {
        gw_fragment_target(gd->id, i, p->targets[i]);
        reqs[i] = (struct cn_http_request){.method = "PUT",
                                           .base_url = p->urls[i],
                                           .target = p->targets[i],
                                           .headers = h->list,
                                           .body_size = (int64_t)flen,
                                           .timeout_ms = stream_ms};
        p->crc[i] = 0;
    }
    rc = cn_http_fanout_begin(t->fanout, reqs, p->n_streams);
    if (rc != 0)
        return rc;
    p->group_open = 1;
    p->stripe = 0;
    p->fill = 0;
    return 0;
}

/* Ends the group's streams and checks which fragments are durable. */
static int close_group(struct gw_put *p)
{
    struct tls_res *t = gw_tls_get(p->ctx);
    struct cn_http_response resps[EC_MAX_FRAGS];
    int errs[EC_MAX_FRAGS];
    memset(resps, 0, sizeof(resps));
    cn_http_fanout_finish(t->fanout, resps, errs);
    p->group_open = 0;
    uint32_t ok = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        if (i >= p->n_streams) { /* never placed */
            p->cs_ids[p->g * p->n + i] = 0;
            continue;
        }
        int good = errs[i] == 0 && resps[i].status / 100 == 2;
        const char *crc = good ? cn_http_response_header(&resps[i], CN_HDR_DATA_CRC) : NULL;
        uint32_t stored;
        if (good && (cn_wire_crc_parse(crc, &stored) != 0 || stored != p->crc[i])) {
            CN_WARN(LOG, "fragment %u stored with CRC %s, sent %08x", i, crc ? crc : "-",
                    p->crc[i]);
            good = 0;
        }
        if (!good) {
            CN_WARN(LOG, "fragment %u of a group to %s failed (%s, HTTP %d)", i, p->urls[i],
                    cairn_strerror(errs[i]), resps[i].status);
            p->ctx->frag_errors++;
            p->cs_ids[p->g * p->n + i] = 0; /* missing: to be repaired */
        } else {
            ok++;
        }
        cn_http_response_clear(&resps[i]);
    }
    if (ok < p->l.k + p->ctx->quorum_extra || ok < p->l.k) {
        CN_WARN(LOG, "group reached %u of %u fragments, below its write quorum", ok, p->n);
        p->failed_group = ok > 0; /* its durable fragments are garbage now */
        return CAIRN_E_UNAVAIL;
    }
    if (ok < p->n)
        p->ctx->short_groups++;
    p->g++;
    return 0;
}

/* Encodes the full (or last, short) stripe in stripe_buf and pushes it. */
static int flush_stripe(struct gw_put *p)
{
    struct tls_res *t = gw_tls_get(p->ctx);
    uint32_t su = ec_layout_stripe_unit(&p->l, p->group_len, p->stripe);
    uint64_t sdl = ec_layout_stripe_data_len(&p->l, p->group_len, p->stripe);
    uint32_t k = p->l.k, m = p->l.m;
    /* Zero-pad the short stripe's tail so every unit is su bytes. */
    memset(p->stripe_buf + sdl, 0, (size_t)k * su - sdl);
    const uint8_t *data[EC_MAX_K];
    uint8_t *par[EC_MAX_M];
    const void *bufs[EC_MAX_FRAGS];
    size_t lens[EC_MAX_FRAGS];
    for (uint32_t f = 0; f < k; f++) {
        data[f] = p->stripe_buf + (size_t)f * su;
        bufs[f] = data[f];
    }
    for (uint32_t i = 0; i < m; i++) {
        par[i] = p->parity + (size_t)i * su;
        bufs[k + i] = par[i];
    }
    int rc = ec_encode(p->codec, su, data, par);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < k + m; i++) {
        lens[i] = su;
        p->crc[i] = ec_crc32c_update(p->crc[i], bufs[i], su);
    }
    cn_http_fanout_write(t->fanout, bufs, lens);
    p->stripe++;
    p->fill = 0;
    if (p->stripe == ec_layout_stripe_count(&p->l, p->group_len))
        return close_group(p);
    return 0;
}

int gw_put_write(struct gw_put *p, const void *data, size_t len)
{
    if (p->failed)
        return p->failed;
    if (len > p->size - p->pos)
        return p->failed = CAIRN_E_RANGE;
    const uint8_t *d = data;
    while (len > 0) {
        if (!p->group_open) {
            int rc = open_group(p);
            if (rc)
                return p->failed = rc;
        }
        uint64_t sdl = ec_layout_stripe_data_len(&p->l, p->group_len, p->stripe);
        size_t n = (size_t)(sdl - p->fill) < len ? (size_t)(sdl - p->fill) : len;
        memcpy(p->stripe_buf + p->fill, d, n);
        p->fill += n;
        p->pos += n;
        d += n;
        len -= n;
        if (p->fill == sdl) {
            md5_post(p, (size_t)sdl);
            int rc = flush_stripe(p);
            if (rc)
                return p->failed = rc;
            md5_next_buffer(p);
        }
    }
    return 0;
}

void gw_put_written(const struct gw_put *p, const struct md_group_desc **groups, size_t *n_groups)
{
    *groups = p->groups;
    *n_groups = (size_t)p->g + (p->failed_group ? 1 : 0);
}

int gw_put_finish(struct gw_put *p, uint8_t md5[16], const struct md_group_desc **groups,
                  size_t *n_groups)
{
    if (p->failed)
        return p->failed;
    if (p->pos != p->size || p->group_open)
        return CAIRN_E_RANGE;
    unsigned int mdlen = 16;
    md5_drain(p);
    EVP_DigestFinal_ex(p->md5, md5, &mdlen);
    *groups = p->groups;
    *n_groups = (size_t)p->n_groups;
    return 0;
}

void gw_put_free(struct gw_put *p)
{
    if (!p)
        return;
    if (p->group_open) {
        /* Abandon the streams: the chunkservers discard unfinished temporaries. */
        struct tls_res *t = gw_tls_get(p->ctx);
        if (t) {
            for (uint32_t i = 0; i < p->n_streams; i++)
                cn_http_fanout_drop(t->fanout, i);
            struct cn_http_response resps[EC_MAX_FRAGS];
            int errs[EC_MAX_FRAGS];
            memset(resps, 0, sizeof(resps));
            cn_http_fanout_finish(t->fanout, resps, errs);
            for (uint32_t i = 0; i < p->n_streams; i++)
                cn_http_response_clear(&resps[i]);
        }
    }
    if (p->md5_th) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    EVP_MD_CTX_free(p->md5);
    free(p->groups);
    free(p->cs_ids);
    free(p->sbuf[0]);
    free(p->sbuf[1]);
    free(p->parity);
    if (p->mem)
        gw_ctx_mem_give(p->ctx, p->mem);
    free(p);
}
