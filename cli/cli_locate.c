#include "cli_locate.h"

#include "cli_meta.h"
#include "cn_error.h"
#include "cn_util.h"
#include "md_client.h"

#include <stdio.h>

/* One chunk group of the object (extent e), a line per fragment; cl (may be
 * NULL) gives the chunkservers' addresses and states. */
static void print_group(const Md__Extent *e, const Md__QueryResult *cl)
{
    const Md__ChunkGroup *cg = e->group;
    uint64_t offset = e->offset;
    char gid[33] = "";
    if (cg->id.len == 16)
        cn_hex_encode(cg->id.data, 16, gid);
    if (e->packed)
        printf("packed group %s  bytes %llu..%llu at group offset %llu (group holds %llu)  "
               "%u+%u unit %u\n",
               gid, (unsigned long long)offset, (unsigned long long)(offset + e->length),
               (unsigned long long)e->group_offset, (unsigned long long)cg->data_length, cg->k,
               cg->m, cg->unit);
    else
        printf("group %s  bytes %llu..%llu  %u+%u unit %u\n", gid, (unsigned long long)offset,
               (unsigned long long)(offset + cg->data_length), cg->k, cg->m, cg->unit);
    for (size_t f = 0; f < cg->n_fragment_cs; f++) {
        const char *addr = "-", *state = "";
        for (size_t j = 0; cl && j < cl->n_chunkservers; j++)
            if (cl->chunkservers[j]->id == cg->fragment_cs[f]) {
                addr = cl->chunkservers[j]->address;
                state = cl->chunkservers[j]->state == 1   ? " (draining)"
                        : cl->chunkservers[j]->state == 2 ? " (retired)"
                                                          : "";
            }
        if (cg->fragment_cs[f])
            printf("  %s %2zu  %016llx %s%s\n", f < cg->k ? "data  " : "parity", f,
                   (unsigned long long)cg->fragment_cs[f], addr, state);
        else
            printf("  %s %2zu  MISSING (queued for repair)\n", f < cg->k ? "data  " : "parity", f);
    }
}

int cli_locate(struct cli_global *g, int argc, char **argv)
{
    if (g->help) {
        fputs("usage: cairn locate BUCKET KEY\n"
              "The chunk groups of one object and, for each fragment, the chunkserver\n"
              "holding it and that chunkserver's state.\n",
              stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: cairn locate BUCKET KEY\n");
        return CLI_EXIT_USAGE;
    }
    const char *bucket = argv[1], *key = argv[2];
    struct md_client *c = cli_meta_client(g, 10000);
    if (!c)
        return CLI_EXIT_FAILED;
    uint8_t *q = NULL;
    size_t qlen = 0;
    Md__QueryResult *r = NULL;
    int rc = md_q_get_object(bucket, key, &q, &qlen);
    rc = cli_meta_query(c, rc, q, qlen, &r);
    if (rc != 0 || r->status != 0 || !r->object) {
        fprintf(stderr, "cairn locate: %s/%s: %s\n", bucket, key,
                cairn_strerror(rc ? rc : r->status));
        if (r)
            md__query_result__free_unpacked(r, NULL);
        md_client_free(c);
        return CLI_EXIT_FAILED;
    }
    /* Chunkserver addresses, to show where each fragment is; when they cannot
     * be read (cl stays NULL), "-". */
    Md__QueryResult *cl = NULL;
    q = NULL;
    rc = md_q_list_chunkservers(&q, &qlen);
    (void)cli_meta_query(c, rc, q, qlen, &cl);
    const Md__ObjectRecord *ob = r->object;
    printf("%s/%s: %llu bytes, ETag \"%s\", ", bucket, key, (unsigned long long)ob->size, ob->etag);
    if (ob->has_inline) {
        printf("stored inline in the metadata record\n");
    } else {
        printf("%zu chunk group(s)\n", ob->n_extents);
        for (size_t i = 0; i < ob->n_extents; i++)
            print_group(ob->extents[i], cl);
    }
    if (cl)
        md__query_result__free_unpacked(cl, NULL);
    md__query_result__free_unpacked(r, NULL);
    md_client_free(c);
    return CLI_EXIT_OK;
}
