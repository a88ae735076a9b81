/* md_readgate: a ticket is confirmed only while the published deadline
 * holds and no revocation came between enter and confirm; extensions do not
 * disturb tickets; an earlier deadline revokes; readers racing a revoking
 * thread never confirm a ticket across a revocation. */
#include "md_readgate.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>

START_TEST(test_empty_gate)
{
    struct md_readgate g;
    md_readgate_init(&g);
    struct md_readgate_ticket t;
    ck_assert_int_eq(md_readgate_enter(&g, 0, &t), 0);
    ck_assert_int_eq(md_readgate_enter(&g, 1000, &t), 0);
}
END_TEST

START_TEST(test_deadline)
{
    struct md_readgate g;
    md_readgate_init(&g);
    md_readgate_publish(&g, 1000);
    struct md_readgate_ticket t;
    ck_assert_int_eq(md_readgate_enter(&g, 999, &t), 1);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 999), 1);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 1000), 0); /* ran out while reading */
    ck_assert_int_eq(md_readgate_enter(&g, 1000, &t), 0);
    ck_assert_int_eq(md_readgate_enter(&g, 5000, &t), 0);
}
END_TEST

START_TEST(test_revoke_between)
{
    struct md_readgate g;
    md_readgate_init(&g);
    md_readgate_publish(&g, 1000);
    struct md_readgate_ticket t;
    ck_assert_int_eq(md_readgate_enter(&g, 10, &t), 1);
    md_readgate_revoke(&g);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 11), 0);
    ck_assert_int_eq(md_readgate_enter(&g, 12, &t), 0);
    /* republished (a later round): new tickets again, the old one stays dead */
    struct md_readgate_ticket old = t;
    md_readgate_publish(&g, 2000);
    ck_assert_int_eq(md_readgate_enter(&g, 13, &t), 1);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 14), 1);
    ck_assert_int_eq(md_readgate_confirm(&g, &old, 14), 0);
}
END_TEST

START_TEST(test_extend_and_shrink)
{
    struct md_readgate g;
    md_readgate_init(&g);
    md_readgate_publish(&g, 1000);
    struct md_readgate_ticket t;
    ck_assert_int_eq(md_readgate_enter(&g, 10, &t), 1);
    md_readgate_publish(&g, 1500); /* the lease extended: the ticket stands */
    md_readgate_publish(&g, 1500);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 20), 1);
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 1200), 0); /* its own deadline still binds */
    ck_assert_int_eq(md_readgate_enter(&g, 1200, &t), 1);
    md_readgate_publish(&g, 0); /* lost without lease_lost: revokes */
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 1201), 0);
    md_readgate_publish(&g, 3000);
    ck_assert_int_eq(md_readgate_enter(&g, 1300, &t), 1);
    md_readgate_publish(&g, 2000); /* earlier: revokes, then allows up to it */
    ck_assert_int_eq(md_readgate_confirm(&g, &t, 1301), 0);
    ck_assert_int_eq(md_readgate_enter(&g, 1999, &t), 1);
    ck_assert_int_eq(md_readgate_enter(&g, 2000, &t), 0);
}
END_TEST

/* A writer revokes, acts (acts odd while it does), then publishes again. A
 * reader reads `acts` between enter and confirm, as it would take its store
 * snapshot: no confirmed read may have taken it while the writer acted. */
static struct md_readgate race_gate;
static atomic_uint_fast64_t acts;
static atomic_int race_stop;
static atomic_uint_fast64_t confirmed, spanned;

static void *race_reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&race_stop)) {
        struct md_readgate_ticket t;
        if (!md_readgate_enter(&race_gate, 1, &t))
            continue;
        uint64_t snap = atomic_load(&acts); /* the store snapshot */
        if (md_readgate_confirm(&race_gate, &t, 1)) {
            if (snap % 2) /* taken while the writer acted */
                atomic_fetch_add(&spanned, 1);
            atomic_fetch_add(&confirmed, 1);
        }
    }
    return NULL;
}

START_TEST(test_race)
{
    md_readgate_init(&race_gate);
    atomic_store(&acts, 0);
    atomic_store(&race_stop, 0);
    atomic_store(&confirmed, 0);
    atomic_store(&spanned, 0);
    md_readgate_publish(&race_gate, 100);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, race_reader, NULL);
    for (int i = 0; i < 200000; i++) {
        md_readgate_revoke(&race_gate);
        atomic_fetch_add(&acts, 1); /* odd: acting */
        atomic_fetch_add(&acts, 1); /* even: done */
        md_readgate_publish(&race_gate, 100);
    }
    atomic_store(&race_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(atomic_load(&spanned), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("md_readgate");
    TCase *tc = tcase_create("gate");
    tcase_add_test(tc, test_empty_gate);
    tcase_add_test(tc, test_deadline);
    tcase_add_test(tc, test_revoke_between);
    tcase_add_test(tc, test_extend_and_shrink);
    tcase_add_test(tc, test_race);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
