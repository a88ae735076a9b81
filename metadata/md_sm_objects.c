/* Buckets and objects: create/delete bucket, put/delete object(s),
 * attribute updates, conditional writes. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ buckets -- */

/* 0 if the bucket exists, REFUSED (NoSuchBucket) if not, or an error. */
int sm_need_bucket(struct exec *x, const char *bucket)
{
    if (!md_valid_bucket(bucket))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid bucket name");
    struct md_key k;
    key_bucket(&k, bucket);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, "no such bucket");
    free(v);
    return rc;
}

int sm_cmd_create_bucket(struct exec *x, const Md__CreateBucket *c)
{
    if (!md_valid_bucket(c->bucket))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid bucket name");
    struct md_key k;
    key_bucket(&k, c->bucket);
    Md__BucketRecord *old;
    int rc = unpack_as(x, &k, bucket_record, &old);
    if (rc == 0) {
        free_msg(old);
        return sm_refuse(x, CAIRN_E_EXISTS, MD__REASON__R_BUCKET_EXISTS, "bucket exists");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    if (c->owner[0] && !md_valid_user(c->owner))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad owner name");
    Md__BucketRecord b = MD__BUCKET_RECORD__INIT;
    b.name = c->bucket;
    b.ctime_ms = c->now_ms;
    b.owner = c->owner;
    b.storage_class = c->storage_class;
    b.public_read = c->public_read;
    b.owner_id = c->owner_id;
    b.acl = c->acl;
    Md__LockConfig lock = MD__LOCK_CONFIG__INIT;
    if (c->object_lock) {
        /* x-amz-bucket-object-lock-enabled: versioned from the start, for good. */
        lock.enabled = 1;
        b.lock = &lock;
        b.versioning = MD__VERSIONING_STATUS__VERSIONING_ENABLED;
    }
    rc = put_msg(x, &k, &b);
    if (rc == 0 && c->owner[0]) {
        key_owned(&k, c->owner, c->bucket);
        rc = md_txn_put(x->txn, k.b, k.n, "", 0);
    }
    return rc;
}

/* 1 if any key starts with prefix, 0 if none, or an error. */
static int any_with_prefix(struct exec *x, const struct md_key *prefix)
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

int sm_cmd_delete_bucket(struct exec *x, const Md__DeleteBucket *c)
{
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    struct md_key k;
    key_object(&k, c->bucket, "");
    if ((rc = any_with_prefix(x, &k)))
        return rc < 0 ? rc
                      : sm_refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY,
                                  "bucket not empty");
    if ((rc = sm_bucket_has_versions(x, c->bucket)))
        return rc < 0 ? rc
                      : sm_refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY,
                                  "bucket holds object versions");
    key_upload(&k, c->bucket, "", "");
    k.n--; /* "Su" bucket 0 */
    if ((rc = any_with_prefix(x, &k)))
        return rc < 0 ? rc
                      : sm_refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY,
                                  "bucket has multipart uploads in progress");
    key_bucket(&k, c->bucket);
    Md__BucketRecord *b;
    if ((rc = unpack_as(x, &k, bucket_record, &b)))
        return rc;
    if (b->owner[0]) {
        struct md_key ok;
        key_owned(&ok, b->owner, c->bucket);
        rc = md_txn_del(x->txn, ok.b, ok.n);
    }
    free_msg(b);
    return rc ? rc : md_txn_del(x->txn, k.b, k.n);
}

/* ------------------------------------------------------------ objects -- */

/* Checks an S3 condition against the current record (NULL = absent). */
int sm_check_cond(struct exec *x, Md__Cond cond, const char *if_match, const Md__ObjectRecord *cur)
{
    if (cond == MD__COND__COND_IF_NONE_MATCH_ANY && cur)
        return sm_refuse(x, CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED, "object exists");
    if (cond == MD__COND__COND_IF_MATCH) {
        if (!cur)
            return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
        if (strcmp(if_match, "*") != 0 && strcmp(if_match, cur->etag) != 0)
            return sm_refuse(x, CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED,
                             "etag does not match");
    }
    return 0;
}

