/* Packed chunk groups (issue #17, docs/metadata.md "Packed groups"): many
 * objects appended, stripe-aligned, into one long-lived erasure-coded group.
 *
 * A packed group has its own record, PackedGroup at "SP" id, which holds
 * where its fragments live (group.fragment_cs) and its committed length
 * (group.data_length); its locator ("Sx" id) names that record and its
 * fragments are in the "Sf" index from OpenGroup on, so repair, drain,
 * MoveFragment, FragmentsOn and GetGroup treat it as any other group. An
 * object record names (group id/k/m/unit, group_offset, length) and
 * nothing else: moving a fragment touches one record however many objects
 * the group holds.
 *
 * Invariants (md_check verifies them): live_bytes and live_extents of a
 * packed group are the sums over the records (current and noncurrent
 * versions) whose packed extent names it; a sealed group with no live
 * extent has no record (it went to the garbage list); every packed extent
 * lies inside its group's committed length. */
#include "md_sm_int.h"

#include "cn_error.h"
#include "md_cmd_ver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most objects one CommitPacked may carry. */
#define PACKED_BATCH_MAX 10000

static int load_packed(struct exec *x, const uint8_t *gid, Md__PackedGroup **out)
{
    struct md_key k;
    key_packed(&k, gid);
    return unpack_as(x, &k, packed_group, out);
}

static int store_packed(struct exec *x, const Md__PackedGroup *pg)
{
    struct md_key k;
    key_packed(&k, pg->group->id.data);
    return put_msg(x, &k, pg);
}

/* The group of pg is no longer live: its locator, fragment keys and record
 * go, and it joins the garbage list (deleted after --garbage-grace). */
static int retire_packed(struct exec *x, Md__PackedGroup *pg)
{
    Md__ChunkGroup *g = pg->group;
    struct md_key k;
    key_locator(&k, g->id.data);
    int rc = md_txn_del(x->txn, k.b, k.n);
    for (size_t f = 0; !rc && f < g->n_fragment_cs; f++) {
        key_fragment(&k, g->fragment_cs[f], g->id.data, (uint32_t)f);
        rc = md_txn_del(x->txn, k.b, k.n);
    }
    if (!rc) {
        key_packed(&k, g->id.data);
        rc = md_txn_del(x->txn, k.b, k.n);
    }
    if (!rc)
        rc = sm_garbage_append(x, g, 0);
    return rc;
}

/* Points the "SE" entry of packed extent e at record_key. */
static int put_packidx(struct exec *x, const Md__Extent *e, const struct md_key *record_key)
{
    struct md_key k;
    key_packidx(&k, e->group->id.data, e->group_offset);
    return md_txn_put(x->txn, k.b, k.n, record_key->b, record_key->n);
}

int sm_packed_hold(struct exec *x, const Md__Extent *e, const struct md_key *record_key)
{
    if (!e->group || e->group->id.len != 16)
        return CAIRN_E_CORRUPT;
    Md__PackedGroup *pg;
    int rc = load_packed(x, e->group->id.data, &pg);
    if (rc)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    pg->live_bytes += e->length;
    pg->live_extents++;
    rc = store_packed(x, pg);
    free_msg(pg);
    if (!rc)
        rc = put_packidx(x, e, record_key);
    return rc;
}

int sm_packed_relocate(struct exec *x, const Md__Extent *e, const struct md_key *record_key)
{
    if (!e->group || e->group->id.len != 16)
        return CAIRN_E_CORRUPT;
    return put_packidx(x, e, record_key);
}

int sm_packed_release(struct exec *x, const Md__Extent *e)
{
    if (!e->group || e->group->id.len != 16)
        return CAIRN_E_CORRUPT;
    Md__PackedGroup *pg;
    int rc = load_packed(x, e->group->id.data, &pg);
    if (rc)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    if (pg->live_extents == 0 || pg->live_bytes < e->length) {
        free_msg(pg);
        return CAIRN_E_CORRUPT; /* a record named more than the group counted */
    }
    struct md_key k;
    key_packidx(&k, e->group->id.data, e->group_offset);
    pg->live_bytes -= e->length;
    pg->live_extents--;
    rc = md_txn_del(x->txn, k.b, k.n);
    if (!rc)
        rc = pg->state == MD__PACKED_STATE__PACKED_SEALED && pg->live_extents == 0
                 ? retire_packed(x, pg)
                 : store_packed(x, pg);
    free_msg(pg);
    return rc;
}

