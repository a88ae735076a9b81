#include "md_check.h"
#include "md_sm.h"
#include "md_sm_int.h"
#include "md_txn.h"
#include "meta.pb-c.h"
#include "cn_error.h"
#include "cn_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct checker {
    struct md_txn txn;
    char *why;
    size_t why_len;
    uint64_t live_fragments; /* fragment-index keys the records call for */
    uint64_t live_groups;    /* locators the records call for */
    uint64_t garbage_cs;     /* per-chunkserver garbage keys the entries call for */
    uint64_t sessions;       /* session records seen */
    uint64_t null_refs;      /* "SN" keys the noncurrent null versions call for */
    /* the previous noncurrent version's "bucket 0 key" (first of each key) */
    unsigned char prev_name[MD_MKEY_MAX];
    size_t prev_len;
    /* what the records' packed extents add up to, per group (issue #17) */
    struct packed_use *packed;
    size_t n_packed, cap_packed;
    size_t packed_matched; /* entries that found their group's record */
    uint64_t packed_index; /* "SE" entries the records' packed extents call for */
};

struct packed_use {
    uint8_t id[16];
    uint32_t k, m, unit;
    uint64_t bytes, extents;
    uint64_t end; /* the highest byte any extent reaches */
};

static int violation(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int violation(struct checker *c, const char *fmt, ...)
{
    if (c->why && c->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_len, fmt, ap);
        va_end(ap);
    }
    return CAIRN_E_CORRUPT;
}

