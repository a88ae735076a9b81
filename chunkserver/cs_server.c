#include "cs_server.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "cs_hist.h"
#include "cs_compact.h"
#include "cs_rebuild.h"
#include "ec_crc.h"

#define MOD "chunk"

enum op {
    OP_PUT,
    OP_GET,
    OP_HEAD,
    OP_DELETE,
    OP_REBUILD,
    OP_ADMIN,
    OP_METRICS,
    OP_APPEND,
    OP_SEAL,
    OP_COMPACT,
    OP__COUNT
};
static const char *const op_names[OP__COUNT] = {"put",   "get",     "head",   "delete", "rebuild",
                                                "admin", "metrics", "append", "seal",   "compact"};
/* Compactions (POST /v1/compact) running at once; more are 503. */
#define MAX_COMPACTIONS 2
/* Bodies of appends held in memory at once, over all requests. */
#define APPEND_MEMORY (256u << 20)
enum status_class { SC_2XX, SC_4XX, SC_5XX, SC_ABORTED, SC__COUNT };
static const char *const class_names[SC__COUNT] = {"2xx", "4xx", "5xx", "aborted"};

struct cs_server {
    const char *host_names[2]; /* {advertise, NULL}: a Host requests may name */
    cs_store *store;
    cs_damage *damage;
    cs_scrub *scrub;
    cs_server_opts opts;
    struct cn_http_server *http;
    atomic_uint rebuilds_running;
    /* Metrics. */
    atomic_uint_fast64_t requests[OP__COUNT][SC__COUNT];
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
    atomic_uint_fast64_t corrupt_reads;
    atomic_uint_fast64_t nospace;
    atomic_uint_fast64_t rebuild_bytes;
    atomic_uint compactions_running;
    atomic_uint_fast64_t compact_bytes; /* fragment bytes written by compactions */
    atomic_uint_fast64_t append_memory; /* bytes of append bodies held now */
    cs_hist put_hist;
    cs_hist get_hist;
};

/* Per-request state, freed in done(). */
typedef struct req_state {
    cs_server *srv;
    enum op op;
    unsigned status;
    int64_t start_us;
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    cs_put *put;
    bool check_crc;
    uint32_t expected_crc;
    /* POST ?append / ?seal */
    cs_frag_meta meta;
    uint64_t at;   /* append: offset; seal: length */
    uint8_t *body; /* append: the body, body_cap bytes */
    size_t body_len, body_cap;
} req_state;

/* Streamed GET body. */
typedef struct get_stream {
    cs_server *srv;
    cs_frag_reader *reader;
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    uint64_t off, len;
    uint8_t *prefix; /* the first bytes, read and verified before the status line */
    size_t prefix_len;
} get_stream;

static enum status_class class_of(unsigned status)
{
    return status < 400 ? SC_2XX : status < 500 ? SC_4XX : SC_5XX;
}

static req_state *state_new(struct cn_http_req *req, cs_server *srv, enum op op)
{
    req_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->srv = srv;
    st->op = op;
    st->start_us = cn_mono_us();
    cn_http_req_set_data(req, st);
    return st;
}

static void on_done(struct cn_http_req *req, int ok, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    if (st == NULL)
        return;
    if (st->put != NULL) {
        cs_put_abort(st->put);
        st->put = NULL;
    }
    if (st->body_cap)
        atomic_fetch_sub(&srv->append_memory, st->body_cap);
    free(st->body);
    enum status_class c = ok && st->status ? class_of(st->status) : SC_ABORTED;
    atomic_fetch_add(&srv->requests[st->op][c], 1);
    free(st);
}

/* Responds with an error status for a CAIRN_E code, with a reason header. In
 * a put, CORRUPT (CRC mismatch) and RANGE (length mismatch) are the client's
 * errors: 400. */
static int respond_err(struct cn_http_req *req, req_state *st, int err, const char *what)
{
    unsigned status = cn_http_status_for_error(err);
    const char *reason = NULL;
    if (st->op == OP_PUT && (err == CAIRN_E_CORRUPT || err == CAIRN_E_RANGE)) {
        reason = err == CAIRN_E_CORRUPT ? "crc-mismatch" : "length-mismatch";
        status = 400;
    } else if (err == CAIRN_E_CORRUPT) {
        reason = "corrupt";
    } else if (err == CAIRN_E_NOSPACE) {
        reason = "nospace";
        atomic_fetch_add(&st->srv->nospace, 1);
    } else if (err == CAIRN_E_ERASURES) {
        reason = "erasures";
        status = 503;
    }
    if (reason)
        cn_http_resp_header(req, CN_HDR_ERROR, reason);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s: %s", what, cairn_strerror(err));
    st->status = status;
    cn_http_respond_error(req, status, msg);
    return 0;
}

static int respond_text(struct cn_http_req *req, req_state *st, unsigned status, const char *text)
{
    st->status = status;
    return cn_http_respond_error(req, status, text);
}

/* Parses the fragment path (cn_wire.h) of a request; the index must name a
 * fragment of some scheme. Returns 0 or CAIRN_E_INVAL. */
static int parse_fragment_path(const char *path, uint8_t group[CS_GROUP_ID_LEN], uint32_t *index)
{
    int rc = cn_wire_fragment_parse(path, group, index);
    return rc ? rc : *index < EC_MAX_FRAGS ? 0 : CAIRN_E_INVAL;
}

