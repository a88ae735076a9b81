#include "gw_req.h"

#include "cn_error.h"
#include "cn_util.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

const char *gw_header_get(const struct gw_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0)
            return h[i].value ? h[i].value : "";
    return NULL;
}

int gw_header_collect(const char *name, const char *value, void *list)
{
    struct gw_header_list *l = list;
    if (l->n == l->cap) {
        l->overflow = 1;
        return 1;
    }
    l->h[l->n].name = name;
    l->h[l->n].value = value;
    l->n++;
    return 0;
}

/* ---- URL decoding ---------------------------------------------------- */

int gw_url_decode(const char *src, size_t len, char *out, size_t cap, int plus_is_space)
{
    size_t o = 0;
    if (cap == 0)
        return CAIRN_E_RANGE;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return CAIRN_E_INVAL;
            int hi = cn_hex_digit((unsigned char)src[i + 1]),
                lo = cn_hex_digit((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return CAIRN_E_INVAL;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == 0)
            return CAIRN_E_INVAL;
        if (o + 1 >= cap)
            return CAIRN_E_RANGE;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

void gw_uri_encode(struct gw_buf *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash))
            continue;
        gw_buf_append(out, s + start, i - start);
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        gw_buf_append(out, esc, 3);
        start = i + 1;
    }
    gw_buf_append(out, s + start, len - start);
}

/* ---- query strings --------------------------------------------------- */

void gw_query_free(struct gw_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->params[i].name);
        free(q->params[i].value);
    }
    free(q->params);
    q->params = NULL;
    q->n = 0;
}

static char *decode_dup(const char *s, size_t len, int *rc)
{
    char *out = malloc(len + 1);
    if (!out) {
        *rc = CAIRN_E_NOMEM;
        return NULL;
    }
    int n = gw_url_decode(s, len, out, len + 1, 0);
    if (n < 0) {
        free(out);
        *rc = n;
        return NULL;
    }
    return out;
}

int gw_query_parse(const char *raw, struct gw_query *q, enum gw_s3err *err)
{
    q->n = 0;
    q->params = NULL;
    *err = GW_S3_OK;
    if (!raw || !*raw)
        return 0;
    size_t rawlen = strlen(raw);
    if (rawlen > GW_MAX_QUERY_LEN) {
        *err = GW_S3_INVALID_ARGUMENT;
        return CAIRN_E_RANGE;
    }
    q->params = calloc(GW_MAX_QUERY_PARAMS, sizeof(*q->params));
    if (!q->params) {
        *err = GW_S3_INTERNAL_ERROR;
        return CAIRN_E_NOMEM;
    }
    const char *p = raw;
    int rc = 0;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        if (nlen > 0) {
            if (q->n == GW_MAX_QUERY_PARAMS) {
                rc = CAIRN_E_RANGE;
                goto err;
            }
            struct gw_query_param *qp = &q->params[q->n];
            qp->name = decode_dup(p, nlen, &rc);
            if (!qp->name)
                goto err;
            qp->has_value = eq != NULL;
            qp->value = eq ? decode_dup(eq + 1, len - nlen - 1, &rc) : decode_dup("", 0, &rc);
            if (!qp->value) {
                free(qp->name);
                qp->name = NULL;
                goto err;
            }
            q->n++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
err:
    *err = rc == CAIRN_E_NOMEM ? GW_S3_INTERNAL_ERROR : GW_S3_INVALID_ARGUMENT;
    gw_query_free(q);
    return rc;
}

const char *gw_query_get(const struct gw_query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->params[i].name, name) == 0)
            return q->params[i].value;
    return NULL;
}

/* ---- addressing ------------------------------------------------------ */

/* Length of a host name without its ":port" (IPv6 literals in brackets are
 * kept whole). */
static size_t host_len(const char *h)
{
    size_t n = strlen(h);
    if (h[0] == '[') {
        const char *rb = strchr(h, ']');
        return rb ? (size_t)(rb - h) + 1 : n;
    }
    const char *colon = strrchr(h, ':');
    return colon ? (size_t)(colon - h) : n;
}

static int bucket_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           (c >= 'A' && c <= 'Z') || c == '_';
}

static int set_bucket(struct gw_target *out, const char *b, size_t len, enum gw_s3err *err)
{
    if (len > GW_MAX_BUCKET_NAME) {
        *err = GW_S3_INVALID_BUCKET_NAME;
        return CAIRN_E_INVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!bucket_char_ok(b[i])) {
            *err = GW_S3_INVALID_BUCKET_NAME;
            return CAIRN_E_INVAL;
        }
    }
    memcpy(out->bucket, b, len);
    out->bucket[len] = '\0';
    return 0;
}

