/* S3 lifecycle configurations as a protocol unit (pure; no I/O): the
 * LifecycleConfiguration document of Put/GetBucketLifecycleConfiguration,
 * parsed into md.LifecycleRule messages (metadata/md_lifecycle.h applies
 * them) and written back.
 *
 * A configuration holds 1..1000 rules. A rule: optional ID (≤ 255
 * characters, unique; when absent the caller gives one), Status Enabled or
 * Disabled, a filter -- the rule-level Prefix of the old schema, or Filter
 * holding one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or
 * And (Prefix, Tags, sizes) -- and at least one action: Expiration (Days,
 * Date at midnight UTC, or ExpiredObjectDeleteMarker), NoncurrentVersionExpiration
 * (NoncurrentDays, NewerNoncurrentVersions), AbortIncompleteMultipartUpload
 * (DaysAfterInitiation). Transitions are refused (NotImplemented: one
 * storage tier).
 *
 * Refusals, S3's: MalformedXML for what the schema does not allow (two
 * filters, Days and Date together, a Status other than Enabled/Disabled);
 * InvalidArgument "'Days' for Expiration action must be a positive integer",
 * "'Date' must be at midnight GMT", "Rule ID must be unique. Found same ID
 * for more than one rule", "ID length should not exceed allowed limit of
 * 255"; InvalidRequest "At least one action needs to be specified in a
 * rule", "AbortIncompleteMultipartUpload cannot be specified with Tags.",
 * "ExpiredObjectDeleteMarker cannot be specified with object tags.". Tags of
 * a filter follow gw_tagging's rules (InvalidTag). Thread-safe. */
#ifndef CAIRN_GW_LIFECYCLE_H
#define CAIRN_GW_LIFECYCLE_H

#include "gw_buf.h"
#include "gw_s3err.h"
#include "meta.pb-c.h"

#include <stddef.h>

#define GW_LC_MAX_RULES 1000
#define GW_LC_MAX_BYTES (1u << 20) /* the document */
#define GW_LC_MSG_MAX   256

/* A parsed configuration: cfg views rules it owns (gw_lifecycle_free). */
struct gw_lifecycle {
    Md__LifecycleConfig cfg;
};

/* Parses a LifecycleConfiguration document. Returns 0 with *out, or
 * CAIRN_E_INVAL / CAIRN_E_NOMEM with *err (MalformedXML, InvalidArgument,
 * InvalidRequest, InvalidTag, NotImplemented, InternalError) and msg ("" for
 * the error's default message). A rule without an ID has id "". */
int gw_lifecycle_parse_xml(const char *body, size_t len, struct gw_lifecycle *out,
                           enum gw_s3err *err, char msg[GW_LC_MSG_MAX]);

/* Appends the GetBucketLifecycleConfiguration document of lc. Returns
 * gw_buf_error(b). */
int gw_lifecycle_xml(struct gw_buf *b, const Md__LifecycleConfig *lc);

/* Frees what a parsed configuration owns and empties it. */
void gw_lifecycle_free(struct gw_lifecycle *lc);

#endif
