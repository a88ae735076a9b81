/* Tenants: users, access keys, quotas and usage, bucket and object ACLs and
 * bucket policies. The state machine stores ACLs and policies as the gateway
 * encoded them (it validates them before proposing); it decides ownership,
 * user existence and quotas itself, so they are linearizable. */
#include "md_sm_int.h"

#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

#define POLICY_MAX (20u << 10) /* S3's bucket policy limit */
#define ACL_MAX    (64u << 10)

static int valid_canonical_id(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Loads user name (NULL in *out when absent). */
static int load_user(struct exec *x, const char *name, Md__UserRecord **out)
{
    struct md_key k;
    key_user(&k, name);
    int rc = unpack_as(x, &k, user_record, out);
    if (rc == CAIRN_E_NOTFOUND) {
        *out = NULL;
        return 0;
    }
    return rc;
}

static int put_user(struct exec *x, const Md__UserRecord *u)
{
    struct md_key k;
    key_user(&k, u->name);
    return put_msg(x, &k, u);
}

/* ----------------------------------------------------------------- users -- */

static int create_user(struct exec *x, const Md__UserRecord *u)
{
    if (!u || !md_valid_user(u->name) || !valid_canonical_id(u->canonical_id))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "a user needs a name of 1-64 of [A-Za-z0-9_+=,.@-] and a 64-hex id");
    Md__UserRecord *old;
    int rc = load_user(x, u->name, &old);
    if (rc)
        return rc;
    if (old) {
        free_msg(old);
        return sm_refuse(x, CAIRN_E_EXISTS, MD__REASON__R_USER_EXISTS, "user exists");
    }
    Md__UserRecord n = *u;
    Md__Usage zero = MD__USAGE__INIT;
    n.usage = &zero; /* usage is the state machine's to count */
    return put_user(x, &n);
}

int sm_cmd_create_user(struct exec *x, const Md__CreateUser *c)
{
    return create_user(x, c->user);
}

/* Deletes every access key of user (a scan over the keys: there are few). */
static int delete_keys_of(struct exec *x, const char *user)
{
    struct md_key k;
    md_key_start(&k, MD_K_ACCESS);
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    /* Collect first: deleting while iterating the overlay is not allowed. */
    struct md_key *doomed = NULL;
    size_t n = 0, cap = 0;
    for (md_titer_seek(it, k.b, k.n); rc == 0 && md_titer_has_prefix(it, k.b, k.n);
         md_titer_next(it)) {
        size_t kl, vl;
        const void *key = md_titer_key(it, &kl);
        const void *val = md_titer_value(it, &vl);
        Md__AccessKeyRecord *a = md__access_key_record__unpack(NULL, vl, val);
        if (!a) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        if (strcmp(a->owner, user) == 0 && kl <= sizeof(k.b)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                struct md_key *d = realloc(doomed, cap * sizeof(*d));
                if (!d) {
                    rc = CAIRN_E_NOMEM;
                    md__access_key_record__free_unpacked(a, NULL);
                    break;
                }
                doomed = d;
            }
            memcpy(doomed[n].b, key, kl);
            doomed[n++].n = kl;
        }
        md__access_key_record__free_unpacked(a, NULL);
    }
    if (rc == 0)
        rc = md_titer_status(it);
    md_titer_free(it);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = md_txn_del(x->txn, doomed[i].b, doomed[i].n);
    free(doomed);
    return rc;
}

int sm_cmd_delete_user(struct exec *x, const Md__DeleteUser *c)
{
    if (!md_valid_user(c->name))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad user name");
    Md__UserRecord *u;
    int rc = load_user(x, c->name, &u);
    if (rc)
        return rc;
    if (!u)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_USER, "no such user");
    free_msg(u);
    struct md_key k;
    key_owned(&k, c->name, "");
    struct md_titer *it;
    if ((rc = md_titer_new(x->txn, &it)))
        return rc;
    md_titer_seek(it, k.b, k.n);
    int owns = md_titer_has_prefix(it, k.b, k.n);
    rc = md_titer_status(it);
    md_titer_free(it);
    if (rc)
        return rc;
    if (owns)
        return sm_refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_USER_HAS_BUCKETS,
                         "the user owns buckets: delete them first");
    if ((rc = delete_keys_of(x, c->name)))
        return rc;
    key_user(&k, c->name);
    return md_txn_del(x->txn, k.b, k.n);
}

