#include "gw_status.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "cn_http_client.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "gw_auth.h"
#include "gw_data.h"
#include "gw_keycache.h"
#include "gw_req.h"
#include "gw_sigv4.h"
#include "md_client.h"
#include "md_cmd.h"
#include "meta.pb-c.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG             "status"
#define MAX_REPLICAS    16
#define MAX_HEADERS     128
#define SAMPLES         128
#define SAMPLE_EVERY_MS 1000
#define RATE_WINDOW_MS  300000 /* the rate is measured over at most this */
#define RATE_MIN_MS     2000   /* and at least this */
#define SAMPLE_KEEP_MS  600000
#define CLUSTER_MAX     (8u << 20)

struct sample {
    int64_t t_ms;
    uint32_t leader;
    uint64_t done, bytes;
};

struct gw_status {
    char *urls[MAX_REPLICAS];
    size_t n_urls;
    const struct cn_auth *auth;
    struct gw_ctx *data;
    char *root_ak, *root_sk;
    char *region;
    int64_t max_skew_s;
    unsigned refresh_s;
    struct gw_keycache *keys;

    pthread_mutex_t mu; /* guards the sample ring */
    struct sample ring[SAMPLES];
    size_t n_samples; /* oldest first */
};

/* ---- authorization ------------------------------------------------------ */

enum key_kind { KEY_UNKNOWN, KEY_USER, KEY_ADMIN };

/* Resolves access key ak: its secret into secret[cap], whether it is an
 * admin key (the root key, or a stored key with the admin flag) and *who
 * (perhaps unconfirmed: confirm_key before trusting it). Returns 0 (*kind
 * set; KEY_UNKNOWN when no such key), or the metadata service's error. */
