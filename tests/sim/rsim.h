/* Deterministic simulator for the metadata replica (metadata/md_replica.h):
 * 3-5 replicas, each the daemon's replica object — the Paxos core, the real
 * state machine (md_sm), the Paxos log in the store (md_plog), snapshot
 * send and all-or-nothing install (md_snap) — on in-memory stores, driven
 * through struct md_replica_io the way metadata/md_server.c's core, persist
 * and snapshot threads drive it, but from one thread and a simulated clock.
 *
 * Faults: message loss, duplication, delay and reordering; partitions;
 * stalled processes; crashes that lose what was not synced (any prefix of
 * the writes since the last sync survives); disks that die (the replica
 * stops, as the daemon exits); damaged and truncated snapshots; membership
 * changes through md_replica_change / md_replica_transfer (add a learner,
 * which the leader promotes, remove, replace, remove the leader).
 *
 * Clients put (plain, If-None-Match, If-Match), delete (plain, If-Match),
 * get and list prefixes in one bucket through real state-machine commands
 * (mdclient/md_cmd.h) and linearizable reads (md_replica_read + md_query).
 * Checked: one leader per ballot; per replica incarnation the applied slot
 * never goes back and core and state machine agree; equal state hashes for
 * equal applied slots on every replica, across crashes and snapshots; a
 * refused snapshot changes nothing, a good one is never refused; at the end,
 * all members hold the same state hash, md_sm_check passes, and the client
 * history (with a final listing) is linearizable. Everything derives from
 * the seed. */
#ifndef CAIRN_RSIM_H
#define CAIRN_RSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct rsim_opts {
    uint64_t seed;
    uint32_t replicas; /* initial voters: 3 or 5 */
    uint64_t steps;    /* events in the fault phase; a heal phase follows */
    FILE *trace;       /* if set, one line per event */
};

struct rsim_result {
    bool ok;
    char error[512];
    uint64_t fail_step;
    uint64_t steps;      /* events processed */
    uint64_t trace_hash; /* FNV-1a over every event: equal seeds give equal hashes */
    uint64_t sim_ms;
    uint64_t ops_done; /* client operations completed */
    uint64_t commits;  /* highest applied slot */
    uint64_t elections;
    uint64_t crashes;
    uint64_t disk_failures;
    uint64_t snapshots;         /* installed */
    uint64_t snapshots_refused; /* damaged ones, refused as they must be */
    uint64_t changes;           /* membership changes committed by the operator */
    uint64_t transfers;
    uint64_t lease_attacks; /* worst-case clock + partition events aimed at a lease */
    uint64_t local_reads;   /* reads answered off the core under the lease (md_readgate) */
    uint64_t local_retries; /* of those, confirmed too late: done through the core */
};

void rsim_opts_default(struct rsim_opts *o, uint64_t seed, uint32_t replicas, uint64_t steps);
/* Runs one simulation; returns r->ok. */
bool rsim_run(const struct rsim_opts *o, struct rsim_result *r);

#endif
