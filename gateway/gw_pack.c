#include "gw_pack.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_codec.h"
#include "ec_layout.h"
#include "gw_data.h"
#include "md_client.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG         "gw-pack"
#define MAX_STREAMS 16
#define MAX_LANES   8
#define SC_LEN      64
/* A batch is tried in at most this many groups before its objects go back
 * to the ordinary path. */
#define MAX_ATTEMPTS 3
/* One append body may hold at most this (the chunkserver's limit). */
#define APPEND_MAX (16u << 20)
/* A request waits at most this long for a lane to take its object (a
 * taken object is always waited for: every step of a batch is bounded). */
#define QUEUE_TIMEOUT_MS 30000
/* Most bytes of one CommitPacked: a Paxos slot holds at most 64 KiB
 * (paxos_config.max_batch_bytes), and a command that does not fit is refused
 * whole. A batch stops taking objects before its records would pass this. */
#define CMD_MAX (48u << 10)
/* After a lane found no group to be had (fewer than k+m live chunkservers),
 * objects go the ordinary way at once for this long before a lane asks
 * again. */
#define NO_GROUP_MS 1000

enum item_state { ITEM_QUEUED, ITEM_TAKEN, ITEM_DONE };

/* One gw_pack_put waiting (on its caller's stack). */
struct item {
    const struct gw_pack_obj *o;
    struct gw_pack_result *res;
    uint64_t padded;  /* o's size rounded up to whole stripes */
    size_t cmd_bytes; /* its share of a CommitPacked (a one-object command's length) */
    int64_t arrived_us;
    enum item_state state;
    int rc;
    pthread_cond_t done; /* signalled when state becomes ITEM_DONE (stream's mu) */
    struct item *next;
};

struct stream;

struct lane {
    struct stream *st;
    pthread_t th;
    int started;
    uint8_t *frag[EC_MAX_FRAGS]; /* fragment-major batch: k data, m parity runs */
    size_t frag_cap;
    /* the lane's open group */
    int open;
    struct md_group_desc g;
    uint64_t cs[EC_MAX_FRAGS];
    uint64_t length;     /* committed data bytes */
    int64_t last_ms;     /* cn_mono_ms() of the last commit (or the open) */
    struct item **batch; /* the batch being written */
    size_t batch_cap;
};

struct stream {
    struct gw_pack *p;
    uint32_t k, m;
    char sc[SC_LEN];
    uint64_t sb;        /* stripe bytes: k x unit */
    uint64_t batch_cap; /* data bytes of one batch (whole stripes) */
    uint64_t group_cap; /* data bytes of one group (whole stripes) */
    pthread_mutex_t mu;
    pthread_cond_t work; /* lanes: objects queued, or stop */
    struct item *head, *tail;
    uint64_t queued_bytes;
    int collecting; /* a lane is gathering the next batch */
    int stop;
    struct lane lanes[MAX_LANES];
    uint32_t n_lanes;
    uint64_t mem; /* the lanes' buffers, taken from the data-path budget */
    /* cn_mono_ms() until which no group is sought after a lane found none
     * (objects go the ordinary way at once; guarded by mu) */
    int64_t no_group_until;
};

struct gw_pack {
    struct gw_ctx *data;
    struct gw_pack_opts o;
    pthread_condattr_t mono; /* CLOCK_MONOTONIC condition variables */
    char writer[128];
    pthread_mutex_t mu; /* guards streams */
    struct stream *streams[MAX_STREAMS];
    size_t n_streams;
    int64_t refused_ms; /* cn_mono_ms() of the last stream the budget refused */
    atomic_uint_fast64_t objects, batches, bytes, padding, opened, sealed, append_failures, retries,
        fallbacks, queued;
};

/* ---- metadata commands on the lane thread's client ---- */

/* Sends one command built by the caller (c, clen: freed here) and decodes
 * the result. Returns 0 with *res (md_result_free it), or the transport
 * error (the outcome is unknown). */
static int lane_command(struct md_client *mc, uint64_t seq, uint8_t *c, size_t clen,
                        Md__Result **res)
{
    uint8_t *raw = NULL;
    size_t rlen = 0;
    int rc = md_client_command(mc, seq, c, clen, &raw, &rlen);
    free(c);
    if (rc != 0)
        return rc;
    *res = md_result_decode(raw, rlen);
    free(raw);
    return *res ? 0 : CAIRN_E_PROTO;
}

