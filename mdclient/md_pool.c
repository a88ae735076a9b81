#include "md_pool.h"

#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct md_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled when a client comes back */
    struct md_client *c[MD_POOL_MAX];
    unsigned n;
    uint64_t busy; /* bit i: c[i] is lent */
};

int md_pool_new(const struct md_client_opts *o, unsigned n, struct md_pool **out)
{
    if (!o || !out || n == 0 || n > MD_POOL_MAX)
        return CAIRN_E_INVAL;
    struct md_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->mu, NULL);
    struct md_client_opts so = *o;
    so.batcher = NULL;
    so.pool = NULL;
    for (; p->n < n; p->n++) {
        int rc = md_client_new(&so, &p->c[p->n]);
        if (rc != 0) {
            md_pool_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void md_pool_free(struct md_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        md_client_free(p->c[i]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

unsigned md_pool_size(const struct md_pool *p)
{
    return p ? p->n : 0;
}

/* With mu held. */
static struct md_client *take_free(struct md_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (!(p->busy & (1ull << i))) {
            p->busy |= 1ull << i;
            return p->c[i];
        }
    return NULL;
}

struct md_client *md_pool_try_take(struct md_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct md_client *c = take_free(p);
    pthread_mutex_unlock(&p->mu);
    return c;
}

struct md_client *md_pool_take(struct md_pool *p, int64_t deadline_ms)
{
    pthread_mutex_lock(&p->mu);
    struct md_client *c;
    while (!(c = take_free(p))) {
        int64_t left = deadline_ms - cn_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, left);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return c;
}

void md_pool_give(struct md_pool *p, struct md_client *c)
{
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        if (p->c[i] == c) {
            p->busy &= ~(1ull << i);
            pthread_cond_signal(&p->cv);
            break;
        }
    pthread_mutex_unlock(&p->mu);
}
