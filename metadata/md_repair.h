/* md_repair: the metadata leader's repair of lost and damaged fragments.
 *
 * Two layers (docs/repair.md has the policy):
 *
 *   - the PLANNER (md_repair_planner_*, md_repair_plan_*): deterministic given
 *     its inputs (store contents, chunkserver liveness from a callback, the
 *     time passed in, damage reports, options). It scans the store's
 *     per-chunkserver fragment index in bounded steps, remembers which groups
 *     are degraded and since when, and hands out repair tasks most-at-risk
 *     first (most fragments missing, then degraded longest, then group id).
 *     No threads, no clock, no I/O besides reading the store.
 *
 *   - the EXECUTOR (md_repair_start/stop): threads that drive a planner while
 *     this replica is leader, send each task to the target chunkserver
 *     (POST /v1/rebuild, HMAC-signed), and commit MoveFragment through the
 *     lead's commit callback (Paxos) once the chunkserver has stored it.
 *     Concurrency limit, bandwidth budget (token bucket over fragment bytes),
 *     per-task timeout, retry with exponential backoff.
 *
 * Chunkserver states, from the time since its last heartbeat (silence):
 *   UP    silence <= down_after
 *   DOWN  down_after < silence <= out_after: its fragments count as missing
 *         for risk ordering and metrics, but are not rebuilt (it may return)
 *   OUT   silence > out_after, or its record is RETIRED, or it is not
 *         registered: its fragments are rebuilt elsewhere.
 * A fragment with location 0 is lost now. A chunkserver the leader has not
 * heard from since the planner was created counts as last seen at the
 * planner's creation (so a new leader waits out_after before it rebuilds
 * the fragments of a chunkserver it never heard from). */
#ifndef CAIRN_MD_REPAIR_H
#define CAIRN_MD_REPAIR_H

#include "md_store.h"

#include <stddef.h>
#include <stdint.h>

struct cn_auth;

/* Largest k+m a task carries (md_sm's max_fragments default). */
#define MD_REPAIR_MAX_FRAGS 32
/* Room for "host:port" plus NUL. */
#define MD_REPAIR_ADDR_MAX 128

enum md_repair_cs_state {
    MD_REPAIR_CS_UP = 0,
    MD_REPAIR_CS_DOWN = 1,
    MD_REPAIR_CS_OUT = 2,
};

/* What the leader knows about one chunkserver from its heartbeats. */
struct md_repair_live {
    int64_t last_seen_ms;             /* monotonic ms of the last heartbeat */
    uint64_t free;                    /* free bytes it reported */
    char address[MD_REPAIR_ADDR_MAX]; /* "host:port" it reported; "" = the record's */
};

/* Liveness callback: fills *out for chunkserver id and returns 0, or returns
 * CAIRN_E_NOTFOUND when this leader has not heard from it (then: last seen
 * at planner creation, free and address from its record). Called with the
 * planner's (or executor's) lock held: must not block or call back. */
typedef int (*md_repair_live_fn)(void *ctx, uint64_t cs_id, struct md_repair_live *out);

struct md_repair_plan_opts {
    int64_t down_after_ms;    /* 30000 */
    int64_t out_after_ms;     /* 600000 (10 min) */
    uint32_t scan_budget;     /* fragment index keys read per md_repair_plan_step: 4096 */
    int64_t scan_interval_ms; /* from the end of one pass to the start of the next: 10000 */
    uint32_t max_damage;      /* damage reports held at once: 4096 (more: CAIRN_E_BUSY) */
    int64_t retry_base_ms;    /* first retry delay after a failed task: 1000 */
    int64_t retry_max_ms;     /* backoff cap: 60000 */
    uint64_t seed;            /* placement seed (md_place); 0 is fine */
    md_repair_live_fn live;   /* required */
    void *live_ctx;
};

/* Fills the defaults above (live NULL). */
void md_repair_plan_opts_default(struct md_repair_plan_opts *o);

/* Why a fragment is rebuilt. */
enum md_repair_why {
    MD_REPAIR_LOST = 1,    /* location 0 */
    MD_REPAIR_OUT = 2,     /* its chunkserver is OUT */
    MD_REPAIR_DAMAGED = 3, /* reported damaged by a read or scrub */
    MD_REPAIR_DRAIN = 4,   /* its chunkserver is being drained (cairn drain) */
};

struct md_repair_source {
    uint32_t index;
    uint64_t cs;
    char address[MD_REPAIR_ADDR_MAX];
};

