#include "gw_xml.h"

#include "cn_error.h"
#include "gw_req.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_NS    "http://s3.amazonaws.com/doc/2006-03-01/"

void gw_xml_init(void)
{
    xmlInitParser();
}

/* ---- builder helpers ------------------------------------------------- */

static void text(struct gw_buf *b, const char *s)
{
    gw_buf_xml_escape(b, s ? s : "", s ? strlen(s) : 0);
}

/* <name>escaped value</name> */
static void elem(struct gw_buf *b, const char *name, const char *value)
{
    gw_buf_printf(b, "<%s>", name);
    text(b, value);
    gw_buf_printf(b, "</%s>", name);
}

/* Like elem(), URI-encoding the value first when encode_url. */
static void elem_enc(struct gw_buf *b, const char *name, const char *value, int encode_url)
{
    if (!encode_url) {
        elem(b, name, value);
        return;
    }
    /* URI-encoded text needs no XML escaping: only [A-Za-z0-9-_.~/%]. A space
     * is %20, as the public S3 conformance suite (s3-tests,
     * test_bucket_list_encoding_basic) expects; AWS has been seen writing
     * '+', and SDKs decode either the same (form decoding). */
    gw_buf_printf(b, "<%s>", name);
    gw_uri_encode(b, value ? value : "", value ? strlen(value) : 0, 1);
    gw_buf_printf(b, "</%s>", name);
}

static void elem_int(struct gw_buf *b, const char *name, long long v)
{
    gw_buf_printf(b, "<%s>%lld</%s>", name, v, name);
}

static void elem_u64(struct gw_buf *b, const char *name, uint64_t v)
{
    gw_buf_printf(b, "<%s>%llu</%s>", name, (unsigned long long)v, name);
}

static void elem_bool(struct gw_buf *b, const char *name, int v)
{
    gw_buf_printf(b, "<%s>%s</%s>", name, v ? "true" : "false", name);
}

static void elem_time(struct gw_buf *b, const char *name, int64_t ms)
{
    char iso[25];
    gw_iso8601_format(ms, iso);
    gw_buf_printf(b, "<%s>%s</%s>", name, iso, name);
}

static void elem_etag(struct gw_buf *b, const char *etag)
{
    gw_buf_puts(b, "<ETag>&quot;");
    text(b, etag);
    gw_buf_puts(b, "&quot;</ETag>");
}

static void owner_elem(struct gw_buf *b, const char *name, const struct gw_xml_owner *o)
{
    gw_buf_printf(b, "<%s>", name);
    elem(b, "ID", o->id);
    if (o->display_name)
        elem(b, "DisplayName", o->display_name);
    gw_buf_printf(b, "</%s>", name);
}

/* ---- ListAllMyBucketsResult ------------------------------------------ */

void gw_xml_buckets_begin(struct gw_buf *b, const struct gw_xml_owner *owner)
{
    gw_buf_puts(b, XML_DECL "<ListAllMyBucketsResult xmlns=\"" S3_NS "\">");
    if (owner)
        owner_elem(b, "Owner", owner);
    gw_buf_puts(b, "<Buckets>");
}

void gw_xml_buckets_add(struct gw_buf *b, const char *name, int64_t created_ms)
{
    gw_buf_puts(b, "<Bucket>");
    elem(b, "Name", name);
    elem_time(b, "CreationDate", created_ms);
    gw_buf_puts(b, "</Bucket>");
}

int gw_xml_buckets_end(struct gw_buf *b)
{
    gw_buf_puts(b, "</Buckets></ListAllMyBucketsResult>");
    return gw_buf_error(b);
}

/* ---- ListBucketResult ------------------------------------------------ */

