/* Harness cn_auth: internal request authentication (common/cn_auth.c) — the
 * X-Cairn-Signature and X-Cairn-Response-Signature parsers, the verifier,
 * the signed-header set, body tags and the role key file parser.
 *
 * Input (one field a line): the X-Cairn-Signature value, the
 * X-Cairn-Response-Signature value, method, Host, request target, then
 * header lines up to an empty line, then the body (the rest; also read as
 * a role key file). Oracles: a parsed header formats back to the same bytes
 * (the parsers are canonical, so a signature has one spelling); the fuzzed
 * signature never verifies at the fuzzed message (it would need the key);
 * what a gateway signs over the fuzzed message verifies at a meta exactly
 * when signing succeeded, and stops verifying when the target, the Host or
 * a signed header value changes; a body's tag is the same in one piece or
 * in two; an answer signed for the message verifies, and not with another
 * status. */
#include "fuzz.h"

#include "cn_auth.h"
#include "cn_error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char secret[] = "fuzz-cluster-secret-0123456789abcdef";
static const int64_t now = 1795672800000;

/* Built once (reachable from statics: LeakSanitizer stays quiet). */
static struct cn_auth *meta, *gw;

static void init_once(void)
{
    if (meta)
        return;
    if (cn_auth_new(secret, strlen(secret), CN_ROLE_META, 0, &meta) != 0 ||
        cn_auth_new(secret, strlen(secret), CN_ROLE_GATEWAY, 0, &gw) != 0)
        abort();
}

