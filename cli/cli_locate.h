/* `cairn locate BUCKET KEY`. */
#ifndef CAIRN_CLI_LOCATE_H
#define CAIRN_CLI_LOCATE_H

#include "cli_global.h"

/* Prints the object's size and ETag, then its chunk groups and, for each
 * fragment, the chunkserver holding it (id, address, and whether it is
 * draining or retired) or MISSING. Returns CLI_EXIT_OK, CLI_EXIT_FAILED when
 * the object cannot be read, CLI_EXIT_USAGE without BUCKET and KEY. */
cli_command_fn cli_locate;

#endif