static int set_key(struct gw_target *out, const char *k, enum gw_s3err *err)
{
    size_t len = strlen(k);
    if (len > GW_MAX_KEY) {
        *err = GW_S3_KEY_TOO_LONG;
        return CAIRN_E_INVAL;
    }
    for (size_t i = 0; i < len;) {
        size_t n = gw_utf8_seq_len(k + i, len - i);
        if (n == 0) {
            *err = GW_S3_INVALID_URI; /* S3 keys are UTF-8; S3 answers InvalidURI */
            return CAIRN_E_INVAL;
        }
        i += n;
    }
    memcpy(out->key, k, len + 1);
    return 0;
}

int gw_target_parse(const char *host, const char *base_domain, const char *decoded_path,
                    struct gw_target *out, enum gw_s3err *err)
{
    memset(out, 0, sizeof(*out));
    *err = GW_S3_OK;
    if (!decoded_path || decoded_path[0] != '/') {
        *err = GW_S3_INVALID_REQUEST;
        return CAIRN_E_INVAL;
    }
    if (host && base_domain && *base_domain) {
        size_t hl = host_len(host), bl = host_len(base_domain);
        if (hl > bl + 1 && host[hl - bl - 1] == '.' &&
            strncasecmp(host + hl - bl, base_domain, bl) == 0) {
            size_t blen = hl - bl - 1;
            char lower[GW_MAX_BUCKET_NAME + 1];
            if (blen > GW_MAX_BUCKET_NAME) {
                *err = GW_S3_INVALID_BUCKET_NAME;
                return CAIRN_E_INVAL;
            }
            for (size_t i = 0; i < blen; i++)
                lower[i] = (char)tolower((unsigned char)host[i]);
            if (set_bucket(out, lower, blen, err))
                return CAIRN_E_INVAL;
            out->virtual_host = 1;
            return set_key(out, decoded_path + 1, err);
        }
    }
    const char *b = decoded_path + 1;
    const char *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (set_bucket(out, b, blen, err))
        return CAIRN_E_INVAL;
    if (slash && set_key(out, slash + 1, err)) {
        out->bucket[0] = '\0';
        return CAIRN_E_INVAL;
    }
    return 0;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int has_suffix(const char *s, size_t len, const char *suf)
{
    size_t n = strlen(suf);
    return len >= n && memcmp(s + len - n, suf, n) == 0;
}

static int looks_like_ipv4(const char *s)
{
    int parts = 0, digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 3)
                return 0;
        } else if (*s == '.') {
            if (!digits)
                return 0;
            parts++;
            digits = 0;
        } else {
            return 0;
        }
    }
    return digits && parts == 3;
}

int gw_bucket_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t len = strlen(name);
    if (len < 3 || len > GW_MAX_BUCKET_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
        /* "..", ".-" and "-.": a DNS label neither is empty nor starts or
         * ends with '-' (s3-tests' test_bucket_create_naming_dns_*) */
        if (i > 0 && (c == '.' || name[i - 1] == '.') && (c == '.' || c == '-') &&
            (name[i - 1] == '.' || name[i - 1] == '-'))
            return 0;
    }
    if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[len - 1]))
        return 0;
    if (looks_like_ipv4(name))
        return 0;
    if (has_prefix(name, "xn--") || has_prefix(name, "sthree-") ||
        has_prefix(name, "amzn-s3-demo-"))
        return 0;
    if (has_suffix(name, len, "-s3alias") || has_suffix(name, len, "--ol-s3") ||
        has_suffix(name, len, ".mrap") || has_suffix(name, len, "--x-s3"))
        return 0;
    return 1;
}

/* ---- Range ----------------------------------------------------------- */

enum gw_range_kind gw_range_parse(const char *hdr, uint64_t size, struct gw_range *out)
{
    if (!hdr)
        return GW_RANGE_NONE;
    while (*hdr == ' ' || *hdr == '\t')
        hdr++;
    if (strncasecmp(hdr, "bytes", 5) != 0)
        return GW_RANGE_NONE;
    const char *p = hdr + 5;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return GW_RANGE_NONE;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strchr(p, ','))
        return GW_RANGE_NONE; /* multiple ranges: S3 returns the whole object */
    uint64_t a = 0, b = 0;
    int suffix = 0, open = 0;
    if (*p == '-') {
        size_t n = cn_scan_u64(p + 1, &b);
        if (!n)
            return GW_RANGE_NONE;
        p += 1 + n;
        suffix = 1;
    } else {
        size_t n = cn_scan_u64(p, &a);
        if (!n || p[n] != '-')
            return GW_RANGE_NONE;
        p += n + 1;
        size_t m = cn_scan_u64(p, &b);
        if (!m) {
            if (*p >= '0' && *p <= '9')
                return GW_RANGE_NONE; /* overflow */
            open = 1;
        }
        p += m;
        if (!open && b < a)
            return GW_RANGE_NONE;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return GW_RANGE_NONE;
    if (suffix) {
        if (b == 0 || size == 0)
            return GW_RANGE_UNSATISFIABLE;
        out->first = b >= size ? 0 : size - b;
        out->last = size - 1;
        return GW_RANGE_PARTIAL;
    }
    if (a >= size)
        return GW_RANGE_UNSATISFIABLE;
    out->first = a;
    out->last = (open || b >= size) ? size - 1 : b;
    return GW_RANGE_PARTIAL;
}

