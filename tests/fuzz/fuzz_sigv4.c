/* Harness sigv4: AWS Signature Version 4 verification (gateway/gw_sigv4.c):
 * the Authorization header and presigned-URL forms, and the aws-chunked
 * body decoder with its chunk signatures and checksum trailers.
 *
 * Input (text): method, raw path, raw query, "Name: value" headers up to an
 * empty line, then the body. Verification runs at 2013-05-24T00:00:00Z
 * with two known keys (AKIAIOSFODNN7EXAMPLE, CAIRNTESTKEY0001) and one
 * whose lookup fails (BROKENLOOKUP).
 *
 * A fuzzer cannot forge an HMAC, so the harness re-signs: when verification
 * fails with SignatureDoesNotMatch it computes the signature of the
 * string-to-sign the gateway reported (with its own HMAC chain), puts it in
 * place of the one sent, and verifies again. An aws-chunked body gets the
 * same treatment (each chunk signature, the checksum trailer and the
 * trailer signature recomputed where the framing is recognizable), so the
 * decoder's later states are reached. Oracles: a request re-signed over the
 * same string-to-sign verifies; the decoder gives the same outcome and the
 * same bytes whether the body arrives whole or in small pieces, and never
 * emits more than x-amz-decoded-content-length. */
#include "fuzz.h"

#include "gw_checksum.h"
#include "gw_sigv4.h"

#include "cn_error.h"
#include "cn_util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW         1369353600 /* 2013-05-24T00:00:00Z */
#define MAX_HEADERS 64
#define EMPTY_SHA   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct {
    const char *ak, *sk;
} keys[] = {
    {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    {"CAIRNTESTKEY0001", "cairn/test+secret=42/abcdefghijklmnopqrst"},
};

static int lookup(void *ctx, const char *ak, char *secret, size_t cap)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i].ak, ak) == 0) {
            snprintf(secret, cap, "%s", keys[i].sk);
            return 0;
        }
    }
    return strcmp(ak, "BROKENLOOKUP") == 0 ? CAIRN_E_UNAVAIL : CAIRN_E_NOTFOUND;
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len))
        abort();
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 32;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        abort();
    cn_hex_encode(md, 32, hex);
}

/* The signing key of the scope "date/region/service/aws4_request" for the
 * access key that the string-to-sign's request used; 0 or -1 (unknown). */
static int signing_key(const char *ak, const char *scope, unsigned char key[32])
{
    const char *sk = NULL;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].ak, ak) == 0)
            sk = keys[i].sk;
    char parts[3][64];
    if (!sk ||
        sscanf(scope, "%63[^/]/%63[^/]/%63[^/]/aws4_request", parts[0], parts[1], parts[2]) != 3)
        return -1;
    char k0[160];
    snprintf(k0, sizeof(k0), "AWS4%s", sk);
    hmac(k0, strlen(k0), parts[0], strlen(parts[0]), key);
    for (int i = 1; i < 3; i++)
        hmac(key, 32, parts[i], strlen(parts[i]), key);
    hmac(key, 32, "aws4_request", 12, key);
    return 0;
}

/* Puts sig in place of the signature gw_sigv4 read from an Authorization
 * value: the first comma-separated parameter named Signature, as
 * auth_param() in gw_sigv4.c finds it. Returns 1 if it held old. */
static int replace_header_sig(char *auth, const char *old, const char *sig)
{
    while (*auth == ' ')
        auth++;
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0)
        return 0;
    for (char *p = auth + 17; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 9 && strncmp(p, "Signature=", 10) == 0) {
            if (len != 10 + 64 || memcmp(p + 10, old, 64) != 0)
                return 0;
            memcpy(p + 10, sig, 64);
            return 1;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    return 0;
}

/* The same for a presigned URL: the value of the first query parameter
 * whose name decodes to X-Amz-Signature (what gw_query_get returns), if it
 * is old written plainly. */
