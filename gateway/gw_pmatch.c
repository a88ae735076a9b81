#include "gw_pmatch.h"

#include "cn_error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_VARS GW_PMATCH_MAX_VARS

/* ---- condition keys ---------------------------------------------------- */

/* Where a key's value comes from. Keys Cairn does not compute itself are
 * looked up in the request's context list (absent when not given). */
enum key_source {
    KS_CONTEXT = 0,
    KS_SOURCE_IP,
    KS_SECURE_TRANSPORT,
    KS_USERNAME,
    KS_USERID,
    KS_PRINCIPAL_TYPE,
    KS_CURRENT_TIME,
    KS_EPOCH_TIME,
};

struct key_entry {
    const char *name;
    enum key_source src;
    int is_prefix; /* a family: name is "xx:Family/" and a tag name follows */
    int list_key;  /* s3:prefix, s3:delimiter, s3:max-keys: ListBucket(Versions) only */
};

/* The condition keys Amazon S3 accepts in a bucket policy: the AWS global
 * keys and the S3 service keys. A key outside this list is refused, as S3
 * refuses it ("Policy has an invalid condition key"). */
static const struct key_entry keys[] = {
    {"aws:SourceIp", KS_SOURCE_IP, 0, 0},
    {"aws:SecureTransport", KS_SECURE_TRANSPORT, 0, 0},
    {"aws:username", KS_USERNAME, 0, 0},
    {"aws:userid", KS_USERID, 0, 0},
    {"aws:PrincipalType", KS_PRINCIPAL_TYPE, 0, 0},
    {"aws:CurrentTime", KS_CURRENT_TIME, 0, 0},
    {"aws:EpochTime", KS_EPOCH_TIME, 0, 0},
    {"aws:PrincipalArn", KS_CONTEXT, 0, 0},
    {"aws:PrincipalAccount", KS_CONTEXT, 0, 0},
    {"aws:PrincipalOrgID", KS_CONTEXT, 0, 0},
    {"aws:PrincipalOrgPaths", KS_CONTEXT, 0, 0},
    {"aws:PrincipalIsAWSService", KS_CONTEXT, 0, 0},
    {"aws:PrincipalServiceName", KS_CONTEXT, 0, 0},
    {"aws:PrincipalServiceNamesList", KS_CONTEXT, 0, 0},
    {"aws:PrincipalTag/", KS_CONTEXT, 1, 0},
    {"aws:RequestTag/", KS_CONTEXT, 1, 0},
    {"aws:ResourceTag/", KS_CONTEXT, 1, 0},
    {"aws:TagKeys", KS_CONTEXT, 0, 0},
    {"aws:Referer", KS_CONTEXT, 0, 0},
    {"aws:UserAgent", KS_CONTEXT, 0, 0},
    {"aws:SourceVpc", KS_CONTEXT, 0, 0},
    {"aws:SourceVpce", KS_CONTEXT, 0, 0},
    {"aws:SourceVpcArn", KS_CONTEXT, 0, 0},
    {"aws:VpcSourceIp", KS_CONTEXT, 0, 0},
    {"aws:SourceArn", KS_CONTEXT, 0, 0},
    {"aws:SourceAccount", KS_CONTEXT, 0, 0},
    {"aws:SourceOrgID", KS_CONTEXT, 0, 0},
    {"aws:SourceOrgPaths", KS_CONTEXT, 0, 0},
    {"aws:SourceIdentity", KS_CONTEXT, 0, 0},
    {"aws:MultiFactorAuthPresent", KS_CONTEXT, 0, 0},
    {"aws:MultiFactorAuthAge", KS_CONTEXT, 0, 0},
    {"aws:TokenIssueTime", KS_CONTEXT, 0, 0},
    {"aws:ViaAWSService", KS_CONTEXT, 0, 0},
    {"aws:CalledVia", KS_CONTEXT, 0, 0},
    {"aws:CalledViaFirst", KS_CONTEXT, 0, 0},
    {"aws:CalledViaLast", KS_CONTEXT, 0, 0},
    {"aws:RequestedRegion", KS_CONTEXT, 0, 0},
    {"aws:FederatedProvider", KS_CONTEXT, 0, 0},
    {"aws:ResourceAccount", KS_CONTEXT, 0, 0},
    {"aws:ResourceOrgID", KS_CONTEXT, 0, 0},
    {"aws:ResourceOrgPaths", KS_CONTEXT, 0, 0},
    {"aws:Ec2InstanceSourceVpc", KS_CONTEXT, 0, 0},
    {"aws:Ec2InstanceSourcePrivateIPv4", KS_CONTEXT, 0, 0},
    {"s3:prefix", KS_CONTEXT, 0, 1},
    {"s3:delimiter", KS_CONTEXT, 0, 1},
    {"s3:max-keys", KS_CONTEXT, 0, 1},
    {"s3:x-amz-acl", KS_CONTEXT, 0, 0},
    {"s3:x-amz-grant-read", KS_CONTEXT, 0, 0},
    {"s3:x-amz-grant-write", KS_CONTEXT, 0, 0},
    {"s3:x-amz-grant-read-acp", KS_CONTEXT, 0, 0},
    {"s3:x-amz-grant-write-acp", KS_CONTEXT, 0, 0},
    {"s3:x-amz-grant-full-control", KS_CONTEXT, 0, 0},
    {"s3:x-amz-copy-source", KS_CONTEXT, 0, 0},
    {"s3:x-amz-metadata-directive", KS_CONTEXT, 0, 0},
    {"s3:x-amz-server-side-encryption", KS_CONTEXT, 0, 0},
    {"s3:x-amz-server-side-encryption-aws-kms-key-id", KS_CONTEXT, 0, 0},
    {"s3:x-amz-server-side-encryption-customer-algorithm", KS_CONTEXT, 0, 0},
    {"s3:x-amz-storage-class", KS_CONTEXT, 0, 0},
    {"s3:x-amz-website-redirect-location", KS_CONTEXT, 0, 0},
    {"s3:x-amz-content-sha256", KS_CONTEXT, 0, 0},
    {"s3:x-amz-object-ownership", KS_CONTEXT, 0, 0},
    {"s3:VersionId", KS_CONTEXT, 0, 0},
    {"s3:LocationConstraint", KS_CONTEXT, 0, 0},
    {"s3:ExistingObjectTag/", KS_CONTEXT, 1, 0},
    {"s3:RequestObjectTag/", KS_CONTEXT, 1, 0},
    {"s3:RequestObjectTagKeys", KS_CONTEXT, 0, 0},
    {"s3:object-lock-mode", KS_CONTEXT, 0, 0},
    {"s3:object-lock-retain-until-date", KS_CONTEXT, 0, 0},
    {"s3:object-lock-remaining-retention-days", KS_CONTEXT, 0, 0},
    {"s3:object-lock-legal-hold", KS_CONTEXT, 0, 0},
    {"s3:authType", KS_CONTEXT, 0, 0},
    {"s3:signatureAge", KS_CONTEXT, 0, 0},
    {"s3:signatureversion", KS_CONTEXT, 0, 0},
    {"s3:TlsVersion", KS_CONTEXT, 0, 0},
    {"s3:ResourceAccount", KS_CONTEXT, 0, 0},
    {"s3:AccessPointNetworkOrigin", KS_CONTEXT, 0, 0},
    {"s3:DataAccessPointAccount", KS_CONTEXT, 0, 0},
    {"s3:DataAccessPointArn", KS_CONTEXT, 0, 0},
    {"s3:if-match", KS_CONTEXT, 0, 0},
    {"s3:if-none-match", KS_CONTEXT, 0, 0},
    {"s3:ObjectCreationOperation", KS_CONTEXT, 0, 0},
};
#define N_KEYS ((int)(sizeof(keys) / sizeof(keys[0])))

