#include "md_plog.h"
#include "md_txn.h"

#include "cn_error.h"
#include "cn_log.h"
#include "cn_util.h"
#include "ec_crc.h"
#include "md_store.h"
#include "meta.pb-c.h"
#include "paxos.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG "md_plog"

/* Store keys of the Paxos layer (the state machine owns keys starting 'S'). */
static const uint8_t KEY_PROMISE[] = {'P', 'p'};
#define LOG_KEY_LEN 10

struct md_plog_rec {
    uint64_t seq, promised, trim_through;
    uint32_t n_entries;
    struct paxos_entry *entries;
    uint8_t *blob;
};

/* One segment file of the file log. */
struct plog_seg {
    uint64_t id;       /* the file is SEG_NAME(id) */
    uint64_t max_slot; /* highest entry slot it holds (0: none) */
};

struct md_plog {
    struct md_store *store;
    uint64_t log_base; /* every entry <= this has been deleted */
    /* File log (dir != NULL); the in-store log otherwise. */
    char *dir;
    int fd; /* the active (last) segment, open for appending */
    uint64_t active_size;
    uint64_t segment_bytes;
    struct plog_seg *segs; /* oldest first; the last is the active one */
    size_t n_segs, cap_segs;
    uint64_t promised; /* the promise the file holds */
    uint8_t *buf;      /* a batch's encoded frames */
    size_t buf_len, buf_cap;
    size_t frame_at; /* where the open frame starts in buf */
    int frame_open;
    uint64_t write_no;  /* the last write that reached the file */
    uint64_t cur_write; /* the write being encoded */
    size_t frame_split; /* frames close past this many bytes */
    int write_done;     /* replay: the last frame read ended its write */
};

static void log_key(uint64_t slot, uint8_t key[LOG_KEY_LEN])
{
    key[0] = 'P';
    key[1] = 'L';
    for (int i = 0; i < 8; i++)
        key[2 + i] = (uint8_t)(slot >> (56 - 8 * i));
}

/* The slot of a log key, or 0 when key is not one. */
static uint64_t log_key_slot(const uint8_t *key, size_t klen)
{
    if (klen != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
        return 0;
    uint64_t slot = 0;
    for (int j = 0; j < 8; j++)
        slot = slot << 8 | key[2 + j];
    return slot;
}

/* ------------------------------------------------------------------ load -- */

static int restored_push(struct md_plog_restored *rs, const Px__Entry *pe)
{
    if (rs->n_entries == rs->cap) {
        uint32_t cap = rs->cap ? 2 * rs->cap : 64;
        struct paxos_entry *ne = realloc(rs->entries, cap * sizeof(*ne));
        if (!ne)
            return CAIRN_E_NOMEM;
        rs->entries = ne;
        uint8_t **nb = realloc(rs->blobs, cap * sizeof(*nb));
        if (!nb)
            return CAIRN_E_NOMEM;
        rs->blobs = nb;
        rs->cap = cap;
    }
    uint8_t *blob = malloc(pe->value.len ? pe->value.len : 1);
    if (!blob)
        return CAIRN_E_NOMEM;
    memcpy(blob, pe->value.data, pe->value.len);
    rs->blobs[rs->n_entries] = blob;
    rs->entries[rs->n_entries++] = (struct paxos_entry){
        .slot = pe->slot, .ballot = pe->ballot, .len = (uint32_t)pe->value.len, .data = blob};
    return 0;
}

static int load_promise(struct md_store *store, uint64_t *promised)
{
    void *val = NULL;
    size_t vlen = 0;
    int rc = md_store_get(store, KEY_PROMISE, sizeof(KEY_PROMISE), &val, &vlen);
    if (rc == CAIRN_E_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    Px__Promise *p = px__promise__unpack(NULL, vlen, val);
    free(val);
    if (!p)
        return CAIRN_E_CORRUPT;
    *promised = p->ballot;
    px__promise__free_unpacked(p, NULL);
    return 0;
}

static int load_entries(struct md_store *store, struct md_plog_restored *rs)
{
    struct md_iter *it;
    int rc = md_store_iter_new(store, &it);
    if (rc)
        return rc;
    uint8_t k[LOG_KEY_LEN];
    log_key(0, k);
    for (md_iter_seek(it, k, sizeof(k)); rc == 0 && md_iter_valid(it); md_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *key = md_iter_key(it, &kl);
        if (kl != LOG_KEY_LEN || key[0] != 'P' || key[1] != 'L')
            break;
        const uint8_t *v = md_iter_value(it, &vl);
        Px__Entry *pe = px__entry__unpack(NULL, vl, v);
        if (!pe) {
            rc = CAIRN_E_CORRUPT;
            break;
        }
        rc = restored_push(rs, pe);
        px__entry__free_unpacked(pe, NULL);
    }
    if (rc == 0)
        rc = md_iter_status(it);
    md_iter_free(it);
    return rc;
}

int md_plog_open(struct md_store *store, uint64_t applied, struct md_plog **out,
                 struct md_plog_restored *rs)
{
    memset(rs, 0, sizeof(*rs));
    struct md_plog *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return CAIRN_E_NOMEM;
    pl->store = store;
    int rc = load_promise(store, &rs->promised);
    if (rc == 0)
        rc = load_entries(store, rs);
    if (rc != 0) {
        md_plog_restored_free(rs);
        free(pl);
        return rc;
    }
    pl->log_base = rs->n_entries ? rs->entries[0].slot - 1 : applied;
    *out = pl;
    return 0;
}

void md_plog_restored_free(struct md_plog_restored *rs)
{
    for (uint32_t i = 0; i < rs->n_entries; i++)
        free(rs->blobs[i]);
    free(rs->blobs);
    free(rs->entries);
    memset(rs, 0, sizeof(*rs));
}

void md_plog_free(struct md_plog *pl)
{
    if (!pl)
        return;
    if (pl->dir && pl->fd >= 0)
        close(pl->fd);
    free(pl->dir);
    free(pl->segs);
    free(pl->buf);
    free(pl);
}

/* --------------------------------------------------------------- batches -- */

int md_plog_batch_add(struct md_plog_batch *b, const struct paxos_persist *rec)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct md_plog_rec *r = realloc(b->recs, cap * sizeof(*r));
        if (!r)
            return CAIRN_E_NOMEM;
        b->recs = r;
        b->cap = cap;
    }
    struct md_plog_rec *r = &b->recs[b->n];
    *r = (struct md_plog_rec){.seq = rec->seq,
                              .promised = rec->promised,
                              .trim_through = rec->trim_through,
                              .n_entries = rec->n_entries};
    if (rec->n_entries > 0) {
        size_t total = 0;
        for (uint32_t i = 0; i < rec->n_entries; i++)
            total += rec->entries[i].len;
        r->entries = malloc(rec->n_entries * sizeof(*r->entries));
        r->blob = malloc(total ? total : 1);
        if (!r->entries || !r->blob) {
            free(r->entries);
            free(r->blob);
            return CAIRN_E_NOMEM;
        }
        size_t off = 0;
        for (uint32_t i = 0; i < rec->n_entries; i++) {
            r->entries[i] = rec->entries[i];
            memcpy(r->blob + off, rec->entries[i].data, rec->entries[i].len);
            r->entries[i].data = r->blob + off;
            off += rec->entries[i].len;
        }
    }
    b->n++;
    return 0;
}

