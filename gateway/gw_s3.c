#include "gw_s3.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_metrics.h"
#include "cn_util.h"
#include "gw_buf.h"
#include "gw_checksum.h"
#include "gw_data.h"
#include "gw_req.h"
#include "gw_s3err.h"
#include "gw_sigv4.h"
#include "gw_xml.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG            "s3"
#define MAX_HEADERS    256
#define XML_BODY_MAX   GW_XML_MAX_BODY
#define PREREAD_BYTES  (256u << 10)
#define DEFAULT_MAXOBJ (5ull << 30)
#define S3_NS          "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- operations and counters ----------------------------------------- */

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
    OP_UNSUPPORTED,
    OP__COUNT
};

static const char *const op_names[OP__COUNT] = {
    [OP_UNKNOWN] = "unknown",
    [OP_LIST_BUCKETS] = "ListBuckets",
    [OP_CREATE_BUCKET] = "CreateBucket",
    [OP_HEAD_BUCKET] = "HeadBucket",
    [OP_DELETE_BUCKET] = "DeleteBucket",
    [OP_GET_BUCKET_LOCATION] = "GetBucketLocation",
    [OP_GET_BUCKET_VERSIONING] = "GetBucketVersioning",
    [OP_LIST_OBJECTS] = "ListObjects",
    [OP_LIST_OBJECTS_V2] = "ListObjectsV2",
    [OP_PUT_OBJECT] = "PutObject",
    [OP_GET_OBJECT] = "GetObject",
    [OP_HEAD_OBJECT] = "HeadObject",
    [OP_DELETE_OBJECT] = "DeleteObject",
    [OP_DELETE_OBJECTS] = "DeleteObjects",
    [OP_COPY_OBJECT] = "CopyObject",
    [OP_CREATE_MULTIPART] = "CreateMultipartUpload",
    [OP_UPLOAD_PART] = "UploadPart",
    [OP_COMPLETE_MULTIPART] = "CompleteMultipartUpload",
    [OP_ABORT_MULTIPART] = "AbortMultipartUpload",
    [OP_LIST_PARTS] = "ListParts",
    [OP_LIST_UPLOADS] = "ListMultipartUploads",
    [OP_UPLOAD_PART_COPY] = "UploadPartCopy",
    [OP_GET_OBJECT_TAGGING] = "GetObjectTagging",
    [OP_UNSUPPORTED] = "Unsupported",
};

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
    struct gw_ctx *data;

    atomic_uint_fast64_t requests[OP__COUNT];
    atomic_uint_fast64_t errors[OP__COUNT];
    atomic_uint_fast64_t status_class[6]; /* 1xx..5xx, [0] aborted */
    atomic_uint_fast64_t bytes_in, bytes_out;
    atomic_uint_fast64_t objects_put, objects_inline;
    atomic_uint_fast64_t payload_mode[5]; /* bodies by enum gw_sigv4_payload */
    cn_hist latency[OP__COUNT];           /* headers in -> response sent, by operation */
};

/* ---- per-request state ------------------------------------------------ */

struct s3_req {
    struct gw_s3 *s3;
    enum s3_op op;
    unsigned status;  /* what we answered */
    int64_t start_us; /* cn_mono_us() at s3_begin */
    struct gw_header hdrs[MAX_HEADERS];
    size_t n_hdrs;
    int too_many_headers;
    struct gw_query q;
    int have_q;
    struct gw_target t;
    struct gw_sigv4_result auth;

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
    struct gw_put *put;      /* streamed sink (large objects) */
    struct gw_checksum *cks; /* x-amz-checksum-<alg> sent as a header */
    const char *cks_expected;

    /* PutObject */
    const struct gw_storage_class *sc;
    uint32_t k, m;
    struct gw_meta meta;
    int have_meta;
    int part_number; /* UploadPart */
};

static void count_status(struct gw_s3 *s3, unsigned status)
{
    unsigned c = status / 100;
    if (c < 1 || c > 5)
        c = 0;
    atomic_fetch_add(&s3->status_class[c], 1);
}

static int respond(struct cn_http_req *req, struct s3_req *r, unsigned status, const char *ctype,
                   const void *data, size_t len)
{
    r->status = status;
    return cn_http_respond(req, status, ctype, data, len);
}

/* Sends the S3 error document for e (no body for HEAD and 304). Returns
 * CAIRN_E_INVAL so callers can `return s3_error(...)` from a stage that must
 * stop the request; the response is sent either way. */
static int s3_error(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e, const char *msg)
{
    if (cn_http_req_responded(req))
        return CAIRN_E_INVAL;
    if (r)
        atomic_fetch_add(&r->s3->errors[r->op], 1);
    unsigned status = (unsigned)gw_s3err_status(e);
    if (!gw_s3err_has_body(e) || strcmp(cn_http_req_method(req), "HEAD") == 0) {
        if (r)
            r->status = status;
        cn_http_respond(req, status, NULL, NULL, 0);
        return CAIRN_E_INVAL;
    }
    struct gw_buf b;
    gw_buf_init(&b, 64 << 10);
    gw_s3err_xml(&b, e, msg, cn_http_req_path(req), cn_http_req_id(req));
    if (gw_buf_error(&b) == 0) {
        if (r)
            r->status = status;
        cn_http_respond(req, status, "application/xml", b.data, b.len);
    } else {
        cn_http_respond_error(req, 500, NULL);
    }
    gw_buf_free(&b);
    return CAIRN_E_INVAL;
}

/* Sends the XML document built in b (200), or InternalError when building it
 * failed (build_rc != 0, e.g. the size cap); frees b either way. */
static void respond_xml(struct cn_http_req *req, struct s3_req *r, int build_rc, struct gw_buf *b)
{
    if (build_rc == 0)
        respond(req, r, 200, "application/xml", b->data, b->len);
    else
        s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    gw_buf_free(b);
}

/* S3 error for a failed metadata call (transport status or a Reason). */
static enum gw_s3err err_for(int status, int reason)
{
    switch (reason) {
    case MD__REASON__R_NO_SUCH_BUCKET:
        return GW_S3_NO_SUCH_BUCKET;
    case MD__REASON__R_BUCKET_EXISTS:
        return GW_S3_BUCKET_ALREADY_OWNED_BY_YOU;
    case MD__REASON__R_BUCKET_NOT_EMPTY:
        return GW_S3_BUCKET_NOT_EMPTY;
    case MD__REASON__R_NO_SUCH_KEY:
        return GW_S3_NO_SUCH_KEY;
    case MD__REASON__R_PRECONDITION_FAILED:
        return GW_S3_PRECONDITION_FAILED;
    case MD__REASON__R_NO_SUCH_UPLOAD:
        return GW_S3_NO_SUCH_UPLOAD;
    case MD__REASON__R_INVALID_PART:
        return GW_S3_INVALID_PART;
    case MD__REASON__R_INVALID_PART_ORDER:
        return GW_S3_INVALID_PART_ORDER;
    case MD__REASON__R_ENTITY_TOO_SMALL:
        return GW_S3_ENTITY_TOO_SMALL;
    case MD__REASON__R_TOO_MANY_PARTS:
        return GW_S3_TOO_MANY_PARTS;
    case MD__REASON__R_INVALID_ARGUMENT:
        return GW_S3_INVALID_ARGUMENT;
    default:
        break;
    }
    switch (status) {
    case CAIRN_E_TIMEOUT:
    case CAIRN_E_UNAVAIL:
    case CAIRN_E_NOTLEADER:
    case CAIRN_E_BUSY:
    case CAIRN_E_SHUTDOWN:
        return GW_S3_SERVICE_UNAVAILABLE;
    case CAIRN_E_PRECOND:
        return GW_S3_PRECONDITION_FAILED;
    case CAIRN_E_NOTEMPTY:
        return GW_S3_BUCKET_NOT_EMPTY;
    default:
        return GW_S3_INTERNAL_ERROR;
    }
}

/* ---- metadata calls --------------------------------------------------- */

/* Runs a packed command (freed here) built with (md_client_id(mc), seq).
 * Returns 0 with *out set (caller frees with md_result_free) or a transport
 * error. */
static int run_cmd(struct md_client *mc, uint64_t seq, uint8_t *cmd, size_t len, Md__Result **out)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = md_client_command(mc, seq, cmd, len, &res, &rlen);
    free(cmd);
    if (rc != 0)
        return rc;
    *out = md_result_decode(res, rlen);
    free(res);
    return *out ? 0 : CAIRN_E_PROTO;
}

/* Runs a packed query (freed here). Returns 0 with *out set (caller frees
 * with md__query_result__free_unpacked) or a transport error. */
static int run_query(struct md_client *mc, uint8_t *q, size_t len, Md__QueryResult **out)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = md_client_read(mc, q, len, &res, &rlen);
    free(q);
    if (rc != 0)
        return rc;
    *out = md_query_result_decode(res, rlen);
    free(res);
    return *out ? 0 : CAIRN_E_PROTO;
}

static void qr_free(Md__QueryResult *r)
{
    if (r)
        md__query_result__free_unpacked(r, NULL);
}

static struct md_client *meta(struct s3_req *r)
{
    return gw_ctx_meta(r->s3->data);
}

/* Looks the bucket up. Returns GW_S3_OK (with *out if out is not NULL) or
 * the S3 error to send. */
static enum gw_s3err head_bucket(struct s3_req *r, const char *bucket, Md__QueryResult **out)
{
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_head_bucket(bucket, &q, &qlen) != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return err_for(rc, 0);
    if (res->status != 0) {
        enum gw_s3err e = res->reason == MD__REASON__R_NONE && res->status == CAIRN_E_NOTFOUND
                              ? GW_S3_NO_SUCH_BUCKET
                              : err_for(res->status, res->reason);
        qr_free(res);
        return e;
    }
    if (out)
        *out = res;
    else
        qr_free(res);
    return GW_S3_OK;
}

static int key_lookup(void *ctx, const char *ak, char *secret, size_t cap)
{
    struct gw_s3 *s3 = ctx;
    if (s3->root_ak && strcmp(ak, s3->root_ak) == 0) {
        if ((size_t)snprintf(secret, cap, "%s", s3->root_sk) >= cap)
            return CAIRN_E_RANGE;
        return 0;
    }
    struct md_client *mc = gw_ctx_meta(s3->data);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_get_access_key(ak, &q, &qlen) != 0)
        return CAIRN_E_NOMEM;
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return rc;
    if (res->status != 0 || !res->access_key) {
        int st = res->status;
        int notfound =
            res->reason == MD__REASON__R_NO_SUCH_ACCESS_KEY || st == CAIRN_E_NOTFOUND || st == 0;
        qr_free(res);
        return notfound ? CAIRN_E_NOTFOUND : st;
    }
    if ((size_t)snprintf(secret, cap, "%s", res->access_key->secret) >= cap)
        rc = CAIRN_E_RANGE;
    qr_free(res);
    return rc;
}

/* ---- small helpers ---------------------------------------------------- */

