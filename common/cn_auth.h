/* Authentication of internal requests (replica <-> replica, gateway <->
 * chunkserver, heartbeats, admin) with HMAC-SHA256 over the cluster secret.
 *
 * Headers on every internal request:
 *   X-Cairn-Date:           Unix time in seconds, decimal ("1795672800")
 *   X-Cairn-Content-SHA256: lowercase hex SHA-256 of the body (64 digits), or
 *                           UNSIGNED-PAYLOAD for streamed bodies
 *   X-Cairn-Auth:           CAIRN1-HMAC-SHA256 <64 lowercase hex digits>
 *
 * The signature is HMAC-SHA256(signing_key, string_to_sign) where
 *   signing_key    = HMAC-SHA256(cluster_secret, "cairn-internal-v1")
 *   string_to_sign = "CAIRN1-HMAC-SHA256\n"
 *                    METHOD "\n"          (as sent: "PUT")
 *                    TARGET "\n"          (request-target exactly as sent on the
 *                                          request line: path plus "?query" if any,
 *                                          not decoded, not normalized)
 *                    DATE "\n"            (the X-Cairn-Date value)
 *                    BODY_HASH            (the X-Cairn-Content-SHA256 value)
 *
 * The verifier rejects a date more than max_skew seconds away from its clock
 * (either direction), a malformed header, or a signature mismatch (compared in
 * constant time). When BODY_HASH is a hash, the server checks the received
 * body against it before the request is considered complete (see
 * cn_http_server.h). Replay of a captured request inside the skew window is
 * NOT prevented (no nonce cache): internal APIs are idempotent or carry their
 * own request ids. There is no confidentiality (no TLS) — see docs/transport.md.
 *
 * A struct cn_auth is immutable after creation: share one between threads. */
#ifndef CAIRN_CN_AUTH_H
#define CAIRN_CN_AUTH_H

#include "cn_wire.h"

#include <stddef.h>
#include <stdint.h>

#define CN_AUTH_SCHEME       "CAIRN1-HMAC-SHA256"
#define CN_AUTH_UNSIGNED     "UNSIGNED-PAYLOAD"
#define CN_AUTH_DEFAULT_SKEW 300 /* seconds */
#define CN_AUTH_MIN_SECRET   16  /* bytes */
#define CN_AUTH_MAX_SECRET   4096

struct cn_auth;

/* Header values produced by cn_auth_sign(); all NUL-terminated. */
struct cn_auth_headers {
    char date[24];        /* X-Cairn-Date value */
    char body_sha256[68]; /* X-Cairn-Content-SHA256 value */
    char auth[96];        /* X-Cairn-Auth value */
};

/* Creates an authenticator from secret[len] (copied; CN_AUTH_MIN_SECRET ..
 * CN_AUTH_MAX_SECRET bytes) accepting dates within max_skew_s seconds
 * (<= 0 means CN_AUTH_DEFAULT_SKEW). On success *out is owned by the caller
 * (cn_auth_free). Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int cn_auth_new(const void *secret, size_t len, int64_t max_skew_s, struct cn_auth **out);

/* Like cn_auth_new() with the secret read from a file: its whole content with
 * trailing whitespace (newline) stripped. Returns 0, CAIRN_E_NOTFOUND,
 * CAIRN_E_IO, CAIRN_E_INVAL (too short/long) or CAIRN_E_NOMEM. */
int cn_auth_new_from_file(const char *path, int64_t max_skew_s, struct cn_auth **out);

/* Frees (and wipes) the authenticator. NULL is fine. */
void cn_auth_free(struct cn_auth *auth);

/* Signs a request. body_sha256_hex is the 64-digit lowercase hex SHA-256 of
 * the body, or NULL for UNSIGNED-PAYLOAD (streamed bodies). now_s is the wall
 * clock in seconds (cn_wall_s()). Fills *out. Returns 0 or CAIRN_E_INVAL. */
int cn_auth_sign(const struct cn_auth *auth, const char *method, const char *target, int64_t now_s,
                 const char *body_sha256_hex, struct cn_auth_headers *out);

/* Verifies the three header values (any may be NULL = missing) of a request
 * with the given method and raw request-target against now_s. Returns 0 if the
 * signature is valid and the date fresh, else CAIRN_E_AUTH. It does not check
 * the body against body_hdr; the caller does (cn_auth_body_is_signed()). */
int cn_auth_verify(const struct cn_auth *auth, const char *method, const char *target,
                   const char *date_hdr, const char *body_hdr, const char *auth_hdr, int64_t now_s);

/* Returns 1 if body_hdr is a 64-digit hex hash the body must match, 0 if it
 * is UNSIGNED-PAYLOAD. (Only meaningful after cn_auth_verify() succeeded.) */
int cn_auth_body_is_signed(const char *body_hdr);

/* Computes the lowercase hex SHA-256 of data[len] into hex[65]. */
void cn_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
