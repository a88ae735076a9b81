/* cairn: the Cairn admin tool.
 *
 *   cairn [global options] COMMAND [ARGS]
 *
 * COMMAND: status, state-hash, locate, repair, scrub, drain, keys, bench meta
 * (`cairn --help` lists them; each says its usage with --help).
 *
 * Global options name the metadata replicas and the cluster secret; see
 * `cairn --help`. */
#include "cli_bench.h"
#include "cli_common.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "\ncommands:\n"
                 "  status [--json]        metadata replicas (role, leader, commit, applied),\n"
                 "                         chunkservers (state, liveness, space), repair queue\n"
                 "  state-hash             applied slot and state hash of the first --meta\n"
                 "                         replica (equal on two replicas = identical state)\n"
                 "  bench meta [options]   committed commands/s and latency of the metadata\n"
                 "                         group, next to one fdatasync (cairn bench meta --help)\n"
                 "  repair [GROUP] [--wait]  rescan for degraded groups now (or one chunk group\n"
                 "                         first); --wait follows it until fully redundant\n"
                 "  drain ID [--no-wait]   move every fragment off chunkserver ID, then\n"
                 "                         retire it (progress shown)\n"
                 "  locate BUCKET KEY      chunk groups of an object and where each fragment is\n"
                 "  keys create OWNER [--admin] | list | delete ID   S3 access keys\n"
                 "  scrub [--wait]         check every fragment's CRCs now on every chunkserver\n");
}

int main(int argc, char **argv)
{
    struct cli_global g;
    int next = 0;
    int rc = cli_global_load(&g, argc, argv, &next);
    if (rc == CN_CONFIG_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return 2;
    if (next >= argc) {
        fprintf(stderr, "cairn: a command is required (see --help)\n");
        return 2;
    }
    const char *cmd = argv[next];
    if (!strcmp(cmd, "status")) {
        rc = cli_status(&g, next + 1 < argc && !strcmp(argv[next + 1], "--json"));
    } else if (!strcmp(cmd, "scrub")) {
        rc = cli_scrub(&g, argc - next - 1, argv + next + 1);
    } else if (!strcmp(cmd, "locate")) {
        if (next + 2 >= argc) {
            fprintf(stderr, "usage: cairn locate BUCKET KEY\n");
            rc = 2;
        } else {
            rc = cli_locate(&g, argv[next + 1], argv[next + 2]);
        }
    } else if (!strcmp(cmd, "keys")) {
        rc = cli_keys(&g, argc - next - 1, argv + next + 1);
    } else if (!strcmp(cmd, "drain")) {
        rc = cli_drain(&g, argc - next - 1, argv + next + 1);
    } else if (!strcmp(cmd, "repair")) {
        const char *group = NULL;
        int wait = 0;
        for (int i = next + 1; i < argc; i++) {
            if (!strcmp(argv[i], "--wait"))
                wait = 1;
            else
                group = argv[i];
        }
        rc = cli_repair(&g, group, wait);
    } else if (!strcmp(cmd, "state-hash")) {
        rc = cli_state_hash(&g);
    } else if (!strcmp(cmd, "bench")) {
        if (next + 1 >= argc || strcmp(argv[next + 1], "meta") != 0) {
            fprintf(stderr, "cairn bench: only 'meta' exists yet (cairn bench meta --help)\n");
            rc = 2;
        } else {
            rc = cli_bench_meta(&g, argc - next - 1, argv + next + 1);
        }
    } else {
        rc = 2;
        fprintf(stderr, "cairn: unknown command '%s' (see --help)\n", cmd);
    }
    cli_global_release(&g);
    return rc;
}
