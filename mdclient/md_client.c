#include "md_client.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_util.h"
#include "md_cmd.h"
#include "md_client_int.h"
#include "md_pool.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct md_view {
    pthread_mutex_t mu;
    char *urls[MD_CLIENT_MAX_REPLICAS];
    size_t n;
    size_t leader;
    uint64_t members_fp;          /* the membership the list reflects (0: unknown) */
    atomic_uint_fast64_t version; /* bumped by every change */
};

struct md_client {
    char *replicas[MD_CLIENT_MAX_REPLICAS];
    size_t n;
    size_t leader; /* index of the replica tried first */
    uint64_t id, seq;
    int64_t timeout_ms, attempt_ms;
    struct cn_http_client *http;
    struct md_view *view;
    uint64_t view_seen;  /* the view's version this client's list reflects */
    uint64_t members_fp; /* CN_HDR_MEMBERS of the membership the list reflects */
    struct md_batcher *batcher;
    struct md_pool *pool;
};

static void free_urls(char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
}

/* Copies n URLs into dst. Returns 0 or CAIRN_E_NOMEM (nothing kept). */
static int copy_urls(char **dst, char *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((dst[i] = strdup(src[i])) == NULL) {
            free_urls(dst, i);
            return CAIRN_E_NOMEM;
        }
    return 0;
}

int md_view_new(const char *const *urls, size_t n, struct md_view **out)
{
    if (!urls || n == 0 || n > MD_CLIENT_MAX_REPLICAS || !out)
        return CAIRN_E_INVAL;
    struct md_view *v = calloc(1, sizeof(*v));
    if (!v || copy_urls(v->urls, (char *const *)urls, n) != 0) {
        free(v);
        return CAIRN_E_NOMEM;
    }
    v->n = n;
    atomic_init(&v->version, 1);
    pthread_mutex_init(&v->mu, NULL);
    *out = v;
    return 0;
}

void md_view_free(struct md_view *v)
{
    if (!v)
        return;
    free_urls(v->urls, v->n);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

/* Takes the view's list when it changed since this client last looked. */
static void view_pull(struct md_client *c)
{
    if (!c->view || atomic_load(&c->view->version) == c->view_seen)
        return;
    char *urls[MD_CLIENT_MAX_REPLICAS];
    pthread_mutex_lock(&c->view->mu);
    size_t n = c->view->n, leader = c->view->leader;
    uint64_t version = atomic_load(&c->view->version), fp = c->view->members_fp;
    int rc = copy_urls(urls, c->view->urls, n);
    pthread_mutex_unlock(&c->view->mu);
    if (rc != 0)
        return;
    free_urls(c->replicas, c->n);
    memcpy(c->replicas, urls, n * sizeof(urls[0]));
    c->n = n;
    c->leader = leader < n ? leader : 0;
    c->view_seen = version;
    c->members_fp = fp;
}

/* Gives the view this client's list (members) and leader: all of it after a
 * membership refresh, else only the leader (added to the list if new). */
static void view_push(struct md_client *c, int members)
{
    struct md_view *v = c->view;
    if (!v)
        return;
    const char *leader = c->replicas[c->leader];
    pthread_mutex_lock(&v->mu);
    if (members) {
        char *urls[MD_CLIENT_MAX_REPLICAS];
        if (copy_urls(urls, c->replicas, c->n) == 0) {
            free_urls(v->urls, v->n);
            memcpy(v->urls, urls, c->n * sizeof(urls[0]));
            v->n = c->n;
            v->leader = c->leader;
            v->members_fp = c->members_fp;
            atomic_fetch_add(&v->version, 1);
        }
    } else if (strcmp(v->urls[v->leader], leader) != 0) {
        size_t i = 0;
        while (i < v->n && strcmp(v->urls[i], leader) != 0)
            i++;
        if (i == v->n && v->n < MD_CLIENT_MAX_REPLICAS && (v->urls[i] = strdup(leader)))
            v->n++;
        if (i < v->n) {
            v->leader = i;
            atomic_fetch_add(&v->version, 1);
        }
    }
    c->view_seen = atomic_load(&v->version);
    pthread_mutex_unlock(&v->mu);
}

int md_client_new(const struct md_client_opts *o, struct md_client **out)
{
    if (!o || (!o->view && (o->n_replicas == 0 || !o->replicas)) ||
        o->n_replicas > MD_CLIENT_MAX_REPLICAS)
        return CAIRN_E_INVAL;
    struct md_client *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->view = o->view;
    c->batcher = o->batcher;
    c->pool = o->pool;
    if (o->n_replicas) {
        if (copy_urls(c->replicas, (char *const *)o->replicas, o->n_replicas) != 0)
            goto err;
        c->n = o->n_replicas;
    }
    if (c->view) {
        view_pull(c);
        if (c->n == 0)
            goto err;
    }
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 15000;
    c->attempt_ms = o->attempt_timeout_ms > 0 ? o->attempt_timeout_ms : 5000;
    c->id = o->client_id;
    while (c->id == 0)
        if (cn_random_bytes(&c->id, sizeof(c->id)) != 0)
            goto err;
    struct cn_http_client_opts ho = {.auth = o->auth,
                                     .connect_timeout_ms = 500,
                                     .timeout_ms = c->attempt_ms,
                                     .stall_timeout_ms = c->attempt_ms};
    if (cn_http_client_new(&ho, &c->http) != 0)
        goto err;
    *out = c;
    return 0;
err:
    md_client_free(c);
    return CAIRN_E_NOMEM;
}

void md_client_free(struct md_client *c)
{
    if (!c)
        return;
    free_urls(c->replicas, c->n);
    cn_http_client_free(c->http);
    free(c);
}

uint64_t md_client_id(const struct md_client *c)
{
    return c->id;
}

size_t md_client_n_replicas(const struct md_client *c)
{
    return c->n;
}

uint64_t md_client_next_seq(struct md_client *c)
{
    return ++c->seq;
}

const char *md_client_leader(const struct md_client *c)
{
    return c->replicas[c->leader];
}

/* Adds url to the replicas (if new and there is room). Returns its index,
 * or -1 when it could not be added. */
static long add_replica(struct md_client *c, const char *url)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->replicas[i], url) == 0)
            return (long)i;
    if (c->n == MD_CLIENT_MAX_REPLICAS || strncmp(url, "http", 4) != 0)
        return -1;
    char *copy = strdup(url);
    if (!copy)
        return -1;
    c->replicas[c->n] = copy;
    return (long)c->n++;
}

