#include "cs_scrub.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_crc.h"

#define MOD "scrub"

struct cs_scrub {
    cs_store *store;
    cs_damage *damage;
    cs_scrub_opts opts;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool now_requested;   /* cs_scrub_now: start the next pass without waiting */
    cs_scrub_stats stats; /* under lock */
    /* Scrubber thread only: pacing, and the position saved to STATE_FILE. */
    int64_t pass_start_us;
    uint64_t pass_bytes;
    uint8_t *scratch;
    int64_t pass_start_wall_s;
    bool has_cursor;
    uint8_t cursor_group[CS_GROUP_ID_LEN];
    uint32_t cursor_index;
    int64_t last_save_us;
};

/* The scrubber's position survives restarts, so a pass over a large disk
 * (days at a modest rate) is not restarted from the beginning each time:
 *   pass_start <unix s>
 *   cursor <group hex> <index>      (in a pass: the last fragment checked)
 *   done                            (the pass that started then is complete)
 * Losing the file (it is not fsync'd) only means a pass starts over. */
#define STATE_FILE    "scrub-state"
#define SAVE_EVERY_US (5 * 1000000)

static void state_save(cs_scrub *sc, bool done)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", cs_store_dir(sc->store), STATE_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f, "pass_start %lld\n", (long long)sc->pass_start_wall_s);
    if (done) {
        fprintf(f, "done\n");
    } else if (sc->has_cursor) {
        char hex[CS_GROUP_HEX_LEN + 1];
        cs_group_format(sc->cursor_group, hex);
        fprintf(f, "cursor %s %u\n", hex, sc->cursor_index);
    }
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
    sc->last_save_us = cn_mono_us();
}

/* Loads the saved position. Returns true if a pass is in progress. */
static bool state_load(cs_scrub *sc)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", cs_store_dir(sc->store), STATE_FILE);
    char *text = NULL;
    size_t len;
    sc->pass_start_wall_s = 0;
    sc->has_cursor = false;
    if (cn_read_file(path, 4096, &text, &len) != 0)
        return false;
    long long start = 0;
    char hex[CS_GROUP_HEX_LEN + 2];
    unsigned index;
    bool in_pass = false;
    if (sscanf(text, "pass_start %lld", &start) == 1 && start > 0) {
        sc->pass_start_wall_s = start;
        const char *line = strchr(text, '\n');
        in_pass = line == NULL || strncmp(line + 1, "done", 4) != 0;
        if (line && sscanf(line + 1, "cursor %33s %u", hex, &index) == 2 &&
            cs_group_parse(hex, sc->cursor_group) == 0) {
            sc->cursor_index = index;
            sc->has_cursor = true;
        }
    }
    free(text);
    return in_pass;
}

/* Waits until the monotonic time until_us or until stop; returns true if
 * stopping. */
static bool wait_until(cs_scrub *sc, int64_t until_us)
{
    pthread_mutex_lock(&sc->lock);
    while (!sc->stopping) {
        int64_t now = cn_mono_us();
        if (now >= until_us)
            break;
        int64_t left = until_us - now;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000000;
        ts.tv_nsec += (left % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sc->wake, &sc->lock, &ts);
    }
    bool stop = sc->stopping;
    pthread_mutex_unlock(&sc->lock);
    return stop;
}

/* The wait between passes: ends early when a pass is requested now. Returns
 * true if stopping. */
static bool wait_next_pass(cs_scrub *sc, int64_t until_us)
{
    pthread_mutex_lock(&sc->lock);
    while (!sc->stopping && !sc->now_requested) {
        int64_t now = cn_mono_us();
        if (now >= until_us)
            break;
        int64_t left = until_us - now;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000000;
        ts.tv_nsec += (left % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sc->wake, &sc->lock, &ts);
    }
    sc->now_requested = false;
    bool stop = sc->stopping;
    pthread_mutex_unlock(&sc->lock);
    return stop;
}

/* Sleeps as long as needed to keep the pass at or under the rate. */
static bool pace(cs_scrub *sc, uint64_t bytes)
{
    sc->pass_bytes += bytes;
    int64_t due = sc->pass_start_us +
                  (int64_t)((double)sc->pass_bytes * 1e6 / (double)sc->opts.rate_bytes_per_s);
    return wait_until(sc, due);
}

static int scrub_one(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    cs_scrub *sc = arg;
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(sc->store, group, index, &r);
    uint64_t bad_blocks = 0, first_bad = UINT64_MAX, bytes = 0;
    if (rc == CAIRN_E_NOTFOUND)
        goto done; /* deleted meanwhile */
    if (rc == CAIRN_E_CORRUPT) {
        bad_blocks = 1;
    } else if (rc != 0) {
        CN_WARN(MOD, "cannot open a fragment: %s", cairn_strerror(rc));
        goto done;
    } else {
        uint64_t len = cs_frag_reader_meta(r)->data_len;
        uint64_t blocks = cs_frag_block_count(len);
        for (uint64_t b = 0; b < blocks; b++) {
            rc = cs_frag_reader_verify_block(r, b, sc->scratch);
            uint64_t blen = len - b * EC_CRC_BLOCK;
            if (blen > EC_CRC_BLOCK)
                blen = EC_CRC_BLOCK;
            bytes += blen;
            if (rc != 0) {
                bad_blocks++;
                if (first_bad == UINT64_MAX)
                    first_bad = b;
            }
            if (pace(sc, blen)) {
                cs_frag_reader_close(r);
                return 1;
            }
        }
        cs_frag_reader_close(r);
    }
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(group, hex);
    if (bad_blocks > 0) {
        CN_WARN(MOD, "fragment %s.%u is damaged (%llu bad block(s))", hex, index,
                (unsigned long long)bad_blocks);
        cs_damage_add(sc->damage, group, index, first_bad, "scrub");
    } else {
        cs_damage_clear(sc->damage, group, index);
    }
done:
    memcpy(sc->cursor_group, group, CS_GROUP_ID_LEN);
    sc->cursor_index = index;
    sc->has_cursor = true;
    if (cn_mono_us() - sc->last_save_us >= SAVE_EVERY_US)
        state_save(sc, false);
    pthread_mutex_lock(&sc->lock);
    sc->stats.pass_fragments_done++;
    sc->stats.fragments_checked++;
    sc->stats.bytes_checked += bytes;
    sc->stats.corrupt_blocks += bad_blocks;
    if (bad_blocks > 0)
        sc->stats.corrupt_fragments++;
    bool stop = sc->stopping;
    pthread_mutex_unlock(&sc->lock);
    return stop ? 1 : 0;
}

