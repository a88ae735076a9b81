/* md_cmd: builders for state-machine commands and queries, and result
 * parsing, so callers (gateway, chunkserver heartbeats via the leader, cli)
 * never fill protobuf structs by hand.
 *
 * Every md_cmd_* builder packs one md.Command into a malloc'ed buffer
 * (*out, *outlen; free() it) and returns 0, CAIRN_E_INVAL (a required
 * argument missing) or CAIRN_E_NOMEM. Strings are copied into the packed
 * bytes; NULL strings mean "". (client_id, seq) are the caller's request id:
 * one command in flight per client_id, seq 1, 2, 3, ... (md_sm.h).
 *
 * Every md_q_* builder packs one md.Query the same way; md_query() (or the
 * daemon's read path) runs it. */
#ifndef CAIRN_MD_CMD_H
#define CAIRN_MD_CMD_H

#include "meta.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* One chunk group; fragment_cs has k+m entries (0 = no location). */
struct md_group_desc {
    uint8_t id[16];
    uint32_t k, m, unit;
    uint64_t data_length;
    const uint64_t *fragment_cs;
};

struct md_meta_kv {
    const char *name, *value;
};

/* One S3 tag (object or bucket tagging). */
struct md_tag {
    const char *key, *value;
};

struct md_attrs_desc {
    const char *content_type, *content_encoding, *content_disposition, *cache_control;
    const char *expires, *content_language, *storage_class;
    const struct md_meta_kv *user_meta;
    size_t n_user_meta;
    const struct md_tag *tags; /* the object's tag set (ObjectAttrs.tags) */
    size_t n_tags;
};

/* Who owns what a command creates (a bucket, an object, an upload) and its
 * ACL in the gateway's encoding; all may be NULL/0 (no owner, no ACL). */
struct md_owner_desc {
    const char *user; /* user name */
    const char *id;   /* the user's canonical id */
    const void *acl;
    size_t acl_len;
};

/* Object lock of a new version (PutObject, CopyObject, CreateMultipartUpload):
 * mode is an Md__LockMode (0: none) with its retain_until_ms; all 0: none. */
struct md_lock_desc {
    int mode;
    int64_t retain_until_ms;
    int legal_hold;
};

/* An object to store: inline (has_inline, inline_len == size) or groups in
 * object order (their data lengths add up to size; offsets are computed). */
struct md_object_desc {
    uint64_t size;
    const char *etag; /* without quotes */
    int64_t mtime_ms;
    struct md_attrs_desc attrs;
    int has_inline;
    const void *inline_data;
    size_t inline_len;
    const struct md_group_desc *groups;
    size_t n_groups;
    struct md_owner_desc owner;
    struct md_lock_desc lock; /* object lock of the version (all 0: none) */
};

enum md_cond {
    MD_COND_NONE = 0,
    MD_COND_IF_NONE_MATCH = 1, /* If-None-Match: * */
    MD_COND_IF_MATCH = 2,      /* If-Match: etag ("*" = exists) */
};

struct md_part_ref {
    uint32_t part_number;
    const char *etag;
};

struct md_cs_desc {
    uint64_t id;
    const char *address, *host, *rack, *zone;
    uint64_t capacity, free;
};

int md_cmd_noop(uint64_t client_id, uint64_t seq, uint8_t **out, size_t *outlen);
int md_cmd_create_bucket(uint64_t client_id, uint64_t seq, const char *bucket, const char *owner,
                         const char *storage_class, int public_read, int64_t now_ms, uint8_t **out,
                         size_t *outlen);
/* CreateBucket with its owner (user, canonical id) and ACL. */
int md_cmd_create_bucket_owned(uint64_t client_id, uint64_t seq, const char *bucket,
                               const struct md_owner_desc *owner, const char *storage_class,
                               int public_read, int64_t now_ms, uint8_t **out, size_t *outlen);
