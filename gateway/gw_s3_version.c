/* gw_s3_version: versioning and object lock (docs/s3-compat.md). The
 * bucket settings (Put/GetBucketVersioning, Put/GetObjectLockConfiguration),
 * ListObjectVersions, a version's retention and legal hold, and the helpers
 * the object family uses for the version and lock headers. Every rule that
 * protects data (what a lock forbids, that retention only grows under
 * COMPLIANCE) is the state machine's; this file reads the requests and
 * writes the answers. */
#include "gw_s3_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* ---- dates and modes --------------------------------------------------- */

/* An ISO 8601 UTC time as S3 clients send it ("2030-01-02T03:04:05Z", with
 * an optional fraction, "Z" or "+00:00") into Unix ms. Returns 0 or
 * CAIRN_E_INVAL. */
static int iso8601_parse(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return CAIRN_E_INVAL;
    const char *p = s + n;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (digits == 0)
            return CAIRN_E_INVAL;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return CAIRN_E_INVAL;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return CAIRN_E_INVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return CAIRN_E_INVAL;
    *out_ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

/* "GOVERNANCE" / "COMPLIANCE" -> Md__LockMode; 0 for anything else. */
static int mode_parse(const char *s)
{
    if (strcmp(s, "GOVERNANCE") == 0)
        return MD__LOCK_MODE__LOCK_GOVERNANCE;
    if (strcmp(s, "COMPLIANCE") == 0)
        return MD__LOCK_MODE__LOCK_COMPLIANCE;
    return MD__LOCK_MODE__LOCK_NONE;
}

static const char *mode_name(int mode)
{
    return mode == MD__LOCK_MODE__LOCK_COMPLIANCE ? "COMPLIANCE" : "GOVERNANCE";
}

/* ---- helpers for the object family ------------------------------------- */

enum gw_s3err s3_lock_headers(struct s3_req *r)
{
    memset(&r->lock, 0, sizeof(r->lock));
    const char *mode = s3_hdr(r, "x-amz-object-lock-mode");
    const char *until = s3_hdr(r, "x-amz-object-lock-retain-until-date");
    const char *hold = s3_hdr(r, "x-amz-object-lock-legal-hold");
    if (!mode && !until && !hold)
        return GW_S3_OK;
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (!b)
        return GW_S3_NO_SUCH_BUCKET;
    if (!mode != !until)
        return GW_S3_INVALID_ARGUMENT; /* both or neither (S3's rule) */
    if (mode) {
        r->lock.mode = mode_parse(mode);
        if (r->lock.mode == MD__LOCK_MODE__LOCK_NONE ||
            iso8601_parse(until, &r->lock.retain_until_ms) != 0)
            return GW_S3_INVALID_ARGUMENT;
        if (r->lock.retain_until_ms <= cn_wall_ms())
            return GW_S3_INVALID_ARGUMENT; /* "The retain until date must be in the future!" */
        if (!s3_allowed_on_new(r, GW_ACT_PUT_OBJECT_RETENTION, b, r->t.key))
            return GW_S3_ACCESS_DENIED;
    }
    if (hold) {
        if (strcmp(hold, "ON") == 0)
            r->lock.legal_hold = 1;
        else if (strcmp(hold, "OFF") != 0)
            return GW_S3_INVALID_ARGUMENT;
        if (!s3_allowed_on_new(r, GW_ACT_PUT_OBJECT_LEGAL_HOLD, b, r->t.key))
            return GW_S3_ACCESS_DENIED;
    }
    return GW_S3_OK;
}

int s3_bypass_governance(struct s3_req *r, const Md__BucketRecord *b, const char *key)
{
    const char *h = s3_hdr(r, "x-amz-bypass-governance-retention");
    if (!h || strcasecmp(h, "true") != 0 || !b)
        return 0;
    return s3_allowed(r, GW_ACT_BYPASS_GOVERNANCE_RETENTION, b, key ? key : r->t.key, NULL);
}

void s3_version_headers(struct cn_http_req *req, struct s3_req *r, const Md__ObjectRecord *rec)
{
    if (rec->vseq || rec->null_version || s3_version_arg(r)) {
        char vid[MD_VERSION_ID_CAP];
        md_version_id_of(rec, vid);
        cn_http_resp_header(req, "x-amz-version-id", vid);
    }
    if (rec->lock_mode != MD__LOCK_MODE__LOCK_NONE) {
        char iso[25];
        gw_iso8601_format(rec->retain_until_ms, iso);
        cn_http_resp_header(req, "x-amz-object-lock-mode", mode_name(rec->lock_mode));
        cn_http_resp_header(req, "x-amz-object-lock-retain-until-date", iso);
    }
    if (rec->legal_hold)
        cn_http_resp_header(req, "x-amz-object-lock-legal-hold", "ON");
}

void s3_marker_headers(struct cn_http_req *req, const struct s3_marker *m, int by_id)
{
    if (!m->found)
        return;
    cn_http_resp_header(req, "x-amz-delete-marker", "true");
    cn_http_resp_header(req, "x-amz-version-id", m->version_id);
    if (by_id) {
        char lm[30];
        gw_http_date_format(m->mtime_ms / 1000, lm);
        cn_http_resp_header(req, "Last-Modified", lm);
    }
}

/* ---- Put/GetBucketVersioning ------------------------------------------- */

int s3_op_get_versioning(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    enum gw_s3err e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    int st = res->bucket ? (int)res->bucket->versioning : 0;
    s3_md_query_free(res);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, XML_DECL "<VersioningConfiguration xmlns=\"" S3_NS "\">");
    if (st == MD__VERSIONING_STATUS__VERSIONING_ENABLED)
        gw_buf_puts(&b, "<Status>Enabled</Status>");
    else if (st == MD__VERSIONING_STATUS__VERSIONING_SUSPENDED)
        gw_buf_puts(&b, "<Status>Suspended</Status>");
    gw_buf_puts(&b, "</VersioningConfiguration>");
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}

