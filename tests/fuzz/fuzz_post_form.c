/* Harness post_form: the multipart/form-data parser of browser POST uploads
 * (gateway/gw_form.c) and its boundary parser.
 *
 * Input: one byte choosing how the body is split into feeds, then the body
 * (boundary "XbX"); the body's first line is also tried as a Content-Type.
 * Oracles: the callbacks are the same whether the body arrives whole or in
 * pieces; a small pre-data cap never makes a form that parsed under the
 * large cap fail any other way than with CAIRN_E_RANGE; a boundary
 * gw_form_boundary accepts is one gw_form_new takes. */
#include "fuzz.h"

#include "form_record.h"
#include "gw_form.h"

#include "cn_error.h"

#include <stdint.h>
#include <string.h>

#define BOUNDARY "XbX"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0];
    const uint8_t *body = data + 1;
    size_t len = size - 1;

    struct gw_buf whole, split, small;
    gw_buf_init(&whole, 0);
    gw_buf_init(&split, 0);
    gw_buf_init(&small, 0);
    int rc_whole = form_record(BOUNDARY, 4096, body, len, NULL, 0, &whole);
    size_t splits[4] = {1 + (seed & 7), 1 + (seed >> 3), 2, 1 + (size_t)seed};
    int rc_split = form_record(BOUNDARY, 4096, body, len, splits, 4, &split);
    fuzz_check(rc_whole == rc_split && gw_buf_error(&whole) == gw_buf_error(&split) &&
                   whole.len == split.len &&
                   (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0),
               "whole and split feeds differ (rc %d / %d)", rc_whole, rc_split);
    /* A cap of 64 bytes: the same form fails, if at all, by going over it. */
    int rc_small = form_record(BOUNDARY, 64, body, len, splits, 4, &small);
    fuzz_check(rc_whole != 0 || rc_small == 0 || rc_small == CAIRN_E_RANGE,
               "a form that parsed fails under a small cap with %d", rc_small);
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
        fuzz_check(gw_form_new(b, 16, &none, NULL, &f) == 0,
                   "a boundary gw_form_boundary gave is refused: %s", b);
        gw_form_free(f);
    }
    return 0;
}
