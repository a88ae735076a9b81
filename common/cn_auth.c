#include "cn_auth.h"
#include "cn_error.h"
#include "cn_log.h"
#include "cn_tls.h"
#include "cn_util.h"
#include "cn_wire.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define HKDF_SALT     "cairn-internal-v2"
#define LINK_INFO     "cairn link "
#define KEY_ID_INFO   "cairn key id"
#define BODY_LABEL    "CAIRN2-BODY"
#define RESP_SCHEME   "CAIRN2-HMAC-SHA256-RESPONSE"
#define V1_KEY_LABEL  "cairn-internal-v1"
#define ROLE_KEY_HEAD "cairn-role-key 2"
#define N_ROLES       (CN_ROLE_LAST + 1)
#define MAX_GENS      2

/* The keys of one cluster secret, as far as this role holds them. */
struct keygen {
    char id[9];
    unsigned char link[N_ROLES][N_ROLES][32]; /* [from][to] */
    int have[N_ROLES][N_ROLES];
    EVP_MAC_CTX *hmac[N_ROLES][N_ROLES]; /* HMAC keyed with link[][]: dup'ed per use */
    unsigned char v1[32];                /* CAIRN1 key (raw secret only) */
    int have_v1;
};

struct cn_auth {
    enum cn_role role;
    int64_t max_skew_ms;
    struct keygen gen[MAX_GENS];
    int n_gen;
    int compat_v1;
    struct cn_tls *tls; /* owned */
};

/* ---- algorithms, fetched once ---- */

static pthread_once_t alg_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg, *poly_alg;

static void alg_init(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    poly_alg = EVP_MAC_fetch(NULL, "POLY1305", NULL);
}

static int algs(void)
{
    pthread_once(&alg_once, alg_init);
    return hmac_alg && poly_alg ? 0 : CAIRN_E_NOMEM;
}

