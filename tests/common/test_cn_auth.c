/* cn_auth (CAIRN2 request and answer signatures, body tags, per-link keys,
 * role key files, rotation), cn_replay (the nonce cache) and cn_roles (who
 * may call what). Pure functions: no sockets. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_replay.h"
#include "cn_roles.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "meta.pb-c.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char secret[] = "0123456789abcdef-cluster-secret";
static const char secret2[] = "the-next-cluster-secret-0123456789";
static const int64_t now = 1795672800000; /* ms */

/* meta's and gateway's credentials for one secret */
static struct cn_auth *meta, *gw;

static void setup(void)
{
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &meta), 0);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_GATEWAY, 0, &gw), 0);
}

static void teardown(void)
{
    cn_auth_free(meta);
    cn_auth_free(gw);
    meta = gw = NULL;
}

/* A request as a test builds it: fixed parts plus up to 4 headers. */
struct req {
    const char *method, *host, *target;
    const char *hdr_lines[5];
};

/* r as cn_auth sees it (msg points into b) */
struct built {
    struct cn_auth_hdrs hdrs;
    struct cn_auth_msg msg;
};

static void req_build(const struct req *r, struct built *b)
{
    cn_auth_hdrs_init(&b->hdrs);
    for (int i = 0; r->hdr_lines[i]; i++)
        cn_auth_hdrs_add_line(&b->hdrs, r->hdr_lines[i]);
    b->msg = (struct cn_auth_msg){r->method, r->host, r->target, &b->hdrs};
}

/* Signs r as `from` for role `to` with body tag computed over body. */
static void sign(const struct cn_auth *from, enum cn_role to, struct req *r, const char *body,
                 struct cn_auth_exchange *ex, char sig[CN_AUTH_HEADER_MAX])
{
    struct built b;
    req_build(r, &b);
    ck_assert_int_eq(cn_auth_client_begin(from, to, now, ex), 0);
    char tag[CN_AUTH_TAG_HEX];
    ck_assert_int_eq(cn_auth_body_tag(ex, 0, body, strlen(body), tag), 0);
    ck_assert_int_eq(cn_auth_client_sign(ex, &b.msg, tag, sig), 0);
}

static int verify(const struct cn_auth *at, struct req *r, const char *sig, int64_t when,
                  struct cn_auth_exchange *ex)
{
    struct built b;
    req_build(r, &b);
    const char *why = NULL;
    int rc = cn_auth_server_verify(at, &b.msg, sig, when, ex, &why);
    if (rc < 0)
        ck_assert_ptr_nonnull(why);
    return rc;
}

