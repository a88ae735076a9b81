#include "md_readgate.h"

void md_readgate_init(struct md_readgate *g)
{
    atomic_init(&g->until, 0);
    atomic_init(&g->gen, 0);
}

void md_readgate_revoke(struct md_readgate *g)
{
    /* Deadline first, then the generation (both seq_cst): a reader that sees
     * the new generation at enter therefore sees the cleared deadline, and a
     * reader that entered before sees the new generation at confirm. */
    atomic_store(&g->until, 0);
    atomic_fetch_add(&g->gen, 1);
}

void md_readgate_publish(struct md_readgate *g, uint64_t until)
{
    uint64_t cur = atomic_load(&g->until);
    if (until == cur)
        return;
    if (until < cur)
        md_readgate_revoke(g);
    atomic_store(&g->until, until);
}

int md_readgate_enter(struct md_readgate *g, uint64_t now, struct md_readgate_ticket *t)
{
    t->gen = atomic_load(&g->gen);
    t->until = atomic_load(&g->until);
    return now < t->until;
}

int md_readgate_confirm(struct md_readgate *g, const struct md_readgate_ticket *t, uint64_t now)
{
    return now < t->until && atomic_load(&g->gen) == t->gen;
}
