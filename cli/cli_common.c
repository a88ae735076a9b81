#include "cli_common.h"

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "md_client.h"
#include "md_cmd.h"
#include "cn_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    struct cn_config_list meta;
    char *secret_file;
    char *secret;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_LIST("meta", "http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003",
                     "metadata replicas, comma-separated base URLs (or CAIRN_META)", &conf.meta),
    CN_CONF_OPT_STRING("cluster-secret-file", "", "file holding the cluster secret",
                       &conf.secret_file),
    CN_CONF_OPT_STRING("secret", "", "the cluster secret itself (prefer --cluster-secret-file)",
                       &conf.secret),
};

static const struct cn_config_table table = {
    .program = "cairn",
    .summary = "Cairn admin tool: cairn [options] COMMAND [command options]",
    .args_usage = "COMMAND [ARGS]",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

int cli_global_load(struct cli_global *g, int argc, char **argv, int *next)
{
    memset(g, 0, sizeof(*g));
    char err[512] = "";
    int rc = cn_config_load(&table, argc, argv, next, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return rc;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return rc;
    }
    /* CAIRN_META (as scripts/cluster.sh's cluster.env exports it) stands in
     * for --meta when the flag is not given. */
    int meta_flag = 0;
    for (int i = 1; i < *next; i++)
        meta_flag |= !strncmp(argv[i], "--meta", 6);
    const char *env = getenv("CAIRN_META");
    if (!meta_flag && env && *env) {
        char *copy = strdup(env);
        for (char *t = copy ? strtok(copy, ",") : NULL; t && g->n_replicas < 16;
             t = strtok(NULL, ","))
            g->replicas[g->n_replicas++] = strdup(t);
        free(copy);
    } else {
        for (size_t i = 0; i < conf.meta.n && i < 16; i++)
            g->replicas[g->n_replicas++] = strdup(conf.meta.items[i]);
    }
    /* `cairn COMMAND --help` needs no cluster secret: the command prints its
     * usage before it talks to anything. */
    for (int i = *next; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            argv[i] = "--help";
            cn_config_release(&table);
            return 0;
        }
    }
    if (*conf.secret_file)
        rc = cn_auth_new_from_file(conf.secret_file, 0, &g->auth);
    else if (*conf.secret)
        rc = cn_auth_new(conf.secret, strlen(conf.secret), 0, &g->auth);
    else if (getenv("CAIRN_SECRET"))
        rc = cn_auth_new(getenv("CAIRN_SECRET"), strlen(getenv("CAIRN_SECRET")), 0, &g->auth);
    else
        rc = CAIRN_E_INVAL;
    if (rc != 0) {
        fprintf(stderr,
                "cairn: the cluster secret is required (--cluster-secret-file, --secret or "
                "CAIRN_SECRET): %s\n",
                cairn_strerror(rc));
        cli_global_release(g);
        cn_config_release(&table);
        return rc;
    }
    cn_config_release(&table);
    return 0;
}

struct md_client *cli_meta_client(struct cli_global *g, int64_t timeout_ms)
{
    struct md_client_opts o = {.replicas = (const char *const *)g->replicas,
                               .n_replicas = g->n_replicas,
                               .auth = g->auth,
                               .timeout_ms = timeout_ms};
    struct md_client *c = NULL;
    return md_client_new(&o, &c) == 0 ? c : NULL;
}

void cli_global_release(struct cli_global *g)
{
    for (size_t i = 0; i < g->n_replicas; i++)
        free(g->replicas[i]);
    g->n_replicas = 0;
    cn_auth_free(g->auth);
    g->auth = NULL;
}

