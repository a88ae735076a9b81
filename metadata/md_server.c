#include "md_server.h"

#include "cn_auth.h"
#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_metrics.h"
#include "cn_util.h"
#include "md_cmd.h"
#include "md_place.h"
#include "md_query.h"
#include "md_repair.h"
#include "md_sm.h"
#include "md_snap.h"
#include "md_store.h"
#include "paxos.h"
#include "paxos.pb-c.h"
#include "cluster.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG "meta"

/* Store keys of the Paxos layer (the state machine owns keys starting 'S'). */
static const char KEY_PROMISE[] = {'P', 'p'};
#define LOG_KEY_PREFIX 'P', 'L'
#define LOG_KEY_LEN    10

#define MAX_EVENTS          65536       /* core event queue bound */
#define PEER_QUEUE_BYTES    (32u << 20) /* per-peer send queue bound */
#define SEND_BATCH_BYTES    (4u << 20)  /* most bytes in one POST /paxos/msg */
#define MAX_MSG_BODY        (64u << 20) /* largest POST /paxos/msg accepted */
#define MAX_CMD_BODY        (8u << 20)  /* largest command or query accepted */
#define PENDING_BUCKETS     1024
#define SNAPSHOT_TIMEOUT_MS 120000
#define MAX_TRACKED_CS      4096

/* ---------------------------------------------------------------- waiters --
 * A handler thread waits on a waiter for the core thread's answer. Two
 * references: the handler's and the core's; whoever drops the last frees it,
 * so a handler that timed out never leaves the core with a dangling pointer. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    int status;
    uint32_t leader;
    uint8_t *result;
    size_t result_len;
    int64_t submit_us; /* core thread only: when the command was proposed */
};

static struct waiter *waiter_new(void)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    w->refs = 2;
    return w;
}

static void waiter_put(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left == 0) {
        free(w->result);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

/* Core side: records the outcome (taking ownership of result) and drops the
 * core's reference. */
static void waiter_complete(struct waiter *w, int status, uint32_t leader, uint8_t *result,
                            size_t len)
{
    pthread_mutex_lock(&w->mu);
    if (!w->done) {
        w->done = 1;
        w->status = status;
        w->leader = leader;
        w->result = result;
        w->result_len = len;
        result = NULL;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    free(result);
    waiter_put(w);
}

/* Handler side: waits up to timeout_ms. Returns 1 when done. */
static int waiter_wait(struct waiter *w, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    }
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

/* ----------------------------------------------------------------- events -- */
enum ev_type { EV_MSG, EV_SUBMIT, EV_READ, EV_SNAPSHOT, EV_PERSISTED };

struct event {
    enum ev_type type;
    struct event *next;
    struct waiter *w;
    /* EV_MSG */
    struct paxos_msg msg;
    struct paxos_entry *entries;
    uint8_t *blob; /* entry values */
    /* EV_SUBMIT */
    uint64_t client_id, seq;
    uint8_t *data;
    uint32_t len;
    /* EV_SNAPSHOT */
    char *path;
    uint32_t from;
};

static void event_free(struct event *e)
{
    free(e->entries);
    free(e->blob);
    free(e->data);
    free(e->path);
    free(e);
}

/* ------------------------------------------------------------------ peers -- */
struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t buf[]; /* u32 big-endian length + packed px.Msg */
};

struct peer {
    struct md_server *srv;
    uint32_t id;
    char *url;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct outmsg *head, *tail;
    size_t bytes;
    atomic_int snapshot_wanted;
};

/* A submitted command waiting to be applied (core thread only). */
struct pending {
    struct pending *next;
    uint64_t client_id, seq;
    struct waiter *w;
};

struct pending_read {
    struct pending_read *next;
    uint64_t read_id;
    struct waiter *w;
};

/* Persist records copied out of the core until the round's flush. */
struct persist_rec {
    uint64_t seq, promised, trim_through;
    uint32_t n_entries;
    struct paxos_entry *entries;
    uint8_t *blob;
};

struct md_server {
    struct md_server_config cfg;
    char *data_dir, *bind_addr;
    struct md_store *store;
    struct md_sm *sm;
    struct paxos *px;
    struct paxos_io io;
    uint64_t rng;
    struct cn_http_server *http;

    /* event queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct event *qhead, *qtail;
    size_t qlen;
    atomic_int stopping;
    pthread_t core_thread;
    int core_started;

    /* core-thread-only state */
    struct pending *pending[PENDING_BUCKETS];
    size_t n_pending;
    struct pending_read *reads;
    uint64_t next_read_id;
    struct persist_rec *recs; /* filled by the core thread during a round */
    size_t n_recs, cap_recs;

    /* the persist thread: writes a handed-off batch of records with one
     * fsync while the core keeps working (group commit) */
    pthread_t persist_thread;
    int persist_started;
    pthread_mutex_t pq_mu;
    pthread_cond_t pq_cv;
    struct persist_rec *precs; /* owned by the persist thread while n_precs > 0 */
    size_t n_precs, cap_precs;
    int persist_stop;
    uint64_t last_trim;
    uint64_t log_base; /* every log key <= this has been deleted */
    uint32_t last_role;
    uint32_t last_leader;

    struct peer peers[MD_MAX_PEERS];
    uint32_t n_peers;

    pthread_t snap_thread;
    int snap_started;
    pthread_mutex_t snap_mu;
    pthread_cond_t snap_cv;
    atomic_int snap_receiving;

    /* chunkserver liveness: soft state fed by heartbeats to the leader */
    pthread_mutex_t hb_mu;
    struct hb_entry {
        uint64_t id, capacity, free;
        int64_t last_seen_ms;
        char address[MD_REPAIR_ADDR_MAX];
    } hb[MAX_TRACKED_CS];
    struct md_repair *repair;
    size_t n_hb;
    atomic_llong leader_since_ms; /* when this replica last became leader; -1 if not */

    /* status published by the core thread for handlers */
    pthread_mutex_t st_mu;
    struct paxos_status st;

    /* metrics */
    atomic_uint_fast64_t m_slots, m_cmds, m_leader_changes, m_fsyncs, m_fsync_us, m_msgs_sent,
        m_msgs_dropped, m_msgs_recv, m_snap_sent, m_snap_installed, m_reads;
    cn_hist commit_hist; /* leader: proposed -> committed and applied, per command */
};

static void fatal_store(int rc, const char *what)
{
    CN_ERROR(LOG,
             "store %s failed: %s; stopping this replica so it cannot vote on state it did "
             "not persist",
             what, cairn_strerror(rc));
    _exit(70);
}

static void log_key(uint64_t slot, uint8_t key[LOG_KEY_LEN])
{
    key[0] = 'P';
    key[1] = 'L';
    for (int i = 0; i < 8; i++)
        key[2 + i] = (uint8_t)(slot >> (56 - 8 * i));
}

static const char *peer_url(const struct md_server *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->cfg.n_peers; i++)
        if (s->cfg.peer_ids[i] == id)
            return s->cfg.peer_urls[i];
    return NULL;
}

/* ------------------------------------------------------------- paxos io -- */
static struct md_server *io_srv(struct paxos_io *io)
{
    return io->data;
}

