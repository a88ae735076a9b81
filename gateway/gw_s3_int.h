/* gw_s3_int: what the gw_s3*.c files share and nothing else includes. None of
 * it is the gateway's API (that is gw_s3.h); s3_ is its private prefix.
 *
 *   gw_s3.c            request lifecycle: classify, the router, begin/end/done,
 *                      construction, the response helpers below
 *   gw_s3_auth.c       who is asking: SigV4 and anonymous public-read
 *   gw_s3_body.c       the body pipeline: payload checks and sinks
 *   gw_s3_md.c         metadata calls and their S3 errors
 *   gw_s3_bucket.c     buckets and listings
 *   gw_s3_object.c     PutObject, GetObject / HeadObject, deletes
 *   gw_s3_multipart.c  multipart uploads
 *   gw_s3_copy.c       CopyObject, UploadPartCopy
 *   gw_s3_version.c    versioning and object lock: the bucket settings,
 *                      ListObjectVersions, retention and legal hold, and the
 *                      version and lock headers the object family uses
 *   gw_s3_metrics.c    GET /metrics
 *   gw_s3_tagging.c    object and bucket tagging, x-amz-tagging
 *   gw_s3_cors.c       Put/Get/DeleteBucketCors, preflight, CORS headers
 *   gw_s3_post.c       POST object uploads from HTML forms
 *   gw_s3_lifecycle.c  Put/Get/DeleteBucketLifecycleConfiguration
 *
 * A new operation is a value of enum s3_op, a rule in s3_classify() and a
 * line in the router (gw_s3.c), its handlers in the file of its family (a
 * new family: a new file). The operation is known before anything is read
 * or changed: s3_begin classifies, then authenticates, then runs the
 * operation's begin handler, so what an operation may do is decided in one
 * place. Handlers run on the connection's thread; a struct s3_req belongs to
 * one request. */
#ifndef CAIRN_GW_S3_INT_H
#define CAIRN_GW_S3_INT_H

#include "gw_s3.h"

#include "cn_http_server.h"
#include "cn_metrics.h"
#include "gw_buf.h"
#include "gw_auth.h"
#include "gw_checksum.h"
#include "gw_data.h"
#include "gw_keycache.h"
#include "gw_ttlcache.h"
#include "gw_req.h"
#include "gw_authz.h"
#include "gw_s3err.h"
#include "gw_sigv4.h"
#include "gw_stream_put.h"
#include "gw_tagging.h"
#include "md_cmd.h"
#include "md_cmd_ver.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define S3_LOG           "s3"
#define S3_MAX_HEADERS   256
#define S3_NS            "http://s3.amazonaws.com/doc/2006-03-01/"
#define ANON_CACHE_SLOTS 4096

struct s3_req;

/* ---- operations ------------------------------------------------------- */

/* What a request asks for, decided from method, target and subresources
 * before anything is read or changed (classify() in gw_s3.c). */
enum s3_op {
    OP_UNKNOWN = 0,
    OP_LIST_BUCKETS,
    OP_CREATE_BUCKET,
    OP_HEAD_BUCKET,
    OP_DELETE_BUCKET,
    OP_GET_BUCKET_LOCATION,
    OP_GET_BUCKET_VERSIONING,
    OP_LIST_OBJECTS,
    OP_LIST_OBJECTS_V2,
    OP_PUT_OBJECT,
    OP_GET_OBJECT,
    OP_HEAD_OBJECT,
    OP_DELETE_OBJECT,
    OP_DELETE_OBJECTS,
    OP_COPY_OBJECT,
    OP_CREATE_MULTIPART,
    OP_UPLOAD_PART,
    OP_COMPLETE_MULTIPART,
    OP_ABORT_MULTIPART,
    OP_LIST_PARTS,
    OP_LIST_UPLOADS,
    OP_UPLOAD_PART_COPY,
    OP_GET_OBJECT_TAGGING,
    OP_GET_BUCKET_ACL,
    OP_PUT_BUCKET_ACL,
    OP_GET_OBJECT_ACL,
    OP_PUT_OBJECT_ACL,
    OP_GET_BUCKET_POLICY,
    OP_PUT_BUCKET_POLICY,
    OP_DELETE_BUCKET_POLICY,
    OP_PUT_BUCKET_VERSIONING,
    OP_LIST_OBJECT_VERSIONS,
    OP_GET_OBJECT_LOCK_CONFIG,
    OP_PUT_OBJECT_LOCK_CONFIG,
    OP_GET_OBJECT_RETENTION,
    OP_PUT_OBJECT_RETENTION,
    OP_GET_OBJECT_LEGAL_HOLD,
    OP_PUT_OBJECT_LEGAL_HOLD,
    OP_PUT_OBJECT_TAGGING,
    OP_DELETE_OBJECT_TAGGING,
    OP_GET_BUCKET_TAGGING,
    OP_PUT_BUCKET_TAGGING,
    OP_DELETE_BUCKET_TAGGING,
    OP_GET_BUCKET_CORS,
    OP_PUT_BUCKET_CORS,
    OP_DELETE_BUCKET_CORS,
    OP_GET_BUCKET_LIFECYCLE,
    OP_PUT_BUCKET_LIFECYCLE,
    OP_DELETE_BUCKET_LIFECYCLE,
    OP_CORS_PREFLIGHT, /* OPTIONS: answered from the bucket's CORS rules, unauthenticated */
    OP_POST_OBJECT,    /* POST /bucket, multipart/form-data (browser uploads) */
    OP_UNSUPPORTED,
    OP__COUNT
};

