#include "cs_rebuild.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_wire.h"
#include "ec_crc.h"

#define MOD "rebuild"

/* Windows must come back verified, with their CRC in a header. */
_Static_assert(CS_REBUILD_WINDOW <= CN_WIRE_CS_VERIFIED_MAX, "rebuild window above verified GETs");

static bool address_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n >= CS_ADDR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int cs_rebuild_parse(const void *body, size_t len, cs_rebuild_req *out)
{
    Chunk__RebuildRequest *msg = chunk__rebuild_request__unpack(NULL, len, body);
    if (msg == NULL)
        return CAIRN_E_PROTO;
    int rc = CAIRN_E_INVAL;
    memset(out, 0, sizeof(*out));
    if (msg->group_id.len != CS_GROUP_ID_LEN || msg->k > UINT16_MAX || msg->m > UINT16_MAX)
        goto out;
    memcpy(out->meta.group, msg->group_id.data, CS_GROUP_ID_LEN);
    out->meta.index = msg->index;
    out->meta.k = (uint16_t)msg->k;
    out->meta.m = (uint16_t)msg->m;
    out->meta.unit = msg->unit;
    out->meta.data_len = msg->data_length;
    if (cs_frag_meta_check(&out->meta) != 0)
        goto out;
    out->check_crc = msg->check_crc;
    out->data_crc = msg->data_crc32c;
    if (msg->n_sources > EC_MAX_FRAGS)
        goto out;
    uint64_t seen = 0;
    for (size_t i = 0; i < msg->n_sources; i++) {
        const Chunk__FragmentSource *src = msg->sources[i];
        uint32_t idx = src->index;
        if (idx >= (uint32_t)out->meta.k + out->meta.m || idx == out->meta.index ||
            (seen >> idx & 1) || src->address == NULL || !address_ok(src->address))
            goto out;
        seen |= 1ull << idx;
        out->sources[i].index = idx;
        snprintf(out->sources[i].address, CS_ADDR_MAX, "%s", src->address);
    }
    out->n_sources = msg->n_sources;
    rc = 0;
out:
    chunk__rebuild_request__free_unpacked(msg, NULL);
    return rc;
}

static int source_cmp(const void *a, const void *b)
{
    const cs_rebuild_source *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* One fetch slot: the source it currently reads from and its receive
 * buffers, one window each, filled by the response writer. */
typedef struct slot {
    size_t source; /* index into the sorted source list */
    uint8_t *buf;  /* CS_REBUILD_BATCH windows, owned */
} slot;

/* One window request of a round: the response body goes straight into its
 * slot's buffer (no growing buffers), headers into resp. */
typedef struct fetch {
    unsigned slot, w; /* which slot, which window of the batch */
    uint8_t *dst;
    size_t want, got;
    uint32_t crc; /* CRC32C of the bytes received so far */
    bool overflow;
    struct cn_http_response resp;
    char url[CS_ADDR_MAX + 16];
    char range_hdr[64];
    char target[128];
    const char *headers[2];
} fetch;

static int fetch_write(void *cls, const void *data, size_t len)
{
    fetch *f = cls;
    if (len > f->want - f->got) {
        f->overflow = true;
        return CAIRN_E_PROTO;
    }
    memcpy(f->dst + f->got, data, len);
    /* checked while the bytes are still in cache */
    f->crc = ec_crc32c_update(f->crc, f->dst + f->got, len);
    f->got += len;
    return 0;
}

/* Checks a window response; returns 0 or a CAIRN_E code. */
static int check_window(const fetch *f, int err, const cs_frag_meta *meta)
{
    const struct cn_http_response *resp = &f->resp;
    if (f->overflow)
        return CAIRN_E_PROTO;
    if (err != 0)
        return err;
    if (resp->status != 206 && resp->status != 200)
        return resp->status == 404 ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    if (f->got != f->want)
        return CAIRN_E_PROTO;
    /* The source must hold a fragment of the same group shape. */
    const char *len_hdr = cn_http_response_header(resp, CN_HDR_DATA_LEN);
    const char *k_hdr = cn_http_response_header(resp, CN_HDR_K);
    const char *m_hdr = cn_http_response_header(resp, CN_HDR_M);
    const char *unit_hdr = cn_http_response_header(resp, CN_HDR_UNIT);
    if (len_hdr == NULL || strtoull(len_hdr, NULL, 10) != meta->data_len || k_hdr == NULL ||
        strtoul(k_hdr, NULL, 10) != meta->k || m_hdr == NULL ||
        strtoul(m_hdr, NULL, 10) != meta->m || unit_hdr == NULL ||
        strtoul(unit_hdr, NULL, 10) != meta->unit)
        return CAIRN_E_PROTO;
    uint32_t crc;
    if (cn_wire_crc_parse(cn_http_response_header(resp, CN_HDR_RANGE_CRC), &crc) != 0)
        return CAIRN_E_PROTO;
    if (crc != f->crc)
        return CAIRN_E_CORRUPT;
    return 0;
}

/* The local writes run on their own thread, so the disk works on batch n
 * while batch n + 1 is fetched and decoded: two output buffers in turn, at
 * most one batch queued. */
typedef struct writer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cs_put *put;
    const uint8_t *data; /* batch handed over, NULL = none */
    size_t len;
    bool quit;
    int rc; /* first write error */
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->data == NULL && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->data == NULL)
            break;
        const uint8_t *data = w->data;
        size_t len = w->len;
        pthread_mutex_unlock(&w->mu);
        int rc = w->rc == 0 ? cs_put_write(w->put, data, len) : 0;
        pthread_mutex_lock(&w->mu);
        if (rc != 0 && w->rc == 0)
            w->rc = rc;
        w->data = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until the writer is idle; returns its first error (0 if none). */
