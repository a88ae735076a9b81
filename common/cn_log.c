#include "cn_log.h"
#include "cn_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum cn_log_level threshold = CN_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static __thread char thread_request[CN_LOG_REQUEST_MAX + 1];

void cn_log_set_request(const char *id)
{
    snprintf(thread_request, sizeof(thread_request), "%s", id ? id : "");
}

const char *cn_log_request(void)
{
    return thread_request[0] ? thread_request : NULL;
}

void cn_log_set_level(enum cn_log_level level)
{
    threshold = level;
}

enum cn_log_level cn_log_get_level(void)
{
    return threshold;
}

int cn_log_parse_level(const char *name, enum cn_log_level *out)
{
    static const char *const lower[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, lower[i]) == 0) {
            *out = (enum cn_log_level)i;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

void cn_log(enum cn_log_level level, const char *module, const char *fmt, ...)
{
    if (level < threshold)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], module);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    if (thread_request[0] && len < sizeof(line) - 2) {
        int r = snprintf(line + len, sizeof(line) - 1 - len, " req=%s", thread_request);
        len += r < 0 ? 0 : (size_t)r;
        if (len > sizeof(line) - 2)
            len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
