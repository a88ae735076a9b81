/* Authorization of S3 requests: the one place the gateway decides whether a
 * principal may perform an S3 action on a bucket or object, the way Amazon
 * S3 decides it from the bucket policy, the ACLs and ownership.
 *
 * gw_authz_decide() is a pure function of its arguments: no I/O, no
 * metadata calls, no clock, no globals. The caller (the request handler)
 * authenticates the request, maps the S3 operation to its action(s), loads
 * the bucket owner, ACLs and policy, and asks. Thread-safe; every pointer is
 * borrowed for the duration of the call.
 *
 * Evaluation order (docs/security.md "Authorization"):
 *   1. the operator (cluster root) is allowed everything;
 *   2. service-level actions (ListAllMyBuckets, CreateBucket) are allowed to
 *      every authenticated user and to nobody anonymous;
 *   3. the bucket owner is always allowed Get/Put/DeleteBucketPolicy, even
 *      under an explicit Deny (S3's guard against locking the owner out);
 *   4. an explicit Deny in the bucket policy denies;
 *   5. an Allow in the bucket policy allows;
 *   6. ownership allows: the bucket owner every bucket-level action on its
 *      bucket and, on any object in it, PutObject, DeleteObject,
 *      DeleteObjectVersion, AbortMultipartUpload, ListMultipartUploadParts
 *      and BypassGovernanceRetention; the object owner every object-level
 *      action on its object except BypassGovernanceRetention;
 *   7. the bucket ACL or the object ACL allows when it grants the permission
 *      the action maps to (gw_authz_action_acl());
 *   8. anything else is denied (implicit deny).
 * Actions with no ACL permission (DeleteBucket, the bucket policy,
 * versioning, lifecycle, CORS, object lock configuration, tagging, ...) are
 * therefore allowed to non-owners only by a bucket policy. */
#ifndef CAIRN_GW_AUTHZ_H
#define CAIRN_GW_AUTHZ_H

#include "gw_acl.h"
#include "gw_s3err.h"

#include <stddef.h>
#include <stdint.h>

struct gw_policy;

/* Every S3 action of Amazon S3's action list ("Actions, resources, and
 * condition keys for Amazon S3") that concerns buckets and objects, whether
 * or not the gateway serves the operation yet: a bucket policy naming any of
 * them parses. Access points, batch jobs, Storage Lens and other account
 * resources are not S3 buckets or objects and are not listed. */