START_TEST(test_sign_verify)
{
    struct req r = {"PUT",
                    "127.0.0.1:9300",
                    "/v1/fragment/ab/1?x=1",
                    {"X-Cairn-K: 4", "X-Cairn-Data-CRC32C: 0a0b0c0d", "Content-Type: a/b", NULL}};
    struct cn_auth_exchange cex, sex;
    char sig[CN_AUTH_HEADER_MAX];
    sign(gw, CN_ROLE_META, &r, "hello", &cex, sig);
    ck_assert_int_eq(strncmp(sig, "CAIRN2-HMAC-SHA256 Credential=", 30), 0);
    ck_assert_ptr_nonnull(strstr(sig, "/gateway/meta, Time=1795672800000, Nonce="));
    struct cn_auth_parsed p;
    ck_assert_int_eq(cn_auth_parse_request_header(sig, &p), 0);
    ck_assert_str_eq(p.key_id, cn_auth_key_id(gw));
    ck_assert_int_eq(p.from, CN_ROLE_GATEWAY);
    ck_assert_int_eq(p.to, CN_ROLE_META);

    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), 0);
    ck_assert_int_eq(sex.from, CN_ROLE_GATEWAY);
    ck_assert_str_eq(sex.nonce, cex.nonce);
    ck_assert_str_eq(sex.body_tag, cex.body_tag);
    ck_assert_int_eq(sex.body_suffix, 0);
    /* the receiver computes the same body tag */
    char tag[CN_AUTH_TAG_HEX];
    ck_assert_int_eq(cn_auth_body_tag(&sex, 0, "hello", 5, tag), 0);
    ck_assert(cn_auth_tag_equal(tag, sex.body_tag));
    ck_assert_int_eq(cn_auth_body_tag(&sex, 0, "hellp", 5, tag), 0);
    ck_assert(!cn_auth_tag_equal(tag, sex.body_tag));
    /* ... and streamed in pieces */
    struct cn_auth_mac m;
    ck_assert_int_eq(cn_auth_mac_begin(&sex, 0, &m), 0);
    ck_assert_int_eq(cn_auth_mac_update(&m, "he", 2), 0);
    ck_assert_int_eq(cn_auth_mac_update(&m, "llo", 3), 0);
    ck_assert_int_eq(cn_auth_mac_end(&m, tag), 0);
    ck_assert(cn_auth_tag_equal(tag, sex.body_tag));

    /* within the skew window only */
    ck_assert_int_eq(verify(meta, &r, sig, now + CN_AUTH_DEFAULT_SKEW_MS, &sex), 0);
    ck_assert_int_eq(verify(meta, &r, sig, now - CN_AUTH_DEFAULT_SKEW_MS, &sex), 0);
    ck_assert_int_eq(verify(meta, &r, sig, now + CN_AUTH_DEFAULT_SKEW_MS + 1, &sex), CAIRN_E_AUTH);
    ck_assert_int_eq(verify(meta, &r, sig, now - CN_AUTH_DEFAULT_SKEW_MS - 1, &sex), CAIRN_E_AUTH);

    /* headers other than X-Cairn-*, Range and Content-Range are not signed;
     * header names are case-insensitive, order does not matter */
    struct req r2 = {
        "PUT",
        "127.0.0.1:9300",
        "/v1/fragment/ab/1?x=1",
        {"x-cairn-data-crc32c:   0a0b0c0d ", "x-CAIRN-k: 4", "Content-Type: c/d", "User-Agent: z"}};
    ck_assert_int_eq(verify(meta, &r2, sig, now, &sex), 0);
}
END_TEST

/* Any change to what is signed is refused. */
START_TEST(test_altered)
{
    struct req base = {"PUT",
                       "127.0.0.1:9300",
                       "/v1/fragment/ab/1?x=1",
                       {"X-Cairn-K: 4", "X-Cairn-Data-CRC32C: 0a0b0c0d", NULL}};
    struct cn_auth_exchange ex, sex;
    char sig[CN_AUTH_HEADER_MAX];
    sign(gw, CN_ROLE_META, &base, "body", &ex, sig);
    ck_assert_int_eq(verify(meta, &base, sig, now, &sex), 0);

    struct req r;
    r = base;
    r.method = "POST";
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.host = "127.0.0.1:9301"; /* to another daemon */
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.target = "/v1/fragment/ab/2?x=1";
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.target = "/v1/fragment/ab/1?x=2";
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.hdr_lines[0] = "X-Cairn-K: 5"; /* a signed header's value */
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.hdr_lines[1] = NULL; /* a signed header dropped */
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.hdr_lines[2] = "X-Cairn-Snapshot-Slot: 7"; /* one added */
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.hdr_lines[2] = "Range: bytes=0-1";
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);
    r = base;
    r.hdr_lines[2] = "X-Cairn-K: 4"; /* the same header twice */
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), CAIRN_E_AUTH);

    /* a body tag swapped in the header */
    char forged[CN_AUTH_HEADER_MAX];
    snprintf(forged, sizeof(forged), "%s", sig);
    char *b = strstr(forged, "Body=") + 5;
    b[0] = b[0] == '0' ? '1' : '0';
    ck_assert_int_eq(verify(meta, &base, forged, now, &sex), CAIRN_E_AUTH);
    /* Body=suffix instead of the tag */
    char *sig_part = strstr(sig, ", Signature=");
    snprintf(forged, sizeof(forged), "%.*sBody=suffix%s", (int)(strstr(sig, "Body=") - sig), sig,
             sig_part);
    ck_assert_int_eq(verify(meta, &base, forged, now, &sex), CAIRN_E_AUTH);
    /* another time, nonce or sender role with the same MAC */
    snprintf(forged, sizeof(forged), "%s", sig);
    char *t = strstr(forged, "Time=") + 5;
    t[12] = t[12] == '0' ? '1' : '0';
    ck_assert_int_eq(verify(meta, &base, forged, now, &sex), CAIRN_E_AUTH);
    snprintf(forged, sizeof(forged), "%s", sig);
    char *n = strstr(forged, "Nonce=") + 6;
    n[0] = n[0] == 'a' ? 'b' : 'a';
    ck_assert_int_eq(verify(meta, &base, forged, now, &sex), CAIRN_E_AUTH);
    const char *gwpart = strstr(sig, "/gateway/");
    ck_assert_ptr_nonnull(gwpart);
    snprintf(forged, sizeof(forged), "%.*s/chunk/%s", (int)(gwpart - sig), sig, gwpart + 9);
    ck_assert_int_eq(verify(meta, &base, forged, now, &sex), CAIRN_E_AUTH);

    /* a signature for a meta is not good at a chunkserver (other link key,
     * other receiver role) */
    struct cn_auth *chunk;
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_CHUNK, 0, &chunk), 0);
    ck_assert_int_eq(verify(chunk, &base, sig, now, &sex), CAIRN_E_AUTH);
    /* and another cluster's meta refuses it (unknown key id) */
    struct cn_auth *other;
    ck_assert_int_eq(cn_auth_new(secret2, strlen(secret2), CN_ROLE_META, 0, &other), 0);
    ck_assert_int_eq(verify(other, &base, sig, now, &sex), CAIRN_E_AUTH);
    cn_auth_free(other);
    cn_auth_free(chunk);
}
END_TEST

