/* The top-level names index ("SD" bucket 0 name -> empty, docs/metadata.md).
 *
 * For every bucket, the distinct first components of its current objects'
 * keys: a key without '/' is its own entry; a key with one is represented by
 * its part up to and including the first '/' (a "directory"). A listing with
 * delimiter "/" and a prefix without '/' -- S3's usual top-level listing --
 * walks these entries in order instead of seeking past every common prefix in
 * the object keys (each such seek lands on cold blocks in every LevelDB level
 * once a store holds millions of objects; md_query.c run_topnames).
 *
 * Derived state, kept by the state machine alone: after a slot's commands ran,
 * topnames_update() looks at the object keys the slot wrote or deleted (the
 * transaction's overlay) and adds or removes entries in the same atomic write.
 * Stores of format 1 (written before the index) get it built once at open by
 * topnames_build(). md_check verifies it agrees with the objects. */
#include "cn_error.h"
#include "cn_log.h"
#include "md_sm_int.h"

#include <stdlib.h>
#include <string.h>

int topname_of(const unsigned char *ok, size_t okl, struct md_key *tk)
{
    if (okl < 3)
        return CAIRN_E_CORRUPT;
    const unsigned char *z = memchr(ok + 2, 0, okl - 2);
    if (!z)
        return CAIRN_E_CORRUPT;
    const unsigned char *name = z + 1;
    size_t nlen = okl - (size_t)(name - ok);
    const unsigned char *slash = memchr(name, '/', nlen);
    if (slash)
        nlen = (size_t)(slash - name) + 1;
    md_key_start(tk, MD_K_TOPNAME);
    md_key_bytes(tk, ok + 2, (size_t)(name - (ok + 2)) + nlen);
    return 0;
}

/* 1 if some current object lies under the directory entry tk (its object-key
 * prefix), seen through the transaction; 0 if none; or an error. last is the
 * largest object key under tk that the slot deleted: the first look is just
 * past it, and only when nothing follows there does a second one start at the
 * directory's beginning. A seek lands on the first live key at or after its
 * target, stepping (inside LevelDB) over every deleted key on the way, and
 * deleted keys stay in the store until compaction drops them: looking from
 * the directory's beginning every time made deleting a directory's objects in
 * key order (aws s3 rm --recursive, one DeleteObjects after another) step
 * over all the earlier deletions again for each slot, quadratic in the
 * directory's size. (Deleting in reverse key order still takes the second
 * look every time.) */
static int dir_has_objects(struct md_txn *t, struct md_titer **it, const struct md_key *tk,
                           const unsigned char *last, size_t last_n)
{
    struct md_key pre;
    md_key_start(&pre, MD_K_OBJECT);
    md_key_bytes(&pre, tk->b + 2, tk->n - 2);
    int rc;
    if (!*it && (rc = md_titer_new(t, it)))
        return rc;
    int found = 0;
    if (last_n) {
        md_titer_seek(*it, last, last_n); /* (deleted: not shown, the next is) */
        found = md_titer_has_prefix(*it, pre.b, pre.n);
    }
    if (!found && !md_titer_status(*it)) {
        md_titer_seek(*it, pre.b, pre.n);
        found = md_titer_has_prefix(*it, pre.b, pre.n);
    }
    rc = md_titer_status(*it);
    return rc ? rc : found;
}

/* Brings the entry tk in line after a slot touched object keys under it:
 * present if any was written, else (all deleted) gone unless a directory
 * still holds objects. Writes only what changes: a blind rewrite of a busy
 * directory's entry by every slot would pile up versions of the one key in
 * LevelDB's memtable, which every listing then steps over (measured: a
 * 256-prefix listing 0.5 -> 5.3 ms after 10^5 PUTs). */
static int settle(struct md_txn *t, struct md_titer **it, const struct md_key *tk, int any_put,
                  const unsigned char *last, size_t last_n)
{
    void *v;
    size_t vl;
    int rc = md_txn_get(t, tk->b, tk->n, &v, &vl);
    if (rc == 0)
        free(v);
    else if (rc != CAIRN_E_NOTFOUND)
        return rc;
    int present = rc == 0;
    if (any_put)
        return present ? 0 : md_txn_put(t, tk->b, tk->n, "", 0);
    if (!present)
        return 0;
    if (tk->b[tk->n - 1] == '/') {
        int has = dir_has_objects(t, it, tk, last, last_n);
        if (has < 0)
            return has;
        if (has)
            return 0;
    }
    return md_txn_del(t, tk->b, tk->n);
}

