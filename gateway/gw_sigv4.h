/* AWS Signature Version 4 verification for S3 requests.
 *
 * Forms: the Authorization header ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") and presigned URLs (X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Signature in the query). Payload modes (x-amz-content-sha256): a hex
 * SHA-256 the body must match (struct gw_sha256_check), UNSIGNED-PAYLOAD,
 * and the aws-chunked bodies decoded by struct gw_chunked:
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signature in the chain
 * verified), its -TRAILER form (plus a signed x-amz-checksum-* trailer) and
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER (unsigned chunks, checksum trailer).
 *
 * Canonical request as AWS documents it for S3: the path is URI-encoded once
 * from the request-target (percent-escapes are normalized, never encoded a
 * second time; "%2F" stays "%2F"); query parameters are decoded, re-encoded,
 * sorted by name then value, "name=" for empty values; canonical headers are
 * the signed headers lowercased, values trimmed with inner runs of spaces
 * collapsed, repeated headers joined with ','.
 *
 * Access keys are resolved through a callback (they live in the metadata
 * service). Signatures are compared in constant time. Nothing here keeps
 * global state: all functions are thread-safe; a struct gw_chunked belongs to
 * one request (one thread at a time). */
#ifndef CAIRN_GW_SIGV4_H
#define CAIRN_GW_SIGV4_H

#include "gw_buf.h"
#include "gw_req.h"
#include "gw_s3err.h"

#include <stddef.h>
#include <stdint.h>

#define GW_SIGV4_ALGORITHM       "AWS4-HMAC-SHA256"
#define GW_SIGV4_UNSIGNED        "UNSIGNED-PAYLOAD"
#define GW_SIGV4_STREAMING       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define GW_SIGV4_STREAMING_TRL   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define GW_SIGV4_UNSIGNED_TRL    "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define GW_SIGV4_DEFAULT_SKEW    900    /* seconds, as S3 (15 minutes) */
#define GW_SIGV4_MAX_EXPIRES     604800 /* seconds, 7 days, as S3 */
#define GW_SIGV4_MAX_ACCESS_KEY  128
#define GW_SIGV4_MAX_SECRET      128
#define GW_SIGV4_MAX_SIGNED_HDRS 64

/* Resolves an access key to its secret. Writes the NUL-terminated secret
 * into secret (capacity cap). Returns 0, CAIRN_E_NOTFOUND (unknown key: the
 * request fails with InvalidAccessKeyId), or another negative code (the
 * request fails with InternalError, or ServiceUnavailable for
 * CAIRN_E_UNAVAIL/NOTLEADER/TIMEOUT/BUSY). Called from the
 * request's thread; must be thread-safe if requests run in parallel. */
typedef int (*gw_sigv4_lookup_fn)(void *ctx, const char *access_key, char *secret, size_t cap);

struct gw_sigv4_config {
    const char *region;  /* expected region; NULL accepts any region in the scope */
    const char *service; /* expected service; NULL means "s3" */
    int64_t max_skew_s;  /* 0 means GW_SIGV4_DEFAULT_SKEW */
    /* 1 (strict S3): header-signed requests must carry x-amz-content-sha256.
     * 0: a missing header means the empty payload (hash of ""), as the
     * generic SigV4 suite and `curl --aws-sigv4` (which omits the header on
     * GET) assume; the result is then PAYLOAD_SIGNED with that hash, so the
     * body check still refuses any body. The gateway should use 0. */
    int require_content_sha256;
    gw_sigv4_lookup_fn lookup;
    void *lookup_ctx;
};

/* The request as it arrived. */
struct gw_sigv4_request {
    const char *method;    /* "GET" */
    const char *raw_path;  /* request-target path as sent, still percent-encoded */
    const char *raw_query; /* after '?', as sent; NULL or "" for none */
    const struct gw_header *headers;
    size_t n_headers;
    /* Optional (NULL: none): on SignatureDoesNotMatch, receives what the
     * gateway computed, for the error document (gw_sigv4_mismatch_xml). */
    struct gw_sigv4_mismatch *mismatch;
};

/* What S3 reports with SignatureDoesNotMatch so a client can compare. The
 * caller owns it: gw_sigv4_mismatch_init before, gw_sigv4_mismatch_free
 * after. */
struct gw_sigv4_mismatch {
    int filled;
    char access_key[GW_SIGV4_MAX_ACCESS_KEY + 1];
    char signature_provided[65];
    struct gw_buf canonical_request;
    struct gw_buf string_to_sign;
};

void gw_sigv4_mismatch_init(struct gw_sigv4_mismatch *m);
void gw_sigv4_mismatch_free(struct gw_sigv4_mismatch *m);

/* Appends S3's SignatureDoesNotMatch document: Code, Message, AWSAccessKeyId,
 * StringToSign, SignatureProvided, StringToSignBytes, CanonicalRequest,
 * CanonicalRequestBytes (hex bytes separated by spaces, as S3), Resource,
 * RequestId -- all escaped. m must be filled. Returns gw_buf_error(out) or
 * CAIRN_E_INVAL. */
