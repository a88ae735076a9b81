/* gw_s3_post: POST object uploads from HTML forms (browser uploads). The
 * body is multipart/form-data (gw_form): the fields before the file are
 * gathered (at most POST_MAX_PRE bytes), and when the file part starts the
 * upload is decided -- the policy (gw_post_policy) and its SigV4 signature,
 * or an anonymous request, authorized like a PutObject of the form's key --
 * before a byte of the file is stored. The file then streams into the
 * erasure-coded write path as a body of unknown length (gw_stream_put,
 * like a chunked PUT), and end() commits it like PutObject and answers as
 * success_action_redirect / success_action_status ask. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_form.h"
#include "gw_post_policy.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POST_MAX_PRE    (64u << 10) /* header and value bytes of the fields before the file */
#define POST_MAX_FIELDS 200

struct post_field {
    char *name;
    char *value;
};

struct s3_post {
    struct s3_req *r;
    struct gw_form *form;
    struct post_field fields[POST_MAX_FIELDS];
    size_t n_fields;
    struct gw_post_policy *policy;
    int64_t len_min, len_max; /* content-length-range; len_max -1: none */
    int file_begun, file_done;
    char file_ctype[256];
    /* the error a callback stopped the parser with */
    enum gw_s3err err;
    char msg[GW_POST_ERR_MAX];
    struct gw_s3err_field efield[2];
    size_t n_efield;
    char ebuf[2][32];
};

void s3_post_free(struct s3_post *p)
{
    if (!p)
        return;
    gw_form_free(p->form);
    gw_post_policy_free(p->policy);
    for (size_t i = 0; i < p->n_fields; i++) {
        free(p->fields[i].name);
        free(p->fields[i].value);
    }
    free(p);
}

/* The value of form field name (case-insensitive; the first), or NULL. */
static const char *field(const struct s3_post *p, const char *name)
{
    for (size_t i = 0; i < p->n_fields; i++)
        if (strcasecmp(p->fields[i].name, name) == 0)
            return p->fields[i].value;
    return NULL;
}

static const char *fields_get(void *ctx, const char *name)
{
    return field(ctx, name);
}

static const char *fields_name_at(void *ctx, size_t i)
{
    return ((struct s3_post *)ctx)->fields[i].name;
}

/* Records the S3 error for a callback to stop the parser with. */
static int stop(struct s3_post *p, enum gw_s3err e, const char *msg)
{
    p->err = e;
    snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "");
    return CAIRN_E_INVAL;
}

/* ---- the form's callbacks ------------------------------------------------- */

static int on_field(void *ctx, const char *name, const char *value, size_t len)
{
    struct s3_post *p = ctx;
    if (strlen(value) != len)
        return stop(p, GW_S3_INVALID_ARGUMENT, "A form field holds a NUL byte.");
    if (p->n_fields >= POST_MAX_FIELDS)
        return CAIRN_E_RANGE; /* MaxPostPreDataLengthExceeded */
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return CAIRN_E_NOMEM;
    }
    p->fields[p->n_fields++] = (struct post_field){n, v};
    return 0;
}

/* The object key: the key field with ${filename} replaced by the file's
 * name (its last path component, as a browser may send a path). */
static int object_key(struct s3_post *p, const char *filename, char *out, size_t cap)
{
    const char *k = field(p, "key");
    const char *base = filename;
    for (const char *s = filename; *s; s++)
        if (*s == '/' || *s == '\\')
            base = s + 1;
    size_t n = 0;
    for (const char *s = k; *s;) {
        size_t add;
        const char *src;
        if (strncmp(s, "${filename}", 11) == 0) {
            src = base;
            add = strlen(base);
            s += 11;
        } else {
            src = s;
            add = 1;
            s++;
        }
        if (n + add >= cap)
            return CAIRN_E_RANGE;
        memcpy(out + n, src, add);
        n += add;
    }
    out[n] = '\0';
    return 0;
}

