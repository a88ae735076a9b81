/* Harness range: the Range and conditional-request headers (gateway/gw_req.c:
 * Range, x-amz-copy-source-range, If-Match / If-None-Match entity-tag lists,
 * x-amz-object-attributes (read from the Range line),
 * If-(Un)Modified-Since HTTP dates, x-amz-date).
 *
 * Input (text, one field a line): object size (decimal), Range,
 * x-amz-copy-source-range, If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since, the object's ETag, its mtime (Unix ms). Oracles: a
 * partial range lies inside the object; Content-Range is well-formed; a
 * date that parses formats back (IMF-fixdate) to a string that parses to
 * the same second; a failed condition is one of the two S3 answers. */
#include "fuzz.h"

#include "gw_req.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void check_range(const char *hdr, uint64_t size)
{
    struct gw_range r;
    enum gw_range_kind k = gw_range_parse(hdr, size, &r);
    char cr[64];
    if (k == GW_RANGE_PARTIAL) {
        fuzz_check(r.first <= r.last && r.last < size, "range %" PRIu64 "-%" PRIu64 " of %" PRIu64,
                   r.first, r.last, size);
        gw_content_range_format(&r, size, cr);
        fuzz_check(strncmp(cr, "bytes ", 6) == 0 && strchr(cr, '/'), "Content-Range %s", cr);
    } else if (k == GW_RANGE_UNSATISFIABLE) {
        gw_content_range_format(NULL, size, cr);
        fuzz_check(strncmp(cr, "bytes */", 8) == 0, "Content-Range %s", cr);
    } else {
        fuzz_check(k == GW_RANGE_NONE, "range kind %d", (int)k);
    }
    enum gw_s3err e;
    if (gw_copy_source_range_parse(hdr, size, &r, &e) == 0)
        fuzz_check(r.first <= r.last && r.last < size, "copy range %" PRIu64 "-%" PRIu64, r.first,
                   r.last);
}

static void check_date(const char *s)
{
    int64_t t, back;
    if (gw_http_date_parse(s, &t) == 0) {
        char out[30];
        gw_http_date_format(t, out);
        fuzz_check(gw_http_date_parse(out, &back) == 0 && back == t,
                   "\"%s\" -> %" PRId64 " -> \"%s\" does not parse back", s, t, out);
        char iso[25];
        gw_iso8601_format(t * 1000, iso);
        fuzz_check(strlen(iso) == 24, "ISO 8601 \"%s\"", iso);
    }
    if (gw_amz_date_parse(s, &t) == 0) {
        char iso[25];
        gw_iso8601_format(t * 1000, iso);
        fuzz_check(strncmp(iso, s, 4) == 0, "x-amz-date %s formats as %s", s, iso);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    fuzz_in_init(&in, data, size);
    uint64_t obj_size = strtoull(fuzz_line(&in, NULL), NULL, 10);
    const char *range = fuzz_line(&in, NULL);
    const char *copy_range = fuzz_line(&in, NULL);
    struct gw_cond c = {
        .if_match = fuzz_line(&in, NULL),
        .if_none_match = fuzz_line(&in, NULL),
        .if_modified_since = fuzz_line(&in, NULL),
        .if_unmodified_since = fuzz_line(&in, NULL),
    };
    const char *etag = fuzz_line(&in, NULL);
    int64_t mtime_ms = strtoll(fuzz_line(&in, NULL), NULL, 10);

    const uint64_t sizes[] = {0, 1, obj_size, obj_size + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_range(range, sizes[i]);
        check_range(copy_range, sizes[i]);
    }
    /* GetObjectAttributes' list, from the Range line */
    unsigned attrs;
    if (gw_object_attributes_parse(range, &attrs) == 0)
        fuzz_check(attrs != 0 && attrs < 32, "attributes mask %u", attrs);
    check_date(c.if_modified_since);
    check_date(c.if_unmodified_since);
    /* Listings and Last-Modified format whatever mtime a record holds. */
    char iso[25], http[30];
    gw_iso8601_format(mtime_ms, iso);
    gw_http_date_format(mtime_ms / 1000, http);
    fuzz_check(strlen(iso) == 24 && strlen(http) == 29, "formatted %s / %s", iso, http);

    /* Absent headers are NULL, as the HTTP layer gives them. */
    if (!c.if_match[0])
        c.if_match = NULL;
    if (!c.if_none_match[0])
        c.if_none_match = NULL;
    if (!c.if_modified_since[0])
        c.if_modified_since = NULL;
    if (!c.if_unmodified_since[0])
        c.if_unmodified_since = NULL;
    for (int exists = 0; exists < 2; exists++) {
        for (int gh = 0; gh < 2; gh++) {
            enum gw_s3err e = gw_cond_eval(&c, exists, etag, mtime_ms, gh);
            fuzz_check(e == GW_S3_OK || e == GW_S3_NOT_MODIFIED || e == GW_S3_PRECONDITION_FAILED,
                       "cond %d", (int)e);
            fuzz_check(e != GW_S3_NOT_MODIFIED || gh, "304 for a write");
        }
        enum gw_s3err e = gw_cond_eval_copy(&c, exists, etag, mtime_ms);
        fuzz_check(e == GW_S3_OK || e == GW_S3_PRECONDITION_FAILED, "copy cond %d", (int)e);
        for (int weak = 0; weak < 2; weak++) {
            if (c.if_match)
                gw_etag_list_match(c.if_match, etag, exists, weak);
            if (c.if_none_match)
                gw_etag_list_match(c.if_none_match, etag, exists, weak);
        }
    }
    fuzz_in_free(&in);
    return 0;
}
