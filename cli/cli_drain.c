#include "cli_drain.h"

#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn drain CHUNKSERVER_ID [--no-wait]\n"
                 "Moves every fragment off the chunkserver (it keeps serving meanwhile), then\n"
                 "marks it retired. The id is the decimal or 16-hex-digit id `cairn status`\n"
                 "and the chunkserver's log show.\n");
}

static int set_cs_state(struct md_client *c, uint64_t id, int state)
{
    uint64_t seq = md_client_next_seq(c);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc =
        md_cmd_set_cs_state(md_client_id(c), seq, id, state, 0, 0, 0, cn_wall_ms(), &cmd, &len);
    return cli_meta_commit(c, seq, rc, cmd, len);
}

static int count_fragment(void *arg, const Md__FragmentRef *ref)
{
    (void)ref;
    ++*(long *)arg;
    return 0;
}

/* Fragments the committed state still places on chunkserver id; negative on
 * error. */
static long fragments_on(struct md_client *c, uint64_t id)
{
    long total = 0;
    int rc = cli_meta_each_fragment(c, id, count_fragment, &total);
    return rc != 0 ? rc : total;
}

int cli_drain(struct cli_global *g, int argc, char **argv)
{
    if (g->help || argc < 2) {
        usage(g->help ? stdout : stderr);
        return g->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    char *end;
    uint64_t id = strlen(argv[1]) == 16 ? strtoull(argv[1], &end, 16) : strtoull(argv[1], &end, 10);
    if (*end || id == 0) {
        fprintf(stderr, "cairn drain: '%s' is not a chunkserver id\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    int wait = !(argc > 2 && !strcmp(argv[2], "--no-wait"));
    struct md_client *c = cli_meta_client(g, 15000);
    if (!c)
        return CLI_EXIT_FAILED;
    int rc = set_cs_state(c, id, MD__CHUNKSERVER_STATE__CS_DRAINING);
    if (rc != 0) {
        fprintf(stderr, "cairn drain: %s\n", cairn_strerror(rc));
        md_client_free(c);
        return CLI_EXIT_FAILED;
    }
    long start = fragments_on(c, id);
    printf("chunkserver %016llx is draining: %ld fragment(s) to move\n", (unsigned long long)id,
           start);
    fflush(stdout);
    if (!wait) {
        md_client_free(c);
        return CLI_EXIT_OK;
    }
    long left = start, shown = -1;
    int64_t last_change = cn_mono_ms();
    int hinted = 0;
    while (left != 0) {
        if (left < 0) {
            fprintf(stderr, "cairn drain: %s\n", cairn_strerror((int)left));
            md_client_free(c);
            return CLI_EXIT_FAILED;
        }
        if (left != shown) {
            printf("  %ld fragment(s) left\n", left);
            fflush(stdout);
            shown = left;
            last_change = cn_mono_ms();
        } else if (!hinted && cn_mono_ms() - last_change > 30000) {
            printf("  no progress for 30 s: is there a live chunkserver on another host for\n"
                   "  every group? (the leader's log says when it finds no placement)\n");
            fflush(stdout);
            hinted = 1;
        }
        cn_sleep_ms(500);
        left = fragments_on(c, id);
    }
    rc = set_cs_state(c, id, MD__CHUNKSERVER_STATE__CS_RETIRED);
    md_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "cairn drain: drained, but could not mark it retired: %s\n",
                cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    printf("chunkserver %016llx drained and retired\n", (unsigned long long)id);
    return CLI_EXIT_OK;
}
