/* Open fragments: the fragments of a packed chunk group (issue #17), which
 * grow by appends until the group is sealed.
 *
 *   DIR/frags/XX/YY/<group>.<i>.open   the data file: 64 bytes reserved for
 *                                      the sealed file's header, then the data
 *   DIR/frags/XX/YY/<group>.<i>.crc    the CRC file, little-endian:
 *       0   header (64 bytes): magic "CAIRNOPN", version u16 (1), header
 *           length u16 (64), block u32 (= unit), group 16 bytes, index u32,
 *           k u16, m u16, unit u32, zeros, header CRC32C u32 at 60
 *       64  two commit slots of 16 bytes: length u64, seq u32, CRC32C u32 of
 *           the first 12 bytes; the valid slot with the higher seq holds
 *           the acknowledged length (append n writes slot n % 2)
 *       128 one CRC32C u32 per block (unit bytes) of data
 *
 * An append covers whole units at the current length: data, then its CRCs,
 * then the next commit slot are written; both files are fdatasync'd (and,
 * for the first append, their directory) before it is acknowledged. A crash
 * before that may leave the data or the slot partly written: the older slot
 * then still names the acknowledged length, and bytes past it (which no
 * object can reference: nothing past an acknowledged length is committed in
 * the metadata) are ignored. Acknowledged bytes and their CRCs are never
 * written again.
 *
 * Sealing checks every unit of [0, length) against its CRC, writes the
 * 64 KiB CRC table and the header of an ordinary fragment file (format 1)
 * into the data file and renames it to the fragment's name in the same
 * directory (one atomic change): the result is byte for byte
 * the file a PUT of the same data would have stored, so scrub, rebuild,
 * drain and GC treat sealed groups like any other. A data file holding more
 * than the sealed length (an append that was never acknowledged) is copied
 * through an ordinary put instead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "cs_store.h"
#include "cs_store_int.h"
#include "ec_codec.h"
#include "ec_crc.h"

#define MOD             "store"
#define OPN_MAGIC       "CAIRNOPN"
#define OPN_VERSION     1
#define OPN_HEADER      64
#define OPN_SLOTS       64
#define OPN_SLOT_LEN    16
#define OPN_TABLE       128
#define OPN_CRC_SUFFIX  ".crc"
#define OPN_DATA_SUFFIX ".open"

/* The open fragment's files live beside the sealed fragment they become, so
 * sealing is a rename within one directory: one atomic change, whatever a
 * crash keeps of the directory's unsynced entries. */
static void open_paths(const cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                       char data[PATH_MAX], char crc[PATH_MAX])
{
    char sealed[PATH_MAX];
    cs_store_frag_path(s, group, index, sealed);
    snprintf(data, PATH_MAX, "%.*s" OPN_DATA_SUFFIX, PATH_MAX - 16, sealed);
    snprintf(crc, PATH_MAX, "%.*s" OPN_CRC_SUFFIX, PATH_MAX - 16, sealed);
}

/* The fan-out directory holding the fragment's files. */
static void leaf_dir(const cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], char out[PATH_MAX])
{
    cs_store_frag_path(s, group, 0, out);
    *strrchr(out, '/') = '\0';
}

int cs_store_append_check(const cs_frag_meta *meta, uint64_t offset, size_t len)
{
    cs_frag_meta m = *meta;
    m.data_len = 0;
    if (cs_frag_meta_check(&m) != 0 || m.unit < 512 || m.unit > EC_CRC_BLOCK ||
        EC_CRC_BLOCK % m.unit != 0)
        return CAIRN_E_INVAL;
    if (len == 0 || len > CS_APPEND_MAX || len % m.unit != 0 || offset % m.unit != 0 ||
        offset > CS_FRAG_MAX_LEN || len > CS_FRAG_MAX_LEN - offset)
        return CAIRN_E_INVAL;
    return 0;
}

/* ------------------------------------------------------------ the state -- */

/* What the CRC file says of an open fragment. */
struct open_state {
    cs_frag_meta meta; /* group, index, k, m, unit; data_len = acknowledged length */
    uint32_t seq;      /* of the slot in force */
};

