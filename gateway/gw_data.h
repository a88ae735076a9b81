/* gw_data: the gateway's erasure-coded data path (DESIGN.md "Data paths").
 *
 * PUT: gw_put_* takes the object body as it streams in, cuts it into chunk
 * groups and stripes (ec_layout), encodes every stripe with ISA-L and pushes
 * the k+m fragment pieces to the group's chunkservers in parallel (one HTTP
 * stream per fragment), computing the MD5 ETag and each fragment's CRC32C on
 * the way. The MD5 runs on a helper thread per upload (objects longer than
 * one stripe) over two stripe buffers in turn, beside the encode and push of
 * the previous stripe. Memory per upload: two stripes of data plus one
 * stripe's parity (one stripe for single-stripe objects). A group is
 * accepted when at least k + write_quorum_extra fragments are durable (each
 * chunkserver fsyncs before it answers); fragments that failed are recorded
 * as missing (chunkserver id 0) for repair.
 *
 * GET: gw_get_* produces the bytes of an object range stripe by stripe,
 * reading only the stripes and fragments the range needs, data fragments
 * first. A fragment that is missing, unreachable, slow past the timeout, or
 * whose bytes fail their CRC is read around: the stripe's units are fetched
 * from the other fragments and the lost ones decoded. A range longer than
 * one stripe is read ahead by a helper thread per reader (its own fragment
 * connections): stripe s+1 is fetched while stripe s is sent, through two
 * stripe buffers. A direct reader (gw_get_open_direct, the S3 GET) has no
 * helper: each stripe is fetched straight into the caller's buffer, and the
 * next stripe's requests are sent when a read ends (prefetch).
 *
 * Threads: a gw_ctx is shared by every request thread; gw_put / gw_get
 * objects belong to one request (one thread at a time). Each thread has ONE
 * HTTP fan-out handle (keeping its connections alive), so a thread must not
 * interleave a gw_get's reads with a gw_put's writes: copying an object into
 * another (UploadPartCopy, CopyObject) reads on a second thread. */
#ifndef CAIRN_GW_DATA_H
#define CAIRN_GW_DATA_H

#include "ec_codec.h"
#include "ec_layout.h"
#include "md_cmd.h"
#include "meta.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cn_auth;
struct gw_ctx;
struct gw_put;
struct gw_get;

struct gw_ctx_opts {
    const char *const *meta_urls; /* metadata replicas (copied) */
    size_t n_meta;
    const struct cn_auth *auth;  /* cluster secret, borrowed */
    uint32_t write_quorum_extra; /* a group needs k + this many fragments (default 1) */
    int64_t fragment_timeout_ms; /* one chunkserver request; 0 = 10000 */
    uint64_t memory_budget;      /* bytes of data-path buffers at once; 0 = unlimited */
    uint32_t meta_batch;         /* metadata batches in flight (md_batch.h); 0 = none */
};

int gw_ctx_new(const struct gw_ctx_opts *opts, struct gw_ctx **out);
void gw_ctx_free(struct gw_ctx *ctx);

/* The calling thread's metadata client (created on first use, freed when the
 * thread exits). NULL when out of memory. */
struct md_client *gw_ctx_meta(struct gw_ctx *ctx);

/* Runs the packed md.Query q (len bytes, malloc'ed by an md_q_* builder;
 * freed here) on the calling thread's metadata client, linearizably. Returns
 * 0 with *out decoded (md__query_result__free_unpacked(*out, NULL); its
 * status says how the query went), CAIRN_E_NOMEM (no client), an
 * md_client_read error, or CAIRN_E_PROTO (an undecodable answer). */
int gw_ctx_query(struct gw_ctx *ctx, uint8_t *q, size_t len, Md__QueryResult **out);

