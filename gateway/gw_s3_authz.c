/* gw_s3_authz: the one place an S3 request is authorized. After
 * authentication and before anything is read for the client or changed,
 * s3_authorize() maps the operation to its S3 action, reads what the
 * decision needs (the bucket record with its owner, ACL and policy, and for
 * object actions the object with its owner and ACL: one linearizable read)
 * and asks gw_authz_decide(). Operations that act on more than one resource
 * (each key of DeleteObjects, the source of a copy) ask s3_allowed() for
 * each with the same rules. docs/security.md describes the evaluation. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_acl.h"
#include "gw_authz.h"
#include "gw_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

/* What each operation needs: its action and whether the decision reads the
 * object (0: service or bucket level). */
static const struct op_action {
    enum gw_authz_action action;
    int object;
} op_actions[OP__COUNT] = {
    [OP_LIST_BUCKETS] = {GW_ACT_LIST_ALL_MY_BUCKETS, 0},
    [OP_CREATE_BUCKET] = {GW_ACT_CREATE_BUCKET, 0},
    [OP_HEAD_BUCKET] = {GW_ACT_LIST_BUCKET, 0},
    [OP_DELETE_BUCKET] = {GW_ACT_DELETE_BUCKET, 0},
    [OP_GET_BUCKET_LOCATION] = {GW_ACT_GET_BUCKET_LOCATION, 0},
    [OP_GET_BUCKET_VERSIONING] = {GW_ACT_GET_BUCKET_VERSIONING, 0},
    [OP_LIST_OBJECTS] = {GW_ACT_LIST_BUCKET, 0},
    [OP_LIST_OBJECTS_V2] = {GW_ACT_LIST_BUCKET, 0},
    [OP_PUT_OBJECT] = {GW_ACT_PUT_OBJECT, 1},
    [OP_GET_OBJECT] = {GW_ACT_GET_OBJECT, 1},
    [OP_HEAD_OBJECT] = {GW_ACT_GET_OBJECT, 1},
    [OP_DELETE_OBJECT] = {GW_ACT_DELETE_OBJECT, 1},
    /* each key is decided by the operation (s3_allowed) */
    [OP_DELETE_OBJECTS] = {GW_ACT__COUNT, 0},
    [OP_COPY_OBJECT] = {GW_ACT_PUT_OBJECT, 1},
    [OP_CREATE_MULTIPART] = {GW_ACT_PUT_OBJECT, 0},
    [OP_UPLOAD_PART] = {GW_ACT_PUT_OBJECT, 0},
    [OP_COMPLETE_MULTIPART] = {GW_ACT_PUT_OBJECT, 0},
    [OP_ABORT_MULTIPART] = {GW_ACT_ABORT_MULTIPART_UPLOAD, 0},
    [OP_LIST_PARTS] = {GW_ACT_LIST_MULTIPART_UPLOAD_PARTS, 0},
    [OP_LIST_UPLOADS] = {GW_ACT_LIST_BUCKET_MULTIPART_UPLOADS, 0},
    [OP_UPLOAD_PART_COPY] = {GW_ACT_PUT_OBJECT, 0},
    [OP_GET_OBJECT_TAGGING] = {GW_ACT_GET_OBJECT_TAGGING, 1},
    [OP_GET_BUCKET_ACL] = {GW_ACT_GET_BUCKET_ACL, 0},
    [OP_PUT_BUCKET_ACL] = {GW_ACT_PUT_BUCKET_ACL, 0},
    [OP_GET_OBJECT_ACL] = {GW_ACT_GET_OBJECT_ACL, 1},
    [OP_PUT_OBJECT_ACL] = {GW_ACT_PUT_OBJECT_ACL, 1},
    [OP_GET_BUCKET_POLICY] = {GW_ACT_GET_BUCKET_POLICY, 0},
    [OP_PUT_BUCKET_POLICY] = {GW_ACT_PUT_BUCKET_POLICY, 0},
    [OP_DELETE_BUCKET_POLICY] = {GW_ACT_DELETE_BUCKET_POLICY, 0},
    [OP_PUT_BUCKET_VERSIONING] = {GW_ACT_PUT_BUCKET_VERSIONING, 0},
    [OP_LIST_OBJECT_VERSIONS] = {GW_ACT_LIST_BUCKET_VERSIONS, 0},
    [OP_GET_OBJECT_LOCK_CONFIG] = {GW_ACT_GET_BUCKET_OBJECT_LOCK_CONFIGURATION, 0},
    [OP_PUT_OBJECT_LOCK_CONFIG] = {GW_ACT_PUT_BUCKET_OBJECT_LOCK_CONFIGURATION, 0},
    [OP_GET_OBJECT_RETENTION] = {GW_ACT_GET_OBJECT_RETENTION, 1},
    [OP_PUT_OBJECT_RETENTION] = {GW_ACT_PUT_OBJECT_RETENTION, 1},
    [OP_GET_OBJECT_LEGAL_HOLD] = {GW_ACT_GET_OBJECT_LEGAL_HOLD, 1},
    [OP_PUT_OBJECT_LEGAL_HOLD] = {GW_ACT_PUT_OBJECT_LEGAL_HOLD, 1},
    /* decided by the operation once the body names the tags it sets */
    [OP_PUT_OBJECT_TAGGING] = {GW_ACT__COUNT, 1},
    [OP_DELETE_OBJECT_TAGGING] = {GW_ACT_DELETE_OBJECT_TAGGING, 1},
    [OP_GET_BUCKET_TAGGING] = {GW_ACT_GET_BUCKET_TAGGING, 0},
    [OP_PUT_BUCKET_TAGGING] = {GW_ACT_PUT_BUCKET_TAGGING, 0},
    [OP_DELETE_BUCKET_TAGGING] = {GW_ACT_PUT_BUCKET_TAGGING, 0},
    [OP_GET_BUCKET_CORS] = {GW_ACT_GET_BUCKET_CORS, 0},
    [OP_PUT_BUCKET_CORS] = {GW_ACT_PUT_BUCKET_CORS, 0},
    [OP_DELETE_BUCKET_CORS] = {GW_ACT_PUT_BUCKET_CORS, 0},
    [OP_GET_BUCKET_LIFECYCLE] = {GW_ACT_GET_LIFECYCLE_CONFIGURATION, 0},
    [OP_PUT_BUCKET_LIFECYCLE] = {GW_ACT_PUT_LIFECYCLE_CONFIGURATION, 0},
    [OP_DELETE_BUCKET_LIFECYCLE] = {GW_ACT_PUT_LIFECYCLE_CONFIGURATION, 0},
    [OP_GET_OBJECT_ATTRIBUTES] = {GW_ACT_GET_OBJECT_ATTRIBUTES, 1},
    [OP_GET_BUCKET_ENCRYPTION] = {GW_ACT_GET_ENCRYPTION_CONFIGURATION, 0},
    [OP_GET_PUBLIC_ACCESS_BLOCK] = {GW_ACT_GET_BUCKET_PUBLIC_ACCESS_BLOCK, 0},
    [OP_GET_BUCKET_OWNERSHIP_CONTROLS] = {GW_ACT_GET_BUCKET_OWNERSHIP_CONTROLS, 0},
    [OP_GET_BUCKET_WEBSITE] = {GW_ACT_GET_BUCKET_WEBSITE, 0},
    [OP_GET_BUCKET_REPLICATION] = {GW_ACT_GET_REPLICATION_CONFIGURATION, 0},
    [OP_GET_BUCKET_LOGGING] = {GW_ACT_GET_BUCKET_LOGGING, 0},
    [OP_GET_BUCKET_NOTIFICATION] = {GW_ACT_GET_BUCKET_NOTIFICATION, 0},
    [OP_GET_BUCKET_REQUEST_PAYMENT] = {GW_ACT_GET_BUCKET_REQUEST_PAYMENT, 0},
    [OP_GET_BUCKET_ACCELERATE] = {GW_ACT_GET_ACCELERATE_CONFIGURATION, 0},
    /* decided by the operation once the form names the key and the signer */
    [OP_POST_OBJECT] = {GW_ACT__COUNT, 0},
};