static void add_meta_headers(struct cn_http_req *req, const cs_frag_meta *m, bool open)
{
    char v[32];
    snprintf(v, sizeof(v), "%u", m->k);
    cn_http_resp_header(req, CN_HDR_K, v);
    snprintf(v, sizeof(v), "%u", m->m);
    cn_http_resp_header(req, CN_HDR_M, v);
    snprintf(v, sizeof(v), "%u", m->unit);
    cn_http_resp_header(req, CN_HDR_UNIT, v);
    snprintf(v, sizeof(v), "%" PRIu64, m->data_len);
    cn_http_resp_header(req, CN_HDR_DATA_LEN, v);
    if (open) {
        cn_http_resp_header(req, CN_HDR_OPEN, "1");
        return;
    }
    cn_wire_crc_format(m->data_crc, v);
    cn_http_resp_header(req, CN_HDR_DATA_CRC, v);
}

static void note_damage(cs_server *srv, const uint8_t *group, uint32_t index, uint64_t bad_block)
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(group, hex);
    atomic_fetch_add(&srv->corrupt_reads, 1);
    if (bad_block == UINT64_MAX)
        CN_WARN(MOD, "fragment %s.%u: header or CRC table damaged", hex, index);
    else
        CN_WARN(MOD, "fragment %s.%u: block %" PRIu64 " damaged", hex, index, bad_block);
    cs_damage_add(srv->damage, group, index, bad_block, "read");
}

/* ---------------------------------------------------------------- PUT -- */

static int put_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_PUT);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    cs_frag_meta meta;
    memset(&meta, 0, sizeof(meta));
    if (parse_fragment_path(cn_http_req_path(req), meta.group, &meta.index) != 0)
        return respond_text(req, st, 400, "bad fragment path");
    uint64_t k, m, unit, len;
    if (cn_parse_u64(cn_http_req_header(req, CN_HDR_K), UINT16_MAX, &k) != 0 ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_M), UINT16_MAX, &m) != 0 ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_UNIT), UINT32_MAX, &unit) != 0 ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_DATA_LEN), CS_FRAG_MAX_LEN, &len) != 0)
        return respond_text(req, st, 400,
                            "missing or bad " CN_HDR_K ", " CN_HDR_M ", " CN_HDR_UNIT
                            " or " CN_HDR_DATA_LEN);
    int64_t clen = cn_http_req_content_length(req);
    if (clen >= 0 && (uint64_t)clen != len)
        return respond_text(req, st, 400, "Content-Length differs from " CN_HDR_DATA_LEN);
    const char *crc_hdr = cn_http_req_header(req, CN_HDR_DATA_CRC);
    if (crc_hdr != NULL) {
        if (cn_wire_crc_parse(crc_hdr, &st->expected_crc) != 0)
            return respond_text(req, st, 400, "bad " CN_HDR_DATA_CRC);
        st->check_crc = true;
    }
    meta.k = (uint16_t)k;
    meta.m = (uint16_t)m;
    meta.unit = (uint32_t)unit;
    meta.data_len = len;
    if (cs_frag_meta_check(&meta) != 0)
        return respond_text(req, st, 400, "bad fragment description");
    memcpy(st->group, meta.group, CS_GROUP_ID_LEN);
    st->index = meta.index;
    int rc = cs_store_put_begin(srv->store, &meta, &st->put);
    if (rc != 0)
        return respond_err(req, st, rc, "put");
    return 0;
}

static int put_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    atomic_fetch_add(&srv->bytes_in, len);
    int rc = cs_put_write(st->put, data, len);
    if (rc != 0) {
        cs_put_abort(st->put);
        st->put = NULL;
        respond_err(req, st, rc, rc == CAIRN_E_RANGE ? "body longer than declared" : "put");
        return rc;
    }
    return 0;
}

static int put_end(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    enum cs_put_result res;
    cs_put *put = st->put;
    st->put = NULL;
    int rc = cs_put_commit(put, st->check_crc, st->expected_crc, false, &res);
    if (rc != 0) {
        const char *what = rc == CAIRN_E_RANGE     ? "body shorter than declared"
                           : rc == CAIRN_E_CORRUPT ? "data does not match " CN_HDR_DATA_CRC
                           : rc == CAIRN_E_EXISTS  ? "a different fragment is stored"
                                                   : "put";
        return respond_err(req, st, rc, what);
    }
    if (res != CS_PUT_IDENTICAL)
        cs_damage_clear(srv->damage, st->group, st->index);
    cs_frag_reader *r;
    if (cs_store_open_fragment(srv->store, st->group, st->index, &r) == 0) {
        char v[9];
        cn_wire_crc_format(cs_frag_reader_meta(r)->data_crc, v);
        cn_http_resp_header(req, CN_HDR_DATA_CRC, v);
        cs_frag_reader_close(r);
    }
    static const char *const names[] = {"created", "identical", "replaced"};
    cn_http_resp_header(req, CN_HDR_PUT_RESULT, names[res]);
    cs_hist_record(&srv->put_hist, (uint64_t)(cn_mono_us() - st->start_us));
    st->status = res == CS_PUT_CREATED ? 201 : 200;
    return cn_http_respond(req, st->status, NULL, NULL, 0);
}

/* ------------------------------------------------ POST append / seal -- */

static void add_open_length(struct cn_http_req *req, uint64_t len)
{
    char v[24];
    snprintf(v, sizeof(v), "%" PRIu64, len);
    cn_http_resp_header(req, CN_HDR_OPEN_LENGTH, v);
}