/* Link keys: a role holds only its links; nobody can sign as another role. */
START_TEST(test_roles_and_links)
{
    struct cn_auth_exchange ex;
    /* the gateway talks to meta and chunk, never to another gateway or admin */
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_META, now, &ex), 0);
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_CHUNK, now, &ex), 0);
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_GATEWAY, now, &ex), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_ADMIN, now, &ex), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_NONE, now, &ex), CAIRN_E_INVAL);

    /* a gateway role key file holds no meta>meta or chunk>meta key: with it,
     * a gateway cannot make a request a meta would take as from a meta */
    char *text = NULL;
    ck_assert_int_eq(cn_auth_role_key_file(secret, strlen(secret), CN_ROLE_GATEWAY, &text), 0);
    ck_assert_ptr_nonnull(strstr(text, "link gateway>meta "));
    ck_assert_ptr_nonnull(strstr(text, "link gateway>chunk "));
    ck_assert_ptr_null(strstr(text, "meta>meta"));
    ck_assert_ptr_null(strstr(text, "chunk>meta"));
    ck_assert_ptr_null(strstr(text, "meta>chunk"));
    ck_assert_ptr_null(strstr(text, secret));
    struct cn_auth *gwk;
    ck_assert_int_eq(cn_auth_new_from_text(text, strlen(text), CN_ROLE_GATEWAY, 0, &gwk), 0);
    ck_assert_str_eq(cn_auth_key_id(gwk), cn_auth_key_id(gw));
    /* another role's file is refused */
    struct cn_auth *bad = NULL;
    ck_assert_int_eq(cn_auth_new_from_text(text, strlen(text), CN_ROLE_META, 0, &bad),
                     CAIRN_E_INVAL);
    ck_assert_ptr_null(bad);
    /* what it signs verifies at a meta that derived its keys from the secret */
    struct req r = {"POST", "127.0.0.1:7001", "/v1/cmd", {NULL}};
    char sig[CN_AUTH_HEADER_MAX];
    struct cn_auth_exchange sex;
    sign(gwk, CN_ROLE_META, &r, "x", &ex, sig);
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), 0);
    ck_assert_int_eq(sex.from, CN_ROLE_GATEWAY);
    /* editing the role in a gateway's signature does not make it a meta's */
    char forged[CN_AUTH_HEADER_MAX];
    const char *rest = strstr(sig, "/meta, ");
    snprintf(forged, sizeof(forged), "%.*s/meta%s", (int)(strstr(sig, "/gateway") - sig), sig,
             rest);
    ck_assert_int_eq(verify(meta, &r, forged, now, &sex), CAIRN_E_AUTH);
    cn_auth_free(gwk);
    /* a damaged key file is refused */
    char *dup = strdup(text);
    char *link = strstr(dup, "link gateway>meta ") + 18;
    link[64] = '\0'; /* drops everything after the first key */
    ck_assert_int_eq(cn_auth_new_from_text(dup, strlen(dup), CN_ROLE_GATEWAY, 0, &bad),
                     CAIRN_E_INVAL);
    free(dup);
    free(text);
}
END_TEST