/* Finds name (case-insensitively) among the keys; for a family, the part
 * after the '/' must be non-empty. Returns the index or -1. */
static int key_find(const char *name, int allow_family)
{
    for (int i = 0; i < N_KEYS; i++) {
        size_t n = strlen(keys[i].name);
        if (keys[i].is_prefix) {
            if (allow_family && strncasecmp(name, keys[i].name, n) == 0 && name[n])
                return i;
        } else if (strcasecmp(name, keys[i].name) == 0) {
            return i;
        }
    }
    return -1;
}

/* 1 if the context key ck names the key (family prefix case-insensitive,
 * the tag after it exact). */
static int ctx_key_is(const char *ck, const struct key_entry *k, const char *suffix)
{
    size_t n = strlen(k->name);
    if (!k->is_prefix)
        return strcasecmp(ck, k->name) == 0;
    return strncasecmp(ck, k->name, n) == 0 && strcmp(ck + n, suffix) == 0;
}

/* The request's value for key k (suffix: the tag of a family key, else
 * NULL), or NULL when the key is absent. Values computed here are written to
 * buf[cap]. */
static const char *key_value(const struct gw_authz_request *rq, int k, const char *suffix,
                             char *buf, size_t cap)
{
    const struct gw_authz_principal *who = &rq->principal;
    int anonymous = who->user == NULL;
    switch (keys[k].src) {
    case KS_SOURCE_IP:
        return rq->source_ip && rq->source_ip[0] ? rq->source_ip : NULL;
    case KS_SECURE_TRANSPORT:
        return rq->secure_transport ? "true" : "false";
    case KS_USERNAME:
        return anonymous ? NULL : who->user;
    case KS_USERID:
        return anonymous ? "anonymous" : who->canonical_id;
    case KS_PRINCIPAL_TYPE:
        return anonymous ? "Anonymous" : "User";
    case KS_CURRENT_TIME: {
        if (rq->now_ms <= 0)
            return NULL;
        time_t t = (time_t)(rq->now_ms / 1000);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            return NULL;
        return buf;
    }
    case KS_EPOCH_TIME:
        if (rq->now_ms <= 0)
            return NULL;
        snprintf(buf, cap, "%" PRId64, rq->now_ms / 1000);
        return buf;
    case KS_CONTEXT:
    default:
        for (size_t i = 0; i < rq->n_ctx; i++)
            if (rq->ctx[i].key && rq->ctx[i].value && ctx_key_is(rq->ctx[i].key, &keys[k], suffix))
                return rq->ctx[i].value;
        return NULL;
    }
}

