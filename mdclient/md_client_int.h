/* Between md_client.c and md_batch.c only. */
#ifndef CAIRN_MD_CLIENT_INT_H
#define CAIRN_MD_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

struct md_batcher;
struct md_client;

/* md_batcher_run's answer when the item was not done through a batch: the
 * caller sends it alone (md_client's retrying path). */
#define MD_BATCH_AGAIN 1

/* md_batch.c: queues one command (query 0; client_id, seq) or query (1) and
 * returns its outcome once a batch (sent by this caller on c, or by another)
 * answered it: 0 with *result (malloc'ed), an error of md_client_command, or
 * MD_BATCH_AGAIN. */
int md_batcher_run(struct md_batcher *b, struct md_client *c, int query, uint64_t client_id,
                   uint64_t seq, const void *body, size_t len, uint8_t **result,
                   size_t *result_len);

/* md_client.c: one attempt sequence (leader discovery, retries until the
 * client's deadline) of POST /v1/batch with body, or of one item as a plain
 * POST /v1/cmd (query 0, with client_id and seq) or /v1/read (query 1). */
int md_client_send_batch(struct md_client *c, const void *body, size_t len, uint8_t **result,
                         size_t *result_len);
int md_client_send_one(struct md_client *c, int query, uint64_t client_id, uint64_t seq,
                       const void *body, size_t len, uint8_t **result, size_t *result_len);

#endif
