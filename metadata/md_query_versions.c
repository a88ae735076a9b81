/* Queries of object versions (docs/metadata.md "Versions"): GetObject of a
 * version id, the delete marker a missing current object may be, and
 * ListObjectVersions -- a merge of the current objects ("So") and the
 * noncurrent versions ("SV"), which are in the same key order, so a page is
 * two ordered walks and one seek of each per common prefix. */
#include "md_query_int.h"

#include "cn_error.h"
#include "md_cmd_ver.h"

#include <stdlib.h>
#include <string.h>

static int is_null(const Md__ObjectRecord *r)
{
    return r->vseq == 0 || r->null_version;
}

/* "So" bucket 0 key and "SV" bucket 0 key 0 (the key's version prefix). */
static void object_key(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_OBJECT);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
}

static void version_prefix(struct md_key *k, const char *bucket, const char *key)
{
    md_key_start(k, MD_K_VERSION);
    md_key_str(k, bucket);
    md_key_byte(k, 0);
    md_key_str(k, key);
    md_key_byte(k, 0);
}

/* The newest noncurrent version of bucket/key into *out (arena; NULL: none). */
static int newest_noncurrent(struct qctx *c, const char *bucket, const char *key,
                             Md__ObjectRecord **out)
{
    *out = NULL;
    struct md_key pre;
    version_prefix(&pre, bucket, key);
    struct md_iter *it;
    int rc = md_snapshot_iter_new(c->txn.snap, &it);
    if (rc)
        return rc;
    md_iter_seek(it, pre.b, pre.n);
    if (md_iter_valid(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl == pre.n + 8 && memcmp(k, pre.b, pre.n) == 0) {
            const void *v = md_iter_value(it, &vl);
            *out = arena_unpack(&c->arena, &md__object_record__descriptor, v, vl);
            if (!*out)
                rc = c->arena.nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
        }
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

int mq_current_marker(struct qctx *c, const char *bucket, const char *key)
{
    Md__ObjectRecord *m;
    int rc = newest_noncurrent(c, bucket, key, &m);
    if (rc == 0 && m && m->delete_marker)
        c->r->marker = m;
    return rc;
}

/* Version (vseq, want_null) of bucket/key into *out (NULL: none). */
static int find_version(struct qctx *c, const char *bucket, const char *key, uint64_t vseq,
                        int want_null, Md__ObjectRecord **out)
{
    *out = NULL;
    struct md_key k;
    object_key(&k, bucket, key);
    Md__ObjectRecord *o;
    int rc = qget(c, &k, &md__object_record__descriptor, (void **)&o);
    if (rc && rc != CAIRN_E_NOTFOUND)
        return rc;
    if (rc == 0 && (want_null ? is_null(o) : !is_null(o) && o->vseq == vseq)) {
        *out = o;
        return 0;
    }
    if (want_null) {
        md_key_start(&k, MD_K_NULLVER);
        md_key_str(&k, bucket);
        md_key_byte(&k, 0);
        md_key_str(&k, key);
        Md__NullVersionRef *ref;
        rc = qget(c, &k, &md__null_version_ref__descriptor, (void **)&ref);
        if (rc)
            return rc == CAIRN_E_NOTFOUND ? 0 : rc;
        vseq = ref->vseq;
    }
    version_prefix(&k, bucket, key);
    md_key_be64(&k, ~vseq);
    rc = qget(c, &k, &md__object_record__descriptor, (void **)&o);
    if (rc)
        return rc == CAIRN_E_NOTFOUND ? (want_null ? CAIRN_E_CORRUPT : 0) : rc;
    if (is_null(o) == want_null)
        *out = o;
    return 0;
}

int mq_get_version(struct qctx *c, const Md__GetObjectQ *q)
{
    uint64_t vseq;
    int want_null;
    if (md_version_id_parse(q->version_id, &vseq, &want_null) != 0)
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_BAD_VERSION_ID);
    void *b;
    int rc = qget_bucket(c, q->bucket, &b);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET);
    if (rc)
        return rc;
    if (q->with_bucket)
        c->r->bucket = b;
    Md__ObjectRecord *o;
    if ((rc = find_version(c, q->bucket, q->key, vseq, want_null, &o)))
        return rc;
    if (!o)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_VERSION);
    if (o->delete_marker) {
        c->r->marker = o;
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_DELETE_MARKER);
    }
    c->r->object = o;
    return 0;
}

/* ------------------------------------------------- ListObjectVersions -- */

/* One of the two ordered walks: "So" keys (fixed = 0: the name is the rest
 * of the key) or "SV" keys (fixed = 9: the name is followed by 0 and be64). */
struct walk {
    struct md_iter *it;
    struct md_key base; /* "So"/"SV" bucket 0 */
    size_t fixed;
    const char *prefix;
    size_t plen;
    int done;
    const unsigned char *name; /* valid while not done */
    size_t nlen;
};