int s3_op_put_versioning(struct cn_http_req *req, struct s3_req *r)
{
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    if (s3_hdr(r, "x-amz-mfa"))
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, "MFA Delete is not supported");
    xmlDocPtr doc =
        gw_xml_parse_doc(r->body.data, r->body.len, GW_XML_MAX_BODY, "VersioningConfiguration");
    if (!doc)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    char status[32] = "", mfa[32] = "";
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int hs = gw_xml_child_text(root, "Status", status, sizeof(status));
    int hm = gw_xml_child_text(root, "MfaDelete", mfa, sizeof(mfa));
    xmlFreeDoc(doc);
    if (hs < 0 || hm < 0)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    if (hm && strcmp(mfa, "Enabled") == 0)
        return s3_error(req, r, GW_S3_NOT_IMPLEMENTED, "MFA Delete is not supported");
    if (hm && strcmp(mfa, "Disabled") != 0)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    int st;
    if (strcmp(status, "Enabled") == 0)
        st = MD__VERSIONING_STATUS__VERSIONING_ENABLED;
    else if (strcmp(status, "Suspended") == 0)
        st = MD__VERSIONING_STATUS__VERSIONING_SUSPENDED;
    else
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_bucket_versioning(c.client, c.seq, r->t.bucket, st, &c.buf, &c.len);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e,
                        e == GW_S3_INVALID_BUCKET_STATE
                            ? "An Object Lock configuration is present on this bucket, so the "
                              "versioning state cannot be changed."
                            : NULL);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

/* ---- ListObjectVersions ------------------------------------------------- */

