/* Compaction of packed groups in the state machine (issue #17, docs/metadata.md
 * "Compaction"): the "SE" reverse index (group id, offset -> record key)
 * through put, overwrite, versions becoming noncurrent and current again,
 * delete and CompactGroup; CompactGroup moving live extents (current and
 * noncurrent versions) to the new group and what GetObject then returns; a
 * move whose object was deleted meanwhile left as dead bytes; the old
 * group to the garbage list; every refusal (open group, geometry, moves
 * overlapping or out of range, a wrong length, an id in use, an unknown
 * group); a retried CompactGroup answered from the session table. Every
 * test on both backends; md_sm_check after each step. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_cmd_ver.h"
#include "md_compact.h"
#include "md_txn.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT   4096u
#define STRIPE (2u * UNIT) /* k = 2 */

static void check_invariants(struct tsm *t)
{
    tsm_check(t);
}

static void built(int rc)
{
    ck_assert_int_eq(rc, 0);
}

#define run(t, build, c, l) (built(build), tsm_run((t), (c), (l)))

static Md__QueryResult *query(struct tsm *t, uint8_t *q, size_t ql)
{
    return tsm_query(t, q, ql);
}

/* Packed group n: k 2, m 1, unit 4 KiB, fragments on 100..102 (or, with
 * shift, 100+shift..). */
static void pgroup(struct md_group_desc *g, uint64_t n, uint64_t cs[3], uint64_t shift)
{
    make_group(g, n, 2, 1, 0, cs);
    for (int i = 0; i < 3; i++)
        cs[i] += shift;
    g->unit = UNIT;
}

static void setup(struct tsm *t, int backend)
{
    tsm_open_packed(t, backend, 100, 105);
}

static void open_group(struct tsm *t, const struct md_group_desc *g)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(t, md_cmd_open_group(t->client, tsm_seq(t), g, 1000, "gw-1", "STANDARD", &c, &l), c, l),
        0);
}

/* Commits objects names[i] of sizes[i] bytes, one stripe-aligned run each
 * (sizes up to 3 stripes), from old_len on; returns the new length and
 * each object's offset in offs. */
static uint64_t commit(struct tsm *t, const struct md_group_desc *g, uint64_t old_len,
                       const char *const *names, const uint64_t *sizes, size_t n, uint64_t *offs)
{
    struct md_packed_desc d[16];
    ck_assert_uint_le(n, 16);
    uint64_t at = old_len;
    for (size_t i = 0; i < n; i++) {
        memset(&d[i], 0, sizeof(d[i]));
        d[i].bucket = "bkt";
        d[i].key = names[i];
        d[i].group_offset = at;
        d[i].obj.size = sizes[i];
        d[i].obj.etag = names[i];
        d[i].obj.mtime_ms = 2000;
        offs[i] = at;
        at += (sizes[i] + STRIPE - 1) / STRIPE * STRIPE;
    }
    uint8_t *c;
    size_t l;
    built(md_cmd_commit_packed(t->client, tsm_seq(t), g, old_len, at, d, n, 3000, &c, &l));
    Md__Result *r = tsm_apply(t, c, l);
    ck_assert_int_eq(r->status, 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(r->keys[i]->status, 0);
    md_result_free(r);
    return at;
}

static void seal(struct tsm *t, const struct md_group_desc *g, uint64_t len)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(t, md_cmd_seal_group(t->client, tsm_seq(t), g->id, len, 1, 4000, &c, &l), c, l), 0);
}

static int del(struct tsm *t, const char *key)
{
    uint8_t *c;
    size_t l;
    return run(t, md_cmd_delete_object(t->client, tsm_seq(t), "bkt", key, 0, NULL, &c, &l), c, l);
}

/* CompactGroup of old into g: status, reason and count (extents moved). */
static int compact(struct tsm *t, const uint8_t old[16], const struct md_group_desc *g,
                   const struct md_compact_move *mv, size_t n, int *reason, uint64_t *count)
{
    uint8_t *c;
    size_t l;
    built(md_cmd_compact_group(t->client, tsm_seq(t), old, g, mv, n, 5000, &c, &l));
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    if (count)
        *count = r->count;
    md_result_free(r);
    return st;
}

