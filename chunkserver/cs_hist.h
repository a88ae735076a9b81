/* The chunkserver's latency histograms: the common lock-free fixed-bucket
 * histogram (cn_metrics.h) under the names the chunkserver modules use.
 * Recording is lock-free and may happen from any thread; rendering reads the
 * counters without stopping writers. */
#ifndef CAIRN_CS_HIST_H
#define CAIRN_CS_HIST_H

#include <stdint.h>
#include <stdio.h>

#include "cn_metrics.h"

typedef cn_hist cs_hist;

/* Zeroes a histogram (before any thread uses it). */
void cs_hist_init(cs_hist *h);
/* Records one observation of us microseconds. Any thread. */
void cs_hist_record(cs_hist *h, uint64_t us);
/* Writes `# HELP`, `# TYPE` and the series of a histogram called name, in
 * seconds, to out. */
void cs_hist_render(const cs_hist *h, const char *name, const char *help, FILE *out);

#endif
