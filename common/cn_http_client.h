/* HTTP/1.1 client for internal calls (a libcurl wrapper).
 *
 * Threading: a struct cn_http_client (and a struct cn_http_fanout) is used by
 * ONE thread at a time; give each thread its own. Each keeps its connections
 * alive between calls (curl connection cache), so a thread that keeps its
 * client reuses connections to the same servers. Different clients may be used
 * concurrently from different threads. A shared struct cn_auth is fine.
 *
 * Timeouts are never infinite: every request has a connect timeout and a total
 * timeout (client defaults, overridable per request), plus a stall timeout
 * (abort when no byte moved for that long).
 *
 * Signing (cn_auth.h, docs/security.md): with opts.auth set, every request
 * is signed for the role of the daemon serving its route (cn_roles.h; or
 * request.to_role) and carries a Host header naming base_url's host:port. A
 * buffered body's tag is in the signature; a streamed body (reader, push) is
 * followed by its 16-byte tag (Body=suffix). Every answer must be signed for its
 * request (else the call returns CAIRN_E_AUTH, whatever the status, e.g. the
 * server's own 401), and its body covered by the signature unless the
 * request sets resp_body_unsigned_ok (fragment data) or is a HEAD. With the
 * auth's internal TLS credentials (cn_auth_set_tls), every URL is reached
 * over https with the client certificate.
 *
 * Result convention: a call returns 0 when an HTTP response was received,
 * WHATEVER its status (check resp->status); a negative CAIRN_E_* code when no
 * complete response was obtained: CAIRN_E_TIMEOUT (connect/total/stall
 * timeout), CAIRN_E_IO (refused, reset, short body, DNS), CAIRN_E_RANGE
 * (buffered response larger than resp_max), CAIRN_E_INVAL (bad request), or the
 * negative code a reader/writer callback returned, CAIRN_E_AUTH (an answer
 * that is not authentic). */
#ifndef CAIRN_CN_HTTP_CLIENT_H
#define CAIRN_CN_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cn_roles.h"

struct cn_auth;
struct cn_http_client;
struct cn_http_fanout;

struct cn_http_client_opts {
    const struct cn_auth *auth;         /* borrowed; NULL = unsigned requests */
    int64_t connect_timeout_ms;         /* 0 = 2000 */
    int64_t timeout_ms;                 /* total per request; 0 = 30000 */
    int64_t stall_timeout_ms;           /* no progress for this long aborts; 0 = 10000;
                                           whole seconds (rounded up) */
    const struct cn_roles_table *roles; /* who serves which route; NULL = cn_roles_cluster() */
};

/* Request body reader: write up to max bytes into buf and return how many;
 * return 0 at the end of the body, or a negative CAIRN_E_* code to abort. May
 * block (within the request's timeouts). */
typedef ssize_t (*cn_http_body_reader_fn)(void *cls, char *buf, size_t max);
/* Response body writer: consume data[len]; return 0, a negative CAIRN_E_*
 * code to abort the request, or CN_HTTP_WRITER_LATER (only in a fan-out
 * round begun with cn_http_fanout_start) when it has no room yet: the
 * transfer holds data[len] and reads no more until cn_http_fanout_wait, which
 * hands it over again. */
typedef int (*cn_http_body_writer_fn)(void *cls, const void *data, size_t len);
#define CN_HTTP_WRITER_LATER 1

struct cn_http_request {
    const char *method;         /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *base_url;       /* "http://127.0.0.1:9100" (scheme://host:port, no path) */
    const char *target;         /* "/v1/fragment/ab?x=1": path and query exactly as
                                   they go on the wire (already %-encoded); signed */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const char *request_id;     /* sent as X-Cairn-Request-Id; NULL: the id of the request
                                   this thread serves (cn_log_request), if any; "": none */

    /* Request body: EITHER a buffer (body, body_len; body may be NULL when
     * body_len is 0) OR a reader (body_reader, body_cls, body_size: exact
     * length sent as Content-Length, or -1 for chunked encoding). */
    const void *body;
    size_t body_len;
    cn_http_body_reader_fn body_reader;
    void *body_cls;
    int64_t body_size;

    /* The role of the daemon at base_url; CN_ROLE_NONE = the role table's
     * for method + target. */
    enum cn_role to_role;
    /* Accept an answer whose body its signature does not cover (fragment
     * data: the caller checks the signed CRC32C headers instead). */
    int resp_body_unsigned_ok;

    /* Response body: with resp_writer set, a 2xx body is passed to it as it
     * arrives and NOT buffered; the body of any other status is buffered into
     * resp->body (first 64 KiB kept, the rest dropped). Without resp_writer,
     * the body is buffered into resp->body; resp_max caps it (0 = 1 MiB). */
    cn_http_body_writer_fn resp_writer;
    void *resp_cls;
    size_t resp_max;

    int64_t timeout_ms; /* overrides the client's total timeout if > 0 */
};

/* One response header (name and value without surrounding whitespace). */
struct cn_http_header {
    char *name;
    char *value;
};

struct cn_http_response {
    int status; /* HTTP status, e.g. 200 */
    char *body; /* malloc'd, NUL-terminated (NUL not counted); may be NULL */
    size_t body_len;
    struct cn_http_header *headers; /* n_headers entries, in received order */
    size_t n_headers;
};

/* Initialises libcurl once for the process (thread-safe, idempotent; called
 * by cn_http_client_new / cn_http_fanout_new too). Returns 0 or CAIRN_E_IO. */
int cn_http_global_init(void);

/* Creates a client. opts copied (auth is borrowed and must outlive the client).
 * On success *out is owned by the caller (cn_http_client_free). Returns 0,
 * CAIRN_E_NOMEM or CAIRN_E_IO. */
