/* The replica simulator's insides, shared by rsim.c (world, network,
 * replicas, checks), rsim_client.c (clients and their history) and
 * rsim_admin.c (the operator: membership changes). See rsim.h. */
#ifndef CAIRN_RSIM_INT_H
#define CAIRN_RSIM_INT_H

#include "lincheck.h"
#include "md_readgate.h"
#include "md_replica.h"
#include "md_store.h"
#include "paxos.h"
#include "rsim.h"

#include <stddef.h>
#include <stdint.h>

#define RS_MAXN     16 /* replica ids 1..RS_MAXN, never reused */
#define RS_CLIENTS  5  /* at most; clients[RS_CLIENTS] is the operator's */
#define RS_GROUPS   3  /* key prefixes "g0/".."g2/", LC_GROUP_KEYS keys each */
#define RS_BUCKET   "simbkt"
#define RS_TICK_MS  15 /* the daemon ticks every heartbeat/2 */
#define RS_HEART_MS 30
#define RS_ELECT_MS 200

enum rs_ev {
    EV_MSG = 1,   /* a Paxos message arrives at node */
    EV_TICK,      /* node's timer */
    EV_PERSIST,   /* node's persist thread: md_plog_write of the batch it holds */
    EV_PERSISTED, /* ... and the core hears of it */
    EV_SNAP_SEND, /* node's snapshot thread streams to x */
    EV_SNAP_RECV, /* a snapshot stream arrives at node */
    EV_CREQ,      /* a client request arrives at node */
    EV_QUERY,     /* node's handler runs a read whose read_done came */
    EV_CREP,      /* a reply arrives at a client */
    EV_CTIMER,    /* a client's retry timer */
    EV_CSTART,    /* a client starts its next operation */
    EV_FAULT,     /* the fault injector */
    EV_RESTART,   /* node restarts after a crash */
    EV_ADMIN,     /* the operator takes its next step */
    EV_ATTACK,    /* the lease attack's second half (node: the leader attacked) */
    EV__COUNT
};

/* A client's answer, decoded at the replica. */
struct rs_reply {
    uint32_t client;
    uint64_t op;   /* the client's operation number */
    int status;    /* transport: 0, CAIRN_E_NOTLEADER (hint), CAIRN_E_BUSY, ... */
    uint32_t hint; /* leader hint */
    int result;    /* the command's or query's status (CAIRN_E_PRECOND, ...) */
    uint32_t got;  /* GET: ETag number; DELETE: existed */
    uint32_t list[LC_GROUP_KEYS];
};

struct rs_msg {
    struct paxos_msg m;
    struct paxos_entry *ents;
};

struct rs_event {
    uint64_t time, seq;
    int type;
    uint32_t node, from, inc; /* node and from are replica ids (1-based) */
    uint64_t x;
    struct rs_msg *msg;
    uint8_t *buf; /* EV_SNAP_RECV: the stream; EV_CREQ, EV_QUERY: the request */
    size_t len;
    int damaged;   /* EV_SNAP_RECV: the stream was damaged on purpose */
    uint32_t kind; /* EV_CREQ, EV_QUERY: the operation (enum lc_bkind, RS_OP_*) */
    struct rs_reply rep;
    /* EV_QUERY of a read taken on the lease path: the ticket to confirm */
    int lease_local;
    struct md_readgate_ticket tk;
};

struct rsim;

struct rs_node {
    struct rsim *sim;
    uint32_t id;
    int exists;  /* started at least once */
    int up;      /* its process runs */
    int retired; /* the operator stopped it for good (removed) */
    int removed; /* knows the group removed it: no ticks, as the daemon */
    int was_member;
    int dead; /* io->fatal in the current call: outputs dropped, crash follows */
    uint32_t inc;
    struct md_store *store; /* the live store; tracks durability */
    struct md_replica *rep;
    struct md_plog_batch persisting; /* what the persist thread writes */
    int persist_busy;
    int snap_sending; /* a send_snapshot is queued for the snapshot thread */
    uint32_t snap_to[RS_MAXN + 1];
    /* its monotonic clock: clk_base at simulated time clk_t0, then clock_pm
     * per mille of simulated time, plus a step clk_off in [0, jump] */
    uint32_t clock_pm;
    uint64_t clk_base, clk_t0, clk_off;
    /* until then io->random returns 0: election timeouts at their shortest */
    uint64_t rand_low_until;
    uint64_t paused_until;
    uint64_t applied_seen;
    struct paxos_status st; /* as of its last round */
    /* the daemon's lease-read gate: published after each round, revoked by
     * lease_lost; reads check it as cairn-meta's HTTP threads do */
    struct md_readgate gate;
};

/* One client operation; hist is the lincheck record. */
struct rs_client {
    uint32_t idx;
    uint64_t client_id;
    uint64_t op; /* operation number: the command seq, and reply matching */
    int busy;
    int kind;        /* enum lc_bkind, or the operator's RS_OP_* */
    uint32_t target; /* replica id it sends to */
    uint64_t gen;    /* retry timer generation */
    uint64_t started;
    uint8_t *cmd; /* the packed command or query, resent as is */
    size_t cmd_len;
    int is_read;
    uint32_t hist; /* index in sim->hist (clients only) */
    uint32_t next_value;
    uint32_t seen[RS_GROUPS][LC_GROUP_KEYS]; /* last ETag it saw per key */
    struct rs_reply done;                    /* the operator: its last answer */
};

