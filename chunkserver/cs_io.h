/* The chunkserver's file-system interface.
 *
 * Every file-system call of the fragment store (cs_store, the fragment
 * writer and reader of cs_fragment, and the scrubber's state file) goes
 * through one cs_io, so tests can replace the disk with one that fails,
 * flips bits and loses unsynced writes on cue (cs_io_fault.h), the way
 * SQLite's test VFS does. The daemon uses cs_io_posix(): each operation is
 * the one system call it is named after.
 *
 * Conventions, for every backend:
 *  - An operation returns 0 or a negative CAIRN_E code, mapped from errno:
 *    ENOENT -> CAIRN_E_NOTFOUND, EEXIST -> CAIRN_E_EXISTS, ENOSPC and EDQUOT
 *    -> CAIRN_E_NOSPACE, EWOULDBLOCK (lock) -> CAIRN_E_BUSY, anything else
 *    -> CAIRN_E_IO. errno is left describing the failure, for the log.
 *  - EINTR is retried inside the operation.
 *  - File descriptors are the backend's own non-negative integers; only the
 *    backend that opened one may be given it.
 *  - close releases the descriptor even when it reports an error.
 *  - Files are created with mode 0644, directories with 0755.
 *
 * Thread safety: every operation may be called from any thread, concurrently. */
#ifndef CAIRN_CS_IO_H
#define CAIRN_CS_IO_H

#include <stddef.h>
#include <stdint.h>

/* open flags (combine with |). */
#define CS_IO_READ   1  /* open for reading */
#define CS_IO_WRITE  2  /* open for writing */
#define CS_IO_CREATE 4  /* create if missing */
#define CS_IO_EXCL   8  /* with CREATE: CAIRN_E_EXISTS if it exists */
#define CS_IO_TRUNC  16 /* with WRITE: truncate to 0 */

typedef struct cs_io_stat {
    uint64_t size;
    int64_t mtime_s; /* last modification, Unix seconds */
} cs_io_stat;

/* Called by list for each entry name (never "." or ".."). A non-zero return
 * stops the listing and becomes list's return value. */
typedef int (*cs_io_name_fn)(void *arg, const char *name);

typedef struct cs_io cs_io;
struct cs_io {
    void *impl; /* the backend's state */
    /* open(2). *fd is set on success. */
    int (*open)(const cs_io *io, const char *path, int flags, int *fd);
    int (*close)(const cs_io *io, int fd);
    /* pread(2)/pwrite(2): *done bytes transferred (may be short; 0 from
     * pread is the end of the file). */
    int (*pread)(const cs_io *io, int fd, void *buf, size_t len, uint64_t off, size_t *done);
    int (*pwrite)(const cs_io *io, int fd, const void *buf, size_t len, uint64_t off, size_t *done);
    /* Make the file's data (fdatasync) or data and metadata (fsync) durable.
     * Neither makes the file's directory entry durable: that is sync_dir. */
    int (*fsync)(const cs_io *io, int fd);
    int (*fdatasync)(const cs_io *io, int fd);
    /* Starts writeback of a range (sync_file_range WRITE): a hint, promises
     * nothing about durability. */
    int (*writeback)(const cs_io *io, int fd, uint64_t off, uint64_t len);
    int (*fstat)(const cs_io *io, int fd, cs_io_stat *st);
    /* Exclusive, non-blocking advisory lock held until fd is closed (flock):
     * CAIRN_E_BUSY if another descriptor holds it. */
    int (*lock)(const cs_io *io, int fd);
    int (*stat)(const cs_io *io, const char *path, cs_io_stat *st);
    int (*mkdir)(const cs_io *io, const char *path);
    /* rename(2): atomically replaces an existing file at to. */
    int (*rename)(const cs_io *io, const char *from, const char *to);
    int (*unlink)(const cs_io *io, const char *path);
    /* Calls fn for every entry of directory path, in no particular order.
     * Entries added or removed meanwhile (also by fn) may or may not be seen. */
    int (*list)(const cs_io *io, const char *path, cs_io_name_fn fn, void *arg);
    /* Makes the entries of directory path (creations, renames, removals)
     * durable: open(O_DIRECTORY) + fsync. */
    int (*sync_dir)(const cs_io *io, const char *path);
    /* Size of the filesystem holding path and the bytes available to us. */
    int (*space)(const cs_io *io, const char *path, uint64_t *capacity, uint64_t *avail);
};

/* The real file system. Static, never freed, shared by everything. */
const cs_io *cs_io_posix(void);

/* Helpers over any backend. */

/* Writes all of buf at off. Returns 0 or the failing pwrite's code (a pwrite
 * that writes nothing is CAIRN_E_IO). */
int cs_io_write_all(const cs_io *io, int fd, const void *buf, size_t len, uint64_t off);
/* Reads exactly len bytes at off. Returns 0, CAIRN_E_CORRUPT if the file
 * ends first, or the failing pread's code. */
int cs_io_read_all(const cs_io *io, int fd, void *buf, size_t len, uint64_t off);
/* Reads a whole file of at most max bytes into a malloc'd buffer with a
 * terminating NUL (not counted in *len); the caller frees *out. Returns 0,
 * CAIRN_E_NOTFOUND, CAIRN_E_RANGE (larger than max), CAIRN_E_NOMEM or an I/O
 * code. */
int cs_io_read_file(const cs_io *io, const char *path, size_t max, char **out, size_t *len);

#endif