int gw_sigv4_mismatch_xml(struct gw_buf *out, const struct gw_sigv4_mismatch *m,
                          const char *resource, const char *request_id);

enum gw_sigv4_kind {
    GW_SIGV4_ANONYMOUS = 0, /* neither Authorization nor X-Amz-Signature */
    GW_SIGV4_HEADER,
    GW_SIGV4_PRESIGNED,
};

enum gw_sigv4_payload {
    GW_SIGV4_PAYLOAD_SIGNED = 0,                 /* body must hash to payload_sha256 */
    GW_SIGV4_PAYLOAD_UNSIGNED,                   /* UNSIGNED-PAYLOAD (and every presigned URL) */
    GW_SIGV4_PAYLOAD_STREAMING,                  /* aws-chunked, signed chunks: use gw_chunked */
    GW_SIGV4_PAYLOAD_STREAMING_TRAILER,          /* + a signed checksum trailer */
    GW_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER, /* unsigned chunks + checksum trailer */
};

/* What a verified request proved; also the state the chunk decoder needs. */
struct gw_sigv4_result {
    enum gw_sigv4_kind kind;
    enum gw_sigv4_payload payload;
    char access_key[GW_SIGV4_MAX_ACCESS_KEY + 1];
    char region[64];
    unsigned char payload_sha256[32]; /* when payload == SIGNED */
    int64_t decoded_content_length;   /* x-amz-decoded-content-length, -1 if absent */
    int64_t request_time;             /* Unix seconds of X-Amz-Date */
    char amz_date[17];                /* "20130524T000000Z" */
    char scope[160];                  /* "20130524/us-east-1/s3/aws4_request" */
    char signature[65];               /* the seed signature for streaming */
    char trailer[32];                 /* x-amz-trailer (lowercase) in trailer modes */
    unsigned char signing_key[32];    /* derived key; wiped by gw_sigv4_result_wipe */
};

/* The first header of h[n] whose name starts with "x-amz-" (any case) and
 * that the ';'-separated lowercase list signed_headers does not name, or
 * NULL when every one is signed. Returns a pointer into h (borrowed). S3
 * refuses such a request (AccessDenied, "There were headers present in the
 * request which were not signed"): an unsigned x-amz-copy-source would turn
 * a captured PUT into a copy. */
const char *gw_sigv4_unsigned_amz_header(const struct gw_header *h, size_t n,
                                         const char *signed_headers);

/* Which form the request uses (no verification). */
enum gw_sigv4_kind gw_sigv4_kind_of(const struct gw_sigv4_request *req);

/* Verifies req at wall-clock time now_s (Unix seconds). On success returns 0
 * and fills *res (kind HEADER or PRESIGNED). On failure returns
 * CAIRN_E_AUTH (bad or missing signature, unknown key, expired, skewed),
 * CAIRN_E_INVAL (malformed authorization data) or another negative code
 * (lookup failure), and sets *err to the S3 error to send:
 * AccessDenied (anonymous request), AuthorizationHeaderMalformed,
 * AuthorizationQueryParametersError, InvalidAccessKeyId,
 * SignatureDoesNotMatch, RequestTimeTooSkewed, AccessDenied "Request has
 * expired" (GW_S3_EXPIRED_PRESIGNED), InvalidRequest, InvalidArgument,
 * NotImplemented (SigV4a / ECDSA streaming), MissingContentLength
 * (streaming without x-amz-decoded-content-length),
 * InternalError or ServiceUnavailable.
 * Anonymous requests fail with AccessDenied: a caller that allows public-read
 * checks gw_sigv4_kind_of() first. The caller must still check the body
 * against res->payload (SIGNED: gw_sha256_check; STREAMING*: gw_chunked).
 * Trailer modes need x-amz-trailer naming one x-amz-checksum-* header
 * (else InvalidRequest). */
int gw_sigv4_verify(const struct gw_sigv4_config *cfg, const struct gw_sigv4_request *req,
                    int64_t now_s, struct gw_sigv4_result *res, enum gw_s3err *err);

/* Wipes the derived key in res. */
void gw_sigv4_result_wipe(struct gw_sigv4_result *res);

/* ---- building blocks (exposed for tests and for signing clients) ----- */

/* Appends the canonical request for req to out with the given signed
 * header list ("host;x-amz-date") and payload hash string; exclude_param
 * (NULL or "X-Amz-Signature") is left out of the canonical query. Returns 0,
 * or CAIRN_E_INVAL with *err set (a signed header missing from the request,
 * bad escape). */
int gw_sigv4_canonical_request(struct gw_buf *out, const struct gw_sigv4_request *req,
                               const char *signed_headers, const char *payload_hash,
                               const char *exclude_param, enum gw_s3err *err);

/* Derives the SigV4 signing key from secret, date "YYYYMMDD", region and
 * service into key[32]. Returns 0 or CAIRN_E_NOMEM. */
int gw_sigv4_signing_key(const char *secret, const char *date, const char *region,
                         const char *service, unsigned char key[32]);

