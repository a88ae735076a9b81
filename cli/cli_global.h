/* cli_global: the options every `cairn` command shares (the metadata
 * replicas and the cluster secret) and the clients made from them. */
#ifndef CAIRN_CLI_GLOBAL_H
#define CAIRN_CLI_GLOBAL_H

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct cn_http_client;
struct cn_http_fanout;
struct md_client;

struct cli_global {
    char *replicas[16]; /* metadata replica base URLs (owned) */
    size_t n_replicas;
    struct cn_auth *auth; /* NULL when help is set */
    char *secret;         /* the secret (or key file) text the auth came from,
                             trailing whitespace stripped (owned, wiped) */
    size_t secret_len;
    int help; /* --help or -h after the command word */
};

/* A command's exit status: what every cli_<command>() returns. */
enum cli_exit {
    CLI_EXIT_OK = 0,     /* done (or its usage printed on --help) */
    CLI_EXIT_FAILED = 1, /* not done, or what it checked is not well (a message says which) */
    CLI_EXIT_USAGE = 2,  /* a bad command line (the usage or a message on stderr) */
};

/* One command: argv[0] is the command word, argv[1..argc-1] its arguments.
 * With g->help set it prints its usage on stdout and returns CLI_EXIT_OK
 * without talking to the cluster (help_test.sh holds every command to it). */
typedef int cli_command_fn(struct cli_global *g, int argc, char **argv);

/* Parses the global options of argv (up to the command word, whose index goes
 * to *next). When --help or -h follows the command word it sets g->help and
 * needs no cluster secret. Returns 0, CN_CONFIG_HELP after printing the global
 * help (--help before the command word), or an error (a message was printed).
 * Release g with cli_global_release after 0. */
int cli_global_load(struct cli_global *g, int argc, char **argv, int *next);
void cli_global_release(struct cli_global *g);

/* The options of a metadata client for g's replicas (pointing into g). */
struct md_client_opts;
void cli_meta_opts(struct cli_global *g, int64_t timeout_ms, struct md_client_opts *o);
/* A metadata client for g's replicas (free with md_client_free), or NULL. */
struct md_client *cli_meta_client(struct cli_global *g, int64_t timeout_ms);
/* The same, its commands and reads sent in batches with those of the other
 * clients of batcher (md_batch.h; borrowed, outlives the client). */
struct md_batcher;
struct md_client *cli_meta_client_batched(struct cli_global *g, int64_t timeout_ms,
                                          struct md_batcher *batcher);
/* Replaces g->replicas with the metadata group's members as its leader says
 * (replicas come and go: --meta only needs to reach one). Returns 0, or the
 * error (g unchanged: no leader answered). */
int cli_follow_group(struct cli_global *g);

/* An HTTP client, or a fan-out for requests to several servers at once,
 * signing with g's cluster secret (borrowed: g must outlive it), each request
 * limited to timeout_ms. Returns 0 and *out (cn_http_client_free /
 * cn_http_fanout_free), or cn_http's error. */
int cli_http_client(struct cli_global *g, int64_t timeout_ms, struct cn_http_client **out);
int cli_http_fanout(struct cli_global *g, int64_t timeout_ms, struct cn_http_fanout **out);

#endif
