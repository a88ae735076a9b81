/* Versioning and object lock in the state machine (docs/metadata.md
 * "Versions"): version ids in commit order, delete markers, the null version
 * under Suspended and from before versioning, deletes of versions and what
 * they give to garbage, usage over every version, multipart into a
 * versioned bucket, ListObjectVersions against a model, and object lock --
 * refusals that hold for every caller, retention extend/shorten rules,
 * default retention, legal hold. md_sm_check runs after every step. Each
 * test runs against both store backends. */
#include "md_test_util.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_check.h"
#include "md_cmd_ver.h"
#include "md_place.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB    (1024ull * 1024ull)
#define DAY_MS 86400000LL

static const int64_t NOW = 1700000000000LL; /* 2023-11-14 */

/* ------------------------------------------------------------ helpers -- */

static void check_ok(struct tsm *t)
{
    char why[512];
    int rc = md_sm_check(t->ts.store, why, sizeof(why));
    if (rc)
        ck_abort_msg("md_sm_check: %s", why);
}

static void create_bucket(struct tsm *t, const char *b, int lock)
{
    struct md_owner_desc o = {.user = "alice", .id = "id-alice"};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket_locked(t->client, tsm_seq(t), b, &o, lock, NOW, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
}

static int versioning(struct tsm *t, const char *b, int status, int *reason)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_bucket_versioning(t->client, tsm_seq(t), b, status, &c, &l), 0);
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

/* Puts an object of one 1 MiB group numbered gid (inline data "gid" when
 * gid is 0 -- never: every version here has a group so garbage shows),
 * with lock; returns the result (caller frees). */
static Md__Result *put_lock(struct tsm *t, const char *b, const char *k, uint64_t gid,
                            int64_t mtime, const struct md_lock_desc *lock)
{
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, gid, 4, 2, MIB, cs);
    struct md_object_desc o = {0};
    o.size = MIB;
    o.etag = "e";
    o.mtime_ms = mtime;
    o.groups = &g;
    o.n_groups = 1;
    if (lock)
        o.lock = *lock;
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, MD_COND_NONE, NULL, &c, &l),
                     0);
    return tsm_apply(t, c, l);
}

/* Puts and returns the new version id (static buffer per call site: copy it). */
static void put(struct tsm *t, const char *b, const char *k, uint64_t gid, char vid[24])
{
    Md__Result *r = put_lock(t, b, k, gid, NOW, NULL);
    ck_assert_int_eq(r->status, 0);
    snprintf(vid, 24, "%s", r->version_id);
    md_result_free(r);
    check_ok(t);
}

/* DeleteObject (vid NULL: of the key); returns the result (caller frees). */
static Md__Result *del(struct tsm *t, const char *b, const char *k, const char *vid, int bypass,
                       int64_t now)
{
    uint8_t *c;
    size_t l;
    struct md_owner_desc o = {.user = "bob", .id = "id-bob"};
    ck_assert_int_eq(md_cmd_delete_version(t->client, tsm_seq(t), b, k, vid, MD_COND_NONE, NULL,
                                           bypass, now, &o, &c, &l),
                     0);
    return tsm_apply(t, c, l);
}

static int del_status(struct tsm *t, const char *b, const char *k, const char *vid, int bypass,
                      int64_t now, int *reason)
{
    Md__Result *r = del(t, b, k, vid, bypass, now);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    check_ok(t);
    return st;
}

static Md__QueryResult *get(struct tsm *t, const char *b, const char *k, const char *vid)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_version(b, k, vid, 0, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

/* The version id of the object GET returns (latest when vid is NULL), or
 * "-" when it answers NoSuchKey with a delete marker, "!" with none. */
static void current_id(struct tsm *t, const char *b, const char *k, char out[24])
{
    Md__QueryResult *r = get(t, b, k, NULL);
    if (r->status == 0) {
        md_version_id_of(r->object, out);
    } else {
        ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_KEY);
        snprintf(out, 24, "%s", r->marker ? "-" : "!");
    }
    md_query_result_free(r);
}

static Md__QueryResult *list_versions(struct tsm *t, const char *b, const char *prefix,
                                      const char *delim, const char *km, const char *vm,
                                      uint32_t max)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_versions(b, prefix, delim, km, vm, max, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static size_t garbage_count(struct tsm *t)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_garbage(0, 0, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(t, q, ql);
    size_t n = r->n_garbage;
    md_query_result_free(r);
    return n;
}

static void usage_of(struct tsm *t, const char *b, uint64_t *bytes, uint64_t *objects)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_head_bucket(b, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(t, q, ql);
    ck_assert_int_eq(r->status, 0);
    *bytes = r->bucket->usage ? r->bucket->usage->bytes : 0;
    *objects = r->bucket->usage ? r->bucket->usage->objects : 0;
    md_query_result_free(r);
}

/* "vid,vid*,..." of bucket's versions of key ('*' after the latest,
 * 'M' before a delete marker's id). */
static void versions_of(struct tsm *t, const char *b, const char *k, char *out, size_t cap)
{
    Md__QueryResult *r = list_versions(t, b, k, "", "", "", 1000);
    ck_assert_int_eq(r->status, 0);
    out[0] = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->list_versions->n_versions; i++) {
        const Md__VersionEntry *e = r->list_versions->versions[i];
        if (strcmp(e->key, k) != 0)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s%s%s", n ? "," : "",
                              e->record->delete_marker ? "M" : "", e->version_id,
                              e->is_latest ? "*" : "");
    }
    md_query_result_free(r);
}

