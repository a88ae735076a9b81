/* Deterministic simulator for the Multi-Paxos core (metadata/paxos.h): N
 * replicas over a simulated network (drop, duplicate, delay, reorder, full and
 * asymmetric partitions) and simulated disks (unsynced writes are lost on a
 * crash), crashes and restarts, clients doing put/get/cas with retries across
 * failover, leadership transfers. Invariants are checked after every step; client histories are
 * checked for linearizability at the end. Everything derives from the seed. */
#ifndef CAIRN_SIM_H
#define CAIRN_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sim_opts {
    uint64_t seed;
    uint32_t replicas; /* 3 or 5 (1..7 work) */
    uint64_t steps;    /* events in the fault phase; a heal phase follows */
    uint32_t clients;  /* 0: 2..5, drawn from the seed */
    uint32_t keys;     /* 0: 1..3, drawn from the seed */
    FILE *trace;       /* if set, one line per event */
};

struct sim_result {
    bool ok;
    char error[512];
    uint64_t fail_step;
    uint64_t steps;      /* events processed */
    uint64_t trace_hash; /* FNV-1a over every event: equal seeds give equal hashes */
    uint64_t sim_ms;     /* simulated time */
    uint64_t ops_done;   /* client operations completed */
    uint64_t commits;    /* highest applied slot */
    uint64_t elections;  /* distinct leader ballots */
    uint64_t crashes;
    uint64_t snapshots;     /* snapshots installed */
    uint64_t changes;       /* membership changes proposed */
    uint64_t transfers;     /* leadership transfers started */
    uint64_t lease_attacks; /* worst-case clock + partition events aimed at a lease */
};

void sim_opts_default(struct sim_opts *o, uint64_t seed, uint32_t replicas, uint64_t steps);
/* Runs one simulation; returns r->ok. */
bool sim_run(const struct sim_opts *o, struct sim_result *r);

#endif
