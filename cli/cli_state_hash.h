/* `cairn state-hash`. */
#ifndef CAIRN_CLI_STATE_HASH_H
#define CAIRN_CLI_STATE_HASH_H

#include "cli_global.h"

/* Prints "applied N hash HEX" of the first replica (GET /v1/status?hash=1):
 * two replicas with the same slot and hash hold identical state. Returns
 * CLI_EXIT_OK, or CLI_EXIT_FAILED when the replica cannot be reached or has
 * no hash to give. */
cli_command_fn cli_state_hash;

#endif
