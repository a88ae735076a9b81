/* Writes the binary seed corpora of the fuzz harnesses from Cairn's own
 * encoders, so the seeds are what the code really sends and stores:
 *
 *   fuzz_gen_corpus DIR     (DIR is tests/fuzz/corpus)
 *
 * proto      every wire and record message type (the fixture's commands,
 *            results, queries and answers, its stored records, Paxos,
 *            heartbeat and rebuild messages), each prefixed by its type index
 * md_query   one query of every kind
 * md_sm      the fixture's commands and new ones, alone and in sequences
 * md_snap    snapshot streams of the fixture and of an empty state
 * cs_fragment fragment files written by cs_frag_writer, and round-trip
 *            descriptions (with and without a flipped bit)
 *
 * Files are named gen-*; a run overwrites them and leaves every other file
 * (hand-written seeds, past crashes) alone. The text corpora are hand-made
 * and live in the tree as they are. */
#include "md_fixture.h"

#include "chunk.pb-c.h"
#include "cluster.pb-c.h"
#include "meta.pb-c.h"
#include "paxos.pb-c.h"

#include "cs_fragment.h"
#include "cs_io_fault.h"
#include "gw_acl.h"
#include "md_cmd.h"
#include "md_cmd_ver.h"
#include "md_query.h"
#include "md_sm.h"
#include "md_snap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;
static size_t written;

static void put_file(const char *corpus, const char *name, const void *a, size_t alen,
                     const void *b, size_t blen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out_dir, corpus);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/gen-%s", out_dir, corpus, name);
    FILE *f = fopen(path, "wb");
    if (!f || (alen && fwrite(a, 1, alen, f) != alen) || (blen && fwrite(b, 1, blen, f) != blen) ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

/* A proto seed: the type index byte, then the message. */
static void put_proto(unsigned type, const char *name, const void *msg, size_t len)
{
    uint8_t t = (uint8_t)type;
    put_file("proto", name, &t, 1, msg, len);
}

static void put_message(unsigned type, const char *name, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        exit(1);
    protobuf_c_message_pack(m, buf);
    put_proto(type, name, buf, len);
    free(buf);
}

static void must(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz_gen_corpus: %s failed: %d\n", what, rc);
        exit(1);
    }
}

/* ---- queries ----------------------------------------------------------- */

