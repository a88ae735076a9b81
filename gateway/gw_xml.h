/* S3 XML bodies: builders for every response document the gateway sends and
 * libxml2 parsers for the request documents it accepts.
 *
 * Builders append to a struct gw_buf (sticky errors: check gw_buf_error()
 * once at the end). Listing documents are built begin / add... / end so the
 * gateway can write entries as it walks a page of results. Every text value
 * is XML-escaped; with encoding-type=url the fields S3 encodes (Key, Prefix,
 * Delimiter, Marker, NextMarker, StartAfter, KeyMarker, NextKeyMarker) are
 * URI-encoded first ('/' kept, everything but unreserved escaped).
 * ETags are passed without quotes; the builders add them. Times are Unix
 * milliseconds, written as "2009-10-12T17:50:30.000Z".
 *
 * Parsers: input larger than GW_XML_MAX_BODY is refused; libxml2 runs with
 * XML_PARSE_NONET, no entity substitution and no DTD loading, and a
 * document carrying a DTD at all is refused (no entity expansion). Errors are
 * MalformedXML unless stated. All functions are thread-safe once
 * gw_xml_init() has run. */
#ifndef CAIRN_GW_XML_H
#define CAIRN_GW_XML_H

#include "gw_buf.h"
#include "gw_s3err.h"

#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

#define GW_XML_MAX_BODY   (1u << 20) /* bytes of a request document */
#define GW_XML_MAX_PARTS  10000      /* parts in CompleteMultipartUpload */
#define GW_XML_MAX_DELETE 1000       /* keys in one multi-delete */

/* Initializes libxml2 once per process; call from main() before threads. */
void gw_xml_init(void);

/* The owner of buckets/objects/uploads as the listings show it. */
struct gw_xml_owner {
    const char *id;
    const char *display_name;
};

/* ---- ListAllMyBucketsResult ------------------------------------------ */
void gw_xml_buckets_begin(struct gw_buf *b, const struct gw_xml_owner *owner);
void gw_xml_buckets_add(struct gw_buf *b, const char *name, int64_t created_ms);
int gw_xml_buckets_end(struct gw_buf *b);

/* ---- ListBucketResult (ListObjects v1 and ListObjectsV2) ------------- */
struct gw_xml_list {
    int v2;
    int encode_url;     /* encoding-type=url */
    const char *bucket; /* Name */
    const char *prefix;
    const char *delimiter; /* NULL: element omitted */
    int max_keys;
    int is_truncated;
    /* v1 */
    const char *marker;
    const char *next_marker; /* NULL: omitted (S3 sends it only with a delimiter) */
    /* v2 */
    const char *start_after;             /* NULL: omitted */
    const char *continuation_token;      /* NULL: omitted */
    const char *next_continuation_token; /* NULL: omitted */
    int key_count;                       /* Contents + CommonPrefixes in this page */
};

struct gw_xml_object {
    const char *key;
    int64_t mtime_ms;
    const char *etag;
    uint64_t size;
    const char *storage_class;        /* NULL: "STANDARD" */
    const struct gw_xml_owner *owner; /* NULL: omitted (v2 without fetch-owner) */
};

void gw_xml_list_begin(struct gw_buf *b, const struct gw_xml_list *l);
void gw_xml_list_add_object(struct gw_buf *b, const struct gw_xml_list *l,
                            const struct gw_xml_object *o);
void gw_xml_list_add_prefix(struct gw_buf *b, const struct gw_xml_list *l, const char *prefix);
int gw_xml_list_end(struct gw_buf *b, const struct gw_xml_list *l);

/* ---- multipart ------------------------------------------------------- */
int gw_xml_initiate_multipart(struct gw_buf *b, const char *bucket, const char *key,
                              const char *upload_id);
int gw_xml_complete_multipart(struct gw_buf *b, const char *location, const char *bucket,
                              const char *key, const char *etag);

struct gw_xml_parts {
    const char *bucket;
    const char *key;
    const char *upload_id;
    int part_number_marker;
    int next_part_number_marker;
    int max_parts;
    int is_truncated;
    const char *storage_class;
    const struct gw_xml_owner *owner; /* Initiator and Owner */
};
void gw_xml_parts_begin(struct gw_buf *b, const struct gw_xml_parts *p);
void gw_xml_parts_add(struct gw_buf *b, int part_number, int64_t mtime_ms, const char *etag,
                      uint64_t size);
int gw_xml_parts_end(struct gw_buf *b);

struct gw_xml_uploads {
    int encode_url;
    const char *bucket;
    const char *key_marker;
    const char *upload_id_marker;
    const char *next_key_marker;
    const char *next_upload_id_marker;
    const char *prefix;
    const char *delimiter; /* NULL: omitted */
    int max_uploads;
    int is_truncated;
};
void gw_xml_uploads_begin(struct gw_buf *b, const struct gw_xml_uploads *u);
void gw_xml_uploads_add(struct gw_buf *b, const struct gw_xml_uploads *u, const char *key,
                        const char *upload_id, int64_t initiated_ms, const char *storage_class,
                        const struct gw_xml_owner *owner);