/* ---- patterns ---------------------------------------------------------- */

/* Pattern codes besides literal bytes: the variable of ordinal i is
 * OP_VAR0 - i, its key index in var_key[i]. */
enum { OP_STAR = -1, OP_QMARK = -2, OP_VAR0 = -16 };

void gw_pmatch_pat_free(struct gw_pmatch_pat *p)
{
    free(p->op);
    p->op = NULL;
    p->n = 0;
}

int gw_pmatch_pat_compile(const char *s, int wild, int vars, struct gw_pmatch_pat *p)
{
    memset(p, 0, sizeof(*p));
    size_t len = strlen(s);
    p->op = malloc((len ? len : 1) * sizeof(*p->op));
    if (!p->op)
        return CAIRN_E_NOMEM;
    for (size_t i = 0; i < len;) {
        if (vars && s[i] == '$' && s[i + 1] == '{') {
            const char *end = strchr(s + i + 2, '}');
            size_t inner = end ? (size_t)(end - (s + i + 2)) : 0;
            if (end && inner == 1 && strchr("*?$", s[i + 2])) {
                p->op[p->n++] = (unsigned char)s[i + 2];
                i += 4;
                continue;
            }
            if (end && inner > 0 && inner < 64 && p->n_vars < MAX_VARS) {
                char name[64];
                memcpy(name, s + i + 2, inner);
                name[inner] = '\0';
                int k = key_find(name, 0);
                if (k >= 0) {
                    p->var_key[p->n_vars] = (int8_t)k;
                    p->op[p->n++] = OP_VAR0 - p->n_vars;
                    p->n_vars++;
                    i += inner + 3;
                    continue;
                }
            }
        }
        if (wild && s[i] == '*')
            p->op[p->n++] = OP_STAR;
        else if (wild && s[i] == '?')
            p->op[p->n++] = OP_QMARK;
        else
            p->op[p->n++] = (unsigned char)s[i];
        i++;
    }
    return 0;
}

