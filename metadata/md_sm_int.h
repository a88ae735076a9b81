/* Private to the state machine's files (md_sm*.c; md_check.c, which checks
 * their invariants, uses the key encoding): the execution context of one
 * command, the key encoding, and the handlers each file provides. A
 * handler returns 0 (applied), REFUSED (a logical failure recorded in
 * x->res, nothing changed) or a negative CAIRN_E_* (an internal failure: the
 * whole slot fails). */
#ifndef CAIRN_MD_SM_INT_H
#define CAIRN_MD_SM_INT_H

#include "md_sm.h"
#include "md_txn.h"
#include "meta.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct md_sm {
    struct md_store *store;
    struct md_sm_options opt;
    uint64_t applied_index;
    uint64_t next_garbage_seq;
    uint64_t session_count;
    uint64_t last_version_seq;
};

/* Handler outcome besides 0 and negative CAIRN_E_* (internal failures). */
#define REFUSED 1

/* One command's execution context. */
struct exec {
    struct md_sm *sm;
    struct md_txn *txn;
    uint64_t index;
    uint64_t next_garbage_seq;
    uint64_t session_count;
    uint64_t last_version_seq;
    Md__Result *res;
    char etag_buf[64];                /* CompleteUpload's computed ETag */
    char vid_buf[24];                 /* Result.version_id */
    Md__KeyResult *owned_key_results; /* DeleteObjects: freed after packing */
    Md__KeyResult **owned_key_result_ptrs;
    char (*owned_vids)[24]; /* DeleteObjects: each key's version id */
};

#define unpack_as(x, key, type, out)                                                               \
    md_txn_get_msg((x)->txn, (key), &md__##type##__descriptor, (ProtobufCMessage **)(out))
#define free_msg(m)        protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL)
#define put_msg(x, key, m) md_txn_put_msg((x)->txn, (key), (const ProtobufCMessage *)(m))

/* ---- the top-level names index (md_sm_topnames.c) ---- */

/* Adds or removes the "SD" entries of every object key the transaction wrote
 * or deleted (run once per slot, after its commands, before the write).
 * Returns 0 or an error (CAIRN_E_NOMEM, the store's, CAIRN_E_CORRUPT). */
int topnames_update(struct md_txn *t);
/* The index key of the object key ok ("So" bucket 0 name) into *tk.
 * Returns 0, or CAIRN_E_CORRUPT for an object key without a bucket separator. */
int topname_of(const unsigned char *ok, size_t okl, struct md_key *tk);
/* Builds the index of a store that has none (format 1) from its objects, in
 * batches written as it goes (idempotent: an interrupted build is redone).
 * Returns 0 or the store's error. */
int topnames_build(struct md_store *store);

/* ---- keys (docs/metadata.md) ---- */

static inline void key_bucket(struct md_key *k, const char *bucket)
{
    md_key_start(k, MD_K_BUCKET);
    md_key_str(k, bucket);
}

static inline void key_object(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_OBJECT);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
}

static inline void key_upload(struct md_key *k, const char *bucket, const char *key,
                              const char *uid)
{
    md_key_start(k, MD_K_UPLOAD);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
    md_key_str(k, uid);
}

static inline void key_part_prefix(struct md_key *k, const char *bucket, const char *key,
                                   const char *uid)
{
    md_key_start(k, MD_K_PART);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
    md_key_str(k, uid);
    md_key_byte(k, 0);
}

/* One uploaded copy of a part: the prefix, be32 part number, then the 16
 * bytes of its MD5 (the ETag), so copies of one number with different
 * contents coexist until completion picks one by ETag. (Stores written
 * before that have keys without the MD5; they are read and deleted as
 * they are.) */
#define MD_PART_SUFFIX_MAX 20
static inline void key_part(struct md_key *k, const char *bucket, const char *key, const char *uid,
                            uint32_t number, const unsigned char md5[16])
{
    key_part_prefix(k, bucket, key, uid);
    md_key_be32(k, number);
    md_key_bytes(k, md5, 16);
}

/* "SV" bucket 0 key 0: the prefix of the key's noncurrent versions. */
static inline void key_version_prefix(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_VERSION);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
}