static void io_send(struct paxos_io *io, uint32_t to, const struct paxos_msg *m)
{
    struct md_server *s = io_srv(io);
    struct peer *p = NULL;
    for (uint32_t i = 0; i < s->n_peers; i++)
        if (s->peers[i].id == to)
            p = &s->peers[i];
    if (!p)
        return;
    Px__Msg pm = PX__MSG__INIT;
    pm.type = m->type;
    pm.from = m->from;
    pm.ballot = m->ballot;
    pm.commit = m->commit;
    pm.match = m->match;
    pm.read_seq = m->read_seq;
    pm.ok = m->ok;
    Px__Entry ents[m->n_entries ? m->n_entries : 1];
    Px__Entry *eptr[m->n_entries ? m->n_entries : 1];
    for (uint32_t i = 0; i < m->n_entries; i++) {
        px__entry__init(&ents[i]);
        ents[i].slot = m->entries[i].slot;
        ents[i].ballot = m->entries[i].ballot;
        ents[i].value.data = (uint8_t *)m->entries[i].data;
        ents[i].value.len = m->entries[i].len;
        eptr[i] = &ents[i];
    }
    pm.n_entries = m->n_entries;
    pm.entries = eptr;
    size_t len = px__msg__get_packed_size(&pm);
    struct outmsg *om = malloc(sizeof(*om) + 4 + len);
    if (!om) {
        s->m_msgs_dropped++;
        return;
    }
    om->next = NULL;
    om->len = 4 + len;
    om->buf[0] = (uint8_t)(len >> 24);
    om->buf[1] = (uint8_t)(len >> 16);
    om->buf[2] = (uint8_t)(len >> 8);
    om->buf[3] = (uint8_t)len;
    px__msg__pack(&pm, om->buf + 4);
    pthread_mutex_lock(&p->mu);
    if (p->bytes + om->len > PEER_QUEUE_BYTES) {
        pthread_mutex_unlock(&p->mu);
        free(om);
        s->m_msgs_dropped++;
        return;
    }
    if (p->tail)
        p->tail->next = om;
    else
        p->head = om;
    p->tail = om;
    p->bytes += om->len;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Copies n entries (and their values) into one allocation pair. */
static int copy_entries(const struct paxos_entry *src, uint32_t n, struct paxos_entry **out,
                        uint8_t **blob)
{
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += src[i].len;
    *out = NULL;
    *blob = NULL;
    if (n == 0)
        return 0;
    *out = malloc(n * sizeof(**out));
    *blob = malloc(total ? total : 1);
    if (!*out || !*blob) {
        free(*out);
        free(*blob);
        *out = NULL;
        *blob = NULL;
        return CAIRN_E_NOMEM;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        (*out)[i] = src[i];
        memcpy(*blob + off, src[i].data, src[i].len);
        (*out)[i].data = *blob + off;
        off += src[i].len;
    }
    return 0;
}

static void io_persist(struct paxos_io *io, const struct paxos_persist *rec)
{
    struct md_server *s = io_srv(io);
    if (s->n_recs == s->cap_recs) {
        size_t cap = s->cap_recs ? 2 * s->cap_recs : 16;
        struct persist_rec *r = realloc(s->recs, cap * sizeof(*r));
        if (!r)
            fatal_store(CAIRN_E_NOMEM, "persist queue");
        s->recs = r;
        s->cap_recs = cap;
    }
    struct persist_rec *r = &s->recs[s->n_recs];
    r->seq = rec->seq;
    r->promised = rec->promised;
    r->trim_through = rec->trim_through;
    r->n_entries = rec->n_entries;
    if (copy_entries(rec->entries, rec->n_entries, &r->entries, &r->blob) != 0)
        fatal_store(CAIRN_E_NOMEM, "persist copy");
    s->n_recs++;
}

static unsigned pending_bucket(uint64_t client_id, uint64_t seq)
{
    return (unsigned)((client_id * 0x9E3779B97F4A7C15ull ^ seq) % PENDING_BUCKETS);
}

static struct waiter *pending_take(struct md_server *s, uint64_t client_id, uint64_t seq)
{
    for (struct pending **pp = &s->pending[pending_bucket(client_id, seq)]; *pp;
         pp = &(*pp)->next) {
        if ((*pp)->client_id == client_id && (*pp)->seq == seq) {
            struct pending *p = *pp;
            struct waiter *w = p->w;
            *pp = p->next;
            free(p);
            s->n_pending--;
            return w;
        }
    }
    return NULL;
}

static void io_apply(struct paxos_io *io, uint64_t slot, const struct paxos_cmd *cmds, uint32_t n)
{
    struct md_server *s = io_srv(io);
    const void *cmdv[n ? n : 1];
    size_t lens[n ? n : 1];
    uint8_t *results[n ? n : 1];
    size_t rlens[n ? n : 1];
    for (uint32_t i = 0; i < n; i++) {
        cmdv[i] = cmds[i].data;
        lens[i] = cmds[i].len;
    }
    int rc = md_sm_apply_slot(s->sm, slot, n, cmdv, lens, NULL, results, rlens);
    if (rc == CAIRN_E_RANGE) {
        /* Already applied before a restart (the store is ahead of the log). */
        return;
    }
    if (rc != 0)
        fatal_store(rc, "apply");
    s->m_slots++;
    s->m_cmds += n;
    for (uint32_t i = 0; i < n; i++) {
        struct waiter *w = pending_take(s, cmds[i].client_id, cmds[i].seq);
        if (w) {
            cn_hist_record(&s->commit_hist, (uint64_t)(cn_mono_us() - w->submit_us));
            waiter_complete(w, 0, 0, results[i], rlens[i]);
        } else {
            free(results[i]);
        }
    }
}

static void io_reject(struct paxos_io *io, uint64_t client_id, uint64_t seq, int err,
                      uint32_t leader)
{
    struct waiter *w = pending_take(io_srv(io), client_id, seq);
    if (w)
        waiter_complete(w, err, leader, NULL, 0);
}

static void io_read_done(struct paxos_io *io, uint64_t read_id, int status, uint32_t leader)
{
    struct md_server *s = io_srv(io);
    for (struct pending_read **pp = &s->reads; *pp; pp = &(*pp)->next) {
        if ((*pp)->read_id == read_id) {
            struct pending_read *r = *pp;
            *pp = r->next;
            waiter_complete(r->w, status, leader, NULL, 0);
            free(r);
            return;
        }
    }
}

static void io_send_snapshot(struct paxos_io *io, uint32_t to)
{
    struct md_server *s = io_srv(io);
    for (uint32_t i = 0; i < s->n_peers; i++) {
        if (s->peers[i].id == to) {
            atomic_store(&s->peers[i].snapshot_wanted, 1);
            pthread_mutex_lock(&s->snap_mu);
            pthread_cond_signal(&s->snap_cv);
            pthread_mutex_unlock(&s->snap_mu);
        }
    }
}

static uint64_t io_random(struct paxos_io *io)
{
    struct md_server *s = io_srv(io);
    /* xorshift64*, seeded from the OS at start. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1Dull;
}

/* ------------------------------------------------------------ core thread -- */

static void post_internal(struct md_server *s, struct event *e);

/* Writes records[0..n) to the store (each its own write: a trim deletes keys
 * written by earlier records), then one fsync. Returns the highest seq. */
static uint64_t write_records(struct md_server *s, struct persist_rec *recs, size_t n)
{
    uint64_t max_seq = 0;
    struct md_batch *b = md_batch_new();
    if (!b)
        fatal_store(CAIRN_E_NOMEM, "batch");
    for (size_t i = 0; i < n; i++) {
        struct persist_rec *r = &recs[i];
        md_batch_clear(b);
        Px__Promise pr = PX__PROMISE__INIT;
        pr.ballot = r->promised;
        uint8_t pbuf[16];
        size_t plen = px__promise__pack(&pr, pbuf);
        md_batch_put(b, KEY_PROMISE, sizeof(KEY_PROMISE), pbuf, plen);
        if (r->trim_through > s->log_base) {
            /* Delete the log keys of trimmed slots. */
            struct md_iter *it;
            int rc = md_store_iter_new(s->store, &it);
            if (rc)
                fatal_store(rc, "iterator");
            uint8_t k[LOG_KEY_LEN];
            log_key(s->log_base, k);
            for (md_iter_seek(it, k, sizeof(k)); md_iter_valid(it); md_iter_next(it)) {
                size_t kl;
                const uint8_t *key = md_iter_key(it, &kl);
                if (kl != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
                    break;
                uint64_t slot = 0;
                for (int j = 0; j < 8; j++)
                    slot = slot << 8 | key[2 + j];
                if (slot > r->trim_through)
                    break;
                md_batch_del(b, key, kl);
            }
            md_iter_free(it);
            s->log_base = r->trim_through;
        }
        for (uint32_t e = 0; e < r->n_entries; e++) {
            Px__Entry pe = PX__ENTRY__INIT;
            pe.slot = r->entries[e].slot;
            pe.ballot = r->entries[e].ballot;
            pe.value.data = (uint8_t *)r->entries[e].data;
            pe.value.len = r->entries[e].len;
            size_t elen = px__entry__get_packed_size(&pe);
            uint8_t *ebuf = malloc(elen);
            if (!ebuf)
                fatal_store(CAIRN_E_NOMEM, "entry");
            px__entry__pack(&pe, ebuf);
            uint8_t k[LOG_KEY_LEN];
            log_key(pe.slot, k);
            md_batch_put(b, k, sizeof(k), ebuf, elen);
            free(ebuf);
        }
        int rc = md_store_write(s->store, b);
        if (rc)
            fatal_store(rc, "write");
        if (r->seq > max_seq)
            max_seq = r->seq;
        free(r->entries);
        free(r->blob);
    }
    md_batch_free(b);
    int64_t t0 = cn_mono_us();
    int rc = md_store_sync(s->store);
    if (rc)
        fatal_store(rc, "sync");
    s->m_fsyncs++;
    s->m_fsync_us += (uint64_t)(cn_mono_us() - t0);
    return max_seq;
}

static void *persist_main(void *arg)
{
    struct md_server *s = arg;
    pthread_mutex_lock(&s->pq_mu);
    for (;;) {
        while (s->n_precs == 0 && !s->persist_stop)
            pthread_cond_wait(&s->pq_cv, &s->pq_mu);
        if (s->n_precs == 0)
            break;
        size_t n = s->n_precs;
        pthread_mutex_unlock(&s->pq_mu);
        uint64_t seq = write_records(s, s->precs, n);
        struct event *e = calloc(1, sizeof(*e));
        if (!e)
            fatal_store(CAIRN_E_NOMEM, "event");
        e->type = EV_PERSISTED;
        e->seq = seq;
        pthread_mutex_lock(&s->pq_mu);
        s->n_precs = 0;
        post_internal(s, e);
    }
    pthread_mutex_unlock(&s->pq_mu);
    return NULL;
}

/* Core thread, end of a round: if the persist thread is idle, hands it every
 * record of the round (the buffers swap). Otherwise the records wait and join
 * the next batch: while one fsync runs, the next one's records pile up. */
static void hand_off_persist(struct md_server *s)
{
    if (s->n_recs == 0)
        return;
    pthread_mutex_lock(&s->pq_mu);
    if (s->n_precs == 0) {
        struct persist_rec *tmp = s->precs;
        size_t cap = s->cap_precs;
        s->precs = s->recs;
        s->cap_precs = s->cap_recs;
        s->n_precs = s->n_recs;
        s->recs = tmp;
        s->cap_recs = cap;
        s->n_recs = 0;
        pthread_cond_signal(&s->pq_cv);
    }
    pthread_mutex_unlock(&s->pq_mu);
}

static void fail_all_pending(struct md_server *s, uint32_t leader)
{
    for (int b = 0; b < PENDING_BUCKETS; b++) {
        while (s->pending[b]) {
            struct pending *p = s->pending[b];
            s->pending[b] = p->next;
            waiter_complete(p->w, CAIRN_E_NOTLEADER, leader, NULL, 0);
            free(p);
        }
    }
    s->n_pending = 0;
}

static void handle_event(struct md_server *s, struct event *e)
{
    uint64_t now = (uint64_t)cn_mono_ms();
    uint32_t leader = 0;
    switch (e->type) {
    case EV_PERSISTED:
        paxos_persisted(s->px, e->seq, now);
        break;
    case EV_MSG:
        s->m_msgs_recv++;
        paxos_recv(s->px, &e->msg, now);
        break;
    case EV_SUBMIT: {
        struct pending *p = malloc(sizeof(*p));
        if (!p) {
            waiter_complete(e->w, CAIRN_E_NOMEM, 0, NULL, 0);
            break;
        }
        /* Registered before submit: apply may run inside paxos_submit. */
        p->client_id = e->client_id;
        p->seq = e->seq;
        p->w = e->w;
        unsigned bkt = pending_bucket(e->client_id, e->seq);
        p->next = s->pending[bkt];
        s->pending[bkt] = p;
        s->n_pending++;
        e->w->submit_us = cn_mono_us();
        int rc = paxos_submit(s->px, e->client_id, e->seq, e->data, e->len, now, &leader);
        if (rc != 0) {
            struct waiter *w = pending_take(s, e->client_id, e->seq);
            if (w)
                waiter_complete(w, rc, leader, NULL, 0);
        }
        break;
    }
    case EV_READ: {
        struct pending_read *r = malloc(sizeof(*r));
        if (!r) {
            waiter_complete(e->w, CAIRN_E_NOMEM, 0, NULL, 0);
            break;
        }
        r->read_id = ++s->next_read_id;
        r->w = e->w;
        r->next = s->reads;
        s->reads = r;
        int rc = paxos_read(s->px, r->read_id, now, &leader);
        if (rc != 0) {
            s->reads = r->next;
            waiter_complete(r->w, rc, leader, NULL, 0);
            free(r);
        }
        break;
    }
    case EV_SNAPSHOT: {
        int rc = 0;
        uint64_t applied = 0;
        if (!paxos_snapshot_wanted(s->px, e->seq)) {
            waiter_complete(e->w, CAIRN_E_EXISTS, 0, NULL, 0);
            break;
        }
        FILE *f = fopen(e->path, "rb");
        struct md_snap_loader *l = NULL;
        if (!f) {
            rc = CAIRN_E_IO;
        } else if ((rc = md_snap_load_begin(s->store, &l)) == 0) {
            uint8_t *buf = malloc(256 << 10);
            size_t n;
            while (rc == 0 && buf && (n = fread(buf, 1, 256 << 10, f)) > 0)
                rc = md_snap_load_feed(l, buf, n);
            if (!buf)
                rc = CAIRN_E_NOMEM;
            free(buf);
            if (rc == 0)
                rc = md_snap_load_finish(l, &applied);
            else
                md_snap_load_abort(l);
            if (rc == 0)
                rc = md_sm_reload(s->sm);
            if (rc != 0)
                fatal_store(rc, "snapshot install");
        }
        if (f)
            fclose(f);
        if (rc == 0) {
            /* Membership is static in the daemon (the core supports changes; the
             * daemon does not expose them yet), so the snapshot carries none. */
            paxos_snapshot_installed(s->px, e->from, applied, NULL, now);
            s->m_snap_installed++;
            CN_INFO(LOG, "installed a snapshot from replica %u through slot %" PRIu64, e->from,
                    applied);
        }
        waiter_complete(e->w, rc, 0, NULL, 0);
        break;
    }
    }
}

static void maybe_trim(struct md_server *s)
{
    uint64_t applied = md_sm_applied_index(s->sm);
    if (s->cfg.trim_every == 0 || applied < s->last_trim + s->cfg.trim_every)
        return;
    if (applied <= s->cfg.trim_keep)
        return;
    /* The state machine's writes are not synced one by one: make them durable
     * before the log that could replay them is forgotten. */
    int rc = md_store_sync(s->store);
    if (rc)
        fatal_store(rc, "sync before trim");
    paxos_trim(s->px, applied - s->cfg.trim_keep);
    s->last_trim = applied;
}

static void publish_status(struct md_server *s)
{
    struct paxos_status st;
    paxos_status(s->px, &st);
    if (st.leader != s->last_leader && st.leader != 0) {
        s->m_leader_changes++;
        CN_INFO(LOG, "leader is now replica %u (ballot %" PRIu64 ")", st.leader, st.ballot);
    }
    if (st.leader != 0)
        s->last_leader = st.leader;
    if (s->last_role == PAXOS_LEADER && st.role != PAXOS_LEADER && s->n_pending)
        fail_all_pending(s, st.leader);
    if (st.role == PAXOS_LEADER && s->last_role != PAXOS_LEADER) {
        /* Heartbeats from an earlier term must not read as silence now. */
        pthread_mutex_lock(&s->hb_mu);
        s->n_hb = 0;
        pthread_mutex_unlock(&s->hb_mu);
        s->leader_since_ms = cn_mono_ms();
    } else if (st.role != PAXOS_LEADER)
        s->leader_since_ms = -1;
    s->last_role = st.role;
    pthread_mutex_lock(&s->st_mu);
    s->st = st;
    pthread_mutex_unlock(&s->st_mu);
}

static void *core_main(void *arg)
{
    struct md_server *s = arg;
    uint64_t tick_every = s->cfg.heartbeat_ms / 2 ? s->cfg.heartbeat_ms / 2 : 1;
    uint64_t next_tick = 0;
    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qhead && !s->stopping) {
            uint64_t now = (uint64_t)cn_mono_ms();
            if (now >= next_tick)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t wait = next_tick - now;
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->qcv, &s->qmu, &ts);
        }
        struct event *list = s->qhead;
        s->qhead = s->qtail = NULL;
        s->qlen = 0;
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->qmu);
        if (stopping) {
            while (list) {
                struct event *next = list->next;
                if (list->w)
                    waiter_complete(list->w, CAIRN_E_SHUTDOWN, 0, NULL, 0);
                event_free(list);
                list = next;
            }
            break;
        }
        while (list) {
            struct event *next = list->next;
            handle_event(s, list);
            event_free(list);
            list = next;
        }
        uint64_t now = (uint64_t)cn_mono_ms();
        if (now >= next_tick) {
            paxos_tick(s->px, now);
            next_tick = now + tick_every;
        }
        maybe_trim(s);
        hand_off_persist(s);
        publish_status(s);
    }
    fail_all_pending(s, 0);
    while (s->reads) {
        struct pending_read *r = s->reads;
        s->reads = r->next;
        waiter_complete(r->w, CAIRN_E_SHUTDOWN, 0, NULL, 0);
        free(r);
    }
    return NULL;
}

