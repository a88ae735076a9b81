/* gw_s3 core: the request lifecycle. s3_begin collects the headers, parses
 * query and target, classifies the operation, authenticates and runs the
 * operation's begin handler; the body goes through gw_s3_body.c; s3_end
 * verifies it and runs the end handler; s3_done counts and frees. The
 * router below names every operation's handlers. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAXOBJ (5ull << 30)

/* ---- responses -------------------------------------------------------- */

static void count_status(struct gw_s3 *s3, unsigned status)
{
    unsigned c = status / 100;
    if (c < 1 || c > 5)
        c = 0;
    atomic_fetch_add(&s3->status_class[c], 1);
}

int s3_respond(struct cn_http_req *req, struct s3_req *r, unsigned status, const char *ctype,
               const void *data, size_t len)
{
    r->status = status;
    return cn_http_respond(req, status, ctype, data, len);
}

int s3_error(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e, const char *msg)
{
    return s3_error_fields(req, r, e, msg, NULL, 0);
}

int s3_error_fields(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e, const char *msg,
                    const struct gw_s3err_field *fields, size_t n)
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
    gw_s3err_xml_fields(&b, e, msg, fields, n, cn_http_req_path(req), cn_http_req_id(req));
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

void s3_respond_xml(struct cn_http_req *req, struct s3_req *r, int build_rc, struct gw_buf *b)
{
    if (build_rc == 0)
        s3_respond(req, r, 200, "application/xml", b->data, b->len);
    else
        s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    gw_buf_free(b);
}

void s3_etag_header(struct cn_http_req *req, const char *etag)
{
    char q[128];
    snprintf(q, sizeof(q), "\"%s\"", etag);
    cn_http_resp_header(req, "ETag", q);
}

/* ---- the router ------------------------------------------------------- */

static enum gw_s3err refuse_method(struct cn_http_req *req, struct s3_req *r)
{
    (void)req;
    (void)r;
    return GW_S3_METHOD_NOT_ALLOWED;
}

static enum gw_s3err refuse_unsupported(struct cn_http_req *req, struct s3_req *r)
{
    (void)req;
    (void)r;
    return GW_S3_NOT_IMPLEMENTED;
}

/* Every operation: its S3 name, what runs in begin() once the request is
 * authenticated (NULL: nothing before the body) and what answers it in end()
 * (NULL: NotImplemented). */
