/* Fragment file format (DESIGN.md "Chunkserver"), version 1.
 *
 * One file holds one fragment of one chunk group:
 *
 *   offset 0                     header, CS_FRAG_HEADER_LEN (64) bytes, little-endian:
 *       0  magic "CAIRNFRG"       8 bytes
 *       8  format version         u16 (1)
 *      10  header length          u16 (64)
 *      12  CRC block size         u32 (EC_CRC_BLOCK, 64 KiB)
 *      16  group id               16 bytes
 *      32  fragment index         u32
 *      36  k, m                   u16, u16
 *      40  stripe unit            u32
 *      44  data CRC32C            u32 (of all data bytes)
 *      48  data length            u64
 *      56  table CRC32C           u32 (of the CRC table bytes)
 *      60  header CRC32C          u32 (of header bytes 0..59)
 *   offset 64                    data, data length bytes
 *   offset 64 + data length      CRC table: one u32 CRC32C per block of data
 *                                (ceil(data length / block) entries; the last
 *                                block may be short)
 *
 * Any single flipped bit is caught: in the header by the header CRC, in the
 * table by the table CRC (checked when the file is opened), in the data by the
 * CRC of its block (checked on every read that touches the block). The header
 * is written last, so a file without a valid header is never mistaken for a
 * fragment.
 *
 * Writers and readers work on a file descriptor of a cs_io backend; naming,
 * fsync and rename belong to cs_store. */
#ifndef CAIRN_CS_FRAGMENT_H
#define CAIRN_CS_FRAGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_io.h"

#define CS_FRAG_MAGIC      "CAIRNFRG"
#define CS_FRAG_VERSION    1
#define CS_FRAG_HEADER_LEN 64
#define CS_GROUP_ID_LEN    16
#define CS_GROUP_HEX_LEN   32
/* Largest fragment accepted (data bytes); a group holds k * 64 MiB by default. */
#define CS_FRAG_MAX_LEN (4ull << 30)

/* What identifies and describes a fragment; everything in the header except
 * the format fields and the checksums of the file's own structure. */
typedef struct cs_frag_meta {
    uint8_t group[CS_GROUP_ID_LEN];
    uint32_t index;    /* fragment index, < k + m */
    uint16_t k, m;     /* scheme */
    uint32_t unit;     /* stripe unit, > 0 */
    uint64_t data_len; /* bytes of fragment data */
    uint32_t data_crc; /* CRC32C of the data (filled in by the writer) */
} cs_frag_meta;

/* Little-endian integers in the on-disk formats (fragment and open-fragment
 * files). */
void cs_le_put_u16(uint8_t *p, uint16_t v);
void cs_le_put_u32(uint8_t *p, uint32_t v);
void cs_le_put_u64(uint8_t *p, uint64_t v);
uint16_t cs_le_get_u16(const uint8_t *p);
uint32_t cs_le_get_u32(const uint8_t *p);
uint64_t cs_le_get_u64(const uint8_t *p);

/* Parses exactly 32 hex digits (either case) into 16 bytes. Returns 0 or
 * CAIRN_E_INVAL. This is the only way a group id enters the chunkserver. */
int cs_group_parse(const char *hex, uint8_t out[CS_GROUP_ID_LEN]);
/* Renders 16 bytes as 32 lowercase hex digits plus NUL. */
void cs_group_format(const uint8_t group[CS_GROUP_ID_LEN], char out[CS_GROUP_HEX_LEN + 1]);

/* Checks the descriptive fields: 1 <= k <= 32, 1 <= m <= 16, index < k + m,
 * unit > 0, data_len <= CS_FRAG_MAX_LEN. Returns 0 or CAIRN_E_INVAL. */
int cs_frag_meta_check(const cs_frag_meta *meta);

/* Number of CRC blocks and whole file size for data_len bytes of data. */
uint64_t cs_frag_block_count(uint64_t data_len);
uint64_t cs_frag_file_size(uint64_t data_len);

/* Encodes a header for meta plus the table CRC. */
void cs_frag_header_encode(const cs_frag_meta *meta, uint32_t table_crc,
                           uint8_t out[CS_FRAG_HEADER_LEN]);
/* Decodes and checks a header. Returns 0; CAIRN_E_CORRUPT for a bad magic,
 * header CRC or field; CAIRN_E_UNSUPPORTED for another format version or
 * block size. */
int cs_frag_header_decode(const uint8_t in[CS_FRAG_HEADER_LEN], cs_frag_meta *meta,
                          uint32_t *table_crc);

/* Streaming writer. Data is appended in pieces of any size; finish writes the
 * CRC table and then the header. Not thread-safe (one writer per file). */
typedef struct cs_frag_writer cs_frag_writer;

