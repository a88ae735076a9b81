/* libcairn-mdclient: the command/query builders and result decoding (pure),
 * and the client itself against a real three-replica metadata group started
 * in this process on 127.0.0.1 (md_server, LevelDB in a temporary directory):
 * leader discovery from a follower, a retried command applied once, the
 * typed calls (place, heartbeat, cluster, repair, damage), failover, a
 * refused secret, a deadline with nobody listening, and clients sharing a
 * batcher (md_batch.h): concurrent commands and reads in batches, each
 * applied once and answered to its own caller, a refused item among
 * accepted ones; and clients sending on a pool's (md_pool.h). */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"
#include "cluster.pb-c.h"
#include "md_batch.h"
#include "md_client.h"
#include "md_cmd.h"
#include "md_pool.h"
#include "md_server.h"

#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char secret[] = "mdclient-test-secret-0123456789";

/* ---------------------------------------------------------------- builders */

START_TEST(put_object_round_trip)
{
    uint64_t cs[6] = {11, 12, 13, 14, 15, 0};
    struct md_group_desc g[2] = {
        {.id = {1, 2, 3}, .k = 4, .m = 2, .unit = 65536, .data_length = 1000, .fragment_cs = cs},
        {.id = {9}, .k = 4, .m = 2, .unit = 4096, .data_length = 24, .fragment_cs = cs}};
    struct md_meta_kv meta[1] = {{"color", "blue"}};
    struct md_object_desc obj = {
        .size = 1024,
        .etag = "abc",
        .mtime_ms = 77,
        .attrs = {.content_type = "text/plain", .user_meta = meta, .n_user_meta = 1},
        .groups = g,
        .n_groups = 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        md_cmd_put_object(5, 6, "bkt", "a/key", &obj, MD_COND_IF_MATCH, "e1", &buf, &len), 0);
    Md__Command *c = md__command__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->client_id, 5);
    ck_assert_uint_eq(c->seq, 6);
    ck_assert_int_eq(c->op_case, MD__COMMAND__OP_PUT_OBJECT);
    const Md__PutObject *p = c->put_object;
    ck_assert_str_eq(p->bucket, "bkt");
    ck_assert_str_eq(p->key, "a/key");
    ck_assert_str_eq(p->if_match, "e1");
    ck_assert_uint_eq(p->record->size, 1024);
    ck_assert_str_eq(p->record->etag, "abc");
    ck_assert_str_eq(p->record->attrs->content_type, "text/plain");
    ck_assert_uint_eq(p->record->attrs->n_user_meta, 1);
    ck_assert_str_eq(p->record->attrs->user_meta[0]->value, "blue");
    ck_assert_uint_eq(p->record->n_extents, 2);
    /* Offsets are computed from the groups' lengths, in order. */
    ck_assert_uint_eq(p->record->extents[0]->offset, 0);
    ck_assert_uint_eq(p->record->extents[1]->offset, 1000);
    ck_assert_uint_eq(p->record->extents[0]->group->n_fragment_cs, 6);
    ck_assert_uint_eq(p->record->extents[0]->group->fragment_cs[4], 15);
    ck_assert_uint_eq(p->record->extents[1]->group->unit, 4096);
    md__command__free_unpacked(c, NULL);
    free(buf);
}
END_TEST

START_TEST(null_strings_become_empty)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(md_q_list_objects("b", NULL, NULL, NULL, 7, &buf, &len), 0);
    Md__Query *q = md__query__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(q->q_case, MD__QUERY__Q_LIST_OBJECTS);
    ck_assert_str_eq(q->list_objects->prefix, "");
    ck_assert_uint_eq(q->list_objects->max_keys, 7);
    md__query__free_unpacked(q, NULL);
    free(buf);
}
END_TEST

