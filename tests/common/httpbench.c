/* cairn-httpbench: raw loopback HTTP throughput through cn_http_server and
 * cn_http_client with a null handler (PUT discards the body, GET streams from
 * a static buffer). One stream at a time, client and server in one process.
 * This is the "raw HTTP" baseline that the chunkserver and gateway
 * benchmarks compare against.
 *
 *   cairn-httpbench [--size 1G] [--rounds 3] [--conn-memory 256K] [--no-auth]
 *
 * Prints one line per direction:
 *   put size_mib=1024 rounds=3 median_mbps=2100.3 best_mbps=2200.1 cpu_s_per_gib=0.61
 *       server_cpu_s_per_gib=0.30
 * (cpu = whole process; server = everything but the client's thread)
 */
#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PATTERN_SIZE (1u << 20)

static char pattern_buf[PATTERN_SIZE];

static struct {
    int64_t size;
    int64_t rounds;
    int64_t conn_memory;
    int64_t block;
    bool auth;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_SIZE("size", "1G", 1, 64LL << 30, "bytes per transfer", &conf.size),
    CN_CONF_OPT_INT("rounds", "3", 1, 100, "transfers per direction (median reported)",
                    &conf.rounds),
    CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 64 << 20, "server connection memory limit",
                     &conf.conn_memory),
    CN_CONF_OPT_SIZE("block", "256K", 4096, 16 << 20, "server response block size", &conf.block),
    CN_CONF_OPT_BOOL("auth", "true", "sign requests (HMAC) as Cairn daemons do", &conf.auth),
};

static const struct cn_config_table table = {
    .program = "cairn-httpbench",
    .summary = "Loopback PUT/GET throughput through the Cairn HTTP transport (null server).",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

static int null_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    return 0;
}

static int null_put_end(struct cn_http_req *req, void *cls)
{
    return cn_http_respond(req, 200, NULL, NULL, 0);
}

static ssize_t pattern_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t at = (size_t)(pos % PATTERN_SIZE);
    size_t n = PATTERN_SIZE - at < max ? PATTERN_SIZE - at : max;
    memcpy(buf, pattern_buf + at, n);
    return (ssize_t)n;
}

static int null_get_end(struct cn_http_req *req, void *cls)
{
    const char *n = cn_http_req_arg(req, "n");
    if (!n)
        return CAIRN_E_INVAL;
    return cn_http_respond_stream(req, 200, NULL, (int64_t)strtoll(n, NULL, 10), pattern_read, NULL,
                                  NULL);
}

struct upload {
    uint64_t pos, size;
};

static ssize_t upload_read(void *cls, char *buf, size_t max)
{
    struct upload *u = cls;
    uint64_t left = u->size - u->pos;
    size_t at = (size_t)(u->pos % PATTERN_SIZE);
    size_t n = PATTERN_SIZE - at;
    if (n > max)
        n = max;
    if (n > left)
        n = (size_t)left;
    memcpy(buf, pattern_buf + at, n);
    u->pos += n;
    return (ssize_t)n;
}

static int discard(void *cls, const void *data, size_t len)
{
    *(uint64_t *)cls += len;
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPU of the calling (client) thread; the rest of the process is the server. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *dir, double *mbps, double cpu, double client_cpu, int rounds)
{
    qsort(mbps, (size_t)rounds, sizeof(double), cmp_double);
    double gib = (double)conf.size * rounds / (1 << 30);
    printf("%s size_mib=%lld rounds=%d median_mbps=%.1f best_mbps=%.1f cpu_s_per_gib=%.3f "
           "server_cpu_s_per_gib=%.3f\n",
           dir, (long long)(conf.size >> 20), rounds, mbps[rounds / 2], mbps[rounds - 1], cpu / gib,
           (cpu - client_cpu) / gib);
}