enum gw_authz_action {
    /* service level (resource "*") */
    GW_ACT_LIST_ALL_MY_BUCKETS,
    GW_ACT_CREATE_BUCKET,
    /* bucket level (resource arn:aws:s3:::BUCKET) */
    GW_ACT_DELETE_BUCKET,
    GW_ACT_LIST_BUCKET, /* ListObjects(V2), HeadBucket */
    GW_ACT_LIST_BUCKET_VERSIONS,
    GW_ACT_LIST_BUCKET_MULTIPART_UPLOADS,
    GW_ACT_GET_BUCKET_LOCATION,
    GW_ACT_GET_BUCKET_VERSIONING,
    GW_ACT_PUT_BUCKET_VERSIONING,
    GW_ACT_GET_BUCKET_ACL,
    GW_ACT_PUT_BUCKET_ACL,
    GW_ACT_GET_BUCKET_POLICY,
    GW_ACT_PUT_BUCKET_POLICY,
    GW_ACT_DELETE_BUCKET_POLICY,
    GW_ACT_GET_BUCKET_POLICY_STATUS,
    GW_ACT_GET_BUCKET_TAGGING,
    GW_ACT_PUT_BUCKET_TAGGING, /* also DeleteBucketTagging */
    GW_ACT_GET_LIFECYCLE_CONFIGURATION,
    GW_ACT_PUT_LIFECYCLE_CONFIGURATION, /* also DeleteBucketLifecycle */
    GW_ACT_GET_BUCKET_CORS,
    GW_ACT_PUT_BUCKET_CORS, /* also DeleteBucketCors */
    GW_ACT_GET_BUCKET_OBJECT_LOCK_CONFIGURATION,
    GW_ACT_PUT_BUCKET_OBJECT_LOCK_CONFIGURATION,
    GW_ACT_GET_BUCKET_OWNERSHIP_CONTROLS,
    GW_ACT_PUT_BUCKET_OWNERSHIP_CONTROLS,
    GW_ACT_DELETE_BUCKET_OWNERSHIP_CONTROLS,
    GW_ACT_GET_BUCKET_PUBLIC_ACCESS_BLOCK,
    GW_ACT_PUT_BUCKET_PUBLIC_ACCESS_BLOCK,
    GW_ACT_GET_ENCRYPTION_CONFIGURATION,
    GW_ACT_PUT_ENCRYPTION_CONFIGURATION,
    GW_ACT_GET_BUCKET_WEBSITE,
    GW_ACT_PUT_BUCKET_WEBSITE,
    GW_ACT_DELETE_BUCKET_WEBSITE,
    GW_ACT_GET_BUCKET_LOGGING,
    GW_ACT_PUT_BUCKET_LOGGING,
    GW_ACT_GET_BUCKET_NOTIFICATION,
    GW_ACT_PUT_BUCKET_NOTIFICATION,
    GW_ACT_GET_BUCKET_REQUEST_PAYMENT,
    GW_ACT_PUT_BUCKET_REQUEST_PAYMENT,
    GW_ACT_GET_ACCELERATE_CONFIGURATION,
    GW_ACT_PUT_ACCELERATE_CONFIGURATION,
    GW_ACT_GET_REPLICATION_CONFIGURATION,
    GW_ACT_PUT_REPLICATION_CONFIGURATION,
    GW_ACT_GET_ANALYTICS_CONFIGURATION,
    GW_ACT_PUT_ANALYTICS_CONFIGURATION,
    GW_ACT_GET_INVENTORY_CONFIGURATION,
    GW_ACT_PUT_INVENTORY_CONFIGURATION,
    GW_ACT_GET_METRICS_CONFIGURATION,
    GW_ACT_PUT_METRICS_CONFIGURATION,
    GW_ACT_GET_INTELLIGENT_TIERING_CONFIGURATION,
    GW_ACT_PUT_INTELLIGENT_TIERING_CONFIGURATION,
    /* object level (resource arn:aws:s3:::BUCKET/KEY) */
    GW_ACT_GET_OBJECT, /* GetObject, HeadObject, the source of CopyObject/UploadPartCopy */
    GW_ACT_GET_OBJECT_VERSION,
    GW_ACT_PUT_OBJECT,    /* PutObject, CopyObject, multipart create/upload/complete */
    GW_ACT_DELETE_OBJECT, /* DeleteObject, each key of DeleteObjects */
    GW_ACT_DELETE_OBJECT_VERSION,
    GW_ACT_GET_OBJECT_ACL,
    GW_ACT_PUT_OBJECT_ACL,
    GW_ACT_GET_OBJECT_VERSION_ACL,
    GW_ACT_PUT_OBJECT_VERSION_ACL,
    GW_ACT_GET_OBJECT_TAGGING,
    GW_ACT_PUT_OBJECT_TAGGING,
    GW_ACT_DELETE_OBJECT_TAGGING,
    GW_ACT_GET_OBJECT_VERSION_TAGGING,
    GW_ACT_PUT_OBJECT_VERSION_TAGGING,
    GW_ACT_DELETE_OBJECT_VERSION_TAGGING,
    GW_ACT_GET_OBJECT_RETENTION,
    GW_ACT_PUT_OBJECT_RETENTION,
    GW_ACT_GET_OBJECT_LEGAL_HOLD,
    GW_ACT_PUT_OBJECT_LEGAL_HOLD,
    GW_ACT_BYPASS_GOVERNANCE_RETENTION,
    GW_ACT_GET_OBJECT_ATTRIBUTES,
    GW_ACT_GET_OBJECT_VERSION_ATTRIBUTES,
    GW_ACT_GET_OBJECT_TORRENT,
    GW_ACT_GET_OBJECT_VERSION_TORRENT,
    GW_ACT_RESTORE_OBJECT,
    GW_ACT_ABORT_MULTIPART_UPLOAD,
    GW_ACT_LIST_MULTIPART_UPLOAD_PARTS,
    GW_ACT_GET_OBJECT_VERSION_FOR_REPLICATION,
    GW_ACT_REPLICATE_OBJECT,
    GW_ACT_REPLICATE_DELETE,
    GW_ACT_REPLICATE_TAGS,
    GW_ACT_OBJECT_OWNER_OVERRIDE_TO_BUCKET_OWNER,
    GW_ACT__COUNT
};

enum gw_authz_level {
    GW_AUTHZ_SERVICE = 1,
    GW_AUTHZ_BUCKET,
    GW_AUTHZ_OBJECT,
};

/* "s3:GetObject" etc.; "" for an out-of-range value. Never NULL. */
const char *gw_authz_action_name(enum gw_authz_action a);
/* Finds an action by its name, "s3:" prefix required, case-insensitive (as
 * IAM matches action names). Returns 0 and *out, or CAIRN_E_NOTFOUND. */
int gw_authz_action_lookup(const char *name, enum gw_authz_action *out);
/* The resource an action applies to; 0 for an out-of-range value. */
enum gw_authz_level gw_authz_action_level(enum gw_authz_action a);
/* The ACL permission that allows the action and whether it is looked up in
 * the bucket ACL (*on_object = 0) or the object ACL (*on_object = 1).
 * Returns 0 when no ACL permission allows the action. The map, after
 * Amazon S3's "Mapping of ACL permissions and access policy permissions":
 *   bucket READ:      ListBucket, ListBucketVersions, ListBucketMultipartUploads
 *   bucket WRITE:     PutObject, DeleteObject, AbortMultipartUpload
 *   bucket READ_ACP:  GetBucketAcl        bucket WRITE_ACP: PutBucketAcl
 *   object READ:      GetObject, GetObjectVersion, GetObject(Version)Torrent
 *   object READ_ACP:  GetObject(Version)Acl
 *   object WRITE_ACP: PutObject(Version)Acl
 * and FULL_CONTROL covers all of them. */