START_TEST(result_status_decoding)
{
    Md__Result r = MD__RESULT__INIT;
    r.status = CAIRN_E_NOTFOUND;
    r.reason = MD__REASON__R_NO_SUCH_KEY;
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(cn_pb_pack(&r.base, &buf, &len), 0);
    int reason = -1;
    ck_assert_int_eq(md_result_status(buf, len, &reason), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(reason, MD__REASON__R_NO_SUCH_KEY);
    free(buf);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    ck_assert_int_eq(md_result_status(junk, sizeof(junk), NULL), CAIRN_E_PROTO);
    ck_assert_ptr_null(md_query_result_decode(junk, sizeof(junk)));
}
END_TEST

/* ------------------------------------------------------ a real metadata group */

#define N 3
static struct md_server *srv[N];
static char urls[N][64];
static char dirs[N][48];
static struct cn_auth *auth;       /* the replicas' (meta) */
static struct cn_auth *admin_auth; /* the clients': the operator's CLI may call everything */
static struct cn_auth *chunk_auth; /* heartbeats come from chunkservers only */
static struct cn_auth *gw_auth;    /* a gateway: only some commands */

/* n ports that are free now (bound by the kernel, then released). */
static void free_ports(uint16_t *ports, int n)
{
    int fds[8];
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        ck_assert_int_eq(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
        socklen_t al = sizeof(a);
        getsockname(fds[i], (struct sockaddr *)&a, &al);
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void start_replica(int i, const uint16_t *ports)
{
    struct md_server_config cfg = {.id = (uint32_t)i + 1,
                                   .n_peers = N,
                                   .bind_addr = "127.0.0.1",
                                   .port = ports[i],
                                   .data_dir = dirs[i],
                                   .auth = auth,
                                   .heartbeat_ms = 50,
                                   .election_ms = 300,
                                   .trim_every = 1000,
                                   .trim_keep = 100,
                                   .request_timeout_ms = 3000,
                                   .window = 8,
                                   .down_after_ms = 5000,
                                   .repair_scan_ms = 60000};
    for (int j = 0; j < N; j++) {
        cfg.peer_ids[j] = (uint32_t)j + 1;
        cfg.peer_urls[j] = urls[j];
    }
    ck_assert_int_eq(md_server_start(&cfg, &srv[i]), 0);
}

static uint16_t ports[N];

static void group_up(void)
{
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &auth), 0);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_ADMIN, 0, &admin_auth), 0);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_CHUNK, 0, &chunk_auth), 0);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_GATEWAY, 0, &gw_auth), 0);
    free_ports(ports, N);
    for (int i = 0; i < N; i++) {
        snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%u", ports[i]);
        snprintf(dirs[i], sizeof(dirs[i]), "/tmp/mdclient-test.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
    }
    for (int i = 0; i < N; i++)
        start_replica(i, ports);
}

static void group_down(void)
{
    for (int i = 0; i < N; i++) {
        md_server_stop(srv[i]);
        srv[i] = NULL;
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dirs[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
    cn_auth_free(auth);
    cn_auth_free(admin_auth);
    cn_auth_free(chunk_auth);
    cn_auth_free(gw_auth);
    auth = admin_auth = chunk_auth = gw_auth = NULL;
}

static struct md_client *client(const char *const *replicas, size_t n, int64_t timeout_ms,
                                const struct cn_auth *a)
{
    struct md_client_opts o = {.replicas = replicas,
                               .n_replicas = n,
                               .auth = a,
                               .timeout_ms = timeout_ms,
                               .attempt_timeout_ms = 1000};
    struct md_client *c = NULL;
    ck_assert_int_eq(md_client_new(&o, &c), 0);
    return c;
}

/* Runs a command; returns its result status (reason in *reason). */
static int run(struct md_client *c, uint64_t seq, uint8_t *cmd, size_t len, int *reason)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = md_client_command(c, seq, cmd, len, &res, &rlen);
    free(cmd);
    if (rc != 0)
        return rc;
    rc = md_result_status(res, rlen, reason);
    free(res);
    return rc;
}

static int create_bucket(struct md_client *c, uint64_t seq, const char *name, int *reason)
{
    uint8_t *cmd = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        md_cmd_create_bucket(md_client_id(c), seq, name, "owner", "", 0, 1, &cmd, &len), 0);
    return run(c, seq, cmd, len, reason);
}

