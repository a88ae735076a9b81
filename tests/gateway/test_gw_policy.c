/* Bucket policies: parsing (valid documents, S3's MalformedPolicy errors),
 * evaluation (principals, actions, resources, every condition operator,
 * policy variables), and a mutation fuzz of the parser. Policies are written
 * with ' for " to keep them readable. */
#include "gw_mutate.h"
#include "gw_policy.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET "photos"

/* ' -> " */
static void to_json(const char *sq, char *out, size_t cap)
{
    size_t n = strlen(sq);
    ck_assert_uint_lt(n, cap);
    for (size_t i = 0; i <= n; i++)
        out[i] = sq[i] == '\'' ? '"' : sq[i];
}

static int parse(const char *sq, struct gw_policy **p, char *err)
{
    static char buf[GW_POLICY_MAX_SIZE * 2];
    to_json(sq, buf, sizeof(buf));
    return gw_policy_parse(buf, strlen(buf), BUCKET, p, err, GW_POLICY_ERR_MAX);
}

static struct gw_policy *must_parse(const char *sq)
{
    struct gw_policy *p = NULL;
    char err[GW_POLICY_ERR_MAX];
    int rc = parse(sq, &p, err);
    ck_assert_msg(rc == 0, "parse failed (%s): %s", err, sq);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const char *canonical_of(const char *user)
{
    if (!user)
        return NULL;
    if (strcmp(user, "alice") == 0)
        return "c0ffee-alice";
    if (strcmp(user, "bob") == 0)
        return "c0ffee-bob";
    return "c0ffee-other";
}

/* ---- parsing ------------------------------------------------------------ */

START_TEST(test_parse_valid)
{
    static const struct {
        const char *doc;
        size_t statements;
        const char *sid0;
    } rows[] = {
        /* AWS's "Granting read-only permission to a public anonymous user" */
        {"{'Version':'2012-10-17','Statement':[{'Sid':'PublicRead','Effect':'Allow',"
         "'Principal':'*','Action':['s3:GetObject','s3:GetObjectVersion'],"
         "'Resource':['arn:aws:s3:::photos/*']}]}",
         1, "PublicRead"},
        /* statement as an object, no Version, no Sid */
        {"{'Statement':{'Effect':'Deny','Principal':{'AWS':'*'},'Action':'s3:*',"
         "'Resource':'*'}}",
         1, ""},
        /* ListBucket with s3:prefix, IP conditions, NotPrincipal, NotAction, NotResource */
        {"{'Version':'2012-10-17','Id':'x','Statement':["
         "{'Sid':'A','Effect':'Allow','Principal':{'AWS':['bob','arn:aws:iam::1:user/x/carol']},"
         "'Action':'s3:ListBucket','Resource':'arn:aws:s3:::photos',"
         "'Condition':{'StringLike':{'s3:prefix':['home/${aws:username}/*','']}}},"
         "{'Sid':'B','Effect':'Deny','NotPrincipal':{'CanonicalUser':'c0ffee-alice'},"
         "'NotAction':['s3:Get*','s3:List*'],'NotResource':'arn:aws:s3:::photos/public/*',"
         "'Condition':{'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32']},"
         "'Bool':{'aws:SecureTransport':false}}},"
         "{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::photos*',"
         "'Condition':{'NumericLessThanEquals':{'s3:max-keys':10},"
         "'DateLessThan':{'aws:CurrentTime':'2030-01-01T00:00:00Z'},"
         "'StringEqualsIfExists':{'s3:x-amz-acl':'private'},"
         "'Null':{'s3:x-amz-server-side-encryption':'true'},"
         "'ForAnyValue:StringLike':{'s3:ExistingObjectTag/team':'a*'}}}]}",
         3, "A"},
        /* 2008 version, case-insensitive action names, ? wildcard, bucket wildcard */
        {"{'Version':'2008-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':'*'},"
         "'Action':['S3:GETOBJECT','s3:?utObject'],'Resource':'arn:aws:s3:::pho?os/*'}]}",
         1, ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gw_policy *p = must_parse(rows[i].doc);
        ck_assert_uint_eq(gw_policy_statement_count(p), rows[i].statements);
        ck_assert_str_eq(gw_policy_statement_sid(p, 0), rows[i].sid0);
        ck_assert_str_eq(gw_policy_statement_sid(p, 99), "");
        gw_policy_free(p);
    }
    gw_policy_free(NULL);
}
END_TEST

#define S(stmt)   "{'Version':'2012-10-17','Statement':[" stmt "]}"
#define GOOD_HEAD "'Effect':'Allow','Principal':'*',"

START_TEST(test_parse_malformed)
{
    static const struct {
        const char *doc;
        const char *msg;
    } rows[] = {
        {"", "Policies must be valid JSON and the first byte must be '{'"},
        {" {}", "Policies must be valid JSON and the first byte must be '{'"},
        {"[{}]", "Policies must be valid JSON and the first byte must be '{'"},
        {"{", "This policy contains invalid Json"},
        {"{'Statement':[]} trailing", "This policy contains invalid Json"},
        {"{'Statement':[],'Statement':[]}", "This policy contains invalid Json"},
        {"{}", "Missing required field Statement"},
        {"{'Statement':[]}", "Could not parse the policy: Statement is empty!"},
        {"{'Statement':'x'}", "This policy contains invalid Json"},
        {"{'Version':'2011-01-01','Statement':[]}",
         "The policy must contain a valid version string"},
        {"{'Version':20121017,'Statement':[]}", "The policy must contain a valid version string"},
        {"{'Statements':[]}", "Unknown field Statements"},
        {S("{'Principal':'*','Action':'s3:GetObject','Resource':'*'}"),
         "Missing required field Effect"},
        {S("{'Effect':'Permit','Principal':'*','Action':'s3:GetObject','Resource':'*'}"),
         "Invalid effect: Permit"},
        {S("{'Effect':'allow','Principal':'*','Action':'s3:GetObject','Resource':'*'}"),
         "Invalid effect: allow"},
        {S("{'Effect':'Allow','Action':'s3:GetObject','Resource':'*'}"),
         "Missing required field Principal"},
        {S("{'Effect':'Allow','Principal':'bob','Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{'Service':'logging.s3.amazonaws.com'},"
           "'Action':'s3:PutObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::123456789012:role/r'},"
           "'Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::123456789012:root'},"
           "'Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{'AWS':[]},'Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{'AWS':'bo*'},'Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':{},'Action':'s3:GetObject','Resource':'*'}"),
         "Invalid principal in policy"},
        {S("{'Effect':'Allow','Principal':'*','NotPrincipal':'*','Action':'s3:GetObject',"
           "'Resource':'*'}"),
         "A statement cannot have both Principal and NotPrincipal"},
        {S("{" GOOD_HEAD "'Resource':'*'}"), "Missing required field Action"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObjekt','Resource':'*'}"), "Policy has invalid action"},
        {S("{" GOOD_HEAD "'Action':'iam:CreateUser','Resource':'*'}"), "Policy has invalid action"},
        {S("{" GOOD_HEAD "'Action':'s3:Get Object','Resource':'*'}"), "Policy has invalid action"},
        {S("{" GOOD_HEAD "'Action':'s3:','Resource':'*'}"), "Policy has invalid action"},
        {S("{" GOOD_HEAD "'Action':[],'Resource':'*'}"), "Policy has invalid action"},
        {S("{" GOOD_HEAD "'Action':42,'Resource':'*'}"), "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':['s3:GetObject',7],'Resource':'*'}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject'}"), "Missing required field Resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::other/*'}"),
         "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'photos/*'}"),
         "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::/photos'}"),
         "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::'}"),
         "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::x*/*'}"),
         "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':[]}"), "Policy has invalid resource"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos'}"),
         "Action does not apply to any resource(s) in statement"},
        {S("{" GOOD_HEAD "'Action':'s3:ListBucket','Resource':'arn:aws:s3:::photos/*'}"),
         "Action does not apply to any resource(s) in statement"},
        {S("{" GOOD_HEAD "'Action':'s3:ListAllMyBuckets','Resource':'arn:aws:s3:::photos'}"),
         "Action does not apply to any resource(s) in statement"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEqualz':{'s3:prefix':'a'}}}"),
         "Invalid Condition type : StringEqualz"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'stringequals':{'aws:username':'a'}}}"),
         "Invalid Condition type : stringequals"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'NullIfExists':{'aws:username':'true'}}}"),
         "Invalid Condition type : NullIfExists"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'s3:foo':'a'}}}"),
         "Policy has an invalid condition key"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'ec2:Region':'a'}}}"),
         "Policy has an invalid condition key"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'s3:ExistingObjectTag/':'a'}}}"),
         "Policy has an invalid condition key"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}}"),
         "Invalid IP address in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','bogus']}}}"),
         "Invalid IP address in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'NotIpAddress':{'aws:SourceIp':'2001:db8::/129'}}}"),
         "Invalid IP address in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'NumericLessThan':{'s3:max-keys':'ten'}}}"),
         "Invalid value in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'DateLessThan':{'aws:CurrentTime':'2024-02-30'}}}"),
         "Invalid value in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'aws:username':[]}}}"),
         "Invalid value in Conditions"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'aws:username':{'a':'b'}}}}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringEquals':{'aws:username':99999999999999999999999}}}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*',"
           "'Condition':{'StringLike':{'s3:prefix':'home/*'}}}"),
         "Conditions do not apply to combination of actions and resources in statement"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*','Condition':'x'}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*','Foo':1}"), "Unknown field Foo"},
        {S("{'Sid':'a'," GOOD_HEAD "'Action':'s3:GetObject','Resource':'*'},"
           "{'Sid':'a'," GOOD_HEAD "'Action':'s3:GetObject','Resource':'*'}"),
         "Statement IDs (SID) in a single policy must be unique"},
        {S("{'Sid':5," GOOD_HEAD "'Action':'s3:GetObject','Resource':'*'}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'*'}, 3"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/\\u0000'}"),
         "This policy contains invalid Json"},
        {S("{" GOOD_HEAD "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/\xc3'}"),
         "This policy contains invalid Json"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gw_policy *p = (struct gw_policy *)1;
        char err[GW_POLICY_ERR_MAX];
        int rc = parse(rows[i].doc, &p, err);
        ck_assert_msg(rc == CAIRN_E_INVAL, "row %zu accepted: %s", i, rows[i].doc);
        ck_assert_ptr_null(p);
        ck_assert_msg(strcmp(err, rows[i].msg) == 0, "row %zu: got '%s' want '%s'", i, err,
                      rows[i].msg);
    }
    ck_assert_uint_ge(sizeof(rows) / sizeof(rows[0]), 25);
}
END_TEST

