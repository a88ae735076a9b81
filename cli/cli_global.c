/* cli_global.c: `cairn`'s global options table and the clients (metadata,
 * HTTP) made from them. */
#include "cli_global.h"

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_tls.h"
#include "cn_util.h"
#include "md_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static struct {
    struct cn_config_list meta;
    char *secret_file;
    char *secret;
    struct cn_tls_config tls;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_LIST("meta", "http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003",
                     "metadata replicas, comma-separated base URLs (or CAIRN_META)", &conf.meta),
    CN_CONF_OPT_STRING("cluster-secret-file", "",
                       "file holding the cluster secret, or the admin role key "
                       "(`cairn role-key admin`)",
                       &conf.secret_file),
    CN_CONF_OPT_STRING("secret", "", "the cluster secret itself (prefer --cluster-secret-file)",
                       &conf.secret),
    CN_TLS_INTERNAL_OPTIONS(&conf.tls),
};

static const struct cn_config_table table = {
    .program = "cairn",
    .summary = "Cairn admin tool: cairn [options] COMMAND [command options]",
    .args_usage = "COMMAND [ARGS]",
    .options = options,
    .n_options = sizeof(options) / sizeof(options[0]),
};

int cli_global_load(struct cli_global *g, int argc, char **argv, int *next)
{
    memset(g, 0, sizeof(*g));
    char err[512] = "";
    int rc = cn_config_load(&table, argc, argv, next, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return rc;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return rc;
    }
    /* CAIRN_META (as scripts/cluster.sh's cluster.env exports it) stands in
     * for --meta when the flag is not given. */
    int meta_flag = 0;
    for (int i = 1; i < *next; i++)
        meta_flag |= !strncmp(argv[i], "--meta", 6);
    const char *env = getenv("CAIRN_META");
    if (!meta_flag && env && *env) {
        char *copy = strdup(env);
        for (char *t = copy ? strtok(copy, ",") : NULL; t && g->n_replicas < 16;
             t = strtok(NULL, ","))
            g->replicas[g->n_replicas++] = strdup(t);
        free(copy);
    } else {
        for (size_t i = 0; i < conf.meta.n && i < 16; i++)
            g->replicas[g->n_replicas++] = strdup(conf.meta.items[i]);
    }
    /* `cairn COMMAND --help` needs no cluster secret: the command prints its
     * usage before it talks to anything. */
    for (int i = *next; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            g->help = 1;
            cn_config_release(&table);
            return 0;
        }
    }
    /* The CLI signs as the admin role (cn_roles.h). The text stays for
     * `cairn role-key`. */
    const char *env_secret = getenv("CAIRN_SECRET");
    if (*conf.secret_file)
        rc = cn_read_file(conf.secret_file, CN_AUTH_MAX_SECRET + 4096, &g->secret, &g->secret_len);
    else if (*conf.secret || env_secret)
        rc = (g->secret = strdup(*conf.secret ? conf.secret : env_secret)) ? 0 : CAIRN_E_NOMEM;
    else
        rc = CAIRN_E_INVAL;
    if (rc == 0) {
        if (!g->secret_len)
            g->secret_len = strlen(g->secret);
        while (g->secret_len && isspace((unsigned char)g->secret[g->secret_len - 1]))
            g->secret[--g->secret_len] = '\0';
        rc = cn_auth_new_from_text(g->secret, g->secret_len, CN_ROLE_ADMIN, 0, &g->auth);
    }
    struct cn_tls *tls = NULL;
    if (rc == 0 && (rc = cn_tls_new(&conf.tls, "cairn", &tls)) == 0)
        cn_auth_set_tls(g->auth, tls);
    if (rc != 0) {
        fprintf(stderr,
                "cairn: the cluster secret is required (--cluster-secret-file, --secret or "
                "CAIRN_SECRET): %s\n",
                cairn_strerror(rc));
        cli_global_release(g);
        cn_config_release(&table);
        return rc;
    }
    cn_config_release(&table);
    return 0;
}

struct md_client *cli_meta_client(struct cli_global *g, int64_t timeout_ms)
{
    return cli_meta_client_batched(g, timeout_ms, NULL);
}

void cli_meta_opts(struct cli_global *g, int64_t timeout_ms, struct md_client_opts *o)
{
    *o = (struct md_client_opts){.replicas = (const char *const *)g->replicas,
                                 .n_replicas = g->n_replicas,
                                 .auth = g->auth,
                                 .timeout_ms = timeout_ms};
}

struct md_client *cli_meta_client_batched(struct cli_global *g, int64_t timeout_ms,
                                          struct md_batcher *batcher)
{
    struct md_client_opts o;
    cli_meta_opts(g, timeout_ms, &o);
    o.batcher = batcher;
    struct md_client *c = NULL;
    return md_client_new(&o, &c) == 0 ? c : NULL;
}

int cli_follow_group(struct cli_global *g)
{
    /* Short: without a leader, status still shows what each replica says. */
    struct md_client *c = cli_meta_client(g, 1500);
    struct md_members ms;
    int rc = c ? md_client_members(c, &ms) : CAIRN_E_NOMEM;
    md_client_free(c);
    if (rc != 0)
        return rc;
    char *urls[MD_CLIENT_MAX_REPLICAS];
    size_t n = 0;
    for (size_t i = 0; i < ms.n && n < sizeof(g->replicas) / sizeof(g->replicas[0]); i++)
        if ((urls[n] = strdup(ms.m[i].url)) != NULL)
            n++;
    if (n < ms.n) {
        while (n)
            free(urls[--n]);
        return CAIRN_E_NOMEM;
    }
    for (size_t i = 0; i < g->n_replicas; i++)
        free(g->replicas[i]);
    memcpy(g->replicas, urls, n * sizeof(urls[0]));
    g->n_replicas = n;
    return 0;
}

int cli_http_client(struct cli_global *g, int64_t timeout_ms, struct cn_http_client **out)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = timeout_ms};
    return cn_http_client_new(&o, out);
}

int cli_http_fanout(struct cli_global *g, int64_t timeout_ms, struct cn_http_fanout **out)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = timeout_ms};
    return cn_http_fanout_new(&o, out);
}

void cli_global_release(struct cli_global *g)
{
    for (size_t i = 0; i < g->n_replicas; i++)
        free(g->replicas[i]);
    g->n_replicas = 0;
    cn_auth_free(g->auth);
    g->auth = NULL;
    if (g->secret)
        OPENSSL_cleanse(g->secret, g->secret_len);
    free(g->secret);
    g->secret = NULL;
    g->secret_len = 0;
}
