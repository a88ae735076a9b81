#include "gw_sigv4.h"

#include "gw_checksum.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- small crypto helpers -------------------------------------------- */

static int hmac256(const void *key, size_t klen, const void *data, size_t len,
                   unsigned char out[32])
{
    unsigned int olen = 32;
    return HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen) ? 0 : CAIRN_E_NOMEM;
}

static int sha256(const void *data, size_t len, unsigned char out[32])
{
    return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) ? 0 : CAIRN_E_NOMEM;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The signing keys last derived on this thread: a client signs every request
 * of a day with the same key (AWS's SDKs keep it the same way), and deriving
 * it costs four HMACs — a tenth of the gateway's CPU per small GET. Keyed by
 * every input; entries never leave the thread, like the secrets themselves
 * (gw_keycache). */
#define MEMO_N 4
struct key_memo {
    char in[GW_SIGV4_MAX_SECRET + 96]; /* secret NUL date NUL region NUL service */
    size_t len;                        /* 0: empty */
    unsigned char key[32];
};
static _Thread_local struct key_memo memo[MEMO_N];
static _Thread_local unsigned memo_next;

/* The memo's lookup key into in[sizeof memo.in]; 0 when the inputs do not fit
 * (then nothing is remembered). */
static size_t memo_key(char *in, const char *secret, const char *date, const char *region,
                       const char *service)
{
    size_t n = 0, cap = sizeof(((struct key_memo *)0)->in);
    const char *parts[4] = {secret, date, region, service};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]);
        if (n + l + 1 > cap)
            return 0;
        memcpy(in + n, parts[i], l + 1);
        n += l + 1;
    }
    return n;
}

static int derive_signing_key(const char *secret, const char *date, const char *region,
                              const char *service, unsigned char key[32]);

int gw_sigv4_signing_key(const char *secret, const char *date, const char *region,
                         const char *service, unsigned char key[32])
{
    char in[sizeof(memo[0].in)];
    size_t n = memo_key(in, secret, date, region, service);
    for (unsigned i = 0; n && i < MEMO_N; i++)
        if (memo[i].len == n && memcmp(memo[i].in, in, n) == 0) {
            memcpy(key, memo[i].key, 32);
            OPENSSL_cleanse(in, n);
            return 0;
        }
    int rc = derive_signing_key(secret, date, region, service, key);
    if (rc == 0 && n) {
        struct key_memo *m = &memo[memo_next++ % MEMO_N];
        memcpy(m->in, in, n);
        m->len = n;
        memcpy(m->key, key, 32);
    }
    OPENSSL_cleanse(in, n);
    return rc;
}

