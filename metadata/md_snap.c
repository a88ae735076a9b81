#include "md_snap.h"
#include "md_sm.h"
#include "md_txn.h"
#include "meta.pb-c.h"
#include "cn_error.h"
#include "cn_log.h"
#include "ec_crc.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER  0
#define FRAME_RECORDS 1
#define FRAME_END     2
#define FRAME_TARGET  (256u << 10)
#define SNAP_MAGIC    "CAIRNSNP"

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* The same digest md_sm_state_hash computes, fed record by record. */
static int hash_record(EVP_MD_CTX *h, const void *k, size_t kl, const void *v, size_t vl)
{
    unsigned char len[4];
    put_be32(len, (uint32_t)kl);
    int ok = EVP_DigestUpdate(h, len, 4) && EVP_DigestUpdate(h, k, kl);
    put_be32(len, (uint32_t)vl);
    ok = ok && EVP_DigestUpdate(h, len, 4) && (vl == 0 || EVP_DigestUpdate(h, v, vl));
    return ok ? 0 : CAIRN_E_IO;
}

/* ------------------------------------------------------------- writer -- */

struct wbuf {
    unsigned char *p;
    size_t n, cap;
};

static int wbuf_add(struct wbuf *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + n)
            cap *= 2;
        unsigned char *np = realloc(w->p, cap);
        if (!np)
            return CAIRN_E_NOMEM;
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
    return 0;
}

/* w holds 9 reserved header bytes then the payload. */
static int emit_frame(struct wbuf *w, unsigned char type, md_snap_write_fn write, void *ctx)
{
    size_t len = w->n - 9;
    w->p[0] = type;
    put_be32(w->p + 1, (uint32_t)len);
    put_be32(w->p + 5, ec_crc32c(w->p + 9, len));
    int rc = write(ctx, w->p, w->n);
    w->n = 9;
    return rc;
}

int md_snap_write(struct md_store *store, md_snap_write_fn write, void *ctx,
                  uint64_t *applied_index)
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    struct wbuf w = {0};
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned char zero9[9] = {0};
    if (!h || wbuf_add(&w, zero9, 9) || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    /* Header: the applied index from the same snapshot. */
    struct md_key ik;
    md_key_start(&ik, MD_K_INFO);
    uint64_t applied = 0;
    md_iter_seek(it, ik.b, ik.n);
    if (md_iter_valid(it)) {
        size_t kl, vl;
        const void *k = md_iter_key(it, &kl);
        if (kl == ik.n && memcmp(k, ik.b, kl) == 0) {
            const void *v = md_iter_value(it, &vl);
            Md__StoreInfo *info = md__store_info__unpack(NULL, vl, v);
            if (!info) {
                rc = CAIRN_E_CORRUPT;
                goto out;
            }
            applied = info->applied_index;
            md__store_info__free_unpacked(info, NULL);
        }
    }
    unsigned char hdr[20];
    memcpy(hdr, SNAP_MAGIC, 8);
    put_be32(hdr + 8, MD_SM_FORMAT);
    put_be64(hdr + 12, applied);
    if ((rc = wbuf_add(&w, hdr, sizeof(hdr))) || (rc = emit_frame(&w, FRAME_HEADER, write, ctx)))
        goto out;
    uint64_t count = 0;
    const unsigned char pre = MD_SM_KEY_PREFIX;
    for (md_iter_seek(it, &pre, 1); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (!kl || k[0] != pre)
            break;
        const void *v = md_iter_value(it, &vl);
        unsigned char len[4];
        put_be32(len, (uint32_t)kl);
        if ((rc = wbuf_add(&w, len, 4)) || (rc = wbuf_add(&w, k, kl)))
            goto out;
        put_be32(len, (uint32_t)vl);
        if ((rc = wbuf_add(&w, len, 4)) || (vl && (rc = wbuf_add(&w, v, vl))))
            goto out;
        if ((rc = hash_record(h, k, kl, v, vl)))
            goto out;
        count++;
        if (w.n - 9 >= FRAME_TARGET && (rc = emit_frame(&w, FRAME_RECORDS, write, ctx)))
            goto out;
    }
    if ((rc = md_iter_status(it)))
        goto out;
    if (w.n > 9 && (rc = emit_frame(&w, FRAME_RECORDS, write, ctx)))
        goto out;
    unsigned char end[8 + 32];
    unsigned dlen = 0;
    put_be64(end, count);
    if (!EVP_DigestFinal_ex(h, end + 8, &dlen)) {
        rc = CAIRN_E_IO;
        goto out;
    }
    if ((rc = wbuf_add(&w, end, sizeof(end))) || (rc = emit_frame(&w, FRAME_END, write, ctx)))
        goto out;
    if (applied_index)
        *applied_index = applied;
out:
    EVP_MD_CTX_free(h);
    free(w.p);
    md_iter_free(it);
    return rc;
}

