/* HTTP/1.1 server for every Cairn daemon (a libmicrohttpd wrapper).
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION with an
 * internal accept thread). Handlers MAY block (disk I/O, outgoing HTTP calls
 * with timeouts); they run on the connection's thread, so all callbacks of one
 * request run on one thread, one after the other, and different requests run
 * concurrently. Handlers must be thread-safe with respect to each other.
 *
 * Routing: cn_http_server_route() registers (method, path prefix) -> handler.
 * The first matching route in registration order wins; no match gives 404
 * (path known with another method gives 405). A HEAD request with no HEAD
 * route goes to the GET route (method still reads "HEAD"; the server sends
 * the headers and size of the response and drops its body).
 *
 * Authentication: every route requires a valid X-Cairn-Signature (cn_auth.h)
 * unless registered with CN_HTTP_ROUTE_PUBLIC (the S3 API, which does SigV4
 * itself, and /metrics); so does a path no route serves (401 before 404). The
 * check, before the handler is called and before the body is read: with
 * opts.tls_internal, a client certificate chaining to the CA; the signature
 * (time window, HMAC of the link); the Host header is this server's address
 * (the connection's local address and bound port, or one of
 * opts.host_names); the nonce was never seen (cn_replay.h). Any failure
 * answers 401. Then the sender's role must be allowed on the route by the
 * role table (cn_roles.h, opts.roles): else 403. The body's tag (Poly1305,
 * in the signature, or its 16 raw bytes right after a streamed body, not
 * passed to the handler) is computed as the body arrives; on
 * mismatch the handler's end() is NOT called, done() gets completed = 0,
 * and the client gets 401. So handlers must not make a body's effects
 * visible before end(). Every answer to an authenticated request is signed
 * (X-Cairn-Response-Signature over the status, its X-Cairn-* headers and,
 * for a body from cn_http_respond/_take, the body's tag; streamed bodies and
 * those a handler marks with cn_http_resp_body_unsigned() are not covered).
 *
 * Request lifecycle, per request (all callbacks optional except end):
 *   begin(req)          headers are in and authenticated. Look at headers, set
 *                       per-request state (cn_http_req_set_data), optionally ask
 *                       for a buffered body (cn_http_req_buffer_body), or
 *                       respond right away (e.g. 404, 413); if it responds, the
 *                       body is not read, body()/end() are not called.
 *   body(req, data, n)  0..many times with consecutive body bytes, as they
 *                       arrive (chunks of up to ~the connection memory limit).
 *                       Not called when the body is buffered.
 *   end(req)            the whole body has arrived (and matched its signed
 *                       hash). Must respond (if it does not, 500 is sent).
 *   done(req, ok)       always, exactly once, last: the response was sent
 *                       (ok = 1) or the request failed / connection broke /
 *                       the server stopped first (ok = 0; the client may
 *                       still have received a complete response). Free
 *                       per-request state here; never decide durability
 *                       here (commit in end(), before responding).
 * begin/body/end return 0 or a negative CAIRN_E_* code. A negative return
 * stops the request: if the handler has already responded, that response is
 * sent; otherwise the server answers with cn_http_status_for_error(code).
 *
 * Every response carries X-Cairn-Request-Id: the request's own header value if
 * the client sent a sane one (<= 64 chars of [A-Za-z0-9._-]), else a fresh
 * random 16-hex-digit id. Responses to HEAD carry no body (MHD strips it).
 *
 * Limits: request header space is bounded by the connection memory limit
 * (default 256 KiB, which also sizes the body chunks), idle connections are
 * closed after the connection timeout, and connections are capped in total
 * and, optionally, per client address (per_ip_limit). With header_timeout_ms,
 * a connection must deliver a request's complete headers within that time of
 * its accept (a kept-alive one: within the connection timeout of its previous
 * response, and within header_timeout_ms of its next request line); bytes
 * trickled in do not extend it, and a connection past it is shut down.
 *
 * TLS: with tls_cert_pem and tls_key_pem the server speaks HTTPS only
 * (libmicrohttpd over GnuTLS); a daemon that serves both runs two servers
 * with the same routes. */