static int derive_signing_key(const char *secret, const char *date, const char *region,
                              const char *service, unsigned char key[32])
{
    char k0[GW_SIGV4_MAX_SECRET + 8];
    size_t slen = strlen(secret);
    if (slen > GW_SIGV4_MAX_SECRET)
        return CAIRN_E_INVAL;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    unsigned char a[32], b[32];
    int rc = hmac256(k0, slen + 4, date, strlen(date), a);
    if (!rc)
        rc = hmac256(a, 32, region, strlen(region), b);
    if (!rc)
        rc = hmac256(b, 32, service, strlen(service), a);
    if (!rc)
        rc = hmac256(a, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return rc;
}

int gw_sigv4_sign_canonical(const unsigned char key[32], const char *amz_date, const char *scope,
                            const char *canonical_request, size_t len, char sig[65])
{
    unsigned char h[32], mac[32];
    char hhex[65];
    if (sha256(canonical_request, len, h))
        return CAIRN_E_NOMEM;
    cn_hex_encode(h, 32, hhex);
    struct gw_buf sts;
    gw_buf_init(&sts, 4096);
    gw_buf_printf(&sts, "%s\n%s\n%s\n%s", GW_SIGV4_ALGORITHM, amz_date, scope, hhex);
    int rc = gw_buf_error(&sts);
    if (!rc)
        rc = hmac256(key, 32, sts.data, sts.len, mac);
    gw_buf_free(&sts);
    if (!rc)
        cn_hex_encode(mac, 32, sig);
    return rc;
}

/* ---- canonical request ----------------------------------------------- */

/* Canonical URI: the request-target path with every byte URI-encoded once.
 * Existing escapes are decoded first (so "%24" and "$" both become "%24"),
 * but an escaped '/' stays "%2F": it is part of a name, not a separator. */
static int canonical_uri(struct gw_buf *out, const char *raw)
{
    if (!raw || !*raw) {
        gw_buf_puts(out, "/");
        return 0;
    }
    for (const char *p = raw; *p; p++) {
        char c = *p;
        if (c == '%') {
            int hi = cn_hex_digit((unsigned char)p[1]);
            int lo = hi < 0 ? -1 : cn_hex_digit((unsigned char)p[2]);
            if (hi < 0 || lo < 0)
                return CAIRN_E_INVAL;
            c = (char)(hi * 16 + lo);
            p += 2;
            gw_uri_encode(out, &c, 1, 0); /* a decoded '/' is encoded */
            continue;
        }
        gw_uri_encode(out, &c, 1, 1);
    }
    return 0;
}

struct qpair {
    char *name;
    char *value;
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Decodes raw[len] ('+' literal) and re-encodes it with UriEncode into a new
 * string. Returns NULL with *rc set on failure. */
static char *reencode(const char *raw, size_t len, int *rc)
{
    char *dec = malloc(len + 1);
    if (!dec) {
        *rc = CAIRN_E_NOMEM;
        return NULL;
    }
    /* Decode by hand: unlike gw_url_decode, NUL bytes are legal here. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '%') {
            int hi = i + 2 < len ? cn_hex_digit((unsigned char)raw[i + 1]) : -1;
            int lo = hi < 0 ? -1 : cn_hex_digit((unsigned char)raw[i + 2]);
            if (hi < 0 || lo < 0) {
                free(dec);
                *rc = CAIRN_E_INVAL;
                return NULL;
            }
            dec[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dec[n++] = raw[i];
        }
    }
    struct gw_buf b;
    gw_buf_init(&b, 3 * len + 1);
    gw_uri_encode(&b, dec, n, 0);
    gw_buf_append(&b, "", 0);
    free(dec);
    size_t olen;
    char *out = gw_buf_take(&b, &olen);
    if (!out)
        *rc = CAIRN_E_NOMEM;
    return out;
}

static int canonical_query(struct gw_buf *out, const char *raw, const char *exclude)
{
    if (!raw || !*raw)
        return 0;
    size_t cap = 1;
    for (const char *p = raw; *p; p++)
        cap += *p == '&';
    if (cap > GW_MAX_QUERY_PARAMS * 4)
        return CAIRN_E_RANGE;
    struct qpair *pairs = calloc(cap, sizeof(*pairs));
    if (!pairs)
        return CAIRN_E_NOMEM;
    size_t n = 0;
    int rc = 0;
    const char *p = raw;
    while (*p && rc == 0) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            pairs[n].name = reencode(p, nlen, &rc);
            if (pairs[n].name) {
                pairs[n].value = eq ? reencode(eq + 1, len - nlen - 1, &rc) : reencode("", 0, &rc);
                if (!pairs[n].value) {
                    free(pairs[n].name);
                    pairs[n].name = NULL;
                } else if (exclude && strcmp(pairs[n].name, exclude) == 0) {
                    free(pairs[n].name);
                    free(pairs[n].value);
                    pairs[n].name = pairs[n].value = NULL;
                } else {
                    n++;
                }
            }
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (rc == 0) {
        qsort(pairs, n, sizeof(*pairs), qpair_cmp);
        for (size_t i = 0; i < n; i++)
            gw_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

/* Appends value trimmed, inner runs of blanks collapsed to one space. */
static void canonical_value(struct gw_buf *out, const char *v)
{
    int pending_space = 0, any = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending_space = any;
            continue;
        }
        if (pending_space)
            gw_buf_append(out, " ", 1);
        pending_space = 0;
        any = 1;
        gw_buf_append(out, v, 1);
    }
}

int gw_sigv4_canonical_request(struct gw_buf *out, const struct gw_sigv4_request *req,
                               const char *signed_headers, const char *payload_hash,
                               const char *exclude_param, enum gw_s3err *err)
{
    *err = GW_S3_OK;
    gw_buf_puts(out, req->method);
    gw_buf_puts(out, "\n");
    if (canonical_uri(out, req->raw_path)) {
        *err = GW_S3_INVALID_ARGUMENT;
        return CAIRN_E_INVAL;
    }
    gw_buf_puts(out, "\n");
    int rc = canonical_query(out, req->raw_query, exclude_param);
    if (rc) {
        *err = rc == CAIRN_E_NOMEM ? GW_S3_INTERNAL_ERROR : GW_S3_INVALID_ARGUMENT;
        return rc;
    }
    gw_buf_puts(out, "\n");
    const char *p = signed_headers;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len > 256) {
            *err = GW_S3_AUTHORIZATION_HEADER_MALFORMED;
            return CAIRN_E_INVAL;
        }
        char name[257];
        memcpy(name, p, len);
        name[len] = '\0';
        gw_buf_append(out, name, len);
        gw_buf_puts(out, ":");
        int found = 0;
        for (size_t i = 0; i < req->n_headers; i++) {
            if (!req->headers[i].name || strcasecmp(req->headers[i].name, name) != 0)
                continue;
            if (found++)
                gw_buf_puts(out, ",");
            canonical_value(out, req->headers[i].value ? req->headers[i].value : "");
        }
        if (!found) {
            *err = GW_S3_SIGNATURE_DOES_NOT_MATCH;
            return CAIRN_E_INVAL;
        }
        gw_buf_puts(out, "\n");
        p += len;
        if (*p == ';')
            p++;
    }
    gw_buf_printf(out, "\n%s\n%s", signed_headers, payload_hash);
    rc = gw_buf_error(out);
    if (rc) /* a capped buffer overflows only for absurdly large signed headers */
        *err = rc == CAIRN_E_RANGE ? GW_S3_INVALID_REQUEST : GW_S3_INTERNAL_ERROR;
    return rc;
}

/* ---- request forms --------------------------------------------------- */

enum gw_sigv4_kind gw_sigv4_kind_of(const struct gw_sigv4_request *req)
{
    if (gw_header_get(req->headers, req->n_headers, "Authorization"))
        return GW_SIGV4_HEADER;
    const char *q = req->raw_query;
    if (q) {
        /* X-Amz-Signature or X-Amz-Credential as a parameter name */
        for (const char *p = q; *p;) {
            if (strncmp(p, "X-Amz-Signature=", 16) == 0 ||
                strncmp(p, "X-Amz-Credential=", 17) == 0 || strncmp(p, "X-Amz-Algorithm=", 16) == 0)
                return GW_SIGV4_PRESIGNED;
            const char *amp = strchr(p, '&');
            if (!amp)
                break;
            p = amp + 1;
        }
    }
    return GW_SIGV4_ANONYMOUS;
}

void gw_sigv4_result_wipe(struct gw_sigv4_result *res)
{
    OPENSSL_cleanse(res->signing_key, sizeof(res->signing_key));
}

/* The parts of a credential scope. */
struct scope_parts {
    char access_key[GW_SIGV4_MAX_ACCESS_KEY + 1];
    char date[9];
    char region[64];
    char service[32];
};

/* Parses "AK/20130524/us-east-1/s3/aws4_request" (len bytes). */
static int parse_credential(const char *s, size_t len, struct scope_parts *sp)
{
    const char *slash[4];
    int found = 0;
    for (size_t i = len; i-- > 0 && found < 4;)
        if (s[i] == '/')
            slash[found++] = s + i;
    if (found < 4)
        return CAIRN_E_INVAL;
    /* slash[3] < slash[2] < slash[1] < slash[0] */
    size_t aklen = (size_t)(slash[3] - s);
    size_t dlen = (size_t)(slash[2] - slash[3] - 1);
    size_t rlen = (size_t)(slash[1] - slash[2] - 1);
    size_t svlen = (size_t)(slash[0] - slash[1] - 1);
    size_t tlen = (size_t)(s + len - slash[0] - 1);
    if (aklen == 0 || aklen > GW_SIGV4_MAX_ACCESS_KEY || dlen != 8 || rlen == 0 ||
        rlen >= sizeof(sp->region) || svlen == 0 || svlen >= sizeof(sp->service) || tlen != 12 ||
        memcmp(slash[0] + 1, "aws4_request", 12) != 0)
        return CAIRN_E_INVAL;
    memcpy(sp->access_key, s, aklen);
    sp->access_key[aklen] = '\0';
    memcpy(sp->date, slash[3] + 1, 8);
    sp->date[8] = '\0';
    for (int i = 0; i < 8; i++)
        if (!isdigit((unsigned char)sp->date[i]))
            return CAIRN_E_INVAL;
    memcpy(sp->region, slash[2] + 1, rlen);
    sp->region[rlen] = '\0';
    memcpy(sp->service, slash[1] + 1, svlen);
    sp->service[svlen] = '\0';
    for (size_t i = 0; i < aklen; i++)
        if ((unsigned char)sp->access_key[i] <= ' ')
            return CAIRN_E_INVAL;
    return 0;
}

