/* S3 lifecycle rules and the leader's worker applying them (md_lifecycle.h). */
#include "md_lifecycle.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "md_cmd.h"
#include "md_cmd_ver.h"
#include "md_txn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG "lifecycle"

/* ---- rules ----------------------------------------------------------------- */

int64_t md_lc_after_days(int64_t t0_ms, uint32_t days, int64_t day_ms)
{
    if (day_ms <= 0)
        return INT64_MAX;
    if (t0_ms < 0)
        t0_ms = 0;
    if ((int64_t)days > (INT64_MAX - t0_ms) / day_ms - 1)
        return INT64_MAX;
    int64_t t = t0_ms + (int64_t)days * day_ms;
    int64_t r = t % day_ms;
    return r ? t + (day_ms - r) : t;
}

int md_lc_rule_matches(const Md__LifecycleRule *r, const char *key, uint64_t size,
                       Md__Tag *const *tags, size_t n_tags)
{
    if (strncmp(key, r->prefix, strlen(r->prefix)) != 0)
        return 0;
    if (r->size_greater_than && !(size > r->size_greater_than))
        return 0;
    if (r->size_less_than && !(size < r->size_less_than))
        return 0;
    for (size_t i = 0; i < r->n_tags; i++) {
        int found = 0;
        for (size_t j = 0; j < n_tags && !found; j++)
            found = strcmp(r->tags[i]->key, tags[j]->key) == 0 &&
                    strcmp(r->tags[i]->value, tags[j]->value) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

int md_lc_object_due(const Md__LifecycleConfig *lc, const char *key, const Md__ObjectRecord *o,
                     int64_t now_ms, int64_t day_ms)
{
    if (!lc || !o)
        return 0;
    const Md__ObjectAttrs *a = o->attrs;
    for (size_t i = 0; i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        if (!r->enabled || (!r->expiration_days && !r->expiration_date_ms))
            continue;
        if (!md_lc_rule_matches(r, key, o->size, a ? a->tags : NULL, a ? a->n_tags : 0))
            continue;
        if (r->expiration_date_ms && now_ms >= r->expiration_date_ms)
            return 1;
        if (r->expiration_days &&
            now_ms >= md_lc_after_days(o->mtime_ms, r->expiration_days, day_ms))
            return 1;
    }
    return 0;
}

int md_lc_upload_due(const Md__LifecycleConfig *lc, const Md__UploadRecord *u, int64_t now_ms,
                     int64_t day_ms)
{
    if (!lc || !u)
        return 0;
    for (size_t i = 0; i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        if (!r->enabled || !r->abort_upload_days || r->n_tags ||
            strncmp(u->key, r->prefix, strlen(r->prefix)) != 0)
            continue;
        if (now_ms >= md_lc_after_days(u->initiated_ms, r->abort_upload_days, day_ms))
            return 1;
    }
    return 0;
}

int md_lc_noncurrent_due(const Md__LifecycleConfig *lc, const char *key, const Md__ObjectRecord *v,
                         int64_t since_ms, uint64_t nth, int64_t now_ms, int64_t day_ms)
{
    if (!lc || !v)
        return 0;
    const Md__ObjectAttrs *a = v->attrs;
    for (size_t i = 0; i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        if (!r->enabled || !r->noncurrent_days || nth < r->newer_noncurrent_versions)
            continue;
        if (!md_lc_rule_matches(r, key, v->size, a ? a->tags : NULL, a ? a->n_tags : 0))
            continue;
        if (now_ms >= md_lc_after_days(since_ms, r->noncurrent_days, day_ms))
            return 1;
    }
    return 0;
}

int md_lc_marker_due(const Md__LifecycleConfig *lc, const char *key)
{
    if (!lc)
        return 0;
    for (size_t i = 0; i < lc->n_rules; i++) {
        const Md__LifecycleRule *r = lc->rules[i];
        if (r->enabled && r->expired_object_delete_marker && !r->n_tags && !r->size_greater_than &&
            !r->size_less_than && strncmp(key, r->prefix, strlen(r->prefix)) == 0)
            return 1;
    }
    return 0;
}

/* ---- scan ------------------------------------------------------------------ */

void md_lc_items_free(struct md_lc_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].bucket);
        free(items[i].key);
        free(items[i].upload_id);
        free(items[i].version_id);
    }
    free(items);
}

struct scan {
    struct md_lc_item *items;
    size_t n, cap, max;
};

