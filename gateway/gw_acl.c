#include "gw_acl.h"
#include "gw_xml.h"

#include "cn_error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS    "http://s3.amazonaws.com/doc/2006-03-01/"
#define XSI_NS   "http://www.w3.org/2001/XMLSchema-instance"

#define ACL_FORMAT_VERSION 1

static const char *const perm_names[] = {
    [GW_ACL_READ] = "READ",
    [GW_ACL_WRITE] = "WRITE",
    [GW_ACL_READ_ACP] = "READ_ACP",
    [GW_ACL_WRITE_ACP] = "WRITE_ACP",
    [GW_ACL_FULL_CONTROL] = "FULL_CONTROL",
};

static int perm_valid(int p)
{
    return p >= GW_ACL_READ && p <= GW_ACL_FULL_CONTROL;
}

static int grantee_valid(int g)
{
    return g >= GW_ACL_USER && g <= GW_ACL_LOG_DELIVERY;
}

const char *gw_acl_perm_name(enum gw_acl_perm p)
{
    return perm_valid((int)p) ? perm_names[p] : "";
}

static int perm_from_name(const char *s, enum gw_acl_perm *out)
{
    for (int p = GW_ACL_READ; p <= GW_ACL_FULL_CONTROL; p++) {
        if (strcmp(perm_names[p], s) == 0) {
            *out = (enum gw_acl_perm)p;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

/* A canonical id or display name: 1..GW_ACL_MAX_ID bytes, no control
 * characters (they could not be rendered back into XML). */
static int name_valid(const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= GW_ACL_MAX_ID)
            return 0;
    return 1;
}

static const char *group_uri(enum gw_acl_grantee g)
{
    switch (g) {
    case GW_ACL_ALL_USERS:
        return GW_ACL_URI_ALL_USERS;
    case GW_ACL_AUTHENTICATED_USERS:
        return GW_ACL_URI_AUTHENTICATED_USERS;
    case GW_ACL_LOG_DELIVERY:
        return GW_ACL_URI_LOG_DELIVERY;
    default:
        return NULL;
    }
}

static int group_from_uri(const char *uri, enum gw_acl_grantee *out)
{
    for (int g = GW_ACL_ALL_USERS; g <= GW_ACL_LOG_DELIVERY; g++) {
        if (strcmp(uri, group_uri((enum gw_acl_grantee)g)) == 0) {
            *out = (enum gw_acl_grantee)g;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

/* ---- model ----------------------------------------------------------- */

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : CAIRN_E_NOMEM;
}

int gw_acl_new(const struct gw_acl_owner *owner, struct gw_acl **out)
{
    *out = NULL;
    if (!owner || !name_valid(owner->id) ||
        (owner->display_name && owner->display_name[0] && !name_valid(owner->display_name)))
        return CAIRN_E_INVAL;
    struct gw_acl *acl = calloc(1, sizeof(*acl));
    if (!acl)
        return CAIRN_E_NOMEM;
    const char *dn = owner->display_name && owner->display_name[0] ? owner->display_name : NULL;
    if (dup_opt(owner->id, &acl->owner_id) || dup_opt(dn, &acl->owner_display_name)) {
        gw_acl_free(acl);
        return CAIRN_E_NOMEM;
    }
    *out = acl;
    return 0;
}

int gw_acl_add(struct gw_acl *acl, enum gw_acl_grantee grantee, const char *id,
               const char *display_name, enum gw_acl_perm perm)
{
    if (!acl || !grantee_valid((int)grantee) || !perm_valid((int)perm))
        return CAIRN_E_INVAL;
    if (display_name && !display_name[0])
        display_name = NULL;
    if (grantee == GW_ACL_USER) {
        if (!name_valid(id) || (display_name && !name_valid(display_name)))
            return CAIRN_E_INVAL;
    } else if (id || display_name) {
        return CAIRN_E_INVAL;
    }
    if (acl->n_grants >= GW_ACL_MAX_GRANTS)
        return CAIRN_E_RANGE;
    struct gw_acl_grant g = {.grantee = grantee, .perm = perm};
    if (dup_opt(id, &g.id) || dup_opt(display_name, &g.display_name)) {
        free(g.id);
        return CAIRN_E_NOMEM;
    }
    struct gw_acl_grant *grants = realloc(acl->grants, (acl->n_grants + 1) * sizeof(*grants));
    if (!grants) {
        free(g.id);
        free(g.display_name);
        return CAIRN_E_NOMEM;
    }
    grants[acl->n_grants++] = g;
    acl->grants = grants;
    return 0;
}

void gw_acl_free(struct gw_acl *acl)
{
    if (!acl)
        return;
    for (size_t i = 0; i < acl->n_grants; i++) {
        free(acl->grants[i].id);
        free(acl->grants[i].display_name);
    }
    free(acl->grants);
    free(acl->owner_id);
    free(acl->owner_display_name);
    free(acl);
}

int gw_acl_copy(const struct gw_acl *acl, struct gw_acl **out)
{
    *out = NULL;
    struct gw_acl *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    if (dup_opt(acl->owner_id, &c->owner_id) ||
        dup_opt(acl->owner_display_name, &c->owner_display_name))
        goto err;
    if (acl->n_grants) {
        c->grants = calloc(acl->n_grants, sizeof(*c->grants));
        if (!c->grants)
            goto err;
    }
    for (size_t i = 0; i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        c->grants[i].grantee = g->grantee;
        c->grants[i].perm = g->perm;
        c->n_grants = i + 1;
        if (dup_opt(g->id, &c->grants[i].id) ||
            dup_opt(g->display_name, &c->grants[i].display_name))
            goto err;
    }
    *out = c;
    return 0;
err:
    gw_acl_free(c);
    return CAIRN_E_NOMEM;
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int gw_acl_equal(const struct gw_acl *a, const struct gw_acl *b)
{
    if (!a || !b)
        return a == b;
    if (!str_eq(a->owner_id, b->owner_id) ||
        !str_eq(a->owner_display_name, b->owner_display_name) || a->n_grants != b->n_grants)
        return 0;
    for (size_t i = 0; i < a->n_grants; i++) {
        const struct gw_acl_grant *x = &a->grants[i], *y = &b->grants[i];
        if (x->grantee != y->grantee || x->perm != y->perm || !str_eq(x->id, y->id) ||
            !str_eq(x->display_name, y->display_name))
            return 0;
    }
    return 1;
}

int gw_acl_allows(const struct gw_acl *acl, const char *canonical_id, enum gw_acl_perm perm)
{
    if (!acl || !perm_valid((int)perm))
        return 0;
    for (size_t i = 0; i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        if (g->perm != perm && g->perm != GW_ACL_FULL_CONTROL)
            continue;
        switch (g->grantee) {
        case GW_ACL_ALL_USERS:
            return 1;
        case GW_ACL_AUTHENTICATED_USERS:
            if (canonical_id)
                return 1;
            break;
        case GW_ACL_USER:
            if (canonical_id && g->id && strcmp(g->id, canonical_id) == 0)
                return 1;
            break;
        case GW_ACL_LOG_DELIVERY: /* no log delivery service in Cairn */
        default:
            break;
        }
    }
    return 0;
}

/* ---- canned ACLs ----------------------------------------------------- */

static void set_err(enum gw_s3err *err, const char **msg, enum gw_s3err e, const char *m)
{
    if (err)
        *err = e;
    if (msg)
        *msg = m;
}

static int nomem(enum gw_s3err *err, const char **msg)
{
    set_err(err, msg, GW_S3_INTERNAL_ERROR, NULL);
    return CAIRN_E_NOMEM;
}

int gw_acl_canned(const char *name, const struct gw_acl_owner *owner,
                  const struct gw_acl_owner *bucket_owner, struct gw_acl **out, enum gw_s3err *err,
                  const char **msg)
{
    static const char *const names[] = {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "log-delivery-write",
        "bucket-owner-full-control",
    };
    *out = NULL;
    set_err(err, msg, GW_S3_OK, NULL);
    int which = -1;
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            which = (int)i;
    if (which < 0) {
        set_err(err, msg, GW_S3_INVALID_ARGUMENT, "Unknown canned ACL (x-amz-acl)");
        return CAIRN_E_INVAL;
    }
    struct gw_acl *acl = NULL;
    int rc = gw_acl_new(owner, &acl);
    if (rc == CAIRN_E_INVAL) {
        set_err(err, msg, GW_S3_INTERNAL_ERROR, NULL); /* caller bug: no owner */
        return rc;
    }
    if (rc)
        return nomem(err, msg);
    rc = gw_acl_add(acl, GW_ACL_USER, owner->id, owner->display_name, GW_ACL_FULL_CONTROL);
    const char *n = names[which];
    int other_bucket_owner =
        bucket_owner && bucket_owner->id && strcmp(bucket_owner->id, owner->id) != 0;
    if (rc == 0 && strcmp(n, "public-read") == 0) {
        rc = gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_READ);
    } else if (rc == 0 && strcmp(n, "public-read-write") == 0) {
        rc = gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_READ);
        if (rc == 0)
            rc = gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_WRITE);
    } else if (rc == 0 && strcmp(n, "authenticated-read") == 0) {
        rc = gw_acl_add(acl, GW_ACL_AUTHENTICATED_USERS, NULL, NULL, GW_ACL_READ);
    } else if (rc == 0 && strcmp(n, "log-delivery-write") == 0) {
        rc = gw_acl_add(acl, GW_ACL_LOG_DELIVERY, NULL, NULL, GW_ACL_WRITE);
        if (rc == 0)
            rc = gw_acl_add(acl, GW_ACL_LOG_DELIVERY, NULL, NULL, GW_ACL_READ_ACP);
    } else if (rc == 0 && other_bucket_owner && strcmp(n, "bucket-owner-read") == 0) {
        rc =
            gw_acl_add(acl, GW_ACL_USER, bucket_owner->id, bucket_owner->display_name, GW_ACL_READ);
    } else if (rc == 0 && other_bucket_owner && strcmp(n, "bucket-owner-full-control") == 0) {
        rc = gw_acl_add(acl, GW_ACL_USER, bucket_owner->id, bucket_owner->display_name,
                        GW_ACL_FULL_CONTROL);
    }
    if (rc) {
        gw_acl_free(acl);
        if (rc == CAIRN_E_NOMEM)
            return nomem(err, msg);
        set_err(err, msg, GW_S3_INTERNAL_ERROR, NULL); /* invalid owner strings */
        return CAIRN_E_INVAL;
    }
    *out = acl;
    return 0;
}

/* ---- x-amz-grant-* headers ------------------------------------------- */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Appends the grants of one x-amz-grant-* value. */
static int parse_grant_header(struct gw_acl *acl, const char *v, enum gw_acl_perm perm,
                              enum gw_s3err *err, const char **msg)
{
    static const char *const bad = "Invalid grant header: expected id=\"...\", uri=\"...\" "
                                   "or emailAddress=\"...\", comma-separated";
    const char *p = v;
    int any = 0;
    for (;;) {
        while (is_ows(*p))
            p++;
        if (!*p && !any)
            break; /* empty value: refused below */
        const char *type = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t type_len = (size_t)(p - type);
        while (is_ows(*p))
            p++;
        if (type_len == 0 || *p != '=') {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
            return CAIRN_E_INVAL;
        }
        p++;
        while (is_ows(*p))
            p++;
        const char *val;
        size_t val_len;
        if (*p == '"') {
            val = ++p;
            const char *q = strchr(p, '"');
            if (!q) {
                set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
                return CAIRN_E_INVAL;
            }
            val_len = (size_t)(q - p);
            p = q + 1;
        } else {
            val = p;
            while (*p && *p != ',')
                p++;
            val_len = (size_t)(p - val);
            while (val_len && is_ows(val[val_len - 1]))
                val_len--;
        }
        while (is_ows(*p))
            p++;
        if (*p && *p != ',') {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
            return CAIRN_E_INVAL;
        }
        if (val_len == 0 || val_len > GW_ACL_MAX_ID) {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, "Invalid grantee in grant header");
            return CAIRN_E_INVAL;
        }
        char value[GW_ACL_MAX_ID + 1];
        memcpy(value, val, val_len);
        value[val_len] = '\0';
        int rc;
        if (type_len == 2 && strncasecmp(type, "id", 2) == 0) {
            rc = gw_acl_add(acl, GW_ACL_USER, value, NULL, perm);
            if (rc == CAIRN_E_INVAL) {
                set_err(err, msg, GW_S3_INVALID_ARGUMENT, "Invalid id");
                return rc;
            }
        } else if (type_len == 3 && strncasecmp(type, "uri", 3) == 0) {
            enum gw_acl_grantee g;
            if (group_from_uri(value, &g)) {
                set_err(err, msg, GW_S3_INVALID_ARGUMENT, "Invalid group uri");
                return CAIRN_E_INVAL;
            }
            rc = gw_acl_add(acl, g, NULL, NULL, perm);
        } else if (type_len == 12 && strncasecmp(type, "emailAddress", 12) == 0) {
            set_err(err, msg, GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL, NULL);
            return CAIRN_E_INVAL;
        } else {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
            return CAIRN_E_INVAL;
        }
        if (rc == CAIRN_E_RANGE) {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, "An ACL can have at most 100 grants");
            return CAIRN_E_INVAL;
        }
        if (rc)
            return nomem(err, msg);
        any = 1;
        if (!*p)
            break;
        p++; /* ',' : another grantee must follow */
        while (is_ows(*p))
            p++;
        if (!*p) {
            set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
            return CAIRN_E_INVAL;
        }
    }
    if (!any) {
        set_err(err, msg, GW_S3_INVALID_ARGUMENT, bad);
        return CAIRN_E_INVAL;
    }
    return 0;
}

