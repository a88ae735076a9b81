/* cli_format: how `cairn` commands write sizes and progress on a line. */
#ifndef CAIRN_CLI_FORMAT_H
#define CAIRN_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* bytes as "12.3 MiB" (whole bytes as "512 B") into out (len bytes). */
void cli_human(uint64_t bytes, char *out, size_t len);

/* "[#######.............]  35% " (done of total; 100% when total is 0) into
 * out (len bytes), for a terminal line redrawn with '\r'. */
void cli_progress_bar(char *out, size_t len, unsigned long long done, unsigned long long total);

/* s as a JSON string (quoted, escaped) on stdout. */
void cli_json_str(const char *s);

/* Milliseconds since the epoch as "2026-12-05T23:06:02Z" into out. */
void cli_utc(int64_t ms, char *out, size_t len);

#endif
