/* cairn-gateway: the Cairn S3 gateway.
 *
 * Startup order (each step needs the ones before it):
 *   1. signals blocked (every thread inherits the mask), configuration, log level
 *   2. libxml2 and libcurl process-wide initialisation (before any thread)
 *   3. the cluster secret (internal calls to metadata and chunkservers)
 *   4. the data path context (gw_data), then the S3 front end (gw_s3) and the
 *      status page (gw_status, GET /_cairn/status)
 *   5. the HTTP server, last (the status route is registered before the S3
 *      catch-all route, which would take its path)
 * and shutdown runs it backwards on SIGINT or SIGTERM. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_data.h"
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

    gw_xml_init();
    cn_http_global_init();

    struct cn_http_server_opts sopts;
    struct cn_auth *auth = NULL;
    struct gw_ctx *data = NULL;
    struct gw_s3 *s3 = NULL;
    struct gw_status *status = NULL;
    struct cn_http_server *srv = NULL;
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
                                .fragment_timeout_ms = conf.fragment_timeout_ms};
    rc = gw_ctx_new(&dopts, &data);
    if (rc != 0) {
        CN_ERROR(MOD, "data path: %s", cairn_strerror(rc));
        goto err_after_auth;
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
                                .max_object_size = (uint64_t)conf.max_object_size};
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
                                     .region = conf.region};
    rc = gw_status_new(&stcfg, &status);
    if (rc != 0) {
        CN_ERROR(MOD, "status page: %s", cairn_strerror(rc));
        goto err_after_s3;
    }
    if (!ak)
        CN_WARN(MOD, "no root access key configured: only keys stored in the metadata "
                     "service are accepted");
    sopts.log_module = MOD;
    rc = cn_http_server_new(&sopts, &srv);
    if (rc == 0)
        rc = gw_status_register(status, srv);
    if (rc == 0)
        rc = gw_s3_register(s3, srv);
    if (rc == 0)
        rc = cn_http_server_start(srv);
    if (rc != 0) {
        CN_ERROR(MOD, "cannot serve on %s:%" PRId64 ": %s", net.listen, net.port,
                 cairn_strerror(rc));
        goto err_after_s3;
    }
    uint16_t port = cn_http_server_port(srv);
    CN_INFO(MOD,
            "serving S3 on http://%s:%u (region %s, scheme %u+%u, unit %" PRId64
            ", inline <= %" PRId64 " bytes)",
            net.listen, (unsigned)port, conf.region, k, m, conf.unit, conf.inline_max);
    if (conf.port_file[0] && cn_write_port_file(conf.port_file, port) != 0)
        CN_WARN(MOD, "cannot write --port-file %s", conf.port_file);

    int signo = 0;
    cn_signals_wait(&signo);
    CN_INFO(MOD, "signal %d: stopping", signo);
    exit_code = 0;

err_after_s3:
    cn_http_server_free(srv);
    gw_status_free(status);
    gw_s3_free(s3);
err_after_data:
    gw_ctx_free(data);
err_after_auth:
    cn_auth_free(auth);
err_after_config:
    if (sk) {
        memset(sk, 0, strlen(sk));
        free(sk);
    }
    free(ak);
    cn_config_release(&table);
    return exit_code;
}
