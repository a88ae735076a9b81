#include "cn_http_client.h"
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_tls.h"
#include "cn_util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_TIMEOUT_MS         30000
#define DEFAULT_STALL_TIMEOUT_MS   10000
#define DEFAULT_RESP_MAX           (1u << 20)
#define ERROR_BODY_MAX             (64u * 1024)
#define MAX_RESP_HEADERS           128
#define MAX_RESP_HEADER_BYTES      (64u * 1024)
#define RECV_BUFFER_SIZE           (256L * 1024)
#define UPLOAD_BUFFER_SIZE         (256L * 1024)
#define MAX_IDLE_REUSE_S           30L
/* idle connections a fan-out keeps (one per server it talks to) */
#define FANOUT_CONN_CACHE 64
/* A streamed body of a known size up to this goes without Expect:
 * 100-continue (no round trip before the body); larger ones keep it, so a
 * refused upload is not sent. */
#define EXPECT_THRESHOLD (1u << 20)

struct cn_http_client {
    struct cn_http_client_opts opts;
    CURL *easy;
};

/* State of one transfer. */
struct xfer {
    CURL *easy;
    const struct cn_http_request *req;
    struct cn_http_response *resp;
    struct curl_slist *hdrs;
    char *url;
    int err;        /* error set by a callback (negative) */
    int body_state; /* 0 = first write not seen, 1 = to writer, 2 = buffered, 3 = error body */
    size_t resp_limit;
    size_t resp_cap;
    size_t header_bytes;
    /* buffered request body */
    const char *body;
    size_t body_len, body_pos;
    /* push-mode request body (fanout) */
    const char *piece;
    size_t piece_len, piece_pos;
    uint64_t pushed;   /* body bytes handed to curl */
    uint64_t assigned; /* body bytes given to cn_http_fanout_write() */
    int eof, paused;
    int may_hold; /* a cn_http_fanout_start round: the writer may say LATER */
    int wpaused;  /* the writer said LATER: the transfer holds its data */
    /* authentication: the exchange, the streamed request body's tag (its raw
     * bytes follow the body: Body=suffix), the answer's body tag */
    int authed;
    int compat_v1; /* also accept an answer without a signature (old server) */
    struct cn_auth_exchange ex;
    struct cn_auth_mac req_mac;
    struct cn_auth_mac resp_mac;
    int req_mac_failed;
    uint64_t body_sent; /* streamed body bytes handed to curl (reader mode) */
    int suffix_state;   /* 0 body still going, 1 tag made, 2 tag sent */
    size_t suffix_pos;
    unsigned char suffix[CN_AUTH_SUFFIX_LEN];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : CAIRN_E_IO;
}

int cn_http_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc;
}

static void normalize_opts(struct cn_http_client_opts *o)
{
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (o->timeout_ms <= 0)
        o->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (o->stall_timeout_ms <= 0)
        o->stall_timeout_ms = DEFAULT_STALL_TIMEOUT_MS;
}

/* ---- responses ---- */

const char *cn_http_response_header(const struct cn_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

static void headers_clear(struct cn_http_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    resp->headers = NULL;
    resp->n_headers = 0;
}

void cn_http_response_clear(struct cn_http_response *resp)
{
    if (!resp)
        return;
    headers_clear(resp);
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

/* ---- curl callbacks ---- */

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new status line (e.g. after 100 Continue): start over */
        headers_clear(x->resp);
        x->header_bytes = 0;
        return n;
    }
    x->header_bytes += n;
    if (x->header_bytes > MAX_RESP_HEADER_BYTES || x->resp->n_headers >= MAX_RESP_HEADERS)
        return n; /* keep the first ones, drop the rest */
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    const char *ne = colon;
    const char *vb = colon + 1, *ve = data + n;
    while (vb < ve && (*vb == ' ' || *vb == '\t'))
        vb++;
    while (ve > vb && isspace((unsigned char)ve[-1]))
        ve--;
    struct cn_http_header *grown =
        realloc(x->resp->headers, (x->resp->n_headers + 1) * sizeof(*grown));
    if (!grown) {
        x->err = CAIRN_E_NOMEM;
        return 0;
    }
    x->resp->headers = grown;
    struct cn_http_header *h = &grown[x->resp->n_headers];
    h->name = strndup(data, (size_t)(ne - data));
    h->value = strndup(vb, (size_t)(ve - vb));
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        x->err = CAIRN_E_NOMEM;
        return 0;
    }
    x->resp->n_headers++;
    return n;
}

