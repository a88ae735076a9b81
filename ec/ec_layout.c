#include "ec_layout.h"

#include "cn_error.h"
#include "ec_codec.h"

int ec_layout_check(const ec_layout *l)
{
    if (!l || l->k < 1 || l->k > EC_MAX_K || l->m < 1 || l->m > EC_MAX_M || l->unit == 0)
        return CAIRN_E_INVAL;
    if (l->frag_max == 0 || l->frag_max % l->unit != 0)
        return CAIRN_E_INVAL;
    /* k * frag_max must not overflow. */
    if (l->frag_max > UINT64_MAX / l->k)
        return CAIRN_E_INVAL;
    return 0;
}

static uint64_t stripe_bytes(const ec_layout *l)
{
    return (uint64_t)l->k * l->unit;
}

uint64_t ec_layout_group_capacity(const ec_layout *l)
{
    return (uint64_t)l->k * l->frag_max;
}

uint64_t ec_layout_group_count(const ec_layout *l, uint64_t size)
{
    uint64_t cap = ec_layout_group_capacity(l);
    return size / cap + (size % cap != 0);
}

uint64_t ec_layout_group_len(const ec_layout *l, uint64_t size, uint64_t g)
{
    uint64_t cap = ec_layout_group_capacity(l);
    if (g >= ec_layout_group_count(l, size))
        return 0;
    uint64_t rest = size - g * cap;
    return rest < cap ? rest : cap;
}

static uint32_t short_unit(const ec_layout *l, uint64_t remainder)
{
    return (uint32_t)((remainder + l->k - 1) / l->k);
}

uint64_t ec_layout_frag_len(const ec_layout *l, uint64_t group_len)
{
    uint64_t sb = stripe_bytes(l);
    uint64_t r = group_len % sb;
    return (group_len / sb) * l->unit + (r ? short_unit(l, r) : 0);
}

uint64_t ec_layout_stripe_count(const ec_layout *l, uint64_t group_len)
{
    uint64_t sb = stripe_bytes(l);
    return group_len / sb + (group_len % sb != 0);
}

uint32_t ec_layout_stripe_unit(const ec_layout *l, uint64_t group_len, uint64_t s)
{
    uint64_t sb = stripe_bytes(l);
    uint64_t full = group_len / sb, r = group_len % sb;
    if (s < full)
        return l->unit;
    if (s == full && r)
        return short_unit(l, r);
    return 0;
}

uint64_t ec_layout_stripe_data_len(const ec_layout *l, uint64_t group_len, uint64_t s)
{
    uint64_t sb = stripe_bytes(l);
    uint64_t full = group_len / sb, r = group_len % sb;
    if (s < full)
        return sb;
    if (s == full)
        return r;
    return 0;
}

void ec_range_iter_init(ec_range_iter *it, const ec_layout *l, uint64_t size, uint64_t off,
                        uint64_t len)
{
    it->l = *l;
    it->size = size;
    if (off > size)
        off = size;
    uint64_t end = len > size - off ? size : off + len;
    it->pos = off;
    it->end = end;
}

bool ec_range_iter_next(ec_range_iter *it, ec_piece *p)
{
    if (it->pos >= it->end)
        return false;
    const ec_layout *l = &it->l;
    uint64_t cap = ec_layout_group_capacity(l);
    uint64_t g = it->pos / cap;
    uint64_t go = it->pos - g * cap;
    uint64_t gl = ec_layout_group_len(l, it->size, g);
    uint64_t sb = stripe_bytes(l);
    uint64_t s = go / sb;
    uint64_t so = go - s * sb;
    uint32_t su = ec_layout_stripe_unit(l, gl, s);
    uint64_t sdl = ec_layout_stripe_data_len(l, gl, s);
    uint32_t f = (uint32_t)(so / su);
    uint64_t uo = so - (uint64_t)f * su;

    uint64_t n = su - uo;
    if (n > sdl - so)
        n = sdl - so;
    if (n > it->end - it->pos)
        n = it->end - it->pos;

    p->obj_off = it->pos;
    p->len = n;
    p->group = g;
    p->stripe = s;
    p->frag = f;
    p->stripe_unit = su;
    p->frag_off = s * l->unit + uo;
    it->pos += n;
    return true;
}

int ec_layout_frag_to_obj(const ec_layout *l, uint64_t size, uint64_t g, uint32_t frag,
                          uint64_t frag_off, uint64_t *obj_off)
{
    uint64_t gl = ec_layout_group_len(l, size, g);
    if (gl == 0 || frag >= l->k)
        return CAIRN_E_RANGE;
    uint64_t s = frag_off / l->unit;
    uint64_t uo = frag_off % l->unit;
    uint32_t su = ec_layout_stripe_unit(l, gl, s);
    if (su == 0 || uo >= su)
        return CAIRN_E_RANGE;
    uint64_t so = (uint64_t)frag * su + uo;
    if (so >= ec_layout_stripe_data_len(l, gl, s))
        return CAIRN_E_RANGE;
    *obj_off = g * ec_layout_group_capacity(l) + s * stripe_bytes(l) + so;
    return 0;
}
