#include "md_sm.h"
#include "md_txn.h"
#include "cn_error.h"
#include "cn_util.h"
#include "cn_log.h"
#include "meta.pb-c.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct md_sm {
    struct md_store *store;
    struct md_sm_options opt;
    uint64_t applied_index;
    uint64_t next_garbage_seq;
    uint64_t session_count;
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
    Md__Result *res;
    char etag_buf[64];                /* CompleteUpload's computed ETag */
    Md__KeyResult *owned_key_results; /* DeleteObjects: freed after packing */
    Md__KeyResult **owned_key_result_ptrs;
};

void md_sm_options_default(struct md_sm_options *opt)
{
    opt->max_sessions = 100000;
    opt->inline_max = 16384;
    opt->min_part_size = 5u << 20;
    opt->max_parts = 10000;
    opt->max_fragments = 32;
}

static int refuse(struct exec *x, int status, Md__Reason reason, const char *detail)
{
    x->res->status = status;
    x->res->reason = reason;
    x->res->detail = (char *)detail;
    return REFUSED;
}

#define unpack_as(x, key, type, out)                                                               \
    md_txn_get_msg((x)->txn, (key), &md__##type##__descriptor, (ProtobufCMessage **)(out))
#define free_msg(m)        protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL)
#define put_msg(x, key, m) md_txn_put_msg((x)->txn, (key), (const ProtobufCMessage *)(m))

/* ------------------------------------------------------------- keys -- */

static void key_bucket(struct md_key *k, const char *bucket)
{
    md_key_start(k, MD_K_BUCKET);
    md_key_str(k, bucket);
}

static void key_object(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_OBJECT);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
}

static void key_upload(struct md_key *k, const char *bucket, const char *key, const char *uid)
{
    md_key_start(k, MD_K_UPLOAD);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
    md_key_str(k, uid);
}

static void key_part_prefix(struct md_key *k, const char *bucket, const char *key, const char *uid)
{
    md_key_start(k, MD_K_PART);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
    md_key_str(k, uid);
    md_key_byte(k, 0);
}

static void key_cs(struct md_key *k, uint64_t id)
{
    md_key_start(k, MD_K_CS);
    md_key_be64(k, id);
}

static void key_locator(struct md_key *k, const uint8_t *gid)
{
    md_key_start(k, MD_K_LOCATOR);
    md_key_bytes(k, gid, 16);
}

static void key_fragment(struct md_key *k, uint64_t cs, const uint8_t *gid, uint32_t idx)
{
    md_key_start(k, MD_K_FRAGMENT);
    md_key_be64(k, cs);
    md_key_bytes(k, gid, 16);
    md_key_be32(k, idx);
}

static void key_garbage(struct md_key *k, uint64_t seq)
{
    md_key_start(k, MD_K_GARBAGE);
    md_key_be64(k, seq);
}

static void key_garbage_cs(struct md_key *k, uint64_t cs, uint64_t seq)
{
    md_key_start(k, MD_K_GARB_CS);
    md_key_be64(k, cs);
    md_key_be64(k, seq);
}

static void key_access(struct md_key *k, const char *id)
{
    md_key_start(k, MD_K_ACCESS);
    md_key_str(k, id);
}

static void key_session(struct md_key *k, uint64_t client)
{
    md_key_start(k, MD_K_SESSION);
    md_key_be64(k, client);
}

static void key_session_age(struct md_key *k, uint64_t index, uint64_t client)
{
    md_key_start(k, MD_K_SESS_AGE);
    md_key_be64(k, index);
    md_key_be64(k, client);
}

/* ---------------------------------------------------- groups & garbage -- */

static int valid_group(const struct md_sm *sm, const Md__ChunkGroup *g)
{
    return g && g->id.len == 16 && g->k >= 1 && g->k + g->m <= sm->opt.max_fragments &&
           g->unit > 0 && g->data_length > 0 && g->n_fragment_cs == (size_t)g->k + g->m;
}

/* A group in a record: at least k fragments have a location (a write acked
 * short of k+m leaves 0s for repair) and no chunkserver holds two fragments. */
static int valid_live_group(const struct md_sm *sm, const Md__ChunkGroup *g)
{
    if (!valid_group(sm, g))
        return 0;
    size_t located = 0;
    for (size_t f = 0; f < g->n_fragment_cs; f++) {
        if (!g->fragment_cs[f])
            continue;
        located++;
        for (size_t e = 0; e < f; e++)
            if (g->fragment_cs[e] == g->fragment_cs[f])
                return 0;
    }
    return located >= g->k;
}

/* Extents must be valid groups covering [0, size) contiguously, in order. */
static int valid_extents(const struct md_sm *sm, Md__Extent *const *ext, size_t n, uint64_t size)
{
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ext[i] || !valid_live_group(sm, ext[i]->group) || ext[i]->offset != off)
            return 0;
        if (ext[i]->group->data_length > UINT64_MAX - off)
            return 0;
        off += ext[i]->group->data_length;
    }
    return off == size;
}

/* Records that the groups of ext live in the record at record_key: locator and
 * per-chunkserver fragment keys. Refuses a group id already in use. */
static int index_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                        const struct md_key *record_key)
{
    for (size_t i = 0; i < n; i++) {
        const Md__ChunkGroup *g = ext[i]->group;
        struct md_key k;
        key_locator(&k, g->id.data);
        void *v;
        size_t vl;
        int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == 0) {
            free(v);
            return refuse(x, CAIRN_E_EXISTS, MD__REASON__R_INVALID_ARGUMENT,
                          "chunk group id already in use");
        }
        if (rc != CAIRN_E_NOTFOUND)
            return rc;
        Md__GroupLocator loc = MD__GROUP_LOCATOR__INIT;
        loc.record_key.data = (uint8_t *)record_key->b;
        loc.record_key.len = record_key->n;
        if ((rc = put_msg(x, &k, &loc)))
            return rc;
        /* chunkserver 0 collects the fragments that have no location */
        for (size_t f = 0; f < g->n_fragment_cs; f++) {
            key_fragment(&k, g->fragment_cs[f], g->id.data, (uint32_t)f);
            if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
                return rc;
        }
    }
    return 0;
}