/* The packed record of g: 1 with its live counts, 0 if it has none. */
static int packed_live(struct tsm *t, const struct md_group_desc *g, uint64_t *bytes,
                       uint64_t *extents)
{
    uint8_t *q;
    size_t ql;
    built(md_q_get_group(g->id, &q, &ql));
    Md__QueryResult *r = query(t, q, ql);
    int found = r->status == 0 && r->group && r->group->packed;
    if (found) {
        *bytes = r->group->packed->live_bytes;
        *extents = r->group->packed->live_extents;
        ck_assert_int_eq(r->group->packed->state, MD__PACKED_STATE__PACKED_SEALED);
    }
    md_query_result_free(r);
    return found;
}

static uint64_t garbage_count(struct tsm *t)
{
    uint8_t *q;
    size_t ql;
    built(md_q_list_garbage(0, 100, &q, &ql));
    Md__QueryResult *r = query(t, q, ql);
    uint64_t n = r->n_garbage;
    md_query_result_free(r);
    return n;
}

/* The "SE" entry of group g at off: 1 and the record key's type byte in
 * *type, 0 when absent. */
static int index_entry(struct tsm *t, const uint8_t *gid, uint64_t off, char *type)
{
    struct md_key k;
    md_key_start(&k, MD_K_PACKIDX);
    md_key_bytes(&k, gid, 16);
    md_key_be64(&k, off);
    void *v;
    size_t vl;
    int rc = md_store_get(t->ts.store, k.b, k.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_ge(vl, 2);
    *type = ((char *)v)[1];
    free(v);
    return 1;
}

/* GetObject of bkt/key (version vid, NULL: current) names group g at off. */
static void names_group(struct tsm *t, const char *key, const char *vid,
                        const struct md_group_desc *g, uint64_t off, uint64_t size)
{
    uint8_t *q;
    size_t ql;
    built(vid ? md_q_get_version("bkt", key, vid, 0, &q, &ql)
              : md_q_get_object("bkt", key, &q, &ql));
    Md__QueryResult *r = query(t, q, ql);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->object->n_extents, 1);
    const Md__Extent *e = r->object->extents[0];
    ck_assert(e->packed);
    ck_assert_mem_eq(e->group->id.data, g->id, 16);
    ck_assert_uint_eq(e->group_offset, off);
    ck_assert_uint_eq(e->length, size);
    ck_assert_uint_eq(r->object->size, size);
    /* locations filled in from the group's record */
    ck_assert_uint_eq(e->group->n_fragment_cs, 3);
    for (int f = 0; f < 3; f++)
        ck_assert_uint_eq(e->group->fragment_cs[f], g->fragment_cs[f]);
    md_query_result_free(r);
}

/* A digest of the data the commands keep (every "S" key but the session
 * table and the store info, which every applied command changes). */
static uint64_t data_digest(struct tsm *t)
{
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t->ts.store, &it), 0);
    uint64_t h = 1469598103934665603ULL;
    for (md_iter_seek_first(it); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl), *v = md_iter_value(it, &vl);
        if (kl < 2 || k[0] != 'S' || k[1] == MD_K_SESSION || k[1] == MD_K_SESS_AGE ||
            k[1] == MD_K_INFO)
            continue;
        for (size_t i = 0; i < kl; i++)
            h = (h ^ k[i]) * 1099511628211ULL;
        h = (h ^ 0x100) * 1099511628211ULL;
        for (size_t i = 0; i < vl; i++)
            h = (h ^ v[i]) * 1099511628211ULL;
    }
    md_iter_free(it);
    return h;
}

