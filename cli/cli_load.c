#include "cli_load.h"

#include "cli_meta.h"
#include "cn_config.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"
#include "md_cmd.h"
#include "md_cmd_load.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIENTS 64
#define MAX_OBJECT  100

static struct {
    int64_t objects;
    int64_t start;
    int64_t buckets;
    char *bucket;
    char *owner;
    int64_t batch;
    int64_t clients;
} lconf;

static const struct cn_config_option load_options[] = {
    CN_CONF_OPT_INT("objects", "1000", 1, INT64_C(1000000000), "objects to load", &lconf.objects),
    CN_CONF_OPT_INT("start", "0", 0, INT64_C(1000000000),
                    "index of the first object (so loads add up: --start 1000 --objects 9000 "
                    "after a first 1000)",
                    &lconf.start),
    CN_CONF_OPT_INT("buckets", "1", 1, 100000,
                    "spread over this many buckets: object i goes to bucket i % B", &lconf.buckets),
    CN_CONF_OPT_STRING("bucket", "cairn-load",
                       "the bucket, or with --buckets B > 1 the prefix of buckets NAME-0000 .. "
                       "(created when missing)",
                       &lconf.bucket),
    CN_CONF_OPT_STRING("owner", "", "user owning the buckets and objects (\"\": the operator)",
                       &lconf.owner),
    CN_CONF_OPT_INT("batch", "1000", 1, MD_LOAD_MAX_OBJECTS,
                    "objects per LoadObjects command (one Paxos slot)", &lconf.batch),
    CN_CONF_OPT_INT("clients", "4", 1, MAX_CLIENTS, "commands in flight (one thread each)",
                    &lconf.clients),
};

static const struct cn_config_table load_table = {
    .program = "cairn load",
    .summary = "Loads N synthetic objects (1-100 bytes each, inline in their records) into one "
               "bucket or over B buckets, up to 1000 a Paxos slot. Object i: key "
               "\"HH/IIIIIIIIII\" (HH two hex digits of a hash of i, I its index), size 1 + "
               "((i * 2246822519) mod 2^32 >> 16) mod 100, byte j 'a' + (i + j) mod 26, in "
               "bucket i mod B. Needs an admin key (or the cluster secret).",
    .options = load_options,
    .n_options = sizeof(load_options) / sizeof(load_options[0]),
};

size_t cli_load_size(uint64_t i)
{
    uint32_t h = (uint32_t)(i * UINT32_C(2246822519));
    return 1 + (h >> 16) % MAX_OBJECT;
}

void cli_load_key(uint64_t i, char key[CLI_LOAD_KEY_CAP])
{
    uint32_t h = (uint32_t)(i * UINT32_C(2654435761));
    snprintf(key, CLI_LOAD_KEY_CAP, "%02x/%010" PRIu64, h >> 24, i);
}

void cli_load_data(uint64_t i, uint8_t *data)
{
    size_t n = cli_load_size(i);
    for (size_t j = 0; j < n; j++)
        data[j] = (uint8_t)('a' + (i + j) % 26);
}

static void bucket_name(uint64_t b, char *out, size_t cap)
{
    if (lconf.buckets == 1)
        snprintf(out, cap, "%s", lconf.bucket);
    else
        snprintf(out, cap, "%s-%04" PRIu64, lconf.bucket, b);
}

/* The work: units u = 0 .. B * rounds - 1; unit u is the r-th (r = u / B)
 * run of up to `batch` objects of bucket b = u % B among [start, start+N). */
struct load_run {
    struct cli_global *g;
    uint64_t batch;  /* objects per command, after the byte bound */
    uint64_t rounds; /* runs of the fullest bucket */
    atomic_uint_fast64_t next_unit, loaded, commands;
    atomic_int failed;
    char error[256];
    pthread_mutex_t error_lock;
};

