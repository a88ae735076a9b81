/* md_store: the metadata service's key/value storage behind one small
 * interface (libpaxos storage.h style), with two backends:
 *
 *   - memory: a persistent sorted tree (md_tree.h); iterators and clones are
 *     O(1) snapshots. For the simulator and tests. Not thread-safe.
 *   - LevelDB: the daemon's store (leveldb/c.h). Writes are synced when
 *     md_store_options.sync is set. Thread-safe as LevelDB is.
 *
 * Keys and values are byte strings; keys are ordered by memcmp, shorter first
 * (LevelDB's bytewise comparator), identically in both backends.
 *
 * Errors: functions return 0 or a negative CAIRN_E_* code. */
#ifndef CAIRN_MD_STORE_H
#define CAIRN_MD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct md_store;
struct md_batch;
struct md_iter;

struct md_store_options {
    int sync;              /* LevelDB: fsync every write (durable when it returns) */
    int create_if_missing; /* LevelDB: create an empty store when the path has none */
    size_t cache_bytes;    /* LevelDB block cache; 0 = LevelDB's default */
    size_t write_buffer;   /* LevelDB memtable bytes; 0 = LevelDB's default (4 MiB) */
};

/* Fills opt with the defaults: sync on, create_if_missing on, default cache. */
void md_store_options_default(struct md_store_options *opt);

/* Opens an empty in-memory store. *out is owned by the caller (md_store_free). */
int md_store_open_mem(struct md_store **out);

/* Opens (or creates) a LevelDB store in directory path. Returns CAIRN_E_IO
 * (logged with LevelDB's message) when LevelDB refuses, e.g. a locked or
 * damaged store. */
int md_store_open_leveldb(const char *path, const struct md_store_options *opt,
                          struct md_store **out);

/* Memory backend only: *out becomes an independent store holding src's
 * current contents (O(1), shared until either changes). CAIRN_E_UNSUPPORTED
 * for LevelDB. The simulator uses this to model "what reached disk". */
int md_store_clone_mem(const struct md_store *src, struct md_store **out);

/* ---- the memory backend's crash model (sqlite test6.c style) ----
 * For the simulator and crash tests: what a machine crash would leave of a
 * store whose writes are not synced one by one (the daemon's LevelDB, opened
 * with sync off: each write batch lands in the log in order and is atomic;
 * md_store_sync makes everything before it durable). */

/* Memory backend only: from now on, remember what is durable — the contents
 * at the last md_store_sync (now: the current contents) and the state after
 * each write since then. Costs a reference per write until the next sync.
 * 0 or CAIRN_E_UNSUPPORTED (LevelDB) / CAIRN_E_NOMEM. */
int md_store_mem_track_durability(struct md_store *s);
/* Writes since the last sync (0 when not tracking). */
size_t md_store_mem_unsynced(const struct md_store *s);
/* A new, independent store holding what a crash now would leave: the
 * contents at the last sync plus the first `keep` writes after it (keep <=
 * md_store_mem_unsynced(s); a process crash keeps them all, a power loss any
 * prefix). The new store tracks durability, everything in it durable.
 * CAIRN_E_INVAL when s does not track durability or keep is too large. */
int md_store_mem_crash(const struct md_store *s, size_t keep, struct md_store **out);
/* Memory backend only: the next n writes and syncs succeed, and every one
 * after them fails with CAIRN_E_IO (a disk that died); n < 0 never fails. */
void md_store_mem_fail_after(struct md_store *s, long n);

/* Closes the store. Iterators must have been freed first. NULL is a no-op. */
void md_store_free(struct md_store *s);

/* 1 for the LevelDB backend, 0 for memory. */
int md_store_is_persistent(const struct md_store *s);

/* Reads key. On success *val is a malloc'ed copy (free() it; NULL when the
 * value is empty) and *vlen its length. CAIRN_E_NOTFOUND when absent. */
int md_store_get(struct md_store *s, const void *key, size_t klen, void **val, size_t *vlen);

/* Applies every operation of b atomically, in order (a later op on the same
 * key wins). With sync on, durable when this returns. b is not modified. */
