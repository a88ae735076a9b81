/* meta-torture: drives a running cairn-meta group with concurrent clients
 * doing put/get on a few keys, optionally kill -9s the leader part way
 * through, and then checks what the cluster promised:
 *   - the recorded history is linearizable (per key, Wing & Gong search);
 *   - every acknowledged write survives (a final linearizable read of each key
 *     returns a value written no earlier than the last acknowledged one);
 *   - after a kill, a new leader committed within --failover-limit ms.
 * With --transfer-every MS the leader is made to hand leadership over (POST
 * /v1/meta/change?op=transfer, admin role) every MS ms; with --pinned-readers
 * N, N more clients per replica read only from that replica (a 421 is
 * skipped, not followed), so a replica that answers reads after it stopped
 * leading — a lease read served too long — shows up as a stale read; one
 * more client then writes a key of its own and reads it back at every
 * replica right after each acknowledgement (read-your-writes everywhere).
 * Exits 0 when all hold, 1 otherwise, 2 on usage errors.
 *
 * usage: meta-torture --replicas URL,URL,URL --secret S [--clients N]
 *        [--keys K] [--seconds T] [--kill-leader-at S --pids ID=PID,...]
 *        [--failover-limit MS] [--bucket B] [--transfer-every MS]
 *        [--pinned-readers N] [--batch N]
 * With --batch N the clients (not the pinned readers) share an md_batcher with
 * N batches in flight, as the gateway's do: the history then checks batched
 * commands and reads through the same kills and transfers. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "lincheck.h"
#include "md_batch.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 2000000

static char *replicas[16];
static size_t n_replicas;
static struct cn_auth *auth;
static const char *bucket = "torture";
static int n_clients = 8, n_keys = 5;
static double seconds = 6;
static double kill_at = -1;
static uint32_t pid_ids[16];
static int pids[16];
static size_t n_pids;
static int64_t failover_limit_ms = 3000;
static int64_t transfer_every_ms = 0;
static int pinned_readers = 0;
static atomic_uint pinned_reads, pinned_refused;
static int batch_inflight = 0;
static struct md_batcher *batcher; /* the clients', with --batch */
static atomic_uint last_from;      /* the replica the last transfer took leadership from */

static struct lc_op *ops;
static atomic_uint n_ops;
static atomic_int stop;
static int64_t t0_us;
static atomic_llong kill_us = -1; /* when the leader was killed */
static atomic_llong first_commit_after_kill_us = -1;

static struct md_client *new_client(void)
{
    struct md_client_opts o = {.replicas = (const char *const *)replicas,
                               .n_replicas = n_replicas,
                               .auth = auth,
                               .timeout_ms = 8000,
                               .attempt_timeout_ms = 1500,
                               .batcher = batcher};
    struct md_client *c = NULL;
    if (md_client_new(&o, &c) != 0) {
        fprintf(stderr, "md_client_new failed\n");
        exit(2);
    }
    return c;
}

static uint64_t now_us(void)
{
    return (uint64_t)(cn_mono_us() - t0_us);
}

static int put(struct md_client *c, uint32_t key, uint32_t value)
{
    char k[32], etag[32];
    snprintf(k, sizeof(k), "k%u", key);
    snprintf(etag, sizeof(etag), "%08x", value);
    struct md_object_desc obj = {
        .size = 4, .etag = etag, .has_inline = 1, .inline_data = &value, .inline_len = 4};
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd, *res;
    size_t clen, rlen;
    if (md_cmd_put_object(md_client_id(c), seq, bucket, k, &obj, MD_COND_NONE, NULL, &cmd, &clen))
        return CAIRN_E_NOMEM;
    int rc = md_client_command(c, seq, cmd, clen, &res, &rlen);
    free(cmd);
    if (rc == 0) {
        rc = md_result_status(res, rlen, NULL);
        free(res);
    }
    return rc;
}

/* Reads key: 0 and *value (0 = absent), or an error. */
static int get(struct md_client *c, uint32_t key, uint32_t *value)
{
    char k[32];
    snprintf(k, sizeof(k), "k%u", key);
    uint8_t *q, *res;
    size_t qlen, rlen;
    if (md_q_get_object(bucket, k, &q, &qlen))
        return CAIRN_E_NOMEM;
    int rc = md_client_read(c, q, qlen, &res, &rlen);
    free(q);
    if (rc)
        return rc;
    Md__QueryResult *r = md_query_result_decode(res, rlen);
    free(res);
    if (!r)
        return CAIRN_E_PROTO;
    if (r->status == CAIRN_E_NOTFOUND) {
        *value = 0;
    } else if (r->status != 0 || !r->object || r->object->inline_data.len != 4) {
        rc = r->status ? r->status : CAIRN_E_PROTO;
    } else {
        memcpy(value, r->object->inline_data.data, 4);
    }
    md__query_result__free_unpacked(r, NULL);
    return rc;
}

