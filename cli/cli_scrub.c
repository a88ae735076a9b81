/* `cairn scrub [--deep] [--wait]`.
 *
 * The CRC scrub and the inventory check run on the chunkservers (cs_scrub):
 * this command starts a pass on each live one and, with --wait, follows
 * their status to the end.
 *
 * The deep check runs here: every chunk group is found through the
 * metadata's per-chunkserver fragment index (the entries of fragment 0, so
 * each group once, multipart parts included), read window by window with
 * ranged GETs from its k+m chunkservers (each window verified against the
 * chunkserver's range CRC), re-encoded and compared with its parity
 * (cli_parity). Memory is bounded by one window per fragment. A fragment
 * that disagrees with the others is reported to the leader's repair queue,
 * which rebuilds it in place. Groups with a fragment not live are skipped:
 * repair already knows them. */
#include "cli_scrub.h"

#include "cli_cluster.h"
#include "cli_format.h"
#include "cli_meta.h"
#include "cli_parity.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "ec_crc.h"
#include "ec_layout.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes of each fragment read per round (the chunkserver verifies GETs of
 * at most 1 MiB whole and sends their CRC). */
#define DEEP_WINDOW (1u << 20)

/* ---- the chunkservers' passes ---- */
struct scrub_cs {
    char id[20], url[160];
    unsigned long long passes0, target, checked0, corrupt0, missing0, invfail0;
    unsigned long long done, total, passes, checked, corrupt, missing, invfail, running;
    int ok;
};

/* The number in a "name value" line of a text body (0 when absent). */
static unsigned long long field_u64(const char *body, const char *name)
{
    char v[32];
    cn_kv_get(body, name, v, sizeof(v));
    return strtoull(v, NULL, 10);
}

static int cs_status(struct cn_http_client *h, struct scrub_cs *c)
{
    struct cn_http_request req = {
        .method = "GET", .base_url = c->url, .target = CN_ROUTE_CS_STATUS};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    if (rc == 0 && resp.status == 200 && resp.body) {
        c->passes = field_u64(resp.body, "scrub_passes");
        c->done = field_u64(resp.body, "scrub_pass_fragments_done");
        c->total = field_u64(resp.body, "scrub_pass_fragments_total");
        c->checked = field_u64(resp.body, "scrub_fragments_checked");
        c->corrupt = field_u64(resp.body, "scrub_corrupt_fragments");
        c->missing = field_u64(resp.body, "scrub_missing_fragments");
        c->invfail = field_u64(resp.body, "scrub_inventory_failed");
        c->running = field_u64(resp.body, "scrub_running");
    } else if (rc == 0) {
        rc = CAIRN_E_IO;
    }
    cn_http_response_clear(&resp);
    return rc;
}

/* Starts a pass on every live chunkserver; *cs_out (free()) gets them.
 * Returns the number started, or a negative error. */
