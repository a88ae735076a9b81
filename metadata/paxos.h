/* Multi-Paxos protocol core for the Cairn metadata service.
 *
 * The core is pure: it performs no I/O, reads no clock and draws no randomness of
 * its own. The driver (the cairn-meta daemon, or the deterministic simulator in
 * tests/sim/) feeds it events -- received messages, ticks with a monotonic "now",
 * "persisted through seq" notices, client commands, read requests, snapshot
 * notices -- and the core answers through the one injected struct paxos_io.
 *
 * Threads: a struct paxos is not thread-safe. The driver calls it from one thread
 * (or under one lock) and io callbacks are invoked synchronously from inside those
 * calls; a callback must not call back into the core. The core allocates as it
 * goes (log, queues) and aborts the process if malloc fails.
 *
 * Protocol summary (docs/paxos.md has the full contract):
 *   - stable leader, ballot = (round << 16) | replica id, Phase 1 once per leadership
 *     for every open slot, a no-op committed on election;
 *   - pre-vote and check-quorum; leader steps down when it loses its quorum;
 *   - Phase 2 with batching (all waiting commands go into one slot) and a bounded
 *     window of slots in flight;
 *   - linearizable reads by read index (a heartbeat round confirms leadership),
 *     or, if configured, under a leader lease shorter than the election timeout
 *     by a clock-drift bound;
 *   - log trimming driven by the state machine's durable index, and catch-up by
 *     snapshot for a replica behind the trim point.
 *   - membership change through the log: add a learner, promote it once caught
 *     up, remove; one change at a time. */
#ifndef CAIRN_PAXOS_H
#define CAIRN_PAXOS_H

#include <stdbool.h>
#include <stdint.h>

#define PAXOS_MAX_REPLICAS 16
/* Replica ids are 1..PAXOS_MAX_ID (0 means "none / unknown"). */
#define PAXOS_MAX_ID 0xFFFFu

/* A ballot is (round, replica id) packed so that integer order is ballot order. */
#define PAXOS_BALLOT(round, id) (((uint64_t)(round) << 16) | (uint64_t)(id))
#define PAXOS_BALLOT_ROUND(b)   ((b) >> 16)
#define PAXOS_BALLOT_ID(b)      ((uint32_t)((b)&0xFFFFu))

/* Message types. Every message is one flat struct paxos_msg; fields a type does
 * not use are zero. */
enum paxos_msg_type {
    PAXOS_MSG_PREVOTE = 1,   /* ballot = ballot the sender would use; commit */
    PAXOS_MSG_PREVOTE_REPLY, /* ballot = the ballot asked about; ok = granted; */
                             /*   match = replier's promised ballot; commit */
    PAXOS_MSG_PREPARE,       /* phase 1a: ballot; commit = first open slot - 1 */
    PAXOS_MSG_PROMISE,       /* phase 1b: ballot = the prepared ballot; ok; commit; */
                             /*   match = replier's promise; entries > request commit */
    PAXOS_MSG_ACCEPT,        /* phase 2a (+ heartbeat): ballot, commit, read_seq, entries */
    PAXOS_MSG_ACCEPTED,      /* phase 2b: ballot = replier's durable promise; ok; */
                             /*   match = durable contiguous prefix at ballot; read_seq */
    PAXOS_MSG_LEARN,         /* to a (pre)candidate that is behind: commit; chosen */
                             /*   entries from its commit + 1 (ballot unused) */
    PAXOS_MSG_TIMEOUT_NOW,   /* leader to a caught-up voter: stand now (leadership */
                             /*   transfer); ballot = the leader's; commit */
};
/* A PREPARE with ok = 1 is a transfer's: granted even while the leader is heard
 * (the leader asked for it), as stickiness is for liveness, not safety. */

/* One log slot's accepted value. data/len is the encoded value (see
 * paxos_value_*); len 0 never occurs for a present entry (a no-op is 1 byte). */
struct paxos_entry {
    uint64_t slot;
    uint64_t ballot; /* ballot in which this value was accepted */
    uint32_t len;
    const uint8_t *data;
};

/* A protocol message. Plain fixed-width fields plus an entry array: the daemon
 * serializes it (e.g. with protobuf-c) without knowing the protocol. */
struct paxos_msg {
    uint32_t type; /* enum paxos_msg_type */
    uint32_t from; /* sender replica id */
    uint64_t ballot;
    uint64_t commit;   /* sender's commit index (all slots <= commit are chosen) */
    uint64_t match;    /* ACCEPTED: see above */
    uint64_t read_seq; /* ACCEPT/ACCEPTED: heartbeat round for read index */
    uint32_t ok;       /* replies: 1 = granted / accepted, 0 = refused */
    uint32_t n_entries;
    const struct paxos_entry *entries;
};

