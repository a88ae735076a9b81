#include "cn_http_server.h"
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_replay.h"
#include "cn_tls.h"
#include "cn_util.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#define DEFAULT_CONN_TIMEOUT_S  60
#define DEFAULT_MEMORY_LIMIT    (256 * 1024)
#define MIN_MEMORY_LIMIT        (64 * 1024)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_MAX_BUFFERED    (64u << 20)
#define DEFAULT_RESP_BLOCK      (256 * 1024)
#define MAX_REQUEST_ID          64
#define DEFAULT_REPLAY_ENTRIES  262144
/* A request refused on its headers whose declared body is at most this long
 * (and not held back behind Expect: 100-continue) is answered once its body
 * has been read and dropped: answered at once, the connection closes with
 * unread bytes in its receive queue, the kernel resets it, and a client
 * still sending its body may see the reset instead of the answer. */
#define REFUSED_DRAIN_MAX (4 << 20)

struct route {
    char *method; /* NULL = any */
    char *prefix;
    size_t prefix_len;
    unsigned flags;
    struct cn_http_handler handler;
    void *cls;
};

/* One open connection, for the header deadline (the socket context of its
 * MHD connection). In the server's list while MHD holds the socket: the
 * CLOSED notification, which unlinks it, comes before MHD closes the fd. */
struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    int64_t deadline_ms; /* cn_mono_ms() by which the headers must be in; 0 = none */
    int shut;            /* shut down by the deadline */
};

struct cn_http_server {
    struct cn_http_server_opts opts;
    char *bind_addr;
    char *log_module;
    char *tls_cert;
    char *tls_key;
    struct route *routes;
    size_t n_routes;
    struct MHD_Daemon *daemon;
    uint16_t port;
    int started;

    /* header deadline: the open connections and the thread that enforces it */
    pthread_mutex_t conns_mu;
    pthread_cond_t reaper_cv;
    struct conn_track conns; /* list head */
    pthread_t reaper;
    int reaper_running, reaper_stop;

    atomic_uint_fast64_t n_accepted, n_open, n_header_timeouts, n_limit_refused;
    /* request ids for requests that bring none: a random start, then a
     * counter through a mixer (unique in a run, not guessable from another
     * server's; no secret depends on them) */
    uint64_t id_seed;
    atomic_uint_fast64_t id_next;
    struct cn_replay *replay; /* nonces of accepted requests (with auth) */
};

struct resp_header {
    char *name;
    char *value;
    struct resp_header *next;
};

struct cn_http_req {
    struct cn_http_server *srv;
    struct MHD_Connection *conn;
    char *target;      /* raw request-target (owned) */
    const char *query; /* into target, after '?', or "" */
    const char *method;
    const char *path;
    const struct route *route;
    char id[MAX_REQUEST_ID + 1];
    void *data;
    int64_t content_length;

    int started;  /* first access-handler call done */
    int in_begin; /* inside begin(): buffer_body allowed */
    int begun;    /* begin() was reached: done() is owed */
    int stopped;  /* no more body()/end(): discard the rest of the body */
    int rejected; /* body failed its signed tag */
    int end_reached;
    int queue_next; /* answered on its headers, no body: queue on MHD's next call */

    /* authentication (the request-authentication path) */
    enum cn_role role;                      /* the sender's; CN_ROLE_NONE on a public route */
    int authed;                             /* a CAIRN2 exchange: the answer is signed */
    struct cn_auth_exchange ex;             /* valid when authed */
    struct cn_auth_mac body_mac;            /* the request body's tag, as it arrives */
    int resp_body_unsigned;                 /* the handler asked: answer body not covered */
    unsigned char held[CN_AUTH_SUFFIX_LEN]; /* Body=suffix: the last bytes seen, */
    size_t held_len;                        /* which may be the tag, held back */

    int buffering;
    size_t buf_max;
    char *body;
    size_t body_len, body_cap;

    EVP_MD_CTX *sha; /* CAIRN1 (compat): when the signature covers the body */
    char expected_sha[65];

    struct resp_header *hdrs;
    struct resp_header **hdrs_tail;
    struct MHD_Response *response; /* prepared, not yet queued (our reference) */
    unsigned status;
    int responded;
};

/* ---- server lifecycle ---- */

