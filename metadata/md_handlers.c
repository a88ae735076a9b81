/* cairn-meta's HTTP API (md_server.h lists the routes): each handler turns a
 * request into an event for the core thread and waits for its outcome, or
 * answers from the store or the leader's soft state. */
#include "md_server_int.h"

#include "cluster.pb-c.h"
#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_place.h"
#include "md_query.h"
#include "md_lifecycle.h"
#include "md_compact.h"
#include "md_sealer.h"
#include "md_repair.h"
#include "md_sm.h"
#include "meta.pb-c.h"
#include "paxos.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG MD_LOG

/* -------------------------------------------------------------- handlers -- */
int md_respond_not_leader(struct cn_http_req *req, struct md_server *s, uint32_t leader)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", leader);
    cn_http_resp_header(req, CN_HDR_LEADER, id);
    char url[MD_URL_MAX];
    if (leader && md_server_peer_url(s, leader, url))
        cn_http_resp_header(req, CN_HDR_LEADER_URL, url);
    return cn_http_respond_error(req, 421, "not the leader");
}

static int respond_status(struct cn_http_req *req, struct md_server *s, int status, uint32_t leader)
{
    if (status == CAIRN_E_NOTLEADER)
        return md_respond_not_leader(req, s, leader);
    return cn_http_respond_error(req, cn_http_status_for_error(status), cairn_strerror(status));
}

/* Client routes: the membership's fingerprint goes with every answer, so
 * clients notice a change of members while the leader they talk to stays.
 * Commands and reads add it when they answer (what they waited for may
 * have applied a change), the others when they begin. */
int md_members_header(struct cn_http_req *req, struct md_server *s)
{
    struct paxos_membership m;
    pthread_mutex_lock(&s->st_mu);
    m = s->members;
    pthread_mutex_unlock(&s->st_mu);
    char fp[17];
    snprintf(fp, sizeof(fp), "%016" PRIx64, md_members_fingerprint(&m));
    return cn_http_resp_header(req, CN_HDR_MEMBERS, fp);
}

static int client_begin(struct cn_http_req *req, void *cls)
{
    return md_members_header(req, cls);
}

static int buffer_begin(struct cn_http_req *req, void *cls)
{
    (void)cls;
    return cn_http_req_buffer_body(req, MD_MAX_CMD_BODY);
}

static int client_buffer_begin(struct cn_http_req *req, void *cls)
{
    int rc = md_members_header(req, cls);
    return rc ? rc : buffer_begin(req, cls);
}

static int msg_begin(struct cn_http_req *req, void *cls)
{
    (void)cls;
    return cn_http_req_buffer_body(req, MD_MAX_MSG_BODY);
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
        if (md_sm_removed(s->store, pm->from) == 1) {
            /* A replica the group removed (it was down when it happened, or
             * its operator restarted it): refused, and told why. */
            char why[128];
            snprintf(why, sizeof(why),
                     "replica %u was removed from this group; replica %u does not take its "
                     "messages",
                     pm->from, s->cfg.id);
            px__msg__free_unpacked(pm, NULL);
            return cn_http_respond_error(req, 403, why);
        }
        if (pm->to && pm->to != s->cfg.id) {
            /* Sent to another replica's address: this one took it over (a
             * replica rebuilt on the address of one the group removed). */
            char why[128];
            snprintf(why, sizeof(why),
                     "this address serves replica %u, not replica %u; replica %u is gone",
                     s->cfg.id, pm->to, pm->to);
            px__msg__free_unpacked(pm, NULL);
            return cn_http_respond_error(req, 409, why);
        }
        struct md_event *e = calloc(1, sizeof(*e));
        if (!e) {
            px__msg__free_unpacked(pm, NULL);
            return CAIRN_E_NOMEM;
        }
        e->type = MD_EV_MSG;
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
                md_event_free(e);
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
        md_server_post(s, e); /* a full queue drops the message, as the network may */
    }
    return cn_http_respond(req, 204, NULL, NULL, 0);
}