static int post_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    const char *append = cn_http_req_arg(req, CN_ARG_CS_APPEND);
    const char *seal = cn_http_req_arg(req, CN_ARG_CS_SEAL);
    req_state *st = state_new(req, srv, append ? OP_APPEND : OP_SEAL);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    if (parse_fragment_path(cn_http_req_path(req), st->meta.group, &st->meta.index) != 0)
        return respond_text(req, st, 400, "bad fragment path");
    memcpy(st->group, st->meta.group, CS_GROUP_ID_LEN);
    st->index = st->meta.index;
    if ((append != NULL) == (seal != NULL))
        return respond_text(req, st, 400,
                            "POST of a fragment takes ?append=OFFSET or ?seal=LENGTH");
    if (cn_parse_u64(append ? append : seal, CS_FRAG_MAX_LEN, &st->at) != 0)
        return respond_text(req, st, 400, append ? "bad append offset" : "bad seal length");
    int64_t clen = cn_http_req_content_length(req);
    if (seal) {
        if (clen > 0)
            return respond_text(req, st, 400, "a seal has no body");
        return 0;
    }
    uint64_t k, m, unit;
    if (cn_parse_u64(cn_http_req_header(req, CN_HDR_K), UINT16_MAX, &k) != 0 ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_M), UINT16_MAX, &m) != 0 ||
        cn_parse_u64(cn_http_req_header(req, CN_HDR_UNIT), UINT32_MAX, &unit) != 0)
        return respond_text(req, st, 400,
                            "missing or bad " CN_HDR_K ", " CN_HDR_M " or " CN_HDR_UNIT);
    st->meta.k = (uint16_t)k;
    st->meta.m = (uint16_t)m;
    st->meta.unit = (uint32_t)unit;
    if (clen < 0)
        return respond_text(req, st, 411, "an append needs a Content-Length");
    if (cs_store_append_check(&st->meta, st->at, (size_t)clen) != 0)
        return respond_text(req, st, 400,
                            "an append is whole units (512 B..64 KiB, a divisor of 64 KiB) at a "
                            "unit boundary, 1 unit..16 MiB");
    const char *crc_hdr = cn_http_req_header(req, CN_HDR_DATA_CRC);
    if (crc_hdr != NULL) {
        if (cn_wire_crc_parse(crc_hdr, &st->expected_crc) != 0)
            return respond_text(req, st, 400, "bad " CN_HDR_DATA_CRC);
        st->check_crc = true;
    }
    /* Bounded memory: the bodies held at once stay under APPEND_MEMORY. */
    size_t need = (size_t)clen;
    if (atomic_fetch_add(&srv->append_memory, need) + need > APPEND_MEMORY) {
        atomic_fetch_sub(&srv->append_memory, need);
        cn_http_resp_header(req, "Retry-After", "1");
        return respond_text(req, st, 503, "too many appends in flight");
    }
    st->body_cap = need;
    st->body = malloc(need);
    if (st->body == NULL)
        return respond_err(req, st, CAIRN_E_NOMEM, "append");
    return 0;
}

static int post_body(struct cn_http_req *req, const void *data, size_t len, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    atomic_fetch_add(&srv->bytes_in, len);
    if (st->op != OP_APPEND || len > st->body_cap - st->body_len) {
        respond_text(req, st, 400, "body longer than declared");
        return CAIRN_E_RANGE;
    }
    memcpy(st->body + st->body_len, data, len);
    st->body_len += len;
    return 0;
}

static int post_end(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    if (st->op == OP_SEAL) {
        enum cs_put_result res;
        int rc = cs_store_seal(srv->store, st->group, st->index, st->at, &res);
        if (rc != 0) {
            if (rc == CAIRN_E_CORRUPT)
                note_damage(srv, st->group, st->index, UINT64_MAX);
            const char *what = rc == CAIRN_E_RANGE    ? "length past the acknowledged one"
                               : rc == CAIRN_E_EXISTS ? "sealed at another length"
                                                      : "seal";
            if (rc == CAIRN_E_RANGE)
                return respond_text(req, st, 400, what);
            return respond_err(req, st, rc, what);
        }
        cs_frag_reader *r;
        if (cs_store_open_fragment(srv->store, st->group, st->index, &r) == 0) {
            char v[9];
            cn_wire_crc_format(cs_frag_reader_meta(r)->data_crc, v);
            cn_http_resp_header(req, CN_HDR_DATA_CRC, v);
            cs_frag_reader_close(r);
        }
        cn_http_resp_header(req, CN_HDR_PUT_RESULT,
                            res == CS_PUT_IDENTICAL ? "identical" : "created");
        st->status = res == CS_PUT_IDENTICAL ? 200 : 201;
        return cn_http_respond(req, st->status, NULL, NULL, 0);
    }
    if (st->body_len != st->body_cap)
        return respond_text(req, st, 400, "body shorter than declared");
    if (st->check_crc && ec_crc32c(st->body, st->body_len) != st->expected_crc) {
        cn_http_resp_header(req, CN_HDR_ERROR, "crc-mismatch");
        return respond_text(req, st, 400, "data does not match " CN_HDR_DATA_CRC);
    }
    uint64_t len = 0;
    int rc = cs_store_append(srv->store, &st->meta, st->at, st->body, st->body_len, &len);
    if (rc == CAIRN_E_PRECOND || rc == CAIRN_E_EXISTS) {
        if (rc == CAIRN_E_PRECOND)
            add_open_length(req, len);
        cn_http_resp_header(req, CN_HDR_ERROR, rc == CAIRN_E_PRECOND ? "offset" : "sealed");
        return respond_text(req, st, 409,
                            rc == CAIRN_E_PRECOND
                                ? "the append is not at the acknowledged length"
                                : "sealed, or an open fragment of another k, m or unit");
    }
    if (rc != 0)
        return respond_err(req, st, rc, "append");
    add_open_length(req, len);
    cs_hist_record(&srv->put_hist, (uint64_t)(cn_mono_us() - st->start_us));
    st->status = 200;
    return cn_http_respond(req, 200, NULL, NULL, 0);
}