void gw_xml_list_begin(struct gw_buf *b, const struct gw_xml_list *l)
{
    int enc = l->encode_url;
    gw_buf_puts(b, XML_DECL "<ListBucketResult xmlns=\"" S3_NS "\">");
    elem(b, "Name", l->bucket);
    elem_enc(b, "Prefix", l->prefix, enc);
    if (l->v2) {
        if (l->start_after)
            elem_enc(b, "StartAfter", l->start_after, enc);
        if (l->continuation_token)
            elem(b, "ContinuationToken", l->continuation_token);
        if (l->next_continuation_token)
            elem(b, "NextContinuationToken", l->next_continuation_token);
        elem_int(b, "KeyCount", l->key_count);
    } else {
        elem_enc(b, "Marker", l->marker, enc);
        if (l->next_marker)
            elem_enc(b, "NextMarker", l->next_marker, enc);
    }
    elem_int(b, "MaxKeys", l->max_keys);
    if (l->delimiter)
        elem_enc(b, "Delimiter", l->delimiter, enc);
    if (enc)
        elem(b, "EncodingType", "url");
    elem_bool(b, "IsTruncated", l->is_truncated);
}

void gw_xml_list_add_object(struct gw_buf *b, const struct gw_xml_list *l,
                            const struct gw_xml_object *o)
{
    gw_buf_puts(b, "<Contents>");
    elem_enc(b, "Key", o->key, l->encode_url);
    elem_time(b, "LastModified", o->mtime_ms);
    elem_etag(b, o->etag);
    elem_u64(b, "Size", o->size);
    if (o->owner)
        owner_elem(b, "Owner", o->owner);
    elem(b, "StorageClass", o->storage_class ? o->storage_class : "STANDARD");
    gw_buf_puts(b, "</Contents>");
}

void gw_xml_list_add_prefix(struct gw_buf *b, const struct gw_xml_list *l, const char *prefix)
{
    gw_buf_puts(b, "<CommonPrefixes>");
    elem_enc(b, "Prefix", prefix, l->encode_url);
    gw_buf_puts(b, "</CommonPrefixes>");
}

int gw_xml_list_end(struct gw_buf *b, const struct gw_xml_list *l)
{
    (void)l;
    gw_buf_puts(b, "</ListBucketResult>");
    return gw_buf_error(b);
}

/* ---- multipart ------------------------------------------------------- */

int gw_xml_initiate_multipart(struct gw_buf *b, const char *bucket, const char *key,
                              const char *upload_id)
{
    gw_buf_puts(b, XML_DECL "<InitiateMultipartUploadResult xmlns=\"" S3_NS "\">");
    elem(b, "Bucket", bucket);
    elem(b, "Key", key);
    elem(b, "UploadId", upload_id);
    gw_buf_puts(b, "</InitiateMultipartUploadResult>");
    return gw_buf_error(b);
}

int gw_xml_complete_multipart(struct gw_buf *b, const char *location, const char *bucket,
                              const char *key, const char *etag)
{
    gw_buf_puts(b, XML_DECL "<CompleteMultipartUploadResult xmlns=\"" S3_NS "\">");
    if (location)
        elem(b, "Location", location);
    elem(b, "Bucket", bucket);
    elem(b, "Key", key);
    elem_etag(b, etag);
    gw_buf_puts(b, "</CompleteMultipartUploadResult>");
    return gw_buf_error(b);
}

void gw_xml_parts_begin(struct gw_buf *b, const struct gw_xml_parts *p)
{
    gw_buf_puts(b, XML_DECL "<ListPartsResult xmlns=\"" S3_NS "\">");
    elem(b, "Bucket", p->bucket);
    elem(b, "Key", p->key);
    elem(b, "UploadId", p->upload_id);
    if (p->owner) {
        owner_elem(b, "Initiator", p->owner);
        owner_elem(b, "Owner", p->owner);
    }
    elem(b, "StorageClass", p->storage_class ? p->storage_class : "STANDARD");
    elem_int(b, "PartNumberMarker", p->part_number_marker);
    elem_int(b, "NextPartNumberMarker", p->next_part_number_marker);
    elem_int(b, "MaxParts", p->max_parts);
    elem_bool(b, "IsTruncated", p->is_truncated);
}

void gw_xml_parts_add(struct gw_buf *b, int part_number, int64_t mtime_ms, const char *etag,
                      uint64_t size)
{
    gw_buf_puts(b, "<Part>");
    elem_int(b, "PartNumber", part_number);
    elem_time(b, "LastModified", mtime_ms);
    elem_etag(b, etag);
    elem_u64(b, "Size", size);
    gw_buf_puts(b, "</Part>");
}