/* The operation method asks for on r's target (r->t), query (r->q) and
 * headers (r->hdrs): OP_UNKNOWN for a method the target does not take,
 * OP_UNSUPPORTED for a subresource Cairn does not serve. (gw_s3.c) */
enum s3_op s3_classify(const char *method, const struct s3_req *r);

/* The operation's S3 name ("PutObject"; "unknown" for OP_UNKNOWN), as in
 * /metrics and the logs. Never NULL. */
const char *s3_op_name(enum s3_op op);

/* ---- shared state ----------------------------------------------------- */

/* The front end: configuration (immutable after gw_s3_new) and counters
 * (atomic). */
struct gw_s3 {
    char *region;
    char *base_domain;
    char *root_ak;
    char *root_sk;
    uint64_t inline_max;
    uint32_t k, m, unit;
    uint64_t group_fragment;
    uint64_t max_object;
    int64_t max_skew_s;
    int64_t max_get_ms;            /* --max-get-duration; 0 = none */
    atomic_uint_fast64_t gets_cut; /* GetObject bodies cut by it */
    struct gw_ctx *data;
    struct gw_keycache *keys; /* NULL: every key is read */
    struct gw_pack *pack;     /* NULL: nothing is packed */
    /* anonymous requests refused lately (anon_gen, op, bucket, key -> S3
     * error), so a flood of them costs one metadata read per anon_cache_ms
     * each; NULL: none (gw_s3_authz.c) */
    struct gw_ttlcache *anon;
    int64_t anon_cache_ms;
    atomic_uint_fast64_t anon_cached; /* refusals answered from it */
    atomic_uint_fast64_t anon_gen;    /* write requests answered 2xx (part of its keys) */
    struct cn_http_server *srvs[2];   /* the listeners serving it (HTTPS, plain) */
    size_t n_srvs;

    atomic_uint_fast64_t requests[OP__COUNT];
    atomic_uint_fast64_t errors[OP__COUNT];
    atomic_uint_fast64_t status_class[6]; /* 1xx..5xx, [0] aborted */
    atomic_uint_fast64_t bytes_in, bytes_out;
    atomic_uint_fast64_t objects_put, objects_inline;
    atomic_uint_fast64_t payload_mode[5]; /* bodies by enum gw_sigv4_payload */
    cn_hist latency[OP__COUNT];           /* headers in -> response sent, by operation */
};