/* ----------------------------------------------------------- GET/HEAD -- */

static ssize_t get_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    get_stream *gs = cls;
    if (pos >= gs->len)
        return CN_HTTP_READER_END;
    if (pos < gs->prefix_len) {
        size_t n = gs->prefix_len - (size_t)pos;
        if (n > max)
            n = max;
        memcpy(buf, gs->prefix + pos, n);
        atomic_fetch_add(&gs->srv->bytes_out, n);
        return (ssize_t)n;
    }
    uint64_t at = gs->off + pos;
    uint64_t n = gs->len - pos;
    if (n > max)
        n = max;
    /* End on a block boundary when possible, so every later read is aligned
     * and no block is read twice. */
    uint64_t end = at + n;
    if (end < gs->off + gs->len && end % EC_CRC_BLOCK != 0 && n > EC_CRC_BLOCK)
        n -= end % EC_CRC_BLOCK;
    uint64_t bad = UINT64_MAX;
    int rc = cs_frag_reader_read(gs->reader, at, (size_t)n, buf, &bad);
    if (rc != 0) {
        if (rc == CAIRN_E_CORRUPT)
            note_damage(gs->srv, gs->group, gs->index, bad);
        return CN_HTTP_READER_ERROR;
    }
    atomic_fetch_add(&gs->srv->bytes_out, n);
    return (ssize_t)n;
}

static ssize_t head_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    return CN_HTTP_READER_ERROR; /* HEAD has no body; never called */
}

static void get_stream_free(void *cls)
{
    get_stream *gs = cls;
    cs_frag_reader_close(gs->reader);
    free(gs->prefix);
    free(gs);
}

static int get_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    bool head = strcmp(cn_http_req_method(req), "HEAD") == 0;
    req_state *st = state_new(req, srv, head ? OP_HEAD : OP_GET);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    if (parse_fragment_path(cn_http_req_path(req), group, &index) != 0)
        return respond_text(req, st, 400, "bad fragment path");
    cs_frag_reader *r;
    int rc = cs_store_open_fragment(srv->store, group, index, &r);
    if (rc != 0) {
        if (rc == CAIRN_E_CORRUPT)
            note_damage(srv, group, index, UINT64_MAX);
        return respond_err(req, st, rc, "get");
    }
    const cs_frag_meta *meta = cs_frag_reader_meta(r);
    uint64_t size = meta->data_len, off = 0, len = size;
    unsigned status = 200;
    /* Fragment data is not covered by the answer's signature (hashing every
     * byte twice would cost the data path ~25%): the signed CRC32C headers
     * cover it against accidents, --tls-internal against an attacker. */
    cn_http_resp_body_unsigned(req);
    add_meta_headers(req, meta, cs_frag_reader_is_open(r));
    cn_http_resp_header(req, "Accept-Ranges", "bytes");
    char v[96];
    rc = cn_http_parse_range(cn_http_req_header(req, "Range"), size, &off, &len);
    if (rc == CAIRN_E_RANGE) {
        cs_frag_reader_close(r);
        cn_http_resp_header(req, "Content-Range",
                            cn_http_format_content_range(0, 0, size, v, sizeof(v)));
        return respond_text(req, st, 416, "range not satisfiable");
    }
    if (rc == 0) {
        status = 206;
        cn_http_resp_header(req, "Content-Range",
                            cn_http_format_content_range(off, len, size, v, sizeof(v)));
    } else {
        off = 0;
        len = size;
    }
    if (head) {
        cs_frag_reader_close(r);
        st->status = status;
        return cn_http_respond_stream(req, status, "application/octet-stream", (int64_t)len,
                                      head_read, NULL, NULL);
    }
    if (len <= CN_WIRE_CS_VERIFIED_MAX) {
        /* Read and verify before the status line goes out. */
        uint8_t *buf = malloc(len ? len : 1);
        if (buf == NULL) {
            cs_frag_reader_close(r);
            return respond_err(req, st, CAIRN_E_NOMEM, "get");
        }
        uint64_t bad = UINT64_MAX;
        rc = cs_frag_reader_read(r, off, (size_t)len, buf, &bad);
        cs_frag_reader_close(r);
        if (rc != 0) {
            free(buf);
            if (rc == CAIRN_E_CORRUPT)
                note_damage(srv, group, index, bad);
            return respond_err(req, st, rc, "get");
        }
        cn_wire_crc_format(ec_crc32c(buf, len), v);
        cn_http_resp_header(req, CN_HDR_RANGE_CRC, v);
        st->status = status;
        rc = cn_http_respond_take(req, status, "application/octet-stream", buf, len);
        atomic_fetch_add(&srv->bytes_out, len);
        cs_hist_record(&srv->get_hist, (uint64_t)(cn_mono_us() - st->start_us));
        return rc;
    }
    get_stream *gs = calloc(1, sizeof(*gs));
    if (gs == NULL) {
        cs_frag_reader_close(r);
        return respond_err(req, st, CAIRN_E_NOMEM, "get");
    }
    gs->srv = srv;
    gs->reader = r;
    memcpy(gs->group, group, CS_GROUP_ID_LEN);
    gs->index = index;
    gs->off = off;
    gs->len = len;
    /* Verify the first stretch (up to a block boundary past
     * CN_WIRE_CS_VERIFIED_MAX) before answering, so damage there is a clean 500;
     * damage further on can only abort the stream. */
    uint64_t pend =
        (off + CN_WIRE_CS_VERIFIED_MAX + EC_CRC_BLOCK - 1) / EC_CRC_BLOCK * EC_CRC_BLOCK;
    if (pend > off + len)
        pend = off + len;
    gs->prefix_len = (size_t)(pend - off);
    gs->prefix = malloc(gs->prefix_len);
    if (gs->prefix == NULL) {
        get_stream_free(gs);
        return respond_err(req, st, CAIRN_E_NOMEM, "get");
    }
    uint64_t bad = UINT64_MAX;
    rc = cs_frag_reader_read(r, off, gs->prefix_len, gs->prefix, &bad);
    if (rc != 0) {
        get_stream_free(gs);
        if (rc == CAIRN_E_CORRUPT)
            note_damage(srv, group, index, bad);
        return respond_err(req, st, rc, "get");
    }
    st->status = status;
    return cn_http_respond_stream(req, status, "application/octet-stream", (int64_t)len, get_read,
                                  gs, get_stream_free);
}