static const char *hdr(const struct s3_req *r, const char *name)
{
    return gw_header_get(r->hdrs, r->n_hdrs, name);
}

static const char *qarg(const struct s3_req *r, const char *name)
{
    return gw_query_get(&r->q, name);
}

static void add_header(struct cn_http_req *req, const char *name, const char *value)
{
    if (value && *value)
        cn_http_resp_header(req, name, value);
}

static void etag_header(struct cn_http_req *req, const char *etag)
{
    char q[128];
    snprintf(q, sizeof(q), "\"%s\"", etag);
    cn_http_resp_header(req, "ETag", q);
}

/* Strips surrounding quotes (and a W/ prefix) from an entity tag into out. */
static void unquote_etag(const char *in, char *out, size_t cap)
{
    while (*in == ' ' || *in == '\t')
        in++;
    if (strncmp(in, "W/", 2) == 0)
        in += 2;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
        in++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

static int collect_header(const char *name, const char *value, void *cls)
{
    struct s3_req *r = cls;
    if (r->n_hdrs == MAX_HEADERS) {
        r->too_many_headers = 1;
        return 1;
    }
    r->hdrs[r->n_hdrs].name = name;
    r->hdrs[r->n_hdrs].value = value;
    r->n_hdrs++;
    return 0;
}

/* Subresources Cairn does not serve (NotImplemented rather than a wrong
 * answer from the plain operation). */
static int unsupported_subresource(const struct s3_req *r)
{
    static const char *const names[] = {
        "acl",
        "policy",
        "cors",
        "lifecycle",
        "tagging",
        "encryption",
        "object-lock",
        "replication",
        "website",
        "logging",
        "notification",
        "accelerate",
        "requestPayment",
        "ownershipControls",
        "publicAccessBlock",
        "analytics",
        "inventory",
        "intelligent-tiering",
        "metrics",
        "versions",
        "retention",
        "legal-hold",
        "torrent",
        "restore",
        "select",
        "attributes",
        "policyStatus",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (qarg(r, names[i]))
            return 1;
    return 0;
}

/* Chooses the operation from method, target and subresources. */
static enum s3_op classify(struct cn_http_req *req, struct s3_req *r)
{
    const char *m = cn_http_req_method(req);
    int get = strcmp(m, "GET") == 0, head = strcmp(m, "HEAD") == 0;
    int put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
    int post = strcmp(m, "POST") == 0;
    if (!r->t.bucket[0])
        return get || head ? OP_LIST_BUCKETS : OP_UNKNOWN;
    if (r->t.key[0] && get && qarg(r, "tagging"))
        return OP_GET_OBJECT_TAGGING;
    if (unsupported_subresource(r))
        return OP_UNSUPPORTED;
    if (!r->t.key[0]) {
        if (qarg(r, "uploadId") || qarg(r, "partNumber"))
            return OP_UNKNOWN;
        if (qarg(r, "uploads"))
            return get ? OP_LIST_UPLOADS : OP_UNKNOWN;
        if (put)
            return OP_CREATE_BUCKET;
        if (head)
            return OP_HEAD_BUCKET;
        if (del)
            return OP_DELETE_BUCKET;
        if (post)
            return qarg(r, "delete") ? OP_DELETE_OBJECTS : OP_UNKNOWN;
        if (get) {
            if (qarg(r, "location"))
                return OP_GET_BUCKET_LOCATION;
            if (qarg(r, "versioning"))
                return OP_GET_BUCKET_VERSIONING;
            const char *lt = qarg(r, "list-type");
            return lt && strcmp(lt, "2") == 0 ? OP_LIST_OBJECTS_V2 : OP_LIST_OBJECTS;
        }
        return OP_UNKNOWN;
    }
    if (qarg(r, "uploads"))
        return post ? OP_CREATE_MULTIPART : OP_UNKNOWN;
    if (qarg(r, "uploadId")) {
        if (put && qarg(r, "partNumber"))
            return hdr(r, "x-amz-copy-source") ? OP_UPLOAD_PART_COPY : OP_UPLOAD_PART;
        if (post)
            return OP_COMPLETE_MULTIPART;
        if (get)
            return OP_LIST_PARTS;
        if (del)
            return OP_ABORT_MULTIPART;
        return OP_UNKNOWN;
    }
    if (qarg(r, "partNumber"))
        return OP_UNSUPPORTED; /* GET/HEAD of one part */
    if (put)
        return hdr(r, "x-amz-copy-source") ? OP_COPY_OBJECT : OP_PUT_OBJECT;
    if (get)
        return OP_GET_OBJECT;
    if (head)
        return OP_HEAD_OBJECT;
    if (del)
        return OP_DELETE_OBJECT;
    return OP_UNKNOWN;
}

/* ---- body pipeline ---------------------------------------------------- */

/* A decoded payload byte run reaches its sink. */
static int sink(void *cls, const void *data, size_t len)
{
    struct s3_req *r = cls;
    r->received += len;
    if (r->expect >= 0 && r->received > (uint64_t)r->expect)
        return CAIRN_E_RANGE;
    if (r->md5 && EVP_DigestUpdate(r->md5, data, len) != 1)
        return CAIRN_E_NOMEM;
    if (r->cks && gw_checksum_update(r->cks, data, len) != 0)
        return CAIRN_E_NOMEM;
    if (r->put)
        return gw_put_write(r->put, data, len);
    if (r->body.len + len > r->body_max)
        return CAIRN_E_RANGE;
    gw_buf_append(&r->body, data, len);
    return gw_buf_error(&r->body);
}

/* The S3 error for a sink failure. */
static enum gw_s3err sink_error(const struct s3_req *r, int rc)
{
    if (rc == CAIRN_E_RANGE)
        return r->op == OP_PUT_OBJECT || r->op == OP_UPLOAD_PART ? GW_S3_INCOMPLETE_BODY
                                                                 : GW_S3_MALFORMED_XML;
    if (rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_TIMEOUT || rc == CAIRN_E_NOSPACE)
        return GW_S3_SERVICE_UNAVAILABLE;
    return GW_S3_INTERNAL_ERROR;
}

/* Prepares the payload checks of a request that has a body: signed hash,
 * aws-chunked decoding, Content-MD5. Returns GW_S3_OK or the error. */
static enum gw_s3err body_setup(struct cn_http_req *req, struct s3_req *r, size_t buffer_max)
{
    r->wants_body = 1;
    r->body_max = buffer_max;
    if ((unsigned)r->auth.payload < 5)
        atomic_fetch_add(&r->s3->payload_mode[r->auth.payload], 1);
    gw_buf_init(&r->body, buffer_max ? buffer_max : 1);
    int64_t clen = cn_http_req_content_length(req);
    switch (r->auth.payload) {
    case GW_SIGV4_PAYLOAD_SIGNED:
        if (gw_sha256_check_new(r->auth.payload_sha256, &r->sha) != 0)
            return GW_S3_INTERNAL_ERROR;
        r->expect = clen;
        break;
    case GW_SIGV4_PAYLOAD_UNSIGNED:
        r->expect = clen;
        break;
    default: {
        enum gw_s3err e = GW_S3_OK;
        if (gw_chunked_new(&r->auth, 0, &r->chunked) != 0)
            return GW_S3_INTERNAL_ERROR;
        r->expect = r->auth.decoded_content_length;
        if (r->expect < 0)
            e = GW_S3_MISSING_CONTENT_LENGTH;
        if (e != GW_S3_OK)
            return e;
        break;
    }
    }
    /* An additional checksum sent as a header (trailer modes are checked by
     * gw_chunked). */
    if (r->auth.payload == GW_SIGV4_PAYLOAD_SIGNED ||
        r->auth.payload == GW_SIGV4_PAYLOAD_UNSIGNED ||
        r->auth.payload == GW_SIGV4_PAYLOAD_STREAMING) {
        for (size_t i = 0; i < r->n_hdrs; i++) {
            enum gw_checksum_alg alg;
            if (gw_checksum_alg_from_header(r->hdrs[i].name, &alg) != 0)
                continue;
            if (r->cks)
                return GW_S3_INVALID_REQUEST; /* more than one */
            if (gw_checksum_new(alg, &r->cks) != 0)
                return GW_S3_INTERNAL_ERROR;
            r->cks_expected = r->hdrs[i].value;
        }
    }
    const char *cmd5 = hdr(r, "Content-MD5");
    if (cmd5) {
        if (gw_content_md5_parse(cmd5, r->content_md5) != 0)
            return GW_S3_INVALID_DIGEST;
        r->has_content_md5 = 1;
    }
    return GW_S3_OK;
}

static int s3_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    (void)cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r || !r->wants_body || cn_http_req_responded(req))
        return 0;
    atomic_fetch_add(&r->s3->bytes_in, len);
    if (r->sha && gw_sha256_check_update(r->sha, data, len) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    int rc;
    if (r->chunked) {
        enum gw_s3err e = GW_S3_OK;
        rc = gw_chunked_feed(r->chunked, data, len, sink, r, &e);
        if (rc != 0 && e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
    } else {
        rc = sink(r, data, len);
    }
    if (rc != 0) {
        CN_WARN(LOG, "%s %s: body: %s", op_names[r->op], cn_http_req_path(req), cairn_strerror(rc));
        return s3_error(req, r, sink_error(r, rc), NULL);
    }
    return 0;
}

/* After the whole body: every payload check. Returns GW_S3_OK or the error. */
static enum gw_s3err body_verify(struct s3_req *r)
{
    if (r->chunked) {
        enum gw_s3err e = GW_S3_OK;
        if (gw_chunked_finish(r->chunked, &e) != 0)
            return e != GW_S3_OK ? e : GW_S3_INCOMPLETE_BODY;
    }
    if (r->sha && gw_sha256_check_finish(r->sha) != 0)
        return GW_S3_XAMZ_CONTENT_SHA256_MISMATCH;
    if (r->expect >= 0 && r->received != (uint64_t)r->expect)
        return GW_S3_INCOMPLETE_BODY;
    if (r->cks) {
        char b64[GW_CHECKSUM_B64_MAX];
        if (gw_checksum_final(r->cks, b64) != 0)
            return GW_S3_INTERNAL_ERROR;
        const char *want = r->cks_expected;
        while (*want == ' ' || *want == '\t')
            want++;
        size_t n = strlen(b64);
        if (strncmp(want, b64, n) != 0 || (want[n] && want[n] != ' ' && want[n] != '\t'))
            return GW_S3_BAD_DIGEST;
    }
    return GW_S3_OK;
}

/* ---- bucket operations ------------------------------------------------- */

static int op_list_buckets(struct cn_http_req *req, struct s3_req *r)
{
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_list_buckets(&q, &qlen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0 || res->status != 0) {
        enum gw_s3err e = rc ? err_for(rc, 0) : err_for(res->status, res->reason);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }
    struct gw_xml_owner owner = {r->auth.access_key, r->auth.access_key};
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_buckets_begin(&b, &owner);
    for (size_t i = 0; i < res->n_buckets; i++)
        gw_xml_buckets_add(&b, res->buckets[i]->name, res->buckets[i]->ctime_ms);
    rc = gw_xml_buckets_end(&b);
    qr_free(res);
    respond_xml(req, r, rc, &b);
    return 0;
}

static int op_create_bucket(struct cn_http_req *req, struct s3_req *r)
{
    if (!gw_bucket_name_valid(r->t.bucket))
        return s3_error(req, r, GW_S3_INVALID_BUCKET_NAME, NULL);
    if (r->body.len > 0) {
        char region[64];
        enum gw_s3err e = GW_S3_OK;
        if (gw_xml_parse_create_bucket(r->body.data, r->body.len, region, sizeof(region), &e) != 0)
            return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_MALFORMED_XML, NULL);
        if (region[0] && strcmp(region, r->s3->region) != 0)
            return s3_error(req, r, GW_S3_INVALID_ARGUMENT,
                            "The specified location-constraint is not valid "
                            "(IllegalLocationConstraintException)");
    }
    struct md_client *mc = meta(r);
    if (!mc)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    /* Canned ACLs: private (the default) or public-read (anonymous reads). */
    const char *acl = hdr(r, "x-amz-acl");
    int public_read = acl && strcmp(acl, "public-read") == 0;
    if (acl && !public_read && strcmp(acl, "private") != 0)
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, "Only the private and public-read ACLs");
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd;
    size_t len;
    if (md_cmd_create_bucket(md_client_id(mc), seq, r->t.bucket, r->auth.access_key, "",
                             public_read, cn_wall_ms(), &cmd, &len) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *res = NULL;
    int rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st != 0) {
        enum gw_s3err e = err_for(st, reason);
        if (reason == MD__REASON__R_BUCKET_EXISTS) {
            /* Owned by the caller, or by someone else? */
            Md__QueryResult *hb = NULL;
            e = GW_S3_BUCKET_ALREADY_EXISTS;
            if (head_bucket(r, r->t.bucket, &hb) == GW_S3_OK && hb->bucket &&
                strcmp(hb->bucket->owner, r->auth.access_key) == 0)
                e = GW_S3_BUCKET_ALREADY_OWNED_BY_YOU;
            qr_free(hb);
        }
        return s3_error(req, r, e, NULL);
    }
    char loc[GW_MAX_BUCKET_NAME + 2];
    snprintf(loc, sizeof(loc), "/%s", r->t.bucket);
    cn_http_resp_header(req, "Location", loc);
    return respond(req, r, 200, NULL, NULL, 0);
}

