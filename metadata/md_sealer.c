/* The leader's worker finishing packed groups (md_sealer.h). */
#include "md_sealer.h"

#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_cmd.h"
#include "md_txn.h"
#include "meta.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG "sealer"

/* An open group as this worker last saw it: its committed length, and since
 * when (this worker's clock) it has had it. */
struct seen {
    uint8_t id[16];
    uint64_t length;
    int64_t since;
    int marked;
};

struct md_sealer {
    struct md_sealer_opts o;
    struct seen *seen; /* open groups, sealer thread only */
    size_t n_seen, cap_seen;
    struct cn_http_client *http; /* NULL with o.seal_fragment */
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    uint64_t client_id, seq;
    atomic_uint_fast64_t idle_sealed, groups_finished, fragments_sealed, fragments_skipped,
        seal_failures, passes;
};

void md_sealer_opts_default(struct md_sealer_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->idle_ms = 60000;
    o->scan_ms = 5000;
    o->max_per_pass = 64;
    o->request_timeout_ms = 30000;
}

static int stopping(struct md_sealer *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* ---- what a pass acts on ---------------------------------------------------- */

/* How long this worker has seen open group g at its current length (0 the
 * first time, or when it grew); marks it as still open. */
static int64_t unchanged_for(struct md_sealer *w, const Md__ChunkGroup *g, int64_t now)
{
    struct seen *e = NULL;
    for (size_t i = 0; i < w->n_seen && !e; i++)
        if (memcmp(w->seen[i].id, g->id.data, 16) == 0)
            e = &w->seen[i];
    if (!e) {
        if (w->n_seen == w->cap_seen) {
            size_t cap = w->cap_seen ? 2 * w->cap_seen : 16;
            struct seen *n = realloc(w->seen, cap * sizeof(*n));
            if (!n)
                return 0; /* not this pass */
            w->seen = n;
            w->cap_seen = cap;
        }
        e = &w->seen[w->n_seen++];
        memcpy(e->id, g->id.data, 16);
        e->length = g->data_length;
        e->since = now;
    } else if (e->length != g->data_length) {
        e->length = g->data_length;
        e->since = now;
    }
    e->marked = 1;
    return now - e->since;
}

/* 1 if a fragment of g lies on a chunkserver being drained (or already
 * retired) or not heartbeating: its open group must be sealed, or repair --
 * which leaves open groups alone -- could not move or rebuild that fragment
 * while a writer keeps appending (or until the writer's idle seal). The
 * writer's next commit is then refused and it opens a new group, placed off
 * that chunkserver. */
static int on_leaving(struct md_sealer *w, const Md__ChunkGroup *g)
{
    for (size_t f = 0; f < g->n_fragment_cs; f++) {
        if (!w->o.cs_alive(w->o.ctx, g->fragment_cs[f]))
            return 1;
        struct md_key k;
        md_key_start(&k, MD_K_CS);
        md_key_be64(&k, g->fragment_cs[f]);
        void *v;
        size_t vl;
        if (md_store_get(w->o.store, k.b, k.n, &v, &vl) != 0)
            continue;
        Md__ChunkserverRecord *r = md__chunkserver_record__unpack(NULL, vl, v);
        free(v);
        int leaving = r && (r->state == MD__CHUNKSERVER_STATE__CS_DRAINING ||
                            r->state == MD__CHUNKSERVER_STATE__CS_RETIRED);
        if (r)
            md__chunkserver_record__free_unpacked(r, NULL);
        if (leaving)
            return 1;
    }
    return 0;
}

/* 1 if pg needs this worker at now: sealed with fragments not confirmed,
 * open with a fragment on a chunkserver being drained or down, or open and idle -- its last commit
 * older than idle_ms by its writer's clock (appended_ms) AND its length unchanged for idle_ms by
 * this worker's, so a writer whose clock lags is not taken for gone (a new leader therefore waits
 * idle_ms before its first idle seal). */
static int wanted(struct md_sealer *w, const Md__PackedGroup *pg, int64_t now)
{
    if (!pg->group || pg->group->id.len != 16 || pg->group->k == 0)
        return 0;
    if (pg->state == MD__PACKED_STATE__PACKED_SEALED)
        return !pg->fragments_sealed;
    int64_t last = pg->appended_ms > pg->opened_ms ? pg->appended_ms : pg->opened_ms;
    int64_t still = unchanged_for(w, pg->group, now);
    return (now - last >= w->o.idle_ms && still >= w->o.idle_ms) || on_leaving(w, pg->group);
}

/* The packed groups needing work, at most max, into *out (free each with
 * md__packed_group__free_unpacked and the array with free()). */
static int collect(struct md_sealer *w, int64_t now, Md__PackedGroup ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct md_key pre;
    md_key_start(&pre, MD_K_PACKED);
    struct md_iter *it;
    int rc = md_store_iter_new(w->o.store, &it);
    if (rc)
        return rc;
    Md__PackedGroup **v = NULL;
    size_t cnt = 0;
    for (size_t i = 0; i < w->n_seen; i++)
        w->seen[i].marked = 0;
    /* every record: the open ones' lengths are followed on each pass */
    for (md_iter_seek(it, pre.b, pre.n); md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = md_iter_key(it, &kl);
        if (kl < pre.n || memcmp(k, pre.b, pre.n) != 0)
            break;
        const void *val = md_iter_value(it, &vl);
        Md__PackedGroup *pg = md__packed_group__unpack(NULL, vl, val);
        if (!pg) {
            CN_WARN(LOG, "undecodable packed group record skipped");
            continue;
        }
        if (!wanted(w, pg, now) || cnt == w->o.max_per_pass) {
            md__packed_group__free_unpacked(pg, NULL);
            continue;
        }
        Md__PackedGroup **nv = realloc(v, (cnt + 1) * sizeof(*nv));
        if (!nv) {
            md__packed_group__free_unpacked(pg, NULL);
            rc = CAIRN_E_NOMEM;
            break;
        }
        v = nv;
        v[cnt++] = pg;
    }
    if (!rc)
        rc = md_iter_status(it);
    md_iter_free(it);
    if (!rc) { /* forget the groups no longer open */
        size_t keep = 0;
        for (size_t i = 0; i < w->n_seen; i++)
            if (w->seen[i].marked)
                w->seen[keep++] = w->seen[i];
        w->n_seen = keep;
    }
    *out = v;
    *n = cnt;
    return rc;
}

/* ---- talking to chunkservers ------------------------------------------------ */

/* POST /v1/fragment/G/I?seal=LEN to the chunkserver at address. */
static int http_seal(struct md_sealer *w, const char *address, const uint8_t gid[16],
                     uint32_t index, uint64_t frag_len)
{
    char target[CN_WIRE_FRAGMENT_TARGET_MAX + 40];
    int rc = cn_wire_fragment_target(target, CN_WIRE_FRAGMENT_TARGET_MAX, gid, index);
    if (rc)
        return rc;
    size_t tl = strlen(target);
    snprintf(target + tl, sizeof(target) - tl, "?%s=%" PRIu64, CN_ARG_CS_SEAL, frag_len);
    char url[300];
    snprintf(url, sizeof(url), "http://%s", address);
    struct cn_http_request req = {.method = "POST",
                                  .base_url = url,
                                  .target = target,
                                  .resp_max = 64 * 1024,
                                  .timeout_ms = w->o.request_timeout_ms};
    struct cn_http_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = cn_http_client_do(w->http, &req, &resp);
    if (rc == 0) {
        if (resp.status == 200 || resp.status == 201)
            rc = 0;
        else if (resp.status == 404)
            rc = CAIRN_E_NOTFOUND;
        else if (resp.status == 400 || resp.status == 409 ||
                 (resp.status == 500 && cn_http_response_header(&resp, CN_HDR_ERROR) &&
                  !strcmp(cn_http_response_header(&resp, CN_HDR_ERROR), "corrupt")))
            rc = CAIRN_E_CORRUPT; /* past its length, another length, a bad unit */
        else
            rc = resp.status == 503 ? CAIRN_E_BUSY : CAIRN_E_IO;
    }
    cn_http_response_clear(&resp);
    return rc;
}

int md_cs_usable(struct md_store *store, uint64_t id, int (*alive)(void *ctx, uint64_t id),
                 void *ctx, char *addr, size_t cap)
{
    if (!id)
        return 0;
    struct md_key k;
    md_key_start(&k, MD_K_CS);
    md_key_be64(&k, id);
    void *v;
    size_t vl;
    if (md_store_get(store, k.b, k.n, &v, &vl) != 0)
        return 0;
    Md__ChunkserverRecord *r = md__chunkserver_record__unpack(NULL, vl, v);
    free(v);
    if (!r)
        return 0;
    int ok = r->state != MD__CHUNKSERVER_STATE__CS_RETIRED && r->address && r->address[0] &&
             alive(ctx, id);
    if (ok)
        snprintf(addr, cap, "%s", r->address);
    md__chunkserver_record__free_unpacked(r, NULL);
    return ok;
}

/* Seals every fragment of pg that can be. 0 when each is sealed or left to
 * repair, else the transient error of the first that failed. */
static int seal_fragments(struct md_sealer *w, const Md__PackedGroup *pg, const char *hex)
{
    const Md__ChunkGroup *g = pg->group;
    uint64_t frag_len = g->data_length / g->k;
    int result = 0;
    for (size_t f = 0; f < g->n_fragment_cs && !stopping(w); f++) {
        uint64_t cs = g->fragment_cs[f];
        char addr[256];
        if (!md_cs_usable(w->o.store, cs, w->o.cs_alive, w->o.ctx, addr, sizeof(addr))) {
            atomic_fetch_add(&w->fragments_skipped, 1);
            CN_DEBUG(LOG,
                     "%s/%zu: chunkserver %016" PRIx64 " down, retired or unknown: left to "
                     "repair",
                     hex, f, cs);
            continue;
        }
        int rc = w->o.seal_fragment
                     ? w->o.seal_fragment(w->o.ctx, addr, g->id.data, (uint32_t)f, frag_len)
                     : http_seal(w, addr, g->id.data, (uint32_t)f, frag_len);
        if (rc == 0) {
            atomic_fetch_add(&w->fragments_sealed, 1);
            continue;
        }
        atomic_fetch_add(&w->seal_failures, 1);
        if (rc == CAIRN_E_NOTFOUND || rc == CAIRN_E_CORRUPT) {
            /* no such fragment, or one that cannot be sealed at this length:
             * repair rebuilds it (a missing one is also found by the
             * chunkserver's inventory check) */
            CN_WARN(LOG, "%s/%zu on %s: %s; left to repair", hex, f, addr, cairn_strerror(rc));
            if (w->o.report_damage)
                w->o.report_damage(w->o.ctx, g->id.data, (uint32_t)f, cs);
            continue;
        }
        CN_INFO(LOG, "%s/%zu on %s: seal failed (%s), next pass", hex, f, addr, cairn_strerror(rc));
        if (!result)
            result = rc;
    }
    return stopping(w) && !result ? CAIRN_E_SHUTDOWN : result;
}

static int commit_seal(struct md_sealer *w, const Md__PackedGroup *pg, int fragments_sealed)
{
    uint8_t *cmd;
    size_t len;
    uint64_t seq = ++w->seq;
    int rc = md_cmd_seal_group(w->client_id, seq, pg->group->id.data, pg->group->data_length,
                               fragments_sealed, w->o.now_ms(w->o.ctx), &cmd, &len);
    if (rc)
        return rc;
    rc = w->o.commit(w->o.ctx, w->client_id, seq, cmd, len);
    free(cmd);
    return rc;
}

/* Acts on one group; CAIRN_E_NOTLEADER and the like stop the pass. */
static int act(struct md_sealer *w, Md__PackedGroup *pg)
{
    char hex[33];
    cn_hex_encode(pg->group->id.data, 16, hex);
    int rc;
    if (pg->state == MD__PACKED_STATE__PACKED_OPEN) {
        rc = commit_seal(w, pg, 0);
        if (rc == CAIRN_E_CONFLICT || rc == CAIRN_E_NOTFOUND) {
            CN_DEBUG(LOG, "%s: changed since the scan (%s)", hex, cairn_strerror(rc));
            return 0; /* its writer came back, or it went */
        }
        if (rc)
            return rc;
        atomic_fetch_add(&w->idle_sealed, 1);
        CN_INFO(LOG,
                "%s: sealed at %" PRIu64 " bytes, last appended %" PRId64 " ms ago (writer %s)",
                hex, pg->group->data_length,
                w->o.now_ms(w->o.ctx) -
                    (pg->appended_ms > pg->opened_ms ? pg->appended_ms : pg->opened_ms),
                pg->writer ? pg->writer : "");
        if (pg->live_extents == 0)
            return 0; /* sealed with nothing live: it went to garbage */
        pg->state = MD__PACKED_STATE__PACKED_SEALED;
    }
    if ((rc = seal_fragments(w, pg, hex)))
        return rc == CAIRN_E_SHUTDOWN ? rc : 0; /* transient: next pass */
    rc = commit_seal(w, pg, 1);
    if (rc == CAIRN_E_NOTFOUND) /* garbage now (sealed with nothing live) */
        return 0;
    if (rc == CAIRN_E_CONFLICT)
        return 0;
    if (rc)
        return rc;
    atomic_fetch_add(&w->groups_finished, 1);
    CN_INFO(LOG, "%s: fragments sealed at %" PRIu64 " bytes each", hex,
            pg->group->data_length / pg->group->k);
    return 0;
}

int md_sealer_pass(struct md_sealer *w)
{
    Md__PackedGroup **v;
    size_t n;
    atomic_fetch_add(&w->passes, 1);
    int rc = collect(w, w->o.now_ms(w->o.ctx), &v, &n);
    if (rc)
        CN_WARN(LOG, "scan failed: %s", cairn_strerror(rc));
    for (size_t i = 0; i < n && !rc; i++) {
        if (stopping(w) || !w->o.is_leader(w->o.ctx)) {
            rc = CAIRN_E_NOTLEADER;
            break;
        }
        rc = act(w, v[i]);
        if (rc && rc != CAIRN_E_SHUTDOWN)
            CN_INFO(LOG, "pass stopped: %s", cairn_strerror(rc));
    }
    for (size_t i = 0; i < n; i++)
        md__packed_group__free_unpacked(v[i], NULL);
    free(v);
    return rc;
}

/* ---- thread ----------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct md_sealer *w = arg;
    for (;;) {
        if (w->o.is_leader(w->o.ctx))
            md_sealer_pass(w);
        if (cn_wait_unless_stopped(&w->mu, &w->cv, &w->stop, w->o.scan_ms))
            break;
    }
    return NULL;
}

int md_sealer_new(const struct md_sealer_opts *o, struct md_sealer **out)
{
    if (!o->store || !o->is_leader || !o->commit || !o->now_ms || !o->cs_alive || o->idle_ms < 0 ||
        o->scan_ms <= 0)
        return CAIRN_E_INVAL;
    struct md_sealer *w = calloc(1, sizeof(*w));
    if (!w)
        return CAIRN_E_NOMEM;
    w->o = *o;
    if (!w->o.max_per_pass)
        w->o.max_per_pass = 64;
    int rc = cn_random_bytes(&w->client_id, sizeof(w->client_id));
    if (rc)
        goto err_after_alloc;
    w->client_id |= 1; /* never 0 */
    if (!w->o.seal_fragment) {
        struct cn_http_client_opts co = {.auth = o->auth,
                                         .connect_timeout_ms = 2000,
                                         .timeout_ms = o->request_timeout_ms,
                                         .stall_timeout_ms = o->request_timeout_ms};
        if ((rc = cn_http_client_new(&co, &w->http)))
            goto err_after_alloc;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    return 0;
err_after_alloc:
    free(w);
    return rc;
}

int md_sealer_start(struct md_sealer *w)
{
    if (w->started)
        return CAIRN_E_INVAL;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return CAIRN_E_IO;
    w->started = 1;
    return 0;
}

void md_sealer_free(struct md_sealer *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    cn_http_client_free(w->http);
    free(w->seen);
    free(w);
}

void md_sealer_get_stats(struct md_sealer *w, struct md_sealer_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    st->idle_sealed = atomic_load(&w->idle_sealed);
    st->groups_finished = atomic_load(&w->groups_finished);
    st->fragments_sealed = atomic_load(&w->fragments_sealed);
    st->fragments_skipped = atomic_load(&w->fragments_skipped);
    st->seal_failures = atomic_load(&w->seal_failures);
    st->passes = atomic_load(&w->passes);
}
