/* md_repair: planner (deterministic, store + liveness -> ordered tasks) and
 * executor (threads: rebuild on chunkservers, commit MoveFragment). See
 * md_repair.h and docs/repair.md. */
#include "md_repair.h"

#include "cn_wire.h" /* the chunkserver API names, one definition */
#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_layout.h"
#include "md_cmd.h"
#include "md_place.h"
#include "md_query.h"
#include "md_txn.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG "repair"

/* Fragment index key: "Sf" be64 cs, group id (16), be32 index. */
#define FRAG_PREFIX_LEN 10
#define FRAG_KEY_LEN    30
/* Candidates evaluated (groups read) per md_repair_plan_next call. */
#define NEXT_CANDIDATES 16
/* Rounds of candidates per md_repair_plan_next call. */
#define NEXT_ROUNDS 4

void md_repair_plan_opts_default(struct md_repair_plan_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->down_after_ms = 30000;
    o->out_after_ms = 600000;
    o->scan_budget = 4096;
    o->scan_interval_ms = 10000;
    o->max_damage = 4096;
    o->retry_base_ms = 1000;
    o->retry_max_ms = 60000;
}

/* ------------------------------------------------------------ planner -- */

struct cs_entry {
    uint64_t id;
    enum md_repair_cs_state st;
    int active;   /* record state ACTIVE: may receive fragments */
    int draining; /* record state DRAINING: its fragments move elsewhere while it serves */
    uint64_t free;
    char *host, *rack, *zone;
    char address[MD_REPAIR_ADDR_MAX];
};

struct entry {
    uint8_t gid[16];
    int64_t first_seen_ms;
    int64_t retry_after_ms;
    uint64_t pass_gen;       /* pass whose scan last reset the masks */
    uint64_t skip_until_gen; /* not evaluated while gen < this */
    uint64_t lost_mask;      /* lost, OUT or damaged fragments */
    uint64_t down_mask;      /* fragments on DOWN chunkservers */
    uint64_t drain_mask;     /* fragments on DRAINING chunkservers that are UP */
    uint32_t attempts;
    uint32_t n_damage;
    uint8_t in_flight, forced, unrecoverable;
};

struct busy {
    uint64_t cs;
    uint32_t n;
};

struct damage {
    uint8_t gid[16];
    uint32_t index;
    uint64_t cs;
};

struct md_repair_planner {
    struct md_repair_plan_opts o;
    int64_t epoch_ms;

    struct cs_entry *cs;
    size_t n_cs;
    int have_cs;

    struct entry *e;
    size_t n_e, cap_e;
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t n_slots;  /* power of two */

    struct damage *dmg;
    size_t n_dmg, cap_dmg;

    uint64_t gen; /* current (or last) pass number */
    int in_pass;
    int64_t next_pass_ms;
    int64_t pass_end_ms; /* when the last pass ended */
    int worse;           /* a chunkserver got worse (UP -> DOWN -> OUT, draining) since the
                            last pass started: the next pass starts early */
    uint64_t *suspects;
    size_t n_suspects, pos;
    uint8_t cursor[FRAG_KEY_LEN];
    int have_cursor;

    uint32_t n_in_flight;
    struct busy *busy; /* tasks in flight per target chunkserver */
    size_t n_busy, cap_busy;
    struct md_repair_stats st; /* cumulative counters */
};

static uint64_t gid_hash(const uint8_t gid[16])
{
    uint64_t h;
    memcpy(&h, gid, 8);
    uint64_t s = h ^ 0x9e3779b97f4a7c15ull;
    return md_place_rand(&s);
}

static void cs_table_free(struct md_repair_planner *p)
{
    for (size_t i = 0; i < p->n_cs; i++) {
        free(p->cs[i].host);
        free(p->cs[i].rack);
        free(p->cs[i].zone);
    }
    free(p->cs);
    p->cs = NULL;
    p->n_cs = 0;
}

/* Tasks in flight that write to chunkserver cs. */
static uint32_t busy_count(const struct md_repair_planner *p, uint64_t cs)
{
    for (size_t i = 0; i < p->n_busy; i++)
        if (p->busy[i].cs == cs)
            return p->busy[i].n;
    return 0;
}

/* Adds delta (+1 / -1) to cs's count; entries at 0 are dropped. */
static int busy_add(struct md_repair_planner *p, uint64_t cs, int delta)
{
    for (size_t i = 0; i < p->n_busy; i++) {
        if (p->busy[i].cs != cs)
            continue;
        if (delta > 0)
            p->busy[i].n++;
        else if (p->busy[i].n > 1)
            p->busy[i].n--;
        else
            p->busy[i] = p->busy[--p->n_busy];
        return 0;
    }
    if (delta < 0)
        return 0;
    if (p->n_busy == p->cap_busy) {
        size_t cap = p->cap_busy ? 2 * p->cap_busy : 16;
        struct busy *b = realloc(p->busy, cap * sizeof(*b));
        if (!b)
            return CAIRN_E_NOMEM;
        p->busy = b;
        p->cap_busy = cap;
    }
    p->busy[p->n_busy++] = (struct busy){.cs = cs, .n = 1};
    return 0;
}

int md_repair_planner_new(const struct md_repair_plan_opts *opts, int64_t now_ms,
                          struct md_repair_planner **out)
{
    if (!opts || !opts->live || !out || opts->scan_budget == 0 || opts->down_after_ms < 0 ||
        opts->out_after_ms < opts->down_after_ms)
        return CAIRN_E_INVAL;
    struct md_repair_planner *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    p->o = *opts;
    p->epoch_ms = now_ms;
    p->n_slots = 1024;
    p->slots = calloc(p->n_slots, sizeof(*p->slots));
    if (!p->slots) {
        free(p);
        return CAIRN_E_NOMEM;
    }
    p->next_pass_ms = INT64_MIN;
    *out = p;
    return 0;
}

void md_repair_planner_free(struct md_repair_planner *p)
{
    if (!p)
        return;
    cs_table_free(p);
    free(p->busy);
    free(p->e);
    free(p->slots);
    free(p->dmg);
    free(p->suspects);
    free(p);
}

/* ---- entry table: array + linear-probing hash index ---- */

