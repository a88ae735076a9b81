/* cn_error and cn_log. */
#include "cn_error.h"
#include "cn_log.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror_covers_every_code);
    tcase_add_test(tc, test_log_levels);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
