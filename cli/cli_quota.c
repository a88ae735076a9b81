#include "cli_quota.h"

#include "cli_format.h"
#include "cli_meta.h"
#include "cn_config.h"
#include "cn_error.h"
#include "md_client.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn quota set (--user NAME | --bucket NAME) [--max-bytes SIZE]\n"
                 "                       [--max-objects N]\n"
                 "       cairn quota show (--user NAME | --bucket NAME) [--json]\n"
                 "Limits on what a user (over all its buckets) or one bucket may hold. SIZE\n"
                 "takes K, M, G, T suffixes (powers of 1024); 0 or 'none' removes a limit, and\n"
                 "set replaces both limits (one not given becomes 0). A PUT or multipart\n"
                 "completion that would go over a limit fails with 403 QuotaExceeded and\n"
                 "stores nothing. Usage counts committed objects, not uploads in progress.\n");
}

/* "none" or a size/number. */
static int parse_limit(const char *text, int size, uint64_t *out)
{
    int64_t v;
    if (!strcmp(text, "none")) {
        *out = 0;
        return 0;
    }
    int rc = size ? cn_config_parse_size(text, &v) : cn_config_parse_int(text, &v);
    if (rc != 0 || v < 0)
        return CAIRN_E_INVAL;
    *out = (uint64_t)v;
    return 0;
}

static void print_pair(const char *what, const char *name, const Md__Quota *q, const Md__Usage *u,
                       int json)
{
    unsigned long long qb = q ? q->max_bytes : 0, qo = q ? q->max_objects : 0;
    unsigned long long ub = u ? u->bytes : 0, uo = u ? u->objects : 0;
    if (json) {
        printf("{\"%s\":", what);
        cli_json_str(name);
        printf(",\"usage\":{\"bytes\":%llu,\"objects\":%llu},\"quota\":{\"max_bytes\":%llu,"
               "\"max_objects\":%llu}}\n",
               ub, uo, qb, qo);
        return;
    }
    char used[32], limit[32] = "none";
    cli_human(ub, used, sizeof(used));
    if (qb)
        cli_human(qb, limit, sizeof(limit));
    printf("%s %s\nbytes %s (%llu) of %s\nobjects %llu of ", what, name, used, ub, limit, uo);
    if (qo)
        printf("%llu\n", qo);
    else
        printf("none\n");
}

static int quota_show(struct md_client *c, const char *user, const char *bucket, int json,
                      char *why, size_t why_len)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = user ? md_q_get_user(user, &q, &qlen) : md_q_head_bucket(bucket, &q, &qlen);
    rc = cli_meta_query(c, rc, q, qlen, &r);
    if (rc != 0)
        return rc;
    rc = r->status;
    if (r->reason == MD__REASON__R_NO_SUCH_USER || r->reason == MD__REASON__R_NO_SUCH_BUCKET)
        snprintf(why, why_len, "no such %s: %s", user ? "user" : "bucket", user ? user : bucket);
    if (rc == 0 && user && r->user)
        print_pair("user", user, r->user->quota, r->user->usage, json);
    else if (rc == 0 && bucket && r->bucket)
        print_pair("bucket", bucket, r->bucket->quota, r->bucket->usage, json);
    md__query_result__free_unpacked(r, NULL);
    return rc;
}

int cli_quota(struct cli_global *g, int argc, char **argv)
{
    if (g->help || argc < 2) {
        usage(g->help ? stdout : stderr);
        return g->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const char *sub = argv[1], *user = NULL, *bucket = NULL;
    uint64_t max_bytes = 0, max_objects = 0;
    int json = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--user") && v && ++i)
            user = v;
        else if (!strcmp(a, "--bucket") && v && ++i)
            bucket = v;
        else if (!strcmp(a, "--max-bytes") && v && ++i)
            bad |= parse_limit(v, 1, &max_bytes) != 0;
        else if (!strcmp(a, "--max-objects") && v && ++i)
            bad |= parse_limit(v, 0, &max_objects) != 0;
        else
            bad = 1;
    }
    int set = !strcmp(sub, "set") && !json, show = !strcmp(sub, "show");
    if (bad || (!set && !show) || !user == !bucket) {
        fprintf(stderr, "cairn quota: name one of --user or --bucket, with valid limits "
                        "(see cairn quota --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    char why[256] = "";
    int rc;
    if (set) {
        uint64_t seq = md_client_next_seq(c);
        uint8_t *cmd = NULL;
        size_t len = 0;
        rc = md_cmd_set_quota(md_client_id(c), seq, user, bucket, max_bytes, max_objects, &cmd,
                              &len);
        rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, sizeof(why));
        if (rc == 0)
            rc = quota_show(c, user, bucket, 0, why, sizeof(why));
    } else {
        rc = quota_show(c, user, bucket, json, why, sizeof(why));
    }
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn quota: %s\n", why[0] ? why : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}