void cli_human(uint64_t bytes, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* GET /v1/cluster from the leader into *body (malloc'ed). */
static int fetch_cluster(struct cli_global *g, char **body)
{
    struct md_client *c = cli_meta_client(g, 5000);
    if (!c)
        return CAIRN_E_NOMEM;
    size_t len = 0;
    *body = NULL;
    int rc = md_client_cluster(c, body, &len);
    md_client_free(c);
    return rc;
}

struct repair_line {
    unsigned long long degraded, queued, in_flight, done, failed, bytes, unrecoverable;
};

static int parse_repair_line(const char *line, struct repair_line *r)
{
    return sscanf(line, "repair %llu %llu %llu %llu %llu %llu %llu", &r->degraded, &r->queued,
                  &r->in_flight, &r->done, &r->failed, &r->bytes, &r->unrecoverable) == 7
               ? 0
               : CAIRN_E_PROTO;
}

/* Writes s as a JSON string. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* The leader's view: chunkservers and the repair queue (GET /v1/cluster). */
static void cluster_view(struct cli_global *g)
{
    char *body = NULL;
    int rc = fetch_cluster(g, &body);
    if (rc != 0) {
        printf("\nchunkservers: unavailable (%s)\n", cairn_strerror(rc));
        return;
    }
    printf("\n%-17s %-22s %-9s %-8s %-10s %-10s %s\n", "chunkserver", "address", "state",
           "liveness", "used", "capacity", "host/rack/zone");
    unsigned up = 0, total = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        char id[20], addr[130], state[16], live[16], host[64], rack[64], zone[64];
        long long age;
        unsigned long long free_b, cap;
        unsigned long long dg, q, inf, done, failed, bytes, unrec;
        if (sscanf(line, "chunkserver %19s %129s %15s %15s %lld %llu %llu %63s %63s %63s", id, addr,
                   state, live, &age, &free_b, &cap, host, rack, zone) == 10) {
            char used[32], capacity[32];
            cli_human(cap > free_b ? cap - free_b : 0, used, sizeof(used));
            cli_human(cap, capacity, sizeof(capacity));
            printf("%-17s %-22s %-9s %-8s %-10s %-10s %s/%s/%s\n", id, addr, state, live, used,
                   capacity, host, rack, zone);
            total++;
            up += !strcmp(live, "up") && strcmp(state, "retired") != 0;
        } else if (sscanf(line, "repair %llu %llu %llu %llu %llu %llu %llu", &dg, &q, &inf, &done,
                          &failed, &bytes, &unrec) == 7) {
            char rb[32];
            cli_human(bytes, rb, sizeof(rb));
            printf("\n%u of %u chunkservers up\n", up, total);
            printf(
                "repair: %llu degraded group(s), %llu queued, %llu in flight, %llu unrecoverable;"
                " %llu done (%s rebuilt), %llu failed\n",
                dg, q, inf, unrec, done, rb, failed);
            if (dg == 0 && unrec == 0)
                printf("every known group is fully redundant\n");
        }
    }
    free(body);
}

/* cairn status --json: the same facts for scripts. */
static int status_json(struct cli_global *g)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = 2000};
    struct cn_http_client *h;
    if (cn_http_client_new(&o, &h) != 0)
        return 1;
    unsigned with_leader = 0;
    printf("{\"replicas\":[");
    for (size_t i = 0; i < g->n_replicas; i++) {
        struct cn_http_request req = {
            .method = "GET", .base_url = g->replicas[i], .target = CN_ROUTE_MD_STATUS};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(h, &req, &resp);
        printf("%s{\"url\":", i ? "," : "");
        json_str(g->replicas[i]);
        if (rc == 0 && resp.status == 200 && resp.body) {
            char id[16], role[16], leader[16], commit[24], applied[24], base[24];
            cn_kv_get(resp.body, "id", id, sizeof(id));
            cn_kv_get(resp.body, "role", role, sizeof(role));
            cn_kv_get(resp.body, "leader", leader, sizeof(leader));
            cn_kv_get(resp.body, "commit", commit, sizeof(commit));
            cn_kv_get(resp.body, "applied", applied, sizeof(applied));
            cn_kv_get(resp.body, "log_base", base, sizeof(base));
            printf(",\"reachable\":true,\"id\":%s,\"role\":", id);
            json_str(role);
            printf(",\"leader\":%s,\"commit\":%s,\"applied\":%s,\"log_base\":%s}", leader, commit,
                   applied, base);
            with_leader += strcmp(leader, "0") != 0;
        } else {
            printf(",\"reachable\":false}");
        }
        cn_http_response_clear(&resp);
    }
    cn_http_client_free(h);
    printf("],\"chunkservers\":[");
    char *body = NULL;
    int n = 0;
    struct repair_line rl;
    int have_repair = 0;
    if (fetch_cluster(g, &body) == 0) {
        for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
            char id[20], addr[130], state[16], live[16], host[64], rack[64], zone[64];
            long long age;
            unsigned long long free_b, cap;
            if (sscanf(line, "chunkserver %19s %129s %15s %15s %lld %llu %llu %63s %63s %63s", id,
                       addr, state, live, &age, &free_b, &cap, host, rack, zone) == 10) {
                printf("%s{\"id\":", n++ ? "," : "");
                json_str(id);
                printf(",\"address\":");
                json_str(addr);
                printf(",\"state\":");
                json_str(state);
                printf(",\"liveness\":");
                json_str(live);
                printf(",\"last_heartbeat_ms_ago\":%lld,\"free\":%llu,\"capacity\":%llu,"
                       "\"host\":",
                       age, free_b, cap);
                json_str(host);
                printf(",\"rack\":");
                json_str(rack);
                printf(",\"zone\":");
                json_str(zone);
                printf("}");
            } else if (parse_repair_line(line, &rl) == 0) {
                have_repair = 1;
            }
        }
    }
    free(body);
    printf("]");
    if (have_repair)
        printf(",\"repair\":{\"degraded_groups\":%llu,\"queued\":%llu,\"in_flight\":%llu,"
               "\"done\":%llu,\"failed\":%llu,\"bytes_rebuilt\":%llu,\"unrecoverable\":%llu}",
               rl.degraded, rl.queued, rl.in_flight, rl.done, rl.failed, rl.bytes,
               rl.unrecoverable);
    printf(",\"leader_known\":%s}\n", with_leader * 2 > g->n_replicas ? "true" : "false");
    return with_leader * 2 > g->n_replicas ? 0 : 1;
}

