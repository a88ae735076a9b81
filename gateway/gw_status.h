/* gw_status: the gateway's cluster status page, GET /_cairn/status.
 *
 * One server-rendered HTML page (no script, no external resource; it reloads
 * itself every refresh_s seconds with a meta refresh) showing the cluster at
 * a glance: the metadata replicas with their role and log position and which
 * one leads, every chunkserver with its state, liveness and fill (used of
 * capacity, as a bar), degraded groups and repair progress (queue, rebuilds
 * in flight, rebuild rate and an ETA), and this gateway's data-path counters.
 * Every value taken from the cluster is HTML-escaped.
 *
 * The facts come from the metadata service, as `cairn status` reads them:
 * GET /v1/status from every replica (in parallel, 2 s timeout) and GET
 * /v1/cluster from the leader one of them names (3 s timeout). What cannot
 * be reached is shown as unreachable; the page itself is always served. The
 * rebuild rate is measured by the page: each view samples the leader's
 * cumulative rebuild counters (at most one sample a second, for the last ten
 * minutes), and the rate is the difference over the oldest sample of the
 * same leader no older than five minutes; the first view shows the rate as
 * being measured.
 *
 * Access: the gateway's admin credentials. The root S3 access key of the
 * gateway's configuration, or an access key stored in the metadata service
 * with the admin flag (`cairn keys create OWNER --admin`), given either as
 * HTTP Basic authentication (user = access key id, password = secret key;
 * what a browser prompts for) or as an S3 SigV4-signed request (header or
 * presigned URL, service "s3", the gateway's region). No credentials: 401
 * with a Basic challenge. Wrong Basic credentials: 401 (a browser asks
 * again). A SigV4 request that fails verification, or any valid key that is
 * not an admin key: 403.
 *
 * Threads: the page is rendered on the request's connection thread; a
 * gw_status is shared by all of them (its sample ring has a mutex). */
#ifndef CAIRN_GW_STATUS_H
#define CAIRN_GW_STATUS_H

#include "cn_wire.h"

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct cn_http_server;
struct gw_ctx;
struct gw_status;

struct gw_keycache;

struct gw_status_config {
    const char *const *meta_urls; /* metadata replicas' base URLs (copied) */
    size_t n_meta;                /* 1..16 */
    const struct cn_auth *auth;   /* cluster secret for /v1/status and /v1/cluster; borrowed */
    struct gw_ctx *data;          /* borrowed: its metadata client looks up stored keys, and
                                     its counters are shown */
    const char *root_access_key;  /* root credentials (both or neither; copied) */
    const char *root_secret_key;
    const char *region;       /* SigV4 region; NULL = "us-east-1" */
    int64_t max_skew_s;       /* SigV4 clock skew; 0 = 15 minutes */
    unsigned refresh_s;       /* meta refresh period; 0 = 5 */
    struct gw_keycache *keys; /* stored keys' mirror (borrowed; NULL: read each key) */
};

/* Creates the status page. Returns 0, CAIRN_E_INVAL (no replica, more than
 * 16, half a root key) or CAIRN_E_NOMEM. */
int gw_status_new(const struct gw_status_config *cfg, struct gw_status **out);

/* Registers GET CN_ROUTE_GW_STATUS on srv. Must come before the S3 catch-all
 * route (gw_s3_register), which would otherwise take the path. st must
 * outlive the server's handlers. Returns 0 or the route error. */
int gw_status_register(struct gw_status *st, struct cn_http_server *srv);

/* Frees st (after the server has stopped). NULL is fine. */
void gw_status_free(struct gw_status *st);

#endif