int gw_xml_parts_end(struct gw_buf *b)
{
    gw_buf_puts(b, "</ListPartsResult>");
    return gw_buf_error(b);
}

void gw_xml_uploads_begin(struct gw_buf *b, const struct gw_xml_uploads *u)
{
    int enc = u->encode_url;
    gw_buf_puts(b, XML_DECL "<ListMultipartUploadsResult xmlns=\"" S3_NS "\">");
    elem(b, "Bucket", u->bucket);
    elem_enc(b, "KeyMarker", u->key_marker, enc);
    elem(b, "UploadIdMarker", u->upload_id_marker);
    elem_enc(b, "NextKeyMarker", u->next_key_marker, enc);
    elem(b, "NextUploadIdMarker", u->next_upload_id_marker);
    elem_enc(b, "Prefix", u->prefix, enc);
    if (u->delimiter)
        elem_enc(b, "Delimiter", u->delimiter, enc);
    elem_int(b, "MaxUploads", u->max_uploads);
    if (enc)
        elem(b, "EncodingType", "url");
    elem_bool(b, "IsTruncated", u->is_truncated);
}

void gw_xml_uploads_add(struct gw_buf *b, const struct gw_xml_uploads *u, const char *key,
                        const char *upload_id, int64_t initiated_ms, const char *storage_class,
                        const struct gw_xml_owner *owner)
{
    gw_buf_puts(b, "<Upload>");
    elem_enc(b, "Key", key, u->encode_url);
    elem(b, "UploadId", upload_id);
    if (owner) {
        owner_elem(b, "Initiator", owner);
        owner_elem(b, "Owner", owner);
    }
    elem(b, "StorageClass", storage_class ? storage_class : "STANDARD");
    elem_time(b, "Initiated", initiated_ms);
    gw_buf_puts(b, "</Upload>");
}

void gw_xml_uploads_add_prefix(struct gw_buf *b, const struct gw_xml_uploads *u, const char *prefix)
{
    gw_buf_puts(b, "<CommonPrefixes>");
    elem_enc(b, "Prefix", prefix, u->encode_url);
    gw_buf_puts(b, "</CommonPrefixes>");
}

int gw_xml_uploads_end(struct gw_buf *b, const struct gw_xml_uploads *u)
{
    (void)u;
    gw_buf_puts(b, "</ListMultipartUploadsResult>");
    return gw_buf_error(b);
}

/* ---- copy, delete, location ------------------------------------------ */

static int copy_result(struct gw_buf *b, const char *root, int64_t mtime_ms, const char *etag)
{
    gw_buf_printf(b, XML_DECL "<%s xmlns=\"" S3_NS "\">", root);
    elem_time(b, "LastModified", mtime_ms);
    elem_etag(b, etag);
    gw_buf_printf(b, "</%s>", root);
    return gw_buf_error(b);
}

int gw_xml_copy_object_result(struct gw_buf *b, int64_t mtime_ms, const char *etag)
{
    return copy_result(b, "CopyObjectResult", mtime_ms, etag);
}

int gw_xml_copy_part_result(struct gw_buf *b, int64_t mtime_ms, const char *etag)
{
    return copy_result(b, "CopyPartResult", mtime_ms, etag);
}

void gw_xml_delete_begin(struct gw_buf *b)
{
    gw_buf_puts(b, XML_DECL "<DeleteResult xmlns=\"" S3_NS "\">");
}

void gw_xml_delete_deleted(struct gw_buf *b, const char *key)
{
    gw_buf_puts(b, "<Deleted>");
    elem(b, "Key", key);
    gw_buf_puts(b, "</Deleted>");
}

void gw_xml_delete_deleted_version(struct gw_buf *b, const char *key, const char *version_id,
                                   int marker, const char *marker_vid)
{
    gw_buf_puts(b, "<Deleted>");
    elem(b, "Key", key);
    if (version_id)
        elem(b, "VersionId", version_id);
    if (marker) {
        elem_bool(b, "DeleteMarker", 1);
        if (marker_vid)
            elem(b, "DeleteMarkerVersionId", marker_vid);
    }
    gw_buf_puts(b, "</Deleted>");
}