/* Queues an event for the core thread. Returns 0 or CAIRN_E_BUSY (queue full:
 * the event is freed, its waiter completed). */
static int post_event(struct md_server *s, struct event *e)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qlen >= MAX_EVENTS || s->stopping) {
        int rc = s->stopping ? CAIRN_E_SHUTDOWN : CAIRN_E_BUSY;
        pthread_mutex_unlock(&s->qmu);
        if (e->w)
            waiter_complete(e->w, rc, 0, NULL, 0);
        event_free(e);
        return rc;
    }
    if (s->qtail)
        s->qtail->next = e;
    else
        s->qhead = e;
    s->qtail = e;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return 0;
}

/* Queues an internal event that must not be dropped (queue bound ignored). */
static void post_internal(struct md_server *s, struct event *e)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qtail)
        s->qtail->next = e;
    else
        s->qhead = e;
    s->qtail = e;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

/* ----------------------------------------------------------- peer senders -- */
static void *peer_main(void *arg)
{
    struct peer *p = arg;
    struct md_server *s = p->srv;
    struct cn_http_client_opts o = {.auth = s->cfg.auth,
                                    .connect_timeout_ms = 300,
                                    .timeout_ms = 2000,
                                    .stall_timeout_ms = 1000};
    struct cn_http_client *c = NULL;
    if (cn_http_client_new(&o, &c) != 0) {
        CN_ERROR(LOG, "peer %u: cannot create HTTP client", p->id);
        return NULL;
    }
    uint8_t *body = malloc(SEND_BATCH_BYTES + (1u << 20));
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !s->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        /* Take messages up to the batch size (at least one). */
        struct outmsg *list = p->head, *last = p->head;
        size_t total = last->len;
        while (last->next && total + last->next->len <= SEND_BATCH_BYTES) {
            last = last->next;
            total += last->len;
        }
        p->head = last->next;
        if (!p->head)
            p->tail = NULL;
        last->next = NULL;
        p->bytes -= total;
        pthread_mutex_unlock(&p->mu);

        uint8_t *buf = body;
        uint8_t *big = NULL;
        if (!body || total > SEND_BATCH_BYTES + (1u << 20))
            buf = big = malloc(total);
        size_t off = 0;
        size_t count = 0;
        for (struct outmsg *m = list; m;) {
            struct outmsg *next = m->next;
            if (buf)
                memcpy(buf + off, m->buf, m->len);
            off += m->len;
            count++;
            free(m);
            m = next;
        }
        if (!buf) {
            s->m_msgs_dropped += count;
            continue;
        }
        struct cn_http_request req = {.method = "POST",
                                      .base_url = p->url,
                                      .target = CN_ROUTE_PAXOS_MSG,
                                      .body = buf,
                                      .body_len = off};
        struct cn_http_response resp = {0};
        int rc = cn_http_client_do(c, &req, &resp);
        if (rc != 0 || resp.status / 100 != 2) {
            s->m_msgs_dropped += count;
            CN_DEBUG(LOG, "peer %u: send failed (%s, status %d)", p->id, cairn_strerror(rc),
                     resp.status);
        } else {
            s->m_msgs_sent += count;
        }
        cn_http_response_clear(&resp);
        free(big);
    }
    free(body);
    cn_http_client_free(c);
    return NULL;
}