static int buffer_append(struct xfer *x, const char *data, size_t n)
{
    struct cn_http_response *r = x->resp;
    if (r->body_len + n + 1 > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 16 * 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (!grown)
            return CAIRN_E_NOMEM;
        r->body = grown;
        x->resp_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    if (x->body_state == 0) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (x->req->resp_writer)
            x->body_state = code >= 200 && code < 300 ? 1 : 3;
        else
            x->body_state = 2;
    }
    if (x->body_state == 1) {
        int rc = x->req->resp_writer(x->req->resp_cls, data, n);
        if (rc == CN_HTTP_WRITER_LATER && x->may_hold) {
            /* libcurl keeps data and hands it over again once unpaused
             * (cn_http_fanout_wait): nothing of it is taken yet */
            x->wpaused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (rc != 0) {
            x->err = rc < 0 ? rc : CAIRN_E_INVAL;
            return 0;
        }
    }
    if (x->resp_mac.ctx && cn_auth_mac_update(&x->resp_mac, data, n) < 0) {
        x->err = CAIRN_E_NOMEM;
        return 0;
    }
    if (x->body_state == 1)
        return n;
    size_t limit = x->body_state == 3 ? ERROR_BODY_MAX : x->resp_limit;
    if (x->resp->body_len + n > limit) {
        if (x->body_state == 3) {
            size_t keep = limit - x->resp->body_len;
            if (keep && buffer_append(x, data, keep) < 0) {
                x->err = CAIRN_E_NOMEM;
                return 0;
            }
            return n;
        }
        x->err = CAIRN_E_RANGE;
        return 0;
    }
    if (buffer_append(x, data, n) < 0) {
        x->err = CAIRN_E_NOMEM;
        return 0;
    }
    return n;
}

static size_t read_buffer_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t max = size * nmemb;
    size_t left = x->body_len - x->body_pos;
    size_t n = left < max ? left : max;
    if (n)
        memcpy(buf, x->body + x->body_pos, n);
    x->body_pos += n;
    return n;
}

/* Lets curl rewind a buffered body (it resends on a reused connection that
 * turned out dead). Streamed bodies cannot be rewound. */
static int seek_buffer_cb(void *userp, curl_off_t offset, int origin)
{
    struct xfer *x = userp;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* A streamed body's bytes go into its tag as they go to curl. */
static void req_mac_update(struct xfer *x, const char *buf, size_t n)
{
    if (x->req_mac.ctx && cn_auth_mac_update(&x->req_mac, buf, n) < 0)
        x->req_mac_failed = 1;
}

/* After a streamed body's last byte (Body=suffix): its tag, raw. Returns
 * the bytes written into buf (0 once all went), or CURL_READFUNC_ABORT. */
static size_t suffix_read(struct xfer *x, char *buf, size_t max)
{
    if (!x->req_mac.ctx && x->suffix_state == 0)
        return 0; /* not signed */
    if (x->suffix_state == 0) {
        if (x->req_mac_failed || cn_auth_mac_end_raw(&x->req_mac, x->suffix) < 0) {
            x->err = CAIRN_E_NOMEM;
            return CURL_READFUNC_ABORT;
        }
        x->suffix_state = 1;
    }
    size_t n = CN_AUTH_SUFFIX_LEN - x->suffix_pos;
    if (n > max)
        n = max;
    memcpy(buf, x->suffix + x->suffix_pos, n);
    x->suffix_pos += n;
    if (x->suffix_pos == CN_AUTH_SUFFIX_LEN)
        x->suffix_state = 2;
    return n;
}

static size_t read_reader_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t max = size * nmemb;
    if (x->suffix_state || (x->req->body_size >= 0 && x->body_sent == (uint64_t)x->req->body_size))
        return suffix_read(x, buf, max);
    if (x->req->body_size >= 0 && max > (uint64_t)x->req->body_size - x->body_sent)
        max = (size_t)((uint64_t)x->req->body_size - x->body_sent);
    ssize_t n = x->req->body_reader(x->req->body_cls, buf, max);
    if (n < 0) {
        x->err = (int)n;
        return CURL_READFUNC_ABORT;
    }
    if (n == 0)
        return suffix_read(x, buf, size * nmemb);
    req_mac_update(x, buf, (size_t)n);
    x->body_sent += (uint64_t)n;
    return (size_t)n;
}

