/* md_store: the same suite against the memory and LevelDB backends. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_place.h"

#include <stdio.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void put1(struct md_store *s, const char *k, const char *v)
{
    struct md_batch *b = md_batch_new();
    ck_assert_int_eq(md_batch_put(b, k, strlen(k), v, strlen(v)), 0);
    ck_assert_int_eq(md_store_write(s, b), 0);
    md_batch_free(b);
}

static void expect(struct md_store *s, const char *k, const char *v)
{
    void *val;
    size_t vl;
    int rc = md_store_get(s, k, strlen(k), &val, &vl);
    if (!v) {
        ck_assert_int_eq(rc, CAIRN_E_NOTFOUND);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(vl, strlen(v));
    ck_assert(vl == 0 || memcmp(val, v, vl) == 0);
    free(val);
}

START_TEST(test_get_put_delete_batch)
{
    struct tstore t;
    tstore_open(&t, _i);
    expect(t.store, "a", NULL);
    struct md_batch *b = md_batch_new();
    ck_assert_int_eq(md_batch_put(b, "a", 1, "1", 1), 0);
    ck_assert_int_eq(md_batch_put(b, "b", 1, "2", 1), 0);
    ck_assert_int_eq(md_batch_put(b, "x", 1, "old", 3), 0);
    ck_assert_int_eq(md_batch_put(b, "x", 1, "new", 3), 0); /* later op wins */
    ck_assert_int_eq(md_batch_put(b, "y", 1, "gone", 4), 0);
    ck_assert_int_eq(md_batch_del(b, "y", 1), 0);
    ck_assert_int_eq(md_batch_put(b, "e", 1, "", 0), 0); /* empty value */
    ck_assert_uint_eq(md_batch_count(b), 7);
    ck_assert_int_eq(md_store_write(t.store, b), 0);
    expect(t.store, "a", "1");
    expect(t.store, "b", "2");
    expect(t.store, "x", "new");
    expect(t.store, "y", NULL);
    expect(t.store, "e", "");
    md_batch_clear(b);
    ck_assert_int_eq(md_batch_del(b, "a", 1), 0);
    ck_assert_int_eq(md_batch_del(b, "nothere", 7), 0);
    ck_assert_int_eq(md_store_write(t.store, b), 0);
    expect(t.store, "a", NULL);
    expect(t.store, "b", "2");
    /* truncate is a savepoint */
    md_batch_clear(b);
    ck_assert_int_eq(md_batch_put(b, "p", 1, "1", 1), 0);
    ck_assert_int_eq(md_batch_put(b, "q", 1, "2", 1), 0);
    md_batch_truncate(b, 1);
    ck_assert_uint_eq(md_batch_count(b), 1);
    ck_assert_int_eq(md_store_write(t.store, b), 0);
    expect(t.store, "p", "1");
    expect(t.store, "q", NULL);
    md_batch_free(b);
    ck_assert_int_eq(md_store_sync(t.store), 0);
    tstore_close(&t);
}
END_TEST

START_TEST(test_order_and_seek)
{
    struct tstore t;
    tstore_open(&t, _i);
    /* bytewise order, shorter first, binary bytes */
    const char *keys[] = {"a", "a\x00", "a\x01", "ab", "b", "\xff", "\xff\xff"};
    const size_t lens[] = {1, 2, 2, 2, 1, 1, 2};
    struct md_batch *b = md_batch_new();
    for (int i = 6; i >= 0; i--)
        ck_assert_int_eq(md_batch_put(b, keys[i], lens[i], &i, sizeof(i)), 0);
    ck_assert_int_eq(md_store_write(t.store, b), 0);
    md_batch_free(b);
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t.store, &it), 0);
    int n = 0;
    for (md_iter_seek_first(it); md_iter_valid(it); md_iter_next(it), n++) {
        size_t kl, vl;
        const void *k = md_iter_key(it, &kl);
        const void *v = md_iter_value(it, &vl);
        ck_assert_uint_eq(kl, lens[n]);
        ck_assert(memcmp(k, keys[n], kl) == 0);
        ck_assert_uint_eq(vl, sizeof(int));
        int got;
        memcpy(&got, v, sizeof(got));
        ck_assert_int_eq(got, n);
    }
    ck_assert_int_eq(n, 7);
    md_iter_seek(it, "a\x00\x00", 3); /* between "a\0" and "a\1" */
    ck_assert(md_iter_valid(it));
    size_t kl;
    const char *k = md_iter_key(it, &kl);
    ck_assert(kl == 2 && memcmp(k, "a\x01", 2) == 0);
    md_iter_seek(it, "\xff\xff\x00", 3);
    ck_assert(!md_iter_valid(it));
    ck_assert_int_eq(md_iter_status(it), 0);
    md_iter_free(it);
    tstore_close(&t);
}
END_TEST