/* ---- HTTP dates ------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};

static int month_index(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(s, month_names[i], 3) == 0)
            return i + 1;
    return 0;
}

static int valid_fields(int y, int mon, int d, int h, int mi, int s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 9999 || mon < 1 || mon > 12 || d < 1 || d > mdays[mon - 1])
        return 0;
    if (mon == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    /* A leap second (:60) is taken, except after the last second of 9999:
     * that time has no date this parser (or any HTTP date) can write. */
    if (y == 9999 && mon == 12 && d == 31 && h == 23 && mi == 59 && s == 60)
        return 0;
    return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

static int64_t to_unix(int y, int mon, int d, int h, int mi, int s)
{
    return days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
}

/* Reads exactly n digits. */
static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

/* "HH:MM:SS" */
static int parse_hms(const char *s, int *h, int *mi, int *sec)
{
    return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, mi) && s[5] == ':' &&
           digits(s + 6, 2, sec);
}

int gw_http_date_parse(const char *s, int64_t *out)
{
    if (!s)
        return CAIRN_E_INVAL;
    while (*s == ' ')
        s++;
    size_t len = strlen(s);
    while (len && s[len - 1] == ' ')
        len--;
    int y, mon, d, h, mi, sec;
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 chars) */
    if (len == 29 && s[3] == ',' && s[4] == ' ') {
        for (int i = 0; i < 7; i++) {
            if (strncmp(s, day_names[i], 3) != 0)
                continue;
            if (digits(s + 5, 2, &d) && s[7] == ' ' && (mon = month_index(s + 8)) && s[11] == ' ' &&
                digits(s + 12, 4, &y) && s[16] == ' ' && parse_hms(s + 17, &h, &mi, &sec) &&
                strncmp(s + 25, " GMT", 4) == 0 && valid_fields(y, mon, d, h, mi, sec)) {
                *out = to_unix(y, mon, d, h, mi, sec);
                return 0;
            }
        }
        return CAIRN_E_INVAL;
    }
    /* asctime: "Sun Nov  6 08:49:37 1994" (24 chars) */
    if (len == 24 && s[3] == ' ') {
        for (int i = 0; i < 7; i++) {
            if (strncmp(s, day_names[i], 3) != 0)
                continue;
            const char *dd = s + 8;
            int ok = (mon = month_index(s + 4)) && s[7] == ' ';
            if (ok && dd[0] == ' ')
                ok = digits(dd + 1, 1, &d);
            else if (ok)
                ok = digits(dd, 2, &d);
            if (ok && s[10] == ' ' && parse_hms(s + 11, &h, &mi, &sec) && s[19] == ' ' &&
                digits(s + 20, 4, &y) && valid_fields(y, mon, d, h, mi, sec)) {
                *out = to_unix(y, mon, d, h, mi, sec);
                return 0;
            }
        }
        return CAIRN_E_INVAL;
    }
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
    for (int i = 0; i < 7; i++) {
        size_t dn = strlen(long_day_names[i]);
        if (len != dn + 24 || strncmp(s, long_day_names[i], dn) != 0)
            continue;
        const char *p = s + dn;
        int yy;
        if (p[0] == ',' && p[1] == ' ' && digits(p + 2, 2, &d) && p[4] == '-' &&
            (mon = month_index(p + 5)) && p[8] == '-' && digits(p + 9, 2, &yy) && p[11] == ' ' &&
            parse_hms(p + 12, &h, &mi, &sec) && strncmp(p + 20, " GMT", 4) == 0) {
            y = yy < 70 ? 2000 + yy : 1900 + yy;
            if (valid_fields(y, mon, d, h, mi, sec)) {
                *out = to_unix(y, mon, d, h, mi, sec);
                return 0;
            }
        }
        return CAIRN_E_INVAL;
    }
    return CAIRN_E_INVAL;
}

/* a / b rounded toward negative infinity and the matching remainder in
 * [0, b), for b > 0 and any a: negating a, or multiplying the quotient
 * back, would overflow near INT64_MIN. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a % b + (a % b < 0 ? b : 0);
}

static void split_time(int64_t t, int *y, unsigned *mon, unsigned *d, int *h, int *mi, int *s,
                       int *wday)
{
    int64_t days = floor_div(t, 86400);
    int64_t rem = floor_mod(t, 86400);
    civil_from_days(days, y, mon, d);
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
    *wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

void gw_http_date_format(int64_t t, char out[30])
{
    int y, h, mi, s, wd;
    unsigned mon, d;
    split_time(t, &y, &mon, &d, &h, &mi, &s, &wd);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s, %02u %s %04d %02d:%02d:%02d GMT", day_names[wd], d,
             month_names[mon - 1], y % 10000, h, mi, s);
    memcpy(out, tmp, 29);
    out[29] = '\0';
}

int gw_iso8601_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return CAIRN_E_INVAL;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return CAIRN_E_INVAL;
        while (digits < 3) {
            ms *= 10;
            digits++;
        }
    }
    if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return CAIRN_E_INVAL;
    /* days from civil (Howard Hinnant's algorithm) */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    *out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
    return 0;
}

