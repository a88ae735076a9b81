#include "cli_replicas.h"

#include "cli_format.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MEMBERS 16

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn meta status [--json]\n"
                 "       cairn meta add URL [--wait]\n"
                 "       cairn meta remove ID\n"
                 "       cairn meta replace OLD_ID URL [--wait]\n"
                 "       cairn meta transfer [--to ID]\n"
                 "       cairn meta compact [ID]\n"
                 "The metadata group's members, changed one at a time through the Paxos log.\n"
                 "add: the replica at URL (started with `cairn-meta --join MEMBER_URL --url URL`\n"
                 "and an empty --data-dir) joins as a learner, catches up by snapshot and log,\n"
                 "and is promoted to voter; --wait follows it. remove: refused when the voters\n"
                 "left that answer would not be a majority; removing the leader makes it step\n"
                 "down. replace: add, wait until the new replica votes, then remove the old\n"
                 "(on the old replica's own URL, a rebuilt machine: remove first, then add).\n"
                 "status: every member's role and how far behind the leader it is.\n"
                 "transfer: the leader hands leadership to voter ID (without --to: to the voter\n"
                 "furthest along the log) and steps down; prints `leader OLD -> NEW`. The\n"
                 "members do not change. For maintenance of the leader's machine.\n"
                 "compact: each replica (or replica ID) in turn, followers first, compacts its\n"
                 "LevelDB store down to the last level, and the time and the tables per level\n"
                 "before and after are printed. After a bulk load (`cairn load`, a migration)\n"
                 "a lookup then reads one table instead of one per overlapping level, and\n"
                 "reads stop triggering LevelDB's own compactions on the leader. The replica\n"
                 "serves meanwhile; it needs CPU, and up to the store's size in free disk.\n");
}

struct member {
    unsigned id;
    char url[256], kind[16]; /* voter / learner */
    /* from its /v1/status */
    int reachable;
    unsigned says_id; /* the id it answers as: another means a wrong process there */
    char role[16];
    unsigned long long commit, applied;
};

struct group {
    struct member m[MAX_MEMBERS];
    size_t n;
    unsigned leader;
};

static int by_id(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The members as the leader says (GET /v1/members), in id order. */
static int read_members(struct md_client *c, struct group *g)
{
    struct md_members ms;
    memset(g, 0, sizeof(*g));
    int rc = md_client_members(c, &ms);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < ms.n && g->n < MAX_MEMBERS; i++) {
        struct member *m = &g->m[g->n++];
        m->id = ms.m[i].id;
        snprintf(m->url, sizeof(m->url), "%s", ms.m[i].url);
        snprintf(m->kind, sizeof(m->kind), "%s", ms.m[i].voter ? "voter" : "learner");
    }
    g->leader = ms.leader;
    qsort(g->m, g->n, sizeof(g->m[0]), by_id);
    return g->n ? 0 : CAIRN_E_PROTO;
}

/* read_members, saying why not on stderr as "WHO: reason" (WHO: "cairn meta
 * transfer" ...). Returns 0 or CLI_EXIT_FAILED. */
static int members_or_say(struct md_client *c, struct group *g, const char *who)
{
    int rc = read_members(c, g);
    if (rc == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", who, cairn_strerror(rc));
    return CLI_EXIT_FAILED;
}

/* Each member's own /v1/status, in parallel. */
static void read_status(struct cli_global *gl, struct group *g)
{
    struct cn_http_fanout *fan = NULL;
    if (cli_http_fanout(gl, 2000, &fan) != 0)
        return;
    struct cn_http_request reqs[MAX_MEMBERS];
    struct cn_http_response resps[MAX_MEMBERS];
    int errs[MAX_MEMBERS];
    for (size_t i = 0; i < g->n; i++) {
        reqs[i] = (struct cn_http_request){
            .method = "GET", .base_url = g->m[i].url, .target = CN_ROUTE_MD_STATUS};
        memset(&resps[i], 0, sizeof(resps[i]));
    }
    if (cn_http_fanout_run(fan, reqs, g->n, resps, errs) == 0) {
        for (size_t i = 0; i < g->n; i++) {
            struct member *m = &g->m[i];
            if (errs[i] == 0 && resps[i].status == 200 && resps[i].body) {
                char v[32];
                m->reachable = 1;
                cn_kv_get(resps[i].body, "id", v, sizeof(v));
                m->says_id = (unsigned)strtoul(v, NULL, 10);
                cn_kv_get(resps[i].body, "role", m->role, sizeof(m->role));
                cn_kv_get(resps[i].body, "commit", v, sizeof(v));
                m->commit = strtoull(v, NULL, 10);
                cn_kv_get(resps[i].body, "applied", v, sizeof(v));
                m->applied = strtoull(v, NULL, 10);
            }
        }
    }
    for (size_t i = 0; i < g->n; i++)
        cn_http_response_clear(&resps[i]);
    cn_http_fanout_free(fan);
}

static unsigned long long leader_commit(const struct group *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i].id == g->leader && g->m[i].reachable)
            return g->m[i].commit;
    return 0;
}