static int op_head_bucket(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    cn_http_resp_header(req, "x-amz-bucket-region", r->s3->region);
    return respond(req, r, 200, NULL, NULL, 0);
}

static int op_delete_bucket(struct cn_http_req *req, struct s3_req *r)
{
    struct md_client *mc = meta(r);
    if (!mc)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd;
    size_t len;
    if (md_cmd_delete_bucket(md_client_id(mc), seq, r->t.bucket, &cmd, &len) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *res = NULL;
    int rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st != 0)
        return s3_error(req, r,
                        reason == MD__REASON__R_NONE && st == CAIRN_E_NOTFOUND
                            ? GW_S3_NO_SUCH_BUCKET
                            : err_for(st, reason),
                        NULL);
    return respond(req, r, 204, NULL, NULL, 0);
}

static int op_get_location(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    respond_xml(req, r, gw_xml_location_constraint(&b, r->s3->region), &b);
    return 0;
}

static int op_get_versioning(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<VersioningConfiguration xmlns=\"" S3_NS "\"/>";
    return respond(req, r, 200, "application/xml", doc, sizeof(doc) - 1);
}

/* ListObjects v1 and v2. The v2 continuation token is the hex of the last
 * key or common prefix returned (opaque to clients). */
static int op_list_objects(struct cn_http_req *req, struct s3_req *r, int v2)
{
    enum gw_s3err e = GW_S3_OK;
    long max_keys;
    int encode_url = 0;
    if (gw_query_int(&r->q, "max-keys", 1000, 0, 1000, &max_keys, &e) != 0 ||
        gw_encoding_type_parse(qarg(r, "encoding-type"), &encode_url, &e) != 0)
        return s3_error(req, r, e, NULL);
    const char *prefix = qarg(r, "prefix");
    const char *delimiter = qarg(r, "delimiter");
    if (delimiter && !*delimiter)
        delimiter = NULL;
    const char *marker = NULL, *start_after = NULL, *token = NULL;
    char *token_key = NULL;
    if (v2) {
        start_after = qarg(r, "start-after");
        token = qarg(r, "continuation-token");
        marker = start_after;
        if (token) {
            size_t tl = strlen(token);
            if (tl == 0 || tl % 2 || tl > 2 * GW_MAX_KEY)
                return s3_error(req, r, GW_S3_INVALID_ARGUMENT,
                                "The continuation token provided is incorrect");
            token_key = calloc(1, tl / 2 + 1);
            if (!token_key)
                return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
            if (cn_hex_decode(token, token_key, tl / 2) != 0) {
                free(token_key);
                return s3_error(req, r, GW_S3_INVALID_ARGUMENT,
                                "The continuation token provided is incorrect");
            }
            if (!marker || strcmp(token_key, marker) > 0)
                marker = token_key;
        }
    } else {
        marker = qarg(r, "marker");
    }

    Md__QueryResult *res = NULL;
    Md__ListObjectsR empty = MD__LIST_OBJECTS_R__INIT;
    const Md__ListObjectsR *lr = &empty;
    if (max_keys == 0) {
        e = head_bucket(r, r->t.bucket, NULL);
    } else {
        struct md_client *mc = meta(r);
        uint8_t *q;
        size_t qlen;
        if (!mc || md_q_list_objects(r->t.bucket, prefix, delimiter, marker, (uint32_t)max_keys, &q,
                                     &qlen) != 0) {
            e = GW_S3_INTERNAL_ERROR;
        } else {
            int rc = run_query(mc, q, qlen, &res);
            if (rc != 0)
                e = err_for(rc, 0);
            else if (res->status != 0)
                e = res->reason == MD__REASON__R_NONE && res->status == CAIRN_E_NOTFOUND
                        ? GW_S3_NO_SUCH_BUCKET
                        : err_for(res->status, res->reason);
            else if (res->list_objects)
                lr = res->list_objects;
        }
    }
    if (e != GW_S3_OK) {
        free(token_key);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }

    char *next_token = NULL;
    if (v2 && lr->truncated && lr->next_marker[0]) {
        size_t nl = strlen(lr->next_marker);
        next_token = malloc(2 * nl + 1);
        if (next_token)
            cn_hex_encode(lr->next_marker, nl, next_token);
    }
    struct gw_xml_owner owner = {r->auth.access_key, r->auth.access_key};
    int fetch_owner =
        !v2 || (qarg(r, "fetch-owner") && strcmp(qarg(r, "fetch-owner"), "true") == 0);
    struct gw_xml_list l = {
        .v2 = v2,
        .encode_url = encode_url,
        .bucket = r->t.bucket,
        .prefix = prefix ? prefix : "",
        .delimiter = delimiter,
        .max_keys = (int)max_keys,
        .is_truncated = lr->truncated,
        .marker = marker ? marker : "",
        .next_marker = !v2 && lr->truncated && delimiter ? lr->next_marker : NULL,
        .start_after = start_after,
        .continuation_token = token,
        .next_continuation_token = next_token,
        .key_count = (int)(lr->n_entries + lr->n_common_prefixes),
    };
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_list_begin(&b, &l);
    for (size_t i = 0; i < lr->n_entries; i++) {
        const Md__ListEntry *le = lr->entries[i];
        const Md__ObjectRecord *rec = le->record;
        const char *sc = rec && rec->attrs && rec->attrs->storage_class[0]
                             ? rec->attrs->storage_class
                             : "STANDARD";
        struct gw_xml_object o = {.key = le->key,
                                  .mtime_ms = rec ? rec->mtime_ms : 0,
                                  .etag = rec ? rec->etag : "",
                                  .size = rec ? rec->size : 0,
                                  .storage_class = sc,
                                  .owner = fetch_owner ? &owner : NULL};
        gw_xml_list_add_object(&b, &l, &o);
    }
    for (size_t i = 0; i < lr->n_common_prefixes; i++)
        gw_xml_list_add_prefix(&b, &l, lr->common_prefixes[i]);
    int rc = gw_xml_list_end(&b, &l);
    respond_xml(req, r, rc, &b);
    free(next_token);
    free(token_key);
    qr_free(res);
    return 0;
}

/* ---- object operations ------------------------------------------------ */

/* Deletes one key; returns GW_S3_OK or the error. */
static enum gw_s3err delete_key(struct s3_req *r, const char *bucket, const char *key,
                                enum md_cond cond, const char *if_match)
{
    struct md_client *mc = meta(r);
    if (!mc)
        return GW_S3_INTERNAL_ERROR;
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd;
    size_t len;
    if (md_cmd_delete_object(md_client_id(mc), seq, bucket, key, cond, if_match, &cmd, &len) != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__Result *res = NULL;
    int rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return err_for(rc, 0);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st == 0)
        return GW_S3_OK;
    /* Deleting a key that does not exist succeeds, as in S3 (unless a
     * condition was asked for). */
    if (reason == MD__REASON__R_NO_SUCH_KEY && cond == MD_COND_NONE)
        return GW_S3_OK;
    if (reason == MD__REASON__R_NO_SUCH_KEY)
        return GW_S3_PRECONDITION_FAILED;
    return err_for(st, reason);
}

static int op_delete_object(struct cn_http_req *req, struct s3_req *r)
{
    const char *im = hdr(r, "If-Match");
    char etag[128] = "";
    enum md_cond cond = MD_COND_NONE;
    if (im) {
        cond = MD_COND_IF_MATCH;
        unquote_etag(im, etag, sizeof(etag));
    }
    enum gw_s3err e = delete_key(r, r->t.bucket, r->t.key, cond, etag);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return respond(req, r, 204, NULL, NULL, 0);
}

