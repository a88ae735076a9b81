#include "md_cmd.h"
#include "md_cmd_ver.h"
#include "md_cmd_int.h"
#include "cn_util.h"
#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

#define S(s)     md_cmd_str(s)
#define pack_cmd md_cmd_pack

int md_cmd_pack(uint64_t client_id, uint64_t seq, Md__Command *c, uint8_t **out, size_t *outlen)
{
    c->client_id = client_id;
    c->seq = seq;
    return cn_pb_pack(&c->base, out, outlen);
}

static void conv_free(struct conv *cv)
{
    free(cv->groups);
    free(cv->ext);
    free(cv->ext_ptrs);
    free(cv->group_ptrs);
    free(cv->meta);
    free(cv->meta_ptrs);
    free(cv->tags);
    free(cv->tag_ptrs);
}

/* Protobuf views of tags[n] in cv (n may be 0). */
static int conv_tags(struct conv *cv, const struct md_tag *tags, size_t n)
{
    if (n && !tags)
        return CAIRN_E_INVAL;
    cv->tags = calloc(n ? n : 1, sizeof(*cv->tags));
    cv->tag_ptrs = calloc(n ? n : 1, sizeof(*cv->tag_ptrs));
    if (!cv->tags || !cv->tag_ptrs)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        md__tag__init(&cv->tags[i]);
        cv->tags[i].key = S(tags[i].key);
        cv->tags[i].value = S(tags[i].value);
        cv->tag_ptrs[i] = &cv->tags[i];
    }
    return 0;
}

static int conv_groups(struct conv *cv, const struct md_group_desc *g, size_t n)
{
    cv->groups = calloc(n ? n : 1, sizeof(*cv->groups));
    cv->ext = calloc(n ? n : 1, sizeof(*cv->ext));
    cv->ext_ptrs = calloc(n ? n : 1, sizeof(*cv->ext_ptrs));
    cv->group_ptrs = calloc(n ? n : 1, sizeof(*cv->group_ptrs));
    if (!cv->groups || !cv->ext || !cv->ext_ptrs || !cv->group_ptrs)
        return CAIRN_E_NOMEM;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!g[i].fragment_cs && g[i].k + g[i].m)
            return CAIRN_E_INVAL;
        Md__ChunkGroup *cg = &cv->groups[i];
        md__chunk_group__init(cg);
        cg->id.data = (uint8_t *)g[i].id;
        cg->id.len = 16;
        cg->k = g[i].k;
        cg->m = g[i].m;
        cg->unit = g[i].unit;
        cg->data_length = g[i].data_length;
        cg->n_fragment_cs = (size_t)g[i].k + g[i].m;
        cg->fragment_cs = (uint64_t *)g[i].fragment_cs;
        md__extent__init(&cv->ext[i]);
        cv->ext[i].offset = off;
        cv->ext[i].group = cg;
        off += g[i].data_length;
        cv->ext_ptrs[i] = &cv->ext[i];
        cv->group_ptrs[i] = cg;
    }
    return 0;
}

static int conv_attrs(struct conv *cv, const struct md_attrs_desc *a, Md__ObjectAttrs *out)
{
    md__object_attrs__init(out);
    if (!a)
        return 0;
    out->content_type = S(a->content_type);
    out->content_encoding = S(a->content_encoding);
    out->content_disposition = S(a->content_disposition);
    out->cache_control = S(a->cache_control);
    out->expires = S(a->expires);
    out->content_language = S(a->content_language);
    out->storage_class = S(a->storage_class);
    if (a->n_tags) {
        int rc = conv_tags(cv, a->tags, a->n_tags);
        if (rc)
            return rc;
        out->n_tags = a->n_tags;
        out->tags = cv->tag_ptrs;
    }
    if (!a->n_user_meta)
        return 0;
    cv->meta = calloc(a->n_user_meta, sizeof(*cv->meta));
    cv->meta_ptrs = calloc(a->n_user_meta, sizeof(*cv->meta_ptrs));
    if (!cv->meta || !cv->meta_ptrs)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < a->n_user_meta; i++) {
        md__meta_entry__init(&cv->meta[i]);
        cv->meta[i].name = S(a->user_meta[i].name);
        cv->meta[i].value = S(a->user_meta[i].value);
        cv->meta_ptrs[i] = &cv->meta[i];
    }
    out->n_user_meta = a->n_user_meta;
    out->user_meta = cv->meta_ptrs;
    return 0;
}