START_TEST(test_parse_limits)
{
    static char doc[GW_POLICY_MAX_SIZE + 64];
    char err[GW_POLICY_ERR_MAX];
    struct gw_policy *p = NULL;
    /* Exactly 20480 bytes parse; one more byte is refused. */
    const char *head = "{'Statement':{'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"
                       "'Resource':'*','Sid':'";
    char sq[GW_POLICY_MAX_SIZE + 64];
    size_t hl = strlen(head);
    memcpy(sq, head, hl);
    size_t pad = GW_POLICY_MAX_SIZE - hl - 3;
    memset(sq + hl, 'x', pad);
    strcpy(sq + hl + pad, "'}}");
    ck_assert_uint_eq(strlen(sq), GW_POLICY_MAX_SIZE);
    ck_assert_int_eq(parse(sq, &p, err), 0);
    gw_policy_free(p);
    memmove(sq + hl + 1, sq + hl, strlen(sq + hl) + 1);
    ck_assert_int_eq(parse(sq, &p, err), CAIRN_E_INVAL);
    ck_assert_str_eq(err, "Policy exceeds the maximum allowed document size.");

    /* Statement count. */
    size_t n = 0;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"Statement\":[");
    for (int i = 0; i <= GW_POLICY_MAX_STATEMENTS; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n,
                              "%s{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                              "\"Resource\":\"*\"}",
                              i ? "," : "");
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]}");
    ck_assert_uint_le(n, GW_POLICY_MAX_SIZE);
    ck_assert_int_eq(gw_policy_parse(doc, n, BUCKET, &p, err, sizeof(err)), CAIRN_E_INVAL);
    ck_assert_str_eq(err, "Policy has too many statements");

    /* Values in one list. */
    n = (size_t)snprintf(doc, sizeof(doc),
                         "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
                         "\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":"
                         "{\"IpAddress\":{\"aws:SourceIp\":[");
    for (int i = 0; i <= GW_POLICY_MAX_VALUES; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s\"1.1.%d.%d\"", i ? "," : "", i / 256,
                              i % 256);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]}}}]}");
    ck_assert_uint_le(n, GW_POLICY_MAX_SIZE);
    ck_assert_int_eq(gw_policy_parse(doc, n, BUCKET, &p, err, sizeof(err)), CAIRN_E_INVAL);
    ck_assert_str_eq(err, "Policy has too many values in a list");

    /* Deep nesting is invalid JSON, not a crash. */
    n = (size_t)snprintf(doc, sizeof(doc), "{\"Statement\":");
    while (n < GW_POLICY_MAX_SIZE - 10)
        doc[n++] = '[';
    ck_assert_int_eq(gw_policy_parse(doc, n, BUCKET, &p, err, sizeof(err)), CAIRN_E_INVAL);
    ck_assert_str_eq(err, "This policy contains invalid Json");

    /* Error buffer contract: truncated, NUL-terminated; errlen 0 allowed. */
    char small[8];
    ck_assert_int_eq(gw_policy_parse("{}", 2, BUCKET, &p, small, sizeof(small)), CAIRN_E_INVAL);
    ck_assert_str_eq(small, "Missing");
    ck_assert_int_eq(gw_policy_parse("{}", 2, BUCKET, &p, NULL, 0), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_policy_parse("{}", 2, NULL, &p, err, sizeof(err)), CAIRN_E_INVAL);
}
END_TEST

