/* A cs_io backend for tests: an in-memory file system that fails, crashes
 * and flips bits on cue (after SQLite's test6.c crash VFS and its I/O error
 * injection).
 *
 * Durability model. Each file has its current content and its durable
 * content (as of its last fsync or fdatasync); each directory has its current
 * entries and its durable entries (as of its last sync_dir) plus the log of
 * entry changes since (create, mkdir, rename, unlink). A power loss
 * (cs_io_fault_restart with CS_IO_POWER) puts every file back to its durable
 * content and every directory back to its durable entries: unsynced writes
 * are lost, and so are creations, renames and unlinks whose directory was
 * not synced after them. A rename between two directories is two changes,
 * one per directory, each durable only through its own directory's sync
 * (the strict POSIX reading: without both syncs the file may end up under
 * both names or neither). A rename within one directory is one atomic
 * change. With CS_IO_POWER_TORN, each unsynced write instead lands whole,
 * not at all, as a 512-byte-aligned prefix, or as zeros over its extent
 * (size updated, data not), and each directory keeps a random prefix of its
 * unsynced changes: the torn states a real disk and page cache can leave.
 * CS_IO_PROCESS is a kill -9 without power loss: the content stays as it
 * is, only descriptors and locks are dropped.
 *
 * Faults. Calls are counted per operation and in total; a fault is armed
 * for the nth call from now of one operation (or of any). An injected error
 * makes that call (or, persistent, that call and every later one) fail
 * without effect, setting errno to EIO or ENOSPC. A crash stops the
 * machine before the chosen call: that call and every later one fail with
 * CAIRN_E_IO until cs_io_fault_restart. Everything random comes from the
 * seed given to cs_io_fault_new, so a failing case replays exactly.
 *
 * Space: capacity_bytes, of which every file takes its size rounded up to
 * 4 KiB and every directory 4 KiB; a pwrite or mkdir that does not fit fails
 * with ENOSPC. Modification times are the wall clock.
 *
 * Paths must be absolute ("/data/frags/..."); "/" exists from the start.
 *
 * Thread safety: the io and every function here may be used from any thread
 * (one mutex); the counts are in the order the calls took the mutex. */
#ifndef CAIRN_CS_IO_FAULT_H
#define CAIRN_CS_IO_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_io.h"

enum cs_io_op {
    CS_IO_OP_OPEN,
    CS_IO_OP_CLOSE,
    CS_IO_OP_PREAD,
    CS_IO_OP_PWRITE,
    CS_IO_OP_FSYNC,
    CS_IO_OP_FDATASYNC,
    CS_IO_OP_WRITEBACK,
    CS_IO_OP_FSTAT,
    CS_IO_OP_LOCK,
    CS_IO_OP_STAT,
    CS_IO_OP_MKDIR,
    CS_IO_OP_RENAME,
    CS_IO_OP_UNLINK,
    CS_IO_OP_LIST,
    CS_IO_OP_SYNC_DIR,
    CS_IO_OP_SPACE,
    CS_IO_OP__COUNT,
    CS_IO_OP_ANY = CS_IO_OP__COUNT, /* in counts and faults: every operation */
};

/* "open", "pwrite", ... ("any" for CS_IO_OP_ANY). */
const char *cs_io_op_name(enum cs_io_op op);

enum cs_io_restart {
    CS_IO_PROCESS,    /* the process died: content kept, descriptors dropped */
    CS_IO_POWER,      /* power lost: only what was synced survives */
    CS_IO_POWER_TORN, /* power lost mid-writeback: unsynced changes partly land */
};

typedef struct cs_io_fault cs_io_fault;

/* Creates an empty file system of capacity_bytes whose random choices follow
 * seed. Returns 0 and *out (free with cs_io_fault_free), or CAIRN_E_NOMEM. */
int cs_io_fault_new(uint64_t capacity_bytes, uint64_t seed, cs_io_fault **out);
/* Frees everything; the io must no longer be used. */
void cs_io_fault_free(cs_io_fault *f);
/* The cs_io of f, valid until cs_io_fault_free. */
const cs_io *cs_io_fault_io(cs_io_fault *f);

/* Calls of op (or of every operation, CS_IO_OP_ANY) since the last reset. */
uint64_t cs_io_fault_calls(cs_io_fault *f, enum cs_io_op op);
/* The operation of call n (1-based) since the last reset, or CS_IO_OP_ANY if
 * there was no such call. */
enum cs_io_op cs_io_fault_call_op(cs_io_fault *f, uint64_t n);
/* Sets the counts to zero and forgets the call log (armed faults keep
 * their position relative to the calls still to come). */
void cs_io_fault_reset_counts(cs_io_fault *f);

/* Descriptors open now (a leak check). */
size_t cs_io_fault_open_files(cs_io_fault *f);

/* Arms an error: call nth (>= 1) from now of op (or of any operation) fails
 * with err (CAIRN_E_IO or CAIRN_E_NOSPACE; errno EIO or ENOSPC) and does
 * nothing; with persist, so does every later call of op. Up to 8 armed at
 * once (more are ignored). */
void cs_io_fault_fail(cs_io_fault *f, enum cs_io_op op, uint64_t nth, int err, bool persist);
/* Disarms every error and crash. */
void cs_io_fault_clear(cs_io_fault *f);
/* Arms a crash before call nth (>= 1) from now of op (or of any operation). */
void cs_io_fault_crash_at(cs_io_fault *f, enum cs_io_op op, uint64_t nth);
/* Crashes now: every call fails until restart. */
void cs_io_fault_crash_now(cs_io_fault *f);
/* Whether the machine is stopped (an armed crash fired, or crash_now). */
bool cs_io_fault_crashed(cs_io_fault *f);
/* Brings the file system back after a crash (or instead of one) as `how`
 * says, closes every descriptor and disarms every fault. Descriptors of
 * before must not be used again (they may be reused). */
void cs_io_fault_restart(cs_io_fault *f, enum cs_io_restart how);

/* Flips bit `bit` (0..7) of byte `byte` of the file at path, in its current
 * and its durable content (damage on the medium). Returns 0,
 * CAIRN_E_NOTFOUND, CAIRN_E_INVAL (a directory, or bit > 7) or CAIRN_E_RANGE
 * (past the end). Not counted as a call. */
int cs_io_fault_flip(cs_io_fault *f, const char *path, uint64_t byte, unsigned bit);

#endif