/* -------------------------------------------------------------- tests -- */

/* Versions in commit order, the null version from before versioning, GET by
 * id, delete markers, deleting versions (their groups to garbage, the next
 * one current again), usage over every version. */
START_TEST(test_versions_and_markers)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    char v0[24], v1[24], v2[24], cur[24], list[256];
    put(&t, "vbk", "k", 1, v0);
    ck_assert_str_eq(v0, ""); /* a bucket never versioned shows no version ids */
    /* The state machine's status is the bucket's: no status until set. */
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    put(&t, "vbk", "k", 2, v1);
    put(&t, "vbk", "k", 3, v2);
    ck_assert_uint_eq(strlen(v1), 16);
    ck_assert_str_lt(v1, v2); /* ids order by commit */
    versions_of(&t, "vbk", "k", list, sizeof(list));
    char want[256];
    snprintf(want, sizeof(want), "%s*,%s,null", v2, v1);
    ck_assert_str_eq(list, want);
    uint64_t bytes, objects;
    usage_of(&t, "vbk", &bytes, &objects);
    ck_assert_uint_eq(bytes, 3 * MIB); /* every stored version counts */
    ck_assert_uint_eq(objects, 3);
    ck_assert_uint_eq(garbage_count(&t), 0); /* overwrites kept the old versions' groups */

    /* GET by id, "null" included; a well-formed id of nothing: NoSuchVersion. */
    Md__QueryResult *r = get(&t, "vbk", "k", v1);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->object->extents[0]->group->id.data[0], 2);
    md_query_result_free(r);
    r = get(&t, "vbk", "k", "null");
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->object->extents[0]->group->id.data[0], 1);
    md_query_result_free(r);
    r = get(&t, "vbk", "k", "00000000000000ff");
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_VERSION);
    md_query_result_free(r);
    r = get(&t, "vbk", "k", "not-an-id");
    ck_assert_int_eq(r->reason, MD__REASON__R_BAD_VERSION_ID);
    md_query_result_free(r);

    /* DELETE of the key: a delete marker becomes current, nothing is lost. */
    Md__Result *d = del(&t, "vbk", "k", NULL, 0, NOW);
    ck_assert_int_eq(d->status, 0);
    ck_assert(d->delete_marker);
    char m[24];
    snprintf(m, sizeof(m), "%s", d->version_id);
    md_result_free(d);
    check_ok(&t);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, "-");
    r = get(&t, "vbk", "k", m);
    ck_assert_int_eq(r->reason, MD__REASON__R_DELETE_MARKER);
    ck_assert_ptr_nonnull(r->marker);
    ck_assert_str_eq(r->marker->owner, "bob");
    md_query_result_free(r);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_objects("vbk", "", "", "", 100, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->list_objects->n_entries, 0); /* ListObjects shows no marker */
    md_query_result_free(r);
    usage_of(&t, "vbk", &bytes, &objects);
    ck_assert_uint_eq(objects, 3);
    /* the bucket holds versions: not empty */
    ck_assert_int_eq(md_cmd_delete_bucket(t.client, tsm_seq(&t), "vbk", &q, &ql), 0);
    ck_assert_int_eq(tsm_run(&t, q, ql), CAIRN_E_NOTEMPTY);

    /* Deleting the marker by id: v2 is current again. */
    d = del(&t, "vbk", "k", m, 0, NOW);
    ck_assert_int_eq(d->status, 0);
    ck_assert(d->delete_marker && d->existed);
    ck_assert_str_eq(d->version_id, m);
    md_result_free(d);
    check_ok(&t);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, v2);

    /* Deleting the current version: its groups to garbage, v1 current. */
    ck_assert_int_eq(del_status(&t, "vbk", "k", v2, 0, NOW, NULL), 0);
    ck_assert_uint_eq(garbage_count(&t), 1);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, v1);
    /* a noncurrent one: the null version */
    ck_assert_int_eq(del_status(&t, "vbk", "k", "null", 0, NOW, NULL), 0);
    ck_assert_uint_eq(garbage_count(&t), 2);
    usage_of(&t, "vbk", &bytes, &objects);
    ck_assert_uint_eq(bytes, MIB);
    ck_assert_uint_eq(objects, 1);
    /* a version that is not there: 204 in S3, nothing changes */
    d = del(&t, "vbk", "k", "00000000000000ff", 0, NOW);
    ck_assert_int_eq(d->status, 0);
    ck_assert(!d->existed);
    md_result_free(d);
    int reason;
    ck_assert_int_eq(del_status(&t, "vbk", "k", "zz", 0, NOW, &reason), CAIRN_E_INVAL);
    ck_assert_int_eq(reason, MD__REASON__R_BAD_VERSION_ID);
    /* the last version: the key and then the bucket can go */
    ck_assert_int_eq(del_status(&t, "vbk", "k", v1, 0, NOW, NULL), 0);
    ck_assert_int_eq(md_cmd_delete_bucket(t.client, tsm_seq(&t), "vbk", &q, &ql), 0);
    ck_assert_int_eq(tsm_run(&t, q, ql), 0);
    check_ok(&t);
    tsm_close(&t);
}
END_TEST