int gw_acl_from_headers(const struct gw_acl_headers *h, const struct gw_acl_owner *owner,
                        const struct gw_acl_owner *bucket_owner, struct gw_acl **out,
                        enum gw_s3err *err, const char **msg)
{
    *out = NULL;
    set_err(err, msg, GW_S3_OK, NULL);
    const struct {
        const char *value;
        enum gw_acl_perm perm;
    } grants[] = {
        {h->grant_read, GW_ACL_READ},
        {h->grant_write, GW_ACL_WRITE},
        {h->grant_read_acp, GW_ACL_READ_ACP},
        {h->grant_write_acp, GW_ACL_WRITE_ACP},
        {h->grant_full_control, GW_ACL_FULL_CONTROL},
    };
    int any_grant = 0;
    for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++)
        any_grant |= grants[i].value != NULL;
    if (h->acl && any_grant) {
        set_err(err, msg, GW_S3_INVALID_REQUEST,
                "Specifying both Canned ACLs and Header Grants is not allowed");
        return CAIRN_E_INVAL;
    }
    if (h->acl)
        return gw_acl_canned(h->acl, owner, bucket_owner, out, err, msg);
    if (!any_grant)
        return 0;
    struct gw_acl *acl = NULL;
    int rc = gw_acl_new(owner, &acl);
    if (rc) {
        if (rc == CAIRN_E_NOMEM)
            return nomem(err, msg);
        set_err(err, msg, GW_S3_INTERNAL_ERROR, NULL);
        return rc;
    }
    for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        if (!grants[i].value)
            continue;
        rc = parse_grant_header(acl, grants[i].value, grants[i].perm, err, msg);
        if (rc) {
            gw_acl_free(acl);
            return rc;
        }
    }
    *out = acl;
    return 0;
}