static void queries(void)
{
    static const uint8_t group1[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                       0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
    struct {
        const char *name;
        int rc;
        uint8_t *q;
        size_t len;
    } q[24];
    size_t n = 0;
#define Q(nm, call) (q[n].name = (nm), q[n].rc = (call), n++)
    Q("get-object", md_q_get_object("photos", "a.txt", &q[n].q, &q[n].len));
    Q("get-object-missing", md_q_get_object("photos", "nope", &q[n].q, &q[n].len));
    Q("get-object-and-bucket", md_q_get_object_and_bucket("photos", "big.bin", &q[n].q, &q[n].len));
    Q("head-bucket", md_q_head_bucket("logs", &q[n].q, &q[n].len));
    Q("list-buckets", md_q_list_buckets(&q[n].q, &q[n].len));
    Q("list-buckets-of", md_q_list_buckets_of("alice", &q[n].q, &q[n].len));
    Q("get-user", md_q_get_user("bob", &q[n].q, &q[n].len));
    Q("list-users", md_q_list_users(&q[n].q, &q[n].len));
    Q("list-keys-of", md_q_list_access_keys_of("alice", &q[n].q, &q[n].len));
    Q("list-objects", md_q_list_objects("photos", "", "", "", 1000, &q[n].q, &q[n].len));
    Q("list-objects-delim",
      md_q_list_objects("photos", "2024/", "/", "2024/feb/", 2, &q[n].q, &q[n].len));
    Q("list-parts", md_q_list_parts("photos", "video.mp4", "upl-1", 0, 1, &q[n].q, &q[n].len));
    Q("list-uploads", md_q_list_uploads("photos", "", "/", "", "", 10, &q[n].q, &q[n].len));
    Q("list-chunkservers", md_q_list_chunkservers(&q[n].q, &q[n].len));
    Q("get-group", md_q_get_group(group1, &q[n].q, &q[n].len));
    Q("fragments-on", md_q_fragments_on(2, NULL, 0, 100, &q[n].q, &q[n].len));
    Q("fragments-on-after", md_q_fragments_on(1, group1, 0, 1, &q[n].q, &q[n].len));
    Q("list-garbage", md_q_list_garbage(0, 10, &q[n].q, &q[n].len));
    Q("list-garbage-for", md_q_list_garbage_for(2, 0, 10, &q[n].q, &q[n].len));
    Q("get-access-key", md_q_get_access_key("AKIAALICE0000001", &q[n].q, &q[n].len));
    Q("list-access-keys", md_q_list_access_keys(&q[n].q, &q[n].len));
    Q("state-info", md_q_state_info(&q[n].q, &q[n].len));
#undef Q
    struct md_store *s = md_fixture_store();
    for (size_t i = 0; i < n; i++) {
        must(q[i].rc, q[i].name);
        put_file("md_query", q[i].name, q[i].q, q[i].len, NULL, 0);
        char name[96];
        snprintf(name, sizeof(name), "query-%s", q[i].name);
        put_proto(2, name, q[i].q, q[i].len);
        uint8_t *res;
        size_t rl;
        must(md_query(s, q[i].q, q[i].len, &res, &rl), "md_query");
        snprintf(name, sizeof(name), "query-result-%s", q[i].name);
        put_proto(3, name, res, rl);
        free(res);
        free(q[i].q);
    }
}

/* ---- commands ---------------------------------------------------------- */

struct cmd {
    uint8_t *data;
    size_t len;
};

/* Writes an md_sm seed: flags, then u16 length + bytes per command. */
static void put_sm(const char *name, uint8_t flags, const struct cmd *c, size_t n)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += 2 + c[i].len;
    uint8_t *buf = malloc(total);
    if (!buf)
        exit(1);
    size_t off = 0;
    buf[off++] = flags;
    for (size_t i = 0; i < n; i++) {
        if (c[i].len > 0xffff)
            exit(1);
        buf[off++] = (uint8_t)c[i].len;
        buf[off++] = (uint8_t)(c[i].len >> 8);
        memcpy(buf + off, c[i].data, c[i].len);
        off += c[i].len;
    }
    put_file("md_sm", name, buf, total, NULL, 0);
    free(buf);
}

/* Versioning and object lock (#13): a bucket of the fixture versioned,
 * versions, a delete marker, one version destroyed, a lock bucket with a
 * default retention, retention and legal hold, and a delete the lock
 * refuses. */
static void versioned_commands(void)
{
    const uint64_t c = 98;
    const int64_t t = 1700000500000;
    struct cmd v[10];
    size_t k = 0;
    struct md_object_desc o = {0};
    o.size = 3;
    o.etag = "acbd18db4cc2f85cedef654fccc4a4d8";
    o.mtime_ms = t;
    o.has_inline = 1;
    o.inline_data = "foo";
    o.inline_len = 3;
    struct md_owner_desc owner = {.user = "alice"};
    must(md_cmd_put_bucket_versioning(c, 1, "photos", MD__VERSIONING_STATUS__VERSIONING_ENABLED,
                                      &v[k].data, &v[k].len),
         "versioning");
    k++;
    must(md_cmd_put_object(c, 2, "photos", "a.txt", &o, MD_COND_NONE, NULL, &v[k].data, &v[k].len),
         "put version");
    k++;
    must(md_cmd_delete_version(c, 3, "photos", "a.txt", NULL, MD_COND_NONE, NULL, 0, t, &owner,
                               &v[k].data, &v[k].len),
         "marker");
    k++;
    must(md_cmd_delete_version(c, 4, "photos", "a.txt", "0000000000000001", MD_COND_NONE, NULL, 0,
                               t, &owner, &v[k].data, &v[k].len),
         "delete version");
    k++;
    must(md_cmd_create_bucket_locked(c, 5, "vault", &owner, 1, t, &v[k].data, &v[k].len),
         "lock bucket");
    k++;
    must(md_cmd_put_object_lock_config(c, 6, "vault", MD__LOCK_MODE__LOCK_GOVERNANCE, 1, 0,
                                       &v[k].data, &v[k].len),
         "lock config");
    k++;
    o.lock = (struct md_lock_desc){MD__LOCK_MODE__LOCK_COMPLIANCE, t + 3600000, 1};
    must(md_cmd_put_object(c, 7, "vault", "kept", &o, MD_COND_NONE, NULL, &v[k].data, &v[k].len),
         "locked put");
    k++;
    must(md_cmd_put_object_retention(c, 8, "vault", "kept", NULL, MD__LOCK_MODE__LOCK_COMPLIANCE,
                                     t + 7200000, 0, t, &v[k].data, &v[k].len),
         "retention");
    k++;
    must(md_cmd_put_object_legal_hold(c, 9, "vault", "kept", NULL, 0, &v[k].data, &v[k].len),
         "legal hold");
    k++;
    must(md_cmd_delete_version(c, 10, "vault", "kept", "0000000000000003", MD_COND_NONE, NULL, 1, t,
                               &owner, &v[k].data, &v[k].len),
         "refused delete");
    k++;
    char name[64];
    for (size_t i = 0; i < k; i++) {
        snprintf(name, sizeof(name), "versions-%02zu", i);
        put_sm(name, 0, &v[i], 1);
        snprintf(name, sizeof(name), "command-versions-%02zu", i);
        put_proto(0, name, v[i].data, v[i].len);
    }
    put_sm("versions-sequence", 0, v, k);
    put_sm("versions-sequence-one-slot", 2, v, k);
    for (size_t i = 0; i < k; i++)
        free(v[i].data);
}

