/* md_plog's file log (segment files beside the store): what a restart finds
 * after writes, torn and damaged tails, trims across segments, the move of an
 * older store-kept log into files, and the sync ordering with the store. */
#include "cn_error.h"
#include "md_plog.h"
#include "md_store.h"
#include "md_test_util.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[256];
    char plog[300];
    struct md_store *store; /* memory store, durability tracked */
    struct md_plog *pl;
    struct md_plog_restored rs;
    uint64_t seq;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    make_temp_dir(f->dir, sizeof(f->dir));
    snprintf(f->plog, sizeof(f->plog), "%s/plog", f->dir);
    ck_assert_int_eq(md_store_open_mem(&f->store), 0);
    ck_assert_int_eq(md_store_mem_track_durability(f->store), 0);
}

/* (Re)opens the file log; returns md_plog_open_dir's code. */
static int fx_open(struct fx *f, uint64_t seg_bytes, uint64_t applied)
{
    md_plog_restored_free(&f->rs);
    md_plog_free(f->pl);
    f->pl = NULL;
    return md_plog_open_dir(f->store, f->plog, seg_bytes, applied, &f->pl, &f->rs);
}

static void fx_done(struct fx *f)
{
    md_plog_restored_free(&f->rs);
    md_plog_free(f->pl);
    md_store_free(f->store);
    rm_tree(f->dir);
}

/* The value stored for slot (its length varies with the slot). */
static size_t value_of(uint64_t slot, uint8_t *out)
{
    size_t len = 20 + slot % 37;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(slot * 31 + i);
    return len;
}

/* One batch of one record: promise, trim, entries first..last. Returns the
 * batch's sync time (-1: nothing synced). */
static int64_t write_rec(struct fx *f, uint64_t promised, uint64_t trim, uint64_t first,
                         uint64_t last)
{
    struct paxos_entry es[64];
    uint8_t vals[64][64];
    uint32_t n = 0;
    for (uint64_t s = first; first && s <= last; s++, n++) {
        ck_assert_uint_lt(n, 64);
        es[n] = (struct paxos_entry){.slot = s, .ballot = promised, .data = vals[n]};
        es[n].len = (uint32_t)value_of(s, vals[n]);
    }
    struct paxos_persist rec = {
        .seq = ++f->seq, .promised = promised, .trim_through = trim, .n_entries = n, .entries = es};
    struct md_plog_batch b = {0};
    ck_assert_int_eq(md_plog_batch_add(&b, &rec), 0);
    uint64_t top = 0;
    int64_t sync_us = -2;
    ck_assert_int_eq(md_plog_write(f->pl, &b, &top, &sync_us), 0);
    ck_assert_uint_eq(top, f->seq);
    ck_assert_uint_eq(b.n, 0);
    ck_assert_int_ge(sync_us, -1);
    free(b.recs);
    return sync_us;
}

/* The restored log holds exactly slots first..last with their values. */
static void expect_entries(const struct fx *f, uint64_t first, uint64_t last)
{
    ck_assert_uint_eq(f->rs.n_entries, first ? last - first + 1 : 0);
    for (uint32_t i = 0; i < f->rs.n_entries; i++) {
        uint8_t want[64];
        size_t len = value_of(first + i, want);
        ck_assert_uint_eq(f->rs.entries[i].slot, first + i);
        ck_assert_uint_eq(f->rs.entries[i].len, len);
        ck_assert_mem_eq(f->rs.entries[i].data, want, len);
    }
}

