/* The chunkserver's HTTP API (cs_api.h, docs/chunkserver.md) on the common
 * HTTP server: fragment put/get/head/delete, rebuild, admin status, damaged
 * list and Prometheus metrics. Every route requires the cluster HMAC except
 * /metrics when metrics_public is set. Handlers run on the server's
 * connection threads. */
#ifndef CAIRN_CS_SERVER_H
#define CAIRN_CS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_damage.h"
#include "cs_scrub.h"
#include "cs_store.h"

struct cn_auth;

typedef struct cs_server cs_server;

typedef struct cs_server_opts {
    const char *bind_addr;      /* IPv4 literal */
    uint16_t port;              /* 0 = any free port */
    const struct cn_auth *auth; /* chunk role credentials, internal TLS included
                                   (borrowed; required) */
    size_t replay_entries;      /* request nonces remembered (0 = default) */
    size_t conn_memory;         /* per-connection memory (also body chunk size) */
    unsigned max_connections;
    unsigned conn_timeout_s;
    unsigned max_rebuilds;   /* rebuilds running at once; more get 503 */
    int64_t peer_timeout_ms; /* per peer request during a rebuild */
    bool metrics_public;     /* serve /metrics without authentication */
    /* Identity reported in /v1/admin/status (and, later, heartbeats); borrowed
     * strings that outlive the server. */
    const char *advertise;  /* "host:port" peers and gateways use ("" = bind:port) */
    const char *host_label; /* failure domains */
    const char *rack_label;
    const char *zone_label;
} cs_server_opts;

/* Creates the server. store, damage and scrub (may be NULL) are borrowed and
 * must outlive it. Returns 0 and *out, CAIRN_E_INVAL, CAIRN_E_NOMEM. */
int cs_server_new(cs_store *store, cs_damage *damage, cs_scrub *scrub, const cs_server_opts *opts,
                  cs_server **out);
/* Binds and serves. Returns 0 or CAIRN_E_IO (port in use). */
int cs_server_start(cs_server *srv);
/* The bound port after a successful start. */
uint16_t cs_server_port(const cs_server *srv);
/* Stops serving (waits for requests in flight) and frees. NULL is fine. */
void cs_server_free(cs_server *srv);

#endif
