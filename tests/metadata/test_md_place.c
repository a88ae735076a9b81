/* md_place: distinct hosts, spread over zones and racks, weighting by free
 * space (statistics over many seeds), determinism, repair placement. */
#include "md_place.h"
#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024ull * 1024ull * 1024ull)

static char names[64][3][16];

/* nodes: id i+1, host h(i/per_host), rack r, zone z per the layout. */
static void layout(struct md_place_node *n, int count, int per_host, int hosts_per_rack,
                   int racks_per_zone)
{
    for (int i = 0; i < count; i++) {
        int host = i / per_host, rack = host / hosts_per_rack, zone = rack / racks_per_zone;
        snprintf(names[i][0], 16, "h%d", host);
        snprintf(names[i][1], 16, "r%d", rack);
        snprintf(names[i][2], 16, "z%d", zone);
        n[i].id = (uint64_t)i + 1;
        n[i].host = names[i][0];
        n[i].rack = names[i][1];
        n[i].zone = names[i][2];
        n[i].free = GIB;
    }
}

static const struct md_place_node *by_id(const struct md_place_node *n, int count, uint64_t id)
{
    for (int i = 0; i < count; i++)
        if (n[i].id == id)
            return &n[i];
    ck_abort_msg("placement returned unknown id %llu", (unsigned long long)id);
    return NULL;
}

START_TEST(test_distinct_hosts)
{
    struct md_place_node n[12];
    layout(n, 12, 2, 1, 100); /* 6 hosts with 2 chunkservers each, one zone */
    uint64_t out[6];
    for (uint64_t seed = 0; seed < 500; seed++) {
        ck_assert_int_eq(md_place(n, 12, NULL, 0, 6, seed, out), 0);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < i; j++)
                ck_assert_str_ne(by_id(n, 12, out[i])->host, by_id(n, 12, out[j])->host);
    }
    ck_assert_int_eq(md_place(n, 12, NULL, 0, 7, 1, out), CAIRN_E_UNAVAIL);
    ck_assert_int_eq(md_place(n, 12, NULL, 0, 0, 1, out), CAIRN_E_INVAL);
    n[1].id = n[0].id;
    ck_assert_int_eq(md_place(n, 12, NULL, 0, 2, 1, out), CAIRN_E_INVAL);
    /* no host label: every chunkserver is its own host */
    struct md_place_node u[6] = {{1, NULL, NULL, NULL, 1}, {2, "", "", "", 1},
                                 {3, NULL, NULL, NULL, 1}, {4, NULL, NULL, NULL, 1},
                                 {5, NULL, NULL, NULL, 1}, {6, NULL, NULL, NULL, 1}};
    ck_assert_int_eq(md_place(u, 6, NULL, 0, 6, 3, out), 0);
}
END_TEST

START_TEST(test_spread_over_zones_and_racks)
{
    struct md_place_node n[24];
    layout(n, 24, 2, 2, 2); /* 3 zones x 2 racks x 2 hosts x 2 chunkservers */
    /* free space must not override the spread */
    for (int i = 0; i < 8; i++)
        n[i].free = 100 * GIB;
    uint64_t out[6];
    for (uint64_t seed = 0; seed < 1000; seed++) {
        ck_assert_int_eq(md_place(n, 24, NULL, 0, 6, seed, out), 0);
        int zone[3] = {0}, rack[6] = {0};
        for (int i = 0; i < 6; i++) {
            const struct md_place_node *p = by_id(n, 24, out[i]);
            zone[p->zone[1] - '0']++;
            rack[atoi(p->rack + 1)]++;
        }
        for (int z = 0; z < 3; z++)
            ck_assert_int_eq(zone[z], 2);
        for (int r = 0; r < 6; r++)
            ck_assert_int_eq(rack[r], 1);
    }
    /* 9 fragments over 3 zones: 3 each, racks as even as possible (2+1) */
    uint64_t out9[9];
    ck_assert_int_eq(md_place(n, 24, NULL, 0, 9, 5, out9), 0);
    int zone[3] = {0};
    for (int i = 0; i < 9; i++)
        zone[by_id(n, 24, out9[i])->zone[1] - '0']++;
    for (int z = 0; z < 3; z++)
        ck_assert_int_eq(zone[z], 3);
}
END_TEST

