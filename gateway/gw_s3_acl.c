/* gw_s3_acl: ownership and access control of buckets and objects — the ACL a
 * new bucket or object gets from its request (canned x-amz-acl or
 * x-amz-grant-* headers, private by default), Get/PutBucketAcl,
 * Get/PutObjectAcl, and Get/Put/DeleteBucketPolicy. The state machine
 * stores ACLs as gw_acl_pack encodes them and policies as the JSON accepted
 * here; gw_s3_authz.c reads both back for every decision. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "gw_acl.h"
#include "gw_policy.h"
#include "gw_xml.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- who owns what r creates -------------------------------------------- */

void s3_owner_of(const struct s3_req *r, struct md_owner_desc *o)
{
    memset(o, 0, sizeof(*o));
    o->user = r->who.is_operator ? "" : r->who.user;
    o->id = r->who.canonical_id[0] ? r->who.canonical_id : GW_AUTH_OPERATOR_ID;
}

/* The owner of a bucket or object as an ACL owner: canonical id and name. */
static void acl_owner(const char *user, const char *id, struct gw_acl_owner *o)
{
    o->id = id && id[0] ? id : GW_AUTH_OPERATOR_ID;
    o->display_name = user && user[0] ? user : GW_AUTH_OPERATOR_NAME;
}

static void acl_headers(const struct s3_req *r, struct gw_acl_headers *h)
{
    h->acl = s3_hdr(r, "x-amz-acl");
    h->grant_read = s3_hdr(r, "x-amz-grant-read");
    h->grant_write = s3_hdr(r, "x-amz-grant-write");
    h->grant_read_acp = s3_hdr(r, "x-amz-grant-read-acp");
    h->grant_write_acp = s3_hdr(r, "x-amz-grant-write-acp");
    h->grant_full_control = s3_hdr(r, "x-amz-grant-full-control");
}

/* 1 if grant g names a user known without asking: the operator, the ACL's
 * owner or known (may be NULL). */
static int known_grantee(const struct gw_acl *acl, const struct gw_acl_grant *g, const char *known)
{
    return g->grantee != GW_ACL_USER || strcmp(g->id, GW_AUTH_OPERATOR_ID) == 0 ||
           (acl->owner_id && strcmp(g->id, acl->owner_id) == 0) ||
           (known && strcmp(g->id, known) == 0);
}

/* The first user grantee of acl that is no user, or NULL when every one is
 * (the users are read only if a grantee is not the operator, the owner or
 * known); *e is set when they could not be read. The answer points into acl. */
static const char *unknown_grantee(struct s3_req *r, const struct gw_acl *acl, const char *known,
                                   enum gw_s3err *e)
{
    *e = GW_S3_OK;
    size_t users = 0;
    for (size_t i = 0; i < acl->n_grants; i++)
        if (!known_grantee(acl, &acl->grants[i], known))
            users++;
    if (users == 0)
        return NULL;
    uint8_t *q = NULL;
    size_t ql = 0;
    Md__QueryResult *res = NULL;
    int rc = md_q_list_users(&q, &ql);
    *e = s3_md_query(r, rc, q, ql, NULL, &res);
    const char *unknown = NULL;
    for (size_t i = 0; *e == GW_S3_OK && !unknown && i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        if (known_grantee(acl, g, known))
            continue;
        size_t u = 0;
        while (u < res->n_users && strcmp(res->users[u]->canonical_id, g->id) != 0)
            u++;
        if (u == res->n_users)
            unknown = g->id;
    }
    s3_md_query_free(res);
    return unknown;
}

