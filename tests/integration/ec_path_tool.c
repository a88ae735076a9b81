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
 *   ec-path-tool packed-write OPTS STATE SEED   append objects of many sizes (pseudo-random
 *                                            bytes from SEED) in batches into a packed group
 *                                            (gw_packed_append; no metadata record) and save
 *                                            the group and where each object went in STATE
 *   ec-path-tool packed-verify OPTS STATE     read every object of STATE back whole and in
 *                                            ranges through gw_get with packed extents, and
 *                                            compare; prints the degraded stripes it decoded
 *
 * OPTS: --meta URLS --cluster-secret-file F [--scheme K+M] [--unit BYTES]
 *       [--frag-max BYTES] [--direct 1]. --direct 1: get and packed-verify read
 *       through gw_get_open_direct (a short read, then gw_get_block() reads;
 *       get prints "direct N redone R degraded D errors E": the stripes written
 *       straight into the buffer, the prefetched ones among them fetched again,
 *       the stripes decoded, the fragment reads that failed). --fragment-timeout
 *       MS (default 20000), --read-delay MS: get sleeps after each read (a slow
 *       reader).
 *       Exit 0 on success, 1 on failure. */
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_util.h"
#include "gw_data.h"
#include "md_client.h"
#include "md_cmd.h"
#include "ec_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *meta[16];
static size_t n_meta;
static ec_layout layout = {4, 2, 1 << 20, 64u << 20};
static int direct;                      /* --direct 1: readers from gw_get_open_direct */
static int64_t frag_timeout_ms = 20000; /* --fragment-timeout (loaded CI machines) */
static int read_delay_ms;               /* --read-delay: a slow reader */

/* Opens a reader the way --direct says. */
static int get_open(struct gw_ctx *ctx, const Md__ObjectRecord *rec, uint64_t off, uint64_t len,
                    struct gw_get **g)
{
    return direct ? gw_get_open_direct(ctx, rec, off, len, g) : gw_get_open(ctx, rec, off, len, g);
}

/* The next read's size: 300000 (a multiple of nothing) for a plain reader;
 * for a direct one an odd short read first (as the S3 GET's pre-read: the
 * rest of that stripe comes through the stripe buffer), then its blocks. */
