#include "md_txn.h"
#include "cn_error.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- keys -- */

void md_key_start(struct md_key *k, char type)
{
    k->b[0] = 'S';
    k->b[1] = (unsigned char)type;
    k->n = 2;
}

void md_key_bytes(struct md_key *k, const void *p, size_t n)
{
    /* Callers validate lengths first; clamp so a bug cannot overflow. */
    if (n > sizeof(k->b) - k->n)
        n = sizeof(k->b) - k->n;
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

void md_key_str(struct md_key *k, const char *s)
{
    md_key_bytes(k, s, strlen(s));
}

void md_key_byte(struct md_key *k, unsigned char c)
{
    md_key_bytes(k, &c, 1);
}

void md_key_be32(struct md_key *k, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    md_key_bytes(k, b, 4);
}

void md_key_be64(struct md_key *k, uint64_t v)
{
    md_key_be32(k, (uint32_t)(v >> 32));
    md_key_be32(k, (uint32_t)v);
}

uint32_t md_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t md_get_be64(const unsigned char *p)
{
    return (uint64_t)md_get_be32(p) << 32 | md_get_be32(p + 4);
}

void md_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

void md_put_be64(unsigned char *p, uint64_t v)
{
    md_put_be32(p, (uint32_t)(v >> 32));
    md_put_be32(p + 4, (uint32_t)v);
}

int md_key_prefix_end(struct md_key *k)
{
    while (k->n && k->b[k->n - 1] == 0xff)
        k->n--;
    if (!k->n)
        return CAIRN_E_RANGE;
    k->b[k->n - 1]++;
    return 0;
}

int md_valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > MD_BUCKET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int md_valid_objkey(const char *k)
{
    /* protobuf strings cannot carry NUL through the C API: no NUL inside. */
    size_t n = strlen(k);
    return n >= 1 && n <= MD_OBJKEY_MAX;
}

static int valid_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

int md_valid_upload_id(const char *u)
{
    return valid_token(u, MD_UPLOAD_ID_MAX);
}

int md_valid_key_id(const char *k)
{
    return valid_token(k, MD_KEYID_MAX);
}

int md_valid_user(const char *u)
{
    size_t n = strlen(u);
    if (n < 1 || n > MD_USER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,.@-", u[i]))
            return 0;
    return 1;
}

/* -------------------------------------------------------- transactions -- */

int md_txn_init(struct md_txn *t, struct md_store *store)
{
    t->store = store;
    t->snap = NULL;
    md_tree_init(&t->overlay);
    t->batch = md_batch_new();
    return t->batch ? 0 : CAIRN_E_NOMEM;
}

int md_txn_init_snapshot(struct md_txn *t, struct md_store *store)
{
    int rc = md_txn_init(t, store);
    if (!rc && (rc = md_store_snapshot_new(store, &t->snap)))
        md_txn_destroy(t);
    return rc;
}

void md_txn_destroy(struct md_txn *t)
{
    md_tree_destroy(&t->overlay);
    md_batch_free(t->batch);
    md_snapshot_free(t->snap);
    t->batch = NULL;
    t->snap = NULL;
}

int md_txn_get(struct md_txn *t, const void *key, size_t klen, void **val, size_t *vlen)
{
    const void *v;
    size_t vl;
    int tomb;
    if (md_tree_get(&t->overlay, key, klen, &v, &vl, &tomb)) {
        *val = NULL;
        *vlen = 0;
        if (tomb)
            return CAIRN_E_NOTFOUND;
        if (vl) {
            *val = malloc(vl);
            if (!*val)
                return CAIRN_E_NOMEM;
            memcpy(*val, v, vl);
        }
        *vlen = vl;
        return 0;
    }
    if (t->snap)
        return md_snapshot_get(t->snap, key, klen, val, vlen);
    return md_store_get(t->store, key, klen, val, vlen);
}

int md_txn_put(struct md_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = md_tree_put(&t->overlay, key, klen, val, vlen, 0);
    if (!rc)
        rc = md_batch_put(t->batch, key, klen, val, vlen);
    return rc;
}

int md_txn_del(struct md_txn *t, const void *key, size_t klen)
{
    int rc = md_tree_put(&t->overlay, key, klen, NULL, 0, 1);
    if (!rc)
        rc = md_batch_del(t->batch, key, klen);
    return rc;
}

int md_txn_get_msg(struct md_txn *t, const struct md_key *key,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    void *v;
    size_t vl;
    int rc = md_txn_get(t, key->b, key->n, &v, &vl);
    if (rc)
        return rc;
    *out = protobuf_c_message_unpack(desc, NULL, vl, v);
    free(v);
    return *out ? 0 : CAIRN_E_CORRUPT;
}

int md_txn_put_msg(struct md_txn *t, const struct md_key *key, const ProtobufCMessage *msg)
{
    uint8_t *buf;
    size_t n;
    int rc = cn_pb_pack(msg, &buf, &n);
    if (rc)
        return rc;
    rc = md_txn_put(t, key->b, key->n, buf, n);
    free(buf);
    return rc;
}

void md_txn_save(struct md_txn *t, struct md_txn_savepoint *sp)
{
    sp->root = md_tree_root_ref(&t->overlay);
    sp->count = t->overlay.count;
    sp->nops = md_batch_count(t->batch);
}

void md_txn_rollback(struct md_txn *t, struct md_txn_savepoint *sp)
{
    md_tree_destroy(&t->overlay);
    t->overlay.root = sp->root;
    t->overlay.count = sp->count;
    md_batch_truncate(t->batch, sp->nops);
    sp->root = NULL;
}

void md_txn_release(struct md_txn_savepoint *sp)
{
    md_tree_root_unref(sp->root);
    sp->root = NULL;
}

/* ------------------------------------------------------ merged iterator -- */

enum { CUR_NONE, CUR_STORE, CUR_OVERLAY };

struct md_titer {
    struct md_iter *store_it;
    struct md_tree_iter over_it;
    int cur;
    int both; /* the overlay entry shadows a store entry with the same key */
    int status;
};

int md_titer_new(struct md_txn *t, struct md_titer **out)
{
    struct md_titer *it = calloc(1, sizeof(*it));
    if (!it)
        return CAIRN_E_NOMEM;
    int rc = t->snap ? md_snapshot_iter_new(t->snap, &it->store_it)
                     : md_store_iter_new(t->store, &it->store_it);
    if (rc) {
        free(it);
        return rc;
    }
    md_tree_iter_init(&it->over_it, t->overlay.root);
    *out = it;
    return 0;
}

void md_titer_free(struct md_titer *it)
{
    if (!it)
        return;
    md_iter_free(it->store_it);
    md_tree_iter_destroy(&it->over_it);
    free(it);
}

static void settle(struct md_titer *it)
{
    for (;;) {
        int sv = md_iter_valid(it->store_it);
        int ov = md_tree_iter_valid(&it->over_it);
        if (!sv && md_iter_status(it->store_it))
            it->status = md_iter_status(it->store_it);
        if (it->status || (!sv && !ov)) {
            it->cur = CUR_NONE;
            return;
        }
        int c;
        if (sv && ov) {
            size_t sl, ol;
            const void *sk = md_iter_key(it->store_it, &sl);
            const void *ok = md_tree_iter_key(&it->over_it, &ol);
            c = md_key_cmp(sk, sl, ok, ol);
        } else {
            c = sv ? -1 : 1;
        }
        if (c < 0) {
            it->cur = CUR_STORE;
            it->both = 0;
            return;
        }
        int tomb;
        size_t vl;
        md_tree_iter_value(&it->over_it, &vl, &tomb);
        if (tomb) {
            if (md_tree_iter_next(&it->over_it))
                it->status = CAIRN_E_NOMEM;
            if (c == 0)
                md_iter_next(it->store_it);
            continue;
        }
        it->cur = CUR_OVERLAY;
        it->both = c == 0;
        return;
    }
}

void md_titer_seek(struct md_titer *it, const void *key, size_t klen)
{
    md_iter_seek(it->store_it, key, klen);
    if (md_tree_iter_seek(&it->over_it, key, klen))
        it->status = CAIRN_E_NOMEM;
    settle(it);
}

int md_titer_valid(const struct md_titer *it)
{
    return it->cur != CUR_NONE;
}

void md_titer_next(struct md_titer *it)
{
    if (it->cur == CUR_STORE) {
        md_iter_next(it->store_it);
    } else if (it->cur == CUR_OVERLAY) {
        if (md_tree_iter_next(&it->over_it))
            it->status = CAIRN_E_NOMEM;
        if (it->both)
            md_iter_next(it->store_it);
    }
    settle(it);
}

const void *md_titer_key(const struct md_titer *it, size_t *klen)
{
    if (it->cur == CUR_STORE)
        return md_iter_key(it->store_it, klen);
    return md_tree_iter_key(&it->over_it, klen);
}

const void *md_titer_value(const struct md_titer *it, size_t *vlen)
{
    if (it->cur == CUR_STORE)
        return md_iter_value(it->store_it, vlen);
    return md_tree_iter_value(&it->over_it, vlen, NULL);
}

int md_titer_status(const struct md_titer *it)
{
    return it->status;
}

int md_titer_has_prefix(const struct md_titer *it, const void *prefix, size_t n)
{
    if (!md_titer_valid(it))
        return 0;
    size_t kl;
    const void *k = md_titer_key(it, &kl);
    return kl >= n && memcmp(k, prefix, n) == 0;
}
