#include "cli_repair.h"

#include "cli_cluster.h"
#include "cli_format.h"
#include "cli_meta.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn repair [GROUP] [--wait]\n"
                 "       cairn repair --bucket BUCKET [--key KEY] [--wait]\n"
                 "Without arguments, the leader rescans for degraded groups now; GROUP (32 hex\n"
                 "digits) is repaired first. With --bucket, every chunk group of the bucket's\n"
                 "objects (or of one object, --key) is checked: a fragment without a location,\n"
                 "on a chunkserver that is not up, or missing or damaged on its chunkserver\n"
                 "makes the group damaged; the damage is reported and each damaged group is\n"
                 "repaired first. --wait follows repair until the cluster is fully redundant.\n");
}

/* ---- following the repair queue ---- */

/* Follows the leader's repair queue until every known group is redundant:
 * CLI_EXIT_OK then, CLI_EXIT_FAILED when the groups left cannot be repaired. */
static int follow_repair(struct cli_global *g)
{
    int tty = isatty(STDOUT_FILENO);
    int64_t t0 = cn_mono_ms(), last_line = 0;
    struct cli_repair_stats first = {0}, cur = {0};
    int have_first = 0, quiet = 0;
    char waiting[256] = "";
    for (;;) {
        struct cli_cluster cl;
        int rc = cli_cluster_get(g, &cl);
        int found = rc == 0 && cl.has_repair;
        unsigned late = 0, down = 0;
        if (found) {
            cur = cl.repair;
            cli_cluster_counts(&cl, &late, &down);
            /* Say why it waits: the first chunkserver that is not up. */
            waiting[0] = '\0';
            for (size_t i = 0; i < cl.n_nodes && !waiting[0]; i++) {
                char o[200];
                cli_node_outlook(&cl, &cl.nodes[i], o, sizeof(o));
                if (o[0])
                    snprintf(waiting, sizeof(waiting), "; %016llx %s (%s)",
                             (unsigned long long)cl.nodes[i].id, cl.nodes[i].live, o);
            }
        }
        cli_cluster_release(&cl);
        if (!found) {
            fprintf(stderr, "%scairn repair: leader unavailable (%s), retrying\n", tty ? "\n" : "",
                    cairn_strerror(rc ? rc : CAIRN_E_PROTO));
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
            printf("\r  %s%llu degraded, %llu in flight, %llu rebuilt (%s, %.1f MB/s), ETA %s%s   ",
                   bar, cur.degraded, cur.in_flight, fixed, rb, mbs, eta, waiting);
            fflush(stdout);
        } else if (cn_mono_ms() - last_line > 5000) {
            printf("  %llu degraded, %llu in flight, %llu rebuilt (%s, %.1f MB/s), ETA %s%s\n",
                   cur.degraded, cur.in_flight, fixed, rb, mbs, eta, waiting);
            fflush(stdout);
            last_line = cn_mono_ms();
        }
        /* Done when nothing is degraded twice in a row (a scan may be under way)
         * and no chunkserver's heartbeats are late: a loss not yet declared
         * is not redundancy. */
        quiet = cur.degraded == 0 && cur.in_flight == 0 && late == 0 ? quiet + 1 : 0;
        if (quiet >= 2)
            break;
        if (cur.degraded == cur.unrecoverable && cur.in_flight == 0 && cur.queued == 0 &&
            cur.unrecoverable > 0) {
            printf("%s%llu group(s) cannot be repaired: fewer than k fragments are left\n",
                   tty ? "\n" : "", cur.unrecoverable);
            return CLI_EXIT_FAILED;
        }
        cn_sleep_ms(1000);
    }
    char rb[32];
    cli_human(cur.bytes - first.bytes, rb, sizeof(rb));
    printf("%sfully redundant: %llu fragment(s) rebuilt (%s) in %.0f s\n", tty ? "\n" : "",
           cur.done - first.done, rb, (double)(cn_mono_ms() - t0) / 1000.0);
    return CLI_EXIT_OK;
}

/* ---- cairn repair [GROUP] ---- */

/* A rescan now (group_hex NULL) or one group first. */
static int repair_rescan(struct cli_global *g, const char *group_hex, int wait)
{
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    uint8_t gid[16];
    int rc = group_hex && cn_hex_decode(group_hex, gid, sizeof(gid)) != 0
                 ? CAIRN_E_INVAL
                 : md_client_repair(c, group_hex ? gid : NULL);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn repair: %s\n", cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    printf(group_hex ? "repair of group %s queued first\n" : "rescan started%s\n",
           group_hex ? group_hex : "");
    return wait ? follow_repair(g) : CLI_EXIT_OK;
}

/* ---- cairn repair --bucket B [--key K] ---- */

struct repair_walk {
    struct md_client *c;
    struct cn_http_fanout *fan;
    struct cli_cluster cl;
    unsigned long long objects, groups, damaged, queued, reported, failed;
};

/* HEADs every fragment of a group at once; here[f]: 1 present, 0 missing
 * or damaged (header or CRC table), < 0 unknown (no location, chunkserver
 * not up, or no answer). */