/* Checks the policy's signature and conditions; fills r->who / r->auth. */
static int check_policy(struct s3_post *p, const char *b64)
{
    struct s3_req *r = p->r;
    struct gw_s3 *s3 = r->s3;
    char err[GW_POST_ERR_MAX];
    int rc = gw_post_policy_parse(b64, &p->policy, err, sizeof(err));
    if (rc == CAIRN_E_NOMEM)
        return rc;
    if (rc)
        return stop(p, GW_S3_INVALID_POLICY_DOCUMENT, err);
    const char *alg = field(p, "x-amz-algorithm"), *cred = field(p, "x-amz-credential");
    const char *date = field(p, "x-amz-date"), *sig = field(p, "x-amz-signature");
    if (!alg || !cred || !date || !sig)
        return stop(p, GW_S3_MISSING_FIELDS, NULL);
    if (strcmp(alg, GW_SIGV4_ALGORITHM) != 0)
        return stop(p, GW_S3_INVALID_ARGUMENT,
                    "Unsupported x-amz-algorithm; only "
                    "AWS4-HMAC-SHA256 is supported.");
    /* AK/YYYYMMDD/region/s3/aws4_request */
    char ak[GW_SIGV4_MAX_ACCESS_KEY + 1], day[9], region[64], service[16], term[16];
    const char *s1 = strchr(cred, '/');
    if (!s1 || (size_t)(s1 - cred) > GW_SIGV4_MAX_ACCESS_KEY || s1 == cred ||
        sscanf(s1 + 1, "%8[0-9]/%63[^/]/%15[^/]/%15s", day, region, service, term) != 4 ||
        strlen(day) != 8 || strcmp(term, "aws4_request") != 0 || strcmp(service, "s3") != 0)
        return stop(p, GW_S3_INVALID_ARGUMENT, "Invalid x-amz-credential.");
    memcpy(ak, cred, (size_t)(s1 - cred));
    ak[s1 - cred] = '\0';
    if (strcmp(region, s3->region) != 0)
        return stop(p, GW_S3_INVALID_ARGUMENT,
                    "The credential's region is not the region of this endpoint.");
    int64_t t;
    if (gw_amz_date_parse(date, &t) != 0 || strncmp(date, day, 8) != 0)
        return stop(p, GW_S3_INVALID_ARGUMENT, "Invalid x-amz-date.");
    char secret[GW_SIGV4_MAX_SECRET + 1];
    rc =
        gw_auth_key_lookup(s3->data, s3->root_ak, s3->root_sk, ak, secret, sizeof(secret), &r->who);
    if (rc == CAIRN_E_NOTFOUND)
        return stop(p, GW_S3_INVALID_ACCESS_KEY_ID, NULL);
    if (rc)
        return stop(p,
                    rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_TIMEOUT || rc == CAIRN_E_NOTLEADER
                        ? GW_S3_SERVICE_UNAVAILABLE
                        : GW_S3_INTERNAL_ERROR,
                    NULL);
    char want[65];
    rc = gw_post_signature(secret, day, region, "s3", b64, want);
    memset(secret, 0, sizeof(secret));
    if (rc)
        return rc;
    if (strlen(sig) != 64 || CRYPTO_memcmp(want, sig, 64) != 0) {
        CN_INFO(S3_LOG, "POST %s: policy signature of %s does not match", r->t.bucket, ak);
        return stop(p, GW_S3_SIGNATURE_DOES_NOT_MATCH, NULL);
    }
    if (gw_post_policy_expired(p->policy, cn_wall_ms()))
        return stop(p, GW_S3_ACCESS_DENIED, "Invalid according to Policy: Policy expired.");
    struct gw_post_fields f = {fields_get, p->n_fields, fields_name_at, p};
    if (gw_post_policy_check(p->policy, r->t.bucket, &f, err, sizeof(err)) != 0)
        return stop(p, GW_S3_ACCESS_DENIED, err);
    gw_post_policy_length_range(p->policy, &p->len_min, &p->len_max);
    r->auth.kind = GW_SIGV4_HEADER; /* a signed request of r->who */
    snprintf(r->auth.access_key, sizeof(r->auth.access_key), "%s", ak);
    return 0;
}

