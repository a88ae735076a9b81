#include "cn_metrics.h"

#include "cn_error.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

const uint64_t CN_HIST_BOUNDS_US[CN_HIST_BUCKETS] = {
    50,    100,    250,    500,    1000,    2500,    5000,    10000,    25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

void cn_hist_init(cn_hist *h)
{
    for (int i = 0; i <= CN_HIST_BUCKETS; i++)
        atomic_init(&h->bucket[i], 0);
    atomic_init(&h->sum_us, 0);
}

void cn_hist_record(cn_hist *h, uint64_t us)
{
    /* Binary search for the first bound >= us; CN_HIST_BUCKETS if none. */
    int lo = 0, hi = CN_HIST_BUCKETS;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (us <= CN_HIST_BOUNDS_US[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->bucket[lo], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

uint64_t cn_hist_count(const cn_hist *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= CN_HIST_BUCKETS; i++)
        n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    return n;
}

uint64_t cn_hist_sum_us(const cn_hist *h)
{
    return atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

void cn_metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s ", name);
    for (const char *p = help; p && *p; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void sample_name(FILE *out, const char *name, const char *labels)
{
    if (labels && *labels)
        fprintf(out, "%s{%s} ", name, labels);
    else
        fprintf(out, "%s ", name);
}

void cn_metrics_u64(FILE *out, const char *name, const char *labels, uint64_t value)
{
    sample_name(out, name, labels);
    fprintf(out, "%" PRIu64 "\n", value);
}

void cn_metrics_double(FILE *out, const char *name, const char *labels, double value)
{
    sample_name(out, name, labels);
    if (isnan(value))
        fputs("NaN\n", out);
    else if (isinf(value))
        fputs(value > 0 ? "+Inf\n" : "-Inf\n", out);
    else
        fprintf(out, "%.17g\n", value);
}

/* Microseconds as decimal seconds without trailing zeros: 50 -> "0.00005". */
static void seconds_text(uint64_t us, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
}

void cn_hist_series(FILE *out, const cn_hist *h, const char *name, const char *labels)
{
    char le[32];
    const char *sep = labels && *labels ? "," : "";
    if (!labels)
        labels = "";
    uint64_t cumulative = 0;
    for (int i = 0; i < CN_HIST_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        seconds_text(CN_HIST_BOUNDS_US[i], le, sizeof(le));
        fprintf(out, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, le, cumulative);
    }
    cumulative += atomic_load_explicit(&h->bucket[CN_HIST_BUCKETS], memory_order_relaxed);
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cumulative);
    uint64_t sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    if (*labels) {
        fprintf(out, "%s_sum{%s} %" PRIu64 ".%06" PRIu64 "\n", name, labels, sum / 1000000,
                sum % 1000000);
        fprintf(out, "%s_count{%s} %" PRIu64 "\n", name, labels, cumulative);
    } else {
        fprintf(out, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name, sum / 1000000, sum % 1000000);
        fprintf(out, "%s_count %" PRIu64 "\n", name, cumulative);
    }
}

void cn_hist_render(FILE *out, const cn_hist *h, const char *name, const char *help)
{
    cn_metrics_family(out, name, "histogram", help);
    cn_hist_series(out, h, name, NULL);
}

int cn_metrics_label_escape(const char *value, char *out, size_t cap)
{
    if (cap == 0)
        return CAIRN_E_RANGE;
    size_t n = 0;
    for (const char *p = value ? value : ""; *p; p++) {
        const char *rep = NULL;
        char one[2] = {*p, 0};
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        else
            rep = one;
        size_t rl = strlen(rep);
        if (n + rl >= cap) {
            out[n] = '\0';
            return CAIRN_E_RANGE;
        }
        memcpy(out + n, rep, rl);
        n += rl;
    }
    out[n] = '\0';
    return 0;
}
