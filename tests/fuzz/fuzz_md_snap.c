/* Harness md_snap: a snapshot stream (metadata/md_snap.h) loaded with
 * md_snap_load_* over a copy of the fixture's state (md_fixture.h) in a
 * memory store -- what a replica that fell behind receives from its leader.
 *
 * Input: one flags byte, then the stream. Flags bit 0: the harness first
 * makes every frame checksum, the end frame's record count and its state
 * hash right for the bytes given (a fuzzer cannot forge CRC32C and SHA-256,
 * and without this it never gets past the first frame); bits 1-3 pick the
 * size of the pieces the stream is fed in (whole, 1, 2, 3, 9, 64, 4096,
 * 65536 bytes).
 *
 * Oracles: a load that finishes leaves a store whose md_sm_state_hash is the
 * end frame's hash, over which md_sm_open succeeds at the stream's applied
 * index without changing anything; the md_sm_check checker takes whatever
 * was loaded without crashing; the loaded state written out again with
 * md_snap_write loads into an empty store with the same hash. */
#include "fuzz.h"
#include "md_fixture.h"

#include "md_check.h"
#include "md_snap.h"
#include "md_sm.h"
#include "md_txn.h"
#include "meta.pb-c.h"

#include "cn_error.h"
#include "ec_crc.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Rewrites frame checksums, and the end frame's count and hash, of the
 * stream s[len] in place (frames whose payload is cut short are left). */
static void fix_up(uint8_t *s, size_t len)
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h || !EVP_DigestInit_ex(h, EVP_sha256(), NULL))
        abort();
    uint64_t count = 0;
    size_t off = 0;
    while (len - off >= 9) {
        uint8_t type = s[off];
        size_t plen = be32(s + off + 1);
        if (plen > len - off - 9)
            break;
        uint8_t *p = s + off + 9;
        if (type == 1) {
            /* Records: be32 klen | key | be32 vlen | value, hashed as such. */
            size_t r = 0;
            while (plen - r >= 4) {
                size_t kl = be32(p + r);
                if (kl > plen - r - 4 || plen - r - 4 - kl < 4)
                    break;
                size_t vl = be32(p + r + 4 + kl);
                if (vl > plen - r - 8 - kl)
                    break;
                if (!EVP_DigestUpdate(h, p + r, 8 + kl + vl))
                    abort();
                count++;
                r += 8 + kl + vl;
            }
        } else if (type == 2 && plen == 40) {
            unsigned dlen = 0;
            for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(count >> (56 - 8 * i));
            if (!EVP_DigestFinal_ex(h, p + 8, &dlen))
                abort();
            if (!EVP_DigestInit_ex(h, EVP_sha256(), NULL))
                abort();
        }
        put_be32(s + off + 5, ec_crc32c(p, plen));
        off += 9 + plen;
    }
    EVP_MD_CTX_free(h);
}

struct stream {
    uint8_t *p;
    size_t n, cap;
};