/* What the two forms have in common once their fields are extracted. */
struct auth_fields {
    struct scope_parts scope;
    char amz_date[17];
    char signed_headers[1024];
    char signature[65];
    const char *payload_hash; /* string placed in the canonical request */
    const char *exclude;      /* query parameter left out (presigned) */
};

/* Copies the value of "Name=value" from a comma-separated Authorization
 * parameter list into out. Returns 0 or CAIRN_E_INVAL (missing, too long). */
static int auth_param(const char *params, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = params;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            if (vlen == 0 || vlen >= cap)
                return CAIRN_E_INVAL;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    return CAIRN_E_INVAL;
}

static int fail(enum gw_s3err *err, enum gw_s3err e, int rc)
{
    *err = e;
    return rc;
}

/* Converts the request date (x-amz-date, else Date) to the basic format. */
static int request_date(const struct gw_sigv4_request *req, char out[17], int64_t *t)
{
    const char *d = gw_header_get(req->headers, req->n_headers, "x-amz-date");
    if (!d)
        d = gw_header_get(req->headers, req->n_headers, "Date");
    if (!d)
        return CAIRN_E_INVAL;
    if (gw_amz_date_parse(d, t) == 0) {
        memcpy(out, d, 17);
        return 0;
    }
    if (gw_http_date_parse(d, t) != 0)
        return CAIRN_E_INVAL;
    char iso[25];
    gw_iso8601_format(*t * 1000, iso); /* "2013-05-24T00:00:00.000Z" */
    snprintf(out, 17, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11, iso + 14,
             iso + 17);
    return 0;
}

static int header_fields(const struct gw_sigv4_config *cfg, const struct gw_sigv4_request *req,
                         int64_t now_s, struct auth_fields *f, struct gw_sigv4_result *res,
                         enum gw_s3err *err)
{
    const char *auth = gw_header_get(req->headers, req->n_headers, "Authorization");
    while (*auth == ' ' || *auth == '\t')
        auth++;
    /* An empty Authorization is refused as AWS does (403 AccessDenied),
     * never read as an anonymous request. */
    if (!*auth)
        return fail(err, GW_S3_ACCESS_DENIED, CAIRN_E_AUTH);
    size_t alen = strlen(GW_SIGV4_ALGORITHM);
    if (strncmp(auth, GW_SIGV4_ALGORITHM, alen) != 0 || auth[alen] != ' ') {
        if (strncmp(auth, "AWS ", 4) == 0 || strncmp(auth, "AWS4-ECDSA", 10) == 0)
            return fail(err, GW_S3_INVALID_REQUEST, CAIRN_E_INVAL);
        return fail(err, GW_S3_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);
    }
    const char *params = auth + alen + 1;
    char cred[GW_SIGV4_MAX_ACCESS_KEY + 128];
    if (auth_param(params, "Credential", cred, sizeof(cred)) ||
        auth_param(params, "SignedHeaders", f->signed_headers, sizeof(f->signed_headers)) ||
        auth_param(params, "Signature", f->signature, sizeof(f->signature)) ||
        parse_credential(cred, strlen(cred), &f->scope))
        return fail(err, GW_S3_AUTHORIZATION_HEADER_MALFORMED, CAIRN_E_INVAL);

    int64_t t;
    if (request_date(req, f->amz_date, &t))
        return fail(err, GW_S3_ACCESS_DENIED, CAIRN_E_AUTH);
    int64_t skew = cfg->max_skew_s > 0 ? cfg->max_skew_s : GW_SIGV4_DEFAULT_SKEW;
    if (t > now_s + skew || t < now_s - skew)
        return fail(err, GW_S3_REQUEST_TIME_TOO_SKEWED, CAIRN_E_AUTH);
    res->request_time = t;

    const char *h = gw_header_get(req->headers, req->n_headers, "x-amz-content-sha256");
    if (!h) {
        if (cfg->require_content_sha256)
            return fail(err, GW_S3_INVALID_REQUEST, CAIRN_E_INVAL);
        h = EMPTY_SHA256;
    }
    f->payload_hash = h;
    if (strcmp(h, GW_SIGV4_UNSIGNED) == 0) {
        res->payload = GW_SIGV4_PAYLOAD_UNSIGNED;
    } else if (strcmp(h, GW_SIGV4_STREAMING) == 0 || strcmp(h, GW_SIGV4_STREAMING_TRL) == 0 ||
               strcmp(h, GW_SIGV4_UNSIGNED_TRL) == 0) {
        res->payload = strcmp(h, GW_SIGV4_STREAMING) == 0 ? GW_SIGV4_PAYLOAD_STREAMING
                       : strcmp(h, GW_SIGV4_STREAMING_TRL) == 0
                           ? GW_SIGV4_PAYLOAD_STREAMING_TRAILER
                           : GW_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
        const char *dl =
            gw_header_get(req->headers, req->n_headers, "x-amz-decoded-content-length");
        char *end = NULL;
        long long v = dl ? strtoll(dl, &end, 10) : -1;
        if (!dl || !*dl || *end || v < 0 || !isdigit((unsigned char)dl[0]))
            return fail(err, GW_S3_MISSING_CONTENT_LENGTH, CAIRN_E_INVAL);
        res->decoded_content_length = v;
        if (res->payload != GW_SIGV4_PAYLOAD_STREAMING) {
            const char *trl = gw_header_get(req->headers, req->n_headers, "x-amz-trailer");
            enum gw_checksum_alg alg;
            if (!trl || gw_checksum_alg_from_header(trl, &alg) != 0)
                return fail(err, GW_S3_INVALID_REQUEST, CAIRN_E_INVAL);
            snprintf(res->trailer, sizeof(res->trailer), "%s", gw_checksum_header(alg));
        }
    } else if (strncmp(h, "STREAMING-", 10) == 0) {
        return fail(err, GW_S3_NOT_IMPLEMENTED, CAIRN_E_UNSUPPORTED); /* SigV4a (ECDSA) */
    } else if (strlen(h) == 64 && cn_hex_decode(h, res->payload_sha256, 32) == 0) {
        res->payload = GW_SIGV4_PAYLOAD_SIGNED;
    } else {
        return fail(err, GW_S3_INVALID_ARGUMENT, CAIRN_E_INVAL);
    }
    f->exclude = NULL;
    return 0;
}

