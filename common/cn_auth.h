/* Authentication of internal requests and their answers (CAIRN2).
 *
 * docs/security.md "Internal requests" gives the scheme; in short:
 *
 * Keys. The cluster secret S (a file, 16..4096 bytes) is never used
 * directly. PRK = HMAC-SHA256("cairn-internal-v2", S) (HKDF-Extract, RFC
 * 5869), and every LINK — a (sender role, receiver role) pair, cn_roles.h —
 * has its key K(from>to) = HKDF-Expand(PRK, "cairn link FROM>TO", 32). A
 * daemon of role R holds only the keys of the links R sends or receives on
 * (its "role key"), derived at start from the secret file or read from a role
 * key file made by `cairn role-key R`. The key id, 8 hex digits of
 * HKDF-Expand(PRK, "cairn key id", 4), names the secret a request was signed
 * with, so a receiver can hold two (rotation: --cluster-secret-accept-file).
 *
 * A request carries one header (everything else it signs is on the wire):
 *   X-Cairn-Signature: CAIRN2-HMAC-SHA256 Credential=KEYID/FROM/TO,
 *       Time=UNIX_MS, Nonce=32HEX, Body=32HEX|suffix, Signature=64HEX
 * (one line, ", " between the fields, in this order). The signature is an
 * HMAC-SHA256 with K(FROM>TO) over the method, the Host header (host:port the
 * client connected to), the raw request-target with its query, every
 * X-Cairn-* header (and Range), the time, the nonce and the body's tag. The
 * body tag is a Poly1305 MAC of the whole body under a one-time key derived
 * from K(FROM>TO) and the nonce; it is in the header for a body the client
 * has in memory, or ("Body=suffix") its 16 raw bytes follow the body on the
 * wire for a streamed one (the Content-Length, if any, counts them; the
 * receiver strips them before its handler sees the body) — the receiver
 * checks it before it calls the handler's end(), so nothing is committed
 * from a body that does not match. (Not an HTTP trailer: libcurl 7.88 drops
 * or double-frees trailers of some bodies.)
 *
 * The receiver refuses a time more than max_skew away, keeps every nonce it
 * accepted until its time is out of the window (cn_replay.h), and refuses a
 * Host that is not its own address: a captured request can be neither
 * replayed nor sent to another daemon.
 *
 * An answer to an authenticated request carries
 *   X-Cairn-Response-Signature: Body=32HEX|unsigned, Signature=64HEX
 * an HMAC with the same link key over the request's signature (so it answers
 * that request only), the status, the answer's X-Cairn-* headers (and
 * Content-Range) and the body tag ("unsigned" for streamed fragment data,
 * whose integrity the CRC32C headers cover; the client must allow that per
 * request).
 *
 * The pre-roles scheme CAIRN1 (X-Cairn-Date, X-Cairn-Content-SHA256,
 * X-Cairn-Auth; one key, no nonce, no host) survives only for a rolling
 * upgrade behind --auth-compat-v1: see cn_auth_v1_*.
 *
 * A struct cn_auth is built before any thread uses it (new, add_accept,
 * set_tls, set_compat_v1) and is immutable afterwards: share it between
 * threads. An exchange and a MAC belong to one thread. */
#ifndef CAIRN_CN_AUTH_H
#define CAIRN_CN_AUTH_H

#include "cn_config.h"
#include "cn_roles.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_AUTH_SCHEME          "CAIRN2-HMAC-SHA256"
#define CN_AUTH_DEFAULT_SKEW_MS (300 * 1000)
#define CN_AUTH_MIN_SECRET      16 /* bytes */
#define CN_AUTH_MAX_SECRET      4096
#define CN_AUTH_BODY_SUFFIX     "suffix"   /* Body= of a request whose tag follows its body */
#define CN_AUTH_SUFFIX_LEN      16         /* raw bytes of that tag */
#define CN_AUTH_UNSIGNED_BODY   "unsigned" /* Body= of an answer whose body is not covered */
#define CN_AUTH_HEADER_MAX      256        /* a signature header value fits */
#define CN_AUTH_MAX_HEADERS     32         /* signed headers per message */
#define CN_AUTH_TAG_HEX         33         /* 32 hex digits + NUL */
/* X-Cairn-Error of a 401 for a request dated before the server started or
 * below its replay cache's floor: signing it afresh may succeed. */
#define CN_AUTH_ERROR_STALE "stale-signature"

struct cn_auth;
struct cn_tls;