/* Seals the lane's group at its committed length (the leader then seals the
 * fragments) and forgets it. Best effort: a group left open is sealed by the
 * leader once idle. */
static void lane_seal(struct lane *ln, const char *why)
{
    struct gw_pack *p = ln->st->p;
    if (!ln->open)
        return;
    ln->open = 0;
    struct md_client *mc = gw_ctx_meta(p->data);
    if (!mc)
        return;
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *c = NULL;
    size_t clen = 0;
    Md__Result *res = NULL;
    int rc =
        md_cmd_seal_group(md_client_id(mc), seq, ln->g.id, ln->length, 0, cn_wall_ms(), &c, &clen);
    if (rc == 0)
        rc = lane_command(mc, seq, c, clen, &res);
    else
        free(c);
    if (rc == 0)
        rc = res->status;
    md_result_free(res);
    char gid[33];
    cn_hex_encode(ln->g.id, 16, gid);
    if (rc == 0) {
        atomic_fetch_add(&p->sealed, 1);
        CN_INFO(LOG, "packed group %s sealed at %" PRIu64 " bytes (%s)", gid, ln->length, why);
    } else {
        CN_WARN(LOG, "packed group %s: seal at %" PRIu64 " (%s) failed: %s; the leader seals it",
                gid, ln->length, why, cairn_strerror(rc));
    }
}

/* Places and records a new open group for the lane. Returns 0,
 * CAIRN_E_UNAVAIL (fewer than k+m live chunkservers) or another error. */
static int lane_open(struct lane *ln)
{
    struct stream *st = ln->st;
    struct gw_pack *p = st->p;
    int rc = gw_packed_place(p->data, st->k, st->m, ln->cs);
    if (rc != 0)
        return rc;
    memset(&ln->g, 0, sizeof(ln->g));
    cn_random_bytes(ln->g.id, 16);
    ln->g.k = st->k;
    ln->g.m = st->m;
    ln->g.unit = p->o.unit;
    ln->g.fragment_cs = ln->cs;
    struct md_client *mc = gw_ctx_meta(p->data);
    if (!mc)
        return CAIRN_E_NOMEM;
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *c = NULL;
    size_t clen = 0;
    Md__Result *res = NULL;
    rc = md_cmd_open_group(md_client_id(mc), seq, &ln->g, cn_wall_ms(), p->writer, st->sc, &c,
                           &clen);
    if (rc == 0)
        rc = lane_command(mc, seq, c, clen, &res);
    else
        free(c);
    if (rc == 0)
        rc = res->status;
    md_result_free(res);
    if (rc != 0) {
        CN_WARN(LOG, "OpenGroup for a %u+%u packed group failed: %s", st->k, st->m,
                cairn_strerror(rc));
        return rc;
    }
    ln->open = 1;
    ln->length = 0;
    ln->last_ms = cn_mono_ms();
    atomic_fetch_add(&p->opened, 1);
    return 0;
}

/* Lays the batch's objects out from the group's committed length on, one
 * after the other on whole stripes, into the fragment runs; encodes parity.
 * Returns the batch's data bytes. */
static uint64_t lane_layout(struct lane *ln, struct item **items, size_t n)
{
    struct stream *st = ln->st;
    uint32_t unit = st->p->o.unit, k = st->k;
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gw_pack_obj *o = items[i]->o;
        const uint8_t *d = o->data;
        uint64_t size = o->desc.obj.size;
        /* Stripe by stripe, unit by unit: data byte x of the batch is byte
         * (x / sb) * unit + x % unit of fragment (x % sb) / unit. */
        for (uint64_t done = 0; done < items[i]->padded; done += unit) {
            uint64_t x = at + done;
            uint8_t *dst = ln->frag[(x % st->sb) / unit] + (x / st->sb) * unit;
            uint64_t take = done < size ? size - done : 0;
            if (take > unit)
                take = unit;
            memcpy(dst, d + done, (size_t)take);
            memset(dst + take, 0, unit - (size_t)take);
        }
        at += items[i]->padded;
    }
    size_t flen = (size_t)(at / k);
    ec_encode(gw_ctx_codec(st->p->data, k, st->m), flen, (const uint8_t *const *)ln->frag,
              ln->frag + k);
    return at;
}

