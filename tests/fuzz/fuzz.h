/* Shared by every fuzz harness in tests/fuzz (docs/security.md "Fuzzing").
 *
 * A harness is one fuzz_<name>.c defining LLVMFuzzerTestOneInput. It is
 * built twice: with -DCAIRN_FUZZ=ON (clang) as a libFuzzer executable
 * fuzz_<name>, and in every other build with replay_main.c as
 * fuzz_replay_<name>, a unit test that runs each file of
 * tests/fuzz/corpus/<name>/ through the harness once. A harness must
 * therefore be deterministic, keep no state between inputs except caches
 * built once (reachable from a static, so LeakSanitizer stays quiet), free
 * everything it allocates, and stop the process (fuzz_check) when an
 * invariant of the code under test breaks, not only on a sanitizer report.
 *
 * Input readers: struct fuzz_in walks the input front to back; strings it
 * hands out are NUL-terminated copies owned by the reader (freed by
 * fuzz_in_free), so a harness never frees them itself. Reads past the end
 * give empty strings and zeros, never fail. */
#ifndef CAIRN_TESTS_FUZZ_H
#define CAIRN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
    const uint8_t *p;
    size_t n;
    void **owned; /* copies handed out, freed by fuzz_in_free */
    size_t n_owned, cap_owned;
};

void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size);
/* Frees every string the reader handed out. */
void fuzz_in_free(struct fuzz_in *in);

/* 1 while bytes remain. */
int fuzz_in_more(const struct fuzz_in *in);
/* The next byte / little-endian u16, u32, u64 (zeros past the end). */
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* The bytes up to the next '\n' (not included; a trailing '\r' is kept),
 * consumed with the '\n'. *len (if not NULL) receives the length; the copy
 * may hold NUL bytes, and C string functions then see a prefix. "" at the end. */
char *fuzz_line(struct fuzz_in *in, size_t *len);
/* The next n bytes (fewer at the end) as a NUL-terminated copy. */
char *fuzz_bytes(struct fuzz_in *in, size_t n, size_t *len);
/* Everything left, as a NUL-terminated copy. */
char *fuzz_rest(struct fuzz_in *in, size_t *len);
/* A NUL-terminated copy of s[len] owned by the reader. */
char *fuzz_strndup(struct fuzz_in *in, const void *s, size_t len);
/* n + 1 zeroed bytes owned by the reader. */
char *fuzz_alloc(struct fuzz_in *in, size_t n);

/* Stops the process with a message on stderr (abort(): libFuzzer saves the
 * input as a crash) when cond is false. For the harnesses' own oracles. */
#define fuzz_check(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Silences Cairn's logger (called by harnesses whose code under test logs
 * every rejected input). */
void fuzz_quiet_logs(void);

#endif
