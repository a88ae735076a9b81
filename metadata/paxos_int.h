/* Private to the Multi-Paxos core (metadata/paxos*.c): the replica's state and
 * the helpers its files share. Nothing outside metadata/paxos*.c includes this;
 * the contract is metadata/paxos.h. Like the rest of the core it is pure: no I/O
 * header, no clock, no randomness but io->random.
 *
 * The core is cut along its seams:
 *   paxos.c             construction, the event entry points, tick dispatch, the
 *                       value codec, the log, persistence and the outbox
 *   paxos_election.c    pre-vote, Phase 1 (prepare/promise), taking and leaving
 *                       leadership, check-quorum, the leader lease
 *   paxos_replication.c Phase 2 (accept/accepted), commit and apply, learn,
 *                       batching and the window, heartbeats, read index
 *   paxos_membership.c  membership sets and their codec, the peer table,
 *                       membership change (learners, promote, remove)
 * Functions shared between these files are prefixed pxc_ (paxos core), apart
 * from the public paxos_ API and the protobuf-c px__ names of the daemon. */
#ifndef CAIRN_PAXOS_INT_H
#define CAIRN_PAXOS_INT_H

#include "paxos.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOD "paxos"
/* An acceptor ignores slots further than this beyond its trim point. */
#define MAX_LOG_SPAN         (1u << 16)
#define MAX_MSG_ENTRIES_HARD 256
#define PLACEHOLDER          UINT64_MAX
#define LEASE_RING           64

struct log_ent {
    uint64_t ballot;
    uint64_t pseq; /* persist record that wrote it (0: restored, durable) */
    uint32_t len;
    bool queued;   /* written in memory, not yet handed to io->persist */
    uint8_t *data; /* NULL: slot empty */
};

struct peer {
    uint32_t id;
    uint64_t match;      /* highest slot known durably accepted in our ballot (or chosen) */
    uint64_t reported;   /* match in its latest ack: lower than match after it restarted */
    uint64_t next;       /* next slot to send */
    uint64_t acked_read; /* highest read round acknowledged in our ballot */
    uint64_t last_ack;   /* time of the last ACCEPTED in our ballot */
    uint64_t snap_sent;  /* time a snapshot was last requested, 0 = never */
    bool acked;          /* has acknowledged anything in our ballot */
    bool voted;          /* pre-vote granted / promise received */
    bool prepared;       /* candidate: PREPARE sent */
};

struct pending_cmd {
    uint64_t client_id;
    uint64_t seq;
    uint32_t len;
    uint8_t *data;
};

struct pending_read {
    uint64_t id;
    uint64_t index; /* PLACEHOLDER until our first slot commits */
    uint64_t round;
    bool confirmed;
};

struct outmsg {
    struct outmsg *next;
    uint64_t after; /* send when durable_seq >= after */
    uint32_t to;
    struct paxos_msg msg;
    struct paxos_entry *entries;
};

struct inflight {
    uint64_t seq;
    uint64_t promised;
};

struct paxos {
    struct paxos_config cfg;
    struct paxos_io *io;
    uint64_t now;
    struct paxos_membership conf;  /* applied: in force for slot applied + 1 */
    struct paxos_membership lconf; /* leader: in force after the last slot of its log */
    uint64_t lconf_slot;           /* leader: slot of an uncommitted change, else 0 */

    uint32_t role;
    uint32_t leader;
    uint64_t ballot; /* own ballot while candidate or leader */
    uint64_t promised;
    uint64_t promised_durable;
    uint64_t max_round;
    uint64_t transfer_ballot; /* candidate: its PREPAREs carry the transfer flag */
    bool transfer_pending;    /* the next candidacy is a transfer's */
    bool handing_over;        /* leader: sent TIMEOUT_NOW this term, so holds no lease:
                                 a transfer's PREPARE is granted regardless of leases */

