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
    return nd && !strcmp(nd->live, "up") && strcmp(nd->state, "retired") != 0;
}