/* One noncurrent version: the prefix and be64(~vseq), so a key's versions
 * sort newest first (and vseq 0, a null version from before versioning, last). */
static inline void key_version(struct md_key *k, const char *bucket, const char *key, uint64_t vseq)
{
    key_version_prefix(k, bucket, key);
    md_key_be64(k, ~vseq);
}

static inline void key_nullver(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_NULLVER);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
}

static inline void key_cs(struct md_key *k, uint64_t id)
{
    md_key_start(k, MD_K_CS);
    md_key_be64(k, id);
}

static inline void key_locator(struct md_key *k, const uint8_t *gid)
{
    md_key_start(k, MD_K_LOCATOR);
    md_key_bytes(k, gid, 16);
}

/* "SP" group id: a packed group's record (issue #17); its locator names it. */
static inline void key_packed(struct md_key *k, const uint8_t *gid)
{
    md_key_start(k, MD_K_PACKED);
    md_key_bytes(k, gid, 16);
}

/* "SE" group id, be64 group_offset: which record's packed extent starts
 * at group_offset of the packed group (the compactor's reverse index). */
static inline void key_packidx(struct md_key *k, const uint8_t *gid, uint64_t group_offset)
{
    md_key_start(k, MD_K_PACKIDX);
    md_key_bytes(k, gid, 16);
    md_key_be64(k, group_offset);
}

static inline void key_fragment(struct md_key *k, uint64_t cs, const uint8_t *gid, uint32_t idx)
{
    md_key_start(k, MD_K_FRAGMENT);
    md_key_be64(k, cs);
    md_key_bytes(k, gid, 16);
    md_key_be32(k, idx);
}

static inline void key_garbage(struct md_key *k, uint64_t seq)
{
    md_key_start(k, MD_K_GARBAGE);
    md_key_be64(k, seq);
}

static inline void key_garbage_cs(struct md_key *k, uint64_t cs, uint64_t seq)
{
    md_key_start(k, MD_K_GARB_CS);
    md_key_be64(k, cs);
    md_key_be64(k, seq);
}

static inline void key_access(struct md_key *k, const char *id)
{
    md_key_start(k, MD_K_ACCESS);
    md_key_str(k, id);
}

static inline void key_session(struct md_key *k, uint64_t client)
{
    md_key_start(k, MD_K_SESSION);
    md_key_be64(k, client);
}

static inline void key_session_age(struct md_key *k, uint64_t index, uint64_t client)
{
    md_key_start(k, MD_K_SESS_AGE);
    md_key_be64(k, index);
    md_key_be64(k, client);
}

static inline void key_user(struct md_key *k, const char *name)
{
    md_key_start(k, MD_K_USER);
    md_key_str(k, name);
}

/* "SO" owner 0 bucket; with bucket "" the prefix of the owner's buckets. */
static inline void key_owned(struct md_key *k, const char *owner, const char *bucket)
{
    md_key_start(k, MD_K_OWNED);
    md_key_str(k, owner);
    md_key_byte(k, 0);
    md_key_str(k, bucket);
}

static inline void key_replica(struct md_key *k, uint32_t id)
{
    md_key_start(k, MD_K_REPLICA);
    md_key_be32(k, id);
}

/* ---- shared by the handler files ---- */
int sm_refuse(struct exec *x, int status, Md__Reason reason, const char *detail);
int sm_garbage_append(struct exec *x, Md__ChunkGroup *g, int never_live);
int sm_index_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                    const struct md_key *record_key);
int sm_relocate_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                       const struct md_key *record_key);
int sm_retire_groups(struct exec *x, Md__Extent *const *ext, size_t n);
int sm_valid_extents(const struct md_sm *sm, Md__Extent *const *ext, size_t n, uint64_t size);
int sm_valid_group(const struct md_sm *sm, const Md__ChunkGroup *g);
int sm_check_cond(struct exec *x, Md__Cond cond, const char *if_match, const Md__ObjectRecord *cur);
int sm_cmd_create_bucket(struct exec *x, const Md__CreateBucket *c);
int sm_cmd_delete_bucket(struct exec *x, const Md__DeleteBucket *c);
int sm_cmd_delete_object(struct exec *x, const Md__DeleteObject *c);
int sm_cmd_delete_objects(struct exec *x, const Md__DeleteObjects *c);
int sm_cmd_put_object(struct exec *x, const Md__PutObject *c);
/* PutObject of a record whose extents the caller has already validated
 * (CommitPacked's packed extents); otherwise as sm_cmd_put_object. */