/* One request, from s3_begin to s3_done (cn_http_req_data). */
struct s3_req {
    struct gw_s3 *s3;
    struct cn_http_req *req; /* the request (borrowed) */
    enum s3_op op;
    unsigned status;  /* what we answered */
    int64_t start_us; /* cn_mono_us() at s3_begin */
    struct gw_header hdrs[S3_MAX_HEADERS];
    size_t n_hdrs;
    struct gw_query q;
    int have_q;
    struct gw_target t;
    struct gw_sigv4_result auth;
    /* who is asking (s3_authenticate): anonymous when auth.kind is
     * GW_SIGV4_ANONYMOUS */
    struct gw_auth_identity who;
    /* the mirror's secret of the request's key while it is verified
     * (gw_s3_auth.c; wiped right after) */
    char key_secret[GW_SIGV4_MAX_SECRET + 1];
    /* what s3_authorize read for the decision: the bucket record and, for an
     * object action, the object (either may be NULL); handlers reuse it */
    Md__QueryResult *ctx;
    /* the packed ACL of the bucket/object the request creates (from its
     * headers, checked before any body is read; NULL for other requests) */
    uint8_t *new_acl;
    size_t new_acl_len;
    /* the object lock a version created here asks for (x-amz-object-lock-*
     * headers, checked before any body is read; all 0: none) */
    struct md_lock_desc lock;
    /* the version id the state machine gave a write ("" in a bucket never
     * versioned), set by s3_commit_object */
    char version_id[MD_VERSION_ID_CAP];

    /* body pipeline: raw -> sha256 check / aws-chunked decode -> sink */
    int wants_body;
    struct gw_sha256_check *sha;
    struct gw_chunked *chunked;
    EVP_MD_CTX *md5;
    int has_content_md5;
    unsigned char content_md5[16];
    int64_t expect; /* decoded body length, -1 unknown */
    uint64_t received;
    struct gw_buf body; /* buffered sink (XML bodies, inline objects) */
    size_t body_max;
    struct gw_put *put;         /* streamed sink (large objects) */
    struct gw_stream_put *sput; /* streamed sink of a body of unknown length
                                   (Transfer-Encoding: chunked) */
    struct gw_checksum *cks;    /* x-amz-checksum-<alg> sent as a header */
    int packed;                 /* PutObject bound for the packer: body buffered whole in
                                   body (gw_pack.h) */
    uint64_t pack_mem;          /* bytes of that buffer taken from the data-path budget */
    const char *cks_expected;

    /* PutObject */
    const struct gw_storage_class *sc;
    uint32_t k, m;
    struct gw_meta meta;
    int have_meta;
    int part_number; /* UploadPart */

    /* tags the request sets: x-amz-tagging (PutObject, CopyObject,
     * CreateMultipartUpload) or PutObjectTagging's body; they are also the
     * s3:RequestObjectTag/<key> condition keys */
    struct gw_tags req_tags;
    int have_req_tags;
    int cors_done;        /* CORS response headers decided (s3_cors_apply) */
    struct s3_post *post; /* POST object upload (gw_s3_post.c) */
    /* the data written for r (put, sput): a commit naming its groups was
     * sent (its outcome may be unknown: the groups may be live), or they
     * were handed to garbage collection. Neither at s3_done: the request
     * failed before its commit, and s3_done discards them. */
    int commit_tried;
    int discarded;
};

/* A request header (case-insensitive name), or NULL. Borrowed from req. */
static inline const char *s3_hdr(const struct s3_req *r, const char *name)
{
    return gw_header_get(r->hdrs, r->n_hdrs, name);
}

/* A query argument (decoded), "" for a bare name, NULL if absent. */
static inline const char *s3_qarg(const struct s3_req *r, const char *name)
{
    return gw_query_get(&r->q, name);
}

/* ---- responses (gw_s3.c) ---------------------------------------------- */

/* Sends status with the body data/len (copied; ctype NULL and len 0 for
 * none) and records status in r. Returns cn_http_respond's result. */
int s3_respond(struct cn_http_req *req, struct s3_req *r, unsigned status, const char *ctype,
               const void *data, size_t len);

/* Sends the S3 error document for e (no body for HEAD and 304), msg NULL
 * for the default message; r may be NULL (no request state yet). Does
 * nothing if req was already answered. Returns CAIRN_E_INVAL so a stage
 * that must stop the request can `return s3_error(...)`; the response is
 * sent either way. */
int s3_error(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e, const char *msg);

/* s3_error with the extra elements S3 puts in some error documents (after
 * Message; see gw_s3err_xml_fields). */
int s3_error_fields(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e, const char *msg,
                    const struct gw_s3err_field *fields, size_t n);

/* Sends the XML document built in b (200), or InternalError when building it
 * failed (build_rc != 0, e.g. the size cap); frees b either way. */
void s3_respond_xml(struct cn_http_req *req, struct s3_req *r, int build_rc, struct gw_buf *b);

