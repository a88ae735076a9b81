#include "cli_status.h"

#include "cli_cluster.h"
#include "cli_format.h"
#include "cli_meta.h"
#include "cli_packed.h"
#include "md_client.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"

#include <stdio.h>
#include <string.h>

/* What one replica says about itself (GET /v1/status), as text. */
struct replica_status {
    char id[16], role[16], leader[16], commit[24], applied[24], log_base[24];
    int answered; /* the request went through (with HTTP status http) */
    int http;
};

/* Asks the replica at url. Returns 0, the request's error, or CAIRN_E_IO for
 * an answer other than 200 with a body (st->answered set then). */
static int replica_status(struct cn_http_client *h, const char *url, struct replica_status *st)
{
    struct cn_http_request req = {.method = "GET", .base_url = url, .target = CN_ROUTE_MD_STATUS};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    st->answered = rc == 0;
    st->http = resp.status;
    if (rc == 0 && resp.status == 200 && resp.body) {
        cn_kv_get(resp.body, "id", st->id, sizeof(st->id));
        cn_kv_get(resp.body, "role", st->role, sizeof(st->role));
        cn_kv_get(resp.body, "leader", st->leader, sizeof(st->leader));
        cn_kv_get(resp.body, "commit", st->commit, sizeof(st->commit));
        cn_kv_get(resp.body, "applied", st->applied, sizeof(st->applied));
        cn_kv_get(resp.body, "log_base", st->log_base, sizeof(st->log_base));
    } else if (rc == 0) {
        rc = CAIRN_E_IO;
    }
    cn_http_response_clear(&resp);
    return rc;
}