/* ---- AccessControlPolicy XML ------------------------------------------ */

/* The trimmed text of element n (text children only) copied into
 * out[GW_ACL_MAX_ID + 1]. Returns 0 or CAIRN_E_INVAL (nested elements,
 * entity references, too long, or empty unless allow_empty). */
static int elem_text(xmlNodePtr n, char *out, int allow_empty)
{
    out[0] = '\0';
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type != XML_TEXT_NODE)
            return CAIRN_E_INVAL;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return allow_empty ? 0 : CAIRN_E_INVAL;
    const char *s = (const char *)t;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t len = strlen(s);
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    int rc = 0;
    if ((len == 0 && !allow_empty) || len > GW_ACL_MAX_ID) {
        rc = CAIRN_E_INVAL;
    } else {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    xmlFree(t);
    return rc;
}

struct xml_err {
    enum gw_s3err code;
    const char *msg;
};

static int malformed(struct xml_err *e, const char *m)
{
    e->code = GW_S3_MALFORMED_ACL;
    e->msg = m;
    return CAIRN_E_INVAL;
}

static int parse_owner(xmlNodePtr n, struct gw_acl *acl, struct xml_err *e)
{
    char id[GW_ACL_MAX_ID + 1] = "", dn[GW_ACL_MAX_ID + 1] = "";
    int have_id = 0, have_dn = 0;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "ID") && !have_id) {
            if (elem_text(c, id, 0) || !name_valid(id))
                return malformed(e, "Invalid Owner ID");
            have_id = 1;
        } else if (gw_xml_is_elem(c, "DisplayName") && !have_dn) {
            /* An empty DisplayName is the same as none. */
            if (elem_text(c, dn, 1) || (dn[0] && !name_valid(dn)))
                return malformed(e, "Invalid Owner DisplayName");
            have_dn = 1;
        } else {
            return malformed(e, NULL);
        }
    }
    if (!have_id)
        return malformed(e, "Owner has no ID");
    if (dup_opt(id, &acl->owner_id) || dup_opt(dn[0] ? dn : NULL, &acl->owner_display_name)) {
        e->code = GW_S3_INTERNAL_ERROR;
        return CAIRN_E_NOMEM;
    }
    return 0;
}

