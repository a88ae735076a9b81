/* Random command streams (every command type, conditions, retries, stale
 * requests, random slot sizes) applied to a memory replica and a LevelDB
 * replica: identical results and state hashes after every slot, every
 * invariant of md_sm_check() after every slot, and a snapshot of the end
 * state loads into a third replica with the same hash. A failing seed is
 * printed; CAIRN_MD_RANDOM_SEED=<seed> replays it. */
#include "md_test_util.h"
#include "md_check.h"
#include "md_place.h"
#include "md_snap.h"
#include "md_cmd_ver.h"
#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB     (1024ull * 1024ull)
#define CLIENTS 4

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
    return md_place_rand(&rng) % n;
}

static const char *const KEYS[] = {"k0", "k1", "k2", "d/x", "d/y", "d/z/w", "e"};
static const char *const UPLOADS[] = {"u0", "u1"};
static const char *const ETAGS[] = {"11111111111111111111111111111111",
                                    "22222222222222222222222222222222"};

/* Group ids are drawn from a small pool so that reuse (refused) happens. */
static void random_group(struct md_group_desc *g, uint64_t *cs, uint64_t len)
{
    make_group(g, 1 + rnd(60), 2, 1, len, cs);
    for (int i = 0; i < 3; i++)
        cs[i] = 100 + (uint64_t)i * 2 + rnd(2); /* distinct by construction */
    if (rnd(5) == 0)
        cs[rnd(3)] = 0; /* acked short of k+m */
}

