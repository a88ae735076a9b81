#include "md_sm_int.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void md_sm_options_default(struct md_sm_options *opt)
{
    opt->max_sessions = 100000;
    opt->inline_max = 16384;
    opt->min_part_size = 5u << 20;
    opt->max_parts = 10000;
    opt->max_fragments = 32;
}

int sm_refuse(struct exec *x, int status, Md__Reason reason, const char *detail)
{
    x->res->status = status;
    x->res->reason = reason;
    x->res->detail = (char *)detail;
    return REFUSED;
}

/* ----------------------------------------------------------- dispatch -- */

static int dispatch(struct exec *x, const Md__Command *c)
{
    switch (c->op_case) {
    case MD__COMMAND__OP_NOOP:
        return 0;
    case MD__COMMAND__OP_CREATE_BUCKET:
        return sm_cmd_create_bucket(x, c->create_bucket);
    case MD__COMMAND__OP_DELETE_BUCKET:
        return sm_cmd_delete_bucket(x, c->delete_bucket);
    case MD__COMMAND__OP_PUT_OBJECT:
        return sm_cmd_put_object(x, c->put_object);
    case MD__COMMAND__OP_DELETE_OBJECT:
        return sm_cmd_delete_object(x, c->delete_object);
    case MD__COMMAND__OP_CREATE_UPLOAD:
        return sm_cmd_create_upload(x, c->create_upload);
    case MD__COMMAND__OP_PUT_PART:
        return sm_cmd_put_part(x, c->put_part);
    case MD__COMMAND__OP_COMPLETE_UPLOAD:
        return sm_cmd_complete_upload(x, c->complete_upload);
    case MD__COMMAND__OP_ABORT_UPLOAD:
        return sm_cmd_abort_upload(x, c->abort_upload);
    case MD__COMMAND__OP_REGISTER_CS:
        return sm_cmd_register_cs(x, c->register_cs);
    case MD__COMMAND__OP_SET_CS_STATE:
        return sm_cmd_set_cs_state(x, c->set_cs_state);
    case MD__COMMAND__OP_MOVE_FRAGMENT:
        return sm_cmd_move_fragment(x, c->move_fragment);
    case MD__COMMAND__OP_GARBAGE_ADD:
        return sm_cmd_garbage_add(x, c->garbage_add);
    case MD__COMMAND__OP_GARBAGE_ACK:
        return sm_cmd_garbage_ack(x, c->garbage_ack);
    case MD__COMMAND__OP_CREATE_KEY:
        return sm_cmd_create_key(x, c->create_key);
    case MD__COMMAND__OP_DELETE_KEY:
        return sm_cmd_delete_key(x, c->delete_key);
    case MD__COMMAND__OP_DELETE_OBJECTS:
        return sm_cmd_delete_objects(x, c->delete_objects);
    case MD__COMMAND__OP_UPDATE_ATTRS:
        return sm_cmd_update_attrs(x, c->update_attrs);
    case MD__COMMAND__OP_CREATE_USER:
        return sm_cmd_create_user(x, c->create_user);
    case MD__COMMAND__OP_DELETE_USER:
        return sm_cmd_delete_user(x, c->delete_user);
    case MD__COMMAND__OP_SET_KEY_STATE:
        return sm_cmd_set_key_state(x, c->set_key_state);
    case MD__COMMAND__OP_SET_QUOTA:
        return sm_cmd_set_quota(x, c->set_quota);
    case MD__COMMAND__OP_PUT_BUCKET_ACL:
        return sm_cmd_put_bucket_acl(x, c->put_bucket_acl);
    case MD__COMMAND__OP_PUT_BUCKET_POLICY:
        return sm_cmd_put_bucket_policy(x, c->put_bucket_policy);
    case MD__COMMAND__OP_PUT_OBJECT_ACL:
        return sm_cmd_put_object_acl(x, c->put_object_acl);
    case MD__COMMAND__OP_SET_REPLICA:
        return sm_cmd_set_replica(x, c->set_replica);
    case MD__COMMAND__OP_PUT_BUCKET_VERSIONING:
        return sm_cmd_put_bucket_versioning(x, c->put_bucket_versioning);
    case MD__COMMAND__OP_PUT_OBJECT_LOCK_CONFIG:
        return sm_cmd_put_object_lock_config(x, c->put_object_lock_config);
    case MD__COMMAND__OP_PUT_OBJECT_RETENTION:
        return sm_cmd_put_object_retention(x, c->put_object_retention);
    case MD__COMMAND__OP_PUT_OBJECT_LEGAL_HOLD:
        return sm_cmd_put_object_legal_hold(x, c->put_object_legal_hold);
    case MD__COMMAND__OP_PUT_OBJECT_TAGGING:
        return sm_cmd_put_object_tagging(x, c->put_object_tagging);
    case MD__COMMAND__OP_PUT_BUCKET_TAGGING:
        return sm_cmd_put_bucket_tagging(x, c->put_bucket_tagging);
    case MD__COMMAND__OP_PUT_BUCKET_CORS:
        return sm_cmd_put_bucket_cors(x, c->put_bucket_cors);
    case MD__COMMAND__OP_PUT_BUCKET_LIFECYCLE:
        return sm_cmd_put_bucket_lifecycle(x, c->put_bucket_lifecycle);
    case MD__COMMAND__OP_LIFECYCLE_EXPIRE:
        return sm_cmd_lifecycle_expire(x, c->lifecycle_expire);
    case MD__COMMAND__OP_OPEN_GROUP:
        return sm_cmd_open_group(x, c->open_group);
    case MD__COMMAND__OP_COMMIT_PACKED:
        return sm_cmd_commit_packed(x, c->commit_packed);
    case MD__COMMAND__OP_SEAL_GROUP:
        return sm_cmd_seal_group(x, c->seal_group);
    case MD__COMMAND__OP_COMPACT_GROUP:
        return sm_cmd_compact_group(x, c->compact_group);
    case MD__COMMAND__OP_LOAD_OBJECTS:
        return sm_cmd_load_objects(x, c->load_objects);
    default:
        return sm_refuse(x, CAIRN_E_UNSUPPORTED, MD__REASON__R_UNKNOWN_COMMAND, "unknown command");
    }
}

