/* md_sm: every command, conditions, multipart, dedup, slots, recovery.
 * Each test runs against both store backends. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"
#include "md_cmd_load.h"
#include "md_plog.h"
#include "cn_util.h"

#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ull * 1024ull)

/* ------------------------------------------------------------ helpers -- */

static int create_bucket(struct tsm *t, const char *b)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), b, "alice", "", 0, 1000, &c, &l),
                     0);
    return tsm_run(t, c, l);
}

static int delete_bucket(struct tsm *t, const char *b, int *reason)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_delete_bucket(t->client, tsm_seq(t), b, &c, &l), 0);
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

static int put_inline(struct tsm *t, const char *b, const char *k, const char *data,
                      enum md_cond cond, const char *if_match)
{
    struct md_meta_kv meta[] = {{"color", "blue"}, {"n", "1"}};
    struct md_object_desc o = {0};
    o.size = strlen(data);
    o.etag = data; /* tests use the data as its own etag */
    o.mtime_ms = 1234;
    o.attrs.content_type = "text/plain";
    o.attrs.user_meta = meta;
    o.attrs.n_user_meta = 2;
    o.has_inline = 1;
    o.inline_data = data;
    o.inline_len = strlen(data);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, cond, if_match, &c, &l), 0);
    return tsm_run(t, c, l);
}

/* Object of n groups numbered first..first+n-1, each 1 MiB, 4+2 on cs 100..105. */
static int put_groups(struct tsm *t, const char *b, const char *k, uint64_t first, size_t n,
                      const char *etag)
{
    struct md_group_desc g[8];
    uint64_t cs[8][6];
    for (size_t i = 0; i < n; i++)
        make_group(&g[i], first + i, 4, 2, MIB, cs[i]);
    struct md_object_desc o = {0};
    o.size = n * MIB;
    o.etag = etag;
    o.groups = g;
    o.n_groups = n;
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, MD_COND_NONE, NULL, &c, &l),
                     0);
    return tsm_run(t, c, l);
}

static int del_obj(struct tsm *t, const char *b, const char *k, enum md_cond cond,
                   const char *if_match, int *existed)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_delete_object(t->client, tsm_seq(t), b, k, cond, if_match, &c, &l), 0);
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (existed)
        *existed = r->existed;
    md_result_free(r);
    return st;
}

/* Runs a packed query; the caller frees the result. */
static Md__QueryResult *get_object(struct tsm *t, const char *b, const char *k)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object(b, k, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static int object_status(struct tsm *t, const char *b, const char *k)
{
    Md__QueryResult *r = get_object(t, b, k);
    int st = r->status;
    md_query_result_free(r);
    return st;
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

/* SHA-256 of every state-machine key except the StoreInfo record: equal
 * before and after a refused command (only the applied index moves). */
static void state_without_info(struct tsm *t, uint8_t out[32])
{
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(t->ts.store, &it), 0);
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    EVP_DigestInit_ex(h, EVP_sha256(), NULL);
    for (md_iter_seek(it, "S", 1); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const char *k = md_iter_key(it, &kl);
        const void *v = md_iter_value(it, &vl);
        if (kl == 2 && memcmp(k, "SI", 2) == 0)
            continue;
        if (kl >= 2 && (k[1] == 'c' || k[1] == 'a'))
            continue; /* sessions: a refused command still records its result */
        EVP_DigestUpdate(h, &kl, sizeof(kl));
        EVP_DigestUpdate(h, k, kl);
        EVP_DigestUpdate(h, &vl, sizeof(vl));
        EVP_DigestUpdate(h, v, vl);
    }
    unsigned n;
    EVP_DigestFinal_ex(h, out, &n);
    EVP_MD_CTX_free(h);
    md_iter_free(it);
}

/* ------------------------------------------------------------ buckets -- */

START_TEST(test_buckets)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "photos"), 0);
    ck_assert_int_eq(create_bucket(&t, "docs"), 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t.client, tsm_seq(&t), "docs", "", "", 0, 1, &c, &l), 0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, CAIRN_E_EXISTS);
    ck_assert_int_eq(r->reason, MD__REASON__R_BUCKET_EXISTS);
    md_result_free(r);
    ck_assert_int_eq(create_bucket(&t, "Bad_Upper"), CAIRN_E_INVAL);
    ck_assert_int_eq(create_bucket(&t, "ab"), CAIRN_E_INVAL);

    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_buckets(&q, &ql), 0);
    Md__QueryResult *qr = tsm_query(&t, q, ql);
    ck_assert_uint_eq(qr->n_buckets, 2);
    ck_assert_str_eq(qr->buckets[0]->name, "docs");
    ck_assert_str_eq(qr->buckets[1]->name, "photos");
    ck_assert_str_eq(qr->buckets[1]->owner, "alice");
    md_query_result_free(qr);

    ck_assert_int_eq(md_q_head_bucket("docs", &q, &ql), 0);
    qr = tsm_query(&t, q, ql);
    ck_assert_int_eq(qr->status, 0);
    ck_assert_str_eq(qr->bucket->name, "docs");
    md_query_result_free(qr);

    int reason;
    ck_assert_int_eq(delete_bucket(&t, "nothere", &reason), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_BUCKET);
    ck_assert_int_eq(put_inline(&t, "docs", "a", "x", MD_COND_NONE, NULL), 0);
    ck_assert_int_eq(delete_bucket(&t, "docs", &reason), CAIRN_E_NOTEMPTY);
    ck_assert_int_eq(reason, MD__REASON__R_BUCKET_NOT_EMPTY);
    ck_assert_int_eq(del_obj(&t, "docs", "a", MD_COND_NONE, NULL, NULL), 0);
    /* an upload in progress also keeps the bucket */
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "docs", "big", "u1", "", NULL, 5, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(delete_bucket(&t, "docs", &reason), CAIRN_E_NOTEMPTY);
    ck_assert_int_eq(md_cmd_abort_upload(t.client, tsm_seq(&t), "docs", "big", "u1", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(delete_bucket(&t, "docs", NULL), 0);
    /* a bucket whose name is a prefix of another's is separate */
    ck_assert_int_eq(create_bucket(&t, "pho"), 0);
    ck_assert_int_eq(delete_bucket(&t, "pho", NULL), 0);

    ck_assert_int_eq(md_q_head_bucket("docs", &q, &ql), 0);
    qr = tsm_query(&t, q, ql);
    ck_assert_int_eq(qr->status, CAIRN_E_NOTFOUND);
    md_query_result_free(qr);
    ck_assert_int_eq(put_inline(&t, "docs", "a", "x", MD_COND_NONE, NULL), CAIRN_E_NOTFOUND);
    tsm_close(&t);
}
END_TEST

/* ------------------------------------------------------------ objects -- */

START_TEST(test_objects)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "small", "hello", MD_COND_NONE, NULL), 0);
    Md__QueryResult *r = get_object(&t, "bkt", "small");
    ck_assert_int_eq(r->status, 0);
    ck_assert(r->object->has_inline);
    ck_assert_uint_eq(r->object->size, 5);
    ck_assert(memcmp(r->object->inline_data.data, "hello", 5) == 0);
    ck_assert_str_eq(r->object->etag, "hello");
    ck_assert_str_eq(r->object->attrs->content_type, "text/plain");
    ck_assert_uint_eq(r->object->attrs->n_user_meta, 2);
    ck_assert_str_eq(r->object->attrs->user_meta[0]->name, "color");
    ck_assert_int_eq(r->object->mtime_ms, 1234);
    md_query_result_free(r);

    ck_assert_int_eq(put_groups(&t, "bkt", "big", 1, 3, "e1"), 0);
    r = get_object(&t, "bkt", "big");
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->object->n_extents, 3);
    ck_assert_uint_eq(r->object->extents[2]->offset, 2 * MIB);
    ck_assert_uint_eq(r->object->extents[2]->group->n_fragment_cs, 6);
    ck_assert_uint_eq(r->object->extents[2]->group->fragment_cs[5], 105);
    md_query_result_free(r);
    ck_assert_uint_eq(garbage_count(&t), 0);

    /* overwrite: the old groups become garbage */
    ck_assert_int_eq(put_groups(&t, "bkt", "big", 10, 2, "e2"), 0);
    ck_assert_uint_eq(garbage_count(&t), 3);
    /* the old groups are no longer findable, the new ones are */
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 1, 4, 2, MIB, cs);
    Md__QueryResult *gr;
    ck_assert_int_eq(md_query_get_group(t.ts.store, g.id, &gr), CAIRN_E_NOTFOUND);
    make_group(&g, 11, 4, 2, MIB, cs);
    ck_assert_int_eq(md_query_get_group(t.ts.store, g.id, &gr), 0);
    ck_assert_uint_eq(gr->group->group->data_length, MIB);
    md_query_result_free(gr);

    /* delete: groups to garbage; deleting again is not an error */
    int existed;
    ck_assert_int_eq(del_obj(&t, "bkt", "big", MD_COND_NONE, NULL, &existed), 0);
    ck_assert_int_eq(existed, 1);
    ck_assert_uint_eq(garbage_count(&t), 5);
    ck_assert_int_eq(del_obj(&t, "bkt", "big", MD_COND_NONE, NULL, &existed), 0);
    ck_assert_int_eq(existed, 0);
    ck_assert_int_eq(object_status(&t, "bkt", "big"), CAIRN_E_NOTFOUND);
    r = get_object(&t, "bkt", "big");
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_KEY);
    md_query_result_free(r);
    r = get_object(&t, "nobkt", "big");
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_BUCKET);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

