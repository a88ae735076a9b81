/* POST upload policies (gw_post_policy.h). */
#include "gw_post_policy.h"

#include "cn_error.h"
#include "cn_util.h"
#include "gw_req.h"
#include "gw_sigv4.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cond_op { C_EQ, C_STARTS_WITH, C_RANGE };

struct cond {
    enum cond_op op;
    char *field; /* without '$', as written */
    char *value;
    int64_t min, max;
};

struct gw_post_policy {
    int64_t expiration_ms;
    size_t n;
    struct cond *c;
};

void gw_post_policy_free(struct gw_post_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->c[i].field);
        free(p->c[i].value);
    }
    free(p->c);
    free(p);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CAIRN_E_INVAL;
}

/* A JSON number or a string holding a decimal integer into *v. */
static int json_int(json_t *j, int64_t *v)
{
    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_string(j)) {
        char *end;
        const char *s = json_string_value(j);
        long long n = strtoll(s, &end, 10);
        if (*s && !*end) {
            *v = n;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

static int add_cond(struct gw_post_policy *p, enum cond_op op, const char *field, const char *value,
                    int64_t min, int64_t max)
{
    struct cond *c = realloc(p->c, (p->n + 1) * sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    p->c = c;
    c = &p->c[p->n];
    memset(c, 0, sizeof(*c));
    c->op = op;
    c->min = min;
    c->max = max;
    c->field = strdup(field ? field : "");
    c->value = strdup(value ? value : "");
    if (!c->field || !c->value) {
        free(c->field);
        free(c->value);
        return CAIRN_E_NOMEM;
    }
    p->n++;
    return 0;
}

static int parse_cond(struct gw_post_policy *p, json_t *c, char *err, size_t errlen)
{
    if (json_is_object(c)) {
        if (json_object_size(c) != 1)
            return fail(err, errlen,
                        "Invalid Policy: Invalid Simple-Condition: Simple-Conditions "
                        "must have exactly one property specified.");
        const char *k;
        json_t *v;
        json_object_foreach(c, k, v)
        {
            if (!json_is_string(v))
                return fail(err, errlen,
                            "Invalid Policy: Invalid Simple-Condition: value must be a string.");
            return add_cond(p, C_EQ, k, json_string_value(v), 0, 0);
        }
    }
    if (!json_is_array(c) || json_array_size(c) != 3 || !json_is_string(json_array_get(c, 0)))
        return fail(err, errlen,
                    "Invalid Policy: Invalid Condition: must be a List of 3 elements "
                    "or a Simple-Condition.");
    const char *op = json_string_value(json_array_get(c, 0));
    json_t *a1 = json_array_get(c, 1), *a2 = json_array_get(c, 2);
    if (strcasecmp(op, "content-length-range") == 0) {
        int64_t min, max;
        if (json_int(a1, &min) || json_int(a2, &max) || min < 0 || max < min)
            return fail(err, errlen, "Invalid Policy: Invalid content-length-range condition.");
        return add_cond(p, C_RANGE, "", "", min, max);
    }
    enum cond_op o;
    if (strcasecmp(op, "eq") == 0)
        o = C_EQ;
    else if (strcasecmp(op, "starts-with") == 0)
        o = C_STARTS_WITH;
    else
        return fail(err, errlen, "Invalid Policy: Invalid Condition: unknown operation '%.64s'.",
                    op);
    if (!json_is_string(a1) || !json_is_string(a2) || json_string_value(a1)[0] != '$')
        return fail(err, errlen,
                    "Invalid Policy: Invalid Condition: the field must be a string starting "
                    "with '$' and the value a string.");
    return add_cond(p, o, json_string_value(a1) + 1, json_string_value(a2), 0, 0);
}

int gw_post_policy_parse(const char *b64, struct gw_post_policy **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t bl = strlen(b64);
    if (bl == 0 || bl > GW_POST_POLICY_MAX || bl % 4)
        return fail(err, errlen, "Invalid Policy: Invalid Base64 encoding.");
    unsigned char *raw = malloc(bl / 4 * 3 + 1);
    if (!raw)
        return CAIRN_E_NOMEM;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)bl);
    if (n < 0) {
        free(raw);
        return fail(err, errlen, "Invalid Policy: Invalid Base64 encoding.");
    }
    while (n > 0 && bl >= 1 && b64[bl - 1] == '=') { /* EVP_DecodeBlock counts padding */
        n--;
        bl--;
    }
    json_error_t je;
    json_t *doc = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    free(raw);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return fail(err, errlen, "Invalid Policy: Invalid JSON.");
    }
    struct gw_post_policy *p = calloc(1, sizeof(*p));
    int rc = p ? 0 : CAIRN_E_NOMEM;
    json_t *exp = json_object_get(doc, "expiration");
    json_t *conds = json_object_get(doc, "conditions");
    if (rc == 0 && !exp)
        rc = fail(err, errlen, "Invalid Policy: Policy missing expiration.");
    if (rc == 0 &&
        (!json_is_string(exp) || gw_iso8601_parse(json_string_value(exp), &p->expiration_ms) != 0))
        rc = fail(err, errlen, "Invalid Policy: Invalid 'expiration' value: '%.64s'",
                  json_is_string(exp) ? json_string_value(exp) : "");
    if (rc == 0 && !conds)
        rc = fail(err, errlen, "Invalid Policy: Policy missing conditions.");
    if (rc == 0 && !json_is_array(conds))
        rc = fail(err, errlen, "Invalid Policy: Invalid 'conditions' value: must be a List.");
    for (size_t i = 0; rc == 0 && i < json_array_size(conds); i++)
        rc = parse_cond(p, json_array_get(conds, i), err, errlen);
    json_decref(doc);
    if (rc) {
        gw_post_policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int gw_post_policy_expired(const struct gw_post_policy *p, int64_t now_ms)
{
    return p->expiration_ms <= now_ms;
}

int gw_post_policy_length_range(const struct gw_post_policy *p, int64_t *min, int64_t *max)
{
    *min = 0;
    *max = -1;
    for (size_t i = 0; i < p->n; i++)
        if (p->c[i].op == C_RANGE) {
            *min = p->c[i].min;
            *max = p->c[i].max;
            return 1;
        }
    return 0;
}

/* Fields no condition needs to name. */
static int exempt(const char *name)
{
    return strcasecmp(name, "policy") == 0 || strcasecmp(name, "x-amz-signature") == 0 ||
           strcasecmp(name, "file") == 0 || strncasecmp(name, "x-ignore-", 9) == 0;
}

/* 1 if starts-with prefix holds for v (Content-Type: every comma-separated
 * value). */
static int starts_with(const char *field, const char *v, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strcasecmp(field, "Content-Type") != 0)
        return strncmp(v, prefix, pl) == 0;
    const char *p = v;
    for (;;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, prefix, pl) != 0)
            return 0;
        p = strchr(p, ',');
        if (!p)
            return 1;
        p++;
    }
}