int md_op_check(enum cn_role role, const void *body, size_t len, int command, char *why,
                size_t why_len)
{
    if (role == CN_ROLE_META || role == CN_ROLE_ADMIN || role == CN_ROLE_LEGACY)
        return 0;
    uint32_t op;
    if (command) {
        Md__Command *c = md__command__unpack(NULL, len, body);
        if (!c)
            return snprintf(why, why_len, "malformed command"), CAIRN_E_PROTO;
        op = (uint32_t)c->op_case;
        md__command__free_unpacked(c, NULL);
    } else {
        Md__Query *q = md__query__unpack(NULL, len, body);
        if (!q)
            return snprintf(why, why_len, "malformed query"), CAIRN_E_PROTO;
        op = (uint32_t)q->q_case;
        md__query__free_unpacked(q, NULL);
    }
    if (command ? cn_roles_command_allowed(role, op) : cn_roles_query_allowed(role, op))
        return 0;
    snprintf(why, why_len, "role %s may not submit %s %u", cn_role_name(role),
             command ? "command op" : "query", op);
    return CAIRN_E_AUTH;
}

/* Roles other than meta and admin may submit only some operations through
 * POST /v1/cmd and /v1/read (cn_roles.h): 0 when the sender may, else the
 * answer (400 or 403) is sent and 1 returned. */
static int op_refused(struct cn_http_req *req, const void *body, size_t len, int command)
{
    char why[128];
    int rc = md_op_check(cn_http_req_role(req), body, len, command, why, sizeof(why));
    if (rc == 0)
        return 0;
    if (rc == CAIRN_E_AUTH)
        CN_WARN(LOG, "req %s: %s", cn_http_req_id(req), why);
    cn_http_respond_error(req, rc == CAIRN_E_AUTH ? 403 : 400, why);
    return 1;
}

/* POST /v1/cmd */
static int cmd_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    uint64_t client_id, seq;
    if (cn_parse_u64(cn_http_req_header(req, CN_HDR_CLIENT), UINT64_MAX, &client_id) ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_SEQ), UINT64_MAX, &seq) || client_id == 0)
        return cn_http_respond_error(req, 400, CN_HDR_CLIENT " and " CN_HDR_SEQ " are required");
    size_t len;
    const void *body = cn_http_req_body(req, &len);
    if (len == 0)
        return cn_http_respond_error(req, 400, "empty command");
    if (op_refused(req, body, len, 1))
        return 0;
    struct md_waiter *w = md_server_submit(s, client_id, seq, body, len);
    if (!w)
        return CAIRN_E_NOMEM;
    int rc;
    if (!md_waiter_wait(w, (int64_t)s->cfg.request_timeout_ms))
        rc =
            cn_http_respond_error(req, 504, "command not applied in time; retry with the same seq");
    else if (w->status != 0)
        rc = respond_status(req, s, w->status, w->leader);
    else if ((rc = md_members_header(req, s)) == 0)
        rc = cn_http_respond(req, 200, "application/x-protobuf", w->result, w->result_len);
    md_waiter_put(w);
    return rc;
}

int md_read_linearizable(struct md_server *s, size_t n, void (*run)(void *ctx),
                         void (*drop)(void *ctx), void *ctx, uint32_t *leader)
{
    *leader = 0;
    /* The lease path on this thread (md_readgate.h): run reads through one
     * store snapshot, taken after the ticket: confirmed, it is the reads'
     * instant. */
    struct md_readgate_ticket t;
    if (!s->cfg.lease_reads_core_only && md_readgate_enter(&s->rgate, md_server_now(), &t)) {
        run(ctx);
        if (md_readgate_confirm(&s->rgate, &t, md_server_now())) {
            s->m_reads_lease_local += n;
            s->m_reads += n;
            return 0;
        }
        drop(ctx);
        s->m_reads_lease_retried += n;
    }
    /* Through the core: read index, or the lease (paxos_read). */
    struct md_event *e = md_event_waited(MD_EV_READ, 0);
    if (!e)
        return CAIRN_E_NOMEM;
    struct md_waiter *w = e->w;
    md_server_post(s, e);
    int status = CAIRN_E_TIMEOUT;
    if (md_waiter_wait(w, (int64_t)s->cfg.request_timeout_ms)) {
        status = w->status;
        *leader = w->leader;
    }
    md_waiter_put(w);
    if (status != 0)
        return status;
    run(ctx);
    s->m_reads_core += n;
    s->m_reads += n;
    return 0;
}

/* One /v1/read query and its answer. */
struct one_read {
    struct md_server *s;
    const void *body;
    size_t len;
    uint8_t *out;
    size_t outlen;
    int qrc;
};

static void one_read_run(void *ctx)
{
    struct one_read *r = ctx;
    r->qrc = md_query(r->s->store, r->body, r->len, &r->out, &r->outlen);
}