static size_t read_push_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t max = size * nmemb;
    size_t left = x->piece_len - x->piece_pos;
    if (left == 0) {
        if (x->eof || x->suffix_state ||
            (x->req->body_size >= 0 && x->pushed == (uint64_t)x->req->body_size))
            return suffix_read(x, buf, max);
        x->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    size_t n = left < max ? left : max;
    memcpy(buf, x->piece + x->piece_pos, n);
    req_mac_update(x, buf, n);
    x->piece_pos += n;
    x->pushed += n;
    return n;
}

/* ---- request setup ---- */

static void xfer_cleanup(struct xfer *x)
{
    cn_auth_mac_abort(&x->req_mac);
    cn_auth_mac_abort(&x->resp_mac);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    free(x->url);
    x->url = NULL;
}

static int curl_slist_append_ok(struct xfer *x, const char *line)
{
    struct curl_slist *l = curl_slist_append(x->hdrs, line);
    if (!l)
        return 0;
    x->hdrs = l;
    return 1;
}

static int add_header(struct xfer *x, const char *fmt_name, const char *value)
{
    char line[512];
    snprintf(line, sizeof(line), "%s: %s", fmt_name, value);
    struct curl_slist *l = curl_slist_append(x->hdrs, line);
    if (!l)
        return CAIRN_E_NOMEM;
    x->hdrs = l;
    return 0;
}

static int has_body(const struct cn_http_request *req)
{
    return req->body_reader || req->body_len > 0 || strcmp(req->method, "PUT") == 0 ||
           strcmp(req->method, "POST") == 0;
}

/* The Host a request is signed for and sent with: the authority of
 * base_url with its port ("127.0.0.1:9300"; 80 or 443 added when absent),
 * lowercase. Returns 0 or CAIRN_E_INVAL. */
static int host_of(const char *base_url, int tls, char *out, size_t cap)
{
    const char *p = base_url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strncmp(p, "https://", 8) == 0)
        p += 8;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n + 8 > cap)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[n] = '\0';
    const char *colon = strrchr(out, ':');
    if (!colon || strchr(colon, ']'))
        snprintf(out + n, cap - n, ":%d", tls ? 443 : 80);
    return 0;
}

/* Signs req (docs/security.md): Host, the CAIRN1 headers with
 * --auth-compat-v1, X-Cairn-Signature; a streamed body is followed by its
 * tag (xfer_setup counts it in the size). Starts the answer's body tag. */
