/* gw_s3_object: single objects. PutObject (and the body side of UploadPart,
 * which streams the same way), GetObject / HeadObject, DeleteObject,
 * DeleteObjects; and the object record helpers the copy
 * and multipart families share (attributes, scheme, write condition,
 * commit). */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_pack.h"
#include "gw_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREREAD_BYTES (256u << 10)

/* ---- object records --------------------------------------------------- */

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

enum gw_s3err s3_attrs_from_request(struct s3_req *r, struct s3_attrs *ab)
{
    memset(ab, 0, sizeof(*ab));
    const char *ce = s3_hdr(r, "Content-Encoding");
    if (ce && gw_content_encoding_strip_aws_chunked(ce, ab->enc, sizeof(ab->enc)) < 0)
        return GW_S3_INVALID_ARGUMENT;
    ab->kv = calloc(r->meta.n + 1, sizeof(*ab->kv));
    if (!ab->kv)
        return GW_S3_INTERNAL_ERROR;
    for (size_t i = 0; i < r->meta.n; i++)
        ab->kv[i] = (struct md_meta_kv){r->meta.items[i].name, r->meta.items[i].value};
    ab->a = (struct md_attrs_desc){.content_type = s3_hdr(r, "Content-Type"),
                                   .content_encoding = ab->enc,
                                   .content_disposition = s3_hdr(r, "Content-Disposition"),
                                   .cache_control = s3_hdr(r, "Cache-Control"),
                                   .expires = s3_hdr(r, "Expires"),
                                   .content_language = s3_hdr(r, "Content-Language"),
                                   .storage_class = r->sc ? r->sc->name : "",
                                   .user_meta = ab->kv,
                                   .n_user_meta = r->meta.n,
                                   .tags = r->req_tags.tags, /* x-amz-tagging */
                                   .n_tags = r->req_tags.n};
    return GW_S3_OK;
}

void s3_attrs_release(struct s3_attrs *ab)
{
    free(ab->kv);
    ab->kv = NULL;
}

enum gw_s3err s3_scheme_from_class(struct s3_req *r, const char *cls)
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

enum md_cond s3_write_cond(struct s3_req *r, char *if_match, size_t cap)
{
    if_match[0] = '\0';
    if (s3_hdr(r, "If-None-Match"))
        return MD_COND_IF_NONE_MATCH;
    if (s3_hdr(r, "If-Match")) {
        unquote_etag(s3_hdr(r, "If-Match"), if_match, cap);
        return MD_COND_IF_MATCH;
    }
    return MD_COND_NONE;
}

/* What every new version r writes carries: owned by the writer, with the
 * ACL its headers asked for and its object lock. */
static void object_owned(struct s3_req *r, struct md_object_desc *obj)
{
    s3_owner_of(r, &obj->owner);
    obj->owner.acl = r->new_acl;
    obj->owner.acl_len = r->new_acl_len;
    obj->lock = r->lock;
}

enum gw_s3err s3_commit_object(struct s3_req *r, const char *bucket, const char *key,
                               const struct md_object_desc *obj)
{
    char if_match[128];
    enum md_cond cond = s3_write_cond(r, if_match, sizeof(if_match));
    struct md_object_desc owned = *obj;
    r->commit_tried = 1;
    object_owned(r, &owned);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc =
            md_cmd_put_object(c.client, c.seq, bucket, key, &owned, cond, if_match, &c.buf, &c.len);
    /* A failed If-Match on a missing key is a failed precondition. */
    Md__Result *res = NULL;
    enum gw_s3err e = s3_md_command(r, &c, rc, cond != MD_COND_NONE ? &s3_md_if_cond : NULL, &res);
    r->version_id[0] = '\0';
    if (e == GW_S3_OK && res && res->version_id[0])
        snprintf(r->version_id, sizeof(r->version_id), "%s", res->version_id);
    md_result_free(res);
    return e;
}

void s3_discard_groups(struct s3_req *r, const struct md_group_desc *groups, size_t n)
{
    r->discarded = 1;
    if (n == 0)
        return;
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_garbage_add(c.client, c.seq, groups, n, &c.buf, &c.len);
    if (s3_md_command(r, &c, rc, NULL, NULL) != GW_S3_OK)
        CN_WARN(S3_LOG, "%s/%s: %zu group(s) of a failed write left for orphan collection",
                r->t.bucket, r->t.key, n);
    else
        CN_INFO(S3_LOG, "%s %s/%s: %zu group(s) of a failed write handed to garbage collection",
                s3_op_name(r->op), r->t.bucket, r->t.key, n);
}

