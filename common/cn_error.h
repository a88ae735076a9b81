/* Cairn's one error convention: functions return 0 (or a non-negative count)
 * on success and a negative CAIRN_E* code on failure. cairn_strerror() gives
 * the message. Wire statuses (HTTP, S3 error codes) are a separate set and are
 * mapped at the edges, never mixed with these. */
#ifndef CAIRN_CN_ERROR_H
#define CAIRN_CN_ERROR_H

enum cairn_error {
    CAIRN_OK = 0,
    CAIRN_E_NOMEM = -1,        /* allocation failed */
    CAIRN_E_INVAL = -2,        /* invalid argument */
    CAIRN_E_IO = -3,           /* I/O error (see errno / the log) */
    CAIRN_E_CORRUPT = -4,      /* checksum or format check failed */
    CAIRN_E_NOTFOUND = -5,     /* no such item */
    CAIRN_E_EXISTS = -6,       /* item already exists */
    CAIRN_E_ERASURES = -7,     /* more fragments lost than the code can recover */
    CAIRN_E_RANGE = -8,        /* value or offset out of range */
    CAIRN_E_NOSPACE = -9,      /* disk full or below the free-space reserve */
    CAIRN_E_TIMEOUT = -10,     /* a network call or wait timed out */
    CAIRN_E_AUTH = -11,        /* authentication failed */
    CAIRN_E_PROTO = -12,       /* malformed message */
    CAIRN_E_NOTLEADER = -13,   /* this replica is not the leader */
    CAIRN_E_PRECOND = -14,     /* a condition (If-Match, ...) did not hold */
    CAIRN_E_BUSY = -15,        /* queue full / try again later */
    CAIRN_E_UNAVAIL = -16,     /* too few servers answered */
    CAIRN_E_NOTEMPTY = -17,    /* container still holds items */
    CAIRN_E_SHUTDOWN = -18,    /* the component is shutting down */
    CAIRN_E_UNSUPPORTED = -19, /* not implemented or not supported */
    CAIRN_E_CONFLICT = -20, /* the request does not match the current state (a length, a state) */
    CAIRN_E__LAST = -21,
};

/* Returns a static, human-readable string for a CAIRN_E* code (or 0). Never
 * returns NULL; unknown codes give "unknown error". Thread-safe. */
const char *cairn_strerror(int err);

#endif
