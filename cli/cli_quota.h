/* cairn quota: byte and object limits of a user or a bucket, and usage. */
#ifndef CAIRN_CLI_QUOTA_H
#define CAIRN_CLI_QUOTA_H

#include "cli_global.h"

cli_command_fn cli_quota;

#endif
