#include "cli_keys.h"

#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn keys create OWNER [--admin] | list | delete KEY_ID\n"
                 "S3 access keys kept in the metadata service (the gateway's root key comes\n"
                 "from its own configuration).\n");
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
static int keys_create(struct md_client *c, const char *owner, int admin)
{
    char id[21], secret[41];
    random_text(id, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    random_text(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_create_access_key(md_client_id(c), seq, id, secret, owner, admin, cn_wall_ms(),
                                      &cmd, &len);
    rc = cli_meta_commit(c, seq, rc, cmd, len);
    if (rc == 0)
        printf("access key %s\nsecret key %s\nowner %s%s\n", id, secret, owner,
               admin ? " (admin)" : "");
    return rc;
}

static int keys_delete(struct md_client *c, const char *key_id)
{
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_delete_access_key(md_client_id(c), seq, key_id, &cmd, &len);
    rc = cli_meta_commit(c, seq, rc, cmd, len);
    if (rc == 0)
        printf("deleted %s\n", key_id);
    return rc;
}

static int keys_list(struct md_client *c)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_list_access_keys(&q, &qlen);
    rc = cli_meta_query(c, rc, q, qlen, &r);
    if (rc != 0)
        return rc;
    printf("%-22s %-20s %s\n", "access key", "owner", "created");
    for (size_t i = 0; i < r->n_access_keys; i++) {
        const Md__AccessKeyRecord *k = r->access_keys[i];
        time_t t = (time_t)(k->created_ms / 1000);
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-22s %-20s %s%s\n", k->key_id, k->owner, when, k->admin ? " admin" : "");
    }
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
    const char *sub = argv[1];
    int create = !strcmp(sub, "create") && argc >= 3;
    int delete = !strcmp(sub, "delete") && argc >= 3;
    if (!create && !delete &&strcmp(sub, "list") != 0) {
        fprintf(stderr, "cairn keys: unknown or incomplete command (see cairn keys --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    int rc = create   ? keys_create(c, argv[2], argc >= 4 && !strcmp(argv[3], "--admin"))
             : delete ? keys_delete(c, argv[2])
                      : keys_list(c);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn keys: %s\n", cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}