int s3_op_list_versions(struct cn_http_req *req, struct s3_req *r)
{
    struct s3_list_args la;
    enum gw_s3err e = s3_list_args(r, "max-keys", &la);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const char *km = s3_qarg(r, "key-marker"), *vm = s3_qarg(r, "version-id-marker");
    if (vm && *vm && !(km && *km))
        return s3_error(req, r, GW_S3_INVALID_ARGUMENT,
                        "A version-id marker cannot be specified without a key marker.");
    if (vm && *vm && strcmp(vm, "null") != 0) {
        uint64_t vseq;
        int is_null;
        if (md_version_id_parse(vm, &vseq, &is_null) != 0)
            return s3_error(req, r, GW_S3_INVALID_ARGUMENT, "Invalid version id specified");
    }
    Md__QueryResult *res = NULL;
    Md__ListVersionsR empty = MD__LIST_VERSIONS_R__INIT;
    const Md__ListVersionsR *lv = &empty;
    if (la.max == 0) {
        e = s3_md_head_bucket(r, r->t.bucket, NULL);
    } else {
        uint8_t *q = NULL;
        size_t qlen = 0;
        int rc = md_q_list_versions(r->t.bucket, la.prefix, la.delimiter, km, vm, (uint32_t)la.max,
                                    &q, &qlen);
        e = s3_md_query(r, rc, q, qlen, &s3_md_bucket, &res);
        if (e == GW_S3_OK && res->list_versions)
            lv = res->list_versions;
    }
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    struct gw_xml_versions v = {
        .encode_url = la.encode_url,
        .bucket = r->t.bucket,
        .prefix = la.prefix ? la.prefix : "",
        .delimiter = la.delimiter,
        .key_marker = km ? km : "",
        .version_id_marker = vm ? vm : "",
        .next_key_marker = lv->truncated ? lv->next_key_marker : NULL,
        .next_version_id_marker =
            lv->truncated && lv->next_version_id_marker[0] ? lv->next_version_id_marker : NULL,
        .max_keys = (int)la.max,
        .is_truncated = lv->truncated,
    };
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_xml_versions_begin(&b, &v);
    for (size_t i = 0; i < lv->n_versions; i++) {
        const Md__VersionEntry *ve = lv->versions[i];
        const Md__ObjectRecord *rec = ve->record;
        if (!rec)
            continue;
        struct gw_xml_owner owner = {rec->owner_id[0] ? rec->owner_id : GW_AUTH_OPERATOR_ID,
                                     rec->owner[0] && rec->owner_id[0] ? rec->owner
                                                                       : GW_AUTH_OPERATOR_NAME};
        struct gw_xml_version x = {
            .key = ve->key,
            .version_id = ve->version_id,
            .is_latest = ve->is_latest,
            .delete_marker = rec->delete_marker,
            .mtime_ms = rec->mtime_ms,
            .etag = rec->etag,
            .size = rec->size,
            .storage_class =
                rec->attrs && rec->attrs->storage_class[0] ? rec->attrs->storage_class : NULL,
            .owner = &owner,
        };
        gw_xml_versions_add(&b, &v, &x);
    }
    for (size_t i = 0; i < lv->n_common_prefixes; i++)
        gw_xml_versions_add_prefix(&b, &v, lv->common_prefixes[i]);
    int rc = gw_xml_versions_end(&b);
    s3_md_query_free(res);
    s3_respond_xml(req, r, rc, &b);
    return 0;
}

/* ---- Put/GetObjectLockConfiguration ------------------------------------ */

/* Parses an ObjectLockConfiguration body into mode/days/years (mode 0: no
 * default retention). Returns GW_S3_OK or the error with *msg. */
