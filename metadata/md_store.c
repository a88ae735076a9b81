#include "md_store.h"
#include "md_tree.h"
#include "cn_error.h"
#include "cn_log.h"

#include <leveldb/c.h>
#include <stdatomic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------- batches -- */

struct batch_op {
    int is_del;
    size_t koff, klen, voff, vlen;
};

struct md_batch {
    struct batch_op *ops;
    size_t n, cap;
    unsigned char *buf;
    size_t used, bufcap;
};

struct md_batch *md_batch_new(void)
{
    return calloc(1, sizeof(struct md_batch));
}

void md_batch_free(struct md_batch *b)
{
    if (!b)
        return;
    free(b->ops);
    free(b->buf);
    free(b);
}

void md_batch_clear(struct md_batch *b)
{
    b->n = 0;
    b->used = 0;
}

static int batch_reserve(struct md_batch *b, size_t bytes)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct batch_op *ops = realloc(b->ops, cap * sizeof(*ops));
        if (!ops)
            return CAIRN_E_NOMEM;
        b->ops = ops;
        b->cap = cap;
    }
    if (b->used + bytes > b->bufcap) {
        size_t cap = b->bufcap ? b->bufcap : 256;
        while (cap < b->used + bytes)
            cap *= 2;
        unsigned char *nb = realloc(b->buf, cap);
        if (!nb)
            return CAIRN_E_NOMEM;
        b->buf = nb;
        b->bufcap = cap;
    }
    return 0;
}

static int batch_add(struct md_batch *b, int is_del, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    if (batch_reserve(b, klen + vlen))
        return CAIRN_E_NOMEM;
    struct batch_op *op = &b->ops[b->n++];
    op->is_del = is_del;
    op->koff = b->used;
    op->klen = klen;
    if (klen)
        memcpy(b->buf + b->used, key, klen);
    b->used += klen;
    op->voff = b->used;
    op->vlen = vlen;
    if (vlen)
        memcpy(b->buf + b->used, val, vlen);
    b->used += vlen;
    return 0;
}

int md_batch_put(struct md_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    return batch_add(b, 0, key, klen, val, vlen);
}

int md_batch_del(struct md_batch *b, const void *key, size_t klen)
{
    return batch_add(b, 1, key, klen, NULL, 0);
}

size_t md_batch_count(const struct md_batch *b)
{
    return b->n;
}

void md_batch_truncate(struct md_batch *b, size_t n)
{
    if (n >= b->n)
        return;
    b->n = n;
    b->used = b->ops[n].koff;
}

size_t md_batch_bytes(const struct md_batch *b)
{
    return b->used;
}

void md_batch_op(const struct md_batch *b, size_t i, int *is_del, const void **key, size_t *klen,
                 const void **val, size_t *vlen)
{
    const struct batch_op *op = &b->ops[i];
    *is_del = op->is_del;
    *key = b->buf + op->koff;
    *klen = op->klen;
    *val = op->is_del ? NULL : b->buf + op->voff;
    *vlen = op->vlen;
}