/* ---- PutObject, UploadPart -------------------------------------------- */

/* 1 if the request's body comes with Transfer-Encoding: chunked. */
static int transfer_chunked(const struct s3_req *r)
{
    const char *te = s3_hdr(r, "Transfer-Encoding");
    return te && strcasestr(te, "chunked") != NULL;
}

/* PutObject and UploadPart, in begin(): checks the headers, looks the bucket
 * (or upload) up and prepares the sink. */
enum gw_s3err s3_put_begin(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_s3 *s3 = r->s3;
    enum gw_s3err e = GW_S3_OK;
    int part = r->op == OP_UPLOAD_PART;
    /* Without Content-Length the body must come chunked (HTTP/1.1 has no
     * other way to send one); its length is then known only at the end.
     * aws-chunked bodies declare theirs (x-amz-decoded-content-length,
     * required by gw_sigv4_verify). */
    int unsized = 0;
    if (r->auth.payload == GW_SIGV4_PAYLOAD_SIGNED ||
        r->auth.payload == GW_SIGV4_PAYLOAD_UNSIGNED) {
        if (cn_http_req_content_length(req) < 0) {
            if (!transfer_chunked(r))
                return GW_S3_MISSING_CONTENT_LENGTH;
            unsized = 1;
        }
    }
    if (part) {
        /* The upload must exist; its storage class gives the scheme. */
        e = s3_part_prepare(r);
        if (e != GW_S3_OK)
            return e;
    } else {
        e = s3_scheme_from_class(r, s3_hdr(r, "x-amz-storage-class"));
        if (e != GW_S3_OK)
            return e;
        const char *inm = s3_hdr(r, "If-None-Match");
        if (inm && strcmp(inm, "*") != 0)
            return GW_S3_NOT_IMPLEMENTED;
        /* Both conditions can never hold together (RFC 7232 evaluates If-Match
         * first; if it holds the object exists and If-None-Match: * fails), so
         * the answer is 412 whatever is stored, and nothing is read or stored. */
        if (inm && s3_hdr(r, "If-Match"))
            return GW_S3_PRECONDITION_FAILED;
        if (gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) != 0)
            return e;
        r->have_meta = 1;
    }
    e = s3_body_setup(req, r, 0);
    if (e != GW_S3_OK)
        return e;
    if (unsized) {
        /* Gathered in segments of a few stripes; a body that ends within
         * the inline limit is stored inline at the end. The quota is the
         * state machine's check at the commit. */
        ec_layout l = {.k = r->k, .m = r->m, .unit = s3->unit, .frag_max = s3->group_fragment};
        uint64_t seg = gw_stream_put_segment(&l);
        if (seg < s3->inline_max)
            seg = s3->inline_max;
        int rc = gw_stream_put_begin(s3->data, &l, seg, s3->max_object, &r->sput);
        if (rc != 0)
            return rc == CAIRN_E_BUSY ? GW_S3_SLOW_DOWN : GW_S3_INTERNAL_ERROR;
        return GW_S3_OK;
    }
    if ((uint64_t)r->expect > s3->max_object)
        return GW_S3_ENTITY_TOO_LARGE;
    /* The bucket exists (s3_authorize read it). A body that would take it
     * over its quota is refused before it is stored; the state machine
     * decides again at the commit (concurrent writers, the owner's quota). */
    if (!part && r->ctx && r->ctx->bucket && r->ctx->bucket->quota && r->expect >= 0) {
        const Md__BucketRecord *b = r->ctx->bucket;
        const Md__ObjectRecord *old = r->ctx->object;
        uint64_t bytes = (b->usage ? b->usage->bytes : 0) - (old ? old->size : 0);
        uint64_t objects = (b->usage ? b->usage->objects : 0) + (old ? 0 : 1);
        if ((b->quota->max_bytes && bytes + (uint64_t)r->expect > b->quota->max_bytes &&
             (uint64_t)r->expect > (old ? old->size : 0)) ||
            (b->quota->max_objects && !old && objects > b->quota->max_objects))
            return GW_S3_QUOTA_EXCEEDED;
    }
    int packed = !part && (uint64_t)r->expect > s3->inline_max &&
                 gw_pack_accepts(s3->pack, (uint64_t)r->expect);
    if (!part && ((uint64_t)r->expect <= s3->inline_max || packed)) {
        /* Buffered whole: an inline object, or one for the packer (whose
         * buffer is taken from the data-path budget). */
        if (packed) {
            if (gw_ctx_mem_take(s3->data, (uint64_t)r->expect) != 0)
                return GW_S3_SLOW_DOWN;
            r->pack_mem = (uint64_t)r->expect;
            r->packed = 1;
        }
        r->md5 = EVP_MD_CTX_new();
        if (!r->md5 || EVP_DigestInit_ex(r->md5, EVP_md5(), NULL) != 1)
            return GW_S3_INTERNAL_ERROR;
        r->body_max = (size_t)r->expect;
        gw_buf_init(&r->body, r->body_max ? r->body_max : 1);
        if (packed && gw_buf_reserve(&r->body, r->body_max) != 0)
            return GW_S3_INTERNAL_ERROR;
    } else {
        ec_layout l = {.k = r->k, .m = r->m, .unit = s3->unit, .frag_max = s3->group_fragment};
        int rc = gw_put_begin(s3->data, &l, (uint64_t)r->expect, &r->put);
        if (rc != 0)
            return rc == CAIRN_E_BUSY ? GW_S3_SLOW_DOWN : GW_S3_INTERNAL_ERROR;
    }
    return GW_S3_OK;
}

