/* Packed groups in the state machine (issue #17): OpenGroup, CommitPacked
 * and SealGroup and every refusal (bad geometry, id reuse, wrong length,
 * sealed or unknown group, misaligned or overlapping or out-of-range
 * extents); each object of a batch decided on its own (If-None-Match on an
 * existing key refused while the others land, a missing bucket); usage;
 * versioning on a packed object; overwrite and delete shrinking the
 * group's live counts; a sealed group with nothing live going to the
 * garbage list with its record's locations; MoveFragment on a packed group
 * updating its record and what GetObject returns; a retried CommitPacked
 * answered from the session table; ListPacked; the same commands giving
 * the same state hash on both backends. md_sm_check after each step. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_cmd_ver.h"
#include "md_sealer.h"

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

static Md__QueryResult *query(struct tsm *t, uint8_t *q, size_t ql)
{
    return tsm_query(t, q, ql);
}

static void built(int rc)
{
    ck_assert_int_eq(rc, 0);
}

#define run(t, build, c, l) (built(build), tsm_run((t), (c), (l)))

/* A packed group n: k 2, m 1, unit 4 KiB, fragments on 100, 101, 102. */
static void pgroup(struct md_group_desc *g, uint64_t n, uint64_t cs[3])
{
    make_group(g, n, 2, 1, 0, cs);
    g->unit = UNIT;
}

static void setup(struct tsm *t, int backend)
{
    tsm_open_packed(t, backend, 100, 104);
}

static int open_group(struct tsm *t, const struct md_group_desc *g)
{
    uint8_t *c;
    size_t l;
    return run(t, md_cmd_open_group(t->client, tsm_seq(t), g, 1000, "gw-1", "STANDARD", &c, &l), c,
               l);
}

/* One object of a batch: bucket/key, size bytes at group offset off. */
static struct md_packed_desc obj(const char *bucket, const char *key, uint64_t off, uint64_t size)
{
    struct md_packed_desc d = {.bucket = bucket, .key = key, .group_offset = off};
    d.obj.size = size;
    d.obj.etag = key;
    d.obj.mtime_ms = 2000;
    return d;
}

static Md__Result *commit(struct tsm *t, const struct md_group_desc *g, uint64_t old_len,
                          uint64_t new_len, const struct md_packed_desc *objs, size_t n)
{
    uint8_t *c;
    size_t l;
    built(md_cmd_commit_packed(t->client, tsm_seq(t), g, old_len, new_len, objs, n, 3000, &c, &l));
    return tsm_apply(t, c, l);
}

