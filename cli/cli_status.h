/* `cairn status [--json]`. */
#ifndef CAIRN_CLI_STATUS_H
#define CAIRN_CLI_STATUS_H

#include "cli_global.h"

/* Prints every replica's view (role, leader, commit, applied, log base),
 * then, when a majority of replicas knows a leader, the leader's view of the
 * chunkservers and the repair queue; with --json (argv[1]) the same facts as
 * one JSON object, the chunkservers and repair queue even without a majority.
 * Returns CLI_EXIT_OK when a majority of replicas knows a leader,
 * CLI_EXIT_FAILED otherwise. Arguments after the first are ignored. */
cli_command_fn cli_status;

#endif
