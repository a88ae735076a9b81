/* ListObjects semantics against a brute-force reference on random key sets,
 * pagination, the one-seek skip of common prefixes (counted), and
 * ListMultipartUploads. Both backends. */
#include "md_test_util.h"
#include "md_check.h"
#include "md_place.h"
#include "meta.pb-c.h"
#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Puts n inline objects, 200 commands per slot. */
static void put_keys(struct tsm *t, const char *bucket, char **keys, size_t n)
{
    size_t per = 200;
    uint8_t **cmds = calloc(per, sizeof(*cmds));
    uint8_t **res = calloc(per, sizeof(*res));
    size_t *lens = calloc(per, sizeof(*lens)), *rl = calloc(per, sizeof(*rl));
    for (size_t done = 0; done < n;) {
        size_t m = n - done < per ? n - done : per;
        for (size_t i = 0; i < m; i++) {
            struct md_object_desc o = {
                .size = 1, .etag = "e", .has_inline = 1, .inline_data = "x", .inline_len = 1};
            ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), bucket, keys[done + i], &o,
                                               MD_COND_NONE, NULL, &cmds[i], &lens[i]),
                             0);
        }
        ck_assert_int_eq(
            md_sm_apply_slot(t->sm, ++t->index, m, (const void *const *)cmds, lens, NULL, res, rl),
            0);
        for (size_t i = 0; i < m; i++) {
            ck_assert_int_eq(md_result_status(res[i], rl[i], NULL), 0);
            free(res[i]);
            free(cmds[i]);
        }
        done += m;
    }
    free(cmds);
    free(res);
    free(lens);
    free(rl);
}

/* A state machine of the backend with the bucket "bkt". */
static void open_with_bucket(struct tsm *t, int backend)
{
    tsm_open(t, backend);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The reference: entries (keys and common prefixes, flagged) in order. */
struct ref {
    char **e;
    int *is_prefix;
    size_t n;
    int truncated;
};

static void reference(char **sorted, size_t n, const char *prefix, const char *delim,
                      const char *marker, size_t max, struct ref *out)
{
    out->e = calloc(n + 1, sizeof(char *));
    out->is_prefix = calloc(n + 1, sizeof(int));
    out->n = 0;
    out->truncated = 0;
    size_t pl = strlen(prefix), dl = strlen(delim);
    char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *k = sorted[i];
        if (strncmp(k, prefix, pl) != 0)
            continue;
        char *e;
        int isp = 0;
        const char *d = dl ? strstr(k + pl, delim) : NULL;
        if (d) {
            e = strndup(k, (size_t)(d - k) + dl);
            isp = 1;
        } else {
            e = strdup(k);
        }
        if ((last && strcmp(last, e) == 0) || strcmp(e, marker) <= 0) {
            free(e);
            continue;
        }
        if (out->n == max) {
            out->truncated = 1;
            free(e);
            break;
        }
        out->is_prefix[out->n] = isp;
        out->e[out->n++] = e;
        last = e;
    }
}

static void ref_free(struct ref *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->e[i]);
    free(r->e);
    free(r->is_prefix);
}

/* Compares one listing with the reference; returns the next marker. */
static char *check_listing(struct tsm *t, char **sorted, size_t n, const char *prefix,
                           const char *delim, const char *marker, uint32_t max)
{
    struct ref want;
    reference(sorted, n, prefix, delim, marker, max, &want);
    Md__QueryResult *r;
    ck_assert_int_eq(md_query_list_objects(t->ts.store, "bkt", prefix, delim, marker, max, &r), 0);
    Md__ListObjectsR *l = r->list_objects;
    size_t ie = 0, ip = 0;
    for (size_t i = 0; i < want.n; i++) {
        if (want.is_prefix[i]) {
            ck_assert_uint_lt(ip, l->n_common_prefixes);
            ck_assert_str_eq(l->common_prefixes[ip++], want.e[i]);
        } else {
            ck_assert_uint_lt(ie, l->n_entries);
            ck_assert_str_eq(l->entries[ie++]->key, want.e[i]);
        }
    }
    ck_assert_uint_eq(ie, l->n_entries);
    ck_assert_uint_eq(ip, l->n_common_prefixes);
    ck_assert_int_eq(l->truncated, want.truncated);
    char *next = NULL;
    if (l->truncated && want.n == 0) {
        ck_assert_str_eq(l->next_marker, ""); /* max_keys 0: nothing to continue from */
    } else if (l->truncated) {
        ck_assert_str_eq(l->next_marker, want.e[want.n - 1]);
        next = strdup(l->next_marker);
    }
    md_query_result_free(r);
    ref_free(&want);
    return next;
}