START_TEST(test_index_maintenance)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 1, cs, 0);
    open_group(&t, &g);
    const char *names[] = {"a", "b", "c"};
    uint64_t sizes[] = {100, STRIPE + 1, 3000}, offs[3];
    uint64_t len = commit(&t, &g, 0, names, sizes, 3, offs);
    char ty;
    for (int i = 0; i < 3; i++) {
        ck_assert(index_entry(&t, g.id, offs[i], &ty));
        ck_assert_int_eq(ty, MD_K_OBJECT);
    }
    check_invariants(&t);
    /* overwrite a: its old entry goes, the new one comes */
    const char *a[] = {"a"};
    uint64_t asz[] = {200}, aoff[1];
    len = commit(&t, &g, len, a, asz, 1, aoff);
    ck_assert(!index_entry(&t, g.id, offs[0], &ty));
    ck_assert(index_entry(&t, g.id, aoff[0], &ty));
    check_invariants(&t);
    /* delete b */
    ck_assert_int_eq(del(&t, "b"), 0);
    ck_assert(!index_entry(&t, g.id, offs[1], &ty));
    check_invariants(&t);
    /* versioning: c becomes noncurrent, its entry follows it to "SV" */
    uint8_t *cmd;
    size_t l;
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "bkt",
                                         MD__VERSIONING_STATUS__VERSIONING_ENABLED, &cmd, &l),
            cmd, l),
        0);
    const char *c2[] = {"c"};
    uint64_t csz[] = {4000}, coff[1];
    len = commit(&t, &g, len, c2, csz, 1, coff);
    ck_assert(index_entry(&t, g.id, offs[2], &ty));
    ck_assert_int_eq(ty, MD_K_VERSION);
    ck_assert(index_entry(&t, g.id, coff[0], &ty));
    ck_assert_int_eq(ty, MD_K_OBJECT);
    check_invariants(&t);
    /* the current version deleted for good: the noncurrent one is current
     * again, and its entry names "So" */
    uint8_t *q;
    size_t ql;
    built(md_q_get_object("bkt", "c", &q, &ql));
    Md__QueryResult *r = query(&t, q, ql);
    char vid[MD_VERSION_ID_CAP];
    md_version_id_of(r->object, vid);
    md_query_result_free(r);
    ck_assert_int_eq(run(&t,
                         md_cmd_delete_version(t.client, tsm_seq(&t), "bkt", "c", vid, 0, NULL, 0,
                                               5000, NULL, &cmd, &l),
                         cmd, l),
                     0);
    ck_assert(!index_entry(&t, g.id, coff[0], &ty));
    ck_assert(index_entry(&t, g.id, offs[2], &ty));
    ck_assert_int_eq(ty, MD_K_OBJECT);
    check_invariants(&t);
    /* a delete marker moves it to "SV" again */
    ck_assert_int_eq(del(&t, "c"), 0);
    ck_assert(index_entry(&t, g.id, offs[2], &ty));
    ck_assert_int_eq(ty, MD_K_VERSION);
    check_invariants(&t);
    seal(&t, &g, len);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* Six objects in group 10, four deleted: two moved to group 11 (another
 * placement), one more move for an object deleted after the moves were
 * computed. */
START_TEST(test_compact_moves)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g, n;
    uint64_t cs[3], ncs[3];
    pgroup(&g, 10, cs, 0);
    pgroup(&n, 11, ncs, 3);
    open_group(&t, &g);
    const char *names[] = {"k0", "k1", "k2", "k3", "k4", "k5"};
    uint64_t sizes[] = {5000, 2 * STRIPE + 7, 100, STRIPE, 9000, 3 * STRIPE}, offs[6];
    uint64_t len = commit(&t, &g, 0, names, sizes, 6, offs);
    seal(&t, &g, len);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 4 && i != 5)
            ck_assert_int_eq(del(&t, names[i]), 0);
    uint64_t lb, le;
    ck_assert(packed_live(&t, &g, &lb, &le));
    ck_assert_uint_eq(le, 3);
    uint64_t g0 = garbage_count(&t);
    /* the compactor's plan: k1, k4, k5 ... */
    struct md_compact_move mv[3];
    uint64_t at = 0;
    int live[] = {1, 4, 5};
    for (int i = 0; i < 3; i++) {
        mv[i].old_offset = offs[live[i]];
        mv[i].new_offset = at;
        mv[i].length = sizes[live[i]];
        at += (sizes[live[i]] + STRIPE - 1) / STRIPE * STRIPE;
    }
    n.data_length = at;
    /* ... and k5 deleted before the command applies */
    ck_assert_int_eq(del(&t, "k5"), 0);
    check_invariants(&t);
    int reason;
    uint64_t count;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 3, &reason, &count), 0);
    ck_assert_uint_eq(count, 2);
    check_invariants(&t);
    /* the survivors name the new group at their new offsets */
    names_group(&t, "k1", NULL, &n, mv[0].new_offset, sizes[1]);
    names_group(&t, "k4", NULL, &n, mv[1].new_offset, sizes[4]);
    ck_assert(packed_live(&t, &n, &lb, &le));
    ck_assert_uint_eq(lb, sizes[1] + sizes[4]);
    ck_assert_uint_eq(le, 2);
    /* the old group is garbage (its record gone), with its own locations */
    ck_assert(!packed_live(&t, &g, &lb, &le));
    ck_assert_uint_eq(garbage_count(&t), g0 + 1);
    char ty;
    ck_assert(!index_entry(&t, g.id, offs[1], &ty));
    ck_assert(index_entry(&t, n.id, mv[1].new_offset, &ty));
    /* deleting a survivor shrinks the new group; the last one retires it */
    ck_assert_int_eq(del(&t, "k1"), 0);
    ck_assert(packed_live(&t, &n, &lb, &le));
    ck_assert_uint_eq(lb, sizes[4]);
    ck_assert_int_eq(del(&t, "k4"), 0);
    ck_assert(!packed_live(&t, &n, &lb, &le));
    ck_assert_uint_eq(garbage_count(&t), g0 + 2);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* A noncurrent version is moved too; every moved object deleted meanwhile
 * leaves the new group empty: both groups go to garbage. */
