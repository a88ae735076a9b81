/* Multipart uploads: create, put part, complete, abort. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_util.h"
#include "md_cmd_ver.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- multipart -- */

static int need_upload(struct exec *x, const char *bucket, const char *key, const char *uid,
                       Md__UploadRecord **out)
{
    int rc = sm_need_bucket(x, bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(key) || !md_valid_upload_id(uid))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "invalid key or upload id");
    struct md_key k;
    key_upload(&k, bucket, key, uid);
    Md__UploadRecord *u;
    rc = unpack_as(x, &k, upload_record, &u);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD, "no such upload");
    if (rc)
        return rc;
    if (out)
        *out = u;
    else
        free_msg(u);
    return 0;
}

int sm_cmd_create_upload(struct exec *x, const Md__CreateUpload *c)
{
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key) || !md_valid_upload_id(c->upload_id))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "invalid key or upload id");
    struct md_key k;
    key_upload(&k, c->bucket, c->key, c->upload_id);
    void *v;
    size_t vl;
    rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        return sm_refuse(x, CAIRN_E_EXISTS, MD__REASON__R_INVALID_ARGUMENT, "upload id in use");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__UploadRecord u = MD__UPLOAD_RECORD__INIT;
    u.bucket = c->bucket;
    u.key = c->key;
    u.upload_id = c->upload_id;
    u.initiated_ms = c->now_ms;
    u.attrs = c->attrs;
    u.owner = c->owner;
    u.acl = c->acl;
    u.owner_id = c->owner_id;
    if (c->lock_mode != MD__LOCK_MODE__LOCK_NONE || c->retain_until_ms || c->legal_hold) {
        /* Checked now as it will be at completion: no upload that cannot complete. */
        Md__BucketRecord *b;
        if ((rc = sm_load_bucket(x, c->bucket, &b)))
            return rc;
        Md__ObjectRecord probe = MD__OBJECT_RECORD__INIT;
        probe.lock_mode = c->lock_mode;
        probe.retain_until_ms = c->retain_until_ms;
        probe.legal_hold = c->legal_hold;
        rc = sm_lock_new_version(x, b, &probe, c->now_ms);
        free_msg(b);
        if (rc)
            return rc;
        u.lock_mode = c->lock_mode;
        u.retain_until_ms = c->retain_until_ms;
        u.legal_hold = c->legal_hold;
    }
    return put_msg(x, &k, &u);
}