/* Counters for /metrics. */
struct gw_data_stats {
    uint64_t degraded_reads;  /* stripes served by decoding */
    uint64_t decodes;         /* fragments rebuilt by decoding */
    uint64_t fragment_errors; /* fragment reads or writes that failed */
    uint64_t short_groups;    /* groups committed with fewer than k+m fragments */
    uint64_t direct_fills;    /* GET stripes (or packed rounds) written straight into the
                                 reader's buffer (gw_get_open_direct) */
    uint64_t prefetch_redone; /* of those, prefetched stripes fetched again (an answer failed,
                                 or timed out while the reader was slow) */
    uint64_t mem_limit;       /* the data-path memory budget (0: unlimited) */
    uint64_t mem_used;        /* bytes of it taken now */
    uint64_t mem_peak;        /* most ever taken at once */
    uint64_t mem_refused;     /* requests refused because it was exhausted */
    uint64_t md_batches;      /* metadata batches sent (md_batcher_stats) */
    uint64_t md_batch_items;  /* the commands and reads they carried */
    uint64_t md_alone;        /* metadata requests sent alone */
    uint64_t md_again;        /* batched items the leader did not do, sent again alone */
};
void gw_ctx_stats(struct gw_ctx *ctx, struct gw_data_stats *out);

/* ---- The data-path memory budget ----
 * Every stripe, parity, read-ahead and copy buffer of the data path is taken
 * from one budget of opts.memory_budget bytes before it is allocated, so the
 * gateway's data buffers never exceed it whatever the request mix; a request
 * that does not fit is refused (CAIRN_E_BUSY: S3's 503 SlowDown) before it
 * reads a body or sends a byte. Any thread. */

/* Takes bytes from the budget. Returns 0 or CAIRN_E_BUSY (it would go over;
 * nothing taken). */
int gw_ctx_mem_take(struct gw_ctx *ctx, uint64_t bytes);
/* Takes bytes even past the limit: only for buffers a request already under
 * way cannot do without (a degraded read's decode units), never to start one. */
void gw_ctx_mem_force(struct gw_ctx *ctx, uint64_t bytes);
/* Gives back bytes taken with gw_ctx_mem_take or gw_ctx_mem_force. */
void gw_ctx_mem_give(struct gw_ctx *ctx, uint64_t bytes);

/* ---- Packed groups (issue #17; gw_pack batches into them) ---- */

/* The shared codec for k+m (created on first use, owned by ctx; its encode is
 * read-only, so any thread). NULL for a bad k/m or out of memory. */
ec_codec *gw_ctx_codec(struct gw_ctx *ctx, uint32_t k, uint32_t m);
/* Asks the leader for k+m chunkservers on distinct hosts for a new packed
 * group, into cs[0..k+m) (an append needs every one: fewer is
 * CAIRN_E_UNAVAIL). Returns 0 or an md_client_place error. Any thread. */
int gw_packed_place(struct gw_ctx *ctx, uint32_t k, uint32_t m, uint64_t *cs);
/* Appends bodies[i] (frag_len bytes each: whole units of fragment i, the
 * fragment-major form of whole stripes) at fragment offset frag_off (the
 * group's committed length / k) to every fragment of packed group g, on its
 * k+m chunkservers in parallel (POST ?append=, with the body's CRC32C), each
 * request bounded by timeout_ms (0: the fragment timeout). Returns 0 only
 * when all k+m acknowledged the append durable; CAIRN_E_UNAVAIL otherwise
 * (some may hold it: nothing past the committed length is ever read, and the
 * caller seals the group there). Borrowed arguments; any thread. */
int gw_packed_append(struct gw_ctx *ctx, const struct md_group_desc *g, uint64_t frag_off,
                     const uint8_t *const *bodies, size_t frag_len, int64_t timeout_ms);

/* ---- PUT ---- */

/* Starts an upload of exactly size bytes laid out by l. Returns 0,
 * CAIRN_E_INVAL (bad layout) or CAIRN_E_NOMEM. */
int gw_put_begin(struct gw_ctx *ctx, const ec_layout *l, uint64_t size, struct gw_put **out);
/* Bytes of buffers an upload of size bytes laid out by l takes from the
 * budget (gw_put_begin takes them, gw_put_free gives them back). */