/* ---- keys ---------------------------------------------------------------- */

/* Creates role's credentials from the cluster secret secret[len] (copied
 * into derived keys, never kept; CN_AUTH_MIN_SECRET..CN_AUTH_MAX_SECRET
 * bytes), accepting request times within max_skew_ms (<= 0: the default).
 * role is a signer role (CN_ROLE_FIRST..CN_ROLE_LAST). On success *out is
 * owned by the caller (cn_auth_free). Returns 0, CAIRN_E_INVAL or
 * CAIRN_E_NOMEM. */
int cn_auth_new(const void *secret, size_t len, enum cn_role role, int64_t max_skew_ms,
                struct cn_auth **out);

/* Like cn_auth_new() from a text that is either a cluster secret (its whole
 * content, trailing whitespace stripped) or a role key file of role (as
 * cn_auth_role_key_file() writes it; another role's file is CAIRN_E_INVAL). */
int cn_auth_new_from_text(const char *text, size_t len, enum cn_role role, int64_t max_skew_ms,
                          struct cn_auth **out);

/* Adds a second secret (or role key file text) whose key is accepted on
 * incoming requests and never used to sign: the next secret during a
 * rotation, or the previous one after the switch. Only before the auth is
 * shared. Returns 0, CAIRN_E_INVAL (bad text, same key as the first, already
 * two) or CAIRN_E_NOMEM. */
int cn_auth_add_accept_text(struct cn_auth *auth, const char *text, size_t len);

/* The daemons' way in: reads secret_file (a cluster secret or a role key
 * file, see above) and, if accept_file is not NULL or "", the second one.
 * compat_v1 turns on cn_auth_set_compat_v1(). Errors are logged under
 * log_module with the file name. Returns 0, CAIRN_E_NOTFOUND, CAIRN_E_IO,
 * CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int cn_auth_open(const char *secret_file, const char *accept_file, enum cn_role role,
                 int64_t max_skew_ms, bool compat_v1, const char *log_module, struct cn_auth **out);

/* Writes the role key file of role for the cluster secret secret[len] into a
 * malloc'ed NUL-terminated text (*text, free() it): the keys of every link
 * role sends or receives on, and the key id. Returns 0, CAIRN_E_INVAL or
 * CAIRN_E_NOMEM. */
int cn_auth_role_key_file(const void *secret, size_t len, enum cn_role role, char **text);

/* Frees (and wipes) the credentials. NULL is fine. */
void cn_auth_free(struct cn_auth *auth);

/* The signer role of these credentials. */
enum cn_role cn_auth_role(const struct cn_auth *auth);
/* The key id requests are signed with (8 hex digits). */
const char *cn_auth_key_id(const struct cn_auth *auth);
/* The accepted time difference, ms. */
int64_t cn_auth_max_skew_ms(const struct cn_auth *auth);

/* TLS credentials for internal links (cn_tls.h) travel with the HMAC keys,
 * so every client built from an auth uses them (and a daemon's internal
 * server takes them from here). Ownership of tls passes to auth (freed by
 * cn_auth_free). NULL = plain HTTP. */
void cn_auth_set_tls(struct cn_auth *auth, struct cn_tls *tls);
const struct cn_tls *cn_auth_tls(const struct cn_auth *auth);

/* Rolling upgrade from CAIRN1: with compat on, servers also accept CAIRN1
 * requests (as CN_ROLE_LEGACY, allowed everything, no replay protection) and
 * clients add the CAIRN1 headers to every request and accept answers without
 * a signature (old servers send none). Needs the cluster secret itself (not
 * a role key file): returns 0 or CAIRN_E_INVAL. */
int cn_auth_set_compat_v1(struct cn_auth *auth, int on);
int cn_auth_compat_v1(const struct cn_auth *auth);

/* ---- what is signed -------------------------------------------------------- */

/* The headers a message signs: every X-Cairn-* header except the two
 * signature headers (and the CAIRN1 X-Cairn-Auth), plus Range and
 * Content-Range. Pointers are borrowed for the life of the set. */
struct cn_auth_hdrs {
    struct {
        const char *name, *value;
        size_t name_len, value_len;
    } h[CN_AUTH_MAX_HEADERS];
    size_t n;
    int overflow; /* more than CN_AUTH_MAX_HEADERS: signing/verifying fails */
};

void cn_auth_hdrs_init(struct cn_auth_hdrs *h);
/* Adds name: value if it is a signed header (else ignores it). Surrounding
 * spaces and tabs of the value are not part of it. */