static void header_encode(const cs_frag_meta *m, uint8_t out[OPN_HEADER])
{
    memset(out, 0, OPN_HEADER);
    memcpy(out, OPN_MAGIC, 8);
    cs_le_put_u16(out + 8, OPN_VERSION);
    cs_le_put_u16(out + 10, OPN_HEADER);
    cs_le_put_u32(out + 12, m->unit);
    memcpy(out + 16, m->group, CS_GROUP_ID_LEN);
    cs_le_put_u32(out + 32, m->index);
    cs_le_put_u16(out + 36, m->k);
    cs_le_put_u16(out + 38, m->m);
    cs_le_put_u32(out + 40, m->unit);
    cs_le_put_u32(out + 60, ec_crc32c(out, 60));
}

static void slot_encode(uint64_t length, uint32_t seq, uint8_t out[OPN_SLOT_LEN])
{
    cs_le_put_u64(out, length);
    cs_le_put_u32(out + 8, seq);
    cs_le_put_u32(out + 12, ec_crc32c(out, 12));
}

/* Decodes the first OPN_TABLE bytes of a CRC file. CAIRN_E_CORRUPT when the
 * header is bad or no slot is valid. */
static int state_decode(const uint8_t in[OPN_TABLE], struct open_state *st)
{
    if (memcmp(in, OPN_MAGIC, 8) != 0 || cs_le_get_u16(in + 8) != OPN_VERSION ||
        cs_le_get_u16(in + 10) != OPN_HEADER || cs_le_get_u32(in + 60) != ec_crc32c(in, 60))
        return CAIRN_E_CORRUPT;
    memset(st, 0, sizeof(*st));
    memcpy(st->meta.group, in + 16, CS_GROUP_ID_LEN);
    st->meta.index = cs_le_get_u32(in + 32);
    st->meta.k = cs_le_get_u16(in + 36);
    st->meta.m = cs_le_get_u16(in + 38);
    st->meta.unit = cs_le_get_u32(in + 40);
    if (cs_le_get_u32(in + 12) != st->meta.unit ||
        cs_store_append_check(&st->meta, 0, st->meta.unit))
        return CAIRN_E_CORRUPT;
    int found = 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *sl = in + OPN_SLOTS + i * OPN_SLOT_LEN;
        if (cs_le_get_u32(sl + 12) != ec_crc32c(sl, 12))
            continue;
        uint64_t len = cs_le_get_u64(sl);
        uint32_t seq = cs_le_get_u32(sl + 8);
        if (len % st->meta.unit != 0 || len > CS_FRAG_MAX_LEN || seq % 2 != (uint32_t)i)
            continue;
        if (!found || seq > st->seq) {
            st->seq = seq;
            st->meta.data_len = len;
            found = 1;
        }
    }
    return found ? 0 : CAIRN_E_CORRUPT;
}

/* Reads the state of an open fragment from its CRC file (fd open). A slot
 * can land in a crash while the CRCs or data it counts did not: the length
 * is capped by the CRCs the file holds and, when data_path is given, by the
 * data file's size (what is cut off was never acknowledged). */
static int state_read(cs_store *s, int crc_fd, const char *data_path, struct open_state *st)
{
    uint8_t head[OPN_TABLE];
    int rc = cs_io_read_all(s->io, crc_fd, head, sizeof(head), 0);
    if (rc == CAIRN_E_CORRUPT)
        return CAIRN_E_CORRUPT; /* shorter than its header */
    if (rc != 0)
        return CAIRN_E_IO;
    if ((rc = state_decode(head, st)) != 0)
        return rc;
    cs_io_stat fs;
    if (s->io->fstat(s->io, crc_fd, &fs) != 0)
        return CAIRN_E_IO;
    uint64_t units = (fs.size - OPN_TABLE) / 4;
    if (data_path) {
        rc = s->io->stat(s->io, data_path, &fs);
        if (rc != 0)
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
        uint64_t d =
            fs.size > CS_FRAG_HEADER_LEN ? (fs.size - CS_FRAG_HEADER_LEN) / st->meta.unit : 0;
        if (d < units)
            units = d;
    }
    if (st->meta.data_len > units * st->meta.unit)
        st->meta.data_len = units * st->meta.unit;
    return 0;
}

