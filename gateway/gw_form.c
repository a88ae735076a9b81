/* Streaming multipart/form-data (gw_form.h). The delimiter is
 * "\r\n--" boundary; a boundary holds no CR (RFC 2046's characters), so a
 * partial match that fails never overlaps a new one except at a CR, and the
 * scan needs no more state than the length of the match so far. */
#include "gw_form.h"

#include "cn_error.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
    S_PREAMBLE,    /* before the first delimiter: discarded */
    S_AFTER_DELIM, /* "--" (the end) or transport padding then CRLF */
    S_AFTER_DASH,  /* one '-' seen */
    S_AFTER_CR,    /* CR seen: LF starts the part headers */
    S_HEADERS,     /* a part's header block, up to an empty line */
    S_BODY,        /* a part's content */
    S_EPILOGUE,    /* after the closing delimiter: discarded */
};

enum part { P_NONE, P_FIELD, P_FILE, P_IGNORED };

struct gw_form {
    struct gw_form_cb cb;
    void *ctx;
    char delim[4 + GW_FORM_MAX_BOUNDARY + 1];
    size_t dlen;
    size_t m; /* delimiter bytes matched so far */
    enum state st;
    enum part part;
    int err;
    int file_seen;
    size_t max_pre, pre; /* bytes of headers and values before the file */
    char *hdr;           /* the current header block */
    size_t hlen;
    char name[256]; /* the current field's name */
    char *val;      /* the current field's value */
    size_t vlen, vcap;
};

int gw_form_file_seen(const struct gw_form *f)
{
    return f->file_seen;
}

static int bchar(int c)
{
    return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL;
}

int gw_form_boundary(const char *ct, char out[GW_FORM_MAX_BOUNDARY + 1])
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0)
        return CAIRN_E_INVAL;
    const char *p = ct + 19;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return CAIRN_E_INVAL;
        size_t nl = (size_t)(eq - p);
        while (nl && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
            nl--;
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char val[GW_FORM_MAX_BOUNDARY + 2];
        size_t vl = 0;
        if (*v == '"') {
            v++;
            while (*v && *v != '"') {
                if (*v == '\\' && v[1])
                    v++;
                if (vl > GW_FORM_MAX_BOUNDARY)
                    return CAIRN_E_INVAL;
                val[vl++] = *v++;
            }
            if (*v != '"')
                return CAIRN_E_INVAL;
            v++;
        } else {
            while (*v && *v != ';' && *v != ' ' && *v != '\t') {
                if (vl > GW_FORM_MAX_BOUNDARY)
                    return CAIRN_E_INVAL;
                val[vl++] = *v++;
            }
        }
        val[vl] = '\0';
        if (nl == 8 && strncasecmp(p, "boundary", 8) == 0) {
            if (vl == 0 || vl > GW_FORM_MAX_BOUNDARY || val[vl - 1] == ' ')
                return CAIRN_E_INVAL;
            for (size_t i = 0; i < vl; i++)
                if (!bchar((unsigned char)val[i]))
                    return CAIRN_E_INVAL;
            memcpy(out, val, vl + 1);
            return 0;
        }
        p = v;
        while (*p && *p != ';')
            p++;
    }
    return CAIRN_E_INVAL;
}

int gw_form_new(const char *boundary, size_t max_pre, const struct gw_form_cb *cb, void *ctx,
                struct gw_form **out)
{
    size_t bl = boundary ? strlen(boundary) : 0;
    if (bl == 0 || bl > GW_FORM_MAX_BOUNDARY || !cb)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < bl; i++)
        if (!bchar((unsigned char)boundary[i]))
            return CAIRN_E_INVAL;
    struct gw_form *f = calloc(1, sizeof(*f));
    if (!f)
        return CAIRN_E_NOMEM;
    f->hdr = malloc(GW_FORM_MAX_HEADER);
    if (!f->hdr) {
        free(f);
        return CAIRN_E_NOMEM;
    }
    f->cb = *cb;
    f->ctx = ctx;
    memcpy(f->delim, "\r\n--", 4);
    memcpy(f->delim + 4, boundary, bl + 1);
    f->dlen = 4 + bl;
    f->max_pre = max_pre;
    f->st = S_PREAMBLE;
    f->m = 2; /* the body starts with the delimiter less its CRLF */
    *out = f;
    return 0;
}