static size_t slot_home(const struct md_repair_planner *p, const uint8_t gid[16])
{
    return (size_t)gid_hash(gid) & (p->n_slots - 1);
}

static size_t slot_find(const struct md_repair_planner *p, const uint8_t gid[16])
{
    size_t i = slot_home(p, gid);
    while (p->slots[i]) {
        if (memcmp(p->e[p->slots[i] - 1].gid, gid, 16) == 0)
            return i;
        i = (i + 1) & (p->n_slots - 1);
    }
    return i; /* empty slot */
}

static struct entry *entry_find(struct md_repair_planner *p, const uint8_t gid[16])
{
    size_t s = slot_find(p, gid);
    return p->slots[s] ? &p->e[p->slots[s] - 1] : NULL;
}

static int rehash(struct md_repair_planner *p, size_t n_slots)
{
    uint32_t *ns = calloc(n_slots, sizeof(*ns));
    if (!ns)
        return CAIRN_E_NOMEM;
    free(p->slots);
    p->slots = ns;
    p->n_slots = n_slots;
    for (size_t i = 0; i < p->n_e; i++)
        p->slots[slot_find(p, p->e[i].gid)] = (uint32_t)(i + 1);
    return 0;
}

static struct entry *entry_get(struct md_repair_planner *p, const uint8_t gid[16], int64_t now_ms)
{
    struct entry *e = entry_find(p, gid);
    if (e)
        return e;
    if (p->n_e >= UINT32_MAX - 1)
        return NULL;
    if ((p->n_e + 1) * 2 > p->n_slots && rehash(p, p->n_slots * 2))
        return NULL;
    if (p->n_e == p->cap_e) {
        size_t nc = p->cap_e ? p->cap_e * 2 : 256;
        struct entry *ne = realloc(p->e, nc * sizeof(*ne));
        if (!ne)
            return NULL;
        p->e = ne;
        p->cap_e = nc;
    }
    e = &p->e[p->n_e];
    memset(e, 0, sizeof(*e));
    memcpy(e->gid, gid, 16);
    e->first_seen_ms = now_ms;
    p->slots[slot_find(p, gid)] = (uint32_t)(p->n_e + 1);
    p->n_e++;
    return e;
}

/* Removes entry e (not in flight): backward-shift deletion in the index,
 * then the last entry moves into e's place. */
static void entry_remove(struct md_repair_planner *p, struct entry *e)
{
    size_t mask = p->n_slots - 1;
    size_t i = slot_find(p, e->gid);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!p->slots[j])
            break;
        size_t k = slot_home(p, p->e[p->slots[j] - 1].gid);
        /* move slot j to i unless its home lies cyclically in (i, j] */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            p->slots[i] = p->slots[j];
            i = j;
        }
    }
    p->slots[i] = 0;
    size_t idx = (size_t)(e - p->e), last = p->n_e - 1;
    if (idx != last) {
        p->e[idx] = p->e[last];
        p->slots[slot_find(p, p->e[idx].gid)] = (uint32_t)(idx + 1);
    }
    p->n_e--;
}

/* ---- damage reports ---- */

static struct damage *damage_find(struct md_repair_planner *p, const uint8_t gid[16],
                                  uint32_t index, uint64_t cs)
{
    for (size_t i = 0; i < p->n_dmg; i++) {
        struct damage *d = &p->dmg[i];
        if (d->index == index && d->cs == cs && memcmp(d->gid, gid, 16) == 0)
            return d;
    }
    return NULL;
}

static void damage_remove(struct md_repair_planner *p, struct damage *d)
{
    struct entry *e = entry_find(p, d->gid);
    if (e && e->n_damage)
        e->n_damage--;
    *d = p->dmg[--p->n_dmg];
}

/* ---- chunkserver table ---- */