static void commands(void)
{
    size_t n;
    const struct md_fixture_cmd *fc = md_fixture_commands(&n);
    char name[64];
    /* The fixture's own commands (stale for the fixture's client: dedup). */
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "fixture-%02zu", i);
        struct cmd c = {fc[i].data, fc[i].len};
        put_sm(name, 0, &c, 1);
        snprintf(name, sizeof(name), "command-%02zu", i);
        put_proto(0, name, fc[i].data, fc[i].len);
    }
    /* Their results. */
    struct md_store *s;
    struct md_sm *sm;
    must(md_store_open_mem(&s), "open");
    must(md_sm_open(s, NULL, &sm), "sm");
    for (size_t i = 0; i < n; i++) {
        uint8_t *res;
        size_t rl;
        must(md_sm_apply(sm, i + 1, fc[i].data, fc[i].len, &res, &rl), "apply");
        snprintf(name, sizeof(name), "result-%02zu", i);
        put_proto(1, name, res, rl);
        free(res);
    }
    md_sm_free(sm);
    md_store_free(s);

    /* New commands from a new client, against the fixture's state. */
    const uint64_t c = 99;
    struct cmd cm[17];
    size_t k = 0;
    struct md_object_desc o = {0};
    o.size = 3;
    o.etag = "acbd18db4cc2f85cedef654fccc4a4d8";
    o.mtime_ms = 1700000100000;
    o.has_inline = 1;
    o.inline_data = "foo";
    o.inline_len = 3;
    o.owner.user = "bob";
    must(
        md_cmd_put_object(c, 1, "logs", "new.txt", &o, MD_COND_NONE, NULL, &cm[k].data, &cm[k].len),
        "put");
    k++;
    must(md_cmd_delete_object(c, 2, "photos", "a.txt", MD_COND_IF_MATCH,
                              "5d41402abc4b2a76b9719d911017c592", &cm[k].data, &cm[k].len),
         "delete");
    k++;
    struct md_part_ref parts[2] = {{1, "11111111111111111111111111111111"},
                                   {2, "22222222222222222222222222222222"}};
    must(md_cmd_complete_upload(c, 3, "photos", "video.mp4", "upl-1", parts, 2, MD_COND_NONE, NULL,
                                1700000200000, &cm[k].data, &cm[k].len),
         "complete");
    k++;
    struct md_delete_desc del[2] = {{"2024/feb/y.jpg", MD_COND_NONE, NULL},
                                    {"big.bin", MD_COND_NONE, NULL}};
    must(md_cmd_delete_objects(c, 4, "photos", del, 2, &cm[k].data, &cm[k].len), "deletes");
    k++;
    must(md_cmd_delete_bucket(c, 5, "empty", &cm[k].data, &cm[k].len), "delete bucket");
    k++;
    must(md_cmd_delete_user(c, 6, "bob", &cm[k].data, &cm[k].len), "delete user");
    k++;
    must(md_cmd_set_key_state(c, 7, "AKIAALICE0000001", 1, &cm[k].data, &cm[k].len), "key state");
    k++;
    uint64_t gcs[] = {2, 3};
    uint64_t gseqs[] = {1, 1};
    must(md_cmd_garbage_ack(c, 8, gseqs, gcs, 2, &cm[k].data, &cm[k].len), "ack");
    k++;
    struct md_attrs_desc attrs = {.content_type = "image/jpeg", .cache_control = "no-cache"};
    must(md_cmd_update_attrs(c, 9, "photos", "2024/jan/x.jpg", &attrs, 1700000300000, MD_COND_NONE,
                             NULL, &cm[k].data, &cm[k].len),
         "attrs");
    k++;
    must(md_cmd_delete_access_key(c, 10, "AKIABOB000000002", &cm[k].data, &cm[k].len), "del key");
    k++;
    must(md_cmd_set_cs_state(c, 11, 3, 2, 0, 0, 0, 1700000400000, &cm[k].data, &cm[k].len),
         "cs state");
    k++;
    must(md_cmd_abort_upload(c, 12, "photos", "video.mp4", "upl-1", &cm[k].data, &cm[k].len),
         "abort");
    k++;
    /* Tagging and CORS (#13): a tag set on an object and a bucket, a rule. */
    struct md_tag tags[2] = {{"project", "cairn"}, {"empty", ""}};
    must(md_cmd_put_object_tagging(c, 13, "photos", "a.txt", tags, 2, &cm[k].data, &cm[k].len),
         "object tags");
    k++;
    must(md_cmd_put_bucket_tagging(c, 14, "photos", tags, 1, &cm[k].data, &cm[k].len),
         "bucket tags");
    k++;
    char *origins[] = {"https://*.example.com"}, *methods[] = {"GET", "PUT"},
         *headers[] = {"x-amz-*"};
    Md__CorsRule rule = MD__CORS_RULE__INIT;
    rule.allowed_origins = origins;
    rule.n_allowed_origins = 1;
    rule.allowed_methods = methods;
    rule.n_allowed_methods = 2;
    rule.allowed_headers = headers;
    rule.n_allowed_headers = 1;
    rule.has_max_age = 1;
    rule.max_age_seconds = 600;
    Md__CorsRule *rules[] = {&rule};
    Md__CorsConfig cors = MD__CORS_CONFIG__INIT;
    cors.rules = rules;
    cors.n_rules = 1;
    must(md_cmd_put_bucket_cors(c, 15, "photos", &cors, &cm[k].data, &cm[k].len), "cors");
    k++;
    /* Lifecycle (#13): rules on photos, and the worker's expiration. */
    Md__LifecycleRule lr = MD__LIFECYCLE_RULE__INIT;
    lr.id = "old";
    lr.enabled = 1;
    lr.prefix = "2024/";
    lr.expiration_days = 1;
    lr.abort_upload_days = 1;
    Md__LifecycleRule *lrs[] = {&lr};
    Md__LifecycleConfig lc = MD__LIFECYCLE_CONFIG__INIT;
    lc.rules = lrs;
    lc.n_rules = 1;
    must(md_cmd_put_bucket_lifecycle(c, 16, "photos", &lc, &cm[k].data, &cm[k].len), "lifecycle");
    k++;
    must(md_cmd_lifecycle_expire(c, 17, "photos", "2024/jan/x.jpg", NULL, 1800000000000, 86400000,
                                 &cm[k].data, &cm[k].len),
         "expire");
    k++;
    for (size_t i = 0; i < k; i++) {
        snprintf(name, sizeof(name), "new-%02zu", i);
        put_sm(name, 0, &cm[i], 1);
        snprintf(name, sizeof(name), "command-new-%02zu", i);
        put_proto(0, name, cm[i].data, cm[i].len);
    }
    put_sm("sequence", 0, cm, 8);
    put_sm("sequence-one-slot", 2, cm, 8);
    put_sm("sequence-evicting", 1, cm + 4, 8);
    /* Retrying a command gives its saved result. */
    struct cmd twice[2] = {cm[0], cm[0]};
    put_sm("retry", 0, twice, 2);
    for (size_t i = 0; i < k; i++)
        free(cm[i].data);
    versioned_commands();
}

