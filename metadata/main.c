/* cairn-meta: one replica of Cairn's Multi-Paxos metadata service. */
#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_tls.h"
#include "md_server.h"
#include "paxos.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int64_t id;
    char *listen;
    char *url;
    char *join;
    struct cn_config_list peers;
    char *data_dir;
    char *secret_file;
    char *secret;
    int64_t heartbeat_ms, election_ms, request_timeout_ms, clock_drift_ppm;
    char *lease;
    bool lease_reads_local;
    int64_t store_write_buffer;
    int64_t trim_every, trim_keep, trim_bytes, plog_segment, window, suspect_after_ms,
        down_after_ms, out_after_ms;
    int64_t repair_concurrency, repair_bandwidth, repair_scan_ms, garbage_grace_ms;
    int64_t lifecycle_day_ms, lifecycle_scan_ms, packed_idle_ms;
    int64_t compact_below, compact_rate, compact_min_dead, compact_scan_ms;
    char *log_level;
    struct cn_auth_daemon_config auth;
    struct cn_tls_config tls;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_INT("id", "0", 0, 65535,
                    "this replica's id in a new group (it must appear in --peers); not needed "
                    "once the store knows it, nor with --join",
                    &conf.id),
    CN_CONF_OPT_STRING("listen", "127.0.0.1:7001", "address:port to serve on", &conf.listen),
    CN_CONF_OPT_LIST("peers", "",
                     "a new group's replicas, this one included: ID=http://HOST:PORT,ID=... "
                     "(only a bootstrap seed: the group's membership is replicated state)",
                     &conf.peers),
    CN_CONF_OPT_STRING("join", "",
                       "join an existing group through this member's URL (an empty data "
                       "directory; run `cairn meta add URL` with this replica's --url)",
                       &conf.join),
    CN_CONF_OPT_STRING("url", "", "how the other replicas reach this one (default http://LISTEN)",
                       &conf.url),
    CN_CONF_OPT_STRING("data-dir", "./var/meta", "directory of this replica's LevelDB store",
                       &conf.data_dir),
    CN_CONF_OPT_STRING("cluster-secret-file", "",
                       "file holding the cluster secret (>= 16 bytes) or the meta role key "
                       "(`cairn role-key meta`)",
                       &conf.secret_file),
    CN_CONF_OPT_STRING("secret", "",
                       "the cluster secret itself (visible in ps: prefer --cluster-secret-file)",
                       &conf.secret),
    CN_AUTH_DAEMON_OPTIONS(&conf.auth),
    CN_TLS_INTERNAL_OPTIONS(&conf.tls),
    CN_CONF_OPT_DURATION("heartbeat", "50ms", 5, 10000, "leader heartbeat interval",
                         &conf.heartbeat_ms),
    CN_CONF_OPT_DURATION("election-timeout", "500ms", 20, 60000,
                         "election timeout base (randomised in [T, 2T))", &conf.election_ms),
    CN_CONF_OPT_STRING("lease", "auto",
                       "leader lease: the leader serves linearizable reads locally while it "
                       "holds (no quorum round). auto = the longest safe for "
                       "--election-timeout and --clock-drift-ppm, off = a round per read, or a "
                       "duration up to that bound",
                       &conf.lease),
    CN_CONF_OPT_BOOL("lease-reads-local", "true",
                     "answer lease reads on the HTTP connection's thread while the lease holds "
                     "(false: every read goes through the core thread; for comparison)",
                     &conf.lease_reads_local),
    CN_CONF_OPT_INT("clock-drift-ppm", "50000", 0, 500000,
                    "bound on the rate error of every replica's monotonic clock, in parts per "
                    "million (50000 = 5%; NTP slews at most 500); sizes the lease",
                    &conf.clock_drift_ppm),
    CN_CONF_OPT_DURATION("request-timeout", "10s", 100, 600000,
                         "how long a client command or read waits to be applied",
                         &conf.request_timeout_ms),
    CN_CONF_OPT_SIZE("store-write-buffer", "32M", 1 << 20, INT64_C(1) << 30,
                     "LevelDB memtable of the replica's store: state machine writes "
                     "collect in memory up to this before a table is written; at 4 MiB "
                     "(LevelDB's default) small-object commits cost ~40% more CPU in table "
                     "writes and compactions. Up to twice this is held in memory",
                     &conf.store_write_buffer),
    CN_CONF_OPT_INT("trim-every", "10000", 1, 100000000,
                    "trim the Paxos log after this many applied slots", &conf.trim_every),
    CN_CONF_OPT_SIZE("trim-bytes", "64M", 0, INT64_C(1) << 40,
                     "also trim the Paxos log once this many bytes of commands were applied "
                     "since the last trim (the untrimmed log is held in memory; 0 = by slots "
                     "only)",
                     &conf.trim_bytes),
    CN_CONF_OPT_SIZE("plog-segment", "64M", 64 << 10, INT64_C(1) << 32,
                     "the Paxos log (DATA_DIR/plog) starts a new segment file once the "
                     "current one holds this much; a segment is deleted once a trim covers "
                     "everything in it",
                     &conf.plog_segment),
    CN_CONF_OPT_INT("trim-keep", "1000", 0, 100000000,
                    "slots kept in the log behind the applied one (lagging replicas catch up "
                    "from the log; further behind, by snapshot)",
                    &conf.trim_keep),
    CN_CONF_OPT_INT("window", "8", 1, 1024, "Paxos slots in flight beyond the commit index",
                    &conf.window),
    CN_CONF_OPT_DURATION("suspect-after", "3s", 100, 86400000,
                         "a chunkserver whose heartbeats are this late is shown as suspect "
                         "(capped at --down-after)",
                         &conf.suspect_after_ms),
    CN_CONF_OPT_DURATION("down-after", "30s", 100, 86400000,
                         "a chunkserver silent this long is down (gets no new fragments)",
                         &conf.down_after_ms),
    CN_CONF_OPT_DURATION("out-after", "10m", 1000, 604800000,
                         "a chunkserver silent this long is out: its fragments are rebuilt "
                         "elsewhere (until then a returning one is simply up again)",
                         &conf.out_after_ms),
    CN_CONF_OPT_INT("repair-concurrency", "2", 1, 64, "rebuilds running at once, cluster-wide",
                    &conf.repair_concurrency),
    CN_CONF_OPT_INT("repair-bandwidth", "0", 0, 100000,
                    "repair budget in MB/s of rebuilt fragments (0 = unlimited)",
                    &conf.repair_bandwidth),
    CN_CONF_OPT_DURATION("repair-scan-interval", "10s", 100, 86400000,
                         "pause between full scans for degraded groups", &conf.repair_scan_ms),
    CN_CONF_OPT_DURATION("lifecycle-scan-interval", "60s", 100, 86400000,
                         "pause between the leader's passes applying bucket lifecycle rules",
                         &conf.lifecycle_scan_ms),
    CN_CONF_OPT_DURATION("lifecycle-day", "24h", 100, 86400000,
                         "TEST KNOB: the length of a lifecycle \"day\" (Expiration Days, "
                         "AbortIncompleteMultipartUpload); never change it in production",
                         &conf.lifecycle_day_ms),
    CN_CONF_OPT_DURATION("packed-idle", "60s", 100, 86400000,
                         "an open packed group (issue #17) whose gateway committed nothing "
                         "for this long is sealed by the leader, and its fragments with it",
                         &conf.packed_idle_ms),
    CN_CONF_OPT_INT("compact-below", "50", 1, 100,
                    "a sealed packed group whose live bytes are below this percentage of its "
                    "data is rewritten by the leader's compactor (issue #17)",
                    &conf.compact_below),
    CN_CONF_OPT_SIZE("compact-rate", "32MiB", 0, 1LL << 40,
                     "compaction budget: fragment bytes written per second by all "
                     "chunkservers together (0 = unpaced)",
                     &conf.compact_rate),
    CN_CONF_OPT_SIZE("compact-min-dead", "1MiB", 0, 1LL << 40,
                     "a packed group is compacted only with at least this many dead bytes",
                     &conf.compact_min_dead),
    CN_CONF_OPT_DURATION("compact-interval", "30s", 100, 86400000,
                         "pause between the compactor's passes over the packed groups",
                         &conf.compact_scan_ms),
    CN_CONF_OPT_DURATION("garbage-grace", "1h", 0, 7 * 86400000LL,
                         "fragments of deleted or overwritten objects are deleted this long "
                         "after the change, so that a GET that began before it can finish "
                         "(keep it above the gateways' --max-get-duration; 0: at once)",
                         &conf.garbage_grace_ms),
    CN_CONF_OPT_STRING("log-level", "info", "debug, info, warn or error", &conf.log_level),
};

