/* cs_heartbeat: a chunkserver's link to the metadata service. On start it
 * registers itself (a replicated command: id, address, failure-domain
 * labels, capacity, free space), then sends a heartbeat to the leader every
 * interval (soft state: liveness, free space, fragment count). When the
 * leader answers that it does not know this chunkserver (or knows it at
 * another address), it registers again. Fragments found damaged (by reads or
 * the scrubber) are reported to the leader's repair queue whenever the list
 * grows, and again every 30 s while they stay damaged. A second thread
 * collects orphans: fragments older than the grace period whose group no
 * record names (an upload that died half way, a rebuild whose commit was
 * lost) or whose committed location for that index is another chunkserver
 * (a copy left behind by repair or drain). Only a linearizable answer from
 * the leader counts; when it cannot be asked, nothing is deleted. Runs on its own thread; failures
 * are logged and retried, never fatal. */
#ifndef CAIRN_CS_HEARTBEAT_H
#define CAIRN_CS_HEARTBEAT_H

#include "cs_damage.h"
#include "cs_store.h"

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct cs_heartbeat;
struct md_view;

struct cs_heartbeat_opts {
    const char *const *meta_urls; /* metadata replicas (copied) */
    size_t n_meta;
    struct md_view *meta_view;      /* borrowed, may be NULL: the group as this
                                       process's clients learn it (md_client.h) */
    const struct cn_auth *auth;     /* borrowed */
    const char *address;            /* host:port others reach this chunkserver at */
    const char *host, *rack, *zone; /* failure-domain labels ("" = none) */
    cs_store *store;                /* borrowed: id, capacity, free space */
    cs_damage *damage;              /* borrowed, may be NULL: damaged fragments to report */
    int64_t interval_ms;            /* 0 = 1000 */
    int64_t orphan_grace_s;         /* a fragment no record names is deleted once this old
                                       (0 = never collect orphans) */
    int64_t orphan_scan_ms;         /* pause between orphan scans (0 = 3600000) */
};

/* The metadata id of a chunkserver: the first 64 bits of its stable store
 * id (never 0). */
uint64_t cs_heartbeat_node_id(const char *store_id_hex);

int cs_heartbeat_start(const struct cs_heartbeat_opts *opts, struct cs_heartbeat **out);
/* Stops the thread (waits for it; at most one request timeout). NULL is fine. */
void cs_heartbeat_stop(struct cs_heartbeat *hb);
/* 1 once registration has been applied by the metadata service. */
int cs_heartbeat_registered(const struct cs_heartbeat *hb);

#endif
