#include "cli_state_hash.h"

#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"

#include <stdio.h>
#include <string.h>

int cli_state_hash(struct cli_global *g, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (g->help) {
        fputs("usage: cairn state-hash\n"
              "Applied slot and state hash of the first --meta replica: two replicas\n"
              "with the same slot and hash hold identical state.\n",
              stdout);
        return CLI_EXIT_OK;
    }
    struct cn_http_client *h;
    if (g->n_replicas == 0 || cli_http_client(g, 5000, &h) != 0)
        return CLI_EXIT_FAILED;
    struct cn_http_request req = {.method = "GET",
                                  .base_url = g->replicas[0],
                                  .target = CN_ROUTE_MD_STATUS "?" CN_QUERY_MD_STATUS_HASH};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(h, &req, &resp);
    int exit_status = CLI_EXIT_FAILED;
    if (rc == 0 && resp.status == 200 && resp.body) {
        char applied[24], hash[80];
        cn_kv_get(resp.body, "applied", applied, sizeof(applied));
        cn_kv_get(resp.body, "state_hash", hash, sizeof(hash));
        printf("applied %s hash %s\n", applied, hash);
        exit_status = strcmp(hash, "-") == 0 ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    } else {
        fprintf(stderr, "cairn state-hash: %s unreachable (%s, HTTP %d)\n", g->replicas[0],
                rc ? cairn_strerror(rc) : "error", resp.status);
    }
    cn_http_response_clear(&resp);
    cn_http_client_free(h);
    return exit_status;
}