int cn_http_client_new(const struct cn_http_client_opts *opts, struct cn_http_client **out);
/* Frees the client and closes its connections. NULL is fine. */
void cn_http_client_free(struct cn_http_client *c);

/* Performs one blocking request on the calling thread. resp must be zeroed or
 * cleared before (it is overwritten); after the call the caller owns its
 * contents and frees them with cn_http_response_clear() in every case. Returns
 * as described at the top of this file. */
int cn_http_client_do(struct cn_http_client *c, const struct cn_http_request *req,
                      struct cn_http_response *resp);

/* Value of response header name (case-insensitive, first match) or NULL. */
const char *cn_http_response_header(const struct cn_http_response *resp, const char *name);
/* Frees what a response owns and zeroes it. */
void cn_http_response_clear(struct cn_http_response *resp);

/* ---- Fan-out: n requests in parallel from ONE thread (curl multi) ----
 *
 * A fanout object keeps its own connection cache; reuse it (per thread) for
 * the next round to reuse connections. At most CN_HTTP_FANOUT_MAX requests per
 * round. Two styles of round:
 *
 *  a) cn_http_fanout_run(): run n ordinary requests (buffer or reader bodies,
 *     buffered or writer responses) concurrently; returns when all finished.
 *     Readers and writers are called on the calling thread and should not block.
 *
 *  b) Push-style streaming uploads (the gateway's k+m fragment PUTs):
 *     cn_http_fanout_begin() starts n requests whose bodies the caller then
 *     pushes piece by piece with cn_http_fanout_write() and ends with
 *     cn_http_fanout_finish(). body/body_reader fields of the requests are
 *     ignored; body_size is honoured (exact Content-Length, or -1 = chunked).
 *     A stream that fails (error, timeout, early response) is dropped: later
 *     writes skip it and cn_http_fanout_status() reports its error; the others
 *     continue. */
#define CN_HTTP_FANOUT_MAX 64

/* Creates a fanout object. Same ownership rules as cn_http_client_new(). */
int cn_http_fanout_new(const struct cn_http_client_opts *opts, struct cn_http_fanout **out);
/* Frees it (aborting a round in progress). NULL is fine. */
void cn_http_fanout_free(struct cn_http_fanout *f);

/* Runs reqs[0..n-1] concurrently. resps[0..n-1] and errs[0..n-1] receive each
 * request's response and result (as cn_http_client_do() would return). The
 * caller clears every resps[i]. Returns 0, or CAIRN_E_INVAL (n too large, a
 * round in progress: refused, that round is left as it is) or CAIRN_E_NOMEM
 * (nothing started; resps and errs untouched). */
int cn_http_fanout_run(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n,
                       struct cn_http_response *resps, int *errs);

/* cn_http_fanout_run in two halves, so the servers work while the caller does
 * something else: start sends the requests as far as the sockets take them at
 * once and returns; the responses wait in the sockets until
 * cn_http_fanout_wait, which runs them to the end and fills resps[0..n-1] and
 * errs[0..n-1] as run does. On a kept connection an answer can start to come
 * within start: a writer with nowhere to put it yet returns
 * CN_HTTP_WRITER_LATER and is handed the same bytes again in wait. reqs (and what they point to)
 * must stay valid until wait or abort, and the fanout is not used otherwise meanwhile. start
 * returns 0, CAIRN_E_INVAL (n too large, a round in progress) or CAIRN_E_NOMEM (nothing started);
 * wait returns 0 or CAIRN_E_INVAL (no round started). */
int cn_http_fanout_start(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n);
int cn_http_fanout_wait(struct cn_http_fanout *f, struct cn_http_response *resps, int *errs);
/* Abandons a started (or push) round: its transfers end, their connections
 * close. No round: nothing. NULL is fine. */
void cn_http_fanout_abort(struct cn_http_fanout *f);

/* Starts a push-style round of n streaming uploads (requests are copied; their
 * strings must stay valid until finish). Returns 0, CAIRN_E_INVAL (n too
 * large, a round in progress: refused, that round is left as it is) or
 * CAIRN_E_NOMEM (nothing started). */
int cn_http_fanout_begin(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n);

/* Hands bufs[i][0..lens[i]) to stream i for every i < n (lens[i] may be 0; a
 * NULL bufs[i] counts as 0; more bytes than a stream's declared body_size
 * fail that stream with CAIRN_E_RANGE) and drives all transfers until every live stream
 * has taken its piece (the bytes are then copied; the caller may reuse its
 * buffers) or has failed. Returns the number of streams not failed (live or
 * complete, see cn_http_fanout_status), >= 0. */
int cn_http_fanout_write(struct cn_http_fanout *f, const void *const *bufs, const size_t *lens);

/* Ends every live stream's body and waits for all responses. resps[0..n-1]
 * receive the responses; errs[0..n-1] each stream's result (0 = a response
 * was received, whatever its status). The caller clears every resps[i]. After
 * finish a new round may begin. Returns the number of streams with errs[i] ==
 * 0 and a 2xx status. */
int cn_http_fanout_finish(struct cn_http_fanout *f, struct cn_http_response *resps, int *errs);

/* During a push round: 0 while stream i is alive (or complete: its whole
 * declared body_size went out and the response arrived), else its error
 * (negative); CAIRN_E_IO also when the server answered before the body ended
 * (the response is then in finish's resps[i] with errs[i] == 0). */
int cn_http_fanout_status(const struct cn_http_fanout *f, size_t i);

/* During a push round: drops stream i (e.g. too slow); its errs[] entry at
 * finish is CAIRN_E_SHUTDOWN. */
void cn_http_fanout_drop(struct cn_http_fanout *f, size_t i);

#endif
