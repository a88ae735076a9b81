#include "gw_mutate.h"

#include <stdlib.h>
#include <string.h>

void gw_mutator_init(struct gw_mutator *m, uint64_t seed, const char *const *dict, size_t n_dict)
{
    m->state = seed;
    m->dict = dict;
    m->n_dict = n_dict;
    m->max_len = 0;
}

uint64_t gw_mutator_next(struct gw_mutator *m)
{
    uint64_t z = (m->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(struct gw_mutator *m, size_t n)
{
    return n ? (size_t)(gw_mutator_next(m) % n) : 0;
}

/* A growable byte string. */
struct bytes {
    char *p;
    size_t len, cap;
    int oom;
};

static void reserve(struct bytes *b, size_t extra)
{
    if (b->oom || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = (b->len + extra + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void insert(struct bytes *b, size_t at, const char *s, size_t n)
{
    reserve(b, n);
    if (b->oom)
        return;
    memmove(b->p + at + n, b->p + at, b->len - at);
    memcpy(b->p + at, s, n);
    b->len += n;
}

static void mutate_once(struct gw_mutator *m, struct bytes *b)
{
    static const char interesting[] = {0,   '\xff', '"', '\\', '{', '}', '[', ']',    '<',
                                       '>', '&',    '*', '?',  '/', ':', ',', '\x80', ' '};
    size_t at = below(m, b->len + 1);
    switch (below(m, 8)) {
    case 0: /* flip 1..4 bits */
        for (size_t i = 0, n = 1 + below(m, 4); i < n && b->len; i++)
            b->p[below(m, b->len)] ^= (char)(1u << below(m, 8));
        break;
    case 1: /* truncate */
        b->len = at;
        break;
    case 2: { /* remove a span */
        size_t n = below(m, b->len - (at < b->len ? at : b->len) + 1);
        if (at + n > b->len)
            n = b->len - at;
        memmove(b->p + at, b->p + at + n, b->len - at - n);
        b->len -= n;
        break;
    }
    case 3: { /* duplicate a span at another place */
        if (!b->len)
            break;
        size_t from = below(m, b->len);
        size_t n = 1 + below(m, b->len - from);
        char *copy = malloc(n);
        if (!copy) {
            b->oom = 1;
            break;
        }
        memcpy(copy, b->p + from, n);
        insert(b, at, copy, n);
        free(copy);
        break;
    }
    case 4: /* overwrite a byte with an interesting one */
        if (b->len)
            b->p[below(m, b->len)] = interesting[below(m, sizeof(interesting))];
        break;
    case 5: /* insert a dictionary token */
        if (m->n_dict) {
            const char *t = m->dict[below(m, m->n_dict)];
            insert(b, at, t, strlen(t));
        }
        break;
    case 6: { /* huge number */
        char digits[420];
        size_t n = 20 + below(m, sizeof(digits) - 20);
        for (size_t i = 0; i < n; i++)
            digits[i] = (char)('0' + (i == 0 ? 9 : below(m, 10)));
        insert(b, at, digits, n);
        break;
    }
    case 7: /* deep nesting: one token many times */
        if (m->n_dict) {
            const char *t = m->dict[below(m, m->n_dict)];
            size_t tl = strlen(t), n = 100 + below(m, 3000);
            char *run = malloc(tl * n + 1);
            if (!run) {
                b->oom = 1;
                break;
            }
            for (size_t i = 0; i < n; i++)
                memcpy(run + i * tl, t, tl);
            insert(b, at, run, tl * n);
            free(run);
        }
        break;
    }
}

char *gw_mutate(struct gw_mutator *m, const char *in, size_t len, size_t *out_len)
{
    struct bytes b = {0};
    reserve(&b, len);
    if (b.oom)
        return NULL;
    memcpy(b.p, in, len);
    b.len = len;
    for (size_t i = 0, n = 1 + below(m, 3); i < n && !b.oom; i++)
        mutate_once(m, &b);
    size_t max = m->max_len ? m->max_len : 64 * 1024;
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (b.len > max)
        b.len = max;
    b.p[b.len] = '\0';
    *out_len = b.len;
    return b.p;
}