/* Adds `ETag: "etag"` to the response. */
void s3_etag_header(struct cn_http_req *req, const char *etag);

/* ---- authentication (gw_s3_auth.c) ------------------------------------ */

/* Decides who r is: a SigV4 signature (header or presigned) checked against
 * the root key or a key in the metadata service, or an anonymous read of a
 * bucket created public-read. Returns GW_S3_OK with r->auth filled (kind
 * GW_SIGV4_ANONYMOUS only for such a read, with nothing more to prepare) or
 * the error to answer. Needs r->op, r->t and r->hdrs. */
enum gw_s3err s3_authenticate(struct cn_http_req *req, struct s3_req *r);
/* Confirms a key that s3_authenticate took from the gateway's mirror
 * (r->who.unconfirmed): from res, the request's authorization read made with
 * Query.caller_key, or (res NULL, or a metadata service without the field)
 * with a read of its own. Returns GW_S3_OK (r->who complete),
 * GW_S3_INVALID_ACCESS_KEY_ID (disabled, deleted) or
 * GW_S3_SERVICE_UNAVAILABLE. Wipes the kept secret either way. */
enum gw_s3err s3_confirm_key(struct s3_req *r, const Md__QueryResult *res);

/* ---- body pipeline (gw_s3_body.c) ------------------------------------- */

/* Prepares the payload checks of a request that has a body (signed hash,
 * aws-chunked decoding, a checksum header, Content-MD5) and a buffered sink
 * of at most buffer_max bytes (0: the caller sets the sink up). Returns
 * GW_S3_OK or the error. */
enum gw_s3err s3_body_setup(struct cn_http_req *req, struct s3_req *r, size_t buffer_max);

/* begin() of an operation whose body is an XML document (CreateBucket,
 * DeleteObjects, CompleteMultipartUpload): buffered, Content-MD5 checked. */
enum gw_s3err s3_body_begin_xml(struct cn_http_req *req, struct s3_req *r);

/* The server's body callback: feeds the pipeline, answers the error and
 * stops the request when a check fails. */
int s3_body(struct cn_http_req *req, const void *data, size_t len, void *cls);

/* After the whole body: every payload check (and Content-MD5, but for
 * PutObject / UploadPart, which check it against the stored bytes). Returns
 * GW_S3_OK or the error. */
enum gw_s3err s3_body_verify(struct s3_req *r);

/* The S3 error for a failure of a sink or of the data path (rc). */
enum gw_s3err s3_sink_error(const struct s3_req *r, int rc);

/* ---- metadata calls (gw_s3_md.c) -------------------------------------- */

/* How one call's failure reads in S3. Every Reason and transport status has
 * a default (s3_md_err with no map); a map changes two things: */
struct s3_md_map {
    enum gw_s3err absent; /* the answer names no Reason, or succeeded without
                             the record asked for (GW_S3_OK: the default) */
    Md__Reason reason;    /* one Reason (MD__REASON__R_NONE: none) ... */
    enum gw_s3err as;     /* ... answered as this (GW_S3_OK: not an error) */
};

extern const struct s3_md_map s3_md_bucket;  /* absent: NoSuchBucket */
extern const struct s3_md_map s3_md_key;     /* absent: NoSuchKey */
extern const struct s3_md_map s3_md_upload;  /* absent, InvalidArgument: NoSuchUpload */
extern const struct s3_md_map s3_md_if_cond; /* NoSuchKey under If-Match / If-None-Match:
                                                PreconditionFailed */

/* The S3 error for a metadata status and Reason, as map (NULL: defaults)
 * changes it. A transport failure is s3_md_err(rc, MD__REASON__R_NONE, NULL). */
enum gw_s3err s3_md_err(int status, int reason, const struct s3_md_map *map);

/* A command being built: md_cmd_*(c.client, c.seq, ..., &c.buf, &c.len). */
struct s3_md_cmd {
    uint64_t client, seq;
    uint8_t *buf;
    size_t len;
};

/* Starts a command of r on the thread's metadata client. Returns 0 with
 * c->client and c->seq set (c->buf NULL), or CAIRN_E_NOMEM (no client). */
int s3_md_cmd_start(struct s3_req *r, struct s3_md_cmd *c);