/* Points the locators of ext's groups at a new owning record. */
static int relocate_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                           const struct md_key *record_key)
{
    for (size_t i = 0; i < n; i++) {
        struct md_key k;
        key_locator(&k, ext[i]->group->id.data);
        Md__GroupLocator loc = MD__GROUP_LOCATOR__INIT;
        loc.record_key.data = (uint8_t *)record_key->b;
        loc.record_key.len = record_key->n;
        int rc = put_msg(x, &k, &loc);
        if (rc)
            return rc;
    }
    return 0;
}

static int garbage_append(struct exec *x, Md__ChunkGroup *g)
{
    int any = 0;
    for (size_t f = 0; f < g->n_fragment_cs; f++)
        any |= g->fragment_cs[f] != 0;
    if (!any)
        return 0;
    Md__GarbageRecord gr = MD__GARBAGE_RECORD__INIT;
    gr.seq = x->next_garbage_seq++;
    gr.group = g;
    gr.added_index = x->index;
    struct md_key k;
    key_garbage(&k, gr.seq);
    int rc = put_msg(x, &k, &gr);
    /* per-chunkserver index: what each one has to delete */
    for (size_t f = 0; !rc && f < g->n_fragment_cs; f++) {
        if (!g->fragment_cs[f])
            continue;
        key_garbage_cs(&k, g->fragment_cs[f], gr.seq);
        rc = md_txn_put(x->txn, k.b, k.n, "", 0);
    }
    return rc;
}

/* The groups of ext stop being live: index entries go, garbage entries come. */
static int retire_groups(struct exec *x, Md__Extent *const *ext, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Md__ChunkGroup *g = ext[i]->group;
        if (!g || g->id.len != 16)
            continue;
        struct md_key k;
        key_locator(&k, g->id.data);
        int rc = md_txn_del(x->txn, k.b, k.n);
        for (size_t f = 0; !rc && f < g->n_fragment_cs; f++) {
            key_fragment(&k, g->fragment_cs[f], g->id.data, (uint32_t)f);
            rc = md_txn_del(x->txn, k.b, k.n);
        }
        if (!rc)
            rc = garbage_append(x, g);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ buckets -- */

/* 0 if the bucket exists, REFUSED (NoSuchBucket) if not, or an error. */
static int need_bucket(struct exec *x, const char *bucket)
{
    if (!md_valid_bucket(bucket))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid bucket name");
    struct md_key k;
    key_bucket(&k, bucket);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET, "no such bucket");
    free(v);
    return rc;
}

static int cmd_create_bucket(struct exec *x, const Md__CreateBucket *c)
{
    if (!md_valid_bucket(c->bucket))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid bucket name");
    struct md_key k;
    key_bucket(&k, c->bucket);
    Md__BucketRecord *old;
    int rc = unpack_as(x, &k, bucket_record, &old);
    if (rc == 0) {
        free_msg(old);
        return refuse(x, CAIRN_E_EXISTS, MD__REASON__R_BUCKET_EXISTS, "bucket exists");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__BucketRecord b = MD__BUCKET_RECORD__INIT;
    b.name = c->bucket;
    b.ctime_ms = c->now_ms;
    b.owner = c->owner;
    b.storage_class = c->storage_class;
    b.public_read = c->public_read;
    return put_msg(x, &k, &b);
}

/* 1 if any key starts with prefix, 0 if none, or an error. */
static int any_with_prefix(struct exec *x, const struct md_key *prefix)
{
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    md_titer_seek(it, prefix->b, prefix->n);
    rc = md_titer_has_prefix(it, prefix->b, prefix->n);
    if (md_titer_status(it))
        rc = md_titer_status(it);
    md_titer_free(it);
    return rc;
}

static int cmd_delete_bucket(struct exec *x, const Md__DeleteBucket *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    struct md_key k;
    key_object(&k, c->bucket, "");
    if ((rc = any_with_prefix(x, &k)))
        return rc < 0 ? rc
                      : refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY,
                               "bucket not empty");
    key_upload(&k, c->bucket, "", "");
    k.n--; /* "Su" bucket 0 */
    if ((rc = any_with_prefix(x, &k)))
        return rc < 0 ? rc
                      : refuse(x, CAIRN_E_NOTEMPTY, MD__REASON__R_BUCKET_NOT_EMPTY,
                               "bucket has multipart uploads in progress");
    key_bucket(&k, c->bucket);
    return md_txn_del(x->txn, k.b, k.n);
}

/* ------------------------------------------------------------ objects -- */

/* Checks an S3 condition against the current record (NULL = absent). */
static int check_cond(struct exec *x, Md__Cond cond, const char *if_match,
                      const Md__ObjectRecord *cur)
{
    if (cond == MD__COND__COND_IF_NONE_MATCH_ANY && cur)
        return refuse(x, CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED, "object exists");
    if (cond == MD__COND__COND_IF_MATCH) {
        if (!cur)
            return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
        if (strcmp(if_match, "*") != 0 && strcmp(if_match, cur->etag) != 0)
            return refuse(x, CAIRN_E_PRECOND, MD__REASON__R_PRECONDITION_FAILED,
                          "etag does not match");
    }
    return 0;
}

/* Loads the object record at k (NULL when absent). */
static int load_object(struct exec *x, const struct md_key *k, Md__ObjectRecord **out)
{
    int rc = unpack_as(x, k, object_record, out);
    if (rc == CAIRN_E_NOTFOUND) {
        *out = NULL;
        return 0;
    }
    return rc;
}

/* Replaces (or creates) the object at k with rec, retiring the old groups.
 * The new groups must not be indexed yet. */