/* Saves the client's last result and keeps the session table bounded. */
static int save_session(struct exec *x, uint64_t client, uint64_t seq, const Md__Session *prev,
                        uint8_t *result, size_t rlen)
{
    struct md_key k;
    int rc;
    if (prev) {
        key_session_age(&k, prev->last_index, client);
        if ((rc = md_txn_del(x->txn, k.b, k.n)))
            return rc;
    } else {
        x->session_count++;
    }
    Md__Session s = MD__SESSION__INIT;
    s.client_id = client;
    s.seq = seq;
    s.last_index = x->index;
    s.result.data = result;
    s.result.len = rlen;
    key_session(&k, client);
    if ((rc = put_msg(x, &k, &s)))
        return rc;
    key_session_age(&k, x->index, client);
    if ((rc = md_txn_put(x->txn, k.b, k.n, "", 0)))
        return rc;
    while (x->session_count > x->sm->opt.max_sessions) {
        struct md_titer *it;
        if ((rc = md_titer_new(x->txn, &it)))
            return rc;
        struct md_key pre;
        md_key_start(&pre, MD_K_SESS_AGE);
        md_titer_seek(it, pre.b, pre.n);
        if (!md_titer_has_prefix(it, pre.b, pre.n)) {
            rc = md_titer_status(it) ? md_titer_status(it) : CAIRN_E_CORRUPT;
            md_titer_free(it);
            return rc;
        }
        size_t kl;
        const unsigned char *ak = md_titer_key(it, &kl);
        if (kl != 18) {
            md_titer_free(it);
            return CAIRN_E_CORRUPT;
        }
        uint64_t victim = md_get_be64(ak + 10);
        rc = md_txn_del(x->txn, ak, kl);
        md_titer_free(it);
        key_session(&k, victim);
        if (!rc)
            rc = md_txn_del(x->txn, k.b, k.n);
        if (rc)
            return rc;
        x->session_count--;
    }
    return 0;
}

