#include "md_cmd_ver.h"
#include "md_cmd_int.h"
#include "cn_error.h"
#include "cn_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(s) md_cmd_str(s)

#define pack_cmd md_cmd_pack

void md_version_id_format(uint64_t vseq, int is_null, char out[MD_VERSION_ID_CAP])
{
    if (is_null || vseq == 0)
        snprintf(out, MD_VERSION_ID_CAP, "null");
    else
        snprintf(out, MD_VERSION_ID_CAP, "%016llx", (unsigned long long)vseq);
}

int md_version_id_parse(const char *id, uint64_t *vseq, int *is_null)
{
    *vseq = 0;
    *is_null = 0;
    if (!id)
        return CAIRN_E_INVAL;
    if (strcmp(id, "null") == 0) {
        *is_null = 1;
        return 0;
    }
    if (strlen(id) != MD_VERSION_ID_LEN)
        return CAIRN_E_INVAL;
    uint64_t v = 0;
    for (int i = 0; i < MD_VERSION_ID_LEN; i++) {
        char c = id[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return CAIRN_E_INVAL;
        v = v << 4 | d;
    }
    if (v == 0)
        return CAIRN_E_INVAL;
    *vseq = v;
    return 0;
}

void md_version_id_of(const Md__ObjectRecord *rec, char out[MD_VERSION_ID_CAP])
{
    md_version_id_format(rec->vseq, rec->null_version, out);
}

int md_cmd_delete_version(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                          const char *version_id, enum md_cond cond, const char *if_match,
                          int bypass, int64_t now_ms, const struct md_owner_desc *owner,
                          uint8_t **out, size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    Md__DeleteObject d = MD__DELETE_OBJECT__INIT;
    d.bucket = S(bucket);
    d.key = S(key);
    d.cond = (Md__Cond)cond;
    d.if_match = S(if_match);
    d.version_id = S(version_id);
    d.bypass_governance = bypass != 0;
    d.now_ms = now_ms;
    d.owner = S(owner ? owner->user : NULL);
    d.owner_id = S(owner ? owner->id : NULL);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_DELETE_OBJECT;
    c.delete_object = &d;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_delete_versions(uint64_t client_id, uint64_t seq, const char *bucket,
                           const struct md_delete_version_desc *objs, size_t n, int bypass,
                           int64_t now_ms, const struct md_owner_desc *owner, uint8_t **out,
                           size_t *outlen)
{
    if (!bucket || (n && !objs))
        return CAIRN_E_INVAL;
    Md__DeleteObject *d = calloc(n ? n : 1, sizeof(*d));
    Md__DeleteObject **dp = calloc(n ? n : 1, sizeof(*dp));
    int rc = CAIRN_E_NOMEM;
    if (d && dp) {
        for (size_t i = 0; i < n; i++) {
            md__delete_object__init(&d[i]);
            d[i].key = S(objs[i].key);
            d[i].version_id = S(objs[i].version_id);
            d[i].cond = (Md__Cond)objs[i].cond;
            d[i].if_match = S(objs[i].if_match);
            d[i].bypass_governance = bypass != 0;
            d[i].now_ms = now_ms;
            d[i].owner = S(owner ? owner->user : NULL);
            d[i].owner_id = S(owner ? owner->id : NULL);
            dp[i] = &d[i];
        }
        Md__DeleteObjects m = MD__DELETE_OBJECTS__INIT;
        m.bucket = S(bucket);
        m.n_objects = n;
        m.objects = dp;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_DELETE_OBJECTS;
        c.delete_objects = &m;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    free(d);
    free(dp);
    return rc;
}

int md_cmd_put_bucket_versioning(uint64_t client_id, uint64_t seq, const char *bucket, int status,
                                 uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__PutBucketVersioning v = MD__PUT_BUCKET_VERSIONING__INIT;
    v.bucket = S(bucket);
    v.status = (Md__VersioningStatus)status;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_BUCKET_VERSIONING;
    c.put_bucket_versioning = &v;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_create_bucket_locked(uint64_t client_id, uint64_t seq, const char *bucket,
                                const struct md_owner_desc *owner, int object_lock, int64_t now_ms,
                                uint8_t **out, size_t *outlen)
{
    if (!bucket || !owner || (!owner->acl && owner->acl_len))
        return CAIRN_E_INVAL;
    Md__CreateBucket b = MD__CREATE_BUCKET__INIT;
    b.bucket = S(bucket);
    b.owner = S(owner->user);
    b.owner_id = S(owner->id);
    b.acl = (ProtobufCBinaryData){owner->acl_len, (uint8_t *)owner->acl};
    b.storage_class = S("");
    b.now_ms = now_ms;
    b.object_lock = object_lock != 0;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_CREATE_BUCKET;
    c.create_bucket = &b;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_object_lock_config(uint64_t client_id, uint64_t seq, const char *bucket, int mode,
                                  uint32_t days, uint32_t years, uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__LockConfig lc = MD__LOCK_CONFIG__INIT;
    lc.enabled = 1;
    lc.default_mode = (Md__LockMode)mode;
    lc.default_days = days;
    lc.default_years = years;
    Md__PutObjectLockConfig p = MD__PUT_OBJECT_LOCK_CONFIG__INIT;
    p.bucket = S(bucket);
    p.config = &lc;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT_LOCK_CONFIG;
    c.put_object_lock_config = &p;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_object_retention(uint64_t client_id, uint64_t seq, const char *bucket,
                                const char *key, const char *version_id, int mode,
                                int64_t retain_until_ms, int bypass, int64_t now_ms, uint8_t **out,
                                size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    Md__PutObjectRetention p = MD__PUT_OBJECT_RETENTION__INIT;
    p.bucket = S(bucket);
    p.key = S(key);
    p.version_id = S(version_id);
    p.mode = (Md__LockMode)mode;
    p.retain_until_ms = retain_until_ms;
    p.bypass_governance = bypass != 0;
    p.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT_RETENTION;
    c.put_object_retention = &p;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_object_legal_hold(uint64_t client_id, uint64_t seq, const char *bucket,
                                 const char *key, const char *version_id, int on, uint8_t **out,
                                 size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    Md__PutObjectLegalHold p = MD__PUT_OBJECT_LEGAL_HOLD__INIT;
    p.bucket = S(bucket);
    p.key = S(key);
    p.version_id = S(version_id);
    p.on = on != 0;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT_LEGAL_HOLD;
    c.put_object_legal_hold = &p;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_create_upload_locked(uint64_t client_id, uint64_t seq, const char *bucket,
                                const char *key, const char *upload_id,
                                const struct md_owner_desc *owner,
                                const struct md_attrs_desc *attrs, const struct md_lock_desc *lock,
                                int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!lock)
        return md_cmd_create_upload_owned(client_id, seq, bucket, key, upload_id, owner, attrs,
                                          now_ms, out, outlen);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = md_cmd_create_upload_owned(client_id, seq, bucket, key, upload_id, owner, attrs,
                                        now_ms, &plain, &plain_len);
    if (rc)
        return rc;
    /* The same command with the lock fields set: unpack, set, repack. */
    Md__Command *c = md__command__unpack(NULL, plain_len, plain);
    free(plain);
    if (!c)
        return CAIRN_E_NOMEM;
    c->create_upload->lock_mode = (Md__LockMode)lock->mode;
    c->create_upload->retain_until_ms = lock->retain_until_ms;
    c->create_upload->legal_hold = lock->legal_hold != 0;
    rc = cn_pb_pack(&c->base, out, outlen);
    md__command__free_unpacked(c, NULL);
    return rc;
}

int md_cmd_put_object_acl_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                  const char *key, const char *version_id, const void *acl,
                                  size_t acl_len, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || (!acl && acl_len))
        return CAIRN_E_INVAL;
    Md__PutObjectAcl p = MD__PUT_OBJECT_ACL__INIT;
    p.bucket = S(bucket);
    p.key = S(key);
    p.acl = (ProtobufCBinaryData){acl_len, (uint8_t *)acl};
    p.version_id = S(version_id);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT_ACL;
    c.put_object_acl = &p;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_q_get_version(const char *bucket, const char *key, const char *version_id, int with_bucket,
                     uint8_t **out, size_t *outlen)
{
    Md__GetObjectQ m = MD__GET_OBJECT_Q__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.with_bucket = with_bucket != 0;
    m.version_id = S(version_id);
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_GET_OBJECT;
    q.get_object = &m;
    return cn_pb_pack(&q.base, out, outlen);
}

int md_q_list_versions(const char *bucket, const char *prefix, const char *delimiter,
                       const char *key_marker, const char *version_id_marker, uint32_t max_keys,
                       uint8_t **out, size_t *outlen)
{
    Md__ListVersionsQ m = MD__LIST_VERSIONS_Q__INIT;
    m.bucket = S(bucket);
    m.prefix = S(prefix);
    m.delimiter = S(delimiter);
    m.key_marker = S(key_marker);
    m.version_id_marker = S(version_id_marker);
    m.max_keys = max_keys;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_LIST_VERSIONS;
    q.list_versions = &m;
    return cn_pb_pack(&q.base, out, outlen);
}
