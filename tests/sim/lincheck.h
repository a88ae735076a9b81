/* Linearizability checker for a register-per-key store (put / get / cas), in the
 * style of Wing & Gong with Lowe's memoization (as in Porcupine). Histories are
 * partitioned per key and each key is checked independently. */
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

#endif
