/* `cairn keys create OWNER [--admin] | list | delete KEY_ID`. */
#ifndef CAIRN_CLI_KEYS_H
#define CAIRN_CLI_KEYS_H

#include "cli_global.h"

/* The S3 access keys kept in the metadata service: create prints a new key
 * id and secret (the secret is shown only here), list prints every key with
 * its owner and creation time, delete removes one. Returns CLI_EXIT_OK,
 * CLI_EXIT_FAILED when the metadata service refused or could not be reached,
 * CLI_EXIT_USAGE for an unknown or incomplete sub-command. */
cli_command_fn cli_keys;

#endif
