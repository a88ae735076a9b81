/* Wing & Gong / Lowe linearizability search (see lincheck.h): one search
 * engine, two models (registers, a bucket). */
#include "lincheck.h"

#include "cn_error.h"

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

/* One operation of the history applied to a model state: false if its
 * recorded result is impossible from `in`; else *out is the state after it. */
typedef bool (*step_fn)(const void *ctx, uint32_t op, const uint32_t *in, uint32_t *out);

/* Is the history of n operations (real-time intervals [call, ret]) a
 * linearization of the model (words uint32 of state, all zero at first)?
 * Wing & Gong's search with Lowe's memoization of (linearized set, state). */
static bool search(uint32_t n, const uint64_t *call, const uint64_t *ret, uint32_t words,
                   step_fn step, const void *ctx)
{
    if (n == 0)
        return true;
    struct ev *evs = calloc(2 * (size_t)n + 1, sizeof(*evs));
    if (!evs)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        evs[2 * i] = (struct ev){.op = i, .is_call = true, .time = call[i]};
        evs[2 * i + 1] = (struct ev){.op = i, .is_call = false, .time = ret[i]};
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

    size_t bitwords = n / 64 + 1, statewords = (words + 1) / 2;
    /* cache key: the linearized set, then the state packed two per word */
    uint64_t *key = calloc(bitwords + statewords, sizeof(uint64_t));
    struct cache cache;
    cache_init(&cache, bitwords + statewords - 1);
    uint32_t *state = calloc(words, sizeof(uint32_t));
    uint32_t *next = calloc(words, sizeof(uint32_t));
    struct ev **stack = calloc(n, sizeof(*stack));
    uint32_t *saved = calloc((size_t)n * words, sizeof(uint32_t)); /* state before stack[i] */
    if (!key || !state || !next || !stack || !saved)
        abort();
    size_t sp = 0;
    bool ok = false;
    struct ev *e = head->next;
    for (;;) {
        if (!head->next) {
            ok = true;
            break;
        }
        if (!e)
            break; /* cannot happen: a list that is not empty ends with a return */
        if (e->is_call) {
            if (step(ctx, e->op, state, next)) {
                key[e->op / 64] |= 1ull << (e->op % 64);
                memset(key + bitwords, 0, statewords * sizeof(uint64_t));
                for (uint32_t w = 0; w < words; w++)
                    key[bitwords + w / 2] |= (uint64_t)next[w] << (32 * (w % 2));
                if (cache_insert(&cache, key)) {
                    memcpy(saved + sp * words, state, words * sizeof(uint32_t));
                    stack[sp++] = e;
                    memcpy(state, next, words * sizeof(uint32_t));
                    lift(e);
                    e = head->next;
                    continue;
                }
                key[e->op / 64] &= ~(1ull << (e->op % 64));
            }
            e = e->next;
        } else {
            if (sp == 0)
                break; /* not linearizable */
            struct ev *c = stack[--sp];
            memcpy(state, saved + sp * words, words * sizeof(uint32_t));
            key[c->op / 64] &= ~(1ull << (c->op % 64));
            unlift(c);
            e = c->next;
        }
    }
    cache_free(&cache);
    free(saved);
    free(stack);
    free(next);
    free(state);
    free(key);
    free(call_of);
    free(evs);
    return ok;
}

/* ---- registers ---- */