int cn_http_server_new(const struct cn_http_server_opts *opts, struct cn_http_server **out)
{
    if (!opts || !out)
        return CAIRN_E_INVAL;
    struct cn_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return CAIRN_E_NOMEM;
    s->opts = *opts;
    if (cn_random_bytes(&s->id_seed, sizeof(s->id_seed)) < 0)
        s->id_seed = (uint64_t)cn_mono_us() ^ ((uint64_t)getpid() << 32);
    s->bind_addr = strdup(opts->bind_addr ? opts->bind_addr : "127.0.0.1");
    s->log_module = strdup(opts->log_module ? opts->log_module : "http");
    if (!s->bind_addr || !s->log_module) {
        free(s->bind_addr);
        free(s->log_module);
        free(s);
        return CAIRN_E_NOMEM;
    }
    if ((opts->tls_cert_pem != NULL) != (opts->tls_key_pem != NULL)) {
        free(s->bind_addr);
        free(s->log_module);
        free(s);
        return CAIRN_E_INVAL;
    }
    if (opts->tls_cert_pem) {
        s->tls_cert = strdup(opts->tls_cert_pem);
        s->tls_key = strdup(opts->tls_key_pem);
        if (!s->tls_cert || !s->tls_key) {
            free(s->tls_cert);
            free(s->tls_key);
            free(s->bind_addr);
            free(s->log_module);
            free(s);
            return CAIRN_E_NOMEM;
        }
    }
    s->opts.bind_addr = s->bind_addr;
    s->opts.log_module = s->log_module;
    s->opts.tls_cert_pem = s->tls_cert;
    s->opts.tls_key_pem = s->tls_key;
    pthread_mutex_init(&s->conns_mu, NULL);
    /* reaper_main waits until a CLOCK_MONOTONIC deadline: a cv on the
     * default (realtime) clock takes it as long past and never sleeps. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->reaper_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->conns.next = s->conns.prev = &s->conns;
    if (!s->opts.conn_timeout_s)
        s->opts.conn_timeout_s = DEFAULT_CONN_TIMEOUT_S;
    if (!s->opts.conn_memory_limit)
        s->opts.conn_memory_limit = DEFAULT_MEMORY_LIMIT;
    if (s->opts.conn_memory_limit < MIN_MEMORY_LIMIT)
        s->opts.conn_memory_limit = MIN_MEMORY_LIMIT;
    if (!s->opts.max_connections)
        s->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!s->opts.max_buffered_body)
        s->opts.max_buffered_body = DEFAULT_MAX_BUFFERED;
    if (!s->opts.response_block_size)
        s->opts.response_block_size = DEFAULT_RESP_BLOCK;
    *out = s;
    return 0;
}

int cn_http_server_route(struct cn_http_server *srv, const char *method, const char *prefix,
                         unsigned flags, const struct cn_http_handler *handler, void *cls)
{
    if (!srv || srv->started || !prefix || !handler || !handler->end)
        return CAIRN_E_INVAL;
    struct route *grown = realloc(srv->routes, (srv->n_routes + 1) * sizeof(*grown));
    if (!grown)
        return CAIRN_E_NOMEM;
    srv->routes = grown;
    struct route *r = &srv->routes[srv->n_routes];
    memset(r, 0, sizeof(*r));
    if (method && strcmp(method, "*") != 0) {
        r->method = strdup(method);
        if (!r->method)
            return CAIRN_E_NOMEM;
    }
    r->prefix = strdup(prefix);
    if (!r->prefix) {
        free(r->method);
        return CAIRN_E_NOMEM;
    }
    r->prefix_len = strlen(prefix);
    r->flags = flags;
    r->handler = *handler;
    r->cls = cls;
    srv->n_routes++;
    return 0;
}

/* ---- per-request helpers ---- */

static void drop_staged_headers(struct cn_http_req *req);

static void req_free(struct cn_http_req *req)
{
    drop_staged_headers(req);
    if (req->response)
        MHD_destroy_response(req->response);
    if (req->sha)
        EVP_MD_CTX_free(req->sha);
    cn_auth_mac_abort(&req->body_mac);
    free(req->body);
    free(req->target);
    free(req);
}

static struct cn_http_req *req_alloc(struct cn_http_server *srv, const char *uri)
{
    struct cn_http_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->srv = srv;
    req->target = strdup(uri ? uri : "/");
    if (!req->target) {
        free(req);
        return NULL;
    }
    char *q = strchr(req->target, '?');
    req->query = q ? q + 1 : "";
    req->hdrs_tail = &req->hdrs;
    req->content_length = -1;
    return req;
}

/* ---- connection tracking: the header deadline ---- */

static struct conn_track *conn_track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Sets conn's header deadline to now + ms (0: none); with only_sooner, only
 * if that is sooner than the one it has. */
static void conn_deadline(struct cn_http_server *srv, struct MHD_Connection *conn, int64_t ms,
                          int only_sooner)
{
    if (!srv->opts.header_timeout_ms)
        return;
    struct conn_track *t = conn_track_of(conn);
    if (!t)
        return;
    int64_t d = ms ? cn_mono_ms() + ms : 0;
    pthread_mutex_lock(&srv->conns_mu);
    if (!only_sooner || (d && (!t->deadline_ms || d < t->deadline_ms)))
        t->deadline_ms = d;
    pthread_mutex_unlock(&srv->conns_mu);
}

static void notify_connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code)
{
    struct cn_http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->n_accepted, 1);
        atomic_fetch_add(&srv->n_open, 1);
        *socket_context = NULL;
        if (!srv->opts.header_timeout_ms)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn_track *t = ci ? calloc(1, sizeof(*t)) : NULL;
        if (!t)
            return; /* untracked: only the idle timeout applies */
        t->fd = ci->connect_fd;
        t->deadline_ms = cn_mono_ms() + srv->opts.header_timeout_ms;
        pthread_mutex_lock(&srv->conns_mu);
        t->next = srv->conns.next;
        t->prev = &srv->conns;
        srv->conns.next->prev = t;
        srv->conns.next = t;
        pthread_mutex_unlock(&srv->conns_mu);
        *socket_context = t;
        return;
    }
    atomic_fetch_sub(&srv->n_open, 1);
    struct conn_track *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&srv->conns_mu);
    t->prev->next = t->next;
    t->next->prev = t->prev;
    pthread_mutex_unlock(&srv->conns_mu);
    free(t);
    *socket_context = NULL;
}

/* Shuts down (both ways) every connection past its header deadline: its
 * thread then reads end-of-file and MHD closes it. */
static void *reaper_main(void *arg)
{
    struct cn_http_server *srv = arg;
    int64_t tick = srv->opts.header_timeout_ms / 4;
    if (tick < 50)
        tick = 50;
    if (tick > 1000)
        tick = 1000;
    pthread_mutex_lock(&srv->conns_mu);
    while (!srv->reaper_stop) {
        struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, tick);
        pthread_cond_timedwait(&srv->reaper_cv, &srv->conns_mu, &ts);
        if (srv->reaper_stop)
            break;
        int64_t now = cn_mono_ms();
        uint64_t shut = 0;
        for (struct conn_track *t = srv->conns.next; t != &srv->conns; t = t->next) {
            if (t->shut || !t->deadline_ms || now < t->deadline_ms)
                continue;
            /* counted first: whoever sees the connection end sees it counted */
            atomic_fetch_add(&srv->n_header_timeouts, 1);
            shutdown(t->fd, SHUT_RDWR);
            t->shut = 1;
            shut++;
        }
        if (shut) {
            CN_INFO(srv->log_module, "closed %" PRIu64 " connection(s) past the header deadline",
                    shut);
        }
    }
    pthread_mutex_unlock(&srv->conns_mu);
    return NULL;
}

