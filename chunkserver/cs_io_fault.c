/* The fault-injecting in-memory file system of cs_io_fault.h.
 *
 * Nodes (files and directories) live in one list owned by the file system
 * and are collected (mark and sweep from the root, the open descriptors and
 * every directory's current entries, durable entries and change log) after
 * each operation that can orphan one. This is a test double: an allocation
 * failure inside an operation aborts the process rather than growing an
 * error path of its own. */
#include "cs_io_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "cn_error.h"

#define BLOCK     4096u /* space accounting unit */
#define SECTOR    512u  /* torn writes land in multiples of this */
#define MAX_RULES 8
#define NAME_MAX_ 255

typedef struct mnode mnode;

typedef struct dentry {
    char *name;
    mnode *node;
} dentry;

typedef struct dentries {
    dentry *v;
    size_t n, cap;
} dentries;

/* One change of a directory's entries since its last sync. */
enum change_kind {
    CH_SET,  /* name -> node (create, mkdir, the arriving half of a rename) */
    CH_DEL,  /* name removed (unlink, the leaving half of a rename) */
    CH_MOVE, /* rename within the directory: to -> node, name removed, atomically */
};

typedef struct change {
    enum change_kind kind;
    char *name;
    char *to;
    mnode *node;
} change;

/* One write (or truncation) of a file since its last sync. */
typedef struct pending {
    uint64_t off, len;
    uint8_t *bytes; /* NULL for a truncation to off */
} pending;

struct mnode {
    mnode *next; /* every node of the file system */
    bool dir;
    bool mark; /* reachable in some state (collect) */
    bool live; /* reachable now (used_bytes) */
    int64_t mtime_s;
    /* files */
    uint8_t *data;
    uint64_t len, cap;
    uint8_t *synced;
    uint64_t synced_len;
    pending *pend;
    size_t npend, cappend;
    int lock_fd; /* descriptor holding the lock, -1 for none */
    /* directories */
    dentries ents;  /* current */
    dentries dents; /* durable */
    change *log;
    size_t nlog, caplog;
};

typedef struct ofile {
    mnode *node;
    int flags;
    bool used;
} ofile;

typedef struct rule {
    bool used;
    bool crash;
    bool persist;
    bool fired;
    enum cs_io_op op;
    uint64_t remaining; /* matching calls until it fires */
    int err;
} rule;

struct cs_io_fault {
    cs_io io;
    pthread_mutex_t mu;
    mnode *root;
    mnode *nodes;
    ofile *files;
    size_t nfiles, capfiles;
    uint64_t capacity;
    uint64_t rng;
    uint64_t counts[CS_IO_OP__COUNT + 1];
    uint8_t *calls; /* the operation of each call since the reset */
    size_t ncalls, capcalls;
    rule rules[MAX_RULES];
    bool crashed;
};

static const char *const op_names[CS_IO_OP__COUNT + 1] = {
    "open", "close", "pread",  "pwrite", "fsync", "fdatasync", "writeback", "fstat", "lock",
    "stat", "mkdir", "rename", "unlink", "list",  "sync_dir",  "space",     "any",
};

const char *cs_io_op_name(enum cs_io_op op)
{
    return (unsigned)op <= CS_IO_OP__COUNT ? op_names[op] : "?";
}

/* ---------------------------------------------------------- helpers -- */

static void *must(void *p)
{
    if (p == NULL) {
        fputs("cs_io_fault: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return v;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    *cap = c;
    return must(realloc(v, c * elem));
}

static char *dup_str(const char *s)
{
    return must(strdup(s));
}

static uint64_t rng_next(cs_io_fault *f)
{
    /* xorshift64* */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t blocks_of(uint64_t len)
{
    return (len + BLOCK - 1) / BLOCK * BLOCK;
}

static int fail_errno(int e)
{
    errno = e;
    switch (e) {
    case ENOENT:
        return CAIRN_E_NOTFOUND;
    case EEXIST:
        return CAIRN_E_EXISTS;
    case ENOSPC:
        return CAIRN_E_NOSPACE;
    case EWOULDBLOCK:
        return CAIRN_E_BUSY;
    default:
        return CAIRN_E_IO;
    }
}

/* ------------------------------------------------------ directories -- */

/* The index of name in d, or CAIRN_E_NOTFOUND. */
static ssize_t dentries_find(const dentries *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].name, name) == 0)
            return (ssize_t)i;
    return CAIRN_E_NOTFOUND;
}