static long start_passes(struct cli_global *g, struct cn_http_client *h, struct scrub_cs **cs_out,
                         size_t *n_out)
{
    struct cli_cluster cl;
    int rc = cli_cluster_get(g, &cl);
    if (rc != 0) {
        cli_cluster_release(&cl);
        return rc;
    }
    struct scrub_cs *cs = calloc(cl.n_nodes ? cl.n_nodes : 1, sizeof(*cs));
    if (!cs) {
        cli_cluster_release(&cl);
        return CAIRN_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < cl.n_nodes; i++) {
        if (!cli_node_up(&cl.nodes[i]))
            continue;
        snprintf(cs[n].id, sizeof(cs[n].id), "%016llx", (unsigned long long)cl.nodes[i].id);
        snprintf(cs[n].url, sizeof(cs[n].url), "%s", cl.nodes[i].url);
        n++;
    }
    cli_cluster_release(&cl);
    long started = 0;
    for (size_t i = 0; i < n; i++) {
        struct scrub_cs *c = &cs[i];
        if (cs_status(h, c) != 0) {
            fprintf(stderr, "cairn scrub: chunkserver %s (%s) unreachable\n", c->id, c->url);
            continue;
        }
        c->passes0 = c->passes;
        c->checked0 = c->checked;
        c->corrupt0 = c->corrupt;
        c->missing0 = c->missing;
        c->invfail0 = c->invfail;
        /* A pass already running finishes first; the requested one follows.
         * (done < total does not tell: files deleted behind the store's
         * back are counted in total but never visited.) */
        c->target = c->passes0 + (c->running ? 2 : 1);
        struct cn_http_request req = {
            .method = "POST", .base_url = c->url, .target = CN_ROUTE_CS_SCRUB};
        struct cn_http_response resp = {0};
        if (cn_http_client_do(h, &req, &resp) == 0 && resp.status / 100 == 2) {
            c->ok = 1;
            started++;
        } else {
            fprintf(stderr, "cairn scrub: chunkserver %s refused the scrub (HTTP %d)\n", c->id,
                    resp.status);
        }
        cn_http_response_clear(&resp);
    }
    *cs_out = cs;
    *n_out = n;
    return started;
}

/* Follows the passes to their end and prints what they found. Returns 1 if
 * a chunkserver stopped answering or could not check its inventory. */
static int follow_passes(struct cn_http_client *h, struct scrub_cs *cs, size_t n)
{
    int failed = 0, tty = isatty(STDOUT_FILENO);
    int64_t last_line = 0;
    for (;;) {
        size_t finished = 0, live = 0;
        unsigned long long checked = 0, total = 0;
        for (size_t i = 0; i < n; i++) {
            struct scrub_cs *c = &cs[i];
            if (!c->ok)
                continue;
            if (cs_status(h, c) != 0) {
                fprintf(stderr, "%scairn scrub: chunkserver %s stopped answering\n",
                        tty ? "\n" : "", c->id);
                c->ok = 0;
                failed = 1;
                continue;
            }
            live++;
            finished += c->passes >= c->target;
            checked += c->passes >= c->target ? c->total : c->done;
            total += c->total;
        }
        if (tty) {
            char bar[40];
            cli_progress_bar(bar, sizeof(bar), checked, total);
            printf("\r  %s%zu/%zu chunkserver(s) done, %llu/%llu fragment(s) checked   ", bar,
                   finished, live, checked, total);
            fflush(stdout);
        } else if (cn_mono_ms() - last_line > 5000 || finished == live) {
            printf("  %zu/%zu chunkserver(s) done, %llu/%llu fragment(s) checked\n", finished, live,
                   checked, total);
            fflush(stdout);
            last_line = cn_mono_ms();
        }
        if (finished == live)
            break;
        cn_sleep_ms(500);
    }
    if (tty)
        printf("\n");
    unsigned long long checked = 0, corrupt = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        struct scrub_cs *c = &cs[i];
        if (!c->ok)
            continue;
        checked += c->checked - c->checked0;
        corrupt += c->corrupt - c->corrupt0;
        missing += c->missing - c->missing0;
        if (c->corrupt > c->corrupt0)
            printf("  chunkserver %s: %llu corrupt fragment(s)\n", c->id, c->corrupt - c->corrupt0);
        if (c->missing > c->missing0)
            printf("  chunkserver %s: %llu missing fragment(s)\n", c->id, c->missing - c->missing0);
        if (c->invfail > c->invfail0) {
            printf("  chunkserver %s: could not ask the metadata leader for its inventory\n",
                   c->id);
            failed = 1;
        }
    }
    printf("scrub finished: %llu fragment(s) checked, %llu corrupt, %llu missing%s\n", checked,
           corrupt, missing, corrupt + missing ? " (reported to the repair queue)" : "");
    return failed;
}

