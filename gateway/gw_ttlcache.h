/* gw_ttlcache: a small fixed-size cache of int answers by byte-string key,
 * each kept until its own expiry time: the gateway remembers anonymous
 * requests it refused (gw_s3_authz) so that repeating one costs no metadata
 * read until the entry expires.
 *
 * Keys are reduced to their SHA-256 (so two keys share an entry only if
 * their digests are equal); the table is direct-mapped: a new key may evict
 * an older one in its slot, which only costs a read later. Thread-safe. */
#ifndef CAIRN_GW_TTLCACHE_H
#define CAIRN_GW_TTLCACHE_H

#include <stddef.h>
#include <stdint.h>

struct gw_ttlcache;

/* Creates a cache of slots entries (> 0). *out is the caller's
 * (gw_ttlcache_free). Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int gw_ttlcache_new(size_t slots, struct gw_ttlcache **out);

/* Remembers value for key[len] until expires_ms (a cn_mono_ms() time). */
void gw_ttlcache_put(struct gw_ttlcache *c, const void *key, size_t len, int value,
                     int64_t expires_ms);

/* 1 with *value set if key[len] has an entry that has not expired at
 * now_ms, else 0. */
int gw_ttlcache_get(struct gw_ttlcache *c, const void *key, size_t len, int64_t now_ms, int *value);

/* Forgets every entry. */
void gw_ttlcache_clear(struct gw_ttlcache *c);

void gw_ttlcache_free(struct gw_ttlcache *c);

#endif