/* The key derivation is the documented one (docs/security.md). */
START_TEST(test_derivation_documented)
{
    unsigned char prk[32], k[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), "cairn-internal-v2", 17, (const unsigned char *)secret, strlen(secret), prk,
         &len);
    const char info[] = "cairn link gateway>meta\x01";
    HMAC(EVP_sha256(), prk, 32, (const unsigned char *)info, strlen(info), k, &len);
    char hex[65], line[128];
    cn_hex_encode(k, 32, hex);
    snprintf(line, sizeof(line), "link gateway>meta %s\n", hex);
    char *text = NULL;
    ck_assert_int_eq(cn_auth_role_key_file(secret, strlen(secret), CN_ROLE_GATEWAY, &text), 0);
    ck_assert_ptr_nonnull(strstr(text, line));
    const char id_info[] = "cairn key id\x01";
    HMAC(EVP_sha256(), prk, 32, (const unsigned char *)id_info, strlen(id_info), k, &len);
    cn_hex_encode(k, 4, hex);
    ck_assert_str_eq(cn_auth_key_id(gw), hex);
    free(text);
}
END_TEST

/* Answers: bound to their request, status, X-Cairn-* headers and body. */
START_TEST(test_response)
{
    struct req r = {"POST", "127.0.0.1:7001", "/v1/heartbeat", {NULL}};
    struct cn_auth *chunk;
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_CHUNK, 0, &chunk), 0);
    struct cn_auth_exchange cex, sex;
    char sig[CN_AUTH_HEADER_MAX];
    sign(chunk, CN_ROLE_META, &r, "hb", &cex, sig);
    ck_assert_int_eq(verify(meta, &r, sig, now, &sex), 0);

    const char body[] = "delete fragment 42";
    char tag[CN_AUTH_TAG_HEX], ctag[CN_AUTH_TAG_HEX];
    ck_assert_int_eq(cn_auth_body_tag(&sex, 1, body, strlen(body), tag), 0);
    struct cn_auth_hdrs h;
    cn_auth_hdrs_init(&h);
    cn_auth_hdrs_add_line(&h, "X-Cairn-Request-Id: abc");
    cn_auth_hdrs_add_line(&h, "Content-Type: application/x-protobuf");
    char rsig[CN_AUTH_HEADER_MAX];
    ck_assert_int_eq(cn_auth_server_sign_response(&sex, 200, &h, tag, rsig), 0);

    int covered = -1;
    ck_assert_int_eq(cn_auth_body_tag(&cex, 1, body, strlen(body), ctag), 0);
    ck_assert_int_eq(cn_auth_client_check_response(&cex, 200, &h, rsig, ctag, &covered), 0);
    ck_assert_int_eq(covered, 1);
    /* another status, header, body: refused */
    ck_assert_int_eq(cn_auth_client_check_response(&cex, 204, &h, rsig, ctag, &covered),
                     CAIRN_E_AUTH);
    struct cn_auth_hdrs h2;
    cn_auth_hdrs_init(&h2);
    cn_auth_hdrs_add_line(&h2, "X-Cairn-Request-Id: abd");
    ck_assert_int_eq(cn_auth_client_check_response(&cex, 200, &h2, rsig, ctag, &covered),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_body_tag(&cex, 1, "delete fragment 43", 18, ctag), 0);
    ck_assert_int_eq(cn_auth_client_check_response(&cex, 200, &h, rsig, ctag, &covered),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_client_check_response(&cex, 200, &h, NULL, ctag, &covered),
                     CAIRN_E_AUTH);
    /* the answer to one request is no answer to another */
    struct cn_auth_exchange cex2, sex2;
    char sig2[CN_AUTH_HEADER_MAX];
    sign(chunk, CN_ROLE_META, &r, "hb", &cex2, sig2);
    ck_assert_int_eq(verify(meta, &r, sig2, now, &sex2), 0);
    ck_assert_int_eq(cn_auth_body_tag(&cex2, 1, body, strlen(body), ctag), 0);
    ck_assert_int_eq(cn_auth_client_check_response(&cex2, 200, &h, rsig, ctag, &covered),
                     CAIRN_E_AUTH);
    /* a body the answer does not cover is reported as such */
    ck_assert_int_eq(cn_auth_server_sign_response(&sex2, 200, &h, NULL, rsig), 0);
    ck_assert_ptr_nonnull(strstr(rsig, "Body=unsigned, "));
    ck_assert_int_eq(cn_auth_client_check_response(&cex2, 200, &h, rsig, ctag, &covered), 0);
    ck_assert_int_eq(covered, 0);
    cn_auth_free(chunk);
}
END_TEST

