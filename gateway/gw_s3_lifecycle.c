/* gw_s3_lifecycle: Put/Get/DeleteBucketLifecycleConfiguration. The
 * configuration is replicated state (BucketRecord.lifecycle), replaced whole
 * by one command; the metadata leader's worker applies it
 * (metadata/md_lifecycle.h). */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_util.h"
#include "gw_lifecycle.h"

#include <stdlib.h>
#include <string.h>

int s3_op_get_bucket_lifecycle(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = s3_ctx_take(r, r->t.bucket, NULL);
    enum gw_s3err e = GW_S3_OK;
    if (!res)
        e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__BucketRecord *bk = res->bucket;
    if (!bk || !bk->lifecycle || bk->lifecycle->n_rules == 0) {
        s3_md_query_free(res);
        return s3_error(req, r, bk ? GW_S3_NO_SUCH_LIFECYCLE_CONFIGURATION : GW_S3_NO_SUCH_BUCKET,
                        NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    int rc = gw_lifecycle_xml(&b, bk->lifecycle);
    s3_md_query_free(res);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

/* Stores lc (NULL: deletes the configuration). */
static enum gw_s3err set_lifecycle(struct s3_req *r, const Md__LifecycleConfig *lc)
{
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_bucket_lifecycle(c.client, c.seq, r->t.bucket, lc, &c.buf, &c.len);
    return s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
}

/* A rule without an ID gets one, as S3 gives: random, 48 characters. */
static int give_ids(Md__LifecycleConfig *lc)
{
    for (size_t i = 0; i < lc->n_rules; i++) {
        if (lc->rules[i]->id[0])
            continue;
        unsigned char raw[24];
        char *id = malloc(49);
        if (!id || cn_random_bytes(raw, sizeof(raw)) != 0) {
            free(id);
            return CAIRN_E_NOMEM;
        }
        cn_hex_encode(raw, sizeof(raw), id);
        free(lc->rules[i]->id);
        lc->rules[i]->id = id;
    }
    return 0;
}

int s3_op_put_bucket_lifecycle(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_lifecycle lc;
    enum gw_s3err e = GW_S3_OK;
    char msg[GW_LC_MSG_MAX];
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_lifecycle_parse_xml(r->body.data, r->body.len, &lc, &e, msg) != 0)
        return s3_error(req, r, e, msg[0] ? msg : NULL);
    e = give_ids(&lc.cfg) == 0 ? set_lifecycle(r, &lc.cfg) : GW_S3_INTERNAL_ERROR;
    gw_lifecycle_free(&lc);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

int s3_op_delete_bucket_lifecycle(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = set_lifecycle(r, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}