void md_plog_batch_clear(struct md_plog_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->recs[i].entries);
        free(b->recs[i].blob);
    }
    b->n = 0;
}

int md_plog_batch_move(struct md_plog_batch *to, struct md_plog_batch *from)
{
    if (to->n == 0) {
        /* Swap the arrays: no copy. */
        struct md_plog_batch tmp = *to;
        *to = *from;
        *from = tmp;
        return 0;
    }
    if (to->n + from->n > to->cap) {
        struct md_plog_rec *r = realloc(to->recs, (to->n + from->n) * sizeof(*r));
        if (!r)
            return CAIRN_E_NOMEM;
        to->recs = r;
        to->cap = to->n + from->n;
    }
    memcpy(to->recs + to->n, from->recs, from->n * sizeof(*from->recs));
    to->n += from->n;
    from->n = 0;
    return 0;
}

/* ----------------------------------------------------------------- write -- */

/* Adds deletions of every log key in (log_base, through] to b. */
static int batch_trim(struct md_plog *pl, struct md_batch *b, uint64_t through)
{
    struct md_iter *it;
    int rc = md_store_iter_new(pl->store, &it);
    if (rc)
        return rc;
    uint8_t k[LOG_KEY_LEN];
    log_key(pl->log_base, k);
    for (md_iter_seek(it, k, sizeof(k)); md_iter_valid(it); md_iter_next(it)) {
        size_t kl;
        const uint8_t *key = md_iter_key(it, &kl);
        uint64_t slot = log_key_slot(key, kl);
        if (slot == 0 || slot > through)
            break;
        md_batch_del(b, key, kl);
    }
    rc = md_iter_status(it);
    md_iter_free(it);
    if (rc == 0)
        pl->log_base = through;
    return rc;
}

static int batch_entries(struct md_batch *b, const struct md_plog_rec *r)
{
    for (uint32_t e = 0; e < r->n_entries; e++) {
        Px__Entry pe = PX__ENTRY__INIT;
        pe.slot = r->entries[e].slot;
        pe.ballot = r->entries[e].ballot;
        pe.value.data = (uint8_t *)r->entries[e].data;
        pe.value.len = r->entries[e].len;
        uint8_t *ebuf;
        size_t elen;
        int rc = cn_pb_pack(&pe.base, &ebuf, &elen);
        if (rc)
            return rc;
        uint8_t k[LOG_KEY_LEN];
        log_key(pe.slot, k);
        md_batch_put(b, k, sizeof(k), ebuf, elen);
        free(ebuf);
    }
    return 0;
}

static int file_write(struct md_plog *pl, struct md_plog_batch *recs, uint64_t *max_seq,
                      int64_t *sync_us);

