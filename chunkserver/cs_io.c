#include "cs_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cn_error.h"

/* The errno of a failed call as a CAIRN_E code (errno is left as it is). */
static int posix_err(void)
{
    switch (errno) {
    case ENOENT:
        return CAIRN_E_NOTFOUND;
    case EEXIST:
        return CAIRN_E_EXISTS;
    case ENOSPC:
    case EDQUOT:
        return CAIRN_E_NOSPACE;
    default:
        return CAIRN_E_IO;
    }
}

static int posix_open(const cs_io *io, const char *path, int flags, int *fd)
{
    (void)io;
    int oflags = O_CLOEXEC;
    if ((flags & CS_IO_READ) && (flags & CS_IO_WRITE))
        oflags |= O_RDWR;
    else if (flags & CS_IO_WRITE)
        oflags |= O_WRONLY;
    else
        oflags |= O_RDONLY;
    if (flags & CS_IO_CREATE)
        oflags |= O_CREAT;
    if (flags & CS_IO_EXCL)
        oflags |= O_EXCL;
    if (flags & CS_IO_TRUNC)
        oflags |= O_TRUNC;
    int r;
    do
        r = open(path, oflags, 0644);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return posix_err();
    *fd = r;
    return 0;
}

static int posix_close(const cs_io *io, int fd)
{
    (void)io;
    /* Linux releases the descriptor even when close fails: never retry. */
    return close(fd) == 0 ? 0 : posix_err();
}

static int posix_pread(const cs_io *io, int fd, void *buf, size_t len, uint64_t off, size_t *done)
{
    (void)io;
    ssize_t n;
    do
        n = pread(fd, buf, len, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return posix_err();
    *done = (size_t)n;
    return 0;
}

static int posix_pwrite(const cs_io *io, int fd, const void *buf, size_t len, uint64_t off,
                        size_t *done)
{
    (void)io;
    ssize_t n;
    do
        n = pwrite(fd, buf, len, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return posix_err();
    *done = (size_t)n;
    return 0;
}

static int posix_fsync(const cs_io *io, int fd)
{
    (void)io;
    return fsync(fd) == 0 ? 0 : posix_err();
}

static int posix_fdatasync(const cs_io *io, int fd)
{
    (void)io;
    return fdatasync(fd) == 0 ? 0 : posix_err();
}

static int posix_writeback(const cs_io *io, int fd, uint64_t off, uint64_t len)
{
    (void)io;
    return sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) == 0 ? 0
                                                                                   : posix_err();
}

static void stat_out(const struct stat *st, cs_io_stat *out)
{
    out->size = (uint64_t)st->st_size;
    out->mtime_s = (int64_t)st->st_mtime;
}

static int posix_fstat(const cs_io *io, int fd, cs_io_stat *out)
{
    (void)io;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return posix_err();
    stat_out(&st, out);
    return 0;
}

static int posix_lock(const cs_io *io, int fd)
{
    (void)io;
    int r;
    do
        r = flock(fd, LOCK_EX | LOCK_NB);
    while (r != 0 && errno == EINTR);
    if (r == 0)
        return 0;
    return errno == EWOULDBLOCK ? CAIRN_E_BUSY : posix_err();
}

static int posix_stat(const cs_io *io, const char *path, cs_io_stat *out)
{
    (void)io;
    struct stat st;
    if (stat(path, &st) != 0)
        return posix_err();
    stat_out(&st, out);
    return 0;
}

static int posix_mkdir(const cs_io *io, const char *path)
{
    (void)io;
    return mkdir(path, 0755) == 0 ? 0 : posix_err();
}

static int posix_rename(const cs_io *io, const char *from, const char *to)
{
    (void)io;
    return rename(from, to) == 0 ? 0 : posix_err();
}

static int posix_unlink(const cs_io *io, const char *path)
{
    (void)io;
    return unlink(path) == 0 ? 0 : posix_err();
}

static int posix_list(const cs_io *io, const char *path, cs_io_name_fn fn, void *arg)
{
    (void)io;
    DIR *d = opendir(path);
    if (d == NULL)
        return posix_err();
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rc = posix_err();
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(arg, e->d_name);
        if (rc != 0)
            break;
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

static int posix_sync_dir(const cs_io *io, const char *path)
{
    (void)io;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return posix_err();
    int rc = fsync(fd) == 0 ? 0 : posix_err();
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int posix_space(const cs_io *io, const char *path, uint64_t *capacity, uint64_t *avail)
{
    (void)io;
    struct statvfs v;
    if (statvfs(path, &v) != 0)
        return posix_err();
    *capacity = (uint64_t)v.f_blocks * v.f_frsize;
    *avail = (uint64_t)v.f_bavail * v.f_frsize;
    return 0;
}

static const cs_io posix_io = {
    .impl = NULL,
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .fsync = posix_fsync,
    .fdatasync = posix_fdatasync,
    .writeback = posix_writeback,
    .fstat = posix_fstat,
    .lock = posix_lock,
    .stat = posix_stat,
    .mkdir = posix_mkdir,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .list = posix_list,
    .sync_dir = posix_sync_dir,
    .space = posix_space,
};

const cs_io *cs_io_posix(void)
{
    return &posix_io;
}

int cs_io_write_all(const cs_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = 0;
        int rc = io->pwrite(io, fd, p, len, off, &n);
        if (rc != 0)
            return rc;
        if (n == 0)
            return CAIRN_E_IO;
        p += n;
        len -= n;
        off += n;
    }
    return 0;
}

int cs_io_read_all(const cs_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        size_t n = 0;
        int rc = io->pread(io, fd, p, len, off, &n);
        if (rc != 0)
            return rc;
        if (n == 0)
            return CAIRN_E_CORRUPT;
        p += n;
        len -= n;
        off += n;
    }
    return 0;
}

int cs_io_read_file(const cs_io *io, const char *path, size_t max, char **out, size_t *len)
{
    int fd;
    int rc = io->open(io, path, CS_IO_READ, &fd);
    if (rc != 0)
        return rc;
    cs_io_stat st;
    rc = io->fstat(io, fd, &st);
    if (rc != 0)
        goto err_after_open;
    if (st.size > max) {
        rc = CAIRN_E_RANGE;
        goto err_after_open;
    }
    char *buf = malloc((size_t)st.size + 1);
    if (buf == NULL) {
        rc = CAIRN_E_NOMEM;
        goto err_after_open;
    }
    rc = cs_io_read_all(io, fd, buf, (size_t)st.size, 0);
    if (rc != 0)
        goto err_after_alloc;
    buf[st.size] = '\0';
    io->close(io, fd);
    *out = buf;
    *len = (size_t)st.size;
    return 0;

err_after_alloc:
    free(buf);
err_after_open:
    io->close(io, fd);
    return rc;
}
