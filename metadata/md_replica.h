/* md_replica: one metadata replica's logic, single-threaded and without
 * sockets, threads or clocks of its own — the Paxos core (paxos.h), the
 * state machine applied to the replica's store (md_sm.h), the Paxos log
 * (md_plog.h: segment files in cfg.plog_dir, else in that store), the
 * commands and reads waiting for an outcome, log trimming (the store synced
 * first: its writes are not synced one by one) and snapshot installation.
 *
 * The daemon (md_server.c) wraps it in threads and HTTP: it feeds events in
 * (messages, commands, reads, ticks, "persisted", snapshots) from one thread
 * and carries out what comes back through struct md_replica_io; a simulator
 * can drive it the same way with a simulated network and store.
 *
 * Durability: the records the core asks to persist collect in the replica
 * between calls; the driver takes them with md_replica_take_persist, writes
 * them with md_plog_write (one sync for the lot) and then reports
 * md_replica_persisted. Nothing that depends on them is sent before.
 *
 * Threads: not thread-safe; every md_replica_* call from one thread, and the
 * io callbacks run inside those calls (they must not call back in). The one
 * exception: md_plog_write on md_replica_plog(r) may run on another thread,
 * one at a time. */
#ifndef CAIRN_MD_REPLICA_H
#define CAIRN_MD_REPLICA_H

#include "md_plog.h"
#include "paxos.h"

#include <stddef.h>
#include <stdint.h>

struct md_store;
struct md_sm;
struct md_replica;

struct md_replica_config {
    uint32_t id;
    /* The bootstrap membership, used only while the store holds none (a new
     * group: every replica of n_peers votes; a joining replica: the
     * membership it was given, learners included). */
    uint32_t n_peers; /* voters, this one included unless it joins */
    uint32_t peer_ids[PAXOS_MAX_REPLICAS];
    uint32_t n_learners; /* joining: learners of the bootstrap membership */
    uint32_t learner_ids[PAXOS_MAX_REPLICAS];
    uint64_t heartbeat_ms; /* 0 = the core's default */
    uint64_t election_ms;  /* 0 = the core's default */
    /* Leader lease (paxos_config.lease_ms): reads on the leader need no quorum
     * round while it holds. 0 = off. At most paxos_lease_max(election_ms,
     * drift bound of the clock the driver passes as now_ms). */
    uint64_t lease_ms;
    uint32_t window;     /* 0 = the core's default */
    uint64_t trim_every; /* trim after this many applied slots (0 = never) */
    uint64_t trim_keep;  /* slots kept behind the applied one */
    uint64_t trim_bytes; /* also trim once this many command bytes were applied since the
                          * last trim (0 = by slots only): the log's values are held in
                          * memory until trimmed, so this bounds it for big commands */
    /* Where the Paxos log lives: a directory of segment files (md_plog_open_dir,
     * borrowed string), or NULL: in the store beside the state machine. */
    const char *plog_dir;
    uint64_t plog_segment_bytes; /* 0 = MD_PLOG_SEGMENT_BYTES */
};

struct md_replica_io {
    void *ctx;
    /* Send m to replica `to` (copy what you keep; best effort). */
    void (*send)(void *ctx, uint32_t to, const struct paxos_msg *m);
    /* The outcome of md_replica_submit(token): status 0 and the packed
     * md.Result (malloc'ed; ownership passes), or an error (CAIRN_E_NOTLEADER
     * with the leader hint, CAIRN_E_BUSY, ...) and no result. Exactly once per
     * submitted token, possibly inside md_replica_submit itself. */
    void (*cmd_done)(void *ctx, void *token, int status, uint32_t leader, uint8_t *result,
                     size_t len);
    /* md_replica_read(token) may now be served from the store (status 0), or
     * failed (CAIRN_E_NOTLEADER + hint). Exactly once per token. */
    void (*read_done)(void *ctx, void *token, int status, uint32_t leader);
    /* Replica `to` is behind the trim point: send it a snapshot of this store
     * (md_snap_write) by whatever transport. */
    void (*send_snapshot)(void *ctx, uint32_t to);
    /* A store operation failed (what names it): the replica's durable state can
     * no longer be trusted; the driver must stop it (the daemon exits). */
    void (*fatal)(void *ctx, int err, const char *what);
    /* 64 random bits (election jitter). */
    uint64_t (*random)(void *ctx);
    /* The applied membership changed to m (stored already). May be NULL. */
    void (*membership_changed)(void *ctx, const struct paxos_membership *m);
    /* The core is about to give up its lease (paxos_io.lease_lost): reads
     * served on md_replica_lease_read_until must stop before this returns.
     * May be NULL. */
    void (*lease_lost)(void *ctx);
};

