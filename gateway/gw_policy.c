#include "gw_policy.h"

#include "cn_error.h"
#include "gw_pmatch.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define ARN_PREFIX "arn:aws:s3:::"

/* ---- the parsed policy ------------------------------------------------- */

#define ACT_BYTES ((GW_ACT__COUNT + 7) / 8)

struct stmt {
    char *sid;
    int deny;
    int not_principal;
    int principal_any;
    size_t n_users;
    char **users;
    size_t n_ids;
    char **ids;
    int not_action;
    uint8_t act[ACT_BYTES]; /* actions the statement covers (NotAction already inverted) */
    int not_resource;
    int resource_any;
    size_t n_res;
    struct gw_pmatch_pat *res;
    size_t n_cond;
    struct gw_pmatch_cond **cond;
};

struct gw_policy {
    int vars; /* Version 2012-10-17: policy variables are expanded */
    size_t n;
    struct stmt *st;
};

static void strs_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void stmt_free(struct stmt *st)
{
    free(st->sid);
    strs_free(st->users, st->n_users);
    strs_free(st->ids, st->n_ids);
    for (size_t i = 0; i < st->n_res; i++)
        gw_pmatch_pat_free(&st->res[i]);
    free(st->res);
    for (size_t i = 0; i < st->n_cond; i++)
        gw_pmatch_cond_free(st->cond[i]);
    free(st->cond);
}

void gw_policy_free(struct gw_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        stmt_free(&p->st[i]);
    free(p->st);
    free(p);
}

size_t gw_policy_statement_count(const struct gw_policy *p)
{
    return p ? p->n : 0;
}

const char *gw_policy_statement_sid(const struct gw_policy *p, size_t i)
{
    if (!p || i >= p->n || !p->st[i].sid)
        return "";
    return p->st[i].sid;
}

int gw_policy_foreach_principal(const struct gw_policy *p,
                                int (*fn)(void *arg, enum gw_policy_principal_kind kind,
                                          const char *value),
                                void *arg)
{
    for (size_t i = 0; p && i < p->n; i++) {
        for (size_t j = 0; j < p->st[i].n_users; j++) {
            int rc = fn(arg, GW_POLICY_PRINCIPAL_USER, p->st[i].users[j]);
            if (rc)
                return rc;
        }
        for (size_t j = 0; j < p->st[i].n_ids; j++) {
            int rc = fn(arg, GW_POLICY_PRINCIPAL_CANONICAL_ID, p->st[i].ids[j]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

#define E_INVALID_JSON    "This policy contains invalid Json"
#define E_PRINCIPAL       "Invalid principal in policy"
#define E_ACTION          "Policy has invalid action"
#define E_RESOURCE        "Policy has invalid resource"
#define E_TOO_MANY_VALUES "Policy has too many values in a list"

struct parser {
    const char *bucket;
    int vars;
    char *err;
    size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
    }
    return CAIRN_E_INVAL;
}

static int oom(struct parser *ps)
{
    if (ps->errlen)
        snprintf(ps->err, ps->errlen, "out of memory");
    return CAIRN_E_NOMEM;
}

/* Calls fn for v when it is a string, or for each element of a non-empty
 * array of strings; anything else is invalid JSON (or e_empty for an empty
 * array). */
typedef int (*str_fn)(struct parser *ps, struct stmt *st, const char *s, void *arg);

static int each_string(struct parser *ps, struct stmt *st, json_t *v, const char *e_empty,
                       str_fn fn, void *arg)
{
    if (json_is_string(v))
        return fn(ps, st, json_string_value(v), arg);
    if (!json_is_array(v))
        return fail(ps, E_INVALID_JSON);
    size_t n = json_array_size(v);
    if (n == 0)
        return fail(ps, "%s", e_empty);
    if (n > GW_POLICY_MAX_VALUES)
        return fail(ps, E_TOO_MANY_VALUES);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return fail(ps, E_INVALID_JSON);
        int rc = fn(ps, st, json_string_value(e), arg);
        if (rc)
            return rc;
    }
    return 0;
}

static int push_str(char ***arr, size_t *n, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return CAIRN_E_NOMEM;
    char **a = realloc(*arr, (*n + 1) * sizeof(*a));
    if (!a) {
        free(c);
        return CAIRN_E_NOMEM;
    }
    a[(*n)++] = c;
    *arr = a;
    return 0;
}

static int has_wildcard(const char *s)
{
    return strpbrk(s, "*?") != NULL;
}

/* A user name as a principal: non-empty, printable, no wildcard, no ':' or
 * '/' (those belong to ARNs). */
static int user_name_valid(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '*' || *p == '?' || *p == ':' || *p == '/')
            return 0;
    return 1;
}

static int principal_aws(struct parser *ps, struct stmt *st, const char *s, void *arg)
{
    (void)arg;
    if (strcmp(s, "*") == 0) {
        st->principal_any = 1;
        return 0;
    }
    const char *name = s;
    if (strncmp(s, "arn:", 4) == 0) {
        /* arn:aws:iam::ACCOUNT:user/[path/]NAME; the account is not checked
         * (Cairn has no accounts). */
        static const char iam[] = "arn:aws:iam::";
        if (strncmp(s, iam, sizeof(iam) - 1) != 0)
            return fail(ps, E_PRINCIPAL);
        const char *acct = s + sizeof(iam) - 1;
        const char *colon = strchr(acct, ':');
        if (!colon || colon == acct || has_wildcard(s) || strncmp(colon + 1, "user/", 5) != 0)
            return fail(ps, E_PRINCIPAL);
        name = strrchr(colon + 1, '/') + 1;
    }
    if (!user_name_valid(name))
        return fail(ps, E_PRINCIPAL);
    return push_str(&st->users, &st->n_users, name) ? oom(ps) : 0;
}

static int principal_canonical(struct parser *ps, struct stmt *st, const char *s, void *arg)
{
    (void)arg;
    if (!user_name_valid(s))
        return fail(ps, E_PRINCIPAL);
    return push_str(&st->ids, &st->n_ids, s) ? oom(ps) : 0;
}

static int parse_principal(struct parser *ps, struct stmt *st, json_t *v)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return fail(ps, E_PRINCIPAL);
        st->principal_any = 1;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return fail(ps, E_PRINCIPAL);
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        int rc;
        if (strcmp(k, "AWS") == 0)
            rc = each_string(ps, st, e, E_PRINCIPAL, principal_aws, NULL);
        else if (strcmp(k, "CanonicalUser") == 0)
            rc = each_string(ps, st, e, E_PRINCIPAL, principal_canonical, NULL);
        else
            rc = fail(ps, E_PRINCIPAL); /* Service, Federated: nothing in Cairn */
        if (rc)
            return rc;
    }
    return 0;
}