static const char *const ALPHA[] = {"a", "b", "/", "-", ".", "\xc3\xa9", "z", "\x7f"};

static char *random_string(uint64_t *rng, size_t maxlen)
{
    size_t len = 1 + md_place_rand(rng) % maxlen;
    char *s = calloc(1, len * 2 + 1);
    for (size_t i = 0; i < len; i++)
        strcat(s, ALPHA[md_place_rand(rng) % 8]);
    return s;
}

/* queries random listings of the sorted keys[n], each checked against the
 * reference, every tenth also paginated to the end with pages of 3. */
static void random_queries(struct tsm *t, char **keys, size_t n, uint64_t *rngp, int queries)
{
    uint64_t rng = *rngp;
    for (int qn = 0; qn < queries; qn++) {
        const char *delims[] = {"", "/", "-", "a/", "\xc3\xa9"};
        const char *delim = delims[md_place_rand(&rng) % 5];
        char prefix[32] = "", marker[32] = "";
        uint64_t pick = md_place_rand(&rng) % 4;
        if (pick && n) { /* a prefix of a real key */
            const char *k = keys[md_place_rand(&rng) % n];
            size_t pl = md_place_rand(&rng) % (strlen(k) + 1);
            memcpy(prefix, k, pl);
            prefix[pl] = 0;
        }
        pick = md_place_rand(&rng) % 4;
        if (pick == 1 && n) {
            strcpy(marker, keys[md_place_rand(&rng) % n]);
        } else if (pick == 2) {
            char *s = random_string(&rng, 5);
            snprintf(marker, sizeof(marker), "%s", s);
            free(s);
        } else if (pick == 3) { /* a marker inside or at a common prefix */
            snprintf(marker, sizeof(marker), "%s%s", prefix, delim);
        }
        uint32_t max = (uint32_t)(md_place_rand(&rng) % 12);
        free(check_listing(t, keys, n, prefix, delim, marker, max));
        /* and a full pagination with a small page */
        if (qn % 10 == 0) {
            char *m = strdup(marker);
            struct ref all;
            reference(keys, n, prefix, delim, marker, n + 1, &all);
            size_t seen = 0;
            for (;;) {
                char *next = check_listing(t, keys, n, prefix, delim, m, 3);
                struct ref page;
                reference(keys, n, prefix, delim, m, 3, &page);
                seen += page.n;
                ref_free(&page);
                free(m);
                if (!next)
                    break;
                m = next;
            }
            ck_assert_uint_eq(seen, all.n);
            ref_free(&all);
        }
    }
    *rngp = rng;
}

/* Deletes about half of keys[*n], several deletes per slot (so one slot may
 * empty a common prefix or take some of its keys), keeping the rest sorted. */