/* The operator's one task at a time (rsim_admin.c). */
struct rs_admin {
    int task; /* RS_T_* */
    int step;
    uint32_t id;       /* the replica added / removed */
    uint32_t old;      /* REPLACE: the one to remove once the new one votes */
    uint64_t deadline; /* of the current step */
    uint64_t started;
    int keep_running;             /* REMOVE: leave the removed replica running */
    struct paxos_membership join; /* ADD: what the new replica is given (GET /v1/members) */
    uint64_t join_at;             /* ADD: when it starts */
};

enum { RS_OP_CREATE_BUCKET = 100, RS_OP_SET_REPLICA, RS_OP_FORGET_REPLICA };

struct rs_slot_hash {
    uint64_t slot;
    uint8_t h[32];
};

struct rs_leader {
    uint64_t ballot;
    uint32_t node, inc;
};

struct rsim {
    struct rsim_opts o;
    struct rsim_result *r;
    uint64_t rng;
    uint64_t now;
    uint64_t ev_seq;
    uint64_t step;
    int failed;
    int healing;
    struct rs_event *heap;
    size_t heap_len, heap_cap;
    /* replicas */
    struct rs_node nodes[RS_MAXN + 1]; /* by id; [0] unused */
    uint32_t max_id;                   /* highest id started so far */
    uint32_t next_id;                  /* the operator's next new id (never reused) */
    uint32_t n_init;
    struct md_replica_config base_cfg;
    int cut[RS_MAXN + 1][RS_MAXN + 1]; /* cut[a][b]: a -> b is lost */
    /* fault model, drawn from the seed */
    uint32_t p_drop, p_dup, p_slow, p_snap_bad; /* per mille */
    uint32_t max_delay, disk_delay, drift;      /* drift: clock rate error, per mille */
    uint32_t jump;                              /* clock steps, ms */
    /* a lease attack on replica attack_ld runs until attack_until: no other
     * fault meanwhile; odd clients write through the other replicas, even
     * ones read from it */
    uint64_t attack_until;
    uint32_t attack_ld;
    int membership_ops;
    int bucket_ready;
    /* clients and the operator */
    uint32_t n_clients;
    struct rs_client clients[RS_CLIENTS + 1];
    struct rs_admin admin;
    /* oracle */
    struct rs_slot_hash *hashes; /* state hash per applied slot, sorted */
    size_t n_hashes, cap_hashes;
    struct rs_leader *leaders;
    size_t n_leaders, cap_leaders;
    struct lc_bop *hist;
    size_t n_hist, cap_hist;
};

/* rsim.c */
void rs_fail(struct rsim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t rs_rnd(struct rsim *s, uint64_t n);
void *rs_xrealloc(void *p, size_t n);
void rs_push(struct rsim *s, struct rs_event *e);
uint64_t rs_net_delay(struct rsim *s);
/* Whether the network loses this message (never during a lease attack). */
int rs_net_drop(struct rsim *s);
uint64_t rs_node_now(const struct rsim *s, const struct rs_node *nd);
/* The up replica leading with the highest ballot, or NULL. */
struct rs_node *rs_leader(struct rsim *s);
/* A lease attack starts: even clients turn to s->attack_ld, odd ones away. */
void rs_clients_attack(struct rsim *s);
/* After any call into nd's replica: end of round (as the daemon's core
 * thread), hand-off to the persist thread, checks; a crash if it died. */
void rs_after(struct rsim *s, struct rs_node *nd);
/* Starts replica id with an empty store, joining with membership m. */
void rs_node_join(struct rsim *s, uint32_t id, const struct paxos_membership *m);
/* The operator stops a removed replica for good. */
void rs_node_retire(struct rsim *s, struct rs_node *nd);
void rs_trace(struct rsim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* rsim_client.c */
void rs_clients_init(struct rsim *s);
void rs_client_start(struct rsim *s, struct rs_client *c);
void rs_client_timer(struct rsim *s, struct rs_client *c, uint64_t gen);
void rs_client_reply(struct rsim *s, const struct rs_reply *q);
/* A request arriving at a replica (EV_CREQ). */
void rs_node_request(struct rsim *s, struct rs_node *nd, const struct rs_event *e);
/* md_replica_io callbacks for commands and reads (token: a request). */
void rs_cmd_done(void *ctx, void *token, int status, uint32_t leader, uint8_t *result, size_t len);
void rs_read_done(void *ctx, void *token, int status, uint32_t leader);
/* EV_QUERY: runs the read (token in x). */
void rs_node_query(struct rsim *s, struct rs_node *nd, const struct rs_event *e);
/* The operator's commands: submits one through client slot RS_CLIENTS. */
void rs_admin_command(struct rsim *s, int kind, uint32_t id);
int rs_clients_idle(struct rsim *s);
/* The end: a listing of every group on the leader, appended to the history,
 * then the linearizability check. */
void rs_clients_final(struct rsim *s, struct rs_node *leader);

/* rsim_admin.c */
void rs_admin_step(struct rsim *s);
int rs_admin_idle(const struct rsim *s);
void rs_admin_maybe_start(struct rsim *s);

#endif
