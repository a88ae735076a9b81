/* gw_keycache: the gateway's mirror of the access-key table, so that a
 * request that does not authenticate costs no metadata read.
 *
 * A refresh thread reads every access key (one linearizable list query)
 * every refresh_ms and replaces the mirror. A lookup answers from the
 * mirror: an unknown or disabled key is refused with no read of its own; a
 * known key's secret comes from the mirror, marked unconfirmed, so that the
 * caller can check the request's signature (or Basic password) before
 * anything is read. Only a request whose signature verifies is then
 * confirmed, in a linearizable read: the key must still exist, be enabled
 * and have the secret the signature was checked with. The read is the
 * request's own authorization read when it makes one, carrying the key
 * (Query.caller_key, gw_keycache_confirm_from: no extra read), else one
 * read of the key (gw_keycache_confirm). So a disabled or deleted key is
 * refused from the next request on, as without the mirror
 * (docs/security.md), while
 *   - requests with unknown keys, disabled keys, or a known key and a wrong
 *     signature cost no metadata read each: at most 1000 / min_refresh_ms
 *     list queries a second in all, however many there are;
 *   - a key the mirror does not have may be new: the lookup brings the next
 *     refresh forward (no sooner than min_refresh_ms after the last one) and
 *     waits for it, so a created or re-enabled key works at once.
 * While refreshes fail (the metadata service unreachable) the mirror is used
 * for at most stale_ms after its last success; past that every lookup reads
 * the key itself (gw_auth_key_lookup), as without the mirror.
 *
 * Thread-safe: lookups from any request thread. */
#ifndef CAIRN_GW_KEYCACHE_H
#define CAIRN_GW_KEYCACHE_H

#include "gw_auth.h"

#include <stddef.h>
#include <stdint.h>

struct gw_ctx;
struct gw_keycache;

struct gw_keycache_opts {
    struct gw_ctx *data; /* metadata access (borrowed; must outlive the cache) */
    const char *root_ak; /* the configuration's root key (copied; NULL: none) */
    const char *root_sk;
    int64_t refresh_ms;     /* period of the refresh; 0 = 1000 */
    int64_t min_refresh_ms; /* least time between two refreshes; 0 = 250 */
    int64_t stale_ms;       /* mirror used this long after its last refresh; 0 = 5 x refresh */
};

/* Counters (for /metrics). */
struct gw_keycache_stats {
    uint64_t hits;          /* lookups answered from the mirror, no read */
    uint64_t unknown;       /* lookups refused from the mirror (unknown or disabled key) */
    uint64_t key_reads;     /* reads of one key (confirmations, or lookups without a
                               fresh mirror) */
    uint64_t folded;        /* confirmations from the request's own read (no extra read) */
    uint64_t refreshes;     /* list queries that succeeded */
    uint64_t forced;        /* of those, brought forward by an unknown key */
    uint64_t refresh_fails; /* list queries that failed */
    uint64_t keys;          /* keys in the mirror now */
};

/* Creates the cache and starts its refresh thread (the first refresh runs in
 * the background; until it succeeds lookups read keys themselves). *out is
 * the caller's (gw_keycache_free). Returns 0, CAIRN_E_INVAL or
 * CAIRN_E_NOMEM. */
int gw_keycache_new(const struct gw_keycache_opts *opts, struct gw_keycache **out);

/* gw_auth_key_lookup's contract (0 with secret and *who, CAIRN_E_NOTFOUND
 * for an unknown or disabled key, CAIRN_E_RANGE, CAIRN_E_NOMEM, or the
 * metadata service's error), answered as described above. When the answer
 * came from the mirror, who->unconfirmed is set and who->canonical_id is
 * empty: the caller must not act for who before gw_keycache_confirm. */
int gw_keycache_lookup(struct gw_keycache *kc, const char *ak, char *secret, size_t cap,
                       struct gw_auth_identity *who);

/* Confirms an unconfirmed *who of key ak whose request verified against
 * secret: reads the key (linearizable) and returns 0 with *who completed
 * (canonical id; unconfirmed cleared) when it exists, is enabled and has that
 * secret; CAIRN_E_NOTFOUND when not; or the metadata service's error. A
 * confirmed *who (the root key, or a key read by the lookup) returns 0 at
 * once. */
int gw_keycache_confirm(struct gw_keycache *kc, const char *ak, const char *secret,
                        struct gw_auth_identity *who);

/* gw_keycache_confirm from res, the answer of a query that carried
 * Query.caller_key = ak (md_q_with_caller) -- the read the request makes
 * anyway. Returns 0 (*who completed), CAIRN_E_NOTFOUND (the key is gone,
 * disabled, or has another secret), or CAIRN_E_UNSUPPORTED when res did not
 * read the caller (a metadata service older than the field): then call
 * gw_keycache_confirm. */
int gw_keycache_confirm_from(struct gw_keycache *kc, const Md__QueryResult *res, const char *secret,
                             struct gw_auth_identity *who);

void gw_keycache_stats(struct gw_keycache *kc, struct gw_keycache_stats *out);

/* Stops the refresh thread and frees the cache. NULL is fine. */
void gw_keycache_free(struct gw_keycache *kc);

#endif
