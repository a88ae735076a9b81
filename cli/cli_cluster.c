#include "cli_cluster.h"

#include "cli_global.h"
#include "cn_error.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "chunkserver ID ADDRESS STATE LIVE AGE FREE CAPACITY HOST RACK ZONE"
 * line (md_server.c). Returns 1 when line has that shape. */
static int parse_node(const char *line, struct cli_node *nd)
{
    char id[20];
    if (sscanf(line, "chunkserver %19s %129s %15s %15s %lld %llu %llu %63s %63s %63s", id,
               nd->address, nd->state, nd->live, &nd->heartbeat_ms, &nd->free, &nd->capacity,
               nd->host, nd->rack, nd->zone) != 10)
        return 0;
    nd->id = strtoull(id, NULL, 16);
    snprintf(nd->url, sizeof(nd->url), "http://%s", nd->address);
    return 1;
}

/* One "repair DEGRADED QUEUED IN_FLIGHT DONE FAILED BYTES UNRECOVERABLE"
 * line. Returns 1 when line has that shape. */
static int parse_repair(const char *line, struct cli_repair_stats *r)
{
    return sscanf(line, "repair %llu %llu %llu %llu %llu %llu %llu", &r->degraded, &r->queued,
                  &r->in_flight, &r->done, &r->failed, &r->bytes, &r->unrecoverable) == 7;
}

int cli_cluster_parse(char *body, struct cli_cluster *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct cli_node nd;
        if (parse_node(line, &nd)) {
            if (out->n_nodes == cap) {
                cap = cap ? 2 * cap : 16;
                struct cli_node *bigger = realloc(out->nodes, cap * sizeof(*bigger));
                if (!bigger) {
                    cli_cluster_release(out);
                    return CAIRN_E_NOMEM;
                }
                out->nodes = bigger;
            }
            out->nodes[out->n_nodes++] = nd;
        } else if (parse_repair(line, &out->repair)) {
            out->has_repair = 1;
        } else if (sscanf(line, "packed %llu %llu %llu %llu", &out->packed_groups,
                          &out->packed_open, &out->packed_data, &out->packed_live) == 4) {
            out->has_packed = 1;
        } else if (sscanf(line, "compact %llu %llu %llu %llu %llu %llu %32s",
                          &out->compact_candidates, &out->compact_groups, &out->compact_rewritten,
                          &out->compact_reclaimed, &out->compact_failures, &out->compact_rate,
                          out->compact_running) == 7) {
        } else {
            (void)sscanf(line, "timers %lld %lld %lld", &out->suspect_after_ms, &out->down_after_ms,
                         &out->out_after_ms);
        }
    }
    return 0;
}

int cli_cluster_get(struct cli_global *g, struct cli_cluster *out)
{
    memset(out, 0, sizeof(*out));
    struct md_client *c = cli_meta_client(g, 5000);
    if (!c)
        return CAIRN_E_NOMEM;
    char *body = NULL;
    size_t len = 0;
    int rc = md_client_cluster(c, &body, &len);
    md_client_free(c);
    if (rc == 0)
        rc = cli_cluster_parse(body, out);
    free(body);
    return rc;
}

void cli_cluster_release(struct cli_cluster *cl)
{
    free(cl->nodes);
    memset(cl, 0, sizeof(*cl));
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
    return nd && (!strcmp(nd->live, "up") || !strcmp(nd->live, "suspect")) &&
           strcmp(nd->state, "retired") != 0;
}

int cli_node_late(const struct cli_node *nd)
{
    return strcmp(nd->state, "retired") != 0 &&
           (!strcmp(nd->live, "suspect") || !strcmp(nd->live, "unknown"));
}

void cli_cluster_counts(const struct cli_cluster *cl, unsigned *late, unsigned *down)
{
    *late = *down = 0;
    for (size_t i = 0; i < cl->n_nodes; i++) {
        *late += cli_node_late(&cl->nodes[i]) != 0;
        *down += !strcmp(cl->nodes[i].live, "down") && strcmp(cl->nodes[i].state, "retired");
    }
}

/* Seconds, to one decimal below 10 s. */
static void secs(long long ms, char *out, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 10000)
        snprintf(out, len, "%.1f s", (double)ms / 1000.0);
    else
        snprintf(out, len, "%lld s", (ms + 500) / 1000);
}

void cli_node_outlook(const struct cli_cluster *cl, const struct cli_node *nd, char *buf,
                      size_t len)
{
    char a[32], b[32], c[32];
    long long age = nd->heartbeat_ms;
    buf[0] = '\0';
    if (!strcmp(nd->state, "retired"))
        return;
    secs(age, a, sizeof(a));
    secs(cl->down_after_ms - age, b, sizeof(b));
    secs(cl->out_after_ms - age, c, sizeof(c));
    if (!strcmp(nd->live, "unknown")) {
        snprintf(buf, len, "not heard from since the leader took over");
    } else if (!strcmp(nd->live, "suspect")) {
        if (cl->down_after_ms > 0)
            snprintf(buf, len, "no heartbeat for %s: down in %s, out in %s if it stays silent", a,
                     b, c);
        else
            snprintf(buf, len, "no heartbeat for %s", a);
    } else if (!strcmp(nd->live, "down")) {
        if (cl->out_after_ms > 0)
            snprintf(buf, len,
                     "silent %s: out in %s, then its fragments are rebuilt elsewhere "
                     "(back before that, it is simply up again)",
                     a, c);
        else
            snprintf(buf, len, "silent %s", a);
    } else if (!strcmp(nd->live, "out")) {
        snprintf(buf, len, "silent %s: out, its fragments are rebuilt elsewhere", a);
    }
}