static int replace_query_sig(struct fuzz_in *in, char *query, const char *old, const char *sig)
{
    for (char *p = query; *p;) {
        char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        char *name = fuzz_alloc(in, nlen);
        if (gw_url_decode(p, nlen, name, nlen + 1, 0) >= 0 &&
            strcmp(name, "X-Amz-Signature") == 0) {
            if (!eq || len - nlen - 1 != 64 || memcmp(eq + 1, old, 64) != 0)
                return 0;
            memcpy(eq + 1, sig, 64);
            return 1;
        }
        p = amp ? amp + 1 : p + len;
    }
    return 0;
}

/* ---- aws-chunked re-signing --------------------------------------------- */

struct out {
    char *p;
    size_t n, cap;
};

static void out_add(struct out *o, const void *p, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        size_t cap = (o->n + n + 1) * 2;
        char *np = realloc(o->p, cap);
        if (!np)
            abort();
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void chunk_sig(const unsigned char key[32], const struct gw_sigv4_result *res,
                      const char *prev, const void *data, size_t len, char sig[65])
{
    char hex[65], sts[512];
    unsigned char mac[32];
    sha256_hex(data, len, hex);
    int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s",
                     res->amz_date, res->scope, prev, EMPTY_SHA, hex);
    hmac(key, 32, sts, (size_t)n, mac);
    cn_hex_encode(mac, 32, sig);
}

/* A copy of body[len] with every recognizable chunk signature, the checksum
 * trailer and the trailer signature made right for res. */
static char *resign_chunked(const struct gw_sigv4_result *res, const char *body, size_t len,
                            size_t *out_len)
{
    static const char ext[] = ";chunk-signature=";
    struct out o = {0};
    out_add(&o, "", 0);
    int is_signed = res->payload != GW_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    char prev[65];
    memcpy(prev, res->signature, 65);
    struct gw_checksum *ck = NULL;
    enum gw_checksum_alg alg;
    if (res->trailer[0] && gw_checksum_alg_from_header(res->trailer, &alg) == 0 &&
        gw_checksum_new(alg, &ck) != 0)
        abort();
    size_t pos = 0;
    int final = 0;
    while (pos < len && !final) {
        const char *eol = memmem(body + pos, len - pos, "\r\n", 2);
        if (!eol)
            break;
        size_t llen = (size_t)(eol - (body + pos)), hex = 0;
        uint64_t size = 0;
        while (hex < llen && hex < 16 && cn_hex_digit((unsigned char)body[pos + hex]) >= 0)
            size = size * 16 + (uint64_t)cn_hex_digit((unsigned char)body[pos + hex++]);
        size_t data_at = pos + llen + 2;
        if (hex == 0 || size > len - data_at)
            break;
        if (ck && gw_checksum_update(ck, body + data_at, (size_t)size))
            abort();
        if (is_signed && llen == hex + sizeof(ext) - 1 + 64 &&
            memcmp(body + pos + hex, ext, sizeof(ext) - 1) == 0) {
            char sig[65];
            chunk_sig(res->signing_key, res, prev, body + data_at, (size_t)size, sig);
            out_add(&o, body + pos, hex + sizeof(ext) - 1);
            out_add(&o, sig, 64);
            out_add(&o, "\r\n", 2);
            memcpy(prev, sig, 65);
        } else {
            out_add(&o, body + pos, llen + 2);
        }
        size_t next = data_at + (size_t)size + (size ? 2 : 0);
        out_add(&o, body + data_at, (next < len ? next : len) - data_at);
        pos = next < len ? next : len;
        final = size == 0;
    }
    /* Trailer lines: the declared checksum gets its true value; the trailer
     * signature is made to cover it. */
    char value[GW_CHECKSUM_B64_MAX] = "";
    if (final && ck && gw_checksum_final(ck, value))
        abort();
    while (final && pos < len) {
        const char *eol = memmem(body + pos, len - pos, "\r\n", 2);
        size_t llen = eol ? (size_t)(eol - (body + pos)) : len - pos;
        const char *colon = memchr(body + pos, ':', llen);
        size_t nlen = colon ? (size_t)(colon - (body + pos)) : 0;
        if (colon && ck && nlen == strlen(res->trailer) &&
            strncasecmp(body + pos, res->trailer, nlen) == 0) {
            out_add(&o, body + pos, nlen + 1);
            out_add(&o, value, strlen(value));
        } else if (colon && is_signed && nlen == 23 &&
                   strncasecmp(body + pos, "x-amz-trailer-signature", 23) == 0) {
            char canonical[128], hexd[65], sts[512], sig[65];
            unsigned char mac[32];
            snprintf(canonical, sizeof(canonical), "%s:%s\n", res->trailer, value);
            sha256_hex(canonical, strlen(canonical), hexd);
            int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s",
                             res->amz_date, res->scope, prev, hexd);
            hmac(res->signing_key, 32, sts, (size_t)n, mac);
            cn_hex_encode(mac, 32, sig);
            out_add(&o, body + pos, nlen + 1);
            out_add(&o, sig, 64);
        } else {
            out_add(&o, body + pos, llen);
        }
        if (eol)
            out_add(&o, "\r\n", 2);
        pos += llen + (eol ? 2 : 0);
    }
    if (pos < len)
        out_add(&o, body + pos, len - pos);
    gw_checksum_free(ck);
    *out_len = o.n;
    return o.p;
}

