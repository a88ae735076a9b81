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
#include "md_client.h"
#include "md_cmd.h"
#include "md_repair.h"
#include "md_lifecycle.h"
#include "md_compact.h"
#include "md_sealer.h"
#include "md_snap.h"
#include "md_sm.h"
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

/* The Paxos core's clock (every now_ms given to md_replica): monotonic, and
 * counting suspended time, so a leader lease cannot outlive a suspend. */
static uint64_t core_now(void)
{
    return (uint64_t)cn_boot_ms();
}

uint64_t md_server_now(void)
{
    return core_now();
}

static void fatal_store(int rc, const char *what)
{
    CN_ERROR(LOG,
             "store %s failed: %s; stopping this replica so it cannot vote on state it did "
             "not persist",
             what, cairn_strerror(rc));
    _exit(70);
}

/* The URL replica id's record in the replicated state names. */
static int record_url(struct md_server *s, uint32_t id, char *out)
{
    uint8_t key[6] = {'S',        'R', (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8),
                      (uint8_t)id};
    void *v = NULL;
    size_t vl = 0;
    if (!s->store || md_store_get(s->store, key, sizeof(key), &v, &vl) != 0)
        return 0;
    Md__ReplicaRecord *r = md__replica_record__unpack(NULL, vl, v);
    free(v);
    int ok = r && r->url[0] && strlen(r->url) < MD_URL_MAX;
    if (ok)
        snprintf(out, MD_URL_MAX, "%s", r->url);
    if (r)
        md__replica_record__free_unpacked(r, NULL);
    return ok;
}

int md_server_peer_url(struct md_server *s, uint32_t id, char *out)
{
    out[0] = '\0';
    if (id == s->cfg.id) {
        snprintf(out, MD_URL_MAX, "%s", s->self_url);
        return 1;
    }
    if (record_url(s, id, out))
        return 1;
    pthread_mutex_lock(&s->peers_mu);
    for (uint32_t i = 0; i < s->n_seeds && !out[0]; i++)
        if (s->seeds[i].id == id)
            snprintf(out, MD_URL_MAX, "%s", s->seeds[i].url);
    pthread_mutex_unlock(&s->peers_mu);
    return out[0] != '\0';
}

static void add_seed(struct md_server *s, uint32_t id, const char *url)
{
    pthread_mutex_lock(&s->peers_mu);
    uint32_t i;
    for (i = 0; i < s->n_seeds && s->seeds[i].id != id; i++)
        ;
    if (i < MD_MAX_SEEDS) {
        s->seeds[i].id = id;
        snprintf(s->seeds[i].url, MD_URL_MAX, "%s", url);
        if (i == s->n_seeds)
            s->n_seeds++;
    }
    pthread_mutex_unlock(&s->peers_mu);
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

static void *peer_main(void *arg);

/* Core thread: the sender to replica id, started on first use. A slot of a
 * replica that left the group is reused (its thread ended first). NULL when
 * id's URL is unknown or no slot is free. */
static struct md_peer *peer_for(struct md_server *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->n_peers; i++)
        if (s->peers[i].id == id && !s->peers[i].retire)
            return &s->peers[i];
    char url[MD_URL_MAX];
    if (!md_server_peer_url(s, id, url))
        return NULL;
    struct paxos_membership latest;
    md_replica_membership(s->rep, 1, &latest);
    struct md_peer *p = NULL;
    for (uint32_t i = 0; i < MD_MAX_PEERS && !p; i++) {
        struct md_peer *c = &s->peers[i];
        if (i >= s->n_peers || c->id == 0 || c->retire || !paxos_membership_has(&latest, c->id))
            p = c;
    }
    if (!p)
        return NULL;
    if (p->started) { /* reuse: end the old sender first */
        pthread_mutex_lock(&p->mu);
        p->retire = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        p->started = 0;
        while (p->head) {
            struct md_outmsg *om = p->head;
            p->head = om->next;
            free(om);
        }
        p->tail = NULL;
        p->bytes = 0;
    } else if ((size_t)(p - s->peers) >= s->n_peers) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        s->n_peers = (uint32_t)(p - s->peers) + 1;
    }
    pthread_mutex_lock(&s->peers_mu);
    p->srv = s;
    p->id = id;
    p->retire = 0;
    snprintf(p->url, sizeof(p->url), "%s", url);
    pthread_mutex_unlock(&s->peers_mu);
    atomic_store(&p->snapshot_wanted, 0);
    if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
        p->id = 0;
        return NULL;
    }
    p->started = 1;
    CN_INFO(LOG, "sending to replica %u at %s", id, url);
    return p;
}

