/* cairn-s3load: small-object S3 load generator for scripts/bench.sh.
 *
 * Runs C concurrent clients (libcurl multi, one connection each, kept alive)
 * for D seconds; each client repeatedly PUTs or GETs an object of S bytes
 * under BUCKET/PREFIX-<client>-<n % keys>, signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4; uploads send x-amz-content-sha256: UNSIGNED-PAYLOAD).
 * Prints one line: op, clients, requests/s, errors, the client's own CPU
 * seconds per wall second (to show whether the client limits the rate), and
 * the 50th and 99th percentile of the requests' latency after the warm-up
 * (from handing the request to libcurl to its last byte, queueing in this
 * client included).
 * Every body starts with its key's name (then a fixed pattern), and every
 * GET is verified byte for byte against it: a wrong, short or long body
 * counts as an error.
 *
 * put-chunked sends the same bodies without a Content-Length (Transfer-Encoding:
 * chunked), which the gateway stores the ordinary way, a chunk group per
 * object, never packed: the baseline next to packed PUTs.
 *
 * Usage: cairn-s3load ENDPOINT BUCKET put|put-chunked|get SIZE CLIENTS SECONDS [KEYS]
 * Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAXC 1024

struct client {
    CURL *h;
    struct curl_slist *hdrs;
    char url[512];
    char stamp[64]; /* the key's name: the first bytes of its body */
    size_t stamp_len;
    size_t sent;
    size_t got; /* GET: body bytes received so far */
    int bad;    /* GET: a byte differed */
    uint64_t n;
    int id;
    double t_start; /* when arm() handed the request to libcurl */
};

static const char *g_endpoint, *g_bucket;
static int g_put, g_chunked;
static size_t g_size;
static char *g_body;
static unsigned g_keys = 64;

/* Byte i of client c's current object. */
static char body_byte(const struct client *c, size_t i)
{
    return i < c->stamp_len ? c->stamp[i] : g_body[i];
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    struct client *c = u;
    size_t len = s * n;
    for (size_t i = 0; i < len && !c->bad; i++)
        if (c->got + i >= g_size || p[i] != body_byte(c, c->got + i))
            c->bad = 1;
    c->got += len;
    return len;
}

static size_t src(char *buf, size_t s, size_t n, void *u)
{
    struct client *c = u;
    size_t left = g_size - c->sent, want = s * n;
    if (want > left)
        want = left;
    memcpy(buf, g_body + c->sent, want);
    for (size_t i = c->sent; i < c->stamp_len && i < c->sent + want; i++)
        buf[i - c->sent] = c->stamp[i];
    c->sent += want;
    return want;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Latencies (µs) of the requests that ended after the warm-up; at most
 * MAX_LAT are kept (a 60 s run at 60,000/s). */
#define MAX_LAT (4u << 20)
static uint32_t *g_lat;
static size_t g_nlat;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0 < p < 100) of the kept latencies, in ms (sorted). */
static double percentile_ms(double p)
{
    if (g_nlat == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)g_nlat);
    if (i >= g_nlat)
        i = g_nlat - 1;
    return g_lat[i] / 1000.0;
}