/* ------------------------------------------------------------ access keys -- */

int sm_cmd_create_key(struct exec *x, const Md__CreateAccessKey *c)
{
    const Md__AccessKeyRecord *a = c->key;
    if (!a || !md_valid_key_id(a->key_id) || !a->secret[0])
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad access key");
    if (!md_valid_user(a->owner))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad owner name");
    struct md_key k;
    key_access(&k, a->key_id);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        return sm_refuse(x, CAIRN_E_EXISTS, MD__REASON__R_KEY_EXISTS, "access key exists");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__UserRecord *u;
    if ((rc = load_user(x, a->owner, &u)))
        return rc;
    if (u) {
        free_msg(u);
    } else if (c->user && strcmp(c->user->name, a->owner) == 0) {
        if ((rc = create_user(x, c->user)))
            return rc;
    } else {
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_USER, "no such user");
    }
    return put_msg(x, &k, a);
}

/* Loads the access key named id, refusing NoSuchAccessKey when absent. */
static int need_key(struct exec *x, const char *id, struct md_key *k, Md__AccessKeyRecord **out)
{
    if (!md_valid_key_id(id))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad access key id");
    key_access(k, id);
    int rc = unpack_as(x, k, access_key_record, out);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_ACCESS_KEY,
                         "no such access key");
    return rc;
}

int sm_cmd_delete_key(struct exec *x, const Md__DeleteAccessKey *c)
{
    struct md_key k;
    Md__AccessKeyRecord *a;
    int rc = need_key(x, c->key_id, &k, &a);
    if (rc)
        return rc;
    free_msg(a);
    return md_txn_del(x->txn, k.b, k.n);
}

int sm_cmd_set_key_state(struct exec *x, const Md__SetKeyState *c)
{
    struct md_key k;
    Md__AccessKeyRecord *a;
    int rc = need_key(x, c->key_id, &k, &a);
    if (rc)
        return rc;
    a->disabled = c->disabled;
    rc = put_msg(x, &k, a);
    free_msg(a);
    return rc;
}

/* ------------------------------------------------------- quotas and usage -- */

/* usage += delta, never below zero. */
static void usage_add(Md__Usage *u, int64_t dbytes, int64_t dobjects)
{
    u->bytes = dbytes < 0 && (uint64_t)-dbytes > u->bytes ? 0 : u->bytes + (uint64_t)dbytes;
    u->objects =
        dobjects < 0 && (uint64_t)-dobjects > u->objects ? 0 : u->objects + (uint64_t)dobjects;
}

/* Whether growing by (dbytes, dobjects) takes u over q. Shrinking never is. */
static int over_quota(const Md__Quota *q, const Md__Usage *u, int64_t dbytes, int64_t dobjects)
{
    if (!q)
        return 0;
    return (dbytes > 0 && q->max_bytes && u->bytes > q->max_bytes) ||
           (dobjects > 0 && q->max_objects && u->objects > q->max_objects);
}

int sm_charge(struct exec *x, const char *bucket, int64_t dbytes, int64_t dobjects)
{
    if (dbytes == 0 && dobjects == 0)
        return 0;
    struct md_key k;
    key_bucket(&k, bucket);
    Md__BucketRecord *b;
    int rc = unpack_as(x, &k, bucket_record, &b);
    if (rc)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    Md__Usage bu = MD__USAGE__INIT;
    if (b->usage)
        bu = *b->usage;
    usage_add(&bu, dbytes, dobjects);
    if (over_quota(b->quota, &bu, dbytes, dobjects)) {
        free_msg(b);
        return sm_refuse(x, CAIRN_E_NOSPACE, MD__REASON__R_QUOTA_EXCEEDED,
                         "the bucket's quota would be exceeded");
    }
    Md__Usage *keep = b->usage;
    b->usage = &bu;
    rc = put_msg(x, &k, b);
    b->usage = keep;
    Md__UserRecord *u = NULL;
    if (rc == 0 && b->owner[0] && md_valid_user(b->owner))
        rc = load_user(x, b->owner, &u);
    free_msg(b);
    if (rc || !u)
        return rc;
    Md__Usage uu = MD__USAGE__INIT;
    if (u->usage)
        uu = *u->usage;
    usage_add(&uu, dbytes, dobjects);
    if (over_quota(u->quota, &uu, dbytes, dobjects)) {
        free_msg(u);
        return sm_refuse(x, CAIRN_E_NOSPACE, MD__REASON__R_QUOTA_EXCEEDED,
                         "the owner's quota would be exceeded");
    }
    keep = u->usage;
    u->usage = &uu;
    rc = put_user(x, u);
    u->usage = keep;
    free_msg(u);
    return rc;
}

