/* Harness policy: bucket policy documents (gateway/gw_policy.c, jansson
 * underneath) parsed for bucket "photos" and, when accepted, evaluated
 * against a fixed set of requests (anonymous and signed principals, object
 * and bucket actions, condition keys of every type).
 *
 * Input: the JSON document. Oracles: the error message is NUL-terminated and
 * fits GW_POLICY_ERR_MAX; an accepted policy has 1..256 statements; an
 * evaluation names a statement exactly when a statement decided it; an
 * operator-free evaluation is deterministic (same answer twice). */
#include "fuzz.h"

#include "gw_policy.h"

#include "cn_error.h"

#include <string.h>

#define BUCKET "photos"

static int count_principal(void *arg, enum gw_policy_principal_kind kind, const char *value)
{
    fuzz_check(kind == GW_POLICY_PRINCIPAL_USER || kind == GW_POLICY_PRINCIPAL_CANONICAL_ID,
               "principal kind %d", (int)kind);
    fuzz_check(value != NULL, "principal without a value");
    (*(size_t *)arg)++;
    return 0;
}

static void evaluate(const struct gw_policy *p)
{
    static const struct gw_authz_kv ctx[] = {
        {"s3:prefix", "2024/"},
        {"s3:max-keys", "100"},
        {"s3:x-amz-acl", "public-read"},
        {"s3:ExistingObjectTag/team", "blue"},
        {"aws:Referer", "https://example.com/page"},
        {"s3:signatureversion", "AWS4-HMAC-SHA256"},
    };
    static const struct {
        const char *user, *canonical_id;
        enum gw_authz_action action;
        const char *key, *ip;
        int secure;
        int64_t now_ms;
        size_t n_ctx;
    } rq[] = {
        {NULL, NULL, GW_ACT_GET_OBJECT, "index.html", "203.0.113.9", 0, 0, 0},
        {"alice", "c0ffee-alice", GW_ACT_PUT_OBJECT, "a/b/c.jpg", "10.1.2.3", 1, 1700000000000, 6},
        {"bob", "c0ffee-bob", GW_ACT_LIST_BUCKET, NULL, "2001:db8::1", 1, 1369353600000, 2},
        {"bob", "c0ffee-bob", GW_ACT_DELETE_OBJECT, "x", "::ffff:192.0.2.1", 0, 1, 6},
        {"carol", "c0ffee-carol", GW_ACT_GET_OBJECT_ACL, "photos/*", NULL, 0, -1, 4},
        {"alice", "c0ffee-alice", GW_ACT_LIST_ALL_MY_BUCKETS, NULL, "127.0.0.1", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rq) / sizeof(rq[0]); i++) {
        struct gw_authz_request r = {
            .principal = {.user = rq[i].user, .canonical_id = rq[i].canonical_id},
            .action = rq[i].action,
            .bucket = rq[i].action == GW_ACT_LIST_ALL_MY_BUCKETS ? NULL : BUCKET,
            .key = rq[i].key,
            .source_ip = rq[i].ip,
            .secure_transport = rq[i].secure,
            .now_ms = rq[i].now_ms,
            .ctx = ctx,
            .n_ctx = rq[i].n_ctx,
        };
        int stmt = -2, again_stmt = -2;
        enum gw_policy_effect e = gw_policy_eval(p, &r, &stmt);
        fuzz_check(e == GW_POLICY_NONE || e == GW_POLICY_ALLOW || e == GW_POLICY_DENY, "effect %d",
                   (int)e);
        fuzz_check(e == GW_POLICY_NONE ? stmt == -1
                                       : stmt >= 0 && (size_t)stmt < gw_policy_statement_count(p),
                   "effect %d from statement %d", (int)e, stmt);
        fuzz_check(gw_policy_eval(p, &r, &again_stmt) == e && again_stmt == stmt,
                   "evaluation is not deterministic");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_policy *p = NULL;
    char err[GW_POLICY_ERR_MAX];
    memset(err, 'x', sizeof(err));
    int rc = gw_policy_parse((const char *)data, size, BUCKET, &p, err, sizeof(err));
    if (rc != 0) {
        fuzz_check(rc == CAIRN_E_INVAL || rc == CAIRN_E_NOMEM, "rc %d", rc);
        fuzz_check(memchr(err, '\0', sizeof(err)) != NULL, "error message not terminated");
        return 0;
    }
    size_t n = gw_policy_statement_count(p);
    fuzz_check(n >= 1 && n <= GW_POLICY_MAX_STATEMENTS, "%zu statements", n);
    for (size_t i = 0; i <= n; i++)
        fuzz_check(gw_policy_statement_sid(p, i) != NULL, "sid %zu", i);
    size_t principals = 0;
    gw_policy_foreach_principal(p, count_principal, &principals);
    evaluate(p);
    gw_policy_free(p);
    return 0;
}