/* Sends c, built by an md_cmd_* builder that returned build_rc (non-zero:
 * nothing is sent, InternalError), waits until it is applied and frees
 * c->buf. Returns GW_S3_OK when the state machine applied it (or refused it
 * with map->reason where map->as is GW_S3_OK), else the S3 error. If out is
 * not NULL, *out is the decoded result of any answer of the state machine,
 * a refusal's too (its detail; md_result_free it), NULL after a transport
 * failure. */
enum gw_s3err s3_md_command(struct s3_req *r, struct s3_md_cmd *c, int build_rc,
                            const struct s3_md_map *map, Md__Result **out);

/* Runs query q (len bytes from an md_q_* builder that returned build_rc,
 * non-zero: InternalError; freed here) on the leader. Returns GW_S3_OK with
 * *out (s3_md_query_free it) when it answered status 0, else the S3 error
 * and *out NULL. */
enum gw_s3err s3_md_query(struct s3_req *r, int build_rc, uint8_t *q, size_t len,
                          const struct s3_md_map *map, Md__QueryResult **out);

/* For a query that succeeded without the record asked for: frees *res, sets
 * it NULL and returns the S3 error (what map calls absent; InternalError by
 * default). */
enum gw_s3err s3_md_no_record(Md__QueryResult **res, const struct s3_md_map *map);

/* Frees a query result; NULL is fine. */
void s3_md_query_free(Md__QueryResult *res);

/* The calling thread's metadata client (NULL when out of memory). */
struct md_client *s3_md_client(struct gw_s3 *s3);

/* Looks bucket up. Returns GW_S3_OK (with *out, the record in (*out)->bucket,
 * if out is not NULL) or the S3 error. */
enum gw_s3err s3_md_head_bucket(struct s3_req *r, const char *bucket, Md__QueryResult **out);

/* Looks an object up. Returns GW_S3_OK with *out ((*out)->object set) or the
 * S3 error (NoSuchKey, NoSuchBucket, ...). */
enum gw_s3err s3_md_get_object(struct s3_req *r, const char *bucket, const char *key,
                               Md__QueryResult **out);

/* What a read found instead of an object: a delete marker (the key's
 * current version, or the version asked for). */
struct s3_marker {
    int found;
    char version_id[MD_VERSION_ID_CAP];
    int64_t mtime_ms;
};

/* Looks version vid (NULL or "": the current one) of bucket/key up; the
 * read s3_authorize made is reused when it was for the same bucket, key and
 * version. Returns GW_S3_OK with *out ((*out)->object set) or the S3 error
 * (NoSuchKey, NoSuchVersion, MethodNotAllowed for a delete marker asked for
 * by id, InvalidArgument for a malformed id, ...); m (may be NULL) says
 * whether a delete marker was found. */
enum gw_s3err s3_md_get_version(struct s3_req *r, const char *bucket, const char *key,
                                const char *vid, Md__QueryResult **out, struct s3_marker *m);

/* Version vid of bucket/key and the bucket in one read (as
 * s3_md_get_object_and_bucket: (*out)->object NULL when the key or version
 * does not exist or is a delete marker). */
enum gw_s3err s3_md_get_version_and_bucket(struct s3_req *r, const char *bucket, const char *key,
                                           const char *vid, Md__QueryResult **out);

/* Looks an object and its bucket up in one read. Returns GW_S3_OK with *out
 * ((*out)->bucket set; (*out)->object NULL when the key does not exist) or
 * the S3 error (NoSuchBucket, ...). */
enum gw_s3err s3_md_get_object_and_bucket(struct s3_req *r, const char *bucket, const char *key,
                                          Md__QueryResult **out);

/* Looks up r's upload (bucket, key, uploadId) with its parts after
 * part_marker, at most max_parts of them. Returns GW_S3_OK with *out
 * ((*out)->list_parts and its upload set) or the S3 error (NoSuchUpload). */
enum gw_s3err s3_md_get_upload(struct s3_req *r, uint32_t part_marker, uint32_t max_parts,
                               Md__QueryResult **out);

/* ---- ownership (gw_s3_acl.c) -------------------------------------------- */

/* Who owns what r creates: r's user and canonical id (the operator's for
 * the root key). Strings borrowed from r; no ACL. */
void s3_owner_of(const struct s3_req *r, struct md_owner_desc *o);

