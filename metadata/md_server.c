/* cairn-meta's threads around the single-threaded replica (md_replica.h):
 * the core thread and its event queue, the persist thread (group commit),
 * one sender per peer, the snapshot sender, and start/stop. The HTTP API is
 * in md_handlers.c. */
#include "md_server_int.h"

#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_cmd.h"
#include "md_repair.h"
#include "md_snap.h"
#include "md_store.h"
#include "paxos.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG              MD_LOG
#define MAX_EVENTS       65536       /* core event queue bound */
#define PEER_QUEUE_BYTES (32u << 20) /* per-peer send queue bound */
#define SEND_BATCH_BYTES (4u << 20)  /* most bytes in one POST /paxos/msg */

static void fatal_store(int rc, const char *what)
{
    CN_ERROR(LOG,
             "store %s failed: %s; stopping this replica so it cannot vote on state it did "
             "not persist",
             what, cairn_strerror(rc));
    _exit(70);
}

const char *md_server_peer_url(const struct md_server *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->cfg.n_peers; i++)
        if (s->cfg.peer_ids[i] == id)
            return s->cfg.peer_urls[i];
    return NULL;
}

uint32_t md_server_known_leader(struct md_server *s)
{
    pthread_mutex_lock(&s->st_mu);
    uint32_t leader = s->st.leader;
    pthread_mutex_unlock(&s->st_mu);
    return leader;
}

int md_server_cs_alive(struct md_server *s, uint64_t id, uint64_t *free_out)
{
    int64_t now = cn_mono_ms();
    struct md_live_entry e;
    if (md_live_get(s->live, id, &e) == 0) {
        *free_out = e.free;
        return now - e.last_seen_ms <= (int64_t)s->cfg.down_after_ms;
    }
    long long since = s->leader_since_ms;
    return since >= 0 && now - since <= (int64_t)s->cfg.down_after_ms;
}

void md_event_free(struct md_event *e)
{
    free(e->entries);
    free(e->blob);
    free(e->data);
    free(e->path);
    free(e);
}

/* ------------------------------------------------------------ replica io -- */

static void rio_send(void *ctx, uint32_t to, const struct paxos_msg *m)
{
    struct md_server *s = ctx;
    struct md_peer *p = NULL;
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
    struct md_outmsg *om = malloc(sizeof(*om) + 4 + len);
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

static void rio_cmd_done(void *ctx, void *token, int status, uint32_t leader, uint8_t *result,
                         size_t len)
{
    struct md_server *s = ctx;
    struct md_waiter *w = token;
    if (status == 0)
        cn_hist_record(&s->commit_hist, (uint64_t)(cn_mono_us() - w->submit_us));
    md_waiter_complete(w, status, leader, result, len);
}

static void rio_read_done(void *ctx, void *token, int status, uint32_t leader)
{
    md_waiter_complete(token, status, leader, NULL, 0);
}

static void rio_send_snapshot(void *ctx, uint32_t to)
{
    struct md_server *s = ctx;
    for (uint32_t i = 0; i < s->n_peers; i++) {
        if (s->peers[i].id == to) {
            atomic_store(&s->peers[i].snapshot_wanted, 1);
            pthread_mutex_lock(&s->snap_mu);
            pthread_cond_signal(&s->snap_cv);
            pthread_mutex_unlock(&s->snap_mu);
        }
    }
}

static void rio_fatal(void *ctx, int err, const char *what)
{
    fatal_store(err, what);
}

static uint64_t rio_random(void *ctx)
{
    struct md_server *s = ctx;
    /* xorshift64*, seeded from the OS at start. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1Dull;
}

/* ---------------------------------------------------------- event queue -- */

/* Appends e and wakes the core thread. With qmu held. */
static void enqueue(struct md_server *s, struct md_event *e)
{
    if (s->qtail)
        s->qtail->next = e;
    else
        s->qhead = e;
    s->qtail = e;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
}

int md_server_post(struct md_server *s, struct md_event *e)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qlen >= MAX_EVENTS || s->stopping) {
        int rc = s->stopping ? CAIRN_E_SHUTDOWN : CAIRN_E_BUSY;
        pthread_mutex_unlock(&s->qmu);
        if (e->w)
            md_waiter_complete(e->w, rc, 0, NULL, 0);
        md_event_free(e);
        return rc;
    }
    enqueue(s, e);
    pthread_mutex_unlock(&s->qmu);
    return 0;
}

