#include "cs_store.h"
#include "cs_store_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_codec.h"
#include "ec_crc.h"

#define MOD     "store"
#define ID_FILE "chunkserver-id"

struct cs_put {
    cs_store *store;
    cs_frag_meta meta;
    int fd;
    char tmp_path[PATH_MAX];
    cs_frag_writer *writer;
    uint64_t reserved; /* still counted in the store's inflight_bytes */
    uint64_t accepted; /* bytes taken by cs_put_write */
};

uint64_t cs_store_frag_hash(const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        h = (h ^ group[i]) * 0x100000001b3ull;
    for (int i = 0; i < 4; i++)
        h = (h ^ ((index >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    return h;
}

pthread_mutex_t *cs_store_stripe_lock(cs_store *s, const uint8_t *group, uint32_t index)
{
    return &s->stripe[(cs_store_frag_hash(group, index) >> 7) % LOCK_STRIPES];
}

void cs_store_frag_path(const cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                        char out[PATH_MAX])
{
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(group, hex);
    snprintf(out, PATH_MAX, "%s/%.2s/%.2s/%s.%u", s->frag_dir, hex, hex + 2, hex, index);
}

void cs_store_fsync_note(cs_store *s, int64_t t0)
{
    cs_hist_record(&s->fsync_hist, (uint64_t)(cn_mono_us() - t0));
}

/* A failed file-system call as the store reports it: running out of space
 * stays CAIRN_E_NOSPACE (a put answered 507 goes to another server),
 * anything else is CAIRN_E_IO. */
int cs_store_io_error(int rc)
{
    return rc == CAIRN_E_NOSPACE ? CAIRN_E_NOSPACE : CAIRN_E_IO;
}

int cs_store_fsync_dir(cs_store *s, const char *path)
{
    int64_t t0 = cn_mono_us();
    int rc = s->io->sync_dir(s->io, path);
    if (rc != 0)
        rc = cs_store_io_error(rc);
    cs_store_fsync_note(s, t0);
    return rc;
}

/* The directory holding path, as dirname(3) would name it. */
static void parent_dir(const char *path, char out[PATH_MAX])
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        snprintf(out, PATH_MAX, ".");
    else
        snprintf(out, PATH_MAX, "%.*s", (int)n, path);
}

/* mkdir that accepts an existing directory; *created says whether it was new. */
static int make_dir(cs_store *s, const char *path, bool *created)
{
    int rc = s->io->mkdir(s->io, path);
    if (rc == 0) {
        if (created)
            *created = true;
        return 0;
    }
    if (rc == CAIRN_E_EXISTS) {
        if (created)
            *created = false;
        return 0;
    }
    CN_ERROR(MOD, "mkdir %s: %s", path, strerror(errno));
    return cs_store_io_error(rc);
}

/* Makes sure frags/XX/YY of group exists and (durable mode) is itself durable
 * before any fragment is renamed into it. */
static bool bit_get(const uint8_t *bits, unsigned i)
{
    return bits[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *bits, unsigned i)
{
    bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

int cs_store_ensure_fanout(cs_store *s, const uint8_t *group)
{
    char l1[PATH_MAX], l2[PATH_MAX];
    snprintf(l1, sizeof(l1), "%s/%02x", s->frag_dir, group[0]);
    snprintf(l2, sizeof(l2), "%s/%02x/%02x", s->frag_dir, group[0], group[1]);
    unsigned b1 = group[0], b2 = group[0] * 256u + group[1];
    pthread_mutex_lock(&s->dir_lock);
    int rc = 0;
    if (!bit_get(s->l1_durable, b1)) {
        rc = make_dir(s, l1, NULL);
        if (rc == 0 && s->durable)
            rc = cs_store_fsync_dir(s, s->frag_dir);
        if (rc == 0)
            bit_set(s->l1_durable, b1);
    }
    if (rc == 0 && !bit_get(s->l2_durable, b2)) {
        rc = make_dir(s, l2, NULL);
        if (rc == 0 && s->durable)
            rc = cs_store_fsync_dir(s, l1);
        if (rc == 0)
            bit_set(s->l2_durable, b2);
    }
    pthread_mutex_unlock(&s->dir_lock);
    return rc;
}

static int list_fanout(cs_store *s, const char *path, uint8_t out[256], int *count);

/* At open: makes every existing fan-out directory durable in its parent
 * (one fsync of each frags/XX that has subdirectories, then of frags/) and
 * records them as known durable, so a directory left by a process that died
 * before syncing it is not trusted, and puts into existing directories pay
 * no extra fsync. */
static int sync_fanout(cs_store *s)
{
    uint8_t l1[256];
    int n1;
    int rc = list_fanout(s, s->frag_dir, l1, &n1);
    for (int i = 0; rc == 0 && i < n1; i++) {
        char p1[PATH_MAX];
        snprintf(p1, sizeof(p1), "%s/%02x", s->frag_dir, l1[i]);
        uint8_t l2[256];
        int n2;
        rc = list_fanout(s, p1, l2, &n2);
        if (rc == 0 && n2 > 0 && s->durable)
            rc = cs_store_fsync_dir(s, p1);
        for (int j = 0; rc == 0 && j < n2; j++)
            bit_set(s->l2_durable, l1[i] * 256u + l2[j]);
    }
    if (rc == 0 && n1 > 0 && s->durable)
        rc = cs_store_fsync_dir(s, s->frag_dir);
    for (int i = 0; rc == 0 && i < n1; i++)
        bit_set(s->l1_durable, l1[i]);
    return rc;
}

typedef struct tmp_sweep {
    cs_store *store;
    int removed;
} tmp_sweep;

static int remove_temporary(void *arg, const char *name)
{
    tmp_sweep *t = arg;
    cs_store *s = t->store;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->tmp_dir, name);
    if (s->io->unlink(s->io, path) == 0)
        t->removed++;
    else
        CN_WARN(MOD, "cannot remove temporary %s: %s", name, strerror(errno));
    return 0;
}

static int remove_temporaries(cs_store *s)
{
    tmp_sweep t = {.store = s};
    if (s->io->list(s->io, s->tmp_dir, remove_temporary, &t) != 0)
        return CAIRN_E_IO;
    if (t.removed > 0) {
        CN_INFO(MOD, "removed %d leftover temporary file(s)", t.removed);
        if (s->durable)
            s->io->sync_dir(s->io, s->tmp_dir);
    }
    return 0;
}

static int load_or_create_id(cs_store *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->dir, ID_FILE);
    char *text = NULL;
    size_t len = 0;
    int rc = cs_io_read_file(s->io, path, 256, &text, &len);
    if (rc == 0) {
        uint8_t raw[CS_ID_HEX_LEN / 2];
        if (len >= CS_ID_HEX_LEN && (len == CS_ID_HEX_LEN || text[CS_ID_HEX_LEN] == '\n')) {
            text[CS_ID_HEX_LEN] = '\0';
            rc = cn_hex_decode(text, raw, sizeof(raw));
        } else {
            rc = CAIRN_E_INVAL;
        }
        if (rc == 0)
            cn_hex_encode(raw, sizeof(raw), s->id);
        else
            CN_ERROR(MOD, "%s is not a valid chunkserver id", path);
        free(text);
        return rc == 0 ? 0 : CAIRN_E_CORRUPT;
    }
    if (rc != CAIRN_E_NOTFOUND)
        return rc;

    uint8_t raw[CS_ID_HEX_LEN / 2];
    rc = cn_random_bytes(raw, sizeof(raw));
    if (rc != 0)
        return rc;
    cn_hex_encode(raw, sizeof(raw), s->id);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/%s.new", s->tmp_dir, ID_FILE);
    int fd;
    if (s->io->open(s->io, tmp, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd) != 0)
        return CAIRN_E_IO;
    char line[CS_ID_HEX_LEN + 2];
    memcpy(line, s->id, CS_ID_HEX_LEN);
    line[CS_ID_HEX_LEN] = '\n';
    rc = cs_io_write_all(s->io, fd, line, CS_ID_HEX_LEN + 1, 0);
    if (rc == 0 && s->io->fsync(s->io, fd) != 0)
        rc = CAIRN_E_IO;
    s->io->close(s->io, fd);
    if (rc == 0 && s->io->rename(s->io, tmp, path) != 0)
        rc = CAIRN_E_IO;
    if (rc == 0 && s->io->sync_dir(s->io, s->dir) != 0)
        rc = CAIRN_E_IO;
    if (rc != 0) {
        s->io->unlink(s->io, tmp);
        return rc;
    }
    CN_INFO(MOD, "created chunkserver id %s", s->id);
    return 0;
}

static int count_one(void *arg, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    cs_store *s = arg;
    char path[PATH_MAX];
    cs_store_frag_path(s, group, index, path);
    cs_io_stat st;
    if (s->io->stat(s->io, path, &st) != 0)
        return 0;
    s->fragments++;
    s->fragment_bytes += st.size;
    s->digest ^= cs_store_frag_hash(group, index);
    return 0;
}

int cs_store_open(const cs_store_opts *opts, cs_store **out)
{
    /* Every path the store builds is the directory plus < 100 bytes. */
    if (opts->dir == NULL || opts->dir[0] == '\0' || strlen(opts->dir) > PATH_MAX - 200)
        return CAIRN_E_INVAL;
    cs_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CAIRN_E_NOMEM;
    int rc = CAIRN_E_NOMEM;
    s->dir = strdup(opts->dir);
    if (s->dir == NULL || asprintf(&s->tmp_dir, "%s/tmp", opts->dir) < 0) {
        s->tmp_dir = NULL;
        goto err_after_alloc;
    }
    if (asprintf(&s->frag_dir, "%s/frags", opts->dir) < 0) {
        s->frag_dir = NULL;
        goto err_after_alloc;
    }

    s->io = opts->io ? opts->io : cs_io_posix();
    s->durable = opts->durable;
    s->reserve_bytes = opts->reserve_bytes;
    s->writeback_bytes = opts->writeback_bytes;
    atomic_init(&s->tmp_seq, 0);
    cs_hist_init(&s->fsync_hist);
    for (int i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&s->stripe[i], NULL);
    pthread_mutex_init(&s->dir_lock, NULL);
    pthread_mutex_init(&s->lock, NULL);

    bool c1 = false, c2 = false, c3 = false;
    rc = make_dir(s, s->dir, &c1);
    if (rc == 0)
        rc = make_dir(s, s->tmp_dir, &c2);
    if (rc == 0)
        rc = make_dir(s, s->frag_dir, &c3);
    /* What is found existing may have been made by a process that died
     * before syncing it (a data directory, tmp/, frags/, an id renamed into
     * place): in durable mode the data directory and, best effort unless we
     * created it, its parent are synced at every open. */
    char parent[PATH_MAX];
    parent_dir(s->dir, parent);
    if (rc == 0 && (c1 || s->durable) && s->io->sync_dir(s->io, parent) != 0) {
        if (c1)
            rc = CAIRN_E_IO;
        else
            CN_WARN(MOD, "cannot fsync %s, the parent of the data directory: %s", parent,
                    strerror(errno));
    }
    if (rc == 0 && (c2 || c3 || s->durable) && s->io->sync_dir(s->io, s->dir) != 0)
        rc = CAIRN_E_IO;
    if (rc != 0)
        goto err_after_locks;
    /* Another process on the same directory would have its temporaries
     * removed under it and its renames raced: refuse to share. */
    char lock_path[PATH_MAX];
    snprintf(lock_path, sizeof(lock_path), "%s/lock", s->dir);
    if (s->io->open(s->io, lock_path, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE, &s->lock_fd) != 0) {
        CN_ERROR(MOD, "cannot open %s: %s", lock_path, strerror(errno));
        rc = CAIRN_E_IO;
        goto err_after_locks;
    }
    rc = s->io->lock(s->io, s->lock_fd);
    if (rc != 0) {
        if (rc == CAIRN_E_BUSY)
            CN_ERROR(MOD, "data directory %s is in use by another process", s->dir);
        else
            CN_ERROR(MOD, "cannot lock %s: %s", lock_path, strerror(errno));
        rc = rc == CAIRN_E_BUSY ? CAIRN_E_BUSY : CAIRN_E_IO;
        goto err_after_lockfile;
    }
    rc = remove_temporaries(s);
    if (rc != 0)
        goto err_after_lockfile;
    rc = load_or_create_id(s);
    if (rc != 0)
        goto err_after_lockfile;
    rc = sync_fanout(s);
    if (rc != 0)
        goto err_after_lockfile;
    rc = cs_store_foreach(s, NULL, 0, count_one, s);
    if (rc != 0)
        goto err_after_lockfile;
    rc = cs_store_open_recover(s);
    if (rc != 0)
        goto err_after_lockfile;
    CN_INFO(MOD, "opened %s: id %s, %llu fragment(s), %llu bytes, %s", s->dir, s->id,
            (unsigned long long)s->fragments, (unsigned long long)s->fragment_bytes,
            s->durable ? "durable" : "NOT durable (sync=none)");
    *out = s;
    return 0;

err_after_lockfile:
    s->io->close(s->io, s->lock_fd);
err_after_locks:
    for (int i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&s->stripe[i]);
    pthread_mutex_destroy(&s->dir_lock);
    pthread_mutex_destroy(&s->lock);
err_after_alloc:
    free(s->frag_dir);
    free(s->tmp_dir);
    free(s->dir);
    free(s);
    return rc;
}

void cs_store_free(cs_store *s)
{
    if (s == NULL)
        return;
    s->io->close(s->io, s->lock_fd); /* releases the flock */
    for (int i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&s->stripe[i]);
    pthread_mutex_destroy(&s->dir_lock);
    pthread_mutex_destroy(&s->lock);
    free(s->frag_dir);
    free(s->tmp_dir);
    free(s->dir);
    free(s);
}

const char *cs_store_id(const cs_store *s)
{
    return s->id;
}

const char *cs_store_dir(const cs_store *s)
{
    return s->dir;
}

const cs_io *cs_store_io(const cs_store *s)
{
    return s->io;
}

bool cs_store_durable(const cs_store *s)
{
    return s->durable;
}

const cs_hist *cs_store_fsync_hist(const cs_store *s)
{
    return &s->fsync_hist;
}

static int cs_store_fs_space(const cs_store *s, uint64_t *capacity, uint64_t *avail)
{
    return s->io->space(s->io, s->dir, capacity, avail) == 0 ? 0 : CAIRN_E_IO;
}

int cs_store_reserve(cs_store *s, uint64_t need)
{
    uint64_t capacity, avail;
    int rc = cs_store_fs_space(s, &capacity, &avail);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&s->lock);
    bool fits = avail >= s->reserve_bytes && avail - s->reserve_bytes >= s->inflight_bytes &&
                avail - s->reserve_bytes - s->inflight_bytes >= need;
    if (fits)
        s->inflight_bytes += need;
    pthread_mutex_unlock(&s->lock);
    return fits ? 0 : CAIRN_E_NOSPACE;
}

void cs_store_release(cs_store *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->lock);
    s->inflight_bytes -= bytes;
    pthread_mutex_unlock(&s->lock);
}