static int sign_request(struct xfer *x, const struct cn_http_client_opts *opts,
                        const struct cn_http_request *req, int streamed, int tls)
{
    const struct cn_auth *auth = opts->auth;
    enum cn_role to = req->to_role != CN_ROLE_NONE
                          ? req->to_role
                          : cn_roles_served_by(opts->roles, req->method, req->target);
    if (to == CN_ROLE_NONE) {
        CN_WARN("http", "%s %s: no daemon role serves this route (cn_roles.c)", req->method,
                req->target);
        return CAIRN_E_INVAL;
    }
    int rc = cn_auth_client_begin(auth, to, cn_wall_ms(), &x->ex);
    if (rc < 0) {
        CN_WARN("http", "%s %s: a %s cannot sign for a %s", req->method, req->target,
                cn_role_name(cn_auth_role(auth)), cn_role_name(to));
        return rc;
    }
    char host[320];
    if ((rc = host_of(req->base_url, tls, host, sizeof(host))) < 0 ||
        (rc = add_header(x, "Host", host)) < 0)
        return rc;
    if (cn_auth_compat_v1(auth)) {
        char hex[65];
        const char *body_hash = NULL;
        if (!streamed) {
            cn_sha256_hex(req->body ? req->body : "", req->body_len, hex);
            body_hash = hex;
        }
        struct cn_auth_v1_headers v1;
        if ((rc = cn_auth_v1_sign(auth, req->method, req->target, cn_wall_s(), body_hash, &v1)) <
                0 ||
            (rc = add_header(x, CN_HDR_DATE, v1.date)) < 0 ||
            (rc = add_header(x, CN_HDR_BODY_HASH, v1.body_sha256)) < 0 ||
            (rc = add_header(x, CN_HDR_AUTH, v1.auth)) < 0)
            return rc;
        x->compat_v1 = 1;
    }
    struct cn_auth_hdrs hdrs;
    cn_auth_hdrs_init(&hdrs);
    for (struct curl_slist *l = x->hdrs; l; l = l->next)
        cn_auth_hdrs_add_line(&hdrs, l->data);
    char tag[CN_AUTH_TAG_HEX];
    const char *tagp = NULL;
    if (streamed) {
        rc = cn_auth_mac_begin(&x->ex, 0, &x->req_mac);
    } else {
        rc = cn_auth_body_tag(&x->ex, 0, req->body ? req->body : "", req->body_len, tag);
        tagp = tag;
    }
    if (rc < 0)
        return rc;
    char sig[CN_AUTH_HEADER_MAX];
    struct cn_auth_msg msg = {req->method, host, req->target, &hdrs};
    if ((rc = cn_auth_client_sign(&x->ex, &msg, tagp, sig)) < 0 ||
        (rc = add_header(x, CN_HDR_SIGNATURE, sig)) < 0)
        return rc;
    if (streamed && req->body_size >= 0 && req->body_size <= EXPECT_THRESHOLD &&
        !curl_slist_append_ok(x, "Expect:"))
        return CAIRN_E_NOMEM;
    rc = cn_auth_mac_begin(&x->ex, 1, &x->resp_mac);
    if (rc < 0)
        return rc;
    x->authed = 1;
    return 0;
}