START_TEST(test_bad_records_change_nothing)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "a", 1, 2, "e"), 0);
    uint8_t before[32], after[32];
    state_without_info(&t, before);

    /* reusing a live group id, even for another key */
    ck_assert_int_eq(put_groups(&t, "bkt", "b", 2, 1, "e"), CAIRN_E_EXISTS);
    /* the same group twice in one record */
    struct md_group_desc g[2];
    uint64_t cs[2][6];
    make_group(&g[0], 50, 4, 2, MIB, cs[0]);
    make_group(&g[1], 50, 4, 2, MIB, cs[1]);
    struct md_object_desc o = {0};
    o.size = 2 * MIB;
    o.etag = "x";
    o.groups = g;
    o.n_groups = 2;
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "c", &o, 0, NULL, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_EXISTS);
    /* sizes that do not add up */
    make_group(&g[1], 51, 4, 2, MIB, cs[1]);
    o.size = 3 * MIB;
    ck_assert_int_eq(md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "c", &o, 0, NULL, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    /* fragment count not k+m */
    o.size = 2 * MIB;
    g[1].m = 3;
    g[1].fragment_cs = (uint64_t[7]){1, 2, 3, 4, 5, 6, 0};
    g[1].k = 4;
    ck_assert_int_eq(md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "c", &o, 0, NULL, &c, &l), 0);
    {
        /* tamper: the builder derives the count from k+m, so shrink k instead */
        Md__Command *cmd = md__command__unpack(NULL, l, c);
        free(c);
        cmd->put_object->record->extents[1]->group->n_fragment_cs = 5;
        size_t n = md__command__get_packed_size(cmd);
        c = malloc(n);
        md__command__pack(cmd, c);
        l = n;
        md__command__free_unpacked(cmd, NULL);
    }
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    /* fewer than k located fragments, or one chunkserver twice */
    uint64_t few[6] = {1, 2, 3, 0, 0, 0}, twice[6] = {1, 2, 3, 4, 5, 1};
    make_group(&g[1], 51, 4, 2, MIB, cs[1]);
    for (int v = 0; v < 2; v++) {
        g[1].fragment_cs = v ? twice : few;
        ck_assert_int_eq(md_cmd_put_object(t.client, tsm_seq(&t), "bkt", "c", &o, 0, NULL, &c, &l),
                         0);
        ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    }
    /* an inline object above inline_max */
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = 0;
    ck_assert_int_eq(put_inline(&t, "bkt", "big", big, MD_COND_NONE, NULL), CAIRN_E_INVAL);
    free(big);
    /* keys: empty, too long */
    ck_assert_int_eq(put_inline(&t, "bkt", "", "x", MD_COND_NONE, NULL), CAIRN_E_INVAL);
    char longkey[1100];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    ck_assert_int_eq(put_inline(&t, "bkt", longkey, "x", MD_COND_NONE, NULL), CAIRN_E_INVAL);
    /* undecodable bytes and an empty command */
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    uint8_t *jc = malloc(sizeof(junk));
    memcpy(jc, junk, sizeof(junk));
    ck_assert_int_eq(tsm_run(&t, jc, sizeof(junk)), CAIRN_E_PROTO);
    Md__Command empty = MD__COMMAND__INIT;
    l = md__command__get_packed_size(&empty);
    c = malloc(l + 1);
    md__command__pack(&empty, c);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_UNSUPPORTED);

    state_without_info(&t, after);
    ck_assert(memcmp(before, after, 32) == 0);
    tsm_close(&t);
}
END_TEST

START_TEST(test_conditions)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    /* If-None-Match: * creates only once */
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v1", MD_COND_IF_NONE_MATCH, NULL), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v2", MD_COND_IF_NONE_MATCH, NULL),
                     CAIRN_E_PRECOND);
    /* If-Match: compare and swap */
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v2", MD_COND_IF_MATCH, "wrong"),
                     CAIRN_E_PRECOND);
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v2", MD_COND_IF_MATCH, "v1"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v3", MD_COND_IF_MATCH, "v1"), CAIRN_E_PRECOND);
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v3", MD_COND_IF_MATCH, "*"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "absent", "v", MD_COND_IF_MATCH, "*"), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(object_status(&t, "bkt", "absent"), CAIRN_E_NOTFOUND);
    Md__QueryResult *r = get_object(&t, "bkt", "lock");
    ck_assert_str_eq(r->object->etag, "v3");
    md_query_result_free(r);
    /* conditional delete */
    ck_assert_int_eq(del_obj(&t, "bkt", "lock", MD_COND_IF_MATCH, "v2", NULL), CAIRN_E_PRECOND);
    ck_assert_int_eq(object_status(&t, "bkt", "lock"), 0);
    ck_assert_int_eq(del_obj(&t, "bkt", "lock", MD_COND_IF_MATCH, "v3", NULL), 0);
    ck_assert_int_eq(object_status(&t, "bkt", "lock"), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(del_obj(&t, "bkt", "lock", MD_COND_IF_MATCH, "v3", NULL), CAIRN_E_NOTFOUND);
    /* and the lock can be taken again */
    ck_assert_int_eq(put_inline(&t, "bkt", "lock", "v4", MD_COND_IF_NONE_MATCH, NULL), 0);
    tsm_close(&t);
}
END_TEST