static int parse_grant(xmlNodePtr n, struct gw_acl *acl, struct xml_err *e)
{
    xmlNodePtr grantee = NULL, permission = NULL;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "Grantee") && !grantee)
            grantee = c;
        else if (gw_xml_is_elem(c, "Permission") && !permission)
            permission = c;
        else
            return malformed(e, NULL);
    }
    if (!grantee || !permission)
        return malformed(e, "Grant needs one Grantee and one Permission");
    char text[GW_ACL_MAX_ID + 1];
    enum gw_acl_perm perm;
    if (elem_text(permission, text, 0) || perm_from_name(text, &perm))
        return malformed(e, "Invalid Permission");
    xmlChar *type = xmlGetNsProp(grantee, (const xmlChar *)"type", (const xmlChar *)XSI_NS);
    if (!type)
        return malformed(e, "Grantee has no xsi:type");
    enum { T_USER, T_GROUP, T_EMAIL, T_BAD } t = T_BAD;
    if (strcmp((const char *)type, "CanonicalUser") == 0)
        t = T_USER;
    else if (strcmp((const char *)type, "Group") == 0)
        t = T_GROUP;
    else if (strcmp((const char *)type, "AmazonCustomerByEmail") == 0)
        t = T_EMAIL;
    xmlFree(type);
    if (t == T_BAD)
        return malformed(e, "Invalid xsi:type of Grantee");
    if (t == T_EMAIL) {
        e->code = GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL;
        e->msg = NULL;
        return CAIRN_E_INVAL;
    }
    char id[GW_ACL_MAX_ID + 1] = "", dn[GW_ACL_MAX_ID + 1] = "", uri[GW_ACL_MAX_ID + 1] = "";
    int have_id = 0, have_dn = 0, have_uri = 0;
    for (xmlNodePtr c = grantee->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (t == T_USER && gw_xml_is_elem(c, "ID") && !have_id) {
            if (elem_text(c, id, 0) || !name_valid(id))
                return malformed(e, "Invalid Grantee ID");
            have_id = 1;
        } else if (t == T_USER && gw_xml_is_elem(c, "DisplayName") && !have_dn) {
            if (elem_text(c, dn, 1) || (dn[0] && !name_valid(dn)))
                return malformed(e, "Invalid Grantee DisplayName");
            have_dn = 1;
        } else if (t == T_GROUP && gw_xml_is_elem(c, "URI") && !have_uri) {
            if (elem_text(c, uri, 0))
                return malformed(e, "Invalid Grantee URI");
            have_uri = 1;
        } else {
            return malformed(e, NULL);
        }
    }
    int rc;
    if (t == T_USER) {
        if (!have_id)
            return malformed(e, "CanonicalUser Grantee has no ID");
        rc = gw_acl_add(acl, GW_ACL_USER, id, dn[0] ? dn : NULL, perm);
    } else {
        enum gw_acl_grantee g;
        if (!have_uri)
            return malformed(e, "Group Grantee has no URI");
        if (group_from_uri(uri, &g)) {
            e->code = GW_S3_INVALID_ARGUMENT;
            e->msg = "Invalid group uri";
            return CAIRN_E_INVAL;
        }
        rc = gw_acl_add(acl, g, NULL, NULL, perm);
    }
    if (rc == CAIRN_E_NOMEM) {
        e->code = GW_S3_INTERNAL_ERROR;
        return rc;
    }
    if (rc)
        return malformed(e, NULL);
    return 0;
}

