/* gw_get: the S3 GET side of the data path (gw_data.h): reading objects
 * from their fragments, around failures, with read-ahead or straight into the
 * response block. */
#include "gw_data_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_crc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ GET -- */

struct get_group {
    uint64_t offset; /* object offset of the group's first byte */
    uint64_t span;   /* object bytes the extent holds (data_length unless packed) */
    int packed;      /* a packed extent: object bytes [offset, offset + span) are group
                        data [group_offset, group_offset + span) */
    uint64_t group_offset;
    uint8_t id[16];
    uint32_t k, m, unit;
    uint64_t data_length;
    uint64_t cs[EC_MAX_FRAGS];
    uint64_t bad;     /* fragments that failed during this read: not asked again */
    uint64_t skipped; /* of those, fragments on chunkservers not asked (not answering lately) */
};

struct fetch {
    uint8_t *dst; /* where the bytes go */
    size_t len;
    size_t got;
    int failed;
};

/* The requests of one fetch round, kept while they are out (a prefetch
 * outlives the call that started it). */
struct fetch_round {
    struct cn_http_request reqs[EC_MAX_FRAGS];
    char urls[EC_MAX_FRAGS][ADDR_LEN + 8], targets[EC_MAX_FRAGS][CN_WIRE_FRAGMENT_TARGET_MAX],
        ranges[EC_MAX_FRAGS][80];
    const char *hdrs[EC_MAX_FRAGS][2];
    size_t idx[EC_MAX_FRAGS], nreq;
};

/* One stripe's fill: the pieces of object bytes [pos, stop) and where they
 * go (fs[i].dst NULL until armed). */
struct stripe_plan {
    struct get_group *gg;
    uint64_t pos, s, stop;
    uint32_t su;
    size_t n;
    ec_piece pieces[EC_MAX_K];
    struct fetch fs[EC_MAX_K];
    uint32_t frag[EC_MAX_K];
    uint64_t off[EC_MAX_K];
};

struct gw_get {
    struct gw_ctx *ctx;
    uint64_t pos, end;
    /* inline objects */
    uint8_t *inline_data;
    /* erasure-coded objects */
    struct get_group *groups;
    size_t n_groups;
    uint8_t *out; /* bytes ready for the reader */
    size_t out_len, out_pos, out_cap;
    uint8_t *units[EC_MAX_FRAGS]; /* degraded reads: one stripe unit per fragment */
    size_t unit_cap;
    /* Packed extents: fragment ranges of one round (k+m runs of whole units,
     * fragment after fragment), scattered into out. */
    uint8_t *stage;
    size_t stage_cap;
    uint64_t mem;       /* stripe buffers taken from the budget */
    uint64_t units_mem; /* decode units forced onto it */
    /* Direct reads (gw_get_open_direct): no read-ahead; a read whose buffer
     * holds the whole next stripe (or packed round) has the fragments
     * written straight into it, out is only for smaller reads (allocated
     * then, block bytes, freed once drained). */
    int direct;
    size_t block; /* gw_get_block() */
    /* ... and the next stripe's requests, sent before the read that takes
     * them (prefetch_start). */
    int pf_on;
    struct cn_http_fanout *pf_fanout;
    struct stripe_plan pf;
    struct fetch_round pf_round;

    /* Read-ahead for ranges longer than one stripe: a helper thread fills
     * two stripe buffers in turn (g->pos and the fetch state are then its
     * own) while the reader drains the other. */
    int ahead;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;         /* reader gone: the helper ends */
    uint8_t *slot[2]; /* stripe buffers */
    size_t slot_len[2];
    int slot_rc[2];   /* 0, 1 = end of range, or a negative CAIRN_E_* */
    int slot_full[2]; /* filled by the helper, not yet drained */
    int cur;          /* the slot the reader drains */
    size_t rd_pos;    /* the reader's offset in it (fill() owns out_pos) */
};

static void *ahead_main(void *arg);