static int exists(struct checker *c, const struct md_key *k)
{
    void *v;
    size_t vl;
    int rc = md_txn_get(&c->txn, k->b, k->n, &v, &vl);
    if (rc == 0) {
        free(v);
        return 1;
    }
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/* A packed extent of the record at rkey: stored as id, k, m, unit only,
 * starting on a stripe; counted for its group (check_packed). */
static int note_packed(struct checker *c, const unsigned char *rkey, size_t rklen,
                       const Md__Extent *e)
{
    const Md__ChunkGroup *g = e->group;
    if (e->length == 0 || g->unit == 0 || g->n_fragment_cs != 0 || g->data_length != 0 ||
        e->group_offset % ((uint64_t)g->k * g->unit) != 0 ||
        e->length > UINT64_MAX - e->group_offset)
        return violation(c, "record %.*s: packed extent malformed", (int)rklen, rkey);
    struct packed_use *u = NULL;
    for (size_t i = c->n_packed; i-- > 0;)
        if (memcmp(c->packed[i].id, g->id.data, 16) == 0) {
            u = &c->packed[i];
            break;
        }
    if (!u) {
        if (c->n_packed == c->cap_packed) {
            size_t cap = c->cap_packed ? 2 * c->cap_packed : 16;
            struct packed_use *np = realloc(c->packed, cap * sizeof(*np));
            if (!np)
                return CAIRN_E_NOMEM;
            c->packed = np;
            c->cap_packed = cap;
        }
        u = &c->packed[c->n_packed++];
        memset(u, 0, sizeof(*u));
        memcpy(u->id, g->id.data, 16);
        u->k = g->k;
        u->m = g->m;
        u->unit = g->unit;
    } else if (u->k != g->k || u->m != g->m || u->unit != g->unit) {
        return violation(c, "record %.*s: packed extent's geometry differs from another's",
                         (int)rklen, rkey);
    }
    u->bytes += e->length;
    u->extents++;
    if (e->group_offset + e->length > u->end)
        u->end = e->group_offset + e->length;
    /* the compactor's reverse index names this record at this offset */
    struct md_key ik;
    md_key_start(&ik, MD_K_PACKIDX);
    md_key_bytes(&ik, g->id.data, 16);
    md_key_be64(&ik, e->group_offset);
    void *v;
    size_t vl;
    int rc = md_txn_get(&c->txn, ik.b, ik.n, &v, &vl);
    if (rc == CAIRN_E_NOTFOUND)
        return violation(c, "record %.*s: packed extent not in the \"SE\" index", (int)rklen, rkey);
    if (rc)
        return rc;
    int same = vl == rklen && memcmp(v, rkey, rklen) == 0;
    free(v);
    if (!same)
        return violation(c, "record %.*s: \"SE\" index of its packed extent names another record",
                         (int)rklen, rkey);
    c->packed_index++;
    return 0;
}

/* An "SE" entry: group id and offset; each one a record's packed extent
 * called for (counted against packed_index after the scan). */
static int check_packidx(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    (void)v;
    if (kl != 2 + 16 + 8 || vl == 0)
        return violation(c, "\"SE\" key malformed");
    if (c->packed_index == 0)
        return violation(c, "\"SE\" entry %02x%02x..+%" PRIu64 " names no record's extent", k[2],
                         k[3], md_get_be64(k + 18));
    c->packed_index--;
    return 0;
}

/* The groups of one record (object or part) at rkey. */
static int check_extents(struct checker *c, const unsigned char *rkey, size_t rklen,
                         Md__Extent *const *ext, size_t n, uint64_t size)
{
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const Md__ChunkGroup *g = ext[i] ? ext[i]->group : NULL;
        if (!g || g->id.len != 16 || g->k == 0 ||
            (!ext[i]->packed && g->n_fragment_cs != (size_t)g->k + g->m))
            return violation(c, "record %.*s: extent %zu malformed", (int)rklen, rkey, i);
        if (ext[i]->offset != off)
            return violation(c, "record %.*s: extent %zu at %" PRIu64 ", expected %" PRIu64,
                             (int)rklen, rkey, i, ext[i]->offset, off);
        if (ext[i]->packed) {
            int rc = note_packed(c, rkey, rklen, ext[i]);
            if (rc)
                return rc;
            off += ext[i]->length;
            continue;
        }
        off += g->data_length;
        c->live_groups++;
        struct md_key k;
        md_key_start(&k, MD_K_LOCATOR);
        md_key_bytes(&k, g->id.data, 16);
        void *v;
        size_t vl;
        int rc = md_txn_get(&c->txn, k.b, k.n, &v, &vl);
        if (rc == CAIRN_E_NOTFOUND)
            return violation(c, "record %.*s: group of extent %zu has no locator", (int)rklen, rkey,
                             i);
        if (rc)
            return rc;
        Md__GroupLocator *loc = md__group_locator__unpack(NULL, vl, v);
        free(v);
        int same =
            loc && loc->record_key.len == rklen && memcmp(loc->record_key.data, rkey, rklen) == 0;
        if (loc)
            md__group_locator__free_unpacked(loc, NULL);
        if (!same)
            return violation(c, "record %.*s: locator of extent %zu names another record",
                             (int)rklen, rkey, i);
        for (size_t f = 0; f < g->n_fragment_cs; f++) {
            md_key_start(&k, MD_K_FRAGMENT);
            md_key_be64(&k, g->fragment_cs[f]);
            md_key_bytes(&k, g->id.data, 16);
            md_key_be32(&k, (uint32_t)f);
            rc = exists(c, &k);
            if (rc < 0)
                return rc;
            if (!rc)
                return violation(c, "record %.*s: fragment %zu of extent %zu not indexed",
                                 (int)rklen, rkey, f, i);
            c->live_fragments++;
        }
    }
    if (off != size)
        return violation(c, "record %.*s: extents hold %" PRIu64 " bytes, size %" PRIu64,
                         (int)rklen, rkey, off, size);
    return 0;
}

