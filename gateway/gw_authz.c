#include "gw_authz.h"

#include "cn_error.h"
#include "gw_policy.h"

#include <string.h>
#include <strings.h>

/* Who besides policies and ACLs may perform an action. */
enum {
    BO = 1 << 0, /* the bucket owner (on any object of its bucket, for object actions) */
    OO = 1 << 1, /* the object owner, on its object */
};

struct action_entry {
    const char *name;
    enum gw_authz_level level;
    enum gw_acl_perm acl; /* 0: no ACL permission allows it */
    int acl_on_object;
    int owners;
};

#define SVC(n)                                                                                     \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_SERVICE, 0, 0, 0                                                         \
    }
#define BKT(n)                                                                                     \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_BUCKET, 0, 0, BO                                                         \
    }
#define BKT_ACL(n, p)                                                                              \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_BUCKET, p, 0, BO                                                         \
    }
#define OBJ(n, who)                                                                                \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_OBJECT, 0, 0, who                                                        \
    }
#define OBJ_BACL(n, p, w)                                                                          \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_OBJECT, p, 0, w                                                          \
    }
#define OBJ_OACL(n, p, w)                                                                          \
    {                                                                                              \
        "s3:" n, GW_AUTHZ_OBJECT, p, 1, w                                                          \
    }

