#include "gw_auth.h"

#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_util.h"
#include "gw_data.h"
#include "md_cmd.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hex(SHA-256("cairn:user:" name)): the canonical id of a key's owner that
 * has no user record (keys made before users existed). */
static void derived_id(const char *name, char out[72])
{
    unsigned char md[32];
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, "cairn:user:", 11);
    EVP_DigestUpdate(m, name, strlen(name));
    EVP_DigestFinal_ex(m, md, NULL);
    EVP_MD_CTX_free(m);
    cn_hex_encode(md, 32, out);
}

void gw_auth_identity_of(const Md__AccessKeyRecord *k, const Md__UserRecord *u,
                         struct gw_auth_identity *who)
{
    memset(who, 0, sizeof(*who));
    who->admin = k->admin;
    snprintf(who->user, sizeof(who->user), "%s", k->owner ? k->owner : "");
    if (u && u->canonical_id && u->canonical_id[0])
        snprintf(who->canonical_id, sizeof(who->canonical_id), "%s", u->canonical_id);
    else
        derived_id(k->owner ? k->owner : "", who->canonical_id);
}

int gw_auth_key_lookup(struct gw_ctx *data, const char *root_ak, const char *root_sk,
                       const char *ak, char *secret, size_t cap, struct gw_auth_identity *who)
{
    memset(who, 0, sizeof(*who));
    if (root_ak && strcmp(ak, root_ak) == 0) {
        if ((size_t)snprintf(secret, cap, "%s", root_sk) >= cap)
            return CAIRN_E_RANGE;
        who->is_operator = who->admin = 1;
        snprintf(who->canonical_id, sizeof(who->canonical_id), "%s", GW_AUTH_OPERATOR_ID);
        return 0;
    }
    uint8_t *q = NULL;
    size_t qlen = 0;
    if (md_q_get_access_key(ak, &q, &qlen) != 0)
        return CAIRN_E_NOMEM;
    Md__QueryResult *res = NULL;
    int rc = gw_ctx_query(data, q, qlen, &res);
    if (rc != 0)
        return rc;
    if (res->status == 0 && res->access_key && res->access_key->disabled) {
        rc = CAIRN_E_NOTFOUND;
    } else if (res->status == 0 && res->access_key) {
        const Md__AccessKeyRecord *k = res->access_key;
        if ((size_t)snprintf(secret, cap, "%s", k->secret) >= cap)
            rc = CAIRN_E_RANGE;
        else
            gw_auth_identity_of(k, res->user, who);
    } else if (res->status != 0 && res->status != CAIRN_E_NOTFOUND &&
               res->reason != MD__REASON__R_NO_SUCH_ACCESS_KEY) {
        rc = res->status;
    } else {
        rc = CAIRN_E_NOTFOUND;
    }
    md__query_result__free_unpacked(res, NULL);
    return rc;
}

int gw_auth_request(struct cn_http_req *req, const struct gw_header *h, size_t n,
                    struct gw_sigv4_request *out)
{
    const char *target = cn_http_req_target(req);
    const char *qm = strchr(target, '?');
    char *raw_path = strndup(target, qm ? (size_t)(qm - target) : strlen(target));
    if (!raw_path)
        return CAIRN_E_NOMEM;
    *out = (struct gw_sigv4_request){.method = cn_http_req_method(req),
                                     .raw_path = raw_path,
                                     .raw_query = cn_http_req_query(req),
                                     .headers = h,
                                     .n_headers = n};
    return 0;
}

void gw_auth_request_free(struct gw_sigv4_request *sr)
{
    free((char *)sr->raw_path);
    sr->raw_path = NULL;
}

int gw_auth_verify(const struct gw_sigv4_request *sr, const char *region, int64_t max_skew_s,
                   gw_sigv4_lookup_fn lookup, void *lookup_ctx, struct gw_sigv4_result *res,
                   enum gw_s3err *err)
{
    struct gw_sigv4_config sc = {.region = region,
                                 .service = "s3",
                                 .max_skew_s = max_skew_s,
                                 .require_content_sha256 = 0,
                                 .lookup = lookup,
                                 .lookup_ctx = lookup_ctx};
    return gw_sigv4_verify(&sc, sr, cn_wall_s(), res, err);
}