struct var_values {
    const char *v[MAX_VARS];
    size_t len[MAX_VARS];
    char buf[MAX_VARS][40];
};

/* Resolves the variables of p for rq. Returns 0, or -1 if one is absent
 * (then the pattern matches nothing). */
static int vars_resolve(const struct gw_pmatch_pat *p, const struct gw_authz_request *rq,
                        struct var_values *vv)
{
    for (int i = 0; i < p->n_vars; i++) {
        vv->v[i] = key_value(rq, p->var_key[i], NULL, vv->buf[i], sizeof(vv->buf[i]));
        if (!vv->v[i])
            return -1;
        vv->len[i] = strlen(vv->v[i]);
    }
    return 0;
}

enum { E_END, E_LIT, E_STAR, E_QMARK };

struct cursor {
    uint32_t i;   /* op index */
    uint32_t off; /* offset inside a variable's value */
};

/* The element at c (skipping exhausted variables), literal byte in *ch. */
static int pat_peek(const struct gw_pmatch_pat *p, const struct var_values *vv, struct cursor *c,
                    unsigned char *ch)
{
    for (;;) {
        if (c->i >= p->n)
            return E_END;
        int32_t op = p->op[c->i];
        if (op >= 0) {
            *ch = (unsigned char)op;
            return E_LIT;
        }
        if (op == OP_STAR)
            return E_STAR;
        if (op == OP_QMARK)
            return E_QMARK;
        int ord = OP_VAR0 - op;
        if (c->off < vv->len[ord]) {
            *ch = (unsigned char)vv->v[ord][c->off];
            return E_LIT;
        }
        c->i++;
        c->off = 0;
    }
}

static void pat_advance(const struct gw_pmatch_pat *p, struct cursor *c)
{
    if (p->op[c->i] <= OP_VAR0) {
        c->off++;
    } else {
        c->i++;
        c->off = 0;
    }
}

/* Index of the character after the one at s[i] (UTF-8 continuation bytes
 * belong to their character). */