static int commit_status(struct tsm *t, const struct md_group_desc *g, uint64_t old_len,
                         uint64_t new_len, const struct md_packed_desc *objs, size_t n, int *reason)
{
    Md__Result *r = commit(t, g, old_len, new_len, objs, n);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

static int seal(struct tsm *t, const struct md_group_desc *g, uint64_t len, int frags, int *reason)
{
    uint8_t *c;
    size_t l;
    built(md_cmd_seal_group(t->client, tsm_seq(t), g->id, len, frags, 4000, &c, &l));
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

/* GetGroup of g (NULL result fields when it is not found). */
static Md__QueryResult *get_group(struct tsm *t, const struct md_group_desc *g)
{
    uint8_t *q;
    size_t ql;
    built(md_q_get_group(g->id, &q, &ql));
    return query(t, q, ql);
}

/* The packed record of g; fails the test if absent. */
static void packed_state(struct tsm *t, const struct md_group_desc *g, uint64_t *length,
                         uint64_t *live_bytes, uint64_t *live_extents, int *state)
{
    Md__QueryResult *r = get_group(t, g);
    ck_assert_int_eq(r->status, 0);
    ck_assert_ptr_nonnull(r->group);
    ck_assert_ptr_nonnull(r->group->packed);
    ck_assert_ptr_nonnull(r->group->group);
    ck_assert_uint_eq(r->group->group->n_fragment_cs, 3);
    ck_assert_uint_eq(r->group->record_key.len, 18);
    ck_assert_int_eq(r->group->record_key.data[1], 'P');
    *length = r->group->group->data_length;
    *live_bytes = r->group->packed->live_bytes;
    *live_extents = r->group->packed->live_extents;
    *state = r->group->packed->state;
    md_query_result_free(r);
}

static Md__QueryResult *get_object(struct tsm *t, const char *b, const char *k, const char *vid)
{
    uint8_t *q;
    size_t ql;
    built(vid ? md_q_get_version(b, k, vid, 0, &q, &ql) : md_q_get_object(b, k, &q, &ql));
    return query(t, q, ql);
}

static uint64_t garbage_count(struct tsm *t, Md__GarbageRecord **first_copy_cs, uint64_t cs[3])
{
    uint8_t *q;
    size_t ql;
    built(md_q_list_garbage(0, 100, &q, &ql));
    Md__QueryResult *r = query(t, q, ql);
    uint64_t n = r->n_garbage;
    if (n && cs) {
        ck_assert_uint_eq(r->garbage[0]->group->n_fragment_cs, 3);
        memcpy(cs, r->garbage[0]->group->fragment_cs, 3 * sizeof(*cs));
        ck_assert(!r->garbage[0]->never_live); /* --garbage-grace applies */
    }
    (void)first_copy_cs;
    md_query_result_free(r);
    return n;
}

static void bucket_usage(struct tsm *t, uint64_t *bytes, uint64_t *objects)
{
    uint8_t *q;
    size_t ql;
    built(md_q_head_bucket("bkt", &q, &ql));
    Md__QueryResult *r = query(t, q, ql);
    ck_assert_ptr_nonnull(r->bucket);
    *bytes = r->bucket->usage ? r->bucket->usage->bytes : 0;
    *objects = r->bucket->usage ? r->bucket->usage->objects : 0;
    md_query_result_free(r);
}

START_TEST(test_open_refusals)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 1, cs);
    g.unit = 1000; /* does not divide 64 KiB */
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    g.unit = 256; /* below 512 */
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    g.unit = 131072;
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    g.unit = UNIT;
    cs[1] = 0; /* a fragment without a location */
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    cs[1] = 100; /* two fragments on one chunkserver */
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    cs[1] = 101;
    g.k = 0;
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_INVAL);
    g.k = 2;
    ck_assert_int_eq(open_group(&t, &g), 0);
    ck_assert_int_eq(open_group(&t, &g), CAIRN_E_EXISTS); /* id reuse */
    /* the id of an ordinary group is taken too */
    struct md_group_desc og;
    uint64_t ocs[3];
    make_group(&og, 2, 2, 1, 100000, ocs);
    struct md_object_desc o = {.size = 100000, .etag = "x", .groups = &og, .n_groups = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "plain", &o, 0, NULL, &c, &l), c,
            l),
        0);
    struct md_group_desc g2;
    uint64_t cs2[3];
    pgroup(&g2, 2, cs2);
    ck_assert_int_eq(open_group(&t, &g2), CAIRN_E_EXISTS);
    /* a PutObject may not name a packed extent (only CommitPacked does) */
    struct md_packed_desc d = obj("bkt", "sneaky", 0, 100);
    uint8_t *cp;
    size_t cpl;
    built(md_cmd_commit_packed(t.client, 1, &g, 0, STRIPE, &d, 1, 1, &cp, &cpl));
    Md__Command *cmd = md__command__unpack(NULL, cpl, cp);
    free(cp);
    ck_assert_ptr_nonnull(cmd);
    Md__Command pc = MD__COMMAND__INIT;
    pc.client_id = t.client;
    pc.seq = tsm_seq(&t);
    pc.op_case = MD__COMMAND__OP_PUT_OBJECT;
    pc.put_object = cmd->commit_packed->objects[0];
    uint8_t *pb = malloc(md__command__get_packed_size(&pc));
    size_t pbl = md__command__pack(&pc, pb);
    md__command__free_unpacked(cmd, NULL);
    ck_assert_int_eq(tsm_run(&t, pb, pbl), CAIRN_E_INVAL);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_commit_and_seal)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 7, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    check_invariants(&t);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);

    /* a: 2 stripes [0, 16384), b: 1 stripe [16384, 24576) */
    struct md_packed_desc batch[2] = {obj("bkt", "a", 0, 10000),
                                      obj("bkt", "bb", 2 * STRIPE, 5000)};
    Md__Result *r = commit(&t, &g, 0, 3 * STRIPE, batch, 2);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->n_keys, 2);
    ck_assert_int_eq(r->keys[0]->status, 0);
    ck_assert_int_eq(r->keys[1]->status, 0);
    ck_assert_str_eq(r->keys[1]->key, "bb");
    md_result_free(r);
    check_invariants(&t);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(len, 3 * STRIPE);
    ck_assert_uint_eq(lb, 15000);
    ck_assert_uint_eq(le, 2);
    uint64_t ub, uo;
    bucket_usage(&t, &ub, &uo);
    ck_assert_uint_eq(ub, 15000);
    ck_assert_uint_eq(uo, 2);

    /* GetObject hands the packed extent out with the group's locations */
    Md__QueryResult *q = get_object(&t, "bkt", "bb", NULL);
    ck_assert_int_eq(q->status, 0);
    ck_assert_ptr_nonnull(q->object);
    ck_assert_uint_eq(q->object->size, 5000);
    ck_assert_uint_eq(q->object->n_extents, 1);
    const Md__Extent *e = q->object->extents[0];
    ck_assert(e->packed);
    ck_assert_uint_eq(e->group_offset, 2 * STRIPE);
    ck_assert_uint_eq(e->length, 5000);
    ck_assert_uint_eq(e->group->k, 2);
    ck_assert_uint_eq(e->group->unit, UNIT);
    ck_assert_uint_eq(e->group->data_length, 3 * STRIPE);
    ck_assert_uint_eq(e->group->n_fragment_cs, 3);
    ck_assert_uint_eq(e->group->fragment_cs[2], 102);
    md_query_result_free(q);

    int reason = 0;
    /* not the committed length */
    struct md_packed_desc c1 = obj("bkt", "c", 3 * STRIPE, 100);
    ck_assert_int_eq(commit_status(&t, &g, 0, 4 * STRIPE, &c1, 1, &reason), CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_LENGTH_MISMATCH);
    /* off a stripe */
    c1.group_offset = 3 * STRIPE + UNIT;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 4 * STRIPE, &c1, 1, NULL), CAIRN_E_INVAL);
    /* new length not whole stripes */
    c1.group_offset = 3 * STRIPE;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 4 * STRIPE + 1, &c1, 1, NULL),
                     CAIRN_E_INVAL);
    /* past the new length */
    c1.obj.size = STRIPE + 1;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 4 * STRIPE, &c1, 1, NULL), CAIRN_E_INVAL);
    /* before the old length (bytes of another batch) */
    c1.obj.size = 100;
    c1.group_offset = 0;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 4 * STRIPE, &c1, 1, NULL), CAIRN_E_INVAL);
    /* two objects sharing a stripe */
    struct md_packed_desc ov[2] = {obj("bkt", "o1", 3 * STRIPE, STRIPE + 10),
                                   obj("bkt", "o2", 4 * STRIPE, 10)};
    ov[1].group_offset = 3 * STRIPE;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 5 * STRIPE, ov, 2, NULL), CAIRN_E_INVAL);
    /* unknown group */
    struct md_group_desc ug;
    uint64_t ucs[3];
    pgroup(&ug, 99, ucs);
    ck_assert_int_eq(commit_status(&t, &ug, 0, STRIPE, &c1, 0, &reason), CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_GROUP_NOT_OPEN);
    ck_assert_int_eq(seal(&t, &ug, 0, 0, &reason), CAIRN_E_NOTFOUND);
    /* nothing of the refused batches changed anything */
    check_invariants(&t);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(len, 3 * STRIPE);
    ck_assert_uint_eq(le, 2);

    /* seal: the committed length or nothing; then idempotent */
    ck_assert_int_eq(seal(&t, &g, 2 * STRIPE, 0, &reason), CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_LENGTH_MISMATCH);
    ck_assert_int_eq(seal(&t, &g, 3 * STRIPE, 0, NULL), 0);
    ck_assert_int_eq(seal(&t, &g, 3 * STRIPE, 0, NULL), 0);
    Md__QueryResult *gr = get_group(&t, &g);
    ck_assert_int_eq(gr->group->packed->state, MD__PACKED_STATE__PACKED_SEALED);
    ck_assert(!gr->group->packed->fragments_sealed);
    md_query_result_free(gr);
    ck_assert_int_eq(seal(&t, &g, 3 * STRIPE, 1, NULL), 0);
    gr = get_group(&t, &g);
    ck_assert(gr->group->packed->fragments_sealed);
    md_query_result_free(gr);
    ck_assert_int_eq(seal(&t, &g, 4 * STRIPE, 1, &reason), CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_LENGTH_MISMATCH);
    /* a sealed group takes no more objects */
    c1.group_offset = 3 * STRIPE;
    ck_assert_int_eq(commit_status(&t, &g, 3 * STRIPE, 4 * STRIPE, &c1, 1, &reason),
                     CAIRN_E_CONFLICT);
    ck_assert_int_eq(reason, MD__REASON__R_GROUP_NOT_OPEN);
    check_invariants(&t);

    /* ListPacked: open only, then all */
    struct md_group_desc g2;
    uint64_t cs2[3];
    pgroup(&g2, 8, cs2);
    ck_assert_int_eq(open_group(&t, &g2), 0);
    size_t ql;
    uint8_t *lq = md_q_list_packed(NULL, 0, 0, 1, &ql);
    Md__QueryResult *lr = query(&t, lq, ql);
    ck_assert_uint_eq(lr->n_packed, 1);
    ck_assert_mem_eq(lr->packed[0]->group->id.data, g2.id, 16);
    ck_assert_str_eq(lr->packed[0]->writer, "gw-1");
    md_query_result_free(lr);
    lq = md_q_list_packed(NULL, 0, 1, 0, &ql);
    lr = query(&t, lq, ql);
    ck_assert_uint_eq(lr->n_packed, 1);
    ck_assert(lr->truncated);
    uint8_t after[16];
    memcpy(after, lr->packed[0]->group->id.data, 16);
    md_query_result_free(lr);
    lq = md_q_list_packed(after, 16, 10, 0, &ql);
    lr = query(&t, lq, ql);
    ck_assert_uint_eq(lr->n_packed, 1);
    ck_assert(!lr->truncated);
    ck_assert_mem_ne(lr->packed[0]->group->id.data, after, 16);
    md_query_result_free(lr);
    tsm_close(&t);
}
END_TEST

