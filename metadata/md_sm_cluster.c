/* Cluster state: chunkservers, fragment moves, garbage acknowledgements,
 */
#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- chunkservers -- */

int sm_cmd_register_cs(struct exec *x, const Md__RegisterChunkserver *c)
{
    const Md__ChunkserverRecord *in = c->cs;
    if (!in || !in->id || !in->address[0])
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "id and address needed");
    struct md_key k;
    key_cs(&k, in->id);
    Md__ChunkserverRecord *old;
    int rc = unpack_as(x, &k, chunkserver_record, &old);
    if (rc && rc != CAIRN_E_NOTFOUND)
        return rc;
    Md__ChunkserverRecord r = *in;
    r.updated_ms = c->now_ms;
    if (rc == 0) {
        r.state = old->state;
        r.registered_ms = old->registered_ms;
        x->res->existed = 1;
    } else {
        r.state = MD__CHUNKSERVER_STATE__CS_ACTIVE;
        r.registered_ms = c->now_ms;
    }
    rc = put_msg(x, &k, &r);
    if (x->res->existed)
        free_msg(old);
    return rc;
}

int sm_cmd_set_cs_state(struct exec *x, const Md__SetChunkserverState *c)
{
    struct md_key k;
    key_cs(&k, c->id);
    Md__ChunkserverRecord *r;
    int rc = unpack_as(x, &k, chunkserver_record, &r);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_CHUNKSERVER,
                         "no such chunkserver");
    if (rc)
        return rc;
    if (c->set_state) {
        if (c->state < MD__CHUNKSERVER_STATE__CS_ACTIVE ||
            c->state > MD__CHUNKSERVER_STATE__CS_RETIRED) {
            free_msg(r);
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad state");
        }
        r->state = c->state;
    }
    if (c->set_space) {
        r->capacity = c->capacity;
        r->free = c->free;
    }
    r->updated_ms = c->now_ms;
    rc = put_msg(x, &k, r);
    free_msg(r);
    return rc;
}

/* Finds the group gid in the record at rkey. On success *obj, *part or
 * *packed holds the unpacked owner (the others NULL) and *g points into it. */
