/* ec-path-tool: drives the gateway's erasure-coded data path (gw_data) against
 * real cairn-meta and cairn-chunk daemons, without the S3 layer, so the data
 * path is tested on its own:
 *
 *   ec-path-tool put  OPTS BUCKET KEY FILE   stream FILE in, commit the record
 *   ec-path-tool get  OPTS BUCKET KEY OUT [OFF LEN]   read (a range) back
 *   ec-path-tool info OPTS BUCKET KEY        print the groups and locations
 *   ec-path-tool delete OPTS BUCKET KEY      delete the object (its groups become garbage)
 *   ec-path-tool put-nocommit OPTS BUCKET KEY FILE  write the fragments, commit nothing (a
 *                                            gateway dying mid-upload); prints the group ids
 *
 * OPTS: --meta URLS --cluster-secret-file F [--scheme K+M] [--unit BYTES]
 *       [--frag-max BYTES]. Exit 0 on success, 1 on failure. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"
#include "gw_data.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *meta[16];
static size_t n_meta;
static ec_layout layout = {4, 2, 1 << 20, 64u << 20};

static int die(const char *what, int rc)
{
    fprintf(stderr, "ec-path-tool: %s: %s\n", what, cairn_strerror(rc));
    return 1;
}

static Md__ObjectRecord *lookup(struct md_client *mc, const char *bucket, const char *key,
                                Md__QueryResult **holder)
{
    uint8_t *q, *res;
    size_t qlen, rlen;
    if (md_q_get_object(bucket, key, &q, &qlen))
        return NULL;
    int rc = md_client_read(mc, q, qlen, &res, &rlen);
    free(q);
    if (rc) {
        die("read record", rc);
        return NULL;
    }
    *holder = md_query_result_decode(res, rlen);
    free(res);
    if (!*holder || (*holder)->status != 0 || !(*holder)->object) {
        fprintf(stderr, "ec-path-tool: no such object\n");
        return NULL;
    }
    return (*holder)->object;
}

static int do_put(struct gw_ctx *ctx, const char *bucket, const char *key, const char *path,
                  int commit)
{
    struct md_client *mc = gw_ctx_meta(ctx);
    /* The bucket (an existing one is fine). */
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd, *res;
    size_t clen, rlen;
    md_cmd_create_bucket(md_client_id(mc), seq, bucket, "tool", "", 0, cn_wall_ms(), &cmd, &clen);
    int rc = md_client_command(mc, seq, cmd, clen, &res, &rlen);
    free(cmd);
    if (rc)
        return die("create bucket", rc);
    free(res);

    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0)
        return die(path, CAIRN_E_IO);
    struct gw_put *p;
    if ((rc = gw_put_begin(ctx, &layout, (uint64_t)st.st_size, &p)) != 0)
        return die("put begin", rc);
    static uint8_t buf[1 << 20];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if ((rc = gw_put_write(p, buf, n)) != 0)
            return die("put write", rc);
    fclose(f);
    uint8_t md5[16];
    const struct md_group_desc *groups;
    size_t n_groups;
    if ((rc = gw_put_finish(p, md5, &groups, &n_groups)) != 0)
        return die("put finish", rc);
    char etag[33];
    cn_hex_encode(md5, 16, etag);
    if (!commit) {
        /* A gateway that dies after writing its fragments: nothing names them. */
        for (size_t g = 0; g < n_groups; g++) {
            char gid[33];
            cn_hex_encode(groups[g].id, 16, gid);
            printf("%s\n", gid);
        }
        gw_put_free(p);
        return 0;
    }
    struct md_object_desc obj = {.size = (uint64_t)st.st_size,
                                 .etag = etag,
                                 .mtime_ms = cn_wall_ms(),
                                 .groups = groups,
                                 .n_groups = n_groups};
    seq = md_client_next_seq(mc);
    if ((rc = md_cmd_put_object(md_client_id(mc), seq, bucket, key, &obj, MD_COND_NONE, NULL, &cmd,
                                &clen)) != 0)
        return die("build put", rc);
    rc = md_client_command(mc, seq, cmd, clen, &res, &rlen);
    free(cmd);
    if (rc)
        return die("commit", rc);
    Md__Result *r = md_result_decode(res, rlen);
    free(res);
    gw_put_free(p);
    rc = r ? r->status : CAIRN_E_PROTO;
    if (rc) {
        fprintf(stderr, "ec-path-tool: commit refused: %s (reason %d: %s)\n", cairn_strerror(rc),
                r ? (int)r->reason : -1, r && r->detail ? r->detail : "");
        md_result_free(r);
        return 1;
    }
    md_result_free(r);
    printf("%s %zu groups\n", etag, n_groups);
    return 0;
}