int cn_http_req_tls(const struct cn_http_req *req)
{
    return req->srv->tls_cert != NULL;
}

int cn_http_server_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

void cn_http_server_counters(const struct cn_http_server *srv, struct cn_http_server_counters *out)
{
    struct cn_http_server *s = (struct cn_http_server *)srv;
    out->accepted = atomic_load(&s->n_accepted);
    out->open = atomic_load(&s->n_open);
    out->header_timeouts = atomic_load(&s->n_header_timeouts);
    out->limit_refused = atomic_load(&s->n_limit_refused);
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct cn_http_server *srv = cls;
    /* A request line is in: its headers have header_timeout from now at most. */
    conn_deadline(srv, conn, srv->opts.header_timeout_ms, 1);
    return req_alloc(cls, uri);
}

/* libmicrohttpd's format and arguments (clang's -Wformat-nonliteral wants
 * the attribute to accept the vsnprintf). */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct cn_http_server *srv = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    /* A connection refused at max_connections or per_ip_limit (microhttpd
     * says the same for both): counted, and logged once in 1000 so that a
     * flood does not flood the log too. */
    if (strstr(line, "reached connection limit")) {
        uint64_t k = atomic_fetch_add(&srv->n_limit_refused, 1);
        if (k % 1000 == 0)
            CN_WARN(srv->log_module,
                    "connection refused at the connection limit or the per-address limit "
                    "(%" PRIu64 " so far)",
                    k + 1);
        return;
    }
    CN_WARN(srv->log_module, "microhttpd: %s", line);
}

static int sane_request_id(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0 && n <= MAX_REQUEST_ID;
}

static const struct route *find_route(const struct cn_http_server *srv, const char *method,
                                      const char *path, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < srv->n_routes; i++) {
        const struct route *r = &srv->routes[i];
        int match = (r->flags & CN_HTTP_ROUTE_EXACT) ? strcmp(path, r->prefix) == 0
                                                     : strncmp(path, r->prefix, r->prefix_len) == 0;
        if (!match)
            continue;
        if (r->method && strcmp(r->method, method) != 0) {
            *path_known = 1;
            continue;
        }
        return r;
    }
    return NULL;
}

static int apply_headers(struct cn_http_req *req, struct MHD_Response *resp)
{
    if (MHD_add_response_header(resp, CN_HDR_REQUEST_ID, req->id) != MHD_YES)
        return CAIRN_E_NOMEM;
    for (struct resp_header *h = req->hdrs; h; h = h->next) {
        /* MHD refuses empty values; a lone space is the same value on the wire
         * (optional whitespace around field values is not part of them). */
        if (MHD_add_response_header(resp, h->name, h->value[0] ? h->value : " ") != MHD_YES) {
            CN_WARN(req->srv->log_module, "req %s: cannot add response header %s", req->id,
                    h->name);
            return CAIRN_E_INVAL;
        }
    }
    return 0;
}

/* Signs the answer to an authenticated request: the status, the headers it
 * carries (X-Cairn-Request-Id and the staged ones) and its body's tag
 * (body[len]; not for a streamed body, an answer to HEAD, or when the
 * handler said so). */
static int sign_response(struct cn_http_req *req, unsigned status, struct MHD_Response *resp,
                         const void *body, size_t len, int streamed)
{
    struct cn_auth_hdrs h;
    cn_auth_hdrs_init(&h);
    cn_auth_hdrs_add(&h, CN_HDR_REQUEST_ID, strlen(CN_HDR_REQUEST_ID), req->id, strlen(req->id));
    for (struct resp_header *x = req->hdrs; x; x = x->next)
        cn_auth_hdrs_add(&h, x->name, strlen(x->name), x->value, strlen(x->value));
    char tag[CN_AUTH_TAG_HEX];
    const char *tagp = NULL;
    if (!streamed && !req->resp_body_unsigned && strcmp(req->method, "HEAD") != 0) {
        int rc = cn_auth_body_tag(&req->ex, 1, body, len, tag);
        if (rc < 0)
            return rc;
        tagp = tag;
    }
    char sig[CN_AUTH_HEADER_MAX];
    int rc = cn_auth_server_sign_response(&req->ex, status, &h, tagp, sig);
    if (rc < 0)
        return rc;
    return MHD_add_response_header(resp, CN_HDR_RESPONSE_SIGNATURE, sig) == MHD_YES ? 0
                                                                                    : CAIRN_E_NOMEM;
}

static int prepare(struct cn_http_req *req, unsigned status, struct MHD_Response *resp,
                   const void *body, size_t len, int streamed)
{
    int rc = apply_headers(req, resp);
    if (rc == 0 && req->authed)
        rc = sign_response(req, status, resp, body, len, streamed);
    if (rc < 0) {
        MHD_destroy_response(resp);
        return rc;
    }
    req->response = resp;
    req->status = status;
    req->responded = 1;
    return 0;
}

int cn_http_req_responded(const struct cn_http_req *req)
{
    return req->responded;
}

void cn_http_resp_body_unsigned(struct cn_http_req *req)
{
    req->resp_body_unsigned = 1;
}

int cn_http_resp_header(struct cn_http_req *req, const char *name, const char *value)
{
    if (req->responded || !name || !*name || !value || strpbrk(name, "\r\n: \t") ||
        strpbrk(value, "\r\n"))
        return CAIRN_E_INVAL;
    /* framing is the server's: the respond call's size decides it */
    if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0)
        return CAIRN_E_INVAL;
    struct resp_header *h = calloc(1, sizeof(*h));
    if (!h)
        return CAIRN_E_NOMEM;
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        free(h);
        return CAIRN_E_NOMEM;
    }
    *req->hdrs_tail = h;
    req->hdrs_tail = &h->next;
    return 0;
}