/* ---- evaluation ---------------------------------------------------------- */

struct eval_row {
    const char *policy;
    const char *user; /* NULL: anonymous */
    const char *action;
    const char *key;
    const char *ip;
    int tls;
    const char *prefix; /* s3:prefix in the context; NULL: absent */
    enum gw_policy_effect want;
    int want_stmt;
};

#define ALLOW GW_POLICY_ALLOW
#define DENY  GW_POLICY_DENY
#define NONE  GW_POLICY_NONE

/* Allow bob to read, deny everyone writes under private/. */
#define P_BOB_READ                                                                                 \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Sid':'bobread','Effect':'Allow','Principal':{'AWS':'arn:aws:iam::123456789012:user/bob'},"  \
    "'Action':['s3:GetObject','s3:ListBucket'],"                                                   \
    "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*']},"                                 \
    "{'Sid':'noprivate','Effect':'Deny','Principal':'*','Action':'s3:*',"                          \
    "'Resource':'arn:aws:s3:::photos/private/*'}]}"
#define P_PLAIN_NAME                                                                               \
    "{'Statement':{'Effect':'Allow','Principal':{'AWS':['carol','bob']},"                          \
    "'Action':'s3:PutObject','Resource':'arn:aws:s3:::photos/up/*'}}"
#define P_CANONICAL                                                                                \
    "{'Statement':{'Effect':'Allow','Principal':{'CanonicalUser':'c0ffee-bob'},"                   \
    "'Action':'s3:DeleteObject','Resource':'arn:aws:s3:::photos/*'}}"
#define P_WILD_ACTIONS                                                                             \
    "{'Statement':[{'Sid':'g','Effect':'Allow','Principal':'*','Action':'s3:Get*',"                \
    "'Resource':'arn:aws:s3:::photos/pub/*'},"                                                     \
    "{'Sid':'o','Effect':'Allow','Principal':{'AWS':'bob'},'Action':'s3:*Object',"                 \
    "'Resource':'arn:aws:s3:::photos/b?b/*'}]}"
#define P_IP                                                                                       \
    "{'Statement':[{'Sid':'in','Effect':'Allow','Principal':'*','Action':'s3:GetObject',"          \
    "'Resource':'arn:aws:s3:::photos/*',"                                                          \
    "'Condition':{'IpAddress':{'aws:SourceIp':['192.168.1.0/24','2001:db8:aa::/48']}}}]}"
