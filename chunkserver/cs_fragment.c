#include "cs_fragment.h"

#include <stdlib.h>
#include <string.h>

#include "cn_error.h"
#include "cn_util.h"
#include "ec_codec.h"
#include "ec_crc.h"

/* Small appends are staged in a buffer of this size; large ones are written
 * straight from the caller's memory (no copy besides the kernel's). */
#define STAGE_LEN (64u * 1024u)

void cs_le_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void cs_le_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void cs_le_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t cs_le_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t cs_le_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t cs_le_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int cs_group_parse(const char *hex, uint8_t out[CS_GROUP_ID_LEN])
{
    if (hex == NULL || strlen(hex) != CS_GROUP_HEX_LEN)
        return CAIRN_E_INVAL;
    return cn_hex_decode(hex, out, CS_GROUP_ID_LEN);
}

void cs_group_format(const uint8_t group[CS_GROUP_ID_LEN], char out[CS_GROUP_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < CS_GROUP_ID_LEN; i++) {
        out[2 * i] = digits[group[i] >> 4];
        out[2 * i + 1] = digits[group[i] & 15];
    }
    out[CS_GROUP_HEX_LEN] = '\0';
}

int cs_frag_meta_check(const cs_frag_meta *meta)
{
    if (meta->k < 1 || meta->k > EC_MAX_K || meta->m < 1 || meta->m > EC_MAX_M)
        return CAIRN_E_INVAL;
    if (meta->index >= (uint32_t)meta->k + meta->m || meta->unit == 0)
        return CAIRN_E_INVAL;
    if (meta->data_len > CS_FRAG_MAX_LEN)
        return CAIRN_E_INVAL;
    return 0;
}

uint64_t cs_frag_block_count(uint64_t data_len)
{
    return (data_len + EC_CRC_BLOCK - 1) / EC_CRC_BLOCK;
}

uint64_t cs_frag_file_size(uint64_t data_len)
{
    return CS_FRAG_HEADER_LEN + data_len + 4 * cs_frag_block_count(data_len);
}

void cs_frag_header_encode(const cs_frag_meta *meta, uint32_t table_crc,
                           uint8_t out[CS_FRAG_HEADER_LEN])
{
    memset(out, 0, CS_FRAG_HEADER_LEN);
    memcpy(out, CS_FRAG_MAGIC, 8);
    cs_le_put_u16(out + 8, CS_FRAG_VERSION);
    cs_le_put_u16(out + 10, CS_FRAG_HEADER_LEN);
    cs_le_put_u32(out + 12, EC_CRC_BLOCK);
    memcpy(out + 16, meta->group, CS_GROUP_ID_LEN);
    cs_le_put_u32(out + 32, meta->index);
    cs_le_put_u16(out + 36, meta->k);
    cs_le_put_u16(out + 38, meta->m);
    cs_le_put_u32(out + 40, meta->unit);
    cs_le_put_u32(out + 44, meta->data_crc);
    cs_le_put_u64(out + 48, meta->data_len);
    cs_le_put_u32(out + 56, table_crc);
    cs_le_put_u32(out + 60, ec_crc32c(out, 60));
}

int cs_frag_header_decode(const uint8_t in[CS_FRAG_HEADER_LEN], cs_frag_meta *meta,
                          uint32_t *table_crc)
{
    if (memcmp(in, CS_FRAG_MAGIC, 8) != 0)
        return CAIRN_E_CORRUPT;
    if (cs_le_get_u32(in + 60) != ec_crc32c(in, 60))
        return CAIRN_E_CORRUPT;
    if (cs_le_get_u16(in + 8) != CS_FRAG_VERSION || cs_le_get_u16(in + 10) != CS_FRAG_HEADER_LEN ||
        cs_le_get_u32(in + 12) != EC_CRC_BLOCK)
        return CAIRN_E_UNSUPPORTED;
    memcpy(meta->group, in + 16, CS_GROUP_ID_LEN);
    meta->index = cs_le_get_u32(in + 32);
    meta->k = cs_le_get_u16(in + 36);
    meta->m = cs_le_get_u16(in + 38);
    meta->unit = cs_le_get_u32(in + 40);
    meta->data_crc = cs_le_get_u32(in + 44);
    meta->data_len = cs_le_get_u64(in + 48);
    if (table_crc)
        *table_crc = cs_le_get_u32(in + 56);
    return cs_frag_meta_check(meta) == 0 ? 0 : CAIRN_E_CORRUPT;
}

