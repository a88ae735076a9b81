/* Harness proto: every protobuf message Cairn decodes from the network or
 * from disk (the .proto files of common/proto, through protobuf-c), and the decoders
 * built on them: gw_acl_unpack (md.Acl), md_result_decode,
 * md_query_result_decode, cs_rebuild_parse (chunk.RebuildRequest),
 * cs_compact_parse (chunk.CompactRequest), md.Batch / md.BatchResult (the
 * batched client requests and their answers) and the
 * Paxos slot value (paxos_value_decode / paxos_value_membership).
 *
 * Input: one byte choosing the message type (modulo the table below), then
 * the encoded message. Oracles: a message that decodes re-encodes, and the
 * re-encoding decodes and re-encodes to the same bytes (protobuf-c keeps
 * unknown fields, so nothing may be lost on the way); an ACL that decodes
 * packs back to bytes that decode to an equal ACL; a slot value's commands
 * lie inside the value. */
#include "fuzz.h"

#include "chunk.pb-c.h"
#include "cluster.pb-c.h"
#include "meta.pb-c.h"
#include "paxos.pb-c.h"

#include "cs_compact.h"
#include "cs_rebuild.h"
#include "gw_acl.h"
#include "md_cmd.h"
#include "paxos.h"

#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

/* The types, in a fixed order: corpus files begin with their index. */
static const ProtobufCMessageDescriptor *const types[] = {
    &md__command__descriptor,            /* 0: client -> metadata leader (a slot's commands) */
    &md__result__descriptor,             /* 1 */
    &md__query__descriptor,              /* 2 */
    &md__query_result__descriptor,       /* 3 */
    &px__msg__descriptor,                /* 4: replica <-> replica */
    &px__entry__descriptor,              /* 5: the Paxos log on disk */
    &px__promise__descriptor,            /* 6 */
    &cl__heartbeat__descriptor,          /* 7: chunkserver -> metadata */
    &cl__heartbeat_reply__descriptor,    /* 8 */
    &chunk__rebuild_request__descriptor, /* 9: metadata -> chunkserver */
    &md__object_record__descriptor,      /* 10..21: the state machine's records */
    &md__bucket_record__descriptor,
    &md__user_record__descriptor,
    &md__upload_record__descriptor,
    &md__part_record__descriptor,
    &md__chunkserver_record__descriptor,
    &md__garbage_record__descriptor,
    &md__access_key_record__descriptor,
    &md__session__descriptor,
    &md__group_locator__descriptor,
    &md__store_info__descriptor,
    &md__acl__descriptor,
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))
/* Index N_TYPES: the raw Paxos slot value (Px.Entry.value). Types added
 * since follow it, so the corpus's first bytes keep their meaning. */
static const ProtobufCMessageDescriptor *const more_types[] = {
    &chunk__compact_request__descriptor, /* N_TYPES + 1: metadata -> chunkserver (issue #17) */
    &md__packed_group__descriptor,       /* N_TYPES + 2: a packed group's record */
    &md__batch__descriptor,              /* N_TYPES + 3: client -> metadata leader (/v1/batch) */
    &md__batch_result__descriptor,       /* N_TYPES + 4: its answer (mdclient/md_batch.c) */
};
#define N_MORE (sizeof(more_types) / sizeof(more_types[0]))

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        abort();
    size_t wrote = protobuf_c_message_pack(m, buf);
    fuzz_check(wrote == *len, "packed %zu of %zu bytes", wrote, *len);
    return buf;
}

/* 1 if m or a message inside it kept an unknown field numbered 0. protobuf-c
 * (1.4) rejects a field number 0 written in one byte but accepts it written
 * overlong (0x80 0x00), keeps it as an unknown field and re-encodes it in
 * one byte: the re-encoding does not decode. That is protobuf-c's to fix;
 * Cairn's state machine refuses such commands (md_sm.c), and this harness
 * does not report it again. */
static int has_field_zero(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            continue;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + fd->quantifier_offset);
            ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)(base + fd->offset);
            for (size_t i = 0; i < n; i++)
                if (has_field_zero(sub[i]))
                    return 1;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + fd->offset);
            if (sub && has_field_zero(sub))
                return 1;
        }
    }
    return 0;
}