void cs_store_count_added(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                          uint64_t size)
{
    pthread_mutex_lock(&s->lock);
    s->fragments++;
    s->fragment_bytes += size;
    s->digest ^= cs_store_frag_hash(group, index);
    pthread_mutex_unlock(&s->lock);
}

int cs_store_put_begin(cs_store *s, const cs_frag_meta *meta, cs_put **out)
{
    if (cs_frag_meta_check(meta) != 0)
        return CAIRN_E_INVAL;
    /* The file plus a little for its inode and directory entry. */
    uint64_t need = cs_frag_file_size(meta->data_len) + 8192;
    int rc = cs_store_reserve(s, need);
    if (rc != 0)
        return rc;

    cs_put *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = CAIRN_E_NOMEM;
        goto err_after_reserve;
    }
    p->store = s;
    p->meta = *meta;
    p->reserved = need;
    char hex[CS_GROUP_HEX_LEN + 1];
    cs_group_format(meta->group, hex);
    unsigned long long seq = atomic_fetch_add(&s->tmp_seq, 1);
    snprintf(p->tmp_path, sizeof(p->tmp_path), "%s/%s.%u.%llu.tmp", s->tmp_dir, hex, meta->index,
             seq);
    rc = s->io->open(s->io, p->tmp_path, CS_IO_WRITE | CS_IO_CREATE | CS_IO_EXCL, &p->fd);
    if (rc != 0) {
        CN_ERROR(MOD, "create %s: %s", p->tmp_path, strerror(errno));
        rc = cs_store_io_error(rc);
        goto err_after_put;
    }
    rc = cs_frag_writer_new(s->io, p->fd, meta, s->durable ? s->writeback_bytes : 0, &p->writer);
    if (rc != 0)
        goto err_after_open;
    *out = p;
    return 0;

