/* md_cmd_ver: versioning and object lock on the wire -- the version id
 * format every process agrees on, and the builders of the commands and
 * queries of versioned buckets (docs/metadata.md "Versions"). Same
 * conventions as md_cmd.h: every builder packs one md.Command or md.Query
 * into a malloc'ed *out (free() it) and returns 0, CAIRN_E_INVAL or
 * CAIRN_E_NOMEM; NULL strings mean "". */
#ifndef CAIRN_MD_CMD_VER_H
#define CAIRN_MD_CMD_VER_H

#include "md_cmd.h"

#include <stddef.h>
#include <stdint.h>

/* A version id as S3 clients see it: "null" for the null version, else 16
 * lowercase hex digits of the version's commit sequence (nonzero). Ids are
 * never reused: the sequence is global to the state machine. */
#define MD_VERSION_ID_LEN 16
#define MD_VERSION_ID_CAP (MD_VERSION_ID_LEN + 1)

/* Writes the id of the version (vseq, is_null) into out. */
void md_version_id_format(uint64_t vseq, int is_null, char out[MD_VERSION_ID_CAP]);

/* Parses id: "null" gives *is_null 1 (and *vseq 0); 16 lowercase hex digits
 * naming a nonzero sequence give *vseq and *is_null 0. Returns 0 or
 * CAIRN_E_INVAL (no version can have that id). */
int md_version_id_parse(const char *id, uint64_t *vseq, int *is_null);

/* The id of a stored record (ObjectRecord.vseq / null_version): vseq 0 or
 * null_version is the null version. */
void md_version_id_of(const Md__ObjectRecord *rec, char out[MD_VERSION_ID_CAP]);

/* DeleteObject of one version (version_id "null" or an id), or with
 * version_id NULL/"" of the key as md_cmd_delete_object does it (a delete
 * marker in a versioned bucket). bypass: the caller may bypass GOVERNANCE
 * retention; now_ms: the proposer's clock for retention; owner (may be
 * NULL): the deleter, owner of a delete marker it makes. */
int md_cmd_delete_version(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                          const char *version_id, enum md_cond cond, const char *if_match,
                          int bypass, int64_t now_ms, const struct md_owner_desc *owner,
                          uint8_t **out, size_t *outlen);

/* One key of a DeleteObjects command in a bucket that may be versioned. */
struct md_delete_version_desc {
    const char *key;
    const char *version_id; /* NULL/"": the key; else that version */
    enum md_cond cond;      /* MD_COND_NONE or MD_COND_IF_MATCH */
    const char *if_match;
};

/* DeleteObjects of up to 1000 keys or versions, decided one by one; the
 * Result's keys[i] holds entry i's status, reason, whether it existed, and
 * the version removed or the delete marker made (version_id, delete_marker).
 * bypass, now_ms and owner (the deleter: a delete marker's owner; may be
 * NULL) apply to every entry. */
int md_cmd_delete_versions(uint64_t client_id, uint64_t seq, const char *bucket,
                           const struct md_delete_version_desc *objs, size_t n, int bypass,
                           int64_t now_ms, const struct md_owner_desc *owner, uint8_t **out,
                           size_t *outlen);

/* PutBucketVersioning: status MD__VERSIONING_STATUS__VERSIONING_ENABLED or
 * _SUSPENDED. */
int md_cmd_put_bucket_versioning(uint64_t client_id, uint64_t seq, const char *bucket, int status,
                                 uint8_t **out, size_t *outlen);

/* CreateBucket with x-amz-bucket-object-lock-enabled (versioning on, lock on)
 * when object_lock, else as md_cmd_create_bucket_owned. */
int md_cmd_create_bucket_locked(uint64_t client_id, uint64_t seq, const char *bucket,
                                const struct md_owner_desc *owner, int object_lock, int64_t now_ms,
                                uint8_t **out, size_t *outlen);

/* PutObjectLockConfiguration: enables object lock (versioned bucket) and sets
 * the default retention (mode LOCK_NONE: none; else exactly one of days and
 * years nonzero). */
int md_cmd_put_object_lock_config(uint64_t client_id, uint64_t seq, const char *bucket, int mode,
                                  uint32_t days, uint32_t years, uint8_t **out, size_t *outlen);

/* PutObjectRetention of version_id (NULL/"": the current version); mode
 * LOCK_NONE removes it. */
int md_cmd_put_object_retention(uint64_t client_id, uint64_t seq, const char *bucket,
                                const char *key, const char *version_id, int mode,
                                int64_t retain_until_ms, int bypass, int64_t now_ms, uint8_t **out,
                                size_t *outlen);

int md_cmd_put_object_legal_hold(uint64_t client_id, uint64_t seq, const char *bucket,
                                 const char *key, const char *version_id, int on, uint8_t **out,
                                 size_t *outlen);

/* CreateMultipartUpload whose object gets the object lock lock (NULL: none)
 * on completion; otherwise as md_cmd_create_upload_owned. */
int md_cmd_create_upload_locked(uint64_t client_id, uint64_t seq, const char *bucket,
                                const char *key, const char *upload_id,
                                const struct md_owner_desc *owner,
                                const struct md_attrs_desc *attrs, const struct md_lock_desc *lock,
                                int64_t now_ms, uint8_t **out, size_t *outlen);

/* PutObjectTagging of one version (version_id NULL/"": the current one; n 0:
 * DeleteObjectTagging). */
int md_cmd_put_object_tagging_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                      const char *key, const char *version_id,
                                      const struct md_tag *tags, size_t n, uint8_t **out,
                                      size_t *outlen);

/* PutObjectAcl of one version (version_id NULL/"": the current one). */
int md_cmd_put_object_acl_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                  const char *key, const char *version_id, const void *acl,
                                  size_t acl_len, uint8_t **out, size_t *outlen);

/* GetObject of one version (NULL/"": the current one); with_bucket as
 * md_q_get_object_and_bucket. A delete marker answers with the marker in
 * QueryResult.marker (status NOTFOUND, reason R_NO_SUCH_KEY for the current
 * version, R_DELETE_MARKER when asked by id). */
int md_q_get_version(const char *bucket, const char *key, const char *version_id, int with_bucket,
                     uint8_t **out, size_t *outlen);

/* ListObjectVersions. */
int md_q_list_versions(const char *bucket, const char *prefix, const char *delimiter,
                       const char *key_marker, const char *version_id_marker, uint32_t max_keys,
                       uint8_t **out, size_t *outlen);

#endif
