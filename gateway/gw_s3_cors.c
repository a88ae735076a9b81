/* gw_s3_cors: a bucket's CORS configuration (Put/Get/DeleteBucketCors), the
 * preflight OPTIONS request answered from it without authentication (as S3
 * does: a browser sends no credentials with a preflight), and the CORS
 * headers of the actual requests a rule allows, errors included. The rules
 * live in the bucket record, which every request reads anyway to authorize
 * itself, so they need no cache: the metadata is the one source of truth. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "gw_cors.h"

#include <stdlib.h>
#include <string.h>

/* A view of a stored configuration (nothing copied; rules array
 * malloc'ed: free() it). Returns 0, CAIRN_E_NOTFOUND (none) or
 * CAIRN_E_NOMEM. */
static int cors_view(const Md__BucketRecord *b, struct gw_cors *v)
{
    memset(v, 0, sizeof(*v));
    if (!b || !b->cors || b->cors->n_rules == 0)
        return CAIRN_E_NOTFOUND;
    v->rules = calloc(b->cors->n_rules, sizeof(*v->rules));
    if (!v->rules)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < b->cors->n_rules; i++) {
        const Md__CorsRule *c = b->cors->rules[i];
        v->rules[i] = (struct gw_cors_rule){
            .id = c->id,
            .origins = c->allowed_origins,
            .n_origins = c->n_allowed_origins,
            .methods = c->allowed_methods,
            .n_methods = c->n_allowed_methods,
            .headers = c->allowed_headers,
            .n_headers = c->n_allowed_headers,
            .expose = c->expose_headers,
            .n_expose = c->n_expose_headers,
            .max_age = c->has_max_age ? (int64_t)c->max_age_seconds : -1,
        };
    }
    v->n = b->cors->n_rules;
    return 0;
}

/* Adds rule's headers for origin (and a preflight's requested headers). */
static void add_headers(struct cn_http_req *req, const struct gw_cors_rule *rule,
                        const char *origin, const char *request_headers)
{
    struct gw_cors_headers h;
    if (gw_cors_headers_for(rule, origin, request_headers, &h) != 0)
        return;
    cn_http_resp_header(req, "Access-Control-Allow-Origin", h.allow_origin);
    if (h.allow_credentials)
        cn_http_resp_header(req, "Access-Control-Allow-Credentials", "true");
    cn_http_resp_header(req, "Access-Control-Allow-Methods", h.allow_methods);
    if (h.allow_headers[0])
        cn_http_resp_header(req, "Access-Control-Allow-Headers", h.allow_headers);
    if (h.expose[0])
        cn_http_resp_header(req, "Access-Control-Expose-Headers", h.expose);
    if (h.max_age[0])
        cn_http_resp_header(req, "Access-Control-Max-Age", h.max_age);
}

#define VARY "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

void s3_cors_apply(struct cn_http_req *req, struct s3_req *r)
{
    const char *origin = s3_hdr(r, "Origin");
    if (r->cors_done || !origin || !r->t.bucket[0] || !gw_bucket_name_valid(r->t.bucket))
        return;
    r->cors_done = 1;
    Md__QueryResult *own = NULL;
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (!b && !r->ctx) {
        /* Not read yet (the request failed its authentication): one read. */
        if (s3_md_head_bucket(r, r->t.bucket, &own) != GW_S3_OK || !own)
            return;
        b = own->bucket;
    }
    struct gw_cors v;
    if (cors_view(b, &v) == 0) {
        const struct gw_cors_rule *rule = gw_cors_match(&v, origin, cn_http_req_method(req), NULL);
        if (rule) {
            add_headers(req, rule, origin, NULL);
            cn_http_resp_header(req, "Vary", VARY);
        }
        free(v.rules);
    }
    s3_md_query_free(own);
}

