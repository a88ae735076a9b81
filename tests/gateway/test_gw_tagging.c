/* Tagging and CORS protocol units: the Tagging document and x-amz-tagging
 * header with S3's limits and errors (gw_tagging), and CORS configurations:
 * parsing, the document written back, matching and the response headers
 * (gw_cors). */
#include "gw_cors.h"
#include "gw_tagging.h"
#include "gw_xml.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tagging_doc(const char *tags)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf),
             "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>%s</TagSet>"
             "</Tagging>",
             tags);
    return buf;
}

/* Parses tags (the TagSet's content) as kind; returns the error (GW_S3_OK
 * when it parsed) with msg. */
static enum gw_s3err parse(const char *tags, enum gw_tag_kind kind, const char **msg, size_t *n)
{
    const char *d = tagging_doc(tags);
    struct gw_tags t;
    enum gw_s3err e = GW_S3_OK;
    *msg = NULL;
    int rc = gw_tags_parse_xml(d, strlen(d), kind, &t, &e, msg);
    if (n)
        *n = t.n;
    gw_tags_free(&t);
    return rc == 0 ? GW_S3_OK : e;
}

START_TEST(test_tagging_document)
{
    const char *msg;
    size_t n;
    ck_assert_int_eq(parse("<Tag><Key>project</Key><Value>cairn</Value></Tag>"
                           "<Tag><Key>k 2</Key><Value></Value></Tag>",
                           GW_TAGS_OBJECT, &msg, &n),
                     GW_S3_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(parse("", GW_TAGS_OBJECT, &msg, &n), GW_S3_OK);
    ck_assert_uint_eq(n, 0);
    /* the schema */
    ck_assert_int_eq(parse("<Tag><Key>a</Key></Tag>", GW_TAGS_OBJECT, &msg, NULL),
                     GW_S3_MALFORMED_XML);
    ck_assert_int_eq(
        parse("<Tag><Key>a</Key><Value>1</Value><Key>b</Key></Tag>", GW_TAGS_OBJECT, &msg, NULL),
        GW_S3_MALFORMED_XML);
    ck_assert_int_eq(parse("<Other/>", GW_TAGS_OBJECT, &msg, NULL), GW_S3_MALFORMED_XML);
    struct gw_tags t;
    enum gw_s3err e;
    ck_assert_int_eq(gw_tags_parse_xml("<Tagging/>", 10, GW_TAGS_OBJECT, &t, &e, &msg),
                     CAIRN_E_INVAL);
    ck_assert_int_eq(e, GW_S3_MALFORMED_XML);
    /* S3's limits */
    char many[4096] = "";
    for (int i = 0; i < 11; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many),
                 "<Tag><Key>k%d</Key><Value>v</Value></Tag>", i);
    ck_assert_int_eq(parse(many, GW_TAGS_OBJECT, &msg, NULL), GW_S3_BAD_REQUEST);
    ck_assert_str_eq(msg, "Object tags cannot be greater than 10");
    ck_assert_int_eq(parse(many, GW_TAGS_BUCKET, &msg, &n), GW_S3_OK);
    ck_assert_int_eq(parse("<Tag><Key>a</Key><Value>1</Value></Tag>"
                           "<Tag><Key>a</Key><Value>2</Value></Tag>",
                           GW_TAGS_OBJECT, &msg, NULL),
                     GW_S3_INVALID_TAG);
    ck_assert_str_eq(msg, "Cannot provide multiple Tags with the same key");
    ck_assert_int_eq(
        parse("<Tag><Key>aws:x</Key><Value>1</Value></Tag>", GW_TAGS_OBJECT, &msg, NULL),
        GW_S3_INVALID_TAG);
    ck_assert_int_eq(parse("<Tag><Key></Key><Value>1</Value></Tag>", GW_TAGS_OBJECT, &msg, NULL),
                     GW_S3_INVALID_TAG);
    ck_assert_int_eq(parse("<Tag><Key>a!b</Key><Value>1</Value></Tag>", GW_TAGS_OBJECT, &msg, NULL),
                     GW_S3_INVALID_TAG);
    /* 128 characters (each of two UTF-8 bytes) fit; 129 do not */
    char k[1024] = "<Tag><Key>";
    for (int i = 0; i < 128; i++)
        strcat(k, "\xc3\xa9");
    strcat(k, "</Key><Value>v</Value></Tag>");
    ck_assert_int_eq(parse(k, GW_TAGS_OBJECT, &msg, NULL), GW_S3_OK);
    char k2[1024] = "<Tag><Key>x";
    for (int i = 0; i < 128; i++)
        strcat(k2, "\xc3\xa9");
    strcat(k2, "</Key><Value>v</Value></Tag>");
    ck_assert_int_eq(parse(k2, GW_TAGS_OBJECT, &msg, NULL), GW_S3_INVALID_TAG);
    ck_assert_str_eq(msg, "The TagKey you have provided is too long, max 128");
    char v[2048] = "<Tag><Key>k</Key><Value>";
    memset(v + strlen(v), 'v', 257);
    strcat(v, "</Value></Tag>");
    ck_assert_int_eq(parse(v, GW_TAGS_OBJECT, &msg, NULL), GW_S3_INVALID_TAG);
    ck_assert_str_eq(msg, "The TagValue you have provided is too long, max 256");
    /* UTF-16 units: a character outside the BMP counts two */
    ck_assert_int_eq(gw_utf16_units("a\xf0\x9f\x98\x80"), 3);
    ck_assert_int_eq(gw_utf16_units("\xff"), -1);
}
END_TEST