int gw_acl_parse_xml(const char *body, size_t len, struct gw_acl **out, enum gw_s3err *err,
                     const char **msg)
{
    *out = NULL;
    struct xml_err e = {GW_S3_MALFORMED_ACL, NULL};
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_ACL_MAX_BODY, "AccessControlPolicy");
    if (!doc) {
        set_err(err, msg, e.code, e.msg);
        return CAIRN_E_INVAL;
    }
    int rc = 0;
    struct gw_acl *acl = calloc(1, sizeof(*acl));
    if (!acl) {
        xmlFreeDoc(doc);
        return nomem(err, msg);
    }
    int have_owner = 0, have_list = 0;
    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "Owner") && !have_owner) {
            have_owner = 1;
            rc = parse_owner(c, acl, &e);
        } else if (gw_xml_is_elem(c, "AccessControlList") && !have_list) {
            have_list = 1;
            size_t count = 0;
            for (xmlNodePtr g = c->children; g && rc == 0; g = g->next) {
                if (g->type != XML_ELEMENT_NODE)
                    continue;
                if (!gw_xml_is_elem(g, "Grant"))
                    rc = malformed(&e, NULL);
                else if (++count > GW_ACL_MAX_GRANTS)
                    rc = malformed(&e, "An ACL can have at most 100 grants");
                else
                    rc = parse_grant(g, acl, &e);
            }
        } else {
            rc = malformed(&e, NULL);
        }
    }
    if (rc == 0 && !have_list)
        rc = malformed(&e, "AccessControlPolicy has no AccessControlList");
    xmlFreeDoc(doc);
    if (rc) {
        gw_acl_free(acl);
        set_err(err, msg, e.code, e.msg);
        return rc;
    }
    set_err(err, msg, GW_S3_OK, NULL);
    *out = acl;
    return 0;
}

