/* Private to the cairn-meta daemon (md_server.c: threads, queues, start and
 * stop; md_handlers.c: the HTTP API). Nothing else includes this. */
#ifndef CAIRN_MD_SERVER_INT_H
#define CAIRN_MD_SERVER_INT_H

#include "cn_metrics.h"
#include "cn_roles.h"
#include "md_live.h"
#include "md_plog.h"
#include "md_readgate.h"
#include "md_replica.h"
#include "md_server.h"
#include "md_waiter.h"
#include "paxos.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MD_LOG          "meta"
#define MD_MAX_MSG_BODY (64u << 20) /* largest POST /paxos/msg accepted */
#define MD_MAX_CMD_BODY (8u << 20)  /* largest command or query accepted */
#define MD_SNAPSHOT_TIMEOUT                                                                        \
    (600000) /* ms: sending or installing one snapshot (a store of                                 \
              * 10^7 objects is ~1 GB to write into LevelDB) */
#define MD_MAX_TRACKED_CS 4096
#define MD_URL_MAX        256
#define MD_MAX_SEEDS      (2 * MD_MAX_PEERS)

struct cn_http_server;
struct cn_http_req;
struct md_repair;
struct md_store;

/* ---- events for the core thread ---- */
enum md_ev_type {
    MD_EV_MSG,
    MD_EV_SUBMIT,
    MD_EV_READ,
    MD_EV_SNAPSHOT,
    MD_EV_PERSISTED,
    MD_EV_CHANGE /* a membership change: from = op, seq = replica id */
};

struct md_event {
    enum md_ev_type type;
    struct md_event *next;
    struct md_waiter *w;
    /* MD_EV_MSG */
    struct paxos_msg msg;
    struct paxos_entry *entries;
    uint8_t *blob; /* entry values */
    /* MD_EV_SUBMIT */
    uint64_t client_id, seq;
    uint8_t *data;
    uint32_t len;
    /* MD_EV_SNAPSHOT: path, from, seq = slot; MD_EV_PERSISTED: seq */
    char *path;
    uint32_t from;
};

struct md_outmsg {
    struct md_outmsg *next;
    size_t len;
    uint8_t buf[]; /* u32 big-endian length + packed px.Msg */
};

struct md_peer {
    struct md_server *srv;
    uint32_t id; /* 0: a free slot */
    char url[MD_URL_MAX];
    pthread_t thread;
    int started;
    int retire; /* its replica left the group: the thread ends */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct md_outmsg *head, *tail;
    size_t bytes;
    atomic_int snapshot_wanted;
};

/* Samples of the applied index kept for the garbage grace: one per
 * grace / (MD_GC_SAMPLES / 2) (at least a second), so they span two graces. */
#define MD_GC_SAMPLES 128

struct md_server {
    struct md_server_config cfg;
    char *data_dir, *bind_addr;
    struct md_store *store;
    struct md_replica *rep; /* core thread only */
    uint64_t rng;
    struct cn_http_server *http;

    /* event queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct md_event *qhead, *qtail;
    size_t qlen;
    atomic_int stopping;
    pthread_t core_thread;
    int core_started;

    /* the persist thread: writes a handed-off batch of records with one
     * fsync while the core keeps working (group commit) */
    pthread_t persist_thread;
    int persist_started;
    pthread_mutex_t pq_mu;
    pthread_cond_t pq_cv;
    struct md_plog_batch pq; /* owned by the persist thread while pq.n > 0 */
    int persist_stop;
    uint32_t last_role;   /* core thread */
    uint32_t last_leader; /* core thread */

    /* senders to the other replicas, made when the core first sends to one;
     * with the seeds (the --peers list, the members a join learned) under
     * peers_mu */
    pthread_mutex_t peers_mu;
    struct md_peer peers[MD_MAX_PEERS];
    uint32_t n_peers; /* slots ever used */
    struct {
        uint32_t id;
        char url[MD_URL_MAX];
    } seeds[MD_MAX_SEEDS];
    uint32_t n_seeds;
    char self_url[MD_URL_MAX];
    char self_host[MD_URL_MAX];           /* self_url's host:port: a Host requests may name */
    const char *host_names[2];            /* {self_host, NULL} for the HTTP server */
    pthread_mutex_t change_mu;            /* one membership change request at a time */
    int records_done;                     /* core: this leadership recorded the members' URLs */
    uint64_t records_client, records_seq; /* core thread's own commands */
    uint64_t admin_client, admin_seq;     /* membership requests (under change_mu) */

    pthread_t snap_thread;
    int snap_started;
    pthread_mutex_t snap_mu;
    pthread_cond_t snap_cv;
    atomic_int snap_receiving;

    struct md_live *live; /* chunkserver heartbeats (leader) */
    struct md_repair *repair;
    struct md_lifecycle *lifecycle; /* the leader's lifecycle worker */
    struct md_sealer *sealer;       /* the leader's packed-group sealing worker */
    struct md_compact *compact;     /* the leader's packed-group compactor */
    atomic_int store_compacting;    /* a `cairn meta compact` runs on this store */
    atomic_int removed; /* the group removed this replica: it applied that, or a member said so */
    int was_member;     /* core: this replica has been in an applied membership */
    atomic_llong leader_since_ms; /* when this replica last became leader; -1 if not */