/* Commits the appended batch. Returns 0 (applied: each item's res set),
 * CAIRN_E_CONFLICT (the group is no longer ours to append to: retry in a new
 * one), or a transport error (the outcome is unknown). */
static int lane_commit(struct lane *ln, struct item **items, size_t n, uint64_t blen)
{
    struct gw_pack *p = ln->st->p;
    struct md_client *mc = gw_ctx_meta(p->data);
    if (!mc)
        return CAIRN_E_NOMEM;
    struct md_packed_desc *d = calloc(n, sizeof(*d));
    if (!d)
        return CAIRN_E_NOMEM;
    uint64_t at = ln->length;
    for (size_t i = 0; i < n; i++) {
        d[i] = items[i]->o->desc;
        d[i].group_offset = at;
        at += items[i]->padded;
    }
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *c = NULL;
    size_t clen = 0;
    Md__Result *res = NULL;
    ln->g.data_length = ln->length;
    int rc = md_cmd_commit_packed(md_client_id(mc), seq, &ln->g, ln->length, ln->length + blen, d,
                                  n, cn_wall_ms(), &c, &clen);
    free(d);
    if (rc == 0)
        rc = lane_command(mc, seq, c, clen, &res);
    else
        free(c);
    if (rc != 0)
        return rc;
    if (res->status == CAIRN_E_CONFLICT && (res->reason == MD__REASON__R_GROUP_NOT_OPEN ||
                                            res->reason == MD__REASON__R_LENGTH_MISMATCH)) {
        md_result_free(res);
        return CAIRN_E_CONFLICT;
    }
    for (size_t i = 0; i < n; i++) {
        struct gw_pack_result *r = items[i]->res;
        memset(r, 0, sizeof(*r));
        if (res->status != 0) { /* the whole command refused */
            r->status = res->status;
            r->reason = res->reason;
        } else if (res->n_keys != n) {
            r->status = CAIRN_E_PROTO;
        } else {
            r->status = res->keys[i]->status;
            r->reason = res->keys[i]->reason;
            snprintf(r->version_id, sizeof(r->version_id), "%s",
                     res->keys[i]->version_id ? res->keys[i]->version_id : "");
            if (r->status == 0)
                atomic_fetch_add(&p->objects, 1);
        }
    }
    if (res->status == 0) {
        ln->length += blen;
        ln->last_ms = cn_mono_ms();
        atomic_fetch_add(&p->batches, 1);
    }
    md_result_free(res);
    return 0;
}

/* Writes and commits one batch; sets every item's rc. */
static void lane_batch(struct lane *ln, struct item **items, size_t n)
{
    struct stream *st = ln->st;
    struct gw_pack *p = st->p;
    uint64_t blen = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        blen += items[i]->padded;
        bytes += items[i]->o->desc.obj.size;
    }
    int rc = CAIRN_E_UNAVAIL;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (attempt > 0)
            atomic_fetch_add(&p->retries, 1);
        if (ln->open && ln->length + blen > st->group_cap)
            lane_seal(ln, "full");
        if (!ln->open && (rc = lane_open(ln)) != 0) {
            /* No group (fewer than k+m live chunkservers, or the leader
             * unreachable): nothing of the batch was written, so its objects
             * go the ordinary way. */
            CN_WARN(LOG,
                    "no packed %u+%u group (%s): %zu object(s), and all for the next second, "
                    "go the ordinary way",
                    st->k, st->m, cairn_strerror(rc), n);
            pthread_mutex_lock(&st->mu);
            st->no_group_until = cn_mono_ms() + NO_GROUP_MS;
            pthread_mutex_unlock(&st->mu);
            rc = CAIRN_E_UNAVAIL;
            break;
        }
        lane_layout(ln, items, n);
        const uint8_t *bodies[EC_MAX_FRAGS];
        for (uint32_t i = 0; i < st->k + st->m; i++)
            bodies[i] = ln->frag[i];
        rc = gw_packed_append(p->data, &ln->g, ln->length / st->k, bodies, (size_t)(blen / st->k),
                              p->o.timeout_ms);
        if (rc != 0) {
            atomic_fetch_add(&p->append_failures, 1);
            lane_seal(ln, "an append failed");
            rc = CAIRN_E_UNAVAIL;
            continue;
        }
        rc = lane_commit(ln, items, n, blen);
        if (rc == CAIRN_E_CONFLICT) {
            /* Sealed under us (the leader thought us gone): a new group. */
            ln->open = 0;
            rc = CAIRN_E_UNAVAIL;
            continue;
        }
        if (rc != 0) {
            /* Unknown outcome: the group's committed length is unknown too,
             * so it is left to the leader's idle sealing. */
            CN_WARN(LOG, "CommitPacked of %zu objects: %s (outcome unknown)", n,
                    cairn_strerror(rc));
            ln->open = 0;
        } else {
            atomic_fetch_add(&p->bytes, bytes);
            atomic_fetch_add(&p->padding, blen - bytes);
        }
        break;
    }
    for (size_t i = 0; i < n; i++)
        items[i]->rc = rc;
}