struct action_arg {
    uint8_t *explicit_act; /* actions named without wildcards */
    int *wildcards;        /* set when any action has a wildcard */
};

static void bit_set(uint8_t *b, int i)
{
    b[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int bit_test(const uint8_t *b, int i)
{
    return (b[i / 8] >> (i % 8)) & 1;
}

static int action_pattern(struct parser *ps, struct stmt *st, const char *s, void *arg)
{
    struct action_arg *aa = arg;
    if (strcmp(s, "*") == 0) {
        memset(st->act, 0xff, sizeof(st->act));
        *aa->wildcards = 1;
        return 0;
    }
    if (strncasecmp(s, "s3:", 3) != 0 || !s[3])
        return fail(ps, E_ACTION);
    for (const char *p = s + 3; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '*' && *p != '?')
            return fail(ps, E_ACTION);
    if (!has_wildcard(s)) {
        enum gw_authz_action a;
        if (gw_authz_action_lookup(s, &a))
            return fail(ps, E_ACTION);
        bit_set(st->act, a);
        bit_set(aa->explicit_act, a);
        return 0;
    }
    *aa->wildcards = 1;
    struct gw_pmatch_pat p;
    if (gw_pmatch_pat_compile(s, 1, 0, &p))
        return oom(ps);
    for (int a = 0; a < GW_ACT__COUNT; a++) {
        const char *name = gw_authz_action_name((enum gw_authz_action)a);
        if (gw_pmatch_pat_match(&p, NULL, name, strlen(name), 1))
            bit_set(st->act, a);
    }
    gw_pmatch_pat_free(&p);
    return 0;
}

struct resource_arg {
    int covers_bucket;
    int covers_object;
};

static int resource_pattern(struct parser *ps, struct stmt *st, const char *s, void *arg)
{
    struct resource_arg *ra = arg;
    if (strcmp(s, "*") == 0) {
        st->resource_any = 1;
        ra->covers_bucket = ra->covers_object = 1;
        return 0;
    }
    size_t pl = strlen(ARN_PREFIX);
    if (strncmp(s, ARN_PREFIX, pl) != 0 || !s[pl] || s[pl] == '/')
        return fail(ps, E_RESOURCE);
    const char *bucket_part = s + pl;
    const char *slash = strchr(bucket_part, '/');
    size_t bl = slash ? (size_t)(slash - bucket_part) : strlen(bucket_part);
    char bp[256];
    if (bl >= sizeof(bp))
        return fail(ps, E_RESOURCE);
    memcpy(bp, bucket_part, bl);
    bp[bl] = '\0';
    if (strstr(bp, "${"))
        return fail(ps, E_RESOURCE);
    /* The bucket part must name this bucket (a wildcard must match it). */
    struct gw_pmatch_pat bpat;
    if (gw_pmatch_pat_compile(bp, 1, 0, &bpat))
        return oom(ps);
    int ok = gw_pmatch_pat_match(&bpat, NULL, ps->bucket, strlen(ps->bucket), 0);
    gw_pmatch_pat_free(&bpat);
    if (!ok)
        return fail(ps, E_RESOURCE);
    if (slash || strchr(bp, '*'))
        ra->covers_object = 1;
    if (!slash)
        ra->covers_bucket = 1;
    if (st->n_res >= GW_POLICY_MAX_VALUES)
        return fail(ps, E_TOO_MANY_VALUES);
    struct gw_pmatch_pat *res = realloc(st->res, (st->n_res + 1) * sizeof(*res));
    if (!res)
        return oom(ps);
    st->res = res;
    if (gw_pmatch_pat_compile(s, 1, ps->vars, &st->res[st->n_res]))
        return oom(ps);
    st->n_res++;
    return 0;
}

/* One condition value as JSON: string, number or boolean, as text. */
static int value_text(json_t *v, char *buf, size_t cap, const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, cap, "%.17g", json_real_value(v));
        *out = buf;
    } else if (json_is_boolean(v)) {
        *out = json_is_true(v) ? "true" : "false";
    } else {
        return -1;
    }
    return 0;
}