int md_cmd_noop(uint64_t client_id, uint64_t seq, uint8_t **out, size_t *outlen)
{
    Md__Noop n = MD__NOOP__INIT;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_NOOP;
    c.noop = &n;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_create_bucket(uint64_t client_id, uint64_t seq, const char *bucket, const char *owner,
                         const char *storage_class, int public_read, int64_t now_ms, uint8_t **out,
                         size_t *outlen)
{
    struct md_owner_desc o = {.user = owner};
    return md_cmd_create_bucket_owned(client_id, seq, bucket, &o, storage_class, public_read,
                                      now_ms, out, outlen);
}

int md_cmd_create_bucket_owned(uint64_t client_id, uint64_t seq, const char *bucket,
                               const struct md_owner_desc *owner, const char *storage_class,
                               int public_read, int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!bucket || !owner || (!owner->acl && owner->acl_len))
        return CAIRN_E_INVAL;
    Md__CreateBucket b = MD__CREATE_BUCKET__INIT;
    b.bucket = S(bucket);
    b.owner = S(owner->user);
    b.owner_id = S(owner->id);
    b.acl = (ProtobufCBinaryData){owner->acl_len, (uint8_t *)owner->acl};
    b.storage_class = S(storage_class);
    b.public_read = public_read != 0;
    b.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_CREATE_BUCKET;
    c.create_bucket = &b;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_delete_bucket(uint64_t client_id, uint64_t seq, const char *bucket, uint8_t **out,
                         size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__DeleteBucket b = MD__DELETE_BUCKET__INIT;
    b.bucket = S(bucket);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_DELETE_BUCKET;
    c.delete_bucket = &b;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_obj_view_init(struct md_obj_view *v, const struct md_object_desc *obj)
{
    memset(v, 0, sizeof(*v));
    if (!obj)
        return CAIRN_E_INVAL;
    md__object_record__init(&v->rec);
    int rc = conv_attrs(&v->cv, &obj->attrs, &v->attrs);
    if (!rc && !obj->has_inline)
        rc = conv_groups(&v->cv, obj->groups, obj->n_groups);
    if (rc) {
        conv_free(&v->cv);
        return rc;
    }
    Md__ObjectRecord *rec = &v->rec;
    rec->size = obj->size;
    rec->etag = S(obj->etag);
    rec->mtime_ms = obj->mtime_ms;
    rec->attrs = &v->attrs;
    rec->owner = S(obj->owner.user);
    rec->owner_id = S(obj->owner.id);
    rec->acl = (ProtobufCBinaryData){obj->owner.acl_len, (uint8_t *)obj->owner.acl};
    rec->lock_mode = (Md__LockMode)obj->lock.mode;
    rec->retain_until_ms = obj->lock.retain_until_ms;
    rec->legal_hold = obj->lock.legal_hold != 0;
    if (obj->has_inline) {
        rec->has_inline = 1;
        rec->inline_data.data = (uint8_t *)obj->inline_data;
        rec->inline_data.len = obj->inline_len;
    } else {
        rec->n_extents = obj->n_groups;
        rec->extents = v->cv.ext_ptrs;
    }
    return 0;
}

void md_obj_view_free(struct md_obj_view *v)
{
    conv_free(&v->cv);
    memset(v, 0, sizeof(*v));
}

int md_cmd_put_object(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                      const struct md_object_desc *obj, enum md_cond cond, const char *if_match,
                      uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || !obj)
        return CAIRN_E_INVAL;
    struct md_obj_view v;
    int rc = md_obj_view_init(&v, obj);
    if (rc)
        return rc;
    Md__PutObject p = MD__PUT_OBJECT__INIT;
    p.bucket = S(bucket);
    p.key = S(key);
    p.record = &v.rec;
    p.cond = (Md__Cond)cond;
    p.if_match = S(if_match);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT;
    c.put_object = &p;
    rc = pack_cmd(client_id, seq, &c, out, outlen);
    md_obj_view_free(&v);
    return rc;
}

int md_cmd_delete_object(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                         enum md_cond cond, const char *if_match, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    Md__DeleteObject d = MD__DELETE_OBJECT__INIT;
    d.bucket = S(bucket);
    d.key = S(key);
    d.cond = (Md__Cond)cond;
    d.if_match = S(if_match);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_DELETE_OBJECT;
    c.delete_object = &d;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_delete_objects(uint64_t client_id, uint64_t seq, const char *bucket,
                          const struct md_delete_desc *objs, size_t n, uint8_t **out,
                          size_t *outlen)
{
    if (!bucket || (n && !objs))
        return CAIRN_E_INVAL;
    /* The keys' current objects: md_cmd_delete_versions without versions. */
    struct md_delete_version_desc *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = (struct md_delete_version_desc){
            .key = objs[i].key, .cond = objs[i].cond, .if_match = objs[i].if_match};
    int rc = md_cmd_delete_versions(client_id, seq, bucket, v, n, 0, 0, NULL, out, outlen);
    free(v);
    return rc;
}

int md_cmd_update_attrs(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                        const struct md_attrs_desc *attrs, int64_t mtime_ms, enum md_cond cond,
                        const char *if_match, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    struct conv cv = {0};
    Md__ObjectAttrs a;
    int rc = conv_attrs(&cv, attrs, &a);
    if (!rc) {
        Md__UpdateAttrs u = MD__UPDATE_ATTRS__INIT;
        u.bucket = S(bucket);
        u.key = S(key);
        u.attrs = &a;
        u.mtime_ms = mtime_ms;
        u.cond = (Md__Cond)cond;
        u.if_match = S(if_match);
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_UPDATE_ATTRS;
        c.update_attrs = &u;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_create_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                         const char *upload_id, const char *owner,
                         const struct md_attrs_desc *attrs, int64_t now_ms, uint8_t **out,
                         size_t *outlen)
{
    struct md_owner_desc o = {.user = owner};
    return md_cmd_create_upload_owned(client_id, seq, bucket, key, upload_id, &o, attrs, now_ms,
                                      out, outlen);
}

int md_cmd_create_upload_owned(uint64_t client_id, uint64_t seq, const char *bucket,
                               const char *key, const char *upload_id,
                               const struct md_owner_desc *owner, const struct md_attrs_desc *attrs,
                               int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || !upload_id || !owner || (!owner->acl && owner->acl_len))
        return CAIRN_E_INVAL;
    struct conv cv = {0};
    Md__ObjectAttrs a;
    int rc = conv_attrs(&cv, attrs, &a);
    if (!rc) {
        Md__CreateUpload u = MD__CREATE_UPLOAD__INIT;
        u.bucket = S(bucket);
        u.key = S(key);
        u.upload_id = S(upload_id);
        u.owner = S(owner->user);
        u.owner_id = S(owner->id);
        u.acl = (ProtobufCBinaryData){owner->acl_len, (uint8_t *)owner->acl};
        u.attrs = &a;
        u.now_ms = now_ms;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_CREATE_UPLOAD;
        c.create_upload = &u;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_put_part(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                    const char *upload_id, uint32_t part_number, const char *etag, uint64_t size,
                    int64_t mtime_ms, const struct md_group_desc *groups, size_t n_groups,
                    uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || !upload_id || !etag)
        return CAIRN_E_INVAL;
    struct conv cv = {0};
    int rc = conv_groups(&cv, groups, n_groups);
    if (!rc) {
        Md__PartRecord pr = MD__PART_RECORD__INIT;
        pr.part_number = part_number;
        pr.etag = S(etag);
        pr.size = size;
        pr.mtime_ms = mtime_ms;
        pr.n_extents = n_groups;
        pr.extents = cv.ext_ptrs;
        Md__PutPart p = MD__PUT_PART__INIT;
        p.bucket = S(bucket);
        p.key = S(key);
        p.upload_id = S(upload_id);
        p.part = &pr;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_PUT_PART;
        c.put_part = &p;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_complete_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                           const char *upload_id, const struct md_part_ref *parts, size_t n_parts,
                           enum md_cond cond, const char *if_match, int64_t now_ms, uint8_t **out,
                           size_t *outlen)
{
    if (!bucket || !key || !upload_id || (n_parts && !parts))
        return CAIRN_E_INVAL;
    Md__CompletePart *cp = calloc(n_parts ? n_parts : 1, sizeof(*cp));
    Md__CompletePart **cpp = calloc(n_parts ? n_parts : 1, sizeof(*cpp));
    int rc = CAIRN_E_NOMEM;
    if (cp && cpp) {
        for (size_t i = 0; i < n_parts; i++) {
            md__complete_part__init(&cp[i]);
            cp[i].part_number = parts[i].part_number;
            cp[i].etag = S(parts[i].etag);
            cpp[i] = &cp[i];
        }
        Md__CompleteUpload u = MD__COMPLETE_UPLOAD__INIT;
        u.bucket = S(bucket);
        u.key = S(key);
        u.upload_id = S(upload_id);
        u.n_parts = n_parts;
        u.parts = cpp;
        u.cond = (Md__Cond)cond;
        u.if_match = S(if_match);
        u.now_ms = now_ms;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_COMPLETE_UPLOAD;
        c.complete_upload = &u;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    free(cp);
    free(cpp);
    return rc;
}

int md_cmd_abort_upload(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                        const char *upload_id, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || !upload_id)
        return CAIRN_E_INVAL;
    Md__AbortUpload a = MD__ABORT_UPLOAD__INIT;
    a.bucket = S(bucket);
    a.key = S(key);
    a.upload_id = S(upload_id);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_ABORT_UPLOAD;
    c.abort_upload = &a;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_register_cs(uint64_t client_id, uint64_t seq, const struct md_cs_desc *cs,
                       int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!cs)
        return CAIRN_E_INVAL;
    Md__ChunkserverRecord r = MD__CHUNKSERVER_RECORD__INIT;
    r.id = cs->id;
    r.address = S(cs->address);
    r.host = S(cs->host);
    r.rack = S(cs->rack);
    r.zone = S(cs->zone);
    r.capacity = cs->capacity;
    r.free = cs->free;
    Md__RegisterChunkserver reg = MD__REGISTER_CHUNKSERVER__INIT;
    reg.cs = &r;
    reg.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_REGISTER_CS;
    c.register_cs = &reg;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_set_cs_state(uint64_t client_id, uint64_t seq, uint64_t id, int state, int space_valid,
                        uint64_t capacity, uint64_t free_bytes, int64_t now_ms, uint8_t **out,
                        size_t *outlen)
{
    Md__SetChunkserverState s = MD__SET_CHUNKSERVER_STATE__INIT;
    s.id = id;
    if (state >= 0) {
        s.set_state = 1;
        s.state = (Md__ChunkserverState)state;
    }
    if (space_valid) {
        s.set_space = 1;
        s.capacity = capacity;
        s.free = free_bytes;
    }
    s.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_SET_CS_STATE;
    c.set_cs_state = &s;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_move_fragment(uint64_t client_id, uint64_t seq, const uint8_t group_id[16],
                         uint32_t index, uint64_t old_cs, uint64_t new_cs, uint8_t **out,
                         size_t *outlen)
{
    if (!group_id)
        return CAIRN_E_INVAL;
    Md__MoveFragment m = MD__MOVE_FRAGMENT__INIT;
    m.group_id.data = (uint8_t *)group_id;
    m.group_id.len = 16;
    m.index = index;
    m.old_cs = old_cs;
    m.new_cs = new_cs;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_MOVE_FRAGMENT;
    c.move_fragment = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_garbage_add(uint64_t client_id, uint64_t seq, const struct md_group_desc *groups,
                       size_t n, uint8_t **out, size_t *outlen)
{
    struct conv cv = {0};
    int rc = conv_groups(&cv, groups, n);
    if (!rc) {
        Md__GarbageAdd g = MD__GARBAGE_ADD__INIT;
        g.n_groups = n;
        g.groups = cv.group_ptrs;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_GARBAGE_ADD;
        c.garbage_add = &g;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_garbage_ack(uint64_t client_id, uint64_t seq, const uint64_t *seqs, const uint64_t *cs,
                       size_t n, uint8_t **out, size_t *outlen)
{
    if (n && (!seqs || !cs))
        return CAIRN_E_INVAL;
    Md__GarbageAckEntry *e = calloc(n ? n : 1, sizeof(*e));
    Md__GarbageAckEntry **ep = calloc(n ? n : 1, sizeof(*ep));
    int rc = CAIRN_E_NOMEM;
    if (e && ep) {
        for (size_t i = 0; i < n; i++) {
            md__garbage_ack_entry__init(&e[i]);
            e[i].seq = seqs[i];
            e[i].cs = cs[i];
            ep[i] = &e[i];
        }
        Md__GarbageAck g = MD__GARBAGE_ACK__INIT;
        g.n_entries = n;
        g.entries = ep;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_GARBAGE_ACK;
        c.garbage_ack = &g;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    free(e);
    free(ep);
    return rc;
}

int md_cmd_create_access_key(uint64_t client_id, uint64_t seq, const char *key_id,
                             const char *secret, const char *owner, int admin, int64_t now_ms,
                             uint8_t **out, size_t *outlen)
{
    char id[MD_CANONICAL_ID_LEN + 1];
    int rc = md_new_canonical_id(id);
    if (rc)
        return rc;
    return md_cmd_create_access_key_for(client_id, seq, key_id, secret, owner, admin, id, now_ms,
                                        out, outlen);
}

int md_new_canonical_id(char out[MD_CANONICAL_ID_LEN + 1])
{
    uint8_t raw[MD_CANONICAL_ID_LEN / 2];
    if (cn_random_bytes(raw, sizeof(raw)) != 0)
        return CAIRN_E_IO;
    cn_hex_encode(raw, sizeof(raw), out);
    return 0;
}

int md_cmd_delete_access_key(uint64_t client_id, uint64_t seq, const char *key_id, uint8_t **out,
                             size_t *outlen)
{
    if (!key_id)
        return CAIRN_E_INVAL;
    Md__DeleteAccessKey k = MD__DELETE_ACCESS_KEY__INIT;
    k.key_id = S(key_id);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_DELETE_KEY;
    c.delete_key = &k;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

/* -------------------------------------------------------------- tenants -- */

int md_cmd_create_access_key_for(uint64_t client_id, uint64_t seq, const char *key_id,
                                 const char *secret, const char *owner, int admin,
                                 const char *new_user_id, int64_t now_ms, uint8_t **out,
                                 size_t *outlen)
{
    if (!key_id || !secret || !owner)
        return CAIRN_E_INVAL;
    Md__AccessKeyRecord a = MD__ACCESS_KEY_RECORD__INIT;
    a.key_id = S(key_id);
    a.secret = S(secret);
    a.owner = S(owner);
    a.admin = admin != 0;
    a.created_ms = now_ms;
    Md__UserRecord u = MD__USER_RECORD__INIT;
    u.name = S(owner);
    u.canonical_id = S(new_user_id);
    u.created_ms = now_ms;
    Md__CreateAccessKey k = MD__CREATE_ACCESS_KEY__INIT;
    k.key = &a;
    k.user = new_user_id ? &u : NULL;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_CREATE_KEY;
    c.create_key = &k;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_set_key_state(uint64_t client_id, uint64_t seq, const char *key_id, int disabled,
                         uint8_t **out, size_t *outlen)
{
    if (!key_id)
        return CAIRN_E_INVAL;
    Md__SetKeyState m = MD__SET_KEY_STATE__INIT;
    m.key_id = S(key_id);
    m.disabled = disabled != 0;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_SET_KEY_STATE;
    c.set_key_state = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_create_user(uint64_t client_id, uint64_t seq, const char *name, const char *canonical_id,
                       int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!name || !canonical_id)
        return CAIRN_E_INVAL;
    Md__UserRecord u = MD__USER_RECORD__INIT;
    u.name = S(name);
    u.canonical_id = S(canonical_id);
    u.created_ms = now_ms;
    Md__CreateUser m = MD__CREATE_USER__INIT;
    m.user = &u;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_CREATE_USER;
    c.create_user = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_delete_user(uint64_t client_id, uint64_t seq, const char *name, uint8_t **out,
                       size_t *outlen)
{
    if (!name)
        return CAIRN_E_INVAL;
    Md__DeleteUser m = MD__DELETE_USER__INIT;
    m.name = S(name);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_DELETE_USER;
    c.delete_user = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_set_quota(uint64_t client_id, uint64_t seq, const char *user, const char *bucket,
                     uint64_t max_bytes, uint64_t max_objects, uint8_t **out, size_t *outlen)
{
    Md__Quota q = MD__QUOTA__INIT;
    q.max_bytes = max_bytes;
    q.max_objects = max_objects;
    Md__SetQuota m = MD__SET_QUOTA__INIT;
    m.user = S(user);
    m.bucket = S(bucket);
    m.quota = &q;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_SET_QUOTA;
    c.set_quota = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_bucket_acl(uint64_t client_id, uint64_t seq, const char *bucket, const void *acl,
                          size_t acl_len, uint8_t **out, size_t *outlen)
{
    if (!bucket || (!acl && acl_len))
        return CAIRN_E_INVAL;
    Md__PutBucketAcl m = MD__PUT_BUCKET_ACL__INIT;
    m.bucket = S(bucket);
    m.acl = (ProtobufCBinaryData){acl_len, (uint8_t *)acl};
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_BUCKET_ACL;
    c.put_bucket_acl = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_bucket_policy(uint64_t client_id, uint64_t seq, const char *bucket,
                             const char *policy, uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__PutBucketPolicy m = MD__PUT_BUCKET_POLICY__INIT;
    m.bucket = S(bucket);
    m.policy = S(policy);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_BUCKET_POLICY;
    c.put_bucket_policy = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_object_acl(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                          const void *acl, size_t acl_len, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || (!acl && acl_len))
        return CAIRN_E_INVAL;
    Md__PutObjectAcl m = MD__PUT_OBJECT_ACL__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.acl = (ProtobufCBinaryData){acl_len, (uint8_t *)acl};
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_OBJECT_ACL;
    c.put_object_acl = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_object_tagging(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                              const struct md_tag *tags, size_t n, uint8_t **out, size_t *outlen)
{
    return md_cmd_put_object_tagging_version(client_id, seq, bucket, key, NULL, tags, n, out,
                                             outlen);
}

int md_cmd_put_object_tagging_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                      const char *key, const char *version_id,
                                      const struct md_tag *tags, size_t n, uint8_t **out,
                                      size_t *outlen)
{
    if (!bucket || !key)
        return CAIRN_E_INVAL;
    struct conv cv = {0};
    int rc = conv_tags(&cv, tags, n);
    if (!rc) {
        Md__PutObjectTagging m = MD__PUT_OBJECT_TAGGING__INIT;
        m.bucket = S(bucket);
        m.key = S(key);
        m.version_id = S(version_id ? version_id : "");
        m.n_tags = n;
        m.tags = cv.tag_ptrs;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_PUT_OBJECT_TAGGING;
        c.put_object_tagging = &m;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_put_bucket_tagging(uint64_t client_id, uint64_t seq, const char *bucket,
                              const struct md_tag *tags, size_t n, uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    struct conv cv = {0};
    int rc = conv_tags(&cv, tags, n);
    if (!rc) {
        Md__PutBucketTagging m = MD__PUT_BUCKET_TAGGING__INIT;
        m.bucket = S(bucket);
        m.n_tags = n;
        m.tags = cv.tag_ptrs;
        Md__Command c = MD__COMMAND__INIT;
        c.op_case = MD__COMMAND__OP_PUT_BUCKET_TAGGING;
        c.put_bucket_tagging = &m;
        rc = pack_cmd(client_id, seq, &c, out, outlen);
    }
    conv_free(&cv);
    return rc;
}

int md_cmd_put_bucket_cors(uint64_t client_id, uint64_t seq, const char *bucket,
                           const Md__CorsConfig *cors, uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__PutBucketCors m = MD__PUT_BUCKET_CORS__INIT;
    m.bucket = S(bucket);
    m.cors = cors && cors->n_rules ? (Md__CorsConfig *)cors : NULL;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_BUCKET_CORS;
    c.put_bucket_cors = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_put_bucket_lifecycle(uint64_t client_id, uint64_t seq, const char *bucket,
                                const Md__LifecycleConfig *lc, uint8_t **out, size_t *outlen)
{
    if (!bucket)
        return CAIRN_E_INVAL;
    Md__PutBucketLifecycle m = MD__PUT_BUCKET_LIFECYCLE__INIT;
    m.bucket = S(bucket);
    m.lifecycle = lc && lc->n_rules ? (Md__LifecycleConfig *)lc : NULL;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_PUT_BUCKET_LIFECYCLE;
    c.put_bucket_lifecycle = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_lifecycle_expire(uint64_t client_id, uint64_t seq, const char *bucket, const char *key,
                            const char *upload_id, int64_t now_ms, int64_t day_ms, uint8_t **out,
                            size_t *outlen)
{
    if (!bucket || !key || day_ms <= 0)
        return CAIRN_E_INVAL;
    Md__LifecycleExpire m = MD__LIFECYCLE_EXPIRE__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.upload_id = S(upload_id);
    m.now_ms = now_ms;
    m.day_ms = day_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_LIFECYCLE_EXPIRE;
    c.lifecycle_expire = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_lifecycle_expire_version(uint64_t client_id, uint64_t seq, const char *bucket,
                                    const char *key, const char *version_id, int expired_marker,
                                    int64_t now_ms, int64_t day_ms, uint8_t **out, size_t *outlen)
{
    if (!bucket || !key || !version_id || !version_id[0] || day_ms <= 0)
        return CAIRN_E_INVAL;
    Md__LifecycleExpire m = MD__LIFECYCLE_EXPIRE__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.version_id = S(version_id);
    m.expired_marker = expired_marker != 0;
    m.now_ms = now_ms;
    m.day_ms = day_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_LIFECYCLE_EXPIRE;
    c.lifecycle_expire = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_set_replica(uint64_t client_id, uint64_t seq, uint32_t id, const char *url, int remove,
                       int64_t now_ms, uint8_t **out, size_t *outlen)
{
    Md__ReplicaRecord r = MD__REPLICA_RECORD__INIT;
    r.id = id;
    r.url = S(url);
    r.added_ms = now_ms;
    Md__SetReplica m = MD__SET_REPLICA__INIT;
    m.replica = &r;
    m.remove = remove != 0;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_SET_REPLICA;
    c.set_replica = &m;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

Md__Result *md_result_decode(const void *buf, size_t len)
{
    return md__result__unpack(NULL, len, buf);
}

void md_result_free(Md__Result *r)
{
    if (r)
        md__result__free_unpacked(r, NULL);
}

int md_result_status(const void *buf, size_t len, int *reason)
{
    Md__Result *r = md_result_decode(buf, len);
    if (!r)
        return CAIRN_E_PROTO;
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

/* ------------------------------------------------------------- queries -- */

#define PACK_Q(field, case_, msg)                                                                  \
    do {                                                                                           \
        Md__Query q_ = MD__QUERY__INIT;                                                            \
        q_.q_case = case_;                                                                         \
        q_.field = &(msg);                                                                         \
        return cn_pb_pack(&q_.base, out, outlen);                                                  \
    } while (0)

int md_q_get_object(const char *bucket, const char *key, uint8_t **out, size_t *outlen)
{
    Md__GetObjectQ m = MD__GET_OBJECT_Q__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    PACK_Q(get_object, MD__QUERY__Q_GET_OBJECT, m);
}

int md_q_head_bucket(const char *bucket, uint8_t **out, size_t *outlen)
{
    Md__HeadBucketQ m = MD__HEAD_BUCKET_Q__INIT;
    m.bucket = S(bucket);
    PACK_Q(head_bucket, MD__QUERY__Q_HEAD_BUCKET, m);
}

int md_q_list_buckets(uint8_t **out, size_t *outlen)
{
    return md_q_list_buckets_of(NULL, out, outlen);
}

int md_q_list_buckets_of(const char *owner, uint8_t **out, size_t *outlen)
{
    Md__ListBucketsQ m = MD__LIST_BUCKETS_Q__INIT;
    m.owner = S(owner);
    PACK_Q(list_buckets, MD__QUERY__Q_LIST_BUCKETS, m);
}

int md_q_get_object_and_bucket(const char *bucket, const char *key, uint8_t **out, size_t *outlen)
{
    Md__GetObjectQ m = MD__GET_OBJECT_Q__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.with_bucket = 1;
    PACK_Q(get_object, MD__QUERY__Q_GET_OBJECT, m);
}

int md_q_with_caller(const char *key_id, uint8_t **q, size_t *qlen)
{
    Md__Query *m = md__query__unpack(NULL, *qlen, *q);
    if (!m)
        return CAIRN_E_INVAL;
    char *old = m->caller_key;
    m->caller_key = (char *)S(key_id);
    uint8_t *nq = NULL;
    size_t nlen = 0;
    int rc = cn_pb_pack(&m->base, &nq, &nlen);
    m->caller_key = old; /* freed with m */
    md__query__free_unpacked(m, NULL);
    if (rc)
        return rc;
    free(*q);
    *q = nq;
    *qlen = nlen;
    return 0;
}

int md_q_get_user(const char *name, uint8_t **out, size_t *outlen)
{
    Md__GetUserQ m = MD__GET_USER_Q__INIT;
    m.name = S(name);
    PACK_Q(get_user, MD__QUERY__Q_GET_USER, m);
}

int md_q_list_users(uint8_t **out, size_t *outlen)
{
    Md__ListUsersQ m = MD__LIST_USERS_Q__INIT;
    PACK_Q(list_users, MD__QUERY__Q_LIST_USERS, m);
}

int md_q_list_access_keys_of(const char *owner, uint8_t **out, size_t *outlen)
{
    Md__ListAccessKeysQ m = MD__LIST_ACCESS_KEYS_Q__INIT;
    m.owner = S(owner);
    PACK_Q(list_access_keys, MD__QUERY__Q_LIST_ACCESS_KEYS, m);
}

int md_q_list_objects(const char *bucket, const char *prefix, const char *delimiter,
                      const char *marker, uint32_t max_keys, uint8_t **out, size_t *outlen)
{
    Md__ListObjectsQ m = MD__LIST_OBJECTS_Q__INIT;
    m.bucket = S(bucket);
    m.prefix = S(prefix);
    m.delimiter = S(delimiter);
    m.marker = S(marker);
    m.max_keys = max_keys;
    PACK_Q(list_objects, MD__QUERY__Q_LIST_OBJECTS, m);
}

int md_q_list_parts(const char *bucket, const char *key, const char *upload_id,
                    uint32_t part_number_marker, uint32_t max_parts, uint8_t **out, size_t *outlen)
{
    Md__ListPartsQ m = MD__LIST_PARTS_Q__INIT;
    m.bucket = S(bucket);
    m.key = S(key);
    m.upload_id = S(upload_id);
    m.part_number_marker = part_number_marker;
    m.max_parts = max_parts;
    PACK_Q(list_parts, MD__QUERY__Q_LIST_PARTS, m);
}

int md_q_list_uploads(const char *bucket, const char *prefix, const char *delimiter,
                      const char *key_marker, const char *upload_id_marker, uint32_t max_uploads,
                      uint8_t **out, size_t *outlen)
{
    Md__ListUploadsQ m = MD__LIST_UPLOADS_Q__INIT;
    m.bucket = S(bucket);
    m.prefix = S(prefix);
    m.delimiter = S(delimiter);
    m.key_marker = S(key_marker);
    m.upload_id_marker = S(upload_id_marker);
    m.max_uploads = max_uploads;
    PACK_Q(list_uploads, MD__QUERY__Q_LIST_UPLOADS, m);
}

int md_q_list_chunkservers(uint8_t **out, size_t *outlen)
{
    Md__ListChunkserversQ m = MD__LIST_CHUNKSERVERS_Q__INIT;
    PACK_Q(list_chunkservers, MD__QUERY__Q_LIST_CHUNKSERVERS, m);
}

int md_q_get_group(const uint8_t group_id[16], uint8_t **out, size_t *outlen)
{
    Md__GetGroupQ m = MD__GET_GROUP_Q__INIT;
    m.group_id.data = (uint8_t *)group_id;
    m.group_id.len = group_id ? 16 : 0;
    PACK_Q(get_group, MD__QUERY__Q_GET_GROUP, m);
}

int md_q_fragments_on(uint64_t cs, const uint8_t *after_group_id, uint32_t after_index,
                      uint32_t max, uint8_t **out, size_t *outlen)
{
    Md__FragmentsOnQ m = MD__FRAGMENTS_ON_Q__INIT;
    m.cs = cs;
    if (after_group_id) {
        m.after_group_id.data = (uint8_t *)after_group_id;
        m.after_group_id.len = 16;
        m.after_index = after_index;
    }
    m.max = max;
    PACK_Q(fragments_on, MD__QUERY__Q_FRAGMENTS_ON, m);
}

int md_q_list_garbage(uint64_t after_seq, uint32_t max, uint8_t **out, size_t *outlen)
{
    Md__ListGarbageQ m = MD__LIST_GARBAGE_Q__INIT;
    m.after_seq = after_seq;
    m.max = max;
    PACK_Q(list_garbage, MD__QUERY__Q_LIST_GARBAGE, m);
}

int md_q_list_garbage_for(uint64_t cs, uint64_t after_seq, uint32_t max, uint8_t **out,
                          size_t *outlen)
{
    Md__ListGarbageQ m = MD__LIST_GARBAGE_Q__INIT;
    m.after_seq = after_seq;
    m.max = max;
    m.cs = cs;
    PACK_Q(list_garbage, MD__QUERY__Q_LIST_GARBAGE, m);
}

int md_q_get_access_key(const char *key_id, uint8_t **out, size_t *outlen)
{
    Md__GetAccessKeyQ m = MD__GET_ACCESS_KEY_Q__INIT;
    m.key_id = S(key_id);
    PACK_Q(get_access_key, MD__QUERY__Q_GET_ACCESS_KEY, m);
}

int md_q_list_access_keys(uint8_t **out, size_t *outlen)
{
    Md__ListAccessKeysQ m = MD__LIST_ACCESS_KEYS_Q__INIT;
    PACK_Q(list_access_keys, MD__QUERY__Q_LIST_ACCESS_KEYS, m);
}

int md_q_state_info(uint8_t **out, size_t *outlen)
{
    Md__StateInfoQ m = MD__STATE_INFO_Q__INIT;
    PACK_Q(state_info, MD__QUERY__Q_STATE_INFO, m);
}

Md__QueryResult *md_query_result_decode(const void *buf, size_t len)
{
    return md__query_result__unpack(NULL, len, buf);
}

int md_q_list_replicas(uint8_t **out, size_t *outlen)
{
    Md__ListReplicasQ m = MD__LIST_REPLICAS_Q__INIT;
    PACK_Q(list_replicas, MD__QUERY__Q_LIST_REPLICAS, m);
}