void gw_xml_delete_error_version(struct gw_buf *b, const char *key, const char *version_id,
                                 enum gw_s3err code, const char *message)
{
    gw_buf_puts(b, "<Error>");
    elem(b, "Key", key);
    if (version_id)
        elem(b, "VersionId", version_id);
    elem(b, "Code", gw_s3err_code(code));
    elem(b, "Message", message ? message : gw_s3err_message(code));
    gw_buf_puts(b, "</Error>");
}

void gw_xml_delete_error(struct gw_buf *b, const char *key, enum gw_s3err code, const char *message)
{
    gw_buf_puts(b, "<Error>");
    elem(b, "Key", key);
    elem(b, "Code", gw_s3err_code(code));
    elem(b, "Message", message ? message : gw_s3err_message(code));
    gw_buf_puts(b, "</Error>");
}

int gw_xml_delete_end(struct gw_buf *b)
{
    gw_buf_puts(b, "</DeleteResult>");
    return gw_buf_error(b);
}

void gw_xml_versions_begin(struct gw_buf *b, const struct gw_xml_versions *v)
{
    gw_buf_puts(b, XML_DECL "<ListVersionsResult xmlns=\"" S3_NS "\">");
    elem(b, "Name", v->bucket);
    elem_enc(b, "Prefix", v->prefix, v->encode_url);
    elem_enc(b, "KeyMarker", v->key_marker, v->encode_url);
    elem(b, "VersionIdMarker", v->version_id_marker);
    if (v->next_key_marker)
        elem_enc(b, "NextKeyMarker", v->next_key_marker, v->encode_url);
    if (v->next_version_id_marker)
        elem(b, "NextVersionIdMarker", v->next_version_id_marker);
    elem_int(b, "MaxKeys", v->max_keys);
    if (v->delimiter)
        elem_enc(b, "Delimiter", v->delimiter, v->encode_url);
    if (v->encode_url)
        elem(b, "EncodingType", "url");
    elem_bool(b, "IsTruncated", v->is_truncated);
}

void gw_xml_versions_add(struct gw_buf *b, const struct gw_xml_versions *v,
                         const struct gw_xml_version *e)
{
    gw_buf_puts(b, e->delete_marker ? "<DeleteMarker>" : "<Version>");
    elem_enc(b, "Key", e->key, v->encode_url);
    elem(b, "VersionId", e->version_id);
    elem_bool(b, "IsLatest", e->is_latest);
    elem_time(b, "LastModified", e->mtime_ms);
    if (!e->delete_marker) {
        elem_etag(b, e->etag);
        elem_u64(b, "Size", e->size);
        elem(b, "StorageClass", e->storage_class ? e->storage_class : "STANDARD");
    }
    if (e->owner)
        owner_elem(b, "Owner", e->owner);
    gw_buf_puts(b, e->delete_marker ? "</DeleteMarker>" : "</Version>");
}

void gw_xml_versions_add_prefix(struct gw_buf *b, const struct gw_xml_versions *v,
                                const char *prefix)
{
    gw_buf_puts(b, "<CommonPrefixes>");
    elem_enc(b, "Prefix", prefix, v->encode_url);
    gw_buf_puts(b, "</CommonPrefixes>");
}

int gw_xml_versions_end(struct gw_buf *b)
{
    gw_buf_puts(b, "</ListVersionsResult>");
    return gw_buf_error(b);
}

int gw_xml_location_constraint(struct gw_buf *b, const char *region)
{
    gw_buf_puts(b, XML_DECL "<LocationConstraint xmlns=\"" S3_NS "\">");
    if (region && strcmp(region, "us-east-1") != 0)
        text(b, region);
    gw_buf_puts(b, "</LocationConstraint>");
    return gw_buf_error(b);
}

/* ---- parsers --------------------------------------------------------- */