static const struct action_entry actions[GW_ACT__COUNT] = {
    [GW_ACT_LIST_ALL_MY_BUCKETS] = SVC("ListAllMyBuckets"),
    [GW_ACT_CREATE_BUCKET] = SVC("CreateBucket"),

    [GW_ACT_DELETE_BUCKET] = BKT("DeleteBucket"),
    [GW_ACT_LIST_BUCKET] = BKT_ACL("ListBucket", GW_ACL_READ),
    [GW_ACT_LIST_BUCKET_VERSIONS] = BKT_ACL("ListBucketVersions", GW_ACL_READ),
    [GW_ACT_LIST_BUCKET_MULTIPART_UPLOADS] = BKT_ACL("ListBucketMultipartUploads", GW_ACL_READ),
    [GW_ACT_GET_BUCKET_LOCATION] = BKT("GetBucketLocation"),
    [GW_ACT_GET_BUCKET_VERSIONING] = BKT("GetBucketVersioning"),
    [GW_ACT_PUT_BUCKET_VERSIONING] = BKT("PutBucketVersioning"),
    [GW_ACT_GET_BUCKET_ACL] = BKT_ACL("GetBucketAcl", GW_ACL_READ_ACP),
    [GW_ACT_PUT_BUCKET_ACL] = BKT_ACL("PutBucketAcl", GW_ACL_WRITE_ACP),
    [GW_ACT_GET_BUCKET_POLICY] = BKT("GetBucketPolicy"),
    [GW_ACT_PUT_BUCKET_POLICY] = BKT("PutBucketPolicy"),
    [GW_ACT_DELETE_BUCKET_POLICY] = BKT("DeleteBucketPolicy"),
    [GW_ACT_GET_BUCKET_POLICY_STATUS] = BKT("GetBucketPolicyStatus"),
    [GW_ACT_GET_BUCKET_TAGGING] = BKT("GetBucketTagging"),
    [GW_ACT_PUT_BUCKET_TAGGING] = BKT("PutBucketTagging"),
    [GW_ACT_GET_LIFECYCLE_CONFIGURATION] = BKT("GetLifecycleConfiguration"),
    [GW_ACT_PUT_LIFECYCLE_CONFIGURATION] = BKT("PutLifecycleConfiguration"),
    [GW_ACT_GET_BUCKET_CORS] = BKT("GetBucketCORS"),
    [GW_ACT_PUT_BUCKET_CORS] = BKT("PutBucketCORS"),
    [GW_ACT_GET_BUCKET_OBJECT_LOCK_CONFIGURATION] = BKT("GetBucketObjectLockConfiguration"),
    [GW_ACT_PUT_BUCKET_OBJECT_LOCK_CONFIGURATION] = BKT("PutBucketObjectLockConfiguration"),
    [GW_ACT_GET_BUCKET_OWNERSHIP_CONTROLS] = BKT("GetBucketOwnershipControls"),
    [GW_ACT_PUT_BUCKET_OWNERSHIP_CONTROLS] = BKT("PutBucketOwnershipControls"),
    [GW_ACT_DELETE_BUCKET_OWNERSHIP_CONTROLS] = BKT("DeleteBucketOwnershipControls"),
    [GW_ACT_GET_BUCKET_PUBLIC_ACCESS_BLOCK] = BKT("GetBucketPublicAccessBlock"),
    [GW_ACT_PUT_BUCKET_PUBLIC_ACCESS_BLOCK] = BKT("PutBucketPublicAccessBlock"),
    [GW_ACT_GET_ENCRYPTION_CONFIGURATION] = BKT("GetEncryptionConfiguration"),
    [GW_ACT_PUT_ENCRYPTION_CONFIGURATION] = BKT("PutEncryptionConfiguration"),
    [GW_ACT_GET_BUCKET_WEBSITE] = BKT("GetBucketWebsite"),
    [GW_ACT_PUT_BUCKET_WEBSITE] = BKT("PutBucketWebsite"),
    [GW_ACT_DELETE_BUCKET_WEBSITE] = BKT("DeleteBucketWebsite"),
    [GW_ACT_GET_BUCKET_LOGGING] = BKT("GetBucketLogging"),
    [GW_ACT_PUT_BUCKET_LOGGING] = BKT("PutBucketLogging"),
    [GW_ACT_GET_BUCKET_NOTIFICATION] = BKT("GetBucketNotification"),
    [GW_ACT_PUT_BUCKET_NOTIFICATION] = BKT("PutBucketNotification"),
    [GW_ACT_GET_BUCKET_REQUEST_PAYMENT] = BKT("GetBucketRequestPayment"),
    [GW_ACT_PUT_BUCKET_REQUEST_PAYMENT] = BKT("PutBucketRequestPayment"),
    [GW_ACT_GET_ACCELERATE_CONFIGURATION] = BKT("GetAccelerateConfiguration"),
    [GW_ACT_PUT_ACCELERATE_CONFIGURATION] = BKT("PutAccelerateConfiguration"),
    [GW_ACT_GET_REPLICATION_CONFIGURATION] = BKT("GetReplicationConfiguration"),
    [GW_ACT_PUT_REPLICATION_CONFIGURATION] = BKT("PutReplicationConfiguration"),
    [GW_ACT_GET_ANALYTICS_CONFIGURATION] = BKT("GetAnalyticsConfiguration"),
    [GW_ACT_PUT_ANALYTICS_CONFIGURATION] = BKT("PutAnalyticsConfiguration"),
    [GW_ACT_GET_INVENTORY_CONFIGURATION] = BKT("GetInventoryConfiguration"),
    [GW_ACT_PUT_INVENTORY_CONFIGURATION] = BKT("PutInventoryConfiguration"),
    [GW_ACT_GET_METRICS_CONFIGURATION] = BKT("GetMetricsConfiguration"),
    [GW_ACT_PUT_METRICS_CONFIGURATION] = BKT("PutMetricsConfiguration"),
    [GW_ACT_GET_INTELLIGENT_TIERING_CONFIGURATION] = BKT("GetIntelligentTieringConfiguration"),
    [GW_ACT_PUT_INTELLIGENT_TIERING_CONFIGURATION] = BKT("PutIntelligentTieringConfiguration"),

    [GW_ACT_GET_OBJECT] = OBJ_OACL("GetObject", GW_ACL_READ, OO),
    [GW_ACT_GET_OBJECT_VERSION] = OBJ_OACL("GetObjectVersion", GW_ACL_READ, OO),
    [GW_ACT_PUT_OBJECT] = OBJ_BACL("PutObject", GW_ACL_WRITE, BO | OO),
    [GW_ACT_DELETE_OBJECT] = OBJ_BACL("DeleteObject", GW_ACL_WRITE, BO | OO),
    [GW_ACT_DELETE_OBJECT_VERSION] = OBJ("DeleteObjectVersion", BO | OO),
    [GW_ACT_GET_OBJECT_ACL] = OBJ_OACL("GetObjectAcl", GW_ACL_READ_ACP, OO),
    [GW_ACT_PUT_OBJECT_ACL] = OBJ_OACL("PutObjectAcl", GW_ACL_WRITE_ACP, OO),
    [GW_ACT_GET_OBJECT_VERSION_ACL] = OBJ_OACL("GetObjectVersionAcl", GW_ACL_READ_ACP, OO),
    [GW_ACT_PUT_OBJECT_VERSION_ACL] = OBJ_OACL("PutObjectVersionAcl", GW_ACL_WRITE_ACP, OO),
    [GW_ACT_GET_OBJECT_TAGGING] = OBJ("GetObjectTagging", OO),
    [GW_ACT_PUT_OBJECT_TAGGING] = OBJ("PutObjectTagging", OO),
    [GW_ACT_DELETE_OBJECT_TAGGING] = OBJ("DeleteObjectTagging", OO),
    [GW_ACT_GET_OBJECT_VERSION_TAGGING] = OBJ("GetObjectVersionTagging", OO),
    [GW_ACT_PUT_OBJECT_VERSION_TAGGING] = OBJ("PutObjectVersionTagging", OO),
    [GW_ACT_DELETE_OBJECT_VERSION_TAGGING] = OBJ("DeleteObjectVersionTagging", OO),
    [GW_ACT_GET_OBJECT_RETENTION] = OBJ("GetObjectRetention", OO),
    [GW_ACT_PUT_OBJECT_RETENTION] = OBJ("PutObjectRetention", OO),
    [GW_ACT_GET_OBJECT_LEGAL_HOLD] = OBJ("GetObjectLegalHold", OO),
    [GW_ACT_PUT_OBJECT_LEGAL_HOLD] = OBJ("PutObjectLegalHold", OO),
    /* Lifting governance-mode retention is the bucket owner's call, not the
     * writer's: otherwise governance retention would not bind the writer. */
    [GW_ACT_BYPASS_GOVERNANCE_RETENTION] = OBJ("BypassGovernanceRetention", BO),
    [GW_ACT_GET_OBJECT_ATTRIBUTES] = OBJ("GetObjectAttributes", OO),
    [GW_ACT_GET_OBJECT_VERSION_ATTRIBUTES] = OBJ("GetObjectVersionAttributes", OO),
    [GW_ACT_GET_OBJECT_TORRENT] = OBJ_OACL("GetObjectTorrent", GW_ACL_READ, OO),
    [GW_ACT_GET_OBJECT_VERSION_TORRENT] = OBJ_OACL("GetObjectVersionTorrent", GW_ACL_READ, OO),
    [GW_ACT_RESTORE_OBJECT] = OBJ("RestoreObject", OO),
    [GW_ACT_ABORT_MULTIPART_UPLOAD] = OBJ_BACL("AbortMultipartUpload", GW_ACL_WRITE, BO | OO),
    [GW_ACT_LIST_MULTIPART_UPLOAD_PARTS] = OBJ("ListMultipartUploadParts", BO | OO),
    [GW_ACT_GET_OBJECT_VERSION_FOR_REPLICATION] = OBJ("GetObjectVersionForReplication", OO),
    [GW_ACT_REPLICATE_OBJECT] = OBJ("ReplicateObject", OO),
    [GW_ACT_REPLICATE_DELETE] = OBJ("ReplicateDelete", OO),
    [GW_ACT_REPLICATE_TAGS] = OBJ("ReplicateTags", OO),
    [GW_ACT_OBJECT_OWNER_OVERRIDE_TO_BUCKET_OWNER] = OBJ("ObjectOwnerOverrideToBucketOwner", OO),
};