static bool same_shape(const cs_frag_meta *a, const cs_frag_meta *b)
{
    return memcmp(a->group, b->group, CS_GROUP_ID_LEN) == 0 && a->index == b->index &&
           a->k == b->k && a->m == b->m && a->unit == b->unit;
}

static int sync_leaf(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN])
{
    if (!s->durable)
        return 0;
    char dir[PATH_MAX];
    leaf_dir(s, group, dir);
    return cs_store_fsync_dir(s, dir);
}

static int datasync(cs_store *s, int fd, const char *what)
{
    if (!s->durable)
        return 0;
    int64_t t0 = cn_mono_us();
    int rc = s->io->fdatasync(s->io, fd);
    cs_store_fsync_note(s, t0);
    if (rc != 0) {
        CN_ERROR(MOD, "fdatasync %s: %s", what, strerror(errno));
        return cs_store_io_error(rc);
    }
    return 0;
}

/* Opens (or, for offset 0, creates) the two files of an open fragment. */
static int files_open(cs_store *s, const cs_frag_meta *meta, bool create, int *data_fd, int *crc_fd,
                      bool *created, const char *data_path, const char *crc_path)
{
    *created = false;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ | CS_IO_WRITE, crc_fd);
    if (rc == 0) {
        rc = s->io->open(s->io, data_path, CS_IO_READ | CS_IO_WRITE, data_fd);
        if (rc != 0) {
            s->io->close(s->io, *crc_fd);
            CN_ERROR(MOD, "open fragment %s has no data file", crc_path);
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : CAIRN_E_IO;
        }
        return 0;
    }
    if (rc != CAIRN_E_NOTFOUND)
        return CAIRN_E_IO;
    if (!create)
        return CAIRN_E_NOTFOUND;
    /* A data file without its CRC file is what a crash in a creation
     * leaves: it holds nothing acknowledged. */
    rc = s->io->open(s->io, data_path, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC,
                     data_fd);
    if (rc != 0)
        return cs_store_io_error(rc);
    rc = s->io->open(s->io, crc_path, CS_IO_READ | CS_IO_WRITE | CS_IO_CREATE | CS_IO_EXCL, crc_fd);
    if (rc != 0) {
        s->io->close(s->io, *data_fd);
        return cs_store_io_error(rc);
    }
    uint8_t head[OPN_TABLE] = {0};
    header_encode(meta, head);
    slot_encode(0, 0, head + OPN_SLOTS);
    rc = cs_io_write_all(s->io, *crc_fd, head, sizeof(head), 0);
    uint8_t zero[CS_FRAG_HEADER_LEN] = {0};
    if (rc == 0)
        rc = cs_io_write_all(s->io, *data_fd, zero, sizeof(zero), 0);
    if (rc != 0) {
        s->io->close(s->io, *data_fd);
        s->io->close(s->io, *crc_fd);
        s->io->unlink(s->io, crc_path);
        s->io->unlink(s->io, data_path);
        return cs_store_io_error(rc);
    }
    *created = true;
    return 0;
}

/* The CRCs of the first n units, from the CRC file. */
static int entries_read(cs_store *s, int crc_fd, uint64_t first, uint64_t n, uint32_t *out)
{
    if (n == 0)
        return 0;
    uint8_t *raw = malloc(n * 4);
    if (raw == NULL)
        return CAIRN_E_NOMEM;
    int rc = cs_io_read_all(s->io, crc_fd, raw, n * 4, OPN_TABLE + first * 4);
    if (rc == 0)
        for (uint64_t i = 0; i < n; i++)
            out[i] = cs_le_get_u32(raw + 4 * i);
    free(raw);
    return rc == 0 ? 0 : rc == CAIRN_E_CORRUPT ? CAIRN_E_CORRUPT : CAIRN_E_IO;
}

/* ------------------------------------------------------------- appends -- */

