/* cn_tls: TLS with mutual authentication on internal links (--tls-internal).
 *
 * One CA signs a certificate for every daemon (and for the CLI). With
 * --tls-internal, every internal server (cairn-meta, cairn-chunk) serves
 * HTTPS only and asks each client for a certificate; every authenticated
 * request must come with one that chains to the CA (checked before the HMAC:
 * cn_http_server.c). Every internal client (cn_http_client) speaks HTTPS
 * whatever scheme a URL says, presents its certificate and checks the
 * server's against the CA and the host it connects to (the certificate needs
 * that IP address or name in its subjectAltName).
 *
 * TLS adds confidentiality and protects what the HMAC scheme does not cover
 * (streamed fragment data in answers, the headers it does not sign); the HMAC
 * scheme still decides who may call what (cn_roles.h). The gateway's S3
 * listener is not an internal link (its HTTPS is configured apart).
 *
 * Servers use libmicrohttpd's GnuTLS support, clients libcurl. A struct
 * cn_tls holds the PEM texts read at start (files are not read again);
 * immutable once made: share it between threads. */
#ifndef CAIRN_CN_TLS_H
#define CAIRN_CN_TLS_H

#include "cn_config.h"

#include <stdbool.h>
#include <stddef.h>

struct cn_tls;
struct MHD_Connection;

struct cn_tls_config {
    bool enabled;    /* --tls-internal */
    char *ca_file;   /* --tls-internal-ca: PEM, the CA that signs every daemon's certificate */
    char *cert_file; /* --tls-internal-cert: PEM, this daemon's certificate (chain) */
    char *key_file;  /* --tls-internal-key: PEM, its private key */
};

#define CN_TLS_INTERNAL_OPTIONS(cfg)                                                               \
    CN_CONF_OPT_BOOL("tls-internal", "false",                                                      \
                     "internal links over TLS with client certificates (every daemon and the "     \
                     "CLI must agree; docs/security.md)",                                          \
                     &(cfg)->enabled),                                                             \
        CN_CONF_OPT_STRING("tls-internal-ca", "",                                                  \
                           "with --tls-internal: PEM file of the CA of internal certificates",     \
                           &(cfg)->ca_file),                                                       \
        CN_CONF_OPT_STRING("tls-internal-cert", "",                                                \
                           "with --tls-internal: PEM file of this process's certificate",          \
                           &(cfg)->cert_file),                                                     \
        CN_CONF_OPT_STRING("tls-internal-key", "",                                                 \
                           "with --tls-internal: PEM file of this process's private key",          \
                           &(cfg)->key_file)

/* Reads the three PEM files when cfg->enabled (all three required); *out is
 * NULL when TLS is off. Problems are logged under log_module. On success
 * *out is owned by the caller (cn_tls_free). Returns 0, CAIRN_E_INVAL (a
 * file missing from the options, or an empty one), CAIRN_E_UNSUPPORTED
 * (libmicrohttpd without TLS), CAIRN_E_NOTFOUND, CAIRN_E_IO or
 * CAIRN_E_NOMEM. */
int cn_tls_new(const struct cn_tls_config *cfg, const char *log_module, struct cn_tls **out);

/* NULL is fine. */
void cn_tls_free(struct cn_tls *tls);

/* ---- servers (cn_http_server.c) ---- */

/* The libmicrohttpd daemon flag to add (MHD_USE_TLS) and an
 * MHD_OPTION_ARRAY item list (struct MHD_OptionItem[], ended by
 * MHD_OPTION_END) with the certificate, key and client CA: valid while tls
 * lives. */
unsigned cn_tls_mhd_flags(const struct cn_tls *tls);
const void *cn_tls_mhd_options(const struct cn_tls *tls);

/* 1 if the client of conn presented a certificate that chains to the CA,
 * else 0 (logged at debug level). */
int cn_tls_client_verified(const struct cn_tls *tls, struct MHD_Connection *conn);

/* ---- clients (cn_http_client.c) ---- */

/* Sets up a curl easy handle (CURL *, as void *) for a TLS internal link:
 * the client certificate and key, the CA, peer and host verification.
 * Returns 0 or CAIRN_E_IO. */
int cn_tls_curl_setup(const struct cn_tls *tls, void *curl);

/* Writes url with its scheme made https:// into out (cap bytes): "http://h:p"
 * and "h:p" become "https://h:p". Returns 0 or CAIRN_E_INVAL (too long). */
int cn_tls_https_url(const char *url, char *out, size_t cap);

#endif
