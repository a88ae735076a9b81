/* cairn-s3ops: latency and per-daemon CPU of single S3 operations, for
 * scripts/bench-scale.sh (issue #16). One client, one kept-alive connection,
 * operations one after another (so a daemon's CPU over the run is what the
 * operations cost it), SigV4 by libcurl.
 *
 *   cairn-s3ops ENDPOINT BUCKET BUCKETS LOADED OP COUNT [NAME=PID,...]
 *
 * BUCKET and BUCKETS name the buckets as `cairn load` does (BUCKETS 1: BUCKET
 * itself, else BUCKET-0000 ..), LOADED the objects loaded (indexes 0 ..
 * LOADED-1; object i in bucket i % BUCKETS, key and bytes as cli_load.h
 * says). OP, COUNT times:
 *   put        a new 64-byte object zz/put-N (bucket N % BUCKETS)
 *   delete     the objects put made, in the same order
 *   get, head  object i (pseudo-random from the seed: $CAIRN_S3OPS_SEED, a
 *              number, default 0; the same seed reads the same objects, whose
 *              blocks are then cached) of the loaded ones; get checks
 *              every byte against what cairn load wrote
 *   list-first ListObjectsV2, max-keys 1000, the bucket's first page
 *   list-deep  the same from start-after=80/ (half-way through the keyspace)
 *   list-delim the same with delimiter '/' (256 common prefixes)
 * Before the run it measures each NAME=PID process's idle CPU for 1 s, and
 * prints per operation the CPU each used beyond that idle rate:
 *   OP n=COUNT errors=E p50_ms=.. p99_ms=.. NAME_us=.. ... client_us=.. entries=..
 * (entries: keys and common prefixes a listing returned, on average).
 * Exit status 1 when an operation failed or a GET returned wrong bytes.
 * Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. */
#include "cli_load.h"
#include "cn_util.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PIDS 16

struct body {
    uint8_t buf[8 << 20];
    size_t len;
    int overflow;
};

/* Occurrences of needle in b's bytes. */
static size_t count_of(const struct body *b, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    const uint8_t *p = b->buf, *end = b->buf + b->len;
    while (p < end && (p = memmem(p, (size_t)(end - p), needle, nl))) {
        n++;
        p += nl;
    }
    return n;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    struct body *b = u;
    size_t k = s * n;
    if (b->len + k > sizeof(b->buf)) {
        b->overflow = 1;
        return k;
    }
    memcpy(b->buf + b->len, p, k);
    b->len += k;
    return k;
}

struct src {
    const char *data;
    size_t len, sent;
};

