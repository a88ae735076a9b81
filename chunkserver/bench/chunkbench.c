/* cairn-chunkbench: chunkserver throughput next to what bounds it, measured in
 * the same run on the same disk (not a test):
 *
 *   disk    sequential write of the big-fragment volume, fdatasync at the end,
 *           and 1 MiB writes each followed by fdatasync (best of two runs each)
 *   null    loopback HTTP PUT/GET of big bodies to an in-process server that
 *           discards / serves from memory (the transport ceiling)
 *   chunk   a real cairn-chunk (durable, then --no-sync): streaming put/get of
 *           big fragments (MB/s), put/get of small fragments (per second)
 *
 * Usage: cairn-chunkbench --dir DIR [--chunk PATH] [--big-size 64M]
 *        [--big-count 8] [--small-size 64K] [--small-count 2000]
 * DIR must be on the disk to measure; it is created and emptied. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "ec_crc.h"

static struct {
    char *dir;
    char *chunk;
    int64_t big_size;
    int64_t big_count;
    int64_t small_size;
    int64_t small_count;
    char *writeback;
    int64_t rounds;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_STRING("dir", "", "scratch directory on the disk to measure (required)", &conf.dir),
    CN_CONF_OPT_STRING("chunk", "", "cairn-chunk binary (default: next to this one)", &conf.chunk),
    CN_CONF_OPT_SIZE("big-size", "64M", 1 << 20, 1ll << 32, "size of big fragments",
                     &conf.big_size),
    CN_CONF_OPT_INT("big-count", "8", 1, 1000, "big fragments per run", &conf.big_count),
    CN_CONF_OPT_SIZE("small-size", "64K", 1, 16 << 20, "size of small fragments", &conf.small_size),
    CN_CONF_OPT_INT("small-count", "2000", 1, 1000000, "small fragments per run",
                    &conf.small_count),
    CN_CONF_OPT_STRING("writeback", "8M", "--writeback of the durable cairn-chunk",
                       &conf.writeback),
    CN_CONF_OPT_INT("rounds", "5", 1, 100,
                    "paired rounds of (disk write + fdatasync, durable big PUT) for the ratio",
                    &conf.rounds),
};

static const struct cn_config_table table = {
    .program = "cairn-chunkbench",
    .summary = "Chunkserver throughput next to the disk and loopback HTTP ceilings.",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

static uint8_t *payload; /* big_size random bytes */

static double now_s(void)
{
    return (double)cn_mono_us() / 1e6;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "chunkbench: %s: %s\n", what, rc ? cairn_strerror(rc) : strerror(errno));
    exit(1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* ---- disk ---- */

static void bench_disk(double *end_sync_mbs, double *each_sync_mbs)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/disk.bin", conf.dir);
    uint64_t total = (uint64_t)conf.big_size * (uint64_t)conf.big_count;
    *end_sync_mbs = *each_sync_mbs = 0;
    /* Each mode twice, the better run counts (the first warms the disk). */
    for (int run = 0; run < 4; run++) {
        int mode = run % 2;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            die("open", 0);
        double t0 = now_s();
        for (uint64_t off = 0; off < total; off += 1 << 20) {
            if (cn_write_all(fd, payload + off % (uint64_t)conf.big_size, 1 << 20) != 0)
                die("write", 0);
            if (mode == 1 && fdatasync(fd) != 0)
                die("fdatasync", 0);
        }
        if (fdatasync(fd) != 0)
            die("fdatasync", 0);
        double mbs = (double)total / 1e6 / (now_s() - t0);
        close(fd);
        unlink(path);
        double *best = mode == 0 ? end_sync_mbs : each_sync_mbs;
        if (mbs > *best)
            *best = mbs;
    }
}

/* ---- HTTP helpers ---- */

typedef struct body_src {
    uint64_t pos, len;
} body_src;

static ssize_t body_read(void *cls, char *buf, size_t max)
{
    body_src *b = cls;
    uint64_t left = b->len - b->pos;
    size_t n = left < max ? (size_t)left : max;
    memcpy(buf, payload + b->pos, n);
    b->pos += n;
    return (ssize_t)n;
}

static int body_discard(void *cls, const void *data, size_t len)
{
    *(uint64_t *)cls += len;
    return 0;
}

