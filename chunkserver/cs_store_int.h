/* Internals of the fragment store shared by its two files: cs_store.c
 * (committed fragments, the directory, puts) and cs_store_open.c (open
 * fragments: appended to, then sealed). Nothing outside chunkserver/cs_store*.c
 * includes this. */
#ifndef CAIRN_CS_STORE_INT_H
#define CAIRN_CS_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cs_store.h"

#define LOCK_STRIPES 64

struct cs_store {
    const cs_io *io; /* every file-system call goes through it */
    int lock_fd;     /* DIR/lock, flock'd: one process per data directory */
    char *dir;
    char *tmp_dir;
    char *frag_dir;
    char id[CS_ID_HEX_LEN + 1];
    bool durable;
    uint64_t reserve_bytes;
    uint64_t writeback_bytes;
    atomic_uint_fast64_t tmp_seq;
    pthread_mutex_t stripe[LOCK_STRIPES]; /* one fragment's check+rename/unlink */
    pthread_mutex_t dir_lock;             /* creating fan-out directories, and: */
    /* Fan-out directories known durable in their parent: bit XX of
     * l1_durable for frags/XX, bit XX * 256 + YY of l2_durable for
     * frags/XX/YY. A directory that exists but is not known durable (a
     * process died between its mkdir and the fsync of its parent, or that
     * fsync failed) is synced before a fragment is renamed into it. */
    uint8_t l1_durable[256 / 8];
    uint8_t l2_durable[65536 / 8];
    pthread_mutex_t lock; /* the fields below */
    uint64_t inflight_bytes;
    uint64_t fragments;
    uint64_t fragment_bytes;
    uint64_t digest;
    uint64_t open_fragments; /* files in open/ (data + CRC pairs) */
    uint64_t open_bytes;     /* their acknowledged data */
    cs_hist fsync_hist;
};

/* FNV-1a of (group, index): the inventory digest's term and the stripe lock. */
uint64_t cs_store_frag_hash(const uint8_t group[CS_GROUP_ID_LEN], uint32_t index);
/* The lock serializing everything that changes one fragment's files. */
pthread_mutex_t *cs_store_stripe_lock(cs_store *s, const uint8_t *group, uint32_t index);
/* DIR/frags/XX/YY/<group>.<index>. */
void cs_store_frag_path(const cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                        char out[PATH_MAX]);
/* Records the latency of an fsync that started at t0 (cn_mono_us). */
void cs_store_fsync_note(cs_store *s, int64_t t0);
/* CAIRN_E_NOSPACE stays, anything else is CAIRN_E_IO. */
int cs_store_io_error(int rc);
/* fsync of a directory, timed. 0, CAIRN_E_NOSPACE or CAIRN_E_IO. */
int cs_store_fsync_dir(cs_store *s, const char *path);
/* frags/XX/YY of group exists and (durable mode) is durable. */
int cs_store_ensure_fanout(cs_store *s, const uint8_t *group);
/* Promises need bytes of the filesystem to a write in progress, keeping the
 * reserve: 0, CAIRN_E_NOSPACE (nothing promised), CAIRN_E_IO. Give them back
 * with cs_store_release once written (or abandoned). */
int cs_store_reserve(cs_store *s, uint64_t need);
void cs_store_release(cs_store *s, uint64_t bytes);
/* A fragment file of size bytes appeared in frags/ (counted, digested). */
void cs_store_count_added(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                          uint64_t size);

/* cs_store_open.c: finds the open fragments in frags/ and cleans up what a
 * crash left of them (at cs_store_open, before anything is served). 0 or
 * CAIRN_E_IO. */
int cs_store_open_recover(cs_store *s);
/* An open fragment's reader, for cs_store_open_fragment when frags/ has no
 * such fragment: 0, CAIRN_E_NOTFOUND, CAIRN_E_CORRUPT, CAIRN_E_IO,
 * CAIRN_E_NOMEM. */
int cs_store_open_reader(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                         cs_frag_reader **out);
/* Deletes an open fragment's files (durably). 0, CAIRN_E_NOTFOUND, CAIRN_E_IO.
 * Called with the fragment's stripe lock held. */
int cs_store_open_delete_locked(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index);

#endif
