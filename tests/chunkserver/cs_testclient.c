/* cs_testclient: a small signed client for the chunkserver integration tests.
 *
 *   cs_testclient ADDR SECRET_FILE put GROUP INDEX K M UNIT FILE [crc|nocrc|badcrc|slow|chunked]
 *   cs_testclient ADDR SECRET_FILE get GROUP INDEX OUT_FILE [OFF LEN]
 *   cs_testclient ADDR SECRET_FILE head GROUP INDEX
 *   cs_testclient ADDR SECRET_FILE delete GROUP INDEX
 *   cs_testclient ADDR SECRET_FILE rebuild GROUP INDEX K M UNIT LEN IDX=ADDR... [crc=HEX]
 *   cs_testclient ADDR SECRET_FILE append GROUP INDEX K M UNIT OFFSET FILE [FROM LEN]
 *                                    (FILE's bytes [FROM, FROM+LEN), default all)
 *   cs_testclient ADDR SECRET_FILE seal GROUP INDEX LENGTH
 *   cs_testclient ADDR SECRET_FILE compact NEWGROUP OLDGROUP INDEX K M UNIT OFF:LEN...
 *                                    (POST /v1/compact: the ranges of OLDGROUP's fragment)
 *   cs_testclient ADDR SECRET_FILE raw METHOD TARGET        (body to stdout)
 *   cs_testclient - - mkfrags K M LEN SEED OUT_PREFIX      (OUT_PREFIX.<i>, encoded)
 *   cs_testclient - - crc FILE                              (CRC32C as 8 hex digits)
 *   cs_testclient - SECRET_FILE fanput GROUP K M UNIT PREFIX ADDR_0..ADDR_k+m-1
 *
 * Prints "status NNN" (and selected headers) to stderr; exits 0 for a 2xx
 * answer, 1 for any other status, 2 for a transport or usage error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.pb-c.h"
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_wire.h"
#include "ec_codec.h"
#include "ec_crc.h"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat st;
    fstat(fileno(f), &st);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    return buf;
}

static int write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static int file_writer(void *cls, const void *data, size_t len)
{
    return fwrite(data, 1, len, cls) == len ? 0 : CAIRN_E_IO;
}

static ssize_t file_reader(void *cls, char *buf, size_t max)
{
    size_t n = fread(buf, 1, max, cls);
    return (ssize_t)n;
}

/* Sends 64 KiB per 20 ms: keeps a put in flight for a while. */
static ssize_t slow_file_reader(void *cls, char *buf, size_t max)
{
    if (max > 65536)
        max = 65536;
    usleep(20000);
    return file_reader(cls, buf, max);
}

static int finish(int rc, struct cn_http_response *resp)
{
    if (rc == CAIRN_E_AUTH && resp->status > 0) {
        /* an answer, but not signed for the request (the server's own 401
         * to a wrong secret, or a forgery): its status, not trusted */
        fprintf(stderr, "status %d\nnot authentic: %s\n", resp->status, cairn_strerror(rc));
        cn_http_response_clear(resp);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "transport error: %s\n", cairn_strerror(rc));
        return 2;
    }
    fprintf(stderr, "status %d\n", resp->status);
    static const char *const show[] = {CN_HDR_DATA_CRC, CN_HDR_PUT_RESULT, CN_HDR_ERROR,
                                       CN_HDR_DATA_LEN, "Content-Range",   CN_HDR_OPEN_LENGTH,
                                       CN_HDR_OPEN};
    for (size_t i = 0; i < sizeof(show) / sizeof(show[0]); i++) {
        const char *v = cn_http_response_header(resp, show[i]);
        if (v)
            fprintf(stderr, "%s: %s\n", show[i], v);
    }
    if ((resp->status < 200 || resp->status > 299) && resp->body)
        fprintf(stderr, "%s", resp->body);
    int ok = resp->status >= 200 && resp->status <= 299;
    cn_http_response_clear(resp);
    return ok ? 0 : 1;
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int mkfrags(int k, int m, size_t len, uint64_t seed, const char *prefix)
{
    rng_state = seed * 2654435761u + 1;
    uint8_t *frags[EC_MAX_FRAGS];
    for (int i = 0; i < k + m; i++) {
        frags[i] = malloc(len ? len : 1);
        if (i < k)
            for (size_t j = 0; j < len; j++)
                frags[i][j] = (uint8_t)rng();
    }
    ec_codec *c;
    if (ec_codec_new(k, m, &c) != 0)
        return 2;
    if (len && ec_encode(c, len, (const uint8_t *const *)frags, frags + k) != 0)
        return 2;
    ec_codec_free(c);
    for (int i = 0; i < k + m; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s.%d", prefix, i);
        if (write_all(path, frags[i], len) != 0)
            return 2;
        free(frags[i]);
    }
    return 0;
}