int sm_put_object_checked(struct exec *x, const Md__PutObject *c);
int sm_cmd_load_objects(struct exec *x, const Md__LoadObjects *c);
int sm_cmd_update_attrs(struct exec *x, const Md__UpdateAttrs *c);
int sm_load_object(struct exec *x, const struct md_key *k, Md__ObjectRecord **out);
/* The bucket must exist and the key be valid (else REFUSED); then loads the
 * object at bucket/key into *out (NULL when absent), its store key in *k. */
int sm_object_at(struct exec *x, const char *bucket, const char *key, struct md_key *k,
                 Md__ObjectRecord **out);
int sm_need_bucket(struct exec *x, const char *bucket);
int sm_store_object(struct exec *x, const struct md_key *k, const Md__ObjectRecord *rec,
                    Md__ObjectRecord *old, int index_new);
int sm_cmd_abort_upload(struct exec *x, const Md__AbortUpload *c);
int sm_cmd_complete_upload(struct exec *x, const Md__CompleteUpload *c);
int sm_cmd_create_upload(struct exec *x, const Md__CreateUpload *c);
int sm_cmd_put_part(struct exec *x, const Md__PutPart *c);
int sm_cmd_create_key(struct exec *x, const Md__CreateAccessKey *c);
int sm_cmd_create_user(struct exec *x, const Md__CreateUser *c);
int sm_cmd_delete_user(struct exec *x, const Md__DeleteUser *c);
int sm_cmd_set_key_state(struct exec *x, const Md__SetKeyState *c);
int sm_cmd_set_quota(struct exec *x, const Md__SetQuota *c);
int sm_cmd_put_bucket_acl(struct exec *x, const Md__PutBucketAcl *c);
int sm_cmd_put_bucket_policy(struct exec *x, const Md__PutBucketPolicy *c);
int sm_cmd_put_object_acl(struct exec *x, const Md__PutObjectAcl *c);
/* md_sm_tagging.c: tag sets and CORS, each replaced whole */
int sm_cmd_put_object_tagging(struct exec *x, const Md__PutObjectTagging *c);
int sm_cmd_put_bucket_tagging(struct exec *x, const Md__PutBucketTagging *c);
int sm_cmd_put_bucket_cors(struct exec *x, const Md__PutBucketCors *c);
/* md_sm_lifecycle.c: lifecycle configuration and the worker's expirations */
int sm_cmd_put_bucket_lifecycle(struct exec *x, const Md__PutBucketLifecycle *c);
int sm_cmd_lifecycle_expire(struct exec *x, const Md__LifecycleExpire *c);
/* Adds (dbytes, dobjects) to the bucket's usage and to its owner's; REFUSED
 * (QuotaExceeded) when growing goes over the bucket's or the owner's quota. */
int sm_charge(struct exec *x, const char *bucket, int64_t dbytes, int64_t dobjects);
int sm_cmd_delete_key(struct exec *x, const Md__DeleteAccessKey *c);
int sm_cmd_garbage_ack(struct exec *x, const Md__GarbageAck *c);
int sm_cmd_garbage_add(struct exec *x, const Md__GarbageAdd *c);
int sm_cmd_move_fragment(struct exec *x, const Md__MoveFragment *c);
int sm_cmd_register_cs(struct exec *x, const Md__RegisterChunkserver *c);
int sm_cmd_set_cs_state(struct exec *x, const Md__SetChunkserverState *c);
int sm_cmd_set_replica(struct exec *x, const Md__SetReplica *c);

/* ---- packed groups (md_sm_packed.c, issue #17) ---- */

int sm_cmd_open_group(struct exec *x, const Md__OpenGroup *c);
int sm_cmd_commit_packed(struct exec *x, const Md__CommitPacked *c);
int sm_cmd_seal_group(struct exec *x, const Md__SealGroup *c);
int sm_cmd_compact_group(struct exec *x, const Md__CompactGroup *c);
/* A record's packed extent e became live in the record at record_key: its
 * group's live bytes and extents grow and the "SE" index names record_key
 * at e's offset. CAIRN_E_CORRUPT if the group has no record. */