/* Form fields S3 applies as the PutObject headers of the same name. */
static int header_field(const char *name)
{
    static const char *const names[] = {
        "Cache-Control",    "Content-Type", "Content-Disposition", "Content-Encoding",
        "Content-Language", "Expires",      "x-amz-storage-class"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return strncasecmp(name, "x-amz-meta-", 11) == 0;
}

/* The request headers become the form's: what PutObject reads from headers
 * (attributes, metadata, ACL, storage class) comes from the fields. */
static void form_headers(struct s3_post *p)
{
    struct s3_req *r = p->r;
    size_t n = 0;
    for (size_t i = 0; i < p->n_fields && n < S3_MAX_HEADERS; i++) {
        const char *name = p->fields[i].name;
        if (strcasecmp(name, "acl") == 0)
            r->hdrs[n++] = (struct gw_header){"x-amz-acl", p->fields[i].value};
        else if (header_field(name))
            r->hdrs[n++] = (struct gw_header){name, p->fields[i].value};
    }
    if (!field(p, "Content-Type") && p->file_ctype[0] && n < S3_MAX_HEADERS)
        r->hdrs[n++] = (struct gw_header){"Content-Type", p->file_ctype};
    r->n_hdrs = n;
}

static int on_file_begin(void *ctx, const char *filename, const char *content_type)
{
    struct s3_post *p = ctx;
    struct s3_req *r = p->r;
    struct gw_s3 *s3 = r->s3;
    p->file_begun = 1;
    snprintf(p->file_ctype, sizeof(p->file_ctype), "%s", content_type ? content_type : "");
    if (!field(p, "key")) {
        p->efield[0] = (struct gw_s3err_field){"ArgumentName", "key"};
        p->efield[1] = (struct gw_s3err_field){"ArgumentValue", ""};
        p->n_efield = 2;
        return stop(p, GW_S3_INVALID_ARGUMENT,
                    "Bucket POST must contain a field named 'key'.  If it is specified, please "
                    "check the order of the fields.");
    }
    char key[GW_MAX_KEY + 1];
    if (object_key(p, filename, key, sizeof(key)) != 0)
        return stop(p, GW_S3_KEY_TOO_LONG, NULL);
    if (!key[0])
        return stop(p, GW_S3_INVALID_ARGUMENT, "User key must have a length greater than 0.");
    const char *b64 = field(p, "policy");
    int rc;
    if (b64) {
        rc = check_policy(p, b64);
        if (rc)
            return rc;
    } else if (field(p, "x-amz-signature") || field(p, "x-amz-credential")) {
        return stop(p, GW_S3_MISSING_FIELDS, NULL); /* a signature of no policy */
    }
    snprintf(r->t.key, sizeof(r->t.key), "%s", key);
    const char *tagging = field(p, "tagging");
    if (tagging) {
        enum gw_s3err e = GW_S3_OK;
        const char *msg = NULL;
        if (gw_tags_parse_xml(tagging, strlen(tagging), GW_TAGS_OBJECT, &r->req_tags, &e, &msg))
            return stop(p, e, msg);
        r->have_req_tags = 1;
    }
    /* As a PutObject of the key by the policy's signer (or anonymous). */
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (!b)
        return stop(p, GW_S3_NO_SUCH_BUCKET, NULL);
    if (!s3_allowed(r, GW_ACT_PUT_OBJECT, b, key, NULL))
        return stop(p, GW_S3_ACCESS_DENIED, NULL);
    form_headers(p);
    const char *amsg = NULL;
    enum gw_s3err e = s3_acl_for_new(r, b->owner_id[0] ? b->owner_id : GW_AUTH_OPERATOR_ID,
                                     &r->new_acl, &r->new_acl_len, &amsg);
    if (e == GW_S3_OK && gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) == 0)
        r->have_meta = 1;
    if (e == GW_S3_OK)
        e = s3_scheme_from_class(r, s3_hdr(r, "x-amz-storage-class"));
    if (e != GW_S3_OK)
        return stop(p, e, amsg);
    ec_layout l = {.k = r->k, .m = r->m, .unit = s3->unit, .frag_max = s3->group_fragment};
    uint64_t seg = gw_stream_put_segment(&l);
    if (seg < s3->inline_max)
        seg = s3->inline_max;
    uint64_t max = s3->max_object;
    if (p->len_max >= 0 && (uint64_t)p->len_max < max)
        max = (uint64_t)p->len_max;
    if (gw_stream_put_begin(s3->data, &l, seg, max, &r->sput) != 0)
        return stop(p, GW_S3_INTERNAL_ERROR, NULL);
    return 0;
}

/* EntityTooLarge / EntityTooSmall with the sizes S3 names. */
static int size_error(struct s3_post *p, enum gw_s3err e, const char *limit_name, int64_t limit,
                      uint64_t proposed)
{
    snprintf(p->ebuf[0], sizeof(p->ebuf[0]), "%lld", (long long)proposed);
    snprintf(p->ebuf[1], sizeof(p->ebuf[1]), "%lld", (long long)limit);
    p->efield[0] = (struct gw_s3err_field){"ProposedSize", p->ebuf[0]};
    p->efield[1] = (struct gw_s3err_field){limit_name, p->ebuf[1]};
    p->n_efield = 2;
    return stop(p, e, NULL);
}

