/* gw_auth: authentication shared by the gateway's HTTP endpoints, the S3 API
 * (gw_s3) and the status page (gw_status): an access key's secret, from the
 * root key of the configuration or from the metadata service, and the SigV4
 * view and check of a cn_http request. What a key may do is the caller's
 * decision. Thread-safe: stored keys are read with the calling thread's
 * metadata client. */
#ifndef CAIRN_GW_AUTH_H
#define CAIRN_GW_AUTH_H

#include "gw_req.h"
#include "meta.pb-c.h"
#include "gw_s3err.h"
#include "gw_sigv4.h"

#include <stddef.h>
#include <stdint.h>

struct cn_http_req;
struct gw_ctx;

/* The operator's identity: the root key of the configuration acts as this
 * user (an empty name: it is no user of the metadata service) with this
 * canonical id, and is allowed everything. */
#define GW_AUTH_OPERATOR_ID   "0000000000000000000000000000000000000000000000000000000000000000"
#define GW_AUTH_OPERATOR_NAME "operator" /* its display name */

/* Who a key belongs to. */
struct gw_auth_identity {
    int is_operator;       /* the root key */
    int admin;             /* the root key or a stored admin key */
    char user[72];         /* the key's user ("" for the operator) */
    char canonical_id[72]; /* the user's canonical id */
    int unconfirmed;       /* from gw_keycache's mirror: gw_keycache_confirm first */
};

/* *who for stored key k of user u (u NULL or without a canonical id: a key
 * older than users, whose canonical id is derived from its owner's name). */
void gw_auth_identity_of(const Md__AccessKeyRecord *k, const Md__UserRecord *u,
                         struct gw_auth_identity *who);

/* Resolves access key ak: the root key (root_ak / root_sk; NULL: none) or a
 * key stored in the metadata service (read through data, borrowed). Returns
 * 0 with the secret in secret[cap] and *who filled, CAIRN_E_NOTFOUND (no
 * such key, or a disabled one: both authenticate nothing), CAIRN_E_RANGE (the
 * secret does not fit cap), CAIRN_E_NOMEM, or the metadata service's error.
 * A key whose user record is missing (keys older than users) acts as a user
 * of the key's owner name with a canonical id derived from it. */
int gw_auth_key_lookup(struct gw_ctx *data, const char *root_ak, const char *root_sk,
                       const char *ak, char *secret, size_t cap, struct gw_auth_identity *who);

/* The SigV4 view of req: its method, raw path (the request-target up to
 * '?', malloc'ed), raw query, and the headers h[n] (borrowed; they must
 * outlive *out). Returns 0 (release with gw_auth_request_free) or
 * CAIRN_E_NOMEM. */
int gw_auth_request(struct cn_http_req *req, const struct gw_header *h, size_t n,
                    struct gw_sigv4_request *out);
void gw_auth_request_free(struct gw_sigv4_request *sr);

/* Verifies sr now as a request to the "s3" service of region, with at most
 * max_skew_s of clock skew (0: 15 minutes), secrets from lookup(lookup_ctx).
 * Returns what gw_sigv4_verify returns, with *res and *err as it sets them. */
int gw_auth_verify(const struct gw_sigv4_request *sr, const char *region, int64_t max_skew_s,
                   gw_sigv4_lookup_fn lookup, void *lookup_ctx, struct gw_sigv4_result *res,
                   enum gw_s3err *err);

#endif