/* Suspended: writes make the null version, replacing the previous null
 * version wherever it is; a DELETE makes a null delete marker. */
START_TEST(test_suspended_null_version)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    char v[24], n1[24], n2[24], cur[24], list[256], want[256];
    put(&t, "vbk", "k", 1, v); /* null (before versioning) */
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    put(&t, "vbk", "k", 2, v);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_SUSPENDED, NULL), 0);
    /* the old null version (noncurrent, at the bottom) goes; v stays */
    put(&t, "vbk", "k", 3, n1);
    ck_assert_str_eq(n1, "null");
    ck_assert_uint_eq(garbage_count(&t), 1);
    versions_of(&t, "vbk", "k", list, sizeof(list));
    snprintf(want, sizeof(want), "null*,%s", v);
    ck_assert_str_eq(list, want);
    /* again: the current null version is replaced in place */
    put(&t, "vbk", "k", 4, n2);
    ck_assert_uint_eq(garbage_count(&t), 2);
    versions_of(&t, "vbk", "k", list, sizeof(list));
    ck_assert_str_eq(list, want);
    /* DELETE: a null marker replaces the null version */
    Md__Result *d = del(&t, "vbk", "k", NULL, 0, NOW);
    ck_assert_int_eq(d->status, 0);
    ck_assert(d->delete_marker);
    ck_assert_str_eq(d->version_id, "null");
    md_result_free(d);
    check_ok(&t);
    ck_assert_uint_eq(garbage_count(&t), 3);
    versions_of(&t, "vbk", "k", list, sizeof(list));
    snprintf(want, sizeof(want), "Mnull*,%s", v);
    ck_assert_str_eq(list, want);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, "-");
    /* re-enabled: new versions on top, the null marker stays below */
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    char v3[24];
    put(&t, "vbk", "k", 5, v3);
    versions_of(&t, "vbk", "k", list, sizeof(list));
    snprintf(want, sizeof(want), "%s*,Mnull,%s", v3, v);
    ck_assert_str_eq(list, want);
    /* deleting the null marker by id leaves v3 current */
    ck_assert_int_eq(del_status(&t, "vbk", "k", "null", 0, NOW, NULL), 0);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, v3);
    /* a key never written under versioning, deleted in a suspended bucket:
     * only a null marker */
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_SUSPENDED, NULL), 0);
    d = del(&t, "vbk", "fresh", NULL, 0, NOW);
    ck_assert(d->delete_marker && !d->existed);
    md_result_free(d);
    check_ok(&t);
    /* a bad status */
    int reason;
    ck_assert_int_eq(versioning(&t, "vbk", 7, &reason), CAIRN_E_INVAL);
    tsm_close(&t);
}
END_TEST

/* Writers racing on one key: one version each, ids in commit (slot) order. */
START_TEST(test_concurrent_writers_one_version_each)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    enum { N = 6 };
    uint8_t *cmds[N];
    size_t lens[N];
    struct md_group_desc g[N];
    uint64_t cs[N][6];
    for (int i = 0; i < N; i++) {
        make_group(&g[i], 100 + (uint64_t)i, 4, 2, MIB, cs[i]);
        struct md_object_desc o = {
            .size = MIB, .etag = "e", .mtime_ms = NOW, .groups = &g[i], .n_groups = 1};
        /* one client per writer, as gateways are */
        ck_assert_int_eq(md_cmd_put_object(1000 + (uint64_t)i, 1, "vbk", "k", &o, MD_COND_NONE,
                                           NULL, &cmds[i], &lens[i]),
                         0);
    }
    uint8_t *res[N];
    size_t rl[N];
    ck_assert_int_eq(
        md_sm_apply_slot(t.sm, ++t.index, N, (const void *const *)cmds, lens, NULL, res, rl), 0);
    char ids[N][24];
    for (int i = 0; i < N; i++) {
        free(cmds[i]);
        Md__Result *r = md_result_decode(res[i], rl[i]);
        free(res[i]);
        ck_assert_int_eq(r->status, 0);
        snprintf(ids[i], 24, "%s", r->version_id);
        md_result_free(r);
        if (i)
            ck_assert_str_lt(ids[i - 1], ids[i]);
    }
    check_ok(&t);
    Md__QueryResult *r = list_versions(&t, "vbk", "", "", "", "", 1000);
    ck_assert_uint_eq(r->list_versions->n_versions, N);
    for (int i = 0; i < N; i++) /* newest (last committed) first */
        ck_assert_str_eq(r->list_versions->versions[i]->version_id, ids[N - 1 - i]);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

/* Multipart into a versioned bucket: Complete makes a new version; the
 * version its groups replaced is kept, with its own groups. */
