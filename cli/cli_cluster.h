/* cli_cluster: the metadata leader's view of the cluster, as `cairn`
 * commands read it: GET /v1/cluster (md_client_cluster) gives one
 * "chunkserver ..." line per chunkserver and one "repair ..." line with the
 * repair queue's counters (docs/operations.md); this module fetches and
 * parses them into a table. */
#ifndef CAIRN_CLI_CLUSTER_H
#define CAIRN_CLI_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct cli_global;

/* One chunkserver as the leader sees it. */
struct cli_node {
    uint64_t id;
    char address[130];      /* "host:port" */
    char url[140];          /* "http://" + address, a base URL for cn_http */
    char state[16];         /* active, draining, retired */
    char live[16];          /* up, suspect, down, out, unknown */
    long long heartbeat_ms; /* since its last heartbeat; -1: none seen by this leader */
    unsigned long long free, capacity;
    char host[64], rack[64], zone[64]; /* "-" when not set */
};

/* The repair queue's counters (md_repair_stats on the leader). */
struct cli_repair_stats {
    unsigned long long degraded, queued, in_flight, done, failed, bytes, unrecoverable;
};

struct cli_cluster {
    struct cli_node *nodes; /* malloc'ed, in the leader's order */
    size_t n_nodes;
    struct cli_repair_stats repair;
    int has_repair; /* 1 when the body held a repair line */
    /* packed groups (issue #17) as of the compactor's last pass, and what it
     * did: has_packed when the body held its lines */
    int has_packed;
    unsigned long long packed_groups, packed_open, packed_data, packed_live;
    unsigned long long compact_candidates, compact_groups, compact_rewritten, compact_reclaimed,
        compact_failures, compact_rate;
    char compact_running[33]; /* the group being compacted, or "-" */
    /* The leader's thresholds (ms; 0 when it did not say): heartbeats this
     * late make a chunkserver suspect, then down, then out. */
    long long suspect_after_ms, down_after_ms, out_after_ms;
};

/* Parses a GET /v1/cluster body (NUL-terminated; split in place) into *out;
 * lines of another shape are skipped. Returns 0 or CAIRN_E_NOMEM (then *out
 * is empty). Release *out with cli_cluster_release either way. */
int cli_cluster_parse(char *body, struct cli_cluster *out);

/* Asks the leader (through g's replicas, 5 s) and parses its answer into
 * *out. Returns 0, md_client_cluster's error or CAIRN_E_NOMEM. Release *out
 * with cli_cluster_release either way. */
int cli_cluster_get(struct cli_global *g, struct cli_cluster *out);

void cli_cluster_release(struct cli_cluster *cl);

/* The entry for id in nodes[0..n-1], or NULL. */
const struct cli_node *cli_node_find(const struct cli_node *nodes, size_t n, uint64_t id);

/* 1 when nd is not NULL, up (or only suspect: late heartbeats) and not
 * retired: a chunkserver to send work to. */
int cli_node_up(const struct cli_node *nd);

/* 1 when the leader cannot vouch for nd now: suspect (heartbeats late) or
 * unknown (a new leader has not heard from it yet). Nobody may call the data
 * fully redundant while a chunkserver is. */
int cli_node_late(const struct cli_node *nd);

/* What happens next to a chunkserver that is not up, in words, into buf:
 * "no heartbeat for 5 s: down in 25 s, out in 595 s ...", "silent 40 s: out in
 * 560 s (then its fragments are rebuilt elsewhere)", ... "" for an up one. */
void cli_node_outlook(const struct cli_cluster *cl, const struct cli_node *nd, char *buf,
                      size_t len);

/* How many chunkservers are late (cli_node_late) and down. */
void cli_cluster_counts(const struct cli_cluster *cl, unsigned *late, unsigned *down);

#endif