static int store_object(struct exec *x, const struct md_key *k, const Md__ObjectRecord *rec,
                        Md__ObjectRecord *old, int index_new)
{
    int rc = 0;
    if (index_new)
        rc = index_groups(x, rec->extents, rec->n_extents, k);
    if (!rc && old)
        rc = retire_groups(x, old->extents, old->n_extents);
    if (!rc)
        rc = put_msg(x, k, rec);
    return rc;
}

static int cmd_put_object(struct exec *x, const Md__PutObject *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    const Md__ObjectRecord *rec = c->record;
    if (!md_valid_objkey(c->key))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    if (!rec)
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "no record");
    if (rec->has_inline) {
        if (rec->n_extents || rec->inline_data.len != rec->size ||
            rec->inline_data.len > x->sm->opt.inline_max)
            return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad inline object");
    } else if (!valid_extents(x->sm, rec->extents, rec->n_extents, rec->size)) {
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad extents");
    }
    struct md_key k;
    key_object(&k, c->bucket, c->key);
    Md__ObjectRecord *old;
    if ((rc = load_object(x, &k, &old)))
        return rc;
    rc = check_cond(x, c->cond, c->if_match, old);
    if (!rc)
        rc = store_object(x, &k, rec, old, 1);
    if (!rc)
        x->res->etag = rec->etag;
    if (old)
        free_msg(old);
    return rc;
}

static int cmd_delete_object(struct exec *x, const Md__DeleteObject *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    struct md_key k;
    key_object(&k, c->bucket, c->key);
    Md__ObjectRecord *old;
    if ((rc = load_object(x, &k, &old)))
        return rc;
    if (c->cond == MD__COND__COND_IF_NONE_MATCH_ANY)
        rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "If-None-Match on delete");
    else
        rc = check_cond(x, c->cond, c->if_match, old);
    if (!rc && old) {
        x->res->existed = 1;
        rc = retire_groups(x, old->extents, old->n_extents);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
    }
    if (old)
        free_msg(old);
    return rc;
}

/* Deletes each object on its own: a refusal for one key (condition) is
 * recorded in its KeyResult and does not undo the others. */
static int cmd_delete_objects(struct exec *x, const Md__DeleteObjects *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (c->n_objects > 1000)
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "more than 1000 keys");
    Md__KeyResult *kr = calloc(c->n_objects ? c->n_objects : 1, sizeof(*kr));
    Md__KeyResult **krp = calloc(c->n_objects ? c->n_objects : 1, sizeof(*krp));
    if (!kr || !krp) {
        free(kr);
        free(krp);
        return CAIRN_E_NOMEM;
    }
    x->owned_key_results = kr;
    x->owned_key_result_ptrs = krp;
    Md__Result *outer = x->res;
    for (size_t i = 0; i < c->n_objects; i++) {
        md__key_result__init(&kr[i]);
        krp[i] = &kr[i];
        Md__Result one = MD__RESULT__INIT;
        x->res = &one;
        Md__DeleteObject d = *c->objects[i];
        d.bucket = c->bucket;
        kr[i].key = d.key;
        struct md_txn_savepoint sp;
        md_txn_save(x->txn, &sp);
        uint64_t gseq = x->next_garbage_seq;
        rc = cmd_delete_object(x, &d);
        if (rc == REFUSED) {
            md_txn_rollback(x->txn, &sp);
            x->next_garbage_seq = gseq;
            rc = 0;
        } else {
            md_txn_release(&sp);
        }
        kr[i].status = one.status;
        kr[i].reason = one.reason;
        kr[i].existed = one.existed;
        if (rc)
            break;
    }
    x->res = outer;
    outer->n_keys = c->n_objects;
    outer->keys = krp;
    return rc;
}

static int cmd_update_attrs(struct exec *x, const Md__UpdateAttrs *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    if (c->cond == MD__COND__COND_IF_NONE_MATCH_ANY)
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                      "If-None-Match on an update");
    struct md_key k;
    key_object(&k, c->bucket, c->key);
    Md__ObjectRecord *o;
    if ((rc = load_object(x, &k, &o)))
        return rc;
    if (!o)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    rc = check_cond(x, c->cond, c->if_match, o);
    if (!rc) {
        Md__ObjectAttrs *keep = o->attrs;
        o->attrs = c->attrs;
        o->mtime_ms = c->mtime_ms;
        rc = put_msg(x, &k, o);
        o->attrs = keep; /* o's own attrs are freed with o */
    }
    free_msg(o);
    return rc;
}

/* ---------------------------------------------------------- multipart -- */

static int need_upload(struct exec *x, const char *bucket, const char *key, const char *uid,
                       Md__UploadRecord **out)
{
    int rc = need_bucket(x, bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(key) || !md_valid_upload_id(uid))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key or upload id");
    struct md_key k;
    key_upload(&k, bucket, key, uid);
    Md__UploadRecord *u;
    rc = unpack_as(x, &k, upload_record, &u);
    if (rc == CAIRN_E_NOTFOUND)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD, "no such upload");
    if (rc)
        return rc;
    if (out)
        *out = u;
    else
        free_msg(u);
    return 0;
}

static int cmd_create_upload(struct exec *x, const Md__CreateUpload *c)
{
    int rc = need_bucket(x, c->bucket);
    if (rc)
        return rc;
    if (!md_valid_objkey(c->key) || !md_valid_upload_id(c->upload_id))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key or upload id");
    struct md_key k;
    key_upload(&k, c->bucket, c->key, c->upload_id);
    void *v;
    size_t vl;
    rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        return refuse(x, CAIRN_E_EXISTS, MD__REASON__R_INVALID_ARGUMENT, "upload id in use");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__UploadRecord u = MD__UPLOAD_RECORD__INIT;
    u.bucket = c->bucket;
    u.key = c->key;
    u.upload_id = c->upload_id;
    u.initiated_ms = c->now_ms;
    u.attrs = c->attrs;
    u.owner = c->owner;
    return put_msg(x, &k, &u);
}