static void one_read_drop(void *ctx)
{
    struct one_read *r = ctx;
    free(r->out);
    r->out = NULL;
    r->outlen = 0;
}

/* POST /v1/read: answered here while the leader's lease holds, else once the
 * core confirms it (md_read_linearizable). */
static int read_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    struct one_read r = {.s = s};
    r.body = cn_http_req_body(req, &r.len);
    if (op_refused(req, r.body, r.len, 0))
        return 0;
    uint32_t leader;
    int status = md_read_linearizable(s, 1, one_read_run, one_read_drop, &r, &leader);
    int rc;
    if (status == CAIRN_E_TIMEOUT)
        rc = cn_http_respond_error(req, 504, "read not confirmed in time");
    else if (status != 0)
        rc = respond_status(req, s, status, leader);
    else if (r.qrc != 0)
        rc = cn_http_respond_error(req, 500, cairn_strerror(r.qrc));
    else if ((rc = md_members_header(req, s)) == 0)
        rc = cn_http_respond(req, 200, "application/x-protobuf", r.out, r.outlen);
    free(r.out);
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
    if (cn_parse_u64(cn_http_req_header(req, CN_HDR_FROM), UINT64_MAX, &from) ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_SNAPSHOT_SLOT), UINT64_MAX, &slot))
        return cn_http_respond_error(req, 400,
                                     CN_HDR_FROM " and " CN_HDR_SNAPSHOT_SLOT " required");
    if (fflush(si->f) != 0)
        return CAIRN_E_IO;
    struct md_event *e = calloc(1, sizeof(*e));
    struct md_waiter *w = md_waiter_new();
    char *path = strdup(si->path);
    if (!e || !w || !path) {
        free(e);
        free(path);
        if (w) {
            md_waiter_put(w);
            md_waiter_put(w);
        }
        return CAIRN_E_NOMEM;
    }
    e->type = MD_EV_SNAPSHOT;
    e->from = (uint32_t)from;
    e->seq = slot;
    e->path = path;
    e->w = w;
    md_server_post(s, e);
    int rc;
    if (!md_waiter_wait(w, MD_SNAPSHOT_TIMEOUT))
        rc = cn_http_respond_error(req, 504, "snapshot not installed in time");
    else if (w->status == CAIRN_E_EXISTS)
        rc = cn_http_respond_error(req, 409, "snapshot not needed");
    else if (w->status == CAIRN_E_CORRUPT)
        rc = cn_http_respond_error(req, 422,
                                   "snapshot refused (bad, truncated or of another "
                                   "slot): state kept");
    else if (w->status != 0)
        rc = cn_http_respond_error(req, 500, cairn_strerror(w->status));
    else
        rc = cn_http_respond(req, 204, NULL, NULL, 0);
    md_waiter_put(w);
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

/* POST /v1/heartbeat: a chunkserver says it is alive (leader only). */
/* The garbage grace: records a sample of the applied index now (at most
 * one per interval) and returns the highest index this replica had applied
 * garbage_grace_ms ago, or earlier (0: none that old yet, e.g. just
 * started). A garbage entry added at or below it is old enough: any GET that
 * began before the change that made it garbage has had the grace to finish. */
static uint64_t gc_cutoff(struct md_server *s)
{
    int64_t grace = (int64_t)s->cfg.garbage_grace_ms;
    pthread_mutex_lock(&s->st_mu);
    uint64_t applied = s->st.applied;
    pthread_mutex_unlock(&s->st_mu);
    if (grace <= 0)
        return UINT64_MAX;
    int64_t now = cn_mono_ms();
    int64_t every = grace / (MD_GC_SAMPLES / 2);
    if (every < 1000)
        every = 1000;
    pthread_mutex_lock(&s->gc_mu);
    size_t last = (s->gc_head + s->gc_n - 1) % MD_GC_SAMPLES;
    if (s->gc_n == 0 || now - s->gc_ring[last].ms >= every) {
        size_t at = (s->gc_head + s->gc_n) % MD_GC_SAMPLES;
        if (s->gc_n == MD_GC_SAMPLES)
            s->gc_head = (s->gc_head + 1) % MD_GC_SAMPLES;
        else
            s->gc_n++;
        s->gc_ring[at] = (struct gc_sample){.ms = now, .applied = applied};
    }
    uint64_t cutoff = 0;
    for (size_t i = 0; i < s->gc_n; i++) {
        const struct gc_sample *g = &s->gc_ring[(s->gc_head + i) % MD_GC_SAMPLES];
        if (now - g->ms < grace)
            break;
        cutoff = g->applied;
    }
    pthread_mutex_unlock(&s->gc_mu);
    return cutoff;
}