void gw_iso8601_format(int64_t t_ms, char out[25])
{
    int64_t t = floor_div(t_ms, 1000);
    int ms = (int)floor_mod(t_ms, 1000);
    int y, h, mi, s, wd;
    unsigned mon, d;
    split_time(t, &y, &mon, &d, &h, &mi, &s, &wd);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y % 10000, mon, d, h, mi, s,
             ms);
    memcpy(out, tmp, 24);
    out[24] = '\0';
}

int gw_amz_date_parse(const char *s, int64_t *out)
{
    int y, mon, d, h, mi, sec;
    if (!s || strlen(s) != 16 || !digits(s, 4, &y) || !digits(s + 4, 2, &mon) ||
        !digits(s + 6, 2, &d) || s[8] != 'T' || !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) ||
        !digits(s + 13, 2, &sec) || s[15] != 'Z' || !valid_fields(y, mon, d, h, mi, sec))
        return CAIRN_E_INVAL;
    *out = to_unix(y, mon, d, h, mi, sec);
    return 0;
}

/* ---- conditional requests -------------------------------------------- */

void gw_cond_from_headers(const struct gw_header *h, size_t n, struct gw_cond *c)
{
    c->if_match = gw_header_get(h, n, "If-Match");
    c->if_none_match = gw_header_get(h, n, "If-None-Match");
    c->if_modified_since = gw_header_get(h, n, "If-Modified-Since");
    c->if_unmodified_since = gw_header_get(h, n, "If-Unmodified-Since");
}

int gw_etag_list_match(const char *hdr, const char *etag, int exists, int weak)
{
    if (!hdr)
        return 0;
    size_t elen = etag ? strlen(etag) : 0;
    const char *p = hdr;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        int is_weak = 0;
        if (p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        const char *tag;
        size_t tlen;
        if (*p == '"') {
            tag = ++p;
            const char *q = strchr(p, '"');
            tlen = q ? (size_t)(q - p) : strlen(p);
            p = q ? q + 1 : p + tlen;
        } else {
            tag = p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            tlen = (size_t)(p - tag);
        }
        if (!is_weak && tlen == 1 && tag[0] == '*' && tag + 1 == p) {
            if (exists)
                return 1;
            continue;
        }
        if (exists && etag && (!is_weak || weak) && tlen == elen && memcmp(tag, etag, elen) == 0)
            return 1;
        /* skip anything up to the next comma */
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

void gw_cond_from_copy_headers(const struct gw_header *h, size_t n, struct gw_cond *c)
{
    c->if_match = gw_header_get(h, n, "x-amz-copy-source-if-match");
    c->if_none_match = gw_header_get(h, n, "x-amz-copy-source-if-none-match");
    c->if_modified_since = gw_header_get(h, n, "x-amz-copy-source-if-modified-since");
    c->if_unmodified_since = gw_header_get(h, n, "x-amz-copy-source-if-unmodified-since");
}

enum gw_s3err gw_cond_eval_copy(const struct gw_cond *c, int exists, const char *etag,
                                int64_t mtime_ms)
{
    /* As a GET (so If-Modified-Since applies), with 304 turned into 412. */
    enum gw_s3err e = gw_cond_eval(c, exists, etag, mtime_ms, 1);
    return e == GW_S3_NOT_MODIFIED ? GW_S3_PRECONDITION_FAILED : e;
}

enum gw_s3err gw_cond_eval(const struct gw_cond *c, int exists, const char *etag, int64_t mtime_ms,
                           int is_get_head)
{
    int64_t mtime = floor_div(mtime_ms, 1000);
    int64_t t;
    /* Step 1/2: If-Match, else If-Unmodified-Since. */
    if (c->if_match) {
        if (!gw_etag_list_match(c->if_match, etag, exists, 0))
            return GW_S3_PRECONDITION_FAILED;
    } else if (c->if_unmodified_since && gw_http_date_parse(c->if_unmodified_since, &t) == 0) {
        if (exists && mtime > t)
            return GW_S3_PRECONDITION_FAILED;
    }
    /* Step 3/4: If-None-Match, else If-Modified-Since (GET/HEAD). */
    if (c->if_none_match) {
        if (gw_etag_list_match(c->if_none_match, etag, exists, 1))
            return is_get_head ? GW_S3_NOT_MODIFIED : GW_S3_PRECONDITION_FAILED;
    } else if (is_get_head && c->if_modified_since &&
               gw_http_date_parse(c->if_modified_since, &t) == 0) {
        if (exists && mtime <= t)
            return GW_S3_NOT_MODIFIED;
    }
    return GW_S3_OK;
}

/* ---- user metadata --------------------------------------------------- */

#define META_PREFIX     "x-amz-meta-"
#define META_PREFIX_LEN 11

void gw_meta_free(struct gw_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].name);
        free(m->items[i].value);
    }
    free(m->items);
    memset(m, 0, sizeof(*m));
}

