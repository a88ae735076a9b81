/* Unit tests of the file-system interface (cs_io): the contract the store
 * relies on, run once on the POSIX backend and once on the fault backend,
 * and the fault backend's own model (what survives a crash, torn writes,
 * injected errors, counts, space, bit flips). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_error.h"
#include "cs_io.h"
#include "cs_io_fault.h"

static char test_dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/cs_io_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

static void teardown(void)
{
    nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_of(char *out, const char *base, const char *name)
{
    snprintf(out, 512, "%s/%s", base, name);
}

typedef struct names {
    int n;
    char v[16][64];
} names;

static int add_name(void *arg, const char *name)
{
    names *l = arg;
    ck_assert_int_lt(l->n, 16);
    snprintf(l->v[l->n++], 64, "%s", name);
    return 0;
}

static bool has_name(const names *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static int stop_at_first(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return 7;
}

/* What the store needs from any backend, on a directory base that exists. */
static void contract(const cs_io *io, const char *base)
{
    char a[512], b[512], d[512];
    path_of(a, base, "a");
    path_of(b, base, "b");
    path_of(d, base, "d");
    int fd, fd2;
    size_t n;
    cs_io_stat st;
    ck_assert_int_eq(io->open(io, a, CS_IO_READ, &fd), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(io->stat(io, a, &st), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(io->open(io, a, CS_IO_WRITE | CS_IO_CREATE | CS_IO_EXCL, &fd), 0);
    ck_assert_int_eq(io->open(io, a, CS_IO_WRITE | CS_IO_CREATE | CS_IO_EXCL, &fd2),
                     CAIRN_E_EXISTS);
    ck_assert_int_eq(cs_io_write_all(io, fd, "hello", 5, 0), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "world", 5, 10), 0); /* leaves a hole */
    ck_assert_int_eq(io->writeback(io, fd, 0, 15), 0);
    ck_assert_int_eq(io->fdatasync(io, fd), 0);
    ck_assert_int_eq(io->fsync(io, fd), 0);
    ck_assert_int_eq(io->fstat(io, fd, &st), 0);
    ck_assert_uint_eq(st.size, 15);
    ck_assert_int_eq(io->close(io, fd), 0);

    ck_assert_int_eq(io->open(io, a, CS_IO_READ, &fd), 0);
    char buf[32];
    ck_assert_int_eq(io->pread(io, fd, buf, sizeof(buf), 0, &n), 0);
    ck_assert_uint_eq(n, 15);
    ck_assert_mem_eq(buf, "hello\0\0\0\0\0world", 15);
    ck_assert_int_eq(io->pread(io, fd, buf, sizeof(buf), 15, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cs_io_read_all(io, fd, buf, 16, 0), CAIRN_E_CORRUPT); /* past the end */
    ck_assert_int_eq(io->close(io, fd), 0);
    ck_assert_int_eq(io->stat(io, a, &st), 0);
    ck_assert_uint_eq(st.size, 15);

    /* Truncate on open; read_file. */
    ck_assert_int_eq(io->open(io, b, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "0123456789", 10, 0), 0);
    ck_assert_int_eq(io->close(io, fd), 0);
    ck_assert_int_eq(io->open(io, b, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "xyz", 3, 0), 0);
    ck_assert_int_eq(io->close(io, fd), 0);
    char *text;
    size_t len;
    ck_assert_int_eq(cs_io_read_file(io, b, 100, &text, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_str_eq(text, "xyz");
    free(text);
    ck_assert_int_eq(cs_io_read_file(io, b, 2, &text, &len), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_io_read_file(io, d, 100, &text, &len), CAIRN_E_NOTFOUND);

    /* rename replaces; the old name is gone. */
    ck_assert_int_eq(io->rename(io, b, a), 0);
    ck_assert_int_eq(io->stat(io, b, &st), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(io->stat(io, a, &st), 0);
    ck_assert_uint_eq(st.size, 3);
    ck_assert_int_eq(io->rename(io, b, a), CAIRN_E_NOTFOUND);

    /* Directories. */
    ck_assert_int_eq(io->mkdir(io, d), 0);
    ck_assert_int_eq(io->mkdir(io, d), CAIRN_E_EXISTS);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/x/y", d);
    ck_assert_int_eq(io->mkdir(io, sub), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(io->sync_dir(io, d), 0);
    ck_assert_int_eq(io->sync_dir(io, base), 0);
    snprintf(sub, sizeof(sub), "%s/f", d);
    ck_assert_int_eq(io->rename(io, a, sub), 0); /* across directories */
    names l = {0};
    ck_assert_int_eq(io->list(io, base, add_name, &l), 0);
    ck_assert_int_eq(l.n, 1);
    ck_assert(has_name(&l, "d"));
    l.n = 0;
    ck_assert_int_eq(io->list(io, d, add_name, &l), 0);
    ck_assert_int_eq(l.n, 1);
    ck_assert(has_name(&l, "f"));
    int calls = 0;
    ck_assert_int_eq(io->list(io, base, stop_at_first, &calls), 7);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(io->list(io, a, add_name, &l), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(io->unlink(io, sub), 0);
    ck_assert_int_eq(io->unlink(io, sub), CAIRN_E_NOTFOUND);

    /* An unlinked file stays readable through an open descriptor. */
    ck_assert_int_eq(io->open(io, a, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "kept", 4, 0), 0);
    ck_assert_int_eq(io->unlink(io, a), 0);
    ck_assert_int_eq(cs_io_read_all(io, fd, buf, 4, 0), 0);
    ck_assert_mem_eq(buf, "kept", 4);
    ck_assert_int_eq(io->close(io, fd), 0);

    /* The lock: a second descriptor is refused until the first closes. */
    char lk[512];
    path_of(lk, base, "lock");
    ck_assert_int_eq(io->open(io, lk, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
    ck_assert_int_eq(io->lock(io, fd), 0);
    ck_assert_int_eq(io->open(io, lk, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &fd2), 0);
    ck_assert_int_eq(io->lock(io, fd2), CAIRN_E_BUSY);
    ck_assert_int_eq(io->close(io, fd), 0);
    ck_assert_int_eq(io->lock(io, fd2), 0);
    ck_assert_int_eq(io->close(io, fd2), 0);

    uint64_t cap, avail;
    ck_assert_int_eq(io->space(io, base, &cap, &avail), 0);
    ck_assert_uint_gt(cap, 0);
    ck_assert_uint_le(avail, cap);
}

START_TEST(contract_posix)
{
    contract(cs_io_posix(), test_dir);
}
END_TEST

START_TEST(contract_fault)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(1 << 20, 1, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    ck_assert_int_eq(io->mkdir(io, "/t"), 0);
    contract(io, "/t");
    ck_assert_uint_eq(cs_io_fault_open_files(f), 0);
    cs_io_fault_free(f);
}
END_TEST

/* ---- the fault backend's model ---- */

static void write_file(const cs_io *io, const char *path, const char *text, bool sync)
{
    int fd;
    ck_assert_int_eq(io->open(io, path, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, text, strlen(text), 0), 0);
    if (sync)
        ck_assert_int_eq(io->fdatasync(io, fd), 0);
    ck_assert_int_eq(io->close(io, fd), 0);
}

/* The content of path as a string ("" if empty), or NULL if it is absent. */
static char *read_text(const cs_io *io, const char *path)
{
    char *text;
    size_t len;
    int rc = cs_io_read_file(io, path, 1 << 20, &text, &len);
    if (rc == CAIRN_E_NOTFOUND)
        return NULL;
    ck_assert_int_eq(rc, 0);
    return text;
}

static void assert_text(const cs_io *io, const char *path, const char *want)
{
    char *got = read_text(io, path);
    if (want == NULL) {
        ck_assert_msg(got == NULL, "%s should be absent, holds \"%s\"", path, got);
        return;
    }
    ck_assert_msg(got != NULL, "%s should hold \"%s\", is absent", path, want);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(power_loss_keeps_only_synced)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(1 << 20, 2, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    ck_assert_int_eq(io->mkdir(io, "/d"), 0);
    ck_assert_int_eq(io->sync_dir(io, "/"), 0);
    write_file(io, "/d/synced", "durable", true);
    write_file(io, "/d/unsynced", "volatile", false);
    ck_assert_int_eq(io->sync_dir(io, "/d"), 0);
    /* After the directory sync: more data, a new file, a rename, an unlink. */
    int fd;
    ck_assert_int_eq(io->open(io, "/d/synced", CS_IO_WRITE, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "DURABLE!", 8, 0), 0);
    ck_assert_int_eq(io->close(io, fd), 0);
    write_file(io, "/d/new", "new", true); /* data synced, entry not */
    ck_assert_int_eq(io->rename(io, "/d/unsynced", "/d/renamed"), 0);
    ck_assert_int_eq(io->mkdir(io, "/e"), 0);

    /* A process crash keeps everything. */
    cs_io_fault_restart(f, CS_IO_PROCESS);
    assert_text(io, "/d/synced", "DURABLE!");
    assert_text(io, "/d/new", "new");
    assert_text(io, "/d/renamed", "volatile");

    /* A power loss keeps what was synced: the first content of synced, the
     * entry of unsynced (its data never synced: empty), no new, no e. */
    cs_io_fault_restart(f, CS_IO_POWER);
    assert_text(io, "/d/synced", "durable");
    assert_text(io, "/d/unsynced", "");
    assert_text(io, "/d/renamed", NULL);
    assert_text(io, "/d/new", NULL);
    cs_io_stat st;
    ck_assert_int_eq(io->stat(io, "/e", &st), CAIRN_E_NOTFOUND);

    /* A rename across directories needs both syncs. */
    ck_assert_int_eq(io->mkdir(io, "/e"), 0);
    ck_assert_int_eq(io->sync_dir(io, "/"), 0);
    ck_assert_int_eq(io->rename(io, "/d/synced", "/e/moved"), 0);
    ck_assert_int_eq(io->sync_dir(io, "/e"), 0);
    cs_io_fault_restart(f, CS_IO_POWER);
    assert_text(io, "/e/moved", "durable");  /* the arriving name was synced */
    assert_text(io, "/d/synced", "durable"); /* the leaving one was not */
    ck_assert_int_eq(io->unlink(io, "/d/synced"), 0);
    ck_assert_int_eq(io->sync_dir(io, "/d"), 0);
    cs_io_fault_restart(f, CS_IO_POWER);
    assert_text(io, "/d/synced", NULL);
    assert_text(io, "/e/moved", "durable");
    cs_io_fault_free(f);
}
END_TEST

START_TEST(torn_writes_take_every_shape)
{
    /* One unsynced 4 KiB overwrite of a synced file, over many seeds: each
     * outcome the model promises shows up, and nothing else. */
    enum { LOST, WHOLE, PREFIX, ZEROS };
    int seen[4] = {0};
    uint8_t old[4096], neu[4096], got[4096];
    memset(old, 'o', sizeof(old));
    memset(neu, 'n', sizeof(neu));
    for (uint64_t seed = 0; seed < 200; seed++) {
        cs_io_fault *f;
        ck_assert_int_eq(cs_io_fault_new(1 << 20, seed, &f), 0);
        const cs_io *io = cs_io_fault_io(f);
        int fd;
        ck_assert_int_eq(io->open(io, "/f", CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
        ck_assert_int_eq(cs_io_write_all(io, fd, old, sizeof(old), 0), 0);
        ck_assert_int_eq(io->fdatasync(io, fd), 0);
        ck_assert_int_eq(io->sync_dir(io, "/"), 0);
        ck_assert_int_eq(cs_io_write_all(io, fd, neu, sizeof(neu), 0), 0);
        cs_io_fault_restart(f, CS_IO_POWER_TORN);
        ck_assert_int_eq(io->open(io, "/f", CS_IO_READ, &fd), 0);
        ck_assert_int_eq(cs_io_read_all(io, fd, got, sizeof(got), 0), 0);
        ck_assert_int_eq(io->close(io, fd), 0);
        size_t n_new = 0;
        while (n_new < sizeof(got) && got[n_new] == 'n')
            n_new++;
        if (got[0] == 0) {
            for (size_t i = 0; i < sizeof(got); i++)
                ck_assert_uint_eq(got[i], 0);
            seen[ZEROS]++;
        } else if (n_new == 0) {
            ck_assert_mem_eq(got, old, sizeof(old));
            seen[LOST]++;
        } else if (n_new == sizeof(got)) {
            seen[WHOLE]++;
        } else {
            ck_assert_uint_eq(n_new % 512, 0);
            ck_assert_mem_eq(got + n_new, old + n_new, sizeof(got) - n_new);
            seen[PREFIX]++;
        }
        cs_io_fault_free(f);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(seen[i], 10);
}
END_TEST

START_TEST(torn_directories_keep_a_prefix)
{
    /* Three unsynced creations: after a torn power loss the survivors are
     * always a prefix of the order they were made in. */
    int prefix_len_seen[4] = {0};
    for (uint64_t seed = 0; seed < 100; seed++) {
        cs_io_fault *f;
        ck_assert_int_eq(cs_io_fault_new(1 << 20, seed, &f), 0);
        const cs_io *io = cs_io_fault_io(f);
        write_file(io, "/a", "a", true);
        write_file(io, "/b", "b", true);
        write_file(io, "/c", "c", true);
        cs_io_fault_restart(f, CS_IO_POWER_TORN);
        names l = {0};
        ck_assert_int_eq(io->list(io, "/", add_name, &l), 0);
        const char *order[] = {"a", "b", "c"};
        for (int i = 0; i < l.n; i++)
            ck_assert(has_name(&l, order[i]));
        prefix_len_seen[l.n]++;
        cs_io_fault_free(f);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(prefix_len_seen[i], 5);
}
END_TEST

START_TEST(same_seed_same_outcome)
{
    char first[64] = "";
    for (int round = 0; round < 2; round++) {
        cs_io_fault *f;
        ck_assert_int_eq(cs_io_fault_new(1 << 20, 42, &f), 0);
        const cs_io *io = cs_io_fault_io(f);
        char line[64] = "";
        for (int i = 0; i < 8; i++) {
            char p[8];
            snprintf(p, sizeof(p), "/%d", i);
            write_file(io, p, "0123456789abcdef0123456789abcdef", false);
        }
        cs_io_fault_restart(f, CS_IO_POWER_TORN);
        for (int i = 0; i < 8; i++) {
            char p[8];
            snprintf(p, sizeof(p), "/%d", i);
            char *t = read_text(io, p);
            strcat(line, t == NULL ? "-" : t[0] == '\0' ? "0" : "x");
            free(t);
        }
        if (round == 0)
            snprintf(first, sizeof(first), "%s", line);
        else
            ck_assert_str_eq(line, first);
        cs_io_fault_free(f);
    }
}
END_TEST

START_TEST(errors_on_schedule)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(1 << 20, 3, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    cs_io_stat st;
    /* The 2nd stat from now fails once, and does nothing. */
    cs_io_fault_fail(f, CS_IO_OP_STAT, 2, CAIRN_E_IO, false);
    ck_assert_int_eq(io->stat(io, "/", &st), 0);
    ck_assert_int_eq(io->mkdir(io, "/x"), 0); /* other operations do not count */
    ck_assert_int_eq(io->stat(io, "/", &st), CAIRN_E_IO);
    ck_assert_int_eq(errno, EIO);
    ck_assert_int_eq(io->stat(io, "/", &st), 0);
    /* ENOSPC on the 1st pwrite and every later one. */
    int fd;
    ck_assert_int_eq(io->open(io, "/x/f", CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
    cs_io_fault_fail(f, CS_IO_OP_PWRITE, 1, CAIRN_E_NOSPACE, true);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(cs_io_write_all(io, fd, "x", 1, 0), CAIRN_E_NOSPACE);
        ck_assert_int_eq(errno, ENOSPC);
    }
    ck_assert_int_eq(io->fstat(io, fd, &st), 0);
    ck_assert_uint_eq(st.size, 0);
    cs_io_fault_clear(f);
    ck_assert_int_eq(cs_io_write_all(io, fd, "x", 1, 0), 0);
    /* Any operation: the 3rd call from now fails. */
    cs_io_fault_reset_counts(f);
    cs_io_fault_fail(f, CS_IO_OP_ANY, 3, CAIRN_E_IO, false);
    ck_assert_int_eq(io->fdatasync(io, fd), 0);
    ck_assert_int_eq(io->stat(io, "/x", &st), 0);
    ck_assert_int_eq(io->unlink(io, "/x/f"), CAIRN_E_IO);
    ck_assert_int_eq(io->stat(io, "/x/f", &st), 0); /* still there */
    ck_assert_uint_eq(cs_io_fault_calls(f, CS_IO_OP_ANY), 4);
    ck_assert_uint_eq(cs_io_fault_calls(f, CS_IO_OP_STAT), 2);
    ck_assert_int_eq(cs_io_fault_call_op(f, 1), CS_IO_OP_FDATASYNC);
    ck_assert_int_eq(cs_io_fault_call_op(f, 3), CS_IO_OP_UNLINK);
    ck_assert_int_eq(cs_io_fault_call_op(f, 5), CS_IO_OP_ANY);
    ck_assert_str_eq(cs_io_op_name(CS_IO_OP_SYNC_DIR), "sync_dir");
    /* A failing close still releases the descriptor. */
    cs_io_fault_fail(f, CS_IO_OP_CLOSE, 1, CAIRN_E_IO, false);
    ck_assert_int_eq(io->close(io, fd), CAIRN_E_IO);
    ck_assert_uint_eq(cs_io_fault_open_files(f), 0);
    cs_io_fault_free(f);
}
END_TEST

START_TEST(crash_stops_everything)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(1 << 20, 4, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    write_file(io, "/a", "a", true);
    ck_assert_int_eq(io->sync_dir(io, "/"), 0);
    cs_io_fault_crash_at(f, CS_IO_OP_ANY, 2);
    ck_assert(!cs_io_fault_crashed(f));
    int fd;
    ck_assert_int_eq(io->open(io, "/b", CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, "b", 1, 0), CAIRN_E_IO);
    ck_assert(cs_io_fault_crashed(f));
    cs_io_stat st;
    ck_assert_int_eq(io->stat(io, "/a", &st), CAIRN_E_IO);
    ck_assert_int_eq(io->fdatasync(io, fd), CAIRN_E_IO);
    cs_io_fault_restart(f, CS_IO_POWER);
    ck_assert(!cs_io_fault_crashed(f));
    ck_assert_uint_eq(cs_io_fault_open_files(f), 0);
    assert_text(io, "/a", "a");
    assert_text(io, "/b", NULL);
    cs_io_fault_free(f);
}
END_TEST

START_TEST(space_runs_out)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(5 * 4096, 5, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    uint64_t cap, avail;
    ck_assert_int_eq(io->space(io, "/", &cap, &avail), 0);
    ck_assert_uint_eq(cap, 5 * 4096);
    ck_assert_uint_eq(avail, 4 * 4096); /* the root directory takes a block */
    int fd;
    ck_assert_int_eq(io->open(io, "/f", CS_IO_WRITE | CS_IO_CREATE, &fd), 0);
    uint8_t buf[4096] = {0};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cs_io_write_all(io, fd, buf, sizeof(buf), (uint64_t)i * 4096), 0);
    ck_assert_int_eq(cs_io_write_all(io, fd, buf, 1, 4 * 4096), CAIRN_E_NOSPACE);
    ck_assert_int_eq(cs_io_write_all(io, fd, buf, 10, 100), 0); /* overwriting fits */
    ck_assert_int_eq(io->mkdir(io, "/d"), CAIRN_E_NOSPACE);
    ck_assert_int_eq(io->close(io, fd), 0);
    ck_assert_int_eq(io->unlink(io, "/f"), 0);
    ck_assert_int_eq(io->space(io, "/", &cap, &avail), 0);
    ck_assert_uint_eq(avail, 4 * 4096);
    cs_io_fault_free(f);
}
END_TEST

START_TEST(flips_are_on_the_medium)
{
    cs_io_fault *f;
    ck_assert_int_eq(cs_io_fault_new(1 << 20, 6, &f), 0);
    const cs_io *io = cs_io_fault_io(f);
    write_file(io, "/f", "AAAA", true);
    ck_assert_int_eq(io->sync_dir(io, "/"), 0);
    ck_assert_int_eq(cs_io_fault_flip(f, "/f", 2, 5), 0);
    assert_text(io, "/f", "AAaA");
    cs_io_fault_restart(f, CS_IO_POWER);
    assert_text(io, "/f", "AAaA");
    ck_assert_int_eq(cs_io_fault_flip(f, "/f", 4, 0), CAIRN_E_RANGE);
    ck_assert_int_eq(cs_io_fault_flip(f, "/g", 0, 0), CAIRN_E_NOTFOUND);
    ck_assert_int_eq(cs_io_fault_flip(f, "/f", 0, 8), CAIRN_E_INVAL);
    ck_assert_int_eq(cs_io_fault_flip(f, "/", 0, 0), CAIRN_E_INVAL);
    cs_io_fault_free(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cs_io");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, contract_posix);
    tcase_add_test(tc, contract_fault);
    tcase_add_test(tc, power_loss_keeps_only_synced);
    tcase_add_test(tc, torn_writes_take_every_shape);
    tcase_add_test(tc, torn_directories_keep_a_prefix);
    tcase_add_test(tc, same_seed_same_outcome);
    tcase_add_test(tc, errors_on_schedule);
    tcase_add_test(tc, crash_stops_everything);
    tcase_add_test(tc, space_runs_out);
    tcase_add_test(tc, flips_are_on_the_medium);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