static void delete_some(struct tsm *t, char **keys, size_t *n, uint64_t *rng)
{
    size_t kept = 0, m = 0;
    uint8_t *cmds[8], *res[8];
    size_t lens[8], rl[8];
    size_t per = 1 + md_place_rand(rng) % 8;
    for (size_t i = 0; i <= *n; i++) {
        if (m && (m == per || i == *n)) {
            ck_assert_int_eq(md_sm_apply_slot(t->sm, ++t->index, m, (const void *const *)cmds, lens,
                                              NULL, res, rl),
                             0);
            for (size_t j = 0; j < m; j++) {
                ck_assert_int_eq(md_result_status(res[j], rl[j], NULL), 0);
                free(res[j]);
                free(cmds[j]);
            }
            m = 0;
            per = 1 + md_place_rand(rng) % 8;
        }
        if (i == *n)
            break;
        if (md_place_rand(rng) % 2) {
            keys[kept++] = keys[i];
            continue;
        }
        ck_assert_int_eq(md_cmd_delete_object(t->client, tsm_seq(t), "bkt", keys[i], MD_COND_NONE,
                                              NULL, &cmds[m], &lens[m]),
                         0);
        m++;
        free(keys[i]);
    }
    *n = kept;
}

START_TEST(test_random_against_reference)
{
    uint64_t rng = 777 + (uint64_t)_i;
    for (int round = 0; round < 6; round++) {
        struct tsm t;
        tsm_open(&t, _i);
        uint8_t *c;
        size_t l;
        ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt", "", "", 0, 0, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        /* a neighbour bucket whose keys must never leak into listings */
        ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt0", "", "", 0, 0, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        size_t n = 0, cap = 150;
        char **keys = calloc(cap, sizeof(char *));
        while (n < cap) {
            char *k = random_string(&rng, 7);
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strcmp(keys[i], k) == 0;
            if (dup)
                free(k);
            else
                keys[n++] = k;
        }
        put_keys(&t, "bkt", keys, n);
        char *other[] = {"a", "a/b", "zz"};
        put_keys(&t, "bkt0", other, 3);
        qsort(keys, n, sizeof(char *), cmp_str);
        random_queries(&t, keys, n, &rng, 120);
        /* deletes take names and whole common prefixes away (the top-level
         * names index follows: md_sm_check, and the same listings again) */
        delete_some(&t, keys, &n, &rng);
        tsm_check(&t);
        random_queries(&t, keys, n, &rng, 60);
        delete_some(&t, keys, &n, &rng);
        delete_some(&t, keys, &n, &rng);
        tsm_check(&t);
        random_queries(&t, keys, n, &rng, 40);
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        tsm_close(&t);
    }
}
END_TEST