START_TEST(test_multipart_versioned)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    char v1[24], cur[24];
    put(&t, "vbk", "k", 1, v1);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "vbk", "k", "u1", "alice", NULL, NOW, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 7, 4, 2, MIB, cs);
    const char *etag = "0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(
        md_cmd_put_part(t.client, tsm_seq(&t), "vbk", "k", "u1", 1, etag, MIB, NOW, &g, 1, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    struct md_part_ref p = {1, etag};
    ck_assert_int_eq(md_cmd_complete_upload(t.client, tsm_seq(&t), "vbk", "k", "u1", &p, 1,
                                            MD_COND_NONE, NULL, NOW, &c, &l),
                     0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, 0);
    char v2[24];
    snprintf(v2, sizeof(v2), "%s", r->version_id);
    md_result_free(r);
    check_ok(&t);
    ck_assert_str_ne(v2, v1);
    current_id(&t, "vbk", "k", cur);
    ck_assert_str_eq(cur, v2);
    ck_assert_uint_eq(garbage_count(&t), 0);
    /* the replay of the Complete answers with the same version */
    ck_assert_int_eq(md_cmd_complete_upload(t.client, tsm_seq(&t), "vbk", "k", "u1", &p, 1,
                                            MD_COND_NONE, NULL, NOW, &c, &l),
                     0);
    r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, 0);
    ck_assert_str_eq(r->version_id, v2);
    md_result_free(r);
    /* the group of v1 can still be repaired (its locator names its version) */
    make_group(&g, 1, 4, 2, MIB, cs);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 0, 100, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    check_ok(&t);
    Md__QueryResult *q = get(&t, "vbk", "k", v1);
    ck_assert_uint_eq(q->object->extents[0]->group->fragment_cs[0], 0);
    md_query_result_free(q);
    tsm_close(&t);
}
END_TEST

/* Quotas count every stored version: an overwrite in a versioned bucket
 * grows the usage, and is refused over the quota. */
START_TEST(test_quota_counts_versions)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_set_quota(t.client, tsm_seq(&t), NULL, "vbk", 2 * MIB, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    char v[24];
    put(&t, "vbk", "k", 1, v);
    put(&t, "vbk", "k", 2, v);
    Md__Result *r = put_lock(&t, "vbk", "k", 3, NOW, NULL);
    ck_assert_int_eq(r->reason, MD__REASON__R_QUOTA_EXCEEDED);
    md_result_free(r);
    /* freeing a version makes room */
    ck_assert_int_eq(del_status(&t, "vbk", "k", v, 0, NOW, NULL), 0);
    put(&t, "vbk", "k", 4, v);
    check_ok(&t);
    tsm_close(&t);
}
END_TEST

/* Object lock: a locked version is refused to every DeleteObject -- the
 * state machine has no caller it trusts more (the operator's commands are
 * refused alike) -- until it expires; COMPLIANCE even with bypass, GOVERNANCE
 * unless bypassed, legal hold always. A delete marker is always allowed. */
START_TEST(test_lock_refuses_deletes)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "lkb", 1);
    int64_t until = NOW + DAY_MS;
    struct md_lock_desc comp = {MD__LOCK_MODE__LOCK_COMPLIANCE, until, 0};
    struct md_lock_desc gov = {MD__LOCK_MODE__LOCK_GOVERNANCE, until, 0};
    struct md_lock_desc hold = {0, 0, 1};
    Md__Result *r = put_lock(&t, "lkb", "c", 1, NOW, &comp);
    ck_assert_int_eq(r->status, 0);
    char vc[24], vg[24], vh[24];
    snprintf(vc, sizeof(vc), "%s", r->version_id);
    md_result_free(r);
    r = put_lock(&t, "lkb", "g", 2, NOW, &gov);
    snprintf(vg, sizeof(vg), "%s", r->version_id);
    md_result_free(r);
    r = put_lock(&t, "lkb", "h", 3, NOW, &hold);
    snprintf(vh, sizeof(vh), "%s", r->version_id);
    md_result_free(r);
    check_ok(&t);
    int reason;
    ck_assert_int_eq(del_status(&t, "lkb", "c", vc, 1, NOW + 1000, &reason), CAIRN_E_AUTH);
    ck_assert_int_eq(reason, MD__REASON__R_OBJECT_LOCKED);
    ck_assert_int_eq(del_status(&t, "lkb", "g", vg, 0, NOW + 1000, &reason), CAIRN_E_AUTH);
    ck_assert_int_eq(del_status(&t, "lkb", "h", vh, 1, NOW + 10 * DAY_MS, &reason), CAIRN_E_AUTH);
    /* DeleteObjects entry by entry: the locked one fails alone */
    char vfree[24];
    put(&t, "lkb", "free", 4, vfree);
    struct md_delete_version_desc dv[2] = {{"c", vc, MD_COND_NONE, NULL},
                                           {"free", vfree, MD_COND_NONE, NULL}};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_delete_versions(t.client, tsm_seq(&t), "lkb", dv, 2, 1, NOW, NULL, &c, &l), 0);
    r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->n_keys, 2);
    ck_assert_int_eq(r->keys[0]->reason, MD__REASON__R_OBJECT_LOCKED);
    ck_assert_int_eq(r->keys[1]->status, 0);
    ck_assert_str_eq(r->keys[1]->version_id, vfree);
    md_result_free(r);
    check_ok(&t);
    /* a marker on top of a locked version is fine; the version stays */
    Md__Result *d = del(&t, "lkb", "c", NULL, 0, NOW + 1000);
    ck_assert_int_eq(d->status, 0);
    ck_assert(d->delete_marker);
    md_result_free(d);
    Md__QueryResult *q = get(&t, "lkb", "c", vc);
    ck_assert_int_eq(q->status, 0);
    md_query_result_free(q);
    /* governance with bypass; compliance once expired; hold once released */
    ck_assert_int_eq(del_status(&t, "lkb", "g", vg, 1, NOW + 1000, NULL), 0);
    ck_assert_int_eq(del_status(&t, "lkb", "c", vc, 0, until, NULL), 0);
    ck_assert_int_eq(md_cmd_put_object_legal_hold(t.client, tsm_seq(&t), "lkb", "h", vh, 0, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(del_status(&t, "lkb", "h", vh, 0, NOW, NULL), 0);
    /* a lock bucket cannot be suspended */
    ck_assert_int_eq(versioning(&t, "lkb", MD__VERSIONING_STATUS__VERSIONING_SUSPENDED, &reason),
                     CAIRN_E_INVAL);
    ck_assert_int_eq(reason, MD__REASON__R_INVALID_BUCKET_STATE);
    check_ok(&t);
    tsm_close(&t);
}
END_TEST

static int retention(struct tsm *t, const char *k, const char *vid, int mode, int64_t until,
                     int bypass, int64_t now, int *reason)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object_retention(t->client, tsm_seq(t), "lkb", k, vid, mode, until,
                                                 bypass, now, &c, &l),
                     0);
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    check_ok(t);
    return st;
}

