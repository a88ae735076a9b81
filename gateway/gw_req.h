/* S3 request parsing helpers: addressing (path-style and virtual-host-style),
 * bucket-name and key rules, URL decoding, query strings, Range, conditional
 * headers, HTTP dates, user metadata, Content-MD5, storage classes and the
 * multipart ETag. Pure functions over their arguments (no I/O, no global
 * state): all are thread-safe. Failures that a client caused are reported as
 * an enum gw_s3err through an out parameter and a negative CAIRN_E_* return. */
#ifndef CAIRN_GW_REQ_H
#define CAIRN_GW_REQ_H

#include "gw_s3err.h"

#include <stddef.h>
#include <stdint.h>

#define GW_MAX_BUCKET_NAME   63
#define GW_MAX_KEY           1024 /* bytes of UTF-8, as S3 */
#define GW_MAX_USER_METADATA 2048 /* bytes: names (without x-amz-meta-) + values, as S3 */
#define GW_MAX_QUERY_PARAMS  128
#define GW_MAX_QUERY_LEN     16384

/* One request header as the HTTP layer delivers it (name in any case). */
struct gw_header {
    const char *name;
    const char *value;
};

/* Returns the value of the first header named name (ASCII case-insensitive),
 * or NULL. */
const char *gw_header_get(const struct gw_header *h, size_t n, const char *name);

/* Headers gathered into caller-owned storage h[cap]: gw_header_collect is a
 * cn_http_req_headers_foreach callback (list is a struct gw_header_list)
 * that appends name and value (borrowed from the request) and stops with
 * overflow set when a header finds h full. */
struct gw_header_list {
    struct gw_header *h;
    size_t cap, n;
    int overflow;
};
int gw_header_collect(const char *name, const char *value, void *list);

/* ---- URL decoding ---------------------------------------------------- */

/* Percent-decodes src[len] into out (capacity cap, NUL-terminated). With
 * plus_is_space, '+' decodes to ' ' (form encoding; S3 query strings are NOT
 * decoded that way by SigV4 signers, see gw_query_parse). A '%' not followed
 * by two hex digits, a decoded NUL byte, or an output longer than cap-1 fail.
 * Returns the decoded length, CAIRN_E_INVAL or CAIRN_E_RANGE. */
int gw_url_decode(const char *src, size_t len, char *out, size_t cap, int plus_is_space);

/* Appends the S3 "URI-encode" of s[len] to out: every byte except
 * A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex); '/' is kept when
 * keep_slash. This is SigV4's UriEncode() and S3's encoding-type=url. */
void gw_uri_encode(struct gw_buf *out, const char *s, size_t len, int keep_slash);

/* ---- query strings --------------------------------------------------- */

struct gw_query_param {
    char *name;  /* decoded */
    char *value; /* decoded; "" when absent */
    int has_value;
};

struct gw_query {
    size_t n;
    struct gw_query_param *params; /* in request order */
};

/* Parses a raw query string (after '?', not decoded; NULL or "" gives an
 * empty query). '+' is kept literally (S3 clients encode space as %20).
 * Parameters with an empty name are skipped. At most GW_MAX_QUERY_PARAMS
 * parameters and GW_MAX_QUERY_LEN bytes. On success *q must be released with
 * gw_query_free(). Returns 0, CAIRN_E_INVAL (bad escape, *err =
 * GW_S3_INVALID_ARGUMENT), CAIRN_E_RANGE (too long/many, *err =
 * GW_S3_INVALID_ARGUMENT) or CAIRN_E_NOMEM. */
int gw_query_parse(const char *raw, struct gw_query *q, enum gw_s3err *err);
void gw_query_free(struct gw_query *q);
/* The value of the first parameter named name ("" if it has no value), or
 * NULL if absent. Names compare exactly (S3 subresources are case-sensitive). */
const char *gw_query_get(const struct gw_query *q, const char *name);

/* ---- addressing ------------------------------------------------------ */

struct gw_target {
    char bucket[GW_MAX_BUCKET_NAME + 1]; /* "" for service-level requests */
    char key[GW_MAX_KEY + 1];            /* "" when the request names no key */
    int virtual_host;                    /* 1 if the bucket came from the Host header */
};

