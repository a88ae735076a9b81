/* cairn-gateway: the Cairn S3 gateway.
 *
 * Startup order (each step needs the ones before it):
 *   1. signals blocked (every thread inherits the mask), configuration, log level
 *   2. libxml2 and libcurl process-wide initialisation (before any thread)
 *   3. the cluster secret (internal calls to metadata and chunkservers)
 *   4. the data path context (gw_data), the packer (gw_pack, over gw_data), then
 *      the S3 front end (gw_s3, using both) and the status page (gw_status,
 *      GET /_cairn/status)
 *   5. the HTTP server, last (the status route is registered before the S3
 *      catch-all route, which would take its path)
 * and shutdown runs it backwards on SIGINT or SIGTERM. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_data.h"
#include "gw_keycache.h"
#include "gw_pack.h"
#include "gw_s3.h"
#include "gw_status.h"
#include "gw_xml.h"

#define MOD "gateway"

static struct cn_http_daemon_config net;
static struct {
    struct cn_config_list meta;
    char *access_key;
    char *secret_key;
    char *credentials_file;
    char *region;
    char *base_domain;
    int64_t inline_max;
    char *default_scheme;
    int64_t unit;
    int64_t group_fragment;
    int64_t write_quorum_extra;
    int64_t fragment_timeout_ms;
    int64_t max_object_size;
    char *port_file;
    char *log_level;
    char *tls_cert;
    char *tls_key;
    int64_t http_port;
    int64_t per_ip_connections;
    int64_t header_timeout_ms;
    int64_t sigv4_max_skew_ms;
    int64_t data_memory;
    int64_t auth_refresh_ms;
    int64_t anon_cache_ms;
    int64_t max_get_ms;
    int64_t pack_max;
    int64_t pack_unit;
    int64_t pack_wait_ms;
    int64_t pack_batch;
    int64_t pack_idle_ms;
    int64_t pack_group_fragment;
    int64_t pack_lanes;
    int64_t meta_batch;
} conf;

static const struct cn_config_option options[] = {
    CN_HTTP_DAEMON_CONFIG_OPTIONS(&net, "9000"),
    CN_CONF_OPT_LIST("meta", "http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003",
                     "metadata replicas, comma-separated base URLs", &conf.meta),
    CN_CONF_OPT_STRING("access-key", "", "root S3 access key id (with --secret-key)",
                       &conf.access_key),
    CN_CONF_OPT_STRING("secret-key", "",
                       "root S3 secret key (visible in ps: prefer --credentials-file)",
                       &conf.secret_key),
    CN_CONF_OPT_STRING("credentials-file", "",
                       "file holding the root access key and secret key, separated by "
                       "whitespace or ':'",
                       &conf.credentials_file),
    CN_CONF_OPT_STRING("region", "us-east-1", "S3 region (SigV4 scope, GetBucketLocation)",
                       &conf.region),
    CN_CONF_OPT_STRING("base-domain", "",
                       "domain for virtual-host style requests (BUCKET.DOMAIN); empty = "
                       "path style only",
                       &conf.base_domain),
    CN_CONF_OPT_SIZE("inline-max", "16K", 0, 16 << 10,
                     "objects up to this size are stored inline in the metadata record (the "
                     "metadata service accepts at most 16K)",
                     &conf.inline_max),
    CN_CONF_OPT_STRING("default-scheme", "4+2",
                       "erasure code K+M for objects without a storage class",
                       &conf.default_scheme),
    CN_CONF_OPT_SIZE("unit", "1M", 4096, 64 << 20, "stripe unit (bytes per fragment per stripe)",
                     &conf.unit),
    CN_CONF_OPT_SIZE("group-fragment", "64M", 4096, INT64_C(1) << 40,
                     "max bytes of one fragment in a chunk group (a multiple of --unit); a group "
                     "holds K times this",
                     &conf.group_fragment),
    CN_CONF_OPT_INT("write-quorum-extra", "1", 0, 16,
                    "a chunk group is accepted with K + this many fragments durable",
                    &conf.write_quorum_extra),
    CN_CONF_OPT_DURATION("fragment-timeout", "10s", 100, 600000,
                         "timeout of one chunkserver request", &conf.fragment_timeout_ms),
    CN_CONF_OPT_SIZE("max-object-size", "5G", 1, INT64_C(1) << 42,
                     "largest PutObject body accepted", &conf.max_object_size),
    CN_CONF_OPT_STRING("port-file", "", "if set, the bound port is written here once serving",
                       &conf.port_file),
    CN_CONF_OPT_STRING("log-level", "info", "debug, info, warn or error", &conf.log_level),
    CN_CONF_OPT_STRING("tls-cert", "",
                       "PEM certificate (chain) file: with --tls-key, --port serves HTTPS",
                       &conf.tls_cert),
    CN_CONF_OPT_STRING("tls-key", "", "PEM private key file of --tls-cert", &conf.tls_key),
    CN_CONF_OPT_INT("http-port", "-1", -1, 65535,
                    "with TLS, also serve plain HTTP on this port (-1: no plain HTTP; 0: any "
                    "free port)",
                    &conf.http_port),
    CN_CONF_OPT_INT("per-ip-connections", "64", 0, 65536,
                    "concurrent connections from one client address (0: no limit)",
                    &conf.per_ip_connections),
    CN_CONF_OPT_DURATION("header-timeout", "20s", 0, 3600 * 1000,
                         "a request's headers must be complete within this of the connection's "
                         "accept or of its request line; trickled bytes do not extend it (0: "
                         "no deadline)",
                         &conf.header_timeout_ms),
    CN_CONF_OPT_SIZE("data-memory", "1G", 0, INT64_C(1) << 44,
                     "budget for data-path buffers of all requests together (an upload takes "
                     "about (2k+m) x --unit, a GET 2k x --unit); a request that does not fit "
                     "gets 503 SlowDown (0: no budget)",
                     &conf.data_memory),
    CN_CONF_OPT_DURATION("auth-refresh", "1s", 100, 60000,
                         "period of the gateway's copy of the access keys, which refuses "
                         "unknown keys and bad signatures without a metadata read (a request "
                         "that verifies still reads its key: a disabled key fails at once)",
                         &conf.auth_refresh_ms),
    CN_CONF_OPT_DURATION("anonymous-cache", "1s", 0, 60000,
                         "an anonymous request refused (AccessDenied, NoSuchBucket) is refused "
                         "again this long without a metadata read; writes through this gateway "
                         "clear it, a change made elsewhere that would allow the request "
                         "reaches it within this (0: no cache, every change at once)",
                         &conf.anon_cache_ms),
    CN_CONF_OPT_DURATION("max-get-duration", "50m", 0, 7 * 86400000LL,
                         "a GetObject body still streaming this long after its request began "
                         "is cut (clients resume with Range); keep it below the metadata "
                         "service's --garbage-grace, which it protects (0: never)",
                         &conf.max_get_ms),
    CN_CONF_OPT_SIZE("pack-max", "4M", 0, 16 << 20,
                     "objects above --inline-max and up to this size (with a known "
                     "Content-Length) are appended, many per batch, into packed chunk groups "
                     "instead of a group each (0: off)",
                     &conf.pack_max),
    CN_CONF_OPT_SIZE("pack-unit", "4K", 512, 64 << 10,
                     "stripe unit of packed groups (divides 64K); each packed object is padded "
                     "to whole stripes of K x this",
                     &conf.pack_unit),
    CN_CONF_OPT_DURATION("pack-wait", "2ms", 0, 1000,
                         "a packed batch waits at most this long for more objects after its "
                         "first",
                         &conf.pack_wait_ms),
    CN_CONF_OPT_SIZE("pack-batch", "8M", 64 << 10, 16 << 20,
                     "max object bytes of one packed batch (one append per fragment, one "
                     "metadata commit); at least --pack-max",
                     &conf.pack_batch),
    CN_CONF_OPT_DURATION("pack-idle", "5s", 100, 3600 * 1000,
                         "an open packed group without appends this long is sealed",
                         &conf.pack_idle_ms),
    CN_CONF_OPT_SIZE("pack-group-fragment", "0", 0, INT64_C(1) << 40,
                     "max bytes of one fragment of a packed group; it is sealed when full (0: "
                     "--group-fragment)",
                     &conf.pack_group_fragment),
    CN_CONF_OPT_INT("pack-lanes", "4", 1, 8,
                    "open packed groups per scheme, each with a batch in flight (one collects "
                    "while another appends)",
                    &conf.pack_lanes),
    CN_CONF_OPT_INT("meta-batch", "2", 0, 64,
                    "metadata batches in flight: requests of all client connections go to the "
                    "metadata leader together, several per HTTP request and Paxos slot, while "
                    "this many batches are being answered (0: one request each)",
                    &conf.meta_batch),
    CN_CONF_OPT_DURATION("sigv4-max-skew", "15m", 1000, 7 * 24 * 3600 * 1000LL,
                         "accepted clock difference of SigV4-signed client requests",
                         &conf.sigv4_max_skew_ms),
};

static const struct cn_config_table table = {
    .program = "cairn-gateway",
    .summary = "The Cairn S3 gateway: serves the S3 API over the erasure-coded data path.",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

/* Reads "AK SK" or "AK:SK" from path into *ak / *sk (malloc'd). */
static int read_credentials(const char *path, char **ak, char **sk)
{
    char *text = NULL;
    size_t len;
    int rc = cn_read_file(path, 4096, &text, &len);
    if (rc != 0)
        return rc;
    char *save = NULL;
    char *a = strtok_r(text, " \t\r\n:", &save);
    char *s = a ? strtok_r(NULL, " \t\r\n:", &save) : NULL;
    rc = CAIRN_E_INVAL;
    if (a && s) {
        *ak = strdup(a);
        *sk = strdup(s);
        rc = *ak && *sk ? 0 : CAIRN_E_NOMEM;
    }
    memset(text, 0, len);
    free(text);
    return rc;
}