static int action_valid(enum gw_authz_action a)
{
    return (int)a >= 0 && a < GW_ACT__COUNT;
}

const char *gw_authz_action_name(enum gw_authz_action a)
{
    return action_valid(a) ? actions[a].name : "";
}

int gw_authz_action_lookup(const char *name, enum gw_authz_action *out)
{
    if (!name)
        return CAIRN_E_NOTFOUND;
    for (int a = 0; a < GW_ACT__COUNT; a++) {
        if (strcasecmp(actions[a].name, name) == 0) {
            *out = (enum gw_authz_action)a;
            return 0;
        }
    }
    return CAIRN_E_NOTFOUND;
}

enum gw_authz_level gw_authz_action_level(enum gw_authz_action a)
{
    return action_valid(a) ? actions[a].level : (enum gw_authz_level)0;
}

enum gw_acl_perm gw_authz_action_acl(enum gw_authz_action a, int *on_object)
{
    if (on_object)
        *on_object = 0;
    if (!action_valid(a))
        return (enum gw_acl_perm)0;
    if (on_object)
        *on_object = actions[a].acl_on_object;
    return actions[a].acl;
}

const char *gw_authz_rule_name(enum gw_authz_rule r)
{
    static const char *const names[] = {
        [GW_AUTHZ_RULE_BAD_INPUT] = "bad-input",
        [GW_AUTHZ_RULE_OPERATOR] = "operator",
        [GW_AUTHZ_RULE_AUTHENTICATED] = "authenticated",
        [GW_AUTHZ_RULE_OWNER_POLICY_ACCESS] = "owner-policy-access",
        [GW_AUTHZ_RULE_POLICY_DENY] = "policy-deny",
        [GW_AUTHZ_RULE_POLICY_ALLOW] = "policy-allow",
        [GW_AUTHZ_RULE_BUCKET_OWNER] = "bucket-owner",
        [GW_AUTHZ_RULE_OBJECT_OWNER] = "object-owner",
        [GW_AUTHZ_RULE_BUCKET_ACL] = "bucket-acl",
        [GW_AUTHZ_RULE_OBJECT_ACL] = "object-acl",
        [GW_AUTHZ_RULE_IMPLICIT_DENY] = "implicit-deny",
    };
    if ((int)r < 0 || (size_t)r >= sizeof(names) / sizeof(names[0]) || !names[r])
        return "unknown";
    return names[r];
}

