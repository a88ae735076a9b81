/* cairn-sim: runs the deterministic Multi-Paxos simulation.
 *
 *   cairn-sim --seed S [--replicas R] [--steps N] [--trace] [--trace-hash]
 *       one seed; --trace prints every event; --trace-hash prints the hash of
 *       the event trace (equal for equal seeds)
 *   cairn-sim --seeds K [--first S] [--replicas R] [--steps N]
 *       K seeds from S; without --replicas, odd seeds use 5 replicas and even
 *       seeds 3. CAIRN_SIM_SEEDS in the environment overrides K.
 *
 * A failing seed prints the single command that replays it; exit status 1. */
#include "sim.h"

#include "cn_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cairn-sim --seed S [--replicas R] [--steps N] [--trace] [--trace-hash]\n"
               "       cairn-sim --seeds K [--first S] [--replicas R] [--steps N] [--quiet]\n");
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
    bool trace = false, trace_hash = false, single = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seed") && v) {
            seed = strtoull(v, NULL, 10);
            single = true;
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
        } else if (!strcmp(a, "--trace")) {
            trace = true;
        } else if (!strcmp(a, "--trace-hash")) {
            trace_hash = true;
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    const char *env = getenv("CAIRN_SIM_SEEDS");
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
    /* the core's own log lines (transfers) only with the trace */
    cn_log_set_level(trace ? CN_LOG_DEBUG : CN_LOG_WARN);
    double t0 = now_s();
    uint64_t failed = 0, ops = 0, elections = 0, crashes = 0, snaps = 0, events = 0, changes = 0,
             transfers = 0, attacks = 0;
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t sd = first + k;
        uint32_t rep = replicas ? replicas : (sd % 2 ? 5 : 3);
        struct sim_opts o;
        sim_opts_default(&o, sd, rep, steps);
        if (trace)
            o.trace = stdout;
        struct sim_result r;
        bool ok = sim_run(&o, &r);
        ops += r.ops_done;
        elections += r.elections;
        crashes += r.crashes;
        snaps += r.snapshots;
        changes += r.changes;
        transfers += r.transfers;
        attacks += r.lease_attacks;
        events += r.steps;
        if (trace_hash)
            printf("trace-hash %016" PRIx64 "\n", r.trace_hash);
        if (!ok) {
            failed++;
            printf("FAIL seed %" PRIu64 " (replicas %u) at step %" PRIu64 ": %s\n"
                   "  replay: %s --seed %" PRIu64 " --replicas %u --steps %" PRIu64 "\n",
                   sd, rep, r.fail_step, r.error, argv[0], sd, rep, steps);
            fflush(stdout);
        } else if (single && !quiet) {
            printf("ok seed %" PRIu64 " replicas %u: %" PRIu64 " events, %" PRIu64
                   " ms simulated, %" PRIu64 " ops, %" PRIu64 " slots, %" PRIu64
                   " leaderships, %" PRIu64 " crashes, %" PRIu64 " snapshots, %" PRIu64
                   " membership changes, %" PRIu64 " transfers, %" PRIu64 " lease attacks\n",
                   sd, rep, r.steps, r.sim_ms, r.ops_done, r.commits, r.elections, r.crashes,
                   r.snapshots, r.changes, r.transfers, r.lease_attacks);
        }
    }
    if (!single)
        printf("%" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %" PRIu64 " failed; %" PRIu64
               " events, %" PRIu64 " client ops, %" PRIu64 " leaderships, %" PRIu64
               " crashes, %" PRIu64 " snapshots, %" PRIu64 " membership changes, %" PRIu64
               " transfers, %" PRIu64 " lease attacks; %.1f s\n",
               seeds, first, first + seeds - 1, failed, events, ops, elections, crashes, snaps,
               changes, transfers, attacks, now_s() - t0);
    return failed ? 1 : 0;
}
