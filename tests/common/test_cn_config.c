/* cn_config: defaults, flags, config file, bounds, help text. */
#include "cn_config.h"
#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    char *name;
    int64_t port;
    bool durable;
    int64_t mem;
    int64_t timeout;
    struct cn_config_list peers;
} conf;

static const struct cn_config_option opts[] = {
    CN_CONF_OPT_STRING("name", "node-a", "node name", &conf.name),
    CN_CONF_OPT_INT("port", "9100", 0, 65535, "TCP port to listen on", &conf.port),
    CN_CONF_OPT_BOOL("durable", "true", "fsync fragments before acknowledging", &conf.durable),
    CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 64 << 20, "memory per connection",
                     &conf.mem),
    CN_CONF_OPT_DURATION("timeout", "30s", 1, 3600 * 1000, "request timeout", &conf.timeout),
    CN_CONF_OPT_LIST("peers", "", "metadata replicas host:port,...", &conf.peers),
};

static const struct cn_config_table table = {
    .program = "cairn-test",
    .summary = "test daemon",
    .options = opts,
    .n_options = sizeof(opts) / sizeof(opts[0]),
};

static char err[512];

static int load(int argc, char **argv)
{
    err[0] = 0;
    return cn_config_load(&table, argc, argv, NULL, err, sizeof(err));
}

static void teardown(void)
{
    cn_config_release(&table);
}

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/cn_config_test_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_defaults)
{
    char *argv[] = {"prog", NULL};
    ck_assert_int_eq(load(1, argv), 0);
    ck_assert_str_eq(conf.name, "node-a");
    ck_assert_int_eq(conf.port, 9100);
    ck_assert(conf.durable);
    ck_assert_int_eq(conf.mem, 256 * 1024);
    ck_assert_int_eq(conf.timeout, 30000);
    ck_assert_uint_eq(conf.peers.n, 0);
}
END_TEST

START_TEST(test_flags)
{
    char *argv[] = {"prog",         "--port",           "9200",      "--name=b",
                    "--no-durable", "--conn-memory=1M", "--timeout", "250ms",
                    "--peers",      " x:1, y:2 ,,z:3",  NULL};
    ck_assert_int_eq(load(10, argv), 0);
    ck_assert_int_eq(conf.port, 9200);
    ck_assert_str_eq(conf.name, "b");
    ck_assert(!conf.durable);
    ck_assert_int_eq(conf.mem, 1 << 20);
    ck_assert_int_eq(conf.timeout, 250);
    ck_assert_uint_eq(conf.peers.n, 3);
    ck_assert_str_eq(conf.peers.items[0], "x:1");
    ck_assert_str_eq(conf.peers.items[1], "y:2");
    ck_assert_str_eq(conf.peers.items[2], "z:3");

    char *argv2[] = {"prog", "--durable", "--name", "", NULL};
    ck_assert_int_eq(load(4, argv2), 0);
    ck_assert(conf.durable);
    ck_assert_str_eq(conf.name, "");
    char *argv3[] = {"prog", "--durable=off", NULL};
    ck_assert_int_eq(load(2, argv3), 0);
    ck_assert(!conf.durable);
}
END_TEST

