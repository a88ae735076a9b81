/* The lifecycle configuration document (gw_lifecycle.h): every part of the
 * schema parsed into md.LifecycleRule and written back to the same rules,
 * and each of S3's refusals with its code and message. */
#include "gw_lifecycle.h"

#include "cn_error.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define DOC(rules) "<LifecycleConfiguration>" rules "</LifecycleConfiguration>"

static const char full[] =
    DOC("<Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>"
        "<Expiration><Days>30</Days></Expiration></Rule>"
        "<Rule><ID>tmp</ID><Filter><And><Prefix>t/</Prefix><Tag><Key>class</Key><Value>tmp</Value>"
        "</Tag><Tag><Key>k</Key><Value></Value></Tag><ObjectSizeGreaterThan>10"
        "</ObjectSizeGreaterThan></And></Filter><Status>Disabled</Status>"
        "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>"
        "<Rule><ID>mpu</ID><Prefix>up/</Prefix><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>"
        "<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>"
        "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>"
        "<Rule><Filter></Filter><Status>Enabled</Status><Expiration>"
        "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>");

static void check_full(const Md__LifecycleConfig *c)
{
    ck_assert_uint_eq(c->n_rules, 4);
    const Md__LifecycleRule *r = c->rules[0];
    ck_assert_str_eq(r->id, "logs");
    ck_assert(r->enabled);
    ck_assert_str_eq(r->prefix, "logs/");
    ck_assert_uint_eq(r->expiration_days, 30);
    r = c->rules[1];
    ck_assert(!r->enabled);
    ck_assert_str_eq(r->prefix, "t/");
    ck_assert_uint_eq(r->n_tags, 2);
    ck_assert_str_eq(r->tags[0]->key, "class");
    ck_assert_str_eq(r->tags[1]->value, "");
    ck_assert_uint_eq(r->size_greater_than, 10);
    ck_assert_int_eq(r->expiration_date_ms, 1893456000000LL);
    r = c->rules[2];
    ck_assert_str_eq(r->prefix, "up/");
    ck_assert_uint_eq(r->abort_upload_days, 7);
    ck_assert_uint_eq(r->noncurrent_days, 5);
    ck_assert_uint_eq(r->newer_noncurrent_versions, 2);
    r = c->rules[3];
    ck_assert_str_eq(r->id, "");
    ck_assert_str_eq(r->prefix, "");
    ck_assert(r->expired_object_delete_marker);
}

START_TEST(test_lifecycle_round_trip)
{
    struct gw_lifecycle lc;
    enum gw_s3err e;
    char msg[GW_LC_MSG_MAX];
    ck_assert_int_eq(gw_lifecycle_parse_xml(full, sizeof(full) - 1, &lc, &e, msg), 0);
    check_full(&lc.cfg);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_lifecycle_xml(&b, &lc.cfg), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "<Date>2030-01-01T00:00:00.000Z</Date>"));
    ck_assert_ptr_nonnull(strstr(b.data, "<Filter><And><Prefix>t/</Prefix><Tag>"));
    /* the rule-level Prefix is written as a Filter */
    ck_assert_ptr_nonnull(strstr(b.data, "<ID>mpu</ID><Filter><Prefix>up/</Prefix></Filter>"));
    struct gw_lifecycle back;
    ck_assert_int_eq(gw_lifecycle_parse_xml(b.data, b.len, &back, &e, msg), 0);
    check_full(&back.cfg);
    gw_lifecycle_free(&back);
    gw_buf_free(&b);
    gw_lifecycle_free(&lc);
    ck_assert_uint_eq(lc.cfg.n_rules, 0);
}
END_TEST

/* The error doc gives, with msg when not NULL. */
static void refused(const char *doc, enum gw_s3err want, const char *want_msg)
{
    struct gw_lifecycle lc;
    enum gw_s3err e = GW_S3_OK;
    char msg[GW_LC_MSG_MAX];
    ck_assert_int_eq(gw_lifecycle_parse_xml(doc, strlen(doc), &lc, &e, msg), CAIRN_E_INVAL);
    ck_assert_msg(e == want, "%s: error %d, want %d (%s)", doc, (int)e, (int)want, msg);
    if (want_msg)
        ck_assert_str_eq(msg, want_msg);
    ck_assert_uint_eq(lc.cfg.n_rules, 0);
}

#define EXP1 "<Expiration><Days>1</Days></Expiration>"

