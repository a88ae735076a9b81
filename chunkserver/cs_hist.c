#include "cs_hist.h"

#include <inttypes.h>

/* Upper bounds in microseconds. */
static const uint64_t bounds_us[CS_HIST_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

void cs_hist_init(cs_hist *h)
{
    for (int i = 0; i <= CS_HIST_BUCKETS; i++)
        atomic_init(&h->bucket[i], 0);
    atomic_init(&h->count, 0);
    atomic_init(&h->sum_us, 0);
}

void cs_hist_record(cs_hist *h, uint64_t us)
{
    int i = 0;
    while (i < CS_HIST_BUCKETS && us > bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void cs_hist_render(const cs_hist *h, const char *name, const char *help, FILE *out)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (int i = 0; i < CS_HIST_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)bounds_us[i] / 1e6,
                cumulative);
    }
    cumulative += atomic_load_explicit(&h->bucket[CS_HIST_BUCKETS], memory_order_relaxed);
    fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    fprintf(out, "%s_sum %.6f\n", name,
            (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    fprintf(out, "%s_count %" PRIu64 "\n", name, cumulative);
}