START_TEST(test_weighted_by_free_space)
{
    struct md_place_node n[10];
    layout(n, 10, 1, 100, 100); /* 10 hosts, one rack, one zone */
    for (int i = 0; i < 10; i++)
        n[i].free = i < 5 ? 4 * GIB : 1 * GIB;
    int picks[10] = {0};
    int trials = 20000;
    uint64_t out[6];
    for (int s = 0; s < trials; s++) {
        ck_assert_int_eq(md_place(n, 10, NULL, 0, 1, (uint64_t)s, out), 0);
        picks[out[0] - 1]++;
    }
    int heavy = 0;
    for (int i = 0; i < 5; i++)
        heavy += picks[i];
    double share = (double)heavy / trials; /* expected 4/5 */
    ck_assert_msg(share > 0.78 && share < 0.82, "heavy share %.3f", share);
    /* each node is picked about in proportion to its weight */
    for (int i = 0; i < 10; i++) {
        double expect = trials * (i < 5 ? 4.0 / 25 : 1.0 / 25);
        ck_assert_msg(picks[i] > expect * 0.85 && picks[i] < expect * 1.15, "node %d: %d vs %.0f",
                      i, picks[i], expect);
    }
    /* with 6 of 10 chosen, every heavy node is chosen more often than any light one */
    memset(picks, 0, sizeof(picks));
    for (int s = 0; s < 5000; s++) {
        ck_assert_int_eq(md_place(n, 10, NULL, 0, 6, (uint64_t)s, out), 0);
        for (int i = 0; i < 6; i++)
            picks[out[i] - 1]++;
    }
    for (int h = 0; h < 5; h++)
        for (int l = 5; l < 10; l++)
            ck_assert_int_gt(picks[h], picks[l]);
    /* a node with no free space is a last resort only */
    for (int i = 0; i < 10; i++)
        n[i].free = i == 0 ? 0 : 100 * GIB;
    int zero_picked = 0;
    for (int s = 0; s < 2000; s++) {
        ck_assert_int_eq(md_place(n, 10, NULL, 0, 1, (uint64_t)s, out), 0);
        zero_picked += out[0] == 1;
    }
    ck_assert_int_lt(zero_picked, 5);
}
END_TEST

START_TEST(test_deterministic)
{
    struct md_place_node n[24], shuffled[24];
    layout(n, 24, 1, 2, 2);
    for (int i = 0; i < 24; i++)
        n[i].free = (uint64_t)(i + 1) * GIB;
    for (int i = 0; i < 24; i++)
        shuffled[i] = n[(i * 7) % 24];
    uint64_t a[6], b[6], c[6];
    int differ = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        ck_assert_int_eq(md_place(n, 24, NULL, 0, 6, seed, a), 0);
        ck_assert_int_eq(md_place(shuffled, 24, NULL, 0, 6, seed, b), 0);
        ck_assert(memcmp(a, b, sizeof(a)) == 0);
        ck_assert_int_eq(md_place(n, 24, NULL, 0, 6, seed + 1000, c), 0);
        differ += memcmp(a, c, sizeof(a)) != 0;
    }
    ck_assert_int_gt(differ, 150);
    uint64_t st1 = 9, st2 = 9;
    ck_assert_uint_eq(md_place_rand(&st1), md_place_rand(&st2));
}
END_TEST

START_TEST(test_repair_placement)
{
    struct md_place_node n[24];
    layout(n, 24, 2, 2, 2); /* 3 zones x 2 racks x 2 hosts x 2 */
    /* a group on 5 survivors: zones z0 z0 z1 z1 z2 (z2's second one lost) */
    struct md_place_node holders[5] = {n[0], n[4], n[8], n[12], n[16]};
    uint64_t out[1];
    for (uint64_t seed = 0; seed < 300; seed++) {
        ck_assert_int_eq(md_place(n, 24, holders, 5, 1, seed, out), 0);
        const struct md_place_node *p = by_id(n, 24, out[0]);
        ck_assert_str_eq(p->zone, "z2");       /* the zone short of a fragment */
        ck_assert_str_ne(p->rack, n[16].rack); /* and the other rack there */
        for (int h = 0; h < 5; h++)
            ck_assert_str_ne(p->host, holders[h].host);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_place");
    TCase *tc = tcase_create("placement");
    tcase_add_test(tc, test_distinct_hosts);
    tcase_add_test(tc, test_spread_over_zones_and_racks);
    tcase_add_test(tc, test_weighted_by_free_space);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_repair_placement);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
