#include "cli_bench.h"

#include "cli_meta.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_batch.h"
#include "md_client.h"
#include "md_cmd.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SAMPLES_PER_THREAD 200000

static struct {
    struct cn_config_list clients;
    int64_t seconds;
    int64_t read_clients;
    char *fsync_dir;
    char *bucket;
    struct cn_config_list cpu_pids;
    int64_t payload;
    int64_t batch;
} bconf;

static struct md_batcher *batcher; /* the run's, when --batch > 0 */

static const struct cn_config_option bench_options[] = {
    CN_CONF_OPT_LIST("clients", "1,16,64,256", "concurrent clients, one run per count",
                     &bconf.clients),
    CN_CONF_OPT_DURATION("duration", "5s", 100, 3600000, "length of each run (e.g. 5s)",
                         &bconf.seconds),
    CN_CONF_OPT_INT("read-clients", "64", 0, 1024, "clients for the read run (0 = skip)",
                    &bconf.read_clients),
    CN_CONF_OPT_STRING("fsync-dir", ".",
                       "directory on the replicas' disk for the fdatasync baseline",
                       &bconf.fsync_dir),
    CN_CONF_OPT_STRING("bucket", "cairn-bench", "bucket the benchmark writes into", &bconf.bucket),
    CN_CONF_OPT_SIZE("payload", "64", 1, 64 * 1024,
                     "inline object bytes in each committed PutObject (the S3 gateway keeps "
                     "objects up to 16 KiB inline)",
                     &bconf.payload),
    CN_CONF_OPT_INT("batch", "2", 0, 64,
                    "metadata batches in flight, as the gateway's --meta-batch: the clients' "
                    "commands and reads go to the leader together, several per request "
                    "(0: one request each)",
                    &bconf.batch),
    CN_CONF_OPT_LIST("cpu-pids", "",
                     "NAME=PID of local daemons (e.g. meta1=1234): after each run, print the CPU "
                     "time each used per operation (from /proc), and this client's",
                     &bconf.cpu_pids),
};

#define MAX_CPU_PIDS 16

/* The CPU of every --cpu-pids process (slot i) and of this one (slot n). */
static void cpu_sample(int64_t *out)
{
    for (size_t i = 0; i < bconf.cpu_pids.n && i < MAX_CPU_PIDS; i++) {
        const char *eq = strchr(bconf.cpu_pids.items[i], '=');
        out[i] = cn_proc_cpu_us(strtol(eq ? eq + 1 : bconf.cpu_pids.items[i], NULL, 10));
    }
    out[bconf.cpu_pids.n < MAX_CPU_PIDS ? bconf.cpu_pids.n : MAX_CPU_PIDS] = cn_proc_cpu_us(0);
}

/* Prints the CPU per operation between two samples. */
static void cpu_print(const int64_t *before, const int64_t *after, uint64_t ops)
{
    if (!bconf.cpu_pids.n || !ops)
        return;
    size_t n = bconf.cpu_pids.n < MAX_CPU_PIDS ? bconf.cpu_pids.n : MAX_CPU_PIDS;
    printf("  CPU per op:");
    for (size_t i = 0; i <= n; i++) {
        char name[64];
        if (i == n) {
            snprintf(name, sizeof(name), "client");
        } else {
            const char *it = bconf.cpu_pids.items[i], *eq = strchr(it, '=');
            snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - it) : (int)strlen(it), it);
        }
        if (before[i] < 0 || after[i] < 0)
            printf(" %s ?", name);
        else
            printf(" %s %.0f us", name, (double)(after[i] - before[i]) / (double)ops);
    }
    printf("\n");
}

static const struct cn_config_table bench_table = {
    .program = "cairn bench meta",
    .summary = "Commits/s and latency of the metadata group next to one fdatasync.",
    .options = bench_options,
    .n_options = sizeof(bench_options) / sizeof(bench_options[0]),
};