#define P_NOT_IP                                                                                   \
    "{'Statement':[{'Sid':'out','Effect':'Deny','Principal':'*','Action':'s3:*',"                  \
    "'Resource':['arn:aws:s3:::photos','arn:aws:s3:::photos/*'],"                                  \
    "'Condition':{'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','fd00::/8']}}}]}"
#define P_TLS                                                                                      \
    "{'Statement':[{'Sid':'tls','Effect':'Deny','Principal':'*','Action':'s3:*',"                  \
    "'Resource':'arn:aws:s3:::photos/*','Condition':{'Bool':{'aws:SecureTransport':'false'}}},"    \
    "{'Sid':'all','Effect':'Allow','Principal':'*','Action':'s3:GetObject',"                       \
    "'Resource':'arn:aws:s3:::photos/*'}]}"
#define P_PREFIX                                                                                   \
    "{'Version':'2012-10-17','Statement':[{'Sid':'home','Effect':'Allow',"                         \
    "'Principal':{'AWS':['bob','carol']},'Action':'s3:ListBucket',"                                \
    "'Resource':'arn:aws:s3:::photos',"                                                            \
    "'Condition':{'StringLike':{'s3:prefix':['','home/','home/${aws:username}/*']}}}]}"
#define P_NOT_STAR                                                                                 \
    "{'Statement':[{'Sid':'n','Effect':'Deny','NotPrincipal':{'AWS':'bob'},"                       \
    "'NotAction':'s3:GetObject','NotResource':'arn:aws:s3:::photos/open/*'}]}"
#define P_VARS_2008                                                                                \
    "{'Version':'2008-10-17','Statement':[{'Effect':'Allow','Principal':'*',"                      \
    "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/${aws:username}/*'}]}"
#define P_VARS_2012                                                                                \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':'*',"                      \
    "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/${aws:username}/${*}'}]}"