int md_batch_append(struct md_batch *dst, const struct md_batch *src)
{
    for (size_t i = 0; i < src->n; i++) {
        int del;
        const void *k, *v;
        size_t kl, vl;
        md_batch_op(src, i, &del, &k, &kl, &v, &vl);
        int rc = batch_add(dst, del, k, kl, v, vl);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------ store dispatch -- */

enum backend { BACKEND_MEM, BACKEND_LEVELDB };

struct md_store {
    enum backend kind;
    atomic_uint_fast64_t seeks, nexts; /* iterators may run on several threads */
    atomic_uint_fast64_t write_ops;    /* puts and deletes of the batches written */
    /* memory */
    struct md_tree tree;
    /* memory, crash model: roots as of the last sync and after each write
     * since (md_store_mem_track_durability) */
    int track;
    struct md_tree durable;
    struct md_tree *unsynced;
    size_t n_unsynced, cap_unsynced;
    long fail_after; /* writes and syncs left before the disk dies; < 0 never */
    /* LevelDB */
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_writeoptions_t *wopt;
    leveldb_readoptions_t *ropt;
    char *path; /* its directory */
};

struct md_iter {
    struct md_store *store;
    int status;
    /* memory */
    struct md_tree_iter tit;
    /* LevelDB */
    const leveldb_snapshot_t *own_snap; /* NULL when iterating a md_snapshot */
    leveldb_readoptions_t *ropt;
    leveldb_iterator_t *lit;
};

struct md_snapshot {
    struct md_store *store;
    struct md_tree_node *root; /* memory */
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ropt;
};

void md_store_options_default(struct md_store_options *opt)
{
    opt->sync = 1;
    opt->create_if_missing = 1;
    opt->cache_bytes = 0;
}

int md_store_open_mem(struct md_store **out)
{
    struct md_store *s = calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    s->kind = BACKEND_MEM;
    md_tree_init(&s->tree);
    md_tree_init(&s->durable);
    s->fail_after = -1;
    *out = s;
    return 0;
}

int md_store_clone_mem(const struct md_store *src, struct md_store **out)
{
    if (src->kind != BACKEND_MEM)
        return CAIRN_E_UNSUPPORTED;
    struct md_store *s = calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    s->kind = BACKEND_MEM;
    s->tree.root = md_tree_root_ref(&src->tree);
    s->tree.count = src->tree.count;
    md_tree_init(&s->durable);
    s->fail_after = -1;
    *out = s;
    return 0;
}

/* A second reference to t's version. */
static struct md_tree tree_share(const struct md_tree *t)
{
    return (struct md_tree){.root = md_tree_root_ref(t), .count = t->count};
}

static void forget_unsynced(struct md_store *s)
{
    for (size_t i = 0; i < s->n_unsynced; i++)
        md_tree_destroy(&s->unsynced[i]);
    s->n_unsynced = 0;
}

int md_store_mem_track_durability(struct md_store *s)
{
    if (s->kind != BACKEND_MEM)
        return CAIRN_E_UNSUPPORTED;
    forget_unsynced(s);
    md_tree_destroy(&s->durable);
    s->durable = tree_share(&s->tree);
    s->track = 1;
    return 0;
}

size_t md_store_mem_unsynced(const struct md_store *s)
{
    return s->track ? s->n_unsynced : 0;
}

int md_store_mem_crash(const struct md_store *s, size_t keep, struct md_store **out)
{
    if (s->kind != BACKEND_MEM || !s->track || keep > s->n_unsynced)
        return CAIRN_E_INVAL;
    struct md_store *c;
    int rc = md_store_open_mem(&c);
    if (rc)
        return rc;
    const struct md_tree *at = keep ? &s->unsynced[keep - 1] : &s->durable;
    c->tree = tree_share(at);
    c->durable = tree_share(at);
    c->track = 1;
    *out = c;
    return 0;
}

void md_store_mem_fail_after(struct md_store *s, long n)
{
    s->fail_after = n < 0 ? -1 : n;
}

/* Fault injection: whether this write or sync fails (the disk died). */
static int mem_disk_failed(struct md_store *s)
{
    if (s->fail_after < 0)
        return 0;
    if (s->fail_after == 0)
        return 1;
    s->fail_after--;
    return 0;
}

int md_store_open_leveldb(const char *path, const struct md_store_options *opt,
                          struct md_store **out)
{
    struct md_store_options defaults;
    if (!opt) {
        md_store_options_default(&defaults);
        opt = &defaults;
    }
    struct md_store *s = calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    s->kind = BACKEND_LEVELDB;
    if (!(s->path = strdup(path))) {
        free(s);
        return CAIRN_E_NOMEM;
    }
    s->options = leveldb_options_create();
    leveldb_options_set_create_if_missing(s->options, opt->create_if_missing ? 1 : 0);
    leveldb_options_set_paranoid_checks(s->options, 1);
    if (opt->cache_bytes) {
        s->cache = leveldb_cache_create_lru(opt->cache_bytes);
        leveldb_options_set_cache(s->options, s->cache);
    }
    if (opt->write_buffer)
        leveldb_options_set_write_buffer_size(s->options, opt->write_buffer);
    /* A Bloom filter per table (10 bits a key, ~1% false positives): a
     * lookup of a key that is not there -- every PUT of a new object, every
     * first read of a version or locator -- reads one block instead of one
     * per level, so its cost stays flat as the store grows (issue #16).
     * Tables written before carry no filter and are read as before. */
    s->filter = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_filter_policy(s->options, s->filter);
    s->wopt = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wopt, opt->sync ? 1 : 0);
    s->ropt = leveldb_readoptions_create();
    leveldb_readoptions_set_verify_checksums(s->ropt, 1);
    char *err = NULL;
    s->db = leveldb_open(s->options, path, &err);
    if (err) {
        CN_ERROR("md", "leveldb open %s: %s", path, err);
        leveldb_free(err);
        md_store_free(s);
        return CAIRN_E_IO;
    }
    *out = s;
    return 0;
}

void md_store_free(struct md_store *s)
{
    if (!s)
        return;
    if (s->kind == BACKEND_MEM) {
        md_tree_destroy(&s->tree);
        forget_unsynced(s);
        free(s->unsynced);
        md_tree_destroy(&s->durable);
    } else {
        if (s->db)
            leveldb_close(s->db);
        if (s->ropt)
            leveldb_readoptions_destroy(s->ropt);
        if (s->wopt)
            leveldb_writeoptions_destroy(s->wopt);
        if (s->options)
            leveldb_options_destroy(s->options);
        if (s->cache)
            leveldb_cache_destroy(s->cache);
        if (s->filter)
            leveldb_filterpolicy_destroy(s->filter);
        free(s->path);
    }
    free(s);
}

int md_store_is_persistent(const struct md_store *s)
{
    return s->kind == BACKEND_LEVELDB;
}

static int mem_get(const struct md_tree *t, const void *key, size_t klen, void **val, size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    const void *v;
    size_t vl;
    int tomb;
    if (!md_tree_get(t, key, klen, &v, &vl, &tomb) || tomb)
        return CAIRN_E_NOTFOUND;
    if (vl) {
        void *copy = malloc(vl);
        if (!copy)
            return CAIRN_E_NOMEM;
        memcpy(copy, v, vl);
        *val = copy;
    }
    *vlen = vl;
    return 0;
}

static int ldb_get(struct md_store *s, const leveldb_readoptions_t *ro, const void *key,
                   size_t klen, void **val, size_t *vlen)
{
    *val = NULL;
    *vlen = 0;
    char *err = NULL;
    size_t vl = 0;
    char *v = leveldb_get(s->db, ro, key, klen, &vl, &err);
    if (err) {
        CN_ERROR("md", "leveldb get: %s", err);
        leveldb_free(err);
        return CAIRN_E_IO;
    }
    if (!v)
        return CAIRN_E_NOTFOUND;
    if (!vl) {
        leveldb_free(v);
        return 0;
    }
    /* LevelDB's C API allocates with malloc(): free() is the matching release. */
    *val = v;
    *vlen = vl;
    return 0;
}

int md_store_get(struct md_store *s, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (s->kind == BACKEND_MEM)
        return mem_get(&s->tree, key, klen, val, vlen);
    return ldb_get(s, s->ropt, key, klen, val, vlen);
}

static int mem_write(struct md_store *s, const struct md_batch *b)
{
    if (mem_disk_failed(s))
        return CAIRN_E_IO;
    if (s->track && s->n_unsynced == s->cap_unsynced) {
        size_t cap = s->cap_unsynced ? 2 * s->cap_unsynced : 16;
        struct md_tree *n = realloc(s->unsynced, cap * sizeof(*n));
        if (!n)
            return CAIRN_E_NOMEM;
        s->unsynced = n;
        s->cap_unsynced = cap;
    }
    /* Build the new version beside the old one; swap only when every op worked. */
    struct md_tree work;
    work.root = md_tree_root_ref(&s->tree);
    work.count = s->tree.count;
    for (size_t i = 0; i < b->n; i++) {
        int del;
        const void *k, *v;
        size_t kl, vl;
        md_batch_op(b, i, &del, &k, &kl, &v, &vl);
        int rc = del ? md_tree_del(&work, k, kl) : md_tree_put(&work, k, kl, v, vl, 0);
        if (rc) {
            md_tree_destroy(&work);
            return rc;
        }
    }
    md_tree_destroy(&s->tree);
    s->tree = work;
    if (s->track)
        s->unsynced[s->n_unsynced++] = tree_share(&s->tree);
    return 0;
}

static int ldb_write(struct md_store *s, const struct md_batch *b, const leveldb_writeoptions_t *wo)
{
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    for (size_t i = 0; i < b->n; i++) {
        int del;
        const void *k, *v;
        size_t kl, vl;
        md_batch_op(b, i, &del, &k, &kl, &v, &vl);
        if (del)
            leveldb_writebatch_delete(wb, k, kl);
        else
            leveldb_writebatch_put(wb, k, kl, v ? v : "", vl);
    }
    char *err = NULL;
    leveldb_write(s->db, wo, wb, &err);
    leveldb_writebatch_destroy(wb);
    if (err) {
        CN_ERROR("md", "leveldb write: %s", err);
        leveldb_free(err);
        return CAIRN_E_IO;
    }
    return 0;
}

int md_store_write(struct md_store *s, const struct md_batch *b)
{
    atomic_fetch_add_explicit(&s->write_ops, md_batch_count(b), memory_order_relaxed);
    if (s->kind == BACKEND_MEM)
        return mem_write(s, b);
    return ldb_write(s, b, s->wopt);
}

int md_store_sync(struct md_store *s)
{
    if (s->kind == BACKEND_MEM) {
        if (mem_disk_failed(s))
            return CAIRN_E_IO;
        if (s->track) {
            forget_unsynced(s);
            md_tree_destroy(&s->durable);
            s->durable = tree_share(&s->tree);
        }
        return 0;
    }
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(wo, 1);
    struct md_batch empty = {0};
    int rc = ldb_write(s, &empty, wo);
    leveldb_writeoptions_destroy(wo);
    return rc;
}

uint64_t md_store_write_ops(const struct md_store *s)
{
    return atomic_load_explicit(&s->write_ops, memory_order_relaxed);
}

void md_store_iter_stats(const struct md_store *s, uint64_t *seeks, uint64_t *nexts)
{
    *seeks = atomic_load_explicit(&s->seeks, memory_order_relaxed);
    *nexts = atomic_load_explicit(&s->nexts, memory_order_relaxed);
}

void md_store_shape(struct md_store *s, struct md_store_shape *out)
{
    memset(out, 0, sizeof(*out));
    if (s->kind != BACKEND_LEVELDB)
        return;
    for (int l = 0; l < MD_STORE_LEVELS; l++) {
        char prop[40];
        snprintf(prop, sizeof(prop), "leveldb.num-files-at-level%d", l);
        char *v = leveldb_property_value(s->db, prop);
        if (v) {
            out->files[l] = strtoull(v, NULL, 10);
            leveldb_free(v);
        }
    }
    /* the table files' sizes (".ldb"; ".sst" from older LevelDB) */
    DIR *d = opendir(s->path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || (strcmp(e->d_name + n - 4, ".ldb") && strcmp(e->d_name + n - 4, ".sst")))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0)
            out->table_bytes += (uint64_t)st.st_size;
    }
    closedir(d);
}