START_TEST(test_compact_versions_and_all_gone)
{
    struct tsm t;
    setup(&t, _i);
    uint8_t *cmd;
    size_t l;
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "bkt",
                                         MD__VERSIONING_STATUS__VERSIONING_ENABLED, &cmd, &l),
            cmd, l),
        0);
    struct md_group_desc g, n, g2, n2;
    uint64_t cs[3], ncs[3], cs2[3], ncs2[3];
    pgroup(&g, 20, cs, 0);
    pgroup(&n, 21, ncs, 1);
    open_group(&t, &g);
    const char *names[] = {"v", "v", "x"};
    uint64_t sizes[] = {1000, 2000, 3000}, offs[3];
    uint64_t len = commit(&t, &g, 0, names, sizes, 3, offs);
    seal(&t, &g, len);
    /* "v" has two versions in g: the old one noncurrent */
    uint8_t *q;
    size_t ql;
    built(md_q_list_versions("bkt", "", "", "", "", 100, &q, &ql));
    Md__QueryResult *r = query(&t, q, ql);
    ck_assert_ptr_nonnull(r->list_versions);
    char old_vid[64] = "";
    for (size_t i = 0; i < r->list_versions->n_versions; i++) {
        const Md__VersionEntry *e = r->list_versions->versions[i];
        if (!strcmp(e->key, "v") && e->record && e->record->size == 1000)
            snprintf(old_vid, sizeof(old_vid), "%s", e->version_id);
    }
    md_query_result_free(r);
    ck_assert_str_ne(old_vid, "");
    struct md_compact_move mv[3] = {
        {offs[0], 0, 1000}, {offs[1], STRIPE, 2000}, {offs[2], 2 * STRIPE, 3000}};
    n.data_length = 3 * STRIPE;
    uint64_t count;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 3, NULL, &count), 0);
    ck_assert_uint_eq(count, 3);
    check_invariants(&t);
    names_group(&t, "v", old_vid, &n, 0, 1000);
    names_group(&t, "v", NULL, &n, STRIPE, 2000);
    char ty;
    ck_assert(index_entry(&t, n.id, 0, &ty));
    ck_assert_int_eq(ty, MD_K_VERSION);
    /* the noncurrent version deleted by id: released from the new group */
    ck_assert_int_eq(run(&t,
                         md_cmd_delete_version(t.client, tsm_seq(&t), "bkt", "v", old_vid, 0, NULL,
                                               0, 5000, NULL, &cmd, &l),
                         cmd, l),
                     0);
    uint64_t lb, le;
    ck_assert(packed_live(&t, &n, &lb, &le));
    ck_assert_uint_eq(lb, 5000);
    check_invariants(&t);

    /* a group whose every moved object goes before the commit */
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "bkt",
                                         MD__VERSIONING_STATUS__VERSIONING_SUSPENDED, &cmd, &l),
            cmd, l),
        0);
    pgroup(&g2, 22, cs2, 0);
    pgroup(&n2, 23, ncs2, 2);
    open_group(&t, &g2);
    const char *one[] = {"y", "z"};
    uint64_t osz[] = {500, 600}, ooff[2];
    len = commit(&t, &g2, 0, one, osz, 2, ooff);
    seal(&t, &g2, len);
    struct md_compact_move m1 = {ooff[1], 0, 600};
    n2.data_length = STRIPE;
    /* y gone before planning, z after */
    built(md_cmd_delete_version(t.client, tsm_seq(&t), "bkt", "y", "null", 0, NULL, 0, 5000, NULL,
                                &cmd, &l));
    ck_assert_int_eq(tsm_run(&t, cmd, l), 0);
    built(md_cmd_delete_version(t.client, tsm_seq(&t), "bkt", "z", "null", 0, NULL, 0, 5000, NULL,
                                &cmd, &l));
    ck_assert_int_eq(tsm_run(&t, cmd, l), 0);
    /* z's deletion emptied g2: it is garbage already, nothing to compact */
    ck_assert(!packed_live(&t, &g2, &lb, &le));
    int reason;
    ck_assert_int_eq(compact(&t, g2.id, &n2, &m1, 1, &reason, NULL), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_GROUP);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* Every refusal changes nothing. */