static int heartbeat_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0) {
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    }
    size_t len;
    const uint8_t *body = cn_http_req_body(req, &len);
    Cl__Heartbeat *hb = cl__heartbeat__unpack(NULL, len, body);
    if (!hb || hb->id == 0) {
        if (hb)
            cl__heartbeat__free_unpacked(hb, NULL);
        return cn_http_respond_error(req, 400, "malformed heartbeat");
    }
    md_live_heard(s->live, hb->id, hb->capacity, hb->free, cn_mono_ms());
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
    uint64_t cutoff = gc_cutoff(s);
    if (known && md_query_exec(s->store, &q, &gr) == 0 && gr->n_garbage > 0) {
        dels = calloc(gr->n_garbage, sizeof(*dels));
        delp = calloc(gr->n_garbage, sizeof(*delp));
        idx = calloc(gr->n_garbage * MD_REPAIR_MAX_FRAGS, sizeof(*idx));
        for (size_t gi = 0; dels && delp && idx && gi < gr->n_garbage; gi++) {
            const Md__ChunkGroup *g = gr->garbage[gi]->group;
            if (!gr->garbage[gi]->never_live && gr->garbage[gi]->added_index > cutoff)
                continue; /* within the grace: perhaps still read */
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
        if (!ghex || cn_parse_u64(cn_http_req_arg(req, "index"), UINT64_MAX, &index) ||
            cn_parse_u64(cn_http_req_arg(req, "cs"), UINT64_MAX, &cs) || index >= 64)
            return cn_http_respond_error(req, 400, "group, index and cs are required");
        rc = md_repair_report_damage(s->repair, gid, (uint32_t)index, cs);
    } else if (ghex) {
        rc = md_repair_repair_group(s->repair, gid);
    } else {
        rc = md_repair_rescan(s->repair);
    }
    if (rc == CAIRN_E_NOTLEADER) {
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    }
    if (rc != 0)
        return cn_http_respond_error(req, cn_http_status_for_error(rc), cairn_strerror(rc));
    return cn_http_respond(req, 202, NULL, NULL, 0);
}

/* POST /v1/packed/compact[?below=PERCENT] (leader only): a compaction pass
 * now (`cairn compact`), answered when it ends: "compacted N". */
static int compact_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0 || !s->compact)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    uint64_t pct = 0;
    const char *below = cn_http_req_arg(req, "below");
    if (below && (cn_parse_u64(below, 100, &pct) || pct == 0))
        return cn_http_respond_error(req, 400, "below must be 1..100 (percent live)");
    uint64_t n = 0;
    int rc = md_compact_now(s->compact, pct / 100.0, &n);
    if (rc == CAIRN_E_NOTLEADER)
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    if (rc != 0)
        return cn_http_respond_error(req, cn_http_status_for_error(rc), cairn_strerror(rc));
    char out[64];
    int len = snprintf(out, sizeof(out), "compacted %" PRIu64 "\n", n);
    return cn_http_respond(req, 200, "text/plain", out, (size_t)len);
}

static void shape_line(FILE *f, const char *name, const struct md_store_shape *sh)
{
    fprintf(f, "%s_bytes %" PRIu64 "\n%s_files ", name, sh->table_bytes, name);
    for (int l = 0; l < MD_STORE_LEVELS; l++)
        fprintf(f, "%s%" PRIu64, l ? "," : "", sh->files[l]);
    fputc('\n', f);
}

/* POST /v1/meta/compact-store (any replica, its own store; `cairn meta
 * compact`): LevelDB compacts everything down to its last level, answered
 * when done with "ms", "before_bytes"/"after_bytes" and the table files per
 * level before and after. One at a time per replica: 409 while one runs. */
