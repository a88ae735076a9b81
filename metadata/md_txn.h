/* md_txn: internal to the metadata state machine and its queries.
 *
 * A transaction reads a store through an overlay of its own pending writes
 * (read-your-writes, including ordered iteration) and collects those writes
 * in one md_batch for a single atomic md_store_write(). Savepoints are O(1)
 * (the overlay is a persistent tree), so a command that fails half way is
 * undone exactly. Also the key encoding (md_key_*), shared with queries and
 * snapshots. */
#ifndef CAIRN_MD_TXN_H
#define CAIRN_MD_TXN_H

#include "md_store.h"
#include "md_tree.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* ---- key encoding (docs/metadata.md) ---- */

#define MD_BUCKET_MAX    63
#define MD_OBJKEY_MAX    1024
#define MD_UPLOAD_ID_MAX 128
#define MD_KEYID_MAX     128
#define MD_USER_MAX      64
#define MD_MKEY_MAX      (2 + MD_BUCKET_MAX + 1 + MD_OBJKEY_MAX + 1 + MD_UPLOAD_ID_MAX + 1 + 4 + 16)

#define MD_K_INFO     'I' /* "SI"                                 -> StoreInfo */
#define MD_K_BUCKET   'b' /* "Sb" bucket                          -> BucketRecord */
#define MD_K_OBJECT   'o' /* "So" bucket 0 key                    -> ObjectRecord */
#define MD_K_UPLOAD   'u' /* "Su" bucket 0 key 0 upload_id        -> UploadRecord */
#define MD_K_PART     'p' /* "Sp" bucket 0 key 0 upload_id 0 be32 md5(16) -> PartRecord */
#define MD_K_CS       'n' /* "Sn" be64 id                         -> ChunkserverRecord */
#define MD_K_LOCATOR  'x' /* "Sx" group id(16)                    -> GroupLocator */
#define MD_K_FRAGMENT 'f' /* "Sf" be64 cs, group id(16), be32 i   -> (empty) */
#define MD_K_GARBAGE  'g' /* "Sg" be64 seq                        -> GarbageRecord */
#define MD_K_GARB_CS  'h' /* "Sh" be64 cs, be64 seq              -> (empty) */
#define MD_K_ACCESS   'k' /* "Sk" key id                          -> AccessKeyRecord */
#define MD_K_SESSION  'c' /* "Sc" be64 client                     -> Session */
#define MD_K_SESS_AGE 'a' /* "Sa" be64 last index, be64 client    -> (empty) */
#define MD_K_LOADING  'L' /* "SL": present only while a snapshot is being loaded */
#define MD_K_USER     'U' /* "SU" user name                       -> UserRecord */
#define MD_K_OWNED    'O' /* "SO" owner 0 bucket                  -> (empty) */
#define MD_K_REPLICA  'R' /* "SR" be32 id                         -> ReplicaRecord */
#define MD_K_VERSION                                                                               \
    'V'                  /* "SV" bucket 0 key 0 be64 ~vseq       -> ObjectRecord (noncurrent       \
                            versions and delete markers, newest first) */
#define MD_K_PACKED  'P' /* "SP" group id(16)                    -> PackedGroup */
#define MD_K_PACKIDX 'E' /* "SE" group id(16) be64 offset       -> record key (packed extent) */
#define MD_K_NULLVER 'N' /* "SN" bucket 0 key                    -> NullVersionRef */
#define MD_K_MEMBERS 'M' /* "SM"                                 -> MembershipRecord */
#define MD_K_TOPNAME 'D' /* "SD" bucket 0 name                   -> (empty): top-level names */
#define MD_K_REMOVED                                                                               \
    'X' /* "SX" be32 id                         -> MembershipRecord (the                           \
                                                 change that removed it) */

struct md_key {
    size_t n;
    unsigned char b[MD_MKEY_MAX];
};

void md_key_start(struct md_key *k, char type);
void md_key_bytes(struct md_key *k, const void *p, size_t n);
void md_key_str(struct md_key *k, const char *s); /* without the NUL */
void md_key_byte(struct md_key *k, unsigned char c);
void md_key_be32(struct md_key *k, uint32_t v);
void md_key_be64(struct md_key *k, uint64_t v);
uint32_t md_get_be32(const unsigned char *p);
uint64_t md_get_be64(const unsigned char *p);
void md_put_be32(unsigned char *p, uint32_t v);
void md_put_be64(unsigned char *p, uint64_t v);
/* Smallest key greater than every key beginning with k (k grows by nothing:
 * trailing 0xff bytes are dropped and the last byte incremented). Returns 0,
 * or CAIRN_E_RANGE when no such key exists (k is all 0xff). */
int md_key_prefix_end(struct md_key *k);

/* Validation shared by commands and queries. */
int md_valid_bucket(const char *b);
int md_valid_objkey(const char *k);
int md_valid_upload_id(const char *u);
int md_valid_key_id(const char *k);
/* A user name: 1..64 of [A-Za-z0-9_+=,.@-] (IAM's user name alphabet). */
int md_valid_user(const char *u);

/* ---- transactions ---- */

struct md_txn {
    struct md_store *store;
    struct md_snapshot *snap; /* reads go through it when not NULL */
    struct md_tree overlay;   /* key -> value or tombstone */
    struct md_batch *batch;   /* the same writes, in order */
};

struct md_txn_savepoint {
    struct md_tree_node *root;
    size_t count, nops;
};

int md_txn_init(struct md_txn *t, struct md_store *store);
/* A transaction whose store reads all come from one snapshot taken now:
 * for queries running beside the applying thread. */
int md_txn_init_snapshot(struct md_txn *t, struct md_store *store);
void md_txn_destroy(struct md_txn *t);
/* Like md_store_get, through the overlay. */
int md_txn_get(struct md_txn *t, const void *key, size_t klen, void **val, size_t *vlen);
int md_txn_put(struct md_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
int md_txn_del(struct md_txn *t, const void *key, size_t klen);
/* Unpacks the value at key into *out (free with protobuf_c_message_free_unpacked).
 * CAIRN_E_NOTFOUND, CAIRN_E_CORRUPT (undecodable value) or CAIRN_E_NOMEM. */
int md_txn_get_msg(struct md_txn *t, const struct md_key *key,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
int md_txn_put_msg(struct md_txn *t, const struct md_key *key, const ProtobufCMessage *msg);
void md_txn_save(struct md_txn *t, struct md_txn_savepoint *sp);
/* Undo every write since sp (sp is consumed). */
void md_txn_rollback(struct md_txn *t, struct md_txn_savepoint *sp);
/* Forget sp without undoing. */
void md_txn_release(struct md_txn_savepoint *sp);

/* Ordered iteration over store + overlay (tombstones hidden). */
struct md_titer;
int md_titer_new(struct md_txn *t, struct md_titer **out);
void md_titer_free(struct md_titer *it);
void md_titer_seek(struct md_titer *it, const void *key, size_t klen);
int md_titer_valid(const struct md_titer *it);
void md_titer_next(struct md_titer *it);
const void *md_titer_key(const struct md_titer *it, size_t *klen);
const void *md_titer_value(const struct md_titer *it, size_t *vlen);
int md_titer_status(const struct md_titer *it);
/* 1 if the iterator is valid and its key begins with prefix[0..n). */
int md_titer_has_prefix(const struct md_titer *it, const void *prefix, size_t n);

#endif
