/* The S3 front end's pure decisions (gw_s3_int.h): which operation a request
 * is (s3_classify), the names /metrics and the logs show for them, and the
 * S3 error every metadata status and Reason becomes (s3_md_err, with the
 * maps the operations use). */
#include "gw_s3_int.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The operation of method on path?query, with header (if not NULL) sent:
 * "Name" (valued "src/key") or "Name:value". */
static enum s3_op op_of(const char *method, const char *path, const char *query, const char *header)
{
    struct s3_req *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    enum gw_s3err e = GW_S3_OK;
    ck_assert_int_eq(gw_query_parse(query, &r->q, &e), 0);
    ck_assert_int_eq(gw_target_parse("127.0.0.1", "", path, &r->t, &e), 0);
    char name[64];
    if (header) {
        const char *colon = strchr(header, ':');
        snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - header) : (int)strlen(header),
                 header);
        r->hdrs[0] = (struct gw_header){name, colon ? colon + 1 : "src/key"};
        r->n_hdrs = 1;
    }
    enum s3_op op = s3_classify(method, r);
    gw_query_free(&r->q);
    free(r);
    return op;
}

START_TEST(test_classify)
{
    static const struct {
        const char *method, *path, *query, *header;
        enum s3_op op;
    } cases[] = {
        {"GET", "/", "", NULL, OP_LIST_BUCKETS},
        {"HEAD", "/", "", NULL, OP_LIST_BUCKETS},
        {"PUT", "/", "", NULL, OP_UNKNOWN},
        /* buckets */
        {"PUT", "/b", "", NULL, OP_CREATE_BUCKET},
        {"HEAD", "/b", "", NULL, OP_HEAD_BUCKET},
        {"DELETE", "/b", "", NULL, OP_DELETE_BUCKET},
        {"GET", "/b", "location", NULL, OP_GET_BUCKET_LOCATION},
        {"GET", "/b", "versioning", NULL, OP_GET_BUCKET_VERSIONING},
        {"GET", "/b", "", NULL, OP_LIST_OBJECTS},
        {"GET", "/b", "list-type=1", NULL, OP_LIST_OBJECTS},
        {"GET", "/b", "list-type=2&prefix=a", NULL, OP_LIST_OBJECTS_V2},
        {"GET", "/b", "uploads", NULL, OP_LIST_UPLOADS},
        {"POST", "/b", "uploads", NULL, OP_UNKNOWN},
        {"GET", "/b", "uploadId=u", NULL, OP_UNKNOWN},
        {"PUT", "/b", "partNumber=1", NULL, OP_UNKNOWN},
        {"POST", "/b", "delete", NULL, OP_DELETE_OBJECTS},
        {"POST", "/b", "", NULL, OP_UNKNOWN},
        {"PATCH", "/b", "", NULL, OP_UNKNOWN},
        {"GET", "/b", "acl", NULL, OP_GET_BUCKET_ACL},
        {"PUT", "/b", "acl", NULL, OP_PUT_BUCKET_ACL},
        {"DELETE", "/b", "acl", NULL, OP_UNKNOWN},
        {"GET", "/b", "policy", NULL, OP_GET_BUCKET_POLICY},
        {"PUT", "/b", "policy", NULL, OP_PUT_BUCKET_POLICY},
        {"DELETE", "/b", "policy", NULL, OP_DELETE_BUCKET_POLICY},
        {"GET", "/b/k", "policy", NULL, OP_UNSUPPORTED},
        {"GET", "/b/k", "acl", NULL, OP_GET_OBJECT_ACL},
        {"PUT", "/b/k", "acl", NULL, OP_PUT_OBJECT_ACL},
        {"GET", "/b/k", "acl&versionId=v", NULL, OP_GET_OBJECT_ACL},
        {"PUT", "/b/k", "acl&versionId=null", NULL, OP_PUT_OBJECT_ACL},
        {"GET", "/b", "versions", NULL, OP_LIST_OBJECT_VERSIONS},
        {"GET", "/b", "versions&prefix=a&key-marker=k", NULL, OP_LIST_OBJECT_VERSIONS},
        {"DELETE", "/b", "versions", NULL, OP_UNKNOWN},
        {"PUT", "/b", "versioning", NULL, OP_PUT_BUCKET_VERSIONING},
        {"DELETE", "/b", "versioning", NULL, OP_UNKNOWN},
        {"PUT", "/b", "object-lock", NULL, OP_PUT_OBJECT_LOCK_CONFIG},
        {"GET", "/b", "object-lock", NULL, OP_GET_OBJECT_LOCK_CONFIG},
        {"GET", "/b", "tagging", NULL, OP_GET_BUCKET_TAGGING},
        {"PUT", "/b", "tagging", NULL, OP_PUT_BUCKET_TAGGING},
        {"DELETE", "/b", "tagging", NULL, OP_DELETE_BUCKET_TAGGING},
        {"POST", "/b", "tagging", NULL, OP_UNKNOWN},
        {"GET", "/b", "cors", NULL, OP_GET_BUCKET_CORS},
        {"PUT", "/b", "cors", NULL, OP_PUT_BUCKET_CORS},
        {"DELETE", "/b", "cors", NULL, OP_DELETE_BUCKET_CORS},
        {"GET", "/b/k", "cors", NULL, OP_UNSUPPORTED},
        {"GET", "/b", "lifecycle", NULL, OP_GET_BUCKET_LIFECYCLE},
        {"PUT", "/b", "lifecycle", NULL, OP_PUT_BUCKET_LIFECYCLE},
        {"DELETE", "/b", "lifecycle", NULL, OP_DELETE_BUCKET_LIFECYCLE},
        {"POST", "/b", "lifecycle", NULL, OP_UNKNOWN},
        {"GET", "/b/k", "lifecycle", NULL, OP_UNSUPPORTED},
        {"OPTIONS", "/b", "", NULL, OP_CORS_PREFLIGHT},
        {"OPTIONS", "/b/k/l", "", NULL, OP_CORS_PREFLIGHT},
        {"OPTIONS", "/", "", NULL, OP_CORS_PREFLIGHT},
        {"POST", "/b", "", "Content-Type:multipart/form-data; boundary=x", OP_POST_OBJECT},
        {"POST", "/b", "", "content-type:Multipart/Form-Data;boundary=y", OP_POST_OBJECT},
        {"POST", "/b", "", "Content-Type:application/x-www-form-urlencoded", OP_UNKNOWN},
        {"POST", "/b/k", "", "Content-Type:multipart/form-data; boundary=x", OP_UNKNOWN},
        /* objects */
        {"PUT", "/b/k", "", NULL, OP_PUT_OBJECT},
        {"PUT", "/b/k", "", "x-amz-copy-source", OP_COPY_OBJECT},
        {"GET", "/b/k/l", "", NULL, OP_GET_OBJECT},
        {"HEAD", "/b/k", "", NULL, OP_HEAD_OBJECT},
        {"DELETE", "/b/k", "", NULL, OP_DELETE_OBJECT},
        {"POST", "/b/k", "", NULL, OP_UNKNOWN},
        {"GET", "/b/k", "tagging", NULL, OP_GET_OBJECT_TAGGING},
        {"PUT", "/b/k", "tagging", NULL, OP_PUT_OBJECT_TAGGING},
        {"DELETE", "/b/k", "tagging", NULL, OP_DELETE_OBJECT_TAGGING},
        {"GET", "/b/k", "tagging&versionId=v", NULL, OP_GET_OBJECT_TAGGING},
        {"PUT", "/b/k", "tagging&versionId=v", NULL, OP_PUT_OBJECT_TAGGING},
        {"DELETE", "/b/k", "tagging&versionId=v", NULL, OP_DELETE_OBJECT_TAGGING},
        {"GET", "/b", "tagging&versionId=v", NULL, OP_UNSUPPORTED},
        {"GET", "/b/k", "attributes", NULL, OP_GET_OBJECT_ATTRIBUTES},
        {"GET", "/b/k", "attributes&versionId=v", NULL, OP_GET_OBJECT_ATTRIBUTES},
        {"PUT", "/b/k", "attributes", NULL, OP_UNKNOWN},
        {"GET", "/b", "attributes", NULL, OP_UNSUPPORTED},
        /* bucket configurations never stored: S3's answer for none */
        {"GET", "/b", "encryption", NULL, OP_GET_BUCKET_ENCRYPTION},
        {"PUT", "/b", "encryption", NULL, OP_UNSUPPORTED},
        {"DELETE", "/b", "encryption", NULL, OP_UNSUPPORTED},
        {"GET", "/b", "publicAccessBlock", NULL, OP_GET_PUBLIC_ACCESS_BLOCK},
        {"GET", "/b", "ownershipControls", NULL, OP_GET_BUCKET_OWNERSHIP_CONTROLS},
        {"GET", "/b", "website", NULL, OP_GET_BUCKET_WEBSITE},
        {"GET", "/b", "replication", NULL, OP_GET_BUCKET_REPLICATION},
        {"GET", "/b", "logging", NULL, OP_GET_BUCKET_LOGGING},
        {"GET", "/b", "notification", NULL, OP_GET_BUCKET_NOTIFICATION},
        {"GET", "/b", "requestPayment", NULL, OP_GET_BUCKET_REQUEST_PAYMENT},
        {"GET", "/b", "accelerate", NULL, OP_GET_BUCKET_ACCELERATE},
        {"GET", "/b/k", "encryption", NULL, OP_UNSUPPORTED},
        {"PUT", "/b/k", "retention", NULL, OP_PUT_OBJECT_RETENTION},
        {"GET", "/b/k", "retention&versionId=0000000000000001", NULL, OP_GET_OBJECT_RETENTION},
        {"PUT", "/b/k", "legal-hold", NULL, OP_PUT_OBJECT_LEGAL_HOLD},
        {"GET", "/b/k", "legal-hold", NULL, OP_GET_OBJECT_LEGAL_HOLD},
        {"DELETE", "/b/k", "legal-hold", NULL, OP_UNKNOWN},
        {"GET", "/b/k", "versionId=null", NULL, OP_GET_OBJECT},
        {"DELETE", "/b/k", "versionId=0000000000000001", NULL, OP_DELETE_OBJECT},
        {"GET", "/b/k", "partNumber=1", NULL, OP_GET_OBJECT},
        {"HEAD", "/b/k", "partNumber=2", NULL, OP_HEAD_OBJECT},
        {"DELETE", "/b/k", "partNumber=1", NULL, OP_UNSUPPORTED},
        {"PUT", "/b/k", "partNumber=1", NULL, OP_UNSUPPORTED},
        /* multipart */
        {"POST", "/b/k", "uploads", NULL, OP_CREATE_MULTIPART},
        {"GET", "/b/k", "uploads", NULL, OP_UNKNOWN},
        {"PUT", "/b/k", "partNumber=1&uploadId=u", NULL, OP_UPLOAD_PART},
        {"PUT", "/b/k", "partNumber=1&uploadId=u", "x-amz-copy-source", OP_UPLOAD_PART_COPY},
        {"PUT", "/b/k", "uploadId=u", NULL, OP_UNKNOWN},
        {"POST", "/b/k", "uploadId=u", NULL, OP_COMPLETE_MULTIPART},
        {"GET", "/b/k", "uploadId=u", NULL, OP_LIST_PARTS},
        {"DELETE", "/b/k", "uploadId=u", NULL, OP_ABORT_MULTIPART},
        {"HEAD", "/b/k", "uploadId=u", NULL, OP_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum s3_op got = op_of(cases[i].method, cases[i].path, cases[i].query, cases[i].header);
        ck_assert_msg(got == cases[i].op, "%s %s?%s%s: %s, want %s", cases[i].method, cases[i].path,
                      cases[i].query, cases[i].header ? " (copy)" : "", s3_op_name(got),
                      s3_op_name(cases[i].op));
    }
}
END_TEST

START_TEST(test_op_names)
{
    /* These are the op labels of /metrics: renaming one breaks dashboards. */
    ck_assert_str_eq(s3_op_name(OP_UNKNOWN), "unknown");
    ck_assert_str_eq(s3_op_name(OP_LIST_BUCKETS), "ListBuckets");
    ck_assert_str_eq(s3_op_name(OP_PUT_OBJECT), "PutObject");
    ck_assert_str_eq(s3_op_name(OP_LIST_UPLOADS), "ListMultipartUploads");
    ck_assert_str_eq(s3_op_name(OP_UPLOAD_PART_COPY), "UploadPartCopy");
    ck_assert_str_eq(s3_op_name(OP_UNSUPPORTED), "Unsupported");
    ck_assert_str_eq(s3_op_name(OP__COUNT), "unknown");
    for (int i = 0; i < OP__COUNT; i++) {
        ck_assert_msg(s3_op_name((enum s3_op)i)[0] != '\0', "op %d has no name", i);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(s3_op_name((enum s3_op)i), s3_op_name((enum s3_op)j)) != 0,
                          "ops %d and %d share a name", i, j);
    }
}
END_TEST

