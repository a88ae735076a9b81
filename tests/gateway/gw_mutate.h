/* Deterministic mutations of a valid document, for fuzz-style unit tests of
 * the request parsers (and as the corpus generator of the libFuzzer harnesses
 * to come). A seed replays exactly: a failing case is reported by its seed.
 *
 * Mutations: bit flips, truncation, removal and duplication of spans, an
 * interesting byte, insertion of a dictionary token (the caller's, e.g. JSON
 * or XML syntax), a very long digit run ("huge number"), and deep nesting (a
 * dictionary token repeated hundreds of times). One to three are stacked per
 * call. Pure and thread-compatible: the state is the caller's. */
#ifndef CAIRN_TESTS_GW_MUTATE_H
#define CAIRN_TESTS_GW_MUTATE_H

#include <stddef.h>
#include <stdint.h>

struct gw_mutator {
    uint64_t state;
    const char *const *dict; /* tokens to insert; may be NULL */
    size_t n_dict;
    size_t max_len; /* outputs are cut to this length (0: 64 KiB) */
};

/* Initializes m with seed and an optional dictionary (borrowed). */
void gw_mutator_init(struct gw_mutator *m, uint64_t seed, const char *const *dict, size_t n_dict);

/* A pseudo-random 64-bit value (splitmix64). */
uint64_t gw_mutator_next(struct gw_mutator *m);

/* A mutation of in[len]: returns a malloc'd buffer (free() it; NUL-terminated
 * after *out_len bytes) or NULL when out of memory. */
char *gw_mutate(struct gw_mutator *m, const char *in, size_t len, size_t *out_len);

#endif