START_TEST(test_delete_objects_and_update_attrs)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "a", "va", MD_COND_NONE, NULL), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "b", 1, 2, "vb"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "c", "vc", MD_COND_NONE, NULL), 0);
    struct md_delete_desc d[] = {{"a", MD_COND_NONE, NULL},
                                 {"b", MD_COND_IF_MATCH, "vb"},
                                 {"c", MD_COND_IF_MATCH, "wrong"},
                                 {"nothere", MD_COND_NONE, NULL}};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_delete_objects(t.client, tsm_seq(&t), "bkt", d, 4, &c, &l), 0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->n_keys, 4);
    ck_assert_str_eq(r->keys[0]->key, "a");
    ck_assert_int_eq(r->keys[0]->status, 0);
    ck_assert_int_eq(r->keys[0]->existed, 1);
    ck_assert_int_eq(r->keys[1]->status, 0);
    ck_assert_int_eq(r->keys[2]->status, CAIRN_E_PRECOND);
    ck_assert_int_eq(r->keys[3]->status, 0);
    ck_assert_int_eq(r->keys[3]->existed, 0);
    md_result_free(r);
    ck_assert_int_eq(object_status(&t, "bkt", "a"), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(object_status(&t, "bkt", "b"), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(object_status(&t, "bkt", "c"), 0);
    ck_assert_uint_eq(garbage_count(&t), 2);
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);
    ck_assert_int_eq(md_cmd_delete_objects(t.client, tsm_seq(&t), "nobkt", d, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);

    /* attributes replaced, data and ETag kept */
    struct md_meta_kv meta[] = {{"new", "yes"}};
    struct md_attrs_desc attrs = {.content_type = "image/png", .user_meta = meta, .n_user_meta = 1};
    ck_assert_int_eq(md_cmd_update_attrs(t.client, tsm_seq(&t), "bkt", "c", &attrs, 555,
                                         MD_COND_IF_MATCH, "wrong", &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_PRECOND);
    ck_assert_int_eq(md_cmd_update_attrs(t.client, tsm_seq(&t), "bkt", "c", &attrs, 555,
                                         MD_COND_IF_MATCH, "vc", &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    Md__QueryResult *q = get_object(&t, "bkt", "c");
    ck_assert_str_eq(q->object->attrs->content_type, "image/png");
    ck_assert_uint_eq(q->object->attrs->n_user_meta, 1);
    ck_assert_str_eq(q->object->etag, "vc");
    ck_assert(memcmp(q->object->inline_data.data, "vc", 2) == 0);
    ck_assert_int_eq(q->object->mtime_ms, 555);
    md_query_result_free(q);
    ck_assert_int_eq(
        md_cmd_update_attrs(t.client, tsm_seq(&t), "bkt", "zz", &attrs, 1, 0, NULL, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    tsm_close(&t);
}
END_TEST

/* ---------------------------------------------------------- multipart -- */

static int put_part(struct tsm *t, const char *uid, uint32_t pn, uint64_t size, uint64_t gno,
                    const char *etag)
{
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, gno, 4, 2, size, cs);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_put_part(t->client, tsm_seq(t), "bkt", "mp", uid, pn, etag, size, 77, &g, 1, &c, &l),
        0);
    return tsm_run(t, c, l);
}

static Md__Result *complete(struct tsm *t, const char *uid, const struct md_part_ref *p, size_t n)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_complete_upload(t->client, tsm_seq(t), "bkt", "mp", uid, p, n,
                                            MD_COND_NONE, NULL, 999, &c, &l),
                     0);
    return tsm_apply(t, c, l);
}

#define E1 "11111111111111111111111111111111"
#define E2 "22222222222222222222222222222222"
#define E3 "33333333333333333333333333333333"
#define E4 "44444444444444444444444444444444"

/* LoadObjects (issue #16): each object as PutObject, all or nothing, bounded. */
START_TEST(test_load_objects)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "k1", "old", MD_COND_NONE, NULL), 0);
    struct md_load_object objs[3] = {
        {.key = "k0", .data = "zero", .len = 4, .etag = "e0", .mtime_ms = 5},
        {.key = "k1", .data = "one", .len = 3, .etag = "e1", .mtime_ms = 5},
        {.key = "k2", .data = "", .len = 0, .etag = "e2", .mtime_ms = 5},
    };
    struct md_owner_desc owner = {.user = "alice", .id = "aid"};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_load_objects(t.client, tsm_seq(&t), "bkt", &owner, objs, 3, &c, &l), 0);
    Md__Result *r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->count, 3);
    md_result_free(r);
    Md__QueryResult *q = get_object(&t, "bkt", "k1"); /* replaced, as PutObject does */
    ck_assert_int_eq(q->status, 0);
    ck_assert_uint_eq(q->object->inline_data.len, 3);
    ck_assert_mem_eq(q->object->inline_data.data, "one", 3);
    ck_assert_str_eq(q->object->owner, "alice");
    md_query_result_free(q);
    ck_assert_int_eq(object_status(&t, "bkt", "k2"), 0);
    ck_assert_uint_eq(garbage_count(&t), 0);
    char why[256];
    ck_assert_int_eq(md_sm_check(t.ts.store, why, sizeof(why)), 0);

    /* one bad object (an invalid key) refuses the whole command: k3 is not stored */
    struct md_load_object bad[2] = {
        {.key = "k3", .data = "x", .len = 1, .etag = "e3"},
        {.key = "", .data = "y", .len = 1, .etag = "e4"},
    };
    ck_assert_int_eq(md_cmd_load_objects(t.client, tsm_seq(&t), "bkt", NULL, bad, 2, &c, &l), 0);
    r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, CAIRN_E_INVAL);
    ck_assert_uint_eq(r->count, 1);
    md_result_free(r);
    ck_assert_int_eq(object_status(&t, "bkt", "k3"), CAIRN_E_NOTFOUND);
    /* no bucket */
    ck_assert_int_eq(md_cmd_load_objects(t.client, tsm_seq(&t), "nobkt", NULL, objs, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);

    /* the bounds: the builder refuses, and so does the state machine when a
     * command is built by hand */
    static struct md_load_object many[MD_LOAD_MAX_OBJECTS + 1];
    static char keys[MD_LOAD_MAX_OBJECTS + 1][16];
    for (size_t i = 0; i <= MD_LOAD_MAX_OBJECTS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "m%zu", i);
        many[i] = (struct md_load_object){.key = keys[i], .data = "d", .len = 1, .etag = "e"};
    }
    ck_assert_int_eq(
        md_cmd_load_objects(t.client, 1, "bkt", NULL, many, MD_LOAD_MAX_OBJECTS + 1, &c, &l),
        CAIRN_E_INVAL);
    static char big[16000];
    memset(big, 'b', sizeof(big));
    struct md_load_object fat[5];
    for (size_t i = 0; i < 5; i++)
        fat[i] = (struct md_load_object){.key = keys[i], .data = big, .len = sizeof(big)};
    ck_assert_int_eq(md_cmd_load_objects(t.client, 1, "bkt", NULL, fat, 5, &c, &l), CAIRN_E_RANGE);
    Md__ObjectRecord recs[MD_LOAD_MAX_OBJECTS + 1];
    Md__LoadedObject los[MD_LOAD_MAX_OBJECTS + 1], *ptrs[MD_LOAD_MAX_OBJECTS + 1];
    for (size_t i = 0; i <= MD_LOAD_MAX_OBJECTS; i++) {
        md__object_record__init(&recs[i]);
        recs[i].has_inline = 1;
        md__loaded_object__init(&los[i]);
        los[i].key = keys[i];
        los[i].record = &recs[i];
        ptrs[i] = &los[i];
    }
    Md__LoadObjects lo = MD__LOAD_OBJECTS__INIT;
    lo.bucket = "bkt";
    lo.n_objects = MD_LOAD_MAX_OBJECTS + 1;
    lo.objects = ptrs;
    Md__Command cmd = MD__COMMAND__INIT;
    cmd.client_id = t.client;
    cmd.seq = tsm_seq(&t);
    cmd.op_case = MD__COMMAND__OP_LOAD_OBJECTS;
    cmd.load_objects = &lo;
    ck_assert_int_eq(cn_pb_pack(&cmd.base, &c, &l), 0);
    r = tsm_apply(&t, c, l);
    ck_assert_int_eq(r->status, CAIRN_E_INVAL);
    ck_assert_int_eq(r->reason, MD__REASON__R_LOAD_TOO_LARGE);
    md_result_free(r);
    ck_assert_int_eq(object_status(&t, "bkt", "m0"), CAIRN_E_NOTFOUND);
    tsm_close(&t);
}
END_TEST