/* Rotation: a daemon accepts a second secret's key, signs with its first. */
START_TEST(test_rotation)
{
    struct cn_auth *gw_new, *meta_both;
    ck_assert_int_eq(cn_auth_new(secret2, strlen(secret2), CN_ROLE_GATEWAY, 0, &gw_new), 0);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &meta_both), 0);
    ck_assert_int_eq(cn_auth_add_accept_text(meta_both, secret2, strlen(secret2)), 0);
    /* the same secret twice, or a third one, is refused */
    ck_assert_int_eq(cn_auth_add_accept_text(meta_both, secret, strlen(secret)), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_auth_add_accept_text(meta_both, "a-third-secret-0123456789", 25),
                     CAIRN_E_INVAL);
    /* a role key file of the new secret is accepted as well */
    char *text = NULL;
    ck_assert_int_eq(cn_auth_role_key_file(secret2, strlen(secret2), CN_ROLE_META, &text), 0);
    struct cn_auth *meta_keyfile;
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &meta_keyfile), 0);
    ck_assert_int_eq(cn_auth_add_accept_text(meta_keyfile, text, strlen(text)), 0);
    free(text);

    struct req r = {"POST", "127.0.0.1:7001", "/v1/cmd", {NULL}};
    struct cn_auth_exchange ex, sex;
    char sig_old[CN_AUTH_HEADER_MAX], sig_new[CN_AUTH_HEADER_MAX];
    sign(gw, CN_ROLE_META, &r, "x", &ex, sig_old);
    sign(gw_new, CN_ROLE_META, &r, "x", &ex, sig_new);
    ck_assert_int_eq(verify(meta, &r, sig_old, now, &sex), 0);
    ck_assert_int_eq(verify(meta, &r, sig_new, now, &sex), CAIRN_E_AUTH);
    ck_assert_int_eq(verify(meta_both, &r, sig_old, now, &sex), 0);
    ck_assert_int_eq(verify(meta_both, &r, sig_new, now, &sex), 0);
    ck_assert_int_eq(verify(meta_keyfile, &r, sig_new, now, &sex), 0);
    /* answers are signed with the key the request came with */
    struct cn_auth_hdrs h;
    cn_auth_hdrs_init(&h);
    char tag[CN_AUTH_TAG_HEX], rsig[CN_AUTH_HEADER_MAX];
    ck_assert_int_eq(cn_auth_body_tag(&sex, 1, "ok", 2, tag), 0);
    ck_assert_int_eq(cn_auth_server_sign_response(&sex, 200, &h, tag, rsig), 0);
    ck_assert_int_eq(cn_auth_client_check_response(&ex, 200, &h, rsig, tag, NULL), 0);
    /* the meta still signs with its first secret */
    ck_assert_str_eq(cn_auth_key_id(meta_both), cn_auth_key_id(meta));
    cn_auth_free(meta_keyfile);
    cn_auth_free(meta_both);
    cn_auth_free(gw_new);
}
END_TEST

