/* Background scrubber: one thread that reads every block of every committed
 * fragment, checks its CRC, and records damaged fragments in a cs_damage
 * list. Reads are paced to a byte rate so the scrubber never competes hard
 * with client traffic. A pass walks the store in path order; the next pass
 * starts `interval` after the previous one started (or at once if a pass took
 * longer). The position in the pass and the start of the last pass are kept
 * in DIR/scrub-state, so a restart resumes instead of starting over. */
#ifndef CAIRN_CS_SCRUB_H
#define CAIRN_CS_SCRUB_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_damage.h"
#include "cs_store.h"

typedef struct cs_scrub cs_scrub;

typedef struct cs_scrub_opts {
    uint64_t rate_bytes_per_s; /* > 0 */
    int64_t interval_ms;       /* time from one pass's start to the next's */
} cs_scrub_opts;

typedef struct cs_scrub_stats {
    uint64_t passes_done;
    uint64_t pass_fragments_done;  /* in the current (or last) pass */
    uint64_t pass_fragments_total; /* fragments in the store when it started */
    uint64_t fragments_checked;    /* ever */
    uint64_t bytes_checked;        /* ever */
    uint64_t corrupt_fragments;    /* damaged fragments found, ever */
    uint64_t corrupt_blocks;       /* bad blocks found, ever (a bad header or
                                      table counts as one) */
    int64_t last_pass_end_s;       /* wall clock, 0 before the first */
} cs_scrub_stats;

/* Starts the scrubber thread. store and damage are borrowed and must outlive
 * it. Returns 0 and *out, CAIRN_E_INVAL, CAIRN_E_NOMEM. */
int cs_scrub_start(cs_store *store, cs_damage *damage, const cs_scrub_opts *opts, cs_scrub **out);
/* Starts the next pass now instead of at its interval (the current pass, if
 * one is running, finishes first). Any thread. */
void cs_scrub_now(cs_scrub *sc);
/* Stops the thread promptly (it may be mid-pass), joins it and frees. */
void cs_scrub_stop(cs_scrub *sc);
/* Snapshot of the counters. Any thread. */
void cs_scrub_stats_get(cs_scrub *sc, cs_scrub_stats *out);

#endif