/* One fragment to rebuild. */
struct md_repair_task {
    uint8_t group_id[16];
    uint32_t k, m, unit;
    uint64_t data_length;     /* object bytes in the group (the record's) */
    uint64_t fragment_length; /* bytes of every fragment (ec_layout_frag_len) */
    uint32_t index;           /* the fragment to rebuild */
    enum md_repair_why why;
    uint64_t old_cs; /* its location now (0 = none): MoveFragment's condition */
    uint64_t new_cs; /* target; == old_cs for an in-place rebuild of a damaged copy */
    char target_address[MD_REPAIR_ADDR_MAX];
    uint32_t n_sources; /* >= k: every live holder but index, in index order */
    struct md_repair_source sources[MD_REPAIR_MAX_FRAGS];
    uint32_t missing;          /* fragments of the group not live now (lost, out, down, damaged) */
    int64_t degraded_since_ms; /* when the planner first saw the group degraded */
    uint32_t attempt;          /* earlier failed attempts of this group */
};

struct md_repair_stats {
    uint64_t degraded_groups;    /* groups known with a fragment not live (incl. DOWN only) */
    uint64_t queued_groups;      /* of those, groups with a fragment to rebuild now */
    uint64_t unrecoverable;      /* groups now known with fewer than k live + down fragments */
    uint64_t unrecoverable_seen; /* times a group was found unrecoverable (logged) */
    uint64_t in_flight;          /* tasks handed out and not finished */
    uint64_t tasks_done, tasks_failed;
    uint64_t bytes_rebuilt;                  /* fragment bytes of finished tasks */
    uint64_t passes;                         /* completed scan passes */
    uint64_t keys_scanned;                   /* fragment index keys read */
    uint64_t no_target;                      /* evaluations that found no placement */
    uint64_t damage_reports, damage_dropped; /* accepted / refused (table full) */
};

struct md_repair_planner;

/* Creates a planner. opts is copied; opts->live is required. now_ms (the
 * caller's monotonic clock) is the planner's epoch. Returns 0, CAIRN_E_INVAL
 * or CAIRN_E_NOMEM. */
int md_repair_planner_new(const struct md_repair_plan_opts *opts, int64_t now_ms,
                          struct md_repair_planner **out);
void md_repair_planner_free(struct md_repair_planner *p);

/* State of chunkserver cs_id at now_ms as the planner judges it from the
 * last chunkserver table it loaded (md_repair_plan_step); OUT if unknown. */
enum md_repair_cs_state md_repair_plan_cs_state(const struct md_repair_planner *p, uint64_t cs_id);

/* One bounded scan step at now_ms: reloads the chunkserver table and
 * liveness, then reads at most scan_budget fragment index keys of the
 * suspect chunkservers (location 0, DOWN, OUT), resuming where the previous
 * step stopped. A pass's suspect list is fixed when it starts. A new pass
 * starts scan_interval_ms after the previous one ended, or as soon as a
 * chunkserver's state got worse (UP -> DOWN -> OUT, or draining) but at most
 * once a second. Returns 1 when a pass ended in this step or the planner is
 * waiting for the next pass, 0 when the pass goes on, or a store error.
 * store is read only. */
int md_repair_plan_step(struct md_repair_planner *p, struct md_store *store, int64_t now_ms);

/* Hands out the most-at-risk task that is ready (its group not in flight and
 * not in retry backoff), re-reading the group from store first. The group
 * is then in flight until md_repair_plan_done. The target follows md_place's
 * rules; among targets equal under them (same zone and rack) the one with
 * the fewest tasks in flight is preferred. Groups found unrecoverable,
 * without a target or waiting for DOWN chunkservers are skipped until the
 * next pass (or md_repair_plan_group). Reads at most 64 groups per call.
 * Returns 0 with *task filled, CAIRN_E_NOTFOUND when nothing is ready,
 * CAIRN_E_BUSY when the candidates it read needed nothing but others remain
 * (call again), or a store error. */
int md_repair_plan_next(struct md_repair_planner *p, struct md_store *store, int64_t now_ms,
                        struct md_repair_task *task);

/* Ends a task from md_repair_plan_next: status 0 = rebuilt and committed
 * (counted done, fragment_length bytes; the damage report it served is
 * dropped), else failed (counted; the group retries after a backoff of
 * retry_base_ms * 2^attempt, capped). A task the planner no longer knows
 * (e.g. after a planner reset) only counts. */
void md_repair_plan_done(struct md_repair_planner *p, const struct md_repair_task *task, int status,
                         int64_t now_ms);