static int is_md5_hex(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int cmd_put_part(struct exec *x, const Md__PutPart *c)
{
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, NULL);
    if (rc)
        return rc;
    const Md__PartRecord *p = c->part;
    if (!p || p->part_number < 1 || p->part_number > x->sm->opt.max_parts)
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad part number");
    if (!is_md5_hex(p->etag))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                      "part etag must be lower-case MD5 hex");
    if (!valid_extents(x->sm, p->extents, p->n_extents, p->size))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad extents");
    struct md_key k;
    key_part_prefix(&k, c->bucket, c->key, c->upload_id);
    md_key_be32(&k, p->part_number);
    Md__PartRecord *old;
    rc = unpack_as(x, &k, part_record, &old);
    if (rc == CAIRN_E_NOTFOUND)
        old = NULL;
    else if (rc)
        return rc;
    rc = index_groups(x, p->extents, p->n_extents, &k);
    if (!rc && old)
        rc = retire_groups(x, old->extents, old->n_extents);
    if (!rc)
        rc = put_msg(x, &k, p);
    if (old)
        free_msg(old);
    return rc;
}

/* All part records of an upload, in part-number order. */
struct parts {
    Md__PartRecord **v;
    size_t n;
};

static void parts_free(struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free_msg(ps->v[i]);
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

static int load_parts(struct exec *x, const char *bucket, const char *key, const char *uid,
                      struct parts *ps)
{
    ps->v = NULL;
    ps->n = 0;
    size_t cap = 0;
    struct md_key pre;
    key_part_prefix(&pre, bucket, key, uid);
    struct md_titer *it;
    int rc = md_titer_new(x->txn, &it);
    if (rc)
        return rc;
    for (md_titer_seek(it, pre.b, pre.n); md_titer_has_prefix(it, pre.b, pre.n);
         md_titer_next(it)) {
        size_t vl;
        const void *v = md_titer_value(it, &vl);
        Md__PartRecord *p = md__part_record__unpack(NULL, vl, v);
        if (!p) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        if (ps->n == cap) {
            cap = cap ? 2 * cap : 16;
            Md__PartRecord **nv = realloc(ps->v, cap * sizeof(*nv));
            if (!nv) {
                free_msg(p);
                rc = CAIRN_E_NOMEM;
                break;
            }
            ps->v = nv;
        }
        ps->v[ps->n++] = p;
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    if (rc)
        parts_free(ps);
    return rc;
}

/* Deletes the upload and all its part records; retires the groups of every
 * part not marked in keep (keep may be NULL). */
static int drop_upload(struct exec *x, const char *bucket, const char *key, const char *uid,
                       const struct parts *ps, const unsigned char *keep)
{
    struct md_key k;
    for (size_t i = 0; i < ps->n; i++) {
        int rc = 0;
        if (!keep || !keep[i])
            rc = retire_groups(x, ps->v[i]->extents, ps->v[i]->n_extents);
        key_part_prefix(&k, bucket, key, uid);
        md_key_be32(&k, ps->v[i]->part_number);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
        if (rc)
            return rc;
    }
    key_upload(&k, bucket, key, uid);
    return md_txn_del(x->txn, k.b, k.n);
}

static int cmd_abort_upload(struct exec *x, const Md__AbortUpload *c)
{
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, NULL);
    if (rc)
        return rc;
    struct parts ps;
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, &ps)))
        return rc;
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, NULL);
    parts_free(&ps);
    return rc;
}

/* S3 multipart ETag: hex MD5 of the concatenated binary part MD5s, "-N". */
static int multipart_etag(struct exec *x, Md__PartRecord *const *chosen, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return CAIRN_E_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char bin[16];
        for (int j = 0; j < 16; j++) {
            unsigned v;
            sscanf(chosen[i]->etag + 2 * j, "%2x", &v);
            bin[j] = (unsigned char)v;
        }
        ok = EVP_DigestUpdate(ctx, bin, 16);
    }
    unsigned char md[16];
    unsigned mdlen = 0;
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return CAIRN_E_IO;
    for (int j = 0; j < 16; j++)
        snprintf(x->etag_buf + 2 * j, 3, "%02x", md[j]);
    snprintf(x->etag_buf + 32, sizeof(x->etag_buf) - 32, "-%zu", n);
    return 0;
}