/* The action of an operation on one version (?versionId): S3's *Version
 * actions where there is one; the others (retention, legal hold) are the
 * same action for a version. */
static enum gw_authz_action version_action(enum gw_authz_action a)
{
    switch (a) {
    case GW_ACT_GET_OBJECT:
        return GW_ACT_GET_OBJECT_VERSION;
    case GW_ACT_DELETE_OBJECT:
        return GW_ACT_DELETE_OBJECT_VERSION;
    case GW_ACT_GET_OBJECT_ACL:
        return GW_ACT_GET_OBJECT_VERSION_ACL;
    case GW_ACT_PUT_OBJECT_ACL:
        return GW_ACT_PUT_OBJECT_VERSION_ACL;
    case GW_ACT_GET_OBJECT_TAGGING:
        return GW_ACT_GET_OBJECT_VERSION_TAGGING;
    case GW_ACT_DELETE_OBJECT_TAGGING:
        return GW_ACT_DELETE_OBJECT_VERSION_TAGGING;
    case GW_ACT_GET_OBJECT_ATTRIBUTES:
        return GW_ACT_GET_OBJECT_VERSION_ATTRIBUTES;
    default:
        return a;
    }
}

/* 1 if op reads or changes one version when the request names one
 * (PutObject and CopyObject make a new version whatever the query says). */