/* ---- decoding ------------------------------------------------------------ */

struct sink {
    struct out bytes;
};

static int emit(void *ctx, const void *data, size_t len)
{
    struct sink *s = ctx;
    if (s->bytes.n + len <= (1u << 20))
        out_add(&s->bytes, data, len);
    return 0;
}

/* Decodes body fed in pieces of piece bytes (0: whole); returns the final
 * status and the S3 error in *err, the bytes in s. */
static int decode(const struct gw_sigv4_result *res, const char *body, size_t len, size_t piece,
                  struct sink *s, enum gw_s3err *err)
{
    struct gw_chunked *d;
    if (gw_chunked_new(res, 1u << 16, &d) != 0)
        return 1; /* refused up front: the same for every split */
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = piece && piece < len - off ? piece : len - off;
        rc = gw_chunked_feed(d, body + off, n, emit, s, err);
        off += n;
    }
    if (rc == 0)
        rc = gw_chunked_finish(d, err);
    uint64_t decoded = gw_chunked_decoded(d);
    fuzz_check(decoded == s->bytes.n || s->bytes.n == (1u << 20) || decoded > (1u << 20),
               "decoded %llu, emitted %zu", (unsigned long long)decoded, s->bytes.n);
    if (res->decoded_content_length >= 0)
        fuzz_check(decoded <= (uint64_t)res->decoded_content_length,
                   "decoded %llu bytes of a declared %lld", (unsigned long long)decoded,
                   (long long)res->decoded_content_length);
    gw_chunked_free(d);
    return rc;
}