/* ---------------------------------------------------------- OpenGroup -- */

static int valid_packed_geometry(const struct md_sm *sm, const Md__ChunkGroup *g)
{
    if (!g || g->id.len != 16 || g->k < 1 || g->k + g->m > sm->opt.max_fragments ||
        g->n_fragment_cs != (size_t)g->k + g->m)
        return 0;
    if (g->unit < 512 || 65536 % g->unit != 0)
        return 0;
    for (size_t f = 0; f < g->n_fragment_cs; f++) {
        if (!g->fragment_cs[f])
            return 0;
        for (size_t e = 0; e < f; e++)
            if (g->fragment_cs[e] == g->fragment_cs[f])
                return 0;
    }
    return 1;
}

int sm_cmd_open_group(struct exec *x, const Md__OpenGroup *c)
{
    Md__ChunkGroup *g = c->group;
    if (!valid_packed_geometry(x->sm, g))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "bad packed group (k, m, unit, fragment locations)");
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
    Md__ChunkGroup rg = *g; /* shallow: the record's copy starts empty */
    rg.data_length = 0;
    Md__PackedGroup pg = MD__PACKED_GROUP__INIT;
    pg.group = &rg;
    pg.state = MD__PACKED_STATE__PACKED_OPEN;
    pg.opened_ms = c->now_ms;
    pg.appended_ms = c->now_ms;
    pg.writer = c->writer;
    pg.storage_class = c->storage_class;
    struct md_key pk;
    key_packed(&pk, g->id.data);
    if ((rc = put_msg(x, &pk, &pg)))
        return rc;
    Md__GroupLocator loc = MD__GROUP_LOCATOR__INIT;
    loc.record_key.data = pk.b;
    loc.record_key.len = pk.n;
    if ((rc = put_msg(x, &k, &loc)))
        return rc;
    for (size_t f = 0; f < g->n_fragment_cs; f++) {
        key_fragment(&k, g->fragment_cs[f], g->id.data, (uint32_t)f);
        if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
            return rc;
    }
    return 0;
}

/* -------------------------------------------------------- CommitPacked -- */

/* The group as it must be open at old_length; REFUSED otherwise. */
static int open_at(struct exec *x, const ProtobufCBinaryData *gid, uint64_t length,
                   Md__PackedGroup **out)
{
    *out = NULL;
    if (gid->len != 16)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group id");
    int rc = load_packed(x, gid->data, out);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_CONFLICT, MD__REASON__R_GROUP_NOT_OPEN, "no such packed group");
    if (rc)
        return rc;
    if ((*out)->state != MD__PACKED_STATE__PACKED_OPEN)
        rc = sm_refuse(x, CAIRN_E_CONFLICT, MD__REASON__R_GROUP_NOT_OPEN, "packed group sealed");
    else if ((*out)->group->data_length != length)
        rc = sm_refuse(x, CAIRN_E_CONFLICT, MD__REASON__R_LENGTH_MISMATCH,
                       "not the group's committed length");
    if (rc) {
        free_msg(*out);
        *out = NULL;
    }
    return rc;
}

struct span {
    uint64_t start, end;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *l = a, *r = b;
    return l->start < r->start ? -1 : l->start > r->start;
}

/* 1 if object record rec names exactly one packed extent of group g (as
 * stored: id, k, m, unit; no locations) inside [lo, hi), starting on a
 * stripe; its span into *sp. */
static int valid_packed_record(const Md__ObjectRecord *rec, const Md__ChunkGroup *g, uint64_t lo,
                               uint64_t hi, struct span *sp)
{
    if (!rec || rec->has_inline || rec->n_extents != 1 || !rec->extents[0])
        return 0;
    const Md__Extent *e = rec->extents[0];
    const Md__ChunkGroup *eg = e->group;
    uint64_t stripe = (uint64_t)g->k * g->unit;
    if (!e->packed || e->offset != 0 || !eg || eg->id.len != 16 ||
        memcmp(eg->id.data, g->id.data, 16) != 0 || eg->k != g->k || eg->m != g->m ||
        eg->unit != g->unit || eg->n_fragment_cs != 0 || eg->data_length != 0)
        return 0;
    if (e->length == 0 || e->length != rec->size || e->group_offset % stripe != 0 ||
        e->group_offset < lo || e->group_offset > hi || e->length > hi - e->group_offset)
        return 0;
    sp->start = e->group_offset;
    sp->end = e->group_offset + e->length;
    return 1;
}

