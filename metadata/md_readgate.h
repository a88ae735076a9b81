/* md_readgate: lets threads other than the core serve linearizable reads
 * under the leader's lease, without a trip through the core thread.
 *
 * The core thread publishes "lease reads allowed until D" (D on the core's
 * clock, md_replica_lease_read_until) after each round, and revokes it
 * before it acts on anything that could end the lease (steps down, hands
 * leadership over, changes the membership, installs a snapshot, stops). A
 * reader takes a ticket (md_readgate_enter), reads the store through one
 * snapshot taken after that, then confirms the ticket (md_readgate_confirm);
 * only a confirmed read may be answered, any other falls back to the core.
 *
 * Why confirmed reads are linearizable: enter succeeds only while no
 * revocation has happened and the clock reads less than D, so at that
 * instant (after the request arrived) this replica led under a valid lease
 * and had applied every acknowledged write (the core acknowledges after
 * applying, and D is published only once the term's no-op and all committed
 * slots are applied). The store only grows by committed slots, so the
 * snapshot read after it holds every write acknowledged before the request
 * arrived, and only writes committed before it was taken (the read-index
 * argument, docs/paxos.md). Revocation is "publish before act": the deadline
 * is cleared and the generation bumped (sequentially consistent stores)
 * before the core produces the message or state change that could let
 * another leader acknowledge writes, so no read enters after the act on the
 * old deadline. Confirm (the generation unchanged, the deadline not passed,
 * after the read) is defence in depth: it pins the snapshot inside an
 * interval where the lease held, so the argument does not also rest on the
 * store never going back (a snapshot install replaces it; the daemon revokes
 * first).
 *
 * Threads: publish and revoke from one thread (the core); enter and confirm
 * from any number of threads. Lock-free. */
#ifndef CAIRN_MD_READGATE_H
#define CAIRN_MD_READGATE_H

#include <stdatomic.h>
#include <stdint.h>

struct md_readgate {
    atomic_uint_fast64_t until; /* reads allowed while the clock < until; 0: none */
    atomic_uint_fast64_t gen;   /* bumped by every revocation */
};

/* What enter saw, to hand to confirm. */
struct md_readgate_ticket {
    uint64_t until, gen;
};

/* An empty gate: no reads allowed. */
void md_readgate_init(struct md_readgate *g);
/* Core thread: no read may be confirmed after this returns unless it entered
 * after a later publish. Call before acting on anything that ends or may end
 * the lease. */
void md_readgate_revoke(struct md_readgate *g);
/* Core thread, after a round: reads are allowed until `until` (0: none). A
 * later deadline extends the current one without disturbing tickets; an
 * earlier one (a loss the core did not announce) revokes first. */
void md_readgate_publish(struct md_readgate *g, uint64_t until);
/* Any thread: 1 and *t filled when a read may start at now (the clock the
 * core publishes on), 0 when it must go through the core. */
int md_readgate_enter(struct md_readgate *g, uint64_t now, struct md_readgate_ticket *t);
/* Any thread, after the store was read (through a snapshot taken after
 * enter): 1 when the read may be answered, 0 when it must be thrown away and
 * done through the core. */
int md_readgate_confirm(struct md_readgate *g, const struct md_readgate_ticket *t, uint64_t now);

#endif
