/* S3 CORS configurations and their matching (gw_cors.h). */
#include "gw_cors.h"

#include "cn_error.h"
#include "gw_xml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

static void strs_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void gw_cors_free(struct gw_cors *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct gw_cors_rule *r = &c->rules[i];
        free(r->id);
        strs_free(r->origins, r->n_origins);
        strs_free(r->methods, r->n_methods);
        strs_free(r->headers, r->n_headers);
        strs_free(r->expose, r->n_expose);
    }
    free(c->rules);
    c->rules = NULL;
    c->n = 0;
}

/* ---- matching ---------------------------------------------------------- */

static int chr_eq(char a, char b, int icase)
{
    return icase ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

int gw_cors_wildcard_match(const char *pat, const char *s, int icase)
{
    const char *star = strchr(pat, '*');
    size_t sl = strlen(s);
    if (!star) {
        if (strlen(pat) != sl)
            return 0;
        for (size_t i = 0; i < sl; i++)
            if (!chr_eq(pat[i], s[i], icase))
                return 0;
        return 1;
    }
    size_t pre = (size_t)(star - pat), post = strlen(star + 1);
    if (pre + post > sl)
        return 0;
    for (size_t i = 0; i < pre; i++)
        if (!chr_eq(pat[i], s[i], icase))
            return 0;
    for (size_t i = 0; i < post; i++)
        if (!chr_eq(star[1 + i], s[sl - post + i], icase))
            return 0;
    return 1;
}

static int any_match(char *const *pats, size_t n, const char *s, int icase)
{
    for (size_t i = 0; i < n; i++)
        if (gw_cors_wildcard_match(pats[i], s, icase))
            return 1;
    return 0;
}

/* Calls fn for each trimmed, non-empty name of a comma-separated list;
 * stops at and returns the first nonzero result. */
static int each_header(const char *list, int (*fn)(const char *name, size_t n, void *arg),
                       void *arg)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > start) {
            int rc = fn(start, (size_t)(end - start), arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* each_header callback: 1 (stop) when the header is NOT allowed by rule. */
static int header_denied(const char *name, size_t n, void *arg)
{
    const struct gw_cors_rule *r = arg;
    char h[256];
    if (n >= sizeof(h))
        return 1;
    memcpy(h, name, n);
    h[n] = '\0';
    return !any_match(r->headers, r->n_headers, h, 1);
}

const struct gw_cors_rule *gw_cors_match(const struct gw_cors *c, const char *origin,
                                         const char *method, const char *request_headers)
{
    if (!c || !origin || !method)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct gw_cors_rule *r = &c->rules[i];
        if (!any_match(r->origins, r->n_origins, origin, 0))
            continue;
        int m = 0;
        for (size_t j = 0; j < r->n_methods && !m; j++)
            m = strcmp(r->methods[j], method) == 0;
        if (!m)
            continue;
        if (request_headers && each_header(request_headers, header_denied, (void *)r))
            continue;
        return r;
    }
    return NULL;
}

/* Appends s to out[cap] after a ", " when out is not empty. -1 if full. */
static int join(char *out, size_t cap, const char *s, size_t n)
{
    size_t l = strlen(out);
    size_t need = (l ? 2 : 0) + n;
    if (l + need + 1 > cap)
        return -1;
    if (l) {
        memcpy(out + l, ", ", 2);
        l += 2;
    }
    memcpy(out + l, s, n);
    out[l + n] = '\0';
    return 0;
}

struct lower_join {
    char *out;
    size_t cap;
};

static int join_lower(const char *name, size_t n, void *arg)
{
    struct lower_join *lj = arg;
    char h[256];
    if (n >= sizeof(h))
        return 1;
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)name[i]);
    return join(lj->out, lj->cap, h, n) ? 1 : 0;
}

int gw_cors_headers_for(const struct gw_cors_rule *rule, const char *origin,
                        const char *request_headers, struct gw_cors_headers *h)
{
    memset(h, 0, sizeof(*h));
    int any = 0;
    for (size_t i = 0; i < rule->n_origins; i++)
        any |= strcmp(rule->origins[i], "*") == 0;
    const char *ao = any ? "*" : origin;
    if (strlen(ao) >= sizeof(h->allow_origin))
        return CAIRN_E_RANGE;
    strcpy(h->allow_origin, ao);
    h->allow_credentials = !any;
    for (size_t i = 0; i < rule->n_methods; i++)
        if (join(h->allow_methods, sizeof(h->allow_methods), rule->methods[i],
                 strlen(rule->methods[i])))
            return CAIRN_E_RANGE;
    for (size_t i = 0; i < rule->n_expose; i++)
        if (join(h->expose, sizeof(h->expose), rule->expose[i], strlen(rule->expose[i])))
            return CAIRN_E_RANGE;
    if (request_headers) {
        struct lower_join lj = {h->allow_headers, sizeof(h->allow_headers)};
        if (each_header(request_headers, join_lower, &lj))
            return CAIRN_E_RANGE;
    }
    if (rule->max_age >= 0)
        snprintf(h->max_age, sizeof(h->max_age), "%" PRId64, rule->max_age);
    return 0;
}

/* ---- the document ------------------------------------------------------ */

static int push(char ***arr, size_t *n, const char *s)
{
    if (*n >= GW_CORS_MAX_LIST)
        return CAIRN_E_INVAL;
    char *c = strdup(s);
    char **a = c ? realloc(*arr, (*n + 1) * sizeof(*a)) : NULL;
    if (!a) {
        free(c);
        return CAIRN_E_NOMEM;
    }
    a[(*n)++] = c;
    *arr = a;
    return 0;
}

static int wildcards(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '*';
    return n;
}