struct worker {
    struct cli_global *g;
    pthread_t th;
    int id;
    int reads;
    atomic_int *stop;
    uint32_t *lat_us;
    size_t n_lat;
    uint64_t ops, errors;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static struct md_client *client_for(struct cli_global *g)
{
    return cli_meta_client_batched(g, 10000, batcher);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct md_client *c = client_for(w->g);
    if (!c)
        return NULL;
    char key[64], etag[40];
    size_t plen = (size_t)bconf.payload;
    uint8_t *payload = malloc(plen);
    if (!payload) {
        md_client_free(c);
        return NULL;
    }
    memset(payload, 'x', plen);
    uint64_t i = 0;
    while (!atomic_load(w->stop)) {
        int64_t t0 = cn_mono_us();
        int rc;
        uint8_t *buf = NULL, *res = NULL;
        size_t len = 0, rlen = 0;
        snprintf(key, sizeof(key), "w%d/%" PRIu64, w->id, w->reads ? i % 64 : i);
        if (w->reads) {
            rc = md_q_get_object(bconf.bucket, key, &buf, &len);
            if (rc == 0)
                rc = md_client_read(c, buf, len, &res, &rlen);
        } else {
            snprintf(etag, sizeof(etag), "%032" PRIx64, i);
            struct md_object_desc obj = {.size = plen,
                                         .etag = etag,
                                         .mtime_ms = cn_wall_ms(),
                                         .has_inline = 1,
                                         .inline_data = payload,
                                         .inline_len = plen};
            uint64_t seq = md_client_next_seq(c);
            rc = md_cmd_put_object(md_client_id(c), seq, bconf.bucket, key, &obj, MD_COND_NONE,
                                   NULL, &buf, &len);
            rc = cli_meta_commit(c, seq, rc, buf, len);
            buf = NULL;
        }
        free(buf);
        free(res);
        int64_t dt = cn_mono_us() - t0;
        if (rc != 0) {
            w->errors++;
        } else {
            w->ops++;
            if (w->n_lat < MAX_SAMPLES_PER_THREAD)
                w->lat_us[w->n_lat++] = (uint32_t)(dt > UINT32_MAX ? UINT32_MAX : dt);
        }
        i++;
    }
    free(payload);
    md_client_free(c);
    return NULL;
}

/* Runs n workers for the configured time; prints one row. */
static int run(struct cli_global *g, int n, int reads, const char *label)
{
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    atomic_int stop = 0;
    if (!ws)
        return 1;
    for (int i = 0; i < n; i++) {
        ws[i] = (struct worker){.g = g, .id = reads ? i : i, .reads = reads, .stop = &stop};
        ws[i].lat_us = malloc(MAX_SAMPLES_PER_THREAD * sizeof(uint32_t));
    }
    /* as the gateway: the batches go out on connections of their own */
    struct md_batcher_opts bo = {.max_inflight = (unsigned)bconf.batch};
    struct md_client_opts so;
    cli_meta_opts(g, 10000, &so);
    if (bconf.batch > 0 && (md_batcher_new(&bo, &batcher) != 0 ||
                            md_batcher_open_senders(batcher, &so, (unsigned)bconf.batch) != 0)) {
        md_batcher_free(batcher);
        batcher = NULL;
        free(ws);
        return 1;
    }
    int64_t cpu0[MAX_CPU_PIDS + 1], cpu1[MAX_CPU_PIDS + 1];
    cpu_sample(cpu0);
    int64_t t0 = cn_mono_us();
    for (int i = 0; i < n; i++)
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    cn_sleep_ms(bconf.seconds);
    atomic_store(&stop, 1);
    uint64_t ops = 0, errors = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(ws[i].th, NULL);
        ops += ws[i].ops;
        errors += ws[i].errors;
        total += ws[i].n_lat;
    }
    double secs = (double)(cn_mono_us() - t0) / 1e6;
    cpu_sample(cpu1);
    uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, ws[i].lat_us, ws[i].n_lat * sizeof(uint32_t));
        k += ws[i].n_lat;
        free(ws[i].lat_us);
    }
    qsort(all, total, sizeof(uint32_t), cmp_u32);
    double p50 = total ? all[total / 2] / 1000.0 : 0;
    double p99 = total ? all[(size_t)((double)total * 0.99)] / 1000.0 : 0;
    printf("%-8s %8d %12.0f %10.2f %10.2f %8" PRIu64 "\n", label, n, (double)ops / secs, p50, p99,
           errors);
    cpu_print(cpu0, cpu1, ops);
    if (batcher) {
        struct md_batcher_stats bs;
        md_batcher_stats(batcher, &bs);
        printf("         batches: %" PRIu64 " carrying %" PRIu64 " requests (%.1f each), %" PRIu64
               " sent alone, %" PRIu64 " sent again alone\n",
               bs.batches, bs.items, bs.batches ? (double)bs.items / (double)bs.batches : 0.0,
               bs.alone, bs.again);
        md_batcher_free(batcher);
        batcher = NULL;
    }
    fflush(stdout);
    free(all);
    free(ws);
    return ops == 0;
}

