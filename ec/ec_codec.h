/* Reed-Solomon erasure codec over ISA-L for any k data + m parity fragments
 * (1 <= k <= 32, 1 <= m <= 16). The coding matrix is Cauchy
 * (gf_gen_cauchy1_matrix), so every k x k submatrix is invertible: any k of
 * the k+m fragments reconstruct the rest, and a decode never silently returns
 * wrong bytes.
 *
 * Fragment numbering: 0..k-1 are data, k..k+m-1 parity. Sets of fragments are
 * bit masks (bit i = fragment i); k+m <= 48 fits in a uint64_t.
 *
 * Thread safety: an ec_codec is immutable after ec_codec_new except for its
 * decode-table cache, which is internally locked. Any number of threads may
 * call ec_encode / ec_decode on one codec concurrently. */
#ifndef CAIRN_EC_CODEC_H
#define CAIRN_EC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define EC_MAX_K     32
#define EC_MAX_M     16
#define EC_MAX_FRAGS (EC_MAX_K + EC_MAX_M)

typedef struct ec_codec ec_codec;

/* Creates a codec for k+m. Returns 0 and sets *out, CAIRN_E_INVAL for k or m
 * out of range (nothing allocated), CAIRN_E_NOMEM. Free with ec_codec_free. */
int ec_codec_new(int k, int m, ec_codec **out);
void ec_codec_free(ec_codec *codec);

int ec_codec_k(const ec_codec *codec);
int ec_codec_m(const ec_codec *codec);

/* Computes the m parity fragments of one stripe. data[0..k-1] are k buffers of
 * len bytes each (read only); parity[0..m-1] are m buffers of len bytes that
 * are overwritten. Buffers must not overlap. Returns 0 or CAIRN_E_INVAL. */
int ec_encode(const ec_codec *codec, size_t len, const uint8_t *const *data,
              uint8_t *const *parity);

/* Reconstructs fragments from any k present ones.
 *   frags[0..k+m-1]: one buffer of len bytes per fragment index. Entries for
 *     fragments in `present` are read; entries for fragments in `want` are
 *     written; other entries are not touched and may be NULL.
 *   present: the fragments whose bytes are valid. Only k of them are read: the
 *     lowest-numbered ones (data before parity, so the cheapest sources).
 *   want: the fragments to rebuild; bits also in `present` are ignored.
 * Returns 0; CAIRN_E_ERASURES if fewer than k fragments are present (nothing is
 * written: more than m erasures never yields data); CAIRN_E_INVAL for bits
 * beyond k+m or a NULL buffer that is needed; CAIRN_E_NOMEM. */
int ec_decode(ec_codec *codec, size_t len, uint8_t *const *frags, uint64_t present, uint64_t want);

/* Number of distinct erasure patterns whose decode tables are cached now. */
size_t ec_codec_cached_tables(ec_codec *codec);

/* For benchmarks and tests: the raw ISA-L encode tables (32*k*m bytes) that
 * ec_encode passes to ec_encode_data. Owned by the codec. */
const uint8_t *ec_codec_encode_tables(const ec_codec *codec);

#endif