/* ------------------------------------------------------------- DELETE -- */

static int delete_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_DELETE);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    if (parse_fragment_path(cn_http_req_path(req), group, &index) != 0)
        return respond_text(req, st, 400, "bad fragment path");
    int rc = cs_store_delete(srv->store, group, index);
    if (rc != 0)
        return respond_err(req, st, rc, "delete");
    cs_damage_clear(srv->damage, group, index);
    st->status = 204;
    return cn_http_respond(req, 204, NULL, NULL, 0);
}

/* ------------------------------------------------------------ REBUILD -- */

static int rebuild_begin(struct cn_http_req *req, void *cls)
{
    req_state *st = state_new(req, cls, OP_REBUILD);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    return cn_http_req_buffer_body(req, 64 * 1024);
}

static int rebuild_end(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    size_t len = 0;
    const void *body = cn_http_req_body(req, &len);
    cs_rebuild_req rr;
    int rc = cs_rebuild_parse(body, len, &rr);
    if (rc != 0)
        return respond_text(req, st, 400, "bad RebuildRequest");
    if (atomic_fetch_add(&srv->rebuilds_running, 1) >= srv->opts.max_rebuilds) {
        atomic_fetch_sub(&srv->rebuilds_running, 1);
        return respond_err(req, st, CAIRN_E_BUSY, "rebuild");
    }
    cs_rebuild_result res;
    rc = cs_rebuild_run(srv->store, srv->opts.auth, &rr, srv->opts.peer_timeout_ms, &res);
    atomic_fetch_sub(&srv->rebuilds_running, 1);
    atomic_fetch_add(&srv->rebuild_bytes, res.bytes_fetched);
    if (rc != 0)
        return respond_err(req, st, rc, "rebuild");
    cs_damage_clear(srv->damage, rr.meta.group, rr.meta.index);
    char v[9];
    cn_wire_crc_format(res.data_crc, v);
    cn_http_resp_header(req, CN_HDR_DATA_CRC, v);
    static const char *const names[] = {"created", "identical", "replaced"};
    cn_http_resp_header(req, CN_HDR_PUT_RESULT, names[res.put]);
    st->status = res.put == CS_PUT_CREATED ? 201 : 200;
    return cn_http_respond(req, st->status, NULL, NULL, 0);
}

/* ------------------------------------------------------------ COMPACT -- */

static int compact_begin(struct cn_http_req *req, void *cls)
{
    req_state *st = state_new(req, cls, OP_COMPACT);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    return cn_http_req_buffer_body(req, CS_COMPACT_BODY_MAX);
}

static int compact_end(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = cn_http_req_data(req);
    size_t len = 0;
    const void *body = cn_http_req_body(req, &len);
    cs_compact_req cr;
    int rc = cs_compact_parse(body, len, &cr);
    if (rc == CAIRN_E_NOMEM)
        return respond_err(req, st, rc, "compact");
    if (rc != 0)
        return respond_text(req, st, 400, "bad CompactRequest");
    if (atomic_fetch_add(&srv->compactions_running, 1) >= MAX_COMPACTIONS) {
        atomic_fetch_sub(&srv->compactions_running, 1);
        cs_compact_req_free(&cr);
        return respond_err(req, st, CAIRN_E_BUSY, "compact");
    }
    uint32_t crc = 0;
    enum cs_put_result put = CS_PUT_CREATED;
    int bad_old = 0;
    rc = cs_compact_run(srv->store, &cr, &crc, &put, &bad_old);
    atomic_fetch_sub(&srv->compactions_running, 1);
    if (bad_old)
        note_damage(srv, cr.old_group, cr.meta.index, UINT64_MAX);
    if (rc == 0)
        atomic_fetch_add(&srv->compact_bytes, cr.meta.data_len);
    uint64_t frag_len = cr.meta.data_len;
    cs_compact_req_free(&cr);
    if (rc == CAIRN_E_PRECOND) {
        cn_http_resp_header(req, CN_HDR_ERROR, "old-fragment");
        return respond_text(req, st, 409,
                            "the old fragment is open, of another scheme, or shorter than a range");
    }
    if (rc != 0)
        return respond_err(req, st, rc, "compact");
    char v[24];
    cn_wire_crc_format(crc, v);
    cn_http_resp_header(req, CN_HDR_DATA_CRC, v);
    snprintf(v, sizeof(v), "%" PRIu64, frag_len);
    cn_http_resp_header(req, CN_HDR_OPEN_LENGTH, v);
    static const char *const names[] = {"created", "identical", "replaced"};
    cn_http_resp_header(req, CN_HDR_PUT_RESULT, names[put]);
    st->status = put == CS_PUT_CREATED ? 201 : 200;
    return cn_http_respond(req, st->status, NULL, NULL, 0);
}