START_TEST(test_lifecycle_refusals)
{
    refused("<LifecycleConfiguration/>", GW_S3_MALFORMED_XML, NULL);
    refused("<Other/>", GW_S3_MALFORMED_XML, NULL);
    refused(DOC("<Rule><Filter/>" EXP1 "</Rule>"), GW_S3_MALFORMED_XML, NULL); /* no Status */
    refused(DOC("<Rule><Filter/><Status>On</Status>" EXP1 "</Rule>"), GW_S3_MALFORMED_XML, NULL);
    refused(DOC("<Rule><Prefix/><Filter/><Status>Enabled</Status>" EXP1 "</Rule>"),
            GW_S3_MALFORMED_XML, NULL);
    refused(DOC("<Rule><Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter>"
                "<Status>Enabled</Status>" EXP1 "</Rule>"),
            GW_S3_MALFORMED_XML, NULL);
    refused(DOC("<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days>"
                "<Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>"),
            GW_S3_MALFORMED_XML, NULL);
    refused(DOC("<Rule><Filter/><Status>Enabled</Status><Expiration><Days>0</Days>"
                "</Expiration></Rule>"),
            GW_S3_INVALID_ARGUMENT, "'Days' for Expiration action must be a positive integer");
    refused(DOC("<Rule><Filter/><Status>Enabled</Status><Expiration><Days>-3</Days>"
                "</Expiration></Rule>"),
            GW_S3_INVALID_ARGUMENT, "'Days' for Expiration action must be a positive integer");
    refused(DOC("<Rule><Filter/><Status>Enabled</Status><Expiration>"
                "<Date>2030-01-01T10:00:00Z</Date></Expiration></Rule>"),
            GW_S3_INVALID_ARGUMENT, "'Date' must be at midnight GMT");
    refused(DOC("<Rule><Filter/><Status>Enabled</Status></Rule>"), GW_S3_INVALID_REQUEST,
            "At least one action needs to be specified in a rule");
    refused(DOC("<Rule><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>"
                "<Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
                "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"),
            GW_S3_INVALID_REQUEST, "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    refused(DOC("<Rule><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>"
                "<Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true"
                "</ExpiredObjectDeleteMarker></Expiration></Rule>"),
            GW_S3_INVALID_REQUEST,
            "ExpiredObjectDeleteMarker cannot be specified with object tags.");
    refused(DOC("<Rule><ID>x</ID><Filter/><Status>Enabled</Status>" EXP1 "</Rule>"
                "<Rule><ID>x</ID><Filter/><Status>Enabled</Status>" EXP1 "</Rule>"),
            GW_S3_INVALID_ARGUMENT, "Rule ID must be unique. Found same ID for more than one rule");
    char longid[600];
    strcpy(longid, "<LifecycleConfiguration><Rule><ID>");
    size_t n = strlen(longid);
    memset(longid + n, 'i', 256);
    strcpy(longid + n + 256,
           "</ID><Filter/><Status>Enabled</Status>" EXP1 "</Rule></LifecycleConfiguration>");
    refused(longid, GW_S3_INVALID_ARGUMENT, "ID length should not exceed allowed limit of 255");
    refused(DOC("<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days>"
                "<StorageClass>GLACIER</StorageClass></Transition></Rule>"),
            GW_S3_NOT_IMPLEMENTED, NULL);
    refused(DOC("<Rule><Filter><Tag><Key>aws:x</Key><Value>b</Value></Tag></Filter>"
                "<Status>Enabled</Status>" EXP1 "</Rule>"),
            GW_S3_INVALID_TAG, NULL);
    refused(DOC("<Rule><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"
                "<ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter>"
                "<Status>Enabled</Status>" EXP1 "</Rule>"),
            GW_S3_INVALID_ARGUMENT, NULL);
    /* 1000 rules fit, 1001 do not */
    struct gw_buf big;
    gw_buf_init(&big, 0);
    gw_buf_puts(&big, "<LifecycleConfiguration>");
    for (int i = 0; i < 1001; i++)
        gw_buf_printf(&big, "<Rule><ID>r%d</ID><Filter/><Status>Enabled</Status>" EXP1 "</Rule>",
                      i);
    gw_buf_puts(&big, "</LifecycleConfiguration>");
    refused(big.data, GW_S3_MALFORMED_XML, NULL);
    gw_buf_free(&big);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gw_lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_test(tc, test_lifecycle_round_trip);
    tcase_add_test(tc, test_lifecycle_refusals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
