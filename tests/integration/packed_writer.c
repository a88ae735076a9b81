/* packed-writer: a minimal writer of one packed chunk group (issue #17),
 * standing in for a gateway's packer against real cairn-meta and cairn-chunk
 * daemons, so the metadata half (OpenGroup, CommitPacked, the leader's
 * sealing worker) is tested with real appends on real chunkservers:
 *
 *   packed-writer OPTS open                     place k+m chunkservers, OpenGroup;
 *                                               prints the group id
 *   packed-writer OPTS append GROUP BUCKET KEY FILE [KEY FILE ...]
 *                                               creates BUCKET if need be, appends
 *                                               the files (each from a new
 *                                               stripe, zero-padded) to every
 *                                               fragment, then one CommitPacked;
 *                                               prints each key's status
 *   packed-writer OPTS delete BUCKET KEY        DeleteObject
 *
 * and then exits without sealing, as a gateway that died would. OPTS:
 * --meta URLS --cluster-secret-file F [--scheme K+M] [--unit BYTES].
 * Exit 0 on success, 1 on failure, 2 on a bad command line. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "cn_wire.h"
#include "ec_codec.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAGS 32
#define MAX_OBJS  64

static char *meta[16];
static size_t n_meta;
static uint32_t K = 4, M = 2, UNIT = 4096;

static int die(const char *what, int rc)
{
    fprintf(stderr, "packed-writer: %s: %s\n", what, cairn_strerror(rc));
    return 1;
}

static int commit(struct md_client *mc, uint64_t seq, uint8_t *cmd, size_t len, Md__Result **out)
{
    uint8_t *res;
    size_t rl;
    int rc = md_client_command(mc, seq, cmd, len, &res, &rl);
    free(cmd);
    if (rc)
        return rc;
    *out = md_result_decode(res, rl);
    free(res);
    return *out ? 0 : CAIRN_E_PROTO;
}

static int do_open(struct md_client *mc)
{
    struct md_placement pl[MAX_FRAGS];
    uint32_t n = 0;
    int rc = md_client_place(mc, K + M, K + M, NULL, 0, pl, &n);
    if (rc || n != K + M)
        return die("placement", rc ? rc : CAIRN_E_UNAVAIL);
    uint64_t cs[MAX_FRAGS];
    for (uint32_t i = 0; i < n; i++)
        cs[i] = pl[i].id;
    struct md_group_desc g = {.k = K, .m = M, .unit = UNIT, .fragment_cs = cs};
    if ((rc = cn_random_bytes(g.id, 16)))
        return die("group id", rc);
    uint8_t *cmd;
    size_t len;
    uint64_t seq = md_client_next_seq(mc);
    if ((rc = md_cmd_open_group(md_client_id(mc), seq, &g, cn_wall_ms(), "packed-writer",
                                "STANDARD", &cmd, &len)))
        return die("build", rc);
    Md__Result *r;
    if ((rc = commit(mc, seq, cmd, len, &r)))
        return die("OpenGroup", rc);
    rc = r->status;
    md_result_free(r);
    if (rc)
        return die("OpenGroup refused", rc);
    char hex[33];
    cn_hex_encode(g.id, 16, hex);
    printf("%s\n", hex);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

/* POST ?append=OFFSET of body to fragment index on the chunkserver at addr. */
static int append(struct cn_http_client *h, const char *addr, const uint8_t gid[16], uint32_t index,
                  uint64_t offset, const uint8_t *body, size_t len)
{
    char target[CN_WIRE_FRAGMENT_TARGET_MAX + 40];
    int rc = cn_wire_fragment_target(target, CN_WIRE_FRAGMENT_TARGET_MAX, gid, index);
    if (rc)
        return rc;
    size_t tl = strlen(target);
    snprintf(target + tl, sizeof(target) - tl, "?%s=%" PRIu64, CN_ARG_CS_APPEND, offset);
    char url[160], hk[32], hm[32], hu[32];
    snprintf(url, sizeof(url), "http://%s", addr);
    snprintf(hk, sizeof(hk), "%s: %u", CN_HDR_K, K);
    snprintf(hm, sizeof(hm), "%s: %u", CN_HDR_M, M);
    snprintf(hu, sizeof(hu), "%s: %u", CN_HDR_UNIT, UNIT);
    const char *hdrs[] = {hk, hm, hu, "Content-Type: application/octet-stream", NULL};
    struct cn_http_request req = {.method = "POST",
                                  .base_url = url,
                                  .target = target,
                                  .headers = hdrs,
                                  .body = body,
                                  .body_len = len};
    struct cn_http_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = cn_http_client_do(h, &req, &resp);
    if (rc == 0 && resp.status != 200) {
        fprintf(stderr, "packed-writer: append %u to %s: HTTP %d\n", index, addr, resp.status);
        rc = CAIRN_E_IO;
    }
    cn_http_response_clear(&resp);
    return rc;
}