START_TEST(test_multipart)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    struct md_meta_kv meta[] = {{"who", "me"}};
    struct md_attrs_desc attrs = {.content_type = "video/mp4", .user_meta = meta, .n_user_meta = 1};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "bkt", "mp", "U1", "alice", &attrs, 5, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(put_part(&t, "nope", 1, 5 * MIB, 1, E1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(put_part(&t, "U1", 1, 5 * MIB, 1, E1), 0);
    ck_assert_int_eq(put_part(&t, "U1", 2, 5 * MIB, 2, E2), 0);
    ck_assert_int_eq(put_part(&t, "U1", 3, 1000, 3, E3), 0);
    ck_assert_int_eq(put_part(&t, "U1", 0, 1000, 9, E3), CAIRN_E_INVAL);
    ck_assert_int_eq(put_part(&t, "U1", 10001, 1000, 9, E3), CAIRN_E_INVAL);
    ck_assert_int_eq(put_part(&t, "U1", 4, 1000, 9, "not-md5"), CAIRN_E_INVAL);
    /* re-upload of part 2 with other bytes: both copies stay (completion
     * picks one by ETag); the list shows the later */
    ck_assert_int_eq(put_part(&t, "U1", 2, 5 * MIB, 4, E4), 0);
    ck_assert_uint_eq(garbage_count(&t), 0);

    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_parts("bkt", "mp", "U1", 0, 2, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->list_parts->n_parts, 2);
    ck_assert_int_eq(r->list_parts->truncated, 1);
    ck_assert_uint_eq(r->list_parts->next_part_number_marker, 2);
    ck_assert_str_eq(r->list_parts->parts[1]->etag, E4);
    ck_assert_uint_eq(r->list_parts->parts[1]->n_extents, 0);
    ck_assert_str_eq(r->list_parts->upload->owner, "alice");
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_parts("bkt", "mp", "U1", 2, 10, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->list_parts->n_parts, 1);
    ck_assert_uint_eq(r->list_parts->parts[0]->part_number, 3);
    ck_assert_int_eq(r->list_parts->truncated, 0);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_uploads("bkt", "", "", "", "", 10, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->list_uploads->n_uploads, 1);
    ck_assert_str_eq(r->list_uploads->uploads[0]->upload_id, "U1");
    md_query_result_free(r);

    /* validation failures leave the upload intact */
    struct md_part_ref bad_order[] = {{3, E3}, {1, E1}};
    Md__Result *res = complete(&t, "U1", bad_order, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_INVALID_PART_ORDER);
    md_result_free(res);
    struct md_part_ref bad_etag[] = {{1, E1}, {2, E3}};
    res = complete(&t, "U1", bad_etag, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_INVALID_PART);
    md_result_free(res);
    struct md_part_ref missing[] = {{1, E1}, {5, E2}};
    res = complete(&t, "U1", missing, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_INVALID_PART);
    md_result_free(res);
    struct md_part_ref small[] = {{3, E3}, {4, E1}};
    ck_assert_int_eq(put_part(&t, "U1", 4, 1000, 5, E1), 0);
    res = complete(&t, "U1", small, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_ENTITY_TOO_SMALL);
    md_result_free(res);
    res = complete(&t, "U2", small, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_NO_SUCH_UPLOAD);
    md_result_free(res);

    /* complete with parts 1 and 3 (both copies of 2, and 4, are dropped) */
    struct md_part_ref ok[] = {{1, E1}, {3, E3}};
    size_t garbage_before = garbage_count(&t);
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);
    res = complete(&t, "U1", ok, 2);
    ck_assert_int_eq(res->status, 0);
    ck_assert_uint_eq(res->size, 5 * MIB + 1000);
    /* the S3 multipart ETag, computed independently */
    unsigned char bin[32], md[16];
    for (int i = 0; i < 16; i++) {
        bin[i] = 0x11;
        bin[16 + i] = 0x33;
    }
    unsigned mdl;
    EVP_Digest(bin, 32, md, &mdl, EVP_md5(), NULL);
    char want[64];
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    strcat(want, "-2");
    ck_assert_str_eq(res->etag, want);
    md_result_free(res);
    ck_assert_uint_eq(garbage_count(&t), garbage_before + 3);
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);

    r = get_object(&t, "bkt", "mp");
    ck_assert_int_eq(r->status, 0);
    ck_assert_str_eq(r->object->etag, want);
    ck_assert_uint_eq(r->object->size, 5 * MIB + 1000);
    ck_assert_uint_eq(r->object->n_extents, 2);
    ck_assert_uint_eq(r->object->extents[1]->offset, 5 * MIB);
    ck_assert_uint_eq(r->object->n_part_sizes, 2);
    ck_assert_uint_eq(r->object->part_sizes[1], 1000);
    ck_assert_str_eq(r->object->attrs->content_type, "video/mp4");
    ck_assert_int_eq(r->object->mtime_ms, 999);
    ck_assert_str_eq(r->object->upload_id, "U1");
    md_query_result_free(r);
    /* group locators now name the object */
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 3, 4, 2, 1000, cs);
    Md__QueryResult *gr;
    ck_assert_int_eq(md_query_get_group(t.ts.store, g.id, &gr), 0);
    ck_assert_int_eq(gr->group->record_key.data[1], 'o');
    md_query_result_free(gr);
    make_group(&g, 4, 4, 2, 1000, cs);
    ck_assert_int_eq(md_query_get_group(t.ts.store, g.id, &gr), CAIRN_E_NOTFOUND);
    /* the upload is gone */
    ck_assert_int_eq(md_q_list_parts("bkt", "mp", "U1", 0, 10, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_UPLOAD);
    md_query_result_free(r);

    /* abort: every part's groups become garbage */
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "bkt", "mp", "U3", "", NULL, 5, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(put_part(&t, "U3", 1, 5 * MIB, 20, E1), 0);
    ck_assert_int_eq(put_part(&t, "U3", 2, 5 * MIB, 21, E2), 0);
    garbage_before = garbage_count(&t);
    ck_assert_int_eq(md_cmd_abort_upload(t.client, tsm_seq(&t), "bkt", "mp", "U3", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_uint_eq(garbage_count(&t), garbage_before + 2);
    ck_assert_int_eq(md_cmd_abort_upload(t.client, tsm_seq(&t), "bkt", "mp", "U3", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    /* the completed object is untouched */
    ck_assert_int_eq(object_status(&t, "bkt", "mp"), 0);
    tsm_close(&t);
}
END_TEST

static int create_upload(struct tsm *t, const char *uid)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_create_upload(t->client, tsm_seq(t), "bkt", "mp", uid, "", NULL, 5, &c, &l), 0);
    return tsm_run(t, c, l);
}

static int put_part_at(struct tsm *t, const char *uid, uint32_t pn, uint64_t gno, const char *etag,
                       int64_t mtime_ms)
{
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, gno, 4, 2, 1000, cs);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_part(t->client, tsm_seq(t), "bkt", "mp", uid, pn, etag, 1000,
                                     mtime_ms, &g, 1, &c, &l),
                     0);
    return tsm_run(t, c, l);
}

/* The group an object's first extent names is group number gno. */
static int first_group_is(struct tsm *t, uint64_t gno)
{
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, gno, 4, 2, 1000, cs);
    Md__QueryResult *r = get_object(t, "bkt", "mp");
    int same = r->status == 0 && r->object->n_extents > 0 &&
               memcmp(r->object->extents[0]->group->id.data, g.id, 16) == 0;
    md_query_result_free(r);
    return same;
}

/* Copies of one part number: completion takes the one its ETag names,
 * whichever finished last; the others' groups become garbage. A repeated
 * completion is answered from the object it made. */
