/* md_place: where the k+m fragments of a new chunk group go (and where a
 * repaired fragment goes). A pure function: no I/O, no clock, no global
 * random state; the same inputs and seed give the same answer on any
 * machine, so the leader's choice can be replayed and tested.
 *
 * Rules, in priority order, for each fragment in turn:
 *   1. never a chunkserver already chosen or already holding a fragment of
 *      the group, and never one on a host already used (distinct hosts);
 *   2. the least-used zone, then the least-used rack within it (counting
 *      the nodes already chosen and the holders), so fragments spread over
 *      zones and racks as evenly as the labels allow;
 *   3. among the nodes left, a random one with probability proportional to
 *      its free space (in MiB, plus 1 so empty-looking nodes are not
 *      starved of a last resort).
 * An empty host label counts as a host of its own (one per chunkserver); an
 * empty zone or rack label is one shared zone / rack.
 *
 * The caller passes only eligible candidates (up, active, above its free
 * space reserve); the candidate order does not matter (sorted by id first). */
#ifndef CAIRN_MD_PLACE_H
#define CAIRN_MD_PLACE_H

#include <stddef.h>
#include <stdint.h>

struct md_place_node {
    uint64_t id;
    const char *host, *rack, *zone; /* NULL = "" */
    uint64_t free;                  /* bytes */
};

/* Chooses count chunkservers from cands (n of them) into out[0..count).
 * holding (n_holding, may be 0): nodes that already hold fragments of the
 * group (a repair), which count for rules 1 and 2 and are never chosen.
 * Returns 0, CAIRN_E_INVAL (count 0 or ids not unique), CAIRN_E_UNAVAIL
 * (not enough distinct hosts) or CAIRN_E_NOMEM. */
int md_place(const struct md_place_node *cands, size_t n, const struct md_place_node *holding,
             size_t n_holding, uint32_t count, uint64_t seed, uint64_t *out);

/* The deterministic generator md_place uses (splitmix64), exposed for tests
 * and callers who need a seed stream: advances *state, returns the next value. */
uint64_t md_place_rand(uint64_t *state);

#endif
