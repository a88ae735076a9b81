/* CRC32C (Castagnoli, the iSCSI polynomial) over ISA-L's crc32_iscsi, in the
 * standard convention: ec_crc32c("123456789", 9) == 0xE3069283. Used per
 * 64 KiB block in fragment files and wherever Cairn checks bytes. Thread-safe. */
#ifndef CAIRN_EC_CRC_H
#define CAIRN_EC_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Block size of the chunkserver's fragment format. */
#define EC_CRC_BLOCK (64u * 1024u)

/* CRC32C of buf[0..len). */
uint32_t ec_crc32c(const void *buf, size_t len);

/* Streaming form: start with crc = 0, feed pieces in order; the result equals
 * ec_crc32c over the concatenation. */
uint32_t ec_crc32c_update(uint32_t crc, const void *buf, size_t len);

/* Number of blocks of `block` bytes covering len bytes (the last may be short). */
size_t ec_crc_block_count(uint64_t len, uint32_t block);

/* Writes one CRC per block of buf[0..len) into out[0..ec_crc_block_count-1]. */
void ec_crc_blocks(const void *buf, size_t len, uint32_t block, uint32_t *out);

/* ec_crc_blocks_verify's answer when every block matches. */
#define EC_CRC_ALL_GOOD (-1L)

/* Checks buf[0..len) against per-block CRCs. Returns EC_CRC_ALL_GOOD if all
 * match, else the index of the first bad block. */
long ec_crc_blocks_verify(const void *buf, size_t len, uint32_t block, const uint32_t *crcs);

#endif