static void record(uint32_t kind, uint32_t key, uint32_t a, uint32_t result, int known,
                   uint64_t call, uint64_t ret)
{
    unsigned i = atomic_fetch_add(&n_ops, 1);
    if (i >= MAX_OPS)
        return;
    ops[i] = (struct lc_op){.kind = kind,
                            .key = key,
                            .a = a,
                            .result = result,
                            .known = known != 0,
                            .call = call,
                            .ret = known ? ret : LC_NEVER};
}

static void *client_main(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    struct md_client *c = new_client();
    uint64_t rng = 0x9E3779B97F4A7C15ull * (id + 1);
    uint32_t counter = 0;
    while (!atomic_load(&stop)) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t key = (uint32_t)(rng % (uint64_t)n_keys);
        uint64_t call = now_us();
        if ((rng >> 20) & 1) {
            uint32_t value = (id + 1) << 20 | ++counter; /* unique, never 0 */
            int rc = put(c, key, value);
            uint64_t ret = now_us();
            record(LC_PUT, key, value, 0, rc == 0, call, ret);
            if (rc == 0 && kill_us >= 0 && (long long)call > kill_us &&
                first_commit_after_kill_us < 0)
                first_commit_after_kill_us = (long long)ret;
            if (rc != 0 && rc != CAIRN_E_TIMEOUT)
                fprintf(stderr, "client %u: put: %s\n", id, cairn_strerror(rc));
        } else {
            uint32_t value = 0;
            int rc = get(c, key, &value);
            uint64_t ret = now_us();
            if (rc == 0)
                record(LC_GET, key, 0, value, 1, call, ret);
        }
    }
    md_client_free(c);
    return NULL;
}

/* Reads key at the replica at url only: 0 and *value (0 = absent), 1 when
 * that replica did not answer the read (421 included), or an error. */
static int read_at(struct cn_http_client *h, const char *url, uint32_t key, uint32_t *value)
{
    char k[32];
    snprintf(k, sizeof(k), "k%u", key);
    uint8_t *q;
    size_t qlen;
    if (md_q_get_object(bucket, k, &q, &qlen))
        return CAIRN_E_NOMEM;
    const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
    struct cn_http_request req = {.method = "POST",
                                  .base_url = url,
                                  .target = CN_ROUTE_MD_READ,
                                  .headers = headers,
                                  .body = q,
                                  .body_len = qlen,
                                  .resp_max = 1 << 20,
                                  .timeout_ms = 2000};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    free(q);
    Md__QueryResult *r = NULL;
    if (rc == 0 && resp.status == 200)
        r = md_query_result_decode((const uint8_t *)resp.body, resp.body_len);
    cn_http_response_clear(&resp);
    if (!r)
        return 1;
    rc = 1;
    if (r->status == CAIRN_E_NOTFOUND) {
        *value = 0;
        rc = 0;
    } else if (r->status == 0 && r->object && r->object->inline_data.len == 4) {
        memcpy(value, r->object->inline_data.data, 4);
        rc = 0;
    }
    md__query_result__free_unpacked(r, NULL);
    return rc;
}

static struct cn_http_client *plain_http(void)
{
    struct cn_http_client_opts o = {.auth = auth, .timeout_ms = 2000};
    struct cn_http_client *h = NULL;
    if (cn_http_client_new(&o, &h))
        return NULL;
    return h;
}

/* A reader pinned to replica `arg`: POST /v1/read there and nowhere else. */
static void *pinned_main(void *arg)
{
    uintptr_t slot = (uintptr_t)arg;
    const char *url = replicas[slot % n_replicas];
    struct cn_http_client *h = plain_http();
    if (!h)
        return NULL;
    uint64_t rng = 0xD1B54A32D192ED03ull * (slot + 7);
    while (!atomic_load(&stop)) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t key = (uint32_t)(rng % (uint64_t)n_keys), v = 0;
        uint64_t call = now_us();
        int rc = read_at(h, url, key, &v);
        uint64_t ret = now_us();
        if (rc == 0) {
            record(LC_GET, key, 0, v, 1, call, ret);
            atomic_fetch_add(&pinned_reads, 1);
        } else {
            atomic_fetch_add(&pinned_refused, 1);
            cn_sleep_ms(1);
        }
    }
    cn_http_client_free(h);
    return NULL;
}

