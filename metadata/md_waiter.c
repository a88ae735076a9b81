#include "md_waiter.h"

#include "cn_util.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct md_waiter *md_waiter_new(void)
{
    struct md_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    w->refs = 2;
    return w;
}

void md_waiter_put(struct md_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left == 0) {
        free(w->result);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

void md_waiter_complete(struct md_waiter *w, int status, uint32_t leader, uint8_t *result,
                        size_t len)
{
    pthread_mutex_lock(&w->mu);
    if (!w->done) {
        w->done = 1;
        w->status = status;
        w->leader = leader;
        w->result = result;
        w->result_len = len;
        result = NULL;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    free(result);
    md_waiter_put(w);
}

int md_waiter_wait(struct md_waiter *w, int64_t timeout_ms)
{
    struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    }
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}
