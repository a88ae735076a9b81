/* A growable byte buffer for building response bodies (XML, error documents)
 * with a hard size cap. Errors are sticky: after the first failed append
 * (allocation failure or cap reached) every later append is a no-op and
 * gw_buf_error() reports the failure, so builders check once at the end.
 *
 * struct gw_buf is a value type (embed it, gw_buf_init it, gw_buf_free it);
 * one buffer belongs to one thread at a time. */
#ifndef CAIRN_GW_BUF_H
#define CAIRN_GW_BUF_H

#include <stddef.h>

#define GW_BUF_DEFAULT_MAX (16u << 20) /* 16 MiB */

struct gw_buf {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    size_t max; /* the content never exceeds max bytes */
    int err;    /* 0 or the first CAIRN_E_* hit (CAIRN_E_NOMEM, CAIRN_E_RANGE) */
};

/* Initializes an empty buffer that may grow to max bytes (0 means
 * GW_BUF_DEFAULT_MAX). Allocates nothing. */
void gw_buf_init(struct gw_buf *b, size_t max);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void gw_buf_free(struct gw_buf *b);
/* Empties the buffer (keeps its storage) and clears the sticky error. */
void gw_buf_reset(struct gw_buf *b);
/* Allocates room for extra more bytes now (a body of known length, taken in
 * one allocation rather than grown). Returns 0 or sets and returns the
 * buffer's error. */
int gw_buf_reserve(struct gw_buf *b, size_t extra);
/* 0, or the sticky CAIRN_E_* of the first failed append. */
int gw_buf_error(const struct gw_buf *b);
/* Hands the content to the caller (who frees it) and leaves the buffer empty.
 * Returns NULL if the buffer is in error (the content is freed) or empty and
 * unallocated; *len receives the length. */
char *gw_buf_take(struct gw_buf *b, size_t *len);

/* Appends len raw bytes. */
void gw_buf_append(struct gw_buf *b, const void *data, size_t len);
/* Appends a NUL-terminated string. */
void gw_buf_puts(struct gw_buf *b, const char *s);
/* Appends printf-formatted text. */
void gw_buf_printf(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[len] escaped for XML character data and attribute values
 * (& < > " ' and tab/LF/CR become references; what XML 1.0 cannot carry at
 * all -- other control characters, invalid UTF-8, U+FFFE/U+FFFF -- is
 * written as U+FFFD, so the document is always well-formed). */
void gw_buf_xml_escape(struct gw_buf *b, const char *s, size_t len);

/* Length (1..4) of the valid UTF-8 sequence at s[0..len) that encodes an
 * XML 1.0-allowed code point above U+001F or any ASCII byte, or 0 if the
 * bytes there are not valid UTF-8 (overlong, surrogate, truncated, > U+10FFFF,
 * U+FFFE/U+FFFF). */
size_t gw_utf8_seq_len(const char *s, size_t len);

#endif