/* Read-your-writes through every replica: writes key n_keys (its own) through
 * the leader, then reads it at each replica in turn; all into the history. A
 * replica still answering right after a leader change has not applied the
 * new leader's latest write yet: served, that read is stale. */
static void *probe_main(void *arg)
{
    (void)arg;
    struct md_client *c = new_client();
    struct cn_http_client *h = plain_http();
    uint32_t key = (uint32_t)n_keys, counter = 0;
    while (h && !atomic_load(&stop)) {
        uint32_t value = 0xFF000000u | ++counter;
        uint64_t call = now_us();
        int rc = put(c, key, value);
        record(LC_PUT, key, value, 0, rc == 0, call, now_us());
        if (rc != 0)
            continue;
        /* the replica that led last first: the one most likely behind */
        size_t first = atomic_load(&last_from) ? atomic_load(&last_from) - 1 : 0;
        for (size_t j = 0; j < n_replicas; j++) {
            size_t i = (first + j) % n_replicas;
            uint32_t v = 0;
            call = now_us();
            if (read_at(h, replicas[i], key, &v) == 0) {
                record(LC_GET, key, 0, v, 1, call, now_us());
                atomic_fetch_add(&pinned_reads, 1);
            }
        }
    }
    cn_http_client_free(h);
    md_client_free(c);
    return NULL;
}

/* Asks the leader (whichever replica answers 200) to hand leadership over.
 * Returns the successor's id, or 0. */
static uint32_t transfer_leader(struct cn_http_client *h, uint32_t leader)
{
    if (!leader || leader > n_replicas)
        return 0;
    struct cn_http_request req = {.method = "POST",
                                  .base_url = replicas[leader - 1],
                                  .target = CN_ROUTE_MD_CHANGE "?op=transfer",
                                  .body = "",
                                  .body_len = 0,
                                  .timeout_ms = 5000};
    struct cn_http_response resp = {0};
    uint32_t to = 0;
    if (cn_http_client_do(h, &req, &resp) == 0 && resp.status == 200 && resp.body)
        sscanf(resp.body, "leader %u", &to);
    else
        fprintf(stderr, "meta-torture: transfer from %u: HTTP %d %s\n", leader, resp.status,
                resp.body ? resp.body : "");
    cn_http_response_clear(&resp);
    return to;
}

/* Asks every replica for its status; returns the leader id or 0. */
static uint32_t find_leader(void)
{
    struct cn_http_client_opts o = {.auth = auth, .timeout_ms = 1000};
    struct cn_http_client *h;
    if (cn_http_client_new(&o, &h))
        return 0;
    uint32_t leader = 0;
    for (size_t i = 0; i < n_replicas && !leader; i++) {
        struct cn_http_request req = {
            .method = "GET", .base_url = replicas[i], .target = "/v1/status"};
        struct cn_http_response resp = {0};
        if (cn_http_client_do(h, &req, &resp) == 0 && resp.status == 200 && resp.body) {
            const char *role = strstr(resp.body, "role leader");
            const char *idl = strstr(resp.body, "id ");
            if (role && idl)
                leader = (uint32_t)strtoul(idl + 3, NULL, 10);
        }
        cn_http_response_clear(&resp);
    }
    cn_http_client_free(h);
    return leader;
}

static void split_list(char *s, void (*fn)(char *item))
{
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        fn(tok);
}

static void add_replica(char *item)
{
    if (n_replicas < 16)
        replicas[n_replicas++] = item;
}

static void add_pid(char *item)
{
    char *eq = strchr(item, '=');
    if (eq && n_pids < 16) {
        pid_ids[n_pids] = (uint32_t)strtoul(item, NULL, 10);
        pids[n_pids++] = atoi(eq + 1);
    }
}