#ifndef CAIRN_CN_HTTP_SERVER_H
#define CAIRN_CN_HTTP_SERVER_H

#include "cn_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cn_auth.h"
#include "cn_config.h"
#include "cn_tls.h"

#include "cn_roles.h"

struct cn_auth;
struct cn_tls;
struct cn_http_server;
struct cn_http_req;

struct cn_http_server_opts {
    const char *bind_addr;      /* IPv4 literal; NULL = "127.0.0.1" */
    uint16_t port;              /* 0 = any free port (see cn_http_server_port) */
    const struct cn_auth *auth; /* required unless every route is PUBLIC;
                                   borrowed: must outlive the server */
    /* Host header values ("host:port") accepted besides the connection's
     * local address and the bound port: the names other daemons use for this
     * one (--url, --advertise). NULL-terminated, borrowed; NULL = none. */
    const char *const *host_names;
    size_t replay_entries;              /* nonces remembered; 0 = 262144 */
    const struct cn_roles_table *roles; /* who may call what; NULL = cn_roles_cluster() */
    const struct cn_tls *tls_internal;  /* serve HTTPS with client certificates
                                           (cn_tls.h); borrowed; NULL = plain HTTP */
    const char *log_module;             /* module name for logs; NULL = "http" */
    unsigned conn_timeout_s;            /* idle timeout; 0 = 60 */
    size_t conn_memory_limit;           /* bytes per connection; 0 = 256 KiB; min 64 KiB */
    unsigned max_connections;           /* 0 = 256 */
    size_t max_buffered_body;           /* hard cap for cn_http_req_buffer_body; 0 = 64 MiB */
    size_t response_block_size;         /* reader block size for streamed responses; 0 = 256 KiB */
    unsigned per_ip_limit;              /* connections per client address; 0 = no limit */
    unsigned header_timeout_ms;         /* deadline for a request's headers; 0 = none */
    const char *tls_cert_pem;           /* PEM certificate (chain): with tls_key_pem, serve HTTPS;
                                           copied */
    const char *tls_key_pem;            /* PEM private key; copied (and wiped when freed) */
};

/* Connection counters of a server (cn_http_server_counters). */
struct cn_http_server_counters {
    uint64_t accepted;        /* connections accepted */
    uint64_t open;            /* connections open now */
    uint64_t header_timeouts; /* connections shut down by the header deadline */
    uint64_t limit_refused;   /* connections refused at max_connections or per_ip_limit */
};

/* Request handler: see the lifecycle at the top of this file. cls is the
 * pointer given to cn_http_server_route(). */
struct cn_http_handler {
    int (*begin)(struct cn_http_req *req, void *cls);
    int (*body)(struct cn_http_req *req, const void *data, size_t len, void *cls);
    int (*end)(struct cn_http_req *req, void *cls);
    void (*done)(struct cn_http_req *req, int ok, void *cls);
};

/* Route flags. */
#define CN_HTTP_ROUTE_PUBLIC 0x1u /* no X-Cairn-Auth check */
#define CN_HTTP_ROUTE_EXACT  0x2u /* path must equal the prefix, not start with it */

/* Creates a server (not yet listening). opts is copied (bind_addr and
 * log_module strings too). On success *out is owned by the caller
 * (cn_http_server_free). Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int cn_http_server_new(const struct cn_http_server_opts *opts, struct cn_http_server **out);

/* Adds a route: method ("GET", "PUT", ...; NULL or "*" = any method) and a path
 * prefix matched against the decoded request path ("/v1/fragment/"). handler
 * is copied; cls is borrowed and passed to every callback. Only before
 * cn_http_server_start(). Returns 0, CAIRN_E_INVAL (after start, or no end
 * callback) or CAIRN_E_NOMEM. */
int cn_http_server_route(struct cn_http_server *srv, const char *method, const char *prefix,
                         unsigned flags, const struct cn_http_handler *handler, void *cls);

/* Binds and starts serving. Returns 0, CAIRN_E_IO (bind failed: port in use,
 * ...) or CAIRN_E_INVAL (already started, or a protected route without auth). */
