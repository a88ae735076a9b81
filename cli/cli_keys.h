/* `cairn keys create USER [--admin] [--json] | list [--user U] [--json] |
 * delete KEY_ID | disable KEY_ID | enable KEY_ID`. */
#ifndef CAIRN_CLI_KEYS_H
#define CAIRN_CLI_KEYS_H

#include "cli_global.h"

/* The S3 access keys kept in the metadata service, each owned by a user:
 * create prints a new key id and secret (the secret is shown only here) and
 * makes the user if needed, list prints every key (or one user's) with its
 * owner, creation time and flags, delete removes one, disable/enable refuse
 * or accept it again. Returns CLI_EXIT_OK,
 * CLI_EXIT_FAILED when the metadata service refused or could not be reached,
 * CLI_EXIT_USAGE for an unknown or incomplete sub-command. */
cli_command_fn cli_keys;

#endif
