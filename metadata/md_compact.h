/* md_compact: the metadata leader's compactor of packed groups (issue #17,
 * docs/metadata.md "Compaction").
 *
 * Deletes and overwrites leave dead bytes in sealed packed groups. Each pass
 * of this worker, while the replica leads:
 *
 *   - reads every packed group record ("SP") and totals the space they hold
 *     (md_compact_stats: groups, open ones, data and live bytes), and
 *   - picks the sealed groups whose fragments are all sealed, whose live
 *     fraction (live_bytes / data_length) is below `below` and whose dead
 *     bytes are at least min_dead, lowest fraction first, and compacts them
 *     one at a time (at most max_per_pass per pass):
 *       1. the group's live extents from the "SE" index (offset, record),
 *          each record's length; moves pack them, in offset order, into a
 *          new group of the same k, m, unit on the same chunkservers;
 *       2. each of the k + m chunkservers copies its own fragment's ranges
 *          into the new fragment (POST /v1/compact, in parallel: stripes are
 *          independent, so no decoding and nothing crosses the network),
 *          paced to rate_bytes_s shared among them;
 *       3. CompactGroup is committed: every record still naming a moved
 *          extent names the new group; the old group goes to the garbage list
 *          (after --garbage-grace, so GETs in flight still read it).
 *     A group whose moves would give back less than min_dead (its dead
 *     bytes are mostly its objects' padding to whole stripes, which a
 *     compaction keeps) waits retry_ms. A group with a fragment on a
 *     chunkserver that is down, retired or unknown is left for later
 *     (repair first). If a copy fails, the new
 *     fragments written are deleted (best effort; what a delete misses is an
 *     orphan, collected by the chunkservers' orphan scan) and the group is
 *     skipped for retry_ms; an old fragment the chunkserver finds damaged is
 *     reported to repair. When the commit is refused (the group went
 *     meanwhile) the new fragments are deleted; when its outcome is unknown
 *     (leadership lost) they are left: either the group is live or they are
 *     orphans.
 *
 * The worker keeps no state a new leader needs: the next pass finds the
 * same groups. One thread runs the passes; md_compact_now runs one from
 * another thread, serialised with them. */
#ifndef CAIRN_MD_COMPACT_H
#define CAIRN_MD_COMPACT_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct md_compact;

/* One new fragment to write from the old one (the copy callback's view). */
struct md_compact_copy {
    const char *address;   /* the chunkserver's "host:port" */
    uint32_t index;        /* fragment index: old and new */
    const uint64_t *range; /* n_ranges (offset, length) pairs, fragment bytes */
    size_t n_ranges;
    uint64_t rate; /* bytes/s this chunkserver keeps under (0: unpaced) */
};

struct md_compact_opts {
    struct md_store *store;     /* read by the passes (the replica's own) */
    const struct cn_auth *auth; /* signs the chunkserver requests (meta role) */
    double below;               /* live fraction under which a group is compacted: 0.5 */
    uint64_t min_dead;          /* dead bytes a group must have: 1 MiB */
    uint64_t rate_bytes_s;      /* fragment bytes written per second, all chunkservers
                                   together (0: unpaced): 32 MiB */
    int64_t scan_ms;            /* from the end of one pass to the next: 30000 */
    int64_t retry_ms;           /* a group whose compaction failed waits: 300000 */
    size_t max_per_pass;        /* groups compacted per pass: 16 */
    /* 1 while this replica leads */
    int (*is_leader)(void *ctx);
    /* commits cmd through Paxos and waits: 0 or the state machine's status */
    int (*commit)(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len);
    int64_t (*now_ms)(void *ctx);
    /* 1 if chunkserver id heartbeats (is up) */
    int (*cs_alive)(void *ctx, uint64_t id);
    /* optional: an old fragment its chunkserver found damaged */
    void (*report_damage)(void *ctx, const uint8_t group_id[16], uint32_t index, uint64_t cs);
    /* optional, for tests: instead of the HTTP requests, writes the new
     * fragments (n of them, results into rcs[]: 0, CAIRN_E_NOTFOUND,
     * CAIRN_E_CORRUPT (old fragment damaged) or another error) and deletes
     * them (del_fragment). */
    void (*copy_fragments)(void *ctx, const uint8_t new_id[16], const uint8_t old_id[16],
                           uint32_t k, uint32_t m, uint32_t unit, const struct md_compact_copy *c,
                           size_t n, int *rcs);
    void (*del_fragment)(void *ctx, const char *address, const uint8_t id[16], uint32_t index);
    void *ctx;
};

struct md_compact_stats {
    /* as of the last pass (the leader's view of the packed groups);
     * candidates: groups it found to compact, less those it has compacted */
    uint64_t packed_groups, open_groups, data_bytes, live_bytes, candidates;
    /* cumulative, this replica */
    uint64_t groups_compacted;
    uint64_t bytes_rewritten; /* fragment bytes the chunkservers wrote (k + m fragments) */
    uint64_t bytes_reclaimed; /* fragment bytes of old groups handed to garbage, less the new */
    uint64_t failures;        /* compactions abandoned (copy failed, commit refused) */
    uint64_t passes;
    int running;                /* a compaction is under way */
    uint8_t current[16];        /* its group, when running */
    uint64_t last_rate_bytes_s; /* the last compaction's fragment bytes per second */
};

void md_compact_opts_default(struct md_compact_opts *o);

/* Creates the worker without a thread. 0 with *out, CAIRN_E_INVAL (a
 * callback or the store missing, below outside (0, 1]) or CAIRN_E_NOMEM. */
int md_compact_new(const struct md_compact_opts *o, struct md_compact **out);

/* One pass now on the calling thread (serialised with the worker's), with
 * below overriding the threshold when > 0. *compacted (may be NULL): groups
 * compacted by it. 0 or the error that stopped it (CAIRN_E_NOTLEADER, ...). */
int md_compact_now(struct md_compact *w, double below, uint64_t *compacted);

/* Starts the thread: a pass every scan_ms while leading. 0 or CAIRN_E_IO. */
int md_compact_start(struct md_compact *w);

/* Stops the thread and waits for md_compact_now callers (each ends after
 * the group it is on), then frees w; NULL is fine. */
void md_compact_free(struct md_compact *w);

/* A snapshot of the counters (any thread). */
void md_compact_get_stats(struct md_compact *w, struct md_compact_stats *st);

#endif