int md_store_compact_all(struct md_store *s)
{
    if (s->kind != BACKEND_LEVELDB)
        return 0;
    leveldb_compact_range(s->db, NULL, 0, NULL, 0);
    return 0;
}

/* ----------------------------------------------------------- iterators -- */

static leveldb_readoptions_t *snapshot_readoptions(const leveldb_snapshot_t *snap)
{
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_verify_checksums(ro, 1);
    leveldb_readoptions_set_snapshot(ro, snap);
    return ro;
}

int md_store_iter_new(struct md_store *s, struct md_iter **out)
{
    struct md_iter *it = calloc(1, sizeof(*it));
    if (!it)
        return CAIRN_E_NOMEM;
    it->store = s;
    if (s->kind == BACKEND_MEM) {
        md_tree_iter_init(&it->tit, s->tree.root);
    } else {
        it->own_snap = leveldb_create_snapshot(s->db);
        it->ropt = snapshot_readoptions(it->own_snap);
        it->lit = leveldb_create_iterator(s->db, it->ropt);
    }
    *out = it;
    return 0;
}

int md_store_snapshot_new(struct md_store *s, struct md_snapshot **out)
{
    struct md_snapshot *snap = calloc(1, sizeof(*snap));
    if (!snap)
        return CAIRN_E_NOMEM;
    snap->store = s;
    if (s->kind == BACKEND_MEM) {
        snap->root = md_tree_root_ref(&s->tree);
    } else {
        snap->snap = leveldb_create_snapshot(s->db);
        snap->ropt = snapshot_readoptions(snap->snap);
    }
    *out = snap;
    return 0;
}