static void seg_file(const struct fx *f, int nth_from_last, char *out, size_t cap)
{
    /* Names sort by id: the listing sorted is the log's order. */
    struct dirent **names;
    int n = scandir(f->plog, &names, NULL, alphasort);
    ck_assert_int_gt(n, 2 + nth_from_last);
    snprintf(out, cap, "%s/%s", f->plog, names[n - 1 - nth_from_last]->d_name);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

static void poke(const char *path, off_t off, uint8_t xor_with)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t c;
    ck_assert_int_eq(pread(fd, &c, 1, off), 1);
    c ^= xor_with;
    ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Keys of the store-kept log ("Pp", "PL"...) in store. */
static size_t store_log_keys(struct md_store *store)
{
    struct md_iter *it;
    ck_assert_int_eq(md_store_iter_new(store, &it), 0);
    size_t n = 0;
    for (md_iter_seek(it, "P", 1); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const uint8_t *k = md_iter_key(it, &kl);
        if (kl < 2 || k[0] != 'P')
            break;
        n += k[1] == 'p' || k[1] == 'L';
    }
    ck_assert_int_eq(md_iter_status(it), 0);
    md_iter_free(it);
    return n;
}

START_TEST(test_promise_and_entries_survive_restart)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    expect_entries(&f, 0, 0);
    ck_assert_uint_eq(f.rs.promised, 0);
    ck_assert_int_ge(write_rec(&f, 5, 0, 1, 10), 0);
    ck_assert_int_ge(write_rec(&f, 7, 0, 0, 0), 0); /* a promise alone */
    /* the same promise again, nothing else: nothing to write or sync (the
     * daemon's cairn_meta_fsyncs_total does not count it) */
    ck_assert_int_eq(write_rec(&f, 7, 0, 0, 0), -1);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    ck_assert_uint_eq(f.rs.promised, 7);
    expect_entries(&f, 1, 10);
    ck_assert_uint_eq(f.rs.entries[3].ballot, 5);
    /* A slot accepted again at a higher ballot: the later record wins. */
    write_rec(&f, 9, 0, 4, 4);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    ck_assert_uint_eq(f.rs.promised, 9);
    expect_entries(&f, 1, 10);
    ck_assert_uint_eq(f.rs.entries[3].ballot, 9);
    ck_assert_uint_eq(f.rs.entries[4].ballot, 5);
    fx_done(&f);
}
END_TEST

START_TEST(test_torn_tail_is_cut_off)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    write_rec(&f, 3, 0, 1, 5);
    char seg[600];
    seg_file(&f, 0, seg, sizeof(seg));
    off_t good = file_size(seg);
    write_rec(&f, 3, 0, 6, 6);
    off_t whole = file_size(seg);
    md_plog_free(f.pl);
    f.pl = NULL;
    /* The last batch half written. */
    ck_assert_int_eq(truncate(seg, good + (whole - good) / 2), 0);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    expect_entries(&f, 1, 5);
    ck_assert_int_eq(file_size(seg), good);
    /* Appending goes on where the valid records end. */
    write_rec(&f, 3, 0, 6, 7);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    expect_entries(&f, 1, 7);
    /* A last record whose bytes are garbage (never synced) is a torn tail too. */
    off_t before = file_size(seg);
    write_rec(&f, 3, 0, 8, 8);
    poke(seg, file_size(seg) - 3, 0x40);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    expect_entries(&f, 1, 7);
    ck_assert_int_eq(file_size(seg), before);
    fx_done(&f);
}
END_TEST