static int leader_index(struct md_client *c)
{
    for (int i = 0; i < N; i++)
        if (strcmp(md_client_leader(c), urls[i]) == 0)
            return i;
    return -1;
}

START_TEST(finds_leader_and_applies_once)
{
    group_up();
    /* Listed in reverse: most likely a follower first, and a 421 hint. */
    const char *rev[N] = {urls[2], urls[1], urls[0]};
    struct md_client *c = client(rev, N, 10000, admin_auth);
    int reason = 0;
    uint64_t seq = md_client_next_seq(c);
    ck_assert_int_eq(create_bucket(c, seq, "once", &reason), 0);
    /* The same (client, seq) again — a retry after a lost reply — is not
     * applied a second time: the answer is the first one's, not "exists". */
    ck_assert_int_eq(create_bucket(c, seq, "once", &reason), 0);
    /* A new seq is a new command: now the bucket exists. */
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "once", &reason), CAIRN_E_EXISTS);
    ck_assert_int_eq(reason, MD__REASON__R_BUCKET_EXISTS);

    /* A linearizable read sees it, through the query builder + decoder. */
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    ck_assert_int_eq(md_q_head_bucket("once", &q, &qlen), 0);
    ck_assert_int_eq(md_client_read(c, q, qlen, &res, &rlen), 0);
    free(q);
    Md__QueryResult *qr = md_query_result_decode(res, rlen);
    free(res);
    ck_assert_ptr_nonnull(qr);
    ck_assert_int_eq(qr->status, 0);
    ck_assert_str_eq(qr->bucket->owner, "owner");
    md__query_result__free_unpacked(qr, NULL);
    ck_assert_int_ge(leader_index(c), 0);
    md_client_free(c);
    group_down();
}
END_TEST

/* Registers chunkserver id at addr (host h) through c and heartbeats it
 * through cc (a chunkserver's credentials). */
static void add_chunkserver(struct md_client *c, struct md_client *cc, uint64_t id,
                            const char *addr, const char *h)
{
    struct md_cs_desc d = {
        .id = id, .address = addr, .host = h, .capacity = 1 << 30, .free = 1 << 30};
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    ck_assert_int_eq(md_cmd_register_cs(md_client_id(c), seq, &d, 1, &cmd, &len), 0);
    ck_assert_int_eq(run(c, seq, cmd, len, NULL), 0);
    Cl__Heartbeat hb = CL__HEARTBEAT__INIT;
    hb.id = id;
    hb.address = (char *)addr;
    hb.capacity = hb.free = 1 << 30;
    uint8_t *buf = NULL, *reply = NULL;
    size_t blen, rlen;
    ck_assert_int_eq(cn_pb_pack(&hb.base, &buf, &blen), 0);
    ck_assert_int_eq(md_client_heartbeat(cc, buf, blen, &reply, &rlen), 0);
    free(buf);
    Cl__HeartbeatReply *r = cl__heartbeat_reply__unpack(NULL, rlen, reply);
    free(reply);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->register_); /* registered: the leader knows it */
    cl__heartbeat_reply__free_unpacked(r, NULL);
}