static int is_md5_hex(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Copies of one part number kept at once: a client re-sending a part with
 * other bytes, or two uploads of it racing, leave several; completion picks
 * the one its ETag names. Past this many, the oldest goes. */
#define MAX_PART_COPIES 8

/* Part records of an upload in key order (part number, then ETag), with
 * each one's key after the upload's part prefix. */
struct parts {
    Md__PartRecord **v;
    unsigned char (*suffix)[MD_PART_SUFFIX_MAX];
    uint8_t *suffix_len;
    size_t n;
};

static void parts_free(struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free_msg(ps->v[i]);
    free(ps->v);
    free(ps->suffix);
    free(ps->suffix_len);
    memset(ps, 0, sizeof(*ps));
}

/* Loads every copy of every part of the upload (number 0), or every copy of
 * part number. */
static int load_parts(struct exec *x, const char *bucket, const char *key, const char *uid,
                      uint32_t number, struct parts *ps)
{
    memset(ps, 0, sizeof(*ps));
    size_t cap = 0;
    struct md_key pre, scan;
    key_part_prefix(&pre, bucket, key, uid);
    scan = pre;
    if (number)
        md_key_be32(&scan, number);
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    for (md_titer_seek(it, scan.b, scan.n); md_titer_has_prefix(it, scan.b, scan.n);
         md_titer_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_titer_key(it, &kl);
        const void *v = md_titer_value(it, &vl);
        size_t sl = kl - pre.n;
        if (sl != 4 && sl != MD_PART_SUFFIX_MAX) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        Md__PartRecord *p = md__part_record__unpack(NULL, vl, v);
        if (!p) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        if (ps->n == cap) {
            cap = cap ? 2 * cap : 16;
            Md__PartRecord **nv = realloc(ps->v, cap * sizeof(*nv));
            if (nv)
                ps->v = nv;
            unsigned char(*ns)[MD_PART_SUFFIX_MAX] = realloc(ps->suffix, cap * sizeof(*ns));
            if (ns)
                ps->suffix = ns;
            uint8_t *nl = realloc(ps->suffix_len, cap);
            if (nl)
                ps->suffix_len = nl;
            if (!nv || !ns || !nl) {
                free_msg(p);
                rc = CAIRN_E_NOMEM;
                break;
            }
        }
        memcpy(ps->suffix[ps->n], k + pre.n, sl);
        ps->suffix_len[ps->n] = (uint8_t)sl;
        ps->v[ps->n++] = p;
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    if (rc)
        parts_free(ps);
    return rc;
}

/* The store key of ps->v[i]. */
static void part_key_of(const struct parts *ps, size_t i, const char *bucket, const char *key,
                        const char *uid, struct md_key *k)
{
    key_part_prefix(k, bucket, key, uid);
    md_key_bytes(k, ps->suffix[i], ps->suffix_len[i]);
}

/* Deletes one part copy and retires its groups. */
static int drop_part(struct exec *x, const struct parts *ps, size_t i, const char *bucket,
                     const char *key, const char *uid)
{
    struct md_key k;
    int rc = sm_retire_groups(x, ps->v[i]->extents, ps->v[i]->n_extents);
    part_key_of(ps, i, bucket, key, uid, &k);
    return rc ? rc : md_txn_del(x->txn, k.b, k.n);
}

int sm_cmd_put_part(struct exec *x, const Md__PutPart *c)
{
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, NULL);
    if (rc)
        return rc;
    const Md__PartRecord *p = c->part;
    if (!p || p->part_number < 1 || p->part_number > x->sm->opt.max_parts)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad part number");
    if (!is_md5_hex(p->etag))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "part etag must be lower-case MD5 hex");
    if (!sm_valid_extents(x->sm, p->extents, p->n_extents, p->size))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad extents");
    unsigned char md5[16];
    if (cn_hex_decode(p->etag, md5, sizeof(md5)) != 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad part etag");
    struct md_key k;
    key_part(&k, c->bucket, c->key, c->upload_id, p->part_number, md5);
    /* The other copies of this number stay: CompleteMultipartUpload takes
     * the one whose ETag it names, whichever finished last. A copy with the
     * same ETag holds the same bytes and is replaced. */
    struct parts ps;
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, p->part_number, &ps)))
        return rc;
    size_t others = 0, oldest = SIZE_MAX, same = SIZE_MAX;
    for (size_t i = 0; i < ps.n; i++) {
        if (ps.suffix_len[i] == MD_PART_SUFFIX_MAX && memcmp(ps.suffix[i] + 4, md5, 16) == 0) {
            same = i;
            continue;
        }
        others++;
        if (oldest == SIZE_MAX || ps.v[i]->mtime_ms < ps.v[oldest]->mtime_ms)
            oldest = i;
    }
    rc = sm_index_groups(x, p->extents, p->n_extents, &k);
    if (!rc && same != SIZE_MAX)
        rc = sm_retire_groups(x, ps.v[same]->extents, ps.v[same]->n_extents);
    if (!rc && others >= MAX_PART_COPIES)
        rc = drop_part(x, &ps, oldest, c->bucket, c->key, c->upload_id);
    if (!rc)
        rc = put_msg(x, &k, p);
    parts_free(&ps);
    return rc;
}

/* Deletes the upload and all its part records; retires the groups of every
 * part not marked in keep (keep may be NULL). */
static int drop_upload(struct exec *x, const char *bucket, const char *key, const char *uid,
                       const struct parts *ps, const unsigned char *keep)
{
    struct md_key k;
    for (size_t i = 0; i < ps->n; i++) {
        int rc;
        if (!keep || !keep[i]) {
            rc = drop_part(x, ps, i, bucket, key, uid);
        } else {
            part_key_of(ps, i, bucket, key, uid, &k);
            rc = md_txn_del(x->txn, k.b, k.n);
        }
        if (rc)
            return rc;
    }
    key_upload(&k, bucket, key, uid);
    return md_txn_del(x->txn, k.b, k.n);
}

