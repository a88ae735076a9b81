#include "ec_crc.h"

#include <isa-l/crc.h>
#include <limits.h>

/* ISA-L's crc32_iscsi takes and returns the raw register: passing ~crc in and
 * inverting the result gives the standard (reflected, pre/post-inverted)
 * CRC32C, so the streaming form composes. */
uint32_t ec_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t reg = ~crc;
    while (len > 0) {
        int n = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)len;
        reg = crc32_iscsi((unsigned char *)p, n, reg);
        p += n;
        len -= (size_t)n;
    }
    return ~reg;
}

uint32_t ec_crc32c(const void *buf, size_t len)
{
    return ec_crc32c_update(0, buf, len);
}

size_t ec_crc_block_count(uint64_t len, uint32_t block)
{
    return (size_t)((len + block - 1) / block);
}

void ec_crc_blocks(const void *buf, size_t len, uint32_t block, uint32_t *out)
{
    const unsigned char *p = buf;
    size_t n = ec_crc_block_count(len, block);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * block;
        size_t l = len - off < block ? len - off : block;
        out[i] = ec_crc32c(p + off, l);
    }
}

long ec_crc_blocks_verify(const void *buf, size_t len, uint32_t block, const uint32_t *crcs)
{
    const unsigned char *p = buf;
    size_t n = ec_crc_block_count(len, block);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * block;
        size_t l = len - off < block ? len - off : block;
        if (ec_crc32c(p + off, l) != crcs[i])
            return (long)i;
    }
    return EC_CRC_ALL_GOOD;
}
