/* S3 CORS as a protocol unit (pure; no I/O): the CORSConfiguration document
 * of Put/GetBucketCors, and the matching of a request against its rules.
 *
 * A configuration holds 1..100 rules, each with an optional ID (at most 255
 * characters), one or more AllowedOrigin (each with at most one '*'), one or
 * more AllowedMethod (GET, PUT, POST, DELETE, HEAD), any AllowedHeader (at
 * most one '*' each), ExposeHeader and one optional MaxAgeSeconds. PutBucketCors
 * refusals: MalformedXML for anything the schema does not allow, InvalidRequest
 * "Found unsupported HTTP method in CORS config. Unsupported method is X" (S3's
 * messages, naming the value),
 * "AllowedOrigin \"X\" can not have more than one wildcard.", "AllowedHeader
 * \"X\" can not have more than one wildcard.".
 *
 * Matching, as S3 does it: the first rule whose AllowedOrigin matches the
 * request's Origin (a '*' matches any run of characters, case-sensitively),
 * whose AllowedMethod holds the method (Access-Control-Request-Method for a
 * preflight), and -- preflight only -- every header named in
 * Access-Control-Request-Headers matches an AllowedHeader (case-insensitive,
 * with its '*'). Thread-safe. */
#ifndef CAIRN_GW_CORS_H
#define CAIRN_GW_CORS_H

#include "gw_buf.h"
#include "gw_s3err.h"

#include <stddef.h>
#include <stdint.h>

#define GW_CORS_MAX_RULES 100
#define GW_CORS_MAX_LIST  256   /* entries in one list of a rule */
#define GW_CORS_MAX_BYTES 65536 /* the configuration document */
#define GW_CORS_MSG_MAX   512   /* an error message of gw_cors_parse_xml */

/* One rule. Lists are arrays of NUL-terminated strings; the layout is that
 * of md.CorsRule (char **, size_t) so a stored rule can be viewed without a
 * copy. */
struct gw_cors_rule {
    char *id; /* "" when none */
    char **origins;
    size_t n_origins;
    char **methods;
    size_t n_methods;
    char **headers;
    size_t n_headers;
    char **expose;
    size_t n_expose;
    int64_t max_age; /* seconds; -1 when none */
};

/* A configuration. Parsed ones own every string (gw_cors_free); views made
 * by the caller own nothing. */
struct gw_cors {
    size_t n;
    struct gw_cors_rule *rules;
};

/* Parses a CORSConfiguration document. Returns 0 with *out (gw_cors_free it)
 * or CAIRN_E_INVAL / CAIRN_E_NOMEM with *err (MalformedXML, InvalidRequest,
 * InternalError) and the message in msg ("" for the error's default). */
int gw_cors_parse_xml(const char *body, size_t len, struct gw_cors *out, enum gw_s3err *err,
                      char msg[GW_CORS_MSG_MAX]);

/* Appends the GetBucketCors document for c. Returns gw_buf_error(b). */
int gw_cors_xml(struct gw_buf *b, const struct gw_cors *c);

/* Frees a parsed configuration and empties it. */
void gw_cors_free(struct gw_cors *c);

/* The first rule of c allowing origin and method and, when request_headers
 * is not NULL (a preflight's Access-Control-Request-Headers, a comma
 * separated list), every header in it; NULL when none does. */
const struct gw_cors_rule *gw_cors_match(const struct gw_cors *c, const char *origin,
                                         const char *method, const char *request_headers);

/* 1 if origin pattern pat (at most one '*') matches s (case-sensitive). */
int gw_cors_wildcard_match(const char *pat, const char *s, int icase);

/* The response headers of a request matched by rule, as S3 sends them: */
struct gw_cors_headers {
    char allow_origin[1024];  /* "*" for a rule allowing any origin, else the origin */
    int allow_credentials;    /* 1: Access-Control-Allow-Credentials: true */
    char allow_methods[64];   /* the rule's methods, ", "-separated */
    char allow_headers[4096]; /* preflight: the requested headers, lowercased; "" none */
    char expose[4096];        /* the rule's ExposeHeaders, ", "-separated; "" none */
    char max_age[24];         /* "" when the rule has none */
};

/* Fills h for rule matched with origin and (preflight) request_headers.
 * Returns 0, or CAIRN_E_RANGE when a value does not fit (the caller answers
 * without CORS headers). */
int gw_cors_headers_for(const struct gw_cors_rule *rule, const char *origin,
                        const char *request_headers, struct gw_cors_headers *h);

#endif