err_after_open:
    s->io->close(s->io, p->fd);
    s->io->unlink(s->io, p->tmp_path);
err_after_put:
    free(p);
err_after_reserve:
    cs_store_release(s, need);
    return rc;
}

/* Data now in the file shows in the filesystem's free space: stop counting
 * it as promised too (keep the header, table and slack promised). */
static void release_written(cs_put *p, size_t len)
{
    uint64_t release = len;
    uint64_t keep = CS_FRAG_HEADER_LEN + 4 * cs_frag_block_count(p->meta.data_len) + 8192;
    if (p->reserved < keep + release)
        release = p->reserved > keep ? p->reserved - keep : 0;
    if (release > 0) {
        cs_store *s = p->store;
        pthread_mutex_lock(&s->lock);
        s->inflight_bytes -= release;
        pthread_mutex_unlock(&s->lock);
        p->reserved -= release;
    }
}

int cs_put_write(cs_put *p, const void *buf, size_t len)
{
    int rc = cs_frag_writer_append(p->writer, buf, len);
    if (rc == 0) {
        p->accepted += len;
        release_written(p, len);
    }
    return rc;
}

uint64_t cs_put_written(const cs_put *p)
{
    return p->accepted;
}

static void put_release(cs_put *p, bool remove_tmp)
{
    cs_store *s = p->store;
    if (p->fd >= 0)
        s->io->close(s->io, p->fd);
    if (remove_tmp)
        s->io->unlink(s->io, p->tmp_path);
    cs_frag_writer_free(p->writer);
    pthread_mutex_lock(&s->lock);
    s->inflight_bytes -= p->reserved;
    pthread_mutex_unlock(&s->lock);
    free(p);
}

