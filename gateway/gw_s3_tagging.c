/* gw_s3_tagging: object and bucket tagging. Tag sets are replicated state
 * (ObjectAttrs.tags, BucketRecord.tags) and each Put/Delete is one
 * state-machine command replacing the set whole; the rules are gw_tagging's.
 * Also the x-amz-tagging header of the writes that create an object and
 * the x-amz-tagging-directive of CopyObject. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum gw_s3err s3_tags_from_header(struct s3_req *r, const char **msg)
{
    const char *h = s3_hdr(r, "x-amz-tagging");
    *msg = NULL;
    if (!h)
        return GW_S3_OK;
    enum gw_s3err e = GW_S3_OK;
    gw_tags_free(&r->req_tags);
    if (gw_tags_parse_header(h, &r->req_tags, &e, msg) != 0)
        return e;
    r->have_req_tags = 1;
    return GW_S3_OK;
}

int s3_tags_view(const Md__ObjectAttrs *a, struct md_tag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a || a->n_tags == 0)
        return 0;
    struct md_tag *t = calloc(a->n_tags, sizeof(*t));
    if (!t)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < a->n_tags; i++)
        t[i] = (struct md_tag){a->tags[i]->key, a->tags[i]->value};
    *out = t;
    *n = a->n_tags;
    return 0;
}

enum gw_s3err s3_tags_for_copy(struct s3_req *r, const Md__ObjectRecord *src, struct s3_attrs *ab,
                               struct md_tag **owned)
{
    *owned = NULL;
    const char *d = s3_hdr(r, "x-amz-tagging-directive");
    if (d && strcasecmp(d, "REPLACE") == 0) {
        ab->a.tags = r->req_tags.tags;
        ab->a.n_tags = r->req_tags.n;
        return GW_S3_OK;
    }
    if (d && strcasecmp(d, "COPY") != 0)
        return GW_S3_INVALID_ARGUMENT;
    size_t n = 0;
    if (s3_tags_view(src->attrs, owned, &n) != 0)
        return GW_S3_INTERNAL_ERROR;
    ab->a.tags = *owned;
    ab->a.n_tags = n;
    return GW_S3_OK;
}

/* ---- object tagging ------------------------------------------------------ */

int s3_op_get_object_tagging(struct cn_http_req *req, struct s3_req *r)
{
    const char *vid = s3_version_arg(r);
    Md__QueryResult *res = vid ? NULL : s3_ctx_take(r, r->t.bucket, r->t.key);
    enum gw_s3err e = GW_S3_OK;
    if (!res)
        e = s3_md_get_version(r, r->t.bucket, r->t.key, vid, &res, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    if (vid)
        cn_http_resp_header(req, "x-amz-version-id", vid);
    struct md_tag *tags;
    size_t n;
    int rc = s3_tags_view(res->object->attrs, &tags, &n);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    if (rc == 0)
        rc = gw_tags_xml(&b, tags, n);
    free(tags);
    s3_md_query_free(res);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

/* Replaces the tag set of r's object with tags[n]. */
static enum gw_s3err set_object_tags(struct s3_req *r, const struct md_tag *tags, size_t n)
{
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_object_tagging_version(c.client, c.seq, r->t.bucket, r->t.key,
                                               s3_version_arg(r), tags, n, &c.buf, &c.len);
    return s3_md_command(r, &c, rc, &s3_md_key, NULL);
}

/* PutObjectTagging: authorized here, once the body says which tags it sets
 * (they are the s3:RequestObjectTag/<key> condition keys). */
int s3_op_put_object_tagging(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    const char *msg = NULL;
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_tags_parse_xml(r->body.data, r->body.len, GW_TAGS_OBJECT, &r->req_tags, &e, &msg) != 0)
        return s3_error(req, r, e, msg);
    r->have_req_tags = 1;
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (!b)
        return s3_error(req, r, GW_S3_NO_SUCH_BUCKET, NULL);
    const char *vid = s3_version_arg(r);
    if (!s3_allowed(r, vid ? GW_ACT_PUT_OBJECT_VERSION_TAGGING : GW_ACT_PUT_OBJECT_TAGGING, b,
                    r->t.key, r->ctx->object))
        return s3_error(req, r, GW_S3_ACCESS_DENIED, NULL);
    e = set_object_tags(r, r->req_tags.tags, r->req_tags.n);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    if (vid)
        cn_http_resp_header(req, "x-amz-version-id", vid);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

int s3_op_delete_object_tagging(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = set_object_tags(r, NULL, 0);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    if (s3_version_arg(r))
        cn_http_resp_header(req, "x-amz-version-id", s3_version_arg(r));
    return s3_respond(req, r, 204, NULL, NULL, 0);
}

/* ---- bucket tagging ------------------------------------------------------ */

int s3_op_get_bucket_tagging(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = s3_ctx_take(r, r->t.bucket, NULL);
    enum gw_s3err e = GW_S3_OK;
    if (!res)
        e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__BucketRecord *bk = res->bucket;
    if (!bk || bk->n_tags == 0) {
        s3_md_query_free(res);
        return s3_error(req, r, bk ? GW_S3_NO_SUCH_TAG_SET : GW_S3_NO_SUCH_BUCKET, NULL);
    }
    struct md_tag *tags = calloc(bk->n_tags, sizeof(*tags));
    struct gw_buf b;
    gw_buf_init(&b, 0);
    int rc = CAIRN_E_NOMEM;
    if (tags) {
        for (size_t i = 0; i < bk->n_tags; i++)
            tags[i] = (struct md_tag){bk->tags[i]->key, bk->tags[i]->value};
        rc = gw_tags_xml(&b, tags, bk->n_tags);
    }
    free(tags);
    s3_md_query_free(res);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

static enum gw_s3err set_bucket_tags(struct s3_req *r, const struct md_tag *tags, size_t n)
{
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_bucket_tagging(c.client, c.seq, r->t.bucket, tags, n, &c.buf, &c.len);
    return s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
}

int s3_op_put_bucket_tagging(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = GW_S3_OK;
    const char *msg = NULL;
    struct gw_tags t;
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_tags_parse_xml(r->body.data, r->body.len, GW_TAGS_BUCKET, &t, &e, &msg) != 0)
        return s3_error(req, r, e, msg);
    e = set_bucket_tags(r, t.tags, t.n);
    gw_tags_free(&t);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}

int s3_op_delete_bucket_tagging(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = set_bucket_tags(r, NULL, 0);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}
