/* md_live: what the leader has heard from chunkservers — soft state fed by
 * heartbeats (DESIGN.md: liveness and load are not replicated; a new leader
 * rebuilds them from heartbeats). Thread-safe: heartbeat handlers write it,
 * placement, the cluster view and the repair planner read it. */
#ifndef CAIRN_MD_LIVE_H
#define CAIRN_MD_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct md_live;

struct md_live_entry {
    uint64_t id;
    uint64_t capacity, free; /* bytes, as last reported */
    int64_t last_seen_ms;    /* monotonic ms of the last heartbeat */
};

/* A table for up to max chunkservers (more are not tracked: they read as
 * never heard from). 0 or CAIRN_E_NOMEM. */
int md_live_new(size_t max, struct md_live **out);
void md_live_free(struct md_live *l);

/* A heartbeat from id arrived at now_ms. */
void md_live_heard(struct md_live *l, uint64_t id, uint64_t capacity, uint64_t free,
                   int64_t now_ms);
/* Forgets everything: heartbeats from an earlier term must not read as
 * silence (or life) now. Called when this replica becomes leader. */
void md_live_reset(struct md_live *l);
/* Fills *out for id: 0, or CAIRN_E_NOTFOUND (not heard from since the last
 * reset). */
int md_live_get(struct md_live *l, uint64_t id, struct md_live_entry *out);

#endif