void cs_put_abort(cs_put *p)
{
    if (p != NULL)
        put_release(p, true);
}

/* Compares a committed file with the new content. Returns 1 if identical
 * (and every stored block verifies), 0 if different, or a negative CAIRN_E_*
 * when the existing file is unreadable or damaged. */
static int same_content(cs_store *s, const char *path, const cs_frag_meta *meta, uint32_t table_crc)
{
    int fd;
    if (s->io->open(s->io, path, CS_IO_READ, &fd) != 0)
        return CAIRN_E_CORRUPT;
    cs_frag_reader *r;
    if (cs_frag_reader_open(s->io, fd, &r) != 0) {
        s->io->close(s->io, fd);
        return CAIRN_E_CORRUPT;
    }
    const cs_frag_meta *old = cs_frag_reader_meta(r);
    int same = memcmp(old->group, meta->group, CS_GROUP_ID_LEN) == 0 && old->index == meta->index &&
               old->k == meta->k && old->m == meta->m && old->unit == meta->unit &&
               old->data_len == meta->data_len && old->data_crc == meta->data_crc &&
               cs_frag_reader_table_crc(r) == table_crc;
    if (same) {
        /* Identical by description: make sure the stored bytes still are, or
         * a re-put meant to repair a damaged copy would be a no-op. */
        uint8_t *scratch = malloc(EC_CRC_BLOCK);
        if (scratch == NULL) {
            same = CAIRN_E_CORRUPT;
        } else {
            uint64_t blocks = cs_frag_block_count(old->data_len);
            for (uint64_t b = 0; b < blocks && same == 1; b++)
                if (cs_frag_reader_verify_block(r, b, scratch) != 0)
                    same = CAIRN_E_CORRUPT;
            free(scratch);
        }
    }
    cs_frag_reader_close(r);
    return same;
}