static int takes_version(enum s3_op op)
{
    return op != OP_PUT_OBJECT && op != OP_COPY_OBJECT;
}

/* Actions that read an object: a missing one answers NoSuchKey only to who
 * may list the bucket (S3's rule against leaking existence). */
static int reads_object(enum gw_authz_action a)
{
    return a == GW_ACT_GET_OBJECT || a == GW_ACT_GET_OBJECT_ACL || a == GW_ACT_GET_OBJECT_TAGGING ||
           a == GW_ACT_PUT_OBJECT_ACL || a == GW_ACT_GET_OBJECT_VERSION ||
           a == GW_ACT_GET_OBJECT_VERSION_ACL || a == GW_ACT_GET_OBJECT_VERSION_TAGGING ||
           a == GW_ACT_GET_OBJECT_RETENTION || a == GW_ACT_GET_OBJECT_LEGAL_HOLD ||
           a == GW_ACT_GET_OBJECT_ATTRIBUTES || a == GW_ACT_GET_OBJECT_VERSION_ATTRIBUTES;
}

/* ---- the inputs of a decision ------------------------------------------ */

/* A bucket's rules, unpacked once for one request. */
struct rules {
    char owner_id[72];
    int legacy_public; /* created public-read before ACLs were stored */
    struct gw_acl *bucket_acl;
    struct gw_policy *policy;
};

static void rules_free(struct rules *ru)
{
    gw_acl_free(ru->bucket_acl);
    gw_policy_free(ru->policy);
    memset(ru, 0, sizeof(*ru));
}

/* The canonical id of b's owner. Buckets made by the operator carry the
 * operator's id; buckets older than users (an access key id as the owner,
 * no owner id) are the operator's too: only the operator and what their
 * ACL grants reach them (docs/security.md). */
static void bucket_owner_id(const Md__BucketRecord *b, char out[72])
{
    snprintf(out, 72, "%s", b->owner_id[0] ? b->owner_id : GW_AUTH_OPERATOR_ID);
}

/* Unpacks b's ACL and policy. A stored ACL or policy that no longer reads
 * (it was checked when stored) is logged and left out: the owner keeps
 * access, nobody else gains any. */
