#include "cs_heartbeat.h"

#include "cluster.pb-c.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "md_client.h"
#include "md_cmd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LOG "chunk-hb"

struct cs_heartbeat {
    struct cs_heartbeat_opts o;
    char *address, *host, *rack, *zone;
    struct md_client *meta;
    uint64_t id;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    atomic_int registered;
    pthread_t orphan_thread;
    int orphan_started;
    struct md_client *orphan_meta; /* the orphan thread's own client */
    uint64_t damage_reported;      /* cs_damage_total at the last report */
    int64_t damage_report_ms;
};

uint64_t cs_heartbeat_node_id(const char *hex)
{
    uint64_t id = 0;
    for (int i = 0; i < 16 && hex[i]; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
        id = id << 4 | (uint64_t)v;
    }
    return id ? id : 1;
}

static int do_register(struct cs_heartbeat *hb, const cs_store_stats *st)
{
    struct md_cs_desc d = {.id = hb->id,
                           .address = hb->address,
                           .host = hb->host,
                           .rack = hb->rack,
                           .zone = hb->zone,
                           .capacity = st->capacity_bytes,
                           .free = st->free_bytes};
    uint64_t seq = md_client_next_seq(hb->meta);
    uint8_t *cmd = NULL, *res = NULL;
    size_t clen, rlen;
    int rc = md_cmd_register_cs(md_client_id(hb->meta), seq, &d, cn_wall_ms(), &cmd, &clen);
    if (rc == 0)
        rc = md_client_command(hb->meta, seq, cmd, clen, &res, &rlen);
    if (rc == 0)
        rc = md_result_status(res, rlen, NULL);
    free(cmd);
    free(res);
    if (rc == 0) {
        if (!hb->registered)
            CN_INFO(LOG, "registered with the metadata service as %016llx at %s",
                    (unsigned long long)hb->id, hb->address);
        hb->registered = 1;
    } else {
        CN_WARN(LOG, "registration failed: %s (will retry)", cairn_strerror(rc));
    }
    return rc;
}

/* Sends every listed damaged fragment to the leader's repair queue. */
static void report_damage(struct cs_heartbeat *hb)
{
    if (!hb->o.damage || cs_damage_count(hb->o.damage) == 0)
        return;
    uint64_t total = cs_damage_total(hb->o.damage);
    int64_t now = cn_mono_ms();
    if (total == hb->damage_reported && now - hb->damage_report_ms < 30000)
        return;
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return;
    cs_damage_write(hb->o.damage, f);
    fclose(f);
    int failed = 0;
    char *save = NULL;
    for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char group[40];
        unsigned index;
        uint8_t gid[16];
        if (sscanf(line, "%39s %u", group, &index) != 2 || cn_hex_decode(group, gid, sizeof(gid)))
            continue;
        if (md_client_report_damage(hb->meta, gid, index, hb->id) != 0)
            failed = 1;
    }
    free(list);
    if (!failed) {
        hb->damage_reported = total;
        hb->damage_report_ms = now;
        CN_INFO(LOG, "reported %llu damaged fragment(s) to the metadata leader",
                (unsigned long long)cs_damage_count(hb->o.damage));
    }
}

/* Deletes the fragments the leader listed, then commits the acknowledgement
 * (md.GarbageAck) so the entries leave the garbage list. A fragment already
 * gone counts as deleted; one that cannot be deleted now is not acknowledged
 * and comes back in a later heartbeat. */
static void collect_garbage(struct cs_heartbeat *hb, const Cl__HeartbeatReply *rep)
{
    uint64_t *seqs = calloc(rep->n_deletions, sizeof(*seqs));
    uint64_t *css = calloc(rep->n_deletions, sizeof(*css));
    size_t n = 0;
    for (size_t i = 0; seqs && css && i < rep->n_deletions; i++) {
        const Cl__Deletion *d = rep->deletions[i];
        if (d->group_id.len != CS_GROUP_ID_LEN)
            continue;
        int ok = 1;
        for (size_t j = 0; j < d->n_indices; j++) {
            int rc = cs_store_delete(hb->o.store, d->group_id.data, d->indices[j]);
            if (rc != 0 && rc != CAIRN_E_NOTFOUND)
                ok = 0;
        }
        if (ok) {
            seqs[n] = d->seq;
            css[n] = hb->id;
            n++;
        }
    }
    if (n > 0) {
        uint64_t seq = md_client_next_seq(hb->meta);
        uint8_t *cmd = NULL, *res = NULL;
        size_t clen, rlen;
        int rc = md_cmd_garbage_ack(md_client_id(hb->meta), seq, seqs, css, n, &cmd, &clen);
        if (rc == 0)
            rc = md_client_command(hb->meta, seq, cmd, clen, &res, &rlen);
        if (rc == 0)
            rc = md_result_status(res, rlen, NULL);
        free(cmd);
        free(res);
        if (rc == 0)
            CN_INFO(LOG, "deleted the fragments of %zu garbage group(s)", n);
        else
            CN_WARN(LOG, "garbage acknowledgement failed: %s (will repeat)", cairn_strerror(rc));
    }
    free(seqs);
    free(css);
}