START_TEST(test_batch_conditions)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc og;
    uint64_t ocs[3];
    make_group(&og, 50, 2, 1, 100000, ocs);
    struct md_object_desc o = {.size = 100000, .etag = "old", .groups = &og, .n_groups = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "exists", &o, 0, NULL, &c, &l), c,
            l),
        0);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 9, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    struct md_packed_desc batch[4] = {obj("bkt", "new1", 0, 100), obj("bkt", "exists", STRIPE, 200),
                                      obj("nobucket", "x", 2 * STRIPE, 300),
                                      obj("bkt", "new2", 3 * STRIPE, 400)};
    batch[1].cond = MD_COND_IF_NONE_MATCH;
    Md__Result *r = commit(&t, &g, 0, 4 * STRIPE, batch, 4);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->n_keys, 4);
    ck_assert_int_eq(r->keys[0]->status, 0);
    ck_assert_int_eq(r->keys[1]->status, CAIRN_E_PRECOND);
    ck_assert_int_eq(r->keys[1]->reason, MD__REASON__R_PRECONDITION_FAILED);
    ck_assert_int_eq(r->keys[2]->status, CAIRN_E_NOTFOUND);
    ck_assert_int_eq(r->keys[2]->reason, MD__REASON__R_NO_SUCH_BUCKET);
    ck_assert_int_eq(r->keys[3]->status, 0);
    md_result_free(r);
    check_invariants(&t);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(len, 4 * STRIPE); /* refused objects' bytes stay, dead */
    ck_assert_uint_eq(lb, 500);
    ck_assert_uint_eq(le, 2);
    Md__QueryResult *q = get_object(&t, "bkt", "exists", NULL);
    ck_assert_str_eq(q->object->etag, "old");
    ck_assert(!q->object->extents[0]->packed);
    md_query_result_free(q);
    /* If-Match of the right etag lands, replacing an ordinary object: its
     * group goes to garbage as before */
    struct md_packed_desc m = obj("bkt", "exists", 4 * STRIPE, 700);
    m.cond = MD_COND_IF_MATCH;
    m.if_match = "old";
    r = commit(&t, &g, 4 * STRIPE, 5 * STRIPE, &m, 1);
    ck_assert_int_eq(r->keys[0]->status, 0);
    md_result_free(r);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 1);
    uint64_t ub, uo;
    bucket_usage(&t, &ub, &uo);
    ck_assert_uint_eq(ub, 1200);
    ck_assert_uint_eq(uo, 3);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_overwrite_delete_garbage)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 11, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    struct md_packed_desc batch[3] = {obj("bkt", "a", 0, 1000), obj("bkt", "b", STRIPE, 2000),
                                      obj("bkt", "c", 2 * STRIPE, 3000)};
    Md__Result *r = commit(&t, &g, 0, 3 * STRIPE, batch, 3);
    ck_assert_int_eq(r->status, 0);
    md_result_free(r);
    /* overwrite a with an ordinary object: a's extent leaves the group */
    struct md_group_desc og;
    uint64_t ocs[3];
    make_group(&og, 60, 2, 1, 50000, ocs);
    struct md_object_desc o = {.size = 50000, .etag = "n", .groups = &og, .n_groups = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "a", &o, 0, NULL, &c, &l), c, l),
        0);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(lb, 5000);
    ck_assert_uint_eq(le, 2);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 0); /* nothing became garbage */
    /* overwrite b by another packed object in the same group */
    struct md_packed_desc b2 = obj("bkt", "b", 3 * STRIPE, 4000);
    r = commit(&t, &g, 3 * STRIPE, 4 * STRIPE, &b2, 1);
    ck_assert_int_eq(r->keys[0]->status, 0);
    md_result_free(r);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(lb, 7000);
    ck_assert_uint_eq(le, 2);
    /* delete c */
    ck_assert_int_eq(
        run(&t, md_cmd_delete_object(t.client, tsm_seq(&t), "bkt", "c", 0, NULL, &c, &l), c, l), 0);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(lb, 4000);
    ck_assert_uint_eq(le, 1);
    check_invariants(&t);
    /* sealed with one live extent: stays; deleting it makes the group garbage */
    ck_assert_int_eq(seal(&t, &g, 4 * STRIPE, 0, NULL), 0);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 0);
    ck_assert_int_eq(
        run(&t, md_cmd_delete_object(t.client, tsm_seq(&t), "bkt", "b", 0, NULL, &c, &l), c, l), 0);
    uint64_t gcs[3];
    ck_assert_uint_eq(garbage_count(&t, NULL, gcs), 1);
    ck_assert_uint_eq(gcs[0], 100);
    ck_assert_uint_eq(gcs[1], 101);
    ck_assert_uint_eq(gcs[2], 102);
    Md__QueryResult *gr = get_group(&t, &g);
    ck_assert_int_eq(gr->status, CAIRN_E_NOTFOUND);
    md_query_result_free(gr);
    uint8_t *fq;
    size_t fql;
    built(md_q_fragments_on(101, NULL, 0, 100, &fq, &fql));
    Md__QueryResult *fr = query(&t, fq, fql);
    for (size_t i = 0; i < fr->n_fragments; i++) /* a's new ordinary group is there */
        ck_assert_mem_ne(fr->fragments[i]->group_id.data, g.id, 16);
    md_query_result_free(fr);
    check_invariants(&t);

    /* an open group with nothing live is garbage the moment it is sealed */
    struct md_group_desc g2;
    uint64_t cs2[3];
    pgroup(&g2, 12, cs2);
    ck_assert_int_eq(open_group(&t, &g2), 0);
    struct md_packed_desc x = obj("bkt", "x", 0, 10);
    r = commit(&t, &g2, 0, STRIPE, &x, 1);
    md_result_free(r);
    ck_assert_int_eq(
        run(&t, md_cmd_delete_object(t.client, tsm_seq(&t), "bkt", "x", 0, NULL, &c, &l), c, l), 0);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 1);
    ck_assert_int_eq(seal(&t, &g2, STRIPE, 0, NULL), 0);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 2);
    /* the sealing worker's later SealGroup{fragments_sealed} finds nothing */
    ck_assert_int_eq(seal(&t, &g2, STRIPE, 1, NULL), CAIRN_E_NOTFOUND);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_versioning)
{
    struct tsm t;
    setup(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "bkt",
                                         MD__VERSIONING_STATUS__VERSIONING_ENABLED, &c, &l),
            c, l),
        0);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 21, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    struct md_packed_desc v1 = obj("bkt", "v", 0, 111);
    Md__Result *r = commit(&t, &g, 0, STRIPE, &v1, 1);
    ck_assert_int_eq(r->keys[0]->status, 0);
    ck_assert_ptr_nonnull(r->keys[0]->version_id);
    char vid1[MD_VERSION_ID_CAP];
    snprintf(vid1, sizeof(vid1), "%s", r->keys[0]->version_id);
    ck_assert_uint_eq(strlen(vid1), MD_VERSION_ID_LEN);
    md_result_free(r);
    struct md_packed_desc v2 = obj("bkt", "v", STRIPE, 222);
    r = commit(&t, &g, STRIPE, 2 * STRIPE, &v2, 1);
    ck_assert_int_eq(r->keys[0]->status, 0);
    ck_assert_str_ne(r->keys[0]->version_id, vid1);
    md_result_free(r);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(lb, 333); /* both versions live */
    ck_assert_uint_eq(le, 2);
    check_invariants(&t);
    /* the noncurrent version read by id: packed extent filled in */
    Md__QueryResult *q = get_object(&t, "bkt", "v", vid1);
    ck_assert_int_eq(q->status, 0);
    ck_assert_uint_eq(q->object->size, 111);
    ck_assert(q->object->extents[0]->packed);
    ck_assert_uint_eq(q->object->extents[0]->group->n_fragment_cs, 3);
    ck_assert_uint_eq(q->object->extents[0]->group->data_length, 2 * STRIPE);
    md_query_result_free(q);
    /* a delete marker keeps both versions live */
    ck_assert_int_eq(
        run(&t, md_cmd_delete_object(t.client, tsm_seq(&t), "bkt", "v", 0, NULL, &c, &l), c, l), 0);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(le, 2);
    /* deleting the first version for good drops it */
    ck_assert_int_eq(run(&t,
                         md_cmd_delete_version(t.client, tsm_seq(&t), "bkt", "v", vid1, 0, NULL, 0,
                                               5000, NULL, &c, &l),
                         c, l),
                     0);
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(lb, 222);
    ck_assert_uint_eq(le, 1);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_move_fragment)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 31, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    struct md_packed_desc d = obj("bkt", "m", 0, 999);
    Md__Result *r = commit(&t, &g, 0, STRIPE, &d, 1);
    md_result_free(r);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 1, 100, 104, &c, &l), c, l),
        CAIRN_E_PRECOND); /* not where it is */
    ck_assert_int_eq(
        run(&t, md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 1, 101, 104, &c, &l), c, l), 0);
    check_invariants(&t);
    Md__QueryResult *gr = get_group(&t, &g);
    ck_assert_uint_eq(gr->group->group->fragment_cs[1], 104);
    ck_assert_uint_eq(gr->group->packed->group->fragment_cs[1], 104);
    md_query_result_free(gr);
    Md__QueryResult *q = get_object(&t, "bkt", "m", NULL);
    ck_assert_uint_eq(q->object->extents[0]->group->fragment_cs[1], 104);
    md_query_result_free(q);
    uint8_t *fq;
    size_t fql;
    built(md_q_fragments_on(104, NULL, 0, 100, &fq, &fql));
    Md__QueryResult *fr = query(&t, fq, fql);
    ck_assert_uint_eq(fr->n_fragments, 1);
    ck_assert_uint_eq(fr->fragments[0]->index, 1);
    ck_assert_mem_eq(fr->fragments[0]->group_id.data, g.id, 16);
    md_query_result_free(fr);
    tsm_close(&t);
}
END_TEST