/* Configures easy for req. push selects the fanout's push-mode body. */
static int xfer_setup(struct xfer *x, CURL *easy, const struct cn_http_client_opts *opts,
                      const struct cn_http_request *req, struct cn_http_response *resp, int push)
{
    memset(x, 0, sizeof(*x));
    x->easy = easy;
    x->req = req;
    x->resp = resp;
    memset(resp, 0, sizeof(*resp));
    x->resp_limit = req->resp_max ? req->resp_max : DEFAULT_RESP_MAX;
    if (!req->method || !req->base_url || !req->target || req->target[0] != '/')
        return CAIRN_E_INVAL;
    if (req->body_len && !req->body)
        return CAIRN_E_INVAL;

    const struct cn_tls *tls = cn_auth_tls(opts->auth);
    size_t ul = strlen(req->base_url) + strlen(req->target) + 16;
    x->url = malloc(ul);
    if (!x->url)
        return CAIRN_E_NOMEM;
    if (tls) {
        /* Internal TLS: every link is https, whatever the URL says. */
        if (cn_tls_https_url(req->base_url, x->url, ul) < 0)
            return CAIRN_E_INVAL;
        strcat(x->url, req->target);
    } else {
        snprintf(x->url, ul, "%s%s", req->base_url, req->target);
    }

    int rc;
    int body = push || has_body(req);
    int streamed = push || req->body_reader;
    /* By default the id of the request this thread serves: one client
     * request's lines can then be found in every daemon's log. */
    const char *rid = req->request_id ? req->request_id : cn_log_request();
    if (rid && *rid && (rc = add_header(x, CN_HDR_REQUEST_ID, rid)) < 0)
        return rc;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(x->hdrs, *h);
        if (!l)
            return CAIRN_E_NOMEM;
        x->hdrs = l;
    }
    if (opts->auth && (rc = sign_request(x, opts, req, streamed, tls != NULL)) < 0)
        return rc;

    curl_easy_reset(easy); /* keeps live connections and caches */
    if (tls && cn_tls_curl_setup(tls, easy) < 0)
        return CAIRN_E_IO;
    curl_easy_setopt(easy, CURLOPT_URL, x->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)opts->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     (long)(req->timeout_ms > 0 ? req->timeout_ms : opts->timeout_ms));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)((opts->stall_timeout_ms + 999) / 1000));
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    /* Reuse an idle connection only while the server surely keeps it (its
     * idle timeout is 60 s by default). */
    curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN, MAX_IDLE_REUSE_S);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
    curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER_SIZE);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);

    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (body) {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        if (strcmp(req->method, "PUT") != 0)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
        curl_off_t size;
        if (push) {
            curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_push_cb);
            size = req->body_size >= 0 ? (curl_off_t)req->body_size : -1;
        } else if (req->body_reader) {
            curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_reader_cb);
            size = req->body_size >= 0 ? (curl_off_t)req->body_size : -1;
        } else {
            x->body = req->body;
            x->body_len = req->body_len;
            curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_buffer_cb);
            curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, seek_buffer_cb);
            curl_easy_setopt(easy, CURLOPT_SEEKDATA, x);
            size = (curl_off_t)req->body_len;
        }
        if (streamed && x->authed && size >= 0)
            size += CN_AUTH_SUFFIX_LEN; /* the body's tag follows it */
        curl_easy_setopt(easy, CURLOPT_READDATA, x);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, size);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->hdrs);
    return 0;
}

/* An answer to a signed request must carry a valid signature for it
 * (cn_auth_client_check_response); its body must be covered unless the
 * request allowed otherwise or it is an answer to HEAD. */
static int check_response(struct xfer *x, long code)
{
    const char *sig = cn_http_response_header(x->resp, CN_HDR_RESPONSE_SIGNATURE);
    if (!sig && x->compat_v1)
        return 0; /* an old server, during a rolling upgrade */
    char tag[CN_AUTH_TAG_HEX];
    const char *tagp = NULL;
    if (x->resp_mac.ctx && cn_auth_mac_end(&x->resp_mac, tag) == 0)
        tagp = tag;
    struct cn_auth_hdrs hdrs;
    cn_auth_hdrs_init(&hdrs);
    for (size_t i = 0; i < x->resp->n_headers; i++)
        cn_auth_hdrs_add(&hdrs, x->resp->headers[i].name, strlen(x->resp->headers[i].name),
                         x->resp->headers[i].value, strlen(x->resp->headers[i].value));
    int body_signed = 0;
    if (cn_auth_client_check_response(&x->ex, (unsigned)code, &hdrs, sig, tagp, &body_signed) < 0) {
        CN_WARN("http", "%s %s%s: answer (HTTP %ld) not authentic: %s", x->req->method,
                x->req->base_url, x->req->target, code,
                sig ? "bad " CN_HDR_RESPONSE_SIGNATURE : "no " CN_HDR_RESPONSE_SIGNATURE);
        return CAIRN_E_AUTH;
    }
    if (!body_signed && !x->req->resp_body_unsigned_ok && strcmp(x->req->method, "HEAD") != 0) {
        CN_WARN("http", "%s %s%s: answer's body not signed", x->req->method, x->req->base_url,
                x->req->target);
        return CAIRN_E_AUTH;
    }
    return 0;
}

/* Maps a finished transfer to the module's result convention. */
static int xfer_result(struct xfer *x, CURLcode cc)
{
    if (x->err < 0)
        return x->err;
    if (cc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        x->resp->status = (int)code;
        if (code <= 0)
            return CAIRN_E_PROTO;
        return x->authed ? check_response(x, code) : 0;
    }
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return CAIRN_E_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return CAIRN_E_INVAL;
    case CURLE_OUT_OF_MEMORY:
        return CAIRN_E_NOMEM;
    default:
        return CAIRN_E_IO;
    }
}