/* A fresh HMAC-SHA256 context keyed with key[klen]. */
static EVP_MAC_CTX *hmac_new(const void *key, size_t klen)
{
    if (algs() < 0)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
    if (!ctx)
        return NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(ctx, key, klen, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int mac_final32(EVP_MAC_CTX *ctx, unsigned char out[32])
{
    size_t outl = 0;
    int ok = EVP_MAC_final(ctx, out, &outl, 32) && outl == 32;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : CAIRN_E_NOMEM;
}

static int upd(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
    return EVP_MAC_update(ctx, data, len) ? 0 : CAIRN_E_NOMEM;
}

static int upd_str(EVP_MAC_CTX *ctx, const char *s)
{
    return upd(ctx, s, strlen(s));
}

/* HMAC-SHA256(key, data) in one call. */
static int hmac_once(const void *key, size_t klen, const void *data, size_t len,
                     unsigned char out[32])
{
    EVP_MAC_CTX *ctx = hmac_new(key, klen);
    if (!ctx)
        return CAIRN_E_NOMEM;
    if (upd(ctx, data, len) < 0) {
        EVP_MAC_CTX_free(ctx);
        return CAIRN_E_NOMEM;
    }
    return mac_final32(ctx, out);
}

/* HKDF-Expand (RFC 5869) for one block: T(1) = HMAC(PRK, info || 0x01). */
static int hkdf_expand1(const unsigned char prk[32], const char *info, unsigned char out[32])
{
    EVP_MAC_CTX *ctx = hmac_new(prk, 32);
    if (!ctx)
        return CAIRN_E_NOMEM;
    static const unsigned char one = 1;
    if (upd_str(ctx, info) < 0 || upd(ctx, &one, 1) < 0) {
        EVP_MAC_CTX_free(ctx);
        return CAIRN_E_NOMEM;
    }
    return mac_final32(ctx, out);
}

/* ---- key sets ---- */

/* Which links a role's key holds: every link it sends or receives on. The
 * links in use (docs/security.md): meta>meta, meta>chunk, gateway>meta,
 * gateway>chunk, chunk>meta, chunk>chunk, admin>meta, admin>chunk. */
static int link_used(int from, int to)
{
    return (to == CN_ROLE_META || to == CN_ROLE_CHUNK) &&
           (from == CN_ROLE_META || from == CN_ROLE_CHUNK || from == CN_ROLE_GATEWAY ||
            from == CN_ROLE_ADMIN);
}

static int link_held(enum cn_role role, int from, int to)
{
    return link_used(from, to) && (from == (int)role || to == (int)role);
}

static void keygen_clear(struct keygen *g)
{
    for (int f = 0; f < N_ROLES; f++)
        for (int t = 0; t < N_ROLES; t++)
            EVP_MAC_CTX_free(g->hmac[f][t]);
    OPENSSL_cleanse(g, sizeof(*g));
}

static int keygen_contexts(struct keygen *g)
{
    for (int f = 0; f < N_ROLES; f++)
        for (int t = 0; t < N_ROLES; t++)
            if (g->have[f][t] && !(g->hmac[f][t] = hmac_new(g->link[f][t], 32)))
                return CAIRN_E_NOMEM;
    return 0;
}

static int derive(const void *secret, size_t len, enum cn_role role, struct keygen *g)
{
    memset(g, 0, sizeof(*g));
    unsigned char prk[32], out[32];
    int rc = hmac_once(HKDF_SALT, strlen(HKDF_SALT), secret, len, prk);
    if (rc == 0)
        rc = hkdf_expand1(prk, KEY_ID_INFO, out);
    if (rc == 0)
        cn_hex_encode(out, 4, g->id);
    for (int f = CN_ROLE_FIRST; rc == 0 && f <= CN_ROLE_LAST; f++) {
        for (int t = CN_ROLE_FIRST; rc == 0 && t <= CN_ROLE_LAST; t++) {
            if (!link_held(role, f, t))
                continue;
            char info[64];
            snprintf(info, sizeof(info), LINK_INFO "%s>%s", cn_role_name((enum cn_role)f),
                     cn_role_name((enum cn_role)t));
            rc = hkdf_expand1(prk, info, g->link[f][t]);
            g->have[f][t] = rc == 0;
        }
    }
    if (rc == 0)
        rc = hmac_once(secret, len, V1_KEY_LABEL, strlen(V1_KEY_LABEL), g->v1);
    g->have_v1 = rc == 0;
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(out, sizeof(out));
    if (rc == 0)
        rc = keygen_contexts(g);
    if (rc < 0)
        keygen_clear(g);
    return rc;
}

/* Next line of text[*pos..len) into line (NUL-terminated, no CR/LF);
 * skips blank lines and # comments. Returns 1, 0 at the end, or CAIRN_E_INVAL
 * for a line too long. */
static int next_line(const char *text, size_t len, size_t *pos, char *line, size_t cap)
{
    while (*pos < len) {
        size_t start = *pos, end = start;
        while (end < len && text[end] != '\n')
            end++;
        *pos = end < len ? end + 1 : end;
        size_t n = end - start;
        if (n && text[start + n - 1] == '\r')
            n--;
        if (n == 0 || text[start] == '#')
            continue;
        if (n >= cap)
            return CAIRN_E_INVAL;
        memcpy(line, text + start, n);
        line[n] = '\0';
        return 1;
    }
    return 0;
}

static int is_role_key_file(const char *text, size_t len)
{
    size_t pos = 0;
    char line[256];
    return next_line(text, len, &pos, line, sizeof(line)) == 1 && strcmp(line, ROLE_KEY_HEAD) == 0;
}

/* Parses a role key file (the format cn_auth_role_key_file() writes). */
static int parse_role_key_file(const char *text, size_t len, enum cn_role role, struct keygen *g)
{
    memset(g, 0, sizeof(*g));
    size_t pos = 0;
    char line[256];
    int rc, have_role = 0;
    if (next_line(text, len, &pos, line, sizeof(line)) != 1 || strcmp(line, ROLE_KEY_HEAD) != 0)
        return CAIRN_E_INVAL;
    while ((rc = next_line(text, len, &pos, line, sizeof(line))) == 1) {
        char a[64], b[80], extra;
        if (sscanf(line, "role %63s %c", a, &extra) == 1) {
            enum cn_role r;
            if (cn_role_parse(a, strlen(a), &r) != 0 || r != role)
                goto bad;
            have_role = 1;
        } else if (sscanf(line, "key-id %63s %c", a, &extra) == 1) {
            unsigned char id[4];
            if (strlen(a) != 8 || cn_hex_decode(a, id, 4) != 0)
                goto bad;
            cn_hex_encode(id, 4, g->id);
        } else if (sscanf(line, "link %63s %79s %c", a, b, &extra) == 2) {
            char *gt = strchr(a, '>');
            enum cn_role f, t;
            if (!gt || cn_role_parse(a, (size_t)(gt - a), &f) != 0 ||
                cn_role_parse(gt + 1, strlen(gt + 1), &t) != 0 || !link_held(role, f, t) ||
                strlen(b) != 64 || cn_hex_decode(b, g->link[f][t], 32) != 0)
                goto bad;
            g->have[f][t] = 1;
        } else {
            goto bad;
        }
    }
    if (rc < 0 || !have_role || !g->id[0])
        goto bad;
    for (int f = CN_ROLE_FIRST; f <= CN_ROLE_LAST; f++)
        for (int t = CN_ROLE_FIRST; t <= CN_ROLE_LAST; t++)
            if (link_held(role, f, t) && !g->have[f][t])
                goto bad;
    OPENSSL_cleanse(line, sizeof(line));
    rc = keygen_contexts(g);
    if (rc < 0)
        keygen_clear(g);
    return rc;
bad:
    OPENSSL_cleanse(line, sizeof(line));
    keygen_clear(g);
    return CAIRN_E_INVAL;
}

/* A secret or a role key file into g. */
static int load_text(const char *text, size_t len, enum cn_role role, struct keygen *g)
{
    if (!text)
        return CAIRN_E_INVAL;
    if (is_role_key_file(text, len))
        return parse_role_key_file(text, len, role, g);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len < CN_AUTH_MIN_SECRET || len > CN_AUTH_MAX_SECRET)
        return CAIRN_E_INVAL;
    return derive(text, len, role, g);
}

static int valid_role(enum cn_role role)
{
    return role >= CN_ROLE_FIRST && role <= CN_ROLE_LAST;
}

static struct cn_auth *auth_alloc(enum cn_role role, int64_t max_skew_ms)
{
    struct cn_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->role = role;
    a->max_skew_ms = max_skew_ms > 0 ? max_skew_ms : CN_AUTH_DEFAULT_SKEW_MS;
    return a;
}

int cn_auth_new(const void *secret, size_t len, enum cn_role role, int64_t max_skew_ms,
                struct cn_auth **out)
{
    if (!secret || len < CN_AUTH_MIN_SECRET || len > CN_AUTH_MAX_SECRET || !out ||
        !valid_role(role))
        return CAIRN_E_INVAL;
    struct cn_auth *a = auth_alloc(role, max_skew_ms);
    if (!a)
        return CAIRN_E_NOMEM;
    int rc = derive(secret, len, role, &a->gen[0]);
    if (rc < 0) {
        free(a);
        return rc;
    }
    a->n_gen = 1;
    *out = a;
    return 0;
}

int cn_auth_new_from_text(const char *text, size_t len, enum cn_role role, int64_t max_skew_ms,
                          struct cn_auth **out)
{
    if (!out || !valid_role(role))
        return CAIRN_E_INVAL;
    struct cn_auth *a = auth_alloc(role, max_skew_ms);
    if (!a)
        return CAIRN_E_NOMEM;
    int rc = load_text(text, len, role, &a->gen[0]);
    if (rc < 0) {
        free(a);
        return rc;
    }
    a->n_gen = 1;
    *out = a;
    return 0;
}

int cn_auth_add_accept_text(struct cn_auth *auth, const char *text, size_t len)
{
    if (!auth || auth->n_gen >= MAX_GENS)
        return CAIRN_E_INVAL;
    struct keygen *g = &auth->gen[auth->n_gen];
    int rc = load_text(text, len, auth->role, g);
    if (rc < 0)
        return rc;
    if (strcmp(g->id, auth->gen[0].id) == 0) {
        keygen_clear(g);
        return CAIRN_E_INVAL;
    }
    auth->n_gen++;
    return 0;
}

static int read_text(const char *path, char **text, size_t *len)
{
    int rc = cn_read_file(path, CN_AUTH_MAX_SECRET + 4096, text, len);
    return rc == CAIRN_E_RANGE ? CAIRN_E_INVAL : rc;
}

static void wipe_free(char *text, size_t len)
{
    if (text)
        OPENSSL_cleanse(text, len);
    free(text);
}

int cn_auth_open(const char *secret_file, const char *accept_file, enum cn_role role,
                 int64_t max_skew_ms, bool compat_v1, const char *log_module, struct cn_auth **out)
{
    const char *mod = log_module ? log_module : "auth";
    if (!secret_file || !secret_file[0]) {
        CN_ERROR(mod, "--cluster-secret-file is required (internal requests are authenticated)");
        return CAIRN_E_INVAL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(secret_file, &text, &len);
    if (rc == 0)
        rc = cn_auth_new_from_text(text, len, role, max_skew_ms, out);
    wipe_free(text, len);
    if (rc < 0) {
        CN_ERROR(mod, "cannot use cluster secret file %s: %s", secret_file,
                 rc == CAIRN_E_INVAL ? "must hold 16..4096 bytes of secret or this role's key file"
                                     : cairn_strerror(rc));
        return rc;
    }
    if (accept_file && accept_file[0]) {
        text = NULL;
        rc = read_text(accept_file, &text, &len);
        if (rc == 0)
            rc = cn_auth_add_accept_text(*out, text, len);
        wipe_free(text, len);
        if (rc < 0) {
            CN_ERROR(mod, "cannot use accepted secret file %s: %s", accept_file,
                     rc == CAIRN_E_INVAL
                         ? "must hold another secret, or this role's key file for another secret"
                         : cairn_strerror(rc));
            cn_auth_free(*out);
            *out = NULL;
            return rc;
        }
    }
    if (compat_v1 && cn_auth_set_compat_v1(*out, 1) < 0) {
        CN_ERROR(mod, "--auth-compat-v1 needs the cluster secret itself, not a role key file");
        cn_auth_free(*out);
        *out = NULL;
        return CAIRN_E_INVAL;
    }
    CN_INFO(mod, "internal auth: role %s, signing with key %s%s%s%s", cn_role_name(role),
            (*out)->gen[0].id, (*out)->n_gen > 1 ? ", also accepting key " : "",
            (*out)->n_gen > 1 ? (*out)->gen[1].id : "",
            compat_v1 ? ", CAIRN1 compatibility on" : "");
    return 0;
}

int cn_auth_role_key_file(const void *secret, size_t len, enum cn_role role, char **text)
{
    if (!text || !valid_role(role) || !secret || len < CN_AUTH_MIN_SECRET ||
        len > CN_AUTH_MAX_SECRET)
        return CAIRN_E_INVAL;
    struct keygen g;
    int rc = derive(secret, len, role, &g);
    if (rc < 0)
        return rc;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) {
        keygen_clear(&g);
        return CAIRN_E_NOMEM;
    }
    fprintf(f,
            "# Cairn role key: the %s role's keys for one cluster secret (docs/security.md).\n"
            "# Give it to --cluster-secret-file of cairn-%s instead of the secret. Keep it\n"
            "# private: it signs as any %s.\n",
            cn_role_name(role), role == CN_ROLE_GATEWAY ? "gateway" : cn_role_name(role),
            cn_role_name(role));
    fprintf(f, ROLE_KEY_HEAD "\nrole %s\nkey-id %s\n", cn_role_name(role), g.id);
    for (int fr = CN_ROLE_FIRST; fr <= CN_ROLE_LAST; fr++) {
        for (int t = CN_ROLE_FIRST; t <= CN_ROLE_LAST; t++) {
            if (!g.have[fr][t])
                continue;
            char hex[65];
            cn_hex_encode(g.link[fr][t], 32, hex);
            fprintf(f, "link %s>%s %s\n", cn_role_name((enum cn_role)fr),
                    cn_role_name((enum cn_role)t), hex);
            OPENSSL_cleanse(hex, sizeof(hex));
        }
    }
    keygen_clear(&g);
    if (fclose(f) != 0 || !buf) {
        wipe_free(buf, blen);
        return CAIRN_E_NOMEM;
    }
    *text = buf;
    return 0;
}

void cn_auth_free(struct cn_auth *auth)
{
    if (!auth)
        return;
    for (int i = 0; i < auth->n_gen; i++)
        keygen_clear(&auth->gen[i]);
    cn_tls_free(auth->tls);
    OPENSSL_cleanse(auth, sizeof(*auth));
    free(auth);
}

enum cn_role cn_auth_role(const struct cn_auth *auth)
{
    return auth->role;
}

const char *cn_auth_key_id(const struct cn_auth *auth)
{
    return auth->gen[0].id;
}

int64_t cn_auth_max_skew_ms(const struct cn_auth *auth)
{
    return auth->max_skew_ms;
}

void cn_auth_set_tls(struct cn_auth *auth, struct cn_tls *tls)
{
    if (auth->tls != tls)
        cn_tls_free(auth->tls);
    auth->tls = tls;
}

const struct cn_tls *cn_auth_tls(const struct cn_auth *auth)
{
    return auth ? auth->tls : NULL;
}

int cn_auth_set_compat_v1(struct cn_auth *auth, int on)
{
    if (on && !auth->gen[0].have_v1)
        return CAIRN_E_INVAL;
    auth->compat_v1 = on;
    return 0;
}

int cn_auth_compat_v1(const struct cn_auth *auth)
{
    return auth && auth->compat_v1;
}

/* ---- signed headers ---- */

void cn_auth_hdrs_init(struct cn_auth_hdrs *h)
{
    h->n = 0;
    h->overflow = 0;
}

int cn_auth_is_signed_header(const char *name, size_t n)
{
    if (n == 5 && strncasecmp(name, "range", 5) == 0)
        return 1;
    if (n == 13 && strncasecmp(name, "content-range", 13) == 0)
        return 1;
    if (n < 8 || strncasecmp(name, "x-cairn-", 8) != 0)
        return 0;
    static const char *const excluded[] = {"x-cairn-signature", "x-cairn-response-signature",
                                           "x-cairn-auth"};
    for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
        if (strlen(excluded[i]) == n && strncasecmp(name, excluded[i], n) == 0)
            return 0;
    return 1;
}

void cn_auth_hdrs_add(struct cn_auth_hdrs *h, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    if (!cn_auth_is_signed_header(name, name_len))
        return;
    if (h->n == CN_AUTH_MAX_HEADERS) {
        h->overflow = 1;
        return;
    }
    while (value_len && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;
    h->h[h->n].name = name;
    h->h[h->n].name_len = name_len;
    h->h[h->n].value = value;
    h->h[h->n].value_len = value_len;
    h->n++;
}

void cn_auth_hdrs_add_line(struct cn_auth_hdrs *h, const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return;
    cn_auth_hdrs_add(h, line, (size_t)(colon - line), colon + 1, strlen(colon + 1));
}

static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        int ca = tolower((unsigned char)a[i]), cb = tolower((unsigned char)b[i]);
        if (ca != cb)
            return ca - cb;
    }
    return an < bn ? -1 : an > bn;
}

