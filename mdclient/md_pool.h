/* md_pool: a fixed set of md_clients that threads borrow, one call at a time.
 *
 * A process with many threads (the gateway: one per client connection) would
 * otherwise keep one connection to the metadata leader per thread that ever
 * sent a request of its own, up to the leader's --max-connections, after
 * which the leader refuses chunkservers, peers and operators alike. With a
 * pool, a process holds at most n connections for such requests whatever its
 * thread count: md_client_opts.pool routes every call of a client that does
 * not go through a batch (placement, damage reports, a request sent again
 * alone) to a borrowed client, and the batcher sends its batches on a pool of
 * its own (md_batcher_open_senders).
 *
 * Thread-safe. The pool owns its clients; free it after every client that
 * borrows from it, and before the md_view its clients use. */
#ifndef CAIRN_MD_POOL_H
#define CAIRN_MD_POOL_H

#include <stdint.h>

struct md_client;
struct md_client_opts;
struct md_pool;

#define MD_POOL_MAX 64

/* Opens n clients (1..MD_POOL_MAX) from o (o->batcher and o->pool are
 * ignored: a borrowed client sends what it is given, alone). Returns 0,
 * CAIRN_E_INVAL or CAIRN_E_NOMEM (nothing kept). */
int md_pool_new(const struct md_client_opts *o, unsigned n, struct md_pool **out);
void md_pool_free(struct md_pool *p);
unsigned md_pool_size(const struct md_pool *p);

/* A client nobody else is using, or NULL when every one is lent. */
struct md_client *md_pool_try_take(struct md_pool *p);
/* The same, waiting for one to come back until deadline_ms (cn_mono_ms);
 * NULL if none did. */
struct md_client *md_pool_take(struct md_pool *p, int64_t deadline_ms);
/* Hands back a client md_pool_take or md_pool_try_take gave. */
void md_pool_give(struct md_pool *p, struct md_client *c);

#endif