/* ---- the deep check ---- */
struct deep {
    struct md_client *c;
    struct cn_http_fanout *fan;
    struct cli_cluster cl; /* the chunkservers, to read fragments from */
    int tty;
    int64_t t0, last_line;
    unsigned long long total, checked, mismatched, queued, skipped, bytes;
};

static void deep_progress(struct deep *d, int last)
{
    int64_t now = cn_mono_ms();
    if (!last && now - d->last_line < (d->tty ? 200 : 5000))
        return;
    d->last_line = now;
    double secs = (double)(now - d->t0) / 1000.0;
    char rb[32];
    cli_human(d->bytes, rb, sizeof(rb));
    unsigned long long done = d->checked + d->skipped;
    char bar[40] = "";
    if (d->tty)
        cli_progress_bar(bar, sizeof(bar), done, d->total);
    printf("%s  deep: %s%llu/%llu group(s), %s read, %.1f MB/s, %llu mismatched%s",
           d->tty ? "\r" : "", bar, done, d->total, rb,
           secs > 0 ? (double)d->bytes / 1e6 / secs : 0.0, d->mismatched, d->tty ? "   " : "\n");
    fflush(stdout);
}

/* Calls fn for every chunk group once, through the entries of fragment 0 in
 * the per-chunkserver fragment index. */
struct each_group {
    struct deep *d;
    int (*fn)(struct deep *, const uint8_t *);
};

static int group_of_fragment(void *arg, const Md__FragmentRef *ref)
{
    struct each_group *x = arg;
    if (ref->index != 0 || ref->group_id.len != 16)
        return 0;
    return x->fn(x->d, ref->group_id.data);
}

/* Returns 0, fn's error or a read error. */
static int each_group_everywhere(struct deep *d, int (*fn)(struct deep *, const uint8_t *))
{
    struct each_group x = {.d = d, .fn = fn};
    /* 0 first: the groups whose fragment 0 has no location */
    int rc = cli_meta_each_fragment(d->c, 0, group_of_fragment, &x);
    for (size_t i = 0; i < d->cl.n_nodes && rc == 0; i++)
        rc = cli_meta_each_fragment(d->c, d->cl.nodes[i].id, group_of_fragment, &x);
    return rc;
}

static int count_group(struct deep *d, const uint8_t *gid)
{
    (void)gid;
    d->total++;
    return 0;
}

/* Reads window [off, off+len) of every fragment into bodies[]. Returns 0, or
 * the index of the first fragment that could not be read (in *failed, with
 * *missing = 1 when its chunkserver answered 404 or found it corrupt). */
static int read_window(struct deep *d, const Md__ChunkGroup *cg, const char *gid,
                       const struct cli_node *const *holders, uint64_t off, size_t len,
                       struct cn_http_response *resps, int *failed, int *missing)
{
    size_t n = cg->k + cg->m;
    struct cn_http_request reqs[CN_HTTP_FANOUT_MAX];
    int errs[CN_HTTP_FANOUT_MAX];
    char targets[CN_HTTP_FANOUT_MAX][CN_WIRE_FRAGMENT_TARGET_MAX], range[80];
    const char *headers[2] = {range, NULL};
    snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
    for (size_t i = 0; i < n; i++) {
        cn_wire_fragment_target(targets[i], sizeof(targets[i]), cg->id.data, (uint32_t)i);
        reqs[i] = (struct cn_http_request){.method = "GET",
                                           .base_url = holders[i]->url,
                                           .target = targets[i],
                                           .headers = headers,
                                           .resp_max = len,
                                           /* data: checked by its CRC header */
                                           .resp_body_unsigned_ok = 1};
        memset(&resps[i], 0, sizeof(resps[i]));
    }
    int rc = cn_http_fanout_run(d->fan, reqs, n, resps, errs);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct cn_http_response *rp = &resps[i];
        uint32_t crc;
        int ok = errs[i] == 0 && (rp->status == 206 || rp->status == 200) && rp->body_len == len &&
                 cn_wire_crc_parse(cn_http_response_header(rp, CN_HDR_RANGE_CRC), &crc) == 0 &&
                 crc == ec_crc32c(rp->body, rp->body_len);
        if (!ok) {
            *failed = (int)i;
            *missing = errs[i] == 0 && (rp->status == 404 || rp->status == 500);
            return 1;
        }
    }
    d->bytes += (unsigned long long)len * n;
    return 0;
}