START_TEST(test_compact_refusals)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g, n;
    uint64_t cs[3], ncs[3];
    pgroup(&g, 30, cs, 0);
    pgroup(&n, 31, ncs, 3);
    open_group(&t, &g);
    const char *names[] = {"p", "q"};
    uint64_t sizes[] = {STRIPE + 5, 10}, offs[2];
    uint64_t len = commit(&t, &g, 0, names, sizes, 2, offs);
    struct md_compact_move mv[2] = {{offs[0], 0, sizes[0]}, {offs[1], 2 * STRIPE, sizes[1]}};
    n.data_length = 3 * STRIPE;
    uint64_t h0, h1;
    int reason;
    /* the old group is still open */
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 2, &reason, NULL), CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_GROUP_NOT_SEALED);
    seal(&t, &g, len);
    h0 = data_digest(&t);
    /* an unknown old group */
    struct md_group_desc u;
    uint64_t ucs[3];
    pgroup(&u, 39, ucs, 0);
    ck_assert_int_eq(compact(&t, u.id, &n, mv, 2, &reason, NULL), CAIRN_E_NOTFOUND);
    /* another geometry */
    n.unit = 2 * UNIT;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 2, &reason, NULL), CAIRN_E_INVAL);
    n.unit = UNIT;
    /* a new length not whole stripes, or too short for a move */
    n.data_length = 3 * STRIPE - 1;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 2, &reason, NULL), CAIRN_E_INVAL);
    n.data_length = 2 * STRIPE;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 2, &reason, NULL), CAIRN_E_INVAL);
    n.data_length = 3 * STRIPE;
    /* overlapping on the new side, off a stripe, past the old length */
    struct md_compact_move bad[2] = {mv[0], mv[1]};
    bad[1].new_offset = STRIPE;
    ck_assert_int_eq(compact(&t, g.id, &n, bad, 2, &reason, NULL), CAIRN_E_INVAL);
    bad[1] = mv[1];
    bad[1].new_offset = 2 * STRIPE + UNIT;
    ck_assert_int_eq(compact(&t, g.id, &n, bad, 2, &reason, NULL), CAIRN_E_INVAL);
    bad[1] = mv[1];
    bad[1].old_offset = len;
    ck_assert_int_eq(compact(&t, g.id, &n, bad, 2, &reason, NULL), CAIRN_E_INVAL);
    /* a length that is not the extent's (refused after the first move
     * applied: nothing of it stays) */
    bad[1] = mv[1];
    bad[1].length = sizes[1] + 1;
    ck_assert_int_eq(compact(&t, g.id, &n, bad, 2, &reason, NULL), CAIRN_E_INVAL);
    /* the new id is the old one's, or in use */
    ck_assert_int_eq(compact(&t, g.id, &g, mv, 2, &reason, NULL), CAIRN_E_INVAL);
    struct md_group_desc taken;
    uint64_t tcs[3];
    pgroup(&taken, 32, tcs, 1);
    h1 = data_digest(&t);
    ck_assert_uint_eq(h0, h1);
    open_group(&t, &taken);
    h0 = data_digest(&t);
    taken.data_length = 3 * STRIPE;
    ck_assert_int_eq(compact(&t, g.id, &taken, mv, 2, &reason, NULL), CAIRN_E_EXISTS);
    h1 = data_digest(&t);
    ck_assert_uint_eq(h0, h1);
    check_invariants(&t);
    /* and the good one */
    uint64_t count;
    ck_assert_int_eq(compact(&t, g.id, &n, mv, 2, &reason, &count), 0);
    ck_assert_uint_eq(count, 2);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* A retried CompactGroup (same client and seq, a later slot) is answered
 * from the session table and changes nothing. */