static int presigned_fields(const struct gw_sigv4_config *cfg, const struct gw_sigv4_request *req,
                            int64_t now_s, struct auth_fields *f, struct gw_sigv4_result *res,
                            enum gw_s3err *err)
{
    struct gw_query q;
    enum gw_s3err qerr;
    if (gw_query_parse(req->raw_query, &q, &qerr))
        return fail(err, qerr, CAIRN_E_INVAL);
    int rc = CAIRN_E_INVAL;
    const char *alg = gw_query_get(&q, "X-Amz-Algorithm");
    const char *cred = gw_query_get(&q, "X-Amz-Credential");
    const char *date = gw_query_get(&q, "X-Amz-Date");
    const char *exp = gw_query_get(&q, "X-Amz-Expires");
    const char *sh = gw_query_get(&q, "X-Amz-SignedHeaders");
    const char *sig = gw_query_get(&q, "X-Amz-Signature");
    *err = GW_S3_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
    if (!alg || !cred || !date || !exp || !sh || !sig)
        goto out;
    if (strcmp(alg, GW_SIGV4_ALGORITHM) != 0)
        goto out;
    if (parse_credential(cred, strlen(cred), &f->scope))
        goto out;
    int64_t t;
    if (gw_amz_date_parse(date, &t))
        goto out;
    memcpy(f->amz_date, date, 17);
    char *end = NULL;
    long long expires = strtoll(exp, &end, 10);
    if (!*exp || *end || !isdigit((unsigned char)exp[exp[0] == '-']))
        goto out;
    if (expires < 0 || expires > GW_SIGV4_MAX_EXPIRES) {
        *err = expires < 0 ? GW_S3_PRESIGN_EXPIRES_NEGATIVE : GW_S3_PRESIGN_EXPIRES_TOO_LONG;
        goto out;
    }
    if (expires == 0)
        goto out;
    if (strlen(sh) >= sizeof(f->signed_headers) || strlen(sig) >= sizeof(f->signature))
        goto out;
    strcpy(f->signed_headers, sh);
    strcpy(f->signature, sig);
    int64_t skew = cfg->max_skew_s > 0 ? cfg->max_skew_s : GW_SIGV4_DEFAULT_SKEW;
    if (t > now_s + skew) {
        *err = GW_S3_REQUEST_TIME_TOO_SKEWED;
        rc = CAIRN_E_AUTH;
        goto out;
    }
    if (now_s > t + expires) {
        *err = GW_S3_EXPIRED_PRESIGNED;
        rc = CAIRN_E_AUTH;
        goto out;
    }
    res->request_time = t;
    res->payload = GW_SIGV4_PAYLOAD_UNSIGNED;
    f->payload_hash = GW_SIGV4_UNSIGNED;
    f->exclude = "X-Amz-Signature";
    rc = 0;
    *err = GW_S3_OK;
out:
    gw_query_free(&q);
    return rc;
}

void gw_sigv4_mismatch_init(struct gw_sigv4_mismatch *m)
{
    memset(m, 0, sizeof(*m));
    gw_buf_init(&m->canonical_request, 64 * 1024);
    gw_buf_init(&m->string_to_sign, 4096);
}

void gw_sigv4_mismatch_free(struct gw_sigv4_mismatch *m)
{
    gw_buf_free(&m->canonical_request);
    gw_buf_free(&m->string_to_sign);
    m->filled = 0;
}

static void fill_mismatch(struct gw_sigv4_mismatch *m, const struct gw_sigv4_result *res,
                          const struct auth_fields *f, const struct gw_buf *creq)
{
    unsigned char h[32];
    char hhex[65];
    if (sha256(creq->data, creq->len, h))
        return;
    cn_hex_encode(h, 32, hhex);
    gw_buf_reset(&m->canonical_request);
    gw_buf_reset(&m->string_to_sign);
    gw_buf_append(&m->canonical_request, creq->data, creq->len);
    gw_buf_printf(&m->string_to_sign, "%s\n%s\n%s\n%s", GW_SIGV4_ALGORITHM, res->amz_date,
                  res->scope, hhex);
    snprintf(m->access_key, sizeof(m->access_key), "%s", res->access_key);
    snprintf(m->signature_provided, sizeof(m->signature_provided), "%s", f->signature);
    m->filled = !gw_buf_error(&m->canonical_request) && !gw_buf_error(&m->string_to_sign);
}

static void xml_elem(struct gw_buf *out, const char *name, const char *v, size_t len)
{
    gw_buf_printf(out, "<%s>", name);
    gw_buf_xml_escape(out, v, len);
    gw_buf_printf(out, "</%s>", name);
}

static void xml_bytes(struct gw_buf *out, const char *name, const struct gw_buf *b)
{
    gw_buf_printf(out, "<%s>", name);
    for (size_t i = 0; i < b->len; i++)
        gw_buf_printf(out, i ? " %02x" : "%02x", (unsigned char)b->data[i]);
    gw_buf_printf(out, "</%s>", name);
}