int cli_status(struct cli_global *g, int json)
{
    if (json)
        return status_json(g);
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = 2000};
    struct cn_http_client *h;
    if (cn_http_client_new(&o, &h) != 0)
        return 1;
    printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", "replica", "id", "role", "leader", "commit",
           "applied", "log_base");
    unsigned with_leader = 0;
    for (size_t i = 0; i < g->n_replicas; i++) {
        struct cn_http_request req = {
            .method = "GET", .base_url = g->replicas[i], .target = CN_ROUTE_MD_STATUS};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(h, &req, &resp);
        if (rc != 0 || resp.status != 200 || !resp.body) {
            printf("%-28s unreachable (%s, HTTP %d)\n", g->replicas[i],
                   rc ? cairn_strerror(rc) : "error", resp.status);
        } else {
            char id[16], role[16], leader[16], commit[24], applied[24], base[24];
            cn_kv_get(resp.body, "id", id, sizeof(id));
            cn_kv_get(resp.body, "role", role, sizeof(role));
            cn_kv_get(resp.body, "leader", leader, sizeof(leader));
            cn_kv_get(resp.body, "commit", commit, sizeof(commit));
            cn_kv_get(resp.body, "applied", applied, sizeof(applied));
            cn_kv_get(resp.body, "log_base", base, sizeof(base));
            printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", g->replicas[i], id, role, leader,
                   commit, applied, base);
            if (strcmp(leader, "0") != 0)
                with_leader++;
        }
        cn_http_response_clear(&resp);
    }
    cn_http_client_free(h);
    int ok = with_leader * 2 > g->n_replicas;
    if (ok)
        cluster_view(g);
    return ok ? 0 : 1;
}

int cli_state_hash(struct cli_global *g)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = 5000};
    struct cn_http_client *h;
    if (g->n_replicas == 0 || cn_http_client_new(&o, &h) != 0)
        return 1;
    struct cn_http_request req = {.method = "GET",
                                  .base_url = g->replicas[0],
                                  .target = CN_ROUTE_MD_STATUS "?" CN_QUERY_MD_STATUS_HASH};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    int failed = 1;
    if (rc == 0 && resp.status == 200 && resp.body) {
        char applied[24], hash[80];
        cn_kv_get(resp.body, "applied", applied, sizeof(applied));
        cn_kv_get(resp.body, "state_hash", hash, sizeof(hash));
        printf("applied %s hash %s\n", applied, hash);
        failed = strcmp(hash, "-") == 0;
    } else {
        fprintf(stderr, "cairn state-hash: %s unreachable (%s, HTTP %d)\n", g->replicas[0],
                rc ? cairn_strerror(rc) : "error", resp.status);
    }
    cn_http_response_clear(&resp);
    cn_http_client_free(h);
    return failed;
}

static int follow_repair(struct cli_global *g);

int cli_repair(struct cli_global *g, const char *group_hex, int wait)
{
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return 1;
    uint8_t gid[16];
    int rc = group_hex && cn_hex_decode(group_hex, gid, sizeof(gid)) != 0
                 ? CAIRN_E_INVAL
                 : md_client_repair(c, group_hex ? gid : NULL);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn repair: %s\n", cairn_strerror(rc));
        return 1;
    }
    printf(group_hex ? "repair of group %s queued first\n" : "rescan started%s\n",
           group_hex ? group_hex : "");
    return wait ? follow_repair(g) : 0;
}

/* Follows the leader's repair queue until every known group is redundant:
 * 0 then, 1 when the groups left cannot be repaired. */
