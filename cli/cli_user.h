/* cairn user: the accounts that own buckets and access keys. */
#ifndef CAIRN_CLI_USER_H
#define CAIRN_CLI_USER_H

#include "cli_global.h"

cli_command_fn cli_user;

#endif