/* One PUT of len bytes of payload to target; returns the HTTP status. */
static int do_put(struct cn_http_client *c, const char *base, const char *target, uint64_t len,
                  bool fragment_headers)
{
    char h[4][96];
    const char *hdrs[5] = {NULL};
    if (fragment_headers) {
        snprintf(h[0], sizeof(h[0]), CN_HDR_K ": 4");
        snprintf(h[1], sizeof(h[1]), CN_HDR_M ": 2");
        snprintf(h[2], sizeof(h[2]), CN_HDR_UNIT ": 65536");
        snprintf(h[3], sizeof(h[3]), CN_HDR_DATA_LEN ": %" PRIu64, len);
        for (int i = 0; i < 4; i++)
            hdrs[i] = h[i];
    }
    body_src src = {0, len};
    struct cn_http_request req = {.method = "PUT",
                                  .base_url = base,
                                  .target = target,
                                  .headers = hdrs,
                                  .body_reader = body_read,
                                  .body_cls = &src,
                                  .body_size = (int64_t)len,
                                  .to_role = CN_ROLE_CHUNK,
                                  .timeout_ms = 600000};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(c, &req, &resp);
    if (rc != 0)
        die("put", rc);
    int status = resp.status;
    cn_http_response_clear(&resp);
    return status;
}

static uint64_t do_get(struct cn_http_client *c, const char *base, const char *target)
{
    uint64_t got = 0;
    struct cn_http_request req = {.method = "GET",
                                  .base_url = base,
                                  .target = target,
                                  .resp_writer = body_discard,
                                  .resp_cls = &got,
                                  .to_role = CN_ROLE_CHUNK,
                                  .resp_body_unsigned_ok = 1,
                                  .timeout_ms = 600000};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(c, &req, &resp);
    if (rc != 0)
        die("get", rc);
    if (resp.status != 200) {
        fprintf(stderr, "chunkbench: GET %s: status %d\n", target, resp.status);
        exit(1);
    }
    cn_http_response_clear(&resp);
    return got;
}

/* ---- null server ---- */

static ssize_t null_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t left = (uint64_t)conf.big_size - pos;
    size_t n = left < max ? (size_t)left : max;
    memcpy(buf, payload + pos, n);
    return (ssize_t)n;
}

static int null_begin(struct cn_http_req *req, void *cls)
{
    if (strcmp(cn_http_req_method(req), "GET") == 0)
        return cn_http_respond_stream(req, 200, "application/octet-stream", conf.big_size,
                                      null_reader, NULL, NULL);
    return 0;
}

static int null_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    return 0;
}

static int null_end(struct cn_http_req *req, void *cls)
{
    return cn_http_respond(req, 200, NULL, NULL, 0);
}

/* The null server takes any path from any role. */
static const struct cn_roles_route null_routes[] = {{NULL, "/", 1, CN_ROLE_CHUNK, CN_ROLES_ANY}};
static const struct cn_roles_table null_table = {null_routes, 1};

static void bench_null(const struct cn_auth *auth, struct cn_http_client *c, double *put_mbs,
                       double *get_mbs)
{
    struct cn_http_server_opts o = {.auth = auth, .log_module = "null", .roles = &null_table};
    struct cn_http_server *srv;
    int rc = cn_http_server_new(&o, &srv);
    if (rc != 0)
        die("null server", rc);
    struct cn_http_handler h = {null_begin, null_body, null_end, NULL};
    cn_http_server_route(srv, NULL, "/", 0, &h, NULL);
    if ((rc = cn_http_server_start(srv)) != 0)
        die("null server start", rc);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", cn_http_server_port(srv));
    uint64_t n = (uint64_t)conf.big_count, size = (uint64_t)conf.big_size;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        if (do_put(c, base, "/null", size, false) != 200)
            die("null put status", CAIRN_E_IO);
    *put_mbs = (double)(n * size) / 1e6 / (now_s() - t0);
    t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        do_get(c, base, "/null");
    *get_mbs = (double)(n * size) / 1e6 / (now_s() - t0);
    cn_http_server_free(srv);
}

/* ---- real chunkserver ---- */

typedef struct chunk_result {
    double big_put_mbs, big_get_mbs, small_put_s, small_get_s;
} chunk_result;