int md_plog_write(struct md_plog *pl, struct md_plog_batch *recs, uint64_t *max_seq,
                  int64_t *sync_us)
{
    if (pl->dir)
        return file_write(pl, recs, max_seq, sync_us);
    uint64_t top = 0;
    struct md_batch *b = md_batch_new();
    if (!b)
        return CAIRN_E_NOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < recs->n; i++) {
        const struct md_plog_rec *r = &recs->recs[i];
        md_batch_clear(b);
        Px__Promise pr = PX__PROMISE__INIT;
        pr.ballot = r->promised;
        uint8_t pbuf[16];
        size_t plen = px__promise__pack(&pr, pbuf);
        md_batch_put(b, KEY_PROMISE, sizeof(KEY_PROMISE), pbuf, plen);
        if (r->trim_through > pl->log_base)
            rc = batch_trim(pl, b, r->trim_through);
        if (rc == 0)
            rc = batch_entries(b, r);
        if (rc == 0)
            rc = md_store_write(pl->store, b);
        if (r->seq > top)
            top = r->seq;
    }
    md_batch_free(b);
    md_plog_batch_clear(recs);
    if (rc != 0)
        return rc;
    int64_t t0 = cn_mono_us();
    rc = md_store_sync(pl->store);
    if (sync_us)
        *sync_us = cn_mono_us() - t0;
    if (rc == 0)
        *max_seq = top;
    return rc;
}

/* ------------------------------------------------------------- file log -- */

/* Segment files: SEG_PREFIX + 16 hex digits of the id + SEG_SUFFIX, ids
 * increasing. A segment is SEG_MAGIC then frames. Each md_plog_write is one
 * numbered write (one or more frames, the last flagged), synced before the
 * next starts: only the frames of the last write can be torn.
 *   frame = magic u16 (FRAME_MAGIC) | flags u8 (FRAME_LAST: the write's last
 *           frame) | write be64 | len be32 | crc32c be32 | items[len]
 *   item  = type u8 | len be32 | payload[len]
 * big-endian; the CRC covers the frame's first 15 bytes and its items.
 * Items: PROMISE be64 ballot (the latest wins); TRIM be64 slot (entries up to
 * it are dropped); ENTRY be64 slot | be64 ballot | value. A new segment's
 * first frame starts with the log's promise and trim point. */
#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".plog"
#define SEG_TMP    ".tmp" /* a segment being moved from the store, not yet whole */
static const char SEG_MAGIC[8] = {'C', 'N', 'P', 'L', 'O', 'G', '1', '\n'};
#define FRAME_MAGIC 0xC41Eu
#define FRAME_HDR   19
#define FRAME_LAST  1u
#define FRAME_SPLIT (16u << 20) /* a frame is closed once its items pass this, */
                                /* or a quarter of the segment size */
#define FRAME_MAX (1u << 30)
#define ITEM_HDR  5

enum { ITEM_PROMISE = 1, ITEM_ENTRY = 2, ITEM_TRIM = 3 };

static void seg_path(const struct md_plog *pl, uint64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" SEG_PREFIX "%016" PRIx64 SEG_SUFFIX, pl->dir, id);
}

static int buf_reserve(struct md_plog *pl, size_t more)
{
    if (pl->buf_len + more <= pl->buf_cap)
        return 0;
    size_t cap = pl->buf_cap ? pl->buf_cap : 64 * 1024;
    while (cap < pl->buf_len + more)
        cap *= 2;
    uint8_t *nb = realloc(pl->buf, cap);
    if (!nb)
        return CAIRN_E_NOMEM;
    pl->buf = nb;
    pl->buf_cap = cap;
    return 0;
}

/* Closes the open frame in pl->buf (if any): flags, length and CRC. */
static void frame_end(struct md_plog *pl, int last)
{
    if (!pl->frame_open)
        return;
    uint8_t *h = pl->buf + pl->frame_at;
    uint32_t len = (uint32_t)(pl->buf_len - pl->frame_at - FRAME_HDR);
    h[2] = last ? FRAME_LAST : 0;
    md_put_be32(h + 11, len);
    md_put_be32(h + 15, ec_crc32c_update(ec_crc32c(h, 15), h + FRAME_HDR, len));
    pl->frame_open = 0;
}

/* Starts the next write: pl->buf empty, the next write number. */
static void write_begin(struct md_plog *pl)
{
    pl->buf_len = 0;
    pl->frame_open = 0;
    pl->cur_write = pl->write_no + 1;
}

/* Appends one item (payload = head[0..hlen) + tail[0..tlen)) to the open
 * frame, opening one when none is (or the open one is full). */
static int buf_item(struct md_plog *pl, uint8_t type, const uint8_t *head, size_t hlen,
                    const void *tail, size_t tlen)
{
    if (hlen + tlen > FRAME_MAX - ITEM_HDR)
        return CAIRN_E_RANGE;
    if (pl->frame_open && pl->buf_len - pl->frame_at + ITEM_HDR + hlen + tlen > pl->frame_split)
        frame_end(pl, 0);
    int rc = buf_reserve(pl, FRAME_HDR + ITEM_HDR + hlen + tlen);
    if (rc)
        return rc;
    if (!pl->frame_open) {
        pl->frame_at = pl->buf_len;
        pl->buf[pl->buf_len] = (uint8_t)(FRAME_MAGIC >> 8);
        pl->buf[pl->buf_len + 1] = (uint8_t)FRAME_MAGIC;
        md_put_be64(pl->buf + pl->buf_len + 3, pl->cur_write);
        pl->buf_len += FRAME_HDR;
        pl->frame_open = 1;
    }
    uint8_t *h = pl->buf + pl->buf_len;
    h[0] = type;
    md_put_be32(h + 1, (uint32_t)(hlen + tlen));
    memcpy(h + ITEM_HDR, head, hlen);
    if (tlen)
        memcpy(h + ITEM_HDR + hlen, tail, tlen);
    pl->buf_len += ITEM_HDR + hlen + tlen;
    return 0;
}

