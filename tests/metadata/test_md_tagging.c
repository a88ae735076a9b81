/* Tagging and CORS in the state machine (issue #13): tags written with an
 * object, carried through a multipart upload, replaced and deleted by
 * PutObjectTagging, refused past S3's limits; bucket tags and the CORS
 * configuration replaced whole and deleted. Both backends; md_sm_check after
 * the changes. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_cmd_ver.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Md__QueryResult *get_object(struct tsm *t, const char *b, const char *k)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object_and_bucket(b, k, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static int bucket(struct tsm *t, const char *b)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), b, "", "", 0, 1000, &c, &l), 0);
    return tsm_run(t, c, l);
}

static int put(struct tsm *t, const char *b, const char *k, const struct md_tag *tags, size_t n)
{
    struct md_object_desc o = {0};
    o.size = 1;
    o.etag = "e";
    o.has_inline = 1;
    o.inline_data = "x";
    o.inline_len = 1;
    o.attrs.tags = tags;
    o.attrs.n_tags = n;
    o.attrs.content_type = "text/plain";
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, MD_COND_NONE, NULL, &c, &l),
                     0);
    return tsm_run(t, c, l);
}

static int tag_object(struct tsm *t, const char *b, const char *k, const struct md_tag *tags,
                      size_t n)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object_tagging(t->client, tsm_seq(t), b, k, tags, n, &c, &l), 0);
    return tsm_run(t, c, l);
}

static int tag_bucket(struct tsm *t, const char *b, const struct md_tag *tags, size_t n)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_bucket_tagging(t->client, tsm_seq(t), b, tags, n, &c, &l), 0);
    return tsm_run(t, c, l);
}

static void check_invariants(struct tsm *t)
{
    char err[256] = "";
    ck_assert_msg(md_sm_check(t->ts.store, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_object_tags)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(bucket(&t, "bk1"), 0);
    const struct md_tag two[] = {{"project", "cairn"}, {"empty", ""}};
    ck_assert_int_eq(put(&t, "bk1", "k", two, 2), 0);
    Md__QueryResult *r = get_object(&t, "bk1", "k");
    ck_assert_uint_eq(r->object->attrs->n_tags, 2);
    ck_assert_str_eq(r->object->attrs->tags[0]->key, "project");
    ck_assert_str_eq(r->object->attrs->tags[0]->value, "cairn");
    ck_assert_str_eq(r->object->attrs->tags[1]->value, "");
    md_query_result_free(r);

    /* Replaced whole, keeping the other attributes. */
    const struct md_tag one[] = {{"k2", "v2"}};
    ck_assert_int_eq(tag_object(&t, "bk1", "k", one, 1), 0);
    r = get_object(&t, "bk1", "k");
    ck_assert_uint_eq(r->object->attrs->n_tags, 1);
    ck_assert_str_eq(r->object->attrs->tags[0]->key, "k2");
    ck_assert_str_eq(r->object->attrs->content_type, "text/plain");
    ck_assert_str_eq(r->object->etag, "e");
    md_query_result_free(r);

    /* Deleted: no tags left. */
    ck_assert_int_eq(tag_object(&t, "bk1", "k", NULL, 0), 0);
    r = get_object(&t, "bk1", "k");
    ck_assert_uint_eq(r->object->attrs->n_tags, 0);
    md_query_result_free(r);

    /* Refusals change nothing. */
    ck_assert_int_eq(tag_object(&t, "bk1", "k", one, 1), 0);
    ck_assert_int_eq(tag_object(&t, "bk1", "missing", one, 1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(tag_object(&t, "nob", "k", one, 1), CAIRN_E_NOTFOUND);
    const struct md_tag dup[] = {{"a", "1"}, {"a", "2"}};
    ck_assert_int_eq(tag_object(&t, "bk1", "k", dup, 2), CAIRN_E_INVAL);
    const struct md_tag nokey[] = {{"", "1"}};
    ck_assert_int_eq(tag_object(&t, "bk1", "k", nokey, 1), CAIRN_E_INVAL);
    struct md_tag many[11];
    char names[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        many[i] = (struct md_tag){names[i], "v"};
    }
    ck_assert_int_eq(tag_object(&t, "bk1", "k", many, 11), CAIRN_E_INVAL);
    ck_assert_int_eq(tag_object(&t, "bk1", "k", many, 10), 0);
    r = get_object(&t, "bk1", "k");
    ck_assert_uint_eq(r->object->attrs->n_tags, 10);
    md_query_result_free(r);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

static Md__QueryResult *get_version(struct tsm *t, const char *b, const char *k, const char *vid)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_version(b, k, vid, 0, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static int tag_version(struct tsm *t, const char *b, const char *k, const char *vid,
                       const struct md_tag *tags, size_t n)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_put_object_tagging_version(t->client, tsm_seq(t), b, k, vid, tags, n, &c, &l), 0);
    return tsm_run(t, c, l);
}

/* The version id of bucket/key's current version. */
static void current_vid(struct tsm *t, const char *b, const char *k, char vid[MD_VERSION_ID_CAP])
{
    Md__QueryResult *r = get_object(t, b, k);
    ck_assert_ptr_nonnull(r->object);
    md_version_id_of(r->object, vid);
    md_query_result_free(r);
}

/* Tagging one version of a versioned key leaves the others' tags alone;
 * a delete marker has none to set; unknown and malformed ids are refused. */
START_TEST(test_version_tags)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(bucket(&t, "bk1"), 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_bucket_versioning(t.client, tsm_seq(&t), "bk1",
                                                  MD__VERSIONING_STATUS__VERSIONING_ENABLED, &c,
                                                  &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    const struct md_tag first[] = {{"v", "1"}};
    const struct md_tag second[] = {{"v", "2"}};
    char v1[MD_VERSION_ID_CAP], v2[MD_VERSION_ID_CAP];
    ck_assert_int_eq(put(&t, "bk1", "k", first, 1), 0);
    current_vid(&t, "bk1", "k", v1);
    ck_assert_int_eq(put(&t, "bk1", "k", second, 1), 0);
    current_vid(&t, "bk1", "k", v2);
    ck_assert_str_ne(v1, v2);

    const struct md_tag old[] = {{"state", "old"}, {"keep", "yes"}};
    ck_assert_int_eq(tag_version(&t, "bk1", "k", v1, old, 2), 0);
    Md__QueryResult *r = get_version(&t, "bk1", "k", v1);
    ck_assert_uint_eq(r->object->attrs->n_tags, 2);
    ck_assert_str_eq(r->object->attrs->tags[0]->value, "old");
    md_query_result_free(r);
    r = get_object(&t, "bk1", "k"); /* the current version is untouched */
    ck_assert_uint_eq(r->object->attrs->n_tags, 1);
    ck_assert_str_eq(r->object->attrs->tags[0]->value, "2");
    md_query_result_free(r);
    /* the current version by its id, then deleted by id */
    ck_assert_int_eq(tag_version(&t, "bk1", "k", v2, NULL, 0), 0);
    r = get_version(&t, "bk1", "k", v2);
    ck_assert_uint_eq(r->object->attrs->n_tags, 0);
    md_query_result_free(r);
    r = get_version(&t, "bk1", "k", v1);
    ck_assert_uint_eq(r->object->attrs->n_tags, 2);
    md_query_result_free(r);

    /* refusals */
    char unknown[MD_VERSION_ID_CAP];
    md_version_id_format(999, 0, unknown);
    ck_assert_int_eq(tag_version(&t, "bk1", "k", unknown, old, 1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(tag_version(&t, "bk1", "k", "not-an-id", old, 1), CAIRN_E_INVAL);
    ck_assert_int_eq(tag_version(&t, "bk1", "nokey", v1, old, 1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(
        md_cmd_delete_object(t.client, tsm_seq(&t), "bk1", "k", MD_COND_NONE, NULL, &c, &l), 0);
    Md__Result *res = tsm_apply(&t, c, l);
    ck_assert_int_eq(res->status, 0);
    ck_assert_int_eq(res->delete_marker, 1);
    char marker[MD_VERSION_ID_CAP];
    snprintf(marker, sizeof(marker), "%s", res->version_id);
    md__result__free_unpacked(res, NULL);
    ck_assert_int_eq(tag_version(&t, "bk1", "k", marker, old, 1), CAIRN_E_INVAL);
    ck_assert_int_eq(tag_object(&t, "bk1", "k", old, 1), CAIRN_E_NOTFOUND); /* current: marker */
    r = get_version(&t, "bk1", "k", v1); /* refusals changed nothing */
    ck_assert_uint_eq(r->object->attrs->n_tags, 2);
    md_query_result_free(r);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_multipart_keeps_tags)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(bucket(&t, "bk1"), 0);
    const struct md_tag tags[] = {{"from", "upload"}};
    struct md_attrs_desc attrs = {.content_type = "a/b", .tags = tags, .n_tags = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "bk1", "mp", "U1", "", &attrs, 5, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 1, 4, 2, 1000, cs);
    const char *etag = "11111111111111111111111111111111";
    ck_assert_int_eq(
        md_cmd_put_part(t.client, tsm_seq(&t), "bk1", "mp", "U1", 1, etag, 1000, 6, &g, 1, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    struct md_part_ref p = {1, etag};
    ck_assert_int_eq(md_cmd_complete_upload(t.client, tsm_seq(&t), "bk1", "mp", "U1", &p, 1,
                                            MD_COND_NONE, NULL, 7, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    Md__QueryResult *r = get_object(&t, "bk1", "mp");
    ck_assert_uint_eq(r->object->attrs->n_tags, 1);
    ck_assert_str_eq(r->object->attrs->tags[0]->key, "from");
    ck_assert_str_eq(r->object->attrs->tags[0]->value, "upload");
    md_query_result_free(r);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

START_TEST(test_bucket_tags_and_cors)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(bucket(&t, "bk1"), 0);
    const struct md_tag tags[] = {{"team", "storage"}, {"cost", "42"}};
    ck_assert_int_eq(tag_bucket(&t, "bk1", tags, 2), 0);
    ck_assert_int_eq(tag_bucket(&t, "nob", tags, 2), CAIRN_E_NOTFOUND);
    struct md_tag many[51];
    char names[51][8];
    for (int i = 0; i < 51; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        many[i] = (struct md_tag){names[i], "v"};
    }
    ck_assert_int_eq(tag_bucket(&t, "bk1", many, 51), CAIRN_E_INVAL);

    char *origins[] = {"https://*.example.com", "http://127.0.0.1:8000"};
    char *methods[] = {"GET", "POST"};
    char *headers[] = {"*"};
    char *expose[] = {"ETag"};
    Md__CorsRule rule = MD__CORS_RULE__INIT;
    rule.id = "r1";
    rule.n_allowed_origins = 2;
    rule.allowed_origins = origins;
    rule.n_allowed_methods = 2;
    rule.allowed_methods = methods;
    rule.n_allowed_headers = 1;
    rule.allowed_headers = headers;
    rule.n_expose_headers = 1;
    rule.expose_headers = expose;
    rule.max_age_seconds = 3000;
    rule.has_max_age = 1;
    Md__CorsRule *rules[] = {&rule};
    Md__CorsConfig cfg = MD__CORS_CONFIG__INIT;
    cfg.n_rules = 1;
    cfg.rules = rules;
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_bucket_cors(t.client, tsm_seq(&t), "bk1", &cfg, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_put_bucket_cors(t.client, tsm_seq(&t), "nob", &cfg, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    /* A rule without origins is refused. */
    Md__CorsRule bad = MD__CORS_RULE__INIT;
    bad.n_allowed_methods = 1;
    bad.allowed_methods = methods;
    Md__CorsRule *bad_rules[] = {&bad};
    Md__CorsConfig bad_cfg = MD__CORS_CONFIG__INIT;
    bad_cfg.n_rules = 1;
    bad_cfg.rules = bad_rules;
    ck_assert_int_eq(md_cmd_put_bucket_cors(t.client, tsm_seq(&t), "bk1", &bad_cfg, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);

    /* Both come with every read of the bucket. */
    Md__QueryResult *r = get_object(&t, "bk1", "none");
    ck_assert_uint_eq(r->bucket->n_tags, 2);
    ck_assert_str_eq(r->bucket->tags[1]->key, "cost");
    ck_assert_ptr_nonnull(r->bucket->cors);
    ck_assert_uint_eq(r->bucket->cors->n_rules, 1);
    const Md__CorsRule *got = r->bucket->cors->rules[0];
    ck_assert_str_eq(got->id, "r1");
    ck_assert_uint_eq(got->n_allowed_origins, 2);
    ck_assert_str_eq(got->allowed_origins[0], "https://*.example.com");
    ck_assert_str_eq(got->allowed_methods[1], "POST");
    ck_assert_str_eq(got->expose_headers[0], "ETag");
    ck_assert_uint_eq(got->max_age_seconds, 3000);
    ck_assert(got->has_max_age);
    md_query_result_free(r);

    /* Deleted. */
    ck_assert_int_eq(tag_bucket(&t, "bk1", NULL, 0), 0);
    ck_assert_int_eq(md_cmd_put_bucket_cors(t.client, tsm_seq(&t), "bk1", NULL, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    r = get_object(&t, "bk1", "none");
    ck_assert_uint_eq(r->bucket->n_tags, 0);
    ck_assert_ptr_null(r->bucket->cors);
    md_query_result_free(r);
    check_invariants(&t);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_tagging");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_object_tags, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_multipart_keeps_tags, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_version_tags, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_bucket_tags_and_cors, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