static int key_secret(struct gw_status *st, const char *ak, char *secret, size_t cap,
                      enum key_kind *kind, struct gw_auth_identity *who)
{
    int rc = st->keys
                 ? gw_keycache_lookup(st->keys, ak, secret, cap, who)
                 : gw_auth_key_lookup(st->data, st->root_ak, st->root_sk, ak, secret, cap, who);
    *kind = rc != 0 ? KEY_UNKNOWN : who->admin ? KEY_ADMIN : KEY_USER;
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/* Once the credentials hold: a key answered from the gateway's mirror is
 * read once to see that it is still enabled (gw_keycache.h). Same returns
 * as key_secret. */
static int confirm_key(struct gw_status *st, const char *ak, const char *secret,
                       enum key_kind *kind, struct gw_auth_identity *who)
{
    if (!who->unconfirmed)
        return 0;
    int rc = gw_keycache_confirm(st->keys, ak, secret, who);
    *kind = rc != 0 ? KEY_UNKNOWN : who->admin ? KEY_ADMIN : KEY_USER;
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

/* A SigV4 check's key: the request's lookup keeps what confirm_key needs. */
struct sig_lookup {
    struct gw_status *st;
    struct gw_auth_identity who;
    char secret[GW_SIGV4_MAX_SECRET + 1];
};

/* SigV4 lookup: only admin keys resolve; any other key is unknown here. */
static int admin_lookup(void *ctx, const char *ak, char *secret, size_t cap)
{
    struct sig_lookup *sl = ctx;
    enum key_kind kind;
    int rc = key_secret(sl->st, ak, secret, cap, &kind, &sl->who);
    if (rc == 0 && kind != KEY_ADMIN) {
        OPENSSL_cleanse(secret, cap);
        return CAIRN_E_NOTFOUND;
    }
    if (rc == 0)
        snprintf(sl->secret, sizeof(sl->secret), "%s", secret);
    return rc;
}

/* Constant-time equality of two NUL-terminated secrets. */
static int secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* Decodes "Basic BASE64(ak:sk)" into ak / sk. Returns 0 or CAIRN_E_INVAL. */
static int parse_basic(const char *value, char *ak, size_t ak_cap, char *sk, size_t sk_cap)
{
    while (*value == ' ')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0 || n % 4 != 0 || n > 1024)
        return CAIRN_E_INVAL;
    unsigned char out[800];
    int len = EVP_DecodeBlock(out, (const unsigned char *)value, (int)n);
    if (len < 0)
        return CAIRN_E_INVAL;
    int pad = (value[n - 1] == '=') + (n > 1 && value[n - 2] == '=');
    len -= pad;
    if (len < 0)
        return CAIRN_E_INVAL;
    out[len] = '\0';
    if (memchr(out, '\0', (size_t)len))
        return CAIRN_E_INVAL;
    char *colon = strchr((char *)out, ':');
    int rc = CAIRN_E_INVAL;
    if (colon) {
        *colon = '\0';
        const char *user = (const char *)out, *pass = colon + 1;
        if (*user && (size_t)snprintf(ak, ak_cap, "%s", user) < ak_cap &&
            (size_t)snprintf(sk, sk_cap, "%s", pass) < sk_cap)
            rc = 0;
    }
    OPENSSL_cleanse(out, sizeof(out));
    return rc;
}

static int respond_text(struct cn_http_req *req, unsigned status, const char *msg)
{
    cn_http_resp_header(req, "Cache-Control", "no-store");
    return cn_http_respond(req, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Why a request is refused: the HTTP status, whether to send the Basic
 * challenge, and a one-line text body. */
struct denial {
    unsigned status;
    int challenge;
    const char *msg;
    char buf[160];
};

static int deny(struct denial *d, unsigned status, int challenge, const char *msg)
{
    d->status = status;
    d->challenge = challenge;
    d->msg = msg;
    return 0;
}

/* Returns 1 when req carries admin credentials; otherwise 0 with *d saying
 * how to refuse it (401, 403, 503, ...). */
static int authorize(struct gw_status *st, struct cn_http_req *req, struct denial *d)
{
    const char *authz = cn_http_req_header(req, "Authorization");
    char peer[64];
    cn_http_req_peer(req, peer, sizeof(peer));
    if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
        char ak[GW_SIGV4_MAX_ACCESS_KEY + 1], sk[GW_SIGV4_MAX_SECRET + 1];
        char want[GW_SIGV4_MAX_SECRET + 1];
        if (parse_basic(authz + 6, ak, sizeof(ak), sk, sizeof(sk)) != 0)
            return deny(d, 401, 1, "malformed Basic credentials\n");
        enum key_kind kind = KEY_UNKNOWN;
        struct gw_auth_identity who;
        int rc = key_secret(st, ak, want, sizeof(want), &kind, &who);
        int match = rc == 0 && kind != KEY_UNKNOWN && secret_eq(sk, want);
        if (match) {
            rc = confirm_key(st, ak, want, &kind, &who);
            match = rc == 0 && kind != KEY_UNKNOWN;
        }
        OPENSSL_cleanse(sk, sizeof(sk));
        OPENSSL_cleanse(want, sizeof(want));
        if (rc != 0) {
            CN_WARN(LOG, "status page: key lookup for %s failed: %s", peer, cairn_strerror(rc));
            return deny(d, 503, 0, "cannot check the credentials now\n");
        }
        if (!match) {
            CN_INFO(LOG, "status page: wrong Basic credentials from %s", peer);
            return deny(d, 401, 1, "wrong access key or secret\n");
        }
        if (kind != KEY_ADMIN) {
            CN_INFO(LOG, "status page: key %s from %s is not an admin key", ak, peer);
            return deny(d, 403, 0, "this access key is not an admin key\n");
        }
        return 1;
    }

    struct gw_header h[MAX_HEADERS];
    struct gw_header_list hl = {.h = h, .cap = MAX_HEADERS};
    cn_http_req_headers_foreach(req, gw_header_collect, &hl);
    if (hl.overflow)
        return deny(d, 400, 0, "too many headers\n");
    struct gw_sigv4_request sr;
    if (gw_auth_request(req, hl.h, hl.n, &sr) != 0)
        return deny(d, 500, 0, "out of memory\n");
    if (gw_sigv4_kind_of(&sr) == GW_SIGV4_ANONYMOUS) {
        gw_auth_request_free(&sr);
        return deny(d, 401, 1,
                    "authentication required: the gateway's admin access key (HTTP Basic or "
                    "SigV4)\n");
    }
    struct gw_sigv4_result res;
    enum gw_s3err e = GW_S3_OK;
    struct sig_lookup sl = {.st = st};
    int rc = gw_auth_verify(&sr, st->region, st->max_skew_s, admin_lookup, &sl, &res, &e);
    gw_auth_request_free(&sr);
    if (rc == 0) {
        enum key_kind kind;
        rc = confirm_key(st, res.access_key, sl.secret, &kind, &sl.who);
        if (rc == 0 && kind != KEY_ADMIN) {
            rc = CAIRN_E_AUTH;
            e = GW_S3_INVALID_ACCESS_KEY_ID;
        } else if (rc != 0) {
            e = GW_S3_SERVICE_UNAVAILABLE;
        }
        gw_sigv4_result_wipe(&res);
    }
    OPENSSL_cleanse(sl.secret, sizeof(sl.secret));
    if (rc == 0)
        return 1;
    CN_INFO(LOG, "status page: SigV4 from %s refused: %s", peer, gw_s3err_code(e));
    if (gw_s3err_status(e) == 503)
        return deny(d, 503, 0, "cannot check the credentials now\n");
    snprintf(d->buf, sizeof(d->buf), "forbidden: %s (an admin access key is required)\n",
             gw_s3err_code(e));
    return deny(d, 403, 0, d->buf);
}

/* ---- gathering the facts ------------------------------------------------- */

struct replica_view {
    int reachable;
    char error[64];
    char id[16], role[16], leader[16], leader_url[160], commit[24], applied[24];
};

struct cs_view {
    char id[20], addr[130], state[16], live[16], host[64], rack[64], zone[64];
    long long age_ms;
    unsigned long long free_b, cap;
};

struct view {
    struct replica_view rep[MAX_REPLICAS];
    uint32_t leader_id;
    char leader_url[160];
    int have_cluster;
    char cluster_error[96];
    struct cs_view *cs;
    size_t n_cs, cap_cs;
    int have_repair;
    unsigned long long degraded, queued, in_flight, done, failed, bytes, unrec;
    long long suspect_after_ms, down_after_ms, out_after_ms; /* the leader's timers */
    /* measured by the page */
    int rate_known;
    double tasks_per_s, bytes_per_s, rate_window_s;
};

static void parse_cluster(struct view *v, char *body)
{
    char *save = NULL;
    for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct cs_view c;
        memset(&c, 0, sizeof(c));
        if (sscanf(line, "chunkserver %19s %129s %15s %15s %lld %llu %llu %63s %63s %63s", c.id,
                   c.addr, c.state, c.live, &c.age_ms, &c.free_b, &c.cap, c.host, c.rack,
                   c.zone) == 10) {
            if (v->n_cs == v->cap_cs) {
                size_t cap = v->cap_cs ? 2 * v->cap_cs : 16;
                struct cs_view *n = realloc(v->cs, cap * sizeof(*n));
                if (!n)
                    return;
                v->cs = n;
                v->cap_cs = cap;
            }
            v->cs[v->n_cs++] = c;
        } else if (sscanf(line, "repair %llu %llu %llu %llu %llu %llu %llu", &v->degraded,
                          &v->queued, &v->in_flight, &v->done, &v->failed, &v->bytes,
                          &v->unrec) == 7) {
            v->have_repair = 1;
        } else {
            (void)sscanf(line, "timers %lld %lld %lld", &v->suspect_after_ms, &v->down_after_ms,
                         &v->out_after_ms);
        }
    }
}

static void gather(struct gw_status *st, struct view *v)
{
    struct cn_http_client_opts co = {
        .auth = st->auth, .connect_timeout_ms = 1000, .timeout_ms = 2000, .stall_timeout_ms = 2000};
    struct cn_http_fanout *f = NULL;
    if (cn_http_fanout_new(&co, &f) != 0) {
        snprintf(v->cluster_error, sizeof(v->cluster_error), "out of memory");
        for (size_t i = 0; i < st->n_urls; i++)
            snprintf(v->rep[i].error, sizeof(v->rep[i].error), "out of memory");
        return;
    }
    struct cn_http_request reqs[MAX_REPLICAS];
    struct cn_http_response resps[MAX_REPLICAS];
    int errs[MAX_REPLICAS];
    memset(reqs, 0, sizeof(reqs));
    memset(resps, 0, sizeof(resps));
    for (size_t i = 0; i < st->n_urls; i++) {
        reqs[i].method = "GET";
        reqs[i].base_url = st->urls[i];
        reqs[i].target = CN_ROUTE_MD_STATUS;
        reqs[i].resp_max = 64 << 10;
    }
    if (cn_http_fanout_run(f, reqs, st->n_urls, resps, errs) != 0)
        for (size_t i = 0; i < st->n_urls; i++)
            errs[i] = CAIRN_E_INVAL;
    const char *leader_url = NULL;
    for (size_t i = 0; i < st->n_urls; i++) {
        struct replica_view *r = &v->rep[i];
        if (errs[i] == 0 && resps[i].status == 200 && resps[i].body) {
            r->reachable = 1;
            cn_kv_get(resps[i].body, "id", r->id, sizeof(r->id));
            cn_kv_get(resps[i].body, "role", r->role, sizeof(r->role));
            cn_kv_get(resps[i].body, "leader", r->leader, sizeof(r->leader));
            cn_kv_get(resps[i].body, "leader_url", r->leader_url, sizeof(r->leader_url));
            cn_kv_get(resps[i].body, "commit", r->commit, sizeof(r->commit));
            cn_kv_get(resps[i].body, "applied", r->applied, sizeof(r->applied));
            if (strcmp(r->role, "leader") == 0) {
                leader_url = st->urls[i];
                v->leader_id = (uint32_t)strtoul(r->id, NULL, 10);
            }
        } else if (errs[i] != 0) {
            snprintf(r->error, sizeof(r->error), "%s", cairn_strerror(errs[i]));
        } else {
            snprintf(r->error, sizeof(r->error), "HTTP %d", resps[i].status);
        }
        cn_http_response_clear(&resps[i]);
    }
    if (!leader_url) {
        /* No replica says it leads: follow the hint a majority gives. */
        for (size_t i = 0; i < st->n_urls && !leader_url; i++) {
            const struct replica_view *r = &v->rep[i];
            if (!r->reachable || strcmp(r->leader_url, "-") == 0 || strcmp(r->leader, "0") == 0)
                continue;
            size_t votes = 0;
            for (size_t j = 0; j < st->n_urls; j++)
                votes += v->rep[j].reachable && strcmp(v->rep[j].leader, r->leader) == 0;
            if (votes * 2 > st->n_urls) {
                leader_url = r->leader_url;
                v->leader_id = (uint32_t)strtoul(r->leader, NULL, 10);
            }
        }
    }
    if (!leader_url) {
        snprintf(v->cluster_error, sizeof(v->cluster_error), "no metadata leader known");
        cn_http_fanout_free(f);
        return;
    }
    snprintf(v->leader_url, sizeof(v->leader_url), "%s", leader_url);
    struct cn_http_request creq = {.method = "GET",
                                   .base_url = v->leader_url,
                                   .target = CN_ROUTE_MD_CLUSTER,
                                   .resp_max = CLUSTER_MAX,
                                   .timeout_ms = 3000};
    struct cn_http_response cresp = {0};
    int cerr = 0;
    if (cn_http_fanout_run(f, &creq, 1, &cresp, &cerr) != 0)
        cerr = CAIRN_E_INVAL;
    if (cerr == 0 && cresp.status == 200 && cresp.body) {
        v->have_cluster = 1;
        parse_cluster(v, cresp.body);
    } else if (cerr != 0) {
        snprintf(v->cluster_error, sizeof(v->cluster_error), "leader unreachable: %s",
                 cairn_strerror(cerr));
    } else {
        snprintf(v->cluster_error, sizeof(v->cluster_error), "leader answered HTTP %d",
                 cresp.status);
    }
    cn_http_response_clear(&cresp);
    cn_http_fanout_free(f);
}

/* Adds a sample of the leader's cumulative repair counters and measures the
 * rebuild rate against the oldest comparable sample. */
static void sample_rate(struct gw_status *st, struct view *v)
{
    if (!v->have_repair)
        return;
    int64_t now = cn_mono_ms();
    pthread_mutex_lock(&st->mu);
    size_t keep = 0;
    for (size_t i = 0; i < st->n_samples; i++) {
        struct sample s = st->ring[i];
        /* Another leader's counters, or counters that went back: not comparable. */
        if (s.leader == v->leader_id && s.done <= v->done && s.bytes <= v->bytes &&
            now - s.t_ms <= SAMPLE_KEEP_MS)
            st->ring[keep++] = s;
    }
    st->n_samples = keep;
    for (size_t i = 0; i < st->n_samples; i++) {
        int64_t dt = now - st->ring[i].t_ms;
        if (dt > RATE_WINDOW_MS)
            continue;
        if (dt >= RATE_MIN_MS) {
            v->rate_known = 1;
            v->rate_window_s = (double)dt / 1000.0;
            v->tasks_per_s = (double)(v->done - st->ring[i].done) / v->rate_window_s;
            v->bytes_per_s = (double)(v->bytes - st->ring[i].bytes) / v->rate_window_s;
        }
        break;
    }
    if (st->n_samples == 0 || now - st->ring[st->n_samples - 1].t_ms >= SAMPLE_EVERY_MS) {
        if (st->n_samples == SAMPLES) {
            memmove(st->ring, st->ring + 1, (SAMPLES - 1) * sizeof(st->ring[0]));
            st->n_samples--;
        }
        st->ring[st->n_samples++] = (struct sample){
            .t_ms = now, .leader = v->leader_id, .done = v->done, .bytes = v->bytes};
    }
    pthread_mutex_unlock(&st->mu);
}

/* ---- rendering ------------------------------------------------------------ */

/* Writes s escaped for HTML text and attribute values; control characters
 * other than tab, LF and CR are dropped. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
                fputc(c, f);
        }
    }
}

static void human(double bytes, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void duration(double s, char *out, size_t len)
{
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(out, len, "%ld s", t);
    else if (t < 3600)
        snprintf(out, len, "%ld min %ld s", t / 60, t % 60);
    else if (t < 2 * 86400)
        snprintf(out, len, "%ld h %ld min", t / 3600, (t % 3600) / 60);
    else
        snprintf(out, len, "%.1f days", s / 86400);
}

static const char STYLE[] =
    "body{font:14px/1.4 'DejaVu Sans',sans-serif;margin:24px;color:#1d2733;background:#f6f7f9}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    ".sub{color:#5b6674;margin:0 0 16px}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}"
    ".card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:10px 14px;"
    "min-width:170px}.card .k{color:#5b6674;font-size:12px;text-transform:uppercase}"
    ".card .v{font-size:20px;font-weight:bold}.card small{display:block;color:#5b6674}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #d9dee5}"
    "th,td{padding:5px 10px;border-bottom:1px solid #e6e9ee;text-align:left;white-space:nowrap}"
    "th{background:#eef1f5;font-size:12px;text-transform:uppercase;color:#46505c}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;"
    "font-weight:bold;color:#fff;background:#7a8594}"
    ".up,.leader,.ok{background:#2e8540}.down,.bad,.unreachable{background:#c62828}"
    ".out{background:#6a1b9a}.unknown,.suspect,.warn{background:#e08a00}"
    ".follower,.candidate{background:#4a6fa5}"
    ".bar{width:160px;height:12px;background:#e6e9ee;border-radius:3px;overflow:hidden}"
    ".fill{height:100%;background:#2e8540}.fill.hi{background:#e08a00}.fill.full{background:#"
    "c62828}"
    "p.err{color:#c62828;font-weight:bold}";

static const char *badge_class(const char *v)
{
    static const char *const known[] = {"up",      "suspect", "down",     "out",
                                        "unknown", "leader",  "follower", "candidate",
                                        "ok",      "bad",     "warn",     "unreachable"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(v, known[i]) == 0)
            return known[i];
    return "";
}

static void badge(FILE *f, const char *text)
{
    fprintf(f, "<span class=\"badge %s\">", badge_class(text));
    esc(f, text);
    fputs("</span>", f);
}

static void card(FILE *f, const char *id, const char *key, const char *value, const char *small)
{
    fprintf(f, "<div class=\"card\" id=\"%s\"><div class=\"k\">", id);
    esc(f, key);
    fputs("</div><div class=\"v\">", f);
    esc(f, value);
    fputs("</div>", f);
    if (small) {
        fputs("<small>", f);
        esc(f, small);
        fputs("</small>", f);
    }
    fputs("</div>\n", f);
}

static void render(struct gw_status *st, const struct view *v, FILE *f)
{
    char a[96], b[96], c[96];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"refresh\" content=\"%u\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            "<title>Cairn cluster status</title><style>%s</style></head>\n<body>\n"
            "<h1>Cairn cluster status</h1>\n<p class=\"sub\">As this gateway sees it at ",
            st->refresh_s, STYLE);
    esc(f, a);
    fprintf(f, "; refreshes every %u s.</p>\n", st->refresh_s);

    /* ---- summary ---- */
    size_t reachable = 0;
    for (size_t i = 0; i < st->n_urls; i++)
        reachable += v->rep[i].reachable;
    unsigned up = 0, total = 0;
    for (size_t i = 0; i < v->n_cs; i++) {
        if (strcmp(v->cs[i].state, "retired") == 0)
            continue;
        total++;
        up += strcmp(v->cs[i].live, "up") == 0;
    }
    fputs("<div class=\"cards\">\n", f);
    if (v->leader_id) {
        snprintf(b, sizeof(b), "replica %" PRIu32, v->leader_id);
        card(f, "leader", "metadata leader", b, v->leader_url);
    } else {
        card(f, "leader", "metadata leader", "none", "no majority knows a leader");
    }
    snprintf(b, sizeof(b), "%zu of %zu", reachable, st->n_urls);
    card(f, "replicas-up", "replicas reachable", b, NULL);
    if (v->have_cluster) {
        snprintf(b, sizeof(b), "%u of %u", up, total);
        card(f, "chunkservers-up", "chunkservers up", b, NULL);
    }
    if (v->have_repair) {
        snprintf(b, sizeof(b), "%llu", v->degraded);
        snprintf(c, sizeof(c), "%llu queued, %llu unrecoverable", v->queued, v->unrec);
        card(f, "degraded", "degraded groups", b, c);
    }
    fputs("</div>\n", f);

