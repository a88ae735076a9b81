/* POST uploads' protocol units: the streaming multipart/form-data parser
 * (gw_form) -- every split of a body into feeds gives the same callbacks,
 * delimiter look-alikes inside the file stay data, malformed and oversized
 * forms are refused -- and the POST policy (gw_post_policy): parsing,
 * conditions, extra fields, expiry, content-length-range and the SigV4
 * signature (checked against a key derivation done here by hand). */
#include "form_record.h"
#include "gw_form.h"
#include "gw_post_policy.h"

#include "cn_error.h"
#include "cn_util.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B      "----WebKitFormBoundaryAbC123"
#define B_PART "----WebKitFormBoundaryAbC12" /* B less its last character */

/* A form: key and Content-Type fields, a file with delimiter look-alikes,
 * a field after the file (ignored), preamble and epilogue text. */
static const char body[] =
    "preamble text\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"key\"\r\n"
    "\r\n"
    "uploads/${filename}\r\n"
    "--" B "\r\n"
    "content-disposition: form-data; name=\"Content-Type\"\r\n"
    "\r\n"
    "text/plain\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "line1\r\n--" B_PART "x\r\n\r\r\n--\r\n-" B "\r\n--" B_PART "-\r\r\r\n"
    "\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"after\"\r\n"
    "\r\n"
    "ignored\r\n"
    "--" B "--\r\n"
    "epilogue";

static const char want_log[] =
    "F key=uploads/${filename}\n"
    "F Content-Type=text/plain\n"
    "B a \"b\".txt|application/octet-stream\n"
    "line1\r\n--" B_PART "x\r\n\r\r\n--\r\n-" B "\r\n--" B_PART "-\r\r\r\n"
    "\nE\n"
    "rc=0\n";

static void record(const char *data, size_t len, const size_t *splits, size_t n, size_t max_pre,
                   struct gw_buf *log)
{
    gw_buf_init(log, 0);
    form_record(B, max_pre, data, len, splits, n, log);
    ck_assert_int_eq(gw_buf_error(log), 0);
}

START_TEST(test_form_whole_and_split)
{
    struct gw_buf whole;
    record(body, sizeof(body) - 1, NULL, 0, 4096, &whole);
    ck_assert_str_eq(whole.data, want_log);
    /* Every split: one byte at a time, small odd sizes, sizes around the
     * delimiter's length, a pseudo-random sequence. */
    static const size_t patterns[][4] = {
        {1}, {2}, {3}, {5, 1}, {7, 13}, {29, 30, 31, 32}, {33, 1, 2, 40}, {64}, {100, 3}};
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        size_t n = 0;
        while (n < 4 && patterns[i][n])
            n++;
        struct gw_buf split;
        record(body, sizeof(body) - 1, patterns[i], n, 4096, &split);
        ck_assert_msg(strcmp(split.data, whole.data) == 0, "pattern %zu:\n%s", i, split.data);
        gw_buf_free(&split);
    }
    uint64_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        size_t splits[16];
        for (int j = 0; j < 16; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            splits[j] = 1 + (size_t)(seed >> 33) % 70;
        }
        struct gw_buf split;
        record(body, sizeof(body) - 1, splits, 16, 4096, &split);
        ck_assert_msg(strcmp(split.data, whole.data) == 0, "round %d:\n%s", round, split.data);
        gw_buf_free(&split);
    }
    gw_buf_free(&whole);
}
END_TEST

/* The result of parsing s whole. */
static int parse_rc(const char *s, size_t max_pre)
{
    struct gw_buf log;
    gw_buf_init(&log, 0);
    int rc = form_record(B, max_pre, s, strlen(s), NULL, 0, &log);
    gw_buf_free(&log);
    return rc;
}

