/* Bucket policies: the subset of the IAM policy language Amazon S3 accepts
 * in PutBucketPolicy, parsed (with jansson) into an owned, immutable
 * structure and evaluated against a request.
 *
 * Language (docs/security.md "Authorization" has the full account):
 *   Version    "2012-10-17" or "2008-10-17"; absent means 2008-10-17.
 *              Policy variables (${aws:username}, ${*}, ...) are expanded in
 *              Resource and in string condition values only under 2012-10-17.
 *   Id         optional string.
 *   Statement  one object or a non-empty array of them, each with
 *     Sid        optional string, unique within the policy;
 *     Effect     "Allow" | "Deny";
 *     Principal | NotPrincipal (one required):
 *                "*" | {"AWS": "*" | NAME | ARN | [...]} |
 *                {"CanonicalUser": ID | [...]}, where NAME is a Cairn user
 *                name and ARN "arn:aws:iam::<any account>:user/[path/]NAME";
 *     Action | NotAction (one required): "*" or "s3:NAME" with * and ?
 *                wildcards, case-insensitive; a name without wildcards must
 *                be a known S3 action (gw_authz_action_lookup);
 *     Resource | NotResource (one required): "*" or arn:aws:s3:::BUCKET[/KEY]
 *                with * and ? wildcards; the bucket must be this policy's
 *                bucket (a wildcard bucket part must match it);
 *     Condition  optional: {OPERATOR: {KEY: VALUE | [VALUES]}}, all
 *                operators and keys must hold (AND), any value of a key
 *                matches (OR). Operators: String(Not)Equals(IgnoreCase),
 *                String(Not)Like, Numeric(Not)Equals, NumericLessThan(Equals),
 *                NumericGreaterThan(Equals), Date* (the same six), Bool,
 *                BinaryEquals, (Not)IpAddress, Arn(Not)Equals, Arn(Not)Like,
 *                Null, each but Null also with the IfExists suffix and the
 *                ForAnyValue: / ForAllValues: prefixes.
 *
 * Evaluation (gw_policy_eval): a statement applies when its principal,
 * action and resource match the request and every condition holds. Any
 * applying Deny gives GW_POLICY_DENY; else any applying Allow gives
 * GW_POLICY_ALLOW; else GW_POLICY_NONE.
 *
 * A parsed policy is immutable: evaluate it from any number of threads. */
#ifndef CAIRN_GW_POLICY_H
#define CAIRN_GW_POLICY_H

#include "gw_authz.h"

#include <stddef.h>

#define GW_POLICY_MAX_SIZE       20480 /* bytes; S3's limit for a bucket policy */
#define GW_POLICY_MAX_STATEMENTS 256   /* statements in one policy */
#define GW_POLICY_MAX_VALUES     1024  /* principals/actions/resources/values in one list */
#define GW_POLICY_ERR_MAX        160   /* a buffer this large holds any error message */

enum gw_policy_effect {
    GW_POLICY_NONE = 0, /* no statement applies */
    GW_POLICY_ALLOW,
    GW_POLICY_DENY, /* explicit deny: wins over every allow */
};

struct gw_policy;

/* Parses the policy document json[len] for bucket. On success returns 0 and
 * *out (free with gw_policy_free). A document S3 would refuse returns
 * CAIRN_E_INVAL with S3's MalformedPolicy message in err (always
 * NUL-terminated, truncated to errlen; errlen 0 means no message):
 *   "Policies must be valid JSON and the first byte must be '{'"
 *   "This policy contains invalid Json"  (syntax, duplicate key, wrong type)
 *   "Policy exceeds the maximum allowed document size."  (> 20480 bytes)
 *   "Missing required field Statement" / "... Effect" / "... Principal" /
 *   "... Action" / "... Resource"
 *   "Could not parse the policy: Statement is empty!"
 *   "The policy must contain a valid version string"
 *   "Unknown field NAME"
 *   "Invalid effect: VALUE"
 *   "Invalid principal in policy"
 *   "Policy has invalid action"
 *   "Policy has invalid resource"
 *   "Action does not apply to any resource(s) in statement"
 *   "Invalid Condition type : NAME"
 *   "Policy has an invalid condition key"
 *   "Conditions do not apply to combination of actions and resources in
 *    statement"  (s3:prefix, s3:delimiter, s3:max-keys with other than the
 *    ListBucket and ListBucketVersions actions)
 *   "Invalid IP address in Conditions", "Invalid value in Conditions"
 *   "Statement IDs (SID) in a single policy must be unique"
 *   "Policy has too many statements" / "Policy has too many values in a list"
 * Allocation failure returns CAIRN_E_NOMEM. */
int gw_policy_parse(const char *json, size_t len, const char *bucket, struct gw_policy **out,
                    char *err, size_t errlen);

/* Frees p. NULL is a no-op. */
void gw_policy_free(struct gw_policy *p);

/* The effect of p for rq (see the header comment). *statement (if not NULL)
 * receives the index of the deciding statement (the first applying Deny,
 * else the first applying Allow), or -1. rq->bucket and rq->key name the
 * resource; service-level actions never match. */
enum gw_policy_effect gw_policy_eval(const struct gw_policy *p, const struct gw_authz_request *rq,
                                     int *statement);

/* Number of statements, and the Sid of statement i ("" when it has none or i
 * is out of range; valid while p lives). */
size_t gw_policy_statement_count(const struct gw_policy *p);
const char *gw_policy_statement_sid(const struct gw_policy *p, size_t i);

enum gw_policy_principal_kind {
    GW_POLICY_PRINCIPAL_USER = 1, /* a user name ("AWS": NAME or a user ARN) */
    GW_POLICY_PRINCIPAL_CANONICAL_ID,
};

/* Calls fn(arg, kind, value) for every user name and canonical id p names in
 * Principal or NotPrincipal, so that PutBucketPolicy can refuse a policy
 * naming users that do not exist ("Invalid principal in policy", as S3
 * does). Stops at and returns the first nonzero fn result; 0 otherwise. */
int gw_policy_foreach_principal(const struct gw_policy *p,
                                int (*fn)(void *arg, enum gw_policy_principal_kind kind,
                                          const char *value),
                                void *arg);

#endif