static size_t source(char *buf, size_t s, size_t n, void *u)
{
    struct src *r = u;
    size_t want = s * n, left = r->len - r->sent;
    if (want > left)
        want = left;
    memcpy(buf, r->data + r->sent, want);
    r->sent += want;
    return want;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bucket_of(const char *base, uint64_t buckets, uint64_t b, char *out, size_t cap)
{
    if (buckets == 1)
        snprintf(out, cap, "%s", base);
    else
        snprintf(out, cap, "%s-%04" PRIu64, base, b);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: %s ENDPOINT BUCKET BUCKETS LOADED "
                "put|delete|get|head|list-first|list-deep|list-delim COUNT [NAME=PID,...]\n",
                argv[0]);
        return 2;
    }
    const char *endpoint = argv[1], *base = argv[2], *op = argv[5];
    uint64_t buckets = strtoull(argv[3], NULL, 10), loaded = strtoull(argv[4], NULL, 10);
    int count = atoi(argv[6]);
    char *names[MAX_PIDS];
    long pids[MAX_PIDS];
    int npids = 0;
    if (argc > 7) {
        char *save = NULL;
        for (char *t = strtok_r(argv[7], ",", &save); t && npids < MAX_PIDS;
             t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (!eq)
                continue;
            *eq = 0;
            names[npids] = t;
            pids[npids++] = strtol(eq + 1, NULL, 10);
        }
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_DEFAULT_REGION");
    if (!ak || !sk || buckets < 1 || count < 1 ||
        (loaded == 0 && (!strcmp(op, "get") || !strcmp(op, "head")))) {
        fprintf(stderr, "s3ops: need credentials, BUCKETS >= 1, COUNT >= 1, LOADED >= 1\n");
        return 2;
    }
    char userpwd[512], sigv4[128];
    snprintf(userpwd, sizeof(userpwd), "%s:%s", ak, sk);
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", region ? region : "us-east-1");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    static struct body body;
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *put_hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    char put_data[64];
    memset(put_data, 'p', sizeof(put_data));

    /* the idle CPU rate of each daemon, to take off */
    int64_t idle0[MAX_PIDS], idle1[MAX_PIDS], c0[MAX_PIDS + 1], c1[MAX_PIDS + 1];
    for (int i = 0; i < npids; i++)
        idle0[i] = cn_proc_cpu_us(pids[i]);
    int64_t ti0 = cn_mono_us();
    cn_sleep_ms(npids ? 1000 : 0);
    int64_t ti1 = cn_mono_us();
    for (int i = 0; i < npids; i++)
        idle1[i] = cn_proc_cpu_us(pids[i]);

    int64_t *lat = calloc((size_t)count, sizeof(*lat));
    const char *seed_env = getenv("CAIRN_S3OPS_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (seed * 0xbf58476d1ce4e5b9ull);
    if (rng == 0) /* xorshift never leaves 0 */
        rng = 0x9e3779b97f4a7c15ull;
    int errors = 0;
    uint64_t entries = 0; /* keys and common prefixes listed */
    for (int i = 0; i < npids; i++)
        c0[i] = cn_proc_cpu_us(pids[i]);
    c0[npids] = cn_proc_cpu_us(0);
    int64_t t0 = cn_mono_us();
    for (int n = 0; n < count; n++) {
        char url[1024], bucket[300], key[CLI_LOAD_KEY_CAP + 32];
        uint64_t i = 0;
        struct src src = {put_data, sizeof(put_data), 0};
        body.len = 0;
        body.overflow = 0;
        curl_easy_setopt(h, CURLOPT_UPLOAD, 0L);
        curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        if (!strcmp(op, "get") || !strcmp(op, "head")) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            i = rng % loaded;
            bucket_of(base, buckets, i % buckets, bucket, sizeof(bucket));
            cli_load_key(i, key);
            snprintf(url, sizeof(url), "%s/%s/%s", endpoint, bucket, key);
            if (!strcmp(op, "head"))
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(op, "put") || !strcmp(op, "delete")) {
            bucket_of(base, buckets, (uint64_t)n % buckets, bucket, sizeof(bucket));
            snprintf(url, sizeof(url), "%s/%s/zz/put-%d", endpoint, bucket, n);
            if (!strcmp(op, "put")) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sizeof(put_data));
                curl_easy_setopt(h, CURLOPT_READFUNCTION, source);
                curl_easy_setopt(h, CURLOPT_READDATA, &src);
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, put_hdrs);
            } else {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
            }
        } else if (!strncmp(op, "list-", 5)) {
            bucket_of(base, buckets, (uint64_t)n % buckets, bucket, sizeof(bucket));
            /* parameters in SigV4's canonical (sorted) order: libcurl signs
             * the query as written */
            snprintf(url, sizeof(url), "%s/%s?%slist-type=2&max-keys=1000%s", endpoint, bucket,
                     !strcmp(op, "list-delim") ? "delimiter=%2F&" : "",
                     !strcmp(op, "list-deep") ? "&start-after=80%2F" : "");
        } else {
            fprintf(stderr, "s3ops: unknown operation %s\n", op);
            return 2;
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        int64_t s = cn_mono_us();
        CURLcode cr = curl_easy_perform(h);
        lat[n] = cn_mono_us() - s;
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        int bad = cr != CURLE_OK || code / 100 != 2;
        if (!bad && !strcmp(op, "get")) {
            uint8_t want[128];
            size_t len = cli_load_size(i);
            cli_load_data(i, want);
            bad = body.overflow || body.len != len || memcmp(body.buf, want, len) != 0;
        }
        if (!bad && !strncmp(op, "list-", 5))
            entries += count_of(&body, "<Contents>") + count_of(&body, "<CommonPrefixes>");
        if (bad && errors++ < 5)
            fprintf(stderr, "s3ops: %s: curl %d HTTP %ld%s\n", url, cr, code,
                    cr == CURLE_OK && code / 100 == 2 ? " (wrong bytes)" : "");
    }
    int64_t t1 = cn_mono_us();
    for (int i = 0; i < npids; i++)
        c1[i] = cn_proc_cpu_us(pids[i]);
    c1[npids] = cn_proc_cpu_us(0);
    qsort(lat, (size_t)count, sizeof(*lat), cmp_i64);
    printf("%s n=%d errors=%d p50_ms=%.3f p99_ms=%.3f", op, count, errors,
           (double)lat[count / 2] / 1000.0, (double)lat[(size_t)((double)count * 0.99)] / 1000.0);
    for (int i = 0; i < npids; i++) {
        if (c0[i] < 0 || c1[i] < 0 || idle0[i] < 0 || idle1[i] < 0) {
            printf(" %s_us=?", names[i]);
            continue;
        }
        double idle_rate = (double)(idle1[i] - idle0[i]) / (double)(ti1 - ti0);
        double used = (double)(c1[i] - c0[i]) - idle_rate * (double)(t1 - t0);
        printf(" %s_us=%.1f", names[i], (used > 0 ? used : 0) / count);
    }
    printf(" client_us=%.1f entries=%.0f\n", (double)(c1[npids] - c0[npids]) / count,
           (double)entries / count);
    curl_slist_free_all(put_hdrs);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    free(lat);
    return errors ? 1 : 0;
}