static int parse_condition(struct parser *ps, struct stmt *st, json_t *v, int *uses_list_key)
{
    if (!json_is_object(v))
        return fail(ps, E_INVALID_JSON);
    const char *opname;
    json_t *block;
    json_object_foreach(v, opname, block)
    {
        if (!gw_pmatch_op_known(opname))
            return fail(ps, "Invalid Condition type : %.100s", opname);
        if (!json_is_object(block))
            return fail(ps, E_INVALID_JSON);
        const char *keyname;
        json_t *vals;
        json_object_foreach(block, keyname, vals)
        {
            if (st->n_cond >= GW_POLICY_MAX_VALUES)
                return fail(ps, E_TOO_MANY_VALUES);
            struct gw_pmatch_cond **cs = realloc(st->cond, (st->n_cond + 1) * sizeof(*cs));
            if (!cs)
                return oom(ps);
            st->cond = cs;
            int rc =
                gw_pmatch_cond_new(opname, keyname, &st->cond[st->n_cond], ps->err, ps->errlen);
            if (rc)
                return rc == CAIRN_E_NOMEM ? oom(ps) : rc;
            struct gw_pmatch_cond *c = st->cond[st->n_cond++];
            if (gw_pmatch_cond_list_key(c))
                *uses_list_key = 1;
            size_t n = json_is_array(vals) ? json_array_size(vals) : 1;
            if (json_is_array(vals) && n == 0)
                return fail(ps, "Invalid value in Conditions");
            if (n > GW_POLICY_MAX_VALUES)
                return fail(ps, E_TOO_MANY_VALUES);
            for (size_t i = 0; i < n; i++) {
                char buf[64];
                const char *text;
                if (value_text(json_is_array(vals) ? json_array_get(vals, i) : vals, buf,
                               sizeof(buf), &text))
                    return fail(ps, E_INVALID_JSON);
                rc = gw_pmatch_cond_add(c, text, ps->vars, ps->err, ps->errlen);
                if (rc)
                    return rc == CAIRN_E_NOMEM ? oom(ps) : rc;
            }
        }
    }
    return 0;
}