START_TEST(test_retry_dedup)
{
    struct tsm t;
    setup(&t, _i);
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 41, cs);
    ck_assert_int_eq(open_group(&t, &g), 0);
    struct md_packed_desc d = obj("bkt", "once", 0, 500);
    uint64_t seq = tsm_seq(&t);
    uint8_t *c1, *c2;
    size_t l1, l2;
    built(md_cmd_commit_packed(t.client, seq, &g, 0, STRIPE, &d, 1, 3000, &c1, &l1));
    built(md_cmd_commit_packed(t.client, seq, &g, 0, STRIPE, &d, 1, 3000, &c2, &l2));
    Md__Result *r1 = tsm_apply(&t, c1, l1);
    /* the retry, in a later slot: answered with the first result */
    uint8_t *res;
    size_t rl;
    ck_assert_int_eq(md_sm_apply(t.sm, ++t.index, c2, l2, &res, &rl), 0);
    free(c2);
    Md__Result *r2 = md_result_decode(res, rl);
    free(res);
    ck_assert_ptr_nonnull(r2);
    ck_assert_int_eq(r1->status, 0);
    ck_assert_int_eq(r2->status, 0);
    ck_assert_uint_eq(r2->index, r1->index);
    ck_assert_uint_eq(r2->n_keys, 1);
    md_result_free(r1);
    md_result_free(r2);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g, &len, &lb, &le, &st);
    ck_assert_uint_eq(len, STRIPE);
    ck_assert_uint_eq(le, 1);
    ck_assert_uint_eq(lb, 500);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* ---- the leader's sealing worker (md_sealer) --------------------------- */

