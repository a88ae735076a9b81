#include "cs_rebuild.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cs_api.h"
#include "ec_crc.h"

#define MOD "rebuild"

/* Windows must come back verified, with their CRC in a header. */
_Static_assert(CS_REBUILD_WINDOW <= CS_API_VERIFIED_MAX, "rebuild window above verified GETs");

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

/* One fetch slot: the source it currently reads from and this window's bytes. */
typedef struct slot {
    size_t source; /* index into the sorted source list */
    bool have;     /* window bytes received and checked */
    struct cn_http_response resp;
    char url[CS_ADDR_MAX + 16];
    char range_hdr[64];
    const char *headers[2];
} slot;

/* Checks a window response; returns 0 or a CAIRN_E code. */
static int check_window(const struct cn_http_response *resp, int err, uint64_t wlen,
                        const cs_frag_meta *meta)
{
    if (err != 0)
        return err;
    if (resp->status != 206 && resp->status != 200)
        return resp->status == 404 ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    if (resp->body_len != wlen)
        return CAIRN_E_PROTO;
    /* The source must hold a fragment of the same group shape. */
    const char *len_hdr = cn_http_response_header(resp, CS_HDR_DATA_LEN);
    const char *k_hdr = cn_http_response_header(resp, CS_HDR_K);
    const char *m_hdr = cn_http_response_header(resp, CS_HDR_M);
    const char *unit_hdr = cn_http_response_header(resp, CS_HDR_UNIT);
    if (len_hdr == NULL || strtoull(len_hdr, NULL, 10) != meta->data_len || k_hdr == NULL ||
        strtoul(k_hdr, NULL, 10) != meta->k || m_hdr == NULL ||
        strtoul(m_hdr, NULL, 10) != meta->m || unit_hdr == NULL ||
        strtoul(unit_hdr, NULL, 10) != meta->unit)
        return CAIRN_E_PROTO;
    const char *crc_hdr = cn_http_response_header(resp, CS_HDR_RANGE_CRC);
    if (crc_hdr == NULL)
        return CAIRN_E_PROTO;
    uint32_t crc = (uint32_t)strtoul(crc_hdr, NULL, 16);
    if (crc != ec_crc32c(resp->body, resp->body_len))
        return CAIRN_E_CORRUPT;
    return 0;
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
    ec_codec *codec;
    int rc = ec_codec_new(meta->k, meta->m, &codec);
    if (rc != 0)
        return rc;
    struct cn_http_client_opts copts = {.auth = auth, .timeout_ms = peer_timeout_ms};
    struct cn_http_fanout *fan;
    rc = cn_http_fanout_new(&copts, &fan);
    if (rc != 0)
        goto err_after_codec;
    uint8_t *out_buf = malloc(CS_REBUILD_WINDOW);
    slot *slots = calloc(k, sizeof(*slots));
    if (out_buf == NULL || slots == NULL) {
        rc = CAIRN_E_NOMEM;
        goto err_after_bufs;
    }
    cs_put *put;
    rc = cs_store_put_begin(store, meta, &put);
    if (rc != 0)
        goto err_after_bufs;

    size_t next_spare = k;
    for (unsigned i = 0; i < k; i++)
        slots[i].source = i;
    uint32_t crc = 0;

    for (uint64_t off = 0; off < meta->data_len; off += CS_REBUILD_WINDOW) {
        uint64_t wlen = meta->data_len - off;
        if (wlen > CS_REBUILD_WINDOW)
            wlen = CS_REBUILD_WINDOW;
        for (unsigned i = 0; i < k; i++)
            slots[i].have = false;
        for (;;) {
            /* Fetch the window from every slot that lacks it. */
            struct cn_http_request reqs[EC_MAX_K];
            struct cn_http_response resps[EC_MAX_K];
            int errs[EC_MAX_K];
            unsigned map[EC_MAX_K];
            char targets[EC_MAX_K][128];
            size_t n = 0;
            for (unsigned i = 0; i < k; i++) {
                if (slots[i].have)
                    continue;
                slot *sl = &slots[i];
                const cs_rebuild_source *src = &sources[sl->source];
                snprintf(sl->url, sizeof(sl->url), "http://%s", src->address);
                snprintf(sl->range_hdr, sizeof(sl->range_hdr), "Range: bytes=%" PRIu64 "-%" PRIu64,
                         off, off + wlen - 1);
                sl->headers[0] = sl->range_hdr;
                sl->headers[1] = NULL;
                snprintf(targets[n], sizeof(targets[n]), "%s%s/%u", CS_API_FRAGMENT, hex,
                         src->index);
                memset(&reqs[n], 0, sizeof(reqs[n]));
                reqs[n].method = "GET";
                reqs[n].base_url = sl->url;
                reqs[n].target = targets[n];
                reqs[n].headers = sl->headers;
                reqs[n].resp_max = wlen;
                memset(&resps[n], 0, sizeof(resps[n]));
                map[n++] = i;
            }
            if (n == 0)
                break;
            rc = cn_http_fanout_run(fan, reqs, n, resps, errs);
            if (rc != 0) {
                for (size_t j = 0; j < n; j++)
                    cn_http_response_clear(&resps[j]);
                goto err_after_put;
            }
            bool lacking = false;
            for (size_t j = 0; j < n; j++) {
                slot *sl = &slots[map[j]];
                int wrc = check_window(&resps[j], errs[j], wlen, meta);
                if (wrc == 0) {
                    sl->resp = resps[j];
                    sl->have = true;
                    result->bytes_fetched += wlen;
                    continue;
                }
                const cs_rebuild_source *src = &sources[sl->source];
                CN_WARN(MOD, "%s.%u: source %s (fragment %u) failed at offset %" PRIu64 ": %s", hex,
                        meta->index, src->address, src->index, off, cairn_strerror(wrc));
                cn_http_response_clear(&resps[j]);
                result->sources_failed++;
                if (next_spare >= n_sources) {
                    lacking = true;
                    continue;
                }
                sl->source = next_spare++;
            }
            if (lacking) {
                rc = CAIRN_E_ERASURES;
                goto err_after_put;
            }
        }
        uint8_t *frags[EC_MAX_FRAGS] = {NULL};
        uint64_t present = 0;
        for (unsigned i = 0; i < k; i++) {
            uint32_t idx = sources[slots[i].source].index;
            frags[idx] = (uint8_t *)slots[i].resp.body;
            present |= 1ull << idx;
        }
        frags[meta->index] = out_buf;
        rc = ec_decode(codec, (size_t)wlen, frags, present, 1ull << meta->index);
        for (unsigned i = 0; i < k; i++)
            cn_http_response_clear(&slots[i].resp);
        if (rc != 0)
            goto err_after_put;
        crc = ec_crc32c_update(crc, out_buf, (size_t)wlen);
        rc = cs_put_write(put, out_buf, (size_t)wlen);
        if (rc != 0)
            goto err_after_put;
    }
    enum cs_put_result pres;
    rc = cs_put_commit(put, req->check_crc, req->data_crc, true, &pres);
    put = NULL;
    if (rc != 0)
        goto err_after_bufs;
    result->data_crc = crc;
    result->put = pres;
    free(slots);
    free(out_buf);
    cn_http_fanout_free(fan);
    ec_codec_free(codec);
    CN_INFO(MOD, "rebuilt %s.%u (%" PRIu64 " bytes, %u source failure(s))", hex, meta->index,
            meta->data_len, result->sources_failed);
    return 0;

err_after_put:
    for (unsigned i = 0; i < k; i++)
        cn_http_response_clear(&slots[i].resp);
    cs_put_abort(put);
err_after_bufs:
    free(slots);
    free(out_buf);
    cn_http_fanout_free(fan);
err_after_codec:
    ec_codec_free(codec);
    CN_WARN(MOD, "rebuild of %s.%u failed: %s", hex, meta->index, cairn_strerror(rc));
    return rc;
}