int sm_cmd_set_quota(struct exec *x, const Md__SetQuota *c)
{
    Md__Quota none = MD__QUOTA__INIT;
    Md__Quota *q = c->quota ? c->quota : &none;
    if (!!c->user[0] == !!c->bucket[0])
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "name exactly one of a user and a bucket");
    int rc;
    if (c->user[0]) {
        Md__UserRecord *u;
        if (!md_valid_user(c->user))
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad user name");
        if ((rc = load_user(x, c->user, &u)))
            return rc;
        if (!u)
            return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_USER, "no such user");
        Md__Quota *keep = u->quota;
        u->quota = q;
        rc = put_user(x, u);
        u->quota = keep;
        free_msg(u);
        return rc;
    }
    if ((rc = sm_need_bucket(x, c->bucket)))
        return rc;
    struct md_key k;
    key_bucket(&k, c->bucket);
    Md__BucketRecord *b;
    if ((rc = unpack_as(x, &k, bucket_record, &b)))
        return rc;
    Md__Quota *keep = b->quota;
    b->quota = q;
    rc = put_msg(x, &k, b);
    b->quota = keep;
    free_msg(b);
    return rc;
}

/* ------------------------------------------------------ ACLs and policies -- */

/* Loads bucket's record for an update (refusing NoSuchBucket). */
static int bucket_for_update(struct exec *x, const char *bucket, struct md_key *k,
                             Md__BucketRecord **out)
{
    int rc = sm_need_bucket(x, bucket);
    if (rc)
        return rc;
    key_bucket(k, bucket);
    return unpack_as(x, k, bucket_record, out);
}

int sm_cmd_put_bucket_acl(struct exec *x, const Md__PutBucketAcl *c)
{
    if (c->acl.len > ACL_MAX)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "ACL too large");
    struct md_key k;
    Md__BucketRecord *b;
    int rc = bucket_for_update(x, c->bucket, &k, &b);
    if (rc)
        return rc;
    ProtobufCBinaryData keep = b->acl;
    b->acl = c->acl;
    rc = put_msg(x, &k, b);
    b->acl = keep;
    free_msg(b);
    return rc;
}

int sm_cmd_put_bucket_policy(struct exec *x, const Md__PutBucketPolicy *c)
{
    if (strlen(c->policy) > POLICY_MAX)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "policies are limited to 20 KiB");
    struct md_key k;
    Md__BucketRecord *b;
    int rc = bucket_for_update(x, c->bucket, &k, &b);
    if (rc)
        return rc;
    char *keep = b->policy;
    b->policy = c->policy;
    rc = put_msg(x, &k, b);
    b->policy = keep;
    free_msg(b);
    return rc;
}

int sm_cmd_put_object_acl(struct exec *x, const Md__PutObjectAcl *c)
{
    if (c->acl.len > ACL_MAX)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "ACL too large");
    int rc = sm_need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    struct sm_version v;
    if ((rc = sm_find_version(x, c->bucket, c->key, c->version_id, &v)))
        return rc;
    if (!v.rec)
        return c->version_id[0]
                   ? sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_VERSION,
                               "no such version")
                   : sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    if (v.rec->delete_marker) {
        sm_version_free(&v);
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_DELETE_MARKER,
                         "a delete marker has no ACL");
    }
    ProtobufCBinaryData keep = v.rec->acl;
    v.rec->acl = c->acl;
    rc = sm_rewrite_version(x, &v);
    v.rec->acl = keep;
    sm_version_free(&v);
    return rc;
}
