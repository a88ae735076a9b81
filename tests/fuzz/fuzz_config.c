/* Harness config: the declarative configuration loader (common/cn_config.h)
 * over a table with one option of every type: config files, command lines
 * (with --config pointing at a file the input also supplies) and the value
 * parsers.
 *
 * Input: one mode byte, then
 *   mode % 3 == 0: a config file;
 *   mode % 3 == 1: arguments, one a line, up to an empty line, then the
 *     file that any "--config" argument is made to name;
 *   mode % 3 == 2: values, one a line, each given to every option by name
 *     and to the four value parsers.
 * Oracles: an accepted load leaves every value inside its option's bounds,
 * list items trimmed, non-empty and comma-free, strings non-NULL; every
 * error message is a terminated string. */
#include "fuzz.h"

#include "cn_config.h"
#include "cn_error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_ARGS 32

static struct {
    char *name, *empty;
    int64_t port, count, cache, timeout;
    bool verbose;
    struct cn_config_list peers;
} conf;

static const struct cn_config_option opts[] = {
    CN_CONF_OPT_STRING("name", "cairn", "a string", &conf.name),
    CN_CONF_OPT_STRING("empty", NULL, "a string without default", &conf.empty),
    CN_CONF_OPT_INT("port", "9100", 0, 65535, "a bounded integer", &conf.port),
    CN_CONF_OPT_INT("count", "-5", 0, 0, "an unbounded integer", &conf.count),
    CN_CONF_OPT_BOOL("verbose", "false", "a bool", &conf.verbose),
    CN_CONF_OPT_SIZE("cache", "64M", 4096, 1ll << 40, "a size", &conf.cache),
    CN_CONF_OPT_DURATION("timeout", "30s", 1, 3600000, "a duration", &conf.timeout),
    CN_CONF_OPT_LIST("peers", "a:1, b:2", "a list", &conf.peers),
};

static const struct cn_config_table table = {
    .program = "cairn-fuzz",
    .summary = "the config harness",
    .args_usage = "[ARGS]",
    .options = opts,
    .n_options = sizeof(opts) / sizeof(opts[0]),
};

static void check_loaded(void)
{
    fuzz_check(conf.name && conf.empty, "string missing");
    fuzz_check(conf.port >= 0 && conf.port <= 65535, "port %lld", (long long)conf.port);
    fuzz_check(conf.cache >= 4096 && conf.cache <= (1ll << 40), "cache %lld",
               (long long)conf.cache);
    fuzz_check(conf.timeout >= 1 && conf.timeout <= 3600000, "timeout %lld",
               (long long)conf.timeout);
    for (size_t i = 0; i < conf.peers.n; i++) {
        const char *it = conf.peers.items[i];
        size_t l = strlen(it);
        fuzz_check(l > 0 && !strchr(it, ',') && !isspace((unsigned char)it[0]) &&
                       !isspace((unsigned char)it[l - 1]),
                   "list item \"%s\"", it);
    }
}

static void check_err(const char *err, size_t cap)
{
    fuzz_check(memchr(err, '\0', cap) != NULL, "error message not terminated");
}

/* A memory file holding data[len]; its /proc path into path. */
static int mem_file(const void *data, size_t len, char path[64])
{
    int fd = memfd_create("cairn-fuzz-config", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static void file_mode(const uint8_t *data, size_t size)
{
    char path[64], err[256];
    int fd = mem_file(data, size, path);
    memset(err, 'x', sizeof(err));
    if (cn_config_set_defaults(&table, err, sizeof(err)) == 0 &&
        cn_config_load_file(&table, path, err, sizeof(err)) == 0)
        check_loaded();
    else
        check_err(err, sizeof(err));
    cn_config_release(&table);
    close(fd);
}

static void args_mode(struct fuzz_in *in)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "cairn-fuzz";
    char path[64] = "";
    while (fuzz_in_more(in)) {
        size_t l;
        char *a = fuzz_line(in, &l);
        if (l == 0)
            break;
        if (argc < MAX_ARGS)
            argv[argc++] = a;
    }
    size_t flen;
    const char *file = fuzz_rest(in, &flen);
    int fd = mem_file(file, flen, path);
    /* --config may name only the input's own file. */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config", 8) == 0) {
            char *a = fuzz_alloc(in, 80);
            snprintf(a, 81, "--config=%s", path);
            argv[i] = a;
        }
    }
    argv[argc] = NULL;
    char err[256];
    memset(err, 'x', sizeof(err));
    int next = -1;
    int rc = cn_config_load(&table, argc, argv, &next, err, sizeof(err));
    if (rc == 0) {
        check_loaded();
        fuzz_check(next >= 1 && next <= argc, "next argument %d of %d", next, argc);
    } else if (rc < 0) {
        check_err(err, sizeof(err));
    }
    cn_config_release(&table);
    close(fd);
}

static void values_mode(struct fuzz_in *in)
{
    while (fuzz_in_more(in)) {
        const char *v = fuzz_line(in, NULL);
        int64_t i;
        bool b;
        cn_config_parse_int(v, &i);
        cn_config_parse_bool(v, &b);
        if (cn_config_parse_size(v, &i) == 0)
            fuzz_check(i >= 0, "size %lld", (long long)i);
        cn_config_parse_duration_ms(v, &i);
        char err[256];
        fuzz_check(cn_config_set_defaults(&table, err, sizeof(err)) == 0, "defaults: %s", err);
        for (size_t o = 0; o < table.n_options; o++) {
            memset(err, 'x', sizeof(err));
            if (cn_config_set(&table, opts[o].name, v, err, sizeof(err)) != 0)
                check_err(err, sizeof(err));
        }
        check_loaded();
        cn_config_release(&table);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        /* --help prints the generated help to stdout: not wanted here. */
        if (!freopen("/dev/null", "w", stdout))
            abort();
        quiet = 1;
    }
    if (size < 1)
        return 0;
    struct fuzz_in in;
    fuzz_in_init(&in, data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        file_mode(data + 1, size - 1);
        break;
    case 1:
        args_mode(&in);
        break;
    default:
        values_mode(&in);
        break;
    }
    fuzz_in_free(&in);
    return 0;
}