/* ------------------------------------------------------- snapshot sender -- */
static int snap_write_file(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)ctx) == len ? 0 : CAIRN_E_IO;
}

static ssize_t snap_read_file(void *cls, char *buf, size_t max)
{
    size_t n = fread(buf, 1, max, (FILE *)cls);
    if (n == 0 && ferror((FILE *)cls))
        return CAIRN_E_IO;
    return (ssize_t)n;
}

static void send_snapshot_to(struct md_server *s, struct peer *p, struct cn_http_client *c)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/snapshot-out.tmp", s->data_dir);
    FILE *f = fopen(path, "w+b");
    if (!f) {
        CN_ERROR(LOG, "snapshot for replica %u: cannot create %s", p->id, path);
        return;
    }
    uint64_t applied = 0;
    int rc = md_snap_write(s->store, snap_write_file, f, &applied);
    if (rc == 0 && fflush(f) != 0)
        rc = CAIRN_E_IO;
    long size = ftell(f);
    if (rc == 0) {
        rewind(f);
        char from[32], slot[48];
        snprintf(from, sizeof(from), CN_HDR_FROM ": %u", s->cfg.id);
        snprintf(slot, sizeof(slot), CN_HDR_SNAPSHOT_SLOT ": %" PRIu64, applied);
        const char *hdrs[] = {from, slot, NULL};
        struct cn_http_request req = {.method = "POST",
                                      .base_url = p->url,
                                      .target = CN_ROUTE_PAXOS_SNAPSHOT,
                                      .headers = hdrs,
                                      .body_reader = snap_read_file,
                                      .body_cls = f,
                                      .body_size = size,
                                      .timeout_ms = SNAPSHOT_TIMEOUT_MS};
        struct cn_http_response resp = {0};
        rc = cn_http_client_do(c, &req, &resp);
        if (rc == 0 && resp.status / 100 == 2) {
            s->m_snap_sent++;
            CN_INFO(LOG, "sent a snapshot through slot %" PRIu64 " (%ld bytes) to replica %u",
                    applied, size, p->id);
        } else {
            CN_WARN(LOG, "snapshot to replica %u failed (%s, status %d)", p->id, cairn_strerror(rc),
                    resp.status);
        }
        cn_http_response_clear(&resp);
    } else {
        CN_ERROR(LOG, "snapshot for replica %u: %s", p->id, cairn_strerror(rc));
    }
    fclose(f);
    unlink(path);
}

static void *snap_main(void *arg)
{
    struct md_server *s = arg;
    struct cn_http_client_opts o = {.auth = s->cfg.auth,
                                    .connect_timeout_ms = 500,
                                    .timeout_ms = SNAPSHOT_TIMEOUT_MS,
                                    .stall_timeout_ms = 10000};
    struct cn_http_client *c = NULL;
    if (cn_http_client_new(&o, &c) != 0)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&s->snap_mu);
        int any = 0;
        for (;;) {
            for (uint32_t i = 0; i < s->n_peers; i++)
                any |= atomic_load(&s->peers[i].snapshot_wanted);
            if (any || s->stopping)
                break;
            pthread_cond_wait(&s->snap_cv, &s->snap_mu);
        }
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->snap_mu);
        if (stopping)
            break;
        for (uint32_t i = 0; i < s->n_peers; i++)
            if (atomic_exchange(&s->peers[i].snapshot_wanted, 0))
                send_snapshot_to(s, &s->peers[i], c);
    }
    cn_http_client_free(c);
    return NULL;
}

/* -------------------------------------------------------------- handlers -- */
static int respond_not_leader(struct cn_http_req *req, struct md_server *s, uint32_t leader)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", leader);
    cn_http_resp_header(req, CN_HDR_LEADER, id);
    const char *url = leader ? peer_url(s, leader) : NULL;
    if (url)
        cn_http_resp_header(req, CN_HDR_LEADER_URL, url);
    return cn_http_respond_error(req, 421, "not the leader");
}

/* The leader this replica knows of (0 if none), as the core last published. */
static uint32_t known_leader(struct md_server *s)
{
    pthread_mutex_lock(&s->st_mu);
    uint32_t leader = s->st.leader;
    pthread_mutex_unlock(&s->st_mu);
    return leader;
}

static int respond_status(struct cn_http_req *req, struct md_server *s, int status, uint32_t leader)
{
    if (status == CAIRN_E_NOTLEADER)
        return respond_not_leader(req, s, leader);
    return cn_http_respond_error(req, cn_http_status_for_error(status), cairn_strerror(status));
}

static int buffer_begin(struct cn_http_req *req, void *cls)
{
    (void)cls;
    return cn_http_req_buffer_body(req, MAX_CMD_BODY);
}

static int msg_begin(struct cn_http_req *req, void *cls)
{
    (void)cls;
    return cn_http_req_buffer_body(req, MAX_MSG_BODY);
}

/* POST /paxos/msg: framed px.Msg messages. */
static int msg_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    size_t len;
    const uint8_t *body = cn_http_req_body(req, &len);
    size_t off = 0;
    while (off + 4 <= len) {
        size_t n = (size_t)body[off] << 24 | (size_t)body[off + 1] << 16 |
                   (size_t)body[off + 2] << 8 | body[off + 3];
        off += 4;
        if (n > len - off)
            return cn_http_respond_error(req, 400, "truncated message frame");
        Px__Msg *pm = px__msg__unpack(NULL, n, body + off);
        off += n;
        if (!pm)
            return cn_http_respond_error(req, 400, "malformed message");
        struct event *e = calloc(1, sizeof(*e));
        if (!e) {
            px__msg__free_unpacked(pm, NULL);
            return CAIRN_E_NOMEM;
        }
        e->type = EV_MSG;
        e->msg.type = pm->type;
        e->msg.from = pm->from;
        e->msg.ballot = pm->ballot;
        e->msg.commit = pm->commit;
        e->msg.match = pm->match;
        e->msg.read_seq = pm->read_seq;
        e->msg.ok = pm->ok;
        e->msg.n_entries = (uint32_t)pm->n_entries;
        size_t total = 0;
        for (size_t i = 0; i < pm->n_entries; i++)
            total += pm->entries[i]->value.len;
        if (pm->n_entries) {
            e->entries = calloc(pm->n_entries, sizeof(*e->entries));
            e->blob = malloc(total ? total : 1);
            if (!e->entries || !e->blob) {
                px__msg__free_unpacked(pm, NULL);
                event_free(e);
                return CAIRN_E_NOMEM;
            }
            size_t boff = 0;
            for (size_t i = 0; i < pm->n_entries; i++) {
                const Px__Entry *pe = pm->entries[i];
                e->entries[i].slot = pe->slot;
                e->entries[i].ballot = pe->ballot;
                e->entries[i].len = (uint32_t)pe->value.len;
                memcpy(e->blob + boff, pe->value.data, pe->value.len);
                e->entries[i].data = e->blob + boff;
                boff += pe->value.len;
            }
        }
        e->msg.entries = e->entries;
        px__msg__free_unpacked(pm, NULL);
        post_event(s, e); /* a full queue drops the message, as the network may */
    }
    return cn_http_respond(req, 204, NULL, NULL, 0);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return CAIRN_E_INVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return CAIRN_E_INVAL;
    *out = v;
    return 0;
}

/* Hands a client command (copied) to the core thread. Returns the waiter on
 * which its outcome arrives (the caller waits, then drops it with
 * waiter_put), or NULL when out of memory. */
static struct waiter *submit(struct md_server *s, uint64_t client_id, uint64_t seq, const void *cmd,
                             size_t len)
{
    struct event *e = calloc(1, sizeof(*e));
    struct waiter *w = waiter_new();
    uint8_t *data = malloc(len ? len : 1);
    if (!e || !w || !data) {
        free(e);
        free(data);
        if (w) {
            waiter_put(w);
            waiter_put(w);
        }
        return NULL;
    }
    memcpy(data, cmd, len);
    e->type = EV_SUBMIT;
    e->client_id = client_id;
    e->seq = seq;
    e->data = data;
    e->len = (uint32_t)len;
    e->w = w;
    post_event(s, e);
    return w;
}

/* POST /v1/cmd */
static int cmd_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    uint64_t client_id, seq;
    if (parse_u64(cn_http_req_header(req, CN_HDR_CLIENT), &client_id) ||
        parse_u64(cn_http_req_header(req, CN_HDR_SEQ), &seq) || client_id == 0)
        return cn_http_respond_error(req, 400, CN_HDR_CLIENT " and " CN_HDR_SEQ " are required");
    size_t len;
    const void *body = cn_http_req_body(req, &len);
    if (len == 0)
        return cn_http_respond_error(req, 400, "empty command");
    struct waiter *w = submit(s, client_id, seq, body, len);
    if (!w)
        return CAIRN_E_NOMEM;
    int rc;
    if (!waiter_wait(w, (int64_t)s->cfg.request_timeout_ms))
        rc =
            cn_http_respond_error(req, 504, "command not applied in time; retry with the same seq");
    else if (w->status != 0)
        rc = respond_status(req, s, w->status, w->leader);
    else
        rc = cn_http_respond(req, 200, "application/x-protobuf", w->result, w->result_len);
    waiter_put(w);
    return rc;
}