/* ---- stored records ---------------------------------------------------- */

static void records(void)
{
    static const struct {
        char tag;
        unsigned type;
        const char *name;
    } map[] = {
        {'o', 10, "object"},  {'b', 11, "bucket"},     {'U', 12, "user"},
        {'u', 13, "upload"},  {'p', 14, "part"},       {'n', 15, "cs"},
        {'g', 16, "garbage"}, {'k', 17, "access-key"}, {'c', 18, "session"},
        {'x', 19, "locator"}, {'I', 20, "store-info"},
    };
    struct md_iter *it;
    must(md_store_iter_new(md_fixture_store(), &it), "iter");
    unsigned count[256] = {0};
    for (md_iter_seek_first(it); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = md_iter_key(it, &kl);
        const void *v = md_iter_value(it, &vl);
        if (kl < 2 || k[0] != 'S' || vl == 0)
            continue;
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            if (map[i].tag != (char)k[1] || count[k[1]] >= 3)
                continue;
            char name[64];
            snprintf(name, sizeof(name), "record-%s-%u", map[i].name, count[k[1]]++);
            put_proto(map[i].type, name, v, vl);
        }
    }
    md_iter_free(it);
    /* md.Acl as the gateway encodes it: a canned ACL and one with every
     * grantee type. */
    const struct gw_acl_owner alice = {
        "a11ce00000000000000000000000000000000000000000000000000000000001", "alice"};
    struct gw_acl *acl;
    uint8_t *buf;
    size_t len;
    must(gw_acl_canned("public-read", &alice, NULL, &acl, NULL, NULL), "canned");
    must(gw_acl_pack(acl, &buf, &len), "pack");
    put_proto(21, "acl-public-read", buf, len);
    free(buf);
    must(gw_acl_add(acl, GW_ACL_USER, "c0ffee-bob", "bob", GW_ACL_WRITE_ACP), "grant");
    must(gw_acl_add(acl, GW_ACL_AUTHENTICATED_USERS, NULL, NULL, GW_ACL_READ_ACP), "grant");
    must(gw_acl_add(acl, GW_ACL_LOG_DELIVERY, NULL, NULL, GW_ACL_WRITE), "grant");
    must(gw_acl_pack(acl, &buf, &len), "pack");
    put_proto(21, "acl-every-grantee", buf, len);
    free(buf);
    gw_acl_free(acl);
}