int md_cmd_delete_bucket(uint64_t client_id, uint64_t seq, const char *bucket, uint8_t **out,
                         size_t *outlen);
int md_cmd_put_object(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                      const struct md_object_desc *obj, enum md_cond cond, const char *if_match,
                      uint8_t **out, size_t *outlen);
int md_cmd_delete_object(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                         enum md_cond cond, const char *if_match, uint8_t **out, size_t *outlen);
/* One key of a DeleteObjects command. */
struct md_delete_desc {
    const char *key;
    enum md_cond cond; /* MD_COND_NONE or MD_COND_IF_MATCH */
    const char *if_match;
};

/* S3 DeleteObjects: up to 1000 keys decided one by one; the Result's keys[i]
 * holds key i's status, reason and whether it existed. (Versions and object
 * lock: md_cmd_delete_versions in md_cmd_ver.h.) */
int md_cmd_delete_objects(uint64_t client_id, uint64_t seq, const char *bucket,
                          const struct md_delete_desc *objs, size_t n, uint8_t **out,
                          size_t *outlen);
/* Replaces an object's attributes (not its data, size or ETag) and mtime:
 * S3 CopyObject of an object onto itself with the REPLACE directive. */
int md_cmd_update_attrs(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                        const struct md_attrs_desc *attrs, int64_t mtime_ms, enum md_cond cond,
                        const char *if_match, uint8_t **out, size_t *outlen);
int md_cmd_create_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                         const char *upload_id, const char *owner,
                         const struct md_attrs_desc *attrs, int64_t now_ms, uint8_t **out,
                         size_t *outlen);
/* CreateMultipartUpload with the initiator and the object's ACL. */
int md_cmd_create_upload_owned(uint64_t client_id, uint64_t seq, const char *bucket,
                               const char *key, const char *upload_id,
                               const struct md_owner_desc *owner, const struct md_attrs_desc *attrs,
                               int64_t now_ms, uint8_t **out, size_t *outlen);
/* A part's groups are in part order; offsets are relative to the part. */
int md_cmd_put_part(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                    const char *upload_id, uint32_t part_number, const char *etag, uint64_t size,
                    int64_t mtime_ms, const struct md_group_desc *groups, size_t n_groups,
                    uint8_t **out, size_t *outlen);
int md_cmd_complete_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                           const char *upload_id, const struct md_part_ref *parts, size_t n_parts,
                           enum md_cond cond, const char *if_match, int64_t now_ms, uint8_t **out,
                           size_t *outlen);
int md_cmd_abort_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                        const char *upload_id, uint8_t **out, size_t *outlen);
int md_cmd_register_cs(uint64_t client_id, uint64_t seq, const struct md_cs_desc *cs,
                       int64_t now_ms, uint8_t **out, size_t *outlen);
/* state: -1 = leave unchanged, else an Md__ChunkserverState. space_valid: set
 * capacity and free. */
int md_cmd_set_cs_state(uint64_t client_id, uint64_t seq, uint64_t id, int state, int space_valid,
                        uint64_t capacity, uint64_t free_bytes, int64_t now_ms, uint8_t **out,
                        size_t *outlen);
int md_cmd_move_fragment(uint64_t client_id, uint64_t seq, const uint8_t group_id[16],
                         uint32_t index, uint64_t old_cs, uint64_t new_cs, uint8_t **out,
                         size_t *outlen);
int md_cmd_garbage_add(uint64_t client_id, uint64_t seq, const struct md_group_desc *groups,
                       size_t n, uint8_t **out, size_t *outlen);
/* Entry i: chunkserver cs[i] deleted its fragments of garbage entry seqs[i]. */
int md_cmd_garbage_ack(uint64_t client_id, uint64_t seq, const uint64_t *seqs, const uint64_t *cs,
                       size_t n, uint8_t **out, size_t *outlen);
/* An access key for user owner, creating the user (with a new canonical id)
 * in the same command when it does not exist yet. */