static int get_open(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                    int direct, struct gw_get **out)
{
    if (!ctx || !rec || off > rec->size || len > rec->size - off)
        return CAIRN_E_INVAL;
    struct gw_get *g = calloc(1, sizeof(*g));
    if (!g)
        return CAIRN_E_NOMEM;
    g->ctx = ctx;
    g->pos = off;
    g->end = off + len;
    if (rec->has_inline) {
        if (rec->inline_data.len != rec->size)
            goto err_inval;
        g->inline_data = malloc(rec->size ? rec->size : 1);
        if (!g->inline_data)
            goto err_nomem;
        memcpy(g->inline_data, rec->inline_data.data, rec->size);
        g->block = len ? (size_t)len : 1;
        *out = g;
        return 0;
    }
    g->n_groups = rec->n_extents;
    g->groups = calloc(g->n_groups ? g->n_groups : 1, sizeof(*g->groups));
    if (!g->groups)
        goto err_nomem;
    size_t max_stripe = 0, stage = 0;
    for (size_t i = 0; i < rec->n_extents; i++) {
        const Md__Extent *e = rec->extents[i];
        const Md__ChunkGroup *cg = e->group;
        if (!cg || cg->id.len != 16 || cg->k < 1 || cg->k > EC_MAX_K || cg->m < 1 ||
            cg->m > EC_MAX_M || cg->unit == 0 || cg->n_fragment_cs != cg->k + cg->m)
            goto err_inval;
        struct get_group *gg = &g->groups[i];
        size_t sb = (size_t)cg->k * cg->unit;
        gg->offset = e->offset;
        gg->span = cg->data_length;
        if (e->packed) {
            /* Whole stripes of a group whose committed length the query
             * filled in; objects start on a stripe. */
            if (e->length == 0 || e->group_offset % sb != 0 || e->group_offset > cg->data_length ||
                e->length > cg->data_length - e->group_offset)
                goto err_inval;
            gg->packed = 1;
            gg->group_offset = e->group_offset;
            gg->span = e->length;
            /* A round: up to GW_PACKED_READ_ROUND object bytes, which span at
             * most round / sb + 2 stripes, of every fragment (degraded). */
            size_t round = len < GW_PACKED_READ_ROUND ? (size_t)len : GW_PACKED_READ_ROUND;
            if (round > max_stripe)
                max_stripe = round;
            size_t st = (size_t)(cg->k + cg->m) * (round / sb + 2) * cg->unit;
            if (st > stage)
                stage = st;
        }
        memcpy(gg->id, cg->id.data, 16);
        gg->k = cg->k;
        gg->m = cg->m;
        gg->unit = cg->unit;
        gg->data_length = cg->data_length;
        memcpy(gg->cs, cg->fragment_cs, sizeof(uint64_t) * (cg->k + cg->m));
        if (sb > max_stripe)
            max_stripe = sb;
    }
    g->out_cap = max_stripe;
    g->stage_cap = stage;
    g->block = len < max_stripe ? (size_t)len : max_stripe;
    g->direct = direct;
    /* Direct: the reader's block and out (for reads shorter than a stripe),
     * each block bytes; the same bound as the two read-ahead slots. */
    if (direct)
        g->mem = 2 * (uint64_t)g->block + stage;
    else
        g->mem = (len > max_stripe ? 2 * (uint64_t)max_stripe : max_stripe) + stage;
    if (gw_ctx_mem_take(ctx, g->mem) != 0) {
        g->mem = 0;
        gw_get_close(g);
        return CAIRN_E_BUSY;
    }
    if (stage && !(g->stage = malloc(stage)))
        goto err_nomem;
    if (direct) {
        *out = g;
        return 0;
    }
    if (len > max_stripe) {
        /* Read ahead: fetching stripe s+1 overlaps sending stripe s. */
        g->slot[0] = malloc(max_stripe);
        g->slot[1] = malloc(max_stripe);
        if (!g->slot[0] || !g->slot[1])
            goto err_nomem;
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->cv, NULL);
        if (pthread_create(&g->th, NULL, ahead_main, g) != 0) {
            pthread_mutex_destroy(&g->mu);
            pthread_cond_destroy(&g->cv);
            goto err_nomem;
        }
        g->ahead = 1;
        *out = g;
        return 0;
    }
    g->out = malloc(max_stripe ? max_stripe : 1);
    if (!g->out)
        goto err_nomem;
    *out = g;
    return 0;
err_inval:
    gw_get_close(g);
    return CAIRN_E_INVAL;