static int parse_statement(struct parser *ps, json_t *o, struct stmt *st)
{
    if (!json_is_object(o))
        return fail(ps, E_INVALID_JSON);
    json_t *sid = NULL, *effect = NULL, *principal = NULL, *not_principal = NULL, *action = NULL,
           *not_action = NULL, *resource = NULL, *not_resource = NULL, *condition = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "Sid") == 0)
            sid = v;
        else if (strcmp(k, "Effect") == 0)
            effect = v;
        else if (strcmp(k, "Principal") == 0)
            principal = v;
        else if (strcmp(k, "NotPrincipal") == 0)
            not_principal = v;
        else if (strcmp(k, "Action") == 0)
            action = v;
        else if (strcmp(k, "NotAction") == 0)
            not_action = v;
        else if (strcmp(k, "Resource") == 0)
            resource = v;
        else if (strcmp(k, "NotResource") == 0)
            not_resource = v;
        else if (strcmp(k, "Condition") == 0)
            condition = v;
        else
            return fail(ps, "Unknown field %.100s", k);
    }
    if (sid) {
        if (!json_is_string(sid))
            return fail(ps, E_INVALID_JSON);
        if (!(st->sid = strdup(json_string_value(sid))))
            return oom(ps);
    }

    if (!effect)
        return fail(ps, "Missing required field Effect");
    if (!json_is_string(effect))
        return fail(ps, E_INVALID_JSON);
    if (strcmp(json_string_value(effect), "Deny") == 0)
        st->deny = 1;
    else if (strcmp(json_string_value(effect), "Allow") != 0)
        return fail(ps, "Invalid effect: %.100s", json_string_value(effect));

    if (principal && not_principal)
        return fail(ps, "A statement cannot have both Principal and NotPrincipal");
    if (!principal && !not_principal)
        return fail(ps, "Missing required field Principal");
    st->not_principal = not_principal != NULL;
    int rc = parse_principal(ps, st, principal ? principal : not_principal);
    if (rc)
        return rc;

    if (action && not_action)
        return fail(ps, "A statement cannot have both Action and NotAction");
    if (!action && !not_action)
        return fail(ps, "Missing required field Action");
    uint8_t explicit_act[ACT_BYTES] = {0};
    int wildcards = 0;
    struct action_arg aa = {explicit_act, &wildcards};
    rc = each_string(ps, st, action ? action : not_action, E_ACTION, action_pattern, &aa);
    if (rc)
        return rc;
    if (not_action) {
        st->not_action = 1;
        for (size_t i = 0; i < ACT_BYTES; i++)
            st->act[i] = (uint8_t)~st->act[i];
    }

    if (resource && not_resource)
        return fail(ps, "A statement cannot have both Resource and NotResource");
    if (!resource && !not_resource)
        return fail(ps, "Missing required field Resource");
    struct resource_arg ra = {0, 0};
    rc = each_string(ps, st, resource ? resource : not_resource, E_RESOURCE, resource_pattern, &ra);
    if (rc)
        return rc;
    st->not_resource = not_resource != NULL;

    int uses_list_key = 0;
    if (condition) {
        rc = parse_condition(ps, st, condition, &uses_list_key);
        if (rc)
            return rc;
    }

    /* S3's consistency checks between Action, Resource and Condition, for
     * actions named without wildcards (a wildcard is exempt, as in S3). */
    if (action && uses_list_key) {
        for (int a = 0; a < GW_ACT__COUNT; a++)
            if (bit_test(explicit_act, a) && a != GW_ACT_LIST_BUCKET &&
                a != GW_ACT_LIST_BUCKET_VERSIONS)
                return fail(ps, "Conditions do not apply to combination of actions and "
                                "resources in statement");
    }
    if (action && resource) {
        for (int a = 0; a < GW_ACT__COUNT; a++) {
            if (!bit_test(explicit_act, a))
                continue;
            enum gw_authz_level level = gw_authz_action_level((enum gw_authz_action)a);
            int ok = level == GW_AUTHZ_OBJECT   ? ra.covers_object
                     : level == GW_AUTHZ_BUCKET ? ra.covers_bucket
                                                : st->resource_any;
            if (!ok)
                return fail(ps, "Action does not apply to any resource(s) in statement");
        }
    }
    return 0;
}