int cs_put_commit(cs_put *p, bool check_crc, uint32_t expected_crc, bool replace,
                  enum cs_put_result *result)
{
    cs_store *s = p->store;
    uint32_t data_crc;
    int rc = cs_frag_writer_finish(p->writer, &data_crc);
    if (rc != 0)
        goto err;
    if (check_crc && data_crc != expected_crc) {
        rc = CAIRN_E_CORRUPT;
        goto err;
    }
    p->meta.data_crc = data_crc;
    uint32_t table_crc = cs_frag_writer_table_crc(p->writer);
    if (s->durable) {
        int64_t t0 = cn_mono_us();
        int frc = s->io->fdatasync(s->io, p->fd);
        cs_store_fsync_note(s, t0);
        if (frc != 0) {
            CN_ERROR(MOD, "fdatasync %s: %s", p->tmp_path, strerror(errno));
            rc = cs_store_io_error(frc);
            goto err;
        }
    }
    s->io->close(s->io, p->fd);
    p->fd = -1;
    rc = cs_store_ensure_fanout(s, p->meta.group);
    if (rc != 0)
        goto err;

    char path[PATH_MAX];
    cs_store_frag_path(s, p->meta.group, p->meta.index, path);
    pthread_mutex_t *lk = cs_store_stripe_lock(s, p->meta.group, p->meta.index);
    pthread_mutex_lock(lk);
    cs_io_stat old_st;
    rc = s->io->stat(s->io, path, &old_st);
    bool existed = rc == 0;
    if (rc != 0 && rc != CAIRN_E_NOTFOUND) {
        /* Not knowing whether a copy is stored, do not rename over it. */
        CN_ERROR(MOD, "stat %s: %s", path, strerror(errno));
        pthread_mutex_unlock(lk);
        rc = CAIRN_E_IO;
        goto err;
    }
    rc = 0;
    enum cs_put_result res = CS_PUT_CREATED;
    if (existed) {
        int same = same_content(s, path, &p->meta, table_crc);
        if (same == 1) {
            /* The stored copy may come from a commit whose directory sync
             * failed; sync again before acknowledging it. */
            if (s->durable) {
                char dir[PATH_MAX];
                snprintf(dir, sizeof(dir), "%s", path);
                *strrchr(dir, '/') = '\0';
                rc = cs_store_fsync_dir(s, dir);
            }
            pthread_mutex_unlock(lk);
            put_release(p, true);
            if (rc != 0)
                return rc;
            if (result)
                *result = CS_PUT_IDENTICAL;
            return 0;
        }
        if (same == 0 && !replace) {
            pthread_mutex_unlock(lk);
            rc = CAIRN_E_EXISTS;
            goto err;
        }
        res = CS_PUT_REPLACED;
    }
    rc = s->io->rename(s->io, p->tmp_path, path);
    if (rc != 0) {
        CN_ERROR(MOD, "rename %s -> %s: %s", p->tmp_path, path, strerror(errno));
        pthread_mutex_unlock(lk);
        rc = cs_store_io_error(rc);
        goto err;
    }
    if (s->durable) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = '\0';
        rc = cs_store_fsync_dir(s, dir);
    }
    pthread_mutex_unlock(lk);
    uint64_t new_size = cs_frag_file_size(p->meta.data_len);
    pthread_mutex_lock(&s->lock);
    if (existed) {
        s->fragment_bytes -= old_st.size;
    } else {
        s->fragments++;
        s->digest ^= cs_store_frag_hash(p->meta.group, p->meta.index);
    }
    s->fragment_bytes += new_size;
    pthread_mutex_unlock(&s->lock);
    put_release(p, false);
    if (rc != 0) {
        /* The rename happened but its directory could not be synced: the
         * fragment is visible yet not known durable, so it is not acknowledged. */
        CN_ERROR(MOD, "fsync of directory of %s failed", path);
        return rc;
    }
    if (result)
        *result = res;
    return 0;