/* Points c->leader at the hinted URL (adding it: the group may have a member
 * this client was not told about); else moves on. */
static int follow_hint(struct md_client *c, const struct cn_http_response *resp)
{
    const char *url = cn_http_response_header(resp, CN_HDR_LEADER_URL);
    long i = url ? add_replica(c, url) : -1;
    if (i >= 0 && (size_t)i != c->leader) {
        c->leader = (size_t)i;
        return 1;
    }
    c->leader = (c->leader + 1) % c->n;
    return 0;
}

/* Asks the replicas for the group's membership (GET /v1/members) and takes
 * the first answer as the list to try: members join and leave while clients
 * run. Keeps the list when nobody answers (returns 0; 1 when refreshed). */
static int refresh_members(struct md_client *c, size_t start)
{
    for (size_t k = 0; k < c->n; k++) {
        size_t i = (start + k) % c->n;
        struct cn_http_request req = {.method = "GET",
                                      .base_url = c->replicas[i],
                                      .target = CN_ROUTE_MD_MEMBERS,
                                      .resp_max = 64 << 10,
                                      .timeout_ms = c->attempt_ms < 2000 ? c->attempt_ms : 2000};
        struct cn_http_response resp = {0};
        if (cn_http_client_do(c->http, &req, &resp) != 0 || resp.status != 200 || !resp.body) {
            cn_http_response_clear(&resp);
            continue;
        }
        struct md_members ms;
        size_t n = md_members_parse(resp.body, &ms);
        cn_http_response_clear(&resp);
        char *urls[MD_CLIENT_MAX_REPLICAS];
        size_t got = 0;
        for (size_t j = 0; j < n; j++)
            if ((urls[got] = strdup(ms.m[j].url)) != NULL)
                got++;
        if (got < n || n == 0) {
            while (got)
                free(urls[--got]);
            continue;
        }
        for (size_t j = 0; j < c->n; j++)
            free(c->replicas[j]);
        c->leader = 0;
        for (size_t j = 0; j < n; j++) {
            c->replicas[j] = urls[j];
            if (ms.m[j].id == ms.leader)
                c->leader = j;
        }
        c->n = n;
        return 1;
    }
    return 0;
}