START_TEST(test_form_refusals)
{
    /* truncated: no closing delimiter */
    ck_assert_int_eq(
        parse_rc("--" B "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nab", 4096),
        CAIRN_E_INVAL);
    ck_assert_int_eq(parse_rc("", 4096), CAIRN_E_INVAL);
    /* a part without Content-Disposition, or not form-data, or no name */
    ck_assert_int_eq(parse_rc("--" B "\r\nX: y\r\n\r\nv\r\n--" B "--", 4096), CAIRN_E_INVAL);
    ck_assert_int_eq(
        parse_rc("--" B "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--" B "--",
                 4096),
        CAIRN_E_INVAL);
    ck_assert_int_eq(
        parse_rc("--" B "\r\nContent-Disposition: form-data\r\n\r\nv\r\n--" B "--", 4096),
        CAIRN_E_INVAL);
    /* a header line without a colon, garbage after a delimiter */
    ck_assert_int_eq(parse_rc("--" B "\r\nbroken\r\n\r\nv\r\n--" B "--", 4096), CAIRN_E_INVAL);
    ck_assert_int_eq(parse_rc("--" B "x\r\n", 4096), CAIRN_E_INVAL);
    /* fields before the file over max_pre: RANGE; the same form fits a
     * larger cap */
    const char *big = "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                      "0123456789012345678901234567890123456789\r\n--" B "--";
    ck_assert_int_eq(parse_rc(big, 80), CAIRN_E_RANGE);
    ck_assert_int_eq(parse_rc(big, 4096), 0);
    /* an empty form and a form without a file are well-formed (the
     * handler refuses them) */
    ck_assert_int_eq(parse_rc("--" B "--\r\n", 4096), 0);
    /* a header block past GW_FORM_MAX_HEADER */
    size_t n = GW_FORM_MAX_HEADER + 200;
    char *h = malloc(n + 200);
    ck_assert_ptr_nonnull(h);
    int off = snprintf(h, 200, "--%s\r\nX-Long: ", B);
    memset(h + off, 'a', n);
    strcpy(h + off + n, "\r\n\r\n");
    ck_assert_int_eq(parse_rc(h, 1 << 20), CAIRN_E_RANGE);
    free(h);
}
END_TEST

/* Errors from a callback stop the parser and stay. */
static int fail_data(void *ctx, const void *d, size_t n)
{
    (void)ctx;
    (void)d;
    (void)n;
    return CAIRN_E_NOSPACE;
}

START_TEST(test_form_callback_error_sticks)
{
    const struct gw_form_cb cb = {NULL, NULL, fail_data, NULL};
    struct gw_form *f;
    ck_assert_int_eq(gw_form_new(B, 4096, &cb, NULL, &f), 0);
    const char *s = "--" B "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxyz";
    ck_assert_int_eq(gw_form_feed(f, s, strlen(s)), CAIRN_E_NOSPACE);
    ck_assert(gw_form_file_seen(f));
    ck_assert_int_eq(gw_form_feed(f, "a", 1), CAIRN_E_NOSPACE);
    ck_assert_int_eq(gw_form_finish(f), CAIRN_E_NOSPACE);
    gw_form_free(f);
    ck_assert_int_eq(gw_form_new("bad\rboundary", 10, &cb, NULL, &f), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_form_new("", 10, &cb, NULL, &f), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_form_boundary)
{
    char b[GW_FORM_MAX_BOUNDARY + 1];
    ck_assert_int_eq(gw_form_boundary("multipart/form-data; boundary=abc", b), 0);
    ck_assert_str_eq(b, "abc");
    ck_assert_int_eq(gw_form_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"", b),
                     0);
    ck_assert_str_eq(b, "a b:c");
    ck_assert_int_eq(gw_form_boundary("multipart/form-data", b), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_form_boundary("multipart/mixed; boundary=abc", b), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_form_boundary("multipart/form-data; boundary=", b), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_form_boundary("multipart/form-data; boundary=a{b", b), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_form_boundary("multipart/form-data; boundary=\"unterminated", b),
                     CAIRN_E_INVAL);
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    ck_assert_int_eq(gw_form_boundary(longb, b), CAIRN_E_INVAL);
}
END_TEST

/* ---- POST policy ---------------------------------------------------------- */