/* The objects of bucket b in [start, end): first index and count. */
static void bucket_span(uint64_t b, uint64_t *first, uint64_t *count)
{
    uint64_t start = (uint64_t)lconf.start, end = start + (uint64_t)lconf.objects;
    uint64_t B = (uint64_t)lconf.buckets;
    uint64_t f = start + (b + B - start % B) % B;
    *first = f;
    *count = f < end ? (end - f + B - 1) / B : 0;
}

static void fail(struct load_run *r, const char *what, const char *why)
{
    pthread_mutex_lock(&r->error_lock);
    if (!atomic_load(&r->failed))
        snprintf(r->error, sizeof(r->error), "%s: %s", what, why);
    atomic_store(&r->failed, 1);
    pthread_mutex_unlock(&r->error_lock);
}

static void *load_worker(void *arg)
{
    struct load_run *r = arg;
    struct md_client *c = cli_meta_client(r->g, 60000);
    struct md_load_object *objs = calloc(r->batch, sizeof(*objs));
    uint8_t *data = malloc(r->batch * MAX_OBJECT);
    char(*keys)[CLI_LOAD_KEY_CAP] = calloc(r->batch, CLI_LOAD_KEY_CAP);
    char(*etags)[33] = calloc(r->batch, 33);
    if (!c || !objs || !data || !keys || !etags) {
        fail(r, "load", c ? "out of memory" : "no metadata client");
        goto out;
    }
    struct md_owner_desc owner = {.user = lconf.owner, .id = NULL};
    const uint64_t B = (uint64_t)lconf.buckets;
    while (!atomic_load(&r->failed)) {
        uint64_t u = atomic_fetch_add(&r->next_unit, 1);
        if (u >= B * r->rounds)
            break;
        uint64_t b = u % B, run = u / B, first, count;
        bucket_span(b, &first, &count);
        if (run * r->batch >= count)
            continue;
        uint64_t n = count - run * r->batch;
        if (n > r->batch)
            n = r->batch;
        int64_t now = cn_wall_ms();
        for (uint64_t t = 0; t < n; t++) {
            uint64_t i = first + (run * r->batch + t) * B;
            uint8_t *d = data + t * MAX_OBJECT;
            size_t len = cli_load_size(i);
            cli_load_data(i, d);
            cli_load_key(i, keys[t]);
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int mdlen = 0;
            EVP_Digest(d, len, md, &mdlen, EVP_md5(), NULL);
            for (unsigned k = 0; k < mdlen && k < 16; k++)
                snprintf(etags[t] + 2 * k, 3, "%02x", md[k]);
            objs[t] = (struct md_load_object){
                .key = keys[t], .data = d, .len = len, .etag = etags[t], .mtime_ms = now};
        }
        char bucket[300];
        bucket_name(b, bucket, sizeof(bucket));
        uint8_t *cmd = NULL;
        size_t len = 0;
        uint64_t seq = md_client_next_seq(c);
        int rc =
            md_cmd_load_objects(md_client_id(c), seq, bucket, &owner, objs, (size_t)n, &cmd, &len);
        char why[200];
        rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, sizeof(why));
        if (rc) {
            fail(r, bucket, why);
            break;
        }
        atomic_fetch_add(&r->loaded, n);
        atomic_fetch_add(&r->commands, 1);
    }
out:
    free(objs);
    free(data);
    free(keys);
    free(etags);
    if (c)
        md_client_free(c);
    return NULL;
}

/* Creates every bucket that is missing. Returns 0 or prints why not. */
static int create_buckets(struct cli_global *g)
{
    struct md_client *c = cli_meta_client(g, 30000);
    if (!c)
        return CAIRN_E_UNAVAIL;
    int rc = 0;
    for (uint64_t b = 0; b < (uint64_t)lconf.buckets && !rc; b++) {
        char bucket[300], why[200];
        bucket_name(b, bucket, sizeof(bucket));
        uint8_t *cmd = NULL;
        size_t len = 0;
        uint64_t seq = md_client_next_seq(c);
        rc = md_cmd_create_bucket(md_client_id(c), seq, bucket, lconf.owner, "", 0, cn_wall_ms(),
                                  &cmd, &len);
        rc = cli_meta_commit_why(c, seq, rc, cmd, len, why, sizeof(why));
        if (rc == CAIRN_E_EXISTS)
            rc = 0;
        if (rc)
            fprintf(stderr, "cairn load: cannot create bucket %s: %s\n", bucket, why);
    }
    md_client_free(c);
    return rc;
}