/* The leader's view: chunkservers and the repair queue. */
static void cluster_view(struct cli_global *g)
{
    struct cli_cluster cl;
    int rc = cli_cluster_get(g, &cl);
    if (rc != 0) {
        printf("\nchunkservers: unavailable (%s)\n", cairn_strerror(rc));
        cli_cluster_release(&cl);
        return;
    }
    printf("\n%-17s %-22s %-9s %-8s %-10s %-10s %s\n", "chunkserver", "address", "state",
           "liveness", "used", "capacity", "host/rack/zone");
    unsigned up = 0;
    for (size_t i = 0; i < cl.n_nodes; i++) {
        const struct cli_node *nd = &cl.nodes[i];
        char id[20], used[32], capacity[32];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)nd->id);
        cli_human(nd->capacity > nd->free ? nd->capacity - nd->free : 0, used, sizeof(used));
        cli_human(nd->capacity, capacity, sizeof(capacity));
        printf("%-17s %-22s %-9s %-8s %-10s %-10s %s/%s/%s\n", id, nd->address, nd->state, nd->live,
               used, capacity, nd->host, nd->rack, nd->zone);
        up += !strcmp(nd->live, "up") && strcmp(nd->state, "retired") != 0;
    }
    /* Late, down and out ones: what happens to them next. */
    int noted = 0;
    for (size_t i = 0; i < cl.n_nodes; i++) {
        char outlook[200];
        cli_node_outlook(&cl, &cl.nodes[i], outlook, sizeof(outlook));
        if (outlook[0])
            printf("%s  %016llx %s: %s\n", noted++ ? "" : "\n", (unsigned long long)cl.nodes[i].id,
                   cl.nodes[i].live, outlook);
    }
    if (cl.has_repair) {
        const struct cli_repair_stats *r = &cl.repair;
        char rb[32];
        cli_human(r->bytes, rb, sizeof(rb));
        unsigned late, down;
        cli_cluster_counts(&cl, &late, &down);
        printf("\n%u of %zu chunkservers up\n", up, cl.n_nodes);
        printf("repair: %llu degraded group(s), %llu queued, %llu in flight, %llu unrecoverable;"
               " %llu done (%s rebuilt), %llu failed\n",
               r->degraded, r->queued, r->in_flight, r->unrecoverable, r->done, rb, r->failed);
        if (late > 0)
            printf("redundancy unknown: %u chunkserver(s) with late or no heartbeats\n", late);
        else if (r->degraded == 0 && r->unrecoverable == 0)
            printf("every known group is fully redundant\n");
    }
    if (cl.has_packed && (cl.packed_groups || cl.compact_groups || cl.compact_failures)) {
        /* packed groups: live vs dead bytes, and the compactor (a cluster that
         * packs nothing gets no such lines) */
        unsigned long long dead =
            cl.packed_data > cl.packed_live ? cl.packed_data - cl.packed_live : 0;
        char data[32], live[32], deadh[32], rw[32], rec[32], rate[32];
        cli_human(cl.packed_data, data, sizeof(data));
        cli_human(cl.packed_live, live, sizeof(live));
        cli_human(dead, deadh, sizeof(deadh));
        cli_human(cl.compact_rewritten, rw, sizeof(rw));
        cli_human(cl.compact_reclaimed, rec, sizeof(rec));
        cli_human(cl.compact_rate, rate, sizeof(rate));
        printf("packed groups: %llu (%llu open), data %s, live %s, dead %s (%.0f%% dead)\n",
               cl.packed_groups, cl.packed_open, data, live, deadh,
               cl.packed_data ? 100.0 * (double)dead / (double)cl.packed_data : 0.0);
        printf("compaction: %llu group(s) compacted, %s rewritten, %s reclaimed, %llu failed; "
               "%llu candidate(s)%s%s; last %s/s\n",
               cl.compact_groups, rw, rec, cl.compact_failures, cl.compact_candidates,
               strcmp(cl.compact_running, "-") ? ", compacting " : "",
               strcmp(cl.compact_running, "-") ? cl.compact_running : "", rate);
    }
    cli_cluster_release(&cl);
    /* Packed groups (issue #17): their space, live and dead. */
    struct cli_packed_totals pt;
    if (cli_packed_totals_get(g, &pt) == 0 && pt.open + pt.sealed > 0) {
        char db[32], lb[32], xb[32];
        cli_human(pt.data_bytes, db, sizeof(db));
        cli_human(pt.live_bytes, lb, sizeof(lb));
        cli_human(pt.data_bytes > pt.live_bytes ? pt.data_bytes - pt.live_bytes : 0, xb,
                  sizeof(xb));
        printf("packed: %llu open, %llu sealed group(s) (%llu sealing); %s of data, %s live in "
               "%llu object(s), %s dead\n",
               (unsigned long long)pt.open, (unsigned long long)pt.sealed,
               (unsigned long long)pt.unsealed_fragments, db, lb,
               (unsigned long long)pt.live_objects, xb);
    }
}

/* ,"usage":{...},"quota":{...} of a user or bucket record. */
static void usage_json(const Md__Usage *u, const Md__Quota *q)
{
    printf(",\"usage\":{\"bytes\":%llu,\"objects\":%llu},\"quota\":{\"max_bytes\":%llu,"
           "\"max_objects\":%llu}",
           u ? (unsigned long long)u->bytes : 0, u ? (unsigned long long)u->objects : 0,
           q ? (unsigned long long)q->max_bytes : 0, q ? (unsigned long long)q->max_objects : 0);
}

/* ,"users":[...],"buckets":[...]: usage and quotas (omitted when the
 * metadata service cannot be read). */
