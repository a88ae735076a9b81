/* Object versions (docs/metadata.md "Versions"). The current object of a
 * key stays where it always was ("So" bucket 0 key), so GET of the latest
 * and ListObjects read what they read before; every other version and every
 * delete marker is under "SV" bucket 0 key 0 be64(~vseq), newest first; "SN"
 * bucket 0 key says where the null version is when it is one of those.
 *
 * Invariants (md_check verifies them): the current object, when present,
 * is the newest version of its key; when it is absent the newest noncurrent
 * version is a delete marker (or there is none); a key has at most one null
 * version; every version's groups are live and located at its own key.
 *
 * This file: the layout helpers, writes (sm_write_current) and deletes
 * (sm_delete_versioned) in versioned buckets, PutBucketVersioning. Object
 * lock rules are md_sm_lock.c's. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "md_cmd_ver.h"

#include <stdlib.h>
#include <string.h>

int sm_is_null(const Md__ObjectRecord *rec)
{
    return rec->vseq == 0 || rec->null_version;
}

int sm_load_bucket(struct exec *x, const char *bucket, Md__BucketRecord **out)
{
    *out = NULL;
    if (!md_valid_bucket(bucket))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid bucket name");
    struct md_key k;
    key_bucket(&k, bucket);
    int rc = unpack_as(x, &k, bucket_record, out);
    if (rc == CAIRN_E_NOTFOUND) {
        *out = NULL;
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, "no such bucket");
    }
    return rc;
}

void sm_version_free(struct sm_version *v)
{
    if (v->rec)
        free_msg(v->rec);
    v->rec = NULL;
}

static void result_version(struct exec *x, const Md__ObjectRecord *rec)
{
    md_version_id_of(rec, x->vid_buf);
    x->res->version_id = x->vid_buf;
}

/* 1 if a key starts with prefix, 0 if none, or an error. */
static int any_under(struct exec *x, const struct md_key *prefix)
{
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    md_titer_seek(it, prefix->b, prefix->n);
    rc = md_titer_has_prefix(it, prefix->b, prefix->n);
    if (md_titer_status(it))
        rc = md_titer_status(it);
    md_titer_free(it);
    return rc;
}

int sm_bucket_has_versions(struct exec *x, const char *bucket)
{
    struct md_key k;
    md_key_start(&k, MD_K_VERSION);
    md_key_str(&k, bucket);
    md_key_byte(&k, 0);
    return any_under(x, &k);
}

