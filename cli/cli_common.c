#include "cli_common.h"

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    struct cn_config_list meta;
    char *secret_file;
    char *secret;
} conf;

static const struct cn_config_option options[] = {
    CN_CONF_OPT_LIST("meta", "http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003",
                     "metadata replicas, comma-separated base URLs", &conf.meta),
    CN_CONF_OPT_STRING("cluster-secret-file", "", "file holding the cluster secret",
                       &conf.secret_file),
    CN_CONF_OPT_STRING("secret", "", "the cluster secret itself (prefer --cluster-secret-file)",
                       &conf.secret),
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
    for (size_t i = 0; i < conf.meta.n && i < 16; i++)
        g->replicas[g->n_replicas++] = strdup(conf.meta.items[i]);
    if (*conf.secret_file)
        rc = cn_auth_new_from_file(conf.secret_file, 0, &g->auth);
    else if (*conf.secret)
        rc = cn_auth_new(conf.secret, strlen(conf.secret), 0, &g->auth);
    else if (getenv("CAIRN_SECRET"))
        rc = cn_auth_new(getenv("CAIRN_SECRET"), strlen(getenv("CAIRN_SECRET")), 0, &g->auth);
    else
        rc = CAIRN_E_INVAL;
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

void cli_global_release(struct cli_global *g)
{
    for (size_t i = 0; i < g->n_replicas; i++)
        free(g->replicas[i]);
    g->n_replicas = 0;
    cn_auth_free(g->auth);
    g->auth = NULL;
}

/* Value of "name value" line in a /v1/status body, copied into out. */
static void field(const char *body, const char *name, char *out, size_t len)
{
    snprintf(out, len, "-");
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == ' ') {
            const char *v = p + nl + 1;
            size_t n = strcspn(v, "\n");
            snprintf(out, len, "%.*s", (int)n, v);
            return;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
}

int cli_status(struct cli_global *g)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = 2000};
    struct cn_http_client *h;
    if (cn_http_client_new(&o, &h) != 0)
        return 1;
    printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", "replica", "id", "role", "leader", "commit",
           "applied", "log_base");
    unsigned with_leader = 0;
    for (size_t i = 0; i < g->n_replicas; i++) {
        struct cn_http_request req = {
            .method = "GET", .base_url = g->replicas[i], .target = "/v1/status"};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(h, &req, &resp);
        if (rc != 0 || resp.status != 200 || !resp.body) {
            printf("%-28s unreachable (%s, HTTP %d)\n", g->replicas[i],
                   rc ? cairn_strerror(rc) : "error", resp.status);
        } else {
            char id[16], role[16], leader[16], commit[24], applied[24], base[24];
            field(resp.body, "id", id, sizeof(id));
            field(resp.body, "role", role, sizeof(role));
            field(resp.body, "leader", leader, sizeof(leader));
            field(resp.body, "commit", commit, sizeof(commit));
            field(resp.body, "applied", applied, sizeof(applied));
            field(resp.body, "log_base", base, sizeof(base));
            printf("%-28s %-4s %-12s %-7s %-10s %-10s %-10s\n", g->replicas[i], id, role, leader,
                   commit, applied, base);
            if (strcmp(leader, "0") != 0)
                with_leader++;
        }
        cn_http_response_clear(&resp);
    }
    cn_http_client_free(h);
    return with_leader * 2 > g->n_replicas ? 0 : 1;
}

int cli_state_hash(struct cli_global *g)
{
    struct cn_http_client_opts o = {.auth = g->auth, .timeout_ms = 5000};
    struct cn_http_client *h;
    if (g->n_replicas == 0 || cn_http_client_new(&o, &h) != 0)
        return 1;
    struct cn_http_request req = {
        .method = "GET", .base_url = g->replicas[0], .target = "/v1/status?hash=1"};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    int failed = 1;
    if (rc == 0 && resp.status == 200 && resp.body) {
        char applied[24], hash[80];
        field(resp.body, "applied", applied, sizeof(applied));
        field(resp.body, "state_hash", hash, sizeof(hash));
        printf("applied %s hash %s\n", applied, hash);
        failed = strcmp(hash, "-") == 0;
    } else {
        fprintf(stderr, "cairn state-hash: %s unreachable (%s, HTTP %d)\n", g->replicas[0],
                rc ? cairn_strerror(rc) : "error", resp.status);
    }
    cn_http_response_clear(&resp);
    cn_http_client_free(h);
    return failed;
}

int cli_repair(struct cli_global *g, const char *group_hex)
{
    struct md_client_opts o = {.replicas = (const char *const *)g->replicas,
                               .n_replicas = g->n_replicas,
                               .auth = g->auth,
                               .timeout_ms = 10000};
    struct md_client *c;
    if (md_client_new(&o, &c) != 0)
        return 1;
    char target[96];
    if (group_hex)
        snprintf(target, sizeof(target), "/v1/repair?group=%.32s", group_hex);
    else
        snprintf(target, sizeof(target), "/v1/repair");
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = md_client_post(c, target, "", 0, &res, &rlen);
    free(res);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn repair: %s\n", cairn_strerror(rc));
        return 1;
    }
    printf(group_hex ? "repair of group %s queued first\n" : "rescan started%s\n",
           group_hex ? group_hex : "");
    return 0;
}
