/* gw_s3_body: the body pipeline of a request. Raw bytes go through the
 * signed SHA-256 check or the aws-chunked decoder, then the decoded payload
 * through Content-MD5 and the checksum header to its sink: a buffer (XML
 * documents, inline objects) or a streamed gw_put (larger objects). Nothing
 * is stored here; s3_body_verify decides whether the body may be used. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "gw_xml.h"

#include <string.h>

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
    if (r->sput)
        return gw_stream_put_write(r->sput, data, len);
    if (r->put)
        return gw_put_write(r->put, data, len);
    if (r->body.len + len > r->body_max)
        return CAIRN_E_RANGE;
    gw_buf_append(&r->body, data, len);
    return gw_buf_error(&r->body);
}

enum gw_s3err s3_sink_error(const struct s3_req *r, int rc)
{
    if (rc == CAIRN_E_RANGE && r->sput)
        return GW_S3_ENTITY_TOO_LARGE; /* a body of unknown length went past the limit */
    if (rc == CAIRN_E_RANGE)
        return r->op == OP_PUT_OBJECT || r->op == OP_UPLOAD_PART ? GW_S3_INCOMPLETE_BODY
                                                                 : GW_S3_MALFORMED_XML;
    if (rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_TIMEOUT || rc == CAIRN_E_NOSPACE)
        return GW_S3_SERVICE_UNAVAILABLE;
    return GW_S3_INTERNAL_ERROR;
}

enum gw_s3err s3_body_setup(struct cn_http_req *req, struct s3_req *r, size_t buffer_max)
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
    const char *cmd5 = s3_hdr(r, "Content-MD5");
    if (cmd5) {
        if (gw_content_md5_parse(cmd5, r->content_md5) != 0)
            return GW_S3_INVALID_DIGEST;
        r->has_content_md5 = 1;
    }
    return GW_S3_OK;
}

enum gw_s3err s3_body_begin_xml(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = s3_body_setup(req, r, GW_XML_MAX_BODY);
    if (e == GW_S3_OK && r->has_content_md5) {
        r->md5 = EVP_MD_CTX_new();
        if (!r->md5 || EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) != 1)
            e = GW_S3_INTERNAL_ERROR;
    }
    return e;
}

int s3_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    (void)cls;
    struct s3_req *r = cn_http_req_data(req);
    if (!r || !r->wants_body || cn_http_req_responded(req))
        return 0;
    atomic_fetch_add(&r->s3->bytes_in, len);
    if (r->post) /* a form upload: the form parser routes the file part */
        return s3_post_body(req, r, data, len);
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
        CN_WARN(S3_LOG, "%s %s: body: %s", s3_op_name(r->op), cn_http_req_path(req),
                cairn_strerror(rc));
        return s3_error(req, r, s3_sink_error(r, rc), NULL);
    }
    return 0;
}

enum gw_s3err s3_body_verify(struct s3_req *r)
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
    /* PutObject and UploadPart check Content-MD5 against what they store. */
    if (r->has_content_md5 && r->op != OP_PUT_OBJECT && r->op != OP_UPLOAD_PART) {
        unsigned char md5[16];
        unsigned int ml = 0;
        if (!r->md5 || EVP_DigestFinal_ex(r->md5, md5, &ml) != 1)
            return GW_S3_INTERNAL_ERROR;
        if (memcmp(md5, r->content_md5, 16) != 0)
            return GW_S3_BAD_DIGEST;
    }
    return GW_S3_OK;
}
