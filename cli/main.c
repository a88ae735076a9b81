/* cairn: the Cairn admin tool.
 *
 *   cairn [global options] COMMAND [ARGS]
 *
 * Global options name the metadata replicas and the cluster secret
 * (cli_global.c). Each command lives in cli_<command>.c and is one row of
 * the table below, from which `cairn --help` lists them; each prints its own
 * usage with --help. Exit status: enum cli_exit (0 done, 1 failed, 2 bad
 * command line). */
#include "cli_bench.h"
#include "cli_compact.h"
#include "cli_drain.h"
#include "cli_global.h"
#include "cli_keys.h"
#include "cli_load.h"
#include "cli_locate.h"
#include "cli_packed.h"
#include "cli_quota.h"
#include "cli_repair.h"
#include "cli_replicas.h"
#include "cli_role_key.h"
#include "cli_scrub.h"
#include "cli_state_hash.h"
#include "cli_status.h"
#include "cli_user.h"
#include "cn_config.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    const char *args; /* after the name, for the list */
    cli_command_fn *run;
    const char *help; /* one line */
};

static const struct command commands[] = {
    {"status", "[--json]", cli_status,
     "metadata replicas, chunkservers (state, liveness, space), repair queue"},
    {"state-hash", "", cli_state_hash, "applied slot and state hash of the first --meta replica"},
    {"locate", "BUCKET KEY", cli_locate, "chunk groups of an object and where each fragment is"},
    {"packed", "[--open] [--json]", cli_packed,
     "packed chunk groups: state, length, live and dead bytes, writer"},
    {"repair", "[GROUP | --bucket B [--key K]] [--wait]", cli_repair,
     "rescan now, or repair one group or a bucket's damaged groups first; --wait follows it"},
    {"scrub", "[--deep] [--wait]", cli_scrub,
     "check every fragment's CRCs and presence; --deep also re-encodes and compares parity"},
    {"compact", "[--below PERCENT]", cli_compact,
     "rewrite packed groups with little left live in them now (the leader's compactor)"},
    {"drain", "ID [--no-wait]", cli_drain,
     "move every fragment off chunkserver ID, then retire it"},
    {"user", "create NAME | list | delete NAME", cli_user,
     "users: the accounts that own buckets and access keys"},
    {"keys", "create USER [--admin] | list [--user U] | delete|disable|enable ID", cli_keys,
     "S3 access keys (each belongs to a user)"},
    {"quota", "set|show (--user U | --bucket B) [--max-bytes SIZE] [--max-objects N]", cli_quota,
     "byte and object limits of a user or a bucket, and their usage"},
    {"meta",
     "status [--json] | add URL [--wait] | remove ID | replace OLD_ID URL [--wait] | "
     "transfer [--to ID] | compact [ID]",
     cli_meta_group,
     "the metadata replicas: members, adding, removing or replacing one, handing leadership on, "
     "compacting their stores"},
    {"role-key", "meta|chunk|gateway|admin", cli_role_key,
     "the key file of one role, from the cluster secret (instead of the secret itself)"},
    {"bench", "meta [options]", cli_bench,
     "commits/s and latency of the metadata group, next to one fdatasync"},
    {"load", "[--objects N] [--buckets B] [options]", cli_load,
     "bulk-load N synthetic small objects (up to 1000 a Paxos slot; admin key)"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command list after the global options' help (printed by cn_config),
 * in the same layout. */
static void print_commands(FILE *out)
{
    fprintf(out, "\nCommands (cairn COMMAND --help for each):\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %s%s%s\n      %s\n", commands[i].name, *commands[i].args ? " " : "",
                commands[i].args, commands[i].help);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    struct cli_global g;
    int next = 0;
    int rc = cli_global_load(&g, argc, argv, &next);
    if (rc == CN_CONFIG_HELP) {
        print_commands(stdout);
        return CLI_EXIT_OK;
    }
    if (rc != 0)
        return CLI_EXIT_USAGE;
    if (next >= argc) {
        fprintf(stderr, "cairn: a command is required (see --help)\n");
        cli_global_release(&g);
        return CLI_EXIT_USAGE;
    }
    const struct command *cmd = find_command(argv[next]);
    if (cmd) {
        rc = cmd->run(&g, argc - next, argv + next);
    } else {
        fprintf(stderr, "cairn: unknown command '%s' (see --help)\n", argv[next]);
        rc = CLI_EXIT_USAGE;
    }
    cli_global_release(&g);
    return rc;
}