START_TEST(test_errors)
{
    char *a1[] = {"prog", "--port", "70000", NULL};
    ck_assert_int_eq(load(3, a1), CAIRN_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "--port"));
    ck_assert_ptr_nonnull(strstr(err, "70000"));
    ck_assert_ptr_nonnull(strstr(err, "65535"));

    char *a2[] = {"prog", "--bogus", "1", NULL};
    ck_assert_int_eq(load(3, a2), CAIRN_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown option '--bogus'"));

    char *a3[] = {"prog", "--port", NULL};
    ck_assert_int_eq(load(2, a3), CAIRN_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "needs a value"));

    char *a4[] = {"prog", "--port=12x", NULL};
    ck_assert_int_eq(load(2, a4), CAIRN_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "integer"));

    char *a5[] = {"prog", "--conn-memory=1K", NULL};
    ck_assert_int_eq(load(2, a5), CAIRN_E_RANGE);
    char *a6[] = {"prog", "--conn-memory=12Q", NULL};
    ck_assert_int_eq(load(2, a6), CAIRN_E_INVAL);
    char *a7[] = {"prog", "--timeout=0", NULL};
    ck_assert_int_eq(load(2, a7), CAIRN_E_RANGE);
    char *a8[] = {"prog", "--timeout=5parsecs", NULL};
    ck_assert_int_eq(load(2, a8), CAIRN_E_INVAL);
    char *a9[] = {"prog", "--durable=maybe", NULL};
    ck_assert_int_eq(load(2, a9), CAIRN_E_INVAL);
    char *a10[] = {"prog", "stray", NULL};
    ck_assert_int_eq(load(2, a10), CAIRN_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "stray"));
    char *a11[] = {"prog", "--config", "/nonexistent/cairn.conf", NULL};
    ck_assert_int_eq(load(3, a11), CAIRN_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cairn.conf"));
}
END_TEST

START_TEST(test_file_and_override)
{
    const char *text = "# a comment\n"
                       "port = 9300\n"
                       "\n"
                       "  name = \" spaced # not a comment \"\n"
                       "durable = no   # trailing comment\n"
                       "conn-memory = 2MiB\n"
                       "peers = a:1,b:2\n";
    char *path = write_temp(text);
    char *argv[] = {"prog", "--port", "9400", "--config", path, NULL};
    ck_assert_int_eq(load(5, argv), 0);
    ck_assert_int_eq(conf.port, 9400); /* flag beats the file, wherever --config is */
    ck_assert_str_eq(conf.name, " spaced # not a comment ");
    ck_assert(!conf.durable);
    ck_assert_int_eq(conf.mem, 2 << 20);
    ck_assert_uint_eq(conf.peers.n, 2);
    unlink(path);

    path = write_temp("port = 9300\nwhat = 1\n");
    char *argv2[] = {"prog", "--config=", NULL};
    size_t n = strlen(path);
    char flag[128];
    snprintf(flag, sizeof(flag), "--config=%s", path);
    argv2[1] = flag;
    (void)n;
    ck_assert_int_eq(load(2, argv2), CAIRN_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err, ":2:"));
    ck_assert_ptr_nonnull(strstr(err, "what"));
    unlink(path);

    path = write_temp("port = 99999\n");
    snprintf(flag, sizeof(flag), "--config=%s", path);
    ck_assert_int_eq(load(2, argv2), CAIRN_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, ":1:"));
    unlink(path);

    path = write_temp("port 9300\n");
    snprintf(flag, sizeof(flag), "--config=%s", path);
    ck_assert_int_eq(load(2, argv2), CAIRN_E_INVAL);
    unlink(path);
}
END_TEST

START_TEST(test_positional)
{
    char *argv[] = {"cairn", "--port", "1", "status", "--verbose", NULL};
    int next = -1;
    ck_assert_int_eq(cn_config_load(&table, 5, argv, &next, err, sizeof(err)), 0);
    ck_assert_int_eq(next, 3);
    ck_assert_int_eq(conf.port, 1);
    char *argv2[] = {"cairn", "--", "--port", NULL};
    ck_assert_int_eq(cn_config_load(&table, 3, argv2, &next, err, sizeof(err)), 0);
    ck_assert_int_eq(next, 2);
    char *argv3[] = {"cairn", NULL};
    ck_assert_int_eq(cn_config_load(&table, 1, argv3, &next, err, sizeof(err)), 0);
    ck_assert_int_eq(next, 1);
}
END_TEST