START_TEST(typed_calls_and_failover)
{
    group_up();
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_client *c = client(list, N, 15000, admin_auth);
    struct md_client *cc = client(list, N, 15000, chunk_auth);
    char addr[32], host[16];
    for (uint64_t id = 1; id <= 6; id++) {
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)(20000 + id));
        snprintf(host, sizeof(host), "h%u", (unsigned)id);
        add_chunkserver(c, cc, 100 + id, addr, host);
    }
    /* Placement: distinct chunkservers, never an excluded one. */
    struct md_placement pl[6];
    uint32_t got = 0;
    uint64_t ex[1] = {103};
    ck_assert_int_eq(md_client_place(c, 5, 5, ex, 1, pl, &got), 0);
    ck_assert_uint_eq(got, 5);
    for (uint32_t i = 0; i < got; i++) {
        ck_assert_uint_ne(pl[i].id, 103);
        ck_assert_ptr_nonnull(strstr(pl[i].address, "127.0.0.1:2000"));
        for (uint32_t j = 0; j < i; j++)
            ck_assert_uint_ne(pl[i].id, pl[j].id);
    }
    /* Only 5 are allowed (one excluded): asking for 6 gets at least min. */
    ck_assert_int_eq(md_client_place(c, 6, 5, ex, 1, pl, &got), 0);
    ck_assert_uint_eq(got, 5);
    ck_assert_int_eq(md_client_place(c, 0, 0, NULL, 0, pl, &got), CAIRN_E_INVAL);
    ck_assert_int_eq(md_client_place(c, 65, 1, NULL, 0, pl, &got), CAIRN_E_INVAL);

    /* The cluster view names every chunkserver. */
    char *body = NULL;
    size_t blen = 0;
    ck_assert_int_eq(md_client_cluster(c, &body, &blen), 0);
    ck_assert_ptr_nonnull(strstr(body, "127.0.0.1:20006"));
    free(body);
    ck_assert_int_eq(md_client_repair(c, NULL), 0);
    uint8_t gid[16] = {0xab};
    ck_assert_int_eq(md_client_report_damage(c, gid, 2, 101), 0);
    ck_assert_int_eq(md_client_repair(c, gid), 0);

    /* Failover: stop the leader; the same client carries on. */
    int li = leader_index(c);
    ck_assert_int_ge(li, 0);
    md_server_stop(srv[li]);
    srv[li] = NULL;
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "after-failover", NULL), 0);
    ck_assert_int_ne(leader_index(c), li);
    md_client_free(cc);
    md_client_free(c);
    group_down();
}
END_TEST

/* The members body as GET /v1/members writes it, with noise. */
START_TEST(members_parse)
{
    struct md_members ms;
    const char body[] = "member 3 http://10.0.0.3:7001 voter\n"
                        "garbage line\n"
                        "member 0 http://bad:1 voter\n"
                        "member 9 http://10.0.0.9:7001 learner\n"
                        "member 4 http://x:1 observer\n"
                        "leader 3\n";
    ck_assert_uint_eq(md_members_parse(body, &ms), 2);
    ck_assert_uint_eq(ms.leader, 3);
    ck_assert_uint_eq(ms.m[0].id, 3);
    ck_assert_int_eq(ms.m[0].voter, 1);
    ck_assert_str_eq(ms.m[0].url, "http://10.0.0.3:7001");
    ck_assert_uint_eq(ms.m[1].id, 9);
    ck_assert_int_eq(ms.m[1].voter, 0);
    ck_assert_uint_eq(md_members_parse("", &ms), 0);
    ck_assert_uint_eq(ms.leader, 0);
    /* More members than a client keeps: the first MD_CLIENT_MAX_REPLICAS. */
    char big[64 * 40] = "";
    for (int i = 1; i <= 20; i++) {
        char line[64];
        snprintf(line, sizeof(line), "member %d http://h%d:1 voter\n", i, i);
        strcat(big, line);
    }
    ck_assert_uint_eq(md_members_parse(big, &ms), MD_CLIENT_MAX_REPLICAS);
    ck_assert_uint_eq(ms.m[MD_CLIENT_MAX_REPLICAS - 1].id, MD_CLIENT_MAX_REPLICAS);
}
END_TEST

/* Members change while a client talks to one leader: the fingerprint in the
 * answers makes it ask again; a client made later on the same md_view starts
 * from what the first one learnt, even if every URL it was given is gone. */