static int cmd_complete_upload(struct exec *x, const Md__CompleteUpload *c)
{
    Md__UploadRecord *u;
    int rc = need_upload(x, c->bucket, c->key, c->upload_id, &u);
    if (rc)
        return rc;
    struct parts ps = {0};
    Md__PartRecord **chosen = NULL;
    unsigned char *keep = NULL;
    Md__Extent **ext = NULL, *ext_store = NULL;
    uint64_t *sizes = NULL;
    Md__ObjectRecord *old = NULL;
    if (c->n_parts == 0 || c->n_parts > x->sm->opt.max_parts) {
        rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART, "no parts or too many");
        goto out;
    }
    if ((rc = load_parts(x, c->bucket, c->key, c->upload_id, &ps)))
        goto out;
    chosen = calloc(c->n_parts, sizeof(*chosen));
    keep = calloc(ps.n ? ps.n : 1, 1);
    sizes = calloc(c->n_parts, sizeof(*sizes));
    if (!chosen || !keep || !sizes) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    size_t n_ext = 0, j = 0;
    uint64_t total = 0;
    for (size_t i = 1; i < c->n_parts; i++) {
        if (c->parts[i]->part_number <= c->parts[i - 1]->part_number) {
            rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART_ORDER,
                        "parts not in ascending order");
            goto out;
        }
    }
    for (size_t i = 0; i < c->n_parts; i++) {
        const Md__CompletePart *cp = c->parts[i];
        while (j < ps.n && ps.v[j]->part_number < cp->part_number)
            j++;
        if (j == ps.n || ps.v[j]->part_number != cp->part_number ||
            strcmp(ps.v[j]->etag, cp->etag) != 0) {
            rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_PART,
                        "part missing or etag differs");
            goto out;
        }
        if (i + 1 < c->n_parts && ps.v[j]->size < x->sm->opt.min_part_size) {
            rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_ENTITY_TOO_SMALL, "part too small");
            goto out;
        }
        chosen[i] = ps.v[j];
        keep[j] = 1;
        sizes[i] = ps.v[j]->size;
        total += ps.v[j]->size;
        n_ext += ps.v[j]->n_extents;
    }
    struct md_key ok;
    key_object(&ok, c->bucket, c->key);
    if ((rc = load_object(x, &ok, &old)))
        goto out;
    if ((rc = check_cond(x, c->cond, c->if_match, old)))
        goto out;
    if ((rc = multipart_etag(x, chosen, c->n_parts)))
        goto out;
    ext = calloc(n_ext ? n_ext : 1, sizeof(*ext));
    ext_store = calloc(n_ext ? n_ext : 1, sizeof(*ext_store));
    if (!ext || !ext_store) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    size_t e = 0;
    uint64_t off = 0;
    for (size_t i = 0; i < c->n_parts; i++) {
        for (size_t q = 0; q < chosen[i]->n_extents; q++, e++) {
            Md__Extent init = MD__EXTENT__INIT;
            ext_store[e] = init;
            ext_store[e].offset = off + chosen[i]->extents[q]->offset;
            ext_store[e].group = chosen[i]->extents[q]->group;
            ext[e] = &ext_store[e];
        }
        off += chosen[i]->size;
    }
    Md__ObjectRecord rec = MD__OBJECT_RECORD__INIT;
    rec.size = total;
    rec.etag = x->etag_buf;
    rec.mtime_ms = c->now_ms;
    rec.attrs = u->attrs;
    rec.n_extents = n_ext;
    rec.extents = ext;
    rec.n_part_sizes = c->n_parts;
    rec.part_sizes = sizes;
    /* Groups of the chosen parts move to the object; the rest become garbage. */
    rc = drop_upload(x, c->bucket, c->key, c->upload_id, &ps, keep);
    if (!rc)
        rc = relocate_groups(x, ext, n_ext, &ok);
    if (!rc)
        rc = store_object(x, &ok, &rec, old, 0);
    if (!rc) {
        x->res->etag = x->etag_buf;
        x->res->size = total;
    }
out:
    free(ext);
    free(ext_store);
    free(sizes);
    free(keep);
    free(chosen);
    parts_free(&ps);
    if (old)
        free_msg(old);
    free_msg(u);
    return rc;
}

/* ------------------------------------------------------- chunkservers -- */

static int cmd_register_cs(struct exec *x, const Md__RegisterChunkserver *c)
{
    const Md__ChunkserverRecord *in = c->cs;
    if (!in || !in->id || !in->address[0])
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "id and address needed");
    struct md_key k;
    key_cs(&k, in->id);
    Md__ChunkserverRecord *old;
    int rc = unpack_as(x, &k, chunkserver_record, &old);
    if (rc && rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__ChunkserverRecord r = *in;
    r.updated_ms = c->now_ms;
    if (rc == 0) {
        r.state = old->state;
        r.registered_ms = old->registered_ms;
        x->res->existed = 1;
    } else {
        r.state = MD__CHUNKSERVER_STATE__CS_ACTIVE;
        r.registered_ms = c->now_ms;
    }
    rc = put_msg(x, &k, &r);
    if (x->res->existed)
        free_msg(old);
    return rc;
}

static int cmd_set_cs_state(struct exec *x, const Md__SetChunkserverState *c)
{
    struct md_key k;
    key_cs(&k, c->id);
    Md__ChunkserverRecord *r;
    int rc = unpack_as(x, &k, chunkserver_record, &r);
    if (rc == CAIRN_E_NOTFOUND)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_CHUNKSERVER,
                      "no such chunkserver");
    if (rc)
        return rc;
    if (c->set_state) {
        if (c->state < MD__CHUNKSERVER_STATE__CS_ACTIVE ||
            c->state > MD__CHUNKSERVER_STATE__CS_RETIRED) {
            free_msg(r);
            return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad state");
        }
        r->state = c->state;
    }
    if (c->set_space) {
        r->capacity = c->capacity;
        r->free = c->free;
    }
    r->updated_ms = c->now_ms;
    rc = put_msg(x, &k, r);
    free_msg(r);
    return rc;
}

/* Finds the group gid in the record at rkey. On success *obj or *part holds
 * the unpacked owner (the other NULL) and *g points into it. */