static int do_get(struct gw_ctx *ctx, const char *bucket, const char *key, const char *out,
                  int argc, char **argv)
{
    Md__QueryResult *holder = NULL;
    Md__ObjectRecord *rec = lookup(gw_ctx_meta(ctx), bucket, key, &holder);
    if (!rec)
        return 1;
    uint64_t off = 0, len = rec->size;
    if (argc >= 2) {
        off = strtoull(argv[0], NULL, 10);
        len = strtoull(argv[1], NULL, 10);
    }
    struct gw_get *g;
    int rc = gw_get_open(ctx, rec, off, len, &g);
    if (rc)
        return die("get open", rc);
    FILE *f = fopen(out, "wb");
    static uint8_t buf[300000]; /* not a multiple of anything on purpose */
    ssize_t n;
    uint64_t total = 0;
    while ((n = gw_get_read(g, buf, sizeof(buf))) > 0) {
        fwrite(buf, 1, (size_t)n, f);
        total += (uint64_t)n;
    }
    fclose(f);
    gw_get_close(g);
    md__query_result__free_unpacked(holder, NULL);
    if (n < 0)
        return die("get read", (int)n);
    if (total != len) {
        fprintf(stderr, "ec-path-tool: short read %" PRIu64 " of %" PRIu64 "\n", total, len);
        return 1;
    }
    return 0;
}

static int do_delete(struct gw_ctx *ctx, const char *bucket, const char *key)
{
    struct md_client *mc = gw_ctx_meta(ctx);
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd, *res;
    size_t clen, rlen;
    int rc =
        md_cmd_delete_object(md_client_id(mc), seq, bucket, key, MD_COND_NONE, NULL, &cmd, &clen);
    if (rc)
        return die("build delete", rc);
    rc = md_client_command(mc, seq, cmd, clen, &res, &rlen);
    free(cmd);
    if (rc)
        return die("delete", rc);
    rc = md_result_status(res, rlen, NULL);
    free(res);
    return rc ? die("delete refused", rc) : 0;
}

static int do_info(struct gw_ctx *ctx, const char *bucket, const char *key)
{
    Md__QueryResult *holder = NULL;
    Md__ObjectRecord *rec = lookup(gw_ctx_meta(ctx), bucket, key, &holder);
    if (!rec)
        return 1;
    printf("size %" PRIu64 " etag %s inline %d groups %zu\n", rec->size, rec->etag, rec->has_inline,
           rec->n_extents);
    for (size_t i = 0; i < rec->n_extents; i++) {
        char gid[33] = "";
        if (rec->extents[i]->group->id.len == 16)
            cn_hex_encode(rec->extents[i]->group->id.data, 16, gid);
        printf("group %zu offset %" PRIu64 " len %" PRIu64 " id %s cs", i, rec->extents[i]->offset,
               rec->extents[i]->group->data_length, gid);
        for (size_t j = 0; j < rec->extents[i]->group->n_fragment_cs; j++)
            printf(" %016" PRIx64, rec->extents[i]->group->fragment_cs[j]);
        printf("\n");
    }
    md__query_result__free_unpacked(holder, NULL);
    return 0;
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
            sscanf(argv[i + 1], "%u+%u", &layout.k, &layout.m);
        } else if (!strcmp(argv[i], "--unit")) {
            layout.unit = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else if (!strcmp(argv[i], "--frag-max")) {
            layout.frag_max = strtoull(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "ec-path-tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 3 || !secret_file || !n_meta) {
        fprintf(stderr,
                "usage: ec-path-tool put|get|info|delete --meta URLS --cluster-secret-file F "
                "[--scheme K+M] [--unit N] [--frag-max N] BUCKET KEY [FILE|OUT [OFF "
                "LEN]]\n");
        return 2;
    }
    struct cn_auth *auth;
    if (cn_auth_open(secret_file, NULL, CN_ROLE_GATEWAY, 0, false, "ec-path-tool", &auth) != 0)
        return die("secret", CAIRN_E_INVAL);
    struct gw_ctx_opts o = {.meta_urls = (const char *const *)meta,
                            .n_meta = n_meta,
                            .auth = auth,
                            .write_quorum_extra = 1,
                            .fragment_timeout_ms = 20000}; /* loaded CI machines */
    struct gw_ctx *ctx;
    if (gw_ctx_new(&o, &ctx) != 0)
        return die("context", CAIRN_E_NOMEM);
    const char *op = argv[i];
    int rc;
    if (!strcmp(op, "put") && argc - i >= 4)
        rc = do_put(ctx, argv[i + 1], argv[i + 2], argv[i + 3], 1);
    else if (!strcmp(op, "put-nocommit") && argc - i >= 4)
        rc = do_put(ctx, argv[i + 1], argv[i + 2], argv[i + 3], 0);
    else if (!strcmp(op, "get") && argc - i >= 4)
        rc = do_get(ctx, argv[i + 1], argv[i + 2], argv[i + 3], argc - i - 4, argv + i + 4);
    else if (!strcmp(op, "delete"))
        rc = do_delete(ctx, argv[i + 1], argv[i + 2]);
    else if (!strcmp(op, "info"))
        rc = do_info(ctx, argv[i + 1], argv[i + 2]);
    else
        rc = 2;
    gw_ctx_free(ctx);
    cn_auth_free(auth);
    return rc;
}
