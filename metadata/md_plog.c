#include "md_plog.h"

#include "cn_error.h"
#include "cn_util.h"
#include "md_store.h"
#include "meta.pb-c.h"
#include "paxos.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* Store keys of the Paxos layer (the state machine owns keys starting 'S'). */
static const uint8_t KEY_PROMISE[] = {'P', 'p'};
#define LOG_KEY_LEN 10

struct md_plog_rec {
    uint64_t seq, promised, trim_through;
    uint32_t n_entries;
    struct paxos_entry *entries;
    uint8_t *blob;
};

struct md_plog {
    struct md_store *store;
    uint64_t log_base; /* every log key <= this has been deleted */
};

static void log_key(uint64_t slot, uint8_t key[LOG_KEY_LEN])
{
    key[0] = 'P';
    key[1] = 'L';
    for (int i = 0; i < 8; i++)
        key[2 + i] = (uint8_t)(slot >> (56 - 8 * i));
}

/* The slot of a log key, or 0 when key is not one. */
static uint64_t log_key_slot(const uint8_t *key, size_t klen)
{
    if (klen != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
        return 0;
    uint64_t slot = 0;
    for (int j = 0; j < 8; j++)
        slot = slot << 8 | key[2 + j];
    return slot;
}

/* ------------------------------------------------------------------ load -- */

static int restored_push(struct md_plog_restored *rs, const Px__Entry *pe)
{
    if (rs->n_entries == rs->cap) {
        uint32_t cap = rs->cap ? 2 * rs->cap : 64;
        struct paxos_entry *ne = realloc(rs->entries, cap * sizeof(*ne));
        if (!ne)
            return CAIRN_E_NOMEM;
        rs->entries = ne;
        uint8_t **nb = realloc(rs->blobs, cap * sizeof(*nb));
        if (!nb)
            return CAIRN_E_NOMEM;
        rs->blobs = nb;
        rs->cap = cap;
    }
    uint8_t *blob = malloc(pe->value.len ? pe->value.len : 1);
    if (!blob)
        return CAIRN_E_NOMEM;
    memcpy(blob, pe->value.data, pe->value.len);
    rs->blobs[rs->n_entries] = blob;
    rs->entries[rs->n_entries++] = (struct paxos_entry){
        .slot = pe->slot, .ballot = pe->ballot, .len = (uint32_t)pe->value.len, .data = blob};
    return 0;
}

static int load_promise(struct md_store *store, uint64_t *promised)
{
    void *val = NULL;
    size_t vlen = 0;
    int rc = md_store_get(store, KEY_PROMISE, sizeof(KEY_PROMISE), &val, &vlen);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    Px__Promise *p = px__promise__unpack(NULL, vlen, val);
    free(val);
    if (!p)
        return CAIRN_E_CORRUPT;
    *promised = p->ballot;
    px__promise__free_unpacked(p, NULL);
    return 0;
}

static int load_entries(struct md_store *store, struct md_plog_restored *rs)
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    uint8_t k[LOG_KEY_LEN];
    log_key(0, k);
    for (md_iter_seek(it, k, sizeof(k)); rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *key = md_iter_key(it, &kl);
        if (kl != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
            break;
        const uint8_t *v = md_iter_value(it, &vl);
        Px__Entry *pe = px__entry__unpack(NULL, vl, v);
        if (!pe) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        rc = restored_push(rs, pe);
        px__entry__free_unpacked(pe, NULL);
    }
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

int md_plog_open(struct md_store *store, uint64_t applied, struct md_plog **out,
                 struct md_plog_restored *rs)
{
    memset(rs, 0, sizeof(*rs));
    struct md_plog *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return CAIRN_E_NOMEM;
    pl->store = store;
    int rc = load_promise(store, &rs->promised);
    if (rc == 0)
        rc = load_entries(store, rs);
    if (rc != 0) {
        md_plog_restored_free(rs);
        free(pl);
        return rc;
    }
    pl->log_base = rs->n_entries ? rs->entries[0].slot - 1 : applied;
    *out = pl;
    return 0;
}

void md_plog_restored_free(struct md_plog_restored *rs)
{
    for (uint32_t i = 0; i < rs->n_entries; i++)
        free(rs->blobs[i]);
    free(rs->blobs);
    free(rs->entries);
    memset(rs, 0, sizeof(*rs));
}

void md_plog_free(struct md_plog *pl)
{
    free(pl);
}

/* --------------------------------------------------------------- batches -- */

int md_plog_batch_add(struct md_plog_batch *b, const struct paxos_persist *rec)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct md_plog_rec *r = realloc(b->recs, cap * sizeof(*r));
        if (!r)
            return CAIRN_E_NOMEM;
        b->recs = r;
        b->cap = cap;
    }
    struct md_plog_rec *r = &b->recs[b->n];
    *r = (struct md_plog_rec){.seq = rec->seq,
                              .promised = rec->promised,
                              .trim_through = rec->trim_through,
                              .n_entries = rec->n_entries};
    if (rec->n_entries > 0) {
        size_t total = 0;
        for (uint32_t i = 0; i < rec->n_entries; i++)
            total += rec->entries[i].len;
        r->entries = malloc(rec->n_entries * sizeof(*r->entries));
        r->blob = malloc(total ? total : 1);
        if (!r->entries || !r->blob) {
            free(r->entries);
            free(r->blob);
            return CAIRN_E_NOMEM;
        }
        size_t off = 0;
        for (uint32_t i = 0; i < rec->n_entries; i++) {
            r->entries[i] = rec->entries[i];
            memcpy(r->blob + off, rec->entries[i].data, rec->entries[i].len);
            r->entries[i].data = r->blob + off;
            off += rec->entries[i].len;
        }
    }
    b->n++;
    return 0;
}