int sm_cmd_abort_upload(struct exec *x, const Md__AbortUpload *c)
{
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, NULL);
    if (rc)
        return rc;
    struct parts ps;
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, 0, &ps)))
        return rc;
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, NULL);
    parts_free(&ps);
    return rc;
}

/* S3 multipart ETag: hex MD5 of the concatenated binary part MD5s, "-N",
 * into x->etag_buf. etags[i] are lower-case MD5 hex. */
static int multipart_etag(struct exec *x, const char *const *etags, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return CAIRN_E_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char bin[16];
        ok = cn_hex_decode(etags[i], bin, sizeof(bin)) == 0 && EVP_DigestUpdate(ctx, bin, 16);
    }
    unsigned char md[16];
    unsigned mdlen = 0;
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return CAIRN_E_IO;
    for (int j = 0; j < 16; j++)
        snprintf(x->etag_buf + 2 * j, 3, "%02x", md[j]);
    snprintf(x->etag_buf + 32, sizeof(x->etag_buf) - 32, "-%zu", n);
    return 0;
}

/* A CompleteMultipartUpload repeated after it succeeded (an SDK retrying
 * after a lost reply): the upload is gone, and the object at its key was
 * completed by it from the same parts -- its ETag is the one the request's
 * part ETags make. Answers as the first completion did, whatever the
 * request's conditions (they held the first time), and returns 1. Returns
 * 0 when c is no such repeat (it then fails as before), or an error. */
static int complete_replay(struct exec *x, const Md__CompleteUpload *c)
{
    if (!md_valid_bucket(c->bucket) || !md_valid_objkey(c->key) ||
        !md_valid_upload_id(c->upload_id) || c->n_parts == 0 || c->n_parts > x->sm->opt.max_parts)
        return 0;
    struct md_key k;
    key_upload(&k, c->bucket, c->key, c->upload_id);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        return 0;
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__ObjectRecord *o;
    key_object(&k, c->bucket, c->key);
    if ((rc = sm_load_object(x, &k, &o)) || !o)
        return rc;
    int replay = 0;
    if (strcmp(o->upload_id, c->upload_id) == 0 && o->n_part_sizes == c->n_parts) {
        const char **etags = calloc(c->n_parts, sizeof(*etags));
        int ok = etags != NULL;
        if (!ok)
            rc = CAIRN_E_NOMEM;
        for (size_t i = 0; ok && i < c->n_parts; i++) {
            ok = is_md5_hex(c->parts[i]->etag) &&
                 (i == 0 || c->parts[i]->part_number > c->parts[i - 1]->part_number);
            etags[i] = c->parts[i]->etag;
        }
        if (ok && (rc = multipart_etag(x, etags, c->n_parts)) == 0 &&
            strcmp(x->etag_buf, o->etag) == 0) {
            x->res->etag = x->etag_buf;
            x->res->size = o->size;
            if (o->vseq) {
                md_version_id_of(o, x->vid_buf);
                x->res->version_id = x->vid_buf;
            }
            replay = 1;
        }
        free(etags);
    }
    free_msg(o);
    return rc ? rc : replay;
}