static char *trimmed_dup(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
    return out;
}

/* Decodes the text of one encoded-word (B: base64, Q: quoted-printable with
 * '_' for space) into out[cap]. Returns its length, or -1 if malformed. */
static int encoded_word_text(char enc, const char *t, size_t tl, unsigned char *out, size_t cap)
{
    if (enc == 'B' || enc == 'b') {
        if (tl % 4 || tl / 4 * 3 > cap)
            return -1;
        for (size_t i = 0; i < tl; i++)
            if (!(isalnum((unsigned char)t[i]) || t[i] == '+' || t[i] == '/' || t[i] == '='))
                return -1;
        int n = tl ? EVP_DecodeBlock(out, (const unsigned char *)t, (int)tl) : 0;
        if (n < 0)
            return -1;
        for (size_t i = tl; i > 0 && t[i - 1] == '='; i--)
            n--; /* EVP_DecodeBlock counts padding as bytes */
        return n;
    }
    size_t o = 0;
    for (size_t i = 0; i < tl; i++) {
        if (o == cap)
            return -1;
        if (t[i] == '_') {
            out[o++] = ' ';
        } else if (t[i] == '=') {
            int hi = i + 2 < tl ? cn_hex_digit(t[i + 1]) : -1,
                lo = i + 2 < tl ? cn_hex_digit(t[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (unsigned char)t[i];
        }
    }
    return (int)o;
}

/* If s starts with an RFC 2047 encoded-word ("=?charset?B|Q?text?=") in a
 * charset that maps to UTF-8 (UTF-8, US-ASCII, ISO-8859-1) whose text
 * decodes to valid UTF-8, appends the text to out and returns the word's
 * length; else returns 0. */
static size_t encoded_word(const char *s, struct gw_buf *out)
{
    if (s[0] != '=' || s[1] != '?')
        return 0;
    const char *cs = s + 2, *q1 = strchr(cs, '?');
    if (!q1 || !q1[1] || q1[2] != '?')
        return 0;
    char enc = q1[1];
    const char *t = q1 + 3, *end = strstr(t, "?=");
    if (!end || (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q'))
        return 0;
    size_t csl = (size_t)(q1 - cs), tl = (size_t)(end - t);
    int latin1 = csl == 10 && strncasecmp(cs, "ISO-8859-1", 10) == 0;
    if (!latin1 && !(csl == 5 && strncasecmp(cs, "UTF-8", 5) == 0) &&
        !(csl == 8 && strncasecmp(cs, "US-ASCII", 8) == 0))
        return 0;
    unsigned char text[GW_MAX_USER_METADATA + 4];
    int n = encoded_word_text(enc, t, tl, text, sizeof(text));
    if (n < 0)
        return 0;
    char utf8[2 * sizeof(text)];
    size_t ul = 0;
    for (int i = 0; i < n; i++) {
        if (latin1 && text[i] >= 0x80) {
            utf8[ul++] = (char)(0xC0 | text[i] >> 6);
            utf8[ul++] = (char)(0x80 | (text[i] & 0x3F));
        } else {
            utf8[ul++] = (char)text[i];
        }
    }
    for (size_t i = 0; i < ul;) {
        /* control characters would end up raw in a response header */
        unsigned char c = (unsigned char)utf8[i];
        size_t sl = gw_utf8_seq_len(utf8 + i, ul - i);
        if (sl == 0 || (c < 0x20 && c != '\t') || c == 0x7F)
            return 0;
        i += sl;
    }
    gw_buf_append(out, utf8, ul);
    return (size_t)(end + 2 - s);
}

int gw_meta_value_decode(const char *v, char **out)
{
    struct gw_buf b;
    gw_buf_init(&b, 4 * GW_MAX_USER_METADATA + 64);
    const char *p = v;
    int prev_word = 0; /* blanks between two encoded-words are dropped */
    while (*p) {
        size_t wl = encoded_word(p, &b);
        if (wl) {
            p += wl;
            prev_word = 1;
            continue;
        }
        if (prev_word && (*p == ' ' || *p == '\t')) {
            size_t bl = strspn(p, " \t");
            struct gw_buf probe;
            gw_buf_init(&probe, 4 * GW_MAX_USER_METADATA + 64);
            int next_is_word = encoded_word(p + bl, &probe) > 0;
            gw_buf_free(&probe);
            if (next_is_word) {
                p += bl;
                continue;
            }
        }
        prev_word = 0;
        gw_buf_append(&b, p, 1);
        p++;
    }
    gw_buf_append(&b, "", 1);
    int rc = gw_buf_error(&b);
    if (rc) {
        gw_buf_free(&b);
        return rc == CAIRN_E_RANGE ? CAIRN_E_RANGE : CAIRN_E_NOMEM;
    }
    size_t len;
    *out = gw_buf_take(&b, &len);
    return *out ? 0 : CAIRN_E_NOMEM;
}

void gw_meta_value_encode(struct gw_buf *out, const char *v)
{
    size_t len = strlen(v), i = 0;
    int ascii = 1;
    for (size_t j = 0; j < len; j++)
        if ((unsigned char)v[j] >= 0x80)
            ascii = 0;
    if (ascii) {
        gw_buf_append(out, v, len);
        return;
    }
    /* Words of at most 75 characters: 45 bytes of text (60 of base64),
     * never splitting a character. */
    while (i < len) {
        size_t n = 0;
        while (i + n < len) {
            size_t sl = gw_utf8_seq_len(v + i + n, len - i - n);
            if (sl == 0)
                sl = 1;
            if (n + sl > 45)
                break;
            n += sl;
        }
        if (n == 0)
            n = 1;
        unsigned char b64[64];
        int bl = EVP_EncodeBlock(b64, (const unsigned char *)v + i, (int)n);
        gw_buf_printf(out, "%s=?UTF-8?B?%.*s?=", i ? " " : "", bl, (const char *)b64);
        i += n;
    }
}

/* 1 if v holds an ASCII control character other than tab (a header value
 * cannot carry one; s3-tests' test_object_set_get_non_utf8_metadata). */
static int has_control_char(const char *v)
{
    for (; v && *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
            return 1;
    return 0;
}

int gw_meta_collect(const struct gw_header *h, size_t n, struct gw_meta *out, enum gw_s3err *err)
{
    memset(out, 0, sizeof(*out));
    *err = GW_S3_OK;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || strncasecmp(h[i].name, META_PREFIX, META_PREFIX_LEN) != 0)
            continue;
        const char *suffix = h[i].name + META_PREFIX_LEN;
        size_t nlen = strlen(suffix);
        if (nlen == 0) {
            *err = GW_S3_INVALID_ARGUMENT;
            rc = CAIRN_E_INVAL;
            goto err;
        }
        if (has_control_char(h[i].value)) {
            *err = GW_S3_INVALID_ARGUMENT;
            rc = CAIRN_E_INVAL;
            goto err;
        }
        char *raw = trimmed_dup(h[i].value ? h[i].value : "");
        if (!raw)
            goto nomem;
        /* S3 stores the text of RFC 2047 encoded-words, decoded */
        char *value = NULL;
        int drc = gw_meta_value_decode(raw, &value);
        free(raw);
        if (drc == CAIRN_E_RANGE) {
            *err = GW_S3_METADATA_TOO_LARGE;
            rc = CAIRN_E_RANGE;
            goto err;
        }
        if (drc)
            goto nomem;
        size_t vlen = strlen(value);
        struct gw_meta_item *existing = NULL;
        for (size_t j = 0; j < out->n; j++)
            if (strcasecmp(out->items[j].name, suffix) == 0)
                existing = &out->items[j];
        if (existing) {
            size_t olen = strlen(existing->value);
            char *joined = realloc(existing->value, olen + 1 + vlen + 1);
            if (!joined) {
                free(value);
                goto nomem;
            }
            joined[olen] = ',';
            memcpy(joined + olen + 1, value, vlen + 1);
            existing->value = joined;
            out->total += 1 + vlen;
            free(value);
        } else {
            struct gw_meta_item *items = realloc(out->items, (out->n + 1) * sizeof(*items));
            if (!items) {
                free(value);
                goto nomem;
            }
            out->items = items;
            char *name = malloc(nlen + 1);
            if (!name) {
                free(value);
                goto nomem;
            }
            for (size_t j = 0; j <= nlen; j++)
                name[j] = (char)tolower((unsigned char)suffix[j]);
            items[out->n].name = name;
            items[out->n].value = value;
            out->n++;
            out->total += nlen + vlen;
        }
        if (out->total > GW_MAX_USER_METADATA) {
            *err = GW_S3_METADATA_TOO_LARGE;
            rc = CAIRN_E_RANGE;
            goto err;
        }
    }
    return 0;
nomem:
    *err = GW_S3_INTERNAL_ERROR;
    rc = CAIRN_E_NOMEM;
err:
    gw_meta_free(out);
    return rc;
}

/* ---- Content-MD5 ----------------------------------------------------- */

int gw_content_md5_parse(const char *hdr, unsigned char md5[16])
{
    if (!hdr)
        return CAIRN_E_INVAL;
    while (*hdr == ' ' || *hdr == '\t')
        hdr++;
    size_t len = strlen(hdr);
    while (len && (hdr[len - 1] == ' ' || hdr[len - 1] == '\t'))
        len--;
    if (len != 24 || hdr[22] != '=' || hdr[23] != '=')
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < 22; i++) {
        char c = hdr[i];
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/'))
            return CAIRN_E_INVAL;
    }
    unsigned char tmp[18];
    if (EVP_DecodeBlock(tmp, (const unsigned char *)hdr, 24) != 18)
        return CAIRN_E_INVAL;
    memcpy(md5, tmp, 16);
    return 0;
}

/* ---- storage classes ------------------------------------------------- */

/* The one mapping from S3 storage classes to erasure-coding schemes. The
 * first entry is the default (absent header). */
static const struct gw_storage_class storage_classes[] = {
    {"STANDARD", "rs-4-2", 4, 2},           /* any 2 of 6 lost; 1.5x */
    {"REDUCED_REDUNDANCY", "rs-2-1", 2, 1}, /* any 1 of 3 lost; 1.5x, fewer servers */
    {"STANDARD_IA", "rs-8-3", 8, 3},        /* any 3 of 11 lost; 1.375x, wide stripes */
};

const struct gw_storage_class *gw_storage_class_lookup(const char *name)
{
    if (!name || !*name)
        return &storage_classes[0];
    for (size_t i = 0; i < sizeof(storage_classes) / sizeof(storage_classes[0]); i++)
        if (strcmp(storage_classes[i].name, name) == 0)
            return &storage_classes[i];
    return NULL;
}

const struct gw_storage_class *gw_storage_class_for_scheme(int k, int m)
{
    for (size_t i = 0; i < sizeof(storage_classes) / sizeof(storage_classes[0]); i++)
        if (storage_classes[i].k == k && storage_classes[i].m == m)
            return &storage_classes[i];
    return &storage_classes[0];
}

/* ---- ETags ----------------------------------------------------------- */

int gw_multipart_etag(const unsigned char (*part_md5)[16], size_t n, char out[48])
{
    if (!part_md5 || n < 1 || n > 10000)
        return CAIRN_E_INVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[16];
    unsigned int mdlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, part_md5[i], 16);
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return CAIRN_E_NOMEM;
    char hex[33];
    cn_hex_encode(md, 16, hex);
    snprintf(out, 48, "%s-%zu", hex, n);
    return 0;
}

int gw_multipart_etag_hex(const char *const *part_etags, size_t n, char out[48])
{
    if (!part_etags || n < 1 || n > 10000)
        return CAIRN_E_INVAL;
    unsigned char(*md5s)[16] = malloc(n * 16);
    if (!md5s)
        return CAIRN_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *e = part_etags[i];
        size_t len = e ? strlen(e) : 0;
        if (len == 34 && e[0] == '"' && e[33] == '"') {
            e++;
            len = 32;
        }
        char hex[33];
        if (len != 32) {
            rc = CAIRN_E_INVAL;
            break;
        }
        memcpy(hex, e, 32);
        hex[32] = '\0';
        rc = cn_hex_decode(hex, md5s[i], 16);
    }
    if (rc == 0)
        rc = gw_multipart_etag((const unsigned char(*)[16])md5s, n, out);
    free(md5s);
    return rc;
}

