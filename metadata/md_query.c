#include "md_query.h"
#include "md_query_int.h"
#include "md_sm.h"
#include "md_txn.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

static int arena_track(struct arena *a, void *p, int is_msg)
{
    if (!p) {
        a->nomem = 1;
        return CAIRN_E_NOMEM;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 32;
        void **np = realloc(a->ptrs, cap * sizeof(*np));
        if (!np) {
            if (is_msg)
                protobuf_c_message_free_unpacked(p, NULL);
            else
                free(p);
            a->nomem = 1;
            return CAIRN_E_NOMEM;
        }
        a->ptrs = np;
        a->cap = cap;
    }
    /* Low bit tags unpacked messages (malloc alignment keeps it free). */
    a->ptrs[a->n++] = (void *)((uintptr_t)p | (uintptr_t)(is_msg ? 1 : 0));
    return 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    return arena_track(a, p, 0) ? NULL : p;
}

int arena_reserve(struct arena *a, void *arrp, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : first;
    void *na = arena_alloc(a, ncap * elem);
    if (!na)
        return CAIRN_E_NOMEM;
    void *old;
    memcpy(&old, arrp, sizeof(old));
    if (n)
        memcpy(na, old, n * elem);
    memcpy(arrp, &na, sizeof(na));
    *cap = ncap;
    return 0;
}

char *arena_strndup(struct arena *a, const void *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void *arena_unpack(struct arena *a, const ProtobufCMessageDescriptor *d, const void *v, size_t vl)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, vl, v);
    if (!m)
        return NULL; /* caller reports corruption */
    return arena_track(a, m, 1) ? NULL : m;
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++) {
        uintptr_t p = (uintptr_t)a->ptrs[i];
        if (p & 1)
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(p & ~(uintptr_t)1), NULL);
        else
            free((void *)p);
    }
    free(a->ptrs);
}

int qfail(struct qctx *c, int status, Md__Reason reason)
{
    c->r->status = status;
    c->r->reason = reason;
    return 0;
}

/* Gets and unpacks key into the arena; CAIRN_E_NOTFOUND when absent. */
int qget(struct qctx *c, const struct md_key *k, const ProtobufCMessageDescriptor *d, void **out)
{
    void *v;
    size_t vl;
    int rc = md_txn_get(&c->txn, k->b, k->n, &v, &vl);
    if (rc)
        return rc;
    *out = arena_unpack(&c->arena, d, v, vl);
    free(v);
    if (!*out)
        return c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
    return 0;
}

int qget_bucket(struct qctx *c, const char *bucket, void **out)
{
    struct md_key k;
    md_key_start(&k, MD_K_BUCKET);
    md_key_str(&k, bucket);
    return qget(c, &k, &md__bucket_record__descriptor, out);
}

uint32_t clamp_max(uint32_t asked, uint32_t cap)
{
    return asked > cap ? cap : asked;
}

/* --------------------------------------------------------- the lister -- *
 * Lists names under base+prefix in byte order, rolling names that contain
 * delimiter after the prefix into common prefixes, returning the entries
 * (names and common prefixes) greater than marker, at most max of them.
 * A whole common prefix is skipped with one seek, never scanned.
 * stop_at_nul: the name ends at its first NUL (the rest is a suffix such as
 * an upload id that belongs to the same entry). */
struct lister {
    const struct md_key *base;
    const char *prefix, *delim, *marker;
    const struct md_key *start; /* first store key that may be listed */
    uint32_t max;
    int stop_at_nul;
    int (*on_name)(struct qctx *c, const unsigned char *name, size_t nlen, const void *val,
                   size_t vlen);
    int (*on_prefix)(struct qctx *c, const unsigned char *cp, size_t len);
    int truncated;
    uint32_t count;
};

const unsigned char *find_bytes(const unsigned char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0 || hl < nl)
        return NULL;
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == (unsigned char)n[0] && memcmp(h + i, n, nl) == 0)
            return h + i;
    return NULL;
}

