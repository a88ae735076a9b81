#include "ec_codec.h"

#include "cn_error.h"

#include <isa-l/erasure_code.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Decode tables are cached per (sources, wanted) pattern. The cache is bounded;
 * when full, the least recently used entry is dropped. Entries are reference
 * counted so an evicted table stays valid for threads still decoding with it. */
#define DECODE_CACHE_BUCKETS 128
#define DECODE_CACHE_MAX     512

/* ISA-L takes an int length; larger buffers are coded in slices of this size. */
#define MAX_SLICE ((size_t)1 << 30)

struct decode_entry {
    uint64_t sources; /* exactly k fragments */
    uint64_t want;    /* fragments rebuilt, disjoint from sources */
    int nwant;
    atomic_int refs;           /* one for the cache, one per user */
    atomic_uint_fast64_t used; /* cache clock at last use */
    struct decode_entry *next; /* bucket chain */
    uint8_t tables[];          /* 32 * k * nwant bytes */
};

struct ec_codec {
    int k, m;
    uint8_t *matrix;     /* (k+m) x k coding matrix, first k rows identity */
    uint8_t *enc_tables; /* 32 * k * m bytes for the parity rows */
    pthread_rwlock_t lock;
    struct decode_entry *buckets[DECODE_CACHE_BUCKETS];
    size_t cached;
    atomic_uint_fast64_t clock;
};

int ec_codec_new(int k, int m, ec_codec **out)
{
    if (k < 1 || k > EC_MAX_K || m < 1 || m > EC_MAX_M || !out)
        return CAIRN_E_INVAL;
    ec_codec *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->k = k;
    c->m = m;
    c->matrix = malloc((size_t)(k + m) * (size_t)k);
    if (!c->matrix)
        goto err_after_codec;
    c->enc_tables = malloc(32u * (size_t)k * (size_t)m);
    if (!c->enc_tables)
        goto err_after_matrix;
    if (pthread_rwlock_init(&c->lock, NULL) != 0)
        goto err_after_tables;
    /* Cauchy: every square submatrix is invertible, unlike ISA-L's
     * Vandermonde construction for some (k, m). */
    gf_gen_cauchy1_matrix(c->matrix, k + m, k);
    ec_init_tables(k, m, c->matrix + (size_t)k * (size_t)k, c->enc_tables);
    *out = c;
    return 0;

err_after_tables:
    free(c->enc_tables);
err_after_matrix:
    free(c->matrix);
err_after_codec:
    free(c);
    return CAIRN_E_NOMEM;
}

