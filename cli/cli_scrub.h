/* `cairn scrub [--deep] [--wait]`. */
#ifndef CAIRN_CLI_SCRUB_H
#define CAIRN_CLI_SCRUB_H

#include "cli_global.h"

/* Starts a scrub pass on every live chunkserver (CRCs, then the inventory
 * check); with --deep also re-encodes every chunk group's data here and
 * compares it with its parity, reporting a fragment that disagrees; with
 * --wait follows the passes to the end and reports checked / corrupt /
 * missing. Returns CLI_EXIT_OK, CLI_EXIT_FAILED when a chunkserver could not
 * start or finish its pass (or check its inventory) or the deep check could
 * not list every group, CLI_EXIT_USAGE for an unknown argument. */
cli_command_fn cli_scrub;

#endif