START_TEST(test_torn_write_of_several_frames_is_cut_off)
{
    /* Segments of 4 KiB: frames close at 1 KiB, so a write of 40 entries
     * (~2.5 KiB) is several frames; the first one damaged and the others
     * whole is still one torn write. */
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 4096, 0), 0);
    write_rec(&f, 3, 0, 1, 2);
    char seg[600];
    seg_file(&f, 0, seg, sizeof(seg));
    off_t good = file_size(seg);
    write_rec(&f, 3, 0, 3, 42);
    ck_assert_int_gt(file_size(seg) - good, 2048);
    poke(seg, good + 40, 0x10);
    ck_assert_int_eq(fx_open(&f, 4096, 0), 0);
    expect_entries(&f, 1, 2);
    ck_assert_int_eq(file_size(seg), good);
    /* The same damage with a later write after it: refused. */
    write_rec(&f, 3, 0, 3, 42);
    write_rec(&f, 3, 0, 43, 43);
    poke(seg, good + 40, 0x10);
    ck_assert_int_eq(fx_open(&f, 4096, 0), CAIRN_E_CORRUPT);
    /* Damage in the second frame of that write (its first one whole), a
     * later write after it: refused too. */
    poke(seg, good + 40, 0x10);
    ck_assert_int_eq(fx_open(&f, 4096, 0), 0);
    expect_entries(&f, 1, 43);
    poke(seg, good + 1500, 0x10);
    ck_assert_int_eq(fx_open(&f, 4096, 0), CAIRN_E_CORRUPT);
    fx_done(&f);
}
END_TEST

START_TEST(test_damage_before_the_tail_is_refused)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    write_rec(&f, 3, 0, 1, 1);
    char seg[600];
    seg_file(&f, 0, seg, sizeof(seg));
    off_t first_end = file_size(seg);
    write_rec(&f, 3, 0, 2, 9);
    /* A byte of slot 1's value: valid records follow the damaged one. */
    poke(seg, first_end - 5, 0x01);
    ck_assert_int_eq(fx_open(&f, 0, 0), CAIRN_E_CORRUPT);
    ck_assert_int_eq(file_size(seg) > first_end, 1); /* nothing was cut */
    poke(seg, first_end - 5, 0x01);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    expect_entries(&f, 1, 9);
    fx_done(&f);
}
END_TEST

START_TEST(test_damage_in_an_older_segment_is_refused)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 256, 0), 0);
    for (uint64_t s = 1; s <= 20; s += 4)
        write_rec(&f, 3, 0, s, s + 3);
    ck_assert_uint_gt(md_plog_segments(f.pl), 2);
    char seg[600];
    seg_file(&f, 1, seg, sizeof(seg));
    /* The last byte of an older segment (its tail, but not the log's). */
    poke(seg, file_size(seg) - 1, 0x80);
    ck_assert_int_eq(fx_open(&f, 256, 0), CAIRN_E_CORRUPT);
    fx_done(&f);
}
END_TEST

START_TEST(test_trim_deletes_segments_after_syncing_the_store)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 512, 0), 0);
    for (uint64_t s = 1; s <= 60; s += 4)
        write_rec(&f, 4, 0, s, s + 3);
    size_t segs = md_plog_segments(f.pl);
    ck_assert_uint_gt(segs, 4);
    /* The state machine wrote (unsynced) through the trim point. */
    struct md_batch *b = md_batch_new();
    ck_assert_int_eq(md_batch_put(b, "Sx", 2, "v", 1), 0);
    ck_assert_int_eq(md_store_write(f.store, b), 0);
    md_batch_free(b);
    ck_assert_uint_eq(md_store_mem_unsynced(f.store), 1);
    write_rec(&f, 4, 40, 61, 62);
    ck_assert_uint_lt(md_plog_segments(f.pl), segs);
    ck_assert_uint_eq(md_store_mem_unsynced(f.store), 0); /* synced before deleting */
    ck_assert_int_eq(fx_open(&f, 512, 40), 0);
    expect_entries(&f, 41, 62);
    ck_assert_uint_eq(f.rs.promised, 4);
    /* Trim everything: the promise still survives in the newest segment. */
    write_rec(&f, 6, 62, 0, 0);
    for (int i = 0; i < 3; i++)
        write_rec(&f, 6, 0, 0, 0);
    write_rec(&f, 8, 62, 63, 64); /* starts a segment: the older ones go */
    ck_assert_uint_le(md_plog_segments(f.pl), 2);
    ck_assert_int_eq(fx_open(&f, 512, 62), 0);
    ck_assert_uint_eq(f.rs.promised, 8);
    expect_entries(&f, 63, 64);
    fx_done(&f);
}
END_TEST