enum gw_s3err s3_acl_for_new(struct s3_req *r, const char *bucket_owner_id, uint8_t **buf,
                             size_t *len, const char **msg)
{
    struct md_owner_desc me;
    s3_owner_of(r, &me);
    struct gw_acl_owner owner, bucket_owner = {bucket_owner_id, NULL};
    acl_owner(me.user, me.id, &owner);
    /* bucket-owner-read / -full-control grant the bucket's owner by id and
     * name, as GetBucketAcl shows it (s3-tests'
     * test_object_acl_canned_bucketownerread) */
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (bucket_owner_id && b &&
        strcmp(b->owner_id[0] ? b->owner_id : GW_AUTH_OPERATOR_ID, bucket_owner_id) == 0)
        acl_owner(b->owner, bucket_owner_id, &bucket_owner);
    struct gw_acl_headers h;
    acl_headers(r, &h);
    struct gw_acl *acl = NULL;
    enum gw_s3err e = GW_S3_OK;
    *msg = NULL;
    *buf = NULL;
    *len = 0;
    int rc = gw_acl_from_headers(&h, &owner, bucket_owner_id ? &bucket_owner : NULL, &acl, &e, msg);
    if (rc == 0 && !acl)
        rc = gw_acl_canned("private", &owner, NULL, &acl, &e, msg);
    if (rc != 0)
        return e != GW_S3_OK ? e : GW_S3_INTERNAL_ERROR;
    /* x-amz-grant-* naming an id no user has: 400 InvalidArgument, as S3 */
    if (unknown_grantee(r, acl, bucket_owner_id, &e) || e != GW_S3_OK) {
        gw_acl_free(acl);
        if (e != GW_S3_OK)
            return e;
        *msg = "Invalid id";
        return GW_S3_INVALID_ARGUMENT;
    }
    rc = gw_acl_pack(acl, buf, len);
    gw_acl_free(acl);
    return rc ? GW_S3_INTERNAL_ERROR : GW_S3_OK;
}

/* ---- Get/PutBucketAcl, Get/PutObjectAcl ----------------------------------- */

/* The ACL stored in acl/len for a resource owned by (user, id); an empty or
 * unreadable one reads as private (the owner's FULL_CONTROL). */
static int stored_acl(const ProtobufCBinaryData *bytes, const char *user, const char *id,
                      int legacy_public_read, struct gw_acl **out)
{
    struct gw_acl_owner o;
    acl_owner(user, id, &o);
    enum gw_s3err e;
    const char *msg;
    if (bytes->len > 0 && gw_acl_unpack(bytes->data, bytes->len, out) == 0)
        return 0;
    return gw_acl_canned(legacy_public_read ? "public-read" : "private", &o, NULL, out, &e, &msg);
}

/* acl with a display name for every user grantee stored without one (a grant
 * by id from x-amz-grant-* or an AccessControlPolicy body naming no
 * DisplayName): the user's name, as S3 shows it (s3-tests'
 * test_object_header_acl_grants compares it). Returns 0 with a new ACL in
 * *out (free it), or with *out NULL when nothing needed a name or the users
 * could not be read (the ACL is then shown as stored); CAIRN_E_NOMEM. */
static int named_grantees(struct s3_req *r, const struct gw_acl *acl, struct gw_acl **out)
{
    *out = NULL;
    size_t unnamed = 0;
    for (size_t i = 0; i < acl->n_grants; i++)
        if (acl->grants[i].grantee == GW_ACL_USER && !acl->grants[i].display_name)
            unnamed++;
    if (unnamed == 0 || !acl->owner_id)
        return 0;
    uint8_t *q = NULL;
    size_t ql = 0;
    Md__QueryResult *res = NULL;
    int rc = md_q_list_users(&q, &ql);
    if (s3_md_query(r, rc, q, ql, NULL, &res) != GW_S3_OK) {
        s3_md_query_free(res);
        return 0;
    }
    struct gw_acl_owner o = {acl->owner_id, acl->owner_display_name};
    struct gw_acl *named = NULL;
    rc = gw_acl_new(&o, &named);
    for (size_t i = 0; rc == 0 && i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        const char *dn = g->display_name;
        if (g->grantee == GW_ACL_USER && !dn && strcmp(g->id, GW_AUTH_OPERATOR_ID) == 0)
            dn = GW_AUTH_OPERATOR_NAME;
        for (size_t u = 0; g->grantee == GW_ACL_USER && !dn && u < res->n_users; u++)
            if (strcmp(res->users[u]->canonical_id, g->id) == 0)
                dn = res->users[u]->name;
        rc = gw_acl_add(named, g->grantee, g->id, dn, g->perm);
    }
    s3_md_query_free(res);
    if (rc != 0) {
        gw_acl_free(named);
        return rc;
    }
    *out = named;
    return 0;
}