/* 0 if c decodes again from its own encoding, else CAIRN_E_PROTO (or
 * CAIRN_E_NOMEM). protobuf-c accepts a field number 0 written overlong
 * (0x80 0x00), keeps it as an unknown field and writes it back in one byte,
 * which it then refuses: a command carrying one would have it stored inside
 * records (unknown fields travel with the messages built from it) that no
 * later command could read, and every replica would stop there. */
static int command_reencodes(const Md__Command *c)
{
    size_t n = md__command__get_packed_size(c);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return CAIRN_E_NOMEM;
    md__command__pack(c, buf);
    Md__Command *again = md__command__unpack(NULL, n, buf);
    free(buf);
    if (!again)
        return CAIRN_E_PROTO;
    md__command__free_unpacked(again, NULL);
    return 0;
}

/* Applies one command inside the slot's transaction. */
static int apply_one(struct exec *x, const void *cmd, size_t len, uint8_t **out, size_t *outlen)
{
    Md__Result res = MD__RESULT__INIT;
    res.index = x->index;
    x->res = &res;
    Md__Command *c = md__command__unpack(NULL, len, cmd);
    int rc = c ? command_reencodes(c) : CAIRN_E_PROTO;
    if (rc) {
        if (c)
            md__command__free_unpacked(c, NULL);
        if (rc == CAIRN_E_NOMEM)
            return rc;
        sm_refuse(x, CAIRN_E_PROTO, MD__REASON__R_INVALID_ARGUMENT, "undecodable command");
        return cn_pb_pack(&res.base, out, outlen);
    }
    Md__Session *sess = NULL;
    if (c->seq) {
        struct md_key k;
        key_session(&k, c->client_id);
        rc = unpack_as(x, &k, session, &sess);
        if (rc == CAIRN_E_NOTFOUND) {
            sess = NULL;
            rc = 0;
        }
        if (rc)
            goto out;
        if (sess && c->seq == sess->seq) {
            /* A retry: the saved result, nothing applied. */
            *out = malloc(sess->result.len ? sess->result.len : 1);
            if (!*out) {
                rc = CAIRN_E_NOMEM;
                goto out;
            }
            memcpy(*out, sess->result.data, sess->result.len);
            *outlen = sess->result.len;
            goto out;
        }
        if (sess && c->seq < sess->seq) {
            sm_refuse(x, CAIRN_E_RANGE, MD__REASON__R_STALE_REQUEST,
                      "request older than the client's last applied one");
            rc = cn_pb_pack(&res.base, out, outlen);
            goto out;
        }
    }
    struct md_txn_savepoint sp;
    md_txn_save(x->txn, &sp);
    uint64_t gseq = x->next_garbage_seq, vseq = x->last_version_seq;
    rc = dispatch(x, c);
    if (rc == REFUSED) {
        md_txn_rollback(x->txn, &sp);
        x->next_garbage_seq = gseq;
        x->last_version_seq = vseq;
        rc = 0;
    } else {
        md_txn_release(&sp);
        if (rc)
            goto out;
    }
    if ((rc = cn_pb_pack(&res.base, out, outlen)))
        goto out;
    if (c->seq && (rc = save_session(x, c->client_id, c->seq, sess, *out, *outlen))) {
        free(*out);
        *out = NULL;
    }
out:
    free(x->owned_key_results);
    free(x->owned_key_result_ptrs);
    free(x->owned_vids);
    x->owned_key_results = NULL;
    x->owned_key_result_ptrs = NULL;
    x->owned_vids = NULL;
    if (sess)
        free_msg(sess);
    md__command__free_unpacked(c, NULL);
    return rc;
}

/* -------------------------------------------------------------- public -- */