static int cs_cmp(const void *a, const void *b)
{
    const struct cs_entry *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static struct cs_entry *cs_find(const struct md_repair_planner *p, uint64_t id)
{
    struct cs_entry key = {.id = id};
    return p->cs ? bsearch(&key, p->cs, p->n_cs, sizeof(key), cs_cmp) : NULL;
}

enum md_repair_cs_state md_repair_plan_cs_state(const struct md_repair_planner *p, uint64_t cs_id)
{
    const struct cs_entry *c = cs_find(p, cs_id);
    return c ? c->st : MD_REPAIR_CS_OUT;
}

static int cs_refresh(struct md_repair_planner *p, struct md_store *store, int64_t now_ms)
{
    Md__QueryResult *qr;
    int rc = md_query_chunkservers(store, &qr);
    if (rc)
        return rc;
    struct cs_entry *t = calloc(qr->n_chunkservers ? qr->n_chunkservers : 1, sizeof(*t));
    if (!t) {
        md_query_result_free(qr);
        return CAIRN_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < qr->n_chunkservers; i++) {
        const Md__ChunkserverRecord *r = qr->chunkservers[i];
        struct cs_entry *c = &t[n++];
        c->id = r->id;
        c->host = strdup(r->host ? r->host : "");
        c->rack = strdup(r->rack ? r->rack : "");
        c->zone = strdup(r->zone ? r->zone : "");
        if (!c->host || !c->rack || !c->zone) {
            rc = CAIRN_E_NOMEM;
            break;
        }
        c->active = r->state == MD__CHUNKSERVER_STATE__CS_ACTIVE;
        c->draining = r->state == MD__CHUNKSERVER_STATE__CS_DRAINING;
        struct md_repair_live lv;
        memset(&lv, 0, sizeof(lv));
        int lrc = p->o.live(p->o.live_ctx, r->id, &lv);
        int64_t last = lrc == 0 ? lv.last_seen_ms : p->epoch_ms;
        int64_t silent = now_ms - last;
        if (r->state == MD__CHUNKSERVER_STATE__CS_RETIRED || silent > p->o.out_after_ms)
            c->st = MD_REPAIR_CS_OUT;
        else if (silent > p->o.down_after_ms)
            c->st = MD_REPAIR_CS_DOWN;
        else
            c->st = MD_REPAIR_CS_UP;
        c->free = lrc == 0 ? lv.free : r->free;
        lv.address[MD_REPAIR_ADDR_MAX - 1] = 0;
        snprintf(c->address, sizeof(c->address), "%s",
                 (lrc == 0 && lv.address[0]) ? lv.address : (r->address ? r->address : ""));
    }
    md_query_result_free(qr);
    if (rc) {
        for (size_t i = 0; i < n; i++) {
            free(t[i].host);
            free(t[i].rack);
            free(t[i].zone);
        }
        free(t);
        return rc;
    }
    if (p->have_cs) {
        for (size_t i = 0; i < n; i++) {
            const struct cs_entry *old = cs_find(p, t[i].id);
            if (old ? t[i].st > old->st || (t[i].draining && !old->draining)
                    : t[i].st != MD_REPAIR_CS_UP || t[i].draining)
                p->worse = 1;
        }
    }
    qsort(t, n, sizeof(*t), cs_cmp);
    cs_table_free(p);
    p->cs = t;
    p->n_cs = n;
    p->have_cs = 1;
    return 0;
}

/* ---- scan ---- */

static int pass_start(struct md_repair_planner *p)
{
    uint64_t *s = realloc(p->suspects, (p->n_cs + 1) * sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    p->suspects = s;
    p->n_suspects = 0;
    s[p->n_suspects++] = 0;
    for (size_t i = 0; i < p->n_cs; i++)
        if (p->cs[i].st != MD_REPAIR_CS_UP || p->cs[i].draining)
            s[p->n_suspects++] = p->cs[i].id;
    p->gen++;
    p->pos = 0;
    p->have_cursor = 0;
    p->in_pass = 1;
    p->worse = 0;
    return 0;
}

static void pass_end(struct md_repair_planner *p, int64_t now_ms)
{
    for (size_t i = p->n_e; i-- > 0;) {
        struct entry *e = &p->e[i];
        if (e->pass_gen != p->gen && !e->in_flight && !e->n_damage && !e->forced)
            entry_remove(p, e);
    }
    p->in_pass = 0;
    p->st.passes++;
    p->next_pass_ms = now_ms + p->o.scan_interval_ms;
    p->pass_end_ms = now_ms;
}

static int scan_key(struct md_repair_planner *p, uint64_t cs, const uint8_t *gid, uint32_t index,
                    int64_t now_ms)
{
    enum md_repair_cs_state st = cs ? md_repair_plan_cs_state(p, cs) : MD_REPAIR_CS_OUT;
    const struct cs_entry *c = cs ? cs_find(p, cs) : NULL;
    int draining = st == MD_REPAIR_CS_UP && c && c->draining;
    if ((st == MD_REPAIR_CS_UP && !draining) || index >= MD_REPAIR_MAX_FRAGS)
        return 0; /* came back since the pass started */
    struct entry *e = entry_get(p, gid, now_ms);
    if (!e)
        return CAIRN_E_NOMEM;
    if (e->pass_gen != p->gen) {
        e->pass_gen = p->gen;
        e->lost_mask = e->down_mask = e->drain_mask = 0;
    }
    if (draining)
        e->drain_mask |= 1ull << index;
    else if (st == MD_REPAIR_CS_OUT)
        e->lost_mask |= 1ull << index;
    else
        e->down_mask |= 1ull << index;
    return 0;
}

int md_repair_plan_step(struct md_repair_planner *p, struct md_store *store, int64_t now_ms)
{
    int rc = cs_refresh(p, store, now_ms);
    if (rc)
        return rc;
    if (!p->in_pass) {
        /* A chunkserver that went DOWN or OUT (or started draining) is scanned
         * at once rather than after scan_interval: its groups are known
         * degraded, and rebuilt, without that delay. At most one such pass
         * a second, so a flapping server cannot keep the scanner busy. */
        int64_t gap = p->o.scan_interval_ms < 1000 ? p->o.scan_interval_ms : 1000;
        int early = p->worse && now_ms - p->pass_end_ms >= gap;
        if (now_ms < p->next_pass_ms && !early)
            return 1;
        if ((rc = pass_start(p)))
            return rc;
    }
    struct md_iter *it;
    if ((rc = md_store_iter_new(store, &it)))
        return rc;
    uint32_t budget = p->o.scan_budget;
    while (budget && p->pos < p->n_suspects) {
        struct md_key pre;
        md_key_start(&pre, MD_K_FRAGMENT);
        md_key_be64(&pre, p->suspects[p->pos]);
        if (p->have_cursor) {
            uint8_t k[FRAG_KEY_LEN + 1];
            memcpy(k, p->cursor, FRAG_KEY_LEN);
            k[FRAG_KEY_LEN] = 0;
            md_iter_seek(it, k, sizeof(k));
        } else {
            md_iter_seek(it, pre.b, pre.n);
        }
        int done_cs = 1;
        while (md_iter_valid(it)) {
            size_t kl;
            const uint8_t *key = md_iter_key(it, &kl);
            if (kl != FRAG_KEY_LEN || memcmp(key, pre.b, FRAG_PREFIX_LEN) != 0)
                break;
            if (!budget) {
                done_cs = 0;
                break;
            }
            budget--;
            p->st.keys_scanned++;
            uint32_t index = md_get_be32(key + FRAG_PREFIX_LEN + 16);
            if ((rc = scan_key(p, p->suspects[p->pos], key + FRAG_PREFIX_LEN, index, now_ms)))
                goto out;
            memcpy(p->cursor, key, FRAG_KEY_LEN);
            p->have_cursor = 1;
            md_iter_next(it);
        }
        if ((rc = md_iter_status(it)))
            goto out;
        if (!done_cs)
            break;
        p->pos++;
        p->have_cursor = 0;
    }
    if (p->pos >= p->n_suspects) {
        pass_end(p, now_ms);
        rc = 1;
    }
out:
    md_iter_free(it);
    return rc;
}

/* ---- tasks ---- */

static uint32_t entry_risk(const struct entry *e)
{
    return (uint32_t)__builtin_popcountll(e->lost_mask | e->down_mask) + e->n_damage;
}

/* <0 when a is more at risk (goes first). */
static int entry_order(const struct entry *a, const struct entry *b)
{
    uint32_t ra = entry_risk(a), rb = entry_risk(b);
    if (ra != rb)
        return ra > rb ? -1 : 1;
    if (a->first_seen_ms != b->first_seen_ms)
        return a->first_seen_ms < b->first_seen_ms ? -1 : 1;
    return memcmp(a->gid, b->gid, 16);
}

static int entry_ready(const struct md_repair_planner *p, const struct entry *e, int64_t now_ms)
{
    return !e->in_flight && e->retry_after_ms <= now_ms && e->skip_until_gen <= p->gen &&
           (e->lost_mask || e->drain_mask || e->n_damage || e->forced);
}

/* F_DRAIN: on a DRAINING chunkserver that is up: still a source, but moved. */
enum frag_kind { F_LIVE, F_LOST, F_OUT, F_DOWN, F_DAMAGED, F_DRAIN };

static int same_label(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Spreads concurrent rebuilds over the targets: when md_place's choice
 * *target already has rebuilds in flight, the candidates in its zone and
 * rack (equal for placement rules 1 and 2) with fewer in flight are offered
 * to md_place again, least busy first; the first answer replaces *target.
 * So the failure-domain rules are kept and only the free-space weighted pick
 * among equals changes. Returns 0 or CAIRN_E_NOMEM. */
static int spread_target(const struct md_repair_planner *p, const struct md_place_node *cv,
                         size_t nc, const struct md_place_node *holding, size_t nh, uint64_t seed,
                         uint64_t *target)
{
    uint32_t now_busy = busy_count(p, *target);
    if (now_busy == 0)
        return 0;
    const struct md_place_node *t = NULL;
    for (size_t i = 0; i < nc && !t; i++)
        if (cv[i].id == *target)
            t = &cv[i];
    if (!t)
        return 0;
    struct md_place_node *sub = malloc(nc * sizeof(*sub));
    if (!sub)
        return CAIRN_E_NOMEM;
    /* levels of busyness below now_busy, lowest first; md_place fails on a
     * level whose nodes are all on hosts the group already uses */
    int64_t level = -1;
    for (;;) {
        uint32_t next = now_busy;
        for (size_t i = 0; i < nc; i++) {
            uint32_t b = busy_count(p, cv[i].id);
            if (same_label(cv[i].zone, t->zone) && same_label(cv[i].rack, t->rack) &&
                (int64_t)b > level && b < next)
                next = b;
        }
        if (next == now_busy)
            break;
        size_t ns = 0;
        for (size_t i = 0; i < nc; i++)
            if (same_label(cv[i].zone, t->zone) && same_label(cv[i].rack, t->rack) &&
                busy_count(p, cv[i].id) == next)
                sub[ns++] = cv[i];
        uint64_t other;
        if (md_place(sub, ns, holding, nh, 1, seed, &other) == 0) {
            *target = other;
            break;
        }
        level = next;
    }
    free(sub);
    return 0;
}

/* Re-reads e's group and either fills task (0), or decides the group needs
 * nothing now (1; e may have been removed), or fails (<0). */
static int evaluate(struct md_repair_planner *p, struct md_store *store, struct entry *e,
                    int64_t now_ms, struct md_repair_task *task)
{
    Md__QueryResult *qr = NULL;
    uint8_t gid[16];
    memcpy(gid, e->gid, 16);
    int rc = md_query_get_group(store, gid, &qr);
    if (rc == CAIRN_E_NOTFOUND) { /* deleted meanwhile */
        for (size_t i = p->n_dmg; i-- > 0;)
            if (memcmp(p->dmg[i].gid, gid, 16) == 0)
                damage_remove(p, &p->dmg[i]);
        entry_remove(p, entry_find(p, gid));
        return 1;
    }
    if (rc)
        return rc;
    const Md__ChunkGroup *g = qr->group ? qr->group->group : NULL;
    if (!g || g->k < 1 || g->n_fragment_cs != (size_t)g->k + g->m ||
        g->n_fragment_cs > MD_REPAIR_MAX_FRAGS) {
        md_query_result_free(qr);
        return CAIRN_E_CORRUPT;
    }
    if (qr->group->packed && qr->group->packed->state == MD__PACKED_STATE__PACKED_OPEN) {
        /* An open packed group still grows: a fragment rebuilt now would
         * stop at today's length. Its writer seals it (or the leader's
         * sealer once it idles), and a later scan finds it sealed. */
        entry_remove(p, entry_find(p, gid));
        md_query_result_free(qr);
        return 1;
    }
    uint32_t n = (uint32_t)g->n_fragment_cs;
    /* damage reports that no longer match the location are stale */
    for (size_t i = p->n_dmg; i-- > 0;) {
        struct damage *d = &p->dmg[i];
        if (memcmp(d->gid, gid, 16) == 0 && (d->index >= n || g->fragment_cs[d->index] != d->cs))
            damage_remove(p, d);
    }
    e = entry_find(p, gid);
    enum frag_kind kind[MD_REPAIR_MAX_FRAGS];
    uint32_t n_live = 0, n_down = 0, n_rebuild = 0, n_drain = 0;
    uint64_t lost = 0, down = 0, drain = 0;
    for (uint32_t f = 0; f < n; f++) {
        uint64_t cs = g->fragment_cs[f];
        if (!cs) {
            kind[f] = F_LOST;
        } else {
            enum md_repair_cs_state st = md_repair_plan_cs_state(p, cs);
            if (st == MD_REPAIR_CS_OUT)
                kind[f] = F_OUT;
            else if (st == MD_REPAIR_CS_DOWN)
                kind[f] = F_DOWN;
            else if (damage_find(p, gid, f, cs))
                kind[f] = F_DAMAGED;
            else if (cs_find(p, cs) && cs_find(p, cs)->draining)
                kind[f] = F_DRAIN;
            else
                kind[f] = F_LIVE;
        }
        if (kind[f] == F_LIVE) {
            n_live++;
        } else if (kind[f] == F_DRAIN) {
            n_live++;
            n_drain++;
            drain |= 1ull << f;
        } else if (kind[f] == F_DOWN) {
            n_down++;
            down |= 1ull << f;
        } else {
            n_rebuild++;
            lost |= 1ull << f;
        }
    }
    e->lost_mask = lost;
    e->down_mask = down;
    e->drain_mask = drain;
    e->pass_gen = p->gen;
    e->forced = 0;
    if (!n_rebuild && !n_down && !n_drain) { /* healthy */
        entry_remove(p, e);
        md_query_result_free(qr);
        return 1;
    }
    if (n_live + n_down < g->k) {
        if (!e->unrecoverable) {
            char hex[33];
            cn_hex_encode(gid, 16, hex);
            CN_ERROR(LOG, "group %s is unrecoverable: %u+%u with %u live, %u down, %u lost", hex,
                     g->k, g->m, n_live, n_down, n_rebuild);
            p->st.unrecoverable_seen++;
        }
        e->unrecoverable = 1;
        e->skip_until_gen = p->gen + 1;
        md_query_result_free(qr);
        return 1;
    }
    e->unrecoverable = 0;
    if ((!n_rebuild && !n_drain) || n_live < g->k) { /* waiting for DOWN chunkservers */
        e->skip_until_gen = p->gen + 1;
        md_query_result_free(qr);
        return 1;
    }
    /* Lost, out and damaged fragments first; a draining one when none is. */
    uint32_t idx = 0;
    while (idx < n && (kind[idx] == F_LIVE || kind[idx] == F_DOWN || kind[idx] == F_DRAIN))
        idx++;
    if (idx == n) {
        idx = 0;
        while (kind[idx] != F_DRAIN)
            idx++;
        if (n_live - 1 < g->k) { /* the others alone cannot rebuild it yet */
            e->skip_until_gen = p->gen + 1;
            md_query_result_free(qr);
            return 1;
        }
    }
    ec_layout lay = {.k = g->k, .m = g->m, .unit = g->unit, .frag_max = g->unit};
    memset(task, 0, sizeof(*task));
    memcpy(task->group_id, gid, 16);
    task->k = g->k;
    task->m = g->m;
    task->unit = g->unit;
    task->data_length = g->data_length;
    task->fragment_length = g->unit ? ec_layout_frag_len(&lay, g->data_length) : 0;
    task->index = idx;
    task->old_cs = g->fragment_cs[idx];
    task->why = kind[idx] == F_LOST    ? MD_REPAIR_LOST
                : kind[idx] == F_OUT   ? MD_REPAIR_OUT
                : kind[idx] == F_DRAIN ? MD_REPAIR_DRAIN
                                       : MD_REPAIR_DAMAGED;
    task->missing = n - n_live;
    task->degraded_since_ms = e->first_seen_ms;
    task->attempt = e->attempts;
    for (uint32_t f = 0; f < n; f++) {
        if ((kind[f] != F_LIVE && kind[f] != F_DRAIN) || f == idx)
            continue;
        const struct cs_entry *c = cs_find(p, g->fragment_cs[f]);
        struct md_repair_source *s = &task->sources[task->n_sources++];
        s->index = f;
        s->cs = g->fragment_cs[f];
        snprintf(s->address, sizeof(s->address), "%s", c ? c->address : "");
    }
    if (task->why == MD_REPAIR_DAMAGED) {
        task->new_cs = task->old_cs; /* in place: the holder is UP */
    } else {
        struct md_place_node cands[256], holding[MD_REPAIR_MAX_FRAGS];
        struct md_place_node *cv = p->n_cs > 256 ? malloc(p->n_cs * sizeof(*cv)) : cands;
        if (!cv) {
            md_query_result_free(qr);
            return CAIRN_E_NOMEM;
        }
        size_t nc = 0, nh = 0;
        for (uint32_t f = 0; f < n; f++) {
            uint64_t cs = g->fragment_cs[f];
            if (!cs || f == idx)
                continue;
            const struct cs_entry *c = cs_find(p, cs);
            holding[nh++] = (struct md_place_node){.id = cs,
                                                   .host = c ? c->host : NULL,
                                                   .rack = c ? c->rack : NULL,
                                                   .zone = c ? c->zone : NULL,
                                                   .free = c ? c->free : 0};
        }
        for (size_t i = 0; i < p->n_cs; i++) {
            const struct cs_entry *c = &p->cs[i];
            int holds = 0;
            for (uint32_t f = 0; f < n; f++)
                holds |= g->fragment_cs[f] == c->id;
            if (c->st != MD_REPAIR_CS_UP || !c->active || holds || c->free <= task->fragment_length)
                continue;
            cv[nc++] = (struct md_place_node){
                .id = c->id, .host = c->host, .rack = c->rack, .zone = c->zone, .free = c->free};
        }
        uint64_t seed = p->o.seed ^ gid_hash(gid) ^ ((uint64_t)idx << 40) ^
                        ((uint64_t)e->attempts * 0x9e3779b97f4a7c15ull);
        uint64_t target = 0;
        rc = nc ? md_place(cv, nc, holding, nh, 1, seed, &target) : CAIRN_E_UNAVAIL;
        if (rc == 0)
            rc = spread_target(p, cv, nc, holding, nh, seed, &target);
        if (cv != cands)
            free(cv);
        if (rc == CAIRN_E_UNAVAIL) {
            char hex[33];
            cn_hex_encode(gid, 16, hex);
            CN_WARN(LOG, "no placement for fragment %u of group %s (%zu candidates)", idx, hex, nc);
            p->st.no_target++;
            e->skip_until_gen = p->gen + 1;
            md_query_result_free(qr);
            return 1;
        }
        if (rc) {
            md_query_result_free(qr);
            return rc;
        }
        task->new_cs = target;
    }
    const struct cs_entry *t = cs_find(p, task->new_cs);
    snprintf(task->target_address, sizeof(task->target_address), "%s", t ? t->address : "");
    md_query_result_free(qr);
    return 0;
}

int md_repair_plan_next(struct md_repair_planner *p, struct md_store *store, int64_t now_ms,
                        struct md_repair_task *task)
{
    int rc;
    if (!p->have_cs && (rc = cs_refresh(p, store, now_ms)))
        return rc;
    for (int round = 0; round < NEXT_ROUNDS; round++) {
        /* the NEXT_CANDIDATES most at risk, in order (insertion into a small array) */
        uint8_t best[NEXT_CANDIDATES][16];
        struct entry *bp[NEXT_CANDIDATES];
        size_t nb = 0;
        for (size_t i = 0; i < p->n_e; i++) {
            struct entry *e = &p->e[i];
            if (!entry_ready(p, e, now_ms))
                continue;
            if (nb == NEXT_CANDIDATES && entry_order(e, bp[nb - 1]) >= 0)
                continue;
            size_t j = nb < NEXT_CANDIDATES ? nb++ : nb - 1;
            while (j > 0 && entry_order(e, bp[j - 1]) < 0) {
                bp[j] = bp[j - 1];
                j--;
            }
            bp[j] = e;
        }
        if (!nb)
            return CAIRN_E_NOTFOUND;
        /* evaluation may move entries: work from group ids */
        for (size_t i = 0; i < nb; i++)
            memcpy(best[i], bp[i]->gid, 16);
        for (size_t i = 0; i < nb; i++) {
            struct entry *e = entry_find(p, best[i]);
            if (!e || !entry_ready(p, e, now_ms))
                continue;
            rc = evaluate(p, store, e, now_ms, task);
            if (rc < 0)
                return rc;
            if (rc == 0) {
                if ((rc = busy_add(p, task->new_cs, 1)))
                    return rc;
                e = entry_find(p, best[i]);
                e->in_flight = 1;
                p->n_in_flight++;
                return 0;
            }
        }
        /* every candidate was skipped or removed; the next round sees others */
    }
    return CAIRN_E_BUSY; /* evaluation budget spent: call again */
}

void md_repair_plan_done(struct md_repair_planner *p, const struct md_repair_task *task, int status,
                         int64_t now_ms)
{
    if (status == 0) {
        p->st.tasks_done++;
        p->st.bytes_rebuilt += task->fragment_length;
    } else {
        p->st.tasks_failed++;
    }
    struct entry *e = entry_find(p, task->group_id);
    if (!e || !e->in_flight)
        return;
    e->in_flight = 0;
    p->n_in_flight--;
    busy_add(p, task->new_cs, -1);
    if (status == 0) {
        e->attempts = 0;
        e->retry_after_ms = 0;
        struct damage *d = task->why == MD_REPAIR_DAMAGED
                               ? damage_find(p, task->group_id, task->index, task->old_cs)
                               : NULL;
        if (d)
            damage_remove(p, d);
        e = entry_find(p, task->group_id);
        if (e)
            e->forced = 1; /* re-read it next: more to do, or healthy and dropped */
    } else {
        int64_t delay = p->o.retry_base_ms;
        for (uint32_t i = 0; i < e->attempts && delay < p->o.retry_max_ms; i++)
            delay *= 2;
        if (delay > p->o.retry_max_ms)
            delay = p->o.retry_max_ms;
        e->attempts++;
        e->retry_after_ms = now_ms + delay;
    }
}

int md_repair_plan_damage(struct md_repair_planner *p, const uint8_t group_id[16], uint32_t index,
                          uint64_t cs, int64_t now_ms)
{
    if (damage_find(p, group_id, index, cs))
        return 0;
    if (p->n_dmg >= p->o.max_damage) {
        p->st.damage_dropped++;
        return CAIRN_E_BUSY;
    }
    if (p->n_dmg == p->cap_dmg) {
        size_t nc = p->cap_dmg ? p->cap_dmg * 2 : 64;
        struct damage *nd = realloc(p->dmg, nc * sizeof(*nd));
        if (!nd)
            return CAIRN_E_NOMEM;
        p->dmg = nd;
        p->cap_dmg = nc;
    }
    struct entry *e = entry_get(p, group_id, now_ms);
    if (!e)
        return CAIRN_E_NOMEM;
    struct damage *d = &p->dmg[p->n_dmg++];
    memcpy(d->gid, group_id, 16);
    d->index = index;
    d->cs = cs;
    e->n_damage++;
    e->skip_until_gen = 0;
    p->st.damage_reports++;
    return 0;
}

int md_repair_plan_group(struct md_repair_planner *p, const uint8_t group_id[16], int64_t now_ms)
{
    struct entry *e = entry_get(p, group_id, now_ms);
    if (!e)
        return CAIRN_E_NOMEM;
    e->forced = 1;
    e->skip_until_gen = 0;
    e->retry_after_ms = 0;
    return 0;
}

void md_repair_plan_rescan(struct md_repair_planner *p)
{
    p->in_pass = 0;
    p->next_pass_ms = INT64_MIN;
}

void md_repair_plan_stats(const struct md_repair_planner *p, struct md_repair_stats *st)
{
    *st = p->st;
    st->degraded_groups = st->queued_groups = st->unrecoverable = 0;
    for (size_t i = 0; i < p->n_e; i++) {
        const struct entry *e = &p->e[i];
        if (e->lost_mask || e->down_mask || e->n_damage)
            st->degraded_groups++;
        if (e->unrecoverable)
            st->unrecoverable++;
        else if (e->lost_mask || e->n_damage)
            st->queued_groups++;
    }
    st->in_flight = p->n_in_flight;
}

/* ----------------------------------------------------------- executor -- */

void md_repair_opts_default(struct md_repair_opts *o)
{
    memset(o, 0, sizeof(*o));
    md_repair_plan_opts_default(&o->plan);
    o->max_inflight = 2;
    o->task_timeout_ms = 120000;
    o->tick_ms = 100;
}

struct md_repair;

struct worker {
    struct md_repair *r;
    pthread_t thread;
    uint64_t client_id, seq; /* request ids of its commits */
};

struct md_repair {
    struct md_repair_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int leading;
    uint64_t plan_gen; /* bumped with every new planner */
    struct md_repair_planner *plan;
    uint32_t in_flight;
    double tokens; /* bandwidth bucket, bytes (may go negative) */
    int64_t tokens_ms;
    uint64_t done, failed, bytes;
    pthread_t scanner;
    struct worker *workers;
    uint32_t n_workers;
    int scanner_started;
};

static void cv_wait_ms(struct md_repair *r, int64_t ms)
{
    struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, ms);
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static void *scanner_main(void *arg)
{
    struct md_repair *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        int leader = r->o.is_leader(r->o.ctx);
        int64_t now = cn_mono_ms();
        int64_t wait = r->o.tick_ms;
        if (!leader && r->leading) {
            CN_INFO(LOG, "not leader: repair paused");
            r->leading = 0;
        } else if (leader && !r->leading && r->in_flight == 0) {
            /* a new planner: the queue is rebuilt from the replicated state */
            md_repair_planner_free(r->plan);
            r->plan = NULL;
            if (md_repair_planner_new(&r->o.plan, now, &r->plan) == 0) {
                r->leading = 1;
                r->plan_gen++;
                CN_INFO(LOG, "leader: repair planner started");
            }
        }
        if (r->leading) {
            int rc = md_repair_plan_step(r->plan, r->o.store, now);
            if (rc < 0)
                CN_WARN(LOG, "scan step failed: %s", cairn_strerror(rc));
            else if (rc == 0)
                wait = 1; /* pass in progress: yield the lock, then go on */
            pthread_cond_broadcast(&r->cv);
        }
        cv_wait_ms(r, wait);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* POST /v1/rebuild to the target, then commit the move. Returns 0 or an error. */
static int run_task(struct md_repair *r, struct worker *w, struct cn_http_client *cl,
                    const struct md_repair_task *t)
{
    char hex[33];
    cn_hex_encode(t->group_id, 16, hex);
    Chunk__FragmentSource srcs[MD_REPAIR_MAX_FRAGS], *sp[MD_REPAIR_MAX_FRAGS];
    for (uint32_t i = 0; i < t->n_sources; i++) {
        chunk__fragment_source__init(&srcs[i]);
        srcs[i].index = t->sources[i].index;
        srcs[i].address = (char *)t->sources[i].address;
        sp[i] = &srcs[i];
    }
    Chunk__RebuildRequest rq = CHUNK__REBUILD_REQUEST__INIT;
    rq.group_id.data = (uint8_t *)t->group_id;
    rq.group_id.len = 16;
    rq.index = t->index;
    rq.k = t->k;
    rq.m = t->m;
    rq.unit = t->unit;
    rq.data_length = t->fragment_length;
    rq.n_sources = t->n_sources;
    rq.sources = sp;
    size_t blen = chunk__rebuild_request__get_packed_size(&rq);
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body)
        return CAIRN_E_NOMEM;
    chunk__rebuild_request__pack(&rq, body);
    char url[MD_REPAIR_ADDR_MAX + 8];
    snprintf(url, sizeof(url), "http://%s", t->target_address);
    const char *hdrs[] = {"Content-Type: application/x-protobuf", NULL};
    struct cn_http_request req = {.method = "POST",
                                  .base_url = url,
                                  .target = CN_ROUTE_CS_REBUILD,
                                  .headers = hdrs,
                                  .body = body,
                                  .body_len = blen,
                                  .resp_max = 64 * 1024,
                                  .timeout_ms = r->o.task_timeout_ms};
    struct cn_http_response resp;
    memset(&resp, 0, sizeof(resp));
    int64_t t0 = cn_mono_ms();
    int rc = cn_http_client_do(cl, &req, &resp);
    free(body);
    if (rc == 0 && (resp.status < 200 || resp.status > 299)) {
        const char *why = cn_http_response_header(&resp, CN_HDR_ERROR);
        CN_WARN(LOG, "rebuild of %s/%u on %s: HTTP %d %s", hex, t->index, t->target_address,
                resp.status, why ? why : "");
        rc = resp.status == 503 ? CAIRN_E_UNAVAIL : CAIRN_E_IO;
    } else if (rc) {
        CN_WARN(LOG, "rebuild of %s/%u on %s: %s", hex, t->index, t->target_address,
                cairn_strerror(rc));
    }
    cn_http_response_clear(&resp);
    if (rc)
        return rc;
    if (t->new_cs == t->old_cs) {
        CN_INFO(LOG, "rebuilt %s/%u in place on %" PRIu64 " in %" PRId64 " ms", hex, t->index,
                t->new_cs, cn_mono_ms() - t0);
        return 0;
    }
    uint8_t *cmd;
    size_t clen;
    uint64_t seq = ++w->seq;
    if ((rc = md_cmd_move_fragment(w->client_id, seq, t->group_id, t->index, t->old_cs, t->new_cs,
                                   &cmd, &clen)))
        return rc;
    rc = r->o.commit(r->o.ctx, w->client_id, seq, cmd, clen);
    free(cmd);
    if (rc == CAIRN_E_PRECOND) {
        /* the location moved meanwhile: done if it is where we rebuilt it */
        Md__QueryResult *qr;
        if (md_query_get_group(r->o.store, t->group_id, &qr) == 0) {
            const Md__ChunkGroup *g = qr->group ? qr->group->group : NULL;
            if (g && t->index < g->n_fragment_cs && g->fragment_cs[t->index] == t->new_cs)
                rc = 0;
            md_query_result_free(qr);
        }
    }
    if (rc) {
        CN_WARN(LOG, "commit of %s/%u %" PRIu64 " -> %" PRIu64 " failed: %s", hex, t->index,
                t->old_cs, t->new_cs, cairn_strerror(rc));
        return rc;
    }
    CN_INFO(LOG, "rebuilt %s/%u: %" PRIu64 " -> %" PRIu64 ", %" PRIu64 " bytes in %" PRId64 " ms",
            hex, t->index, t->old_cs, t->new_cs, t->fragment_length, cn_mono_ms() - t0);
    return 0;
}

/* Refills the bucket; returns ms to wait before a task may start (0 = go). */
static int64_t bucket_wait(struct md_repair *r, int64_t now)
{
    if (r->o.bandwidth_mb_s <= 0)
        return 0;
    double rate = r->o.bandwidth_mb_s * 1e6; /* bytes/s; burst = 1 s */
    r->tokens += rate * (double)(now - r->tokens_ms) / 1000.0;
    r->tokens_ms = now;
    if (r->tokens > rate)
        r->tokens = rate;
    if (r->tokens >= 0)
        return 0;
    int64_t ms = (int64_t)(-r->tokens / rate * 1000.0) + 1;
    return ms;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct md_repair *r = wk->r;
    struct cn_http_client_opts co = {.auth = r->o.auth,
                                     .connect_timeout_ms = 2000,
                                     .timeout_ms = r->o.task_timeout_ms,
                                     .stall_timeout_ms = r->o.task_timeout_ms};
    struct cn_http_client *cl = NULL;
    if (cn_http_client_new(&co, &cl)) {
        CN_ERROR(LOG, "worker: no HTTP client");
        return NULL;
    }
    struct md_repair_task *task = malloc(sizeof(*task));
    if (!task) {
        cn_http_client_free(cl);
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (!r->leading || !r->plan) {
            cv_wait_ms(r, r->o.tick_ms);
            continue;
        }
        int64_t now = cn_mono_ms();
        int64_t w = bucket_wait(r, now);
        if (w) {
            cv_wait_ms(r, w < r->o.tick_ms ? w : r->o.tick_ms);
            continue;
        }
        int rc = md_repair_plan_next(r->plan, r->o.store, now, task);
        if (rc == CAIRN_E_BUSY) { /* more to evaluate: let others in, then go on */
            pthread_mutex_unlock(&r->mu);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (rc) {
            if (rc != CAIRN_E_NOTFOUND)
                CN_WARN(LOG, "planning failed: %s", cairn_strerror(rc));
            cv_wait_ms(r, r->o.tick_ms);
            continue;
        }
        if (r->o.bandwidth_mb_s > 0)
            r->tokens -= (double)task->fragment_length;
        uint64_t gen = r->plan_gen;
        r->in_flight++;
        pthread_mutex_unlock(&r->mu);
        rc = run_task(r, wk, cl, task);
        pthread_mutex_lock(&r->mu);
        r->in_flight--;
        if (rc == 0) {
            r->done++;
            r->bytes += task->fragment_length;
        } else {
            r->failed++;
        }
        if (gen == r->plan_gen && r->plan)
            md_repair_plan_done(r->plan, task, rc, cn_mono_ms());
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    free(task);
    cn_http_client_free(cl);
    return NULL;
}

int md_repair_start(const struct md_repair_opts *opts, struct md_repair **out)
{
    if (!opts || !out || !opts->store || !opts->is_leader || !opts->commit || !opts->plan.live ||
        opts->max_inflight == 0 || opts->tick_ms <= 0 || opts->task_timeout_ms <= 0)
        return CAIRN_E_INVAL;
    int rc = cn_http_global_init();
    if (rc)
        return rc;
    struct md_repair *r = calloc(1, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    r->o = *opts;
    r->tokens_ms = cn_mono_ms();
    r->tokens = opts->bandwidth_mb_s * 1e6;
    r->workers = calloc(opts->max_inflight, sizeof(*r->workers));
    if (!r->workers) {
        free(r);
        return CAIRN_E_NOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    if (pthread_create(&r->scanner, NULL, scanner_main, r)) {
        rc = CAIRN_E_IO;
        goto err;
    }
    r->scanner_started = 1;
    uint64_t base = opts->client_id;
    while (!base) {
        if ((rc = cn_random_bytes(&base, sizeof(base))))
            goto err;
        base &= ~(1ull << 63); /* room for + i */
    }
    for (uint32_t i = 0; i < opts->max_inflight; i++) {
        r->workers[i].r = r;
        r->workers[i].client_id = base + i;
        if (pthread_create(&r->workers[i].thread, NULL, worker_main, &r->workers[i])) {
            rc = CAIRN_E_IO;
            goto err;
        }
        r->n_workers++;
    }
    *out = r;
    return 0;
err:
    md_repair_stop(r);
    return rc;
}

void md_repair_stop(struct md_repair *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->scanner_started)
        pthread_join(r->scanner, NULL);
    for (uint32_t i = 0; i < r->n_workers; i++)
        pthread_join(r->workers[i].thread, NULL);
    md_repair_planner_free(r->plan);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->workers);
    free(r);
}

int md_repair_report_damage(struct md_repair *r, const uint8_t group_id[16], uint32_t index,
                            uint64_t cs)
{
    pthread_mutex_lock(&r->mu);
    int rc = r->leading && r->plan
                 ? md_repair_plan_damage(r->plan, group_id, index, cs, cn_mono_ms())
                 : CAIRN_E_NOTLEADER;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int md_repair_repair_group(struct md_repair *r, const uint8_t group_id[16])
{
    pthread_mutex_lock(&r->mu);
    int rc = r->leading && r->plan ? md_repair_plan_group(r->plan, group_id, cn_mono_ms())
                                   : CAIRN_E_NOTLEADER;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int md_repair_rescan(struct md_repair *r)
{
    pthread_mutex_lock(&r->mu);
    int rc = CAIRN_E_NOTLEADER;
    if (r->leading && r->plan) {
        md_repair_plan_rescan(r->plan);
        rc = 0;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void md_repair_get_stats(struct md_repair *r, struct md_repair_stats *st)
{
    pthread_mutex_lock(&r->mu);
    if (r->plan)
        md_repair_plan_stats(r->plan, st);
    else
        memset(st, 0, sizeof(*st));
    st->tasks_done = r->done;
    st->tasks_failed = r->failed;
    st->bytes_rebuilt = r->bytes;
    st->in_flight = r->in_flight;
    pthread_mutex_unlock(&r->mu);
}

size_t md_repair_metrics(struct md_repair *r, char *buf, size_t cap)
{
    struct md_repair_stats st;
    md_repair_get_stats(r, &st);
    if (!cap)
        return 0;
    int n = snprintf(buf, cap,
                     "cairn_repair_degraded_groups %" PRIu64 "\n"
                     "cairn_repair_queued_groups %" PRIu64 "\n"
                     "cairn_repair_unrecoverable_groups %" PRIu64 "\n"
                     "cairn_repair_in_flight %" PRIu64 "\n"
                     "cairn_repair_tasks_done_total %" PRIu64 "\n"
                     "cairn_repair_tasks_failed_total %" PRIu64 "\n"
                     "cairn_repair_rebuilt_bytes_total %" PRIu64 "\n"
                     "cairn_repair_scan_passes_total %" PRIu64 "\n"
                     "cairn_repair_no_target_total %" PRIu64 "\n",
                     st.degraded_groups, st.queued_groups, st.unrecoverable, st.in_flight,
                     st.tasks_done, st.tasks_failed, st.bytes_rebuilt, st.passes, st.no_target);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