static int follow_repair(struct cli_global *g)
{
    int tty = isatty(STDOUT_FILENO);
    int64_t t0 = cn_mono_ms(), last_line = 0;
    struct repair_line first = {0}, cur = {0};
    int have_first = 0, quiet = 0;
    for (;;) {
        char *body = NULL;
        int frc = fetch_cluster(g, &body);
        int found = 0;
        for (char *line = body ? strtok(body, "\n") : NULL; line; line = strtok(NULL, "\n"))
            found |= parse_repair_line(line, &cur) == 0;
        free(body);
        if (frc != 0 || !found) {
            fprintf(stderr, "%scairn repair: leader unavailable (%s), retrying\n", tty ? "\n" : "",
                    cairn_strerror(frc ? frc : CAIRN_E_PROTO));
            cn_sleep_ms(1000);
            continue;
        }
        if (!have_first) {
            first = cur;
            have_first = 1;
        }
        double secs = (double)(cn_mono_ms() - t0) / 1000.0;
        double mbs = secs > 0 ? (double)(cur.bytes - first.bytes) / 1e6 / secs : 0;
        unsigned long long fixed = cur.done - first.done;
        char eta[32] = "-";
        if (fixed > 0 && cur.degraded > 0)
            snprintf(eta, sizeof(eta), "%.0f s", (double)cur.degraded * secs / (double)fixed);
        char rb[32];
        cli_human(cur.bytes - first.bytes, rb, sizeof(rb));
        if (tty) {
            char bar[40];
            cli_progress_bar(bar, sizeof(bar), fixed, fixed + cur.degraded);
            printf("\r  %s%llu degraded, %llu in flight, %llu rebuilt (%s, %.1f MB/s), ETA %s   ",
                   bar, cur.degraded, cur.in_flight, fixed, rb, mbs, eta);
            fflush(stdout);
        } else if (cn_mono_ms() - last_line > 5000) {
            printf("  %llu degraded, %llu in flight, %llu rebuilt (%s, %.1f MB/s), ETA %s\n",
                   cur.degraded, cur.in_flight, fixed, rb, mbs, eta);
            fflush(stdout);
            last_line = cn_mono_ms();
        }
        /* Done when nothing is degraded twice in a row (a scan may be under way). */
        quiet = cur.degraded == 0 && cur.in_flight == 0 ? quiet + 1 : 0;
        if (quiet >= 2)
            break;
        if (cur.degraded == cur.unrecoverable && cur.in_flight == 0 && cur.queued == 0 &&
            cur.unrecoverable > 0) {
            printf("%s%llu group(s) cannot be repaired: fewer than k fragments are left\n",
                   tty ? "\n" : "", cur.unrecoverable);
            return 1;
        }
        cn_sleep_ms(1000);
    }
    char rb[32];
    cli_human(cur.bytes - first.bytes, rb, sizeof(rb));
    printf("%sfully redundant: %llu fragment(s) rebuilt (%s) in %.0f s\n", tty ? "\n" : "",
           cur.done - first.done, rb, (double)(cn_mono_ms() - t0) / 1000.0);
    return 0;
}

static int set_cs_state(struct md_client *c, uint64_t id, int state)
{
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL, *res = NULL;
    size_t clen, rlen;
    int rc =
        md_cmd_set_cs_state(md_client_id(c), seq, id, state, 0, 0, 0, cn_wall_ms(), &cmd, &clen);
    if (rc == 0)
        rc = md_client_command(c, seq, cmd, clen, &res, &rlen);
    if (rc == 0)
        rc = md_result_status(res, rlen, NULL);
    free(cmd);
    free(res);
    return rc;
}

/* Fragments the committed state still places on chunkserver id (counted in
 * pages); negative on error. */
static long fragments_on(struct md_client *c, uint64_t id)
{
    long total = 0;
    uint8_t after[16];
    uint32_t after_index = 0;
    int have_after = 0;
    for (;;) {
        uint8_t *q = NULL, *res = NULL;
        size_t qlen, rlen;
        int rc = md_q_fragments_on(id, have_after ? after : NULL, after_index, 1000, &q, &qlen);
        if (rc == 0)
            rc = md_client_read(c, q, qlen, &res, &rlen);
        free(q);
        if (rc != 0)
            return rc;
        Md__QueryResult *r = md_query_result_decode(res, rlen);
        free(res);
        if (!r)
            return CAIRN_E_PROTO;
        total += (long)r->n_fragments;
        int more = r->truncated && r->n_fragments > 0;
        if (more) {
            const Md__FragmentRef *last = r->fragments[r->n_fragments - 1];
            if (last->group_id.len == 16)
                memcpy(after, last->group_id.data, 16);
            after_index = last->index;
            have_after = 1;
        }
        md__query_result__free_unpacked(r, NULL);
        if (!more)
            return total;
    }
}