static int writer_idle(writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->data != NULL)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Hands data[len] to the writer once it is idle; returns its error so far. */
static int writer_push(writer *w, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&w->mu);
    while (w->data != NULL)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    if (rc == 0) {
        w->data = data;
        w->len = len;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void writer_stop(writer *w, pthread_t th)
{
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(th, NULL);
}

/* Fetches windows [off, off + n * CS_REBUILD_WINDOW) (the last one possibly
 * short) from every slot, replacing failed sources by spares. */
static int fetch_batch(struct cn_http_fanout *fan, const cs_rebuild_req *req,
                       const cs_rebuild_source *sources, size_t n_sources, size_t *next_spare,
                       slot *slots, const char *hex, uint64_t off, unsigned n,
                       cs_rebuild_result *result)
{
    const cs_frag_meta *meta = &req->meta;
    unsigned k = meta->k;
    bool have[EC_MAX_K][CS_REBUILD_BATCH];
    memset(have, 0, sizeof(have));
    fetch fetches[CN_HTTP_FANOUT_MAX];
    struct cn_http_request reqs[CN_HTTP_FANOUT_MAX];
    struct cn_http_response resps[CN_HTTP_FANOUT_MAX];
    int errs[CN_HTTP_FANOUT_MAX];
    _Static_assert(EC_MAX_K * CS_REBUILD_BATCH <= CN_HTTP_FANOUT_MAX, "one round per batch");
    for (;;) {
        size_t nr = 0;
        for (unsigned i = 0; i < k; i++) {
            const cs_rebuild_source *src = &sources[slots[i].source];
            for (unsigned w = 0; w < n; w++) {
                if (have[i][w])
                    continue;
                uint64_t woff = off + (uint64_t)w * CS_REBUILD_WINDOW;
                uint64_t wlen = meta->data_len - woff;
                if (wlen > CS_REBUILD_WINDOW)
                    wlen = CS_REBUILD_WINDOW;
                fetch *f = &fetches[nr];
                memset(f, 0, sizeof(*f));
                f->slot = i;
                f->w = w;
                f->dst = slots[i].buf + (size_t)w * CS_REBUILD_WINDOW;
                f->want = (size_t)wlen;
                snprintf(f->url, sizeof(f->url), "http://%s", src->address);
                snprintf(f->range_hdr, sizeof(f->range_hdr), "Range: bytes=%" PRIu64 "-%" PRIu64,
                         woff, woff + wlen - 1);
                cn_wire_fragment_target(f->target, sizeof(f->target), meta->group, src->index);
                f->headers[0] = f->range_hdr;
                f->headers[1] = NULL;
                memset(&reqs[nr], 0, sizeof(reqs[nr]));
                reqs[nr].method = "GET";
                reqs[nr].base_url = f->url;
                reqs[nr].target = f->target;
                reqs[nr].headers = f->headers;
                reqs[nr].resp_writer = fetch_write;
                reqs[nr].resp_cls = f;
                reqs[nr].resp_body_unsigned_ok = 1; /* data: checked by its CRCs */
                memset(&resps[nr], 0, sizeof(resps[nr]));
                nr++;
            }
        }
        if (nr == 0)
            return 0;
        int rc = cn_http_fanout_run(fan, reqs, nr, resps, errs);
        if (rc != 0) {
            for (size_t j = 0; j < nr; j++)
                cn_http_response_clear(&resps[j]);
            return rc;
        }
        bool failed[EC_MAX_K] = {false};
        for (size_t j = 0; j < nr; j++) {
            fetch *f = &fetches[j];
            f->resp = resps[j];
            int wrc = check_window(f, errs[j], meta);
            cn_http_response_clear(&f->resp);
            if (wrc == 0) {
                have[f->slot][f->w] = true;
                result->bytes_fetched += f->want;
                continue;
            }
            if (failed[f->slot])
                continue;
            failed[f->slot] = true;
            const cs_rebuild_source *src = &sources[slots[f->slot].source];
            CN_WARN(MOD, "%s.%u: source %s (fragment %u) failed at offset %" PRIu64 ": %s", hex,
                    meta->index, src->address, src->index, off + (uint64_t)f->w * CS_REBUILD_WINDOW,
                    cairn_strerror(wrc));
            result->sources_failed++;
        }
        for (unsigned i = 0; i < k; i++) {
            if (!failed[i])
                continue;
            if (*next_spare >= n_sources)
                return CAIRN_E_ERASURES;
            /* The spare serves every window of this batch again. */
            slots[i].source = (*next_spare)++;
            memset(have[i], 0, sizeof(have[i]));
        }
    }
}

int cs_rebuild_run(cs_store *store, const struct cn_auth *auth, const cs_rebuild_req *req,
                   int64_t peer_timeout_ms, cs_rebuild_result *result)
{
    const cs_frag_meta *meta = &req->meta;
    unsigned k = meta->k;
    memset(result, 0, sizeof(*result));
    if (req->n_sources < k)
        return CAIRN_E_ERASURES;
    cs_rebuild_source sources[EC_MAX_FRAGS];
    size_t n_sources = req->n_sources;
    memcpy(sources, req->sources, n_sources * sizeof(sources[0]));
    /* Data fragments first: the cheapest decode and what ec_decode reads. */
    qsort(sources, n_sources, sizeof(sources[0]), source_cmp);

    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(meta->group, hex);
    const size_t batch_bytes = (size_t)CS_REBUILD_BATCH * CS_REBUILD_WINDOW;
    ec_codec *codec;
    int rc = ec_codec_new(meta->k, meta->m, &codec);
    if (rc != 0)
        return rc;
    struct cn_http_client_opts copts = {.auth = auth, .timeout_ms = peer_timeout_ms};
    struct cn_http_fanout *fan;
    rc = cn_http_fanout_new(&copts, &fan);
    if (rc != 0)
        goto err_after_codec;
    uint8_t *out_buf[2] = {malloc(batch_bytes), malloc(batch_bytes)};
    slot *slots = calloc(k, sizeof(*slots));
    bool bufs_ok = out_buf[0] != NULL && out_buf[1] != NULL && slots != NULL;
    for (unsigned i = 0; bufs_ok && i < k; i++) {
        slots[i].source = i;
        slots[i].buf = malloc(batch_bytes);
        bufs_ok = slots[i].buf != NULL;
    }
    if (!bufs_ok) {
        rc = CAIRN_E_NOMEM;
        goto err_after_bufs;
    }
    cs_put *put;
    rc = cs_store_put_begin(store, meta, &put);
    if (rc != 0)
        goto err_after_bufs;
    writer wr = {.put = put};
    pthread_t wth;
    pthread_mutex_init(&wr.mu, NULL);
    pthread_cond_init(&wr.cv, NULL);
    if (pthread_create(&wth, NULL, writer_main, &wr) != 0) {
        rc = CAIRN_E_IO;
        goto err_after_writer_init;
    }

    size_t next_spare = k;
    uint32_t crc = 0;
    unsigned cur = 0;
    for (uint64_t off = 0; off < meta->data_len; off += batch_bytes) {
        uint64_t blen = meta->data_len - off;
        if (blen > batch_bytes)
            blen = batch_bytes;
        unsigned n = (unsigned)((blen + CS_REBUILD_WINDOW - 1) / CS_REBUILD_WINDOW);
        rc = fetch_batch(fan, req, sources, n_sources, &next_spare, slots, hex, off, n, result);
        if (rc != 0)
            goto err_after_writer;
        for (unsigned w = 0; w < n; w++) {
            size_t woff = (size_t)w * CS_REBUILD_WINDOW;
            size_t wlen =
                (size_t)(blen - woff < CS_REBUILD_WINDOW ? blen - woff : CS_REBUILD_WINDOW);
            uint8_t *frags[EC_MAX_FRAGS] = {NULL};
            uint64_t present = 0;
            for (unsigned i = 0; i < k; i++) {
                uint32_t idx = sources[slots[i].source].index;
                frags[idx] = slots[i].buf + woff;
                present |= 1ull << idx;
            }
            frags[meta->index] = out_buf[cur] + woff;
            rc = ec_decode(codec, wlen, frags, present, 1ull << meta->index);
            if (rc != 0)
                goto err_after_writer;
        }
        crc = ec_crc32c_update(crc, out_buf[cur], (size_t)blen);
        rc = writer_push(&wr, out_buf[cur], (size_t)blen);
        if (rc != 0)
            goto err_after_writer;
        cur ^= 1;
    }
    rc = writer_idle(&wr);
    writer_stop(&wr, wth);
    pthread_cond_destroy(&wr.cv);
    pthread_mutex_destroy(&wr.mu);
    if (rc != 0)
        goto err_after_put;
    enum cs_put_result pres;
    rc = cs_put_commit(put, req->check_crc, req->data_crc, true, &pres);
    put = NULL;
    if (rc != 0)
        goto err_after_bufs;
    result->data_crc = crc;
    result->put = pres;
    for (unsigned i = 0; i < k; i++)
        free(slots[i].buf);
    free(slots);
    free(out_buf[0]);
    free(out_buf[1]);
    cn_http_fanout_free(fan);
    ec_codec_free(codec);
    CN_INFO(MOD, "rebuilt %s.%u (%" PRIu64 " bytes, %u source failure(s))", hex, meta->index,
            meta->data_len, result->sources_failed);
    return 0;

err_after_writer:
    writer_idle(&wr);
    writer_stop(&wr, wth);
err_after_writer_init:
    pthread_cond_destroy(&wr.cv);
    pthread_mutex_destroy(&wr.mu);
err_after_put:
    cs_put_abort(put);
err_after_bufs:
    if (slots != NULL)
        for (unsigned i = 0; i < k; i++)
            free(slots[i].buf);
    free(slots);
    free(out_buf[0]);
    free(out_buf[1]);
    cn_http_fanout_free(fan);
err_after_codec:
    ec_codec_free(codec);
    CN_WARN(MOD, "rebuild of %s.%u failed: %s", hex, meta->index, cairn_strerror(rc));
    return rc;
}