int cs_store_append(cs_store *s, const cs_frag_meta *meta, uint64_t offset, const void *buf,
                    size_t len, uint64_t *length)
{
    int rc = cs_store_append_check(meta, offset, len);
    if (rc != 0)
        return rc;
    char data_path[PATH_MAX], crc_path[PATH_MAX], sealed[PATH_MAX];
    open_paths(s, meta->group, meta->index, data_path, crc_path);
    cs_store_frag_path(s, meta->group, meta->index, sealed);
    uint32_t unit = meta->unit;
    uint64_t units = len / unit;
    uint64_t need = len + units * 4 + 8192;
    uint32_t *crcs = malloc(units * 4);
    if (crcs == NULL)
        return CAIRN_E_NOMEM;
    ec_crc_blocks(buf, len, unit, crcs);

    pthread_mutex_t *lk = cs_store_stripe_lock(s, meta->group, meta->index);
    pthread_mutex_lock(lk);
    cs_io_stat st_sealed;
    int data_fd = -1, crc_fd = -1;
    bool created = false;
    rc = s->io->stat(s->io, sealed, &st_sealed);
    if (rc != CAIRN_E_NOTFOUND) {
        rc = rc == 0 ? CAIRN_E_EXISTS : CAIRN_E_IO; /* sealed already, or unknown */
        goto out;
    }
    if (offset == 0 && (rc = cs_store_ensure_fanout(s, meta->group)) != 0)
        goto out;
    rc = files_open(s, meta, offset == 0, &data_fd, &crc_fd, &created, data_path, crc_path);
    if (rc == CAIRN_E_NOTFOUND) {
        *length = 0;
        rc = CAIRN_E_PRECOND; /* nothing here yet: the first append is at 0 */
        goto out;
    }
    if (rc != 0)
        goto out;
    struct open_state st;
    rc = state_read(s, crc_fd, data_path, &st);
    if (rc != 0)
        goto out_files;
    if (!same_shape(&st.meta, meta)) {
        rc = CAIRN_E_EXISTS;
        goto out_files;
    }
    *length = st.meta.data_len;
    if (offset != st.meta.data_len) {
        /* A retry of an acknowledged append is answered as it was; anything
         * else must start at the acknowledged length. */
        if (offset + len <= st.meta.data_len) {
            uint32_t *have = malloc(units * 4);
            rc = have ? entries_read(s, crc_fd, offset / unit, units, have) : CAIRN_E_NOMEM;
            if (rc == 0)
                rc = memcmp(have, crcs, units * 4) == 0 ? 0 : CAIRN_E_PRECOND;
            free(have);
        } else {
            rc = CAIRN_E_PRECOND;
        }
        goto out_files;
    }
    rc = cs_store_reserve(s, need);
    if (rc != 0)
        goto out_files;
    uint8_t *raw = malloc(units * 4);
    if (raw == NULL) {
        rc = CAIRN_E_NOMEM;
        goto out_reserved;
    }
    for (uint64_t i = 0; i < units; i++)
        cs_le_put_u32(raw + 4 * i, crcs[i]);
    uint8_t slot[OPN_SLOT_LEN];
    uint32_t seq = st.seq + 1;
    slot_encode(offset + len, seq, slot);
    rc = cs_io_write_all(s->io, data_fd, buf, len, CS_FRAG_HEADER_LEN + offset);
    if (rc == 0)
        rc = cs_io_write_all(s->io, crc_fd, raw, units * 4, OPN_TABLE + (offset / unit) * 4);
    if (rc == 0)
        rc = cs_io_write_all(s->io, crc_fd, slot, sizeof(slot),
                             OPN_SLOTS + (seq % 2) * OPN_SLOT_LEN);
    free(raw);
    if (rc != 0) {
        CN_ERROR(MOD, "append to %s: %s", data_path, strerror(errno));
        rc = cs_store_io_error(rc);
        goto out_reserved;
    }
    if ((rc = datasync(s, data_fd, data_path)) != 0 || (rc = datasync(s, crc_fd, crc_path)) != 0)
        goto out_reserved;
    if (created && (rc = sync_leaf(s, meta->group)) != 0)
        goto out_reserved;
    *length = offset + len;
    pthread_mutex_lock(&s->lock);
    s->open_bytes += len;
    if (created)
        s->open_fragments++;
    pthread_mutex_unlock(&s->lock);
out_reserved:
    cs_store_release(s, need);
out_files:
    s->io->close(s->io, data_fd);
    s->io->close(s->io, crc_fd);
    if (rc != 0 && created) {
        /* Nothing of a failed first append was acknowledged. */
        s->io->unlink(s->io, crc_path);
        s->io->unlink(s->io, data_path);
    }
out:
    pthread_mutex_unlock(lk);
    free(crcs);
    return rc;
}