int gw_policy_parse(const char *json, size_t len, const char *bucket, struct gw_policy **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    struct parser ps = {bucket, 0, err, errlen};
    if (!bucket || !bucket[0])
        return fail(&ps, "no bucket");
    if (!json || len == 0 || json[0] != '{')
        return fail(&ps, "Policies must be valid JSON and the first byte must be '{'");
    if (len > GW_POLICY_MAX_SIZE)
        return fail(&ps, "Policy exceeds the maximum allowed document size.");
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(&ps, E_INVALID_JSON);
    int rc = 0;
    struct gw_policy *p = calloc(1, sizeof(*p));
    if (!p) {
        json_decref(root);
        return oom(&ps);
    }
    json_t *version = NULL, *statement = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "Version") == 0) {
            version = v;
        } else if (strcmp(k, "Statement") == 0) {
            statement = v;
        } else if (strcmp(k, "Id") == 0) {
            if (!json_is_string(v)) {
                rc = fail(&ps, E_INVALID_JSON);
                goto out;
            }
        } else {
            rc = fail(&ps, "Unknown field %.100s", k);
            goto out;
        }
    }
    if (version) {
        const char *vs = json_is_string(version) ? json_string_value(version) : "";
        if (strcmp(vs, "2012-10-17") == 0) {
            p->vars = 1;
        } else if (strcmp(vs, "2008-10-17") != 0) {
            rc = fail(&ps, "The policy must contain a valid version string");
            goto out;
        }
    }
    ps.vars = p->vars;
    if (!statement) {
        rc = fail(&ps, "Missing required field Statement");
        goto out;
    }
    size_t n = json_is_array(statement) ? json_array_size(statement) : 1;
    if (json_is_array(statement) && n == 0) {
        rc = fail(&ps, "Could not parse the policy: Statement is empty!");
        goto out;
    }
    if (n > GW_POLICY_MAX_STATEMENTS) {
        rc = fail(&ps, "Policy has too many statements");
        goto out;
    }
    if (!(p->st = calloc(n, sizeof(*p->st)))) {
        rc = oom(&ps);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        p->n = i + 1;
        rc = parse_statement(
            &ps, json_is_array(statement) ? json_array_get(statement, i) : statement, &p->st[i]);
        if (rc)
            goto out;
        for (size_t j = 0; j < i; j++) {
            if (p->st[i].sid && p->st[j].sid && p->st[i].sid[0] &&
                strcmp(p->st[i].sid, p->st[j].sid) == 0) {
                rc = fail(&ps, "Statement IDs (SID) in a single policy must be unique");
                goto out;
            }
        }
    }
out:
    json_decref(root);
    if (rc) {
        gw_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- evaluation -------------------------------------------------------- */

static int principal_matches(const struct stmt *st, const struct gw_authz_principal *who)
{
    int m = st->principal_any;
    if (!m && who->user) {
        for (size_t i = 0; i < st->n_users && !m; i++)
            m = strcmp(st->users[i], who->user) == 0;
        for (size_t i = 0; i < st->n_ids && !m; i++)
            m = who->canonical_id && strcmp(st->ids[i], who->canonical_id) == 0;
    }
    return st->not_principal ? !m : m;
}

static int resource_matches(const struct stmt *st, const struct gw_authz_request *rq,
                            const char *arn, size_t arn_len)
{
    int m = st->resource_any;
    for (size_t i = 0; i < st->n_res && !m; i++)
        m = gw_pmatch_pat_match(&st->res[i], rq, arn, arn_len, 0);
    return st->not_resource ? !m : m;
}

static int statement_applies(const struct stmt *st, const struct gw_authz_request *rq,
                             const char *arn, size_t arn_len)
{
    if (!bit_test(st->act, rq->action) || !principal_matches(st, &rq->principal) ||
        !resource_matches(st, rq, arn, arn_len))
        return 0;
    for (size_t i = 0; i < st->n_cond; i++)
        if (!gw_pmatch_cond_holds(st->cond[i], rq))
            return 0;
    return 1;
}

enum gw_policy_effect gw_policy_eval(const struct gw_policy *p, const struct gw_authz_request *rq,
                                     int *statement)
{
    if (statement)
        *statement = -1;
    if (!p || !rq || (int)rq->action < 0 || rq->action >= GW_ACT__COUNT || !rq->bucket)
        return GW_POLICY_NONE;
    enum gw_authz_level level = gw_authz_action_level(rq->action);
    if (level == GW_AUTHZ_SERVICE)
        return GW_POLICY_NONE;
    const char *key = level == GW_AUTHZ_OBJECT && rq->key ? rq->key : NULL;
    size_t need = strlen(ARN_PREFIX) + strlen(rq->bucket) + (key ? 1 + strlen(key) : 0) + 1;
    char stack[2048];
    char *arn = need <= sizeof(stack) ? stack : malloc(need);
    if (!arn)
        return GW_POLICY_DENY; /* fail closed: a Deny might apply */
    int arn_len =
        snprintf(arn, need, "%s%s%s%s", ARN_PREFIX, rq->bucket, key ? "/" : "", key ? key : "");
    enum gw_policy_effect eff = GW_POLICY_NONE;
    int allow_at = -1;
    for (size_t i = 0; i < p->n; i++) {
        if (!statement_applies(&p->st[i], rq, arn, (size_t)arn_len))
            continue;
        if (p->st[i].deny) {
            eff = GW_POLICY_DENY;
            if (statement)
                *statement = (int)i;
            break;
        }
        if (allow_at < 0)
            allow_at = (int)i;
    }
    if (eff == GW_POLICY_NONE && allow_at >= 0) {
        eff = GW_POLICY_ALLOW;
        if (statement)
            *statement = allow_at;
    }
    if (arn != stack)
        free(arn);
    return eff;
}
