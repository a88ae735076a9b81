/* md_client: how the gateway, chunkservers and `cairn` talk to the metadata
 * service. It finds the leader from any replica (following the
 * X-Cairn-Leader-Url hint of a 421, else trying the next replica), and retries
 * across failover until the operation's deadline. A command is retried with the
 * SAME (client id, seq), so the state machine applies it once however many
 * times it is sent.
 *
 * Threads: one md_client per thread (it keeps one HTTP connection cache). A
 * client id allows one command in flight: build each command with
 * md_client_id() and a fresh md_client_next_seq(), then send it.
 *
 * The group's members change (cairn meta add/remove/replace): a client
 * learns them from the replicas (GET /v1/members) when the ones it knows
 * stop answering. The clients of one process share what they learn through
 * an md_view, so a client made later, or one idle while every replica it was
 * told about was replaced, starts from the group as it is now. */
#ifndef CAIRN_MD_CLIENT_H
#define CAIRN_MD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct md_client;
struct md_view;
struct md_batcher;
struct md_pool;

#define MD_CLIENT_MAX_REPLICAS 16

/* A process's view of the metadata group: its replicas' URLs and the leader
 * last seen, shared by md_clients (thread-safe). md_view_new copies the
 * initial URLs (1..MD_CLIENT_MAX_REPLICAS). Returns 0, CAIRN_E_INVAL or
 * CAIRN_E_NOMEM. Free it after every client that uses it. */
int md_view_new(const char *const *urls, size_t n, struct md_view **out);
void md_view_free(struct md_view *v);

struct md_client_opts {
    const char *const *replicas; /* base URLs "http://127.0.0.1:7001" (copied) */
    size_t n_replicas;
    struct md_view *view;       /* optional, borrowed: replicas may then be NULL (the
                                 * view's are used), and what the client learns
                                 * about members and leader goes to the view */
    const struct cn_auth *auth; /* borrowed; must outlive the client */
    int64_t timeout_ms;         /* one operation, retries included; 0 = 15000 */
    int64_t attempt_timeout_ms; /* one HTTP attempt; 0 = 5000 */
    uint64_t client_id;         /* 0 = a random id */
    struct md_batcher *batcher; /* optional, borrowed (md_batch.h): commands and reads go
                                 * to the leader in batches with other clients' */
    struct md_pool *pool;       /* optional, borrowed (md_pool.h): what this client
                                 * sends itself (a batch it sends for others, a
                                 * request alone, placement, damage reports; not
                                 * membership changes) goes out on a client borrowed
                                 * from the pool, so it opens no connection of its own */
};

/* Creates a client. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int md_client_new(const struct md_client_opts *opts, struct md_client **out);
void md_client_free(struct md_client *c);

uint64_t md_client_id(const struct md_client *c);
/* How many replicas the client knows now (the --meta list, then the group's
 * members as it learns them). */
size_t md_client_n_replicas(const struct md_client *c);
/* The sequence number for the next command (1, 2, 3, ...). */
uint64_t md_client_next_seq(struct md_client *c);

/* Sends a packed md.Command built with (md_client_id(c), seq) and waits until
 * it is applied. On success *result is the malloc'ed packed md.Result (free()).
 * Returns 0, CAIRN_E_TIMEOUT (no replica applied it before the deadline: it
 * may still be applied later; retrying with the same seq is safe), or
 * CAIRN_E_INVAL / CAIRN_E_NOMEM. */
int md_client_command(struct md_client *c, uint64_t seq, const void *cmd, size_t len,
                      uint8_t **result, size_t *result_len);

/* Runs a packed md.Query on the leader, linearizably. On success *result is
 * the malloc'ed packed md.QueryResult. Same errors as md_client_command. */
int md_client_read(struct md_client *c, const void *query, size_t len, uint8_t **result,
                   size_t *result_len);

/* Reads chunk group group_id linearizably. On success *out is the decoded
 * result (free with md__query_result__free_unpacked(*out, NULL)); its status
 * says whether the group exists (CAIRN_E_NOTFOUND when not). Errors as
 * md_client_read, or CAIRN_E_PROTO for an undecodable answer. */
struct Md__QueryResult;
int md_client_get_group(struct md_client *c, const uint8_t group_id[16],
                        struct Md__QueryResult **out);

/* One chunkserver the leader chose for a new chunk group. */
struct md_placement {
    uint64_t id;
    char address[128]; /* "host:port" */
};