int cn_http_respond(struct cn_http_req *req, unsigned status, const char *content_type,
                    const void *data, size_t len)
{
    if (req->responded || (len && !data))
        return CAIRN_E_INVAL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(len ? data : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return CAIRN_E_NOMEM;
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return CAIRN_E_NOMEM;
    }
    return prepare(req, status, resp, data, len, 0);
}

int cn_http_respond_take(struct cn_http_req *req, unsigned status, const char *content_type,
                         void *data, size_t len)
{
    if (req->responded || !data) {
        free(data);
        return CAIRN_E_INVAL;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return CAIRN_E_NOMEM;
    }
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp); /* frees data */
        return CAIRN_E_NOMEM;
    }
    return prepare(req, status, resp, data, len, 0);
}

int cn_http_respond_error(struct cn_http_req *req, unsigned status, const char *msg)
{
    char text[512];
    const char *reason = MHD_get_reason_phrase_for(status);
    snprintf(text, sizeof(text), "%s\n", msg ? msg : (reason && *reason ? reason : "error"));
    return cn_http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

int cn_http_respond_stream(struct cn_http_req *req, unsigned status, const char *content_type,
                           int64_t size, cn_http_reader_fn reader, void *cls,
                           void (*free_cls)(void *cls))
{
    return cn_http_respond_stream_block(req, status, content_type, size, 0, reader, cls, free_cls);
}

int cn_http_respond_stream_block(struct cn_http_req *req, unsigned status, const char *content_type,
                                 int64_t size, size_t block, cn_http_reader_fn reader, void *cls,
                                 void (*free_cls)(void *cls))
{
    if (req->responded || !reader || size < -1) {
        if (free_cls)
            free_cls(cls);
        return CAIRN_E_INVAL;
    }
    /* The reader's contract matches MHD_ContentReaderCallback exactly
     * (CN_HTTP_READER_* == MHD_CONTENT_READER_*). */
    /* libmicrohttpd allocates (and zeroes) the block with each response: a
     * short body gets a block of its own size, not 256 KiB (an mmap, a memset
     * and an munmap per small GET otherwise). */
    if (!block)
        block = req->srv->opts.response_block_size;
    if (size >= 0 && (uint64_t)size < block)
        block = size < 4096 ? 4096 : (size_t)size;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size, block, reader, cls, free_cls);
    if (!resp) {
        if (free_cls)
            free_cls(cls);
        return CAIRN_E_NOMEM;
    }
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp); /* calls free_cls */
        return CAIRN_E_NOMEM;
    }
    return prepare(req, status, resp, NULL, 0, 1);
}

/* ---- request accessors ---- */

const char *cn_http_req_method(const struct cn_http_req *req)
{
    return req->method;
}

const char *cn_http_req_path(const struct cn_http_req *req)
{
    return req->path;
}

const char *cn_http_req_target(const struct cn_http_req *req)
{
    return req->target;
}

const char *cn_http_req_query(const struct cn_http_req *req)
{
    return req->query;
}

const char *cn_http_req_arg(const struct cn_http_req *req, const char *name)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

const char *cn_http_req_header(const struct cn_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct foreach_ctx {
    int (*fn)(const char *, const char *, void *);
    void *cls;
};

static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct foreach_ctx *c = cls;
    return c->fn(key, value ? value : "", c->cls) ? MHD_NO : MHD_YES;
}

void cn_http_req_headers_foreach(const struct cn_http_req *req,
                                 int (*fn)(const char *name, const char *value, void *cls),
                                 void *cls)
{
    struct foreach_ctx c = {fn, cls};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_iter, &c);
}

int64_t cn_http_req_content_length(const struct cn_http_req *req)
{
    return req->content_length;
}

const char *cn_http_req_id(const struct cn_http_req *req)
{
    return req->id;
}

enum cn_role cn_http_req_role(const struct cn_http_req *req)
{
    return req->role;
}

void cn_http_req_peer(const struct cn_http_req *req, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET) {
        snprintf(buf, len, "?");
        return;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ci->client_addr;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
}

void cn_http_req_set_data(struct cn_http_req *req, void *data)
{
    req->data = data;
}

void *cn_http_req_data(const struct cn_http_req *req)
{
    return req->data;
}

int cn_http_req_buffer_body(struct cn_http_req *req, size_t max)
{
    if (!req->in_begin)
        return CAIRN_E_INVAL;
    req->buffering = 1;
    req->buf_max = max < req->srv->opts.max_buffered_body ? max : req->srv->opts.max_buffered_body;
    return 0;
}

const void *cn_http_req_body(const struct cn_http_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body;
}

/* ---- the MHD access handler ---- */

static void drop_staged_headers(struct cn_http_req *req)
{
    struct resp_header *h = req->hdrs;
    while (h) {
        struct resp_header *next = h->next;
        free(h->name);
        free(h->value);
        free(h);
        h = next;
    }
    req->hdrs = NULL;
    req->hdrs_tail = &req->hdrs;
}

/* Stops the request and answers it with err's status if nothing was sent
 * yet (when even that fails, the connection is closed without an answer). */
static void fail(struct cn_http_req *req, int err)
{
    req->stopped = 1;
    if (!req->responded) {
        unsigned status = cn_http_status_for_error(err);
        if (cn_http_respond_error(req, status, cairn_strerror(err)) < 0) {
            /* the handler's staged headers may be what failed: send the error
             * without them */
            drop_staged_headers(req);
            cn_http_respond_error(req, status, cairn_strerror(err));
        }
    }
}

static enum MHD_Result queue(struct cn_http_req *req)
{
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    if (r != MHD_YES)
        CN_WARN(req->srv->log_module, "req %s: cannot queue response %u", req->id, req->status);
    return r;
}

/* A present Content-Length must be all digits and fit int64_t. Returns 0
 * (*out set when present) or CAIRN_E_PROTO. */