static enum gw_s3err parse_lock_config(const char *body, size_t len, int *mode, uint32_t *days,
                                       uint32_t *years, const char **msg)
{
    *mode = 0;
    *days = *years = 0;
    *msg = NULL;
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_XML_MAX_BODY, "ObjectLockConfiguration");
    if (!doc)
        return GW_S3_MALFORMED_XML;
    enum gw_s3err e = GW_S3_MALFORMED_XML;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    char en[32], ms[32], ds[32], ys[32];
    if (gw_xml_child_text(root, "ObjectLockEnabled", en, sizeof(en)) != 1 ||
        strcmp(en, "Enabled") != 0)
        goto out;
    xmlNodePtr rule = NULL, dr = NULL;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (gw_xml_is_elem(c, "Rule")) {
            if (rule)
                goto out;
            rule = c;
        }
    }
    if (!rule) {
        e = GW_S3_OK;
        goto out;
    }
    for (xmlNodePtr c = rule->children; c; c = c->next)
        if (gw_xml_is_elem(c, "DefaultRetention"))
            dr = c;
    if (!dr)
        goto out;
    int hm = gw_xml_child_text(dr, "Mode", ms, sizeof(ms));
    int hd = gw_xml_child_text(dr, "Days", ds, sizeof(ds));
    int hy = gw_xml_child_text(dr, "Years", ys, sizeof(ys));
    if (hm != 1 || hd < 0 || hy < 0 || hd + hy != 1)
        goto out;
    *mode = mode_parse(ms);
    if (!*mode)
        goto out;
    uint64_t n;
    if (cn_parse_u64(hd ? ds : ys, hd ? 36500u : 100u, &n) != 0 || n == 0) {
        e = GW_S3_INVALID_ARGUMENT;
        *msg = "Default retention period must be a positive integer value.";
        goto out;
    }
    if (hd)
        *days = (uint32_t)n;
    else
        *years = (uint32_t)n;
    e = GW_S3_OK;
out:
    xmlFreeDoc(doc);
    return e;
}

int s3_op_put_lock_config(struct cn_http_req *req, struct s3_req *r)
{
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    int mode;
    uint32_t days, years;
    const char *msg;
    enum gw_s3err e = parse_lock_config(r->body.data, r->body.len, &mode, &days, &years, &msg);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, msg);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_object_lock_config(c.client, c.seq, r->t.bucket, mode, days, years, &c.buf,
                                           &c.len);
    e = s3_md_command(r, &c, rc, &s3_md_bucket, NULL);
    if (e != GW_S3_OK)
        return s3_error(req, r, e,
                        e == GW_S3_INVALID_BUCKET_STATE
                            ? "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                              "configuration"
                            : NULL);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

int s3_op_get_lock_config(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    enum gw_s3err e = s3_md_head_bucket(r, r->t.bucket, &res);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    const Md__LockConfig *lc = res->bucket ? res->bucket->lock : NULL;
    if (!lc || !lc->enabled) {
        s3_md_query_free(res);
        return s3_error(req, r, GW_S3_NO_OBJECT_LOCK_CONFIG, NULL);
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, XML_DECL "<ObjectLockConfiguration xmlns=\"" S3_NS "\">"
                             "<ObjectLockEnabled>Enabled</ObjectLockEnabled>");
    if (lc->default_mode != MD__LOCK_MODE__LOCK_NONE) {
        gw_buf_printf(&b, "<Rule><DefaultRetention><Mode>%s</Mode>", mode_name(lc->default_mode));
        if (lc->default_days)
            gw_buf_printf(&b, "<Days>%u</Days>", lc->default_days);
        else
            gw_buf_printf(&b, "<Years>%u</Years>", lc->default_years);
        gw_buf_puts(&b, "</DefaultRetention></Rule>");
    }
    gw_buf_puts(&b, "</ObjectLockConfiguration>");
    s3_md_query_free(res);
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}

/* ---- retention and legal hold ------------------------------------------- */

/* The version r names, for reading its lock: the bucket must have object
 * lock (else InvalidRequest, as S3). Answers the error itself; returns 0
 * with *out or CAIRN_E_INVAL. */
static int lock_target(struct cn_http_req *req, struct s3_req *r, Md__QueryResult **out)
{
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    if (b && !(b->lock && b->lock->enabled))
        return s3_error(req, r, GW_S3_INVALID_REQUEST,
                        "Bucket is missing Object Lock Configuration");
    struct s3_marker m;
    enum gw_s3err e = s3_md_get_version(r, r->t.bucket, r->t.key, s3_version_arg(r), out, &m);
    if (e != GW_S3_OK)
        return s3_error(req, r, e, NULL);
    return 0;
}