static int check_group(struct deep *d, const uint8_t *group_id)
{
    Md__QueryResult *r = NULL;
    int rc = md_client_get_group(d->c, group_id, &r);
    if (rc != 0)
        return rc;
    if (r->status != 0 || !r->group || !r->group->group) {
        /* Deleted since it was listed. */
        md__query_result__free_unpacked(r, NULL);
        d->skipped++;
        deep_progress(d, 0);
        return 0;
    }
    const Md__ChunkGroup *cg = r->group->group;
    char gid[33];
    cn_hex_encode(group_id, 16, gid);
    size_t n = cg->k + cg->m;
    const struct cli_node *holders[CN_HTTP_FANOUT_MAX];
    int live = n <= CN_HTTP_FANOUT_MAX && cg->n_fragment_cs == n;
    for (size_t i = 0; live && i < n; i++) {
        holders[i] = cli_node_find(d->cl.nodes, d->cl.n_nodes, cg->fragment_cs[i]);
        live = cg->fragment_cs[i] != 0 && cli_node_up(holders[i]);
    }
    ec_layout lay = {.k = cg->k, .m = cg->m, .unit = cg->unit, .frag_max = cg->unit};
    struct cli_parity *par = NULL;
    if (!live || ec_layout_check(&lay) != 0 ||
        cli_parity_new((int)cg->k, (int)cg->m, DEEP_WINDOW, &par) != 0) {
        md__query_result__free_unpacked(r, NULL);
        d->skipped++;
        deep_progress(d, 0);
        return 0;
    }
    uint64_t flen = ec_layout_frag_len(&lay, cg->data_length), bad_mask = 0;
    int unexplained = 0, unreadable = 0;
    struct cn_http_response resps[CN_HTTP_FANOUT_MAX];
    for (uint64_t off = 0; off < flen && !unreadable; off += DEEP_WINDOW) {
        size_t len = flen - off < DEEP_WINDOW ? (size_t)(flen - off) : DEEP_WINDOW;
        int failed = -1, missing = 0;
        rc = read_window(d, cg, gid, holders, off, len, resps, &failed, &missing);
        if (rc == 0) {
            const uint8_t *frags[CN_HTTP_FANOUT_MAX];
            for (size_t i = 0; i < n; i++)
                frags[i] = (const uint8_t *)resps[i].body;
            int bad = -1;
            int prc = cli_parity_check(par, frags, len, &bad);
            if (prc == 1 && bad >= 0)
                bad_mask |= 1ull << bad;
            else if (prc == 1)
                unexplained = 1;
        } else if (rc == 1) {
            unreadable = 1;
            printf("%s  group %s: fragment %d on chunkserver %016llx %s\n", d->tty ? "\n" : "", gid,
                   failed, (unsigned long long)cg->fragment_cs[failed],
                   missing ? "is missing or corrupt" : "could not be read");
            if (missing && md_client_report_damage(d->c, group_id, (uint32_t)failed,
                                                   cg->fragment_cs[failed]) == 0)
                d->queued++;
        }
        for (size_t i = 0; i < n; i++)
            cn_http_response_clear(&resps[i]);
        if (rc < 0)
            break;
    }
    cli_parity_free(par);
    if (rc < 0 || unreadable) {
        d->skipped++;
    } else {
        d->checked++;
        if (bad_mask || unexplained)
            d->mismatched++;
        for (size_t i = 0; i < n; i++) {
            if (!(bad_mask >> i & 1))
                continue;
            int qrc = md_client_report_damage(d->c, group_id, (uint32_t)i, cg->fragment_cs[i]);
            d->queued += qrc == 0;
            printf("%s  group %s: %s fragment %zu on chunkserver %016llx does not match the "
                   "others%s\n",
                   d->tty ? "\n" : "", gid, i < cg->k ? "data" : "parity", i,
                   (unsigned long long)cg->fragment_cs[i],
                   qrc == 0 ? " (queued for repair)" : " (could not report it)");
        }
        if (unexplained)
            printf("%s  group %s: its parity does not match its data and no single fragment "
                   "explains it (not repaired)\n",
                   d->tty ? "\n" : "", gid);
    }
    md__query_result__free_unpacked(r, NULL);
    deep_progress(d, 0);
    return 0; /* a group that could not be read does not stop the check */
}