static int load_info(struct md_sm *sm, int init_if_empty)
{
    struct md_txn t;
    int rc = md_txn_init(&t, sm->store);
    if (rc)
        return rc;
    struct md_key k;
    md_key_start(&k, MD_K_LOADING);
    void *v;
    size_t vl;
    rc = md_txn_get(&t, k.b, k.n, &v, &vl);
    if (rc == 0) {
        free(v);
        CN_ERROR("md", "store holds an interrupted snapshot load; it needs a new snapshot");
        rc = CAIRN_E_CORRUPT;
        goto out;
    }
    md_key_start(&k, MD_K_INFO);
    Md__StoreInfo *info;
    rc = md_txn_get_msg(&t, &k, &md__store_info__descriptor, (ProtobufCMessage **)&info);
    if (rc == CAIRN_E_NOTFOUND && init_if_empty) {
        Md__StoreInfo fresh = MD__STORE_INFO__INIT;
        fresh.format = MD_SM_FORMAT;
        fresh.next_garbage_seq = 1;
        if ((rc = md_txn_put_msg(&t, &k, &fresh.base)) == 0)
            rc = md_store_write(sm->store, t.batch);
        sm->applied_index = 0;
        sm->next_garbage_seq = 1;
        sm->session_count = 0;
        sm->last_version_seq = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (info->format < MD_SM_FORMAT_MIN || info->format > MD_SM_FORMAT) {
        CN_ERROR("md", "store format %u, this build reads %u to %u", info->format, MD_SM_FORMAT_MIN,
                 MD_SM_FORMAT);
        rc = CAIRN_E_CORRUPT;
    } else if (info->format < MD_SM_FORMAT) {
        /* Format 1 -> 2: the top-level names index. The format is written
         * only after the whole index: a build cut short is done again. */
        CN_INFO("md", "store format %u: building the top-level names index", info->format);
        struct md_txn w;
        if ((rc = topnames_build(sm->store)) == 0 && (rc = md_txn_init(&w, sm->store)) == 0) {
            info->format = MD_SM_FORMAT;
            if ((rc = md_txn_put_msg(&w, &k, &info->base)) == 0 &&
                (rc = md_store_write(sm->store, w.batch)) == 0)
                rc = md_store_sync(sm->store);
            md_txn_destroy(&w);
        }
        md__store_info__free_unpacked(info, NULL);
        if (rc)
            goto out;
        md_txn_destroy(&t);
        return load_info(sm, init_if_empty);
    } else {
        sm->applied_index = info->applied_index;
        sm->next_garbage_seq = info->next_garbage_seq;
        sm->session_count = info->session_count;
        sm->last_version_seq = info->last_version_seq;
    }
    md__store_info__free_unpacked(info, NULL);
out:
    md_txn_destroy(&t);
    return rc;
}

int md_sm_open(struct md_store *store, const struct md_sm_options *opt, struct md_sm **out)
{
    struct md_sm *sm = calloc(1, sizeof(*sm));
    if (!sm)
        return CAIRN_E_NOMEM;
    sm->store = store;
    if (opt)
        sm->opt = *opt;
    else
        md_sm_options_default(&sm->opt);
    if (sm->opt.max_sessions < 1)
        sm->opt.max_sessions = 1;
    int rc = load_info(sm, 1);
    if (rc) {
        free(sm);
        return rc;
    }
    *out = sm;
    return 0;
}

int md_sm_reload(struct md_sm *sm)
{
    return load_info(sm, 0);
}

void md_sm_free(struct md_sm *sm)
{
    free(sm);
}

uint64_t md_sm_applied_index(const struct md_sm *sm)
{
    return sm->applied_index;
}

int md_sm_apply_slot(struct md_sm *sm, uint64_t index, size_t n, const void *const *cmds,
                     const size_t *cmd_lens, const struct md_batch *extra, uint8_t **results,
                     size_t *result_lens)
{
    if (index <= sm->applied_index)
        return CAIRN_E_RANGE;
    for (size_t i = 0; extra && i < md_batch_count(extra); i++) {
        int del;
        const void *k, *v;
        size_t kl, vl;
        md_batch_op(extra, i, &del, &k, &kl, &v, &vl);
        if (kl && ((const unsigned char *)k)[0] == MD_SM_KEY_PREFIX)
            return CAIRN_E_INVAL;
    }
    struct md_txn t;
    int rc = md_txn_init(&t, sm->store);
    if (rc)
        return rc;
    struct exec x = {.sm = sm,
                     .txn = &t,
                     .index = index,
                     .next_garbage_seq = sm->next_garbage_seq,
                     .session_count = sm->session_count,
                     .last_version_seq = sm->last_version_seq};
    size_t done = 0;
    for (; done < n; done++) {
        if ((rc = apply_one(&x, cmds[done], cmd_lens[done], &results[done], &result_lens[done])))
            goto err;
    }
    if ((rc = topnames_update(&t)))
        goto err;
    Md__StoreInfo info = MD__STORE_INFO__INIT;
    info.format = MD_SM_FORMAT;
    info.applied_index = index;
    info.next_garbage_seq = x.next_garbage_seq;
    info.session_count = x.session_count;
    info.last_version_seq = x.last_version_seq;
    struct md_key k;
    md_key_start(&k, MD_K_INFO);
    if ((rc = md_txn_put_msg(&t, &k, &info.base)))
        goto err;
    if (extra && (rc = md_batch_append(t.batch, extra)))
        goto err;
    if ((rc = md_store_write(sm->store, t.batch)))
        goto err;
    sm->applied_index = index;
    sm->next_garbage_seq = x.next_garbage_seq;
    sm->session_count = x.session_count;
    sm->last_version_seq = x.last_version_seq;
    md_txn_destroy(&t);
    return 0;
err:
    CN_ERROR("md", "applying slot %llu failed: %s", (unsigned long long)index, cairn_strerror(rc));
    for (size_t i = 0; i < done; i++) {
        free(results[i]);
        results[i] = NULL;
    }
    md_txn_destroy(&t);
    return rc;
}

int md_sm_apply_membership(struct md_sm *sm, uint64_t index, const uint32_t *voters, size_t nv,
                           const uint32_t *learners, size_t nl)
{
    if (index <= sm->applied_index)
        return CAIRN_E_RANGE;
    struct md_txn t;
    int rc = md_txn_init(&t, sm->store);
    if (rc)
        return rc;
    Md__MembershipRecord m = MD__MEMBERSHIP_RECORD__INIT;
    m.voters = (uint32_t *)voters;
    m.n_voters = nv;
    m.learners = (uint32_t *)learners;
    m.n_learners = nl;
    m.slot = index;
    Md__StoreInfo info = MD__STORE_INFO__INIT;
    info.format = MD_SM_FORMAT;
    info.applied_index = index;
    info.next_garbage_seq = sm->next_garbage_seq;
    info.session_count = sm->session_count;
    info.last_version_seq = sm->last_version_seq;
    struct md_key k;
    md_key_start(&k, MD_K_MEMBERS);
    /* Members of the previous membership that this one drops are recorded as
     * removed: a removed replica that comes back is refused by name. */
    Md__MembershipRecord *prev = NULL;
    rc = md_txn_get_msg(&t, &k, &md__membership_record__descriptor, (ProtobufCMessage **)&prev);
    if (rc == CAIRN_E_NOTFOUND)
        rc = 0;
    for (size_t i = 0; rc == 0 && prev && i < prev->n_voters + prev->n_learners; i++) {
        uint32_t id = i < prev->n_voters ? prev->voters[i] : prev->learners[i - prev->n_voters];
        int kept = 0;
        for (size_t j = 0; j < nv; j++)
            kept |= voters[j] == id;
        for (size_t j = 0; j < nl; j++)
            kept |= learners[j] == id;
        if (!kept) {
            struct md_key xk;
            md_key_start(&xk, MD_K_REMOVED);
            md_key_be32(&xk, id);
            rc = md_txn_put_msg(&t, &xk, &m.base);
        }
    }
    if (prev)
        protobuf_c_message_free_unpacked(&prev->base, NULL);
    if (rc == 0)
        rc = md_txn_put_msg(&t, &k, &m.base);
    md_key_start(&k, MD_K_INFO);
    if (rc == 0)
        rc = md_txn_put_msg(&t, &k, &info.base);
    if (rc == 0)
        rc = md_store_write(sm->store, t.batch);
    if (rc == 0)
        sm->applied_index = index;
    md_txn_destroy(&t);
    return rc;
}

int md_sm_membership(struct md_store *store, uint32_t *voters, size_t *nv, uint32_t *learners,
                     size_t *nl, size_t cap)
{
    struct md_key k;
    md_key_start(&k, MD_K_MEMBERS);
    void *v = NULL;
    size_t vl = 0;
    int rc = md_store_get(store, k.b, k.n, &v, &vl);
    if (rc)
        return rc;
    Md__MembershipRecord *m = md__membership_record__unpack(NULL, vl, v);
    free(v);
    if (!m)
        return CAIRN_E_CORRUPT;
    rc = m->n_voters == 0 || m->n_voters > cap || m->n_learners > cap ? CAIRN_E_CORRUPT : 0;
    if (rc == 0) {
        memcpy(voters, m->voters, m->n_voters * sizeof(*voters));
        if (m->n_learners) /* (no learners: protobuf-c leaves the array NULL) */
            memcpy(learners, m->learners, m->n_learners * sizeof(*learners));
        *nv = m->n_voters;
        *nl = m->n_learners;
    }
    md__membership_record__free_unpacked(m, NULL);
    return rc;
}

int md_sm_removed(struct md_store *store, uint32_t id)
{
    struct md_key k;
    md_key_start(&k, MD_K_REMOVED);
    md_key_be32(&k, id);
    void *v = NULL;
    size_t vl = 0;
    int rc = md_store_get(store, k.b, k.n, &v, &vl);
    free(v);
    return rc == 0 ? 1 : rc == CAIRN_E_NOTFOUND ? 0 : rc;
}

int md_sm_apply(struct md_sm *sm, uint64_t index, const void *cmd, size_t cmd_len, uint8_t **result,
                size_t *result_len)
{
    return md_sm_apply_slot(sm, index, 1, &cmd, &cmd_len, NULL, result, result_len);
}

int md_sm_state_hash(struct md_store *store, uint8_t out[32])
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        md_iter_free(it);
        return CAIRN_E_NOMEM;
    }
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    const unsigned char pre = MD_SM_KEY_PREFIX;
    for (md_iter_seek(it, &pre, 1); ok && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *key = md_iter_key(it, &kl);
        if (!kl || key[0] != pre)
            break;
        const void *val = md_iter_value(it, &vl);
        unsigned char len[4];
        len[0] = (unsigned char)(kl >> 24), len[1] = (unsigned char)(kl >> 16);
        len[2] = (unsigned char)(kl >> 8), len[3] = (unsigned char)kl;
        ok = EVP_DigestUpdate(ctx, len, 4) && EVP_DigestUpdate(ctx, key, kl);
        len[0] = (unsigned char)(vl >> 24), len[1] = (unsigned char)(vl >> 16);
        len[2] = (unsigned char)(vl >> 8), len[3] = (unsigned char)vl;
        ok = ok && EVP_DigestUpdate(ctx, len, 4) && (vl == 0 || EVP_DigestUpdate(ctx, val, vl));
    }
    rc = md_iter_status(it);
    unsigned outlen = 0;
    if (ok && !rc)
        ok = EVP_DigestFinal_ex(ctx, out, &outlen);
    EVP_MD_CTX_free(ctx);
    md_iter_free(it);
    if (!rc && !ok)
        rc = CAIRN_E_IO;
    return rc;
}