static void rules_load(struct s3_req *r, const Md__BucketRecord *b, struct rules *ru)
{
    memset(ru, 0, sizeof(*ru));
    bucket_owner_id(b, ru->owner_id);
    if (b->acl.len > 0) {
        if (gw_acl_unpack(b->acl.data, b->acl.len, &ru->bucket_acl) != 0)
            CN_WARN(S3_LOG, "bucket %s: stored ACL unreadable; ignored", b->name);
    } else if (b->public_read) {
        /* A bucket created public-read before ACLs were stored: anyone
         * lists it and reads its objects that have no ACL of their own, as
         * it was then. */
        ru->legacy_public = 1;
        struct gw_acl_owner o = {ru->owner_id, NULL};
        enum gw_s3err e;
        const char *msg;
        gw_acl_canned("public-read", &o, NULL, &ru->bucket_acl, &e, &msg);
    }
    if (b->policy[0]) {
        char err[256];
        if (gw_policy_parse(b->policy, strlen(b->policy), b->name, &ru->policy, err, sizeof(err)) !=
            0)
            CN_WARN(S3_LOG, "bucket %s: stored policy unreadable (%s); ignored", b->name, err);
    }
    (void)r;
}

/* Names of the tag condition keys (s3:ExistingObjectTag/<k> of the object,
 * s3:RequestObjectTag/<k> of the tags the request sets), made per
 * decision. */
#define TAG_KEY_NAME_MAX (sizeof("s3:ExistingObjectTag/") + 4 * GW_TAG_KEY_MAX)
struct tag_names {
    char name[2 * GW_TAGS_MAX_OBJECT][TAG_KEY_NAME_MAX];
};

/* Appends the tag condition keys of object o and of r's tags to ctx. */
static size_t tag_keys(struct s3_req *r, const Md__ObjectRecord *o, struct gw_authz_kv *ctx,
                       size_t n, size_t cap, struct tag_names *tn)
{
    size_t used = 0;
    const Md__ObjectAttrs *a = o ? o->attrs : NULL;
    for (size_t i = 0; a && i < a->n_tags && n < cap && used < 2 * GW_TAGS_MAX_OBJECT; i++) {
        snprintf(tn->name[used], TAG_KEY_NAME_MAX, "s3:ExistingObjectTag/%s", a->tags[i]->key);
        ctx[n++] = (struct gw_authz_kv){tn->name[used++], a->tags[i]->value};
    }
    for (size_t i = 0;
         r->have_req_tags && i < r->req_tags.n && n < cap && used < 2 * GW_TAGS_MAX_OBJECT; i++) {
        snprintf(tn->name[used], TAG_KEY_NAME_MAX, "s3:RequestObjectTag/%s",
                 r->req_tags.tags[i].key);
        ctx[n++] = (struct gw_authz_kv){tn->name[used++], r->req_tags.tags[i].value};
    }
    return n;
}

/* The principal and context of r. ctx[] receives the condition keys the
 * request carries; returns how many. */