static int find_group(struct exec *x, const uint8_t *gid, struct md_key *rkey,
                      Md__ObjectRecord **obj, Md__PartRecord **part, Md__PackedGroup **packed,
                      Md__ChunkGroup **g)
{
    *obj = NULL;
    *part = NULL;
    *packed = NULL;
    struct md_key k;
    key_locator(&k, gid);
    Md__GroupLocator *loc;
    int rc = unpack_as(x, &k, group_locator, &loc);
    if (rc == CAIRN_E_NOTFOUND)
        return sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_GROUP, "no such group");
    if (rc)
        return rc;
    if (loc->record_key.len < 2 || loc->record_key.len > sizeof(rkey->b)) {
        free_msg(loc);
        return CAIRN_E_CORRUPT;
    }
    memcpy(rkey->b, loc->record_key.data, loc->record_key.len);
    rkey->n = loc->record_key.len;
    free_msg(loc);
    Md__Extent **ext;
    size_t n;
    if (rkey->b[1] == MD_K_OBJECT || rkey->b[1] == MD_K_VERSION) {
        if ((rc = unpack_as(x, rkey, object_record, obj)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = (*obj)->extents;
        n = (*obj)->n_extents;
    } else if (rkey->b[1] == MD_K_PART) {
        if ((rc = unpack_as(x, rkey, part_record, part)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        ext = (*part)->extents;
        n = (*part)->n_extents;
    } else if (rkey->b[1] == MD_K_PACKED) {
        /* a packed group: its own record holds the locations */
        if ((rc = unpack_as(x, rkey, packed_group, packed)))
            return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
        if (!(*packed)->group || (*packed)->group->id.len != 16 ||
            memcmp((*packed)->group->id.data, gid, 16) != 0)
            return CAIRN_E_CORRUPT;
        *g = (*packed)->group;
        return 0;
    } else {
        return CAIRN_E_CORRUPT;
    }
    for (size_t i = 0; i < n; i++) {
        if (memcmp(ext[i]->group->id.data, gid, 16) == 0) {
            *g = ext[i]->group;
            return 0;
        }
    }
    return CAIRN_E_CORRUPT; /* locator names a record without the group */
}

int sm_cmd_move_fragment(struct exec *x, const Md__MoveFragment *c)
{
    if (c->group_id.len != 16)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group id");
    struct md_key rkey, k;
    Md__ObjectRecord *obj;
    Md__PartRecord *part;
    Md__PackedGroup *packed;
    Md__ChunkGroup *g = NULL;
    int rc = find_group(x, c->group_id.data, &rkey, &obj, &part, &packed, &g);
    if (rc)
        goto out;
    if (c->index >= g->n_fragment_cs) {
        rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad fragment index");
        goto out;
    }
    if (g->fragment_cs[c->index] != c->old_cs) {
        rc = sm_refuse(x, CAIRN_E_PRECOND, MD__REASON__R_LOCATION_MISMATCH,
                       "fragment is not on old_cs");
        goto out;
    }
    if (c->new_cs) {
        void *v;
        size_t vl;
        key_cs(&k, c->new_cs);
        rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == CAIRN_E_NOTFOUND) {
            rc = sm_refuse(x, CAIRN_E_NOTFOUND, MD__REASON__R_NO_SUCH_CHUNKSERVER,
                           "no such chunkserver");
            goto out;
        }
        if (rc)
            goto out;
        free(v);
    }
    for (size_t f = 0; c->new_cs && f < g->n_fragment_cs; f++) {
        if (f != c->index && g->fragment_cs[f] == c->new_cs) {
            rc = sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT,
                           "new_cs already holds a fragment of the group");
            goto out;
        }
    }
    key_fragment(&k, c->old_cs, g->id.data, c->index);
    if ((rc = md_txn_del(x->txn, k.b, k.n)))
        goto out;
    key_fragment(&k, c->new_cs, g->id.data, c->index);
    if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
        goto out;
    g->fragment_cs[c->index] = c->new_cs;
    rc = obj ? put_msg(x, &rkey, obj) : part ? put_msg(x, &rkey, part) : put_msg(x, &rkey, packed);
out:
    if (obj)
        free_msg(obj);
    if (part)
        free_msg(part);
    if (packed)
        free_msg(packed);
    return rc;
}

/* ------------------------------------------------------------ garbage -- */

int sm_cmd_garbage_add(struct exec *x, const Md__GarbageAdd *c)
{
    for (size_t i = 0; i < c->n_groups; i++)
        if (!sm_valid_group(x->sm, c->groups[i]))
            return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad group");
    for (size_t i = 0; i < c->n_groups; i++) {
        struct md_key k;
        key_locator(&k, c->groups[i]->id.data);
        void *v;
        size_t vl;
        int rc = md_txn_get(x->txn, k.b, k.n, &v, &vl);
        if (rc == 0) {
            free(v); /* a live group is never garbage */
            continue;
        }
        if (rc != CAIRN_E_NOTFOUND)
            return rc;
        uint64_t before = x->next_garbage_seq;
        if ((rc = sm_garbage_append(x, c->groups[i], 1)))
            return rc;
        x->res->count += x->next_garbage_seq - before;
    }
    return 0;
}

int sm_cmd_garbage_ack(struct exec *x, const Md__GarbageAck *c)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        struct md_key k;
        key_garbage(&k, c->entries[i]->seq);
        Md__GarbageRecord *g;
        int rc = unpack_as(x, &k, garbage_record, &g);
        if (rc == CAIRN_E_NOTFOUND)
            continue;
        if (rc)
            return rc;
        int changed = 0, left = 0;
        for (size_t f = 0; g->group && f < g->group->n_fragment_cs; f++) {
            if (g->group->fragment_cs[f] == c->entries[i]->cs && c->entries[i]->cs) {
                g->group->fragment_cs[f] = 0;
                changed = 1;
            }
            left |= g->group->fragment_cs[f] != 0;
        }
        if (changed) {
            x->res->count++;
            rc = left ? put_msg(x, &k, g) : md_txn_del(x->txn, k.b, k.n);
            key_garbage_cs(&k, c->entries[i]->cs, c->entries[i]->seq);
            if (!rc)
                rc = md_txn_del(x->txn, k.b, k.n);
        }
        free_msg(g);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------- replicas -- */

int sm_cmd_set_replica(struct exec *x, const Md__SetReplica *c)
{
    const Md__ReplicaRecord *r = c->replica;
    if (!r || r->id == 0 || r->id > 65535)
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad replica id");
    struct md_key k;
    key_replica(&k, r->id);
    if (c->remove)
        return md_txn_del(x->txn, k.b, k.n);
    size_t ul = strlen(r->url);
    if (ul < 8 || ul > 256 || strncmp(r->url, "http", 4) != 0 || strchr(r->url, ' '))
        return sm_refuse(x, CAIRN_E_INVAL, MD__REASON__R_INVALID_ARGUMENT, "bad replica URL");
    return put_msg(x, &k, r);
}