static int find_group(struct exec *x, const uint8_t *gid, struct md_key *rkey,
                      Md__ObjectRecord **obj, Md__PartRecord **part, Md__ChunkGroup **g)
{
    *obj = NULL;
    *part = NULL;
    struct md_key k;
    key_locator(&k, gid);
    Md__GroupLocator *loc;
    int rc = unpack_as(x, &k, group_locator, &loc);
    if (rc == CAIRN_E_NOTFOUND)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_GROUP, "no such group");
    if (rc)
        return rc;
    if (loc->record_key.len < 2 || loc->record_key.len > sizeof(rkey->b)) {
        free_msg(loc);
        return CAIRN_E_CORRUPT;
    }
    memcpy(rkey->b, loc->record_key.data, loc->record_key.len);
    rkey->n = loc->record_key.len;
    free_msg(loc);
    Md__Extent **ext;
    size_t n;
    if (rkey->b[1] == MD_K_OBJECT) {
        if ((rc = unpack_as(x, rkey, object_record, obj)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = (*obj)->extents;
        n = (*obj)->n_extents;
    } else if (rkey->b[1] == MD_K_PART) {
        if ((rc = unpack_as(x, rkey, part_record, part)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = (*part)->extents;
        n = (*part)->n_extents;
    } else {
        return CAIRN_E_CORRUPT;
    }
    for (size_t i = 0; i < n; i++) {
        if (memcmp(ext[i]->group->id.data, gid, 16) == 0) {
            *g = ext[i]->group;
            return 0;
        }
    }
    return CAIRN_E_CORRUPT; /* locator names a record without the group */
}

static int cmd_move_fragment(struct exec *x, const Md__MoveFragment *c)
{
    if (c->group_id.len != 16)
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group id");
    struct md_key rkey, k;
    Md__ObjectRecord *obj;
    Md__PartRecord *part;
    Md__ChunkGroup *g;
    int rc = find_group(x, c->group_id.data, &rkey, &obj, &part, &g);
    if (rc)
        goto out;
    if (c->index >= g->n_fragment_cs) {
        rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad fragment index");
        goto out;
    }
    if (g->fragment_cs[c->index] != c->old_cs) {
        rc = refuse(x, CAIRN_E_PRECOND, MD__REASON__R_LOCATION_MISMATCH,
                    "fragment is not on old_cs");
        goto out;
    }
    if (c->new_cs) {
        void *v;
        size_t vl;
        key_cs(&k, c->new_cs);
        rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == CAIRN_E_NOTFOUND) {
            rc = refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_CHUNKSERVER,
                        "no such chunkserver");
            goto out;
        }
        if (rc)
            goto out;
        free(v);
    }
    for (size_t f = 0; c->new_cs && f < g->n_fragment_cs; f++) {
        if (f != c->index && g->fragment_cs[f] == c->new_cs) {
            rc = refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                        "new_cs already holds a fragment of the group");
            goto out;
        }
    }
    key_fragment(&k, c->old_cs, g->id.data, c->index);
    if ((rc = md_txn_del(x->txn, k.b, k.n)))
        goto out;
    key_fragment(&k, c->new_cs, g->id.data, c->index);
    if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
        goto out;
    g->fragment_cs[c->index] = c->new_cs;
    rc = obj ? put_msg(x, &rkey, obj) : put_msg(x, &rkey, part);
out:
    if (obj)
        free_msg(obj);
    if (part)
        free_msg(part);
    return rc;
}

/* ------------------------------------------------------------ garbage -- */

static int cmd_garbage_add(struct exec *x, const Md__GarbageAdd *c)
{
    for (size_t i = 0; i < c->n_groups; i++)
        if (!valid_group(x->sm, c->groups[i]))
            return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group");
    for (size_t i = 0; i < c->n_groups; i++) {
        struct md_key k;
        key_locator(&k, c->groups[i]->id.data);
        void *v;
        size_t vl;
        int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == 0) {
            free(v); /* a live group is never garbage */
            continue;
        }
        if (rc != CAIRN_E_NOTFOUND)
            return rc;
        uint64_t before = x->next_garbage_seq;
        if ((rc = garbage_append(x, c->groups[i])))
            return rc;
        x->res->count += x->next_garbage_seq - before;
    }
    return 0;
}

static int cmd_garbage_ack(struct exec *x, const Md__GarbageAck *c)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        struct md_key k;
        key_garbage(&k, c->entries[i]->seq);
        Md__GarbageRecord *g;
        int rc = unpack_as(x, &k, garbage_record, &g);
        if (rc == CAIRN_E_NOTFOUND)
            continue;
        if (rc)
            return rc;
        int changed = 0, left = 0;
        for (size_t f = 0; g->group && f < g->group->n_fragment_cs; f++) {
            if (g->group->fragment_cs[f] == c->entries[i]->cs && c->entries[i]->cs) {
                g->group->fragment_cs[f] = 0;
                changed = 1;
            }
            left |= g->group->fragment_cs[f] != 0;
        }
        if (changed) {
            x->res->count++;
            rc = left ? put_msg(x, &k, g) : md_txn_del(x->txn, k.b, k.n);
            key_garbage_cs(&k, c->entries[i]->cs, c->entries[i]->seq);
            if (!rc)
                rc = md_txn_del(x->txn, k.b, k.n);
        }
        free_msg(g);
        if (rc)
            return rc;
    }
    return 0;
}

/* -------------------------------------------------------- access keys -- */

static int cmd_create_key(struct exec *x, const Md__CreateAccessKey *c)
{
    const Md__AccessKeyRecord *a = c->key;
    if (!a || !md_valid_key_id(a->key_id) || !a->secret[0])
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad access key");
    struct md_key k;
    key_access(&k, a->key_id);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        return refuse(x, CAIRN_E_EXISTS, MD__REASON__R_KEY_EXISTS, "access key exists");
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;
    return put_msg(x, &k, a);
}

static int cmd_delete_key(struct exec *x, const Md__DeleteAccessKey *c)
{
    if (!md_valid_key_id(c->key_id))
        return refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad access key id");
    struct md_key k;
    key_access(&k, c->key_id);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_ACCESS_KEY, "no such access key");
    if (rc)
        return rc;
    free(v);
    return md_txn_del(x->txn, k.b, k.n);
}

/* ----------------------------------------------------------- dispatch -- */

