#include "gw_s3err.h"

#include "cn_error.h"

#include <string.h>

struct s3err_entry {
    const char *code;
    int status;
    const char *message;
};

/* Codes, statuses and messages as Amazon S3 documents them ("Error
 * responses", S3 API reference). */
static const struct s3err_entry table[GW_S3__COUNT] = {
    [GW_S3_OK] = {"", 200, "OK"},
    [GW_S3_ACCESS_DENIED] = {"AccessDenied", 403, "Access Denied"},
    [GW_S3_AUTHORIZATION_HEADER_MALFORMED] = {"AuthorizationHeaderMalformed", 400,
                                              "The authorization header is malformed."},
    [GW_S3_AUTHORIZATION_QUERY_PARAMETERS_ERROR] =
        {"AuthorizationQueryParametersError", 400,
         "Error parsing the X-Amz-Credential parameter or another authorization query "
         "parameter."},
    [GW_S3_BAD_DIGEST] = {"BadDigest", 400,
                          "The Content-MD5 you specified did not match what we received."},
    [GW_S3_BUCKET_ALREADY_EXISTS] =
        {"BucketAlreadyExists", 409,
         "The requested bucket name is not available. The bucket namespace is shared by all "
         "users of the system. Please select a different name and try again."},
    [GW_S3_BUCKET_ALREADY_OWNED_BY_YOU] =
        {"BucketAlreadyOwnedByYou", 409,
         "Your previous request to create the named bucket succeeded and you already own it."},
    [GW_S3_BUCKET_NOT_EMPTY] = {"BucketNotEmpty", 409,
                                "The bucket you tried to delete is not empty."},
    [GW_S3_ENTITY_TOO_LARGE] = {"EntityTooLarge", 400,
                                "Your proposed upload exceeds the maximum allowed object size."},
    [GW_S3_ENTITY_TOO_SMALL] = {"EntityTooSmall", 400,
                                "Your proposed upload is smaller than the minimum allowed object "
                                "size."},
    [GW_S3_EXPIRED_PRESIGNED] = {"AccessDenied", 403, "Request has expired"},
    [GW_S3_HEADERS_NOT_SIGNED] = {"AccessDenied", 403,
                                  "There were headers present in the request which were not "
                                  "signed"},
    [GW_S3_EXPIRED_TOKEN] = {"ExpiredToken", 400, "The provided token has expired."},
    [GW_S3_INCOMPLETE_BODY] = {"IncompleteBody", 400,
                               "You did not provide the number of bytes specified by the "
                               "Content-Length HTTP header."},
    [GW_S3_INTERNAL_ERROR] = {"InternalError", 500,
                              "We encountered an internal error. Please try again."},
    [GW_S3_INVALID_ACCESS_KEY_ID] = {"InvalidAccessKeyId", 403,
                                     "The AWS access key Id you provided does not exist in our "
                                     "records."},
    [GW_S3_INVALID_ARGUMENT] = {"InvalidArgument", 400, "Invalid Argument"},
    [GW_S3_INVALID_BUCKET_NAME] = {"InvalidBucketName", 400, "The specified bucket is not valid."},
    [GW_S3_INVALID_DIGEST] = {"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    [GW_S3_INVALID_PART] = {"InvalidPart", 400,
                            "One or more of the specified parts could not be found. The part "
                            "might not have been uploaded, or the specified entity tag might not "
                            "have matched the part's entity tag."},
    [GW_S3_INVALID_PART_ORDER] = {"InvalidPartOrder", 400,
                                  "The list of parts was not in ascending order. Parts must be "
                                  "ordered by part number."},
    [GW_S3_INVALID_RANGE] = {"InvalidRange", 416, "The requested range is not satisfiable"},
    [GW_S3_INVALID_REQUEST] = {"InvalidRequest", 400, "Invalid Request"},
    [GW_S3_INVALID_STORAGE_CLASS] = {"InvalidStorageClass", 400,
                                     "The storage class you specified is not valid"},
    [GW_S3_KEY_TOO_LONG] = {"KeyTooLongError", 400, "Your key is too long"},
    [GW_S3_MALFORMED_TRAILER] = {"MalformedTrailerError", 400,
                                 "The request contained trailing data that was not well-formed "
                                 "or did not conform to our published schema."},
    [GW_S3_MALFORMED_XML] = {"MalformedXML", 400,
                             "The XML you provided was not well-formed or did not validate "
                             "against our published schema."},
    [GW_S3_METADATA_TOO_LARGE] = {"MetadataTooLarge", 400,
                                  "Your metadata headers exceed the maximum allowed metadata "
                                  "size."},
    [GW_S3_METHOD_NOT_ALLOWED] = {"MethodNotAllowed", 405,
                                  "The specified method is not allowed against this resource."},
    [GW_S3_MISSING_CONTENT_LENGTH] = {"MissingContentLength", 411,
                                      "You must provide the Content-Length HTTP header."},
    [GW_S3_MISSING_REQUEST_BODY] = {"MissingRequestBodyError", 400, "Request Body is empty"},
    [GW_S3_NO_SUCH_BUCKET] = {"NoSuchBucket", 404, "The specified bucket does not exist"},
    [GW_S3_NO_SUCH_KEY] = {"NoSuchKey", 404, "The specified key does not exist."},
    [GW_S3_NO_SUCH_UPLOAD] = {"NoSuchUpload", 404,
                              "The specified multipart upload does not exist. The upload ID "
                              "might not be valid, or the multipart upload might have been "
                              "aborted or completed."},
    [GW_S3_NOT_IMPLEMENTED] = {"NotImplemented", 501,
                               "A header you provided implies functionality that is not "
                               "implemented."},
    [GW_S3_NOT_MODIFIED] = {"NotModified", 304, "Not Modified"},
    [GW_S3_PRECONDITION_FAILED] = {"PreconditionFailed", 412,
                                   "At least one of the pre-conditions you specified did not "
                                   "hold"},
    [GW_S3_REQUEST_TIME_TOO_SKEWED] = {"RequestTimeTooSkewed", 403,
                                       "The difference between the request time and the "
                                       "current time is too large."},
    [GW_S3_REQUEST_TIMEOUT] = {"RequestTimeout", 400,
                               "Your socket connection to the server was not read from or "
                               "written to within the timeout period."},
    [GW_S3_SERVICE_UNAVAILABLE] = {"ServiceUnavailable", 503,
                                   "Service is unable to handle request."},
    [GW_S3_SIGNATURE_DOES_NOT_MATCH] = {"SignatureDoesNotMatch", 403,
                                        "The request signature we calculated does not match "
                                        "the signature you provided. Check your key and "
                                        "signing method."},
    [GW_S3_SLOW_DOWN] = {"SlowDown", 503, "Please reduce your request rate."},
    [GW_S3_TOO_MANY_PARTS] = {"InvalidArgument", 400,
                              "Part number must be an integer between 1 and 10000, inclusive"},
    [GW_S3_XAMZ_CONTENT_SHA256_MISMATCH] = {"XAmzContentSHA256Mismatch", 400,
                                            "The provided 'x-amz-content-sha256' header does "
                                            "not match what was computed."},
    [GW_S3_MALFORMED_POLICY] = {"MalformedPolicy", 400, "The bucket policy is not valid."},
    [GW_S3_MALFORMED_ACL] = {"MalformedACLError", 400,
                             "The XML you provided was not well-formed or did not validate "
                             "against our published schema"},
    [GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL] = {"UnresolvableGrantByEmailAddress", 400,
                                           "The e-mail address you provided does not match any "
                                           "account on record."},
    [GW_S3_NO_SUCH_BUCKET_POLICY] = {"NoSuchBucketPolicy", 404, "The bucket policy does not exist"},
    [GW_S3_BAD_REQUEST] = {"BadRequest", 400, "Bad Request"},
    [GW_S3_INVALID_TAG] = {"InvalidTag", 400, "The TagKey you have provided is invalid"},
    [GW_S3_NO_SUCH_TAG_SET] = {"NoSuchTagSet", 404, "The TagSet does not exist"},
    [GW_S3_NO_SUCH_LIFECYCLE_CONFIGURATION] = {"NoSuchLifecycleConfiguration", 404,
                                               "The lifecycle configuration does not exist"},
    [GW_S3_NO_SUCH_ENCRYPTION_CONFIGURATION] = {"ServerSideEncryptionConfigurationNotFoundError",
                                                404,
                                                "The server side encryption configuration was "
                                                "not found"},
    [GW_S3_NO_SUCH_PUBLIC_ACCESS_BLOCK] = {"NoSuchPublicAccessBlockConfiguration", 404,
                                           "The public access block configuration was not found"},
    [GW_S3_NO_SUCH_OWNERSHIP_CONTROLS] = {"OwnershipControlsNotFoundError", 404,
                                          "The bucket ownership controls were not found"},
    [GW_S3_NO_SUCH_WEBSITE_CONFIGURATION] = {"NoSuchWebsiteConfiguration", 404,
                                             "The specified bucket does not have a website "
                                             "configuration"},
    [GW_S3_NO_SUCH_REPLICATION_CONFIGURATION] = {"ReplicationConfigurationNotFoundError", 404,
                                                 "The replication configuration was not found"},
    [GW_S3_NO_SUCH_CORS_CONFIGURATION] = {"NoSuchCORSConfiguration", 404,
                                          "The CORS configuration does not exist"},
    [GW_S3_CORS_FORBIDDEN] = {"AccessForbidden", 403,
                              "CORSResponse: This CORS request is not allowed. This is usually "
                              "because the evalution of Origin, request method / "
                              "Access-Control-Request-Method or Access-Control-Request-Headers "
                              "are not whitelisted by the resource's CORS spec."},
    [GW_S3_INVALID_POLICY_DOCUMENT] = {"InvalidPolicyDocument", 400,
                                       "The content of the form does not meet the conditions "
                                       "specified in the policy document."},
    [GW_S3_MALFORMED_POST_REQUEST] = {"MalformedPOSTRequest", 400,
                                      "The body of your POST request is not well-formed "
                                      "multipart/form-data."},
    [GW_S3_MAX_POST_PRE_DATA_LENGTH_EXCEEDED] = {"MaxPostPreDataLengthExceeded", 400,
                                                 "Your POST request fields preceding the upload "
                                                 "file were too large."},
    [GW_S3_INCORRECT_NUMBER_OF_FILES_IN_POST_REQUEST] = {"IncorrectNumberOfFilesInPostRequest", 400,
                                                         "POST requires exactly one file upload "
                                                         "per request."},
    [GW_S3_MISSING_FIELDS] = {"MissingFields", 400, "Missing fields in request."},
    [GW_S3_QUOTA_EXCEEDED] = {"QuotaExceeded", 403,
                              "The write would take the bucket or its owner over a quota."},
    [GW_S3_NO_SUCH_VERSION] = {"NoSuchVersion", 404, "The specified version does not exist."},
    [GW_S3_INVALID_BUCKET_STATE] = {"InvalidBucketState", 409,
                                    "The request is not valid with the current state of the "
                                    "bucket."},
    [GW_S3_NO_OBJECT_LOCK_CONFIG] = {"ObjectLockConfigurationNotFoundError", 404,
                                     "Object Lock configuration does not exist for this bucket"},
    [GW_S3_NO_SUCH_OBJECT_LOCK_CONFIG] = {"NoSuchObjectLockConfiguration", 404,
                                          "The specified object does not have a ObjectLock "
                                          "configuration"},
    [GW_S3_INVALID_VERSION_ID] = {"InvalidArgument", 400, "Invalid version id specified"},
    [GW_S3_OBJECT_LOCKED] = {"AccessDenied", 403,
                             "Access Denied because object protected by object lock."},
    [GW_S3_INVALID_URI] = {"InvalidURI", 400, "Couldn't parse the specified URI."},
    [GW_S3_INVALID_PART_NUMBER] = {"InvalidPartNumber", 416,
                                   "The requested partnumber is not satisfiable"},
    [GW_S3_PRESIGN_EXPIRES_NEGATIVE] = {"AuthorizationQueryParametersError", 400,
                                        "X-Amz-Expires must be non-negative"},
    [GW_S3_PRESIGN_EXPIRES_TOO_LONG] = {"AuthorizationQueryParametersError", 400,
                                        "X-Amz-Expires must be less than a week (in seconds); "
                                        "that is, the given X-Amz-Expires must be less than "
                                        "604800 seconds"},
};