static void deadline_ts(struct timespec *ts, int64_t mono_us)
{
    /* The condition variables run on CLOCK_MONOTONIC (stream_new, p->mono). */
    ts->tv_sec = (time_t)(mono_us / 1000000);
    ts->tv_nsec = (long)(mono_us % 1000000) * 1000;
}

static void *lane_main(void *arg)
{
    struct lane *ln = arg;
    struct stream *st = ln->st;
    struct gw_pack *p = st->p;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        /* Wait for objects (and our turn to collect), sealing an idle group. */
        while (!st->stop && (!st->head || st->collecting)) {
            if (ln->open && p->o.idle_ms > 0) {
                int64_t due = (ln->last_ms + p->o.idle_ms) * 1000;
                if (cn_mono_us() >= due) {
                    pthread_mutex_unlock(&st->mu);
                    lane_seal(ln, "idle");
                    pthread_mutex_lock(&st->mu);
                    continue;
                }
                struct timespec ts;
                deadline_ts(&ts, due);
                pthread_cond_timedwait(&st->work, &st->mu, &ts);
            } else {
                pthread_cond_wait(&st->work, &st->mu);
            }
        }
        if (!st->head)
            break; /* stopping and nothing queued */
        /* Collect: until the first object has waited wait_us, or a batch. */
        st->collecting = 1;
        int64_t due = st->head->arrived_us + p->o.wait_us;
        while (!st->stop && st->head && st->queued_bytes < st->batch_cap && cn_mono_us() < due) {
            struct timespec ts;
            deadline_ts(&ts, due);
            pthread_cond_timedwait(&st->work, &st->mu, &ts);
        }
        size_t n = 0, cmd = 0;
        uint64_t blen = 0;
        while (st->head && n < ln->batch_cap && blen + st->head->padded <= st->batch_cap &&
               cmd + st->head->cmd_bytes <= CMD_MAX) {
            struct item *it = st->head;
            st->head = it->next;
            if (!st->head)
                st->tail = NULL;
            it->state = ITEM_TAKEN;
            st->queued_bytes -= it->padded;
            atomic_fetch_sub(&p->queued, 1);
            blen += it->padded;
            cmd += it->cmd_bytes;
            ln->batch[n++] = it;
        }
        st->collecting = 0;
        pthread_cond_broadcast(&st->work); /* the next lane may collect */
        pthread_mutex_unlock(&st->mu);
        if (n > 0)
            lane_batch(ln, ln->batch, n);
        pthread_mutex_lock(&st->mu);
        for (size_t i = 0; i < n; i++) {
            /* Only this batch's requests wake (not every waiting one). */
            ln->batch[i]->state = ITEM_DONE;
            pthread_cond_signal(&ln->batch[i]->done);
        }
    }
    pthread_mutex_unlock(&st->mu);
    lane_seal(ln, "shutdown");
    return NULL;
}

static void stream_free(struct stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stop = 1;
    pthread_cond_broadcast(&st->work);
    pthread_mutex_unlock(&st->mu);
    for (uint32_t i = 0; i < st->n_lanes; i++) {
        struct lane *ln = &st->lanes[i];
        if (ln->started)
            pthread_join(ln->th, NULL);
        for (uint32_t f = 0; f < EC_MAX_FRAGS; f++)
            free(ln->frag[f]);
        free(ln->batch);
    }
    if (st->mem)
        gw_ctx_mem_give(st->p->data, st->mem);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    free(st);
}

