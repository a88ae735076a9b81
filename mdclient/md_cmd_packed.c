/* md_cmd_packed: builders of the packed-group commands and query (issue #17,
 * docs/metadata.md "Packed groups"). The object records of a CommitPacked
 * batch are built by md_obj_view_init, the same code as PutObject's. */
#include "md_cmd.h"
#include "md_cmd_int.h"
#include "cn_error.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

#define S(s) md_cmd_str(s)

#define pack_cmd md_cmd_pack

int md_cmd_open_group(uint64_t client_id, uint64_t seq, const struct md_group_desc *g,
                      int64_t now_ms, const char *writer, const char *storage_class, uint8_t **out,
                      size_t *outlen)
{
    if (!g || (!g->fragment_cs && g->k + g->m))
        return CAIRN_E_INVAL;
    Md__ChunkGroup cg = MD__CHUNK_GROUP__INIT;
    cg.id = (ProtobufCBinaryData){16, (uint8_t *)g->id};
    cg.k = g->k;
    cg.m = g->m;
    cg.unit = g->unit;
    cg.data_length = 0;
    cg.n_fragment_cs = (size_t)g->k + g->m;
    cg.fragment_cs = (uint64_t *)g->fragment_cs;
    Md__OpenGroup o = MD__OPEN_GROUP__INIT;
    o.group = &cg;
    o.now_ms = now_ms;
    o.writer = S(writer);
    o.storage_class = S(storage_class);
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_OPEN_GROUP;
    c.open_group = &o;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_commit_packed(uint64_t client_id, uint64_t seq, const struct md_group_desc *g,
                         uint64_t old_length, uint64_t new_length,
                         const struct md_packed_desc *objs, size_t n, int64_t now_ms, uint8_t **out,
                         size_t *outlen)
{
    if (!g || (n && !objs))
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!objs[i].bucket || !objs[i].key)
            return CAIRN_E_INVAL;
    size_t cap = n ? n : 1;
    struct md_obj_view *views = calloc(cap, sizeof(*views));
    Md__PutObject *puts = calloc(cap, sizeof(*puts));
    Md__PutObject **put_ptrs = calloc(cap, sizeof(*put_ptrs));
    Md__Extent *ext = calloc(cap, sizeof(*ext));
    Md__Extent **ext_ptrs = calloc(cap, sizeof(*ext_ptrs));
    int rc = CAIRN_E_NOMEM;
    size_t built = 0;
    if (!views || !puts || !put_ptrs || !ext || !ext_ptrs)
        goto out;
    /* The stored form of a packed extent names the group by id, k, m and
     * unit only (meta.proto, Extent). */
    Md__ChunkGroup cg = MD__CHUNK_GROUP__INIT;
    cg.id = (ProtobufCBinaryData){16, (uint8_t *)g->id};
    cg.k = g->k;
    cg.m = g->m;
    cg.unit = g->unit;
    for (; built < n; built++) {
        const struct md_packed_desc *d = &objs[built];
        struct md_object_desc obj = d->obj;
        obj.has_inline = 0;
        obj.inline_data = NULL;
        obj.inline_len = 0;
        obj.groups = NULL;
        obj.n_groups = 0;
        rc = md_obj_view_init(&views[built], &obj);
        if (rc)
            goto out;
        md__extent__init(&ext[built]);
        ext[built].offset = 0;
        ext[built].group = &cg;
        ext[built].packed = 1;
        ext[built].group_offset = d->group_offset;
        ext[built].length = d->obj.size;
        ext_ptrs[built] = &ext[built];
        views[built].rec.n_extents = 1;
        views[built].rec.extents = &ext_ptrs[built];
        md__put_object__init(&puts[built]);
        puts[built].bucket = S(d->bucket);
        puts[built].key = S(d->key);
        puts[built].record = &views[built].rec;
        puts[built].cond = (Md__Cond)d->cond;
        puts[built].if_match = S(d->if_match);
        put_ptrs[built] = &puts[built];
    }
    Md__CommitPacked cp = MD__COMMIT_PACKED__INIT;
    cp.group_id = (ProtobufCBinaryData){16, (uint8_t *)g->id};
    cp.old_length = old_length;
    cp.new_length = new_length;
    cp.n_objects = n;
    cp.objects = put_ptrs;
    cp.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_COMMIT_PACKED;
    c.commit_packed = &cp;
    rc = pack_cmd(client_id, seq, &c, out, outlen);
out:
    for (size_t i = 0; i < built; i++)
        md_obj_view_free(&views[i]);
    free(views);
    free(puts);
    free(put_ptrs);
    free(ext);
    free(ext_ptrs);
    return rc;
}

