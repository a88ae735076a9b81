/* S3 additional checksums (x-amz-checksum-<alg>): CRC32, CRC32C, SHA1,
 * SHA256 and CRC64NVME, computed incrementally. Values travel as base64 of
 * the big-endian CRC or the raw digest. Used for aws-chunked trailers
 * (gw_chunked) and available to the data path for x-amz-checksum-* headers.
 * A struct gw_checksum belongs to one thread at a time. */
#ifndef CAIRN_GW_CHECKSUM_H
#define CAIRN_GW_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

enum gw_checksum_alg {
    GW_CHECKSUM_CRC32 = 0,
    GW_CHECKSUM_CRC32C,
    GW_CHECKSUM_SHA1,
    GW_CHECKSUM_SHA256,
    GW_CHECKSUM_CRC64NVME,
};

#define GW_CHECKSUM_B64_MAX 48 /* base64 of a SHA-256 (44) plus NUL, rounded */

/* Maps a header name ("x-amz-checksum-crc32c", any case) to its algorithm.
 * Returns 0 or CAIRN_E_NOTFOUND. */
int gw_checksum_alg_from_header(const char *name, enum gw_checksum_alg *alg);
/* The header name of alg ("x-amz-checksum-crc32c"). */
const char *gw_checksum_header(enum gw_checksum_alg alg);

struct gw_checksum;

/* Starts a checksum. *out owned by the caller (gw_checksum_free). Returns 0
 * or CAIRN_E_NOMEM. */
int gw_checksum_new(enum gw_checksum_alg alg, struct gw_checksum **out);
/* Feeds bytes. Returns 0 or CAIRN_E_NOMEM. */
int gw_checksum_update(struct gw_checksum *c, const void *data, size_t len);
/* Writes the base64 value of everything fed so far into b64 (NUL-terminated,
 * GW_CHECKSUM_B64_MAX bytes). Call once. Returns 0 or CAIRN_E_NOMEM. */
int gw_checksum_final(struct gw_checksum *c, char b64[GW_CHECKSUM_B64_MAX]);
void gw_checksum_free(struct gw_checksum *c);

#endif