/* ------------------------------------------------------------- loader -- */

struct md_snap_loader {
    struct md_store *store;
    struct md_batch *batch;
    EVP_MD_CTX *hash;
    struct wbuf in; /* bytes of the current, incomplete frame */
    int seen_header, seen_end, seen_info, failed;
    uint64_t applied, count;
    unsigned char *last_key; /* to check strict key order */
    size_t last_len;
};

static int loading_mark(struct md_key *k)
{
    md_key_start(k, MD_K_LOADING);
    return 0;
}

int md_snap_load_begin(struct md_store *store, struct md_snap_loader **out)
{
    struct md_snap_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return CAIRN_E_NOMEM;
    l->store = store;
    l->batch = md_batch_new();
    l->hash = EVP_MD_CTX_new();
    int rc = 0;
    if (!l->batch || !l->hash || !EVP_DigestInit_ex(l->hash, EVP_sha256(), NULL)) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    struct md_key mark;
    loading_mark(&mark);
    if ((rc = md_batch_put(l->batch, mark.b, mark.n, "", 0)) ||
        (rc = md_store_write(store, l->batch)) || (rc = md_store_sync(store)))
        goto err;
    md_batch_clear(l->batch);
    /* Delete the old state in bounded batches (the mark stays). */
    struct md_iter *it;
    if ((rc = md_store_iter_new(store, &it)))
        goto err;
    const unsigned char pre = MD_SM_KEY_PREFIX;
    for (md_iter_seek(it, &pre, 1); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (!kl || k[0] != pre)
            break;
        if (kl == mark.n && memcmp(k, mark.b, kl) == 0)
            continue;
        if ((rc = md_batch_del(l->batch, k, kl)))
            break;
        if (md_batch_count(l->batch) >= 1024) {
            if ((rc = md_store_write(store, l->batch)))
                break;
            md_batch_clear(l->batch);
        }
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    if (!rc && md_batch_count(l->batch))
        rc = md_store_write(store, l->batch);
    md_batch_clear(l->batch);
    if (rc)
        goto err;
    *out = l;
    return 0;
err:
    md_snap_load_abort(l);
    return rc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int bad(struct md_snap_loader *l, const char *why)
{
    CN_ERROR("md", "snapshot stream rejected: %s", why);
    l->failed = 1;
    return CAIRN_E_CORRUPT;
}

static int load_records(struct md_snap_loader *l, const unsigned char *p, size_t len)
{
    struct md_key mark, info;
    loading_mark(&mark);
    md_key_start(&info, MD_K_INFO);
    size_t off = 0;
    while (off < len) {
        if (len - off < 4)
            return bad(l, "truncated record");
        size_t kl = be32(p + off);
        off += 4;
        if (len - off < kl + 4)
            return bad(l, "truncated record");
        const unsigned char *k = p + off;
        off += kl;
        size_t vl = be32(p + off);
        off += 4;
        if (len - off < vl)
            return bad(l, "truncated record");
        const unsigned char *v = p + off;
        off += vl;
        if (!kl || k[0] != MD_SM_KEY_PREFIX || (kl == mark.n && !memcmp(k, mark.b, kl)))
            return bad(l, "key outside the state machine");
        if (kl == info.n && !memcmp(k, info.b, kl)) {
            /* What md_sm_reload will read: it must be there, be this
             * format and name the header's applied index. */
            Md__StoreInfo *si = md__store_info__unpack(NULL, vl, v);
            int ok = si && si->format == MD_SM_FORMAT && si->applied_index == l->applied;
            if (si)
                md__store_info__free_unpacked(si, NULL);
            if (!ok)
                return bad(l, "StoreInfo record does not match the header");
            l->seen_info = 1;
        }
        if (l->last_key && md_key_cmp(l->last_key, l->last_len, k, kl) >= 0)
            return bad(l, "keys out of order");
        unsigned char *nk = realloc(l->last_key, kl);
        if (!nk)
            return CAIRN_E_NOMEM;
        memcpy(nk, k, kl);
        l->last_key = nk;
        l->last_len = kl;
        int rc = md_batch_put(l->batch, k, kl, v, vl);
        if (!rc)
            rc = hash_record(l->hash, k, kl, v, vl);
        if (rc)
            return rc;
        l->count++;
    }
    int rc = md_store_write(l->store, l->batch);
    md_batch_clear(l->batch);
    return rc;
}

static int load_frame(struct md_snap_loader *l, unsigned char type, const unsigned char *p,
                      size_t len)
{
    if (l->seen_end)
        return bad(l, "data after the end frame");
    if (type == FRAME_HEADER) {
        if (l->seen_header || len != 20 || memcmp(p, SNAP_MAGIC, 8) != 0)
            return bad(l, "bad header");
        if (be32(p + 8) != MD_SM_FORMAT)
            return bad(l, "unknown state format");
        l->applied = be64(p + 12);
        l->seen_header = 1;
        return 0;
    }
    if (!l->seen_header)
        return bad(l, "missing header");
    if (type == FRAME_RECORDS)
        return load_records(l, p, len);
    if (type == FRAME_END) {
        if (len != 40)
            return bad(l, "bad end frame");
        unsigned char digest[32];
        unsigned dlen = 0;
        if (!EVP_DigestFinal_ex(l->hash, digest, &dlen))
            return CAIRN_E_IO;
        if (be64(p) != l->count)
            return bad(l, "record count differs");
        if (memcmp(digest, p + 8, 32) != 0)
            return bad(l, "state hash differs");
        if (!l->seen_info)
            return bad(l, "no StoreInfo record");
        l->seen_end = 1;
        return 0;
    }
    return bad(l, "unknown frame type");
}

int md_snap_load_feed(struct md_snap_loader *l, const void *buf, size_t len)
{
    if (l->failed)
        return CAIRN_E_CORRUPT;
    const unsigned char *p = buf;
    while (len) {
        /* Complete the 9-byte frame header, then the payload it announces. */
        size_t need;
        if (l->in.n < 9) {
            need = 9 - l->in.n;
        } else {
            size_t plen = be32(l->in.p + 1);
            if (plen > MD_SNAP_MAX_FRAME)
                return bad(l, "frame too large");
            need = 9 + plen - l->in.n;
        }
        size_t take = need < len ? need : len;
        if (wbuf_add(&l->in, p, take))
            return CAIRN_E_NOMEM;
        p += take;
        len -= take;
        if (l->in.n < 9)
            continue;
        size_t plen = be32(l->in.p + 1);
        if (plen > MD_SNAP_MAX_FRAME)
            return bad(l, "frame too large");
        if (l->in.n < 9 + plen)
            continue;
        if (ec_crc32c(l->in.p + 9, plen) != be32(l->in.p + 5))
            return bad(l, "frame checksum mismatch");
        int rc = load_frame(l, l->in.p[0], l->in.p + 9, plen);
        l->in.n = 0;
        if (rc) {
            l->failed = 1;
            return rc;
        }
    }
    return 0;
}

int md_snap_load_finish(struct md_snap_loader *l, uint64_t *applied_index)
{
    int rc = 0;
    if (l->failed || !l->seen_end || l->in.n)
        rc = l->failed ? CAIRN_E_CORRUPT : bad(l, "stream ended early");
    if (!rc)
        rc = md_store_sync(l->store);
    if (!rc) {
        struct md_key mark;
        loading_mark(&mark);
        md_batch_clear(l->batch);
        if (!(rc = md_batch_del(l->batch, mark.b, mark.n)))
            rc = md_store_write(l->store, l->batch);
        if (!rc)
            rc = md_store_sync(l->store);
    }
    if (!rc && applied_index)
        *applied_index = l->applied;
    md_snap_load_abort(l);
    return rc;
}

void md_snap_load_abort(struct md_snap_loader *l)
{
    if (!l)
        return;
    md_batch_free(l->batch);
    EVP_MD_CTX_free(l->hash);
    free(l->in.p);
    free(l->last_key);
    free(l);
}