err_nomem:
    gw_get_close(g);
    return CAIRN_E_NOMEM;
}

int gw_get_open(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                struct gw_get **out)
{
    return get_open(ctx, rec, off, len, 0, out);
}

int gw_get_open_direct(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                       struct gw_get **out)
{
    return get_open(ctx, rec, off, len, 1, out);
}

size_t gw_get_block(const struct gw_get *g)
{
    return g->block ? g->block : 1;
}

void gw_get_close(struct gw_get *g)
{
    if (!g)
        return;
    if (g->pf_on)
        cn_http_fanout_abort(g->pf_fanout);
    if (g->ahead) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->th, NULL);
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
    }
    free(g->slot[0]);
    free(g->slot[1]);
    free(g->inline_data);
    free(g->groups);
    free(g->out);
    free(g->stage);
    for (int i = 0; i < EC_MAX_FRAGS; i++)
        free(g->units[i]);
    if (g->mem || g->units_mem)
        gw_ctx_mem_give(g->ctx, g->mem + g->units_mem);
    free(g);
}

/* A single-group layout: stripe math of a group on its own. */
static ec_layout group_layout(const struct get_group *gg)
{
    uint64_t sb = (uint64_t)gg->k * gg->unit;
    uint64_t stripes = gg->data_length / sb + 1;
    ec_layout l = {.k = gg->k, .m = gg->m, .unit = gg->unit, .frag_max = stripes * gg->unit};
    return l;
}

static int fetch_writer(void *cls, const void *data, size_t len)
{
    struct fetch *f = cls;
    if (!f->dst)
        return CN_HTTP_WRITER_LATER; /* a prefetch answered before its read came */
    if (f->got + len > f->len)
        return CAIRN_E_PROTO;
    memcpy(f->dst + f->got, data, len);
    f->got += len;
    return 0;
}

/* Tells the leader's repair queue that a chunkserver answered for a fragment
 * but could not give its bytes (missing, corrupt, or damaged in flight). A
 * chunkserver that does not answer at all is the heartbeats' business. */
static void report_damage(struct gw_ctx *ctx, const struct get_group *gg, uint32_t index)
{
    struct md_client *mc = gw_ctx_meta(ctx);
    if (!mc)
        return;
    int rc = md_client_report_damage(mc, gg->id, index, gg->cs[index]);
    if (rc != 0)
        CN_WARN(LOG, "could not report a damaged fragment to the leader: %s", cairn_strerror(rc));
}

/* Sets up the requests of fetch_ranges in r; the fragments not to ask
 * (failed before, no address, unless force a chunkserver not answering
 * lately) are failed at once and recorded in gg->bad (and gg->skipped). */
static void fetch_prepare(struct gw_get *g, struct get_group *gg, const uint32_t *frag,
                          const uint64_t *off, struct fetch *fs, size_t n, int force,
                          struct fetch_round *r)
{
    r->nreq = 0;
    for (size_t i = 0; i < n; i++) {
        fs[i].got = 0;
        fs[i].failed = 0;
        if ((gg->bad & (1ull << frag[i])) || gg->cs[frag[i]] == 0 ||
            gw_cs_url(g->ctx, gg->cs[frag[i]], r->urls[i]) != 0) {
            fs[i].failed = 1;
            gg->bad |= 1ull << frag[i];
            continue;
        }
        if (!force && gw_cs_skip(g->ctx, gg->cs[frag[i]])) {
            fs[i].failed = 1;
            gg->bad |= 1ull << frag[i];
            gg->skipped |= 1ull << frag[i];
            continue;
        }
        gw_fragment_target(gg->id, frag[i], r->targets[i]);
        snprintf(r->ranges[i], sizeof(r->ranges[i]), "Range: bytes=%" PRIu64 "-%" PRIu64, off[i],
                 off[i] + fs[i].len - 1);
        r->hdrs[i][0] = r->ranges[i];
        r->hdrs[i][1] = NULL;
        r->reqs[r->nreq] = (struct cn_http_request){.method = "GET",
                                                    .base_url = r->urls[i],
                                                    .target = r->targets[i],
                                                    .headers = r->hdrs[i],
                                                    .resp_writer = fetch_writer,
                                                    .resp_cls = &fs[i],
                                                    /* data: the signed CRC header covers it */
                                                    .resp_body_unsigned_ok = 1};
        r->idx[r->nreq++] = i;
    }
}