int gw_post_policy_check(const struct gw_post_policy *p, const char *bucket,
                         const struct gw_post_fields *fields, char *msg, size_t cap)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct cond *c = &p->c[i];
        if (c->op == C_RANGE)
            continue;
        const char *v =
            strcasecmp(c->field, "bucket") == 0 ? bucket : fields->get(fields->ctx, c->field);
        if (!v)
            v = "";
        int ok = c->op == C_EQ ? strcmp(v, c->value) == 0 : starts_with(c->field, v, c->value);
        if (!ok) {
            snprintf(msg, cap,
                     "Invalid according to Policy: Policy Condition failed: [\"%s\", \"$%.128s\", "
                     "\"%.128s\"]",
                     c->op == C_EQ ? "eq" : "starts-with", c->field, c->value);
            return CAIRN_E_AUTH;
        }
    }
    for (size_t f = 0; f < fields->n; f++) {
        const char *name = fields->name_at(fields->ctx, f);
        if (exempt(name))
            continue;
        int covered = 0;
        for (size_t i = 0; i < p->n && !covered; i++)
            covered = p->c[i].op != C_RANGE && strcasecmp(p->c[i].field, name) == 0;
        if (!covered) {
            snprintf(msg, cap, "Invalid according to Policy: Extra input fields: %.128s", name);
            return CAIRN_E_AUTH;
        }
    }
    return 0;
}

int gw_post_signature(const char *secret, const char *date, const char *region, const char *service,
                      const char *b64, char sig[65])
{
    unsigned char key[32], mac[32];
    unsigned int ml = 0;
    int rc = gw_sigv4_signing_key(secret, date, region, service, key);
    if (rc)
        return rc;
    if (!HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)b64, strlen(b64), mac, &ml) ||
        ml != 32)
        rc = CAIRN_E_NOMEM;
    else
        cn_hex_encode(mac, 32, sig);
    memset(key, 0, sizeof(key));
    return rc;
}
