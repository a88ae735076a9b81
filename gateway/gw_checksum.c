#include "gw_checksum.h"

#include "cn_error.h"
#include "ec_crc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>

static const char *const headers[] = {
    [GW_CHECKSUM_CRC32] = "x-amz-checksum-crc32",
    [GW_CHECKSUM_CRC32C] = "x-amz-checksum-crc32c",
    [GW_CHECKSUM_SHA1] = "x-amz-checksum-sha1",
    [GW_CHECKSUM_SHA256] = "x-amz-checksum-sha256",
    [GW_CHECKSUM_CRC64NVME] = "x-amz-checksum-crc64nvme",
};

int gw_checksum_alg_from_header(const char *name, enum gw_checksum_alg *alg)
{
    for (int i = 0; name && i < (int)(sizeof(headers) / sizeof(headers[0])); i++) {
        if (strcasecmp(name, headers[i]) == 0) {
            *alg = (enum gw_checksum_alg)i;
            return 0;
        }
    }
    return CAIRN_E_NOTFOUND;
}

const char *gw_checksum_header(enum gw_checksum_alg alg)
{
    return headers[alg];
}

struct gw_checksum {
    enum gw_checksum_alg alg;
    uint32_t crc32;
    uint64_t crc64;
    EVP_MD_CTX *md;
};

/* CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all
 * ones (check value 0xae8b14860a799888). ISA-L 2.30 has no variant for it, so
 * it is computed here, slicing by 8 (tables built once). */
static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x9a6c9329ac4bc9b5ULL : c >> 1;
        crc64_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc64_table[t][i] =
                crc64_table[0][crc64_table[t - 1][i] & 0xff] ^ (crc64_table[t - 1][i] >> 8);
}

static uint64_t crc64_update(uint64_t crc, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        crc ^= w;
        crc = crc64_table[7][crc & 0xff] ^ crc64_table[6][(crc >> 8) & 0xff] ^
              crc64_table[5][(crc >> 16) & 0xff] ^ crc64_table[4][(crc >> 24) & 0xff] ^
              crc64_table[3][(crc >> 32) & 0xff] ^ crc64_table[2][(crc >> 40) & 0xff] ^
              crc64_table[1][(crc >> 48) & 0xff] ^ crc64_table[0][crc >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc64_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

int gw_checksum_new(enum gw_checksum_alg alg, struct gw_checksum **out)
{
    struct gw_checksum *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->alg = alg;
    c->crc64 = ~0ULL;
    if (alg == GW_CHECKSUM_SHA1 || alg == GW_CHECKSUM_SHA256) {
        c->md = EVP_MD_CTX_new();
        if (!c->md ||
            !EVP_DigestInit_ex(c->md, alg == GW_CHECKSUM_SHA1 ? EVP_sha1() : EVP_sha256(), NULL)) {
            gw_checksum_free(c);
            return CAIRN_E_NOMEM;
        }
    }
    if (alg == GW_CHECKSUM_CRC64NVME)
        pthread_once(&crc64_once, crc64_init);
    *out = c;
    return 0;
}

int gw_checksum_update(struct gw_checksum *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    switch (c->alg) {
    case GW_CHECKSUM_CRC32:
        c->crc32 = crc32_gzip_refl(c->crc32, p, len);
        return 0;
    case GW_CHECKSUM_CRC32C:
        c->crc32 = ec_crc32c_update(c->crc32, p, len);
        return 0;
    case GW_CHECKSUM_CRC64NVME:
        c->crc64 = crc64_update(c->crc64, p, len);
        return 0;
    default:
        return EVP_DigestUpdate(c->md, p, len) ? 0 : CAIRN_E_NOMEM;
    }
}

int gw_checksum_final(struct gw_checksum *c, char b64[GW_CHECKSUM_B64_MAX])
{
    unsigned char raw[32];
    unsigned int n = 0;
    switch (c->alg) {
    case GW_CHECKSUM_CRC32:
    case GW_CHECKSUM_CRC32C:
        for (int i = 0; i < 4; i++)
            raw[i] = (unsigned char)(c->crc32 >> (24 - 8 * i));
        n = 4;
        break;
    case GW_CHECKSUM_CRC64NVME: {
        uint64_t v = ~c->crc64;
        for (int i = 0; i < 8; i++)
            raw[i] = (unsigned char)(v >> (56 - 8 * i));
        n = 8;
        break;
    }
    default:
        if (!EVP_DigestFinal_ex(c->md, raw, &n))
            return CAIRN_E_NOMEM;
        break;
    }
    EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
    return 0;
}

void gw_checksum_free(struct gw_checksum *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->md);
    free(c);
}