/* Starts writing a fragment described by meta (data_crc ignored) to fd of
 * io, which must be an empty file open for writing; the caller keeps fd, and
 * io (borrowed) must outlive the writer. If writeback_bytes > 0, writeback
 * of the data is started (io->writeback) every writeback_bytes so a final
 * fsync has little left to do. Returns 0, CAIRN_E_INVAL, CAIRN_E_NOMEM. */
int cs_frag_writer_new(const cs_io *io, int fd, const cs_frag_meta *meta, uint64_t writeback_bytes,
                       cs_frag_writer **out);
/* Appends data. Returns 0; CAIRN_E_RANGE if it would pass data_len;
 * CAIRN_E_NOSPACE if the disk is full; CAIRN_E_IO. After an error the writer
 * can only be freed. */
int cs_frag_writer_append(cs_frag_writer *w, const void *buf, size_t len);
/* Bytes appended so far. */
uint64_t cs_frag_writer_written(const cs_frag_writer *w);
/* Completes the file (does not fsync). Returns 0 and the CRC32C of all data in
 * *data_crc; CAIRN_E_RANGE if fewer than data_len bytes were appended;
 * CAIRN_E_NOSPACE; CAIRN_E_IO. */
int cs_frag_writer_finish(cs_frag_writer *w, uint32_t *data_crc);
/* CRC32C of the CRC table (valid after a successful finish). */
uint32_t cs_frag_writer_table_crc(const cs_frag_writer *w);
void cs_frag_writer_free(cs_frag_writer *w);

/* Verified reader. Opening checks the header, the file size and the CRC
 * table; reads check the CRC of every block they touch. Thread-safe: any
 * number of threads may read one reader concurrently (pread only). */
typedef struct cs_frag_reader cs_frag_reader;

/* Opens a reader on fd of io; on success the reader owns fd (closed by
 * cs_frag_reader_close), on failure the caller keeps it. io is borrowed and
 * must outlive the reader. Returns 0;
 * CAIRN_E_CORRUPT (bad header, size or table); CAIRN_E_UNSUPPORTED;
 * CAIRN_E_IO; CAIRN_E_NOMEM. */
int cs_frag_reader_open(const cs_io *io, int fd, cs_frag_reader **out);
/* A reader over an open fragment (cs_store's append files): data at offset
 * CS_FRAG_HEADER_LEN of data_fd, meta->data_len bytes of it, checked against
 * the CRC table in table_fd: one little-endian CRC32C u32 per block of
 * `block` bytes (which divides EC_CRC_BLOCK), entry 0 at table_off. The
 * caller has checked that the table holds an entry for every block of
 * data_len; the entries are never rewritten while the reader lives (an open
 * fragment only grows). Nothing of the table is read here: each read and
 * verify_block preads just the entries of the blocks it touches, and a
 * table found shorter then is CAIRN_E_CORRUPT. On success the reader owns
 * both descriptors (closed by cs_frag_reader_close); on failure the caller
 * keeps them. io is borrowed and must outlive the reader. Its table CRC is 0
 * (unknown, like its data_crc: the table is never read whole).
 * Returns 0, CAIRN_E_INVAL, CAIRN_E_NOMEM. */
int cs_frag_reader_open_table(const cs_io *io, int data_fd, const cs_frag_meta *meta,
                              uint32_t block, int table_fd, uint64_t table_off,
                              cs_frag_reader **out);
/* Whether r reads an open fragment (its meta's data_crc and its table CRC
 * are then 0: unknown). */
bool cs_frag_reader_is_open(const cs_frag_reader *r);
const cs_frag_meta *cs_frag_reader_meta(const cs_frag_reader *r);
/* Table CRC, which together with the meta identifies the content exactly
 * (a sealed fragment's; 0 for an open fragment's reader). */
uint32_t cs_frag_reader_table_crc(const cs_frag_reader *r);
/* Reads data bytes [off, off+len) into buf. Every block touched is read whole
 * and checked before success is returned; on any error the contents of buf
 * are unspecified and must not be used. Returns 0;
 * CAIRN_E_RANGE if the range passes the end; CAIRN_E_CORRUPT (and *bad_block,
 * if not NULL, is the first bad block index; left as it was when an open
 * fragment's CRC table is too short for the range); CAIRN_E_IO;
 * CAIRN_E_NOMEM. */
int cs_frag_reader_read(cs_frag_reader *r, uint64_t off, size_t len, void *buf,
                        uint64_t *bad_block);
/* Checks one block into scratch (EC_CRC_BLOCK bytes; a block of an open
 * fragment is smaller). Returns 0,
 * CAIRN_E_CORRUPT (bad data, or an open fragment's table too short),
 * CAIRN_E_RANGE, CAIRN_E_IO. For the scrubber. */
int cs_frag_reader_verify_block(cs_frag_reader *r, uint64_t block, void *scratch);
void cs_frag_reader_close(cs_frag_reader *r);

#endif
