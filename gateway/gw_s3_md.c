/* gw_s3_md: the S3 operations' calls to the metadata service, and the one
 * place a metadata status or Reason becomes an S3 error. Every command and
 * query of an operation goes through s3_md_command / s3_md_query. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "md_client.h"

#include <stdlib.h>
#include <string.h>

const struct s3_md_map s3_md_bucket = {.absent = GW_S3_NO_SUCH_BUCKET};
const struct s3_md_map s3_md_key = {.absent = GW_S3_NO_SUCH_KEY};
const struct s3_md_map s3_md_upload = {.absent = GW_S3_NO_SUCH_UPLOAD,
                                       .reason = MD__REASON__R_INVALID_ARGUMENT,
                                       .as = GW_S3_NO_SUCH_UPLOAD};
const struct s3_md_map s3_md_if_cond = {.reason = MD__REASON__R_NO_SUCH_KEY,
                                        .as = GW_S3_PRECONDITION_FAILED};

/* The defaults: a Reason first, then the transport or state-machine status. */
static enum gw_s3err default_err(int status, int reason)
{
    switch (reason) {
    case MD__REASON__R_NO_SUCH_BUCKET:
        return GW_S3_NO_SUCH_BUCKET;
    case MD__REASON__R_BUCKET_EXISTS:
        return GW_S3_BUCKET_ALREADY_OWNED_BY_YOU;
    case MD__REASON__R_BUCKET_NOT_EMPTY:
        return GW_S3_BUCKET_NOT_EMPTY;
    case MD__REASON__R_NO_SUCH_KEY:
        return GW_S3_NO_SUCH_KEY;
    case MD__REASON__R_PRECONDITION_FAILED:
        return GW_S3_PRECONDITION_FAILED;
    case MD__REASON__R_NO_SUCH_UPLOAD:
        return GW_S3_NO_SUCH_UPLOAD;
    case MD__REASON__R_INVALID_PART:
        return GW_S3_INVALID_PART;
    case MD__REASON__R_INVALID_PART_ORDER:
        return GW_S3_INVALID_PART_ORDER;
    case MD__REASON__R_ENTITY_TOO_SMALL:
        return GW_S3_ENTITY_TOO_SMALL;
    case MD__REASON__R_TOO_MANY_PARTS:
        return GW_S3_TOO_MANY_PARTS;
    case MD__REASON__R_INVALID_ARGUMENT:
        return GW_S3_INVALID_ARGUMENT;
    case MD__REASON__R_QUOTA_EXCEEDED:
        return GW_S3_QUOTA_EXCEEDED;
    case MD__REASON__R_NO_SUCH_VERSION:
        return GW_S3_NO_SUCH_VERSION;
    case MD__REASON__R_OBJECT_LOCKED:
        return GW_S3_OBJECT_LOCKED;
    case MD__REASON__R_NO_LOCK_CONFIG:
        return GW_S3_INVALID_REQUEST;
    case MD__REASON__R_INVALID_BUCKET_STATE:
        return GW_S3_INVALID_BUCKET_STATE;
    case MD__REASON__R_DELETE_MARKER:
        return GW_S3_METHOD_NOT_ALLOWED;
    case MD__REASON__R_BAD_VERSION_ID:
        return GW_S3_INVALID_VERSION_ID;
    default:
        break;
    }
    switch (status) {
    case CAIRN_E_TIMEOUT:
    case CAIRN_E_UNAVAIL:
    case CAIRN_E_NOTLEADER:
    case CAIRN_E_BUSY:
    case CAIRN_E_SHUTDOWN:
        return GW_S3_SERVICE_UNAVAILABLE;
    case CAIRN_E_PRECOND:
        return GW_S3_PRECONDITION_FAILED;
    case CAIRN_E_NOTEMPTY:
        return GW_S3_BUCKET_NOT_EMPTY;
    default:
        return GW_S3_INTERNAL_ERROR;
    }
}

/* The Reason a map names goes first, then "absent": no Reason at all. Every
 * refusal of the state machine (md_sm's refuse) and of a query (md_query's
 * qfail) names one, so absent is in practice a query that succeeded without
 * the record asked for. */