uint64_t gw_put_memory(const ec_layout *l, uint64_t size);
/* gw_put_begin for a caller that took gw_put_memory(l, size) from the budget
 * itself (gw_stream_put, for each of its segments). */
int gw_put_begin_prepaid(struct gw_ctx *ctx, const ec_layout *l, uint64_t size,
                         struct gw_put **out);
/* The groups of p that hold durable fragments so far (complete ones, and one
 * that failed its write quorum), in *groups / *n_groups (owned by p, valid
 * until gw_put_free): what an upload that fails leaves behind, for the
 * caller to hand to garbage collection (md_cmd_garbage_add). Any time. */
void gw_put_written(const struct gw_put *p, const struct md_group_desc **groups, size_t *n_groups);
/* Feeds the next body bytes. Returns 0, CAIRN_E_RANGE (more than size bytes),
 * CAIRN_E_UNAVAIL (a group could not reach its write quorum, or no placement)
 * or another error; after an error only gw_put_free is valid. */
int gw_put_write(struct gw_put *p, const void *data, size_t len);
/* After exactly size bytes: completes the last group. On success fills
 * md5[16] and returns the group list in *groups / *n_groups (owned by p, valid
 * until gw_put_free). CAIRN_E_RANGE if fewer than size bytes arrived. */
int gw_put_finish(struct gw_put *p, uint8_t md5[16], const struct md_group_desc **groups,
                  size_t *n_groups);
/* Frees the upload. Fragments of an upload that never committed become
 * orphans that garbage collection removes (their groups are in no record). */
void gw_put_free(struct gw_put *p);

/* ---- GET ---- */

/* Packed extents (issue #17: many small objects appended, stripe-aligned,
 * into one packed group) are read in rounds of at most this many object
 * bytes: per round ONE ranged request per data fragment covering every
 * stripe the round spans (whole units), scattered into place; a degraded
 * round fetches the same range from other fragments and decodes only those
 * stripes. A ranged read fetches only the stripes its range spans. */
#define GW_PACKED_READ_ROUND (1u << 20)

/* Opens a reader over bytes [off, off+len) of the object described by rec
 * (copied), taking its stripe buffers from the budget. Returns 0,
 * CAIRN_E_BUSY (the budget is exhausted), CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int gw_get_open(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                struct gw_get **out);
/* Like gw_get_open, for a reader that reads with buffers of gw_get_block()
 * bytes (a streamed response's block): no read-ahead thread and no stripe
 * buffers. A read whose max holds the next stripe's bytes (or packed
 * round's; never more than gw_get_block()) has the fragment responses
 * written straight into buf in object order, decoded pieces too: one copy
 * of each byte in the gateway instead of two. Shorter reads work as with
 * gw_get_open, through a stripe buffer allocated for them and freed once
 * drained. The budget taken is twice gw_get_block() (the caller's block
 * and that buffer) plus packed staging, no more than gw_get_open's.
 * When a read ends, the next stripe's fragment requests are sent on the
 * calling thread's fan-out handle and read by the next read (a prefetch
 * answer that failed or timed out is fetched again, not read around): read
 * and close a direct reader on one thread, and use that thread's fan-out for
 * nothing else in between (an S3 GET: the connection's thread). */
int gw_get_open_direct(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                       struct gw_get **out);
/* The read size that always takes the direct path of a reader from
 * gw_get_open_direct: the largest stripe or packed round, at most the
 * range's length (whatever has been read; >= 1). */
size_t gw_get_block(const struct gw_get *g);
/* Writes up to max next bytes into buf. Returns the count (> 0), 0 at the
 * end, or a negative CAIRN_E_* (CAIRN_E_ERASURES: a stripe lost more than m
 * fragments; CAIRN_E_UNAVAIL: too few chunkservers answered). */
ssize_t gw_get_read(struct gw_get *g, void *buf, size_t max);
void gw_get_close(struct gw_get *g);

#endif