static void entry_release(struct decode_entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

void ec_codec_free(ec_codec *c)
{
    if (!c)
        return;
    for (int b = 0; b < DECODE_CACHE_BUCKETS; b++) {
        struct decode_entry *e = c->buckets[b];
        while (e) {
            struct decode_entry *next = e->next;
            entry_release(e);
            e = next;
        }
    }
    pthread_rwlock_destroy(&c->lock);
    free(c->enc_tables);
    free(c->matrix);
    free(c);
}

int ec_codec_k(const ec_codec *c)
{
    return c->k;
}

int ec_codec_m(const ec_codec *c)
{
    return c->m;
}

const uint8_t *ec_codec_encode_tables(const ec_codec *c)
{
    return c->enc_tables;
}

/* Runs ISA-L over len bytes in slices that fit its int length. */
static void code_slices(size_t len, int k, int rows, uint8_t *tables, uint8_t **src, uint8_t **dst)
{
    uint8_t *s[EC_MAX_FRAGS], *d[EC_MAX_FRAGS];
    for (size_t off = 0; off < len; off += MAX_SLICE) {
        size_t n = len - off < MAX_SLICE ? len - off : MAX_SLICE;
        for (int i = 0; i < k; i++)
            s[i] = src[i] + off;
        for (int i = 0; i < rows; i++)
            d[i] = dst[i] + off;
        ec_encode_data((int)n, k, rows, tables, s, d);
    }
}

int ec_encode(const ec_codec *c, size_t len, const uint8_t *const *data, uint8_t *const *parity)
{
    if (!c || !data || !parity)
        return CAIRN_E_INVAL;
    for (int i = 0; i < c->k; i++)
        if (!data[i])
            return CAIRN_E_INVAL;
    for (int i = 0; i < c->m; i++)
        if (!parity[i])
            return CAIRN_E_INVAL;
    if (len == 0)
        return 0;
    if (len <= (size_t)INT_MAX) {
        /* The common case goes straight to ISA-L. */
        ec_encode_data((int)len, c->k, c->m, c->enc_tables, (uint8_t **)data, (uint8_t **)parity);
        return 0;
    }
    code_slices(len, c->k, c->m, c->enc_tables, (uint8_t **)data, (uint8_t **)parity);
    return 0;
}

static unsigned bucket_of(uint64_t sources, uint64_t want)
{
    uint64_t h = sources * 0x9E3779B97F4A7C15ull ^ (want + 0x632BE59BD9B4E019ull);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (unsigned)(h % DECODE_CACHE_BUCKETS);
}

/* Builds the decode tables for rebuilding `want` from exactly the k fragments
 * in `sources`. Returns NULL on allocation failure. The matrix of the sources
 * is always invertible (Cauchy), which is checked anyway. */
static struct decode_entry *build_entry(const ec_codec *c, uint64_t sources, uint64_t want)
{
    int k = c->k;
    int nwant = __builtin_popcountll(want);
    uint8_t sub[EC_MAX_K * EC_MAX_K], inv[EC_MAX_K * EC_MAX_K];
    uint8_t rows[EC_MAX_FRAGS * EC_MAX_K];
    int r = 0;
    for (int i = 0; i < k + c->m && r < k; i++) {
        if (sources & (1ull << i)) {
            memcpy(sub + (size_t)r * k, c->matrix + (size_t)i * k, (size_t)k);
            r++;
        }
    }
    if (gf_invert_matrix(sub, inv, k) != 0)
        return NULL;
    int w = 0;
    for (int i = 0; i < k + c->m; i++) {
        if (!(want & (1ull << i)))
            continue;
        uint8_t *row = rows + (size_t)w * k;
        if (i < k) {
            memcpy(row, inv + (size_t)i * k, (size_t)k);
        } else {
            /* Parity row times the inverse: parity i as a function of sources. */
            const uint8_t *enc = c->matrix + (size_t)i * k;
            for (int col = 0; col < k; col++) {
                uint8_t acc = 0;
                for (int j = 0; j < k; j++)
                    acc ^= gf_mul(enc[j], inv[(size_t)j * k + col]);
                row[col] = acc;
            }
        }
        w++;
    }
    struct decode_entry *e = malloc(sizeof(*e) + 32u * (size_t)k * (size_t)nwant);
    if (!e)
        return NULL;
    e->sources = sources;
    e->want = want;
    e->nwant = nwant;
    atomic_init(&e->refs, 1);
    atomic_init(&e->used, 0);
    e->next = NULL;
    ec_init_tables(k, nwant, rows, e->tables);
    return e;
}

static struct decode_entry *cache_find(ec_codec *c, uint64_t sources, uint64_t want)
{
    for (struct decode_entry *e = c->buckets[bucket_of(sources, want)]; e; e = e->next)
        if (e->sources == sources && e->want == want)
            return e;
    return NULL;
}

/* Drops the least recently used entry. Caller holds the write lock. */
static void cache_evict_one(ec_codec *c)
{
    struct decode_entry **victim = NULL;
    uint64_t oldest = UINT64_MAX;
    for (int b = 0; b < DECODE_CACHE_BUCKETS; b++) {
        for (struct decode_entry **pp = &c->buckets[b]; *pp; pp = &(*pp)->next) {
            uint64_t u = atomic_load_explicit(&(*pp)->used, memory_order_relaxed);
            if (u < oldest) {
                oldest = u;
                victim = pp;
            }
        }
    }
    if (victim) {
        struct decode_entry *e = *victim;
        *victim = e->next;
        c->cached--;
        entry_release(e);
    }
}

/* Returns a referenced entry for the pattern (caller must entry_release). */
static struct decode_entry *cache_get(ec_codec *c, uint64_t sources, uint64_t want)
{
    uint64_t now = atomic_fetch_add_explicit(&c->clock, 1, memory_order_relaxed);
    pthread_rwlock_rdlock(&c->lock);
    struct decode_entry *e = cache_find(c, sources, want);
    if (e) {
        atomic_fetch_add(&e->refs, 1);
        atomic_store_explicit(&e->used, now, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&c->lock);
    if (e)
        return e;

    struct decode_entry *fresh = build_entry(c, sources, want);
    if (!fresh)
        return NULL;
    atomic_store_explicit(&fresh->used, now, memory_order_relaxed);
    pthread_rwlock_wrlock(&c->lock);
    e = cache_find(c, sources, want);
    if (e) {
        /* Another thread inserted it meanwhile. */
        atomic_fetch_add(&e->refs, 1);
        pthread_rwlock_unlock(&c->lock);
        entry_release(fresh);
        return e;
    }
    if (c->cached >= DECODE_CACHE_MAX)
        cache_evict_one(c);
    unsigned b = bucket_of(sources, want);
    fresh->next = c->buckets[b];
    c->buckets[b] = fresh;
    c->cached++;
    atomic_fetch_add(&fresh->refs, 1); /* the caller's reference */
    pthread_rwlock_unlock(&c->lock);
    return fresh;
}

size_t ec_codec_cached_tables(ec_codec *c)
{
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->cached;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

int ec_decode(ec_codec *c, size_t len, uint8_t *const *frags, uint64_t present, uint64_t want)
{
    if (!c || !frags)
        return CAIRN_E_INVAL;
    int n = c->k + c->m;
    uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1;
    if ((present & ~all) || (want & ~all))
        return CAIRN_E_INVAL;
    want &= ~present;
    if (__builtin_popcountll(present) < c->k)
        return CAIRN_E_ERASURES;
    if (want == 0)
        return 0;

    uint8_t *src[EC_MAX_K], *dst[EC_MAX_FRAGS];
    uint64_t sources = 0;
    int s = 0, d = 0;
    for (int i = 0; i < n && s < c->k; i++) {
        if (present & (1ull << i)) {
            if (!frags[i])
                return CAIRN_E_INVAL;
            src[s++] = frags[i];
            sources |= 1ull << i;
        }
    }
    for (int i = 0; i < n; i++) {
        if (want & (1ull << i)) {
            if (!frags[i])
                return CAIRN_E_INVAL;
            dst[d++] = frags[i];
        }
    }
    if (len == 0)
        return 0;
    struct decode_entry *e = cache_get(c, sources, want);
    if (!e)
        return CAIRN_E_NOMEM;
    if (len <= (size_t)INT_MAX)
        ec_encode_data((int)len, c->k, e->nwant, e->tables, src, dst);
    else
        code_slices(len, c->k, e->nwant, e->tables, src, dst);
    entry_release(e);
    return 0;
}