static void beat(struct cs_heartbeat *hb)
{
    cs_store_stats st;
    memset(&st, 0, sizeof(st));
    cs_store_stats_get(hb->o.store, &st);
    if (!hb->registered && do_register(hb, &st) != 0)
        return;
    Cl__Heartbeat m = CL__HEARTBEAT__INIT;
    m.id = hb->id;
    m.address = hb->address;
    m.capacity = st.capacity_bytes;
    m.free = st.free_bytes;
    m.fragments = st.fragments;
    uint8_t buf[512];
    size_t len = cl__heartbeat__get_packed_size(&m);
    if (len > sizeof(buf))
        return;
    cl__heartbeat__pack(&m, buf);
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = md_client_heartbeat(hb->meta, buf, len, &res, &rlen);
    if (rc != 0) {
        CN_DEBUG(LOG, "heartbeat failed: %s", cairn_strerror(rc));
        return;
    }
    Cl__HeartbeatReply *rep = cl__heartbeat_reply__unpack(NULL, rlen, res);
    free(res);
    if (rep && rep->n_deletions > 0)
        collect_garbage(hb, rep);
    if (rep && rep->register_) {
        CN_INFO(LOG, "the leader does not know this chunkserver: registering again");
        hb->registered = 0;
        do_register(hb, &st);
    }
    if (rep)
        cl__heartbeat_reply__free_unpacked(rep, NULL);
    report_damage(hb);
}

