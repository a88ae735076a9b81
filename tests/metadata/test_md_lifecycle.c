/* Lifecycle in the state machine (issue #13): the rules' arithmetic (S3's
 * day rounding, dates, filters by prefix, tags and size), the configuration
 * replaced whole and deleted, LifecycleExpire deciding again with the
 * command's time (an object not due, rewritten or of another prefix is left
 * alone; a due one is deleted and its usage and groups released; an upload
 * aborted), the scan finding exactly what is due, and rules that only apply
 * to versions never expiring anything. Both backends; md_sm_check after. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_cmd_ver.h"
#include "md_lifecycle.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#define DAY 1000 /* a test "day" of one second */

/* 1 if bucket/key exists. */
static int exists(struct tsm *t, const char *b, const char *k)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object_and_bucket(b, k, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(t, q, ql);
    int e = r->object != NULL;
    md_query_result_free(r);
    return e;
}

static uint64_t bucket_objects(struct tsm *t, const char *b)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object_and_bucket(b, "x", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(t, q, ql);
    ck_assert_ptr_nonnull(r->bucket);
    uint64_t n = r->bucket->usage ? r->bucket->usage->objects : 0;
    md_query_result_free(r);
    return n;
}

static void built(int rc)
{
    ck_assert_int_eq(rc, 0);
}

/* Builds a command into c/l, then runs it (the comma orders the two). */
#define run(t, build, c, l) (built(build), tsm_run((t), (c), (l)))

static int put(struct tsm *t, const char *b, const char *k, int64_t mtime, uint64_t size,
               const struct md_tag *tags, size_t n)
{
    struct md_group_desc g;
    uint64_t cs[3];
    static uint64_t gid = 1;
    make_group(&g, gid++, 2, 1, size, cs);
    struct md_object_desc o = {0};
    o.size = size;
    o.etag = "e";
    o.mtime_ms = mtime;
    o.groups = &g;
    o.n_groups = 1;
    o.attrs.tags = tags;
    o.attrs.n_tags = n;
    uint8_t *c;
    size_t l;
    return run(t, md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, MD_COND_NONE, NULL, &c, &l), c,
               l);
}

static int expire(struct tsm *t, const char *b, const char *k, const char *uid, int64_t now)
{
    uint8_t *c;
    size_t l;
    return run(t, md_cmd_lifecycle_expire(t->client, tsm_seq(t), b, k, uid, now, DAY, &c, &l), c,
               l);
}

static int set_rules(struct tsm *t, const char *b, Md__LifecycleRule **rules, size_t n)
{
    Md__LifecycleConfig lc = MD__LIFECYCLE_CONFIG__INIT;
    lc.rules = rules;
    lc.n_rules = n;
    uint8_t *c;
    size_t l;
    return run(t, md_cmd_put_bucket_lifecycle(t->client, tsm_seq(t), b, &lc, &c, &l), c, l);
}

static int expire_version(struct tsm *t, const char *b, const char *k, const char *vid, int marker,
                          int64_t now)
{
    uint8_t *c;
    size_t l;
    return run(
        t,
        md_cmd_lifecycle_expire_version(t->client, tsm_seq(t), b, k, vid, marker, now, DAY, &c, &l),
        c, l);
}

/* The versions the scan finds due at now: their count, and the first one's
 * version id (and whether it is a lone marker) into vid/marker. */