static void rio_send(void *ctx, uint32_t to, const struct paxos_msg *m)
{
    struct md_server *s = ctx;
    struct md_peer *p = peer_for(s, to);
    if (!p) {
        s->m_msgs_dropped++;
        return;
    }
    Px__Msg pm = PX__MSG__INIT;
    pm.type = m->type;
    pm.from = m->from;
    pm.to = to;
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
    struct md_peer *p = peer_for(s, to);
    if (p) {
        atomic_store(&p->snapshot_wanted, 1);
        pthread_mutex_lock(&s->snap_mu);
        pthread_cond_signal(&s->snap_cv);
        pthread_mutex_unlock(&s->snap_mu);
    }
}

static void rio_membership_changed(void *ctx, const struct paxos_membership *m)
{
    struct md_server *s = ctx;
    /* Quorums change with the membership: lease reads stop until the round's
     * end publishes the core's decision under it. */
    md_readgate_revoke(&s->rgate);
    /* Ids are never reused: out of the membership after being in it is
     * removed for good (a joining replica replays memberships before its own). */
    if (paxos_membership_has(m, s->cfg.id)) {
        s->was_member = 1;
    } else if (s->was_member && !atomic_exchange(&s->removed, 1)) {
        CN_WARN(LOG, "replica %u has been removed from the group: it no longer votes or serves",
                s->cfg.id);
    }
}

/* The core is about to step down or hand leadership over (inside a core
 * call, before it acts): HTTP threads stop answering lease reads first. */
