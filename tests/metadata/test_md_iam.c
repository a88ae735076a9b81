/* Tenants in the state machine: users, access keys (with their user, disabled
 * ones), bucket ownership and the owner index, quotas and usage, ACL and
 * policy storage, and the one-read object+bucket query. Both backends. */
#include "md_test_util.h"
#include "cn_error.h"
#include "md_check.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int run_reason(struct tsm *t, uint8_t *c, size_t l, int *reason)
{
    Md__Result *r = tsm_apply(t, c, l);
    int st = r->status;
    if (reason)
        *reason = r->reason;
    md_result_free(r);
    return st;
}

static int user(struct tsm *t, const char *name, const char *id)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_user(t->client, tsm_seq(t), name, id, 7, &c, &l), 0);
    return tsm_run(t, c, l);
}

static int bucket(struct tsm *t, const char *b, const char *owner)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), b, owner, "", 0, 1000, &c, &l), 0);
    return tsm_run(t, c, l);
}

static int put(struct tsm *t, const char *b, const char *k, const char *data, int *reason)
{
    struct md_object_desc o = {0};
    o.size = strlen(data);
    o.etag = "e";
    o.has_inline = 1;
    o.inline_data = data;
    o.inline_len = strlen(data);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_put_object(t->client, tsm_seq(t), b, k, &o, MD_COND_NONE, NULL, &c, &l),
                     0);
    return run_reason(t, c, l, reason);
}

static int del(struct tsm *t, const char *b, const char *k)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_delete_object(t->client, tsm_seq(t), b, k, MD_COND_NONE, NULL, &c, &l),
                     0);
    return tsm_run(t, c, l);
}

static int quota(struct tsm *t, const char *u, const char *b, uint64_t bytes, uint64_t objects)
{
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_set_quota(t->client, tsm_seq(t), u, b, bytes, objects, &c, &l), 0);
    return tsm_run(t, c, l);
}

static Md__QueryResult *head_bucket(struct tsm *t, const char *b)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_head_bucket(b, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static Md__QueryResult *get_user(struct tsm *t, const char *name)
{
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_user(name, &q, &ql), 0);
    return tsm_query(t, q, ql);
}

static void expect_usage(struct tsm *t, const char *b, const char *u, uint64_t bb, uint64_t bo,
                         uint64_t ub, uint64_t uo)
{
    Md__QueryResult *r = head_bucket(t, b);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->bucket->usage ? r->bucket->usage->bytes : 0, bb);
    ck_assert_uint_eq(r->bucket->usage ? r->bucket->usage->objects : 0, bo);
    md_query_result_free(r);
    r = get_user(t, u);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->user->usage ? r->user->usage->bytes : 0, ub);
    ck_assert_uint_eq(r->user->usage ? r->user->usage->objects : 0, uo);
    md_query_result_free(r);
}

START_TEST(test_users)
{
    struct tsm t;
    tsm_open(&t, _i);
    int reason;
    ck_assert_int_eq(user(&t, "alice", ID_A), 0);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_user(t.client, tsm_seq(&t), "alice", ID_B, 7, &c, &l), 0);
    ck_assert_int_eq(run_reason(&t, c, l, &reason), CAIRN_E_EXISTS);
    ck_assert_int_eq(reason, MD__REASON__R_USER_EXISTS);
    ck_assert_int_eq(user(&t, "bad name", ID_B), CAIRN_E_INVAL);
    ck_assert_int_eq(user(&t, "", ID_B), CAIRN_E_INVAL);
    ck_assert_int_eq(user(&t, "bob", "ABC"), CAIRN_E_INVAL);
    ck_assert_int_eq(user(&t, "bob", ID_A "0"), CAIRN_E_INVAL);
    ck_assert_int_eq(user(&t, "bob.smith+x@example.com", ID_B), 0);
    Md__QueryResult *r = get_user(&t, "alice");
    ck_assert_int_eq(r->status, 0);
    ck_assert_str_eq(r->user->canonical_id, ID_A);
    ck_assert_int_eq(r->user->created_ms, 7);
    md_query_result_free(r);
    r = get_user(&t, "carol");
    ck_assert_int_eq(r->status, CAIRN_E_NOTFOUND);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_USER);
    md_query_result_free(r);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_list_users(&q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_users, 2);
    ck_assert_str_eq(r->users[0]->name, "alice");
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

