/* cli_meta: one state-machine command, one query, and the per-chunkserver
 * fragment index, as the `cairn` commands send them through md_client
 * (mdclient/md_client.h) with the builders of mdclient/md_cmd.h. */
#ifndef CAIRN_CLI_META_H
#define CAIRN_CLI_META_H

#include "md_cmd.h"

#include <stddef.h>
#include <stdint.h>

struct md_client;

/* Sends cmd, a packed md.Command an md_cmd_* builder made for
 * (md_client_id(c), seq) and returned build_rc for, and waits until it is
 * applied. Takes cmd (malloc'ed or NULL) and frees it. Returns the command's
 * result status (0 or CAIRN_E_*), build_rc when it is not 0, or
 * md_client_command's error. */
int cli_meta_commit(struct md_client *c, uint64_t seq, int build_rc, uint8_t *cmd, size_t len);
/* The same, and on failure a human reason in why (the state machine's detail,
 * e.g. "the user owns buckets: delete them first", else the error's text). */
int cli_meta_commit_why(struct md_client *c, uint64_t seq, int build_rc, uint8_t *cmd, size_t len,
                        char *why, size_t why_len);

/* Runs q, a packed md.Query an md_q_* builder returned build_rc for, on the
 * leader (linearizable). Takes q (malloc'ed or NULL) and frees it. Returns 0
 * and *out (free with md__query_result__free_unpacked; (*out)->status is the
 * query's own status), build_rc when it is not 0, md_client_read's error, or
 * CAIRN_E_PROTO for an answer that does not decode (*out NULL then). */
int cli_meta_query(struct md_client *c, int build_rc, uint8_t *q, size_t len,
                   Md__QueryResult **out);

/* Calls fn(arg, ref) for every fragment the committed state places on
 * chunkserver cs (0: the fragments with no location), by group id then index,
 * reading the index 1,000 entries a page. ref is valid only during the call.
 * Returns 0, the first non-zero fn return (which stops the walk), or a read
 * error or the query's status. */
int cli_meta_each_fragment(struct md_client *c, uint64_t cs,
                           int (*fn)(void *arg, const Md__FragmentRef *ref), void *arg);

#endif