err:
    put_release(p, true);
    return rc;
}

int cs_store_open_fragment(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                           cs_frag_reader **out)
{
    char path[PATH_MAX];
    cs_store_frag_path(s, group, index, path);
    int fd;
    int rc = s->io->open(s->io, path, CS_IO_READ, &fd);
    if (rc == CAIRN_E_NOTFOUND) {
        /* Not sealed yet? (Or sealed just now: then look again.) */
        rc = cs_store_open_reader(s, group, index, out);
        if (rc != CAIRN_E_NOTFOUND)
            return rc;
        rc = s->io->open(s->io, path, CS_IO_READ, &fd);
    }
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    rc = cs_frag_reader_open(s->io, fd, out);
    if (rc != 0) {
        s->io->close(s->io, fd);
        return rc;
    }
    const cs_frag_meta *m = cs_frag_reader_meta(*out);
    if (memcmp(m->group, group, CS_GROUP_ID_LEN) != 0 || m->index != index) {
        /* A valid file under the wrong name is damage too. */
        cs_frag_reader_close(*out);
        *out = NULL;
        return CAIRN_E_CORRUPT;
    }
    return 0;
}

int cs_store_fragment_mtime(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                            int64_t *mtime_s)
{
    char path[PATH_MAX];
    cs_store_frag_path(s, group, index, path);
    cs_io_stat st;
    int rc = s->io->stat(s->io, path, &st);
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    *mtime_s = st.mtime_s;
    return 0;
}