START_TEST(test_tagging_header_and_xml)
{
    struct gw_tags t;
    enum gw_s3err e = GW_S3_OK;
    const char *msg;
    ck_assert_int_eq(gw_tags_parse_header("a=1&b%20c=x+y&empty=&novalue", &t, &e, &msg), 0);
    ck_assert_uint_eq(t.n, 4);
    ck_assert_str_eq(t.tags[1].key, "b c");
    ck_assert_str_eq(t.tags[1].value, "x y");
    ck_assert_str_eq(t.tags[2].value, "");
    ck_assert_str_eq(t.tags[3].key, "novalue");
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_tags_xml(&b, t.tags, t.n), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "<Tag><Key>b c</Key><Value>x y</Value></Tag>"));
    /* the document written reads back */
    struct gw_tags back;
    ck_assert_int_eq(gw_tags_parse_xml(b.data, b.len, GW_TAGS_OBJECT, &back, &e, &msg), 0);
    ck_assert_uint_eq(back.n, 4);
    ck_assert_str_eq(back.tags[0].key, "a");
    gw_tags_free(&back);
    gw_buf_free(&b);
    gw_tags_free(&t);
    ck_assert_int_eq(gw_tags_parse_header("", &t, &e, &msg), 0);
    ck_assert_uint_eq(t.n, 0);
    ck_assert_int_eq(gw_tags_parse_header("a=1&a=2", &t, &e, &msg), CAIRN_E_INVAL);
    ck_assert_int_eq(e, GW_S3_INVALID_ARGUMENT);
    ck_assert_int_eq(gw_tags_parse_header("a=%zz", &t, &e, &msg), CAIRN_E_INVAL);
    ck_assert_int_eq(e, GW_S3_INVALID_ARGUMENT);
    ck_assert_int_eq(gw_tags_parse_header("aws%3Ax=1", &t, &e, &msg), CAIRN_E_INVAL);
    ck_assert_int_eq(e, GW_S3_INVALID_TAG);
    ck_assert_int_eq(
        gw_tags_parse_header("a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1", &t, &e, &msg),
        CAIRN_E_INVAL);
    ck_assert_int_eq(e, GW_S3_BAD_REQUEST);
}
END_TEST

/* ---- CORS ------------------------------------------------------------------ */

static const char cors_doc[] =
    "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<CORSRule><ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>"
    "<AllowedOrigin>http://127.0.0.1:8000</AllowedOrigin>"
    "<AllowedMethod>GET</AllowedMethod><AllowedMethod>POST</AllowedMethod>"
    "<AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>"
    "<MaxAgeSeconds>3000</MaxAgeSeconds><ExposeHeader>ETag</ExposeHeader>"
    "<ExposeHeader>x-amz-request-id</ExposeHeader></CORSRule>"
    "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>"
    "</CORSConfiguration>";

static enum gw_s3err cors_parse(const char *doc, char *msg)
{
    struct gw_cors c;
    enum gw_s3err e = GW_S3_OK;
    int rc = gw_cors_parse_xml(doc, strlen(doc), &c, &e, msg);
    gw_cors_free(&c);
    return rc ? e : GW_S3_OK;
}