/* Checks the answers of r's requests (rc: the fan-out's) and sets
 * fs[i].failed for every one that did not arrive whole and verified. With
 * tentative (a prefetch), a failure is only counted in the return value:
 * nothing is recorded or reported, the caller fetches the stripe again.
 * Returns the number of requests that failed. */
static size_t fetch_check(struct gw_get *g, struct get_group *gg, const uint32_t *frag,
                          struct fetch *fs, struct fetch_round *r, int rc,
                          struct cn_http_response *resps, const int *errs, int tentative)
{
    size_t failed = 0;
    if (rc != 0) {
        for (size_t q = 0; q < r->nreq; q++)
            fs[r->idx[q]].failed = 1;
        return r->nreq;
    }
    for (size_t q = 0; q < r->nreq; q++) {
        size_t i = r->idx[q];
        struct fetch *f = &fs[i];
        int good =
            errs[q] == 0 && (resps[q].status == 206 || resps[q].status == 200) && f->got == f->len;
        const char *crc = good ? cn_http_response_header(&resps[q], CN_HDR_RANGE_CRC) : NULL;
        uint32_t sent;
        if (good && crc && (cn_wire_crc_parse(crc, &sent) || sent != ec_crc32c(f->dst, f->len)))
            good = 0; /* damaged in flight */
        if (!good) {
            f->failed = 1;
            failed++;
        }
        if (tentative && good)
            gw_cs_answered(g->ctx, gg->cs[frag[i]], 1);
        if (!tentative) {
            gw_cs_answered(g->ctx, gg->cs[frag[i]], resps[q].status != 0);
            if (!good) {
                /* Logged once per fragment and read; later stripes skip it. */
                g->ctx->frag_errors++;
                gg->bad |= 1ull << frag[i];
                /* a transport error, a refusal, or a 2xx body that did not check */
                const char *why = errs[q]                      ? cairn_strerror(errs[q])
                                  : resps[q].status / 100 != 2 ? "refused"
                                                               : "bad checksum or length";
                CN_WARN(LOG, "fragment %u read from %s failed (%s, HTTP %d): reading around it",
                        frag[i], r->urls[i], why, resps[q].status);
                if (errs[q] == 0 && resps[q].status != 0)
                    report_damage(g->ctx, gg, frag[i]);
            }
        }
        cn_http_response_clear(&resps[q]);
    }
    return failed;
}

/* Fetches n fragment ranges in parallel into their destinations. Sets
 * fetch[i].failed for every one that did not arrive whole and verified.
 * Unless force, fragments on a chunkserver that did not answer lately are
 * not asked (failed, and recorded in gg->skipped). */
static void fetch_ranges(struct gw_get *g, struct get_group *gg, const uint32_t *frag,
                         const uint64_t *off, struct fetch *fs, size_t n, int force)
{
    struct tls_res *t = gw_tls_get(g->ctx);
    struct fetch_round r;
    struct cn_http_response resps[EC_MAX_FRAGS];
    int errs[EC_MAX_FRAGS];
    memset(resps, 0, sizeof(resps));
    if (!t) {
        for (size_t i = 0; i < n; i++) {
            fs[i].failed = 1;
            gg->bad |= 1ull << frag[i];
        }
        return;
    }
    fetch_prepare(g, gg, frag, off, fs, n, force, &r);
    int rc = r.nreq > 0 ? cn_http_fanout_run(t->fanout, r.reqs, r.nreq, resps, errs) : 0;
    fetch_check(g, gg, frag, fs, &r, rc, resps, errs, 0);
}

/* Reads around failures: fetches [at, at + len) of the fragments of gg not in
 * tried, fragment i into dst[i], a few at a time, until k are in *present
 * (which it extends); once out of fragments, asks the chunkservers skipped as
 * unanswering after all. Returns 0 or CAIRN_E_ERASURES (more than m lost). */