static void text_elem(struct gw_buf *b, const char *name, const char *value)
{
    gw_buf_printf(b, "<%s>", name);
    gw_buf_xml_escape(b, value, strlen(value));
    gw_buf_printf(b, "</%s>", name);
}

int gw_acl_xml(struct gw_buf *b, const struct gw_acl *acl)
{
    if (!acl || !acl->owner_id)
        return CAIRN_E_INVAL;
    gw_buf_puts(b, XML_DECL "<AccessControlPolicy xmlns=\"" S3_NS "\"><Owner>");
    text_elem(b, "ID", acl->owner_id);
    if (acl->owner_display_name)
        text_elem(b, "DisplayName", acl->owner_display_name);
    gw_buf_puts(b, "</Owner><AccessControlList>");
    for (size_t i = 0; i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        gw_buf_puts(b, "<Grant><Grantee xmlns:xsi=\"" XSI_NS "\" xsi:type=\"");
        if (g->grantee == GW_ACL_USER) {
            gw_buf_puts(b, "CanonicalUser\">");
            text_elem(b, "ID", g->id ? g->id : "");
            if (g->display_name)
                text_elem(b, "DisplayName", g->display_name);
        } else {
            gw_buf_puts(b, "Group\">");
            const char *uri = group_uri(g->grantee);
            text_elem(b, "URI", uri ? uri : "");
        }
        gw_buf_puts(b, "</Grantee>");
        text_elem(b, "Permission", gw_acl_perm_name(g->perm));
        gw_buf_puts(b, "</Grant>");
    }
    gw_buf_puts(b, "</AccessControlList></AccessControlPolicy>");
    return gw_buf_error(b);
}

/* ---- storage --------------------------------------------------------- */

static char *pb_str(const char *s)
{
    return s ? strdup(s) : (char *)protobuf_c_empty_string;
}

static void pb_str_free(char *s)
{
    if (s && s != protobuf_c_empty_string)
        free(s);
}

