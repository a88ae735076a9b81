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

/* The same digest md_sm_state_hash computes, fed record by record. */
static int hash_record(EVP_MD_CTX *h, const void *k, size_t kl, const void *v, size_t vl)
{
    unsigned char len[4];
    md_put_be32(len, (uint32_t)kl);
    int ok = EVP_DigestUpdate(h, len, 4) && EVP_DigestUpdate(h, k, kl);
    md_put_be32(len, (uint32_t)vl);
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
    md_put_be32(w->p + 1, (uint32_t)len);
    md_put_be32(w->p + 5, ec_crc32c(w->p + 9, len));
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
    uint32_t format = MD_SM_FORMAT;
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
            format = info->format;
            md__store_info__free_unpacked(info, NULL);
        }
    }
    unsigned char hdr[20];
    memcpy(hdr, SNAP_MAGIC, 8);
    md_put_be32(hdr + 8, format);
    md_put_be64(hdr + 12, applied);
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
        md_put_be32(len, (uint32_t)kl);
        if ((rc = wbuf_add(&w, len, 4)) || (rc = wbuf_add(&w, k, kl)))
            goto out;
        md_put_be32(len, (uint32_t)vl);
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
    md_put_be64(end, count);
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

/* ------------------------------------------------------------- loader --
 *
 * The stream is loaded beside the live state, under the staging range
 * (STAGE + state key), and verified whole before the live state is touched.
 * The swap then runs in bounded batches, guarded by the commit marker (the
 * key STAGE alone) and the state machine's "SL" mark:
 *   1. marker = COPYING and "SL" (md_sm_open refuses the store), synced;
 *   2. delete every state key, copy every staged key over, synced;
 *   3. marker = CLEANING and "SL" deleted in one write, synced: the new
 *      state is in force;
 *   4. delete the staged keys and the marker, synced.
 * md_snap_recover redoes 2-4 after a crash in 2, or 4 after a crash in 4:
 * both are idempotent while the staged copy is intact, which it is until
 * the marker says CLEANING. */

#define STAGE          'T' /* staging range: STAGE + state key; STAGE alone: marker */
#define PHASE_COPYING  'C'
#define PHASE_CLEANING 'D'
#define BATCH_OPS      1024

struct md_snap_loader {
    struct md_store *store;
    struct md_batch *batch;
    EVP_MD_CTX *hash;
    struct wbuf in; /* bytes of the current, incomplete frame */
    int seen_header, seen_end, failed, verified;
    int seen_info; /* the stream's StoreInfo record, checked against the header */
    uint64_t applied, count;
    uint32_t format;         /* the header's state format */
    unsigned char *last_key; /* to check strict key order */
    size_t last_len;
    struct wbuf staged; /* STAGE + the current record's key */
};

static void loader_free(struct md_snap_loader *l);

static int loading_mark(struct md_key *k)
{
    md_key_start(k, MD_K_LOADING);
    return 0;
}

/* Writes b when it holds enough (or with force anything) and empties it. */
static int flush_batch(struct md_store *store, struct md_batch *b, int force)
{
    if (md_batch_count(b) == 0 || (!force && md_batch_count(b) < BATCH_OPS))
        return 0;
    int rc = md_store_write(store, b);
    md_batch_clear(b);
    return rc;
}

/* Deletes every key that starts with byte `first`, except skip (may be
 * NULL), in bounded batches. */
static int delete_range(struct md_store *store, struct md_batch *b, unsigned char first,
                        const struct md_key *skip)
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    md_batch_clear(b);
    for (md_iter_seek(it, &first, 1); rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (!kl || k[0] != first)
            break;
        if (skip && kl == skip->n && memcmp(k, skip->b, kl) == 0)
            continue;
        if (!(rc = md_batch_del(b, k, kl)))
            rc = flush_batch(store, b, 0);
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    if (!rc)
        rc = flush_batch(store, b, 1);
    md_batch_clear(b);
    return rc;
}

/* The commit marker's phase, 0 when there is none. */
static int commit_phase(struct md_store *store, int *phase)
{
    const unsigned char key = STAGE;
    void *v = NULL;
    size_t vl = 0;
    int rc = md_store_get(store, &key, 1, &v, &vl);
    *phase = 0;
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc == 0 && (vl != 1 || (((unsigned char *)v)[0] != PHASE_COPYING &&
                                ((unsigned char *)v)[0] != PHASE_CLEANING)))
        rc = CAIRN_E_CORRUPT;
    if (rc == 0)
        *phase = ((unsigned char *)v)[0];
    free(v);
    return rc;
}

