#include "gw_ttlcache.h"

#include "cn_error.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    unsigned char digest[32];
    int64_t expires_ms; /* 0 = empty */
    int value;
};

struct gw_ttlcache {
    pthread_mutex_t mu;
    size_t n;
    struct slot *slots;
};

int gw_ttlcache_new(size_t slots, struct gw_ttlcache **out)
{
    if (!slots || !out || slots > (SIZE_MAX / sizeof(struct slot)))
        return CAIRN_E_INVAL;
    struct gw_ttlcache *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->slots = calloc(slots, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return CAIRN_E_NOMEM;
    }
    c->n = slots;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

/* The key's digest and its slot. */
static struct slot *slot_of(struct gw_ttlcache *c, const void *key, size_t len,
                            unsigned char digest[32])
{
    EVP_Digest(key, len, digest, NULL, EVP_sha256(), NULL);
    uint64_t h = 0;
    memcpy(&h, digest, sizeof(h));
    return &c->slots[h % c->n];
}

void gw_ttlcache_put(struct gw_ttlcache *c, const void *key, size_t len, int value,
                     int64_t expires_ms)
{
    unsigned char d[32];
    struct slot *s = slot_of(c, key, len, d);
    pthread_mutex_lock(&c->mu);
    memcpy(s->digest, d, sizeof(d));
    s->expires_ms = expires_ms;
    s->value = value;
    pthread_mutex_unlock(&c->mu);
}

int gw_ttlcache_get(struct gw_ttlcache *c, const void *key, size_t len, int64_t now_ms, int *value)
{
    unsigned char d[32];
    struct slot *s = slot_of(c, key, len, d);
    int found = 0;
    pthread_mutex_lock(&c->mu);
    if (s->expires_ms && now_ms < s->expires_ms && memcmp(s->digest, d, sizeof(d)) == 0) {
        *value = s->value;
        found = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

void gw_ttlcache_clear(struct gw_ttlcache *c)
{
    pthread_mutex_lock(&c->mu);
    memset(c->slots, 0, c->n * sizeof(*c->slots));
    pthread_mutex_unlock(&c->mu);
}

void gw_ttlcache_free(struct gw_ttlcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}