/* "Not found" is an answer callers act on (a retried delete takes it for
 * done), so in durable mode it is made durable first: the directory where
 * the fragment would be is synced, so an earlier unlink whose directory
 * sync failed or was cut short by a crash cannot come back after a power
 * loss. Returns CAIRN_E_NOTFOUND, or CAIRN_E_IO if that sync fails. */
static int durable_absence(cs_store *s, const char *path)
{
    if (!s->durable)
        return CAIRN_E_NOTFOUND;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    int64_t t0 = cn_mono_us();
    int rc = s->io->sync_dir(s->io, dir);
    cs_store_fsync_note(s, t0);
    return rc == 0 || rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
}

int cs_store_delete(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    return cs_store_delete_older(s, group, index, INT64_MAX);
}

int cs_store_delete_older(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                          int64_t cutoff_s)
{
    char path[PATH_MAX];
    cs_store_frag_path(s, group, index, path);
    pthread_mutex_t *lk = cs_store_stripe_lock(s, group, index);
    pthread_mutex_lock(lk);
    cs_io_stat st;
    int rc = s->io->stat(s->io, path, &st);
    if (rc == CAIRN_E_NOTFOUND && cutoff_s == INT64_MAX) {
        /* Not sealed: an open fragment of an abandoned group goes the same
         * way (the orphan collector's delete_older never touches one). */
        rc = cs_store_open_delete_locked(s, group, index);
        if (rc != CAIRN_E_NOTFOUND) {
            pthread_mutex_unlock(lk);
            return rc;
        }
    }
    if (rc != 0) {
        rc = rc == CAIRN_E_NOTFOUND ? durable_absence(s, path) : CAIRN_E_IO;
        pthread_mutex_unlock(lk);
        return rc;
    }
    if (st.mtime_s >= cutoff_s) {
        pthread_mutex_unlock(lk);
        return CAIRN_E_EXISTS;
    }
    rc = s->io->unlink(s->io, path);
    if (rc != 0) {
        rc = rc == CAIRN_E_NOTFOUND ? durable_absence(s, path) : CAIRN_E_IO;
        pthread_mutex_unlock(lk);
        return rc;
    }
    if (s->durable) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = '\0';
        if (cs_store_fsync_dir(s, dir) != 0)
            rc = CAIRN_E_IO; /* a delete is never 'no space' */
    }
    pthread_mutex_unlock(lk);
    pthread_mutex_lock(&s->lock);
    s->fragments--;
    s->fragment_bytes -= st.size;
    s->digest ^= cs_store_frag_hash(group, index);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cs_store_stats_get(cs_store *s, cs_store_stats *out)
{
    uint64_t capacity, avail;
    int rc = cs_store_fs_space(s, &capacity, &avail);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    out->capacity_bytes = capacity;
    out->free_bytes = avail;
    out->reserve_bytes = s->reserve_bytes;
    out->inflight_bytes = s->inflight_bytes;
    uint64_t taken = s->reserve_bytes + s->inflight_bytes;
    out->usable_bytes = avail > taken ? avail - taken : 0;
    out->fragments = s->fragments;
    out->fragment_bytes = s->fragment_bytes;
    out->inventory_digest = s->digest;
    out->open_fragments = s->open_fragments;
    out->open_bytes = s->open_bytes;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Parses a two-hex-digit fan-out directory name: its byte value, or
 * CAIRN_E_INVAL. */
static int parse_byte_name(const char *name)
{
    uint8_t b;
    if (strlen(name) != 2 || cn_hex_decode(name, &b, 1) != 0)
        return CAIRN_E_INVAL;
    return b;
}

/* Parses "<32 hex>.<index>"; returns 0 or CAIRN_E_INVAL. */
static int parse_frag_name(const char *name, uint8_t group[CS_GROUP_ID_LEN], uint32_t *index)
{
    if (strlen(name) < CS_GROUP_HEX_LEN + 2 || name[CS_GROUP_HEX_LEN] != '.')
        return CAIRN_E_INVAL;
    char hex[CS_GROUP_HEX_LEN + 1];
    memcpy(hex, name, CS_GROUP_HEX_LEN);
    hex[CS_GROUP_HEX_LEN] = '\0';
    uint64_t v;
    if (cs_group_parse(hex, group) != 0 ||
        cn_parse_u64(name + CS_GROUP_HEX_LEN + 1, EC_MAX_FRAGS - 1, &v) != 0)
        return CAIRN_E_INVAL;
    *index = (uint32_t)v;
    return 0;
}

typedef struct frag_name {
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
} frag_name;

static int frag_name_cmp(const void *a, const void *b)
{
    const frag_name *x = a, *y = b;
    int c = memcmp(x->group, y->group, CS_GROUP_ID_LEN);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int note_fanout(void *arg, const char *name)
{
    bool *seen = arg;
    int b = parse_byte_name(name);
    if (b >= 0)
        seen[b] = true;
    return 0;
}

/* Sorted byte values of the two-hex-digit subdirectories of path. */
static int list_fanout(cs_store *s, const char *path, uint8_t out[256], int *count)
{
    *count = 0;
    bool seen[256] = {false};
    int rc = s->io->list(s->io, path, note_fanout, seen);
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? 0 : CAIRN_E_IO;
    for (int b = 0; b < 256; b++)
        if (seen[b])
            out[(*count)++] = (uint8_t)b;
    return 0;
}

/* The fragment names of one leaf directory, after `after`. */
typedef struct leaf_names {
    const frag_name *after;
    frag_name *names;
    size_t n, cap;
} leaf_names;

static int collect_frag_name(void *arg, const char *name)
{
    leaf_names *l = arg;
    frag_name f;
    if (parse_frag_name(name, f.group, &f.index) != 0)
        return 0;
    if (l->after != NULL && frag_name_cmp(&f, l->after) <= 0)
        return 0;
    if (l->n == l->cap) {
        frag_name *bigger = realloc(l->names, 2 * l->cap * sizeof(*l->names));
        if (bigger == NULL)
            return CAIRN_E_NOMEM;
        l->names = bigger;
        l->cap *= 2;
    }
    l->names[l->n++] = f;
    return 0;
}

static int visit_leaf(cs_store *s, const char *path, const frag_name *after, cs_store_visit_fn fn,
                      void *arg)
{
    leaf_names l = {.after = after, .cap = 64};
    l.names = malloc(l.cap * sizeof(*l.names));
    if (l.names == NULL)
        return CAIRN_E_NOMEM;
    int rc = s->io->list(s->io, path, collect_frag_name, &l);
    if (rc != 0) {
        free(l.names);
        return rc == CAIRN_E_NOTFOUND ? 0 : rc == CAIRN_E_NOMEM ? CAIRN_E_NOMEM : CAIRN_E_IO;
    }
    qsort(l.names, l.n, sizeof(*l.names), frag_name_cmp);
    for (size_t i = 0; i < l.n && rc == 0; i++)
        rc = fn(arg, l.names[i].group, l.names[i].index);
    free(l.names);
    return rc;
}

int cs_store_foreach(cs_store *s, const uint8_t *after_group, uint32_t after_index,
                     cs_store_visit_fn fn, void *arg)
{
    frag_name after;
    if (after_group) {
        memcpy(after.group, after_group, CS_GROUP_ID_LEN);
        after.index = after_index;
    }
    uint8_t l1[256];
    int n1;
    int rc = list_fanout(s, s->frag_dir, l1, &n1);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n1; i++) {
        if (after_group && l1[i] < after.group[0])
            continue;
        char p1[PATH_MAX];
        snprintf(p1, sizeof(p1), "%s/%02x", s->frag_dir, l1[i]);
        uint8_t l2[256];
        int n2;
        rc = list_fanout(s, p1, l2, &n2);
        if (rc != 0)
            return rc;
        for (int j = 0; j < n2; j++) {
            if (after_group && l1[i] == after.group[0] && l2[j] < after.group[1])
                continue;
            char p2[PATH_MAX + 8];
            snprintf(p2, sizeof(p2), "%s/%02x", p1, l2[j]);
            rc = visit_leaf(s, p2, after_group ? &after : NULL, fn, arg);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}