/* The packed ACL (gw_acl_pack) a bucket or object made by r gets from its
 * headers: x-amz-acl or x-amz-grant-*, private when none. bucket_owner_id:
 * for an object, its bucket's owner (bucket-owner-read/-full-control); NULL
 * for a bucket. Returns GW_S3_OK with *buf (free it) or the error with
 * *msg (static) explaining it. */
enum gw_s3err s3_acl_for_new(struct s3_req *r, const char *bucket_owner_id, uint8_t **buf,
                             size_t *len, const char **msg);

/* ---- authorization (gw_s3_authz.c) ------------------------------------- */

/* Decides whether r may do its operation (after s3_authenticate, before
 * anything is read for the client or changed): maps r->op to its S3 action,
 * reads the bucket (and the object, for object actions) into r->ctx, and
 * asks gw_authz_decide. Returns GW_S3_OK, AccessDenied, NoSuchBucket, or
 * the metadata service's error. A missing object of a read answers NoSuchKey
 * only to who may list the bucket (else AccessDenied). */
enum gw_s3err s3_authorize(struct cn_http_req *req, struct s3_req *r);

/* The same rules for one more resource of r's request: action on key (NULL
 * for a bucket action) in bucket b, whose object is o (NULL: missing or a
 * bucket action). 1 allowed, 0 denied. For each key of DeleteObjects and the
 * source of a copy. */
int s3_allowed(struct s3_req *r, enum gw_authz_action action, const Md__BucketRecord *b,
               const char *key, const Md__ObjectRecord *o);

/* An object action (s3:PutObjectRetention, s3:PutObjectLegalHold) on the
 * version r is about to write at key in bucket b: allowed to the bucket's
 * owner (as S3 allows its account), else by the same rules as s3_allowed
 * with no object. 1 allowed, 0 denied. */
int s3_allowed_on_new(struct s3_req *r, enum gw_authz_action action, const Md__BucketRecord *b,
                      const char *key);

/* What s3_authorize read, handed to the operation when it asks for the same
 * bucket and key as r's target (key NULL: the bucket); NULL otherwise, or
 * when an object was asked for and does not exist. The caller frees it. */
Md__QueryResult *s3_ctx_take(struct s3_req *r, const char *bucket, const char *key);

struct s3_attrs;

/* ---- tagging (gw_s3_tagging.c) ------------------------------------------ */

/* Parses r's x-amz-tagging header (if any) into r->req_tags. Returns
 * GW_S3_OK or the error with *msg (static). */
enum gw_s3err s3_tags_from_header(struct s3_req *r, const char **msg);

/* The tag set of a record's attributes as md_tag views into a (*out is
 * malloc'ed, free() it; NULL with *n 0 when none). Returns 0 or
 * CAIRN_E_NOMEM. */
int s3_tags_view(const Md__ObjectAttrs *a, struct md_tag **out, size_t *n);

/* CopyObject: the new object's tags into ab -- the source's (tagging
 * directive COPY, the default) or r's x-amz-tagging (REPLACE). *owned is
 * what ab points to (free() it). Returns GW_S3_OK or the error. */
enum gw_s3err s3_tags_for_copy(struct s3_req *r, const Md__ObjectRecord *src, struct s3_attrs *ab,
                               struct md_tag **owned);

/* ---- CORS (gw_s3_cors.c) ------------------------------------------------- */

/* Adds the CORS response headers S3 sends to a request with an Origin
 * header that a rule of its bucket allows (method as sent); nothing for
 * other requests. Reads the bucket when r has not (an authentication
 * failure). Safe to call more than once (the first call decides). */
void s3_cors_apply(struct cn_http_req *req, struct s3_req *r);

/* ---- POST uploads (gw_s3_post.c) ----------------------------------------- */

/* The body of a POST upload: feeds the form parser. Returns 0 or the error
 * answered. */
int s3_post_body(struct cn_http_req *req, struct s3_req *r, const void *data, size_t len);

/* Frees r->post (NULL is fine). */
void s3_post_free(struct s3_post *p);

/* ---- operation handlers ----------------------------------------------- */

/* Runs in begin(), once the request is authenticated and before its body:
 * checks what the headers say and prepares the body. Returns GW_S3_OK or
 * the error to answer (the caller sends it). */