/* The record of the object r received, with its request's attributes (the
 * caller s3_attrs_release()s ab once obj is used). */
static enum gw_s3err new_object_desc(struct s3_req *r, const char *etag, struct s3_attrs *ab,
                                     struct md_object_desc *obj)
{
    enum gw_s3err e = s3_attrs_from_request(r, ab);
    if (e != GW_S3_OK)
        return e;
    *obj = (struct md_object_desc){
        .size = r->received,
        .etag = etag,
        .mtime_ms = cn_wall_ms(),
        .attrs = ab->a,
    };
    return GW_S3_OK;
}

/* The object r received (inline, or in groups already written), with the
 * attributes of its request, committed as r->t.bucket/r->t.key and counted.
 * When the commit fails the groups go to garbage collection at once. */
enum gw_s3err s3_store_new_object(struct s3_req *r, const char *etag, int is_inline,
                                  const void *inline_data, size_t inline_len,
                                  const struct md_group_desc *groups, size_t n_groups)
{
    struct s3_attrs ab;
    struct md_object_desc obj;
    enum gw_s3err e = new_object_desc(r, etag, &ab, &obj);
    if (e != GW_S3_OK)
        return e;
    obj.has_inline = is_inline;
    obj.inline_data = inline_data;
    obj.inline_len = inline_len;
    obj.groups = groups;
    obj.n_groups = n_groups;
    e = s3_commit_object(r, r->t.bucket, r->t.key, &obj);
    s3_attrs_release(&ab);
    if (e != GW_S3_OK) {
        s3_discard_groups(r, groups, n_groups);
        return e;
    }
    atomic_fetch_add(&r->s3->objects_put, 1);
    if (is_inline)
        atomic_fetch_add(&r->s3->objects_inline, 1);
    return GW_S3_OK;
}

/* A buffered body the packer handed back (no live group, its queue full):
 * written and committed the ordinary way, a chunk group of its own. */
static enum gw_s3err store_unpacked(struct s3_req *r, const char *etag)
{
    struct gw_s3 *s3 = r->s3;
    ec_layout l = {.k = r->k, .m = r->m, .unit = s3->unit, .frag_max = s3->group_fragment};
    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    int rc = gw_put_begin(s3->data, &l, r->received, &r->put);
    if (rc == 0)
        rc = gw_put_write(r->put, r->body.data, r->body.len);
    if (rc == 0)
        rc = gw_put_finish(r->put, md5, &groups, &n_groups);
    if (rc != 0) {
        CN_WARN(S3_LOG, "PutObject %s/%s (not packed): %s", r->t.bucket, r->t.key,
                cairn_strerror(rc));
        return s3_sink_error(r, rc);
    }
    return s3_store_new_object(r, etag, 0, NULL, 0, groups, n_groups);
}

