/* `cairn load`: the bulk loader (issue #16). Loads N synthetic inline
 * objects into one bucket or spread over B buckets through the metadata
 * group's LoadObjects command (up to 1000 objects a Paxos slot, several
 * commands in flight), printing progress and rate. For benchmarks at
 * millions of objects (scripts/bench-scale.sh) and tests; the objects are
 * real (GET returns their bytes) but never touch a chunkserver. */
#ifndef CAIRN_CLI_LOAD_H
#define CAIRN_CLI_LOAD_H

#include "cli_global.h"

#include <stddef.h>
#include <stdint.h>

/* Returns CLI_EXIT_OK when every object was loaded, CLI_EXIT_FAILED when a
 * command failed (its error printed), CLI_EXIT_USAGE for a bad command line. */
cli_command_fn cli_load;

/* The synthetic object with index i: its key (written to key, at most
 * CLI_LOAD_KEY_CAP bytes with the NUL) and bytes (data, cli_load_size(i) of
 * them, 1..100). Key: two hex digits of a hash of i, '/', i in 10 digits
 * ("3a/0000000042"), so a listing with delimiter '/' has 256 prefixes at any
 * size >= a few thousand. Byte j: 'a' + (i + j) % 26. The object goes to
 * bucket i % B. */
#define CLI_LOAD_KEY_CAP 32
size_t cli_load_size(uint64_t i);
void cli_load_key(uint64_t i, char key[CLI_LOAD_KEY_CAP]);
void cli_load_data(uint64_t i, uint8_t *data);

#endif