typedef enum gw_s3err s3_begin_fn(struct cn_http_req *req, struct s3_req *r);

/* Runs in end(), once the body has been received and verified: does the
 * operation and answers it. Returns 0 or the answer's error. */
typedef int s3_end_fn(struct cn_http_req *req, struct s3_req *r);

/* gw_s3_bucket.c; s3_op_list_objects serves v1 and v2 (r->op) */
s3_end_fn s3_op_list_buckets, s3_op_create_bucket, s3_op_head_bucket, s3_op_delete_bucket,
    s3_op_get_location, s3_op_list_objects;

/* gw_s3_object.c; PutObject and UploadPart share s3_put_begin and
 * s3_op_put_object, GetObject and HeadObject s3_op_get_object (r->op) */
s3_begin_fn s3_put_begin;
s3_end_fn s3_op_put_object, s3_op_get_object, s3_op_delete_object, s3_op_delete_objects;

/* gw_s3_tagging.c */
s3_end_fn s3_op_get_object_tagging, s3_op_put_object_tagging, s3_op_delete_object_tagging,
    s3_op_get_bucket_tagging, s3_op_put_bucket_tagging, s3_op_delete_bucket_tagging;

/* gw_s3_cors.c */
s3_end_fn s3_op_get_bucket_cors, s3_op_put_bucket_cors, s3_op_delete_bucket_cors,
    s3_op_cors_preflight;

/* gw_s3_lifecycle.c */
s3_end_fn s3_op_get_bucket_lifecycle, s3_op_put_bucket_lifecycle, s3_op_delete_bucket_lifecycle;

/* gw_s3_post.c */
s3_begin_fn s3_post_begin;
s3_end_fn s3_op_post_object;

/* gw_s3_multipart.c */
s3_end_fn s3_op_create_multipart, s3_op_complete_multipart, s3_op_abort_multipart, s3_op_list_parts,
    s3_op_list_uploads;

/* gw_s3_copy.c */
s3_end_fn s3_op_copy_object, s3_op_upload_part_copy;

/* gw_s3_acl.c: Get/PutBucketAcl, Get/PutObjectAcl (r->op says which), and
 * Get/Put/DeleteBucketPolicy */
s3_begin_fn s3_acl_begin, s3_policy_begin;
s3_end_fn s3_op_get_acl, s3_op_put_acl, s3_op_get_policy, s3_op_put_policy, s3_op_delete_policy;

/* gw_s3_version.c: Put/GetBucketVersioning, ListObjectVersions,
 * Put/GetObjectLockConfiguration, Put/GetObjectRetention,
 * Put/GetObjectLegalHold */
s3_end_fn s3_op_get_versioning, s3_op_put_versioning, s3_op_list_versions, s3_op_get_lock_config,
    s3_op_put_lock_config, s3_op_get_retention, s3_op_put_retention, s3_op_get_legal_hold,
    s3_op_put_legal_hold;

/* The x-amz-object-lock-mode / -retain-until-date / -legal-hold headers of
 * a request that creates a version (PutObject, CopyObject,
 * CreateMultipartUpload) into r->lock, with the permissions they need
 * (s3:PutObjectRetention, s3:PutObjectLegalHold on the target). Returns
 * GW_S3_OK or the error; whether the bucket has object lock is the state
 * machine's check. (gw_s3_version.c) */
enum gw_s3err s3_lock_headers(struct s3_req *r);

/* 1 if r asks to bypass GOVERNANCE retention (x-amz-bypass-governance-
 * retention: true) and may (s3:BypassGovernanceRetention on key, NULL: the
 * target's, in bucket b), else 0. (gw_s3_version.c) */
int s3_bypass_governance(struct s3_req *r, const Md__BucketRecord *b, const char *key);

/* Adds x-amz-version-id (for a version of a bucket that is or was
 * versioned, or any version asked for by id) and the object lock headers of
 * rec to the response. (gw_s3_version.c) */
void s3_version_headers(struct cn_http_req *req, struct s3_req *r, const Md__ObjectRecord *rec);

/* The answer headers of a delete marker found by a read (m->found). */
void s3_marker_headers(struct cn_http_req *req, const struct s3_marker *m, int by_id);

