/* Linearizability checker, in the style of Wing & Gong with Lowe's
 * memoization (as in Porcupine), for two models: a register-per-key store
 * (put / get / cas; the bare-core simulator) and an S3 bucket (put,
 * conditional put, get, delete, list prefix; the replica simulator).
 * Histories are partitioned (per key, per group of keys under one prefix)
 * and each part is checked on its own. */
#ifndef CAIRN_SIM_LINCHECK_H
#define CAIRN_SIM_LINCHECK_H

#include <stdbool.h>
#include <stdint.h>

enum lc_kind { LC_GET = 1, LC_PUT, LC_CAS };

#define LC_NEVER UINT64_MAX /* return time of an operation that never returned */

struct lc_op {
    uint32_t kind; /* enum lc_kind */
    uint32_t key;
    uint32_t a, b;      /* PUT: a; CAS: expect a, set b */
    uint32_t result;    /* GET: value read; CAS: 1 swapped / 0 not; ignored if !known */
    bool known;         /* false: the call never returned (its result is unknown) */
    uint64_t call, ret; /* real-time interval; ret = LC_NEVER if !known */
};

/* Checks ops[0..n) against a store where every key starts at 0. Incomplete
 * GETs are ignored; incomplete PUT/CAS may or may not have taken effect.
 * Returns true if linearizable; otherwise false and, if bad_key, the first key
 * that is not. */
bool lc_check(const struct lc_op *ops, uint32_t n, uint32_t *bad_key);

/* ---- a bucket: object key -> ETag, as metadata/md_sm_objects.c keeps it ----
 * Keys are grouped under prefixes: group g holds LC_GROUP_KEYS keys, and a
 * listing names a group (its prefix) and returns all of the group's keys, so
 * groups are independent objects. ETags are nonzero numbers, unique per put;
 * 0 means "no such key". */

#define LC_GROUP_KEYS 4

enum lc_bkind {
    LC_B_GET = 1,         /* got = the key's ETag, 0 if NoSuchKey */
    LC_B_PUT,             /* unconditional: key = etag */
    LC_B_PUT_IF_NONE,     /* If-None-Match: *: CAIRN_E_PRECOND if the key exists */
    LC_B_PUT_IF_MATCH,    /* If-Match: match: CAIRN_E_NOTFOUND if absent, */
                          /*   CAIRN_E_PRECOND if its ETag differs */
    LC_B_DELETE,          /* got = 1 if it existed */
    LC_B_DELETE_IF_MATCH, /* as PUT_IF_MATCH's conditions; got = 1 on success */
    LC_B_LIST,            /* list[k] = key k's ETag (0 if absent), whole group */
};

struct lc_bop {
    uint32_t kind; /* enum lc_bkind */
    uint32_t group;
    uint32_t key;   /* < LC_GROUP_KEYS (not for LIST) */
    uint32_t etag;  /* PUT*: the ETag it writes */
    uint32_t match; /* *_IF_MATCH: the ETag required */
    /* results, when known */
    int32_t status; /* writes: 0 or the condition's CAIRN_E_* */
    uint32_t got;   /* GET: ETag (0 = none); DELETE*: existed */
    uint32_t list[LC_GROUP_KEYS];
    bool known;         /* false: never returned (a write may or may not have happened) */
    uint64_t call, ret; /* real-time interval; ret ignored if !known */
};

/* Checks ops[0..n) against a bucket where every key starts absent. Returns
 * true if linearizable; otherwise false and, if bad_group, the first group
 * that is not. */
bool lc_bucket_check(const struct lc_bop *ops, uint32_t n, uint32_t *bad_group);

#endif