struct fake {
    struct tsm *t;
    int64_t now;
    int leader;
    uint64_t dead;           /* a chunkserver not heartbeating */
    int fail_index, fail_rc; /* seal of this fragment index answers fail_rc */
    int calls;               /* seal requests made */
    uint32_t indices[16];
    uint64_t lens[16];
    char addr[16][32];
    int damaged;
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

static int f_seal(void *ctx, const char *address, const uint8_t g[16], uint32_t index,
                  uint64_t frag_len)
{
    (void)g;
    struct fake *f = ctx;
    ck_assert_int_lt(f->calls, 16);
    f->indices[f->calls] = index;
    f->lens[f->calls] = frag_len;
    snprintf(f->addr[f->calls], sizeof(f->addr[0]), "%s", address);
    f->calls++;
    return (int)index == f->fail_index ? f->fail_rc : 0;
}

static struct md_sealer *new_sealer(struct fake *f)
{
    struct md_sealer_opts o;
    md_sealer_opts_default(&o);
    o.store = f->t->ts.store;
    o.idle_ms = 10000;
    o.is_leader = f_leader;
    o.commit = f_commit;
    o.now_ms = f_now;
    o.cs_alive = f_alive;
    o.report_damage = f_damage;
    o.seal_fragment = f_seal;
    o.ctx = f;
    struct md_sealer *w;
    ck_assert_int_eq(md_sealer_new(&o, &w), 0);
    return w;
}

static int fragments_sealed(struct tsm *t, const struct md_group_desc *g)
{
    Md__QueryResult *r = get_group(t, g);
    ck_assert_int_eq(r->status, 0);
    int s = r->group->packed->fragments_sealed;
    md_query_result_free(r);
    return s;
}

START_TEST(test_sealer)
{
    struct tsm t;
    setup(&t, _i);
    struct fake f = {.t = &t, .now = 5000, .leader = 1, .dead = 0, .fail_index = -1};
    struct md_sealer *w = new_sealer(&f);
    struct md_group_desc g1, g2;
    uint64_t cs1[3], cs2[3];
    pgroup(&g1, 61, cs1);
    pgroup(&g2, 62, cs2);
    ck_assert_int_eq(open_group(&t, &g1), 0); /* opened at 1000 */
    ck_assert_int_eq(open_group(&t, &g2), 0);
    struct md_packed_desc d = obj("bkt", "s", 0, 3000);
    md_result_free(commit(&t, &g1, 0, 2 * STRIPE, &d, 1)); /* appended at 3000 */

    /* neither idle for 10 s yet */
    ck_assert_int_eq(md_sealer_pass(w), 0);
    ck_assert_int_eq(f.calls, 0);
    uint64_t len, lb, le;
    int st;
    packed_state(&t, &g1, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);

    /* not leading: nothing happens */
    f.now = 20000;
    f.leader = 0;
    ck_assert_int_eq(md_sealer_pass(w), CAIRN_E_NOTLEADER);
    packed_state(&t, &g1, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);

    /* both idle: g2 (nothing in it) is sealed into garbage; g1 is sealed,
     * then its fragments on 100 and 102 (101 is down: left to repair) */
    f.leader = 1;
    f.dead = 101;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    Md__QueryResult *gr = get_group(&t, &g2);
    ck_assert_int_eq(gr->status, CAIRN_E_NOTFOUND);
    md_query_result_free(gr);
    ck_assert_uint_eq(garbage_count(&t, NULL, NULL), 1);
    packed_state(&t, &g1, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_SEALED);
    ck_assert_uint_eq(len, 2 * STRIPE);
    ck_assert(fragments_sealed(&t, &g1));
    ck_assert_int_eq(f.calls, 2);
    ck_assert_uint_eq(f.indices[0], 0);
    ck_assert_uint_eq(f.indices[1], 2);
    ck_assert_uint_eq(f.lens[0], 2 * STRIPE / 2); /* per fragment: data / k */
    ck_assert_str_eq(f.addr[0], "127.0.0.1:1");
    check_invariants(&t);

    /* a group its writer sealed: a transient failure leaves it for the next
     * pass; a missing fragment is reported and left to repair */
    struct md_group_desc g3;
    uint64_t cs3[3];
    pgroup(&g3, 63, cs3);
    ck_assert_int_eq(open_group(&t, &g3), 0);
    d = obj("bkt", "s3", 0, 100);
    md_result_free(commit(&t, &g3, 0, STRIPE, &d, 1));
    ck_assert_int_eq(seal(&t, &g3, STRIPE, 0, NULL), 0);
    f.calls = 0;
    f.dead = 0;
    f.fail_index = 1;
    f.fail_rc = CAIRN_E_TIMEOUT;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    ck_assert_int_eq(f.calls, 3);
    ck_assert(!fragments_sealed(&t, &g3));
    f.calls = 0;
    f.fail_rc = CAIRN_E_NOTFOUND;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    ck_assert_int_eq(f.calls, 3);
    ck_assert_int_eq(f.damaged, 1);
    ck_assert(fragments_sealed(&t, &g3));
    /* nothing left to do */
    f.calls = 0;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    ck_assert_int_eq(f.calls, 0);
    /* a writer whose clock lags: its group's appended_ms looks old (19 s),
     * but this worker first sees its length now, and waits idle_ms more */
    struct md_group_desc g4;
    uint64_t cs4[3];
    pgroup(&g4, 64, cs4);
    ck_assert_int_eq(open_group(&t, &g4), 0); /* opened_ms 1000 */
    d = obj("bkt", "s4", 0, 100);
    md_result_free(commit(&t, &g4, 0, STRIPE, &d, 1)); /* appended_ms 3000 */
    ck_assert_int_eq(md_sealer_pass(w), 0);
    packed_state(&t, &g4, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);
    f.now += 9000;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    packed_state(&t, &g4, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);
    f.now += 1000;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    ck_assert(fragments_sealed(&t, &g4));
    struct md_sealer_stats ss;
    md_sealer_get_stats(w, &ss);
    ck_assert_uint_eq(ss.idle_sealed, 3);
    ck_assert_uint_eq(ss.groups_finished, 3);
    ck_assert_uint_eq(ss.fragments_skipped, 1);

    /* a fresh open group with a fragment on a chunkserver that stopped
     * heartbeating is sealed at once (repair leaves open groups alone), and
     * its other fragments sealed; not before the chunkserver is gone */
    struct md_group_desc g5;
    uint64_t cs5[3];
    pgroup(&g5, 65, cs5);
    ck_assert_int_eq(open_group(&t, &g5), 0);
    d = obj("bkt", "s5", 0, 100);
    md_result_free(commit(&t, &g5, 0, STRIPE, &d, 1));
    f.now = 1000; /* appended just now by every clock */
    ck_assert_int_eq(md_sealer_pass(w), 0);
    packed_state(&t, &g5, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_OPEN);
    f.dead = cs5[1];
    f.calls = 0;
    ck_assert_int_eq(md_sealer_pass(w), 0);
    packed_state(&t, &g5, &len, &lb, &le, &st);
    ck_assert_int_eq(st, MD__PACKED_STATE__PACKED_SEALED);
    ck_assert(fragments_sealed(&t, &g5));
    ck_assert_int_eq(f.calls, 2); /* the live two; the dead one is repair's */
    check_invariants(&t);
    md_sealer_free(w);
    tsm_close(&t);
}
END_TEST

/* One scenario, every kind of packed command. */
static void scenario(struct tsm *t)
{
    struct md_group_desc g;
    uint64_t cs[3];
    pgroup(&g, 51, cs);
    ck_assert_int_eq(open_group(t, &g), 0);
    struct md_packed_desc b[2] = {obj("bkt", "p", 0, 10), obj("bkt", "q", STRIPE, 20)};
    md_result_free(commit(t, &g, 0, 2 * STRIPE, b, 2));
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(t, md_cmd_delete_object(t->client, tsm_seq(t), "bkt", "p", 0, NULL, &c, &l), c, l), 0);
    ck_assert_int_eq(
        run(t, md_cmd_move_fragment(t->client, tsm_seq(t), g.id, 0, 100, 103, &c, &l), c, l), 0);
    ck_assert_int_eq(seal(t, &g, 2 * STRIPE, 1, NULL), 0);
    ck_assert_int_eq(
        run(t, md_cmd_delete_object(t->client, tsm_seq(t), "bkt", "q", 0, NULL, &c, &l), c, l), 0);
    check_invariants(t);
}

START_TEST(test_same_state_both_backends)
{
    uint8_t h[BACKEND_COUNT][32];
    for (int b = 0; b < BACKEND_COUNT; b++) {
        struct tsm t;
        setup(&t, b);
        scenario(&t);
        ck_assert_int_eq(md_sm_state_hash(t.ts.store, h[b]), 0);
        tsm_close(&t);
    }
    ck_assert_mem_eq(h[0], h[1], 32);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_packed");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_open_refusals, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_commit_and_seal, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_batch_conditions, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_overwrite_delete_garbage, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_versioning, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_move_fragment, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_retry_dedup, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_sealer, 0, BACKEND_COUNT);
    tcase_add_test(tc, test_same_state_both_backends);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