enum gw_s3err s3_md_err(int status, int reason, const struct s3_md_map *map)
{
    if (map && map->reason != MD__REASON__R_NONE && reason == (int)map->reason)
        return map->as;
    if (map && map->absent != GW_S3_OK && reason == MD__REASON__R_NONE)
        return map->absent;
    return default_err(status, reason);
}

struct md_client *s3_md_client(struct gw_s3 *s3)
{
    return gw_ctx_meta(s3->data);
}

int s3_md_cmd_start(struct s3_req *r, struct s3_md_cmd *c)
{
    struct md_client *mc = s3_md_client(r->s3);
    *c = (struct s3_md_cmd){0};
    if (!mc)
        return CAIRN_E_NOMEM;
    c->seq = md_client_next_seq(mc);
    c->client = md_client_id(mc);
    return 0;
}

enum gw_s3err s3_md_command(struct s3_req *r, struct s3_md_cmd *c, int build_rc,
                            const struct s3_md_map *map, Md__Result **out)
{
    if (out)
        *out = NULL;
    if (build_rc != 0) {
        free(c->buf);
        c->buf = NULL;
        return GW_S3_INTERNAL_ERROR;
    }
    uint8_t *raw = NULL;
    size_t rlen = 0;
    int rc = md_client_command(s3_md_client(r->s3), c->seq, c->buf, c->len, &raw, &rlen);
    free(c->buf);
    c->buf = NULL;
    if (rc != 0)
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    Md__Result *res = md_result_decode(raw, rlen);
    free(raw);
    if (!res)
        return s3_md_err(CAIRN_E_PROTO, MD__REASON__R_NONE, NULL);
    enum gw_s3err e = res->status == 0 ? GW_S3_OK : s3_md_err(res->status, res->reason, map);
    if (out)
        *out = res;
    else
        md_result_free(res);
    return e;
}

void s3_md_query_free(Md__QueryResult *res)
{
    if (res)
        md__query_result__free_unpacked(res, NULL);
}

enum gw_s3err s3_md_query(struct s3_req *r, int build_rc, uint8_t *q, size_t len,
                          const struct s3_md_map *map, Md__QueryResult **out)
{
    *out = NULL;
    if (build_rc != 0) {
        free(q);
        return GW_S3_INTERNAL_ERROR;
    }
    Md__QueryResult *res = NULL;
    int rc = gw_ctx_query(r->s3->data, q, len, &res);
    if (rc != 0) /* CAIRN_E_NOMEM (no client) included: InternalError */
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    if (res->status != 0) {
        enum gw_s3err e = s3_md_err(res->status, res->reason, map);
        s3_md_query_free(res);
        return e;
    }
    *out = res;
    return GW_S3_OK;
}

enum gw_s3err s3_md_no_record(Md__QueryResult **res, const struct s3_md_map *map)
{
    enum gw_s3err e = s3_md_err((*res)->status, (*res)->reason, map);
    s3_md_query_free(*res);
    *res = NULL;
    return e;
}

enum gw_s3err s3_md_head_bucket(struct s3_req *r, const char *bucket, Md__QueryResult **out)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    int rc = md_q_head_bucket(bucket, &q, &qlen);
    if (rc == 0 && r->who.unconfirmed) /* s3_confirm_key reads the answer */
        rc = md_q_with_caller(r->auth.access_key, &q, &qlen);
    Md__QueryResult *res = NULL;
    enum gw_s3err e = s3_md_query(r, rc, q, qlen, &s3_md_bucket, &res);
    if (out)
        *out = res;
    else
        s3_md_query_free(res);
    return e;
}

/* 1 if vid (NULL: "") is the version r's own target names. */
static int own_version(const struct s3_req *r, const char *vid)
{
    const char *rv = s3_version_arg(r);
    return strcmp(vid ? vid : "", rv ? rv : "") == 0;
}