static int store_compact_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&s->store_compacting, &idle, 1))
        return cn_http_respond_error(req, 409,
                                     "a store compaction is already running on this replica");
    struct md_store_shape before, after;
    md_store_shape(s->store, &before);
    CN_INFO(LOG, "store compaction: starting (%" PRIu64 " MiB of tables)",
            before.table_bytes >> 20);
    int64_t t0 = cn_mono_ms();
    int rc = md_store_compact_all(s->store);
    int64_t ms = cn_mono_ms() - t0;
    md_store_shape(s->store, &after);
    atomic_store(&s->store_compacting, 0);
    CN_INFO(LOG, "store compaction: done in %" PRId64 " ms (%" PRIu64 " -> %" PRIu64 " MiB)", ms,
            before.table_bytes >> 20, after.table_bytes >> 20);
    if (rc != 0)
        return cn_http_respond_error(req, cn_http_status_for_error(rc), cairn_strerror(rc));
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return cn_http_respond_error(req, 500, NULL);
    fprintf(f, "ms %" PRId64 "\n", ms);
    shape_line(f, "before", &before);
    shape_line(f, "after", &after);
    fclose(f);
    rc = cn_http_respond(req, 200, "text/plain", out, outlen);
    free(out);
    return rc;
}

/* GET /v1/cluster (leader only): one line per chunkserver with its replicated
 * state and the leader's view of its liveness, then the repair queue. For
 * `cairn status`. */
