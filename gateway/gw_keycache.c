#include "gw_keycache.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_data.h"
#include "gw_sigv4.h"
#include "md_cmd.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG "gw-keys"

/* One key of the mirror (strings malloc'ed). */
struct key_entry {
    char *key_id;
    char *secret;
    char *owner;
    int64_t created_ms;
    int admin, disabled;
};

struct gw_keycache {
    struct gw_ctx *data;
    char *root_ak, *root_sk;
    int64_t refresh_ms, min_refresh_ms, stale_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits on it; waiters of a refresh too */
    struct key_entry *keys; /* sorted by key_id */
    size_t n_keys;
    int64_t refreshed_ms; /* cn_mono_ms() of the last success; 0 = never */
    int64_t started_ms;   /* of the last attempt */
    uint64_t generation;  /* attempts finished */
    int force, stop;
    pthread_t th;

    atomic_uint_fast64_t hits, unknown, key_reads, folded, refreshes, forced, refresh_fails;
};

static void entries_free(struct key_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].key_id);
        if (e[i].secret) {
            OPENSSL_cleanse(e[i].secret, strlen(e[i].secret));
            free(e[i].secret);
        }
        free(e[i].owner);
    }
    free(e);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct key_entry *)a)->key_id, ((const struct key_entry *)b)->key_id);
}

/* The entry of key_id in the sorted mirror, or NULL. Under mu. */
static struct key_entry *find(struct key_entry *keys, size_t n, const char *key_id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key_id, keys[mid].key_id);
        if (c == 0)
            return &keys[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Reads every key into a new sorted array. Returns 0 or an error. */
static int load_keys(struct gw_keycache *kc, struct key_entry **out, size_t *n_out)
{
    uint8_t *q = NULL;
    size_t qlen = 0;
    if (md_q_list_access_keys(&q, &qlen) != 0)
        return CAIRN_E_NOMEM;
    Md__QueryResult *res = NULL;
    int rc = gw_ctx_query(kc->data, q, qlen, &res);
    if (rc != 0)
        return rc;
    if (res->status != 0) {
        rc = res->status;
        md__query_result__free_unpacked(res, NULL);
        return rc;
    }
    struct key_entry *e = calloc(res->n_access_keys ? res->n_access_keys : 1, sizeof(*e));
    if (!e) {
        md__query_result__free_unpacked(res, NULL);
        return CAIRN_E_NOMEM;
    }
    size_t n = 0;
    rc = 0;
    for (size_t i = 0; i < res->n_access_keys; i++) {
        const Md__AccessKeyRecord *k = res->access_keys[i];
        if (!k->key_id || !k->key_id[0])
            continue;
        e[n].key_id = strdup(k->key_id);
        e[n].secret = strdup(k->secret ? k->secret : "");
        e[n].owner = strdup(k->owner ? k->owner : "");
        e[n].created_ms = k->created_ms;
        e[n].admin = k->admin;
        e[n].disabled = k->disabled;
        n++;
        if (!e[n - 1].key_id || !e[n - 1].secret || !e[n - 1].owner) {
            rc = CAIRN_E_NOMEM;
            break;
        }
    }
    md__query_result__free_unpacked(res, NULL);
    if (rc != 0) {
        entries_free(e, n);
        return rc;
    }
    qsort(e, n, sizeof(*e), entry_cmp);
    *out = e;
    *n_out = n;
    return 0;
}

static void *refresh_main(void *arg)
{
    struct gw_keycache *kc = arg;
    pthread_mutex_lock(&kc->mu);
    while (!kc->stop) {
        /* Wait for the period, or a forced refresh no sooner than
         * min_refresh_ms after the last attempt. */
        for (;;) {
            if (kc->stop)
                break;
            int64_t now = cn_mono_ms();
            int64_t next = kc->started_ms + kc->refresh_ms;
            if (kc->force && kc->started_ms + kc->min_refresh_ms < next)
                next = kc->started_ms + kc->min_refresh_ms;
            if (!kc->started_ms || now >= next)
                break;
            struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, next - now);
            pthread_cond_timedwait(&kc->cv, &kc->mu, &ts);
        }
        if (kc->stop)
            break;
        int forced = kc->force;
        kc->force = 0;
        kc->started_ms = cn_mono_ms();
        pthread_mutex_unlock(&kc->mu);

        struct key_entry *fresh = NULL;
        size_t n = 0;
        int rc = load_keys(kc, &fresh, &n);

        pthread_mutex_lock(&kc->mu);
        if (rc == 0) {
            entries_free(kc->keys, kc->n_keys);
            kc->keys = fresh;
            kc->n_keys = n;
            kc->refreshed_ms = cn_mono_ms();
            atomic_fetch_add(&kc->refreshes, 1);
            if (forced)
                atomic_fetch_add(&kc->forced, 1);
        } else {
            if (atomic_fetch_add(&kc->refresh_fails, 1) % 60 == 0)
                CN_WARN(LOG, "cannot read the access keys: %s (using the last copy for %lld ms)",
                        cairn_strerror(rc), (long long)kc->stale_ms);
        }
        kc->generation++;
        pthread_cond_broadcast(&kc->cv);
    }
    pthread_mutex_unlock(&kc->mu);
    return NULL;
}