/* ---- Paxos, heartbeats, rebuilds --------------------------------------- */

static void cluster(void)
{
    size_t n;
    const struct md_fixture_cmd *fc = md_fixture_commands(&n);
    /* A batch slot value of two commands, a no-op and a membership. */
    uint8_t value[512];
    size_t vl = 0;
    value[vl++] = 1;
    uint32_t count = 2;
    memcpy(value + vl, &count, 4);
    vl += 4;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t client = 7, seq = i + 1;
        uint32_t len = (uint32_t)fc[i].len;
        memcpy(value + vl, &client, 8);
        memcpy(value + vl + 8, &seq, 8);
        memcpy(value + vl + 16, &len, 4);
        memcpy(value + vl + 20, fc[i].data, len);
        vl += 20 + len;
    }
    put_proto(22, "slot-batch", value, vl);
    uint8_t noop = 0;
    put_proto(22, "slot-noop", &noop, 1);
    uint8_t member[] = {2, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0};
    put_proto(22, "slot-membership", member, sizeof(member));

    /* A batch (POST /v1/batch) of two commands and a query, and an answer. */
    uint8_t *hq = NULL;
    size_t hql = 0;
    must(md_q_head_bucket("photos", &hq, &hql), "head bucket query");
    Md__BatchItem bi[3], *bip[3];
    for (size_t i = 0; i < 3; i++) {
        md__batch_item__init(&bi[i]);
        bip[i] = &bi[i];
    }
    for (size_t i = 0; i < 2; i++) {
        bi[i].client_id = 7;
        bi[i].seq = i + 1;
        bi[i].body.data = (uint8_t *)fc[i].data;
        bi[i].body.len = fc[i].len;
    }
    bi[2].query = 1;
    bi[2].body.data = hq;
    bi[2].body.len = hql;
    Md__Batch batch = MD__BATCH__INIT;
    batch.n_items = 3;
    batch.items = bip;
    put_message(25, "batch", &batch.base);
    Md__BatchItemResult br[2], *brp[2] = {&br[0], &br[1]};
    md__batch_item_result__init(&br[0]);
    md__batch_item_result__init(&br[1]);
    br[0].body.data = value; /* any bytes: the owner decodes them */
    br[0].body.len = 16;
    br[1].status = -13; /* CAIRN_E_NOTLEADER */
    Md__BatchResult bres = MD__BATCH_RESULT__INIT;
    bres.n_items = 2;
    bres.items = brp;
    put_message(26, "batch-result", &bres.base);
    free(hq);

    Px__Entry e = PX__ENTRY__INIT, *ep = &e;
    e.slot = 42;
    e.ballot = (3ull << 32) | 1;
    e.value.data = value;
    e.value.len = vl;
    put_message(5, "entry", &e.base);
    Px__Msg m = PX__MSG__INIT;
    m.type = 5; /* PAXOS_MSG_ACCEPT */
    m.from = 1;
    m.ballot = e.ballot;
    m.commit = 41;
    m.read_seq = 9;
    m.n_entries = 1;
    m.entries = &ep;
    put_message(4, "msg-accept", &m.base);
    Px__Msg p = PX__MSG__INIT;
    p.type = 3; /* PAXOS_MSG_PREPARE */
    p.from = 2;
    p.ballot = (4ull << 32) | 2;
    p.commit = 40;
    put_message(4, "msg-prepare", &p.base);
    Px__Promise pr = PX__PROMISE__INIT;
    pr.ballot = p.ballot;
    put_message(6, "promise", &pr.base);

    uint8_t digest[32];
    memset(digest, 0xab, sizeof(digest));
    Cl__Heartbeat hb = CL__HEARTBEAT__INIT;
    hb.id = 3;
    hb.address = "10.0.0.3:9100";
    hb.capacity = 1ull << 40;
    hb.free = 1ull << 39;
    hb.fragments = 1234;
    hb.inventory_digest.data = digest;
    hb.inventory_digest.len = sizeof(digest);
    put_message(7, "heartbeat", &hb.base);
    uint8_t gid[16];
    for (int i = 0; i < 16; i++)
        gid[i] = (uint8_t)(0x50 + i);
    uint32_t idx[] = {0, 2};
    Cl__Deletion del = CL__DELETION__INIT, *dp = &del;
    del.seq = 1;
    del.group_id.data = gid;
    del.group_id.len = 16;
    del.n_indices = 2;
    del.indices = idx;
    Cl__HeartbeatReply rep = CL__HEARTBEAT_REPLY__INIT;
    rep.down_after_ms = 30000;
    rep.n_deletions = 1;
    rep.deletions = &dp;
    put_message(8, "heartbeat-reply", &rep.base);

    Chunk__FragmentSource src[3] = {CHUNK__FRAGMENT_SOURCE__INIT, CHUNK__FRAGMENT_SOURCE__INIT,
                                    CHUNK__FRAGMENT_SOURCE__INIT};
    Chunk__FragmentSource *sp[3] = {&src[0], &src[1], &src[2]};
    static const char *const addrs[] = {"10.0.0.1:9100", "10.0.0.2:9100", "cs-4:9100"};
    for (int i = 0; i < 3; i++) {
        src[i].index = (uint32_t)(i + 1);
        src[i].address = (char *)addrs[i];
    }
    Chunk__RebuildRequest rr = CHUNK__REBUILD_REQUEST__INIT;
    rr.group_id.data = gid;
    rr.group_id.len = 16;
    rr.index = 0;
    rr.k = 2;
    rr.m = 2;
    rr.unit = 65536;
    rr.data_length = 131072;
    rr.n_sources = 3;
    rr.sources = sp;
    rr.check_crc = 1;
    rr.data_crc32c = 0x12345678;
    put_message(9, "rebuild", &rr.base);
}

