/* Harness cs_fragment: the chunkserver's fragment file format
 * (chunkserver/cs_fragment.h) on the in-memory file system of cs_io_fault.
 *
 * Input: one mode byte, then
 *   mode even -- raw: the rest is a fragment file. It is opened with
 *     cs_frag_reader_open and, if accepted, read whole, in a part, and
 *     block by block. (cs_frag_header_decode also sees its first 64 bytes.)
 *   mode odd -- round trip: u16 k, u16 m, u32 index, u32 unit, u32 data
 *     length (modulo 300000), u16 append size, u32 bit to flip (0: none),
 *     then bytes that seed the data. The harness writes the fragment with
 *     cs_frag_writer, flips the bit, and reads it back.
 * Oracles (round trip): the writer accepts exactly the descriptions
 * cs_frag_meta_check accepts; an undamaged fragment opens with the same
 * description and reads back the bytes written; a single flipped bit is
 * always caught (the format's promise): in the header or the CRC table the
 * file does not open, in the data the read of its block fails. */
#include "fuzz.h"

#include "cs_fragment.h"
#include "cs_io_fault.h"

#include "cn_error.h"
#include "ec_crc.h"

#include <stdlib.h>
#include <string.h>

#define PATH     "/frag"
#define MAX_DATA 300000u
#define FS_BYTES (8u << 20)

static void read_back(const cs_io *io, int fd, const uint8_t *expect, int damaged_data,
                      uint64_t flipped_block)
{
    cs_frag_reader *r;
    int rc = cs_frag_reader_open(io, fd, &r);
    fuzz_check(rc == 0 || !expect, "an intact fragment does not open: %d", rc);
    if (rc != 0) {
        io->close(io, fd); /* a reader that did not open leaves fd to us */
        return;
    }
    const cs_frag_meta *meta = cs_frag_reader_meta(r);
    fuzz_check(cs_frag_meta_check(meta) == 0, "reader accepted an invalid description");
    uint64_t len = meta->data_len;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    uint64_t bad = UINT64_MAX;
    rc = cs_frag_reader_read(r, 0, (size_t)len, buf, &bad);
    if (damaged_data) {
        fuzz_check(rc == CAIRN_E_CORRUPT && bad == flipped_block,
                   "a flipped bit in block %llu was not caught (%d, block %llu)",
                   (unsigned long long)flipped_block, rc, (unsigned long long)bad);
    } else if (expect) {
        fuzz_check(rc == 0 && memcmp(buf, expect, (size_t)len) == 0, "read back differs (%d)", rc);
    }
    if (len > 2)
        cs_frag_reader_read(r, len / 3, (size_t)(len / 2 - len / 3 + 1), buf, NULL);
    fuzz_check(cs_frag_reader_read(r, len, 1, buf, NULL) == CAIRN_E_RANGE, "read past the end");
    uint64_t blocks = cs_frag_block_count(len);
    void *scratch = malloc(EC_CRC_BLOCK);
    if (!scratch)
        abort();
    for (uint64_t b = 0; b <= blocks; b++) {
        rc = cs_frag_reader_verify_block(r, b, scratch);
        if (b == blocks)
            fuzz_check(rc == CAIRN_E_RANGE, "block past the end: %d", rc);
        else if (expect && !(damaged_data && b == flipped_block))
            fuzz_check(rc == 0, "intact block %llu: %d", (unsigned long long)b, rc);
    }
    free(scratch);
    free(buf);
    cs_frag_reader_close(r);
}

static void raw(const cs_io *io, const uint8_t *data, size_t size)
{
    uint8_t header[CS_FRAG_HEADER_LEN] = {0};
    memcpy(header, data, size < sizeof(header) ? size : sizeof(header));
    cs_frag_meta meta;
    uint32_t table_crc;
    if (cs_frag_header_decode(header, &meta, &table_crc) == 0)
        fuzz_check(cs_frag_meta_check(&meta) == 0, "decoded an invalid description");
    int fd;
    fuzz_check(io->open(io, PATH, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd) == 0, "create");
    fuzz_check(cs_io_write_all(io, fd, data, size, 0) == 0, "write");
    io->close(io, fd);
    fuzz_check(io->open(io, PATH, CS_IO_READ, &fd) == 0, "open");
    read_back(io, fd, NULL, 0, 0);
}

