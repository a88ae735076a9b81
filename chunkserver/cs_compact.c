#include "cs_compact.h"

#include <stdlib.h>
#include <string.h>

#include "chunk.pb-c.h"
#include "cn_error.h"
#include "cn_util.h"

/* Bytes read from the old fragment and written to the new one at a time. */
#define COMPACT_CHUNK (1u << 20)

static int range_cmp(const void *a, const void *b)
{
    const cs_compact_range *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* 1 if the ranges (checked one by one) overlap anywhere. */
static int overlapping(const cs_compact_range *rs, size_t n, int *nomem)
{
    *nomem = 0;
    cs_compact_range *sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
        *nomem = 1;
        return 1;
    }
    memcpy(sorted, rs, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), range_cmp);
    int over = 0;
    for (size_t i = 1; !over && i < n; i++)
        over = sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].length;
    free(sorted);
    return over;
}

int cs_compact_parse(const void *body, size_t len, cs_compact_req *out)
{
    memset(out, 0, sizeof(*out));
    Chunk__CompactRequest *msg = chunk__compact_request__unpack(NULL, len, body);
    if (msg == NULL)
        return CAIRN_E_PROTO;
    int rc = CAIRN_E_INVAL;
    if (msg->new_group_id.len != CS_GROUP_ID_LEN || msg->old_group_id.len != CS_GROUP_ID_LEN ||
        memcmp(msg->new_group_id.data, msg->old_group_id.data, CS_GROUP_ID_LEN) == 0 ||
        msg->k > UINT16_MAX || msg->m > UINT16_MAX || msg->unit < 512 || msg->unit > 65536 ||
        65536 % msg->unit != 0 || msg->n_ranges == 0 || msg->n_ranges > CS_COMPACT_RANGES_MAX)
        goto out;
    memcpy(out->new_group, msg->new_group_id.data, CS_GROUP_ID_LEN);
    memcpy(out->old_group, msg->old_group_id.data, CS_GROUP_ID_LEN);
    memcpy(out->meta.group, out->new_group, CS_GROUP_ID_LEN);
    out->meta.index = msg->index;
    out->meta.k = (uint16_t)msg->k;
    out->meta.m = (uint16_t)msg->m;
    out->meta.unit = msg->unit;
    out->rate = msg->rate_bytes_per_s;
    out->ranges = calloc(msg->n_ranges, sizeof(*out->ranges));
    if (out->ranges == NULL) {
        rc = CAIRN_E_NOMEM;
        goto out;
    }
    out->n_ranges = msg->n_ranges;
    uint64_t total = 0;
    for (size_t i = 0; i < msg->n_ranges; i++) {
        const Chunk__FragmentRange *fr = msg->ranges[i];
        if (fr->length == 0 || fr->offset % msg->unit != 0 || fr->length % msg->unit != 0 ||
            fr->offset > CS_FRAG_MAX_LEN || fr->length > CS_FRAG_MAX_LEN - fr->offset ||
            fr->length > CS_FRAG_MAX_LEN - total)
            goto out;
        out->ranges[i].offset = fr->offset;
        out->ranges[i].length = fr->length;
        total += fr->length;
    }
    out->meta.data_len = total;
    if (cs_frag_meta_check(&out->meta) != 0)
        goto out;
    int nomem;
    if (overlapping(out->ranges, out->n_ranges, &nomem)) {
        rc = nomem ? CAIRN_E_NOMEM : CAIRN_E_INVAL;
        goto out;
    }
    rc = 0;
out:
    chunk__compact_request__free_unpacked(msg, NULL);
    if (rc != 0)
        cs_compact_req_free(out);
    return rc;
}

void cs_compact_req_free(cs_compact_req *r)
{
    if (r == NULL)
        return;
    free(r->ranges);
    r->ranges = NULL;
    r->n_ranges = 0;
}

int cs_compact_run(cs_store *s, const cs_compact_req *r, uint32_t *data_crc,
                   enum cs_put_result *put, int *bad_old)
{
    *bad_old = 0;
    cs_frag_reader *old;
    int rc = cs_store_open_fragment(s, r->old_group, r->meta.index, &old);
    if (rc != 0) {
        *bad_old = rc == CAIRN_E_CORRUPT;
        return rc;
    }
    const cs_frag_meta *om = cs_frag_reader_meta(old);
    if (cs_frag_reader_is_open(old) || om->k != r->meta.k || om->m != r->meta.m ||
        om->unit != r->meta.unit || om->index != r->meta.index) {
        rc = CAIRN_E_PRECOND;
        goto err_after_open;
    }
    for (size_t i = 0; i < r->n_ranges; i++)
        if (r->ranges[i].offset + r->ranges[i].length > om->data_len) {
            rc = CAIRN_E_PRECOND;
            goto err_after_open;
        }
    uint8_t *buf = malloc(COMPACT_CHUNK);
    if (buf == NULL) {
        rc = CAIRN_E_NOMEM;
        goto err_after_open;
    }
    cs_put *p;
    if ((rc = cs_store_put_begin(s, &r->meta, &p)) != 0)
        goto err_after_buf;
    int64_t start_us = cn_mono_us();
    uint64_t done = 0;
    for (size_t i = 0; rc == 0 && i < r->n_ranges; i++) {
        uint64_t at = r->ranges[i].offset, end = at + r->ranges[i].length;
        while (rc == 0 && at < end) {
            size_t n = end - at < COMPACT_CHUNK ? (size_t)(end - at) : COMPACT_CHUNK;
            uint64_t bad;
            rc = cs_frag_reader_read(old, at, n, buf, &bad);
            if (rc == CAIRN_E_CORRUPT)
                *bad_old = 1;
            if (rc == 0)
                rc = cs_put_write(p, buf, n);
            at += n;
            done += n;
            if (r->rate) {
                /* where the copy may be by now at r->rate */
                int64_t due_us = (int64_t)((double)done * 1e6 / (double)r->rate);
                int64_t ahead_us = due_us - (cn_mono_us() - start_us);
                if (ahead_us > 0)
                    cn_sleep_ms(ahead_us / 1000 + 1);
            }
        }
    }
    if (rc != 0) {
        cs_put_abort(p);
        goto err_after_buf;
    }
    if ((rc = cs_put_commit(p, false, 0, false, put)) != 0)
        goto err_after_buf;
    free(buf);
    cs_frag_reader_close(old);
    /* the stored fragment's own CRC (also when an identical one was there) */
    cs_frag_reader *nr;
    if ((rc = cs_store_open_fragment(s, r->new_group, r->meta.index, &nr)) != 0)
        return rc;
    *data_crc = cs_frag_reader_meta(nr)->data_crc;
    cs_frag_reader_close(nr);
    return 0;

err_after_buf:
    free(buf);
err_after_open:
    cs_frag_reader_close(old);
    return rc;
}
