/* bench_md_plog: the disk work of a replica's Paxos log on this machine, with
 * the log in LevelDB beside the state (md_plog_open) or in segment files
 * (md_plog_open_dir). Not a test.
 *   bench_md_plog [commits [payload [batch]]]   (defaults 20000 4096 20)
 * Per batch of `batch` commits: md_plog_write of one persist record holding
 * them as entries (payload bytes each, as a PUT's inline bytes travel through
 * Paxos), then one unsynced LevelDB write of `batch` state records of the
 * same size (the object records); every 64 MiB of commands the store is
 * synced and the log trimmed (cairn-meta's --trim-bytes default). Prints wall
 * time and the process's CPU time (LevelDB's compaction thread included) per
 * commit. */
#include "cn_error.h"
#include "md_plog.h"
#include "md_store.h"
#include "md_test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rnd_state = 88172645463325252ull;

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        p[i] = (uint8_t)rnd_state;
    }
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_md_plog: %s: %s\n", what, cairn_strerror(rc));
    exit(1);
}

static void run(int in_files, size_t commits, size_t payload, size_t batch)
{
    char dir[256], db[300], plog[300];
    const char *tmp = getenv("TMPDIR"); /* (make_temp_dir asserts: tests only) */
    snprintf(dir, sizeof(dir), "%s/cairn-plogbench-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(db, sizeof(db), "%s/db", dir);
    snprintf(plog, sizeof(plog), "%s/plog", dir);
    struct md_store_options opt;
    md_store_options_default(&opt);
    opt.sync = 0;
    opt.cache_bytes = 32u << 20;
    opt.write_buffer = 32u << 20; /* cairn-meta's --store-write-buffer */
    struct md_store *store;
    int rc = md_store_open_leveldb(db, &opt, &store);
    if (rc)
        die("open store", rc);
    struct md_plog *pl;
    struct md_plog_restored rs;
    rc =
        in_files ? md_plog_open_dir(store, plog, 0, 0, &pl, &rs) : md_plog_open(store, 0, &pl, &rs);
    if (rc)
        die("open log", rc);
    md_plog_restored_free(&rs);
    struct paxos_entry *es = calloc(batch, sizeof(*es));
    uint8_t *vals = malloc(batch * payload);
    struct md_batch *sb = md_batch_new();
    struct md_plog_batch pb = {0};
    uint64_t slot = 0, seq = 0, trim_through = 0, bytes_since_trim = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (size_t done = 0; done < commits; done += batch) {
        fill_random(vals, batch * payload);
        md_batch_clear(sb);
        for (size_t i = 0; i < batch; i++) {
            es[i] = (struct paxos_entry){
                .slot = ++slot, .ballot = 1, .len = (uint32_t)payload, .data = vals + i * payload};
            char key[48];
            int kl = snprintf(key, sizeof(key), "SObench/obj-%012" PRIu64, slot);
            md_batch_put(sb, key, (size_t)kl, vals + i * payload, payload);
        }
        bytes_since_trim += batch * payload;
        uint64_t trim = 0;
        if (bytes_since_trim >= (64u << 20)) {
            /* md_replica's trim: the state durable first. */
            if ((rc = md_store_sync(store)) != 0)
                die("sync", rc);
            trim = trim_through = slot > 1000 ? slot - 1000 : 0;
            bytes_since_trim = 0;
        }
        struct paxos_persist rec = {.seq = ++seq,
                                    .promised = 1,
                                    .trim_through = trim,
                                    .n_entries = (uint32_t)batch,
                                    .entries = es};
        uint64_t top;
        if ((rc = md_plog_batch_add(&pb, &rec)) != 0 ||
            (rc = md_plog_write(pl, &pb, &top, NULL)) != 0)
            die("log write", rc);
        if ((rc = md_store_write(store, sb)) != 0)
            die("state write", rc);
    }
    md_plog_batch_clear(&pb);
    free(pb.recs);
    md_batch_free(sb);
    free(vals);
    free(es);
    md_plog_free(pl);
    md_store_free(store); /* (the compaction running at the end, counted) */
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    printf("%-16s %6zu B x %zu per batch: %8.0f commits/s, CPU %6.1f us/commit (trimmed "
           "through %" PRIu64 ")\n",
           in_files ? "log in files" : "log in LevelDB", payload, batch, (double)commits / wall,
           cpu * 1e6 / (double)commits, trim_through);
    fflush(stdout);
    rm_tree(dir);
}

int main(int argc, char **argv)
{
    size_t commits = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t payload = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 20;
    if (!commits || !batch) {
        fprintf(stderr, "usage: bench_md_plog [commits [payload [batch]]]\n");
        return 2;
    }
    for (int round = 0; round < 2; round++) {
        run(0, commits, payload, batch);
        run(1, commits, payload, batch);
    }
    return 0;
}
