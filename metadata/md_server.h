/* md_server: one cairn-meta replica — the single-threaded replica logic
 * (md_replica.h: Paxos core, state machine, Paxos log, snapshot install)
 * driven by the real network, clock and LevelDB.
 *
 * Threads (md_server.c):
 *   - the core thread owns the md_replica and every state-machine write; it
 *     drains an event queue (received messages, client commands, reads,
 *     installed snapshots, "persisted" notices) and ticks the replica;
 *   - the persist thread writes each round's Paxos records with one fsync
 *     (group commit) and posts "persisted" back to the core;
 *   - HTTP handler threads (md_handlers.c, over cn_http_server) decode
 *     requests into events and wait for their outcome with a timeout;
 *   - one sender thread per peer drains a bounded queue of encoded messages,
 *     several per POST; a full queue drops messages (Paxos tolerates loss);
 *   - a snapshot sender thread, started on demand;
 *   - the repair executor (md_repair.h): a scanner and a few workers that act
 *     only while this replica leads.
 *
 * HTTP API (every route HMAC-authenticated except /metrics):
 *   POST /paxos/msg       framed px.Msg messages from a peer       -> 204
 *   POST /paxos/snapshot  a state-machine snapshot stream (md_snap) -> 204
 *   POST /v1/cmd          packed md.Command; headers X-Cairn-Client, X-Cairn-Seq
 *                         -> 200 packed md.Result once applied, or 421 with
 *                         X-Cairn-Leader(-Url) when not the leader, 503 busy
 *   POST /v1/read         packed md.Query -> 200 packed md.QueryResult
 *                         (linearizable: read index), or 421 as above
 *   POST /v1/batch        leader only: packed md.Batch (several clients' commands
 *                         and queries) -> 200 packed md.BatchResult, one answer per
 *                         item (md_batch_serve.c; mdclient/md_batch.h)
 *   GET  /v1/place?count=N[&min=M][&exclude=ID,...]  leader only: N (or at least M)
 *                         chunkservers on distinct hosts for a
 *                         new chunk group, one "ID ADDRESS" line each
 *   POST /v1/heartbeat    leader only: cl.Heartbeat from a chunkserver (soft
 *                         liveness state) -> cl.HeartbeatReply
 *   POST /v1/repair[?group=HEX]  leader only: rescan now / repair one group first
 *   POST /v1/repair/damage?group=HEX&index=N&cs=ID  a fragment read or scrubbed bad
 *   GET  /v1/cluster      leader only: chunkservers (state, liveness, space) and
 *                         the repair queue, one line each
 *   GET  /v1/status       text: one "name value" per line (?hash adds the state hash)
 *   GET  /metrics         Prometheus text
 */
#ifndef CAIRN_MD_SERVER_H
#define CAIRN_MD_SERVER_H

#include <stdint.h>

#define MD_MAX_PEERS 16

struct cn_auth;
struct md_server;

struct md_server_config {
    uint32_t id;                     /* this replica's id (1..65535); 0: the one its store
                                        remembers, or the one join_url gives it */
    uint32_t n_peers;                /* bootstrap replicas, this one included (0 with join) */
    uint32_t peer_ids[MD_MAX_PEERS]; /* replica ids */
    char *peer_urls[MD_MAX_PEERS];   /* "http://127.0.0.1:7001" (borrowed) */
    const char *join_url;            /* a member of an existing group to join through
                                        (an empty store only; cairn meta add names it) */
    const char *self_url;            /* how the others reach this replica; NULL:
                                        http://bind_addr:port */
    const char *bind_addr;           /* listen address, e.g. "127.0.0.1" */
    uint16_t port;                   /* listen port */
    const char *data_dir;            /* holds the LevelDB store "db" */
    const struct cn_auth *auth;      /* meta role credentials, internal TLS included
                                        (borrowed) */
    size_t replay_entries;           /* request nonces remembered (0 = default) */
    uint64_t heartbeat_ms;           /* leader heartbeat interval */
    uint64_t election_ms;            /* election timeout base */
    uint64_t lease_ms;               /* leader lease for local linearizable reads
                                        (0 = off: a quorum round per read); at most
                                        paxos_lease_max(election_ms, drift bound) */
    int lease_reads_core_only;       /* lease reads through the core thread, not
                                        on the HTTP thread (md_readgate.h) */
    uint64_t trim_every;             /* trim the log after this many applied slots */
    uint64_t trim_keep;              /* slots kept in the log behind the applied one */
    uint64_t trim_bytes;             /* ... or after this many command bytes were applied */
    uint64_t plog_segment_bytes;     /* Paxos log segment file size (0 = the default) */
    uint64_t store_write_buffer;     /* LevelDB memtable bytes; 0 = LevelDB's default */
    uint64_t request_timeout_ms;     /* how long /v1/cmd and /v1/read wait */
    uint32_t window;                 /* Paxos pipeline window (slots in flight) */
    uint64_t suspect_after_ms;       /* a chunkserver silent this long is suspect:
                                        shown as late, not yet down (0 = 3000) */
    uint64_t down_after_ms;          /* a chunkserver silent this long gets no new
                                        fragments (0 = 30000) */
    uint64_t out_after_ms;           /* silent this long: its fragments are rebuilt
                                        elsewhere (0 = 600000) */
    uint32_t repair_concurrency;     /* rebuilds at once, cluster-wide (0 = 2) */
    double repair_bandwidth_mb_s;    /* repair budget, MB/s (0 = unlimited) */
    uint64_t repair_scan_ms;         /* pause between full repair scans (0 = 10000) */
    uint64_t lifecycle_day_ms;       /* a lifecycle "day" (0 = 86400000; shorter: tests) */
    uint64_t lifecycle_scan_ms;      /* pause between lifecycle passes (0 = 60000) */
    uint64_t packed_idle_ms;         /* an open packed group whose writer committed
                                        nothing for this long is sealed (0 = 60000) */
    uint32_t compact_below_pct;      /* packed groups less live than this % are
                                        compacted (0 = 50) */
    uint64_t compact_rate;           /* compaction's fragment bytes/s, all chunkservers
                                        together (0 = unpaced) */
    uint64_t compact_min_dead;       /* dead bytes a group needs to be compacted */
    uint64_t compact_scan_ms;        /* pause between compaction passes (0 = 30000) */
    uint64_t garbage_grace_ms;       /* garbage is handed to chunkservers this long after
                                        this replica applied the change that made it (a GET
                                        that began before it may still read it); groups no
                                        record ever named go at once. 0 = no grace */
};

/* Opens the store in cfg->data_dir (creating it on first start), recovers the
 * Paxos state and the state machine from it, and starts serving. A store that
 * cannot be opened or is damaged is refused: the replica does not vote, and the
 * reason is logged and returned (CAIRN_E_IO / CAIRN_E_CORRUPT). cfg is copied
 * (strings too). On success *out is owned by the caller. */
int md_server_start(const struct md_server_config *cfg, struct md_server **out);

/* Stops serving, waits for every thread, makes the store durable and closes
 * it. NULL is fine. */
void md_server_stop(struct md_server *srv);

/* The bound HTTP port. */
uint16_t md_server_port(const struct md_server *srv);

#endif