START_TEST(test_help)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cn_config_print_help(&table, f);
    fclose(f);
    for (size_t i = 0; i < table.n_options; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", opts[i].name);
        ck_assert_msg(strstr(buf, flag), "help lacks %s", flag);
        ck_assert_msg(strstr(buf, opts[i].help), "help lacks help of %s", flag);
        char def[64];
        snprintf(def, sizeof(def), "default: %s%s",
                 opts[i].type == CN_CONF_STRING || opts[i].type == CN_CONF_LIST ? "\"" : "",
                 opts[i].default_value);
        ck_assert_msg(strstr(buf, def), "help lacks default of %s", flag);
    }
    ck_assert_ptr_nonnull(strstr(buf, "--config"));
    ck_assert_ptr_nonnull(strstr(buf, "--no-durable"));
    ck_assert_ptr_nonnull(strstr(buf, "range 0..65535"));
    ck_assert_ptr_nonnull(strstr(buf, "range 64K..64M"));
    ck_assert_ptr_nonnull(strstr(buf, "Usage: cairn-test"));
    free(buf);

    /* --help returns CN_CONFIG_HELP (the text goes to stdout) */
    char *argv[] = {"prog", "--port", "1", "--help", NULL};
    ck_assert_int_eq(load(4, argv), CN_CONFIG_HELP);
}
END_TEST

START_TEST(test_parsers)
{
    int64_t v;
    ck_assert_int_eq(cn_config_parse_size("4096", &v), 0);
    ck_assert_int_eq(v, 4096);
    ck_assert_int_eq(cn_config_parse_size("64k", &v), 0);
    ck_assert_int_eq(v, 65536);
    ck_assert_int_eq(cn_config_parse_size("1G", &v), 0);
    ck_assert_int_eq(v, 1 << 30);
    ck_assert_int_eq(cn_config_parse_size("3GB", &v), 0);
    ck_assert_int_eq(v, 3LL << 30);
    ck_assert_int_eq(cn_config_parse_size("2T", &v), 0);
    ck_assert_int_eq(v, 2LL << 40);
    ck_assert_int_eq(cn_config_parse_size("10B", &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(cn_config_parse_size("1KiB", &v), 0);
    ck_assert_int_eq(v, 1024);
    ck_assert_int_eq(cn_config_parse_size("5mib", &v), 0);
    ck_assert_int_eq(v, 5 << 20);
    ck_assert_int_eq(cn_config_parse_size("7kb", &v), 0);
    ck_assert_int_eq(v, 7 << 10);
    ck_assert_int_eq(cn_config_parse_size("1iB", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("1KiBB", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("1BB", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("1 K", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("8E", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("8388607T", &v), 0);
    ck_assert_int_eq(cn_config_parse_size("8388608T", &v), CAIRN_E_RANGE);
    ck_assert_int_eq(cn_config_parse_size("-1", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("1KK", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_size("99999999999T", &v), CAIRN_E_RANGE);
    ck_assert_int_eq(cn_config_parse_duration_ms("5m", &v), 0);
    ck_assert_int_eq(v, 300000);
    ck_assert_int_eq(cn_config_parse_duration_ms("2h", &v), 0);
    ck_assert_int_eq(v, 7200000);
    ck_assert_int_eq(cn_config_parse_duration_ms("15", &v), 0);
    ck_assert_int_eq(v, 15);
    ck_assert_int_eq(cn_config_parse_duration_ms("1.5s", &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_config_parse_int("-42", &v), 0);
    ck_assert_int_eq(v, -42);
    ck_assert_int_eq(cn_config_parse_int("99999999999999999999", &v), CAIRN_E_RANGE);
    bool b;
    ck_assert_int_eq(cn_config_parse_bool("YES", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(cn_config_parse_bool("0", &b), 0);
    ck_assert(!b);
}
END_TEST

START_TEST(test_set_and_release)
{
    ck_assert_int_eq(cn_config_set_defaults(&table, err, sizeof(err)), 0);
    ck_assert_int_eq(cn_config_set(&table, "name", "zz", err, sizeof(err)), 0);
    ck_assert_str_eq(conf.name, "zz");
    ck_assert_int_eq(cn_config_set(&table, "nope", "1", err, sizeof(err)), CAIRN_E_NOTFOUND);
    cn_config_release(&table);
    ck_assert_ptr_null(conf.name);
    ck_assert_uint_eq(conf.peers.n, 0);
    cn_config_release(&table);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_file_and_override);
    tcase_add_test(tc, test_positional);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_parsers);
    tcase_add_test(tc, test_set_and_release);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