static void arm(CURLM *m, struct client *c)
{
    snprintf(c->url, sizeof(c->url), "%s/%s/s3load-%d-%llu", g_endpoint, g_bucket, c->id,
             (unsigned long long)(c->n % g_keys));
    snprintf(c->stamp, sizeof(c->stamp), "s3load-%d-%llu/", c->id,
             (unsigned long long)(c->n % g_keys));
    c->stamp_len = strlen(c->stamp) < g_size ? strlen(c->stamp) : g_size;
    c->n++;
    c->sent = 0;
    c->got = 0;
    c->bad = 0;
    c->t_start = now();
    curl_easy_setopt(c->h, CURLOPT_URL, c->url);
    if (g_put) {
        curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE,
                         g_chunked ? (curl_off_t)-1 : (curl_off_t)g_size);
    }
    curl_multi_add_handle(m, c->h);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: %s ENDPOINT BUCKET put|put-chunked|get SIZE CLIENTS SECONDS [KEYS]\n",
                argv[0]);
        return 2;
    }
    g_endpoint = argv[1];
    g_bucket = argv[2];
    g_chunked = strcmp(argv[3], "put-chunked") == 0;
    g_put = strcmp(argv[3], "put") == 0 || g_chunked;
    g_size = strtoull(argv[4], NULL, 10);
    int nc = atoi(argv[5]);
    double secs = atof(argv[6]);
    if (argc > 7)
        g_keys = (unsigned)atoi(argv[7]);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_DEFAULT_REGION");
    if (!ak || !sk || nc < 1 || nc > MAXC || g_keys < 1) {
        fprintf(stderr, "s3load: need AWS_ACCESS_KEY_ID/SECRET and 1..%d clients\n", MAXC);
        return 2;
    }
    char userpwd[512], sigv4[128];
    snprintf(userpwd, sizeof(userpwd), "%s:%s", ak, sk);
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", region ? region : "us-east-1");
    g_body = malloc(g_size ? g_size : 1);
    g_lat = malloc(MAX_LAT * sizeof(*g_lat)); /* untouched pages cost nothing */
    for (size_t i = 0; i < g_size; i++)
        g_body[i] = (char)(i * 131 + 7);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nc);
    struct client *cl = calloc((size_t)nc, sizeof(*cl));
    for (int i = 0; i < nc; i++) {
        struct client *c = &cl[i];
        c->id = i;
        c->h = curl_easy_init();
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
        curl_easy_setopt(c->h, CURLOPT_USERPWD, userpwd);
        curl_easy_setopt(c->h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        if (g_put) {
            c->hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
            curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
            curl_easy_setopt(c->h, CURLOPT_READFUNCTION, src);
            curl_easy_setopt(c->h, CURLOPT_READDATA, c);
        }
    }
    uint64_t ok = 0, err = 0, okw = 0;
    double t0 = now(), c0 = cpu(), warm = t0 + (secs > 2 ? 0.5 : 0), tw = 0, cw = 0;
    int warmed = warm <= t0;
    if (warmed) {
        tw = t0;
        cw = c0;
    }
    for (int i = 0; i < nc; i++)
        arm(m, &cl[i]);
    int running = nc;
    for (;;) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        double t = now();
        if (!warmed && t >= warm) {
            warmed = 1;
            tw = t;
            cw = cpu();
            okw = ok;
        }
        int stop = t - t0 >= secs, rearmed = 0;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct client *c;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            int verified = g_put || (!c->bad && c->got == g_size);
            if (msg->data.result == CURLE_OK && code / 100 == 2 && verified) {
                ok++;
                if (warmed && g_lat && g_nlat < MAX_LAT)
                    g_lat[g_nlat++] = (uint32_t)((t - c->t_start) * 1e6);
            } else {
                if (err < 5)
                    fprintf(stderr, "s3load: %s: curl %d HTTP %ld%s (%zu of %zu bytes)\n", c->url,
                            msg->data.result, code, verified ? "" : " (body differs)", c->got,
                            g_size);
                err++;
            }
            curl_multi_remove_handle(m, c->h);
            /* A PUT phase writes every one of its keys at least once, so
             * the GET phase after it reads only bodies it wrote. */
            if (!stop || (g_put && c->n < g_keys)) {
                arm(m, c);
                rearmed = 1;
            }
        }
        if (stop && running == 0 && !rearmed)
            break;
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double t1 = now(), c1 = cpu();
    double rate = (double)(ok - okw) / (t1 - tw);
    if (g_lat)
        qsort(g_lat, g_nlat, sizeof(g_lat[0]), cmp_u32);
    printf("%s %zu B x %d clients: %.0f req/s, %llu ok%s, %llu errors, client CPU %.2f s/s, "
           "p50 %.1f ms, p99 %.1f ms\n",
           g_put ? "PUT" : "GET", g_size, nc, rate, (unsigned long long)ok,
           g_put ? "" : " (verified)", (unsigned long long)err, (c1 - cw) / (t1 - tw),
           percentile_ms(50), percentile_ms(99));
    free(g_lat);
    for (int i = 0; i < nc; i++) {
        curl_easy_cleanup(cl[i].h);
        curl_slist_free_all(cl[i].hdrs);
    }
    curl_multi_cleanup(m);
    curl_global_cleanup();
    free(cl);
    free(g_body);
    return err ? 1 : 0;
}