static int parse_content_length(const char *v, int64_t *out)
{
    uint64_t n;
    if (!v)
        return 0;
    if (cn_parse_u64(v, INT64_MAX, &n) != 0)
        return CAIRN_E_PROTO;
    *out = (int64_t)n;
    return 0;
}

/* ---- the request-authentication path ---- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    cn_auth_hdrs_add(cls, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

/* 1 if host (the signed Host header) names this server: the connection's
 * local address and port, or one of opts.host_names. A request
 * signed for another daemon is refused even with a valid signature. */
static int host_is_mine(const struct cn_http_req *req, const char *host)
{
    if (!host)
        return 0;
    for (const char *const *n = req->srv->opts.host_names; n && *n; n++)
        if (strcasecmp(host, *n) == 0)
            return 1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&sin, &sl) != 0 ||
        sin.sin_family != AF_INET)
        return 0;
    char ip[INET_ADDRSTRLEN], mine[INET_ADDRSTRLEN + 8];
    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
    /* the connection's own local port: srv->port is set only once
     * MHD_start_daemon() returns, after the first connections may be in */
    snprintf(mine, sizeof(mine), "%s:%u", ip, (unsigned)ntohs(sin.sin_port));
    return strcasecmp(host, mine) == 0;
}

/* CAIRN1 (--auth-compat-v1 only): method, target, date and body hash. */
static int authenticate_v1(struct cn_http_req *req, const char **why)
{
    const char *body_hdr = cn_http_req_header(req, CN_HDR_BODY_HASH);
    int body_signed = 0;
    if (cn_auth_v1_verify(req->srv->opts.auth, req->method, req->target,
                          cn_http_req_header(req, CN_HDR_DATE), body_hdr,
                          cn_http_req_header(req, CN_HDR_AUTH), cn_wall_s(), &body_signed) < 0) {
        *why = "bad CAIRN1 signature";
        return CAIRN_E_AUTH;
    }
    if (body_signed) {
        req->sha = EVP_MD_CTX_new();
        if (!req->sha || !EVP_DigestInit_ex(req->sha, EVP_sha256(), NULL))
            return CAIRN_E_NOMEM;
        memcpy(req->expected_sha, body_hdr, 65);
    }
    req->role = CN_ROLE_LEGACY;
    return 0;
}

/* Authenticates a request for anything but a public route (docs at the top
 * of cn_http_server.h). Returns 0 (req->role set; req->authed for CAIRN2),
 * CAIRN_E_AUTH with *why set, or CAIRN_E_NOMEM. */
static int authenticate(struct cn_http_req *req, const char **why)
{
    struct cn_http_server *srv = req->srv;
    const struct cn_auth *auth = srv->opts.auth;
    if (!auth) {
        *why = "no credentials configured";
        return CAIRN_E_AUTH;
    }
    if (srv->opts.tls_internal && !cn_tls_client_verified(srv->opts.tls_internal, req->conn)) {
        *why = "no valid client certificate";
        return CAIRN_E_AUTH;
    }
    const char *sig = cn_http_req_header(req, CN_HDR_SIGNATURE);
    if (!sig) {
        if (cn_auth_compat_v1(auth) && cn_http_req_header(req, CN_HDR_AUTH))
            return authenticate_v1(req, why);
        *why = "not signed (no " CN_HDR_SIGNATURE ")";
        return CAIRN_E_AUTH;
    }
    struct cn_auth_hdrs hdrs;
    cn_auth_hdrs_init(&hdrs);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &hdrs);
    const char *host = cn_http_req_header(req, MHD_HTTP_HEADER_HOST);
    struct cn_auth_msg msg = {req->method, host ? host : "", req->target, &hdrs};
    int64_t now = cn_wall_ms();
    if (cn_auth_server_verify(auth, &msg, sig, now, &req->ex, why) < 0)
        return CAIRN_E_AUTH;
    if (!host_is_mine(req, host)) {
        *why = "signed for another host (Host is not this server)";
        return CAIRN_E_AUTH;
    }
    uint8_t nonce[16];
    if (cn_hex_decode(req->ex.nonce, nonce, sizeof(nonce)) < 0)
        return CAIRN_E_AUTH;
    int rc = cn_replay_check(srv->replay, nonce, req->ex.time_ms, now);
    if (rc == CAIRN_E_EXISTS) {
        *why = "replayed (nonce seen before)";
        return CAIRN_E_AUTH;
    }
    if (rc < 0) {
        /* A client may sign a fresh request again and retry (cn_http_client
         * does, once): a request signed just before a restart is no attack. */
        *why = "signed before this server started or beyond its replay memory";
        cn_http_resp_header(req, CN_HDR_ERROR, CN_AUTH_ERROR_STALE);
        return CAIRN_E_AUTH;
    }
    if (req->ex.body_suffix && req->content_length >= 0) {
        /* the tag follows the body: the handler's body is that much shorter */
        if (req->content_length < CN_AUTH_SUFFIX_LEN) {
            *why = "body shorter than its tag";
            return CAIRN_E_AUTH;
        }
        req->content_length -= CN_AUTH_SUFFIX_LEN;
    }
    if (cn_auth_mac_begin(&req->ex, 0, &req->body_mac) < 0)
        return CAIRN_E_NOMEM;
    req->role = req->ex.from;
    req->authed = 1;
    return 0;
}