START_TEST(test_keys_belong_to_users)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c, *q;
    size_t l, ql;
    int reason;
    /* The plain builder makes the user when it is missing (cairn keys create). */
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "AK1", "s1", "alice", 0, 9, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    Md__QueryResult *r = get_user(&t, "alice");
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(strlen(r->user->canonical_id), 64);
    md_query_result_free(r);
    /* Without a new user id, an unknown owner is refused and nothing stored. */
    ck_assert_int_eq(md_cmd_create_access_key_for(t.client, tsm_seq(&t), "AK2", "s2", "nobody", 0,
                                                  NULL, 9, &c, &l),
                     0);
    ck_assert_int_eq(run_reason(&t, c, l, &reason), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_USER);
    ck_assert_int_eq(md_q_get_access_key("AK2", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, CAIRN_E_NOTFOUND);
    md_query_result_free(r);
    /* A second key of the same user keeps the user as it was. */
    ck_assert_int_eq(md_cmd_create_access_key_for(t.client, tsm_seq(&t), "AK3", "s3", "alice", 1,
                                                  ID_B, 9, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    /* The key lookup brings the user along; disabling is visible there. */
    ck_assert_int_eq(md_cmd_set_key_state(t.client, tsm_seq(&t), "AK1", 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_q_get_access_key("AK1", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, 0);
    ck_assert(r->access_key->disabled);
    ck_assert_ptr_nonnull(r->user);
    ck_assert_str_eq(r->user->name, "alice");
    ck_assert_str_ne(r->user->canonical_id, ID_B);
    md_query_result_free(r);
    ck_assert_int_eq(md_cmd_set_key_state(t.client, tsm_seq(&t), "AK1", 0, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_set_key_state(t.client, tsm_seq(&t), "nokey", 1, &c, &l), 0);
    ck_assert_int_eq(run_reason(&t, c, l, &reason), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_ACCESS_KEY);
    /* Keys by owner. */
    ck_assert_int_eq(user(&t, "bob", ID_B), 0);
    ck_assert_int_eq(
        md_cmd_create_access_key_for(t.client, tsm_seq(&t), "BK1", "s", "bob", 0, NULL, 9, &c, &l),
        0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_q_list_access_keys_of("alice", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_access_keys, 2);
    ck_assert(!r->access_keys[0]->disabled);
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

/* Query.caller_key: any query also reads the request's key and its user in
 * the same snapshot (the gateway confirms a key with its authorization read);
 * a missing key is an answer, not a failure, and a failed query still
 * carries it. */
START_TEST(test_caller_key_rides_on_queries)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c, *q;
    size_t l, ql;
    ck_assert_int_eq(user(&t, "alice", ID_A), 0);
    ck_assert_int_eq(md_cmd_create_access_key_for(t.client, tsm_seq(&t), "AK1", "s1", "alice", 0,
                                                  NULL, 9, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(bucket(&t, "bkt", "alice"), 0);
    /* without the field: nothing about the caller */
    ck_assert_int_eq(md_q_head_bucket("bkt", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert(!r->caller_checked);
    ck_assert_ptr_null(r->caller);
    md_query_result_free(r);
    /* with it: the key and its user beside the bucket */
    ck_assert_int_eq(md_q_head_bucket("bkt", &q, &ql), 0);
    ck_assert_int_eq(md_q_with_caller("AK1", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, 0);
    ck_assert_ptr_nonnull(r->bucket);
    ck_assert(r->caller_checked);
    ck_assert_str_eq(r->caller->secret, "s1");
    ck_assert(!r->caller->disabled);
    ck_assert_str_eq(r->caller_user->canonical_id, ID_A);
    md_query_result_free(r);
    /* a failed query (no such key in the bucket) still carries it */
    ck_assert_int_eq(md_q_get_object_and_bucket("bkt", "nokey", &q, &ql), 0);
    ck_assert_int_eq(md_q_with_caller("AK1", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, CAIRN_E_NOTFOUND);
    ck_assert(r->caller_checked);
    ck_assert_ptr_nonnull(r->caller);
    md_query_result_free(r);
    /* disabled: the record says so */
    ck_assert_int_eq(md_cmd_set_key_state(t.client, tsm_seq(&t), "AK1", 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_q_head_bucket("bkt", &q, &ql), 0);
    ck_assert_int_eq(md_q_with_caller("AK1", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert(r->caller->disabled);
    md_query_result_free(r);
    /* unknown and malformed keys: checked, absent */
    const char *bad[] = {"NOSUCH", "bad key/"};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(md_q_head_bucket("bkt", &q, &ql), 0);
        ck_assert_int_eq(md_q_with_caller(bad[i], &q, &ql), 0);
        r = tsm_query(&t, q, ql);
        ck_assert_int_eq(r->status, 0);
        ck_assert(r->caller_checked);
        ck_assert_ptr_null(r->caller);
        md_query_result_free(r);
    }
    /* md_q_with_caller refuses bytes that are no query */
    q = malloc(3);
    memcpy(q, "\xff\xff\xff", 3);
    ql = 3;
    ck_assert_int_eq(md_q_with_caller("AK1", &q, &ql), CAIRN_E_INVAL);
    free(q);
    tsm_close(&t);
}
END_TEST

START_TEST(test_ownership_and_user_deletion)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c, *q;
    size_t l, ql;
    int reason;
    ck_assert_int_eq(
        md_cmd_create_access_key(t.client, tsm_seq(&t), "AKA", "s", "alice", 0, 9, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(user(&t, "bob", ID_B), 0);
    ck_assert_int_eq(bucket(&t, "alice-1", "alice"), 0);
    ck_assert_int_eq(bucket(&t, "alice-2", "alice"), 0);
    ck_assert_int_eq(bucket(&t, "bob-1", "bob"), 0);
    ck_assert_int_eq(bucket(&t, "bad-owner", "no way"), CAIRN_E_INVAL);
    ck_assert_int_eq(md_q_list_buckets_of("alice", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_buckets, 2);
    ck_assert_str_eq(r->buckets[0]->name, "alice-1");
    ck_assert_str_eq(r->buckets[1]->name, "alice-2");
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_buckets_of("carol", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_buckets, 0);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_list_buckets(&q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_buckets, 3);
    md_query_result_free(r);
    /* A user with buckets is not deleted. */
    ck_assert_int_eq(md_cmd_delete_user(t.client, tsm_seq(&t), "alice", &c, &l), 0);
    ck_assert_int_eq(run_reason(&t, c, l, &reason), CAIRN_E_NOTEMPTY);
    ck_assert_int_eq(reason, MD__REASON__R_USER_HAS_BUCKETS);
    for (int i = 1; i <= 2; i++) {
        char b[16];
        snprintf(b, sizeof(b), "alice-%d", i);
        ck_assert_int_eq(md_cmd_delete_bucket(t.client, tsm_seq(&t), b, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
    }
    ck_assert_int_eq(md_q_list_buckets_of("alice", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_uint_eq(r->n_buckets, 0);
    md_query_result_free(r);
    /* Now it is, with its keys. */
    ck_assert_int_eq(md_cmd_delete_user(t.client, tsm_seq(&t), "alice", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_q_get_access_key("AKA", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_ACCESS_KEY);
    md_query_result_free(r);
    ck_assert_int_eq(md_cmd_delete_user(t.client, tsm_seq(&t), "alice", &c, &l), 0);
    ck_assert_int_eq(run_reason(&t, c, l, &reason), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_USER);
    tsm_close(&t);
}
END_TEST

START_TEST(test_quotas_and_usage)
{
    struct tsm t;
    tsm_open(&t, _i);
    int reason;
    ck_assert_int_eq(user(&t, "alice", ID_A), 0);
    ck_assert_int_eq(bucket(&t, "bk1", "alice"), 0);
    ck_assert_int_eq(bucket(&t, "bk2", "alice"), 0);
    ck_assert_int_eq(put(&t, "bk1", "k1", "12345", NULL), 0);
    ck_assert_int_eq(put(&t, "bk2", "k1", "123", NULL), 0);
    expect_usage(&t, "bk1", "alice", 5, 1, 8, 2);
    /* Overwrite: bytes change, the object count does not. */
    ck_assert_int_eq(put(&t, "bk1", "k1", "1234567", NULL), 0);
    expect_usage(&t, "bk1", "alice", 7, 1, 10, 2);
    /* Bucket object quota: the third object is refused and not stored. */
    ck_assert_int_eq(quota(&t, NULL, "bk1", 0, 2), 0);
    ck_assert_int_eq(put(&t, "bk1", "k2", "x", NULL), 0);
    ck_assert_int_eq(put(&t, "bk1", "k3", "x", &reason), CAIRN_E_NOSPACE);
    ck_assert_int_eq(reason, MD__REASON__R_QUOTA_EXCEEDED);
    uint8_t *q;
    size_t ql;
    ck_assert_int_eq(md_q_get_object("bk1", "k3", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_KEY);
    md_query_result_free(r);
    expect_usage(&t, "bk1", "alice", 8, 2, 11, 3);
    /* Overwriting within the count still works; shrinking always does. */
    ck_assert_int_eq(put(&t, "bk1", "k2", "xy", NULL), 0);
    /* User byte quota spans buckets. */
    ck_assert_int_eq(quota(&t, "alice", NULL, 14, 0), 0);
    ck_assert_int_eq(put(&t, "bk2", "k2", "123", &reason), CAIRN_E_NOSPACE); /* 12 + 3 > 14 */
    ck_assert_int_eq(reason, MD__REASON__R_QUOTA_EXCEEDED);
    expect_usage(&t, "bk2", "alice", 3, 1, 12, 3);
    ck_assert_int_eq(put(&t, "bk2", "k2", "12", NULL), 0); /* 14: at the limit is fine */
    ck_assert_int_eq(put(&t, "bk2", "k3", "1", &reason), CAIRN_E_NOSPACE);
    ck_assert_int_eq(reason, MD__REASON__R_QUOTA_EXCEEDED);
    /* Deletes give room back. */
    ck_assert_int_eq(del(&t, "bk1", "k1"), 0);
    expect_usage(&t, "bk1", "alice", 2, 1, 7, 3);
    ck_assert_int_eq(put(&t, "bk2", "k3", "1", NULL), 0);
    /* Quotas are seen in the records; 0 lifts them. */
    r = head_bucket(&t, "bk1");
    ck_assert_uint_eq(r->bucket->quota->max_objects, 2);
    md_query_result_free(r);
    ck_assert_int_eq(quota(&t, "alice", NULL, 0, 0), 0);
    ck_assert_int_eq(quota(&t, NULL, "bk1", 0, 0), 0);
    ck_assert_int_eq(put(&t, "bk1", "k9", "123456789012345", NULL), 0);
    /* Exactly one target. */
    ck_assert_int_eq(quota(&t, "alice", "bk1", 1, 1), CAIRN_E_INVAL);
    ck_assert_int_eq(quota(&t, NULL, NULL, 1, 1), CAIRN_E_INVAL);
    ck_assert_int_eq(quota(&t, "nobody", NULL, 1, 1), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(quota(&t, NULL, "nobucket", 1, 1), CAIRN_E_NOTFOUND);
    /* Every replica derives the same counters: md_check agrees with them. */
    char err[256] = "";
    ck_assert_msg(md_sm_check(t.ts.store, err, sizeof(err)) == 0, "%s", err);
    tsm_close(&t);
}
END_TEST

START_TEST(test_acl_and_policy_storage)
{
    struct tsm t;
    tsm_open(&t, _i);
    uint8_t *c, *q;
    size_t l, ql;
    ck_assert_int_eq(bucket(&t, "bk1", "alice"), 0);
    ck_assert_int_eq(put(&t, "bk1", "k", "v", NULL), 0);
    const uint8_t acl[] = {1, 2, 0, 3};
    ck_assert_int_eq(md_cmd_put_bucket_acl(t.client, tsm_seq(&t), "bk1", acl, sizeof(acl), &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(
        md_cmd_put_bucket_policy(t.client, tsm_seq(&t), "bk1", "{\"Version\":1}", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_put_object_acl(t.client, tsm_seq(&t), "bk1", "k", acl, 2, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    ck_assert_int_eq(md_cmd_put_object_acl(t.client, tsm_seq(&t), "bk1", "nokey", acl, 2, &c, &l),
                     0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(md_cmd_put_bucket_acl(t.client, tsm_seq(&t), "nobucket", acl, 2, &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_NOTFOUND);
    char *big = malloc(21 * 1024);
    memset(big, 'x', 21 * 1024 - 1);
    big[21 * 1024 - 1] = '\0';
    ck_assert_int_eq(md_cmd_put_bucket_policy(t.client, tsm_seq(&t), "bk1", big, &c, &l), 0);
    free(big);
    ck_assert_int_eq(tsm_run(&t, c, l), CAIRN_E_INVAL);

    /* One read: the object and its bucket (ACLs and policy) together. */
    ck_assert_int_eq(md_q_get_object_and_bucket("bk1", "k", &q, &ql), 0);
    Md__QueryResult *r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->object->acl.len, 2);
    ck_assert_uint_eq(r->bucket->acl.len, sizeof(acl));
    ck_assert_mem_eq(r->bucket->acl.data, acl, sizeof(acl));
    ck_assert_str_eq(r->bucket->policy, "{\"Version\":1}");
    md_query_result_free(r);
    ck_assert_int_eq(md_q_get_object_and_bucket("bk1", "missing", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_KEY);
    ck_assert_ptr_nonnull(r->bucket);
    ck_assert_ptr_null(r->object);
    md_query_result_free(r);
    ck_assert_int_eq(md_q_get_object_and_bucket("nob", "k", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_int_eq(r->reason, MD__REASON__R_NO_SUCH_BUCKET);
    ck_assert_ptr_null(r->bucket);
    md_query_result_free(r);
    /* The plain GetObject carries no bucket. */
    ck_assert_int_eq(md_q_get_object("bk1", "k", &q, &ql), 0);
    r = tsm_query(&t, q, ql);
    ck_assert_ptr_null(r->bucket);
    md_query_result_free(r);
    /* Deleting the policy. */
    ck_assert_int_eq(md_cmd_put_bucket_policy(t.client, tsm_seq(&t), "bk1", "", &c, &l), 0);
    ck_assert_int_eq(tsm_run(&t, c, l), 0);
    r = head_bucket(&t, "bk1");
    ck_assert_str_eq(r->bucket->policy, "");
    md_query_result_free(r);
    tsm_close(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_iam");
    TCase *tc = tcase_create("both backends");
    tcase_add_loop_test(tc, test_users, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_keys_belong_to_users, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_caller_key_rides_on_queries, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_ownership_and_user_deletion, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_quotas_and_usage, 0, BACKEND_COUNT);
    tcase_add_loop_test(tc, test_acl_and_policy_storage, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