static struct gw_authz_result result(int allowed, enum gw_authz_rule rule, int statement)
{
    struct gw_authz_result r = {allowed, rule, statement};
    return r;
}

static int same_id(const char *a, const char *b)
{
    return a && b && a[0] && strcmp(a, b) == 0;
}

static int is_policy_action(enum gw_authz_action a)
{
    return a == GW_ACT_GET_BUCKET_POLICY || a == GW_ACT_PUT_BUCKET_POLICY ||
           a == GW_ACT_DELETE_BUCKET_POLICY;
}

struct gw_authz_result gw_authz_decide(const struct gw_authz_request *rq,
                                       const struct gw_authz_inputs *in)
{
    if (!rq || !in || !action_valid(rq->action))
        return result(0, GW_AUTHZ_RULE_BAD_INPUT, -1);
    const struct action_entry *act = &actions[rq->action];
    const struct gw_authz_principal *who = &rq->principal;
    if (who->is_operator)
        return result(1, GW_AUTHZ_RULE_OPERATOR, -1);
    /* A signed request always names its user and canonical id. */
    int anonymous = who->user == NULL;
    if (!anonymous && (!who->canonical_id || !who->canonical_id[0]))
        return result(0, GW_AUTHZ_RULE_BAD_INPUT, -1);
    const char *me = anonymous ? NULL : who->canonical_id;

    if (act->level == GW_AUTHZ_SERVICE)
        return anonymous ? result(0, GW_AUTHZ_RULE_IMPLICIT_DENY, -1)
                         : result(1, GW_AUTHZ_RULE_AUTHENTICATED, -1);
    if (!rq->bucket || !rq->bucket[0] || !in->bucket_owner || !in->bucket_owner[0])
        return result(0, GW_AUTHZ_RULE_BAD_INPUT, -1);
    if (act->level == GW_AUTHZ_OBJECT ? !rq->key : rq->key != NULL)
        return result(0, GW_AUTHZ_RULE_BAD_INPUT, -1);

    int bucket_owner = same_id(me, in->bucket_owner);
    if (bucket_owner && is_policy_action(rq->action))
        return result(1, GW_AUTHZ_RULE_OWNER_POLICY_ACCESS, -1);

    int stmt = -1;
    enum gw_policy_effect eff = in->policy ? gw_policy_eval(in->policy, rq, &stmt) : GW_POLICY_NONE;
    if (eff == GW_POLICY_DENY)
        return result(0, GW_AUTHZ_RULE_POLICY_DENY, stmt);
    if (eff == GW_POLICY_ALLOW)
        return result(1, GW_AUTHZ_RULE_POLICY_ALLOW, stmt);

    if (bucket_owner && (act->owners & BO))
        return result(1, GW_AUTHZ_RULE_BUCKET_OWNER, -1);
    int object_level = act->level == GW_AUTHZ_OBJECT;
    int object_exists = in->object_owner || in->object_owner_user;
    int object_owner =
        same_id(me, in->object_owner) || (!anonymous && same_id(who->user, in->object_owner_user));
    if (object_level && (act->owners & OO) && object_owner)
        return result(1, GW_AUTHZ_RULE_OBJECT_OWNER, -1);

    if (act->acl) {
        if (act->acl_on_object) {
            /* No object, no object ACL. */
            if (object_exists && gw_acl_allows(in->object_acl, me, act->acl))
                return result(1, GW_AUTHZ_RULE_OBJECT_ACL, -1);
        } else if (gw_acl_allows(in->bucket_acl, me, act->acl)) {
            return result(1, GW_AUTHZ_RULE_BUCKET_ACL, -1);
        }
    }
    return result(0, GW_AUTHZ_RULE_IMPLICIT_DENY, -1);
}

enum gw_s3err gw_authz_hide_missing(const struct gw_authz_request *rq,
                                    const struct gw_authz_inputs *in)
{
    if (!rq || !in)
        return GW_S3_ACCESS_DENIED;
    struct gw_authz_request list = *rq;
    list.action = GW_ACT_LIST_BUCKET;
    list.key = NULL;
    struct gw_authz_inputs bucket_only = {
        .bucket_owner = in->bucket_owner,
        .bucket_acl = in->bucket_acl,
        .policy = in->policy,
    };
    return gw_authz_decide(&list, &bucket_only).allowed ? GW_S3_NO_SUCH_KEY : GW_S3_ACCESS_DENIED;
}