/* GET/HEAD ?partNumber=N: which bytes a part is. */
START_TEST(test_part_bytes)
{
    uint64_t sizes[] = {5u << 20, 5u << 20, 7};
    Md__ObjectRecord mp = MD__OBJECT_RECORD__INIT;
    mp.size = (10u << 20) + 7;
    mp.part_sizes = sizes;
    mp.n_part_sizes = 3;
    uint64_t off = 99, len = 99;
    ck_assert_int_eq(s3_part_bytes(&mp, 1, &off, &len), 0);
    ck_assert_uint_eq(off, 0);
    ck_assert_uint_eq(len, 5u << 20);
    ck_assert_int_eq(s3_part_bytes(&mp, 3, &off, &len), 0);
    ck_assert_uint_eq(off, 10u << 20);
    ck_assert_uint_eq(len, 7);
    ck_assert_int_eq(s3_part_bytes(&mp, 4, &off, &len), CAIRN_E_RANGE);
    ck_assert_int_eq(s3_part_bytes(&mp, 10000, &off, &len), CAIRN_E_RANGE);
    /* sizes that do not add up are never served */
    mp.size = 100;
    ck_assert_int_eq(s3_part_bytes(&mp, 3, &off, &len), CAIRN_E_CORRUPT);
    /* a simple object is one part: itself */
    Md__ObjectRecord simple = MD__OBJECT_RECORD__INIT;
    simple.size = 12345;
    ck_assert_int_eq(s3_part_bytes(&simple, 1, &off, &len), 0);
    ck_assert_uint_eq(off, 0);
    ck_assert_uint_eq(len, 12345);
    ck_assert_int_eq(s3_part_bytes(&simple, 2, &off, &len), CAIRN_E_RANGE);
}
END_TEST