static size_t next_char(const char *s, size_t n, size_t i)
{
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

static int byte_eq(unsigned char a, unsigned char b, int icase)
{
    return icase ? tolower(a) == tolower(b) : a == b;
}

/* Glob match of s[n] against p: '*' any run, '?' one character. */
static int glob_match(const struct gw_pmatch_pat *p, const struct var_values *vv, const char *s,
                      size_t n, int icase)
{
    struct cursor pc = {0, 0}, star_pc = {0, 0};
    size_t si = 0, star_si = 0;
    int have_star = 0;
    unsigned char ch = 0;
    while (si < n) {
        int e = pat_peek(p, vv, &pc, &ch);
        if (e == E_LIT && byte_eq(ch, (unsigned char)s[si], icase)) {
            pat_advance(p, &pc);
            si++;
        } else if (e == E_QMARK) {
            pat_advance(p, &pc);
            si = next_char(s, n, si);
        } else if (e == E_STAR) {
            pat_advance(p, &pc);
            star_pc = pc;
            star_si = si;
            have_star = 1;
        } else if (have_star) {
            pc = star_pc;
            star_si = next_char(s, n, star_si);
            si = star_si;
        } else {
            return 0;
        }
    }
    int e;
    while ((e = pat_peek(p, vv, &pc, &ch)) == E_STAR)
        pat_advance(p, &pc);
    return e == E_END;
}

int gw_pmatch_pat_match(const struct gw_pmatch_pat *p, const struct gw_authz_request *rq,
                        const char *s, size_t n, int icase)
{
    struct var_values vv;
    if (p->n_vars && (!rq || vars_resolve(p, rq, &vv)))
        return 0;
    return glob_match(p, &vv, s, n, icase);
}

/* ---- condition operators ----------------------------------------------- */

enum vtype { V_STR, V_NUM, V_DATE, V_BOOL, V_BIN, V_IP, V_NULL };
enum cmp { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct op_entry {
    const char *name;
    enum vtype type;
    enum cmp cmp;
    int negated;
    int wild;  /* string patterns: * and ? are wildcards */
    int icase; /* string comparison ignores ASCII case */
};

static const struct op_entry ops[] = {
    {"StringEquals", V_STR, CMP_EQ, 0, 0, 0},
    {"StringNotEquals", V_STR, CMP_EQ, 1, 0, 0},
    {"StringEqualsIgnoreCase", V_STR, CMP_EQ, 0, 0, 1},
    {"StringNotEqualsIgnoreCase", V_STR, CMP_EQ, 1, 0, 1},
    {"StringLike", V_STR, CMP_EQ, 0, 1, 0},
    {"StringNotLike", V_STR, CMP_EQ, 1, 1, 0},
    {"NumericEquals", V_NUM, CMP_EQ, 0, 0, 0},
    {"NumericNotEquals", V_NUM, CMP_EQ, 1, 0, 0},
    {"NumericLessThan", V_NUM, CMP_LT, 0, 0, 0},
    {"NumericLessThanEquals", V_NUM, CMP_LE, 0, 0, 0},
    {"NumericGreaterThan", V_NUM, CMP_GT, 0, 0, 0},
    {"NumericGreaterThanEquals", V_NUM, CMP_GE, 0, 0, 0},
    {"DateEquals", V_DATE, CMP_EQ, 0, 0, 0},
    {"DateNotEquals", V_DATE, CMP_EQ, 1, 0, 0},
    {"DateLessThan", V_DATE, CMP_LT, 0, 0, 0},
    {"DateLessThanEquals", V_DATE, CMP_LE, 0, 0, 0},
    {"DateGreaterThan", V_DATE, CMP_GT, 0, 0, 0},
    {"DateGreaterThanEquals", V_DATE, CMP_GE, 0, 0, 0},
    {"Bool", V_BOOL, CMP_EQ, 0, 0, 0},
    {"BinaryEquals", V_BIN, CMP_EQ, 0, 0, 0},
    {"IpAddress", V_IP, CMP_EQ, 0, 0, 0},
    {"NotIpAddress", V_IP, CMP_EQ, 1, 0, 0},
    {"ArnEquals", V_STR, CMP_EQ, 0, 1, 0},
    {"ArnNotEquals", V_STR, CMP_EQ, 1, 1, 0},
    {"ArnLike", V_STR, CMP_EQ, 0, 1, 0},
    {"ArnNotLike", V_STR, CMP_EQ, 1, 1, 0},
    {"Null", V_NULL, CMP_EQ, 0, 0, 0},
};
#define N_OPS ((int)(sizeof(ops) / sizeof(ops[0])))

enum qualifier { Q_NONE, Q_FOR_ANY, Q_FOR_ALL };

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

struct cval {
    struct gw_pmatch_pat pat; /* V_STR */
    double num;               /* V_NUM */
    int64_t ms;               /* V_DATE */
    struct cidr ip;           /* V_IP */
    char *str;                /* V_BOOL, V_BIN, V_NULL */
};

struct gw_pmatch_cond {
    const struct op_entry *op;
    int if_exists;
    enum qualifier qual;
    int key;      /* index into keys[] */
    char *suffix; /* tag of a family key, else NULL */
    size_t n, cap;
    struct cval *v;
};

/* ---- values ------------------------------------------------------------ */

/* Parses an IP address or CIDR block. Returns 0 or -1. */
static int cidr_parse(const char *s, int allow_prefix, struct cidr *out)
{
    char host[64];
    const char *slash = allow_prefix ? strchr(s, '/') : NULL;
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return -1;
    }
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3)
            return -1;
        int bits = 0;
        for (; *d; d++) {
            if (!isdigit((unsigned char)*d))
                return -1;
            bits = bits * 10 + (*d - '0');
        }
        if (bits > out->bits)
            return -1;
        out->bits = bits;
    }
    return 0;
}

/* The client address as a host address; an IPv4-mapped IPv6 address is the
 * IPv4 address it carries. */
