/* cn_error and cn_log (levels, long lines, the request id at the end of a
 * line and its being the calling thread's alone). */
#include "cn_error.h"
#include "cn_log.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_strerror_covers_every_code)
{
    for (int e = 0; e > CAIRN_E__LAST; e--) {
        const char *msg = cairn_strerror(e);
        ck_assert_ptr_nonnull(msg);
        ck_assert_str_ne(msg, "unknown error");
    }
    ck_assert_str_eq(cairn_strerror(CAIRN_E__LAST), "unknown error");
    ck_assert_str_eq(cairn_strerror(5), "unknown error");
    ck_assert_str_eq(cairn_strerror(-1000), "unknown error");
}
END_TEST

START_TEST(test_log_levels)
{
    enum cn_log_level lv;
    ck_assert_int_eq(cn_log_parse_level("debug", &lv), 0);
    ck_assert_int_eq(lv, CN_LOG_DEBUG);
    ck_assert_int_eq(cn_log_parse_level("WARN", &lv), 0);
    ck_assert_int_eq(lv, CN_LOG_WARN);
    ck_assert_int_eq(cn_log_parse_level("loud", &lv), CAIRN_E_INVAL);
    cn_log_set_level(CN_LOG_ERROR);
    ck_assert_int_eq(cn_log_get_level(), CN_LOG_ERROR);
    CN_INFO("test", "dropped %d", 1);
    cn_log_set_level(CN_LOG_INFO);
    /* A line longer than the internal buffer is cut, not overflowed. */
    char big[4000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    CN_INFO("test", "%s", big);
}
END_TEST

/* Runs fn with stderr going to a temporary file; returns what was written
 * (malloc'ed). */
static char *capture_stderr(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
    fn();
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    ck_assert_int_eq(fseek(tmp, 0, SEEK_END), 0);
    long n = ftell(tmp);
    ck_assert_int_ge(n, 0);
    char *out = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(out);
    rewind(tmp);
    ck_assert_uint_eq(fread(out, 1, (size_t)n, tmp), (size_t)n);
    fclose(tmp);
    return out;
}

static void *other_thread(void *arg)
{
    (void)arg;
    CN_WARN("test", "from another thread"); /* no request of its own */
    return NULL;
}

static void log_with_request(void)
{
    cn_log_set_request("abc-1.x_Y");
    CN_WARN("test", "during %d", 1);
    pthread_t th;
    pthread_create(&th, NULL, other_thread, NULL);
    pthread_join(th, NULL);
    cn_log_set_request(NULL);
    CN_WARN("test", "after");
    char longid[100];
    memset(longid, 'z', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    cn_log_set_request(longid); /* kept up to CN_LOG_REQUEST_MAX */
    CN_WARN("test", "long");
    cn_log_set_request("");
    CN_WARN("test", "cleared");
}

START_TEST(test_log_request_id)
{
    ck_assert_ptr_null(cn_log_request());
    char *out = capture_stderr(log_with_request);
    ck_assert_ptr_null(cn_log_request());
    ck_assert_ptr_nonnull(strstr(out, " WARN  test: during 1 req=abc-1.x_Y\n"));
    ck_assert_ptr_nonnull(strstr(out, " WARN  test: from another thread\n"));
    ck_assert_ptr_nonnull(strstr(out, " WARN  test: after\n"));
    ck_assert_ptr_nonnull(strstr(out, " WARN  test: cleared\n"));
    char want[CN_LOG_REQUEST_MAX + 32];
    snprintf(want, sizeof(want), " WARN  test: long req=%.*s\n", CN_LOG_REQUEST_MAX,
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    ck_assert_ptr_nonnull(strstr(out, want));
    const char *first = strstr(out, "req=abc-1.x_Y");
    ck_assert_ptr_null(strstr(first + 1, "req=abc-1.x_Y")); /* on its own line only */
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror_covers_every_code);
    tcase_add_test(tc, test_log_levels);
    tcase_add_test(tc, test_log_request_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
