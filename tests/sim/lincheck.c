/* Wing & Gong / Lowe linearizability search (see lincheck.h). */
#include "lincheck.h"

#include <stdlib.h>
#include <string.h>

struct ev {
    struct ev *prev, *next;
    struct ev *match; /* call -> its return event (NULL for a return) */
    uint32_t op;      /* index into the per-key op array */
    bool is_call;
    uint64_t time;
};

struct cache {
    uint64_t *keys; /* n_slots * (words + 1): bitset words then state */
    bool *used;
    size_t n_slots, count, words;
};

static uint64_t hash_words(const uint64_t *w, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static void cache_init(struct cache *c, size_t words)
{
    c->words = words;
    c->n_slots = 1024;
    c->count = 0;
    c->keys = calloc(c->n_slots * (words + 1), sizeof(uint64_t));
    c->used = calloc(c->n_slots, sizeof(bool));
    if (!c->keys || !c->used)
        abort();
}

static void cache_free(struct cache *c)
{
    free(c->keys);
    free(c->used);
}

static bool cache_insert(struct cache *c, const uint64_t *key);

static void cache_grow(struct cache *c)
{
    struct cache n;
    n.words = c->words;
    n.n_slots = c->n_slots * 2;
    n.count = 0;
    n.keys = calloc(n.n_slots * (c->words + 1), sizeof(uint64_t));
    n.used = calloc(n.n_slots, sizeof(bool));
    if (!n.keys || !n.used)
        abort();
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->used[i])
            cache_insert(&n, c->keys + i * (c->words + 1));
    cache_free(c);
    *c = n;
}

/* Inserts key (words + 1 u64s); returns false if it was already present. */
static bool cache_insert(struct cache *c, const uint64_t *key)
{
    if ((c->count + 1) * 2 > c->n_slots)
        cache_grow(c);
    size_t kw = c->words + 1;
    size_t i = hash_words(key, kw) & (c->n_slots - 1);
    while (c->used[i]) {
        if (memcmp(c->keys + i * kw, key, kw * sizeof(uint64_t)) == 0)
            return false;
        i = (i + 1) & (c->n_slots - 1);
    }
    c->used[i] = true;
    memcpy(c->keys + i * kw, key, kw * sizeof(uint64_t));
    c->count++;
    return true;
}

static bool step(const struct lc_op *op, uint32_t state, uint32_t *out)
{
    switch (op->kind) {
    case LC_GET:
        *out = state;
        return state == op->result;
    case LC_PUT:
        *out = op->a;
        return true;
    case LC_CAS:
        if (!op->known) {
            *out = state == op->a ? op->b : state;
            return true;
        }
        if (state == op->a) {
            *out = op->b;
            return op->result == 1;
        }
        *out = state;
        return op->result == 0;
    }
    return false;
}

static int cmp_ev(const void *x, const void *y)
{
    const struct ev *a = x, *b = y;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    /* at equal times calls come first: the operations count as concurrent */
    if (a->is_call != b->is_call)
        return a->is_call ? -1 : 1;
    return a->op < b->op ? -1 : (a->op > b->op ? 1 : 0);
}

static void lift(struct ev *call)
{
    call->prev->next = call->next;
    if (call->next)
        call->next->prev = call->prev;
    struct ev *r = call->match;
    r->prev->next = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void unlift(struct ev *call)
{
    struct ev *r = call->match;
    r->prev->next = r;
    if (r->next)
        r->next->prev = r;
    call->prev->next = call;
    if (call->next)
        call->next->prev = call;
}

static bool check_key(const struct lc_op *ops, uint32_t n)
{
    if (n == 0)
        return true;
    struct ev *evs = calloc(2 * (size_t)n + 1, sizeof(*evs));
    if (!evs)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        evs[2 * i] = (struct ev){.op = i, .is_call = true, .time = ops[i].call};
        evs[2 * i + 1] = (struct ev){.op = i, .is_call = false, .time = ops[i].ret};
    }
    qsort(evs, 2 * (size_t)n, sizeof(*evs), cmp_ev);
    /* link: evs[2n] is the head sentinel */
    struct ev *head = &evs[2 * (size_t)n];
    struct ev **call_of = calloc(n, sizeof(*call_of));
    if (!call_of)
        abort();
    struct ev *prev = head;
    for (size_t i = 0; i < 2 * (size_t)n; i++) {
        evs[i].prev = prev;
        prev->next = &evs[i];
        evs[i].next = NULL;
        prev = &evs[i];
        if (evs[i].is_call)
            call_of[evs[i].op] = &evs[i];
    }
    for (size_t i = 0; i < 2 * (size_t)n; i++)
        if (!evs[i].is_call)
            call_of[evs[i].op]->match = &evs[i];

    size_t words = n / 64 + 1;
    uint64_t *bits = calloc(words + 1, sizeof(uint64_t));
    struct cache cache;
    cache_init(&cache, words);
    struct frame {
        struct ev *call;
        uint32_t state;
    } *stack = calloc(n, sizeof(*stack));
    if (!bits || !stack)
        abort();
    size_t sp = 0;
    uint32_t state = 0;
    bool ok = false;
    struct ev *e = head->next;
    for (;;) {
        if (!head->next) {
            ok = true;
            break;
        }
        if (!e) {
            /* cannot happen: a list that is not empty ends with a return */
            break;
        }
        if (e->is_call) {
            uint32_t ns;
            const struct lc_op *op = &ops[e->op];
            bool lin = step(op, state, &ns);
            if (lin) {
                bits[e->op / 64] |= 1ull << (e->op % 64);
                bits[words] = ns;
                if (cache_insert(&cache, bits)) {
                    stack[sp++] = (struct frame){.call = e, .state = state};
                    state = ns;
                    lift(e);
                    e = head->next;
                    continue;
                }
                bits[e->op / 64] &= ~(1ull << (e->op % 64));
            }
            e = e->next;
        } else {
            if (sp == 0)
                break; /* not linearizable */
            struct frame f = stack[--sp];
            state = f.state;
            bits[f.call->op / 64] &= ~(1ull << (f.call->op % 64));
            unlift(f.call);
            e = f.call->next;
        }
    }
    cache_free(&cache);
    free(stack);
    free(bits);
    free(call_of);
    free(evs);
    return ok;
}

bool lc_check(const struct lc_op *ops, uint32_t n, uint32_t *bad_key)
{
    uint32_t max_key = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].key > max_key)
            max_key = ops[i].key;
    struct lc_op *sub = calloc(n ? n : 1, sizeof(*sub));
    if (!sub)
        abort();
    bool ok = true;
    for (uint32_t k = 0; k <= max_key && ok; k++) {
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (ops[i].key != k)
                continue;
            if (!ops[i].known && ops[i].kind == LC_GET)
                continue;
            sub[m] = ops[i];
            if (!sub[m].known)
                sub[m].ret = LC_NEVER;
            m++;
        }
        if (!check_key(sub, m)) {
            ok = false;
            if (bad_key)
                *bad_key = k;
        }
    }
    free(sub);
    return ok;
}