START_TEST(clients_follow_the_members)
{
    group_up();
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_view *view = NULL;
    ck_assert_int_eq(md_view_new(list, N, &view), 0);
    struct md_client_opts o = {.view = view, .auth = admin_auth, .timeout_ms = 15000};
    struct md_client *a = NULL;
    ck_assert_int_eq(md_client_new(&o, &a), 0);
    ck_assert_int_eq(create_bucket(a, md_client_next_seq(a), "members", NULL), 0);
    ck_assert_uint_eq(md_client_n_replicas(a), N);
    /* A fourth member (a learner nobody runs: it never votes). */
    uint16_t p[1];
    free_ports(p, 1);
    char extra[64];
    snprintf(extra, sizeof(extra), "http://127.0.0.1:%u", p[0]);
    uint32_t id = 0;
    ck_assert_int_eq(md_client_change(a, extra, &id, NULL, 0), 0);
    ck_assert_uint_eq(id, 4);
    /* The same add again (a retry after a lost answer): the same id. */
    char why[128];
    uint32_t again = 0;
    ck_assert_int_eq(md_client_change(a, extra, &again, why, sizeof(why)), 0);
    ck_assert_uint_eq(again, 4);
    ck_assert_ptr_nonnull(strstr(why, "already"));
    struct md_members ms;
    ck_assert_int_eq(md_client_members(a, &ms), 0);
    ck_assert_uint_eq(ms.n, 4);
    ck_assert_int_eq(create_bucket(a, md_client_next_seq(a), "members-2", NULL), 0);
    ck_assert_uint_eq(md_client_n_replicas(a), 4);
    /* A client given only a dead address, on the same view. */
    char dead[64];
    free_ports(p, 1);
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", p[0]);
    const char *gone[1] = {dead};
    struct md_client_opts o2 = {
        .replicas = gone, .n_replicas = 1, .view = view, .auth = admin_auth, .timeout_ms = 3000};
    struct md_client *b = NULL;
    ck_assert_int_eq(md_client_new(&o2, &b), 0);
    ck_assert_uint_eq(md_client_n_replicas(b), 4);
    ck_assert_int_eq(create_bucket(b, md_client_next_seq(b), "members-3", NULL), 0);
    /* Without the view it has nobody to ask. */
    struct md_client *c = client(gone, 1, 800, admin_auth);
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "members-4", NULL), CAIRN_E_TIMEOUT);
    /* Removal of the learner: the members shrink back. */
    ck_assert_int_eq(md_client_change(a, NULL, &id, NULL, 0), 0);
    ck_assert_int_eq(md_client_change(a, NULL, &id, why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "already"));
    uint32_t never = 77;
    ck_assert_int_eq(md_client_change(a, NULL, &never, NULL, 0), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(create_bucket(a, md_client_next_seq(a), "members-5", NULL), 0);
    ck_assert_uint_eq(md_client_n_replicas(a), N);
    md_client_free(c);
    md_client_free(b);
    md_client_free(a);
    md_view_free(view);
    group_down();
}
END_TEST

/* Leadership handed on: to a named voter, to the leader itself (answered
 * "already"), to nobody in particular (another voter), and to an id that is
 * no member (refused). The members' view names each successor. */
START_TEST(transfer_hands_leadership_on)
{
    group_up();
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_client *c = client(list, N, 15000, admin_auth);
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "transfer", NULL), 0);
    struct md_members ms;
    ck_assert_int_eq(md_client_members(c, &ms), 0);
    uint32_t old = ms.leader, to = old % N + 1, got = 0;
    ck_assert_uint_ne(old, 0);
    char why[128];
    ck_assert_int_eq(md_client_transfer(c, to, &got, why, sizeof(why)), 0);
    ck_assert_uint_eq(got, to);
    ck_assert_ptr_null(strstr(why, "already"));
    int64_t end = cn_mono_ms() + 5000;
    while ((md_client_members(c, &ms) != 0 || ms.leader != to) && cn_mono_ms() < end)
        cn_sleep_ms(50);
    ck_assert_uint_eq(ms.leader, to);
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "transfer-2", NULL), 0);
    ck_assert_str_eq(md_client_leader(c), urls[to - 1]);
    got = 0;
    ck_assert_int_eq(md_client_transfer(c, to, &got, why, sizeof(why)), 0);
    ck_assert_uint_eq(got, to);
    ck_assert_ptr_nonnull(strstr(why, "already"));
    got = 0;
    ck_assert_int_eq(md_client_transfer(c, 0, &got, NULL, 0), 0);
    ck_assert_uint_ne(got, to);
    ck_assert_uint_ge(got, 1);
    ck_assert_uint_le(got, N);
    ck_assert_int_eq(md_client_transfer(c, 77, &got, why, sizeof(why)), CAIRN_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(why, "no live voter"));
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "transfer-3", NULL), 0);
    md_client_free(c);
    group_down();
}
END_TEST