void md_snapshot_free(struct md_snapshot *snap)
{
    if (!snap)
        return;
    if (snap->store->kind == BACKEND_MEM) {
        md_tree_root_unref(snap->root);
    } else {
        leveldb_readoptions_destroy(snap->ropt);
        leveldb_release_snapshot(snap->store->db, snap->snap);
    }
    free(snap);
}

int md_snapshot_get(struct md_snapshot *snap, const void *key, size_t klen, void **val,
                    size_t *vlen)
{
    if (snap->store->kind == BACKEND_MEM) {
        struct md_tree view = {.root = snap->root, .count = 0};
        return mem_get(&view, key, klen, val, vlen);
    }
    return ldb_get(snap->store, snap->ropt, key, klen, val, vlen);
}

int md_snapshot_iter_new(struct md_snapshot *snap, struct md_iter **out)
{
    struct md_iter *it = calloc(1, sizeof(*it));
    if (!it)
        return CAIRN_E_NOMEM;
    it->store = snap->store;
    if (snap->store->kind == BACKEND_MEM) {
        md_tree_iter_init(&it->tit, snap->root);
    } else {
        it->ropt = snapshot_readoptions(snap->snap);
        it->lit = leveldb_create_iterator(snap->store->db, it->ropt);
    }
    *out = it;
    return 0;
}

