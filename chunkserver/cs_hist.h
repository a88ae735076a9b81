/* A fixed-bucket latency histogram for Prometheus text output. Recording is
 * lock-free (atomics) and may happen from any thread; rendering reads a
 * consistent-enough snapshot without stopping writers. */
#ifndef CAIRN_CS_HIST_H
#define CAIRN_CS_HIST_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define CS_HIST_BUCKETS 14

typedef struct cs_hist {
    atomic_uint_fast64_t bucket[CS_HIST_BUCKETS + 1]; /* last one is +Inf */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
} cs_hist;

/* Zeroes a histogram (before any thread uses it). */
void cs_hist_init(cs_hist *h);
/* Records one observation of us microseconds. */
void cs_hist_record(cs_hist *h, uint64_t us);
/* Writes `# HELP`, `# TYPE` and the series of a histogram called name, in
 * seconds, to out. */
void cs_hist_render(const cs_hist *h, const char *name, const char *help, FILE *out);

#endif