void gw_acl_proto_free(Md__Acl *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_grants; i++) {
        if (!m->grants[i])
            continue;
        pb_str_free(m->grants[i]->id);
        pb_str_free(m->grants[i]->display_name);
        free(m->grants[i]);
    }
    free(m->grants);
    pb_str_free(m->owner_id);
    pb_str_free(m->owner_display_name);
    free(m);
}

int gw_acl_to_proto(const struct gw_acl *acl, Md__Acl **out)
{
    *out = NULL;
    if (!acl || !acl->owner_id || acl->n_grants > GW_ACL_MAX_GRANTS)
        return CAIRN_E_INVAL;
    Md__Acl *m = malloc(sizeof(*m));
    if (!m)
        return CAIRN_E_NOMEM;
    md__acl__init(m);
    m->version = ACL_FORMAT_VERSION;
    m->owner_id = pb_str(acl->owner_id);
    m->owner_display_name = pb_str(acl->owner_display_name);
    if (!m->owner_id || !m->owner_display_name)
        goto nomem;
    if (acl->n_grants) {
        m->grants = calloc(acl->n_grants, sizeof(*m->grants));
        if (!m->grants)
            goto nomem;
    }
    for (size_t i = 0; i < acl->n_grants; i++) {
        Md__AclGrant *g = malloc(sizeof(*g));
        if (!g)
            goto nomem;
        md__acl_grant__init(g);
        m->grants[i] = g;
        m->n_grants = i + 1;
        /* The enums share their numbering with md.AclGrantee / md.AclPermission. */
        g->grantee = (Md__AclGrantee)acl->grants[i].grantee;
        g->permission = (Md__AclPermission)acl->grants[i].perm;
        g->id = pb_str(acl->grants[i].id);
        g->display_name = pb_str(acl->grants[i].display_name);
        if (!g->id || !g->display_name)
            goto nomem;
    }
    *out = m;
    return 0;
nomem:
    gw_acl_proto_free(m);
    return CAIRN_E_NOMEM;
}

int gw_acl_from_proto(const Md__Acl *m, struct gw_acl **out)
{
    *out = NULL;
    if (!m || m->version != ACL_FORMAT_VERSION || m->n_grants > GW_ACL_MAX_GRANTS)
        return CAIRN_E_CORRUPT;
    struct gw_acl_owner owner = {m->owner_id, m->owner_display_name};
    struct gw_acl *acl = NULL;
    int rc = gw_acl_new(&owner, &acl);
    if (rc)
        return rc == CAIRN_E_NOMEM ? rc : CAIRN_E_CORRUPT;
    for (size_t i = 0; i < m->n_grants; i++) {
        const Md__AclGrant *g = m->grants[i];
        int grantee = (int)g->grantee;
        int is_user = grantee == GW_ACL_USER;
        /* Group grants carry no id; an empty string is proto3's "unset". */
        if (!grantee_valid(grantee) ||
            (!is_user && ((g->id && g->id[0]) || (g->display_name && g->display_name[0])))) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        rc = gw_acl_add(acl, (enum gw_acl_grantee)grantee, is_user ? g->id : NULL,
                        is_user ? g->display_name : NULL, (enum gw_acl_perm)g->permission);
        if (rc) {
            rc = rc == CAIRN_E_NOMEM ? rc : CAIRN_E_CORRUPT;
            break;
        }
    }
    if (rc) {
        gw_acl_free(acl);
        return rc;
    }
    *out = acl;
    return 0;
}

int gw_acl_pack(const struct gw_acl *acl, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    Md__Acl *m = NULL;
    int rc = gw_acl_to_proto(acl, &m);
    if (rc)
        return rc;
    size_t n = md__acl__get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        gw_acl_proto_free(m);
        return CAIRN_E_NOMEM;
    }
    md__acl__pack(m, b);
    gw_acl_proto_free(m);
    *buf = b;
    *len = n;
    return 0;
}

int gw_acl_unpack(const uint8_t *buf, size_t len, struct gw_acl **out)
{
    *out = NULL;
    Md__Acl *m = md__acl__unpack(NULL, len, buf);
    if (!m)
        return CAIRN_E_CORRUPT;
    int rc = gw_acl_from_proto(m, out);
    md__acl__free_unpacked(m, NULL);
    return rc;
}