int cli_drain(struct cli_global *g, int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help")) {
        fprintf(argc < 1 ? stderr : stdout,
                "usage: cairn drain CHUNKSERVER_ID [--no-wait]\n"
                "Moves every fragment off the chunkserver (it keeps serving meanwhile), then\n"
                "marks it retired. The id is the decimal or 16-hex-digit id `cairn status`\n"
                "and the chunkserver's log show.\n");
        return argc < 1 ? 2 : 0;
    }
    char *end;
    uint64_t id = strlen(argv[0]) == 16 ? strtoull(argv[0], &end, 16) : strtoull(argv[0], &end, 10);
    if (*end || id == 0) {
        fprintf(stderr, "cairn drain: '%s' is not a chunkserver id\n", argv[0]);
        return 2;
    }
    int wait = !(argc > 1 && !strcmp(argv[1], "--no-wait"));
    struct md_client *c = cli_meta_client(g, 15000);
    if (!c)
        return 1;
    int rc = set_cs_state(c, id, MD__CHUNKSERVER_STATE__CS_DRAINING);
    if (rc != 0) {
        fprintf(stderr, "cairn drain: %s\n", cairn_strerror(rc));
        md_client_free(c);
        return 1;
    }
    long start = fragments_on(c, id);
    printf("chunkserver %016llx is draining: %ld fragment(s) to move\n", (unsigned long long)id,
           start);
    fflush(stdout);
    if (!wait) {
        md_client_free(c);
        return 0;
    }
    long left = start, shown = -1;
    int64_t last_change = cn_mono_ms();
    int hinted = 0;
    while (left != 0) {
        if (left < 0) {
            fprintf(stderr, "cairn drain: %s\n", cairn_strerror((int)left));
            md_client_free(c);
            return 1;
        }
        if (left != shown) {
            printf("  %ld fragment(s) left\n", left);
            fflush(stdout);
            shown = left;
            last_change = cn_mono_ms();
        } else if (!hinted && cn_mono_ms() - last_change > 30000) {
            printf("  no progress for 30 s: is there a live chunkserver on another host for\n"
                   "  every group? (the leader's log says when it finds no placement)\n");
            fflush(stdout);
            hinted = 1;
        }
        cn_sleep_ms(500);
        left = fragments_on(c, id);
    }
    rc = set_cs_state(c, id, MD__CHUNKSERVER_STATE__CS_RETIRED);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn drain: drained, but could not mark it retired: %s\n",
                cairn_strerror(rc));
        return 1;
    }
    printf("chunkserver %016llx drained and retired\n", (unsigned long long)id);
    return 0;
}

int cli_locate(struct cli_global *g, const char *bucket, const char *key)
{
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return 1;
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    int rc = md_q_get_object(bucket, key, &q, &qlen);
    if (rc == 0)
        rc = md_client_read(c, q, qlen, &res, &rlen);
    free(q);
    Md__QueryResult *r = rc == 0 ? md_query_result_decode(res, rlen) : NULL;
    free(res);
    if (!r || r->status != 0 || !r->object) {
        fprintf(stderr, "cairn locate: %s/%s: %s\n", bucket, key,
                cairn_strerror(rc  ? rc
                               : r ? r->status
                                   : CAIRN_E_PROTO));
        if (r)
            md__query_result__free_unpacked(r, NULL);
        md_client_free(c);
        return 1;
    }
    /* Chunkserver addresses, to show where each fragment is. */
    Md__QueryResult *cl = NULL;
    if (md_q_list_chunkservers(&q, &qlen) == 0 && md_client_read(c, q, qlen, &res, &rlen) == 0) {
        cl = md_query_result_decode(res, rlen);
        free(res);
    }
    free(q);
    const Md__ObjectRecord *ob = r->object;
    printf("%s/%s: %llu bytes, ETag \"%s\", ", bucket, key, (unsigned long long)ob->size, ob->etag);
    if (ob->has_inline) {
        printf("stored inline in the metadata record\n");
    } else {
        printf("%zu chunk group(s)\n", ob->n_extents);
        for (size_t i = 0; i < ob->n_extents; i++) {
            const Md__ChunkGroup *cg = ob->extents[i]->group;
            char gid[33] = "";
            if (cg->id.len == 16)
                cn_hex_encode(cg->id.data, 16, gid);
            printf("group %s  bytes %llu..%llu  %u+%u unit %u\n", gid,
                   (unsigned long long)ob->extents[i]->offset,
                   (unsigned long long)(ob->extents[i]->offset + cg->data_length), cg->k, cg->m,
                   cg->unit);
            for (size_t f = 0; f < cg->n_fragment_cs; f++) {
                const char *addr = "-", *state = "";
                for (size_t j = 0; cl && j < cl->n_chunkservers; j++)
                    if (cl->chunkservers[j]->id == cg->fragment_cs[f]) {
                        addr = cl->chunkservers[j]->address;
                        state = cl->chunkservers[j]->state == 1   ? " (draining)"
                                : cl->chunkservers[j]->state == 2 ? " (retired)"
                                                                  : "";
                    }
                if (cg->fragment_cs[f])
                    printf("  %s %2zu  %016llx %s%s\n", f < cg->k ? "data  " : "parity", f,
                           (unsigned long long)cg->fragment_cs[f], addr, state);
                else
                    printf("  %s %2zu  MISSING (queued for repair)\n",
                           f < cg->k ? "data  " : "parity", f);
            }
        }
    }
    if (cl)
        md__query_result__free_unpacked(cl, NULL);
    md__query_result__free_unpacked(r, NULL);
    md_client_free(c);
    return 0;
}