static int meta_status(struct cli_global *gl, struct md_client *c, int json)
{
    struct group g;
    int rc = members_or_say(c, &g, "cairn meta");
    if (rc != 0)
        return rc;
    read_status(gl, &g);
    unsigned long long top = leader_commit(&g);
    if (json)
        printf("{\"leader\":%u,\"members\":[", g.leader);
    else
        printf("%-4s %-28s %-8s %-10s %-10s %-10s %s\n", "id", "url", "member", "role", "commit",
               "applied", "lag");
    for (size_t i = 0; i < g.n; i++) {
        const struct member *m = &g.m[i];
        long long lag = m->reachable && top ? (long long)top - (long long)m->applied : -1;
        if (json) {
            printf("%s{\"id\":%u,\"url\":", i ? "," : "", m->id);
            cli_json_str(m->url);
            printf(",\"member\":\"%s\",\"reachable\":%s", m->kind, m->reachable ? "true" : "false");
            if (m->reachable)
                printf(",\"role\":\"%s\",\"commit\":%llu,\"applied\":%llu,\"lag\":%lld", m->role,
                       m->commit, m->applied, lag < 0 ? 0 : lag);
            printf("}");
        } else if (m->reachable) {
            printf("%-4u %-28s %-8s %-10s %-10llu %-10llu %lld\n", m->id, m->url, m->kind, m->role,
                   m->commit, m->applied, lag < 0 ? 0 : lag);
        } else {
            printf("%-4u %-28s %-8s unreachable\n", m->id, m->url, m->kind);
        }
    }
    if (json)
        printf("]}\n");
    return CLI_EXIT_OK;
}

/* Follows replica id until it is a voter within a few slots of the leader's
 * commit (or gone: 0 if it must be a voter). Prints progress. */
static int wait_voter(struct cli_global *gl, struct md_client *c, unsigned id, int64_t timeout_ms)
{
    int tty = isatty(STDOUT_FILENO);
    int64_t end = cn_mono_ms() + timeout_ms, last = 0;
    for (;;) {
        struct group g;
        if (read_members(c, &g) == 0) {
            read_status(gl, &g);
            unsigned long long top = leader_commit(&g);
            for (size_t i = 0; i < g.n; i++) {
                const struct member *m = &g.m[i];
                if (m->id != id)
                    continue;
                long long lag = m->reachable && top ? (long long)top - (long long)m->applied : -1;
                if (!strcmp(m->kind, "voter") && lag >= 0 && lag <= 5) {
                    printf("%sreplica %u is a voter, caught up (lag %lld)\n", tty ? "\n" : "", id,
                           lag);
                    return CLI_EXIT_OK;
                }
                /* 0: a joining process the leader has not admitted yet (it
                 * learns its id then): wait for it. */
                if (m->reachable && m->says_id != 0 && m->says_id != id) {
                    fprintf(stderr,
                            "%scairn meta: %s answers as replica %u, not %u: that process "
                            "has another replica's data. Stop it and start cairn-meta there "
                            "with an empty --data-dir and --join (replica %u waits for it)\n",
                            tty ? "\n" : "", m->url, m->says_id, id, id);
                    return CLI_EXIT_FAILED;
                }
                if (tty || cn_mono_ms() - last > 5000) {
                    if (lag < 0)
                        printf("%s  replica %u: %s, not answering yet%s", tty ? "\r" : "", id,
                               m->kind, tty ? "          " : "\n");
                    else
                        printf("%s  replica %u: %s (%s), %lld slot(s) behind%s", tty ? "\r" : "",
                               id, m->kind, m->role, lag, tty ? "   " : "\n");
                    fflush(stdout);
                    last = cn_mono_ms();
                }
            }
        }
        if (cn_mono_ms() > end) {
            fprintf(stderr, "%scairn meta: replica %u did not catch up in time\n", tty ? "\n" : "",
                    id);
            return CLI_EXIT_FAILED;
        }
        cn_sleep_ms(300);
    }
}

