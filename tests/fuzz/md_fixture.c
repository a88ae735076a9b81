/* The metadata state the metadata harnesses start from (md_fixture.h). */
#include "md_fixture.h"

#include "gw_acl.h"
#include "md_cmd.h"
#include "md_sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000LL /* 2023-11-14, the fixture's clock (ms) */

static struct md_fixture_cmd cmds[64];
static size_t n_cmds;
static struct md_store *store;

static const char alice_id[] = "a11ce00000000000000000000000000000000000000000000000000000000001";
static const char bob_id[] = "b0b0000000000000000000000000000000000000000000000000000000000002";

static void add(int rc, uint8_t *data, size_t len)
{
    if (rc != 0 || n_cmds == sizeof(cmds) / sizeof(cmds[0])) {
        fprintf(stderr, "md_fixture: building command %zu failed (%d)\n", n_cmds, rc);
        abort();
    }
    cmds[n_cmds].data = data;
    cmds[n_cmds].len = len;
    n_cmds++;
}

/* A deterministic group id from n; fragments on chunkservers 1..k+m. */
static void group(struct md_group_desc *g, uint8_t n, uint32_t k, uint32_t m, uint64_t len)
{
    static const uint64_t cs[] = {1, 2, 3, 4, 5, 6};
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 16; i++)
        g->id[i] = (uint8_t)(0x10 * n + i);
    g->k = k;
    g->m = m;
    g->unit = 65536;
    g->data_length = len;
    g->fragment_cs = cs;
}

