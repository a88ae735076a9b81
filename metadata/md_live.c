#include "md_live.h"

#include "cn_error.h"

#include <pthread.h>
#include <stdlib.h>

struct md_live {
    pthread_mutex_t mu;
    size_t n, max;
    struct md_live_entry *e;
};

int md_live_new(size_t max, struct md_live **out)
{
    struct md_live *l = calloc(1, sizeof(*l));
    if (!l || !(l->e = calloc(max ? max : 1, sizeof(*l->e)))) {
        free(l);
        return CAIRN_E_NOMEM;
    }
    l->max = max;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return 0;
}

void md_live_free(struct md_live *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->e);
    free(l);
}

void md_live_heard(struct md_live *l, uint64_t id, uint64_t capacity, uint64_t free, int64_t now_ms)
{
    pthread_mutex_lock(&l->mu);
    size_t i;
    for (i = 0; i < l->n && l->e[i].id != id; i++)
        ;
    if (i == l->n && l->n < l->max)
        l->n++;
    if (i < l->n)
        l->e[i] = (struct md_live_entry){
            .id = id, .capacity = capacity, .free = free, .last_seen_ms = now_ms};
    pthread_mutex_unlock(&l->mu);
}

void md_live_reset(struct md_live *l)
{
    pthread_mutex_lock(&l->mu);
    l->n = 0;
    pthread_mutex_unlock(&l->mu);
}

int md_live_get(struct md_live *l, uint64_t id, struct md_live_entry *out)
{
    int rc = CAIRN_E_NOTFOUND;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].id == id) {
            *out = l->e[i];
            rc = 0;
        }
    pthread_mutex_unlock(&l->mu);
    return rc;
}