START_TEST(test_restart_needs_the_state_machine_through_the_trim)
{
    struct fx f;
    fx_init(&f);
    ck_assert_int_eq(fx_open(&f, 0, 0), 0);
    write_rec(&f, 2, 0, 1, 30);
    write_rec(&f, 2, 20, 31, 32);
    /* The state machine came back behind the trim: slots 16..20 are lost. */
    ck_assert_int_eq(fx_open(&f, 0, 15), CAIRN_E_CORRUPT);
    ck_assert_int_eq(fx_open(&f, 0, 20), 0);
    expect_entries(&f, 21, 32);
    ck_assert_int_eq(fx_open(&f, 0, 25), 0); /* entries at or below applied are fine */
    expect_entries(&f, 21, 32);
    fx_done(&f);
}
END_TEST

START_TEST(test_log_in_the_store_moves_to_files)
{
    struct fx f;
    fx_init(&f);
    /* An older replica: the log in the store. */
    struct md_plog *old;
    struct md_plog_restored ors;
    ck_assert_int_eq(md_plog_open(f.store, 0, &old, &ors), 0);
    md_plog_restored_free(&ors);
    struct md_plog *keep = f.pl;
    f.pl = old;
    write_rec(&f, 11, 0, 1, 12);
    write_rec(&f, 11, 4, 13, 14);
    f.pl = keep;
    md_plog_free(old);
    ck_assert_uint_eq(store_log_keys(f.store), 11); /* "Pp" and slots 5..14 */
    /* A move that crashed before its segment was whole left a temporary
     * file: it is thrown away and the move starts over from the keys. */
    char tmp[600];
    ck_assert_int_eq(mkdir(f.plog, 0755), 0);
    snprintf(tmp, sizeof(tmp), "%s/seg-0000000000000001.plog.tmp", f.plog);
    FILE *fp = fopen(tmp, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("CNPLOG1\nhalf a segment", fp);
    fclose(fp);
    ck_assert_int_eq(fx_open(&f, 0, 4), 0);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_uint_eq(f.rs.promised, 11);
    expect_entries(&f, 5, 14);
    ck_assert_uint_eq(store_log_keys(f.store), 0);
    ck_assert_uint_eq(md_plog_segments(f.pl), 1);
    /* From now on the files hold it. */
    write_rec(&f, 12, 0, 15, 15);
    ck_assert_int_eq(fx_open(&f, 0, 4), 0);
    ck_assert_uint_eq(f.rs.promised, 12);
    expect_entries(&f, 5, 15);
    /* Keys left by a move interrupted after the files were synced: the files
     * win, the keys go. */
    struct md_batch *b = md_batch_new();
    ck_assert_int_eq(md_batch_put(b, "Pp", 2, "\x08\x63", 2), 0);
    ck_assert_int_eq(md_store_write(f.store, b), 0);
    md_batch_free(b);
    ck_assert_uint_eq(store_log_keys(f.store), 1);
    ck_assert_int_eq(fx_open(&f, 0, 4), 0);
    ck_assert_uint_eq(f.rs.promised, 12);
    expect_entries(&f, 5, 15);
    ck_assert_uint_eq(store_log_keys(f.store), 0);
    fx_done(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_plog");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, test_promise_and_entries_survive_restart);
    tcase_add_test(tc, test_torn_tail_is_cut_off);
    tcase_add_test(tc, test_torn_write_of_several_frames_is_cut_off);
    tcase_add_test(tc, test_damage_before_the_tail_is_refused);
    tcase_add_test(tc, test_damage_in_an_older_segment_is_refused);
    tcase_add_test(tc, test_trim_deletes_segments_after_syncing_the_store);
    tcase_add_test(tc, test_restart_needs_the_state_machine_through_the_trim);
    tcase_add_test(tc, test_log_in_the_store_moves_to_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