int gw_keycache_new(const struct gw_keycache_opts *o, struct gw_keycache **out)
{
    if (!o || !o->data || !out || (o->root_ak && !o->root_sk))
        return CAIRN_E_INVAL;
    struct gw_keycache *kc = calloc(1, sizeof(*kc));
    if (!kc)
        return CAIRN_E_NOMEM;
    kc->data = o->data;
    kc->refresh_ms = o->refresh_ms > 0 ? o->refresh_ms : 1000;
    kc->min_refresh_ms = o->min_refresh_ms > 0 ? o->min_refresh_ms : 250;
    if (kc->min_refresh_ms > kc->refresh_ms)
        kc->min_refresh_ms = kc->refresh_ms;
    kc->stale_ms = o->stale_ms > 0 ? o->stale_ms : 5 * kc->refresh_ms;
    if (o->root_ak) {
        kc->root_ak = strdup(o->root_ak);
        kc->root_sk = strdup(o->root_sk);
        if (!kc->root_ak || !kc->root_sk) {
            free(kc->root_ak);
            free(kc->root_sk);
            free(kc);
            return CAIRN_E_NOMEM;
        }
    }
    pthread_mutex_init(&kc->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&kc->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&kc->th, NULL, refresh_main, kc) != 0) {
        pthread_cond_destroy(&kc->cv);
        pthread_mutex_destroy(&kc->mu);
        free(kc->root_ak);
        free(kc->root_sk);
        free(kc);
        return CAIRN_E_NOMEM;
    }
    *out = kc;
    return 0;
}

/* Fills secret and *who (unconfirmed) from entry e. */
static int answer(const struct key_entry *e, char *secret, size_t cap, struct gw_auth_identity *who)
{
    if ((size_t)snprintf(secret, cap, "%s", e->secret) >= cap)
        return CAIRN_E_RANGE;
    who->admin = e->admin;
    snprintf(who->user, sizeof(who->user), "%s", e->owner);
    who->unconfirmed = 1;
    return 0;
}

