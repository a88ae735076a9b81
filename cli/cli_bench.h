/* `cairn bench meta`: committed small commands per second and p50/p99 latency
 * at several client counts against a running metadata group, and linearizable
 * reads per second, printed next to the latency of one 4 KiB write + fdatasync
 * on the chosen disk measured in the same run. A benchmark, not a test. */
#ifndef CAIRN_CLI_BENCH_H
#define CAIRN_CLI_BENCH_H

#include "cli_global.h"

/* argv[1] must be "meta" (the only benchmark yet), its options follow.
 * Returns CLI_EXIT_OK, CLI_EXIT_FAILED when the group could not be driven,
 * CLI_EXIT_USAGE for a bad command line. */
cli_command_fn cli_bench;

#endif