static int fetch_until_k(struct gw_get *g, struct get_group *gg, uint64_t at, size_t len,
                         uint8_t *const *dst, uint64_t tried, uint64_t *present)
{
    uint32_t n = gg->k + gg->m;
    int force = 0;
    while ((uint32_t)__builtin_popcountll(*present) < gg->k) {
        uint32_t frag[EC_MAX_FRAGS];
        uint64_t off[EC_MAX_FRAGS];
        struct fetch fs[EC_MAX_FRAGS];
        size_t want = gg->k - (uint32_t)__builtin_popcountll(*present), c = 0;
        for (uint32_t i = 0; i < n && c < want; i++) {
            if (tried & (1ull << i))
                continue;
            tried |= 1ull << i;
            frag[c] = i;
            off[c] = at;
            fs[c] = (struct fetch){.dst = dst[i], .len = len};
            c++;
        }
        if (c == 0 && (gg->skipped & ~*present)) {
            /* Out of fragments: ask the skipped chunkservers after all. */
            tried &= ~gg->skipped;
            gg->bad &= ~gg->skipped;
            gg->skipped = 0;
            force = 1;
            continue;
        }
        if (c == 0)
            return CAIRN_E_ERASURES; /* more than m fragments lost */
        fetch_ranges(g, gg, frag, off, fs, c, force);
        for (size_t i = 0; i < c; i++)
            if (!fs[i].failed)
                *present |= 1ull << frag[i];
    }
    return 0;
}

/* Rebuilds the units of stripe s that the failed pieces need, then copies
 * those pieces out. lost = data fragments whose pieces failed. */
static int degraded_stripe(struct gw_get *g, struct get_group *gg, uint64_t s, uint32_t su,
                           uint64_t lost, const ec_piece *pieces, const struct fetch *fs,
                           size_t n_pieces, uint64_t base)
{
    uint32_t n = gg->k + gg->m;
    if (g->unit_cap < su) {
        for (uint32_t i = 0; i < EC_MAX_FRAGS; i++) {
            free(g->units[i]);
            g->units[i] = NULL;
        }
        g->unit_cap = 0;
        gw_ctx_mem_give(g->ctx, g->units_mem);
        g->units_mem = (uint64_t)EC_MAX_FRAGS * su;
        gw_ctx_mem_force(g->ctx, g->units_mem);
        for (uint32_t i = 0; i < n; i++)
            if (!(g->units[i] = malloc(su)))
                return CAIRN_E_NOMEM;
        g->unit_cap = su;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!g->units[i] && !(g->units[i] = malloc(g->unit_cap)))
            return CAIRN_E_NOMEM;
    /* Fetch whole units from every fragment not known lost, data first,
     * until k have arrived. */
    uint64_t present = 0;
    int rc = fetch_until_k(g, gg, s * gg->unit, su, g->units, lost | gg->bad, &present);
    if (rc)
        return rc;
    ec_codec *codec = gw_ctx_codec(g->ctx, gg->k, gg->m);
    if (!codec)
        return CAIRN_E_NOMEM;
    rc = ec_decode(codec, su, g->units, present, lost);
    if (rc)
        return rc;
    g->ctx->degraded++;
    g->ctx->decodes += (uint64_t)__builtin_popcountll(lost & ~present);
    for (size_t i = 0; i < n_pieces; i++) {
        if (!fs[i].failed)
            continue;
        const ec_piece *pc = &pieces[i];
        memcpy(g->out + (pc->obj_off - base), g->units[pc->frag] + (pc->frag_off - s * gg->unit),
               pc->len);
    }
    return 0;
}

/* The group holding object byte g->pos, or NULL if the extents do not
 * cover it. */
static struct get_group *group_at(struct gw_get *g)
{
    for (size_t gi = 0; gi < g->n_groups; gi++)
        if (g->pos >= g->groups[gi].offset && g->pos < g->groups[gi].offset + g->groups[gi].span)
            return &g->groups[gi];
    return NULL;
}

/* Where the next fill() of group gg stops: the end of the stripe (or packed
 * round) holding g->pos, or of the range. */
static uint64_t fill_stop(const struct gw_get *g, const struct get_group *gg)
{
    uint64_t stop;
    if (gg->packed) {
        stop = gg->offset + gg->span;
        if (g->end < stop)
            stop = g->end;
        if (stop - g->pos > g->out_cap)
            stop = g->pos + g->out_cap;
        return stop;
    }
    ec_layout l = group_layout(gg);
    uint64_t sb = (uint64_t)gg->k * gg->unit;
    uint64_t s = (g->pos - gg->offset) / sb;
    stop = gg->offset + s * sb + ec_layout_stripe_data_len(&l, gg->data_length, s);
    return g->end < stop ? g->end : stop;
}