static int dispatch(struct exec *x, const Md__Command *c)
{
    switch (c->op_case) {
    case MD__COMMAND__OP_NOOP:
        return 0;
    case MD__COMMAND__OP_CREATE_BUCKET:
        return cmd_create_bucket(x, c->create_bucket);
    case MD__COMMAND__OP_DELETE_BUCKET:
        return cmd_delete_bucket(x, c->delete_bucket);
    case MD__COMMAND__OP_PUT_OBJECT:
        return cmd_put_object(x, c->put_object);
    case MD__COMMAND__OP_DELETE_OBJECT:
        return cmd_delete_object(x, c->delete_object);
    case MD__COMMAND__OP_CREATE_UPLOAD:
        return cmd_create_upload(x, c->create_upload);
    case MD__COMMAND__OP_PUT_PART:
        return cmd_put_part(x, c->put_part);
    case MD__COMMAND__OP_COMPLETE_UPLOAD:
        return cmd_complete_upload(x, c->complete_upload);
    case MD__COMMAND__OP_ABORT_UPLOAD:
        return cmd_abort_upload(x, c->abort_upload);
    case MD__COMMAND__OP_REGISTER_CS:
        return cmd_register_cs(x, c->register_cs);
    case MD__COMMAND__OP_SET_CS_STATE:
        return cmd_set_cs_state(x, c->set_cs_state);
    case MD__COMMAND__OP_MOVE_FRAGMENT:
        return cmd_move_fragment(x, c->move_fragment);
    case MD__COMMAND__OP_GARBAGE_ADD:
        return cmd_garbage_add(x, c->garbage_add);
    case MD__COMMAND__OP_GARBAGE_ACK:
        return cmd_garbage_ack(x, c->garbage_ack);
    case MD__COMMAND__OP_CREATE_KEY:
        return cmd_create_key(x, c->create_key);
    case MD__COMMAND__OP_DELETE_KEY:
        return cmd_delete_key(x, c->delete_key);
    case MD__COMMAND__OP_DELETE_OBJECTS:
        return cmd_delete_objects(x, c->delete_objects);
    case MD__COMMAND__OP_UPDATE_ATTRS:
        return cmd_update_attrs(x, c->update_attrs);
    default:
        return refuse(x, CAIRN_E_UNSUPPORTED, MD__REASON__R_UNKNOWN_COMMAND, "unknown command");
    }
}

/* Saves the client's last result and keeps the session table bounded. */
static int save_session(struct exec *x, uint64_t client, uint64_t seq, const Md__Session *prev,
                        uint8_t *result, size_t rlen)
{
    struct md_key k;
    int rc;
    if (prev) {
        key_session_age(&k, prev->last_index, client);
        if ((rc = md_txn_del(x->txn, k.b, k.n)))
            return rc;
    } else {
        x->session_count++;
    }
    Md__Session s = MD__SESSION__INIT;
    s.client_id = client;
    s.seq = seq;
    s.last_index = x->index;
    s.result.data = result;
    s.result.len = rlen;
    key_session(&k, client);
    if ((rc = put_msg(x, &k, &s)))
        return rc;
    key_session_age(&k, x->index, client);
    if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
        return rc;
    while (x->session_count > x->sm->opt.max_sessions) {
        struct md_titer *it;
        if ((rc = md_titer_new(x->txn, &it)))
            return rc;
        struct md_key pre;
        md_key_start(&pre, MD_K_SESS_AGE);
        md_titer_seek(it, pre.b, pre.n);
        if (!md_titer_has_prefix(it, pre.b, pre.n)) {
            rc = md_titer_status(it) ? md_titer_status(it) : CAIRN_E_CORRUPT;
            md_titer_free(it);
            return rc;
        }
        size_t kl;
        const unsigned char *ak = md_titer_key(it, &kl);
        if (kl != 18) {
            md_titer_free(it);
            return CAIRN_E_CORRUPT;
        }
        uint64_t victim = md_get_be64(ak + 10);
        rc = md_txn_del(x->txn, ak, kl);
        md_titer_free(it);
        key_session(&k, victim);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
        if (rc)
            return rc;
        x->session_count--;
    }
    return 0;
}

/* Applies one command inside the slot's transaction. */
static int apply_one(struct exec *x, const void *cmd, size_t len, uint8_t **out, size_t *outlen)
{
    Md__Result res = MD__RESULT__INIT;
    res.index = x->index;
    x->res = &res;
    Md__Command *c = md__command__unpack(NULL, len, cmd);
    if (!c) {
        refuse(x, CAIRN_E_PROTO, MD__REASON__R_INVALID_ARGUMENT, "undecodable command");
        return cn_pb_pack(&res.base, out, outlen);
    }
    Md__Session *sess = NULL;
    int rc = 0;
    if (c->seq) {
        struct md_key k;
        key_session(&k, c->client_id);
        rc = unpack_as(x, &k, session, &sess);
        if (rc == CAIRN_E_NOTFOUND) {
            sess = NULL;
            rc = 0;
        }
        if (rc)
            goto out;
        if (sess && c->seq == sess->seq) {
            /* A retry: the saved result, nothing applied. */
            *out = malloc(sess->result.len ? sess->result.len : 1);
            if (!*out) {
                rc = CAIRN_E_NOMEM;
                goto out;
            }
            memcpy(*out, sess->result.data, sess->result.len);
            *outlen = sess->result.len;
            goto out;
        }
        if (sess && c->seq < sess->seq) {
            refuse(x, CAIRN_E_RANGE, MD__REASON__R_STALE_REQUEST,
                   "request older than the client's last applied one");
            rc = cn_pb_pack(&res.base, out, outlen);
            goto out;
        }
    }
    struct md_txn_savepoint sp;
    md_txn_save(x->txn, &sp);
    uint64_t gseq = x->next_garbage_seq;
    rc = dispatch(x, c);
    if (rc == REFUSED) {
        md_txn_rollback(x->txn, &sp);
        x->next_garbage_seq = gseq;
        rc = 0;
    } else {
        md_txn_release(&sp);
        if (rc)
            goto out;
    }
    if ((rc = cn_pb_pack(&res.base, out, outlen)))
        goto out;
    if (c->seq && (rc = save_session(x, c->client_id, c->seq, sess, *out, *outlen))) {
        free(*out);
        *out = NULL;
    }
out:
    free(x->owned_key_results);
    free(x->owned_key_result_ptrs);
    x->owned_key_results = NULL;
    x->owned_key_result_ptrs = NULL;
    if (sess)
        free_msg(sess);
    md__command__free_unpacked(c, NULL);
    return rc;
}

/* -------------------------------------------------------------- public -- */

