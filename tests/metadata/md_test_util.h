/* Shared helpers for the metadata tests: stores of either backend in a
 * private temp directory, and a state machine driver that numbers slots. */
#ifndef CAIRN_MD_TEST_UTIL_H
#define CAIRN_MD_TEST_UTIL_H

#include "md_cmd.h"
#include "md_query.h"
#include "md_sm.h"
#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

enum { BACKEND_MEM = 0, BACKEND_LEVELDB = 1, BACKEND_COUNT = 2 };

struct tstore {
    int backend;
    char dir[256]; /* LevelDB directory ("" for memory) */
    struct md_store *store;
};

/* Opens a fresh store of the backend; aborts the test on failure. */
void tstore_open(struct tstore *t, int backend);
/* Closes and reopens the same LevelDB directory (memory: no-op). */
void tstore_reopen(struct tstore *t);
/* Closes and removes everything. */
void tstore_close(struct tstore *t);
/* Removes a directory tree. */
void rm_tree(const char *dir);
/* A fresh temporary directory path in out (created). */
void make_temp_dir(char *out, size_t n);

/* A state machine over a tstore plus a slot counter and a client id. */
struct tsm {
    struct tstore ts;
    struct md_sm *sm;
    uint64_t index;
    uint64_t client, seq;
};

void tsm_open(struct tsm *t, int backend);
void tsm_close(struct tsm *t);
/* Applies cmd (consumed: freed) as the next slot; returns the decoded result
 * (free with md_result_free). Aborts the test on an apply error. */
Md__Result *tsm_apply(struct tsm *t, uint8_t *cmd, size_t len);
/* As tsm_apply, returning just the status. */
int tsm_run(struct tsm *t, uint8_t *cmd, size_t len);
/* Next request id of the tsm's client. */
uint64_t tsm_seq(struct tsm *t);

/* Aborts the test unless md_sm_check finds the store consistent. */
void tsm_check(struct tsm *t);
/* Runs the packed query q (consumed) against the store; the decoded answer
 * (free with md_query_result_free). Aborts the test on a query error. */
Md__QueryResult *tsm_query(struct tsm *t, uint8_t *q, size_t ql);
/* Packed-group tests: tsm_open, bucket "bkt", chunkservers first..last
 * registered at 127.0.0.1:1. */
void tsm_open_packed(struct tsm *t, int backend, uint64_t first, uint64_t last);

/* A group descriptor with a deterministic id derived from n. */
void make_group(struct md_group_desc *g, uint64_t n, uint32_t k, uint32_t m, uint64_t len,
                uint64_t *cs_storage);

#endif