int cn_http_server_start(struct cn_http_server *srv);

/* The bound TCP port (the chosen one if opts.port was 0); 0 if not started. */
uint16_t cn_http_server_port(const struct cn_http_server *srv);

/* 1 if libmicrohttpd was built with TLS support (HTTPS can be served). */
int cn_http_server_tls_supported(void);

/* The server's connection counters (any thread). */
void cn_http_server_counters(const struct cn_http_server *srv, struct cn_http_server_counters *out);

/* Stops accepting, closes every connection and waits for all connection
 * threads, so no handler runs after it returns (done() is called for requests
 * in flight). Blocks while a handler is blocked. Idempotent. Must not be
 * called from a handler. */
void cn_http_server_stop(struct cn_http_server *srv);

/* Stops (if needed) and frees the server. NULL is fine. */
void cn_http_server_free(struct cn_http_server *srv);

/* ---- Request accessors: valid from begin() to the end of done(), on the
 * request's thread. Returned strings are owned by the request. ---- */

/* "GET", "PUT", ... */
const char *cn_http_req_method(const struct cn_http_req *req);
/* Decoded path without query ("/v1/fragment/ab12/3"). */
const char *cn_http_req_path(const struct cn_http_req *req);
/* Raw request-target exactly as received ("/b/k%20x?uploadId=7"): what the
 * HMAC and SigV4 sign. */
const char *cn_http_req_target(const struct cn_http_req *req);
/* Raw query string after '?' (no '?'), "" if none. */
const char *cn_http_req_query(const struct cn_http_req *req);
/* Decoded value of query argument name; NULL if absent, "" if it had no
 * value ("?uploads"). */
const char *cn_http_req_arg(const struct cn_http_req *req, const char *name);
/* Value of request header name (case-insensitive); NULL if absent. */
const char *cn_http_req_header(const struct cn_http_req *req, const char *name);
/* Calls fn(name, value, cls) for every request header in received order;
 * stops early when fn returns non-zero. */
void cn_http_req_headers_foreach(const struct cn_http_req *req,
                                 int (*fn)(const char *name, const char *value, void *cls),
                                 void *cls);
/* Content-Length of the request body, or -1 if none was given (chunked or no
 * body). */
int64_t cn_http_req_content_length(const struct cn_http_req *req);
/* The request id (also sent in the response's X-Cairn-Request-Id). */
const char *cn_http_req_id(const struct cn_http_req *req);
/* The authenticated sender's role (cn_roles.h); CN_ROLE_NONE on a PUBLIC
 * route. */
enum cn_role cn_http_req_role(const struct cn_http_req *req);
/* Writes the client's address "a.b.c.d:port" into buf. */
void cn_http_req_peer(const struct cn_http_req *req, char *buf, size_t len);

/* 1 when req came over TLS (its server has a certificate), else 0. */
int cn_http_req_tls(const struct cn_http_req *req);
/* Per-request handler state. */
void cn_http_req_set_data(struct cn_http_req *req, void *data);
void *cn_http_req_data(const struct cn_http_req *req);

/* From begin(): collect the body in memory instead of calling body(); it is
 * then available in end() through cn_http_req_body(). A body larger than
 * min(max, opts.max_buffered_body) is refused with 413 (end() not called).
 * Returns 0 or CAIRN_E_INVAL (not in begin()). */
int cn_http_req_buffer_body(struct cn_http_req *req, size_t max);
/* In end(): the buffered body (NUL-terminated for convenience, NUL not
 * counted) and its length; NULL/0 if not buffered or empty. Owned by the
 * request. */
const void *cn_http_req_body(const struct cn_http_req *req, size_t *len);

/* ---- Responses: exactly one respond call per request, from begin(), body()
 * or end(). Headers added first with cn_http_resp_header(). ---- */

/* Adds a response header (copied; an empty value is sent as a lone space,
 * which HTTP reads as empty). Content-Length and Transfer-Encoding are set by
 * the respond call, not here (for HEAD, use cn_http_respond_stream() with the
 * size: the reader is never called). Returns 0, CAIRN_E_INVAL (after a
 * respond call, CR/LF in the value, a framing header) or CAIRN_E_NOMEM. */