void md_plog_batch_clear(struct md_plog_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->recs[i].entries);
        free(b->recs[i].blob);
    }
    b->n = 0;
}

int md_plog_batch_move(struct md_plog_batch *to, struct md_plog_batch *from)
{
    if (to->n == 0) {
        /* Swap the arrays: no copy. */
        struct md_plog_batch tmp = *to;
        *to = *from;
        *from = tmp;
        return 0;
    }
    if (to->n + from->n > to->cap) {
        struct md_plog_rec *r = realloc(to->recs, (to->n + from->n) * sizeof(*r));
        if (!r)
            return CAIRN_E_NOMEM;
        to->recs = r;
        to->cap = to->n + from->n;
    }
    memcpy(to->recs + to->n, from->recs, from->n * sizeof(*from->recs));
    to->n += from->n;
    from->n = 0;
    return 0;
}

/* ----------------------------------------------------------------- write -- */

/* Adds deletions of every log key in (log_base, through] to b. */
static int batch_trim(struct md_plog *pl, struct md_batch *b, uint64_t through)
{
    struct md_iter *it;
    int rc = md_store_iter_new(pl->store, &it);
    if (rc)
        return rc;
    uint8_t k[LOG_KEY_LEN];
    log_key(pl->log_base, k);
    for (md_iter_seek(it, k, sizeof(k)); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const uint8_t *key = md_iter_key(it, &kl);
        uint64_t slot = log_key_slot(key, kl);
        if (slot == 0 || slot > through)
            break;
        md_batch_del(b, key, kl);
    }
    rc = md_iter_status(it);
    md_iter_free(it);
    if (rc == 0)
        pl->log_base = through;
    return rc;
}

static int batch_entries(struct md_batch *b, const struct md_plog_rec *r)
{
    for (uint32_t e = 0; e < r->n_entries; e++) {
        Px__Entry pe = PX__ENTRY__INIT;
        pe.slot = r->entries[e].slot;
        pe.ballot = r->entries[e].ballot;
        pe.value.data = (uint8_t *)r->entries[e].data;
        pe.value.len = r->entries[e].len;
        uint8_t *ebuf;
        size_t elen;
        int rc = cn_pb_pack(&pe.base, &ebuf, &elen);
        if (rc)
            return rc;
        uint8_t k[LOG_KEY_LEN];
        log_key(pe.slot, k);
        md_batch_put(b, k, sizeof(k), ebuf, elen);
        free(ebuf);
    }
    return 0;
}