static void round_trip(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
    if (!m)
        return;
    if (has_field_zero(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    size_t l1, l2;
    uint8_t *b1 = pack(m, &l1);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, l1, b1);
    fuzz_check(m2 != NULL, "%s: its own encoding does not decode", d->name);
    uint8_t *b2 = pack(m2, &l2);
    fuzz_check(l1 == l2 && memcmp(b1, b2, l1) == 0, "%s: re-encoding is not stable", d->name);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(b1);
    free(b2);
}

struct value_walk {
    const uint8_t *data;
    uint32_t len;
    uint32_t n;
};

static void on_cmd(void *arg, const struct paxos_cmd *cmd)
{
    struct value_walk *w = arg;
    fuzz_check(cmd->len == 0 || (cmd->data >= w->data && cmd->data + cmd->len <= w->data + w->len),
               "command %u outside the value", w->n);
    w->n++;
}

static void slot_value(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX)
        return;
    struct value_walk w = {data, (uint32_t)size, 0};
    int n = paxos_value_decode(data, (uint32_t)size, on_cmd, &w);
    fuzz_check(n == CAIRN_E_CORRUPT || (n >= 0 && (uint32_t)n == w.n), "decode gave %d for %u", n,
               w.n);
    struct paxos_membership m;
    if (paxos_value_membership(data, (uint32_t)size, &m) == 0)
        fuzz_check(m.n_voters <= PAXOS_MAX_REPLICAS && m.n_learners <= PAXOS_MAX_REPLICAS,
                   "membership %u + %u", m.n_voters, m.n_learners);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t which = data[0] % (N_TYPES + 1 + N_MORE);
    data++;
    size--;
    if (which == N_TYPES) {
        slot_value(data, size);
        return 0;
    }
    const ProtobufCMessageDescriptor *d =
        which < N_TYPES ? types[which] : more_types[which - N_TYPES - 1];
    round_trip(d, data, size);
    if (d == &md__acl__descriptor) {
        struct gw_acl *acl = NULL, *back = NULL;
        if (gw_acl_unpack(data, size, &acl) == 0) {
            uint8_t *packed;
            size_t plen;
            if (gw_acl_pack(acl, &packed, &plen) == 0) {
                fuzz_check(gw_acl_unpack(packed, plen, &back) == 0 && gw_acl_equal(acl, back),
                           "a decoded ACL does not survive pack/unpack");
                free(packed);
                gw_acl_free(back);
            }
            gw_acl_free(acl);
        }
    } else if (d == &md__result__descriptor) {
        Md__Result *r = md_result_decode(data, size);
        int reason;
        md_result_status(data, size, &reason);
        md_result_free(r);
    } else if (d == &md__query_result__descriptor) {
        Md__QueryResult *r = md_query_result_decode(data, size);
        if (r)
            md__query_result__free_unpacked(r, NULL);
    } else if (d == &chunk__rebuild_request__descriptor) {
        cs_rebuild_req req;
        if (cs_rebuild_parse(data, size, &req) == 0) {
            fuzz_check(cs_frag_meta_check(&req.meta) == 0, "rebuild of an invalid fragment");
            fuzz_check(req.n_sources <= EC_MAX_FRAGS, "%zu sources", req.n_sources);
        }
    } else if (d == &chunk__compact_request__descriptor) {
        cs_compact_req req;
        if (cs_compact_parse(data, size, &req) == 0) {
            fuzz_check(cs_frag_meta_check(&req.meta) == 0, "compaction into an invalid fragment");
            fuzz_check(req.n_ranges >= 1 && req.n_ranges <= CS_COMPACT_RANGES_MAX, "%zu ranges",
                       req.n_ranges);
            uint64_t total = 0;
            for (size_t i = 0; i < req.n_ranges; i++) {
                fuzz_check(req.ranges[i].length > 0 && req.ranges[i].length % req.meta.unit == 0 &&
                               req.ranges[i].offset % req.meta.unit == 0,
                           "range %zu not whole units", i);
                total += req.ranges[i].length;
            }
            fuzz_check(total == req.meta.data_len, "ranges add to %llu, fragment %llu",
                       (unsigned long long)total, (unsigned long long)req.meta.data_len);
            cs_compact_req_free(&req);
        }
    }
    return 0;
}