/* 1 if fragment f's unit of stripe s holds a byte of group data [a, b). */
static int unit_needed(const struct get_group *gg, uint64_t s, uint32_t f, uint64_t a, uint64_t b)
{
    uint64_t u0 = s * gg->k * gg->unit + (uint64_t)f * gg->unit;
    return u0 < b && u0 + gg->unit > a;
}

/* Fills g->out with the next round of a packed extent: up to out_cap object
 * bytes, fetched as ONE range of whole units per data fragment covering
 * every stripe the round spans (packed units are small: stripe by stripe
 * would be a request per few KiB), then scattered. A fragment that fails is
 * read around: the same range of other fragments, the lost runs decoded in
 * one pass (the code is bytewise, so k runs of units decode like k units). */
static int fill_packed(struct gw_get *g, struct get_group *gg)
{
    uint32_t k = gg->k, n_frags = gg->k + gg->m, unit = gg->unit;
    uint64_t sb = (uint64_t)k * unit;
    uint64_t stop = fill_stop(g, gg);
    uint64_t a = gg->group_offset + (g->pos - gg->offset), b = a + (stop - g->pos);
    uint64_t s0 = a / sb, s1 = (b - 1) / sb, ns = s1 - s0 + 1;
    size_t flen = (size_t)(ns * unit);
    if ((size_t)n_frags * flen > g->stage_cap)
        return CAIRN_E_INVAL; /* cannot happen: out_cap bounds the round */

    uint32_t frag[EC_MAX_FRAGS] = {0};
    uint64_t off[EC_MAX_FRAGS] = {0};
    struct fetch fs[EC_MAX_FRAGS];
    uint64_t need = 0, lost = 0;
    size_t c = 0;
    for (uint32_t f = 0; f < k; f++) {
        if (!(ns >= 3 || unit_needed(gg, s0, f, a, b) || unit_needed(gg, s1, f, a, b)))
            continue;
        need |= 1ull << f;
        frag[c] = f;
        off[c] = s0 * unit;
        fs[c] = (struct fetch){.dst = g->stage + (size_t)f * flen, .len = flen};
        c++;
    }
    fetch_ranges(g, gg, frag, off, fs, c, 0);
    for (size_t i = 0; i < c; i++)
        if (fs[i].failed)
            lost |= 1ull << frag[i];
    if (lost) {
        uint8_t *runs[EC_MAX_FRAGS];
        for (uint32_t i = 0; i < n_frags; i++)
            runs[i] = g->stage + (size_t)i * flen;
        uint64_t present = need & ~lost;
        int rc = fetch_until_k(g, gg, s0 * unit, flen, runs, need | gg->bad, &present);
        if (rc)
            return rc;
        ec_codec *codec = gw_ctx_codec(g->ctx, k, gg->m);
        if (!codec)
            return CAIRN_E_NOMEM;
        rc = ec_decode(codec, flen, runs, present, lost);
        if (rc)
            return rc;
        g->ctx->degraded += ns;
        g->ctx->decodes += (uint64_t)__builtin_popcountll(lost);
    }
    for (uint64_t s = s0; s <= s1; s++)
        for (uint32_t f = 0; f < k; f++) {
            uint64_t u0 = s * sb + (uint64_t)f * unit, u1 = u0 + unit;
            uint64_t lo = u0 > a ? u0 : a, hi = u1 < b ? u1 : b;
            if (lo >= hi)
                continue;
            memcpy(g->out + (lo - a), g->stage + (size_t)f * flen + (s - s0) * unit + (lo - u0),
                   (size_t)(hi - lo));
        }
    g->out_len = (size_t)(b - a);
    g->out_pos = 0;
    g->pos = stop;
    return 0;
}