static int call_until(struct md_client *c, int64_t deadline, const char *method, const char *target,
                      const char *const *headers, const void *body, size_t len, uint8_t **result,
                      size_t *result_len)
{
    int last = CAIRN_E_TIMEOUT, refreshed = 0;
    unsigned misses = 0;
    view_pull(c);
    size_t first = c->leader;
    while (cn_mono_ms() < deadline) {
        int64_t left = deadline - cn_mono_ms();
        struct cn_http_request req = {.method = method,
                                      .base_url = c->replicas[c->leader],
                                      .target = target,
                                      .headers = headers,
                                      .body = body,
                                      .body_len = len,
                                      .resp_max = 64u << 20,
                                      .timeout_ms = left < c->attempt_ms ? left : c->attempt_ms};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(c->http, &req, &resp);
        if (rc == CAIRN_E_AUTH) {
            /* Refused as unauthenticated, or an answer that is not
             * authentic: retrying will not help. */
            CN_WARN("md-client", "%s: authentication failed (HTTP %d %s)", target, resp.status,
                    resp.body ? resp.body : "");
            cn_http_response_clear(&resp);
            return CAIRN_E_AUTH;
        }
        if (rc == 0 && resp.status / 100 == 2) {
            *result = (uint8_t *)resp.body;
            *result_len = resp.body_len;
            resp.body = NULL;
            /* Members changed (or this list was never checked): ask the
             * replica that answered, while it answers. */
            const char *h = cn_http_response_header(&resp, CN_HDR_MEMBERS);
            uint64_t fp = h ? strtoull(h, NULL, 16) : 0;
            cn_http_response_clear(&resp);
            if (fp && fp != c->members_fp && refresh_members(c, c->leader)) {
                c->members_fp = fp;
                refreshed = 1;
            }
            if (refreshed || c->leader != first)
                view_push(c, refreshed);
            return 0;
        }
        int hinted = 0;
        if (rc == 0 && resp.status == 421) {
            hinted = follow_hint(c, &resp);
            last = CAIRN_E_NOTLEADER;
        } else if (rc == 0 && resp.status == 410) {
            /* A replica the group removed: the others answer. */
            last = CAIRN_E_NOTLEADER;
            c->leader = (c->leader + 1) % c->n;
        } else if (rc == 0 && resp.status >= 400 && resp.status < 500 && resp.status != 408) {
            /* The request itself is wrong: retrying will not help. */
            CN_WARN("md-client", "%s refused: %d %s", target, resp.status,
                    resp.body ? resp.body : "");
            int refused = resp.status == 401 ? CAIRN_E_AUTH : CAIRN_E_INVAL;
            cn_http_response_clear(&resp);
            return refused;
        } else {
            last = rc ? rc : CAIRN_E_UNAVAIL;
            c->leader = (c->leader + 1) % c->n;
        }
        cn_http_response_clear(&resp);
        /* Back off once every replica was tried without a useful answer
         * (an election is probably under way), and ask the group who its
         * members are now. */
        if (!hinted && ++misses % c->n == 0) {
            cn_sleep_ms(misses / c->n < 5 ? 20 * (int64_t)(misses / c->n) : 100);
            /* Another client of this process may know better already. */
            uint64_t seen = c->view_seen;
            view_pull(c);
            if (c->view_seen == seen && refresh_members(c, 0))
                refreshed = 1;
        }
    }
    /* Whatever the last attempt saw (no leader, refused or dropped connections,
     * a slow answer), nobody applied it before the deadline. */
    return last == CAIRN_E_NOMEM ? last : CAIRN_E_TIMEOUT;
}

/* One request, retried until the client's deadline; on a client of the pool
 * when it has one (waiting for one to be free counts against the deadline). */
