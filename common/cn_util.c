#include "cn_util.h"
#include "cn_error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cn_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t cn_boot_ms(void)
{
#ifdef CLOCK_BOOTTIME
    return clock_ns(CLOCK_BOOTTIME) / 1000000;
#else
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
#endif
}

int64_t cn_mono_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000;
}

int64_t cn_wall_s(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000000;
}

int64_t cn_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

int cn_wait_unless_stopped(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms)
{
    struct timespec ts = cn_deadline_ms(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(mu);
    while (!*stop && pthread_cond_timedwait(cv, mu, &ts) == 0) {
    }
    int s = *stop;
    pthread_mutex_unlock(mu);
    return s;
}

void cn_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int64_t cn_proc_cpu_us(long pid)
{
    char path[64], buf[1024];
    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    /* after ')': state (field 3) ... utime is field 14, stime 15 */
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100));
}

char *cn_hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = 0;
    return out;
}

int cn_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return CAIRN_E_INVAL;
}

int cn_hex_decode(const char *hex, void *out, size_t len)
{
    unsigned char *p = out;
    for (size_t i = 0; i < len; i++) {
        if (!hex[2 * i] || !hex[2 * i + 1])
            return CAIRN_E_INVAL;
        int hi = cn_hex_digit(hex[2 * i]), lo = cn_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CAIRN_E_INVAL;
        p[i] = (unsigned char)(hi << 4 | lo);
    }
    if (hex[2 * len] != 0)
        return CAIRN_E_INVAL;
    return 0;
}

int cn_random_bytes(void *buf, size_t len)
{
    if (len > INT_MAX)
        return CAIRN_E_INVAL;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : CAIRN_E_IO;
}

int cn_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOSPC ? CAIRN_E_NOSPACE : CAIRN_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cn_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CAIRN_E_IO;
        }
        if (n == 0)
            return CAIRN_E_CORRUPT;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int cn_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CAIRN_E_IO;
    int rc = fsync(fd) == 0 ? 0 : CAIRN_E_IO;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int cn_fsync_parent(const char *file_path)
{
    size_t n = strlen(file_path);
    char *copy = malloc(n + 1);
    if (!copy)
        return CAIRN_E_NOMEM;
    memcpy(copy, file_path, n + 1);
    int rc = cn_fsync_dir(dirname(copy));
    free(copy);
    return rc;
}

int cn_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CAIRN_E_NOTFOUND : CAIRN_E_IO;
    int rc = CAIRN_E_IO;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        rc = CAIRN_E_NOMEM;
        goto err_after_open;
    }
    for (;;) {
        if (cap - used < 2) {
            if (cap > max + 1) {
                rc = CAIRN_E_RANGE;
                goto err_after_alloc;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                rc = CAIRN_E_NOMEM;
                goto err_after_alloc;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto err_after_alloc;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max) {
            rc = CAIRN_E_RANGE;
            goto err_after_alloc;
        }
    }
    close(fd);
    buf[used] = 0;
    *out = buf;
    *len = used;
    return 0;

err_after_alloc:
    free(buf);
err_after_open:
    close(fd);
    return rc;
}

static void shutdown_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int cn_signals_block(void)
{
    sigset_t set;
    shutdown_signals(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : CAIRN_E_IO;
}

int cn_signals_wait(int *signo)
{
    sigset_t set;
    shutdown_signals(&set);
    int sig = 0;
    for (;;) {
        int rc = sigwait(&set, &sig);
        if (rc == 0)
            break;
        if (rc != EINTR)
            return CAIRN_E_IO;
    }
    if (signo)
        *signo = sig;
    return 0;
}

void cn_kv_get(const char *body, const char *name, char *out, size_t len)
{
    snprintf(out, len, "-");
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == ' ') {
            const char *v = p + nl + 1;
            size_t n = strcspn(v, "\n");
            snprintf(out, len, "%.*s", (int)n, v);
            return;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
}

int cn_pb_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *outlen)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return CAIRN_E_NOMEM;
    protobuf_c_message_pack(msg, buf);
    *out = buf;
    *outlen = n;
    return 0;
}

size_t cn_scan_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (i > 0)
        *out = v;
    return i;
}

int cn_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (!s)
        return CAIRN_E_INVAL;
    size_t n = cn_scan_u64(s, &v);
    if (n == 0 || s[n] != '\0' || v > max)
        return CAIRN_E_INVAL;
    *out = v;
    return 0;
}

struct timespec cn_deadline_us(clockid_t clock, int64_t us)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    if (us < 0)
        us = 0;
    ts.tv_sec += (time_t)(us / 1000000);
    ts.tv_nsec += (long)(us % 1000000) * 1000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

struct timespec cn_deadline_ms(clockid_t clock, int64_t ms)
{
    return cn_deadline_us(clock, ms * 1000);
}

int cn_write_port_file(const char *path, uint16_t port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return CAIRN_E_INVAL;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return CAIRN_E_IO;
    fprintf(f, "%u\n", (unsigned)port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return CAIRN_E_IO;
    }
    return 0;
}