int cn_http_resp_header(struct cn_http_req *req, const char *name, const char *value);

/* Responds with data[len], a malloc'ed buffer the server takes over (no copy;
 * freed with free() when sent, and on every error). Same returns as
 * cn_http_respond. */
int cn_http_respond_take(struct cn_http_req *req, unsigned status, const char *content_type,
                         void *data, size_t len);

/* Responds with data[len] (copied). content_type may be NULL (none).
 * Returns 0, CAIRN_E_INVAL (already responded) or CAIRN_E_NOMEM. */
int cn_http_respond(struct cn_http_req *req, unsigned status, const char *content_type,
                    const void *data, size_t len);

/* Responds with a text/plain body "msg\n" (msg may be NULL: the reason phrase). */
int cn_http_respond_error(struct cn_http_req *req, unsigned status, const char *msg);

/* Streamed response body. reader(cls, pos, buf, max) is called on the
 * connection's thread when the socket can take more, with pos = bytes produced
 * so far; it may block, and returns the number of bytes written to buf
 * (1..max), CN_HTTP_READER_END at the end of the body, or CN_HTTP_READER_ERROR
 * to abort (the connection is closed; the client sees a short body). It must
 * not return 0. size is the exact body length (sent as Content-Length; the
 * reader is not called past it) or -1 for unknown (chunked encoding).
 * free_cls(cls), if not NULL, is called once when the response is finished or
 * abandoned, on any thread, and also if this call fails. Returns 0,
 * CAIRN_E_INVAL or CAIRN_E_NOMEM. */
#define CN_HTTP_READER_END   ((ssize_t)-1)
#define CN_HTTP_READER_ERROR ((ssize_t)-2)
typedef ssize_t (*cn_http_reader_fn)(void *cls, uint64_t pos, char *buf, size_t max);
int cn_http_respond_stream(struct cn_http_req *req, unsigned status, const char *content_type,
                           int64_t size, cn_http_reader_fn reader, void *cls,
                           void (*free_cls)(void *cls));
/* cn_http_respond_stream with the reader's block (max) of block bytes
 * instead of the server's response_block_size (0 = that; never more than
 * size): a reader that fills whole blocks in place (gw_get_open_direct)
 * saves a copy. The block is allocated with the response. */
int cn_http_respond_stream_block(struct cn_http_req *req, unsigned status, const char *content_type,
                                 int64_t size, size_t block, cn_http_reader_fn reader, void *cls,
                                 void (*free_cls)(void *cls));

/* Before the respond call: the answer's body is not covered by its
 * signature ("Body=unsigned"), e.g. fragment data whose integrity the
 * X-Cairn-*-CRC32C headers (which are signed) cover, to spare hashing it.
 * Clients accept such an answer only when they said so
 * (cn_http_request.resp_body_unsigned_ok). */
void cn_http_resp_body_unsigned(struct cn_http_req *req);

/* 1 if a respond call has been made for req. */
int cn_http_req_responded(const struct cn_http_req *req);

/* HTTP status a CAIRN_E_* code maps to by default (NOTFOUND 404, EXISTS 409,
 * INVAL/PROTO 400, AUTH 401, RANGE 416, PRECOND 412, BUSY 503, UNAVAIL 503,
 * NOSPACE 507, TIMEOUT 504, NOTLEADER 421, UNSUPPORTED 501, others 500). */
unsigned cn_http_status_for_error(int err);

/* ---- Shared daemon options: every daemon's config table can include the
 * same listener/auth options so they read alike everywhere:
 *
 *   static struct cn_http_daemon_config net;
 *   static const struct cn_config_option opts[] = {
 *       CN_HTTP_DAEMON_CONFIG_OPTIONS(&net, "9100"),
 *       ... the daemon's own options ...
 *   };
 *
 * gives --listen (default 127.0.0.1), --port, --cluster-secret-file,
 * --auth-max-skew (default 5m), --conn-memory (256K), --conn-timeout (60s),
 * --max-connections (256), and the internal-auth and internal-TLS options of
 * every daemon (CN_AUTH_DAEMON_OPTIONS, CN_TLS_INTERNAL_OPTIONS). Needs
 * cn_config.h. ---- */
