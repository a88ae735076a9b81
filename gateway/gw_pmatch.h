/* Matching primitives of the bucket policy language, used by gw_policy:
 *   - string patterns: '*' (any run) and '?' (one character) wildcards,
 *     and policy variables (${aws:username}, ...) that are expanded from the
 *     request at match time and always match literally (${*}, ${?}, ${$}
 *     are the literal characters);
 *   - condition keys: the AWS global keys and the S3 keys S3 accepts in a
 *     bucket policy, and where each one's value comes from;
 *   - conditions: one operator, one key and its values, and whether they
 *     hold for a request (IAM's rules: any value matches = OR; a key absent
 *     from the request fails the condition, except for the negated
 *     operators, ...IfExists, ForAllValues: and Null).
 * Pure functions; compiled patterns and conditions are immutable and may be
 * used from any number of threads. */
#ifndef CAIRN_GW_PMATCH_H
#define CAIRN_GW_PMATCH_H

#include "gw_authz.h"

#include <stddef.h>
#include <stdint.h>

#define GW_PMATCH_MAX_VARS 8 /* variables expanded in one pattern; further ones stay literal */

/* A compiled pattern. Owned by whoever compiled it (gw_pmatch_pat_free). */
struct gw_pmatch_pat {
    int32_t *op; /* literal bytes (0..255) and wildcard/variable codes */
    uint32_t n;
    uint8_t n_vars;
    int8_t var_key[GW_PMATCH_MAX_VARS];
};

/* Compiles s: with wild, '*' and '?' are wildcards (else literal); with
 * vars, ${KEY} for a known condition key is a policy variable. Returns 0 or
 * CAIRN_E_NOMEM. */
int gw_pmatch_pat_compile(const char *s, int wild, int vars, struct gw_pmatch_pat *p);
void gw_pmatch_pat_free(struct gw_pmatch_pat *p);

/* 1 if s[n] matches p, comparing ASCII letters without case when icase.
 * Variables take the request's values (rq may be NULL only for a pattern
 * without variables); a variable whose key the request lacks makes the
 * pattern match nothing. */
int gw_pmatch_pat_match(const struct gw_pmatch_pat *p, const struct gw_authz_request *rq,
                        const char *s, size_t n, int icase);

/* 1 if name is a condition operator S3 accepts (String*, Numeric*, Date*,
 * Bool, BinaryEquals, (Not)IpAddress, Arn*, Null; IfExists suffixes and
 * ForAnyValue:/ForAllValues: prefixes, none of them on Null). Operator names
 * are case-sensitive. */
int gw_pmatch_op_known(const char *name);

struct gw_pmatch_cond;

/* A condition with operator op_name on key key_name (case-insensitive; a
 * family key such as s3:ExistingObjectTag/<tag> keeps its tag exactly), no
 * values yet. Returns 0 and *out (free with gw_pmatch_cond_free),
 * CAIRN_E_INVAL with err "Invalid Condition type : NAME" or "Policy has an
 * invalid condition key", or CAIRN_E_NOMEM. err is always NUL-terminated
 * when errlen > 0. */
int gw_pmatch_cond_new(const char *op_name, const char *key_name, struct gw_pmatch_cond **out,
                       char *err, size_t errlen);

/* Adds one value (the JSON value as text). vars: expand policy variables in
 * string values. Returns 0, CAIRN_E_INVAL with err "Invalid IP address in
 * Conditions" / "Invalid value in Conditions" (a number or date that does
 * not parse), or CAIRN_E_NOMEM. */
int gw_pmatch_cond_add(struct gw_pmatch_cond *c, const char *value, int vars, char *err,
                       size_t errlen);

/* 1 if c's key is s3:prefix, s3:delimiter or s3:max-keys (keys S3 accepts
 * only with ListBucket and ListBucketVersions). */
int gw_pmatch_cond_list_key(const struct gw_pmatch_cond *c);

/* 1 if c holds for rq. */
int gw_pmatch_cond_holds(const struct gw_pmatch_cond *c, const struct gw_authz_request *rq);

void gw_pmatch_cond_free(struct gw_pmatch_cond *c);

#endif