static int op_delete_objects(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_xml_delete_req d;
    enum gw_s3err e = GW_S3_OK;
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_xml_parse_delete(r->body.data, r->body.len, &d, &e) != 0)
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_MALFORMED_XML, NULL);
    e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK) {
        gw_xml_delete_req_free(&d);
        return s3_error(req, r, e, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_delete_begin(&b);
    for (size_t i = 0; i < d.n; i++) {
        if (strlen(d.keys[i]) > GW_MAX_KEY || !d.keys[i][0]) {
            gw_xml_delete_error(&b, d.keys[i],
                                d.keys[i][0] ? GW_S3_KEY_TOO_LONG : GW_S3_INVALID_ARGUMENT, NULL);
            continue;
        }
        e = delete_key(r, r->t.bucket, d.keys[i], MD_COND_NONE, NULL);
        if (e != GW_S3_OK)
            gw_xml_delete_error(&b, d.keys[i], e, NULL);
        else if (!d.quiet)
            gw_xml_delete_deleted(&b, d.keys[i]);
    }
    gw_xml_delete_req_free(&d);
    respond_xml(req, r, gw_xml_delete_end(&b), &b);
    return 0;
}

/* Object attributes from the request headers (PutObject, CopyObject with
 * REPLACE, CreateMultipartUpload). Strings point into the request and into
 * ab; release with attrs_release. */
struct attrs_buf {
    struct md_attrs_desc a;
    struct md_meta_kv *kv;
    char enc[256];
};

static enum gw_s3err attrs_from_request(struct s3_req *r, struct attrs_buf *ab)
{
    memset(ab, 0, sizeof(*ab));
    const char *ce = hdr(r, "Content-Encoding");
    if (ce && gw_content_encoding_strip_aws_chunked(ce, ab->enc, sizeof(ab->enc)) < 0)
        return GW_S3_INVALID_ARGUMENT;
    ab->kv = calloc(r->meta.n + 1, sizeof(*ab->kv));
    if (!ab->kv)
        return GW_S3_INTERNAL_ERROR;
    for (size_t i = 0; i < r->meta.n; i++)
        ab->kv[i] = (struct md_meta_kv){r->meta.items[i].name, r->meta.items[i].value};
    ab->a = (struct md_attrs_desc){.content_type = hdr(r, "Content-Type"),
                                   .content_encoding = ab->enc,
                                   .content_disposition = hdr(r, "Content-Disposition"),
                                   .cache_control = hdr(r, "Cache-Control"),
                                   .expires = hdr(r, "Expires"),
                                   .content_language = hdr(r, "Content-Language"),
                                   .storage_class = r->sc ? r->sc->name : "",
                                   .user_meta = ab->kv,
                                   .n_user_meta = r->meta.n};
    return GW_S3_OK;
}

static void attrs_release(struct attrs_buf *ab)
{
    free(ab->kv);
    ab->kv = NULL;
}

/* Storage class header -> scheme (r->sc, r->k, r->m). */
static enum gw_s3err scheme_from_class(struct s3_req *r, const char *cls)
{
    r->sc = NULL;
    r->k = r->s3->k;
    r->m = r->s3->m;
    if (cls && *cls) {
        r->sc = gw_storage_class_lookup(cls);
        if (!r->sc)
            return GW_S3_INVALID_STORAGE_CLASS;
        r->k = (uint32_t)r->sc->k;
        r->m = (uint32_t)r->sc->m;
    }
    return GW_S3_OK;
}

/* Write condition of a PutObject / CompleteMultipartUpload / CopyObject. */
static enum md_cond write_cond(struct s3_req *r, char *if_match, size_t cap)
{
    if_match[0] = '\0';
    if (hdr(r, "If-None-Match"))
        return MD_COND_IF_NONE_MATCH;
    if (hdr(r, "If-Match")) {
        unquote_etag(hdr(r, "If-Match"), if_match, cap);
        return MD_COND_IF_MATCH;
    }
    return MD_COND_NONE;
}

/* Stores one object record; returns GW_S3_OK or the error. */
static enum gw_s3err commit_object(struct s3_req *r, const char *bucket, const char *key,
                                   const struct md_object_desc *obj)
{
    char if_match[128];
    enum md_cond cond = write_cond(r, if_match, sizeof(if_match));
    struct md_client *mc = meta(r);
    if (!mc)
        return GW_S3_INTERNAL_ERROR;
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd = NULL;
    size_t len = 0;
    if (md_cmd_put_object(md_client_id(mc), seq, bucket, key, obj, cond, if_match, &cmd, &len) != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__Result *res = NULL;
    int rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return err_for(rc, 0);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st == 0)
        return GW_S3_OK;
    /* A failed If-Match on a missing key is a failed precondition. */
    if (reason == MD__REASON__R_NO_SUCH_KEY && cond != MD_COND_NONE)
        return GW_S3_PRECONDITION_FAILED;
    return err_for(st, reason);
}

/* PutObject and UploadPart, in begin(): checks the headers, looks the bucket
 * (or upload) up and prepares the sink. Returns GW_S3_OK or the error. */
static enum gw_s3err put_object_begin(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_s3 *s3 = r->s3;
    enum gw_s3err e = GW_S3_OK;
    int part = r->op == OP_UPLOAD_PART;
    if (r->auth.payload == GW_SIGV4_PAYLOAD_SIGNED || r->auth.payload == GW_SIGV4_PAYLOAD_UNSIGNED)
        if (cn_http_req_content_length(req) < 0)
            return GW_S3_MISSING_CONTENT_LENGTH;
    if (part) {
        if (gw_part_number_parse(qarg(r, "partNumber"), &r->part_number, &e) != 0)
            return e;
        /* The upload must exist; its storage class gives the scheme. */
        struct md_client *mc = meta(r);
        uint8_t *q;
        size_t qlen;
        if (!mc || md_q_list_parts(r->t.bucket, r->t.key, qarg(r, "uploadId"), 0, 0, &q, &qlen))
            return GW_S3_INTERNAL_ERROR;
        Md__QueryResult *res = NULL;
        int rc = run_query(mc, q, qlen, &res);
        if (rc != 0)
            return err_for(rc, 0);
        if (res->status != 0 || !res->list_parts || !res->list_parts->upload) {
            e = res->status == 0 || res->reason == MD__REASON__R_NONE ||
                        res->reason == MD__REASON__R_INVALID_ARGUMENT
                    ? GW_S3_NO_SUCH_UPLOAD
                    : err_for(res->status, res->reason);
            qr_free(res);
            return e;
        }
        const Md__ObjectAttrs *ua = res->list_parts->upload->attrs;
        e = scheme_from_class(r, ua ? ua->storage_class : NULL);
        qr_free(res);
        if (e != GW_S3_OK)
            return e;
    } else {
        e = scheme_from_class(r, hdr(r, "x-amz-storage-class"));
        if (e != GW_S3_OK)
            return e;
        const char *inm = hdr(r, "If-None-Match");
        if (inm && strcmp(inm, "*") != 0)
            return GW_S3_NOT_IMPLEMENTED;
        /* Both conditions can never hold together (RFC 7232 evaluates If-Match
         * first; if it holds the object exists and If-None-Match: * fails), so
         * the answer is 412 whatever is stored, and nothing is read or stored. */
        if (inm && hdr(r, "If-Match"))
            return GW_S3_PRECONDITION_FAILED;
        if (gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) != 0)
            return e;
        r->have_meta = 1;
    }
    e = body_setup(req, r, 0);
    if (e != GW_S3_OK)
        return e;
    if ((uint64_t)r->expect > s3->max_object)
        return GW_S3_ENTITY_TOO_LARGE;
    /* An erasure-coded body is only sent to chunkservers for a bucket that
     * exists. An inline object skips this read: its commit checks the bucket
     * (NoSuchBucket) in the same state-machine step, one metadata round trip
     * instead of two. */
    if (!part && (uint64_t)r->expect > s3->inline_max) {
        e = head_bucket(r, r->t.bucket, NULL);
        if (e != GW_S3_OK)
            return e;
    }
    if (!part && (uint64_t)r->expect <= s3->inline_max) {
        r->md5 = EVP_MD_CTX_new();
        if (!r->md5 || EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) != 1)
            return GW_S3_INTERNAL_ERROR;
        r->body_max = (size_t)r->expect;
        gw_buf_init(&r->body, r->body_max ? r->body_max : 1);
    } else {
        ec_layout l = {.k = r->k, .m = r->m, .unit = s3->unit, .frag_max = s3->group_fragment};
        if (gw_put_begin(s3->data, &l, (uint64_t)r->expect, &r->put) != 0)
            return GW_S3_INTERNAL_ERROR;
    }
    return GW_S3_OK;
}

/* PutObject and UploadPart, in end(): completes the data, checks
 * Content-MD5 and commits the record (or the part). */