/* ---- single client ---- */

int cn_http_client_new(const struct cn_http_client_opts *opts, struct cn_http_client **out)
{
    int rc = cn_http_global_init();
    if (rc < 0)
        return rc;
    struct cn_http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    if (opts)
        c->opts = *opts;
    normalize_opts(&c->opts);
    c->easy = curl_easy_init();
    if (!c->easy) {
        free(c);
        return CAIRN_E_NOMEM;
    }
    *out = c;
    return 0;
}

void cn_http_client_free(struct cn_http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->easy);
    free(c);
}

int cn_http_client_do(struct cn_http_client *c, const struct cn_http_request *req,
                      struct cn_http_response *resp)
{
    if (!c || !req || !resp)
        return CAIRN_E_INVAL;
    int rc;
    for (int attempt = 0;; attempt++) {
        struct xfer x;
        rc = xfer_setup(&x, c->easy, &c->opts, req, resp, 0);
        if (rc < 0) {
            xfer_cleanup(&x);
            return rc;
        }
        CURLcode cc = curl_easy_perform(c->easy);
        rc = xfer_result(&x, cc);
        if (rc < 0 && cc != CURLE_OK)
            CN_DEBUG("http", "%s %s%s: %s (%s)", req->method, req->base_url, req->target,
                     curl_easy_strerror(cc), cairn_strerror(rc));
        /* Do not leave pointers into this stack frame in the handle. */
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
        xfer_cleanup(&x);
        /* Signed just before the server (re)started: once more, signed
         * afresh, if the body can be sent again. */
        const char *err = rc == CAIRN_E_AUTH && resp->status == 401 && !req->body_reader
                              ? cn_http_response_header(resp, CN_HDR_ERROR)
                              : NULL;
        if (attempt > 0 || !err || strcmp(err, CN_AUTH_ERROR_STALE) != 0)
            return rc;
        CN_DEBUG("http", "%s %s%s: signed before the server started; again", req->method,
                 req->base_url, req->target);
        cn_http_response_clear(resp);
    }
}

/* ---- fan-out ---- */

struct stream {
    CURL *easy;
    struct xfer x;
    struct cn_http_request req; /* copy (push rounds) */
    struct cn_http_response resp;
    int active; /* part of the current round */
    int done;   /* transfer finished (result in result) */
    int result;
};

struct cn_http_fanout {
    struct cn_http_client_opts opts;
    CURLM *multi;
    struct stream s[CN_HTTP_FANOUT_MAX];
    size_t n;
    int round; /* 0 idle, 1 run, 2 push */
};

int cn_http_fanout_new(const struct cn_http_client_opts *opts, struct cn_http_fanout **out)
{
    int rc = cn_http_global_init();
    if (rc < 0)
        return rc;
    struct cn_http_fanout *f = calloc(1, sizeof(*f));
    if (!f)
        return CAIRN_E_NOMEM;
    if (opts)
        f->opts = *opts;
    normalize_opts(&f->opts);
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return CAIRN_E_NOMEM;
    }
    /* Keep a connection to each server the rounds talk to. libcurl's
     * default cache is 4 per handle in the multi at the time, which falls as
     * a round's handles are removed: rounds over more servers than that
     * (six chunkservers for 4+2) closed and reopened connections all along. */
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)FANOUT_CONN_CACHE);
    *out = f;
    return 0;
}

static void stream_finish(struct cn_http_fanout *f, struct stream *st, int result)
{
    if (st->done)
        return;
    curl_multi_remove_handle(f->multi, st->easy);
    curl_easy_setopt(st->easy, CURLOPT_HTTPHEADER, NULL);
    st->done = 1;
    st->result = result;
}