/* Queues an internal event that must not be dropped (queue bound ignored). */
static void post_internal(struct md_server *s, struct md_event *e)
{
    pthread_mutex_lock(&s->qmu);
    enqueue(s, e);
    pthread_mutex_unlock(&s->qmu);
}

struct md_waiter *md_server_submit(struct md_server *s, uint64_t client_id, uint64_t seq,
                                   const void *cmd, size_t len)
{
    struct md_event *e = calloc(1, sizeof(*e));
    struct md_waiter *w = md_waiter_new();
    uint8_t *data = malloc(len ? len : 1);
    if (!e || !w || !data) {
        free(e);
        free(data);
        if (w) {
            md_waiter_put(w);
            md_waiter_put(w);
        }
        return NULL;
    }
    memcpy(data, cmd, len);
    e->type = MD_EV_SUBMIT;
    e->client_id = client_id;
    e->seq = seq;
    e->data = data;
    e->len = (uint32_t)len;
    e->w = w;
    md_server_post(s, e);
    return w;
}

/* -------------------------------------------------------- persist thread -- */

static void *persist_main(void *arg)
{
    struct md_server *s = arg;
    struct md_plog *pl = md_replica_plog(s->rep);
    pthread_mutex_lock(&s->pq_mu);
    for (;;) {
        while (s->pq.n == 0 && !s->persist_stop)
            pthread_cond_wait(&s->pq_cv, &s->pq_mu);
        if (s->pq.n == 0)
            break;
        pthread_mutex_unlock(&s->pq_mu);
        uint64_t seq = 0;
        int64_t sync_us = 0;
        int rc = md_plog_write(pl, &s->pq, &seq, &sync_us);
        if (rc)
            fatal_store(rc, "Paxos log write");
        s->m_fsyncs++;
        s->m_fsync_us += (uint64_t)sync_us;
        struct md_event *e = calloc(1, sizeof(*e));
        if (!e)
            fatal_store(CAIRN_E_NOMEM, "event");
        e->type = MD_EV_PERSISTED;
        e->seq = seq;
        pthread_mutex_lock(&s->pq_mu);
        post_internal(s, e);
    }
    pthread_mutex_unlock(&s->pq_mu);
    return NULL;
}

/* Core thread, end of a round: if the persist thread is idle, hands it every
 * record of the round. Otherwise the records wait and join the next batch:
 * while one fsync runs, the next one's records pile up. */
static void hand_off_persist(struct md_server *s)
{
    pthread_mutex_lock(&s->pq_mu);
    if (s->pq.n == 0 && md_replica_take_persist(s->rep, &s->pq) > 0)
        pthread_cond_signal(&s->pq_cv);
    pthread_mutex_unlock(&s->pq_mu);
}

/* ----------------------------------------------------------- core thread -- */

static long snap_read_file(void *ctx, void *buf, size_t max)
{
    size_t n = fread(buf, 1, max, (FILE *)ctx);
    if (n == 0 && ferror((FILE *)ctx))
        return CAIRN_E_IO;
    return (long)n;
}

static void install_snapshot(struct md_server *s, struct md_event *e, uint64_t now)
{
    if (!md_replica_snapshot_wanted(s->rep, e->seq)) {
        md_waiter_complete(e->w, CAIRN_E_EXISTS, 0, NULL, 0);
        return;
    }
    FILE *f = fopen(e->path, "rb");
    int rc = f ? md_replica_install_snapshot(s->rep, e->from, snap_read_file, f, e->seq, now)
               : CAIRN_E_IO;
    if (f)
        fclose(f);
    md_waiter_complete(e->w, rc, 0, NULL, 0);
}

static void handle_event(struct md_server *s, struct md_event *e)
{
    uint64_t now = (uint64_t)cn_mono_ms();
    switch (e->type) {
    case MD_EV_PERSISTED:
        md_replica_persisted(s->rep, e->seq, now);
        break;
    case MD_EV_MSG:
        s->m_msgs_recv++;
        md_replica_recv(s->rep, &e->msg, now);
        break;
    case MD_EV_SUBMIT:
        e->w->submit_us = cn_mono_us();
        md_replica_submit(s->rep, e->client_id, e->seq, e->data, e->len, e->w, now);
        break;
    case MD_EV_READ:
        md_replica_read(s->rep, e->w, now);
        break;
    case MD_EV_SNAPSHOT:
        install_snapshot(s, e, now);
        break;
    }
}