START_TEST(test_cors_document)
{
    struct gw_cors c;
    enum gw_s3err e;
    char msg[GW_CORS_MSG_MAX];
    ck_assert_int_eq(gw_cors_parse_xml(cors_doc, sizeof(cors_doc) - 1, &c, &e, msg), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.rules[0].id, "web");
    ck_assert_uint_eq(c.rules[0].n_origins, 2);
    ck_assert_int_eq(c.rules[0].max_age, 3000);
    ck_assert_int_eq(c.rules[1].max_age, -1);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_cors_xml(&b, &c), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "<CORSRule><ID>web</ID><AllowedOrigin>https://*.example."
                                         "com</AllowedOrigin>"));
    ck_assert_ptr_nonnull(strstr(b.data, "<MaxAgeSeconds>3000</MaxAgeSeconds>"));
    /* written and read back: the same rules */
    struct gw_cors back;
    ck_assert_int_eq(gw_cors_parse_xml(b.data, b.len, &back, &e, msg), 0);
    ck_assert_uint_eq(back.n, 2);
    ck_assert_str_eq(back.rules[0].expose[1], "x-amz-request-id");
    gw_cors_free(&back);
    gw_buf_free(&b);
    gw_cors_free(&c);

    ck_assert_int_eq(cors_parse("<CORSConfiguration/>", msg), GW_S3_MALFORMED_XML);
    ck_assert_int_eq(cors_parse("<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
                                "</CORSRule></CORSConfiguration>",
                                msg),
                     GW_S3_MALFORMED_XML);
    ck_assert_int_eq(cors_parse("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                "<AllowedMethod>PATCH</AllowedMethod></CORSRule>"
                                "</CORSConfiguration>",
                                msg),
                     GW_S3_INVALID_REQUEST);
    ck_assert_str_eq(msg,
                     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH");
    ck_assert_int_eq(cors_parse("<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin>"
                                "<AllowedMethod>GET</AllowedMethod></CORSRule>"
                                "</CORSConfiguration>",
                                msg),
                     GW_S3_INVALID_REQUEST);
    ck_assert_int_eq(cors_parse("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                "<AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1"
                                "</MaxAgeSeconds></CORSRule></CORSConfiguration>",
                                msg),
                     GW_S3_MALFORMED_XML);
    ck_assert_int_eq(cors_parse("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                "<AllowedMethod>GET</AllowedMethod><Other/></CORSRule>"
                                "</CORSConfiguration>",
                                msg),
                     GW_S3_MALFORMED_XML);
    /* 100 rules fit, 101 do not */
    struct gw_buf big;
    gw_buf_init(&big, 0);
    gw_buf_puts(&big, "<CORSConfiguration>");
    for (int i = 0; i < 101; i++)
        gw_buf_puts(&big, "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
                          "</AllowedMethod></CORSRule>");
    gw_buf_puts(&big, "</CORSConfiguration>");
    ck_assert_int_eq(cors_parse(big.data, msg), GW_S3_MALFORMED_XML);
    gw_buf_free(&big);
}
END_TEST

START_TEST(test_cors_match)
{
    struct gw_cors c;
    enum gw_s3err e;
    char msg[GW_CORS_MSG_MAX];
    ck_assert_int_eq(gw_cors_parse_xml(cors_doc, sizeof(cors_doc) - 1, &c, &e, msg), 0);
    const struct gw_cors_rule *r0 = &c.rules[0], *r1 = &c.rules[1];
    ck_assert_ptr_eq(gw_cors_match(&c, "https://app.example.com", "GET", NULL), r0);
    ck_assert_ptr_eq(gw_cors_match(&c, "http://127.0.0.1:8000", "POST", "content-type, X-Amz-Date"),
                     r0);
    ck_assert_ptr_null(gw_cors_match(&c, "http://127.0.0.1:8000", "POST", "authorization"));
    ck_assert_ptr_null(gw_cors_match(&c, "http://127.0.0.1:8001", "GET", NULL));
    ck_assert_ptr_null(gw_cors_match(&c, "https://example.com", "GET", NULL)); /* needs a dot */
    ck_assert_ptr_null(gw_cors_match(&c, "https://app.example.com", "DELETE", NULL));
    ck_assert_ptr_eq(gw_cors_match(&c, "http://anything", "HEAD", NULL), r1);
    ck_assert_ptr_null(gw_cors_match(&c, "http://anything", "HEAD", "x-custom"));
    ck_assert_ptr_eq(gw_cors_match(&c, "http://anything", "HEAD", ""), r1);

    struct gw_cors_headers h;
    ck_assert_int_eq(
        gw_cors_headers_for(r0, "http://127.0.0.1:8000", "Content-Type, X-Amz-Date", &h), 0);
    ck_assert_str_eq(h.allow_origin, "http://127.0.0.1:8000");
    ck_assert_int_eq(h.allow_credentials, 1);
    ck_assert_str_eq(h.allow_methods, "GET, POST");
    ck_assert_str_eq(h.allow_headers, "content-type, x-amz-date");
    ck_assert_str_eq(h.expose, "ETag, x-amz-request-id");
    ck_assert_str_eq(h.max_age, "3000");
    ck_assert_int_eq(gw_cors_headers_for(r1, "http://anything", NULL, &h), 0);
    ck_assert_str_eq(h.allow_origin, "*");
    ck_assert_int_eq(h.allow_credentials, 0);
    ck_assert_str_eq(h.max_age, "");
    gw_cors_free(&c);

    ck_assert(gw_cors_wildcard_match("*", "", 0));
    ck_assert(gw_cors_wildcard_match("a*b", "ab", 0));
    ck_assert(!gw_cors_wildcard_match("a*b", "a", 0));
    ck_assert(!gw_cors_wildcard_match("ab*ba", "aba", 0));
    ck_assert(gw_cors_wildcard_match("X-*", "x-y", 1));
    ck_assert(!gw_cors_wildcard_match("X-*", "x-y", 0));
}
END_TEST

int main(void)
{
    gw_xml_init();
    Suite *s = suite_create("gw_tagging");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tagging_document);
    tcase_add_test(tc, test_tagging_header_and_xml);
    tcase_add_test(tc, test_cors_document);
    tcase_add_test(tc, test_cors_match);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