START_TEST(test_iterator_is_a_snapshot)
{
    struct tstore t;
    tstore_open(&t, _i);
    put1(t.store, "k1", "v1");
    put1(t.store, "k2", "v2");
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t.store, &it), 0);
    struct md_snapshot *snap;
    ck_assert_int_eq(md_store_snapshot_new(t.store, &snap), 0);
    put1(t.store, "k1", "changed");
    put1(t.store, "k0", "new");
    struct md_batch *b = md_batch_new();
    md_batch_del(b, "k2", 2);
    ck_assert_int_eq(md_store_write(t.store, b), 0);
    md_batch_free(b);
    md_iter_seek_first(it);
    size_t kl, vl;
    ck_assert(md_iter_valid(it));
    ck_assert(memcmp(md_iter_key(it, &kl), "k1", 2) == 0);
    const void *v1 = md_iter_value(it, &vl);
    ck_assert(vl == 2 && memcmp(v1, "v1", 2) == 0);
    md_iter_next(it);
    ck_assert(md_iter_valid(it));
    ck_assert(memcmp(md_iter_key(it, &kl), "k2", 2) == 0);
    md_iter_next(it);
    ck_assert(!md_iter_valid(it));
    md_iter_free(it);
    expect(t.store, "k1", "changed");
    expect(t.store, "k2", NULL);
    /* an explicit snapshot: point reads and iterators made after the writes */
    void *v;
    size_t vl2;
    ck_assert_int_eq(md_snapshot_get(snap, "k1", 2, &v, &vl2), 0);
    ck_assert(vl2 == 2 && memcmp(v, "v1", 2) == 0);
    free(v);
    ck_assert_int_eq(md_snapshot_get(snap, "k0", 2, &v, &vl2), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_snapshot_iter_new(snap, &it), 0);
    int n = 0;
    for (md_iter_seek_first(it); md_iter_valid(it); md_iter_next(it))
        n++;
    ck_assert_int_eq(n, 2);
    md_iter_free(it);
    md_snapshot_free(snap);
    tstore_close(&t);
}
END_TEST

/* A sorted reference model. */
struct model {
    char keys[512][8];
    char vals[512][8];
    size_t klen[512];
    int n;
};

static int model_find(const struct model *m, const char *k, size_t kl)
{
    for (int i = 0; i < m->n; i++)
        if (m->klen[i] == kl && memcmp(m->keys[i], k, kl) == 0)
            return i;
    return -1;
}

static int model_cmp(const struct model *m, int i, int j)
{
    size_t a = m->klen[i], b = m->klen[j], n = a < b ? a : b;
    int c = memcmp(m->keys[i], m->keys[j], n);
    return c ? c : (a < b ? -1 : a > b);
}