static void publish_status(struct md_server *s)
{
    struct paxos_status st;
    md_replica_end_round(s->rep, &st);
    if (st.leader != s->last_leader && st.leader != 0) {
        s->m_leader_changes++;
        CN_INFO(LOG, "leader is now replica %u (ballot %" PRIu64 ")", st.leader, st.ballot);
    }
    if (st.leader != 0)
        s->last_leader = st.leader;
    if (st.role == PAXOS_LEADER && s->last_role != PAXOS_LEADER) {
        /* Heartbeats from an earlier term must not read as silence now. */
        md_live_reset(s->live);
        s->leader_since_ms = cn_mono_ms();
    } else if (st.role != PAXOS_LEADER) {
        s->leader_since_ms = -1;
    }
    s->last_role = st.role;
    pthread_mutex_lock(&s->st_mu);
    s->st = st;
    md_replica_counters(s->rep, &s->counters);
    pthread_mutex_unlock(&s->st_mu);
}

/* Takes the queued events, waiting until one arrives or next_tick. Returns
 * the list (NULL when none), *stopping set when the daemon stops. */
static struct md_event *take_events(struct md_server *s, uint64_t next_tick, int *stopping)
{
    pthread_mutex_lock(&s->qmu);
    while (!s->qhead && !s->stopping) {
        uint64_t now = (uint64_t)cn_mono_ms();
        if (now >= next_tick)
            break;
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, (int64_t)(next_tick - now));
        pthread_cond_timedwait(&s->qcv, &s->qmu, &ts);
    }
    struct md_event *list = s->qhead;
    s->qhead = s->qtail = NULL;
    s->qlen = 0;
    *stopping = s->stopping;
    pthread_mutex_unlock(&s->qmu);
    return list;
}

static void fail_events(struct md_event *list)
{
    while (list) {
        struct md_event *next = list->next;
        if (list->w)
            md_waiter_complete(list->w, CAIRN_E_SHUTDOWN, 0, NULL, 0);
        md_event_free(list);
        list = next;
    }
}

static void *core_main(void *arg)
{
    struct md_server *s = arg;
    uint64_t tick_every = s->cfg.heartbeat_ms / 2 ? s->cfg.heartbeat_ms / 2 : 1;
    uint64_t next_tick = 0;
    for (;;) {
        int stopping = 0;
        struct md_event *list = take_events(s, next_tick, &stopping);
        if (stopping) {
            fail_events(list);
            break;
        }
        while (list) {
            struct md_event *next = list->next;
            handle_event(s, list);
            md_event_free(list);
            list = next;
        }
        uint64_t now = (uint64_t)cn_mono_ms();
        if (now >= next_tick) {
            md_replica_tick(s->rep, now);
            next_tick = now + tick_every;
        }
        publish_status(s);
        hand_off_persist(s);
    }
    return NULL;
}

/* ----------------------------------------------------------- peer senders -- */

/* Takes queued messages up to the batch size (at least one) into one body.
 * Returns the body length, 0 when stopping; *count gets the message count and
 * *buf the body (body, or *big when the batch did not fit body: free it). */