static int add_item(struct scan *s, const char *bucket, const char *key, const char *uid);

/* A version of bucket/key (vid) to expire: a noncurrent one, or the key's
 * lone delete marker. */
static int add_version(struct scan *s, const char *bucket, const char *key, const char *vid,
                       int marker)
{
    int rc = add_item(s, bucket, key, NULL);
    if (rc)
        return rc;
    struct md_lc_item *it = &s->items[s->n - 1];
    it->expired_marker = marker;
    it->version_id = strdup(vid);
    return it->version_id ? 0 : CAIRN_E_NOMEM;
}

static int add_item(struct scan *s, const char *bucket, const char *key, const char *uid)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct md_lc_item *a = realloc(s->items, cap * sizeof(*a));
        if (!a)
            return CAIRN_E_NOMEM;
        s->items = a;
        s->cap = cap;
    }
    struct md_lc_item *it = &s->items[s->n];
    it->bucket = strdup(bucket);
    it->key = strdup(key);
    it->upload_id = uid ? strdup(uid) : NULL;
    it->version_id = NULL;
    it->expired_marker = 0;
    if (!it->bucket || !it->key || (uid && !it->upload_id)) {
        free(it->bucket);
        free(it->key);
        free(it->upload_id);
        return CAIRN_E_NOMEM;
    }
    s->n++;
    return 0;
}

/* 1 if key[klen] starts with p[pn]. */
static int has_prefix(const void *key, size_t klen, const unsigned char *p, size_t pn)
{
    return klen >= pn && memcmp(key, p, pn) == 0;
}

/* Every object (type MD_K_OBJECT) or upload (MD_K_UPLOAD) of bucket due
 * under lc. */
