/* S3 lifecycle configurations (gw_lifecycle.h). */
#include "gw_lifecycle.h"

#include "cn_error.h"
#include "gw_req.h"
#include "gw_tagging.h"
#include "gw_xml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XMLNS  "http://s3.amazonaws.com/doc/2006-03-01/"
#define DAY_MS 86400000LL

static void rule_free(Md__LifecycleRule *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->prefix);
    for (size_t i = 0; i < r->n_tags; i++) {
        free(r->tags[i]->key);
        free(r->tags[i]->value);
        free(r->tags[i]);
    }
    free(r->tags);
    free(r);
}

void gw_lifecycle_free(struct gw_lifecycle *lc)
{
    for (size_t i = 0; i < lc->cfg.n_rules; i++)
        rule_free(lc->cfg.rules[i]);
    free(lc->cfg.rules);
    md__lifecycle_config__init(&lc->cfg);
}

/* The parse state of one document: the error to answer. */
struct lp {
    enum gw_s3err *err;
    char *msg;
};

static int bad(struct lp *p, enum gw_s3err e, const char *msg)
{
    *p->err = e;
    snprintf(p->msg, GW_LC_MSG_MAX, "%s", msg ? msg : "");
    return CAIRN_E_INVAL;
}

static int malformed(struct lp *p)
{
    return bad(p, GW_S3_MALFORMED_XML, NULL);
}

/* The text of element n, malloc'ed ("" when empty); NULL when out of memory. */
static char *text(xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    char *s = strdup(c ? (const char *)c : "");
    xmlFree(c);
    return s;
}

/* A decimal integer element into *v (0 <= v <= max). Returns 0, or
 * CAIRN_E_RANGE (a number, but negative, zero when !zero_ok, or too large),
 * or CAIRN_E_INVAL (not a number), or CAIRN_E_NOMEM. */
static int number(xmlNodePtr n, uint64_t max, int zero_ok, uint64_t *v)
{
    char *s = text(n);
    if (!s)
        return CAIRN_E_NOMEM;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    int rc = 0;
    if (!*s || *end || errno)
        rc = CAIRN_E_INVAL;
    else if (x < 0 || (x == 0 && !zero_ok) || (uint64_t)x > max)
        rc = CAIRN_E_RANGE;
    else
        *v = (uint64_t)x;
    free(s);
    return rc;
}

static int push_tag(Md__LifecycleRule *r, char *k, char *v)
{
    Md__Tag **a = realloc(r->tags, (r->n_tags + 1) * sizeof(*a));
    Md__Tag *t = malloc(sizeof(*t));
    if (a)
        r->tags = a;
    if (!a || !t) {
        free(t);
        free(k);
        free(v);
        return CAIRN_E_NOMEM;
    }
    md__tag__init(t);
    t->key = k;
    t->value = v;
    a[r->n_tags++] = t;
    return 0;
}

static int parse_tag(struct lp *p, xmlNodePtr tag, Md__LifecycleRule *r)
{
    char *k = NULL, *v = NULL;
    for (xmlNodePtr c = tag->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char **slot = gw_xml_is_elem(c, "Key") ? &k : gw_xml_is_elem(c, "Value") ? &v : NULL;
        if (!slot || *slot) {
            free(k);
            free(v);
            return malformed(p);
        }
        if (!(*slot = text(c))) {
            free(k);
            free(v);
            return CAIRN_E_NOMEM;
        }
    }
    if (!k || !v) {
        free(k);
        free(v);
        return malformed(p);
    }
    return push_tag(r, k, v);
}

/* One of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan into r. */
static int filter_elem(struct lp *p, xmlNodePtr c, Md__LifecycleRule *r, int *have_prefix)
{
    if (gw_xml_is_elem(c, "Prefix")) {
        if ((*have_prefix)++)
            return malformed(p);
        free(r->prefix);
        return (r->prefix = text(c)) ? 0 : CAIRN_E_NOMEM;
    }
    if (gw_xml_is_elem(c, "Tag"))
        return parse_tag(p, c, r);
    uint64_t *slot = gw_xml_is_elem(c, "ObjectSizeGreaterThan") ? &r->size_greater_than
                     : gw_xml_is_elem(c, "ObjectSizeLessThan")  ? &r->size_less_than
                                                                : NULL;
    if (!slot || *slot)
        return malformed(p);
    int rc = number(c, INT64_MAX, 0, slot);
    if (rc == CAIRN_E_RANGE)
        return bad(p, GW_S3_INVALID_ARGUMENT, "Object size must be a positive integer");
    return rc == CAIRN_E_INVAL ? malformed(p) : rc;
}

