#define _XOPEN_SOURCE 700
#include "md_test_util.h"
#include "md_check.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void make_temp_dir(char *out, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, n, "%s/cairn-mdtest-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

void tstore_open(struct tstore *t, int backend)
{
    memset(t, 0, sizeof(*t));
    t->backend = backend;
    if (backend == BACKEND_MEM) {
        ck_assert_int_eq(md_store_open_mem(&t->store), 0);
        return;
    }
    make_temp_dir(t->dir, sizeof(t->dir));
    struct md_store_options opt;
    md_store_options_default(&opt);
    opt.sync = 0; /* tests: durability is LevelDB's; sync costs an fsync per slot */
    ck_assert_int_eq(md_store_open_leveldb(t->dir, &opt, &t->store), 0);
}

void tstore_reopen(struct tstore *t)
{
    if (t->backend == BACKEND_MEM)
        return;
    md_store_free(t->store);
    struct md_store_options opt;
    md_store_options_default(&opt);
    opt.sync = 0;
    opt.create_if_missing = 0;
    ck_assert_int_eq(md_store_open_leveldb(t->dir, &opt, &t->store), 0);
}

void tstore_close(struct tstore *t)
{
    md_store_free(t->store);
    t->store = NULL;
    if (t->dir[0])
        rm_tree(t->dir);
}

void tsm_open(struct tsm *t, int backend)
{
    memset(t, 0, sizeof(*t));
    tstore_open(&t->ts, backend);
    ck_assert_int_eq(md_sm_open(t->ts.store, NULL, &t->sm), 0);
    t->client = 42;
}

void tsm_close(struct tsm *t)
{
    md_sm_free(t->sm);
    tstore_close(&t->ts);
}

uint64_t tsm_seq(struct tsm *t)
{
    return ++t->seq;
}

Md__Result *tsm_apply(struct tsm *t, uint8_t *cmd, size_t len)
{
    uint8_t *res;
    size_t rl;
    ck_assert_ptr_nonnull(cmd);
    int rc = md_sm_apply(t->sm, ++t->index, cmd, len, &res, &rl);
    free(cmd);
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(md_sm_applied_index(t->sm), t->index);
    Md__Result *r = md_result_decode(res, rl);
    free(res);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->index, t->index);
    return r;
}

int tsm_run(struct tsm *t, uint8_t *cmd, size_t len)
{
    Md__Result *r = tsm_apply(t, cmd, len);
    int st = r->status;
    md_result_free(r);
    return st;
}

void make_group(struct md_group_desc *g, uint64_t n, uint32_t k, uint32_t m, uint64_t len,
                uint64_t *cs_storage)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 16; i++)
        g->id[i] = (uint8_t)((n * 0x9e3779b97f4a7c15ULL) >> (8 * (i % 8))) ^ (uint8_t)i;
    g->id[0] = (uint8_t)n;
    g->id[1] = (uint8_t)(n >> 8);
    g->id[2] = (uint8_t)(n >> 16);
    g->k = k;
    g->m = m;
    g->unit = 65536;
    g->data_length = len;
    for (uint32_t i = 0; i < k + m; i++)
        cs_storage[i] = 100 + i;
    g->fragment_cs = cs_storage;
}

void tsm_check(struct tsm *t)
{
    char err[256] = "";
    ck_assert_msg(md_sm_check(t->ts.store, err, sizeof(err)) == 0, "%s", err);
}

Md__QueryResult *tsm_query(struct tsm *t, uint8_t *q, size_t ql)
{
    uint8_t *out;
    size_t ol;
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(md_query(t->ts.store, q, ql, &out, &ol), 0);
    free(q);
    Md__QueryResult *r = md_query_result_decode(out, ol);
    free(out);
    ck_assert_ptr_nonnull(r);
    return r;
}

void tsm_open_packed(struct tsm *t, int backend, uint64_t first, uint64_t last)
{
    tsm_open(t, backend);
    uint8_t *c;
    size_t l;
    ck_assert_int_eq(md_cmd_create_bucket(t->client, tsm_seq(t), "bkt", "", "", 0, 1, &c, &l), 0);
    ck_assert_int_eq(tsm_run(t, c, l), 0);
    for (uint64_t id = first; id <= last; id++) {
        struct md_cs_desc cs = {.id = id, .address = "127.0.0.1:1", .capacity = 1 << 30};
        ck_assert_int_eq(md_cmd_register_cs(t->client, tsm_seq(t), &cs, 1, &c, &l), 0);
        ck_assert_int_eq(tsm_run(t, c, l), 0);
    }
}