/* Retention is extended freely; COMPLIANCE is never shortened, changed or
 * removed while it holds; GOVERNANCE only with bypass; once expired anything
 * goes; dates in the past are refused. */
START_TEST(test_retention_rules)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "lkb", 1);
    char v[24];
    put(&t, "lkb", "k", 1, v);
    const int C = MD__LOCK_MODE__LOCK_COMPLIANCE, G = MD__LOCK_MODE__LOCK_GOVERNANCE;
    int reason;
    int64_t t1 = NOW + DAY_MS, t2 = NOW + 2 * DAY_MS;
    ck_assert_int_eq(retention(&t, "k", "", C, NOW - 1, 0, NOW, &reason), CAIRN_E_INVAL);
    ck_assert_int_eq(reason, MD__REASON__R_INVALID_ARGUMENT);
    ck_assert_int_eq(retention(&t, "k", "", C, t1, 0, NOW, NULL), 0);
    ck_assert_int_eq(retention(&t, "k", v, C, t2, 0, NOW, NULL), 0); /* extend */
    ck_assert_int_eq(retention(&t, "k", "", C, t1, 1, NOW, &reason), CAIRN_E_AUTH);
    ck_assert_int_eq(reason, MD__REASON__R_OBJECT_LOCKED);
    ck_assert_int_eq(retention(&t, "k", "", G, t2, 1, NOW, NULL), CAIRN_E_AUTH);
    ck_assert_int_eq(retention(&t, "k", "", 0, 0, 1, NOW, NULL), CAIRN_E_AUTH);
    /* expired: anything */
    ck_assert_int_eq(retention(&t, "k", "", G, t2 + DAY_MS, 0, t2, NULL), 0);
    ck_assert_int_eq(retention(&t, "k", "", G, t2 + 2 * DAY_MS, 0, t2, NULL), 0);
    ck_assert_int_eq(retention(&t, "k", "", G, t2 + DAY_MS, 0, t2, NULL), CAIRN_E_AUTH);
    ck_assert_int_eq(retention(&t, "k", "", C, t2 + 3 * DAY_MS, 0, t2, NULL), CAIRN_E_AUTH);
    ck_assert_int_eq(retention(&t, "k", "", G, t2 + DAY_MS, 1, t2, NULL), 0);
    ck_assert_int_eq(retention(&t, "k", "", C, t2 + DAY_MS, 1, t2, NULL), 0);
    /* the record says what was decided */
    Md__QueryResult *q = get(&t, "lkb", "k", v);
    ck_assert_int_eq(q->object->lock_mode, C);
    ck_assert_int_eq(q->object->retain_until_ms, t2 + DAY_MS);
    md_query_result_free(q);
    /* no such version; a bucket without object lock */
    ck_assert_int_eq(retention(&t, "k", "00000000000000ff", C, t2 + 9 * DAY_MS, 0, t2, &reason),
                     CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_VERSION);
    create_bucket(&t, "plain", 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_put_object_retention(t.client, tsm_seq(&t), "plain", "k", "", C, t1, 0, NOW, &c, &l),
        0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_LOCK_CONFIG);
    md_result_free(r);
    struct md_lock_desc lock = {C, t1, 0};
    r = put_lock(&t, "plain", "k", 9, NOW, &lock);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_LOCK_CONFIG);
    md_result_free(r);
    struct md_lock_desc half = {C, 0, 0};
    r = put_lock(&t, "lkb", "k2", 9, NOW, &half);
    ck_assert_int_eq(r->reason, MD__REASON__R_INVALID_ARGUMENT);
    md_result_free(r);
    tsm_close(&t);
}
END_TEST

