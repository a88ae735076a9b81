/* cairn meta: the metadata group's members (status, add, remove, replace)
 * and its leadership (transfer). */
#ifndef CAIRN_CLI_REPLICAS_H
#define CAIRN_CLI_REPLICAS_H

#include "cli_global.h"

cli_command_fn cli_meta_group;

#endif