START_TEST(test_eval_table)
{
    static const struct eval_row rows[] = {
        /* principal by ARN; deny of a prefix wins over the allow */
        {P_BOB_READ, "bob", "s3:GetObject", "a.jpg", NULL, 0, NULL, ALLOW, 0},
        {P_BOB_READ, "bob", "s3:ListBucket", NULL, NULL, 0, NULL, ALLOW, 0},
        {P_BOB_READ, "bob", "s3:GetObject", "private/a.jpg", NULL, 0, NULL, DENY, 1},
        {P_BOB_READ, "alice", "s3:GetObject", "a.jpg", NULL, 0, NULL, NONE, -1},
        {P_BOB_READ, "alice", "s3:PutObject", "private/x", NULL, 0, NULL, DENY, 1},
        {P_BOB_READ, NULL, "s3:GetObject", "private/x", NULL, 0, NULL, DENY, 1},
        {P_BOB_READ, NULL, "s3:GetObject", "a.jpg", NULL, 0, NULL, NONE, -1},
        {P_BOB_READ, "bob", "s3:PutObject", "a.jpg", NULL, 0, NULL, NONE, -1},
        {P_BOB_READ, "bob", "s3:ListAllMyBuckets", NULL, NULL, 0, NULL, NONE, -1},
        /* plain user names, canonical ids */
        {P_PLAIN_NAME, "carol", "s3:PutObject", "up/x", NULL, 0, NULL, ALLOW, 0},
        {P_PLAIN_NAME, "bob", "s3:PutObject", "up/x", NULL, 0, NULL, ALLOW, 0},
        {P_PLAIN_NAME, "bob", "s3:PutObject", "down/x", NULL, 0, NULL, NONE, -1},
        {P_PLAIN_NAME, "Bob", "s3:PutObject", "up/x", NULL, 0, NULL, NONE, -1},
        {P_PLAIN_NAME, NULL, "s3:PutObject", "up/x", NULL, 0, NULL, NONE, -1},
        {P_CANONICAL, "bob", "s3:DeleteObject", "x", NULL, 0, NULL, ALLOW, 0},
        {P_CANONICAL, "alice", "s3:DeleteObject", "x", NULL, 0, NULL, NONE, -1},
        /* wildcards in actions and resources */
        {P_WILD_ACTIONS, NULL, "s3:GetObject", "pub/a", NULL, 0, NULL, ALLOW, 0},
        {P_WILD_ACTIONS, NULL, "s3:GetObjectAcl", "pub/a", NULL, 0, NULL, ALLOW, 0},
        {P_WILD_ACTIONS, NULL, "s3:GetObject", "pubx/a", NULL, 0, NULL, NONE, -1},
        {P_WILD_ACTIONS, NULL, "s3:PutObject", "pub/a", NULL, 0, NULL, NONE, -1},
        {P_WILD_ACTIONS, "bob", "s3:PutObject", "bob/a", NULL, 0, NULL, ALLOW, 1},
        {P_WILD_ACTIONS, "bob", "s3:DeleteObject", "bxb/a/b", NULL, 0, NULL, ALLOW, 1},
        {P_WILD_ACTIONS, "bob", "s3:DeleteObject", "bb/a", NULL, 0, NULL, NONE, -1},
        {P_WILD_ACTIONS, "bob", "s3:PutObjectAcl", "bob/a", NULL, 0, NULL, NONE, -1},
        {P_WILD_ACTIONS, "bob", "s3:GetObject",
         "b\xc3\xa9"
         "b/a",
         NULL, 0, NULL, ALLOW, 1},
        /* IPv4 and IPv6 CIDR, v4-mapped, missing address */
        {P_IP, NULL, "s3:GetObject", "a", "192.168.1.77", 0, NULL, ALLOW, 0},
        {P_IP, NULL, "s3:GetObject", "a", "192.168.2.1", 0, NULL, NONE, -1},
        {P_IP, NULL, "s3:GetObject", "a", "::ffff:192.168.1.5", 0, NULL, ALLOW, 0},
        {P_IP, NULL, "s3:GetObject", "a", "2001:db8:aa:1::5", 0, NULL, ALLOW, 0},
        {P_IP, NULL, "s3:GetObject", "a", "2001:db8:ab::5", 0, NULL, NONE, -1},
        {P_IP, NULL, "s3:GetObject", "a", NULL, 0, NULL, NONE, -1},
        {P_IP, NULL, "s3:GetObject", "a", "garbage", 0, NULL, NONE, -1},
        {P_NOT_IP, "alice", "s3:GetObject", "a", "10.1.2.3", 0, NULL, NONE, -1},
        {P_NOT_IP, "alice", "s3:ListBucket", NULL, "11.1.2.3", 0, NULL, DENY, 0},
        {P_NOT_IP, "alice", "s3:GetObject", "a", "fd12::1", 0, NULL, NONE, -1},
        {P_NOT_IP, "alice", "s3:GetObject", "a", "fe80::1", 0, NULL, DENY, 0},
        {P_NOT_IP, "alice", "s3:GetObject", "a", NULL, 0, NULL, DENY,
         0}, /* absent: negated holds */
        /* aws:SecureTransport */
        {P_TLS, NULL, "s3:GetObject", "a", NULL, 1, NULL, ALLOW, 1},
        {P_TLS, NULL, "s3:GetObject", "a", NULL, 0, NULL, DENY, 0},
        /* s3:prefix on ListBucket, with ${aws:username} */
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "home/bob/", ALLOW, 0},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "home/bob/photos/2024", ALLOW, 0},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "home/carol/", NONE, -1},
        {P_PREFIX, "carol", "s3:ListBucket", NULL, NULL, 0, "home/carol/", ALLOW, 0},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "", ALLOW, 0},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "home/", ALLOW, 0},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, "etc/", NONE, -1},
        {P_PREFIX, "bob", "s3:ListBucket", NULL, NULL, 0, NULL, NONE, -1},
        /* NotPrincipal, NotAction, NotResource together */
        {P_NOT_STAR, "alice", "s3:PutObject", "x", NULL, 0, NULL, DENY, 0},
        {P_NOT_STAR, "alice", "s3:GetObject", "x", NULL, 0, NULL, NONE, -1},
        {P_NOT_STAR, "alice", "s3:PutObject", "open/x", NULL, 0, NULL, NONE, -1},
        {P_NOT_STAR, "bob", "s3:PutObject", "x", NULL, 0, NULL, NONE, -1},
        {P_NOT_STAR, NULL, "s3:DeleteBucket", NULL, NULL, 0, NULL, DENY, 0},
        /* policy variables: only under 2012-10-17; ${*} is a literal '*' */
        {P_VARS_2008, "bob", "s3:GetObject", "bob/a", NULL, 0, NULL, NONE, -1},
        {P_VARS_2008, "bob", "s3:GetObject", "${aws:username}/a", NULL, 0, NULL, ALLOW, 0},
        {P_VARS_2012, "bob", "s3:GetObject", "bob/*", NULL, 0, NULL, ALLOW, 0},
        {P_VARS_2012, "bob", "s3:GetObject", "bob/a", NULL, 0, NULL, NONE, -1},
        {P_VARS_2012, NULL, "s3:GetObject", "/*", NULL, 0, NULL, NONE, -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct eval_row *r = &rows[i];
        struct gw_policy *p = must_parse(r->policy);
        struct gw_authz_kv kv[] = {{"s3:prefix", r->prefix}};
        struct gw_authz_request rq = {
            .principal = {r->user, canonical_of(r->user), 0},
            .bucket = BUCKET,
            .key = r->key,
            .source_ip = r->ip,
            .secure_transport = r->tls,
            .ctx = r->prefix ? kv : NULL,
            .n_ctx = r->prefix ? 1 : 0,
        };
        ck_assert_int_eq(gw_authz_action_lookup(r->action, &rq.action), 0);
        int stmt = 99;
        enum gw_policy_effect got = gw_policy_eval(p, &rq, &stmt);
        ck_assert_msg(got == r->want && stmt == r->want_stmt,
                      "row %zu (%s %s %s): got %d/%d want %d/%d", i, r->user ? r->user : "anon",
                      r->action, r->key ? r->key : "-", got, stmt, r->want, r->want_stmt);
        gw_policy_free(p);
    }
}
END_TEST

/* One condition block against one context value. */
struct cond_row {
    const char *condition; /* the JSON object of "Condition" */
    const char *key;       /* context key given, NULL: none */
    const char *value;
    int want; /* 1: the Allow applies */
};