START_TEST(test_common_prefix_skipped_with_one_seek)
{
    struct tsm t;
    open_with_bucket(&t, _i);
    size_t n = 3000;
    char **keys = calloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        keys[i] = malloc(32);
        snprintf(keys[i], 32, "dir/%05zu/file", i);
    }
    keys[n] = strdup("a");
    keys[n + 1] = strdup("z");
    put_keys(&t, "bkt", keys, n + 2);

    uint64_t s0, n0, s1, n1;
    md_store_iter_stats(t.ts.store, &s0, &n0);
    Md__QueryResult *r;
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "", "/", "", 1000, &r), 0);
    md_store_iter_stats(t.ts.store, &s1, &n1);
    ck_assert_uint_eq(r->list_objects->n_entries, 2);
    ck_assert_str_eq(r->list_objects->entries[0]->key, "a");
    ck_assert_str_eq(r->list_objects->entries[1]->key, "z");
    ck_assert_uint_eq(r->list_objects->n_common_prefixes, 1);
    ck_assert_str_eq(r->list_objects->common_prefixes[0], "dir/");
    md_query_result_free(r);
    /* 3,002 keys; the listing took a handful of iterator steps, not thousands */
    ck_assert_uint_le((s1 - s0) + (n1 - n0), 8);

    /* one level down: 3,000 common prefixes, one seek each, a page at a time */
    md_store_iter_stats(t.ts.store, &s0, &n0);
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "dir/", "/", "dir/00099/", 50, &r),
                     0);
    md_store_iter_stats(t.ts.store, &s1, &n1);
    ck_assert_uint_eq(r->list_objects->n_common_prefixes, 50);
    ck_assert_str_eq(r->list_objects->common_prefixes[0], "dir/00100/");
    ck_assert_int_eq(r->list_objects->truncated, 1);
    ck_assert_str_eq(r->list_objects->next_marker, "dir/00149/");
    md_query_result_free(r);
    ck_assert_uint_le((s1 - s0) + (n1 - n0), 55);

    /* a marker inside a common prefix skips the rest of it */
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "", "/", "dir/00005/file", 10, &r),
                     0);
    ck_assert_uint_eq(r->list_objects->n_common_prefixes, 0);
    ck_assert_uint_eq(r->list_objects->n_entries, 1);
    ck_assert_str_eq(r->list_objects->entries[0]->key, "z");
    md_query_result_free(r);
    /* the listing summary carries size and etag but no data */
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "", "", "", 1, &r), 0);
    ck_assert_uint_eq(r->list_objects->entries[0]->record->size, 1);
    ck_assert_str_eq(r->list_objects->entries[0]->record->etag, "e");
    ck_assert_int_eq(r->list_objects->entries[0]->record->has_inline, 0);
    md_query_result_free(r);
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "nobkt", "", "", "", 1, &r),
                     CAIRN_E_NOTFOUND);
    char longmarker[1100];
    memset(longmarker, 'd', sizeof(longmarker) - 1);
    longmarker[sizeof(longmarker) - 1] = 0;
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "", "", longmarker, 1, &r),
                     CAIRN_E_INVAL);
    for (size_t i = 0; i < n + 2; i++)
        free(keys[i]);
    free(keys);
    tsm_close(&t);
}
END_TEST

/* Lists "" with delimiter "/" and checks it against keys[n] (sorted); returns
 * the iterator seeks and steps the listing took. */
static void top_listing(struct tsm *t, char **sorted, size_t n, uint64_t *seeks, uint64_t *steps)
{
    uint64_t s0, n0, s1, n1;
    md_store_iter_stats(t->ts.store, &s0, &n0);
    free(check_listing(t, sorted, n, "", "/", "", 1000));
    md_store_iter_stats(t->ts.store, &s1, &n1);
    *seeks = s1 - s0;
    *steps = n1 - n0;
}

