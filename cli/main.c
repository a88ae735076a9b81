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
                 "  repair --bucket B [--key K] [--wait]  check the groups of one bucket or\n"
                 "                         object and repair the damaged ones first\n"
                 "  drain ID [--no-wait]   move every fragment off chunkserver ID, then\n"
                 "                         retire it (progress shown)\n"
                 "  locate BUCKET KEY      chunk groups of an object and where each fragment is\n"
                 "  keys create OWNER [--admin] | list | delete ID   S3 access keys\n"
                 "  scrub [--deep] [--wait]  check every fragment's CRCs and that every placed\n"
                 "                         fragment exists, on every chunkserver; --deep also\n"
                 "                         re-encodes each group and compares its parity\n");
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
    if (!g.auth) { /* only for COMMAND --help (cli_global_load) */
        static const char *const plain[][2] = {
            {"status", "usage: cairn status [--json]\n"
                       "Metadata replicas (role, leader, commit, applied), chunkservers (state,\n"
                       "liveness, space, labels) and the repair queue; --json for scripts.\n"
                       "Exit status 0 when a majority of replicas knows a leader.\n"},
            {"locate", "usage: cairn locate BUCKET KEY\n"
                       "The chunk groups of one object and, for each fragment, the chunkserver\n"
                       "holding it and that chunkserver's state.\n"},
            {"state-hash", "usage: cairn state-hash\n"
                           "Applied slot and state hash of the first --meta replica: two replicas\n"
                           "with the same slot and hash hold identical state.\n"}};
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            if (!strcmp(cmd, plain[i][0])) {
                fputs(plain[i][1], stdout);
                cli_global_release(&g);
                return 0;
            }
        }
        /* Every other command prints its usage when --help comes first. */
        int at = next + 1;
        if (!strcmp(cmd, "bench") && at < argc && !strcmp(argv[at], "meta"))
            at++;
        argv[at] = "--help";
        argc = at + 1;
    }
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
        const char *group = NULL, *bucket = NULL, *key = NULL;
        int wait = 0;
        rc = 0;
        for (int i = next + 1; i < argc && rc == 0; i++) {
            if (!strcmp(argv[i], "--wait")) {
                wait = 1;
            } else if (!strcmp(argv[i], "--bucket") && i + 1 < argc) {
                bucket = argv[++i];
            } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
                key = argv[++i];
            } else if (argv[i][0] != '-' && !group) {
                group = argv[i];
            } else {
                rc = strcmp(argv[i], "--help") ? 2 : 1;
            }
        }
        if (rc == 0 && ((key && !bucket) || (group && bucket)))
            rc = 2;
        if (rc != 0) {
            fprintf(
                rc == 1 ? stdout : stderr,
                "usage: cairn repair [GROUP] [--wait]\n"
                "       cairn repair --bucket BUCKET [--key KEY] [--wait]\n"
                "Without arguments, the leader rescans for degraded groups now; GROUP (32 hex\n"
                "digits) is repaired first. With --bucket, every chunk group of the bucket's\n"
                "objects (or of one object, --key) is checked: a fragment without a location,\n"
                "on a chunkserver that is not up, or missing or damaged on its chunkserver\n"
                "makes the group damaged; the damage is reported and each damaged group is\n"
                "repaired first. --wait follows repair until the cluster is fully redundant.\n");
            rc = rc == 1 ? 0 : 2;
        } else if (bucket) {
            rc = cli_repair_objects(&g, bucket, key, wait);
        } else {
            rc = cli_repair(&g, group, wait);
        }
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