START_TEST(test_parser_strict)
{
    struct req r = {"GET", "127.0.0.1:7001", "/v1/status", {NULL}};
    struct cn_auth_exchange ex;
    char sig[CN_AUTH_HEADER_MAX];
    sign(gw, CN_ROLE_META, &r, "", &ex, sig);
    struct cn_auth_parsed p;
    ck_assert_int_eq(cn_auth_parse_request_header(sig, &p), 0);
    char bad[CN_AUTH_HEADER_MAX + 8];
    /* trailing garbage, truncation, uppercase hex, extra spaces, wrong scheme */
    snprintf(bad, sizeof(bad), "%s ", sig);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(sig) - 1, sig);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    snprintf(bad, sizeof(bad), "%s", sig);
    char *s = strstr(bad, "Signature=") + 10;
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'f')
            *s = (char)(*s - 32);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_parse_request_header("CAIRN1-HMAC-SHA256 abc", &p), CAIRN_E_AUTH);
    /* the time with a leading zero: the same MAC, another spelling (fuzz) */
    snprintf(bad, sizeof(bad), "%.*s0%s", (int)(strstr(sig, "Time=") + 5 - sig), sig,
             strstr(sig, "Time=") + 5);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_parse_request_header("", &p), CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_parse_request_header(NULL, &p), CAIRN_E_AUTH);
    snprintf(bad, sizeof(bad), "%s", sig);
    memcpy(strstr(bad, "/gateway/") + 1, "gatewaz", 7);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    snprintf(bad, sizeof(bad), "%s", sig);
    memcpy(strstr(bad, ", Nonce="), ",  Nonce", 8);
    ck_assert_int_eq(cn_auth_parse_request_header(bad, &p), CAIRN_E_AUTH);
    char body[33], hex[65];
    ck_assert_int_eq(cn_auth_parse_response_header("Body=unsigned, Signature=0123", body, hex),
                     CAIRN_E_AUTH);
    ck_assert_int_eq(cn_auth_parse_response_header(NULL, body, hex), CAIRN_E_AUTH);
    /* a request with CR/LF in a signed header value cannot be signed */
    struct req crlf = {"GET", "127.0.0.1:7001", "/v1/status", {NULL}};
    struct built b;
    req_build(&crlf, &b);
    cn_auth_hdrs_add(&b.hdrs, "X-Cairn-From", 12, "a\r\nb", 4);
    ck_assert_int_eq(cn_auth_client_begin(gw, CN_ROLE_META, now, &ex), 0);
    ck_assert_int_eq(cn_auth_client_sign(&ex, &b.msg, NULL, sig), CAIRN_E_INVAL);
    /* a host or target with spaces neither */
    struct req sp = {"GET", "127.0.0.1:7001 x", "/v1/status", {NULL}};
    req_build(&sp, &b);
    ck_assert_int_eq(cn_auth_client_sign(&ex, &b.msg, NULL, sig), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_secret_rules)
{
    struct cn_auth *a = NULL;
    ck_assert_int_eq(cn_auth_new("short", 5, CN_ROLE_META, 0, &a), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_NONE, 0, &a), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_auth_new(secret, strlen(secret), CN_ROLE_LEGACY, 0, &a), CAIRN_E_INVAL);
    /* trailing whitespace of a text is not part of the secret */
    char padded[64];
    snprintf(padded, sizeof(padded), "%s\n  \n", secret);
    ck_assert_int_eq(cn_auth_new_from_text(padded, strlen(padded), CN_ROLE_META, 0, &a), 0);
    ck_assert_str_eq(cn_auth_key_id(a), cn_auth_key_id(meta));
    cn_auth_free(a);
    /* files: missing, fine, a role key file for another role */
    char path[] = "/tmp/cn_auth_secret_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, secret, strlen(secret)), (ssize_t)strlen(secret));
    close(fd);
    ck_assert_int_eq(cn_auth_open(path, NULL, CN_ROLE_CHUNK, 0, false, "t", &a), 0);
    ck_assert_int_eq(cn_auth_role(a), CN_ROLE_CHUNK);
    cn_auth_free(a);
    ck_assert_int_eq(cn_auth_open(path, path, CN_ROLE_CHUNK, 0, false, "t", &a), CAIRN_E_INVAL);
    ck_assert_ptr_null(a);
    unlink(path);
    ck_assert_int_eq(cn_auth_open(path, NULL, CN_ROLE_CHUNK, 0, false, "t", &a), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(cn_auth_open("", NULL, CN_ROLE_CHUNK, 0, false, "t", &a), CAIRN_E_INVAL);
}
END_TEST