static void *hb_main(void *arg)
{
    struct cs_heartbeat *hb = arg;
    int64_t interval = hb->o.interval_ms > 0 ? hb->o.interval_ms : 1000;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stopping) {
        pthread_mutex_unlock(&hb->mu);
        beat(hb);
        pthread_mutex_lock(&hb->mu);
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, interval);
        while (!hb->stopping && pthread_cond_timedwait(&hb->cv, &hb->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

/* ---- orphan collection ---- */
#define ORPHAN_BATCH 256

struct orphan_batch {
    struct cs_heartbeat *hb;
    int64_t cutoff_s;
    size_t n;
    uint8_t group[ORPHAN_BATCH][CS_GROUP_ID_LEN];
    uint32_t index[ORPHAN_BATCH];
};

static int orphan_visit(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    struct orphan_batch *b = arg;
    int64_t mtime;
    if (cs_store_fragment_mtime(b->hb->o.store, group, index, &mtime) == 0 && mtime < b->cutoff_s) {
        memcpy(b->group[b->n], group, CS_GROUP_ID_LEN);
        b->index[b->n] = index;
        b->n++;
    }
    return b->n == ORPHAN_BATCH ? 1 : 0;
}

/* 1: orphan (no record names the group, or it places this index elsewhere);
 * 0: in use; <0: could not tell (never delete then). */
static int is_orphan(struct cs_heartbeat *hb, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    Md__QueryResult *r = NULL;
    int rc = md_client_get_group(hb->orphan_meta, group, &r);
    if (rc != 0)
        return rc;
    int verdict;
    if (r->status == CAIRN_E_NOTFOUND) {
        verdict = 1;
    } else if (r->status != 0 || !r->group || !r->group->group) {
        verdict = r->status ? r->status : CAIRN_E_PROTO;
    } else {
        const Md__ChunkGroup *g = r->group->group;
        verdict = index >= g->n_fragment_cs || g->fragment_cs[index] != hb->id;
    }
    md__query_result__free_unpacked(r, NULL);
    return verdict;
}

/* One pass over the store, a batch of old fragments at a time. */
static void orphan_pass(struct cs_heartbeat *hb)
{
    struct orphan_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return;
    b->hb = hb;
    uint8_t after[CS_GROUP_ID_LEN];
    uint32_t after_index = 0;
    int have_after = 0;
    uint64_t deleted = 0;
    for (;;) {
        b->n = 0;
        b->cutoff_s = cn_wall_s() - hb->o.orphan_grace_s;
        int rc =
            cs_store_foreach(hb->o.store, have_after ? after : NULL, after_index, orphan_visit, b);
        if (rc < 0)
            break;
        for (size_t i = 0; i < b->n; i++) {
            pthread_mutex_lock(&hb->mu);
            int stop = hb->stopping;
            pthread_mutex_unlock(&hb->mu);
            if (stop)
                goto out;
            if (is_orphan(hb, b->group[i], b->index[i]) != 1)
                continue;
            if (cs_store_delete_older(hb->o.store, b->group[i], b->index[i], b->cutoff_s) == 0) {
                if (hb->o.damage)
                    cs_damage_clear(hb->o.damage, b->group[i], b->index[i]);
                deleted++;
            }
        }
        if (rc == 0 || b->n == 0)
            break; /* walked to the end */
        memcpy(after, b->group[b->n - 1], CS_GROUP_ID_LEN);
        after_index = b->index[b->n - 1];
        have_after = 1;
    }
out:
    if (deleted)
        CN_INFO(LOG, "deleted %llu orphan fragment(s) (no record names them here)",
                (unsigned long long)deleted);
    free(b);
}

static void *orphan_main(void *arg)
{
    struct cs_heartbeat *hb = arg;
    int64_t every = hb->o.orphan_scan_ms > 0 ? hb->o.orphan_scan_ms : 3600000;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stopping) {
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, every);
        while (!hb->stopping && pthread_cond_timedwait(&hb->cv, &hb->mu, &ts) == 0)
            ;
        if (hb->stopping)
            break;
        pthread_mutex_unlock(&hb->mu);
        if (hb->registered)
            orphan_pass(hb);
        pthread_mutex_lock(&hb->mu);
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

int cs_heartbeat_start(const struct cs_heartbeat_opts *o, struct cs_heartbeat **out)
{
    if (!o || !o->store || !o->address || o->n_meta == 0)
        return CAIRN_E_INVAL;
    struct cs_heartbeat *hb = calloc(1, sizeof(*hb));
    if (!hb)
        return CAIRN_E_NOMEM;
    hb->o = *o;
    hb->address = strdup(o->address);
    hb->host = strdup(o->host ? o->host : "");
    hb->rack = strdup(o->rack ? o->rack : "");
    hb->zone = strdup(o->zone ? o->zone : "");
    hb->id = cs_heartbeat_node_id(cs_store_id(o->store));
    struct md_client_opts mo = {.replicas = o->meta_urls,
                                .n_replicas = o->n_meta,
                                .view = o->meta_view,
                                .auth = o->auth,
                                .timeout_ms = 3000,
                                .attempt_timeout_ms = 1000};
    int rc = CAIRN_E_NOMEM;
    if (!hb->address || !hb->host || !hb->rack || !hb->zone ||
        (rc = md_client_new(&mo, &hb->meta)) != 0)
        goto err;
    pthread_mutex_init(&hb->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&hb->thread, NULL, hb_main, hb) != 0) {
        rc = CAIRN_E_NOMEM;
        pthread_mutex_destroy(&hb->mu);
        pthread_cond_destroy(&hb->cv);
        goto err;
    }
    if (o->orphan_grace_s > 0 && md_client_new(&mo, &hb->orphan_meta) == 0 &&
        pthread_create(&hb->orphan_thread, NULL, orphan_main, hb) == 0)
        hb->orphan_started = 1;
    *out = hb;
    return 0;
err:
    md_client_free(hb->meta);
    free(hb->address);
    free(hb->host);
    free(hb->rack);
    free(hb->zone);
    free(hb);
    return rc;
}

void cs_heartbeat_stop(struct cs_heartbeat *hb)
{
    if (!hb)
        return;
    pthread_mutex_lock(&hb->mu);
    hb->stopping = 1;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_mutex_lock(&hb->mu);
    pthread_cond_broadcast(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    if (hb->orphan_started)
        pthread_join(hb->orphan_thread, NULL);
    md_client_free(hb->orphan_meta);
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
    md_client_free(hb->meta);
    free(hb->address);
    free(hb->host);
    free(hb->rack);
    free(hb->zone);
    free(hb);
}

int cs_heartbeat_registered(const struct cs_heartbeat *hb)
{
    return hb->registered;
}