int gw_sigv4_mismatch_xml(struct gw_buf *out, const struct gw_sigv4_mismatch *m,
                          const char *resource, const char *request_id)
{
    if (!m->filled)
        return CAIRN_E_INVAL;
    enum gw_s3err e = GW_S3_SIGNATURE_DOES_NOT_MATCH;
    gw_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    xml_elem(out, "Code", gw_s3err_code(e), strlen(gw_s3err_code(e)));
    xml_elem(out, "Message", gw_s3err_message(e), strlen(gw_s3err_message(e)));
    xml_elem(out, "AWSAccessKeyId", m->access_key, strlen(m->access_key));
    xml_elem(out, "StringToSign", m->string_to_sign.data, m->string_to_sign.len);
    xml_elem(out, "SignatureProvided", m->signature_provided, strlen(m->signature_provided));
    xml_bytes(out, "StringToSignBytes", &m->string_to_sign);
    xml_elem(out, "CanonicalRequest", m->canonical_request.data, m->canonical_request.len);
    xml_bytes(out, "CanonicalRequestBytes", &m->canonical_request);
    if (resource)
        xml_elem(out, "Resource", resource, strlen(resource));
    if (request_id)
        xml_elem(out, "RequestId", request_id, strlen(request_id));
    gw_buf_puts(out, "</Error>");
    return gw_buf_error(out);
}

const char *gw_sigv4_unsigned_amz_header(const struct gw_header *h, size_t n,
                                         const char *signed_headers)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name;
        if (!name || strncasecmp(name, "x-amz-", 6) != 0)
            continue;
        size_t len = strlen(name);
        int found = 0;
        for (const char *p = signed_headers ? signed_headers : ""; *p && !found;) {
            const char *end = strchr(p, ';');
            size_t l = end ? (size_t)(end - p) : strlen(p);
            found = l == len && strncasecmp(p, name, len) == 0;
            p = end ? end + 1 : p + l;
        }
        if (!found)
            return name;
    }
    return NULL;
}

int gw_sigv4_verify(const struct gw_sigv4_config *cfg, const struct gw_sigv4_request *req,
                    int64_t now_s, struct gw_sigv4_result *res, enum gw_s3err *err)
{
    memset(res, 0, sizeof(*res));
    res->decoded_content_length = -1;
    *err = GW_S3_OK;
    const char *service = cfg->service ? cfg->service : "s3";
    struct auth_fields f;
    memset(&f, 0, sizeof(f));
    int rc;

    res->kind = gw_sigv4_kind_of(req);
    if (res->kind == GW_SIGV4_ANONYMOUS)
        return fail(err, GW_S3_ACCESS_DENIED, CAIRN_E_AUTH);
    if (res->kind == GW_SIGV4_HEADER) {
        if (req->raw_query && strstr(req->raw_query, "X-Amz-Signature="))
            return fail(err, GW_S3_INVALID_ARGUMENT, CAIRN_E_INVAL); /* two mechanisms */
        rc = header_fields(cfg, req, now_s, &f, res, err);
    } else {
        rc = presigned_fields(cfg, req, now_s, &f, res, err);
    }
    if (rc)
        return rc;
    enum gw_s3err malformed = res->kind == GW_SIGV4_HEADER
                                  ? GW_S3_AUTHORIZATION_HEADER_MALFORMED
                                  : GW_S3_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
    /* Scope: its date must be the request's date, its service ours, its
     * region the configured one. */
    if (memcmp(f.scope.date, f.amz_date, 8) != 0 || strcmp(f.scope.service, service) != 0 ||
        (cfg->region && strcmp(f.scope.region, cfg->region) != 0))
        return fail(err, malformed, CAIRN_E_INVAL);
    /* Host must be signed; the list must be lowercase names. */
    {
        int has_host = 0, n = 1;
        for (const char *p = f.signed_headers; *p; p++) {
            if (*p == ';')
                n++;
            else if (isupper((unsigned char)*p) || (unsigned char)*p <= ' ')
                return fail(err, malformed, CAIRN_E_INVAL);
        }
        for (const char *p = f.signed_headers; p;) {
            if (strncmp(p, "host", 4) == 0 && (p[4] == ';' || p[4] == '\0'))
                has_host = 1;
            p = strchr(p, ';');
            if (p)
                p++;
        }
        if (!has_host || n > GW_SIGV4_MAX_SIGNED_HDRS)
            return fail(err, malformed, CAIRN_E_INVAL);
    }
    if (strlen(f.signature) != 64 || !is_lower_hex(f.signature, 64))
        return fail(err, GW_S3_SIGNATURE_DOES_NOT_MATCH, CAIRN_E_AUTH);

    /* The secret. */
    char secret[GW_SIGV4_MAX_SECRET + 1];
    rc = cfg->lookup ? cfg->lookup(cfg->lookup_ctx, f.scope.access_key, secret, sizeof(secret))
                     : CAIRN_E_NOTFOUND;
    if (rc == CAIRN_E_NOTFOUND)
        return fail(err, GW_S3_INVALID_ACCESS_KEY_ID, CAIRN_E_AUTH);
    if (rc == CAIRN_E_UNAVAIL || rc == CAIRN_E_NOTLEADER || rc == CAIRN_E_TIMEOUT ||
        rc == CAIRN_E_BUSY)
        return fail(err, GW_S3_SERVICE_UNAVAILABLE, rc);
    if (rc < 0)
        return fail(err, GW_S3_INTERNAL_ERROR, rc);
    /* Every x-amz-* header is covered (checked, as S3 does, once the key is
     * known to exist). */
    if (gw_sigv4_unsigned_amz_header(req->headers, req->n_headers, f.signed_headers)) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return fail(err, GW_S3_HEADERS_NOT_SIGNED, CAIRN_E_AUTH);
    }
    secret[sizeof(secret) - 1] = '\0';
    rc = gw_sigv4_signing_key(secret, f.scope.date, f.scope.region, service, res->signing_key);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc)
        return fail(err, GW_S3_INTERNAL_ERROR, rc);

    snprintf(res->scope, sizeof(res->scope), "%s/%s/%s/aws4_request", f.scope.date, f.scope.region,
             service);
    memcpy(res->amz_date, f.amz_date, sizeof(res->amz_date));
    snprintf(res->region, sizeof(res->region), "%s", f.scope.region);
    snprintf(res->access_key, sizeof(res->access_key), "%s", f.scope.access_key);

    struct gw_buf creq;
    gw_buf_init(&creq, 64 * 1024);
    rc = gw_sigv4_canonical_request(&creq, req, f.signed_headers, f.payload_hash, f.exclude, err);
    char expect[65];
    if (rc == 0) {
        rc = gw_sigv4_sign_canonical(res->signing_key, res->amz_date, res->scope, creq.data,
                                     creq.len, expect);
        if (rc)
            *err = GW_S3_INTERNAL_ERROR;
    }
    if (rc == 0 && CRYPTO_memcmp(expect, f.signature, 64) != 0) {
        CN_DEBUG("gw", "SigV4 mismatch for %s; canonical request:\n%s", res->access_key, creq.data);
        *err = GW_S3_SIGNATURE_DOES_NOT_MATCH;
        rc = CAIRN_E_AUTH;
        if (req->mismatch)
            fill_mismatch(req->mismatch, res, &f, &creq);
    }
    gw_buf_free(&creq);
    if (rc) {
        gw_sigv4_result_wipe(res);
        return rc;
    }
    memcpy(res->signature, f.signature, 65);
    return 0;
}

