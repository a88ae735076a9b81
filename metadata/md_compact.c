/* The leader's compactor of packed groups (md_compact.h). */
#include "md_compact.h"

#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_cmd.h"
#include "md_sealer.h"
#include "md_txn.h"
#include "meta.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG "compact"

/* Live extents one compaction may carry: the chunkserver's request limit
 * (cs_compact.h CS_COMPACT_RANGES_MAX). A group with more waits until
 * enough of them are gone. */
#define COMPACT_MOVES_MAX 32768
/* Groups remembered as failed (skipped until their retry time). */
#define SKIPS_MAX 256

struct skip {
    uint8_t id[16];
    int64_t until_ms;
};

struct md_compact {
    struct md_compact_opts o;
    struct cn_http_fanout *fan;  /* the copies (NULL with o.copy_fragments) */
    struct cn_http_client *http; /* deletes of abandoned fragments */
    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* stop, users, cv */
    pthread_cond_t cv;
    int stop;
    int users;               /* md_compact_now callers inside a pass */
    pthread_mutex_t pass_mu; /* one pass at a time; guards what follows */
    uint64_t client_id, seq;
    struct skip skips[SKIPS_MAX];
    size_t n_skips;
    pthread_mutex_t st_mu; /* st */
    struct md_compact_stats st;
};

void md_compact_opts_default(struct md_compact_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->below = 0.5;
    o->min_dead = 1u << 20;
    o->rate_bytes_s = 32u << 20;
    o->scan_ms = 30000;
    o->retry_ms = 300000;
    o->max_per_pass = 16;
}

static int stopping(struct md_compact *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static uint64_t padded(uint64_t len, uint64_t stripe)
{
    return (len + stripe - 1) / stripe * stripe;
}

/* ---- choosing groups -------------------------------------------------------- */

static int skipped(struct md_compact *w, const uint8_t *id, int64_t now)
{
    for (size_t i = 0; i < w->n_skips; i++)
        if (memcmp(w->skips[i].id, id, 16) == 0)
            return now < w->skips[i].until_ms;
    return 0;
}

static void skip_for_a_while(struct md_compact *w, const uint8_t *id)
{
    int64_t until = w->o.now_ms(w->o.ctx) + w->o.retry_ms;
    size_t at = w->n_skips;
    for (size_t i = 0; i < w->n_skips; i++)
        if (memcmp(w->skips[i].id, id, 16) == 0 || w->skips[i].until_ms < until - w->o.retry_ms) {
            at = i; /* the same group, or one whose wait is over */
            break;
        }
    if (at == w->n_skips) {
        if (w->n_skips == SKIPS_MAX)
            at = 0; /* forget the oldest slot: it is only retried sooner */
        else
            w->n_skips++;
    }
    memcpy(w->skips[at].id, id, 16);
    w->skips[at].until_ms = until;
}

struct cand {
    Md__PackedGroup *pg;
    double live;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->live < y->live ? -1 : x->live > y->live;
}

static int eligible(const Md__PackedGroup *pg, double below, uint64_t min_dead)
{
    const Md__ChunkGroup *g = pg->group;
    if (!g || g->id.len != 16 || g->k == 0 || g->data_length == 0 ||
        pg->state != MD__PACKED_STATE__PACKED_SEALED || !pg->fragments_sealed ||
        pg->live_extents == 0 || pg->live_bytes > g->data_length)
        return 0;
    return (double)pg->live_bytes < below * (double)g->data_length &&
           g->data_length - pg->live_bytes >= min_dead;
}

/* Totals every packed group into w->st; the candidates, lowest live
 * fraction first, into *out (free with free_cands). */
static int scan(struct md_compact *w, double below, struct cand **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct md_key pre;
    md_key_start(&pre, MD_K_PACKED);
    struct md_iter *it;
    int rc = md_store_iter_new(w->o.store, &it);
    if (rc)
        return rc;
    struct md_compact_stats t = {0};
    struct cand *v = NULL;
    size_t cnt = 0, cap = 0;
    int64_t now = w->o.now_ms(w->o.ctx);
    for (md_iter_seek(it, pre.b, pre.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        const void *val = md_iter_value(it, &vl);
        Md__PackedGroup *pg = md__packed_group__unpack(NULL, vl, val);
        if (!pg || !pg->group) {
            if (pg)
                md__packed_group__free_unpacked(pg, NULL);
            continue;
        }
        t.packed_groups++;
        t.open_groups += pg->state == MD__PACKED_STATE__PACKED_OPEN;
        t.data_bytes += pg->group->data_length;
        t.live_bytes += pg->live_bytes;
        if (!eligible(pg, below, w->o.min_dead) || skipped(w, pg->group->id.data, now)) {
            md__packed_group__free_unpacked(pg, NULL);
            continue;
        }
        t.candidates++;
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 16;
            struct cand *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                md__packed_group__free_unpacked(pg, NULL);
                rc = CAIRN_E_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt].pg = pg;
        v[cnt].live = (double)pg->live_bytes / (double)pg->group->data_length;
        cnt++;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), cand_cmp);
    pthread_mutex_lock(&w->st_mu);
    w->st.packed_groups = t.packed_groups;
    w->st.open_groups = t.open_groups;
    w->st.data_bytes = t.data_bytes;
    w->st.live_bytes = t.live_bytes;
    w->st.candidates = t.candidates;
    pthread_mutex_unlock(&w->st_mu);
    *out = v;
    *n = cnt;
    return rc;
}