/* The whole batch is refused for a malformed object (a writer's bug, not a
 * client's condition): extents outside the appended range, off a stripe,
 * naming another group, or two objects sharing bytes. */
static int check_batch(struct exec *x, const Md__CommitPacked *c, const Md__ChunkGroup *g)
{
    uint64_t stripe = (uint64_t)g->k * g->unit;
    if (c->new_length < c->old_length || c->new_length % stripe != 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "new length not a whole number of stripes past the old one");
    if (c->n_objects > PACKED_BATCH_MAX)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "too many objects in one batch");
    struct span *sp = calloc(c->n_objects ? c->n_objects : 1, sizeof(*sp));
    if (!sp)
        return CAIRN_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; !rc && i < c->n_objects; i++)
        if (!c->objects[i] ||
            !valid_packed_record(c->objects[i]->record, g, c->old_length, c->new_length, &sp[i]))
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                           "bad packed extent (range, alignment, group)");
    if (!rc && c->n_objects > 1) {
        qsort(sp, c->n_objects, sizeof(*sp), span_cmp);
        for (size_t i = 1; !rc && i < c->n_objects; i++)
            if (sp[i].start < sp[i - 1].end)
                rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                               "packed objects overlap");
    }
    free(sp);
    return rc;
}

/* Puts each object as PutObject would, on its own: a refusal (condition,
 * bucket, quota, lock) is recorded in its KeyResult, undoes only its own
 * changes and leaves its bytes dead in the group. */
static int put_each(struct exec *x, const Md__CommitPacked *c)
{
    size_t n = c->n_objects;
    Md__KeyResult *kr = calloc(n ? n : 1, sizeof(*kr));
    Md__KeyResult **krp = calloc(n ? n : 1, sizeof(*krp));
    char(*vids)[24] = calloc(n ? n : 1, sizeof(*vids));
    if (!kr || !krp || !vids) {
        free(kr);
        free(krp);
        free(vids);
        return CAIRN_E_NOMEM;
    }
    x->owned_key_results = kr;
    x->owned_key_result_ptrs = krp;
    x->owned_vids = vids;
    Md__Result *outer = x->res;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        md__key_result__init(&kr[i]);
        krp[i] = &kr[i];
        kr[i].key = c->objects[i]->key;
        Md__Result one = MD__RESULT__INIT;
        x->res = &one;
        struct md_txn_savepoint sp;
        md_txn_save(x->txn, &sp);
        uint64_t gseq = x->next_garbage_seq, vseq = x->last_version_seq;
        rc = sm_put_object_checked(x, c->objects[i]);
        if (rc == REFUSED) {
            md_txn_rollback(x->txn, &sp);
            x->next_garbage_seq = gseq;
            x->last_version_seq = vseq;
            rc = 0;
        } else {
            md_txn_release(&sp);
        }
        kr[i].status = one.status;
        kr[i].reason = one.reason;
        if (one.version_id && one.version_id[0]) {
            snprintf(vids[i], sizeof(vids[i]), "%s", one.version_id);
            kr[i].version_id = vids[i];
        }
        if (rc)
            break;
    }
    x->res = outer;
    outer->n_keys = n;
    outer->keys = krp;
    return rc;
}

int sm_cmd_commit_packed(struct exec *x, const Md__CommitPacked *c)
{
    Md__PackedGroup *pg;
    int rc = open_at(x, &c->group_id, c->old_length, &pg);
    if (rc)
        return rc;
    rc = check_batch(x, c, pg->group);
    free_msg(pg);
    if (!rc)
        rc = put_each(x, c);
    /* the objects changed the group's live counts: read it again */
    if (!rc)
        rc = load_packed(x, c->group_id.data, &pg);
    if (rc)
        return rc;
    pg->group->data_length = c->new_length;
    pg->appended_ms = c->now_ms;
    rc = store_packed(x, pg);
    free_msg(pg);
    return rc;
}

