/* ListObjects semantics against a brute-force reference on random key sets,
 * pagination, the one-seek skip of common prefixes (counted), and
 * ListMultipartUploads. Both backends. */
#include "md_test_util.h"
#include "md_place.h"
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
        for (int qn = 0; qn < 120; qn++) {
            const char *delims[] = {"", "/", "-", "a/", "\xc3\xa9"};
            const char *delim = delims[md_place_rand(&rng) % 5];
            char prefix[32] = "", marker[32] = "";
            uint64_t pick = md_place_rand(&rng) % 4;
            if (pick) { /* a prefix of a real key */
                const char *k = keys[md_place_rand(&rng) % n];
                size_t pl = md_place_rand(&rng) % (strlen(k) + 1);
                memcpy(prefix, k, pl);
                prefix[pl] = 0;
            }
            pick = md_place_rand(&rng) % 4;
            if (pick == 1) {
                strcpy(marker, keys[md_place_rand(&rng) % n]);
            } else if (pick == 2) {
                char *s = random_string(&rng, 5);
                snprintf(marker, sizeof(marker), "%s", s);
                free(s);
            } else if (pick == 3) { /* a marker inside or at a common prefix */
                snprintf(marker, sizeof(marker), "%s%s", prefix, delim);
            }
            uint32_t max = (uint32_t)(md_place_rand(&rng) % 12);
            free(check_listing(&t, keys, n, prefix, delim, marker, max));
            /* and a full pagination with a small page */
            if (qn % 10 == 0) {
                char *m = strdup(marker);
                struct ref all;
                reference(keys, n, prefix, delim, marker, n + 1, &all);
                size_t seen = 0;
                for (;;) {
                    char *next = check_listing(&t, keys, n, prefix, delim, m, 3);
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
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
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
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(1, 0, "bkt", "", "", 0, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
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
    tcase_add_loop_test(tc, test_list_uploads, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