static int load_info(struct md_sm *sm, int init_if_empty)
{
    struct md_txn t;
    int rc = md_txn_init(&t, sm->store);
    if (rc)
        return rc;
    struct md_key k;
    md_key_start(&k, MD_K_LOADING);
    void *v;
    size_t vl;
    rc = md_txn_get(&t, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        CN_ERROR("md", "store holds an interrupted snapshot load; it needs a new snapshot");
        rc = CAIRN_E_CORRUPT;
        goto out;
    }
    md_key_start(&k, MD_K_INFO);
    Md__StoreInfo *info;
    rc = md_txn_get_msg(&t, &k, &md__store_info__descriptor, (ProtobufCMessage **)&info);
    if (rc == CAIRN_E_NOTFOUND && init_if_empty) {
        Md__StoreInfo fresh = MD__STORE_INFO__INIT;
        fresh.format = MD_SM_FORMAT;
        fresh.next_garbage_seq = 1;
        if ((rc = md_txn_put_msg(&t, &k, &fresh.base)) == 0)
            rc = md_store_write(sm->store, t.batch);
        sm->applied_index = 0;
        sm->next_garbage_seq = 1;
        sm->session_count = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (info->format != MD_SM_FORMAT) {
        CN_ERROR("md", "store format %u, this build reads %u", info->format, MD_SM_FORMAT);
        rc = CAIRN_E_CORRUPT;
    } else {
        sm->applied_index = info->applied_index;
        sm->next_garbage_seq = info->next_garbage_seq;
        sm->session_count = info->session_count;
    }
    md__store_info__free_unpacked(info, NULL);
out:
    md_txn_destroy(&t);
    return rc;
}

int md_sm_open(struct md_store *store, const struct md_sm_options *opt, struct md_sm **out)
{
    struct md_sm *sm = calloc(1, sizeof(*sm));
    if (!sm)
        return CAIRN_E_NOMEM;
    sm->store = store;
    if (opt)
        sm->opt = *opt;
    else
        md_sm_options_default(&sm->opt);
    if (sm->opt.max_sessions < 1)
        sm->opt.max_sessions = 1;
    int rc = load_info(sm, 1);
    if (rc) {
        free(sm);
        return rc;
    }
    *out = sm;
    return 0;
}

int md_sm_reload(struct md_sm *sm)
{
    return load_info(sm, 0);
}

void md_sm_free(struct md_sm *sm)
{
    free(sm);
}

uint64_t md_sm_applied_index(const struct md_sm *sm)
{
    return sm->applied_index;
}

int md_sm_apply_slot(struct md_sm *sm, uint64_t index, size_t n, const void *const *cmds,
                     const size_t *cmd_lens, const struct md_batch *extra, uint8_t **results,
                     size_t *result_lens)
{
    if (index <= sm->applied_index)
        return CAIRN_E_RANGE;
    for (size_t i = 0; extra && i < md_batch_count(extra); i++) {
        int del;
        const void *k, *v;
        size_t kl, vl;
        md_batch_op(extra, i, &del, &k, &kl, &v, &vl);
        if (kl && ((const unsigned char *)k)[0] == MD_SM_KEY_PREFIX)
            return CAIRN_E_INVAL;
    }
    struct md_txn t;
    int rc = md_txn_init(&t, sm->store);
    if (rc)
        return rc;
    struct exec x = {.sm = sm,
                     .txn = &t,
                     .index = index,
                     .next_garbage_seq = sm->next_garbage_seq,
                     .session_count = sm->session_count};
    size_t done = 0;
    for (; done < n; done++) {
        if ((rc = apply_one(&x, cmds[done], cmd_lens[done], &results[done], &result_lens[done])))
            goto err;
    }
    Md__StoreInfo info = MD__STORE_INFO__INIT;
    info.format = MD_SM_FORMAT;
    info.applied_index = index;
    info.next_garbage_seq = x.next_garbage_seq;
    info.session_count = x.session_count;
    struct md_key k;
    md_key_start(&k, MD_K_INFO);
    if ((rc = md_txn_put_msg(&t, &k, &info.base)))
        goto err;
    if (extra && (rc = md_batch_append(t.batch, extra)))
        goto err;
    if ((rc = md_store_write(sm->store, t.batch)))
        goto err;
    sm->applied_index = index;
    sm->next_garbage_seq = x.next_garbage_seq;
    sm->session_count = x.session_count;
    md_txn_destroy(&t);
    return 0;
err:
    CN_ERROR("md", "applying slot %llu failed: %s", (unsigned long long)index, cairn_strerror(rc));
    for (size_t i = 0; i < done; i++) {
        free(results[i]);
        results[i] = NULL;
    }
    md_txn_destroy(&t);
    return rc;
}

int md_sm_apply(struct md_sm *sm, uint64_t index, const void *cmd, size_t cmd_len, uint8_t **result,
                size_t *result_len)
{
    return md_sm_apply_slot(sm, index, 1, &cmd, &cmd_len, NULL, result, result_len);
}

int md_sm_state_hash(struct md_store *store, uint8_t out[32])
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        md_iter_free(it);
        return CAIRN_E_NOMEM;
    }
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    const unsigned char pre = MD_SM_KEY_PREFIX;
    for (md_iter_seek(it, &pre, 1); ok && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (!kl || key[0] != pre)
            break;
        const void *val = md_iter_value(it, &vl);
        unsigned char len[4];
        len[0] = (unsigned char)(kl >> 24), len[1] = (unsigned char)(kl >> 16);
        len[2] = (unsigned char)(kl >> 8), len[3] = (unsigned char)kl;
        ok = EVP_DigestUpdate(ctx, len, 4) && EVP_DigestUpdate(ctx, key, kl);
        len[0] = (unsigned char)(vl >> 24), len[1] = (unsigned char)(vl >> 16);
        len[2] = (unsigned char)(vl >> 8), len[3] = (unsigned char)vl;
        ok = ok && EVP_DigestUpdate(ctx, len, 4) && (vl == 0 || EVP_DigestUpdate(ctx, val, vl));
    }
    rc = md_iter_status(it);
    unsigned outlen = 0;
    if (ok && !rc)
        ok = EVP_DigestFinal_ex(ctx, out, &outlen);
    EVP_MD_CTX_free(ctx);
    md_iter_free(it);
    if (!rc && !ok)
        rc = CAIRN_E_IO;
    return rc;
}
