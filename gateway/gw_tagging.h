/* S3 tagging as a protocol unit (pure; no I/O): the Tagging document of
 * Put/GetObjectTagging and Put/GetBucketTagging, the x-amz-tagging header
 * (a URL-encoded query string, "k1=v1&k2=v2") of PutObject, CopyObject and
 * CreateMultipartUpload, and S3's rules for a tag set:
 *
 *   - at most 10 tags on an object (BadRequest "Object tags cannot be
 *     greater than 10"), 50 on a bucket (BadRequest "Bucket tag count
 *     cannot be greater than 50");
 *   - a key of 1..128 and a value of 0..256 Unicode characters (counted in
 *     UTF-16 units, as S3 counts them), valid UTF-8, of letters, digits,
 *     spaces and + - = . _ : / @ (every non-ASCII character counts as a
 *     letter here) -- else InvalidTag;
 *   - keys unique (InvalidTag; InvalidArgument for the header, as S3) and
 *     not starting with "aws:" (reserved for system tags; InvalidTag).
 *
 * Tags are struct md_tag (mdclient/md_cmd.h) so that a parsed set goes into
 * a command as it is. Thread-safe. */
#ifndef CAIRN_GW_TAGGING_H
#define CAIRN_GW_TAGGING_H

#include "gw_buf.h"
#include "gw_s3err.h"
#include "md_cmd.h"

#include <stddef.h>

#define GW_TAGS_MAX_OBJECT 10
#define GW_TAGS_MAX_BUCKET 50
#define GW_TAG_KEY_MAX     128 /* UTF-16 units */
#define GW_TAG_VALUE_MAX   256

enum gw_tag_kind {
    GW_TAGS_OBJECT = 0,
    GW_TAGS_BUCKET,
};

/* A parsed tag set; keys and values are malloc'ed and owned by the set. */
struct gw_tags {
    size_t n;
    struct md_tag *tags;
};

/* Parses a Tagging document (<Tagging><TagSet><Tag><Key/><Value/></Tag>...)
 * of at most GW_XML_MAX_BODY bytes and checks it against kind's rules. On
 * success returns 0 with *out (gw_tags_free it). Otherwise returns
 * CAIRN_E_INVAL (or CAIRN_E_NOMEM) with *err (MalformedXML, InvalidTag,
 * BadRequest, InternalError) and *msg (static, or NULL for the default
 * message); *out is empty. */
int gw_tags_parse_xml(const char *body, size_t len, enum gw_tag_kind kind, struct gw_tags *out,
                      enum gw_s3err *err, const char **msg);

/* Parses an x-amz-tagging header value ("" gives no tags) and checks it as
 * an object's tag set. Same returns as gw_tags_parse_xml; a malformed
 * escape or a repeated key is InvalidArgument. */
int gw_tags_parse_header(const char *value, struct gw_tags *out, enum gw_s3err *err,
                         const char **msg);

/* Checks tags[n] against kind's rules. Returns 0, or CAIRN_E_INVAL with
 * *err and *msg as above. */
int gw_tags_check(const struct md_tag *tags, size_t n, enum gw_tag_kind kind, enum gw_s3err *err,
                  const char **msg);

/* Appends the GetObjectTagging / GetBucketTagging document for tags[n].
 * Returns gw_buf_error(b). */
int gw_tags_xml(struct gw_buf *b, const struct md_tag *tags, size_t n);

/* Frees what t owns and empties it; an empty set is fine. */
void gw_tags_free(struct gw_tags *t);

/* The number of UTF-16 code units of the UTF-8 string s, or -1 when s is
 * not valid UTF-8. */
long gw_utf16_units(const char *s);

#endif
