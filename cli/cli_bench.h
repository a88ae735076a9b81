/* `cairn bench meta`: committed small commands per second and p50/p99 latency
 * at several client counts against a running metadata group, and linearizable
 * reads per second, printed next to the latency of one 4 KiB write + fdatasync
 * on the chosen disk measured in the same run. A benchmark, not a test. */
#ifndef CAIRN_CLI_BENCH_H
#define CAIRN_CLI_BENCH_H

struct cli_global;

/* argv[0] is "meta". Returns 0, or 1 when the group could not be driven. */
int cli_bench_meta(struct cli_global *g, int argc, char **argv);

#endif
