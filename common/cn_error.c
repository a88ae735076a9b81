#include "cn_error.h"

static const char *const messages[] = {
    [0] = "success",
    [1] = "out of memory",
    [2] = "invalid argument",
    [3] = "I/O error",
    [4] = "data corrupt (checksum or format mismatch)",
    [5] = "not found",
    [6] = "already exists",
    [7] = "too many fragments lost to reconstruct",
    [8] = "out of range",
    [9] = "no space left (below the free-space reserve)",
    [10] = "timed out",
    [11] = "authentication failed",
    [12] = "malformed message",
    [13] = "not the leader",
    [14] = "precondition failed",
    [15] = "busy, try again later",
    [16] = "too few servers available",
    [17] = "not empty",
    [18] = "shutting down",
    [19] = "not supported",
    [20] = "conflicts with the current state",
};

const char *cairn_strerror(int err)
{
    int idx = -err;
    if (idx < 0 || idx >= (int)(sizeof(messages) / sizeof(messages[0])) || !messages[idx])
        return "unknown error";
    return messages[idx];
}
