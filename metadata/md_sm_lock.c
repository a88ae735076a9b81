/* Object lock (docs/metadata.md "Versions", docs/security.md "Object
 * lock"): the rule that keeps a locked version, the lock of new versions
 * (their own or the bucket's default retention), and the commands that
 * change lock settings. Every decision compares retention ends with the
 * time the proposer put in the command, never with a clock read here. */
#include "md_sm_int.h"

#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS      86400000LL
#define MAX_DAYS    36500u /* a default retention of at most 100 years */
#define MAX_YEARS   100u
#define LOCKED_MSG  "Access Denied because object protected by object lock."
#define NO_LOCK_MSG "Bucket is missing Object Lock Configuration"
#define PAST_MSG    "The retain until date must be in the future!"

int sm_lock_holds(const Md__ObjectRecord *rec, int64_t now_ms, int bypass)
{
    if (rec->legal_hold)
        return 1;
    if (rec->retain_until_ms <= now_ms)
        return 0;
    if (rec->lock_mode == MD__LOCK_MODE__LOCK_COMPLIANCE)
        return 1;
    return rec->lock_mode == MD__LOCK_MODE__LOCK_GOVERNANCE && !bypass;
}

static int lock_enabled(const Md__BucketRecord *b)
{
    return b->lock && b->lock->enabled;
}

static int valid_mode(Md__LockMode m)
{
    return m == MD__LOCK_MODE__LOCK_GOVERNANCE || m == MD__LOCK_MODE__LOCK_COMPLIANCE;
}

/* ---- calendar arithmetic (proleptic Gregorian, UTC; H. Hinnant's
 * days_from_civil / civil_from_days) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int64_t sm_add_period(int64_t t_ms, uint32_t days, uint32_t years)
{
    int64_t day = t_ms >= 0 ? t_ms / DAY_MS : -((-t_ms + DAY_MS - 1) / DAY_MS);
    int64_t rest = t_ms - day * DAY_MS;
    if (years) {
        int64_t y;
        unsigned m, d;
        civil_from_days(day, &y, &m, &d);
        y += years;
        if (m == 2 && d == 29 && !leap(y)) {
            m = 3;
            d = 1;
        }
        day = days_from_civil(y, m, d);
    }
    return (day + (int64_t)days) * DAY_MS + rest;
}

/* ---- new versions ---- */

int sm_lock_new_version(struct exec *x, const Md__BucketRecord *b, Md__ObjectRecord *rec,
                        int64_t now_ms)
{
    if (rec->lock_mode != MD__LOCK_MODE__LOCK_NONE || rec->retain_until_ms || rec->legal_hold) {
        if (!lock_enabled(b))
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_NO_LOCK_CONFIG, NO_LOCK_MSG);
        /* A mode comes with its date and a date with its mode. (Whether the
         * date is in the future is the gateway's check at the request's
         * start: a long upload must not be refused at its commit.) */
        if ((rec->lock_mode != MD__LOCK_MODE__LOCK_NONE) != (rec->retain_until_ms != 0) ||
            (rec->lock_mode != MD__LOCK_MODE__LOCK_NONE && !valid_mode(rec->lock_mode)))
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                             "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                             "must both be supplied");
    }
    if (rec->lock_mode == MD__LOCK_MODE__LOCK_NONE && lock_enabled(b) &&
        valid_mode(b->lock->default_mode)) {
        rec->lock_mode = b->lock->default_mode;
        rec->retain_until_ms = sm_add_period(now_ms, b->lock->default_days, b->lock->default_years);
    }
    return 0;
}

/* ---- commands ---- */

int sm_cmd_put_object_lock_config(struct exec *x, const Md__PutObjectLockConfig *c)
{
    const Md__LockConfig *lc = c->config;
    if (!lc || !lc->enabled)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                         "ObjectLockEnabled must be Enabled");
    if (lc->default_mode == MD__LOCK_MODE__LOCK_NONE
            ? lc->default_days || lc->default_years
            : !valid_mode(lc->default_mode) || !lc->default_days == !lc->default_years ||
                  lc->default_days > MAX_DAYS || lc->default_years > MAX_YEARS)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad default retention");
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, c->bucket, &b);
    if (rc)
        return rc;
    if (!lock_enabled(b) && b->versioning != MD__VERSIONING_STATUS__VERSIONING_ENABLED) {
        free_msg(b);
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_BUCKET_STATE,
                         "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                         "configuration");
    }
    Md__LockConfig *keep = b->lock;
    b->lock = (Md__LockConfig *)lc;
    struct md_key k;
    key_bucket(&k, c->bucket);
    rc = put_msg(x, &k, b);
    b->lock = keep;
    free_msg(b);
    return rc;
}

/* The version a retention or legal-hold command names, in a bucket with
 * object lock; REFUSED otherwise. */
static int lockable_version(struct exec *x, const char *bucket, const char *key, const char *vid,
                            struct sm_version *v)
{
    memset(v, 0, sizeof(*v));
    Md__BucketRecord *b;
    int rc = sm_load_bucket(x, bucket, &b);
    if (rc)
        return rc;
    int enabled = lock_enabled(b);
    free_msg(b);
    if (!enabled)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_NO_LOCK_CONFIG, NO_LOCK_MSG);
    if (!md_valid_objkey(key))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "invalid key");
    if ((rc = sm_find_version(x, bucket, key, vid, v)))
        return rc;
    if (!v->rec && !vid[0]) {
        /* The current version is a delete marker, or there is none. */
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_KEY, "no such key");
    }
    if (!v->rec)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_VERSION, "no such version");
    if (v->rec->delete_marker) {
        sm_version_free(v);
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_DELETE_MARKER,
                         "a delete marker has no object lock");
    }
    return 0;
}

int sm_cmd_put_object_retention(struct exec *x, const Md__PutObjectRetention *c)
{
    int removing = c->mode == MD__LOCK_MODE__LOCK_NONE;
    if (removing ? c->retain_until_ms != 0 : !valid_mode(c->mode) || c->retain_until_ms == 0)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad retention");
    if (!removing && c->retain_until_ms <= c->now_ms)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, PAST_MSG);
    struct sm_version v;
    int rc = lockable_version(x, c->bucket, c->key, c->version_id, &v);
    if (rc)
        return rc;
    Md__ObjectRecord *o = v.rec;
    if (o->lock_mode != MD__LOCK_MODE__LOCK_NONE && o->retain_until_ms > c->now_ms) {
        /* Active retention: it may be kept or extended in its mode; anything
         * else (shorter, another mode, removed) only GOVERNANCE with bypass. */
        int extends = c->mode == o->lock_mode && c->retain_until_ms >= o->retain_until_ms;
        int bypassable = o->lock_mode == MD__LOCK_MODE__LOCK_GOVERNANCE && c->bypass_governance;
        if (!extends && !bypassable) {
            sm_version_free(&v);
            return sm_refuse(x, CAIRN_E_AUTH, MD__REASON__R_OBJECT_LOCKED, LOCKED_MSG);
        }
    }
    o->lock_mode = c->mode;
    o->retain_until_ms = removing ? 0 : c->retain_until_ms;
    rc = sm_rewrite_version(x, &v);
    sm_version_free(&v);
    return rc;
}

int sm_cmd_put_object_legal_hold(struct exec *x, const Md__PutObjectLegalHold *c)
{
    struct sm_version v;
    int rc = lockable_version(x, c->bucket, c->key, c->version_id, &v);
    if (rc)
        return rc;
    v.rec->legal_hold = c->on;
    rc = sm_rewrite_version(x, &v);
    sm_version_free(&v);
    return rc;
}
