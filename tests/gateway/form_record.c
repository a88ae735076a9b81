#include "form_record.h"

#include "gw_form.h"

#include <stdio.h>

static int rec_field(void *ctx, const char *name, const char *value, size_t len)
{
    struct gw_buf *log = ctx;
    gw_buf_printf(log, "F %s=", name);
    gw_buf_append(log, value, len);
    gw_buf_puts(log, "\n");
    return 0;
}

static int rec_begin(void *ctx, const char *filename, const char *ct)
{
    gw_buf_printf(ctx, "B %s|%s\n", filename, ct ? ct : "(none)");
    return 0;
}

static int rec_data(void *ctx, const void *data, size_t len)
{
    /* Data runs may split anywhere: log the bytes, not the runs. */
    gw_buf_append(ctx, data, len);
    return 0;
}

static int rec_end(void *ctx)
{
    gw_buf_puts(ctx, "\nE\n");
    return 0;
}

int form_record(const char *b, size_t max_pre, const void *body, size_t len, const size_t *splits,
                size_t n_splits, struct gw_buf *log)
{
    static const struct gw_form_cb cb = {rec_field, rec_begin, rec_data, rec_end};
    struct gw_form *f;
    int rc = gw_form_new(b, max_pre, &cb, log, &f);
    if (rc) {
        gw_buf_printf(log, "rc=%d\n", rc);
        return rc;
    }
    const unsigned char *p = body;
    size_t off = 0, k = 0;
    while (off < len && rc == 0) {
        size_t n = n_splits ? splits[k++ % n_splits] : len;
        if (n == 0)
            n = 1;
        if (n > len - off)
            n = len - off;
        rc = gw_form_feed(f, p + off, n);
        off += n;
    }
    if (rc == 0)
        rc = gw_form_finish(f);
    gw_buf_printf(log, "rc=%d\n", rc);
    gw_form_free(f);
    return rc;
}