int md_cmd_create_access_key(uint64_t client_id, uint64_t seq, const char *key_id,
                             const char *secret, const char *owner, int admin, int64_t now_ms,
                             uint8_t **out, size_t *outlen);
int md_cmd_delete_access_key(uint64_t client_id, uint64_t seq, const char *key_id, uint8_t **out,
                             size_t *outlen);

/* ---- metadata replicas (docs/deploy.md) ---- */

/* Records replica id's URL (remove: forgets it). */
int md_cmd_set_replica(uint64_t client_id, uint64_t seq, uint32_t id, const char *url, int remove,
                       int64_t now_ms, uint8_t **out, size_t *outlen);
/* The replica records and the membership. */
int md_q_list_replicas(uint8_t **out, size_t *outlen);

/* ---- tenants (docs/security.md) ---- */

/* A user's canonical id (the S3 Owner ID) is 64 lowercase hex digits, drawn
 * at random by whoever proposes the user. */
#define MD_CANONICAL_ID_LEN 64
/* Fills out with a new random canonical id. 0 or CAIRN_E_IO. */
int md_new_canonical_id(char out[MD_CANONICAL_ID_LEN + 1]);

/* An access key for user owner; new_user_id (64 hex, or NULL) creates the
 * user in the same command when it does not exist yet (else NoSuchUser). */
int md_cmd_create_access_key_for(uint64_t client_id, uint64_t seq, const char *key_id,
                                 const char *secret, const char *owner, int admin,
                                 const char *new_user_id, int64_t now_ms, uint8_t **out,
                                 size_t *outlen);
/* A disabled key is refused like an unknown one until enabled again. */
int md_cmd_set_key_state(uint64_t client_id, uint64_t seq, const char *key_id, int disabled,
                         uint8_t **out, size_t *outlen);
/* canonical_id: 64 lowercase hex digits (the S3 Owner ID). */
int md_cmd_create_user(uint64_t client_id, uint64_t seq, const char *name, const char *canonical_id,
                       int64_t now_ms, uint8_t **out, size_t *outlen);
/* Refused (UserHasBuckets) while the user owns a bucket; deletes its keys. */
int md_cmd_delete_user(uint64_t client_id, uint64_t seq, const char *name, uint8_t **out,
                       size_t *outlen);
/* Exactly one of user and bucket (the other NULL); 0 = no limit. */
int md_cmd_set_quota(uint64_t client_id, uint64_t seq, const char *user, const char *bucket,
                     uint64_t max_bytes, uint64_t max_objects, uint8_t **out, size_t *outlen);
/* acl: the gateway's encoding (gw_acl); the state machine stores it as is. */
int md_cmd_put_bucket_acl(uint64_t client_id, uint64_t seq, const char *bucket, const void *acl,
                          size_t acl_len, uint8_t **out, size_t *outlen);
/* policy: JSON already validated by the gateway; "" deletes it. */
int md_cmd_put_bucket_policy(uint64_t client_id, uint64_t seq, const char *bucket,
                             const char *policy, uint8_t **out, size_t *outlen);
int md_cmd_put_object_acl(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                          const void *acl, size_t acl_len, uint8_t **out, size_t *outlen);

/* ---- tagging and CORS (issue #13) ---- */

/* Replaces the tag set of bucket/key with tags[n] (n 0: DeleteObjectTagging).
 * The state machine refuses more than 10 tags or duplicate keys, and a
 * missing object (NoSuchKey). */
int md_cmd_put_object_tagging(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                              const struct md_tag *tags, size_t n, uint8_t **out, size_t *outlen);
/* Replaces a bucket's tag set (n 0: DeleteBucketTagging); at most 50. */
int md_cmd_put_bucket_tagging(uint64_t client_id, uint64_t seq, const char *bucket,
                              const struct md_tag *tags, size_t n, uint8_t **out, size_t *outlen);
/* Replaces a bucket's CORS configuration with cors (borrowed; NULL or no
 * rules: DeleteBucketCors). The gateway validated it (gw_cors.h). */