static void first_call(struct cn_http_req *req, struct MHD_Connection *conn, const char *url,
                       const char *method)
{
    struct cn_http_server *srv = req->srv;
    req->conn = conn;
    req->method = method;
    req->path = url;

    const char *rid = cn_http_req_header(req, CN_HDR_REQUEST_ID);
    if (rid && sane_request_id(rid)) {
        snprintf(req->id, sizeof(req->id), "%s", rid);
    } else {
        /* not RAND_bytes: OpenSSL's generator cost a chunkserver ~10% of its
         * CPU on small fragment reads, for an id that is only a log key */
        uint64_t z =
            srv->id_seed + 0x9E3779B97F4A7C15ull * (atomic_fetch_add(&srv->id_next, 1) + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        snprintf(req->id, sizeof(req->id), "%016" PRIx64, z);
    }
    /* This connection's thread serves this request until completed_cb: its
     * log lines and the requests it sends carry the id. */
    cn_log_set_request(req->id);
    if (parse_content_length(cn_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH),
                             &req->content_length) < 0) {
        fail(req, CAIRN_E_PROTO);
        return;
    }

    int path_known;
    req->route = find_route(srv, method, url, &path_known);
    if (!req->route && strcmp(method, "HEAD") == 0) /* HEAD falls back to GET */
        req->route = find_route(srv, "GET", url, &path_known);
    /* Everything but a public route is authenticated, a path no route
     * serves included (it learns nothing about the routes). */
    int public_route = req->route && (req->route->flags & CN_HTTP_ROUTE_PUBLIC);
    if (!public_route) {
        const char *why = "?";
        int rc = authenticate(req, &why);
        if (rc < 0) {
            char peer[64];
            cn_http_req_peer(req, peer, sizeof(peer));
            CN_WARN(srv->log_module, "req %s: %s %s from %s: authentication failed: %s", req->id,
                    method, url, peer, why);
            req->stopped = 1;
            cn_http_respond_error(req, rc == CAIRN_E_NOMEM ? 503 : 401,
                                  rc == CAIRN_E_NOMEM ? NULL : "authentication failed");
            return;
        }
    }
    if (!req->route) {
        req->stopped = 1;
        cn_http_respond_error(req, path_known ? 405 : 404, NULL);
        return;
    }
    if (!public_route && !cn_roles_allowed(srv->opts.roles, req->role, method, url)) {
        char peer[64], msg[160];
        cn_http_req_peer(req, peer, sizeof(peer));
        CN_WARN(srv->log_module, "req %s: %s %s from %s: role %s may not call it", req->id, method,
                url, peer, cn_role_name(req->role));
        snprintf(msg, sizeof(msg), "role %s may not call %s %s", cn_role_name(req->role), method,
                 url);
        req->stopped = 1;
        cn_http_respond_error(req, 403, msg);
        return;
    }

    req->begun = 1;
    if (req->route->handler.begin) {
        req->in_begin = 1;
        int rc = req->route->handler.begin(req, req->route->cls);
        req->in_begin = 0;
        if (rc < 0) {
            fail(req, rc);
            return;
        }
    }
    if (req->responded) {
        req->stopped = 1;
        return;
    }
    if (req->buffering && req->content_length > (int64_t)req->buf_max) {
        req->stopped = 1;
        cn_http_respond_error(req, 413, "request body too large");
    }
}

static void body_chunk(struct cn_http_req *req, const char *data, size_t len)
{
    if ((req->sha && !EVP_DigestUpdate(req->sha, data, len)) ||
        (req->body_mac.ctx && cn_auth_mac_update(&req->body_mac, data, len) < 0)) {
        fail(req, CAIRN_E_NOMEM);
        return;
    }
    if (req->buffering) {
        if (req->body_len + len > req->buf_max) {
            req->stopped = 1;
            if (!req->responded)
                cn_http_respond_error(req, 413, "request body too large");
            return;
        }
        if (req->body_len + len + 1 > req->body_cap) {
            size_t cap = req->body_cap ? req->body_cap : 64 * 1024;
            while (cap < req->body_len + len + 1)
                cap *= 2;
            if (cap > req->buf_max + 1)
                cap = req->buf_max + 1;
            char *grown = realloc(req->body, cap);
            if (!grown) {
                fail(req, CAIRN_E_NOMEM);
                return;
            }
            req->body = grown;
            req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, data, len);
        req->body_len += len;
        req->body[req->body_len] = 0;
        return;
    }
    if (req->route->handler.body) {
        int rc = req->route->handler.body(req, data, len, req->route->cls);
        if (rc < 0)
            fail(req, rc);
        else if (req->responded)
            req->stopped = 1;
    } else {
        /* A route without body() takes no body. */
        fail(req, CAIRN_E_INVAL);
    }
}

/* Body bytes as they arrive. With Body=suffix the last CN_AUTH_SUFFIX_LEN
 * bytes are the body's tag, not body: the newest ones are held back until
 * more come (final_call() checks them). */
static void body_in(struct cn_http_req *req, const char *data, size_t len)
{
    if (!req->authed || !req->ex.body_suffix) {
        body_chunk(req, data, len);
        return;
    }
    if (req->held_len + len <= CN_AUTH_SUFFIX_LEN) {
        memcpy(req->held + req->held_len, data, len);
        req->held_len += len;
        return;
    }
    size_t pass = req->held_len + len - CN_AUTH_SUFFIX_LEN; /* bytes that are body */
    size_t from_held = pass < req->held_len ? pass : req->held_len;
    size_t from_data = pass - from_held;
    unsigned char keep[CN_AUTH_SUFFIX_LEN];
    size_t kept = req->held_len - from_held;
    memcpy(keep, req->held + from_held, kept);
    memcpy(keep + kept, data + from_data, len - from_data); /* kept + that = SUFFIX_LEN */
    if (from_held) {
        unsigned char out[CN_AUTH_SUFFIX_LEN];
        memcpy(out, req->held, from_held);
        body_chunk(req, (const char *)out, from_held);
    }
    if (from_data && !req->stopped)
        body_chunk(req, data, from_data);
    memcpy(req->held, keep, CN_AUTH_SUFFIX_LEN);
    req->held_len = CN_AUTH_SUFFIX_LEN;
}