/* Resolves bucket and key. decoded_path is the request path after URL
 * decoding, starting with '/'. If base_domain is set (e.g. "s3.example",
 * compared case-insensitively, ports ignored on both sides) and host is
 * "<bucket>.<base_domain>[:port]", the request is virtual-host style: the
 * bucket is the host prefix and the whole path is the key. Otherwise it is
 * path-style: "/bucket/key...". The bucket is checked only for length and
 * characters that can appear in a name (full rules: gw_bucket_name_valid()).
 * Keys must be valid UTF-8 (as S3 requires; XML listings could not carry
 * them otherwise); control characters are allowed, as in S3. Returns 0, or
 * CAIRN_E_INVAL with *err = GW_S3_INVALID_BUCKET_NAME, GW_S3_KEY_TOO_LONG,
 * GW_S3_INVALID_URI (not UTF-8: S3's 400 "Couldn't parse the specified
 * URI.") or GW_S3_INVALID_REQUEST (path not starting with '/'). */
int gw_target_parse(const char *host, const char *base_domain, const char *decoded_path,
                    struct gw_target *out, enum gw_s3err *err);

/* 1 if name follows S3's bucket naming rules for new buckets: 3..63
 * characters of a-z 0-9 . -; starts and ends with a letter or digit; no "..",
 * ".-" or "-.";
 * not an IPv4 address; not starting with "xn--", "sthree-" or "amzn-s3-demo-";
 * not ending with "-s3alias", "--ol-s3", ".mrap" or "--x-s3". Else 0. */
int gw_bucket_name_valid(const char *name);

/* ---- Range ----------------------------------------------------------- */

enum gw_range_kind {
    GW_RANGE_NONE = 0,      /* no usable Range: serve the whole object, 200 */
    GW_RANGE_PARTIAL,       /* serve [first, last], 206 */
    GW_RANGE_UNSATISFIABLE, /* 416 InvalidRange, Content-Range: bytes * /size */
};

struct gw_range {
    uint64_t first;
    uint64_t last; /* inclusive */
};

/* Evaluates a Range header against an object of size bytes. Supports one
 * "bytes=" range: "a-b", "a-" (open) and "-n" (suffix); last is clamped to
 * size-1. Absent, syntactically invalid, non-"bytes" and multi-range headers
 * give GW_RANGE_NONE (as S3: the whole object is returned). A range starting
 * at or past size, a suffix of 0, or any range of an empty object gives
 * GW_RANGE_UNSATISFIABLE. */
enum gw_range_kind gw_range_parse(const char *hdr, uint64_t size, struct gw_range *out);

/* ---- HTTP dates ------------------------------------------------------ */

/* Parses an HTTP-date in any of the three RFC 7231 formats (IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT",
 * asctime "Sun Nov  6 08:49:37 1994") into Unix seconds. RFC 850 two-digit
 * years 70..99 are 19xx, 00..69 are 20xx. Returns 0 or CAIRN_E_INVAL. */
int gw_http_date_parse(const char *s, int64_t *out);
/* Writes the IMF-fixdate of t (Unix seconds) into out[30]. */
void gw_http_date_format(int64_t t, char out[30]);
/* Writes t (Unix milliseconds) as ISO 8601 with milliseconds,
 * "2009-10-12T17:50:30.000Z", into out[25] (the form S3 XML uses). */
void gw_iso8601_format(int64_t t_ms, char out[25]);
/* Parses ISO 8601 "2030-01-01T00:00:00.000Z" (the fraction optional, UTC
 * only: what S3 documents take) into Unix milliseconds. Returns 0 or
 * CAIRN_E_INVAL. Shared by POST policies and lifecycle dates. */
int gw_iso8601_parse(const char *s, int64_t *out);
/* Parses the SigV4 basic format "20130524T000000Z" into Unix seconds.
 * Returns 0 or CAIRN_E_INVAL. */
int gw_amz_date_parse(const char *s, int64_t *out);

/* ---- conditional requests (RFC 7232) ----------------------------------- */

struct gw_cond {
    const char *if_match; /* header values, NULL when absent */
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
};

/* Fills c from the request headers. */
void gw_cond_from_headers(const struct gw_header *h, size_t n, struct gw_cond *c);

/* Evaluates the conditions against the current object (exists = 0: no such
 * object; etag without quotes; mtime in Unix milliseconds) in RFC 7232 §6
 * order: If-Match (else If-Unmodified-Since), then If-None-Match (else
 * If-Modified-Since, only for GET/HEAD). Invalid dates are ignored, as RFC
 * 7232 requires. is_get_head selects 304 (GET/HEAD) over 412 for a failed
 * If-None-Match. Returns GW_S3_OK, GW_S3_NOT_MODIFIED or
 * GW_S3_PRECONDITION_FAILED. */
enum gw_s3err gw_cond_eval(const struct gw_cond *c, int exists, const char *etag, int64_t mtime_ms,
                           int is_get_head);

/* Fills c from the x-amz-copy-source-if-* headers of CopyObject and
 * UploadPartCopy (the conditions on the source object). */
