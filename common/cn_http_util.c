/* The pure helpers of the HTTP layer, declared in cn_http_server.h: the
 * status an error code answers with, and the Range header's parser and
 * Content-Range's formatter (used by servers and by the gateway's S3 GET). */
#include "cn_error.h"
#include "cn_http_server.h"
#include "cn_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- error / status mapping ---- */

unsigned cn_http_status_for_error(int err)
{
    switch (err) {
    case CAIRN_E_NOTFOUND:
        return 404;
    case CAIRN_E_EXISTS:
    case CAIRN_E_CONFLICT:
        return 409;
    case CAIRN_E_INVAL:
    case CAIRN_E_PROTO:
        return 400;
    case CAIRN_E_AUTH:
        return 401;
    case CAIRN_E_RANGE:
        return 416;
    case CAIRN_E_PRECOND:
        return 412;
    case CAIRN_E_BUSY:
    case CAIRN_E_UNAVAIL:
    case CAIRN_E_SHUTDOWN:
        return 503;
    case CAIRN_E_NOSPACE:
        return 507;
    case CAIRN_E_TIMEOUT:
        return 504;
    case CAIRN_E_NOTLEADER:
        return 421;
    case CAIRN_E_UNSUPPORTED:
        return 501;
    default:
        return 500;
    }
}

/* ---- range helper ---- */

int cn_http_parse_range(const char *header, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (!header)
        return CN_HTTP_RANGE_NONE;
    const char *p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes=", 6) != 0)
        return CN_HTTP_RANGE_NONE;
    p += 6;
    while (*p == ' ')
        p++;
    if (strchr(p, ','))
        return CN_HTTP_RANGE_NONE; /* multi-range: serve the whole body */
    uint64_t a = 0, b = 0;
    int have_a = 0, have_b = 0;
    if (*p != '-') {
        size_t n = cn_scan_u64(p, &a);
        if (!n)
            return CN_HTTP_RANGE_NONE;
        p += n;
        have_a = 1;
    }
    if (*p != '-')
        return CN_HTTP_RANGE_NONE;
    p++;
    if (*p >= '0' && *p <= '9') {
        size_t n = cn_scan_u64(p, &b);
        if (!n)
            return CN_HTTP_RANGE_NONE;
        p += n;
        have_b = 1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != 0 || (!have_a && !have_b))
        return CN_HTTP_RANGE_NONE;
    if (!have_a) {
        /* suffix range: last b bytes */
        if (b == 0 || size == 0)
            return CAIRN_E_RANGE;
        if (b > size)
            b = size;
        *off = size - b;
        *len = b;
        return 0;
    }
    if (have_b && b < a)
        return CN_HTTP_RANGE_NONE; /* invalid: ignore the header */
    if (a >= size)
        return CAIRN_E_RANGE;
    if (!have_b || b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 0;
}

char *cn_http_format_content_range(uint64_t off, uint64_t len, uint64_t size, char *buf,
                                   size_t buflen)
{
    if (len == 0)
        snprintf(buf, buflen, "bytes */%" PRIu64, size);
    else
        snprintf(buf, buflen, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
    return buf;
}
