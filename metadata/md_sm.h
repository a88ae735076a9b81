/* md_sm: the metadata service's replicated state machine.
 *
 * Deterministic: the same commands applied in the same order to the same
 * state give byte-identical stores on every replica (no clock, no randomness,
 * no iteration over unordered containers; times and random ids come inside
 * the commands). The Paxos layer calls md_sm_apply_slot() with each committed
 * slot in log order; reads call md_query() (md_query.h) on the store directly.
 *
 * Every state change of a slot, the new applied index and the per-client
 * dedup table go into ONE md_store write batch, so a crash leaves the store
 * at the end of some slot, never inside one. Whether that write is synced is
 * the store's option: with an unsynced store the daemon must md_store_sync()
 * before it trims the log past md_sm_applied_index().
 *
 * Keys: the state machine owns every store key that starts with 'S' (0x53);
 * other users of the same store (the Paxos log) must keep out of that range.
 * docs/metadata.md gives the full layout.
 *
 * Threads: an md_sm is used by one thread at a time.
 *
 * Related headers: md_cmd.h builds commands and queries and decodes results;
 * md_query.h runs queries; md_snap.h streams snapshots; md_place.h chooses
 * chunkservers; md_check.h verifies the invariants; meta.proto is the schema.
 * docs/metadata.md describes all of it. */
#ifndef CAIRN_MD_SM_H
#define CAIRN_MD_SM_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

/* On-disk format of the state-machine keys; stored in the StoreInfo record.
 * 2: the top-level names index ("SD") exists. A store (or snapshot) of format
 * MD_SM_FORMAT_MIN..MD_SM_FORMAT is read; an older one is brought up to date
 * when it is opened (the index is built). */
#define MD_SM_FORMAT     2
#define MD_SM_FORMAT_MIN 1

/* Every state-machine key begins with this byte. */
#define MD_SM_KEY_PREFIX 'S'

struct md_sm;

/* Options that change results must be identical on every replica. */
struct md_sm_options {
    uint64_t max_sessions;  /* dedup entries kept; the least recently used go first */
    uint32_t inline_max;    /* largest inline object, bytes (DESIGN: 16 KiB) */
    uint64_t min_part_size; /* every multipart part but the last (S3: 5 MiB) */
    uint32_t max_parts;     /* highest part number (S3: 10000) */
    uint32_t max_fragments; /* largest k+m accepted in a chunk group */
};

/* max_sessions 100000, inline_max 16384, min_part_size 5 MiB, max_parts 10000,
 * max_fragments 32. */
void md_sm_options_default(struct md_sm_options *opt);

/* Opens the state machine over store (not owned; must outlive the md_sm).
 * An empty store is initialised (format record, applied index 0). Returns
 * CAIRN_E_CORRUPT if the store holds an unknown format or an interrupted
 * snapshot load (the replica must then fetch a new snapshot). */
int md_sm_open(struct md_store *store, const struct md_sm_options *opt, struct md_sm **out);
void md_sm_free(struct md_sm *sm);

/* Re-reads the applied index and counters from the store (after a snapshot
 * was loaded into it with md_snap_load_*). */
int md_sm_reload(struct md_sm *sm);

/* Index of the last applied slot (0 = none). */
uint64_t md_sm_applied_index(const struct md_sm *sm);

/* Applies one committed slot holding n commands (packed md.Command; n may be
 * 0 for a slot with nothing for the state machine). index must be greater
 * than md_sm_applied_index() (gaps are allowed: slots the Paxos layer keeps
 * for itself), else CAIRN_E_RANGE and nothing changes.
 *
 * results[i] receives a malloc'ed packed md.Result for cmds[i] (free() it) and
 * result_lens[i] its length (the arrays may be NULL when n is 0); a command that fails logically
 * (no such bucket, precondition, malformed bytes) still gives a Result with a nonzero status and
 * changes nothing. A retried command (same client_id and seq as that client's last applied command)
 * returns the saved Result and applies nothing.
 *
 * extra, if not NULL, is written in the same atomic batch (e.g. the Paxos
 * layer's own bookkeeping); its keys must not start with MD_SM_KEY_PREFIX.
 *
 * Returns 0, or CAIRN_E_NOMEM / CAIRN_E_IO / CAIRN_E_CORRUPT when the slot
 * could not be applied (no results are returned, nothing was written, and
 * the replica must not continue applying). */
int md_sm_apply_slot(struct md_sm *sm, uint64_t index, size_t n, const void *const *cmds,
                     const size_t *cmd_lens, const struct md_batch *extra, uint8_t **results,
                     size_t *result_lens);

/* A slot that changes the Paxos membership: stores who votes and who follows
 * (the "SM" record) with applied index `index`, atomically, so a restart and
 * a snapshot bring it back (md_sm_membership). CAIRN_E_RANGE when index is not
 * above the applied index. */
int md_sm_apply_membership(struct md_sm *sm, uint64_t index, const uint32_t *voters, size_t nv,
                           const uint32_t *learners, size_t nl);

/* Reads the stored membership (at most cap ids of each kind). 0,
 * CAIRN_E_NOTFOUND (never changed: the bootstrap membership holds), or
 * CAIRN_E_CORRUPT. */
int md_sm_membership(struct md_store *store, uint32_t *voters, size_t *nv, uint32_t *learners,
                     size_t *nl, size_t cap);

/* 1 if replica id was a member and a membership change removed it, 0 if not,
 * or the store's error. */
int md_sm_removed(struct md_store *store, uint32_t id);

/* A slot with exactly one command: md_sm_apply_slot with n = 1. */
int md_sm_apply(struct md_sm *sm, uint64_t index, const void *cmd, size_t cmd_len, uint8_t **result,
                size_t *result_len);

/* SHA-256 over every state-machine key and value in key order (each as
 * be32 length + bytes). Equal hashes = identical state, applied index
 * included. Reads a consistent snapshot of store. */
int md_sm_state_hash(struct md_store *store, uint8_t out[32]);

#endif