static void tenants_json(struct cli_global *g)
{
    struct md_client *c = cli_meta_client(g, 5000);
    if (!c)
        return;
    uint8_t *q = NULL;
    size_t ql = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_list_users(&q, &ql);
    if (cli_meta_query(c, rc, q, ql, &r) == 0 && r->status == 0) {
        printf(",\"users\":[");
        for (size_t i = 0; i < r->n_users; i++) {
            printf("%s{\"user\":", i ? "," : "");
            cli_json_str(r->users[i]->name);
            usage_json(r->users[i]->usage, r->users[i]->quota);
            printf("}");
        }
        printf("]");
    }
    if (r)
        md__query_result__free_unpacked(r, NULL);
    r = NULL;
    rc = md_q_list_buckets(&q, &ql);
    if (cli_meta_query(c, rc, q, ql, &r) == 0 && r->status == 0) {
        printf(",\"buckets\":[");
        for (size_t i = 0; i < r->n_buckets; i++) {
            printf("%s{\"bucket\":", i ? "," : "");
            cli_json_str(r->buckets[i]->name);
            printf(",\"owner\":");
            cli_json_str(r->buckets[i]->owner);
            usage_json(r->buckets[i]->usage, r->buckets[i]->quota);
            printf("}");
        }
        printf("]");
    }
    if (r)
        md__query_result__free_unpacked(r, NULL);
    md_client_free(c);
}

/* cairn status --json: the same facts for scripts. */
static int status_json(struct cli_global *g, struct cn_http_client *h)
{
    unsigned with_leader = 0;
    printf("{\"replicas\":[");
    for (size_t i = 0; i < g->n_replicas; i++) {
        struct replica_status st;
        printf("%s{\"url\":", i ? "," : "");
        cli_json_str(g->replicas[i]);
        if (replica_status(h, g->replicas[i], &st) == 0) {
            printf(",\"reachable\":true,\"id\":%s,\"role\":", st.id);
            cli_json_str(st.role);
            printf(",\"leader\":%s,\"commit\":%s,\"applied\":%s,\"log_base\":%s}", st.leader,
                   st.commit, st.applied, st.log_base);
            with_leader += strcmp(st.leader, "0") != 0;
        } else {
            printf(",\"reachable\":false}");
        }
    }
    printf("],\"chunkservers\":[");
    struct cli_cluster cl;
    (void)cli_cluster_get(g, &cl); /* unavailable: no chunkservers, no repair queue */
    for (size_t i = 0; i < cl.n_nodes; i++) {
        const struct cli_node *nd = &cl.nodes[i];
        char id[20];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)nd->id);
        printf("%s{\"id\":", i ? "," : "");
        cli_json_str(id);
        printf(",\"address\":");
        cli_json_str(nd->address);
        printf(",\"state\":");
        cli_json_str(nd->state);
        printf(",\"liveness\":");
        cli_json_str(nd->live);
        printf(",\"last_heartbeat_ms_ago\":%lld,\"free\":%llu,\"capacity\":%llu,", nd->heartbeat_ms,
               nd->free, nd->capacity);
        if (cl.down_after_ms > 0 && nd->heartbeat_ms >= 0 &&
            (!strcmp(nd->live, "suspect") || !strcmp(nd->live, "down")))
            printf("\"down_in_ms\":%lld,\"out_in_ms\":%lld,",
                   nd->heartbeat_ms < cl.down_after_ms ? cl.down_after_ms - nd->heartbeat_ms : 0,
                   nd->heartbeat_ms < cl.out_after_ms ? cl.out_after_ms - nd->heartbeat_ms : 0);
        printf("\"host\":");
        cli_json_str(nd->host);
        printf(",\"rack\":");
        cli_json_str(nd->rack);
        printf(",\"zone\":");
        cli_json_str(nd->zone);
        printf("}");
    }
    printf("]");
    unsigned late, down;
    cli_cluster_counts(&cl, &late, &down);
    printf(",\"chunkservers_late\":%u,\"chunkservers_down\":%u", late, down);
    if (cl.down_after_ms > 0)
        printf(",\"timers\":{\"suspect_after_ms\":%lld,\"down_after_ms\":%lld,"
               "\"out_after_ms\":%lld}",
               cl.suspect_after_ms, cl.down_after_ms, cl.out_after_ms);
    if (cl.has_repair) {
        const struct cli_repair_stats *r = &cl.repair;
        printf(",\"repair\":{\"degraded_groups\":%llu,\"queued\":%llu,\"in_flight\":%llu,"
               "\"done\":%llu,\"failed\":%llu,\"bytes_rebuilt\":%llu,\"unrecoverable\":%llu,"
               "\"fully_redundant\":%s}",
               r->degraded, r->queued, r->in_flight, r->done, r->failed, r->bytes, r->unrecoverable,
               late == 0 && r->degraded == 0 && r->unrecoverable == 0 ? "true" : "false");
    }
    if (cl.has_packed)
        printf(",\"packed\":{\"groups\":%llu,\"open\":%llu,\"data_bytes\":%llu,"
               "\"live_bytes\":%llu},\"compaction\":{\"candidates\":%llu,\"compacted\":%llu,"
               "\"rewritten_bytes\":%llu,\"reclaimed_bytes\":%llu,\"failures\":%llu,"
               "\"last_rate_bytes_s\":%llu,\"running\":\"%s\"}",
               cl.packed_groups, cl.packed_open, cl.packed_data, cl.packed_live,
               cl.compact_candidates, cl.compact_groups, cl.compact_rewritten, cl.compact_reclaimed,
               cl.compact_failures, cl.compact_rate, cl.compact_running);
    cli_cluster_release(&cl);
    struct cli_packed_totals pt;
    if (cli_packed_totals_get(g, &pt) == 0)
        printf(
            ",\"packed\":{\"open\":%llu,\"sealed\":%llu,\"sealing\":%llu,\"data_bytes\":%llu,"
            "\"live_bytes\":%llu,\"dead_bytes\":%llu,\"live_objects\":%llu}",
            (unsigned long long)pt.open, (unsigned long long)pt.sealed,
            (unsigned long long)pt.unsealed_fragments, (unsigned long long)pt.data_bytes,
            (unsigned long long)pt.live_bytes,
            (unsigned long long)(pt.data_bytes > pt.live_bytes ? pt.data_bytes - pt.live_bytes : 0),
            (unsigned long long)pt.live_objects);
    tenants_json(g);
    printf(",\"leader_known\":%s}\n", with_leader * 2 > g->n_replicas ? "true" : "false");
    return with_leader * 2 > g->n_replicas ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