static int cluster_end(struct cn_http_req *req, void *cls)
{
    struct md_server *s = cls;
    if (s->leader_since_ms < 0) {
        return md_respond_not_leader(req, s, md_server_known_leader(s));
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
    int64_t suspect_after = (int64_t)s->cfg.suspect_after_ms;
    int64_t down_after = (int64_t)s->cfg.down_after_ms;
    int64_t out_after = (int64_t)(s->cfg.out_after_ms ? s->cfg.out_after_ms : 600000);
    long long since = s->leader_since_ms;
    /* The thresholds, so readers can say when a suspect goes down and a down
     * one out: "timers SUSPECT_AFTER DOWN_AFTER OUT_AFTER" (ms). */
    fprintf(f, "timers %" PRId64 " %" PRId64 " %" PRId64 "\n", suspect_after, down_after,
            out_after);
    for (size_t i = 0; i < r->n_chunkservers; i++) {
        const Md__ChunkserverRecord *c = r->chunkservers[i];
        int64_t age = -1;
        uint64_t free_b = c->free, cap = c->capacity;
        struct md_live_entry le;
        if (md_live_get(s->live, c->id, &le) == 0) {
            age = now - le.last_seen_ms;
            free_b = le.free;
            cap = le.capacity;
        } else if (since >= 0 && now - since > suspect_after) {
            /* Not heard from in all the time this replica has led. */
            age = now - since;
        }
        /* up: heartbeats on time; suspect: late, not yet down (the loss is not
         * declared, nothing is rebuilt, but nobody may call the data fully
         * redundant); down: degraded, waiting for it to return; out: its
         * fragments are rebuilt elsewhere. unknown: this leader is new and
         * has not heard from it yet. */
        const char *live = age < 0                ? "unknown"
                           : age <= suspect_after ? "up"
                           : age <= down_after    ? "suspect"
                           : age <= out_after     ? "down"
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
    if (s->compact) {
        /* packed groups as of the compactor's last pass, and what it did:
         * "packed GROUPS OPEN DATA_BYTES LIVE_BYTES" and "compact CANDIDATES
         * COMPACTED REWRITTEN RECLAIMED FAILURES LAST_RATE RUNNING" */
        struct md_compact_stats cs;
        md_compact_get_stats(s->compact, &cs);
        char cur[33] = "-";
        if (cs.running)
            cn_hex_encode(cs.current, 16, cur);
        fprintf(f, "packed %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", cs.packed_groups,
                cs.open_groups, cs.data_bytes, cs.live_bytes);
        fprintf(f,
                "compact %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                " %s\n",
                cs.candidates, cs.groups_compacted, cs.bytes_rewritten, cs.bytes_reclaimed,
                cs.failures, cs.last_rate_bytes_s, cur);
    }
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
        return md_respond_not_leader(req, s, md_server_known_leader(s));
    uint64_t count;
    if (cn_parse_u64(cn_http_req_arg(req, "count"), 64, &count) || count == 0)
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
        int skip = c->state != MD__CHUNKSERVER_STATE__CS_ACTIVE ||
                   !md_server_cs_alive(s, c->id, &free_now);
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
        (cn_parse_u64(cn_http_req_arg(req, "min"), UINT64_MAX, &min) || min == 0 || min > count)) {
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
    char lurl_buf[MD_URL_MAX];
    const char *lurl = st.leader && md_server_peer_url(s, st.leader, lurl_buf) ? lurl_buf : NULL;
    /* The state hash reads a consistent store snapshot: equal hashes on two
     * replicas mean identical state (applied index included). */
    uint8_t hash[32];
    if (cn_http_req_arg(req, "hash") && md_sm_state_hash(s->store, hash) == 0)
        cn_hex_encode(hash, sizeof(hash), hash_hex);
    int n = snprintf(buf, sizeof(buf),
                     "id %u\nrole %s\nleader %u\nleader_url %s\nballot %" PRIu64
                     "\npromised %" PRIu64 "\ncommit %" PRIu64 "\napplied %" PRIu64
                     "\nlog_base %" PRIu64 "\nlog_last %" PRIu64 "\npending %u\nstate_hash %s\n",
                     st.id,
                     atomic_load(&s->removed) ? "removed"
                     : st.role < 4            ? role_names[st.role]
                                              : "?",
                     st.leader, lurl ? lurl : "-", st.ballot, st.promised, st.commit, st.applied,
                     st.base, st.last, st.pending, hash_hex);
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
    struct md_replica_counters ctr;
    pthread_mutex_lock(&s->st_mu);
    st = s->st;
    ctr = s->counters;
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
               ctr.slots_applied);
    struct cn_http_server_counters hc = {0};
    cn_http_server_counters(s->http, &hc);
    metric_u64(f, "cairn_meta_connections_accepted_total", "counter",
               "HTTP connections this replica accepted.", hc.accepted);
    metric_u64(f, "cairn_meta_connections_open", "gauge",
               "HTTP connections open now (each holds a thread; --max-connections bounds them).",
               hc.open);
    metric_u64(f, "cairn_meta_commands_applied_total", "counter", "Commands applied.",
               ctr.commands_applied);
    metric_u64(f, "cairn_meta_leader_changes_total", "counter",
               "Times this replica saw a different leader.", (uint64_t)s->m_leader_changes);
    cn_hist_render(f, &s->commit_hist, "cairn_meta_commit_seconds",
                   "Leader: command proposed to committed and applied.");
    metric_u64(f, "cairn_meta_fsyncs_total", "counter", "Paxos log fsyncs (group commits).",
               (uint64_t)s->m_fsyncs);
    metric_u64(f, "cairn_meta_store_syncs_total", "counter",
               "Syncs of the state machine's store by the persist thread (at most one per "
               "10 ms: its writes are not covered by the Paxos log's fsyncs).",
               (uint64_t)s->m_store_syncs);
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
    metric_u64(f, "cairn_meta_batches_total", "counter",
               "POST /v1/batch requests answered (each carries several clients' commands and "
               "reads).",
               (uint64_t)s->m_batches);
    metric_u64(f, "cairn_meta_batch_items_total", "counter",
               "Commands and reads that arrived in batches.", (uint64_t)s->m_batch_items);
    cn_metrics_family(f, "cairn_meta_reads_path_total", "counter",
                      "Linearizable reads served, by path: lease (on the HTTP thread under the "
                      "leader lease) or core (confirmed by the core thread).");
    cn_metrics_u64(f, "cairn_meta_reads_path_total", "path=\"lease\"",
                   (uint64_t)s->m_reads_lease_local);
    cn_metrics_u64(f, "cairn_meta_reads_path_total", "path=\"core\"", (uint64_t)s->m_reads_core);
    metric_u64(f, "cairn_meta_reads_lease_retried_total", "counter",
               "Lease reads whose lease was revoked or ran out while they read: thrown away and "
               "done again through the core.",
               (uint64_t)s->m_reads_lease_retried);
    metric_u64(f, "cairn_meta_snapshots_sent_total", "counter", "Snapshots sent to peers.",
               (uint64_t)s->m_snap_sent);
    metric_u64(f, "cairn_meta_snapshots_installed_total", "counter", "Snapshots installed.",
               ctr.snapshots_installed);
    metric_u64(f, "cairn_meta_snapshots_refused_total", "counter",
               "Snapshots refused (bad, truncated or of another slot; state kept).",
               ctr.snapshots_refused);
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
    if (s->lifecycle) {
        /* What this replica's lifecycle worker did while it led. */
        uint64_t expired, aborted;
        md_lifecycle_stats(s->lifecycle, &expired, &aborted);
        metric_u64(f, "cairn_lifecycle_expired_total", "counter",
                   "Objects this replica expired under bucket lifecycle rules (as leader).",
                   expired);
        metric_u64(f, "cairn_lifecycle_aborted_uploads_total", "counter",
                   "Multipart uploads this replica aborted under lifecycle rules (as leader).",
                   aborted);
    }
    if (s->sealer) {
        /* What this replica's packed-group sealer did while it led. */
        struct md_sealer_stats ss;
        md_sealer_get_stats(s->sealer, &ss);
        metric_u64(f, "cairn_packed_idle_sealed_total", "counter",
                   "Open packed groups this replica sealed because their writer went idle.",
                   ss.idle_sealed);
        metric_u64(f, "cairn_packed_groups_finished_total", "counter",
                   "Sealed packed groups whose fragments this replica had sealed on the "
                   "chunkservers.",
                   ss.groups_finished);
        metric_u64(f, "cairn_packed_fragments_sealed_total", "counter",
                   "Packed-group fragments sealed on chunkservers.", ss.fragments_sealed);
        metric_u64(f, "cairn_packed_fragments_skipped_total", "counter",
                   "Packed-group fragments left to repair (chunkserver down or retired).",
                   ss.fragments_skipped);
        metric_u64(f, "cairn_packed_seal_failures_total", "counter",
                   "Fragment seal requests that failed (retried, or left to repair).",
                   ss.seal_failures);
    }
    if (s->compact) {
        /* What this replica's compactor did while it led, and the packed
         * groups as of its last pass. */
        struct md_compact_stats cs;
        md_compact_get_stats(s->compact, &cs);
        metric_u64(f, "cairn_compact_groups_total", "counter",
                   "Packed groups this replica compacted (as leader).", cs.groups_compacted);
        metric_u64(f, "cairn_compact_rewritten_bytes_total", "counter",
                   "Fragment bytes chunkservers wrote for compactions.", cs.bytes_rewritten);
        metric_u64(f, "cairn_compact_reclaimed_bytes_total", "counter",
                   "Fragment bytes of compacted groups handed to garbage, less their "
                   "replacements.",
                   cs.bytes_reclaimed);
        metric_u64(f, "cairn_compact_failures_total", "counter",
                   "Compactions abandoned (a copy failed or the commit was refused).", cs.failures);
        metric_u64(f, "cairn_packed_data_bytes", "gauge",
                   "Data bytes of all packed groups (as of the last compaction pass).",
                   cs.data_bytes);
        metric_u64(f, "cairn_packed_live_bytes", "gauge",
                   "Live object bytes in packed groups (as of the last compaction pass).",
                   cs.live_bytes);
    }
    int rc;
    if (fclose(f) != 0)
        rc = cn_http_respond_error(req, 500, NULL);
    else
        rc = cn_http_respond(req, 200, "text/plain; version=0.0.4", buf, len);
    free(buf);
    return rc;
}

int md_handlers_register(struct md_server *s)
{
    const struct cn_http_handler msg = {.begin = msg_begin, .end = msg_end};
    const struct cn_http_handler cmd = {.begin = buffer_begin, .end = cmd_end};
    const struct cn_http_handler rd = {.begin = buffer_begin, .end = read_end};
    const struct cn_http_handler snap = {
        .begin = snap_begin, .body = snap_body, .end = snap_end, .done = snap_done};
    const struct cn_http_handler status = {.end = status_end};
    const struct cn_http_handler place = {.begin = client_begin, .end = place_end};
    const struct cn_http_handler repair = {.begin = client_begin, .end = repair_end};
    const struct cn_http_handler cluster = {.begin = client_begin, .end = cluster_end};
    const struct cn_http_handler compact = {.begin = client_begin, .end = compact_end};
    const struct cn_http_handler store_compact = {.end = store_compact_end};
    const struct cn_http_handler heartbeat = {.begin = client_buffer_begin, .end = heartbeat_end};
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
            : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_COMPACT, CN_HTTP_ROUTE_EXACT,
                                   &compact, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "POST", CN_ROUTE_MD_STORE_COMPACT, CN_HTTP_ROUTE_EXACT,
                                   &store_compact, s);
    rc = rc ? rc
            : cn_http_server_route(s->http, "GET", CN_ROUTE_METRICS,
                                   CN_HTTP_ROUTE_EXACT | CN_HTTP_ROUTE_PUBLIC, &metrics, s);
    rc = rc ? rc : md_batch_register(s);
    return rc ? rc : md_membership_register(s);
}
