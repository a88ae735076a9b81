/* cairn-httpbench: raw loopback HTTP throughput through cn_http_server and
 * cn_http_client with a null handler (PUT discards the body, GET streams from
 * a static buffer). One stream at a time, client and server in one process.
 * This is the "raw HTTP" baseline that the chunkserver and gateway
 * benchmarks compare against.
 *
 *   cairn-httpbench [--size 1G] [--rounds 3] [--conn-memory 256K] [--no-auth]
 *                   [--requests N [--threads T] [--body 1K]]
 *
 * Prints one line per direction:
 *   put size_mib=1024 rounds=3 median_mbps=2100.3 best_mbps=2200.1 cpu_s_per_gib=0.61
 *       server_cpu_s_per_gib=0.30
 * (cpu = whole process; server = everything but the client's thread)
 *
 * With --requests N, the cost of internal authentication on small requests
 * (a metadata command's size): N POSTs of --body bytes from T threads, once
 * unauthenticated (a public route, no signature) and once as daemons send
 * them (CAIRN2: signed request with nonce and body tag, Host, replay cache
 * and role checks, signed answer checked by the client), on one line:
 *   rate body=1024 threads=4 requests=20000 plain_rps=... signed_rps=...
 *       signed_vs_plain=0.85 plain_cpu_us_per_req=... signed_cpu_us_per_req=...
 */
#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"

#include <pthread.h>
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
    int64_t requests;
    int64_t threads;
    int64_t body;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_SIZE("size", "1G", 1, 64LL << 30, "bytes per transfer", &conf.size),
    CN_CONF_OPT_INT("rounds", "3", 1, 100, "transfers per direction (median reported)",
                    &conf.rounds),
    CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 64 << 20, "server connection memory limit",
                     &conf.conn_memory),
    CN_CONF_OPT_SIZE("block", "256K", 4096, 16 << 20, "server response block size", &conf.block),
    CN_CONF_OPT_BOOL("auth", "true", "sign requests (HMAC) as Cairn daemons do", &conf.auth),
    CN_CONF_OPT_INT("requests", "0", 0, 100000000,
                    "small POSTs per mode for the signed vs unsigned request rate (0: skip)",
                    &conf.requests),
    CN_CONF_OPT_INT("threads", "4", 1, 256, "client threads of the request-rate run",
                    &conf.threads),
    CN_CONF_OPT_SIZE("body", "1K", 0, 1 << 20, "body of each request of the request-rate run",
                     &conf.body),
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

/* ---- request rate: signed vs unsigned ---- */

struct rate_job {
    const struct cn_http_client_opts *opts;
    const char *base, *target;
    int64_t n;
    int failed;
};

static void *rate_thread(void *arg)
{
    struct rate_job *j = arg;
    struct cn_http_client *c;
    if (cn_http_client_new(j->opts, &c) < 0) {
        j->failed = 1;
        return NULL;
    }
    for (int64_t i = 0; i < j->n && !j->failed; i++) {
        struct cn_http_request q = {.method = "POST",
                                    .base_url = j->base,
                                    .target = j->target,
                                    .body = pattern_buf,
                                    .body_len = (size_t)conf.body};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(c, &q, &resp);
        if (rc < 0 || resp.status != 200) {
            fprintf(stderr, "POST %s failed: %s status %d\n", j->target, cairn_strerror(rc),
                    resp.status);
            j->failed = 1;
        }
        cn_http_response_clear(&resp);
    }
    cn_http_client_free(c);
    return NULL;
}

/* Requests per second of conf.requests POSTs to target over conf.threads
 * clients; *cpu_us the process CPU per request. 0 on failure. */
static double rate_run(const struct cn_http_client_opts *opts, const char *base, const char *target,
                       double *cpu_us)
{
    size_t t = (size_t)conf.threads;
    struct rate_job *jobs = calloc(t, sizeof(*jobs));
    pthread_t *th = calloc(t, sizeof(*th));
    if (!jobs || !th) {
        free(jobs);
        free(th);
        return 0;
    }
    double cpu0 = cpu_seconds();
    int64_t t0 = cn_mono_us();
    for (size_t i = 0; i < t; i++) {
        jobs[i] = (struct rate_job){opts, base, target, conf.requests / (int64_t)t, 0};
        if (pthread_create(&th[i], NULL, rate_thread, &jobs[i]) != 0)
            jobs[i].failed = 2;
    }
    int failed = 0;
    for (size_t i = 0; i < t; i++) {
        if (jobs[i].failed != 2)
            pthread_join(th[i], NULL);
        failed |= jobs[i].failed;
    }
    double secs = (double)(cn_mono_us() - t0) / 1e6;
    int64_t done = conf.requests / (int64_t)t * (int64_t)t;
    *cpu_us = (cpu_seconds() - cpu0) * 1e6 / (double)done;
    free(jobs);
    free(th);
    return failed ? 0 : (double)done / secs;
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
    static const struct cn_roles_route routes[] = {{NULL, "/null", 0, CN_ROLE_CHUNK, CN_ROLES_ANY},
                                                   {NULL, "/open", 0, CN_ROLE_CHUNK, CN_ROLES_ANY}};
    static const struct cn_roles_table roles_table = {routes, 2};
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
        cn_http_server_route(srv, "POST", "/null", 0, &put_h, NULL) < 0 ||
        cn_http_server_route(srv, "POST", "/open", CN_HTTP_ROUTE_PUBLIC, &put_h, NULL) < 0 ||
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

    if (conf.requests > 0) {
        /* the same server: /open is public (no check at all), /null
         * authenticated; warm both paths first */
        struct cn_http_client_opts plain = {.timeout_ms = 60000, .roles = &roles_table};
        struct cn_http_client_opts sig = {
            .auth = cauth, .timeout_ms = 60000, .roles = &roles_table};
        double pc, sc;
        int64_t want = conf.requests;
        conf.requests = conf.threads * 50;
        rate_run(&plain, base, "/open", &pc);
        rate_run(&sig, base, "/null", &sc);
        conf.requests = want;
        double p = rate_run(&plain, base, "/open", &pc);
        double s2 = rate_run(&sig, base, "/null", &sc);
        if (p <= 0 || s2 <= 0) {
            fprintf(stderr, "cairn-httpbench: the request-rate run failed\n");
            return 1;
        }
        printf("rate body=%lld threads=%lld requests=%lld plain_rps=%.0f signed_rps=%.0f "
               "signed_vs_plain=%.2f plain_cpu_us_per_req=%.1f signed_cpu_us_per_req=%.1f\n",
               (long long)conf.body, (long long)conf.threads, (long long)conf.requests, p, s2,
               s2 / p, pc, sc);
        fflush(stdout);
    }

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