/* A damaged copy: fragment index of group_id on chunkserver cs (from a
 * degraded GET or scrub). Treated as lost while the group still places that
 * fragment on cs; rebuilt in place when cs is UP, elsewhere otherwise.
 * Returns 0 or CAIRN_E_BUSY (max_damage reports held; counted as dropped)
 * or CAIRN_E_NOMEM. */
int md_repair_plan_damage(struct md_repair_planner *p, const uint8_t group_id[16], uint32_t index,
                          uint64_t cs, int64_t now_ms);

/* `cairn repair GROUP`: evaluate this group at the next md_repair_plan_next
 * whatever the scan says. 0 or CAIRN_E_NOMEM. */
int md_repair_plan_group(struct md_repair_planner *p, const uint8_t group_id[16], int64_t now_ms);

/* `cairn repair`: abandon the current pass; the next step starts a new one
 * (and groups skipped until the next pass are evaluated again). */
void md_repair_plan_rescan(struct md_repair_planner *p);

void md_repair_plan_stats(const struct md_repair_planner *p, struct md_repair_stats *st);

/* ---------------------------------------------------------- executor -- */

struct md_repair_opts {
    struct md_repair_plan_opts plan; /* live / live_ctx required */
    /* The state machine's store, read concurrently with the applying thread:
     * must be thread-safe (the LevelDB backend). Borrowed. */
    struct md_store *store;
    const struct cn_auth *auth; /* signs rebuild requests; borrowed; NULL = unsigned */
    /* 1 while this replica is the leader. Any thread; must not block. */
    int (*is_leader)(void *ctx);
    /* Proposes the packed md.Command cmd[len] (a MoveFragment) under the
     * request id (client_id, seq) it carries (the same values are passed for
     * the daemon's bookkeeping), waits until it is committed and applied, and
     * returns the Result's status (0, or e.g. CAIRN_E_PRECOND when the
     * location moved meanwhile), or a negative error when it could not be
     * committed (CAIRN_E_NOTLEADER, timeout). Called from worker threads, up
     * to max_inflight at once, each with its own client_id; cmd is borrowed
     * for the call. */
    int (*commit)(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len);
    void *ctx;
    /* Request ids of the MoveFragment commands: worker i uses client_id + i
     * with seq 1, 2, 3, ... from md_repair_start. 0 = a random id (so a
     * restarted or new leader never reuses a (client, seq) pair). */
    uint64_t client_id;
    uint32_t max_inflight;   /* rebuilds at once, cluster-wide: 2 */
    double bandwidth_mb_s;   /* fragment MB (1e6 B) per second started; 0 = unlimited */
    int64_t task_timeout_ms; /* one rebuild request (md_repair_stop may wait this long): 120000 */
    int64_t tick_ms;         /* scan step / leadership poll period: 100 */
};

/* Fills defaults (plan defaults; callbacks and store NULL). */
void md_repair_opts_default(struct md_repair_opts *o);

struct md_repair;

/* Starts the executor threads (1 scanner + max_inflight workers). opts is
 * copied; store, auth and ctx must outlive md_repair_stop. Nothing is done
 * while is_leader() is 0; each time this replica becomes leader a new
 * planner is made (the queue is rebuilt from replicated state). Returns 0,
 * CAIRN_E_INVAL, CAIRN_E_NOMEM or CAIRN_E_IO (thread creation). */
int md_repair_start(const struct md_repair_opts *opts, struct md_repair **out);

/* Stops the threads (in-flight rebuild requests end by their timeout at
 * worst; their commits are not made) and frees r. NULL is fine. */
void md_repair_stop(struct md_repair *r);

/* Any thread. As md_repair_plan_damage / _group / _rescan on the current
 * planner; CAIRN_E_NOTLEADER when this replica is not acting as leader. */
int md_repair_report_damage(struct md_repair *r, const uint8_t group_id[16], uint32_t index,
                            uint64_t cs);
int md_repair_repair_group(struct md_repair *r, const uint8_t group_id[16]);
int md_repair_rescan(struct md_repair *r);

/* Any thread: the current planner's stats with the executor's cumulative
 * done / failed / bytes counters (which survive leader changes). */
void md_repair_get_stats(struct md_repair *r, struct md_repair_stats *st);

/* Any thread: Prometheus text lines (cairn_repair_*) into buf (NUL-terminated,
 * truncated to cap). Returns the length written. */
size_t md_repair_metrics(struct md_repair *r, char *buf, size_t cap);

#endif