static size_t request_of(struct s3_req *r, struct gw_authz_request *rq, struct gw_authz_kv *ctx,
                         size_t cap, char *ip, size_t iplen, char *maxkeys, size_t mklen)
{
    memset(rq, 0, sizeof(*rq));
    if (r->auth.kind != GW_SIGV4_ANONYMOUS) {
        rq->principal.user = r->who.user;
        rq->principal.canonical_id = r->who.canonical_id;
        rq->principal.is_operator = r->who.is_operator;
    }
    ip[0] = '\0';
    if (r->req) {
        cn_http_req_peer(r->req, ip, iplen);
        char *colon = strrchr(ip, ':');
        if (colon)
            *colon = '\0';
    }
    rq->source_ip = ip[0] ? ip : NULL;
    rq->secure_transport = cn_http_req_tls(r->req);
    rq->now_ms = cn_wall_ms();
    size_t n = 0;
    static const char *const acl_headers[][2] = {
        {"s3:x-amz-acl", "x-amz-acl"},
        {"s3:x-amz-grant-read", "x-amz-grant-read"},
        {"s3:x-amz-grant-write", "x-amz-grant-write"},
        {"s3:x-amz-grant-read-acp", "x-amz-grant-read-acp"},
        {"s3:x-amz-grant-write-acp", "x-amz-grant-write-acp"},
        {"s3:x-amz-grant-full-control", "x-amz-grant-full-control"},
        {"s3:x-amz-server-side-encryption", "x-amz-server-side-encryption"},
        {"s3:x-amz-copy-source", "x-amz-copy-source"},
        {"s3:x-amz-metadata-directive", "x-amz-metadata-directive"},
        {"s3:x-amz-storage-class", "x-amz-storage-class"},
    };
    for (size_t i = 0; i < sizeof(acl_headers) / sizeof(acl_headers[0]) && n < cap; i++) {
        const char *v = s3_hdr(r, acl_headers[i][1]);
        if (v)
            ctx[n++] = (struct gw_authz_kv){acl_headers[i][0], v};
    }
    if (r->op == OP_LIST_OBJECTS || r->op == OP_LIST_OBJECTS_V2 || r->op == OP_LIST_UPLOADS ||
        r->op == OP_LIST_OBJECT_VERSIONS) {
        const char *p = s3_qarg(r, "prefix"), *d = s3_qarg(r, "delimiter");
        const char *mk = s3_qarg(r, r->op == OP_LIST_UPLOADS ? "max-uploads" : "max-keys");
        if (n < cap)
            ctx[n++] = (struct gw_authz_kv){"s3:prefix", p ? p : ""};
        if (d && n < cap)
            ctx[n++] = (struct gw_authz_kv){"s3:delimiter", d};
        snprintf(maxkeys, mklen, "%s", mk ? mk : "1000");
        if (n < cap)
            ctx[n++] = (struct gw_authz_kv){"s3:max-keys", maxkeys};
    }
    rq->ctx = ctx;
    rq->n_ctx = n;
    return n;
}

/* ---- decisions ---------------------------------------------------------- */

/* The decision on (action, bucket b, key, object o). *hidden receives
 * NoSuchKey or AccessDenied when o is missing for a read (S3's existence
 * rule), else GW_S3_OK. */
static int decide(struct s3_req *r, enum gw_authz_action action, const Md__BucketRecord *b,
                  const char *bucket, const char *key, const Md__ObjectRecord *o,
                  const struct rules *ru, enum gw_s3err *hidden)
{
    struct gw_authz_request rq;
    struct gw_authz_kv ctx[16 + 2 * GW_TAGS_MAX_OBJECT];
    char ip[64], maxkeys[24];
    size_t n = request_of(r, &rq, ctx, 16, ip, sizeof(ip), maxkeys, sizeof(maxkeys));
    struct tag_names *tn = NULL;
    if ((o && o->attrs && o->attrs->n_tags) || (r->have_req_tags && r->req_tags.n)) {
        tn = malloc(sizeof(*tn));
        if (!tn)
            return 0; /* fail closed: a condition on a tag could not be decided */
        rq.n_ctx = tag_keys(r, o, ctx, n, sizeof(ctx) / sizeof(ctx[0]), tn);
    }
    rq.action = action;
    rq.bucket = bucket;
    rq.key = key;
    struct gw_authz_inputs in = {0};
    struct gw_acl *oacl = NULL;
    if (b) {
        in.bucket_owner = ru->owner_id;
        in.bucket_acl = ru->bucket_acl;
        in.policy = ru->policy;
    }
    if (o) {
        if (o->owner_id[0])
            in.object_owner = o->owner_id;
        else if (o->owner[0])
            in.object_owner_user = o->owner;
        else /* written before users: the bucket owner's */
            in.object_owner = ru->owner_id;
        if (o->acl.len > 0 && gw_acl_unpack(o->acl.data, o->acl.len, &oacl) != 0)
            CN_WARN(S3_LOG, "%s/%s: stored ACL unreadable; ignored", bucket, key);
        if (o->acl.len == 0 && ru->legacy_public) {
            struct gw_acl_owner ow = {ru->owner_id, NULL};
            enum gw_s3err e;
            const char *msg;
            gw_acl_canned("public-read", &ow, NULL, &oacl, &e, &msg);
        }
        in.object_acl = oacl;
    }
    struct gw_authz_result res = gw_authz_decide(&rq, &in);
    *hidden = GW_S3_OK;
    if (!o && key && reads_object(action) && !rq.principal.is_operator) {
        /* The object is missing: unless a policy denies the action outright,
         * the answer is NoSuchKey to who may list the bucket, else
         * AccessDenied (S3's rule against leaking existence). */
        *hidden = gw_authz_hide_missing(&rq, &in);
        if (!res.allowed && res.rule != GW_AUTHZ_RULE_POLICY_DENY)
            res.allowed = 1;
    }
    gw_acl_free(oacl);
    if (!res.allowed)
        CN_INFO(S3_LOG, "%s by %s on %s%s%s: denied (%s)", gw_authz_action_name(action),
                rq.principal.user ? (rq.principal.user[0] ? rq.principal.user : "operator")
                                  : "anonymous",
                bucket ? bucket : "*", key ? "/" : "", key ? key : "",
                gw_authz_rule_name(res.rule));
    free(tn);
    return res.allowed;
}

