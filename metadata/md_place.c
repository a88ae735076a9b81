#include "md_place.h"
#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

uint64_t md_place_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *lbl(const char *s)
{
    return s ? s : "";
}

static int same_host(const struct md_place_node *a, const struct md_place_node *b)
{
    const char *ha = lbl(a->host), *hb = lbl(b->host);
    if (!ha[0] || !hb[0])
        return a->id == b->id;
    return strcmp(ha, hb) == 0;
}

static int same_zone(const struct md_place_node *a, const struct md_place_node *b)
{
    return strcmp(lbl(a->zone), lbl(b->zone)) == 0;
}

static int same_rack(const struct md_place_node *a, const struct md_place_node *b)
{
    return same_zone(a, b) && strcmp(lbl(a->rack), lbl(b->rack)) == 0;
}

static int cmp_id(const void *a, const void *b)
{
    const struct md_place_node *x = *(const struct md_place_node *const *)a;
    const struct md_place_node *y = *(const struct md_place_node *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int md_place(const struct md_place_node *cands, size_t n, const struct md_place_node *holding,
             size_t n_holding, uint32_t count, uint64_t seed, uint64_t *out)
{
    if (count == 0 || (n && !cands) || (n_holding && !holding) || !out)
        return CAIRN_E_INVAL;
    const struct md_place_node **c = malloc((n ? n : 1) * sizeof(*c));
    /* used: the holders then the chosen nodes, for the counting rules. */
    const struct md_place_node **used = malloc((n_holding + count) * sizeof(*used));
    uint64_t *weight = malloc((n ? n : 1) * sizeof(*weight));
    unsigned char *taken = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!c || !used || !weight || !taken) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        c[i] = &cands[i];
    qsort(c, n, sizeof(*c), cmp_id);
    for (size_t i = 1; i < n; i++)
        if (c[i]->id == c[i - 1]->id) {
            rc = CAIRN_E_INVAL;
            goto out;
        }
    size_t nused = 0;
    for (size_t i = 0; i < n_holding; i++)
        used[nused++] = &holding[i];
    uint64_t rng = seed;
    for (uint32_t slot = 0; slot < count; slot++) {
        size_t best_zone = SIZE_MAX, best_rack = SIZE_MAX;
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            weight[i] = 0;
            if (taken[i])
                continue;
            size_t zc = 0, rcnt = 0;
            int ok = 1;
            for (size_t u = 0; u < nused && ok; u++) {
                if (used[u]->id == c[i]->id || same_host(used[u], c[i]))
                    ok = 0;
                zc += same_zone(used[u], c[i]);
                rcnt += same_rack(used[u], c[i]);
            }
            if (!ok)
                continue;
            if (zc < best_zone || (zc == best_zone && rcnt < best_rack)) {
                best_zone = zc;
                best_rack = rcnt;
                total = 0;
                for (size_t j = 0; j < i; j++)
                    weight[j] = 0;
            } else if (zc > best_zone || rcnt > best_rack) {
                continue;
            }
            weight[i] = (c[i]->free >> 20) + 1;
            total += weight[i];
        }
        if (!total) {
            rc = CAIRN_E_UNAVAIL;
            goto out;
        }
        uint64_t r = md_place_rand(&rng) % total;
        size_t pick = 0;
        for (size_t i = 0; i < n; i++) {
            if (!weight[i])
                continue;
            if (r < weight[i]) {
                pick = i;
                break;
            }
            r -= weight[i];
        }
        taken[pick] = 1;
        used[nused++] = c[pick];
        out[slot] = c[pick]->id;
    }
out:
    free(c);
    free(used);
    free(weight);
    free(taken);
    return rc;
}
