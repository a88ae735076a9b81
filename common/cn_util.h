/* Small helpers shared by every Cairn module: clocks, hex, random bytes and
 * the write/fsync idioms that "durable" relies on. All functions are
 * thread-safe and keep no state. */
#ifndef CAIRN_CN_UTIL_H
#define CAIRN_CN_UTIL_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (never jumps; use for timeouts, leases). */
int64_t cn_mono_ms(void);
/* Milliseconds of a monotonic clock that also counts time the machine spent
 * suspended (CLOCK_BOOTTIME where there is one): a leader lease must not outlive
 * a suspend that CLOCK_MONOTONIC would not see. */
int64_t cn_boot_ms(void);
/* Microseconds on CLOCK_MONOTONIC (use for measuring). */
int64_t cn_mono_us(void);
/* Seconds since the Unix epoch on CLOCK_REALTIME (wall clock; use only for
 * timestamps that leave the process, e.g. the X-Cairn-Date header). */
int64_t cn_wall_s(void);
/* Milliseconds since the Unix epoch on CLOCK_REALTIME. */
int64_t cn_wall_ms(void);
/* The absolute time `us` microseconds from now on `clock`, for
 * pthread_cond_timedwait (a condition variable whose clock attribute is
 * `clock`: CLOCK_MONOTONIC for timeouts, never the wall clock). */
struct timespec cn_deadline_us(clockid_t clock, int64_t us);
/* The same, `ms` milliseconds from now. */
struct timespec cn_deadline_ms(clockid_t clock, int64_t ms);
/* A background worker's pause: waits on cv (its clock CLOCK_MONOTONIC, mu
 * unlocked on entry) for ms milliseconds or until *stop is set (read under
 * mu; whoever sets it broadcasts cv). Returns *stop. */
int cn_wait_unless_stopped(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms);
/* Sleeps for ms milliseconds (restarts after signals). */
void cn_sleep_ms(int64_t ms);
/* CPU time (user + system, all threads) process pid (0 = this one) has used,
 * in microseconds, from /proc/PID/stat; -1 when /proc cannot tell (no such
 * process, not Linux). Benchmarks take it before and after a run. */
int64_t cn_proc_cpu_us(long pid);

/* Writes 2*len lowercase hex digits and a NUL to out (out must hold
 * 2*len+1 bytes). Returns out. */
char *cn_hex_encode(const void *data, size_t len, char *out);
/* Decodes exactly 2*len hex digits (either case) from hex into out[len].
 * Returns 0, or CAIRN_E_INVAL if hex is shorter, longer or not hex. */
int cn_hex_decode(const char *hex, void *out, size_t len);
/* The value 0..15 of one hex digit (either case), or CAIRN_E_INVAL. */
int cn_hex_digit(int c);

/* Strict decimal: the whole of s is 1..20 digits and the value is <= max.
 * Returns 0 (*out set), or CAIRN_E_INVAL (NULL, empty, a non-digit,
 * overflow, above max; *out untouched). */
int cn_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Reads the run of decimal digits at the start of s into *out. Returns the
 * number of digits read: 0 when s does not start with a digit or the value
 * overflows 64 bits (*out untouched then). For parsers of longer grammars
 * (Range headers, lists). */
size_t cn_scan_u64(const char *s, uint64_t *out);

/* Copies the value of the "NAME VALUE" line of a text body (the admin status
 * format) into out, or "-" when no line has that name. */
void cn_kv_get(const char *body, const char *name, char *out, size_t len);

/* Fills buf with len cryptographically strong random bytes (OpenSSL
 * RAND_bytes). Returns 0 or CAIRN_E_IO. */
int cn_random_bytes(void *buf, size_t len);

/* write()s all len bytes, retrying short writes and EINTR. Returns 0 or
 * CAIRN_E_IO (errno kept) / CAIRN_E_NOSPACE on ENOSPC. */
int cn_write_all(int fd, const void *buf, size_t len);
/* pread()s exactly len bytes at off. Returns 0, CAIRN_E_IO, or
 * CAIRN_E_CORRUPT if the file ends first. */
int cn_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* fsync()s the directory at path, so a rename or create inside it is
 * durable. Returns 0 or CAIRN_E_IO. */
int cn_fsync_dir(const char *path);
/* fsync()s the directory that contains file_path (its dirname). */
int cn_fsync_parent(const char *file_path);
/* Reads a whole file of at most max bytes into a new malloc'd buffer with a
 * terminating NUL (not counted in *len). On success the caller owns *out.
 * Returns 0, CAIRN_E_NOTFOUND, CAIRN_E_RANGE (larger than max), CAIRN_E_IO
 * or CAIRN_E_NOMEM. */
int cn_read_file(const char *path, size_t max, char **out, size_t *len);

/* Packs a protobuf message into a new malloc'ed buffer (*out, *outlen; the
 * caller free()s it; never NULL on success, even for an empty message).
 * Returns 0 or CAIRN_E_NOMEM. */
int cn_pb_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *outlen);

/* Writes "PORT\n" to path atomically (a temporary file renamed over it), so
 * a script polling for the file never reads half of it: how a daemon started
 * with port 0 tells its test harness where it listens. Returns 0,
 * CAIRN_E_INVAL (path too long) or CAIRN_E_IO. */
int cn_write_port_file(const char *path, uint16_t port);

/* Clean shutdown for daemons: call cn_signals_block() first thing in main
 * (before any thread starts, so every thread inherits the mask), then start
 * the servers, then cn_signals_wait() returns the first SIGINT/SIGTERM/SIGHUP
 * received (SIGPIPE stays blocked: sockets report EPIPE instead).
 * Returns 0 or CAIRN_E_IO. */
int cn_signals_block(void);
int cn_signals_wait(int *signo);

#endif