/* CRC32C combination (the zlib crc32_combine method over the Castagnoli
 * polynomial): crc(A || B) from crc(A), crc(B) and len(B). The writer
 * computes each block's CRC once and derives the whole-data CRC from them,
 * instead of a second pass over every byte. */
#define CRC32C_POLY_REFLECTED 0x82f63b78u

/* a * b modulo the CRC polynomial (reflected bit order). */
static uint32_t crc_multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY_REFLECTED : b >> 1;
    }
    return p;
}

/* x^(8 * len) modulo the polynomial: the operator that shifts a CRC past len
 * zero bytes. */
static uint32_t crc_shift_op(uint64_t len)
{
    uint32_t x2n = 1u << 30; /* x^1 */
    uint32_t p = 1u << 31;   /* x^0 */
    /* Square up to x^8 (one byte), then walk the bits of len. */
    for (int i = 0; i < 3; i++)
        x2n = crc_multmodp(x2n, x2n);
    while (len) {
        if (len & 1)
            p = crc_multmodp(x2n, p);
        len >>= 1;
        x2n = crc_multmodp(x2n, x2n);
    }
    return p;
}

static uint32_t crc_combine(uint32_t crc_a, uint32_t crc_b, uint32_t shift_op_b)
{
    return crc_multmodp(shift_op_b, crc_a) ^ crc_b;
}

struct cs_frag_writer {
    const cs_io *io;
    int fd;
    cs_frag_meta meta;
    uint64_t written; /* data bytes accepted */
    uint64_t flushed; /* data bytes written to the file */
    uint64_t writeback_bytes;
    uint64_t writeback_done; /* data bytes handed to sync_file_range */
    uint32_t data_crc;       /* of the blocks completed so far */
    uint32_t block_op;       /* crc_shift_op(EC_CRC_BLOCK) */
    uint32_t table_crc;
    uint32_t *table;      /* one CRC per block */
    uint64_t blocks_done; /* table entries filled */
    uint32_t block_crc;   /* running CRC of the current partial block */
    uint32_t block_fill;  /* bytes in the current partial block */
    uint8_t *buf;         /* STAGE_LEN staging buffer */
    size_t fill;
    int failed;
};

int cs_frag_writer_new(const cs_io *io, int fd, const cs_frag_meta *meta, uint64_t writeback_bytes,
                       cs_frag_writer **out)
{
    if (cs_frag_meta_check(meta) != 0)
        return CAIRN_E_INVAL;
    cs_frag_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return CAIRN_E_NOMEM;
    uint64_t blocks = cs_frag_block_count(meta->data_len);
    w->table = malloc(blocks > 0 ? blocks * 4 : 4);
    if (w->table == NULL)
        goto err_after_alloc;
    w->buf = malloc(STAGE_LEN);
    if (w->buf == NULL)
        goto err_after_table;
    w->io = io;
    w->fd = fd;
    w->meta = *meta;
    w->writeback_bytes = writeback_bytes;
    w->block_op = crc_shift_op(EC_CRC_BLOCK);
    *out = w;
    return 0;

err_after_table:
    free(w->table);
err_after_alloc:
    free(w);
    return CAIRN_E_NOMEM;
}

/* Feeds data into the per-block CRCs. */
static void writer_crc(cs_frag_writer *w, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t take = EC_CRC_BLOCK - w->block_fill;
        if (take > len)
            take = len;
        if (take == EC_CRC_BLOCK) {
            uint32_t crc = ec_crc32c(p, take);
            w->table[w->blocks_done++] = crc;
            w->data_crc = crc_combine(w->data_crc, crc, w->block_op);
        } else {
            w->block_crc = ec_crc32c_update(w->block_crc, p, take);
            w->block_fill += (uint32_t)take;
            if (w->block_fill == EC_CRC_BLOCK) {
                w->table[w->blocks_done++] = w->block_crc;
                w->data_crc = crc_combine(w->data_crc, w->block_crc, w->block_op);
                w->block_crc = 0;
                w->block_fill = 0;
            }
        }
        p += take;
        len -= take;
    }
}