void gw_form_free(struct gw_form *f)
{
    if (!f)
        return;
    free(f->hdr);
    free(f->val);
    free(f);
}

/* Counts n more bytes before the file against max_pre. */
static int charge(struct gw_form *f, size_t n)
{
    if (f->file_seen)
        return 0;
    if (n > f->max_pre - f->pre)
        return CAIRN_E_RANGE;
    f->pre += n;
    return 0;
}

/* Content bytes of the current part. */
static int emit(struct gw_form *f, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    switch (f->part) {
    case P_FILE:
        return f->cb.file_data ? f->cb.file_data(f->ctx, data, n) : 0;
    case P_FIELD: {
        int rc = charge(f, n);
        if (rc)
            return rc;
        if (f->vlen + n + 1 > f->vcap) {
            size_t cap = f->vcap ? f->vcap : 256;
            while (cap < f->vlen + n + 1)
                cap *= 2;
            char *v = realloc(f->val, cap);
            if (!v)
                return CAIRN_E_NOMEM;
            f->val = v;
            f->vcap = cap;
        }
        memcpy(f->val + f->vlen, data, n);
        f->vlen += n;
        return 0;
    }
    default:
        return 0; /* preamble, or a part after the file */
    }
}

/* The end of the current part (its closing delimiter arrived). */
static int part_end(struct gw_form *f)
{
    int rc = 0;
    if (f->part == P_FIELD && f->cb.field) {
        char empty = '\0';
        if (f->val)
            f->val[f->vlen] = '\0';
        rc = f->cb.field(f->ctx, f->name, f->val ? f->val : &empty, f->vlen);
    } else if (f->part == P_FILE && f->cb.file_end) {
        rc = f->cb.file_end(f->ctx);
    }
    f->part = P_NONE;
    f->vlen = 0;
    return rc;
}

/* Copies parameter `param` of a Content-Disposition value into out[cap]
 * (quotes and backslash escapes removed). Returns 1 if present, 0 if not,
 * -1 if malformed or too long. */
static int disposition_param(const char *v, const char *param, char *out, size_t cap)
{
    size_t pl = strlen(param);
    const char *p = strchr(v, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        if (!eq || (semi && semi < eq))
            return -1;
        size_t nl = (size_t)(eq - p);
        while (nl && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
            nl--;
        const char *q = eq + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        size_t n = 0;
        const char *next;
        if (*q == '"') {
            q++;
            while (*q && *q != '"') {
                if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
                    q++;
                if (n + 1 >= cap)
                    return -1;
                out[n++] = *q++;
            }
            if (*q != '"')
                return -1;
            next = strchr(q + 1, ';');
        } else {
            while (*q && *q != ';') {
                if (n + 1 >= cap)
                    return -1;
                out[n++] = *q++;
            }
            while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
                n--;
            next = *q == ';' ? q : NULL;
        }
        out[n] = '\0';
        if (nl == pl && strncasecmp(p, param, pl) == 0)
            return 1;
        p = next;
    }
    return 0;
}

/* The header block of a part is complete (f->hdr[f->hlen], the final empty
 * line excluded): decide what the part is. */
static int headers_done(struct gw_form *f)
{
    char disp[GW_FORM_MAX_HEADER] = "", ctype[256] = "";
    int have_disp = 0, have_ct = 0;
    f->hdr[f->hlen] = '\0';
    char *line = f->hdr;
    while (*line) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            return CAIRN_E_INVAL;
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            return CAIRN_E_INVAL;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (have_disp++ || vl >= sizeof(disp))
                return CAIRN_E_INVAL;
            memcpy(disp, v, vl + 1);
        } else if (strcasecmp(line, "Content-Type") == 0) {
            if (have_ct++ || vl >= sizeof(ctype))
                return CAIRN_E_INVAL;
            memcpy(ctype, v, vl + 1);
        }
        line = eol + 2;
    }
    if (f->file_seen) {
        f->part = P_IGNORED; /* S3 ignores what follows the file */
        return 0;
    }
    if (!have_disp || strncasecmp(disp, "form-data", 9) != 0 ||
        (disp[9] != '\0' && disp[9] != ';' && disp[9] != ' ' && disp[9] != '\t'))
        return CAIRN_E_INVAL;
    if (disposition_param(disp, "name", f->name, sizeof(f->name)) != 1)
        return CAIRN_E_INVAL;
    if (strcasecmp(f->name, "file") != 0) {
        f->part = P_FIELD;
        return 0;
    }
    char filename[1024] = "";
    if (disposition_param(disp, "filename", filename, sizeof(filename)) < 0)
        return CAIRN_E_INVAL;
    f->part = P_FILE;
    f->file_seen = 1;
    return f->cb.file_begin ? f->cb.file_begin(f->ctx, filename, have_ct ? ctype : NULL) : 0;
}