/* POST /v1/read */
static int read_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    size_t len;
    const void *body = cn_http_req_body(req, &len);
    struct event *e = calloc(1, sizeof(*e));
    struct waiter *w = waiter_new();
    if (!e || !w) {
        free(e);
        if (w) {
            waiter_put(w);
            waiter_put(w);
        }
        return CAIRN_E_NOMEM;
    }
    e->type = EV_READ;
    e->w = w;
    post_event(s, e);
    int rc;
    if (!waiter_wait(w, (int64_t)s->cfg.request_timeout_ms)) {
        rc = cn_http_respond_error(req, 504, "read not confirmed in time");
    } else if (w->status != 0) {
        rc = respond_status(req, s, w->status, w->leader);
    } else {
        uint8_t *out = NULL;
        size_t outlen = 0;
        int qrc = md_query(s->store, body, len, &out, &outlen);
        s->m_reads++;
        if (qrc != 0)
            rc = cn_http_respond_error(req, 500, cairn_strerror(qrc));
        else
            rc = cn_http_respond(req, 200, "application/x-protobuf", out, outlen);
        free(out);
    }
    waiter_put(w);
    return rc;
}

/* POST /paxos/snapshot: the body goes to a file, then the core installs it. */
struct snap_in {
    FILE *f;
    char path[4096];
};

static int snap_begin(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (atomic_exchange(&s->snap_receiving, 1))
        return cn_http_respond_error(req, 503, "a snapshot is already being received");
    struct snap_in *si = calloc(1, sizeof(*si));
    if (!si) {
        atomic_store(&s->snap_receiving, 0);
        return CAIRN_E_NOMEM;
    }
    snprintf(si->path, sizeof(si->path), "%s/snapshot-in.tmp", s->data_dir);
    si->f = fopen(si->path, "w+b");
    if (!si->f) {
        free(si);
        atomic_store(&s->snap_receiving, 0);
        return CAIRN_E_IO;
    }
    cn_http_req_set_data(req, si);
    return 0;
}

static int snap_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    struct snap_in *si = cn_http_req_data(req);
    return fwrite(data, 1, len, si->f) == len ? 0 : CAIRN_E_IO;
}

static int snap_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    struct snap_in *si = cn_http_req_data(req);
    uint64_t from, slot;
    if (parse_u64(cn_http_req_header(req, CN_HDR_FROM), &from) ||
        parse_u64(cn_http_req_header(req, CN_HDR_SNAPSHOT_SLOT), &slot))
        return cn_http_respond_error(req, 400,
                                     CN_HDR_FROM " and " CN_HDR_SNAPSHOT_SLOT " required");
    if (fflush(si->f) != 0)
        return CAIRN_E_IO;
    struct event *e = calloc(1, sizeof(*e));
    struct waiter *w = waiter_new();
    char *path = strdup(si->path);
    if (!e || !w || !path) {
        free(e);
        free(path);
        if (w) {
            waiter_put(w);
            waiter_put(w);
        }
        return CAIRN_E_NOMEM;
    }
    e->type = EV_SNAPSHOT;
    e->from = (uint32_t)from;
    e->seq = slot;
    e->path = path;
    e->w = w;
    post_event(s, e);
    int rc;
    if (!waiter_wait(w, SNAPSHOT_TIMEOUT_MS))
        rc = cn_http_respond_error(req, 504, "snapshot not installed in time");
    else if (w->status == CAIRN_E_EXISTS)
        rc = cn_http_respond_error(req, 409, "snapshot not needed");
    else if (w->status != 0)
        rc = cn_http_respond_error(req, 500, cairn_strerror(w->status));
    else
        rc = cn_http_respond(req, 204, NULL, NULL, 0);
    waiter_put(w);
    return rc;
}

static void snap_done(struct cn_http_req *req, int ok, void *cls)
{
    struct md_server *s = cls;
    struct snap_in *si = cn_http_req_data(req);
    if (!si)
        return;
    fclose(si->f);
    unlink(si->path);
    free(si);
    atomic_store(&s->snap_receiving, 0);
}

/* Whether chunkserver id may receive new fragments: heard from within
 * down_after, or (after a failover, before heartbeats arrive) this replica
 * became leader less than down_after ago. */
static int cs_alive(struct md_server *s, uint64_t id, uint64_t *free_out)
{
    int64_t now = cn_mono_ms();
    int alive = -1;
    pthread_mutex_lock(&s->hb_mu);
    for (size_t i = 0; i < s->n_hb; i++) {
        if (s->hb[i].id == id) {
            alive = now - s->hb[i].last_seen_ms <= (int64_t)s->cfg.down_after_ms;
            *free_out = s->hb[i].free;
        }
    }
    pthread_mutex_unlock(&s->hb_mu);
    if (alive < 0) {
        long long since = s->leader_since_ms;
        alive = since >= 0 && now - since <= (int64_t)s->cfg.down_after_ms;
    }
    return alive;
}

/* POST /v1/heartbeat: a chunkserver says it is alive (leader only). */
static int heartbeat_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0) {
        return respond_not_leader(req, s, known_leader(s));
    }
    size_t len;
    const uint8_t *body = cn_http_req_body(req, &len);
    Cl__Heartbeat *hb = cl__heartbeat__unpack(NULL, len, body);
    if (!hb || hb->id == 0) {
        if (hb)
            cl__heartbeat__free_unpacked(hb, NULL);
        return cn_http_respond_error(req, 400, "malformed heartbeat");
    }
    pthread_mutex_lock(&s->hb_mu);
    size_t i;
    for (i = 0; i < s->n_hb && s->hb[i].id != hb->id; i++)
        ;
    if (i == s->n_hb && s->n_hb < MAX_TRACKED_CS)
        s->n_hb++;
    if (i < MAX_TRACKED_CS)
        s->hb[i] = (struct hb_entry){
            .id = hb->id, .capacity = hb->capacity, .free = hb->free, .last_seen_ms = cn_mono_ms()};
    pthread_mutex_unlock(&s->hb_mu);
    /* Is it registered in the replicated state? */
    int known = 0;
    Md__QueryResult *r = NULL;
    if (md_query_chunkservers(s->store, &r) == 0) {
        for (size_t j = 0; j < r->n_chunkservers; j++)
            known |= r->chunkservers[j]->id == hb->id &&
                     strcmp(r->chunkservers[j]->address, hb->address) == 0;
        md_query_result_free(r);
    }
    Cl__HeartbeatReply rep = CL__HEARTBEAT_REPLY__INIT;
    rep.register_ = !known;
    rep.down_after_ms = s->cfg.down_after_ms;

    /* Garbage collection: the fragments of deleted or overwritten objects
     * that this chunkserver holds (at most 256 entries a heartbeat). */
    Md__ListGarbageQ lq = MD__LIST_GARBAGE_Q__INIT;
    lq.cs = hb->id;
    lq.max = 256;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_LIST_GARBAGE;
    q.list_garbage = &lq;
    Md__QueryResult *gr = NULL;
    Cl__Deletion *dels = NULL, **delp = NULL;
    uint32_t *idx = NULL;
    if (known && md_query_exec(s->store, &q, &gr) == 0 && gr->n_garbage > 0) {
        dels = calloc(gr->n_garbage, sizeof(*dels));
        delp = calloc(gr->n_garbage, sizeof(*delp));
        idx = calloc(gr->n_garbage * MD_REPAIR_MAX_FRAGS, sizeof(*idx));
        for (size_t gi = 0; dels && delp && idx && gi < gr->n_garbage; gi++) {
            const Md__ChunkGroup *g = gr->garbage[gi]->group;
            Cl__Deletion *d = &dels[rep.n_deletions];
            cl__deletion__init(d);
            d->seq = gr->garbage[gi]->seq;
            d->group_id = g ? g->id : (ProtobufCBinaryData){0, NULL};
            d->indices = idx + gi * MD_REPAIR_MAX_FRAGS;
            for (size_t f = 0; g && f < g->n_fragment_cs && f < MD_REPAIR_MAX_FRAGS; f++)
                if (g->fragment_cs[f] == hb->id)
                    d->indices[d->n_indices++] = (uint32_t)f;
            if (d->n_indices > 0)
                delp[rep.n_deletions++] = d;
        }
        rep.deletions = delp;
    }
    cl__heartbeat__free_unpacked(hb, NULL);
    size_t olen = cl__heartbeat_reply__get_packed_size(&rep);
    uint8_t *out = malloc(olen ? olen : 1);
    int rc = CAIRN_E_NOMEM;
    if (out) {
        cl__heartbeat_reply__pack(&rep, out);
        rc = cn_http_respond(req, 200, "application/x-protobuf", out, olen);
    }
    free(out);
    free(dels);
    free(delp);
    free(idx);
    if (gr)
        md_query_result_free(gr);
    return rc;
}

/* ---------------------------------------------------------------- repair --
 * The repair executor (md_repair.h) runs beside the core: it reads the store,
 * asks chunkservers to rebuild, and commits each move through Paxos like any
 * client command. */