static const struct s3err_entry *entry(enum gw_s3err e)
{
    if ((int)e < 0 || e >= GW_S3__COUNT)
        return &table[GW_S3_INTERNAL_ERROR];
    return &table[e];
}

const char *gw_s3err_code(enum gw_s3err e)
{
    return entry(e)->code;
}

int gw_s3err_status(enum gw_s3err e)
{
    return entry(e)->status;
}

const char *gw_s3err_message(enum gw_s3err e)
{
    return entry(e)->message;
}

int gw_s3err_from_code(const char *code, enum gw_s3err *out)
{
    if (!code || !*code)
        return CAIRN_E_NOTFOUND;
    for (int i = 1; i < GW_S3__COUNT; i++) {
        if (strcmp(table[i].code, code) == 0) {
            *out = (enum gw_s3err)i;
            return 0;
        }
    }
    return CAIRN_E_NOTFOUND;
}

int gw_s3err_has_body(enum gw_s3err e)
{
    return e != GW_S3_OK && e != GW_S3_NOT_MODIFIED;
}

static void element(struct gw_buf *out, const char *name, const char *value)
{
    gw_buf_printf(out, "<%s>", name);
    gw_buf_xml_escape(out, value, strlen(value));
    gw_buf_printf(out, "</%s>", name);
}

int gw_s3err_xml(struct gw_buf *out, enum gw_s3err e, const char *message, const char *resource,
                 const char *request_id)
{
    return gw_s3err_xml_fields(out, e, message, NULL, 0, resource, request_id);
}

int gw_s3err_xml_fields(struct gw_buf *out, enum gw_s3err e, const char *message,
                        const struct gw_s3err_field *fields, size_t n, const char *resource,
                        const char *request_id)
{
    gw_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    element(out, "Code", gw_s3err_code(e));
    element(out, "Message", message ? message : gw_s3err_message(e));
    for (size_t i = 0; i < n; i++)
        element(out, fields[i].name, fields[i].value ? fields[i].value : "");
    if (resource)
        element(out, "Resource", resource);
    if (request_id)
        element(out, "RequestId", request_id);
    gw_buf_puts(out, "</Error>");
    return gw_buf_error(out);
}