static void dentries_set(dentries *d, const char *name, mnode *node)
{
    ssize_t i = dentries_find(d, name);
    if (i >= 0) {
        d->v[i].node = node;
        return;
    }
    d->v = grow(d->v, &d->cap, d->n + 1, sizeof(*d->v));
    d->v[d->n].name = dup_str(name);
    d->v[d->n].node = node;
    d->n++;
}

static void dentries_del(dentries *d, const char *name)
{
    ssize_t i = dentries_find(d, name);
    if (i < 0)
        return;
    free(d->v[i].name);
    d->v[i] = d->v[d->n - 1];
    d->n--;
}

static void dentries_clear(dentries *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].name);
    d->n = 0;
}

static void dentries_copy(dentries *dst, const dentries *src)
{
    dentries_clear(dst);
    for (size_t i = 0; i < src->n; i++)
        dentries_set(dst, src->v[i].name, src->v[i].node);
}

static void change_apply(dentries *d, const change *c)
{
    switch (c->kind) {
    case CH_SET:
        dentries_set(d, c->name, c->node);
        break;
    case CH_DEL:
        dentries_del(d, c->name);
        break;
    case CH_MOVE:
        dentries_set(d, c->to, c->node);
        dentries_del(d, c->name);
        break;
    }
}

/* Applies a change to dir's current entries and logs it. */
static void dir_change(mnode *dir, enum change_kind kind, const char *name, const char *to,
                       mnode *node)
{
    change c = {.kind = kind, .name = dup_str(name), .to = to ? dup_str(to) : NULL, .node = node};
    change_apply(&dir->ents, &c);
    dir->log = grow(dir->log, &dir->caplog, dir->nlog + 1, sizeof(*dir->log));
    dir->log[dir->nlog++] = c;
    dir->mtime_s = (int64_t)time(NULL);
}

static void log_clear(mnode *dir)
{
    for (size_t i = 0; i < dir->nlog; i++) {
        free(dir->log[i].name);
        free(dir->log[i].to);
    }
    dir->nlog = 0;
}

static void dir_sync(mnode *dir)
{
    dentries_copy(&dir->dents, &dir->ents);
    log_clear(dir);
}

/* ------------------------------------------------------------ nodes -- */

static mnode *node_new(cs_io_fault *f, bool dir)
{
    mnode *n = must(calloc(1, sizeof(*n)));
    n->dir = dir;
    n->lock_fd = -1;
    n->mtime_s = (int64_t)time(NULL);
    n->next = f->nodes;
    f->nodes = n;
    return n;
}

static void pending_clear(mnode *n)
{
    for (size_t i = 0; i < n->npend; i++)
        free(n->pend[i].bytes);
    n->npend = 0;
}

static void node_free(mnode *n)
{
    free(n->data);
    free(n->synced);
    pending_clear(n);
    free(n->pend);
    dentries_clear(&n->ents);
    free(n->ents.v);
    dentries_clear(&n->dents);
    free(n->dents.v);
    log_clear(n);
    free(n->log);
    free(n);
}

static void mark(mnode *n)
{
    if (n == NULL || n->mark)
        return;
    n->mark = true;
    if (!n->dir)
        return;
    for (size_t i = 0; i < n->ents.n; i++)
        mark(n->ents.v[i].node);
    for (size_t i = 0; i < n->dents.n; i++)
        mark(n->dents.v[i].node);
    for (size_t i = 0; i < n->nlog; i++)
        mark(n->log[i].node);
}

/* Frees every node nothing can reach any more. */
static void collect(cs_io_fault *f)
{
    for (mnode *n = f->nodes; n; n = n->next)
        n->mark = false;
    mark(f->root);
    for (size_t i = 0; i < f->nfiles; i++)
        if (f->files[i].used)
            mark(f->files[i].node);
    mnode **link = &f->nodes;
    while (*link) {
        mnode *n = *link;
        if (n->mark) {
            link = &n->next;
        } else {
            *link = n->next;
            node_free(n);
        }
    }
}

static void mark_live(mnode *n)
{
    if (n == NULL || n->live)
        return;
    n->live = true;
    for (size_t i = 0; n->dir && i < n->ents.n; i++)
        mark_live(n->ents.v[i].node);
}

/* Space taken by what the current state can reach: a file removed but
 * restorable by a power loss takes none, as on a real disk. */