static size_t take_batch(struct md_peer *p, uint8_t *body, uint8_t **buf, uint8_t **big,
                         size_t *count)
{
    struct md_server *s = p->srv;
    pthread_mutex_lock(&p->mu);
    while (!p->head && !s->stopping)
        pthread_cond_wait(&p->cv, &p->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    struct md_outmsg *list = p->head, *last = p->head;
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

    *big = NULL;
    *buf = body;
    if (!body || total > SEND_BATCH_BYTES + (1u << 20))
        *buf = *big = malloc(total);
    size_t off = 0;
    *count = 0;
    for (struct md_outmsg *m = list; m;) {
        struct md_outmsg *next = m->next;
        if (*buf)
            memcpy(*buf + off, m->buf, m->len);
        off += m->len;
        (*count)++;
        free(m);
        m = next;
    }
    return off;
}

static void *peer_main(void *arg)
{
    struct md_peer *p = arg;
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
        uint8_t *buf, *big;
        size_t count;
        size_t len = take_batch(p, body, &buf, &big, &count);
        if (len == 0)
            break;
        if (!buf) {
            s->m_msgs_dropped += count;
            continue;
        }
        struct cn_http_request req = {.method = "POST",
                                      .base_url = p->url,
                                      .target = CN_ROUTE_PAXOS_MSG,
                                      .body = buf,
                                      .body_len = len};
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

static ssize_t snap_body_reader(void *cls, char *buf, size_t max)
{
    return snap_read_file(cls, buf, max);
}

static void send_snapshot_to(struct md_server *s, struct md_peer *p, struct cn_http_client *c)
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
                                      .body_reader = snap_body_reader,
                                      .body_cls = f,
                                      .body_size = size,
                                      .timeout_ms = MD_SNAPSHOT_TIMEOUT};
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
                                    .timeout_ms = MD_SNAPSHOT_TIMEOUT,
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

/* ----------------------------------------------------------------- repair --
 * The repair executor (md_repair.h) runs beside the core: it reads the store,
 * asks chunkservers to rebuild, and commits each move through Paxos like any
 * client command. */
static int repair_live(void *ctx, uint64_t id, struct md_repair_live *out)
{
    struct md_server *s = ctx;
    struct md_live_entry e;
    if (md_live_get(s->live, id, &e) != 0)
        return CAIRN_E_NOTFOUND;
    out->last_seen_ms = e.last_seen_ms;
    out->free = e.free;
    out->address[0] = '\0'; /* the record's */
    return 0;
}

static int repair_is_leader(void *ctx)
{
    return ((struct md_server *)ctx)->leader_since_ms >= 0;
}

static int repair_commit(void *ctx, uint64_t client_id, uint64_t seq, const uint8_t *cmd,
                         size_t len)
{
    struct md_server *s = ctx;
    struct md_waiter *w = md_server_submit(s, client_id, seq, cmd, len);
    if (!w)
        return CAIRN_E_NOMEM;
    int rc;
    if (!md_waiter_wait(w, (int64_t)s->cfg.request_timeout_ms))
        rc = CAIRN_E_TIMEOUT;
    else if (w->status != 0)
        rc = w->status;
    else
        rc = md_result_status(w->result, w->result_len, NULL);
    md_waiter_put(w);
    return rc;
}

static int start_repair(struct md_server *s)
{
    struct md_repair_opts ro;
    md_repair_opts_default(&ro);
    ro.plan.down_after_ms = (int64_t)s->cfg.down_after_ms;
    if (s->cfg.out_after_ms)
        ro.plan.out_after_ms = (int64_t)s->cfg.out_after_ms;
    ro.plan.live = repair_live;
    ro.plan.live_ctx = s;
    ro.store = s->store;
    ro.auth = s->cfg.auth;
    ro.is_leader = repair_is_leader;
    ro.commit = repair_commit;
    ro.ctx = s;
    if (s->cfg.repair_concurrency)
        ro.max_inflight = s->cfg.repair_concurrency;
    ro.bandwidth_mb_s = s->cfg.repair_bandwidth_mb_s;
    if (s->cfg.repair_scan_ms)
        ro.plan.scan_interval_ms = (int64_t)s->cfg.repair_scan_ms;
    int rc = md_repair_start(&ro, &s->repair);
    if (rc != 0)
        CN_ERROR(LOG, "cannot start the repair executor: %s", cairn_strerror(rc));
    return rc;
}

/* ----------------------------------------------------------- start / stop -- */

static int open_store(struct md_server *s)
{
    if (mkdir(s->data_dir, 0755) != 0 && errno != EEXIST) {
        CN_ERROR(LOG, "cannot create data directory %s: %s", s->data_dir, strerror(errno));
        return CAIRN_E_IO;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/db", s->data_dir);
    struct md_store_options so;
    md_store_options_default(&so);
    so.sync = 0; /* syncs are explicit: one per persist round, and before trims */
    int rc = md_store_open_leveldb(path, &so, &s->store);
    if (rc != 0) {
        CN_ERROR(LOG,
                 "refusing to start: the store at %s cannot be opened (%s); this replica "
                 "will not vote until it is repaired or replaced",
                 path, cairn_strerror(rc));
        return rc;
    }
    struct md_replica_config rc_cfg = {.id = s->cfg.id,
                                       .n_peers = s->cfg.n_peers,
                                       .heartbeat_ms = s->cfg.heartbeat_ms,
                                       .election_ms = s->cfg.election_ms,
                                       .window = s->cfg.window,
                                       .trim_every = s->cfg.trim_every,
                                       .trim_keep = s->cfg.trim_keep};
    memcpy(rc_cfg.peer_ids, s->cfg.peer_ids, s->cfg.n_peers * sizeof(uint32_t));
    struct md_replica_io io = {.ctx = s,
                               .send = rio_send,
                               .cmd_done = rio_cmd_done,
                               .read_done = rio_read_done,
                               .send_snapshot = rio_send_snapshot,
                               .fatal = rio_fatal,
                               .random = rio_random};
    const char *what = "";
    rc = md_replica_open(&rc_cfg, s->store, &io, (uint64_t)cn_mono_ms(), &s->rep, &what);
    if (rc != 0)
        CN_ERROR(LOG, "refusing to start: %s in %s (%s); this replica will not vote", what, path,
                 cairn_strerror(rc));
    return rc;
}

static int start_threads(struct md_server *s)
{
    /* Core first (it owns the protocol), then senders, then the server that
     * feeds the core. */
    if (pthread_create(&s->persist_thread, NULL, persist_main, s) != 0)
        return CAIRN_E_NOMEM;
    s->persist_started = 1;
    if (pthread_create(&s->core_thread, NULL, core_main, s) != 0)
        return CAIRN_E_NOMEM;
    s->core_started = 1;
    for (uint32_t i = 0; i < s->n_peers; i++) {
        if (pthread_create(&s->peers[i].thread, NULL, peer_main, &s->peers[i]) != 0)
            return CAIRN_E_NOMEM;
        s->peers[i].started = 1;
    }
    if (pthread_create(&s->snap_thread, NULL, snap_main, s) != 0)
        return CAIRN_E_NOMEM;
    s->snap_started = 1;
    return 0;
}

static void init_sync(struct md_server *s)
{
    pthread_mutex_init(&s->qmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->qcv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->snap_mu, NULL);
    pthread_cond_init(&s->snap_cv, NULL);
    pthread_mutex_init(&s->st_mu, NULL);
    pthread_mutex_init(&s->pq_mu, NULL);
    pthread_cond_init(&s->pq_cv, NULL);
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
    init_sync(s);
    s->leader_since_ms = -1;
    if (s->cfg.down_after_ms == 0)
        s->cfg.down_after_ms = 30000;
    if (s->cfg.suspect_after_ms == 0)
        s->cfg.suspect_after_ms = 3000;
    if (s->cfg.suspect_after_ms > s->cfg.down_after_ms)
        s->cfg.suspect_after_ms = s->cfg.down_after_ms;
    if (cn_random_bytes(&s->rng, sizeof(s->rng)) != 0 || s->rng == 0)
        s->rng = (uint64_t)cn_mono_us() | 1;

    int rc = CAIRN_E_NOMEM;
    if (!s->data_dir || !s->bind_addr || md_live_new(MD_MAX_TRACKED_CS, &s->live) != 0)
        goto err;
    if ((rc = open_store(s)) != 0)
        goto err;
    for (uint32_t i = 0; i < cfg->n_peers; i++) {
        if (cfg->peer_ids[i] == cfg->id)
            continue;
        struct md_peer *p = &s->peers[s->n_peers++];
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
                                     .max_buffered_body = MD_MAX_MSG_BODY};
    if ((rc = cn_http_server_new(&ho, &s->http)) != 0 || (rc = md_handlers_register(s)) != 0 ||
        (rc = start_threads(s)) != 0)
        goto err;
    if ((rc = cn_http_server_start(s->http)) != 0) {
        CN_ERROR(LOG, "cannot listen on %s:%u: %s", s->bind_addr, cfg->port, cairn_strerror(rc));
        goto err;
    }
    if ((rc = start_repair(s)) != 0)
        goto err;
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

static void stop_peers(struct md_server *s)
{
    for (uint32_t i = 0; i < s->n_peers; i++) {
        struct md_peer *p = &s->peers[i];
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (p->started)
            pthread_join(p->thread, NULL);
        while (p->head) {
            struct md_outmsg *m = p->head;
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
    fail_events(s->qhead);
    s->qhead = s->qtail = NULL;
    stop_peers(s);
    cn_http_server_free(s->http);
    md_replica_free(s->rep);
    md_plog_batch_clear(&s->pq);
    free(s->pq.recs);
    if (s->store)
        md_store_sync(s->store);
    md_store_free(s->store);
    md_live_free(s->live);
    pthread_mutex_destroy(&s->pq_mu);
    pthread_cond_destroy(&s->pq_cv);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->snap_mu);
    pthread_cond_destroy(&s->snap_cv);
    pthread_mutex_destroy(&s->st_mu);
    free(s->data_dir);
    free(s->bind_addr);
    free(s);
}
