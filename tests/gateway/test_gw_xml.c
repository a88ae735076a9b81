/* S3 XML: the error table and error document, the response builders (read
 * back with libxml2), and the request parsers, including hostile input. */
#include "gw_xml.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

/* Evaluates an XPath (namespace prefix "s" = the S3 namespace) over doc and
 * returns the string value (caller frees). */
static char *xpath_str(const char *doc, size_t len, const char *expr)
{
    xmlDocPtr d = xmlReadMemory(doc, (int)len, NULL, NULL, XML_PARSE_NONET);
    ck_assert_msg(d != NULL, "not well-formed:\n%s", doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(d);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"s",
                       (const xmlChar *)"http://s3.amazonaws.com/doc/2006-03-01/");
    char wrapped[512];
    snprintf(wrapped, sizeof(wrapped), "string(%s)", expr);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)wrapped, ctx);
    ck_assert_ptr_nonnull(o);
    char *s = strdup((const char *)o->stringval);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(d);
    return s;
}

#define ASSERT_XPATH(buf, expr, want)                                                              \
    do {                                                                                           \
        char *got_ = xpath_str((buf)->data, (buf)->len, expr);                                     \
        ck_assert_msg(strcmp(got_, want) == 0, "%s: got '%s' want '%s'", expr, got_, want);        \
        free(got_);                                                                                \
    } while (0)

START_TEST(test_error_table)
{
    static const struct {
        enum gw_s3err e;
        const char *code;
        int status;
    } want[] = {
        {GW_S3_NO_SUCH_BUCKET, "NoSuchBucket", 404},
        {GW_S3_NO_SUCH_KEY, "NoSuchKey", 404},
        {GW_S3_BUCKET_NOT_EMPTY, "BucketNotEmpty", 409},
        {GW_S3_BUCKET_ALREADY_OWNED_BY_YOU, "BucketAlreadyOwnedByYou", 409},
        {GW_S3_BUCKET_ALREADY_EXISTS, "BucketAlreadyExists", 409},
        {GW_S3_INVALID_BUCKET_NAME, "InvalidBucketName", 400},
        {GW_S3_INVALID_RANGE, "InvalidRange", 416},
        {GW_S3_PRECONDITION_FAILED, "PreconditionFailed", 412},
        {GW_S3_NOT_MODIFIED, "NotModified", 304},
        {GW_S3_SIGNATURE_DOES_NOT_MATCH, "SignatureDoesNotMatch", 403},
        {GW_S3_INVALID_ACCESS_KEY_ID, "InvalidAccessKeyId", 403},
        {GW_S3_ACCESS_DENIED, "AccessDenied", 403},
        {GW_S3_ENTITY_TOO_LARGE, "EntityTooLarge", 400},
        {GW_S3_ENTITY_TOO_SMALL, "EntityTooSmall", 400},
        {GW_S3_INVALID_PART, "InvalidPart", 400},
        {GW_S3_INVALID_PART_ORDER, "InvalidPartOrder", 400},
        {GW_S3_NO_SUCH_UPLOAD, "NoSuchUpload", 404},
        {GW_S3_MALFORMED_XML, "MalformedXML", 400},
        {GW_S3_INVALID_ARGUMENT, "InvalidArgument", 400},
        {GW_S3_KEY_TOO_LONG, "KeyTooLongError", 400},
        {GW_S3_REQUEST_TIME_TOO_SKEWED, "RequestTimeTooSkewed", 403},
        {GW_S3_SLOW_DOWN, "SlowDown", 503},
        {GW_S3_SERVICE_UNAVAILABLE, "ServiceUnavailable", 503},
        {GW_S3_INTERNAL_ERROR, "InternalError", 500},
        {GW_S3_INVALID_DIGEST, "InvalidDigest", 400},
        {GW_S3_BAD_DIGEST, "BadDigest", 400},
        {GW_S3_MISSING_CONTENT_LENGTH, "MissingContentLength", 411},
        {GW_S3_METHOD_NOT_ALLOWED, "MethodNotAllowed", 405},
        {GW_S3_NOT_IMPLEMENTED, "NotImplemented", 501},
        {GW_S3_XAMZ_CONTENT_SHA256_MISMATCH, "XAmzContentSHA256Mismatch", 400},
        {GW_S3_AUTHORIZATION_HEADER_MALFORMED, "AuthorizationHeaderMalformed", 400},
        {GW_S3_INVALID_REQUEST, "InvalidRequest", 400},
        {GW_S3_EXPIRED_TOKEN, "ExpiredToken", 400},
        {GW_S3_EXPIRED_PRESIGNED, "AccessDenied", 403},
        {GW_S3_METADATA_TOO_LARGE, "MetadataTooLarge", 400},
        {GW_S3_REQUEST_TIMEOUT, "RequestTimeout", 400},
        {GW_S3_INCOMPLETE_BODY, "IncompleteBody", 400},
        {GW_S3_INVALID_STORAGE_CLASS, "InvalidStorageClass", 400},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_str_eq(gw_s3err_code(want[i].e), want[i].code);
        ck_assert_int_eq(gw_s3err_status(want[i].e), want[i].status);
        ck_assert_uint_gt(strlen(gw_s3err_message(want[i].e)), 0);
    }
    /* Every entry is filled in. */
    for (int e = 1; e < GW_S3__COUNT; e++) {
        ck_assert_msg(gw_s3err_code((enum gw_s3err)e)[0] != '\0', "entry %d empty", e);
        ck_assert_int_ge(gw_s3err_status((enum gw_s3err)e), 300);
    }
    enum gw_s3err e;
    ck_assert_int_eq(gw_s3err_from_code("NoSuchUpload", &e), 0);
    ck_assert_int_eq(e, GW_S3_NO_SUCH_UPLOAD);
    ck_assert_int_eq(gw_s3err_from_code("Nope", &e), CAIRN_E_NOTFOUND);
    ck_assert_str_eq(gw_s3err_code((enum gw_s3err)9999), "InternalError");
    ck_assert_int_eq(gw_s3err_status((enum gw_s3err) - 1), 500);
}
END_TEST

