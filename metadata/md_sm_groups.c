/* Chunk groups in object records: validation, the fragment index, the
 * garbage list. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------- groups & garbage -- */

int sm_valid_group(const struct md_sm *sm, const Md__ChunkGroup *g)
{
    return g && g->id.len == 16 && g->k >= 1 && g->k + g->m <= sm->opt.max_fragments &&
           g->unit > 0 && g->data_length > 0 && g->n_fragment_cs == (size_t)g->k + g->m;
}

/* A group in a record: at least k fragments have a location (a write acked
 * short of k+m leaves 0s for repair) and no chunkserver holds two fragments. */
static int valid_live_group(const struct md_sm *sm, const Md__ChunkGroup *g)
{
    if (!sm_valid_group(sm, g))
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
int sm_valid_extents(const struct md_sm *sm, Md__Extent *const *ext, size_t n, uint64_t size)
{
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        /* packed extents come only through CommitPacked, which checks them */
        if (!ext[i] || ext[i]->packed || !valid_live_group(sm, ext[i]->group) ||
            ext[i]->offset != off)
            return 0;
        if (ext[i]->group->data_length > UINT64_MAX - off)
            return 0;
        off += ext[i]->group->data_length;
    }
    return off == size;
}

/* Records that the groups of ext live in the record at record_key: locator and
 * per-chunkserver fragment keys. Refuses a group id already in use. A packed
 * extent's group is indexed by its own record ("SP"): it only gains a live
 * extent. */
int sm_index_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                    const struct md_key *record_key)
{
    for (size_t i = 0; i < n; i++) {
        if (ext[i]->packed) {
            int rc = sm_packed_hold(x, ext[i], record_key);
            if (rc)
                return rc;
            continue;
        }
        const Md__ChunkGroup *g = ext[i]->group;
        struct md_key k;
        key_locator(&k, g->id.data);
        void *v;
        size_t vl;
        int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == 0) {
            free(v);
            return sm_refuse(x, CAIRN_E_EXISTS, MD__REASON__R_INVALID_ARGUMENT,
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

/* Points the locators of ext's groups at a new owning record (a packed
 * group's locator names its own record and stays; its "SE" index entry
 * follows the record). */
int sm_relocate_groups(struct exec *x, Md__Extent *const *ext, size_t n,
                       const struct md_key *record_key)
{
    for (size_t i = 0; i < n; i++) {
        if (ext[i]->packed) {
            int rc = sm_packed_relocate(x, ext[i], record_key);
            if (rc)
                return rc;
            continue;
        }
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

int sm_garbage_append(struct exec *x, Md__ChunkGroup *g, int never_live)
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
    gr.never_live = never_live != 0;
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

/* The data of a record (its extents ext[n]) is no longer referenced: every
 * path that drops a record's data (delete, overwrite, version delete,
 * lifecycle, multipart parts) comes here. A group of its own stops being
 * live: index entries go, garbage entries come. A packed extent leaves a
 * hole in its group (sm_packed_release). */
int sm_retire_groups(struct exec *x, Md__Extent *const *ext, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ext[i]->packed) {
            int rc = sm_packed_release(x, ext[i]);
            if (rc)
                return rc;
            continue;
        }
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
            rc = sm_garbage_append(x, g, 0);
        if (rc)
            return rc;
    }
    return 0;
}