int sm_cmd_complete_upload(struct exec *x, const Md__CompleteUpload *c)
{
    int rc = complete_replay(x, c);
    if (rc)
        return rc < 0 ? rc : 0;
    Md__UploadRecord *u;
    rc = need_upload(x, c->bucket, c->key, c->upload_id, &u);
    if (rc)
        return rc;
    struct parts ps = {0};
    Md__PartRecord **chosen = NULL;
    const char **etags = NULL;
    unsigned char *keep = NULL;
    Md__Extent **ext = NULL, *ext_store = NULL;
    uint64_t *sizes = NULL;
    Md__ObjectRecord *old = NULL;
    Md__BucketRecord *b = NULL;
    if (c->n_parts == 0 || c->n_parts > x->sm->opt.max_parts) {
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART, "no parts or too many");
        goto out;
    }
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, 0, &ps)))
        goto out;
    chosen = calloc(c->n_parts, sizeof(*chosen));
    etags = calloc(c->n_parts, sizeof(*etags));
    keep = calloc(ps.n ? ps.n : 1, 1);
    sizes = calloc(c->n_parts, sizeof(*sizes));
    if (!chosen || !etags || !keep || !sizes) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    size_t n_ext = 0, j = 0;
    uint64_t total = 0;
    for (size_t i = 1; i < c->n_parts; i++) {
        if (c->parts[i]->part_number <= c->parts[i - 1]->part_number) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART_ORDER,
                           "parts not in ascending order");
            goto out;
        }
    }
    for (size_t i = 0; i < c->n_parts; i++) {
        const Md__CompletePart *cp = c->parts[i];
        while (j < ps.n && ps.v[j]->part_number < cp->part_number)
            j++;
        /* Of the copies of this number, the one with the named ETag. */
        size_t pick = SIZE_MAX;
        for (size_t q = j; q < ps.n && ps.v[q]->part_number == cp->part_number; q++) {
            if (strcmp(ps.v[q]->etag, cp->etag) == 0) {
                pick = q;
                break;
            }
        }
        if (pick == SIZE_MAX) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART,
                           "part missing or etag differs");
            goto out;
        }
        if (i + 1 < c->n_parts && ps.v[pick]->size < x->sm->opt.min_part_size) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_ENTITY_TOO_SMALL, "part too small");
            goto out;
        }
        chosen[i] = ps.v[pick];
        etags[i] = ps.v[pick]->etag;
        keep[pick] = 1;
        sizes[i] = ps.v[pick]->size;
        total += ps.v[pick]->size;
        n_ext += ps.v[pick]->n_extents;
    }
    struct md_key ok;
    key_object(&ok, c->bucket, c->key);
    if ((rc = sm_load_bucket(x, c->bucket, &b)))
        goto out;
    if ((rc = sm_load_object(x, &ok, &old)))
        goto out;
    if ((rc = sm_check_cond(x, c->cond, c->if_match, old)))
        goto out;
    if ((rc = multipart_etag(x, etags, c->n_parts)))
        goto out;
    ext = calloc(n_ext ? n_ext : 1, sizeof(*ext));
    ext_store = calloc(n_ext ? n_ext : 1, sizeof(*ext_store));
    if (!ext || !ext_store) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    size_t e = 0;
    uint64_t off = 0;
    for (size_t i = 0; i < c->n_parts; i++) {
        for (size_t q = 0; q < chosen[i]->n_extents; q++, e++) {
            Md__Extent init = MD__EXTENT__INIT;
            ext_store[e] = init;
            ext_store[e].offset = off + chosen[i]->extents[q]->offset;
            ext_store[e].group = chosen[i]->extents[q]->group;
            ext[e] = &ext_store[e];
        }
        off += chosen[i]->size;
    }
    Md__ObjectRecord rec = MD__OBJECT_RECORD__INIT;
    rec.size = total;
    rec.etag = x->etag_buf;
    rec.mtime_ms = c->now_ms;
    rec.attrs = u->attrs;
    rec.n_extents = n_ext;
    rec.extents = ext;
    rec.n_part_sizes = c->n_parts;
    rec.part_sizes = sizes;
    rec.owner = u->owner;
    rec.acl = u->acl;
    rec.owner_id = u->owner_id;
    rec.upload_id = c->upload_id;
    rec.lock_mode = u->lock_mode;
    rec.retain_until_ms = u->retain_until_ms;
    rec.legal_hold = u->legal_hold;
    /* Groups of the chosen copies move to the object; every other copy's
     * become garbage. */
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, keep);
    if (!rc)
        rc = sm_relocate_groups(x, ext, n_ext, &ok);
    if (!rc)
        rc = sm_write_current(x, b, c->key, &ok, &rec, old, 0, c->now_ms);
    if (!rc) {
        x->res->etag = x->etag_buf;
        x->res->size = total;
    }
out:
    free(ext);
    free(ext_store);
    free(sizes);
    free(keep);
    free(etags);
    free(chosen);
    parts_free(&ps);
    if (old)
        free_msg(old);
    if (b)
        free_msg(b);
    free_msg(u);
    return rc;
}
