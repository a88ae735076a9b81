#include "cs_damage.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_util.h"

typedef struct damage_entry {
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    uint64_t bad_block;
    char found_by[16];
    int64_t when_s;
} damage_entry;

struct cs_damage {
    pthread_mutex_t lock;
    damage_entry *entries; /* unsorted; linear search is fine at this size */
    size_t n, cap;
    uint64_t total;
};

int cs_damage_new(cs_damage **out)
{
    cs_damage *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return CAIRN_E_NOMEM;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return 0;
}

void cs_damage_free(cs_damage *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->lock);
    free(d->entries);
    free(d);
}

static damage_entry *find(cs_damage *d, const uint8_t *group, uint32_t index)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->entries[i].index == index && memcmp(d->entries[i].group, group, 16) == 0)
            return &d->entries[i];
    return NULL;
}

void cs_damage_add(cs_damage *d, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                   uint64_t bad_block, const char *found_by)
{
    pthread_mutex_lock(&d->lock);
    damage_entry *e = find(d, group, index);
    if (e == NULL) {
        d->total++;
        if (d->n == d->cap && d->cap < CS_DAMAGE_MAX) {
            size_t cap = d->cap ? 2 * d->cap : 16;
            damage_entry *bigger = realloc(d->entries, cap * sizeof(*bigger));
            if (bigger != NULL) {
                d->entries = bigger;
                d->cap = cap;
            }
        }
        if (d->n < d->cap) {
            e = &d->entries[d->n++];
            memcpy(e->group, group, CS_GROUP_ID_LEN);
            e->index = index;
        }
    }
    if (e != NULL) {
        e->bad_block = bad_block;
        snprintf(e->found_by, sizeof(e->found_by), "%s", found_by);
        e->when_s = cn_wall_s();
    }
    pthread_mutex_unlock(&d->lock);
}

void cs_damage_clear(cs_damage *d, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    pthread_mutex_lock(&d->lock);
    damage_entry *e = find(d, group, index);
    if (e != NULL)
        *e = d->entries[--d->n];
    pthread_mutex_unlock(&d->lock);
}

uint64_t cs_damage_count(cs_damage *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t n = d->n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

uint64_t cs_damage_total(cs_damage *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t n = d->total;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void cs_damage_write(cs_damage *d, FILE *out)
{
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++) {
        const damage_entry *e = &d->entries[i];
        char hex[CS_GROUP_HEX_LEN + 1];
        cs_group_format(e->group, hex);
        if (e->bad_block == UINT64_MAX || e->bad_block == CS_DAMAGE_MISSING)
            fprintf(out, "%s %u %s %s %" PRId64 "\n", hex, e->index,
                    e->bad_block == UINT64_MAX ? "header" : "missing", e->found_by, e->when_s);
        else
            fprintf(out, "%s %u %" PRIu64 " %s %" PRId64 "\n", hex, e->index, e->bad_block,
                    e->found_by, e->when_s);
    }
    pthread_mutex_unlock(&d->lock);
}

size_t cs_damage_list(cs_damage *d, const char *found_by, uint8_t (*groups)[CS_GROUP_ID_LEN],
                      uint32_t *indices, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n && n < max; i++) {
        if (strcmp(d->entries[i].found_by, found_by) != 0)
            continue;
        memcpy(groups[n], d->entries[i].group, CS_GROUP_ID_LEN);
        indices[n] = d->entries[i].index;
        n++;
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}
