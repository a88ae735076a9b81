#include "gw_buf.h"

#include "cn_error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_buf_init(struct gw_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : GW_BUF_DEFAULT_MAX;
}

void gw_buf_free(struct gw_buf *b)
{
    size_t max = b->max;
    free(b->data);
    gw_buf_init(b, max);
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

int gw_buf_error(const struct gw_buf *b)
{
    return b->err;
}

char *gw_buf_take(struct gw_buf *b, size_t *len)
{
    char *d = b->data;
    if (b->err) {
        free(d);
        d = NULL;
    }
    if (len)
        *len = d ? b->len : 0;
    size_t max = b->max;
    gw_buf_init(b, max);
    return d;
}

/* Makes room for extra more bytes plus a NUL. Returns 0 or sets b->err. */
static int reserve(struct gw_buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra > b->max || b->len > b->max - extra) {
        b->err = CAIRN_E_RANGE;
        return b->err;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->err = CAIRN_E_NOMEM;
        return b->err;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int gw_buf_reserve(struct gw_buf *b, size_t extra)
{
    return reserve(b, extra);
}

void gw_buf_append(struct gw_buf *b, const void *data, size_t len)
{
    if (reserve(b, len))
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void gw_buf_puts(struct gw_buf *b, const char *s)
{
    gw_buf_append(b, s, strlen(s));
}

void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    if (b->err)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = CAIRN_E_INVAL;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        gw_buf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t gw_utf8_seq_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0; /* overlong, out of range, surrogate, or not an XML character */
    return n;
}

void gw_buf_xml_escape(struct gw_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[8];
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        case '\t':
        case '\n':
        case '\r':
            /* Kept as references: a parser would normalize raw CR/LF/TAB
             * in attribute values and CR in text. */
            snprintf(num, sizeof(num), "&#%u;", c);
            rep = num;
            break;
        default:
            if (c < 0x20) {
                rep = "\xEF\xBF\xBD"; /* U+FFFD: not representable in XML 1.0 */
            } else if (c >= 0x80) {
                size_t n = gw_utf8_seq_len(s + i, len - i);
                if (n > 0) {
                    i += n - 1; /* a valid character: copied as is */
                    continue;
                }
                rep = "\xEF\xBF\xBD"; /* invalid UTF-8 byte */
            }
            break;
        }
        if (!rep)
            continue;
        gw_buf_append(b, s + start, i - start);
        gw_buf_puts(b, rep);
        start = i + 1;
    }
    gw_buf_append(b, s + start, len - start);
}
