/* gw_pack: the gateway's packer (issue #17, docs/architecture.md "Packed
 * groups"). Objects above the inline limit and up to --pack-max bytes are
 * not given a chunk group each: they are appended, stripe-aligned, into a
 * long-lived open erasure-coded group ("packed group"), many objects per
 * batch.
 *
 * Per scheme (k, m, storage class) a stream of --pack-lanes lanes; each lane
 * owns one open group and one lane thread. A request hands its whole body to
 * gw_pack_put and waits; a lane takes the queued objects (for at most
 * --pack-wait after the first, or until --pack-batch bytes), pads each to
 * whole stripes, encodes the batch with ISA-L in one pass (fragment-major:
 * the code is bytewise), appends one body per fragment to all k+m
 * chunkservers in parallel (durable only when ALL k+m acknowledged), then
 * commits ONE CommitPacked naming every object, and wakes each request with
 * the state machine's decision for its object. While one lane appends, the
 * next collects the following batch.
 *
 * Failures: an append that fails or times out seals the group at its
 * committed length (SealGroup; the metadata leader seals the fragments) and
 * the batch is retried in a new group (bounded); a CommitPacked refused
 * because the leader sealed the group under the lane (R_GROUP_NOT_OPEN,
 * R_LENGTH_MISMATCH) is retried in a new group too. When no group can be
 * had (fewer than k+m live chunkservers), gw_pack_put says CAIRN_E_UNAVAIL
 * and the caller stores the object the ordinary way. A lane seals its group
 * when full (--pack-group-fragment per fragment) or idle for --pack-idle.
 *
 * Threads: gw_pack_put from any request thread; everything else is the
 * lanes'. Memory: each lane holds (k+m)/k x --pack-batch bytes of fragment
 * buffers, forced onto the data-path budget while it exists; request bodies
 * are the caller's (already taken from the budget). */
#ifndef CAIRN_GW_PACK_H
#define CAIRN_GW_PACK_H

#include "md_cmd.h"
#include "md_cmd_ver.h"

#include <stddef.h>
#include <stdint.h>

struct gw_ctx;
struct gw_pack;

struct gw_pack_opts {
    uint64_t max;            /* objects up to this many bytes are packed; 0 = off */
    uint32_t unit;           /* stripe unit of packed groups (divides 64 KiB, >= 512) */
    int64_t wait_us;         /* a batch waits at most this long for more objects */
    uint64_t batch_max;      /* data bytes of one batch (>= max; <= 16 MiB x k per append) */
    int64_t idle_ms;         /* an open group without appends this long is sealed */
    uint64_t group_fragment; /* max fragment bytes of one packed group */
    uint32_t lanes;          /* open groups (and lane threads) per scheme; 1..8 */
    int64_t timeout_ms;      /* chunkserver append timeout; 0 = the data path's */
    const char *writer;      /* this gateway's name in the group records (copied) */
};

/* Creates the packer over data (borrowed; must outlive it). Lanes start on
 * first use of their scheme. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int gw_pack_new(struct gw_ctx *data, const struct gw_pack_opts *opts, struct gw_pack **out);
/* Stops the lanes (after the batches in flight), seals their open groups
 * (best effort: the leader seals what it cannot) and frees. No gw_pack_put
 * may be running. NULL is fine. */
void gw_pack_free(struct gw_pack *p);

/* 1 if an object of size bytes (a known length) goes to the packer. */
int gw_pack_accepts(const struct gw_pack *p, uint64_t size);

/* One object handed to gw_pack_put; everything borrowed until it returns. */
struct gw_pack_obj {
    struct md_packed_desc desc; /* bucket, key, obj (size, etag, attrs, owner, lock),
                                   cond, if_match; group_offset is the packer's */
    const void *data;           /* desc.obj.size bytes */
    uint32_t k, m;              /* the scheme */
    const char *storage_class;  /* "" or NULL: the default */
};

/* The state machine's decision for one packed object. */
struct gw_pack_result {
    int status; /* 0 (stored) or a refusal's CAIRN_E_* */
    int reason; /* its Md__Reason */
    char version_id[MD_VERSION_ID_CAP];
};

/* Packs o and waits until its batch is committed. Returns 0 with *res the
 * decision for o; CAIRN_E_UNAVAIL (no packed group could take it; nothing of
 * it is visible: store it the ordinary way), CAIRN_E_BUSY (the queue is
 * full: likewise), CAIRN_E_TIMEOUT (queued too long: nothing stored) or a
 * metadata transport error (the commit's outcome is unknown, as for an
 * ordinary PutObject). Any request thread. */
int gw_pack_put(struct gw_pack *p, const struct gw_pack_obj *o, struct gw_pack_result *res);

/* Counters for /metrics. */
struct gw_pack_stats {
    uint64_t objects;         /* objects committed in packed groups */
    uint64_t batches;         /* CommitPacked applied */
    uint64_t bytes;           /* object bytes appended in committed batches */
    uint64_t padding;         /* zero bytes appended to end objects on a stripe */
    uint64_t groups_opened;   /* OpenGroup applied */
    uint64_t groups_sealed;   /* SealGroup applied (full, idle, failure, shutdown) */
    uint64_t append_failures; /* batches whose append did not reach all k+m */
    uint64_t retries;         /* batches retried in a new group */
    uint64_t fallbacks;       /* objects handed back for the ordinary path */
    uint64_t queued;          /* objects waiting for a lane now */
};
void gw_pack_stats(struct gw_pack *p, struct gw_pack_stats *out);

#endif