static size_t scan_versions(struct tsm *t, int64_t now, char vid[64], int *marker)
{
    struct md_lc_item *items = NULL;
    size_t n = 0, found = 0;
    ck_assert_int_eq(md_lc_scan(t->ts.store, now, DAY, 100, &items, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (!items[i].version_id)
            continue;
        if (!found++) {
            snprintf(vid, 64, "%s", items[i].version_id);
            *marker = items[i].expired_marker;
        }
    }
    md_lc_items_free(items, n);
    return found;
}

static void check_invariants(struct tsm *t)
{
    char err[256] = "";
    ck_assert_msg(md_sm_check(t->ts.store, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_rule_arithmetic)
{
    /* N days end at the next multiple of the day after mtime + N days. */
    ck_assert_int_eq(md_lc_after_days(0, 1, DAY), DAY);
    ck_assert_int_eq(md_lc_after_days(1, 1, DAY), 2 * DAY);
    ck_assert_int_eq(md_lc_after_days(999, 2, DAY), 3 * DAY);
    ck_assert_int_eq(md_lc_after_days(1000, 2, DAY), 3 * DAY);
    /* the real day: created 2026-12-06 10:00 UTC, 1 day -> 2026-12-08 00:00 */
    int64_t t0 = 1796551200000LL; /* 2026-12-06T10:00:00Z */
    ck_assert_int_eq(md_lc_after_days(t0, 1, MD_LC_DAY_MS), 1796688000000LL);
    ck_assert_int_eq(md_lc_after_days(INT64_MAX - 5, 1, DAY), INT64_MAX);
    ck_assert_int_eq(md_lc_after_days(0, 0xffffffffu, INT64_MAX / 2), INT64_MAX);

    Md__LifecycleRule r = MD__LIFECYCLE_RULE__INIT;
    r.prefix = "logs/";
    Md__Tag want = MD__TAG__INIT, have1 = MD__TAG__INIT, have2 = MD__TAG__INIT;
    want.key = "class";
    want.value = "tmp";
    have1.key = "class";
    have1.value = "tmp";
    have2.key = "class";
    have2.value = "keep";
    Md__Tag *wants[] = {&want}, *h1[] = {&have1}, *h2[] = {&have2};
    ck_assert(md_lc_rule_matches(&r, "logs/a", 5, NULL, 0));
    ck_assert(!md_lc_rule_matches(&r, "log/a", 5, NULL, 0));
    r.tags = wants;
    r.n_tags = 1;
    ck_assert(md_lc_rule_matches(&r, "logs/a", 5, h1, 1));
    ck_assert(!md_lc_rule_matches(&r, "logs/a", 5, h2, 1));
    ck_assert(!md_lc_rule_matches(&r, "logs/a", 5, NULL, 0));
    r.n_tags = 0;
    r.size_greater_than = 5;
    ck_assert(!md_lc_rule_matches(&r, "logs/a", 5, NULL, 0));
    ck_assert(md_lc_rule_matches(&r, "logs/a", 6, NULL, 0));
    r.size_less_than = 10;
    ck_assert(!md_lc_rule_matches(&r, "logs/a", 10, NULL, 0));
}
END_TEST

START_TEST(test_expire_objects)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_create_bucket(t.client, tsm_seq(&t), "bkt", "", "", 0, 1, &c, &l), c, l), 0);
    const struct md_tag tmp[] = {{"class", "tmp"}}, keep[] = {{"class", "keep"}};
    ck_assert_int_eq(put(&t, "bkt", "logs/a", 100, 10, NULL, 0), 0);
    ck_assert_int_eq(put(&t, "bkt", "logs/b", 2500, 10, NULL, 0), 0);
    ck_assert_int_eq(put(&t, "bkt", "data/c", 100, 10, NULL, 0), 0);
    ck_assert_int_eq(put(&t, "bkt", "t/tmp", 100, 10, tmp, 1), 0);
    ck_assert_int_eq(put(&t, "bkt", "t/keep", 100, 10, keep, 1), 0);

    /* No configuration: nothing is due. */
    ck_assert_int_eq(expire(&t, "bkt", "logs/a", NULL, 1000000), CAIRN_E_PRECOND);

    Md__LifecycleRule logs = MD__LIFECYCLE_RULE__INIT, tagged = MD__LIFECYCLE_RULE__INIT,
                      off = MD__LIFECYCLE_RULE__INIT, versions = MD__LIFECYCLE_RULE__INIT;
    logs.id = "logs";
    logs.enabled = 1;
    logs.prefix = "logs/";
    logs.expiration_days = 2;
    Md__Tag want = MD__TAG__INIT;
    want.key = "class";
    want.value = "tmp";
    Md__Tag *wants[] = {&want};
    tagged.id = "tmp";
    tagged.enabled = 1;
    tagged.tags = wants;
    tagged.n_tags = 1;
    tagged.expiration_days = 1;
    off.id = "off";
    off.enabled = 0; /* disabled: never counts */
    off.expiration_days = 1;
    versions.id = "versions";
    versions.enabled = 1;
    versions.noncurrent_days = 1;
    versions.expired_object_delete_marker = 1;
    Md__LifecycleRule *rules[] = {&logs, &tagged, &off, &versions};
    ck_assert_int_eq(set_rules(&t, "bkt", rules, 4), 0);

    /* logs/a (mtime 100): due from 3 * DAY; logs/b (2500): from 5 * DAY. */
    ck_assert_int_eq(expire(&t, "bkt", "logs/a", NULL, 3 * DAY - 1), CAIRN_E_PRECOND);
    ck_assert(exists(&t, "bkt", "logs/a"));
    struct md_lc_item *items = NULL;
    size_t n = 0;
    ck_assert_int_eq(md_lc_scan(t.ts.store, 3 * DAY, DAY, 100, &items, &n), 0);
    /* due at 3 days: logs/a (Days 2) and t/tmp (Days 1 by tag); not
     * data/c (off is disabled), t/keep (another tag) or logs/b */
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(items[0].key, "logs/a");
    ck_assert_str_eq(items[1].key, "t/tmp");
    ck_assert_ptr_null(items[0].upload_id);
    md_lc_items_free(items, n);
    uint64_t before = bucket_objects(&t, "bkt");
    ck_assert_int_eq(expire(&t, "bkt", "logs/a", NULL, 3 * DAY), 0);
    ck_assert(!exists(&t, "bkt", "logs/a"));
    ck_assert_uint_eq(bucket_objects(&t, "bkt"), before - 1);
    ck_assert_int_eq(expire(&t, "bkt", "logs/a", NULL, 3 * DAY), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(expire(&t, "bkt", "logs/b", NULL, 3 * DAY), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "data/c", NULL, 100 * DAY), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "t/keep", NULL, 100 * DAY), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "t/tmp", NULL, 2 * DAY), 0);

    /* Rewritten since: its new mtime counts. */
    ck_assert_int_eq(put(&t, "bkt", "logs/b", 9 * DAY, 10, NULL, 0), 0);
    ck_assert_int_eq(expire(&t, "bkt", "logs/b", NULL, 6 * DAY), CAIRN_E_PRECOND);
    ck_assert(exists(&t, "bkt", "logs/b"));

    /* A date expires everything it filters from that instant on. */
    Md__LifecycleRule date = MD__LIFECYCLE_RULE__INIT;
    date.id = "date";
    date.enabled = 1;
    date.prefix = "data/";
    date.expiration_date_ms = 50 * DAY;
    Md__LifecycleRule *rules2[] = {&date};
    ck_assert_int_eq(set_rules(&t, "bkt", rules2, 1), 0);
    ck_assert_int_eq(expire(&t, "bkt", "data/c", NULL, 50 * DAY - 1), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "logs/b", NULL, 60 * DAY), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "data/c", NULL, 50 * DAY), 0);

    /* Deleted configuration: nothing due any more. */
    ck_assert_int_eq(set_rules(&t, "bkt", NULL, 0), 0);
    ck_assert_int_eq(expire(&t, "bkt", "logs/b", NULL, 1000 * DAY), CAIRN_E_PRECOND);
    items = NULL;
    n = 0;
    ck_assert_int_eq(md_lc_scan(t.ts.store, 1000 * DAY, DAY, 100, &items, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(items);
    ck_assert_int_eq(expire(&t, "nob", "k", NULL, 1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(expire(&t, "bkt", "logs/b", NULL, 0) == 0, 0);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* NoncurrentVersionExpiration counts from when a version became noncurrent
 * (its successor's mtime), keeps NewerNoncurrentVersions, and
 * ExpiredObjectDeleteMarker removes a delete marker once it is its key's
 * only version; the state machine decides each again. */
START_TEST(test_expire_versions)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_create_bucket(t.client, tsm_seq(&t), "vbkt", "", "", 0, 1, &c, &l), c, l),
        0);
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "vbkt",
                                         MD__VERSIONING_STATUS__VERSIONING_ENABLED, &c, &l),
            c, l),
        0);
    ck_assert_int_eq(put(&t, "vbkt", "k", 100, 10, NULL, 0), 0);  /* v1 */
    ck_assert_int_eq(put(&t, "vbkt", "k", 2500, 10, NULL, 0), 0); /* v2: v1 noncurrent at 2500 */
    Md__LifecycleRule nc = MD__LIFECYCLE_RULE__INIT;
    nc.id = "nc";
    nc.enabled = 1;
    nc.noncurrent_days = 1;
    nc.expired_object_delete_marker = 1;
    Md__LifecycleRule *rules[] = {&nc};
    ck_assert_int_eq(set_rules(&t, "vbkt", rules, 1), 0);

    /* v1 is due at after_days(2500, 1) = 4000, not at 3999. */
    char vid[64] = "", early[64];
    int marker = -1;
    ck_assert_uint_eq(scan_versions(&t, 3999, vid, &marker), 0);
    ck_assert_uint_eq(scan_versions(&t, 4000, vid, &marker), 1);
    ck_assert_int_eq(marker, 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "k", vid, 0, 3999), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire_version(&t, "vbkt", "k", vid, 1, 4000), CAIRN_E_NOTFOUND);
    /* NewerNoncurrentVersions 1 keeps the newest noncurrent one. */
    nc.newer_noncurrent_versions = 1;
    ck_assert_int_eq(set_rules(&t, "vbkt", rules, 1), 0);
    ck_assert_uint_eq(scan_versions(&t, 9000, early, &marker), 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "k", vid, 0, 9000), CAIRN_E_PRECOND);
    nc.newer_noncurrent_versions = 0;
    ck_assert_int_eq(set_rules(&t, "vbkt", rules, 1), 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "k", vid, 0, 4000), 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "k", vid, 0, 4000), CAIRN_E_NOTFOUND);
    ck_assert(exists(&t, "vbkt", "k")); /* v2, the current version, stays */
    ck_assert_uint_eq(scan_versions(&t, 100000, vid, &marker), 0);
    check_invariants(&t);

    /* A key deleted at 5000 (a marker), its only other version expired at
     * 6000: the marker is then alone and goes too. */
    ck_assert_int_eq(put(&t, "vbkt", "m", 100, 10, NULL, 0), 0);
    ck_assert_int_eq(run(&t,
                         md_cmd_delete_version(t.client, tsm_seq(&t), "vbkt", "m", NULL,
                                               MD_COND_NONE, NULL, 0, 5000, NULL, &c, &l),
                         c, l),
                     0);
    ck_assert(!exists(&t, "vbkt", "m"));
    ck_assert_uint_eq(scan_versions(&t, 5999, vid, &marker), 0);
    ck_assert_uint_eq(scan_versions(&t, 6000, vid, &marker), 1);
    ck_assert_int_eq(marker, 0);
    snprintf(early, sizeof(early), "%s", vid);
    /* The marker is not alone yet. */
    ck_assert_int_eq(expire_version(&t, "vbkt", "m", "null", 1, 6000), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(expire_version(&t, "vbkt", "m", early, 0, 6000), 0);
    ck_assert_uint_eq(scan_versions(&t, 6000, vid, &marker), 1);
    ck_assert_int_eq(marker, 1);
    /* Without ExpiredObjectDeleteMarker in the rules, it stays. */
    nc.expired_object_delete_marker = 0;
    ck_assert_int_eq(set_rules(&t, "vbkt", rules, 1), 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "m", vid, 1, 6000), CAIRN_E_PRECOND);
    ck_assert_uint_eq(scan_versions(&t, 6000, early, &marker), 0);
    nc.expired_object_delete_marker = 1;
    ck_assert_int_eq(set_rules(&t, "vbkt", rules, 1), 0);
    ck_assert_int_eq(expire_version(&t, "vbkt", "m", vid, 1, 6000), 0);
    ck_assert_uint_eq(scan_versions(&t, 100000, vid, &marker), 0);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_abort_uploads)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_create_bucket(t.client, tsm_seq(&t), "bkt", "", "", 0, 1, &c, &l), c, l), 0);
    ck_assert_int_eq(
        run(&t,
            md_cmd_create_upload(t.client, tsm_seq(&t), "bkt", "tmp/a", "U1", "", NULL, 10, &c, &l),
            c, l),
        0);
    ck_assert_int_eq(run(&t,
                         md_cmd_create_upload(t.client, tsm_seq(&t), "bkt", "keep/b", "U2", "",
                                              NULL, 10, &c, &l),
                         c, l),
                     0);
    struct md_group_desc g;
    uint64_t cs[3];
    make_group(&g, 77, 2, 1, 1000, cs);
    ck_assert_int_eq(
        run(&t,
            md_cmd_put_part(t.client, tsm_seq(&t), "bkt", "tmp/a", "U1", 1,
                            "11111111111111111111111111111111", 1000, 20, &g, 1, &c, &l),
            c, l),
        0);
    Md__LifecycleRule abort_rule = MD__LIFECYCLE_RULE__INIT;
    abort_rule.id = "abort";
    abort_rule.enabled = 1;
    abort_rule.prefix = "tmp/";
    abort_rule.abort_upload_days = 1; /* initiated at 10 ms: due at 2 days (rounded up) */
    Md__LifecycleRule *rules[] = {&abort_rule};
    ck_assert_int_eq(set_rules(&t, "bkt", rules, 1), 0);
    struct md_lc_item *items = NULL;
    size_t n = 0;
    ck_assert_int_eq(md_lc_scan(t.ts.store, 2 * DAY - 1, DAY, 100, &items, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(md_lc_scan(t.ts.store, 2 * DAY, DAY, 100, &items, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(items[0].key, "tmp/a");
    ck_assert_str_eq(items[0].upload_id, "U1");
    md_lc_items_free(items, n);
    ck_assert_int_eq(expire(&t, "bkt", "tmp/a", "U1", 2 * DAY - 1), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "keep/b", "U2", 100 * DAY), CAIRN_E_PRECOND);
    ck_assert_int_eq(expire(&t, "bkt", "tmp/a", "U1", 2 * DAY), 0);
    ck_assert_int_eq(expire(&t, "bkt", "tmp/a", "U1", 2 * DAY), CAIRN_E_NOTFOUND);
    /* the part's group went to garbage: the invariants hold */
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_config_replaced_whole)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_create_bucket(t.client, tsm_seq(&t), "bkt", "", "", 0, 1, &c, &l), c, l), 0);
    Md__LifecycleRule a = MD__LIFECYCLE_RULE__INIT, b = MD__LIFECYCLE_RULE__INIT;
    a.id = "a";
    a.enabled = 1;
    a.expiration_days = 3;
    b.id = "b";
    b.abort_upload_days = 2;
    Md__LifecycleRule *two[] = {&a, &b}, *one[] = {&b};
    ck_assert_int_eq(set_rules(&t, "bkt", two, 2), 0);
    ck_assert_int_eq(set_rules(&t, "bkt", one, 1), 0);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object_and_bucket("bkt", "x", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_ptr_nonnull(r->bucket->lifecycle);
    ck_assert_uint_eq(r->bucket->lifecycle->n_rules, 1);
    ck_assert_str_eq(r->bucket->lifecycle->rules[0]->id, "b");
    ck_assert_uint_eq(r->bucket->lifecycle->rules[0]->abort_upload_days, 2);
    md_query_result_free(r);
    ck_assert_int_eq(set_rules(&t, "nob", one, 1), CAIRN_E_NOTFOUND);
    Md__LifecycleRule bad = MD__LIFECYCLE_RULE__INIT;
    bad.id = "x";
    bad.expiration_days = 1u << 30;
    Md__LifecycleRule *badr[] = {&bad};
    ck_assert_int_eq(set_rules(&t, "bkt", badr, 1), CAIRN_E_INVAL);
    ck_assert_int_eq(set_rules(&t, "bkt", NULL, 0), 0);
    ck_assert_int_eq(md_q_get_object_and_bucket("bkt", "x", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_ptr_null(r->bucket->lifecycle);
    md_query_result_free(r);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

/* The worker against a state machine: commits go through a mutex to the
 * tsm (a stand-in for Paxos), leadership is a flag. */
struct fake {
    struct tsm *t;
    pthread_mutex_t mu;
    atomic_int leader;
    int64_t now;
};

static int fake_is_leader(void *ctx)
{
    return atomic_load(&((struct fake *)ctx)->leader);
}

static int fake_commit(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len)
{
    (void)client_id;
    (void)seq;
    struct fake *f = ctx;
    uint8_t *copy = malloc(len);
    if (!copy)
        return CAIRN_E_NOMEM;
    memcpy(copy, cmd, len);
    pthread_mutex_lock(&f->mu);
    int rc = tsm_run(f->t, copy, len);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int64_t fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(test_worker_leads)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        run(&t, md_cmd_create_bucket(t.client, tsm_seq(&t), "bkt", "", "", 0, 1, &c, &l), c, l), 0);
    Md__LifecycleRule r = MD__LIFECYCLE_RULE__INIT;
    r.id = "all";
    r.enabled = 1;
    r.prefix = "old/";
    r.expiration_days = 1;
    Md__LifecycleRule *rules[] = {&r};
    ck_assert_int_eq(set_rules(&t, "bkt", rules, 1), 0);
    ck_assert_int_eq(put(&t, "bkt", "old/1", 0, 10, NULL, 0), 0);
    ck_assert_int_eq(put(&t, "bkt", "old/2", 0, 10, NULL, 0), 0);
    ck_assert_int_eq(put(&t, "bkt", "new/3", 0, 10, NULL, 0), 0);

    struct fake f = {.t = &t, .now = 10 * DAY};
    pthread_mutex_init(&f.mu, NULL);
    atomic_store(&f.leader, 0);
    struct md_lifecycle_opts o;
    md_lifecycle_opts_default(&o);
    o.store = t.ts.store;
    o.day_ms = DAY;
    o.scan_ms = 20;
    o.is_leader = fake_is_leader;
    o.commit = fake_commit;
    o.now_ms = fake_now;
    o.ctx = &f;
    struct md_lifecycle *w;
    ck_assert_int_eq(md_lifecycle_start(&o, &w), 0);
    /* Not leader: nothing happens. */
    sleep_ms(200);
    uint64_t expired, aborted;
    md_lifecycle_stats(w, &expired, &aborted);
    ck_assert_uint_eq(expired, 0);
    /* Leader: both due objects go, the other stays. */
    atomic_store(&f.leader, 1);
    for (int i = 0; i < 250; i++) {
        md_lifecycle_stats(w, &expired, &aborted);
        if (expired == 2)
            break;
        sleep_ms(20);
    }
    ck_assert_uint_eq(expired, 2);
    /* Leadership lost: a new due object is left for the next leader. */
    atomic_store(&f.leader, 0);
    sleep_ms(100);
    pthread_mutex_lock(&f.mu);
    ck_assert_int_eq(put(&t, "bkt", "old/4", 0, 10, NULL, 0), 0);
    pthread_mutex_unlock(&f.mu);
    sleep_ms(200);
    md_lifecycle_stop(w);
    ck_assert(exists(&t, "bkt", "old/4"));
    ck_assert(exists(&t, "bkt", "new/3"));
    ck_assert(!exists(&t, "bkt", "old/1") && !exists(&t, "bkt", "old/2"));

    /* A new worker (the next leader) starts from the store and finishes it. */
    atomic_store(&f.leader, 1);
    ck_assert_int_eq(md_lifecycle_start(&o, &w), 0);
    for (int i = 0; i < 250; i++) {
        pthread_mutex_lock(&f.mu);
        int still = exists(&t, "bkt", "old/4");
        pthread_mutex_unlock(&f.mu);
        if (!still)
            break;
        sleep_ms(20);
    }
    md_lifecycle_stop(w);
    ck_assert(!exists(&t, "bkt", "old/4"));
    ck_assert(exists(&t, "bkt", "new/3"));
    pthread_mutex_destroy(&f.mu);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_lifecycle");
    TCase *tc = tcase_create("both backends");
    tcase_add_test(tc, test_rule_arithmetic);
    tcase_add_loop_test(tc, test_expire_versions, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_expire_objects, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_abort_uploads, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_config_replaced_whole, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_worker_leads, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