/* Default retention: new versions without their own get the bucket's, from
 * their commit time; PutObjectLockConfiguration needs versioning on;
 * calendar years (Feb 29 + 1 year = Mar 1). */
START_TEST(test_default_retention)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "plain", 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object_lock_config(t.client, tsm_seq(&t), "plain",
                                                   MD__LOCK_MODE__LOCK_GOVERNANCE, 1, 0, &c, &l),
                     0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->reason, MD__REASON__R_INVALID_BUCKET_STATE);
    md_result_free(r);
    /* on a versioned bucket it turns object lock on */
    ck_assert_int_eq(versioning(&t, "plain", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    ck_assert_int_eq(md_cmd_put_object_lock_config(t.client, tsm_seq(&t), "plain",
                                                   MD__LOCK_MODE__LOCK_GOVERNANCE, 3, 0, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    r = put_lock(&t, "plain", "k", 1, NOW, NULL);
    ck_assert_int_eq(r->status, 0);
    md_result_free(r);
    Md__QueryResult *q = get(&t, "plain", "k", NULL);
    ck_assert_int_eq(q->object->lock_mode, MD__LOCK_MODE__LOCK_GOVERNANCE);
    ck_assert_int_eq(q->object->retain_until_ms, NOW + 3 * DAY_MS);
    md_query_result_free(q);
    /* days and years together, zero, or a bad mode: refused */
    ck_assert_int_eq(md_cmd_put_object_lock_config(t.client, tsm_seq(&t), "plain",
                                                   MD__LOCK_MODE__LOCK_GOVERNANCE, 1, 1, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    ck_assert_int_eq(md_cmd_put_object_lock_config(t.client, tsm_seq(&t), "plain", 9, 1, 0, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    /* years: 2024-02-29T12:00Z + 1 year = 2025-03-01T12:00Z */
    ck_assert_int_eq(md_cmd_put_object_lock_config(t.client, tsm_seq(&t), "plain",
                                                   MD__LOCK_MODE__LOCK_COMPLIANCE, 0, 1, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    int64_t leap = 1709208000000LL; /* 2024-02-29T12:00:00Z */
    r = put_lock(&t, "plain", "y", 2, leap, NULL);
    ck_assert_int_eq(r->status, 0);
    md_result_free(r);
    q = get(&t, "plain", "y", NULL);
    ck_assert_int_eq(q->object->lock_mode, MD__LOCK_MODE__LOCK_COMPLIANCE);
    ck_assert_int_eq(q->object->retain_until_ms, 1740830400000LL); /* 2025-03-01T12:00:00Z */
    md_query_result_free(q);
    /* an explicit lock wins over the default */
    struct md_lock_desc own = {MD__LOCK_MODE__LOCK_GOVERNANCE, NOW + 5, 0};
    r = put_lock(&t, "plain", "z", 3, NOW, &own);
    md_result_free(r);
    q = get(&t, "plain", "z", NULL);
    ck_assert_int_eq(q->object->lock_mode, MD__LOCK_MODE__LOCK_GOVERNANCE);
    ck_assert_int_eq(q->object->retain_until_ms, NOW + 5);
    md_query_result_free(q);
    check_ok(&t);
    tsm_close(&t);
}
END_TEST

/* ListObjectVersions against a model: random puts, deletes and deletes of
 * versions on a few keys; every listing (prefix, delimiter, pages of every
 * size through key/version-id markers) equals the model's. */
#define MK 6
static const char *const MKEYS[MK] = {"a", "a/b", "a/c/d", "b", "bb", "c/x"};

struct mver {
    char id[24];
    int marker;
};
struct mkey {
    struct mver v[64]; /* newest first */
    int n;
};

/* The model's listing as "key id L M|..." lines, with common prefixes. */
static void model_list(const struct mkey *m, const char *prefix, const char *delim, char *out,
                       size_t cap)
{
    size_t n = 0;
    char last_cp[64] = "";
    out[0] = 0;
    for (int i = 0; i < MK; i++) {
        const char *k = MKEYS[i];
        if (strncmp(k, prefix, strlen(prefix)) != 0 || m[i].n == 0)
            continue;
        const char *d = delim[0] ? strstr(k + strlen(prefix), delim) : NULL;
        if (d) {
            char cp[64];
            snprintf(cp, sizeof(cp), "%.*s", (int)(d - k + (int)strlen(delim)), k);
            if (strcmp(cp, last_cp) != 0)
                n += (size_t)snprintf(out + n, cap - n, "P %s|", cp);
            snprintf(last_cp, sizeof(last_cp), "%s", cp);
            continue;
        }
        for (int j = 0; j < m[i].n; j++)
            n += (size_t)snprintf(out + n, cap - n, "%s %s%s%s|", k, m[i].v[j].id,
                                  j == 0 ? " L" : "", m[i].v[j].marker ? " M" : "");
    }
}

/* The same from the state machine, paged by max. */
static void sm_list(struct tsm *t, const char *prefix, const char *delim, uint32_t max, char *out,
                    size_t cap)
{
    size_t n = 0;
    char km[64] = "", vm[24] = "";
    out[0] = 0;
    for (int page = 0; page < 200; page++) {
        Md__QueryResult *r = list_versions(t, "mbk", prefix, delim, km, vm, max);
        ck_assert_int_eq(r->status, 0);
        const Md__ListVersionsR *lv = r->list_versions;
        ck_assert_uint_le(lv->n_versions + lv->n_common_prefixes, max);
        /* a page lists versions and prefixes in key order; merge them */
        size_t i = 0, j = 0;
        while (i < lv->n_versions || j < lv->n_common_prefixes) {
            int take_v =
                j == lv->n_common_prefixes ||
                (i < lv->n_versions && strcmp(lv->versions[i]->key, lv->common_prefixes[j]) < 0);
            if (take_v) {
                const Md__VersionEntry *e = lv->versions[i++];
                n += (size_t)snprintf(out + n, cap - n, "%s %s%s%s|", e->key, e->version_id,
                                      e->is_latest ? " L" : "",
                                      e->record->delete_marker ? " M" : "");
            } else {
                n += (size_t)snprintf(out + n, cap - n, "P %s|", lv->common_prefixes[j++]);
            }
        }
        int more = lv->truncated;
        if (getenv("LVDEBUG"))
            fprintf(stderr, "page km=%s vm=%s -> n=%zu trunc=%d next=%s/%s\n", km, vm,
                    lv->n_versions, more, lv->next_key_marker, lv->next_version_id_marker);
        if (more) {
            snprintf(km, sizeof(km), "%s", lv->next_key_marker);
            snprintf(vm, sizeof(vm), "%s", lv->next_version_id_marker);
        }
        md_query_result_free(r);
        if (!more)
            return;
    }
    ck_abort_msg("listing does not end: prefix %s delim %s max %u km %s vm %s: %.300s", prefix,
                 delim, max, km, vm, out);
}

START_TEST(test_list_versions_model)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "mbk", 0);
    ck_assert_int_eq(versioning(&t, "mbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    struct mkey m[MK];
    memset(m, 0, sizeof(m));
    uint64_t rng = 7 + (uint64_t)_i, gid = 1;
    char *want = malloc(1 << 16), *got = malloc(1 << 16);
    for (int step = 0; step < 120; step++) {
        int i = (int)(md_place_rand(&rng) % MK);
        int op = (int)(md_place_rand(&rng) % 5);
        struct mkey *mk = &m[i];
        if (mk->n >= 60)
            op = 4;
        if (op <= 1) { /* put */
            char vid[24];
            put(&t, "mbk", MKEYS[i], gid++, vid);
            memmove(&mk->v[1], &mk->v[0], (size_t)mk->n * sizeof(mk->v[0]));
            snprintf(mk->v[0].id, 24, "%s", vid);
            mk->v[0].marker = 0;
            mk->n++;
        } else if (op == 2) { /* delete: a marker */
            Md__Result *r = del(&t, "mbk", MKEYS[i], NULL, 0, NOW);
            ck_assert_int_eq(r->status, 0);
            memmove(&mk->v[1], &mk->v[0], (size_t)mk->n * sizeof(mk->v[0]));
            snprintf(mk->v[0].id, 24, "%s", r->version_id);
            mk->v[0].marker = 1;
            mk->n++;
            md_result_free(r);
            check_ok(&t);
        } else if (mk->n) { /* delete one version */
            int j = (int)(md_place_rand(&rng) % (uint64_t)mk->n);
            ck_assert_int_eq(del_status(&t, "mbk", MKEYS[i], mk->v[j].id, 0, NOW, NULL), 0);
            memmove(&mk->v[j], &mk->v[j + 1], (size_t)(mk->n - j - 1) * sizeof(mk->v[0]));
            mk->n--;
        }
        if (step % 10 != 9)
            continue;
        static const char *const prefixes[] = {"", "a", "a/", "b", "c/", "zz"};
        static const char *const delims[] = {"", "/", "b"};
        for (size_t p = 0; p < 6; p++) {
            for (size_t d = 0; d < 3; d++) {
                model_list(m, prefixes[p], delims[d], want, 1 << 16);
                for (uint32_t max = 1; max <= 4; max++) {
                    sm_list(&t, prefixes[p], delims[d], max, got, 1 << 16);
                    ck_assert_msg(strcmp(want, got) == 0,
                                  "prefix '%s' delim '%s' max %u:\n want %s\n got  %s", prefixes[p],
                                  delims[d], max, want, got);
                }
                sm_list(&t, prefixes[p], delims[d], 1000, got, 1 << 16);
                ck_assert_str_eq(want, got);
            }
        }
    }
    /* a version-id marker needs a key marker; a malformed one is refused */
    Md__QueryResult *r = list_versions(&t, "mbk", "", "", "", "0000000000000001", 10);
    ck_assert_int_eq(r->reason, MD__REASON__R_INVALID_ARGUMENT);
    md_query_result_free(r);
    r = list_versions(&t, "mbk", "", "", "a", "bogus", 10);
    ck_assert_int_eq(r->reason, MD__REASON__R_BAD_VERSION_ID);
    md_query_result_free(r);
    free(want);
    free(got);
    tsm_close(&t);
}
END_TEST

/* The checker sees damage to versions: a null version without its
 * reference, a current object older than a noncurrent one. */
START_TEST(test_checker_catches_version_damage)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    char v[24];
    put(&t, "vbk", "k", 1, v);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    put(&t, "vbk", "k", 2, v);
    /* the null version is noncurrent now: drop its "SN" reference */
    static const unsigned char nk[] = "SNvbk\0k";
    struct md_batch *bt = md_batch_new();
    ck_assert_ptr_nonnull(bt);
    ck_assert_int_eq(md_batch_del(bt, nk, sizeof(nk) - 1), 0);
    ck_assert_int_eq(md_store_write(t.ts.store, bt), 0);
    md_batch_free(bt);
    char why[256];
    ck_assert_int_eq(md_sm_check(t.ts.store, why, sizeof(why)), CAIRN_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(why, "null version"));
    tsm_close(&t);

    tsm_open(&t, _i);
    create_bucket(&t, "vbk", 0);
    ck_assert_int_eq(versioning(&t, "vbk", MD__VERSIONING_STATUS__VERSIONING_ENABLED, NULL), 0);
    put(&t, "vbk", "k", 1, v);
    put(&t, "vbk", "k", 2, v);
    /* the current record rewritten with an old vseq */
    Md__QueryResult *q = get(&t, "vbk", "k", NULL);
    Md__ObjectRecord *o = q->object;
    o->vseq = 0;
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(cn_pb_pack(&o->base, &buf, &len), 0);
    static const unsigned char ok[] = "Sovbk\0k";
    bt = md_batch_new();
    ck_assert_ptr_nonnull(bt);
    ck_assert_int_eq(md_batch_put(bt, ok, sizeof(ok) - 1, buf, len), 0);
    ck_assert_int_eq(md_store_write(t.ts.store, bt), 0);
    md_batch_free(bt);
    free(buf);
    md_query_result_free(q);
    ck_assert_int_eq(md_sm_check(t.ts.store, why, sizeof(why)), CAIRN_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(why, "not newer"));
    tsm_close(&t);
}
END_TEST

/* The lifecycle worker's expiration meets versions and object lock: in a
 * versioned bucket it makes a delete marker (no version destroyed, no group
 * to garbage), the locked version stays readable by id and refused to a
 * delete, and a key whose current version is a marker is expired no
 * further. */
START_TEST(test_lifecycle_expire_versioned)
{
    struct tsm t;
    tsm_open(&t, _i);
    create_bucket(&t, "lcb", 1);
    Md__LifecycleRule r = MD__LIFECYCLE_RULE__INIT;
    r.id = "all";
    r.enabled = 1;
    r.prefix = "";
    r.expiration_days = 1;
    Md__LifecycleRule *rules[] = {&r};
    Md__LifecycleConfig lc = MD__LIFECYCLE_CONFIG__INIT;
    lc.rules = rules;
    lc.n_rules = 1;
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_bucket_lifecycle(t.client, tsm_seq(&t), "lcb", &lc, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    struct md_lock_desc lock = {MD__LOCK_MODE__LOCK_COMPLIANCE, NOW + 30 * DAY_MS, 0};
    Md__Result *pr = put_lock(&t, "lcb", "k", 71, NOW, &lock);
    ck_assert_int_eq(pr->status, 0);
    char vid[24];
    snprintf(vid, sizeof(vid), "%s", pr->version_id);
    md_result_free(pr);
    size_t g0 = garbage_count(&t);
    /* due after a day; the version's retention runs 30 */
    ck_assert_int_eq(md_cmd_lifecycle_expire(t.client, tsm_seq(&t), "lcb", "k", NULL,
                                             NOW + 3 * DAY_MS, DAY_MS, &c, &l),
                     0);
    Md__Result *er = tsm_apply(&t, c, l);
    ck_assert_int_eq(er->status, 0);
    ck_assert(er->delete_marker);
    md_result_free(er);
    check_ok(&t);
    char cur[24];
    current_id(&t, "lcb", "k", cur);
    ck_assert_str_eq(cur, "-"); /* a marker is the key's current version */
    ck_assert_uint_eq(garbage_count(&t), g0);
    Md__QueryResult *q = get(&t, "lcb", "k", vid);
    ck_assert_int_eq(q->status, 0);
    md_query_result_free(q);
    /* nothing current to expire again */
    ck_assert_int_eq(md_cmd_lifecycle_expire(t.client, tsm_seq(&t), "lcb", "k", NULL,
                                             NOW + 4 * DAY_MS, DAY_MS, &c, &l),
                     0);
    er = tsm_apply(&t, c, l);
    ck_assert_int_ne(er->status, 0);
    md_result_free(er);
    int reason;
    ck_assert_int_ne(del_status(&t, "lcb", "k", vid, 1, NOW + 4 * DAY_MS, &reason), 0);
    ck_assert_int_eq(reason, MD__REASON__R_OBJECT_LOCKED);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_versions");
    TCase *tc = tcase_create("versions");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_versions_and_markers, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_suspended_null_version, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_concurrent_writers_one_version_each, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_multipart_versioned, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_quota_counts_versions, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_lock_refuses_deletes, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_retention_rules, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_default_retention, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_list_versions_model, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_checker_catches_version_damage, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_lifecycle_expire_versioned, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