int gw_keycache_lookup(struct gw_keycache *kc, const char *ak, char *secret, size_t cap,
                       struct gw_auth_identity *who)
{
    memset(who, 0, sizeof(*who));
    if (kc->root_ak && strcmp(ak, kc->root_ak) == 0)
        return gw_auth_key_lookup(kc->data, kc->root_ak, kc->root_sk, ak, secret, cap, who);
    pthread_mutex_lock(&kc->mu);
    int fresh = kc->refreshed_ms && cn_mono_ms() - kc->refreshed_ms <= kc->stale_ms;
    struct key_entry *e = fresh ? find(kc->keys, kc->n_keys, ak) : NULL;
    if (fresh && (!e || e->disabled)) {
        /* Perhaps a key made or enabled since the last refresh: one refresh
         * (shared by every lookup waiting now) decides. */
        uint64_t gen = kc->generation;
        kc->force = 1;
        pthread_cond_broadcast(&kc->cv);
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, kc->min_refresh_ms + 5000);
        while (kc->generation == gen && !kc->stop &&
               pthread_cond_timedwait(&kc->cv, &kc->mu, &ts) == 0)
            ;
        fresh = kc->refreshed_ms && cn_mono_ms() - kc->refreshed_ms <= kc->stale_ms;
        e = fresh ? find(kc->keys, kc->n_keys, ak) : NULL;
    }
    if (fresh && (!e || e->disabled)) {
        pthread_mutex_unlock(&kc->mu);
        atomic_fetch_add(&kc->unknown, 1);
        return CAIRN_E_NOTFOUND;
    }
    if (fresh) {
        int rc = answer(e, secret, cap, who);
        pthread_mutex_unlock(&kc->mu);
        atomic_fetch_add(&kc->hits, 1);
        return rc;
    }
    pthread_mutex_unlock(&kc->mu);
    /* No fresh mirror: read the key, as without one. */
    atomic_fetch_add(&kc->key_reads, 1);
    return gw_auth_key_lookup(kc->data, NULL, NULL, ak, secret, cap, who);
}

int gw_keycache_confirm(struct gw_keycache *kc, const char *ak, const char *secret,
                        struct gw_auth_identity *who)
{
    if (!who->unconfirmed)
        return 0;
    atomic_fetch_add(&kc->key_reads, 1);
    char stored[GW_SIGV4_MAX_SECRET + 1];
    struct gw_auth_identity now;
    int rc = gw_auth_key_lookup(kc->data, NULL, NULL, ak, stored, sizeof(stored), &now);
    if (rc == 0) {
        size_t a = strlen(stored), b = strlen(secret);
        if (a != b || CRYPTO_memcmp(stored, secret, a) != 0)
            rc = CAIRN_E_NOTFOUND; /* the key id now names another key */
    }
    OPENSSL_cleanse(stored, sizeof(stored));
    if (rc == 0)
        *who = now; /* unconfirmed is 0 in a read answer */
    return rc;
}

int gw_keycache_confirm_from(struct gw_keycache *kc, const Md__QueryResult *res, const char *secret,
                             struct gw_auth_identity *who)
{
    if (!who->unconfirmed)
        return 0;
    if (!res || !res->caller_checked)
        return CAIRN_E_UNSUPPORTED;
    atomic_fetch_add(&kc->folded, 1);
    const Md__AccessKeyRecord *k = res->caller;
    if (!k || k->disabled || !k->secret)
        return CAIRN_E_NOTFOUND;
    size_t a = strlen(k->secret), b = strlen(secret);
    if (a != b || CRYPTO_memcmp(k->secret, secret, a) != 0)
        return CAIRN_E_NOTFOUND; /* the key id now names another key */
    gw_auth_identity_of(k, res->caller_user, who);
    return 0;
}

void gw_keycache_stats(struct gw_keycache *kc, struct gw_keycache_stats *out)
{
    out->hits = atomic_load(&kc->hits);
    out->unknown = atomic_load(&kc->unknown);
    out->key_reads = atomic_load(&kc->key_reads);
    out->folded = atomic_load(&kc->folded);
    out->refreshes = atomic_load(&kc->refreshes);
    out->forced = atomic_load(&kc->forced);
    out->refresh_fails = atomic_load(&kc->refresh_fails);
    pthread_mutex_lock(&kc->mu);
    out->keys = kc->n_keys;
    pthread_mutex_unlock(&kc->mu);
}

void gw_keycache_free(struct gw_keycache *kc)
{
    if (!kc)
        return;
    pthread_mutex_lock(&kc->mu);
    kc->stop = 1;
    pthread_cond_broadcast(&kc->cv);
    pthread_mutex_unlock(&kc->mu);
    pthread_join(kc->th, NULL);
    entries_free(kc->keys, kc->n_keys);
    pthread_cond_destroy(&kc->cv);
    pthread_mutex_destroy(&kc->mu);
    free(kc->root_ak);
    if (kc->root_sk) {
        OPENSSL_cleanse(kc->root_sk, strlen(kc->root_sk));
        free(kc->root_sk);
    }
    free(kc);
}