/* 20 characters of A-Z0-9 for a key id, 40 of base64url-ish for a secret. */
static void random_text(char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet);
    uint8_t rnd[64];
    cn_random_bytes(rnd, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % al];
    out[n] = 0;
}

int cli_keys(struct cli_global *g, int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help")) {
        fprintf(argc < 1 ? stderr : stdout,
                "usage: cairn keys create OWNER [--admin] | list | delete KEY_ID\n"
                "S3 access keys kept in the metadata service (the gateway's root key comes\n"
                "from its own configuration).\n");
        return argc < 1 ? 2 : 0;
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return 1;
    int rc = 0, status = 0;
    uint8_t *buf = NULL, *res = NULL;
    size_t len, rlen;
    if (!strcmp(argv[0], "create") && argc >= 2) {
        char id[21], secret[41];
        random_text(id, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        random_text(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        int admin = argc >= 3 && !strcmp(argv[2], "--admin");
        uint64_t seq = md_client_next_seq(c);
        rc = md_cmd_create_access_key(md_client_id(c), seq, id, secret, argv[1], admin,
                                      cn_wall_ms(), &buf, &len);
        if (rc == 0)
            rc = md_client_command(c, seq, buf, len, &res, &rlen);
        if (rc == 0)
            status = md_result_status(res, rlen, NULL);
        if (rc == 0 && status == 0)
            printf("access key %s\nsecret key %s\nowner %s%s\n", id, secret, argv[1],
                   admin ? " (admin)" : "");
    } else if (!strcmp(argv[0], "delete") && argc >= 2) {
        uint64_t seq = md_client_next_seq(c);
        rc = md_cmd_delete_access_key(md_client_id(c), seq, argv[1], &buf, &len);
        if (rc == 0)
            rc = md_client_command(c, seq, buf, len, &res, &rlen);
        if (rc == 0)
            status = md_result_status(res, rlen, NULL);
        if (rc == 0 && status == 0)
            printf("deleted %s\n", argv[1]);
    } else if (!strcmp(argv[0], "list")) {
        rc = md_q_list_access_keys(&buf, &len);
        if (rc == 0)
            rc = md_client_read(c, buf, len, &res, &rlen);
        Md__QueryResult *r = rc == 0 ? md_query_result_decode(res, rlen) : NULL;
        if (rc == 0 && !r)
            rc = CAIRN_E_PROTO;
        if (r) {
            status = r->status;
            printf("%-22s %-20s %s\n", "access key", "owner", "created");
            for (size_t i = 0; i < r->n_access_keys; i++) {
                const Md__AccessKeyRecord *k = r->access_keys[i];
                time_t t = (time_t)(k->created_ms / 1000);
                struct tm tm;
                char when[32];
                gmtime_r(&t, &tm);
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("%-22s %-20s %s%s\n", k->key_id, k->owner, when, k->admin ? " admin" : "");
            }
            md__query_result__free_unpacked(r, NULL);
        }
    } else {
        fprintf(stderr, "cairn keys: unknown or incomplete command (see cairn keys --help)\n");
        md_client_free(c);
        return 2;
    }
    free(buf);
    free(res);
    md_client_free(c);
    if (rc != 0 || status != 0) {
        fprintf(stderr, "cairn keys: %s\n", cairn_strerror(rc ? rc : status));
        return 1;
    }
    return 0;
}

unsigned long long cli_field_u64(const char *body, const char *name)
{
    char v[32];
    cn_kv_get(body, name, v, sizeof(v));
    return strtoull(v, NULL, 10);
}

int cli_cluster_nodes(struct cli_global *g, struct cli_node **out, size_t *n)
{
    char *body = NULL;
    *out = NULL;
    *n = 0;
    int rc = fetch_cluster(g, &body);
    if (rc != 0)
        return rc;
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct cli_node nd;
        char id[20];
        if (sscanf(line, "chunkserver %19s %129s %15s %15s", id, nd.address, nd.state, nd.live) !=
            4)
            continue;
        nd.id = strtoull(id, NULL, 16);
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            struct cli_node *bigger = realloc(*out, cap * sizeof(**out));
            if (!bigger) {
                rc = CAIRN_E_NOMEM;
                break;
            }
            *out = bigger;
        }
        (*out)[(*n)++] = nd;
    }
    free(body);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

const struct cli_node *cli_node_find(const struct cli_node *nodes, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (nodes[i].id == id)
            return &nodes[i];
    return NULL;
}

int cli_node_up(const struct cli_node *nd)
{
    return nd && !strcmp(nd->live, "up") && strcmp(nd->state, "retired") != 0;
}

int cli_report_damage(struct md_client *c, const uint8_t group[16], uint32_t index, uint64_t cs)
{
    return md_client_report_damage(c, group, index, cs);
}

/* ---- cairn repair --bucket B [--key K] ---- */
struct repair_walk {
    struct cli_global *g;
    struct md_client *c;
    struct cn_http_fanout *fan;
    struct cli_node *nodes;
    size_t n_nodes;
    unsigned long long objects, groups, damaged, queued, reported, failed;
};

/* HEADs every fragment of a group at once; here[f]: 1 present, 0 missing
 * or damaged (header or CRC table), < 0 unknown (no location, chunkserver
 * not up, or no answer). */
static void fragments_present(struct repair_walk *w, const Md__ChunkGroup *cg, const char *gid,
                              int *here)
{
    size_t n = cg->n_fragment_cs < CN_HTTP_FANOUT_MAX ? cg->n_fragment_cs : CN_HTTP_FANOUT_MAX;
    struct cn_http_request reqs[CN_HTTP_FANOUT_MAX];
    struct cn_http_response resps[CN_HTTP_FANOUT_MAX];
    int errs[CN_HTTP_FANOUT_MAX];
    size_t map[CN_HTTP_FANOUT_MAX], m = 0;
    char urls[CN_HTTP_FANOUT_MAX][140], targets[CN_HTTP_FANOUT_MAX][CN_WIRE_FRAGMENT_TARGET_MAX];
    for (size_t f = 0; f < n; f++) {
        uint64_t cs = cg->fragment_cs[f];
        const struct cli_node *nd = cs ? cli_node_find(w->nodes, w->n_nodes, cs) : NULL;
        here[f] = CAIRN_E_UNAVAIL;
        if (!cli_node_up(nd))
            continue;
        snprintf(urls[m], sizeof(urls[m]), "http://%s", nd->address);
        cn_wire_fragment_target(targets[m], sizeof(targets[m]), cg->id.data, (uint32_t)f);
        reqs[m] =
            (struct cn_http_request){.method = "HEAD", .base_url = urls[m], .target = targets[m]};
        memset(&resps[m], 0, sizeof(resps[m]));
        map[m++] = f;
    }
    if (m > 0 && cn_http_fanout_run(w->fan, reqs, m, resps, errs) == 0) {
        for (size_t i = 0; i < m; i++) {
            int st = resps[i].status;
            here[map[i]] = errs[i] != 0             ? errs[i]
                           : st == 200              ? 1
                           : st == 404 || st == 500 ? 0
                                                    : CAIRN_E_IO;
        }
    }
    for (size_t i = 0; i < m; i++)
        cn_http_response_clear(&resps[i]);
}

/* Checks one chunk group: a fragment without a location, on a chunkserver
 * that is not up, or missing or damaged on its chunkserver makes it damaged;
 * missing or damaged files are reported, and a damaged group is put first in
 * the repair queue. */
static void repair_walk_group(struct repair_walk *w, const Md__ChunkGroup *cg)
{
    if (cg->id.len != 16)
        return;
    char gid[33];
    cn_hex_encode(cg->id.data, 16, gid);
    w->groups++;
    int here[CN_HTTP_FANOUT_MAX];
    fragments_present(w, cg, gid, here);
    int damaged = cg->n_fragment_cs > CN_HTTP_FANOUT_MAX;
    for (size_t f = 0; f < cg->n_fragment_cs && f < CN_HTTP_FANOUT_MAX; f++) {
        if (here[f] == 1)
            continue;
        damaged = 1; /* no location, chunkserver down (the leader knows) or no file */
        if (here[f] != 0)
            continue;
        if (cli_report_damage(w->c, cg->id.data, (uint32_t)f, cg->fragment_cs[f]) == 0) {
            w->reported++;
            printf("  group %s: fragment %zu on chunkserver %016llx is missing or damaged\n", gid,
                   f, (unsigned long long)cg->fragment_cs[f]);
        } else {
            w->failed++;
        }
    }
    if (!damaged)
        return;
    w->damaged++;
    if (md_client_repair(w->c, cg->id.data) == 0)
        w->queued++;
    else
        w->failed++;
}

/* Every chunk group of bucket/key. */
static int repair_walk_object(struct repair_walk *w, const char *bucket, const char *key)
{
    uint8_t *q = NULL, *res = NULL;
    size_t qlen, rlen;
    int rc = md_q_get_object(bucket, key, &q, &qlen);
    if (rc == 0)
        rc = md_client_read(w->c, q, qlen, &res, &rlen);
    free(q);
    Md__QueryResult *r = rc == 0 ? md_query_result_decode(res, rlen) : NULL;
    free(res);
    if (rc == 0 && !r)
        rc = CAIRN_E_PROTO;
    if (r && (r->status != 0 || !r->object))
        rc = r->status ? r->status : CAIRN_E_PROTO;
    if (rc == 0) {
        w->objects++;
        for (size_t i = 0; i < r->object->n_extents; i++)
            if (r->object->extents[i]->group)
                repair_walk_group(w, r->object->extents[i]->group);
    }
    if (r)
        md__query_result__free_unpacked(r, NULL);
    return rc;
}

int cli_repair_objects(struct cli_global *g, const char *bucket, const char *key, int wait)
{
    struct repair_walk w = {.g = g};
    struct cn_http_client_opts ho = {.auth = g->auth, .timeout_ms = 5000};
    w.c = cli_meta_client(g, 10000);
    int rc = w.c ? cn_http_fanout_new(&ho, &w.fan) : CAIRN_E_NOMEM;
    if (rc == 0)
        rc = cli_cluster_nodes(g, &w.nodes, &w.n_nodes);
    if (rc == 0 && key) {
        rc = repair_walk_object(&w, bucket, key);
    } else if (rc == 0) {
        /* The bucket's objects, a page of keys at a time. */
        char marker[1100] = "";
        for (int more = 1; more && rc == 0;) {
            uint8_t *q = NULL, *res = NULL;
            size_t qlen, rlen;
            rc = md_q_list_objects(bucket, "", "", marker, 1000, &q, &qlen);
            if (rc == 0)
                rc = md_client_read(w.c, q, qlen, &res, &rlen);
            free(q);
            Md__QueryResult *r = rc == 0 ? md_query_result_decode(res, rlen) : NULL;
            free(res);
            if (rc == 0 && (!r || r->status != 0 || !r->list_objects))
                rc = r && r->status ? r->status : CAIRN_E_PROTO;
            const Md__ListObjectsR *lo = rc == 0 ? r->list_objects : NULL;
            for (size_t i = 0; lo && i < lo->n_entries; i++) {
                int orc = repair_walk_object(&w, bucket, lo->entries[i]->key);
                if (orc != 0 && orc != CAIRN_E_NOTFOUND) /* deleted meanwhile: fine */
                    rc = orc;
            }
            more = lo && lo->truncated && lo->n_entries > 0;
            if (more)
                snprintf(marker, sizeof(marker), "%s", lo->entries[lo->n_entries - 1]->key);
            if (r)
                md__query_result__free_unpacked(r, NULL);
        }
    }
    free(w.nodes);
    cn_http_fanout_free(w.fan);
    md_client_free(w.c);
    if (rc != 0) {
        fprintf(stderr, "cairn repair: %s%s%s: %s\n", bucket, key ? "/" : "", key ? key : "",
                cairn_strerror(rc));
        return 1;
    }
    printf("%s%s%s: %llu object(s), %llu group(s) checked, %llu damaged, %llu queued for repair "
           "(%llu fragment(s) reported missing or damaged)\n",
           bucket, key ? "/" : "", key ? key : "", w.objects, w.groups, w.damaged, w.queued,
           w.reported);
    fflush(stdout);
    if (w.failed > 0) {
        fprintf(stderr, "cairn repair: %llu request(s) to the leader failed\n", w.failed);
        return 1;
    }
    return wait ? follow_repair(g) : 0;
}

void cli_progress_bar(char *out, size_t len, unsigned long long done, unsigned long long total)
{
    enum { WIDTH = 20 };
    unsigned long long filled = total ? done * WIDTH / total : WIDTH;
    if (filled > WIDTH)
        filled = WIDTH;
    char cells[WIDTH + 1];
    for (unsigned i = 0; i < WIDTH; i++)
        cells[i] = i < filled ? '#' : '.';
    cells[WIDTH] = 0;
    snprintf(out, len, "[%s] %3llu%% ", cells,
             total ? (done > total ? 100 : done * 100 / total) : 100);
}
