/* The replay driver of a libFuzzer harness for builds without libFuzzer:
 * runs LLVMFuzzerTestOneInput on every file of the directories or files
 * named on the command line, and on deterministic mutations of each (byte
 * flips, truncations, repeated slices), so the harness and its invariants
 * run in every build as a unit test. Exits 1 if a path cannot be read or
 * holds no input (a missing corpus must not pass as a test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t inputs;

static void run_mutations(const uint8_t *d, size_t n)
{
    LLVMFuzzerTestOneInput(d, n);
    inputs++;
    uint8_t *m = malloc(n * 2 + 1);
    if (!m)
        exit(1);
    uint64_t s = 88172645463325252ull ^ n;
    for (int round = 0; round < 200 && n > 0; round++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t len = n;
        memcpy(m, d, n);
        switch (round % 4) {
        case 0: /* flip a few bytes */
            for (int k = 0; k < 3; k++)
                m[(s >> (k * 16)) % n] ^= (uint8_t)(1u << (s >> 60 & 7));
            break;
        case 1: /* truncate */
            len = (size_t)(s % n);
            break;
        case 2: { /* repeat a slice */
            size_t a = (size_t)(s % n), l = (size_t)((s >> 20) % (n - a) + 1);
            if (len + l <= n * 2) {
                memmove(m + a + l, m + a, n - a);
                len += l;
            }
            break;
        }
        default: /* another split pattern */
            m[0] = (uint8_t)s;
        }
        LLVMFuzzerTestOneInput(m, len);
        inputs++;
    }
    free(m);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    run_mutations(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0)
                return 1;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            return 1;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
            if (run_file(p) != 0) {
                closedir(d);
                return 1;
            }
        }
        closedir(d);
    }
    printf("%zu inputs\n", inputs);
    return inputs ? 0 : 1;
}
