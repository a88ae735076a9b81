/* Options every `cairn` command shares, and the commands that only read. */
#ifndef CAIRN_CLI_COMMON_H
#define CAIRN_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct md_client;

struct cli_global {
    char *replicas[16]; /* metadata replica base URLs (owned) */
    size_t n_replicas;
    struct cn_auth *auth;
};

/* Parses the global options of argv (up to the command word, whose index goes
 * to *next). Returns 0, CN_CONFIG_HELP after printing help, or an error (a
 * message was printed). */
int cli_global_load(struct cli_global *g, int argc, char **argv, int *next);
void cli_global_release(struct cli_global *g);

/* A metadata client for g's replicas (free with md_client_free), or NULL. */
struct md_client *cli_meta_client(struct cli_global *g, int64_t timeout_ms);

/* `cairn status [--json]`: every replica's view, then the leader's view of
 * the chunkservers and the repair queue. Returns 0 when a leader is known to
 * a majority, 1 otherwise. */
int cli_status(struct cli_global *g, int json);

/* `cairn state-hash`: prints "applied N hash HEX" of the first replica.
 * Returns 0, or 1 when it cannot be reached. */
int cli_state_hash(struct cli_global *g);

/* `cairn repair [GROUP_HEX] [--wait]`: asks the leader to rescan for degraded
 * groups now, or to repair one chunk group first; with wait, follows the
 * repair queue (progress, rate, ETA) until every known group is redundant.
 * Returns 0 when accepted (and, with wait, when fully redundant). */
int cli_repair(struct cli_global *g, const char *group_hex, int wait);

/* `cairn drain ID [--no-wait]`: marks chunkserver ID (decimal or 16 hex
 * digits) DRAINING so repair moves every fragment off it while it keeps
 * serving, shows progress until none is left, then marks it RETIRED.
 * Returns 0 when drained (or, with --no-wait, when draining started). */
int cli_drain(struct cli_global *g, int argc, char **argv);

/* `cairn locate BUCKET KEY`: the object's chunk groups and where each
 * fragment lives. */
int cli_locate(struct cli_global *g, const char *bucket, const char *key);

/* `cairn keys create OWNER [--admin] | list | delete KEY_ID`. */
int cli_keys(struct cli_global *g, int argc, char **argv);

/* `cairn scrub [--wait]`: starts a scrub pass on every live chunkserver;
 * with --wait follows them to the end and reports what they found. */
int cli_scrub(struct cli_global *g, int argc, char **argv);

#endif
