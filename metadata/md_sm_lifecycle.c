/* Lifecycle (issue #13): a bucket's lifecycle configuration, replaced whole
 * by one command, and LifecycleExpire, the leader's worker asking to expire
 * an object or abort an upload. The state machine decides that request
 * again, with the bucket's current rules and the command's own time and day
 * (md_lifecycle.h), so every replica decides alike and a rule removed or an
 * object rewritten since the worker looked is left alone (refused with
 * R_PRECONDITION_FAILED). */
#include "md_sm_int.h"

#include "cn_error.h"
#include "md_cmd_ver.h"
#include "md_lifecycle.h"

#include <string.h>

#define LC_RULES_MAX 1000
#define LC_TAGS_MAX  50
#define LC_ID_BYTES  255
#define LC_DAYS_MAX  (1u << 24) /* ~45,000 years: keeps every sum in range */

/* 1 if the configuration is bounded (the gateway checked S3's rules). */
static int lifecycle_ok(const Md__LifecycleConfig *lc)
{
    if (lc->n_rules > LC_RULES_MAX)
        return 0;
    for (size_t i = 0; i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        if (strlen(r->id) > LC_ID_BYTES || strlen(r->prefix) > 1024 || r->n_tags > LC_TAGS_MAX ||
            r->expiration_days > LC_DAYS_MAX || r->noncurrent_days > LC_DAYS_MAX ||
            r->abort_upload_days > LC_DAYS_MAX || r->expiration_date_ms < 0)
            return 0;
    }
    return 1;
}

int sm_cmd_put_bucket_lifecycle(struct exec *x, const Md__PutBucketLifecycle *c)
{
    Md__LifecycleConfig *lc = c->lifecycle && c->lifecycle->n_rules ? c->lifecycle : NULL;
    if (lc && !lifecycle_ok(lc))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "invalid lifecycle configuration");
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    struct md_key k;
    key_bucket(&k, c->bucket);
    Md__BucketRecord *b;
    if ((rc = unpack_as(x, &k, bucket_record, &b)))
        return rc;
    Md__LifecycleConfig *keep = b->lifecycle;
    b->lifecycle = lc;
    rc = put_msg(x, &k, b);
    b->lifecycle = keep;
    free_msg(b);
    return rc;
}

static int not_due(struct exec *x)
{
    return sm_refuse(x, CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED,
                     "not due under the bucket's lifecycle rules");
}

/* A version of a versioned bucket's key (c->version_id): a noncurrent one
 * under NoncurrentVersionExpiration, or (c->expired_marker) the delete
 * marker that is the key's only version under ExpiredObjectDeleteMarker.
 * Walks the key's versions newest first, as the worker did, so the age
 * ("noncurrent since" = the successor's mtime) and rank are the store's
 * now; then deletes the version as a client's DELETE ?versionId would, the
 * object lock judged at the command's time. */
static int expire_version(struct exec *x, const Md__BucketRecord *b, const Md__LifecycleExpire *c)
{
    if (!md_valid_objkey(c->key))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    struct md_key k;
    Md__ObjectRecord *cur;
    int rc = sm_object_at(x, c->bucket, c->key, &k, &cur);
    if (rc)
        return rc;
    int64_t since = cur ? cur->mtime_ms : -1; /* -1: the newest version is current */
    if (cur)
        free_msg(cur);
    struct md_key pre;
    key_version_prefix(&pre, c->bucket, c->key);
    struct md_titer *it;
    if ((rc = md_titer_new(x->txn, &it)))
        return rc;
    int found = 0, due = 0, versions = 0, current_marker = 0;
    uint64_t nth = 0;
    for (md_titer_seek(it, pre.b, pre.n); md_titer_has_prefix(it, pre.b, pre.n) == 1;
         md_titer_next(it)) {
        size_t vl;
        const void *v = md_titer_value(it, &vl);
        Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
        if (!o) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        versions++;
        char vid[MD_VERSION_ID_CAP];
        md_version_id_of(o, vid);
        int mine = strcmp(vid, c->version_id) == 0;
        if (since < 0) {
            current_marker = o->delete_marker;
            if (mine && c->expired_marker) {
                found = 1;
                due = o->delete_marker;
            }
        } else if (mine && !c->expired_marker) {
            found = 1;
            due = md_lc_noncurrent_due(b->lifecycle, c->key, o, since, nth, c->now_ms, c->day_ms);
        }
        if (since >= 0)
            nth++;
        since = o->mtime_ms;
        md__object_record__free_unpacked(o, NULL);
        if (found && !c->expired_marker)
            break;
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    if (rc)
        return rc;
    if (c->expired_marker)
        due = found && due && current_marker && versions == 1 &&
              md_lc_marker_due(b->lifecycle, c->key);
    if (!found)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_VERSION,
                         "no such noncurrent version");
    if (!due)
        return not_due(x);
    Md__DeleteObject d = MD__DELETE_OBJECT__INIT;
    d.bucket = c->bucket;
    d.key = c->key;
    d.version_id = c->version_id;
    d.now_ms = c->now_ms;
    return sm_cmd_delete_object(x, &d);
}

int sm_cmd_lifecycle_expire(struct exec *x, const Md__LifecycleExpire *c)
{
    if (c->day_ms <= 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "day_ms must be > 0");
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    struct md_key k;
    key_bucket(&k, c->bucket);
    Md__BucketRecord *b;
    if ((rc = unpack_as(x, &k, bucket_record, &b)))
        return rc;
    if (c->upload_id[0]) {
        if (!md_valid_objkey(c->key) || !md_valid_upload_id(c->upload_id)) {
            free_msg(b);
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                             "invalid key or upload id");
        }
        key_upload(&k, c->bucket, c->key, c->upload_id);
        Md__UploadRecord *u;
        rc = unpack_as(x, &k, upload_record, &u);
        if (rc == CAIRN_E_NOTFOUND)
            rc = sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD, "no such upload");
        if (rc == 0) {
            int due = md_lc_upload_due(b->lifecycle, u, c->now_ms, c->day_ms);
            free_msg(u);
            if (!due) {
                rc = not_due(x);
            } else {
                Md__AbortUpload a = MD__ABORT_UPLOAD__INIT;
                a.bucket = c->bucket;
                a.key = c->key;
                a.upload_id = c->upload_id;
                rc = sm_cmd_abort_upload(x, &a);
            }
        }
        free_msg(b);
        return rc;
    }
    if (c->version_id[0]) {
        rc = expire_version(x, b, c);
        free_msg(b);
        return rc;
    }
    Md__ObjectRecord *o;
    rc = sm_object_at(x, c->bucket, c->key, &k, &o);
    if (rc) {
        free_msg(b);
        return rc;
    }
    if (!o) {
        free_msg(b);
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    }
    int due = md_lc_object_due(b->lifecycle, c->key, o, c->now_ms, c->day_ms);
    free_msg(o);
    free_msg(b);
    if (!due)
        return not_due(x);
    /* As a client's DeleteObject: in a versioned bucket a delete marker (no
     * version is destroyed), and the object lock judged at the worker's time. */
    Md__DeleteObject d = MD__DELETE_OBJECT__INIT;
    d.bucket = c->bucket;
    d.key = c->key;
    d.now_ms = c->now_ms;
    return sm_cmd_delete_object(x, &d);
}