static void random_command(uint64_t client, uint64_t seq, uint8_t **c, size_t *l)
{
    uint64_t bpick = rnd(8);
    const char *bucket = bpick == 0 ? "other" : bpick == 1 ? "lck" : "bkt";
    const char *key = KEYS[rnd(7)];
    const char *uid = UPLOADS[rnd(2)];
    struct md_group_desc g[3];
    uint64_t cs[3][3];
    int rc;
    char vid[24];
    if (rnd(4) == 0)
        snprintf(vid, sizeof(vid), "null");
    else
        md_version_id_format(1 + rnd(60), 0, vid);
    switch (rnd(32)) {
    case 29:
    case 26: { /* packed groups (issue #17): ids 55..66, half of them in the ordinary pool */
        make_group(&g[0], 55 + rnd(12), 2, 1, 0, cs[0]);
        g[0].unit = 4096;
        for (int i = 0; i < 3; i++)
            cs[0][i] = 100 + (uint64_t)i * 2 + rnd(2);
        rc = md_cmd_open_group(client, seq, &g[0], 1, "w", "", c, l);
        break;
    }
    case 30:
    case 31:
    case 27: { /* a batch at a guessed committed length: often refused */
        make_group(&g[0], 55 + rnd(12), 2, 1, 0, cs[0]);
        g[0].unit = 4096;
        const uint64_t stripe = 2 * 4096;
        uint64_t old = rnd(3) * stripe;
        struct md_packed_desc d[2];
        size_t n = 1 + rnd(2);
        for (size_t i = 0; i < n; i++) {
            memset(&d[i], 0, sizeof(d[i]));
            d[i].bucket = rnd(4) ? bucket : "bkt";
            d[i].key = KEYS[rnd(7)];
            d[i].group_offset = old + i * stripe;
            d[i].obj.size = 1 + rnd(stripe);
            d[i].obj.etag = "pk";
            d[i].obj.mtime_ms = (int64_t)rnd(5);
            d[i].cond = (enum md_cond)rnd(3);
            d[i].if_match = rnd(2) ? "pk" : "*";
        }
        rc = md_cmd_commit_packed(client, seq, &g[0], old, old + (n + rnd(2)) * stripe, d, n, 2, c,
                                  l);
        break;
    }
    case 28:
        make_group(&g[0], 55 + rnd(12), 2, 1, 0, cs[0]);
        rc = md_cmd_seal_group(client, seq, g[0].id, rnd(3) * 2 * 4096, (int)rnd(2), 3, c, l);
        break;
    case 19:
        rc = md_cmd_put_bucket_versioning(client, seq, bucket, (int)rnd(3), c, l);
        break;
    case 20:
    case 21:
        rc = md_cmd_delete_version(client, seq, bucket, key, rnd(4) ? vid : NULL,
                                   rnd(5) == 0 ? MD_COND_IF_MATCH : MD_COND_NONE, "grp",
                                   (int)rnd(2), (int64_t)rnd(3) * 1000, NULL, c, l);
        break;
    case 22: {
        struct md_delete_version_desc d[2] = {{KEYS[rnd(7)], vid, MD_COND_NONE, NULL},
                                              {KEYS[rnd(7)], NULL, MD_COND_NONE, NULL}};
        rc = md_cmd_delete_versions(client, seq, bucket, d, 2, (int)rnd(2), (int64_t)rnd(3) * 1000,
                                    NULL, c, l);
        break;
    }
    case 23: {
        random_group(&g[0], cs[0], MIB);
        struct md_object_desc o = {
            .size = MIB, .etag = "grp", .mtime_ms = 500, .groups = g, .n_groups = 1};
        o.lock.mode = (int)rnd(3);
        o.lock.retain_until_ms = o.lock.mode ? (int64_t)rnd(3) * 1000 + 1 : 0;
        o.lock.legal_hold = rnd(4) == 0;
        rc = md_cmd_put_object(client, seq, bucket, key, &o, MD_COND_NONE, NULL, c, l);
        break;
    }
    case 24:
        rc = rnd(2) ? md_cmd_put_object_retention(client, seq, bucket, key, rnd(2) ? vid : NULL,
                                                  (int)rnd(3), (int64_t)rnd(4) * 1000, (int)rnd(2),
                                                  (int64_t)rnd(2) * 1000, c, l)
                    : md_cmd_put_object_legal_hold(client, seq, bucket, key, rnd(2) ? vid : NULL,
                                                   (int)rnd(2), c, l);
        break;
    case 25:
        rc = md_cmd_put_object_lock_config(client, seq, bucket, (int)rnd(3), (uint32_t)rnd(2),
                                           (uint32_t)rnd(2), c, l);
        break;
    case 16: {
        struct md_delete_desc d[2] = {{KEYS[rnd(7)], (enum md_cond)(rnd(2) * 2), "aa"},
                                      {KEYS[rnd(7)], MD_COND_NONE, NULL}};
        rc = md_cmd_delete_objects(client, seq, bucket, d, 2, c, l);
        break;
    }
    case 17: {
        struct md_attrs_desc at = {.content_type = rnd(2) ? "x/y" : ""};
        rc = md_cmd_update_attrs(client, seq, bucket, key, &at, 5, (enum md_cond)(rnd(2) * 2),
                                 "grp", c, l);
        break;
    }
    case 18: { /* tagging and CORS: whole sets, sometimes too many (refused) */
        static const struct md_tag t[] = {{"a", "1"}, {"b", ""},  {"a", "2"}, {"c", "3"},
                                          {"d", "4"}, {"e", "5"}, {"f", "6"}, {"g", "7"},
                                          {"h", "8"}, {"i", "9"}, {"j", "x"}, {"k", "y"}};
        size_t off = rnd(3), n = rnd(13 - off); /* t[off, off + n) */
        static char *origins[] = {"*"}, *methods[] = {"GET"};
        Md__CorsRule rule = MD__CORS_RULE__INIT;
        rule.allowed_origins = origins;
        rule.n_allowed_origins = 1;
        rule.allowed_methods = methods;
        rule.n_allowed_methods = 1;
        Md__CorsRule *rules[] = {&rule};
        Md__CorsConfig cors = MD__CORS_CONFIG__INIT;
        cors.rules = rules;
        cors.n_rules = rnd(2);
        Md__LifecycleRule lr = MD__LIFECYCLE_RULE__INIT;
        lr.id = "r";
        lr.enabled = rnd(4) != 0;
        lr.prefix = rnd(2) ? "d/" : "";
        lr.expiration_days = (uint32_t)rnd(3);
        lr.abort_upload_days = (uint32_t)rnd(2);
        Md__LifecycleRule *lrs[] = {&lr};
        Md__LifecycleConfig lc = MD__LIFECYCLE_CONFIG__INIT;
        lc.rules = lrs;
        lc.n_rules = rnd(3) != 0;
        switch (rnd(5)) {
        case 3:
            rc = md_cmd_put_bucket_lifecycle(client, seq, bucket, &lc, c, l);
            break;
        case 4: /* times around the objects' (0..5) and days of 1 or 2 ms */
            rc = md_cmd_lifecycle_expire(client, seq, bucket, key, rnd(3) ? NULL : uid,
                                         (int64_t)rnd(8), 1 + (int64_t)rnd(2), c, l);
            break;
        case 0:
            rc = md_cmd_put_object_tagging(client, seq, bucket, key, t + off, n, c, l);
            break;
        case 1:
            rc = md_cmd_put_bucket_tagging(client, seq, bucket, t + off, n, c, l);
            break;
        default:
            rc = md_cmd_put_bucket_cors(client, seq, bucket, &cors, c, l);
            break;
        }
        break;
    }
    case 0: {
        struct md_owner_desc o = {0};
        rc = md_cmd_create_bucket_locked(client, seq, bucket, &o, bucket[0] == 'l', 1, c, l);
        break;
    }
    case 1:
        rc = md_cmd_delete_bucket(client, seq, bucket, c, l);
        break;
    case 2:
    case 3: {
        const char *data = rnd(2) ? "aa" : "bbb";
        struct md_object_desc o = {.size = strlen(data),
                                   .etag = data,
                                   .has_inline = 1,
                                   .inline_data = data,
                                   .inline_len = strlen(data)};
        enum md_cond cond = (enum md_cond)rnd(3);
        rc = md_cmd_put_object(client, seq, bucket, key, &o, cond, rnd(2) ? "aa" : "*", c, l);
        break;
    }
    case 4:
    case 5: {
        size_t n = 1 + rnd(3);
        for (size_t i = 0; i < n; i++)
            random_group(&g[i], cs[i], MIB);
        struct md_object_desc o = {.size = n * MIB, .etag = "grp", .groups = g, .n_groups = n};
        rc = md_cmd_put_object(client, seq, bucket, key, &o, (enum md_cond)rnd(3), "grp", c, l);
        break;
    }
    case 6:
        rc = md_cmd_delete_object(client, seq, bucket, key, rnd(3) == 0 ? MD_COND_IF_MATCH : 0,
                                  rnd(2) ? "aa" : "grp", c, l);
        break;
    case 7:
        rc = md_cmd_create_upload(client, seq, bucket, key, uid, "", NULL, 1, c, l);
        break;
    case 8:
    case 9: {
        uint64_t size = rnd(2) ? 5 * MIB : 100;
        random_group(&g[0], cs[0], size);
        rc = md_cmd_put_part(client, seq, bucket, key, uid, 1 + (uint32_t)rnd(3), ETAGS[rnd(2)],
                             size, 1, g, 1, c, l);
        break;
    }
    case 10: {
        struct md_part_ref p[3];
        size_t n = 1 + rnd(3);
        for (size_t i = 0; i < n; i++) {
            p[i].part_number = 1 + (uint32_t)rnd(3);
            p[i].etag = ETAGS[rnd(2)];
        }
        rc = md_cmd_complete_upload(client, seq, bucket, key, uid, p, n, (enum md_cond)rnd(2), NULL,
                                    2, c, l);
        break;
    }
    case 11:
        rc = md_cmd_abort_upload(client, seq, bucket, key, uid, c, l);
        break;
    case 12: {
        struct md_cs_desc d = {.id = 100 + rnd(8), .address = "a:1", .host = "h", .free = rnd(9)};
        rc = rnd(2)
                 ? md_cmd_register_cs(client, seq, &d, 3, c, l)
                 : md_cmd_set_cs_state(client, seq, d.id, (int)rnd(3) - 1, 1, 9, d.free, 4, c, l);
        break;
    }
    case 13: {
        make_group(&g[0], 1 + rnd(66), 2, 1, MIB, cs[0]); /* packed ones too */
        uint64_t old = rnd(3) ? 100 + rnd(6) : 0, nw = rnd(4) ? 100 + rnd(8) : 0;
        rc = md_cmd_move_fragment(client, seq, g[0].id, (uint32_t)rnd(4), old, nw, c, l);
        break;
    }
    case 14: {
        if (rnd(2)) {
            random_group(&g[0], cs[0], MIB);
            rc = md_cmd_garbage_add(client, seq, g, 1, c, l);
        } else {
            uint64_t seqs[2] = {1 + rnd(30), 1 + rnd(30)}, css[2] = {100 + rnd(6), 100 + rnd(6)};
            rc = md_cmd_garbage_ack(client, seq, seqs, css, 2, c, l);
        }
        break;
    }
    default:
        rc = rnd(2) ? md_cmd_create_access_key(client, seq, rnd(2) ? "A" : "B", "s", "", 0, 1, c, l)
                    : md_cmd_delete_access_key(client, seq, rnd(2) ? "A" : "B", c, l);
        break;
    }
    ck_assert_int_eq(rc, 0);
}

