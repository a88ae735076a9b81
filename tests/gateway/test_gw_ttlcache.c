/* gw_ttlcache: expiry, distinct keys, eviction by slot, clear, threads. */
#include "cn_error.h"
#include "gw_ttlcache.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_expiry_and_keys)
{
    struct gw_ttlcache *c = NULL;
    ck_assert_int_eq(gw_ttlcache_new(0, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_ttlcache_new(64, &c), 0);
    int v = -1;
    ck_assert_int_eq(gw_ttlcache_get(c, "a", 1, 0, &v), 0);
    gw_ttlcache_put(c, "a", 1, 7, 1000);
    ck_assert_int_eq(gw_ttlcache_get(c, "a", 1, 999, &v), 1);
    ck_assert_int_eq(v, 7);
    /* expired at its time, not before */
    ck_assert_int_eq(gw_ttlcache_get(c, "a", 1, 1000, &v), 0);
    /* keys differ by bytes and by length ("a" vs "a\0") */
    gw_ttlcache_put(c, "a", 1, 7, 5000);
    ck_assert_int_eq(gw_ttlcache_get(c, "a\0", 2, 10, &v), 0);
    ck_assert_int_eq(gw_ttlcache_get(c, "b", 1, 10, &v), 0);
    /* a new value replaces the old one */
    gw_ttlcache_put(c, "a", 1, 8, 5000);
    ck_assert_int_eq(gw_ttlcache_get(c, "a", 1, 10, &v), 1);
    ck_assert_int_eq(v, 8);
    gw_ttlcache_clear(c);
    ck_assert_int_eq(gw_ttlcache_get(c, "a", 1, 10, &v), 0);
    gw_ttlcache_free(c);
    gw_ttlcache_free(NULL);
}
END_TEST

START_TEST(test_one_slot_evicts)
{
    struct gw_ttlcache *c = NULL;
    ck_assert_int_eq(gw_ttlcache_new(1, &c), 0);
    int v;
    gw_ttlcache_put(c, "first", 5, 1, 100);
    gw_ttlcache_put(c, "second", 6, 2, 100);
    /* one slot: the second key took it; the first is simply gone */
    ck_assert_int_eq(gw_ttlcache_get(c, "first", 5, 0, &v), 0);
    ck_assert_int_eq(gw_ttlcache_get(c, "second", 6, 0, &v), 1);
    ck_assert_int_eq(v, 2);
    gw_ttlcache_free(c);
}
END_TEST

static void *hammer(void *arg)
{
    struct gw_ttlcache *c = arg;
    char k[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(k, sizeof(k), "k%d", i % 500);
        gw_ttlcache_put(c, k, (size_t)n, i % 500, 1000000);
        int v;
        if (gw_ttlcache_get(c, k, (size_t)n, 0, &v) && v != i % 500)
            return (void *)1; /* a key answered with another key's value */
    }
    return NULL;
}

START_TEST(test_threads)
{
    struct gw_ttlcache *c = NULL;
    ck_assert_int_eq(gw_ttlcache_new(97, &c), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, c), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        ck_assert_ptr_null(ret);
    }
    gw_ttlcache_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gw_ttlcache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_expiry_and_keys);
    tcase_add_test(tc, test_one_slot_evicts);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