/* Iterates every key with the one-byte type; calls fn(c, key, klen, val, vlen). */
static int each(struct checker *c, char type,
                int (*fn)(struct checker *, const unsigned char *, size_t, const void *, size_t))
{
    struct md_key pre;
    md_key_start(&pre, type);
    struct md_titer *it;
    int rc = md_titer_new(&c->txn, &it);
    if (rc)
        return rc;
    for (md_titer_seek(it, pre.b, pre.n); md_titer_has_prefix(it, pre.b, pre.n);
         md_titer_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_titer_key(it, &kl);
        const void *v = md_titer_value(it, &vl);
        if ((rc = fn(c, k, kl, v, vl)))
            break;
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    return rc;
}

static int is_null_version(const Md__ObjectRecord *o)
{
    return o->vseq == 0 || o->null_version;
}

/* The first key under prefix into *key and *klen (NULL: none); valid until the
 * next call. */
static int first_under(struct checker *c, const struct md_key *pre, struct md_titer **it,
                       const unsigned char **key, size_t *klen)
{
    *key = NULL;
    int rc = md_titer_new(&c->txn, it);
    if (rc)
        return rc;
    md_titer_seek(*it, pre->b, pre->n);
    if (md_titer_has_prefix(*it, pre->b, pre->n))
        *key = md_titer_key(*it, klen);
    return md_titer_status(*it);
}

/* A current object ("So" bucket 0 key) is no delete marker, is newer than
 * every noncurrent version of its key, and is not a second null version. */
static int check_current(struct checker *c, const unsigned char *k, size_t kl,
                         const Md__ObjectRecord *o)
{
    if (o->delete_marker)
        return violation(c, "object %.*s: a delete marker as the current version", (int)kl, k);
    struct md_key pre;
    md_key_start(&pre, MD_K_VERSION);
    md_key_bytes(&pre, k + 2, kl - 2);
    md_key_byte(&pre, 0);
    struct md_titer *it;
    const unsigned char *vk;
    size_t vkl;
    int rc = first_under(c, &pre, &it, &vk, &vkl);
    if (!rc && vk && (vkl != pre.n + 8 || o->vseq == 0 || ~md_get_be64(vk + pre.n) >= o->vseq))
        rc = violation(c, "object %.*s: not newer than its noncurrent versions", (int)kl, k);
    md_titer_free(it);
    if (rc || !is_null_version(o))
        return rc;
    struct md_key nk;
    md_key_start(&nk, MD_K_NULLVER);
    md_key_bytes(&nk, k + 2, kl - 2);
    rc = exists(c, &nk);
    return rc < 0 ? rc : rc ? violation(c, "object %.*s: a second null version", (int)kl, k) : 0;
}

/* A noncurrent version "SV" bucket 0 key 0 be64(~vseq): its bucket exists,
 * its vseq is its key's, a null one has its "SN" reference, a delete marker
 * holds no data, a version its groups; the newest of a key with no current
 * object is a delete marker. */
static int check_version(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    const unsigned char *z = memchr(k + 2, 0, kl - 2);
    if (!z || kl < (size_t)(z - k) + 1 + 1 + 9 || k[kl - 9] != 0)
        return violation(c, "version key %.*s malformed", (int)kl, k);
    struct md_key bk;
    md_key_start(&bk, MD_K_BUCKET);
    md_key_bytes(&bk, k + 2, (size_t)(z - (k + 2)));
    int rc = exists(c, &bk);
    if (rc <= 0)
        return rc < 0 ? rc : violation(c, "version %.*s in a missing bucket", (int)kl, k);
    Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
    if (!o)
        return violation(c, "version %.*s undecodable", (int)kl, k);
    size_t name_len = kl - 2 - 9; /* "bucket 0 key" */
    if (o->vseq != ~md_get_be64(k + kl - 8))
        rc = violation(c, "version %.*s: vseq %" PRIu64 " differs from its key", (int)name_len,
                       k + 2, o->vseq);
    else if (o->delete_marker)
        rc = o->size || o->has_inline || o->n_extents
                 ? violation(c, "delete marker %.*s holds data", (int)name_len, k + 2)
                 : 0;
    else if (o->has_inline)
        rc = o->n_extents || o->inline_data.len != o->size
                 ? violation(c, "version %.*s: bad inline record", (int)name_len, k + 2)
                 : 0;
    else
        rc = check_extents(c, k, kl, o->extents, o->n_extents, o->size);
    if (!rc && is_null_version(o)) {
        struct md_key nk;
        md_key_start(&nk, MD_K_NULLVER);
        md_key_bytes(&nk, k + 2, name_len);
        Md__NullVersionRef *ref = NULL;
        rc = md_txn_get_msg(&c->txn, &nk, &md__null_version_ref__descriptor,
                            (ProtobufCMessage **)&ref);
        if (rc == CAIRN_E_NOTFOUND || (rc == 0 && ref->vseq != o->vseq))
            rc = violation(c, "null version %.*s without its reference", (int)name_len, k + 2);
        if (ref)
            md__null_version_ref__free_unpacked(ref, NULL);
        c->null_refs++;
    }
    int first = !(c->prev_len == name_len && memcmp(c->prev_name, k + 2, name_len) == 0);
    if (!rc && first && !o->delete_marker) {
        struct md_key ok;
        md_key_start(&ok, MD_K_OBJECT);
        md_key_bytes(&ok, k + 2, name_len);
        rc = exists(c, &ok);
        rc = rc < 0 ? rc
             : rc   ? 0
                    : violation(c, "%.*s: no current object, newest version not a delete marker",
                                (int)name_len, k + 2);
    }
    memcpy(c->prev_name, k + 2, name_len);
    c->prev_len = name_len;
    md__object_record__free_unpacked(o, NULL);
    return rc;
}

/* Every "SN" key was called for by a noncurrent null version (counted). */
static int check_nullver(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    (void)k;
    (void)kl;
    (void)v;
    (void)vl;
    c->null_refs--;
    return 0;
}

static int check_object(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                        size_t vl)
{
    const unsigned char *z = memchr(k + 2, 0, kl - 2);
    if (!z)
        return violation(c, "object key without bucket separator");
    struct md_key bk;
    md_key_start(&bk, MD_K_BUCKET);
    md_key_bytes(&bk, k + 2, (size_t)(z - (k + 2)));
    int rc = exists(c, &bk);
    if (rc <= 0)
        return rc < 0 ? rc : violation(c, "object %.*s in a missing bucket", (int)kl, k);
    /* Its top-level name ("SD": the key, or the key through its first '/'). */
    struct md_key tk;
    topname_of(k, kl, &tk); /* cannot fail: z is the separator */
    if ((rc = exists(c, &tk)) <= 0)
        return rc < 0 ? rc : violation(c, "object %.*s: no top-level name entry", (int)kl, k);
    Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
    if (!o)
        return violation(c, "object %.*s undecodable", (int)kl, k);
    rc = check_current(c, k, kl, o);
    if (rc) {
        md__object_record__free_unpacked(o, NULL);
        return rc;
    }
    if (o->has_inline)
        rc = o->n_extents || o->inline_data.len != o->size
                 ? violation(c, "object %.*s: bad inline record", (int)kl, k)
                 : 0;
    else
        rc = check_extents(c, k, kl, o->extents, o->n_extents, o->size);
    md__object_record__free_unpacked(o, NULL);
    return rc;
}

/* A top-level name ("SD" bucket 0 name) has its object, or, ending in '/',
 * at least one object under it. */
static int check_topname(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    (void)v;
    (void)vl;
    if (kl < 4 || !memchr(k + 2, 0, kl - 3))
        return violation(c, "top-level name %.*s: bad key", (int)kl, k);
    struct md_key ok;
    md_key_start(&ok, MD_K_OBJECT);
    md_key_bytes(&ok, k + 2, kl - 2);
    if (k[kl - 1] != '/') {
        int rc = exists(c, &ok);
        return rc <= 0
                   ? rc < 0 ? rc : violation(c, "top-level name %.*s: no such object", (int)kl, k)
                   : 0;
    }
    struct md_titer *it = NULL;
    const unsigned char *first;
    size_t fl;
    int rc = first_under(c, &ok, &it, &first, &fl);
    md_titer_free(it);
    if (rc)
        return rc;
    return first ? 0 : violation(c, "top-level name %.*s: no object under it", (int)kl, k);
}

/* 1 if the part record p fits its key k[kl]: "Sp" bucket 0 key 0 upload 0
 * be32 number md5(16) -- the number and the MD5 of the record's ETag -- or,
 * as stores written before copies were kept have it, without the MD5. Sets
 * *ul to the length of the upload part ("bucket 0 key 0 upload"). */
static int part_key_fits(const unsigned char *k, size_t kl, const Md__PartRecord *p, size_t *ul)
{
    unsigned char md5[16];
    if (kl >= 2 + 5 + 20 && k[kl - 21] == 0 && md_get_be32(k + kl - 20) == p->part_number &&
        strlen(p->etag) == 32 && cn_hex_decode(p->etag, md5, 16) == 0 &&
        memcmp(k + kl - 16, md5, 16) == 0) {
        *ul = kl - 2 - 21;
        return 1;
    }
    if (kl >= 2 + 5 + 4 && k[kl - 5] == 0 && md_get_be32(k + kl - 4) == p->part_number) {
        *ul = kl - 2 - 5;
        return 1;
    }
    return 0;
}

static int check_part(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                      size_t vl)
{
    /* its upload is "Su" bucket 0 key 0 upload */
    Md__PartRecord *p = md__part_record__unpack(NULL, vl, v);
    if (!p)
        return violation(c, "part %.*s undecodable", (int)kl, k);
    size_t ul = 0;
    int rc = 1;
    if (!part_key_fits(k, kl, p, &ul)) {
        rc = violation(c, "part %.*s: number or ETag differs from its key", (int)kl, k);
    } else {
        struct md_key uk;
        md_key_start(&uk, MD_K_UPLOAD);
        md_key_bytes(&uk, k + 2, ul);
        rc = exists(c, &uk);
        if (rc == 0)
            rc = violation(c, "part %.*s of a missing upload", (int)kl, k);
        else if (rc > 0)
            rc = check_extents(c, k, kl, p->extents, p->n_extents, p->size);
    }
    md__part_record__free_unpacked(p, NULL);
    return rc;
}

/* A packed group's record ("SP" id): a locator naming it, its fragments
 * indexed, its committed length whole stripes covering every extent that
 * names it, its live counts what those extents add up to, and not sealed
 * with nothing live (that goes to garbage). */
static int check_packed(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                        size_t vl)
{
    if (kl != 18)
        return violation(c, "packed group key malformed");
    Md__PackedGroup *pg = md__packed_group__unpack(NULL, vl, v);
    if (!pg)
        return violation(c, "packed group undecodable");
    int rc = 0;
    const Md__ChunkGroup *g = pg->group;
    if (!g || g->id.len != 16 || memcmp(g->id.data, k + 2, 16) != 0 || g->k == 0 || g->unit == 0 ||
        g->n_fragment_cs != (size_t)g->k + g->m || g->data_length % ((uint64_t)g->k * g->unit) != 0)
        rc = violation(c, "packed group %02x%02x..: malformed", k[2], k[3]);
    if (!rc && pg->state == MD__PACKED_STATE__PACKED_SEALED && pg->live_extents == 0)
        rc = violation(c, "packed group %02x%02x..: sealed with nothing live", k[2], k[3]);
    const struct packed_use *u = NULL;
    for (size_t i = 0; !rc && i < c->n_packed; i++)
        if (memcmp(c->packed[i].id, k + 2, 16) == 0)
            u = &c->packed[i];
    if (!rc && u) {
        c->packed_matched++;
        if (u->k != g->k || u->m != g->m || u->unit != g->unit)
            rc = violation(c, "packed group %02x%02x..: an extent names another geometry", k[2],
                           k[3]);
        else if (u->end > g->data_length)
            rc = violation(c, "packed group %02x%02x..: an extent past the committed length", k[2],
                           k[3]);
    }
    if (!rc && (pg->live_bytes != (u ? u->bytes : 0) || pg->live_extents != (u ? u->extents : 0)))
        rc = violation(c,
                       "packed group %02x%02x..: live %" PRIu64 " bytes in %" PRIu64
                       " extents, records hold %" PRIu64 " in %" PRIu64,
                       k[2], k[3], pg->live_bytes, pg->live_extents, u ? u->bytes : 0,
                       u ? u->extents : 0);
    if (!rc) {
        struct md_key lk;
        md_key_start(&lk, MD_K_LOCATOR);
        md_key_bytes(&lk, k + 2, 16);
        void *lv;
        size_t lvl;
        rc = md_txn_get(&c->txn, lk.b, lk.n, &lv, &lvl);
        if (rc == CAIRN_E_NOTFOUND)
            rc = violation(c, "packed group %02x%02x..: no locator", k[2], k[3]);
        if (!rc) {
            Md__GroupLocator *loc = md__group_locator__unpack(NULL, lvl, lv);
            free(lv);
            int same = loc && loc->record_key.len == kl && memcmp(loc->record_key.data, k, kl) == 0;
            if (loc)
                md__group_locator__free_unpacked(loc, NULL);
            if (!same)
                rc = violation(c, "packed group %02x%02x..: locator names another record", k[2],
                               k[3]);
            c->live_groups++;
        }
    }
    for (size_t f = 0; !rc && f < g->n_fragment_cs; f++) {
        struct md_key fk;
        md_key_start(&fk, MD_K_FRAGMENT);
        md_key_be64(&fk, g->fragment_cs[f]);
        md_key_bytes(&fk, g->id.data, 16);
        md_key_be32(&fk, (uint32_t)f);
        rc = exists(c, &fk);
        rc = rc < 0 ? rc
                    : (rc ? 0
                          : violation(c, "packed group %02x%02x..: fragment %zu not indexed", k[2],
                                      k[3], f));
        c->live_fragments++;
    }
    md__packed_group__free_unpacked(pg, NULL);
    return rc;
}

static int check_locator(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    if (kl != 18)
        return violation(c, "locator key malformed");
    Md__GroupLocator *loc = md__group_locator__unpack(NULL, vl, v);
    if (!loc)
        return violation(c, "locator undecodable");
    struct md_key rk;
    int ok = loc->record_key.len >= 2 && loc->record_key.len <= sizeof(rk.b);
    if (ok) {
        memcpy(rk.b, loc->record_key.data, loc->record_key.len);
        rk.n = loc->record_key.len;
    }
    md__group_locator__free_unpacked(loc, NULL);
    if (!ok)
        return violation(c, "locator names a malformed key");
    int rc = exists(c, &rk);
    if (rc <= 0)
        return rc < 0 ? rc : violation(c, "locator names a missing record");
    /* Each record's groups were proved to have a locator naming it; equal
     * counts then mean no locator is stray. */
    c->live_groups--;
    return 0;
}

static int check_fragment(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                          size_t vl)
{
    (void)v;
    (void)vl;
    if (kl != 2 + 8 + 16 + 4)
        return violation(c, "fragment key malformed");
    /* Each record's fragments were proved indexed; equal counts then mean no
     * fragment key is stray. */
    c->live_fragments--;
    return 0;
}

static int check_garbage(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    if (kl != 10)
        return violation(c, "garbage key malformed");
    Md__GarbageRecord *g = md__garbage_record__unpack(NULL, vl, v);
    if (!g)
        return violation(c, "garbage entry undecodable");
    int rc = 0, any = 0;
    if (g->seq != md_get_be64(k + 2) || !g->group)
        rc = violation(c, "garbage entry %" PRIu64 " inconsistent", md_get_be64(k + 2));
    for (size_t f = 0; !rc && f < g->group->n_fragment_cs; f++) {
        uint64_t cs = g->group->fragment_cs[f];
        if (!cs)
            continue;
        any = 1;
        int dup = 0;
        for (size_t e = 0; e < f; e++)
            dup |= g->group->fragment_cs[e] == cs;
        if (dup)
            continue;
        struct md_key hk;
        md_key_start(&hk, MD_K_GARB_CS);
        md_key_be64(&hk, cs);
        md_key_be64(&hk, g->seq);
        rc = exists(c, &hk);
        rc = rc < 0 ? rc
                    : (rc ? 0
                          : violation(c, "garbage %" PRIu64 " not indexed for cs %" PRIu64, g->seq,
                                      cs));
        c->garbage_cs++;
    }
    if (!rc && !any)
        rc = violation(c, "garbage entry %" PRIu64 " with nothing left to delete", g->seq);
    md__garbage_record__free_unpacked(g, NULL);
    return rc;
}

static int check_garbage_cs(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                            size_t vl)
{
    (void)v;
    (void)vl;
    if (kl != 18)
        return violation(c, "garbage index key malformed");
    c->garbage_cs--;
    return 0;
}

static int check_session(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                         size_t vl)
{
    if (kl != 10)
        return violation(c, "session key malformed");
    Md__Session *s = md__session__unpack(NULL, vl, v);
    if (!s)
        return violation(c, "session undecodable");
    struct md_key ak;
    md_key_start(&ak, MD_K_SESS_AGE);
    md_key_be64(&ak, s->last_index);
    md_key_be64(&ak, s->client_id);
    int rc = s->client_id == md_get_be64(k + 2) ? exists(c, &ak) : 0;
    md__session__free_unpacked(s, NULL);
    c->sessions++;
    return rc < 0 ? rc : (rc ? 0 : violation(c, "session without its age key"));
}

static int check_session_age(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                             size_t vl)
{
    (void)v;
    (void)vl;
    if (kl != 18)
        return violation(c, "session age key malformed");
    c->sessions--;
    return 0;
}

/* Adds the size and count of every object or version (not delete markers)
 * under the prefix pre. */
static int sum_objects(struct checker *c, const struct md_key *pre, uint64_t *bytes,
                       uint64_t *objects)
{
    struct md_titer *it;
    int rc = md_titer_new(&c->txn, &it);
    if (rc)
        return rc;
    for (md_titer_seek(it, pre->b, pre->n); rc == 0 && md_titer_has_prefix(it, pre->b, pre->n);
         md_titer_next(it)) {
        size_t vl;
        const void *v = md_titer_value(it, &vl);
        Md__ObjectRecord *o = md__object_record__unpack(NULL, vl, v);
        if (!o) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        if (!o->delete_marker) {
            *bytes += o->size;
            (*objects)++;
        }
        md__object_record__free_unpacked(o, NULL);
    }
    if (!rc)
        rc = md_titer_status(it);
    md_titer_free(it);
    return rc;
}

/* A bucket's usage is what its objects add up to; its owner index key exists. */
static int check_bucket(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                        size_t vl)
{
    Md__BucketRecord *b = md__bucket_record__unpack(NULL, vl, v);
    if (!b)
        return violation(c, "bucket %.*s undecodable", (int)kl, k);
    struct md_key pre;
    md_key_start(&pre, MD_K_OBJECT);
    md_key_bytes(&pre, k + 2, kl - 2);
    md_key_byte(&pre, 0);
    uint64_t bytes = 0, objects = 0;
    int rc = sum_objects(c, &pre, &bytes, &objects);
    pre.b[1] = MD_K_VERSION; /* every stored version counts */
    if (rc == 0)
        rc = sum_objects(c, &pre, &bytes, &objects);
    uint64_t ub = b->usage ? b->usage->bytes : 0, uo = b->usage ? b->usage->objects : 0;
    if (rc == 0 && (ub != bytes || uo != objects))
        rc = violation(c,
                       "bucket %s: usage says %" PRIu64 " B / %" PRIu64 " objects, its objects "
                       "add up to %" PRIu64 " B / %" PRIu64,
                       b->name, ub, uo, bytes, objects);
    if (rc == 0 && b->owner[0]) {
        struct md_key ok;
        md_key_start(&ok, MD_K_OWNED);
        md_key_str(&ok, b->owner);
        md_key_byte(&ok, 0);
        md_key_str(&ok, b->name);
        rc = exists(c, &ok);
        rc = rc < 0 ? rc
             : rc   ? 0
                    : violation(c, "bucket %s missing from its owner's index", b->name);
    }
    md__bucket_record__free_unpacked(b, NULL);
    return rc;
}

/* Every owner index key names a bucket with that owner. */
static int check_owned(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                       size_t vl)
{
    const unsigned char *z = memchr(k + 2, 0, kl - 2);
    if (!z)
        return violation(c, "owner index key malformed");
    struct md_key bk;
    md_key_start(&bk, MD_K_BUCKET);
    md_key_bytes(&bk, z + 1, kl - (size_t)(z + 1 - k));
    Md__BucketRecord *b = NULL;
    int rc = md_txn_get_msg(&c->txn, &bk, &md__bucket_record__descriptor, (ProtobufCMessage **)&b);
    if (rc == CAIRN_E_NOTFOUND)
        return violation(c, "owner index names a missing bucket %.*s", (int)kl, k);
    if (rc)
        return rc;
    size_t ol = (size_t)(z - (k + 2));
    rc = strlen(b->owner) == ol && memcmp(b->owner, k + 2, ol) == 0
             ? 0
             : violation(c, "owner index %.*s: bucket %s is owned by %s", (int)ol, k + 2, b->name,
                         b->owner);
    md__bucket_record__free_unpacked(b, NULL);
    return rc;
}

/* A user's usage is the sum over the buckets it owns. */
static int check_user(struct checker *c, const unsigned char *k, size_t kl, const void *v,
                      size_t vl)
{
    Md__UserRecord *u = md__user_record__unpack(NULL, vl, v);
    if (!u)
        return violation(c, "user %.*s undecodable", (int)kl, k);
    struct md_key pre;
    md_key_start(&pre, MD_K_OWNED);
    md_key_str(&pre, u->name);
    md_key_byte(&pre, 0);
    struct md_titer *it;
    int rc = md_titer_new(&c->txn, &it);
    uint64_t bytes = 0, objects = 0;
    for (md_titer_seek(it, pre.b, pre.n); rc == 0 && md_titer_has_prefix(it, pre.b, pre.n);
         md_titer_next(it)) {
        size_t okl;
        const unsigned char *ok = md_titer_key(it, &okl);
        struct md_key bk;
        md_key_start(&bk, MD_K_BUCKET);
        md_key_bytes(&bk, ok + pre.n, okl - pre.n);
        Md__BucketRecord *b = NULL;
        rc = md_txn_get_msg(&c->txn, &bk, &md__bucket_record__descriptor, (ProtobufCMessage **)&b);
        if (rc == 0) {
            bytes += b->usage ? b->usage->bytes : 0;
            objects += b->usage ? b->usage->objects : 0;
            md__bucket_record__free_unpacked(b, NULL);
        }
    }
    if (rc == 0)
        rc = md_titer_status(it);
    md_titer_free(it);
    uint64_t ub = u->usage ? u->usage->bytes : 0, uo = u->usage ? u->usage->objects : 0;
    if (rc == 0 && (ub != bytes || uo != objects))
        rc = violation(c,
                       "user %s: usage says %" PRIu64 " B / %" PRIu64 " objects, its buckets "
                       "add up to %" PRIu64 " B / %" PRIu64,
                       u->name, ub, uo, bytes, objects);
    md__user_record__free_unpacked(u, NULL);
    return rc;
}

int md_sm_check(struct md_store *store, char *why, size_t why_len)
{
    struct checker c = {.why = why, .why_len = why_len};
    if (why && why_len)
        why[0] = 0;
    int rc = md_txn_init_snapshot(&c.txn, store);
    if (rc)
        return rc;
    struct md_key ik;
    md_key_start(&ik, MD_K_INFO);
    Md__StoreInfo *info = NULL;
    rc = md_txn_get_msg(&c.txn, &ik, &md__store_info__descriptor, (ProtobufCMessage **)&info);
    if (rc) {
        rc = rc == CAIRN_E_NOTFOUND || rc == CAIRN_E_CORRUPT
                 ? violation(&c, "no readable StoreInfo record")
                 : rc;
        goto out;
    }
    if (info->format != MD_SM_FORMAT) {
        rc = violation(&c, "format %u", info->format);
        goto out;
    }
    if ((rc = each(&c, MD_K_OBJECT, check_object)) ||
        (rc = each(&c, MD_K_TOPNAME, check_topname)) ||
        (rc = each(&c, MD_K_VERSION, check_version)) ||
        (rc = each(&c, MD_K_NULLVER, check_nullver)) || (rc = each(&c, MD_K_PART, check_part)) ||
        (rc = each(&c, MD_K_PACKED, check_packed)) ||
        (rc = each(&c, MD_K_PACKIDX, check_packidx)) ||
        (rc = each(&c, MD_K_LOCATOR, check_locator)) ||
        (rc = each(&c, MD_K_FRAGMENT, check_fragment)) ||
        (rc = each(&c, MD_K_GARBAGE, check_garbage)) ||
        (rc = each(&c, MD_K_GARB_CS, check_garbage_cs)) ||
        (rc = each(&c, MD_K_SESSION, check_session)) ||
        (rc = each(&c, MD_K_BUCKET, check_bucket)) || (rc = each(&c, MD_K_OWNED, check_owned)) ||
        (rc = each(&c, MD_K_USER, check_user)))
        goto out;
    if (c.null_refs) {
        rc = violation(&c, "null version reference count differs from noncurrent null versions");
        goto out;
    }
    if (c.packed_index) {
        rc = violation(&c, "two packed extents start at one offset of a group (\"SE\" entries)");
        goto out;
    }
    if (c.packed_matched != c.n_packed) {
        rc = violation(&c, "a packed extent names a group with no record");
        goto out;
    }
    if (c.live_groups) {
        rc = violation(&c, "locator count differs from live groups");
        goto out;
    }
    if (c.live_fragments) {
        rc = violation(&c, "fragment index count differs from live fragments");
        goto out;
    }
    if (c.garbage_cs) {
        rc = violation(&c, "garbage index count differs from garbage locations");
        goto out;
    }
    if (c.sessions != info->session_count) {
        rc = violation(&c, "%" PRIu64 " sessions, StoreInfo says %" PRIu64, c.sessions,
                       info->session_count);
        goto out;
    }
    if ((rc = each(&c, MD_K_SESS_AGE, check_session_age)))
        goto out;
    if (c.sessions)
        rc = violation(&c, "session age index count differs from sessions");
out:
    if (info)
        md__store_info__free_unpacked(info, NULL);
    free(c.packed);
    md_txn_destroy(&c.txn);
    return rc;
}