START_TEST(test_top_level_listing_from_index)
{
    struct tsm t;
    open_with_bucket(&t, _i);
    /* 300 common prefixes of 4 keys each (one two levels deep), and three
     * names between and around them */
    size_t n = 0;
    char **keys = calloc(1203, sizeof(char *));
    for (unsigned d = 0; d < 300; d++)
        for (unsigned f = 0; f < 4; f++) {
            keys[n] = malloc(32);
            snprintf(keys[n++], 32, f == 3 ? "d%03u/sub/f" : "d%03u/f%u", d, f);
        }
    keys[n++] = strdup("a");
    keys[n++] = strdup("d150");
    keys[n++] = strdup("zz");
    put_keys(&t, "bkt", keys, n);
    qsort(keys, n, sizeof(char *), cmp_str);
    uint64_t seeks, steps;
    top_listing(&t, keys, n, &seeks, &steps);
    /* 303 entries from the index: one seek into it, one into the objects
     * per run of names after a common prefix ("d150", "zz") and the first */
    ck_assert_uint_le(seeks, 4);
    ck_assert_uint_le(steps, 310);

    /* Emptying a common prefix takes it out; a key left two levels down
     * keeps it. One slot deletes all four of d000/, another three of d001/. */
    uint8_t *cmds[4], *res[4];
    size_t lens[4], rl[4];
    for (int round = 0; round < 2; round++) {
        size_t m = round ? 3 : 4;
        for (size_t j = 0; j < m; j++) {
            char k[32];
            snprintf(k, sizeof(k), j == 3 ? "d%03d/sub/f" : "d%03d/f%zu", round, j);
            ck_assert_int_eq(md_cmd_delete_object(t.client, tsm_seq(&t), "bkt", k, MD_COND_NONE,
                                                  NULL, &cmds[j], &lens[j]),
                             0);
        }
        ck_assert_int_eq(
            md_sm_apply_slot(t.sm, ++t.index, m, (const void *const *)cmds, lens, NULL, res, rl),
            0);
        for (size_t j = 0; j < m; j++) {
            ck_assert_int_eq(md_result_status(res[j], rl[j], NULL), 0);
            free(res[j]);
            free(cmds[j]);
        }
    }
    tsm_check(&t);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(keys[i], "d000/", 5) == 0 || (strncmp(keys[i], "d001/f", 6) == 0)) {
            free(keys[i]);
            continue;
        }
        keys[kept++] = keys[i];
    }
    n = kept;
    top_listing(&t, keys, n, &seeks, &steps);
    Md__QueryResult *r;
    ck_assert_int_eq(md_query_list_objects(t.ts.store, "bkt", "", "/", "", 2, &r), 0);
    ck_assert_uint_eq(r->list_objects->n_entries, 1);
    ck_assert_str_eq(r->list_objects->entries[0]->key, "a");
    ck_assert_uint_eq(r->list_objects->n_common_prefixes, 1);
    ck_assert_str_eq(r->list_objects->common_prefixes[0], "d001/");
    md_query_result_free(r);

    /* A store written before the index (format 1: no "SD" keys, and a stale
     * one left by a build cut short) gets it built when it is opened. */
    struct md_batch *b = md_batch_new();
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t.ts.store, &it), 0);
    const unsigned char sd[2] = {'S', 'D'};
    for (md_iter_seek(it, sd, 2); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < 2 || memcmp(k, sd, 2) != 0)
            break;
        ck_assert_int_eq(md_batch_del(b, k, kl), 0);
    }
    md_iter_free(it);
    const char ghost[] = "SDbkt\0ghost/";
    ck_assert_int_eq(md_batch_put(b, ghost, sizeof(ghost) - 1, "", 0), 0);
    const unsigned char si[2] = {'S', 'I'};
    void *v;
    size_t vl;
    ck_assert_int_eq(md_store_get(t.ts.store, si, 2, &v, &vl), 0);
    Md__StoreInfo *info = md__store_info__unpack(NULL, vl, v);
    free(v);
    ck_assert_ptr_nonnull(info);
    info->format = 1;
    uint8_t buf[256];
    size_t il = md__store_info__pack(info, buf);
    md__store_info__free_unpacked(info, NULL);
    ck_assert_int_eq(md_batch_put(b, si, 2, buf, il), 0);
    ck_assert_int_eq(md_store_write(t.ts.store, b), 0);
    md_batch_free(b);
    char why[256];
    ck_assert_int_ne(md_sm_check(t.ts.store, why, sizeof(why)), 0);
    md_sm_free(t.sm);
    tstore_reopen(&t.ts);
    ck_assert_int_eq(md_sm_open(t.ts.store, NULL, &t.sm), 0);
    ck_assert_uint_eq(md_sm_applied_index(t.sm), t.index);
    tsm_check(&t); /* format 2, every object named, no ghost */
    ck_assert_int_eq(md_store_get(t.ts.store, ghost, sizeof(ghost) - 1, &v, &vl), CAIRN_E_NOTFOUND);
    top_listing(&t, keys, n, &seeks, &steps);
    ck_assert_uint_le(seeks, 4);
    /* The index is written only where it changes: a new key under an existing
     * prefix writes one op less than a new key under a new prefix, and a
     * rewritten name no more than a rewritten key under a prefix. A blind
     * rewrite per slot would pile up versions of a busy prefix's entry in
     * LevelDB's memtable for every listing to step over. */
    char *k1[] = {"d005/new"}, *k2[] = {"e/new"}, *k3[] = {"d005/f1"}, *k4[] = {"a"};
    uint64_t w[5];
    char **ks[4] = {k1, k2, k3, k4};
    w[0] = md_store_write_ops(t.ts.store);
    for (int i = 0; i < 4; i++) {
        put_keys(&t, "bkt", ks[i], 1);
        w[i + 1] = md_store_write_ops(t.ts.store);
    }
    ck_assert_uint_eq(w[2] - w[1], w[1] - w[0] + 1); /* new prefix: one index entry */
    ck_assert_uint_eq(w[4] - w[3], w[3] - w[2]);     /* rewrites: none */
    tsm_check(&t);
    /* and the index keeps up with writes after the build */
    char *more[] = {"d000/back", "b"};
    put_keys(&t, "bkt", more, 2);
    tsm_check(&t);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    tsm_close(&t);
}
END_TEST

