/* md_sealer: the metadata leader's worker that finishes packed groups
 * (issue #17, docs/metadata.md "Packed groups").
 *
 * A gateway appends to its open packed groups and seals them when full; a
 * gateway that dies (or is restarted) leaves its groups open. Each pass of
 * this worker, while the replica leads:
 *
 *   (a) commits SealGroup at the committed length for every open group whose
 *       last CommitPacked (or OpenGroup) is older than idle_ms (its
 *       appended_ms, the writer's clock) and whose length this worker has seen
 *       unchanged for idle_ms (its own clock: a writer whose clock lags is
 *       not taken for gone; a new leader waits idle_ms before its first idle
 *       seal): its writer is gone, and whatever it appended past the
 *       committed length was never acknowledged. A writer that commits
 *       meanwhile makes the seal fail on the length (R_LENGTH_MISMATCH) and
 *       the group stays open.
 *   (b) for every sealed group whose fragments are not all sealed yet, asks
 *       each fragment's chunkserver to seal it (POST /v1/fragment/G/I?seal=
 *       data_length / k), skipping chunkservers that are retired, unknown or
 *       not heartbeating (repair rebuilds their fragments as ordinary sealed
 *       ones), then commits SealGroup{fragments_sealed}. A fragment the
 *       chunkserver does not have (404) is the inventory check's and repair's
 *       to rebuild; one it cannot seal (corrupt, another length) is reported
 *       as damage. A transient failure (timeout, 503) leaves the group for
 *       the next pass.
 *
 * At most max_per_pass groups are acted on per pass (every record is read
 * to follow the open ones' lengths). Beyond those lengths the worker keeps no
 * state between passes: a new leader finds the same groups in the store.
 * One thread; every callback is called from it. */
#ifndef CAIRN_MD_SEALER_H
#define CAIRN_MD_SEALER_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

struct cn_auth;

struct md_sealer_opts {
    struct md_store *store;     /* read by the passes (the replica's own) */
    const struct cn_auth *auth; /* signs the chunkserver requests (meta role) */
    int64_t idle_ms;            /* open groups idle this long are sealed: 60000 */
    int64_t scan_ms;            /* from the end of one pass to the next: 5000 */
    size_t max_per_pass;        /* groups acted on per pass: 64 */
    int64_t request_timeout_ms; /* one seal request: 30000 */
    /* 1 while this replica leads (a pass stops when it no longer does) */
    int (*is_leader)(void *ctx);
    /* commits cmd through Paxos and waits: 0 or the state machine's status */
    int (*commit)(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len);
    /* the wall clock in Unix ms (the time the commands carry and idleness
     * is measured in) */
    int64_t (*now_ms)(void *ctx);
    /* 1 if chunkserver id heartbeats (is up) */
    int (*cs_alive)(void *ctx, uint64_t id);
    /* optional: a fragment its chunkserver cannot seal (repair rebuilds it) */
    void (*report_damage)(void *ctx, const uint8_t group_id[16], uint32_t index, uint64_t cs);
    /* optional, for tests: seals fragment index of group_id on the
     * chunkserver at address to frag_len bytes instead of the HTTP request.
     * Returns 0 (sealed), CAIRN_E_NOTFOUND (no such fragment),
     * CAIRN_E_CORRUPT (it cannot be sealed at that length) or another error
     * (transient: try again later). */
    int (*seal_fragment)(void *ctx, const char *address, const uint8_t group_id[16], uint32_t index,
                         uint64_t frag_len);
    void *ctx;
};

struct md_sealer_stats {
    uint64_t idle_sealed;       /* open groups sealed: idle, or on a draining chunkserver */
    uint64_t groups_finished;   /* groups whose fragments were all sealed */
    uint64_t fragments_sealed;  /* fragments sealed on chunkservers */
    uint64_t fragments_skipped; /* on a chunkserver down, retired or unknown */
    uint64_t seal_failures;     /* requests that failed (retried or reported) */
    uint64_t passes;
};

struct md_sealer;

/* Fills the defaults above (callbacks NULL). */
void md_sealer_opts_default(struct md_sealer_opts *o);

/* Creates the worker without a thread (md_sealer_pass runs a pass in the
 * caller's). Returns 0 with *out, CAIRN_E_INVAL (a callback or the store
 * missing) or CAIRN_E_NOMEM. */
int md_sealer_new(const struct md_sealer_opts *o, struct md_sealer **out);

/* One pass now, in the calling thread (not while the thread runs). Returns
 * 0 or the error that stopped it (the store's, CAIRN_E_NOTLEADER, ...). */
int md_sealer_pass(struct md_sealer *w);

/* Starts the worker thread: a pass every scan_ms while leading. 0 or
 * CAIRN_E_IO. */
int md_sealer_start(struct md_sealer *w);

/* Stops the thread if running (at most one request later) and frees w;
 * NULL is fine. */
void md_sealer_free(struct md_sealer *w);

/* Cumulative counters (any thread). */
void md_sealer_get_stats(struct md_sealer *w, struct md_sealer_stats *st);

/* The chunkserver record of id in store: 1 with its address in addr[cap]
 * when fragments there can be acted on (known, not retired, and alive(ctx,
 * id) says it heartbeats), else 0. Shared by the leader's workers that talk
 * to chunkservers (the sealer, the compactor). */
int md_cs_usable(struct md_store *store, uint64_t id, int (*alive)(void *ctx, uint64_t id),
                 void *ctx, char *addr, size_t cap);

#endif