int topnames_update(struct md_txn *t)
{
    if (!t->overlay.root)
        return 0;
    struct md_key pre;
    md_key_start(&pre, MD_K_OBJECT);
    struct md_tree_iter oi;
    /* The iterator holds its own reference to the overlay as it is now: the
     * index writes below make new roots and never disturb it. */
    md_tree_iter_init(&oi, t->overlay.root);
    struct md_titer *it = NULL;
    struct md_key cur, tk;
    /* cur's largest object key in the slot: it points into the overlay as
     * the iterator holds it (alive until md_tree_iter_destroy) */
    const unsigned char *last = NULL;
    size_t last_n = 0;
    int have = 0, any_put = 0;
    int rc = md_tree_iter_seek(&oi, pre.b, pre.n);
    while (!rc && md_tree_iter_valid(&oi)) {
        size_t kl, vl;
        const unsigned char *k = md_tree_iter_key(&oi, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        int tomb;
        md_tree_iter_value(&oi, &vl, &tomb);
        if ((rc = topname_of(k, kl, &tk)))
            break;
        if (have && (tk.n != cur.n || memcmp(tk.b, cur.b, tk.n) != 0)) {
            if ((rc = settle(t, &it, &cur, any_put, last, last_n)))
                break;
            have = 0;
        }
        if (!have) {
            cur = tk;
            have = 1;
            any_put = 0;
        }
        any_put |= !tomb;
        last = k; /* keys come in order: the latest is the largest */
        last_n = kl;
        rc = md_tree_iter_next(&oi);
    }
    if (!rc && have)
        rc = settle(t, &it, &cur, any_put, last, last_n);
    md_tree_iter_destroy(&oi);
    md_titer_free(it);
    return rc;
}

int topnames_build(struct md_store *store)
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    struct md_batch *b = md_batch_new();
    if (!b) {
        md_iter_free(it);
        return CAIRN_E_NOMEM;
    }
    struct md_key pre, last = {0}, tk;
    /* Entries left by an earlier build that was cut short go first: the
     * objects may have changed since (an older build of cairn-meta). */
    md_key_start(&pre, MD_K_TOPNAME);
    for (md_iter_seek(it, pre.b, pre.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        if ((rc = md_batch_del(b, k, kl)))
            break;
    }
    if (!rc)
        rc = md_iter_status(it);
    if (!rc && md_batch_count(b))
        rc = md_store_write(store, b);
    md_batch_clear(b);
    md_key_start(&pre, MD_K_OBJECT);
    uint64_t objects = 0, entries = 0, malformed = 0;
    for (md_iter_seek(it, pre.b, pre.n); !rc && md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        objects++;
        if (topname_of(k, kl, &tk)) {
            /* An object key no command writes (no bucket separator): it has
             * no name to index; md_check reports such a store. */
            malformed++;
            continue;
        }
        if (tk.n == last.n && memcmp(tk.b, last.b, tk.n) == 0)
            continue;
        last = tk;
        entries++;
        if ((rc = md_batch_put(b, tk.b, tk.n, "", 0)))
            break;
        if (md_batch_count(b) >= 10000) {
            if ((rc = md_store_write(store, b)))
                break;
            md_batch_clear(b);
        }
    }
    if (!rc)
        rc = md_iter_status(it);
    if (!rc && md_batch_count(b))
        rc = md_store_write(store, b);
    md_batch_free(b);
    md_iter_free(it);
    if (!rc)
        CN_INFO("md", "top-level names index built: %llu objects, %llu entries",
                (unsigned long long)objects, (unsigned long long)entries);
    if (!rc && malformed)
        CN_WARN("md", "top-level names index: %llu malformed object keys left out",
                (unsigned long long)malformed);
    return rc;
}