/* ---- incremental SHA-256 check --------------------------------------- */

struct gw_sha256_check {
    EVP_MD_CTX *ctx;
    unsigned char expected[32];
};

int gw_sha256_check_new(const unsigned char expected[32], struct gw_sha256_check **out)
{
    struct gw_sha256_check *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->ctx = EVP_MD_CTX_new();
    if (!c->ctx || !EVP_DigestInit_ex(c->ctx, EVP_sha256(), NULL)) {
        gw_sha256_check_free(c);
        return CAIRN_E_NOMEM;
    }
    memcpy(c->expected, expected, 32);
    *out = c;
    return 0;
}

int gw_sha256_check_update(struct gw_sha256_check *c, const void *data, size_t len)
{
    return EVP_DigestUpdate(c->ctx, data, len) ? 0 : CAIRN_E_NOMEM;
}

int gw_sha256_check_finish(struct gw_sha256_check *c)
{
    unsigned char md[32];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(c->ctx, md, &len))
        return CAIRN_E_NOMEM;
    return CRYPTO_memcmp(md, c->expected, 32) == 0 ? 0 : CAIRN_E_CORRUPT;
}

void gw_sha256_check_free(struct gw_sha256_check *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->ctx);
    free(c);
}

/* ---- aws-chunked decoder --------------------------------------------- */

/* HMAC-SHA256 with the key's inner and outer pad states computed once
 * (RFC 2104), so a chunk costs two SHA-256 state copies instead of a full
 * HMAC setup: per-chunk overhead matters for 8 KiB chunks. */
struct hmac_pre {
    EVP_MD_CTX *inner, *outer, *tmp;
};

