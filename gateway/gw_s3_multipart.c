/* gw_s3_multipart: multipart uploads. CreateMultipartUpload,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads, and the upload side of UploadPart / UploadPartCopy
 * (their bytes stream through gw_s3_object.c and gw_s3_copy.c). Part rules
 * (order, ETags, minimum size) are the state machine's. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gw_s3err s3_part_prepare(struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    if (gw_part_number_parse(s3_qarg(r, "partNumber"), &r->part_number, &e) != 0)
        return e;
    Md__QueryResult *res = NULL;
    e = s3_md_get_upload(r, 0, 0, &res);
    if (e != GW_S3_OK)
        return e;
    const Md__ObjectAttrs *ua = res->list_parts->upload->attrs;
    e = s3_scheme_from_class(r, ua ? ua->storage_class : NULL);
    s3_md_query_free(res);
    return e;
}

enum gw_s3err s3_part_commit(struct s3_req *r, const char *etag, uint64_t size, int64_t mtime_ms,
                             const struct md_group_desc *groups, size_t n_groups)
{
    struct s3_md_cmd c;
    r->commit_tried = 1;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_part(c.client, c.seq, r->t.bucket, r->t.key, s3_qarg(r, "uploadId"),
                             (uint32_t)r->part_number, etag, size, mtime_ms, groups, n_groups,
                             &c.buf, &c.len);
    return s3_md_command(r, &c, rc, NULL, NULL);
}

int s3_op_create_multipart(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = s3_scheme_from_class(r, s3_hdr(r, "x-amz-storage-class"));
    if (e == GW_S3_OK && gw_meta_collect(r->hdrs, r->n_hdrs, &r->meta, &e) == 0)
        r->have_meta = 1;
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    uint8_t raw[16];
    char upload_id[33];
    if (cn_random_bytes(raw, sizeof(raw)) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    cn_hex_encode(raw, sizeof(raw), upload_id);
    struct s3_attrs ab;
    e = s3_attrs_from_request(r, &ab);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct md_owner_desc owner;
    s3_owner_of(r, &owner);
    owner.acl = r->new_acl;
    owner.acl_len = r->new_acl_len;
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_create_upload_locked(c.client, c.seq, r->t.bucket, r->t.key, upload_id, &owner,
                                         &ab.a, &r->lock, cn_wall_ms(), &c.buf, &c.len);
    s3_attrs_release(&ab);
    e = s3_md_command(r, &c, rc, NULL, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    s3_respond_xml(req, r, gw_xml_initiate_multipart(&b, r->t.bucket, r->t.key, upload_id), &b);
    return 0;
}

int s3_op_complete_multipart(struct cn_http_req *req, struct s3_req *r)
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
    enum md_cond cond = s3_write_cond(r, if_match, sizeof(if_match));
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_complete_upload(c.client, c.seq, r->t.bucket, r->t.key, s3_qarg(r, "uploadId"),
                                    refs, n, cond, if_match, cn_wall_ms(), &c.buf, &c.len);
    free(refs);
    free(parts);
    Md__Result *res = NULL;
    e = s3_md_command(r, &c, rc, cond != MD_COND_NONE ? &s3_md_if_cond : NULL, &res);
    if (e != GW_S3_OK) {
        if (res)
            CN_INFO(S3_LOG, "CompleteMultipartUpload %s/%s: %s (%s)", r->t.bucket, r->t.key,
                    gw_s3err_code(e), res->detail);
        md_result_free(res);
        return s3_error(req, r, e, NULL);
    }
    char etag[80];
    snprintf(etag, sizeof(etag), "%s", res->etag);
    if (res->version_id[0])
        cn_http_resp_header(req, "x-amz-version-id", res->version_id);
    md_result_free(res);
    char location[GW_MAX_BUCKET_NAME + GW_MAX_KEY + 4];
    snprintf(location, sizeof(location), "/%s/%s", r->t.bucket, r->t.key);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    atomic_fetch_add(&r->s3->objects_put, 1);
    s3_respond_xml(req, r, gw_xml_complete_multipart(&b, location, r->t.bucket, r->t.key, etag),
                   &b);
    return 0;
}

int s3_op_abort_multipart(struct cn_http_req *req, struct s3_req *r)
{
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_abort_upload(c.client, c.seq, r->t.bucket, r->t.key, s3_qarg(r, "uploadId"),
                                 &c.buf, &c.len);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_upload, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}

int s3_op_list_parts(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    long marker, max_parts;
    if (gw_query_int(&r->q, "part-number-marker", 0, 0, 10000, &marker, &e) != 0 ||
        gw_query_int(&r->q, "max-parts", 1000, 0, 1000, &max_parts, &e) != 0)
        return s3_error(req, r, e, NULL);
    Md__QueryResult *res = NULL;
    e = s3_md_get_upload(r, (uint32_t)marker, (uint32_t)max_parts, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ListPartsR *lp = res->list_parts;
    const Md__UploadRecord *u = lp->upload;
    struct gw_xml_owner owner = {u->owner_id[0] ? u->owner_id : GW_AUTH_OPERATOR_ID,
                                 u->owner[0] ? u->owner : GW_AUTH_OPERATOR_NAME};
    const char *sc = u->attrs && u->attrs->storage_class[0] ? u->attrs->storage_class : "STANDARD";
    struct gw_xml_parts p = {.bucket = r->t.bucket,
                             .key = r->t.key,
                             .upload_id = s3_qarg(r, "uploadId"),
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
    s3_respond_xml(req, r, gw_xml_parts_end(&b), &b);
    s3_md_query_free(res);
    return 0;
}

int s3_op_list_uploads(struct cn_http_req *req, struct s3_req *r)
{
    struct s3_list_args la;
    enum gw_s3err e = s3_list_args(r, "max-uploads", &la);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const char *key_marker = s3_qarg(r, "key-marker"), *uid_marker = s3_qarg(r, "upload-id-marker");
    e = s3_md_head_bucket(r, r->t.bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    uint8_t *q = NULL;
    size_t qlen = 0;
    int rc = md_q_list_uploads(r->t.bucket, la.prefix, la.delimiter, key_marker, uid_marker,
                               (uint32_t)la.max, &q, &qlen);
    Md__QueryResult *res = NULL;
    e = s3_md_query(r, rc, q, qlen, NULL, &res);
    if (e == GW_S3_OK && !res->list_uploads)
        e = s3_md_no_record(&res, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__ListUploadsR *lu = res->list_uploads;
    struct gw_xml_uploads u = {.encode_url = la.encode_url,
                               .bucket = r->t.bucket,
                               .key_marker = key_marker ? key_marker : "",
                               .upload_id_marker = uid_marker ? uid_marker : "",
                               .next_key_marker = lu->next_key_marker,
                               .next_upload_id_marker = lu->next_upload_id_marker,
                               .prefix = la.prefix ? la.prefix : "",
                               .delimiter = la.delimiter,
                               .max_uploads = (int)la.max,
                               .is_truncated = lu->truncated};
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_uploads_begin(&b, &u);
    for (size_t i = 0; i < lu->n_uploads; i++) {
        const Md__UploadRecord *ur = lu->uploads[i];
        struct gw_xml_owner owner = {ur->owner_id[0] ? ur->owner_id : GW_AUTH_OPERATOR_ID,
                                     ur->owner[0] ? ur->owner : GW_AUTH_OPERATOR_NAME};
        const char *sc =
            ur->attrs && ur->attrs->storage_class[0] ? ur->attrs->storage_class : "STANDARD";
        gw_xml_uploads_add(&b, &u, ur->key, ur->upload_id, ur->initiated_ms, sc, &owner);
    }
    for (size_t i = 0; i < lu->n_common_prefixes; i++)
        gw_xml_uploads_add_prefix(&b, &u, lu->common_prefixes[i]);
    s3_respond_xml(req, r, gw_xml_uploads_end(&b, &u), &b);
    s3_md_query_free(res);
    return 0;
}