int sm_object_at(struct exec *x, const char *bucket, const char *key, struct md_key *k,
                 Md__ObjectRecord **out)
{
    *out = NULL;
    int rc = sm_need_bucket(x, bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(key))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    key_object(k, bucket, key);
    return sm_load_object(x, k, out);
}

/* Loads the object record at k (NULL when absent). */
int sm_load_object(struct exec *x, const struct md_key *k, Md__ObjectRecord **out)
{
    int rc = unpack_as(x, k, object_record, out);
    if (rc == CAIRN_E_NOTFOUND) {
        *out = NULL;
        return 0;
    }
    return rc;
}

/* DeleteObject in a bucket never versioned: the object goes, its groups to
 * garbage (unless its object lock holds). */
static int delete_unversioned(struct exec *x, const Md__DeleteObject *c)
{
    struct md_key k;
    Md__ObjectRecord *old;
    int rc = sm_object_at(x, c->bucket, c->key, &k, &old);
    if (rc)
        return rc;
    if (c->cond == MD__COND__COND_IF_NONE_MATCH_ANY)
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "If-None-Match on delete");
    else
        rc = sm_check_cond(x, c->cond, c->if_match, old);
    if (!rc && old && sm_lock_holds(old, c->now_ms, c->bypass_governance))
        rc = sm_refuse(x, CAIRN_E_AUTH, MD__REASON__R_OBJECT_LOCKED,
                       "Access Denied because object protected by object lock.");
    if (!rc && old) {
        x->res->existed = 1;
        rc = sm_retire_groups(x, old->extents, old->n_extents);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
        if (!rc)
            rc = sm_charge(x, c->bucket, -(int64_t)old->size, -1);
    }
    if (old)
        free_msg(old);
    return rc;
}

/* Replaces (or creates) the object at k with rec, retiring the old groups.
 * The new groups must not be indexed yet. */
int sm_store_object(struct exec *x, const struct md_key *k, const Md__ObjectRecord *rec,
                    Md__ObjectRecord *old, int index_new)
{
    int rc = 0;
    if (index_new)
        rc = sm_index_groups(x, rec->extents, rec->n_extents, k);
    if (!rc && old)
        rc = sm_retire_groups(x, old->extents, old->n_extents);
    if (!rc)
        rc = put_msg(x, k, rec);
    return rc;
}

static int put_object(struct exec *x, const Md__PutObject *c, int extents_checked)
{
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, c->bucket, &b);
    if (rc)
        return rc;
    const Md__ObjectRecord *rec = c->record;
    if (!md_valid_objkey(c->key))
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    else if (!rec)
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "no record");
    else if (rec->has_inline && !extents_checked) {
        if (rec->n_extents || rec->inline_data.len != rec->size ||
            rec->inline_data.len > x->sm->opt.inline_max)
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad inline object");
    } else if (!extents_checked &&
               !sm_valid_extents(x->sm, rec->extents, rec->n_extents, rec->size)) {
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad extents");
    }
    /* A version's identity and its being a marker are the state machine's
     * to give. */
    if (!rc && (rec->vseq || rec->null_version || rec->delete_marker))
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "version fields set");
    struct md_key k;
    Md__ObjectRecord *old = NULL;
    if (!rc) {
        key_object(&k, c->bucket, c->key);
        rc = sm_load_object(x, &k, &old);
    }
    if (!rc)
        rc = sm_check_cond(x, c->cond, c->if_match, old);
    if (!rc) {
        Md__ObjectRecord nr = *rec; /* shallow: gets its version and lock fields */
        rc = sm_write_current(x, b, c->key, &k, &nr, old, 1, rec->mtime_ms);
    }
    if (!rc)
        x->res->etag = rec->etag;
    if (old)
        free_msg(old);
    free_msg(b);
    return rc;
}