static int op_put_object(struct cn_http_req *req, struct s3_req *r)
{
    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    if (r->put) {
        int rc = gw_put_finish(r->put, md5, &groups, &n_groups);
        if (rc != 0) {
            CN_WARN(LOG, "%s %s/%s: %s", op_names[r->op], r->t.bucket, r->t.key,
                    cairn_strerror(rc));
            return s3_error(req, r, rc == CAIRN_E_RANGE ? GW_S3_INCOMPLETE_BODY : sink_error(r, rc),
                            NULL);
        }
    } else {
        unsigned int ml = 0;
        if (EVP_DigestFinal_ex(r->md5, md5, &ml) != 1)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    if (r->has_content_md5 && memcmp(md5, r->content_md5, 16) != 0)
        return s3_error(req, r, GW_S3_BAD_DIGEST, NULL);
    char etag[33];
    cn_hex_encode(md5, 16, etag);

    enum gw_s3err e;
    if (r->op == OP_UPLOAD_PART) {
        struct md_client *mc = meta(r);
        if (!mc)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
        uint64_t seq = md_client_next_seq(mc);
        uint8_t *cmd;
        size_t len;
        if (md_cmd_put_part(md_client_id(mc), seq, r->t.bucket, r->t.key, qarg(r, "uploadId"),
                            (uint32_t)r->part_number, etag, r->received, cn_wall_ms(), groups,
                            n_groups, &cmd, &len) != 0)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
        Md__Result *res = NULL;
        int rc = run_cmd(mc, seq, cmd, len, &res);
        if (rc != 0)
            return s3_error(req, r, err_for(rc, 0), NULL);
        int st = res->status, reason = res->reason;
        md_result_free(res);
        if (st != 0)
            return s3_error(req, r, err_for(st, reason), NULL);
        etag_header(req, etag);
        return respond(req, r, 200, NULL, NULL, 0);
    }

    struct attrs_buf ab;
    e = attrs_from_request(r, &ab);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct md_object_desc obj = {
        .size = r->received,
        .etag = etag,
        .mtime_ms = cn_wall_ms(),
        .attrs = ab.a,
        .has_inline = r->put == NULL,
        .inline_data = r->body.data,
        .inline_len = r->body.len,
        .groups = groups,
        .n_groups = n_groups,
    };
    e = commit_object(r, r->t.bucket, r->t.key, &obj);
    attrs_release(&ab);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    atomic_fetch_add(&r->s3->objects_put, 1);
    if (!r->put)
        atomic_fetch_add(&r->s3->objects_inline, 1);
    etag_header(req, etag);
    return respond(req, r, 200, NULL, NULL, 0);
}

/* ---- multipart --------------------------------------------------------- */

static int op_create_multipart(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = scheme_from_class(r, hdr(r, "x-amz-storage-class"));
    if (e == GW_S3_OK && gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) == 0)
        r->have_meta = 1;
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    uint8_t raw[16];
    char upload_id[33];
    if (cn_random_bytes(raw, sizeof(raw)) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    cn_hex_encode(raw, sizeof(raw), upload_id);
    struct attrs_buf ab;
    e = attrs_from_request(r, &ab);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct md_client *mc = meta(r);
    int rc = CAIRN_E_NOMEM;
    uint8_t *cmd = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    if (mc) {
        seq = md_client_next_seq(mc);
        rc = md_cmd_create_upload(md_client_id(mc), seq, r->t.bucket, r->t.key, upload_id,
                                  r->auth.access_key, &ab.a, cn_wall_ms(), &cmd, &len);
    }
    attrs_release(&ab);
    if (rc != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *res = NULL;
    rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st != 0)
        return s3_error(req, r, err_for(st, reason), NULL);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    respond_xml(req, r, gw_xml_initiate_multipart(&b, r->t.bucket, r->t.key, upload_id), &b);
    return 0;
}

static int op_complete_multipart(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_xml_part *parts = NULL;
    size_t n = 0;
    enum gw_s3err e = GW_S3_OK;
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    if (gw_xml_parse_complete(r->body.data, r->body.len, &parts, &n, &e) != 0)
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_MALFORMED_XML, NULL);
    struct md_part_ref *refs = calloc(n, sizeof(*refs));
    if (!refs) {
        free(parts);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct md_part_ref){(uint32_t)parts[i].part_number, parts[i].etag};
    char if_match[128];
    enum md_cond cond = write_cond(r, if_match, sizeof(if_match));
    struct md_client *mc = meta(r);
    int rc = CAIRN_E_NOMEM;
    uint8_t *cmd = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    if (mc) {
        seq = md_client_next_seq(mc);
        rc = md_cmd_complete_upload(md_client_id(mc), seq, r->t.bucket, r->t.key,
                                    qarg(r, "uploadId"), refs, n, cond, if_match, cn_wall_ms(),
                                    &cmd, &len);
    }
    free(refs);
    free(parts);
    if (rc != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *res = NULL;
    rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    if (res->status != 0) {
        e = res->reason == MD__REASON__R_NO_SUCH_KEY && cond != MD_COND_NONE
                ? GW_S3_PRECONDITION_FAILED
                : err_for(res->status, res->reason);
        CN_INFO(LOG, "CompleteMultipartUpload %s/%s: %s (%s)", r->t.bucket, r->t.key,
                gw_s3err_code(e), res->detail);
        md_result_free(res);
        return s3_error(req, r, e, NULL);
    }
    char etag[80];
    snprintf(etag, sizeof(etag), "%s", res->etag);
    md_result_free(res);
    char location[GW_MAX_BUCKET_NAME + GW_MAX_KEY + 4];
    snprintf(location, sizeof(location), "/%s/%s", r->t.bucket, r->t.key);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    atomic_fetch_add(&r->s3->objects_put, 1);
    respond_xml(req, r, gw_xml_complete_multipart(&b, location, r->t.bucket, r->t.key, etag), &b);
    return 0;
}

static int op_abort_multipart(struct cn_http_req *req, struct s3_req *r)
{
    struct md_client *mc = meta(r);
    if (!mc)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd;
    size_t len;
    if (md_cmd_abort_upload(md_client_id(mc), seq, r->t.bucket, r->t.key, qarg(r, "uploadId"), &cmd,
                            &len) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *res = NULL;
    int rc = run_cmd(mc, seq, cmd, len, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    int st = res->status, reason = res->reason;
    md_result_free(res);
    if (st != 0)
        return s3_error(req, r,
                        reason == MD__REASON__R_INVALID_ARGUMENT ? GW_S3_NO_SUCH_UPLOAD
                                                                 : err_for(st, reason),
                        NULL);
    return respond(req, r, 204, NULL, NULL, 0);
}

static int op_list_parts(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    long marker, max_parts;
    if (gw_query_int(&r->q, "part-number-marker", 0, 0, 10000, &marker, &e) != 0 ||
        gw_query_int(&r->q, "max-parts", 1000, 0, 1000, &max_parts, &e) != 0)
        return s3_error(req, r, e, NULL);
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_list_parts(r->t.bucket, r->t.key, qarg(r, "uploadId"), (uint32_t)marker,
                               (uint32_t)max_parts, &q, &qlen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    if (res->status != 0 || !res->list_parts) {
        e = res->reason == MD__REASON__R_INVALID_ARGUMENT || res->reason == MD__REASON__R_NONE
                ? GW_S3_NO_SUCH_UPLOAD
                : err_for(res->status, res->reason);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }
    const Md__ListPartsR *lp = res->list_parts;
    const Md__UploadRecord *u = lp->upload;
    struct gw_xml_owner owner = {u && u->owner[0] ? u->owner : r->auth.access_key,
                                 u && u->owner[0] ? u->owner : r->auth.access_key};
    const char *sc =
        u && u->attrs && u->attrs->storage_class[0] ? u->attrs->storage_class : "STANDARD";
    struct gw_xml_parts p = {.bucket = r->t.bucket,
                             .key = r->t.key,
                             .upload_id = qarg(r, "uploadId"),
                             .part_number_marker = (int)marker,
                             .next_part_number_marker = (int)lp->next_part_number_marker,
                             .max_parts = (int)max_parts,
                             .is_truncated = lp->truncated,
                             .storage_class = sc,
                             .owner = &owner};
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_parts_begin(&b, &p);
    for (size_t i = 0; i < lp->n_parts; i++)
        gw_xml_parts_add(&b, (int)lp->parts[i]->part_number, lp->parts[i]->mtime_ms,
                         lp->parts[i]->etag, lp->parts[i]->size);
    respond_xml(req, r, gw_xml_parts_end(&b), &b);
    qr_free(res);
    return 0;
}

static int op_list_uploads(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    long max_uploads;
    int encode_url = 0;
    if (gw_query_int(&r->q, "max-uploads", 1000, 0, 1000, &max_uploads, &e) != 0 ||
        gw_encoding_type_parse(qarg(r, "encoding-type"), &encode_url, &e) != 0)
        return s3_error(req, r, e, NULL);
    const char *prefix = qarg(r, "prefix"), *delimiter = qarg(r, "delimiter");
    const char *key_marker = qarg(r, "key-marker"), *uid_marker = qarg(r, "upload-id-marker");
    if (delimiter && !*delimiter)
        delimiter = NULL;
    e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_list_uploads(r->t.bucket, prefix, delimiter, key_marker, uid_marker,
                                 (uint32_t)max_uploads, &q, &qlen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    if (res->status != 0 || !res->list_uploads) {
        e = err_for(res->status, res->reason);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }
    const Md__ListUploadsR *lu = res->list_uploads;
    struct gw_xml_uploads u = {.encode_url = encode_url,
                               .bucket = r->t.bucket,
                               .key_marker = key_marker ? key_marker : "",
                               .upload_id_marker = uid_marker ? uid_marker : "",
                               .next_key_marker = lu->next_key_marker,
                               .next_upload_id_marker = lu->next_upload_id_marker,
                               .prefix = prefix ? prefix : "",
                               .delimiter = delimiter,
                               .max_uploads = (int)max_uploads,
                               .is_truncated = lu->truncated};
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_uploads_begin(&b, &u);
    for (size_t i = 0; i < lu->n_uploads; i++) {
        const Md__UploadRecord *ur = lu->uploads[i];
        struct gw_xml_owner owner = {ur->owner, ur->owner};
        const char *sc =
            ur->attrs && ur->attrs->storage_class[0] ? ur->attrs->storage_class : "STANDARD";
        gw_xml_uploads_add(&b, &u, ur->key, ur->upload_id, ur->initiated_ms, sc, &owner);
    }
    for (size_t i = 0; i < lu->n_common_prefixes; i++)
        gw_xml_uploads_add_prefix(&b, &u, lu->common_prefixes[i]);
    respond_xml(req, r, gw_xml_uploads_end(&b, &u), &b);
    qr_free(res);
    return 0;
}

/* ---- CopyObject -------------------------------------------------------- */

#define COPY_BUF (1u << 20)

/* The read side of a copy runs on its own thread: gw_data keeps one
 * fragment fan-out per thread, so one thread cannot have a gw_get and a
 * gw_put streaming at the same time. Two buffers pass between the threads. */
struct copy_pipe {
    struct gw_ctx *data;
    const Md__ObjectRecord *rec;
    uint64_t off, len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf[2];
    size_t fill[2];
    int full[2];
    int eof, stop, rc;
};

static void *copy_reader(void *arg)
{
    struct copy_pipe *cp = arg;
    struct gw_get *g = NULL;
    int rc = gw_get_open(cp->data, cp->rec, cp->off, cp->len, &g);
    for (int i = 0; rc == 0; i ^= 1) {
        pthread_mutex_lock(&cp->mu);
        while (cp->full[i] && !cp->stop)
            pthread_cond_wait(&cp->cv, &cp->mu);
        int stop = cp->stop;
        pthread_mutex_unlock(&cp->mu);
        if (stop)
            break;
        size_t n = 0;
        while (n < COPY_BUF) {
            ssize_t got = gw_get_read(g, cp->buf[i] + n, COPY_BUF - n);
            if (got <= 0) {
                rc = (int)got;
                break;
            }
            n += (size_t)got;
        }
        pthread_mutex_lock(&cp->mu);
        if (n > 0) {
            cp->fill[i] = n;
            cp->full[i] = 1;
        }
        if (rc < 0)
            cp->rc = rc;
        if (n < COPY_BUF)
            cp->eof = 1;
        pthread_cond_broadcast(&cp->cv);
        pthread_mutex_unlock(&cp->mu);
        if (n < COPY_BUF)
            break;
    }
    gw_get_close(g);
    pthread_mutex_lock(&cp->mu);
    if (rc < 0 && !cp->rc)
        cp->rc = rc;
    cp->eof = 1;
    pthread_cond_broadcast(&cp->cv);
    pthread_mutex_unlock(&cp->mu);
    return NULL;
}

/* Streams bytes [off, off+len) of rec into new chunk groups (r->put, laid
 * out with r->k/r->m), reading around lost fragments. On success md5,
 * *groups and *n_groups describe the copy (owned by r->put). */
static int copy_range(struct s3_req *r, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                      uint8_t md5[16], const struct md_group_desc **groups, size_t *n_groups)
{
    ec_layout l = {.k = r->k, .m = r->m, .unit = r->s3->unit, .frag_max = r->s3->group_fragment};
    int rc = gw_put_begin(r->s3->data, &l, len, &r->put);
    if (rc != 0)
        return rc;
    struct copy_pipe cp = {.data = r->s3->data, .rec = rec, .off = off, .len = len};
    cp.buf[0] = malloc(COPY_BUF);
    cp.buf[1] = malloc(COPY_BUF);
    pthread_t th;
    pthread_mutex_init(&cp.mu, NULL);
    pthread_cond_init(&cp.cv, NULL);
    if (!cp.buf[0] || !cp.buf[1])
        rc = CAIRN_E_NOMEM;
    else if (pthread_create(&th, NULL, copy_reader, &cp) != 0)
        rc = CAIRN_E_NOMEM;
    else {
        for (int i = 0;; i ^= 1) {
            pthread_mutex_lock(&cp.mu);
            while (!cp.full[i] && !cp.eof && !cp.rc)
                pthread_cond_wait(&cp.cv, &cp.mu);
            int full = cp.full[i];
            rc = cp.rc;
            pthread_mutex_unlock(&cp.mu);
            if (rc != 0 || !full)
                break;
            rc = gw_put_write(r->put, cp.buf[i], cp.fill[i]);
            pthread_mutex_lock(&cp.mu);
            cp.full[i] = 0;
            if (rc != 0)
                cp.stop = 1;
            pthread_cond_broadcast(&cp.cv);
            pthread_mutex_unlock(&cp.mu);
            if (rc != 0)
                break;
        }
        pthread_mutex_lock(&cp.mu);
        cp.stop = 1;
        pthread_cond_broadcast(&cp.cv);
        pthread_mutex_unlock(&cp.mu);
        pthread_join(th, NULL);
        if (rc == 0)
            rc = cp.rc;
    }
    if (rc == 0)
        rc = gw_put_finish(r->put, md5, groups, n_groups);
    pthread_cond_destroy(&cp.cv);
    pthread_mutex_destroy(&cp.mu);
    free(cp.buf[0]);
    free(cp.buf[1]);
    return rc;
}

/* Looks up a copy source (x-amz-copy-source) and checks the
 * x-amz-copy-source-if-* conditions. Returns GW_S3_OK with *out (free with
 * qr_free) or the error. */
static enum gw_s3err copy_source(struct s3_req *r, struct gw_copy_source *src,
                                 Md__QueryResult **out)
{
    enum gw_s3err e = GW_S3_OK;
    if (gw_copy_source_parse(hdr(r, "x-amz-copy-source"), src, &e) != 0)
        return e;
    if (src->version_id[0] && strcmp(src->version_id, "null") != 0)
        return GW_S3_NOT_IMPLEMENTED;
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_get_object(src->bucket, src->key, &q, &qlen) != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return err_for(rc, 0);
    if (res->status != 0 || !res->object) {
        e = res->reason == MD__REASON__R_NONE ? GW_S3_NO_SUCH_KEY
                                              : err_for(res->status, res->reason);
        qr_free(res);
        return e;
    }
    const Md__ObjectRecord *rec = res->object;
    /* Evaluated like GET conditions, but a failure is always 412. */
    struct gw_cond c = {hdr(r, "x-amz-copy-source-if-match"),
                        hdr(r, "x-amz-copy-source-if-none-match"),
                        hdr(r, "x-amz-copy-source-if-modified-since"),
                        hdr(r, "x-amz-copy-source-if-unmodified-since")};
    if (gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 0) != GW_S3_OK ||
        (c.if_modified_since && gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 1) != GW_S3_OK)) {
        qr_free(res);
        return GW_S3_PRECONDITION_FAILED;
    }
    *out = res;
    return GW_S3_OK;
}

/* UploadPartCopy: a range of an existing object becomes a part. */
static int op_upload_part_copy(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    if (gw_part_number_parse(qarg(r, "partNumber"), &r->part_number, &e) != 0)
        return s3_error(req, r, e, NULL);
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_list_parts(r->t.bucket, r->t.key, qarg(r, "uploadId"), 0, 0, &q, &qlen))
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *up = NULL;
    int rc = run_query(mc, q, qlen, &up);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    if (up->status != 0 || !up->list_parts || !up->list_parts->upload) {
        qr_free(up);
        return s3_error(req, r, GW_S3_NO_SUCH_UPLOAD, NULL);
    }
    const Md__ObjectAttrs *ua = up->list_parts->upload->attrs;
    e = scheme_from_class(r, ua ? ua->storage_class : NULL);
    qr_free(up);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_copy_source src;
    Md__QueryResult *res = NULL;
    e = copy_source(r, &src, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ObjectRecord *rec = res->object;
    struct gw_range range = {0, rec->size ? rec->size - 1 : 0};
    const char *rh = hdr(r, "x-amz-copy-source-range");
    if (rh && gw_copy_source_range_parse(rh, rec->size, &range, &e) != 0) {
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }
    uint64_t len = rec->size ? range.last - range.first + 1 : 0;
    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    rc = copy_range(r, rec, range.first, len, md5, &groups, &n_groups);
    qr_free(res);
    if (rc != 0) {
        CN_WARN(LOG, "UploadPartCopy %s/%s: %s", r->t.bucket, r->t.key, cairn_strerror(rc));
        return s3_error(req, r, sink_error(r, rc), NULL);
    }
    char etag[33];
    cn_hex_encode(md5, 16, etag);
    int64_t mtime = cn_wall_ms();
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd;
    size_t clen;
    if (md_cmd_put_part(md_client_id(mc), seq, r->t.bucket, r->t.key, qarg(r, "uploadId"),
                        (uint32_t)r->part_number, etag, len, mtime, groups, n_groups, &cmd,
                        &clen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__Result *cr = NULL;
    rc = run_cmd(mc, seq, cmd, clen, &cr);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    int st = cr->status, reason = cr->reason;
    md_result_free(cr);
    if (st != 0)
        return s3_error(req, r, err_for(st, reason), NULL);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    respond_xml(req, r, gw_xml_copy_part_result(&b, mtime, etag), &b);
    return 0;
}

/* GetObjectTagging: Cairn stores no tags; an existing object has none. */
static int op_get_object_tagging(struct cn_http_req *req, struct s3_req *r)
{
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_get_object(r->t.bucket, r->t.key, &q, &qlen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    enum gw_s3err e = GW_S3_OK;
    if (res->status != 0 || !res->object)
        e = res->reason == MD__REASON__R_NONE ? GW_S3_NO_SUCH_KEY
                                              : err_for(res->status, res->reason);
    qr_free(res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<Tagging xmlns=\"" S3_NS "\"><TagSet></TagSet></Tagging>";
    return respond(req, r, 200, "application/xml", doc, sizeof(doc) - 1);
}

/* CopyObject: the source's bytes are read (degraded reads included) and
 * written as new chunk groups, so the copy shares nothing with the source;
 * inline sources are copied inline. Memory: one buffer plus the data path's
 * stripes. */
static int op_copy_object(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_copy_source src;
    enum gw_s3err e = GW_S3_OK;
    int replace = 0;
    if (gw_metadata_directive_parse(hdr(r, "x-amz-metadata-directive"), &replace, &e) != 0 ||
        gw_copy_source_parse(hdr(r, "x-amz-copy-source"), &src, &e) != 0)
        return s3_error(req, r, e, NULL);
    if (!replace && strcmp(src.bucket, r->t.bucket) == 0 && strcmp(src.key, r->t.key) == 0)
        return s3_error(req, r, GW_S3_INVALID_REQUEST,
                        "This copy request is illegal because it is trying to copy an object "
                        "to itself without changing the object's metadata, storage class, "
                        "website redirect location or encryption attributes.");
    e = head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    Md__QueryResult *res = NULL;
    e = copy_source(r, &src, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ObjectRecord *rec = res->object;
    int rc;

    /* Attributes: the source's (COPY) or the request's (REPLACE). */
    struct attrs_buf ab;
    memset(&ab, 0, sizeof(ab));
    struct md_meta_kv *src_kv = NULL;
    const char *cls = hdr(r, "x-amz-storage-class");
    if (!cls && rec->attrs && rec->attrs->storage_class[0])
        cls = rec->attrs->storage_class;
    e = scheme_from_class(r, cls);
    if (e == GW_S3_OK && replace) {
        if (gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) == 0) {
            r->have_meta = 1;
            e = attrs_from_request(r, &ab);
        }
    } else if (e == GW_S3_OK) {
        const Md__ObjectAttrs *a = rec->attrs;
        size_t nm = a ? a->n_user_meta : 0;
        src_kv = calloc(nm + 1, sizeof(*src_kv));
        if (!src_kv)
            e = GW_S3_INTERNAL_ERROR;
        for (size_t i = 0; src_kv && i < nm; i++)
            src_kv[i] = (struct md_meta_kv){a->user_meta[i]->name, a->user_meta[i]->value};
        if (a)
            ab.a = (struct md_attrs_desc){.content_type = a->content_type,
                                          .content_encoding = a->content_encoding,
                                          .content_disposition = a->content_disposition,
                                          .cache_control = a->cache_control,
                                          .expires = a->expires,
                                          .content_language = a->content_language,
                                          .user_meta = src_kv,
                                          .n_user_meta = nm};
        ab.a.storage_class = r->sc ? r->sc->name : "";
    }
    if (e != GW_S3_OK) {
        free(src_kv);
        attrs_release(&ab);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }

    uint8_t md5[16];
    char etag[80];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    int64_t mtime = cn_wall_ms();
    struct md_object_desc obj = {.size = rec->size, .etag = etag, .mtime_ms = mtime, .attrs = ab.a};
    if (rec->has_inline) {
        snprintf(etag, sizeof(etag), "%s", rec->etag);
        obj.has_inline = 1;
        obj.inline_data = rec->inline_data.data;
        obj.inline_len = rec->inline_data.len;
    } else {
        rc = copy_range(r, rec, 0, rec->size, md5, &groups, &n_groups);
        if (rc != 0) {
            CN_WARN(LOG, "CopyObject %s/%s -> %s/%s: %s", src.bucket, src.key, r->t.bucket,
                    r->t.key, cairn_strerror(rc));
            free(src_kv);
            attrs_release(&ab);
            qr_free(res);
            return s3_error(req, r, sink_error(r, rc), NULL);
        }
        cn_hex_encode(md5, 16, etag);
        obj.groups = groups;
        obj.n_groups = n_groups;
    }
    e = commit_object(r, r->t.bucket, r->t.key, &obj);
    free(src_kv);
    attrs_release(&ab);
    qr_free(res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    atomic_fetch_add(&r->s3->objects_put, 1);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    respond_xml(req, r, gw_xml_copy_object_result(&b, mtime, etag), &b);
    return 0;
}

/* A streamed GET body: bytes read ahead before the status line, then the
 * rest straight from gw_get_read. */
struct get_stream {
    struct gw_s3 *s3;
    struct gw_get *g;
    char *pre;
    size_t pre_len, pre_off;
    char what[96];
};

static ssize_t get_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct get_stream *gs = cls;
    size_t n = 0;
    if (gs->pre_off < gs->pre_len) {
        n = gs->pre_len - gs->pre_off;
        if (n > max)
            n = max;
        memcpy(buf, gs->pre + gs->pre_off, n);
        gs->pre_off += n;
    } else {
        ssize_t got = gw_get_read(gs->g, buf, max);
        if (got == 0)
            return CN_HTTP_READER_END;
        if (got < 0) {
            CN_ERROR(LOG, "GetObject %s: read failed mid-body: %s", gs->what,
                     cairn_strerror((int)got));
            return CN_HTTP_READER_ERROR;
        }
        n = (size_t)got;
    }
    atomic_fetch_add(&gs->s3->bytes_out, n);
    return (ssize_t)n;
}

static void get_stream_free(void *cls)
{
    struct get_stream *gs = cls;
    if (!gs)
        return;
    gw_get_close(gs->g);
    free(gs->pre);
    free(gs);
}

static ssize_t no_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return CN_HTTP_READER_END;
}

/* Response header overrides GetObject accepts in the query. */
static void override_header(struct cn_http_req *req, struct s3_req *r, const char *param,
                            const char *name, const char *stored)
{
    const char *v = qarg(r, param);
    add_header(req, name, v && *v ? v : stored);
}

static int op_get_object(struct cn_http_req *req, struct s3_req *r, int head)
{
    struct md_client *mc = meta(r);
    uint8_t *q;
    size_t qlen;
    if (!mc || md_q_get_object(r->t.bucket, r->t.key, &q, &qlen) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    Md__QueryResult *res = NULL;
    int rc = run_query(mc, q, qlen, &res);
    if (rc != 0)
        return s3_error(req, r, err_for(rc, 0), NULL);
    if (res->status != 0 || !res->object) {
        enum gw_s3err e = res->reason == MD__REASON__R_NONE ? GW_S3_NO_SUCH_KEY
                                                            : err_for(res->status, res->reason);
        qr_free(res);
        return s3_error(req, r, e, NULL);
    }
    const Md__ObjectRecord *rec = res->object;
    const Md__ObjectAttrs *a = rec->attrs;
    char lm[30];
    gw_http_date_format(rec->mtime_ms / 1000, lm);

    struct gw_cond c;
    gw_cond_from_headers(r->hdrs, r->n_hdrs, &c);
    enum gw_s3err ce = gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 1);
    if (ce != GW_S3_OK) {
        etag_header(req, rec->etag);
        cn_http_resp_header(req, "Last-Modified", lm);
        qr_free(res);
        return s3_error(req, r, ce, NULL);
    }

    struct gw_range range;
    enum gw_range_kind rk = gw_range_parse(hdr(r, "Range"), rec->size, &range);
    char cr[64];
    if (rk == GW_RANGE_UNSATISFIABLE) {
        gw_content_range_format(NULL, rec->size, cr);
        cn_http_resp_header(req, "Content-Range", cr);
        qr_free(res);
        return s3_error(req, r, GW_S3_INVALID_RANGE, NULL);
    }
    uint64_t off = 0, len = rec->size;
    unsigned status = 200;
    if (rk == GW_RANGE_PARTIAL) {
        off = range.first;
        len = range.last - range.first + 1;
        status = 206;
        gw_content_range_format(&range, rec->size, cr);
        cn_http_resp_header(req, "Content-Range", cr);
    }

    etag_header(req, rec->etag);
    cn_http_resp_header(req, "Last-Modified", lm);
    cn_http_resp_header(req, "Accept-Ranges", "bytes");
    if (a) {
        override_header(req, r, "response-content-encoding", "Content-Encoding",
                        a->content_encoding);
        override_header(req, r, "response-content-disposition", "Content-Disposition",
                        a->content_disposition);
        override_header(req, r, "response-cache-control", "Cache-Control", a->cache_control);
        override_header(req, r, "response-expires", "Expires", a->expires);
        override_header(req, r, "response-content-language", "Content-Language",
                        a->content_language);
        if (a->storage_class[0] && strcmp(a->storage_class, "STANDARD") != 0)
            cn_http_resp_header(req, "x-amz-storage-class", a->storage_class);
        for (size_t i = 0; i < a->n_user_meta; i++) {
            char name[256];
            snprintf(name, sizeof(name), "x-amz-meta-%s", a->user_meta[i]->name);
            cn_http_resp_header(req, name, a->user_meta[i]->value);
        }
    }
    /* Copied: res is freed before the response is made. */
    char ctype[256];
    const char *ct = qarg(r, "response-content-type");
    if (!ct || !*ct)
        ct = a && a->content_type[0] ? a->content_type : "binary/octet-stream";
    snprintf(ctype, sizeof(ctype), "%s", ct);
    if (rec->n_part_sizes > 0) {
        char pc[24];
        snprintf(pc, sizeof(pc), "%zu", rec->n_part_sizes);
        cn_http_resp_header(req, "x-amz-mp-parts-count", pc);
    }

    if (head || len == 0) {
        r->status = status;
        rc = cn_http_respond_stream(req, status, ctype, (int64_t)len, no_reader, NULL, NULL);
        qr_free(res);
        return rc;
    }
    struct get_stream *gs = calloc(1, sizeof(*gs));
    if (!gs) {
        qr_free(res);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    gs->s3 = r->s3;
    snprintf(gs->what, sizeof(gs->what), "%.40s/%.50s", r->t.bucket, r->t.key);
    rc = gw_get_open(r->s3->data, rec, off, len, &gs->g);
    qr_free(res);
    if (rc == 0) {
        /* Read ahead so a lost object gives an error status, not a short 200. */
        size_t want = len < PREREAD_BYTES ? (size_t)len : PREREAD_BYTES;
        gs->pre = malloc(want);
        if (!gs->pre) {
            rc = CAIRN_E_NOMEM;
        } else {
            while (gs->pre_len < want) {
                ssize_t got = gw_get_read(gs->g, gs->pre + gs->pre_len, want - gs->pre_len);
                if (got <= 0) {
                    rc = got < 0 ? (int)got : CAIRN_E_CORRUPT;
                    break;
                }
                gs->pre_len += (size_t)got;
            }
        }
    }
    if (rc != 0) {
        CN_ERROR(LOG, "GetObject %s: %s", gs->what, cairn_strerror(rc));
        get_stream_free(gs);
        return s3_error(req, r,
                        rc == CAIRN_E_ERASURES || rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_TIMEOUT
                            ? GW_S3_SERVICE_UNAVAILABLE
                            : GW_S3_INTERNAL_ERROR,
                        rc == CAIRN_E_ERASURES ? "Too many fragments of this object are lost"
                                               : NULL);
    }
    r->status = status;
    return cn_http_respond_stream(req, status, ctype, (int64_t)len, get_reader, gs,
                                  get_stream_free);
}

/* ---- request lifecycle ------------------------------------------------ */

/* An anonymous request may read (GET/HEAD objects, list) a bucket created
 * public-read (x-amz-acl: public-read); everything else needs a signature. */
static int public_read_allowed(struct s3_req *r)
{
    if (r->op != OP_GET_OBJECT && r->op != OP_HEAD_OBJECT && r->op != OP_LIST_OBJECTS &&
        r->op != OP_LIST_OBJECTS_V2 && r->op != OP_HEAD_BUCKET)
        return 0;
    Md__QueryResult *hb = NULL;
    int ok = head_bucket(r, r->t.bucket, &hb) == GW_S3_OK && hb->bucket && hb->bucket->public_read;
    qr_free(hb);
    return ok;
}

static int s3_begin(struct cn_http_req *req, void *cls)
{
    struct gw_s3 *s3 = cls;
    struct s3_req *r = calloc(1, sizeof(*r));
    cn_http_resp_header(req, "x-amz-request-id", cn_http_req_id(req));
    cn_http_resp_header(req, "Server", "Cairn");
    if (!r)
        return s3_error(req, NULL, GW_S3_INTERNAL_ERROR, NULL);
    r->s3 = s3;
    r->start_us = cn_mono_us();
    r->expect = -1;
    cn_http_req_set_data(req, r);
    cn_http_req_headers_foreach(req, collect_header, r);
    if (r->too_many_headers)
        return s3_error(req, r, GW_S3_INVALID_REQUEST, "Too many headers");

    enum gw_s3err e = GW_S3_OK;
    const char *target = cn_http_req_target(req);
    if (gw_query_parse(cn_http_req_query(req), &r->q, &e) != 0)
        return s3_error(req, r, e, NULL);
    r->have_q = 1;
    if (gw_target_parse(cn_http_req_header(req, "Host"), s3->base_domain, cn_http_req_path(req),
                        &r->t, &e) != 0)
        return s3_error(req, r, e, NULL);
    r->op = classify(req, r);
    atomic_fetch_add(&s3->requests[r->op], 1);

    /* Authenticate: raw path is the request-target up to '?'. */
    const char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t)(qm - target) : strlen(target);
    char *raw_path = strndup(target, plen);
    if (!raw_path)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    struct gw_sigv4_config sc = {.region = s3->region,
                                 .service = "s3",
                                 .max_skew_s = s3->max_skew_s,
                                 .require_content_sha256 = 0,
                                 .lookup = key_lookup,
                                 .lookup_ctx = s3};
    struct gw_sigv4_request sr = {.method = cn_http_req_method(req),
                                  .raw_path = raw_path,
                                  .raw_query = cn_http_req_query(req),
                                  .headers = r->hdrs,
                                  .n_headers = r->n_hdrs};
    int rc;
    if (gw_sigv4_kind_of(&sr) == GW_SIGV4_ANONYMOUS && public_read_allowed(r)) {
        /* Reads of a public-read bucket need no signature. */
        free(raw_path);
        memset(&r->auth, 0, sizeof(r->auth));
        r->auth.kind = GW_SIGV4_ANONYMOUS;
        r->auth.payload = GW_SIGV4_PAYLOAD_UNSIGNED;
        return 0;
    }
    rc = gw_sigv4_verify(&sc, &sr, cn_wall_s(), &r->auth, &e);
    free(raw_path);
    if (rc != 0) {
        CN_INFO(LOG, "%s %s: auth failed: %s", cn_http_req_method(req), cn_http_req_path(req),
                gw_s3err_code(e));
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_ACCESS_DENIED, NULL);
    }

    /* A name no bucket can have (they are checked at creation): NoSuchBucket,
     * rather than the metadata service's InvalidArgument. */
    if (r->t.bucket[0] && r->op != OP_CREATE_BUCKET && !gw_bucket_name_valid(r->t.bucket))
        return s3_error(req, r, GW_S3_NO_SUCH_BUCKET, NULL);
    switch (r->op) {
    case OP_UNKNOWN:
        return s3_error(req, r, GW_S3_METHOD_NOT_ALLOWED, NULL);
    case OP_UNSUPPORTED:
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, NULL);
    case OP_PUT_OBJECT:
    case OP_UPLOAD_PART:
        e = put_object_begin(req, r);
        break;
    case OP_CREATE_BUCKET:
    case OP_DELETE_OBJECTS:
    case OP_COMPLETE_MULTIPART:
        e = body_setup(req, r, XML_BODY_MAX);
        if (e == GW_S3_OK && r->has_content_md5) {
            r->md5 = EVP_MD_CTX_new();
            if (!r->md5 || EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) != 1)
                e = GW_S3_INTERNAL_ERROR;
        }
        break;
    default:
        break;
    }
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return 0;
}

static int s3_end(struct cn_http_req *req, void *cls)
{
    (void)cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r || cn_http_req_responded(req))
        return 0;
    if (r->wants_body) {
        enum gw_s3err e = body_verify(r);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
        if (r->has_content_md5 && r->op != OP_PUT_OBJECT && r->op != OP_UPLOAD_PART) {
            unsigned char md5[16];
            unsigned int ml = 0;
            if (!r->md5 || EVP_DigestFinal_ex(r->md5, md5, &ml) != 1)
                return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
            if (memcmp(md5, r->content_md5, 16) != 0)
                return s3_error(req, r, GW_S3_BAD_DIGEST, NULL);
        }
    }
    switch (r->op) {
    case OP_LIST_BUCKETS:
        return op_list_buckets(req, r);
    case OP_CREATE_BUCKET:
        return op_create_bucket(req, r);
    case OP_HEAD_BUCKET:
        return op_head_bucket(req, r);
    case OP_DELETE_BUCKET:
        return op_delete_bucket(req, r);
    case OP_GET_BUCKET_LOCATION:
        return op_get_location(req, r);
    case OP_GET_BUCKET_VERSIONING:
        return op_get_versioning(req, r);
    case OP_LIST_OBJECTS:
        return op_list_objects(req, r, 0);
    case OP_LIST_OBJECTS_V2:
        return op_list_objects(req, r, 1);
    case OP_PUT_OBJECT:
    case OP_UPLOAD_PART:
        return op_put_object(req, r);
    case OP_COPY_OBJECT:
        return op_copy_object(req, r);
    case OP_UPLOAD_PART_COPY:
        return op_upload_part_copy(req, r);
    case OP_GET_OBJECT_TAGGING:
        return op_get_object_tagging(req, r);
    case OP_CREATE_MULTIPART:
        return op_create_multipart(req, r);
    case OP_COMPLETE_MULTIPART:
        return op_complete_multipart(req, r);
    case OP_ABORT_MULTIPART:
        return op_abort_multipart(req, r);
    case OP_LIST_PARTS:
        return op_list_parts(req, r);
    case OP_LIST_UPLOADS:
        return op_list_uploads(req, r);
    case OP_GET_OBJECT:
        return op_get_object(req, r, 0);
    case OP_HEAD_OBJECT:
        return op_get_object(req, r, 1);
    case OP_DELETE_OBJECT:
        return op_delete_object(req, r);
    case OP_DELETE_OBJECTS:
        return op_delete_objects(req, r);
    default:
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, NULL);
    }
}

static void s3_done(struct cn_http_req *req, int ok, void *cls)
{
    struct gw_s3 *s3 = cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r)
        return;
    count_status(s3, ok ? r->status : 0);
    cn_hist_record(&s3->latency[r->op], (uint64_t)(cn_mono_us() - r->start_us));
    CN_DEBUG(LOG, "%s %s -> %u (%s)%s", cn_http_req_method(req), cn_http_req_target(req), r->status,
             op_names[r->op], ok ? "" : " aborted");
    gw_put_free(r->put);
    gw_sha256_check_free(r->sha);
    gw_chunked_free(r->chunked);
    gw_checksum_free(r->cks);
    if (r->md5)
        EVP_MD_CTX_free(r->md5);
    gw_buf_free(&r->body);
    if (r->have_meta)
        gw_meta_free(&r->meta);
    if (r->have_q)
        gw_query_free(&r->q);
    gw_sigv4_result_wipe(&r->auth);
    free(r);
    cn_http_req_set_data(req, NULL);
}