void cn_auth_hdrs_add(struct cn_auth_hdrs *h, const char *name, size_t name_len, const char *value,
                      size_t value_len);
/* The same for a "Name: value" line. */
void cn_auth_hdrs_add_line(struct cn_auth_hdrs *h, const char *line);
/* 1 if name is a header a message signs. */
int cn_auth_is_signed_header(const char *name, size_t name_len);

/* A request as it goes on the wire. */
struct cn_auth_msg {
    const char *method; /* "PUT" */
    const char *host;   /* the Host header value: "127.0.0.1:9300" */
    const char *target; /* "/v1/fragment/…?x=1", raw, as on the request line */
    const struct cn_auth_hdrs *hdrs;
};

/* ---- one exchange (a request and its answer) --------------------------------- */

struct cn_auth_exchange {
    const struct cn_auth *auth;
    int gen; /* which of auth's secrets */
    enum cn_role from, to;
    int64_t time_ms;
    char nonce[33];     /* 32 lowercase hex */
    char signature[65]; /* the request's signature, once signed or verified */
    char body_tag[33];  /* the claimed request body tag ("" with a suffix) */
    int body_suffix;    /* the request body's tag follows the body */
};

/* Client: starts an exchange to a daemon of role `to` at wall-clock now_ms
 * (cn_wall_ms()): picks the signing key of the link and a fresh random
 * nonce. Returns 0, CAIRN_E_INVAL (auth holds no key for that link) or
 * CAIRN_E_IO (no randomness). */
int cn_auth_client_begin(const struct cn_auth *auth, enum cn_role to, int64_t now_ms,
                         struct cn_auth_exchange *ex);

/* Client: signs the request msg whose body has tag body_tag (32 hex, from
 * cn_auth_mac_*), or NULL when the tag will follow the body. Writes the
 * X-Cairn-Signature value into out and keeps the signature in ex. Returns 0
 * or CAIRN_E_INVAL (a malformed field, more than CN_AUTH_MAX_HEADERS signed
 * headers, two with one name). */
int cn_auth_client_sign(struct cn_auth_exchange *ex, const struct cn_auth_msg *msg,
                        const char *body_tag, char out[CN_AUTH_HEADER_MAX]);

/* Client: checks an answer: status, its signed headers, its
 * X-Cairn-Response-Signature value sig_hdr (NULL if absent) and body_tag, the
 * tag the client computed over the body it received (NULL if it did not).
 * Returns 0 when the answer is authentic — *body_signed then says whether
 * its body was covered (and matched body_tag) — else CAIRN_E_AUTH. */
int cn_auth_client_check_response(const struct cn_auth_exchange *ex, unsigned status,
                                  const struct cn_auth_hdrs *hdrs, const char *sig_hdr,
                                  const char *body_tag, int *body_signed);

/* Server: verifies a request's X-Cairn-Signature value sig_hdr against msg
 * at now_ms: the format, the receiver role (auth's), a key for the link and
 * the key id, the time window and the HMAC (constant-time). Fills ex (sender
 * role, nonce, the claimed body tag or suffix). Does NOT check the Host
 * (the server's), the nonce's freshness (cn_replay.h) or the route
 * (cn_roles.h). Returns 0 or CAIRN_E_AUTH with *why (if why is not NULL) a
 * static reason for the log. */
int cn_auth_server_verify(const struct cn_auth *auth, const struct cn_auth_msg *msg,
                          const char *sig_hdr, int64_t now_ms, struct cn_auth_exchange *ex,
                          const char **why);

/* Server: signs the answer to a verified request: status, the answer's
 * signed headers and its body tag (NULL: body not covered, "unsigned").
 * Writes the X-Cairn-Response-Signature value into out. Returns 0 or
 * CAIRN_E_INVAL. */
int cn_auth_server_sign_response(const struct cn_auth_exchange *ex, unsigned status,
                                 const struct cn_auth_hdrs *hdrs, const char *body_tag,
                                 char out[CN_AUTH_HEADER_MAX]);

/* ---- body tags: Poly1305 under a one-time key from the link key and nonce ---- */

struct cn_auth_mac {
    void *ctx; /* EVP_MAC_CTX */
};

/* Starts the tag of the request body (response = 0) or of the answer's body
 * (response = 1) of exchange ex. Returns 0 or CAIRN_E_NOMEM. On success the
 * caller ends it with cn_auth_mac_end() or cn_auth_mac_abort(). */