START_TEST(test_conditions)
{
    static const struct cond_row rows[] = {
        {"{'StringEquals':{'s3:x-amz-acl':'private'}}", "s3:x-amz-acl", "private", 1},
        {"{'StringEquals':{'s3:x-amz-acl':'private'}}", "s3:x-amz-acl", "Private", 0},
        {"{'StringEquals':{'s3:x-amz-acl':'private'}}", NULL, NULL, 0},
        {"{'StringEquals':{'S3:X-AMZ-ACL':['public-read','private']}}", "s3:x-amz-acl", "private",
         1},
        {"{'StringEquals':{'s3:x-amz-acl':'private'}}", "S3:X-Amz-Acl", "private", 1},
        {"{'StringNotEquals':{'s3:x-amz-acl':['public-read','public-read-write']}}", "s3:x-amz-acl",
         "private", 1},
        {"{'StringNotEquals':{'s3:x-amz-acl':['public-read','public-read-write']}}", "s3:x-amz-acl",
         "public-read", 0},
        {"{'StringNotEquals':{'s3:x-amz-acl':'public-read'}}", NULL, NULL, 1},
        {"{'StringEqualsIgnoreCase':{'s3:x-amz-acl':'PRIVATE'}}", "s3:x-amz-acl", "private", 1},
        {"{'StringNotEqualsIgnoreCase':{'s3:x-amz-acl':'PRIVATE'}}", "s3:x-amz-acl", "Private", 0},
        {"{'StringLike':{'s3:x-amz-acl':'pub*'}}", "s3:x-amz-acl", "public-read", 1},
        {"{'StringLike':{'s3:x-amz-acl':'p?ivate'}}", "s3:x-amz-acl", "private", 1},
        {"{'StringEquals':{'s3:x-amz-acl':'p*'}}", "s3:x-amz-acl", "private", 0},
        {"{'StringNotLike':{'s3:x-amz-acl':'pub*'}}", "s3:x-amz-acl", "private", 1},
        {"{'StringNotLike':{'s3:x-amz-acl':'pub*'}}", "s3:x-amz-acl", "public-read", 0},
        {"{'StringEqualsIfExists':{'s3:x-amz-acl':'private'}}", NULL, NULL, 1},
        {"{'StringEqualsIfExists':{'s3:x-amz-acl':'private'}}", "s3:x-amz-acl", "public-read", 0},
        {"{'NumericLessThanEquals':{'s3:max-keys':'100'}}", "s3:max-keys", "100", 1},
        {"{'NumericLessThan':{'s3:max-keys':100}}", "s3:max-keys", "100", 0},
        {"{'NumericGreaterThan':{'s3:max-keys':'10'}}", "s3:max-keys", "10.5", 1},
        {"{'NumericGreaterThanEquals':{'s3:max-keys':'10'}}", "s3:max-keys", "9", 0},
        {"{'NumericEquals':{'s3:max-keys':['5','7']}}", "s3:max-keys", "7", 1},
        {"{'NumericNotEquals':{'s3:max-keys':['5','7']}}", "s3:max-keys", "6", 1},
        {"{'NumericEquals':{'s3:max-keys':'5'}}", "s3:max-keys", "five", 0},
        {"{'NumericLessThan':{'s3:max-keys':'5'}}", NULL, NULL, 0},
        {"{'Null':{'s3:x-amz-server-side-encryption':'true'}}", NULL, NULL, 1},
        {"{'Null':{'s3:x-amz-server-side-encryption':'true'}}", "s3:x-amz-server-side-encryption",
         "AES256", 0},
        {"{'Null':{'s3:x-amz-server-side-encryption':false}}", "s3:x-amz-server-side-encryption",
         "AES256", 1},
        {"{'StringEquals':{'s3:x-amz-server-side-encryption':'AES256'}}",
         "s3:x-amz-server-side-encryption", "AES256", 1},
        {"{'StringEquals':{'s3:ExistingObjectTag/team':'red'}}", "s3:ExistingObjectTag/team", "red",
         1},
        {"{'StringEquals':{'s3:ExistingObjectTag/team':'red'}}", "s3:existingobjecttag/team", "red",
         1},
        {"{'StringEquals':{'s3:ExistingObjectTag/team':'red'}}", "s3:ExistingObjectTag/Team", "red",
         0},
        {"{'ForAnyValue:StringEquals':{'s3:x-amz-acl':'private'}}", NULL, NULL, 0},
        {"{'ForAllValues:StringEquals':{'s3:x-amz-acl':'private'}}", NULL, NULL, 1},
        {"{'ForAllValues:StringEquals':{'s3:x-amz-acl':'private'}}", "s3:x-amz-acl", "x", 0},
        {"{'ArnLike':{'aws:SourceArn':'arn:aws:s3:::*'}}", "aws:SourceArn", "arn:aws:s3:::b", 1},
        {"{'ArnNotEquals':{'aws:SourceArn':'arn:aws:s3:::b'}}", "aws:SourceArn", "arn:aws:s3:::b",
         0},
        {"{'BinaryEquals':{'aws:UserAgent':'QmluYXJ5'}}", "aws:UserAgent", "QmluYXJ5", 1},
        {"{'Bool':{'aws:MultiFactorAuthPresent':'true'}}", "aws:MultiFactorAuthPresent", "TRUE", 1},
        /* a key Cairn never fills is simply absent */
        {"{'StringEquals':{'aws:SourceVpce':'vpce-1'}}", NULL, NULL, 0},
        /* several keys and operators: AND */
        {"{'StringEquals':{'s3:x-amz-acl':'private','s3:x-amz-storage-class':'STANDARD'}}",
         "s3:x-amz-acl", "private", 0},
        {"{'StringEquals':{'s3:x-amz-acl':'private'},'Null':{'s3:x-amz-storage-class':'true'}}",
         "s3:x-amz-acl", "private", 1},
        /* the built-in keys cannot be spoofed through the context list */
        {"{'StringEquals':{'aws:username':'root'}}", "aws:username", "root", 0},
    };
    char doc[2048];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct cond_row *r = &rows[i];
        snprintf(doc, sizeof(doc),
                 "{'Version':'2012-10-17','Statement':{'Effect':'Allow','Principal':'*',"
                 "'Action':'s3:*','Resource':'arn:aws:s3:::photos/*','Condition':%s}}",
                 r->condition);
        struct gw_policy *p = must_parse(doc);
        struct gw_authz_kv kv[] = {{r->key, r->value}};
        struct gw_authz_request rq = {
            .principal = {"bob", "c0ffee-bob", 0},
            .action = GW_ACT_PUT_OBJECT,
            .bucket = BUCKET,
            .key = "k",
            .ctx = kv,
            .n_ctx = r->key ? 1 : 0,
        };
        enum gw_policy_effect got = gw_policy_eval(p, &rq, NULL);
        ck_assert_msg(got == (r->want ? ALLOW : NONE), "row %zu: %s with %s=%s gave %d", i,
                      r->condition, r->key ? r->key : "-", r->value ? r->value : "-", got);
        gw_policy_free(p);
    }
}
END_TEST

