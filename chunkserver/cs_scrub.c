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
#include "md_client.h"
#include "md_cmd.h"

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
    struct md_client *meta; /* scrubber thread only; NULL = no inventory check */
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
    const cs_io *io = cs_store_io(sc->store);
    char path[4096], tmp[4200], text[160];
    snprintf(path, sizeof(path), "%s/%s", cs_store_dir(sc->store), STATE_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int len = snprintf(text, sizeof(text), "pass_start %lld\n", (long long)sc->pass_start_wall_s);
    if (done) {
        len += snprintf(text + len, sizeof(text) - (size_t)len, "done\n");
    } else if (sc->has_cursor) {
        char hex[CS_GROUP_HEX_LEN + 1];
        cs_group_format(sc->cursor_group, hex);
        len += snprintf(text + len, sizeof(text) - (size_t)len, "cursor %s %u\n", hex,
                        sc->cursor_index);
    }
    int fd;
    if (io->open(io, tmp, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd) != 0)
        return;
    int rc = cs_io_write_all(io, fd, text, (size_t)len, 0);
    if (io->close(io, fd) != 0 && rc == 0)
        rc = CAIRN_E_IO;
    if (rc == 0)
        io->rename(io, tmp, path);
    else
        io->unlink(io, tmp);
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
    if (cs_io_read_file(cs_store_io(sc->store), path, 4096, &text, &len) != 0)
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
        struct timespec ts = cn_deadline_us(CLOCK_MONOTONIC, left);
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
        struct timespec ts = cn_deadline_us(CLOCK_MONOTONIC, left);
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

/* ---- inventory check ---- */

/* Fragments listed per metadata read, and stale "missing" entries re-checked
 * per pass. */
#define INVENTORY_PAGE     1000
#define INVENTORY_SWEEP    1024
#define FOUND_BY_INVENTORY "inventory"

static bool stopping(cs_scrub *sc)
{
    pthread_mutex_lock(&sc->lock);
    bool stop = sc->stopping;
    pthread_mutex_unlock(&sc->lock);
    return stop;
}

/* 1 if a file for the fragment is here, 0 if not, < 0 if that is unknown. */
static int present(cs_scrub *sc, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    int64_t mtime;
    int rc = cs_store_fragment_mtime(sc->store, group, index, &mtime);
    return rc == 0 ? 1 : rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/* 1 if the committed state places fragment (group, index) on this
 * chunkserver now (a linearizable read on the leader), 0 if not (or the
 * group is gone), < 0 if the leader could not be asked. */
static int placed_here(cs_scrub *sc, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    Md__QueryResult *r = NULL;
    int rc = md_client_get_group(sc->meta, group, &r);
    if (rc != 0)
        return rc;
    int verdict;
    if (r->status == CAIRN_E_NOTFOUND) {
        verdict = 0;
    } else if (r->status != 0 || r->group == NULL || r->group->group == NULL) {
        verdict = r->status ? r->status : CAIRN_E_PROTO;
    } else {
        const Md__ChunkGroup *g = r->group->group;
        verdict = index < g->n_fragment_cs && g->fragment_cs[index] == sc->opts.node_id;
    }
    md__query_result__free_unpacked(r, NULL);
    return verdict;
}

/* A listed fragment: 1 if confirmed missing (and recorded), 0 if not, < 0
 * if the leader could not be asked. Absent, still placed here by a later
 * read, and still absent after that read: so a fragment moved away or
 * deleted as garbage after the listing is not reported, and one rebuilt in
 * place meanwhile is seen. */
static int check_listed(cs_scrub *sc, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    if (present(sc, group, index) != 0)
        return 0;
    int placed = placed_here(sc, group, index);
    if (placed != 1)
        return placed;
    if (present(sc, group, index) != 0)
        return 0;
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(group, hex);
    CN_WARN(MOD, "fragment %s.%u is missing (the metadata places it here)", hex, index);
    cs_damage_add(sc->damage, group, index, CS_DAMAGE_MISSING, FOUND_BY_INVENTORY);
    return 1;
}

/* Forgets "missing" entries that are no longer true: the fragment is here
 * again (rebuilt or re-put) or no longer placed here (moved, deleted). */
static void sweep_missing(cs_scrub *sc)
{
    uint8_t(*groups)[CS_GROUP_ID_LEN] = malloc(INVENTORY_SWEEP * sizeof(*groups));
    uint32_t *indices = malloc(INVENTORY_SWEEP * sizeof(*indices));
    size_t n = groups && indices ? cs_damage_list(sc->damage, FOUND_BY_INVENTORY, groups, indices,
                                                  INVENTORY_SWEEP)
                                 : 0;
    for (size_t i = 0; i < n && !stopping(sc); i++)
        if (present(sc, groups[i], indices[i]) == 1 || placed_here(sc, groups[i], indices[i]) == 0)
            cs_damage_clear(sc->damage, groups[i], indices[i]);
    free(groups);
    free(indices);
}

/* Checks every fragment the metadata places here. Returns 0 when the whole
 * listing was checked, 1 when stopping, < 0 when the leader could not be
 * asked (counted; what was found so far stays recorded). */
static int inventory_check(cs_scrub *sc)
{
    uint8_t after[CS_GROUP_ID_LEN];
    uint32_t after_index = 0;
    bool have_after = false;
    uint64_t missing = 0;
    int rc = 0;
    for (;;) {
        if (stopping(sc))
            return 1;
        uint8_t *q = NULL, *res = NULL;
        size_t qlen, rlen;
        rc = md_q_fragments_on(sc->opts.node_id, have_after ? after : NULL, after_index,
                               INVENTORY_PAGE, &q, &qlen);
        if (rc == 0)
            rc = md_client_read(sc->meta, q, qlen, &res, &rlen);
        free(q);
        if (rc != 0)
            break;
        Md__QueryResult *r = md_query_result_decode(res, rlen);
        free(res);
        if (r == NULL || r->status != 0) {
            rc = r ? r->status : CAIRN_E_PROTO;
            if (r)
                md__query_result__free_unpacked(r, NULL);
            break;
        }
        uint64_t checked = 0, found = 0;
        for (size_t i = 0; i < r->n_fragments && rc == 0; i++) {
            const Md__FragmentRef *f = r->fragments[i];
            if (f->group_id.len != CS_GROUP_ID_LEN)
                continue;
            int v = check_listed(sc, f->group_id.data, f->index);
            if (v < 0)
                rc = v;
            checked++;
            found += v == 1;
        }
        bool more = r->truncated && r->n_fragments > 0;
        if (more) {
            const Md__FragmentRef *last = r->fragments[r->n_fragments - 1];
            if (last->group_id.len == CS_GROUP_ID_LEN)
                memcpy(after, last->group_id.data, CS_GROUP_ID_LEN);
            after_index = last->index;
            have_after = true;
        }
        md__query_result__free_unpacked(r, NULL);
        pthread_mutex_lock(&sc->lock);
        sc->stats.inventory_checked += checked;
        sc->stats.missing_fragments += found;
        pthread_mutex_unlock(&sc->lock);
        missing += found;
        if (rc != 0 || !more)
            break;
    }
    if (rc == 0) {
        sweep_missing(sc);
        if (missing > 0)
            CN_WARN(MOD, "inventory check: %llu fragment(s) placed here are missing",
                    (unsigned long long)missing);
        return 0;
    }
    CN_WARN(MOD, "inventory check cut short: %s (retried next pass)", cairn_strerror(rc));
    pthread_mutex_lock(&sc->lock);
    sc->stats.inventory_failed++;
    pthread_mutex_unlock(&sc->lock);
    return rc;
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
        sc->stats.running = true;
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
        if (sc->meta != NULL && inventory_check(sc) == 1) {
            state_save(sc, false); /* stopping: the check runs again on resume */
            break;
        }
        state_save(sc, true);
        in_pass = false;
        pthread_mutex_lock(&sc->lock);
        sc->stats.running = false;
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
    if (opts->rate_bytes_per_s == 0 || opts->interval_ms < 0 ||
        (opts->n_meta > 0 && (opts->meta_urls == NULL || opts->node_id == 0)))
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
    sc->opts.meta_urls = NULL; /* the client keeps its own copy */
    if (opts->n_meta > 0) {
        struct md_client_opts mo = {.replicas = opts->meta_urls,
                                    .n_replicas = opts->n_meta,
                                    .view = opts->meta_view,
                                    .auth = opts->auth,
                                    .timeout_ms = 5000,
                                    .attempt_timeout_ms = 2000};
        int rc = md_client_new(&mo, &sc->meta);
        if (rc != 0) {
            free(sc->scratch);
            free(sc);
            return rc;
        }
    }
    pthread_mutex_init(&sc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sc->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sc->thread, NULL, scrub_main, sc) != 0) {
        pthread_cond_destroy(&sc->wake);
        pthread_mutex_destroy(&sc->lock);
        md_client_free(sc->meta);
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
    md_client_free(sc->meta);
    free(sc->scratch);
    free(sc);
}

void cs_scrub_stats_get(cs_scrub *sc, cs_scrub_stats *out)
{
    pthread_mutex_lock(&sc->lock);
    *out = sc->stats;
    pthread_mutex_unlock(&sc->lock);
}