/* Creates, routes and starts one listener of the gateway on port (TLS when
 * cert and key are given). *out owned by the caller. Returns 0 or the
 * server's error. */
static int start_listener(const struct cn_http_server_opts *base, uint16_t port, const char *cert,
                          const char *key, struct gw_status *status, struct gw_s3 *s3,
                          struct cn_http_server **out)
{
    struct cn_http_server_opts o = *base;
    o.port = port;
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    struct cn_http_server *srv = NULL;
    int rc = cn_http_server_new(&o, &srv);
    if (rc == 0)
        rc = gw_status_register(status, srv);
    if (rc == 0)
        rc = gw_s3_register(s3, srv);
    if (rc == 0)
        rc = cn_http_server_start(srv);
    if (rc != 0) {
        cn_http_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

/* Reads the PEM files of --tls-cert / --tls-key (malloc'ed, NUL-terminated).
 * Returns 0 (both NULL when TLS is not configured) or a CAIRN_E_* code with
 * a message on stderr. */
static int read_tls_files(char **cert, char **key)
{
    *cert = *key = NULL;
    if (!conf.tls_cert[0] && !conf.tls_key[0])
        return 0;
    if (!conf.tls_cert[0] || !conf.tls_key[0]) {
        fprintf(stderr, "cairn-gateway: give both --tls-cert and --tls-key\n");
        return CAIRN_E_INVAL;
    }
    size_t len;
    int rc = cn_read_file(conf.tls_cert, 1 << 20, cert, &len);
    if (rc != 0) {
        fprintf(stderr, "cairn-gateway: --tls-cert %s: %s\n", conf.tls_cert, cairn_strerror(rc));
        return rc;
    }
    rc = cn_read_file(conf.tls_key, 1 << 20, key, &len);
    if (rc != 0) {
        fprintf(stderr, "cairn-gateway: --tls-key %s: %s\n", conf.tls_key, cairn_strerror(rc));
        free(*cert);
        *cert = NULL;
        return rc;
    }
    if (!strstr(*cert, "-----BEGIN") || !strstr(*key, "-----BEGIN")) {
        fprintf(stderr, "cairn-gateway: --tls-cert and --tls-key must be PEM files\n");
        free(*cert);
        memset(*key, 0, len);
        free(*key);
        *cert = *key = NULL;
        return CAIRN_E_INVAL;
    }
    if (!cn_http_server_tls_supported()) {
        fprintf(stderr, "cairn-gateway: this libmicrohttpd has no TLS support\n");
        free(*cert);
        memset(*key, 0, len);
        free(*key);
        *cert = *key = NULL;
        return CAIRN_E_UNSUPPORTED;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = cn_signals_block();
    if (rc != 0) {
        fprintf(stderr, "cairn-gateway: cannot block signals\n");
        return 1;
    }
    rc = cn_config_load(&table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        cn_config_release(&table);
        return 2;
    }
    int exit_code = 1;
    enum cn_log_level lvl;
    if (cn_log_parse_level(conf.log_level, &lvl) != 0) {
        fprintf(stderr, "cairn-gateway: --log-level: unknown level '%s'\n", conf.log_level);
        cn_config_release(&table);
        return 2;
    }
    cn_log_set_level(lvl);
    unsigned k = 0, m = 0;
    char extra;
    if (sscanf(conf.default_scheme, "%u+%u%c", &k, &m, &extra) != 2) {
        fprintf(stderr, "cairn-gateway: --default-scheme: expected K+M, got '%s'\n",
                conf.default_scheme);
        cn_config_release(&table);
        return 2;
    }
    if (conf.group_fragment % conf.unit != 0) {
        fprintf(stderr, "cairn-gateway: --group-fragment must be a multiple of --unit\n");
        cn_config_release(&table);
        return 2;
    }
    if (conf.meta.n == 0 || conf.meta.n > 16) {
        fprintf(stderr, "cairn-gateway: --meta: give 1..16 replica URLs\n");
        cn_config_release(&table);
        return 2;
    }
    char *ak = NULL, *sk = NULL;
    if (conf.credentials_file[0]) {
        rc = read_credentials(conf.credentials_file, &ak, &sk);
        if (rc != 0) {
            fprintf(stderr, "cairn-gateway: --credentials-file %s: %s\n", conf.credentials_file,
                    cairn_strerror(rc));
            cn_config_release(&table);
            return 2;
        }
    } else if (conf.access_key[0] || conf.secret_key[0]) {
        if (!conf.access_key[0] || !conf.secret_key[0]) {
            fprintf(stderr, "cairn-gateway: give both --access-key and --secret-key\n");
            cn_config_release(&table);
            return 2;
        }
        ak = strdup(conf.access_key);
        sk = strdup(conf.secret_key);
    }

    char *tls_cert = NULL, *tls_key = NULL;
    if (read_tls_files(&tls_cert, &tls_key) != 0) {
        free(ak);
        free(sk);
        cn_config_release(&table);
        return 2;
    }
    if (!tls_cert && conf.http_port >= 0)
        CN_WARN(MOD, "--http-port is for a gateway serving HTTPS: ignored");

    gw_xml_init();
    cn_http_global_init();

    struct cn_http_server_opts sopts;
    struct cn_auth *auth = NULL;
    struct gw_ctx *data = NULL;
    struct gw_s3 *s3 = NULL;
    struct gw_pack *pack = NULL;
    struct gw_keycache *keys = NULL;
    struct gw_status *status = NULL;
    struct cn_http_server *srv = NULL, *plain = NULL;
    net.role = CN_ROLE_GATEWAY;
    rc = cn_http_daemon_setup(&net, MOD, &sopts, &auth);
    if (rc != 0) {
        CN_ERROR(MOD, "cluster secret: %s", cairn_strerror(rc));
        goto err_after_config;
    }
    struct gw_ctx_opts dopts = {.meta_urls = (const char *const *)conf.meta.items,
                                .n_meta = conf.meta.n,
                                .auth = auth,
                                .write_quorum_extra = (uint32_t)conf.write_quorum_extra,
                                .fragment_timeout_ms = conf.fragment_timeout_ms,
                                .memory_budget = (uint64_t)conf.data_memory,
                                .meta_batch = (uint32_t)conf.meta_batch};
    rc = gw_ctx_new(&dopts, &data);
    if (rc != 0) {
        CN_ERROR(MOD, "data path: %s", cairn_strerror(rc));
        goto err_after_auth;
    }
    if (conf.pack_max > 0 && conf.pack_batch < conf.pack_max) {
        CN_ERROR(MOD, "--pack-batch must be at least --pack-max");
        goto err_after_data;
    }
    char writer[128];
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(writer, sizeof(writer), "%s/%d", host, (int)getpid());
    struct gw_pack_opts popts = {
        .max = (uint64_t)conf.pack_max,
        .unit = (uint32_t)conf.pack_unit,
        .wait_us = conf.pack_wait_ms * 1000,
        .batch_max = (uint64_t)conf.pack_batch,
        .idle_ms = conf.pack_idle_ms,
        .group_fragment =
            (uint64_t)(conf.pack_group_fragment ? conf.pack_group_fragment : conf.group_fragment),
        .lanes = (uint32_t)conf.pack_lanes,
        .writer = writer};
    rc = gw_pack_new(data, &popts, &pack);
    if (rc != 0) {
        CN_ERROR(MOD, "packer: %s (check --pack-unit: it divides 64K)", cairn_strerror(rc));
        goto err_after_data;
    }
    struct gw_keycache_opts kopts = {
        .data = data, .root_ak = ak, .root_sk = sk, .refresh_ms = conf.auth_refresh_ms};
    rc = gw_keycache_new(&kopts, &keys);
    if (rc != 0) {
        CN_ERROR(MOD, "access key cache: %s", cairn_strerror(rc));
        goto err_after_data;
    }
    struct gw_s3_config scfg = {.region = conf.region,
                                .base_domain = conf.base_domain,
                                .root_access_key = ak,
                                .root_secret_key = sk,
                                .inline_max = (uint64_t)conf.inline_max,
                                .default_k = k,
                                .default_m = m,
                                .unit = (uint32_t)conf.unit,
                                .group_fragment = (uint64_t)conf.group_fragment,
                                .max_object_size = (uint64_t)conf.max_object_size,
                                .max_skew_s = (conf.sigv4_max_skew_ms + 999) / 1000,
                                .keys = keys,
                                .anon_cache_ms = conf.anon_cache_ms,
                                .max_get_ms = conf.max_get_ms,
                                .pack = pack};
    rc = gw_s3_new(&scfg, data, &s3);
    if (rc != 0) {
        CN_ERROR(MOD, "S3 front end: %s (check --default-scheme, --unit, --group-fragment)",
                 cairn_strerror(rc));
        goto err_after_data;
    }
    struct gw_status_config stcfg = {.meta_urls = (const char *const *)conf.meta.items,
                                     .n_meta = conf.meta.n,
                                     .auth = auth,
                                     .data = data,
                                     .root_access_key = ak,
                                     .root_secret_key = sk,
                                     .region = conf.region,
                                     .max_skew_s = (conf.sigv4_max_skew_ms + 999) / 1000,
                                     .keys = keys};
    rc = gw_status_new(&stcfg, &status);
    if (rc != 0) {
        CN_ERROR(MOD, "status page: %s", cairn_strerror(rc));
        goto err_after_s3;
    }
    if (!ak)
        CN_WARN(MOD, "no root access key configured: only keys stored in the metadata "
                     "service are accepted");
    sopts.log_module = MOD;
    sopts.per_ip_limit = (unsigned)conf.per_ip_connections;
    sopts.header_timeout_ms = (unsigned)conf.header_timeout_ms;
    rc = start_listener(&sopts, sopts.port, tls_cert, tls_key, status, s3, &srv);
    if (rc != 0) {
        CN_ERROR(MOD, "cannot serve on %s:%" PRId64 ": %s", net.listen, net.port,
                 cairn_strerror(rc));
        goto err_after_s3;
    }
    if (tls_cert && conf.http_port >= 0) {
        rc = start_listener(&sopts, (uint16_t)conf.http_port, NULL, NULL, status, s3, &plain);
        if (rc != 0) {
            CN_ERROR(MOD, "cannot serve plain HTTP on %s:%" PRId64 ": %s", net.listen,
                     conf.http_port, cairn_strerror(rc));
            goto err_after_s3;
        }
        CN_INFO(MOD, "also serving S3 on http://%s:%u", net.listen,
                (unsigned)cn_http_server_port(plain));
    }
    uint16_t port = cn_http_server_port(srv);
    CN_INFO(MOD,
            "serving S3 on %s://%s:%u (region %s, scheme %u+%u, unit %" PRId64
            ", inline <= %" PRId64 " bytes)",
            tls_cert ? "https" : "http", net.listen, (unsigned)port, conf.region, k, m, conf.unit,
            conf.inline_max);
    if (conf.port_file[0] && cn_write_port_file(conf.port_file, port) != 0)
        CN_WARN(MOD, "cannot write --port-file %s", conf.port_file);

    int signo = 0;
    cn_signals_wait(&signo);
    CN_INFO(MOD, "signal %d: stopping", signo);
    exit_code = 0;

err_after_s3:
    cn_http_server_free(plain);
    cn_http_server_free(srv);
    gw_status_free(status);
    gw_s3_free(s3);
err_after_data:
    gw_keycache_free(keys);
    gw_pack_free(pack); /* after the servers: no request is waiting in it */
    gw_ctx_free(data);
err_after_auth:
    cn_auth_free(auth);
err_after_config:
    free(tls_cert);
    if (tls_key) {
        memset(tls_key, 0, strlen(tls_key));
        free(tls_key);
    }
    if (sk) {
        memset(sk, 0, strlen(sk));
        free(sk);
    }
    free(ak);
    cn_config_release(&table);
    return exit_code;
}
