/* gw_s3_auth: who is asking an S3 question. A SigV4 signature checked
 * against the root key of the configuration or an access key stored in the
 * metadata service (gw_auth), or an anonymous read of a bucket created
 * public-read. */
#include "gw_s3_int.h"

#include "cn_log.h"
#include "gw_auth.h"

#include <string.h>

/* gw_sigv4's key lookup: every known key, admin or not. */
static int key_lookup(void *ctx, const char *ak, char *secret, size_t cap)
{
    struct gw_s3 *s3 = ctx;
    int admin;
    return gw_auth_key_secret(s3->data, s3->root_ak, s3->root_sk, ak, secret, cap, &admin);
}

/* An anonymous request may read (GET/HEAD objects, list) a bucket created
 * public-read (x-amz-acl: public-read); everything else needs a signature. */
static int public_read_allowed(struct s3_req *r)
{
    if (r->op != OP_GET_OBJECT && r->op != OP_HEAD_OBJECT && r->op != OP_LIST_OBJECTS &&
        r->op != OP_LIST_OBJECTS_V2 && r->op != OP_HEAD_BUCKET)
        return 0;
    Md__QueryResult *hb = NULL;
    int ok =
        s3_md_head_bucket(r, r->t.bucket, &hb) == GW_S3_OK && hb->bucket && hb->bucket->public_read;
    s3_md_query_free(hb);
    return ok;
}

enum gw_s3err s3_authenticate(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_s3 *s3 = r->s3;
    struct gw_sigv4_request sr;
    if (gw_auth_request(req, r->hdrs, r->n_hdrs, &sr) != 0)
        return GW_S3_INTERNAL_ERROR;
    if (gw_sigv4_kind_of(&sr) == GW_SIGV4_ANONYMOUS && public_read_allowed(r)) {
        /* Reads of a public-read bucket need no signature. */
        gw_auth_request_free(&sr);
        memset(&r->auth, 0, sizeof(r->auth));
        r->auth.kind = GW_SIGV4_ANONYMOUS;
        r->auth.payload = GW_SIGV4_PAYLOAD_UNSIGNED;
        return GW_S3_OK;
    }
    enum gw_s3err e = GW_S3_OK;
    int rc = gw_auth_verify(&sr, s3->region, s3->max_skew_s, key_lookup, s3, &r->auth, &e);
    gw_auth_request_free(&sr);
    if (rc != 0) {
        CN_INFO(S3_LOG, "%s %s: auth failed: %s", cn_http_req_method(req), cn_http_req_path(req),
                gw_s3err_code(e));
        return e != GW_S3_OK ? e : GW_S3_ACCESS_DENIED;
    }
    return GW_S3_OK;
}