static void build_commands(void)
{
    uint8_t *d;
    size_t l;
    uint64_t seq = 0;
    const uint64_t c = MD_FIXTURE_CLIENT;
#define ADD(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        add(rc_, d, l);                                                                            \
    } while (0)
    for (uint64_t id = 1; id <= 4; id++) {
        char addr[32], host[16];
        snprintf(addr, sizeof(addr), "10.0.0.%llu:9100", (unsigned long long)id);
        snprintf(host, sizeof(host), "cs-%llu", (unsigned long long)id);
        struct md_cs_desc cs = {id, addr, host, "rack-a", "zone-1", 1ull << 40, 1ull << 39};
        ADD(md_cmd_register_cs(c, ++seq, &cs, T0, &d, &l));
    }
    ADD(md_cmd_set_cs_state(c, ++seq, 4, -1, 1, 1ull << 40, 1ull << 30, T0 + 1, &d, &l));
    ADD(md_cmd_create_user(c, ++seq, "alice", alice_id, T0, &d, &l));
    ADD(md_cmd_create_user(c, ++seq, "bob", bob_id, T0, &d, &l));
    ADD(md_cmd_create_access_key_for(c, ++seq, "AKIAALICE0000001", "alice-secret", "alice", 0, NULL,
                                     T0, &d, &l));
    ADD(md_cmd_create_access_key_for(c, ++seq, "AKIABOB000000002", "bob-secret", "bob", 1, NULL, T0,
                                     &d, &l));

    struct gw_acl *acl = NULL;
    const struct gw_acl_owner alice = {alice_id, "alice"}, bob = {bob_id, "bob"};
    uint8_t *acl_bytes, *bob_acl;
    size_t acl_len, bob_acl_len;
    if (gw_acl_canned("private", &alice, NULL, &acl, NULL, NULL) ||
        gw_acl_pack(acl, &acl_bytes, &acl_len))
        abort();
    gw_acl_free(acl);
    if (gw_acl_canned("public-read", &bob, NULL, &acl, NULL, NULL) ||
        gw_acl_pack(acl, &bob_acl, &bob_acl_len))
        abort();
    gw_acl_free(acl);
    struct md_owner_desc a_own = {"alice", alice_id, acl_bytes, acl_len};
    struct md_owner_desc b_own = {"bob", bob_id, bob_acl, bob_acl_len};
    ADD(md_cmd_create_bucket_owned(c, ++seq, "photos", &a_own, NULL, 0, T0, &d, &l));
    ADD(md_cmd_create_bucket_owned(c, ++seq, "logs", &b_own, "REDUCED_REDUNDANCY", 1, T0, &d, &l));
    ADD(md_cmd_create_bucket(c, ++seq, "empty", "", NULL, 0, T0, &d, &l));
    ADD(md_cmd_set_quota(c, ++seq, "alice", NULL, 1ull << 30, 1000, &d, &l));
    ADD(md_cmd_set_quota(c, ++seq, NULL, "logs", 0, 10, &d, &l));
    ADD(md_cmd_put_bucket_acl(c, ++seq, "photos", acl_bytes, acl_len, &d, &l));
    ADD(md_cmd_put_bucket_policy(
        c, ++seq, "photos",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
        "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::photos/public/*\"}]}",
        &d, &l));

    static const char *const keys[] = {"a.txt",          "public/index.html", "2024/jan/x.jpg",
                                       "2024/feb/y.jpg", "2024/feb/z.jpg",    "2024/mar"};
    struct md_meta_kv meta = {"camera", "x100"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct md_object_desc o = {0};
        o.size = 5;
        o.etag = "5d41402abc4b2a76b9719d911017c592";
        o.mtime_ms = T0 + (int64_t)i;
        o.attrs.content_type = "text/plain";
        o.attrs.user_meta = &meta;
        o.attrs.n_user_meta = i % 2;
        o.has_inline = 1;
        o.inline_data = "hello";
        o.inline_len = 5;
        o.owner.user = "alice";
        o.owner.id = alice_id;
        ADD(md_cmd_put_object(c, ++seq, "photos", keys[i], &o, MD_COND_NONE, NULL, &d, &l));
    }
    struct md_group_desc g[4];
    group(&g[0], 1, 2, 1, 100000);
    struct md_object_desc big = {0};
    big.size = 100000;
    big.etag = "0123456789abcdef0123456789abcdef";
    big.mtime_ms = T0 + 10;
    big.groups = g;
    big.n_groups = 1;
    ADD(md_cmd_put_object(c, ++seq, "photos", "big.bin", &big, MD_COND_IF_NONE_MATCH, NULL, &d,
                          &l));
    ADD(md_cmd_put_object_acl(c, ++seq, "photos", "a.txt", bob_acl, bob_acl_len, &d, &l));

    /* An open upload with two parts, and a completed one. */
    struct md_attrs_desc attrs = {.content_type = "video/mp4"};
    ADD(md_cmd_create_upload_owned(c, ++seq, "photos", "video.mp4", "upl-1", &a_own, &attrs, T0, &d,
                                   &l));
    group(&g[1], 2, 4, 2, 5u << 20);
    ADD(md_cmd_put_part(c, ++seq, "photos", "video.mp4", "upl-1", 1,
                        "11111111111111111111111111111111", 5u << 20, T0 + 1, &g[1], 1, &d, &l));
    group(&g[2], 3, 2, 1, 1000);
    ADD(md_cmd_put_part(c, ++seq, "photos", "video.mp4", "upl-1", 2,
                        "22222222222222222222222222222222", 1000, T0 + 2, &g[2], 1, &d, &l));
    ADD(md_cmd_create_upload(c, ++seq, "logs", "day/1.log", "upl-2", "bob", NULL, T0, &d, &l));
    group(&g[3], 4, 2, 1, 700);
    ADD(md_cmd_put_part(c, ++seq, "logs", "day/1.log", "upl-2", 1,
                        "33333333333333333333333333333333", 700, T0 + 3, &g[3], 1, &d, &l));
    struct md_part_ref part = {1, "33333333333333333333333333333333"};
    ADD(md_cmd_complete_upload(c, ++seq, "logs", "day/1.log", "upl-2", &part, 1, MD_COND_NONE, NULL,
                               T0 + 4, &d, &l));
    ADD(md_cmd_create_upload(c, ++seq, "logs", "day/2.log", "upl-3", "bob", NULL, T0, &d, &l));
    ADD(md_cmd_abort_upload(c, ++seq, "logs", "day/2.log", "upl-3", &d, &l));

    /* Garbage: an overwritten object's group, one chunkserver acknowledging. */
    struct md_group_desc gg;
    group(&gg, 5, 2, 1, 4096);
    ADD(md_cmd_garbage_add(c, ++seq, &gg, 1, &d, &l));
    uint64_t gseq = 1, gcs = 1;
    ADD(md_cmd_garbage_ack(c, ++seq, &gseq, &gcs, 1, &d, &l));
    ADD(md_cmd_move_fragment(c, ++seq, g[0].id, 2, 3, 4, &d, &l));
    ADD(md_cmd_delete_object(c, ++seq, "photos", "2024/mar", MD_COND_NONE, NULL, &d, &l));
    ADD(md_cmd_noop(c, ++seq, &d, &l));
#undef ADD
    free(acl_bytes);
    free(bob_acl);
}

const struct md_fixture_cmd *md_fixture_commands(size_t *n)
{
    if (!n_cmds)
        build_commands();
    *n = n_cmds;
    return cmds;
}

struct md_store *md_fixture_store(void)
{
    if (store)
        return store;
    size_t n;
    const struct md_fixture_cmd *c = md_fixture_commands(&n);
    struct md_sm *sm;
    if (md_store_open_mem(&store) || md_sm_open(store, NULL, &sm)) {
        fprintf(stderr, "md_fixture: cannot open the state machine\n");
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *res;
        size_t rl;
        int rc = md_sm_apply(sm, i + 1, c[i].data, c[i].len, &res, &rl);
        int reason = 0;
        int status = rc ? rc : md_result_status(res, rl, &reason);
        if (rc == 0)
            free(res);
        if (status != 0) {
            fprintf(stderr, "md_fixture: command %zu failed: %d (reason %d)\n", i, status, reason);
            abort();
        }
    }
    md_sm_free(sm);
    return store;
}
