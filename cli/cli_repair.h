/* `cairn repair [GROUP] [--wait]` and
 * `cairn repair --bucket BUCKET [--key KEY] [--wait]`. */
#ifndef CAIRN_CLI_REPAIR_H
#define CAIRN_CLI_REPAIR_H

#include "cli_global.h"

/* Without --bucket: asks the leader to rescan for degraded groups now, or to
 * repair chunk group GROUP (32 hex digits) first.
 *
 * With --bucket: checks every chunk group of the bucket's objects (or of
 * object KEY): a fragment without a location, on a chunkserver that is not
 * up, or whose file its chunkserver does not have (HEAD: missing, or header /
 * CRC table damaged) makes the group damaged; missing and damaged files are
 * reported to the leader's repair queue and each damaged group is put first
 * (POST /v1/repair?group=).
 *
 * --wait then follows the repair queue (progress, rate, ETA) until every
 * known group is fully redundant. Returns CLI_EXIT_OK when every request was
 * accepted (and, with --wait, when fully redundant), CLI_EXIT_FAILED
 * otherwise, CLI_EXIT_USAGE for a bad command line. */
cli_command_fn cli_repair;

#endif