xmlDocPtr gw_xml_parse_doc(const char *body, size_t len, size_t max, const char *root)
{
    if (!body || len == 0 || len > max)
        return NULL;
    /* No XML_PARSE_NOENT (entities are not substituted), no XML_PARSE_DTDLOAD
     * (no external subset), no network. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlReadMemory(body, (int)len, NULL, NULL, opts);
    if (!doc)
        return NULL;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    if (doc->intSubset || doc->extSubset || !r || strcmp((const char *)r->name, root) != 0) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

int gw_xml_is_elem(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* Text of element n (all descendant text, entity references NOT expanded: a
 * reference makes the content invalid). Returns a malloc'd string or NULL. */
static char *node_text(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type != XML_TEXT_NODE)
            return NULL; /* nested elements or entity references */
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return strdup("");
    char *s = strdup((const char *)t);
    xmlFree(t);
    return s;
}

/* Copies text without surrounding XML whitespace into out[cap]. */
static int trimmed_copy(const char *s, char *out, size_t cap)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t len = strlen(s);
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (len >= cap)
        return CAIRN_E_RANGE;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

int gw_xml_child_text(xmlNodePtr parent, const char *name, char *out, size_t cap)
{
    int found = 0;
    for (xmlNodePtr c = parent->children; c; c = c->next) {
        if (!gw_xml_is_elem(c, name))
            continue;
        if (found)
            return CAIRN_E_PROTO;
        char *t = node_text(c);
        int rc = t ? trimmed_copy(t, out, cap) : CAIRN_E_PROTO;
        free(t);
        if (rc != 0)
            return CAIRN_E_PROTO;
        found = 1;
    }
    return found;
}

int gw_xml_parse_complete(const char *body, size_t len, struct gw_xml_part **parts, size_t *n,
                          enum gw_s3err *err)
{
    *parts = NULL;
    *n = 0;
    *err = GW_S3_MALFORMED_XML;
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_XML_MAX_BODY, "CompleteMultipartUpload");
    if (!doc)
        return CAIRN_E_PROTO;
    int rc = CAIRN_E_PROTO;
    size_t count = 0;
    struct gw_xml_part *out = NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (gw_xml_is_elem(c, "Part"))
            count++;
    if (count == 0)
        goto out;
    if (count > GW_XML_MAX_PARTS) {
        *err = GW_S3_TOO_MANY_PARTS;
        rc = CAIRN_E_RANGE;
        goto out;
    }
    out = calloc(count, sizeof(*out));
    if (!out) {
        *err = GW_S3_INTERNAL_ERROR;
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    size_t i = 0;
    int order_bad = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !gw_xml_is_elem(c, "Part"))
            goto out; /* unknown element at the top level */
        if (!gw_xml_is_elem(c, "Part"))
            continue;
        int have_num = 0, have_etag = 0;
        for (xmlNodePtr f = c->children; f; f = f->next) {
            if (f->type != XML_ELEMENT_NODE)
                continue;
            if (gw_xml_is_elem(f, "PartNumber") || gw_xml_is_elem(f, "ETag")) {
                char *t = node_text(f);
                if (!t)
                    goto out;
                char buf[sizeof(out[i].etag)];
                int trc = trimmed_copy(t, buf, sizeof(buf));
                free(t);
                if (trc)
                    goto out;
                if (gw_xml_is_elem(f, "PartNumber")) {
                    char *end = NULL;
                    long v = strtol(buf, &end, 10);
                    if (!buf[0] || *end || !isdigit((unsigned char)buf[0]) || have_num)
                        goto out;
                    if (v < 1 || v > 10000) {
                        *err = GW_S3_TOO_MANY_PARTS;
                        rc = CAIRN_E_RANGE;
                        goto out;
                    }
                    out[i].part_number = (int)v;
                    have_num = 1;
                } else {
                    if (have_etag)
                        goto out;
                    size_t el = strlen(buf);
                    if (el >= 2 && buf[0] == '"' && buf[el - 1] == '"') {
                        memmove(buf, buf + 1, el - 2);
                        buf[el - 2] = '\0';
                    }
                    if (!buf[0])
                        goto out;
                    strcpy(out[i].etag, buf);
                    have_etag = 1;
                }
            }
            /* Checksum* and other per-part elements are ignored. */
        }
        if (!have_num || !have_etag)
            goto out;
        if (i > 0 && out[i].part_number <= out[i - 1].part_number)
            order_bad = 1;
        i++;
    }
    if (order_bad) {
        *err = GW_S3_INVALID_PART_ORDER;
        rc = CAIRN_E_INVAL;
        goto out;
    }
    *parts = out;
    *n = count;
    out = NULL;
    *err = GW_S3_OK;
    rc = 0;