static int set_phase(struct md_store *store, struct md_batch *b, unsigned char phase)
{
    const unsigned char key = STAGE;
    struct md_key mark;
    loading_mark(&mark);
    md_batch_clear(b);
    int rc = md_batch_put(b, &key, 1, &phase, 1);
    if (!rc)
        rc = phase == PHASE_COPYING ? md_batch_put(b, mark.b, mark.n, "", 0)
                                    : md_batch_del(b, mark.b, mark.n);
    if (!rc)
        rc = md_store_write(store, b);
    md_batch_clear(b);
    return rc ? rc : md_store_sync(store);
}

/* Steps 2 and 3: the staged state replaces the live one. */
static int swap_in(struct md_store *store, struct md_batch *b)
{
    struct md_key mark;
    loading_mark(&mark);
    int rc = delete_range(store, b, MD_SM_KEY_PREFIX, &mark);
    struct md_iter *it = NULL;
    if (!rc)
        rc = md_store_iter_new(store, &it);
    const unsigned char from[2] = {STAGE, MD_SM_KEY_PREFIX};
    if (it)
        md_iter_seek(it, from, 2);
    for (; rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < 2 || k[0] != STAGE)
            break;
        const void *v = md_iter_value(it, &vl);
        if (!(rc = md_batch_put(b, k + 1, kl - 1, v, vl)))
            rc = flush_batch(store, b, 0);
    }
    if (it) {
        if (!rc)
            rc = md_iter_status(it);
        md_iter_free(it);
    }
    if (!rc)
        rc = flush_batch(store, b, 1);
    md_batch_clear(b);
    if (!rc)
        rc = md_store_sync(store);
    return rc ? rc : set_phase(store, b, PHASE_CLEANING);
}

/* Step 4 (also: clearing what an unfinished load staged). */
static int clean_stage(struct md_store *store, struct md_batch *b)
{
    int rc = delete_range(store, b, STAGE, NULL);
    return rc ? rc : md_store_sync(store);
}

int md_snap_recover(struct md_store *store)
{
    struct md_batch *b = md_batch_new();
    if (!b)
        return CAIRN_E_NOMEM;
    int phase;
    int rc = commit_phase(store, &phase);
    if (!rc && phase == PHASE_COPYING) {
        CN_WARN("md", "finishing a snapshot install that a crash interrupted");
        rc = swap_in(store, b);
    }
    if (!rc) {
        /* Only look (one seek) when nothing is known to be staged. */
        struct md_iter *it;
        int any = phase != 0;
        if (!any && !(rc = md_store_iter_new(store, &it))) {
            const unsigned char stage = STAGE;
            md_iter_seek(it, &stage, 1);
            size_t kl;
            any = md_iter_valid(it) && ((const unsigned char *)md_iter_key(it, &kl))[0] == STAGE;
            rc = md_iter_status(it);
            md_iter_free(it);
        }
        if (!rc && any)
            rc = clean_stage(store, b);
    }
    md_batch_free(b);
    return rc;
}

int md_snap_load_begin(struct md_store *store, struct md_snap_loader **out)
{
    int phase;
    int rc = commit_phase(store, &phase);
    if (rc)
        return rc;
    if (phase)
        return CAIRN_E_BUSY; /* an interrupted install: md_snap_recover first */
    struct md_snap_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return CAIRN_E_NOMEM;
    l->store = store;
    l->batch = md_batch_new();
    l->hash = EVP_MD_CTX_new();
    if (!l->batch || !l->hash || !EVP_DigestInit_ex(l->hash, EVP_sha256(), NULL)) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    /* What an earlier, unfinished load staged. */
    if ((rc = delete_range(store, l->batch, STAGE, NULL)))
        goto err;
    *out = l;
    return 0;
err:
    loader_free(l);
    return rc;
}

static int bad(struct md_snap_loader *l, const char *why)
{
    CN_WARN("md", "snapshot stream rejected: %s", why);
    l->failed = 1;
    return CAIRN_E_CORRUPT;
}

/* The stream's StoreInfo must be the header's format at the header's index
 * (an older format is brought up to date when the state machine reloads). */