/* Writes len bytes of data at the current flush position. */
static int writer_flush(cs_frag_writer *w, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    int rc = cs_io_write_all(w->io, w->fd, data, len, CS_FRAG_HEADER_LEN + w->flushed);
    if (rc != 0)
        return rc;
    w->flushed += len;
    if (w->writeback_bytes > 0 && w->flushed - w->writeback_done >= w->writeback_bytes) {
        /* Start writeback early; errors surface at the final fsync. */
        (void)w->io->writeback(w->io, w->fd, CS_FRAG_HEADER_LEN + w->writeback_done,
                               w->flushed - w->writeback_done);
        w->writeback_done = w->flushed;
    }
    return 0;
}

int cs_frag_writer_append(cs_frag_writer *w, const void *buf, size_t len)
{
    if (w->failed)
        return w->failed;
    if (len > w->meta.data_len - w->written) {
        w->failed = CAIRN_E_RANGE;
        return CAIRN_E_RANGE;
    }
    const uint8_t *p = buf;
    writer_crc(w, p, len);
    w->written += len;
    int rc = 0;
    if (len < STAGE_LEN / 4 && w->fill + len <= STAGE_LEN) {
        memcpy(w->buf + w->fill, p, len);
        w->fill += len;
        if (w->fill == STAGE_LEN) {
            rc = writer_flush(w, w->buf, w->fill);
            w->fill = 0;
        }
    } else {
        rc = writer_flush(w, w->buf, w->fill);
        w->fill = 0;
        if (rc == 0)
            rc = writer_flush(w, p, len);
    }
    if (rc != 0)
        w->failed = rc;
    return rc;
}

uint64_t cs_frag_writer_written(const cs_frag_writer *w)
{
    return w->written;
}

int cs_frag_writer_finish(cs_frag_writer *w, uint32_t *data_crc)
{
    if (w->failed)
        return w->failed;
    if (w->written != w->meta.data_len)
        return CAIRN_E_RANGE;
    int rc = writer_flush(w, w->buf, w->fill);
    if (rc != 0)
        goto err;
    w->fill = 0;
    if (w->block_fill > 0) {
        w->table[w->blocks_done++] = w->block_crc;
        w->data_crc = crc_combine(w->data_crc, w->block_crc, crc_shift_op(w->block_fill));
        w->block_fill = 0;
    }
    uint64_t blocks = cs_frag_block_count(w->meta.data_len);
    /* The table is stored little-endian. */
    uint8_t *table_bytes = (uint8_t *)w->table;
    for (uint64_t b = 0; b < blocks; b++)
        cs_le_put_u32(table_bytes + 4 * b, w->table[b]);
    uint32_t table_crc = ec_crc32c(table_bytes, blocks * 4);
    w->table_crc = table_crc;
    rc = cs_io_write_all(w->io, w->fd, table_bytes, blocks * 4,
                         CS_FRAG_HEADER_LEN + w->meta.data_len);
    if (rc != 0)
        goto err;
    w->meta.data_crc = w->data_crc;
    uint8_t header[CS_FRAG_HEADER_LEN];
    cs_frag_header_encode(&w->meta, table_crc, header);
    rc = cs_io_write_all(w->io, w->fd, header, sizeof(header), 0);
    if (rc != 0)
        goto err;
    *data_crc = w->data_crc;
    return 0;
err:
    w->failed = rc;
    return rc;
}

uint32_t cs_frag_writer_table_crc(const cs_frag_writer *w)
{
    return w->table_crc;
}

void cs_frag_writer_free(cs_frag_writer *w)
{
    if (w == NULL)
        return;
    free(w->buf);
    free(w->table);
    free(w);
}

struct cs_frag_reader {
    const cs_io *io;
    int fd;
    cs_frag_meta meta;
    uint32_t table_crc;
    uint32_t block; /* CRC block size: EC_CRC_BLOCK, or the unit of an open fragment */
    bool open;      /* an open fragment's reader (cs_frag_reader_open_table) */
    uint64_t blocks;
    uint32_t *table;    /* sealed: the whole table, host order; open: NULL */
    int table_fd;       /* open: the CRC table's file, read per range; else -1 */
    uint64_t table_off; /* open: offset of entry 0 in table_fd */
};