/* ---- cn_replay ---- */

static void nonce_of(uint32_t i, uint8_t n[16])
{
    memset(n, 0, 16);
    memcpy(n, &i, sizeof(i));
}

START_TEST(test_replay_cache)
{
    struct cn_replay *r;
    const int64_t window = 1000, t0 = 50000;
    ck_assert_int_eq(cn_replay_new(16, window, t0, &r), 0);
    uint8_t n[16];
    nonce_of(1, n);
    /* dated before the cache existed (a restarted server): refused */
    ck_assert_int_eq(cn_replay_check(r, n, t0 - 1, t0), CAIRN_E_RANGE);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 1, t0 + 1), 0);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 1, t0 + 2), CAIRN_E_EXISTS);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 5, t0 + 5), CAIRN_E_EXISTS); /* other time */
    /* full: the oldest goes and the floor rises to its time */
    for (uint32_t i = 2; i <= 16; i++) {
        nonce_of(i, n);
        ck_assert_int_eq(cn_replay_check(r, n, t0 + 10 + i, t0 + 10), 0);
    }
    ck_assert_uint_eq(cn_replay_count(r), 16);
    nonce_of(100, n);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 100, t0 + 100), 0);
    ck_assert_int_eq(cn_replay_floor(r), t0 + 1);
    nonce_of(1, n); /* forgotten, but at the floor: still refused */
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 1, t0 + 100), CAIRN_E_RANGE);
    /* entries out of the window leave */
    nonce_of(200, n);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 5000, t0 + 5000), 0);
    ck_assert_uint_eq(cn_replay_count(r), 1);
    ck_assert_int_eq(cn_replay_check(r, n, t0 + 5000, t0 + 5001), CAIRN_E_EXISTS);
    cn_replay_free(r);
    ck_assert_int_eq(cn_replay_new(8, window, t0, &r), CAIRN_E_INVAL);
}
END_TEST

/* Many entries, random order of times: never a false accept of a seen
 * nonce while it is remembered, the heap and chains stay consistent. */
START_TEST(test_replay_load)
{
    struct cn_replay *r;
    ck_assert_int_eq(cn_replay_new(1024, 10000, 0, &r), 0);
    uint8_t n[16];
    int64_t t = 1;
    for (uint32_t i = 0; i < 20000; i++) {
        nonce_of(i, n);
        int64_t when = t + (int64_t)(i * 7919 % 97);
        int rc = cn_replay_check(r, n, when, t);
        ck_assert(rc == 0 || rc == CAIRN_E_RANGE);
        if (rc == 0)
            ck_assert_int_eq(cn_replay_check(r, n, when, t), CAIRN_E_EXISTS);
        if (i % 16 == 0)
            t++;
    }
    ck_assert_uint_le(cn_replay_count(r), 1024);
    cn_replay_free(r);
}
END_TEST

/* ---- cn_roles ---- */

