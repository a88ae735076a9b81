/* The S3 error table: every error the gateway can return, with its S3 code
 * string, HTTP status and default message, and the S3 error XML document.
 * This is the one place S3 error codes are spelled; everything else uses
 * enum gw_s3err. The table is constant: all functions are thread-safe. */
#ifndef CAIRN_GW_S3ERR_H
#define CAIRN_GW_S3ERR_H

#include "gw_buf.h"

enum gw_s3err {
    GW_S3_OK = 0,
    GW_S3_ACCESS_DENIED,
    GW_S3_AUTHORIZATION_HEADER_MALFORMED,
    GW_S3_AUTHORIZATION_QUERY_PARAMETERS_ERROR,
    GW_S3_BAD_DIGEST,
    GW_S3_BUCKET_ALREADY_EXISTS,
    GW_S3_BUCKET_ALREADY_OWNED_BY_YOU,
    GW_S3_BUCKET_NOT_EMPTY,
    GW_S3_ENTITY_TOO_LARGE,
    GW_S3_ENTITY_TOO_SMALL,
    GW_S3_EXPIRED_PRESIGNED, /* code AccessDenied, "Request has expired" (what S3 sends) */
    GW_S3_EXPIRED_TOKEN,     /* code ExpiredToken (temporary credentials) */
    GW_S3_INCOMPLETE_BODY,
    GW_S3_INTERNAL_ERROR,
    GW_S3_INVALID_ACCESS_KEY_ID,
    GW_S3_INVALID_ARGUMENT,
    GW_S3_INVALID_BUCKET_NAME,
    GW_S3_INVALID_DIGEST,
    GW_S3_INVALID_PART,
    GW_S3_INVALID_PART_ORDER,
    GW_S3_INVALID_RANGE,
    GW_S3_INVALID_REQUEST,
    GW_S3_INVALID_STORAGE_CLASS,
    GW_S3_KEY_TOO_LONG,
    GW_S3_MALFORMED_TRAILER,
    GW_S3_MALFORMED_XML,
    GW_S3_METADATA_TOO_LARGE,
    GW_S3_METHOD_NOT_ALLOWED,
    GW_S3_MISSING_CONTENT_LENGTH,
    GW_S3_MISSING_REQUEST_BODY,
    GW_S3_NO_SUCH_BUCKET,
    GW_S3_NO_SUCH_KEY,
    GW_S3_NO_SUCH_UPLOAD,
    GW_S3_NOT_IMPLEMENTED,
    GW_S3_NOT_MODIFIED, /* 304: sent without a body */
    GW_S3_PRECONDITION_FAILED,
    GW_S3_REQUEST_TIME_TOO_SKEWED,
    GW_S3_REQUEST_TIMEOUT,
    GW_S3_SERVICE_UNAVAILABLE,
    GW_S3_SIGNATURE_DOES_NOT_MATCH,
    GW_S3_SLOW_DOWN,
    GW_S3_TOO_MANY_PARTS, /* code InvalidArgument: part number or count over 10,000 */
    GW_S3_XAMZ_CONTENT_SHA256_MISMATCH,
    GW_S3_MALFORMED_POLICY, /* code MalformedPolicy; the message says what is wrong */
    GW_S3_MALFORMED_ACL,    /* code MalformedACLError */
    GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL,
    GW_S3_NO_SUCH_BUCKET_POLICY,
    /* tagging, CORS and POST uploads (issue #13) */
    GW_S3_BAD_REQUEST, /* code BadRequest (tag counts, CORS preflight without Origin) */
    GW_S3_INVALID_TAG,
    GW_S3_NO_SUCH_TAG_SET,
    GW_S3_NO_SUCH_CORS_CONFIGURATION,
    GW_S3_NO_SUCH_LIFECYCLE_CONFIGURATION,
    /* bucket configurations Cairn never stores: what S3 answers for a bucket without one */
    GW_S3_NO_SUCH_ENCRYPTION_CONFIGURATION, /* ServerSideEncryptionConfigurationNotFoundError */
    GW_S3_NO_SUCH_PUBLIC_ACCESS_BLOCK,
    GW_S3_NO_SUCH_OWNERSHIP_CONTROLS, /* OwnershipControlsNotFoundError */
    GW_S3_NO_SUCH_WEBSITE_CONFIGURATION,
    GW_S3_NO_SUCH_REPLICATION_CONFIGURATION, /* ReplicationConfigurationNotFoundError */
    GW_S3_CORS_FORBIDDEN, /* code AccessForbidden: a preflight no CORS rule allows */
    GW_S3_INVALID_POLICY_DOCUMENT,
    GW_S3_MALFORMED_POST_REQUEST,
    GW_S3_MAX_POST_PRE_DATA_LENGTH_EXCEEDED,
    GW_S3_INCORRECT_NUMBER_OF_FILES_IN_POST_REQUEST,
    GW_S3_MISSING_FIELDS,
    GW_S3_QUOTA_EXCEEDED,           /* code QuotaExceeded (403), as Ceph RGW answers it */
    GW_S3_INVALID_URI,              /* 400: a key that is not UTF-8 (what S3 answers) */
    GW_S3_INVALID_PART_NUMBER,      /* 416: GET/HEAD ?partNumber past the object's parts */
    GW_S3_PRESIGN_EXPIRES_NEGATIVE, /* code AuthorizationQueryParametersError */
    GW_S3_PRESIGN_EXPIRES_TOO_LONG, /* code AuthorizationQueryParametersError */
    GW_S3_HEADERS_NOT_SIGNED,       /* code AccessDenied: an x-amz-* header outside
                                       SignedHeaders */
    /* versioning and object lock (issue #13) */
    GW_S3_NO_SUCH_VERSION,            /* 404: a versionId that names no version of the key */
    GW_S3_INVALID_BUCKET_STATE,       /* 409: e.g. suspending versioning under object lock */
    GW_S3_NO_OBJECT_LOCK_CONFIG,      /* 404 ObjectLockConfigurationNotFoundError */
    GW_S3_NO_SUCH_OBJECT_LOCK_CONFIG, /* 404: the version has no retention / legal hold */
    GW_S3_INVALID_VERSION_ID,         /* code InvalidArgument: a malformed versionId */
    GW_S3_OBJECT_LOCKED,              /* code AccessDenied: retention or legal hold forbids it */
    GW_S3__COUNT
};

