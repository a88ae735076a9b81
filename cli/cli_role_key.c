#include "cli_role_key.h"

#include "cn_auth.h"
#include "cn_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int cli_role_key(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        fputs("usage: cairn role-key meta|chunk|gateway|admin > FILE\n"
              "The key file of one role, derived from the cluster secret: give it to that\n"
              "daemon's --cluster-secret-file instead of the secret. It holds only the keys of\n"
              "the links that role uses, so a stolen gateway key cannot sign Paxos messages\n"
              "(docs/security.md). Keep it private (chmod 600).\n",
              stdout);
        return CLI_EXIT_OK;
    }
    enum cn_role role;
    if (argc != 2 || cn_role_parse(argv[1], strlen(argv[1]), &role) != 0) {
        fprintf(stderr, "cairn role-key: one role is required: meta, chunk, gateway or admin\n");
        return CLI_EXIT_USAGE;
    }
    if (g->secret_len >= 16 && !strncmp(g->secret, "cairn-role-key", 14)) {
        fprintf(stderr, "cairn role-key: needs the cluster secret, not a role key file\n");
        return CLI_EXIT_USAGE;
    }
    char *text = NULL;
    int rc = cn_auth_role_key_file(g->secret, g->secret_len, role, &text);
    if (rc != 0) {
        fprintf(stderr, "cairn role-key: %s\n", cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    int ok = fputs(text, stdout) >= 0 && fflush(stdout) == 0;
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