/* ----------------------------------------------------------- SealGroup -- */

int sm_cmd_seal_group(struct exec *x, const Md__SealGroup *c)
{
    if (c->group_id.len != 16)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group id");
    Md__PackedGroup *pg;
    int rc = load_packed(x, c->group_id.data, &pg);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_GROUP, "no such packed group");
    if (rc)
        return rc;
    if (pg->group->data_length != c->length) {
        rc = sm_refuse(x, CAIRN_E_CONFLICT, MD__REASON__R_LENGTH_MISMATCH,
                       "not the group's committed length");
    } else {
        pg->state = MD__PACKED_STATE__PACKED_SEALED;
        pg->fragments_sealed = pg->fragments_sealed || c->fragments_sealed;
        /* a group sealed with nothing live in it is garbage right away */
        rc = pg->live_extents == 0 ? retire_packed(x, pg) : store_packed(x, pg);
    }
    free_msg(pg);
    return rc;
}

/* -------------------------------------------------------- CompactGroup -- */

/* Most moves one CompactGroup may carry (a group's live extents). */
#define COMPACT_MOVES_MAX 100000

/* The moves of c are stripe-aligned, non-empty, inside the old group's
 * length (old_len) and the new one's, and overlap nowhere on either side:
 * 1, else 0 (the leader's bug, not a race: the whole command is refused). */
static int valid_moves(const Md__CompactGroup *c, uint64_t stripe, uint64_t old_len,
                       uint64_t new_len, int *nomem)
{
    size_t n = c->n_moves;
    *nomem = 0;
    struct span *a = calloc(n ? n : 1, sizeof(*a)), *b = calloc(n ? n : 1, sizeof(*b));
    if (!a || !b) {
        free(a);
        free(b);
        *nomem = 1;
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        const Md__CompactMove *mv = c->moves[i];
        ok = mv && mv->length > 0 && mv->old_offset % stripe == 0 && mv->new_offset % stripe == 0 &&
             mv->old_offset <= old_len && mv->length <= old_len - mv->old_offset &&
             mv->new_offset <= new_len && mv->length <= new_len - mv->new_offset;
        if (ok) {
            a[i] = (struct span){mv->old_offset, mv->old_offset + mv->length};
            b[i] = (struct span){mv->new_offset, mv->new_offset + mv->length};
        }
    }
    if (ok && n > 1) {
        qsort(a, n, sizeof(*a), span_cmp);
        qsort(b, n, sizeof(*b), span_cmp);
        for (size_t i = 1; ok && i < n; i++)
            ok = a[i].start >= a[i - 1].end && b[i].start >= b[i - 1].end;
    }
    free(a);
    free(b);
    return ok;
}

/* Moves one extent if the "SE" index still names a record at the move's
 * old offset: the record's extent names the new group at new_offset, the
 * index follows, the live counts move from old to nw. *moved is set when
 * it did; a move whose object went is nothing (dead bytes in nw). */
static int move_extent(struct exec *x, const Md__CompactMove *mv, Md__PackedGroup *old,
                       Md__PackedGroup *nw, int *moved)
{
    *moved = 0;
    struct md_key ik;
    key_packidx(&ik, old->group->id.data, mv->old_offset);
    void *v;
    size_t vl;
    int rc = md_txn_get(x->txn, ik.b, ik.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    struct md_key rk;
    if (vl == 0 || vl > sizeof(rk.b)) {
        free(v);
        return CAIRN_E_CORRUPT;
    }
    rk.n = vl;
    memcpy(rk.b, v, vl);
    free(v);
    Md__ObjectRecord *rec;
    if ((rc = unpack_as(x, &rk, object_record, &rec)))
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    Md__Extent *e = rec->n_extents == 1 ? rec->extents[0] : NULL;
    if (!e || !e->packed || !e->group || e->group->id.len != 16 ||
        memcmp(e->group->id.data, old->group->id.data, 16) != 0 ||
        e->group_offset != mv->old_offset) {
        free_msg(rec);
        return CAIRN_E_CORRUPT; /* the index names a record that does not name it */
    }
    if (e->length != mv->length) {
        free_msg(rec);
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "a move's length is not its extent's");
    }
    /* same 16 bytes, in place: the unpacked record owns its id buffer */
    memcpy(e->group->id.data, nw->group->id.data, 16);
    e->group_offset = mv->new_offset;
    rc = put_msg(x, &rk, rec);
    if (!rc)
        rc = md_txn_del(x->txn, ik.b, ik.n);
    if (!rc)
        rc = put_packidx(x, e, &rk);
    free_msg(rec);
    if (rc)
        return rc;
    old->live_bytes -= mv->length;
    old->live_extents--;
    nw->live_bytes += mv->length;
    nw->live_extents++;
    *moved = 1;
    return 0;
}

