#include "md_replica.h"

#include "cn_error.h"
#include "cn_log.h"
#include "md_sm.h"
#include "md_snap.h"
#include "md_store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LOG             "meta"
#define PENDING_BUCKETS 1024
#define SNAP_CHUNK      (256u << 10)

/* A submitted command waiting to be applied. */
struct pending {
    struct pending *next;
    uint64_t client_id, seq;
    void *token;
};

struct pending_read {
    struct pending_read *next;
    uint64_t read_id;
    void *token;
};

struct md_replica {
    struct md_replica_config cfg;
    struct md_replica_io io;
    struct paxos_io pio;
    struct md_store *store;
    struct md_sm *sm;
    struct md_plog *plog;
    struct paxos *px;
    struct md_plog_batch batch; /* persist records of this round */
    struct pending *pending[PENDING_BUCKETS];
    size_t n_pending;
    struct pending_read *reads;
    uint64_t next_read_id;
    uint64_t last_trim;
    uint64_t bytes_since_trim; /* command bytes applied since last_trim */
    uint32_t last_role;
    uint64_t now_ms; /* the latest time an event brought */
    struct md_replica_counters counters;
};

/* ---------------------------------------------------------------- pending */

static unsigned pending_bucket(uint64_t client_id, uint64_t seq)
{
    return (unsigned)((client_id * 0x9E3779B97F4A7C15ull ^ seq) % PENDING_BUCKETS);
}

static void *pending_take(struct md_replica *r, uint64_t client_id, uint64_t seq)
{
    for (struct pending **pp = &r->pending[pending_bucket(client_id, seq)]; *pp;
         pp = &(*pp)->next) {
        if ((*pp)->client_id == client_id && (*pp)->seq == seq) {
            struct pending *p = *pp;
            void *token = p->token;
            *pp = p->next;
            free(p);
            r->n_pending--;
            return token;
        }
    }
    return NULL;
}

static void fail_all_pending(struct md_replica *r, int err, uint32_t leader)
{
    for (int b = 0; b < PENDING_BUCKETS; b++) {
        while (r->pending[b]) {
            struct pending *p = r->pending[b];
            r->pending[b] = p->next;
            r->io.cmd_done(r->io.ctx, p->token, err, leader, NULL, 0);
            free(p);
        }
    }
    r->n_pending = 0;
}

/* --------------------------------------------------------------- paxos io */

static struct md_replica *io_rep(struct paxos_io *io)
{
    return io->data;
}

static void io_send(struct paxos_io *io, uint32_t to, const struct paxos_msg *m)
{
    struct md_replica *r = io_rep(io);
    r->io.send(r->io.ctx, to, m);
}

static void io_persist(struct paxos_io *io, const struct paxos_persist *rec)
{
    struct md_replica *r = io_rep(io);
    int rc = md_plog_batch_add(&r->batch, rec);
    if (rc)
        r->io.fatal(r->io.ctx, rc, "persist copy");
}

static void io_apply(struct paxos_io *io, uint64_t slot, const struct paxos_cmd *cmds, uint32_t n)
{
    struct md_replica *r = io_rep(io);
    const void *cmdv[n ? n : 1];
    size_t lens[n ? n : 1];
    uint8_t *results[n ? n : 1];
    size_t rlens[n ? n : 1];
    for (uint32_t i = 0; i < n; i++) {
        cmdv[i] = cmds[i].data;
        lens[i] = cmds[i].len;
        r->bytes_since_trim += cmds[i].len;
    }
    int rc = md_sm_apply_slot(r->sm, slot, n, cmdv, lens, NULL, results, rlens);
    if (rc == CAIRN_E_RANGE) /* applied before a restart: the store is ahead of the log */
        return;
    if (rc != 0) {
        r->io.fatal(r->io.ctx, rc, "apply");
        return;
    }
    r->counters.slots_applied++;
    r->counters.commands_applied += n;
    for (uint32_t i = 0; i < n; i++) {
        void *token = pending_take(r, cmds[i].client_id, cmds[i].seq);
        if (token)
            r->io.cmd_done(r->io.ctx, token, 0, 0, results[i], rlens[i]);
        else
            free(results[i]);
    }
}

