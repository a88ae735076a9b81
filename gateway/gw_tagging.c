/* S3 tag sets: the Tagging document, the x-amz-tagging header and S3's
 * limits (gw_tagging.h). */
#include "gw_tagging.h"

#include "cn_error.h"
#include "gw_req.h"
#include "gw_xml.h"

#include <stdlib.h>
#include <string.h>

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

void gw_tags_free(struct gw_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free((char *)t->tags[i].key);
        free((char *)t->tags[i].value);
    }
    free(t->tags);
    t->tags = NULL;
    t->n = 0;
}

long gw_utf16_units(const char *s)
{
    long units = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n;
        uint32_t cp;
        if (p[0] < 0x80) {
            n = 1;
            cp = p[0];
        } else if ((p[0] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[0] & 0x1f;
        } else if ((p[0] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[0] & 0x0f;
        } else if ((p[0] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[0] & 0x07;
        } else {
            return -1;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        units += cp >= 0x10000 ? 2 : 1;
        p += n;
    }
    return units;
}

/* 1 if every character of s is one S3 allows in a tag: letters, digits,
 * spaces, + - = . _ : / @ (non-ASCII characters count as letters). */
static int tag_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80)
            continue;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
            continue;
        if (!strchr(" +-=._:/@", *p))
            return 0;
    }
    return 1;
}

static int refuse(enum gw_s3err *err, const char **msg, enum gw_s3err e, const char *m)
{
    *err = e;
    *msg = m;
    return CAIRN_E_INVAL;
}

int gw_tags_check(const struct md_tag *tags, size_t n, enum gw_tag_kind kind, enum gw_s3err *err,
                  const char **msg)
{
    if (kind == GW_TAGS_OBJECT && n > GW_TAGS_MAX_OBJECT)
        return refuse(err, msg, GW_S3_BAD_REQUEST, "Object tags cannot be greater than 10");
    if (kind == GW_TAGS_BUCKET && n > GW_TAGS_MAX_BUCKET)
        return refuse(err, msg, GW_S3_BAD_REQUEST, "Bucket tag count cannot be greater than 50");
    for (size_t i = 0; i < n; i++) {
        long kl = gw_utf16_units(tags[i].key), vl = gw_utf16_units(tags[i].value);
        if (kl > GW_TAG_KEY_MAX)
            return refuse(err, msg, GW_S3_INVALID_TAG,
                          "The TagKey you have provided is too long, max 128");
        if (vl > GW_TAG_VALUE_MAX)
            return refuse(err, msg, GW_S3_INVALID_TAG,
                          "The TagValue you have provided is too long, max 256");
        if (kl <= 0 || !tag_chars_ok(tags[i].key))
            return refuse(err, msg, GW_S3_INVALID_TAG, "The TagKey you have provided is invalid");
        if (vl < 0 || !tag_chars_ok(tags[i].value))
            return refuse(err, msg, GW_S3_INVALID_TAG, "The TagValue you have provided is invalid");
        if (strncmp(tags[i].key, "aws:", 4) == 0)
            return refuse(err, msg, GW_S3_INVALID_TAG, "Your TagKey cannot be prefixed with aws:");
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i].key, tags[j].key) == 0)
                return refuse(err, msg, GW_S3_INVALID_TAG,
                              "Cannot provide multiple Tags with the same key");
    }
    return 0;
}

/* Appends a copy of key/value (len bytes each) to t. */
static int tags_push(struct gw_tags *t, const char *k, size_t kl, const char *v, size_t vl)
{
    struct md_tag *a = realloc(t->tags, (t->n + 1) * sizeof(*a));
    if (!a)
        return CAIRN_E_NOMEM;
    t->tags = a;
    char *kc = malloc(kl + 1), *vc = malloc(vl + 1);
    if (!kc || !vc) {
        free(kc);
        free(vc);
        return CAIRN_E_NOMEM;
    }
    memcpy(kc, k, kl);
    kc[kl] = '\0';
    memcpy(vc, v, vl);
    vc[vl] = '\0';
    a[t->n++] = (struct md_tag){kc, vc};
    return 0;
}

/* The text of element n ("" when empty), malloc'ed; NULL on failure. */
static char *elem_text(xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    char *s = strdup(c ? (const char *)c : "");
    xmlFree(c);
    return s;
}

/* Parses one <Tag> into t. Returns 0, CAIRN_E_INVAL (malformed) or
 * CAIRN_E_NOMEM. */
