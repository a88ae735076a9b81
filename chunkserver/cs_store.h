/* The fragment store: one data directory, one file per fragment.
 *
 *   DIR/chunkserver-id            32 hex digits: this server's stable id
 *   DIR/lock                      flock'd while a process serves DIR
 *   DIR/tmp/                      fragments being written (removed at open)
 *   DIR/frags/XX/YY/<group>.<i>   committed fragments; XX, YY = first two
 *                                 bytes of the group id in hex
 *
 * Paths are rendered only from parsed binary ids (cs_group_parse), never from
 * request text. A put streams to a temporary file and becomes visible only at
 * commit: in durable mode the file is fdatasync'd, renamed into place and its
 * directory fsync'd before commit returns 0. A crash at any moment leaves
 * either the old state or the complete new fragment, plus temporaries that
 * the next open removes.
 *
 * Thread safety: every function may be called from any thread, concurrently,
 * except cs_store_open/cs_store_free. A cs_put belongs to one thread at a
 * time. */
#ifndef CAIRN_CS_STORE_H
#define CAIRN_CS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_fragment.h"
#include "cs_hist.h"
#include "cs_io.h"

#define CS_ID_HEX_LEN 32

typedef struct cs_store cs_store;
typedef struct cs_put cs_put;

typedef struct cs_store_opts {
    const cs_io *io;          /* file system (borrowed, must outlive the store);
                                 NULL = cs_io_posix() */
    const char *dir;          /* data directory (created if missing) */
    uint64_t reserve_bytes;   /* free space a put must leave on the filesystem */
    bool durable;             /* fsync before acknowledging (false: benchmarks only) */
    uint64_t writeback_bytes; /* durable mode: start writeback every this many bytes of a
                                 put (0 = only the final fdatasync) */
} cs_store_opts;

typedef struct cs_store_stats {
    uint64_t capacity_bytes;   /* filesystem size */
    uint64_t free_bytes;       /* filesystem space available to us */
    uint64_t reserve_bytes;    /* as configured */
    uint64_t inflight_bytes;   /* space promised to puts in progress */
    uint64_t usable_bytes;     /* what new puts may still take */
    uint64_t fragments;        /* committed fragment files */
    uint64_t fragment_bytes;   /* their total file size */
    uint64_t inventory_digest; /* XOR of a 64-bit hash of every (group, index) */
    uint64_t open_fragments;   /* open fragments (appended to, not sealed yet) */
    uint64_t open_bytes;       /* their acknowledged data */
} cs_store_stats;

/* Outcome of a successful commit. */
enum cs_put_result {
    CS_PUT_CREATED = 0,   /* new fragment stored */
    CS_PUT_IDENTICAL = 1, /* the same content was already stored; nothing changed */
    CS_PUT_REPLACED =
        2, /* an unreadable (corrupt) copy or, with replace, a different one was replaced */
};

/* Opens (creating if needed) the store in opts->dir: creates the layout,
 * takes an exclusive lock on DIR/lock (one process per directory), creates
 * the chunkserver id on first start, removes every leftover temporary and
 * counts the committed fragments. Returns 0 and *out; CAIRN_E_BUSY (another
 * store holds the directory), CAIRN_E_IO (see the log), CAIRN_E_NOMEM. Free
 * with cs_store_free, which releases the lock. */
int cs_store_open(const cs_store_opts *opts, cs_store **out);
void cs_store_free(cs_store *s);

/* The stable chunkserver id: 32 lowercase hex digits, owned by the store. */
const char *cs_store_id(const cs_store *s);
const char *cs_store_dir(const cs_store *s);
/* The file system the store works on (for the scrubber's state file). */
const cs_io *cs_store_io(const cs_store *s);
bool cs_store_durable(const cs_store *s);

/* Starts a put of the fragment described by meta (data_crc ignored). Space
 * for the whole file is reserved at once: if the filesystem would drop below
 * the reserve, returns CAIRN_E_NOSPACE and nothing is created. Also
 * CAIRN_E_INVAL (bad meta), CAIRN_E_IO, CAIRN_E_NOMEM. On success the caller
 * owns *out and must end it with cs_put_commit or cs_put_abort. */
int cs_store_put_begin(cs_store *s, const cs_frag_meta *meta, cs_put **out);
/* Appends data. Returns 0, CAIRN_E_RANGE (more than data_len),
 * CAIRN_E_NOSPACE, CAIRN_E_IO. After an error only cs_put_abort is allowed. */
int cs_put_write(cs_put *p, const void *buf, size_t len);
/* Bytes written so far. */
uint64_t cs_put_written(const cs_put *p);
/* Finishes the put. If check_crc, the CRC32C of all data must equal
 * expected_crc. Then the fragment is made durable and visible. An existing
 * fragment with the same content is left as it is (CS_PUT_IDENTICAL); one
 * with different content is CAIRN_E_EXISTS unless replace is set or it is
 * unreadable. Returns 0 and *result (may be NULL); CAIRN_E_RANGE (short
 * body), CAIRN_E_CORRUPT (CRC mismatch), CAIRN_E_EXISTS, CAIRN_E_NOSPACE,
 * CAIRN_E_IO. Always consumes p: on failure nothing of the put remains. */