void gw_cond_from_copy_headers(const struct gw_header *h, size_t n, struct gw_cond *c);

/* Evaluates copy-source conditions: the same order as gw_cond_eval, but
 * If-Modified-Since always applies and every failure is
 * GW_S3_PRECONDITION_FAILED (S3 never answers a copy with 304). */
enum gw_s3err gw_cond_eval_copy(const struct gw_cond *c, int exists, const char *etag,
                                int64_t mtime_ms);

/* 1 if the entity-tag list hdr ("*" or comma-separated, quoted or bare, W/
 * prefixes) contains etag (unquoted). weak: W/"x" matches x (If-None-Match);
 * otherwise weak tags never match (If-Match). "*" matches when exists. */
int gw_etag_list_match(const char *hdr, const char *etag, int exists, int weak);

/* ---- user metadata --------------------------------------------------- */

struct gw_meta_item {
    char *name;  /* lowercased, without the "x-amz-meta-" prefix */
    char *value; /* leading/trailing blanks trimmed */
};

struct gw_meta {
    size_t n;
    size_t total; /* bytes counted against GW_MAX_USER_METADATA */
    struct gw_meta_item *items;
};

/* User metadata values with non-ASCII text, as S3 handles them: RFC 2047
 * encoded-words ("=?UTF-8?B?...?=", B or Q, charsets UTF-8, US-ASCII and
 * ISO-8859-1) are decoded before storing, and values holding non-ASCII
 * bytes are sent back as UTF-8 B encoded-words "to make them mail-safe".
 *
 * gw_meta_value_decode: v with every such encoded-word replaced by its text
 * (blanks between adjacent words dropped, as RFC 2047 says); other text --
 * raw UTF-8 included -- is kept as it is, and so is a word in another
 * charset or whose text is not UTF-8 or holds a control character (it
 * would reach a response header raw). *out is malloc'ed. Returns 0,
 * CAIRN_E_RANGE (result over 4 x GW_MAX_USER_METADATA) or CAIRN_E_NOMEM. */
int gw_meta_value_decode(const char *v, char **out);
/* Appends v as a header value: as is when it is ASCII, else as
 * "=?UTF-8?B?...?=" words of at most 75 characters separated by a space,
 * never splitting a character. */
void gw_meta_value_encode(struct gw_buf *out, const char *v);

/* Collects every x-amz-meta-* header (case-insensitive), in order, values
 * decoded by gw_meta_value_decode; repeated names are joined with ','. The size is the sum of name
 * and value bytes, as S3 measures it; over GW_MAX_USER_METADATA fails with *err =
 * GW_S3_METADATA_TOO_LARGE. A name with nothing after the prefix, or a value
 * holding a control character other than tab, fails with GW_S3_INVALID_ARGUMENT.
 * On success release with gw_meta_free(). Returns 0, CAIRN_E_RANGE,
 * CAIRN_E_INVAL or CAIRN_E_NOMEM (*err = GW_S3_INTERNAL_ERROR). */
int gw_meta_collect(const struct gw_header *h, size_t n, struct gw_meta *out, enum gw_s3err *err);
void gw_meta_free(struct gw_meta *m);

/* ---- Content-MD5 ----------------------------------------------------- */

/* Decodes a Content-MD5 header (base64 of 16 bytes, exactly 24 characters
 * with "==" padding, surrounding blanks allowed) into md5[16]. Returns 0 or
 * CAIRN_E_INVAL (S3: InvalidDigest). */
int gw_content_md5_parse(const char *hdr, unsigned char md5[16]);

/* ---- storage classes ------------------------------------------------- */

struct gw_storage_class {
    const char *name;   /* S3 name, e.g. "STANDARD" */
    const char *scheme; /* Cairn scheme name, e.g. "rs-4-2" */
    int k, m;
};

/* Maps an x-amz-storage-class value (NULL or "" means STANDARD) to its
 * erasure-coding scheme. The table in gw_req.c is the only place the mapping
 * lives. Returns a static entry, or NULL for a class Cairn does not offer
 * (S3: InvalidStorageClass). */
const struct gw_storage_class *gw_storage_class_lookup(const char *name);
/* The storage class that a (k, m) scheme reports in listings: the first table
 * entry with that scheme, or STANDARD if none. Never NULL. */
const struct gw_storage_class *gw_storage_class_for_scheme(int k, int m);

/* ---- ETags ----------------------------------------------------------- */

/* Multipart ETag: hex(MD5(md5_1 || ... || md5_n)) "-" n, from the parts'
 * binary MD5s, into out[48] (unquoted). n must be 1..10000. Returns 0 or
 * CAIRN_E_INVAL. */