int cs_store_open_length(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                         cs_frag_meta *meta)
{
    char data_path[PATH_MAX], crc_path[PATH_MAX];
    open_paths(s, group, index, data_path, crc_path);
    int fd;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ, &fd);
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    struct open_state st;
    rc = state_read(s, fd, data_path, &st);
    s->io->close(s->io, fd);
    if (rc == 0)
        *meta = st.meta;
    return rc;
}

/* -------------------------------------------------------------- reads -- */

int cs_store_open_reader(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                         cs_frag_reader **out)
{
    char data_path[PATH_MAX], crc_path[PATH_MAX];
    open_paths(s, group, index, data_path, crc_path);
    int crc_fd, data_fd;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ, &crc_fd);
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    struct open_state st;
    /* state_read caps the length at the entries the CRC file holds: the
     * reader reads those it needs, per range, never the whole table (a
     * small GET of a large open fragment would read and copy it all). */
    rc = state_read(s, crc_fd, data_path, &st);
    if (rc != 0)
        goto err_after_crc;
    if (memcmp(st.meta.group, group, CS_GROUP_ID_LEN) != 0 || st.meta.index != index) {
        rc = CAIRN_E_CORRUPT;
        goto err_after_crc;
    }
    rc = s->io->open(s->io, data_path, CS_IO_READ, &data_fd);
    if (rc != 0) {
        rc = rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
        goto err_after_crc;
    }
    rc = cs_frag_reader_open_table(s->io, data_fd, &st.meta, st.meta.unit, crc_fd, OPN_TABLE, out);
    if (rc != 0)
        goto err_after_data;
    return 0; /* both descriptors are the reader's now */

err_after_data:
    s->io->close(s->io, data_fd);
err_after_crc:
    s->io->close(s->io, crc_fd);
    return rc;
}

/* ------------------------------------------------------------ sealing -- */

/* Reads [0, len) of the data file in EC_CRC_BLOCK pieces, checks each unit
 * against crcs, and hands each piece to fn. */
typedef int (*piece_fn)(void *arg, const uint8_t *buf, size_t len);

static int walk_checked(cs_store *s, int data_fd, uint64_t len, uint32_t unit, const uint32_t *crcs,
                        piece_fn fn, void *arg)
{
    uint8_t *buf = malloc(EC_CRC_BLOCK);
    if (buf == NULL)
        return CAIRN_E_NOMEM;
    int rc = 0;
    for (uint64_t off = 0; off < len && rc == 0; off += EC_CRC_BLOCK) {
        size_t n = len - off < EC_CRC_BLOCK ? (size_t)(len - off) : EC_CRC_BLOCK;
        rc = cs_io_read_all(s->io, data_fd, buf, n, CS_FRAG_HEADER_LEN + off);
        if (rc != 0)
            break;
        if (ec_crc_blocks_verify(buf, n, unit, crcs + off / unit) != EC_CRC_ALL_GOOD) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        rc = fn(arg, buf, n);
    }
    free(buf);
    return rc;
}

struct table_build {
    uint8_t *table; /* little-endian, one u32 per EC_CRC_BLOCK */
    uint64_t blocks;
    uint32_t data_crc;
};

static int table_piece(void *arg, const uint8_t *buf, size_t len)
{
    struct table_build *t = arg;
    cs_le_put_u32(t->table + 4 * t->blocks++, ec_crc32c(buf, len));
    t->data_crc = ec_crc32c_update(t->data_crc, buf, len);
    return 0;
}

static int put_piece(void *arg, const uint8_t *buf, size_t len)
{
    return cs_put_write(arg, buf, len);
}

/* The data file holds exactly the sealed length: it becomes the fragment
 * file where it is. */
