/* cairn-chunk: the Cairn chunkserver. Serves one data directory.
 *
 * Startup order (each step needs the ones before it):
 *   1. configuration and log level
 *   2. the cluster secret (every request is authenticated with it)
 *   3. the store: layout, chunkserver id, leftover temporaries removed
 *   4. the damaged-fragment list, then the scrubber thread (with --meta it
 *      also checks that every fragment the metadata places here exists)
 *   5. the HTTP server (last: nothing is served before the store is ready)
 *   6. the heartbeat to the metadata leader (with --meta): registration, then
 *      one heartbeat a second
 * and shutdown runs it backwards on SIGINT or SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_tls.h"
#include "cn_util.h"
#include "cs_damage.h"
#include "cs_heartbeat.h"
#include "cs_scrub.h"
#include "cs_server.h"
#include "cs_store.h"
#include "md_client.h"

#define MOD "chunk"

static struct {
    char *data_dir;
    char *listen;
    int64_t port;
    char *port_file;
    char *secret_file;
    int64_t auth_skew_ms;
    bool sync;
    int64_t reserve;
    int64_t writeback;
    int64_t scrub_rate;
    int64_t scrub_interval_ms;
    int64_t conn_memory;
    int64_t max_connections;
    int64_t conn_timeout_ms;
    int64_t max_rebuilds;
    int64_t peer_timeout_ms;
    bool metrics_public;
    char *advertise;
    struct cn_config_list meta;
    int64_t heartbeat_ms;
    int64_t orphan_grace_ms;
    int64_t orphan_scan_ms;
    char *host;
    char *rack;
    char *zone;
    char *log_level;
    struct cn_auth_daemon_config auth;
    struct cn_tls_config tls;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_STRING("data-dir", "", "data directory (required; created if missing)",
                       &conf.data_dir),
    CN_CONF_OPT_STRING("listen", "127.0.0.1", "IPv4 address to listen on", &conf.listen),
    CN_CONF_OPT_INT("port", "9300", 0, 65535, "TCP port (0 = any free port)", &conf.port),
    CN_CONF_OPT_STRING("port-file", "",
                       "if set, the bound port is written to this file once serving",
                       &conf.port_file),
    CN_CONF_OPT_STRING("cluster-secret-file", "",
                       "file holding the cluster secret for request HMACs, or the chunk role "
                       "key (`cairn role-key chunk`) (required)",
                       &conf.secret_file),
    CN_AUTH_DAEMON_OPTIONS(&conf.auth),
    CN_TLS_INTERNAL_OPTIONS(&conf.tls),
    CN_CONF_OPT_DURATION("auth-skew", "300s", 1000, 3600000,
                         "accepted clock difference of signed requests", &conf.auth_skew_ms),
    CN_CONF_OPT_BOOL("sync", "true",
                     "fsync fragments before acknowledging (--no-sync: benchmarks only, "
                     "a crash may lose acknowledged fragments)",
                     &conf.sync),
    CN_CONF_OPT_SIZE("reserve", "1G", 0, 0,
                     "free space to keep on the filesystem; puts that would go below it "
                     "are refused",
                     &conf.reserve),
    CN_CONF_OPT_SIZE("writeback", "8M", 0, 1ll << 32,
                     "with --sync, start writing a put's data to disk every this many bytes "
                     "so the final fsync has little left (0 = only the final fsync)",
                     &conf.writeback),
    CN_CONF_OPT_SIZE("scrub-rate", "20M", 64 * 1024, 1ll << 40,
                     "scrubber read rate, bytes per second", &conf.scrub_rate),
    CN_CONF_OPT_DURATION("scrub-interval", "24h", 0, 0,
                         "time from the start of one scrub pass to the start of the next",
                         &conf.scrub_interval_ms),
    CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 16 << 20,
                     "memory per HTTP connection (also the body chunk size)", &conf.conn_memory),
    CN_CONF_OPT_INT("max-connections", "256", 1, 65536, "concurrent HTTP connections",
                    &conf.max_connections),
    CN_CONF_OPT_DURATION("conn-timeout", "60s", 1000, 3600000, "idle HTTP connection timeout",
                         &conf.conn_timeout_ms),
    CN_CONF_OPT_INT("max-rebuilds", "2", 1, 64, "rebuilds running at once (more get 503)",
                    &conf.max_rebuilds),
    CN_CONF_OPT_DURATION("peer-timeout", "30s", 100, 600000,
                         "timeout of each request to a peer during a rebuild",
                         &conf.peer_timeout_ms),
    CN_CONF_OPT_BOOL("metrics-public", "false",
                     "serve /metrics without authentication (for Prometheus)",
                     &conf.metrics_public),
    CN_CONF_OPT_STRING("advertise", "",
                       "host:port other servers use to reach this one (default: listen:port)",
                       &conf.advertise),
    CN_CONF_OPT_LIST("meta", "",
                     "metadata replicas to register with and heartbeat "
                     "(http://HOST:PORT,...; empty = standalone)",
                     &conf.meta),
    CN_CONF_OPT_DURATION("heartbeat", "1s", 100, 60000, "interval between heartbeats",
                         &conf.heartbeat_ms),
    CN_CONF_OPT_DURATION("orphan-grace", "24h", 0, 0,
                         "a fragment no committed record places here is deleted once this old "
                         "(longer than any upload may take; 0 = never)",
                         &conf.orphan_grace_ms),
    CN_CONF_OPT_DURATION("orphan-scan-interval", "1h", 100, 604800000,
                         "pause between scans for orphan fragments", &conf.orphan_scan_ms),
    CN_CONF_OPT_STRING("host", "", "failure domain: host label (default: the hostname)",
                       &conf.host),
    CN_CONF_OPT_STRING("rack", "", "failure domain: rack label", &conf.rack),
    CN_CONF_OPT_STRING("zone", "", "failure domain: zone label", &conf.zone),
    CN_CONF_OPT_STRING("log-level", "info", "debug, info, warn or error", &conf.log_level),
};

static const struct cn_config_table config_table = {
    .program = "cairn-chunk",
    .summary = "The Cairn chunkserver: stores erasure-coded fragments in one data directory, "
               "scrubs them and rebuilds lost ones from peers.",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

int main(int argc, char **argv)
{
    char err[512];
    int rc = cn_config_load(&config_table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int status = 1;
    enum cn_log_level level;
    if (cn_log_parse_level(conf.log_level, &level) != 0) {
        fprintf(stderr, "cairn-chunk: --log-level: unknown level %s\n", conf.log_level);
        status = 2;
        goto out_config;
    }
    cn_log_set_level(level);
    if (conf.data_dir[0] == '\0' || conf.secret_file[0] == '\0') {
        fprintf(stderr, "cairn-chunk: --data-dir and --cluster-secret-file are required "
                        "(see --help)\n");
        status = 2;
        goto out_config;
    }

    /* Signals are taken by sigwait below; block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cn_auth *auth;
    rc = cn_auth_open(conf.secret_file, conf.auth.accept_file, CN_ROLE_CHUNK, conf.auth_skew_ms,
                      conf.auth.compat_v1, MOD, &auth);
    if (rc != 0)
        goto out_config;
    struct cn_tls *tls = NULL;
    if (cn_tls_new(&conf.tls, MOD, &tls) != 0) {
        cn_auth_free(auth);
        goto out_config;
    }
    cn_auth_set_tls(auth, tls);
    /* The metadata group as the heartbeat, orphan and scrub clients learn it
     * (its members change: cairn meta replace). */
    struct md_view *view = NULL;
    if (conf.meta.n > 0 &&
        md_view_new((const char *const *)conf.meta.items, conf.meta.n, &view) != 0) {
        CN_ERROR(MOD, "--meta: at most %d replicas", MD_CLIENT_MAX_REPLICAS);
        goto out_auth;
    }
    cs_store_opts sopts = {
        .io = cs_io_posix(),
        .dir = conf.data_dir,
        .reserve_bytes = (uint64_t)conf.reserve,
        .durable = conf.sync,
        .writeback_bytes = (uint64_t)conf.writeback,
    };
    cs_store *store;
    rc = cs_store_open(&sopts, &store);
    if (rc != 0) {
        CN_ERROR(MOD, "cannot open data directory %s: %s", conf.data_dir, cairn_strerror(rc));
        goto out_auth;
    }
    cs_damage *damage;
    rc = cs_damage_new(&damage);
    if (rc != 0)
        goto out_store;
    /* With --meta, each scrub pass ends with the inventory check: what the
     * metadata places here is listed from the leader and looked for on disk. */
    cs_scrub_opts scopts = {.rate_bytes_per_s = (uint64_t)conf.scrub_rate,
                            .interval_ms = conf.scrub_interval_ms,
                            .meta_urls = (const char *const *)conf.meta.items,
                            .n_meta = conf.meta.n,
                            .meta_view = view,
                            .auth = auth,
                            .node_id = cs_heartbeat_node_id(cs_store_id(store))};
    cs_scrub *scrub;
    rc = cs_scrub_start(store, damage, &scopts, &scrub);
    if (rc != 0) {
        CN_ERROR(MOD, "cannot start the scrubber: %s", cairn_strerror(rc));
        goto out_damage;
    }
    cs_server_opts hopts = {
        .bind_addr = conf.listen,
        .port = (uint16_t)conf.port,
        .auth = auth,
        .conn_memory = (size_t)conf.conn_memory,
        .max_connections = (unsigned)conf.max_connections,
        .conn_timeout_s = (unsigned)(conf.conn_timeout_ms / 1000),
        .max_rebuilds = (unsigned)conf.max_rebuilds,
        .peer_timeout_ms = conf.peer_timeout_ms,
        .metrics_public = conf.metrics_public,
        .replay_entries = (size_t)conf.auth.replay_entries,
    };
    char hostname[256];
    if (conf.host[0] == '\0' && gethostname(hostname, sizeof(hostname)) != 0)
        hostname[0] = '\0';
    hostname[sizeof(hostname) - 1] = '\0';
    hopts.advertise = conf.advertise;
    hopts.host_label = conf.host[0] ? conf.host : hostname;
    hopts.rack_label = conf.rack;
    hopts.zone_label = conf.zone;
    cs_server *server;
    rc = cs_server_new(store, damage, scrub, &hopts, &server);
    if (rc != 0)
        goto out_scrub;
    rc = cs_server_start(server);
    if (rc != 0) {
        CN_ERROR(MOD, "cannot listen on %s:%lld: %s", conf.listen, (long long)conf.port,
                 cairn_strerror(rc));
        goto out_server;
    }
    uint16_t port = cs_server_port(server);
    if (conf.port_file[0] != '\0' && cn_write_port_file(conf.port_file, port) != 0) {
        CN_ERROR(MOD, "cannot write --port-file %s", conf.port_file);
        goto out_server;
    }
    CN_INFO(MOD, "chunkserver %s serving %s on %s:%u", cs_store_id(store), conf.data_dir,
            conf.listen, port);

    struct cs_heartbeat *heartbeat = NULL;
    if (conf.meta.n > 0) {
        char self[300];
        if (conf.advertise[0])
            snprintf(self, sizeof(self), "%s", conf.advertise);
        else
            snprintf(self, sizeof(self), "%s:%u", conf.listen, port);
        struct cs_heartbeat_opts hb = {.meta_urls = (const char *const *)conf.meta.items,
                                       .n_meta = conf.meta.n,
                                       .meta_view = view,
                                       .auth = auth,
                                       .address = self,
                                       .host = hopts.host_label,
                                       .rack = conf.rack,
                                       .zone = conf.zone,
                                       .store = store,
                                       .damage = damage,
                                       .interval_ms = conf.heartbeat_ms,
                                       .orphan_grace_s = conf.orphan_grace_ms / 1000,
                                       .orphan_scan_ms = conf.orphan_scan_ms};
        rc = cs_heartbeat_start(&hb, &heartbeat);
        if (rc != 0) {
            CN_ERROR(MOD, "cannot start the heartbeat: %s", cairn_strerror(rc));
            goto out_server;
        }
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    CN_INFO(MOD, "signal %d: shutting down", sig);
    status = 0;
    cs_heartbeat_stop(heartbeat);

out_server:
    cs_server_free(server);
out_scrub:
    cs_scrub_stop(scrub);
out_damage:
    cs_damage_free(damage);
out_store:
    cs_store_free(store);
out_auth:
    md_view_free(view);
    cn_auth_free(auth);
out_config:
    cn_config_release(&config_table);
    return status;
}