void md_iter_free(struct md_iter *it)
{
    if (!it)
        return;
    if (it->store->kind == BACKEND_MEM) {
        md_tree_iter_destroy(&it->tit);
    } else {
        leveldb_iter_destroy(it->lit);
        leveldb_readoptions_destroy(it->ropt);
        if (it->own_snap)
            leveldb_release_snapshot(it->store->db, it->own_snap);
    }
    free(it);
}

static void ldb_check(struct md_iter *it)
{
    char *err = NULL;
    leveldb_iter_get_error(it->lit, &err);
    if (err) {
        CN_ERROR("md", "leveldb iterator: %s", err);
        leveldb_free(err);
        it->status = CAIRN_E_IO;
    }
}

void md_iter_seek(struct md_iter *it, const void *key, size_t klen)
{
    atomic_fetch_add_explicit(&it->store->seeks, 1, memory_order_relaxed);
    if (it->store->kind == BACKEND_MEM) {
        if (md_tree_iter_seek(&it->tit, key, klen))
            it->status = CAIRN_E_NOMEM;
    } else {
        leveldb_iter_seek(it->lit, key, klen);
        ldb_check(it);
    }
}

void md_iter_seek_first(struct md_iter *it)
{
    atomic_fetch_add_explicit(&it->store->seeks, 1, memory_order_relaxed);
    if (it->store->kind == BACKEND_MEM) {
        if (md_tree_iter_seek(&it->tit, "", 0))
            it->status = CAIRN_E_NOMEM;
    } else {
        leveldb_iter_seek_to_first(it->lit);
        ldb_check(it);
    }
}

int md_iter_valid(const struct md_iter *it)
{
    if (it->status)
        return 0;
    if (it->store->kind == BACKEND_MEM)
        return md_tree_iter_valid(&it->tit);
    return leveldb_iter_valid(it->lit);
}

void md_iter_next(struct md_iter *it)
{
    atomic_fetch_add_explicit(&it->store->nexts, 1, memory_order_relaxed);
    if (it->store->kind == BACKEND_MEM) {
        if (md_tree_iter_next(&it->tit))
            it->status = CAIRN_E_NOMEM;
    } else {
        leveldb_iter_next(it->lit);
        ldb_check(it);
    }
}

const void *md_iter_key(const struct md_iter *it, size_t *klen)
{
    if (it->store->kind == BACKEND_MEM)
        return md_tree_iter_key(&it->tit, klen);
    return leveldb_iter_key(it->lit, klen);
}

const void *md_iter_value(const struct md_iter *it, size_t *vlen)
{
    if (it->store->kind == BACKEND_MEM)
        return md_tree_iter_value(&it->tit, vlen, NULL);
    return leveldb_iter_value(it->lit, vlen);
}

int md_iter_status(const struct md_iter *it)
{
    return it->status;
}