static int hmac_pre_init(struct hmac_pre *h, const unsigned char key[32])
{
    unsigned char pad[64];
    h->inner = EVP_MD_CTX_new();
    h->outer = EVP_MD_CTX_new();
    h->tmp = EVP_MD_CTX_new();
    if (!h->inner || !h->outer || !h->tmp)
        return CAIRN_E_NOMEM;
    memset(pad, 0x36, sizeof(pad));
    for (int i = 0; i < 32; i++)
        pad[i] ^= key[i];
    int ok = EVP_DigestInit_ex(h->inner, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(h->inner, pad, sizeof(pad));
    memset(pad, 0x5c, sizeof(pad));
    for (int i = 0; i < 32; i++)
        pad[i] ^= key[i];
    ok = ok && EVP_DigestInit_ex(h->outer, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(h->outer, pad, sizeof(pad));
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok ? 0 : CAIRN_E_NOMEM;
}

static int hmac_pre_mac(struct hmac_pre *h, const void *msg, size_t len, unsigned char out[32])
{
    unsigned char ih[32];
    unsigned int n = 0;
    int ok = EVP_MD_CTX_copy_ex(h->tmp, h->inner) && EVP_DigestUpdate(h->tmp, msg, len) &&
             EVP_DigestFinal_ex(h->tmp, ih, &n) && EVP_MD_CTX_copy_ex(h->tmp, h->outer) &&
             EVP_DigestUpdate(h->tmp, ih, 32) && EVP_DigestFinal_ex(h->tmp, out, &n);
    return ok ? 0 : CAIRN_E_NOMEM;
}

static void hmac_pre_free(struct hmac_pre *h)
{
    EVP_MD_CTX_free(h->inner);
    EVP_MD_CTX_free(h->outer);
    EVP_MD_CTX_free(h->tmp);
}

/* The chunk string-to-sign into sts[512]; returns its length or -1. */
static int chunk_sts(char sts[512], const char *amz_date, const char *scope, const char *prev_sig,
                     const unsigned char data_sha256[32])
{
    char mdhex[65];
    cn_hex_encode(data_sha256, 32, mdhex);
    int n = snprintf(sts, 512, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", amz_date, scope,
                     prev_sig, EMPTY_SHA256, mdhex);
    return n < 0 || n >= 512 ? -1 : n;
}

enum chunk_state {
    CS_HEADER,   /* reading "size;chunk-signature=sig\r\n" (or "size\r\n") */
    CS_DATA,     /* inside a chunk's data */
    CS_DATA_CR,  /* expecting the CR after the data */
    CS_DATA_LF,  /* expecting the LF after the data */
    CS_FINAL_CR, /* after the final zero-size chunk header (no trailer) */
    CS_FINAL_LF,
    CS_TRAILER, /* reading trailer lines up to an empty line */
    CS_DONE,
    CS_ERROR,
};

struct gw_chunked {
    enum chunk_state state;
    enum gw_s3err error;
    int signed_chunks; /* chunk headers carry chunk-signature= */
    int has_trailer;   /* a checksum trailer follows the final chunk */
    unsigned char key[32];
    char amz_date[17];
    char scope[160];
    char prev_sig[65];
    char chunk_sig[65];
    uint64_t max_chunk;
    int64_t declared; /* decoded length the client declared, -1 if unknown */
    uint64_t decoded; /* payload bytes emitted */
    uint64_t remaining;
    int final_chunk;
    EVP_MD_CTX *md;
    struct hmac_pre hmac;
    /* trailer state */
    struct gw_checksum *checksum;
    char trailer_name[32];
    char trailer_value[GW_CHECKSUM_B64_MAX + 16];
    char trailer_sig[65];
    int trailer_lines;
    size_t hlen;
    char header[GW_CHUNKED_MAX_HEADER];
};

int gw_chunked_new(const struct gw_sigv4_result *res, uint64_t max_chunk, struct gw_chunked **out)
{
    if (!res || (res->payload != GW_SIGV4_PAYLOAD_STREAMING &&
                 res->payload != GW_SIGV4_PAYLOAD_STREAMING_TRAILER &&
                 res->payload != GW_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER))
        return CAIRN_E_INVAL;
    int signed_chunks = res->payload != GW_SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    int has_trailer = res->payload != GW_SIGV4_PAYLOAD_STREAMING;
    enum gw_checksum_alg alg = GW_CHECKSUM_CRC32;
    if (signed_chunks && strlen(res->signature) != 64)
        return CAIRN_E_INVAL;
    if (has_trailer && gw_checksum_alg_from_header(res->trailer, &alg) != 0)
        return CAIRN_E_INVAL;
    struct gw_chunked *d = calloc(1, sizeof(*d));
    if (!d)
        return CAIRN_E_NOMEM;
    d->md = EVP_MD_CTX_new();
    if (!d->md || hmac_pre_init(&d->hmac, res->signing_key) != 0 ||
        (has_trailer && gw_checksum_new(alg, &d->checksum) != 0)) {
        gw_chunked_free(d);
        return CAIRN_E_NOMEM;
    }
    d->signed_chunks = signed_chunks;
    d->has_trailer = has_trailer;
    memcpy(d->key, res->signing_key, 32);
    memcpy(d->amz_date, res->amz_date, sizeof(d->amz_date));
    memcpy(d->scope, res->scope, sizeof(d->scope));
    memcpy(d->prev_sig, res->signature, sizeof(d->prev_sig));
    if (has_trailer)
        snprintf(d->trailer_name, sizeof(d->trailer_name), "%s", res->trailer);
    d->max_chunk = max_chunk ? max_chunk : (64u << 20);
    d->declared = res->decoded_content_length;
    d->state = CS_HEADER;
    *out = d;
    return 0;
}

void gw_chunked_free(struct gw_chunked *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->md);
    hmac_pre_free(&d->hmac);
    gw_checksum_free(d->checksum);
    OPENSSL_cleanse(d, sizeof(*d));
    free(d);
}

uint64_t gw_chunked_decoded(const struct gw_chunked *d)
{
    return d->decoded;
}

static int chunk_fail(struct gw_chunked *d, enum gw_s3err e, enum gw_s3err *err)
{
    d->state = CS_ERROR;
    d->error = e;
    *err = e;
    return e == GW_S3_SIGNATURE_DOES_NOT_MATCH ? CAIRN_E_AUTH : CAIRN_E_PROTO;
}

/* Parses the header line in d->header[0..hlen) (without CRLF). */
static int parse_chunk_header(struct gw_chunked *d, enum gw_s3err *err)
{
    const char *h = d->header;
    size_t i = 0;
    uint64_t size = 0;
    for (; i < d->hlen && cn_hex_digit((unsigned char)h[i]) >= 0; i++) {
        if (i >= 16)
            return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
        size = size * 16 + (uint64_t)cn_hex_digit((unsigned char)h[i]);
    }
    static const char ext[] = ";chunk-signature=";
    size_t elen = sizeof(ext) - 1;
    if (i == 0)
        return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
    if (d->signed_chunks) {
        if (d->hlen != i + elen + 64 || memcmp(h + i, ext, elen) != 0 ||
            !is_lower_hex(h + i + elen, 64))
            return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
        memcpy(d->chunk_sig, h + i + elen, 64);
        d->chunk_sig[64] = '\0';
    } else if (d->hlen != i) {
        return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
    }
    if (size > d->max_chunk)
        return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
    if (d->declared >= 0 && size > (uint64_t)d->declared - d->decoded)
        return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
    if (d->signed_chunks && !EVP_DigestInit_ex(d->md, EVP_sha256(), NULL))
        return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
    d->remaining = size;
    d->final_chunk = size == 0;
    return 0;
}

int gw_sigv4_chunk_sign(const unsigned char key[32], const char *amz_date, const char *scope,
                        const char *prev_sig, const unsigned char data_sha256[32], char sig[65])
{
    char sts[512];
    unsigned char mac[32];
    int n = chunk_sts(sts, amz_date, scope, prev_sig, data_sha256);
    if (n < 0)
        return CAIRN_E_INVAL;
    if (hmac256(key, 32, sts, (size_t)n, mac))
        return CAIRN_E_NOMEM;
    cn_hex_encode(mac, 32, sig);
    return 0;
}

int gw_sigv4_trailer_sign(const unsigned char key[32], const char *amz_date, const char *scope,
                          const char *prev_sig, const char *canonical_trailer, char sig[65])
{
    unsigned char h[32], mac[32];
    char hhex[65], sts[512];
    if (sha256(canonical_trailer, strlen(canonical_trailer), h))
        return CAIRN_E_NOMEM;
    cn_hex_encode(h, 32, hhex);
    int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", amz_date, scope,
                     prev_sig, hhex);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return CAIRN_E_INVAL;
    if (hmac256(key, 32, sts, (size_t)n, mac))
        return CAIRN_E_NOMEM;
    cn_hex_encode(mac, 32, sig);
    return 0;
}

/* Checks the signature of the chunk just hashed and advances the chain. */
static int verify_chunk(struct gw_chunked *d, enum gw_s3err *err)
{
    if (!d->signed_chunks)
        return 0;
    unsigned char md[32];
    unsigned int mdlen = 0;
    char sig[65];
    char sts[512];
    unsigned char mac[32];
    int n = EVP_DigestFinal_ex(d->md, md, &mdlen)
                ? chunk_sts(sts, d->amz_date, d->scope, d->prev_sig, md)
                : -1;
    if (n < 0 || hmac_pre_mac(&d->hmac, sts, (size_t)n, mac))
        return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
    cn_hex_encode(mac, 32, sig);
    if (CRYPTO_memcmp(sig, d->chunk_sig, 64) != 0)
        return chunk_fail(d, GW_S3_SIGNATURE_DOES_NOT_MATCH, err);
    memcpy(d->prev_sig, sig, 65);
    return 0;
}