int main(int argc, char **argv)
{
    char err[256];
    int rc = cn_config_load(&table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    cn_log_set_level(CN_LOG_WARN);
    for (size_t i = 0; i < PATTERN_SIZE; i++)
        pattern_buf[i] = (char)(i * 131 + (i >> 9));

    /* The null server plays a chunkserver, the client a gateway (the
     * fragment data path's link). */
    static const struct cn_roles_route routes[] = {{NULL, "/null", 0, CN_ROLE_CHUNK, CN_ROLES_ANY}};
    static const struct cn_roles_table roles_table = {routes, 1};
    struct cn_auth *auth = NULL, *cauth = NULL;
    const char secret[] = "httpbench-cluster-secret-0123456789";
    if (cn_auth_new(secret, strlen(secret), CN_ROLE_CHUNK, 0, &auth) < 0 ||
        cn_auth_new(secret, strlen(secret), CN_ROLE_GATEWAY, 0, &cauth) < 0)
        return 1;
    struct cn_http_server_opts so = {.port = 0,
                                     .auth = auth,
                                     .roles = &roles_table,
                                     .conn_memory_limit = (size_t)conf.conn_memory,
                                     .response_block_size = (size_t)conf.block};
    struct cn_http_server *srv;
    const struct cn_http_handler put_h = {NULL, null_body, null_put_end, NULL};
    const struct cn_http_handler get_h = {NULL, NULL, null_get_end, NULL};
    unsigned route_flags = conf.auth ? 0 : CN_HTTP_ROUTE_PUBLIC;
    if (cn_http_server_new(&so, &srv) < 0 ||
        cn_http_server_route(srv, "PUT", "/null", route_flags, &put_h, NULL) < 0 ||
        cn_http_server_route(srv, "GET", "/null", route_flags, &get_h, NULL) < 0 ||
        cn_http_server_start(srv) < 0) {
        fprintf(stderr, "cairn-httpbench: cannot start the server\n");
        return 1;
    }
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", cn_http_server_port(srv));
    struct cn_http_client_opts co = {
        .auth = conf.auth ? cauth : NULL, .timeout_ms = 600000, .roles = &roles_table};
    struct cn_http_client *c;
    if (cn_http_client_new(&co, &c) < 0)
        return 1;

    int rounds = (int)conf.rounds;
    double *mbps = calloc((size_t)rounds, sizeof(double));
    int failed = 0;

    double cpu0 = cpu_seconds(), ccpu0 = thread_cpu_seconds();
    for (int r = 0; r < rounds && !failed; r++) {
        struct upload u = {0, (uint64_t)conf.size};
        struct cn_http_request q = {.method = "PUT",
                                    .base_url = base,
                                    .target = "/null",
                                    .body_reader = upload_read,
                                    .body_cls = &u,
                                    .body_size = conf.size};
        struct cn_http_response resp = {0};
        int64_t t0 = cn_mono_us();
        rc = cn_http_client_do(c, &q, &resp);
        int64_t dt = cn_mono_us() - t0;
        if (rc < 0 || resp.status != 200 || u.pos != (uint64_t)conf.size) {
            fprintf(stderr, "PUT failed: %s status %d\n", cairn_strerror(rc), resp.status);
            failed = 1;
        }
        mbps[r] = (double)conf.size / (double)dt; /* bytes/us = MB/s */
        cn_http_response_clear(&resp);
    }
    if (!failed)
        report("put", mbps, cpu_seconds() - cpu0, thread_cpu_seconds() - ccpu0, rounds);

    cpu0 = cpu_seconds();
    ccpu0 = thread_cpu_seconds();
    for (int r = 0; r < rounds && !failed; r++) {
        char target[64];
        snprintf(target, sizeof(target), "/null?n=%lld", (long long)conf.size);
        uint64_t got = 0;
        struct cn_http_request q = {.method = "GET",
                                    .base_url = base,
                                    .target = target,
                                    .resp_writer = discard,
                                    .resp_cls = &got,
                                    .resp_body_unsigned_ok = 1};
        struct cn_http_response resp = {0};
        int64_t t0 = cn_mono_us();
        rc = cn_http_client_do(c, &q, &resp);
        int64_t dt = cn_mono_us() - t0;
        if (rc < 0 || resp.status != 200 || got != (uint64_t)conf.size) {
            fprintf(stderr, "GET failed: %s status %d\n", cairn_strerror(rc), resp.status);
            failed = 1;
        }
        mbps[r] = (double)conf.size / (double)dt;
        cn_http_response_clear(&resp);
    }
    if (!failed)
        report("get", mbps, cpu_seconds() - cpu0, thread_cpu_seconds() - ccpu0, rounds);

    free(mbps);
    cn_http_client_free(c);
    cn_http_server_free(srv);
    cn_auth_free(auth);
    cn_auth_free(cauth);
    cn_config_release(&table);
    return failed ? 1 : 0;
}