struct last {
    uint8_t *cmd, *result;
    size_t len, rlen;
};

/* CAIRN_MD_RANDOM_SEEDS=N runs seeds 1..N (default 6); CAIRN_MD_RANDOM_SEED=S
 * replays seed S alone. */
START_TEST(test_random_streams)
{
    uint64_t first = 1, last_seed = 6;
    const char *env = getenv("CAIRN_MD_RANDOM_SEEDS");
    if (env && *env)
        last_seed = strtoull(env, NULL, 10);
    env = getenv("CAIRN_MD_RANDOM_SEED");
    if (env && *env)
        first = last_seed = strtoull(env, NULL, 10);
    uint64_t versions_seen = 0, packed_live_seen = 0;
    for (uint64_t seed = first; seed <= last_seed; seed++) {
        rng = seed * 1000003;
        struct tsm a, b;
        tsm_open(&a, BACKEND_MEM);
        tsm_open(&b, BACKEND_LEVELDB);
        uint8_t *c;
        size_t l;
        ck_assert_int_eq(md_cmd_create_bucket(9, 0, "bkt", "", "", 0, 0, &c, &l), 0);
        uint8_t *ca = malloc(l);
        memcpy(ca, c, l);
        ck_assert_int_eq(tsm_run(&a, c, l), 0);
        ck_assert_int_eq(tsm_run(&b, ca, l), 0);
        uint64_t seqs[CLIENTS] = {0};
        struct last last[CLIENTS] = {{0}};
        uint64_t index = a.index;
        for (int slot = 0; slot < 250; slot++) {
            size_t n = 1 + rnd(5);
            uint8_t *cmds[5], *ra[5], *rb[5];
            size_t lens[5], rla[5], rlb[5];
            int client_of[5], fresh[5];
            for (size_t i = 0; i < n; i++) {
                int cl = (int)rnd(CLIENTS);
                client_of[i] = cl;
                fresh[i] = 0;
                uint64_t pick = rnd(20);
                if (pick == 0 && last[cl].cmd) { /* a retry */
                    cmds[i] = malloc(last[cl].len);
                    memcpy(cmds[i], last[cl].cmd, last[cl].len);
                    lens[i] = last[cl].len;
                } else if (pick == 1 && seqs[cl] > 1) { /* a stale request */
                    ck_assert_int_eq(
                        md_cmd_noop(10 + (uint64_t)cl, seqs[cl] - 1, &cmds[i], &lens[i]), 0);
                } else {
                    random_command(10 + (uint64_t)cl, ++seqs[cl], &cmds[i], &lens[i]);
                    fresh[i] = 1;
                }
            }
            /* a client has one command in flight: at most one per slot */
            for (size_t i = 1; i < n; i++) {
                int dup = 0;
                for (size_t j = 0; j < i; j++)
                    dup |= client_of[i] == client_of[j];
                if (!dup)
                    continue;
                if (fresh[i])
                    seqs[client_of[i]]--; /* never sent: reuse the seq */
                free(cmds[i]);
                n--;
                for (size_t k = i; k < n; k++) {
                    cmds[k] = cmds[k + 1];
                    lens[k] = lens[k + 1];
                    client_of[k] = client_of[k + 1];
                    fresh[k] = fresh[k + 1];
                }
                i--;
            }
            index += 1 + rnd(2);
            ck_assert_int_eq(
                md_sm_apply_slot(a.sm, index, n, (const void *const *)cmds, lens, NULL, ra, rla),
                0);
            ck_assert_int_eq(
                md_sm_apply_slot(b.sm, index, n, (const void *const *)cmds, lens, NULL, rb, rlb),
                0);
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg(rla[i] == rlb[i] && memcmp(ra[i], rb[i], rla[i]) == 0,
                              "seed %llu slot %d: replicas answered differently",
                              (unsigned long long)seed, slot);
                struct last *lc = &last[client_of[i]];
                if (!fresh[i] && lc->cmd && lens[i] == lc->len &&
                    memcmp(cmds[i], lc->cmd, lens[i]) == 0) {
                    /* a retry gets exactly the first answer */
                    ck_assert_uint_eq(rla[i], lc->rlen);
                    ck_assert(memcmp(ra[i], lc->result, rla[i]) == 0);
                }
                if (fresh[i]) {
                    free(lc->cmd);
                    free(lc->result);
                    lc->cmd = cmds[i];
                    lc->len = lens[i];
                    lc->result = ra[i];
                    lc->rlen = rla[i];
                } else {
                    free(cmds[i]);
                    free(ra[i]);
                }
                free(rb[i]);
            }
            uint8_t ha[32], hb[32];
            ck_assert_int_eq(md_sm_state_hash(a.ts.store, ha), 0);
            ck_assert_int_eq(md_sm_state_hash(b.ts.store, hb), 0);
            ck_assert_msg(memcmp(ha, hb, 32) == 0, "seed %llu slot %d: state hashes differ",
                          (unsigned long long)seed, slot);
            char why[256];
            int rc = md_sm_check(b.ts.store, why, sizeof(why));
            ck_assert_msg(rc == 0, "seed %llu slot %d: %s", (unsigned long long)seed, slot, why);
        }
        /* the end state: some of everything happened */
        Md__QueryResult *r;
        ck_assert_int_eq(md_query_chunkservers(a.ts.store, &r), 0);
        ck_assert_uint_gt(r->n_chunkservers, 0);
        md_query_result_free(r);
        /* a snapshot of it loads into a third replica */
        struct tstore third;
        tstore_open(&third, BACKEND_MEM);
        struct md_snap_loader *ld;
        ck_assert_int_eq(md_snap_load_begin(third.store, &ld), 0);
        ck_assert_int_eq(md_snap_write(b.ts.store, (md_snap_write_fn)md_snap_load_feed, ld, NULL),
                         0);
        ck_assert_int_eq(md_snap_load_finish(ld, 0, NULL), 0);
        uint8_t ha[32], hc[32];
        ck_assert_int_eq(md_sm_state_hash(a.ts.store, ha), 0);
        ck_assert_int_eq(md_sm_state_hash(third.store, hc), 0);
        ck_assert(memcmp(ha, hc, 32) == 0);
        ck_assert_int_eq(md_sm_check(third.store, NULL, 0), 0);
        tstore_close(&third);
        /* noncurrent versions and delete markers ("SV" keys) at the end */
        struct md_iter *it;
        ck_assert_int_eq(md_store_iter_new(a.ts.store, &it), 0);
        for (md_iter_seek(it, "SV", 2); md_iter_valid(it); md_iter_next(it)) {
            size_t kl;
            const unsigned char *k = md_iter_key(it, &kl);
            if (kl < 2 || k[0] != 'S' || k[1] != 'V')
                break;
            versions_seen++;
        }
        md_iter_free(it);
        /* packed groups holding objects ("SP" records with live extents) */
        ck_assert_int_eq(md_store_iter_new(a.ts.store, &it), 0);
        for (md_iter_seek(it, "SP", 2); md_iter_valid(it); md_iter_next(it)) {
            size_t kl, vl;
            const unsigned char *k = md_iter_key(it, &kl);
            if (kl < 2 || k[0] != 'S' || k[1] != 'P')
                break;
            const void *v = md_iter_value(it, &vl);
            Md__PackedGroup *pg = md__packed_group__unpack(NULL, vl, v);
            ck_assert_ptr_nonnull(pg);
            packed_live_seen += pg->live_extents;
            md__packed_group__free_unpacked(pg, NULL);
        }
        md_iter_free(it);
        for (int i = 0; i < CLIENTS; i++) {
            free(last[i].cmd);
            free(last[i].result);
        }
        tsm_close(&a);
        tsm_close(&b);
    }
    /* the streams reach versioned buckets, not only refusals */
    if (last_seed - first >= 5) {
        ck_assert_uint_gt(versions_seen, 0);
        ck_assert_uint_gt(packed_live_seen, 0); /* CommitPacked batches landed */
    }
}
END_TEST

