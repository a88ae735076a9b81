/* Test helper shared by test_gw_form and the fuzz harness
 * (tests/fuzz/fuzz_post_form.c): runs gw_form over a body split into
 * pieces and records every callback into one text log, so two runs can be
 * compared byte for byte. */
#ifndef CAIRN_TEST_FORM_RECORD_H
#define CAIRN_TEST_FORM_RECORD_H

#include "gw_buf.h"

#include <stddef.h>

/* Parses body[len] (boundary b, max_pre) fed in pieces of the sizes
 * cycling through splits[n_splits] (0 entries count as 1); the log gets one
 * line per callback ("F name=value", "B filename|type", "D <bytes>", "E"),
 * then "rc=<feed or finish result>". Returns the final result. */
int form_record(const char *b, size_t max_pre, const void *body, size_t len, const size_t *splits,
                size_t n_splits, struct gw_buf *log);

#endif
