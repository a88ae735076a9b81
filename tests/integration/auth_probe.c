/* auth-probe: makes internal requests as a daemon of a given role would,
 * for iauth_test.sh to send, replay and alter with curl.
 *
 *   auth-probe sign SECRET_FILE ROLE METHOD URL [--to ROLE] [-H 'Name: value']...
 *              [--body FILE | --stream FILE OUT]
 *       prints the request's headers, one a line: Host, every -H, and
 *       X-Cairn-Signature, signed as ROLE (with the cluster secret or ROLE's
 *       key file) for the daemon serving URL's route (or --to). --body FILE
 *       signs FILE's bytes as a buffered body; --stream FILE OUT signs them
 *       as a streamed one (Body=suffix) and writes FILE + its 16-byte tag to
 *       OUT, the bytes to send.
 *   auth-probe sign-response SECRET_FILE ROLE REQUEST_SIGNATURE STATUS BODY_FILE
 *       prints the X-Cairn-Response-Signature value a daemon of ROLE answers
 *       the request whose X-Cairn-Signature value is REQUEST_SIGNATURE with:
 *       STATUS, no X-Cairn-* header, the body in BODY_FILE (a fake daemon
 *       of iauth_test.sh: genuine with the cluster secret, forged with
 *       another).
 *   auth-probe create-bucket NAME OUT
 *       writes an md.Command creating bucket NAME to OUT.
 *   auth-probe load-objects BUCKET KEY OUT
 *       writes an md.Command loading one 5-byte object BUCKET/KEY
 *       ("probe") with LoadObjects (the bulk loader's command) to OUT.
 *   auth-probe hb-reply-delete GROUP_HEX INDEX OUT
 *       writes a cl.HeartbeatReply ordering fragment INDEX of group
 *       GROUP_HEX deleted to OUT.
 * Exit status 0, or 1 with a message. */
#include "cluster.pb-c.h"
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "md_cmd.h"
#include "md_cmd_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HDRS 16

static int die(const char *what, int rc)
{
    fprintf(stderr, "auth-probe: %s: %s\n", what, rc ? cairn_strerror(rc) : "bad arguments");
    return 1;
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return CAIRN_E_IO;
    int ok = fwrite(a, 1, alen, f) == alen && fwrite(b, 1, blen, f) == blen;
    return fclose(f) == 0 && ok ? 0 : CAIRN_E_IO;
}

/* "http://h:p/path?q" into host "h:p" and target "/path?q". */
static int split_url(const char *url, char *host, size_t hcap, const char **target)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= hcap || p[n] != '/')
        return CAIRN_E_INVAL;
    memcpy(host, p, n);
    host[n] = '\0';
    *target = p + n;
    return 0;
}

static int cmd_sign(int argc, char **argv)
{
    if (argc < 6)
        return die("sign SECRET_FILE ROLE METHOD URL ...", 0);
    enum cn_role role, to = CN_ROLE_NONE;
    if (cn_role_parse(argv[3], strlen(argv[3]), &role) != 0)
        return die("role", CAIRN_E_INVAL);
    const char *method = argv[4], *url = argv[5], *target;
    const char *hdrs[MAX_HDRS];
    size_t n_hdrs = 0;
    const char *body_file = NULL, *stream_out = NULL;
    for (int i = 6; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            if (cn_role_parse(argv[i + 1], strlen(argv[i + 1]), &to) != 0)
                return die("--to", CAIRN_E_INVAL);
            i++;
        } else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc && n_hdrs < MAX_HDRS) {
            hdrs[n_hdrs++] = argv[++i];
        } else if (strcmp(argv[i], "--body") == 0 && i + 1 < argc) {
            body_file = argv[++i];
        } else if (strcmp(argv[i], "--stream") == 0 && i + 2 < argc) {
            body_file = argv[++i];
            stream_out = argv[++i];
        } else {
            return die(argv[i], 0);
        }
    }
    char host[256];
    if (split_url(url, host, sizeof(host), &target) < 0)
        return die("URL", CAIRN_E_INVAL);
    if (to == CN_ROLE_NONE)
        to = cn_roles_served_by(NULL, method, target);
    struct cn_auth *auth;
    int rc = cn_auth_open(argv[2], NULL, role, 0, false, "auth-probe", &auth);
    if (rc < 0)
        return die(argv[2], rc);
    char *body = NULL;
    size_t len = 0;
    if (body_file && (rc = cn_read_file(body_file, 64u << 20, &body, &len)) < 0)
        return die(body_file, rc);
    struct cn_auth_hdrs signed_hdrs;
    cn_auth_hdrs_init(&signed_hdrs);
    for (size_t i = 0; i < n_hdrs; i++)
        cn_auth_hdrs_add_line(&signed_hdrs, hdrs[i]);
    struct cn_auth_exchange ex;
    char tag[CN_AUTH_TAG_HEX], sig[CN_AUTH_HEADER_MAX];
    struct cn_auth_msg msg = {method, host, target, &signed_hdrs};
    if ((rc = cn_auth_client_begin(auth, to, cn_wall_ms(), &ex)) < 0)
        return die("this role has no key for that daemon", rc);
    if (stream_out) {
        struct cn_auth_mac m;
        unsigned char raw[CN_AUTH_SUFFIX_LEN];
        if ((rc = cn_auth_mac_begin(&ex, 0, &m)) < 0 ||
            (rc = cn_auth_mac_update(&m, body ? body : "", len)) < 0 ||
            (rc = cn_auth_mac_end_raw(&m, raw)) < 0 ||
            (rc = cn_auth_client_sign(&ex, &msg, NULL, sig)) < 0 ||
            (rc = write_file(stream_out, body ? body : "", len, raw, sizeof(raw))) < 0)
            return die("stream", rc);
    } else if ((rc = cn_auth_body_tag(&ex, 0, body ? body : "", len, tag)) < 0 ||
               (rc = cn_auth_client_sign(&ex, &msg, tag, sig)) < 0) {
        return die("sign", rc);
    }
    printf("Host: %s\n", host);
    for (size_t i = 0; i < n_hdrs; i++)
        printf("%s\n", hdrs[i]);
    printf("%s: %s\n", CN_HDR_SIGNATURE, sig);
    free(body);
    cn_auth_free(auth);
    return 0;
}

