/* The list of fragments found damaged (by a read or by the scrubber) that
 * have not been replaced or deleted since. It is what the chunkserver will
 * report to the metadata leader; until then it is shown by an admin endpoint
 * and in /metrics. Bounded: beyond CS_DAMAGE_MAX entries new ones are only
 * counted. Thread-safe. */
#ifndef CAIRN_CS_DAMAGE_H
#define CAIRN_CS_DAMAGE_H

#include <stdint.h>
#include <stdio.h>

#include "cs_fragment.h"

#define CS_DAMAGE_MAX 65536
/* bad_block of a fragment the metadata places here that has no file. */
#define CS_DAMAGE_MISSING (UINT64_MAX - 1)

typedef struct cs_damage cs_damage;

/* Returns 0 and *out, or CAIRN_E_NOMEM. */
int cs_damage_new(cs_damage **out);
void cs_damage_free(cs_damage *d);

/* Records fragment (group, index) as damaged: bad_block is the first bad
 * block, UINT64_MAX when the header or CRC table is bad, CS_DAMAGE_MISSING
 * when the file is missing. Recording the
 * same fragment again updates it. */
void cs_damage_add(cs_damage *d, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index,
                   uint64_t bad_block, const char *found_by);
/* Forgets a fragment (it was replaced or deleted). */
void cs_damage_clear(cs_damage *d, const uint8_t group[CS_GROUP_ID_LEN], uint32_t index);
/* Fragments listed now, and fragments ever recorded (a counter). */
uint64_t cs_damage_count(cs_damage *d);
uint64_t cs_damage_total(cs_damage *d);
/* Writes one line per damaged fragment: "<group hex> <index>
 * <block|header|missing> <found_by> <unix time>\n". */
void cs_damage_write(cs_damage *d, FILE *out);
/* Copies up to max of the fragments recorded by found_by into groups[] and
 * indices[]; returns how many were copied. */
size_t cs_damage_list(cs_damage *d, const char *found_by, uint8_t (*groups)[CS_GROUP_ID_LEN],
                      uint32_t *indices, size_t max);

#endif