/* Asks the leader for count chunkservers on distinct hosts for a new chunk
 * group (at least min when fewer are alive), none of the n_exclude ids in
 * exclude. out has room for count entries; *n_out receives how many were
 * given (0 < *n_out <= count). Errors as md_client_read, CAIRN_E_INVAL for
 * count 0 or above 64. */
int md_client_place(struct md_client *c, uint32_t count, uint32_t min, const uint64_t *exclude,
                    size_t n_exclude, struct md_placement *out, uint32_t *n_out);

/* Tells the leader's repair queue that fragment index of group, on
 * chunkserver cs, was read or scrubbed bad. Errors as md_client_read. */
int md_client_report_damage(struct md_client *c, const uint8_t group_id[16], uint32_t index,
                            uint64_t cs);

/* Asks the leader to rescan for repairs now (group_id NULL) or to repair one
 * group first. Errors as md_client_read. */
int md_client_repair(struct md_client *c, const uint8_t *group_id);

/* Asks the leader for a packed-group compaction pass now (below_pct 0: its
 * --compact-below; else groups less live than below_pct %), answered when
 * the pass ends: *compacted groups. Errors as md_client_read. */
int md_client_compact(struct md_client *c, unsigned below_pct, uint64_t *compacted);

/* The leader's chunkserver and repair-queue lines (docs/operations.md). On
 * success *body is malloc'ed and NUL-terminated. Errors as md_client_read. */
int md_client_cluster(struct md_client *c, char **body, size_t *len);

/* Sends a packed cl.Heartbeat to the leader; on success *reply is the
 * malloc'ed packed cl.HeartbeatReply. Errors as md_client_read. */
int md_client_heartbeat(struct md_client *c, const void *hb, size_t len, uint8_t **reply,
                        size_t *reply_len);

/* The metadata group's members, as GET /v1/members says them: one "member
 * ID URL voter|learner" line each, then "leader ID". */
#define MD_MEMBER_URL_MAX 256
struct md_member {
    uint32_t id;
    int voter; /* 0: a learner */
    char url[MD_MEMBER_URL_MAX];
};
struct md_members {
    size_t n;
    uint32_t leader; /* 0: none known */
    struct md_member m[MD_CLIENT_MAX_REPLICAS];
};
/* Parses such a body into *out, the members in the body's order (lines it
 * does not understand, and members past MD_CLIENT_MAX_REPLICAS, skipped).
 * Returns out->n. */
size_t md_members_parse(const char *body, struct md_members *out);

/* The group's members as the leader sees them (GET /v1/members?from=leader),
 * into *out. Errors as md_client_read; CAIRN_E_PROTO for an answer that
 * names nobody. */
int md_client_members(struct md_client *c, struct md_members *out);

/* Asks the leader for a membership change: add the replica at url (it joins
 * as a learner and is promoted once caught up; *id receives its new id), or
 * remove replica *id (url NULL). Answered once the change is committed; a
 * URL that is already a member, or an id already removed, succeeds too (a
 * retry after a lost answer: why then contains "already"). why (why_len
 * bytes, may be NULL) receives the leader's answer or reason for a refusal.
 * Returns 0, CAIRN_E_BUSY (another change in progress), CAIRN_E_UNAVAIL
 * (removing would leave no live majority), CAIRN_E_NOTFOUND (no such
 * member), CAIRN_E_INVAL, CAIRN_E_PROTO (e.g. proposed but not committed in
 * time), or the errors of md_client_read. */
int md_client_change(struct md_client *c, const char *url, uint32_t *id, char *why, size_t why_len);

/* Asks the leader to hand leadership to voter `to` (0: the voter furthest
 * along the log) and answers once it no longer leads; the group's
 * membership is unchanged. *leader receives the successor's id (when `to`
 * already leads: `to`, and why then contains "already"). why (why_len
 * bytes, may be NULL) receives the leader's answer or reason for a refusal.
 * An answer lost on the way is asked again of the next replica; with to 0
 * that may hand leadership on twice (the last successor is in *leader).
 * Returns 0, CAIRN_E_NOTFOUND (no live voter with that id, or none caught
 * up), CAIRN_E_INVAL (not a replica id), CAIRN_E_BUSY, CAIRN_E_AUTH,
 * CAIRN_E_TIMEOUT (no answer in time), CAIRN_E_PROTO (the successor did not
 * take over in time, or an answer not understood). */
int md_client_transfer(struct md_client *c, uint32_t to, uint32_t *leader, char *why,
                       size_t why_len);

/* Base URL of the replica believed to be the leader now. */
const char *md_client_leader(const struct md_client *c);

#endif
