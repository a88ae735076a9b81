/* `cairn drain ID [--no-wait]`. */
#ifndef CAIRN_CLI_DRAIN_H
#define CAIRN_CLI_DRAIN_H

#include "cli_global.h"

/* Marks chunkserver ID (decimal, or 16 hex digits) DRAINING so repair moves
 * every fragment off it while it keeps serving, shows how many are left until
 * none is, then marks it RETIRED. Returns CLI_EXIT_OK when drained (with
 * --no-wait, when draining started), CLI_EXIT_FAILED when the metadata
 * service refused or could not be reached, CLI_EXIT_USAGE for a bad ID. */
cli_command_fn cli_drain;

#endif