/* ---- snapshots --------------------------------------------------------- */

struct stream {
    uint8_t *p;
    size_t n, cap;
};

static int collect(void *ctx, const void *buf, size_t len)
{
    struct stream *s = ctx;
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->p = realloc(s->p, s->cap);
        if (!s->p)
            exit(1);
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

static void snapshots(void)
{
    struct stream st = {0};
    must(md_snap_write(md_fixture_store(), collect, &st, NULL), "snapshot");
    uint8_t flags[] = {0x00, 0x01, 0x02, 0x0b};
    static const char *const names[] = {"fixture", "fixture-fixup", "fixture-bytewise",
                                        "fixture-fixup-pieces"};
    for (size_t i = 0; i < sizeof(flags); i++)
        put_file("md_snap", names[i], &flags[i], 1, st.p, st.n);
    free(st.p);
    struct md_store *s;
    struct md_sm *sm;
    must(md_store_open_mem(&s), "open");
    must(md_sm_open(s, NULL, &sm), "sm");
    md_sm_free(sm);
    struct stream empty = {0};
    must(md_snap_write(s, collect, &empty, NULL), "snapshot");
    put_file("md_snap", "empty", flags, 1, empty.p, empty.n);
    free(empty.p);
    md_store_free(s);
}

/* ---- fragments --------------------------------------------------------- */

static void fragment_file(const char *name, uint16_t k, uint16_t m, uint32_t index, uint32_t len)
{
    cs_io_fault *f;
    must(cs_io_fault_new(16u << 20, 1, &f), "fault fs");
    const cs_io *io = cs_io_fault_io(f);
    cs_frag_meta meta = {0};
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        meta.group[i] = (uint8_t)(0x20 + i);
    meta.index = index;
    meta.k = k;
    meta.m = m;
    meta.unit = 4096;
    meta.data_len = len;
    int fd;
    must(io->open(io, "/f", CS_IO_WRITE | CS_IO_CREATE, &fd), "create");
    cs_frag_writer *w;
    must(cs_frag_writer_new(io, fd, &meta, 0, &w), "writer");
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        exit(1);
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    must(cs_frag_writer_append(w, data, len), "append");
    uint32_t crc;
    must(cs_frag_writer_finish(w, &crc), "finish");
    cs_frag_writer_free(w);
    io->close(io, fd);
    free(data);
    char *file;
    size_t flen;
    must(cs_io_read_file(io, "/f", 1u << 20, &file, &flen), "read");
    uint8_t mode = 0;
    put_file("cs_fragment", name, &mode, 1, file, flen);
    free(file);
    cs_io_fault_free(f);
}

static void round_trip_seed(const char *name, uint16_t k, uint16_t m, uint32_t index, uint32_t unit,
                            uint32_t len, uint16_t piece, uint32_t flip)
{
    uint8_t b[1 + 2 + 2 + 4 + 4 + 4 + 2 + 4 + 8];
    size_t o = 0;
    b[o++] = 1;
    memcpy(b + o, &k, 2), o += 2;
    memcpy(b + o, &m, 2), o += 2;
    memcpy(b + o, &index, 4), o += 4;
    memcpy(b + o, &unit, 4), o += 4;
    memcpy(b + o, &len, 4), o += 4;
    memcpy(b + o, &piece, 2), o += 2;
    memcpy(b + o, &flip, 4), o += 4;
    memcpy(b + o, "fragment", 8), o += 8;
    put_file("cs_fragment", name, b, o, NULL, 0);
}

static void fragments(void)
{
    fragment_file("file-empty", 2, 1, 0, 0);
    fragment_file("file-small", 4, 2, 5, 100);
    fragment_file("file-two-blocks", 10, 4, 3, 70000);
    round_trip_seed("rt-intact", 4, 2, 1, 65536, 150000, 4096, 0);
    round_trip_seed("rt-flip-header", 2, 1, 0, 4096, 1000, 0, 1 + 8 * 40 + 3);
    round_trip_seed("rt-flip-data", 6, 3, 8, 4096, 140000, 333, 1 + 8 * (64 + 70000));
    round_trip_seed("rt-flip-table", 2, 2, 3, 1, 70000, 0, 1 + 8 * (64 + 70000 + 5));
    round_trip_seed("rt-bad-meta", 33, 1, 0, 4096, 10, 0, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    queries();
    commands();
    records();
    cluster();
    snapshots();
    fragments();
    printf("fuzz_gen_corpus: wrote %zu files under %s\n", written, out_dir);
    return 0;
}
