/* md_cmd_int: what the md_cmd*.c files of libcairn-mdclient share and no
 * caller sees -- the protobuf view of a struct md_object_desc, so every
 * command that carries object records (PutObject, CommitPacked) builds them
 * with one piece of code. */
#ifndef CAIRN_MD_CMD_INT_H
#define CAIRN_MD_CMD_INT_H

#include "md_cmd.h"

/* A protobuf string field for s (NULL: the empty string; never freed). */
static inline char *md_cmd_str(const char *s)
{
    return (char *)(s ? s : "");
}

/* Numbers c as request (client_id, seq) and encodes it into *out (malloc'ed)
 * / *outlen. Returns 0 or CAIRN_E_NOMEM. (md_cmd.c) */
int md_cmd_pack(uint64_t client_id, uint64_t seq, Md__Command *c, uint8_t **out, size_t *outlen);

/* Protobuf views of caller descriptions, valid while the descs live. */
struct conv {
    Md__ChunkGroup *groups;
    Md__Extent *ext;
    Md__Extent **ext_ptrs;
    Md__ChunkGroup **group_ptrs;
    Md__MetaEntry *meta;
    Md__MetaEntry **meta_ptrs;
    Md__Tag *tags;
    Md__Tag **tag_ptrs;
};

/* An md.ObjectRecord built from an md_object_desc (rec), pointing into the
 * desc's strings and buffers (borrowed: the desc must outlive the view) and
 * into arrays the view owns. */
struct md_obj_view {
    Md__ObjectRecord rec;
    Md__ObjectAttrs attrs;
    struct conv cv;
};

/* Fills v from obj: attributes, owner, lock, and inline data or one extent
 * per group. Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM (v needs no free on
 * error). On success free with md_obj_view_free. */
int md_obj_view_init(struct md_obj_view *v, const struct md_object_desc *obj);
void md_obj_view_free(struct md_obj_view *v);

#endif
