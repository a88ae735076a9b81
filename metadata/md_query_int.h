/* md_query_int: private to the query files (md_query*.c): the arena every
 * answer lives in, the context of one query, and what md_query.c shares
 * with the versions queries (md_query_versions.c). */
#ifndef CAIRN_MD_QUERY_INT_H
#define CAIRN_MD_QUERY_INT_H

#include "md_query.h"
#include "md_txn.h"

#include <stddef.h>
#include <stdint.h>

/* Everything a query result points to, released after packing. */
struct arena {
    void **ptrs;
    size_t n, cap;
    int nomem;
};

struct qctx {
    struct md_store *store;
    struct md_txn txn; /* empty overlay over one snapshot of the store */
    struct arena arena;
    Md__QueryResult *r;
    void *list_state; /* the running lister's output state */
};

/* Growable pointer arrays living in the arena (returns CAIRN_E_NOMEM from
 * the enclosing function when out of memory). */
#define APPEND(a, arr, n, cap, item)                                                               \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t ncap_ = (cap) ? 2 * (cap) : 16;                                                 \
            void *na_ = arena_alloc((a), ncap_ * sizeof(*(arr)));                                  \
            if (!na_)                                                                              \
                return CAIRN_E_NOMEM;                                                              \
            if (n)                                                                                 \
                memcpy(na_, (arr), (n) * sizeof(*(arr)));                                          \
            (arr) = na_;                                                                           \
            (cap) = ncap_;                                                                         \
        }                                                                                          \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

/* Allocations tracked by the arena (NULL and a->nomem set when out of memory). */
void *arena_alloc(struct arena *a, size_t size);
/* Makes room for one more element in the array *arrp points to (n elements
 * of elem bytes used, *cap allocated), growing it in the arena (first
 * elements, then doubling). 0 or CAIRN_E_NOMEM (the array is unchanged). */
int arena_reserve(struct arena *a, void *arrp, size_t n, size_t *cap, size_t elem, size_t first);
char *arena_strndup(struct arena *a, const void *s, size_t n);
/* Unpacks a message into the arena; NULL for undecodable bytes (a->nomem
 * says whether memory ran out). */
void *arena_unpack(struct arena *a, const ProtobufCMessageDescriptor *d, const void *v, size_t vl);
/* Records a logical failure in the answer; returns 0. */
int qfail(struct qctx *c, int status, Md__Reason reason);
/* Gets and unpacks key into the arena; CAIRN_E_NOTFOUND when absent. */
int qget(struct qctx *c, const struct md_key *k, const ProtobufCMessageDescriptor *d, void **out);
/* qget of bucket's record (an Md__BucketRecord); CAIRN_E_NOTFOUND when absent. */
int qget_bucket(struct qctx *c, const char *bucket, void **out);
uint32_t clamp_max(uint32_t asked, uint32_t cap);
/* The first occurrence of n[0..nl) in h[0..hl), or NULL. */
const unsigned char *find_bytes(const unsigned char *h, size_t hl, const char *n, size_t nl);
/* Prefix, delimiter and marker fit a key. */
int valid_list_args(const char *prefix, const char *delim, const char *marker);

/* ---- md_query_versions.c ---- */

/* GetObject of q->version_id (bucket and key valid). */
int mq_get_version(struct qctx *c, const Md__GetObjectQ *q);
/* The key has no current object: if its newest version is a delete marker,
 * it goes into c->r->marker. */
int mq_current_marker(struct qctx *c, const char *bucket, const char *key);
int mq_list_versions(struct qctx *c, const Md__ListVersionsQ *q);

/* ---- md_query_packed.c (issue #17) ---- */

/* Fills each packed extent of o (unpacked with the default allocator) with
 * its group's locations and committed length from the group's record. */
int mq_fill_packed(struct qctx *c, Md__ObjectRecord *o);
/* GetGroup of a packed group whose locator names rkey (its bytes rk). */
int mq_packed_group_info(struct qctx *c, const struct md_key *rkey, const ProtobufCBinaryData *rk,
                         const uint8_t *gid);
int mq_list_packed(struct qctx *c, const Md__ListPackedQ *q);

#endif