static void io_reject(struct paxos_io *io, uint64_t client_id, uint64_t seq, int err,
                      uint32_t leader)
{
    struct md_replica *r = io_rep(io);
    void *token = pending_take(r, client_id, seq);
    if (token)
        r->io.cmd_done(r->io.ctx, token, err, leader, NULL, 0);
}

static void io_read_done(struct paxos_io *io, uint64_t read_id, int status, uint32_t leader)
{
    struct md_replica *r = io_rep(io);
    for (struct pending_read **pp = &r->reads; *pp; pp = &(*pp)->next) {
        if ((*pp)->read_id == read_id) {
            struct pending_read *rd = *pp;
            *pp = rd->next;
            r->io.read_done(r->io.ctx, rd->token, status, leader);
            free(rd);
            return;
        }
    }
}

static void io_send_snapshot(struct paxos_io *io, uint32_t to)
{
    struct md_replica *r = io_rep(io);
    r->io.send_snapshot(r->io.ctx, to);
}

static uint64_t io_random(struct paxos_io *io)
{
    struct md_replica *r = io_rep(io);
    return r->io.random(r->io.ctx);
}

/* The slot installs m: stored with that slot's applied index (the core's
 * apply of the same slot, right after, then finds it applied). */
static void io_membership(struct paxos_io *io, uint64_t slot, const struct paxos_membership *m)
{
    struct md_replica *r = io_rep(io);
    int rc =
        md_sm_apply_membership(r->sm, slot, m->voters, m->n_voters, m->learners, m->n_learners);
    if (rc == CAIRN_E_RANGE)
        return; /* applied before a restart */
    if (rc != 0) {
        r->io.fatal(r->io.ctx, rc, "membership");
        return;
    }
    CN_INFO(LOG, "membership at slot %" PRIu64 ": %u voter(s), %u learner(s)%s", slot, m->n_voters,
            m->n_learners, !paxos_membership_has(m, r->cfg.id) ? " (not this replica)" : "");
    if (r->io.membership_changed)
        r->io.membership_changed(r->io.ctx, m);
}

static void io_lease_lost(struct paxos_io *io)
{
    struct md_replica *r = io_rep(io);
    if (r->io.lease_lost)
        r->io.lease_lost(r->io.ctx);
}

/* ------------------------------------------------------------ open / free */

