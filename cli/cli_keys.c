#include "cli_keys.h"

#include "cli_format.h"
#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn keys create USER [--admin] [--json]\n"
                 "       cairn keys list [--user USER] [--json]\n"
                 "       cairn keys delete KEY_ID | disable KEY_ID | enable KEY_ID\n"
                 "S3 access keys kept in the metadata service; each belongs to a user (an\n"
                 "account that owns buckets). create makes USER too if it does not exist yet\n"
                 "and prints the 'access key', 'secret key' and 'owner' lines; --admin keys\n"
                 "may also read the gateway's status page. A disabled key is refused like an\n"
                 "unknown one until it is enabled again. The gateway's root key comes from its\n"
                 "own configuration and is the operator's (docs/security.md).\n");
}

/* n characters of alphabet into out (n + 1 bytes, n <= 64), at random. */
static void random_text(char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet);
    uint8_t rnd[64];
    cn_random_bytes(rnd, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % al];
    out[n] = 0;
}

/* A new key for owner: 20 characters of A-Z0-9 for its id, 40 of
 * base64-ish for its secret. */
static int keys_create(struct md_client *c, const char *owner, int admin, int json, char *why,
                       size_t why_len)
{
    char id[21], secret[41];
    random_text(id, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    random_text(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_create_access_key(md_client_id(c), seq, id, secret, owner, admin, cn_wall_ms(),
                                      &cmd, &len);
    rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, why_len);
    if (rc != 0)
        return rc;
    if (json) {
        printf("{\"access_key\":");
        cli_json_str(id);
        printf(",\"secret_key\":");
        cli_json_str(secret);
        printf(",\"owner\":");
        cli_json_str(owner);
        printf(",\"admin\":%s}\n", admin ? "true" : "false");
    } else {
        printf("access key %s\nsecret key %s\nowner %s%s\n", id, secret, owner,
               admin ? " (admin)" : "");
    }
    return 0;
}

/* delete, disable or enable one key. */
static int keys_change(struct md_client *c, const char *sub, const char *key_id, char *why,
                       size_t why_len)
{
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = !strcmp(sub, "delete")
                 ? md_cmd_delete_access_key(md_client_id(c), seq, key_id, &cmd, &len)
                 : md_cmd_set_key_state(md_client_id(c), seq, key_id, !strcmp(sub, "disable"), &cmd,
                                        &len);
    rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, why_len);
    if (rc == 0)
        printf("%s %s\n",
               !strcmp(sub, "delete") ? "deleted"
               : sub[0] == 'd'        ? "disabled"
                                      : "enabled",
               key_id);
    return rc;
}

static int keys_list(struct md_client *c, const char *user, int json)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_list_access_keys_of(user, &q, &qlen);
    rc = cli_meta_query(c, rc, q, qlen, &r);
    if (rc != 0)
        return rc;
    if (!json)
        printf("%-22s %-20s %s\n", "access key", "owner", "created");
    else
        printf("[");
    for (size_t i = 0; i < r->n_access_keys; i++) {
        const Md__AccessKeyRecord *k = r->access_keys[i];
        char when[32];
        cli_utc(k->created_ms, when, sizeof(when));
        if (json) {
            printf("%s{\"access_key\":", i ? "," : "");
            cli_json_str(k->key_id);
            printf(",\"owner\":");
            cli_json_str(k->owner);
            printf(",\"created\":\"%s\",\"admin\":%s,\"disabled\":%s}", when,
                   k->admin ? "true" : "false", k->disabled ? "true" : "false");
        } else {
            printf("%-22s %-20s %s%s%s\n", k->key_id, k->owner, when, k->admin ? " admin" : "",
                   k->disabled ? " disabled" : "");
        }
    }
    if (json)
        printf("]\n");
    rc = r->status;
    md__query_result__free_unpacked(r, NULL);
    return rc;
}

int cli_keys(struct cli_global *g, int argc, char **argv)
{
    if (g->help || argc < 2) {
        usage(g->help ? stdout : stderr);
        return g->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const char *sub = argv[1], *arg = NULL, *user = NULL;
    int admin = 0, json = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--admin"))
            admin = 1;
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--user") && i + 1 < argc)
            user = argv[++i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else
            bad = 1;
    }
    int create = !strcmp(sub, "create") && arg;
    int change = (!strcmp(sub, "delete") || !strcmp(sub, "disable") || !strcmp(sub, "enable")) &&
                 arg && !admin && !json && !user;
    int list = !strcmp(sub, "list") && !arg && !admin;
    if (bad || (!create && !change && !list) || (create && user)) {
        fprintf(stderr, "cairn keys: unknown or incomplete command (see cairn keys --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    char why[256] = "";
    int rc = create   ? keys_create(c, arg, admin, json, why, sizeof(why))
             : change ? keys_change(c, sub, arg, why, sizeof(why))
                      : keys_list(c, user, json);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn keys: %s\n", why[0] ? why : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}