static void rio_lease_lost(void *ctx)
{
    struct md_server *s = ctx;
    md_readgate_revoke(&s->rgate);
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

struct md_event *md_event_waited(enum md_ev_type type, size_t extra)
{
    struct md_event *e = calloc(1, sizeof(*e));
    struct md_waiter *w = md_waiter_new();
    uint8_t *data = extra ? malloc(extra) : NULL;
    if (!e || !w || (extra && !data)) {
        free(e);
        free(data);
        if (w) {
            md_waiter_put(w);
            md_waiter_put(w);
        }
        return NULL;
    }
    e->type = type;
    e->w = w;
    e->data = data;
    e->len = (uint32_t)extra;
    return e;
}

struct md_waiter *md_server_change(struct md_server *s, uint32_t op, uint32_t id)
{
    struct md_event *e = md_event_waited(MD_EV_CHANGE, 0);
    if (!e)
        return NULL;
    struct md_waiter *w = e->w;
    e->from = op;
    e->seq = id;
    md_server_post(s, e);
    return w;
}

struct md_waiter *md_server_submit(struct md_server *s, uint64_t client_id, uint64_t seq,
                                   const void *cmd, size_t len)
{
    struct md_event *e = md_event_waited(MD_EV_SUBMIT, len ? len : 1);
    if (!e)
        return NULL;
    struct md_waiter *w = e->w;
    memcpy(e->data, cmd, len);
    e->len = (uint32_t)len;
    e->client_id = client_id;
    e->seq = seq;
    md_server_post(s, e);
    return w;
}

int md_server_commit(struct md_server *s, uint64_t client_id, uint64_t seq, const uint8_t *cmd,
                     size_t len)
{
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

/* -------------------------------------------------------- persist thread -- */

/* How stale the state machine's store may be on disk. Its LevelDB writes are
 * not synced by the Paxos log's fdatasync (plog/ is its own file), so the
 * persist thread also syncs the store, at most this often: after a power loss
 * the state restarts at most this far behind the log (which replays the
 * rest) -- as when the log shared LevelDB's write-ahead log, where each log
 * sync covered the applies before it -- and LevelDB's unsynced tail, which it
 * may recover with a record missing in the middle, stays that short instead
 * of a whole trim interval (minutes). One extra fdatasync per interval. */
#define STORE_SYNC_MS 10

static void *persist_main(void *arg)
{
    struct md_server *s = arg;
    struct md_plog *pl = md_replica_plog(s->rep);
    int64_t store_synced = cn_mono_ms();
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
        int64_t now = cn_mono_ms();
        if (now - store_synced >= STORE_SYNC_MS) {
            if ((rc = md_store_sync(s->store)))
                fatal_store(rc, "state store sync");
            store_synced = now;
            s->m_store_syncs++;
        }
        if (sync_us >= 0) { /* (a batch that changed nothing synced nothing) */
            s->m_fsyncs++;
            s->m_fsync_us += (uint64_t)sync_us;
        }
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

/* Whether removing id leaves a group that can still decide: the voters left
 * that the leader has heard from within an election timeout (itself
 * included) must be a majority of the voters left. */
static int removal_keeps_quorum(struct md_server *s, uint32_t id, uint64_t now)
{
    struct paxos_membership m;
    md_replica_membership(s->rep, 1, &m);
    uint32_t left = 0, alive = 0;
    for (uint32_t i = 0; i < m.n_voters; i++) {
        uint32_t v = m.voters[i];
        if (v == id)
            continue;
        left++;
        struct paxos_peer_info pi;
        if (v == s->cfg.id)
            alive++;
        else if (md_replica_peer_info(s->rep, v, &pi) == 0 && pi.acked &&
                 now - pi.last_ack_ms <= 2 * (s->cfg.election_ms ? s->cfg.election_ms : 500))
            alive++;
    }
    return left > 0 && alive >= left / 2 + 1;
}

/* MD_EV_CHANGE: op in e->from, the replica in e->seq. */
static void membership_change(struct md_server *s, struct md_event *e, uint64_t now)
{
    uint32_t op = e->from, id = (uint32_t)e->seq, leader = 0;
    int rc;
    if (op == MD_OP_TRANSFER)
        rc = md_replica_transfer(s->rep, id, now, &leader);
    else if (op == PAXOS_REMOVE && !removal_keeps_quorum(s, id, now))
        rc = CAIRN_E_UNAVAIL;
    else
        rc = md_replica_change(s->rep, op, id, now, &leader);
    md_waiter_complete(e->w, rc, leader, NULL, 0);
}

static void handle_event(struct md_server *s, struct md_event *e)
{
    uint64_t now = core_now();
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
        /* Publish before act: the store is about to be replaced; no lease
         * read may be confirmed across it (the round's end publishes anew). */
        md_readgate_revoke(&s->rgate);
        install_snapshot(s, e, now);
        break;
    case MD_EV_CHANGE:
        /* Likewise before a transfer or a membership change is proposed (the
         * core also reports a transfer through lease_lost). */
        md_readgate_revoke(&s->rgate);
        membership_change(s, e, now);
        break;
    }
}

/* Leader, once its term has committed: every member whose URL the group
 * does not record yet (the bootstrap replicas of --peers) gets its record,
 * so replicas that join later, and clients, can find every member. */
static void record_members(struct md_server *s, const struct paxos_status *st)
{
    if (st->role != PAXOS_LEADER) {
        s->records_done = 0;
        return;
    }
    if (s->records_done || st->commit < st->term_start)
        return;
    s->records_done = 1;
    struct paxos_membership m;
    md_replica_membership(s->rep, 1, &m);
    for (uint32_t i = 0; i < m.n_voters + m.n_learners; i++) {
        uint32_t id = i < m.n_voters ? m.voters[i] : m.learners[i - m.n_voters];
        char url[MD_URL_MAX];
        if (record_url(s, id, url) || !md_server_peer_url(s, id, url))
            continue;
        uint8_t *cmd = NULL;
        size_t len = 0;
        uint64_t seq = ++s->records_seq;
        if (md_cmd_set_replica(s->records_client, seq, id, url, 0, cn_wall_ms(), &cmd, &len) != 0)
            continue;
        struct md_waiter *w = md_waiter_new();
        if (w) {
            md_waiter_put(w); /* nobody waits: the core's reference only */
            w->submit_us = cn_mono_us();
            md_replica_submit(s->rep, s->records_client, seq, cmd, len, w, core_now());
            CN_INFO(LOG, "recording replica %u at %s", id, url);
        }
        free(cmd);
    }
}

static void publish_status(struct md_server *s)
{
    struct paxos_status st;
    md_replica_end_round(s->rep, &st);
    /* Lease reads on the HTTP threads, as the core decides them now. Any
     * loss of the lease inside the round already revoked through lease_lost;
     * a deadline lower than the published one revokes here too. */
    md_readgate_publish(&s->rgate, md_replica_lease_read_until(s->rep));
    if (st.leader != s->last_leader && st.leader != 0) {
        s->m_leader_changes++;
        CN_INFO(LOG, "leader is now replica %u (ballot %" PRIu64 ")", st.leader, st.ballot);
    }
    if (st.leader != 0)
        s->last_leader = st.leader;
    record_members(s, &st);
    if (st.role == PAXOS_LEADER && s->last_role != PAXOS_LEADER) {
        /* Heartbeats from an earlier term must not read as silence now. */
        md_live_reset(s->live);
        s->leader_since_ms = cn_mono_ms();
    } else if (st.role != PAXOS_LEADER) {
        s->leader_since_ms = -1;
    }
    s->last_role = st.role;
    struct paxos_membership applied, latest;
    md_replica_membership(s->rep, 0, &applied);
    md_replica_membership(s->rep, 1, &latest);
    pthread_mutex_lock(&s->st_mu);
    s->st = st;
    s->members = applied;
    s->members_latest = latest;
    md_replica_counters(s->rep, &s->counters);
    pthread_mutex_unlock(&s->st_mu);
}

/* Takes the queued events, waiting until one arrives or next_tick. Returns
 * the list (NULL when none), *stopping set when the daemon stops. */
static struct md_event *take_events(struct md_server *s, uint64_t next_tick, int *stopping)
{
    pthread_mutex_lock(&s->qmu);
    while (!s->qhead && !s->stopping) {
        uint64_t now = core_now();
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
            md_readgate_revoke(&s->rgate);
            fail_events(list);
            break;
        }
        while (list) {
            struct md_event *next = list->next;
            handle_event(s, list);
            md_event_free(list);
            list = next;
        }
        uint64_t now = core_now();
        if (now >= next_tick) {
            /* A removed replica does not stand for election: nobody would
             * answer, and its campaign would only be noise. */
            if (!atomic_load(&s->removed))
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
    while (!p->head && !s->stopping && !p->retire)
        pthread_cond_wait(&p->cv, &p->mu);
    if (s->stopping || p->retire) {
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
    int64_t last_wrong_ms = -100000;
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
        if (rc == 0 && resp.status == 403) {
            /* The group no longer counts this replica as a member. */
            s->m_msgs_dropped += count;
            if (resp.body) /* one line in the log */
                resp.body[strcspn(resp.body, "\r\n")] = '\0';
            if (!atomic_exchange(&s->removed, 1))
                CN_WARN(LOG,
                        "replica %u refuses this replica's messages (%s): this replica stays "
                        "out of the group; stop it, and wipe its data directory to reuse it",
                        p->id, resp.body ? resp.body : "");
        } else if (rc == 0 && resp.status == 409) {
            /* The address answers as another replica. */
            s->m_msgs_dropped += count;
            int64_t now = cn_mono_ms();
            if (resp.body)
                resp.body[strcspn(resp.body, "\r\n")] = '\0';
            if (now - last_wrong_ms > 10000) {
                CN_WARN(LOG, "replica %u at %s: %s", p->id, p->url, resp.body ? resp.body : "");
                last_wrong_ms = now;
            }
        } else if (rc != 0 || resp.status / 100 != 2) {
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
    char url[MD_URL_MAX];
    uint32_t pid;
    pthread_mutex_lock(&s->peers_mu);
    snprintf(url, sizeof(url), "%s", p->url);
    pid = p->id;
    pthread_mutex_unlock(&s->peers_mu);
    char path[4096];
    snprintf(path, sizeof(path), "%s/snapshot-out.tmp", s->data_dir);
    FILE *f = fopen(path, "w+b");
    if (!f) {
        CN_ERROR(LOG, "snapshot for replica %u: cannot create %s", pid, path);
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
                                      .base_url = url,
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
                    applied, size, pid);
        } else {
            CN_WARN(LOG, "snapshot to replica %u failed (%s, status %d)", pid, cairn_strerror(rc),
                    resp.status);
        }
        cn_http_response_clear(&resp);
    } else {
        CN_ERROR(LOG, "snapshot for replica %u: %s", pid, cairn_strerror(rc));
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
                                    /* the receiver answers once it has installed
                                     * the snapshot, and no byte moves meanwhile:
                                     * a shorter stall bound gave up on every
                                     * snapshot whose install took longer (5 resends
                                     * of ~500 MB at 6x10^6 objects) */
                                    .stall_timeout_ms = MD_SNAPSHOT_TIMEOUT};
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
    return md_server_commit(ctx, client_id, seq, cmd, len);
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

/* -------------------------------------------------------------- lifecycle --
 * The lifecycle worker (md_lifecycle.h) scans while this replica leads and
 * commits its expirations through Paxos with the wall clock's time. */
static int64_t lifecycle_now(void *ctx)
{
    (void)ctx;
    return cn_wall_ms();
}

static int start_lifecycle(struct md_server *s)
{
    struct md_lifecycle_opts lo;
    md_lifecycle_opts_default(&lo);
    lo.store = s->store;
    if (s->cfg.lifecycle_day_ms)
        lo.day_ms = (int64_t)s->cfg.lifecycle_day_ms;
    if (s->cfg.lifecycle_scan_ms)
        lo.scan_ms = (int64_t)s->cfg.lifecycle_scan_ms;
    lo.is_leader = repair_is_leader;
    lo.commit = repair_commit;
    lo.now_ms = lifecycle_now;
    lo.ctx = s;
    if (lo.day_ms != MD_LC_DAY_MS)
        CN_WARN(LOG, "lifecycle day is %lld ms, not a real day (a test setting)",
                (long long)lo.day_ms);
    int rc = md_lifecycle_start(&lo, &s->lifecycle);
    if (rc != 0)
        CN_ERROR(LOG, "cannot start the lifecycle worker: %s", cairn_strerror(rc));
    return rc;
}

/* ----------------------------------------------------------------- sealer --
 * The packed-group sealing worker (md_sealer.h): seals groups whose writer
 * went idle and has the chunkservers seal the fragments of sealed groups. */
static int sealer_cs_alive(void *ctx, uint64_t id)
{
    uint64_t free_bytes = 0;
    return md_server_cs_alive(ctx, id, &free_bytes);
}

static void sealer_damage(void *ctx, const uint8_t group_id[16], uint32_t index, uint64_t cs)
{
    struct md_server *s = ctx;
    if (s->repair)
        md_repair_report_damage(s->repair, group_id, index, cs);
}

static int start_sealer(struct md_server *s)
{
    struct md_sealer_opts so;
    md_sealer_opts_default(&so);
    so.store = s->store;
    so.auth = s->cfg.auth;
    if (s->cfg.packed_idle_ms)
        so.idle_ms = (int64_t)s->cfg.packed_idle_ms;
    /* look often enough that a group idles at most half as long again */
    so.scan_ms = so.idle_ms / 2 < 100 ? 100 : so.idle_ms / 2 > 5000 ? 5000 : so.idle_ms / 2;
    so.is_leader = repair_is_leader;
    so.commit = repair_commit;
    so.now_ms = lifecycle_now;
    so.cs_alive = sealer_cs_alive;
    so.report_damage = sealer_damage;
    so.ctx = s;
    int rc = md_sealer_new(&so, &s->sealer);
    if (rc == 0 && (rc = md_sealer_start(s->sealer)) != 0) {
        md_sealer_free(s->sealer);
        s->sealer = NULL;
    }
    if (rc != 0)
        CN_ERROR(LOG, "cannot start the packed-group sealer: %s", cairn_strerror(rc));
    return rc;
}

/* ---------------------------------------------------------------- compact --
 * The packed-group compactor (md_compact.h): rewrites sealed groups whose
 * live fraction fell below --compact-below. */
static int start_compact(struct md_server *s)
{
    struct md_compact_opts co;
    md_compact_opts_default(&co);
    co.store = s->store;
    co.auth = s->cfg.auth;
    if (s->cfg.compact_below_pct)
        co.below = s->cfg.compact_below_pct / 100.0;
    co.rate_bytes_s = s->cfg.compact_rate;
    co.min_dead = s->cfg.compact_min_dead;
    if (s->cfg.compact_scan_ms)
        co.scan_ms = (int64_t)s->cfg.compact_scan_ms;
    co.retry_ms = 10 * co.scan_ms;
    co.is_leader = repair_is_leader;
    co.commit = repair_commit;
    co.now_ms = lifecycle_now;
    co.cs_alive = sealer_cs_alive;
    co.report_damage = sealer_damage;
    co.ctx = s;
    int rc = md_compact_new(&co, &s->compact);
    if (rc == 0 && (rc = md_compact_start(s->compact)) != 0) {
        md_compact_free(s->compact);
        s->compact = NULL;
    }
    if (rc != 0)
        CN_ERROR(LOG, "cannot start the packed-group compactor: %s", cairn_strerror(rc));
    return rc;
}

/* ----------------------------------------------------------- start / stop -- */

/* Parses a /v1/members body: members into m, their URLs into the seeds,
 * and the id of the learner whose URL is self (0 if none). */
static uint32_t parse_members(struct md_server *s, const char *body, const char *self,
                              struct paxos_membership *m)
{
    uint32_t me = 0;
    struct md_members ms;
    md_members_parse(body, &ms);
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < ms.n; i++) {
        const struct md_member *x = &ms.m[i];
        if (x->id > PAXOS_MAX_ID)
            continue;
        if (x->voter && m->n_voters < PAXOS_MAX_REPLICAS)
            m->voters[m->n_voters++] = x->id;
        else if (!x->voter && m->n_learners < PAXOS_MAX_REPLICAS)
            m->learners[m->n_learners++] = x->id;
        else
            continue;
        add_seed(s, x->id, x->url);
        /* Only a learner: a voter on this URL is the replica this one
         * replaces, not yet removed (ids are never reused). */
        if (!strcmp(x->url, self) && !x->voter)
            me = x->id;
    }
    return me;
}

/* An empty store with --join: asks the group through join_url until this
 * replica's URL is a member (`cairn meta add URL` puts it there), then
 * remembers who it is. Waits up to 10 minutes. */
static int join_group(struct md_server *s, uint32_t *id, struct paxos_membership *m)
{
    struct cn_http_client_opts o = {.auth = s->cfg.auth,
                                    .connect_timeout_ms = 1000,
                                    .timeout_ms = 5000,
                                    .stall_timeout_ms = 5000};
    struct cn_http_client *c = NULL;
    if (cn_http_client_new(&o, &c) != 0)
        return CAIRN_E_NOMEM;
    int64_t start = cn_mono_ms(), said = -100000;
    int rc = CAIRN_E_TIMEOUT;
    /* The leader's view (a follower's lags): through --join, then wherever
     * its 421 points. */
    char ask[MD_URL_MAX], why[256] = "";
    snprintf(ask, sizeof(ask), "%s", s->cfg.join_url);
    while (cn_mono_ms() - start < 600000) {
        struct cn_http_request req = {
            .method = "GET", .base_url = ask, .target = CN_ROUTE_MD_MEMBERS "?from=leader"};
        struct cn_http_response resp = {0};
        int hrc = cn_http_client_do(c, &req, &resp);
        const char *lurl = hrc == 0 && resp.status == 421
                               ? cn_http_response_header(&resp, CN_HDR_LEADER_URL)
                               : NULL;
        if (hrc == 0 && resp.status == 200 && resp.body) {
            *id = parse_members(s, resp.body, s->self_url, m);
            if (*id) {
                rc = 0;
                cn_http_response_clear(&resp);
                break;
            }
            why[0] = '\0';
        } else if (lurl && strlen(lurl) < sizeof(ask) && strcmp(lurl, ask) != 0) {
            snprintf(ask, sizeof(ask), "%s", lurl);
            cn_http_response_clear(&resp);
            continue;
        } else {
            /* No leader known there: start over from --join. */
            snprintf(ask, sizeof(ask), "%s", s->cfg.join_url);
            if (hrc != 0)
                snprintf(why, sizeof(why), " (%s)", cairn_strerror(hrc));
            else {
                if (resp.body)
                    resp.body[strcspn(resp.body, "\r\n")] = '\0';
                snprintf(why, sizeof(why), " (HTTP %d%s%.200s)", resp.status, resp.body ? ": " : "",
                         resp.body ? resp.body : "");
            }
        }
        cn_http_response_clear(&resp);
        if (cn_mono_ms() - said > 10000) {
            CN_INFO(LOG, "joining through %s: waiting to be added (cairn meta add %s)%s",
                    s->cfg.join_url, s->self_url, why);
            said = cn_mono_ms();
        }
        cn_sleep_ms(500);
    }
    cn_http_client_free(c);
    return rc;
}

/* Who this replica is: --id (a bootstrap member), the id its store remembers
 * from a join, or a new join through --join. */
static int identity(struct md_server *s, struct md_replica_config *rc_cfg)
{
    uint32_t id = 0;
    struct paxos_membership m;
    int rc = md_plog_identity_get(s->store, &id, &m);
    if (rc == CAIRN_E_NOTFOUND && s->cfg.id == 0) {
        if (!s->cfg.join_url || !s->cfg.join_url[0]) {
            CN_ERROR(LOG, "this store has no identity: give --id and --peers (a new group) or "
                          "--join URL (an existing one)");
            return CAIRN_E_INVAL;
        }
        if ((rc = join_group(s, &id, &m)) != 0) {
            CN_ERROR(LOG, "could not join through %s: %s", s->cfg.join_url, cairn_strerror(rc));
            return rc;
        }
        if ((rc = md_plog_identity_put(s->store, id, &m)) != 0)
            return rc;
        CN_INFO(LOG, "joined the group as replica %u (%u voter(s), %u learner(s))", id, m.n_voters,
                m.n_learners);
    } else if (rc == CAIRN_E_NOTFOUND) {
        return 0; /* --id and --peers */
    } else if (rc != 0) {
        CN_ERROR(LOG, "the identity in this store is damaged: %s", cairn_strerror(rc));
        return rc;
    }
    if (s->cfg.id && s->cfg.id != id) {
        CN_ERROR(LOG, "--id %u, but this store is replica %u", s->cfg.id, id);
        return CAIRN_E_INVAL;
    }
    s->cfg.id = rc_cfg->id = id;
    rc_cfg->n_peers = m.n_voters;
    memcpy(rc_cfg->peer_ids, m.voters, m.n_voters * sizeof(uint32_t));
    rc_cfg->n_learners = m.n_learners;
    memcpy(rc_cfg->learner_ids, m.learners, m.n_learners * sizeof(uint32_t));
    return 0;
}

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
    so.sync = 0; /* syncs are explicit: before the Paxos log (plog/) trims, and snapshots */
    /* A fixed block cache (LevelDB's own default is 8 MiB): the hot index
     * blocks of a store of 10^7 objects stay in memory, and memory stays
     * bounded however many objects there are (docs/performance.md, Scale). */
    so.cache_bytes = 32u << 20;
    so.write_buffer = (size_t)s->cfg.store_write_buffer;
    int rc = md_store_open_leveldb(path, &so, &s->store);
    if (rc != 0) {
        CN_ERROR(LOG,
                 "refusing to start: the store at %s cannot be opened (%s); this replica "
                 "will not vote until it is repaired or replaced",
                 path, cairn_strerror(rc));
        return rc;
    }
    char plog_dir[4096];
    snprintf(plog_dir, sizeof(plog_dir), "%s/plog", s->data_dir);
    struct md_replica_config rc_cfg = {.id = s->cfg.id,
                                       .plog_dir = plog_dir,
                                       .n_peers = s->cfg.n_peers,
                                       .heartbeat_ms = s->cfg.heartbeat_ms,
                                       .election_ms = s->cfg.election_ms,
                                       .lease_ms = s->cfg.lease_ms,
                                       .window = s->cfg.window,
                                       .trim_every = s->cfg.trim_every,
                                       .trim_keep = s->cfg.trim_keep,
                                       .trim_bytes = s->cfg.trim_bytes,
                                       .plog_segment_bytes = s->cfg.plog_segment_bytes};
    memcpy(rc_cfg.peer_ids, s->cfg.peer_ids, s->cfg.n_peers * sizeof(uint32_t));
    if ((rc = identity(s, &rc_cfg)) != 0)
        return rc;
    if (md_sm_removed(s->store, rc_cfg.id) == 1) {
        atomic_store(&s->removed, 1);
        CN_WARN(LOG,
                "replica %u was removed from the group: it serves nothing; wipe %s (db and "
                "plog) to reuse this machine (cairn-meta --join)",
                rc_cfg.id, s->data_dir);
    }
    struct md_replica_io io = {.ctx = s,
                               .send = rio_send,
                               .cmd_done = rio_cmd_done,
                               .read_done = rio_read_done,
                               .send_snapshot = rio_send_snapshot,
                               .fatal = rio_fatal,
                               .random = rio_random,
                               .membership_changed = rio_membership_changed,
                               .lease_lost = rio_lease_lost};
    const char *what = "";
    rc = md_replica_open(&rc_cfg, s->store, &io, core_now(), &s->rep, &what);
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
    pthread_mutex_init(&s->gc_mu, NULL);
    pthread_mutex_init(&s->pq_mu, NULL);
    pthread_cond_init(&s->pq_cv, NULL);
}

int md_server_start(const struct md_server_config *cfg, struct md_server **out)
{
    if (!cfg || !cfg->data_dir || !cfg->auth || cfg->n_peers > MD_MAX_PEERS ||
        (cfg->n_peers == 0 && !cfg->join_url && cfg->id))
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
    md_readgate_init(&s->rgate);
    pthread_mutex_init(&s->peers_mu, NULL);
    pthread_mutex_init(&s->change_mu, NULL);
    s->leader_since_ms = -1;
    if (s->cfg.down_after_ms == 0)
        s->cfg.down_after_ms = 30000;
    if (s->cfg.suspect_after_ms == 0)
        s->cfg.suspect_after_ms = 3000;
    if (s->cfg.suspect_after_ms > s->cfg.down_after_ms)
        s->cfg.suspect_after_ms = s->cfg.down_after_ms;
    if (cn_random_bytes(&s->rng, sizeof(s->rng)) != 0 || s->rng == 0)
        s->rng = (uint64_t)cn_mono_us() | 1;
    while (s->records_client == 0)
        s->records_client = rio_random(s);
    while (s->admin_client == 0 || s->admin_client == s->records_client)
        s->admin_client = rio_random(s);

    int rc = CAIRN_E_NOMEM;
    if (!s->data_dir || !s->bind_addr || md_live_new(MD_MAX_TRACKED_CS, &s->live) != 0)
        goto err;
    for (uint32_t i = 0; i < cfg->n_peers; i++)
        add_seed(s, cfg->peer_ids[i], cfg->peer_urls[i]);
    if (cfg->self_url && cfg->self_url[0])
        snprintf(s->self_url, sizeof(s->self_url), "%s", cfg->self_url);
    for (uint32_t i = 0; i < cfg->n_peers && !s->self_url[0]; i++)
        if (cfg->peer_ids[i] == cfg->id)
            snprintf(s->self_url, sizeof(s->self_url), "%s", cfg->peer_urls[i]);
    if (!s->self_url[0])
        snprintf(s->self_url, sizeof(s->self_url), "http://%s:%u", s->bind_addr, cfg->port);
    if ((rc = open_store(s)) != 0)
        goto err;
    /* Requests name this replica by its URL's host:port (or its address). */
    const char *authority = strstr(s->self_url, "://");
    authority = authority ? authority + 3 : s->self_url;
    snprintf(s->self_host, sizeof(s->self_host), "%.*s", (int)strcspn(authority, "/"), authority);
    s->host_names[0] = s->self_host;
    struct cn_http_server_opts ho = {.bind_addr = s->bind_addr,
                                     .port = cfg->port,
                                     .auth = cfg->auth,
                                     .host_names = s->host_names,
                                     .replay_entries = cfg->replay_entries,
                                     .tls_internal = cn_auth_tls(cfg->auth),
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
    if ((rc = start_repair(s)) != 0 || (rc = start_lifecycle(s)) != 0 ||
        (rc = start_sealer(s)) != 0 || (rc = start_compact(s)) != 0)
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
    md_sealer_free(s->sealer); /* it reports damage to repair: before it */
    s->sealer = NULL;
    md_compact_free(s->compact); /* as the sealer; waits for a compaction asked over HTTP */
    s->compact = NULL;
    md_repair_stop(s->repair);
    md_lifecycle_stop(s->lifecycle);
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
    pthread_mutex_destroy(&s->gc_mu);
    pthread_mutex_destroy(&s->peers_mu);
    pthread_mutex_destroy(&s->change_mu);
    free(s->data_dir);
    free(s->bind_addr);
    free(s);
}