static struct stream *stream_new(struct gw_pack *p, uint32_t k, uint32_t m, const char *sc)
{
    if (k < 1 || k > EC_MAX_K || m < 1 || m > EC_MAX_M || !gw_ctx_codec(p->data, k, m))
        return NULL;
    struct stream *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->p = p;
    st->k = k;
    st->m = m;
    snprintf(st->sc, sizeof(st->sc), "%s", sc);
    st->sb = (uint64_t)k * p->o.unit;
    st->batch_cap = (p->o.batch_max + st->sb - 1) / st->sb * st->sb;
    uint64_t append_cap = (uint64_t)APPEND_MAX * k / st->sb * st->sb;
    if (st->batch_cap > append_cap)
        st->batch_cap = append_cap;
    st->group_cap = p->o.group_fragment / p->o.unit * st->sb;
    if (st->group_cap < st->batch_cap)
        st->group_cap = st->batch_cap;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->work, &ca);
    pthread_condattr_destroy(&ca);
    st->n_lanes = p->o.lanes;
    size_t flen = (size_t)(st->batch_cap / k);
    /* The lanes' fragment buffers come from the data-path budget: a stream
     * that does not fit is not made (its objects go the ordinary way). */
    uint64_t mem = (uint64_t)st->n_lanes * (k + m) * flen;
    if (gw_ctx_mem_take(p->data, mem) != 0) {
        CN_WARN(LOG,
                "no room in --data-memory for %u lane(s) of %u+%u (%" PRIu64 " bytes): not "
                "packing that scheme for now",
                st->n_lanes, k, m, mem);
        st->n_lanes = 0;
        stream_free(st);
        return NULL;
    }
    st->mem = mem;
    for (uint32_t i = 0; i < st->n_lanes; i++) {
        struct lane *ln = &st->lanes[i];
        ln->st = st;
        ln->frag_cap = flen;
        /* at most one object per stripe of the batch */
        ln->batch_cap = (size_t)(st->batch_cap / st->sb);
        ln->batch = calloc(ln->batch_cap, sizeof(*ln->batch));
        int ok = ln->batch != NULL;
        for (uint32_t f = 0; f < k + m && ok; f++)
            ok = (ln->frag[f] = malloc(flen)) != NULL;
        if (!ok || pthread_create(&ln->th, NULL, lane_main, ln) != 0) {
            stream_free(st);
            return NULL;
        }
        ln->started = 1;
    }
    CN_INFO(LOG, "packing %u+%u%s%s: %u lane(s), batches of %" PRIu64 " bytes, unit %u", k, m,
            *st->sc ? " class " : "", st->sc, st->n_lanes, st->batch_cap, p->o.unit);
    return st;
}