START_TEST(test_roles_table)
{
    const char *P = "POST", *G = "GET";
    /* replicas only: Paxos */
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_META, P, CN_ROUTE_PAXOS_MSG));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_GATEWAY, P, CN_ROUTE_PAXOS_MSG));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_CHUNK, P, CN_ROUTE_PAXOS_MSG));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_GATEWAY, P, CN_ROUTE_PAXOS_SNAPSHOT));
    /* repair: not the gateway's, not the chunkserver's */
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_GATEWAY, P, CN_ROUTE_MD_REPAIR));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_CHUNK, P, CN_ROUTE_MD_REPAIR));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_GATEWAY, P, CN_ROUTE_CS_REBUILD));
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_META, P, CN_ROUTE_CS_REBUILD));
    /* heartbeats come from chunkservers only */
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_CHUNK, P, CN_ROUTE_MD_HEARTBEAT));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_GATEWAY, P, CN_ROUTE_MD_HEARTBEAT));
    /* fragments: written by gateways, read by chunkservers (rebuild) too */
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_GATEWAY, "PUT", "/v1/fragment/ab/0"));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_CHUNK, "PUT", "/v1/fragment/ab/0"));
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_CHUNK, "HEAD", "/v1/fragment/ab/0"));
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_NONE, G, CN_ROUTE_MD_STATUS));
    ck_assert(cn_roles_allowed(NULL, CN_ROLE_LEGACY, P, CN_ROUTE_PAXOS_MSG));
    /* no entry: refused, and no role serves it */
    ck_assert(!cn_roles_allowed(NULL, CN_ROLE_ADMIN, G, "/v1/nothing"));
    ck_assert_int_eq(cn_roles_served_by(NULL, G, "/v1/nothing"), CN_ROLE_NONE);
    ck_assert_int_eq(cn_roles_served_by(NULL, G, "/v1/fragment/ab/1?range=1"), CN_ROLE_CHUNK);
    ck_assert_int_eq(cn_roles_served_by(NULL, P, "/v1/cmd"), CN_ROLE_META);

    /* the operations inside /v1/cmd: a chunkserver reports, nothing more */
    ck_assert(cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_GARBAGE_ACK));
    ck_assert(cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_REGISTER_CS));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_PUT_OBJECT));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_DELETE_BUCKET));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_CREATE_KEY));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_SET_CS_STATE));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_GATEWAY, MD__COMMAND__OP_SET_REPLICA));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_GATEWAY, MD__COMMAND__OP_CREATE_KEY));
    ck_assert(cn_roles_command_allowed(CN_ROLE_GATEWAY, MD__COMMAND__OP_PUT_OBJECT));
    ck_assert(cn_roles_command_allowed(CN_ROLE_ADMIN, MD__COMMAND__OP_CREATE_KEY));
    ck_assert(!cn_roles_query_allowed(CN_ROLE_CHUNK, MD__QUERY__Q_GET_ACCESS_KEY));
    ck_assert(cn_roles_query_allowed(CN_ROLE_GATEWAY, MD__QUERY__Q_GET_ACCESS_KEY));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_GATEWAY, 9999));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_NONE, MD__COMMAND__OP_NOOP));
    /* the bulk loader: the operator's tools only */
    ck_assert(cn_roles_command_allowed(CN_ROLE_ADMIN, MD__COMMAND__OP_LOAD_OBJECTS));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_GATEWAY, MD__COMMAND__OP_LOAD_OBJECTS));
    ck_assert(!cn_roles_command_allowed(CN_ROLE_CHUNK, MD__COMMAND__OP_LOAD_OBJECTS));

    /* every operation of the schema is classified (a new one must be) */
    const ProtobufCFieldDescriptor *f = md__command__descriptor.fields;
    for (unsigned i = 0; i < md__command__descriptor.n_fields; i++)
        if (f[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            ck_assert_msg(cn_roles_command_known(f[i].id), "command op %s not in cn_roles.c",
                          f[i].name);
    f = md__query__descriptor.fields;
    for (unsigned i = 0; i < md__query__descriptor.n_fields; i++)
        if (f[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            ck_assert_msg(cn_roles_query_known(f[i].id), "query %s not in cn_roles.c", f[i].name);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sign_verify);
    tcase_add_test(tc, test_altered);
    tcase_add_test(tc, test_roles_and_links);
    tcase_add_test(tc, test_derivation_documented);
    tcase_add_test(tc, test_response);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_parser_strict);
    tcase_add_test(tc, test_secret_rules);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("replay");
    tcase_add_test(tr, test_replay_cache);
    tcase_add_test(tr, test_replay_load);
    suite_add_tcase(s, tr);
    TCase *to = tcase_create("roles");
    tcase_add_test(to, test_roles_table);
    suite_add_tcase(s, to);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
