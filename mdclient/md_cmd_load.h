/* md_cmd_load: the bulk loader's command (issue #16): many inline objects
 * into one bucket in one Paxos slot (md.LoadObjects, docs/metadata.md "Bulk
 * load"). Same conventions as md_cmd.h. The limits below are the state
 * machine's too (metadata/md_sm_objects.c refuses a command over either). */
#ifndef CAIRN_MD_CMD_LOAD_H
#define CAIRN_MD_CMD_LOAD_H

#include "md_cmd.h"

#include <stddef.h>
#include <stdint.h>

/* Most objects in one LoadObjects command. */
#define MD_LOAD_MAX_OBJECTS 1000
/* Most bytes of one encoded md.LoadObjects: a command is one Paxos slot
 * value, which the core caps at max_batch_bytes (64 KiB, paxos.h); 60 KiB
 * leaves room for the Command around it. About 400 objects of 100 bytes. */
#define MD_LOAD_MAX_BYTES (60u << 10)

/* One object to load: inline data of len bytes (len <= the state machine's
 * inline_max, 16 KiB by default), its ETag without quotes and mtime. */
struct md_load_object {
    const char *key;
    const void *data;
    size_t len;
    const char *etag;
    int64_t mtime_ms;
};

/* Packs a LoadObjects of objs[0..n) into bucket, each record owned by
 * owner (NULL: no owner, as an operator's write). Returns 0 (*out
 * malloc'ed, free() it), CAIRN_E_INVAL (no bucket, a NULL key, n over
 * MD_LOAD_MAX_OBJECTS), CAIRN_E_RANGE (encoded over MD_LOAD_MAX_BYTES; use
 * fewer or smaller objects) or CAIRN_E_NOMEM. Nothing of objs is kept. */
int md_cmd_load_objects(uint64_t client_id, uint64_t seq, const char *bucket,
                        const struct md_owner_desc *owner, const struct md_load_object *objs,
                        size_t n, uint8_t **out, size_t *outlen);

/* The encoded size one object adds to a LoadObjects (an upper bound), so a
 * caller can fill commands up to MD_LOAD_MAX_BYTES without packing twice. */
size_t md_load_object_size(const struct md_load_object *obj, const struct md_owner_desc *owner);

#endif