START_TEST(test_compact_retry)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g, n;
    uint64_t cs[3], ncs[3];
    pgroup(&g, 40, cs, 0);
    pgroup(&n, 41, ncs, 3);
    open_group(&t, &g);
    const char *names[] = {"r0", "r1"};
    uint64_t sizes[] = {STRIPE, 77}, offs[2];
    uint64_t len = commit(&t, &g, 0, names, sizes, 2, offs);
    seal(&t, &g, len);
    ck_assert_int_eq(del(&t, "r0"), 0);
    struct md_compact_move mv = {offs[1], 0, 77};
    n.data_length = STRIPE;
    uint64_t seq = tsm_seq(&t);
    uint8_t *c1, *c2;
    size_t l1, l2;
    built(md_cmd_compact_group(t.client, seq, g.id, &n, &mv, 1, 5000, &c1, &l1));
    built(md_cmd_compact_group(t.client, seq, g.id, &n, &mv, 1, 5000, &c2, &l2));
    Md__Result *r1 = tsm_apply(&t, c1, l1);
    ck_assert_int_eq(r1->status, 0);
    ck_assert_uint_eq(r1->count, 1);
    uint64_t h0 = data_digest(&t);
    uint8_t *res;
    size_t rl;
    ck_assert_int_eq(md_sm_apply(t.sm, ++t.index, c2, l2, &res, &rl), 0);
    free(c2);
    Md__Result *r2 = md_result_decode(res, rl);
    free(res);
    ck_assert_ptr_nonnull(r2);
    ck_assert_int_eq(r2->status, 0);
    ck_assert_uint_eq(r2->count, 1);
    ck_assert_uint_eq(data_digest(&t), h0);
    md_result_free(r1);
    md_result_free(r2);
    names_group(&t, "r1", NULL, &n, 0, 77);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* ---- the leader's compactor (md_compact) with fake chunkservers --------- */

struct fake {
    struct tsm *t;
    int64_t now;
    int leader;
    uint64_t dead;           /* a chunkserver not heartbeating */
    int fail_index, fail_rc; /* the copy of this fragment answers fail_rc */
    int copies, deletes, damaged;
    uint32_t k, m, unit;
    uint64_t ranges[64]; /* the last copy's ranges, as (offset, length) pairs */
    size_t n_ranges;
    uint64_t rate;
    uint8_t new_id[16];
    int commit_rc;            /* != 0: the next commit answers this, unapplied */
    const char *delete_first; /* the copy deletes these objects ("," separated) */
};

static int f_leader(void *ctx)
{
    return ((struct fake *)ctx)->leader;
}

static int f_commit(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len)
{
    (void)client_id;
    (void)seq;
    struct fake *f = ctx;
    if (f->commit_rc) {
        int rc = f->commit_rc;
        f->commit_rc = 0;
        return rc;
    }
    uint8_t *copy = malloc(len);
    memcpy(copy, cmd, len);
    return tsm_run(f->t, copy, len);
}

static int64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static int f_alive(void *ctx, uint64_t id)
{
    return id != ((struct fake *)ctx)->dead;
}

static void f_damage(void *ctx, const uint8_t g[16], uint32_t index, uint64_t cs)
{
    (void)g;
    (void)index;
    (void)cs;
    ((struct fake *)ctx)->damaged++;
}

static void f_copy(void *ctx, const uint8_t new_id[16], const uint8_t old_id[16], uint32_t k,
                   uint32_t m, uint32_t unit, const struct md_compact_copy *c, size_t n, int *rcs)
{
    (void)old_id;
    struct fake *f = ctx;
    ck_assert_uint_eq(n, k + m);
    f->k = k;
    f->m = m;
    f->unit = unit;
    memcpy(f->new_id, new_id, 16);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(c[i].index, i);
        ck_assert_str_eq(c[i].address, "127.0.0.1:1");
        rcs[i] = (int)i == f->fail_index ? f->fail_rc : 0;
        f->copies++;
    }
    ck_assert_uint_le(c[0].n_ranges, 32);
    f->n_ranges = c[0].n_ranges;
    memcpy(f->ranges, c[0].range, 2 * c[0].n_ranges * sizeof(uint64_t));
    f->rate = c[0].rate;
    /* objects deleted while the chunkservers copy */
    for (const char *p = f->delete_first; p && *p;) {
        char key[16];
        size_t kl = strcspn(p, ",");
        snprintf(key, sizeof(key), "%.*s", (int)kl, p);
        ck_assert_int_eq(del(f->t, key), 0);
        p += kl + (p[kl] == ',');
    }
}