/* Positions w on its current entry, or marks it done (past the prefix). */
static int walk_settle(struct walk *w)
{
    w->name = NULL;
    if (w->done || !md_iter_valid(w->it)) {
        w->done = 1;
        return md_iter_status(w->it);
    }
    size_t kl;
    const unsigned char *k = md_iter_key(w->it, &kl);
    if (kl < w->base.n + w->plen || memcmp(k, w->base.b, w->base.n) != 0 ||
        memcmp(k + w->base.n, w->prefix, w->plen) != 0) {
        w->done = 1;
        return 0;
    }
    if (kl < w->base.n + w->fixed + 1 || (w->fixed && k[kl - w->fixed] != 0))
        return CAIRN_E_CORRUPT;
    w->name = k + w->base.n;
    w->nlen = kl - w->base.n - w->fixed;
    /* a name with the prefix but shorter than it cannot be: the prefix has no NUL */
    return w->nlen >= w->plen ? 0 : CAIRN_E_CORRUPT;
}

static int walk_seek(struct walk *w, const struct md_key *k)
{
    md_iter_seek(w->it, k->b, k->n);
    return walk_settle(w);
}

static int walk_next(struct walk *w)
{
    md_iter_next(w->it);
    return walk_settle(w);
}

/* Seeks w to the first name after every name that begins with cp. */
static int walk_skip(struct walk *w, const unsigned char *cp, size_t len)
{
    struct md_key k = w->base;
    md_key_bytes(&k, cp, len);
    if (md_key_prefix_end(&k)) {
        w->done = 1;
        return 0;
    }
    return walk_seek(w, &k);
}

static int name_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

struct lv {
    struct qctx *c;
    Md__ListVersionsR *r;
    size_t cap_v, cap_p;
    uint32_t max, count;
    int truncated;
    const char *last_key, *last_vid; /* the last entry shown (arena) */
};

/* Adds one version (the entry w is on); returns 1 when the page is full. */
static int lv_add(struct lv *l, const unsigned char *name, size_t nlen, struct md_iter *it,
                  int latest)
{
    if (l->count == l->max) {
        l->truncated = 1;
        return 1;
    }
    size_t vl;
    const void *v = md_iter_value(it, &vl);
    struct arena *a = &l->c->arena;
    Md__ObjectRecord *rec = arena_unpack(a, &md__object_record__descriptor, v, vl);
    if (!rec)
        return a->nomem ? CAIRN_E_NOMEM : CAIRN_E_CORRUPT;
    Md__VersionEntry *e = arena_alloc(a, sizeof(*e));
    Md__ObjectRecord *summary = arena_alloc(a, sizeof(*summary));
    char *key = arena_strndup(a, name, nlen);
    char *vid = arena_alloc(a, MD_VERSION_ID_CAP);
    if (!e || !summary || !key || !vid)
        return CAIRN_E_NOMEM;
    md__version_entry__init(e);
    *summary = *rec; /* shallow: the arena frees rec's parts once */
    summary->has_inline = 0;
    summary->inline_data.len = 0;
    summary->inline_data.data = NULL;
    summary->n_extents = 0;
    summary->extents = NULL;
    summary->base.n_unknown_fields = 0;
    summary->base.unknown_fields = NULL;
    md_version_id_of(rec, vid);
    e->key = key;
    e->version_id = vid;
    e->is_latest = latest;
    e->record = summary;
    APPEND(a, l->r->versions, l->r->n_versions, l->cap_v, e);
    l->count++;
    l->last_key = key;
    l->last_vid = vid;
    return 0;
}

static int lv_prefix(struct lv *l, const unsigned char *cp, size_t len)
{
    if (l->count == l->max) {
        l->truncated = 1;
        return 1;
    }
    char *s = arena_strndup(&l->c->arena, cp, len);
    if (!s)
        return CAIRN_E_NOMEM;
    APPEND(&l->c->arena, l->r->common_prefixes, l->r->n_common_prefixes, l->cap_p, s);
    l->count++;
    l->last_key = s;
    l->last_vid = "";
    return 0;
}

/* Where a page starts, from the markers: *o and *v are the first "So" and
 * "SV" keys it may show; *resume_vseq_set when key_marker's own versions
 * older than the version-id marker come first. */
static int start_keys(struct qctx *c, const Md__ListVersionsQ *q, const struct md_key *obase,
                      const struct md_key *vbase, struct md_key *o, struct md_key *v)
{
    *o = *obase;
    *v = *vbase;
    if (!q->key_marker[0] || strcmp(q->key_marker, q->prefix) < 0) {
        md_key_str(o, q->prefix);
        md_key_str(v, q->prefix);
        return 0;
    }
    /* The current object of key_marker comes before any of its other
     * versions: past it either way. */
    md_key_str(o, q->key_marker);
    md_key_byte(o, 0);
    md_key_str(v, q->key_marker);
    if (!q->version_id_marker[0]) {
        md_key_byte(v, 1); /* past every version of key_marker */
        return 0;
    }
    uint64_t vseq;
    int want_null;
    if (md_version_id_parse(q->version_id_marker, &vseq, &want_null) != 0)
        return CAIRN_E_INVAL;
    if (want_null) {
        Md__ObjectRecord *n;
        int rc = find_version(c, q->bucket, q->key_marker, 0, 1, &n);
        if (rc)
            return rc;
        vseq = n ? n->vseq : 0; /* gone: nothing older to show */
    }
    /* The versions older than the marker: after "SV" key_marker 0 ~vseq. */
    md_key_byte(v, 0);
    md_key_be64(v, ~vseq);
    md_key_byte(v, 0);
    return 0;
}