/* Returns 0 when every group was listed, 1 otherwise. */
static int deep_check(struct cli_global *g)
{
    struct deep d = {.tty = isatty(STDOUT_FILENO)};
    d.c = cli_meta_client(g, 10000);
    int rc = d.c ? cli_http_fanout(g, 30000, &d.fan) : CAIRN_E_NOMEM;
    if (rc == 0)
        rc = cli_cluster_get(g, &d.cl);
    if (rc == 0)
        rc = each_group_everywhere(&d, count_group);
    if (rc == 0) {
        printf("deep scrub: re-encoding %llu chunk group(s) and comparing their parity\n", d.total);
        fflush(stdout);
        d.t0 = cn_mono_ms();
        rc = each_group_everywhere(&d, check_group);
        deep_progress(&d, 1);
        if (d.tty)
            printf("\n");
    }
    cli_cluster_release(&d.cl);
    cn_http_fanout_free(d.fan);
    md_client_free(d.c);
    if (rc != 0) {
        fprintf(stderr, "cairn scrub --deep: %s\n", cairn_strerror(rc));
        return 1;
    }
    printf("deep scrub finished: %llu group(s) checked, %llu mismatched, %llu queued for repair, "
           "%llu skipped (not fully live or unreadable)\n",
           d.checked, d.mismatched, d.queued, d.skipped);
    fflush(stdout);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn scrub [--deep] [--wait]\n"
                 "Starts a scrub pass on every live chunkserver: every block of every\n"
                 "fragment is checked against its CRC32C, then every fragment the metadata\n"
                 "places on the chunkserver is looked for on its disk. Damaged and missing\n"
                 "fragments are reported to the leader's repair queue by the chunkservers.\n"
                 "  --deep  also read every chunk group here, re-encode its data and compare\n"
                 "          it with its parity; a fragment that disagrees is reported for\n"
                 "          repair (the CRCs cannot see a fragment written wrong)\n"
                 "  --wait  follow the chunkservers' passes to the end and report checked,\n"
                 "          corrupt and missing fragments\n");
}

int cli_scrub(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    int wait = 0, deep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait")) {
            wait = 1;
        } else if (!strcmp(argv[i], "--deep")) {
            deep = 1;
        } else {
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    struct cn_http_client *h;
    if (cli_http_client(g, 5000, &h) != 0)
        return CLI_EXIT_FAILED;
    struct scrub_cs *cs = NULL;
    size_t n = 0;
    long started = start_passes(g, h, &cs, &n);
    if (started < 0) {
        fprintf(stderr, "cairn scrub: %s\n", cairn_strerror((int)started));
        cn_http_client_free(h);
        return CLI_EXIT_FAILED;
    }
    printf("scrub started on %ld of %zu live chunkserver(s)\n", started, n);
    fflush(stdout);
    int failed = (size_t)started < n;
    if (deep)
        failed |= deep_check(g) != 0;
    if (wait && started > 0)
        failed |= follow_passes(h, cs, n) != 0;
    free(cs);
    cn_http_client_free(h);
    return failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