static struct stream *stream_get(struct gw_pack *p, uint32_t k, uint32_t m, const char *sc)
{
    if (!sc)
        sc = "";
    if (strlen(sc) >= SC_LEN)
        return NULL;
    pthread_mutex_lock(&p->mu);
    struct stream *st = NULL;
    for (size_t i = 0; i < p->n_streams && !st; i++)
        if (p->streams[i]->k == k && p->streams[i]->m == m && !strcmp(p->streams[i]->sc, sc))
            st = p->streams[i];
    /* A stream the budget refused is not tried again for a second. */
    if (!st && p->n_streams < MAX_STREAMS &&
        (p->refused_ms == 0 || cn_mono_ms() - p->refused_ms > 1000)) {
        if ((st = stream_new(p, k, m, sc)) != NULL)
            p->streams[p->n_streams++] = st;
        else
            p->refused_ms = cn_mono_ms();
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

/* ---- public ---- */

int gw_pack_new(struct gw_ctx *data, const struct gw_pack_opts *o, struct gw_pack **out)
{
    if (!data || !o || o->unit < 512 || 65536 % o->unit != 0 || o->lanes < 1 ||
        o->lanes > MAX_LANES || (o->max && o->batch_max < o->max) || o->group_fragment < o->unit)
        return CAIRN_E_INVAL;
    struct gw_pack *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    p->data = data;
    p->o = *o;
    snprintf(p->writer, sizeof(p->writer), "%s", o->writer ? o->writer : "");
    p->o.writer = p->writer;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&p->mono);
    pthread_condattr_setclock(&p->mono, CLOCK_MONOTONIC);
    *out = p;
    return 0;
}

void gw_pack_free(struct gw_pack *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_streams; i++)
        stream_free(p->streams[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_condattr_destroy(&p->mono);
    free(p);
}

int gw_pack_accepts(const struct gw_pack *p, uint64_t size)
{
    return p && p->o.max > 0 && size > 0 && size <= p->o.max;
}

int gw_pack_put(struct gw_pack *p, const struct gw_pack_obj *o, struct gw_pack_result *res)
{
    if (!gw_pack_accepts(p, o->desc.obj.size))
        return CAIRN_E_INVAL;
    struct stream *st = stream_get(p, o->k, o->m, o->storage_class);
    if (!st) {
        atomic_fetch_add(&p->fallbacks, 1);
        return CAIRN_E_UNAVAIL;
    }
    struct item it = {.o = o, .res = res, .arrived_us = cn_mono_us(), .state = ITEM_QUEUED};
    it.padded = (o->desc.obj.size + st->sb - 1) / st->sb * st->sb;
    /* Its record's size in a CommitPacked: measured by encoding it alone
     * (a few hundred bytes; kilobytes with large metadata, tags or ACLs). */
    struct md_group_desc g = {.k = o->k, .m = o->m, .unit = p->o.unit};
    struct md_packed_desc d = o->desc;
    uint8_t *c = NULL;
    if (md_cmd_commit_packed(1, 1, &g, 0, it.padded, &d, 1, 0, &c, &it.cmd_bytes) != 0)
        it.cmd_bytes = CMD_MAX + 1;
    free(c);
    if (it.cmd_bytes > CMD_MAX) {
        atomic_fetch_add(&p->fallbacks, 1);
        return CAIRN_E_UNAVAIL; /* a record too large to batch: the ordinary way */
    }
    pthread_cond_init(&it.done, &p->mono);
    pthread_mutex_lock(&st->mu);
    if (st->no_group_until && cn_mono_ms() < st->no_group_until) {
        pthread_mutex_unlock(&st->mu);
        pthread_cond_destroy(&it.done);
        atomic_fetch_add(&p->fallbacks, 1);
        return CAIRN_E_UNAVAIL; /* a lane just found no group to be had */
    }
    /* Bounded queue: a few batches per lane beyond the ones in flight. */
    if (st->stop || st->queued_bytes + it.padded > 4 * st->batch_cap * st->n_lanes) {
        pthread_mutex_unlock(&st->mu);
        pthread_cond_destroy(&it.done);
        atomic_fetch_add(&p->fallbacks, 1);
        return CAIRN_E_BUSY;
    }
    if (st->tail)
        st->tail->next = &it;
    else
        st->head = &it;
    st->tail = &it;
    st->queued_bytes += it.padded;
    atomic_fetch_add(&p->queued, 1);
    pthread_cond_broadcast(&st->work);
    int64_t due = it.arrived_us + (int64_t)QUEUE_TIMEOUT_MS * 1000;
    int rc = 0;
    while (it.state != ITEM_DONE) {
        if (it.state == ITEM_QUEUED && cn_mono_us() >= due) {
            /* Never taken: unlink it (nothing of it was written). */
            struct item **pp = &st->head, *prev = NULL;
            while (*pp != &it) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            *pp = it.next;
            if (st->tail == &it)
                st->tail = prev;
            st->queued_bytes -= it.padded;
            atomic_fetch_sub(&p->queued, 1);
            rc = CAIRN_E_TIMEOUT;
            break;
        }
        struct timespec ts;
        deadline_ts(&ts, it.state == ITEM_QUEUED ? due : cn_mono_us() + 1000000);
        pthread_cond_timedwait(&it.done, &st->mu, &ts);
    }
    if (rc == 0)
        rc = it.rc;
    pthread_mutex_unlock(&st->mu);
    pthread_cond_destroy(&it.done);
    if (rc == CAIRN_E_UNAVAIL)
        atomic_fetch_add(&p->fallbacks, 1);
    return rc;
}

void gw_pack_stats(struct gw_pack *p, struct gw_pack_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    out->objects = p->objects;
    out->batches = p->batches;
    out->bytes = p->bytes;
    out->padding = p->padding;
    out->groups_opened = p->opened;
    out->groups_sealed = p->sealed;
    out->append_failures = p->append_failures;
    out->retries = p->retries;
    out->fallbacks = p->fallbacks;
    out->queued = p->queued;
}
