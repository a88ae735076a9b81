/* md_waiter: a one-shot box in which the daemon's core thread leaves the
 * outcome of a request that an HTTP handler thread waits for.
 *
 * Two references from the start: the waiting thread's and the completing
 * thread's. Whoever drops the last frees it, so a handler that timed out and
 * went away never leaves the core with a dangling pointer. */
#ifndef CAIRN_MD_WAITER_H
#define CAIRN_MD_WAITER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct md_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    /* The outcome, valid once md_waiter_wait returned 1: */
    int status;
    uint32_t leader; /* leader hint with CAIRN_E_NOTLEADER */
    uint8_t *result; /* malloc'ed; freed with the waiter */
    size_t result_len;
    int64_t submit_us; /* completing thread only: when the request was started */
};

/* A new waiter with two references, or NULL when out of memory. */
struct md_waiter *md_waiter_new(void);
/* Drops one reference. */
void md_waiter_put(struct md_waiter *w);
/* Completing side: records the outcome (taking ownership of result; the
 * first completion wins, later ones free theirs) and drops its reference. */
void md_waiter_complete(struct md_waiter *w, int status, uint32_t leader, uint8_t *result,
                        size_t len);
/* Waiting side: waits up to timeout_ms. Returns 1 when the outcome is there,
 * 0 on timeout. */
int md_waiter_wait(struct md_waiter *w, int64_t timeout_ms);

#endif
