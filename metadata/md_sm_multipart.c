/* Multipart uploads: create, put part, complete, abort. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_util.h"

#include <openssl/evp.h>
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
    struct md_key k;
    key_part_prefix(&k, c->bucket, c->key, c->upload_id);
    md_key_be32(&k, p->part_number);
    Md__PartRecord *old;
    rc = unpack_as(x, &k, part_record, &old);
    if (rc == CAIRN_E_NOTFOUND)
        old = NULL;
    else if (rc)
        return rc;
    rc = sm_index_groups(x, p->extents, p->n_extents, &k);
    if (!rc && old)
        rc = sm_retire_groups(x, old->extents, old->n_extents);
    if (!rc)
        rc = put_msg(x, &k, p);
    if (old)
        free_msg(old);
    return rc;
}

/* All part records of an upload, in part-number order. */
struct parts {
    Md__PartRecord **v;
    size_t n;
};

static void parts_free(struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free_msg(ps->v[i]);
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

static int load_parts(struct exec *x, const char *bucket, const char *key, const char *uid,
                      struct parts *ps)
{
    ps->v = NULL;
    ps->n = 0;
    size_t cap = 0;
    struct md_key pre;
    key_part_prefix(&pre, bucket, key, uid);
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    for (md_titer_seek(it, pre.b, pre.n); md_titer_has_prefix(it, pre.b, pre.n);
         md_titer_next(it)) {
        size_t vl;
        const void *v = md_titer_value(it, &vl);
        Md__PartRecord *p = md__part_record__unpack(NULL, vl, v);
        if (!p) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        if (ps->n == cap) {
            cap = cap ? 2 * cap : 16;
            Md__PartRecord **nv = realloc(ps->v, cap * sizeof(*nv));
            if (!nv) {
                free_msg(p);
                rc = CAIRN_E_NOMEM;
                break;
            }
            ps->v = nv;
        }
        ps->v[ps->n++] = p;
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    if (rc)
        parts_free(ps);
    return rc;
}

/* Deletes the upload and all its part records; retires the groups of every
 * part not marked in keep (keep may be NULL). */
static int drop_upload(struct exec *x, const char *bucket, const char *key, const char *uid,
                       const struct parts *ps, const unsigned char *keep)
{
    struct md_key k;
    for (size_t i = 0; i < ps->n; i++) {
        int rc = 0;
        if (!keep || !keep[i])
            rc = sm_retire_groups(x, ps->v[i]->extents, ps->v[i]->n_extents);
        key_part_prefix(&k, bucket, key, uid);
        md_key_be32(&k, ps->v[i]->part_number);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
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
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, &ps)))
        return rc;
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, NULL);
    parts_free(&ps);
    return rc;
}

/* S3 multipart ETag: hex MD5 of the concatenated binary part MD5s, "-N". */
static int multipart_etag(struct exec *x, Md__PartRecord *const *chosen, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return CAIRN_E_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char bin[16];
        for (int j = 0; j < 16; j++) {
            unsigned v;
            sscanf(chosen[i]->etag + 2 * j, "%2x", &v);
            bin[j] = (unsigned char)v;
        }
        ok = EVP_DigestUpdate(ctx, bin, 16);
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

int sm_cmd_complete_upload(struct exec *x, const Md__CompleteUpload *c)
{
    Md__UploadRecord *u;
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, &u);
    if (rc)
        return rc;
    struct parts ps = {0};
    Md__PartRecord **chosen = NULL;
    unsigned char *keep = NULL;
    Md__Extent **ext = NULL, *ext_store = NULL;
    uint64_t *sizes = NULL;
    Md__ObjectRecord *old = NULL;
    if (c->n_parts == 0 || c->n_parts > x->sm->opt.max_parts) {
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART, "no parts or too many");
        goto out;
    }
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, &ps)))
        goto out;
    chosen = calloc(c->n_parts, sizeof(*chosen));
    keep = calloc(ps.n ? ps.n : 1, 1);
    sizes = calloc(c->n_parts, sizeof(*sizes));
    if (!chosen || !keep || !sizes) {
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
        if (j == ps.n || ps.v[j]->part_number != cp->part_number ||
            strcmp(ps.v[j]->etag, cp->etag) != 0) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART,
                           "part missing or etag differs");
            goto out;
        }
        if (i + 1 < c->n_parts && ps.v[j]->size < x->sm->opt.min_part_size) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_ENTITY_TOO_SMALL, "part too small");
            goto out;
        }
        chosen[i] = ps.v[j];
        keep[j] = 1;
        sizes[i] = ps.v[j]->size;
        total += ps.v[j]->size;
        n_ext += ps.v[j]->n_extents;
    }
    struct md_key ok;
    key_object(&ok, c->bucket, c->key);
    if ((rc = sm_load_object(x, &ok, &old)))
        goto out;
    if ((rc = sm_check_cond(x, c->cond, c->if_match, old)))
        goto out;
    if ((rc = multipart_etag(x, chosen, c->n_parts)))
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
    /* Groups of the chosen parts move to the object; the rest become garbage. */
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, keep);
    if (!rc)
        rc = sm_relocate_groups(x, ext, n_ext, &ok);
    if (!rc)
        rc = sm_store_object(x, &ok, &rec, old, 0);
    if (!rc)
        rc = sm_charge(x, c->bucket, (int64_t)total - (old ? (int64_t)old->size : 0), old ? 0 : 1);
    if (!rc) {
        x->res->etag = x->etag_buf;
        x->res->size = total;
    }
out:
    free(ext);
    free(ext_store);
    free(sizes);
    free(keep);
    free(chosen);
    parts_free(&ps);
    if (old)
        free_msg(old);
    free_msg(u);
    return rc;
}
