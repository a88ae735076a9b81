/* The authorization decision: the action table, then one table of requests
 * (owner / other user / anonymous / authenticated, every canned ACL,
 * explicit grants, bucket policies with Deny over Allow, ownership and ACLs,
 * IP and TLS conditions, s3:prefix) with the expected decision and rule,
 * then the missing-object rule. Bucket "photos" belongs to alice. */
#include "gw_authz.h"
#include "gw_policy.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET "photos"

enum who { NOBODY = 0, ALICE, BOB, CAROL, ANON, OPERATOR };

static const struct gw_acl_owner owners[] = {
    [ALICE] = {"c0ffee-alice", "alice"},
    [BOB] = {"c0ffee-bob", "bob"},
    [CAROL] = {"c0ffee-carol", "carol"},
};

static struct gw_authz_principal principal_of(enum who w)
{
    struct gw_authz_principal p = {0};
    if (w == OPERATOR) {
        p.user = "root";
        p.canonical_id = "c0ffee-root";
        p.is_operator = 1;
    } else if (w != ANON && w != NOBODY) {
        p.user = owners[w].display_name;
        p.canonical_id = owners[w].id;
    }
    return p;
}

START_TEST(test_action_table)
{
    for (int a = 0; a < GW_ACT__COUNT; a++) {
        const char *name = gw_authz_action_name((enum gw_authz_action)a);
        ck_assert_msg(strncmp(name, "s3:", 3) == 0 && strlen(name) > 5, "action %d: '%s'", a, name);
        enum gw_authz_action back;
        ck_assert_int_eq(gw_authz_action_lookup(name, &back), 0);
        ck_assert_int_eq(back, a);
        ck_assert_int_ne(gw_authz_action_level((enum gw_authz_action)a), 0);
        for (int b = 0; b < a; b++)
            ck_assert_str_ne(name, gw_authz_action_name((enum gw_authz_action)b));
        /* an ACL permission on the object only for object-level actions */
        int on_object = -1;
        enum gw_acl_perm perm = gw_authz_action_acl((enum gw_authz_action)a, &on_object);
        if (perm && on_object)
            ck_assert_int_eq(gw_authz_action_level((enum gw_authz_action)a), GW_AUTHZ_OBJECT);
    }
    enum gw_authz_action a;
    ck_assert_int_eq(gw_authz_action_lookup("S3:GETOBJECT", &a), 0);
    ck_assert_int_eq(a, GW_ACT_GET_OBJECT);
    ck_assert_int_eq(gw_authz_action_lookup("s3:GetBucketCors", &a), 0);
    ck_assert_int_eq(a, GW_ACT_GET_BUCKET_CORS);
    ck_assert_int_eq(gw_authz_action_lookup("GetObject", &a), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(gw_authz_action_lookup("s3:GetObjects", &a), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(gw_authz_action_lookup(NULL, &a), CAIRN_E_NOTFOUND);
    ck_assert_str_eq(gw_authz_action_name(GW_ACT__COUNT), "");
    ck_assert_str_eq(gw_authz_action_name(GW_ACT_LIST_MULTIPART_UPLOAD_PARTS),
                     "s3:ListMultipartUploadParts");
    ck_assert_int_eq(gw_authz_action_level(GW_ACT_LIST_ALL_MY_BUCKETS), GW_AUTHZ_SERVICE);
    ck_assert_int_eq(gw_authz_action_level(GW_ACT_PUT_BUCKET_CORS), GW_AUTHZ_BUCKET);
    ck_assert_int_eq(gw_authz_action_level(GW_ACT_ABORT_MULTIPART_UPLOAD), GW_AUTHZ_OBJECT);
    int on_object = -1;
    ck_assert_int_eq(gw_authz_action_acl(GW_ACT_PUT_OBJECT, &on_object), GW_ACL_WRITE);
    ck_assert_int_eq(on_object, 0);
    ck_assert_int_eq(gw_authz_action_acl(GW_ACT_GET_OBJECT_ACL, &on_object), GW_ACL_READ_ACP);
    ck_assert_int_eq(on_object, 1);
    ck_assert_int_eq(gw_authz_action_acl(GW_ACT_DELETE_BUCKET, &on_object), 0);
    ck_assert_str_eq(gw_authz_rule_name(GW_AUTHZ_RULE_POLICY_DENY), "policy-deny");
    ck_assert_str_eq(gw_authz_rule_name((enum gw_authz_rule)99), "unknown");
}
END_TEST

/* ---- the decision table ------------------------------------------------- */

struct row {
    enum who who;
    enum gw_authz_action action;
    const char *key;
    struct gw_acl_headers bucket_acl; /* none given: "private" */
    enum who object_owner;            /* NOBODY: no such object */
    struct gw_acl_headers object_acl; /* none given: "private" */
    const char *policy;               /* ' for " */
    const char *ip;
    int tls;
    const char *prefix; /* s3:prefix; NULL: absent */
    int allowed;
    enum gw_authz_rule rule;
};

#define R_OPERATOR  GW_AUTHZ_RULE_OPERATOR
#define R_AUTH      GW_AUTHZ_RULE_AUTHENTICATED
#define R_OWNER_POL GW_AUTHZ_RULE_OWNER_POLICY_ACCESS
#define R_P_DENY    GW_AUTHZ_RULE_POLICY_DENY
#define R_P_ALLOW   GW_AUTHZ_RULE_POLICY_ALLOW
#define R_BOWNER    GW_AUTHZ_RULE_BUCKET_OWNER
#define R_OOWNER    GW_AUTHZ_RULE_OBJECT_OWNER
#define R_BACL      GW_AUTHZ_RULE_BUCKET_ACL
#define R_OACL      GW_AUTHZ_RULE_OBJECT_ACL
#define R_IMPLICIT  GW_AUTHZ_RULE_IMPLICIT_DENY

#define CANNED(n)                                                                                  \
    {                                                                                              \
        .acl = n                                                                                   \
    }
#define NO_ACL                                                                                     \
    {                                                                                              \
        0                                                                                          \
    }

#define POL(stmt) "{'Version':'2012-10-17','Statement':[" stmt "]}"
#define P_BOB_GET_ARN                                                                              \
    POL("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::000000000000:user/bob'},"              \
        "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/*'}")
#define P_BOB_PUT_UP                                                                               \
    POL("{'Effect':'Allow','Principal':{'AWS':'bob'},'Action':'s3:PutObject',"                     \
        "'Resource':'arn:aws:s3:::photos/up/*'}")
#define P_BOB_ADMIN                                                                                \
    POL("{'Effect':'Allow','Principal':{'AWS':'bob'},'Action':['s3:DeleteBucket',"                 \
        "'s3:PutBucketVersioning','s3:PutBucketPolicy','s3:PutLifecycleConfiguration'],"           \
        "'Resource':'arn:aws:s3:::photos'}")
#define P_DENY_PRIVATE                                                                             \
    POL("{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':'arn:aws:s3:::photos/"        \
        "private/*'}")
#define P_DENY_ALL                                                                                 \
    POL("{'Effect':'Deny','Principal':'*','Action':'s3:*',"                                        \
        "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*']}")
#define P_LAN                                                                                      \
    POL("{'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"                               \
        "'Resource':'arn:aws:s3:::photos/*',"                                                      \
        "'Condition':{'IpAddress':{'aws:SourceIp':['192.168.1.0/24','2001:db8::/32']}}}")
#define P_ONLY_OFFICE                                                                              \
    POL("{'Effect':'Deny','Principal':'*','Action':'s3:*',"                                        \
        "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*'],"                              \
        "'Condition':{'NotIpAddress':{'aws:SourceIp':'203.0.113.0/24'}}}")
#define P_TLS_ONLY                                                                                 \
    POL("{'Effect':'Deny','Principal':'*','Action':'s3:*',"                                        \
        "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*'],"                              \
        "'Condition':{'Bool':{'aws:SecureTransport':'false'}}}")
#define P_HOME                                                                                     \
    POL("{'Effect':'Allow','Principal':{'AWS':['bob','carol']},'Action':'s3:ListBucket',"          \
        "'Resource':'arn:aws:s3:::photos',"                                                        \
        "'Condition':{'StringLike':{'s3:prefix':'home/${aws:username}/*'}}},"                      \
        "{'Effect':'Allow','Principal':{'AWS':['bob','carol']},'Action':['s3:GetObject',"          \
        "'s3:PutObject'],'Resource':'arn:aws:s3:::photos/home/${aws:username}/*'}")
#define P_ONLY_TEAM                                                                                \
    POL("{'Effect':'Deny','NotPrincipal':{'AWS':['alice','bob']},'Action':'s3:*',"                 \
        "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*']}")
#define P_ANON_GET_ALL                                                                             \
    POL("{'Effect':'Allow','Principal':{'AWS':'*'},'Action':'s3:Get*',"                            \
        "'Resource':'arn:aws:s3:::photos/*'}")

static const struct row rows[] = {
    /* owner, others, anonymous, operator on a private bucket */
    {ALICE, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_GET_BUCKET_ACL, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_DELETE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_PUT_BUCKET_POLICY, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_OWNER_POL},
    {ALICE, GW_ACT_PUT_BUCKET_CORS, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_PUT_OBJECT, "new", NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, NULL, NULL, 0, NULL, 1, R_OOWNER},
    {ALICE, GW_ACT_PUT_OBJECT_RETENTION, "a", NO_ACL, ALICE, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_OOWNER},
    {BOB, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {ANON, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_PUT_OBJECT, "x", NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_DELETE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {OPERATOR, GW_ACT_DELETE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_OPERATOR},
    {OPERATOR, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_DENY_ALL, NULL, 0, NULL, 1,
     R_OPERATOR},
    {ANON, GW_ACT_LIST_ALL_MY_BUCKETS, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {BOB, GW_ACT_LIST_ALL_MY_BUCKETS, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_AUTH},
    {BOB, GW_ACT_CREATE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1, R_AUTH},
    {ANON, GW_ACT_CREATE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},

    /* the bucket owner and objects other users wrote */
    {ALICE, GW_ACT_GET_OBJECT, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {ALICE, GW_ACT_DELETE_OBJECT, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_DELETE_OBJECT_VERSION, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_BOWNER},
    {ALICE, GW_ACT_PUT_OBJECT, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1, R_BOWNER},
    {ALICE, GW_ACT_GET_OBJECT, "b", NO_ACL, BOB, CANNED("bucket-owner-read"), NULL, NULL, 0, NULL,
     1, R_OACL},
    {ALICE, GW_ACT_GET_OBJECT_ACL, "b", NO_ACL, BOB, CANNED("bucket-owner-full-control"), NULL,
     NULL, 0, NULL, 1, R_OACL},
    {ALICE, GW_ACT_PUT_OBJECT_ACL, "b", NO_ACL, BOB, CANNED("bucket-owner-read"), NULL, NULL, 0,
     NULL, 0, R_IMPLICIT},
    {ALICE, GW_ACT_GET_OBJECT_TAGGING, "b", NO_ACL, BOB, CANNED("bucket-owner-full-control"), NULL,
     NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_GET_OBJECT, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1, R_OOWNER},
    {BOB, GW_ACT_PUT_OBJECT_TAGGING, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1, R_OOWNER},
    {BOB, GW_ACT_PUT_OBJECT, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1, R_OOWNER},
    {BOB, GW_ACT_BYPASS_GOVERNANCE_RETENTION, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {ALICE, GW_ACT_BYPASS_GOVERNANCE_RETENTION, "b", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_BOWNER},
    {ALICE, GW_ACT_ABORT_MULTIPART_UPLOAD, "u", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_BOWNER},
    {BOB, GW_ACT_LIST_MULTIPART_UPLOAD_PARTS, "u", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_OOWNER},
    {CAROL, GW_ACT_LIST_MULTIPART_UPLOAD_PARTS, "u", NO_ACL, BOB, NO_ACL, NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},

    /* canned bucket ACLs */
    {ANON, GW_ACT_LIST_BUCKET, NULL, CANNED("public-read"), NOBODY, NO_ACL, NULL, NULL, 0, NULL, 1,
     R_BACL},
    {ANON, GW_ACT_GET_OBJECT, "a", CANNED("public-read"), ALICE, NO_ACL, NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {BOB, GW_ACT_LIST_BUCKET_VERSIONS, NULL, CANNED("public-read"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 1, R_BACL},
    {ANON, GW_ACT_PUT_OBJECT, "x", CANNED("public-read"), NOBODY, NO_ACL, NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {ANON, GW_ACT_GET_BUCKET_ACL, NULL, CANNED("public-read"), NOBODY, NO_ACL, NULL, NULL, 0, NULL,
     0, R_IMPLICIT},
    {ANON, GW_ACT_PUT_OBJECT, "x", CANNED("public-read-write"), NOBODY, NO_ACL, NULL, NULL, 0, NULL,
     1, R_BACL},
    {ANON, GW_ACT_DELETE_OBJECT, "a", CANNED("public-read-write"), ALICE, NO_ACL, NULL, NULL, 0,
     NULL, 1, R_BACL},
    {ANON, GW_ACT_ABORT_MULTIPART_UPLOAD, "u", CANNED("public-read-write"), BOB, NO_ACL, NULL, NULL,
     0, NULL, 1, R_BACL},
    {ANON, GW_ACT_PUT_BUCKET_ACL, NULL, CANNED("public-read-write"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 0, R_IMPLICIT},
    {ANON, GW_ACT_LIST_BUCKET, NULL, CANNED("authenticated-read"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_LIST_BUCKET, NULL, CANNED("authenticated-read"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 1, R_BACL},
    {BOB, GW_ACT_LIST_BUCKET_MULTIPART_UPLOADS, NULL, CANNED("authenticated-read"), NOBODY, NO_ACL,
     NULL, NULL, 0, NULL, 1, R_BACL},
    {BOB, GW_ACT_PUT_OBJECT, "x", CANNED("log-delivery-write"), NOBODY, NO_ACL, NULL, NULL, 0, NULL,
     0, R_IMPLICIT},
    {ANON, GW_ACT_GET_BUCKET_ACL, NULL, CANNED("log-delivery-write"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_GET_BUCKET_LOCATION, NULL, CANNED("public-read-write"), NOBODY, NO_ACL, NULL, NULL,
     0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_DELETE_BUCKET, NULL, CANNED("public-read-write"), NOBODY, NO_ACL, NULL, NULL, 0,
     NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_PUT_BUCKET_VERSIONING, NULL, CANNED("public-read-write"), NOBODY, NO_ACL, NULL,
     NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_GET_LIFECYCLE_CONFIGURATION, NULL, CANNED("public-read-write"), NOBODY, NO_ACL,
     NULL, NULL, 0, NULL, 0, R_IMPLICIT},
    {BOB, GW_ACT_GET_BUCKET_POLICY, NULL, CANNED("public-read-write"), NOBODY, NO_ACL, NULL, NULL,
     0, NULL, 0, R_IMPLICIT},

    /* canned object ACLs (object of alice's, bucket private) */
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0, NULL, 1,
     R_OACL},
    {ANON, GW_ACT_GET_OBJECT_VERSION, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0,
     NULL, 1, R_OACL},
    {ANON, GW_ACT_GET_OBJECT_ACL, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {ANON, GW_ACT_PUT_OBJECT_ACL, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {ANON, GW_ACT_DELETE_OBJECT, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {BOB, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, CANNED("authenticated-read"), NULL, NULL, 0, NULL,
     1, R_OACL},
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, CANNED("authenticated-read"), NULL, NULL, 0, NULL,
     0, R_IMPLICIT},
    {ANON, GW_ACT_PUT_OBJECT, "a", NO_ACL, ALICE, CANNED("public-read-write"), NULL, NULL, 0, NULL,
     0, R_IMPLICIT},
    {BOB, GW_ACT_GET_OBJECT_TAGGING, "a", NO_ACL, ALICE, CANNED("public-read"), NULL, NULL, 0, NULL,
     0, R_IMPLICIT},

    /* explicit grants */
    {BOB,
     GW_ACT_PUT_OBJECT,
     "x",
     {.grant_write = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BACL},
    {CAROL,
     GW_ACT_PUT_OBJECT,
     "x",
     {.grant_write = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     0,
     R_IMPLICIT},
    {BOB,
     GW_ACT_GET_BUCKET_ACL,
     NULL,
     {.grant_read_acp = "id=\"c0ffee-bob\""},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BACL},
    {BOB,
     GW_ACT_PUT_BUCKET_ACL,
     NULL,
     {.grant_write_acp = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BACL},
    {BOB,
     GW_ACT_LIST_BUCKET,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BACL},
    {BOB,
     GW_ACT_DELETE_BUCKET,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     0,
     R_IMPLICIT},
    {BOB,
     GW_ACT_PUT_BUCKET_POLICY,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     0,
     R_IMPLICIT},
    {ANON,
     GW_ACT_LIST_BUCKET,
     NULL,
     {.grant_read = "uri=" GW_ACL_URI_ALL_USERS},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BACL},
    {BOB,
     GW_ACT_GET_OBJECT_ACL,
     "a",
     NO_ACL,
     ALICE,
     {.grant_read_acp = "id=c0ffee-bob"},
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_OACL},
    {BOB,
     GW_ACT_PUT_OBJECT_ACL,
     "a",
     NO_ACL,
     ALICE,
     {.grant_write_acp = "id=c0ffee-bob"},
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_OACL},
    {BOB,
     GW_ACT_GET_OBJECT,
     "a",
     NO_ACL,
     ALICE,
     {.grant_full_control = "id=c0ffee-bob"},
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_OACL},
    {BOB,
     GW_ACT_DELETE_OBJECT,
     "a",
     NO_ACL,
     ALICE,
     {.grant_full_control = "id=c0ffee-bob"},
     NULL,
     NULL,
     0,
     NULL,
     0,
     R_IMPLICIT},
    /* the owner keeps its ACL rights when its own ACL leaves it out */
    {ALICE,
     GW_ACT_GET_BUCKET_ACL,
     NULL,
     {.grant_read = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BOWNER},
    {ALICE,
     GW_ACT_PUT_BUCKET_ACL,
     NULL,
     {.grant_read = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_BOWNER},
    {BOB,
     GW_ACT_PUT_OBJECT_ACL,
     "b",
     NO_ACL,
     BOB,
     {.grant_read = "id=c0ffee-carol"},
     NULL,
     NULL,
     0,
     NULL,
     1,
     R_OOWNER},

    /* bucket policies: allow to another user by ARN and by name */
    {BOB, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_BOB_GET_ARN, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {CAROL, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_BOB_GET_ARN, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {BOB, GW_ACT_GET_OBJECT, "missing", NO_ACL, NOBODY, NO_ACL, P_BOB_GET_ARN, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {BOB, GW_ACT_PUT_OBJECT, "up/x", NO_ACL, NOBODY, NO_ACL, P_BOB_PUT_UP, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {BOB, GW_ACT_PUT_OBJECT, "other/x", NO_ACL, NOBODY, NO_ACL, P_BOB_PUT_UP, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {BOB, GW_ACT_DELETE_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_BOB_ADMIN, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {BOB, GW_ACT_PUT_BUCKET_VERSIONING, NULL, NO_ACL, NOBODY, NO_ACL, P_BOB_ADMIN, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {BOB, GW_ACT_PUT_BUCKET_POLICY, NULL, NO_ACL, NOBODY, NO_ACL, P_BOB_ADMIN, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {CAROL, GW_ACT_PUT_LIFECYCLE_CONFIGURATION, NULL, NO_ACL, NOBODY, NO_ACL, P_BOB_ADMIN, NULL, 0,
     NULL, 0, R_IMPLICIT},
    /* explicit deny of a prefix wins over ownership, ACLs and allows */
    {ALICE, GW_ACT_GET_OBJECT, "private/x", NO_ACL, ALICE, NO_ACL, P_DENY_PRIVATE, NULL, 0, NULL, 0,
     R_P_DENY},
    {ALICE, GW_ACT_DELETE_OBJECT, "private/x", NO_ACL, ALICE, NO_ACL, P_DENY_PRIVATE, NULL, 0, NULL,
     0, R_P_DENY},
    {ANON, GW_ACT_GET_OBJECT, "private/x", NO_ACL, ALICE, CANNED("public-read"), P_DENY_PRIVATE,
     NULL, 0, NULL, 0, R_P_DENY},
    {ALICE, GW_ACT_GET_OBJECT, "public/x", NO_ACL, ALICE, NO_ACL, P_DENY_PRIVATE, NULL, 0, NULL, 1,
     R_OOWNER},
    {ALICE, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_DENY_PRIVATE, NULL, 0, NULL, 1,
     R_BOWNER},
    /* ... but never locks the bucket owner out of the policy itself */
    {ALICE, GW_ACT_DELETE_BUCKET_POLICY, NULL, NO_ACL, NOBODY, NO_ACL, P_DENY_ALL, NULL, 0, NULL, 1,
     R_OWNER_POL},
    {ALICE, GW_ACT_GET_BUCKET_POLICY, NULL, NO_ACL, NOBODY, NO_ACL, P_DENY_ALL, NULL, 0, NULL, 1,
     R_OWNER_POL},
    {ALICE, GW_ACT_PUT_BUCKET_ACL, NULL, NO_ACL, NOBODY, NO_ACL, P_DENY_ALL, NULL, 0, NULL, 0,
     R_P_DENY},
    {BOB,
     GW_ACT_PUT_BUCKET_POLICY,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     P_DENY_ALL,
     NULL,
     0,
     NULL,
     0,
     R_P_DENY},
    /* IP conditions (IPv4 and IPv6), NotIpAddress */
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_LAN, "192.168.1.5", 0, NULL, 1,
     R_P_ALLOW},
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_LAN, "10.0.0.1", 0, NULL, 0,
     R_IMPLICIT},
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_LAN, "2001:db8:1::5", 0, NULL, 1,
     R_P_ALLOW},
    {ANON, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_LAN, "2001:db9::5", 0, NULL, 0,
     R_IMPLICIT},
    {BOB,
     GW_ACT_LIST_BUCKET,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     P_ONLY_OFFICE,
     "198.51.100.7",
     0,
     NULL,
     0,
     R_P_DENY},
    {BOB,
     GW_ACT_LIST_BUCKET,
     NULL,
     {.grant_full_control = "id=c0ffee-bob"},
     NOBODY,
     NO_ACL,
     P_ONLY_OFFICE,
     "203.0.113.9",
     0,
     NULL,
     1,
     R_BACL},
    {ALICE, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_ONLY_OFFICE, "::ffff:203.0.113.9", 0,
     NULL, 1, R_OOWNER},
    /* aws:SecureTransport */
    {ALICE, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_TLS_ONLY, NULL, 0, NULL, 0,
     R_P_DENY},
    {ALICE, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_TLS_ONLY, NULL, 1, NULL, 1,
     R_BOWNER},
    /* s3:prefix on ListBucket, home directories with ${aws:username} */
    {BOB, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_HOME, NULL, 0, "home/bob/", 1,
     R_P_ALLOW},
    {BOB, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_HOME, NULL, 0, "home/carol/", 0,
     R_IMPLICIT},
    {BOB, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_HOME, NULL, 0, "", 0, R_IMPLICIT},
    {CAROL, GW_ACT_PUT_OBJECT, "home/carol/a", NO_ACL, NOBODY, NO_ACL, P_HOME, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {CAROL, GW_ACT_GET_OBJECT, "home/bob/a", NO_ACL, BOB, NO_ACL, P_HOME, NULL, 0, NULL, 0,
     R_IMPLICIT},
    /* NotPrincipal: everyone but the team is denied, even with an ACL grant */
    {CAROL, GW_ACT_LIST_BUCKET, NULL, CANNED("public-read"), NOBODY, NO_ACL, P_ONLY_TEAM, NULL, 0,
     NULL, 0, R_P_DENY},
    {ANON, GW_ACT_LIST_BUCKET, NULL, CANNED("public-read"), NOBODY, NO_ACL, P_ONLY_TEAM, NULL, 0,
     NULL, 0, R_P_DENY},
    {BOB, GW_ACT_LIST_BUCKET, NULL, CANNED("public-read"), NOBODY, NO_ACL, P_ONLY_TEAM, NULL, 0,
     NULL, 1, R_BACL},
    /* wildcard actions; "*" principals cover signed users too */
    {ANON, GW_ACT_GET_OBJECT_TAGGING, "a", NO_ACL, ALICE, NO_ACL, P_ANON_GET_ALL, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {BOB, GW_ACT_GET_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_ANON_GET_ALL, NULL, 0, NULL, 1,
     R_P_ALLOW},
    {ANON, GW_ACT_PUT_OBJECT, "a", NO_ACL, ALICE, NO_ACL, P_ANON_GET_ALL, NULL, 0, NULL, 0,
     R_IMPLICIT},
    {ANON, GW_ACT_LIST_BUCKET, NULL, NO_ACL, NOBODY, NO_ACL, P_ANON_GET_ALL, NULL, 0, NULL, 0,
     R_IMPLICIT},
};

/* ' -> " */
static struct gw_policy *policy_of(const char *sq)
{
    static char buf[GW_POLICY_MAX_SIZE];
    size_t n = strlen(sq);
    ck_assert_uint_lt(n, sizeof(buf));
    for (size_t i = 0; i <= n; i++)
        buf[i] = sq[i] == '\'' ? '"' : sq[i];
    struct gw_policy *p = NULL;
    char err[GW_POLICY_ERR_MAX];
    int rc = gw_policy_parse(buf, n, BUCKET, &p, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %s", err, buf);
    return p;
}

static struct gw_acl *acl_of(const struct gw_acl_headers *h, enum who owner)
{
    struct gw_acl_headers dflt = {.acl = "private"};
    int none = !h->acl && !h->grant_read && !h->grant_write && !h->grant_read_acp &&
               !h->grant_write_acp && !h->grant_full_control;
    struct gw_acl *acl = NULL;
    enum gw_s3err err;
    int rc =
        gw_acl_from_headers(none ? &dflt : h, &owners[owner], &owners[ALICE], &acl, &err, NULL);
    ck_assert_msg(rc == 0 && acl, "acl: %s", gw_s3err_code(err));
    return acl;
}

START_TEST(test_decision_table)
{
    size_t n = sizeof(rows) / sizeof(rows[0]);
    ck_assert_uint_ge(n, 80);
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        struct gw_acl *bucket_acl = acl_of(&r->bucket_acl, ALICE);
        struct gw_acl *object_acl =
            r->object_owner ? acl_of(&r->object_acl, r->object_owner) : NULL;
        struct gw_policy *policy = r->policy ? policy_of(r->policy) : NULL;
        struct gw_authz_kv kv[] = {{"s3:prefix", r->prefix}};
        enum gw_authz_level level = gw_authz_action_level(r->action);
        struct gw_authz_request rq = {
            .principal = principal_of(r->who),
            .action = r->action,
            .bucket = level == GW_AUTHZ_SERVICE ? NULL : BUCKET,
            .key = r->key,
            .source_ip = r->ip,
            .secure_transport = r->tls,
            .now_ms = 1700000000000,
            .ctx = kv,
            .n_ctx = r->prefix ? 1 : 0,
        };
        struct gw_authz_inputs in = {
            .bucket_owner = level == GW_AUTHZ_SERVICE ? NULL : owners[ALICE].id,
            .bucket_acl = bucket_acl,
            .object_owner = r->object_owner ? owners[r->object_owner].id : NULL,
            .object_acl = object_acl,
            .policy = policy,
        };
        struct gw_authz_result res = gw_authz_decide(&rq, &in);
        ck_assert_msg(res.allowed == r->allowed && res.rule == r->rule,
                      "row %zu (who %d, %s %s): got %s/%s want %s/%s", i, r->who,
                      gw_authz_action_name(r->action), r->key ? r->key : "-",
                      res.allowed ? "allow" : "deny", gw_authz_rule_name(res.rule),
                      r->allowed ? "allow" : "deny", gw_authz_rule_name(r->rule));
        int policy_rule = res.rule == R_P_ALLOW || res.rule == R_P_DENY;
        ck_assert_msg(policy_rule ? res.statement >= 0 : res.statement == -1, "row %zu stmt %d", i,
                      res.statement);
        gw_policy_free(policy);
        gw_acl_free(bucket_acl);
        gw_acl_free(object_acl);
    }
}
END_TEST

START_TEST(test_bad_input)
{
    struct gw_authz_inputs in = {.bucket_owner = "c0ffee-alice"};
    struct gw_authz_request rq = {
        .principal = principal_of(ALICE), .action = GW_ACT_LIST_BUCKET, .bucket = BUCKET};
    ck_assert_int_eq(gw_authz_decide(&rq, &in).allowed, 1);
    struct {
        struct gw_authz_request rq;
        struct gw_authz_inputs in;
    } bad[] = {
        {rq, in}, {rq, in}, {rq, in}, {rq, in}, {rq, in}, {rq, in},
    };
    bad[0].rq.action = GW_ACT__COUNT;
    bad[1].rq.bucket = NULL;
    bad[2].rq.key = "k";                  /* bucket-level action with a key */
    bad[3].rq.action = GW_ACT_GET_OBJECT; /* object-level action without one */
    bad[4].in.bucket_owner = NULL;
    bad[5].rq.principal.canonical_id = NULL; /* signed but no canonical id */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_authz_result res = gw_authz_decide(&bad[i].rq, &bad[i].in);
        ck_assert_msg(!res.allowed && res.rule == GW_AUTHZ_RULE_BAD_INPUT, "case %zu", i);
    }
    ck_assert_int_eq(gw_authz_decide(NULL, &in).allowed, 0);
    ck_assert_int_eq(gw_authz_decide(&rq, NULL).allowed, 0);
    /* the operator needs nothing else */
    bad[4].rq.principal = principal_of(OPERATOR);
    ck_assert_int_eq(gw_authz_decide(&bad[4].rq, &bad[4].in).allowed, 1);
}
END_TEST

/* Object owners given by user name (ObjectRecord.owner) instead of id. */
START_TEST(test_owner_by_name)
{
    struct gw_acl *object_acl = acl_of(&(struct gw_acl_headers){.acl = "public-read"}, BOB);
    static const struct {
        enum who who;
        enum gw_authz_action action;
        const char *owner_user;
        int allowed;
        enum gw_authz_rule rule;
    } cases[] = {
        {BOB, GW_ACT_PUT_OBJECT_TAGGING, "bob", 1, R_OOWNER},
        {CAROL, GW_ACT_PUT_OBJECT_TAGGING, "bob", 0, R_IMPLICIT},
        {ANON, GW_ACT_GET_OBJECT, "bob", 1, R_OACL}, /* the object exists: its ACL counts */
        {ANON, GW_ACT_PUT_OBJECT_ACL, "bob", 0, R_IMPLICIT},
        {ALICE, GW_ACT_DELETE_OBJECT, "bob", 1, R_BOWNER},
        /* a user named like someone's canonical id is not that someone */
        {BOB, GW_ACT_PUT_OBJECT_TAGGING, "c0ffee-bob", 0, R_IMPLICIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_authz_request rq = {
            .principal = principal_of(cases[i].who),
            .action = cases[i].action,
            .bucket = BUCKET,
            .key = "k",
        };
        struct gw_authz_inputs in = {
            .bucket_owner = owners[ALICE].id,
            .object_owner_user = cases[i].owner_user,
            .object_acl = object_acl,
        };
        struct gw_authz_result res = gw_authz_decide(&rq, &in);
        ck_assert_msg(res.allowed == cases[i].allowed && res.rule == cases[i].rule, "case %zu: %s",
                      i, gw_authz_rule_name(res.rule));
    }
    gw_acl_free(object_acl);
}
END_TEST

START_TEST(test_hide_missing)
{
    static const struct {
        enum who who;
        struct gw_acl_headers bucket_acl;
        const char *policy;
        enum gw_s3err want;
    } cases[] = {
        {ALICE, NO_ACL, NULL, GW_S3_NO_SUCH_KEY},
        {BOB, NO_ACL, NULL, GW_S3_ACCESS_DENIED},
        {ANON, NO_ACL, NULL, GW_S3_ACCESS_DENIED},
        {ANON, CANNED("public-read"), NULL, GW_S3_NO_SUCH_KEY},
        {BOB, CANNED("authenticated-read"), NULL, GW_S3_NO_SUCH_KEY},
        {BOB, NO_ACL, P_BOB_GET_ARN, GW_S3_ACCESS_DENIED}, /* GetObject alone is not enough */
        {BOB, NO_ACL,
         POL("{'Effect':'Allow','Principal':{'AWS':'bob'},'Action':'s3:ListBucket',"
             "'Resource':'arn:aws:s3:::photos'}"),
         GW_S3_NO_SUCH_KEY},
        {BOB, CANNED("public-read"), P_ONLY_OFFICE, GW_S3_ACCESS_DENIED},
        {OPERATOR, NO_ACL, NULL, GW_S3_NO_SUCH_KEY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_acl *bucket_acl = acl_of(&cases[i].bucket_acl, ALICE);
        struct gw_policy *policy = cases[i].policy ? policy_of(cases[i].policy) : NULL;
        struct gw_authz_request rq = {
            .principal = principal_of(cases[i].who),
            .action = GW_ACT_GET_OBJECT,
            .bucket = BUCKET,
            .key = "no-such-key",
            .source_ip = "198.51.100.1",
        };
        struct gw_authz_inputs in = {
            .bucket_owner = owners[ALICE].id,
            .bucket_acl = bucket_acl,
            .policy = policy,
        };
        ck_assert_msg(gw_authz_hide_missing(&rq, &in) == cases[i].want, "case %zu", i);
        gw_policy_free(policy);
        gw_acl_free(bucket_acl);
    }
    ck_assert_int_eq(gw_authz_hide_missing(NULL, NULL), GW_S3_ACCESS_DENIED);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_authz");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_action_table);
    tcase_add_test(tc, test_decision_table);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_owner_by_name);
    tcase_add_test(tc, test_hide_missing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