START_TEST(test_multipart_copies_and_replay)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(create_upload(&t, "UC"), 0);
    /* two uploads of part 1 race; the one with E1 finished first */
    ck_assert_int_eq(put_part_at(&t, "UC", 1, 50, E1, 100), 0);
    ck_assert_int_eq(put_part_at(&t, "UC", 1, 51, E2, 200), 0);
    /* the same bytes again (same ETag): replaces that copy */
    ck_assert_int_eq(put_part_at(&t, "UC", 1, 52, E1, 150), 0);
    ck_assert_uint_eq(garbage_count(&t), 1);
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);
    /* ListParts shows one entry per number: the latest copy */
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_parts("bkt", "mp", "UC", 0, 10, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->list_parts->n_parts, 1);
    ck_assert_str_eq(r->list_parts->parts[0]->etag, E2);
    md_query_result_free(r);
    /* the client got E1's answer last: E1 wins, E2's group is garbage */
    struct md_part_ref one[] = {{1, E1}};
    size_t garbage_before = garbage_count(&t);
    Md__Result *res = complete(&t, "UC", one, 1);
    ck_assert_int_eq(res->status, 0);
    char etag[64];
    snprintf(etag, sizeof(etag), "%s", res->etag);
    md_result_free(res);
    ck_assert_uint_eq(garbage_count(&t), garbage_before + 1);
    ck_assert(first_group_is(&t, 52));
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);

    /* the same completion again (a retry after a lost reply): 200, same ETag,
     * nothing changes -- even under a condition that fails now */
    uint8_t state[32], state2[32];
    state_without_info(&t, state);
    res = complete(&t, "UC", one, 1);
    ck_assert_int_eq(res->status, 0);
    ck_assert_str_eq(res->etag, etag);
    ck_assert_uint_eq(res->size, 1000);
    md_result_free(res);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_complete_upload(t.client, tsm_seq(&t), "bkt", "mp", "UC", one, 1,
                                            MD_COND_IF_NONE_MATCH, NULL, 999, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    state_without_info(&t, state2);
    ck_assert_mem_eq(state, state2, 32);
    /* other parts than the ones that made it: NoSuchUpload */
    struct md_part_ref other[] = {{1, E2}};
    res = complete(&t, "UC", other, 1);
    ck_assert_int_eq(res->reason, MD__REASON__R_NO_SUCH_UPLOAD);
    md_result_free(res);
    struct md_part_ref more[] = {{1, E1}, {2, E2}};
    res = complete(&t, "UC", more, 2);
    ck_assert_int_eq(res->reason, MD__REASON__R_NO_SUCH_UPLOAD);
    md_result_free(res);
    /* once the object is replaced, the upload is just gone */
    ck_assert_int_eq(put_inline(&t, "bkt", "mp", "new", MD_COND_NONE, NULL), 0);
    res = complete(&t, "UC", one, 1);
    ck_assert_int_eq(res->reason, MD__REASON__R_NO_SUCH_UPLOAD);
    md_result_free(res);
    r = get_object(&t, "bkt", "mp");
    ck_assert_str_eq(r->object->upload_id, "");
    md_query_result_free(r);

    /* at most 8 copies of a number: a ninth drops the oldest */
    ck_assert_int_eq(create_upload(&t, "UM"), 0);
    static const char *const etags[] = {
        "a0000000000000000000000000000000", "a1000000000000000000000000000000",
        "a2000000000000000000000000000000", "a3000000000000000000000000000000",
        "a4000000000000000000000000000000", "a5000000000000000000000000000000",
        "a6000000000000000000000000000000", "a7000000000000000000000000000000",
        "a8000000000000000000000000000000"};
    garbage_before = garbage_count(&t);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(put_part_at(&t, "UM", 1, 60 + (uint64_t)i, etags[i], 1000 + i), 0);
    ck_assert_uint_eq(garbage_count(&t), garbage_before + 1);
    /* the oldest copy went; the second oldest is still there */
    struct md_part_ref oldest[] = {{1, "a0000000000000000000000000000000"}};
    res = complete(&t, "UM", oldest, 1);
    ck_assert_int_eq(res->reason, MD__REASON__R_INVALID_PART);
    md_result_free(res);
    struct md_part_ref second[] = {{1, "a1000000000000000000000000000000"}};
    res = complete(&t, "UM", second, 1);
    ck_assert_int_eq(res->status, 0);
    md_result_free(res);
    ck_assert(first_group_is(&t, 61));
    ck_assert_uint_eq(garbage_count(&t), garbage_before + 1 + 7);
    ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);
    tsm_close(&t);
}
END_TEST

/* ------------------------------------- chunkservers, repair, garbage -- */

static int register_cs(struct tsm *t, uint64_t id, const char *host, uint64_t free_bytes)
{
    struct md_cs_desc d = {.id = id,
                           .address = "127.0.0.1:9000",
                           .host = host,
                           .rack = "r1",
                           .zone = "z1",
                           .capacity = 1000,
                           .free = free_bytes};
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_register_cs(t->client, tsm_seq(t), &d, 50, &c, &l), 0);
    return tsm_run(t, c, l);
}