static int seal_in_place(cs_store *s, int data_fd, const cs_frag_meta *meta, const uint32_t *crcs,
                         const char *data_path, const char *sealed)
{
    struct table_build t = {0};
    uint64_t blocks = cs_frag_block_count(meta->data_len);
    t.table = malloc(blocks ? blocks * 4 : 4);
    if (t.table == NULL)
        return CAIRN_E_NOMEM;
    uint64_t need = blocks * 4 + 8192;
    int rc = cs_store_reserve(s, need);
    if (rc != 0)
        goto out;
    rc = walk_checked(s, data_fd, meta->data_len, meta->unit, crcs, table_piece, &t);
    if (rc != 0)
        goto out_reserved;
    cs_frag_meta m = *meta;
    m.data_crc = t.data_crc;
    uint8_t header[CS_FRAG_HEADER_LEN];
    cs_frag_header_encode(&m, ec_crc32c(t.table, blocks * 4), header);
    rc = cs_io_write_all(s->io, data_fd, t.table, blocks * 4, CS_FRAG_HEADER_LEN + m.data_len);
    if (rc == 0)
        rc = cs_io_write_all(s->io, data_fd, header, sizeof(header), 0);
    if (rc != 0) {
        rc = cs_store_io_error(rc);
        goto out_reserved;
    }
    if ((rc = datasync(s, data_fd, data_path)) != 0)
        goto out_reserved;
    rc = s->io->rename(s->io, data_path, sealed);
    if (rc != 0) {
        CN_ERROR(MOD, "rename %s -> %s: %s", data_path, sealed, strerror(errno));
        rc = cs_store_io_error(rc);
        goto out_reserved;
    }
    if (s->durable) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", sealed);
        *strrchr(dir, '/') = '\0';
        rc = cs_store_fsync_dir(s, dir);
    }
    cs_store_count_added(s, m.group, m.index, cs_frag_file_size(m.data_len));
out_reserved:
    cs_store_release(s, need);
out:
    free(t.table);
    return rc;
}

int cs_store_seal(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                  uint64_t length, enum cs_put_result *result)
{
    char data_path[PATH_MAX], crc_path[PATH_MAX], sealed[PATH_MAX];
    open_paths(s, group, index, data_path, crc_path);
    cs_store_frag_path(s, group, index, sealed);
    pthread_mutex_t *lk = cs_store_stripe_lock(s, group, index);
    pthread_mutex_lock(lk);
    int crc_fd = -1, data_fd = -1;
    uint32_t *crcs = NULL;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ, &crc_fd);
    if (rc == CAIRN_E_NOTFOUND) {
        /* Sealed before (a retried seal), or never appended to. */
        cs_frag_reader *r;
        pthread_mutex_unlock(lk);
        rc = cs_store_open_fragment(s, group, index, &r);
        if (rc != 0)
            return rc;
        rc = cs_frag_reader_meta(r)->data_len == length ? 0 : CAIRN_E_EXISTS;
        cs_frag_reader_close(r);
        if (rc == 0 && result)
            *result = CS_PUT_IDENTICAL;
        return rc;
    }
    if (rc != 0) {
        rc = CAIRN_E_IO;
        goto out;
    }
    struct open_state st;
    if ((rc = state_read(s, crc_fd, data_path, &st)) != 0)
        goto out;
    if (memcmp(st.meta.group, group, CS_GROUP_ID_LEN) != 0 || st.meta.index != index) {
        rc = CAIRN_E_CORRUPT;
        goto out;
    }
    if (length % st.meta.unit != 0 || length > st.meta.data_len) {
        rc = CAIRN_E_RANGE; /* more than was acknowledged */
        goto out;
    }
    uint64_t units = length / st.meta.unit;
    crcs = malloc(units ? units * 4 : 4);
    if (crcs == NULL) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    if ((rc = entries_read(s, crc_fd, 0, units, crcs)) != 0)
        goto out;
    if ((rc = s->io->open(s->io, data_path, CS_IO_READ | CS_IO_WRITE, &data_fd)) != 0) {
        rc = rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : CAIRN_E_IO;
        goto out;
    }
    cs_io_stat dst;
    if ((rc = s->io->fstat(s->io, data_fd, &dst)) != 0) {
        rc = CAIRN_E_IO;
        goto out;
    }
    cs_frag_meta m = st.meta;
    m.data_len = length;
    if (dst.size == CS_FRAG_HEADER_LEN + length) {
        rc = seal_in_place(s, data_fd, &m, crcs, data_path, sealed);
    } else {
        /* Unacknowledged bytes past the length: an ordinary put of the
         * checked data (rare: only after a failed append). */
        cs_put *p;
        pthread_mutex_unlock(lk); /* cs_put_commit takes it */
        rc = cs_store_put_begin(s, &m, &p);
        if (rc == 0) {
            rc = walk_checked(s, data_fd, length, m.unit, crcs, put_piece, p);
            if (rc == 0)
                rc = cs_put_commit(p, false, 0, false, NULL);
            else
                cs_put_abort(p);
        }
        pthread_mutex_lock(lk);
        if (rc == 0)
            rc = s->io->unlink(s->io, data_path) == 0 ? 0 : CAIRN_E_IO;
    }
    if (rc != 0)
        goto out;
    s->io->close(s->io, crc_fd);
    crc_fd = -1;
    rc = s->io->unlink(s->io, crc_path);
    if (rc == 0 || rc == CAIRN_E_NOTFOUND)
        rc = sync_leaf(s, group);
    else
        rc = CAIRN_E_IO;
    pthread_mutex_lock(&s->lock);
    s->open_fragments--;
    s->open_bytes -= st.meta.data_len < s->open_bytes ? st.meta.data_len : s->open_bytes;
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && result)
        *result = CS_PUT_CREATED;
