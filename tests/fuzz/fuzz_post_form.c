/* libFuzzer harness for the multipart/form-data parser of POST uploads
 * (gateway/gw_form.c), the parser of network input that takes a browser's
 * form. Input: one byte choosing how the body is split into feeds, then the
 * body (boundary "XbX"). Invariants checked on every input, besides the
 * sanitizers' memory checks: the callbacks are the same whether the body
 * arrives whole or in pieces; a small pre-data cap never makes a form that
 * fit the large cap fail any other way than with CAIRN_E_RANGE; the
 * boundary parser accepts only what it can give back. */
#include "form_record.h"
#include "gw_form.h"

#include "cn_error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUNDARY "XbX"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0];
    const uint8_t *body = data + 1;
    size_t len = size - 1;

    struct gw_buf whole, split;
    gw_buf_init(&whole, 0);
    gw_buf_init(&split, 0);
    int rc_whole = form_record(BOUNDARY, 4096, body, len, NULL, 0, &whole);
    size_t splits[4] = {1 + (seed & 7), 1 + (seed >> 3), 2, 1 + seed};
    int rc_split = form_record(BOUNDARY, 4096, body, len, splits, 4, &split);
    if (rc_whole != rc_split || gw_buf_error(&whole) != gw_buf_error(&split) ||
        whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len) != 0)) {
        fprintf(stderr, "whole and split feeds differ (rc %d / %d)\n", rc_whole, rc_split);
        abort();
    }
    /* A cap of 64 bytes: the same form fails, if at all, by going over it. */
    struct gw_buf small;
    gw_buf_init(&small, 0);
    int rc_small = form_record(BOUNDARY, 64, body, len, splits, 4, &small);
    if (rc_whole == 0 && rc_small != 0 && rc_small != CAIRN_E_RANGE) {
        fprintf(stderr, "a form that parsed fails under a small cap with %d\n", rc_small);
        abort();
    }
    gw_buf_free(&whole);
    gw_buf_free(&split);
    gw_buf_free(&small);

    /* The body's first line as a Content-Type. */
    char ct[256];
    size_t n = 0;
    while (n < len && n < sizeof(ct) - 1 && body[n] != '\n' && body[n] != 0) {
        ct[n] = (char)body[n];
        n++;
    }
    ct[n] = '\0';
    char b[GW_FORM_MAX_BOUNDARY + 1];
    if (gw_form_boundary(ct, b) == 0) {
        struct gw_form *f = NULL;
        static const struct gw_form_cb none = {0};
        if (gw_form_new(b, 16, &none, NULL, &f) != 0) {
            fprintf(stderr, "a boundary gw_form_boundary gave is refused: %s\n", b);
            abort();
        }
        gw_form_free(f);
    }
    return 0;
}