static void fragments_present(struct repair_walk *w, const Md__ChunkGroup *cg, int *here)
{
    size_t n = cg->n_fragment_cs < CN_HTTP_FANOUT_MAX ? cg->n_fragment_cs : CN_HTTP_FANOUT_MAX;
    struct cn_http_request reqs[CN_HTTP_FANOUT_MAX];
    struct cn_http_response resps[CN_HTTP_FANOUT_MAX];
    int errs[CN_HTTP_FANOUT_MAX];
    size_t map[CN_HTTP_FANOUT_MAX], m = 0;
    char targets[CN_HTTP_FANOUT_MAX][CN_WIRE_FRAGMENT_TARGET_MAX];
    for (size_t f = 0; f < n; f++) {
        uint64_t cs = cg->fragment_cs[f];
        const struct cli_node *nd = cs ? cli_node_find(w->cl.nodes, w->cl.n_nodes, cs) : NULL;
        here[f] = CAIRN_E_UNAVAIL;
        if (!cli_node_up(nd))
            continue;
        cn_wire_fragment_target(targets[m], sizeof(targets[m]), cg->id.data, (uint32_t)f);
        reqs[m] =
            (struct cn_http_request){.method = "HEAD", .base_url = nd->url, .target = targets[m]};
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
    fragments_present(w, cg, here);
    int damaged = cg->n_fragment_cs > CN_HTTP_FANOUT_MAX;
    for (size_t f = 0; f < cg->n_fragment_cs && f < CN_HTTP_FANOUT_MAX; f++) {
        if (here[f] == 1)
            continue;
        damaged = 1; /* no location, chunkserver down (the leader knows) or no file */
        if (here[f] != 0)
            continue;
        if (md_client_report_damage(w->c, cg->id.data, (uint32_t)f, cg->fragment_cs[f]) == 0) {
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
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_get_object(bucket, key, &q, &qlen);
    rc = cli_meta_query(w->c, rc, q, qlen, &r);
    if (rc == 0 && (r->status != 0 || !r->object))
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

/* Every object of bucket, a page of keys at a time. */
static int repair_walk_bucket(struct repair_walk *w, const char *bucket)
{
    char marker[1100] = "";
    int rc = 0;
    for (int more = 1; more && rc == 0;) {
        uint8_t *q = NULL;
        size_t qlen = 0;
        Md__QueryResult *r = NULL;
        rc = md_q_list_objects(bucket, "", "", marker, 1000, &q, &qlen);
        rc = cli_meta_query(w->c, rc, q, qlen, &r);
        if (rc == 0 && (r->status != 0 || !r->list_objects))
            rc = r->status ? r->status : CAIRN_E_PROTO;
        const Md__ListObjectsR *lo = rc == 0 ? r->list_objects : NULL;
        for (size_t i = 0; lo && i < lo->n_entries; i++) {
            int orc = repair_walk_object(w, bucket, lo->entries[i]->key);
            if (orc != 0 && orc != CAIRN_E_NOTFOUND) /* deleted meanwhile: fine */
                rc = orc;
        }
        more = lo && lo->truncated && lo->n_entries > 0;
        if (more)
            snprintf(marker, sizeof(marker), "%s", lo->entries[lo->n_entries - 1]->key);
        if (r)
            md__query_result__free_unpacked(r, NULL);
    }
    return rc;
}

static int repair_objects(struct cli_global *g, const char *bucket, const char *key, int wait)
{
    struct repair_walk w = {0};
    w.c = cli_meta_client(g, 10000);
    int rc = w.c ? cli_http_fanout(g, 5000, &w.fan) : CAIRN_E_NOMEM;
    if (rc == 0)
        rc = cli_cluster_get(g, &w.cl);
    if (rc == 0)
        rc = key ? repair_walk_object(&w, bucket, key) : repair_walk_bucket(&w, bucket);
    cli_cluster_release(&w.cl);
    cn_http_fanout_free(w.fan);
    md_client_free(w.c);
    if (rc != 0) {
        fprintf(stderr, "cairn repair: %s%s%s: %s\n", bucket, key ? "/" : "", key ? key : "",
                cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    printf("%s%s%s: %llu object(s), %llu group(s) checked, %llu damaged, %llu queued for repair "
           "(%llu fragment(s) reported missing or damaged)\n",
           bucket, key ? "/" : "", key ? key : "", w.objects, w.groups, w.damaged, w.queued,
           w.reported);
    fflush(stdout);
    if (w.failed > 0) {
        fprintf(stderr, "cairn repair: %llu request(s) to the leader failed\n", w.failed);
        return CLI_EXIT_FAILED;
    }
    return wait ? follow_repair(g) : CLI_EXIT_OK;
}

int cli_repair(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    const char *group = NULL, *bucket = NULL, *key = NULL;
    int wait = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else if (!strcmp(argv[i], "--bucket") && i + 1 < argc)
            bucket = argv[++i];
        else if (!strcmp(argv[i], "--key") && i + 1 < argc)
            key = argv[++i];
        else if (argv[i][0] != '-' && !group)
            group = argv[i];
        else
            bad = 1;
    }
    if (bad || (key && !bucket) || (group && bucket)) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return bucket ? repair_objects(g, bucket, key, wait) : repair_rescan(g, group, wait);
}