int cs_put_commit(cs_put *p, bool check_crc, uint32_t expected_crc, bool replace,
                  enum cs_put_result *result);
/* Abandons a put and removes its temporary file. Consumes p (NULL is fine). */
void cs_put_abort(cs_put *p);

/* Opens a committed fragment for verified reads. Returns 0 and a reader the
 * caller closes with cs_frag_reader_close; CAIRN_E_NOTFOUND; CAIRN_E_CORRUPT
 * (header, size or CRC table damaged); CAIRN_E_IO; CAIRN_E_NOMEM. */
int cs_store_open_fragment(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                           cs_frag_reader **out);

/* Deletes a fragment (sealed or open) durably. Returns 0, CAIRN_E_NOTFOUND, CAIRN_E_IO. In
 * durable mode "not found" is durable too (the fragment's directory is
 * synced before answering it). */
int cs_store_delete(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index);

/* Last modification time (Unix seconds) of a committed fragment. Returns 0,
 * CAIRN_E_NOTFOUND or CAIRN_E_IO. */
int cs_store_fragment_mtime(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                            int64_t *mtime_s);

/* Deletes a fragment durably only if it was last written before cutoff_s
 * (checked under the fragment's lock, so a copy stored meanwhile survives).
 * Returns 0, CAIRN_E_EXISTS (newer), CAIRN_E_NOTFOUND, CAIRN_E_IO. */
int cs_store_delete_older(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                          int64_t cutoff_s);

/* Capacity, free space and inventory. Returns 0 or CAIRN_E_IO. */
int cs_store_stats_get(cs_store *s, cs_store_stats *out);

/* Calls fn for each committed fragment, in path order, starting after the
 * fragment (after_group, after_index) when after_group is not NULL (so a
 * scrubber can resume where it stopped). Stops early and returns fn's value
 * if it returns non-zero; else returns 0 (or CAIRN_E_IO). Fragments put or
 * deleted during the walk may or may not be seen. */
typedef int (*cs_store_visit_fn)(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index);
int cs_store_foreach(cs_store *s, const uint8_t *after_group, uint32_t after_index,
                     cs_store_visit_fn fn, void *arg);

/* ---- Open fragments (packed chunk groups; cs_store_open.c) ----
 *
 *   DIR/frags/XX/YY/<group>.<i>.open and .crc
 *
 * An open fragment grows by appends of whole stripe units, each durable
 * before it is acknowledged, and is readable meanwhile (cs_store_open_fragment
 * finds it, checked per unit). Sealing turns it into an ordinary fragment
 * file, byte for byte the one a put of the same data stores. The inventory,
 * foreach and the stats' fragment counts cover sealed fragments only. */

/* Largest append (bytes of one fragment in one request). */
#define CS_APPEND_MAX (16u << 20)

/* Checks an append's shape: meta's k, m, index and unit (512..64 KiB, a
 * divisor of 64 KiB; data_len ignored), offset and len whole units, 0 < len
 * <= CS_APPEND_MAX, the end within CS_FRAG_MAX_LEN. 0 or CAIRN_E_INVAL. */
int cs_store_append_check(const cs_frag_meta *meta, uint64_t offset, size_t len);

/* Appends buf[0..len) at offset to the open fragment (meta->group,
 * meta->index), creating it when offset is 0. Durable (in durable mode)
 * before it returns 0. *length receives the acknowledged length after the
 * call (also on CAIRN_E_PRECOND). Returns 0 (also for a retry of an
 * acknowledged append with the same bytes); CAIRN_E_PRECOND (offset is not
 * the acknowledged length: nothing written); CAIRN_E_EXISTS (sealed, or an
 * open fragment of another k, m or unit); CAIRN_E_INVAL; CAIRN_E_NOSPACE;
 * CAIRN_E_IO; CAIRN_E_NOMEM. */
int cs_store_append(cs_store *s, const cs_frag_meta *meta, uint64_t offset, const void *buf,
                    size_t len, uint64_t *length);

/* The open fragment's shape and acknowledged length (meta->data_len).
 * 0, CAIRN_E_NOTFOUND, CAIRN_E_CORRUPT, CAIRN_E_IO. */
int cs_store_open_length(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                         cs_frag_meta *meta);

/* Seals the open fragment at length (a whole number of units, at most the
 * acknowledged length: bytes past it were never acknowledged and are
 * dropped). Every unit is checked against its CRC first; the result is
 * durable and visible like a committed put. A retried seal of a sealed
 * fragment of that length answers 0 and CS_PUT_IDENTICAL. Returns 0;
 * CAIRN_E_NOTFOUND; CAIRN_E_RANGE (length past the acknowledged one, or
 * not whole units); CAIRN_E_EXISTS (sealed at another length);
 * CAIRN_E_CORRUPT (a unit fails its CRC: rebuild the fragment instead);
 * CAIRN_E_NOSPACE; CAIRN_E_IO; CAIRN_E_NOMEM. */
int cs_store_seal(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                  uint64_t length, enum cs_put_result *result);

/* Latency of the fdatasync/fsync calls of commits and deletes. */
const cs_hist *cs_store_fsync_hist(const cs_store *s);

#endif
