/* cairn-rsim: runs the deterministic simulation of the metadata replica
 * (tests/sim/rsim.h).
 *
 *   cairn-rsim --seed S [--replicas R] [--steps N] [--verbose] [--trace-hash]
 *       one seed; --verbose prints every event and the replicas' log lines;
 *       --trace-hash prints the hash of the event trace (equal for equal seeds)
 *   cairn-rsim --seeds K [--first S] [--replicas R] [--steps N]
 *       K seeds from S; without --replicas, odd seeds start with 5 voters and
 *       even seeds with 3. CAIRN_RSIM_SEEDS in the environment overrides K.
 *
 * A failing seed prints the single command that replays it; exit status 1. */
#include "rsim.h"

#include "cn_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cairn-rsim --seed S [--replicas R] [--steps N] [--verbose] [--trace-hash]\n"
               "       cairn-rsim --seeds K [--first S] [--replicas R] [--steps N]\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, seeds = 0, first = 1, steps = 3000;
    uint32_t replicas = 0;
    int verbose = 0, trace_hash = 0, single = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seed") && v) {
            seed = strtoull(v, NULL, 10);
            single = 1;
            i++;
        } else if (!strcmp(a, "--seeds") && v) {
            seeds = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--first") && v) {
            first = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--replicas") && v) {
            replicas = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--steps") && v) {
            steps = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "--trace")) {
            verbose = 1;
        } else if (!strcmp(a, "--trace-hash")) {
            trace_hash = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    const char *env = getenv("CAIRN_RSIM_SEEDS");
    if (!single && env && *env)
        seeds = strtoull(env, NULL, 10);
    if (single) {
        seeds = 1;
        first = seed;
    }
    if (seeds == 0) {
        usage(stderr);
        return 2;
    }
    /* the replicas' own log lines (refused snapshots, failed disks: all
     * expected here) only when asked for */
    cn_log_set_level(verbose ? CN_LOG_INFO : CN_LOG_OFF);
    double t0 = now_s();
    uint64_t failed = 0, ops = 0, elections = 0, crashes = 0, disks = 0, snaps = 0, refused = 0,
             events = 0, changes = 0, transfers = 0, attacks = 0, local = 0, local_retries = 0;
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t sd = first + k;
        uint32_t rep = replicas ? replicas : (sd % 2 ? 5 : 3);
        struct rsim_opts o;
        rsim_opts_default(&o, sd, rep, steps);
        if (verbose)
            o.trace = stdout;
        struct rsim_result r;
        bool ok = rsim_run(&o, &r);
        ops += r.ops_done;
        elections += r.elections;
        crashes += r.crashes;
        disks += r.disk_failures;
        snaps += r.snapshots;
        refused += r.snapshots_refused;
        changes += r.changes;
        transfers += r.transfers;
        attacks += r.lease_attacks;
        local += r.local_reads;
        local_retries += r.local_retries;
        events += r.steps;
        if (trace_hash)
            printf("trace-hash %016" PRIx64 "\n", r.trace_hash);
        if (!ok) {
            failed++;
            printf("FAIL seed %" PRIu64 " (replicas %u) at step %" PRIu64 ": %s\n"
                   "  replay: %s --seed %" PRIu64 " --replicas %u --steps %" PRIu64 " --verbose\n",
                   sd, rep, r.fail_step, r.error, argv[0], sd, rep, steps);
            fflush(stdout);
        } else if (single) {
            printf("ok seed %" PRIu64 " replicas %u: %" PRIu64 " events, %" PRIu64
                   " ms simulated, %" PRIu64 " ops, %" PRIu64 " slots, %" PRIu64
                   " leaderships, %" PRIu64 " crashes (%" PRIu64 " disk failures), %" PRIu64
                   " snapshots (+%" PRIu64 " damaged ones refused), %" PRIu64
                   " membership changes, %" PRIu64 " transfers, %" PRIu64 " lease attacks\n",
                   sd, rep, r.steps, r.sim_ms, r.ops_done, r.commits, r.elections, r.crashes,
                   r.disk_failures, r.snapshots, r.snapshots_refused, r.changes, r.transfers,
                   r.lease_attacks);
        }
    }
    if (!single)
        printf("%" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %" PRIu64 " failed; %" PRIu64
               " events, %" PRIu64 " client ops, %" PRIu64 " leaderships, %" PRIu64
               " crashes (%" PRIu64 " disk failures), %" PRIu64 " snapshots (+%" PRIu64
               " damaged ones refused), %" PRIu64 " membership changes, %" PRIu64
               " transfers, %" PRIu64 " lease attacks, %" PRIu64 " reads off the core (+%" PRIu64
               " confirmed too late); %.1f s\n",
               seeds, first, first + seeds - 1, failed, events, ops, elections, crashes, disks,
               snaps, refused, changes, transfers, attacks, local, local_retries, now_s() - t0);
    return failed ? 1 : 0;
}