START_TEST(test_principal_keys_and_time)
{
    static const struct {
        const char *condition;
        const char *user; /* NULL: anonymous */
        int64_t now_ms;
        int want;
    } rows[] = {
        {"{'StringEquals':{'aws:username':'bob'}}", "bob", 0, 1},
        {"{'StringEquals':{'aws:username':'bob'}}", NULL, 0, 0},
        {"{'Null':{'aws:username':'true'}}", NULL, 0, 1},
        {"{'StringEquals':{'aws:userid':'c0ffee-bob'}}", "bob", 0, 1},
        {"{'StringEquals':{'aws:userid':'anonymous'}}", NULL, 0, 1},
        {"{'StringEquals':{'aws:PrincipalType':'Anonymous'}}", NULL, 0, 1},
        {"{'StringEquals':{'aws:PrincipalType':'User'}}", "alice", 0, 1},
        {"{'DateLessThan':{'aws:CurrentTime':'2030-01-01T00:00:00Z'}}", "bob", 1700000000000, 1},
        {"{'DateGreaterThan':{'aws:CurrentTime':'2023-11-14T22:13:19Z'}}", "bob", 1700000000000, 1},
        {"{'DateGreaterThan':{'aws:CurrentTime':'2023-11-14T22:13:20Z'}}", "bob", 1700000000000, 0},
        {"{'DateEquals':{'aws:CurrentTime':'2023-11-14T23:13:20+01:00'}}", "bob", 1700000000000, 1},
        {"{'DateLessThanEquals':{'aws:CurrentTime':'1700000000'}}", "bob", 1700000000000, 1},
        {"{'DateNotEquals':{'aws:CurrentTime':'2023-11-14'}}", "bob", 1700000000000, 1},
        {"{'DateLessThan':{'aws:CurrentTime':'2030-01-01'}}", "bob", 0, 0},
        {"{'NumericGreaterThan':{'aws:EpochTime':1600000000}}", "bob", 1700000000000, 1},
        {"{'DateGreaterThan':{'aws:EpochTime':'2024-01-01T00:00:00.500Z'}}", "bob", 1700000000000,
         0},
    };
    char doc[2048];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(doc, sizeof(doc),
                 "{'Statement':{'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"
                 "'Resource':'arn:aws:s3:::photos/*','Condition':%s}}",
                 rows[i].condition);
        struct gw_policy *p = must_parse(doc);
        struct gw_authz_request rq = {
            .principal = {rows[i].user, canonical_of(rows[i].user), 0},
            .action = GW_ACT_GET_OBJECT,
            .bucket = BUCKET,
            .key = "k",
            .now_ms = rows[i].now_ms,
        };
        ck_assert_msg(gw_policy_eval(p, &rq, NULL) == (rows[i].want ? ALLOW : NONE), "row %zu: %s",
                      i, rows[i].condition);
        gw_policy_free(p);
    }
}
END_TEST

static int collect(void *arg, enum gw_policy_principal_kind kind, const char *value)
{
    char *out = arg;
    strcat(out, kind == GW_POLICY_PRINCIPAL_USER ? "u:" : "c:");
    strcat(out, value);
    strcat(out, " ");
    return strcmp(value, "stop") == 0 ? 7 : 0;
}

START_TEST(test_principal_listing)
{
    struct gw_policy *p = must_parse(
        "{'Statement':[{'Effect':'Allow','Principal':{'AWS':['bob',"
        "'arn:aws:iam::111122223333:user/team/carol'],'CanonicalUser':'c0ffee-dave'},"
        "'Action':'s3:GetObject','Resource':'*'},"
        "{'Effect':'Deny','NotPrincipal':{'AWS':'*'},'Action':'s3:GetObject','Resource':'*'}]}");
    char out[256] = "";
    ck_assert_int_eq(gw_policy_foreach_principal(p, collect, out), 0);
    ck_assert_str_eq(out, "u:bob u:carol c:c0ffee-dave ");
    gw_policy_free(p);
    p = must_parse("{'Statement':{'Effect':'Allow','Principal':{'AWS':['a','stop','b']},"
                   "'Action':'s3:GetObject','Resource':'*'}}");
    out[0] = '\0';
    ck_assert_int_eq(gw_policy_foreach_principal(p, collect, out), 7);
    ck_assert_str_eq(out, "u:a u:stop ");
    gw_policy_free(p);
}
END_TEST