/* A durable write the core asks for. The driver applies records in seq order:
 * set the promised ballot to `promised`, delete every stored entry with slot <=
 * trim_through, then store each entry (overwriting the same slot). When every
 * record up to seq is durable (fsynced), the driver calls paxos_persisted(seq).
 * Records are acknowledged in order; a crash may lose any not yet acknowledged. */
struct paxos_persist {
    uint64_t seq;
    uint64_t promised;
    uint64_t trim_through; /* 0 = nothing to trim */
    uint32_t n_entries;
    const struct paxos_entry *entries;
};

/* One client command inside a committed slot. */
struct paxos_cmd {
    uint64_t client_id;
    uint64_t seq; /* client's request sequence number; the state machine dedups */
    uint32_t len;
    const uint8_t *data;
};

/* Who votes and who only follows. Voters decide; learners receive the log (to
 * catch up before promotion). Changes go through the log, one at a time. */
struct paxos_membership {
    uint32_t n_voters;
    uint32_t voters[PAXOS_MAX_REPLICAS];
    uint32_t n_learners;
    uint32_t learners[PAXOS_MAX_REPLICAS];
};

/* 1 when id is in m (a voter or a learner), 0 otherwise. */
int paxos_membership_has(const struct paxos_membership *m, uint32_t id);
/* 1 when id is one of m's voters. */
int paxos_membership_votes(const struct paxos_membership *m, uint32_t id);

enum paxos_change_op { PAXOS_ADD_LEARNER = 1, PAXOS_PROMOTE, PAXOS_REMOVE };

/* The one side-effect interface. All pointers passed to callbacks are valid only
 * for the duration of the call (copy what you keep). None may block for long or
 * call back into the core. */
struct paxos_io {
    void *data; /* driver's context */
    /* Send msg to replica `to` (best effort: may be dropped, duplicated, delayed). */
    void (*send)(struct paxos_io *io, uint32_t to, const struct paxos_msg *msg);
    /* Start a durable write; later report it with paxos_persisted(rec->seq). */
    void (*persist)(struct paxos_io *io, const struct paxos_persist *rec);
    /* Apply chosen slot `slot` (strictly increasing, no gaps except after a
     * snapshot install) holding n commands (n == 0: no-op slot). The state machine
     * should store the applied index and the slot's changes atomically. */
    void (*apply)(struct paxos_io *io, uint64_t slot, const struct paxos_cmd *cmds, uint32_t n);
    /* A command accepted by paxos_submit() was dropped before being proposed
     * (err = CAIRN_E_NOTLEADER after losing leadership). leader = hint or 0. Commands
     * already proposed are not reported: they may still commit, so clients retry with
     * the same (client_id, seq) and rely on the state machine's dedup. */
    void (*reject)(struct paxos_io *io, uint64_t client_id, uint64_t seq, int err, uint32_t leader);
    /* Read `read_id` from paxos_read() is safe to serve from the local state
     * machine now (status 0): every write committed before the read arrived has been
     * applied. Or it failed (status CAIRN_E_NOTLEADER, leader hint). */
    void (*read_done)(struct paxos_io *io, uint64_t read_id, int status, uint32_t leader);
    /* Replica `to` is behind the trim point: send it a snapshot of the local state
     * machine (at its applied index) by whatever transport; the receiver's driver
     * calls paxos_snapshot_wanted()/paxos_snapshot_installed(). Repeated at most
     * once per election timeout while the replica stays behind. */
    void (*send_snapshot)(struct paxos_io *io, uint32_t to);
    /* A uniformly random 64-bit number (seeded by the driver). */
    uint64_t (*random)(struct paxos_io *io);
    /* Slot `slot` installs membership m; called right before apply(slot, NULL,
     * 0): store m atomically with that applied index. It must come back in
     * paxos_restore.membership and with paxos_snapshot_installed(), or a restarted
     * replica would count quorums with the bootstrap membership. May be NULL only
     * if paxos_change() is never used. */
    void (*membership)(struct paxos_io *io, uint64_t slot, const struct paxos_membership *m);
    /* This leader is about to give up its lease (it steps down, or hands
     * leadership over): called before anything else is done about it — before
     * a message that could let another replica lead is produced. A driver that
     * serves reads on paxos_lease_read_until() outside the core's calls must
     * stop doing so before it returns. May be NULL. */
    void (*lease_lost)(struct paxos_io *io);
};