out:
    free(out);
    xmlFreeDoc(doc);
    return rc;
}

void gw_xml_delete_req_free(struct gw_xml_delete_req *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->keys[i]);
        if (d->version_ids)
            free(d->version_ids[i]);
    }
    free(d->keys);
    free(d->version_ids);
    memset(d, 0, sizeof(*d));
}

int gw_xml_parse_delete(const char *body, size_t len, struct gw_xml_delete_req *out,
                        enum gw_s3err *err)
{
    memset(out, 0, sizeof(*out));
    *err = GW_S3_MALFORMED_XML;
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_XML_MAX_BODY, "Delete");
    if (!doc)
        return CAIRN_E_PROTO;
    int rc = CAIRN_E_PROTO;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    size_t count = 0;
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (gw_xml_is_elem(c, "Object"))
            count++;
    if (count == 0 || count > GW_XML_MAX_DELETE)
        goto out;
    out->keys = calloc(count, sizeof(char *));
    out->version_ids = calloc(count, sizeof(char *));
    if (!out->keys || !out->version_ids) {
        *err = GW_S3_INTERNAL_ERROR;
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    int have_quiet = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (gw_xml_is_elem(c, "Quiet")) {
            char *t = node_text(c);
            char v[8];
            int ok = t && trimmed_copy(t, v, sizeof(v)) == 0 && !have_quiet;
            free(t);
            if (!ok)
                goto out;
            if (strcasecmp(v, "true") == 0)
                out->quiet = 1;
            else if (strcasecmp(v, "false") != 0)
                goto out;
            have_quiet = 1;
            continue;
        }
        if (!gw_xml_is_elem(c, "Object"))
            goto out;
        char *key = NULL;
        char vid[128];
        int has_vid = gw_xml_child_text(c, "VersionId", vid, sizeof(vid));
        if (has_vid < 0)
            goto out;
        for (xmlNodePtr f = c->children; f; f = f->next) {
            if (!gw_xml_is_elem(f, "Key"))
                continue; /* VersionId above; ETag, ...: ignored */
            if (key) {
                free(key);
                goto out;
            }
            key = node_text(f); /* keys are not trimmed: blanks are part of a key */
            if (!key)
                goto out;
        }
        if (!key || !key[0]) {
            free(key);
            goto out;
        }
        if (has_vid) {
            out->version_ids[out->n] = strdup(vid);
            if (!out->version_ids[out->n]) {
                free(key);
                *err = GW_S3_INTERNAL_ERROR;
                rc = CAIRN_E_NOMEM;
                goto out;
            }
        }
        out->keys[out->n++] = key;
    }
    *err = GW_S3_OK;
    rc = 0;
out:
    if (rc)
        gw_xml_delete_req_free(out);
    xmlFreeDoc(doc);
    return rc;
}

int gw_xml_parse_create_bucket(const char *body, size_t len, char *region, size_t cap,
                               enum gw_s3err *err)
{
    *err = GW_S3_MALFORMED_XML;
    if (cap == 0)
        return CAIRN_E_RANGE;
    region[0] = '\0';
    xmlDocPtr doc = gw_xml_parse_doc(body, len, GW_XML_MAX_BODY, "CreateBucketConfiguration");
    if (!doc)
        return CAIRN_E_PROTO;
    int rc = 0, seen = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root->children; c && rc == 0; c = c->next) {
        if (!gw_xml_is_elem(c, "LocationConstraint"))
            continue; /* Bucket, Location and other newer elements are ignored */
        char *t = node_text(c);
        if (!t || seen || trimmed_copy(t, region, cap))
            rc = CAIRN_E_PROTO;
        seen = 1;
        free(t);
    }
    xmlFreeDoc(doc);
    if (rc == 0)
        *err = GW_S3_OK;
    else
        region[0] = '\0';
    return rc;
}