static void drain_messages(struct cn_http_fanout *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        for (size_t i = 0; i < f->n; i++) {
            struct stream *st = &f->s[i];
            if (st->active && !st->done && st->easy == m->easy_handle) {
                CURLcode cc = m->data.result;
                stream_finish(f, st, xfer_result(&st->x, cc));
                break;
            }
        }
        (void)x;
    }
}

/* One step of the multi loop: perform, collect finished transfers, and wait
 * (at most wait_ms) for socket activity. */
static void multi_step(struct cn_http_fanout *f, int wait_ms)
{
    int running = 0;
    curl_multi_perform(f->multi, &running);
    drain_messages(f);
    if (running > 0 && wait_ms > 0) {
        curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(f->multi, &running);
        drain_messages(f);
    }
}

static void round_reset(struct cn_http_fanout *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        if (st->active && !st->done)
            stream_finish(f, st, CAIRN_E_SHUTDOWN);
        xfer_cleanup(&st->x);
        cn_http_response_clear(&st->resp);
        st->active = 0;
        st->done = 0;
    }
    f->n = 0;
    f->round = 0;
}

void cn_http_fanout_free(struct cn_http_fanout *f)
{
    if (!f)
        return;
    round_reset(f);
    for (size_t i = 0; i < CN_HTTP_FANOUT_MAX; i++) {
        if (f->s[i].easy)
            curl_easy_cleanup(f->s[i].easy);
    }
    curl_multi_cleanup(f->multi);
    free(f);
}

/* Starts a round of n streams. Refuses (CAIRN_E_INVAL, CAIRN_E_NOMEM) before
 * it changes anything: a round in progress, bad arguments, no handle. A
 * stream that cannot be set up is failed in the round (done, its error). */
static int start_round(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n,
                       int push)
{
    if (n > CN_HTTP_FANOUT_MAX || f->round != 0 || (n && !reqs))
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!f->s[i].easy) {
            f->s[i].easy = curl_easy_init();
            if (!f->s[i].easy)
                return CAIRN_E_NOMEM;
        }
    }
    f->n = n;
    f->round = push ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        struct stream *st = &f->s[i];
        st->req = reqs[i];
        st->active = 1;
        st->done = 0;
        st->result = 0;
        int rc =
            xfer_setup(&st->x, st->easy, &f->opts, push ? &st->req : &reqs[i], &st->resp, push);
        if (rc == 0 && curl_multi_add_handle(f->multi, st->easy) != CURLM_OK)
            rc = CAIRN_E_NOMEM;
        if (rc < 0) {
            st->done = 1;
            st->result = rc;
        }
    }
    return 0;
}

static void collect(struct cn_http_fanout *f, struct cn_http_response *resps, int *errs)
{
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        if (resps) {
            resps[i] = st->resp;
            memset(&st->resp, 0, sizeof(st->resp));
        }
        if (errs)
            errs[i] = st->result;
    }
    round_reset(f);
}

int cn_http_fanout_run(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n,
                       struct cn_http_response *resps, int *errs)
{
    /* refused before any stream is touched (another round's are left as
     * they are) */
    int rc = start_round(f, reqs, n, 0);
    if (rc < 0)
        return rc;
    for (;;) {
        int pending = 0;
        for (size_t i = 0; i < n; i++)
            pending += !f->s[i].done;
        if (!pending)
            break;
        multi_step(f, 100);
    }
    collect(f, resps, errs);
    return 0;
}

int cn_http_fanout_start(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n)
{
    int rc = start_round(f, reqs, n, 0);
    if (rc < 0)
        return rc; /* another round's streams are left as they are */
    /* On a kept connection an answer can come back within this very step:
     * its writer may hold it until _wait (CN_HTTP_WRITER_LATER). */
    for (size_t i = 0; i < n; i++)
        f->s[i].x.may_hold = 1;
    multi_step(f, 0);
    return 0;
}

