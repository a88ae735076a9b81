#include "cli_format.h"

#include <stdio.h>
#include <time.h>

void cli_human(uint64_t bytes, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void cli_progress_bar(char *out, size_t len, unsigned long long done, unsigned long long total)
{
    enum { WIDTH = 20 };
    unsigned long long filled = total ? done * WIDTH / total : WIDTH;
    if (filled > WIDTH)
        filled = WIDTH;
    char cells[WIDTH + 1];
    for (unsigned i = 0; i < WIDTH; i++)
        cells[i] = i < filled ? '#' : '.';
    cells[WIDTH] = 0;
    snprintf(out, len, "[%s] %3llu%% ", cells,
             total ? (done > total ? 100 : done * 100 / total) : 100);
}

void cli_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

void cli_utc(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