START_TEST(test_error_xml)
{
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_s3err_xml(&b, GW_S3_NO_SUCH_KEY, NULL, "/bkt/a<b>&\"c'\x01\n", "req-1234"),
                     0);
    ASSERT_XPATH(&b, "/Error/Code", "NoSuchKey");
    ASSERT_XPATH(&b, "/Error/Message", "The specified key does not exist.");
    ASSERT_XPATH(&b, "/Error/Resource", "/bkt/a<b>&\"c'\xEF\xBF\xBD\n");
    ASSERT_XPATH(&b, "/Error/RequestId", "req-1234");
    ck_assert_ptr_nonnull(strstr(b.data, "&lt;b&gt;&amp;&quot;c&apos;"));
    /* Invalid UTF-8 never reaches the document; valid sequences pass. */
    gw_buf_reset(&b);
    const char *mixed = "a\xFF\xC3\xBC\xED\xA0\x80\xF0\x9F\x98\x80\xC3";
    ck_assert_int_eq(gw_s3err_xml(&b, GW_S3_NO_SUCH_KEY, NULL, mixed, NULL), 0);
    ASSERT_XPATH(&b, "/Error/Resource",
                 "a\xEF\xBF\xBD\xC3\xBC\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                 "\xF0\x9F\x98\x80\xEF\xBF\xBD");
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_s3err_xml(&b, GW_S3_INVALID_ARGUMENT, "max-keys < 0", NULL, NULL), 0);
    ck_assert_str_eq(b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                             "InvalidArgument</Code><Message>max-keys &lt; 0</Message></Error>");
    /* S3's extra elements come after Message, in order, escaped. */
    gw_buf_reset(&b);
    const struct gw_s3err_field f[] = {{"PartNumberRequested", "3"}, {"ActualPartCount", "<2>"}};
    ck_assert_int_eq(gw_s3err_xml_fields(&b, GW_S3_INVALID_PART_NUMBER, NULL, f, 2, "/b/k", "rid"),
                     0);
    ck_assert_str_eq(b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                             "InvalidPartNumber</Code><Message>The requested partnumber is not "
                             "satisfiable</Message><PartNumberRequested>3</PartNumberRequested>"
                             "<ActualPartCount>&lt;2&gt;</ActualPartCount><Resource>/b/k</Resource>"
                             "<RequestId>rid</RequestId></Error>");
    ck_assert_int_eq(gw_s3err_status(GW_S3_INVALID_PART_NUMBER), 416);
    gw_buf_free(&b);
    /* A capped buffer reports the overflow and keeps it sticky. */
    gw_buf_init(&b, 32);
    ck_assert_int_eq(gw_s3err_xml(&b, GW_S3_NO_SUCH_KEY, NULL, NULL, NULL), CAIRN_E_RANGE);
    gw_buf_puts(&b, "x");
    ck_assert_int_eq(gw_buf_error(&b), CAIRN_E_RANGE);
    size_t len;
    ck_assert_ptr_null(gw_buf_take(&b, &len));
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_list_buckets)
{
    struct gw_buf b;
    gw_buf_init(&b, 0);
    struct gw_xml_owner o = {"owner-id", "cairn & co"};
    gw_xml_buckets_begin(&b, &o);
    gw_xml_buckets_add(&b, "alpha", 1255369830000LL);
    gw_xml_buckets_add(&b, "beta", 0);
    ck_assert_int_eq(gw_xml_buckets_end(&b), 0);
    ASSERT_XPATH(&b, "/s:ListAllMyBucketsResult/s:Owner/s:DisplayName", "cairn & co");
    ASSERT_XPATH(&b, "count(//s:Bucket)", "2");
    ASSERT_XPATH(&b, "//s:Bucket[1]/s:Name", "alpha");
    ASSERT_XPATH(&b, "//s:Bucket[1]/s:CreationDate", "2009-10-12T17:50:30.000Z");
    ASSERT_XPATH(&b, "//s:Bucket[2]/s:CreationDate", "1970-01-01T00:00:00.000Z");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_list_objects)
{
    struct gw_buf b;
    gw_buf_init(&b, 0);
    struct gw_xml_owner o = {"id1", NULL};
    struct gw_xml_list l = {.v2 = 1,
                            .encode_url = 1,
                            .bucket = "bkt",
                            .prefix = "a b/",
                            .delimiter = "/",
                            .max_keys = 1000,
                            .is_truncated = 1,
                            .start_after = "x+y",
                            .continuation_token = "tok&1",
                            .next_continuation_token = "tok2",
                            .key_count = 2};
    gw_xml_list_begin(&b, &l);
    struct gw_xml_object obj = {"a b/c+d&\xC3\xBC.txt", 1255369830000LL, "abc123", 12345, NULL, &o};
    gw_xml_list_add_object(&b, &l, &obj);
    gw_xml_list_add_prefix(&b, &l, "a b/sub dir/");
    ck_assert_int_eq(gw_xml_list_end(&b, &l), 0);
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:Name", "bkt");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:Prefix", "a%20b/");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:StartAfter", "x%2By");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:ContinuationToken", "tok&1");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:NextContinuationToken", "tok2");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:KeyCount", "2");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:MaxKeys", "1000");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:Delimiter", "/");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:EncodingType", "url");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:IsTruncated", "true");
    ASSERT_XPATH(&b, "//s:Contents/s:Key", "a%20b/c%2Bd%26%C3%BC.txt");
    ASSERT_XPATH(&b, "//s:Contents/s:ETag", "\"abc123\"");
    ASSERT_XPATH(&b, "//s:Contents/s:Size", "12345");
    ASSERT_XPATH(&b, "//s:Contents/s:StorageClass", "STANDARD");
    ASSERT_XPATH(&b, "//s:Contents/s:Owner/s:ID", "id1");
    ASSERT_XPATH(&b, "//s:Contents/s:LastModified", "2009-10-12T17:50:30.000Z");
    ASSERT_XPATH(&b, "//s:CommonPrefixes/s:Prefix", "a%20b/sub%20dir/");
    ASSERT_XPATH(&b, "count(/s:ListBucketResult/s:Marker)", "0");
    gw_buf_reset(&b);
    /* v1 without encoding: raw values, XML-escaped */
    struct gw_xml_list l1 = {.v2 = 0,
                             .bucket = "bkt",
                             .prefix = "",
                             .marker = "m<1>",
                             .next_marker = "n&2",
                             .max_keys = 2,
                             .is_truncated = 0};
    gw_xml_list_begin(&b, &l1);
    obj.owner = NULL;
    obj.storage_class = "REDUCED_REDUNDANCY";
    gw_xml_list_add_object(&b, &l1, &obj);
    ck_assert_int_eq(gw_xml_list_end(&b, &l1), 0);
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:Marker", "m<1>");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:NextMarker", "n&2");
    ASSERT_XPATH(&b, "/s:ListBucketResult/s:IsTruncated", "false");
    ASSERT_XPATH(&b, "count(/s:ListBucketResult/s:Delimiter)", "0");
    ASSERT_XPATH(&b, "count(/s:ListBucketResult/s:KeyCount)", "0");
    ASSERT_XPATH(&b, "//s:Contents/s:Key", "a b/c+d&\xC3\xBC.txt");
    ASSERT_XPATH(&b, "//s:Contents/s:StorageClass", "REDUCED_REDUNDANCY");
    ASSERT_XPATH(&b, "count(//s:Contents/s:Owner)", "0");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_multipart_docs)
{
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_xml_initiate_multipart(&b, "bkt", "k&y", "up-1"), 0);
    ASSERT_XPATH(&b, "/s:InitiateMultipartUploadResult/s:Key", "k&y");
    ASSERT_XPATH(&b, "/s:InitiateMultipartUploadResult/s:UploadId", "up-1");
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_xml_complete_multipart(&b, "http://h/bkt/k", "bkt", "k", "abc-3"), 0);
    ASSERT_XPATH(&b, "/s:CompleteMultipartUploadResult/s:Location", "http://h/bkt/k");
    ASSERT_XPATH(&b, "/s:CompleteMultipartUploadResult/s:ETag", "\"abc-3\"");
    gw_buf_reset(&b);
    struct gw_xml_owner o = {"id", "name"};
    struct gw_xml_parts p = {"bkt", "k", "up-1", 0, 2, 2, 1, NULL, &o};
    gw_xml_parts_begin(&b, &p);
    gw_xml_parts_add(&b, 1, 1000, "e1", 5 << 20);
    gw_xml_parts_add(&b, 2, 2000, "e2", 100);
    ck_assert_int_eq(gw_xml_parts_end(&b), 0);
    ASSERT_XPATH(&b, "count(//s:Part)", "2");
    ASSERT_XPATH(&b, "//s:Part[2]/s:PartNumber", "2");
    ASSERT_XPATH(&b, "//s:Part[1]/s:Size", "5242880");
    ASSERT_XPATH(&b, "//s:Part[2]/s:ETag", "\"e2\"");
    ASSERT_XPATH(&b, "/s:ListPartsResult/s:NextPartNumberMarker", "2");
    ASSERT_XPATH(&b, "/s:ListPartsResult/s:IsTruncated", "true");
    ASSERT_XPATH(&b, "/s:ListPartsResult/s:Initiator/s:ID", "id");
    gw_buf_reset(&b);
    struct gw_xml_uploads u = {.encode_url = 1,
                               .bucket = "bkt",
                               .key_marker = "",
                               .upload_id_marker = "",
                               .next_key_marker = "k y",
                               .next_upload_id_marker = "u2",
                               .prefix = "",
                               .delimiter = "/",
                               .max_uploads = 1000,
                               .is_truncated = 0};
    gw_xml_uploads_begin(&b, &u);
    gw_xml_uploads_add(&b, &u, "k y", "u2", 3000, NULL, &o);
    gw_xml_uploads_add_prefix(&b, &u, "d ir/");
    ck_assert_int_eq(gw_xml_uploads_end(&b, &u), 0);
    ASSERT_XPATH(&b, "//s:Upload/s:Key", "k%20y");
    ASSERT_XPATH(&b, "//s:Upload/s:UploadId", "u2");
    ASSERT_XPATH(&b, "//s:Upload/s:Initiated", "1970-01-01T00:00:03.000Z");
    ASSERT_XPATH(&b, "//s:CommonPrefixes/s:Prefix", "d%20ir/");
    ASSERT_XPATH(&b, "/s:ListMultipartUploadsResult/s:NextKeyMarker", "k%20y");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_other_docs)
{
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_xml_copy_object_result(&b, 1000, "abc"), 0);
    ASSERT_XPATH(&b, "/s:CopyObjectResult/s:ETag", "\"abc\"");
    ASSERT_XPATH(&b, "/s:CopyObjectResult/s:LastModified", "1970-01-01T00:00:01.000Z");
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_xml_copy_part_result(&b, 1000, "abc"), 0);
    ASSERT_XPATH(&b, "/s:CopyPartResult/s:ETag", "\"abc\"");
    gw_buf_reset(&b);
    gw_xml_delete_begin(&b);
    gw_xml_delete_deleted(&b, "a&b");
    gw_xml_delete_error(&b, "c", GW_S3_ACCESS_DENIED, NULL);
    ck_assert_int_eq(gw_xml_delete_end(&b), 0);
    ASSERT_XPATH(&b, "//s:Deleted/s:Key", "a&b");
    ASSERT_XPATH(&b, "//s:Error/s:Key", "c");
    ASSERT_XPATH(&b, "//s:Error/s:Code", "AccessDenied");
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_xml_location_constraint(&b, "us-east-1"), 0);
    ASSERT_XPATH(&b, "/s:LocationConstraint", "");
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_xml_location_constraint(&b, "eu-west-1"), 0);
    ASSERT_XPATH(&b, "/s:LocationConstraint", "eu-west-1");
    gw_buf_free(&b);
}
END_TEST