int md_cmd_seal_group(uint64_t client_id, uint64_t seq, const uint8_t group_id[16], uint64_t length,
                      int fragments_sealed, int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!group_id)
        return CAIRN_E_INVAL;
    Md__SealGroup s = MD__SEAL_GROUP__INIT;
    s.group_id = (ProtobufCBinaryData){16, (uint8_t *)group_id};
    s.length = length;
    s.fragments_sealed = fragments_sealed != 0;
    s.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_SEAL_GROUP;
    c.seal_group = &s;
    return pack_cmd(client_id, seq, &c, out, outlen);
}

int md_cmd_compact_group(uint64_t client_id, uint64_t seq, const uint8_t old_id[16],
                         const struct md_group_desc *g, const struct md_compact_move *moves,
                         size_t n, int64_t now_ms, uint8_t **out, size_t *outlen)
{
    if (!old_id || !g || (n && !moves) || (!g->fragment_cs && g->k + g->m))
        return CAIRN_E_INVAL;
    Md__CompactMove *mv = calloc(n ? n : 1, sizeof(*mv));
    Md__CompactMove **mvp = calloc(n ? n : 1, sizeof(*mvp));
    int rc = CAIRN_E_NOMEM;
    if (!mv || !mvp)
        goto out;
    for (size_t i = 0; i < n; i++) {
        md__compact_move__init(&mv[i]);
        mv[i].old_offset = moves[i].old_offset;
        mv[i].new_offset = moves[i].new_offset;
        mv[i].length = moves[i].length;
        mvp[i] = &mv[i];
    }
    Md__ChunkGroup cg = MD__CHUNK_GROUP__INIT;
    cg.id = (ProtobufCBinaryData){16, (uint8_t *)g->id};
    cg.k = g->k;
    cg.m = g->m;
    cg.unit = g->unit;
    cg.data_length = g->data_length;
    cg.n_fragment_cs = (size_t)g->k + g->m;
    cg.fragment_cs = (uint64_t *)g->fragment_cs;
    Md__CompactGroup cc = MD__COMPACT_GROUP__INIT;
    cc.old_group_id = (ProtobufCBinaryData){16, (uint8_t *)old_id};
    cc.group = &cg;
    cc.n_moves = n;
    cc.moves = mvp;
    cc.now_ms = now_ms;
    Md__Command c = MD__COMMAND__INIT;
    c.op_case = MD__COMMAND__OP_COMPACT_GROUP;
    c.compact_group = &cc;
    rc = pack_cmd(client_id, seq, &c, out, outlen);
out:
    free(mv);
    free(mvp);
    return rc;
}

uint8_t *md_q_list_packed(const uint8_t *start_after, size_t start_after_len, uint32_t limit,
                          int open_only, size_t *len)
{
    if (!len || (start_after_len && !start_after))
        return NULL;
    Md__ListPackedQ l = MD__LIST_PACKED_Q__INIT;
    l.start_after = (ProtobufCBinaryData){start_after_len, (uint8_t *)start_after};
    l.limit = limit;
    l.open_only = open_only != 0;
    Md__Query q = MD__QUERY__INIT;
    q.q_case = MD__QUERY__Q_LIST_PACKED;
    q.list_packed = &l;
    uint8_t *out = NULL;
    if (cn_pb_pack(&q.base, &out, len))
        return NULL;
    return out;
}
