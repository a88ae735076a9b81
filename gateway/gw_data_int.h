/* gw_data_int.h: private to the gateway's data path (gw_data.c: the
 * context, chunkserver addresses, PUT; gw_get.c: GET). Not for other files. */
#ifndef CAIRN_GW_DATA_INT_H
#define CAIRN_GW_DATA_INT_H

#include "gw_data.h"

#include "cn_http_client.h"
#include "cn_wire.h"
#include "ec_codec.h"
#include "md_batch.h"
#include "md_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define LOG      "gw-data"
#define MAX_CS   1024
#define ADDR_LEN 128
/* A chunkserver that did not answer at all (connect failed or timed out) is
 * skipped by reads for this long (they decode from the others); then one
 * read probes it again. */
#define CS_SUSPECT_MS 5000
/* Connections to the metadata leader for the requests that are not batched
 * (placement of a new chunk group, damage reports, a request sent again
 * alone): shared by every gateway thread, one call at a time each. */
#define GW_META_SIDE 4

struct cs_addr {
    uint64_t id;
    char addr[ADDR_LEN];
    int64_t suspect_until; /* cn_mono_ms(); 0 = answering */
};

struct gw_ctx {
    struct md_view *view;       /* the metadata group, shared by every thread's client */
    struct md_batcher *batcher; /* NULL: every metadata request goes alone */
    struct md_pool *side;       /* with a batcher: the connections for what is not batched */
    const struct cn_auth *auth;
    uint32_t quorum_extra;
    int64_t frag_timeout_ms;

    pthread_key_t tls; /* struct tls_res per thread */

    pthread_mutex_t mu; /* guards codecs and addrs */
    ec_codec *codecs[EC_MAX_K + 1][EC_MAX_M + 1];
    struct cs_addr addrs[MAX_CS];
    size_t n_addrs;

    atomic_uint_fast64_t degraded, decodes, frag_errors, short_groups, direct_fills,
        prefetch_redone;

    /* the data-path memory budget (gw_ctx_mem_take) */
    uint64_t mem_limit; /* 0 = unlimited */
    atomic_uint_fast64_t mem_used, mem_peak, mem_refused;
};

/* Per-thread resources: a metadata client and an HTTP fan-out handle, each
 * keeping its connections alive between requests of the thread. */
struct tls_res {
    struct md_client *meta;
    struct cn_http_fanout *fanout;
};

/* This thread's resources for ctx (created on first use); NULL on no memory. */
struct tls_res *gw_tls_get(struct gw_ctx *ctx);
/* Chunkserver id -> "http://host:port" (the address cache, refreshed from the
 * metadata service on a miss). 0, CAIRN_E_NOTFOUND or the query's error. */
int gw_cs_url(struct gw_ctx *ctx, uint64_t id, char out[ADDR_LEN + 8]);
/* 1 if reads should skip chunkserver id now (it did not answer lately). */
int gw_cs_skip(struct gw_ctx *ctx, uint64_t id);
/* Records whether chunkserver id answered (any HTTP response) or not. */
void gw_cs_answered(struct gw_ctx *ctx, uint64_t id, int answered);
/* The request target of fragment index of group gid. */
void gw_fragment_target(const uint8_t gid[16], uint32_t index,
                        char out[CN_WIRE_FRAGMENT_TARGET_MAX]);

#endif