static void final_call(struct cn_http_req *req)
{
    if (req->stopped)
        return;
    if (req->sha) {
        unsigned char md[32];
        unsigned int mdlen = 0;
        char hex[65];
        if (!EVP_DigestFinal_ex(req->sha, md, &mdlen) || mdlen != 32) {
            fail(req, CAIRN_E_NOMEM);
            return;
        }
        cn_hex_encode(md, 32, hex);
        if (strcmp(hex, req->expected_sha) != 0) {
            CN_WARN(req->srv->log_module, "req %s: %s %s: body does not match its signed hash",
                    req->id, req->method, req->path);
            req->rejected = 1;
            req->stopped = 1;
            if (!req->responded)
                cn_http_respond_error(req, 401, "body does not match X-Cairn-Content-SHA256");
            return;
        }
    }
    if (req->authed) {
        /* The body's tag, from the signature or (streamed bodies) after
         * the body, must match what arrived before anything is committed. */
        char tag[CN_AUTH_TAG_HEX], suffix[CN_AUTH_TAG_HEX] = "";
        if (req->ex.body_suffix && req->held_len == CN_AUTH_SUFFIX_LEN)
            cn_hex_encode(req->held, CN_AUTH_SUFFIX_LEN, suffix);
        const char *want = req->ex.body_suffix ? suffix : req->ex.body_tag;
        if (cn_auth_mac_end(&req->body_mac, tag) < 0) {
            fail(req, CAIRN_E_NOMEM);
            return;
        }
        if (!cn_auth_tag_equal(tag, want)) {
            CN_WARN(req->srv->log_module, "req %s: %s %s: body does not match its signed tag%s",
                    req->id, req->method, req->path,
                    req->ex.body_suffix && !suffix[0] ? " (shorter than the tag)" : "");
            req->rejected = 1;
            req->stopped = 1;
            if (!req->responded)
                cn_http_respond_error(req, 401, "body does not match its signed tag");
            return;
        }
    }
    req->end_reached = 1;
    int rc = req->route->handler.end(req, req->route->cls);
    if (rc < 0)
        fail(req, rc);
    else if (!req->responded)
        fail(req, CAIRN_E_IO);
}

/* 1 if req, answered on its headers, should have its body read (and dropped)
 * before the answer goes out: a declared body of at most REFUSED_DRAIN_MAX
 * that the client sends without waiting for 100 Continue. Larger bodies are
 * not worth reading for a refusal: the answer goes out at once and the
 * connection closes. */
static int drains_refused_body(const struct cn_http_req *req)
{
    if (req->content_length <= 0 || req->content_length > REFUSED_DRAIN_MAX)
        return 0;
    const char *expect = cn_http_req_header(req, MHD_HTTP_HEADER_EXPECT);
    return !(expect && strcasecmp(expect, "100-continue") == 0);
}

/* 1 if req declares a body (Content-Length other than 0, or a
 * Transfer-Encoding), which MHD reads before its next call. */
static int has_body_coming(const struct cn_http_req *req)
{
    const char *cl = cn_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cn_http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
           (cl != NULL && strcmp(cl, "0") != 0);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct cn_http_server *srv = cls;
    struct cn_http_req *req = *con_cls;
    if (!req) {
        req = req_alloc(srv, url);
        if (!req)
            return MHD_NO;
        *con_cls = req;
    }
    if (!req->started) {
        req->started = 1;
        conn_deadline(srv, conn, 0, 0); /* the headers are in */
        first_call(req, conn, url, method);
        if (!req->responded)
            return MHD_YES;
        /* libmicrohttpd closes the connection after an answer queued on
         * the headers, body or not: every GET a handler answers in begin()
         * (a chunkserver's fragment reads) cost its client a new connection
         * and the server a new thread. A request without a body is answered
         * on MHD's next call instead, which comes at once and keeps the
         * connection. */
        if (!has_body_coming(req)) {
            req->queue_next = 1;
            return MHD_YES;
        }
        if (!drains_refused_body(req))
            return queue(req);
        /* The refused body is dropped as it comes, and must come within the
         * header deadline: waiting for it must not hold a connection (and
         * its thread) longer than a client that never finishes its headers
         * could. */
        conn_deadline(srv, conn, srv->opts.header_timeout_ms, 0);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->stopped)
            body_in(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->queue_next)
        return queue(req);
    final_call(req);
    if (!req->responded)
        return MHD_NO; /* could not even build an error response: drop the connection */
    return queue(req);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct cn_http_server *srv = cls;
    /* Kept alive: the next request may idle for the connection timeout. */
    conn_deadline(srv, conn, (int64_t)srv->opts.conn_timeout_s * 1000, 0);
    struct cn_http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (req->begun && req->route->handler.done) {
        int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->rejected;
        req->route->handler.done(req, ok, req->route->cls);
    }
    req_free(req);
    cn_log_set_request(NULL);
}

static void stop_reaper(struct cn_http_server *srv)
{
    if (!srv->reaper_running)
        return;
    pthread_mutex_lock(&srv->conns_mu);
    srv->reaper_stop = 1;
    pthread_cond_broadcast(&srv->reaper_cv);
    pthread_mutex_unlock(&srv->conns_mu);
    pthread_join(srv->reaper, NULL);
    srv->reaper_running = 0;
}