static int collect(void *ctx, const void *buf, size_t len)
{
    struct stream *s = ctx;
    if (s->n + len > s->cap) {
        size_t cap = (s->n + len) * 2;
        uint8_t *np = realloc(s->p, cap);
        if (!np)
            return CAIRN_E_NOMEM;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

/* Loads s[len] into store in pieces of piece bytes (0: whole). */
static int load(struct md_store *store, const uint8_t *s, size_t len, size_t piece,
                uint64_t *applied)
{
    struct md_snap_loader *l;
    int rc = md_snap_load_begin(store, &l);
    fuzz_check(rc == 0, "load_begin: %d", rc);
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = piece && piece < len - off ? piece : len - off;
        rc = md_snap_load_feed(l, s + off, n);
        off += n;
    }
    if (rc) {
        fuzz_check(rc == CAIRN_E_CORRUPT, "feed: %d", rc);
        md_snap_load_abort(l);
        return rc;
    }
    return md_snap_load_finish(l, 0, applied);
}

/* The format in the store's StoreInfo record ("SI"); MD_SM_FORMAT when there
 * is none or it does not decode (md_sm_open refuses those). */
static uint32_t stored_format(struct md_store *store)
{
    static const unsigned char key[2] = {MD_SM_KEY_PREFIX, MD_K_INFO};
    void *v;
    size_t vl;
    if (md_store_get(store, key, sizeof(key), &v, &vl) != 0)
        return MD_SM_FORMAT;
    Md__StoreInfo *info = md__store_info__unpack(NULL, vl, v);
    free(v);
    uint32_t f = info ? info->format : MD_SM_FORMAT;
    if (info)
        md__store_info__free_unpacked(info, NULL);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pieces[] = {0, 1, 2, 3, 9, 64, 4096, 65536};
    fuzz_quiet_logs();
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *s = malloc(len ? len : 1);
    if (!s)
        abort();
    memcpy(s, data + 1, len);
    if (flags & 1)
        fix_up(s, len);

    struct md_store *store;
    fuzz_check(md_store_clone_mem(md_fixture_store(), &store) == 0, "clone");
    uint8_t before[32];
    fuzz_check(md_sm_state_hash(store, before) == 0, "hash before");
    uint64_t applied = 0;
    int rc = load(store, s, len, pieces[(flags >> 1) & 7], &applied);
    if (rc != 0) {
        /* All or nothing: a refused stream leaves the state as it was. */
        uint8_t after[32];
        fuzz_check(md_sm_state_hash(store, after) == 0 && memcmp(before, after, 32) == 0,
                   "a refused snapshot (%d) changed the state", rc);
    } else {
        /* The end frame is the last 40 bytes of the stream. */
        uint8_t hash[32];
        fuzz_check(len >= 40 && md_sm_state_hash(store, hash) == 0 &&
                       memcmp(hash, s + len - 32, 32) == 0,
                   "loaded state differs from the stream's hash");
        /* What the replica does next (md_replica.c): the state machine
         * opens over it at the stream's applied index, changing nothing --
         * unless the stream is of an older format, which it brings up to
         * date (then md_sm_check below must still hold). */
        uint32_t format = stored_format(store);
        struct md_sm *sm;
        int orc = md_sm_open(store, NULL, &sm);
        fuzz_check(orc == 0, "md_sm_open of a loaded snapshot: %d", orc);
        fuzz_check(md_sm_reload(sm) == 0 && md_sm_applied_index(sm) == applied,
                   "loaded at slot %llu, the state machine says %llu", (unsigned long long)applied,
                   (unsigned long long)md_sm_applied_index(sm));
        md_sm_free(sm);
        uint8_t after[32];
        fuzz_check(md_sm_state_hash(store, after) == 0 &&
                       (format < MD_SM_FORMAT || memcmp(hash, after, 32) == 0),
                   "md_sm_open changed a loaded state");
        memcpy(hash, after, 32);
        char why[256];
        md_sm_check(store, why, sizeof(why));

        /* Written out again (unless the loaded StoreInfo record does not
         * decode, which md_snap_write reports), it loads back the same. */
        struct stream again = {0};
        uint64_t applied2 = 0;
        rc = md_snap_write(store, collect, &again, &applied2);
        fuzz_check(rc == 0 || rc == CAIRN_E_CORRUPT, "write back: %d", rc);
        struct md_store *fresh;
        fuzz_check(md_store_open_mem(&fresh) == 0, "open");
        uint64_t applied3 = 0;
        if (rc == 0) {
            rc = load(fresh, again.p, again.n, 0, &applied3);
            uint8_t hash2[32];
            fuzz_check(rc == 0 && md_sm_state_hash(fresh, hash2) == 0 &&
                           memcmp(hash, hash2, 32) == 0,
                       "a written snapshot does not load back (%d)", rc);
            fuzz_check(applied3 == applied2, "applied index %llu came back as %llu",
                       (unsigned long long)applied2, (unsigned long long)applied3);
        }
        md_store_free(fresh);
        free(again.p);
    }
    md_store_free(store);
    free(s);
    return 0;
}
