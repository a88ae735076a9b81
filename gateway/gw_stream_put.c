#include "gw_stream_put.h"

#include "cn_error.h"
#include "gw_data.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SEGMENT_STRIPES 4

struct gw_stream_put {
    struct gw_ctx *ctx;
    ec_layout l;
    uint64_t seg, max, total;
    uint8_t *buf; /* the segment being gathered */
    uint64_t fill;
    EVP_MD_CTX *md5;
    int written; /* at least one segment went to chunkservers */
    int failed;
    uint64_t mem; /* taken from the data-path budget */

    /* the groups written so far, their chunkserver ids copied */
    struct md_group_desc *groups;
    uint64_t *cs_ids;
    size_t n_groups, cap_groups;
};

uint64_t gw_stream_put_segment(const ec_layout *l)
{
    uint64_t stripes = (uint64_t)l->k * l->unit * SEGMENT_STRIPES;
    uint64_t cap = ec_layout_group_capacity(l);
    return stripes < cap ? stripes : cap;
}

int gw_stream_put_begin(struct gw_ctx *ctx, const ec_layout *l, uint64_t seg, uint64_t max,
                        struct gw_stream_put **out)
{
    if (!ctx || ec_layout_check(l) != 0 || seg == 0 || seg > SIZE_MAX)
        return CAIRN_E_INVAL;
    /* The segment and the buffers of the one gw_put writing it at a time. */
    uint64_t mem = seg + gw_put_memory(l, seg);
    if (gw_ctx_mem_take(ctx, mem) != 0)
        return CAIRN_E_BUSY;
    struct gw_stream_put *s = calloc(1, sizeof(*s));
    if (!s) {
        gw_ctx_mem_give(ctx, mem);
        return CAIRN_E_NOMEM;
    }
    s->mem = mem;
    s->ctx = ctx;
    s->l = *l;
    s->seg = seg;
    s->max = max;
    s->buf = malloc((size_t)seg);
    s->md5 = EVP_MD_CTX_new();
    if (!s->buf || !s->md5 || EVP_DigestInit_ex(s->md5, EVP_md5(), NULL) != 1) {
        gw_stream_put_free(s);
        return CAIRN_E_NOMEM;
    }
    *out = s;
    return 0;
}

/* Keeps copies of a finished segment's group descriptions. */
static int add_groups(struct gw_stream_put *s, const struct md_group_desc *g, size_t n)
{
    uint32_t frags = s->l.k + s->l.m;
    if (s->n_groups + n > s->cap_groups) {
        size_t cap = s->cap_groups ? 2 * s->cap_groups : 16;
        while (cap < s->n_groups + n)
            cap *= 2;
        struct md_group_desc *ng = realloc(s->groups, cap * sizeof(*ng));
        if (!ng)
            return CAIRN_E_NOMEM;
        s->groups = ng;
        uint64_t *nc = realloc(s->cs_ids, cap * frags * sizeof(*nc));
        if (!nc)
            return CAIRN_E_NOMEM;
        s->cs_ids = nc;
        s->cap_groups = cap;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t *cs = s->cs_ids + (s->n_groups + i) * frags;
        memcpy(cs, g[i].fragment_cs, frags * sizeof(*cs));
        s->groups[s->n_groups + i] = g[i];
    }
    s->n_groups += n;
    /* realloc may have moved the ids: point every group at its own again */
    for (size_t i = 0; i < s->n_groups; i++)
        s->groups[i].fragment_cs = s->cs_ids + i * frags;
    return 0;
}

/* Writes the gathered bytes as their own groups. */
static int write_segment(struct gw_stream_put *s)
{
    struct gw_put *p = NULL;
    uint8_t md5[16];
    const struct md_group_desc *g = NULL;
    size_t n = 0;
    int rc = gw_put_begin_prepaid(s->ctx, &s->l, s->fill, &p);
    if (rc == 0)
        rc = gw_put_write(p, s->buf, (size_t)s->fill);
    if (rc == 0)
        rc = gw_put_finish(p, md5, &g, &n);
    if (rc == 0) {
        rc = add_groups(s, g, n);
    } else if (p) {
        /* what the failed segment left durable is the caller's to discard too */
        gw_put_written(p, &g, &n);
        if (n)
            add_groups(s, g, n);
    }
    gw_put_free(p);
    if (rc == 0) {
        s->written = 1;
        s->fill = 0;
    }
    return rc;
}

int gw_stream_put_write(struct gw_stream_put *s, const void *data, size_t len)
{
    if (s->failed)
        return s->failed;
    if (len > s->max - s->total)
        return s->failed = CAIRN_E_RANGE;
    if (EVP_DigestUpdate(s->md5, data, len) != 1)
        return s->failed = CAIRN_E_NOMEM;
    s->total += len;
    const uint8_t *d = data;
    while (len > 0) {
        size_t n = (size_t)(s->seg - s->fill) < len ? (size_t)(s->seg - s->fill) : len;
        memcpy(s->buf + s->fill, d, n);
        s->fill += n;
        d += n;
        len -= n;
        if (s->fill == s->seg) {
            int rc = write_segment(s);
            if (rc)
                return s->failed = rc;
        }
    }
    return 0;
}

uint64_t gw_stream_put_size(const struct gw_stream_put *s)
{
    return s->total;
}

int gw_stream_put_buffered(const struct gw_stream_put *s, const void **data, size_t *len)
{
    if (s->written || s->failed)
        return 0;
    *data = s->buf;
    *len = (size_t)s->fill;
    return 1;
}

int gw_stream_put_finish(struct gw_stream_put *s, uint8_t md5[16],
                         const struct md_group_desc **groups, size_t *n_groups)
{
    if (s->failed)
        return s->failed;
    if (s->fill > 0) {
        int rc = write_segment(s);
        if (rc)
            return s->failed = rc;
    }
    unsigned int ml = 16;
    if (EVP_DigestFinal_ex(s->md5, md5, &ml) != 1)
        return s->failed = CAIRN_E_NOMEM;
    *groups = s->groups;
    *n_groups = s->n_groups;
    return 0;
}

void gw_stream_put_written(const struct gw_stream_put *s, const struct md_group_desc **groups,
                           size_t *n_groups)
{
    *groups = s->groups;
    *n_groups = s->n_groups;
}

void gw_stream_put_free(struct gw_stream_put *s)
{
    if (!s)
        return;
    if (s->mem)
        gw_ctx_mem_give(s->ctx, s->mem);
    free(s->buf);
    if (s->md5)
        EVP_MD_CTX_free(s->md5);
    free(s->groups);
    free(s->cs_ids);
    free(s);
}
