#include "cn_tls.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#define PEM_MAX (1u << 20)

struct cn_tls {
    char *ca, *cert, *key; /* PEM texts, NUL-terminated */
    size_t ca_len, cert_len, key_len;
    struct MHD_OptionItem mhd[4];
};

static int read_pem(const char *mod, const char *what, const char *path, char **out, size_t *len)
{
    if (!path || !path[0]) {
        CN_ERROR(mod, "--tls-internal needs --tls-internal-%s", what);
        return CAIRN_E_INVAL;
    }
    int rc = cn_read_file(path, PEM_MAX, out, len);
    if (rc == 0 && (*len == 0 || !strstr(*out, "-----BEGIN "))) {
        free(*out);
        *out = NULL;
        rc = CAIRN_E_INVAL;
    }
    if (rc < 0)
        CN_ERROR(mod, "--tls-internal-%s %s: %s", what, path,
                 rc == CAIRN_E_INVAL ? "not a PEM file" : cairn_strerror(rc));
    return rc;
}

int cn_tls_new(const struct cn_tls_config *cfg, const char *log_module, struct cn_tls **out)
{
    const char *mod = log_module ? log_module : "tls";
    if (!out)
        return CAIRN_E_INVAL;
    *out = NULL;
    if (!cfg || !cfg->enabled)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        CN_ERROR(mod, "--tls-internal: this libmicrohttpd has no TLS support");
        return CAIRN_E_UNSUPPORTED;
    }
    struct cn_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return CAIRN_E_NOMEM;
    int rc = read_pem(mod, "ca", cfg->ca_file, &t->ca, &t->ca_len);
    if (rc == 0)
        rc = read_pem(mod, "cert", cfg->cert_file, &t->cert, &t->cert_len);
    if (rc == 0)
        rc = read_pem(mod, "key", cfg->key_file, &t->key, &t->key_len);
    if (rc < 0) {
        cn_tls_free(t);
        return rc;
    }
    t->mhd[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
    t->mhd[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
    t->mhd[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->ca};
    t->mhd[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    CN_INFO(mod, "internal links over TLS (CA %s, certificate %s)", cfg->ca_file, cfg->cert_file);
    *out = t;
    return 0;
}

void cn_tls_free(struct cn_tls *t)
{
    if (!t)
        return;
    free(t->ca);
    free(t->cert);
    if (t->key)
        OPENSSL_cleanse(t->key, t->key_len);
    free(t->key);
    free(t);
}

unsigned cn_tls_mhd_flags(const struct cn_tls *t)
{
    return t ? MHD_USE_TLS : 0;
}

const void *cn_tls_mhd_options(const struct cn_tls *t)
{
    return t ? t->mhd : NULL;
}

int cn_tls_client_verified(const struct cn_tls *t, struct MHD_Connection *conn)
{
    if (!t || !conn)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0) {
        CN_DEBUG("tls", "client presented no certificate");
        return 0;
    }
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers2(s, &status);
    if (rc != GNUTLS_E_SUCCESS || status != 0) {
        CN_DEBUG("tls", "client certificate not valid (%d, status %#x)", rc, status);
        return 0;
    }
    return 1;
}

int cn_tls_curl_setup(const struct cn_tls *t, void *curl)
{
    CURL *e = curl;
    struct curl_blob cert = {t->cert, t->cert_len, CURL_BLOB_NOCOPY};
    struct curl_blob key = {t->key, t->key_len, CURL_BLOB_NOCOPY};
    struct curl_blob ca = {t->ca, t->ca_len, CURL_BLOB_NOCOPY};
    if (curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK)
        return CAIRN_E_IO;
    return 0;
}

int cn_tls_https_url(const char *url, char *out, size_t cap)
{
    const char *rest = url;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    int n = snprintf(out, cap, "https://%s", rest);
    return n > 0 && (size_t)n < cap ? 0 : CAIRN_E_INVAL;
}