/* ---- /metrics --------------------------------------------------------- */

static int metrics_end(struct cn_http_req *req, void *cls)
{
    struct gw_s3 *s3 = cls;
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "# HELP cairn_gw_requests_total S3 requests by operation.\n"
                    "# TYPE cairn_gw_requests_total counter\n");
    for (int i = 0; i < OP__COUNT; i++)
        gw_buf_printf(&b, "cairn_gw_requests_total{op=\"%s\"} %" PRIu64 "\n", op_names[i],
                      (uint64_t)s3->requests[i]);
    gw_buf_puts(&b, "# HELP cairn_gw_errors_total S3 error responses by operation.\n"
                    "# TYPE cairn_gw_errors_total counter\n");
    for (int i = 0; i < OP__COUNT; i++)
        gw_buf_printf(&b, "cairn_gw_errors_total{op=\"%s\"} %" PRIu64 "\n", op_names[i],
                      (uint64_t)s3->errors[i]);
    gw_buf_puts(&b, "# HELP cairn_gw_responses_total Responses by status class.\n"
                    "# TYPE cairn_gw_responses_total counter\n");
    static const char *const cls_names[6] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        gw_buf_printf(&b, "cairn_gw_responses_total{class=\"%s\"} %" PRIu64 "\n", cls_names[i],
                      (uint64_t)s3->status_class[i]);
    static const char *const modes[5] = {"signed", "unsigned", "streaming", "streaming-trailer",
                                         "streaming-unsigned-trailer"};
    gw_buf_puts(&b, "# HELP cairn_gw_payloads_total Request bodies by SigV4 payload mode.\n"
                    "# TYPE cairn_gw_payloads_total counter\n");
    for (int i = 0; i < 5; i++)
        gw_buf_printf(&b, "cairn_gw_payloads_total{mode=\"%s\"} %" PRIu64 "\n", modes[i],
                      (uint64_t)s3->payload_mode[i]);
    char *hist = NULL;
    size_t hist_len = 0;
    FILE *hf = open_memstream(&hist, &hist_len);
    if (hf) {
        cn_metrics_family(hf, "cairn_gw_request_seconds", "histogram",
                          "S3 request latency by operation, headers received to response sent.");
        for (int i = 0; i < OP__COUNT; i++) {
            char labels[64];
            snprintf(labels, sizeof(labels), "op=\"%s\"", op_names[i]);
            cn_hist_series(hf, &s3->latency[i], "cairn_gw_request_seconds", labels);
        }
    }
    if (!hf || fclose(hf) != 0)
        b.err = CAIRN_E_NOMEM; /* answered with 500 below */
    else
        gw_buf_append(&b, hist, hist_len);
    free(hist);
    struct gw_data_stats ds;
    gw_ctx_stats(s3->data, &ds);
    gw_buf_printf(&b,
                  "# HELP cairn_gw_bytes_in_total S3 request body bytes received.\n"
                  "# TYPE cairn_gw_bytes_in_total counter\n"
                  "cairn_gw_bytes_in_total %" PRIu64 "\n"
                  "# HELP cairn_gw_bytes_out_total Object bytes sent by GetObject.\n"
                  "# TYPE cairn_gw_bytes_out_total counter\n"
                  "cairn_gw_bytes_out_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_objects_put_total counter\n"
                  "cairn_gw_objects_put_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_objects_inline_total counter\n"
                  "cairn_gw_objects_inline_total %" PRIu64 "\n"
                  "# HELP cairn_gw_degraded_reads_total Stripes served by decoding.\n"
                  "# TYPE cairn_gw_degraded_reads_total counter\n"
                  "cairn_gw_degraded_reads_total %" PRIu64 "\n"
                  "# HELP cairn_gw_decodes_total Fragments rebuilt by decoding.\n"
                  "# TYPE cairn_gw_decodes_total counter\n"
                  "cairn_gw_decodes_total %" PRIu64 "\n"
                  "# TYPE cairn_gw_fragment_errors_total counter\n"
                  "cairn_gw_fragment_errors_total %" PRIu64 "\n"
                  "# HELP cairn_gw_short_groups_total Groups committed with fewer than k+m "
                  "fragments.\n"
                  "# TYPE cairn_gw_short_groups_total counter\n"
                  "cairn_gw_short_groups_total %" PRIu64 "\n",
                  (uint64_t)s3->bytes_in, (uint64_t)s3->bytes_out, (uint64_t)s3->objects_put,
                  (uint64_t)s3->objects_inline, ds.degraded_reads, ds.decodes, ds.fragment_errors,
                  ds.short_groups);
    int rc;
    cn_http_resp_header(req, "x-amz-request-id", cn_http_req_id(req));
    if (gw_buf_error(&b) == 0)
        rc = cn_http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        rc = cn_http_respond_error(req, 500, NULL);
    gw_buf_free(&b);
    return rc;
}