struct paxos_config {
    uint32_t id;                           /* this replica, 1..PAXOS_MAX_ID */
    uint32_t n_replicas;                   /* initial voters, 1..PAXOS_MAX_REPLICAS */
    uint32_t replicas[PAXOS_MAX_REPLICAS]; /* initial voter ids (bootstrap membership) */
    uint64_t heartbeat_ms;                 /* leader heartbeat interval (e.g. 50) */
    uint64_t election_ms;                  /* election timeout base T; randomized in [T, 2T) */
    uint32_t window;                       /* max slots proposed beyond the commit index */
    uint32_t max_batch_bytes;              /* cap on one slot's encoded value */
    uint32_t max_pending;                  /* max queued, not yet proposed commands */
    uint32_t max_msg_entries;              /* cap on entries in one ACCEPT */
    /* Leader lease for reads, on the leader's monotonic clock; 0 = off (every read
     * costs a heartbeat round). Must not exceed paxos_lease_max(election_ms, the
     * clocks' drift bound): every replica of the group must use a clock within
     * that bound, or a lease read may be stale. */
    uint64_t lease_ms;
};

/* Durable state handed back after a restart (all zero on first start). */
struct paxos_restore {
    uint64_t promised; /* durable promised ballot */
    uint64_t applied;  /* the state machine's durable applied index (>= trim point) */
    uint32_t n_entries;
    const struct paxos_entry *entries;  /* stored accepted entries, any order */
    struct paxos_membership membership; /* as of `applied` (n_voters 0: cfg.replicas) */
};

enum paxos_role { PAXOS_FOLLOWER = 0, PAXOS_PRECANDIDATE, PAXOS_CANDIDATE, PAXOS_LEADER };

struct paxos_status {
    uint32_t id;
    uint32_t role;   /* enum paxos_role */
    uint32_t leader; /* known leader id or 0 */
    uint64_t ballot; /* leader/candidate: own ballot; else promised */
    uint64_t promised;
    uint64_t commit;
    uint64_t applied;
    uint64_t base;       /* log trimmed through this slot */
    uint64_t last;       /* highest slot in the log */
    uint64_t term_start; /* leader: the no-op slot of this leadership */
    uint32_t pending;    /* queued, not yet proposed commands */
    uint32_t n_voters;   /* applied membership */
    uint32_t n_learners;
};

struct paxos;

/* Fills cfg with defaults (heartbeat 50, election 500, window 8, batch 64 KiB,
 * pending 1024, 64 entries per message) and the given membership. */
void paxos_config_init(struct paxos_config *cfg, uint32_t id, uint32_t n, const uint32_t *ids);

/* The longest safe leader lease (ms) for an election timeout T = election_ms
 * when every replica's clock keeps this drift bound: over any real interval of
 * length d, a clock advances by at least d(1 - rho) - jump_ms and at most
 * d(1 + rho) + jump_ms, with rho = drift_ppm / 10^6 (rate error) and jump_ms
 * covering steps and reading granularity. A follower that acknowledged a lease
 * round refuses to vote until its clock has advanced T, i.e. for at least
 * (T - jump_ms) / (1 + rho) of real time; the lease must end before that on the
 * leader's clock: (L + jump_ms) / (1 - rho) <= (T - jump_ms) / (1 + rho), so
 * L = floor((T - jump_ms)(1 - rho) / (1 + rho)) - jump_ms (at most T - 1), and 0
 * (no lease) when that is not positive or rho >= 1. docs/paxos.md has the
 * argument. */
uint64_t paxos_lease_max(uint64_t election_ms, uint32_t drift_ppm, uint64_t jump_ms);

/* Creates a replica. cfg and rs are copied (rs->entries too); io must outlive it.
 * Returns 0 and *out, or CAIRN_E_INVAL / CAIRN_E_NOMEM. */
int paxos_new(const struct paxos_config *cfg, struct paxos_io *io, const struct paxos_restore *rs,
              uint64_t now, struct paxos **out);
/* Frees everything; no callbacks are made. NULL is a no-op. */
void paxos_free(struct paxos *p);

/* Handles one received message (m is only read). Returns 0, or CAIRN_E_PROTO for
 * a malformed message (which is otherwise ignored). */
int paxos_recv(struct paxos *p, const struct paxos_msg *m, uint64_t now);
/* Advances timers. Call at least every heartbeat_ms / 2; now is monotonic (ms). */
void paxos_tick(struct paxos *p, uint64_t now);
/* Every persist record with seq <= `seq` is durable. */
void paxos_persisted(struct paxos *p, uint64_t seq, uint64_t now);

/* Queues a client command (data is copied). Returns 0 when queued (its outcome
 * reaches the client through apply, or through io->reject), CAIRN_E_NOTLEADER
 * when this replica is not the leader (*leader = hint or 0), CAIRN_E_BUSY when
 * the queue is full, CAIRN_E_INVAL when it can never fit in a slot. */
