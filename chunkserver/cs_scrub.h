/* Background scrubber: one thread that reads every block of every committed
 * fragment, checks its CRC, and records damaged fragments in a cs_damage
 * list. Reads are paced to a byte rate so the scrubber never competes hard
 * with client traffic. A pass walks the store in path order; the next pass
 * starts `interval` after the previous one started (or at once if a pass took
 * longer). The position in the pass and the start of the last pass are kept
 * in DIR/scrub-state, so a restart resumes instead of starting over.
 *
 * At the end of each pass, when it knows the metadata service, the scrubber
 * also checks the other direction (the inventory check): it lists, page by
 * page with linearizable reads, every fragment the replicated state places
 * on this chunkserver, and records each one that has no file here as damaged
 * ("missing"), so the heartbeat reports it to the leader's repair queue. A
 * fragment is recorded missing only if, after it was found absent, a second
 * linearizable read still places it here and it is still absent: a fragment
 * moved away by repair or drain, or deleted as garbage, between the listing
 * and the check is not reported, and one rebuilt in place meanwhile is found
 * present. Missing entries that stopped being true (rebuilt, moved) are
 * cleared at the end of the check. */
#ifndef CAIRN_CS_SCRUB_H
#define CAIRN_CS_SCRUB_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "cs_damage.h"
#include "cs_store.h"

struct cn_auth;
struct md_view;
typedef struct cs_scrub cs_scrub;

typedef struct cs_scrub_opts {
    uint64_t rate_bytes_per_s; /* > 0 */
    int64_t interval_ms;       /* time from one pass's start to the next's */
    /* The inventory check (off when n_meta is 0): the metadata replicas
     * (copied), the cluster secret (borrowed, must outlive the scrubber) and
     * this chunkserver's metadata id (cs_heartbeat_node_id). */
    const char *const *meta_urls;
    size_t n_meta;
    struct md_view *meta_view; /* borrowed, may be NULL (cs_heartbeat_opts) */
    const struct cn_auth *auth;
    uint64_t node_id;
} cs_scrub_opts;

typedef struct cs_scrub_stats {
    bool running; /* a pass (its CRC walk or inventory check) is under way */
    uint64_t passes_done;
    uint64_t pass_fragments_done;  /* in the current (or last) pass */
    uint64_t pass_fragments_total; /* fragments in the store when it started */
    uint64_t fragments_checked;    /* ever */
    uint64_t bytes_checked;        /* ever */
    uint64_t corrupt_fragments;    /* damaged fragments found, ever */
    uint64_t corrupt_blocks;       /* bad blocks found, ever (a bad header or
                                      table counts as one) */
    int64_t last_pass_end_s;       /* wall clock, 0 before the first */
    uint64_t inventory_checked;    /* fragments the metadata placed here, checked, ever */
    uint64_t missing_fragments;    /* of those, confirmed missing on disk, ever */
    uint64_t inventory_failed;     /* inventory checks cut short (the leader could not
                                      be asked; nothing is reported then) */
} cs_scrub_stats;

/* Starts the scrubber thread. store and damage are borrowed and must outlive
 * it. Returns 0 and *out, CAIRN_E_INVAL, CAIRN_E_NOMEM. The counters of a
 * pass (passes_done, inventory_*, missing_fragments) are updated before
 * passes_done counts it, so a reader that sees the pass done sees its
 * findings. */
int cs_scrub_start(cs_store *store, cs_damage *damage, const cs_scrub_opts *opts, cs_scrub **out);
/* Starts the next pass now instead of at its interval (the current pass, if
 * one is running, finishes first). Any thread. */
void cs_scrub_now(cs_scrub *sc);
/* Stops the thread promptly (it may be mid-pass; a metadata read of the
 * inventory check in flight ends within its 5 s timeout), joins it and
 * frees. */
void cs_scrub_stop(cs_scrub *sc);
/* Snapshot of the counters. Any thread. */
void cs_scrub_stats_get(cs_scrub *sc, cs_scrub_stats *out);

#endif
