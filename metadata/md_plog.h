/* md_plog: the Paxos log and promise of one replica, in one of two places:
 *
 *   - a directory of append-only segment files (md_plog_open_dir; the
 *     daemon): frames with length and CRC32C, one write + fdatasync per
 *     batch. The state machine's store is then NOT synced by the log's
 *     sync: trims sync it before dropping what they trim (docs/metadata.md).
 *   - the replica's store beside the state machine (md_plog_open; the
 *     simulator's memory store, whose crash model covers it): keys "Pp" ->
 *     px.Promise, "PL" + big-endian slot -> px.Entry.
 *
 * The core's persist records (paxos.h: set the promise, delete slots <=
 * trim_through, store entries) are copied into an md_plog_batch as they come,
 * and written later by md_plog_write with ONE sync for the whole batch (group
 * commit): only then may the core be told they are durable.
 *
 * Threads: a batch belongs to one thread at a time. md_plog_write may run on
 * another thread than the one that fills batches (the daemon's persist
 * thread), but only one md_plog_write runs at a time per md_plog. */
#ifndef CAIRN_MD_PLOG_H
#define CAIRN_MD_PLOG_H

#include "paxos.h"

#include <stddef.h>
#include <stdint.h>

struct md_store;
struct md_plog;

/* Persist records copied out of the core, waiting to be written. */
struct md_plog_batch {
    struct md_plog_rec *recs;
    size_t n, cap;
};

/* The log as found in the store at start (what paxos_new needs). Entries
 * point into storage owned by the struct: free with md_plog_restored_free. */
struct md_plog_restored {
    uint64_t promised;
    uint32_t n_entries;
    struct paxos_entry *entries; /* in slot order */
    uint8_t **blobs;
    uint32_t cap;
};

/* Reads the promise and every stored entry of store. applied is the state
 * machine's applied index (where the log starts when no entry is stored).
 * Returns 0, CAIRN_E_CORRUPT (an undecodable record), CAIRN_E_NOMEM or the
 * store's error. On success *out owns the log's state and *out->rs is ready
 * for md_plog_restored_free. */
int md_plog_open(struct md_store *store, uint64_t applied, struct md_plog **out,
                 struct md_plog_restored *rs);
void md_plog_restored_free(struct md_plog_restored *rs);

/* Default size after which the file log starts a new segment. */
#define MD_PLOG_SEGMENT_BYTES (64u << 20)

/* As md_plog_open, for a log kept as segment files in directory dir (created
 * when missing; segment_bytes 0 = MD_PLOG_SEGMENT_BYTES). A torn tail of the
 * last segment (a batch never synced) is cut off; damage followed by a later
 * write, or in an older segment, is CAIRN_E_CORRUPT, as is a log trimmed past
 * `applied` (the state machine lost writes the log no longer holds). A log still in the store (an
 * older Cairn: "Pp"/"PL" keys) is moved into the directory first and its keys deleted. store stays
 * borrowed: md_plog_write syncs it before deleting trimmed segments. Errors: CAIRN_E_IO,
 * CAIRN_E_CORRUPT, CAIRN_E_NOMEM. */
int md_plog_open_dir(struct md_store *store, const char *dir, uint64_t segment_bytes,
                     uint64_t applied, struct md_plog **out, struct md_plog_restored *rs);
/* Segment files of a file log (0 for a log in the store). For tests. */
size_t md_plog_segments(const struct md_plog *pl);
/* NULL is fine. Does not close the store. */
void md_plog_free(struct md_plog *pl);

/* Copies rec (entries and values) into the batch. Returns 0 or CAIRN_E_NOMEM. */
int md_plog_batch_add(struct md_plog_batch *b, const struct paxos_persist *rec);
/* Frees the records (not the batch struct); the batch is empty afterwards. */
void md_plog_batch_clear(struct md_plog_batch *b);
/* Moves every record of from to the end of to (from is left empty).
 * Returns 0 or CAIRN_E_NOMEM (nothing moved). */
int md_plog_batch_move(struct md_plog_batch *to, struct md_plog_batch *from);

/* Writes the batch's records in order (in the store: each its own store
 * write, a trim deletes keys written by earlier records; in files: one
 * append), then syncs once, and empties the batch. A file log whose trim
 * covers everything an older segment holds syncs the store, then deletes the
 * segment. On success *max_seq is the highest record seq written. Returns 0,
 * CAIRN_E_IO / CAIRN_E_NOSPACE (files) or the store's error: the caller must
 * not report anything durable then (the daemon stops). *sync_us gets the
 * sync's duration, or -1 when the batch changed nothing in a file log (the
 * same promise, no trim, no entry) and nothing was synced. */
int md_plog_write(struct md_plog *pl, struct md_plog_batch *b, uint64_t *max_seq, int64_t *sync_us);

/* ---- identity of a replica that joined an existing group ----
 * "Pi" -> be32 id, written once, synced: who this replica is, so a restart
 * needs no --join; "Pj" -> the membership it joined with (md.MembershipRecord),
 * its bootstrap until the log or a snapshot brings the stored one. */

/* Reads the identity: 0 with *id and, when out_m is not NULL, the join
 * membership (voters/learners, at most PAXOS_MAX_REPLICAS each);
 * CAIRN_E_NOTFOUND when this store never joined; CAIRN_E_CORRUPT. */
int md_plog_identity_get(struct md_store *store, uint32_t *id, struct paxos_membership *out_m);
/* Writes the identity durably (one synced write). */
int md_plog_identity_put(struct md_store *store, uint32_t id, const struct paxos_membership *m);

#endif