out:
    if (data_fd >= 0)
        s->io->close(s->io, data_fd);
    if (crc_fd >= 0)
        s->io->close(s->io, crc_fd);
    pthread_mutex_unlock(lk);
    free(crcs);
    return rc;
}

/* ------------------------------------------------------ delete, recover -- */

int cs_store_open_delete_locked(cs_store *s, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index)
{
    char data_path[PATH_MAX], crc_path[PATH_MAX];
    open_paths(s, group, index, data_path, crc_path);
    int fd;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ, &fd);
    if (rc != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    struct open_state st;
    uint64_t len = state_read(s, fd, NULL, &st) == 0 ? st.meta.data_len : 0;
    s->io->close(s->io, fd);
    /* The CRC file first: without it the data file is a leftover. */
    rc = s->io->unlink(s->io, crc_path);
    if (rc != 0 && rc != CAIRN_E_NOTFOUND)
        return CAIRN_E_IO;
    rc = s->io->unlink(s->io, data_path);
    if (rc != 0 && rc != CAIRN_E_NOTFOUND)
        return CAIRN_E_IO;
    pthread_mutex_lock(&s->lock);
    s->open_fragments--;
    s->open_bytes -= len < s->open_bytes ? len : s->open_bytes;
    pthread_mutex_unlock(&s->lock);
    return sync_leaf(s, group);
}

struct recover {
    cs_store *s;
    char dir[PATH_MAX]; /* the directory being listed */
    int rc;
};

/* Parses "<32 hex>.<index>.crc" or "<32 hex>.<index>.open". */
static int parse_open_name(const char *name, uint8_t group[CS_GROUP_ID_LEN], uint32_t *index,
                           bool *is_crc)
{
    char hex[CS_GROUP_HEX_LEN + 1];
    if (strlen(name) < CS_GROUP_HEX_LEN + 2 || name[CS_GROUP_HEX_LEN] != '.')
        return CAIRN_E_INVAL;
    memcpy(hex, name, CS_GROUP_HEX_LEN);
    hex[CS_GROUP_HEX_LEN] = '\0';
    if (cs_group_parse(hex, group) != 0)
        return CAIRN_E_INVAL;
    const char *p = name + CS_GROUP_HEX_LEN + 1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || errno || v >= 48 || *p < '0' || *p > '9' || (*p == '0' && end - p > 1))
        return CAIRN_E_INVAL;
    *is_crc = strcmp(end, OPN_CRC_SUFFIX) == 0;
    if (!*is_crc && strcmp(end, OPN_DATA_SUFFIX) != 0)
        return CAIRN_E_INVAL;
    *index = (uint32_t)v;
    return 0;
}