/* <Filter>: empty, or exactly one of Prefix, Tag, the sizes, And. */
static int parse_filter(struct lp *p, xmlNodePtr f, Md__LifecycleRule *r)
{
    int n = 0, rc = 0, have_prefix = 0;
    for (xmlNodePtr c = f->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (n++)
            return malformed(p);
        if (gw_xml_is_elem(c, "And")) {
            int parts = 0;
            for (xmlNodePtr a = c->children; a && rc == 0; a = a->next)
                if (a->type == XML_ELEMENT_NODE) {
                    parts++;
                    rc = filter_elem(p, a, r, &have_prefix);
                }
            if (rc == 0 && parts < 1)
                rc = malformed(p);
        } else {
            rc = filter_elem(p, c, r, &have_prefix);
        }
    }
    return rc;
}

static int days(struct lp *p, xmlNodePtr c, const char *what, uint32_t *out)
{
    uint64_t v;
    int rc = number(c, 1u << 24, 0, &v);
    if (rc == CAIRN_E_RANGE || rc == CAIRN_E_INVAL) {
        char m[GW_LC_MSG_MAX];
        snprintf(m, sizeof(m), "%s must be a positive integer", what);
        return bad(p, GW_S3_INVALID_ARGUMENT, m);
    }
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

static int parse_expiration(struct lp *p, xmlNodePtr e, Md__LifecycleRule *r)
{
    int n = 0, rc = 0;
    for (xmlNodePtr c = e->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (n++)
            return malformed(p); /* Days, Date and ExpiredObjectDeleteMarker exclude each other */
        if (gw_xml_is_elem(c, "Days")) {
            rc = days(p, c, "'Days' for Expiration action", &r->expiration_days);
        } else if (gw_xml_is_elem(c, "Date")) {
            char *s = text(c);
            if (!s)
                return CAIRN_E_NOMEM;
            int64_t t;
            if (gw_iso8601_parse(s, &t) != 0 || t <= 0)
                rc = bad(p, GW_S3_INVALID_ARGUMENT, "Invalid date");
            else if (t % DAY_MS != 0)
                rc = bad(p, GW_S3_INVALID_ARGUMENT, "'Date' must be at midnight GMT");
            else
                r->expiration_date_ms = t;
            free(s);
        } else if (gw_xml_is_elem(c, "ExpiredObjectDeleteMarker")) {
            char *s = text(c);
            if (!s)
                return CAIRN_E_NOMEM;
            if (strcmp(s, "true") == 0)
                r->expired_object_delete_marker = 1;
            else if (strcmp(s, "false") != 0)
                rc = malformed(p);
            free(s);
        } else {
            rc = malformed(p);
        }
    }
    return rc == 0 && n == 0 ? malformed(p) : rc;
}

static int parse_noncurrent(struct lp *p, xmlNodePtr e, Md__LifecycleRule *r)
{
    int rc = 0, have_days = 0;
    for (xmlNodePtr c = e->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "NoncurrentDays") && !have_days++) {
            rc = days(p, c, "'NoncurrentDays' for NoncurrentVersionExpiration action",
                      &r->noncurrent_days);
        } else if (gw_xml_is_elem(c, "NewerNoncurrentVersions") && !r->newer_noncurrent_versions) {
            rc = days(p, c, "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action",
                      &r->newer_noncurrent_versions);
        } else {
            rc = malformed(p);
        }
    }
    return rc == 0 && !have_days ? malformed(p) : rc;
}

static int parse_abort(struct lp *p, xmlNodePtr e, Md__LifecycleRule *r)
{
    int rc = 0, n = 0;
    for (xmlNodePtr c = e->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!gw_xml_is_elem(c, "DaysAfterInitiation") || n++)
            return malformed(p);
        rc = days(p, c, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action",
                  &r->abort_upload_days);
    }
    return rc == 0 && !n ? malformed(p) : rc;
}