static int repair_live(void *ctx, uint64_t id, struct md_repair_live *out)
{
    struct md_server *s = ctx;
    int rc = CAIRN_E_NOTFOUND;
    pthread_mutex_lock(&s->hb_mu);
    for (size_t i = 0; i < s->n_hb; i++) {
        if (s->hb[i].id == id) {
            out->last_seen_ms = s->hb[i].last_seen_ms;
            out->free = s->hb[i].free;
            memcpy(out->address, s->hb[i].address, sizeof(out->address));
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->hb_mu);
    return rc;
}

static int repair_is_leader(void *ctx)
{
    return ((struct md_server *)ctx)->leader_since_ms >= 0;
}

static int repair_commit(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd,
                         size_t len)
{
    struct md_server *s = ctx;
    struct waiter *w = submit(s, client_id, seq, cmd, len);
    if (!w)
        return CAIRN_E_NOMEM;
    int rc;
    if (!waiter_wait(w, (int64_t)s->cfg.request_timeout_ms))
        rc = CAIRN_E_TIMEOUT;
    else if (w->status != 0)
        rc = w->status;
    else
        rc = md_result_status(w->result, w->result_len, NULL);
    waiter_put(w);
    return rc;
}

/* POST /v1/repair/damage?group=HEX&index=N&cs=ID: a gateway's degraded read
 * or a chunkserver's scrub found a fragment bad. POST /v1/repair[?group=HEX]:
 * rescan everything now, or repair one group first. Leader only. */
static int repair_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    const char *ghex = cn_http_req_arg(req, "group");
    uint8_t gid[16];
    if (ghex && cn_hex_decode(ghex, gid, sizeof(gid)) != 0)
        return cn_http_respond_error(req, 400, "group must be 32 hex digits");
    int rc;
    if (strcmp(cn_http_req_path(req), CN_ROUTE_MD_REPAIR_DAMAGE) == 0) {
        uint64_t index, cs;
        if (!ghex || parse_u64(cn_http_req_arg(req, "index"), &index) ||
            parse_u64(cn_http_req_arg(req, "cs"), &cs) || index >= 64)
            return cn_http_respond_error(req, 400, "group, index and cs are required");
        rc = md_repair_report_damage(s->repair, gid, (uint32_t)index, cs);
    } else if (ghex) {
        rc = md_repair_repair_group(s->repair, gid);
    } else {
        rc = md_repair_rescan(s->repair);
    }
    if (rc == CAIRN_E_NOTLEADER) {
        return respond_not_leader(req, s, known_leader(s));
    }
    if (rc != 0)
        return cn_http_respond_error(req, cn_http_status_for_error(rc), cairn_strerror(rc));
    return cn_http_respond(req, 202, NULL, NULL, 0);
}

/* GET /v1/cluster (leader only): one line per chunkserver with its replicated
 * state and the leader's view of its liveness, then the repair queue. For
 * `cairn status`. */
static int cluster_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0) {
        return respond_not_leader(req, s, known_leader(s));
    }
    Md__QueryResult *r = NULL;
    int rc = md_query_chunkservers(s->store, &r);
    if (rc != 0)
        return cn_http_respond_error(req, 500, cairn_strerror(rc));
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f) {
        md_query_result_free(r);
        return CAIRN_E_NOMEM;
    }
    static const char *const states[] = {"active", "draining", "retired"};
    int64_t now = cn_mono_ms();
    for (size_t i = 0; i < r->n_chunkservers; i++) {
        const Md__ChunkserverRecord *c = r->chunkservers[i];
        int64_t age = -1;
        uint64_t free_b = c->free, cap = c->capacity;
        pthread_mutex_lock(&s->hb_mu);
        for (size_t j = 0; j < s->n_hb; j++)
            if (s->hb[j].id == c->id) {
                age = now - s->hb[j].last_seen_ms;
                free_b = s->hb[j].free;
                cap = s->hb[j].capacity;
            }
        pthread_mutex_unlock(&s->hb_mu);
        const char *live = age < 0                                ? "unknown"
                           : age <= (int64_t)s->cfg.down_after_ms ? "up"
                           : age <= (int64_t)(s->cfg.out_after_ms ? s->cfg.out_after_ms : 600000)
                               ? "down"
                               : "out";
        fprintf(
            f, "chunkserver %016" PRIx64 " %s %s %s %" PRId64 " %" PRIu64 " %" PRIu64 " %s %s %s\n",
            c->id, c->address, c->state < 3 ? states[c->state] : "?", live, age, free_b, cap,
            c->host[0] ? c->host : "-", c->rack[0] ? c->rack : "-", c->zone[0] ? c->zone : "-");
    }
    struct md_repair_stats rs;
    memset(&rs, 0, sizeof(rs));
    if (s->repair)
        md_repair_get_stats(s->repair, &rs);
    fprintf(f,
            "repair %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 "\n",
            rs.degraded_groups, rs.queued_groups, rs.in_flight, rs.tasks_done, rs.tasks_failed,
            rs.bytes_rebuilt, rs.unrecoverable);
    fclose(f);
    md_query_result_free(r);
    rc = out ? cn_http_respond(req, 200, "text/plain", out, outlen) : CAIRN_E_NOMEM;
    free(out);
    return rc;
}

/* GET /v1/place?count=N[&min=M][&exclude=ID,ID]: the leader picks N
 * chunkservers on distinct hosts for a new chunk group (DESIGN.md: no Paxos
 * write; group ids are random), or as many as there are down to M. The answer
 * is one "ID ADDRESS" line per fragment index, from index 0. */
static int place_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0)
        return respond_not_leader(req, s, known_leader(s));
    uint64_t count;
    if (parse_u64(cn_http_req_arg(req, "count"), &count) || count == 0 || count > 64)
        return cn_http_respond_error(req, 400, "count must be 1..64");
    uint64_t exclude[64];
    size_t n_exclude = 0;
    const char *ex = cn_http_req_arg(req, "exclude");
    while (ex && *ex && n_exclude < 64) {
        exclude[n_exclude++] = strtoull(ex, (char **)&ex, 10);
        if (*ex == ',')
            ex++;
        else
            break;
    }
    Md__QueryResult *r = NULL;
    int rc = md_query_chunkservers(s->store, &r);
    if (rc != 0)
        return cn_http_respond_error(req, 500, cairn_strerror(rc));
    struct md_place_node *cands = calloc(r->n_chunkservers + 1, sizeof(*cands));
    size_t n = 0;
    for (size_t i = 0; cands && i < r->n_chunkservers; i++) {
        const Md__ChunkserverRecord *c = r->chunkservers[i];
        uint64_t free_now = c->free;
        int skip = c->state != MD__CHUNKSERVER_STATE__CS_ACTIVE || !cs_alive(s, c->id, &free_now);
        for (size_t j = 0; j < n_exclude; j++)
            skip |= c->id == exclude[j];
        if (skip)
            continue;
        cands[n++] = (struct md_place_node){
            .id = c->id, .host = c->host, .rack = c->rack, .zone = c->zone, .free = free_now};
    }
    /* With fewer live hosts than asked, the most there are, down to min (the
     * caller's write quorum): the caller records the rest as missing. */
    uint64_t min = count;
    if (cn_http_req_arg(req, "min") &&
        (parse_u64(cn_http_req_arg(req, "min"), &min) || min == 0 || min > count)) {
        md_query_result_free(r);
        free(cands);
        return cn_http_respond_error(req, 400, "min must be 1..count");
    }
    uint64_t chosen[64], seed;
    cn_random_bytes(&seed, sizeof(seed));
    rc = cands ? CAIRN_E_UNAVAIL : CAIRN_E_NOMEM;
    while (cands && rc == CAIRN_E_UNAVAIL && count >= min) {
        rc = md_place(cands, n, NULL, 0, (uint32_t)count, seed, chosen);
        if (rc == CAIRN_E_UNAVAIL)
            count--;
    }
    char *out = NULL;
    size_t outlen = 0;
    if (rc == 0) {
        FILE *f = open_memstream(&out, &outlen);
        for (uint64_t i = 0; f && i < count; i++)
            for (size_t j = 0; j < r->n_chunkservers; j++)
                if (r->chunkservers[j]->id == chosen[i])
                    fprintf(f, "%" PRIu64 " %s\n", chosen[i], r->chunkservers[j]->address);
        if (f)
            fclose(f);
    }
    free(cands);
    md_query_result_free(r);
    if (rc == CAIRN_E_UNAVAIL)
        return cn_http_respond_error(req, 503, "not enough chunkservers on distinct hosts");
    if (rc != 0 || !out) {
        free(out);
        return cn_http_respond_error(req, 500, cairn_strerror(rc ? rc : CAIRN_E_NOMEM));
    }
    rc = cn_http_respond(req, 200, "text/plain", out, outlen);
    free(out);
    return rc;
}

static const char *const role_names[] = {"follower", "precandidate", "candidate", "leader"};

static int status_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    struct paxos_status st;
    pthread_mutex_lock(&s->st_mu);
    st = s->st;
    pthread_mutex_unlock(&s->st_mu);
    char buf[1024], hash_hex[65] = "-";
    const char *lurl = st.leader ? peer_url(s, st.leader) : NULL;
    /* The state hash reads a consistent store snapshot: equal hashes on two
     * replicas mean identical state (applied index included). */
    uint8_t hash[32];
    if (cn_http_req_arg(req, "hash") && md_sm_state_hash(s->store, hash) == 0)
        cn_hex_encode(hash, sizeof(hash), hash_hex);
    int n = snprintf(buf, sizeof(buf),
                     "id %u\nrole %s\nleader %u\nleader_url %s\nballot %" PRIu64
                     "\npromised %" PRIu64 "\ncommit %" PRIu64 "\napplied %" PRIu64
                     "\nlog_base %" PRIu64 "\nlog_last %" PRIu64 "\npending %u\nstate_hash %s\n",
                     st.id, st.role < 4 ? role_names[st.role] : "?", st.leader, lurl ? lurl : "-",
                     st.ballot, st.promised, st.commit, st.applied, st.base, st.last, st.pending,
                     hash_hex);
    return cn_http_respond(req, 200, "text/plain", buf, (size_t)n);
}

static void metric_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    cn_metrics_family(f, name, type, help);
    cn_metrics_u64(f, name, NULL, v);
}

