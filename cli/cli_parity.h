/* cli_parity: is one window of a chunk group consistent, and if not, which
 * fragment is wrong? For `cairn scrub --deep`. Pure computation over
 * buffers the caller read (no I/O, no clock); one object per thread.
 *
 * The check re-encodes the k data fragments and compares the result with
 * the m parity fragments. When they disagree, each fragment in turn is
 * treated as erased, rebuilt from the others, and the whole window checked
 * again: the damaged fragment is the only one whose replacement makes every
 * fragment agree. With m == 1, or with two or more fragments damaged in the
 * window, no single fragment explains the mismatch and none is named. */
#ifndef CAIRN_CLI_PARITY_H
#define CAIRN_CLI_PARITY_H

#include <stddef.h>
#include <stdint.h>

struct cli_parity;

/* For a k+m scheme and windows of at most len_max bytes per fragment.
 * Returns 0 and *out, CAIRN_E_INVAL (k, m or len_max out of range) or
 * CAIRN_E_NOMEM. */
int cli_parity_new(int k, int m, size_t len_max, struct cli_parity **out);
void cli_parity_free(struct cli_parity *p);

/* frags[0..k+m-1]: the same window (len bytes, len <= len_max) of every
 * fragment, data first; read only. Returns 0 when the parity matches the
 * data; 1 when it does not, with *bad set to the one fragment index that
 * explains it, or -1 when no single fragment does; CAIRN_E_INVAL. */
int cli_parity_check(struct cli_parity *p, const uint8_t *const *frags, size_t len, int *bad);

#endif
