#include "cli_compact.h"

#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn compact [--below PERCENT]\n"
                 "The metadata leader's compactor makes a pass over the packed groups now and\n"
                 "rewrites each sealed group whose live bytes are below its --compact-below\n"
                 "(or PERCENT) of the group's data, at its --compact-rate; prints the number of\n"
                 "groups compacted when the pass is over. `cairn status` shows live and dead\n"
                 "bytes of the packed groups and the compactor's progress.\n");
}

int cli_compact(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    uint64_t below = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--below") && i + 1 < argc &&
            cn_parse_u64(argv[i + 1], 100, &below) == 0 && below > 0) {
            i++;
            continue;
        }
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    /* a pass copies at the leader's --compact-rate: give it an hour */
    struct md_client *c = cli_meta_client(g, 3600 * 1000);
    if (!c)
        return CLI_EXIT_FAILED;
    uint64_t n = 0;
    int rc = md_client_compact(c, (unsigned)below, &n);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn compact: %s\n", cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    printf("compacted %" PRIu64 " packed group(s)\n", n);
    return CLI_EXIT_OK;
}