void gw_xml_uploads_add_prefix(struct gw_buf *b, const struct gw_xml_uploads *u,
                               const char *prefix);
int gw_xml_uploads_end(struct gw_buf *b, const struct gw_xml_uploads *u);

/* ---- copy, delete, location ------------------------------------------ */
int gw_xml_copy_object_result(struct gw_buf *b, int64_t mtime_ms, const char *etag);
int gw_xml_copy_part_result(struct gw_buf *b, int64_t mtime_ms, const char *etag);

void gw_xml_delete_begin(struct gw_buf *b);
void gw_xml_delete_deleted(struct gw_buf *b, const char *key);
/* A <Deleted> entry of a versioned delete: version_id (NULL: omitted) is the
 * version asked for; marker: a delete marker was made or removed, whose id
 * is marker_vid. */
void gw_xml_delete_deleted_version(struct gw_buf *b, const char *key, const char *version_id,
                                   int marker, const char *marker_vid);
/* version_id NULL: omitted. */
void gw_xml_delete_error_version(struct gw_buf *b, const char *key, const char *version_id,
                                 enum gw_s3err code, const char *message);
void gw_xml_delete_error(struct gw_buf *b, const char *key, enum gw_s3err code,
                         const char *message);
int gw_xml_delete_end(struct gw_buf *b);

/* ---- ListVersionsResult (ListObjectVersions) ------------------------ */
struct gw_xml_versions {
    int encode_url;
    const char *bucket;
    const char *prefix;
    const char *delimiter; /* NULL: omitted */
    const char *key_marker;
    const char *version_id_marker;
    const char *next_key_marker;        /* NULL: omitted (not truncated) */
    const char *next_version_id_marker; /* NULL: omitted */
    int max_keys;
    int is_truncated;
};
struct gw_xml_version {
    const char *key;
    const char *version_id;
    int is_latest;
    int delete_marker; /* <DeleteMarker> entry: no ETag, Size, StorageClass */
    int64_t mtime_ms;
    const char *etag;
    uint64_t size;
    const char *storage_class; /* NULL: "STANDARD" */
    const struct gw_xml_owner *owner;
};
void gw_xml_versions_begin(struct gw_buf *b, const struct gw_xml_versions *v);
void gw_xml_versions_add(struct gw_buf *b, const struct gw_xml_versions *v,
                         const struct gw_xml_version *e);
void gw_xml_versions_add_prefix(struct gw_buf *b, const struct gw_xml_versions *v,
                                const char *prefix);
int gw_xml_versions_end(struct gw_buf *b);

/* region NULL or "us-east-1" gives the empty element, as S3. */
int gw_xml_location_constraint(struct gw_buf *b, const char *region);

/* ---- parsers --------------------------------------------------------- */

struct gw_xml_part {
    int part_number;
    char etag[80]; /* quotes stripped */
};

/* Parses a CompleteMultipartUpload body into a new array *parts (caller
 * frees) of *n entries, 1..GW_XML_MAX_PARTS of them. Part numbers must be
 * 1..10000 (else InvalidArgument / GW_S3_TOO_MANY_PARTS) and strictly
 * ascending (else InvalidPartOrder). Returns 0 or a negative code with *err
 * set (MalformedXML for anything else, InternalError for allocation). */
int gw_xml_parse_complete(const char *body, size_t len, struct gw_xml_part **parts, size_t *n,
                          enum gw_s3err *err);

struct gw_xml_delete_req {
    int quiet;
    size_t n;
    char **keys;        /* n keys, each NUL-terminated */
    char **version_ids; /* n entries: the <VersionId> of each (NULL: none) */
};

/* Parses a multi-object Delete body: 1..GW_XML_MAX_DELETE <Object><Key>
 * entries, each with an optional <VersionId>, and <Quiet>.
 * Release with gw_xml_delete_req_free(). Returns 0 or a negative code with
 * *err = MalformedXML (or InternalError). */
int gw_xml_parse_delete(const char *body, size_t len, struct gw_xml_delete_req *out,
                        enum gw_s3err *err);
void gw_xml_delete_req_free(struct gw_xml_delete_req *d);

/* Parses a CreateBucketConfiguration body; copies LocationConstraint (""
 * when absent or empty) into region (capacity cap). Returns 0 or a negative
 * code with *err = MalformedXML. */
int gw_xml_parse_create_bucket(const char *body, size_t len, char *region, size_t cap,
                               enum gw_s3err *err);

/* The one safe parse of a request's XML body: no network, no entity
 * substitution, no DTD loading, a document carrying a DTD at all refused,
 * at most max bytes, and the root element must be named root. Returns the
 * document (xmlFreeDoc it) or NULL for anything unsafe or malformed. */
xmlDocPtr gw_xml_parse_doc(const char *body, size_t len, size_t max, const char *root);
/* 1 if n is an element named name. */
int gw_xml_is_elem(xmlNodePtr n, const char *name);
/* The text of parent's only child element named name, trimmed of XML
 * whitespace, into out[cap]. Returns 1 (found), 0 (absent) or
 * CAIRN_E_PROTO (repeated, nested elements, too long). */
int gw_xml_child_text(xmlNodePtr parent, const char *name, char *out, size_t cap);

#endif