/* Push-style parallel upload of fragment files PREFIX.<i> (i = 0..n-1) to
 * ADDR_i, piece by piece, the way the gateway streams a group's fragments:
 *   cs_testclient - SECRET fanput GROUP K M UNIT PREFIX ADDR_0 ... ADDR_n-1 */
static int fanput(const char *secret, int argc, char **argv)
{
    const char *group = argv[4];
    int k = atoi(argv[5]), m = atoi(argv[6]);
    const char *unit = argv[7], *prefix = argv[8];
    int n = argc - 9;
    if (n != k + m || n > EC_MAX_FRAGS)
        return 2;
    struct cn_auth *auth;
    if (cn_auth_open(secret, NULL, CN_ROLE_ADMIN, 0, false, "cs-testclient", &auth) != 0)
        return 2;
    struct cn_http_client_opts copts = {.auth = auth, .timeout_ms = 60000};
    struct cn_http_fanout *f;
    if (cn_http_fanout_new(&copts, &f) != 0)
        return 2;
    uint8_t *data[EC_MAX_FRAGS];
    size_t len = 0;
    static char urls[EC_MAX_FRAGS][160], targets[EC_MAX_FRAGS][128], hdr[EC_MAX_FRAGS][5][96];
    static const char *hdrs[EC_MAX_FRAGS][6];
    struct cn_http_request reqs[EC_MAX_FRAGS];
    memset(reqs, 0, sizeof(reqs));
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s.%d", prefix, i);
        data[i] = read_all(path, &len);
        if (data[i] == NULL)
            return 2;
        snprintf(urls[i], sizeof(urls[i]), "http://%s", argv[9 + i]);
        snprintf(targets[i], sizeof(targets[i]), "%s%s/%d", CN_ROUTE_CS_FRAGMENT, group, i);
        snprintf(hdr[i][0], 96, CN_HDR_K ": %d", k);
        snprintf(hdr[i][1], 96, CN_HDR_M ": %d", m);
        snprintf(hdr[i][2], 96, CN_HDR_UNIT ": %s", unit);
        snprintf(hdr[i][3], 96, CN_HDR_DATA_LEN ": %zu", len);
        snprintf(hdr[i][4], 96, CN_HDR_DATA_CRC ": %08" PRIx32, ec_crc32c(data[i], len));
        for (int h = 0; h < 5; h++)
            hdrs[i][h] = hdr[i][h];
        hdrs[i][5] = NULL;
        reqs[i].method = "PUT";
        reqs[i].base_url = urls[i];
        reqs[i].target = targets[i];
        reqs[i].headers = hdrs[i];
        reqs[i].body_size = (int64_t)len;
    }
    if (cn_http_fanout_begin(f, reqs, (size_t)n) != 0)
        return 2;
    const size_t piece = 100000; /* not a multiple of anything */
    for (size_t off = 0; off < len; off += piece) {
        const void *bufs[EC_MAX_FRAGS];
        size_t lens[EC_MAX_FRAGS];
        for (int i = 0; i < n; i++) {
            bufs[i] = data[i] + off;
            lens[i] = len - off < piece ? len - off : piece;
        }
        if (cn_http_fanout_write(f, bufs, lens) < n)
            fprintf(stderr, "a stream failed at offset %zu\n", off);
    }
    struct cn_http_response resps[EC_MAX_FRAGS];
    int errs[EC_MAX_FRAGS];
    memset(resps, 0, sizeof(resps));
    int ok = cn_http_fanout_finish(f, resps, errs);
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "fragment %d: err %d status %d\n", i, errs[i], resps[i].status);
        cn_http_response_clear(&resps[i]);
        free(data[i]);
    }
    cn_http_fanout_free(f);
    cn_auth_free(auth);
    return ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        goto usage;
    const char *cmd = argv[3];
    if (strcmp(cmd, "mkfrags") == 0 && argc == 9)
        return mkfrags(atoi(argv[4]), atoi(argv[5]), strtoull(argv[6], NULL, 10),
                       strtoull(argv[7], NULL, 10), argv[8]);
    if (strcmp(cmd, "fanput") == 0 && argc >= 11)
        return fanput(argv[2], argc, argv);
    if (strcmp(cmd, "crc") == 0 && argc == 5) {
        size_t len;
        uint8_t *buf = read_all(argv[4], &len);
        if (buf == NULL)
            return 2;
        printf("%08" PRIx32 "\n", ec_crc32c(buf, len));
        free(buf);
        return 0;
    }

    struct cn_auth *auth = NULL;
    if (strcmp(argv[2], "-") != 0 &&
        cn_auth_open(argv[2], NULL, CN_ROLE_ADMIN, 0, false, "cs-testclient", &auth) != 0) {
        fprintf(stderr, "cannot read secret %s\n", argv[2]);
        return 2;
    }
    struct cn_http_client_opts copts = {.auth = auth, .timeout_ms = 60000};
    struct cn_http_client *client;
    if (cn_http_client_new(&copts, &client) != 0)
        return 2;
    char base[256], target[256];
    snprintf(base, sizeof(base), "http://%s", argv[1]);
    /* Every target is a chunkserver's; the tool reads fragment data and
     * listings (checked by the scripts) whose bodies may go unsigned. */
    struct cn_http_request req = {
        .base_url = base, .target = target, .to_role = CN_ROLE_CHUNK, .resp_body_unsigned_ok = 1};
    struct cn_http_response resp = {0};
    int rc, result = 2;
    char h[8][128];
    const char *hdrs[9] = {NULL};

    if (strcmp(cmd, "put") == 0 && (argc == 10 || argc == 11)) {
        snprintf(target, sizeof(target), "%s%s/%s", CN_ROUTE_CS_FRAGMENT, argv[4], argv[5]);
        size_t len;
        uint8_t *data = read_all(argv[9], &len);
        if (data == NULL)
            goto out;
        uint32_t crc = ec_crc32c(data, len);
        free(data);
        const char *mode = argc == 11 ? argv[10] : "crc";
        snprintf(h[0], sizeof(h[0]), CN_HDR_K ": %s", argv[6]);
        snprintf(h[1], sizeof(h[1]), CN_HDR_M ": %s", argv[7]);
        snprintf(h[2], sizeof(h[2]), CN_HDR_UNIT ": %s", argv[8]);
        snprintf(h[3], sizeof(h[3]), CN_HDR_DATA_LEN ": %zu", len);
        snprintf(h[4], sizeof(h[4]), CN_HDR_DATA_CRC ": %08" PRIx32,
                 strcmp(mode, "badcrc") == 0 ? crc ^ 1 : crc);
        for (int i = 0; i < 4; i++)
            hdrs[i] = h[i];
        if (strcmp(mode, "nocrc") != 0)
            hdrs[4] = h[4];
        FILE *f = fopen(argv[9], "rb");
        req.method = "PUT";
        req.headers = hdrs;
        req.body_reader = strcmp(mode, "slow") == 0 ? slow_file_reader : file_reader;
        req.body_cls = f;
        req.body_size = strcmp(mode, "chunked") == 0 ? -1 : (int64_t)len;
        rc = cn_http_client_do(client, &req, &resp);
        fclose(f);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "get") == 0 && (argc == 7 || argc == 9)) {
        snprintf(target, sizeof(target), "%s%s/%s", CN_ROUTE_CS_FRAGMENT, argv[4], argv[5]);
        if (argc == 9) {
            uint64_t off = strtoull(argv[7], NULL, 10), len = strtoull(argv[8], NULL, 10);
            snprintf(h[0], sizeof(h[0]), "Range: bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
            hdrs[0] = h[0];
            req.headers = hdrs;
        }
        FILE *f = fopen(argv[6], "wb");
        req.method = "GET";
        req.resp_writer = file_writer;
        req.resp_cls = f;
        rc = cn_http_client_do(client, &req, &resp);
        if (fclose(f) != 0 && rc == 0)
            rc = CAIRN_E_IO;
        result = finish(rc, &resp);
    } else if ((strcmp(cmd, "head") == 0 || strcmp(cmd, "delete") == 0) && argc == 6) {
        snprintf(target, sizeof(target), "%s%s/%s", CN_ROUTE_CS_FRAGMENT, argv[4], argv[5]);
        req.method = strcmp(cmd, "head") == 0 ? "HEAD" : "DELETE";
        rc = cn_http_client_do(client, &req, &resp);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "append") == 0 && (argc == 11 || argc == 13)) {
        snprintf(target, sizeof(target), "%s%s/%s?" CN_ARG_CS_APPEND "=%s", CN_ROUTE_CS_FRAGMENT,
                 argv[4], argv[5], argv[9]);
        size_t len;
        uint8_t *data = read_all(argv[10], &len);
        if (data == NULL)
            goto out;
        size_t from = argc == 13 ? strtoull(argv[11], NULL, 10) : 0;
        size_t n = argc == 13 ? strtoull(argv[12], NULL, 10) : len;
        if (from > len || n > len - from) {
            free(data);
            goto out;
        }
        snprintf(h[0], sizeof(h[0]), CN_HDR_K ": %s", argv[6]);
        snprintf(h[1], sizeof(h[1]), CN_HDR_M ": %s", argv[7]);
        snprintf(h[2], sizeof(h[2]), CN_HDR_UNIT ": %s", argv[8]);
        snprintf(h[3], sizeof(h[3]), CN_HDR_DATA_CRC ": %08" PRIx32, ec_crc32c(data + from, n));
        for (int i = 0; i < 4; i++)
            hdrs[i] = h[i];
        req.method = "POST";
        req.headers = hdrs;
        req.body = data + from;
        req.body_len = n;
        rc = cn_http_client_do(client, &req, &resp);
        free(data);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "seal") == 0 && argc == 7) {
        snprintf(target, sizeof(target), "%s%s/%s?" CN_ARG_CS_SEAL "=%s", CN_ROUTE_CS_FRAGMENT,
                 argv[4], argv[5], argv[6]);
        req.method = "POST";
        rc = cn_http_client_do(client, &req, &resp);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "raw") == 0 && argc == 6) {
        snprintf(target, sizeof(target), "%s", argv[5]);
        req.method = argv[4];
        rc = cn_http_client_do(client, &req, &resp);
        if (rc == 0 && resp.body)
            fwrite(resp.body, 1, resp.body_len, stdout);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "rebuild") == 0 && argc >= 10) {
        Chunk__RebuildRequest msg = CHUNK__REBUILD_REQUEST__INIT;
        uint8_t group[16];
        for (int i = 0; i < 16; i++)
            sscanf(argv[4] + 2 * i, "%2hhx", &group[i]);
        msg.group_id.data = group;
        msg.group_id.len = 16;
        msg.index = (uint32_t)atoi(argv[5]);
        msg.k = (uint32_t)atoi(argv[6]);
        msg.m = (uint32_t)atoi(argv[7]);
        msg.unit = (uint32_t)atoi(argv[8]);
        msg.data_length = strtoull(argv[9], NULL, 10);
        Chunk__FragmentSource srcs[EC_MAX_FRAGS];
        Chunk__FragmentSource *srcp[EC_MAX_FRAGS];
        size_t n = 0;
        for (int i = 10; i < argc && n < EC_MAX_FRAGS; i++) {
            if (strncmp(argv[i], "crc=", 4) == 0) {
                msg.check_crc = 1;
                msg.data_crc32c = (uint32_t)strtoul(argv[i] + 4, NULL, 16);
                continue;
            }
            char *eq = strchr(argv[i], '=');
            if (eq == NULL)
                goto out;
            chunk__fragment_source__init(&srcs[n]);
            srcs[n].index = (uint32_t)atoi(argv[i]);
            srcs[n].address = eq + 1;
            srcp[n] = &srcs[n];
            n++;
        }
        msg.n_sources = n;
        msg.sources = srcp;
        size_t blen = chunk__rebuild_request__get_packed_size(&msg);
        uint8_t *body = malloc(blen);
        chunk__rebuild_request__pack(&msg, body);
        snprintf(target, sizeof(target), "%s", CN_ROUTE_CS_REBUILD);
        req.method = "POST";
        req.body = body;
        req.body_len = blen;
        rc = cn_http_client_do(client, &req, &resp);
        free(body);
        result = finish(rc, &resp);
    } else if (strcmp(cmd, "compact") == 0 && argc >= 11) {
        Chunk__CompactRequest msg = CHUNK__COMPACT_REQUEST__INIT;
        uint8_t ng[16], og[16];
        for (int i = 0; i < 16; i++) {
            sscanf(argv[4] + 2 * i, "%2hhx", &ng[i]);
            sscanf(argv[5] + 2 * i, "%2hhx", &og[i]);
        }
        msg.new_group_id = (ProtobufCBinaryData){16, ng};
        msg.old_group_id = (ProtobufCBinaryData){16, og};
        msg.index = (uint32_t)atoi(argv[6]);
        msg.k = (uint32_t)atoi(argv[7]);
        msg.m = (uint32_t)atoi(argv[8]);
        msg.unit = (uint32_t)atoi(argv[9]);
        Chunk__FragmentRange rs[32], *rsp[32];
        size_t n = 0;
        for (int i = 10; i < argc && n < 32; i++, n++) {
            chunk__fragment_range__init(&rs[n]);
            if (sscanf(argv[i], "%" SCNu64 ":%" SCNu64, &rs[n].offset, &rs[n].length) != 2)
                goto out;
            rsp[n] = &rs[n];
        }
        msg.n_ranges = n;
        msg.ranges = rsp;
        size_t blen = chunk__compact_request__get_packed_size(&msg);
        uint8_t *body = malloc(blen);
        chunk__compact_request__pack(&msg, body);
        snprintf(target, sizeof(target), "%s", CN_ROUTE_CS_COMPACT);
        req.method = "POST";
        req.body = body;
        req.body_len = blen;
        rc = cn_http_client_do(client, &req, &resp);
        free(body);
        result = finish(rc, &resp);
    } else {
        cn_http_client_free(client);
        cn_auth_free(auth);
        goto usage;
    }
out:
    cn_http_client_free(client);
    cn_auth_free(auth);
    return result;
usage:
    fprintf(stderr, "usage: see the top of tests/chunkserver/cs_testclient.c\n");
    return 2;
}