int gw_multipart_etag(const unsigned char (*part_md5)[16], size_t n, char out[48]);
/* The same from the parts' hex ETags (quotes allowed, 32 hex digits each). */
int gw_multipart_etag_hex(const char *const *part_etags, size_t n, char out[48]);

/* Strips "aws-chunked" from a Content-Encoding value (as S3 does before
 * storing it) into out (capacity cap); every other coding keeps the client's
 * spelling and the separator before it ("gzip, br" stays "gzip, br"). Returns
 * the resulting length (0 when nothing else was listed) or CAIRN_E_RANGE. */
int gw_content_encoding_strip_aws_chunked(const char *hdr, char *out, size_t cap);

/* ---- list and multipart parameters ----------------------------------- */

/* Reads integer query parameter name: absent gives def; a value above max is
 * clamped to max (S3 does this for max-keys, max-parts, max-uploads); a value
 * below min or not a decimal integer fails with *err = GW_S3_INVALID_ARGUMENT.
 * Returns 0 or CAIRN_E_INVAL. */
int gw_query_int(const struct gw_query *q, const char *name, long def, long min, long max,
                 long *out, enum gw_s3err *err);

/* Parses a partNumber value: 1..10000, else *err = GW_S3_INVALID_ARGUMENT.
 * Returns 0 or CAIRN_E_INVAL. */
int gw_part_number_parse(const char *s, int *out, enum gw_s3err *err);

/* encoding-type: absent gives 0, "url" gives 1, anything else fails with
 * *err = GW_S3_INVALID_ARGUMENT. Returns 0 or CAIRN_E_INVAL. */
int gw_encoding_type_parse(const char *value, int *encode_url, enum gw_s3err *err);

/* ---- copy requests --------------------------------------------------- */

struct gw_copy_source {
    char bucket[GW_MAX_BUCKET_NAME + 1];
    char key[GW_MAX_KEY + 1];
    char version_id[128]; /* "" when absent */
};

/* Parses x-amz-copy-source: "[/]bucket/key[?versionId=id]", URL-encoded as
 * clients send it. Missing bucket or key or a bad escape: *err =
 * GW_S3_INVALID_ARGUMENT; key over 1024 bytes: GW_S3_KEY_TOO_LONG; bucket
 * over 63 characters: GW_S3_INVALID_BUCKET_NAME. Returns 0 or CAIRN_E_INVAL. */
int gw_copy_source_parse(const char *hdr, struct gw_copy_source *out, enum gw_s3err *err);

/* Parses x-amz-copy-source-range "bytes=first-last" (both offsets required)
 * against a source object of size bytes. Fails with *err =
 * GW_S3_INVALID_ARGUMENT (S3 answers 400 InvalidArgument to both, not 416):
 * CAIRN_E_INVAL when malformed or last < first (S3's message:
 * GW_COPY_RANGE_MALFORMED), CAIRN_E_RANGE when the range reaches past the
 * object -- last at or beyond size, any range of an empty object (S3's
 * message: "Range specified is not valid for source object of size: N").
 * Returns 0 on success. */
#define GW_COPY_RANGE_MALFORMED                                                                    \
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "      \
    "last are the zero-based offsets of the first and last bytes to copy"
/* GetObjectAttributes' x-amz-object-attributes: a comma-separated list of
 * ETag, Checksum, ObjectParts, StorageClass, ObjectSize (blanks around
 * names allowed, repeats harmless). 0 with the GW_ATTR_* mask in *out, or
 * CAIRN_E_INVAL for a missing or empty header or an unknown name. */
enum {
    GW_ATTR_ETAG = 1,
    GW_ATTR_CHECKSUM = 2,
    GW_ATTR_PARTS = 4,
    GW_ATTR_STORAGE_CLASS = 8,
    GW_ATTR_SIZE = 16,
};
int gw_object_attributes_parse(const char *hdr, unsigned *out);

int gw_copy_source_range_parse(const char *hdr, uint64_t size, struct gw_range *out,
                               enum gw_s3err *err);

/* x-amz-metadata-directive: absent or "COPY" gives 0, "REPLACE" gives 1,
 * anything else fails with *err = GW_S3_INVALID_ARGUMENT. Returns 0 or
 * CAIRN_E_INVAL. */
int gw_metadata_directive_parse(const char *hdr, int *replace, enum gw_s3err *err);

/* Formats a Content-Range header value into out[64]: for a 206 "bytes 0-9/100";
 * with r NULL, the 416 form whose range is a single '*' followed by "/size". */
void gw_content_range_format(const struct gw_range *r, uint64_t size, char out[64]);

#endif
