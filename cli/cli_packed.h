/* `cairn packed`: the packed chunk groups (issue #17) and their space. */
#ifndef CAIRN_CLI_PACKED_H
#define CAIRN_CLI_PACKED_H

#include "cli_global.h"

#include <stdint.h>

/* What every packed group adds up to. */
struct cli_packed_totals {
    uint64_t open, sealed, unsealed_fragments; /* groups; sealed ones not yet on disk */
    uint64_t data_bytes, live_bytes, live_objects;
};

/* Pages through every packed group into t. Returns 0 or an error. */
int cli_packed_totals_get(struct cli_global *g, struct cli_packed_totals *t);

/* Lists each packed group: id, state, geometry, committed length, live and
 * dead bytes, live objects, writer and age (--open: open ones only; --json
 * for scripts), then the totals. CLI_EXIT_OK, CLI_EXIT_FAILED or
 * CLI_EXIT_USAGE. */
cli_command_fn cli_packed;

#endif