/* Scans p[n] for the delimiter, emitting content. Returns 0 with *used and
 * *found (the delimiter ended within p), or an error. */
static int scan(struct gw_form *f, const unsigned char *p, size_t n, size_t *used, int *found)
{
    size_t i = 0;
    *found = 0;
    while (i < n) {
        if (f->m == 0) {
            const unsigned char *cr = memchr(p + i, '\r', n - i);
            size_t end = cr ? (size_t)(cr - p) : n;
            int rc = emit(f, p + i, end - i);
            if (rc)
                return rc;
            i = end;
            if (!cr)
                break;
            f->m = 1;
            i++;
            continue;
        }
        if (p[i] == (unsigned char)f->delim[f->m]) {
            i++;
            if (++f->m == f->dlen) {
                f->m = 0;
                *found = 1;
                break;
            }
            continue;
        }
        /* A partial match that failed: those bytes were content (in the
         * preamble the virtual CRLF is dropped with the rest). p[i] is
         * looked at again from an empty match. */
        int rc = emit(f, f->delim, f->m);
        f->m = 0;
        if (rc)
            return rc;
    }
    *used = i;
    return 0;
}

static int feed(struct gw_form *f, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int rc = 0;
        switch (f->st) {
        case S_PREAMBLE:
        case S_BODY: {
            size_t used;
            int found;
            rc = scan(f, p + i, n - i, &used, &found);
            i += used;
            if (rc == 0 && found) {
                rc = part_end(f);
                f->st = S_AFTER_DELIM;
            }
            break;
        }
        case S_AFTER_DELIM:
            if (p[i] == '-')
                f->st = S_AFTER_DASH;
            else if (p[i] == '\r')
                f->st = S_AFTER_CR;
            else if (p[i] != ' ' && p[i] != '\t')
                rc = CAIRN_E_INVAL;
            i++;
            break;
        case S_AFTER_DASH:
            if (p[i++] != '-')
                rc = CAIRN_E_INVAL;
            f->st = S_EPILOGUE;
            break;
        case S_AFTER_CR:
            if (p[i++] != '\n')
                rc = CAIRN_E_INVAL;
            f->st = S_HEADERS;
            f->hlen = 0;
            break;
        case S_HEADERS: {
            /* up to an empty line: "\r\n" first, or "\r\n\r\n" */
            unsigned char c = p[i++];
            if (f->hlen + 2 > GW_FORM_MAX_HEADER) {
                rc = f->file_seen ? CAIRN_E_INVAL : CAIRN_E_RANGE;
                break;
            }
            rc = charge(f, 1);
            if (rc)
                break;
            f->hdr[f->hlen++] = (char)c;
            if (f->hlen == 2 && memcmp(f->hdr, "\r\n", 2) == 0) {
                f->hlen = 0;
                rc = headers_done(f);
                f->st = S_BODY;
            } else if (f->hlen >= 4 && memcmp(f->hdr + f->hlen - 4, "\r\n\r\n", 4) == 0) {
                f->hlen -= 2;
                rc = headers_done(f);
                f->st = S_BODY;
            }
            break;
        }
        case S_EPILOGUE:
            i = n;
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int gw_form_feed(struct gw_form *f, const void *data, size_t len)
{
    if (f->err)
        return f->err;
    int rc = feed(f, data, len);
    if (rc)
        f->err = rc;
    return rc;
}

int gw_form_finish(struct gw_form *f)
{
    if (f->err)
        return f->err;
    return f->st == S_EPILOGUE ? 0 : CAIRN_E_INVAL;
}
