/* A small but complete metadata state for the metadata harnesses (md_sm,
 * md_query, md_snap) and the corpus generator: users with keys and quotas,
 * buckets with an ACL and a policy, inline and erasure-coded objects under a
 * few prefixes, an open multipart upload with parts, a completed one,
 * chunkservers and a garbage entry -- every record type the state machine
 * keeps. Built once per process by applying real commands (md_cmd builders)
 * to a memory store, so it is exactly what a cluster would hold.
 *
 * Not thread-safe (harnesses run one input at a time). */
#ifndef CAIRN_TESTS_FUZZ_MD_FIXTURE_H
#define CAIRN_TESTS_FUZZ_MD_FIXTURE_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

struct md_fixture_cmd {
    uint8_t *data; /* a packed md.Command */
    size_t len;
};

/* The commands that build the state, in slot order (slot i + 1 holds
 * command i). Owned by the fixture; valid for the life of the process. */
const struct md_fixture_cmd *md_fixture_commands(size_t *n);

/* The memory store holding the state (applied index = the number of
 * commands). Owned by the fixture: never write to it; take an independent
 * copy with md_store_clone_mem (O(1)). Aborts if the fixture cannot be
 * built, since no harness can then run. */
struct md_store *md_fixture_store(void);

/* The client id the fixture's commands use (harness commands may reuse it
 * to exercise the per-client dedup table). */
#define MD_FIXTURE_CLIENT 7

#endif