int mq_list_versions(struct qctx *c, const Md__ListVersionsQ *q)
{
    if (!md_valid_bucket(q->bucket) || !valid_list_args(q->prefix, q->delimiter, q->key_marker))
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    if (q->version_id_marker[0] && !q->key_marker[0])
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT);
    uint64_t vs;
    int vn;
    if (q->version_id_marker[0] && md_version_id_parse(q->version_id_marker, &vs, &vn) != 0)
        return qfail(c, CAIRN_E_INVAL, MD__REASON__R_BAD_VERSION_ID);
    void *b;
    int rc = qget_bucket(c, q->bucket, &b);
    if (rc == CAIRN_E_NOTFOUND)
        return qfail(c, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_BUCKET);
    if (rc)
        return rc;
    Md__ListVersionsR *r = arena_alloc(&c->arena, sizeof(*r));
    if (!r)
        return CAIRN_E_NOMEM;
    md__list_versions_r__init(r);
    c->r->list_versions = r;

    struct walk wo = {.fixed = 0, .prefix = q->prefix, .plen = strlen(q->prefix)};
    struct walk wv = {.fixed = 9, .prefix = q->prefix, .plen = strlen(q->prefix)};
    md_key_start(&wo.base, MD_K_OBJECT);
    md_key_str(&wo.base, q->bucket);
    md_key_byte(&wo.base, 0);
    md_key_start(&wv.base, MD_K_VERSION);
    md_key_str(&wv.base, q->bucket);
    md_key_byte(&wv.base, 0);
    struct md_key so, sv;
    if ((rc = start_keys(c, q, &wo.base, &wv.base, &so, &sv)))
        return rc;
    if ((rc = md_snapshot_iter_new(c->txn.snap, &wo.it)))
        return rc;
    if ((rc = md_snapshot_iter_new(c->txn.snap, &wv.it))) {
        md_iter_free(wo.it);
        return rc;
    }
    struct lv l = {.c = c, .r = r, .max = clamp_max(q->max_keys, MD_LIST_MAX)};
    size_t dlen = strlen(q->delimiter), mlen = strlen(q->key_marker), plen = wo.plen;
    if (!(rc = walk_seek(&wo, &so)))
        rc = walk_seek(&wv, &sv);
    while (!rc && (!wo.done || !wv.done)) {
        const unsigned char *name;
        size_t nlen;
        if (wv.done || (!wo.done && name_cmp(wo.name, wo.nlen, wv.name, wv.nlen) <= 0))
            name = wo.name, nlen = wo.nlen;
        else
            name = wv.name, nlen = wv.nlen;
        const unsigned char *d =
            dlen ? find_bytes(name + plen, nlen - plen, q->delimiter, dlen) : NULL;
        if (d) {
            size_t cplen = (size_t)(d - name) + dlen;
            /* Copied: the walks move on. */
            unsigned char cp[MD_OBJKEY_MAX + 1];
            memcpy(cp, name, cplen);
            if (md_key_cmp(cp, cplen, q->key_marker, mlen) > 0 && (rc = lv_prefix(&l, cp, cplen)))
                break;
            if (!(rc = walk_skip(&wo, cp, cplen)))
                rc = walk_skip(&wv, cp, cplen);
            continue;
        }
        /* Every version of this name: the current object first, then the
         * others newest first. The first shown is the latest unless the page
         * resumes inside the key after the version-id marker. */
        int resumed =
            q->version_id_marker[0] && nlen == mlen && memcmp(name, q->key_marker, mlen) == 0;
        int latest = !resumed;
        unsigned char nm[MD_OBJKEY_MAX + 1];
        memcpy(nm, name, nlen);
        if (!wo.done && name_cmp(wo.name, wo.nlen, nm, nlen) == 0) {
            if ((rc = lv_add(&l, nm, nlen, wo.it, latest)))
                break;
            latest = 0;
            rc = walk_next(&wo);
        }
        while (!rc && !wv.done && name_cmp(wv.name, wv.nlen, nm, nlen) == 0) {
            if ((rc = lv_add(&l, nm, nlen, wv.it, latest)))
                break;
            latest = 0;
            rc = walk_next(&wv);
        }
    }
    md_iter_free(wo.it);
    md_iter_free(wv.it);
    if (rc < 0)
        return rc;
    r->truncated = l.truncated;
    if (l.truncated && l.last_key) {
        r->next_key_marker = (char *)l.last_key;
        r->next_version_id_marker = (char *)l.last_vid;
    }
    return 0;
}
