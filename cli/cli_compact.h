/* `cairn compact [--below PERCENT]`: a packed-group compaction pass now. */
#ifndef CAIRN_CLI_COMPACT_H
#define CAIRN_CLI_COMPACT_H

#include "cli_global.h"

/* Asks the metadata leader for a compaction pass over the packed groups now
 * (POST /v1/packed/compact), with its --compact-below or, with --below, groups
 * less live than PERCENT (1..100), and prints how many groups it compacted
 * once the pass ends. Returns CLI_EXIT_OK, CLI_EXIT_FAILED (the leader could
 * not be asked, or the pass failed), CLI_EXIT_USAGE. */
cli_command_fn cli_compact;

#endif