static int buf_u64_item(struct md_plog *pl, uint8_t type, uint64_t v)
{
    uint8_t p[8];
    md_put_be64(p, v);
    return buf_item(pl, type, p, sizeof(p), NULL, 0);
}

static int buf_entry(struct md_plog *pl, const struct paxos_entry *e)
{
    uint8_t p[16];
    md_put_be64(p, e->slot);
    md_put_be64(p + 8, e->ballot);
    return buf_item(pl, ITEM_ENTRY, p, sizeof(p), e->data, e->len);
}

/* The length of the whole, checksummed frame at buf[off..n), or 0. */
static size_t frame_valid(const uint8_t *buf, size_t n, size_t off)
{
    if (n - off < FRAME_HDR || buf[off] != (uint8_t)(FRAME_MAGIC >> 8) ||
        buf[off + 1] != (uint8_t)FRAME_MAGIC)
        return 0;
    uint32_t len = md_get_be32(buf + off + 11);
    if (len > FRAME_MAX || len > n - off - FRAME_HDR)
        return 0;
    uint32_t crc = ec_crc32c_update(ec_crc32c(buf + off, 15), buf + off + FRAME_HDR, len);
    return crc == md_get_be32(buf + off + 15) ? FRAME_HDR + len : 0;
}

/* ---- the restored log, edited while the segments are replayed ---- */

/* The index of the first entry with slot >= slot. */
static uint32_t rs_lower(const struct md_plog_restored *rs, uint64_t slot)
{
    uint32_t lo = 0, hi = rs->n_entries;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rs->entries[mid].slot < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int rs_set(struct md_plog_restored *rs, uint64_t slot, uint64_t ballot, const uint8_t *data,
                  uint32_t len)
{
    uint8_t *blob = malloc(len ? len : 1);
    if (!blob)
        return CAIRN_E_NOMEM;
    memcpy(blob, data, len);
    uint32_t i = rs->n_entries && rs->entries[rs->n_entries - 1].slot < slot ? rs->n_entries
                                                                             : rs_lower(rs, slot);
    if (i < rs->n_entries && rs->entries[i].slot == slot) {
        free(rs->blobs[i]);
    } else {
        if (rs->n_entries == rs->cap) {
            uint32_t cap = rs->cap ? 2 * rs->cap : 64;
            struct paxos_entry *ne = realloc(rs->entries, cap * sizeof(*ne));
            if (ne)
                rs->entries = ne;
            uint8_t **nb = ne ? realloc(rs->blobs, cap * sizeof(*nb)) : NULL;
            if (!nb) {
                free(blob);
                return CAIRN_E_NOMEM;
            }
            rs->blobs = nb;
            rs->cap = cap;
        }
        memmove(rs->entries + i + 1, rs->entries + i, (rs->n_entries - i) * sizeof(*rs->entries));
        memmove(rs->blobs + i + 1, rs->blobs + i, (rs->n_entries - i) * sizeof(*rs->blobs));
        rs->n_entries++;
    }
    rs->blobs[i] = blob;
    rs->entries[i] = (struct paxos_entry){.slot = slot, .ballot = ballot, .len = len, .data = blob};
    return 0;
}

static void rs_trim(struct md_plog_restored *rs, uint64_t through)
{
    uint32_t n = rs_lower(rs, through + 1);
    if (n == 0)
        return;
    for (uint32_t i = 0; i < n; i++)
        free(rs->blobs[i]);
    memmove(rs->entries, rs->entries + n, (rs->n_entries - n) * sizeof(*rs->entries));
    memmove(rs->blobs, rs->blobs + n, (rs->n_entries - n) * sizeof(*rs->blobs));
    rs->n_entries -= n;
}

/* ---- open ---- */

static int segs_push(struct md_plog *pl, uint64_t id)
{
    if (pl->n_segs == pl->cap_segs) {
        size_t cap = pl->cap_segs ? 2 * pl->cap_segs : 8;
        struct plog_seg *ns = realloc(pl->segs, cap * sizeof(*ns));
        if (!ns)
            return CAIRN_E_NOMEM;
        pl->segs = ns;
        pl->cap_segs = cap;
    }
    pl->segs[pl->n_segs++] = (struct plog_seg){.id = id};
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct plog_seg *)a)->id, y = ((const struct plog_seg *)b)->id;
    return x < y ? -1 : x > y;
}

