/* The policy of an S3 POST object upload (pure; no I/O): the base64 JSON
 * document a browser form carries in its "policy" field, checked against
 * the form's fields, and its SigV4 signature.
 *
 *   {"expiration": "2030-01-01T00:00:00.000Z",
 *    "conditions": [{"bucket": "b"}, ["starts-with", "$key", "uploads/"],
 *                   ["content-length-range", 1, 10485760], ...]}
 *
 * Conditions: {"field": "value"} and ["eq", "$field", "value"] (exact),
 * ["starts-with", "$field", "prefix"] ("" matches anything; for
 * Content-Type each comma-separated value must start with it), and
 * ["content-length-range", min, max] on the file's size. Field names are
 * case-insensitive; "$bucket" is the bucket of the request. Every form
 * field must be covered by a condition except policy, x-amz-signature,
 * file and x-ignore-* (S3's "Extra input fields").
 *
 * The signature is hex(HMAC-SHA256(signing key, policy as sent in base64)),
 * the signing key derived from the secret, the credential's date and region
 * and "s3" (gw_sigv4_signing_key). Thread-safe; a parsed policy is
 * immutable. */
#ifndef CAIRN_GW_POST_POLICY_H
#define CAIRN_GW_POST_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define GW_POST_POLICY_MAX 65536 /* bytes of the base64 policy field */
#define GW_POST_ERR_MAX    512   /* a message buffer this large holds any message */

struct gw_post_policy;

/* Parses the base64 policy b64. Returns 0 with *out (gw_post_policy_free),
 * CAIRN_E_INVAL with S3's InvalidPolicyDocument message in err ("Invalid
 * Policy: Invalid JSON.", "Invalid Policy: Invalid 'expiration' value:
 * '...'", "Invalid Policy: Invalid Simple-Condition: ...", ...), or
 * CAIRN_E_NOMEM. */
int gw_post_policy_parse(const char *b64, struct gw_post_policy **out, char *err, size_t errlen);

void gw_post_policy_free(struct gw_post_policy *p);

/* 1 if the policy's expiration is at or before now_ms (Unix ms). */
int gw_post_policy_expired(const struct gw_post_policy *p, int64_t now_ms);

/* The form's fields as the check reads them: the value of a field by name
 * (case-insensitive; NULL when absent), and each field's name in turn. */
struct gw_post_fields {
    const char *(*get)(void *ctx, const char *name);
    size_t n;
    const char *(*name_at)(void *ctx, size_t i);
    void *ctx;
};

/* Checks every condition but content-length-range against the fields
 * (bucket: the request's bucket), then that no field is left uncovered.
 * Returns 0, or CAIRN_E_AUTH with S3's AccessDenied message in msg
 * ("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\",
 * \"a\"]", "Invalid according to Policy: Extra input fields: x"). */
int gw_post_policy_check(const struct gw_post_policy *p, const char *bucket,
                         const struct gw_post_fields *fields, char *msg, size_t cap);

/* The content-length-range of the policy into *min and *max; 0 when it has
 * none (*min 0, *max -1). */
int gw_post_policy_length_range(const struct gw_post_policy *p, int64_t *min, int64_t *max);

/* The SigV4 signature of policy b64 (64 lowercase hex digits in sig[65])
 * under secret for date ("YYYYMMDD"), region and service. Returns 0 or
 * CAIRN_E_NOMEM. */
int gw_post_signature(const char *secret, const char *date, const char *region, const char *service,
                      const char *b64, char sig[65]);

#endif
