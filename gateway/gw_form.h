/* A streaming multipart/form-data parser (RFC 7578) for S3 POST object
 * uploads: the fields before the file part are small and gathered in memory
 * (bounded by max_pre bytes of part headers and values together), the file
 * part is handed on as it arrives and never held. As S3 does, the part named
 * "file" is the file; the parts after it are read and ignored.
 *
 * The input is network bytes: any split of the body into feeds gives the
 * same callbacks (tests feed one byte at a time), and malformed input is an
 * error, never a crash or an over-read (tests/fuzz/fuzz_post_form.c).
 *
 * One parser belongs to one request (one thread at a time). Pure: no I/O. */
#ifndef CAIRN_GW_FORM_H
#define CAIRN_GW_FORM_H

#include <stddef.h>

#define GW_FORM_MAX_BOUNDARY 70   /* RFC 2046 */
#define GW_FORM_MAX_HEADER   8192 /* bytes of one part's header block */

/* What the parser reports, in body order. Each returns 0 to go on or a
 * negative CAIRN_E_* code that stops the parser (gw_form_feed returns it). */
struct gw_form_cb {
    /* A field before the file part: its name and value[len] (NUL-terminated
     * for convenience; may hold other NULs). Both valid during the call. */
    int (*field)(void *ctx, const char *name, const char *value, size_t len);
    /* The file part starts: the filename its Content-Disposition gives (""
     * when none) and its Content-Type (NULL when none). */
    int (*file_begin)(void *ctx, const char *filename, const char *content_type);
    /* The next bytes of the file, in order. */
    int (*file_data)(void *ctx, const void *data, size_t len);
    /* The file part ended (its closing delimiter arrived). */
    int (*file_end)(void *ctx);
};

struct gw_form;

/* The boundary of a "multipart/form-data; boundary=..." Content-Type value
 * (quoted or not) into out[GW_FORM_MAX_BOUNDARY + 1]. Returns 0, or
 * CAIRN_E_INVAL when the type is not multipart/form-data or the boundary is
 * missing or not of RFC 2046's characters. */
int gw_form_boundary(const char *content_type, char out[GW_FORM_MAX_BOUNDARY + 1]);

/* A parser for a body with boundary; cb (copied) and ctx are used by every
 * feed. max_pre bounds the header and value bytes of the parts before the
 * file. Returns 0 with *out (gw_form_free it), CAIRN_E_INVAL (a bad
 * boundary) or CAIRN_E_NOMEM. */
int gw_form_new(const char *boundary, size_t max_pre, const struct gw_form_cb *cb, void *ctx,
                struct gw_form **out);

/* Feeds the next len body bytes. Returns 0, CAIRN_E_INVAL (malformed:
 * MalformedPOSTRequest), CAIRN_E_RANGE (the parts before the file exceed
 * max_pre: MaxPostPreDataLengthExceeded) or a callback's error. Errors are
 * sticky: later feeds return the same code and call nothing. */
int gw_form_feed(struct gw_form *f, const void *data, size_t len);

/* After the last byte: 0 if the closing delimiter arrived, else
 * CAIRN_E_INVAL (a truncated body), or the sticky error. */
int gw_form_finish(struct gw_form *f);

/* 1 once the file part has begun. */
int gw_form_file_seen(const struct gw_form *f);

void gw_form_free(struct gw_form *f);

#endif