/* Signature (64 lowercase hex digits into sig[65]) of a canonical request:
 * HMAC(key, "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(SHA256(creq))).
 * Returns 0 or CAIRN_E_NOMEM. */
int gw_sigv4_sign_canonical(const unsigned char key[32], const char *amz_date, const char *scope,
                            const char *canonical_request, size_t len, char sig[65]);

/* Signature of one aws-chunked chunk (64 hex digits into sig[65]) given the
 * SHA-256 of its data and the previous signature (the seed signature for the
 * first chunk): HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope
 * "\n" prev_sig "\n" hex(SHA256("")) "\n" hex(data_sha256)).
 * Returns 0 or CAIRN_E_NOMEM / CAIRN_E_INVAL. */
int gw_sigv4_chunk_sign(const unsigned char key[32], const char *amz_date, const char *scope,
                        const char *prev_sig, const unsigned char data_sha256[32], char sig[65]);

/* Signature of an aws-chunked trailer (64 hex digits into sig[65]):
 * HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n" prev_sig
 * "\n" hex(SHA256(canonical_trailer))), where prev_sig is the final chunk's
 * signature and canonical_trailer is "name:value\n" per trailer header.
 * Returns 0 or CAIRN_E_NOMEM / CAIRN_E_INVAL. */
int gw_sigv4_trailer_sign(const unsigned char key[32], const char *amz_date, const char *scope,
                          const char *prev_sig, const char *canonical_trailer, char sig[65]);

/* ---- signed payloads: incremental SHA-256 check ---------------------- */

struct gw_sha256_check;

/* Starts checking a body against expected[32]. *out owned by the caller
 * (gw_sha256_check_free). Returns 0 or CAIRN_E_NOMEM. */
int gw_sha256_check_new(const unsigned char expected[32], struct gw_sha256_check **out);
/* Feeds body bytes in any pieces. Returns 0 or CAIRN_E_NOMEM. */
int gw_sha256_check_update(struct gw_sha256_check *c, const void *data, size_t len);
/* After the last byte: 0 if the body hashed to the expected value, else
 * CAIRN_E_CORRUPT (S3: XAmzContentSHA256Mismatch). Call once. */
int gw_sha256_check_finish(struct gw_sha256_check *c);
void gw_sha256_check_free(struct gw_sha256_check *c);

/* ---- streaming payloads: aws-chunked decoder ------------------------- */

/* Receives decoded payload bytes. Return 0 to continue; a negative code
 * stops gw_chunked_feed(), which returns it. */
typedef int (*gw_chunked_emit_fn)(void *ctx, const void *data, size_t len);

#define GW_CHUNKED_MAX_HEADER 4096 /* bytes of one chunk-size line */

struct gw_chunked;

/* Starts decoding an aws-chunked body of a request that gw_sigv4_verify()
 * accepted with a STREAMING* payload (res is copied: seed signature, scope,
 * date, signing key, trailer name). max_chunk bounds one chunk's declared
 * size (0 means 64 MiB). Memory use is constant: chunk data is hashed and
 * emitted as it arrives, never held; header and trailer lines are capped at
 * GW_CHUNKED_MAX_HEADER bytes.
 * Trade-off (as S3): a chunk's bytes are emitted before its signature can be
 * checked (the signature covers the whole chunk); a bad chunk makes
 * gw_chunked_feed() fail at the chunk's end. Likewise the trailer checksum
 * is known only at the end. The caller must therefore treat everything
 * emitted as unverified until gw_chunked_finish() returns 0, and commit
 * nothing before that. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int gw_chunked_new(const struct gw_sigv4_result *res, uint64_t max_chunk, struct gw_chunked **out);

/* Feeds len body bytes (any split: one byte at a time works). Emits payload
 * bytes through emit. Returns 0, the emit callback's error, or a negative
 * CAIRN_E_* with *err set: SignatureDoesNotMatch (chunk signature chain),
 * IncompleteBody/InvalidRequest (framing, more data than declared, header
 * line too long, chunk larger than max_chunk). After an error the decoder
 * accepts no more input. */
int gw_chunked_feed(struct gw_chunked *d, const void *data, size_t len, gw_chunked_emit_fn emit,
                    void *ctx, enum gw_s3err *err);

/* At the end of the body: 0 if the final zero-length chunk was seen and
 * verified, the decoded length matches x-amz-decoded-content-length, and in
 * trailer modes the checksum trailer was present, matched the data (else
 * BadDigest) and, when signed, its trailer signature verified. Otherwise a
 * negative code with *err = IncompleteBody, MalformedTrailerError, BadDigest,
 * SignatureDoesNotMatch (or the earlier error). The CRLF that ends the body
 * is optional. */
int gw_chunked_finish(struct gw_chunked *d, enum gw_s3err *err);

/* Payload bytes emitted so far. */
uint64_t gw_chunked_decoded(const struct gw_chunked *d);

/* Frees (and wipes) the decoder. NULL is fine. */
void gw_chunked_free(struct gw_chunked *d);

#endif