int s3_allowed(struct s3_req *r, enum gw_authz_action action, const Md__BucketRecord *b,
               const char *key, const Md__ObjectRecord *o)
{
    struct rules ru;
    rules_load(r, b, &ru);
    enum gw_s3err hidden;
    int ok = decide(r, action, b, b->name, key, o, &ru, &hidden);
    rules_free(&ru);
    return ok;
}

int s3_allowed_on_new(struct s3_req *r, enum gw_authz_action action, const Md__BucketRecord *b,
                      const char *key)
{
    if (r->auth.kind != GW_SIGV4_ANONYMOUS && !r->who.is_operator) {
        char owner[72];
        bucket_owner_id(b, owner);
        if (r->who.canonical_id[0] && strcmp(owner, r->who.canonical_id) == 0)
            return 1; /* the bucket owner, writing into its own bucket */
    }
    return s3_allowed(r, action, b, key, NULL);
}

static enum gw_s3err authorize_bucket(struct s3_req *r);

enum gw_s3err s3_authorize(struct cn_http_req *req, struct s3_req *r)
{
    (void)req;
    const struct op_action *oa = &op_actions[r->op];
    enum gw_s3err hidden = GW_S3_OK;
    if (r->op == OP_UNKNOWN || r->op == OP_UNSUPPORTED || r->op == OP_LIST_BUCKETS ||
        r->op == OP_CREATE_BUCKET) {
        /* no bucket read to confirm the key with: a read of its own */
        enum gw_s3err ce = s3_confirm_key(r, NULL);
        if (ce != GW_S3_OK)
            return ce;
    }
    if (r->op == OP_UNKNOWN || r->op == OP_UNSUPPORTED)
        return GW_S3_OK; /* answered MethodNotAllowed / NotImplemented */
    if (r->op == OP_LIST_BUCKETS || r->op == OP_CREATE_BUCKET) {
        /* Service level: any signed user; CreateBucket of an existing name
         * is the operation's to answer. */
        int ok = decide(r, oa->action, NULL, NULL, NULL, NULL, NULL, &hidden);
        return ok ? GW_S3_OK : GW_S3_ACCESS_DENIED;
    }
    /* An anonymous request refused lately is refused again without a read.
     * The entry's key holds the generation of this gateway's writes, so a
     * change made through this gateway (ACL, policy, bucket, object) takes
     * effect at once; one made elsewhere within anon_cache_ms. */
    struct gw_s3 *s3 = r->s3;
    char ck[2 * 1024 + 64];
    size_t ckl = 0;
    int anon = s3->anon && r->auth.kind == GW_SIGV4_ANONYMOUS;
    if (anon) {
        int n = snprintf(ck, sizeof(ck), "%" PRIu64 " %d", (uint64_t)atomic_load(&s3->anon_gen),
                         (int)r->op);
        ckl = (size_t)n + 1; /* the NULs separate the parts */
        size_t bl = strlen(r->t.bucket), kl = strlen(r->t.key);
        if (ckl + bl + 1 + kl <= sizeof(ck)) {
            memcpy(ck + ckl, r->t.bucket, bl + 1);
            ckl += bl + 1;
            memcpy(ck + ckl, r->t.key, kl);
            ckl += kl;
        } else {
            anon = 0;
        }
        int cached;
        if (anon && gw_ttlcache_get(s3->anon, ck, ckl, cn_mono_ms(), &cached)) {
            atomic_fetch_add(&s3->anon_cached, 1);
            return (enum gw_s3err)cached;
        }
    }
    enum gw_s3err verdict = authorize_bucket(r);
    if (anon && (verdict == GW_S3_ACCESS_DENIED || verdict == GW_S3_NO_SUCH_BUCKET))
        gw_ttlcache_put(s3->anon, ck, ckl, (int)verdict, cn_mono_ms() + s3->anon_cache_ms);
    return verdict;
}