static int metrics_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    struct paxos_status st;
    pthread_mutex_lock(&s->st_mu);
    st = s->st;
    pthread_mutex_unlock(&s->st_mu);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return cn_http_respond_error(req, 500, NULL);
    metric_u64(f, "cairn_meta_is_leader", "gauge", "1 on the replica that is the Paxos leader.",
               st.role == PAXOS_LEADER);
    metric_u64(f, "cairn_meta_leader", "gauge",
               "Replica id this replica believes is leader (0: none known).", st.leader);
    metric_u64(f, "cairn_meta_commit_index", "gauge", "Highest committed Paxos slot.", st.commit);
    metric_u64(f, "cairn_meta_applied_index", "gauge", "Highest slot applied to the state.",
               st.applied);
    metric_u64(f, "cairn_meta_slots_applied_total", "counter", "Paxos slots applied.",
               (uint64_t)s->m_slots);
    metric_u64(f, "cairn_meta_commands_applied_total", "counter", "Commands applied.",
               (uint64_t)s->m_cmds);
    metric_u64(f, "cairn_meta_leader_changes_total", "counter",
               "Times this replica saw a different leader.", (uint64_t)s->m_leader_changes);
    cn_hist_render(f, &s->commit_hist, "cairn_meta_commit_seconds",
                   "Leader: command proposed to committed and applied.");
    metric_u64(f, "cairn_meta_fsyncs_total", "counter", "Paxos log fsyncs (group commits).",
               (uint64_t)s->m_fsyncs);
    cn_metrics_family(f, "cairn_meta_fsync_seconds_total", "counter",
                      "Time spent in Paxos log fsyncs.");
    cn_metrics_double(f, "cairn_meta_fsync_seconds_total", NULL, (double)s->m_fsync_us / 1e6);
    metric_u64(f, "cairn_meta_messages_sent_total", "counter", "Paxos messages sent to peers.",
               (uint64_t)s->m_msgs_sent);
    metric_u64(f, "cairn_meta_messages_dropped_total", "counter",
               "Paxos messages dropped (peer queue full or unreachable).",
               (uint64_t)s->m_msgs_dropped);
    metric_u64(f, "cairn_meta_messages_received_total", "counter", "Paxos messages received.",
               (uint64_t)s->m_msgs_recv);
    metric_u64(f, "cairn_meta_reads_total", "counter", "Linearizable reads served.",
               (uint64_t)s->m_reads);
    metric_u64(f, "cairn_meta_snapshots_sent_total", "counter", "Snapshots sent to peers.",
               (uint64_t)s->m_snap_sent);
    metric_u64(f, "cairn_meta_snapshots_installed_total", "counter", "Snapshots installed.",
               (uint64_t)s->m_snap_installed);
    if (s->repair) {
        /* The repair executor's figures (meaningful on the leader). */
        struct md_repair_stats rs;
        md_repair_get_stats(s->repair, &rs);
        metric_u64(f, "cairn_repair_degraded_groups", "gauge",
                   "Chunk groups with a fragment not live.", rs.degraded_groups);
        metric_u64(f, "cairn_repair_queued_groups", "gauge",
                   "Degraded groups with a fragment to rebuild now (repair queue depth).",
                   rs.queued_groups);
        metric_u64(f, "cairn_repair_unrecoverable_groups", "gauge",
                   "Groups with fewer than k live or down fragments.", rs.unrecoverable);
        metric_u64(f, "cairn_repair_in_flight", "gauge", "Rebuilds running now.", rs.in_flight);
        metric_u64(f, "cairn_repair_tasks_done_total", "counter",
                   "Rebuilds finished and committed.", rs.tasks_done);
        metric_u64(f, "cairn_repair_tasks_failed_total", "counter", "Rebuilds that failed.",
                   rs.tasks_failed);
        metric_u64(f, "cairn_repair_rebuilt_bytes_total", "counter",
                   "Fragment bytes rebuilt (rate() of it is the rebuild rate).", rs.bytes_rebuilt);
        metric_u64(f, "cairn_repair_scan_passes_total", "counter", "Repair scan passes.",
                   rs.passes);
        metric_u64(f, "cairn_repair_no_target_total", "counter",
                   "Rebuild evaluations that found no chunkserver to place on.", rs.no_target);
    }
    int rc;
    if (fclose(f) != 0)
        rc = cn_http_respond_error(req, 500, NULL);
    else
        rc = cn_http_respond(req, 200, "text/plain; version=0.0.4", buf, len);
    free(buf);
    return rc;
}

/* ----------------------------------------------------------- start / stop -- */
struct restore_ctx {
    struct paxos_entry *entries;
    uint8_t **blobs;
    uint32_t n, cap;
};

static int load_paxos_state(struct md_server *s, struct paxos_restore *rs, struct restore_ctx *rc)
{
    memset(rs, 0, sizeof(*rs));
    void *val = NULL;
    size_t vlen = 0;
    int r = md_store_get(s->store, KEY_PROMISE, sizeof(KEY_PROMISE), &val, &vlen);
    if (r == 0) {
        Px__Promise *p = px__promise__unpack(NULL, vlen, val);
        free(val);
        if (!p)
            return CAIRN_E_CORRUPT;
        rs->promised = p->ballot;
        px__promise__free_unpacked(p, NULL);
    } else if (r != CAIRN_E_NOTFOUND) {
        return r;
    }
    struct md_iter *it;
    r = md_store_iter_new(s->store, &it);
    if (r)
        return r;
    uint8_t k[LOG_KEY_LEN];
    log_key(0, k);
    uint64_t first = 0;
    for (md_iter_seek(it, k, sizeof(k)); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *key = md_iter_key(it, &kl);
        if (kl != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
            break;
        const uint8_t *v = md_iter_value(it, &vl);
        Px__Entry *pe = px__entry__unpack(NULL, vl, v);
        if (!pe) {
            md_iter_free(it);
            return CAIRN_E_CORRUPT;
        }
        if (rc->n == rc->cap) {
            uint32_t cap = rc->cap ? 2 * rc->cap : 64;
            void *ne = realloc(rc->entries, cap * sizeof(*rc->entries));
            void *nb = ne ? realloc(rc->blobs, cap * sizeof(*rc->blobs)) : NULL;
            if (ne)
                rc->entries = ne;
            if (nb)
                rc->blobs = nb;
            if (!ne || !nb) {
                px__entry__free_unpacked(pe, NULL);
                md_iter_free(it);
                return CAIRN_E_NOMEM;
            }
            rc->cap = cap;
        }
        uint8_t *blob = malloc(pe->value.len ? pe->value.len : 1);
        if (!blob) {
            px__entry__free_unpacked(pe, NULL);
            md_iter_free(it);
            return CAIRN_E_NOMEM;
        }
        memcpy(blob, pe->value.data, pe->value.len);
        rc->blobs[rc->n] = blob;
        rc->entries[rc->n] = (struct paxos_entry){
            .slot = pe->slot, .ballot = pe->ballot, .len = (uint32_t)pe->value.len, .data = blob};
        if (rc->n == 0)
            first = pe->slot;
        rc->n++;
        px__entry__free_unpacked(pe, NULL);
    }
    r = md_iter_status(it);
    md_iter_free(it);
    rs->n_entries = rc->n;
    rs->entries = rc->entries;
    rs->applied = md_sm_applied_index(s->sm);
    s->log_base = first ? first - 1 : rs->applied;
    return r;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return CAIRN_E_IO;
    return 0;
}

static int register_routes(struct md_server *s)
{
    const struct cn_http_handler msg = {.begin = msg_begin, .end = msg_end};
    const struct cn_http_handler cmd = {.begin = buffer_begin, .end = cmd_end};
    const struct cn_http_handler rd = {.begin = buffer_begin, .end = read_end};
    const struct cn_http_handler snap = {
        .begin = snap_begin, .body = snap_body, .end = snap_end, .done = snap_done};
    const struct cn_http_handler status = {.end = status_end};
    const struct cn_http_handler place = {.end = place_end};
    const struct cn_http_handler repair = {.end = repair_end};
    const struct cn_http_handler cluster = {.end = cluster_end};
    const struct cn_http_handler heartbeat = {.begin = buffer_begin, .end = heartbeat_end};
    const struct cn_http_handler metrics = {.end = metrics_end};
    int rc = 0;
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_PAXOS_MSG, CN_HTTP_ROUTE_EXACT, &msg,
                                   s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_PAXOS_SNAPSHOT, CN_HTTP_ROUTE_EXACT,
                                   &snap, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_CMD, CN_HTTP_ROUTE_EXACT, &cmd, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_READ, CN_HTTP_ROUTE_EXACT, &rd, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "GET", CN_ROUTE_MD_STATUS, CN_HTTP_ROUTE_EXACT, &status,
                                   s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "GET", CN_ROUTE_MD_PLACE, CN_HTTP_ROUTE_EXACT, &place,
                                   s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_HEARTBEAT, CN_HTTP_ROUTE_EXACT,
                                   &heartbeat, s);
    rc = rc ? rc : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_REPAIR, 0, &repair, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "GET", CN_ROUTE_MD_CLUSTER, CN_HTTP_ROUTE_EXACT,
                                   &cluster, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "GET", CN_ROUTE_METRICS,
                                   CN_HTTP_ROUTE_EXACT | CN_HTTP_ROUTE_PUBLIC, &metrics, s);
    return rc;
}