/* The order the headers are signed in (by lowercase name); fails on an
 * overflowing set, a duplicate name, or a value with CR, LF or NUL. */
static int hdr_order(const struct cn_auth_hdrs *h, size_t order[CN_AUTH_MAX_HEADERS])
{
    if (h->overflow)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < h->n; i++) {
        for (size_t j = 0; j < h->h[i].value_len; j++) {
            char c = h->h[i].value[j];
            if (c == '\r' || c == '\n' || c == '\0')
                return CAIRN_E_INVAL;
        }
        order[i] = i;
    }
    for (size_t i = 1; i < h->n; i++) { /* insertion sort: a handful of headers */
        size_t x = order[i], j = i;
        while (j > 0 && name_cmp(h->h[order[j - 1]].name, h->h[order[j - 1]].name_len, h->h[x].name,
                                 h->h[x].name_len) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    for (size_t i = 1; i < h->n; i++)
        if (name_cmp(h->h[order[i - 1]].name, h->h[order[i - 1]].name_len, h->h[order[i]].name,
                     h->h[order[i]].name_len) == 0)
            return CAIRN_E_INVAL;
    return 0;
}

static int upd_hdrs(EVP_MAC_CTX *ctx, const struct cn_auth_hdrs *h)
{
    size_t order[CN_AUTH_MAX_HEADERS];
    if (hdr_order(h, order) < 0)
        return CAIRN_E_INVAL;
    char num[24];
    snprintf(num, sizeof(num), "%zu\n", h->n);
    if (upd_str(ctx, num) < 0)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->h[order[i]].name;
        char lower[128];
        size_t nl = h->h[order[i]].name_len;
        if (nl >= sizeof(lower))
            return CAIRN_E_INVAL;
        for (size_t j = 0; j < nl; j++)
            lower[j] = (char)tolower((unsigned char)name[j]);
        lower[nl] = ':';
        if (upd(ctx, lower, nl + 1) < 0 ||
            upd(ctx, h->h[order[i]].value, h->h[order[i]].value_len) < 0 || upd(ctx, "\n", 1) < 0)
            return CAIRN_E_NOMEM;
    }
    return 0;
}