/* The newest noncurrent version of bucket/key into v (v->rec NULL: none). */
static int newest_noncurrent(struct exec *x, const char *bucket, const char *key,
                             struct sm_version *v)
{
    memset(v, 0, sizeof(*v));
    struct md_key pre;
    key_version_prefix(&pre, bucket, key);
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    md_titer_seek(it, pre.b, pre.n);
    if (md_titer_has_prefix(it, pre.b, pre.n)) {
        size_t kl, vl;
        const unsigned char *k = md_titer_key(it, &kl);
        const void *val = md_titer_value(it, &vl);
        if (kl != pre.n + 8 || kl > sizeof(v->k.b)) {
            rc = CAIRN_E_CORRUPT;
        } else {
            memcpy(v->k.b, k, kl);
            v->k.n = kl;
            v->rec = md__object_record__unpack(NULL, vl, val);
            if (!v->rec)
                rc = CAIRN_E_CORRUPT;
        }
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    return rc;
}

/* Stores rec among bucket/key's noncurrent versions (and the null version's
 * reference); relocate: point its groups' locators there. */
static int put_noncurrent(struct exec *x, const char *bucket, const char *key,
                          const Md__ObjectRecord *rec, int relocate)
{
    struct md_key k;
    key_version(&k, bucket, key, rec->vseq);
    int rc = relocate ? sm_relocate_groups(x, rec->extents, rec->n_extents, &k) : 0;
    if (!rc)
        rc = put_msg(x, &k, rec);
    if (!rc && sm_is_null(rec)) {
        Md__NullVersionRef ref = MD__NULL_VERSION_REF__INIT;
        ref.vseq = rec->vseq;
        key_nullver(&k, bucket, key);
        rc = put_msg(x, &k, &ref);
    }
    return rc;
}

/* Removes the store keys of version v (not its groups). */
static int unlink_version(struct exec *x, const char *bucket, const char *key,
                          const struct sm_version *v)
{
    int rc = md_txn_del(x->txn, v->k.b, v->k.n);
    if (!rc && !v->current && sm_is_null(v->rec)) {
        struct md_key nk;
        key_nullver(&nk, bucket, key);
        rc = md_txn_del(x->txn, nk.b, nk.n);
    }
    return rc;
}

/* Deletes version v for good: its groups go to garbage, its bytes leave the
 * usage. Refused (R_OBJECT_LOCKED) while its object lock holds at now_ms. */
static int destroy_version(struct exec *x, const char *bucket, const char *key,
                           const struct sm_version *v, int64_t now_ms, int bypass)
{
    if (sm_lock_holds(v->rec, now_ms, bypass))
        return sm_refuse(x, CAIRN_E_AUTH, MD__REASON__R_OBJECT_LOCKED,
                         "Access Denied because object protected by object lock.");
    int rc = sm_retire_groups(x, v->rec->extents, v->rec->n_extents);
    if (!rc)
        rc = unlink_version(x, bucket, key, v);
    if (!rc && !v->rec->delete_marker)
        rc = sm_charge(x, bucket, -(int64_t)v->rec->size, -1);
    return rc;
}

/* The null version of bucket/key among the noncurrent ones ("SN"), into v. */
static int noncurrent_null(struct exec *x, const char *bucket, const char *key,
                           struct sm_version *v)
{
    memset(v, 0, sizeof(*v));
    struct md_key k;
    key_nullver(&k, bucket, key);
    Md__NullVersionRef *ref;
    int rc = unpack_as(x, &k, null_version_ref, &ref);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    key_version(&v->k, bucket, key, ref->vseq);
    free_msg(ref);
    rc = unpack_as(x, &v->k, object_record, &v->rec);
    if (rc == CAIRN_E_NOTFOUND || (rc == 0 && !sm_is_null(v->rec)))
        rc = CAIRN_E_CORRUPT; /* the reference names no null version */
    if (rc)
        sm_version_free(v);
    return rc;
}

int sm_find_version(struct exec *x, const char *bucket, const char *key, const char *vid,
                    struct sm_version *v)
{
    memset(v, 0, sizeof(*v));
    uint64_t vseq = 0;
    int want_null = 0;
    if (vid[0] && md_version_id_parse(vid, &vseq, &want_null) != 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_BAD_VERSION_ID,
                         "Invalid version id specified");
    key_object(&v->k, bucket, key);
    v->current = 1;
    int rc = sm_load_object(x, &v->k, &v->rec);
    if (rc || !vid[0])
        return rc;
    if (v->rec && (want_null ? sm_is_null(v->rec) : !sm_is_null(v->rec) && v->rec->vseq == vseq))
        return 0;
    sm_version_free(v);
    if (want_null)
        return noncurrent_null(x, bucket, key, v);
    v->current = 0;
    key_version(&v->k, bucket, key, vseq);
    rc = sm_load_object(x, &v->k, &v->rec);
    if (rc == 0 && v->rec && sm_is_null(v->rec))
        sm_version_free(v); /* a null version is named "null", not by its sequence */
    return rc;
}

int sm_rewrite_version(struct exec *x, const struct sm_version *v)
{
    return put_msg(x, &v->k, v->rec);
}

/* With no current object, the newest noncurrent version becomes current
 * unless it is a delete marker. */
static int promote_newest(struct exec *x, const char *bucket, const char *key)
{
    struct md_key ok;
    key_object(&ok, bucket, key);
    void *val;
    size_t vl;
    int rc = md_txn_get(x->txn, ok.b, ok.n, &val, &vl);
    if (rc == 0) {
        free(val);
        return 0;
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    struct sm_version v;
    if ((rc = newest_noncurrent(x, bucket, key, &v)) || !v.rec)
        return rc;
    if (!v.rec->delete_marker) {
        rc = unlink_version(x, bucket, key, &v);
        if (!rc)
            rc = sm_relocate_groups(x, v.rec->extents, v.rec->n_extents, &ok);
        if (!rc)
            rc = put_msg(x, &ok, v.rec);
    }
    sm_version_free(&v);
    return rc;
}

/* Under a suspended bucket a new null version replaces the old one: the
 * current object old (at ok) if it is the null version -- *old_gone is then
 * set --, else the noncurrent one if any. */
static int drop_null_version(struct exec *x, const char *bucket, const char *key,
                             const struct md_key *ok, const Md__ObjectRecord *old, int64_t now_ms,
                             int bypass, int *old_gone)
{
    struct sm_version v = {0};
    int rc;
    *old_gone = 0;
    if (old && sm_is_null(old)) {
        v.rec = (Md__ObjectRecord *)old; /* borrowed: not freed here */
        v.k = *ok;
        v.current = 1;
        rc = destroy_version(x, bucket, key, &v, now_ms, bypass);
        *old_gone = rc == 0;
        return rc;
    }
    if ((rc = noncurrent_null(x, bucket, key, &v)) || !v.rec)
        return rc;
    rc = destroy_version(x, bucket, key, &v, now_ms, bypass);
    sm_version_free(&v);
    return rc;
}

int sm_write_current(struct exec *x, const Md__BucketRecord *b, const char *key,
                     const struct md_key *k, Md__ObjectRecord *rec, Md__ObjectRecord *old,
                     int index_new, int64_t now_ms)
{
    int rc = sm_lock_new_version(x, b, rec, now_ms);
    if (rc)
        return rc;
    if (b->versioning == MD__VERSIONING_STATUS__VERSIONING_OFF) {
        /* Never versioned: the old object is replaced in place. */
        if (old && sm_lock_holds(old, now_ms, 0))
            return sm_refuse(x, CAIRN_E_AUTH, MD__REASON__R_OBJECT_LOCKED,
                             "Access Denied because object protected by object lock.");
        rc = sm_store_object(x, k, rec, old, index_new);
        if (!rc)
            rc = sm_charge(x, b->name, (int64_t)rec->size - (old ? (int64_t)old->size : 0),
                           old ? 0 : 1);
        return rc;
    }
    int suspended = b->versioning == MD__VERSIONING_STATUS__VERSIONING_SUSPENDED;
    rec->vseq = ++x->last_version_seq;
    rec->null_version = suspended;
    int old_gone = 0;
    if (suspended)
        rc = drop_null_version(x, b->name, key, k, old, now_ms, 0, &old_gone);
    if (!rc && old && !old_gone)
        rc = put_noncurrent(x, b->name, key, old, 1);
    if (!rc && index_new)
        rc = sm_index_groups(x, rec->extents, rec->n_extents, k);
    if (!rc)
        rc = put_msg(x, k, rec);
    if (!rc)
        rc = sm_charge(x, b->name, (int64_t)rec->size, 1);
    if (!rc)
        result_version(x, rec);
    return rc;
}

/* DeleteObject of the key in a versioned bucket: a delete marker becomes the
 * current version (under suspension the null one, replacing the old null
 * version). */
static int delete_marker(struct exec *x, const Md__BucketRecord *b, const Md__DeleteObject *c)
{
    struct md_key ok;
    key_object(&ok, b->name, c->key);
    Md__ObjectRecord *old = NULL;
    int rc = sm_load_object(x, &ok, &old);
    if (rc)
        return rc;
    rc = sm_check_cond(x, c->cond, c->if_match, old);
    int suspended = b->versioning == MD__VERSIONING_STATUS__VERSIONING_SUSPENDED;
    int old_gone = 0;
    if (!rc && suspended)
        rc = drop_null_version(x, b->name, c->key, &ok, old, c->now_ms, c->bypass_governance,
                               &old_gone);
    if (!rc && old_gone)
        x->res->existed = 1;
    if (!rc && old && !old_gone) {
        x->res->existed = 1;
        rc = put_noncurrent(x, b->name, c->key, old, 1);
        if (!rc)
            rc = md_txn_del(x->txn, ok.b, ok.n);
    }
    if (!rc) {
        Md__ObjectRecord m = MD__OBJECT_RECORD__INIT;
        m.delete_marker = 1;
        m.vseq = ++x->last_version_seq;
        m.null_version = suspended;
        m.mtime_ms = c->now_ms;
        m.etag = "";
        m.owner = c->owner;
        m.owner_id = c->owner_id;
        rc = put_noncurrent(x, b->name, c->key, &m, 0);
        if (!rc) {
            x->res->delete_marker = 1;
            result_version(x, &m);
        }
    }
    if (old)
        free_msg(old);
    return rc;
}

int sm_delete_versioned(struct exec *x, const Md__BucketRecord *b, const Md__DeleteObject *c)
{
    if (c->cond == MD__COND__COND_IF_NONE_MATCH_ANY)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "If-None-Match on delete");
    if (!c->version_id[0])
        return delete_marker(x, b, c);
    struct sm_version v;
    int rc = sm_find_version(x, b->name, c->key, c->version_id, &v);
    if (rc)
        return rc;
    /* The id echoes back whether or not there was such a version (S3
     * answers 204 either way). */
    x->res->version_id = c->version_id;
    if (v.rec) {
        rc = sm_check_cond(x, c->cond, c->if_match, v.rec);
        if (!rc)
            rc = destroy_version(x, b->name, c->key, &v, c->now_ms, c->bypass_governance);
        if (!rc) {
            x->res->existed = 1;
            x->res->delete_marker = v.rec->delete_marker;
            rc = promote_newest(x, b->name, c->key);
        }
    }
    sm_version_free(&v);
    return rc;
}

int sm_cmd_put_bucket_versioning(struct exec *x, const Md__PutBucketVersioning *c)
{
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, c->bucket, &b);
    if (rc)
        return rc;
    if (c->status != MD__VERSIONING_STATUS__VERSIONING_ENABLED &&
        c->status != MD__VERSIONING_STATUS__VERSIONING_SUSPENDED)
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad versioning status");
    else if (c->status == MD__VERSIONING_STATUS__VERSIONING_SUSPENDED && b->lock &&
             b->lock->enabled)
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_BUCKET_STATE,
                       "An Object Lock configuration is present on this bucket, so the "
                       "versioning state cannot be changed.");
    if (!rc) {
        struct md_key k;
        key_bucket(&k, c->bucket);
        b->versioning = c->status;
        rc = put_msg(x, &k, b);
    }
    free_msg(b);
    return rc;
}