START_TEST(test_random_against_model)
{
    struct tstore t;
    tstore_open(&t, _i);
    static struct model m;
    memset(&m, 0, sizeof(m));
    uint64_t rng = 12345;
    struct md_batch *b = md_batch_new();
    for (int round = 0; round < 600; round++) {
        md_batch_clear(b);
        int ops = 1 + (int)(md_place_rand(&rng) % 8);
        for (int o = 0; o < ops; o++) {
            char k[8];
            size_t kl = md_place_rand(&rng) % 5;
            for (size_t i = 0; i < kl; i++)
                k[i] = "ab\x00\xff"[md_place_rand(&rng) % 4];
            int idx = model_find(&m, k, kl);
            if (md_place_rand(&rng) % 3 == 0) {
                md_batch_del(b, k, kl);
                if (idx >= 0) {
                    m.n--;
                    memmove(&m.keys[idx], &m.keys[m.n], sizeof(m.keys[0]));
                    memmove(&m.vals[idx], &m.vals[m.n], sizeof(m.vals[0]));
                    m.klen[idx] = m.klen[m.n];
                }
            } else {
                char v[8];
                snprintf(v, sizeof(v), "%d", round);
                md_batch_put(b, k, kl, v, strlen(v));
                if (idx < 0) {
                    idx = m.n++;
                    memcpy(m.keys[idx], k, kl);
                    m.klen[idx] = kl;
                }
                strcpy(m.vals[idx], v);
            }
        }
        ck_assert_int_eq(md_store_write(t.store, b), 0);
        if (round % 50 != 49)
            continue;
        /* sort the model, then compare a full scan and some seeks */
        for (int i = 1; i < m.n; i++)
            for (int j = i; j > 0 && model_cmp(&m, j - 1, j) > 0; j--) {
                char tk[8], tv[8];
                size_t tl = m.klen[j];
                memcpy(tk, m.keys[j], 8), memcpy(tv, m.vals[j], 8);
                memcpy(m.keys[j], m.keys[j - 1], 8), memcpy(m.vals[j], m.vals[j - 1], 8);
                m.klen[j] = m.klen[j - 1];
                memcpy(m.keys[j - 1], tk, 8), memcpy(m.vals[j - 1], tv, 8);
                m.klen[j - 1] = tl;
            }
        struct md_iter *it;
        ck_assert_int_eq(md_store_iter_new(t.store, &it), 0);
        int n = 0;
        for (md_iter_seek_first(it); md_iter_valid(it); md_iter_next(it), n++) {
            size_t kl, vl;
            const void *k = md_iter_key(it, &kl);
            const void *v = md_iter_value(it, &vl);
            ck_assert_int_lt(n, m.n);
            ck_assert_uint_eq(kl, m.klen[n]);
            ck_assert(kl == 0 || memcmp(k, m.keys[n], kl) == 0);
            ck_assert_uint_eq(vl, strlen(m.vals[n]));
            ck_assert(memcmp(v, m.vals[n], vl) == 0);
        }
        ck_assert_int_eq(n, m.n);
        for (int s = 0; s < m.n; s++) {
            md_iter_seek(it, m.keys[s], m.klen[s]);
            ck_assert(md_iter_valid(it));
            size_t kl;
            const void *k = md_iter_key(it, &kl);
            ck_assert(kl == m.klen[s] && (kl == 0 || memcmp(k, m.keys[s], kl) == 0));
        }
        md_iter_free(it);
    }
    md_batch_free(b);
    tstore_close(&t);
}
END_TEST

START_TEST(test_persistence_and_clone)
{
    struct tstore t;
    tstore_open(&t, _i);
    put1(t.store, "durable", "yes");
    if (_i == BACKEND_LEVELDB) {
        ck_assert_int_eq(md_store_is_persistent(t.store), 1);
        tstore_reopen(&t);
        expect(t.store, "durable", "yes");
        struct md_store *c;
        ck_assert_int_eq(md_store_clone_mem(t.store, &c), CAIRN_E_UNSUPPORTED);
    } else {
        ck_assert_int_eq(md_store_is_persistent(t.store), 0);
        struct md_store *c;
        ck_assert_int_eq(md_store_clone_mem(t.store, &c), 0);
        put1(t.store, "durable", "changed");
        put1(c, "other", "1");
        expect(c, "durable", "yes");
        expect(c, "other", "1");
        expect(t.store, "durable", "changed");
        expect(t.store, "other", NULL);
        md_store_free(c);
    }
    uint64_t seeks, nexts;
    md_store_iter_stats(t.store, &seeks, &nexts);
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t.store, &it), 0);
    md_iter_seek(it, "a", 1);
    md_iter_next(it);
    md_iter_free(it);
    uint64_t s2, n2;
    md_store_iter_stats(t.store, &s2, &n2);
    ck_assert_uint_eq(s2, seeks + 1);
    ck_assert_uint_eq(n2, nexts + 1);
    tstore_close(&t);
}
END_TEST

/* The memory backend's crash model: a crash keeps what was synced plus any
 * prefix of the writes after it; a dead disk fails every later write. */