    /* ---- replicas ---- */
    fputs("<h2>Metadata replicas</h2>\n<table id=\"replicas\"><tr><th>replica</th><th>id</th>"
          "<th>role</th><th>leader</th><th>commit</th><th>applied</th></tr>\n",
          f);
    for (size_t i = 0; i < st->n_urls; i++) {
        const struct replica_view *r = &v->rep[i];
        fputs("<tr class=\"replica\" data-url=\"", f);
        esc(f, st->urls[i]);
        fputs("\" data-role=\"", f);
        esc(f, r->reachable ? r->role : "unreachable");
        fputs("\"><td>", f);
        esc(f, st->urls[i]);
        fputs("</td>", f);
        if (!r->reachable) {
            fputs("<td colspan=\"5\">", f);
            badge(f, "unreachable");
            fputs(" ", f);
            esc(f, r->error);
            fputs("</td></tr>\n", f);
            continue;
        }
        fputs("<td class=\"n\">", f);
        esc(f, r->id);
        fputs("</td><td>", f);
        badge(f, r->role);
        fputs("</td><td class=\"n\">", f);
        esc(f, r->leader);
        fputs("</td><td class=\"n\">", f);
        esc(f, r->commit);
        fputs("</td><td class=\"n\">", f);
        esc(f, r->applied);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    /* ---- chunkservers ---- */
    fputs("<h2>Chunkservers</h2>\n", f);
    if (!v->have_cluster) {
        fputs("<p class=\"err\" id=\"cluster-error\">Chunkservers unavailable: ", f);
        esc(f, v->cluster_error);
        fputs("</p>\n", f);
    } else {
        fputs("<table id=\"chunkservers\"><tr><th>chunkserver</th><th>address</th><th>state</th>"
              "<th>liveness</th><th>fill</th><th>used</th><th>capacity</th>"
              "<th>last heartbeat</th><th>host / rack / zone</th></tr>\n",
              f);
        for (size_t i = 0; i < v->n_cs; i++) {
            const struct cs_view *cs = &v->cs[i];
            unsigned long long used = cs->cap > cs->free_b ? cs->cap - cs->free_b : 0;
            double pct = cs->cap ? 100.0 * (double)used / (double)cs->cap : 0.0;
            fputs("<tr class=\"chunkserver\" data-id=\"", f);
            esc(f, cs->id);
            fputs("\" data-liveness=\"", f);
            esc(f, cs->live);
            fputs("\" data-state=\"", f);
            esc(f, cs->state);
            fputs("\"><td><code>", f);
            esc(f, cs->id);
            fputs("</code></td><td>", f);
            esc(f, cs->addr);
            fputs("</td><td>", f);
            esc(f, cs->state);
            fputs("</td><td>", f);
            badge(f, cs->live);
            fprintf(f,
                    "</td><td><div class=\"bar\" title=\"%.1f%%\"><div class=\"fill%s\" "
                    "style=\"width:%.1f%%\"></div></div></td>",
                    pct,
                    pct >= 95   ? " full"
                    : pct >= 80 ? " hi"
                                : "",
                    pct);
            human((double)used, a, sizeof(a));
            human((double)cs->cap, b, sizeof(b));
            fputs("<td class=\"n\">", f);
            esc(f, a);
            fprintf(f, " (%.1f%%)</td><td class=\"n\">", pct);
            esc(f, b);
            fputs("</td><td class=\"n\">", f);
            if (cs->age_ms < 0)
                fputs("never (since this leader started)", f);
            else
                fprintf(f, "%.1f s ago", (double)cs->age_ms / 1000.0);
            /* What happens next to one that is late or silent. */
            if (!strcmp(cs->live, "suspect") && v->down_after_ms > cs->age_ms)
                fprintf(f,
                        "<br><small class=\"outlook\">down in %.0f s, out in %.0f s if it "
                        "stays silent</small>",
                        (double)(v->down_after_ms - cs->age_ms) / 1000.0,
                        (double)(v->out_after_ms - cs->age_ms) / 1000.0);
            else if (!strcmp(cs->live, "down") && v->out_after_ms > cs->age_ms)
                fprintf(f,
                        "<br><small class=\"outlook\">declared out in %.0f s, then its "
                        "fragments are rebuilt elsewhere</small>",
                        (double)(v->out_after_ms - cs->age_ms) / 1000.0);
            fputs("</td><td>", f);
            esc(f, cs->host);
            fputs(" / ", f);
            esc(f, cs->rack);
            fputs(" / ", f);
            esc(f, cs->zone);
            fputs("</td></tr>\n", f);
        }
        if (v->n_cs == 0)
            fputs("<tr><td colspan=\"9\">no chunkserver has registered</td></tr>\n", f);
        fputs("</table>\n", f);
    }

    /* ---- repair ---- */
    fputs("<h2>Repair</h2>\n", f);
    if (!v->have_repair) {
        fputs("<p class=\"err\" id=\"repair-error\">Repair state unavailable: ", f);
        esc(f, v->cluster_error[0] ? v->cluster_error : "the leader did not report it");
        fputs("</p>\n", f);
    } else {
        fputs("<table id=\"repair\">\n", f);
        fprintf(f,
                "<tr><th>degraded groups</th><td class=\"n\" id=\"repair-degraded\">%llu</td>"
                "<td>groups with a fragment not live</td></tr>\n"
                "<tr><th>repair queue</th><td class=\"n\" id=\"repair-queued\">%llu</td>"
                "<td>groups with a fragment to rebuild now</td></tr>\n"
                "<tr><th>in flight</th><td class=\"n\" id=\"repair-in-flight\">%llu</td>"
                "<td>rebuilds running</td></tr>\n"
                "<tr><th>unrecoverable</th><td class=\"n\" id=\"repair-unrecoverable\">%llu</td>"
                "<td>groups with fewer than k fragments left</td></tr>\n"
                "<tr><th>rebuilt</th><td class=\"n\" id=\"repair-done\">%llu</td><td>",
                v->degraded, v->queued, v->in_flight, v->unrec, v->done);
        human((double)v->bytes, a, sizeof(a));
        esc(f, a);
        fprintf(f,
                " rebuilt by the leader replica since it started; %llu failed</td></tr>\n"
                "<tr><th>rebuild rate</th><td class=\"n\" id=\"repair-rate\">",
                v->failed);
        if (v->rate_known) {
            human(v->bytes_per_s, a, sizeof(a));
            fprintf(f, "%.2f fragments/s</td><td>", v->tasks_per_s);
            esc(f, a);
            fprintf(f, "/s, over the last %.0f s</td></tr>\n", v->rate_window_s);
        } else {
            fputs("measuring</td><td>known from the next refresh on</td></tr>\n", f);
        }
        fputs("<tr><th>ETA</th><td class=\"n\" id=\"repair-eta\">", f);
        unsigned late = 0;
        for (size_t i = 0; i < v->n_cs; i++)
            late += (!strcmp(v->cs[i].live, "suspect") || !strcmp(v->cs[i].live, "unknown")) &&
                    strcmp(v->cs[i].state, "retired") != 0;
        if (v->queued + v->in_flight == 0 && late > 0) {
            fprintf(f,
                    "-</td><td id=\"repair-late\">redundancy unknown: %u chunkserver(s) with "
                    "late or no heartbeats",
                    late);
        } else if (v->queued + v->in_flight == 0) {
            fputs("-</td><td>", f);
            fputs(v->degraded == 0 && v->unrec == 0
                      ? "every known group is fully redundant"
                      : "nothing to rebuild now (fragments on down chunkservers wait for them to "
                        "return or to be declared out)",
                  f);
        } else if (v->rate_known && v->tasks_per_s > 0) {
            duration((double)(v->queued + v->in_flight) / v->tasks_per_s, a, sizeof(a));
            esc(f, a);
            fputs("</td><td>queue and in-flight rebuilds at the measured rate (estimate)", f);
        } else {
            fputs("unknown</td><td>no rebuild finished in the measured window", f);
        }
        fputs("</td></tr>\n</table>\n", f);
    }

    /* ---- this gateway ---- */
    struct gw_data_stats ds;
    gw_ctx_stats(st->data, &ds);
    fprintf(f,
            "<h2>This gateway</h2>\n<table id=\"gateway\">"
            "<tr><th>degraded reads</th><td class=\"n\" id=\"gw-degraded-reads\">%" PRIu64
            "</td><td>stripes served by decoding</td></tr>\n"
            "<tr><th>decodes</th><td class=\"n\">%" PRIu64
            "</td><td>fragments rebuilt by decoding</td></tr>\n"
            "<tr><th>fragment errors</th><td class=\"n\">%" PRIu64
            "</td><td>fragment reads or writes that failed</td></tr>\n"
            "<tr><th>short groups</th><td class=\"n\">%" PRIu64
            "</td><td>groups written with fewer than k+m fragments</td></tr>\n</table>\n"
            "<p class=\"sub\">Prometheus metrics: <code>/metrics</code> on every daemon "
            "(docs/observability.md).</p>\n</body></html>\n",
            ds.degraded_reads, ds.decodes, ds.fragment_errors, ds.short_groups);
}

static int status_end(struct cn_http_req *req, void *cls)
{
    struct gw_status *st = cls;
    cn_http_resp_header(req, "x-amz-request-id", cn_http_req_id(req));
    cn_http_resp_header(req, "Server", "Cairn");
    struct denial d;
    if (!authorize(st, req, &d)) {
        if (d.challenge)
            cn_http_resp_header(req, "WWW-Authenticate",
                                "Basic realm=\"Cairn status\", charset=\"UTF-8\"");
        return respond_text(req, d.status, d.msg);
    }
    struct view *v = calloc(1, sizeof(*v));
    if (!v)
        return respond_text(req, 500, "out of memory\n");
    gather(st, v);
    sample_rate(st, v);
    char *html = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&html, &len);
    int rc;
    if (!f) {
        rc = respond_text(req, 500, "out of memory\n");
    } else {
        render(st, v, f);
        if (fclose(f) != 0) {
            rc = respond_text(req, 500, "out of memory\n");
        } else {
            cn_http_resp_header(req, "Cache-Control", "no-store");
            cn_http_resp_header(req, "X-Content-Type-Options", "nosniff");
            cn_http_resp_header(req, "X-Frame-Options", "DENY");
            cn_http_resp_header(req, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'");
            rc = cn_http_respond(req, 200, "text/html; charset=utf-8", html, len);
        }
    }
    free(html);
    free(v->cs);
    free(v);
    return rc;
}

/* ---- construction ---------------------------------------------------------- */

int gw_status_new(const struct gw_status_config *cfg, struct gw_status **out)
{
    if (!cfg || !out || !cfg->data || cfg->n_meta == 0 || cfg->n_meta > MAX_REPLICAS)
        return CAIRN_E_INVAL;
    if ((cfg->root_access_key && *cfg->root_access_key) !=
        (cfg->root_secret_key && *cfg->root_secret_key))
        return CAIRN_E_INVAL;
    struct gw_status *st = calloc(1, sizeof(*st));
    if (!st)
        return CAIRN_E_NOMEM;
    pthread_mutex_init(&st->mu, NULL);
    st->auth = cfg->auth;
    st->data = cfg->data;
    st->max_skew_s = cfg->max_skew_s;
    st->keys = cfg->keys;
    st->refresh_s = cfg->refresh_s ? cfg->refresh_s : 5;
    int nomem = 0;
    for (size_t i = 0; i < cfg->n_meta; i++) {
        st->urls[i] = strdup(cfg->meta_urls[i]);
        nomem |= !st->urls[i];
        st->n_urls++;
    }
    st->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
    nomem |= !st->region;
    if (cfg->root_access_key && *cfg->root_access_key) {
        st->root_ak = strdup(cfg->root_access_key);
        st->root_sk = strdup(cfg->root_secret_key);
        nomem |= !st->root_ak || !st->root_sk;
    }
    if (nomem) {
        gw_status_free(st);
        return CAIRN_E_NOMEM;
    }
    *out = st;
    return 0;
}

int gw_status_register(struct gw_status *st, struct cn_http_server *srv)
{
    const struct cn_http_handler h = {.end = status_end};
    return cn_http_server_route(srv, "GET", CN_ROUTE_GW_STATUS,
                                CN_HTTP_ROUTE_PUBLIC | CN_HTTP_ROUTE_EXACT, &h, st);
}

void gw_status_free(struct gw_status *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_urls; i++)
        free(st->urls[i]);
    free(st->region);
    free(st->root_ak);
    if (st->root_sk) {
        OPENSSL_cleanse(st->root_sk, strlen(st->root_sk));
        free(st->root_sk);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}