int sm_cmd_put_object(struct exec *x, const Md__PutObject *c)
{
    return put_object(x, c, 0);
}

int sm_put_object_checked(struct exec *x, const Md__PutObject *c)
{
    return put_object(x, c, 1);
}

int sm_cmd_delete_object(struct exec *x, const Md__DeleteObject *c)
{
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, c->bucket, &b);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key))
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    else if (b->versioning != MD__VERSIONING_STATUS__VERSIONING_OFF || c->version_id[0])
        rc = sm_delete_versioned(x, b, c);
    else
        rc = delete_unversioned(x, c);
    free_msg(b);
    return rc;
}

/* Deletes each object on its own: a refusal for one key (condition) is
 * recorded in its KeyResult and does not undo the others. */
int sm_cmd_delete_objects(struct exec *x, const Md__DeleteObjects *c)
{
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (c->n_objects > 1000)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "more than 1000 keys");
    Md__KeyResult *kr = calloc(c->n_objects ? c->n_objects : 1, sizeof(*kr));
    Md__KeyResult **krp = calloc(c->n_objects ? c->n_objects : 1, sizeof(*krp));
    char(*vids)[24] = calloc(c->n_objects ? c->n_objects : 1, sizeof(*vids));
    if (!kr || !krp || !vids) {
        free(kr);
        free(krp);
        free(vids);
        return CAIRN_E_NOMEM;
    }
    x->owned_key_results = kr;
    x->owned_key_result_ptrs = krp;
    x->owned_vids = vids;
    Md__Result *outer = x->res;
    for (size_t i = 0; i < c->n_objects; i++) {
        md__key_result__init(&kr[i]);
        krp[i] = &kr[i];
        Md__Result one = MD__RESULT__INIT;
        x->res = &one;
        Md__DeleteObject d = *c->objects[i];
        d.bucket = c->bucket;
        kr[i].key = d.key;
        struct md_txn_savepoint sp;
        md_txn_save(x->txn, &sp);
        uint64_t gseq = x->next_garbage_seq, vseq = x->last_version_seq;
        rc = sm_cmd_delete_object(x, &d);
        if (rc == REFUSED) {
            md_txn_rollback(x->txn, &sp);
            x->next_garbage_seq = gseq;
            x->last_version_seq = vseq;
            rc = 0;
        } else {
            md_txn_release(&sp);
        }
        kr[i].status = one.status;
        kr[i].reason = one.reason;
        kr[i].existed = one.existed;
        kr[i].delete_marker = one.delete_marker;
        if (one.version_id && one.version_id[0]) {
            snprintf(vids[i], sizeof(vids[i]), "%s", one.version_id);
            kr[i].version_id = vids[i];
        }
        if (rc)
            break;
    }
    x->res = outer;
    outer->n_keys = c->n_objects;
    outer->keys = krp;
    return rc;
}

int sm_cmd_update_attrs(struct exec *x, const Md__UpdateAttrs *c)
{
    if (c->cond == MD__COND__COND_IF_NONE_MATCH_ANY)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "If-None-Match on an update");
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, c->bucket, &b);
    if (rc)
        return rc;
    int versioned = b->versioning != MD__VERSIONING_STATUS__VERSIONING_OFF;
    free_msg(b);
    /* A version never changes: in a versioned bucket the copy makes a new one. */
    if (versioned)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "attributes of a version do not change");
    struct md_key k;
    Md__ObjectRecord *o;
    rc = sm_object_at(x, c->bucket, c->key, &k, &o);
    if (rc)
        return rc;
    if (!o)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    rc = sm_check_cond(x, c->cond, c->if_match, o);
    if (!rc) {
        Md__ObjectAttrs *keep = o->attrs;
        o->attrs = c->attrs;
        o->mtime_ms = c->mtime_ms;
        rc = put_msg(x, &k, o);
        o->attrs = keep; /* o's own attrs are freed with o */
    }
    free_msg(o);
    return rc;
}