int gw_content_encoding_strip_aws_chunked(const char *hdr, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return CAIRN_E_RANGE;
    out[0] = '\0';
    const char *p = hdr ? hdr : "";
    /* Each kept coding goes out as the client spelled it, with the
     * separator that came before it in the header. */
    const char *sep = NULL, *prev_end = NULL;
    while (*p) {
        const char *tok_sep = prev_end ? prev_end : p;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (!len)
            continue;
        sep = tok_sep;
        prev_end = start + len;
        if (len == 11 && strncasecmp(start, "aws-chunked", 11) == 0)
            continue;
        size_t sl = o ? (size_t)(start - sep) : 0;
        if (o + sl + len + 1 > cap)
            return CAIRN_E_RANGE;
        memcpy(out + o, sep, sl);
        o += sl;
        memcpy(out + o, start, len);
        o += len;
        out[o] = '\0';
    }
    return (int)o;
}

/* ---- list and multipart parameters ----------------------------------- */

/* Parses a whole string as a decimal long (optional '-'). */
static int parse_long(const char *s, long *out)
{
    if (!s || !*s)
        return CAIRN_E_INVAL;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return CAIRN_E_INVAL;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return CAIRN_E_INVAL;
        long d = *p - '0';
        v = v > (LONG_MAX - d) / 10 ? LONG_MAX : v * 10 + d; /* saturate: callers clamp */
    }
    *out = s[0] == '-' ? -v : v;
    return 0;
}