/* PutObject of a body bound for the packer (r->packed, buffered whole in
 * r->body): the record s3_store_new_object would commit, with the same
 * owner, ACL, lock and write condition, goes in a CommitPacked batch. */
static enum gw_s3err store_packed(struct s3_req *r, const char *etag)
{
    struct s3_attrs ab;
    struct gw_pack_obj po;
    memset(&po, 0, sizeof(po));
    enum gw_s3err e = new_object_desc(r, etag, &ab, &po.desc.obj);
    if (e != GW_S3_OK)
        return e;
    object_owned(r, &po.desc.obj);
    char if_match[128];
    po.desc.cond = s3_write_cond(r, if_match, sizeof(if_match));
    po.desc.if_match = if_match;
    po.desc.bucket = r->t.bucket;
    po.desc.key = r->t.key;
    po.data = r->body.data;
    po.k = r->k;
    po.m = r->m;
    po.storage_class = ab.a.storage_class;
    struct gw_pack_result res;
    int rc = gw_pack_put(r->s3->pack, &po, &res);
    s3_attrs_release(&ab);
    if (rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_BUSY)
        return store_unpacked(r, etag);
    if (rc != 0)
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    if (res.status != 0)
        return s3_md_err(res.status, res.reason,
                         po.desc.cond != MD_COND_NONE ? &s3_md_if_cond : NULL);
    snprintf(r->version_id, sizeof(r->version_id), "%s", res.version_id);
    atomic_fetch_add(&r->s3->objects_put, 1);
    return GW_S3_OK;
}

/* PutObject and UploadPart, in end(): completes the data, checks
 * Content-MD5 and commits the record (or the part). */
