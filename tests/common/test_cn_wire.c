/* cn_wire: the internal API's targets are built and parsed one way, and
 * cn_util's strict integer parsers. */
#include "cn_error.h"
#include "cn_util.h"
#include "cn_wire.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

static const uint8_t gid[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

START_TEST(fragment_round_trip)
{
    char t[CN_WIRE_FRAGMENT_TARGET_MAX];
    ck_assert_int_eq(cn_wire_fragment_target(t, sizeof(t), gid, 5), 0);
    ck_assert_str_eq(t, "/v1/fragment/0123456789abcdeffedcba9876543210/5");
    uint8_t back[16];
    uint32_t idx = 0;
    ck_assert_int_eq(cn_wire_fragment_parse(t, back, &idx), 0);
    ck_assert_mem_eq(back, gid, 16);
    ck_assert_uint_eq(idx, 5);
    /* Too small a buffer is refused, not truncated. */
    ck_assert_int_eq(cn_wire_fragment_target(t, 20, gid, 5), CAIRN_E_INVAL);
}
END_TEST

START_TEST(fragment_parse_refuses)
{
    static const char *bad[] = {
        NULL,
        "",
        "/v1/fragment/",
        "/v1/fragment/0123456789abcdeffedcba9876543210",
        "/v1/fragment/0123456789abcdeffedcba9876543210/",
        "/v1/fragment/0123456789abcdeffedcba9876543210/x",
        "/v1/fragment/0123456789abcdeffedcba9876543210/1/2",
        "/v1/fragment/0123456789abcdeffedcba98765432/1",
        "/v1/fragment/0123456789abcdeffedcba987654321g/1",
        "/v1/fragment/0123456789abcdeffedcba9876543210/64",
        "/v1/fragment/0123456789abcdeffedcba9876543210/-1",
        "/v2/fragment/0123456789abcdeffedcba9876543210/1",
    };
    uint8_t g[16];
    uint32_t idx;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cn_wire_fragment_parse(bad[i], g, &idx) == CAIRN_E_INVAL, "accepted %s",
                      bad[i] ? bad[i] : "(null)");
}
END_TEST

START_TEST(metadata_targets)
{
    char t[CN_WIRE_TARGET_MAX];
    ck_assert_int_eq(cn_wire_damage_target(t, sizeof(t), gid, 3, 77), 0);
    ck_assert_str_eq(t, "/v1/repair/damage?group=0123456789abcdeffedcba9876543210&index=3&cs=77");
    ck_assert_int_eq(cn_wire_repair_target(t, sizeof(t), NULL), 0);
    ck_assert_str_eq(t, CN_ROUTE_MD_REPAIR);
    ck_assert_int_eq(cn_wire_repair_target(t, sizeof(t), gid), 0);
    ck_assert_str_eq(t, "/v1/repair?group=0123456789abcdeffedcba9876543210");
    ck_assert_int_eq(cn_wire_place_target(t, sizeof(t), 6, 5, NULL, 0), 0);
    ck_assert_str_eq(t, "/v1/place?count=6&min=5");
    uint64_t ex[3] = {1, 22, 18446744073709551615ull};
    ck_assert_int_eq(cn_wire_place_target(t, sizeof(t), 6, 5, ex, 3), 0);
    ck_assert_str_eq(t, "/v1/place?count=6&min=5&exclude=1,22,18446744073709551615");
    ck_assert_int_eq(cn_wire_place_target(t, 30, 6, 5, ex, 3), CAIRN_E_INVAL);
}
END_TEST

START_TEST(crc_values)
{
    char v[9];
    cn_wire_crc_format(0x0000abcd, v);
    ck_assert_str_eq(v, "0000abcd");
    uint32_t c = 0;
    ck_assert_int_eq(cn_wire_crc_parse(v, &c), 0);
    ck_assert_uint_eq(c, 0xabcd);
    ck_assert_int_eq(cn_wire_crc_parse("DEADBEEF", &c), 0);
    ck_assert_uint_eq(c, 0xdeadbeef);
    ck_assert_int_eq(cn_wire_crc_parse(NULL, &c), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_wire_crc_parse("abc", &c), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_wire_crc_parse("0000abcdz", &c), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_wire_crc_parse("0000abcg", &c), CAIRN_E_INVAL);
}
END_TEST

START_TEST(strict_integers)
{
    uint64_t v = 42;
    ck_assert_int_eq(cn_parse_u64("0", 10, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(cn_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    v = 42;
    ck_assert_int_eq(cn_parse_u64("18446744073709551616", UINT64_MAX, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64("11", 10, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64("", 10, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64(NULL, 10, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64(" 1", 10, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64("+1", 10, &v), CAIRN_E_INVAL);
    ck_assert_int_eq(cn_parse_u64("1 ", 10, &v), CAIRN_E_INVAL);
    ck_assert_uint_eq(v, 42); /* untouched on failure */
    ck_assert_uint_eq(cn_scan_u64("123-456", &v), 3);
    ck_assert_uint_eq(v, 123);
    ck_assert_uint_eq(cn_scan_u64("-1", &v), 0);
    ck_assert_uint_eq(cn_scan_u64("99999999999999999999", &v), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cn_wire");
    TCase *t = tcase_create("wire");
    tcase_add_test(t, fragment_round_trip);
    tcase_add_test(t, fragment_parse_refuses);
    tcase_add_test(t, metadata_targets);
    tcase_add_test(t, crc_values);
    tcase_add_test(t, strict_integers);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