int cn_http_server_start(struct cn_http_server *srv)
{
    if (!srv || srv->started)
        return CAIRN_E_INVAL;
    if (!srv->opts.auth) {
        for (size_t i = 0; i < srv->n_routes; i++) {
            if (!(srv->routes[i].flags & CN_HTTP_ROUTE_PUBLIC)) {
                CN_ERROR(srv->log_module, "route %s needs authentication but no auth is set",
                         srv->routes[i].prefix);
                return CAIRN_E_INVAL;
            }
        }
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(srv->opts.port);
    if (inet_pton(AF_INET, srv->bind_addr, &sin.sin_addr) != 1) {
        CN_ERROR(srv->log_module, "bad bind address '%s'", srv->bind_addr);
        return CAIRN_E_INVAL;
    }
    if (srv->opts.auth && !srv->replay) {
        size_t n = srv->opts.replay_entries ? srv->opts.replay_entries : DEFAULT_REPLAY_ENTRIES;
        /* Requests dated before this start are refused (a previous run may
         * have taken them); those of the millisecond it starts in are not. */
        int rc =
            cn_replay_new(n, cn_auth_max_skew_ms(srv->opts.auth), cn_wall_ms() - 1, &srv->replay);
        if (rc < 0)
            return rc;
    }
    /* Thread per connection: handlers block on the metadata service and the
     * chunkservers, so a request must not hold up others sharing a thread.
     * Accepting is one poll()-driven thread; slow clients are bounded by
     * per_ip_limit, max_connections and the header deadline. */
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem mo[40];
    size_t n = 0;
#define MO(o, v, p) (mo[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)})
    MO(MHD_OPTION_SOCK_ADDR, 0, &sin);
    MO(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log_cb, srv);
    MO(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, srv);
    MO(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection_cb, srv);
    MO(MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->opts.conn_memory_limit, NULL);
    MO(MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.conn_timeout_s, NULL);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, which lets
     * a second daemon bind a port already serving and silently share its
     * traffic. libmicrohttpd's default (SO_REUSEADDR only) still allows a
     * quick restart. */
    MO(MHD_OPTION_CONNECTION_LIMIT, srv->opts.max_connections, NULL);
    if (srv->opts.per_ip_limit)
        MO(MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->opts.per_ip_limit, NULL);
    if (srv->tls_cert) {
        if (!cn_http_server_tls_supported()) {
            CN_ERROR(srv->log_module, "libmicrohttpd was built without TLS support");
            return CAIRN_E_UNSUPPORTED;
        }
        flags |= MHD_USE_TLS;
        MO(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert);
        MO(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key);
    }
    /* Internal TLS with client certificates (cn_tls.c owns the options). */
    const struct MHD_OptionItem *tls_internal = cn_tls_mhd_options(srv->opts.tls_internal);
    if (tls_internal && srv->tls_cert) {
        CN_ERROR(srv->log_module, "a server is either public HTTPS or internal TLS, not both");
        return CAIRN_E_INVAL;
    }
    flags |= cn_tls_mhd_flags(srv->opts.tls_internal);
    for (size_t i = 0; tls_internal && tls_internal[i].option != MHD_OPTION_END; i++) {
        if (n >= sizeof(mo) / sizeof(mo[0]) - 1)
            return CAIRN_E_INVAL;
        mo[n++] = tls_internal[i];
    }
    MO(MHD_OPTION_END, 0, NULL);
#undef MO
    if (srv->opts.header_timeout_ms) {
        srv->reaper_stop = 0;
        if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0)
            return CAIRN_E_NOMEM;
        srv->reaper_running = 1;
    }
    /* The logger first, so MHD logs nothing through its own logger. */
    srv->daemon = MHD_start_daemon(flags, srv->opts.port, NULL, NULL, access_cb, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv, MHD_OPTION_ARRAY,
                                   mo, MHD_OPTION_END);
    if (!srv->daemon) {
        CN_ERROR(srv->log_module, "cannot listen on %s:%u%s", srv->bind_addr,
                 (unsigned)srv->opts.port,
                 srv->tls_cert ? " (or the TLS certificate and key do not load)" : "");
        stop_reaper(srv);
        return CAIRN_E_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : srv->opts.port;
    srv->started = 1;
    CN_INFO(srv->log_module, "listening on %s:%u%s", srv->bind_addr, (unsigned)srv->port,
            srv->tls_cert ? " (TLS)" : "");
    return 0;
}

uint16_t cn_http_server_port(const struct cn_http_server *srv)
{
    return srv && srv->daemon ? srv->port : 0;
}

void cn_http_server_stop(struct cn_http_server *srv)
{
    if (!srv || !srv->daemon)
        return;
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    srv->port = 0;
    stop_reaper(srv);
}

void cn_http_server_free(struct cn_http_server *srv)
{
    if (!srv)
        return;
    cn_http_server_stop(srv);
    for (size_t i = 0; i < srv->n_routes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].prefix);
    }
    free(srv->routes);
    cn_replay_free(srv->replay);
    free(srv->bind_addr);
    free(srv->log_module);
    free(srv->tls_cert);
    if (srv->tls_key) {
        memset(srv->tls_key, 0, strlen(srv->tls_key));
        free(srv->tls_key);
    }
    pthread_mutex_destroy(&srv->conns_mu);
    pthread_cond_destroy(&srv->reaper_cv);
    free(srv);
}

int cn_http_daemon_setup(const struct cn_http_daemon_config *cfg, const char *log_module,
                         struct cn_http_server_opts *opts, struct cn_auth **auth)
{
    const char *mod = log_module ? log_module : "http";
    if (!cfg || !opts || !auth)
        return CAIRN_E_INVAL;
    int rc = cn_auth_open(cfg->cluster_secret_file, cfg->auth_extra.accept_file, cfg->role,
                          cfg->auth_max_skew_ms, cfg->auth_extra.compat_v1, mod, auth);
    if (rc < 0)
        return rc;
    struct cn_tls *tls = NULL;
    rc = cn_tls_new(&cfg->tls, mod, &tls);
    if (rc < 0) {
        cn_auth_free(*auth);
        *auth = NULL;
        return rc;
    }
    cn_auth_set_tls(*auth, tls);
    memset(opts, 0, sizeof(*opts));
    opts->bind_addr = cfg->listen;
    opts->port = (uint16_t)cfg->port;
    opts->auth = *auth;
    opts->replay_entries = (size_t)cfg->auth_extra.replay_entries;
    opts->log_module = log_module;
    opts->conn_timeout_s = (unsigned)((cfg->conn_timeout_ms + 999) / 1000);
    opts->conn_memory_limit = (size_t)cfg->conn_memory;
    opts->max_connections = (unsigned)cfg->max_connections;
    return 0;
}