int md_cmd_put_bucket_cors(uint64_t client_id, uint64_t seq, const char *bucket,
                           const Md__CorsConfig *cors, uint8_t **out, size_t *outlen);

/* ---- lifecycle (issue #13) ---- */

/* Replaces a bucket's lifecycle configuration with lc (borrowed; NULL or no
 * rules: DeleteBucketLifecycle). The gateway validated it (gw_lifecycle.h). */
int md_cmd_put_bucket_lifecycle(uint64_t client_id, uint64_t seq, const char *bucket,
                                const Md__LifecycleConfig *lc, uint8_t **out, size_t *outlen);
/* The lifecycle worker's request to expire bucket/key (upload_id NULL or "")
 * or abort an upload, decided again by the state machine at now_ms with a
 * day of day_ms (> 0). */
int md_cmd_lifecycle_expire(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                            const char *upload_id, int64_t now_ms, int64_t day_ms, uint8_t **out,
                            size_t *outlen);

/* LifecycleExpire of one version of bucket/key (its version id): a noncurrent
 * version, or (expired_marker) the delete marker that is the key's only
 * version. The state machine decides again with the rules and now_ms. */
int md_cmd_lifecycle_expire_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                    const char *key, const char *version_id, int expired_marker,
                                    int64_t now_ms, int64_t day_ms, uint8_t **out, size_t *outlen);

/* ---- packed groups (issue #17, docs/metadata.md "Packed groups") ---- */

/* One object of a CommitPacked batch: obj's fields as for md_cmd_put_object
 * except has_inline/groups (unused); its bytes are [group_offset,
 * group_offset + obj.size) of the group's data. */
struct md_packed_desc {
    const char *bucket, *key;
    struct md_object_desc obj;
    uint64_t group_offset;
    enum md_cond cond;
    const char *if_match;
};

/* OpenGroup: records g (id, k, m, unit, fragment_cs[k+m]; data_length is
 * ignored and recorded as 0) as a new open packed group appended to by writer
 * (a name for status and logs). The state machine refuses a bad geometry
 * (CAIRN_E_INVAL) and a taken id (CAIRN_E_EXISTS). */
int md_cmd_open_group(uint64_t client_id, uint64_t seq, const struct md_group_desc *g,
                      int64_t now_ms, const char *writer, const char *storage_class, uint8_t **out,
                      size_t *outlen);
/* CommitPacked: the open group g (id, k, m and unit are used) grew from
 * old_length (its committed length) to new_length; objs[n] are put as
 * PutObject would, each decided on its own (Result.keys[i]). The group's
 * state is checked by the state machine: CAIRN_E_CONFLICT with
 * R_GROUP_NOT_OPEN (sealed or unknown) or R_LENGTH_MISMATCH. */
int md_cmd_commit_packed(uint64_t client_id, uint64_t seq, const struct md_group_desc *g,
                         uint64_t old_length, uint64_t new_length,
                         const struct md_packed_desc *objs, size_t n, int64_t now_ms, uint8_t **out,
                         size_t *outlen);
/* SealGroup at length (the committed length); fragments_sealed: every
 * chunkserver holding a fragment confirmed it sealed. */
int md_cmd_seal_group(uint64_t client_id, uint64_t seq, const uint8_t group_id[16], uint64_t length,
                      int fragments_sealed, int64_t now_ms, uint8_t **out, size_t *outlen);
/* One live extent a compaction carries (meta.proto CompactMove). */
struct md_compact_move {
    uint64_t old_offset, new_offset, length;
};
/* CompactGroup: the live extents of sealed packed group old_id (moves[n])
 * now also live in the new sealed group g (same k, m, unit; its fragments
 * written and sealed at g->data_length / k). Borrowed arguments. */
int md_cmd_compact_group(uint64_t client_id, uint64_t seq, const uint8_t old_id[16],
                         const struct md_group_desc *g, const struct md_compact_move *moves,
                         size_t n, int64_t now_ms, uint8_t **out, size_t *outlen);