START_TEST(test_chunkservers)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(register_cs(&t, 7, "h7", 500), 0);
    ck_assert_int_eq(register_cs(&t, 3, "h3", 400), 0);
    ck_assert_int_eq(register_cs(&t, 0, "h0", 400), CAIRN_E_INVAL);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_set_cs_state(t.client, tsm_seq(&t), 7,
                                         MD__CHUNKSERVER_STATE__CS_DRAINING, 1, 2000, 1500, 60, &c,
                                         &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_set_cs_state(t.client, tsm_seq(&t), 99, -1, 1, 1, 1, 60, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    /* re-registration updates the address and labels, keeps the state */
    struct md_cs_desc d = {.id = 7, .address = "10.0.0.7:9000", .host = "h7b"};
    ck_assert_int_eq(md_cmd_register_cs(t.client, tsm_seq(&t), &d, 70, &c, &l), 0);
    Md__Result *res = tsm_apply(&t, c, l);
    ck_assert_int_eq(res->status, 0);
    ck_assert_int_eq(res->existed, 1);
    md_result_free(res);
    Md__QueryResult *r;
    ck_assert_int_eq(md_query_chunkservers(t.ts.store, &r), 0);
    ck_assert_uint_eq(r->n_chunkservers, 2);
    ck_assert_uint_eq(r->chunkservers[0]->id, 3);
    ck_assert_uint_eq(r->chunkservers[1]->id, 7);
    ck_assert_str_eq(r->chunkservers[1]->address, "10.0.0.7:9000");
    ck_assert_str_eq(r->chunkservers[1]->host, "h7b");
    ck_assert_int_eq(r->chunkservers[1]->state, MD__CHUNKSERVER_STATE__CS_DRAINING);
    ck_assert_int_eq(r->chunkservers[1]->registered_ms, 50);
    ck_assert_int_eq(r->chunkservers[1]->updated_ms, 70);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

static Md__QueryResult *fragments_on(struct tsm *t, uint64_t cs)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_fragments_on(cs, NULL, 0, 0, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

START_TEST(test_move_fragment)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(register_cs(&t, 200, "h200", 1), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "obj", 1, 2, "e"), 0);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 2, 4, 2, MIB, cs);

    Md__QueryResult *r = fragments_on(&t, 102);
    ck_assert_uint_eq(r->n_fragments, 2); /* index 2 of both groups */
    ck_assert_uint_eq(r->fragments[0]->index, 2);
    md_query_result_free(r);

    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 2, 102, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    /* conditional on the old location */
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 2, 102, 200, &c, &l), 0);
    Md__Result *res = tsm_apply(&t, c, l);
    ck_assert_int_eq(res->status, CAIRN_E_PRECOND);
    ck_assert_int_eq(res->reason, MD__REASON__R_LOCATION_MISMATCH);
    md_result_free(res);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 3, 103, 999, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND); /* unregistered target */
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 6, 0, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    struct md_group_desc other;
    make_group(&other, 77, 4, 2, MIB, cs);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), other.id, 0, 100, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);

    r = get_object(&t, "bkt", "obj");
    ck_assert_uint_eq(r->object->extents[1]->group->fragment_cs[2], 200);
    ck_assert_uint_eq(r->object->extents[0]->group->fragment_cs[2], 102);
    md_query_result_free(r);
    r = fragments_on(&t, 102);
    ck_assert_uint_eq(r->n_fragments, 1);
    md_query_result_free(r);
    r = fragments_on(&t, 200);
    ck_assert_uint_eq(r->n_fragments, 1);
    ck_assert(memcmp(r->fragments[0]->group_id.data, g.id, 16) == 0);
    md_query_result_free(r);
    /* paging through fragments_on */
    uint8_t *q;
    size_t ql;
    make_group(&g, 1, 4, 2, MIB, cs);
    ck_assert_int_eq(md_q_fragments_on(100, NULL, 0, 1, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_fragments, 1);
    ck_assert_int_eq(r->truncated, 1);
    uint8_t after[16];
    memcpy(after, r->fragments[0]->group_id.data, 16);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_fragments_on(100, after, 0, 1, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_fragments, 1);
    ck_assert(memcmp(r->fragments[0]->group_id.data, after, 16) != 0);
    md_query_result_free(r);

    /* a chunkserver never holds two fragments of one group */
    make_group(&g, 2, 4, 2, MIB, cs);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 3, 103, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    /* a fragment without a location (a write acked short of k+m) is listed
     * under chunkserver 0 until repair gives it one */
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 4, 104, 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    r = fragments_on(&t, 0);
    ck_assert_uint_eq(r->n_fragments, 1);
    ck_assert_uint_eq(r->fragments[0]->index, 4);
    md_query_result_free(r);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 4, 0, 104, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND); /* 104 is not registered */
    ck_assert_int_eq(register_cs(&t, 104, "h104", 1), 0);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 4, 0, 104, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    r = fragments_on(&t, 0);
    ck_assert_uint_eq(r->n_fragments, 0);
    md_query_result_free(r);

    /* a fragment in a multipart part moves too */
    ck_assert_int_eq(
        md_cmd_create_upload(t.client, tsm_seq(&t), "bkt", "mp", "U", "", NULL, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    make_group(&g, 30, 4, 2, 100, cs);
    ck_assert_int_eq(
        md_cmd_put_part(t.client, tsm_seq(&t), "bkt", "mp", "U", 1, E1, 100, 1, &g, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 0, 100, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    Md__QueryResult *gr;
    ck_assert_int_eq(md_query_get_group(t.ts.store, g.id, &gr), 0);
    ck_assert_uint_eq(gr->group->group->fragment_cs[0], 200);
    ck_assert_int_eq(gr->group->record_key.data[1], 'p');
    md_query_result_free(gr);
    tsm_close(&t);
}
END_TEST

START_TEST(test_garbage)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "obj", 1, 1, "e"), 0);
    ck_assert_int_eq(del_obj(&t, "bkt", "obj", MD_COND_NONE, NULL, NULL), 0);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_garbage(0, 0, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 1);
    uint64_t seq = r->garbage[0]->seq;
    ck_assert_uint_eq(r->garbage[0]->group->fragment_cs[0], 100);
    md_query_result_free(r);
    /* the deleted group no longer appears on its chunkservers */
    r = fragments_on(&t, 100);
    ck_assert_uint_eq(r->n_fragments, 0);
    md_query_result_free(r);

    /* what chunkserver 103 must delete, through the per-chunkserver index */
    ck_assert_int_eq(md_q_list_garbage_for(103, 0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 1);
    ck_assert_uint_eq(r->garbage[0]->seq, seq);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_garbage_for(999, 0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 0);
    md_query_result_free(r);

    /* acks from 5 of the 6 chunkservers keep the entry */
    uint64_t seqs[6], css[6];
    for (int i = 0; i < 6; i++) {
        seqs[i] = seq;
        css[i] = 100 + i;
    }
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_garbage_ack(t.client, tsm_seq(&t), seqs, css, 5, &c, &l), 0);
    Md__Result *res = tsm_apply(&t, c, l);
    ck_assert_uint_eq(res->count, 5);
    md_result_free(res);
    ck_assert_int_eq(md_q_list_garbage(0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 1);
    ck_assert_uint_eq(r->garbage[0]->group->fragment_cs[0], 0);
    ck_assert_uint_eq(r->garbage[0]->group->fragment_cs[5], 105);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_garbage_for(103, 0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 0); /* 103 acknowledged */
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_garbage_for(105, 0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 1);
    md_query_result_free(r);
    ck_assert_int_eq(md_cmd_garbage_ack(t.client, tsm_seq(&t), seqs + 5, css + 5, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_uint_eq(garbage_count(&t), 0);

    /* explicit add: an orphan group is added, a live one never */
    ck_assert_int_eq(put_groups(&t, "bkt", "live", 5, 1, "e"), 0);
    struct md_group_desc g[2];
    uint64_t cs[2][6];
    make_group(&g[0], 5, 4, 2, MIB, cs[0]);
    make_group(&g[1], 6, 4, 2, MIB, cs[1]);
    ck_assert_int_eq(md_cmd_garbage_add(t.client, tsm_seq(&t), g, 2, &c, &l), 0);
    res = tsm_apply(&t, c, l);
    ck_assert_int_eq(res->status, 0);
    ck_assert_uint_eq(res->count, 1);
    md_result_free(res);
    ck_assert_int_eq(md_q_list_garbage(0, 0, &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 1);
    ck_assert(memcmp(r->garbage[0]->group->id.data, g[1].id, 16) == 0);
    ck_assert_uint_gt(r->garbage[0]->seq, seq);
    md_query_result_free(r);
    ck_assert_int_eq(object_status(&t, "bkt", "live"), 0);
    tsm_close(&t);
}
END_TEST

START_TEST(test_access_keys)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "AKIA1", "s3cr3t", "alice", 1, 9, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "AKIA1", "other", "bob", 0, 9, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_EXISTS);
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "AKIA0", "x", "bob", 0, 9, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "bad id", "x", "bob", 0, 9, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_access_key("AKIA1", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_str_eq(r->access_key->secret, "s3cr3t");
    ck_assert_int_eq(r->access_key->admin, 1);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_access_keys(&q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_access_keys, 2);
    ck_assert_str_eq(r->access_keys[0]->key_id, "AKIA0");
    md_query_result_free(r);
    ck_assert_int_eq(md_cmd_delete_access_key(t.client, tsm_seq(&t), "AKIA1", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_delete_access_key(t.client, tsm_seq(&t), "AKIA1", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_q_get_access_key("AKIA1", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_ACCESS_KEY);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

/* -------------------------------------------------------------- dedup -- */

static void apply_raw(struct tsm *t, const uint8_t *cmd, size_t len, uint8_t **res, size_t *rl)
{
    ck_assert_int_eq(md_sm_apply(t->sm, ++t->index, cmd, len, res, rl), 0);
}

START_TEST(test_dedup)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 1, 4, 2, MIB, cs);
    struct md_object_desc o = {.size = MIB, .etag = "e", .groups = &g, .n_groups = 1};
    uint8_t *put, *res1, *res2;
    size_t pl, rl1, rl2;
    ck_assert_int_eq(md_cmd_put_object(9, 5, "bkt", "k", &o, MD_COND_NONE, NULL, &put, &pl), 0);
    apply_raw(&t, put, pl, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), 0);
    /* the retry (e.g. after a failover) gets the saved result, applies nothing:
     * applying it again would have failed with "group in use" */
    apply_raw(&t, put, pl, &res2, &rl2);
    ck_assert_uint_eq(rl1, rl2);
    ck_assert(memcmp(res1, res2, rl1) == 0);
    Md__Result *r = md_result_decode(res2, rl2);
    ck_assert_uint_eq(r->index, t.index - 1); /* the original slot */
    md_result_free(r);
    free(res1);
    free(res2);
    free(put);

    /* an older seq is refused, not applied */
    uint8_t *old;
    size_t ol;
    ck_assert_int_eq(md_cmd_delete_object(9, 4, "bkt", "k", 0, NULL, &old, &ol), 0);
    apply_raw(&t, old, ol, &res1, &rl1);
    int reason;
    ck_assert_int_eq(md_result_status(res1, rl1, &reason), CAIRN_E_RANGE);
    ck_assert_int_eq(reason, MD__REASON__R_STALE_REQUEST);
    free(res1);
    free(old);
    ck_assert_int_eq(object_status(&t, "bkt", "k"), 0);

    /* a refused command's result is saved too: the retry sees the refusal
     * even after the condition would hold */
    uint8_t *cond;
    size_t cl;
    struct md_object_desc in = {
        .size = 1, .etag = "z", .has_inline = 1, .inline_data = "z", .inline_len = 1};
    ck_assert_int_eq(
        md_cmd_put_object(9, 6, "bkt", "k", &in, MD_COND_IF_NONE_MATCH, NULL, &cond, &cl), 0);
    apply_raw(&t, cond, cl, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), CAIRN_E_PRECOND);
    free(res1);
    uint8_t *del;
    size_t dl;
    ck_assert_int_eq(md_cmd_delete_object(9, 7, "bkt", "k", 0, NULL, &del, &dl), 0);
    apply_raw(&t, del, dl, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), 0);
    free(res1);
    free(del);
    /* seq 6 again is now stale (7 was applied) */
    apply_raw(&t, cond, cl, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), CAIRN_E_RANGE);
    free(res1);
    free(cond);
    ck_assert_int_eq(object_status(&t, "bkt", "k"), CAIRN_E_NOTFOUND);

    /* other clients are independent; seq 0 means no dedup */
    uint8_t *n0;
    size_t n0l;
    ck_assert_int_eq(md_cmd_create_bucket(10, 7, "other", "", "", 0, 1, &n0, &n0l), 0);
    apply_raw(&t, n0, n0l, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), 0);
    free(res1);
    free(n0);
    ck_assert_int_eq(md_cmd_create_bucket(10, 0, "other", "", "", 0, 1, &n0, &n0l), 0);
    apply_raw(&t, n0, n0l, &res1, &rl1);
    ck_assert_int_eq(md_result_status(res1, rl1, NULL), CAIRN_E_EXISTS);
    free(res1);
    free(n0);
    tsm_close(&t);
}
END_TEST