static const struct s3_route {
    const char *name;
    s3_begin_fn *begin;
    s3_end_fn *end;
} routes[OP__COUNT] = {
    [OP_UNKNOWN] = {"unknown", refuse_method, NULL},
    [OP_LIST_BUCKETS] = {"ListBuckets", NULL, s3_op_list_buckets},
    [OP_CREATE_BUCKET] = {"CreateBucket", s3_body_begin_xml, s3_op_create_bucket},
    [OP_HEAD_BUCKET] = {"HeadBucket", NULL, s3_op_head_bucket},
    [OP_DELETE_BUCKET] = {"DeleteBucket", NULL, s3_op_delete_bucket},
    [OP_GET_BUCKET_LOCATION] = {"GetBucketLocation", NULL, s3_op_get_location},
    [OP_GET_BUCKET_VERSIONING] = {"GetBucketVersioning", NULL, s3_op_get_versioning},
    [OP_LIST_OBJECTS] = {"ListObjects", NULL, s3_op_list_objects},
    [OP_LIST_OBJECTS_V2] = {"ListObjectsV2", NULL, s3_op_list_objects},
    [OP_PUT_OBJECT] = {"PutObject", s3_put_begin, s3_op_put_object},
    [OP_GET_OBJECT] = {"GetObject", NULL, s3_op_get_object},
    [OP_HEAD_OBJECT] = {"HeadObject", NULL, s3_op_get_object},
    [OP_DELETE_OBJECT] = {"DeleteObject", NULL, s3_op_delete_object},
    [OP_DELETE_OBJECTS] = {"DeleteObjects", s3_body_begin_xml, s3_op_delete_objects},
    [OP_COPY_OBJECT] = {"CopyObject", NULL, s3_op_copy_object},
    [OP_CREATE_MULTIPART] = {"CreateMultipartUpload", NULL, s3_op_create_multipart},
    [OP_UPLOAD_PART] = {"UploadPart", s3_put_begin, s3_op_put_object},
    [OP_COMPLETE_MULTIPART] = {"CompleteMultipartUpload", s3_body_begin_xml,
                               s3_op_complete_multipart},
    [OP_ABORT_MULTIPART] = {"AbortMultipartUpload", NULL, s3_op_abort_multipart},
    [OP_LIST_PARTS] = {"ListParts", NULL, s3_op_list_parts},
    [OP_LIST_UPLOADS] = {"ListMultipartUploads", NULL, s3_op_list_uploads},
    [OP_UPLOAD_PART_COPY] = {"UploadPartCopy", NULL, s3_op_upload_part_copy},
    [OP_GET_OBJECT_TAGGING] = {"GetObjectTagging", NULL, s3_op_get_object_tagging},
    [OP_GET_BUCKET_ACL] = {"GetBucketAcl", NULL, s3_op_get_acl},
    [OP_PUT_BUCKET_ACL] = {"PutBucketAcl", s3_acl_begin, s3_op_put_acl},
    [OP_GET_OBJECT_ACL] = {"GetObjectAcl", NULL, s3_op_get_acl},
    [OP_PUT_OBJECT_ACL] = {"PutObjectAcl", s3_acl_begin, s3_op_put_acl},
    [OP_GET_BUCKET_POLICY] = {"GetBucketPolicy", NULL, s3_op_get_policy},
    [OP_PUT_BUCKET_POLICY] = {"PutBucketPolicy", s3_policy_begin, s3_op_put_policy},
    [OP_DELETE_BUCKET_POLICY] = {"DeleteBucketPolicy", NULL, s3_op_delete_policy},
    [OP_PUT_BUCKET_VERSIONING] = {"PutBucketVersioning", s3_body_begin_xml, s3_op_put_versioning},
    [OP_LIST_OBJECT_VERSIONS] = {"ListObjectVersions", NULL, s3_op_list_versions},
    [OP_GET_OBJECT_LOCK_CONFIG] = {"GetObjectLockConfiguration", NULL, s3_op_get_lock_config},
    [OP_PUT_OBJECT_LOCK_CONFIG] = {"PutObjectLockConfiguration", s3_body_begin_xml,
                                   s3_op_put_lock_config},
    [OP_GET_OBJECT_RETENTION] = {"GetObjectRetention", NULL, s3_op_get_retention},
    [OP_PUT_OBJECT_RETENTION] = {"PutObjectRetention", s3_body_begin_xml, s3_op_put_retention},
    [OP_GET_OBJECT_LEGAL_HOLD] = {"GetObjectLegalHold", NULL, s3_op_get_legal_hold},
    [OP_PUT_OBJECT_LEGAL_HOLD] = {"PutObjectLegalHold", s3_body_begin_xml, s3_op_put_legal_hold},
    [OP_PUT_OBJECT_TAGGING] = {"PutObjectTagging", s3_body_begin_xml, s3_op_put_object_tagging},
    [OP_DELETE_OBJECT_TAGGING] = {"DeleteObjectTagging", NULL, s3_op_delete_object_tagging},
    [OP_GET_BUCKET_TAGGING] = {"GetBucketTagging", NULL, s3_op_get_bucket_tagging},
    [OP_PUT_BUCKET_TAGGING] = {"PutBucketTagging", s3_body_begin_xml, s3_op_put_bucket_tagging},
    [OP_DELETE_BUCKET_TAGGING] = {"DeleteBucketTagging", NULL, s3_op_delete_bucket_tagging},
    [OP_GET_BUCKET_CORS] = {"GetBucketCors", NULL, s3_op_get_bucket_cors},
    [OP_PUT_BUCKET_CORS] = {"PutBucketCors", s3_body_begin_xml, s3_op_put_bucket_cors},
    [OP_DELETE_BUCKET_CORS] = {"DeleteBucketCors", NULL, s3_op_delete_bucket_cors},
    [OP_GET_BUCKET_LIFECYCLE] = {"GetBucketLifecycleConfiguration", NULL,
                                 s3_op_get_bucket_lifecycle},
    [OP_PUT_BUCKET_LIFECYCLE] = {"PutBucketLifecycleConfiguration", s3_body_begin_xml,
                                 s3_op_put_bucket_lifecycle},
    [OP_DELETE_BUCKET_LIFECYCLE] = {"DeleteBucketLifecycle", NULL, s3_op_delete_bucket_lifecycle},
    [OP_CORS_PREFLIGHT] = {"PreflightRequest", NULL, s3_op_cors_preflight},
    [OP_POST_OBJECT] = {"PostObject", s3_post_begin, s3_op_post_object},
    [OP_UNSUPPORTED] = {"Unsupported", refuse_unsupported, NULL},
};