static void check_parsers(const char *req_hdr, const char *resp_hdr)
{
    struct cn_auth_parsed p;
    if (cn_auth_parse_request_header(req_hdr, &p) == 0) {
        char back[CN_AUTH_HEADER_MAX + 64];
        snprintf(back, sizeof(back),
                 "%s Credential=%s/%s/%s, Time=%" PRId64 ", Nonce=%s, Body=%s, Signature=%s",
                 CN_AUTH_SCHEME, p.key_id, cn_role_name(p.from), cn_role_name(p.to), p.time_ms,
                 p.nonce, p.body, p.signature);
        fuzz_check(strcmp(back, req_hdr) == 0, "request header \"%s\" parses as \"%s\"", req_hdr,
                   back);
    }
    char body[33], sig[65];
    if (cn_auth_parse_response_header(resp_hdr, body, sig) == 0) {
        char back[128];
        snprintf(back, sizeof(back), "Body=%s, Signature=%s", body, sig);
        fuzz_check(strcmp(back, resp_hdr) == 0, "response header \"%s\" parses as \"%s\"", resp_hdr,
                   back);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    struct fuzz_in in;
    fuzz_in_init(&in, data, size);
    const char *req_hdr = fuzz_line(&in, NULL);
    const char *resp_hdr = fuzz_line(&in, NULL);
    const char *method = fuzz_line(&in, NULL);
    const char *host = fuzz_line(&in, NULL);
    const char *target = fuzz_line(&in, NULL);
    struct cn_auth_hdrs hdrs;
    cn_auth_hdrs_init(&hdrs);
    const char *first_signed = NULL;
    for (int i = 0; i < 40; i++) {
        const char *line = fuzz_line(&in, NULL);
        if (!line[0])
            break;
        size_t before = hdrs.n;
        cn_auth_hdrs_add_line(&hdrs, line);
        if (hdrs.n > before && !first_signed)
            first_signed = line;
    }
    size_t body_len = 0;
    const char *body = fuzz_rest(&in, &body_len);

    check_parsers(req_hdr, resp_hdr);

    /* The fuzzed signature at the fuzzed message: never authentic. */
    struct cn_auth_msg msg = {method, host, target, &hdrs};
    struct cn_auth_exchange sex;
    const char *why = NULL;
    fuzz_check(cn_auth_server_verify(meta, &msg, req_hdr, now, &sex, &why) == CAIRN_E_AUTH,
               "a fuzzed signature verified");

    /* What a gateway signs over the message. */
    struct cn_auth_exchange cex;
    fuzz_check(cn_auth_client_begin(gw, CN_ROLE_META, now, &cex) == 0, "begin");
    char tag[CN_AUTH_TAG_HEX], tag2[CN_AUTH_TAG_HEX], sig[CN_AUTH_HEADER_MAX];
    fuzz_check(cn_auth_body_tag(&cex, 0, body, body_len, tag) == 0, "body tag");
    struct cn_auth_mac m;
    size_t half = body_len / 2;
    fuzz_check(cn_auth_mac_begin(&cex, 0, &m) == 0, "mac begin");
    fuzz_check(cn_auth_mac_update(&m, body, half) == 0 &&
                   cn_auth_mac_update(&m, body + half, body_len - half) == 0 &&
                   cn_auth_mac_end(&m, tag2) == 0,
               "mac in pieces");
    fuzz_check(cn_auth_tag_equal(tag, tag2), "tag in one piece %s, in two %s", tag, tag2);
    if (cn_auth_client_sign(&cex, &msg, tag, sig) == 0) {
        fuzz_check(cn_auth_server_verify(meta, &msg, sig, now, &sex, &why) == 0,
                   "signed message does not verify: %s", why);
        fuzz_check(sex.from == CN_ROLE_GATEWAY && cn_auth_tag_equal(sex.body_tag, tag), "fields");
        /* altered target, Host, a signed header's value: refused */
        char *t2 = fuzz_alloc(&in, strlen(target) + 1);
        memcpy(t2, target, strlen(target) + 1);
        t2[strlen(t2) - 1] = t2[strlen(t2) - 1] == 'a' ? 'b' : 'a';
        struct cn_auth_msg alt = msg;
        alt.target = t2;
        fuzz_check(cn_auth_server_verify(meta, &alt, sig, now, &sex, &why) == CAIRN_E_AUTH,
                   "altered target verified");
        char *h2 = fuzz_alloc(&in, strlen(host) + 1);
        memcpy(h2, host, strlen(host) + 1);
        h2[0] = h2[0] == '1' ? '2' : '1';
        alt = msg;
        alt.host = h2;
        fuzz_check(cn_auth_server_verify(meta, &alt, sig, now, &sex, &why) == CAIRN_E_AUTH,
                   "altered host verified");
        if (hdrs.n > 0) {
            struct cn_auth_hdrs h3 = hdrs;
            char *v = fuzz_alloc(&in, h3.h[0].value_len + 1);
            memcpy(v, h3.h[0].value, h3.h[0].value_len);
            v[h3.h[0].value_len] = 'x';
            h3.h[0].value = v;
            h3.h[0].value_len++;
            alt = msg;
            alt.hdrs = &h3;
            fuzz_check(cn_auth_server_verify(meta, &alt, sig, now, &sex, &why) == CAIRN_E_AUTH,
                       "altered header %s verified", first_signed);
        }
        /* the answer, signed by the meta for this request */
        fuzz_check(cn_auth_server_verify(meta, &msg, sig, now, &sex, &why) == 0, "again");
        char rtag[CN_AUTH_TAG_HEX], rsig[CN_AUTH_HEADER_MAX];
        fuzz_check(cn_auth_body_tag(&sex, 1, body, body_len, rtag) == 0, "answer tag");
        if (cn_auth_server_sign_response(&sex, 200, &hdrs, rtag, rsig) == 0) {
            int covered = 0;
            fuzz_check(cn_auth_client_check_response(&cex, 200, &hdrs, rsig, rtag, &covered) == 0 &&
                           covered,
                       "answer does not verify");
            fuzz_check(cn_auth_client_check_response(&cex, 201, &hdrs, rsig, rtag, &covered) ==
                           CAIRN_E_AUTH,
                       "answer verifies with another status");
        }
    }
    /* The rest as a role key file (or a secret). */
    struct cn_auth *k = NULL;
    if (cn_auth_new_from_text(body, body_len, CN_ROLE_CHUNK, 0, &k) == 0)
        fuzz_check(strlen(cn_auth_key_id(k)) == 8, "key id %s", cn_auth_key_id(k));
    cn_auth_free(k);
    fuzz_in_free(&in);
    return 0;
}