/* Median latency (*median_ms) and rate (*per_sec) of a 4 KiB write +
 * fdatasync of a scratch file in dir, over ~1 s. Returns 0, or CAIRN_E_IO
 * when the file cannot be made or not one write + fdatasync succeeded. */
static int fsync_baseline(const char *dir, double *median_ms, double *per_sec)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.cairn-bench-fsync.%d", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        return CAIRN_E_IO;
    char buf[4096];
    memset(buf, 1, sizeof(buf));
    uint32_t lat[20000];
    size_t n = 0;
    int64_t start = cn_mono_us();
    while (n < 20000 && cn_mono_us() - start < 1000000) {
        int64_t t0 = cn_mono_us();
        if (pwrite(fd, buf, sizeof(buf), (off_t)(n % 256) * 4096) != (ssize_t)sizeof(buf) ||
            fdatasync(fd) != 0)
            break;
        lat[n++] = (uint32_t)(cn_mono_us() - t0);
    }
    double secs = (double)(cn_mono_us() - start) / 1e6;
    close(fd);
    unlink(path);
    if (n == 0)
        return CAIRN_E_IO;
    *per_sec = (double)n / secs;
    qsort(lat, n, sizeof(uint32_t), cmp_u32);
    *median_ms = lat[n / 2] / 1000.0;
    return 0;
}

/* `cairn bench meta [options]`: argv[0] is "meta". */
static int bench_meta(struct cli_global *g, int argc, char **argv)
{
    char err[512] = "";
    char *help_argv[] = {argv[0], "--help", NULL};
    int rc = g->help ? cn_config_load(&bench_table, 2, help_argv, NULL, err, sizeof(err))
                     : cn_config_load(&bench_table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return CLI_EXIT_OK;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = client_for(g);
    if (!c) {
        cn_config_release(&bench_table);
        return CLI_EXIT_FAILED;
    }
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL, *res = NULL;
    size_t clen, rlen;
    md_cmd_create_bucket(md_client_id(c), seq, bconf.bucket, "bench", "", 0, cn_wall_ms(), &cmd,
                         &clen);
    rc = md_client_command(c, seq, cmd, clen, &res, &rlen);
    free(cmd);
    free(res);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn bench meta: cannot reach the metadata group: %s\n",
                cairn_strerror(rc));
        cn_config_release(&bench_table);
        return CLI_EXIT_FAILED;
    }

    double fsync_ms = 0, fsync_rate = 0;
    rc = fsync_baseline(bconf.fsync_dir, &fsync_ms, &fsync_rate);
    if (rc == 0)
        printf("baseline: one 4 KiB write + fdatasync in %s: median %.3f ms (%.0f/s)\n",
               bconf.fsync_dir, fsync_ms, fsync_rate);
    else /* the figures below stand without it */
        printf("baseline: one 4 KiB write + fdatasync in %s: not measured (%s)\n", bconf.fsync_dir,
               cairn_strerror(rc));
    printf("%-8s %8s %12s %10s %10s %8s\n", "op", "clients", "ops/s", "p50 ms", "p99 ms", "errors");
    int failed = 0;
    for (size_t i = 0; i < bconf.clients.n; i++) {
        int n = atoi(bconf.clients.items[i]);
        if (n < 1 || n > 4096) {
            fprintf(stderr, "cairn bench meta: --clients: '%s' is not 1..4096\n",
                    bconf.clients.items[i]);
            failed = 1;
            break;
        }
        failed |= run(g, n, 0, "commit");
    }
    if (bconf.read_clients > 0 && !failed)
        failed |= run(g, (int)bconf.read_clients, 1, "read");
    cn_config_release(&bench_table);
    return failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int cli_bench(struct cli_global *g, int argc, char **argv)
{
    if (g->help && (argc < 2 || strcmp(argv[1], "meta") != 0)) {
        printf("usage: cairn bench meta [options]\n"
               "Benchmarks of the cluster; 'meta' (the metadata group's commits/s and reads/s\n"
               "next to one fdatasync) is the one there is: cairn bench meta --help.\n");
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "meta") != 0) {
        fprintf(stderr, "cairn bench: only 'meta' exists yet (cairn bench meta --help)\n");
        return CLI_EXIT_USAGE;
    }
    return bench_meta(g, argc - 1, argv + 1);
}
