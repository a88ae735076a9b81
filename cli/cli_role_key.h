/* cli_role_key: `cairn role-key ROLE`, a role's key file from the cluster
 * secret (docs/security.md "Internal requests"). */
#ifndef CAIRN_CLI_ROLE_KEY_H
#define CAIRN_CLI_ROLE_KEY_H

#include "cli_global.h"

/* Prints the key file of ROLE (meta, chunk, gateway, admin) for the cluster
 * secret of g on stdout: the keys of the links that role signs or receives
 * on, nothing else. Needs the secret itself (not a key file). */
int cli_role_key(struct cli_global *g, int argc, char **argv);

#endif