static int call(struct md_client *c, const char *method, const char *target,
                const char *const *headers, const void *body, size_t len, uint8_t **result,
                size_t *result_len)
{
    int64_t deadline = cn_mono_ms() + c->timeout_ms;
    if (!c->pool)
        return call_until(c, deadline, method, target, headers, body, len, result, result_len);
    struct md_client *s = md_pool_take(c->pool, deadline);
    if (!s)
        return CAIRN_E_TIMEOUT; /* every pooled client was busy until the deadline */
    int rc = call_until(s, deadline, method, target, headers, body, len, result, result_len);
    md_pool_give(c->pool, s);
    return rc;
}

int md_client_send_one(struct md_client *c, int query, uint64_t client_id, uint64_t seq,
                       const void *body, size_t len, uint8_t **result, size_t *result_len)
{
    if (query) {
        const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
        return call(c, "POST", CN_ROUTE_MD_READ, headers, body, len, result, result_len);
    }
    char h1[48], h2[48];
    snprintf(h1, sizeof(h1), CN_HDR_CLIENT ": %" PRIu64, client_id);
    snprintf(h2, sizeof(h2), CN_HDR_SEQ ": %" PRIu64, seq);
    const char *headers[] = {h1, h2, "Content-Type: application/x-protobuf", NULL};
    return call(c, "POST", CN_ROUTE_MD_CMD, headers, body, len, result, result_len);
}

int md_client_send_batch(struct md_client *c, const void *body, size_t len, uint8_t **result,
                         size_t *result_len)
{
    const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
    return call(c, "POST", CN_ROUTE_MD_BATCH, headers, body, len, result, result_len);
}

/* Through the batcher when there is one; alone when there is none or the
 * batch did not do it. */
static int send_item(struct md_client *c, int query, uint64_t seq, const void *body, size_t len,
                     uint8_t **result, size_t *result_len)
{
    if (c->batcher) {
        int rc = md_batcher_run(c->batcher, c, query, c->id, seq, body, len, result, result_len);
        if (rc != MD_BATCH_AGAIN)
            return rc;
    }
    return md_client_send_one(c, query, c->id, seq, body, len, result, result_len);
}

int md_client_command(struct md_client *c, uint64_t seq, const void *cmd, size_t len,
                      uint8_t **result, size_t *result_len)
{
    if (!c || !cmd || len == 0 || seq == 0)
        return CAIRN_E_INVAL;
    return send_item(c, 0, seq, cmd, len, result, result_len);
}

int md_client_read(struct md_client *c, const void *query, size_t len, uint8_t **result,
                   size_t *result_len)
{
    if (!c || (!query && len))
        return CAIRN_E_INVAL;
    return send_item(c, 1, 0, query, len, result, result_len);
}

static int post(struct md_client *c, const char *target, const void *body, size_t len,
                uint8_t **result, size_t *result_len)
{
    if (!c || !target)
        return CAIRN_E_INVAL;
    const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
    return call(c, "POST", target, headers, body, len, result, result_len);
}

/* POST with an empty body whose answer carries nothing. */
static int post_empty(struct md_client *c, const char *target)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = post(c, target, "", 0, &res, &rlen);
    free(res);
    return rc;
}

int md_client_place(struct md_client *c, uint32_t count, uint32_t min, const uint64_t *exclude,
                    size_t n_exclude, struct md_placement *out, uint32_t *n_out)
{
    char target[CN_WIRE_TARGET_MAX];
    if (!c || count == 0 || count > 64 || min > count ||
        cn_wire_place_target(target, sizeof(target), count, min ? min : count, exclude,
                             n_exclude) != 0)
        return CAIRN_E_INVAL;
    char *body = NULL;
    size_t blen;
    int rc = call(c, "GET", target, NULL, NULL, 0, (uint8_t **)&body, &blen);
    if (rc != 0)
        return rc;
    uint32_t got = 0;
    char *save = NULL;
    for (char *line = strtok_r(body, "\n", &save); line && got < count;
         line = strtok_r(NULL, "\n", &save)) {
        struct md_placement *pl = &out[got];
        if (sscanf(line, "%" SCNu64 " %127s", &pl->id, pl->address) == 2)
            got++;
    }
    free(body);
    *n_out = got;
    return got > 0 ? 0 : CAIRN_E_PROTO;
}

int md_client_report_damage(struct md_client *c, const uint8_t group_id[16], uint32_t index,
                            uint64_t cs)
{
    char target[CN_WIRE_TARGET_MAX];
    if (!c || !group_id || cn_wire_damage_target(target, sizeof(target), group_id, index, cs) != 0)
        return CAIRN_E_INVAL;
    return post_empty(c, target);
}

