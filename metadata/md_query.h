/* md_query: read-only queries over the state machine's store.
 *
 * The Paxos layer decides when a read may run (leader with read index or
 * lease); these functions only read. A query sees each store read
 * consistently; if it must be atomic with respect to md_sm_apply_slot, the
 * caller runs it on the apply thread or under the same lock.
 *
 * Two forms: md_query() takes and returns packed bytes (md.Query ->
 * md.QueryResult), for the daemon to ship to remote clients; the typed
 * helpers below run in-process and return unpacked messages. */
#ifndef CAIRN_MD_QUERY_H
#define CAIRN_MD_QUERY_H

#include "md_store.h"
#include "meta.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Most entries one listing returns, whatever max_keys asks. */
#define MD_LIST_MAX 1000
/* Most fragment refs / garbage entries one query returns. */
#define MD_SCAN_MAX 10000

/* Runs the packed md.Query q; *out receives a malloc'ed packed
 * md.QueryResult (free()). A query that fails logically (no such bucket,
 * malformed bytes) still returns 0 with the failure in QueryResult.status /
 * reason; a negative return means an internal error (no output). */
int md_query(struct md_store *store, const void *q, size_t qlen, uint8_t **out, size_t *outlen);

/* Runs q and returns the unpacked result (free with md_query_result_free). */
int md_query_exec(struct md_store *store, const Md__Query *q, Md__QueryResult **out);
void md_query_result_free(Md__QueryResult *r);

/* Typed helpers (all: 0, CAIRN_E_NOTFOUND, CAIRN_E_INVAL, or an error; *out
 * freed with md_query_result_free). The interesting field is named. */

/* r->object: the full record (inline data / extents with locations). */
int md_query_get_object(struct md_store *s, const char *bucket, const char *key,
                        Md__QueryResult **out);
/* r->bucket. */
int md_query_head_bucket(struct md_store *s, const char *bucket, Md__QueryResult **out);
/* r->list_objects. marker: exclusive (S3 marker / start-after / the decoded
 * continuation token, whichever is greater); "" for none. */
int md_query_list_objects(struct md_store *s, const char *bucket, const char *prefix,
                          const char *delimiter, const char *marker, uint32_t max_keys,
                          Md__QueryResult **out);
/* r->group: the chunk group with current fragment locations. */
int md_query_get_group(struct md_store *s, const uint8_t group_id[16], Md__QueryResult **out);
/* r->chunkservers, in id order. */
int md_query_chunkservers(struct md_store *s, Md__QueryResult **out);

#endif
