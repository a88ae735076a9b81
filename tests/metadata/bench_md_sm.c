/* bench_md_sm: state-machine throughput on this machine (not a test).
 *   bench_md_sm [commands]
 * Applies PutObject commands (one 4+2 extent each) in slots of 1, 16 and 64
 * commands on the memory store, LevelDB without sync and LevelDB with a
 * synced write per slot, then times GetObject queries and 1000-key listings. */
#include "md_test_util.h"
#include "cn_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(const char *name, int backend, int sync, size_t slot, size_t total)
{
    struct tstore ts = {0};
    ts.backend = backend;
    if (backend == BACKEND_MEM) {
        md_store_open_mem(&ts.store);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(ts.dir, sizeof(ts.dir), "%s/cairn-mdbench-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(ts.dir)) {
            perror("mkdtemp");
            exit(1);
        }
        struct md_store_options opt;
        md_store_options_default(&opt);
        opt.sync = sync;
        if (md_store_open_leveldb(ts.dir, &opt, &ts.store))
            exit(1);
    }
    struct md_sm *sm;
    md_sm_open(ts.store, NULL, &sm);
    uint8_t *c, *res;
    size_t l, rl;
    md_cmd_create_bucket(1, 1, "bench", "", "", 0, 0, &c, &l);
    md_sm_apply(sm, 1, c, l, &res, &rl);
    free(c);
    free(res);
    uint8_t **cmds = calloc(slot, sizeof(*cmds)), **results = calloc(slot, sizeof(*results));
    size_t *lens = calloc(slot, sizeof(*lens)), *rlens = calloc(slot, sizeof(*rlens));
    uint64_t index = 1, seq = 1;
    double t0 = now_s();
    for (size_t done = 0; done < total; done += slot) {
        for (size_t i = 0; i < slot; i++) {
            char key[32];
            snprintf(key, sizeof(key), "obj/%08zu", done + i);
            struct md_group_desc g;
            uint64_t cs[6];
            make_group(&g, done + i + 1, 4, 2, 1 << 20, cs);
            struct md_object_desc o = {.size = 1 << 20,
                                       .etag = "0123456789abcdef0123456789abcdef",
                                       .groups = &g,
                                       .n_groups = 1};
            md_cmd_put_object(7 + i, ++seq, "bench", key, &o, MD_COND_NONE, NULL, &cmds[i],
                              &lens[i]);
        }
        if (md_sm_apply_slot(sm, ++index, slot, (const void *const *)cmds, lens, NULL, results,
                             rlens))
            exit(1);
        for (size_t i = 0; i < slot; i++) {
            free(cmds[i]);
            free(results[i]);
        }
    }
    double t1 = now_s();
    printf("%-22s slot %3zu: %8.0f commands/s  %8.0f slots/s\n", name, slot, total / (t1 - t0),
           total / slot / (t1 - t0));
    if (slot == 64) {
        size_t reads = 20000;
        t0 = now_s();
        for (size_t i = 0; i < reads; i++) {
            char key[32];
            snprintf(key, sizeof(key), "obj/%08zu", (i * 7919) % total);
            Md__QueryResult *r;
            if (md_query_get_object(ts.store, "bench", key, &r))
                exit(1);
            md_query_result_free(r);
        }
        t1 = now_s();
        printf("%-22s GetObject: %8.0f queries/s\n", name, reads / (t1 - t0));
        size_t lists = 200;
        t0 = now_s();
        for (size_t i = 0; i < lists; i++) {
            Md__QueryResult *r;
            if (md_query_list_objects(ts.store, "bench", "obj/", "", "", 1000, &r))
                exit(1);
            md_query_result_free(r);
        }
        t1 = now_s();
        printf("%-22s List 1000: %8.0f listings/s\n", name, lists / (t1 - t0));
    }
    free(cmds);
    free(results);
    free(lens);
    free(rlens);
    md_sm_free(sm);
    md_store_free(ts.store);
    if (ts.dir[0])
        rm_tree(ts.dir);
}

int main(int argc, char **argv)
{
    size_t total = argc > 1 ? strtoul(argv[1], NULL, 10) : 19200;
    size_t slots[] = {1, 16, 64};
    for (int s = 0; s < 3; s++) {
        run("memory", BACKEND_MEM, 0, slots[s], total);
        run("leveldb", BACKEND_LEVELDB, 0, slots[s], total);
        run("leveldb sync", BACKEND_LEVELDB, 1, slots[s], slots[s] == 1 ? total / 16 : total);
    }
    return 0;
}