/* Lists the segment files of pl->dir into pl->segs (sorted). */
static int list_segments(struct md_plog *pl)
{
    DIR *d = opendir(pl->dir);
    if (!d) {
        CN_ERROR(LOG, "cannot list %s: %s", pl->dir, strerror(errno));
        return CAIRN_E_IO;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name), pl_len = strlen(SEG_PREFIX), sl = strlen(SEG_SUFFIX);
        if (nl == pl_len + 16 + sl + strlen(SEG_TMP) &&
            strncmp(de->d_name, SEG_PREFIX, pl_len) == 0 &&
            strcmp(de->d_name + nl - strlen(SEG_TMP), SEG_TMP) == 0) {
            /* An interrupted move from the store: the keys are still there. */
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", pl->dir, de->d_name);
            if (unlink(path) != 0)
                rc = CAIRN_E_IO;
            continue;
        }
        if (nl != pl_len + 16 + sl || strncmp(de->d_name, SEG_PREFIX, pl_len) != 0 ||
            strcmp(de->d_name + pl_len + 16, SEG_SUFFIX) != 0)
            continue;
        char hex[17];
        memcpy(hex, de->d_name + pl_len, 16);
        hex[16] = 0;
        char *end;
        uint64_t id = strtoull(hex, &end, 16);
        if (*end == 0)
            rc = segs_push(pl, id);
    }
    closedir(d);
    if (rc == 0 && pl->n_segs > 1)
        qsort(pl->segs, pl->n_segs, sizeof(*pl->segs), seg_cmp);
    return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        CN_ERROR(LOG, "cannot open %s: %s", path, strerror(errno));
        return CAIRN_E_IO;
    }
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : CAIRN_E_IO;
    uint8_t *buf = NULL;
    if (rc == 0 && !(buf = malloc(st.st_size ? (size_t)st.st_size : 1)))
        rc = CAIRN_E_NOMEM;
    if (rc == 0 && st.st_size)
        rc = cn_pread_all(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    if (rc) {
        free(buf);
        return rc == CAIRN_E_CORRUPT ? CAIRN_E_IO : rc;
    }
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
}

/* Applies the items of one frame (segment i) to rs. */
static int replay_items(struct md_plog *pl, size_t i, struct md_plog_restored *rs, const uint8_t *p,
                        size_t n)
{
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n;) {
        if (n - off < ITEM_HDR)
            return CAIRN_E_CORRUPT;
        uint8_t type = p[off];
        uint32_t len = md_get_be32(p + off + 1);
        const uint8_t *v = p + off + ITEM_HDR;
        if (len > n - off - ITEM_HDR)
            return CAIRN_E_CORRUPT;
        if (type == ITEM_PROMISE && len == 8) {
            rs->promised = md_get_be64(v);
        } else if (type == ITEM_TRIM && len == 8) {
            if (md_get_be64(v) > pl->log_base) {
                pl->log_base = md_get_be64(v);
                rs_trim(rs, pl->log_base);
            }
        } else if (type == ITEM_ENTRY && len >= 16) {
            uint64_t slot = md_get_be64(v);
            if (slot > pl->segs[i].max_slot)
                pl->segs[i].max_slot = slot;
            if (slot > pl->log_base)
                rc = rs_set(rs, slot, md_get_be64(v + 8), v + 16, len - 16);
        } else {
            return CAIRN_E_CORRUPT;
        }
        off += ITEM_HDR + len;
    }
    return rc;
}

/* Replays segment i into rs. A bad frame in the last segment with nothing
 * valid after it is a torn tail: *keep is where the file must be cut (else
 * the file's length). A bad record anywhere else is CAIRN_E_CORRUPT. */
static int replay_segment(struct md_plog *pl, size_t i, struct md_plog_restored *rs, size_t *keep)
{
    char path[4096];
    seg_path(pl, pl->segs[i].id, path, sizeof(path));
    uint8_t *buf;
    size_t n;
    int rc = read_file(path, &buf, &n);
    if (rc)
        return rc;
    int last = i + 1 == pl->n_segs;
    size_t off = sizeof(SEG_MAGIC);
    if (n < sizeof(SEG_MAGIC) || memcmp(buf, SEG_MAGIC, sizeof(SEG_MAGIC)) != 0) {
        /* A segment created but never synced whole: only the last may be. */
        int torn = last && n <= sizeof(SEG_MAGIC) && memcmp(buf, SEG_MAGIC, n) == 0;
        free(buf);
        if (!torn) {
            CN_ERROR(LOG, "%s: not a Paxos log segment", path);
            return CAIRN_E_CORRUPT;
        }
        *keep = 0;
        return 0;
    }
    while (rc == 0 && off < n) {
        size_t fl = frame_valid(buf, n, off);
        if (fl == 0)
            break;
        rc = replay_items(pl, i, rs, buf + off + FRAME_HDR, fl - FRAME_HDR);
        if (rc == CAIRN_E_CORRUPT)
            CN_ERROR(LOG, "%s: a malformed item in the frame at offset %zu", path, off);
        pl->write_no = md_get_be64(buf + off + 3);
        pl->write_done = (buf[off + 2] & FRAME_LAST) != 0;
        off += fl;
    }
    if (rc == 0 && off < n) {
        /* Each write is synced before the next one starts: a valid frame
         * of a later write than the damaged one proves it was synced. The
         * damaged frame belongs to the write after the last whole one. */
        uint64_t torn_write = pl->write_no + (pl->write_done ? 1 : 0);
        int later = 0;
        for (size_t o = off + 1; !later && last && o + FRAME_HDR <= n; o++)
            later = frame_valid(buf, n, o) != 0 && md_get_be64(buf + o + 3) > torn_write;
        if (!last || later) {
            CN_ERROR(LOG, "%s: damaged record at offset %zu (%s)", path, off,
                     last ? "valid records follow it" : "not the last segment");
            rc = CAIRN_E_CORRUPT;
        } else {
            CN_WARN(LOG, "%s: torn tail of %zu bytes at offset %zu cut off", path, n - off, off);
        }
    }
    *keep = off < n ? off : n;
    free(buf);
    return rc;
}