START_TEST(wrong_secret_is_refused)
{
    group_up();
    struct cn_auth *bad = NULL;
    const char other[] = "not-the-cluster-secret-at-all-0000";
    ck_assert_int_eq(cn_auth_new(other, strlen(other), CN_ROLE_META, 0, &bad), 0);
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_client *c = client(list, N, 5000, bad);
    int64_t t0 = cn_mono_ms();
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "nope", NULL), CAIRN_E_AUTH);
    ck_assert_int_lt(cn_mono_ms() - t0, 4000); /* refused, not retried to the deadline */
    md_client_free(c);
    cn_auth_free(bad);
    group_down();
}
END_TEST

START_TEST(nobody_listening_times_out)
{
    struct cn_auth *a = NULL;
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &a), 0);
    uint16_t p[2];
    free_ports(p, 2);
    char u0[64], u1[64];
    snprintf(u0, sizeof(u0), "http://127.0.0.1:%u", p[0]);
    snprintf(u1, sizeof(u1), "http://127.0.0.1:%u", p[1]);
    const char *list[2] = {u0, u1};
    struct md_client *c = client(list, 2, 800, a);
    int64_t t0 = cn_mono_ms();
    ck_assert_int_eq(create_bucket(c, md_client_next_seq(c), "x", NULL), CAIRN_E_TIMEOUT);
    int64_t took = cn_mono_ms() - t0;
    ck_assert_int_ge(took, 700);
    ck_assert_int_lt(took, 3000);
    md_client_free(c);
    cn_auth_free(a);
}
END_TEST

/* ------------------------------------------------------------- batches -- */

#define BATCH_THREADS 12
#define BATCH_ROUNDS  15

struct batch_worker {
    pthread_t th;
    int id;
    struct md_batcher *batcher; /* shared by the workers of one role */
    struct md_pool *pool;       /* or NULL: where the worker's client sends what it sends */
    int gw;                     /* the gateway's credentials (else the admin's) */
    int failures;               /* checks that did not hold (asserts stay on the main thread) */
    int refused;                /* forbidden commands answered CAIRN_E_INVAL */
};

static struct md_client *batched_client(const struct cn_auth *a, struct md_batcher *batcher,
                                        struct md_pool *pool)
{
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_client_opts o = {.replicas = list,
                               .n_replicas = N,
                               .auth = a,
                               .timeout_ms = 15000,
                               .attempt_timeout_ms = 3000,
                               .batcher = batcher,
                               .pool = pool};
    struct md_client *c = NULL;
    return md_client_new(&o, &c) == 0 ? c : NULL;
}

/* The owner a HEAD of bucket reads ("" when none; CAIRN_E_* on failure). */
static int head_owner(struct md_client *c, const char *bucket, char *owner, size_t len)
{
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    if (md_q_head_bucket(bucket, &q, &qlen) != 0)
        return CAIRN_E_NOMEM;
    int rc = md_client_read(c, q, qlen, &res, &rlen);
    free(q);
    if (rc != 0)
        return rc;
    Md__QueryResult *qr = md_query_result_decode(res, rlen);
    free(res);
    if (!qr)
        return CAIRN_E_PROTO;
    snprintf(owner, len, "%s", qr->status == 0 && qr->bucket ? qr->bucket->owner : "");
    md__query_result__free_unpacked(qr, NULL);
    return 0;
}

/* Each round: a bucket of this worker's (its owner names worker and round),
 * the same command again with the same seq (applied once: 0, not "exists"),
 * a read of it, and every third round (gateway workers) a command the
 * gateway's role may not submit. */
