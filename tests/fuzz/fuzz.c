/* The input reader and helpers every harness shares (fuzz.h). */
#include "fuzz.h"

#include "cn_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
    memset(in, 0, sizeof(*in));
    in->p = data;
    in->n = size;
}

void fuzz_in_free(struct fuzz_in *in)
{
    for (size_t i = 0; i < in->n_owned; i++)
        free(in->owned[i]);
    free(in->owned);
    in->owned = NULL;
    in->n_owned = in->cap_owned = 0;
}

int fuzz_in_more(const struct fuzz_in *in)
{
    return in->n > 0;
}

/* Takes ownership of c (freed by fuzz_in_free). */
static void own(struct fuzz_in *in, char *c)
{
    if (in->n_owned == in->cap_owned) {
        size_t cap = in->cap_owned ? in->cap_owned * 2 : 16;
        void **np = realloc(in->owned, cap * sizeof(*np));
        if (!np)
            abort(); /* a harness cannot go on without its input */
        in->owned = np;
        in->cap_owned = cap;
    }
    in->owned[in->n_owned++] = c;
}

char *fuzz_alloc(struct fuzz_in *in, size_t n)
{
    char *c = calloc(1, n + 1);
    if (!c)
        abort();
    own(in, c);
    return c;
}

char *fuzz_strndup(struct fuzz_in *in, const void *s, size_t len)
{
    char *c = fuzz_alloc(in, len);
    if (len)
        memcpy(c, s, len);
    return c;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | (uint64_t)fuzz_u32(in) << 32;
}

char *fuzz_line(struct fuzz_in *in, size_t *len)
{
    const uint8_t *nl = in->n ? memchr(in->p, '\n', in->n) : NULL;
    size_t l = nl ? (size_t)(nl - in->p) : in->n;
    char *s = fuzz_strndup(in, in->p, l);
    size_t used = nl ? l + 1 : l;
    in->p += used;
    in->n -= used;
    if (len)
        *len = l;
    return s;
}

char *fuzz_bytes(struct fuzz_in *in, size_t n, size_t *len)
{
    size_t l = n < in->n ? n : in->n;
    char *s = fuzz_strndup(in, in->p, l);
    in->p += l;
    in->n -= l;
    if (len)
        *len = l;
    return s;
}

char *fuzz_rest(struct fuzz_in *in, size_t *len)
{
    return fuzz_bytes(in, in->n, len);
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: fuzz invariant broken: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fuzz_quiet_logs(void)
{
    /* Above CN_LOG_ERROR: nothing is printed. */
    cn_log_set_level((enum cn_log_level)(CN_LOG_ERROR + 1));
}
