/* Queries of packed groups (issue #17, docs/metadata.md "Packed groups"):
 * filling an object's packed extents in from their groups' records,
 * GetGroup of a packed group, ListPacked. */
#include "md_query_int.h"
#include "md_sm.h"
#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

#define LIST_PACKED_DEFAULT 1000u
#define LIST_PACKED_MAX     10000u

static int qget_packed(struct qctx *c, const uint8_t *gid, Md__PackedGroup **out)
{
    struct md_key k;
    md_key_start(&k, MD_K_PACKED);
    md_key_bytes(&k, gid, 16);
    int rc = qget(c, &k, &md__packed_group__descriptor, (void **)out);
    if (rc == 0 && (!(*out)->group || (*out)->group->id.len != 16))
        rc = CAIRN_E_CORRUPT;
    return rc;
}

int mq_fill_packed(struct qctx *c, Md__ObjectRecord *o)
{
    for (size_t i = 0; o && i < o->n_extents; i++) {
        Md__Extent *e = o->extents[i];
        if (!e || !e->packed)
            continue;
        Md__ChunkGroup *g = e->group;
        if (!g || g->id.len != 16)
            return CAIRN_E_CORRUPT;
        Md__PackedGroup *pg;
        int rc = qget_packed(c, g->id.data, &pg);
        if (rc)
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        const Md__ChunkGroup *src = pg->group;
        /* o was unpacked with the default allocator: its arrays are free()d
         * with it, so the copy is malloc'ed too */
        uint64_t *cs = malloc((src->n_fragment_cs ? src->n_fragment_cs : 1) * sizeof(*cs));
        if (!cs)
            return CAIRN_E_NOMEM;
        if (src->n_fragment_cs)
            memcpy(cs, src->fragment_cs, src->n_fragment_cs * sizeof(*cs));
        free(g->fragment_cs);
        g->fragment_cs = cs;
        g->n_fragment_cs = src->n_fragment_cs;
        g->data_length = src->data_length;
    }
    return 0;
}

int mq_packed_group_info(struct qctx *c, const struct md_key *rkey, const ProtobufCBinaryData *rk,
                         const uint8_t *gid)
{
    Md__PackedGroup *pg;
    int rc = qget(c, rkey, &md__packed_group__descriptor, (void **)&pg);
    if (rc)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    if (!pg->group || pg->group->id.len != 16 || memcmp(pg->group->id.data, gid, 16) != 0)
        return CAIRN_E_CORRUPT;
    Md__GroupInfo *gi = arena_alloc(&c->arena, sizeof(*gi));
    if (!gi)
        return CAIRN_E_NOMEM;
    md__group_info__init(gi);
    gi->group = pg->group;
    gi->record_key = *rk;
    gi->packed = pg;
    c->r->group = gi;
    return 0;
}

int mq_list_packed(struct qctx *c, const Md__ListPackedQ *q)
{
    if (q->start_after.len && q->start_after.len != 16)
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    uint32_t max = clamp_max(q->limit ? q->limit : LIST_PACKED_DEFAULT, LIST_PACKED_MAX);
    struct md_key pre, start;
    md_key_start(&pre, MD_K_PACKED);
    start = pre;
    if (q->start_after.len) {
        md_key_bytes(&start, q->start_after.data, 16);
        md_key_byte(&start, 0); /* just past start_after */
    }
    size_t cap = 0;
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    for (md_iter_seek(it, start.b, start.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl != pre.n + 16 || memcmp(key, pre.b, pre.n) != 0)
            break;
        const void *v = md_iter_value(it, &vl);
        Md__PackedGroup *pg = arena_unpack(&c->arena, &md__packed_group__descriptor, v, vl);
        if (!pg) {
            rc = c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
            break;
        }
        if (q->open_only && pg->state != MD__PACKED_STATE__PACKED_OPEN)
            continue;
        if (c->r->n_packed == max) {
            c->r->truncated = 1;
            break;
        }
        if ((rc = arena_reserve(&c->arena, &c->r->packed, c->r->n_packed, &cap,
                                sizeof(*c->r->packed), 16)) != 0)
            break;
        c->r->packed[c->r->n_packed++] = pg;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}