static int parse_complete(const char *doc, struct gw_xml_part **parts, size_t *n,
                          enum gw_s3err *err)
{
    return gw_xml_parse_complete(doc, strlen(doc), parts, n, err);
}

START_TEST(test_parse_complete)
{
    struct gw_xml_part *parts;
    size_t n;
    enum gw_s3err err;
    const char *ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     " <Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\""
                     "</ETag></Part>\n"
                     " <Part><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>"
                     "<ChecksumCRC32>xyz</ChecksumCRC32><PartNumber> 3 </PartNumber></Part>"
                     "</CompleteMultipartUpload>";
    ck_assert_int_eq(parse_complete(ok, &parts, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(parts[0].part_number, 1);
    ck_assert_str_eq(parts[0].etag, "a54357aff0632cce46d942af68356b38");
    ck_assert_int_eq(parts[1].part_number, 3);
    ck_assert_str_eq(parts[1].etag, "0c78aef83f66abc1fa1e8477f296d394");
    free(parts);
    /* unquoted ETags and no namespace */
    ck_assert_int_eq(parse_complete("<CompleteMultipartUpload><Part><PartNumber>7</PartNumber>"
                                    "<ETag>abc</ETag></Part></CompleteMultipartUpload>",
                                    &parts, &n, &err),
                     0);
    ck_assert_str_eq(parts[0].etag, "abc");
    free(parts);
    static const struct {
        const char *doc;
        enum gw_s3err want;
    } bad[] = {
        {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>"
         "<Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>",
         GW_S3_INVALID_PART_ORDER},
        {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part>"
         "<Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>",
         GW_S3_INVALID_PART_ORDER},
        {"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part>"
         "</CompleteMultipartUpload>",
         GW_S3_TOO_MANY_PARTS},
        {"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"
         "</CompleteMultipartUpload>",
         GW_S3_TOO_MANY_PARTS},
        {"<CompleteMultipartUpload></CompleteMultipartUpload>", GW_S3_MALFORMED_XML},
        {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
         "</CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
        {"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part>"
         "</CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
        {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag>"
         "</CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
        {"<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
         GW_S3_MALFORMED_XML},
        {"<CompleteMultipartUpload><Bogus/></CompleteMultipartUpload>", GW_S3_MALFORMED_XML},
        {"not xml at all", GW_S3_MALFORMED_XML},
        {"", GW_S3_MALFORMED_XML},
        /* entity tricks: a DTD is refused outright */
        {"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
         "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><CompleteMultipartUpload><Part>"
         "<PartNumber>1</PartNumber><ETag>&lol2;</ETag></Part></CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
        {"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
         "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&xxe;</ETag></Part>"
         "</CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
        {"<!DOCTYPE x SYSTEM \"http://127.0.0.1:1/x.dtd\"><CompleteMultipartUpload><Part>"
         "<PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
         GW_S3_MALFORMED_XML},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parts = NULL;
        int rc = parse_complete(bad[i].doc, &parts, &n, &err);
        ck_assert_msg(rc < 0 && err == bad[i].want, "case %zu: rc %d err %s", i, rc,
                      gw_s3err_code(err));
        ck_assert_ptr_null(parts);
    }
    /* 10,000 parts parse; the size cap refuses a body over 1 MiB. */
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "<CompleteMultipartUpload>");
    for (int i = 1; i <= 10000; i++)
        gw_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>", i);
    gw_buf_puts(&b, "</CompleteMultipartUpload>");
    ck_assert_int_eq(gw_xml_parse_complete(b.data, b.len, &parts, &n, &err), 0);
    ck_assert_uint_eq(n, 10000);
    ck_assert_int_eq(parts[9999].part_number, 10000);
    free(parts);
    gw_buf_reset(&b);
    gw_buf_puts(&b, "<CompleteMultipartUpload>");
    while (b.len <= GW_XML_MAX_BODY)
        gw_buf_puts(&b, "<!-- padding padding padding padding padding padding -->");
    gw_buf_puts(&b, "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
                    "</CompleteMultipartUpload>");
    ck_assert_int_lt(gw_xml_parse_complete(b.data, b.len, &parts, &n, &err), 0);
    ck_assert_int_eq(err, GW_S3_MALFORMED_XML);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_parse_delete)
{
    struct gw_xml_delete_req d;
    enum gw_s3err err;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Object><Key>a</Key></Object>"
                      "<Object><Key> b&amp;c </Key><VersionId>v1</VersionId></Object>"
                      "<Quiet>true</Quiet></Delete>";
    ck_assert_int_eq(gw_xml_parse_delete(doc, strlen(doc), &d, &err), 0);
    ck_assert_int_eq(d.quiet, 1);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_str_eq(d.keys[0], "a");
    ck_assert_str_eq(d.keys[1], " b&c ");
    ck_assert_ptr_null(d.version_ids[0]);
    ck_assert_str_eq(d.version_ids[1], "v1");
    gw_xml_delete_req_free(&d);
    const char *noquiet = "<Delete><Object><Key>x</Key></Object></Delete>";
    ck_assert_int_eq(gw_xml_parse_delete(noquiet, strlen(noquiet), &d, &err), 0);
    ck_assert_int_eq(d.quiet, 0);
    gw_xml_delete_req_free(&d);
    const char *bad[] = {
        "<Delete></Delete>",
        "<Delete><Object></Object></Delete>",
        "<Delete><Object><Key></Key></Object></Delete>",
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
        "<Delete><Object><Key>a<b/></Key></Object></Delete>",
        "<Delete><Thing/></Delete>",
        "<Delete><Object><Key>a</Key></Object>",
        "<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object>"
        "</Delete>",
        "<Delete><Object><Key>a</Key><VersionId>1<b/></VersionId></Object></Delete>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(gw_xml_parse_delete(bad[i], strlen(bad[i]), &d, &err) < 0, "case %zu", i);
        ck_assert_int_eq(err, GW_S3_MALFORMED_XML);
        ck_assert_uint_eq(d.n, 0);
    }
    /* 1000 keys pass, 1001 do not */
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "<Delete>");
    for (int i = 0; i < 1000; i++)
        gw_buf_printf(&b, "<Object><Key>k%d</Key></Object>", i);
    ck_assert_int_eq(gw_xml_parse_delete(b.data, b.len, &d, &err), CAIRN_E_PROTO); /* unclosed */
    gw_buf_puts(&b, "</Delete>");
    ck_assert_int_eq(gw_xml_parse_delete(b.data, b.len, &d, &err), 0);
    ck_assert_uint_eq(d.n, 1000);
    ck_assert_str_eq(d.keys[999], "k999");
    gw_xml_delete_req_free(&d);
    b.len -= strlen("</Delete>");
    gw_buf_puts(&b, "<Object><Key>one-more</Key></Object></Delete>");
    ck_assert_int_lt(gw_xml_parse_delete(b.data, b.len, &d, &err), 0);
    ck_assert_int_eq(err, GW_S3_MALFORMED_XML);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_parse_create_bucket)
{
    char region[64];
    enum gw_s3err err;
    const char *doc =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>eu-west-1</LocationConstraint>"
        "</CreateBucketConfiguration>";
    ck_assert_int_eq(gw_xml_parse_create_bucket(doc, strlen(doc), region, sizeof(region), &err), 0);
    ck_assert_str_eq(region, "eu-west-1");
    const char *empty = "<CreateBucketConfiguration/>";
    ck_assert_int_eq(gw_xml_parse_create_bucket(empty, strlen(empty), region, sizeof(region), &err),
                     0);
    ck_assert_str_eq(region, "");
    const char *bad = "<CreateBucketConfiguration><LocationConstraint>x";
    ck_assert_int_lt(gw_xml_parse_create_bucket(bad, strlen(bad), region, sizeof(region), &err), 0);
    ck_assert_int_eq(err, GW_S3_MALFORMED_XML);
    ck_assert_int_lt(gw_xml_parse_create_bucket(doc, strlen(doc), region, 4, &err), 0);
}
END_TEST

/* Random mutations of valid documents: the parsers never crash (ASan build),
 * and whatever they accept satisfies their contracts. */
START_TEST(test_parser_fuzz)
{
    const char *complete = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                           "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>\"aa\"</ETag>"
                           "</Part><Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag>"
                           "</Part></CompleteMultipartUpload>";
    const char *del = "<Delete><Quiet>false</Quiet><Object><Key>k&amp;1</Key></Object>"
                      "<Object><Key>k2</Key><VersionId>v</VersionId></Object></Delete>";
    uint32_t seed = 4242;
    char m[1024];
    int ok = 0;
    for (int iter = 0; iter < 2000; iter++) {
        const char *src = iter % 2 ? del : complete;
        size_t len = strlen(src);
        memcpy(m, src, len);
        int muts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 8) % 3;
        for (int k = 0; k < muts && len > 1; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 8) % 3) {
            case 0:
                m[at] = (char)(seed >> 16);
                break;
            case 1:
                memmove(m + at, m + at + 1, len - at - 1);
                len--;
                break;
            default:
                memmove(m + at + 1, m + at, len - at);
                m[at] = "<>&;/\"'x1 "[(seed >> 16) % 10];
                len++;
                break;
            }
        }
        enum gw_s3err err;
        if (iter % 2) {
            struct gw_xml_delete_req d;
            if (gw_xml_parse_delete(m, len, &d, &err) == 0) {
                ck_assert_uint_ge(d.n, 1);
                for (size_t i = 0; i < d.n; i++)
                    ck_assert_uint_gt(strlen(d.keys[i]), 0);
                gw_xml_delete_req_free(&d);
                ok++;
            } else {
                ck_assert_int_ne(err, GW_S3_OK);
            }
        } else {
            struct gw_xml_part *parts;
            size_t n;
            if (gw_xml_parse_complete(m, len, &parts, &n, &err) == 0) {
                ck_assert_uint_ge(n, 1);
                for (size_t i = 0; i < n; i++) {
                    ck_assert_int_ge(parts[i].part_number, 1);
                    ck_assert_int_le(parts[i].part_number, 10000);
                    if (i)
                        ck_assert_int_gt(parts[i].part_number, parts[i - 1].part_number);
                }
                free(parts);
                ok++;
            } else {
                ck_assert_int_ne(err, GW_S3_OK);
            }
        }
    }
    ck_assert_int_gt(ok, 0);
}
END_TEST

#ifndef GW_TEST_SRC
#error "GW_TEST_SRC must name tests/gateway"
#endif
#ifndef GW_TEST_BIN
#error "GW_TEST_BIN must name the test build directory"
#endif

static void write_doc(const char *dir, const char *name, struct gw_buf *b)
{
    ck_assert_int_eq(gw_buf_error(b), 0);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
    gw_buf_reset(b);
}

/* The builders' output as a real client reads it. */
START_TEST(test_botocore_reads_documents)
{
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof(dir), "%s/xml_docs", GW_TEST_BIN);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    struct gw_xml_owner o = {"owner-id", "cairn & co"};
    const char *key = "a b/c+d&\xC3\xBC.txt";

    struct gw_xml_list l2 = {.v2 = 1,
                             .encode_url = 1,
                             .bucket = "bkt",
                             .prefix = "a b/",
                             .delimiter = "/",
                             .max_keys = 1000,
                             .is_truncated = 1,
                             .start_after = "x+y",
                             .next_continuation_token = "tok2",
                             .key_count = 2};
    struct gw_xml_object obj = {key, 1255369830000LL, "abc123", 12345, NULL, NULL};
    gw_xml_list_begin(&b, &l2);
    gw_xml_list_add_object(&b, &l2, &obj);
    gw_xml_list_add_prefix(&b, &l2, "a b/sub dir/");
    gw_xml_list_end(&b, &l2);
    write_doc(dir, "list_v2.xml", &b);

    struct gw_xml_list l1 = {
        .bucket = "bkt", .prefix = "", .marker = "m<1>", .next_marker = "n&2", .max_keys = 2};
    obj.storage_class = "REDUCED_REDUNDANCY";
    obj.owner = &o;
    gw_xml_list_begin(&b, &l1);
    gw_xml_list_add_object(&b, &l1, &obj);
    gw_xml_list_end(&b, &l1);
    write_doc(dir, "list_v1.xml", &b);

    gw_xml_buckets_begin(&b, &o);
    gw_xml_buckets_add(&b, "alpha", 1000);
    gw_xml_buckets_add(&b, "beta", 2000);
    gw_xml_buckets_end(&b);
    write_doc(dir, "buckets.xml", &b);

    struct gw_xml_parts p = {"bkt", "k", "up-1", 0, 2, 2, 1, NULL, &o};
    gw_xml_parts_begin(&b, &p);
    gw_xml_parts_add(&b, 1, 1000, "e1", 5 << 20);
    gw_xml_parts_add(&b, 2, 2000, "e2", 100);
    gw_xml_parts_end(&b);
    write_doc(dir, "parts.xml", &b);

    struct gw_xml_uploads u = {.bucket = "bkt",
                               .key_marker = "",
                               .upload_id_marker = "",
                               .next_key_marker = "k y",
                               .next_upload_id_marker = "u2",
                               .prefix = "",
                               .max_uploads = 1000};
    gw_xml_uploads_begin(&b, &u);
    gw_xml_uploads_add(&b, &u, "k y", "u2", 3000, NULL, &o);
    gw_xml_uploads_end(&b, &u);
    write_doc(dir, "uploads.xml", &b);

    gw_xml_initiate_multipart(&b, "bkt", "k&y", "up-1");
    write_doc(dir, "initiate.xml", &b);
    gw_xml_complete_multipart(&b, "http://h/bkt/k", "bkt", "k", "abc-3");
    write_doc(dir, "complete.xml", &b);
    gw_xml_copy_object_result(&b, 1000, "abc");
    write_doc(dir, "copy.xml", &b);
    gw_xml_delete_begin(&b);
    gw_xml_delete_deleted(&b, "a&b");
    gw_xml_delete_error(&b, "c", GW_S3_ACCESS_DENIED, NULL);
    gw_xml_delete_deleted_version(&b, "v", "0000000000000007", 0, NULL);
    gw_xml_delete_deleted_version(&b, "m", NULL, 1, "0000000000000009");
    gw_xml_delete_error_version(&b, "l", "0000000000000003", GW_S3_OBJECT_LOCKED, NULL);
    gw_xml_delete_end(&b);
    write_doc(dir, "delete.xml", &b);

    struct gw_xml_versions lv = {.encode_url = 1,
                                 .bucket = "bkt",
                                 .prefix = "a b/",
                                 .delimiter = "/",
                                 .key_marker = "k m",
                                 .version_id_marker = "0000000000000002",
                                 .next_key_marker = key,
                                 .next_version_id_marker = "null",
                                 .max_keys = 3,
                                 .is_truncated = 1};
    struct gw_xml_version ve = {key, "0000000000000005", 1, 1, 1255369830000LL, "", 0, NULL, &o};
    gw_xml_versions_begin(&b, &lv);
    gw_xml_versions_add(&b, &lv, &ve);
    ve = (struct gw_xml_version){key, "null", 0, 0, 1000, "abc", 42, NULL, &o};
    gw_xml_versions_add(&b, &lv, &ve);
    gw_xml_versions_add_prefix(&b, &lv, "a b/sub dir/");
    gw_xml_versions_end(&b);
    write_doc(dir, "versions.xml", &b);
    gw_xml_location_constraint(&b, "eu-west-1");
    write_doc(dir, "location.xml", &b);
    gw_s3err_xml(&b, GW_S3_NO_SUCH_KEY, NULL, "/bkt/k", "rid");
    write_doc(dir, "error.xml", &b);
    gw_buf_free(&b);

    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/check_xml_botocore.py '%s'", GW_TEST_SRC, dir);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_xml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_error_table);
    tcase_add_test(tc, test_error_xml);
    tcase_add_test(tc, test_list_buckets);
    tcase_add_test(tc, test_list_objects);
    tcase_add_test(tc, test_multipart_docs);
    tcase_add_test(tc, test_other_docs);
    tcase_add_test(tc, test_parse_complete);
    tcase_add_test(tc, test_parse_delete);
    tcase_add_test(tc, test_parse_create_bucket);
    tcase_add_test(tc, test_botocore_reads_documents);
    tcase_add_test(tc, test_parser_fuzz);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    gw_xml_init();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