static int run_lister(struct qctx *c, struct lister *l)
{
    struct md_key full;
    full = *l->base;
    md_key_str(&full, l->prefix);
    size_t plen = strlen(l->prefix), dlen = strlen(l->delim), mlen = strlen(l->marker);
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    md_iter_seek(it, l->start->b, l->start->n);
    while (md_iter_valid(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < full.n || memcmp(k, full.b, full.n) != 0)
            break;
        const unsigned char *name = k + l->base->n;
        size_t nlen = kl - l->base->n, keylen = nlen;
        if (l->stop_at_nul) {
            const unsigned char *z = memchr(name, 0, nlen);
            if (z)
                keylen = (size_t)(z - name);
        }
        const unsigned char *d =
            dlen ? find_bytes(name + plen, keylen - plen, l->delim, dlen) : NULL;
        if (d) {
            size_t cplen = (size_t)(d - name) + dlen;
            if (md_key_cmp(name, cplen, l->marker, mlen) > 0) {
                if (l->count == l->max) {
                    l->truncated = 1;
                    break;
                }
                if ((rc = l->on_prefix(c, name, cplen)))
                    break;
                l->count++;
            }
            struct md_key skip = *l->base;
            md_key_bytes(&skip, name, cplen);
            if (md_key_prefix_end(&skip))
                break;
            md_iter_seek(it, skip.b, skip.n);
            continue;
        }
        if (l->count == l->max) {
            l->truncated = 1;
            break;
        }
        const void *v = md_iter_value(it, &vl);
        if ((rc = l->on_name(c, name, nlen, v, vl)))
            break;
        l->count++;
        md_iter_next(it);
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

/* The first key a listing of names under base may list: base + the least
 * name greater than marker, or base + prefix when that comes later. */
static void list_start(struct md_key *start, const struct md_key *base, const char *prefix,
                       const char *marker)
{
    *start = *base;
    if (strcmp(marker, prefix) >= 0) {
        md_key_str(start, marker);
        md_key_byte(start, 0); /* the least key greater than the marker */
    } else {
        md_key_str(start, prefix);
    }
}

/* A delimiter-"/" listing of the objects of bucket under a prefix without '/'
 * (S3's top-level listing), from the top-level names index ("SD",
 * md_sm_topnames.c) instead of the object keys: each common prefix is one
 * index entry, so none is seeked past; an entry without '/' is an object,
 * read with an object iterator that follows along (a seek only where a run of
 * objects starts after a common prefix). Entries, marker, max and truncation
 * as run_lister. */
static int run_topnames(struct qctx *c, struct lister *l, const char *bucket)
{
    struct md_key tbase, obase, start, ok;
    md_key_start(&tbase, MD_K_TOPNAME);
    md_key_str(&tbase, bucket);
    md_key_byte(&tbase, 0);
    md_key_start(&obase, MD_K_OBJECT);
    md_key_str(&obase, bucket);
    md_key_byte(&obase, 0);
    list_start(&start, &tbase, l->prefix, l->marker);
    size_t plen = strlen(l->prefix), mlen = strlen(l->marker);
    struct md_iter *ti, *oi;
    int rc = md_snapshot_iter_new(c->txn.snap, &ti);
    if (rc)
        return rc;
    if ((rc = md_snapshot_iter_new(c->txn.snap, &oi))) {
        md_iter_free(ti);
        return rc;
    }
    int positioned = 0;
    for (md_iter_seek(ti, start.b, start.n); md_iter_valid(ti); md_iter_next(ti)) {
        size_t kl;
        const unsigned char *k = md_iter_key(ti, &kl);
        if (kl < tbase.n + plen || memcmp(k, tbase.b, tbase.n) != 0 ||
            memcmp(k + tbase.n, l->prefix, plen) != 0)
            break;
        const unsigned char *name = k + tbase.n;
        size_t nlen = kl - tbase.n;
        if (md_key_cmp(name, nlen, l->marker, mlen) <= 0)
            continue;
        if (l->count == l->max) {
            l->truncated = 1;
            break;
        }
        if (name[nlen - 1] == '/') {
            if ((rc = l->on_prefix(c, name, nlen)))
                break;
            l->count++;
            positioned = 0;
            continue;
        }
        ok = obase;
        md_key_bytes(&ok, name, nlen);
        size_t okl = 0;
        const unsigned char *okey = positioned && md_iter_valid(oi) ? md_iter_key(oi, &okl) : NULL;
        if (!okey || okl != ok.n || memcmp(okey, ok.b, ok.n) != 0) {
            md_iter_seek(oi, ok.b, ok.n);
            okey = md_iter_valid(oi) ? md_iter_key(oi, &okl) : NULL;
            if (!okey || okl != ok.n || memcmp(okey, ok.b, ok.n) != 0) {
                rc = md_iter_status(oi);
                if (!rc) {
                    CN_ERROR("md", "top-level name %.*s of bucket %s has no object", (int)nlen,
                             (const char *)name, bucket);
                    rc = CAIRN_E_CORRUPT;
                }
                break;
            }
        }
        size_t vl;
        const void *v = md_iter_value(oi, &vl);
        if ((rc = l->on_name(c, name, nlen, v, vl)))
            break;
        l->count++;
        md_iter_next(oi);
        positioned = 1;
    }
    if (!rc)
        rc = md_iter_status(ti);
    md_iter_free(oi);
    md_iter_free(ti);
    return rc;
}

/* ---------------------------------------------------------- handlers -- */

static int add_common_prefix(struct qctx *c, char ***arr, size_t *n, size_t *cap,
                             const unsigned char *cp, size_t len)
{
    char *s = arena_strndup(&c->arena, cp, len);
    if (!s)
        return CAIRN_E_NOMEM;
    APPEND(&c->arena, *arr, *n, *cap, s);
    return 0;
}

struct lo_state {
    Md__ListObjectsR *r;
    size_t cap_entries, cap_prefixes;
    const unsigned char *last;
    size_t last_len;
};

static struct lo_state *lo_of(struct qctx *c)
{
    return c->list_state;
}

static int lo_name(struct qctx *c, const unsigned char *name, size_t nlen, const void *val,
                   size_t vlen)
{
    struct lo_state *st = lo_of(c);
    Md__ObjectRecord *rec = arena_unpack(&c->arena, &md__object_record__descriptor, val, vlen);
    if (!rec)
        return c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
    Md__ListEntry *e = arena_alloc(&c->arena, sizeof(*e));
    Md__ObjectRecord *summary = arena_alloc(&c->arena, sizeof(*summary));
    char *key = arena_strndup(&c->arena, name, nlen);
    if (!e || !summary || !key)
        return CAIRN_E_NOMEM;
    md__list_entry__init(e);
    *summary = *rec; /* shallow: the arena frees rec's parts once */
    summary->has_inline = 0;
    summary->inline_data.len = 0;
    summary->inline_data.data = NULL;
    summary->n_extents = 0;
    summary->extents = NULL;
    summary->base.n_unknown_fields = 0;
    summary->base.unknown_fields = NULL;
    e->key = key;
    e->record = summary;
    APPEND(&c->arena, st->r->entries, st->r->n_entries, st->cap_entries, e);
    st->last = (const unsigned char *)key;
    st->last_len = nlen;
    return 0;
}

static int lo_prefix(struct qctx *c, const unsigned char *cp, size_t len)
{
    struct lo_state *st = lo_of(c);
    int rc = add_common_prefix(c, &st->r->common_prefixes, &st->r->n_common_prefixes,
                               &st->cap_prefixes, cp, len);
    if (!rc) {
        st->last = (const unsigned char *)st->r->common_prefixes[st->r->n_common_prefixes - 1];
        st->last_len = len;
    }
    return rc;
}

/* Prefix, delimiter and marker must fit a key (the seek keys are built from them). */
int valid_list_args(const char *prefix, const char *delim, const char *marker)
{
    return strlen(prefix) <= MD_OBJKEY_MAX && strlen(delim) <= MD_OBJKEY_MAX &&
           strlen(marker) <= MD_OBJKEY_MAX;
}

static int q_list_objects(struct qctx *c, const Md__ListObjectsQ *q)
{
    if (!md_valid_bucket(q->bucket) || !valid_list_args(q->prefix, q->delimiter, q->marker))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    void *b;
    int rc = qget_bucket(c, q->bucket, &b);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET);
    if (rc)
        return rc;
    Md__ListObjectsR *r = arena_alloc(&c->arena, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    md__list_objects_r__init(r);
    c->r->list_objects = r;
    struct lo_state st = {.r = r};
    c->list_state = &st;
    struct md_key base, start;
    md_key_start(&base, MD_K_OBJECT);
    md_key_str(&base, q->bucket);
    md_key_byte(&base, 0);
    list_start(&start, &base, q->prefix, q->marker);
    struct lister l = {.base = &base,
                       .prefix = q->prefix,
                       .delim = q->delimiter,
                       .marker = q->marker,
                       .start = &start,
                       .max = clamp_max(q->max_keys, MD_LIST_MAX),
                       .on_name = lo_name,
                       .on_prefix = lo_prefix};
    /* S3's usual top-level listing goes through the index of first
     * components; any other delimiter or a prefix holding '/' walks the keys. */
    if (strcmp(q->delimiter, "/") == 0 && !strchr(q->prefix, '/'))
        rc = run_topnames(c, &l, q->bucket);
    else
        rc = run_lister(c, &l);
    c->list_state = NULL;
    if (rc)
        return rc;
    r->truncated = l.truncated;
    if (l.truncated && st.last) {
        r->next_marker = arena_strndup(&c->arena, st.last, st.last_len);
        if (!r->next_marker)
            return CAIRN_E_NOMEM;
    }
    return 0;
}

struct lu_state {
    Md__ListUploadsR *r;
    size_t cap_uploads, cap_prefixes;
};

static int lu_name(struct qctx *c, const unsigned char *name, size_t nlen, const void *val,
                   size_t vlen)
{
    struct lu_state *st = c->list_state;
    Md__UploadRecord *u = arena_unpack(&c->arena, &md__upload_record__descriptor, val, vlen);
    if (!u)
        return c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
    APPEND(&c->arena, st->r->uploads, st->r->n_uploads, st->cap_uploads, u);
    return 0;
}

static int lu_prefix(struct qctx *c, const unsigned char *cp, size_t len)
{
    struct lu_state *st = c->list_state;
    return add_common_prefix(c, &st->r->common_prefixes, &st->r->n_common_prefixes,
                             &st->cap_prefixes, cp, len);
}

static int q_list_uploads(struct qctx *c, const Md__ListUploadsQ *q)
{
    if (!md_valid_bucket(q->bucket) || !valid_list_args(q->prefix, q->delimiter, q->key_marker) ||
        strlen(q->upload_id_marker) > MD_UPLOAD_ID_MAX)
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    Md__ListUploadsR *r = arena_alloc(&c->arena, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    md__list_uploads_r__init(r);
    c->r->list_uploads = r;
    struct lu_state st = {.r = r};
    c->list_state = &st;
    struct md_key base, start;
    md_key_start(&base, MD_K_UPLOAD);
    md_key_str(&base, q->bucket);
    md_key_byte(&base, 0);
    start = base;
    if (q->key_marker[0] && strcmp(q->key_marker, q->prefix) >= 0) {
        md_key_str(&start, q->key_marker);
        if (q->upload_id_marker[0]) {
            md_key_byte(&start, 0);
            md_key_str(&start, q->upload_id_marker);
            md_key_byte(&start, 0);
        } else {
            md_key_byte(&start, 1); /* past every upload of key_marker */
        }
    } else {
        md_key_str(&start, q->prefix);
    }
    struct lister l = {.base = &base,
                       .prefix = q->prefix,
                       .delim = q->delimiter,
                       .marker = q->key_marker,
                       .start = &start,
                       .max = clamp_max(q->max_uploads, MD_LIST_MAX),
                       .stop_at_nul = 1,
                       .on_name = lu_name,
                       .on_prefix = lu_prefix};
    int rc = run_lister(c, &l);
    c->list_state = NULL;
    if (rc)
        return rc;
    r->truncated = l.truncated;
    if (l.truncated && r->n_uploads) {
        Md__UploadRecord *last = r->uploads[r->n_uploads - 1];
        r->next_key_marker = last->key;
        r->next_upload_id_marker = last->upload_id;
    }
    return 0;
}

static int q_list_parts(struct qctx *c, const Md__ListPartsQ *q)
{
    if (!md_valid_bucket(q->bucket) || !md_valid_objkey(q->key) ||
        !md_valid_upload_id(q->upload_id))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    struct md_key k;
    md_key_start(&k, MD_K_UPLOAD);
    md_key_str(&k, q->bucket);
    md_key_byte(&k, 0);
    md_key_str(&k, q->key);
    md_key_byte(&k, 0);
    md_key_str(&k, q->upload_id);
    Md__UploadRecord *u;
    int rc = qget(c, &k, &md__upload_record__descriptor, (void **)&u);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_UPLOAD);
    if (rc)
        return rc;
    Md__ListPartsR *r = arena_alloc(&c->arena, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    md__list_parts_r__init(r);
    r->upload = u;
    c->r->list_parts = r;
    struct md_key pre = k;
    pre.b[1] = MD_K_PART;
    md_key_byte(&pre, 0);
    struct md_key start = pre;
    md_key_be32(&start, q->part_number_marker + 1);
    uint32_t max = clamp_max(q->max_parts, MD_LIST_MAX);
    size_t cap = 0;
    struct md_iter *it;
    if ((rc = md_snapshot_iter_new(c->txn.snap, &it)))
        return rc;
    for (md_iter_seek(it, start.b, start.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(key, pre.b, pre.n) != 0)
            break;
        const void *v = md_iter_value(it, &vl);
        Md__PartRecord *p = arena_unpack(&c->arena, &md__part_record__descriptor, v, vl);
        if (!p) {
            rc = c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
            break;
        }
        /* A number uploaded more than once has a record per copy (keys
         * ordered by number, then ETag); the list shows the latest. */
        if (r->n_parts && r->parts[r->n_parts - 1]->part_number == p->part_number) {
            Md__PartRecord *last = r->parts[r->n_parts - 1];
            if (p->mtime_ms >= last->mtime_ms) {
                last->etag = p->etag;
                last->size = p->size;
                last->mtime_ms = p->mtime_ms;
            }
            continue;
        }
        if (r->n_parts == max) {
            r->truncated = 1;
            break;
        }
        Md__PartRecord *summary = arena_alloc(&c->arena, sizeof(*summary));
        if (!summary) {
            rc = CAIRN_E_NOMEM;
            break;
        }
        *summary = *p;
        summary->n_extents = 0;
        summary->extents = NULL;
        summary->base.n_unknown_fields = 0;
        summary->base.unknown_fields = NULL;
        if ((rc = arena_reserve(&c->arena, &r->parts, r->n_parts, &cap, sizeof(*r->parts), 16)) !=
            0)
            break;
        r->parts[r->n_parts++] = summary;
        r->next_part_number_marker = p->part_number;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

/* Unpacks every value under prefix (after the optional start key) into an
 * arena array of messages; at most max. */
static int scan_msgs(struct qctx *c, const struct md_key *pre, const struct md_key *start,
                     uint32_t max, const ProtobufCMessageDescriptor *d, void ***arr, size_t *n,
                     int *truncated)
{
    size_t cap = 0;
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    const struct md_key *from = start ? start : pre;
    for (md_iter_seek(it, from->b, from->n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl < pre->n || memcmp(key, pre->b, pre->n) != 0)
            break;
        if (*n == max) {
            if (truncated)
                *truncated = 1;
            break;
        }
        const void *v = md_iter_value(it, &vl);
        void *m = arena_unpack(&c->arena, d, v, vl);
        if (!m) {
            rc = c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
            break;
        }
        if ((rc = arena_reserve(&c->arena, arr, *n, &cap, sizeof(**arr), 16)) != 0)
            break;
        (*arr)[(*n)++] = m;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

/* The object (and with with_bucket its bucket, so a gateway authorizes and
 * serves a GET with one read). A missing bucket is NoSuchBucket, a missing
 * key NoSuchKey (with the bucket record when asked). */
static int q_get_object(struct qctx *c, const Md__GetObjectQ *q)
{
    if (!md_valid_bucket(q->bucket) || !md_valid_objkey(q->key))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    if (q->version_id[0])
        return mq_get_version(c, q);
    struct md_key k;
    md_key_start(&k, MD_K_OBJECT);
    md_key_str(&k, q->bucket);
    md_key_byte(&k, 0);
    md_key_str(&k, q->key);
    int rc = qget(c, &k, &md__object_record__descriptor, (void **)&c->r->object);
    if (rc != CAIRN_E_NOTFOUND && !(rc == 0 && q->with_bucket))
        return rc;
    int missing = rc == CAIRN_E_NOTFOUND;
    if (missing && (rc = mq_current_marker(c, q->bucket, q->key)))
        return rc;
    void *b;
    rc = qget_bucket(c, q->bucket, &b);
    if (rc == CAIRN_E_NOTFOUND) {
        c->r->object = NULL; /* (arena-owned) */
        c->r->marker = NULL;
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET);
    }
    if (rc)
        return rc;
    if (q->with_bucket)
        c->r->bucket = b;
    return missing ? qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY) : 0;
}

static int q_head_bucket(struct qctx *c, const Md__HeadBucketQ *q)
{
    if (!md_valid_bucket(q->bucket))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    int rc = qget_bucket(c, q->bucket, (void **)&c->r->bucket);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET);
    return rc;
}

static int q_get_group(struct qctx *c, const Md__GetGroupQ *q)
{
    if (q->group_id.len != 16)
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    struct md_key k;
    md_key_start(&k, MD_K_LOCATOR);
    md_key_bytes(&k, q->group_id.data, 16);
    Md__GroupLocator *loc;
    int rc = qget(c, &k, &md__group_locator__descriptor, (void **)&loc);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_GROUP);
    if (rc)
        return rc;
    if (loc->record_key.len < 2 || loc->record_key.len > sizeof(k.b))
        return CAIRN_E_CORRUPT;
    memcpy(k.b, loc->record_key.data, loc->record_key.len);
    k.n = loc->record_key.len;
    Md__Extent **ext;
    size_t n;
    if (k.b[1] == MD_K_OBJECT || k.b[1] == MD_K_VERSION) {
        Md__ObjectRecord *o;
        if ((rc = qget(c, &k, &md__object_record__descriptor, (void **)&o)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = o->extents;
        n = o->n_extents;
    } else if (k.b[1] == MD_K_PART) {
        Md__PartRecord *p;
        if ((rc = qget(c, &k, &md__part_record__descriptor, (void **)&p)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = p->extents;
        n = p->n_extents;
    } else if (k.b[1] == MD_K_PACKED) {
        return mq_packed_group_info(c, &k, &loc->record_key, q->group_id.data);
    } else {
        return CAIRN_E_CORRUPT;
    }
    for (size_t i = 0; i < n; i++) {
        if (ext[i]->group && ext[i]->group->id.len == 16 &&
            memcmp(ext[i]->group->id.data, q->group_id.data, 16) == 0) {
            Md__GroupInfo *gi = arena_alloc(&c->arena, sizeof(*gi));
            if (!gi)
                return CAIRN_E_NOMEM;
            md__group_info__init(gi);
            gi->group = ext[i]->group;
            gi->record_key = loc->record_key;
            c->r->group = gi;
            return 0;
        }
    }
    return CAIRN_E_CORRUPT;
}

static int q_fragments_on(struct qctx *c, const Md__FragmentsOnQ *q)
{
    struct md_key pre, start;
    md_key_start(&pre, MD_K_FRAGMENT);
    md_key_be64(&pre, q->cs);
    start = pre;
    if (q->after_group_id.len == 16) {
        md_key_bytes(&start, q->after_group_id.data, 16);
        md_key_be32(&start, q->after_index);
        md_key_byte(&start, 0);
    } else if (q->after_group_id.len) {
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    }
    uint32_t max = clamp_max(q->max ? q->max : MD_SCAN_MAX, MD_SCAN_MAX);
    size_t cap = 0;
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    for (md_iter_seek(it, start.b, start.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl != pre.n + 20 || memcmp(key, pre.b, pre.n) != 0)
            break;
        if (c->r->n_fragments == max) {
            c->r->truncated = 1;
            break;
        }
        Md__FragmentRef *f = arena_alloc(&c->arena, sizeof(*f));
        uint8_t *gid = arena_alloc(&c->arena, 16);
        if (!f || !gid) {
            rc = CAIRN_E_NOMEM;
            break;
        }
        md__fragment_ref__init(f);
        memcpy(gid, key + pre.n, 16);
        f->group_id.data = gid;
        f->group_id.len = 16;
        f->index = md_get_be32(key + pre.n + 16);
        if ((rc = arena_reserve(&c->arena, &c->r->fragments, c->r->n_fragments, &cap,
                                sizeof(*c->r->fragments), 64)) != 0)
            break;
        c->r->fragments[c->r->n_fragments++] = f;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

/* Garbage entries with a fragment on q->cs, through the per-chunkserver index. */
static int q_garbage_for(struct qctx *c, const Md__ListGarbageQ *q)
{
    struct md_key pre, start;
    md_key_start(&pre, MD_K_GARB_CS);
    md_key_be64(&pre, q->cs);
    start = pre;
    md_key_be64(&start, q->after_seq + 1);
    uint32_t max = clamp_max(q->max ? q->max : MD_SCAN_MAX, MD_SCAN_MAX);
    size_t cap = 0;
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    for (md_iter_seek(it, start.b, start.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl != pre.n + 8 || memcmp(key, pre.b, pre.n) != 0)
            break;
        if (c->r->n_garbage == max) {
            c->r->truncated = 1;
            break;
        }
        struct md_key gk;
        md_key_start(&gk, MD_K_GARBAGE);
        md_key_bytes(&gk, key + pre.n, 8);
        Md__GarbageRecord *g;
        rc = qget(c, &gk, &md__garbage_record__descriptor, (void **)&g);
        if (rc) {
            if (rc == CAIRN_E_NOTFOUND)
                rc = CAIRN_E_CORRUPT; /* the index names a missing entry */
            break;
        }
        if ((rc = arena_reserve(&c->arena, &c->r->garbage, c->r->n_garbage, &cap,
                                sizeof(*c->r->garbage), 64)) != 0)
            break;
        c->r->garbage[c->r->n_garbage++] = g;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

static int q_list_garbage(struct qctx *c, const Md__ListGarbageQ *q)
{
    if (q->cs)
        return q_garbage_for(c, q);
    struct md_key pre, start;
    md_key_start(&pre, MD_K_GARBAGE);
    start = pre;
    md_key_be64(&start, q->after_seq + 1);
    uint32_t max = clamp_max(q->max ? q->max : MD_SCAN_MAX, MD_SCAN_MAX);
    return scan_msgs(c, &pre, &start, max, &md__garbage_record__descriptor,
                     (void ***)&c->r->garbage, &c->r->n_garbage, &c->r->truncated);
}

/* Loads user name into c->r->user; CAIRN_E_NOTFOUND when there is none. */
static int get_user(struct qctx *c, const char *name)
{
    struct md_key k;
    md_key_start(&k, MD_K_USER);
    md_key_str(&k, name);
    return qget(c, &k, &md__user_record__descriptor, (void **)&c->r->user);
}

/* The key and its user (the user may be absent: keys older than users). */
static int q_access_key(struct qctx *c, const Md__GetAccessKeyQ *q)
{
    if (!md_valid_key_id(q->key_id))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    struct md_key k;
    md_key_start(&k, MD_K_ACCESS);
    md_key_str(&k, q->key_id);
    int rc = qget(c, &k, &md__access_key_record__descriptor, (void **)&c->r->access_key);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_ACCESS_KEY);
    if (rc == 0 && md_valid_user(c->r->access_key->owner)) {
        rc = get_user(c, c->r->access_key->owner);
        if (rc == CAIRN_E_NOTFOUND)
            rc = 0;
    }
    return rc;
}

static int q_list_access_keys(struct qctx *c, const Md__ListAccessKeysQ *q)
{
    struct md_key pre;
    md_key_start(&pre, MD_K_ACCESS);
    int rc = scan_msgs(c, &pre, NULL, UINT32_MAX, &md__access_key_record__descriptor,
                       (void ***)&c->r->access_keys, &c->r->n_access_keys, NULL);
    if (rc || !q->owner[0])
        return rc;
    size_t kept = 0;
    for (size_t i = 0; i < c->r->n_access_keys; i++)
        if (strcmp(c->r->access_keys[i]->owner, q->owner) == 0)
            c->r->access_keys[kept++] = c->r->access_keys[i];
    c->r->n_access_keys = kept;
    return 0;
}

static int q_get_user(struct qctx *c, const Md__GetUserQ *q)
{
    if (!md_valid_user(q->name))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    int rc = get_user(c, q->name);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_USER);
    return rc;
}

/* Every bucket, or the owner's through the owner index ("SO" owner 0 bucket). */
static int q_list_buckets(struct qctx *c, const Md__ListBucketsQ *q)
{
    struct md_key pre;
    if (!q->owner[0]) {
        md_key_start(&pre, MD_K_BUCKET);
        return scan_msgs(c, &pre, NULL, UINT32_MAX, &md__bucket_record__descriptor,
                         (void ***)&c->r->buckets, &c->r->n_buckets, NULL);
    }
    if (!md_valid_user(q->owner))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    md_key_start(&pre, MD_K_OWNED);
    md_key_str(&pre, q->owner);
    md_key_byte(&pre, 0);
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    size_t cap = 0;
    for (md_iter_seek(it, pre.b, pre.n); rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(key, pre.b, pre.n) != 0)
            break;
        struct md_key bk;
        md_key_start(&bk, MD_K_BUCKET);
        md_key_bytes(&bk, key + pre.n, kl - pre.n);
        void *b;
        rc = qget(c, &bk, &md__bucket_record__descriptor, &b);
        if (rc == CAIRN_E_NOTFOUND) {
            rc = CAIRN_E_CORRUPT; /* the index names a bucket that is not there */
            break;
        }
        if (rc == 0 && (rc = arena_reserve(&c->arena, &c->r->buckets, c->r->n_buckets, &cap,
                                           sizeof(*c->r->buckets), 16)) != 0)
            break;
        if (rc == 0)
            c->r->buckets[c->r->n_buckets++] = b;
    }
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

static int q_state_info(struct qctx *c)
{
    struct md_key k;
    md_key_start(&k, MD_K_INFO);
    int rc = qget(c, &k, &md__store_info__descriptor, (void **)&c->r->info);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NONE);
    return rc;
}

static int run_query(struct qctx *c, const Md__Query *q)
{
    struct md_key pre;
    switch (q->q_case) {
    case MD__QUERY__Q_GET_OBJECT: {
        int rc = q_get_object(c, q->get_object);
        /* whoever reads the object (GET, HEAD, a copy's source) gets its
         * packed extents' locations */
        return rc ? rc : mq_fill_packed(c, c->r->object);
    }
    case MD__QUERY__Q_HEAD_BUCKET:
        return q_head_bucket(c, q->head_bucket);
    case MD__QUERY__Q_LIST_BUCKETS:
        return q_list_buckets(c, q->list_buckets);
    case MD__QUERY__Q_LIST_OBJECTS:
        return q_list_objects(c, q->list_objects);
    case MD__QUERY__Q_LIST_PARTS:
        return q_list_parts(c, q->list_parts);
    case MD__QUERY__Q_LIST_UPLOADS:
        return q_list_uploads(c, q->list_uploads);
    case MD__QUERY__Q_LIST_CHUNKSERVERS:
        md_key_start(&pre, MD_K_CS);
        return scan_msgs(c, &pre, NULL, UINT32_MAX, &md__chunkserver_record__descriptor,
                         (void ***)&c->r->chunkservers, &c->r->n_chunkservers, NULL);
    case MD__QUERY__Q_GET_GROUP:
        return q_get_group(c, q->get_group);
    case MD__QUERY__Q_FRAGMENTS_ON:
        return q_fragments_on(c, q->fragments_on);
    case MD__QUERY__Q_LIST_GARBAGE:
        return q_list_garbage(c, q->list_garbage);
    case MD__QUERY__Q_GET_ACCESS_KEY:
        return q_access_key(c, q->get_access_key);
    case MD__QUERY__Q_LIST_ACCESS_KEYS:
        return q_list_access_keys(c, q->list_access_keys);
    case MD__QUERY__Q_GET_USER:
        return q_get_user(c, q->get_user);
    case MD__QUERY__Q_LIST_REPLICAS: {
        md_key_start(&pre, MD_K_REPLICA);
        int rc = scan_msgs(c, &pre, NULL, UINT32_MAX, &md__replica_record__descriptor,
                           (void ***)&c->r->replicas, &c->r->n_replicas, NULL);
        if (rc)
            return rc;
        md_key_start(&pre, MD_K_MEMBERS);
        rc = qget(c, &pre, &md__membership_record__descriptor, (void **)&c->r->membership);
        return rc == CAIRN_E_NOTFOUND ? 0 : rc;
    }
    case MD__QUERY__Q_LIST_USERS:
        md_key_start(&pre, MD_K_USER);
        return scan_msgs(c, &pre, NULL, UINT32_MAX, &md__user_record__descriptor,
                         (void ***)&c->r->users, &c->r->n_users, NULL);
    case MD__QUERY__Q_STATE_INFO:
        return q_state_info(c);
    case MD__QUERY__Q_LIST_VERSIONS:
        return mq_list_versions(c, q->list_versions);
    case MD__QUERY__Q_LIST_PACKED:
        return mq_list_packed(c, q->list_packed);
    default:
        return qfail(c, CAIRN_E_UNSUPPORTED, MD__REASON__R_UNKNOWN_COMMAND);
    }
}

/* Query.caller_key: the key and its user into caller / caller_user, in the
 * query's snapshot; a missing key (or user) is an answer, not an error. */
static int load_caller(struct qctx *c, const char *key_id)
{
    c->r->caller_checked = 1;
    if (!md_valid_key_id(key_id))
        return 0;
    struct md_key k;
    md_key_start(&k, MD_K_ACCESS);
    md_key_str(&k, key_id);
    int rc = qget(c, &k, &md__access_key_record__descriptor, (void **)&c->r->caller);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc || !c->r->caller->owner || !c->r->caller->owner[0])
        return rc;
    md_key_start(&k, MD_K_USER);
    md_key_str(&k, c->r->caller->owner);
    rc = qget(c, &k, &md__user_record__descriptor, (void **)&c->r->caller_user);
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

int md_query(struct md_store *store, const void *qbytes, size_t qlen, uint8_t **out, size_t *outlen)
{
    Md__QueryResult r = MD__QUERY_RESULT__INIT;
    struct qctx c = {.store = store, .r = &r};
    int rc = md_txn_init_snapshot(&c.txn, store); /* one consistent view */
    if (rc)
        return rc;
    Md__Query *q = md__query__unpack(NULL, qlen, qbytes);
    if (!q)
        rc = qfail(&c, CAIRN_E_PROTO, MD__REASON__R_INVALID_ARGUMENT);
    else
        rc = run_query(&c, q);
    if (!rc && q && q->caller_key && q->caller_key[0])
        rc = load_caller(&c, q->caller_key);
    if (!rc)
        rc = cn_pb_pack(&r.base, out, outlen);
    if (q)
        md__query__free_unpacked(q, NULL);
    arena_free(&c.arena);
    md_txn_destroy(&c.txn);
    return rc;
}

int md_query_exec(struct md_store *store, const Md__Query *q, Md__QueryResult **out)
{
    uint8_t *qb, *rb;
    size_t ql, rl;
    int rc = cn_pb_pack(&q->base, &qb, &ql);
    if (rc)
        return rc;
    rc = md_query(store, qb, ql, &rb, &rl);
    free(qb);
    if (rc)
        return rc;
    *out = md__query_result__unpack(NULL, rl, rb);
    free(rb);
    return *out ? 0 : CAIRN_E_NOMEM;
}

void md_query_result_free(Md__QueryResult *r)
{
    if (r)
        md__query_result__free_unpacked(r, NULL);
}

/* Runs q; returns the result's status when the query failed logically. */
static int exec_status(struct md_store *s, const Md__Query *q, Md__QueryResult **out)
{
    int rc = md_query_exec(s, q, out);
    if (rc)
        return rc;
    if ((*out)->status) {
        rc = (*out)->status;
        md_query_result_free(*out);
        *out = NULL;
    }
    return rc;
}

int md_query_get_object(struct md_store *s, const char *bucket, const char *key,
                        Md__QueryResult **out)
{
    Md__GetObjectQ g = MD__GET_OBJECT_Q__INIT;
    g.bucket = (char *)bucket;
    g.key = (char *)key;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_GET_OBJECT;
    q.get_object = &g;
    return exec_status(s, &q, out);
}

int md_query_head_bucket(struct md_store *s, const char *bucket, Md__QueryResult **out)
{
    Md__HeadBucketQ h = MD__HEAD_BUCKET_Q__INIT;
    h.bucket = (char *)bucket;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_HEAD_BUCKET;
    q.head_bucket = &h;
    return exec_status(s, &q, out);
}

int md_query_list_objects(struct md_store *s, const char *bucket, const char *prefix,
                          const char *delimiter, const char *marker, uint32_t max_keys,
                          Md__QueryResult **out)
{
    Md__ListObjectsQ l = MD__LIST_OBJECTS_Q__INIT;
    l.bucket = (char *)bucket;
    l.prefix = (char *)(prefix ? prefix : "");
    l.delimiter = (char *)(delimiter ? delimiter : "");
    l.marker = (char *)(marker ? marker : "");
    l.max_keys = max_keys;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_LIST_OBJECTS;
    q.list_objects = &l;
    return exec_status(s, &q, out);
}

int md_query_get_group(struct md_store *s, const uint8_t group_id[16], Md__QueryResult **out)
{
    Md__GetGroupQ g = MD__GET_GROUP_Q__INIT;
    g.group_id.data = (uint8_t *)group_id;
    g.group_id.len = 16;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_GET_GROUP;
    q.get_group = &g;
    return exec_status(s, &q, out);
}

int md_query_chunkservers(struct md_store *s, Md__QueryResult **out)
{
    Md__ListChunkserversQ l = MD__LIST_CHUNKSERVERS_Q__INIT;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_LIST_CHUNKSERVERS;
    q.list_chunkservers = &l;
    return exec_status(s, &q, out);
}
