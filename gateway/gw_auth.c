#include "gw_auth.h"

#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_util.h"
#include "gw_data.h"
#include "md_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_auth_key_secret(struct gw_ctx *data, const char *root_ak, const char *root_sk,
                       const char *ak, char *secret, size_t cap, int *admin)
{
    *admin = 0;
    if (root_ak && strcmp(ak, root_ak) == 0) {
        if ((size_t)snprintf(secret, cap, "%s", root_sk) >= cap)
            return CAIRN_E_RANGE;
        *admin = 1;
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
    if (res->status == 0 && res->access_key) {
        if ((size_t)snprintf(secret, cap, "%s", res->access_key->secret) >= cap)
            rc = CAIRN_E_RANGE;
        else
            *admin = res->access_key->admin;
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