int md_server_start(const struct md_server_config *cfg, struct md_server **out)
{
    if (!cfg || !cfg->data_dir || !cfg->auth || cfg->n_peers == 0 || cfg->n_peers > MD_MAX_PEERS)
        return CAIRN_E_INVAL;
    struct md_server *s = calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    s->cfg = *cfg;
    s->data_dir = strdup(cfg->data_dir);
    s->bind_addr = strdup(cfg->bind_addr ? cfg->bind_addr : "127.0.0.1");
    s->cfg.data_dir = s->data_dir;
    s->cfg.bind_addr = s->bind_addr;
    pthread_mutex_init(&s->qmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->qcv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->snap_mu, NULL);
    pthread_cond_init(&s->snap_cv, NULL);
    pthread_mutex_init(&s->st_mu, NULL);
    pthread_mutex_init(&s->hb_mu, NULL);
    pthread_mutex_init(&s->pq_mu, NULL);
    pthread_cond_init(&s->pq_cv, NULL);
    s->leader_since_ms = -1;
    if (s->cfg.down_after_ms == 0)
        s->cfg.down_after_ms = 30000;
    if (cn_random_bytes(&s->rng, sizeof(s->rng)) != 0 || s->rng == 0)
        s->rng = (uint64_t)cn_mono_us() | 1;

    int rc = 0;
    char path[4096];
    struct restore_ctx rctx = {0};
    struct paxos_restore rs;
    if (!s->data_dir || !s->bind_addr) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    if ((rc = make_dir(s->data_dir)) != 0) {
        CN_ERROR(LOG, "cannot create data directory %s: %s", s->data_dir, strerror(errno));
        goto err;
    }
    snprintf(path, sizeof(path), "%s/db", s->data_dir);
    struct md_store_options so;
    md_store_options_default(&so);
    so.sync = 0; /* syncs are explicit: one per persist round, and before trims */
    if ((rc = md_store_open_leveldb(path, &so, &s->store)) != 0) {
        CN_ERROR(LOG,
                 "refusing to start: the store at %s cannot be opened (%s); this replica "
                 "will not vote until it is repaired or replaced",
                 path, cairn_strerror(rc));
        goto err;
    }
    struct md_sm_options smo;
    md_sm_options_default(&smo);
    if ((rc = md_sm_open(s->store, &smo, &s->sm)) != 0) {
        CN_ERROR(LOG,
                 "refusing to start: the state machine in %s is damaged or half-loaded "
                 "(%s); this replica will not vote",
                 path, cairn_strerror(rc));
        goto err;
    }
    if ((rc = load_paxos_state(s, &rs, &rctx)) != 0) {
        CN_ERROR(LOG,
                 "refusing to start: the Paxos log in %s is damaged (%s); this replica "
                 "will not vote",
                 path, cairn_strerror(rc));
        goto err;
    }
    s->last_trim = rs.applied;

    struct paxos_config pc;
    paxos_config_init(&pc, cfg->id, cfg->n_peers, cfg->peer_ids);
    if (cfg->heartbeat_ms)
        pc.heartbeat_ms = cfg->heartbeat_ms;
    if (cfg->election_ms)
        pc.election_ms = cfg->election_ms;
    if (cfg->window)
        pc.window = cfg->window;
    s->io = (struct paxos_io){.data = s,
                              .send = io_send,
                              .persist = io_persist,
                              .apply = io_apply,
                              .reject = io_reject,
                              .read_done = io_read_done,
                              .send_snapshot = io_send_snapshot,
                              .random = io_random};
    rc = paxos_new(&pc, &s->io, &rs, (uint64_t)cn_mono_ms(), &s->px);
    for (uint32_t i = 0; i < rctx.n; i++)
        free(rctx.blobs[i]);
    free(rctx.blobs);
    free(rctx.entries);
    if (rc != 0) {
        CN_ERROR(LOG, "paxos: %s", cairn_strerror(rc));
        goto err;
    }
    CN_INFO(LOG,
            "replica %u recovered: promised ballot %" PRIu64 ", applied slot %" PRIu64
            ", %u log entries",
            cfg->id, rs.promised, rs.applied, rs.n_entries);

    for (uint32_t i = 0; i < cfg->n_peers; i++) {
        if (cfg->peer_ids[i] == cfg->id)
            continue;
        struct peer *p = &s->peers[s->n_peers++];
        p->srv = s;
        p->id = cfg->peer_ids[i];
        p->url = cfg->peer_urls[i];
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
    }

    struct cn_http_server_opts ho = {.bind_addr = s->bind_addr,
                                     .port = cfg->port,
                                     .auth = cfg->auth,
                                     .log_module = "meta-http",
                                     /* Small requests: libmicrohttpd zeroes the whole
                                      * connection pool between requests, so the
                                      * 256 KiB that suits streaming costs ~7% of
                                      * the leader's CPU here. Bodies are buffered
                                      * separately and are not bounded by it. */
                                     .conn_memory_limit = 64 << 10,
                                     .max_buffered_body = MAX_MSG_BODY};
    if ((rc = cn_http_server_new(&ho, &s->http)) != 0 || (rc = register_routes(s)) != 0)
        goto err;

    /* Threads: core first (it owns the protocol), then senders, then the
     * server that feeds the core. */
    if (pthread_create(&s->persist_thread, NULL, persist_main, s) != 0) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    s->persist_started = 1;
    if (pthread_create(&s->core_thread, NULL, core_main, s) != 0) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    s->core_started = 1;
    for (uint32_t i = 0; i < s->n_peers; i++) {
        if (pthread_create(&s->peers[i].thread, NULL, peer_main, &s->peers[i]) != 0) {
            rc = CAIRN_E_NOMEM;
            goto err;
        }
        s->peers[i].started = 1;
    }
    if (pthread_create(&s->snap_thread, NULL, snap_main, s) != 0) {
        rc = CAIRN_E_NOMEM;
        goto err;
    }
    s->snap_started = 1;
    if ((rc = cn_http_server_start(s->http)) != 0) {
        CN_ERROR(LOG, "cannot listen on %s:%u: %s", s->bind_addr, cfg->port, cairn_strerror(rc));
        goto err;
    }
    struct md_repair_opts ro;
    md_repair_opts_default(&ro);
    ro.plan.down_after_ms = (int64_t)s->cfg.down_after_ms;
    if (cfg->out_after_ms)
        ro.plan.out_after_ms = (int64_t)cfg->out_after_ms;
    ro.plan.live = repair_live;
    ro.plan.live_ctx = s;
    ro.store = s->store;
    ro.auth = cfg->auth;
    ro.is_leader = repair_is_leader;
    ro.commit = repair_commit;
    ro.ctx = s;
    if (cfg->repair_concurrency)
        ro.max_inflight = cfg->repair_concurrency;
    ro.bandwidth_mb_s = cfg->repair_bandwidth_mb_s;
    if (cfg->repair_scan_ms)
        ro.plan.scan_interval_ms = (int64_t)cfg->repair_scan_ms;
    if ((rc = md_repair_start(&ro, &s->repair)) != 0) {
        CN_ERROR(LOG, "cannot start the repair executor: %s", cairn_strerror(rc));
        goto err;
    }
    CN_INFO(LOG, "replica %u serving on %s:%u (%u replicas)", cfg->id, s->bind_addr,
            cn_http_server_port(s->http), cfg->n_peers);
    *out = s;
    return 0;

err:
    md_server_stop(s);
    return rc ? rc : CAIRN_E_IO;
}

uint16_t md_server_port(const struct md_server *s)
{
    return cn_http_server_port(s->http);
}

void md_server_stop(struct md_server *s)
{
    if (!s)
        return;
    /* Repair first, while the core can still answer its commits; then the
     * HTTP server, so no handler waits on a stopped core. */
    md_repair_stop(s->repair);
    if (s->http)
        cn_http_server_stop(s->http);
    pthread_mutex_lock(&s->qmu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    if (s->core_started)
        pthread_join(s->core_thread, NULL);
    pthread_mutex_lock(&s->pq_mu);
    s->persist_stop = 1;
    pthread_cond_signal(&s->pq_cv);
    pthread_mutex_unlock(&s->pq_mu);
    if (s->persist_started)
        pthread_join(s->persist_thread, NULL);
    /* Events the persist thread posted after the core stopped. */
    while (s->qhead) {
        struct event *e = s->qhead;
        s->qhead = e->next;
        if (e->w)
            waiter_complete(e->w, CAIRN_E_SHUTDOWN, 0, NULL, 0);
        event_free(e);
    }
    for (uint32_t i = 0; i < s->n_peers; i++) {
        struct peer *p = &s->peers[i];
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (p->started)
            pthread_join(p->thread, NULL);
        while (p->head) {
            struct outmsg *m = p->head;
            p->head = m->next;
            free(m);
        }
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    pthread_mutex_lock(&s->snap_mu);
    pthread_cond_broadcast(&s->snap_cv);
    pthread_mutex_unlock(&s->snap_mu);
    if (s->snap_started)
        pthread_join(s->snap_thread, NULL);
    cn_http_server_free(s->http);
    paxos_free(s->px);
    for (size_t i = 0; i < s->n_recs; i++) {
        free(s->recs[i].entries);
        free(s->recs[i].blob);
    }
    free(s->recs);
    free(s->precs);
    pthread_mutex_destroy(&s->pq_mu);
    pthread_cond_destroy(&s->pq_cv);
    if (s->store)
        md_store_sync(s->store);
    md_sm_free(s->sm);
    md_store_free(s->store);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->snap_mu);
    pthread_cond_destroy(&s->snap_cv);
    pthread_mutex_destroy(&s->st_mu);
    pthread_mutex_destroy(&s->hb_mu);
    free(s->data_dir);
    free(s->bind_addr);
    free(s);
}