static int on_file_data(void *ctx, const void *data, size_t len)
{
    struct s3_post *p = ctx;
    struct s3_req *r = p->r;
    r->received += len;
    if (p->len_max >= 0 && r->received > (uint64_t)p->len_max)
        return size_error(p, GW_S3_ENTITY_TOO_LARGE, "MaxSizeAllowed", p->len_max, r->received);
    int rc = gw_stream_put_write(r->sput, data, len);
    if (rc == CAIRN_E_RANGE)
        return size_error(p, GW_S3_ENTITY_TOO_LARGE, "MaxSizeAllowed", (int64_t)r->s3->max_object,
                          r->received);
    if (rc)
        return stop(p, s3_sink_error(r, rc), NULL);
    return 0;
}

static int on_file_end(void *ctx)
{
    ((struct s3_post *)ctx)->file_done = 1;
    return 0;
}

/* ---- the request ------------------------------------------------------------ */

enum gw_s3err s3_post_begin(struct cn_http_req *req, struct s3_req *r)
{
    (void)req;
    char boundary[GW_FORM_MAX_BOUNDARY + 1];
    if (gw_form_boundary(s3_hdr(r, "Content-Type"), boundary) != 0)
        return GW_S3_MALFORMED_POST_REQUEST;
    struct s3_post *p = calloc(1, sizeof(*p));
    if (!p)
        return GW_S3_INTERNAL_ERROR;
    p->r = r;
    p->len_max = -1;
    static const struct gw_form_cb cb = {on_field, on_file_begin, on_file_data, on_file_end};
    if (gw_form_new(boundary, POST_MAX_PRE, &cb, p, &p->form) != 0) {
        s3_post_free(p);
        return GW_S3_INTERNAL_ERROR;
    }
    r->post = p;
    r->wants_body = 1;
    r->expect = -1;
    return GW_S3_OK;
}

/* Answers the error that stopped the parser (rc from gw_form). */
static int post_error(struct cn_http_req *req, struct s3_req *r, int rc)
{
    struct s3_post *p = r->post;
    if (p->err != GW_S3_OK)
        return s3_error_fields(req, r, p->err, p->msg[0] ? p->msg : NULL, p->efield, p->n_efield);
    if (rc == CAIRN_E_RANGE)
        return s3_error(req, r, GW_S3_MAX_POST_PRE_DATA_LENGTH_EXCEEDED, NULL);
    if (rc == CAIRN_E_INVAL)
        return s3_error(req, r, GW_S3_MALFORMED_POST_REQUEST, NULL);
    return s3_error(req, r, s3_sink_error(r, rc), NULL);
}

int s3_post_body(struct cn_http_req *req, struct s3_req *r, const void *data, size_t len)
{
    int rc = gw_form_feed(r->post->form, data, len);
    return rc ? post_error(req, r, rc) : 0;
}

/* The URL of the stored object (path style unless the request came by
 * virtual host). */
static void object_url(struct cn_http_req *req, struct s3_req *r, struct gw_buf *u)
{
    const char *host = cn_http_req_header(req, "Host");
    gw_buf_printf(u, "http://%s/", host ? host : "localhost");
    size_t bl = strlen(r->t.bucket);
    if (!host || strncmp(host, r->t.bucket, bl) != 0 || host[bl] != '.') {
        gw_uri_encode(u, r->t.bucket, bl, 0);
        gw_buf_puts(u, "/");
    }
    gw_uri_encode(u, r->t.key, strlen(r->t.key), 1);
}