/* r's versionId argument: NULL when absent. */
static inline const char *s3_version_arg(const struct s3_req *r)
{
    return s3_qarg(r, "versionId");
}

/* gw_s3_metrics.c: the GET /metrics handler (cls is the struct gw_s3). */
int s3_metrics_end(struct cn_http_req *req, void *cls);

/* ---- shared by the families ------------------------------------------- */

/* What every listing takes: its maximum (query argument max_name, 0..1000,
 * default 1000), encoding-type=url, prefix and delimiter (NULL when absent,
 * and delimiter also when empty). Strings borrowed from r. */
struct s3_list_args {
    long max;
    int encode_url;
    const char *prefix, *delimiter;
};

/* Parses r's listing arguments into a. Returns GW_S3_OK or the error
 * (InvalidArgument). (gw_s3_bucket.c) */
enum gw_s3err s3_list_args(struct s3_req *r, const char *max_name, struct s3_list_args *a);

/* Object attributes from the request headers (PutObject, CopyObject with
 * REPLACE, CreateMultipartUpload). Strings point into the request and into
 * the struct; release with s3_attrs_release. */
struct s3_attrs {
    struct md_attrs_desc a;
    struct md_meta_kv *kv;
    char enc[256];
};

/* Fills ab from r's headers and r->meta, r->sc. Returns GW_S3_OK or the
 * error; ab is releasable either way. (gw_s3_object.c) */
enum gw_s3err s3_attrs_from_request(struct s3_req *r, struct s3_attrs *ab);
void s3_attrs_release(struct s3_attrs *ab);

/* Storage class cls (NULL/"" = the default scheme) -> r->sc, r->k, r->m.
 * Returns GW_S3_OK or InvalidStorageClass. (gw_s3_object.c) */
enum gw_s3err s3_scheme_from_class(struct s3_req *r, const char *cls);

/* The write condition of a PutObject / CompleteMultipartUpload / CopyObject
 * (If-None-Match: *, If-Match: etag into if_match). (gw_s3_object.c) */
enum md_cond s3_write_cond(struct s3_req *r, char *if_match, size_t cap);

/* The bytes of part `part` (1..10000) of rec as GET/HEAD ?partNumber reads
 * them -- a multipart object's part; part 1 of any other object is all of
 * it -- into *off, *len. Returns 0, CAIRN_E_RANGE when the object has fewer
 * parts (S3: 416 InvalidPartNumber) or CAIRN_E_CORRUPT when the part sizes
 * do not fit the object. (gw_s3_object.c) */
int s3_part_bytes(const Md__ObjectRecord *rec, int part, uint64_t *off, uint64_t *len);

/* Commits the new object r received (gw_s3_object.c): its request's
 * attributes, inline bytes or written groups; failed: the groups go to GC. */
enum gw_s3err s3_store_new_object(struct s3_req *r, const char *etag, int is_inline,
                                  const void *inline_data, size_t inline_len,
                                  const struct md_group_desc *groups, size_t n_groups);

/* Stores one object record under r's write condition, with the object lock
 * r->lock; the version id it got goes to r->version_id. Returns GW_S3_OK or
 * the error. (gw_s3_object.c) */
enum gw_s3err s3_commit_object(struct s3_req *r, const char *bucket, const char *key,
                               const struct md_object_desc *obj);

/* Hands the groups of a write that was refused at its commit (quota,
 * condition), or that failed before it (s3_done: a bad chunk signature or
 * Content-MD5, the client gone), to garbage collection at once, instead of
 * leaving them to the orphan grace period. Sets r->discarded. Best effort.
 * (gw_s3_object.c) */
void s3_discard_groups(struct s3_req *r, const struct md_group_desc *groups, size_t n);

/* UploadPart and UploadPartCopy: parses partNumber into r->part_number,
 * looks the upload up and takes its storage class as r's scheme. Returns
 * GW_S3_OK or the error. (gw_s3_multipart.c) */
enum gw_s3err s3_part_prepare(struct s3_req *r);

/* Records part r->part_number of r's upload: etag, size, mtime_ms and the
 * groups holding it. Returns GW_S3_OK or the error. (gw_s3_multipart.c) */
enum gw_s3err s3_part_commit(struct s3_req *r, const char *etag, uint64_t size, int64_t mtime_ms,
                             const struct md_group_desc *groups, size_t n_groups);

#endif