static int do_append(struct md_client *mc, const struct cn_auth *auth, const char *group,
                     const char *bucket, int n_args, char **args)
{
    /* the bucket (an existing one is fine) */
    uint8_t *bc;
    size_t bl;
    uint64_t bseq = md_client_next_seq(mc);
    int brc =
        md_cmd_create_bucket(md_client_id(mc), bseq, bucket, "", "", 0, cn_wall_ms(), &bc, &bl);
    Md__Result *br;
    if (brc || (brc = commit(mc, bseq, bc, bl, &br)))
        return die("create bucket", brc);
    brc = br->status;
    md_result_free(br);
    if (brc && brc != CAIRN_E_EXISTS)
        return die("create bucket", brc);
    uint8_t gid[16];
    if (strlen(group) != 32 || cn_hex_decode(group, gid, 16) != 0)
        return die("group id", CAIRN_E_INVAL);
    Md__QueryResult *gr;
    int rc = md_client_get_group(mc, gid, &gr);
    if (rc || !gr->group || !gr->group->packed)
        return die("GetGroup", rc ? rc : CAIRN_E_NOTFOUND);
    const Md__ChunkGroup *g = gr->group->group;
    K = g->k;
    M = g->m;
    UNIT = g->unit;
    uint64_t old_len = g->data_length, stripe = (uint64_t)K * UNIT;
    /* the chunkservers' addresses */
    char addr[MAX_FRAGS][128];
    uint8_t *q;
    size_t ql;
    Md__QueryResult *cl = NULL;
    if ((rc = md_q_list_chunkservers(&q, &ql)))
        return die("query", rc);
    uint8_t *res;
    size_t rl;
    rc = md_client_read(mc, q, ql, &res, &rl);
    free(q);
    if (rc || !(cl = md_query_result_decode(res, rl)))
        return die("chunkservers", rc ? rc : CAIRN_E_PROTO);
    free(res);
    for (uint32_t f = 0; f < K + M; f++) {
        addr[f][0] = 0;
        for (size_t j = 0; j < cl->n_chunkservers; j++)
            if (cl->chunkservers[j]->id == g->fragment_cs[f])
                snprintf(addr[f], sizeof(addr[f]), "%s", cl->chunkservers[j]->address);
    }
    md__query_result__free_unpacked(cl, NULL);
    /* the batch: each file from a stripe boundary */
    struct md_packed_desc d[MAX_OBJS];
    int n = 0;
    uint64_t total = 0;
    uint8_t *files[MAX_OBJS];
    size_t lens[MAX_OBJS];
    for (int i = 0; i + 1 < n_args && n < MAX_OBJS; i += 2, n++) {
        files[n] = read_file(args[i + 1], &lens[n]);
        if (!files[n] || !lens[n])
            return die(args[i + 1], CAIRN_E_IO);
        memset(&d[n], 0, sizeof(d[n]));
        d[n].bucket = bucket;
        d[n].key = args[i];
        d[n].group_offset = old_len + total;
        d[n].obj.size = lens[n];
        d[n].obj.etag = "packed-writer";
        d[n].obj.mtime_ms = cn_wall_ms();
        total += (lens[n] + stripe - 1) / stripe * stripe;
    }
    uint8_t *data = calloc(1, total ? total : 1);
    uint64_t stripes = total / stripe;
    uint8_t *frag[MAX_FRAGS];
    for (uint32_t f = 0; f < K + M; f++)
        frag[f] = calloc(1, stripes * UNIT + 1);
    for (int i = 0; i < n; i++) {
        memcpy(data + (d[i].group_offset - old_len), files[i], lens[i]);
        free(files[i]);
    }
    ec_codec *codec;
    if ((rc = ec_codec_new((int)K, (int)M, &codec)))
        return die("codec", rc);
    for (uint64_t s = 0; s < stripes; s++) {
        const uint8_t *dp[MAX_FRAGS];
        uint8_t *pp[MAX_FRAGS];
        for (uint32_t f = 0; f < K; f++) {
            memcpy(frag[f] + s * UNIT, data + s * stripe + (uint64_t)f * UNIT, UNIT);
            dp[f] = frag[f] + s * UNIT;
        }
        for (uint32_t p = 0; p < M; p++)
            pp[p] = frag[K + p] + s * UNIT;
        ec_encode(codec, UNIT, dp, pp);
    }
    ec_codec_free(codec);
    free(data);
    struct cn_http_client_opts ho = {.auth = auth, .timeout_ms = 20000};
    struct cn_http_client *h;
    if ((rc = cn_http_client_new(&ho, &h)))
        return die("http", rc);
    for (uint32_t f = 0; f < K + M && !rc; f++)
        rc = append(h, addr[f], gid, f, old_len / K, frag[f], stripes * UNIT);
    cn_http_client_free(h);
    for (uint32_t f = 0; f < K + M; f++)
        free(frag[f]);
    if (rc)
        return die("append", rc);
    uint8_t *cmd;
    size_t len;
    uint64_t seq = md_client_next_seq(mc);
    struct md_group_desc gd = {.k = K, .m = M, .unit = UNIT};
    memcpy(gd.id, gid, 16);
    md__query_result__free_unpacked(gr, NULL);
    if ((rc = md_cmd_commit_packed(md_client_id(mc), seq, &gd, old_len, old_len + total, d,
                                   (size_t)n, cn_wall_ms(), &cmd, &len)))
        return die("build", rc);
    Md__Result *r;
    if ((rc = commit(mc, seq, cmd, len, &r)))
        return die("CommitPacked", rc);
    rc = r->status;
    for (size_t i = 0; !rc && i < r->n_keys; i++)
        printf("%s %s\n", r->keys[i]->key, r->keys[i]->status ? "refused" : "ok");
    md_result_free(r);
    return rc ? die("CommitPacked refused", rc) : 0;
}