static int parse_tag(xmlNodePtr tag, struct gw_tags *t)
{
    char *key = NULL, *value = NULL;
    int rc = 0;
    for (xmlNodePtr c = tag->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char **slot = gw_xml_is_elem(c, "Key") ? &key : gw_xml_is_elem(c, "Value") ? &value : NULL;
        if (!slot || *slot) {
            rc = CAIRN_E_INVAL; /* an unknown or a repeated element */
            break;
        }
        *slot = elem_text(c);
        if (!*slot)
            rc = CAIRN_E_NOMEM;
    }
    if (rc == 0 && (!key || !value))
        rc = CAIRN_E_INVAL;
    if (rc == 0)
        rc = tags_push(t, key, strlen(key), value, strlen(value));
    free(key);
    free(value);
    return rc;
}

int gw_tags_parse_xml(const char *body, size_t len, enum gw_tag_kind kind, struct gw_tags *out,
                      enum gw_s3err *err, const char **msg)
{
    memset(out, 0, sizeof(*out));
    *msg = NULL;
    *err = GW_S3_MALFORMED_XML;
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_XML_MAX_BODY, "Tagging");
    if (!doc)
        return CAIRN_E_INVAL;
    int rc = 0, sets = 0;
    for (xmlNodePtr s = xmlDocGetRootElement(doc)->children; s && rc == 0; s = s->next) {
        if (s->type != XML_ELEMENT_NODE)
            continue;
        if (!gw_xml_is_elem(s, "TagSet") || sets++) {
            rc = CAIRN_E_INVAL;
            break;
        }
        for (xmlNodePtr tag = s->children; tag && rc == 0; tag = tag->next) {
            if (tag->type != XML_ELEMENT_NODE)
                continue;
            if (!gw_xml_is_elem(tag, "Tag") || out->n > GW_TAGS_MAX_BUCKET + 1000)
                rc = CAIRN_E_INVAL;
            else
                rc = parse_tag(tag, out);
        }
    }
    xmlFreeDoc(doc);
    if (rc == 0 && sets != 1)
        rc = CAIRN_E_INVAL;
    if (rc == 0)
        rc = gw_tags_check(out->tags, out->n, kind, err, msg);
    else if (rc == CAIRN_E_NOMEM)
        *err = GW_S3_INTERNAL_ERROR;
    if (rc)
        gw_tags_free(out);
    return rc;
}

int gw_tags_parse_header(const char *value, struct gw_tags *out, enum gw_s3err *err,
                         const char **msg)
{
    memset(out, 0, sizeof(*out));
    *msg = NULL;
    size_t vlen = strlen(value);
    char *k = malloc(vlen + 1), *v = malloc(vlen + 1);
    int rc = k && v ? 0 : CAIRN_E_NOMEM;
    for (const char *p = value; rc == 0 && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        int kl = gw_url_decode(p, kn, k, vlen + 1, 1);
        int vl = eq ? gw_url_decode(eq + 1, n - kn - 1, v, vlen + 1, 1) : 0;
        if (!eq)
            v[0] = '\0';
        if (kl < 0 || vl < 0) {
            rc = refuse(err, msg, GW_S3_INVALID_ARGUMENT,
                        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded "
                        "URL query parameters without tag name duplicates.");
            break;
        }
        if (n > 0) {
            for (size_t j = 0; j < out->n && rc == 0; j++)
                if (strcmp(out->tags[j].key, k) == 0)
                    rc = refuse(err, msg, GW_S3_INVALID_ARGUMENT,
                                "The header 'x-amz-tagging' shall be encoded as UTF-8 then "
                                "URLEncoded URL query parameters without tag name duplicates.");
            if (rc == 0 && out->n > GW_TAGS_MAX_OBJECT)
                rc = refuse(err, msg, GW_S3_BAD_REQUEST, "Object tags cannot be greater than 10");
            if (rc == 0)
                rc = tags_push(out, k, (size_t)kl, v, (size_t)vl);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    free(k);
    free(v);
    if (rc == CAIRN_E_NOMEM)
        *err = GW_S3_INTERNAL_ERROR;
    if (rc == 0)
        rc = gw_tags_check(out->tags, out->n, GW_TAGS_OBJECT, err, msg);
    if (rc)
        gw_tags_free(out);
    return rc;
}

int gw_tags_xml(struct gw_buf *b, const struct md_tag *tags, size_t n)
{
    gw_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"" XMLNS
                   "\"><TagSet>");
    for (size_t i = 0; i < n; i++) {
        gw_buf_puts(b, "<Tag><Key>");
        gw_buf_xml_escape(b, tags[i].key, strlen(tags[i].key));
        gw_buf_puts(b, "</Key><Value>");
        gw_buf_xml_escape(b, tags[i].value, strlen(tags[i].value));
        gw_buf_puts(b, "</Value></Tag>");
    }
    gw_buf_puts(b, "</TagSet></Tagging>");
    return gw_buf_error(b);
}