int md_store_write(struct md_store *s, const struct md_batch *b);

/* Makes every earlier write durable (an empty synced write for LevelDB; a
 * no-op for memory). */
int md_store_sync(struct md_store *s);

/* A forward iterator over a consistent snapshot of the store taken now:
 * later writes are invisible to it. Unpositioned until a seek. */
int md_store_iter_new(struct md_store *s, struct md_iter **out);

/* A consistent read-only view of the store as it is now: later writes are
 * invisible to reads and iterators made from it. Free it after its
 * iterators. LevelDB: may be used from any thread. */
struct md_snapshot;
int md_store_snapshot_new(struct md_store *s, struct md_snapshot **out);
void md_snapshot_free(struct md_snapshot *snap);
/* As md_store_get, at the snapshot. */
int md_snapshot_get(struct md_snapshot *snap, const void *key, size_t klen, void **val,
                    size_t *vlen);
/* An iterator over the snapshot (which must outlive it). */
int md_snapshot_iter_new(struct md_snapshot *snap, struct md_iter **out);

/* Counters of iterator positioning calls (seeks, nexts) on this store since it
 * was opened: how tests prove a listing skipped instead of scanning. */
void md_store_iter_stats(const struct md_store *s, uint64_t *seeks, uint64_t *nexts);
/* Puts and deletes written by md_store_write since the store was opened (every
 * op of every batch, whether or not it changed anything): how tests prove a
 * command wrote only what changed. */
uint64_t md_store_write_ops(const struct md_store *s);

/* The shape of a LevelDB store on disk: table files per level (files[0..6],
 * LevelDB's num-files-at-level) and the bytes of all its table files. The
 * memory store has none (all zero). */
#define MD_STORE_LEVELS 7
struct md_store_shape {
    uint64_t files[MD_STORE_LEVELS];
    uint64_t table_bytes;
};
void md_store_shape(struct md_store *s, struct md_store_shape *out);

/* Compacts the whole key range down to the last level (LevelDB's
 * CompactRange over everything): after a bulk load, a lookup then consults
 * one table per key instead of one in each overlapping level, and no longer
 * triggers LevelDB's read-driven ("seek") compactions. Blocks the caller for
 * as long as it takes; reads and writes go on meanwhile. The memory store
 * returns 0 at once. */
int md_store_compact_all(struct md_store *s);

/* ---- write batches (backend independent) ---- */

/* A new empty batch, or NULL when out of memory. */
struct md_batch *md_batch_new(void);
void md_batch_free(struct md_batch *b);
void md_batch_clear(struct md_batch *b);
/* Append a put / delete; key and value bytes are copied. 0 or CAIRN_E_NOMEM. */
int md_batch_put(struct md_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int md_batch_del(struct md_batch *b, const void *key, size_t klen);
/* Appends all of src's operations to dst. */
int md_batch_append(struct md_batch *dst, const struct md_batch *src);
size_t md_batch_count(const struct md_batch *b);
/* Drops every operation after the first n (n <= count): a savepoint. */
void md_batch_truncate(struct md_batch *b, size_t n);
/* Total key+value bytes in the batch. */
size_t md_batch_bytes(const struct md_batch *b);
/* Operation i (< count): *is_del, key and value (value NULL for deletes).
 * Pointers stay valid until the batch changes. */
void md_batch_op(const struct md_batch *b, size_t i, int *is_del, const void **key, size_t *klen,
                 const void **val, size_t *vlen);

/* ---- iterators ---- */

void md_iter_free(struct md_iter *it);
/* Position at the first key >= key. */
void md_iter_seek(struct md_iter *it, const void *key, size_t klen);
void md_iter_seek_first(struct md_iter *it);
int md_iter_valid(const struct md_iter *it);
void md_iter_next(struct md_iter *it);
/* Key / value of the current entry; valid until the iterator moves. */
const void *md_iter_key(const struct md_iter *it, size_t *klen);
const void *md_iter_value(const struct md_iter *it, size_t *vlen);
/* 0, or the error that made the iterator stop early (I/O, corruption, ENOMEM). */
int md_iter_status(const struct md_iter *it);

#endif