/* Parses one <CORSRule> into r. Returns 0, CAIRN_E_INVAL (*err set, and
 * msg[cap] for an InvalidRequest) or CAIRN_E_NOMEM. */
static int parse_rule(xmlNodePtr node, struct gw_cors_rule *r, enum gw_s3err *err, char *msg,
                      size_t cap)
{
    int rc = 0, have_id = 0;
    r->max_age = -1;
    for (xmlNodePtr c = node->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *raw = xmlNodeGetContent(c);
        const char *v = raw ? (const char *)raw : "";
        if (gw_xml_is_elem(c, "ID")) {
            if (have_id++ || strlen(v) > 255)
                rc = CAIRN_E_INVAL;
            else if (!(r->id = strdup(v)))
                rc = CAIRN_E_NOMEM;
        } else if (gw_xml_is_elem(c, "AllowedOrigin")) {
            if (wildcards(v) > 1) {
                *err = GW_S3_INVALID_REQUEST;
                snprintf(msg, cap, "AllowedOrigin \"%.200s\" can not have more than one wildcard.",
                         v);
                rc = CAIRN_E_INVAL;
            } else {
                rc = push(&r->origins, &r->n_origins, v);
            }
        } else if (gw_xml_is_elem(c, "AllowedMethod")) {
            static const char *const ok[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
            int known = 0;
            for (size_t i = 0; i < 5; i++)
                known |= strcmp(v, ok[i]) == 0;
            if (!known) {
                *err = GW_S3_INVALID_REQUEST;
                snprintf(msg, cap,
                         "Found unsupported HTTP method in CORS config. Unsupported method is "
                         "%.200s",
                         v);
                rc = CAIRN_E_INVAL;
            } else {
                rc = push(&r->methods, &r->n_methods, v);
            }
        } else if (gw_xml_is_elem(c, "AllowedHeader")) {
            if (wildcards(v) > 1) {
                *err = GW_S3_INVALID_REQUEST;
                snprintf(msg, cap, "AllowedHeader \"%.200s\" can not have more than one wildcard.",
                         v);
                rc = CAIRN_E_INVAL;
            } else {
                rc = push(&r->headers, &r->n_headers, v);
            }
        } else if (gw_xml_is_elem(c, "ExposeHeader")) {
            rc = push(&r->expose, &r->n_expose, v);
        } else if (gw_xml_is_elem(c, "MaxAgeSeconds")) {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (r->max_age >= 0 || !*v || *end || errno || n < 0 || n > INT32_MAX)
                rc = CAIRN_E_INVAL;
            else
                r->max_age = n;
        } else {
            rc = CAIRN_E_INVAL;
        }
        xmlFree(raw);
    }
    if (rc == 0 && (!r->n_origins || !r->n_methods))
        rc = CAIRN_E_INVAL;
    if (rc == 0 && !r->id && !(r->id = strdup("")))
        rc = CAIRN_E_NOMEM;
    return rc;
}

int gw_cors_parse_xml(const char *body, size_t len, struct gw_cors *out, enum gw_s3err *err,
                      char msg[GW_CORS_MSG_MAX])
{
    memset(out, 0, sizeof(*out));
    *err = GW_S3_MALFORMED_XML;
    msg[0] = '\0';
    if (len > GW_CORS_MAX_BYTES)
        return CAIRN_E_INVAL;
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_CORS_MAX_BYTES, "CORSConfiguration");
    if (!doc)
        return CAIRN_E_INVAL;
    int rc = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!gw_xml_is_elem(c, "CORSRule") || out->n >= GW_CORS_MAX_RULES) {
            rc = CAIRN_E_INVAL;
            break;
        }
        struct gw_cors_rule *a = realloc(out->rules, (out->n + 1) * sizeof(*a));
        if (!a) {
            rc = CAIRN_E_NOMEM;
            break;
        }
        out->rules = a;
        memset(&a[out->n], 0, sizeof(a[0]));
        out->n++;
        rc = parse_rule(c, &a[out->n - 1], err, msg, GW_CORS_MSG_MAX);
    }
    xmlFreeDoc(doc);
    if (rc == 0 && out->n == 0)
        rc = CAIRN_E_INVAL;
    if (rc == CAIRN_E_NOMEM) {
        *err = GW_S3_INTERNAL_ERROR;
        msg[0] = '\0';
    }
    if (rc)
        gw_cors_free(out);
    return rc;
}

static void elem(struct gw_buf *b, const char *name, const char *v)
{
    gw_buf_printf(b, "<%s>", name);
    gw_buf_xml_escape(b, v, strlen(v));
    gw_buf_printf(b, "</%s>", name);
}

int gw_cors_xml(struct gw_buf *b, const struct gw_cors *c)
{
    gw_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration xmlns=\"" XMLNS
                   "\">");
    for (size_t i = 0; i < c->n; i++) {
        const struct gw_cors_rule *r = &c->rules[i];
        gw_buf_puts(b, "<CORSRule>");
        if (r->id && r->id[0])
            elem(b, "ID", r->id);
        for (size_t j = 0; j < r->n_origins; j++)
            elem(b, "AllowedOrigin", r->origins[j]);
        for (size_t j = 0; j < r->n_methods; j++)
            elem(b, "AllowedMethod", r->methods[j]);
        for (size_t j = 0; j < r->n_headers; j++)
            elem(b, "AllowedHeader", r->headers[j]);
        if (r->max_age >= 0)
            gw_buf_printf(b, "<MaxAgeSeconds>%" PRId64 "</MaxAgeSeconds>", r->max_age);
        for (size_t j = 0; j < r->n_expose; j++)
            elem(b, "ExposeHeader", r->expose[j]);
        gw_buf_puts(b, "</CORSRule>");
    }
    gw_buf_puts(b, "</CORSConfiguration>");
    return gw_buf_error(b);
}