/* Records the new group of c (sealed, fragments sealed, nothing live yet):
 * its record, its locator and its fragment keys, as OpenGroup does. */
static int record_new_group(struct exec *x, const Md__CompactGroup *c, const Md__PackedGroup *old,
                            Md__PackedGroup **out)
{
    Md__ChunkGroup *g = c->group;
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
    Md__PackedGroup pg = MD__PACKED_GROUP__INIT;
    pg.group = g;
    pg.state = MD__PACKED_STATE__PACKED_SEALED;
    pg.fragments_sealed = 1;
    pg.opened_ms = c->now_ms;
    pg.appended_ms = c->now_ms;
    pg.writer = "compactor";
    pg.storage_class = old->storage_class;
    struct md_key pk;
    key_packed(&pk, g->id.data);
    if ((rc = put_msg(x, &pk, &pg)))
        return rc;
    Md__GroupLocator loc = MD__GROUP_LOCATOR__INIT;
    loc.record_key.data = pk.b;
    loc.record_key.len = pk.n;
    if ((rc = put_msg(x, &k, &loc)))
        return rc;
    for (size_t f = 0; f < g->n_fragment_cs; f++) {
        key_fragment(&k, g->fragment_cs[f], g->id.data, (uint32_t)f);
        if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
            return rc;
    }
    return load_packed(x, g->id.data, out);
}

int sm_cmd_compact_group(struct exec *x, const Md__CompactGroup *c)
{
    Md__ChunkGroup *g = c->group;
    if (c->old_group_id.len != 16 || !valid_packed_geometry(x->sm, g) || g->data_length == 0 ||
        g->data_length % ((uint64_t)g->k * g->unit) != 0 || c->n_moves > COMPACT_MOVES_MAX ||
        memcmp(c->old_group_id.data, g->id.data, 16) == 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "bad compaction (group geometry, length, ids)");
    Md__PackedGroup *old;
    int rc = load_packed(x, c->old_group_id.data, &old);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_GROUP, "no such packed group");
    if (rc)
        return rc;
    Md__PackedGroup *nw = NULL;
    int nomem = 0;
    if (old->state != MD__PACKED_STATE__PACKED_SEALED)
        rc = sm_refuse(x, CAIRN_E_CONFLICT, MD__REASON__R_GROUP_NOT_SEALED,
                       "compaction of a group not sealed");
    else if (old->group->k != g->k || old->group->m != g->m || old->group->unit != g->unit)
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                       "the new group's geometry is not the old one's");
    else if (!valid_moves(c, (uint64_t)g->k * g->unit, old->group->data_length, g->data_length,
                          &nomem))
        rc = nomem ? CAIRN_E_NOMEM
                   : sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                               "bad move (alignment, range, overlap)");
    if (!rc)
        rc = record_new_group(x, c, old, &nw);
    uint64_t moved = 0;
    for (size_t i = 0; !rc && i < c->n_moves; i++) {
        int one;
        rc = move_extent(x, c->moves[i], old, nw, &one);
        moved += (uint64_t)one;
    }
    /* either group may be left with nothing live: sealed, it is garbage */
    if (!rc)
        rc = nw->live_extents == 0 ? retire_packed(x, nw) : store_packed(x, nw);
    if (!rc)
        rc = old->live_extents == 0 ? retire_packed(x, old) : store_packed(x, old);
    if (!rc)
        x->res->count = moved;
    if (nw)
        free_msg(nw);
    free_msg(old);
    return rc;
}