static void *batch_worker_main(void *arg)
{
    struct batch_worker *w = arg;
    int gw = w->gw;
    struct md_client *c = batched_client(gw ? gw_auth : admin_auth, w->batcher, w->pool);
    if (!c) {
        w->failures++;
        return NULL;
    }
    for (int r = 0; r < BATCH_ROUNDS; r++) {
        char name[32], owner[32], got[32];
        snprintf(name, sizeof(name), "bw%d-%d", w->id, r);
        snprintf(owner, sizeof(owner), "owner-%d-%d", w->id, r);
        uint64_t seq = md_client_next_seq(c);
        for (int again = 0; again < 2; again++) {
            uint8_t *cmd = NULL;
            size_t len = 0;
            md_cmd_create_bucket(md_client_id(c), seq, name, owner, "", 0, 1, &cmd, &len);
            w->failures += run(c, seq, cmd, len, NULL) != 0;
        }
        w->failures += head_owner(c, name, got, sizeof(got)) != 0 || strcmp(got, owner) != 0;
        if (gw && r % 3 == 0) {
            struct md_cs_desc d = {.id = 900 + (uint64_t)w->id,
                                   .address = "127.0.0.1:1",
                                   .host = "h",
                                   .capacity = 1,
                                   .free = 1};
            uint64_t s2 = md_client_next_seq(c);
            uint8_t *cmd = NULL;
            size_t len = 0;
            md_cmd_register_cs(md_client_id(c), s2, &d, 1, &cmd, &len);
            int rc = run(c, s2, cmd, len, NULL);
            w->refused += rc == CAIRN_E_INVAL;
            w->failures += rc != CAIRN_E_INVAL;
        }
    }
    md_client_free(c);
    return NULL;
}

START_TEST(batched_clients)
{
    group_up();
    /* Every worker shares one batcher per role (a batch goes out with its
     * sender's credentials); one batch in flight makes the others queue. */
    struct md_batcher_opts bo = {.max_inflight = 1, .max_items = 8};
    struct md_batcher *admin_b = NULL, *gw_b = NULL;
    ck_assert_int_eq(md_batcher_new(&bo, &admin_b), 0);
    ck_assert_int_eq(md_batcher_new(&bo, &gw_b), 0);
    /* The gateway role's batches go out on a client of their own (as in
     * cairn-gateway), the admin role's on whichever worker sends them. */
    const char *slist[N] = {urls[0], urls[1], urls[2]};
    struct md_client_opts so = {.replicas = slist,
                                .n_replicas = N,
                                .auth = gw_auth,
                                .timeout_ms = 15000,
                                .attempt_timeout_ms = 3000};
    ck_assert_int_eq(md_batcher_open_senders(gw_b, &so, 65), CAIRN_E_INVAL);
    ck_assert_int_eq(md_batcher_open_senders(gw_b, &so, 1), 0);
    ck_assert_int_eq(md_batcher_open_senders(gw_b, &so, 1), CAIRN_E_INVAL); /* once */
    struct batch_worker ws[BATCH_THREADS];
    for (int i = 0; i < BATCH_THREADS; i++) {
        ws[i] = (struct batch_worker){
            .id = i, .gw = i % 3 == 0, .batcher = i % 3 == 0 ? gw_b : admin_b};
        ck_assert_int_eq(pthread_create(&ws[i].th, NULL, batch_worker_main, &ws[i]), 0);
    }
    int failures = 0, refused = 0;
    for (int i = 0; i < BATCH_THREADS; i++) {
        pthread_join(ws[i].th, NULL);
        failures += ws[i].failures;
        refused += ws[i].refused;
    }
    ck_assert_int_eq(failures, 0);
    ck_assert_int_eq(refused, 4 * ((BATCH_ROUNDS + 2) / 3)); /* workers 0, 3, 6, 9 */
    struct md_batcher_stats as, gs;
    md_batcher_stats(admin_b, &as);
    md_batcher_stats(gw_b, &gs);
    /* Every request went out, and some of them together. */
    ck_assert_uint_eq(as.items + as.alone, 8 * BATCH_ROUNDS * 3);
    ck_assert_uint_ge(as.batches + gs.batches, 1);
    ck_assert_uint_eq(as.again + gs.again, 0);

    /* Nothing refused was applied: no chunkserver registered. */
    const char *list[N] = {urls[0], urls[1], urls[2]};
    struct md_client *c = client(list, N, 10000, admin_auth);
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    ck_assert_int_eq(md_q_list_chunkservers(&q, &qlen), 0);
    ck_assert_int_eq(md_client_read(c, q, qlen, &res, &rlen), 0);
    free(q);
    Md__QueryResult *qr = md_query_result_decode(res, rlen);
    free(res);
    ck_assert_ptr_nonnull(qr);
    ck_assert_uint_eq(qr->n_chunkservers, 0);
    md__query_result__free_unpacked(qr, NULL);
    md_client_free(c);
    md_batcher_free(admin_b);
    md_batcher_free(gw_b);
    group_down();
}
END_TEST