/* Counters, for metrics. */
struct md_replica_counters {
    uint64_t slots_applied, commands_applied, snapshots_installed;
    uint64_t snapshots_refused; /* bad or truncated streams, state kept */
};

/* Opens the state machine in store (which the caller keeps open and frees
 * after md_replica_free), reads the Paxos log back and starts the core at
 * now_ms. io is copied. Returns 0, or CAIRN_E_CORRUPT / CAIRN_E_IO (a damaged
 * state machine or log: the replica must not vote) / CAIRN_E_NOMEM /
 * CAIRN_E_INVAL. *what receives a short description of what failed. */
int md_replica_open(const struct md_replica_config *cfg, struct md_store *store,
                    const struct md_replica_io *io, uint64_t now_ms, struct md_replica **out,
                    const char **what);
/* Every waiting command and read completes with CAIRN_E_SHUTDOWN; then frees
 * everything but the store. NULL is fine. */
void md_replica_free(struct md_replica *r);

/* A message from a peer (m is only read). */
void md_replica_recv(struct md_replica *r, const struct paxos_msg *m, uint64_t now_ms);
/* A client command (data copied); its outcome reaches io->cmd_done(token). */
void md_replica_submit(struct md_replica *r, uint64_t client_id, uint64_t seq, const void *data,
                       size_t len, void *token, uint64_t now_ms);
/* A linearizable read; io->read_done(token) says when it may be served. */
void md_replica_read(struct md_replica *r, void *token, uint64_t now_ms);
/* paxos_lease_read_until: before this time (the now_ms clock), a read may be
 * served from the store without md_replica_read, as long as the driver stops
 * at io->lease_lost and takes this value afresh after every call in. */
uint64_t md_replica_lease_read_until(const struct md_replica *r);
/* Advances the core's timers. */
void md_replica_tick(struct md_replica *r, uint64_t now_ms);
/* Every persist record up to seq is durable. */
void md_replica_persisted(struct md_replica *r, uint64_t seq, uint64_t now_ms);

/* The end of one round of events: trims the log when due (syncing the store
 * first) and, if this replica just lost the leadership, fails every waiting
 * command with CAIRN_E_NOTLEADER. *st receives the core's status. */
void md_replica_end_round(struct md_replica *r, struct paxos_status *st);

/* Moves every record waiting to be persisted into *into (appended). Returns
 * the number moved. */
size_t md_replica_take_persist(struct md_replica *r, struct md_plog_batch *into);
/* The log the records are written to (md_plog_write). */
struct md_plog *md_replica_plog(struct md_replica *r);

/* Whether a snapshot through `slot` from a peer would be installed now. */
int md_replica_snapshot_wanted(struct md_replica *r, uint64_t slot);
/* Installs a snapshot read with read_fn (returns bytes read, 0 at the end,
 * or a negative CAIRN_E_*), sent by replica `from` for `slot`. All or
 * nothing (md_snap.h): the stream is verified whole before the state is
 * touched. Returns 0; CAIRN_E_EXISTS (not wanted any more); CAIRN_E_CORRUPT
 * (a bad or truncated stream, or one of another slot) or read_fn's error,
 * and then the replica is exactly as it was; or a store error, and then
 * io->fatal has been called (an interrupted swap is finished by the next
 * md_replica_open). */
int md_replica_install_snapshot(struct md_replica *r, uint32_t from,
                                long (*read_fn)(void *ctx, void *buf, size_t max), void *ctx,
                                uint64_t slot, uint64_t now_ms);

/* Leader: proposes a membership change (paxos_change: PAXOS_ADD_LEARNER,
 * PAXOS_PROMOTE, PAXOS_REMOVE). Learners are promoted by the leader on its
 * own once caught up (md_replica_end_round), so adding is one call. Returns
 * paxos_change's result (*leader = hint). */
int md_replica_change(struct md_replica *r, uint32_t op, uint32_t id, uint64_t now_ms,
                      uint32_t *leader);
/* Leader: hands leadership over (paxos_transfer; *chosen = the successor). */
int md_replica_transfer(struct md_replica *r, uint32_t to, uint64_t now_ms, uint32_t *chosen);
/* The applied membership, or with latest the one the leader's log ends with. */
void md_replica_membership(const struct md_replica *r, int latest, struct paxos_membership *out);
/* paxos_peer_info. */
int md_replica_peer_info(const struct md_replica *r, uint32_t id, struct paxos_peer_info *out);

void md_replica_counters(const struct md_replica *r, struct md_replica_counters *out);
struct md_sm *md_replica_sm(struct md_replica *r);

#endif