/* Creates segment id (with tmp: under its name + SEG_TMP, for the caller to
 * rename once whole) as the active segment, and puts its magic and the
 * log's current promise and trim point (so older segments may be deleted)
 * into pl->buf, which must be empty (write_begin): the caller writes them
 * with what follows, syncs, then syncs the directory. */
static int new_segment(struct md_plog *pl, uint64_t id, int tmp)
{
    char path[4096];
    seg_path(pl, id, path, sizeof(path));
    if (tmp)
        strncat(path, SEG_TMP, sizeof(path) - strlen(path) - 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        CN_ERROR(LOG, "cannot create %s: %s", path, strerror(errno));
        return CAIRN_E_IO;
    }
    int rc = buf_reserve(pl, sizeof(SEG_MAGIC));
    if (rc == 0) {
        memcpy(pl->buf, SEG_MAGIC, sizeof(SEG_MAGIC));
        pl->buf_len = sizeof(SEG_MAGIC);
        rc = buf_u64_item(pl, ITEM_PROMISE, pl->promised);
    }
    if (rc == 0)
        rc = buf_u64_item(pl, ITEM_TRIM, pl->log_base);
    if (rc == 0)
        rc = segs_push(pl, id);
    if (rc) {
        close(fd);
        unlink(path);
        return rc;
    }
    if (pl->fd >= 0)
        close(pl->fd);
    pl->fd = fd;
    pl->active_size = 0;
    return 0;
}

/* Writes pl->buf (closing its open frame, the write's last when last) to
 * the active segment; pl->buf is empty afterwards. */
static int write_flush(struct md_plog *pl, int last)
{
    frame_end(pl, last);
    int rc = pl->buf_len ? cn_write_all(pl->fd, pl->buf, pl->buf_len) : 0;
    if (rc == 0 && pl->buf_len)
        pl->write_no = pl->cur_write;
    pl->active_size += pl->buf_len;
    pl->buf_len = 0;
    return rc;
}

/* fdatasync of the active segment (and the directory when new_file). */
static int sync_active(struct md_plog *pl, int new_file)
{
    if (fdatasync(pl->fd) != 0) {
        CN_ERROR(LOG, "fdatasync of the Paxos log in %s: %s", pl->dir, strerror(errno));
        return CAIRN_E_IO;
    }
    return new_file ? cn_fsync_dir(pl->dir) : 0;
}

/* Deletes the oldest segments while everything they hold is trimmed. The
 * state machine must be durable through log_base first: its writes are not
 * synced one by one, and these entries are what would replay them. */
static int drop_trimmed(struct md_plog *pl)
{
    size_t n = 0;
    while (n + 1 < pl->n_segs && pl->segs[n].max_slot <= pl->log_base)
        n++;
    if (n == 0)
        return 0;
    int rc = md_store_sync(pl->store);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096];
        seg_path(pl, pl->segs[i].id, path, sizeof(path));
        if (unlink(path) != 0 && errno != ENOENT) {
            CN_ERROR(LOG, "cannot delete %s: %s", path, strerror(errno));
            rc = CAIRN_E_IO;
        }
    }
    if (rc == 0)
        rc = cn_fsync_dir(pl->dir);
    if (rc == 0) {
        memmove(pl->segs, pl->segs + n, (pl->n_segs - n) * sizeof(*pl->segs));
        pl->n_segs -= n;
    }
    return rc;
}

/* Moves a log kept in the store (an older Cairn) into the file log: written
 * whole and synced under a temporary name, then renamed to the first segment
 * (so a crash in between leaves no segment, and the move starts over); the
 * caller then deletes the store's keys. */
static int migrate_from_store(struct md_plog *pl, const struct md_plog_restored *old)
{
    pl->promised = old->promised;
    write_begin(pl);
    int rc = new_segment(pl, 1, 1);
    for (uint32_t i = 0; rc == 0 && i < old->n_entries; i++) {
        rc = buf_entry(pl, &old->entries[i]);
        if (rc == 0 && old->entries[i].slot > pl->segs[0].max_slot)
            pl->segs[0].max_slot = old->entries[i].slot;
        if (rc == 0 && pl->buf_len >= (4u << 20)) /* one write, several frames */
            rc = write_flush(pl, 0);
    }
    if (rc == 0)
        rc = write_flush(pl, 1);
    if (rc == 0 && fdatasync(pl->fd) != 0)
        rc = CAIRN_E_IO;
    char tmp[4096], path[4096];
    seg_path(pl, 1, path, sizeof(path));
    seg_path(pl, 1, tmp, sizeof(tmp) - strlen(SEG_TMP));
    strcat(tmp, SEG_TMP);
    if (rc == 0 && rename(tmp, path) != 0) {
        CN_ERROR(LOG, "cannot rename %s: %s", tmp, strerror(errno));
        rc = CAIRN_E_IO;
    }
    if (rc == 0)
        rc = cn_fsync_dir(pl->dir);
    if (rc == 0)
        CN_INFO(LOG, "Paxos log moved from the store to %s: %u entries", pl->dir, old->n_entries);
    return rc;
}