const char *s3_op_name(enum s3_op op)
{
    return (unsigned)op < OP__COUNT ? routes[op].name : routes[OP_UNKNOWN].name;
}

/* ---- classify --------------------------------------------------------- */

/* Subresources Cairn does not serve (NotImplemented rather than a wrong
 * answer from the plain operation). */
static int unsupported_subresource(const struct s3_req *r)
{
    static const char *const names[] = {
        "encryption",        "replication",  "website",        "logging",
        "notification",      "accelerate",   "requestPayment", "ownershipControls",
        "publicAccessBlock", "analytics",    "inventory",      "intelligent-tiering",
        "metrics",           "torrent",      "restore",        "select",
        "attributes",        "policyStatus",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (s3_qarg(r, names[i]))
            return 1;
    return 0;
}

enum s3_op s3_classify(const char *m, const struct s3_req *r)
{
    int get = strcmp(m, "GET") == 0, head = strcmp(m, "HEAD") == 0;
    int put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
    int post = strcmp(m, "POST") == 0;
    if (strcmp(m, "OPTIONS") == 0)
        return OP_CORS_PREFLIGHT;
    if (!r->t.bucket[0])
        return get || head ? OP_LIST_BUCKETS : OP_UNKNOWN;
    if (s3_qarg(r, "tagging") && !s3_qarg(r, "versionId")) {
        if (r->t.key[0])
            return get   ? OP_GET_OBJECT_TAGGING
                   : put ? OP_PUT_OBJECT_TAGGING
                   : del ? OP_DELETE_OBJECT_TAGGING
                         : OP_UNKNOWN;
        return get   ? OP_GET_BUCKET_TAGGING
               : put ? OP_PUT_BUCKET_TAGGING
               : del ? OP_DELETE_BUCKET_TAGGING
                     : OP_UNKNOWN;
    }
    if (s3_qarg(r, "cors") && !r->t.key[0])
        return get   ? OP_GET_BUCKET_CORS
               : put ? OP_PUT_BUCKET_CORS
               : del ? OP_DELETE_BUCKET_CORS
                     : OP_UNKNOWN;
    if (s3_qarg(r, "lifecycle") && !r->t.key[0])
        return get   ? OP_GET_BUCKET_LIFECYCLE
               : put ? OP_PUT_BUCKET_LIFECYCLE
               : del ? OP_DELETE_BUCKET_LIFECYCLE
                     : OP_UNKNOWN;
    if (s3_qarg(r, "tagging") || s3_qarg(r, "cors") || s3_qarg(r, "lifecycle"))
        return OP_UNSUPPORTED;
    if (s3_qarg(r, "acl")) {
        if (r->t.key[0])
            return get ? OP_GET_OBJECT_ACL : put ? OP_PUT_OBJECT_ACL : OP_UNKNOWN;
        return get ? OP_GET_BUCKET_ACL : put ? OP_PUT_BUCKET_ACL : OP_UNKNOWN;
    }
    if (s3_qarg(r, "policy") && !r->t.key[0])
        return get   ? OP_GET_BUCKET_POLICY
               : put ? OP_PUT_BUCKET_POLICY
               : del ? OP_DELETE_BUCKET_POLICY
                     : OP_UNKNOWN;
    if (s3_qarg(r, "policy")) /* on an object */
        return OP_UNSUPPORTED;
    if (unsupported_subresource(r))
        return OP_UNSUPPORTED;
    /* versioning and object lock */
    if (!r->t.key[0]) {
        if (s3_qarg(r, "versioning"))
            return get ? OP_GET_BUCKET_VERSIONING : put ? OP_PUT_BUCKET_VERSIONING : OP_UNKNOWN;
        if (s3_qarg(r, "versions"))
            return get ? OP_LIST_OBJECT_VERSIONS : OP_UNKNOWN;
        if (s3_qarg(r, "object-lock"))
            return get ? OP_GET_OBJECT_LOCK_CONFIG : put ? OP_PUT_OBJECT_LOCK_CONFIG : OP_UNKNOWN;
    } else {
        if (s3_qarg(r, "retention"))
            return get ? OP_GET_OBJECT_RETENTION : put ? OP_PUT_OBJECT_RETENTION : OP_UNKNOWN;
        if (s3_qarg(r, "legal-hold"))
            return get ? OP_GET_OBJECT_LEGAL_HOLD : put ? OP_PUT_OBJECT_LEGAL_HOLD : OP_UNKNOWN;
    }
    if (!r->t.key[0]) {
        if (s3_qarg(r, "uploadId") || s3_qarg(r, "partNumber"))
            return OP_UNKNOWN;
        if (s3_qarg(r, "uploads"))
            return get ? OP_LIST_UPLOADS : OP_UNKNOWN;
        if (put)
            return OP_CREATE_BUCKET;
        if (head)
            return OP_HEAD_BUCKET;
        if (del)
            return OP_DELETE_BUCKET;
        if (post) {
            if (s3_qarg(r, "delete"))
                return OP_DELETE_OBJECTS;
            /* A browser's form upload (an HTML form posts to the bucket). */
            const char *ct = s3_hdr(r, "Content-Type");
            return ct && strncasecmp(ct, "multipart/form-data", 19) == 0 ? OP_POST_OBJECT
                                                                         : OP_UNKNOWN;
        }
        if (get) {
            if (s3_qarg(r, "location"))
                return OP_GET_BUCKET_LOCATION;
            const char *lt = s3_qarg(r, "list-type");
            return lt && strcmp(lt, "2") == 0 ? OP_LIST_OBJECTS_V2 : OP_LIST_OBJECTS;
        }
        return OP_UNKNOWN;
    }
    if (s3_qarg(r, "uploads"))
        return post ? OP_CREATE_MULTIPART : OP_UNKNOWN;
    if (s3_qarg(r, "uploadId")) {
        if (put && s3_qarg(r, "partNumber"))
            return s3_hdr(r, "x-amz-copy-source") ? OP_UPLOAD_PART_COPY : OP_UPLOAD_PART;
        if (post)
            return OP_COMPLETE_MULTIPART;
        if (get)
            return OP_LIST_PARTS;
        if (del)
            return OP_ABORT_MULTIPART;
        return OP_UNKNOWN;
    }
    if (s3_qarg(r, "partNumber")) /* GET/HEAD of one part of an object */
        return get ? OP_GET_OBJECT : head ? OP_HEAD_OBJECT : OP_UNSUPPORTED;
    if (put)
        return s3_hdr(r, "x-amz-copy-source") ? OP_COPY_OBJECT : OP_PUT_OBJECT;
    if (get)
        return OP_GET_OBJECT;
    if (head)
        return OP_HEAD_OBJECT;
    if (del)
        return OP_DELETE_OBJECT;
    return OP_UNKNOWN;
}

/* ---- request lifecycle ------------------------------------------------ */

/* 1 if the path of the request-target (as sent) holds "%00". The server
 * hands the path on decoded, as a C string, so an escaped NUL would cut a
 * key short; no key can hold one (S3 answers InvalidURI). */
static int escaped_nul_in_path(const char *target)
{
    for (const char *p = target; *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            return 1;
    return 0;
}

/* Whether r asks for server-side encryption: an x-amz-server-side-encryption*
 * header on a write, or a customer key (SSE-C) on any object request. */
static int s3_asks_sse(const struct s3_req *r)
{
    static const char *const write_hdrs[] = {
        "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-context", "x-amz-server-side-encryption-bucket-key-enabled"};
    static const char *const key_hdrs[] = {
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-algorithm",
        "x-amz-copy-source-server-side-encryption-customer-key"};
    int write = r->op == OP_PUT_OBJECT || r->op == OP_COPY_OBJECT || r->op == OP_CREATE_MULTIPART ||
                r->op == OP_UPLOAD_PART || r->op == OP_UPLOAD_PART_COPY;
    for (size_t i = 0; write && i < sizeof(write_hdrs) / sizeof(write_hdrs[0]); i++)
        if (s3_hdr(r, write_hdrs[i]))
            return 1;
    for (size_t i = 0; i < sizeof(key_hdrs) / sizeof(key_hdrs[0]); i++)
        if (s3_hdr(r, key_hdrs[i]))
            return 1;
    return 0;
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
    r->req = req;
    r->start_us = cn_mono_us();
    r->expect = -1;
    cn_http_req_set_data(req, r);
    struct gw_header_list hl = {.h = r->hdrs, .cap = S3_MAX_HEADERS};
    cn_http_req_headers_foreach(req, gw_header_collect, &hl);
    r->n_hdrs = hl.n;
    if (hl.overflow)
        return s3_error(req, r, GW_S3_INVALID_REQUEST, "Too many headers");

    enum gw_s3err e = GW_S3_OK;
    if (gw_query_parse(cn_http_req_query(req), &r->q, &e) != 0)
        return s3_error(req, r, e, NULL);
    r->have_q = 1;
    if (escaped_nul_in_path(cn_http_req_target(req)))
        return s3_error(req, r, GW_S3_INVALID_URI, NULL);
    if (gw_target_parse(cn_http_req_header(req, "Host"), s3->base_domain, cn_http_req_path(req),
                        &r->t, &e) != 0)
        return s3_error(req, r, e, NULL);
    r->op = s3_classify(cn_http_req_method(req), r);
    atomic_fetch_add(&s3->requests[r->op], 1);
    /* A CORS preflight is answered from the bucket's rules alone, without
     * authentication, as S3 does (gw_s3_cors.c). */
    if (r->op == OP_CORS_PREFLIGHT)
        return 0;

    e = s3_authenticate(req, r);
    if (e != GW_S3_OK) {
        s3_cors_apply(req, r); /* a browser reads the error only with them */
        return s3_error(req, r, e, NULL);
    }

    /* A name no bucket can have (they are checked at creation): NoSuchBucket,
     * rather than the metadata service's InvalidArgument. */
    if (r->t.bucket[0] && r->op != OP_CREATE_BUCKET && !gw_bucket_name_valid(r->t.bucket)) {
        e = s3_confirm_key(r, NULL); /* a disabled key is told so first */
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_NO_SUCH_BUCKET, NULL);
    }
    /* The tags the request sets are condition keys of the decision. */
    if (r->op == OP_PUT_OBJECT || r->op == OP_COPY_OBJECT || r->op == OP_CREATE_MULTIPART) {
        const char *msg = NULL;
        e = s3_tags_from_header(r, &msg);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, msg);
    }
    /* The one authorization decision, before anything is read for the client
     * or changed. */
    e = s3_authorize(req, r);
    s3_cors_apply(req, r); /* on the answer, whatever it is */
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    /* Server-side encryption is not implemented: a write that asks for it
     * (SSE-S3, SSE-KMS or a customer key) is refused, not stored in the
     * clear as if it had been honoured; so is a read or copy that hands a
     * customer key. */
    if (s3_asks_sse(r))
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED,
                        "Server-side encryption is not supported by this store");
    /* What an object created here will be owned by and who else may use it:
     * a bad ACL header is refused before the body is read. */
    if (r->op == OP_PUT_OBJECT || r->op == OP_COPY_OBJECT || r->op == OP_CREATE_MULTIPART) {
        const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
        const char *msg = NULL;
        e = s3_acl_for_new(r, b && b->owner_id[0] ? b->owner_id : GW_AUTH_OPERATOR_ID, &r->new_acl,
                           &r->new_acl_len, &msg);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, msg);
        /* And the object lock it asks for, before the body too. */
        e = s3_lock_headers(r);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
    }
    if (routes[r->op].begin) {
        e = routes[r->op].begin(req, r);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
    }
    return 0;
}