static int request_ip(const char *s, struct cidr *out)
{
    if (cidr_parse(s, 0, out))
        return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (out->family == AF_INET6 && memcmp(out->addr, mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->bits = 32;
    }
    return 0;
}

static int cidr_contains(const struct cidr *net, const struct cidr *host)
{
    if (net->family != host->family)
        return 0;
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->addr, host->addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (host->addr[full] & mask);
}

/* A decimal number, the whole string. */
static int number_parse(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || v != v)
        return -1;
    *out = v;
    return 0;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* A date as the Date* operators take it: epoch seconds ("1700000000"), or
 * ISO 8601 "YYYY-MM-DD", "YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm]"
 * (no zone = UTC). Returns 0 and *ms, or -1. */
static int date_parse(const char *s, int64_t *ms)
{
    size_t len = strlen(s);
    if (len == 0 || len > 40)
        return -1;
    size_t nd = strspn(s, "0123456789");
    if (nd == len) {
        if (len > 12)
            return -1;
        *ms = (int64_t)strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0;
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    const char *p = s + 10;
    int64_t offset_s = 0;
    if (*p == 'T' || *p == 't') {
        p++;
        if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi))
            return -1;
        p += 5;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            if (*p == '.') {
                p++;
                int nf = 0;
                while (isdigit((unsigned char)*p)) {
                    if (nf < 3)
                        frac_ms = frac_ms * 10 + (*p - '0');
                    nf++;
                    p++;
                }
                if (nf == 0)
                    return -1;
                for (; nf < 3; nf++)
                    frac_ms *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
                return -1;
            offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 6;
        }
    }
    if (*p)
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *ms = t * 1000 + frac_ms;
    return 0;
}

static int cmp_holds(enum cmp c, double a, double b)
{
    switch (c) {
    case CMP_EQ:
        return a == b;
    case CMP_LT:
        return a < b;
    case CMP_LE:
        return a <= b;
    case CMP_GT:
        return a > b;
    case CMP_GE:
        return a >= b;
    }
    return 0;
}

/* ---- conditions -------------------------------------------------------- */

/* Splits an operator name into qualifier, base operator and IfExists. */
static const struct op_entry *op_lookup(const char *name, enum qualifier *q, int *if_exists)
{
    *q = Q_NONE;
    *if_exists = 0;
    if (strncmp(name, "ForAnyValue:", 12) == 0) {
        *q = Q_FOR_ANY;
        name += 12;
    } else if (strncmp(name, "ForAllValues:", 13) == 0) {
        *q = Q_FOR_ALL;
        name += 13;
    }
    size_t n = strlen(name);
    if (n > 8 && strcmp(name + n - 8, "IfExists") == 0) {
        *if_exists = 1;
        n -= 8;
    }
    for (int i = 0; i < N_OPS; i++) {
        if (strlen(ops[i].name) == n && strncmp(ops[i].name, name, n) == 0) {
            /* Null tests presence itself: no IfExists, no set qualifier. */
            if (ops[i].type == V_NULL && (*if_exists || *q != Q_NONE))
                return NULL;
            return &ops[i];
        }
    }
    return NULL;
}

int gw_pmatch_op_known(const char *name)
{
    enum qualifier q;
    int if_exists;
    return op_lookup(name, &q, &if_exists) != NULL;
}

static void set_err(char *err, size_t errlen, const char *msg, const char *arg)
{
    if (errlen)
        snprintf(err, errlen, "%s%.100s", msg, arg ? arg : "");
}

int gw_pmatch_cond_new(const char *op_name, const char *key_name, struct gw_pmatch_cond **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    enum qualifier q;
    int if_exists;
    const struct op_entry *op = op_lookup(op_name, &q, &if_exists);
    if (!op) {
        set_err(err, errlen, "Invalid Condition type : ", op_name);
        return CAIRN_E_INVAL;
    }
    int k = key_find(key_name, 1);
    if (k < 0) {
        set_err(err, errlen, "Policy has an invalid condition key", NULL);
        return CAIRN_E_INVAL;
    }
    struct gw_pmatch_cond *c = calloc(1, sizeof(*c));
    if (!c)
        return CAIRN_E_NOMEM;
    c->op = op;
    c->qual = q;
    c->if_exists = if_exists;
    c->key = k;
    if (keys[k].is_prefix && !(c->suffix = strdup(key_name + strlen(keys[k].name)))) {
        free(c);
        return CAIRN_E_NOMEM;
    }
    *out = c;
    return 0;
}