int md_client_repair(struct md_client *c, const uint8_t *group_id)
{
    char target[CN_WIRE_TARGET_MAX];
    if (!c || cn_wire_repair_target(target, sizeof(target), group_id) != 0)
        return CAIRN_E_INVAL;
    return post_empty(c, target);
}

int md_client_compact(struct md_client *c, unsigned below_pct, uint64_t *compacted)
{
    if (!c || below_pct > 100 || !compacted)
        return CAIRN_E_INVAL;
    char target[64];
    if (below_pct)
        snprintf(target, sizeof(target), "%s?below=%u", CN_ROUTE_MD_COMPACT, below_pct);
    else
        snprintf(target, sizeof(target), "%s", CN_ROUTE_MD_COMPACT);
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = call(c, "POST", target, NULL, "", 0, &res, &rlen);
    unsigned long long n = 0;
    if (rc == 0 && (!res || sscanf((const char *)res, "compacted %llu", &n) != 1))
        rc = CAIRN_E_PROTO;
    free(res);
    *compacted = n;
    return rc;
}

int md_client_cluster(struct md_client *c, char **body, size_t *len)
{
    if (!c)
        return CAIRN_E_INVAL;
    return call(c, "GET", CN_ROUTE_MD_CLUSTER, NULL, NULL, 0, (uint8_t **)body, len);
}

int md_client_heartbeat(struct md_client *c, const void *hb, size_t len, uint8_t **reply,
                        size_t *reply_len)
{
    return post(c, CN_ROUTE_MD_HEARTBEAT, hb, len, reply, reply_len);
}

int md_client_get_group(struct md_client *c, const uint8_t group_id[16], Md__QueryResult **out)
{
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    int rc = md_q_get_group(group_id, &q, &qlen);
    if (rc == 0)
        rc = md_client_read(c, q, qlen, &res, &rlen);
    free(q);
    if (rc != 0)
        return rc;
    *out = md_query_result_decode(res, rlen);
    free(res);
    return *out ? 0 : CAIRN_E_PROTO;
}

