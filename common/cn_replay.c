#include "cn_replay.h"

#include "cn_error.h"
#include "cn_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Entries live in a pool (index 0..cap-1); a hash table of chains finds a
 * nonce, a binary min-heap on time finds the oldest entry. NIL ends a chain. */
#define NIL UINT32_MAX

struct entry {
    uint8_t nonce[16];
    int64_t time_ms;
    uint32_t next;     /* hash chain */
    uint32_t heap_pos; /* index in heap[] */
};

struct cn_replay {
    pthread_mutex_t mu;
    struct entry *e;
    uint32_t *buckets; /* n_buckets chain heads */
    uint32_t *heap;    /* entry indices, min-heap on time */
    uint32_t *free;    /* free entry indices (a stack) */
    size_t cap, n, n_free, n_buckets;
    int64_t window_ms, floor_ms;
    uint64_t seed;
};

static uint64_t hash(const struct cn_replay *r, const uint8_t nonce[16])
{
    uint64_t a, b;
    memcpy(&a, nonce, 8);
    memcpy(&b, nonce + 8, 8);
    /* The nonces come from signed requests (random, but an insider picks
     * them): mix with a per-process seed so chains stay short anyway. */
    uint64_t h = (a ^ r->seed) * 0x9e3779b97f4a7c15ull;
    h ^= (b + (r->seed >> 7)) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    return h;
}

int cn_replay_new(size_t capacity, int64_t window_ms, int64_t now_ms, struct cn_replay **out)
{
    if (!out || capacity < 16 || capacity >= NIL || window_ms <= 0)
        return CAIRN_E_INVAL;
    struct cn_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->cap = capacity;
    r->n_buckets = 16;
    while (r->n_buckets < capacity)
        r->n_buckets <<= 1;
    r->e = malloc(capacity * sizeof(*r->e));
    r->buckets = malloc(r->n_buckets * sizeof(*r->buckets));
    r->heap = malloc(capacity * sizeof(*r->heap));
    r->free = malloc(capacity * sizeof(*r->free));
    if (!r->e || !r->buckets || !r->heap || !r->free || cn_random_bytes(&r->seed, 8) < 0) {
        cn_replay_free(r);
        return CAIRN_E_NOMEM;
    }
    for (size_t i = 0; i < r->n_buckets; i++)
        r->buckets[i] = NIL;
    for (size_t i = 0; i < capacity; i++)
        r->free[i] = (uint32_t)(capacity - 1 - i);
    r->n_free = capacity;
    r->window_ms = window_ms;
    r->floor_ms = now_ms;
    *out = r;
    return 0;
}

void cn_replay_free(struct cn_replay *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->e);
    free(r->buckets);
    free(r->heap);
    free(r->free);
    free(r);
}

/* ---- heap ---- */

static void heap_set(struct cn_replay *r, size_t pos, uint32_t idx)
{
    r->heap[pos] = idx;
    r->e[idx].heap_pos = (uint32_t)pos;
}

static void sift_up(struct cn_replay *r, size_t pos)
{
    uint32_t idx = r->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (r->e[r->heap[parent]].time_ms <= r->e[idx].time_ms)
            break;
        heap_set(r, pos, r->heap[parent]);
        pos = parent;
    }
    heap_set(r, pos, idx);
}

static void sift_down(struct cn_replay *r, size_t pos)
{
    uint32_t idx = r->heap[pos];
    for (;;) {
        size_t c = 2 * pos + 1;
        if (c >= r->n)
            break;
        if (c + 1 < r->n && r->e[r->heap[c + 1]].time_ms < r->e[r->heap[c]].time_ms)
            c++;
        if (r->e[r->heap[c]].time_ms >= r->e[idx].time_ms)
            break;
        heap_set(r, pos, r->heap[c]);
        pos = c;
    }
    heap_set(r, pos, idx);
}

/* Removes the oldest entry (heap top) from the heap and its chain. */
static void drop_oldest(struct cn_replay *r)
{
    uint32_t idx = r->heap[0];
    r->n--;
    if (r->n > 0) {
        heap_set(r, 0, r->heap[r->n]);
        sift_down(r, 0);
    }
    uint32_t *link = &r->buckets[hash(r, r->e[idx].nonce) & (r->n_buckets - 1)];
    while (*link != idx)
        link = &r->e[*link].next;
    *link = r->e[idx].next;
    r->free[r->n_free++] = idx;
}

int cn_replay_check(struct cn_replay *r, const uint8_t nonce[16], int64_t time_ms, int64_t now_ms)
{
    pthread_mutex_lock(&r->mu);
    /* Entries out of the window can never be replayed: the window refuses
     * them. */
    while (r->n > 0 && r->e[r->heap[0]].time_ms < now_ms - r->window_ms)
        drop_oldest(r);
    int rc = 0;
    if (time_ms <= r->floor_ms) {
        rc = CAIRN_E_RANGE;
        goto out;
    }
    uint32_t *head = &r->buckets[hash(r, nonce) & (r->n_buckets - 1)];
    for (uint32_t i = *head; i != NIL; i = r->e[i].next) {
        if (memcmp(r->e[i].nonce, nonce, 16) == 0) {
            rc = CAIRN_E_EXISTS;
            goto out;
        }
    }
    if (r->n_free == 0) {
        /* Full: forget the oldest, and refuse everything as old from now on. */
        int64_t t = r->e[r->heap[0]].time_ms;
        drop_oldest(r);
        if (t > r->floor_ms)
            r->floor_ms = t;
        if (time_ms <= r->floor_ms) {
            rc = CAIRN_E_RANGE;
            goto out;
        }
        head = &r->buckets[hash(r, nonce) & (r->n_buckets - 1)];
    }
    uint32_t idx = r->free[--r->n_free];
    memcpy(r->e[idx].nonce, nonce, 16);
    r->e[idx].time_ms = time_ms;
    r->e[idx].next = *head;
    *head = idx;
    r->heap[r->n] = idx;
    r->n++;
    sift_up(r, r->n - 1);
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int64_t cn_replay_floor(struct cn_replay *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t f = r->floor_ms;
    pthread_mutex_unlock(&r->mu);
    return f;
}

size_t cn_replay_count(struct cn_replay *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}