struct cn_http_daemon_config {
    char *listen;
    int64_t port;
    char *cluster_secret_file;
    int64_t auth_max_skew_ms;
    int64_t conn_memory;
    int64_t conn_timeout_ms;
    int64_t max_connections;
    struct cn_auth_daemon_config auth_extra;
    struct cn_tls_config tls;
    enum cn_role role; /* set by the daemon before cn_http_daemon_setup() */
};

#define CN_HTTP_DAEMON_CONFIG_OPTIONS(cfg, default_port)                                           \
    CN_CONF_OPT_STRING("listen", "127.0.0.1", "IPv4 address to listen on", &(cfg)->listen),        \
        CN_CONF_OPT_INT("port", default_port, 0, 65535, "TCP port to listen on (0 = any)",         \
                        &(cfg)->port),                                                             \
        CN_CONF_OPT_STRING("cluster-secret-file", "",                                              \
                           "file holding the cluster secret for internal HMAC auth",               \
                           &(cfg)->cluster_secret_file),                                           \
        CN_CONF_OPT_DURATION("auth-max-skew", "5m", 1000, 24 * 3600 * 1000,                        \
                             "accepted clock difference on signed requests",                       \
                             &(cfg)->auth_max_skew_ms),                                            \
        CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 64 << 20,                               \
                         "memory per HTTP connection (headers and body chunks)",                   \
                         &(cfg)->conn_memory),                                                     \
        CN_CONF_OPT_DURATION("conn-timeout", "60s", 1000, 3600 * 1000,                             \
                             "idle HTTP connection timeout", &(cfg)->conn_timeout_ms),             \
        CN_CONF_OPT_INT("max-connections", "256", 1, 65536, "concurrent HTTP connections",         \
                        &(cfg)->max_connections),                                                  \
        CN_AUTH_DAEMON_OPTIONS(&(cfg)->auth_extra), CN_TLS_INTERNAL_OPTIONS(&(cfg)->tls)

/* Fills *opts from a loaded cn_http_daemon_config and creates the
 * credentials of cfg->role (cn_auth_open(): cluster_secret_file,
 * --cluster-secret-accept-file, --auth-compat-v1) with the internal TLS
 * credentials attached (*auth owned by the caller; free it after the
 * server). The listener itself stays plain: opts->tls_internal is for the
 * caller to set. opts->bind_addr points into cfg. log_module as given.
 * Returns 0, CAIRN_E_INVAL (no secret file configured, with a log line) or
 * cn_auth_open()'s or cn_tls_new()'s error. */
int cn_http_daemon_setup(const struct cn_http_daemon_config *cfg, const char *log_module,
                         struct cn_http_server_opts *opts, struct cn_auth **auth);

/* ---- Range header helper (RFC 9110, single range only) ---- */

#define CN_HTTP_RANGE_NONE 1 /* no usable Range: serve the whole body with 200 */

/* Parses a Range header value ("bytes=a-b", "bytes=a-", "bytes=-n") against a
 * body of size bytes. Returns 0 with off and len set (respond 206 with
 * Content-Range), CN_HTTP_RANGE_NONE if header is NULL, malformed, not
 * "bytes", or a multi-range (serve 200, as RFC 9110 allows), or CAIRN_E_RANGE
 * if unsatisfiable (respond 416 with "Content-Range: bytes * /size"). The end
 * b is clamped to size-1; "-n" with n > size gives the whole body. */
int cn_http_parse_range(const char *header, uint64_t size, uint64_t *off, uint64_t *len);

/* Formats a Content-Range value: "bytes off-(off+len-1)/size", or
 * "bytes * /size" (without the space) when len == 0. Returns buf. */
char *cn_http_format_content_range(uint64_t off, uint64_t len, uint64_t size, char *buf,
                                   size_t buflen);

#endif