/* The checker is not vacuous: damage of each kind is reported. */
START_TEST(test_checker_catches_damage)
{
    const char *const victims[] = {"Sx", "Sf", "Sa", "Sh", "SI", "SP"};
    for (int v = 0; v < 6; v++) {
        struct tsm t;
        tsm_open(&t, _i);
        uint8_t *c;
        size_t l;
        ck_assert_int_eq(md_cmd_create_bucket(1, 1, "bkt", "", "", 0, 0, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        struct md_group_desc g;
        uint64_t cs[6];
        make_group(&g, 1, 4, 2, MIB, cs);
        struct md_object_desc o = {.size = MIB, .etag = "e", .groups = &g, .n_groups = 1};
        ck_assert_int_eq(md_cmd_put_object(1, 2, "bkt", "a", &o, 0, NULL, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        make_group(&g, 2, 4, 2, MIB, cs);
        ck_assert_int_eq(md_cmd_put_object(1, 3, "bkt", "a", &o, 0, NULL, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0); /* garbage for group 1 */
        /* a packed group holding one object */
        make_group(&g, 3, 4, 2, 0, cs);
        g.unit = 4096;
        ck_assert_int_eq(md_cmd_open_group(1, 4, &g, 1, "w", "", &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        struct md_packed_desc pd = {.bucket = "bkt", .key = "p"};
        pd.obj.size = 100;
        pd.obj.etag = "e";
        ck_assert_int_eq(md_cmd_commit_packed(1, 5, &g, 0, 4 * 4096, &pd, 1, 2, &c, &l), 0);
        ck_assert_int_eq(tsm_run(&t, c, l), 0);
        ck_assert_int_eq(md_sm_check(t.ts.store, NULL, 0), 0);
        /* delete the first key of the victim kind */
        struct md_iter *it;
        ck_assert_int_eq(md_store_iter_new(t.ts.store, &it), 0);
        md_iter_seek(it, victims[v], 2);
        ck_assert(md_iter_valid(it));
        size_t kl;
        const void *k = md_iter_key(it, &kl);
        ck_assert(memcmp(k, victims[v], 2) == 0);
        struct md_batch *b = md_batch_new();
        md_batch_del(b, k, kl);
        md_iter_free(it);
        ck_assert_int_eq(md_store_write(t.ts.store, b), 0);
        md_batch_free(b);
        char why[256];
        ck_assert_int_eq(md_sm_check(t.ts.store, why, sizeof(why)), CAIRN_E_CORRUPT);
        ck_assert(why[0] != 0);
        tsm_close(&t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_random");
    TCase *tc = tcase_create("random");
    tcase_add_test(tc, test_random_streams);
    tcase_add_loop_test(tc, test_checker_catches_damage, 0, BACKEND_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