int main(int argc, char **argv)
{
    const char *secret = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            printf("usage: meta-torture --replicas URL,... --secret S [--clients N] [--keys K] "
                   "[--seconds T] [--kill-leader-at S --pids ID=PID,...] "
                   "[--failover-limit MS] [--bucket B] [--transfer-every MS] "
                   "[--pinned-readers N] [--batch N]\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "meta-torture: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--replicas"))
            split_list(strdup(v), add_replica);
        else if (!strcmp(a, "--secret"))
            secret = v;
        else if (!strcmp(a, "--clients"))
            n_clients = atoi(v);
        else if (!strcmp(a, "--keys"))
            n_keys = atoi(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--kill-leader-at"))
            kill_at = atof(v);
        else if (!strcmp(a, "--pids"))
            split_list(strdup(v), add_pid);
        else if (!strcmp(a, "--failover-limit"))
            failover_limit_ms = atoll(v);
        else if (!strcmp(a, "--bucket"))
            bucket = v;
        else if (!strcmp(a, "--transfer-every"))
            transfer_every_ms = atoll(v);
        else if (!strcmp(a, "--pinned-readers"))
            pinned_readers = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch_inflight = atoi(v);
        else {
            fprintf(stderr, "meta-torture: unknown option %s\n", a);
            return 2;
        }
    }
    if (!n_replicas || !secret || n_clients < 1 || n_clients > 256 || n_keys < 1 ||
        pinned_readers < 0 || (size_t)pinned_readers * n_replicas > 256) {
        fprintf(stderr, "meta-torture: --replicas and --secret are required (see --help)\n");
        return 2;
    }
    if (cn_auth_new_from_text(secret, strlen(secret), CN_ROLE_GATEWAY, 0, &auth) != 0) {
        fprintf(stderr, "meta-torture: bad secret\n");
        return 2;
    }
    struct md_batcher_opts bo = {.max_inflight = (unsigned)batch_inflight};
    if (batch_inflight > 0 && md_batcher_new(&bo, &batcher) != 0) {
        fprintf(stderr, "meta-torture: --batch %d\n", batch_inflight);
        return 2;
    }
    ops = calloc(MAX_OPS, sizeof(*ops));
    t0_us = cn_mono_us();

    /* The bucket (created once; "exists" is fine on a rerun). */
    struct md_client *c = new_client();
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd, *res;
    size_t clen, rlen;
    md_cmd_create_bucket(md_client_id(c), seq, bucket, "torture", "", 0, cn_wall_ms(), &cmd, &clen);
    int rc = md_client_command(c, seq, cmd, clen, &res, &rlen);
    free(cmd);
    if (rc != 0) {
        fprintf(stderr, "meta-torture: create bucket: %s\n", cairn_strerror(rc));
        return 1;
    }
    free(res);

    /* The transfers' credentials: the admin role, from the same secret. */
    struct cn_auth *admin = NULL;
    struct cn_http_client *admin_http = NULL;
    if (transfer_every_ms > 0) {
        struct cn_http_client_opts ao = {.timeout_ms = 5000};
        if (cn_auth_new_from_text(secret, strlen(secret), CN_ROLE_ADMIN, 0, &admin) != 0 ||
            (ao.auth = admin, cn_http_client_new(&ao, &admin_http)) != 0) {
            fprintf(stderr, "meta-torture: admin credentials\n");
            return 2;
        }
    }
    pthread_t th[256], pth[256];
    size_t n_pinned = (size_t)pinned_readers * n_replicas;
    for (int i = 0; i < n_clients; i++)
        pthread_create(&th[i], NULL, client_main, (void *)(uintptr_t)i);
    for (size_t i = 0; i < n_pinned; i++)
        pthread_create(&pth[i], NULL, pinned_main, (void *)(uintptr_t)i);
    pthread_t probe;
    if (n_pinned)
        pthread_create(&probe, NULL, probe_main, NULL);
    uint32_t killed = 0, transfers = 0;
    uint64_t next_transfer_us = transfer_every_ms > 0 ? (uint64_t)transfer_every_ms * 1000 : 0;
    while (now_us() < (uint64_t)(seconds * 1e6)) {
        if (next_transfer_us && now_us() >= next_transfer_us &&
            now_us() + 500000 < (uint64_t)(seconds * 1e6)) {
            uint32_t from = find_leader();
            atomic_store(&last_from, from);
            uint32_t to = transfer_leader(admin_http, from);
            if (to) {
                transfers++;
                printf("transfer %u: leader %u -> %u at %.2f s\n", transfers, from, to,
                       (double)now_us() / 1e6);
            }
            next_transfer_us = now_us() + (uint64_t)transfer_every_ms * 1000;
        }
        if (kill_at >= 0 && !killed && now_us() >= (uint64_t)(kill_at * 1e6)) {
            uint32_t leader = find_leader();
            for (size_t i = 0; i < n_pids; i++) {
                if (pid_ids[i] == leader) {
                    kill_us = (long long)now_us();
                    kill(pids[i], SIGKILL);
                    killed = leader;
                    printf("killed leader %u (pid %d) at %.2f s\n", leader, pids[i],
                           (double)kill_us / 1e6);
                }
            }
            if (!killed) {
                fprintf(stderr, "meta-torture: no leader found to kill\n");
                kill_at = -1;
            }
        }
        cn_sleep_ms(10);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < n_clients; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < n_pinned; i++)
        pthread_join(pth[i], NULL);
    if (n_pinned)
        pthread_join(probe, NULL);
    cn_http_client_free(admin_http);
    cn_auth_free(admin);

    int failed = 0;
    unsigned n = atomic_load(&n_ops);
    if (n > MAX_OPS)
        n = MAX_OPS;
    unsigned puts = 0, gets = 0, unknown = 0;
    for (unsigned i = 0; i < n; i++) {
        if (ops[i].kind == LC_PUT)
            puts++;
        else
            gets++;
        if (!ops[i].known)
            unknown++;
    }
    printf("history: %u operations (%u puts, %u gets, %u with unknown outcome)\n", n, puts, gets,
           unknown);
    if (batcher) {
        struct md_batcher_stats bs;
        md_batcher_stats(batcher, &bs);
        printf("batches: %" PRIu64 " carrying %" PRIu64 " requests, %" PRIu64 " alone, %" PRIu64
               " again\n",
               bs.batches, bs.items, bs.alone, bs.again);
    }
    if (n_pinned)
        printf("pinned readers: %u reads answered, %u refused or failed\n",
               atomic_load(&pinned_reads), atomic_load(&pinned_refused));
    if (transfer_every_ms > 0) {
        printf("transfers: %u\n", transfers);
        if (transfers == 0) {
            fprintf(stderr, "no leadership transfer happened\n");
            failed = 1;
        }
    }

    /* Final reads: every key once more, appended to the history so the
     * checker also proves acknowledged writes survived. */
    for (int k = 0; k < n_keys; k++) {
        uint32_t v = 0;
        uint64_t call = now_us();
        rc = get(c, (uint32_t)k, &v);
        if (rc != 0) {
            fprintf(stderr, "final read of k%d: %s\n", k, cairn_strerror(rc));
            failed = 1;
            continue;
        }
        record(LC_GET, (uint32_t)k, 0, v, 1, call, now_us());
        /* The last acknowledged write of k: its value or a later one must show. */
        uint64_t last_ret = 0;
        uint32_t last_val = 0;
        for (unsigned i = 0; i < n; i++)
            if (ops[i].kind == LC_PUT && ops[i].key == (uint32_t)k && ops[i].known &&
                ops[i].ret > last_ret) {
                last_ret = ops[i].ret;
                last_val = ops[i].a;
            }
        if (last_val && v == 0) {
            fprintf(stderr, "LOST: k%d reads absent after acknowledged write %08x\n", k, last_val);
            failed = 1;
        }
    }
    md_client_free(c);
    n = atomic_load(&n_ops);
    uint32_t bad_key = 0;
    if (!lc_check(ops, n, &bad_key)) {
        fprintf(stderr, "NOT LINEARIZABLE: key k%u\n", bad_key);
        failed = 1;
    } else {
        printf("linearizability: ok (%u operations)\n", n);
    }
    if (killed) {
        if (first_commit_after_kill_us < 0) {
            fprintf(stderr, "no write committed after the leader was killed\n");
            failed = 1;
        } else {
            long long ms = (first_commit_after_kill_us - kill_us) / 1000;
            printf("failover: first write issued after the kill committed %lld ms after it\n", ms);
            if (ms > failover_limit_ms) {
                fprintf(stderr, "failover took %lld ms (limit %lld)\n", ms,
                        (long long)failover_limit_ms);
                failed = 1;
            }
        }
    }
    if (puts == 0 || gets == 0) {
        fprintf(stderr, "too little traffic to judge\n");
        failed = 1;
    }
    free(ops);
    cn_auth_free(auth);
    printf("%s\n", failed ? "FAILED" : "PASSED");
    return failed;
}