int s3_op_put_object(struct cn_http_req *req, struct s3_req *r)
{
    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    /* Stored in the record: the buffered body of a small object. */
    const void *inline_data = r->body.data;
    size_t inline_len = r->body.len;
    int is_inline = !r->put && !r->sput && !r->packed;
    if (r->sput && r->op == OP_PUT_OBJECT &&
        gw_stream_put_buffered(r->sput, &inline_data, &inline_len) &&
        inline_len <= r->s3->inline_max) {
        is_inline = 1;
        if (EVP_Digest(inline_data, inline_len, md5, NULL, EVP_md5(), NULL) != 1)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    } else if (r->put || r->sput) {
        int rc = r->put ? gw_put_finish(r->put, md5, &groups, &n_groups)
                        : gw_stream_put_finish(r->sput, md5, &groups, &n_groups);
        if (rc != 0) {
            CN_WARN(S3_LOG, "%s %s/%s: %s", s3_op_name(r->op), r->t.bucket, r->t.key,
                    cairn_strerror(rc));
            return s3_error(
                req, r, rc == CAIRN_E_RANGE ? GW_S3_INCOMPLETE_BODY : s3_sink_error(r, rc), NULL);
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
        e = s3_part_commit(r, etag, r->received, cn_wall_ms(), groups, n_groups);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
        s3_etag_header(req, etag);
        return s3_respond(req, r, 200, NULL, NULL, 0);
    }

    if (r->packed)
        e = store_packed(r, etag);
    else
        e = s3_store_new_object(r, etag, is_inline, inline_data, inline_len, groups, n_groups);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    if (r->version_id[0])
        cn_http_resp_header(req, "x-amz-version-id", r->version_id);
    s3_etag_header(req, etag);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

/* ---- GetObject, HeadObject -------------------------------------------- */

/* A streamed GET body: bytes read ahead before the status line, then the
 * rest straight from gw_get_read. */
struct get_stream {
    struct gw_s3 *s3;
    struct gw_get *g;
    char *pre;
    size_t pre_len, pre_off;
    int64_t deadline_us; /* cn_mono_us() past which the body is cut; 0 = none */
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
        /* The record was read when the request began; past
         * --max-get-duration its fragments may be garbage collected (the
         * metadata service's --garbage-grace is longer): cut rather than
         * risk it. Clients resume with a Range request. */
        if (gs->deadline_us && cn_mono_us() > gs->deadline_us) {
            CN_WARN(S3_LOG, "GetObject %s: cut after --max-get-duration", gs->what);
            atomic_fetch_add(&gs->s3->gets_cut, 1);
            return CN_HTTP_READER_ERROR;
        }
        ssize_t got = gw_get_read(gs->g, buf, max);
        if (got == 0)
            return CN_HTTP_READER_END;
        if (got < 0) {
            CN_ERROR(S3_LOG, "GetObject %s: read failed mid-body: %s", gs->what,
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
    const char *v = s3_qarg(r, param);
    if (!v || !*v)
        v = stored;
    if (v && *v)
        cn_http_resp_header(req, name, v);
}

/* ?partNumber of a GET/HEAD into *part: 0 when absent, else 1..10000.
 * Returns 0, or CAIRN_E_INVAL once it has answered the error S3 gives (an
 * invalid number, or a Range sent too). */
static int part_number_arg(struct cn_http_req *req, struct s3_req *r, int *part)
{
    const char *v = s3_qarg(r, "partNumber");
    enum gw_s3err e = GW_S3_OK;
    *part = 0;
    if (!v)
        return 0;
    if (gw_part_number_parse(v, part, &e) != 0) {
        const struct gw_s3err_field f[] = {{"ArgumentName", "partNumber"}, {"ArgumentValue", v}};
        return s3_error_fields(req, r, GW_S3_INVALID_ARGUMENT,
                               gw_s3err_message(GW_S3_TOO_MANY_PARTS), f, 2);
    }
    if (s3_hdr(r, "Range"))
        return s3_error(req, r, GW_S3_INVALID_REQUEST,
                        "Cannot specify both Range header and partNumber query parameter");
    return 0;
}

int s3_part_bytes(const Md__ObjectRecord *rec, int part, uint64_t *off, uint64_t *len)
{
    if (rec->n_part_sizes == 0) {
        if (part != 1)
            return CAIRN_E_RANGE;
        *off = 0;
        *len = rec->size;
        return 0;
    }
    if ((size_t)part > rec->n_part_sizes)
        return CAIRN_E_RANGE;
    *off = 0;
    for (int i = 0; i < part - 1; i++)
        *off += rec->part_sizes[i];
    *len = rec->part_sizes[part - 1];
    return *off + *len <= rec->size ? 0 : CAIRN_E_CORRUPT;
}

/* GetObject and HeadObject (r->op), of the whole object, a Range, or one
 * part (?partNumber). */
int s3_op_get_object(struct cn_http_req *req, struct s3_req *r)
{
    int head = r->op == OP_HEAD_OBJECT;
    int part = 0;
    if (part_number_arg(req, r, &part) != 0)
        return CAIRN_E_INVAL;
    Md__QueryResult *res = NULL;
    struct s3_marker mk;
    const char *vid = s3_version_arg(r);
    enum gw_s3err e = s3_md_get_version(r, r->t.bucket, r->t.key, vid, &res, &mk);
    if (e != GW_S3_OK) {
        /* A delete marker: 404 for the key, 405 when asked for by id. */
        s3_marker_headers(req, &mk, vid != NULL);
        return s3_error(req, r, e, NULL);
    }
    const Md__ObjectRecord *rec = res->object;
    const Md__ObjectAttrs *a = rec->attrs;
    s3_version_headers(req, r, rec);
    char lm[30];
    gw_http_date_format(rec->mtime_ms / 1000, lm);

    struct gw_cond c;
    gw_cond_from_headers(r->hdrs, r->n_hdrs, &c);
    enum gw_s3err ce = gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 1);
    if (ce != GW_S3_OK) {
        s3_etag_header(req, rec->etag);
        cn_http_resp_header(req, "Last-Modified", lm);
        s3_md_query_free(res);
        return s3_error(req, r, ce, NULL);
    }

    struct gw_range range;
    enum gw_range_kind rk = gw_range_parse(s3_hdr(r, "Range"), rec->size, &range);
    char cr[64];
    if (part) {
        /* One part: a range of the object, 206 unless it is empty. */
        uint64_t poff, plen;
        int prc = s3_part_bytes(rec, part, &poff, &plen);
        if (prc == CAIRN_E_RANGE) {
            char want[16], have[24];
            snprintf(want, sizeof(want), "%d", part);
            snprintf(have, sizeof(have), "%zu", rec->n_part_sizes ? rec->n_part_sizes : 1);
            const struct gw_s3err_field f[] = {{"PartNumberRequested", want},
                                               {"ActualPartCount", have}};
            s3_md_query_free(res);
            return s3_error_fields(req, r, GW_S3_INVALID_PART_NUMBER, NULL, f, 2);
        }
        if (prc != 0) {
            s3_md_query_free(res);
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
        }
        rk = GW_RANGE_NONE;
        if (plen > 0) {
            rk = GW_RANGE_PARTIAL;
            range = (struct gw_range){poff, poff + plen - 1};
        }
    }
    if (rk == GW_RANGE_UNSATISFIABLE) {
        gw_content_range_format(NULL, rec->size, cr);
        cn_http_resp_header(req, "Content-Range", cr);
        s3_md_query_free(res);
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

    s3_etag_header(req, rec->etag);
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
            /* non-ASCII text goes back as RFC 2047 words, as S3 sends it */
            struct gw_buf v;
            gw_buf_init(&v, 0);
            gw_meta_value_encode(&v, a->user_meta[i]->value);
            gw_buf_append(&v, "", 1);
            if (gw_buf_error(&v) == 0)
                cn_http_resp_header(req, name, v.data);
            gw_buf_free(&v);
        }
    }
    /* Copied: res is freed before the response is made. */
    char ctype[256];
    const char *ct = s3_qarg(r, "response-content-type");
    if (!ct || !*ct)
        ct = a && a->content_type[0] ? a->content_type : "binary/octet-stream";
    snprintf(ctype, sizeof(ctype), "%s", ct);
    if (a && a->n_tags > 0) {
        char tc[24];
        snprintf(tc, sizeof(tc), "%zu", a->n_tags);
        cn_http_resp_header(req, "x-amz-tagging-count", tc);
    }
    /* S3 sends the parts count only to a request for one part of a
     * multipart object. */
    if (part && rec->n_part_sizes > 0) {
        char pc[24];
        snprintf(pc, sizeof(pc), "%zu", rec->n_part_sizes);
        cn_http_resp_header(req, "x-amz-mp-parts-count", pc);
    }

    int rc;
    if (head || len == 0) {
        r->status = status;
        rc = cn_http_respond_stream(req, status, ctype, (int64_t)len, no_reader, NULL, NULL);
        s3_md_query_free(res);
        return rc;
    }
    struct get_stream *gs = calloc(1, sizeof(*gs));
    if (!gs) {
        s3_md_query_free(res);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    gs->s3 = r->s3;
    if (r->s3->max_get_ms > 0)
        gs->deadline_us = r->start_us + r->s3->max_get_ms * 1000;
    snprintf(gs->what, sizeof(gs->what), "%.40s/%.50s", r->t.bucket, r->t.key);
    /* Direct: each stripe's fragments land in the response's block, which
     * is a stripe long (one copy of each byte instead of two). */
    rc = gw_get_open_direct(r->s3->data, rec, off, len, &gs->g);
    s3_md_query_free(res);
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
    if (rc == CAIRN_E_BUSY) { /* the data-path memory budget is exhausted */
        get_stream_free(gs);
        return s3_error(req, r, GW_S3_SLOW_DOWN, NULL);
    }
    if (rc != 0) {
        CN_ERROR(S3_LOG, "GetObject %s: %s", gs->what, cairn_strerror(rc));
        get_stream_free(gs);
        return s3_error(req, r,
                        rc == CAIRN_E_ERASURES || rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_TIMEOUT
                            ? GW_S3_SERVICE_UNAVAILABLE
                            : GW_S3_INTERNAL_ERROR,
                        rc == CAIRN_E_ERASURES ? "Too many fragments of this object are lost"
                                               : NULL);
    }
    r->status = status;
    return cn_http_respond_stream_block(req, status, ctype, (int64_t)len, gw_get_block(gs->g),
                                        get_reader, gs, get_stream_free);
}

/* ---- DeleteObject, DeleteObjects -------------------------------------- */

/* What a delete did: the version removed or the delete marker made. */
struct delete_outcome {
    char version_id[MD_VERSION_ID_CAP + 8];
    int delete_marker;
};

/* Deletes one key (vid NULL) or one version of it; returns GW_S3_OK or the
 * error, with *out. Deleting a key or version that does not exist succeeds,
 * as in S3 (a retry after a lost answer too), unless a condition was asked
 * for. The object lock is the state machine's to enforce; bypass says the
 * caller may bypass GOVERNANCE retention. */
static enum gw_s3err delete_key(struct s3_req *r, const char *bucket, const char *key,
                                const char *vid, enum md_cond cond, const char *if_match,
                                int bypass, struct delete_outcome *out)
{
    static const struct s3_md_map gone_is_done = {.reason = MD__REASON__R_NO_SUCH_KEY,
                                                  .as = GW_S3_OK};
    memset(out, 0, sizeof(*out));
    struct md_owner_desc owner;
    s3_owner_of(r, &owner);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_delete_version(c.client, c.seq, bucket, key, vid, cond, if_match, bypass,
                                   cn_wall_ms(), &owner, &c.buf, &c.len);
    Md__Result *res = NULL;
    enum gw_s3err e =
        s3_md_command(r, &c, rc, cond == MD_COND_NONE ? &gone_is_done : &s3_md_if_cond, &res);
    if (e == GW_S3_NO_SUCH_VERSION && cond == MD_COND_NONE)
        e = GW_S3_OK;
    if (e == GW_S3_OK && res && res->status == 0) {
        snprintf(out->version_id, sizeof(out->version_id), "%s", res->version_id);
        out->delete_marker = res->delete_marker;
    }
    md_result_free(res);
    return e;
}

int s3_op_delete_object(struct cn_http_req *req, struct s3_req *r)
{
    const char *im = s3_hdr(r, "If-Match");
    char etag[128] = "";
    enum md_cond cond = MD_COND_NONE;
    if (im) {
        cond = MD_COND_IF_MATCH;
        unquote_etag(im, etag, sizeof(etag));
    }
    int bypass = s3_bypass_governance(r, r->ctx ? r->ctx->bucket : NULL, NULL);
    struct delete_outcome o;
    enum gw_s3err e =
        delete_key(r, r->t.bucket, r->t.key, s3_version_arg(r), cond, etag, bypass, &o);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    if (o.version_id[0])
        cn_http_resp_header(req, "x-amz-version-id", o.version_id);
    if (o.delete_marker)
        cn_http_resp_header(req, "x-amz-delete-marker", "true");
    return s3_respond(req, r, 204, NULL, NULL, 0);
}

int s3_op_delete_objects(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_xml_delete_req d;
    enum gw_s3err e = GW_S3_OK;
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_xml_parse_delete(r->body.data, r->body.len, &d, &e) != 0)
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_MALFORMED_XML, NULL);
    /* The bucket, as s3_authorize read it; each key is authorized below. */
    Md__QueryResult *hb = s3_ctx_take(r, r->t.bucket, NULL);
    if (!hb || !hb->bucket) {
        s3_md_query_free(hb);
        gw_xml_delete_req_free(&d);
        return s3_error(req, r, GW_S3_NO_SUCH_BUCKET, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_delete_begin(&b);
    for (size_t i = 0; i < d.n; i++) {
        const char *key = d.keys[i], *vid = d.version_ids[i];
        if (strlen(key) > GW_MAX_KEY || !key[0]) {
            gw_xml_delete_error_version(&b, key, vid,
                                        key[0] ? GW_S3_KEY_TOO_LONG : GW_S3_INVALID_ARGUMENT, NULL);
            continue;
        }
        if (!s3_allowed(r, vid ? GW_ACT_DELETE_OBJECT_VERSION : GW_ACT_DELETE_OBJECT, hb->bucket,
                        key, NULL)) {
            gw_xml_delete_error_version(&b, key, vid, GW_S3_ACCESS_DENIED, NULL);
            continue;
        }
        struct delete_outcome o;
        int bypass = s3_bypass_governance(r, hb->bucket, key);
        e = delete_key(r, r->t.bucket, key, vid, MD_COND_NONE, NULL, bypass, &o);
        if (e != GW_S3_OK)
            gw_xml_delete_error_version(&b, key, vid, e, NULL);
        else if (!d.quiet && (vid || o.delete_marker))
            gw_xml_delete_deleted_version(&b, key, vid, o.delete_marker,
                                          o.version_id[0] ? o.version_id : NULL);
        else if (!d.quiet)
            gw_xml_delete_deleted(&b, key);
    }
    gw_xml_delete_req_free(&d);
    s3_md_query_free(hb);
    s3_respond_xml(req, r, gw_xml_delete_end(&b), &b);
    return 0;
}