/* s3_authorize for a request that names a bucket. */
static enum gw_s3err authorize_bucket(struct s3_req *r)
{
    const struct op_action *oa = &op_actions[r->op];
    enum gw_s3err hidden = GW_S3_OK;
    /* Everything else names a bucket: read it (with the object for object
     * actions) in one linearizable read. */
    enum gw_s3err e;
    const char *key = r->t.key[0] ? r->t.key : NULL;
    enum gw_authz_action action = oa->action;
    const char *vid = key && takes_version(r->op) ? s3_version_arg(r) : NULL;
    if (vid) {
        if (!*vid)
            return GW_S3_INVALID_VERSION_ID; /* "Version id cannot be the empty string" */
        action = version_action(action);
    }
    if (oa->object && key) {
        e = s3_md_get_version_and_bucket(r, r->t.bucket, key, vid, &r->ctx);
    } else {
        e = s3_md_head_bucket(r, r->t.bucket, &r->ctx);
    }
    /* The key from the mirror is confirmed by this same read (it carried
     * Query.caller_key); a failed read kept no answer: a read of its own, so
     * that a disabled key is told so rather than NoSuchBucket. */
    enum gw_s3err ce = s3_confirm_key(r, e == GW_S3_OK ? r->ctx : NULL);
    if (ce != GW_S3_OK)
        return ce;
    if (e != GW_S3_OK)
        return e;
    if (!r->ctx->bucket)
        return GW_S3_NO_SUCH_BUCKET;
    if (oa->action == GW_ACT__COUNT)
        return GW_S3_OK; /* decided per key by the operation */
    struct rules ru;
    rules_load(r, r->ctx->bucket, &ru);
    int ok = decide(r, action, r->ctx->bucket, r->t.bucket, key, r->ctx->object, &ru, &hidden);
    rules_free(&ru);
    if (!ok)
        return GW_S3_ACCESS_DENIED;
    return hidden == GW_S3_NO_SUCH_KEY ? GW_S3_OK : hidden;
}

Md__QueryResult *s3_ctx_take(struct s3_req *r, const char *bucket, const char *key)
{
    Md__QueryResult *c = r->ctx;
    if (!c || strcmp(bucket, r->t.bucket) != 0 || strcmp(key ? key : "", r->t.key) != 0)
        return NULL;
    if (key && !c->object) /* read for the bucket only */
        return NULL;
    r->ctx = NULL;
    return c;
}