/* Answers a stored upload as the form asked (redirect or status). */
static int post_respond(struct cn_http_req *req, struct s3_req *r, const char *etag)
{
    struct s3_post *p = r->post;
    struct gw_buf url;
    gw_buf_init(&url, 0);
    object_url(req, r, &url);
    s3_etag_header(req, etag);
    /* A versioned bucket: the new version's id, as PutObject answers it
     * (s3_store_new_object set it). */
    if (r->version_id[0])
        cn_http_resp_header(req, "x-amz-version-id", r->version_id);
    const char *redirect = field(p, "success_action_redirect");
    if (!redirect)
        redirect = field(p, "redirect");
    /* One Location: the redirect's, else the object's (a browser refuses a
     * response with two). */
    if (!(redirect && redirect[0]) && gw_buf_error(&url) == 0)
        cn_http_resp_header(req, "Location", url.data);
    if (redirect && redirect[0]) {
        struct gw_buf loc;
        gw_buf_init(&loc, 0);
        gw_buf_puts(&loc, redirect);
        gw_buf_puts(&loc, strchr(redirect, '?') ? "&bucket=" : "?bucket=");
        gw_uri_encode(&loc, r->t.bucket, strlen(r->t.bucket), 0);
        gw_buf_puts(&loc, "&key=");
        gw_uri_encode(&loc, r->t.key, strlen(r->t.key), 0);
        gw_buf_printf(&loc, "&etag=%%22%s%%22", etag);
        gw_buf_free(&url);
        if (gw_buf_error(&loc) != 0 || cn_http_resp_header(req, "Location", loc.data) != 0) {
            gw_buf_free(&loc);
            return s3_error(req, r, GW_S3_INVALID_ARGUMENT, "Invalid success_action_redirect.");
        }
        gw_buf_free(&loc);
        return s3_respond(req, r, 303, NULL, NULL, 0);
    }
    const char *st = field(p, "success_action_status");
    unsigned status = 204;
    if (st && strcmp(st, "200") == 0)
        status = 200;
    else if (st && strcmp(st, "201") == 0)
        status = 201;
    if (status != 201) {
        gw_buf_free(&url);
        return s3_respond(req, r, status, NULL, NULL, 0);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>");
    gw_buf_xml_escape(&b, url.data ? url.data : "", url.len);
    gw_buf_puts(&b, "</Location><Bucket>");
    gw_buf_xml_escape(&b, r->t.bucket, strlen(r->t.bucket));
    gw_buf_puts(&b, "</Bucket><Key>");
    gw_buf_xml_escape(&b, r->t.key, strlen(r->t.key));
    gw_buf_printf(&b, "</Key><ETag>\"%s\"</ETag></PostResponse>", etag);
    gw_buf_free(&url);
    int rc = gw_buf_error(&b) == 0 ? s3_respond(req, r, 201, "application/xml", b.data, b.len)
                                   : s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    gw_buf_free(&b);
    return rc;
}

int s3_op_post_object(struct cn_http_req *req, struct s3_req *r)
{
    struct s3_post *p = r->post;
    int rc = gw_form_finish(p->form);
    if (rc)
        return post_error(req, r, rc);
    if (!p->file_begun || !p->file_done)
        return s3_error(req, r, GW_S3_INCORRECT_NUMBER_OF_FILES_IN_POST_REQUEST, NULL);
    if ((int64_t)r->received < p->len_min) {
        size_error(p, GW_S3_ENTITY_TOO_SMALL, "MinSizeAllowed", p->len_min, r->received);
        return post_error(req, r, CAIRN_E_INVAL);
    }
    uint8_t md5[16];
    enum gw_s3err e;
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    const void *inline_data = NULL;
    size_t inline_len = 0;
    int is_inline = gw_stream_put_buffered(r->sput, &inline_data, &inline_len) &&
                    inline_len <= r->s3->inline_max;
    if (is_inline) {
        if (EVP_Digest(inline_data, inline_len, md5, NULL, EVP_md5(), NULL) != 1)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    } else {
        rc = gw_stream_put_finish(r->sput, md5, &groups, &n_groups);
        if (rc) {
            CN_WARN(S3_LOG, "PostObject %s/%s: %s", r->t.bucket, r->t.key, cairn_strerror(rc));
            return s3_error(req, r, s3_sink_error(r, rc), NULL);
        }
    }
    /* The Content-MD5 field, checked as S3 does for the header. */
    const char *want_md5 = field(p, "Content-MD5");
    if (want_md5) {
        unsigned char want[16];
        e = gw_content_md5_parse(want_md5, want) != 0 ? GW_S3_INVALID_DIGEST
            : memcmp(want, md5, 16) != 0              ? GW_S3_BAD_DIGEST
                                                      : GW_S3_OK;
        if (e != GW_S3_OK) {
            s3_discard_groups(r, groups, n_groups);
            return s3_error(req, r, e, NULL);
        }
    }
    char etag[33];
    cn_hex_encode(md5, 16, etag);
    e = s3_store_new_object(r, etag, is_inline, inline_data, inline_len, groups, n_groups);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return post_respond(req, r, etag);
}
