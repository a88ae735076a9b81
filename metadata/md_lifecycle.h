/* md_lifecycle: S3 lifecycle rules applied by the metadata leader (issue #13).
 *
 * Two layers, as md_repair:
 *
 *   - the RULES (md_lc_*): pure functions deciding whether an object is due
 *     to expire or an upload due to be aborted at a given time, with a given
 *     length of a day. The state machine uses them to decide a
 *     LifecycleExpire command (with the command's time), and the worker to
 *     find candidates, so both agree.
 *
 *   - the WORKER (md_lifecycle_start/stop): one thread that, while this
 *     replica is leader, scans every bucket with a lifecycle configuration
 *     (objects, and uploads when a rule aborts them), and for each due one
 *     commits a LifecycleExpire carrying its own clock. It keeps no state
 *     between passes: a new leader simply scans again, and a command the
 *     old leader left unfinished is decided again (or found again) by the
 *     new one.
 *
 * Ages follow S3: an object's age counts from its mtime, an upload's from its
 * initiation; "N days" ends at mtime + N days rounded up to a multiple of the
 * day (midnight UTC with the real day). An Expiration Date expires every
 * matching object from that instant on. Only enabled rules count. Filters: the
 * key prefix, every tag of the rule present with its value, and object size
 * bounds; an upload matches a rule by prefix only (S3 refuses tag filters on
 * rules that abort uploads). NoncurrentVersionExpiration and
 * ExpiredObjectDeleteMarker are stored but apply to versions, which Cairn
 * does not have yet: they never make anything due. */
#ifndef CAIRN_MD_LIFECYCLE_H
#define CAIRN_MD_LIFECYCLE_H

#include "meta.pb-c.h"
#include "md_store.h"

#include <stdint.h>

#define MD_LC_DAY_MS 86400000LL /* the real day */

/* The end of an age of days counted from t0_ms: t0 + days * day_ms rounded
 * up to a multiple of day_ms (day_ms > 0). Saturates at INT64_MAX. */
int64_t md_lc_after_days(int64_t t0_ms, uint32_t days, int64_t day_ms);

/* 1 if rule r's filter takes an object of key, size and tags[n]. */
int md_lc_rule_matches(const Md__LifecycleRule *r, const char *key, uint64_t size,
                       Md__Tag *const *tags, size_t n_tags);

/* 1 if some enabled rule of lc expires object o (at key) at now_ms. */
int md_lc_object_due(const Md__LifecycleConfig *lc, const char *key, const Md__ObjectRecord *o,
                     int64_t now_ms, int64_t day_ms);

/* 1 if some enabled rule of lc aborts upload u at now_ms. */
int md_lc_upload_due(const Md__LifecycleConfig *lc, const Md__UploadRecord *u, int64_t now_ms,
                     int64_t day_ms);

/* 1 if some enabled rule of lc expires version v of key, noncurrent since
 * since_ms and the nth newest noncurrent version of its key (0: the newest),
 * at now_ms (NoncurrentVersionExpiration, keeping NewerNoncurrentVersions). */
int md_lc_noncurrent_due(const Md__LifecycleConfig *lc, const char *key, const Md__ObjectRecord *v,
                         int64_t since_ms, uint64_t nth, int64_t now_ms, int64_t day_ms);

/* 1 if some enabled rule of lc removes a delete marker of key that is the
 * key's only version (ExpiredObjectDeleteMarker; rules with tag or size
 * filters never take a marker). */
int md_lc_marker_due(const Md__LifecycleConfig *lc, const char *key);

/* One item a pass found due. */
struct md_lc_item {
    char *bucket, *key, *upload_id; /* upload_id NULL: an object */
    char *version_id;               /* non-NULL: that version (upload_id NULL) */
    int expired_marker;             /* with version_id: the key's lone delete marker */
};

/* Scans store at now_ms: appends to *items (malloc'ed array of *n, grown;
 * free with md_lc_items_free) every object and upload due in every bucket
 * with a lifecycle configuration, at most max in all. Returns 0 or a
 * negative CAIRN_E_* code (the items found so far are kept). */
int md_lc_scan(struct md_store *store, int64_t now_ms, int64_t day_ms, size_t max,
               struct md_lc_item **items, size_t *n);

void md_lc_items_free(struct md_lc_item *items, size_t n);

struct md_lifecycle_opts {
    struct md_store *store; /* read by the scans (the replica's own) */
    int64_t day_ms;         /* length of a day: MD_LC_DAY_MS; shorter only in tests */
    int64_t scan_ms;        /* from the end of one pass to the next: 60000 */
    size_t max_per_pass;    /* commands per pass: 10000 */
    /* 1 while this replica leads (a pass stops when it no longer does) */
    int (*is_leader)(void *ctx);
    /* commits cmd through Paxos and waits: 0 or the state machine's status */
    int (*commit)(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd, size_t len);
    /* the wall clock in Unix ms (the time the commands carry) */
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

struct md_lifecycle;

/* Fills the defaults above (callbacks NULL). */
void md_lifecycle_opts_default(struct md_lifecycle_opts *o);

/* Starts the worker thread. Returns 0 with *out, or a negative CAIRN_E_*. */
int md_lifecycle_start(const struct md_lifecycle_opts *o, struct md_lifecycle **out);

/* Stops the thread (at most one command later) and frees w; NULL is fine. */
void md_lifecycle_stop(struct md_lifecycle *w);

/* Objects expired and uploads aborted by this worker (metrics, tests). */
void md_lifecycle_stats(struct md_lifecycle *w, uint64_t *expired, uint64_t *aborted);

#endif
