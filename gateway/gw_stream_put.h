/* gw_stream_put: an upload whose length is not known when it starts (a PUT
 * sent with Transfer-Encoding: chunked and no Content-Length).
 *
 * gw_put needs the size up front: every fragment stream is opened with its
 * length. Here the body is gathered into segments of seg bytes; each full
 * segment is written through its own gw_put as soon as it is complete, and
 * the last (short) one at gw_stream_put_finish, when its length is known. The
 * object is the segments' groups in order (a record's extents may have any
 * lengths, as multipart objects' do). Memory per upload: one segment plus
 * gw_put's stripes. A body that ends inside the first segment never touched
 * a chunkserver, so the caller may store it inline instead
 * (gw_stream_put_buffered).
 *
 * Threads: one request's thread, like gw_put (and like it, never interleaved
 * with a gw_get on the same thread). */
#ifndef CAIRN_GW_STREAM_PUT_H
#define CAIRN_GW_STREAM_PUT_H

#include "ec_layout.h"
#include "md_cmd.h"

#include <stddef.h>
#include <stdint.h>

struct gw_ctx;
struct gw_stream_put;

/* The segment size for layout l: four stripes (k * unit * 4), or the group
 * capacity when that is smaller. */
uint64_t gw_stream_put_segment(const ec_layout *l);

/* Starts an upload laid out by l, cut into segments of seg bytes (> 0), of at
 * most max bytes, taking its buffers (the segment and one gw_put's) from the
 * data-path budget. *out belongs to the caller (gw_stream_put_free). Returns
 * 0, CAIRN_E_BUSY (budget exhausted), CAIRN_E_INVAL (bad layout or seg) or
 * CAIRN_E_NOMEM. */
int gw_stream_put_begin(struct gw_ctx *ctx, const ec_layout *l, uint64_t seg, uint64_t max,
                        struct gw_stream_put **out);

/* Feeds the next body bytes; writes each segment they complete. Returns 0,
 * CAIRN_E_RANGE (more than max bytes in all), or a gw_put error (after an
 * error only gw_stream_put_free is valid). */
int gw_stream_put_write(struct gw_stream_put *s, const void *data, size_t len);

/* Bytes received so far. */
uint64_t gw_stream_put_size(const struct gw_stream_put *s);

/* The body when no segment has been written yet (it ends inside the first
 * one): its bytes (owned by s) in *data, *len; returns 1. Else returns 0.
 * Call after the last write, instead of gw_stream_put_finish. */
int gw_stream_put_buffered(const struct gw_stream_put *s, const void **data, size_t *len);

/* After the last byte: writes the last segment, fills md5[16] (of the whole
 * body) and returns every group in order in *groups / *n_groups (owned by s,
 * valid until gw_stream_put_free). An empty body has no groups. Returns 0 or
 * a gw_put error. */
int gw_stream_put_finish(struct gw_stream_put *s, uint8_t md5[16],
                         const struct md_group_desc **groups, size_t *n_groups);

/* The groups holding durable fragments so far (written segments, and what a
 * failed one left), owned by s: what a failed upload hands to garbage
 * collection. */
void gw_stream_put_written(const struct gw_stream_put *s, const struct md_group_desc **groups,
                           size_t *n_groups);

/* Frees the upload. Groups already written and never committed are orphans
 * that garbage collection removes (the caller may hand them over sooner).
 * NULL is fine. */
void gw_stream_put_free(struct gw_stream_put *s);

#endif