int md_replica_open(const struct md_replica_config *cfg, struct md_store *store,
                    const struct md_replica_io *io, uint64_t now_ms, struct md_replica **out,
                    const char **what)
{
    static const char *none = "";
    *what = none;
    if (!cfg || !store || !io || cfg->n_peers == 0 || cfg->n_peers > PAXOS_MAX_REPLICAS)
        return CAIRN_E_INVAL;
    struct md_replica *r = calloc(1, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    r->cfg = *cfg;
    r->cfg.plog_dir = NULL; /* borrowed for the open only */
    r->io = *io;
    r->store = store;
    struct md_sm_options smo;
    md_sm_options_default(&smo);
    int rc = md_snap_recover(store);
    if (rc != 0) {
        *what = "an interrupted snapshot install cannot be finished";
        goto err;
    }
    rc = md_sm_open(store, &smo, &r->sm);
    if (rc != 0) {
        *what = "the state machine is damaged or half-loaded";
        goto err;
    }
    struct md_plog_restored lr;
    rc = cfg->plog_dir ? md_plog_open_dir(store, cfg->plog_dir, cfg->plog_segment_bytes,
                                          md_sm_applied_index(r->sm), &r->plog, &lr)
                       : md_plog_open(store, md_sm_applied_index(r->sm), &r->plog, &lr);
    if (rc != 0) {
        *what = "the Paxos log is damaged";
        goto err;
    }
    struct paxos_restore rs = {.promised = lr.promised,
                               .applied = md_sm_applied_index(r->sm),
                               .n_entries = lr.n_entries,
                               .entries = lr.entries};
    /* The membership: as stored with the applied index, else the bootstrap. */
    size_t nv = 0, nl = 0;
    rc = md_sm_membership(store, rs.membership.voters, &nv, rs.membership.learners, &nl,
                          PAXOS_MAX_REPLICAS);
    if (rc == 0) {
        rs.membership.n_voters = (uint32_t)nv;
        rs.membership.n_learners = (uint32_t)nl;
    } else if (rc == CAIRN_E_NOTFOUND && cfg->n_learners > 0) {
        rs.membership.n_voters = cfg->n_peers;
        memcpy(rs.membership.voters, cfg->peer_ids, cfg->n_peers * sizeof(uint32_t));
        rs.membership.n_learners = cfg->n_learners;
        memcpy(rs.membership.learners, cfg->learner_ids, cfg->n_learners * sizeof(uint32_t));
    } else if (rc != CAIRN_E_NOTFOUND) {
        *what = "the stored membership is damaged";
        md_plog_restored_free(&lr);
        goto err;
    }
    r->last_trim = rs.applied;
    struct paxos_config pc;
    paxos_config_init(&pc, cfg->id, cfg->n_peers, cfg->peer_ids);
    if (cfg->heartbeat_ms)
        pc.heartbeat_ms = cfg->heartbeat_ms;
    if (cfg->election_ms)
        pc.election_ms = cfg->election_ms;
    pc.lease_ms = cfg->lease_ms;
    if (cfg->window)
        pc.window = cfg->window;
    r->pio = (struct paxos_io){.data = r,
                               .send = io_send,
                               .persist = io_persist,
                               .apply = io_apply,
                               .reject = io_reject,
                               .read_done = io_read_done,
                               .send_snapshot = io_send_snapshot,
                               .random = io_random,
                               .membership = io_membership,
                               .lease_lost = io_lease_lost};
    rc = paxos_new(&pc, &r->pio, &rs, now_ms, &r->px);
    if (rc == 0)
        CN_INFO(LOG,
                "replica %u recovered: promised ballot %" PRIu64 ", applied slot %" PRIu64
                ", %u log entries",
                cfg->id, rs.promised, rs.applied, rs.n_entries);
    md_plog_restored_free(&lr);
    if (rc != 0) {
        *what = "the Paxos core refused the restored state";
        goto err;
    }
    *out = r;
    return 0;
err:
    md_replica_free(r);
    return rc;
}

void md_replica_free(struct md_replica *r)
{
    if (!r)
        return;
    if (r->io.cmd_done)
        fail_all_pending(r, CAIRN_E_SHUTDOWN, 0);
    while (r->reads) {
        struct pending_read *rd = r->reads;
        r->reads = rd->next;
        r->io.read_done(r->io.ctx, rd->token, CAIRN_E_SHUTDOWN, 0);
        free(rd);
    }
    paxos_free(r->px);
    md_plog_batch_clear(&r->batch);
    free(r->batch.recs);
    md_plog_free(r->plog);
    md_sm_free(r->sm);
    free(r);
}

/* ----------------------------------------------------------------- events */

void md_replica_recv(struct md_replica *r, const struct paxos_msg *m, uint64_t now_ms)
{
    r->now_ms = now_ms;
    paxos_recv(r->px, m, now_ms);
}

void md_replica_submit(struct md_replica *r, uint64_t client_id, uint64_t seq, const void *data,
                       size_t len, void *token, uint64_t now_ms)
{
    struct pending *p = malloc(sizeof(*p));
    if (!p) {
        r->io.cmd_done(r->io.ctx, token, CAIRN_E_NOMEM, 0, NULL, 0);
        return;
    }
    /* Registered before paxos_submit: apply may run inside it. */
    *p = (struct pending){.client_id = client_id, .seq = seq, .token = token};
    unsigned b = pending_bucket(client_id, seq);
    p->next = r->pending[b];
    r->pending[b] = p;
    r->n_pending++;
    uint32_t leader = 0;
    int rc = paxos_submit(r->px, client_id, seq, data, (uint32_t)len, now_ms, &leader);
    if (rc != 0) {
        void *t = pending_take(r, client_id, seq);
        if (t)
            r->io.cmd_done(r->io.ctx, t, rc, leader, NULL, 0);
    }
}

void md_replica_read(struct md_replica *r, void *token, uint64_t now_ms)
{
    struct pending_read *rd = malloc(sizeof(*rd));
    if (!rd) {
        r->io.read_done(r->io.ctx, token, CAIRN_E_NOMEM, 0);
        return;
    }
    rd->read_id = ++r->next_read_id;
    rd->token = token;
    rd->next = r->reads;
    r->reads = rd;
    uint32_t leader = 0;
    int rc = paxos_read(r->px, rd->read_id, now_ms, &leader);
    if (rc != 0) {
        r->reads = rd->next;
        r->io.read_done(r->io.ctx, token, rc, leader);
        free(rd);
    }
}

uint64_t md_replica_lease_read_until(const struct md_replica *r)
{
    return paxos_lease_read_until(r->px);
}

void md_replica_tick(struct md_replica *r, uint64_t now_ms)
{
    r->now_ms = now_ms;
    paxos_tick(r->px, now_ms);
}

void md_replica_persisted(struct md_replica *r, uint64_t seq, uint64_t now_ms)
{
    r->now_ms = now_ms;
    paxos_persisted(r->px, seq, now_ms);
}

static void maybe_trim(struct md_replica *r)
{
    uint64_t applied = md_sm_applied_index(r->sm);
    int by_slots = r->cfg.trim_every != 0 && applied >= r->last_trim + r->cfg.trim_every;
    int by_bytes = r->cfg.trim_bytes != 0 && r->bytes_since_trim >= r->cfg.trim_bytes;
    if (!by_slots && !by_bytes)
        return;
    if (applied <= r->cfg.trim_keep)
        return;
    /* The state machine's writes are not synced one by one: make them durable
     * before the log that could replay them is forgotten. */
    int rc = md_store_sync(r->store);
    if (rc) {
        r->io.fatal(r->io.ctx, rc, "sync before trim");
        return;
    }
    paxos_trim(r->px, applied - r->cfg.trim_keep);
    r->last_trim = applied;
    r->bytes_since_trim = 0;
}

/* Leader: a learner that has caught up becomes a voter (one change at a
 * time; the core answers BUSY while it is behind or another change is in
 * flight, and the next round tries again). */
static void promote_learners(struct md_replica *r, uint64_t now_ms)
{
    struct paxos_membership m;
    paxos_membership_latest(r->px, &m);
    for (uint32_t i = 0; i < m.n_learners; i++) {
        uint32_t leader;
        if (paxos_change(r->px, PAXOS_PROMOTE, m.learners[i], now_ms, &leader) == 0) {
            CN_INFO(LOG, "replica %u caught up: promoted to voter", m.learners[i]);
            return;
        }
    }
}

void md_replica_end_round(struct md_replica *r, struct paxos_status *st)
{
    maybe_trim(r);
    paxos_status(r->px, st);
    if (st->role == PAXOS_LEADER && st->n_learners > 0)
        promote_learners(r, r->now_ms);
    if (r->last_role == PAXOS_LEADER && st->role != PAXOS_LEADER && r->n_pending)
        fail_all_pending(r, CAIRN_E_NOTLEADER, st->leader);
    r->last_role = st->role;
}

size_t md_replica_take_persist(struct md_replica *r, struct md_plog_batch *into)
{
    size_t n = r->batch.n;
    if (n && md_plog_batch_move(into, &r->batch) != 0) {
        r->io.fatal(r->io.ctx, CAIRN_E_NOMEM, "persist hand-off");
        return 0;
    }
    return n;
}

struct md_plog *md_replica_plog(struct md_replica *r)
{
    return r->plog;
}

/* --------------------------------------------------------------- snapshots */

int md_replica_snapshot_wanted(struct md_replica *r, uint64_t slot)
{
    return paxos_snapshot_wanted(r->px, slot);
}

int md_replica_install_snapshot(struct md_replica *r, uint32_t from,
                                long (*read_fn)(void *ctx, void *buf, size_t max), void *ctx,
                                uint64_t slot, uint64_t now_ms)
{
    r->now_ms = now_ms;
    if (!paxos_snapshot_wanted(r->px, slot))
        return CAIRN_E_EXISTS;
    struct md_snap_loader *l = NULL;
    uint64_t applied = 0;
    int rc = md_snap_load_begin(r->store, &l);
    if (rc != 0) {
        r->io.fatal(r->io.ctx, rc, "snapshot staging");
        return rc;
    }
    /* Staged beside the state and verified whole: a bad, truncated or
     * unreadable stream leaves this replica as it was (the leader sends
     * another while it stays behind). */
    uint8_t *buf = malloc(SNAP_CHUNK);
    long n = 0;
    if (!buf)
        rc = CAIRN_E_NOMEM;
    while (rc == 0 && (n = read_fn(ctx, buf, SNAP_CHUNK)) > 0)
        rc = md_snap_load_feed(l, buf, (size_t)n);
    int transport = rc == 0 && n < 0;
    if (transport)
        rc = (int)n;
    free(buf);
    if (rc == 0)
        rc = md_snap_load_verify(l, slot, &applied);
    if (rc != 0 && rc != CAIRN_E_CORRUPT && !transport) {
        md_snap_load_abort(l); /* the store failed while staging */
        r->io.fatal(r->io.ctx, rc, "snapshot staging");
        return rc;
    }
    if (rc != 0) {
        md_snap_load_abort(l);
        r->counters.snapshots_refused++;
        CN_WARN(LOG, "snapshot from replica %u through slot %" PRIu64 " refused (%s): state kept",
                from, slot, cairn_strerror(rc));
        return rc;
    }
    /* From here on only the store can fail, and it is not to be trusted then. */
    if ((rc = md_snap_load_commit(l)) != 0 || (rc = md_sm_reload(r->sm)) != 0) {
        r->io.fatal(r->io.ctx, rc, "snapshot install");
        return rc;
    }
    /* The snapshot carries the membership as of its slot (or none, if the
     * group never changed it: the bootstrap one holds). */
    struct paxos_membership m = {0};
    size_t nv = 0, nl = 0;
    int have = md_sm_membership(r->store, m.voters, &nv, m.learners, &nl, PAXOS_MAX_REPLICAS) == 0;
    m.n_voters = (uint32_t)nv;
    m.n_learners = (uint32_t)nl;
    paxos_snapshot_installed(r->px, from, applied, have ? &m : NULL, now_ms);
    if (have && r->io.membership_changed)
        r->io.membership_changed(r->io.ctx, &m);
    r->counters.snapshots_installed++;
    CN_INFO(LOG, "installed a snapshot from replica %u through slot %" PRIu64, from, applied);
    return 0;
}

int md_replica_change(struct md_replica *r, uint32_t op, uint32_t id, uint64_t now_ms,
                      uint32_t *leader)
{
    r->now_ms = now_ms;
    return paxos_change(r->px, op, id, now_ms, leader);
}

int md_replica_transfer(struct md_replica *r, uint32_t to, uint64_t now_ms, uint32_t *chosen)
{
    r->now_ms = now_ms;
    return paxos_transfer(r->px, to, now_ms, chosen);
}

void md_replica_membership(const struct md_replica *r, int latest, struct paxos_membership *out)
{
    if (latest)
        paxos_membership_latest(r->px, out);
    else
        paxos_membership_get(r->px, out);
}

int md_replica_peer_info(const struct md_replica *r, uint32_t id, struct paxos_peer_info *out)
{
    return paxos_peer_info(r->px, id, out);
}

void md_replica_counters(const struct md_replica *r, struct md_replica_counters *out)
{
    *out = r->counters;
}

struct md_sm *md_replica_sm(struct md_replica *r)
{
    return r->sm;
}