static const struct cn_config_table table = {
    .program = "cairn-meta",
    .summary = "One replica of Cairn's Multi-Paxos metadata service (3 or 5 form a group).",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

/* Allowance in the lease bound for clock steps and millisecond granularity
 * (each end of the lease reads a clock truncated to ms); docs/paxos.md. */
#define LEASE_JUMP_MS 5

/* --lease into cfg->lease_ms, bounded by paxos_lease_max. */
static int parse_lease(struct md_server_config *cfg, char *err, size_t errlen)
{
    uint64_t max = paxos_lease_max(cfg->election_ms, (uint32_t)conf.clock_drift_ppm, LEASE_JUMP_MS);
    if (strcmp(conf.lease, "auto") == 0) {
        cfg->lease_ms = max;
        return 0;
    }
    if (strcmp(conf.lease, "off") == 0 || strcmp(conf.lease, "0") == 0) {
        cfg->lease_ms = 0;
        return 0;
    }
    int64_t v = 0;
    if (cn_config_parse_duration_ms(conf.lease, &v) < 0 || v < 0) {
        snprintf(err, errlen, "--lease: '%s' is not auto, off or a duration", conf.lease);
        return CAIRN_E_INVAL;
    }
    if ((uint64_t)v > max) {
        snprintf(err, errlen,
                 "--lease: %lldms is longer than the safe bound %llums for an election timeout "
                 "of %llums and a clock drift of %lld ppm (a new leader could be elected "
                 "while this lease still holds)",
                 (long long)v, (unsigned long long)max, (unsigned long long)cfg->election_ms,
                 (long long)conf.clock_drift_ppm);
        return CAIRN_E_INVAL;
    }
    cfg->lease_ms = (uint64_t)v;
    return 0;
}

/* Parses "ID=URL" peers into cfg. */
static int parse_peers(struct md_server_config *cfg, char *err, size_t errlen)
{
    if (conf.peers.n > MD_MAX_PEERS) {
        snprintf(err, errlen, "--peers: give 1..%d replicas as ID=http://HOST:PORT", MD_MAX_PEERS);
        return CAIRN_E_INVAL;
    }
    int self = 0;
    for (size_t i = 0; i < conf.peers.n; i++) {
        char *item = conf.peers.items[i];
        char *eq = strchr(item, '=');
        char *end;
        unsigned long id = eq ? strtoul(item, &end, 10) : 0;
        if (!eq || end != eq || id == 0 || id > 65535 || strncmp(eq + 1, "http://", 7) != 0) {
            snprintf(err, errlen, "--peers: '%s' is not ID=http://HOST:PORT", item);
            return CAIRN_E_INVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (cfg->peer_ids[j] == id) {
                snprintf(err, errlen, "--peers: id %lu appears twice", id);
                return CAIRN_E_INVAL;
            }
        cfg->peer_ids[i] = (uint32_t)id;
        cfg->peer_urls[i] = eq + 1;
        if (id == (unsigned long)conf.id)
            self = 1;
    }
    cfg->n_peers = (uint32_t)conf.peers.n;
    if (!self && conf.id != 0) {
        snprintf(err, errlen, "--id %lld is not one of --peers", (long long)conf.id);
        return CAIRN_E_INVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[512] = "";
    int rc = cn_config_load(&table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    enum cn_log_level lv;
    if (cn_log_parse_level(conf.log_level, &lv) != 0) {
        fprintf(stderr, "cairn-meta: --log-level: '%s' is not debug, info, warn or error\n",
                conf.log_level);
        return 2;
    }
    cn_log_set_level(lv);

    struct md_server_config cfg = {0};
    cfg.id = (uint32_t)conf.id;
    if (conf.id != 0 && conf.peers.n == 0) {
        fprintf(stderr, "cairn-meta: --id goes with --peers (a new group); a replica that joins "
                        "an existing one takes --join (see --help)\n");
        return 2;
    }
    if (conf.join[0] && (conf.id != 0 || conf.peers.n != 0)) {
        fprintf(stderr, "cairn-meta: --join takes no --id or --peers: the group gives them\n");
        return 2;
    }
    if (conf.join[0] && strncmp(conf.join, "http", 4) != 0) {
        fprintf(stderr, "cairn-meta: --join: '%s' is not a member's http://HOST:PORT\n", conf.join);
        return 2;
    }
    cfg.join_url = conf.join[0] ? conf.join : NULL;
    cfg.self_url = conf.url[0] ? conf.url : NULL;
    if (parse_peers(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "cairn-meta: %s\n", err);
        return 2;
    }
    char *colon = strrchr(conf.listen, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || *end || port > 65535) {
        fprintf(stderr, "cairn-meta: --listen: '%s' is not ADDRESS:PORT\n", conf.listen);
        return 2;
    }
    *colon = 0;
    cfg.bind_addr = conf.listen;
    cfg.port = (uint16_t)port;

    struct cn_auth *auth = NULL;
    if (*conf.secret_file) {
        rc = cn_auth_open(conf.secret_file, conf.auth.accept_file, CN_ROLE_META, 0,
                          conf.auth.compat_v1, "meta", &auth);
    } else if (*conf.secret) {
        rc = cn_auth_new_from_text(conf.secret, strlen(conf.secret), CN_ROLE_META, 0, &auth);
        if (rc == 0 && conf.auth.compat_v1)
            rc = cn_auth_set_compat_v1(auth, 1);
        if (rc == 0 && conf.auth.accept_file[0])
            rc = CAIRN_E_INVAL; /* rotation wants files */
    } else {
        rc = CAIRN_E_INVAL;
    }
    if (rc != 0) {
        fprintf(stderr,
                "cairn-meta: a cluster secret of at least %d bytes is required "
                "(--cluster-secret-file, or --secret without --cluster-secret-accept-file): %s\n",
                CN_AUTH_MIN_SECRET, cairn_strerror(rc));
        cn_auth_free(auth);
        return 2;
    }
    struct cn_tls *tls = NULL;
    if (cn_tls_new(&conf.tls, "meta", &tls) != 0) {
        cn_auth_free(auth);
        return 2;
    }
    cn_auth_set_tls(auth, tls);
    cfg.data_dir = conf.data_dir;
    cfg.auth = auth;
    cfg.heartbeat_ms = (uint64_t)conf.heartbeat_ms;
    cfg.election_ms = (uint64_t)conf.election_ms;
    if (parse_lease(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "cairn-meta: %s\n", err);
        cn_auth_free(auth);
        cn_config_release(&table);
        return 2;
    }
    CN_INFO("meta", "leader lease %llu ms (election timeout %llu ms, clock drift bound %lld ppm)",
            (unsigned long long)cfg.lease_ms, (unsigned long long)cfg.election_ms,
            (long long)conf.clock_drift_ppm);
    cfg.lease_reads_core_only = !conf.lease_reads_local;
    cfg.trim_every = (uint64_t)conf.trim_every;
    cfg.trim_keep = (uint64_t)conf.trim_keep;
    cfg.trim_bytes = (uint64_t)conf.trim_bytes;
    cfg.plog_segment_bytes = (uint64_t)conf.plog_segment;
    cfg.store_write_buffer = (uint64_t)conf.store_write_buffer;
    cfg.request_timeout_ms = (uint64_t)conf.request_timeout_ms;
    cfg.window = (uint32_t)conf.window;
    cfg.suspect_after_ms = (uint64_t)conf.suspect_after_ms;
    cfg.down_after_ms = (uint64_t)conf.down_after_ms;
    cfg.out_after_ms = (uint64_t)conf.out_after_ms;
    cfg.repair_concurrency = (uint32_t)conf.repair_concurrency;
    cfg.repair_bandwidth_mb_s = (double)conf.repair_bandwidth;
    cfg.repair_scan_ms = (uint64_t)conf.repair_scan_ms;
    cfg.lifecycle_day_ms = (uint64_t)conf.lifecycle_day_ms;
    cfg.lifecycle_scan_ms = (uint64_t)conf.lifecycle_scan_ms;
    cfg.packed_idle_ms = (uint64_t)conf.packed_idle_ms;
    cfg.compact_below_pct = (uint32_t)conf.compact_below;
    cfg.compact_rate = (uint64_t)conf.compact_rate;
    cfg.compact_min_dead = (uint64_t)conf.compact_min_dead;
    cfg.compact_scan_ms = (uint64_t)conf.compact_scan_ms;
    cfg.garbage_grace_ms = (uint64_t)conf.garbage_grace_ms;
    cfg.replay_entries = (size_t)conf.auth.replay_entries;

    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct md_server *srv = NULL;
    rc = md_server_start(&cfg, &srv);
    if (rc != 0) {
        fprintf(stderr, "cairn-meta: cannot start: %s\n", cairn_strerror(rc));
        cn_auth_free(auth);
        cn_config_release(&table);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    CN_INFO("meta", "signal %d: shutting down", sig);
    md_server_stop(srv);
    cn_auth_free(auth);
    cn_config_release(&table);
    return 0;
}