size_t md_members_parse(const char *body, struct md_members *out)
{
    memset(out, 0, sizeof(*out));
    for (const char *line = body; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        char buf[MD_MEMBER_URL_MAX + 64], url[MD_MEMBER_URL_MAX], kind[16];
        unsigned id, leader;
        if (n < sizeof(buf)) {
            memcpy(buf, line, n);
            buf[n] = '\0';
            struct md_member *m = &out->m[out->n < MD_CLIENT_MAX_REPLICAS ? out->n : 0];
            if (sscanf(buf, "member %u %255s %15s", &id, url, kind) == 3 && id != 0 &&
                (!strcmp(kind, "voter") || !strcmp(kind, "learner"))) {
                if (out->n < MD_CLIENT_MAX_REPLICAS) {
                    m->id = id;
                    m->voter = !strcmp(kind, "voter");
                    memcpy(m->url, url, sizeof(url));
                    out->n++;
                }
            } else if (sscanf(buf, "leader %u", &leader) == 1) {
                out->leader = leader;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return out->n;
}

int md_client_members(struct md_client *c, struct md_members *out)
{
    if (!c || !out)
        return CAIRN_E_INVAL;
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = call(c, "GET", CN_ROUTE_MD_MEMBERS "?from=leader", NULL, NULL, 0, &body, &len);
    if (rc != 0)
        return rc;
    size_t n = md_members_parse((const char *)body, out);
    free(body);
    return n ? 0 : CAIRN_E_PROTO;
}

/* POSTs target (a CN_ROUTE_MD_CHANGE request) to the leader, following
 * its hints (421) and trying the next replica when one does not answer,
 * until the client's timeout. Not through call(): a refusal (4xx) carries
 * the reason to show. 0 with *resp holding the answer (any status but a
 * hint; the caller clears it), or CAIRN_E_TIMEOUT. */
static int change_post(struct md_client *c, const char *target, struct cn_http_response *resp)
{
    int64_t deadline = cn_mono_ms() + c->timeout_ms;
    for (;;) {
        const char *headers[] = {"Content-Type: text/plain", NULL};
        struct cn_http_request req = {.method = "POST",
                                      .base_url = c->replicas[c->leader],
                                      .target = target,
                                      .headers = headers,
                                      .body = "",
                                      .body_len = 0,
                                      .resp_max = 64 << 10,
                                      .timeout_ms = c->timeout_ms};
        memset(resp, 0, sizeof(*resp));
        int rc = cn_http_client_do(c->http, &req, resp);
        if (rc == 0 && resp->status == 421 && cn_mono_ms() < deadline) {
            if (!follow_hint(c, resp))
                cn_sleep_ms(100);
            cn_http_response_clear(resp);
            continue;
        }
        if (rc != 0) {
            cn_http_response_clear(resp);
            if (cn_mono_ms() >= deadline)
                return CAIRN_E_TIMEOUT;
            c->leader = (c->leader + 1) % c->n;
            cn_sleep_ms(100);
            continue;
        }
        return 0;
    }
}

/* POST target (a membership change) and the answer's status: 200 only when
 * its body is "WORD N" (word "id", "leader") with N > 0 into *out, else 502;
 * the body goes to why. Returns 0 with *status, or change_post's error. */
static int change_answer(struct md_client *c, const char *target, const char *word, uint32_t *out,
                         char *why, size_t why_len, int *status)
{
    if (why && why_len)
        why[0] = '\0';
    struct cn_http_response resp;
    int rc = change_post(c, target, &resp);
    if (rc != 0)
        return rc;
    if (why && why_len && resp.body)
        snprintf(why, why_len, "%s", resp.body);
    *status = resp.status;
    if (*status == 200 && word) {
        size_t wl = strlen(word);
        char *end = NULL;
        unsigned long v = 0;
        if (resp.body && strncmp(resp.body, word, wl) == 0 && resp.body[wl] == ' ')
            v = strtoul(resp.body + wl + 1, &end, 10);
        if (v == 0 || v > UINT32_MAX || end == resp.body + wl + 1)
            *status = 502;
        else
            *out = (uint32_t)v;
    }
    cn_http_response_clear(&resp);
    return 0;
}

/* The error for a change's HTTP status (409 as conflict409). */
static int change_status(int st, int conflict409)
{
    return st == 200   ? 0
           : st == 503 ? CAIRN_E_BUSY
           : st == 409 ? conflict409
           : st == 404 ? CAIRN_E_NOTFOUND
           : st == 400 ? CAIRN_E_INVAL
           : st == 401 ? CAIRN_E_AUTH
                       : CAIRN_E_PROTO;
}

int md_client_change(struct md_client *c, const char *url, uint32_t *id, char *why, size_t why_len)
{
    char target[CN_WIRE_TARGET_MAX + 256];
    if (why && why_len)
        why[0] = '\0';
    if (!c || !id)
        return CAIRN_E_INVAL;
    if (url) {
        /* The URL goes in the query: it must not need escaping. */
        for (const char *p = url; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/.-_[]",
                        *p))
                return CAIRN_E_INVAL;
        snprintf(target, sizeof(target), CN_ROUTE_MD_CHANGE "?op=add&url=%s", url);
    } else {
        snprintf(target, sizeof(target), CN_ROUTE_MD_CHANGE "?op=remove&id=%u", *id);
    }
    int st = 0;
    int rc = change_answer(c, target, url ? "id" : NULL, id, why, why_len, &st);
    return rc ? rc : change_status(st, url ? CAIRN_E_EXISTS : CAIRN_E_UNAVAIL);
}

int md_client_transfer(struct md_client *c, uint32_t to, uint32_t *leader, char *why,
                       size_t why_len)
{
    char target[CN_WIRE_TARGET_MAX + 64];
    if (why && why_len)
        why[0] = '\0';
    if (!c || !leader)
        return CAIRN_E_INVAL;
    if (to)
        snprintf(target, sizeof(target), CN_ROUTE_MD_CHANGE "?op=transfer&id=%u", to);
    else
        snprintf(target, sizeof(target), CN_ROUTE_MD_CHANGE "?op=transfer");
    /* "leader N\n", and "already\n" when N already led. */
    int st = 0;
    int rc = change_answer(c, target, "leader", leader, why, why_len, &st);
    return rc ? rc : change_status(st, CAIRN_E_PROTO);
}