START_TEST(test_eval_edges)
{
    struct gw_policy *p =
        must_parse("{'Statement':{'Effect':'Allow','Principal':'*',"
                   "'Action':'s3:GetObject','Resource':'arn:aws:s3:::photos/*'}}");
    struct gw_authz_request rq = {.action = GW_ACT_GET_OBJECT, .bucket = BUCKET, .key = "a"};
    ck_assert_int_eq(gw_policy_eval(p, &rq, NULL), ALLOW);
    /* another bucket's resource never matches */
    rq.bucket = "photos2";
    ck_assert_int_eq(gw_policy_eval(p, &rq, NULL), NONE);
    rq.bucket = BUCKET;
    /* a key longer than the stack buffer */
    char key[5000];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    rq.key = key;
    ck_assert_int_eq(gw_policy_eval(p, &rq, NULL), ALLOW);
    /* malformed requests never match */
    rq.action = GW_ACT__COUNT;
    ck_assert_int_eq(gw_policy_eval(p, &rq, NULL), NONE);
    rq.action = GW_ACT_GET_OBJECT;
    rq.bucket = NULL;
    ck_assert_int_eq(gw_policy_eval(p, &rq, NULL), NONE);
    ck_assert_int_eq(gw_policy_eval(NULL, &rq, NULL), NONE);
    gw_policy_free(p);
}
END_TEST

/* ---- fuzz ---------------------------------------------------------------- */

static const char *const json_dict[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "\"*\"",
    "\"s3:*\"",
    "\"Statement\"",
    "\"Condition\"",
    "{\"StringLike\":{\"s3:prefix\":\"a*\"}}",
    "\"${aws:username}\"",
    "\\u0000",
    "\\ud800",
    "1e999",
    "-0",
    "\"arn:aws:s3:::photos/*\"",
    "[[[[",
    "{\"a\":",
};

START_TEST(test_parser_fuzz)
{
    static const char *const seeds[] = {
        P_BOB_READ,
        P_PREFIX,
        P_NOT_IP,
        P_NOT_STAR,
        P_VARS_2012,
        P_WILD_ACTIONS,
        "{'Statement':{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':"
        "{'DateLessThan':{'aws:CurrentTime':'2030-01-01T00:00:00Z'},'NumericEquals':"
        "{'s3:max-keys':[1,2.5]},'ForAllValues:StringLike':{'s3:RequestObjectTag/x':'a?'}}}}",
    };
    struct gw_mutator m;
    gw_mutator_init(&m, 12345, json_dict, sizeof(json_dict) / sizeof(json_dict[0]));
    m.max_len = GW_POLICY_MAX_SIZE + 100;
    static char doc[GW_POLICY_MAX_SIZE * 2];
    size_t parsed = 0, refused = 0;
    for (int iter = 0; iter < 4000; iter++) {
        const char *seed = seeds[iter % (sizeof(seeds) / sizeof(seeds[0]))];
        to_json(seed, doc, sizeof(doc));
        size_t len = 0;
        char *mut = gw_mutate(&m, doc, strlen(doc), &len);
        ck_assert_ptr_nonnull(mut);
        struct gw_policy *p = NULL;
        char err[GW_POLICY_ERR_MAX] = "unset";
        int rc = gw_policy_parse(mut, len, BUCKET, &p, err, sizeof(err));
        if (rc == 0) {
            ck_assert_ptr_nonnull(p);
            parsed++;
            /* whatever parsed must evaluate without trouble */
            struct gw_authz_kv kv[] = {{"s3:prefix", "home/bob/x"}};
            for (int a = 0; a < GW_ACT__COUNT; a += 7) {
                struct gw_authz_request rq = {
                    .principal = {iter % 3 ? "bob" : NULL, iter % 3 ? "c0ffee-bob" : NULL, 0},
                    .action = (enum gw_authz_action)a,
                    .bucket = BUCKET,
                    .key = gw_authz_action_level((enum gw_authz_action)a) == GW_AUTHZ_OBJECT
                               ? "private/a"
                               : NULL,
                    .source_ip = iter % 2 ? "10.1.2.3" : "2001:db8::1",
                    .now_ms = 1700000000000,
                    .ctx = kv,
                    .n_ctx = 1,
                };
                enum gw_policy_effect e = gw_policy_eval(p, &rq, NULL);
                ck_assert(e == NONE || e == ALLOW || e == DENY);
            }
            gw_policy_free(p);
        } else {
            ck_assert_msg(rc == CAIRN_E_INVAL, "seed iter %d: rc %d", iter, rc);
            ck_assert_ptr_null(p);
            ck_assert_msg(err[0] && strcmp(err, "unset") != 0, "iter %d: no message", iter);
            refused++;
        }
        free(mut);
    }
    /* the mutations must reach both outcomes */
    ck_assert_uint_gt(parsed, 50);
    ck_assert_uint_gt(refused, 1000);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_policy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_valid);
    tcase_add_test(tc, test_parse_malformed);
    tcase_add_test(tc, test_parse_limits);
    tcase_add_test(tc, test_eval_table);
    tcase_add_test(tc, test_conditions);
    tcase_add_test(tc, test_principal_keys_and_time);
    tcase_add_test(tc, test_principal_listing);
    tcase_add_test(tc, test_eval_edges);
    tcase_add_test(tc, test_parser_fuzz);
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