int gw_query_int(const struct gw_query *q, const char *name, long def, long min, long max,
                 long *out, enum gw_s3err *err)
{
    *err = GW_S3_OK;
    const char *v = gw_query_get(q, name);
    if (!v) {
        *out = def;
        return 0;
    }
    long x;
    if (parse_long(v, &x) || x < min) {
        *err = GW_S3_INVALID_ARGUMENT;
        return CAIRN_E_INVAL;
    }
    *out = x > max ? max : x;
    return 0;
}

int gw_part_number_parse(const char *s, int *out, enum gw_s3err *err)
{
    long x;
    *err = GW_S3_OK;
    if (parse_long(s, &x) || x < 1 || x > 10000) {
        *err = GW_S3_INVALID_ARGUMENT;
        return CAIRN_E_INVAL;
    }
    *out = (int)x;
    return 0;
}

int gw_encoding_type_parse(const char *value, int *encode_url, enum gw_s3err *err)
{
    *err = GW_S3_OK;
    *encode_url = 0;
    if (!value)
        return 0;
    if (strcmp(value, "url") == 0) {
        *encode_url = 1;
        return 0;
    }
    *err = GW_S3_INVALID_ARGUMENT;
    return CAIRN_E_INVAL;
}

/* ---- copy requests --------------------------------------------------- */