START_TEST(test_session_eviction)
{
    struct tstore ts;
    tstore_open(&ts, _i);
    struct md_sm_options opt;
    md_sm_options_default(&opt);
    opt.max_sessions = 3;
    struct md_sm *sm;
    ck_assert_int_eq(md_sm_open(ts.store, &opt, &sm), 0);
    uint64_t index = 0;
    for (uint64_t client = 1; client <= 5; client++) {
        uint8_t *c, *res;
        size_t l, rl;
        ck_assert_int_eq(md_cmd_noop(client, 1, &c, &l), 0);
        ck_assert_int_eq(md_sm_apply(sm, ++index, c, l, &res, &rl), 0);
        free(c);
        free(res);
    }
    uint8_t *q, *out;
    size_t ql, ol;
    ck_assert_int_eq(md_q_state_info(&q, &ql), 0);
    ck_assert_int_eq(md_query(ts.store, q, ql, &out, &ol), 0);
    Md__QueryResult *r = md_query_result_decode(out, ol);
    ck_assert_uint_eq(r->info->session_count, 3);
    ck_assert_uint_eq(r->info->applied_index, 5);
    md_query_result_free(r);
    free(q);
    free(out);
    /* clients 1 and 2 were evicted (least recently used); 3..5 remain */
    int kept = 0;
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(ts.store, &it), 0);
    for (md_iter_seek(it, "Sc", 2); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < 2 || k[1] != 'c')
            break;
        ck_assert_uint_ge(k[kl - 1], 3);
        kept++;
    }
    md_iter_free(it);
    ck_assert_int_eq(kept, 3);
    md_sm_free(sm);
    tstore_close(&ts);
}
END_TEST

/* -------------------------------------------------- slots & recovery -- */

START_TEST(test_slot_batch)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *cmds[3], *res[3];
    size_t lens[3], rl[3];
    ck_assert_int_eq(md_cmd_create_bucket(1, 1, "bkt", "", "", 0, 1, &cmds[0], &lens[0]), 0);
    struct md_object_desc in = {
        .size = 1, .etag = "a", .has_inline = 1, .inline_data = "a", .inline_len = 1};
    ck_assert_int_eq(
        md_cmd_put_object(2, 1, "bkt", "k", &in, MD_COND_IF_NONE_MATCH, NULL, &cmds[1], &lens[1]),
        0);
    ck_assert_int_eq(
        md_cmd_put_object(3, 1, "bkt", "k", &in, MD_COND_IF_NONE_MATCH, NULL, &cmds[2], &lens[2]),
        0);
    struct md_batch *extra = md_batch_new();
    md_batch_put(extra, "Pxyz", 4, "paxos", 5);
    ck_assert_int_eq(md_sm_apply_slot(t.sm, 7, 3, (const void *const *)cmds, lens, extra, res, rl),
                     0);
    ck_assert_int_eq(md_result_status(res[0], rl[0], NULL), 0);
    ck_assert_int_eq(md_result_status(res[1], rl[1], NULL), 0);
    ck_assert_int_eq(md_result_status(res[2], rl[2], NULL), CAIRN_E_PRECOND);
    for (int i = 0; i < 3; i++)
        free(res[i]);
    ck_assert_uint_eq(md_sm_applied_index(t.sm), 7);
    void *v;
    size_t vl;
    ck_assert_int_eq(md_store_get(t.ts.store, "Pxyz", 4, &v, &vl), 0);
    free(v);
    /* the same or an older index is refused and changes nothing */
    ck_assert_int_eq(md_sm_apply_slot(t.sm, 7, 3, (const void *const *)cmds, lens, NULL, res, rl),
                     CAIRN_E_RANGE);
    /* an extra batch must stay out of the state machine's keys */
    md_batch_clear(extra);
    md_batch_put(extra, "Sz", 2, "x", 1);
    ck_assert_int_eq(md_sm_apply_slot(t.sm, 8, 0, NULL, NULL, extra, NULL, NULL), CAIRN_E_INVAL);
    md_batch_free(extra);
    /* an empty slot moves the applied index */
    ck_assert_int_eq(md_sm_apply_slot(t.sm, 9, 0, NULL, NULL, NULL, NULL, NULL), 0);
    ck_assert_uint_eq(md_sm_applied_index(t.sm), 9);
    for (int i = 0; i < 3; i++)
        free(cmds[i]);
    tsm_close(&t);
}
END_TEST