static pid_t start_chunk(const char *secret, bool durable, char *base, size_t baselen)
{
    char data[PATH_MAX], portfile[PATH_MAX];
    snprintf(data, sizeof(data), "%s/chunk-data", conf.dir);
    snprintf(portfile, sizeof(portfile), "%s/chunk.port", conf.dir);
    nftw(data, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", 0);
    if (pid == 0) {
        execl(conf.chunk, conf.chunk, "--data-dir", data, "--port", "0", "--port-file", portfile,
              "--cluster-secret-file", secret, "--reserve", "0", "--log-level", "warn",
              "--writeback", conf.writeback, durable ? "--sync" : "--no-sync", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char *text = NULL;
        size_t len;
        if (cn_read_file(portfile, 64, &text, &len) == 0 && len > 0) {
            snprintf(base, baselen, "http://127.0.0.1:%d", atoi(text));
            free(text);
            return pid;
        }
        free(text);
        cn_sleep_ms(25);
    }
    fprintf(stderr, "chunkbench: %s did not start\n", conf.chunk);
    kill(pid, SIGKILL);
    exit(1);
}

static void bench_chunk(const char *secret, struct cn_http_client *c, bool durable, chunk_result *r)
{
    char base[64], target[128];
    pid_t pid = start_chunk(secret, durable, base, sizeof(base));
    uint64_t n = (uint64_t)conf.big_count, size = (uint64_t)conf.big_size;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        snprintf(target, sizeof(target), "%s%032" PRIx64 "/0", CN_ROUTE_CS_FRAGMENT, i + 1);
        if (do_put(c, base, target, size, true) != 201)
            die("big put status", CAIRN_E_IO);
    }
    r->big_put_mbs = (double)(n * size) / 1e6 / (now_s() - t0);
    t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        snprintf(target, sizeof(target), "%s%032" PRIx64 "/0", CN_ROUTE_CS_FRAGMENT, i + 1);
        if (do_get(c, base, target) != size)
            die("big get size", CAIRN_E_IO);
    }
    r->big_get_mbs = (double)(n * size) / 1e6 / (now_s() - t0);
    uint64_t sn = (uint64_t)conf.small_count, ssize = (uint64_t)conf.small_size;
    t0 = now_s();
    for (uint64_t i = 0; i < sn; i++) {
        snprintf(target, sizeof(target), "%s%016" PRIx64 "%016" PRIx64 "/1", CN_ROUTE_CS_FRAGMENT,
                 (uint64_t)(i * 0x9e3779b97f4a7c15ull), i);
        if (do_put(c, base, target, ssize, true) != 201)
            die("small put status", CAIRN_E_IO);
    }
    r->small_put_s = (double)sn / (now_s() - t0);
    t0 = now_s();
    for (uint64_t i = 0; i < sn; i++) {
        snprintf(target, sizeof(target), "%s%016" PRIx64 "%016" PRIx64 "/1", CN_ROUTE_CS_FRAGMENT,
                 (uint64_t)(i * 0x9e3779b97f4a7c15ull), i);
        if (do_get(c, base, target) != ssize)
            die("small get size", CAIRN_E_IO);
    }
    r->small_get_s = (double)sn / (now_s() - t0);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One sequential write of big_count x big_size with one fdatasync at the end. */
static double disk_end_once(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/disk.bin", conf.dir);
    uint64_t total = (uint64_t)conf.big_size * (uint64_t)conf.big_count;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open", 0);
    double t0 = now_s();
    for (uint64_t off = 0; off < total; off += 1 << 20)
        if (cn_write_all(fd, payload + off % (uint64_t)conf.big_size, 1 << 20) != 0)
            die("write", 0);
    if (fdatasync(fd) != 0)
        die("fdatasync", 0);
    double mbs = (double)total / 1e6 / (now_s() - t0);
    close(fd);
    unlink(path);
    return mbs;
}

/* The durable-PUT-vs-disk ratio, robust to this shared disk's swings: each
 * round measures the disk and the chunkserver back to back, and the median
 * of the per-round ratios is reported. */
static void bench_paired(const char *secret, struct cn_http_client *c)
{
    char base[64], target[128];
    pid_t pid = start_chunk(secret, true, base, sizeof(base));
    double ratio[100], disk[100], put[100];
    uint64_t n = (uint64_t)conf.big_count, size = (uint64_t)conf.big_size;
    int rounds = (int)conf.rounds;
    for (int r = 0; r < rounds; r++) {
        disk[r] = disk_end_once();
        double t0 = now_s();
        for (uint64_t i = 0; i < n; i++) {
            snprintf(target, sizeof(target), "%s%016x%016" PRIx64 "/0", CN_ROUTE_CS_FRAGMENT,
                     0x70000000u + (unsigned)r, i + 1);
            if (do_put(c, base, target, size, true) != 201)
                die("paired put status", CAIRN_E_IO);
        }
        put[r] = (double)(n * size) / 1e6 / (now_s() - t0);
        ratio[r] = put[r] / disk[r];
    }
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    qsort(disk, (size_t)rounds, sizeof(double), cmp_double);
    qsort(put, (size_t)rounds, sizeof(double), cmp_double);
    printf("paired, %d rounds (medians): disk %0.f MB/s, durable PUT %.0f MB/s, "
           "ratio %.0f%% (min %.0f%%, max %.0f%%; target >= 70%%)\n",
           rounds, disk[rounds / 2], put[rounds / 2], 100 * ratio[rounds / 2], 100 * ratio[0],
           100 * ratio[rounds - 1]);
}

int main(int argc, char **argv)
{
    char err[256];
    int rc = cn_config_load(&table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return 0;
    if (rc != 0 || conf.dir[0] == '\0') {
        fprintf(stderr, "%s\n", rc ? err : "cairn-chunkbench: --dir is required");
        return 2;
    }
    char chunk[PATH_MAX];
    if (conf.chunk[0] == '\0') {
        /* build/chunkserver/cairn-chunkbench -> build/chunkserver/cairn-chunk */
        ssize_t n = readlink("/proc/self/exe", chunk, sizeof(chunk) - 32);
        if (n <= 0)
            die("readlink", 0);
        chunk[n] = '\0';
        strcpy(strrchr(chunk, '/') + 1, "cairn-chunk");
        free(conf.chunk);
        conf.chunk = strdup(chunk);
    }
    signal(SIGPIPE, SIG_IGN);
    cn_log_set_level(CN_LOG_WARN);
    mkdir(conf.dir, 0755);
    payload = malloc((size_t)conf.big_size);
    if (payload == NULL || cn_random_bytes(payload, (size_t)conf.big_size) != 0)
        die("payload", CAIRN_E_NOMEM);

    char secret[PATH_MAX];
    snprintf(secret, sizeof(secret), "%s/secret", conf.dir);
    FILE *f = fopen(secret, "w");
    fputs("chunkbench-secret-0123456789abcdef\n", f);
    fclose(f);
    struct cn_auth *auth, *null_auth;
    if ((rc = cn_auth_open(secret, NULL, CN_ROLE_GATEWAY, 0, false, "chunkbench", &auth)) != 0 ||
        (rc = cn_auth_open(secret, NULL, CN_ROLE_CHUNK, 0, false, "chunkbench", &null_auth)) != 0)
        die("auth", rc);
    struct cn_http_client_opts copts = {.auth = auth, .timeout_ms = 600000};
    struct cn_http_client *c;
    if ((rc = cn_http_client_new(&copts, &c)) != 0)
        die("client", rc);

    double disk_end = 0, disk_each = 0, null_put = 0, null_get = 0;
    bench_disk(&disk_end, &disk_each);
    bench_null(null_auth, c, &null_put, &null_get);
    chunk_result dur, nosync;
    bench_chunk(secret, c, true, &dur);
    bench_chunk(secret, c, false, &nosync);

    printf("cairn-chunkbench: %" PRId64 " x %" PRId64 " MiB fragments, %" PRId64 " x %" PRId64
           " KiB fragments, one client stream, dir %s\n",
           conf.big_count, conf.big_size >> 20, conf.small_count, conf.small_size >> 10, conf.dir);
    printf("%-44s %10.0f MB/s\n", "disk: sequential write, fdatasync at end", disk_end);
    printf("%-44s %10.0f MB/s\n", "disk: 1 MiB writes, each fdatasync'd", disk_each);
    printf("%-44s %10.0f MB/s\n", "null server: loopback HTTP PUT", null_put);
    printf("%-44s %10.0f MB/s\n", "null server: loopback HTTP GET", null_get);
    printf("%-44s %10.0f MB/s  (%.0f%% of disk, fdatasync at end)\n",
           "chunk durable: big fragment PUT", dur.big_put_mbs, 100 * dur.big_put_mbs / disk_end);
    printf("%-44s %10.0f MB/s\n", "chunk durable: big fragment GET", dur.big_get_mbs);
    printf("%-44s %10.0f /s\n", "chunk durable: small fragment PUT", dur.small_put_s);
    printf("%-44s %10.0f /s\n", "chunk durable: small fragment GET", dur.small_get_s);
    printf("%-44s %10.0f MB/s\n", "chunk --no-sync: big fragment PUT", nosync.big_put_mbs);
    printf("%-44s %10.0f MB/s\n", "chunk --no-sync: big fragment GET", nosync.big_get_mbs);
    printf("%-44s %10.0f /s\n", "chunk --no-sync: small fragment PUT", nosync.small_put_s);
    printf("%-44s %10.0f /s\n", "chunk --no-sync: small fragment GET", nosync.small_get_s);

    fflush(stdout);
    bench_paired(secret, c);

    char data[PATH_MAX];
    snprintf(data, sizeof(data), "%s/chunk-data", conf.dir);
    nftw(data, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    cn_http_client_free(c);
    cn_auth_free(null_auth);
    cn_auth_free(auth);
    free(payload);
    cn_config_release(&table);
    return 0;
}