int md_plog_write(struct md_plog *pl, struct md_plog_batch *recs, uint64_t *max_seq,
                  int64_t *sync_us)
{
    uint64_t top = 0;
    struct md_batch *b = md_batch_new();
    if (!b)
        return CAIRN_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < recs->n; i++) {
        const struct md_plog_rec *r = &recs->recs[i];
        md_batch_clear(b);
        Px__Promise pr = PX__PROMISE__INIT;
        pr.ballot = r->promised;
        uint8_t pbuf[16];
        size_t plen = px__promise__pack(&pr, pbuf);
        md_batch_put(b, KEY_PROMISE, sizeof(KEY_PROMISE), pbuf, plen);
        if (r->trim_through > pl->log_base)
            rc = batch_trim(pl, b, r->trim_through);
        if (rc == 0)
            rc = batch_entries(b, r);
        if (rc == 0)
            rc = md_store_write(pl->store, b);
        if (r->seq > top)
            top = r->seq;
    }
    md_batch_free(b);
    md_plog_batch_clear(recs);
    if (rc != 0)
        return rc;
    int64_t t0 = cn_mono_us();
    rc = md_store_sync(pl->store);
    if (sync_us)
        *sync_us = cn_mono_us() - t0;
    if (rc == 0)
        *max_seq = top;
    return rc;
}

/* -------------------------------------------------------------- identity -- */

static const uint8_t KEY_ID[] = {'P', 'i'};
static const uint8_t KEY_JOIN[] = {'P', 'j'};

int md_plog_identity_get(struct md_store *store, uint32_t *id, struct paxos_membership *out_m)
{
    void *v = NULL;
    size_t vl = 0;
    int rc = md_store_get(store, KEY_ID, sizeof(KEY_ID), &v, &vl);
    if (rc)
        return rc;
    if (vl != 4) {
        free(v);
        return CAIRN_E_CORRUPT;
    }
    const uint8_t *b = v;
    *id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    free(v);
    if (!out_m)
        return 0;
    memset(out_m, 0, sizeof(*out_m));
    if ((rc = md_store_get(store, KEY_JOIN, sizeof(KEY_JOIN), &v, &vl)) != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    Md__MembershipRecord *m = md__membership_record__unpack(NULL, vl, v);
    free(v);
    if (!m || m->n_voters == 0 || m->n_voters > PAXOS_MAX_REPLICAS ||
        m->n_learners > PAXOS_MAX_REPLICAS) {
        if (m)
            md__membership_record__free_unpacked(m, NULL);
        return CAIRN_E_CORRUPT;
    }
    out_m->n_voters = (uint32_t)m->n_voters;
    out_m->n_learners = (uint32_t)m->n_learners;
    memcpy(out_m->voters, m->voters, m->n_voters * sizeof(uint32_t));
    if (m->n_learners) /* (no learners: protobuf-c leaves the array NULL) */
        memcpy(out_m->learners, m->learners, m->n_learners * sizeof(uint32_t));
    md__membership_record__free_unpacked(m, NULL);
    return 0;
}

int md_plog_identity_put(struct md_store *store, uint32_t id, const struct paxos_membership *m)
{
    uint8_t idb[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    Md__MembershipRecord r = MD__MEMBERSHIP_RECORD__INIT;
    r.voters = (uint32_t *)m->voters;
    r.n_voters = m->n_voters;
    r.learners = (uint32_t *)m->learners;
    r.n_learners = m->n_learners;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cn_pb_pack(&r.base, &buf, &len);
    struct md_batch *b = rc ? NULL : md_batch_new();
    if (!rc && !b)
        rc = CAIRN_E_NOMEM;
    if (!rc)
        rc = md_batch_put(b, KEY_JOIN, sizeof(KEY_JOIN), buf, len);
    if (!rc)
        rc = md_batch_put(b, KEY_ID, sizeof(KEY_ID), idb, sizeof(idb));
    if (!rc)
        rc = md_store_write(store, b);
    if (!rc)
        rc = md_store_sync(store);
    md_batch_free(b);
    free(buf);
    return rc;
}