static int do_delete(struct md_client *mc, const char *bucket, const char *key)
{
    uint8_t *cmd;
    size_t len;
    uint64_t seq = md_client_next_seq(mc);
    int rc =
        md_cmd_delete_object(md_client_id(mc), seq, bucket, key, MD_COND_NONE, NULL, &cmd, &len);
    if (rc)
        return die("build", rc);
    Md__Result *r;
    if ((rc = commit(mc, seq, cmd, len, &r)))
        return die("DeleteObject", rc);
    rc = r->status;
    md_result_free(r);
    return rc ? die("DeleteObject refused", rc) : 0;
}

int main(int argc, char **argv)
{
    const char *secret_file = NULL;
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--meta")) {
            for (char *t = strtok(strdup(argv[i + 1]), ","); t && n_meta < 16;
                 t = strtok(NULL, ","))
                meta[n_meta++] = t;
        } else if (!strcmp(argv[i], "--cluster-secret-file")) {
            secret_file = argv[i + 1];
        } else if (!strcmp(argv[i], "--scheme")) {
            sscanf(argv[i + 1], "%u+%u", &K, &M);
        } else if (!strcmp(argv[i], "--unit")) {
            UNIT = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "packed-writer: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 1 || !secret_file || !n_meta || K + M > MAX_FRAGS) {
        fprintf(
            stderr,
            "usage: packed-writer --meta URLS --cluster-secret-file F [--scheme K+M] "
            "[--unit N] open | append GROUP BUCKET KEY FILE [KEY FILE ...] | delete BUCKET KEY\n");
        return 2;
    }
    struct cn_auth *auth;
    if (cn_auth_open(secret_file, NULL, CN_ROLE_GATEWAY, 0, false, "packed-writer", &auth) != 0)
        return die("secret", CAIRN_E_INVAL);
    struct md_client_opts mo = {
        .replicas = (const char *const *)meta, .n_replicas = n_meta, .auth = auth};
    struct md_client *mc;
    if (md_client_new(&mo, &mc) != 0)
        return die("metadata client", CAIRN_E_NOMEM);
    int rc = 2;
    if (!strcmp(argv[i], "open"))
        rc = do_open(mc);
    else if (!strcmp(argv[i], "delete") && argc - i == 3)
        rc = do_delete(mc, argv[i + 1], argv[i + 2]);
    else if (!strcmp(argv[i], "append") && argc - i >= 5)
        rc = do_append(mc, auth, argv[i + 1], argv[i + 2], argc - i - 3, argv + i + 3);
    md_client_free(mc);
    cn_auth_free(auth);
    return rc;
}
