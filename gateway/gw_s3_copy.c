/* gw_s3_copy: server-side copies. CopyObject and UploadPartCopy read the
 * source's bytes (degraded reads included) and write them as new chunk
 * groups, so a copy shares nothing with its source; inline sources are
 * copied inline. Memory: two buffers plus the data path's stripes. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_xml.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    rc = gw_ctx_mem_take(r->s3->data, 2 * COPY_BUF);
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
    gw_ctx_mem_give(r->s3->data, 2 * COPY_BUF);
    return rc;
}

/* Looks up a copy source (x-amz-copy-source), checks that the caller may
 * read it (s3:GetObject on the source, the same rules as a GET) and the
 * x-amz-copy-source-if-* conditions. Returns GW_S3_OK with *out (free with
 * s3_md_query_free) or the error. */
static enum gw_s3err copy_source(struct s3_req *r, struct gw_copy_source *src,
                                 Md__QueryResult **out)
{
    enum gw_s3err e = GW_S3_OK;
    if (gw_copy_source_parse(s3_hdr(r, "x-amz-copy-source"), src, &e) != 0)
        return e;
    /* A version of the source (?versionId= in the header): s3:GetObjectVersion. */
    const char *vid = src->version_id[0] ? src->version_id : NULL;
    Md__QueryResult *res = NULL;
    e = s3_md_get_version_and_bucket(r, src->bucket, src->key, vid, &res);
    if (e != GW_S3_OK)
        return e;
    const Md__ObjectRecord *rec = res->object;
    if (!s3_allowed(r, vid ? GW_ACT_GET_OBJECT_VERSION : GW_ACT_GET_OBJECT, res->bucket, src->key,
                    rec)) {
        s3_md_query_free(res);
        return GW_S3_ACCESS_DENIED;
    }
    if (!rec) {
        /* Missing: NoSuchKey (NoSuchVersion; InvalidRequest for a delete
         * marker named by id, as S3) only to who may list the source bucket. */
        int may_list = s3_allowed(r, GW_ACT_LIST_BUCKET, res->bucket, NULL, NULL);
        s3_md_query_free(res);
        if (!may_list)
            return GW_S3_ACCESS_DENIED;
        if (!vid)
            return GW_S3_NO_SUCH_KEY;
        Md__QueryResult *probe = NULL;
        struct s3_marker m;
        e = s3_md_get_version(r, src->bucket, src->key, vid, &probe, &m);
        s3_md_query_free(probe);
        return m.found ? GW_S3_INVALID_REQUEST : e != GW_S3_OK ? e : GW_S3_NO_SUCH_VERSION;
    }
    /* Evaluated like GET conditions, but a failure is always 412. */
    struct gw_cond c = {s3_hdr(r, "x-amz-copy-source-if-match"),
                        s3_hdr(r, "x-amz-copy-source-if-none-match"),
                        s3_hdr(r, "x-amz-copy-source-if-modified-since"),
                        s3_hdr(r, "x-amz-copy-source-if-unmodified-since")};
    if (gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 0) != GW_S3_OK ||
        (c.if_modified_since && gw_cond_eval(&c, 1, rec->etag, rec->mtime_ms, 1) != GW_S3_OK)) {
        s3_md_query_free(res);
        return GW_S3_PRECONDITION_FAILED;
    }
    *out = res;
    return GW_S3_OK;
}

/* UploadPartCopy: a range of an existing object becomes a part. */
int s3_op_upload_part_copy(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = s3_part_prepare(r);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_copy_source src;
    Md__QueryResult *res = NULL;
    e = copy_source(r, &src, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ObjectRecord *rec = res->object;
    struct gw_range range = {0, rec->size ? rec->size - 1 : 0};
    const char *rh = s3_hdr(r, "x-amz-copy-source-range");
    int rrc = rh ? gw_copy_source_range_parse(rh, rec->size, &range, &e) : 0;
    if (rrc == CAIRN_E_RANGE) {
        /* A range past the source: 416 InvalidRange, as issue #13 and the
         * s3-tests suite (test_multipart_copy_invalid_range) expect, with
         * the message AWS gives. */
        char msg[96];
        snprintf(msg, sizeof(msg), "Range specified is not valid for source object of size: %llu",
                 (unsigned long long)rec->size);
        s3_md_query_free(res);
        return s3_error(req, r, GW_S3_INVALID_RANGE, msg);
    }
    if (rrc != 0) {
        /* A malformed range: 400 InvalidArgument naming the header and its value */
        const struct gw_s3err_field f[] = {{"ArgumentName", "x-amz-copy-source-range"},
                                           {"ArgumentValue", rh}};
        s3_md_query_free(res);
        return s3_error_fields(req, r, e, GW_COPY_RANGE_MALFORMED, f, 2);
    }
    uint64_t len = rec->size ? range.last - range.first + 1 : 0;
    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    int rc = copy_range(r, rec, range.first, len, md5, &groups, &n_groups);
    s3_md_query_free(res);
    if (rc != 0) {
        CN_WARN(S3_LOG, "UploadPartCopy %s/%s: %s", r->t.bucket, r->t.key, cairn_strerror(rc));
        return s3_error(req, r, s3_sink_error(r, rc), NULL);
    }
    char etag[33];
    cn_hex_encode(md5, 16, etag);
    int64_t mtime = cn_wall_ms();
    e = s3_part_commit(r, etag, len, mtime, groups, n_groups);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    s3_respond_xml(req, r, gw_xml_copy_part_result(&b, mtime, etag), &b);
    return 0;
}

/* The new object's attributes: the request's (REPLACE) or the source's
 * (COPY), with the storage class of the request or else the source's. *kv
 * is what ab's user metadata points to in a COPY (free() it). */
static enum gw_s3err copy_attrs(struct s3_req *r, int replace, const Md__ObjectRecord *rec,
                                struct s3_attrs *ab, struct md_meta_kv **kv)
{
    memset(ab, 0, sizeof(*ab));
    *kv = NULL;
    const char *cls = s3_hdr(r, "x-amz-storage-class");
    if (!cls && rec->attrs && rec->attrs->storage_class[0])
        cls = rec->attrs->storage_class;
    enum gw_s3err e = s3_scheme_from_class(r, cls);
    if (e != GW_S3_OK)
        return e;
    if (replace) {
        if (gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) != 0)
            return e;
        r->have_meta = 1;
        return s3_attrs_from_request(r, ab);
    }
    const Md__ObjectAttrs *a = rec->attrs;
    size_t nm = a ? a->n_user_meta : 0;
    struct md_meta_kv *src_kv = calloc(nm + 1, sizeof(*src_kv));
    if (!src_kv)
        e = GW_S3_INTERNAL_ERROR;
    for (size_t i = 0; src_kv && i < nm; i++)
        src_kv[i] = (struct md_meta_kv){a->user_meta[i]->name, a->user_meta[i]->value};
    if (a)
        ab->a = (struct md_attrs_desc){.content_type = a->content_type,
                                       .content_encoding = a->content_encoding,
                                       .content_disposition = a->content_disposition,
                                       .cache_control = a->cache_control,
                                       .expires = a->expires,
                                       .content_language = a->content_language,
                                       .user_meta = src_kv,
                                       .n_user_meta = nm};
    ab->a.storage_class = r->sc ? r->sc->name : "";
    *kv = src_kv;
    return e;
}