static int parse_rule(struct lp *p, xmlNodePtr node, Md__LifecycleRule *r)
{
    int rc = 0, have_id = 0, have_status = 0, have_filter = 0, have_prefix = 0;
    int have_exp = 0, have_nc = 0, have_abort = 0;
    for (xmlNodePtr c = node->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "ID") && !have_id++) {
            free(r->id);
            if (!(r->id = text(c)))
                return CAIRN_E_NOMEM;
            if (strlen(r->id) > 255)
                rc = bad(p, GW_S3_INVALID_ARGUMENT,
                         "ID length should not exceed allowed limit of 255");
        } else if (gw_xml_is_elem(c, "Status") && !have_status++) {
            char *s = text(c);
            if (!s)
                return CAIRN_E_NOMEM;
            if (strcmp(s, "Enabled") == 0)
                r->enabled = 1;
            else if (strcmp(s, "Disabled") != 0)
                rc = malformed(p);
            free(s);
        } else if (gw_xml_is_elem(c, "Filter") && !have_filter++) {
            rc = parse_filter(p, c, r);
        } else if (gw_xml_is_elem(c, "Prefix") && !have_prefix++) {
            free(r->prefix);
            if (!(r->prefix = text(c)))
                return CAIRN_E_NOMEM;
        } else if (gw_xml_is_elem(c, "Expiration") && !have_exp++) {
            rc = parse_expiration(p, c, r);
        } else if (gw_xml_is_elem(c, "NoncurrentVersionExpiration") && !have_nc++) {
            rc = parse_noncurrent(p, c, r);
        } else if (gw_xml_is_elem(c, "AbortIncompleteMultipartUpload") && !have_abort++) {
            rc = parse_abort(p, c, r);
        } else if (gw_xml_is_elem(c, "Transition") ||
                   gw_xml_is_elem(c, "NoncurrentVersionTransition")) {
            rc = bad(p, GW_S3_NOT_IMPLEMENTED,
                     "Lifecycle transitions are not supported: Cairn has one storage tier.");
        } else {
            rc = malformed(p);
        }
    }
    if (rc)
        return rc;
    if (!have_status || (have_filter && have_prefix))
        return malformed(p);
    /* An Expiration holding only ExpiredObjectDeleteMarker false does nothing. */
    have_exp = r->expiration_days || r->expiration_date_ms || r->expired_object_delete_marker;
    if (!have_exp && !have_nc && !have_abort)
        return bad(p, GW_S3_INVALID_REQUEST, "At least one action needs to be specified in a rule");
    if (r->n_tags && have_abort)
        return bad(p, GW_S3_INVALID_REQUEST,
                   "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    if (r->n_tags && r->expired_object_delete_marker)
        return bad(p, GW_S3_INVALID_REQUEST,
                   "ExpiredObjectDeleteMarker cannot be specified with object tags.");
    if (r->size_greater_than && r->size_less_than && r->size_greater_than >= r->size_less_than)
        return bad(p, GW_S3_INVALID_ARGUMENT,
                   "ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
    /* The filter's tags under S3's tag rules (a bucket's limit of 50). */
    if (r->n_tags) {
        struct md_tag *t = calloc(r->n_tags, sizeof(*t));
        if (!t)
            return CAIRN_E_NOMEM;
        for (size_t i = 0; i < r->n_tags; i++)
            t[i] = (struct md_tag){r->tags[i]->key, r->tags[i]->value};
        const char *m = NULL;
        rc = gw_tags_check(t, r->n_tags, GW_TAGS_BUCKET, p->err, &m);
        free(t);
        if (rc)
            snprintf(p->msg, GW_LC_MSG_MAX, "%s", m ? m : "");
    }
    return rc;
}

int gw_lifecycle_parse_xml(const char *body, size_t len, struct gw_lifecycle *out,
                           enum gw_s3err *err, char msg[GW_LC_MSG_MAX])
{
    md__lifecycle_config__init(&out->cfg);
    struct lp p = {err, msg};
    *err = GW_S3_MALFORMED_XML;
    msg[0] = '\0';
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_LC_MAX_BYTES, "LifecycleConfiguration");
    if (!doc)
        return CAIRN_E_INVAL;
    int rc = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!gw_xml_is_elem(c, "Rule") || out->cfg.n_rules >= GW_LC_MAX_RULES) {
            rc = malformed(&p);
            break;
        }
        Md__LifecycleRule **a =
            realloc(out->cfg.rules, (out->cfg.n_rules + 1) * sizeof(*out->cfg.rules));
        Md__LifecycleRule *r = calloc(1, sizeof(*r));
        if (a)
            out->cfg.rules = a;
        if (!a || !r) {
            free(r);
            rc = CAIRN_E_NOMEM;
            break;
        }
        md__lifecycle_rule__init(r);
        r->id = strdup("");
        r->prefix = strdup("");
        out->cfg.rules[out->cfg.n_rules++] = r;
        if (!r->id || !r->prefix)
            rc = CAIRN_E_NOMEM;
        else
            rc = parse_rule(&p, c, r);
    }
    xmlFreeDoc(doc);
    if (rc == 0 && out->cfg.n_rules == 0)
        rc = malformed(&p);
    for (size_t i = 0; rc == 0 && i < out->cfg.n_rules; i++)
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (out->cfg.rules[i]->id[0] &&
                strcmp(out->cfg.rules[i]->id, out->cfg.rules[j]->id) == 0)
                rc = bad(&p, GW_S3_INVALID_ARGUMENT,
                         "Rule ID must be unique. Found same ID for more than one rule");
    if (rc == CAIRN_E_NOMEM) {
        *err = GW_S3_INTERNAL_ERROR;
        msg[0] = '\0';
    }
    if (rc)
        gw_lifecycle_free(out);
    return rc;
}