static int check_info(struct md_snap_loader *l, const unsigned char *v, size_t vl)
{
    Md__StoreInfo *info = md__store_info__unpack(NULL, vl, v);
    if (!info)
        return bad(l, "undecodable store info");
    int ok = info->format == l->format && info->applied_index == l->applied;
    md__store_info__free_unpacked(info, NULL);
    l->seen_info = 1;
    return ok ? 0 : bad(l, "store info differs from the header");
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
        size_t kl = md_get_be32(p + off);
        off += 4;
        if (len - off < kl + 4)
            return bad(l, "truncated record");
        const unsigned char *k = p + off;
        off += kl;
        size_t vl = md_get_be32(p + off);
        off += 4;
        if (len - off < vl)
            return bad(l, "truncated record");
        const unsigned char *v = p + off;
        off += vl;
        if (!kl || k[0] != MD_SM_KEY_PREFIX || (kl == mark.n && !memcmp(k, mark.b, kl)))
            return bad(l, "key outside the state machine");
        if (l->last_key && md_key_cmp(l->last_key, l->last_len, k, kl) >= 0)
            return bad(l, "keys out of order");
        if (kl == info.n && !memcmp(k, info.b, kl)) {
            int rc = check_info(l, v, vl);
            if (rc)
                return rc;
        }
        unsigned char *nk = realloc(l->last_key, kl);
        if (!nk)
            return CAIRN_E_NOMEM;
        memcpy(nk, k, kl);
        l->last_key = nk;
        l->last_len = kl;
        const unsigned char stage = STAGE;
        l->staged.n = 0;
        int rc = wbuf_add(&l->staged, &stage, 1);
        if (!rc)
            rc = wbuf_add(&l->staged, k, kl);
        if (!rc)
            rc = md_batch_put(l->batch, l->staged.p, l->staged.n, v, vl);
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
        l->format = md_get_be32(p + 8);
        if (l->format < MD_SM_FORMAT_MIN || l->format > MD_SM_FORMAT)
            return bad(l, "unknown state format");
        l->applied = md_get_be64(p + 12);
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
        if (md_get_be64(p) != l->count)
            return bad(l, "record count differs");
        if (memcmp(digest, p + 8, 32) != 0)
            return bad(l, "state hash differs");
        l->seen_end = 1;
        return 0;
    }
    return bad(l, "unknown frame type");
}

int md_snap_load_feed(struct md_snap_loader *l, const void *buf, size_t len)
{
    if (l->failed || l->verified)
        return CAIRN_E_CORRUPT;
    const unsigned char *p = buf;
    while (len) {
        /* Complete the 9-byte frame header, then the payload it announces. */
        size_t need;
        if (l->in.n < 9) {
            need = 9 - l->in.n;
        } else {
            size_t plen = md_get_be32(l->in.p + 1);
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
        size_t plen = md_get_be32(l->in.p + 1);
        if (plen > MD_SNAP_MAX_FRAME)
            return bad(l, "frame too large");
        if (l->in.n < 9 + plen)
            continue;
        if (ec_crc32c(l->in.p + 9, plen) != md_get_be32(l->in.p + 5))
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

int md_snap_load_verify(struct md_snap_loader *l, uint64_t want_slot, uint64_t *applied_index)
{
    int rc = 0;
    if (l->failed)
        rc = CAIRN_E_CORRUPT;
    else if (!l->seen_end || l->in.n)
        rc = bad(l, "stream ended early");
    else if (!l->seen_info)
        rc = bad(l, "no store info");
    else if (want_slot && l->applied != want_slot)
        rc = bad(l, "snapshot of another slot than announced");
    else if ((rc = md_store_sync(l->store)) == 0)
        l->verified = 1; /* staged durably: a crash in the swap can finish it */
    if (!rc && applied_index)
        *applied_index = l->applied;
    return rc;
}

int md_snap_load_commit(struct md_snap_loader *l)
{
    int rc = l->verified ? 0 : CAIRN_E_INVAL;
    if (!rc)
        rc = set_phase(l->store, l->batch, PHASE_COPYING);
    if (!rc)
        rc = swap_in(l->store, l->batch);
    if (!rc)
        rc = clean_stage(l->store, l->batch);
    loader_free(l);
    return rc;
}

int md_snap_load_finish(struct md_snap_loader *l, uint64_t want_slot, uint64_t *applied_index)
{
    int rc = md_snap_load_verify(l, want_slot, applied_index);
    if (rc) {
        md_snap_load_abort(l);
        return rc;
    }
    return md_snap_load_commit(l);
}

void md_snap_load_abort(struct md_snap_loader *l)
{
    if (!l)
        return;
    /* Best effort: what stays is cleared by the next begin or recover. */
    delete_range(l->store, l->batch, STAGE, NULL);
    loader_free(l);
}

static void loader_free(struct md_snap_loader *l)
{
    if (!l)
        return;
    md_batch_free(l->batch);
    EVP_MD_CTX_free(l->hash);
    free(l->in.p);
    free(l->staged.p);
    free(l->last_key);
    free(l);
}
