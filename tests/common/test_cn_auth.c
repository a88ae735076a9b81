/* cn_auth: HMAC-SHA256 signing and verification of internal requests. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char secret[] = "0123456789abcdef-cluster-secret";
static struct cn_auth *auth;
static const int64_t now = 1795672800;

static void setup(void)
{
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), 0, &auth), 0);
}

static void teardown(void)
{
    cn_auth_free(auth);
    auth = NULL;
}

static int verify(const char *method, const char *target, const struct cn_auth_headers *h,
                  int64_t at)
{
    return cn_auth_verify(auth, method, target, h->date, h->body_sha256, h->auth, at);
}

START_TEST(test_sign_verify_good)
{
    char hex[65];
    cn_sha256_hex("hello", 5, hex);
    ck_assert_str_eq(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    struct cn_auth_headers h;
    ck_assert_int_eq(cn_auth_sign(auth, "PUT", "/v1/fragment/ab/1?x=1", now, hex, &h), 0);
    ck_assert_str_eq(h.date, "1795672800");
    ck_assert_str_eq(h.body_sha256, hex);
    ck_assert_int_eq(strncmp(h.auth, "CAIRN1-HMAC-SHA256 ", 19), 0);
    ck_assert_uint_eq(strlen(h.auth), 19 + 64);
    ck_assert_int_eq(verify("PUT", "/v1/fragment/ab/1?x=1", &h, now), 0);
    ck_assert_int_eq(verify("PUT", "/v1/fragment/ab/1?x=1", &h, now + 299), 0);
    ck_assert_int_eq(verify("PUT", "/v1/fragment/ab/1?x=1", &h, now - 300), 0);
    ck_assert_int_eq(cn_auth_body_is_signed(h.body_sha256), 1);

    /* streaming bodies */
    ck_assert_int_eq(cn_auth_sign(auth, "PUT", "/x", now, NULL, &h), 0);
    ck_assert_str_eq(h.body_sha256, CN_AUTH_UNSIGNED);
    ck_assert_int_eq(cn_auth_body_is_signed(h.body_sha256), 0);
    ck_assert_int_eq(verify("PUT", "/x", &h, now), 0);

    /* a second authenticator over the same secret agrees (stateless) */
    struct cn_auth *other;
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), 10, &other), 0);
    ck_assert_int_eq(cn_auth_verify(other, "PUT", "/x", h.date, h.body_sha256, h.auth, now), 0);
    ck_assert_int_eq(cn_auth_verify(other, "PUT", "/x", h.date, h.body_sha256, h.auth, now + 11),
                     CAIRN_E_AUTH);
    cn_auth_free(other);
}
END_TEST

START_TEST(test_tampered)
{
    char hex[65], hex2[65];
    cn_sha256_hex("body", 4, hex);
    cn_sha256_hex("bodz", 4, hex2);
    struct cn_auth_headers h;
    ck_assert_int_eq(cn_auth_sign(auth, "PUT", "/v1/a?b=1", now, hex, &h), 0);
    ck_assert_int_eq(verify("PUT", "/v1/b?b=1", &h, now), CAIRN_E_AUTH);    /* path */
    ck_assert_int_eq(verify("PUT", "/v1/a?b=2", &h, now), CAIRN_E_AUTH);    /* query */
    ck_assert_int_eq(verify("PUT", "/v1/a", &h, now), CAIRN_E_AUTH);        /* query dropped */
    ck_assert_int_eq(verify("DELETE", "/v1/a?b=1", &h, now), CAIRN_E_AUTH); /* method */
    struct cn_auth_headers t = h;
    memcpy(t.body_sha256, hex2, 65); /* body hash */
    ck_assert_int_eq(verify("PUT", "/v1/a?b=1", &t, now), CAIRN_E_AUTH);
    t = h;
    snprintf(t.body_sha256, sizeof(t.body_sha256), "%s", CN_AUTH_UNSIGNED); /* downgrade */
    ck_assert_int_eq(verify("PUT", "/v1/a?b=1", &t, now), CAIRN_E_AUTH);
    t = h;
    snprintf(t.date, sizeof(t.date), "%lld", (long long)now + 1); /* date */
    ck_assert_int_eq(verify("PUT", "/v1/a?b=1", &t, now), CAIRN_E_AUTH);
    t = h;
    t.auth[30] = t.auth[30] == 'a' ? 'b' : 'a'; /* signature */
    ck_assert_int_eq(verify("PUT", "/v1/a?b=1", &t, now), CAIRN_E_AUTH);

    /* wrong secret */
    struct cn_auth *other;
    const char other_secret[] = "another-secret-of-enough-length";
    ck_assert_int_eq(cn_auth_new(other_secret, strlen(other_secret), 0, &other), 0);
    ck_assert_int_eq(cn_auth_verify(other, "PUT", "/v1/a?b=1", h.date, h.body_sha256, h.auth, now),
                     CAIRN_E_AUTH);
    cn_auth_free(other);
}
END_TEST

START_TEST(test_stale_and_malformed)
{
    struct cn_auth_headers h;
    ck_assert_int_eq(cn_auth_sign(auth, "GET", "/x", now, NULL, &h), 0);
    ck_assert_int_eq(verify("GET", "/x", &h, now + 301), CAIRN_E_AUTH); /* stale */
    ck_assert_int_eq(verify("GET", "/x", &h, now - 301), CAIRN_E_AUTH); /* from the future */
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", NULL, h.body_sha256, h.auth, now),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, NULL, h.auth, now), CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, h.body_sha256, NULL, now),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", "-5", h.body_sha256, h.auth, now),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", "", h.body_sha256, h.auth, now),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, "xyz", h.auth, now), CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, h.body_sha256, "Bearer abc", now),
                     CAIRN_E_AUTH);
    char shortsig[128];
    snprintf(shortsig, sizeof(shortsig), "%.*s", (int)strlen(h.auth) - 2, h.auth);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, h.body_sha256, shortsig, now),
                     CAIRN_E_AUTH);
    char longsig[128];
    snprintf(longsig, sizeof(longsig), "%s00", h.auth);
    ck_assert_int_eq(cn_auth_verify(auth, "GET", "/x", h.date, h.body_sha256, longsig, now),
                     CAIRN_E_AUTH);
    /* an uppercase-hex body hash is not a valid form */
    char upper[65];
    cn_sha256_hex("x", 1, upper);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    ck_assert_int_eq(cn_auth_sign(auth, "GET", "/x", now, upper, &h), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_secret_rules)
{
    struct cn_auth *a = NULL;
    ck_assert_int_eq(cn_auth_new("short", 5, 0, &a), CAIRN_E_INVAL);
    char path[] = "/tmp/cn_auth_secret_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char text[] = "0123456789abcdef-cluster-secret\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(cn_auth_new_from_file(path, 0, &a), 0);
    /* the trailing newline is not part of the secret */
    struct cn_auth_headers h;
    ck_assert_int_eq(cn_auth_sign(a, "GET", "/x", now, NULL, &h), 0);
    ck_assert_int_eq(verify("GET", "/x", &h, now), 0);
    cn_auth_free(a);
    unlink(path);
    ck_assert_int_eq(cn_auth_new_from_file(path, 0, &a), CAIRN_E_NOTFOUND);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sign_verify_good);
    tcase_add_test(tc, test_tampered);
    tcase_add_test(tc, test_stale_and_malformed);
    tcase_add_test(tc, test_secret_rules);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