int s3_op_get_acl(struct cn_http_req *req, struct s3_req *r)
{
    int object = r->op == OP_GET_OBJECT_ACL;
    Md__QueryResult *res = NULL;
    enum gw_s3err e =
        object ? s3_md_get_version(r, r->t.bucket, r->t.key, s3_version_arg(r), &res, NULL)
               : s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_acl *acl = NULL;
    int rc;
    if (object) {
        const Md__ObjectRecord *o = res->object;
        const char *id = o->owner_id[0] ? o->owner_id : NULL;
        rc = stored_acl(&o->acl, o->owner, id, 0, &acl);
    } else {
        const Md__BucketRecord *b = res->bucket;
        rc = stored_acl(&b->acl, b->owner_id[0] ? b->owner : "", b->owner_id, b->public_read, &acl);
    }
    s3_md_query_free(res);
    struct gw_acl *named = NULL;
    if (rc == 0)
        rc = named_grantees(r, acl, &named);
    if (rc != 0) {
        gw_acl_free(acl);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 256 << 10);
    rc = gw_acl_xml(&b, named ? named : acl);
    gw_acl_free(named);
    gw_acl_free(acl);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

/* The ACL comes from headers or, without ACL headers, from an XML body
 * (Content-MD5 checked either way). */
enum gw_s3err s3_acl_begin(struct cn_http_req *req, struct s3_req *r)
{
    return s3_body_begin_xml(req, r);
}

int s3_op_put_acl(struct cn_http_req *req, struct s3_req *r)
{
    int object = r->op == OP_PUT_OBJECT_ACL;
    Md__QueryResult *res = NULL;
    enum gw_s3err e =
        object ? s3_md_get_version(r, r->t.bucket, r->t.key, s3_version_arg(r), &res, NULL)
               : s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    /* The owner stays who it is: an ACL never changes ownership. */
    char user[72], id[72], bucket_owner[72];
    if (object) {
        snprintf(user, sizeof(user), "%s", res->object->owner);
        snprintf(id, sizeof(id), "%s", res->object->owner_id);
    } else {
        snprintf(user, sizeof(user), "%s", res->bucket->owner_id[0] ? res->bucket->owner : "");
        snprintf(id, sizeof(id), "%s", res->bucket->owner_id);
    }
    bucket_owner[0] = '\0';
    s3_md_query_free(res);
    struct gw_acl_owner owner;
    acl_owner(user, id, &owner);
    struct gw_acl_headers h;
    acl_headers(r, &h);
    struct gw_acl *acl = NULL;
    const char *msg = NULL;
    int rc = gw_acl_from_headers(&h, &owner, NULL, &acl, &e, &msg);
    if (rc == 0 && !acl) {
        if (r->body.len == 0)
            return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
        struct gw_acl *parsed = NULL;
        rc = gw_acl_parse_xml((const char *)r->body.data, r->body.len, &parsed, &e, &msg);
        if (rc == 0) {
            /* Keep the grants, not a different owner the body may name. */
            rc = gw_acl_new(&owner, &acl);
            for (size_t i = 0; rc == 0 && i < parsed->n_grants; i++)
                rc = gw_acl_add(acl, parsed->grants[i].grantee, parsed->grants[i].id,
                                parsed->grants[i].display_name, parsed->grants[i].perm);
            gw_acl_free(parsed);
            if (rc)
                e = GW_S3_MALFORMED_ACL;
        }
    }
    (void)bucket_owner;
    if (rc != 0) {
        gw_acl_free(acl);
        return s3_error(req, r, e != GW_S3_OK ? e : GW_S3_MALFORMED_ACL, msg);
    }
    /* A grant to an id no user has: S3's 400 InvalidArgument "Invalid id"
     * (s3-tests' test_bucket_acl_grant_nonexist_user). */
    const char *unknown = unknown_grantee(r, acl, NULL, &e);
    if (e != GW_S3_OK || unknown) {
        char value[GW_ACL_MAX_ID + 1];
        snprintf(value, sizeof(value), "%s", unknown ? unknown : "");
        gw_acl_free(acl);
        if (e != GW_S3_OK)
            return s3_error(req, r, e, NULL);
        const struct gw_s3err_field f[] = {{"ArgumentName", "CanonicalUser/ID"},
                                           {"ArgumentValue", value}};
        return s3_error_fields(req, r, GW_S3_INVALID_ARGUMENT, "Invalid id", f, 2);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = gw_acl_pack(acl, &buf, &len);
    gw_acl_free(acl);
    if (rc)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    struct s3_md_cmd c;
    if (s3_md_cmd_start(r, &c) != 0) {
        free(buf);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    rc = object ? md_cmd_put_object_acl_version(c.client, c.seq, r->t.bucket, r->t.key,
                                                s3_version_arg(r), buf, len, &c.buf, &c.len)
                : md_cmd_put_bucket_acl(c.client, c.seq, r->t.bucket, buf, len, &c.buf, &c.len);
    free(buf);
    e = s3_md_command(r, &c, rc, object ? &s3_md_key : &s3_md_bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

/* ---- Get/Put/DeleteBucketPolicy ----------------------------------------- */

int s3_op_get_policy(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    enum gw_s3err e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    int rc;
    if (!res->bucket->policy[0])
        rc = s3_error(req, r, GW_S3_NO_SUCH_BUCKET_POLICY, NULL);
    else
        rc = s3_respond(req, r, 200, "application/json", res->bucket->policy,
                        strlen(res->bucket->policy));
    s3_md_query_free(res);
    return rc;
}

enum gw_s3err s3_policy_begin(struct cn_http_req *req, struct s3_req *r)
{
    return s3_body_begin_xml(req, r); /* a JSON body, bounded the same way */
}

/* gw_policy_foreach_principal: every user a policy names must exist. */
struct principal_check {
    struct s3_req *r;
    const char *missing;
};

static int check_principal(void *arg, enum gw_policy_principal_kind kind, const char *value)
{
    struct principal_check *pc = arg;
    if (kind != GW_POLICY_PRINCIPAL_USER)
        return 0;
    uint8_t *q = NULL;
    size_t ql = 0;
    Md__QueryResult *res = NULL;
    int rc = md_q_get_user(value, &q, &ql);
    enum gw_s3err e = s3_md_query(pc->r, rc, q, ql, NULL, &res);
    int exists = e == GW_S3_OK && res->user;
    s3_md_query_free(res);
    if (!exists)
        pc->missing = value;
    return !exists;
}

int s3_op_put_policy(struct cn_http_req *req, struct s3_req *r)
{
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    char err[GW_POLICY_ERR_MAX];
    struct gw_policy *p = NULL;
    int rc =
        gw_policy_parse((const char *)r->body.data, r->body.len, r->t.bucket, &p, err, sizeof(err));
    if (rc == CAIRN_E_NOMEM)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    if (rc != 0)
        return s3_error(req, r, GW_S3_MALFORMED_POLICY, err);
    struct principal_check pc = {.r = r};
    rc = gw_policy_foreach_principal(p, check_principal, &pc);
    gw_policy_free(p);
    if (rc != 0)
        return s3_error(req, r, GW_S3_MALFORMED_POLICY, "Invalid principal in policy");
    char *json = malloc(r->body.len + 1);
    if (!json)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    memcpy(json, r->body.data, r->body.len);
    json[r->body.len] = '\0';
    struct s3_md_cmd c;
    if (s3_md_cmd_start(r, &c) != 0) {
        free(json);
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    }
    rc = md_cmd_put_bucket_policy(c.client, c.seq, r->t.bucket, json, &c.buf, &c.len);
    free(json);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}

int s3_op_delete_policy(struct cn_http_req *req, struct s3_req *r)
{
    struct s3_md_cmd c;
    if (s3_md_cmd_start(r, &c) != 0)
        return s3_error(req, r, GW_S3_INTERNAL_ERROR, NULL);
    int rc = md_cmd_put_bucket_policy(c.client, c.seq, r->t.bucket, "", &c.buf, &c.len);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return s3_respond(req, r, 204, NULL, NULL, 0);
}
