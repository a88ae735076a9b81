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

/* `cairn repair --bucket B [--key K] [--wait]`: checks every chunk group of
 * the bucket's objects (or of one object): a fragment without a location or
 * on a chunkserver that is not up, or whose file its chunkserver does not
 * have (HEAD: missing, or header / CRC table damaged) makes the group
 * damaged; missing and damaged files are reported to the leader's repair
 * queue and each damaged group is put first (POST /v1/repair?group=). With
 * wait, follows repair as cli_repair does. Returns 0 when every request was
 * accepted (and, with wait, when fully redundant), 1 otherwise. */
int cli_repair_objects(struct cli_global *g, const char *bucket, const char *key, int wait);

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

/* `cairn scrub [--deep] [--wait]` (cli_scrub.c): starts a scrub pass on
 * every live chunkserver (CRCs, then the inventory check); with --deep also
 * re-encodes every chunk group's data here and compares it with its parity,
 * reporting a fragment that disagrees; with --wait follows the passes to the
 * end and reports checked / corrupt / missing. */
int cli_scrub(struct cli_global *g, int argc, char **argv);

/* ---- helpers shared by the commands ---- */

/* One chunkserver as the leader sees it (GET /v1/cluster). */
struct cli_node {
    uint64_t id;
    char address[130];
    char state[16]; /* active, draining, retired */
    char live[16];  /* up, down, out, unknown */
};

/* The leader's chunkserver table: *out (free()) with *n entries. Returns 0 or
 * an error. */
int cli_cluster_nodes(struct cli_global *g, struct cli_node **out, size_t *n);
/* The entry for id, or NULL. */
const struct cli_node *cli_node_find(const struct cli_node *nodes, size_t n, uint64_t id);
/* 1 when nd is not NULL, up and not retired. */
int cli_node_up(const struct cli_node *nd);
/* The number in a "name value" line of a text body (0 when absent). */
unsigned long long cli_field_u64(const char *body, const char *name);
/* "[#######.............]  35% " (done of total) for a terminal line. */
void cli_progress_bar(char *out, size_t len, unsigned long long done, unsigned long long total);
/* bytes as "12.3 MiB". */
void cli_human(uint64_t bytes, char *out, size_t len);
/* Reports fragment index of group on chunkserver cs damaged to the leader's
 * repair queue (POST /v1/repair/damage). Returns 0 or an error. */
int cli_report_damage(struct md_client *c, const uint8_t group[16], uint32_t index, uint64_t cs);

#endif