static int cmd_sign_response(int argc, char **argv)
{
    if (argc != 7)
        return die("sign-response SECRET_FILE ROLE REQUEST_SIGNATURE STATUS BODY_FILE", 0);
    enum cn_role role;
    if (cn_role_parse(argv[3], strlen(argv[3]), &role) != 0)
        return die("role", CAIRN_E_INVAL);
    struct cn_auth *auth;
    int rc = cn_auth_open(argv[2], NULL, role, 0, false, "auth-probe", &auth);
    if (rc < 0)
        return die(argv[2], rc);
    struct cn_auth_parsed p;
    if (cn_auth_parse_request_header(argv[4], &p) < 0)
        return die("REQUEST_SIGNATURE", CAIRN_E_AUTH);
    /* The exchange as the receiver of that request holds it (the fake does
     * not check the request: it answers whatever it got). */
    struct cn_auth_exchange ex = {
        .auth = auth, .gen = 0, .from = p.from, .to = p.to, .time_ms = p.time_ms};
    memcpy(ex.nonce, p.nonce, sizeof(ex.nonce));
    memcpy(ex.signature, p.signature, sizeof(ex.signature));
    char *body = NULL;
    size_t len = 0;
    if ((rc = cn_read_file(argv[6], 16u << 20, &body, &len)) < 0)
        return die(argv[6], rc);
    struct cn_auth_hdrs none;
    cn_auth_hdrs_init(&none);
    char tag[CN_AUTH_TAG_HEX], sig[CN_AUTH_HEADER_MAX];
    if ((rc = cn_auth_body_tag(&ex, 1, body ? body : "", len, tag)) < 0 ||
        (rc = cn_auth_server_sign_response(&ex, (unsigned)atoi(argv[5]), &none, tag, sig)) < 0)
        return die("sign-response", rc);
    printf("%s\n", sig);
    free(body);
    cn_auth_free(auth);
    return 0;
}

static int cmd_create_bucket(int argc, char **argv)
{
    if (argc != 4)
        return die("create-bucket NAME OUT", 0);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_create_bucket(1, 1, argv[2], "probe", NULL, 0, cn_wall_ms(), &cmd, &len);
    if (rc == 0)
        rc = write_file(argv[3], cmd, len, "", 0);
    free(cmd);
    return rc < 0 ? die("create-bucket", rc) : 0;
}

static int cmd_load_objects(int argc, char **argv)
{
    if (argc != 5)
        return die("load-objects BUCKET KEY OUT", 0);
    struct md_load_object o = {.key = argv[3],
                               .data = "probe",
                               .len = 5,
                               .etag = "0f1e4f4b5c1e3b1b2fb1b4d0e0b6f0c1",
                               .mtime_ms = cn_wall_ms()};
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = md_cmd_load_objects(1, 1, argv[2], NULL, &o, 1, &cmd, &len);
    if (rc == 0)
        rc = write_file(argv[4], cmd, len, "", 0);
    free(cmd);
    return rc < 0 ? die("load-objects", rc) : 0;
}

static int cmd_hb_reply(int argc, char **argv)
{
    if (argc != 5)
        return die("hb-reply-delete GROUP_HEX INDEX OUT", 0);
    uint8_t gid[16];
    if (strlen(argv[2]) != 32 || cn_hex_decode(argv[2], gid, sizeof(gid)) < 0)
        return die("GROUP_HEX", CAIRN_E_INVAL);
    uint32_t idx = (uint32_t)strtoul(argv[3], NULL, 10);
    Cl__Deletion d = CL__DELETION__INIT;
    d.seq = 1;
    d.group_id.data = gid;
    d.group_id.len = sizeof(gid);
    d.indices = &idx;
    d.n_indices = 1;
    Cl__Deletion *ds[1] = {&d};
    Cl__HeartbeatReply r = CL__HEARTBEAT_REPLY__INIT;
    r.deletions = ds;
    r.n_deletions = 1;
    r.down_after_ms = 10000;
    uint8_t buf[256];
    size_t len = cl__heartbeat_reply__pack(&r, buf);
    int rc = write_file(argv[4], buf, len, "", 0);
    return rc < 0 ? die("hb-reply-delete", rc) : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "sign-response") == 0)
        return cmd_sign_response(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "create-bucket") == 0)
        return cmd_create_bucket(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "load-objects") == 0)
        return cmd_load_objects(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "hb-reply-delete") == 0)
        return cmd_hb_reply(argc, argv);
    fprintf(stderr,
            "usage: auth-probe sign|sign-response|create-bucket|hb-reply-delete ... (see the "
            "source)\n");
    return 2;
}