    /* persistence */
    uint64_t persist_seq;
    uint64_t durable_seq;
    bool dirty_promise;
    uint64_t trim_pending;
    uint64_t *wq; /* slots to write in the next record */
    size_t wq_len, wq_cap;
    struct inflight *infl;
    size_t infl_len, infl_cap;

    /* log: slot s lives at log[s - base - 1] for base < s <= base + log_len */
    uint64_t base;
    struct log_ent *log;
    size_t log_len, log_cap;
    uint64_t commit;
    uint64_t applied;

    /* follower */
    bool have_contact;
    uint64_t last_contact;
    uint64_t election_deadline;
    bool ack_pending;
    uint32_t ack_to;
    uint64_t ack_after;
    uint64_t read_seen_ballot;
    uint64_t read_seen;
    uint64_t match_cache_ballot;
    uint64_t match_cache;

    /* candidate: best value seen per open slot, p1[s - p1_base - 1] */
    uint64_t cand_seq;
    uint64_t p1_base;
    struct log_ent *p1;
    size_t p1_len, p1_cap;

    /* leader */
    struct peer peers[PAXOS_MAX_REPLICAS];
    uint64_t term_start;
    uint64_t hb_round;
    uint64_t round_sent[LEASE_RING]; /* send time of heartbeat round r at [r % ring] */
    uint64_t lease_until;            /* leader: reads need no round before this */
    uint64_t probe_round;            /* last read round started (0: none) */
    bool round_wanted;               /* reads wait for the round after probe_round */
    uint64_t next_heartbeat;
    uint64_t checkq_deadline;
    struct pending_cmd *cmds; /* ring */
    size_t cmd_head, cmd_len, cmd_cap;
    struct pending_read *reads;
    size_t reads_len, reads_cap;

    struct outmsg *out_head, *out_tail;
    struct paxos_cmd *applybuf;
    size_t applybuf_cap;
};

/* What pxc_has_quorum_both counts. */
enum { Q_READ, Q_ALIVE };

/* ---------- small helpers ---------- */