static void *scrub_main(void *arg)
{
    cs_scrub *sc = arg;
    bool in_pass = state_load(sc);
    if (in_pass && sc->has_cursor)
        CN_INFO(MOD, "resuming the scrub pass started at %lld", (long long)sc->pass_start_wall_s);
    for (;;) {
        if (!in_pass) {
            /* The next pass is due interval after the last one started. */
            int64_t delay_ms = 0;
            if (sc->pass_start_wall_s > 0) {
                delay_ms = (sc->pass_start_wall_s - cn_wall_s()) * 1000 + sc->opts.interval_ms;
                if (delay_ms < 0)
                    delay_ms = 0;
                if (delay_ms > sc->opts.interval_ms)
                    delay_ms = sc->opts.interval_ms;
            }
            if (wait_next_pass(sc, cn_mono_us() + delay_ms * 1000))
                break;
            sc->pass_start_wall_s = cn_wall_s();
            sc->has_cursor = false;
            state_save(sc, false);
            in_pass = true;
        }
        int64_t start = cn_mono_us();
        cs_store_stats st;
        uint64_t total = cs_store_stats_get(sc->store, &st) == 0 ? st.fragments : 0;
        pthread_mutex_lock(&sc->lock);
        sc->stats.pass_fragments_done = 0;
        sc->stats.pass_fragments_total = total;
        pthread_mutex_unlock(&sc->lock);
        sc->pass_start_us = start;
        sc->pass_bytes = 0;
        int rc = cs_store_foreach(sc->store, sc->has_cursor ? sc->cursor_group : NULL,
                                  sc->cursor_index, scrub_one, sc);
        if (rc == 1) {
            state_save(sc, false); /* stopping: remember where */
            break;
        }
        if (rc != 0)
            CN_WARN(MOD, "pass stopped early: %s", cairn_strerror(rc));
        state_save(sc, true);
        in_pass = false;
        pthread_mutex_lock(&sc->lock);
        sc->stats.passes_done++;
        sc->stats.last_pass_end_s = cn_wall_s();
        uint64_t done = sc->stats.pass_fragments_done;
        pthread_mutex_unlock(&sc->lock);
        CN_DEBUG(MOD, "pass done: %llu fragment(s) in %.1f s", (unsigned long long)done,
                 (double)(cn_mono_us() - start) / 1e6);
    }
    return NULL;
}

int cs_scrub_start(cs_store *store, cs_damage *damage, const cs_scrub_opts *opts, cs_scrub **out)
{
    if (opts->rate_bytes_per_s == 0 || opts->interval_ms < 0)
        return CAIRN_E_INVAL;
    cs_scrub *sc = calloc(1, sizeof(*sc));
    if (sc == NULL)
        return CAIRN_E_NOMEM;
    sc->scratch = malloc(EC_CRC_BLOCK);
    if (sc->scratch == NULL) {
        free(sc);
        return CAIRN_E_NOMEM;
    }
    sc->store = store;
    sc->damage = damage;
    sc->opts = *opts;
    pthread_mutex_init(&sc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sc->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sc->thread, NULL, scrub_main, sc) != 0) {
        pthread_cond_destroy(&sc->wake);
        pthread_mutex_destroy(&sc->lock);
        free(sc->scratch);
        free(sc);
        return CAIRN_E_NOMEM;
    }
    *out = sc;
    return 0;
}

void cs_scrub_now(cs_scrub *sc)
{
    pthread_mutex_lock(&sc->lock);
    sc->now_requested = true;
    pthread_cond_broadcast(&sc->wake);
    pthread_mutex_unlock(&sc->lock);
}

void cs_scrub_stop(cs_scrub *sc)
{
    if (sc == NULL)
        return;
    pthread_mutex_lock(&sc->lock);
    sc->stopping = true;
    pthread_cond_broadcast(&sc->wake);
    pthread_mutex_unlock(&sc->lock);
    pthread_join(sc->thread, NULL);
    pthread_cond_destroy(&sc->wake);
    pthread_mutex_destroy(&sc->lock);
    free(sc->scratch);
    free(sc);
}

void cs_scrub_stats_get(cs_scrub *sc, cs_scrub_stats *out)
{
    pthread_mutex_lock(&sc->lock);
    *out = sc->stats;
    pthread_mutex_unlock(&sc->lock);
}
