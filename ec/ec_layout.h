/* Stripe layout (DESIGN.md "Data model").
 *
 * An object of `size` bytes is cut into chunk groups of at most
 * k * frag_max bytes. Inside a group, data is cut into stripes of k * unit
 * bytes; fragment f (0 <= f < k) holds unit f of every stripe, fragments
 * k..k+m-1 hold parity. The last stripe of a group may be short: it has r < k*unit
 * bytes and its own unit last_unit = ceil(r / k); data fragment f holds bytes
 * [f*last_unit, min((f+1)*last_unit, r)) of it, zero-padded to last_unit.
 * So every fragment of a group (data or parity) has the same length,
 * ec_layout_frag_len(). frag_max must be a positive multiple of unit.
 *
 * All functions are pure arithmetic on the struct; thread-safe. */
#ifndef CAIRN_EC_LAYOUT_H
#define CAIRN_EC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ec_layout {
    uint32_t k;        /* data fragments per stripe */
    uint32_t m;        /* parity fragments per stripe */
    uint32_t unit;     /* stripe unit (bytes of one fragment per full stripe) */
    uint64_t frag_max; /* max bytes per fragment in one group; multiple of unit */
} ec_layout;

/* One contiguous run of object bytes inside one fragment of one stripe. */
typedef struct ec_piece {
    uint64_t obj_off;     /* offset in the object */
    uint64_t len;         /* bytes in this piece (> 0) */
    uint64_t group;       /* chunk group index within the object */
    uint64_t stripe;      /* stripe index within the group */
    uint32_t frag;        /* data fragment index, 0..k-1 */
    uint32_t stripe_unit; /* unit of this stripe (== unit except a short last stripe) */
    uint64_t frag_off;    /* offset inside the fragment file's data */
} ec_piece;

/* Checks a layout: 1 <= k <= 32, 1 <= m <= 16, unit > 0, frag_max a positive
 * multiple of unit. Returns 0 or CAIRN_E_INVAL. */
int ec_layout_check(const ec_layout *l);

/* Object data held by one group at most: k * frag_max. */
uint64_t ec_layout_group_capacity(const ec_layout *l);
/* Number of groups for an object of `size` bytes (0 for an empty object). */
uint64_t ec_layout_group_count(const ec_layout *l, uint64_t size);
/* Object bytes held by group g of an object of `size` bytes (0 past the end). */
uint64_t ec_layout_group_len(const ec_layout *l, uint64_t size, uint64_t g);
/* Length of every fragment of a group holding `group_len` object bytes. */
uint64_t ec_layout_frag_len(const ec_layout *l, uint64_t group_len);
/* Number of stripes in a group holding `group_len` bytes (last may be short). */
uint64_t ec_layout_stripe_count(const ec_layout *l, uint64_t group_len);
/* Unit of stripe s in a group of group_len bytes (unit, or last_unit for a
 * short last stripe); 0 if s is past the end. Its offset in every fragment
 * is s * unit. */
uint32_t ec_layout_stripe_unit(const ec_layout *l, uint64_t group_len, uint64_t s);
/* Object bytes in stripe s of a group of group_len bytes. */
uint64_t ec_layout_stripe_data_len(const ec_layout *l, uint64_t group_len, uint64_t s);

/* Iterates the pieces covering object bytes [off, off+len) of an object of
 * `size` bytes, in object order. Only pieces overlapping the range are
 * produced, each maximal within its stripe unit. The range is clipped to the
 * object. */
typedef struct ec_range_iter {
    ec_layout l;
    uint64_t size;
    uint64_t pos; /* next object offset */
    uint64_t end; /* one past the last object offset */
} ec_range_iter;

void ec_range_iter_init(ec_range_iter *it, const ec_layout *l, uint64_t size, uint64_t off,
                        uint64_t len);
/* Fills *p with the next piece and returns true, or returns false at the end. */
bool ec_range_iter_next(ec_range_iter *it, ec_piece *p);

/* Inverse map: the object offset stored at byte frag_off of data fragment
 * `frag` of group g. Returns 0 and sets *obj_off, or CAIRN_E_RANGE when that
 * byte is padding, parity, or past the group's data. */
int ec_layout_frag_to_obj(const ec_layout *l, uint64_t size, uint64_t g, uint32_t frag,
                          uint64_t frag_off, uint64_t *obj_off);

#endif