static void free_cands(struct cand *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        md__packed_group__free_unpacked(v[i].pg, NULL);
    free(v);
}

/* The moves of group g: its live extents from the "SE" index, in offset
 * order, packed from new offset 0; *new_len the new group's length. */
static int plan(struct md_compact *w, const Md__ChunkGroup *g, struct md_compact_move **out,
                size_t *n, uint64_t *new_len)
{
    *out = NULL;
    *n = 0;
    *new_len = 0;
    uint64_t stripe = (uint64_t)g->k * g->unit;
    struct md_key pre;
    md_key_start(&pre, MD_K_PACKIDX);
    md_key_bytes(&pre, g->id.data, 16);
    struct md_iter *it;
    int rc = md_store_iter_new(w->o.store, &it);
    if (rc)
        return rc;
    struct md_compact_move *v = NULL;
    size_t cnt = 0, cap = 0;
    for (md_iter_seek(it, pre.b, pre.n); md_iter_valid(it) && !rc; md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        if (kl != pre.n + 8) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        uint64_t off = md_get_be64(k + pre.n);
        const void *rk = md_iter_value(it, &vl);
        void *rv;
        size_t rvl;
        /* The iterator and this read are not one snapshot: a record deleted
         * or replaced meanwhile is not live here any more (CompactGroup
         * decides again from the index as it is then). */
        rc = md_store_get(w->o.store, rk, vl, &rv, &rvl);
        if (rc == CAIRN_E_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        Md__ObjectRecord *rec = md__object_record__unpack(NULL, rvl, rv);
        free(rv);
        const Md__Extent *e = rec && rec->n_extents == 1 ? rec->extents[0] : NULL;
        uint64_t len = 0;
        if (e && e->packed && e->group && e->group->id.len == 16 &&
            memcmp(e->group->id.data, g->id.data, 16) == 0 && e->group_offset == off)
            len = e->length;
        if (rec)
            md__object_record__free_unpacked(rec, NULL);
        if (len == 0)
            continue;
        if (cnt == COMPACT_MOVES_MAX) {
            rc = CAIRN_E_RANGE;
            break;
        }
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 64;
            struct md_compact_move *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = CAIRN_E_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt].old_offset = off;
        v[cnt].new_offset = *new_len;
        v[cnt].length = len;
        *new_len += padded(len, stripe);
        cnt++;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    if (rc) {
        free(v);
        *new_len = 0;
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- talking to chunkservers ------------------------------------------------ */

/* The CompactRequest of copy c. */
static int pack_request(const uint8_t new_id[16], const uint8_t old_id[16], uint32_t k, uint32_t m,
                        uint32_t unit, const struct md_compact_copy *c, uint8_t **out, size_t *len)
{
    Chunk__FragmentRange *fr = calloc(c->n_ranges, sizeof(*fr));
    Chunk__FragmentRange **frp = calloc(c->n_ranges, sizeof(*frp));
    int rc = CAIRN_E_NOMEM;
    if (!fr || !frp)
        goto out;
    for (size_t i = 0; i < c->n_ranges; i++) {
        chunk__fragment_range__init(&fr[i]);
        fr[i].offset = c->range[2 * i];
        fr[i].length = c->range[2 * i + 1];
        frp[i] = &fr[i];
    }
    Chunk__CompactRequest msg = CHUNK__COMPACT_REQUEST__INIT;
    msg.new_group_id = (ProtobufCBinaryData){16, (uint8_t *)new_id};
    msg.old_group_id = (ProtobufCBinaryData){16, (uint8_t *)old_id};
    msg.index = c->index;
    msg.k = k;
    msg.m = m;
    msg.unit = unit;
    msg.n_ranges = c->n_ranges;
    msg.ranges = frp;
    msg.rate_bytes_per_s = c->rate;
    rc = cn_pb_pack(&msg.base, out, len);
out:
    free(fr);
    free(frp);
    return rc;
}

/* POST /v1/compact to every chunkserver of c[0..n) at once. */
static void http_copy(struct md_compact *w, const uint8_t new_id[16], const uint8_t old_id[16],
                      uint32_t k, uint32_t m, uint32_t unit, const struct md_compact_copy *c,
                      size_t n, int64_t timeout_ms, int *rcs)
{
    struct cn_http_request reqs[CN_HTTP_FANOUT_MAX];
    struct cn_http_response resps[CN_HTTP_FANOUT_MAX];
    char urls[CN_HTTP_FANOUT_MAX][280];
    uint8_t *bodies[CN_HTTP_FANOUT_MAX] = {0};
    int errs[CN_HTTP_FANOUT_MAX];
    memset(resps, 0, sizeof(resps));
    size_t built = 0;
    int rc = 0;
    for (; built < n && !rc; built++) {
        size_t blen;
        rc = pack_request(new_id, old_id, k, m, unit, &c[built], &bodies[built], &blen);
        snprintf(urls[built], sizeof(urls[built]), "http://%s", c[built].address);
        reqs[built] = (struct cn_http_request){.method = "POST",
                                               .base_url = urls[built],
                                               .target = CN_ROUTE_CS_COMPACT,
                                               .body = bodies[built],
                                               .body_len = blen,
                                               .resp_max = 64 * 1024,
                                               .timeout_ms = timeout_ms};
    }
    if (!rc)
        rc = cn_http_fanout_run(w->fan, reqs, n, resps, errs);
    for (size_t i = 0; i < n; i++) {
        if (rc) {
            rcs[i] = rc;
        } else if (errs[i]) {
            rcs[i] = errs[i];
        } else {
            const char *why = cn_http_response_header(&resps[i], CN_HDR_ERROR);
            unsigned st = resps[i].status;
            rcs[i] = st == 200 || st == 201           ? 0
                     : st == 404                      ? CAIRN_E_NOTFOUND
                     : why && !strcmp(why, "corrupt") ? CAIRN_E_CORRUPT
                     : st == 409                      ? CAIRN_E_PRECOND
                     : st == 503                      ? CAIRN_E_BUSY
                     : st == 507                      ? CAIRN_E_NOSPACE
                                                      : CAIRN_E_IO;
        }
        if (!rc)
            cn_http_response_clear(&resps[i]);
    }
    for (size_t i = 0; i < built; i++)
        free(bodies[i]);
}

static void http_delete(struct md_compact *w, const char *address, const uint8_t id[16],
                        uint32_t index)
{
    char target[CN_WIRE_FRAGMENT_TARGET_MAX], url[280];
    if (cn_wire_fragment_target(target, sizeof(target), id, index))
        return;
    snprintf(url, sizeof(url), "http://%s", address);
    struct cn_http_request req = {
        .method = "DELETE", .base_url = url, .target = target, .timeout_ms = 30000};
    struct cn_http_response resp;
    memset(&resp, 0, sizeof(resp));
    int rc = cn_http_client_do(w->http, &req, &resp);
    if (rc || (resp.status != 204 && resp.status != 200 && resp.status != 404)) {
        char hex[33];
        cn_hex_encode(id, 16, hex);
        CN_INFO(LOG, "%s/%u on %s: delete failed (%s, %u): left to the orphan scan", hex, index,
                address, cairn_strerror(rc), resp.status);
    }
    cn_http_response_clear(&resp);
}

/* ---- one group -------------------------------------------------------------- */

static void set_running(struct md_compact *w, const uint8_t *id)
{
    pthread_mutex_lock(&w->st_mu);
    w->st.running = id != NULL;
    if (id)
        memcpy(w->st.current, id, 16);
    pthread_mutex_unlock(&w->st_mu);
}

static void count_failure(struct md_compact *w)
{
    pthread_mutex_lock(&w->st_mu);
    w->st.failures++;
    pthread_mutex_unlock(&w->st_mu);
}

/* Compacts pg. 0 (done, or left for later), or an error that stops the pass
 * (CAIRN_E_NOTLEADER, CAIRN_E_SHUTDOWN, ...). */
static int compact_group(struct md_compact *w, const Md__PackedGroup *pg, int *done)
{
    const Md__ChunkGroup *g = pg->group;
    size_t nf = g->n_fragment_cs;
    char hex[33];
    cn_hex_encode(g->id.data, 16, hex);
    *done = 0;
    if (nf != (size_t)g->k + g->m || nf > CN_HTTP_FANOUT_MAX)
        return 0;
    char addr[CN_HTTP_FANOUT_MAX][256];
    for (size_t f = 0; f < nf; f++)
        if (!md_cs_usable(w->o.store, g->fragment_cs[f], w->o.cs_alive, w->o.ctx, addr[f],
                          sizeof(addr[f]))) {
            CN_DEBUG(LOG, "%s: fragment %zu's chunkserver is not up: later", hex, f);
            return 0;
        }
    struct md_compact_move *mv;
    size_t n;
    uint64_t new_len;
    int rc = plan(w, g, &mv, &n, &new_len);
    if (rc == CAIRN_E_RANGE || rc == CAIRN_E_CORRUPT) {
        CN_WARN(LOG,
                "%s: cannot plan (%s: too many live extents, or a malformed index key): "
                "skipped for now",
                hex, cairn_strerror(rc));
        skip_for_a_while(w, g->id.data);
        return 0;
    }
    if (rc)
        return rc;
    if (n == 0) {
        free(mv);
        return 0; /* everything went since the scan */
    }
    /* Dead bytes counted from the record include each object's padding to
     * whole stripes, which a compaction keeps: what it would give back is
     * the old length less the new one. */
    uint64_t reclaim = g->data_length > new_len ? g->data_length - new_len : 0;
    if (reclaim == 0 || reclaim < w->o.min_dead) {
        CN_DEBUG(LOG, "%s: only %" PRIu64 " bytes to reclaim (padding): skipped for now", hex,
                 reclaim);
        free(mv);
        skip_for_a_while(w, g->id.data);
        return 0;
    }
    uint64_t *ranges = calloc(2 * n, sizeof(*ranges));
    if (!ranges) {
        free(mv);
        return CAIRN_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        ranges[2 * i] = mv[i].old_offset / g->k;
        ranges[2 * i + 1] = padded(mv[i].length, (uint64_t)g->k * g->unit) / g->k;
    }
    uint8_t new_id[16];
    if ((rc = cn_random_bytes(new_id, sizeof(new_id)))) {
        free(ranges);
        free(mv);
        return rc;
    }
    uint64_t per_cs = w->o.rate_bytes_s / nf;
    if (w->o.rate_bytes_s && per_cs == 0)
        per_cs = 1; /* a budget below one byte/s each is still a budget */
    uint64_t frag_len = new_len / g->k;
    struct md_compact_copy c[CN_HTTP_FANOUT_MAX];
    int rcs[CN_HTTP_FANOUT_MAX];
    for (size_t f = 0; f < nf; f++)
        c[f] = (struct md_compact_copy){.address = addr[f],
                                        .index = (uint32_t)f,
                                        .range = ranges,
                                        .n_ranges = n,
                                        .rate = per_cs};
    /* paced copies take frag_len / per_cs seconds; a generous margin */
    int64_t timeout_ms = 60000 + (per_cs ? (int64_t)(frag_len * 2000 / per_cs) : 0);
    set_running(w, g->id.data);
    int64_t t0 = cn_mono_us();
    CN_INFO(LOG,
            "%s: %zu live extent(s), %" PRIu64 " of %" PRIu64 " bytes live: copying into %" PRIu64
            " bytes",
            hex, n, pg->live_bytes, g->data_length, new_len);
    if (w->o.copy_fragments)
        w->o.copy_fragments(w->o.ctx, new_id, g->id.data, g->k, g->m, g->unit, c, nf, rcs);
    else
        http_copy(w, new_id, g->id.data, g->k, g->m, g->unit, c, nf, timeout_ms, rcs);
    int64_t took_us = cn_mono_us() - t0;
    int failed = 0;
    for (size_t f = 0; f < nf; f++) {
        if (!rcs[f])
            continue;
        failed = 1;
        CN_WARN(LOG, "%s: copy of fragment %zu on %s failed: %s", hex, f, addr[f],
                cairn_strerror(rcs[f]));
        if (rcs[f] == CAIRN_E_CORRUPT && w->o.report_damage)
            w->o.report_damage(w->o.ctx, g->id.data, (uint32_t)f, g->fragment_cs[f]);
    }
    int unknown = 0;
    if (!failed) {
        struct md_group_desc gd = {.k = g->k,
                                   .m = g->m,
                                   .unit = g->unit,
                                   .data_length = new_len,
                                   .fragment_cs = g->fragment_cs};
        memcpy(gd.id, new_id, 16);
        uint8_t *cmd;
        size_t cl;
        uint64_t seq = ++w->seq;
        rc = md_cmd_compact_group(w->client_id, seq, g->id.data, &gd, mv, n, w->o.now_ms(w->o.ctx),
                                  &cmd, &cl);
        if (!rc) {
            rc = w->o.commit(w->o.ctx, w->client_id, seq, cmd, cl);
            free(cmd);
        }
        if (rc == CAIRN_E_CONFLICT || rc == CAIRN_E_NOTFOUND || rc == CAIRN_E_INVAL ||
            rc == CAIRN_E_EXISTS) {
            CN_INFO(LOG, "%s: compaction refused (%s): changed since the scan", hex,
                    cairn_strerror(rc));
            failed = 1;
            rc = 0;
        } else if (rc) {
            /* outcome unknown: the new group is live or its fragments are
             * orphans; either way not ours to delete */
            CN_INFO(LOG, "%s: commit of the compaction failed: %s", hex, cairn_strerror(rc));
            unknown = 1;
        }
    }
    if (failed) {
        for (size_t f = 0; f < nf; f++) {
            if (rcs[f] == CAIRN_E_NOTFOUND || rcs[f] == CAIRN_E_CORRUPT ||
                rcs[f] == CAIRN_E_PRECOND)
                continue; /* nothing was stored */
            if (w->o.del_fragment)
                w->o.del_fragment(w->o.ctx, addr[f], new_id, (uint32_t)f);
            else
                http_delete(w, addr[f], new_id, (uint32_t)f);
        }
        count_failure(w);
        skip_for_a_while(w, g->id.data);
    } else if (unknown) {
        count_failure(w);
    } else {
        uint64_t written = frag_len * nf;
        uint64_t old_bytes = g->data_length / g->k * nf;
        pthread_mutex_lock(&w->st_mu);
        w->st.groups_compacted++;
        w->st.bytes_rewritten += written;
        w->st.bytes_reclaimed += old_bytes > written ? old_bytes - written : 0;
        w->st.last_rate_bytes_s =
            took_us > 0 ? (uint64_t)((double)written * 1e6 / (double)took_us) : 0;
        pthread_mutex_unlock(&w->st_mu);
        char nhex[33];
        cn_hex_encode(new_id, 16, nhex);
        CN_INFO(LOG, "%s: compacted into %s (%" PRIu64 " -> %" PRIu64 " bytes, %.1f MB/s)", hex,
                nhex, g->data_length, new_len,
                took_us > 0 ? (double)written / (double)took_us : 0.0);
        *done = 1;
    }
    set_running(w, NULL);
    free(ranges);
    free(mv);
    return rc;
}

/* ---- passes ----------------------------------------------------------------- */

static int pass(struct md_compact *w, double below, uint64_t *compacted)
{
    if (compacted)
        *compacted = 0;
    pthread_mutex_lock(&w->pass_mu);
    pthread_mutex_lock(&w->st_mu);
    w->st.passes++;
    pthread_mutex_unlock(&w->st_mu);
    struct cand *v;
    size_t n;
    int rc = scan(w, below, &v, &n);
    if (rc)
        CN_WARN(LOG, "scan failed: %s", cairn_strerror(rc));
    size_t acted = 0;
    for (size_t i = 0; i < n && !rc && acted < w->o.max_per_pass; i++) {
        if (stopping(w)) {
            rc = CAIRN_E_SHUTDOWN;
            break;
        }
        if (!w->o.is_leader(w->o.ctx)) {
            rc = CAIRN_E_NOTLEADER;
            break;
        }
        int done;
        rc = compact_group(w, v[i].pg, &done);
        acted += (size_t)done;
        pthread_mutex_lock(&w->st_mu);
        w->st.candidates -= done && w->st.candidates > 0;
        pthread_mutex_unlock(&w->st_mu);
    }
    if (rc && rc != CAIRN_E_SHUTDOWN)
        CN_INFO(LOG, "pass stopped: %s", cairn_strerror(rc));
    free_cands(v, n);
    pthread_mutex_unlock(&w->pass_mu);
    if (compacted)
        *compacted = acted;
    return rc;
}

int md_compact_now(struct md_compact *w, double below, uint64_t *compacted)
{
    if (compacted)
        *compacted = 0;
    if (!w->o.is_leader(w->o.ctx))
        return CAIRN_E_NOTLEADER;
    pthread_mutex_lock(&w->mu);
    int stop = w->stop;
    w->users += !stop;
    pthread_mutex_unlock(&w->mu);
    if (stop)
        return CAIRN_E_SHUTDOWN;
    int rc = pass(w, below > 0 ? below : w->o.below, compacted);
    pthread_mutex_lock(&w->mu);
    w->users--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void *worker_main(void *arg)
{
    struct md_compact *w = arg;
    for (;;) {
        if (w->o.is_leader(w->o.ctx))
            pass(w, w->o.below, NULL);
        if (cn_wait_unless_stopped(&w->mu, &w->cv, &w->stop, w->o.scan_ms))
            break;
    }
    return NULL;
}

int md_compact_new(const struct md_compact_opts *o, struct md_compact **out)
{
    if (!o->store || !o->is_leader || !o->commit || !o->now_ms || !o->cs_alive ||
        !(o->below > 0 && o->below <= 1) || o->scan_ms <= 0 ||
        (!o->copy_fragments != !o->del_fragment))
        return CAIRN_E_INVAL;
    struct md_compact *w = calloc(1, sizeof(*w));
    if (!w)
        return CAIRN_E_NOMEM;
    w->o = *o;
    if (!w->o.max_per_pass)
        w->o.max_per_pass = 16;
    int rc = cn_random_bytes(&w->client_id, sizeof(w->client_id));
    if (rc)
        goto err_after_alloc;
    w->client_id |= 1; /* never 0 */
    if (!w->o.copy_fragments) {
        /* a copy answers when its fragment is written: no bytes meanwhile */
        struct cn_http_client_opts co = {.auth = o->auth,
                                         .connect_timeout_ms = 2000,
                                         .timeout_ms = 30000,
                                         .stall_timeout_ms = 24 * 3600 * 1000LL};
        if ((rc = cn_http_fanout_new(&co, &w->fan)))
            goto err_after_alloc;
        co.stall_timeout_ms = 30000;
        if ((rc = cn_http_client_new(&co, &w->http)))
            goto err_after_fan;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->pass_mu, NULL);
    pthread_mutex_init(&w->st_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    return 0;
err_after_fan:
    cn_http_fanout_free(w->fan);
err_after_alloc:
    free(w);
    return rc;
}

int md_compact_start(struct md_compact *w)
{
    if (w->started)
        return CAIRN_E_INVAL;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return CAIRN_E_IO;
    w->started = 1;
    return 0;
}

void md_compact_free(struct md_compact *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started)
        pthread_join(w->thread, NULL);
    /* md_compact_now callers end their pass at the next group */
    pthread_mutex_lock(&w->mu);
    while (w->users)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->pass_mu);
    pthread_mutex_destroy(&w->st_mu);
    cn_http_fanout_free(w->fan);
    cn_http_client_free(w->http);
    free(w);
}

void md_compact_get_stats(struct md_compact *w, struct md_compact_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    pthread_mutex_lock(&w->st_mu);
    *st = w->st;
    pthread_mutex_unlock(&w->st_mu);
}
