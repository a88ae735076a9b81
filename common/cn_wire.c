#include "cn_wire.h"

#include "cn_error.h"
#include "cn_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A fragment index never reaches this (ec_codec.h allows k+m <= 48). */
#define WIRE_MAX_INDEX 63u

static int finish(int n, size_t cap)
{
    return n > 0 && (size_t)n < cap ? 0 : CAIRN_E_INVAL;
}

int cn_wire_fragment_target(char *out, size_t cap, const uint8_t group_id[16], uint32_t index)
{
    char hex[33];
    cn_hex_encode(group_id, 16, hex);
    return finish(snprintf(out, cap, CN_ROUTE_CS_FRAGMENT "%s/%" PRIu32, hex, index), cap);
}

int cn_wire_fragment_parse(const char *path, uint8_t group_id[16], uint32_t *index)
{
    size_t plen = strlen(CN_ROUTE_CS_FRAGMENT);
    if (!path || strncmp(path, CN_ROUTE_CS_FRAGMENT, plen) != 0)
        return CAIRN_E_INVAL;
    const char *p = path + plen;
    if (strlen(p) < 32 + 2 || p[32] != '/')
        return CAIRN_E_INVAL;
    char hex[33];
    memcpy(hex, p, 32);
    hex[32] = '\0';
    if (cn_hex_decode(hex, group_id, 16) != 0)
        return CAIRN_E_INVAL;
    uint64_t idx;
    if (cn_parse_u64(p + 33, WIRE_MAX_INDEX, &idx) != 0)
        return CAIRN_E_INVAL;
    *index = (uint32_t)idx;
    return 0;
}

int cn_wire_damage_target(char *out, size_t cap, const uint8_t group_id[16], uint32_t index,
                          uint64_t cs)
{
    char hex[33];
    cn_hex_encode(group_id, 16, hex);
    return finish(snprintf(out, cap,
                           CN_ROUTE_MD_REPAIR_DAMAGE "?group=%s&index=%" PRIu32 "&cs=%" PRIu64, hex,
                           index, cs),
                  cap);
}

int cn_wire_repair_target(char *out, size_t cap, const uint8_t *group_id)
{
    if (!group_id)
        return finish(snprintf(out, cap, "%s", CN_ROUTE_MD_REPAIR), cap);
    char hex[33];
    cn_hex_encode(group_id, 16, hex);
    return finish(snprintf(out, cap, CN_ROUTE_MD_REPAIR "?group=%s", hex), cap);
}

int cn_wire_place_target(char *out, size_t cap, uint32_t count, uint32_t min,
                         const uint64_t *exclude, size_t n_exclude)
{
    int n = snprintf(out, cap, CN_ROUTE_MD_PLACE "?count=%" PRIu32 "&min=%" PRIu32, count, min);
    if (finish(n, cap))
        return CAIRN_E_INVAL;
    size_t used = (size_t)n;
    for (size_t i = 0; i < n_exclude; i++) {
        n = snprintf(out + used, cap - used, "%s%" PRIu64, i == 0 ? "&exclude=" : ",", exclude[i]);
        if (n <= 0 || (size_t)n >= cap - used)
            return CAIRN_E_INVAL;
        used += (size_t)n;
    }
    return 0;
}

int cn_wire_crc_parse(const char *value, uint32_t *crc)
{
    uint8_t b[4];
    if (!value || strlen(value) != 8 || cn_hex_decode(value, b, 4) != 0)
        return CAIRN_E_INVAL;
    *crc = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

void cn_wire_crc_format(uint32_t crc, char out[9])
{
    snprintf(out, 9, "%08" PRIx32, crc);
}