int cli_load(struct cli_global *g, int argc, char **argv)
{
    char err[512] = "";
    char *help_argv[] = {argv[0], "--help", NULL};
    int rc = g->help ? cn_config_load(&load_table, 2, help_argv, NULL, err, sizeof(err))
                     : cn_config_load(&load_table, argc, argv, NULL, err, sizeof(err));
    if (rc == CN_CONFIG_HELP)
        return CLI_EXIT_OK;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return CLI_EXIT_USAGE;
    }
    int exit_code = CLI_EXIT_FAILED;
    struct load_run r = {.g = g};
    pthread_mutex_init(&r.error_lock, NULL);
    /* Fill commands up to the byte bound with the largest objects. */
    struct md_owner_desc owner = {.user = lconf.owner};
    char key[CLI_LOAD_KEY_CAP];
    cli_load_key(UINT64_C(9999999999), key);
    uint8_t big[MAX_OBJECT] = {0};
    struct md_load_object probe = {
        .key = key, .data = big, .len = MAX_OBJECT, .etag = "0123456789abcdef0123456789abcdef"};
    size_t per = md_load_object_size(&probe, &owner) + 16;
    r.batch = (uint64_t)lconf.batch;
    if (r.batch * per > MD_LOAD_MAX_BYTES - 4096)
        r.batch = (MD_LOAD_MAX_BYTES - 4096) / per;
    uint64_t first, count;
    bucket_span(0, &first, &count); /* bucket 0 holds the most */
    r.rounds = (count + r.batch - 1) / r.batch;

    if (create_buckets(g))
        goto out;
    int64_t t0 = cn_mono_us();
    int n = (int)lconf.clients;
    pthread_t th[MAX_CLIENTS];
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, load_worker, &r))
            break;
    if (!started) {
        fprintf(stderr, "cairn load: cannot start a thread\n");
        goto out;
    }
    /* Progress every 2 s until the workers are done. */
    uint64_t total = (uint64_t)lconf.objects, last = 0;
    int64_t last_t = t0;
    for (;;) {
        uint64_t done = atomic_load(&r.loaded);
        if (done >= total || atomic_load(&r.failed))
            break;
        cn_sleep_ms(200);
        int64_t now = cn_mono_us();
        if (now - last_t >= 2000000) {
            done = atomic_load(&r.loaded);
            printf("loaded %" PRIu64 "/%" PRIu64 " objects, %.0f objects/s\n", done, total,
                   (double)(done - last) * 1e6 / (double)(now - last_t));
            fflush(stdout);
            last = done;
            last_t = now;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(cn_mono_us() - t0) / 1e6;
    uint64_t done = atomic_load(&r.loaded);
    if (atomic_load(&r.failed) || done != total) {
        fprintf(stderr, "cairn load: %s (%" PRIu64 " of %" PRIu64 " loaded)\n",
                r.error[0] ? r.error : "stopped", done, total);
        goto out;
    }
    printf("loaded %" PRIu64 " objects (indexes %" PRId64 "..%" PRId64 ") into %" PRId64
           " bucket%s in %.1f s: %.0f objects/s, %" PRIu64 " commands\n",
           done, lconf.start, lconf.start + lconf.objects - 1, lconf.buckets,
           lconf.buckets == 1 ? "" : "s", secs, (double)done / (secs > 0 ? secs : 1),
           (uint64_t)atomic_load(&r.commands));
    exit_code = CLI_EXIT_OK;
out:
    pthread_mutex_destroy(&r.error_lock);
    cn_config_release(&load_table);
    return exit_code;
}