static uint64_t used_bytes(cs_io_fault *f)
{
    for (mnode *n = f->nodes; n; n = n->next)
        n->live = false;
    mark_live(f->root);
    for (size_t i = 0; i < f->nfiles; i++)
        if (f->files[i].used)
            mark_live(f->files[i].node);
    uint64_t used = 0;
    for (const mnode *n = f->nodes; n; n = n->next)
        if (n->live)
            used += n->dir ? BLOCK : blocks_of(n->len);
    return used;
}

static void file_reserve(mnode *n, uint64_t len)
{
    if (len <= n->cap)
        return;
    uint64_t c = n->cap ? n->cap : 4096;
    while (c < len)
        c *= 2;
    n->data = must(realloc(n->data, (size_t)c));
    n->cap = c;
}

/* Writes into the current content, zero-filling any gap. */
static void file_put(mnode *n, uint64_t off, const uint8_t *bytes, uint64_t len)
{
    if (len == 0 && off <= n->len)
        return;
    file_reserve(n, off + len);
    if (off > n->len)
        memset(n->data + n->len, 0, (size_t)(off - n->len));
    if (bytes)
        memcpy(n->data + off, bytes, (size_t)len);
    else
        memset(n->data + off, 0, (size_t)len);
    if (off + len > n->len)
        n->len = off + len;
}

static void pending_add(mnode *n, uint64_t off, const uint8_t *bytes, uint64_t len)
{
    n->pend = grow(n->pend, &n->cappend, n->npend + 1, sizeof(*n->pend));
    pending *p = &n->pend[n->npend++];
    p->off = off;
    p->len = len;
    p->bytes = NULL;
    if (bytes) {
        p->bytes = must(malloc(len ? (size_t)len : 1));
        if (len > 0)
            memcpy(p->bytes, bytes, (size_t)len);
    }
}

static void file_sync(mnode *n)
{
    free(n->synced);
    n->synced = must(malloc(n->len ? (size_t)n->len : 1));
    if (n->len > 0)
        memcpy(n->synced, n->data, (size_t)n->len);
    n->synced_len = n->len;
    pending_clear(n);
}

/* ------------------------------------------------------------ paths -- */

/* Finds the directory holding path and copies its last component into leaf
 * ("" for "/"). Returns 0 or a CAIRN_E code (errno set). */
static int resolve_parent(cs_io_fault *f, const char *path, mnode **parent,
                          char leaf[NAME_MAX_ + 1])
{
    if (path == NULL || path[0] != '/')
        return fail_errno(EINVAL);
    mnode *dir = f->root;
    const char *p = path;
    leaf[0] = '\0';
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > NAME_MAX_)
            return fail_errno(ENAMETOOLONG);
        const char *rest = p + len;
        while (*rest == '/')
            rest++;
        if (*rest == '\0') {
            memcpy(leaf, p, len);
            leaf[len] = '\0';
            break;
        }
        char name[NAME_MAX_ + 1];
        memcpy(name, p, len);
        name[len] = '\0';
        ssize_t i = dentries_find(&dir->ents, name);
        if (i < 0)
            return fail_errno(ENOENT);
        dir = dir->ents.v[i].node;
        if (!dir->dir)
            return fail_errno(ENOTDIR);
        p = rest;
    }
    *parent = dir;
    return 0;
}

static int resolve(cs_io_fault *f, const char *path, mnode **out)
{
    mnode *parent;
    char leaf[NAME_MAX_ + 1];
    int rc = resolve_parent(f, path, &parent, leaf);
    if (rc != 0)
        return rc;
    if (leaf[0] == '\0') {
        *out = f->root;
        return 0;
    }
    ssize_t i = dentries_find(&parent->ents, leaf);
    if (i < 0)
        return fail_errno(ENOENT);
    *out = parent->ents.v[i].node;
    return 0;
}

static ofile *file_of(cs_io_fault *f, int fd)
{
    if (fd < 0 || (size_t)fd >= f->nfiles || !f->files[fd].used)
        return NULL;
    return &f->files[fd];
}

/* ----------------------------------------------------------- faults -- */

