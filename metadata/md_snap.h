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
 * refuses a mismatch. Memory is bounded by one frame on both sides.
 *
 * Keys: the loader owns every store key that starts with 'T' (its staging
 * range and commit marker); the state machine's are 'S', the Paxos log's 'P'. */
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

/* Loading is all-or-nothing: the stream goes to a staging range of the store
 * beside the live state (memory bounded by one frame), and only a stream
 * verified whole (every frame CRC, key order and range, the record count,
 * the state hash, the StoreInfo against the header, the slot) replaces the
 * state machine's keys. A bad or truncated stream leaves the store's state
 * as it was. The swap takes several writes: a crash in it is finished by
 * md_snap_recover, which must run before md_sm_open on a store that may
 * have been loading (md_sm_open refuses a store in the middle of a swap).
 * The caller must not apply commands between begin and commit. */

/* Starts a load into store's staging range, clearing what an unfinished
 * earlier load left there. CAIRN_E_BUSY when an interrupted swap awaits
 * md_snap_recover; otherwise 0 or the store's error. */
int md_snap_load_begin(struct md_store *store, struct md_snap_loader **out);
/* Feeds the next stream bytes, in any chunking. CAIRN_E_CORRUPT on a bad
 * frame, checksum, order, size or store info; the loader is then unusable
 * (abort it). */
int md_snap_load_feed(struct md_snap_loader *l, const void *buf, size_t len);
/* Checks that the whole stream arrived and is the snapshot of want_slot (0:
 * any), and makes the staged copy durable. 0 and *applied_index (if not
 * NULL), CAIRN_E_CORRUPT (then abort: the state was not touched), or the
 * store's error. */
int md_snap_load_verify(struct md_snap_loader *l, uint64_t want_slot, uint64_t *applied_index);
/* After a successful verify: the staged state replaces the store's state
 * machine keys, durably, and l is freed (also on failure). 0, or the store's
 * error (the store may be mid-swap: md_snap_recover finishes it). After
 * success call md_sm_reload() on the state machine over this store. */
int md_snap_load_commit(struct md_snap_loader *l);
/* verify + commit (abort when verify fails); frees l. */
int md_snap_load_finish(struct md_snap_loader *l, uint64_t want_slot, uint64_t *applied_index);
/* Gives up: clears the staging range (best effort) and frees l. The store's
 * state is what it was before begin. NULL is fine. */
void md_snap_load_abort(struct md_snap_loader *l);

/* Finishes a swap that a crash interrupted (the store then holds the
 * snapshot's state) and clears a staging range an unfinished load left.
 * Cheap when there is nothing to do (two reads). 0 or the store's error. */
int md_snap_recover(struct md_store *store);

#endif