static void elem(struct gw_buf *b, const char *name, const char *v)
{
    gw_buf_printf(b, "<%s>", name);
    gw_buf_xml_escape(b, v, strlen(v));
    gw_buf_printf(b, "</%s>", name);
}

static void filter_xml(struct gw_buf *b, const Md__LifecycleRule *r)
{
    int parts = (r->prefix[0] != 0) + (int)r->n_tags + (r->size_greater_than != 0) +
                (r->size_less_than != 0);
    gw_buf_puts(b, "<Filter>");
    if (parts > 1)
        gw_buf_puts(b, "<And>");
    if (r->prefix[0] || parts == 0)
        elem(b, "Prefix", r->prefix);
    for (size_t i = 0; i < r->n_tags; i++) {
        gw_buf_puts(b, "<Tag>");
        elem(b, "Key", r->tags[i]->key);
        elem(b, "Value", r->tags[i]->value);
        gw_buf_puts(b, "</Tag>");
    }
    if (r->size_greater_than)
        gw_buf_printf(b, "<ObjectSizeGreaterThan>%" PRIu64 "</ObjectSizeGreaterThan>",
                      r->size_greater_than);
    if (r->size_less_than)
        gw_buf_printf(b, "<ObjectSizeLessThan>%" PRIu64 "</ObjectSizeLessThan>", r->size_less_than);
    if (parts > 1)
        gw_buf_puts(b, "</And>");
    gw_buf_puts(b, "</Filter>");
}

int gw_lifecycle_xml(struct gw_buf *b, const Md__LifecycleConfig *lc)
{
    gw_buf_puts(b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns=\"" XMLNS
                "\">");
    for (size_t i = 0; lc && i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        gw_buf_puts(b, "<Rule>");
        elem(b, "ID", r->id);
        filter_xml(b, r);
        elem(b, "Status", r->enabled ? "Enabled" : "Disabled");
        if (r->expiration_days || r->expiration_date_ms || r->expired_object_delete_marker) {
            gw_buf_puts(b, "<Expiration>");
            if (r->expiration_days)
                gw_buf_printf(b, "<Days>%" PRIu32 "</Days>", r->expiration_days);
            if (r->expiration_date_ms) {
                char d[25];
                gw_iso8601_format(r->expiration_date_ms, d);
                elem(b, "Date", d);
            }
            if (r->expired_object_delete_marker)
                gw_buf_puts(b, "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>");
            gw_buf_puts(b, "</Expiration>");
        }
        if (r->noncurrent_days) {
            gw_buf_printf(
                b, "<NoncurrentVersionExpiration><NoncurrentDays>%" PRIu32 "</NoncurrentDays>",
                r->noncurrent_days);
            if (r->newer_noncurrent_versions)
                gw_buf_printf(b, "<NewerNoncurrentVersions>%" PRIu32 "</NewerNoncurrentVersions>",
                              r->newer_noncurrent_versions);
            gw_buf_puts(b, "</NoncurrentVersionExpiration>");
        }
        if (r->abort_upload_days)
            gw_buf_printf(b,
                          "<AbortIncompleteMultipartUpload><DaysAfterInitiation>%" PRIu32
                          "</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
                          r->abort_upload_days);
        gw_buf_puts(b, "</Rule>");
    }
    gw_buf_puts(b, "</LifecycleConfiguration>");
    return gw_buf_error(b);
}