static char *b64(const char *json)
{
    size_t n = strlen(json);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    ck_assert_ptr_nonnull(out);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, (int)n);
    return out;
}

struct kv {
    const char *name, *value;
};
struct form {
    const struct kv *f;
    size_t n;
};

static const char *form_get(void *ctx, const char *name)
{
    const struct form *f = ctx;
    for (size_t i = 0; i < f->n; i++)
        if (strcasecmp(f->f[i].name, name) == 0)
            return f->f[i].value;
    return NULL;
}

static const char *form_name(void *ctx, size_t i)
{
    return ((const struct form *)ctx)->f[i].name;
}

static int check(const char *json, const struct kv *fields, size_t n, char *msg)
{
    char *p64 = b64(json);
    struct gw_post_policy *p;
    char err[GW_POST_ERR_MAX];
    int rc = gw_post_policy_parse(p64, &p, err, sizeof(err));
    free(p64);
    ck_assert_msg(rc == 0, "%s", err);
    struct form f = {fields, n};
    struct gw_post_fields pf = {form_get, n, form_name, &f};
    rc = gw_post_policy_check(p, "bkt", &pf, msg, GW_POST_ERR_MAX);
    gw_post_policy_free(p);
    return rc;
}

#define EXP "\"expiration\":\"2100-01-01T00:00:00.000Z\""

START_TEST(test_policy_conditions)
{
    char msg[GW_POST_ERR_MAX];
    const struct kv ok[] = {{"key", "uploads/a.txt"},   {"Content-Type", "image/png"},
                            {"x-amz-meta-who", "me"},   {"policy", "..."},
                            {"x-amz-signature", "..."}, {"x-ignore-this", "1"}};
    const char *pol = "{" EXP ",\"conditions\":[{\"bucket\":\"bkt\"},"
                      "[\"starts-with\",\"$key\",\"uploads/\"],"
                      "[\"starts-with\",\"$Content-Type\",\"image/\"],"
                      "[\"eq\",\"$x-amz-meta-who\",\"me\"],"
                      "[\"content-length-range\",1,1048576]]}";
    ck_assert_int_eq(check(pol, ok, 6, msg), 0);
    /* a failed condition names itself */
    const struct kv badkey[] = {
        {"key", "other/a.txt"}, {"Content-Type", "image/png"}, {"x-amz-meta-who", "me"}};
    ck_assert_int_eq(check(pol, badkey, 3, msg), CAIRN_E_AUTH);
    ck_assert_str_eq(msg, "Invalid according to Policy: Policy Condition failed: [\"starts-with\", "
                          "\"$key\", \"uploads/\"]");
    /* the bucket of the request, not a field */
    const char *other = "{" EXP ",\"conditions\":[[\"eq\",\"$bucket\",\"other\"],"
                        "[\"starts-with\",\"$key\",\"\"]]}";
    const struct kv k[] = {{"key", "x"}};
    ck_assert_int_eq(check(other, k, 1, msg), CAIRN_E_AUTH);
    /* a field no condition covers */
    const struct kv extra[] = {{"key", "uploads/a"},
                               {"Content-Type", "image/gif"},
                               {"x-amz-meta-who", "me"},
                               {"acl", "public-read"}};
    ck_assert_int_eq(check(pol, extra, 4, msg), CAIRN_E_AUTH);
    ck_assert_str_eq(msg, "Invalid according to Policy: Extra input fields: acl");
    /* Content-Type: every listed type must start with the prefix */
    const struct kv two[] = {
        {"key", "uploads/a"}, {"Content-Type", "image/png, text/html"}, {"x-amz-meta-who", "me"}};
    ck_assert_int_eq(check(pol, two, 3, msg), CAIRN_E_AUTH);
}
END_TEST