    /* garbage grace (md_handlers.c): (cn_mono_ms, applied index) samples,
     * oldest first, at most one per gc_every_ms; under gc_mu */
    pthread_mutex_t gc_mu;
    struct gc_sample {
        int64_t ms;
        uint64_t applied;
    } gc_ring[MD_GC_SAMPLES];
    size_t gc_n, gc_head;
    /* published by the core thread for handlers, under st_mu */
    pthread_mutex_t st_mu;
    struct paxos_status st;
    struct paxos_membership members;        /* applied */
    struct paxos_membership members_latest; /* with a change in flight */
    struct md_replica_counters counters;

    /* Lease reads on the HTTP threads (md_readgate.h): published by the core
     * after each round, revoked by it before anything that may end the lease. */
    struct md_readgate rgate;

    /* metrics */
    atomic_uint_fast64_t m_leader_changes, m_fsyncs, m_fsync_us, m_msgs_sent, m_msgs_dropped,
        m_msgs_recv, m_snap_sent, m_reads;
    atomic_uint_fast64_t m_store_syncs; /* the state store's syncs by the persist thread */
    /* reads answered on the HTTP thread under the lease / through the core;
     * fast-path attempts whose confirm failed (done again through the core) */
    atomic_uint_fast64_t m_reads_lease_local, m_reads_core, m_reads_lease_retried;
    /* POST /v1/batch requests and the items they carried */
    atomic_uint_fast64_t m_batches, m_batch_items;
    cn_hist commit_hist; /* leader: proposed -> committed and applied, per command */
};

/* md_server.c: queues an event for the core thread. Returns 0, or
 * CAIRN_E_BUSY / CAIRN_E_SHUTDOWN (the event is freed, its waiter completed). */
int md_server_post(struct md_server *s, struct md_event *e);
void md_event_free(struct md_event *e);
/* Hands a client command (copied) to the core thread. Returns the waiter on
 * which its outcome arrives (wait, then md_waiter_put), or NULL. */
/* A new event of type with its waiter (e->w, two references: the event's and
 * the caller's) and, when extra > 0, extra bytes at e->data (e->len = extra).
 * NULL when out of memory. */
struct md_event *md_event_waited(enum md_ev_type type, size_t extra);
/* Submits a command as md_server_submit and waits for its result: 0, the
 * state machine's status, CAIRN_E_TIMEOUT (not applied in time) or the
 * submission's error. */
int md_server_commit(struct md_server *s, uint64_t client_id, uint64_t seq, const uint8_t *cmd,
                     size_t len);
struct md_waiter *md_server_submit(struct md_server *s, uint64_t client_id, uint64_t seq,
                                   const void *cmd, size_t len);
/* The base URL of replica id into out[MD_URL_MAX]: its replicated record,
 * else a seed. Returns 1 when known, 0 otherwise (out ""). Any thread. */
int md_server_peer_url(struct md_server *s, uint32_t id, char *out);
/* A membership change on the core thread (MD_EV_CHANGE): op is a
 * paxos_change op, or MD_OP_TRANSFER (hand leadership to id, 0: the most
 * caught-up voter). The waiter's status is the result; its leader the hint
 * (for a transfer, the successor). */
#define MD_OP_TRANSFER 0x100u
struct md_waiter *md_server_change(struct md_server *s, uint32_t op, uint32_t id);
/* The clock of the core and of the read gate (ms, monotonic, counting
 * suspended time). Any thread. */
uint64_t md_server_now(void);
/* The leader this replica knows of (0 if none), as the core last published. */
uint32_t md_server_known_leader(struct md_server *s);
/* Whether chunkserver id may receive new fragments: heard from within
 * down_after, or (after a failover, before heartbeats arrive) this replica
 * became leader less than down_after ago. *free_out: its free bytes. */
int md_server_cs_alive(struct md_server *s, uint64_t id, uint64_t *free_out);

/* md_handlers.c: every HTTP route of the daemon. */
int md_handlers_register(struct md_server *s);
/* md_membership.c: GET /v1/members and POST /v1/meta/change. */
int md_membership_register(struct md_server *s);
/* md_handlers.c: a 421 naming the leader (and its URL when known). */
int md_respond_not_leader(struct cn_http_req *req, struct md_server *s, uint32_t leader);
/* md_handlers.c: the membership's fingerprint header on a client answer. */
int md_members_header(struct cn_http_req *req, struct md_server *s);
/* md_handlers.c: whether role may submit the packed command (command 1) or
 * query (0) body[len]: 0 yes; CAIRN_E_PROTO when it does not decode;
 * CAIRN_E_AUTH when the role may not (why[why_len] says which op). */
int md_op_check(enum cn_role role, const void *body, size_t len, int command, char *why,
                size_t why_len);
/* md_handlers.c: a linearizable read of n queries. run(ctx) reads the store
 * (through one snapshot per query): on this thread under the leader lease
 * (md_readgate.h; when the ticket does not confirm, drop(ctx) throws the
 * answers away and the read goes on below), else after one confirmation by
 * the core thread (read index or lease). Returns 0 when run's answers stand,
 * else the status (CAIRN_E_TIMEOUT: not confirmed in time; with
 * CAIRN_E_NOTLEADER *leader is the hint). Counts the reads by path. */
int md_read_linearizable(struct md_server *s, size_t n, void (*run)(void *ctx),
                         void (*drop)(void *ctx), void *ctx, uint32_t *leader);
/* md_batch_serve.c: POST /v1/batch. */
int md_batch_register(struct md_server *s);
/* md_membership.c: a fingerprint of m (the same on every replica for the same
 * members and roles; never 0). */
uint64_t md_members_fingerprint(const struct paxos_membership *m);

#endif