static void f_del(void *ctx, const char *address, const uint8_t id[16], uint32_t index)
{
    (void)address;
    (void)index;
    struct fake *f = ctx;
    ck_assert_mem_eq(id, f->new_id, 16);
    f->deletes++;
}

static struct md_compact *new_compactor(struct fake *f)
{
    struct md_compact_opts o;
    md_compact_opts_default(&o);
    o.store = f->t->ts.store;
    o.min_dead = 2 * STRIPE;
    o.rate_bytes_s = 3000;
    o.retry_ms = 60000;
    o.is_leader = f_leader;
    o.commit = f_commit;
    o.now_ms = f_now;
    o.cs_alive = f_alive;
    o.report_damage = f_damage;
    o.copy_fragments = f_copy;
    o.del_fragment = f_del;
    o.ctx = f;
    struct md_compact *w;
    ck_assert_int_eq(md_compact_new(&o, &w), 0);
    return w;
}

/* Ten objects in a sealed group, the given ones deleted. */
static void ten_objects(struct tsm *t, struct md_group_desc *g, uint64_t cs[3], uint64_t n,
                        const char *prefix, const int *gone, size_t n_gone, uint64_t *offs,
                        uint64_t *sizes)
{
    pgroup(g, n, cs, 0);
    open_group(t, g);
    char names[10][16];
    const char *np[10];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "%s%d", prefix, i);
        np[i] = names[i];
        sizes[i] = 1000 + (uint64_t)i * 3000; /* 1000 .. 28000: 1..4 stripes */
    }
    uint64_t len = commit(t, g, 0, np, sizes, 10, offs);
    seal(t, g, len);
    for (size_t i = 0; i < n_gone; i++)
        ck_assert_int_eq(del(t, names[gone[i]]), 0);
}