/* One trailer line "name:value" in d->header[0..hlen). */
static int trailer_line(struct gw_chunked *d, enum gw_s3err *err)
{
    d->header[d->hlen] = '\0';
    char *colon = memchr(d->header, ':', d->hlen);
    if (!colon || ++d->trailer_lines > 2)
        return chunk_fail(d, GW_S3_MALFORMED_TRAILER, err);
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        v[--vlen] = '\0';
    if (strcasecmp(d->header, "x-amz-trailer-signature") == 0) {
        /* Only in the signed mode, after the checksum, once. */
        if (!d->signed_chunks || !d->trailer_value[0] || d->trailer_sig[0] || vlen != 64 ||
            !is_lower_hex(v, 64))
            return chunk_fail(d, GW_S3_MALFORMED_TRAILER, err);
        memcpy(d->trailer_sig, v, 65);
    } else if (strcasecmp(d->header, d->trailer_name) == 0) {
        if (d->trailer_value[0] || vlen == 0 || vlen >= sizeof(d->trailer_value))
            return chunk_fail(d, GW_S3_MALFORMED_TRAILER, err);
        memcpy(d->trailer_value, v, vlen + 1);
    } else {
        return chunk_fail(d, GW_S3_MALFORMED_TRAILER, err); /* not the declared trailer */
    }
    d->hlen = 0;
    return 0;
}

/* The trailer section ended: check signature and checksum. */
static int trailer_end(struct gw_chunked *d, enum gw_s3err *err)
{
    if (!d->trailer_value[0] || (d->signed_chunks && !d->trailer_sig[0]))
        return chunk_fail(d, GW_S3_MALFORMED_TRAILER, err);
    if (d->signed_chunks) {
        char canonical[sizeof(d->trailer_name) + sizeof(d->trailer_value) + 4], sig[65];
        snprintf(canonical, sizeof(canonical), "%s:%s\n", d->trailer_name, d->trailer_value);
        if (gw_sigv4_trailer_sign(d->key, d->amz_date, d->scope, d->prev_sig, canonical, sig))
            return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
        if (CRYPTO_memcmp(sig, d->trailer_sig, 64) != 0)
            return chunk_fail(d, GW_S3_SIGNATURE_DOES_NOT_MATCH, err);
    }
    char b64[GW_CHECKSUM_B64_MAX];
    if (gw_checksum_final(d->checksum, b64))
        return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
    if (strcmp(b64, d->trailer_value) != 0)
        return chunk_fail(d, GW_S3_BAD_DIGEST, err);
    d->state = CS_DONE;
    return 0;
}

int gw_chunked_feed(struct gw_chunked *d, const void *data, size_t len, gw_chunked_emit_fn emit,
                    void *ctx, enum gw_s3err *err)
{
    const char *p = data;
    *err = GW_S3_OK;
    if (d->state == CS_ERROR) {
        *err = d->error;
        return CAIRN_E_PROTO;
    }
    while (len > 0) {
        switch (d->state) {
        case CS_HEADER:
        case CS_TRAILER: {
            char c = *p++;
            len--;
            if (c != '\n') {
                if (d->hlen == sizeof(d->header) - 1)
                    return chunk_fail(
                        d, d->state == CS_HEADER ? GW_S3_INVALID_REQUEST : GW_S3_MALFORMED_TRAILER,
                        err);
                d->header[d->hlen++] = c;
                break;
            }
            if (d->hlen == 0 || d->header[d->hlen - 1] != '\r')
                return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
            d->hlen--;
            int rc;
            if (d->state == CS_TRAILER) {
                if (d->hlen == 0) {
                    /* Empty line: the end, or (tolerated) a blank line before
                     * the first trailer. */
                    if (d->trailer_lines == 0)
                        break;
                    rc = trailer_end(d, err);
                } else {
                    rc = trailer_line(d, err);
                }
                if (rc)
                    return rc;
                break;
            }
            rc = parse_chunk_header(d, err);
            if (rc)
                return rc;
            d->hlen = 0;
            if (!d->final_chunk) {
                d->state = CS_DATA;
                break;
            }
            rc = verify_chunk(d, err);
            if (rc)
                return rc;
            d->state = d->has_trailer ? CS_TRAILER : CS_FINAL_CR;
            break;
        }
        case CS_DATA: {
            size_t n = len < d->remaining ? len : (size_t)d->remaining;
            if (d->signed_chunks && !EVP_DigestUpdate(d->md, p, n))
                return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
            if (d->checksum && gw_checksum_update(d->checksum, p, n))
                return chunk_fail(d, GW_S3_INTERNAL_ERROR, err);
            if (emit) {
                int rc = emit(ctx, p, n);
                if (rc) {
                    d->state = CS_ERROR;
                    d->error = GW_S3_INTERNAL_ERROR;
                    return rc;
                }
            }
            d->decoded += n;
            d->remaining -= n;
            p += n;
            len -= n;
            if (d->remaining == 0) {
                int rc = verify_chunk(d, err);
                if (rc)
                    return rc;
                d->state = CS_DATA_CR;
            }
            break;
        }
        case CS_DATA_CR:
        case CS_FINAL_CR:
            if (*p != '\r')
                return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
            p++;
            len--;
            d->state = d->state == CS_DATA_CR ? CS_DATA_LF : CS_FINAL_LF;
            break;
        case CS_DATA_LF:
        case CS_FINAL_LF:
            if (*p != '\n')
                return chunk_fail(d, GW_S3_INVALID_REQUEST, err);
            p++;
            len--;
            d->state = d->state == CS_DATA_LF ? CS_HEADER : CS_DONE;
            break;
        case CS_DONE:
            return chunk_fail(d, GW_S3_INVALID_REQUEST, err); /* bytes after the end */
        case CS_ERROR:
            *err = d->error;
            return CAIRN_E_PROTO;
        }
    }
    return 0;
}

int gw_chunked_finish(struct gw_chunked *d, enum gw_s3err *err)
{
    *err = GW_S3_OK;
    if (d->state == CS_ERROR) {
        *err = d->error;
        return CAIRN_E_PROTO;
    }
    if (d->state == CS_TRAILER) {
        /* Tolerated: the body ends without the final empty line, or even
         * without the CRLF of the last trailer line. */
        int rc = 0;
        if (d->hlen > 0) {
            if (d->header[d->hlen - 1] == '\r')
                d->hlen--;
            rc = trailer_line(d, err);
        }
        if (rc == 0)
            rc = trailer_end(d, err);
        if (rc)
            return rc;
    }
    if (d->state != CS_DONE && d->state != CS_FINAL_CR)
        return chunk_fail(d, GW_S3_INCOMPLETE_BODY, err);
    if (d->declared >= 0 && d->decoded != (uint64_t)d->declared)
        return chunk_fail(d, GW_S3_INCOMPLETE_BODY, err);
    return 0;
}