static int scan_bucket(struct md_store *store, const char *bucket, const Md__LifecycleConfig *lc,
                       char type, int64_t now_ms, int64_t day_ms, struct scan *s)
{
    struct md_key p;
    md_key_start(&p, type);
    md_key_str(&p, bucket);
    md_key_byte(&p, 0);
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    for (md_iter_seek(it, p.b, p.n); rc == 0 && s->n < s->max && md_iter_valid(it);
         md_iter_next(it)) {
        size_t kl, vl;
        const void *k = md_iter_key(it, &kl);
        if (!has_prefix(k, kl, p.b, p.n))
            break;
        const uint8_t *v = md_iter_value(it, &vl);
        if (type == MD_K_OBJECT) {
            Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
            if (!o)
                continue; /* not this worker's to judge: md_sm_check's */
            char *key = strndup((const char *)k + p.n, kl - p.n);
            if (!key)
                rc = CAIRN_E_NOMEM;
            else if (md_lc_object_due(lc, key, o, now_ms, day_ms))
                rc = add_item(s, bucket, key, NULL);
            free(key);
            md__object_record__free_unpacked(o, NULL);
        } else {
            Md__UploadRecord *u = md__upload_record__unpack(NULL, vl, v);
            if (!u)
                continue;
            if (md_lc_upload_due(lc, u, now_ms, day_ms))
                rc = add_item(s, bucket, u->key, u->upload_id);
            md__upload_record__free_unpacked(u, NULL);
        }
    }
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

/* The noncurrent versions of bucket due under lc, and the delete markers
 * that are their key's only version: its "SV" range, key by key, newest
 * first. A version became noncurrent when its successor was written: the
 * current object's mtime for the newest, the next newer version's for the
 * others (with no current object the newest is a marker: the current one). */
static int scan_versions(struct md_store *store, const char *bucket, const Md__LifecycleConfig *lc,
                         int markers, int64_t now_ms, int64_t day_ms, struct scan *s)
{
    struct md_key p;
    md_key_start(&p, MD_K_VERSION);
    md_key_str(&p, bucket);
    md_key_byte(&p, 0);
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    char *key = NULL;                  /* the key whose versions are being walked */
    int64_t since = -1;                /* when the next one became noncurrent (-1: it is current) */
    uint64_t nth = 0;                  /* noncurrent versions of key seen */
    char lone[MD_VERSION_ID_CAP] = ""; /* key's current marker, while it is its only version */
    for (md_iter_seek(it, p.b, p.n); rc == 0 && s->n < s->max && md_iter_valid(it);
         md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (!has_prefix(k, kl, p.b, p.n))
            break;
        if (kl < p.n + 9 || k[kl - 9] != 0)
            continue; /* not a version key: md_sm_check's to report */
        size_t keylen = kl - p.n - 9;
        if (!key || strlen(key) != keylen || memcmp(key, k + p.n, keylen) != 0) {
            /* A new key: the previous one's lone marker, then this one's
             * current object. */
            if (key && lone[0] && markers)
                rc = add_version(s, bucket, key, lone, 1);
            free(key);
            key = strndup((const char *)k + p.n, keylen);
            if (!key || rc) {
                rc = rc ? rc : CAIRN_E_NOMEM;
                break;
            }
            struct md_key ok;
            md_key_start(&ok, MD_K_OBJECT);
            md_key_str(&ok, bucket);
            md_key_byte(&ok, 0);
            md_key_str(&ok, key);
            void *ov = NULL;
            size_t ol = 0;
            int grc = md_store_get(store, ok.b, ok.n, &ov, &ol);
            since = -1;
            nth = 0;
            lone[0] = '\0';
            if (grc == 0) {
                Md__ObjectRecord *cur = md__object_record__unpack(NULL, ol, ov);
                if (cur)
                    since = cur->mtime_ms;
                md__object_record__free_unpacked(cur, NULL);
                free(ov);
            } else if (grc != CAIRN_E_NOTFOUND) {
                rc = grc;
                break;
            }
        }
        const uint8_t *v = md_iter_value(it, &vl);
        Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
        if (!o)
            continue;
        char vid[MD_VERSION_ID_CAP];
        md_version_id_of(o, vid);
        if (since < 0) {
            /* the current version: a marker (no current object) */
            if (o->delete_marker)
                snprintf(lone, sizeof(lone), "%s", vid);
        } else {
            lone[0] = '\0'; /* the marker has older versions */
            if (md_lc_noncurrent_due(lc, key, o, since, nth, now_ms, day_ms))
                rc = add_version(s, bucket, key, vid, 0);
            nth++;
        }
        since = o->mtime_ms;
        md__object_record__free_unpacked(o, NULL);
    }
    if (rc == 0 && key && lone[0] && markers && s->n < s->max)
        rc = add_version(s, bucket, key, lone, 1);
    free(key);
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

int md_lc_scan(struct md_store *store, int64_t now_ms, int64_t day_ms, size_t max,
               struct md_lc_item **items, size_t *n)
{
    struct scan s = {*items, *n, *n, max};
    struct md_key p;
    md_key_start(&p, MD_K_BUCKET);
    /* The buckets with a configuration first: no iterator is held while
     * their objects are read. */
    Md__BucketRecord **bs = NULL;
    size_t nb = 0;
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    for (md_iter_seek(it, p.b, p.n); rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const void *k = md_iter_key(it, &kl);
        if (!has_prefix(k, kl, p.b, p.n))
            break;
        const uint8_t *v = md_iter_value(it, &vl);
        Md__BucketRecord *b = md__bucket_record__unpack(NULL, vl, v);
        if (!b)
            continue;
        if (!b->lifecycle || b->lifecycle->n_rules == 0) {
            md__bucket_record__free_unpacked(b, NULL);
            continue;
        }
        Md__BucketRecord **a = realloc(bs, (nb + 1) * sizeof(*a));
        if (!a) {
            md__bucket_record__free_unpacked(b, NULL);
            rc = CAIRN_E_NOMEM;
            break;
        }
        bs = a;
        bs[nb++] = b;
    }
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    for (size_t i = 0; i < nb; i++) {
        const Md__LifecycleConfig *lc = bs[i]->lifecycle;
        int aborts = 0, noncurrent = 0, markers = 0;
        for (size_t j = 0; j < lc->n_rules; j++) {
            const Md__LifecycleRule *r = lc->rules[j];
            aborts |= r->enabled && r->abort_upload_days != 0;
            noncurrent |= r->enabled && r->noncurrent_days != 0;
            markers |= r->enabled && r->expired_object_delete_marker;
        }
        if (rc == 0)
            rc = scan_bucket(store, bs[i]->name, lc, MD_K_OBJECT, now_ms, day_ms, &s);
        if (rc == 0 && aborts)
            rc = scan_bucket(store, bs[i]->name, lc, MD_K_UPLOAD, now_ms, day_ms, &s);
        if (rc == 0 && (noncurrent || markers))
            rc = scan_versions(store, bs[i]->name, lc, markers, now_ms, day_ms, &s);
        md__bucket_record__free_unpacked(bs[i], NULL);
    }
    free(bs);
    *items = s.items;
    *n = s.n;
    return rc;
}

/* ---- worker ---------------------------------------------------------------- */

struct md_lifecycle {
    struct md_lifecycle_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint64_t client_id, seq;
    atomic_uint_fast64_t expired, aborted;
};

void md_lifecycle_opts_default(struct md_lifecycle_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->day_ms = MD_LC_DAY_MS;
    o->scan_ms = 60000;
    o->max_per_pass = 10000;
}

static int stopping(struct md_lifecycle *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* One pass: scans, then commits a LifecycleExpire for each item while this
 * replica still leads. */
static void pass(struct md_lifecycle *w)
{
    struct md_lc_item *items = NULL;
    size_t n = 0;
    int64_t now = w->o.now_ms(w->o.ctx);
    size_t expired = 0, aborted = 0;
    int rc = md_lc_scan(w->o.store, now, w->o.day_ms, w->o.max_per_pass, &items, &n);
    if (rc)
        CN_WARN(LOG, "scan failed: %s", cairn_strerror(rc));
    for (size_t i = 0; i < n && !stopping(w) && w->o.is_leader(w->o.ctx); i++) {
        uint8_t *cmd;
        size_t len;
        /* The time of the command is the clock now, not the scan's: the
         * state machine decides with it. */
        now = w->o.now_ms(w->o.ctx);
        if (items[i].version_id)
            rc = md_cmd_lifecycle_expire_version(
                w->client_id, ++w->seq, items[i].bucket, items[i].key, items[i].version_id,
                items[i].expired_marker, now, w->o.day_ms, &cmd, &len);
        else
            rc = md_cmd_lifecycle_expire(w->client_id, ++w->seq, items[i].bucket, items[i].key,
                                         items[i].upload_id, now, w->o.day_ms, &cmd, &len);
        if (rc == 0) {
            rc = w->o.commit(w->o.ctx, w->client_id, w->seq, cmd, len);
            free(cmd);
        }
        if (rc == 0) {
            atomic_fetch_add(items[i].upload_id ? &w->aborted : &w->expired, 1);
            (*(items[i].upload_id ? &aborted : &expired))++;
            CN_DEBUG(LOG, "%s %s/%s%s%s", items[i].upload_id ? "aborted upload of" : "expired",
                     items[i].bucket, items[i].key, items[i].upload_id ? " " : "",
                     items[i].upload_id ? items[i].upload_id : "");
        } else if (rc == CAIRN_E_NOTLEADER || rc == CAIRN_E_TIMEOUT || rc == CAIRN_E_UNAVAIL) {
            CN_INFO(LOG, "pass stopped: %s", cairn_strerror(rc));
            break;
        }
        /* Other refusals: the object changed since the scan; next pass. */
    }
    if (expired || aborted)
        CN_INFO(LOG, "pass: %zu object(s) expired, %zu upload(s) aborted (%zu found due)", expired,
                aborted, n);
    md_lc_items_free(items, n);
}

static void *worker_main(void *arg)
{
    struct md_lifecycle *w = arg;
    for (;;) {
        if (w->o.is_leader(w->o.ctx))
            pass(w);
        if (cn_wait_unless_stopped(&w->mu, &w->cv, &w->stop, w->o.scan_ms))
            break;
    }
    return NULL;
}

int md_lifecycle_start(const struct md_lifecycle_opts *o, struct md_lifecycle **out)
{
    if (!o->store || !o->is_leader || !o->commit || !o->now_ms || o->day_ms <= 0 || o->scan_ms <= 0)
        return CAIRN_E_INVAL;
    struct md_lifecycle *w = calloc(1, sizeof(*w));
    if (!w)
        return CAIRN_E_NOMEM;
    w->o = *o;
    if (!w->o.max_per_pass)
        w->o.max_per_pass = 10000;
    int rc = cn_random_bytes(&w->client_id, sizeof(w->client_id));
    if (rc) {
        free(w);
        return rc;
    }
    w->client_id |= 1; /* never 0 */
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return CAIRN_E_IO;
    }
    *out = w;
    return 0;
}

void md_lifecycle_stop(struct md_lifecycle *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void md_lifecycle_stats(struct md_lifecycle *w, uint64_t *expired, uint64_t *aborted)
{
    *expired = w ? atomic_load(&w->expired) : 0;
    *aborted = w ? atomic_load(&w->aborted) : 0;
}
