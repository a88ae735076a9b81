/* cn_replay: the nonces a server has accepted, so a captured request is
 * refused when it comes again — within bounded memory.
 *
 * A request is fresh when its time lies within the signature's skew window
 * (cn_auth checks that) AND its time is above the cache's floor AND its
 * nonce is not in the cache. An accepted nonce stays until its time falls
 * out of the window (a replay is then refused by the window). When the cache
 * is full, the entry with the OLDEST time is dropped and the floor rises to
 * that time: every request at or below the floor is refused from then on,
 * so a dropped nonce can never be accepted again. The floor starts at the
 * cache's creation time, so a restarted server (whose cache is empty) refuses
 * requests signed before it started. Under a load of R requests/s and a
 * capacity of N, requests delayed more than about N/R seconds are refused;
 * nothing older is ever accepted twice.
 *
 * Memory: about 48 bytes per entry of capacity, allocated at creation. Thread-safe (one
 * mutex; every operation is O(log n)). */
#ifndef CAIRN_CN_REPLAY_H
#define CAIRN_CN_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct cn_replay;

/* Creates a cache of capacity entries (>= 16) for a window of window_ms
 * (the signature skew: entries older than now - window_ms are dropped) whose
 * floor starts at now_ms. On success *out is owned by the caller
 * (cn_replay_free). Returns 0, CAIRN_E_INVAL or CAIRN_E_NOMEM. */
int cn_replay_new(size_t capacity, int64_t window_ms, int64_t now_ms, struct cn_replay **out);
void cn_replay_free(struct cn_replay *r);

/* Checks and records a nonce (16 bytes) of a request dated time_ms, at
 * now_ms. Returns 0 if fresh (now recorded), CAIRN_E_EXISTS if seen
 * before, CAIRN_E_RANGE if time_ms is at or below the floor. */
int cn_replay_check(struct cn_replay *r, const uint8_t nonce[16], int64_t time_ms, int64_t now_ms);

/* The current floor (ms) and number of entries, for tests and metrics. */
int64_t cn_replay_floor(struct cn_replay *r);
size_t cn_replay_count(struct cn_replay *r);

#endif