int sm_packed_hold(struct exec *x, const Md__Extent *e, const struct md_key *record_key);
/* The record holding packed extent e moved to record_key (a version
 * becoming noncurrent or current again): the "SE" index follows it. */
int sm_packed_relocate(struct exec *x, const Md__Extent *e, const struct md_key *record_key);
/* A record's packed extent e is no longer referenced: its group's live
 * bytes and extents shrink and its "SE" entry goes; a sealed group left
 * with no live extent goes to the garbage list and its record, locator and
 * fragment keys go. */
int sm_packed_release(struct exec *x, const Md__Extent *e);

/* ---- versions and object lock (md_sm_versions.c, md_sm_lock.c) ---- */

/* Where a version lives: the current object ("So") or among the noncurrent
 * versions ("SV"). */
struct sm_version {
    Md__ObjectRecord *rec; /* owned (free_msg) */
    struct md_key k;       /* its store key */
    int current;           /* 1: "So", 0: "SV" */
};

/* 1 if rec is the null version. */
int sm_is_null(const Md__ObjectRecord *rec);
/* Loads the bucket record (REFUSED NoSuchBucket / invalid name). */
int sm_load_bucket(struct exec *x, const char *bucket, Md__BucketRecord **out);
/* Writes the new current object rec (owned by the caller, not yet stored)
 * of bucket b at key k ("So" bucket/key) whose current object is old (NULL:
 * none), as b's versioning says: unversioned, old's groups retire; enabled,
 * old becomes noncurrent; suspended, the key's null version goes (lock
 * permitting) and old becomes noncurrent. Gives rec its vseq (versioned
 * buckets), indexes its groups when index_new (else the caller pointed the
 * locators at k), charges the usage, and sets the Result's version id. */
int sm_write_current(struct exec *x, const Md__BucketRecord *b, const char *key,
                     const struct md_key *k, Md__ObjectRecord *rec, Md__ObjectRecord *old,
                     int index_new, int64_t now_ms);
/* Finds version vid ("" = the current object, which may be absent) of
 * bucket/key. 0 with *v (v->rec NULL when there is none); REFUSED for a
 * malformed id (R_BAD_VERSION_ID). */
int sm_find_version(struct exec *x, const char *bucket, const char *key, const char *vid,
                    struct sm_version *v);
void sm_version_free(struct sm_version *v);
/* Rewrites a version in place (lock or ACL changes; same key, same groups). */
int sm_rewrite_version(struct exec *x, const struct sm_version *v);
/* DeleteObject in a bucket that is or was versioned, or of a version id. */
int sm_delete_versioned(struct exec *x, const Md__BucketRecord *b, const Md__DeleteObject *c);
/* 1 if any version or delete marker of the bucket exists, 0 if none, or an error. */
int sm_bucket_has_versions(struct exec *x, const char *bucket);
int sm_cmd_put_bucket_versioning(struct exec *x, const Md__PutBucketVersioning *c);

/* 1 if the object lock of rec forbids removing it or shortening its
 * retention at time now (bypass: GOVERNANCE may be bypassed). */
int sm_lock_holds(const Md__ObjectRecord *rec, int64_t now_ms, int bypass);
/* Checks the lock fields a new version asks for against bucket b and fills
 * in b's default retention (from now_ms) when it asks for none. REFUSED
 * for lock fields in a bucket without object lock, or a bad mode/date. */
int sm_lock_new_version(struct exec *x, const Md__BucketRecord *b, Md__ObjectRecord *rec,
                        int64_t now_ms);
int sm_cmd_put_object_lock_config(struct exec *x, const Md__PutObjectLockConfig *c);
int sm_cmd_put_object_retention(struct exec *x, const Md__PutObjectRetention *c);
int sm_cmd_put_object_legal_hold(struct exec *x, const Md__PutObjectLegalHold *c);
/* t_ms plus days days and years calendar years (UTC; Feb 29 + 1 year = Mar 1). */
int64_t sm_add_period(int64_t t_ms, uint32_t days, uint32_t years);

#endif