START_TEST(test_md_errors)
{
    /* Defaults: a Reason first, then the status. */
    static const struct {
        int status, reason;
        enum gw_s3err want;
    } defaults[] = {
        {CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, GW_S3_NO_SUCH_BUCKET},
        {CAIRN_E_EXISTS, MD__REASON__R_BUCKET_EXISTS, GW_S3_BUCKET_ALREADY_OWNED_BY_YOU},
        {CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY, GW_S3_BUCKET_NOT_EMPTY},
        {CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, GW_S3_NO_SUCH_KEY},
        {CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED, GW_S3_PRECONDITION_FAILED},
        {CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD, GW_S3_NO_SUCH_UPLOAD},
        {CAIRN_E_INVAL, MD__REASON__R_INVALID_PART, GW_S3_INVALID_PART},
        {CAIRN_E_INVAL, MD__REASON__R_INVALID_PART_ORDER, GW_S3_INVALID_PART_ORDER},
        {CAIRN_E_INVAL, MD__REASON__R_ENTITY_TOO_SMALL, GW_S3_ENTITY_TOO_SMALL},
        {CAIRN_E_INVAL, MD__REASON__R_TOO_MANY_PARTS, GW_S3_TOO_MANY_PARTS},
        {CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, GW_S3_INVALID_ARGUMENT},
        {CAIRN_E_RANGE, MD__REASON__R_STALE_REQUEST, GW_S3_INTERNAL_ERROR},
        {CAIRN_E_TIMEOUT, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        {CAIRN_E_UNAVAIL, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        {CAIRN_E_NOTLEADER, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        {CAIRN_E_BUSY, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        {CAIRN_E_SHUTDOWN, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        {CAIRN_E_PRECOND, MD__REASON__R_NONE, GW_S3_PRECONDITION_FAILED},
        {CAIRN_E_NOTEMPTY, MD__REASON__R_NONE, GW_S3_BUCKET_NOT_EMPTY},
        {CAIRN_E_NOTFOUND, MD__REASON__R_NONE, GW_S3_INTERNAL_ERROR},
        {CAIRN_E_NOMEM, MD__REASON__R_NONE, GW_S3_INTERNAL_ERROR},
        {CAIRN_E_PROTO, MD__REASON__R_NONE, GW_S3_INTERNAL_ERROR},
        {0, MD__REASON__R_NONE, GW_S3_INTERNAL_ERROR}, /* succeeded without the record */
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        enum gw_s3err got = s3_md_err(defaults[i].status, defaults[i].reason, NULL);
        ck_assert_msg(got == defaults[i].want, "status %d reason %d: %s, want %s",
                      defaults[i].status, defaults[i].reason, gw_s3err_code(got),
                      gw_s3err_code(defaults[i].want));
    }

    /* The maps change only what they name. */
    static const struct s3_md_map gone = {.reason = MD__REASON__R_NO_SUCH_KEY, .as = GW_S3_OK};
    static const struct {
        const struct s3_md_map *map;
        int status, reason;
        enum gw_s3err want;
    } mapped[] = {
        {&s3_md_bucket, CAIRN_E_NOTFOUND, MD__REASON__R_NONE, GW_S3_NO_SUCH_BUCKET},
        {&s3_md_bucket, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, GW_S3_INVALID_ARGUMENT},
        {&s3_md_key, CAIRN_E_NOTFOUND, MD__REASON__R_NONE, GW_S3_NO_SUCH_KEY},
        {&s3_md_key, 0, MD__REASON__R_NONE, GW_S3_NO_SUCH_KEY},
        {&s3_md_key, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, GW_S3_NO_SUCH_BUCKET},
        {&s3_md_upload, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD, GW_S3_NO_SUCH_UPLOAD},
        {&s3_md_upload, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, GW_S3_NO_SUCH_UPLOAD},
        {&s3_md_upload, 0, MD__REASON__R_NONE, GW_S3_NO_SUCH_UPLOAD},
        {&s3_md_upload, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, GW_S3_NO_SUCH_BUCKET},
        {&s3_md_if_cond, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, GW_S3_PRECONDITION_FAILED},
        {&s3_md_if_cond, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, GW_S3_NO_SUCH_BUCKET},
        {&s3_md_if_cond, CAIRN_E_TIMEOUT, MD__REASON__R_NONE, GW_S3_SERVICE_UNAVAILABLE},
        /* a Reason answered as success (DeleteObject of a missing key) */
        {&gone, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, GW_S3_OK},
        {&gone, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, GW_S3_NO_SUCH_BUCKET},
    };
    for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++) {
        enum gw_s3err got = s3_md_err(mapped[i].status, mapped[i].reason, mapped[i].map);
        ck_assert_msg(got == mapped[i].want, "map case %zu: %s, want %s", i, gw_s3err_code(got),
                      gw_s3err_code(mapped[i].want));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_s3");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_op_names);
    tcase_add_test(tc, test_md_errors);
    tcase_add_test(tc, test_part_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