static inline uint64_t umax(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static inline uint64_t umin(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---------- log: slot s lives at log[s - base - 1] ---------- */

static inline struct log_ent *log_at(struct paxos *p, uint64_t slot)
{
    if (slot <= p->base || slot > p->base + p->log_len)
        return NULL;
    return &p->log[slot - p->base - 1];
}

static inline struct log_ent *log_get(struct paxos *p, uint64_t slot)
{
    struct log_ent *e = log_at(p, slot);
    return e && e->data ? e : NULL;
}

static inline uint64_t log_last(const struct paxos *p)
{
    return p->base + p->log_len;
}

/* ---------- paxos.c ---------- */

/* Grows arr (elements of elem bytes, *cap of them) to hold need, zeroing the new
 * part; returns the (possibly moved) array. Aborts if out of memory. */
void *pxc_grow(void *arr, size_t *cap, size_t need, size_t elem);
/* A malloc'ed copy of len bytes (at least 1 byte allocated). Aborts if out of memory. */
uint8_t *pxc_dupbytes(const uint8_t *d, uint32_t len);
/* Stores (slot, ballot, value) in memory and queues it for the next persist record. */
void pxc_log_put(struct paxos *p, uint64_t slot, uint64_t ballot, const uint8_t *data,
                 uint32_t len);
/* Sends m to `to` now (sets m->from). */
void pxc_send_msg(struct paxos *p, uint32_t to, struct paxos_msg *m);
/* Sends m (copied) once everything persisted so far in this call is durable. */
void pxc_send_after_durable(struct paxos *p, uint32_t to, const struct paxos_msg *m);
/* Ends every entry point: persists, releases what waited for durability, and
 * lets a candidate or leader make progress. */
void pxc_finish(struct paxos *p);

/* ---------- paxos_membership.c ---------- */

bool pxc_ms_voter(const struct paxos_membership *m, uint32_t id);
/* Voter or learner. */
bool pxc_ms_member(const struct paxos_membership *m, uint32_t id);
/* Votes needed for a majority of m's voters. */
uint32_t pxc_ms_quorum(const struct paxos_membership *m);
/* 1..PAXOS_MAX_REPLICAS voters, valid distinct ids. */
bool pxc_ms_valid(const struct paxos_membership *m);
/* The peer record of replica id, or NULL. */
struct peer *pxc_peer_find(struct paxos *p, uint32_t id);
/* Finds or allocates the peer record of a member (NULL if the table is full). */
struct peer *pxc_peer_add(struct paxos *p, uint32_t id);
/* Gives every member of the applied and the latest membership a peer record. */
void pxc_peers_sync(struct paxos *p);
/* Replicas the leader replicates to: members of the applied and latest configs. */
bool pxc_is_target(const struct paxos *p, uint32_t id);

/* ---------- paxos_election.c ---------- */

/* An election timeout drawn from [election_ms, 2 * election_ms). */
uint64_t pxc_random_timeout(struct paxos *p);
/* Forgets the candidate's Phase 1 values. */
void pxc_p1_free(struct paxos *p);
/* Leaves any candidate/leader role; `leader` is the new leader hint (or 0). */
void pxc_become_follower(struct paxos *p, uint32_t leader);
/* The leader hint given to clients (0 from a replica outside the membership). */
uint32_t pxc_leader_hint(const struct paxos *p);
/* Voters of m whose pre-vote or promise this replica holds. */
uint32_t pxc_votes_in(struct paxos *p, const struct paxos_membership *m);
void pxc_start_prevote(struct paxos *p);
void pxc_start_candidacy(struct paxos *p);
/* Candidate: Phase 1 has the quorums it needs (see the definition). */
bool pxc_phase1_complete(struct paxos *p);
void pxc_become_leader(struct paxos *p);
/* Leader, every tick: steps down (returns false) when it has not heard from a
 * majority within the election timeout. */
bool pxc_check_quorum(struct paxos *p);
/* A majority of both the applied and the latest membership acknowledged read
 * round arg (Q_READ) or was heard from within the election timeout (Q_ALIVE). */
bool pxc_has_quorum_both(struct paxos *p, int what, uint64_t arg);
/* Extends the leader lease from the rounds a majority acknowledged. */
void pxc_lease_update(struct paxos *p);
bool pxc_lease_valid(const struct paxos *p);
void pxc_on_prevote(struct paxos *p, const struct paxos_msg *m);
void pxc_on_prevote_reply(struct paxos *p, const struct paxos_msg *m);
void pxc_on_prepare(struct paxos *p, const struct paxos_msg *m);
void pxc_on_promise(struct paxos *p, const struct paxos_msg *m);

/* ---------- paxos_replication.c ---------- */

/* Leader: sends pr what it lacks (within the window), a snapshot request if it
 * is behind the trim point, or an empty ACCEPT if heartbeat. */
void pxc_leader_send(struct paxos *p, struct peer *pr, bool heartbeat);
/* Leader: commits what a quorum accepted, applies it, proposes, serves reads. */
void pxc_leader_advance(struct paxos *p);
/* Leader, every tick: heartbeats (and retransmission) every heartbeat_ms. */
void pxc_leader_heartbeat(struct paxos *p);
/* Follower: sends the pending ACCEPTED to ack_to. */
void pxc_send_ack(struct paxos *p);
/* Sends `to` the chosen values after from_commit (or a snapshot, if trimmed). */
void pxc_send_learn(struct paxos *p, uint32_t to, uint64_t from_commit);
void pxc_on_accept(struct paxos *p, const struct paxos_msg *m);
void pxc_on_accepted(struct paxos *p, const struct paxos_msg *m);
void pxc_on_learn(struct paxos *p, const struct paxos_msg *m);
void pxc_on_timeout_now(struct paxos *p, const struct paxos_msg *m);

#endif