/* S3 code string ("NoSuchKey"); "InternalError" for an out-of-range value,
 * "" for GW_S3_OK. Never NULL. */
const char *gw_s3err_code(enum gw_s3err e);
/* HTTP status (404, ...); 500 for an out-of-range value, 200 for GW_S3_OK. */
int gw_s3err_status(enum gw_s3err e);
/* Default human-readable message. Never NULL. */
const char *gw_s3err_message(enum gw_s3err e);
/* Finds the first table entry whose code string is code (exact match).
 * Returns 0 and sets *out, or CAIRN_E_NOTFOUND. */
int gw_s3err_from_code(const char *code, enum gw_s3err *out);
/* 1 if the response for e carries the error XML body: every error but
 * NotModified (304). Responses to HEAD never carry a body; that is the
 * caller's check. */
int gw_s3err_has_body(enum gw_s3err e);

/* Appends the S3 error document for e to out:
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <Error><Code>..</Code><Message>..</Message><Resource>..</Resource>
 *   <RequestId>..</RequestId></Error>
 * message NULL means the default message; resource and request_id may be NULL
 * (element omitted). Every value is XML-escaped. Returns gw_buf_error(out). */
int gw_s3err_xml(struct gw_buf *out, enum gw_s3err e, const char *message, const char *resource,
                 const char *request_id);

/* One more element of an error document, as S3 adds for some errors
 * (ArgumentName / ArgumentValue, PartNumberRequested / ActualPartCount,
 * UploadId, ...). */
struct gw_s3err_field {
    const char *name; /* element name: trusted, not escaped */
    const char *value;
};

/* gw_s3err_xml with fields[n] written after Message, in order (values
 * escaped). */
int gw_s3err_xml_fields(struct gw_buf *out, enum gw_s3err e, const char *message,
                        const struct gw_s3err_field *fields, size_t n, const char *resource,
                        const char *request_id);

#endif