/* Counts a call of op and decides whether it fails. Returns 0 to go on. */
static int enter(cs_io_fault *f, enum cs_io_op op)
{
    f->counts[op]++;
    f->counts[CS_IO_OP_ANY]++;
    f->calls = grow(f->calls, &f->capcalls, f->ncalls + 1, 1);
    f->calls[f->ncalls++] = (uint8_t)op;
    if (f->crashed)
        return fail_errno(EIO);
    int err = 0;
    for (int i = 0; i < MAX_RULES; i++) {
        rule *r = &f->rules[i];
        if (!r->used || (r->op != CS_IO_OP_ANY && r->op != op))
            continue;
        if (!r->fired) {
            if (--r->remaining > 0)
                continue;
            r->fired = true;
            if (r->crash)
                f->crashed = true;
            else
                err = r->err;
            if (!r->persist)
                r->used = false;
        } else if (r->persist && !r->crash) {
            err = r->err;
        }
    }
    if (f->crashed)
        return fail_errno(EIO);
    if (err != 0)
        return fail_errno(err == CAIRN_E_NOSPACE ? ENOSPC : EIO);
    return 0;
}

/* --------------------------------------------------------- the ops -- */

#define FAULT(io) ((cs_io_fault *)(io)->impl)

static int f_open(const cs_io *io, const char *path, int flags, int *fd)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_OPEN);
    mnode *parent, *n = NULL;
    char leaf[NAME_MAX_ + 1];
    if (rc == 0)
        rc = resolve_parent(f, path, &parent, leaf);
    if (rc == 0 && leaf[0] == '\0')
        n = f->root;
    if (rc == 0 && n == NULL) {
        ssize_t i = dentries_find(&parent->ents, leaf);
        if (i >= 0 && (flags & CS_IO_CREATE) && (flags & CS_IO_EXCL))
            rc = fail_errno(EEXIST);
        else if (i >= 0)
            n = parent->ents.v[i].node;
        else if (!(flags & CS_IO_CREATE))
            rc = fail_errno(ENOENT);
    }
    if (rc == 0 && n != NULL && n->dir && (flags & CS_IO_WRITE))
        rc = fail_errno(EISDIR);
    if (rc == 0) {
        if (n == NULL) {
            n = node_new(f, false);
            dir_change(parent, CH_SET, leaf, NULL, n);
        } else if ((flags & CS_IO_TRUNC) && (flags & CS_IO_WRITE) && n->len > 0) {
            n->len = 0;
            pending_add(n, 0, NULL, 0);
            n->mtime_s = (int64_t)time(NULL);
        }
        size_t slot = 0;
        while (slot < f->nfiles && f->files[slot].used)
            slot++;
        if (slot == f->nfiles) {
            f->files = grow(f->files, &f->capfiles, f->nfiles + 1, sizeof(*f->files));
            f->nfiles++;
        }
        f->files[slot] = (ofile){.node = n, .flags = flags, .used = true};
        *fd = (int)slot;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_close(const cs_io *io, int fd)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_CLOSE);
    ofile *of = file_of(f, fd);
    if (of == NULL) {
        rc = fail_errno(EBADF);
    } else {
        /* Released even when the call fails, as on Linux. */
        if (of->node->lock_fd == fd)
            of->node->lock_fd = -1;
        of->used = false;
        of->node = NULL;
        collect(f);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* Counts the call and finds a file descriptor's node; *rc set on failure. */
static mnode *fd_node(cs_io_fault *f, enum cs_io_op op, int fd, int need_flags, int *rc)
{
    *rc = enter(f, op);
    if (*rc != 0)
        return NULL;
    ofile *of = file_of(f, fd);
    if (of == NULL || (of->flags & need_flags) != need_flags) {
        *rc = fail_errno(EBADF);
        return NULL;
    }
    return of->node;
}

static int f_pread(const cs_io *io, int fd, void *buf, size_t len, uint64_t off, size_t *done)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    mnode *n = fd_node(f, CS_IO_OP_PREAD, fd, CS_IO_READ, &rc);
    if (n != NULL && n->dir)
        rc = fail_errno(EISDIR);
    if (rc == 0) {
        uint64_t take = off >= n->len ? 0 : n->len - off;
        if (take > len)
            take = len;
        if (take > 0)
            memcpy(buf, n->data + off, (size_t)take);
        *done = (size_t)take;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_pwrite(const cs_io *io, int fd, const void *buf, size_t len, uint64_t off,
                    size_t *done)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    mnode *n = fd_node(f, CS_IO_OP_PWRITE, fd, CS_IO_WRITE, &rc);
    if (rc == 0 && off + len > n->len) {
        uint64_t growth = blocks_of(off + len) - blocks_of(n->len);
        uint64_t used = used_bytes(f);
        if (used + growth > f->capacity)
            rc = fail_errno(ENOSPC);
    }
    if (rc == 0) {
        file_put(n, off, buf, len);
        pending_add(n, off, buf, len);
        n->mtime_s = (int64_t)time(NULL);
        *done = len;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int sync_fd(const cs_io *io, int fd, enum cs_io_op op)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    mnode *n = fd_node(f, op, fd, 0, &rc);
    if (rc == 0) {
        if (n->dir)
            dir_sync(n);
        else
            file_sync(n);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_fsync(const cs_io *io, int fd)
{
    return sync_fd(io, fd, CS_IO_OP_FSYNC);
}

static int f_fdatasync(const cs_io *io, int fd)
{
    return sync_fd(io, fd, CS_IO_OP_FDATASYNC);
}

static int f_writeback(const cs_io *io, int fd, uint64_t off, uint64_t len)
{
    (void)off;
    (void)len;
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    fd_node(f, CS_IO_OP_WRITEBACK, fd, 0, &rc); /* a hint: no effect on durability */
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void stat_of(const mnode *n, cs_io_stat *st)
{
    st->size = n->dir ? BLOCK : n->len;
    st->mtime_s = n->mtime_s;
}

static int f_fstat(const cs_io *io, int fd, cs_io_stat *st)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    mnode *n = fd_node(f, CS_IO_OP_FSTAT, fd, 0, &rc);
    if (rc == 0)
        stat_of(n, st);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_lock(const cs_io *io, int fd)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc;
    mnode *n = fd_node(f, CS_IO_OP_LOCK, fd, 0, &rc);
    if (rc == 0) {
        if (n->lock_fd >= 0 && n->lock_fd != fd)
            rc = fail_errno(EWOULDBLOCK);
        else
            n->lock_fd = fd;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_stat(const cs_io *io, const char *path, cs_io_stat *st)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_STAT);
    mnode *n;
    if (rc == 0)
        rc = resolve(f, path, &n);
    if (rc == 0)
        stat_of(n, st);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_mkdir(const cs_io *io, const char *path)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_MKDIR);
    mnode *parent;
    char leaf[NAME_MAX_ + 1];
    if (rc == 0)
        rc = resolve_parent(f, path, &parent, leaf);
    if (rc == 0 && (leaf[0] == '\0' || dentries_find(&parent->ents, leaf) >= 0))
        rc = fail_errno(EEXIST);
    if (rc == 0 && used_bytes(f) + BLOCK > f->capacity)
        rc = fail_errno(ENOSPC);
    if (rc == 0)
        dir_change(parent, CH_SET, leaf, NULL, node_new(f, true));
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_rename(const cs_io *io, const char *from, const char *to)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_RENAME);
    mnode *src, *dst, *n = NULL;
    char from_leaf[NAME_MAX_ + 1], to_leaf[NAME_MAX_ + 1];
    if (rc == 0)
        rc = resolve_parent(f, from, &src, from_leaf);
    if (rc == 0)
        rc = resolve_parent(f, to, &dst, to_leaf);
    if (rc == 0 && (from_leaf[0] == '\0' || to_leaf[0] == '\0'))
        rc = fail_errno(EBUSY);
    if (rc == 0) {
        ssize_t i = dentries_find(&src->ents, from_leaf);
        if (i < 0)
            rc = fail_errno(ENOENT);
        else
            n = src->ents.v[i].node;
    }
    if (rc == 0 && n->dir)
        rc = fail_errno(EISDIR); /* the store renames files only */
    if (rc == 0) {
        ssize_t j = dentries_find(&dst->ents, to_leaf);
        if (j >= 0 && dst->ents.v[j].node->dir)
            rc = fail_errno(EISDIR);
    }
    if (rc == 0 && !(src == dst && strcmp(from_leaf, to_leaf) == 0)) {
        if (src == dst) {
            dir_change(src, CH_MOVE, from_leaf, to_leaf, n);
        } else {
            dir_change(dst, CH_SET, to_leaf, NULL, n);
            dir_change(src, CH_DEL, from_leaf, NULL, NULL);
        }
        collect(f);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_unlink(const cs_io *io, const char *path)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_UNLINK);
    mnode *parent;
    char leaf[NAME_MAX_ + 1];
    if (rc == 0)
        rc = resolve_parent(f, path, &parent, leaf);
    ssize_t i = -1;
    if (rc == 0) {
        i = leaf[0] ? dentries_find(&parent->ents, leaf) : CAIRN_E_NOTFOUND;
        if (i < 0)
            rc = fail_errno(leaf[0] ? ENOENT : EISDIR);
    }
    if (rc == 0 && parent->ents.v[i].node->dir)
        rc = fail_errno(EISDIR);
    if (rc == 0) {
        dir_change(parent, CH_DEL, leaf, NULL, NULL);
        collect(f);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_list(const cs_io *io, const char *path, cs_io_name_fn fn, void *arg)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_LIST);
    mnode *n;
    if (rc == 0)
        rc = resolve(f, path, &n);
    if (rc == 0 && !n->dir)
        rc = fail_errno(ENOTDIR);
    char **names = NULL;
    size_t count = 0;
    if (rc == 0) {
        /* A snapshot: fn may change the directory (the store unlinks in it). */
        count = n->ents.n;
        names = must(calloc(count ? count : 1, sizeof(*names)));
        for (size_t i = 0; i < count; i++)
            names[i] = dup_str(n->ents.v[i].name);
    }
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = fn(arg, names[i]);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int f_sync_dir(const cs_io *io, const char *path)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_SYNC_DIR);
    mnode *n;
    if (rc == 0)
        rc = resolve(f, path, &n);
    if (rc == 0 && !n->dir)
        rc = fail_errno(ENOTDIR);
    if (rc == 0)
        dir_sync(n);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_space(const cs_io *io, const char *path, uint64_t *capacity, uint64_t *avail)
{
    cs_io_fault *f = FAULT(io);
    pthread_mutex_lock(&f->mu);
    int rc = enter(f, CS_IO_OP_SPACE);
    mnode *n;
    if (rc == 0)
        rc = resolve(f, path, &n);
    if (rc == 0) {
        uint64_t used = used_bytes(f);
        *capacity = f->capacity;
        *avail = used < f->capacity ? f->capacity - used : 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* ------------------------------------------------------- public API -- */

int cs_io_fault_new(uint64_t capacity_bytes, uint64_t seed, cs_io_fault **out)
{
    cs_io_fault *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return CAIRN_E_NOMEM;
    f->root = calloc(1, sizeof(*f->root));
    if (f->root == NULL) {
        free(f);
        return CAIRN_E_NOMEM;
    }
    f->root->dir = true;
    f->root->lock_fd = -1;
    f->root->mtime_s = (int64_t)time(NULL);
    f->nodes = f->root;
    f->capacity = capacity_bytes;
    /* splitmix64 of the seed: any seed, including 0, gives a good state. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    f->rng = (z ^ (z >> 31)) | 1;
    pthread_mutex_init(&f->mu, NULL);
    f->io = (cs_io){
        .impl = f,
        .open = f_open,
        .close = f_close,
        .pread = f_pread,
        .pwrite = f_pwrite,
        .fsync = f_fsync,
        .fdatasync = f_fdatasync,
        .writeback = f_writeback,
        .fstat = f_fstat,
        .lock = f_lock,
        .stat = f_stat,
        .mkdir = f_mkdir,
        .rename = f_rename,
        .unlink = f_unlink,
        .list = f_list,
        .sync_dir = f_sync_dir,
        .space = f_space,
    };
    *out = f;
    return 0;
}

void cs_io_fault_free(cs_io_fault *f)
{
    if (f == NULL)
        return;
    while (f->nodes) {
        mnode *n = f->nodes;
        f->nodes = n->next;
        node_free(n);
    }
    free(f->files);
    free(f->calls);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const cs_io *cs_io_fault_io(cs_io_fault *f)
{
    return &f->io;
}

uint64_t cs_io_fault_calls(cs_io_fault *f, enum cs_io_op op)
{
    pthread_mutex_lock(&f->mu);
    uint64_t n = (unsigned)op <= CS_IO_OP_ANY ? f->counts[op] : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

enum cs_io_op cs_io_fault_call_op(cs_io_fault *f, uint64_t n)
{
    pthread_mutex_lock(&f->mu);
    enum cs_io_op op = n >= 1 && n <= f->ncalls ? (enum cs_io_op)f->calls[n - 1] : CS_IO_OP_ANY;
    pthread_mutex_unlock(&f->mu);
    return op;
}

size_t cs_io_fault_open_files(cs_io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = 0;
    for (size_t i = 0; i < f->nfiles; i++)
        n += f->files[i].used;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void cs_io_fault_reset_counts(cs_io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->counts, 0, sizeof(f->counts));
    f->ncalls = 0;
    pthread_mutex_unlock(&f->mu);
}

static void arm(cs_io_fault *f, rule r)
{
    if (r.remaining == 0 || (unsigned)r.op > CS_IO_OP_ANY)
        return;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < MAX_RULES; i++) {
        if (!f->rules[i].used) {
            f->rules[i] = r;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

void cs_io_fault_fail(cs_io_fault *f, enum cs_io_op op, uint64_t nth, int err, bool persist)
{
    arm(f, (rule){.used = true, .op = op, .remaining = nth, .err = err, .persist = persist});
}

void cs_io_fault_crash_at(cs_io_fault *f, enum cs_io_op op, uint64_t nth)
{
    arm(f, (rule){.used = true, .crash = true, .op = op, .remaining = nth});
}

void cs_io_fault_clear(cs_io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->rules, 0, sizeof(f->rules));
    pthread_mutex_unlock(&f->mu);
}

void cs_io_fault_crash_now(cs_io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    f->crashed = true;
    pthread_mutex_unlock(&f->mu);
}

bool cs_io_fault_crashed(cs_io_fault *f)
{
    pthread_mutex_lock(&f->mu);
    bool c = f->crashed;
    pthread_mutex_unlock(&f->mu);
    return c;
}

/* A file after power loss: its durable content, plus (torn) some of what was
 * written since, each write whole, in part, as zeros or not at all. */
static void file_power_loss(cs_io_fault *f, mnode *n, bool torn)
{
    n->len = 0;
    file_put(n, 0, n->synced, n->synced_len);
    for (size_t i = 0; torn && i < n->npend; i++) {
        const pending *p = &n->pend[i];
        uint64_t r = rng_next(f);
        if (p->bytes == NULL) {
            if (r % 2 && p->off < n->len)
                n->len = p->off;
            continue;
        }
        switch (r % 4) {
        case 0: /* lost */
            break;
        case 1: /* landed */
            file_put(n, p->off, p->bytes, p->len);
            break;
        case 2: { /* torn: a sector-aligned prefix landed */
            uint64_t sectors = p->len / SECTOR;
            uint64_t keep = sectors > 0 ? (rng_next(f) % sectors) * SECTOR : 0;
            if (keep > 0)
                file_put(n, p->off, p->bytes, keep);
            break;
        }
        case 3: /* the size grew but the data never came */
            file_put(n, p->off, NULL, p->len);
            break;
        }
    }
    file_sync(n);
}

/* A directory after power loss: its durable entries, plus (torn) a prefix
 * of the changes made since. */
static void dir_power_loss(cs_io_fault *f, mnode *n, bool torn)
{
    size_t keep = torn ? (size_t)(rng_next(f) % (n->nlog + 1)) : 0;
    dentries_copy(&n->ents, &n->dents);
    for (size_t i = 0; i < keep; i++)
        change_apply(&n->ents, &n->log[i]);
    dir_sync(n);
}

void cs_io_fault_restart(cs_io_fault *f, enum cs_io_restart how)
{
    pthread_mutex_lock(&f->mu);
    if (how != CS_IO_PROCESS) {
        bool torn = how == CS_IO_POWER_TORN;
        for (mnode *n = f->nodes; n; n = n->next) {
            if (n->dir)
                dir_power_loss(f, n, torn);
            else
                file_power_loss(f, n, torn);
        }
    }
    for (size_t i = 0; i < f->nfiles; i++) {
        if (f->files[i].used)
            f->files[i].node->lock_fd = -1;
        f->files[i].used = false;
        f->files[i].node = NULL;
    }
    memset(f->rules, 0, sizeof(f->rules));
    f->crashed = false;
    collect(f);
    pthread_mutex_unlock(&f->mu);
}

int cs_io_fault_flip(cs_io_fault *f, const char *path, uint64_t byte, unsigned bit)
{
    pthread_mutex_lock(&f->mu);
    mnode *n;
    int rc = resolve(f, path, &n);
    if (rc == 0 && (n->dir || bit > 7))
        rc = CAIRN_E_INVAL;
    if (rc == 0 && byte >= n->len)
        rc = CAIRN_E_RANGE;
    if (rc == 0) {
        n->data[byte] ^= (uint8_t)(1u << bit);
        if (byte < n->synced_len)
            n->synced[byte] ^= (uint8_t)(1u << bit);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}