int cs_frag_reader_open(const cs_io *io, int fd, cs_frag_reader **out)
{
    uint8_t header[CS_FRAG_HEADER_LEN];
    int rc = cs_io_read_all(io, fd, header, sizeof(header), 0);
    if (rc != 0)
        return rc;
    cs_frag_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CAIRN_E_NOMEM;
    rc = cs_frag_header_decode(header, &r->meta, &r->table_crc);
    if (rc != 0)
        goto err_after_alloc;
    cs_io_stat st;
    rc = io->fstat(io, fd, &st);
    if (rc != 0)
        goto err_after_alloc;
    if (st.size != cs_frag_file_size(r->meta.data_len)) {
        rc = CAIRN_E_CORRUPT;
        goto err_after_alloc;
    }
    r->blocks = cs_frag_block_count(r->meta.data_len);
    r->table = malloc(r->blocks > 0 ? r->blocks * 4 : 4);
    if (r->table == NULL) {
        rc = CAIRN_E_NOMEM;
        goto err_after_alloc;
    }
    rc = cs_io_read_all(io, fd, r->table, r->blocks * 4, CS_FRAG_HEADER_LEN + r->meta.data_len);
    if (rc != 0)
        goto err_after_table;
    if (ec_crc32c(r->table, r->blocks * 4) != r->table_crc) {
        rc = CAIRN_E_CORRUPT;
        goto err_after_table;
    }
    uint8_t *table_bytes = (uint8_t *)r->table;
    for (uint64_t b = 0; b < r->blocks; b++)
        r->table[b] = cs_le_get_u32(table_bytes + 4 * b);
    r->io = io;
    r->fd = fd;
    r->table_fd = -1;
    r->block = EC_CRC_BLOCK;
    *out = r;
    return 0;

err_after_table:
    free(r->table);
err_after_alloc:
    free(r);
    return rc;
}

int cs_frag_reader_open_table(const cs_io *io, int data_fd, const cs_frag_meta *meta,
                              uint32_t block, int table_fd, uint64_t table_off,
                              cs_frag_reader **out)
{
    if (block == 0 || block > EC_CRC_BLOCK || EC_CRC_BLOCK % block != 0 || table_fd < 0)
        return CAIRN_E_INVAL;
    cs_frag_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CAIRN_E_NOMEM;
    r->meta = *meta;
    r->meta.data_crc = 0;
    r->block = block;
    r->open = true;
    r->blocks = (meta->data_len + block - 1) / block;
    r->table_crc = 0; /* unknown: the table is read per range, never whole */
    r->table_fd = table_fd;
    r->table_off = table_off;
    r->io = io;
    r->fd = data_fd;
    *out = r;
    return 0;
}

bool cs_frag_reader_is_open(const cs_frag_reader *r)
{
    return r->open;
}

const cs_frag_meta *cs_frag_reader_meta(const cs_frag_reader *r)
{
    return &r->meta;
}

uint32_t cs_frag_reader_table_crc(const cs_frag_reader *r)
{
    return r->table_crc;
}

static uint64_t block_len(const cs_frag_reader *r, uint64_t b)
{
    uint64_t start = b * r->block;
    uint64_t left = r->meta.data_len - start;
    return left < r->block ? left : r->block;
}

/* Entries a stack buffer holds: a read of up to this many blocks of an open
 * fragment allocates nothing for its CRCs. */
#define CRC_STACK_ENTRIES 64

/* The CRCs of blocks [first, first + n), all < r->blocks. A sealed reader's
 * are in its table (*out points into it; buf unused); an open reader's are
 * read into buf (n entries) from the table file, only those. Returns 0,
 * CAIRN_E_CORRUPT (the table file ends before them), CAIRN_E_IO. */
static int block_crcs(const cs_frag_reader *r, uint64_t first, uint64_t n, uint32_t *buf,
                      const uint32_t **out)
{
    if (!r->open) {
        *out = r->table + first;
        return 0;
    }
    int rc = cs_io_read_all(r->io, r->table_fd, buf, (size_t)n * 4, r->table_off + first * 4);
    if (rc != 0)
        return rc == CAIRN_E_CORRUPT ? CAIRN_E_CORRUPT : CAIRN_E_IO;
    const uint8_t *raw = (const uint8_t *)buf;
    for (uint64_t i = 0; i < n; i++)
        buf[i] = cs_le_get_u32(raw + 4 * i); /* in place: entry i is bytes 4i..4i+3 */
    *out = buf;
    return 0;
}