/* -------------------------------------------------------------- ADMIN -- */

static int respond_memstream(struct cn_http_req *req, req_state *st, const char *type, char *buf,
                             size_t len)
{
    st->status = 200;
    int rc = cn_http_respond(req, 200, type, buf, len);
    free(buf);
    return rc;
}

static int status_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_ADMIN);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    cs_store_stats ss;
    int rc = cs_store_stats_get(srv->store, &ss);
    if (rc != 0)
        return respond_err(req, st, rc, "status");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return respond_err(req, st, CAIRN_E_NOMEM, "status");
    fprintf(out, "id %s\n", cs_store_id(srv->store));
    if (srv->opts.advertise && srv->opts.advertise[0])
        fprintf(out, "address %s\n", srv->opts.advertise);
    else
        fprintf(out, "address %s:%u\n", srv->opts.bind_addr ? srv->opts.bind_addr : "127.0.0.1",
                cs_server_port(srv));
    fprintf(out, "host %s\n", srv->opts.host_label ? srv->opts.host_label : "");
    fprintf(out, "rack %s\n", srv->opts.rack_label ? srv->opts.rack_label : "");
    fprintf(out, "zone %s\n", srv->opts.zone_label ? srv->opts.zone_label : "");
    fprintf(out, "durable %d\n", cs_store_durable(srv->store));
    fprintf(out, "capacity_bytes %" PRIu64 "\n", ss.capacity_bytes);
    fprintf(out, "free_bytes %" PRIu64 "\n", ss.free_bytes);
    fprintf(out, "reserve_bytes %" PRIu64 "\n", ss.reserve_bytes);
    fprintf(out, "usable_bytes %" PRIu64 "\n", ss.usable_bytes);
    fprintf(out, "fragments %" PRIu64 "\n", ss.fragments);
    fprintf(out, "fragment_bytes %" PRIu64 "\n", ss.fragment_bytes);
    fprintf(out, "inventory_digest %016" PRIx64 "\n", ss.inventory_digest);
    fprintf(out, "damaged_fragments %" PRIu64 "\n", cs_damage_count(srv->damage));
    if (srv->scrub) {
        cs_scrub_stats sc;
        cs_scrub_stats_get(srv->scrub, &sc);
        fprintf(out, "scrub_passes %" PRIu64 "\n", sc.passes_done);
        fprintf(out, "scrub_pass_fragments_done %" PRIu64 "\n", sc.pass_fragments_done);
        fprintf(out, "scrub_pass_fragments_total %" PRIu64 "\n", sc.pass_fragments_total);
        fprintf(out, "scrub_corrupt_blocks %" PRIu64 "\n", sc.corrupt_blocks);
        fprintf(out, "scrub_corrupt_fragments %" PRIu64 "\n", sc.corrupt_fragments);
        fprintf(out, "scrub_fragments_checked %" PRIu64 "\n", sc.fragments_checked);
        fprintf(out, "scrub_running %d\n", sc.running ? 1 : 0);
        fprintf(out, "scrub_inventory_checked %" PRIu64 "\n", sc.inventory_checked);
        fprintf(out, "scrub_missing_fragments %" PRIu64 "\n", sc.missing_fragments);
        fprintf(out, "scrub_inventory_failed %" PRIu64 "\n", sc.inventory_failed);
    }
    fclose(out);
    return respond_memstream(req, st, "text/plain; charset=utf-8", buf, len);
}

static int damaged_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_ADMIN);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return respond_err(req, st, CAIRN_E_NOMEM, "damaged");
    cs_damage_write(srv->damage, out);
    fclose(out);
    return respond_memstream(req, st, "text/plain; charset=utf-8", buf, len);
}

/* POST /v1/admin/scrub: start a scrub pass now. */
static int scrub_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_ADMIN);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    if (!srv->scrub)
        return respond_text(req, st, 409, "the scrubber is not running");
    cs_scrub_now(srv->scrub);
    return respond_text(req, st, 202, "scrub pass requested");
}

/* Streamed inventory: each reader call resumes the walk after the last
 * fragment it listed, so memory stays bounded however many fragments exist. */
typedef struct inventory_stream {
    cs_store *store;
    bool started, finished;
    uint8_t after_group[CS_GROUP_ID_LEN];
    uint32_t after_index;
    char *buf;
    size_t max, used;
} inventory_stream;

static int inventory_visit(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    inventory_stream *is = arg;
    if (is->max - is->used < CS_GROUP_HEX_LEN + 16)
        return 1; /* full: resume here next call */
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(group, hex);
    is->used += (size_t)snprintf(is->buf + is->used, is->max - is->used, "%s %u\n", hex, index);
    memcpy(is->after_group, group, CS_GROUP_ID_LEN);
    is->after_index = index;
    is->started = true;
    return 0;
}