/* ---- field checks ---- */

static int is_hex_n(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int valid_method(const char *m)
{
    if (!m || !*m || strlen(m) > 16)
        return 0;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return 0;
    return 1;
}

/* host and target: visible ASCII, no spaces; target starts with '/'. */
static int valid_token(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int valid_msg(const struct cn_auth_msg *m)
{
    return m && valid_method(m->method) && valid_token(m->host, 300) &&
           valid_token(m->target, 8192) && m->target[0] == '/' && m->hdrs;
}

/* ---- the request MAC ---- */

static EVP_MAC_CTX *link_ctx(const struct cn_auth_exchange *ex)
{
    const struct keygen *g = &ex->auth->gen[ex->gen];
    EVP_MAC_CTX *base = g->hmac[ex->from][ex->to];
    return base ? EVP_MAC_CTX_dup(base) : NULL;
}

static int request_mac(const struct cn_auth_exchange *ex, const struct cn_auth_msg *msg,
                       const char *body, unsigned char mac[32])
{
    EVP_MAC_CTX *ctx = link_ctx(ex);
    if (!ctx)
        return CAIRN_E_NOMEM;
    char head[256];
    int n = snprintf(head, sizeof(head), "%s\n%s/%s/%s\n%" PRId64 "\n%s\n%s\n", CN_AUTH_SCHEME,
                     ex->auth->gen[ex->gen].id, cn_role_name(ex->from), cn_role_name(ex->to),
                     ex->time_ms, ex->nonce, msg->method);
    int rc = n > 0 && (size_t)n < sizeof(head) ? 0 : CAIRN_E_INVAL;
    if (rc == 0 &&
        (upd(ctx, head, (size_t)n) < 0 || upd_str(ctx, msg->host) < 0 || upd(ctx, "\n", 1) < 0 ||
         upd_str(ctx, msg->target) < 0 || upd(ctx, "\n", 1) < 0))
        rc = CAIRN_E_NOMEM;
    if (rc == 0)
        rc = upd_hdrs(ctx, msg->hdrs);
    if (rc == 0 && (upd_str(ctx, body) < 0 || upd(ctx, "\n", 1) < 0))
        rc = CAIRN_E_NOMEM;
    if (rc < 0) {
        EVP_MAC_CTX_free(ctx);
        return rc;
    }
    return mac_final32(ctx, mac);
}

static int response_mac(const struct cn_auth_exchange *ex, unsigned status,
                        const struct cn_auth_hdrs *hdrs, const char *body, unsigned char mac[32])
{
    EVP_MAC_CTX *ctx = link_ctx(ex);
    if (!ctx)
        return CAIRN_E_NOMEM;
    char head[160];
    int n = snprintf(head, sizeof(head), "%s\n%s\n%u\n", RESP_SCHEME, ex->signature, status);
    int rc = upd(ctx, head, (size_t)n) < 0 ? CAIRN_E_NOMEM : 0;
    if (rc == 0)
        rc = upd_hdrs(ctx, hdrs);
    if (rc == 0 && (upd_str(ctx, body) < 0 || upd(ctx, "\n", 1) < 0))
        rc = CAIRN_E_NOMEM;
    if (rc < 0) {
        EVP_MAC_CTX_free(ctx);
        return rc;
    }
    return mac_final32(ctx, mac);
}

/* ---- parsing ---- */

/* Expects the literal lit at *p; advances. */
static int lit(const char **p, const char *lit_)
{
    size_t n = strlen(lit_);
    if (strncmp(*p, lit_, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* n lowercase hex digits at *p into out[n+1]; advances. */
static int hexfield(const char **p, size_t n, char *out)
{
    if (strlen(*p) < n || !is_hex_n(*p, n))
        return 0;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return 1;
}

/* A role name up to the delimiter d. */
static int rolefield(const char **p, char d, enum cn_role *r)
{
    const char *e = strchr(*p, d);
    if (!e || cn_role_parse(*p, (size_t)(e - *p), r) != 0)
        return 0;
    *p = e;
    return 1;
}

int cn_auth_parse_request_header(const char *v, struct cn_auth_parsed *o)
{
    if (!v || !o)
        return CAIRN_E_AUTH;
    memset(o, 0, sizeof(*o));
    const char *p = v;
    if (!lit(&p, CN_AUTH_SCHEME " Credential=") || !hexfield(&p, 8, o->key_id) || !lit(&p, "/") ||
        !rolefield(&p, '/', &o->from) || !lit(&p, "/") || !rolefield(&p, ',', &o->to) ||
        !lit(&p, ", Time="))
        return CAIRN_E_AUTH;
    int64_t t = 0;
    size_t digits = 0;
    if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
        return CAIRN_E_AUTH; /* one spelling per time: no leading zeros */
    while (*p >= '0' && *p <= '9' && digits < 15) {
        t = t * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || !lit(&p, ", Nonce=") || !hexfield(&p, 32, o->nonce) || !lit(&p, ", Body="))
        return CAIRN_E_AUTH;
    if (lit(&p, CN_AUTH_BODY_SUFFIX))
        snprintf(o->body, sizeof(o->body), CN_AUTH_BODY_SUFFIX);
    else if (!hexfield(&p, 32, o->body))
        return CAIRN_E_AUTH;
    if (!lit(&p, ", Signature=") || !hexfield(&p, 64, o->signature) || *p != '\0')
        return CAIRN_E_AUTH;
    o->time_ms = t;
    return 0;
}

int cn_auth_parse_response_header(const char *v, char body[33], char signature[65])
{
    if (!v)
        return CAIRN_E_AUTH;
    const char *p = v;
    if (!lit(&p, "Body="))
        return CAIRN_E_AUTH;
    if (lit(&p, CN_AUTH_UNSIGNED_BODY))
        snprintf(body, 33, CN_AUTH_UNSIGNED_BODY);
    else if (!hexfield(&p, 32, body))
        return CAIRN_E_AUTH;
    if (!lit(&p, ", Signature=") || !hexfield(&p, 64, signature) || *p != '\0')
        return CAIRN_E_AUTH;
    return 0;
}

/* ---- client ---- */

int cn_auth_client_begin(const struct cn_auth *auth, enum cn_role to, int64_t now_ms,
                         struct cn_auth_exchange *ex)
{
    memset(ex, 0, sizeof(*ex));
    if (!auth || !valid_role(to) || now_ms < 0 || !auth->gen[0].have[auth->role][to])
        return CAIRN_E_INVAL;
    ex->auth = auth;
    ex->gen = 0;
    ex->from = auth->role;
    ex->to = to;
    ex->time_ms = now_ms;
    unsigned char raw[16];
    if (cn_random_bytes(raw, sizeof(raw)) < 0)
        return CAIRN_E_IO;
    cn_hex_encode(raw, sizeof(raw), ex->nonce);
    return 0;
}

int cn_auth_client_sign(struct cn_auth_exchange *ex, const struct cn_auth_msg *msg,
                        const char *body_tag, char out[CN_AUTH_HEADER_MAX])
{
    if (!ex || !ex->auth || !valid_msg(msg) ||
        (body_tag && (strlen(body_tag) != 32 || !is_hex_n(body_tag, 32))))
        return CAIRN_E_INVAL;
    const char *body = body_tag ? body_tag : CN_AUTH_BODY_SUFFIX;
    unsigned char mac[32];
    int rc = request_mac(ex, msg, body, mac);
    if (rc < 0)
        return rc == CAIRN_E_NOMEM ? rc : CAIRN_E_INVAL;
    cn_hex_encode(mac, 32, ex->signature);
    ex->body_suffix = body_tag == NULL;
    snprintf(ex->body_tag, sizeof(ex->body_tag), "%s", body_tag ? body_tag : "");
    int n = snprintf(out, CN_AUTH_HEADER_MAX,
                     "%s Credential=%s/%s/%s, Time=%" PRId64 ", Nonce=%s, Body=%s, Signature=%s",
                     CN_AUTH_SCHEME, ex->auth->gen[ex->gen].id, cn_role_name(ex->from),
                     cn_role_name(ex->to), ex->time_ms, ex->nonce, body, ex->signature);
    return n > 0 && n < CN_AUTH_HEADER_MAX ? 0 : CAIRN_E_INVAL;
}

int cn_auth_tag_equal(const char *a, const char *b)
{
    if (!a || !b || strlen(a) != 32 || strlen(b) != 32)
        return 0;
    return CRYPTO_memcmp(a, b, 32) == 0;
}

int cn_auth_client_check_response(const struct cn_auth_exchange *ex, unsigned status,
                                  const struct cn_auth_hdrs *hdrs, const char *sig_hdr,
                                  const char *body_tag, int *body_signed)
{
    char body[33], sig_hex[65];
    if (!ex || !ex->auth || !hdrs || cn_auth_parse_response_header(sig_hdr, body, sig_hex) < 0)
        return CAIRN_E_AUTH;
    unsigned char mac[32], sig[32];
    if (response_mac(ex, status, hdrs, body, mac) < 0 || cn_hex_decode(sig_hex, sig, 32) < 0 ||
        CRYPTO_memcmp(mac, sig, 32) != 0)
        return CAIRN_E_AUTH;
    int covered = strcmp(body, CN_AUTH_UNSIGNED_BODY) != 0;
    if (covered && !cn_auth_tag_equal(body, body_tag))
        return CAIRN_E_AUTH;
    if (body_signed)
        *body_signed = covered;
    return 0;
}

/* ---- server ---- */

int cn_auth_server_verify(const struct cn_auth *auth, const struct cn_auth_msg *msg,
                          const char *sig_hdr, int64_t now_ms, struct cn_auth_exchange *ex,
                          const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    memset(ex, 0, sizeof(*ex));
    struct cn_auth_parsed p;
    if (!auth || !valid_msg(msg)) {
        *why = "malformed request line or Host";
        return CAIRN_E_AUTH;
    }
    if (cn_auth_parse_request_header(sig_hdr, &p) < 0) {
        *why = "malformed " CN_HDR_SIGNATURE;
        return CAIRN_E_AUTH;
    }
    if (p.to != auth->role) {
        *why = "signed for a daemon of another role";
        return CAIRN_E_AUTH;
    }
    int gen = -1;
    for (int i = 0; i < auth->n_gen; i++)
        if (strcmp(auth->gen[i].id, p.key_id) == 0)
            gen = i;
    if (gen < 0) {
        *why = "unknown key id (another cluster secret?)";
        return CAIRN_E_AUTH;
    }
    if (!auth->gen[gen].have[p.from][p.to]) {
        *why = "no such link (sender role never calls this role)";
        return CAIRN_E_AUTH;
    }
    int64_t skew = p.time_ms > now_ms ? p.time_ms - now_ms : now_ms - p.time_ms;
    if (skew > auth->max_skew_ms) {
        *why = "time outside the allowed clock skew";
        return CAIRN_E_AUTH;
    }
    ex->auth = auth;
    ex->gen = gen;
    ex->from = p.from;
    ex->to = p.to;
    ex->time_ms = p.time_ms;
    memcpy(ex->nonce, p.nonce, sizeof(ex->nonce));
    unsigned char mac[32], sig[32];
    if (request_mac(ex, msg, p.body, mac) < 0 || cn_hex_decode(p.signature, sig, 32) < 0 ||
        CRYPTO_memcmp(mac, sig, 32) != 0) {
        memset(ex, 0, sizeof(*ex));
        *why = "signature does not match";
        return CAIRN_E_AUTH;
    }
    memcpy(ex->signature, p.signature, sizeof(ex->signature));
    ex->body_suffix = strcmp(p.body, CN_AUTH_BODY_SUFFIX) == 0;
    if (!ex->body_suffix)
        memcpy(ex->body_tag, p.body, sizeof(ex->body_tag));
    return 0;
}

int cn_auth_server_sign_response(const struct cn_auth_exchange *ex, unsigned status,
                                 const struct cn_auth_hdrs *hdrs, const char *body_tag,
                                 char out[CN_AUTH_HEADER_MAX])
{
    if (!ex || !ex->auth || !hdrs || status > 999 ||
        (body_tag && (strlen(body_tag) != 32 || !is_hex_n(body_tag, 32))))
        return CAIRN_E_INVAL;
    const char *body = body_tag ? body_tag : CN_AUTH_UNSIGNED_BODY;
    unsigned char mac[32];
    int rc = response_mac(ex, status, hdrs, body, mac);
    if (rc < 0)
        return rc == CAIRN_E_NOMEM ? rc : CAIRN_E_INVAL;
    char hex[65];
    cn_hex_encode(mac, 32, hex);
    snprintf(out, CN_AUTH_HEADER_MAX, "Body=%s, Signature=%s", body, hex);
    return 0;
}

/* ---- body tags ---- */

int cn_auth_mac_begin(const struct cn_auth_exchange *ex, int response, struct cn_auth_mac *m)
{
    m->ctx = NULL;
    if (!ex || !ex->auth || algs() < 0)
        return CAIRN_E_NOMEM;
    EVP_MAC_CTX *h = link_ctx(ex);
    if (!h)
        return CAIRN_E_NOMEM;
    unsigned char otk[32];
    char label[96];
    int n = snprintf(label, sizeof(label), BODY_LABEL "\n%s\n%s\n",
                     response ? "response" : "request", ex->nonce);
    if (upd(h, label, (size_t)n) < 0) {
        EVP_MAC_CTX_free(h);
        return CAIRN_E_NOMEM;
    }
    if (mac_final32(h, otk) < 0)
        return CAIRN_E_NOMEM;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(poly_alg);
    if (!ctx || !EVP_MAC_init(ctx, otk, sizeof(otk), NULL)) {
        EVP_MAC_CTX_free(ctx);
        OPENSSL_cleanse(otk, sizeof(otk));
        return CAIRN_E_NOMEM;
    }
    OPENSSL_cleanse(otk, sizeof(otk));
    m->ctx = ctx;
    return 0;
}

int cn_auth_mac_update(struct cn_auth_mac *m, const void *data, size_t len)
{
    if (!m->ctx)
        return CAIRN_E_INVAL;
    return len == 0 || EVP_MAC_update(m->ctx, data, len) ? 0 : CAIRN_E_NOMEM;
}

int cn_auth_mac_end_raw(struct cn_auth_mac *m, unsigned char raw[CN_AUTH_SUFFIX_LEN])
{
    if (!m->ctx)
        return CAIRN_E_INVAL;
    size_t outl = 0;
    int ok = EVP_MAC_final(m->ctx, raw, &outl, CN_AUTH_SUFFIX_LEN) && outl == CN_AUTH_SUFFIX_LEN;
    EVP_MAC_CTX_free(m->ctx);
    m->ctx = NULL;
    return ok ? 0 : CAIRN_E_NOMEM;
}

int cn_auth_mac_end(struct cn_auth_mac *m, char tag[CN_AUTH_TAG_HEX])
{
    unsigned char out[CN_AUTH_SUFFIX_LEN];
    int rc = cn_auth_mac_end_raw(m, out);
    if (rc == 0)
        cn_hex_encode(out, sizeof(out), tag);
    return rc;
}

void cn_auth_mac_abort(struct cn_auth_mac *m)
{
    EVP_MAC_CTX_free(m->ctx);
    m->ctx = NULL;
}

int cn_auth_body_tag(const struct cn_auth_exchange *ex, int response, const void *body, size_t len,
                     char tag[CN_AUTH_TAG_HEX])
{
    struct cn_auth_mac m;
    int rc = cn_auth_mac_begin(ex, response, &m);
    if (rc == 0 && (rc = cn_auth_mac_update(&m, body, len)) < 0)
        cn_auth_mac_abort(&m);
    return rc ? rc : cn_auth_mac_end(&m, tag);
}

/* ---- CAIRN1 ---- */

void cn_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    cn_hex_encode(md, sizeof(md), hex);
}

static int v1_body_ok(const char *b)
{
    return b && (strcmp(b, CN_AUTH_V1_UNSIGNED) == 0 || (strlen(b) == 64 && is_hex_n(b, 64)));
}

static int v1_mac(const unsigned char key[32], const char *method, const char *target,
                  const char *date, const char *body, unsigned char mac[32])
{
    EVP_MAC_CTX *ctx = hmac_new(key, 32);
    if (!ctx)
        return CAIRN_E_NOMEM;
    const char *parts[] = {CN_AUTH_V1_SCHEME, method, target, date, body};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if ((i > 0 && upd(ctx, "\n", 1) < 0) || upd_str(ctx, parts[i]) < 0) {
            EVP_MAC_CTX_free(ctx);
            return CAIRN_E_NOMEM;
        }
    }
    return mac_final32(ctx, mac);
}

int cn_auth_v1_sign(const struct cn_auth *auth, const char *method, const char *target,
                    int64_t now_s, const char *body_sha256_hex, struct cn_auth_v1_headers *out)
{
    if (!auth || !auth->gen[0].have_v1 || !valid_method(method) || !valid_token(target, 8192) ||
        !out || now_s < 0 || (body_sha256_hex && !v1_body_ok(body_sha256_hex)))
        return CAIRN_E_INVAL;
    snprintf(out->date, sizeof(out->date), "%" PRId64, now_s);
    snprintf(out->body_sha256, sizeof(out->body_sha256), "%s",
             body_sha256_hex ? body_sha256_hex : CN_AUTH_V1_UNSIGNED);
    unsigned char mac[32];
    int rc = v1_mac(auth->gen[0].v1, method, target, out->date, out->body_sha256, mac);
    if (rc < 0)
        return rc;
    char hex[65];
    cn_hex_encode(mac, 32, hex);
    snprintf(out->auth, sizeof(out->auth), "%s %s", CN_AUTH_V1_SCHEME, hex);
    return 0;
}

int cn_auth_v1_verify(const struct cn_auth *auth, const char *method, const char *target,
                      const char *date_hdr, const char *body_hdr, const char *auth_hdr,
                      int64_t now_s, int *body_signed)
{
    if (!auth || !valid_method(method) || !valid_token(target, 8192) || !date_hdr ||
        !v1_body_ok(body_hdr) || !auth_hdr)
        return CAIRN_E_AUTH;
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
    if (skew * 1000 > auth->max_skew_ms)
        return CAIRN_E_AUTH;
    size_t slen = strlen(CN_AUTH_V1_SCHEME);
    if (strncmp(auth_hdr, CN_AUTH_V1_SCHEME, slen) != 0 || auth_hdr[slen] != ' ')
        return CAIRN_E_AUTH;
    unsigned char sig[32];
    if (cn_hex_decode(auth_hdr + slen + 1, sig, sizeof(sig)) < 0)
        return CAIRN_E_AUTH;
    for (int i = 0; i < auth->n_gen; i++) {
        unsigned char mac[32];
        if (!auth->gen[i].have_v1 ||
            v1_mac(auth->gen[i].v1, method, target, date_hdr, body_hdr, mac) < 0)
            continue;
        if (CRYPTO_memcmp(mac, sig, 32) == 0) {
            if (body_signed)
                *body_signed = strcmp(body_hdr, CN_AUTH_V1_UNSIGNED) != 0;
            return 0;
        }
    }
    return CAIRN_E_AUTH;
}