/* A pool lends each client to one caller at a time, and a client with a pool
 * sends everything on a borrowed one: concurrent workers whose commands and
 * reads all go out on two connections, each applied once and answered. */
START_TEST(pooled_clients)
{
    group_up();
    const char *slist[N] = {urls[0], urls[1], urls[2]};
    struct md_client_opts so = {.replicas = slist,
                                .n_replicas = N,
                                .auth = admin_auth,
                                .timeout_ms = 15000,
                                .attempt_timeout_ms = 3000};
    struct md_pool *p = NULL;
    ck_assert_int_eq(md_pool_new(&so, 0, &p), CAIRN_E_INVAL);
    ck_assert_int_eq(md_pool_new(&so, MD_POOL_MAX + 1, &p), CAIRN_E_INVAL);
    ck_assert_int_eq(md_pool_new(NULL, 2, &p), CAIRN_E_INVAL);
    ck_assert_int_eq(md_pool_new(&so, 2, &p), 0);
    ck_assert_uint_eq(md_pool_size(p), 2);

    struct md_client *a = md_pool_try_take(p), *b = md_pool_try_take(p);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_null(md_pool_try_take(p));
    int64_t t0 = cn_mono_ms();
    ck_assert_ptr_null(md_pool_take(p, t0 + 150)); /* both lent: waits, then gives up */
    ck_assert_int_ge(cn_mono_ms() - t0, 140);
    md_pool_give(p, a);
    ck_assert_ptr_eq(md_pool_take(p, cn_mono_ms() + 1000), a);
    md_pool_give(p, a);
    md_pool_give(p, b);

    struct batch_worker ws[BATCH_THREADS];
    for (int i = 0; i < BATCH_THREADS; i++) {
        ws[i] = (struct batch_worker){.id = 100 + i, .pool = p};
        ck_assert_int_eq(pthread_create(&ws[i].th, NULL, batch_worker_main, &ws[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < BATCH_THREADS; i++) {
        pthread_join(ws[i].th, NULL);
        failures += ws[i].failures + ws[i].refused;
    }
    ck_assert_int_eq(failures, 0);
    /* every client came back */
    a = md_pool_try_take(p);
    b = md_pool_try_take(p);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    md_pool_free(p);
    group_down();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mdclient");
    TCase *t = tcase_create("builders");
    tcase_add_test(t, put_object_round_trip);
    tcase_add_test(t, null_strings_become_empty);
    tcase_add_test(t, result_status_decoding);
    suite_add_tcase(s, t);
    t = tcase_create("client");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, finds_leader_and_applies_once);
    tcase_add_test(t, typed_calls_and_failover);
    tcase_add_test(t, members_parse);
    tcase_add_test(t, clients_follow_the_members);
    tcase_add_test(t, transfer_hands_leadership_on);
    tcase_add_test(t, wrong_secret_is_refused);
    tcase_add_test(t, nobody_listening_times_out);
    tcase_add_test(t, batched_clients);
    tcase_add_test(t, pooled_clients);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
