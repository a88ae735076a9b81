/* Throughput of the gateway's per-byte protocol work, single-threaded:
 * aws-chunked decode with signature verification, the signed-payload
 * SHA-256 check, and each x-amz-checksum algorithm. Not a test; run by hand:
 *   build/tests/gateway/bench_gw_protocol [chunk-bytes]   (default 65536) */
#include "gw_checksum.h"
#include "gw_sigv4.h"

#include "cn_util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL (256u << 20)
#define PIECE (256u << 10) /* bytes handed to the decoder per call */

static int discard(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

static double gbps(size_t bytes, int64_t us)
{
    return us > 0 ? (double)bytes / (double)us / 1000.0 : 0.0;
}

int main(int argc, char **argv)
{
    size_t chunk = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 65536;
    if (chunk < 1 || chunk > (64u << 20)) {
        fprintf(stderr, "chunk size out of range\n");
        return 2;
    }
    size_t nchunks = TOTAL / chunk;
    struct gw_sigv4_result res;
    memset(&res, 0, sizeof(res));
    res.payload = GW_SIGV4_PAYLOAD_STREAMING;
    res.decoded_content_length = (int64_t)(chunk * nchunks);
    snprintf(res.amz_date, sizeof(res.amz_date), "20130524T000000Z");
    snprintf(res.scope, sizeof(res.scope), "20130524/us-east-1/s3/aws4_request");
    memset(res.signature, 'a', 64);
    if (gw_sigv4_signing_key("bench-secret", "20130524", "us-east-1", "s3", res.signing_key))
        return 1;

    unsigned char *data = malloc(chunk);
    char *body = malloc(nchunks * (chunk + 100) + 200);
    if (!data || !body)
        return 1;
    memset(data, 'x', chunk);
    unsigned char md[32], md0[32];
    EVP_Digest(data, chunk, md, NULL, EVP_sha256(), NULL);
    EVP_Digest("", 0, md0, NULL, EVP_sha256(), NULL);
    char prev[65], *p = body;
    memcpy(prev, res.signature, 65);
    for (size_t i = 0; i <= nchunks; i++) {
        char sig[65];
        size_t n = i < nchunks ? chunk : 0;
        if (gw_sigv4_chunk_sign(res.signing_key, res.amz_date, res.scope, prev, n ? md : md0, sig))
            return 1;
        p += sprintf(p, "%zx;chunk-signature=%s\r\n", n, sig);
        memcpy(p, data, n);
        p += n;
        p += sprintf(p, "\r\n");
        memcpy(prev, sig, 65);
    }
    size_t blen = (size_t)(p - body);

    struct gw_chunked *d;
    enum gw_s3err err;
    if (gw_chunked_new(&res, 0, &d))
        return 1;
    int64_t t0 = cn_mono_us();
    for (size_t off = 0; off < blen; off += PIECE) {
        size_t n = blen - off < PIECE ? blen - off : PIECE;
        if (gw_chunked_feed(d, body + off, n, discard, NULL, &err)) {
            fprintf(stderr, "decode failed: %s\n", gw_s3err_code(err));
            return 1;
        }
    }
    if (gw_chunked_finish(d, &err)) {
        fprintf(stderr, "finish failed: %s\n", gw_s3err_code(err));
        return 1;
    }
    printf("aws-chunked decode+verify (%zu-byte chunks)  %6.2f GB/s\n", chunk,
           gbps(blen, cn_mono_us() - t0));
    gw_chunked_free(d);

    unsigned char expected[32] = {0};
    struct gw_sha256_check *c;
    if (gw_sha256_check_new(expected, &c))
        return 1;
    t0 = cn_mono_us();
    for (size_t off = 0; off < blen; off += PIECE)
        gw_sha256_check_update(c, body + off, blen - off < PIECE ? blen - off : PIECE);
    (void)gw_sha256_check_finish(c);
    printf("signed payload SHA-256 check              %6.2f GB/s\n", gbps(blen, cn_mono_us() - t0));
    gw_sha256_check_free(c);

    static const char *names[] = {"crc32", "crc32c", "sha1", "sha256", "crc64nvme"};
    for (int a = 0; a < 5; a++) {
        struct gw_checksum *k;
        char b64[GW_CHECKSUM_B64_MAX];
        if (gw_checksum_new((enum gw_checksum_alg)a, &k))
            return 1;
        t0 = cn_mono_us();
        for (size_t off = 0; off < blen; off += PIECE)
            gw_checksum_update(k, body + off, blen - off < PIECE ? blen - off : PIECE);
        gw_checksum_final(k, b64);
        printf("x-amz-checksum-%-10s                 %6.2f GB/s\n", names[a],
               gbps(blen, cn_mono_us() - t0));
        gw_checksum_free(k);
    }
    free(body);
    free(data);
    return 0;
}
