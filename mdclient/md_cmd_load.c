#include "md_cmd_load.h"
#include "md_cmd_int.h"

#include "cn_error.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

#define S(s) md_cmd_str(s)

/* The record of objs[i] (attrs and owner shared by every record). */
static void fill_record(Md__ObjectRecord *rec, Md__ObjectAttrs *attrs,
                        const struct md_owner_desc *owner, const struct md_load_object *o)
{
    md__object_record__init(rec);
    rec->size = o->len;
    rec->etag = S(o->etag);
    rec->mtime_ms = o->mtime_ms;
    rec->attrs = attrs;
    rec->has_inline = 1;
    rec->inline_data = (ProtobufCBinaryData){o->len, (uint8_t *)o->data};
    if (owner) {
        rec->owner = S(owner->user);
        rec->owner_id = S(owner->id);
        rec->acl = (ProtobufCBinaryData){owner->acl_len, (uint8_t *)owner->acl};
    }
}

size_t md_load_object_size(const struct md_load_object *obj, const struct md_owner_desc *owner)
{
    Md__ObjectAttrs attrs = MD__OBJECT_ATTRS__INIT;
    Md__ObjectRecord rec;
    fill_record(&rec, &attrs, owner, obj);
    Md__LoadedObject lo = MD__LOADED_OBJECT__INIT;
    lo.key = S(obj->key);
    lo.record = &rec;
    /* + tag and length of the repeated field's entry (at most 1 + 5) */
    return md__loaded_object__get_packed_size(&lo) + 6;
}

int md_cmd_load_objects(uint64_t client_id, uint64_t seq, const char *bucket,
                        const struct md_owner_desc *owner, const struct md_load_object *objs,
                        size_t n, uint8_t **out, size_t *outlen)
{
    if (!bucket || (n && !objs) || n > MD_LOAD_MAX_OBJECTS)
        return CAIRN_E_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!objs[i].key || (objs[i].len && !objs[i].data))
            return CAIRN_E_INVAL;
    Md__ObjectAttrs attrs = MD__OBJECT_ATTRS__INIT;
    Md__ObjectRecord *recs = calloc(n ? n : 1, sizeof(*recs));
    Md__LoadedObject *los = calloc(n ? n : 1, sizeof(*los));
    Md__LoadedObject **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    int rc = CAIRN_E_NOMEM;
    if (!recs || !los || !ptrs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        fill_record(&recs[i], &attrs, owner, &objs[i]);
        md__loaded_object__init(&los[i]);
        los[i].key = (char *)objs[i].key;
        los[i].record = &recs[i];
        ptrs[i] = &los[i];
    }
    Md__LoadObjects l = MD__LOAD_OBJECTS__INIT;
    l.bucket = S(bucket);
    l.n_objects = n;
    l.objects = ptrs;
    if (md__load_objects__get_packed_size(&l) > MD_LOAD_MAX_BYTES) {
        rc = CAIRN_E_RANGE;
        goto out;
    }
    Md__Command c = MD__COMMAND__INIT;
    c.client_id = client_id;
    c.seq = seq;
    c.op_case = MD__COMMAND__OP_LOAD_OBJECTS;
    c.load_objects = &l;
    rc = cn_pb_pack(&c.base, out, outlen);
out:
    free(recs);
    free(los);
    free(ptrs);
    return rc;
}