static void check_body(const struct gw_sigv4_result *res, const char *body, size_t len)
{
    if (res->payload == GW_SIGV4_PAYLOAD_SIGNED) {
        struct gw_sha256_check *c;
        if (gw_sha256_check_new(res->payload_sha256, &c) == 0) {
            gw_sha256_check_update(c, body, len);
            gw_sha256_check_finish(c);
            gw_sha256_check_free(c);
        }
        return;
    }
    if (res->payload == GW_SIGV4_PAYLOAD_UNSIGNED)
        return;
    size_t slen;
    char *signed_body = resign_chunked(res, body, len, &slen);
    struct sink whole = {{0}}, pieces = {{0}};
    enum gw_s3err e1 = GW_S3_OK, e2 = GW_S3_OK;
    int rc1 = decode(res, signed_body, slen, 0, &whole, &e1);
    int rc2 = decode(res, signed_body, slen, 1 + slen % 7, &pieces, &e2);
    fuzz_check(rc1 == rc2 && e1 == e2, "whole body: %d/%d, in pieces: %d/%d", rc1, (int)e1, rc2,
               (int)e2);
    fuzz_check(
        whole.bytes.n == pieces.bytes.n &&
            (whole.bytes.n == 0 || memcmp(whole.bytes.p, pieces.bytes.p, whole.bytes.n) == 0),
        "decoded bytes differ with the split");
    free(whole.bytes.p);
    free(pieces.bytes.p);
    free(signed_body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    fuzz_in_init(&in, data, size);
    const char *method = fuzz_line(&in, NULL);
    char *path = fuzz_line(&in, NULL);
    char *query = fuzz_line(&in, NULL);
    struct gw_header h[MAX_HEADERS];
    size_t n = 0;
    while (fuzz_in_more(&in)) {
        size_t llen;
        char *line = fuzz_line(&in, &llen);
        if (llen && line[llen - 1] == '\r')
            line[--llen] = '\0';
        if (llen == 0)
            break;
        char *colon = strchr(line, ':');
        if (!colon || n == MAX_HEADERS)
            continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        h[n].name = line;
        h[n].value = value;
        n++;
    }
    size_t blen;
    const char *body = fuzz_rest(&in, &blen);

    struct gw_sigv4_config cfg = {
        .region = "us-east-1", .service = "s3", .require_content_sha256 = 0, .lookup = lookup};
    struct gw_sigv4_mismatch m;
    gw_sigv4_mismatch_init(&m);
    struct gw_sigv4_request req = {method, path, query[0] ? query : NULL, h, n, &m};
    struct gw_sigv4_result res;
    enum gw_s3err err;
    gw_sigv4_kind_of(&req);
    int rc = gw_sigv4_verify(&cfg, &req, NOW, &res, &err);
    if (rc == CAIRN_E_AUTH && err == GW_S3_SIGNATURE_DOES_NOT_MATCH && m.filled) {
        struct gw_buf doc;
        gw_buf_init(&doc, 0);
        fuzz_check(gw_sigv4_mismatch_xml(&doc, &m, path, "req") == 0, "mismatch document");
        gw_buf_free(&doc);

        /* Re-sign the string-to-sign the gateway reported. */
        char *sts = fuzz_strndup(&in, m.string_to_sign.data, m.string_to_sign.len);
        char *l1 = strchr(sts, '\n'), *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;
        char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
        unsigned char key[32], mac[32];
        if (l3) {
            *l3 = '\0';
            int known = signing_key(m.access_key, l2 + 1, key);
            *l3 = '\n';
            if (known == 0) {
                char sig[65];
                hmac(key, 32, sts, strlen(sts), mac);
                cn_hex_encode(mac, 32, sig);
                const char *auth = gw_header_get(h, n, "Authorization");
                int replaced = 0;
                for (size_t i = 0; auth && i < n; i++)
                    if (h[i].value == auth)
                        replaced =
                            replace_header_sig((char *)h[i].value, m.signature_provided, sig);
                if (!auth)
                    replaced = replace_query_sig(&in, query, m.signature_provided, sig);
                struct gw_sigv4_mismatch m2;
                gw_sigv4_mismatch_init(&m2);
                req.mismatch = &m2;
                rc = gw_sigv4_verify(&cfg, &req, NOW, &res, &err);
                /* A signature made over the very string-to-sign that the
                 * second verification computed must be accepted. */
                fuzz_check(!replaced || rc == 0 || !m2.filled ||
                               m2.string_to_sign.len != m.string_to_sign.len ||
                               memcmp(m2.string_to_sign.data, m.string_to_sign.data,
                                      m.string_to_sign.len) != 0,
                           "re-signed request refused: %d/%d", rc, (int)err);
                gw_sigv4_mismatch_free(&m2);
            }
        }
    }
    if (rc == 0) {
        fuzz_check(res.kind == GW_SIGV4_HEADER || res.kind == GW_SIGV4_PRESIGNED, "kind %d",
                   (int)res.kind);
        check_body(&res, body, blen);
        gw_sigv4_result_wipe(&res);
    }
    gw_sigv4_mismatch_free(&m);
    fuzz_in_free(&in);
    return 0;
}
