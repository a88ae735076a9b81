/* gw_s3: the S3 API served over HTTP (cn_http_server) on top of the
 * erasure-coded data path (gw_data) and the metadata service (md_client).
 *
 * One catch-all PUBLIC route receives every S3 request, path-style
 * ("/bucket/key") or virtual-host style ("bucket.BASE_DOMAIN/key"); each is
 * authenticated with SigV4 (gw_sigv4) against the root key of the config or
 * an access key stored in the metadata service (anonymous reads only of
 * buckets created public-read), then dispatched on method, bucket, key and
 * subresource: buckets, listings, objects, multi-delete, copies and
 * multipart uploads (docs/gateway.md lists them). Object bodies stream: objects up to
 * inline_max bytes are kept in memory and stored in the metadata record;
 * larger ones go through gw_put_* as they arrive, never buffered whole.
 * Nothing stored changes before the body has been fully received and
 * verified (signed SHA-256, aws-chunked signatures, Content-MD5), and every
 * change is one command decided by the metadata state machine. GET streams
 * through gw_get_*; the first bytes are produced before the status line is
 * sent, so an object that cannot be read gives an S3 error, not a short 200.
 *
 * Every response carries x-amz-request-id. GET /metrics (public) gives
 * Prometheus text: requests and errors per operation, bytes in and out, and
 * the data path's counters.
 *
 * Threads: a struct gw_s3 is shared by the server's connection threads; its
 * counters are atomic and its configuration immutable after gw_s3_new(). */
#ifndef CAIRN_GW_S3_H
#define CAIRN_GW_S3_H

#include <stddef.h>
#include <stdint.h>

struct gw_ctx;
struct gw_s3;
struct cn_http_server;

struct gw_keycache;
struct gw_pack;

struct gw_s3_config {
    const char *region;          /* SigV4 region and GetBucketLocation; NULL = "us-east-1" */
    const char *base_domain;     /* virtual-host style base ("s3.local"); NULL/"" = off */
    const char *root_access_key; /* root credentials (both or neither); copied */
    const char *root_secret_key;
    uint64_t inline_max; /* objects up to this size live in the record; <= 1 MiB */
    uint32_t default_k;  /* scheme when no storage class is given */
    uint32_t default_m;
    uint32_t unit;            /* stripe unit in bytes */
    uint64_t group_fragment;  /* max bytes per fragment in one group (multiple of unit) */
    uint64_t max_object_size; /* PutObject/UploadPart limit; 0 = 5 GiB */
    int64_t max_skew_s;       /* SigV4 clock skew; 0 = 15 minutes */
    struct gw_keycache *keys; /* stored keys' mirror (borrowed; NULL: read each key) */
    int64_t max_get_ms;       /* a GetObject body still streaming this long after its
                                 request began is cut; 0 = never */
    int64_t anon_cache_ms;    /* anonymous refusals remembered this long (forgotten at
                                 any 2xx write through it); 0 = none */
    struct gw_pack *pack;     /* the packer (borrowed; must outlive it); NULL = no packing */
};

/* Creates the S3 front end over data (borrowed; must outlive it). cfg is
 * copied. Returns 0, CAIRN_E_INVAL (bad layout, half a root key) or
 * CAIRN_E_NOMEM. */
int gw_s3_new(const struct gw_s3_config *cfg, struct gw_ctx *data, struct gw_s3 **out);

/* Registers GET /metrics and the catch-all S3 route on srv (before
 * cn_http_server_start). s3 must outlive the server's handlers (stop the
 * server before gw_s3_free). Up to two servers (HTTPS and plain) may be
 * registered; /metrics shows their connection counters. Returns 0 or the
 * route error. */
int gw_s3_register(struct gw_s3 *s3, struct cn_http_server *srv);

void gw_s3_free(struct gw_s3 *s3);

#endif
