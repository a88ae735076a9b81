/* Request helpers: addressing, names, URL decoding, queries, Range,
 * conditionals, HTTP dates, user metadata, Content-MD5, storage classes,
 * multipart ETags. */
#include "gw_req.h"

#include "gw_checksum.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

START_TEST(test_url_decode)
{
    char out[64];
    ck_assert_int_eq(gw_url_decode("a%20b%2Fc+d", 11, out, sizeof(out), 0), 7);
    ck_assert_str_eq(out, "a b/c+d");
    ck_assert_int_eq(gw_url_decode("a+b", 3, out, sizeof(out), 1), 3);
    ck_assert_str_eq(out, "a b");
    ck_assert_int_eq(gw_url_decode("%E1%88%b4", 9, out, sizeof(out), 0), 3);
    ck_assert_str_eq(out, "\xE1\x88\xB4");
    ck_assert_int_eq(gw_url_decode("bad%2", 5, out, sizeof(out), 0), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_url_decode("bad%", 4, out, sizeof(out), 0), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_url_decode("bad%zz", 6, out, sizeof(out), 0), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_url_decode("nul%00", 6, out, sizeof(out), 0), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_url_decode("abcdef", 6, out, 6, 0), CAIRN_E_RANGE);
    ck_assert_int_eq(gw_url_decode("abcde", 5, out, 6, 0), 5);

    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_uri_encode(&b, "a b/c+d~e_f.g-h\xC3\xBC*", 18, 1);
    ck_assert_str_eq(b.data, "a%20b/c%2Bd~e_f.g-h%C3%BC%2A");
    gw_buf_reset(&b);
    gw_uri_encode(&b, "a/b", 3, 0);
    ck_assert_str_eq(b.data, "a%2Fb");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_query)
{
    struct gw_query q;
    enum gw_s3err err;
    ck_assert_int_eq(
        gw_query_parse("uploads&prefix=a%20b&max-keys=5&&=x&marker=&a+b=c+d", &q, &err), 0);
    ck_assert_uint_eq(q.n, 5);
    ck_assert_str_eq(gw_query_get(&q, "uploads"), "");
    ck_assert_int_eq(q.params[0].has_value, 0);
    ck_assert_str_eq(gw_query_get(&q, "prefix"), "a b");
    ck_assert_str_eq(gw_query_get(&q, "max-keys"), "5");
    ck_assert_str_eq(gw_query_get(&q, "marker"), "");
    ck_assert_int_eq(q.params[3].has_value, 1);
    ck_assert_str_eq(gw_query_get(&q, "a+b"), "c+d");
    ck_assert_ptr_null(gw_query_get(&q, "Prefix"));
    gw_query_free(&q);
    ck_assert_int_eq(gw_query_parse(NULL, &q, &err), 0);
    ck_assert_uint_eq(q.n, 0);
    gw_query_free(&q);
    ck_assert_int_eq(gw_query_parse("a=%zz", &q, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    char big[GW_MAX_QUERY_PARAMS * 4 + 8];
    size_t o = 0;
    for (int i = 0; i <= GW_MAX_QUERY_PARAMS; i++)
        o += (size_t)sprintf(big + o, "a&");
    ck_assert_int_eq(gw_query_parse(big, &q, &err), CAIRN_E_RANGE);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_target)
{
    struct gw_target t;
    enum gw_s3err err;
    ck_assert_int_eq(gw_target_parse("127.0.0.1:9000", "s3.cairn.test", "/bkt/dir/a b", &t, &err),
                     0);
    ck_assert_str_eq(t.bucket, "bkt");
    ck_assert_str_eq(t.key, "dir/a b");
    ck_assert_int_eq(t.virtual_host, 0);
    ck_assert_int_eq(gw_target_parse("127.0.0.1", NULL, "/", &t, &err), 0);
    ck_assert_str_eq(t.bucket, "");
    ck_assert_str_eq(t.key, "");
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/bkt", &t, &err), 0);
    ck_assert_str_eq(t.bucket, "bkt");
    ck_assert_str_eq(t.key, "");
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/bkt/", &t, &err), 0);
    ck_assert_str_eq(t.key, "");
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/bkt//x/", &t, &err), 0);
    ck_assert_str_eq(t.key, "/x/");
    /* virtual host, port on either side, case-insensitive host */
    ck_assert_int_eq(
        gw_target_parse("My.Bucket.S3.cairn.test:8000", "s3.cairn.test:8000", "/k/x", &t, &err), 0);
    ck_assert_str_eq(t.bucket, "my.bucket");
    ck_assert_str_eq(t.key, "k/x");
    ck_assert_int_eq(t.virtual_host, 1);
    ck_assert_int_eq(gw_target_parse("vbkt.s3.cairn.test", "s3.cairn.test", "/", &t, &err), 0);
    ck_assert_str_eq(t.bucket, "vbkt");
    ck_assert_str_eq(t.key, "");
    /* the base domain itself, and a host that only ends like it: path-style */
    ck_assert_int_eq(gw_target_parse("s3.cairn.test", "s3.cairn.test", "/b/k", &t, &err), 0);
    ck_assert_str_eq(t.bucket, "b");
    ck_assert_int_eq(t.virtual_host, 0);
    ck_assert_int_eq(gw_target_parse("xs3.cairn.test", "s3.cairn.test", "/b/k", &t, &err), 0);
    ck_assert_int_eq(t.virtual_host, 0);
    ck_assert_str_eq(t.bucket, "b");
    /* key length: 1024 bytes pass, 1025 do not */
    char path[1200];
    path[0] = '/';
    memcpy(path + 1, "b/", 2);
    memset(path + 3, 'k', 1024);
    path[3 + 1024] = '\0';
    ck_assert_int_eq(gw_target_parse(NULL, NULL, path, &t, &err), 0);
    ck_assert_uint_eq(strlen(t.key), 1024);
    path[3 + 1024] = 'k';
    path[3 + 1025] = '\0';
    ck_assert_int_eq(gw_target_parse(NULL, NULL, path, &t, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_KEY_TOO_LONG);
    ck_assert_int_eq(gw_s3err_status(err), 400);
    ck_assert_str_eq(gw_s3err_code(err), "KeyTooLongError");
    /* bucket too long / bad characters / path not absolute */
    char lb[100] = "/";
    memset(lb + 1, 'b', 64);
    lb[65] = '\0';
    ck_assert_int_eq(gw_target_parse(NULL, NULL, lb, &t, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_BUCKET_NAME);
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/b$d/k", &t, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_BUCKET_NAME);
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "b/k", &t, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_REQUEST);
    /* keys are UTF-8 */
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/b/\xC3\xBC\xF0\x9F\x98\x80", &t, &err), 0);
    const char *not_utf8[] = {
        "/b/\xFF",        "/b/a\xC3", "/b/\xC0\x80", "/b/\xED\xA0\x80", "/b/\xF4\x90\x80\x80",
        "/b/\xEF\xBF\xBE"};
    for (size_t i = 0; i < sizeof(not_utf8) / sizeof(not_utf8[0]); i++) {
        ck_assert_int_eq(gw_target_parse(NULL, NULL, not_utf8[i], &t, &err), CAIRN_E_INVAL);
        ck_assert_int_eq(err, GW_S3_INVALID_URI);
    }
    /* S3's answer to such a key: 400 InvalidURI */
    ck_assert_str_eq(gw_s3err_code(GW_S3_INVALID_URI), "InvalidURI");
    ck_assert_int_eq(gw_s3err_status(GW_S3_INVALID_URI), 400);
    ck_assert_str_eq(gw_s3err_message(GW_S3_INVALID_URI), "Couldn't parse the specified URI.");
    /* control characters are key characters in S3 (only NUL cannot be) */
    ck_assert_int_eq(gw_target_parse(NULL, NULL, "/b/a\x01\x1f\x7f\tb", &t, &err), 0);
    ck_assert_str_eq(t.key, "a\x01\x1f\x7f\tb");
}
END_TEST

START_TEST(test_bucket_names)
{
    const char *good[] = {
        "abc",     "my-bucket", "my.bucket.2",
        "1bucket", "a-b.c-d",   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "a--b",    "a.b-c.d"};
    const char *bad[] = {
        "ab",          "Abc",
        "a_b",         "-abc",
        "abc-",        "a..b",
        ".abc",        "192.168.5.4",
        "xn--abc",     "sthree-x",
        "abc-s3alias", "abc--ol-s3",
        "my bucket",   "",
        "abc.",        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "foo.-bar",    "foo-.bar",
        "a.-.b"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(gw_bucket_name_valid(good[i]), "%s should be valid", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!gw_bucket_name_valid(bad[i]), "%s should be invalid", bad[i]);
    ck_assert(gw_bucket_name_valid("1.2.3.4x"));
    ck_assert(!gw_bucket_name_valid(NULL));
}
END_TEST

START_TEST(test_range)
{
    struct gw_range r;
    ck_assert_int_eq(gw_range_parse("bytes=0-9", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.first, 0);
    ck_assert_uint_eq(r.last, 9);
    ck_assert_int_eq(gw_range_parse("bytes=90-", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.first, 90);
    ck_assert_uint_eq(r.last, 99);
    ck_assert_int_eq(gw_range_parse("bytes=-10", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.first, 90);
    ck_assert_uint_eq(r.last, 99);
    ck_assert_int_eq(gw_range_parse("bytes=-1000", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.first, 0);
    ck_assert_int_eq(gw_range_parse("bytes=50-1000", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.last, 99);
    ck_assert_int_eq(gw_range_parse(" bytes = 5-5 ", 100, &r), GW_RANGE_PARTIAL);
    ck_assert_uint_eq(r.first, 5);
    ck_assert_uint_eq(r.last, 5);
    ck_assert_int_eq(gw_range_parse("bytes=99-99", 100, &r), GW_RANGE_PARTIAL);
    /* unsatisfiable */
    ck_assert_int_eq(gw_range_parse("bytes=100-", 100, &r), GW_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(gw_range_parse("bytes=100-200", 100, &r), GW_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(gw_range_parse("bytes=-0", 100, &r), GW_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(gw_range_parse("bytes=0-", 0, &r), GW_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(gw_range_parse("bytes=-5", 0, &r), GW_RANGE_UNSATISFIABLE);
    /* ignored: whole object */
    const char *ignored[] = {NULL,
                             "",
                             "bytes=",
                             "bytes=a-b",
                             "bytes=5-1",
                             "items=0-9",
                             "bytes=0-1,3-4",
                             "bytes=--1",
                             "bytes 0-9",
                             "bytes=1-2x",
                             "bytes=99999999999999999999-"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        ck_assert_msg(gw_range_parse(ignored[i], 100, &r) == GW_RANGE_NONE, "%s",
                      ignored[i] ? ignored[i] : "NULL");
    ck_assert_int_eq(gw_s3err_status(GW_S3_INVALID_RANGE), 416);
}
END_TEST

START_TEST(test_http_dates)
{
    int64_t t;
    ck_assert_int_eq(gw_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(gw_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(gw_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(gw_http_date_parse("Thu, 26 Nov 2026 07:00:00 GMT", &t), 0);
    ck_assert_int_eq(t, 1795676400);
    ck_assert_int_eq(gw_http_date_parse("Wednesday, 01-Jan-25 00:00:00 GMT", &t), 0);
    ck_assert_int_eq(t, 1735689600);
    ck_assert_int_eq(gw_http_date_parse("Thu Feb 29 12:00:00 2024", &t), 0);
    ck_assert_int_eq(t, 1709208000);
    const char *bad[] = {"",
                         "Sun, 06 Nov 1994 08:49:37 UTC",
                         "Sun, 6 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Foo 1994 08:49:37 GMT",
                         "Sun, 31 Nov 1994 08:49:37 GMT",
                         "Sun Feb 29 12:00:00 2023",
                         "Sun, 06 Nov 1994 24:49:37 GMT",
                         "Funday, 06-Nov-94 08:49:37 GMT",
                         "1994-11-06T08:49:37Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(gw_http_date_parse(bad[i], &t) == CAIRN_E_INVAL, "%s", bad[i]);
    char buf[30];
    gw_http_date_format(784111777, buf);
    ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    gw_http_date_format(0, buf);
    ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    char iso[25];
    gw_iso8601_format(1255369830123LL, iso);
    ck_assert_str_eq(iso, "2009-10-12T17:50:30.123Z");
    ck_assert_int_eq(gw_amz_date_parse("20130524T000000Z", &t), 0);
    ck_assert_int_eq(t, 1369353600);
    ck_assert_int_eq(gw_amz_date_parse("20130524T000000", &t), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_amz_date_parse("20131324T000000Z", &t), CAIRN_E_INVAL);
    /* round trip over a span of days */
    for (int64_t x = 0; x < 4000000000LL; x += 86400 * 37 + 3601) {
        gw_http_date_format(x, buf);
        ck_assert_int_eq(gw_http_date_parse(buf, &t), 0);
        ck_assert_int_eq(t, x);
    }
}
END_TEST

START_TEST(test_conditionals)
{
    const char *etag = "9b2cf535f27731c974343645a3985328";
    int64_t mtime = 784111777LL * 1000 + 500; /* Sun, 06 Nov 1994 08:49:37.5 GMT */
    const char *before = "Sun, 06 Nov 1994 08:49:36 GMT";
    const char *same = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *after = "Sun, 06 Nov 1994 08:49:38 GMT";
    struct gw_cond c;
#define COND(im, inm, ims, ius) (c = (struct gw_cond){im, inm, ims, ius}, &c)
    /* If-Match */
    ck_assert_int_eq(
        gw_cond_eval(COND("\"9b2cf535f27731c974343645a3985328\"", 0, 0, 0), 1, etag, mtime, 1),
        GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND("\"x\", \"9b2cf535f27731c974343645a3985328\"", 0, 0, 0), 1,
                                  etag, mtime, 1),
                     GW_S3_OK);
    ck_assert_int_eq(
        gw_cond_eval(COND("9b2cf535f27731c974343645a3985328", 0, 0, 0), 1, etag, mtime, 1),
        GW_S3_OK); /* bare tags as some clients send them */
    ck_assert_int_eq(gw_cond_eval(COND("\"other\"", 0, 0, 0), 1, etag, mtime, 1),
                     GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(
        gw_cond_eval(COND("W/\"9b2cf535f27731c974343645a3985328\"", 0, 0, 0), 1, etag, mtime, 1),
        GW_S3_PRECONDITION_FAILED); /* strong comparison */
    ck_assert_int_eq(gw_cond_eval(COND("*", 0, 0, 0), 1, etag, mtime, 0), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND("*", 0, 0, 0), 0, NULL, 0, 0), GW_S3_PRECONDITION_FAILED);
    /* If-None-Match */
    ck_assert_int_eq(
        gw_cond_eval(COND(0, "\"9b2cf535f27731c974343645a3985328\"", 0, 0), 1, etag, mtime, 1),
        GW_S3_NOT_MODIFIED);
    ck_assert_int_eq(
        gw_cond_eval(COND(0, "W/\"9b2cf535f27731c974343645a3985328\"", 0, 0), 1, etag, mtime, 1),
        GW_S3_NOT_MODIFIED); /* weak comparison */
    ck_assert_int_eq(
        gw_cond_eval(COND(0, "\"9b2cf535f27731c974343645a3985328\"", 0, 0), 1, etag, mtime, 0),
        GW_S3_PRECONDITION_FAILED); /* PUT/DELETE */
    ck_assert_int_eq(gw_cond_eval(COND(0, "\"x\"", 0, 0), 1, etag, mtime, 1), GW_S3_OK);
    /* If-None-Match: * -- create only if absent */
    ck_assert_int_eq(gw_cond_eval(COND(0, "*", 0, 0), 0, NULL, 0, 0), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND(0, "*", 0, 0), 1, etag, mtime, 0),
                     GW_S3_PRECONDITION_FAILED);
    /* If-Modified-Since (seconds granularity) */
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, same, 0), 1, etag, mtime, 1), GW_S3_NOT_MODIFIED);
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, after, 0), 1, etag, mtime, 1), GW_S3_NOT_MODIFIED);
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, before, 0), 1, etag, mtime, 1), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, same, 0), 1, etag, mtime, 0), GW_S3_OK); /* PUT */
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, "garbage", 0), 1, etag, mtime, 1), GW_S3_OK);
    /* If-Unmodified-Since */
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, 0, same), 1, etag, mtime, 1), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, 0, before), 1, etag, mtime, 1),
                     GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(gw_cond_eval(COND(0, 0, 0, "garbage"), 1, etag, mtime, 1), GW_S3_OK);
    /* Precedence: If-Match true overrides a failing If-Unmodified-Since;
     * If-None-Match overrides If-Modified-Since; 412 before 304. */
    ck_assert_int_eq(gw_cond_eval(COND("*", 0, 0, before), 1, etag, mtime, 1), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND(0, "\"x\"", same, 0), 1, etag, mtime, 1), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval(COND("\"x\"", "*", 0, 0), 1, etag, mtime, 1),
                     GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(gw_cond_eval(COND(0, "*", 0, before), 1, etag, mtime, 1),
                     GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(gw_cond_eval(COND("*", "*", 0, 0), 1, etag, mtime, 1), GW_S3_NOT_MODIFIED);
    /* From headers */
    struct gw_header h[] = {{"if-match", "\"a\""},
                            {"IF-NONE-MATCH", "*"},
                            {"If-Modified-Since", same},
                            {"if-unmodified-since", before}};
    gw_cond_from_headers(h, 4, &c);
    ck_assert_str_eq(c.if_match, "\"a\"");
    ck_assert_str_eq(c.if_none_match, "*");
    ck_assert_str_eq(c.if_modified_since, same);
    ck_assert_str_eq(c.if_unmodified_since, before);
    ck_assert_int_eq(gw_s3err_status(GW_S3_NOT_MODIFIED), 304);
    ck_assert_int_eq(gw_s3err_has_body(GW_S3_NOT_MODIFIED), 0);
    ck_assert_int_eq(gw_s3err_status(GW_S3_PRECONDITION_FAILED), 412);
    /* Copy-source conditions: never 304, If-Modified-Since applies. */
    struct gw_header ch[] = {
        {"x-amz-copy-source-if-none-match", "\"9b2cf535f27731c974343645a3985328\""},
        {"x-amz-copy-source-if-modified-since", same}};
    gw_cond_from_copy_headers(ch, 2, &c);
    ck_assert_ptr_null(c.if_match);
    ck_assert_int_eq(gw_cond_eval_copy(&c, 1, etag, mtime), GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(gw_cond_eval_copy(COND(0, 0, same, 0), 1, etag, mtime),
                     GW_S3_PRECONDITION_FAILED);
    ck_assert_int_eq(gw_cond_eval_copy(COND(0, 0, before, 0), 1, etag, mtime), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval_copy(COND("*", 0, 0, before), 1, etag, mtime), GW_S3_OK);
    ck_assert_int_eq(gw_cond_eval_copy(COND(0, "\"x\"", same, 0), 1, etag, mtime), GW_S3_OK);
#undef COND
}
END_TEST

START_TEST(test_user_metadata)
{
    struct gw_meta m;
    enum gw_s3err err;
    struct gw_header h[] = {{"Content-Type", "text/plain"},
                            {"X-Amz-Meta-Color", "  red  "},
                            {"x-amz-meta-size", "big"},
                            {"x-amz-meta-color", "blue"},
                            {"x-amz-metadata-directive", "COPY"}};
    ck_assert_int_eq(gw_meta_collect(h, 5, &m, &err), 0);
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.items[0].name, "color");
    ck_assert_str_eq(m.items[0].value, "red,blue");
    ck_assert_str_eq(m.items[1].name, "size");
    ck_assert_str_eq(m.items[1].value, "big");
    ck_assert_uint_eq(m.total, 5 + 8 + 4 + 3);
    gw_meta_free(&m);
    /* exactly 2048 bytes pass, 2049 do not */
    char v[2100];
    memset(v, 'v', sizeof(v));
    v[2048 - 1] = '\0'; /* name "a" (1) + 2047 */
    struct gw_header big[] = {{"x-amz-meta-a", v}};
    ck_assert_int_eq(gw_meta_collect(big, 1, &m, &err), 0);
    ck_assert_uint_eq(m.total, 2048);
    gw_meta_free(&m);
    v[2047] = 'v';
    v[2048] = '\0';
    ck_assert_int_eq(gw_meta_collect(big, 1, &m, &err), CAIRN_E_RANGE);
    ck_assert_int_eq(err, GW_S3_METADATA_TOO_LARGE);
    ck_assert_uint_eq(m.n, 0);
    struct gw_header empty[] = {{"x-amz-meta-", "x"}};
    ck_assert_int_eq(gw_meta_collect(empty, 1, &m, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    /* control characters (not tab) anywhere in a value: 400, nothing kept */
    const char *ctl[] = {"\x04mymeta", "h\x04", "h\x04w", "a\nb", "del\x7f"};
    for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
        struct gw_header c[] = {{"x-amz-meta-ok", "fine"}, {"x-amz-meta-bad", ctl[i]}};
        err = GW_S3_OK;
        ck_assert_int_eq(gw_meta_collect(c, 2, &m, &err), CAIRN_E_INVAL);
        ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
        ck_assert_uint_eq(m.n, 0);
    }
    struct gw_header tab[] = {{"x-amz-meta-t", "a\tb"}};
    ck_assert_int_eq(gw_meta_collect(tab, 1, &m, &err), 0);
    ck_assert_str_eq(m.items[0].value, "a\tb");
    gw_meta_free(&m);
}
END_TEST

/* Non-ASCII metadata as S3 takes and gives it: RFC 2047 words decoded in,
 * non-ASCII values encoded out; raw UTF-8 kept. */
START_TEST(test_metadata_rfc2047)
{
    static const char *const in[][2] = {
        {"=?UTF-8?B?aMOpbGxvIHfDtnJsZA==?=", "h\xC3\xA9llo w\xC3\xB6rld"},
        {"=?utf-8?q?h=C3=A9llo_w=C3=B6rld?=", "h\xC3\xA9llo w\xC3\xB6rld"},
        {"=?ISO-8859-1?Q?caf=E9?=", "caf\xC3\xA9"},
        {"=?US-ASCII?B?YWJj?=", "abc"},
        /* adjacent words: the blank between them goes; around text it stays */
        {"=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "\xC3\xA9\xC3\xA9"},
        {"a =?UTF-8?B?w6k=?= b", "a \xC3\xA9 b"},
        /* raw UTF-8 and plain text are kept */
        {"h\xC3\xA9", "h\xC3\xA9"},
        {"plain =? text ?=", "plain =? text ?="},
        /* unknown charset, bad base64, text that is not UTF-8: kept */
        {"=?KOI8-R?B?aGVsbG8=?=", "=?KOI8-R?B?aGVsbG8=?="},
        {"=?UTF-8?B?a!b=?=", "=?UTF-8?B?a!b=?="},
        {"=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?="},
        {"=?UTF-8?Q?=ZZ?=", "=?UTF-8?Q?=ZZ?="},
        {"=?UTF-8?Q?a=0D=0Ab?=", "=?UTF-8?Q?a=0D=0Ab?="},
        {"=?UTF-8?B?AA==?=", "=?UTF-8?B?AA==?="},
        {"=?UTF-8?B?"
         "?=",
         ""},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *out = NULL;
        ck_assert_int_eq(gw_meta_value_decode(in[i][0], &out), 0);
        ck_assert_msg(strcmp(out, in[i][1]) == 0, "%s -> %s", in[i][0], out);
        free(out);
    }
    /* collected values are decoded, and counted decoded */
    struct gw_meta m;
    enum gw_s3err err;
    struct gw_header h[] = {{"x-amz-meta-n", " =?UTF-8?B?w6k=?= "}};
    ck_assert_int_eq(gw_meta_collect(h, 1, &m, &err), 0);
    ck_assert_str_eq(m.items[0].value, "\xC3\xA9");
    ck_assert_uint_eq(m.total, 1 + 2);
    gw_meta_free(&m);

    /* out: ASCII as is; otherwise UTF-8 B words, which decode back */
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_meta_value_encode(&b, "plain, ascii");
    gw_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "plain, ascii");
    gw_buf_reset(&b);
    gw_meta_value_encode(&b, "h\xC3\xA9llo w\xC3\xB6rld");
    gw_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "=?UTF-8?B?aMOpbGxvIHfDtnJsZA==?=");
    /* long values: words of at most 75 characters, characters never split */
    char lng[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(lng, i % 3 ? "\xE2\x82\xAC" : "x"); /* x and EURO SIGN */
    gw_buf_reset(&b);
    gw_meta_value_encode(&b, lng);
    gw_buf_append(&b, "", 1);
    for (const char *w = b.data; *w;) {
        const char *sp = strchr(w, ' ');
        size_t wl = sp ? (size_t)(sp - w) : strlen(w);
        ck_assert_uint_le(wl, 75);
        ck_assert(strncmp(w, "=?UTF-8?B?", 10) == 0);
        w += wl + (sp ? 1 : 0);
    }
    char *back = NULL;
    ck_assert_int_eq(gw_meta_value_decode(b.data, &back), 0);
    ck_assert_str_eq(back, lng);
    free(back);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_content_md5)
{
    unsigned char md5[16], want[16];
    unsigned int len;
    EVP_Digest("hello", 5, want, &len, EVP_md5(), NULL);
    ck_assert_int_eq(gw_content_md5_parse("XUFAKrxLKna5cZ2REBfFkg==", md5), 0);
    ck_assert_mem_eq(md5, want, 16);
    ck_assert_int_eq(gw_content_md5_parse("  XUFAKrxLKna5cZ2REBfFkg==  ", md5), 0);
    const char *bad[] = {"",
                         "XUFAKrxLKna5cZ2REBfFkg",
                         "XUFAKrxLKna5cZ2REBfFkg=",
                         "XUFAKrxLKna5cZ2REBfF!g==",
                         "XUFAKrxLKna5cZ2REBfFkgAA",
                         "5d41402abc4b2a76b9719d911017c592"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(gw_content_md5_parse(bad[i], md5) == CAIRN_E_INVAL, "%s", bad[i]);
    ck_assert_int_eq(gw_content_md5_parse(NULL, md5), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_storage_class)
{
    const struct gw_storage_class *c = gw_storage_class_lookup(NULL);
    ck_assert_str_eq(c->name, "STANDARD");
    ck_assert_int_eq(c->k, 4);
    ck_assert_int_eq(c->m, 2);
    c = gw_storage_class_lookup("REDUCED_REDUNDANCY");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->k, 2);
    ck_assert_int_eq(c->m, 1);
    ck_assert_str_eq(c->scheme, "rs-2-1");
    ck_assert_ptr_null(gw_storage_class_lookup("GLACIER"));
    ck_assert_ptr_null(gw_storage_class_lookup("standard"));
    ck_assert_str_eq(gw_storage_class_for_scheme(2, 1)->name, "REDUCED_REDUNDANCY");
    ck_assert_str_eq(gw_storage_class_for_scheme(5, 5)->name, "STANDARD");
}
END_TEST

START_TEST(test_multipart_etag)
{
    /* Two parts with known MD5s; expected value computed independently:
     * md5(md5("hello") || md5("world")) */
    unsigned char md5s[2][16];
    unsigned int len;
    EVP_Digest("hello", 5, md5s[0], &len, EVP_md5(), NULL);
    EVP_Digest("world", 5, md5s[1], &len, EVP_md5(), NULL);
    char etag[48];
    ck_assert_int_eq(gw_multipart_etag((const unsigned char(*)[16])md5s, 2, etag), 0);
    ck_assert_str_eq(etag, "065947336a2f2a95ba8899f3675c3be6-2");
    const char *hex[] = {"\"5d41402abc4b2a76b9719d911017c592\"",
                         "7d793037a0760186574b0282f2f435e7"};
    char etag2[48];
    ck_assert_int_eq(gw_multipart_etag_hex(hex, 2, etag2), 0);
    ck_assert_str_eq(etag, etag2);
    const char *badhex[] = {"xyz"};
    ck_assert_int_eq(gw_multipart_etag_hex(badhex, 1, etag2), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_multipart_etag((const unsigned char(*)[16])md5s, 0, etag), CAIRN_E_INVAL);

    char ce[64];
    ck_assert_int_eq(gw_content_encoding_strip_aws_chunked("aws-chunked", ce, sizeof(ce)), 0);
    ck_assert_str_eq(ce, "");
    ck_assert_int_eq(gw_content_encoding_strip_aws_chunked("aws-chunked, gzip", ce, sizeof(ce)), 4);
    ck_assert_str_eq(ce, "gzip");
    ck_assert_int_eq(gw_content_encoding_strip_aws_chunked("gzip,AWS-CHUNKED,br", ce, sizeof(ce)),
                     7);
    ck_assert_str_eq(ce, "gzip,br");
    /* the client's spelling is kept: case, blanks, separators */
    static const char *const kept[][2] = {
        {"GZIP", "GZIP"},
        {"gzip, identity", "gzip, identity"},
        {"x-Custom ,  br", "x-Custom ,  br"},
        {"gzip, aws-chunked", "gzip"},
        {"aws-chunked,  gzip ,br", "gzip ,br"},
        {"gzip, aws-chunked, br", "gzip, br"},
        {" , gzip", "gzip"},
    };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        ck_assert_int_eq(gw_content_encoding_strip_aws_chunked(kept[i][0], ce, sizeof(ce)),
                         (int)strlen(kept[i][1]));
        ck_assert_str_eq(ce, kept[i][1]);
    }
    ck_assert_int_eq(gw_content_encoding_strip_aws_chunked("gzip", ce, 4), CAIRN_E_RANGE);
}
END_TEST

START_TEST(test_params_and_copy)
{
    struct gw_query q;
    enum gw_s3err err;
    long v;
    ck_assert_int_eq(gw_query_parse("max-keys=5000&a=-1&b=x&c=99999999999999999999999", &q, &err),
                     0);
    ck_assert_int_eq(gw_query_int(&q, "max-keys", 1000, 0, 1000, &v, &err), 0);
    ck_assert_int_eq(v, 1000); /* clamped */
    ck_assert_int_eq(gw_query_int(&q, "absent", 1000, 0, 1000, &v, &err), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(gw_query_int(&q, "a", 1000, 0, 1000, &v, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    ck_assert_int_eq(gw_query_int(&q, "b", 1000, 0, 1000, &v, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_query_int(&q, "c", 1000, 0, 1000, &v, &err), 0);
    ck_assert_int_eq(v, 1000);
    gw_query_free(&q);

    int pn;
    ck_assert_int_eq(gw_part_number_parse("1", &pn, &err), 0);
    ck_assert_int_eq(pn, 1);
    ck_assert_int_eq(gw_part_number_parse("10000", &pn, &err), 0);
    ck_assert_int_eq(gw_part_number_parse("10001", &pn, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    ck_assert_int_eq(gw_part_number_parse("0", &pn, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_part_number_parse("1a", &pn, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_part_number_parse(NULL, &pn, &err), CAIRN_E_INVAL);

    int enc;
    ck_assert_int_eq(gw_encoding_type_parse(NULL, &enc, &err), 0);
    ck_assert_int_eq(enc, 0);
    ck_assert_int_eq(gw_encoding_type_parse("url", &enc, &err), 0);
    ck_assert_int_eq(enc, 1);
    ck_assert_int_eq(gw_encoding_type_parse("URL", &enc, &err), CAIRN_E_INVAL);

    struct gw_copy_source cs;
    ck_assert_int_eq(gw_copy_source_parse("src/a%20b/c%2Bd", &cs, &err), 0);
    ck_assert_str_eq(cs.bucket, "src");
    ck_assert_str_eq(cs.key, "a b/c+d");
    ck_assert_str_eq(cs.version_id, "");
    ck_assert_int_eq(gw_copy_source_parse("/src/k%3Fx?versionId=v%2B1", &cs, &err), 0);
    ck_assert_str_eq(cs.bucket, "src");
    ck_assert_str_eq(cs.key, "k?x");
    ck_assert_str_eq(cs.version_id, "v+1");
    const char *bad[] = {"", "src", "src/", "/k", "src/a%zz", "src/k?other=1", "src/%FF"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(gw_copy_source_parse(bad[i], &cs, &err) == CAIRN_E_INVAL, "%s", bad[i]);
        ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    }
    char longkey[1200] = "b/";
    memset(longkey + 2, 'k', 1025);
    longkey[1027] = '\0';
    ck_assert_int_eq(gw_copy_source_parse(longkey, &cs, &err), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_KEY_TOO_LONG);

    struct gw_range r;
    ck_assert_int_eq(gw_copy_source_range_parse("bytes=0-9", 100, &r, &err), 0);
    ck_assert_uint_eq(r.first, 0);
    ck_assert_uint_eq(r.last, 9);
    ck_assert_int_eq(gw_copy_source_range_parse("bytes=0-99", 100, &r, &err), 0);
    const char *badr[] = {"bytes=5-4", "bytes=-5", "bytes=5-", "0-9", NULL};
    for (size_t i = 0; i < sizeof(badr) / sizeof(badr[0]); i++) {
        ck_assert_int_eq(gw_copy_source_range_parse(badr[i], 100, &r, &err), CAIRN_E_INVAL);
        ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    }
    /* a well-formed range past the source: told apart (S3 words it
     * differently), still 400 InvalidArgument as S3 answers */
    const char *past[] = {"bytes=0-100", "bytes=100-100", "bytes=50-5000"};
    for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
        ck_assert_int_eq(gw_copy_source_range_parse(past[i], 100, &r, &err), CAIRN_E_RANGE);
        ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    }
    ck_assert_int_eq(gw_copy_source_range_parse("bytes=0-0", 0, &r, &err), CAIRN_E_RANGE);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);

    int replace;
    ck_assert_int_eq(gw_metadata_directive_parse(NULL, &replace, &err), 0);
    ck_assert_int_eq(replace, 0);
    ck_assert_int_eq(gw_metadata_directive_parse("REPLACE", &replace, &err), 0);
    ck_assert_int_eq(replace, 1);
    ck_assert_int_eq(gw_metadata_directive_parse("MOVE", &replace, &err), CAIRN_E_INVAL);

    char cr[64];
    r.first = 0;
    r.last = 9;
    gw_content_range_format(&r, 100, cr);
    ck_assert_str_eq(cr, "bytes 0-9/100");
    gw_content_range_format(NULL, 100, cr);
    ck_assert_str_eq(cr, "bytes */100");
}
END_TEST

static void checksum_of(enum gw_checksum_alg alg, const void *data, size_t len, size_t step,
                        char out[GW_CHECKSUM_B64_MAX])
{
    struct gw_checksum *c;
    ck_assert_int_eq(gw_checksum_new(alg, &c), 0);
    const char *p = data;
    for (size_t off = 0; off < len;) {
        size_t n = step && step < len - off ? step : len - off;
        ck_assert_int_eq(gw_checksum_update(c, p + off, n), 0);
        off += n;
    }
    ck_assert_int_eq(gw_checksum_final(c, out), 0);
    gw_checksum_free(c);
}

START_TEST(test_checksums)
{
    /* Standard check values over "123456789" (big-endian, base64). */
    static const struct {
        enum gw_checksum_alg alg;
        const char *check;
    } v[] = {
        {GW_CHECKSUM_CRC32, "y/Q5Jg=="},         /* 0xCBF43926 */
        {GW_CHECKSUM_CRC32C, "4waSgw=="},        /* 0xE3069283 */
        {GW_CHECKSUM_CRC64NVME, "rosUhgp5mIg="}, /* 0xAE8B14860A799888 */
        {GW_CHECKSUM_SHA1, "98O8HYCOBHMq32eZZczDTKeuNEE="},
        {GW_CHECKSUM_SHA256, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
    };
    char out[GW_CHECKSUM_B64_MAX];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        checksum_of(v[i].alg, "123456789", 9, 0, out);
        ck_assert_str_eq(out, v[i].check);
    }
    /* 66560 bytes of 'a' (Python zlib / bitwise reference), in odd pieces. */
    char *a = malloc(66560);
    memset(a, 'a', 66560);
    size_t steps[] = {0, 1, 7, 4093};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        checksum_of(GW_CHECKSUM_CRC64NVME, a, 66560, steps[i], out);
        ck_assert_str_eq(out, "pRf+emrnL+A=");
        checksum_of(GW_CHECKSUM_CRC32, a, 66560, steps[i], out);
        ck_assert_str_eq(out, "sK4Y7A==");
        checksum_of(GW_CHECKSUM_CRC32C, a, 66560, steps[i], out);
        ck_assert_str_eq(out, "sOO8/Q==");
    }
    free(a);
    enum gw_checksum_alg alg;
    ck_assert_int_eq(gw_checksum_alg_from_header("X-Amz-Checksum-CRC64NVME", &alg), 0);
    ck_assert_int_eq(alg, GW_CHECKSUM_CRC64NVME);
    ck_assert_str_eq(gw_checksum_header(alg), "x-amz-checksum-crc64nvme");
    ck_assert_int_eq(gw_checksum_alg_from_header("x-amz-checksum-md5", &alg), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(gw_checksum_alg_from_header(NULL, &alg), CAIRN_E_NOTFOUND);
}
END_TEST

/* Random inputs to every parser: no crash (ASan build), contracts hold. */
START_TEST(test_parser_fuzz)
{
    static const char alphabet[] = "bytes=-0123456789,; %+/?&aAzZ\x01\xff\xc3\xbc:GMTSunNov\"*W";
    uint32_t seed = 31337;
    char s[64];
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 8) % (sizeof(s) - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
        }
        s[len] = '\0';
        if (iter % 3 == 0 && len >= 6)
            memcpy(s, "bytes=", 6); /* steer toward Range syntax */

        struct gw_range r;
        uint64_t size = (seed >> 4) % 200;
        enum gw_range_kind k = gw_range_parse(s, size, &r);
        if (k == GW_RANGE_PARTIAL)
            ck_assert(r.first <= r.last && r.last < size);
        enum gw_s3err err;
        if (gw_copy_source_range_parse(s, size, &r, &err) == 0)
            ck_assert(r.first <= r.last && r.last < size);
        int64_t t;
        (void)gw_http_date_parse(s, &t);
        (void)gw_amz_date_parse(s, &t);
        struct gw_query q;
        if (gw_query_parse(s, &q, &err) == 0)
            gw_query_free(&q);
        char path[80];
        snprintf(path, sizeof(path), "/%s", s);
        struct gw_target tg;
        if (gw_target_parse(s, "s3.x", path, &tg, &err) == 0)
            ck_assert_uint_le(strlen(tg.bucket), GW_MAX_BUCKET_NAME);
        struct gw_copy_source cs;
        (void)gw_copy_source_parse(s, &cs, &err);
        unsigned char md5[16];
        (void)gw_content_md5_parse(s, md5);
        struct gw_cond c = {s, s, s, s};
        (void)gw_cond_eval(&c, (int)(seed & 1), "etag", 1000, (int)(seed & 2));
        char out[64];
        (void)gw_url_decode(s, len, out, sizeof(out), (int)(seed & 1));
        (void)gw_content_encoding_strip_aws_chunked(s, out, sizeof(out));
        (void)gw_bucket_name_valid(s);
        struct gw_header h[] = {{"x-amz-meta-f", s}, {s, s}};
        struct gw_meta m;
        if (gw_meta_collect(h, 2, &m, &err) == 0)
            gw_meta_free(&m);
    }
}
END_TEST

START_TEST(test_object_attributes)
{
    unsigned m;
    ck_assert_int_eq(gw_object_attributes_parse("ETag", &m), 0);
    ck_assert_uint_eq(m, GW_ATTR_ETAG);
    ck_assert_int_eq(gw_object_attributes_parse(" ObjectSize , ETag,ObjectParts,ETag", &m), 0);
    ck_assert_uint_eq(m, GW_ATTR_SIZE | GW_ATTR_ETAG | GW_ATTR_PARTS);
    ck_assert_int_eq(gw_object_attributes_parse("Checksum,StorageClass,", &m), 0);
    ck_assert_uint_eq(m, GW_ATTR_CHECKSUM | GW_ATTR_STORAGE_CLASS);
    const char *bad[] = {NULL, "", " , ", "etag", "ETag,Color", "ETagX", "ETa", "ETag;ObjectSize"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(gw_object_attributes_parse(bad[i], &m), CAIRN_E_INVAL);
        ck_assert_uint_eq(m, 0);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_req");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_url_decode);
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_target);
    tcase_add_test(tc, test_bucket_names);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_http_dates);
    tcase_add_test(tc, test_conditionals);
    tcase_add_test(tc, test_user_metadata);
    tcase_add_test(tc, test_metadata_rfc2047);
    tcase_add_test(tc, test_content_md5);
    tcase_add_test(tc, test_storage_class);
    tcase_add_test(tc, test_multipart_etag);
    tcase_add_test(tc, test_params_and_copy);
    tcase_add_test(tc, test_checksums);
    tcase_add_test(tc, test_parser_fuzz);
    tcase_add_test(tc, test_object_attributes);
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