int s3_op_get_retention(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    if (lock_target(req, r, &res) != 0)
        return CAIRN_E_INVAL;
    const Md__ObjectRecord *rec = res->object;
    if (rec->lock_mode == MD__LOCK_MODE__LOCK_NONE) {
        s3_md_query_free(res);
        return s3_error(req, r, GW_S3_NO_SUCH_OBJECT_LOCK_CONFIG, NULL);
    }
    char iso[25];
    gw_iso8601_format(rec->retain_until_ms, iso);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_printf(&b,
                  XML_DECL "<Retention xmlns=\"" S3_NS "\"><Mode>%s</Mode>"
                           "<RetainUntilDate>%s</RetainUntilDate></Retention>",
                  mode_name(rec->lock_mode), iso);
    s3_md_query_free(res);
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}

int s3_op_get_legal_hold(struct cn_http_req *req, struct s3_req *r)
{
    Md__QueryResult *res = NULL;
    if (lock_target(req, r, &res) != 0)
        return CAIRN_E_INVAL;
    int on = res->object->legal_hold;
    s3_md_query_free(res);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_printf(&b, XML_DECL "<LegalHold xmlns=\"" S3_NS "\"><Status>%s</Status></LegalHold>",
                  on ? "ON" : "OFF");
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}

/* Errors of a retention or legal hold change, with S3's messages. */
static int lock_change_error(struct cn_http_req *req, struct s3_req *r, enum gw_s3err e)
{
    const char *msg = NULL;
    if (e == GW_S3_INVALID_REQUEST)
        msg = "Bucket is missing Object Lock Configuration";
    return s3_error(req, r, e, msg);
}

int s3_op_put_retention(struct cn_http_req *req, struct s3_req *r)
{
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    xmlDocPtr doc = gw_xml_parse_doc(r->body.data, r->body.len, GW_XML_MAX_BODY, "Retention");
    if (!doc)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    char ms[32] = "", ds[64] = "";
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int hm = gw_xml_child_text(root, "Mode", ms, sizeof(ms));
    int hd = gw_xml_child_text(root, "RetainUntilDate", ds, sizeof(ds));
    xmlFreeDoc(doc);
    if (hm < 0 || hd < 0 || hm != hd)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    int mode = MD__LOCK_MODE__LOCK_NONE;
    int64_t until = 0;
    if (hm) {
        mode = mode_parse(ms);
        if (!mode || iso8601_parse(ds, &until) != 0)
            return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
        if (until <= cn_wall_ms())
            return s3_error(req, r, GW_S3_INVALID_ARGUMENT,
                            "The retain until date must be in the future!");
    }
    const Md__BucketRecord *b = r->ctx ? r->ctx->bucket : NULL;
    int bypass = s3_bypass_governance(r, b, NULL);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_object_retention(c.client, c.seq, r->t.bucket, r->t.key, s3_version_arg(r),
                                         mode, until, bypass, cn_wall_ms(), &c.buf, &c.len);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_key, NULL);
    if (e != GW_S3_OK)
        return lock_change_error(req, r, e);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}

int s3_op_put_legal_hold(struct cn_http_req *req, struct s3_req *r)
{
    if (r->body.len == 0)
        return s3_error(req, r, GW_S3_MISSING_REQUEST_BODY, NULL);
    xmlDocPtr doc = gw_xml_parse_doc(r->body.data, r->body.len, GW_XML_MAX_BODY, "LegalHold");
    if (!doc)
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    char st[16] = "";
    int hs = gw_xml_child_text(xmlDocGetRootElement(doc), "Status", st, sizeof(st));
    xmlFreeDoc(doc);
    if (hs != 1 || (strcmp(st, "ON") != 0 && strcmp(st, "OFF") != 0))
        return s3_error(req, r, GW_S3_MALFORMED_XML, NULL);
    struct s3_md_cmd c;
    int rc = s3_md_cmd_start(r, &c);
    if (rc == 0)
        rc = md_cmd_put_object_legal_hold(c.client, c.seq, r->t.bucket, r->t.key, s3_version_arg(r),
                                          strcmp(st, "ON") == 0, &c.buf, &c.len);
    enum gw_s3err e = s3_md_command(r, &c, rc, &s3_md_key, NULL);
    if (e != GW_S3_OK)
        return lock_change_error(req, r, e);
    return s3_respond(req, r, 200, NULL, NULL, 0);
}