/* Plans the fill at g->pos of (unpacked) group gg. */
static void plan_stripe(const struct gw_get *g, struct get_group *gg, struct stripe_plan *p)
{
    ec_layout l = group_layout(gg);
    uint64_t sb = (uint64_t)gg->k * gg->unit;
    p->gg = gg;
    p->pos = g->pos;
    p->s = (g->pos - gg->offset) / sb;
    p->stop = fill_stop(g, gg);
    p->su = ec_layout_stripe_unit(&l, gg->data_length, p->s);
    p->n = 0;
    ec_range_iter it;
    ec_range_iter_init(&it, &l, gg->data_length, g->pos - gg->offset, p->stop - g->pos);
    while (p->n < EC_MAX_K && ec_range_iter_next(&it, &p->pieces[p->n])) {
        ec_piece *pc = &p->pieces[p->n];
        pc->obj_off += gg->offset;
        p->frag[p->n] = pc->frag;
        p->off[p->n] = pc->frag_off;
        p->fs[p->n] = (struct fetch){.dst = NULL, .len = (size_t)pc->len};
        p->n++;
    }
}

/* Points the plan's pieces at their places in g->out (object order). */
static void plan_arm(struct gw_get *g, struct stripe_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->fs[i].dst = g->out + (p->pieces[i].obj_off - p->pos);
}

/* After the plan's fetch: decodes the pieces that failed, then hands the
 * stripe to the reader. */
static int plan_finish(struct gw_get *g, struct stripe_plan *p)
{
    uint64_t lost = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->fs[i].failed)
            lost |= 1ull << p->frag[i];
    if (lost) {
        int rc = degraded_stripe(g, p->gg, p->s, p->su, lost, p->pieces, p->fs, p->n, p->pos);
        if (rc)
            return rc;
    }
    g->out_len = (size_t)(p->stop - p->pos);
    g->out_pos = 0;
    g->pos = p->stop;
    return 0;
}

/* Fills g->out with the next stripe's worth of the requested range: the
 * fragments' bytes are written straight to their places in object order. */
static int fill(struct gw_get *g)
{
    struct get_group *gg = group_at(g);
    if (!gg)
        return CAIRN_E_CORRUPT; /* extents do not cover the object */
    if (gg->packed)
        return fill_packed(g, gg);
    struct stripe_plan p;
    plan_stripe(g, gg, &p);
    plan_arm(g, &p);
    fetch_ranges(g, gg, p.frag, p.off, p.fs, p.n, 0);
    return plan_finish(g, &p);
}

/* Direct readers: sends the requests of the next stripe (unpacked groups)
 * when a read has its bytes, so the chunkservers read, checksum and send it
 * while the caller sends this one; its answers wait in the sockets until
 * fill_prefetched. Nothing is started when it cannot be (the read then
 * fetches as usual). */
static void prefetch_start(struct gw_get *g)
{
    if (g->pos >= g->end)
        return;
    struct get_group *gg = group_at(g);
    struct tls_res *t = gw_tls_get(g->ctx);
    if (!gg || gg->packed || !t)
        return;
    plan_stripe(g, gg, &g->pf);
    fetch_prepare(g, gg, g->pf.frag, g->pf.off, g->pf.fs, g->pf.n, 0, &g->pf_round);
    if (g->pf_round.nreq == 0 ||
        cn_http_fanout_start(t->fanout, g->pf_round.reqs, g->pf_round.nreq) != 0)
        return;
    g->pf_fanout = t->fanout;
    g->pf_on = 1;
}

/* fill() for a stripe prefetch_start sent: its answers are read straight
 * into g->out. One that failed (or timed out while the caller was slow to
 * read) counts for nothing: the stripe is fetched again as fill() would. */
static int fill_prefetched(struct gw_get *g)
{
    struct stripe_plan *p = &g->pf;
    g->pf_on = 0;
    if (p->pos != g->pos) { /* cannot happen: only reads move g->pos */
        cn_http_fanout_abort(g->pf_fanout);
        return fill(g);
    }
    struct cn_http_response resps[EC_MAX_FRAGS];
    int errs[EC_MAX_FRAGS];
    memset(resps, 0, sizeof(resps));
    plan_arm(g, p);
    int rc = cn_http_fanout_wait(g->pf_fanout, resps, errs);
    if (fetch_check(g, p->gg, p->frag, p->fs, &g->pf_round, rc, resps, errs, 1) > 0) {
        g->ctx->prefetch_redone++;
        fetch_ranges(g, p->gg, p->frag, p->off, p->fs, p->n, 0);
    }
    return plan_finish(g, p);
}

