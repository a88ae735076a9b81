/* Rebuild of one lost fragment from its peers (DESIGN.md "Chunkserver"): pull
 * the same byte windows of k surviving fragments from other chunkservers in
 * parallel (CS_REBUILD_BATCH windows of each per round), decode the lost
 * fragment's windows with ec_decode, append them to a local put, and commit
 * once the whole fragment is rebuilt and verified. The local writes run on a
 * helper thread, overlapping the next round's fetch and decode. Memory is
 * bounded by (k + 2) x CS_REBUILD_BATCH windows, whatever the fragment size.
 *
 * Verification: every window a peer sends carries the CRC32C of its bytes
 * (X-Cairn-Range-CRC32C), checked on arrival; peers themselves check the
 * block CRCs of what they read. If the request carries the fragment's CRC32C
 * it is checked before the commit. A source that fails (down, timeout,
 * corrupt block, bad CRC) is replaced by a spare source if one was given. */
#ifndef CAIRN_CS_REBUILD_H
#define CAIRN_CS_REBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_fragment.h"
#include "cs_store.h"
#include "ec_codec.h"

struct cn_auth;

#define CS_ADDR_MAX 128
/* Bytes of one ranged GET from a source (one window). */
#define CS_REBUILD_WINDOW (1u << 20)
/* Windows of each source fetched per round (one fan-out of k x this requests). */
#define CS_REBUILD_BATCH 2

typedef struct cs_rebuild_source {
    uint32_t index;
    char address[CS_ADDR_MAX]; /* "host:port" */
} cs_rebuild_source;

typedef struct cs_rebuild_req {
    cs_frag_meta meta; /* the fragment to rebuild (data_crc unused) */
    bool check_crc;
    uint32_t data_crc;
    size_t n_sources;
    cs_rebuild_source sources[EC_MAX_FRAGS];
} cs_rebuild_req;

/* Decodes a chunk.RebuildRequest (common/proto/chunk.proto) and checks it:
 * valid meta, addresses of [A-Za-z0-9.:-] only, source indices < k + m and
 * distinct from the lost one. Returns 0, CAIRN_E_PROTO (undecodable),
 * CAIRN_E_INVAL. */
int cs_rebuild_parse(const void *body, size_t len, cs_rebuild_req *out);

/* Result of a rebuild, for the response and the metrics. */
typedef struct cs_rebuild_result {
    uint32_t data_crc;
    enum cs_put_result put;
    uint64_t bytes_fetched;
    unsigned sources_failed;
} cs_rebuild_result;

/* Runs a rebuild on the calling thread (blocking; every peer call has
 * timeouts). auth signs the peer requests (borrowed). The rebuilt fragment
 * replaces any local copy. Returns 0 and *result; CAIRN_E_ERASURES (fewer
 * than k usable sources), CAIRN_E_CORRUPT (rebuilt data failed the CRC),
 * CAIRN_E_NOSPACE, CAIRN_E_IO, CAIRN_E_NOMEM. Nothing is stored on failure. */
int cs_rebuild_run(cs_store *store, const struct cn_auth *auth, const cs_rebuild_req *req,
                   int64_t peer_timeout_ms, cs_rebuild_result *result);

#endif