/* ListPackedQ: packed groups with ids after start_after (start_after_len 0:
 * from the first), at most limit (0: a default page), open ones only if
 * open_only. Returns the packed query (malloc'ed, free() it; *len its size)
 * or NULL (bad arguments, no memory). */
uint8_t *md_q_list_packed(const uint8_t *start_after, size_t start_after_len, uint32_t limit,
                          int open_only, size_t *len);

/* Unpacks a packed md.Result (free with md_result_free). NULL on bad bytes. */
Md__Result *md_result_decode(const void *buf, size_t len);
void md_result_free(Md__Result *r);
/* The status (0 or CAIRN_E_*) in a packed result; CAIRN_E_PROTO if undecodable.
 * If reason is not NULL it receives the Md__Reason. */
int md_result_status(const void *buf, size_t len, int *reason);

/* Query builders. */
int md_q_get_object(const char *bucket, const char *key, uint8_t **out, size_t *outlen);
int md_q_head_bucket(const char *bucket, uint8_t **out, size_t *outlen);
int md_q_list_buckets(uint8_t **out, size_t *outlen);
/* The buckets owner owns (owner NULL or "": every bucket). */
int md_q_list_buckets_of(const char *owner, uint8_t **out, size_t *outlen);
/* GetObject whose answer carries the bucket record too (also when the key is
 * missing): one read to authorize and serve a request. */
int md_q_get_object_and_bucket(const char *bucket, const char *key, uint8_t **out, size_t *outlen);
/* Adds Query.caller_key = key_id to the packed query *q[*qlen] (replaced:
 * the old buffer is freed). Returns 0, CAIRN_E_INVAL (not a query) or
 * CAIRN_E_NOMEM. */
int md_q_with_caller(const char *key_id, uint8_t **q, size_t *qlen);
int md_q_get_user(const char *name, uint8_t **out, size_t *outlen);
int md_q_list_users(uint8_t **out, size_t *outlen);
int md_q_list_access_keys_of(const char *owner, uint8_t **out, size_t *outlen);
int md_q_list_objects(const char *bucket, const char *prefix, const char *delimiter,
                      const char *marker, uint32_t max_keys, uint8_t **out, size_t *outlen);
int md_q_list_parts(const char *bucket, const char *key, const char *upload_id,
                    uint32_t part_number_marker, uint32_t max_parts, uint8_t **out, size_t *outlen);
int md_q_list_uploads(const char *bucket, const char *prefix, const char *delimiter,
                      const char *key_marker, const char *upload_id_marker, uint32_t max_uploads,
                      uint8_t **out, size_t *outlen);
int md_q_list_chunkservers(uint8_t **out, size_t *outlen);
int md_q_get_group(const uint8_t group_id[16], uint8_t **out, size_t *outlen);
int md_q_fragments_on(uint64_t cs, const uint8_t *after_group_id, uint32_t after_index,
                      uint32_t max, uint8_t **out, size_t *outlen);
int md_q_list_garbage(uint64_t after_seq, uint32_t max, uint8_t **out, size_t *outlen);
/* Garbage entries holding a fragment on chunkserver cs (what its heartbeat
 * reply should tell it to delete), seq > after_seq. */
int md_q_list_garbage_for(uint64_t cs, uint64_t after_seq, uint32_t max, uint8_t **out,
                          size_t *outlen);
int md_q_get_access_key(const char *key_id, uint8_t **out, size_t *outlen);
int md_q_list_access_keys(uint8_t **out, size_t *outlen);
int md_q_state_info(uint8_t **out, size_t *outlen);

/* Unpacks a packed md.QueryResult (free with md_query_result_free from
 * md_query.h, or md__query_result__free_unpacked). NULL on bad bytes. */
Md__QueryResult *md_query_result_decode(const void *buf, size_t len);

#endif