int gw_copy_source_parse(const char *hdr, struct gw_copy_source *out, enum gw_s3err *err)
{
    memset(out, 0, sizeof(*out));
    *err = GW_S3_INVALID_ARGUMENT;
    if (!hdr || !*hdr)
        return CAIRN_E_INVAL;
    size_t len = strlen(hdr);
    const char *q = strchr(hdr, '?');
    if (q) {
        len = (size_t)(q - hdr);
        if (strncmp(q + 1, "versionId=", 10) != 0)
            return CAIRN_E_INVAL;
        if (gw_url_decode(q + 11, strlen(q + 11), out->version_id, sizeof(out->version_id), 0) < 0)
            return CAIRN_E_INVAL;
    }
    char *dec = malloc(len + 1);
    if (!dec) {
        *err = GW_S3_INTERNAL_ERROR;
        return CAIRN_E_NOMEM;
    }
    int n = gw_url_decode(hdr, len, dec, len + 1, 0);
    int rc = CAIRN_E_INVAL;
    if (n < 0)
        goto out;
    const char *p = dec[0] == '/' ? dec + 1 : dec;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1])
        goto out;
    size_t blen = (size_t)(slash - p);
    if (blen > GW_MAX_BUCKET_NAME) {
        *err = GW_S3_INVALID_BUCKET_NAME;
        goto out;
    }
    size_t klen = strlen(slash + 1);
    if (klen > GW_MAX_KEY) {
        *err = GW_S3_KEY_TOO_LONG;
        goto out;
    }
    for (size_t i = 0; i < klen;) {
        size_t seq = gw_utf8_seq_len(slash + 1 + i, klen - i);
        if (seq == 0)
            goto out; /* not UTF-8: InvalidArgument */
        i += seq;
    }
    memcpy(out->bucket, p, blen);
    out->bucket[blen] = '\0';
    strcpy(out->key, slash + 1);
    *err = GW_S3_OK;
    rc = 0;
out:
    free(dec);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

int gw_copy_source_range_parse(const char *hdr, uint64_t size, struct gw_range *out,
                               enum gw_s3err *err)
{
    *err = GW_S3_INVALID_ARGUMENT;
    if (!hdr || strncmp(hdr, "bytes=", 6) != 0)
        return CAIRN_E_INVAL;
    uint64_t a, b;
    const char *p = hdr + 6;
    size_t n = cn_scan_u64(p, &a);
    if (!n || p[n] != '-')
        return CAIRN_E_INVAL;
    p += n + 1;
    size_t m = cn_scan_u64(p, &b);
    if (!m || p[m] != '\0' || b < a)
        return CAIRN_E_INVAL;
    if (b >= size)
        return CAIRN_E_RANGE; /* well-formed, but past the source */
    out->first = a;
    out->last = b;
    *err = GW_S3_OK;
    return 0;
}

int gw_metadata_directive_parse(const char *hdr, int *replace, enum gw_s3err *err)
{
    *err = GW_S3_OK;
    *replace = 0;
    if (!hdr || strcmp(hdr, "COPY") == 0)
        return 0;
    if (strcmp(hdr, "REPLACE") == 0) {
        *replace = 1;
        return 0;
    }
    *err = GW_S3_INVALID_ARGUMENT;
    return CAIRN_E_INVAL;
}

void gw_content_range_format(const struct gw_range *r, uint64_t size, char out[64])
{
    if (r)
        snprintf(out, 64, "bytes %llu-%llu/%llu", (unsigned long long)r->first,
                 (unsigned long long)r->last, (unsigned long long)size);
    else
        snprintf(out, 64, "bytes */%llu", (unsigned long long)size);
}

int gw_object_attributes_parse(const char *h, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"ETag", GW_ATTR_ETAG},
                 {"Checksum", GW_ATTR_CHECKSUM},
                 {"ObjectParts", GW_ATTR_PARTS},
                 {"StorageClass", GW_ATTR_STORAGE_CLASS},
                 {"ObjectSize", GW_ATTR_SIZE}};
    *out = 0;
    if (!h)
        return CAIRN_E_INVAL;
    unsigned mask = 0;
    const char *p = h;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t > 0) {
            unsigned bit = 0;
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i].name) == t && strncmp(p, names[i].name, t) == 0)
                    bit = names[i].bit;
            if (!bit)
                return CAIRN_E_INVAL;
            mask |= bit;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    if (!mask)
        return CAIRN_E_INVAL;
    *out = mask;
    return 0;
}