/* The read-ahead helper: fills the slots in turn until the range ends, an
 * error, or the reader stops. It owns g->pos, g->out (pointed at the slot
 * being filled), the group state and the degraded-read units. */
static void *ahead_main(void *arg)
{
    struct gw_get *g = arg;
    for (int i = 0;; i ^= 1) {
        pthread_mutex_lock(&g->mu);
        while (g->slot_full[i] && !g->stop)
            pthread_cond_wait(&g->cv, &g->mu);
        int stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        int rc = 1;
        size_t len = 0;
        if (g->pos < g->end) {
            g->out = g->slot[i];
            rc = fill(g);
            len = g->out_len;
            g->out = NULL;
        }
        pthread_mutex_lock(&g->mu);
        g->slot_len[i] = len;
        g->slot_rc[i] = rc;
        g->slot_full[i] = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (rc != 0)
            break;
    }
    return NULL;
}

static ssize_t ahead_read(struct gw_get *g, void *buf, size_t max)
{
    pthread_mutex_lock(&g->mu);
    int c = g->cur;
    if (g->slot_full[c] && g->slot_rc[c] == 0 && g->rd_pos == g->slot_len[c]) {
        /* drained: hand the slot back and move to the other */
        g->slot_full[c] = 0;
        pthread_cond_broadcast(&g->cv);
        c = g->cur ^= 1;
        g->rd_pos = 0;
    }
    while (!g->slot_full[c])
        pthread_cond_wait(&g->cv, &g->mu);
    int rc = g->slot_rc[c];
    size_t len = g->slot_len[c];
    pthread_mutex_unlock(&g->mu);
    if (rc == 1)
        return 0;
    if (rc < 0)
        return rc;
    size_t n = len - g->rd_pos < max ? len - g->rd_pos : max;
    memcpy(buf, g->slot[c] + g->rd_pos, n);
    g->rd_pos += n;
    return (ssize_t)n;
}

/* A direct reader's read with nothing buffered: the next fill goes straight
 * into buf when it fits (one copy of each byte, from the fragment responses
 * to the caller), else into out, allocated for it. */
static ssize_t direct_read(struct gw_get *g, void *buf, size_t max)
{
    struct get_group *gg = group_at(g);
    if (!gg)
        return CAIRN_E_CORRUPT; /* extents do not cover the object */
    uint64_t want = fill_stop(g, gg) - g->pos;
    if (want <= max) {
        g->out = buf;
        int rc = g->pf_on ? fill_prefetched(g) : fill(g);
        size_t n = g->out_len;
        g->out = NULL;
        g->out_len = g->out_pos = 0;
        if (rc)
            return rc;
        g->ctx->direct_fills++;
        prefetch_start(g);
        return (ssize_t)n;
    }
    if (!(g->out = malloc(g->block)))
        return CAIRN_E_NOMEM;
    int rc = g->pf_on ? fill_prefetched(g) : fill(g);
    if (rc)
        return rc;
    prefetch_start(g);
    size_t n = g->out_len < max ? g->out_len : max;
    memcpy(buf, g->out, n);
    g->out_pos = n;
    return (ssize_t)n;
}

ssize_t gw_get_read(struct gw_get *g, void *buf, size_t max)
{
    if (g->ahead)
        return ahead_read(g, buf, max);
    if (g->inline_data) {
        size_t n = (size_t)(g->end - g->pos) < max ? (size_t)(g->end - g->pos) : max;
        memcpy(buf, g->inline_data + g->pos, n);
        g->pos += n;
        return (ssize_t)n;
    }
    if (g->out_pos == g->out_len) {
        if (g->pos >= g->end)
            return 0;
        if (g->direct)
            return direct_read(g, buf, max);
        int rc = fill(g);
        if (rc)
            return rc;
    }
    size_t n = g->out_len - g->out_pos < max ? g->out_len - g->out_pos : max;
    memcpy(buf, g->out + g->out_pos, n);
    g->out_pos += n;
    if (g->direct && g->out_pos == g->out_len) {
        free(g->out); /* drained: direct reads need it no more */
        g->out = NULL;
    }
    return (ssize_t)n;
}