/* Deletes the store's log keys ("Pp", "PL"...) and syncs. */
static int clear_store_log(struct md_store *store, const struct md_plog_restored *old)
{
    struct md_batch *b = md_batch_new();
    if (!b)
        return CAIRN_E_NOMEM;
    int rc = md_batch_del(b, KEY_PROMISE, sizeof(KEY_PROMISE));
    for (uint32_t i = 0; rc == 0 && i < old->n_entries; i++) {
        uint8_t k[LOG_KEY_LEN];
        log_key(old->entries[i].slot, k);
        rc = md_batch_del(b, k, sizeof(k));
    }
    if (rc == 0)
        rc = md_store_write(store, b);
    if (rc == 0)
        rc = md_store_sync(store);
    md_batch_free(b);
    return rc;
}

/* Creates segment id holding only the promise and trim point, synced. */
static int fresh_segment(struct md_plog *pl, uint64_t id)
{
    write_begin(pl);
    int rc = new_segment(pl, id, 0);
    if (rc == 0)
        rc = write_flush(pl, 1);
    return rc ? rc : sync_active(pl, 1);
}

static int file_open(struct md_plog *pl, uint64_t applied, struct md_plog_restored *rs)
{
    if (mkdir(pl->dir, 0755) != 0 && errno != EEXIST) {
        CN_ERROR(LOG, "cannot create %s: %s", pl->dir, strerror(errno));
        return CAIRN_E_IO;
    }
    /* A log an older Cairn kept in the store. */
    struct md_plog_restored old = {0};
    int rc = load_promise(pl->store, &old.promised);
    if (rc == 0)
        rc = load_entries(pl->store, &old);
    if (rc == 0)
        rc = list_segments(pl);
    size_t keep = 0;
    for (size_t i = 0; rc == 0 && i < pl->n_segs; i++)
        rc = replay_segment(pl, i, rs, &keep);
    int had_store_log = old.promised != 0 || old.n_entries != 0;
    if (rc == 0 && pl->n_segs == 0 && had_store_log) {
        rc = migrate_from_store(pl, &old);
        /* As if replayed from the file. */
        for (uint32_t i = 0; rc == 0 && i < old.n_entries; i++)
            rc = rs_set(rs, old.entries[i].slot, old.entries[i].ballot, old.entries[i].data,
                        old.entries[i].len);
        rs->promised = old.promised;
    } else if (rc == 0 && pl->n_segs > 0) {
        char path[4096];
        seg_path(pl, pl->segs[pl->n_segs - 1].id, path, sizeof(path));
        pl->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (pl->fd < 0 || ftruncate(pl->fd, (off_t)keep) != 0 ||
            lseek(pl->fd, (off_t)keep, SEEK_SET) < 0 || fdatasync(pl->fd) != 0) {
            CN_ERROR(LOG, "cannot reopen %s: %s", path, strerror(errno));
            rc = CAIRN_E_IO;
        }
        pl->active_size = keep;
        pl->promised = rs->promised;
        if (rc == 0 && keep == 0) {
            /* The last segment was created and never written: recreate. */
            pl->n_segs--;
            rc = fresh_segment(pl, pl->segs[pl->n_segs].id);
        }
    } else if (rc == 0) {
        pl->promised = 0;
        rc = fresh_segment(pl, 1);
    }
    /* The migration is complete once the file holds the log: only then are
     * the store's keys dropped (a crash in between migrates again, or here
     * finds the file and only drops them). */
    if (rc == 0 && had_store_log)
        rc = clear_store_log(pl->store, &old);
    md_plog_restored_free(&old);
    if (rc == 0 && pl->log_base > applied) {
        CN_ERROR(LOG,
                 "the Paxos log in %s was trimmed through slot %" PRIu64
                 " but the state machine is durable only through %" PRIu64,
                 pl->dir, pl->log_base, applied);
        rc = CAIRN_E_CORRUPT;
    }
    return rc;
}

int md_plog_open_dir(struct md_store *store, const char *dir, uint64_t segment_bytes,
                     uint64_t applied, struct md_plog **out, struct md_plog_restored *rs)
{
    memset(rs, 0, sizeof(*rs));
    struct md_plog *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return CAIRN_E_NOMEM;
    pl->store = store;
    pl->fd = -1;
    pl->write_done = 1; /* (no write yet: the first is whole) */
    pl->segment_bytes = segment_bytes ? segment_bytes : MD_PLOG_SEGMENT_BYTES;
    pl->frame_split = pl->segment_bytes / 4 < FRAME_SPLIT ? pl->segment_bytes / 4 : FRAME_SPLIT;
    pl->dir = strdup(dir);
    int rc = pl->dir ? file_open(pl, applied, rs) : CAIRN_E_NOMEM;
    if (rc != 0) {
        md_plog_restored_free(rs);
        md_plog_free(pl);
        return rc;
    }
    *out = pl;
    return 0;
}