static int recover_one(void *arg, const char *name)
{
    struct recover *r = arg;
    cs_store *s = r->s;
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;
    bool is_crc;
    if (parse_open_name(name, group, &index, &is_crc) != 0)
        return 0; /* a sealed fragment, or not ours */
    char data_path[PATH_MAX], crc_path[PATH_MAX];
    open_paths(s, group, index, data_path, crc_path);
    if (strncmp(data_path, r->dir, strlen(r->dir)) != 0 || data_path[strlen(r->dir)] != '/')
        return 0; /* in the wrong directory: not a file this store made */
    cs_io_stat st;
    if (!is_crc) {
        /* A data file whose CRC file is gone holds nothing acknowledged (a
         * creation cut short). */
        if (s->io->stat(s->io, crc_path, &st) == CAIRN_E_NOTFOUND)
            s->io->unlink(s->io, data_path);
        return 0;
    }
    int fd;
    struct open_state os;
    int rc = s->io->open(s->io, crc_path, CS_IO_READ, &fd);
    if (rc != 0)
        return 0; /* removed meanwhile */
    bool has_data = s->io->stat(s->io, data_path, &st) == 0;
    rc = state_read(s, fd, has_data ? data_path : NULL, &os);
    s->io->close(s->io, fd);
    char sealed[PATH_MAX];
    cs_store_frag_path(s, group, index, sealed);
    cs_io_stat sst;
    bool is_sealed = s->io->stat(s->io, sealed, &sst) == 0;
    if (rc == CAIRN_E_CORRUPT || !has_data || is_sealed) {
        /* A header never synced (the first append was not acknowledged), or
         * a seal that renamed the data file and stopped before removing
         * this one. */
        if (rc == 0 && !is_sealed && os.meta.data_len > 0)
            CN_ERROR(MOD, "open fragment %s: data file missing (%llu bytes acknowledged)", crc_path,
                     (unsigned long long)os.meta.data_len);
        s->io->unlink(s->io, crc_path);
        if (has_data && (rc == CAIRN_E_CORRUPT || is_sealed))
            s->io->unlink(s->io, data_path);
        return 0;
    }
    if (rc != 0) {
        r->rc = rc;
        return rc;
    }
    s->open_fragments++;
    s->open_bytes += os.meta.data_len;
    return 0;
}

static int hex_byte_name(const char *name)
{
    static const char hex[] = "0123456789abcdef";
    if (strlen(name) != 2 || !strchr(hex, name[0]) || !strchr(hex, name[1]))
        return -1;
    return 0;
}

static int recover_l2(void *arg, const char *name)
{
    struct recover *r = arg;
    if (hex_byte_name(name) != 0)
        return 0;
    size_t n = strlen(r->dir);
    snprintf(r->dir + n, PATH_MAX - n, "/%s", name);
    int rc = r->s->io->list(r->s->io, r->dir, recover_one, r);
    r->dir[n] = '\0';
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

static int recover_l1(void *arg, const char *name)
{
    struct recover *r = arg;
    if (hex_byte_name(name) != 0)
        return 0;
    size_t n = strlen(r->dir);
    snprintf(r->dir + n, PATH_MAX - n, "/%s", name);
    int rc = r->s->io->list(r->s->io, r->dir, recover_l2, r);
    r->dir[n] = '\0';
    return rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

int cs_store_open_recover(cs_store *s)
{
    struct recover r = {.s = s};
    snprintf(r.dir, sizeof(r.dir), "%s", s->frag_dir);
    int rc = s->io->list(s->io, r.dir, recover_l1, &r);
    if (rc != 0)
        return r.rc ? r.rc : CAIRN_E_IO;
    if (s->open_fragments)
        CN_INFO(MOD, "%llu open fragment(s), %llu bytes acknowledged",
                (unsigned long long)s->open_fragments, (unsigned long long)s->open_bytes);
    return 0;
}
