/* Logging with a level and the module name:
 *   2026-11-26T06:50:01.123Z INFO  chunk: listening on 127.0.0.1:9100
 * A line logged while the thread serves a request ends with its id:
 *   2026-11-26T06:50:02.456Z WARN  chunk: fragment 1f...e2.0: block 0 damaged req=4a1c...
 * and the requests a thread sends meanwhile carry the same id
 * (X-Cairn-Request-Id, cn_http_client), so one S3 request's lines can be
 * found in every daemon's log.
 * Lines go to stderr (one write() per line, so lines from threads do not
 * interleave). The level threshold is process-wide and set once at startup. */
#ifndef CAIRN_CN_LOG_H
#define CAIRN_CN_LOG_H

enum cn_log_level {
    CN_LOG_DEBUG = 0,
    CN_LOG_INFO,
    CN_LOG_WARN,
    CN_LOG_ERROR,
    CN_LOG_OFF /* as a threshold only: nothing is logged (simulators, tests) */
};

/* Sets the threshold; messages below it are dropped. Call before threads start. */
void cn_log_set_level(enum cn_log_level level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or CAIRN_E_INVAL. */
int cn_log_parse_level(const char *name, enum cn_log_level *out);
enum cn_log_level cn_log_get_level(void);

/* The request this thread serves now (cn_http_server sets it when a request
 * starts and clears it when it ends): copied, up to CN_LOG_REQUEST_MAX
 * characters; NULL or "" clears it. */
#define CN_LOG_REQUEST_MAX 64
void cn_log_set_request(const char *id);
/* This thread's request id, or NULL when it serves none. */
const char *cn_log_request(void);

void cn_log(enum cn_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CN_DEBUG(mod, ...) cn_log(CN_LOG_DEBUG, mod, __VA_ARGS__)
#define CN_INFO(mod, ...)  cn_log(CN_LOG_INFO, mod, __VA_ARGS__)
#define CN_WARN(mod, ...)  cn_log(CN_LOG_WARN, mod, __VA_ARGS__)
#define CN_ERROR(mod, ...) cn_log(CN_LOG_ERROR, mod, __VA_ARGS__)

#endif