int paxos_submit(struct paxos *p, uint64_t client_id, uint64_t seq, const void *data, uint32_t len,
                 uint64_t now, uint32_t *leader);
/* Starts a linearizable read. Returns 0 (io->read_done follows exactly once) or
 * CAIRN_E_NOTLEADER (*leader = hint or 0). */
int paxos_read(struct paxos *p, uint64_t read_id, uint64_t now, uint32_t *leader);
/* The time (on the clock given as now) before which a read arriving now would
 * be answered by the lease path of paxos_read at once, with nothing more to
 * wait for: this replica leads and holds a lease, its term's no-op is
 * committed and every committed slot is applied. 0 when any of that fails.
 * A driver may serve reads from the applied state without calling
 * paxos_read while its clock reads less than this value, provided it stops
 * at io->lease_lost and re-reads the value after each call into the core
 * (it only grows while the lease holds; any loss goes through lease_lost). */
uint64_t paxos_lease_read_until(const struct paxos *p);

/* The state machine's state through `slot` is durable (checkpointed): the core
 * may forget entries <= min(slot, applied). Returns the new trim point. */
uint64_t paxos_trim(struct paxos *p, uint64_t slot);
/* True when a snapshot at `slot` would move this replica forward (slot > applied);
 * the driver installs a received snapshot only then. */
bool paxos_snapshot_wanted(const struct paxos *p, uint64_t slot);
/* The driver has durably installed a state machine snapshot covering every slot
 * <= slot, sent by replica `from`, with the membership as of that slot (NULL:
 * unchanged). The core jumps applied/commit to slot. */
void paxos_snapshot_installed(struct paxos *p, uint32_t from, uint64_t slot,
                              const struct paxos_membership *m, uint64_t now);

/* Leader only: proposes a membership change (add a learner, promote a learner
 * that has caught up, remove a voter or learner). Returns 0 when the change is in
 * the log (it takes effect for later slots once it commits; nothing else is
 * proposed until then), CAIRN_E_NOTLEADER (*leader = hint), CAIRN_E_BUSY (a change
 * is pending, the leadership is new, or the learner is behind: retry),
 * CAIRN_E_EXISTS / CAIRN_E_NOTFOUND / CAIRN_E_INVAL / CAIRN_E_NOSPACE. A leader
 * that removes itself steps down once the change commits. */
int paxos_change(struct paxos *p, uint32_t op, uint32_t id, uint64_t now, uint32_t *leader);

/* Leader only: hands leadership to voter `to` (0: the most caught-up voter
 * heard from within an election timeout), which stands at once with a higher
 * ballot; this leader steps down when that PREPARE arrives. *chosen = the
 * successor. Returns 0, CAIRN_E_NOTLEADER, CAIRN_E_NOTFOUND (no such voter /
 * none live) or CAIRN_E_BUSY (the successor is behind the log: retry). */
int paxos_transfer(struct paxos *p, uint32_t to, uint64_t now, uint32_t *chosen);
/* The applied membership. */
void paxos_membership_get(const struct paxos *p, struct paxos_membership *out);
/* The membership the leader's log ends with (the applied one elsewhere):
 * includes a change proposed but not committed yet. */
void paxos_membership_latest(const struct paxos *p, struct paxos_membership *out);

/* What the leader knows of replica id's progress. */
struct paxos_peer_info {
    uint64_t match;       /* highest slot it durably accepted in this ballot */
    uint64_t last_ack_ms; /* time of its last acknowledgement (the core's clock) */
    bool acked;           /* it acknowledged anything in this ballot */
};
/* Leader only: fills *out for a member other than itself and returns 0;
 * CAIRN_E_NOTLEADER, or CAIRN_E_NOTFOUND for an id it does not replicate to. */
int paxos_peer_info(const struct paxos *p, uint32_t id, struct paxos_peer_info *out);

void paxos_status(const struct paxos *p, struct paxos_status *st);

/* Value encoding of a slot (little-endian): u8 kind (0 no-op, 1 batch, 2
 * membership); for a batch u32 count then per command u64 client_id, u64 seq,
 * u32 len, bytes; for a membership u32 n_voters, ids, u32 n_learners, ids.
 * paxos_value_decode calls fn for each command; returns the count (0 for a no-op
 * or membership) or CAIRN_E_CORRUPT. paxos_value_membership parses a membership
 * value: 0, CAIRN_E_NOTFOUND (another kind) or CAIRN_E_CORRUPT. */
int paxos_value_decode(const uint8_t *data, uint32_t len,
                       void (*fn)(void *arg, const struct paxos_cmd *cmd), void *arg);
int paxos_value_membership(const uint8_t *data, uint32_t len, struct paxos_membership *m);

const char *paxos_msg_type_name(uint32_t type);

#endif
