/* gw_s3_auth: who is asking an S3 question. A SigV4 signature checked
 * against the root key of the configuration (the operator) or an access key
 * stored in the metadata service (a user's), or nobody: an unsigned request
 * is anonymous, and s3_authorize decides what anonymous may do (what a
 * public ACL or a policy for "*" allows). */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "gw_auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

/* gw_sigv4's key lookup: every known key, admin or not; who it is goes
 * into the request. */
static int key_lookup(void *ctx, const char *ak, char *secret, size_t cap)
{
    struct s3_req *r = ctx;
    struct gw_s3 *s3 = r->s3;
    if (s3->keys) {
        int rc = gw_keycache_lookup(s3->keys, ak, secret, cap, &r->who);
        /* kept for s3_confirm_key once the signature holds */
        if (rc == 0 && r->who.unconfirmed)
            snprintf(r->key_secret, sizeof(r->key_secret), "%s", secret);
        return rc;
    }
    return gw_auth_key_lookup(s3->data, s3->root_ak, s3->root_sk, ak, secret, cap, &r->who);
}

enum gw_s3err s3_authenticate(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_s3 *s3 = r->s3;
    struct gw_sigv4_request sr;
    memset(&r->who, 0, sizeof(r->who));
    if (gw_auth_request(req, r->hdrs, r->n_hdrs, &sr) != 0)
        return GW_S3_INTERNAL_ERROR;
    if (gw_sigv4_kind_of(&sr) == GW_SIGV4_ANONYMOUS) {
        gw_auth_request_free(&sr);
        memset(&r->auth, 0, sizeof(r->auth));
        r->auth.kind = GW_SIGV4_ANONYMOUS;
        r->auth.payload = GW_SIGV4_PAYLOAD_UNSIGNED;
        return GW_S3_OK;
    }
    enum gw_s3err e = GW_S3_OK;
    int rc = gw_auth_verify(&sr, s3->region, s3->max_skew_s, key_lookup, r, &r->auth, &e);
    gw_auth_request_free(&sr);
    /* On success a key from the gateway's mirror (r->who.unconfirmed) is
     * confirmed later by s3_confirm_key, with the request's own
     * authorization read. */
    if (rc != 0) {
        OPENSSL_cleanse(r->key_secret, sizeof(r->key_secret));
        memset(&r->who, 0, sizeof(r->who));
        CN_INFO(S3_LOG, "%s %s: auth failed: %s", cn_http_req_method(req), cn_http_req_path(req),
                gw_s3err_code(e));
        return e != GW_S3_OK ? e : GW_S3_ACCESS_DENIED;
    }
    return GW_S3_OK;
}

enum gw_s3err s3_confirm_key(struct s3_req *r, const Md__QueryResult *res)
{
    if (!r->who.unconfirmed)
        return GW_S3_OK;
    struct gw_s3 *s3 = r->s3;
    int rc = gw_keycache_confirm_from(s3->keys, res, r->key_secret, &r->who);
    if (rc == CAIRN_E_UNSUPPORTED) /* no read of the caller in res: one of its own */
        rc = gw_keycache_confirm(s3->keys, r->auth.access_key, r->key_secret, &r->who);
    OPENSSL_cleanse(r->key_secret, sizeof(r->key_secret));
    if (rc == 0)
        return GW_S3_OK;
    CN_INFO(S3_LOG, "%s %s: key %s: %s", cn_http_req_method(r->req), cn_http_req_path(r->req),
            r->auth.access_key,
            rc == CAIRN_E_NOTFOUND ? "disabled or deleted" : cairn_strerror(rc));
    memset(&r->who, 0, sizeof(r->who));
    gw_sigv4_result_wipe(&r->auth);
    return rc == CAIRN_E_NOTFOUND ? GW_S3_INVALID_ACCESS_KEY_ID : GW_S3_SERVICE_UNAVAILABLE;
}
