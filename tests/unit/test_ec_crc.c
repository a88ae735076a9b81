/* CRC32C: the standard check value, streaming equals one-shot, block helpers,
 * and every single flipped bit is detected. */
#include "ec_crc.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_known_vectors)
{
    ck_assert_uint_eq(ec_crc32c("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(ec_crc32c("", 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros, and of 0xFF. */
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(ec_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof(buf));
    ck_assert_uint_eq(ec_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(ec_crc32c(buf, 32), 0x46DD794Eu);
}
END_TEST

START_TEST(test_streaming)
{
    size_t len = 300000;
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 9));
    uint32_t whole = ec_crc32c(buf, len);
    unsigned seed = 7;
    for (int t = 0; t < 50; t++) {
        uint32_t crc = 0;
        size_t pos = 0;
        while (pos < len) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 8) % 70000;
            if (n > len - pos)
                n = len - pos;
            crc = ec_crc32c_update(crc, buf + pos, n);
            pos += n;
        }
        ck_assert_uint_eq(crc, whole);
    }
    free(buf);
}
END_TEST

START_TEST(test_blocks)
{
    ck_assert_uint_eq(ec_crc_block_count(0, EC_CRC_BLOCK), 0);
    ck_assert_uint_eq(ec_crc_block_count(1, EC_CRC_BLOCK), 1);
    ck_assert_uint_eq(ec_crc_block_count(EC_CRC_BLOCK, EC_CRC_BLOCK), 1);
    ck_assert_uint_eq(ec_crc_block_count(EC_CRC_BLOCK + 1, EC_CRC_BLOCK), 2);
    size_t len = 3 * EC_CRC_BLOCK + 1234;
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i ^ (i >> 11));
    uint32_t crcs[4];
    ec_crc_blocks(buf, len, EC_CRC_BLOCK, crcs);
    ck_assert_uint_eq(crcs[3], ec_crc32c(buf + 3 * EC_CRC_BLOCK, 1234));
    ck_assert_int_eq(ec_crc_blocks_verify(buf, len, EC_CRC_BLOCK, crcs), EC_CRC_ALL_GOOD);
    buf[2 * EC_CRC_BLOCK + 17] ^= 0x10;
    ck_assert_int_eq(ec_crc_blocks_verify(buf, len, EC_CRC_BLOCK, crcs), 2);
    free(buf);
}
END_TEST

START_TEST(test_every_bit_flip_detected)
{
    size_t len = 4096;
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t good = ec_crc32c(buf, len);
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            ck_assert_uint_ne(ec_crc32c(buf, len), good);
            buf[i] ^= (uint8_t)(1u << b);
        }
    ck_assert_uint_eq(ec_crc32c(buf, len), good);
    free(buf);
}
END_TEST

static Suite *crc_suite(void)
{
    Suite *s = suite_create("ec_crc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_known_vectors);
    tcase_add_test(tc, test_streaming);
    tcase_add_test(tc, test_blocks);
    tcase_add_test(tc, test_every_bit_flip_detected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