/* md_client_change, asked again (up to three times, a second apart) when
 * no answer came in time or the change was not committed yet (a leader that
 * died or lost its lease mid-change): a change is idempotent on the leader,
 * so asking again either makes it or answers that it is made. */
static int change_retried(struct md_client *c, const char *url, uint32_t *id, char *why,
                          size_t whylen, const char *what)
{
    int rc = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (attempt) {
            fprintf(stderr, "cairn meta %s: %s; asking again\n", what,
                    why[0] ? why : "no answer in time");
            cn_sleep_ms(1000);
        }
        why[0] = '\0';
        rc = md_client_change(c, url, id, why, whylen);
        /* Not committed in time (PROTO: 504), no answer, or a change still
         * in progress (BUSY: perhaps this one, proposed by a leader that
         * died): ask again. */
        if (rc != CAIRN_E_TIMEOUT && rc != CAIRN_E_PROTO && rc != CAIRN_E_BUSY)
            break;
    }
    return rc;
}

static int meta_add(struct cli_global *gl, struct md_client *c, const char *url, int wait,
                    unsigned *out_id)
{
    uint32_t id = 0;
    char why[512];
    int rc = change_retried(c, url, &id, why, sizeof(why), "add");
    if (rc != 0) {
        fprintf(stderr, "cairn meta add: %s\n",
                why[0]                  ? why
                : rc == CAIRN_E_TIMEOUT ? "no answer in time: the change may or may not have "
                                          "been made (cairn meta status shows it)"
                                        : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    if (strstr(why, "already"))
        printf("%s is already replica %u\n", url, id);
    else
        printf("added %s as replica %u (learner; promoted once caught up)\n", url, id);
    if (out_id)
        *out_id = id;
    return wait ? wait_voter(gl, c, id, 600000) : CLI_EXIT_OK;
}

static int meta_remove(struct md_client *c, unsigned id)
{
    uint32_t rid = id;
    char why[512];
    int rc = change_retried(c, NULL, &rid, why, sizeof(why), "remove");
    if (rc != 0) {
        fprintf(stderr, "cairn meta remove: %s\n",
                why[0]                  ? why
                : rc == CAIRN_E_TIMEOUT ? "no answer in time: the change may or may not have "
                                          "been made (cairn meta status shows it)"
                                        : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    printf("removed replica %u%s\n", id, strstr(why, "already") ? " (it was already)" : "");
    return CLI_EXIT_OK;
}

/* A replica on another address: add it, wait until it votes, then remove
 * the old one (the group never has fewer voters than before). On the old
 * one's own address (its disk was lost, the machine rebuilt): the old member
 * goes first, as it is dead anyway and the address must be free. */
static int meta_replace(struct cli_global *gl, struct md_client *c, unsigned old_id,
                        const char *url)
{
    struct group g;
    int rc = members_or_say(c, &g, "cairn meta replace");
    if (rc != 0)
        return rc;
    const struct member *old = NULL;
    for (size_t i = 0; i < g.n; i++)
        if (g.m[i].id == old_id)
            old = &g.m[i];
    if (!old) {
        fprintf(stderr, "cairn meta replace: replica %u is not a member (cairn meta status)\n",
                old_id);
        return CLI_EXIT_FAILED;
    }
    if (!strcmp(old->url, url)) {
        rc = meta_remove(c, old_id);
        return rc == CLI_EXIT_OK ? meta_add(gl, c, url, 1, NULL) : rc;
    }
    rc = meta_add(gl, c, url, 1, NULL);
    return rc == CLI_EXIT_OK ? meta_remove(c, old_id) : rc;
}

/* Hands leadership from the leader to voter `to` (0: the server's choice)
 * and follows the group until it names the successor as its leader. */
static int meta_transfer(struct md_client *c, unsigned to)
{
    struct group g;
    int rc = members_or_say(c, &g, "cairn meta transfer");
    if (rc != 0)
        return rc;
    if (to) {
        const struct member *m = NULL;
        for (size_t i = 0; i < g.n; i++)
            if (g.m[i].id == to)
                m = &g.m[i];
        if (!m) {
            fprintf(stderr, "cairn meta transfer: replica %u is not a member (cairn meta status)\n",
                    to);
            return CLI_EXIT_FAILED;
        }
        if (strcmp(m->kind, "voter") != 0) {
            fprintf(stderr, "cairn meta transfer: replica %u is a learner: only a voter can lead\n",
                    to);
            return CLI_EXIT_FAILED;
        }
        if (to == g.leader) {
            printf("leader %u already (nothing to do)\n", to);
            return CLI_EXIT_OK;
        }
    }
    unsigned old = g.leader;
    uint32_t successor = 0;
    char why[512];
    rc = md_client_transfer(c, to, &successor, why, sizeof(why));
    if (rc != 0) {
        char *nl = strchr(why, '\n');
        if (nl)
            *nl = '\0';
        fprintf(stderr, "cairn meta transfer: %s\n",
                why[0]                  ? why
                : rc == CAIRN_E_TIMEOUT ? "no answer in time: leadership may or may not have "
                                          "moved (cairn meta status shows it)"
                                        : cairn_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    /* The old leader answered once it stopped leading: wait until the group
     * names the successor (its first commit makes it known to all). */
    int64_t end = cn_mono_ms() + 10000;
    for (;;) {
        if (read_members(c, &g) == 0 && g.leader == successor)
            break;
        if (cn_mono_ms() > end) {
            fprintf(stderr,
                    "cairn meta transfer: replica %u stepped down for replica %u, but the "
                    "group does not name %u its leader yet (cairn meta status)\n",
                    old, successor, successor);
            return CLI_EXIT_FAILED;
        }
        cn_sleep_ms(100);
    }
    const char *url = "";
    for (size_t i = 0; i < g.n; i++)
        if (g.m[i].id == successor)
            url = g.m[i].url;
    printf("leader %u -> %u (%s)\n", old, successor, url);
    return CLI_EXIT_OK;
}

/* One replica's `cairn meta compact`: POST /v1/meta/compact-store there and
 * print what its answer says. */
static int compact_one(struct cli_global *gl, const struct member *m, int is_leader)
{
    printf("replica %u (%s, %s): compacting ...\n", m->id, m->url,
           is_leader ? "leader" : "follower");
    fflush(stdout);
    /* a compaction of a large store takes minutes, and says nothing until done */
    struct cn_http_client_opts o = {
        .auth = gl->auth, .timeout_ms = 3600 * 1000, .stall_timeout_ms = 3600 * 1000};
    struct cn_http_client *hc = NULL;
    int rc = cn_http_client_new(&o, &hc);
    struct cn_http_response resp = {0};
    if (rc == 0) {
        struct cn_http_request req = {
            .method = "POST", .base_url = m->url, .target = CN_ROUTE_MD_STORE_COMPACT};
        rc = cn_http_client_do(hc, &req, &resp);
    }
    cn_http_client_free(hc);
    if (rc == 0 && resp.status != 200) {
        fprintf(stderr, "cairn meta compact: replica %u: HTTP %d %s\n", m->id, resp.status,
                resp.body ? resp.body : "");
        cn_http_response_clear(&resp);
        return CLI_EXIT_FAILED;
    }
    if (rc != 0) {
        fprintf(stderr, "cairn meta compact: replica %u: %s\n", m->id, cairn_strerror(rc));
        cn_http_response_clear(&resp);
        return CLI_EXIT_FAILED;
    }
    char ms[32] = "", bb[32] = "", ab[32] = "", bf[128] = "", af[128] = "";
    cn_kv_get(resp.body, "ms", ms, sizeof(ms));
    cn_kv_get(resp.body, "before_bytes", bb, sizeof(bb));
    cn_kv_get(resp.body, "after_bytes", ab, sizeof(ab));
    cn_kv_get(resp.body, "before_files", bf, sizeof(bf));
    cn_kv_get(resp.body, "after_files", af, sizeof(af));
    cn_http_response_clear(&resp);
    printf(
        "replica %u: compacted in %.1f s, %.1f -> %.1f MiB of tables, tables per level %s -> %s\n",
        m->id, strtod(ms, NULL) / 1000.0, strtod(bb, NULL) / 1048576.0,
        strtod(ab, NULL) / 1048576.0, bf, af);
    return CLI_EXIT_OK;
}

/* `cairn meta compact [ID]`: the followers one after another, then the
 * leader (or only replica ID). */
static int meta_compact(struct cli_global *gl, struct md_client *c, unsigned only)
{
    struct group g;
    int rc = members_or_say(c, &g, "cairn meta compact");
    if (rc != 0)
        return rc;
    int found = 0, failed = 0;
    for (int leader_pass = 0; leader_pass < 2; leader_pass++) {
        for (size_t i = 0; i < g.n; i++) {
            const struct member *m = &g.m[i];
            if ((m->id == g.leader) != leader_pass || (only && m->id != only))
                continue;
            found = 1;
            /* a replica that is down or refuses does not keep the others
             * from being compacted; the exit status says it */
            if (compact_one(gl, m, m->id == g.leader) != CLI_EXIT_OK)
                failed = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "cairn meta compact: replica %u is not a member (cairn meta status)\n",
                only);
        return CLI_EXIT_FAILED;
    }
    return failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int cli_meta_group(struct cli_global *g, int argc, char **argv)
{
    if (g->help || argc < 2) {
        usage(g->help ? stdout : stderr);
        return g->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const char *sub = argv[1], *args[2] = {NULL, NULL}, *to_arg = NULL;
    int wait = 0, json = 0, nargs = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else if (!strcmp(argv[i], "--to") && i + 1 < argc && !to_arg)
            to_arg = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] != '-' && nargs < 2)
            args[nargs++] = argv[i];
        else
            bad = 1;
    }
    char *end = NULL;
    unsigned long id = 0;
    int want = !strcmp(sub, "status")     ? 0
               : !strcmp(sub, "add")      ? 1
               : !strcmp(sub, "remove")   ? 1
               : !strcmp(sub, "replace")  ? 2
               : !strcmp(sub, "transfer") ? 0
               : !strcmp(sub, "compact")  ? 3
                                          : -1;
    if (want == 1 && !strcmp(sub, "remove") && args[0])
        id = strtoul(args[0], &end, 10);
    if (want == 2 && args[0])
        id = strtoul(args[0], &end, 10);
    int transfer = !strcmp(sub, "transfer");
    if (want == 3) {
        /* compact [ID] */
        if (nargs == 1)
            id = strtoul(args[0], &end, 10);
        if (bad || nargs > 1 || json || wait || to_arg ||
            (nargs == 1 &&
             (args[0][0] < '0' || args[0][0] > '9' || !end || *end || id == 0 || id > 65535))) {
            fprintf(stderr, "cairn meta compact: takes at most a replica id, a number from 1 to "
                            "65535 (cairn meta status lists them)\n");
            return CLI_EXIT_USAGE;
        }
        struct md_client *c = cli_meta_client(g, 30000);
        if (!c)
            return CLI_EXIT_FAILED;
        int rc = meta_compact(g, c, (unsigned)id);
        md_client_free(c);
        return rc;
    }
    unsigned long to = 0;
    if (to_arg && transfer) {
        char *to_end = NULL;
        to = strtoul(to_arg, &to_end, 10);
        if (to_arg[0] < '0' || to_arg[0] > '9' || *to_end || to == 0 || to > 65535) {
            fprintf(stderr,
                    "cairn meta transfer: --to needs a replica id, a number from 1 to 65535 "
                    "(cairn meta status lists them), not '%s'\n",
                    to_arg);
            return CLI_EXIT_USAGE;
        }
    }
    if (bad || want < 0 || nargs != want || (json && want) || (wait && !strcmp(sub, "remove")) ||
        (to_arg && !transfer) || (transfer && (json || wait)) ||
        ((!strcmp(sub, "remove") || want == 2) && (!end || *end || id == 0 || id > 65535))) {
        fprintf(stderr, "cairn meta: unknown or incomplete command (see cairn meta --help)\n");
        return CLI_EXIT_USAGE;
    }
    struct md_client *c = cli_meta_client(g, 30000);
    if (!c)
        return CLI_EXIT_FAILED;
    int rc;
    if (transfer) {
        rc = meta_transfer(c, (unsigned)to);
    } else if (want == 0) {
        rc = meta_status(g, c, json);
    } else if (!strcmp(sub, "add")) {
        rc = meta_add(g, c, args[0], wait, NULL);
    } else if (!strcmp(sub, "remove")) {
        rc = meta_remove(c, (unsigned)id);
    } else {
        rc = meta_replace(g, c, (unsigned)id, args[1]);
    }
    md_client_free(c);
    return rc;
}
