/* cn_util: hex, random bytes, file helpers, clocks, signals. */
#include "cn_error.h"
#include "cn_util.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_hex)
{
    unsigned char raw[4] = {0x00, 0xab, 0x7f, 0xff};
    char hex[9];
    ck_assert_str_eq(cn_hex_encode(raw, 4, hex), "00ab7fff");
    unsigned char back[4];
    ck_assert_int_eq(cn_hex_decode("00AB7fff", back, 4), 0);
    ck_assert_int_eq(memcmp(raw, back, 4), 0);
    ck_assert_int_eq(cn_hex_decode("00ab7ff", back, 4), CAIRN_E_INVAL);   /* short */
    ck_assert_int_eq(cn_hex_decode("00ab7fff0", back, 4), CAIRN_E_INVAL); /* long */
    ck_assert_int_eq(cn_hex_decode("00ab7fxf", back, 4), CAIRN_E_INVAL);  /* not hex */
}
END_TEST

START_TEST(test_kv_get)
{
    const char *body = "id 3\nrole leader\nroleplay x\nleader_url http://a:1\nempty \nlast 9";
    char v[16];
    cn_kv_get(body, "role", v, sizeof(v));
    ck_assert_str_eq(v, "leader"); /* not "roleplay" */
    cn_kv_get(body, "leader_url", v, sizeof(v));
    ck_assert_str_eq(v, "http://a:1");
    cn_kv_get(body, "last", v, sizeof(v)); /* no final newline */
    ck_assert_str_eq(v, "9");
    cn_kv_get(body, "empty", v, sizeof(v));
    ck_assert_str_eq(v, "");
    cn_kv_get(body, "leader", v, sizeof(v)); /* only a longer name exists */
    ck_assert_str_eq(v, "-");
    cn_kv_get("", "id", v, sizeof(v));
    ck_assert_str_eq(v, "-");
    char small[4];
    cn_kv_get(body, "leader_url", small, sizeof(small)); /* truncated, terminated */
    ck_assert_str_eq(small, "htt");
}
END_TEST

START_TEST(test_random)
{
    unsigned char a[32], b[32];
    ck_assert_int_eq(cn_random_bytes(a, sizeof(a)), 0);
    ck_assert_int_eq(cn_random_bytes(b, sizeof(b)), 0);
    ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

START_TEST(test_files)
{
    char dir[] = "/tmp/cn_util_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/f", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    ck_assert_int_eq(cn_write_all(fd, data, sizeof(data)), 0);
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
    ck_assert_int_eq(cn_fsync_parent(path), 0);
    ck_assert_int_eq(cn_fsync_dir(dir), 0);

    char *buf;
    size_t len;
    ck_assert_int_eq(cn_read_file(path, sizeof(data), &buf, &len), 0);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert_int_eq(memcmp(buf, data, len), 0);
    ck_assert_int_eq(buf[len], 0);
    free(buf);
    ck_assert_int_eq(cn_read_file(path, sizeof(data) - 1, &buf, &len), CAIRN_E_RANGE);

    fd = open(path, O_RDONLY);
    char part[100];
    ck_assert_int_eq(cn_pread_all(fd, part, sizeof(part), 5000), 0);
    ck_assert_int_eq(memcmp(part, data + 5000, sizeof(part)), 0);
    ck_assert_int_eq(cn_pread_all(fd, part, sizeof(part), sizeof(data) - 50), CAIRN_E_CORRUPT);
    close(fd);
    unlink(path);
    ck_assert_int_eq(cn_read_file(path, 100, &buf, &len), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(cn_fsync_dir(path), CAIRN_E_IO);

    /* The port file appears whole (renamed into place), nothing else left. */
    snprintf(path, sizeof(path), "%s/port", dir);
    ck_assert_int_eq(cn_write_port_file(path, 65535), 0);
    ck_assert_int_eq(cn_read_file(path, 100, &buf, &len), 0);
    ck_assert_str_eq(buf, "65535\n");
    free(buf);
    ck_assert_int_eq(cn_write_port_file(path, 7), 0); /* replaces it */
    ck_assert_int_eq(cn_read_file(path, 100, &buf, &len), 0);
    ck_assert_str_eq(buf, "7\n");
    free(buf);
    unlink(path);
    snprintf(path, sizeof(path), "%s/no/such/dir/port", dir);
    ck_assert_int_eq(cn_write_port_file(path, 1), CAIRN_E_IO);
    rmdir(dir);
}
END_TEST

START_TEST(test_clocks)
{
    int64_t m0 = cn_mono_ms(), u0 = cn_mono_us();
    cn_sleep_ms(20);
    ck_assert_int_ge(cn_mono_ms() - m0, 20);
    ck_assert_int_ge(cn_mono_us() - u0, 20000);
    ck_assert_int_gt(cn_wall_s(), 1700000000);
    ck_assert_int_ge(cn_wall_ms() / 1000, cn_wall_s() - 1);

    /* Deadlines: normalized, in the future by the asked amount. */
    struct timespec now, d;
    clock_gettime(CLOCK_MONOTONIC, &now);
    d = cn_deadline_us(CLOCK_MONOTONIC, 1999999);
    ck_assert_int_lt(d.tv_nsec, 1000000000L);
    int64_t diff_us = (int64_t)(d.tv_sec - now.tv_sec) * 1000000 + (d.tv_nsec - now.tv_nsec) / 1000;
    ck_assert_int_ge(diff_us, 1999999);
    ck_assert_int_lt(diff_us, 1999999 + 100000);
    d = cn_deadline_ms(CLOCK_MONOTONIC, 1500);
    ck_assert_int_lt(d.tv_nsec, 1000000000L);
    diff_us = (int64_t)(d.tv_sec - now.tv_sec) * 1000000 + (d.tv_nsec - now.tv_nsec) / 1000;
    ck_assert_int_ge(diff_us, 1500000);
    d = cn_deadline_ms(CLOCK_MONOTONIC, -5); /* the past is now */
    ck_assert(d.tv_sec > now.tv_sec || (d.tv_sec == now.tv_sec && d.tv_nsec >= now.tv_nsec));
}
END_TEST

START_TEST(test_signals)
{
    ck_assert_int_eq(cn_signals_block(), 0);
    ck_assert_int_eq(kill(getpid(), SIGTERM), 0); /* stays pending: blocked */
    int sig = 0;
    ck_assert_int_eq(cn_signals_wait(&sig), 0);
    ck_assert_int_eq(sig, SIGTERM);
    ck_assert_int_eq(kill(getpid(), SIGPIPE), 0); /* blocked, never delivered */
    sigset_t pending;
    sigpending(&pending);
    ck_assert(sigismember(&pending, SIGPIPE));
}
END_TEST

START_TEST(test_proc_cpu)
{
    int64_t a = cn_proc_cpu_us(0), b = cn_proc_cpu_us((long)getpid());
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, a);
    volatile uint64_t x = 1;
    int64_t t0 = cn_mono_us();
    while (cn_mono_us() - t0 < 200000) /* 0.2 s of CPU (or less on a busy machine) */
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ull + 1;
    ck_assert_int_gt(cn_proc_cpu_us(0), a); /* clock ticks of 10 ms at most */
    ck_assert_int_eq(cn_proc_cpu_us(999999999), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_hex);
    tcase_add_test(tc, test_kv_get);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_files);
    tcase_add_test(tc, test_clocks);
    tcase_add_test(tc, test_signals);
    tcase_add_test(tc, test_proc_cpu);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