static void round_trip(cs_io_fault *f, const cs_io *io, struct fuzz_in *in)
{
    cs_frag_meta meta = {0};
    meta.k = fuzz_u16(in);
    meta.m = fuzz_u16(in);
    meta.index = fuzz_u32(in);
    meta.unit = fuzz_u32(in);
    meta.data_len = fuzz_u32(in) % MAX_DATA;
    size_t piece = fuzz_u16(in);
    uint32_t flip = fuzz_u32(in);
    for (int i = 0; i < CS_GROUP_ID_LEN; i++)
        meta.group[i] = (uint8_t)(i * 17);
    size_t seed_len;
    const char *seed = fuzz_rest(in, &seed_len);
    uint8_t *content = malloc(meta.data_len ? meta.data_len : 1);
    if (!content)
        abort();
    for (uint64_t i = 0; i < meta.data_len; i++)
        content[i] = seed_len ? (uint8_t)(seed[i % seed_len] + i / seed_len) : (uint8_t)i;

    int fd;
    fuzz_check(io->open(io, PATH, CS_IO_WRITE | CS_IO_CREATE | CS_IO_TRUNC, &fd) == 0, "create");
    cs_frag_writer *w;
    int rc = cs_frag_writer_new(io, fd, &meta, 0, &w);
    fuzz_check((rc == 0) == (cs_frag_meta_check(&meta) == 0), "writer_new %d disagrees", rc);
    if (rc != 0) {
        io->close(io, fd);
        free(content);
        return;
    }
    for (uint64_t off = 0; off < meta.data_len;) {
        size_t n = piece && piece < meta.data_len - off ? piece : (size_t)(meta.data_len - off);
        fuzz_check(cs_frag_writer_append(w, content + off, n) == 0, "append");
        off += n;
    }
    uint32_t data_crc;
    fuzz_check(cs_frag_writer_finish(w, &data_crc) == 0, "finish");
    fuzz_check(data_crc == ec_crc32c(content, (size_t)meta.data_len), "data CRC");
    cs_frag_writer_free(w);
    io->close(io, fd);

    uint64_t file_size = cs_frag_file_size(meta.data_len);
    int damaged_data = 0;
    uint64_t block = 0;
    if (flip) {
        uint64_t bit = (flip - 1) % (file_size * 8);
        fuzz_check(cs_io_fault_flip(f, PATH, bit / 8, (unsigned)(bit % 8)) == 0, "flip");
        uint64_t byte = bit / 8;
        if (byte >= CS_FRAG_HEADER_LEN && byte < CS_FRAG_HEADER_LEN + meta.data_len) {
            damaged_data = 1;
            block = (byte - CS_FRAG_HEADER_LEN) / EC_CRC_BLOCK;
        }
    }
    fuzz_check(io->open(io, PATH, CS_IO_READ, &fd) == 0, "open");
    if (flip && !damaged_data) {
        /* Header or CRC table: the file must not open. */
        cs_frag_reader *r;
        rc = cs_frag_reader_open(io, fd, &r);
        fuzz_check(rc != 0, "a flipped bit at byte %llu of the header or table was not caught",
                   (unsigned long long)((flip - 1) % (file_size * 8) / 8));
        io->close(io, fd);
    } else {
        read_back(io, fd, content, damaged_data, block);
    }
    free(content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cs_io_fault *f;
    fuzz_check(cs_io_fault_new(FS_BYTES, 1, &f) == 0, "fault fs");
    const cs_io *io = cs_io_fault_io(f);
    if (data[0] % 2 == 0) {
        raw(io, data + 1, size - 1);
    } else {
        struct fuzz_in in;
        fuzz_in_init(&in, data + 1, size - 1);
        round_trip(f, io, &in);
        fuzz_in_free(&in);
    }
    fuzz_check(cs_io_fault_open_files(f) == 0, "descriptor leak");
    cs_io_fault_free(f);
    return 0;
}