static bool reg_step(const void *ctx, uint32_t i, const uint32_t *in, uint32_t *out)
{
    const struct lc_op *op = (const struct lc_op *)ctx + i;
    uint32_t state = in[0];
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

/* The operations of one partition: their indexes, call and return times. */
struct part {
    uint32_t *idx;
    uint64_t *call, *ret;
    uint32_t n;
};

static void part_init(struct part *p, uint32_t cap)
{
    p->idx = calloc(cap ? cap : 1, sizeof(*p->idx));
    p->call = calloc(cap ? cap : 1, sizeof(*p->call));
    p->ret = calloc(cap ? cap : 1, sizeof(*p->ret));
    if (!p->idx || !p->call || !p->ret)
        abort();
    p->n = 0;
}

static void part_add(struct part *p, uint32_t i, uint64_t call, uint64_t ret, bool known)
{
    p->idx[p->n] = i;
    p->call[p->n] = call;
    p->ret[p->n] = known ? ret : LC_NEVER;
    p->n++;
}

static void part_free(struct part *p)
{
    free(p->idx);
    free(p->call);
    free(p->ret);
}

bool lc_check(const struct lc_op *ops, uint32_t n, uint32_t *bad_key)
{
    uint32_t max_key = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].key > max_key)
            max_key = ops[i].key;
    struct lc_op *sub = calloc(n ? n : 1, sizeof(*sub));
    struct part p;
    part_init(&p, n);
    if (!sub)
        abort();
    bool ok = true;
    for (uint32_t k = 0; k <= max_key && ok; k++) {
        p.n = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (ops[i].key != k || (!ops[i].known && ops[i].kind == LC_GET))
                continue;
            sub[p.n] = ops[i];
            part_add(&p, i, ops[i].call, ops[i].ret, ops[i].known);
        }
        if (!search(p.n, p.call, p.ret, 1, reg_step, sub)) {
            ok = false;
            if (bad_key)
                *bad_key = k;
        }
    }
    part_free(&p);
    free(sub);
    return ok;
}

/* ---- a bucket ---- */

/* What the state machine does (metadata/md_sm_objects.c): the outcome of
 * op from the group's etags `in`; false if it cannot have been recorded. */
static bool bucket_step(const void *ctx, uint32_t i, const uint32_t *in, uint32_t *out)
{
    const struct lc_bop *op = (const struct lc_bop *)ctx + i;
    memcpy(out, in, LC_GROUP_KEYS * sizeof(uint32_t));
    uint32_t cur = op->kind == LC_B_LIST ? 0 : in[op->key];
    int32_t status = 0;
    switch (op->kind) {
    case LC_B_GET:
        return op->got == cur;
    case LC_B_LIST:
        return memcmp(op->list, in, sizeof(op->list)) == 0;
    case LC_B_PUT_IF_NONE:
        status = cur ? CAIRN_E_PRECOND : 0;
        break;
    case LC_B_PUT_IF_MATCH:
    case LC_B_DELETE_IF_MATCH:
        status = !cur ? CAIRN_E_NOTFOUND : (cur != op->match ? CAIRN_E_PRECOND : 0);
        break;
    case LC_B_PUT:
    case LC_B_DELETE:
        break;
    default:
        return false;
    }
    if (status == 0) {
        bool put =
            op->kind == LC_B_PUT || op->kind == LC_B_PUT_IF_NONE || op->kind == LC_B_PUT_IF_MATCH;
        out[op->key] = put ? op->etag : 0;
    }
    if (!op->known)
        return true; /* took effect as the state allowed, or (see below) never */
    if (op->status != status)
        return false;
    bool is_delete = op->kind == LC_B_DELETE || op->kind == LC_B_DELETE_IF_MATCH;
    return !is_delete || status != 0 || op->got == (cur != 0);
}

bool lc_bucket_check(const struct lc_bop *ops, uint32_t n, uint32_t *bad_group)
{
    uint32_t max_group = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].group > max_group)
            max_group = ops[i].group;
    struct lc_bop *sub = calloc(n ? n : 1, sizeof(*sub));
    struct part p;
    part_init(&p, n);
    if (!sub)
        abort();
    bool ok = true;
    for (uint32_t g = 0; g <= max_group && ok; g++) {
        p.n = 0;
        for (uint32_t i = 0; i < n; i++) {
            const struct lc_bop *op = &ops[i];
            /* a read that never returned says nothing; a write that never
             * returned may have happened or not (an op that changes nothing
             * when it fails, which is the search's other branch: skipped) */
            if (op->group != g || op->key >= LC_GROUP_KEYS ||
                (!op->known && (op->kind == LC_B_GET || op->kind == LC_B_LIST)))
                continue;
            sub[p.n] = *op;
            part_add(&p, i, op->call, op->ret, op->known);
        }
        if (!search(p.n, p.call, p.ret, LC_GROUP_KEYS, bucket_step, sub)) {
            ok = false;
            if (bad_group)
                *bad_group = g;
        }
    }
    part_free(&p);
    free(sub);
    return ok;
}