START_TEST(test_mem_crash_model)
{
    struct md_store *s, *c;
    ck_assert_int_eq(md_store_open_mem(&s), 0);
    put1(s, "before", "1");
    ck_assert_int_eq(md_store_mem_crash(s, 0, &c), CAIRN_E_INVAL); /* not tracking */
    ck_assert_int_eq(md_store_mem_track_durability(s), 0);
    ck_assert_uint_eq(md_store_mem_unsynced(s), 0);
    put1(s, "a", "1");
    put1(s, "b", "2");
    put1(s, "a", "3");
    ck_assert_uint_eq(md_store_mem_unsynced(s), 3);
    ck_assert_int_eq(md_store_mem_crash(s, 4, &c), CAIRN_E_INVAL);
    const char *a_after[] = {NULL, "1", "1", "3"};
    const char *b_after[] = {NULL, NULL, "2", "2"};
    for (size_t keep = 0; keep <= 3; keep++) {
        ck_assert_int_eq(md_store_mem_crash(s, keep, &c), 0);
        expect(c, "before", "1"); /* there when tracking began: durable */
        expect(c, "a", a_after[keep]);
        expect(c, "b", b_after[keep]);
        /* the survivor is independent, and tracks durability itself */
        ck_assert_uint_eq(md_store_mem_unsynced(c), 0);
        put1(c, "b", "x");
        expect(s, "b", "2");
        struct md_store *c2;
        ck_assert_int_eq(md_store_mem_crash(c, 0, &c2), 0);
        expect(c2, "b", b_after[keep]);
        md_store_free(c2);
        md_store_free(c);
    }
    ck_assert_int_eq(md_store_sync(s), 0);
    ck_assert_uint_eq(md_store_mem_unsynced(s), 0);
    put1(s, "c", "4");
    ck_assert_int_eq(md_store_mem_crash(s, 0, &c), 0);
    expect(c, "a", "3");
    expect(c, "c", NULL);
    md_store_free(c);

    /* two more operations succeed, then the disk is dead */
    md_store_mem_fail_after(s, 2);
    put1(s, "d", "5");
    ck_assert_int_eq(md_store_sync(s), 0);
    struct md_batch *b = md_batch_new();
    ck_assert_int_eq(md_batch_put(b, "e", 1, "6", 1), 0);
    ck_assert_int_eq(md_store_write(s, b), CAIRN_E_IO);
    ck_assert_int_eq(md_store_sync(s), CAIRN_E_IO);
    ck_assert_int_eq(md_store_write(s, b), CAIRN_E_IO);
    expect(s, "e", NULL);
    expect(s, "d", "5");
    md_store_mem_fail_after(s, -1);
    ck_assert_int_eq(md_store_write(s, b), 0);
    md_batch_free(b);
    md_store_free(s);

    struct tstore t;
    tstore_open(&t, BACKEND_LEVELDB);
    ck_assert_int_eq(md_store_mem_track_durability(t.store), CAIRN_E_UNSUPPORTED);
    tstore_close(&t);
}
END_TEST

START_TEST(test_leveldb_open_errors)
{
    char dir[256];
    make_temp_dir(dir, sizeof(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/none", dir);
    struct md_store_options opt;
    md_store_options_default(&opt);
    opt.create_if_missing = 0;
    struct md_store *s = NULL;
    ck_assert_int_eq(md_store_open_leveldb(path, &opt, &s), CAIRN_E_IO);
    opt.create_if_missing = 1;
    ck_assert_int_eq(md_store_open_leveldb(path, &opt, &s), 0);
    struct md_store *s2 = NULL; /* locked by the first */
    ck_assert_int_eq(md_store_open_leveldb(path, &opt, &s2), CAIRN_E_IO);
    put1(s, "synced", "1"); /* the default options sync every write */
    expect(s, "synced", "1");
    md_store_free(s);
    rm_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_store");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_get_put_delete_batch, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_order_and_seek, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_iterator_is_a_snapshot, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_random_against_model, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_persistence_and_clone, 0, BACKEND_COUNT);
    tcase_add_test(tc, test_leveldb_open_errors);
    tcase_add_test(tc, test_mem_crash_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
