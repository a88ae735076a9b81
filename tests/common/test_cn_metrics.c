/* cn_metrics: the lock-free histogram and the exposition-format writers. */
#include "cn_error.h"
#include "cn_metrics.h"

#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Renders with fn into a malloc'ed string. */
static char *render_hist(const cn_hist *h, const char *name, const char *labels)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    if (labels) {
        cn_metrics_family(f, name, "histogram", "test histogram");
        cn_hist_series(f, h, name, labels);
    } else {
        cn_hist_render(f, h, name, "test histogram");
    }
    fclose(f);
    return buf;
}

/* The value of the line starting with prefix (exactly up to the space). */
static double value_of(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, pl) == 0 && p[pl] == ' ')
            return strtod(p + pl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    ck_abort_msg("no line %s in:\n%s", prefix, text);
    return -1;
}

START_TEST(test_buckets_and_bounds)
{
    cn_hist h;
    cn_hist_init(&h);
    cn_hist_record(&h, 0);        /* le 0.00005 */
    cn_hist_record(&h, 50);       /* exactly on a bound: that bucket */
    cn_hist_record(&h, 51);       /* le 0.0001 */
    cn_hist_record(&h, 1000000);  /* le 1 */
    cn_hist_record(&h, 99000000); /* above every bound: only +Inf */
    ck_assert_uint_eq(cn_hist_count(&h), 5);
    ck_assert_uint_eq(cn_hist_sum_us(&h), 0 + 50 + 51 + 1000000 + 99000000);
    char *t = render_hist(&h, "x_seconds", NULL);
    ck_assert_ptr_nonnull(
        strstr(t, "# HELP x_seconds test histogram\n# TYPE x_seconds histogram\n"));
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"0.00005\"}"), 2);
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"0.0001\"}"), 3);
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"0.5\"}"), 3);
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"1\"}"), 4);
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"10\"}"), 4);
    ck_assert_double_eq(value_of(t, "x_seconds_bucket{le=\"+Inf\"}"), 5);
    ck_assert_double_eq(value_of(t, "x_seconds_count"), 5);
    ck_assert_double_eq_tol(value_of(t, "x_seconds_sum"), 100.000101, 1e-9);
    /* Every bound is printed in ascending order and the counts never fall. */
    double last_le = -1, last_n = -1;
    int buckets = 0;
    for (char *line = t; (line = strstr(line, "x_seconds_bucket{le=\"")); line++) {
        char le[32];
        double n;
        ck_assert_int_eq(sscanf(line, "x_seconds_bucket{le=\"%31[^\"]\"} %lf", le, &n), 2);
        double v = strcmp(le, "+Inf") == 0 ? 1e300 : strtod(le, NULL);
        ck_assert(v > last_le);
        ck_assert(n >= last_n);
        last_le = v;
        last_n = n;
        buckets++;
    }
    ck_assert_int_eq(buckets, CN_HIST_BUCKETS + 1);
    free(t);
}
END_TEST

START_TEST(test_labels)
{
    cn_hist h;
    cn_hist_init(&h);
    cn_hist_record(&h, 300);
    char *t = render_hist(&h, "req_seconds", "op=\"GetObject\"");
    ck_assert_double_eq(value_of(t, "req_seconds_bucket{op=\"GetObject\",le=\"0.00025\"}"), 0);
    ck_assert_double_eq(value_of(t, "req_seconds_bucket{op=\"GetObject\",le=\"0.0005\"}"), 1);
    ck_assert_double_eq(value_of(t, "req_seconds_count{op=\"GetObject\"}"), 1);
    ck_assert_double_eq_tol(value_of(t, "req_seconds_sum{op=\"GetObject\"}"), 0.0003, 1e-12);
    free(t);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cn_metrics_family(f, "c_total", "counter", "a\\b\nc");
    cn_metrics_u64(f, "c_total", "k=\"v\"", UINT64_MAX);
    cn_metrics_double(f, "g", NULL, 0.5);
    cn_metrics_double(f, "g", "", 1.0 / 0.0);
    fclose(f);
    ck_assert_str_eq(buf, "# HELP c_total a\\\\b\\nc\n# TYPE c_total counter\n"
                          "c_total{k=\"v\"} 18446744073709551615\ng 0.5\ng +Inf\n");
    free(buf);
}
END_TEST

START_TEST(test_label_escape)
{
    char out[64];
    ck_assert_int_eq(cn_metrics_label_escape("a\"b\\c\nd", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a\\\"b\\\\c\\nd");
    ck_assert_int_eq(cn_metrics_label_escape(NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    /* Truncation never splits an escape. */
    ck_assert_int_eq(cn_metrics_label_escape("ab\"", out, 4), CAIRN_E_RANGE);
    ck_assert_str_eq(out, "ab");
    ck_assert_int_eq(cn_metrics_label_escape("x", out, 0), CAIRN_E_RANGE);
}
END_TEST

#define THREADS    4
#define PER_THREAD 200000

static void *hammer(void *arg)
{
    cn_hist *h = arg;
    for (uint64_t i = 0; i < PER_THREAD; i++)
        cn_hist_record(h, i % 3000);
    return NULL;
}

/* Concurrent writers lose nothing, and a render taken while they run stays
 * well formed (cumulative, +Inf == _count). */
START_TEST(test_concurrent)
{
    cn_hist *h = calloc(1, sizeof(*h));
    cn_hist_init(h);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, h), 0);
    for (int round = 0; round < 20; round++) {
        char *t = render_hist(h, "c_seconds", NULL);
        double inf = value_of(t, "c_seconds_bucket{le=\"+Inf\"}");
        ck_assert_double_eq(inf, value_of(t, "c_seconds_count"));
        ck_assert(value_of(t, "c_seconds_bucket{le=\"0.001\"}") <= inf);
        free(t);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(cn_hist_count(h), (uint64_t)THREADS * PER_THREAD);
    uint64_t per = 0;
    for (uint64_t i = 0; i < PER_THREAD; i++)
        per += i % 3000;
    ck_assert_uint_eq(cn_hist_sum_us(h), THREADS * per);
    char *t = render_hist(h, "c_seconds", NULL);
    /* i % 3000 <= 1000 for 1001 of every 3000 values (plus the tail). */
    uint64_t le_1ms = 0;
    for (uint64_t i = 0; i < PER_THREAD; i++)
        le_1ms += i % 3000 <= 1000;
    ck_assert_double_eq(value_of(t, "c_seconds_bucket{le=\"0.001\"}"), (double)(THREADS * le_1ms));
    free(t);
    free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_buckets_and_bounds);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_label_escape);
    tcase_add_test(tc, test_concurrent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
