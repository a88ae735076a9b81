/* md_batcher: the clients of one process send their commands and reads to
 * the metadata leader together (POST /v1/batch, meta.proto Batch) instead of
 * one HTTP request each.
 *
 * Group commit, no timer: a caller queues its item; while fewer than
 * max_inflight batches are on the wire, a caller takes everything queued (up
 * to max_items / max_bytes) and sends it on its own md_client's connection,
 * then hands each owner its answer. Alone, a request goes out at once as
 * before (a batch of one is sent as a plain /v1/cmd or /v1/read); under load,
 * requests that arrive while the batches in flight are answered go out
 * together in the next one. Every item keeps its own (client id, seq), so
 * retries and deduplication are what they are for one command, and an item
 * the leader did not do (a leader change, a timeout, a refused batch) is sent
 * again alone by its owner through the ordinary retrying path.
 *
 * Thread-safe; shared by the md_clients of a process (md_client_opts.batcher).
 * Free it after every client that uses it. */
#ifndef CAIRN_MD_BATCH_H
#define CAIRN_MD_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct md_batcher;
struct md_client_opts;

struct md_batcher_opts {
    unsigned max_inflight; /* batches on the wire at once; 0 = 2 */
    unsigned max_items;    /* items per batch (at most 1024); 0 = 128 */
    size_t max_bytes;      /* item bytes per batch; 0 = 1 MiB (a bigger item goes alone) */
};

/* Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int md_batcher_new(const struct md_batcher_opts *o, struct md_batcher **out);
void md_batcher_free(struct md_batcher *b);

/* Opens n clients (1..MD_POOL_MAX = 64) from o for the batcher to send batches on, one
 * per batch in flight (o->batcher is ignored; o's credentials must be those
 * of the batcher's users: a batch is signed by the client it goes out on).
 * The batches of every thread then go out on these n connections, and a
 * thread's own md_client opens one only for what does not go through the
 * batcher. Without them each batch goes out on its sender's client (or one
 * that client borrows from its md_pool), so without a pool every thread that
 * ever sent keeps a connection to the leader (a busy gateway: one per client
 * connection, up to the leader's --max-connections). They are an md_pool
 * (md_pool.h) of the batcher's own. The batcher
 * owns them (md_batcher_free); o->view, if any, must outlive it. Call once,
 * before the batcher is used. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM
 * (nothing kept). */
int md_batcher_open_senders(struct md_batcher *b, const struct md_client_opts *o, unsigned n);

struct md_batcher_stats {
    uint64_t batches; /* POST /v1/batch requests sent */
    uint64_t items;   /* items they carried */
    uint64_t alone;   /* requests sent alone (nothing else was waiting) */
    uint64_t again;   /* items the leader did not do in a batch, sent again alone */
};
void md_batcher_stats(struct md_batcher *b, struct md_batcher_stats *out);

#endif
