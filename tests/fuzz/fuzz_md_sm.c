/* Harness md_sm: arbitrary command bytes applied by the metadata state
 * machine (md_sm_apply / md_sm_apply_slot) to a copy of the fixture's state
 * (md_fixture.h) in a memory store.
 *
 * Every replica applies every committed command, so a command that crashes
 * md_sm or makes it fail crashes or halts the whole metadata group: the
 * state machine must turn any bytes into a Result.
 *
 * Input: one flags byte (bit 0: keep only 2 client sessions, so the dedup
 * table evicts; bit 1: all commands in one slot), then commands, each a
 * little-endian u16 length and that many bytes (at most 8). Oracles: every
 * apply returns 0 and a Result that decodes and names its slot; the
 * invariants of md_sm_check hold afterwards; applying the same commands to
 * a second copy gives the same state hash (determinism). */
#include "fuzz.h"
#include "md_fixture.h"

#include "md_check.h"
#include "md_cmd.h"
#include "md_sm.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CMDS 8

struct cmds {
    size_t n;
    const void *data[MAX_CMDS];
    size_t len[MAX_CMDS];
    int flags;
};

static void check_result(const uint8_t *res, size_t len, uint64_t index)
{
    Md__Result *r = md_result_decode(res, len);
    fuzz_check(r != NULL, "result of slot %llu does not decode", (unsigned long long)index);
    fuzz_check(r->index <= index, "result names slot %llu in slot %llu",
               (unsigned long long)r->index, (unsigned long long)index);
    md_result_free(r);
}

/* Applies c to a fresh copy of the fixture; *hash receives the state hash.
 * Returns the copy (md_store_free it). */
static struct md_store *run(const struct cmds *c, uint8_t hash[32])
{
    struct md_store *s;
    fuzz_check(md_store_clone_mem(md_fixture_store(), &s) == 0, "clone");
    struct md_sm_options opt;
    md_sm_options_default(&opt);
    if (c->flags & 1)
        opt.max_sessions = 2;
    struct md_sm *sm;
    fuzz_check(md_sm_open(s, &opt, &sm) == 0, "open");
    uint64_t index = md_sm_applied_index(sm);
    if (c->flags & 2) {
        uint8_t *res[MAX_CMDS];
        size_t rl[MAX_CMDS];
        int rc = md_sm_apply_slot(sm, ++index, c->n, c->data, c->len, NULL, res, rl);
        fuzz_check(rc == 0, "slot of %zu commands failed: %d", c->n, rc);
        for (size_t i = 0; i < c->n; i++) {
            check_result(res[i], rl[i], index);
            free(res[i]);
        }
    } else {
        for (size_t i = 0; i < c->n; i++) {
            uint8_t *res;
            size_t rl;
            int rc = md_sm_apply(sm, ++index, c->data[i], c->len[i], &res, &rl);
            fuzz_check(rc == 0, "command %zu (%zu bytes) failed: %d", i, c->len[i], rc);
            check_result(res, rl, index);
            free(res);
        }
    }
    fuzz_check(md_sm_applied_index(sm) == index, "applied index");
    md_sm_free(sm);
    fuzz_check(md_sm_state_hash(s, hash) == 0, "state hash");
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    struct fuzz_in in;
    fuzz_in_init(&in, data, size);
    struct cmds c = {.flags = fuzz_u8(&in)};
    while (fuzz_in_more(&in) && c.n < MAX_CMDS) {
        size_t want = fuzz_u16(&in);
        c.data[c.n] = fuzz_bytes(&in, want, &c.len[c.n]);
        c.n++;
    }
    uint8_t h1[32], h2[32];
    struct md_store *s = run(&c, h1);
    char why[256] = "";
    int rc = md_sm_check(s, why, sizeof(why));
    fuzz_check(rc == 0, "invariant broken (%d): %s", rc, why);
    md_store_free(s);
    s = run(&c, h2);
    fuzz_check(memcmp(h1, h2, 32) == 0, "the same commands gave two states");
    md_store_free(s);
    fuzz_in_free(&in);
    return 0;
}