int cn_auth_mac_begin(const struct cn_auth_exchange *ex, int response, struct cn_auth_mac *m);
int cn_auth_mac_update(struct cn_auth_mac *m, const void *data, size_t len);
/* Writes the tag (32 lowercase hex digits) and frees the state. */
int cn_auth_mac_end(struct cn_auth_mac *m, char tag[CN_AUTH_TAG_HEX]);
/* The same as the CN_AUTH_SUFFIX_LEN raw bytes that follow a streamed body. */
int cn_auth_mac_end_raw(struct cn_auth_mac *m, unsigned char raw[CN_AUTH_SUFFIX_LEN]);
/* Frees the state without a tag. Idempotent. */
void cn_auth_mac_abort(struct cn_auth_mac *m);
/* The tag of a body in memory. Returns 0 or CAIRN_E_NOMEM. */
int cn_auth_body_tag(const struct cn_auth_exchange *ex, int response, const void *body, size_t len,
                     char tag[CN_AUTH_TAG_HEX]);
/* Constant-time comparison of two tags; 1 if equal. */
int cn_auth_tag_equal(const char *a, const char *b);

/* ---- the parser (exposed for tests and fuzzing) -------------------------------- */

struct cn_auth_parsed {
    char key_id[9];
    enum cn_role from, to;
    int64_t time_ms;
    char nonce[33];
    char body[33]; /* 32 hex, or "suffix" */
    char signature[65];
};

/* Parses an X-Cairn-Signature value strictly. Returns 0 or CAIRN_E_AUTH. */
int cn_auth_parse_request_header(const char *value, struct cn_auth_parsed *out);
/* Parses an X-Cairn-Response-Signature value: body (32 hex or "unsigned")
 * and signature. Returns 0 or CAIRN_E_AUTH. */
int cn_auth_parse_response_header(const char *value, char body[33], char signature[65]);

/* ---- CAIRN1, for --auth-compat-v1 only ------------------------------------------- */

#define CN_AUTH_V1_SCHEME   "CAIRN1-HMAC-SHA256"
#define CN_AUTH_V1_UNSIGNED "UNSIGNED-PAYLOAD"

struct cn_auth_v1_headers {
    char date[24];        /* X-Cairn-Date */
    char body_sha256[68]; /* X-Cairn-Content-SHA256 */
    char auth[96];        /* X-Cairn-Auth */
};

/* Signs method + target the CAIRN1 way (body_sha256_hex NULL: unsigned
 * payload). Returns 0 or CAIRN_E_INVAL (no cluster secret held). */
int cn_auth_v1_sign(const struct cn_auth *auth, const char *method, const char *target,
                    int64_t now_s, const char *body_sha256_hex, struct cn_auth_v1_headers *out);
/* Verifies a CAIRN1 request with any held secret. Returns 0 or
 * CAIRN_E_AUTH. *body_signed is set when body_hdr is a hash the body must
 * match. */
int cn_auth_v1_verify(const struct cn_auth *auth, const char *method, const char *target,
                      const char *date_hdr, const char *body_hdr, const char *auth_hdr,
                      int64_t now_s, int *body_signed);

/* Lowercase hex SHA-256 of data[len] into hex[65]. */
void cn_sha256_hex(const void *data, size_t len, char hex[65]);

/* ---- daemon options (every daemon's table includes them) -------------------------- */

struct cn_auth_daemon_config {
    char *accept_file;      /* --cluster-secret-accept-file */
    bool compat_v1;         /* --auth-compat-v1 */
    int64_t replay_entries; /* --auth-replay-cache */
};

#define CN_AUTH_DAEMON_OPTIONS(cfg)                                                                \
    CN_CONF_OPT_STRING("cluster-secret-accept-file", "",                                           \
                       "a second cluster secret (or role key file) accepted on incoming "          \
                       "requests, never used to sign: for rotating the secret "                    \
                       "(docs/deploy.md)",                                                         \
                       &(cfg)->accept_file),                                                       \
        CN_CONF_OPT_BOOL("auth-compat-v1", "false",                                                \
                         "rolling upgrade only: also accept and send the old CAIRN1 signatures "   \
                         "(no roles, no replay protection)",                                       \
                         &(cfg)->compat_v1),                                                       \
        CN_CONF_OPT_INT("auth-replay-cache", "262144", 1024, 16777216,                             \
                        "request nonces remembered against replay (about 48 bytes each)",          \
                        &(cfg)->replay_entries)

#endif