/* Reads block b whole into scratch and checks it against crc. */
static int check_block(cs_frag_reader *r, uint64_t b, uint32_t crc, void *scratch)
{
    size_t blen = (size_t)block_len(r, b);
    int rc = cs_io_read_all(r->io, r->fd, scratch, blen, CS_FRAG_HEADER_LEN + b * r->block);
    if (rc != 0)
        return rc;
    return ec_crc32c(scratch, blen) == crc ? 0 : CAIRN_E_CORRUPT;
}

int cs_frag_reader_verify_block(cs_frag_reader *r, uint64_t block, void *scratch)
{
    if (block >= r->blocks)
        return CAIRN_E_RANGE;
    uint32_t one;
    const uint32_t *crc;
    int rc = block_crcs(r, block, 1, &one, &crc);
    if (rc != 0)
        return rc;
    return check_block(r, block, *crc, scratch);
}

int cs_frag_reader_read(cs_frag_reader *r, uint64_t off, size_t len, void *buf, uint64_t *bad_block)
{
    if (off > r->meta.data_len || len > r->meta.data_len - off)
        return CAIRN_E_RANGE;
    if (len == 0)
        return 0;
    uint8_t *dst = buf;
    uint8_t *scratch = NULL;
    uint64_t end = off + len;
    uint64_t pos = off;
    /* The CRCs of exactly the blocks the range touches. */
    uint64_t first = off / r->block;
    uint64_t n = (end - 1) / r->block - first + 1;
    uint32_t stack_crcs[CRC_STACK_ENTRIES];
    uint32_t *heap_crcs = NULL;
    uint32_t *crc_buf = stack_crcs;
    if (r->open && n > CRC_STACK_ENTRIES) {
        heap_crcs = malloc((size_t)n * 4);
        if (heap_crcs == NULL)
            return CAIRN_E_NOMEM;
        crc_buf = heap_crcs;
    }
    const uint32_t *crcs; /* crcs[i]: the CRC of block first + i */
    int rc = block_crcs(r, first, n, crc_buf, &crcs);
    if (rc != 0)
        goto out;
    while (pos < end) {
        uint64_t b = pos / r->block;
        uint64_t bstart = b * r->block;
        uint64_t blen = block_len(r, b);
        if (pos == bstart && end >= bstart + blen) {
            /* Whole blocks: read straight into the caller's buffer, as many
             * as the range covers, then check each. */
            uint64_t nblocks = 1;
            while (b + nblocks < r->blocks &&
                   end >= (b + nblocks) * r->block + block_len(r, b + nblocks))
                nblocks++;
            uint64_t span = (b + nblocks - 1) * r->block + block_len(r, b + nblocks - 1) - bstart;
            uint8_t *at = dst + (pos - off);
            rc = cs_io_read_all(r->io, r->fd, at, (size_t)span, CS_FRAG_HEADER_LEN + bstart);
            if (rc != 0)
                goto out;
            for (uint64_t i = 0; i < nblocks; i++) {
                size_t l = (size_t)block_len(r, b + i);
                if (ec_crc32c(at + i * r->block, l) != crcs[b + i - first]) {
                    if (bad_block)
                        *bad_block = b + i;
                    rc = CAIRN_E_CORRUPT;
                    goto out;
                }
            }
            pos += span;
        } else {
            /* A partly covered block: check it whole, copy out the part. */
            if (scratch == NULL) {
                scratch = malloc(r->block);
                if (scratch == NULL) {
                    rc = CAIRN_E_NOMEM;
                    goto out;
                }
            }
            rc = check_block(r, b, crcs[b - first], scratch);
            if (rc != 0) {
                if (rc == CAIRN_E_CORRUPT && bad_block)
                    *bad_block = b;
                goto out;
            }
            uint64_t take = bstart + blen - pos;
            if (take > end - pos)
                take = end - pos;
            memcpy(dst + (pos - off), scratch + (pos - bstart), (size_t)take);
            pos += take;
        }
    }
out:
    free(scratch);
    free(heap_crcs);
    return rc;
}

void cs_frag_reader_close(cs_frag_reader *r)
{
    if (r == NULL)
        return;
    r->io->close(r->io, r->fd);
    if (r->table_fd >= 0)
        r->io->close(r->io, r->table_fd);
    free(r->table);
    free(r);
}
