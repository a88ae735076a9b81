/* GetObjectAttributes (GET /bucket/key?attributes): what HEAD says and a
 * multipart object's parts, chosen by x-amz-object-attributes (ETag,
 * Checksum, ObjectParts, StorageClass, ObjectSize; comma-separated, at least
 * one). Checksum is accepted and answered with nothing: Cairn checks
 * x-amz-checksum-* on upload but does not keep them (S3 likewise omits it for
 * an object stored without one). ObjectParts appears for multipart objects
 * only, paged by x-amz-max-parts (default and cap 1000) and
 * x-amz-part-number-marker. */
#include "gw_s3_int.h"

#include "cn_util.h"

#include <inttypes.h>
#include <string.h>

#define XML_DECL  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define MAX_PARTS 1000

/* A non-negative integer header (absent: dflt). 0 or CAIRN_E_INVAL. */
static int int_header(struct s3_req *r, const char *name, uint64_t max, uint64_t dflt,
                      uint64_t *out)
{
    const char *v = s3_hdr(r, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    return cn_parse_u64(v, max, out);
}

int s3_op_get_object_attributes(struct cn_http_req *req, struct s3_req *r)
{
    unsigned want;
    if (gw_object_attributes_parse(s3_hdr(r, "x-amz-object-attributes"), &want) != 0)
        return s3_error(req, r, GW_S3_INVALID_ARGUMENT, "Invalid attribute name specified.");
    uint64_t max_parts, marker;
    if (int_header(r, "x-amz-max-parts", INT32_MAX, MAX_PARTS, &max_parts) != 0)
        return s3_error(req, r, GW_S3_INVALID_ARGUMENT, "Invalid x-amz-max-parts.");
    if (int_header(r, "x-amz-part-number-marker", INT32_MAX, 0, &marker) != 0)
        return s3_error(req, r, GW_S3_INVALID_ARGUMENT, "Invalid x-amz-part-number-marker.");
    if (max_parts > MAX_PARTS)
        max_parts = MAX_PARTS;

    Md__QueryResult *res = NULL;
    struct s3_marker mk;
    const char *vid = s3_version_arg(r);
    enum gw_s3err e = s3_md_get_version(r, r->t.bucket, r->t.key, vid, &res, &mk);
    if (e != GW_S3_OK) {
        s3_marker_headers(req, &mk, vid != NULL);
        return s3_error(req, r, e, NULL);
    }
    const Md__ObjectRecord *rec = res->object;
    s3_version_headers(req, r, rec);
    char lm[30];
    gw_http_date_format(rec->mtime_ms / 1000, lm);
    cn_http_resp_header(req, "Last-Modified", lm);

    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, XML_DECL "<GetObjectAttributesResponse xmlns=\"" S3_NS "\">");
    if (want & GW_ATTR_ETAG) {
        gw_buf_puts(&b, "<ETag>");
        gw_buf_xml_escape(&b, rec->etag, strlen(rec->etag));
        gw_buf_puts(&b, "</ETag>");
    }
    if ((want & GW_ATTR_PARTS) && rec->n_part_sizes > 0) {
        uint64_t total = rec->n_part_sizes;
        uint64_t first = marker < total ? marker : total; /* parts are numbered from 1 */
        uint64_t last = first + max_parts < total ? first + max_parts : total;
        int truncated = last < total;
        gw_buf_printf(&b,
                      "<ObjectParts><PartsCount>%" PRIu64 "</PartsCount>"
                      "<PartNumberMarker>%" PRIu64 "</PartNumberMarker>",
                      total, marker);
        if (last > first)
            gw_buf_printf(&b, "<NextPartNumberMarker>%" PRIu64 "</NextPartNumberMarker>", last);
        gw_buf_printf(&b, "<MaxParts>%" PRIu64 "</MaxParts><IsTruncated>%s</IsTruncated>",
                      max_parts, truncated ? "true" : "false");
        for (uint64_t i = first; i < last; i++)
            gw_buf_printf(
                &b, "<Part><PartNumber>%" PRIu64 "</PartNumber><Size>%" PRIu64 "</Size></Part>",
                i + 1, rec->part_sizes[i]);
        gw_buf_puts(&b, "</ObjectParts>");
    }
    if (want & GW_ATTR_STORAGE_CLASS) {
        const char *sc =
            rec->attrs && rec->attrs->storage_class[0] ? rec->attrs->storage_class : "STANDARD";
        gw_buf_puts(&b, "<StorageClass>");
        gw_buf_xml_escape(&b, sc, strlen(sc));
        gw_buf_puts(&b, "</StorageClass>");
    }
    if (want & GW_ATTR_SIZE)
        gw_buf_printf(&b, "<ObjectSize>%" PRIu64 "</ObjectSize>", rec->size);
    gw_buf_puts(&b, "</GetObjectAttributesResponse>");
    s3_md_query_free(res);
    s3_respond_xml(req, r, gw_buf_error(&b), &b);
    return 0;
}
