/* cs_compact: a fragment of a compacted packed group written from this
 * chunkserver's own fragment of the old group (issue #17, docs/chunkserver.md
 * "Compaction"). Stripes of a packed group are independent, so fragment i of
 * the new group is the concatenation of ranges of fragment i of the old one:
 * no decoding, no network. */
#ifndef CAIRN_CS_COMPACT_H
#define CAIRN_CS_COMPACT_H

#include "cs_store.h"

#include <stddef.h>
#include <stdint.h>

/* Most ranges one request may carry (the body stays under 1 MiB). */
#define CS_COMPACT_RANGES_MAX 32768
/* Largest request body. */
#define CS_COMPACT_BODY_MAX (1u << 20)

typedef struct cs_compact_range {
    uint64_t offset, length;
} cs_compact_range;

typedef struct cs_compact_req {
    uint8_t new_group[CS_GROUP_ID_LEN];
    uint8_t old_group[CS_GROUP_ID_LEN];
    cs_frag_meta meta; /* the new fragment: new group, index, k, m, unit, data_len = total */
    uint64_t rate;     /* bytes/s the copy keeps under (0: unpaced) */
    size_t n_ranges;
    cs_compact_range *ranges; /* malloc'ed: cs_compact_req_free */
} cs_compact_req;

/* Decodes a chunk.CompactRequest and checks it: 16-byte ids that differ, a
 * valid scheme and index, unit 512..64 KiB dividing 64 KiB, 1..
 * CS_COMPACT_RANGES_MAX ranges of whole units, non-empty, not overlapping,
 * their total within CS_FRAG_MAX_LEN. Returns 0 and *out (free with
 * cs_compact_req_free); CAIRN_E_PROTO (undecodable), CAIRN_E_INVAL,
 * CAIRN_E_NOMEM. */
int cs_compact_parse(const void *body, size_t len, cs_compact_req *out);
void cs_compact_req_free(cs_compact_req *r);

/* Writes the new fragment of r into s from the sealed old fragment
 * (old_group, index), every block read checked against its CRC, through an
 * ordinary put (a retry finding the same fragment answers CS_PUT_IDENTICAL).
 * Blocking, on the calling thread; with r->rate it sleeps between its 1 MiB
 * pieces so the copy averages at most r->rate bytes/s (the leader's
 * --compact-rate shared by the group's chunkservers). Returns 0 with *data_crc and *put;
 * CAIRN_E_NOTFOUND (no old fragment); CAIRN_E_CORRUPT (the old fragment
 * fails a CRC: *bad_old is set, it wants repair); CAIRN_E_PRECOND (the old
 * fragment is still open, or has another k, m, unit, or a range lies past
 * its end); CAIRN_E_EXISTS (another new fragment is there already);
 * CAIRN_E_NOSPACE; CAIRN_E_IO; CAIRN_E_NOMEM. */
int cs_compact_run(cs_store *s, const cs_compact_req *r, uint32_t *data_crc,
                   enum cs_put_result *put, int *bad_old);

#endif