START_TEST(test_policy_parse)
{
    char err[GW_POST_ERR_MAX];
    struct gw_post_policy *p;
    static const struct {
        const char *json;
        const char *msg_prefix;
    } bad[] = {
        {"not json", "Invalid Policy: Invalid JSON."},
        {"{\"conditions\":[]}", "Invalid Policy: Policy missing expiration."},
        {"{\"expiration\":\"tomorrow\",\"conditions\":[]}",
         "Invalid Policy: Invalid 'expiration' value"},
        {"{" EXP "}", "Invalid Policy: Policy missing conditions."},
        {"{" EXP ",\"conditions\":{}}", "Invalid Policy: Invalid 'conditions' value"},
        {"{" EXP ",\"conditions\":[{\"a\":\"1\",\"b\":\"2\"}]}",
         "Invalid Policy: Invalid Simple-Condition"},
        {"{" EXP ",\"conditions\":[[\"eq\",\"key\",\"x\"]]}", "Invalid Policy: Invalid Condition"},
        {"{" EXP ",\"conditions\":[[\"like\",\"$key\",\"x\"]]}",
         "Invalid Policy: Invalid Condition: unknown operation"},
        {"{" EXP ",\"conditions\":[[\"content-length-range\",10,1]]}",
         "Invalid Policy: Invalid content-length-range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *p64 = b64(bad[i].json);
        ck_assert_int_eq(gw_post_policy_parse(p64, &p, err, sizeof(err)), CAIRN_E_INVAL);
        ck_assert_msg(strncmp(err, bad[i].msg_prefix, strlen(bad[i].msg_prefix)) == 0, "%s: %s",
                      bad[i].json, err);
        free(p64);
    }
    ck_assert_int_eq(gw_post_policy_parse("%%%%", &p, err, sizeof(err)), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_post_policy_parse("abc", &p, err, sizeof(err)), CAIRN_E_INVAL);

    char *p64 = b64("{\"expiration\":\"2020-06-01T12:00:00Z\",\"conditions\":"
                    "[[\"content-length-range\",\"5\",\"10\"]]}");
    ck_assert_int_eq(gw_post_policy_parse(p64, &p, err, sizeof(err)), 0);
    free(p64);
    int64_t at = 1590969600000; /* 2020-06-01T00:00:00Z */
    ck_assert(!gw_post_policy_expired(p, at + 12 * 3600000 - 1));
    ck_assert(gw_post_policy_expired(p, at + 12 * 3600000));
    int64_t min, max;
    ck_assert_int_eq(gw_post_policy_length_range(p, &min, &max), 1);
    ck_assert_int_eq(min, 5);
    ck_assert_int_eq(max, 10);
    gw_post_policy_free(p);
}
END_TEST

static void hmac(const void *key, size_t kl, const char *msg, unsigned char out[32])
{
    unsigned int ml = 0;
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, strlen(msg), out, &ml));
}

START_TEST(test_policy_signature)
{
    const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const char *policy = "eyJleHBpcmF0aW9uIjoiMjAxNS0xMi0zMFQxMjowMDowMC4wMDBaIn0=";
    /* By hand: kDate = HMAC("AWS4" secret, date), kRegion, kService,
     * kSigning, then HMAC(kSigning, policy). */
    unsigned char k[32], sig[32];
    char aws4[64];
    snprintf(aws4, sizeof(aws4), "AWS4%s", secret);
    hmac(aws4, strlen(aws4), "20151229", k);
    hmac(k, 32, "us-east-1", k);
    hmac(k, 32, "s3", k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, policy, sig);
    char want[65], got[65];
    cn_hex_encode(sig, 32, want);
    ck_assert_int_eq(gw_post_signature(secret, "20151229", "us-east-1", "s3", policy, got), 0);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(gw_post_signature(secret, "20151230", "us-east-1", "s3", policy, got), 0);
    ck_assert_str_ne(got, want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gw_form");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_form_whole_and_split);
    tcase_add_test(tc, test_form_refusals);
    tcase_add_test(tc, test_form_callback_error_sticks);
    tcase_add_test(tc, test_form_boundary);
    tcase_add_test(tc, test_policy_conditions);
    tcase_add_test(tc, test_policy_parse);
    tcase_add_test(tc, test_policy_signature);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