/* OPTIONS on a bucket or object: the preflight of a cross-origin request. */
int s3_op_cors_preflight(struct cn_http_req *req, struct s3_req *r)
{
    const char *origin = s3_hdr(r, "Origin");
    const char *method = s3_hdr(r, "Access-Control-Request-Method");
    const char *hdrs = s3_hdr(r, "Access-Control-Request-Headers");
    if (!origin || !*origin)
        return s3_error(req, r, GW_S3_BAD_REQUEST,
                        "Insufficient information. Origin request header needed.");
    if (!method || !*method)
        return s3_error(req, r, GW_S3_BAD_REQUEST,
                        "Insufficient information. Access-Control-Request-Method header needed.");
    const char *rtype = r->t.key[0] ? "OBJECT" : "BUCKET";
    const struct gw_s3err_field f[] = {{"Method", method}, {"ResourceType", rtype}};
    Md__QueryResult *res = NULL;
    enum gw_s3err e = GW_S3_NO_SUCH_BUCKET;
    if (r->t.bucket[0] && gw_bucket_name_valid(r->t.bucket))
        e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK && e != GW_S3_NO_SUCH_BUCKET)
        return s3_error(req, r, e, NULL); /* the metadata service failed */
    struct gw_cors v;
    int rc = cors_view(res ? res->bucket : NULL, &v);
    if (rc != 0) {
        s3_md_query_free(res);
        /* No bucket and no configuration read alike to an anonymous
         * caller. */
        if (rc == CAIRN_E_NOMEM)
            return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
        return s3_error_fields(req, r, GW_S3_CORS_FORBIDDEN,
                               "CORSResponse: CORS is not enabled for this bucket.", f, 2);
    }
    const struct gw_cors_rule *rule = gw_cors_match(&v, origin, method, hdrs ? hdrs : "");
    if (rule) {
        add_headers(req, rule, origin, hdrs ? hdrs : "");
        cn_http_resp_header(req, "Vary", VARY);
    }
    free(v.rules);
    s3_md_query_free(res);
    if (!rule)
        return s3_error_fields(req, r, GW_S3_CORS_FORBIDDEN, NULL, f, 2);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

/* ---- Put/Get/DeleteBucketCors ------------------------------------------- */

int s3_op_get_bucket_cors(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = s3_ctx_take(r, r->t.bucket, NULL);
    enum gw_s3err e = GW_S3_OK;
    if (!res)
        e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_cors v;
    int rc = cors_view(res->bucket, &v);
    if (rc != 0) {
        s3_md_query_free(res);
        return s3_error(
            req, r,
            rc == CAIRN_E_NOTFOUND ? GW_S3_NO_SUCH_CORS_CONFIGURATION : GW_S3_INTERNAL_ERROR, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    rc = gw_cors_xml(&b, &v);
    free(v.rules);
    s3_md_query_free(res);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

/* Stores cfg (NULL: deletes the configuration). */
static enum gw_s3err set_cors(struct s3_req *r, const Md__CorsConfig *cfg)
{
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_bucket_cors(c.client, c.seq, r->t.bucket, cfg, &c.buf, &c.len);
    return s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
}

int s3_op_put_bucket_cors(struct cn_http_req *req, struct s3_req *r)
{
    struct gw_cors cors;
    enum gw_s3err e = GW_S3_OK;
    char msg[GW_CORS_MSG_MAX];
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (gw_cors_parse_xml(r->body.data, r->body.len, &cors, &e, msg) != 0)
        return s3_error(req, r, e, msg[0] ? msg : NULL);
    /* The command's view of the parsed rules (nothing copied). */
    Md__CorsRule *rules = calloc(cors.n, sizeof(*rules));
    Md__CorsRule **ptrs = calloc(cors.n, sizeof(*ptrs));
    e = rules && ptrs ? GW_S3_OK : GW_S3_INTERNAL_ERROR;
    for (size_t i = 0; e == GW_S3_OK && i < cors.n; i++) {
        const struct gw_cors_rule *g = &cors.rules[i];
        md__cors_rule__init(&rules[i]);
        rules[i].id = g->id;
        rules[i].allowed_origins = g->origins;
        rules[i].n_allowed_origins = g->n_origins;
        rules[i].allowed_methods = g->methods;
        rules[i].n_allowed_methods = g->n_methods;
        rules[i].allowed_headers = g->headers;
        rules[i].n_allowed_headers = g->n_headers;
        rules[i].expose_headers = g->expose;
        rules[i].n_expose_headers = g->n_expose;
        rules[i].has_max_age = g->max_age >= 0;
        rules[i].max_age_seconds = g->max_age >= 0 ? (uint32_t)g->max_age : 0;
        ptrs[i] = &rules[i];
    }
    if (e == GW_S3_OK) {
        Md__CorsConfig cfg = MD__CORS_CONFIG__INIT;
        cfg.n_rules = cors.n;
        cfg.rules = ptrs;
        e = set_cors(r, &cfg);
    }
    free(rules);
    free(ptrs);
    gw_cors_free(&cors);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

int s3_op_delete_bucket_cors(struct cn_http_req *req, struct s3_req *r)
{
    enum gw_s3err e = set_cors(r, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}
