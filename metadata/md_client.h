/* md_client: how the gateway, chunkservers and `cairn` talk to the metadata
 * service. It finds the leader from any replica (following the
 * X-Cairn-Leader-Url hint of a 421, else trying the next replica), and retries
 * across failover until the operation's deadline. A command is retried with the
 * SAME (client id, seq), so the state machine applies it once however many
 * times it is sent.
 *
 * Threads: one md_client per thread (it keeps one HTTP connection cache). A
 * client id allows one command in flight: build each command with
 * md_client_id() and a fresh md_client_next_seq(), then send it. */
#ifndef CAIRN_MD_CLIENT_H
#define CAIRN_MD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct cn_auth;
struct md_client;

#define MD_CLIENT_MAX_REPLICAS 16

struct md_client_opts {
    const char *const *replicas; /* base URLs "http://127.0.0.1:7001" (copied) */
    size_t n_replicas;
    const struct cn_auth *auth; /* borrowed; must outlive the client */
    int64_t timeout_ms;         /* one operation, retries included; 0 = 15000 */
    int64_t attempt_timeout_ms; /* one HTTP attempt; 0 = 5000 */
    uint64_t client_id;         /* 0 = a random id */
};

/* Creates a client. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int md_client_new(const struct md_client_opts *opts, struct md_client **out);
void md_client_free(struct md_client *c);

uint64_t md_client_id(const struct md_client *c);
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

/* GETs target (e.g. "/v1/place?count=6") from the leader. On success *body
 * is the malloc'ed, NUL-terminated response body. Same errors as above. */
int md_client_get(struct md_client *c, const char *target, char **body, size_t *len);

/* POSTs body to target on the leader (e.g. "/v1/heartbeat"). On success
 * *result is the malloc'ed response body. Same errors as above. */
int md_client_post(struct md_client *c, const char *target, const void *body, size_t len,
                   uint8_t **result, size_t *result_len);

/* Base URL of the replica believed to be the leader now. */
const char *md_client_leader(const struct md_client *c);

/* Makes url (one of the client's replicas, e.g. a leader another client
 * found) the first one tried; an unknown url changes nothing. */
void md_client_prefer(struct md_client *c, const char *url);

#endif