/* ---- construction ----------------------------------------------------- */

int gw_s3_new(const struct gw_s3_config *cfg, struct gw_ctx *data, struct gw_s3 **out)
{
    if (!cfg || !data || !out)
        return CAIRN_E_INVAL;
    if ((cfg->root_access_key && *cfg->root_access_key) !=
        (cfg->root_secret_key && *cfg->root_secret_key))
        return CAIRN_E_INVAL;
    if (cfg->inline_max > (1u << 20))
        return CAIRN_E_INVAL;
    ec_layout l = {.k = cfg->default_k,
                   .m = cfg->default_m,
                   .unit = cfg->unit,
                   .frag_max = cfg->group_fragment};
    if (ec_layout_check(&l) != 0)
        return CAIRN_E_INVAL;
    struct gw_s3 *s3 = calloc(1, sizeof(*s3));
    if (!s3)
        return CAIRN_E_NOMEM;
    s3->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
    s3->base_domain = strdup(cfg->base_domain ? cfg->base_domain : "");
    if (cfg->root_access_key && *cfg->root_access_key) {
        s3->root_ak = strdup(cfg->root_access_key);
        s3->root_sk = strdup(cfg->root_secret_key);
        if (!s3->root_ak || !s3->root_sk) {
            gw_s3_free(s3);
            return CAIRN_E_NOMEM;
        }
    }
    if (!s3->region || !s3->base_domain) {
        gw_s3_free(s3);
        return CAIRN_E_NOMEM;
    }
    s3->inline_max = cfg->inline_max;
    s3->k = cfg->default_k;
    s3->m = cfg->default_m;
    s3->unit = cfg->unit;
    s3->group_fragment = cfg->group_fragment;
    s3->max_object = cfg->max_object_size ? cfg->max_object_size : DEFAULT_MAXOBJ;
    s3->max_skew_s = cfg->max_skew_s;
    s3->data = data;
    *out = s3;
    return 0;
}

int gw_s3_register(struct gw_s3 *s3, struct cn_http_server *srv)
{
    const struct cn_http_handler metrics = {.end = metrics_end};
    const struct cn_http_handler s3h = {
        .begin = s3_begin, .body = s3_body, .end = s3_end, .done = s3_done};
    int rc = cn_http_server_route(srv, "GET", CN_ROUTE_METRICS,
                                  CN_HTTP_ROUTE_PUBLIC | CN_HTTP_ROUTE_EXACT, &metrics, s3);
    if (rc == 0)
        rc = cn_http_server_route(srv, "*", "/", CN_HTTP_ROUTE_PUBLIC, &s3h, s3);
    return rc;
}

void gw_s3_free(struct gw_s3 *s3)
{
    if (!s3)
        return;
    free(s3->region);
    free(s3->base_domain);
    free(s3->root_ak);
    if (s3->root_sk) {
        memset(s3->root_sk, 0, strlen(s3->root_sk));
        free(s3->root_sk);
    }
    free(s3);
}
