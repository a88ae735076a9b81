/* cn_metrics: Prometheus text exposition (format 0.0.4) for every daemon's
 * /metrics, and a fixed-bucket latency histogram.
 *
 * A cn_hist is lock-free: any thread records an observation with three
 * relaxed atomic adds (no lock, no allocation), and rendering reads the
 * counters while writers go on. A scrape may therefore see an observation in
 * _count but not yet in _sum (or the reverse); the buckets it writes are
 * always cumulative and the +Inf bucket always equals _count, because both
 * are computed from the same bucket loads.
 *
 * Bucket upper bounds are fixed for every Cairn histogram (CN_HIST_BOUNDS_US,
 * 50 us to 10 s), so dashboards can compare any two latencies. Values are
 * rendered in seconds.
 *
 * The writers below print one family at a time: cn_metrics_family() writes
 * the # HELP and # TYPE lines, then one call per series (counter, gauge or
 * histogram) with the same name follows. Label sets are given already
 * formatted ("op=\"GetObject\"", or NULL / "" for none); values that come
 * from outside (names, addresses) go through cn_metrics_label_escape(). */
#ifndef CAIRN_CN_METRICS_H
#define CAIRN_CN_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CN_HIST_BUCKETS 17 /* finite buckets; one more counts +Inf */

/* The finite upper bounds, in microseconds, ascending. */
extern const uint64_t CN_HIST_BOUNDS_US[CN_HIST_BUCKETS];

typedef struct cn_hist {
    atomic_uint_fast64_t bucket[CN_HIST_BUCKETS + 1]; /* NOT cumulative; last = above all */
    atomic_uint_fast64_t sum_us;
} cn_hist;

/* Zeroes h. Call before any thread records into it (a zeroed static or
 * calloc'ed cn_hist is also valid). */
void cn_hist_init(cn_hist *h);

/* Records one observation of us microseconds. Any thread, lock-free. */
void cn_hist_record(cn_hist *h, uint64_t us);

/* Snapshot for tests and status pages: count and sum (microseconds). */
uint64_t cn_hist_count(const cn_hist *h);
uint64_t cn_hist_sum_us(const cn_hist *h);

/* Writes "# HELP name help" and "# TYPE name type" (type: "counter",
 * "gauge", "histogram"). help must be one line; backslashes and newlines in
 * it are escaped. */
void cn_metrics_family(FILE *out, const char *name, const char *type, const char *help);

/* Writes one sample "name{labels} value" of a counter or gauge. An integer
 * value prints exactly. */
void cn_metrics_u64(FILE *out, const char *name, const char *labels, uint64_t value);
void cn_metrics_double(FILE *out, const char *name, const char *labels, double value);

/* Writes the series of histogram h under family name (name_bucket{...,le=},
 * name_sum, name_count), in seconds, with the extra labels (may be NULL). */
void cn_hist_series(FILE *out, const cn_hist *h, const char *name, const char *labels);

/* cn_metrics_family(name, "histogram", help) followed by cn_hist_series of h
 * without labels. */
void cn_hist_render(FILE *out, const cn_hist *h, const char *name, const char *help);

/* Copies value into out (capacity cap, always NUL-terminated when cap > 0)
 * with backslash, double quote and newline escaped as the exposition format
 * wants inside a label value. Returns 0, or CAIRN_E_RANGE when it had to
 * truncate (out then holds a shorter, still well-formed value). */
int cn_metrics_label_escape(const char *value, char *out, size_t cap);

#endif