int gw_pmatch_cond_add(struct gw_pmatch_cond *c, const char *value, int vars, char *err,
                       size_t errlen)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        struct cval *v = realloc(c->v, cap * sizeof(*v));
        if (!v)
            return CAIRN_E_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    struct cval *v = &c->v[c->n];
    memset(v, 0, sizeof(*v));
    switch (c->op->type) {
    case V_STR:
        if (gw_pmatch_pat_compile(value, c->op->wild, vars, &v->pat))
            return CAIRN_E_NOMEM;
        break;
    case V_NUM:
        if (number_parse(value, &v->num)) {
            set_err(err, errlen, "Invalid value in Conditions", NULL);
            return CAIRN_E_INVAL;
        }
        break;
    case V_DATE:
        if (date_parse(value, &v->ms)) {
            set_err(err, errlen, "Invalid value in Conditions", NULL);
            return CAIRN_E_INVAL;
        }
        break;
    case V_IP:
        if (cidr_parse(value, 1, &v->ip)) {
            set_err(err, errlen, "Invalid IP address in Conditions", NULL);
            return CAIRN_E_INVAL;
        }
        break;
    case V_BOOL:
    case V_BIN:
    case V_NULL:
        if (!(v->str = strdup(value)))
            return CAIRN_E_NOMEM;
        break;
    }
    c->n++;
    return 0;
}

int gw_pmatch_cond_list_key(const struct gw_pmatch_cond *c)
{
    return keys[c->key].list_key;
}

void gw_pmatch_cond_free(struct gw_pmatch_cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        gw_pmatch_pat_free(&c->v[i].pat);
        free(c->v[i].str);
    }
    free(c->v);
    free(c->suffix);
    free(c);
}

/* 1 if one of c's values matches the request value s (positive sense). */
static int any_value_matches(const struct gw_pmatch_cond *c, const struct gw_authz_request *rq,
                             const char *s)
{
    double num = 0;
    int64_t ms = 0;
    struct cidr ip;
    switch (c->op->type) {
    case V_NUM:
        if (number_parse(s, &num))
            return 0;
        break;
    case V_DATE:
        if (date_parse(s, &ms))
            return 0;
        break;
    case V_IP:
        if (request_ip(s, &ip))
            return 0;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct cval *v = &c->v[i];
        int m = 0;
        switch (c->op->type) {
        case V_STR:
            m = gw_pmatch_pat_match(&v->pat, rq, s, strlen(s), c->op->icase);
            break;
        case V_NUM:
            m = cmp_holds(c->op->cmp, num, v->num);
            break;
        case V_DATE:
            m = cmp_holds(c->op->cmp, (double)ms, (double)v->ms);
            break;
        case V_BOOL:
            m = strcasecmp(s, v->str) == 0;
            break;
        case V_BIN:
            m = strcmp(s, v->str) == 0;
            break;
        case V_IP:
            m = cidr_contains(&v->ip, &ip);
            break;
        case V_NULL:
            break;
        }
        if (m)
            return 1;
    }
    return 0;
}

int gw_pmatch_cond_holds(const struct gw_pmatch_cond *c, const struct gw_authz_request *rq)
{
    char buf[40];
    const char *s = key_value(rq, c->key, c->suffix, buf, sizeof(buf));
    if (c->op->type == V_NULL) {
        /* "true": the key must be absent; "false": present. */
        for (size_t i = 0; i < c->n; i++) {
            if (strcasecmp(c->v[i].str, "true") == 0 && !s)
                return 1;
            if (strcasecmp(c->v[i].str, "false") == 0 && s)
                return 1;
        }
        return 0;
    }
    if (!s) {
        if (c->if_exists || c->qual == Q_FOR_ALL)
            return 1;
        if (c->qual == Q_FOR_ANY)
            return 0;
        return c->op->negated; /* a negated operator holds for a missing key */
    }
    int m = any_value_matches(c, rq, s);
    return c->op->negated ? !m : m;
}