static void create_upload(struct tsm *t, const char *key, const char *uid)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_upload(1, 0, "bkt", key, uid, "", NULL, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
}

static Md__QueryResult *list_uploads(struct tsm *t, const char *prefix, const char *delim,
                                     const char *km, const char *um, uint32_t max)
{
    uint8_t *q, *out;
    size_t ql, ol;
    ck_assert_int_eq(md_q_list_uploads("bkt", prefix, delim, km, um, max, &q, &ql), 0);
    ck_assert_int_eq(md_query(t->ts.store, q, ql, &out, &ol), 0);
    free(q);
    Md__QueryResult *r = md_query_result_decode(out, ol);
    free(out);
    return r;
}

START_TEST(test_list_uploads)
{
    struct tsm t;
    open_with_bucket(&t, _i);
    create_upload(&t, "a/1", "u1");
    create_upload(&t, "a/1", "u2");
    create_upload(&t, "a/2", "u1");
    create_upload(&t, "b", "u9");
    create_upload(&t, "b", "u3");
    create_upload(&t, "b0", "u1");

    Md__QueryResult *r = list_uploads(&t, "", "/", "", "", 100);
    Md__ListUploadsR *u = r->list_uploads;
    ck_assert_uint_eq(u->n_common_prefixes, 1);
    ck_assert_str_eq(u->common_prefixes[0], "a/");
    ck_assert_uint_eq(u->n_uploads, 3);
    ck_assert_str_eq(u->uploads[0]->key, "b");
    ck_assert_str_eq(u->uploads[0]->upload_id, "u3");
    ck_assert_str_eq(u->uploads[1]->upload_id, "u9");
    ck_assert_str_eq(u->uploads[2]->key, "b0");
    md_query_result_free(r);

    /* pagination by (key, upload id) */
    r = list_uploads(&t, "", "", "", "", 2);
    ck_assert_int_eq(r->list_uploads->truncated, 1);
    ck_assert_str_eq(r->list_uploads->next_key_marker, "a/1");
    ck_assert_str_eq(r->list_uploads->next_upload_id_marker, "u2");
    md_query_result_free(r);
    r = list_uploads(&t, "", "", "a/1", "u2", 2);
    ck_assert_uint_eq(r->list_uploads->n_uploads, 2);
    ck_assert_str_eq(r->list_uploads->uploads[0]->key, "a/2");
    ck_assert_str_eq(r->list_uploads->uploads[1]->key, "b");
    md_query_result_free(r);
    /* a key marker alone skips every upload of that key */
    r = list_uploads(&t, "", "", "b", "", 10);
    ck_assert_uint_eq(r->list_uploads->n_uploads, 1);
    ck_assert_str_eq(r->list_uploads->uploads[0]->key, "b0");
    md_query_result_free(r);
    r = list_uploads(&t, "a/", "", "", "", 10);
    ck_assert_uint_eq(r->list_uploads->n_uploads, 3);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_list");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_random_against_reference, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_common_prefix_skipped_with_one_seek, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_top_level_listing_from_index, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_list_uploads, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