START_TEST(test_compactor)
{
    struct tsm t;
    setup(&t, _i);
    struct fake f = {.t = &t, .now = 10000, .leader = 1, .fail_index = -1};
    struct md_compact *w = new_compactor(&f);
    struct md_group_desc g, h;
    uint64_t cs[3], hcs[3], offs[10], sizes[10], hoffs[10], hsizes[10];
    int gone[] = {0, 1, 2, 4, 5, 6, 7, 9}; /* 3 and 8 stay */
    ten_objects(&t, &g, cs, 70, "a", gone, 8, offs, sizes);
    /* a second group, mostly live: left alone */
    int few[] = {0, 9};
    ten_objects(&t, &h, hcs, 71, "b", few, 2, hoffs, hsizes);
    uint64_t n;
    /* not leading: nothing */
    f.leader = 0;
    ck_assert_int_eq(md_compact_now(w, 0, &n), CAIRN_E_NOTLEADER);
    f.leader = 1;
    /* a chunkserver of the group is down: later */
    f.dead = 101;
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(f.copies, 0);
    struct md_compact_stats st;
    md_compact_get_stats(w, &st);
    ck_assert_uint_eq(st.packed_groups, 2);
    ck_assert_uint_eq(st.candidates, 1);
    uint64_t live = sizes[3] + sizes[8];
    for (int i = 1; i < 9; i++)
        live += hsizes[i];
    ck_assert_uint_eq(st.live_bytes, live);
    f.dead = 0;
    /* a copy fails: the written fragments are deleted, the group waits */
    f.fail_index = 1;
    f.fail_rc = CAIRN_E_IO;
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(f.copies, 3);
    ck_assert_int_eq(f.deletes, 2 + 1); /* the two written, and the failed one's maybe-partial */
    md_compact_get_stats(w, &st);
    ck_assert_uint_eq(st.failures, 1);
    f.fail_index = -1;
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 0); /* skipped until retry_ms passed */
    ck_assert_int_eq(f.copies, 3);
    /* a damaged old fragment is reported */
    f.now += 60001;
    f.fail_index = 2;
    f.fail_rc = CAIRN_E_CORRUPT;
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_int_eq(f.damaged, 1);
    ck_assert_int_eq(f.deletes, 3 + 2); /* not on the damaged one: nothing stored there */
    /* and then it goes through */
    f.now += 60001;
    f.fail_index = -1;
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 1);
    check_invariants(&t);
    /* the copy named the old fragments' ranges of objects 3 and 8, packed */
    ck_assert_uint_eq(f.k, 2);
    ck_assert_uint_eq(f.n_ranges, 2);
    ck_assert_uint_eq(f.ranges[0], offs[3] / 2);
    ck_assert_uint_eq(f.ranges[1], (sizes[3] + STRIPE - 1) / STRIPE * STRIPE / 2);
    ck_assert_uint_eq(f.ranges[2], offs[8] / 2);
    ck_assert_uint_eq(f.ranges[3], (sizes[8] + STRIPE - 1) / STRIPE * STRIPE / 2);
    ck_assert_uint_eq(f.rate, 1000); /* 3000 B/s over 3 chunkservers */
    struct md_group_desc nw = g;
    memcpy(nw.id, f.new_id, 16);
    names_group(&t, "a3", NULL, &nw, 0, sizes[3]);
    names_group(&t, "a8", NULL, &nw, (sizes[3] + STRIPE - 1) / STRIPE * STRIPE, sizes[8]);
    uint64_t lb, le;
    ck_assert(!packed_live(&t, &g, &lb, &le)); /* the old one is garbage */
    ck_assert(packed_live(&t, &nw, &lb, &le));
    ck_assert_uint_eq(lb, sizes[3] + sizes[8]);
    md_compact_get_stats(w, &st);
    ck_assert_uint_eq(st.groups_compacted, 1);
    ck_assert_uint_eq(st.candidates, 0); /* found one, compacted it */
    ck_assert_uint_eq(st.bytes_rewritten, 3 * (f.ranges[1] + f.ranges[3]));
    /* the next pass finds nothing below the threshold; with another one,
     * the mostly live group goes too */
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(md_compact_now(w, 1.0, &n), 0);
    ck_assert_uint_eq(n, 1);
    check_invariants(&t);
    /* what is left dead in the new groups is padding: nothing to gain */
    int copies = f.copies;
    f.now += 60001;
    ck_assert_int_eq(md_compact_now(w, 1.0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(f.copies, copies);
    md_compact_free(w);
    tsm_close(&t);
}
END_TEST

/* The compaction's commit is lost (leadership gone: the outcome is
 * unknown), then refused (every moved object deleted during the copy). */
START_TEST(test_compactor_races)
{
    struct tsm t;
    setup(&t, _i);
    struct fake f = {.t = &t, .now = 10000, .leader = 1, .fail_index = -1};
    struct md_compact *w = new_compactor(&f);
    struct md_group_desc g;
    uint64_t cs[3], offs[10], sizes[10];
    int gone[] = {0, 1, 2, 4, 5, 6, 7, 9};
    ten_objects(&t, &g, cs, 80, "c", gone, 8, offs, sizes);
    uint64_t n;
    /* unknown outcome: nothing deleted (the fragments are the new group's or
     * orphans), the group not skipped: the next pass tries again */
    f.commit_rc = CAIRN_E_NOTLEADER;
    ck_assert_int_eq(md_compact_now(w, 0, &n), CAIRN_E_NOTLEADER);
    ck_assert_int_eq(f.copies, 3);
    ck_assert_int_eq(f.deletes, 0);
    struct md_compact_stats st;
    md_compact_get_stats(w, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.groups_compacted, 0);
    /* refused: the two survivors go while the chunkservers copy; the old
     * group is garbage by then, CompactGroup finds no such group and the new
     * fragments are deleted */
    f.delete_first = "c3,c8";
    ck_assert_int_eq(md_compact_now(w, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(f.copies, 6);
    ck_assert_int_eq(f.deletes, 3);
    md_compact_get_stats(w, &st);
    ck_assert_uint_eq(st.failures, 2);
    check_invariants(&t);
    md_compact_free(w);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_compact");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_index_maintenance, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compact_moves, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compact_versions_and_all_gone, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compact_refusals, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compact_retry, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compactor, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_compactor_races, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