enum gw_s3err s3_md_get_version(struct s3_req *r, const char *bucket, const char *key,
                                const char *vid, Md__QueryResult **out, struct s3_marker *m)
{
    if (m)
        memset(m, 0, sizeof(*m));
    /* The request's own object, read for its authorization: no second read. */
    if (own_version(r, vid) && (*out = s3_ctx_take(r, bucket, key)) != NULL)
        return GW_S3_OK;
    *out = NULL;
    uint8_t *q = NULL;
    size_t qlen = 0;
    int rc = md_q_get_version(bucket, key, vid, 0, &q, &qlen);
    if (rc != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__QueryResult *res = NULL;
    rc = gw_ctx_query(r->s3->data, q, qlen, &res);
    if (rc != 0)
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    if (res->status == 0 && res->object) {
        *out = res;
        return GW_S3_OK;
    }
    if (m && res->marker) {
        m->found = 1;
        md_version_id_of(res->marker, m->version_id);
        m->mtime_ms = res->marker->mtime_ms;
    }
    enum gw_s3err e =
        res->status == 0 ? GW_S3_NO_SUCH_KEY : s3_md_err(res->status, res->reason, &s3_md_key);
    s3_md_query_free(res);
    return e;
}

enum gw_s3err s3_md_get_object(struct s3_req *r, const char *bucket, const char *key,
                               Md__QueryResult **out)
{
    return s3_md_get_version(r, bucket, key, NULL, out, NULL);
}

enum gw_s3err s3_md_get_version_and_bucket(struct s3_req *r, const char *bucket, const char *key,
                                           const char *vid, Md__QueryResult **out)
{
    if (!vid || !*vid)
        return s3_md_get_object_and_bucket(r, bucket, key, out);
    uint8_t *q = NULL;
    size_t qlen = 0;
    *out = NULL;
    int rc = md_q_get_version(bucket, key, vid, 1, &q, &qlen);
    if (rc != 0)
        return GW_S3_INTERNAL_ERROR;
    Md__QueryResult *res = NULL;
    rc = gw_ctx_query(r->s3->data, q, qlen, &res);
    if (rc != 0)
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    /* A version that does not exist or is a delete marker: the bucket,
     * without an object (the operation answers what it was). */
    if (res->status == 0 || ((res->reason == MD__REASON__R_NO_SUCH_VERSION ||
                              res->reason == MD__REASON__R_DELETE_MARKER) &&
                             res->bucket)) {
        res->object = res->status == 0 ? res->object : NULL;
        *out = res;
        return res->bucket ? GW_S3_OK : s3_md_no_record(out, &s3_md_bucket);
    }
    enum gw_s3err e = s3_md_err(res->status, res->reason, &s3_md_bucket);
    s3_md_query_free(res);
    return e;
}

enum gw_s3err s3_md_get_object_and_bucket(struct s3_req *r, const char *bucket, const char *key,
                                          Md__QueryResult **out)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    *out = NULL;
    int rc = md_q_get_object_and_bucket(bucket, key, &q, &qlen);
    if (rc == 0 && r->who.unconfirmed) /* s3_confirm_key reads the answer */
        rc = md_q_with_caller(r->auth.access_key, &q, &qlen);
    if (rc != 0) {
        free(q);
        return GW_S3_INTERNAL_ERROR;
    }
    Md__QueryResult *res = NULL;
    rc = gw_ctx_query(r->s3->data, q, qlen, &res);
    if (rc != 0)
        return s3_md_err(rc, MD__REASON__R_NONE, NULL);
    if (res->status == 0 || (res->reason == MD__REASON__R_NO_SUCH_KEY && res->bucket)) {
        res->object = res->status == 0 ? res->object : NULL;
        *out = res;
        return res->bucket ? GW_S3_OK : s3_md_no_record(out, &s3_md_bucket);
    }
    enum gw_s3err e = s3_md_err(res->status, res->reason, &s3_md_bucket);
    s3_md_query_free(res);
    return e;
}

enum gw_s3err s3_md_get_upload(struct s3_req *r, uint32_t part_marker, uint32_t max_parts,
                               Md__QueryResult **out)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    int rc = md_q_list_parts(r->t.bucket, r->t.key, s3_qarg(r, "uploadId"), part_marker, max_parts,
                             &q, &qlen);
    enum gw_s3err e = s3_md_query(r, rc, q, qlen, &s3_md_upload, out);
    if (e == GW_S3_OK && (!(*out)->list_parts || !(*out)->list_parts->upload))
        e = s3_md_no_record(out, &s3_md_upload);
    return e;
}