static ssize_t inventory_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    inventory_stream *is = cls;
    if (is->finished)
        return CN_HTTP_READER_END;
    is->buf = buf;
    is->max = max;
    is->used = 0;
    int rc = cs_store_foreach(is->store, is->started ? is->after_group : NULL, is->after_index,
                              inventory_visit, is);
    if (rc < 0)
        return CN_HTTP_READER_ERROR;
    if (rc == 0)
        is->finished = true;
    if (is->used == 0)
        return is->finished ? CN_HTTP_READER_END : CN_HTTP_READER_ERROR;
    return (ssize_t)is->used;
}

static int inventory_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_ADMIN);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    inventory_stream *is = calloc(1, sizeof(*is));
    if (is == NULL)
        return respond_err(req, st, CAIRN_E_NOMEM, "inventory");
    is->store = srv->store;
    st->status = 200;
    return cn_http_respond_stream(req, 200, "text/plain; charset=utf-8", -1, inventory_read, is,
                                  free);
}

static void metric(FILE *out, const char *name, const char *type, const char *help, double v)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static int metrics_begin(struct cn_http_req *req, void *cls)
{
    cs_server *srv = cls;
    req_state *st = state_new(req, srv, OP_METRICS);
    if (st == NULL)
        return CAIRN_E_NOMEM;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return respond_err(req, st, CAIRN_E_NOMEM, "metrics");
    fprintf(out, "# HELP cairn_chunk_requests_total Requests answered, by operation and status "
                 "class.\n# TYPE cairn_chunk_requests_total counter\n");
    for (int o = 0; o < OP__COUNT; o++)
        for (int c = 0; c < SC__COUNT; c++)
            fprintf(out, "cairn_chunk_requests_total{op=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                    op_names[o], class_names[c], (uint64_t)atomic_load(&srv->requests[o][c]));
    metric(out, "cairn_chunk_received_bytes_total", "counter", "Fragment bytes received by puts.",
           (double)atomic_load(&srv->bytes_in));
    metric(out, "cairn_chunk_sent_bytes_total", "counter", "Fragment bytes sent by gets.",
           (double)atomic_load(&srv->bytes_out));
    metric(out, "cairn_chunk_corrupt_reads_total", "counter",
           "Reads that found a damaged block, header or CRC table.",
           (double)atomic_load(&srv->corrupt_reads));
    metric(out, "cairn_chunk_nospace_total", "counter", "Puts refused or failed for lack of space.",
           (double)atomic_load(&srv->nospace));
    metric(out, "cairn_chunk_rebuild_fetched_bytes_total", "counter",
           "Bytes pulled from peers by rebuilds.", (double)atomic_load(&srv->rebuild_bytes));
    metric(out, "cairn_chunk_compact_written_bytes_total", "counter",
           "Fragment bytes written by packed-group compactions (POST /v1/compact).",
           (double)atomic_load(&srv->compact_bytes));
    cs_hist_render(&srv->put_hist, "cairn_chunk_put_seconds", "Latency of successful puts.", out);
    cs_hist_render(&srv->get_hist, "cairn_chunk_get_seconds",
                   "Latency of successful verified (buffered) gets.", out);
    cs_hist_render(cs_store_fsync_hist(srv->store), "cairn_chunk_fsync_seconds",
                   "Latency of fdatasync/fsync calls.", out);
    cs_store_stats ss;
    if (cs_store_stats_get(srv->store, &ss) == 0) {
        metric(out, "cairn_chunk_capacity_bytes", "gauge", "Size of the data filesystem.",
               (double)ss.capacity_bytes);
        metric(out, "cairn_chunk_free_bytes", "gauge", "Free space on the data filesystem.",
               (double)ss.free_bytes);
        metric(out, "cairn_chunk_usable_bytes", "gauge",
               "Space new fragments may still take (free minus reserve and puts in flight).",
               (double)ss.usable_bytes);
        metric(out, "cairn_chunk_fragments", "gauge", "Committed fragments.", (double)ss.fragments);
        metric(out, "cairn_chunk_fragment_bytes", "gauge", "Size of committed fragment files.",
               (double)ss.fragment_bytes);
    }
    metric(out, "cairn_chunk_damaged_fragments", "gauge",
           "Fragments known damaged and not yet replaced.", (double)cs_damage_count(srv->damage));
    if (srv->scrub) {
        cs_scrub_stats sc;
        cs_scrub_stats_get(srv->scrub, &sc);
        metric(out, "cairn_chunk_scrub_passes_total", "counter", "Completed scrub passes.",
               (double)sc.passes_done);
        metric(out, "cairn_chunk_scrub_fragments_total", "counter", "Fragments scrubbed.",
               (double)sc.fragments_checked);
        metric(out, "cairn_chunk_scrub_bytes_total", "counter", "Bytes verified by the scrubber.",
               (double)sc.bytes_checked);
        metric(out, "cairn_chunk_scrub_pass_progress", "gauge",
               "Fraction of the current pass done (fragments).",
               sc.pass_fragments_total
                   ? (double)sc.pass_fragments_done / (double)sc.pass_fragments_total
                   : 1.0);
        metric(out, "cairn_chunk_scrub_pass_fragments_done", "gauge",
               "Fragments checked so far in the current (or last) pass.",
               (double)sc.pass_fragments_done);
        metric(out, "cairn_chunk_scrub_pass_fragments", "gauge",
               "Fragments in the store when the current (or last) pass started.",
               (double)sc.pass_fragments_total);
        metric(out, "cairn_chunk_scrub_corrupt_blocks_total", "counter",
               "Damaged blocks found by the scrubber.", (double)sc.corrupt_blocks);
        metric(out, "cairn_chunk_scrub_corrupt_fragments_total", "counter",
               "Damaged fragments found by the scrubber.", (double)sc.corrupt_fragments);
        metric(out, "cairn_chunk_scrub_last_pass_end_seconds", "gauge",
               "Unix time the last scrub pass ended.", (double)sc.last_pass_end_s);
    }
    fclose(out);
    return respond_memstream(req, st, "text/plain; version=0.0.4", buf, len);
}

/* A route whose begin() always responds never reaches end(). */
static int never_end(struct cn_http_req *req, void *cls)
{
    return CAIRN_E_INVAL;
}

int cs_server_new(cs_store *store, cs_damage *damage, cs_scrub *scrub, const cs_server_opts *opts,
                  cs_server **out)
{
    if (opts->auth == NULL)
        return CAIRN_E_INVAL;
    cs_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return CAIRN_E_NOMEM;
    srv->store = store;
    srv->damage = damage;
    srv->scrub = scrub;
    srv->opts = *opts;
    if (srv->opts.max_rebuilds == 0)
        srv->opts.max_rebuilds = 1;
    cs_hist_init(&srv->put_hist);
    cs_hist_init(&srv->get_hist);
    srv->host_names[0] = opts->advertise && opts->advertise[0] ? opts->advertise : NULL;
    struct cn_http_server_opts hopts = {
        .bind_addr = opts->bind_addr,
        .port = opts->port,
        .auth = opts->auth,
        .host_names = srv->host_names,
        .replay_entries = opts->replay_entries,
        .tls_internal = cn_auth_tls(opts->auth),
        .log_module = "chunk-http",
        .conn_timeout_s = opts->conn_timeout_s,
        .conn_memory_limit = opts->conn_memory,
        .max_connections = opts->max_connections,
        .max_buffered_body = CS_COMPACT_BODY_MAX, /* the largest route's; rebuild asks 64 KiB */
    };
    int rc = cn_http_server_new(&hopts, &srv->http);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    const struct cn_http_handler put_h = {put_begin, put_body, put_end, on_done};
    const struct cn_http_handler get_h = {get_begin, NULL, never_end, on_done};
    const struct cn_http_handler post_h = {post_begin, post_body, post_end, on_done};
    const struct cn_http_handler del_h = {delete_begin, NULL, never_end, on_done};
    const struct cn_http_handler reb_h = {rebuild_begin, NULL, rebuild_end, on_done};
    const struct cn_http_handler compact_h = {compact_begin, NULL, compact_end, on_done};
    const struct cn_http_handler status_h = {status_begin, NULL, never_end, on_done};
    const struct cn_http_handler scrub_h = {scrub_begin, NULL, never_end, on_done};
    const struct cn_http_handler damaged_h = {damaged_begin, NULL, never_end, on_done};
    const struct cn_http_handler metrics_h = {metrics_begin, NULL, never_end, on_done};
    const struct cn_http_handler inventory_h = {inventory_begin, NULL, never_end, on_done};
    unsigned mflags = CN_HTTP_ROUTE_EXACT | (opts->metrics_public ? CN_HTTP_ROUTE_PUBLIC : 0);
    if ((rc = cn_http_server_route(srv->http, "PUT", CN_ROUTE_CS_FRAGMENT, 0, &put_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "GET", CN_ROUTE_CS_FRAGMENT, 0, &get_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "HEAD", CN_ROUTE_CS_FRAGMENT, 0, &get_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "DELETE", CN_ROUTE_CS_FRAGMENT, 0, &del_h, srv)) !=
            0 ||
        (rc = cn_http_server_route(srv->http, "POST", CN_ROUTE_CS_FRAGMENT, 0, &post_h, srv)) !=
            0 ||
        (rc = cn_http_server_route(srv->http, "POST", CN_ROUTE_CS_REBUILD, CN_HTTP_ROUTE_EXACT,
                                   &reb_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "POST", CN_ROUTE_CS_COMPACT, CN_HTTP_ROUTE_EXACT,
                                   &compact_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "POST", CN_ROUTE_CS_SCRUB, CN_HTTP_ROUTE_EXACT,
                                   &scrub_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "GET", CN_ROUTE_CS_STATUS, CN_HTTP_ROUTE_EXACT,
                                   &status_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "GET", CN_ROUTE_CS_DAMAGED, CN_HTTP_ROUTE_EXACT,
                                   &damaged_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "GET", CN_ROUTE_CS_INVENTORY, CN_HTTP_ROUTE_EXACT,
                                   &inventory_h, srv)) != 0 ||
        (rc = cn_http_server_route(srv->http, "GET", CN_ROUTE_METRICS, mflags, &metrics_h, srv)) !=
            0) {
        cn_http_server_free(srv->http);
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int cs_server_start(cs_server *srv)
{
    return cn_http_server_start(srv->http);
}

uint16_t cs_server_port(const cs_server *srv)
{
    return cn_http_server_port(srv->http);
}

void cs_server_free(cs_server *srv)
{
    if (srv == NULL)
        return;
    cn_http_server_free(srv->http);
    free(srv);
}