int cn_http_fanout_wait(struct cn_http_fanout *f, struct cn_http_response *resps, int *errs)
{
    if (f->round != 1)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        st->x.may_hold = 0; /* from now on the writers take what comes */
        if (st->x.wpaused && !st->done) {
            st->x.wpaused = 0;
            curl_easy_pause(st->easy, CURLPAUSE_CONT); /* hands the held data over */
        }
    }
    for (;;) {
        int pending = 0;
        for (size_t i = 0; i < f->n; i++)
            pending += !f->s[i].done;
        if (!pending)
            break;
        multi_step(f, 100);
    }
    collect(f, resps, errs);
    return 0;
}

void cn_http_fanout_abort(struct cn_http_fanout *f)
{
    if (f && f->round != 0)
        round_reset(f);
}

int cn_http_fanout_begin(struct cn_http_fanout *f, const struct cn_http_request *reqs, size_t n)
{
    int rc = start_round(f, reqs, n, 1);
    if (rc < 0)
        return rc; /* another round's streams are left as they are */
    multi_step(f, 0);
    return 0;
}

static int live(const struct stream *st)
{
    return st->active && !st->done;
}

/* A push stream with a declared size whose whole body went out and that got
 * its response is complete, not failed. */
static int complete(const struct stream *st)
{
    return st->active && st->done && st->result == 0 && st->req.body_size >= 0 &&
           st->x.pushed == (uint64_t)st->req.body_size;
}

int cn_http_fanout_write(struct cn_http_fanout *f, const void *const *bufs, const size_t *lens)
{
    if (f->round != 2)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        size_t len = bufs[i] ? lens[i] : 0;
        if (len && st->req.body_size >= 0 && st->active &&
            st->x.assigned + len > (uint64_t)st->req.body_size) {
            /* more than the declared Content-Length: a caller bug that must
             * not pass silently (a complete stream turns failed, too) */
            if (st->done)
                st->result = CAIRN_E_RANGE;
            else
                stream_finish(f, st, CAIRN_E_RANGE);
            continue;
        }
        if (!live(st))
            continue;
        st->x.assigned += len;
        st->x.piece = bufs[i];
        st->x.piece_len = len;
        st->x.piece_pos = 0;
        if (st->x.piece_len && st->x.paused) {
            st->x.paused = 0;
            curl_easy_pause(st->easy, CURLPAUSE_CONT);
        }
    }
    for (;;) {
        int waiting = 0, alive = 0;
        for (size_t i = 0; i < f->n; i++) {
            struct stream *st = &f->s[i];
            if (complete(st))
                alive++;
            if (!live(st))
                continue;
            alive++;
            waiting += st->x.piece_pos < st->x.piece_len;
        }
        if (!waiting) {
            for (size_t i = 0; i < f->n; i++) {
                f->s[i].x.piece = NULL;
                f->s[i].x.piece_len = f->s[i].x.piece_pos = 0;
            }
            return alive;
        }
        multi_step(f, 100);
    }
}

int cn_http_fanout_finish(struct cn_http_fanout *f, struct cn_http_response *resps, int *errs)
{
    if (f->round != 2)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        if (!live(st))
            continue;
        st->x.eof = 1;
        if (st->x.paused) {
            st->x.paused = 0;
            curl_easy_pause(st->easy, CURLPAUSE_CONT);
        }
    }
    for (;;) {
        int pending = 0;
        for (size_t i = 0; i < f->n; i++)
            pending += live(&f->s[i]);
        if (!pending)
            break;
        multi_step(f, 100);
    }
    int ok = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct stream *st = &f->s[i];
        ok += st->result == 0 && st->resp.status >= 200 && st->resp.status < 300;
    }
    collect(f, resps, errs);
    return ok;
}

int cn_http_fanout_status(const struct cn_http_fanout *f, size_t i)
{
    if (i >= f->n)
        return CAIRN_E_INVAL;
    const struct stream *st = &f->s[i];
    if (!st->done || complete(st))
        return 0;
    if (st->result < 0)
        return st->result;
    return CAIRN_E_IO; /* ended early with a response (see finish) */
}

void cn_http_fanout_drop(struct cn_http_fanout *f, size_t i)
{
    if (i >= f->n || !live(&f->s[i]))
        return;
    stream_finish(f, &f->s[i], CAIRN_E_SHUTDOWN);
}
