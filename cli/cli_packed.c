#include "cli_packed.h"

#include "cli_format.h"
#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>
#include <string.h>

#define PAGE 1000u

/* Calls fn(arg, pg) for every packed group (open ones only if open_only),
 * a ListPacked page at a time. */
static int each_packed(struct md_client *c, int open_only,
                       void (*fn)(void *arg, const Md__PackedGroup *pg), void *arg)
{
    uint8_t after[16];
    size_t after_len = 0;
    for (;;) {
        size_t ql = 0;
        uint8_t *q = md_q_list_packed(after, after_len, PAGE, open_only, &ql);
        Md__QueryResult *r = NULL;
        int rc = cli_meta_query(c, q ? 0 : CAIRN_E_NOMEM, q, ql, &r);
        if (rc == 0 && r->status)
            rc = r->status;
        if (rc) {
            if (r)
                md__query_result__free_unpacked(r, NULL);
            return rc;
        }
        for (size_t i = 0; i < r->n_packed; i++)
            if (r->packed[i]->group && r->packed[i]->group->id.len == 16)
                fn(arg, r->packed[i]);
        int more = r->truncated && r->n_packed > 0;
        if (more) {
            const Md__ChunkGroup *last = r->packed[r->n_packed - 1]->group;
            memcpy(after, last->id.data, 16);
            after_len = 16;
        }
        md__query_result__free_unpacked(r, NULL);
        if (!more)
            return 0;
    }
}

static void add_total(void *arg, const Md__PackedGroup *pg)
{
    struct cli_packed_totals *t = arg;
    if (pg->state == MD__PACKED_STATE__PACKED_OPEN) {
        t->open++;
    } else {
        t->sealed++;
        t->unsealed_fragments += !pg->fragments_sealed;
    }
    t->data_bytes += pg->group->data_length;
    t->live_bytes += pg->live_bytes;
    t->live_objects += pg->live_extents;
}

int cli_packed_totals_get(struct cli_global *g, struct cli_packed_totals *t)
{
    memset(t, 0, sizeof(*t));
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CAIRN_E_UNAVAIL;
    int rc = each_packed(c, 0, add_total, t);
    md_client_free(c);
    return rc;
}

struct lister {
    int json, n;
    int64_t now;
    struct cli_packed_totals t;
};

static void print_one(void *arg, const Md__PackedGroup *pg)
{
    struct lister *l = arg;
    add_total(&l->t, pg);
    const Md__ChunkGroup *cg = pg->group;
    char gid[33];
    cn_hex_encode(cg->id.data, 16, gid);
    const char *state = pg->state == MD__PACKED_STATE__PACKED_OPEN ? "open"
                        : pg->fragments_sealed                     ? "sealed"
                                                                   : "sealing";
    uint64_t dead = cg->data_length > pg->live_bytes ? cg->data_length - pg->live_bytes : 0;
    int64_t last = pg->appended_ms > pg->opened_ms ? pg->appended_ms : pg->opened_ms;
    long long idle_s = l->now > last ? (long long)((l->now - last) / 1000) : 0;
    if (l->json) {
        printf("%s{\"group\":\"%s\",\"state\":\"%s\",\"k\":%u,\"m\":%u,\"unit\":%u,"
               "\"length\":%llu,\"live_bytes\":%llu,\"dead_bytes\":%llu,\"live_objects\":%llu,"
               "\"idle_s\":%lld,\"writer\":",
               l->n ? "," : "", gid, state, cg->k, cg->m, cg->unit,
               (unsigned long long)cg->data_length, (unsigned long long)pg->live_bytes,
               (unsigned long long)dead, (unsigned long long)pg->live_extents, idle_s);
        cli_json_str(pg->writer ? pg->writer : "");
        printf("}");
    } else {
        if (!l->n)
            printf("%-32s %-7s %-5s %-10s %-10s %-10s %-7s %-7s %s\n", "group", "state", "k+m",
                   "length", "live", "dead", "objects", "idle", "writer");
        char len[32], live[32], dd[32], km[16], idle[24];
        cli_human(cg->data_length, len, sizeof(len));
        cli_human(pg->live_bytes, live, sizeof(live));
        cli_human(dead, dd, sizeof(dd));
        snprintf(km, sizeof(km), "%u+%u", cg->k, cg->m);
        snprintf(idle, sizeof(idle), "%llds", idle_s);
        printf("%-32s %-7s %-5s %-10s %-10s %-10s %-7llu %-7s %s\n", gid, state, km, len, live, dd,
               (unsigned long long)pg->live_extents, idle, pg->writer ? pg->writer : "");
    }
    l->n++;
}

int cli_packed(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        fputs("usage: cairn packed [--open] [--json]\n"
              "Packed chunk groups (objects appended into shared erasure-coded groups):\n"
              "state (open: a gateway appends to it; sealing: sealed, its fragments not yet\n"
              "sealed on every chunkserver; sealed), geometry, committed length, live and\n"
              "dead bytes (dead: deleted or overwritten objects and padding), live objects,\n"
              "seconds since the last append, and the writer; then the totals.\n"
              "--open: open groups only; --json for scripts.\n",
              stdout);
        return CLI_EXIT_OK;
    }
    struct lister l = {.now = cn_wall_ms()};
    int open_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--open")) {
            open_only = 1;
        } else if (!strcmp(argv[i], "--json")) {
            l.json = 1;
        } else {
            fprintf(stderr, "cairn packed: unknown argument %s (cairn packed --help)\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    if (l.json)
        printf("{\"groups\":[");
    int rc = each_packed(c, open_only, print_one, &l);
    md_client_free(c);
    if (rc) {
        if (l.json)
            printf("]}\n");
        fprintf(stderr, "cairn packed: %s\n", cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    const struct cli_packed_totals *t = &l.t;
    uint64_t dead = t->data_bytes > t->live_bytes ? t->data_bytes - t->live_bytes : 0;
    if (l.json) {
        printf("],\"open\":%llu,\"sealed\":%llu,\"data_bytes\":%llu,\"live_bytes\":%llu,"
               "\"dead_bytes\":%llu,\"live_objects\":%llu}\n",
               (unsigned long long)t->open, (unsigned long long)t->sealed,
               (unsigned long long)t->data_bytes, (unsigned long long)t->live_bytes,
               (unsigned long long)dead, (unsigned long long)t->live_objects);
        return CLI_EXIT_OK;
    }
    char db[32], lb[32], xb[32];
    cli_human(t->data_bytes, db, sizeof(db));
    cli_human(t->live_bytes, lb, sizeof(lb));
    cli_human(dead, xb, sizeof(xb));
    printf("%s%llu open, %llu sealed packed group(s); %s of data: %s live in %llu object(s), %s "
           "dead\n",
           l.n ? "\n" : "", (unsigned long long)t->open, (unsigned long long)t->sealed, db, lb,
           (unsigned long long)t->live_objects, xb);
    return CLI_EXIT_OK;
}