/* CopyObject: the source's bytes are copied into new chunk groups under the
 * target key (or its inline data into the new record). */
int s3_op_copy_object(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_copy_source src;
    enum gw_s3err e = GW_S3_OK;
    int replace = 0;
    if (gw_metadata_directive_parse(s3_hdr(r, "x-amz-metadata-directive"), &replace, &e) != 0 ||
        gw_copy_source_parse(s3_hdr(r, "x-amz-copy-source"), &src, &e) != 0)
        return s3_error(req, r, e, NULL);
    /* (A version copied over its own key is a restore, which S3 allows.) */
    if (!replace && !src.version_id[0] && strcmp(src.bucket, r->t.bucket) == 0 &&
        strcmp(src.key, r->t.key) == 0)
        return s3_error(req, r, GW_S3_INVALID_REQUEST,
                        "This copy request is illegal because it is trying to copy an object "
                        "to itself without changing the object's metadata, storage class, "
                        "website redirect location or encryption attributes.");
    e = s3_md_head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    Md__QueryResult *res = NULL;
    e = copy_source(r, &src, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ObjectRecord *rec = res->object;

    struct s3_attrs ab;
    struct md_meta_kv *src_kv = NULL;
    struct md_tag *src_tags = NULL;
    char etag[80] = "";
    int64_t mtime = 0;
    e = copy_attrs(r, replace, rec, &ab, &src_kv);
    if (e == GW_S3_OK) /* x-amz-tagging-directive, whatever the metadata one */
        e = s3_tags_for_copy(r, rec, &ab, &src_tags);
    if (e != GW_S3_OK)
        goto out;

    uint8_t md5[16];
    const struct md_group_desc *groups = NULL;
    size_t n_groups = 0;
    mtime = cn_wall_ms();
    struct md_object_desc obj = {.size = rec->size, .etag = etag, .mtime_ms = mtime, .attrs = ab.a};
    if (rec->has_inline) {
        snprintf(etag, sizeof(etag), "%s", rec->etag);
        obj.has_inline = 1;
        obj.inline_data = rec->inline_data.data;
        obj.inline_len = rec->inline_data.len;
    } else {
        int rc = copy_range(r, rec, 0, rec->size, md5, &groups, &n_groups);
        if (rc != 0) {
            CN_WARN(S3_LOG, "CopyObject %s/%s -> %s/%s: %s", src.bucket, src.key, r->t.bucket,
                    r->t.key, cairn_strerror(rc));
            e = s3_sink_error(r, rc);
            goto out;
        }
        cn_hex_encode(md5, 16, etag);
        obj.groups = groups;
        obj.n_groups = n_groups;
    }
    e = s3_commit_object(r, r->t.bucket, r->t.key, &obj);
    if (e == GW_S3_OK && (rec->vseq || rec->null_version || src.version_id[0])) {
        char svid[MD_VERSION_ID_CAP];
        md_version_id_of(rec, svid);
        cn_http_resp_header(req, "x-amz-copy-source-version-id", svid);
    }
    if (e == GW_S3_OK && r->version_id[0])
        cn_http_resp_header(req, "x-amz-version-id", r->version_id);
out:
    free(src_kv);
    free(src_tags);
    s3_attrs_release(&ab);
    s3_md_query_free(res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    atomic_fetch_add(&r->s3->objects_put, 1);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    s3_respond_xml(req, r, gw_xml_copy_object_result(&b, mtime, etag), &b);
    return 0;
}
