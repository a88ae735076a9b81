#include "cli_user.h"

#include "cli_format.h"
#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn user create NAME [--json]\n"
                 "       cairn user list [--json]\n"
                 "       cairn user delete NAME\n"
                 "Users are the accounts of the store: each owns buckets and access keys and\n"
                 "sees only what it owns or was granted (docs/security.md). A name is 1-64 of\n"
                 "A-Z a-z 0-9 _ + = , . @ -; each user gets a random canonical id (its S3\n"
                 "Owner ID). A user that owns buckets is not deleted; its keys go with it.\n"
                 "cairn keys create USER makes the user too when it does not exist.\n");
}

static int user_create(struct md_client *c, const char *name, int json, char *why, size_t n)
{
    char id[MD_CANONICAL_ID_LEN + 1];
    int rc = md_new_canonical_id(id);
    if (rc)
        return rc;
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    rc = md_cmd_create_user(md_client_id(c), seq, name, id, cn_wall_ms(), &cmd, &len);
    rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, n);
    if (rc != 0)
        return rc;
    if (json) {
        printf("{\"user\":");
        cli_json_str(name);
        printf(",\"canonical_id\":\"%s\"}\n", id);
    } else {
        printf("user %s\ncanonical id %s\n", name, id);
    }
    return 0;
}

static int user_delete(struct md_client *c, const char *name, char *why, size_t n)
{
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_delete_user(md_client_id(c), seq, name, &cmd, &len);
    rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, n);
    if (rc == 0)
        printf("deleted user %s\n", name);
    return rc;
}

static int user_list(struct md_client *c, int json)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_list_users(&q, &qlen);
    rc = cli_meta_query(c, rc, q, qlen, &r);
    if (rc != 0)
        return rc;
    if (json)
        printf("[");
    else
        printf("%-24s %-12s %-10s %-12s %s\n", "user", "used", "objects", "quota", "created");
    for (size_t i = 0; i < r->n_users; i++) {
        const Md__UserRecord *u = r->users[i];
        uint64_t ub = u->usage ? u->usage->bytes : 0, uo = u->usage ? u->usage->objects : 0;
        uint64_t qb = u->quota ? u->quota->max_bytes : 0, qo = u->quota ? u->quota->max_objects : 0;
        char when[32];
        cli_utc(u->created_ms, when, sizeof(when));
        if (json) {
            printf("%s{\"user\":", i ? "," : "");
            cli_json_str(u->name);
            printf(",\"canonical_id\":\"%s\",\"created\":\"%s\",\"usage\":{\"bytes\":%llu,"
                   "\"objects\":%llu},\"quota\":{\"max_bytes\":%llu,\"max_objects\":%llu}}",
                   u->canonical_id, when, (unsigned long long)ub, (unsigned long long)uo,
                   (unsigned long long)qb, (unsigned long long)qo);
        } else {
            char used[32], quota[32] = "-";
            cli_human(ub, used, sizeof(used));
            if (qb)
                cli_human(qb, quota, sizeof(quota));
            printf("%-24s %-12s %-10llu %-12s %s\n", u->name, used, (unsigned long long)uo, quota,
                   when);
        }
    }
    if (json)
        printf("]\n");
    rc = r->status;
    md__query_result__free_unpacked(r, NULL);
    return rc;
}

int cli_user(struct cli_global *g, int argc, char **argv)
{
    if (g->help || argc < 2) {
        usage(g->help ? stdout : stderr);
        return g->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const char *sub = argv[1], *name = NULL;
    int json = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            bad = 1;
    }
    int create = !strcmp(sub, "create") && name;
    int delete = !strcmp(sub, "delete") && name && !json;
    int list = !strcmp(sub, "list") && !name;
    if (bad || (!create && !delete &&!list)) {
        fprintf(stderr, "cairn user: unknown or incomplete command (see cairn user --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    char why[256] = "";
    int rc = create   ? user_create(c, name, json, why, sizeof(why))
             : delete ? user_delete(c, name, why, sizeof(why))
                      : user_list(c, json);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn user: %s\n", why[0] ? why : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}