static int file_write(struct md_plog *pl, struct md_plog_batch *recs, uint64_t *max_seq,
                      int64_t *sync_us)
{
    int rc = 0, new_file = 0, trimmed = 0;
    write_begin(pl);
    if (pl->active_size >= pl->segment_bytes) {
        rc = new_segment(pl, pl->segs[pl->n_segs - 1].id + 1, 0);
        new_file = 1;
    }
    uint64_t top = 0;
    struct plog_seg *act = rc == 0 ? &pl->segs[pl->n_segs - 1] : NULL;
    for (size_t i = 0; rc == 0 && i < recs->n; i++) {
        const struct md_plog_rec *r = &recs->recs[i];
        if (r->promised != pl->promised) {
            rc = buf_u64_item(pl, ITEM_PROMISE, r->promised);
            pl->promised = r->promised;
        }
        if (rc == 0 && r->trim_through > pl->log_base) {
            rc = buf_u64_item(pl, ITEM_TRIM, r->trim_through);
            pl->log_base = r->trim_through;
            trimmed = 1;
        }
        for (uint32_t e = 0; rc == 0 && e < r->n_entries; e++) {
            rc = buf_entry(pl, &r->entries[e]);
            if (r->entries[e].slot > act->max_slot)
                act->max_slot = r->entries[e].slot;
        }
        if (r->seq > top)
            top = r->seq;
    }
    md_plog_batch_clear(recs);
    int wrote = pl->buf_len > 0; /* (nothing changed: nothing to sync) */
    if (rc == 0)
        rc = write_flush(pl, 1);
    pl->buf_len = 0;
    if (pl->buf_cap > (16u << 20)) { /* one huge batch: do not keep its buffer */
        free(pl->buf);
        pl->buf = NULL;
        pl->buf_cap = 0;
    }
    int64_t t0 = cn_mono_us();
    if (rc == 0 && wrote)
        rc = sync_active(pl, new_file);
    if (sync_us)
        *sync_us = wrote ? cn_mono_us() - t0 : -1;
    if (rc == 0 && (trimmed || new_file))
        rc = drop_trimmed(pl);
    if (rc == 0)
        *max_seq = top;
    return rc;
}

size_t md_plog_segments(const struct md_plog *pl)
{
    return pl->dir ? pl->n_segs : 0;
}

/* -------------------------------------------------------------- identity -- */

static const uint8_t KEY_ID[] = {'P', 'i'};
static const uint8_t KEY_JOIN[] = {'P', 'j'};

int md_plog_identity_get(struct md_store *store, uint32_t *id, struct paxos_membership *out_m)
{
    void *v = NULL;
    size_t vl = 0;
    int rc = md_store_get(store, KEY_ID, sizeof(KEY_ID), &v, &vl);
    if (rc)
        return rc;
    if (vl != 4) {
        free(v);
        return CAIRN_E_CORRUPT;
    }
    const uint8_t *b = v;
    *id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    free(v);
    if (!out_m)
        return 0;
    memset(out_m, 0, sizeof(*out_m));
    if ((rc = md_store_get(store, KEY_JOIN, sizeof(KEY_JOIN), &v, &vl)) != 0)
        return rc == CAIRN_E_NOTFOUND ? CAIRN_E_CORRUPT : rc;
    Md__MembershipRecord *m = md__membership_record__unpack(NULL, vl, v);
    free(v);
    if (!m || m->n_voters == 0 || m->n_voters > PAXOS_MAX_REPLICAS ||
        m->n_learners > PAXOS_MAX_REPLICAS) {
        if (m)
            md__membership_record__free_unpacked(m, NULL);
        return CAIRN_E_CORRUPT;
    }
    out_m->n_voters = (uint32_t)m->n_voters;
    out_m->n_learners = (uint32_t)m->n_learners;
    memcpy(out_m->voters, m->voters, m->n_voters * sizeof(uint32_t));
    if (m->n_learners) /* (no learners: protobuf-c leaves the array NULL) */
        memcpy(out_m->learners, m->learners, m->n_learners * sizeof(uint32_t));
    md__membership_record__free_unpacked(m, NULL);
    return 0;
}

int md_plog_identity_put(struct md_store *store, uint32_t id, const struct paxos_membership *m)
{
    uint8_t idb[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    Md__MembershipRecord r = MD__MEMBERSHIP_RECORD__INIT;
    r.voters = (uint32_t *)m->voters;
    r.n_voters = m->n_voters;
    r.learners = (uint32_t *)m->learners;
    r.n_learners = m->n_learners;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cn_pb_pack(&r.base, &buf, &len);
    struct md_batch *b = rc ? NULL : md_batch_new();
    if (!rc && !b)
        rc = CAIRN_E_NOMEM;
    if (!rc)
        rc = md_batch_put(b, KEY_JOIN, sizeof(KEY_JOIN), buf, len);
    if (!rc)
        rc = md_batch_put(b, KEY_ID, sizeof(KEY_ID), idb, sizeof(idb));
    if (!rc)
        rc = md_store_write(store, b);
    if (!rc)
        rc = md_store_sync(store);
    md_batch_free(b);
    free(buf);
    return rc;
}