START_TEST(test_reopen_recovers)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "a", 1, 2, "e"), 0);
    ck_assert_int_eq(del_obj(&t, "bkt", "a", 0, NULL, NULL), 0);
    ck_assert_int_eq(put_inline(&t, "bkt", "b", "bee", 0, NULL), 0);
    uint8_t h1[32], h2[32];
    ck_assert_int_eq(md_sm_state_hash(t.ts.store, h1), 0);
    uint64_t applied = md_sm_applied_index(t.sm);
    md_sm_free(t.sm);
    tstore_reopen(&t.ts);
    ck_assert_int_eq(md_sm_open(t.ts.store, NULL, &t.sm), 0);
    ck_assert_uint_eq(md_sm_applied_index(t.sm), applied);
    ck_assert_int_eq(md_sm_state_hash(t.ts.store, h2), 0);
    ck_assert(memcmp(h1, h2, 32) == 0);
    ck_assert_int_eq(object_status(&t, "bkt", "b"), 0);
    /* the garbage sequence continues, not restarts */
    ck_assert_int_eq(put_groups(&t, "bkt", "c", 10, 1, "e"), 0);
    ck_assert_int_eq(del_obj(&t, "bkt", "c", 0, NULL, NULL), 0);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_garbage(0, 0, &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_garbage, 3);
    ck_assert_uint_eq(r->garbage[2]->seq, 3);
    md_query_result_free(r);
    /* the dedup table survived: retrying the client's last seq is a no-op */
    ck_assert_uint_eq(t.seq, 6);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_delete_object(t.client, t.seq, "bkt", "c", 0, NULL, &c, &l), 0);
    uint8_t *rb;
    size_t rbl;
    ck_assert_int_eq(md_sm_apply(t.sm, ++t.index, c, l, &rb, &rbl), 0);
    free(c);
    Md__Result *res = md_result_decode(rb, rbl);
    free(rb);
    ck_assert_int_eq(res->status, 0);
    ck_assert_int_eq(res->existed, 1); /* the saved answer, from the first apply */
    ck_assert_uint_eq(res->index, t.index - 1);
    md_result_free(res);
    tsm_close(&t);
}
END_TEST

/* Two replicas applying the same commands hold identical state, whatever
 * their backends. */
START_TEST(test_replicas_identical)
{
    struct tsm a, b;
    tsm_open(&a, BACKEND_MEM);
    tsm_open(&b, BACKEND_LEVELDB);
    struct tsm *both[2] = {&a, &b};
    for (int r = 0; r < 2; r++) {
        struct tsm *t = both[r];
        ck_assert_int_eq(create_bucket(t, "bkt"), 0);
        for (int i = 0; i < 40; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%02d", i % 13);
            if (i % 3 == 0)
                put_groups(t, "bkt", key, 100 + (uint64_t)i * 4, 1 + i % 3, "e");
            else if (i % 3 == 1)
                put_inline(t, "bkt", key, "data", i % 2 ? MD_COND_IF_NONE_MATCH : 0, NULL);
            else
                del_obj(t, "bkt", key, 0, NULL, NULL);
        }
    }
    uint8_t ha[32], hb[32];
    ck_assert_int_eq(md_sm_state_hash(a.ts.store, ha), 0);
    ck_assert_int_eq(md_sm_state_hash(b.ts.store, hb), 0);
    ck_assert(memcmp(ha, hb, 32) == 0);
    /* and one more command on one side makes them differ */
    put_inline(&a, "bkt", "extra", "x", 0, NULL);
    ck_assert_int_eq(md_sm_state_hash(a.ts.store, ha), 0);
    ck_assert(memcmp(ha, hb, 32) != 0);
    tsm_close(&a);
    tsm_close(&b);
}
END_TEST

/* A field this build does not know (written by a newer replica) survives a
 * command that rewrites the record. */
START_TEST(test_unknown_fields_preserved)
{
    struct tsm t;
    tsm_open(&t, _i);
    ck_assert_int_eq(create_bucket(&t, "bkt"), 0);
    ck_assert_int_eq(register_cs(&t, 200, "h200", 1), 0);
    ck_assert_int_eq(put_groups(&t, "bkt", "obj", 1, 1, "e"), 0);
    const char key[] = "Sobkt\0obj";
    size_t kl = sizeof(key) - 1;
    void *v;
    size_t vl;
    ck_assert_int_eq(md_store_get(t.ts.store, key, kl, &v, &vl), 0);
    /* field 100, varint 42: tag (100 << 3 | 0) = 800 = 0xa0 0x06 */
    uint8_t *nv = malloc(vl + 3);
    memcpy(nv, v, vl);
    nv[vl] = 0xa0;
    nv[vl + 1] = 0x06;
    nv[vl + 2] = 42;
    free(v);
    struct md_batch *b = md_batch_new();
    md_batch_put(b, key, kl, nv, vl + 3);
    ck_assert_int_eq(md_store_write(t.ts.store, b), 0);
    md_batch_free(b);
    free(nv);
    struct md_group_desc g;
    uint64_t cs[6];
    make_group(&g, 1, 4, 2, MIB, cs);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_move_fragment(t.client, tsm_seq(&t), g.id, 0, 100, 200, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_store_get(t.ts.store, key, kl, &v, &vl), 0);
    Md__ObjectRecord *rec = md__object_record__unpack(NULL, vl, v);
    free(v);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(rec->extents[0]->group->fragment_cs[0], 200);
    ck_assert_uint_eq(rec->base.n_unknown_fields, 1);
    ck_assert_uint_eq(rec->base.unknown_fields[0].tag, 100);
    md__object_record__free_unpacked(rec, NULL);
    tsm_close(&t);
}
END_TEST

/* The membership a slot installs comes back with the applied index; one
 * without learners (the common case) included — protobuf-c leaves that
 * array NULL, which a copy must not touch (UBSan). The same for a joined
 * replica's identity. */
START_TEST(test_membership_records)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint32_t v[PAXOS_MAX_REPLICAS], l[PAXOS_MAX_REPLICAS];
    size_t nv = 9, nl = 9;
    ck_assert_int_eq(md_sm_membership(t.ts.store, v, &nv, l, &nl, PAXOS_MAX_REPLICAS),
                     CAIRN_E_NOTFOUND);
    const uint32_t three[] = {1, 2, 3}, four[] = {4};
    ck_assert_int_eq(md_sm_apply_membership(t.sm, 5, three, 3, NULL, 0), 0);
    ck_assert_int_eq(md_sm_membership(t.ts.store, v, &nv, l, &nl, PAXOS_MAX_REPLICAS), 0);
    ck_assert_uint_eq(nv, 3);
    ck_assert_uint_eq(nl, 0);
    ck_assert_uint_eq(v[2], 3);
    ck_assert_uint_eq(md_sm_applied_index(t.sm), 5);
    ck_assert_int_eq(md_sm_apply_membership(t.sm, 5, three, 3, NULL, 0), CAIRN_E_RANGE);
    ck_assert_int_eq(md_sm_apply_membership(t.sm, 6, three + 1, 2, four, 1), 0);
    ck_assert_int_eq(md_sm_membership(t.ts.store, v, &nv, l, &nl, PAXOS_MAX_REPLICAS), 0);
    ck_assert_uint_eq(nv, 2);
    ck_assert_uint_eq(nl, 1);
    ck_assert_uint_eq(l[0], 4);
    ck_assert_int_eq(md_sm_removed(t.ts.store, 1), 1);
    ck_assert_int_eq(md_sm_removed(t.ts.store, 2), 0);

    struct paxos_membership m = {.n_voters = 3, .voters = {1, 2, 3}}, got;
    uint32_t id = 0;
    ck_assert_int_eq(md_plog_identity_get(t.ts.store, &id, &got), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_plog_identity_put(t.ts.store, 7, &m), 0);
    ck_assert_int_eq(md_plog_identity_get(t.ts.store, &id, &got), 0);
    ck_assert_uint_eq(id, 7);
    ck_assert_uint_eq(got.n_voters, 3);
    ck_assert_uint_eq(got.n_learners, 0);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_sm");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_buckets, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_objects, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_bad_records_change_nothing, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_conditions, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_delete_objects_and_update_attrs, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_load_objects, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_multipart, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_multipart_copies_and_replay, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_chunkservers, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_move_fragment, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_garbage, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_access_keys, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_dedup, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_session_eviction, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_slot_batch, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_reopen_recovers, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_unknown_fields_preserved, 0, BACKEND_COUNT);
    tcase_add_test(tc, test_replicas_identical);
    tcase_add_loop_test(tc, test_membership_records, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