/* The replicas' table; then the leader's view when a majority knows one. */
static int status_text(struct cli_global *g, struct cn_http_client *h)
{
    printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", "replica", "id", "role", "leader", "commit",
           "applied", "log_base");
    unsigned with_leader = 0;
    for (size_t i = 0; i < g->n_replicas; i++) {
        struct replica_status st;
        int rc = replica_status(h, g->replicas[i], &st);
        if (rc != 0) {
            printf("%-28s unreachable (%s, HTTP %d)\n", g->replicas[i],
                   st.answered ? "error" : cairn_strerror(rc), st.http);
            continue;
        }
        printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", g->replicas[i], st.id, st.role,
               st.leader, st.commit, st.applied, st.log_base);
        with_leader += strcmp(st.leader, "0") != 0;
    }
    if (with_leader * 2 <= g->n_replicas)
        return CLI_EXIT_FAILED;
    cluster_view(g);
    return CLI_EXIT_OK;
}

int cli_status(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        fputs("usage: cairn status [--json]\n"
              "Metadata replicas (the group's members when its leader answers, else the\n"
              "--meta list: role, leader, commit, applied), chunkservers (state,\n"
              "liveness, space, labels), the repair queue and the packed groups' live and\n"
              "dead bytes (cairn packed lists them); --json for scripts.\n"
              "Exit status 0 when a majority of replicas knows a leader.\n",
              stdout);
        return CLI_EXIT_OK;
    }
    /* The group's members, whatever --meta named (when a leader answers). */
    (void)cli_follow_group(g);
    struct cn_http_client *h;
    if (cli_http_client(g, 2000, &h) != 0)
        return CLI_EXIT_FAILED;
    int json = argc > 1 && !strcmp(argv[1], "--json");
    int rc = json ? status_json(g, h) : status_text(g, h);
    cn_http_client_free(h);
    return rc;
}
