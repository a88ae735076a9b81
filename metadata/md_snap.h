/* md_snap: streaming a state-machine snapshot out of a store and into
 * another, for a replica that is behind the log trim point.
 *
 * Stream format (all integers big-endian):
 *   frame  = type u8 | len u32 | crc32c(payload) u32 | payload[len]
 *   type 0 = header:  "CAIRNSNP" | format u32 (MD_SM_FORMAT) | applied_index u64
 *   type 1 = records: { klen u32 | key | vlen u32 | value }*, about 256 KiB a frame
 *   type 2 = end:     record count u64 | SHA-256 state hash (32 bytes)
 * The records are every state-machine key (prefix 'S') in key order from one
 * consistent store snapshot, so the end hash equals md_sm_state_hash() of the
 * source at that point; the loader recomputes it over what it received and
 * refuses a mismatch. Memory is bounded by one frame on both sides. */
#ifndef CAIRN_MD_SNAP_H
#define CAIRN_MD_SNAP_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

/* Largest frame payload a loader accepts. */
#define MD_SNAP_MAX_FRAME (64u << 20)

/* Receives stream bytes in order; returns 0 or a negative CAIRN_E_* to stop. */
typedef int (*md_snap_write_fn)(void *ctx, const void *buf, size_t len);

/* Streams a snapshot of store's state-machine keys to write(). The snapshot
 * is consistent (taken when the call starts); the store may keep changing.
 * Returns 0, write()'s error, or a store error. *applied_index (if not NULL)
 * receives the snapshot's applied index. */
int md_snap_write(struct md_store *store, md_snap_write_fn write, void *ctx,
                  uint64_t *applied_index);

struct md_snap_loader;

/* Starts replacing every state-machine key of store: marks the store as
 * "loading" (md_sm_open refuses such a store until a load finishes) and
 * deletes the old state. The caller must not apply commands meanwhile. */
int md_snap_load_begin(struct md_store *store, struct md_snap_loader **out);
/* Feeds the next stream bytes, in any chunking. CAIRN_E_CORRUPT on a bad
 * frame, checksum, order or size, or a stream whose StoreInfo record is
 * missing, undecodable, of another format or at another applied index than
 * its header; the loader is then unusable (abort it). */
int md_snap_load_feed(struct md_snap_loader *l, const void *buf, size_t len);
/* Checks that the whole stream arrived and its hash matches, makes the
 * data durable, clears the loading mark and frees l (also on failure).
 * *applied_index receives the loaded applied index. After success call
 * md_sm_reload() on the state machine over this store. */
int md_snap_load_finish(struct md_snap_loader *l, uint64_t *applied_index);
/* Gives up: frees l; the store stays marked as loading. */
void md_snap_load_abort(struct md_snap_loader *l);

#endif
