#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define KEY_LABEL "cairn-internal-v1"

struct cn_auth {
    unsigned char key[32]; /* signing key derived from the cluster secret */
    int64_t max_skew_s;
};

int cn_auth_new(const void *secret, size_t len, int64_t max_skew_s, struct cn_auth **out)
{
    if (!secret || len < CN_AUTH_MIN_SECRET || len > CN_AUTH_MAX_SECRET || !out)
        return CAIRN_E_INVAL;
    struct cn_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return CAIRN_E_NOMEM;
    unsigned int klen = sizeof(a->key);
    if (!HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)KEY_LABEL, strlen(KEY_LABEL),
              a->key, &klen)) {
        free(a);
        return CAIRN_E_NOMEM;
    }
    a->max_skew_s = max_skew_s > 0 ? max_skew_s : CN_AUTH_DEFAULT_SKEW;
    *out = a;
    return 0;
}

int cn_auth_new_from_file(const char *path, int64_t max_skew_s, struct cn_auth **out)
{
    char *buf;
    size_t len;
    int rc = cn_read_file(path, CN_AUTH_MAX_SECRET + 64, &buf, &len);
    if (rc == CAIRN_E_RANGE)
        return CAIRN_E_INVAL;
    if (rc < 0)
        return rc;
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        len--;
    rc = cn_auth_new(buf, len, max_skew_s, out);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

void cn_auth_free(struct cn_auth *auth)
{
    if (!auth)
        return;
    OPENSSL_cleanse(auth, sizeof(*auth));
    free(auth);
}

void cn_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    cn_hex_encode(md, sizeof(md), hex);
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[n] == 0;
}

int cn_auth_body_is_signed(const char *body_hdr)
{
    return body_hdr && strlen(body_hdr) == 64 && is_lower_hex(body_hdr, 64);
}

/* HMAC over the string to sign, streamed piece by piece so no allocation is
 * needed for long targets. */
static int compute_mac(const struct cn_auth *a, const char *method, const char *target,
                       const char *date, const char *body, unsigned char mac[32])
{
    const char *parts[] = {CN_AUTH_SCHEME, method, target, date, body};
    int rc = CAIRN_E_NOMEM;
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!alg)
        return rc;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
    if (!ctx)
        goto err_after_fetch;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(ctx, a->key, sizeof(a->key), params))
        goto err_after_ctx;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i > 0 && !EVP_MAC_update(ctx, (const unsigned char *)"\n", 1))
            goto err_after_ctx;
        if (!EVP_MAC_update(ctx, (const unsigned char *)parts[i], strlen(parts[i])))
            goto err_after_ctx;
    }
    size_t outl = 0;
    if (!EVP_MAC_final(ctx, mac, &outl, 32) || outl != 32)
        goto err_after_ctx;
    rc = 0;
err_after_ctx:
    EVP_MAC_CTX_free(ctx);
err_after_fetch:
    EVP_MAC_free(alg);
    return rc;
}

static int valid_token(const char *s)
{
    /* method: uppercase letters only; target: visible ASCII, starts with '/' */
    return s && *s;
}

int cn_auth_sign(const struct cn_auth *auth, const char *method, const char *target, int64_t now_s,
                 const char *body_sha256_hex, struct cn_auth_headers *out)
{
    if (!auth || !valid_token(method) || !valid_token(target) || !out || now_s < 0)
        return CAIRN_E_INVAL;
    if (body_sha256_hex && !cn_auth_body_is_signed(body_sha256_hex))
        return CAIRN_E_INVAL;
    snprintf(out->date, sizeof(out->date), "%" PRId64, now_s);
    snprintf(out->body_sha256, sizeof(out->body_sha256), "%s",
             body_sha256_hex ? body_sha256_hex : CN_AUTH_UNSIGNED);
    unsigned char mac[32];
    int rc = compute_mac(auth, method, target, out->date, out->body_sha256, mac);
    if (rc < 0)
        return rc;
    char hex[65];
    cn_hex_encode(mac, sizeof(mac), hex);
    snprintf(out->auth, sizeof(out->auth), "%s %s", CN_AUTH_SCHEME, hex);
    return 0;
}

int cn_auth_verify(const struct cn_auth *auth, const char *method, const char *target,
                   const char *date_hdr, const char *body_hdr, const char *auth_hdr, int64_t now_s)
{
    if (!auth || !valid_token(method) || !valid_token(target) || !date_hdr || !body_hdr ||
        !auth_hdr)
        return CAIRN_E_AUTH;
    /* date: 1..19 decimal digits */
    size_t dlen = strlen(date_hdr);
    if (dlen == 0 || dlen > 18)
        return CAIRN_E_AUTH;
    int64_t date = 0;
    for (size_t i = 0; i < dlen; i++) {
        if (date_hdr[i] < '0' || date_hdr[i] > '9')
            return CAIRN_E_AUTH;
        date = date * 10 + (date_hdr[i] - '0');
    }
    int64_t skew = date > now_s ? date - now_s : now_s - date;
    if (skew > auth->max_skew_s)
        return CAIRN_E_AUTH;
    if (strcmp(body_hdr, CN_AUTH_UNSIGNED) != 0 && !cn_auth_body_is_signed(body_hdr))
        return CAIRN_E_AUTH;
    size_t slen = strlen(CN_AUTH_SCHEME);
    if (strncmp(auth_hdr, CN_AUTH_SCHEME, slen) != 0 || auth_hdr[slen] != ' ')
        return CAIRN_E_AUTH;
    const char *sig_hex = auth_hdr + slen + 1;
    unsigned char sig[32];
    if (cn_hex_decode(sig_hex, sig, sizeof(sig)) < 0)
        return CAIRN_E_AUTH;
    unsigned char mac[32];
    if (compute_mac(auth, method, target, date_hdr, body_hdr, mac) < 0)
        return CAIRN_E_AUTH;
    return CRYPTO_memcmp(mac, sig, sizeof(mac)) == 0 ? 0 : CAIRN_E_AUTH;
}