static size_t read_size(const struct gw_get *g, uint64_t done)
{
    if (!direct)
        return 300000;
    return done == 0 ? 100001 : gw_get_block(g);
}

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
    int rc = get_open(ctx, rec, off, len, &g);
    if (rc)
        return die("get open", rc);
    FILE *f = fopen(out, "wb");
    size_t cap = direct && gw_get_block(g) > 300000 ? gw_get_block(g) : 300000;
    uint8_t *buf = malloc(cap);
    ssize_t n = CAIRN_E_NOMEM;
    uint64_t total = 0;
    while (buf && (n = gw_get_read(g, buf, read_size(g, total))) > 0) {
        fwrite(buf, 1, (size_t)n, f);
        total += (uint64_t)n;
        if (read_delay_ms > 0)
            usleep((useconds_t)read_delay_ms * 1000);
    }
    free(buf);
    fclose(f);
    gw_get_close(g);
    md__query_result__free_unpacked(holder, NULL);
    if (n < 0)
        return die("get read", (int)n);
    if (total != len) {
        fprintf(stderr, "ec-path-tool: short read %" PRIu64 " of %" PRIu64 "\n", total, len);
        return 1;
    }
    if (direct) {
        struct gw_data_stats st;
        gw_ctx_stats(ctx, &st);
        printf("direct %" PRIu64 " redone %" PRIu64 " degraded %" PRIu64 " errors %" PRIu64 "\n",
               st.direct_fills, st.prefetch_redone, st.degraded_reads, st.fragment_errors);
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

/* ---- packed groups: appends and reads without the metadata half ---- */

#define PK_OBJECTS 12
static const uint64_t pk_sizes[PK_OBJECTS] = {17408, 100,     65536, 65537, 1048576 + 3, 300001,
                                              16384, 4194304, 24577, 1,     2097152,     777777};

static uint8_t pk_byte(uint64_t seed, size_t obj, uint64_t i)
{
    uint64_t x = (seed + obj * 0x9E3779B97F4A7C15ull) ^ (i * 0xBF58476D1CE4E5B9ull);
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    return (uint8_t)(x >> 29);
}

static int do_packed_write(struct gw_ctx *ctx, const char *state, uint64_t seed)
{
    uint32_t k = layout.k, m = layout.m, unit = layout.unit, n = k + m;
    uint64_t cs[EC_MAX_FRAGS], sb = (uint64_t)k * unit, goff[PK_OBJECTS], len = 0;
    int rc = gw_packed_place(ctx, k, m, cs);
    if (rc)
        return die("place", rc);
    struct md_group_desc g = {.k = k, .m = m, .unit = unit, .fragment_cs = cs};
    cn_random_bytes(g.id, 16);
    ec_codec *codec = gw_ctx_codec(ctx, k, m);
    /* Three batches: objects 0-3, 4-7, 8-11, each padded to whole stripes. */
    for (size_t b = 0; b < 3; b++) {
        uint64_t blen = 0;
        for (size_t o = b * 4; o < b * 4 + 4; o++)
            blen += (pk_sizes[o] + sb - 1) / sb * sb;
        size_t flen = (size_t)(blen / k);
        uint8_t *frag[EC_MAX_FRAGS];
        for (uint32_t i = 0; i < n; i++)
            frag[i] = calloc(1, flen);
        uint64_t at = 0; /* batch data offset */
        for (size_t o = b * 4; o < b * 4 + 4; o++) {
            goff[o] = len + at;
            for (uint64_t i = 0; i < pk_sizes[o]; i++) {
                uint64_t d = at + i, s = d / sb, f = (d % sb) / unit;
                frag[f][s * unit + d % unit] = pk_byte(seed, o, i);
            }
            at += (pk_sizes[o] + sb - 1) / sb * sb;
        }
        if ((rc = ec_encode(codec, flen, (const uint8_t *const *)frag, frag + k)) != 0)
            return die("encode", rc);
        rc = gw_packed_append(ctx, &g, len / k, (const uint8_t *const *)frag, flen, 0);
        for (uint32_t i = 0; i < n; i++)
            free(frag[i]);
        if (rc)
            return die("append", rc);
        len += blen;
    }
    FILE *f = fopen(state, "w");
    char gid[33];
    cn_hex_encode(g.id, 16, gid);
    fprintf(f, "%s %u %u %u %" PRIu64 " %" PRIu64 "\n", gid, k, m, unit, len, seed);
    for (uint32_t i = 0; i < n; i++)
        fprintf(f, "%" PRIu64 "\n", cs[i]);
    for (size_t o = 0; o < PK_OBJECTS; o++)
        fprintf(f, "%" PRIu64 "\n", goff[o]);
    fclose(f);
    return 0;
}

/* Reads [off, off + len) of packed object o and compares it. */
static int pk_check(struct gw_ctx *ctx, const Md__ObjectRecord *rec, size_t o, uint64_t seed,
                    uint64_t off, uint64_t len)
{
    struct gw_get *g;
    int rc = get_open(ctx, rec, off, len, &g);
    if (rc)
        return die("get open", rc);
    uint8_t *buf = malloc(direct && gw_get_block(g) > 300000 ? gw_get_block(g) : 300000);
    if (!buf) {
        gw_get_close(g);
        return die("get buffer", CAIRN_E_NOMEM);
    }
    ssize_t got;
    uint64_t pos = off;
    while ((got = gw_get_read(g, buf, read_size(g, pos - off))) > 0) {
        for (ssize_t i = 0; i < got; i++)
            if (buf[i] != pk_byte(seed, o, pos + (uint64_t)i)) {
                fprintf(stderr, "ec-path-tool: object %zu byte %" PRIu64 " differs\n", o,
                        pos + (uint64_t)i);
                free(buf);
                gw_get_close(g);
                return 1;
            }
        pos += (uint64_t)got;
    }
    free(buf);
    gw_get_close(g);
    if (got < 0)
        return die("get read", (int)got);
    if (pos != off + len) {
        fprintf(stderr, "ec-path-tool: object %zu: short read\n", o);
        return 1;
    }
    return 0;
}

static int do_packed_verify(struct gw_ctx *ctx, const char *state)
{
    FILE *f = fopen(state, "r");
    char gid[33];
    uint32_t k, m, unit;
    uint64_t len, seed, cs[EC_MAX_FRAGS], goff[PK_OBJECTS];
    if (!f || fscanf(f, "%32s %u %u %u %" SCNu64 " %" SCNu64, gid, &k, &m, &unit, &len, &seed) != 6)
        return die(state, CAIRN_E_IO);
    for (uint32_t i = 0; i < k + m; i++)
        if (fscanf(f, "%" SCNu64, &cs[i]) != 1)
            return die(state, CAIRN_E_IO);
    for (size_t o = 0; o < PK_OBJECTS; o++)
        if (fscanf(f, "%" SCNu64, &goff[o]) != 1)
            return die(state, CAIRN_E_IO);
    fclose(f);
    uint8_t id[16];
    cn_hex_decode(gid, id, 16);
    Md__ChunkGroup cg = MD__CHUNK_GROUP__INIT;
    cg.id = (ProtobufCBinaryData){16, id};
    cg.k = k;
    cg.m = m;
    cg.unit = unit;
    cg.data_length = len;
    cg.n_fragment_cs = k + m;
    cg.fragment_cs = cs;
    srand((unsigned)seed);
    for (size_t o = 0; o < PK_OBJECTS; o++) {
        Md__Extent e = MD__EXTENT__INIT, *ep = &e;
        e.group = &cg;
        e.packed = 1;
        e.group_offset = goff[o];
        e.length = pk_sizes[o];
        Md__ObjectRecord rec = MD__OBJECT_RECORD__INIT;
        rec.size = pk_sizes[o];
        rec.n_extents = 1;
        rec.extents = &ep;
        if (pk_check(ctx, &rec, o, seed, 0, rec.size))
            return 1;
        for (int r = 0; r < 6; r++) { /* ranges: edges and random */
            uint64_t off = r == 0 ? 0 : r == 1 ? rec.size - 1 : (uint64_t)rand() % rec.size;
            uint64_t l = r < 2 ? 1 : 1 + (uint64_t)rand() % (rec.size - off);
            if (pk_check(ctx, &rec, o, seed, off, l))
                return 1;
        }
    }
    struct gw_data_stats st;
    gw_ctx_stats(ctx, &st);
    printf("degraded %" PRIu64 " decodes %" PRIu64 "\n", st.degraded_reads, st.decodes);
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
        } else if (!strcmp(argv[i], "--direct")) {
            direct = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--fragment-timeout")) {
            frag_timeout_ms = strtoll(argv[i + 1], NULL, 10);
        } else if (!strcmp(argv[i], "--read-delay")) {
            read_delay_ms = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--frag-max")) {
            layout.frag_max = strtoull(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "ec-path-tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2 || !secret_file || !n_meta) {
        fprintf(stderr,
                "usage: ec-path-tool put|get|info|delete --meta URLS --cluster-secret-file F "
                "[--scheme K+M] [--unit N] [--frag-max N] [--direct 1] [--fragment-timeout MS] "
                "[--read-delay MS] BUCKET KEY [FILE|OUT [OFF "
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
                            .fragment_timeout_ms = frag_timeout_ms};
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
    else if (!strcmp(op, "packed-write") && argc - i >= 3)
        rc = do_packed_write(ctx, argv[i + 1], strtoull(argv[i + 2], NULL, 10));
    else if (!strcmp(op, "packed-verify"))
        rc = do_packed_verify(ctx, argv[i + 1]);
    else if (argc - i < 3)
        rc = 2;
    else if (!strcmp(op, "info"))
        rc = do_info(ctx, argv[i + 1], argv[i + 2]);
    else
        rc = 2;
    gw_ctx_free(ctx);
    cn_auth_free(auth);
    return rc;
}