static int s3_end(struct cn_http_req *req, void *cls)
{
    (void)cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r || cn_http_req_responded(req))
        return 0;
    if (r->wants_body) {
        enum gw_s3err e = s3_body_verify(r);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
    }
    if (!routes[r->op].end)
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, NULL);
    return routes[r->op].end(req, r);
}

static void s3_done(struct cn_http_req *req, int ok, void *cls)
{
    struct gw_s3 *s3 = cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r)
        return;
    count_status(s3, ok ? r->status : 0);
    /* A write done here may allow what an anonymous request was refused:
     * those refusals are forgotten (gw_s3_authz.c). */
    const char *m = cn_http_req_method(req);
    if (r->status >= 200 && r->status < 300 && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
        atomic_fetch_add(&s3->anon_gen, 1);
    cn_hist_record(&s3->latency[r->op], (uint64_t)(cn_mono_us() - r->start_us));
    CN_DEBUG(S3_LOG, "%s %s -> %u (%s)%s", cn_http_req_method(req), cn_http_req_target(req),
             r->status, s3_op_name(r->op), ok ? "" : " aborted");
    if ((r->put || r->sput) && !r->commit_tried && !r->discarded) {
        /* Failed before its commit (a bad chunk signature or Content-MD5, a
         * body cut short, the client gone): what it wrote is garbage now. */
        const struct md_group_desc *groups = NULL;
        size_t n = 0;
        if (r->put)
            gw_put_written(r->put, &groups, &n);
        else
            gw_stream_put_written(r->sput, &groups, &n);
        if (n)
            s3_discard_groups(r, groups, n);
    }
    gw_put_free(r->put);
    gw_stream_put_free(r->sput);
    gw_sha256_check_free(r->sha);
    gw_chunked_free(r->chunked);
    gw_checksum_free(r->cks);
    if (r->md5)
        EVP_MD_CTX_free(r->md5);
    gw_buf_free(&r->body);
    if (r->pack_mem)
        gw_ctx_mem_give(s3->data, r->pack_mem);
    if (r->have_meta)
        gw_meta_free(&r->meta);
    if (r->have_q)
        gw_query_free(&r->q);
    gw_sigv4_result_wipe(&r->auth);
    OPENSSL_cleanse(r->key_secret, sizeof(r->key_secret));
    s3_md_query_free(r->ctx);
    gw_tags_free(&r->req_tags);
    s3_post_free(r->post);
    free(r->new_acl);
    free(r);
    cn_http_req_set_data(req, NULL);
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
    s3->max_get_ms = cfg->max_get_ms;
    s3->keys = cfg->keys;
    s3->anon_cache_ms = cfg->anon_cache_ms;
    if (s3->anon_cache_ms > 0 && gw_ttlcache_new(ANON_CACHE_SLOTS, &s3->anon) != 0) {
        gw_s3_free(s3);
        return CAIRN_E_NOMEM;
    }
    s3->data = data;
    s3->pack = cfg->pack;
    *out = s3;
    return 0;
}

int gw_s3_register(struct gw_s3 *s3, struct cn_http_server *srv)
{
    if (s3->n_srvs < sizeof(s3->srvs) / sizeof(s3->srvs[0]))
        s3->srvs[s3->n_srvs++] = srv; /* its connection counters in /metrics */
    const struct cn_http_handler metrics = {.end = s3_metrics_end};
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
    gw_ttlcache_free(s3->anon);
    free(s3->region);
    free(s3->base_domain);
    free(s3->root_ak);
    if (s3->root_sk) {
        memset(s3->root_sk, 0, strlen(s3->root_sk));
        free(s3->root_sk);
    }
    free(s3);
}