enum gw_acl_perm gw_authz_action_acl(enum gw_authz_action a, int *on_object);

/* One request-context value for policy conditions, e.g. {"s3:prefix",
 * "photos/"}. Keys are matched case-insensitively (a "/tag" suffix as in
 * s3:ExistingObjectTag/<tag> exactly). Borrowed. */
struct gw_authz_kv {
    const char *key;
    const char *value;
};

/* Who is asking. Anonymous is user == NULL (an unsigned request); a signed
 * request has both user and canonical_id. */
struct gw_authz_principal {
    const char *user;         /* user name (aws:username, policy "AWS" principals) */
    const char *canonical_id; /* the user's canonical id (ACL grants, CanonicalUser) */
    int is_operator;          /* the cluster operator / root: always allowed */
};

struct gw_authz_request {
    struct gw_authz_principal principal;
    enum gw_authz_action action;
    const char *bucket;    /* NULL only for service-level actions */
    const char *key;       /* object key for object-level actions, else NULL */
    const char *source_ip; /* client address (IPv4, IPv6, v4-mapped IPv6); NULL: unknown */
    int secure_transport;  /* 1 if the request came over TLS */
    int64_t now_ms;        /* request time, Unix ms (aws:CurrentTime); 0: absent */
    /* Operation-specific condition keys the caller knows: s3:prefix,
     * s3:delimiter, s3:max-keys (ListBucket; s3:prefix "" when the request
     * has none), s3:x-amz-acl and s3:x-amz-grant-* (requests carrying ACL
     * headers), s3:x-amz-server-side-encryption, s3:ExistingObjectTag/<k>,
     * s3:VersionId, ... A key not given is absent. */
    const struct gw_authz_kv *ctx;
    size_t n_ctx;
};

/* What the caller loaded for the request's bucket and object. */
struct gw_authz_inputs {
    const char *bucket_owner;        /* canonical id; required unless service-level */
    const struct gw_acl *bucket_acl; /* NULL: no grants */
    /* The object's owner and ACL for object-level actions on an existing
     * object; NULL when the object does not exist (PutObject of a new key)
     * or the action is bucket-level. For AbortMultipartUpload and
     * ListMultipartUploadParts the "object owner" is the upload's
     * initiator. The owner is given by canonical id (object_owner, compared
     * with principal.canonical_id) or, when the caller has only the user
     * name (ObjectRecord.owner), by name (object_owner_user, compared with
     * principal.user); names and ids are never compared with each other. */
    const char *object_owner;
    const char *object_owner_user;
    const struct gw_acl *object_acl;
    const struct gw_policy *policy; /* NULL: the bucket has no policy */
};

/* Which rule decided (for logs and tests). */
enum gw_authz_rule {
    GW_AUTHZ_RULE_BAD_INPUT = 0, /* denied: unknown action, or a bucket/key/owner missing */
    GW_AUTHZ_RULE_OPERATOR,
    GW_AUTHZ_RULE_AUTHENTICATED,       /* service-level action by a signed user */
    GW_AUTHZ_RULE_OWNER_POLICY_ACCESS, /* bucket owner and the bucket policy actions */
    GW_AUTHZ_RULE_POLICY_DENY,
    GW_AUTHZ_RULE_POLICY_ALLOW,
    GW_AUTHZ_RULE_BUCKET_OWNER,
    GW_AUTHZ_RULE_OBJECT_OWNER,
    GW_AUTHZ_RULE_BUCKET_ACL,
    GW_AUTHZ_RULE_OBJECT_ACL,
    GW_AUTHZ_RULE_IMPLICIT_DENY,
};

struct gw_authz_result {
    int allowed; /* 1 allow, 0 deny (AccessDenied) */
    enum gw_authz_rule rule;
    int statement; /* the deciding policy statement (index) for POLICY_*, else -1 */
};

/* "operator", "policy-deny", ...; never NULL. */
const char *gw_authz_rule_name(enum gw_authz_rule r);

/* The decision for rq given in (see the evaluation order above). Never
 * fails: anything malformed is a deny with GW_AUTHZ_RULE_BAD_INPUT. */
struct gw_authz_result gw_authz_decide(const struct gw_authz_request *rq,
                                       const struct gw_authz_inputs *in);

/* S3's rule for a request on an object that does not exist: the answer is
 * 404 NoSuchKey only if the requester may s3:ListBucket the bucket (so the
 * absence tells them nothing they could not list), else 403 AccessDenied.
 * Decides s3:ListBucket for rq's principal and context on rq->bucket with
 * in's bucket owner, bucket ACL and policy (object fields ignored), and
 * returns GW_S3_NO_SUCH_KEY or GW_S3_ACCESS_DENIED. Call it when the object
 * of an object-level read (GetObject, HeadObject, GetObjectAcl, ...) is
 * missing, whatever gw_authz_decide said for the action itself. */
enum gw_s3err gw_authz_hide_missing(const struct gw_authz_request *rq,
                                    const struct gw_authz_inputs *in);

#endif
