/* cairn-ecbench: the codec's encode and decode throughput next to raw ISA-L
 * ec_encode_data on the same buffers, in the same run.
 *
 * For each scheme and stripe unit, three operations are timed: encode, decode
 * with 1 data fragment lost, decode with m data fragments lost (the worst case:
 * every lost fragment needs a full matrix row). "raw" calls ec_encode_data with
 * tables prepared outside the timed loop; "codec" goes through ec_encode /
 * ec_decode, including the decode-table cache lookup. Throughput is object
 * data (k * unit bytes per stripe) per second of thread CPU time, the best of
 * several interleaved trials, so other processes on the machine disturb the
 * figures as little as possible. */
#include "cn_error.h"
#include "ec_codec.h"

#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bench {
    ec_codec *codec;
    int k, m;
    size_t unit;
    uint8_t *frags[EC_MAX_FRAGS];
    uint8_t raw_tables[2][32 * EC_MAX_K * EC_MAX_M]; /* [0]: 1 lost, [1]: m lost */
};

enum op { OP_ENCODE, OP_DECODE_1, OP_DECODE_M };

/* Raw ISA-L decode tables for rebuilding data fragments 0..lost-1 from
 * fragments lost..lost+k-1, built the way ISA-L's own examples do. */
static int raw_decode_tables(struct bench *b, int lost, uint8_t *tables)
{
    int k = b->k, n = b->k + b->m;
    uint8_t *matrix = malloc((size_t)n * k), sub[EC_MAX_K * EC_MAX_K], inv[EC_MAX_K * EC_MAX_K];
    gf_gen_cauchy1_matrix(matrix, n, k);
    for (int r = 0; r < k; r++)
        memcpy(sub + (size_t)r * k, matrix + (size_t)(lost + r) * k, (size_t)k);
    int rc = gf_invert_matrix(sub, inv, k);
    if (rc == 0)
        ec_init_tables(k, lost, inv, tables);
    free(matrix);
    return rc;
}

static void run_once(struct bench *b, enum op op, int use_codec)
{
    int k = b->k, m = b->m;
    uint8_t **f = b->frags;
    switch (op) {
    case OP_ENCODE:
        if (use_codec)
            ec_encode(b->codec, b->unit, (const uint8_t *const *)f, f + k);
        else
            ec_encode_data((int)b->unit, k, m, (uint8_t *)ec_codec_encode_tables(b->codec), f,
                           f + k);
        break;
    case OP_DECODE_1:
    case OP_DECODE_M: {
        int lost = op == OP_DECODE_1 ? 1 : m;
        uint64_t all = (1ull << (k + m)) - 1, want = (1ull << lost) - 1;
        if (use_codec)
            ec_decode(b->codec, b->unit, f, all & ~want, want);
        else
            ec_encode_data((int)b->unit, k, lost, b->raw_tables[op == OP_DECODE_M], f + lost, f);
        break;
    }
    }
}

/* Returns GB/s of object data for `op`, best of `trials` (codec and raw
 * interleaved so both see the same machine). */
static void measure(struct bench *b, enum op op, int trials, double target_bytes, double *codec_gbs,
                    double *raw_gbs)
{
    double stripe = (double)b->k * (double)b->unit;
    long iters = (long)(target_bytes / stripe);
    if (iters < 4)
        iters = 4;
    *codec_gbs = *raw_gbs = 0;
    for (int t = 0; t < trials; t++) {
        for (int use_codec = 0; use_codec <= 1; use_codec++) {
            run_once(b, op, use_codec); /* warm */
            double t0 = thread_seconds();
            for (long i = 0; i < iters; i++)
                run_once(b, op, use_codec);
            double dt = thread_seconds() - t0;
            double gbs = stripe * (double)iters / dt / 1e9;
            double *best = use_codec ? codec_gbs : raw_gbs;
            if (gbs > *best)
                *best = gbs;
        }
    }
}

static void usage(void)
{
    printf("usage: cairn-ecbench [--trials N] [--mib N] [--quick]\n\n"
           "Prints encode and decode (1 lost, m lost) GB/s of Cairn's codec next to raw\n"
           "ISA-L ec_encode_data on the same buffers, for 4+2, 6+3, 8+3, 10+4, 12+4 at\n"
           "64 KiB, 256 KiB and 1 MiB stripe units.\n\n"
           "  --trials N  interleaved trials per figure, best kept (default 7)\n"
           "  --mib N     object data per trial, MiB (default 256)\n"
           "  --quick     --trials 2 --mib 32 (a smoke run)\n"
           "Exit status: 0 when every row reaches 95%% of raw, 1 otherwise.\n");
}

int main(int argc, char **argv)
{
    int trials = 7;
    double mib = 256;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--trials") && i + 1 < argc) {
            trials = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--mib") && i + 1 < argc) {
            mib = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--quick")) {
            trials = 2;
            mib = 32;
        } else {
            fprintf(stderr, "cairn-ecbench: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (trials < 1 || mib <= 0) {
        fprintf(stderr, "cairn-ecbench: --trials and --mib must be positive\n");
        return 2;
    }

    static const int schemes[][2] = {{4, 2}, {6, 3}, {8, 3}, {10, 4}, {12, 4}};
    static const size_t units[] = {64 << 10, 256 << 10, 1 << 20};
    static const char *const op_names[] = {"encode", "decode-1", "decode-m"};
    double worst = 1e9;

    printf("%-6s %-8s %-9s %12s %12s %8s\n", "scheme", "unit", "op", "codec GB/s", "raw GB/s",
           "ratio");
    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            struct bench b = {.k = schemes[s][0], .m = schemes[s][1], .unit = units[u]};
            int rc = ec_codec_new(b.k, b.m, &b.codec);
            if (rc) {
                fprintf(stderr, "ec_codec_new: %s\n", cairn_strerror(rc));
                return 2;
            }
            for (int i = 0; i < b.k + b.m; i++) {
                if (posix_memalign((void **)&b.frags[i], 64, b.unit)) {
                    fprintf(stderr, "out of memory\n");
                    return 2;
                }
                for (size_t j = 0; j < b.unit; j++)
                    b.frags[i][j] = (uint8_t)(rand() >> 7);
            }
            if (raw_decode_tables(&b, 1, b.raw_tables[0]) ||
                raw_decode_tables(&b, b.m, b.raw_tables[1])) {
                fprintf(stderr, "singular matrix\n");
                return 2;
            }
            for (int op = OP_ENCODE; op <= OP_DECODE_M; op++) {
                double cg, rg;
                measure(&b, (enum op)op, trials, mib * 1048576.0, &cg, &rg);
                double ratio = cg / rg;
                if (ratio < worst)
                    worst = ratio;
                char scheme[32], unit[32];
                snprintf(scheme, sizeof(scheme), "%d+%d", b.k, b.m);
                snprintf(unit, sizeof(unit), "%zuK", b.unit >> 10);
                printf("%-6s %-8s %-9s %12.2f %12.2f %7.1f%%\n", scheme, unit, op_names[op], cg, rg,
                       100.0 * ratio);
                fflush(stdout);
            }
            for (int i = 0; i < b.k + b.m; i++)
                free(b.frags[i]);
            ec_codec_free(b.codec);
        }
    }
    printf("worst codec/raw ratio: %.1f%% (target >= 95%%)\n", 100.0 * worst);
    return worst >= 0.95 ? 0 : 1;
}
