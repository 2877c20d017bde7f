/* SPDX-License-Identifier: Apache-2.0 */
/*
 * breaker.h - an output's circuit breaker and its retry delays.
 *
 *            failures in a row >= max            cooldown passed
 *   CLOSED ----------------------------> OPEN ---------------> HALF_OPEN
 *     ^                                   ^                       |
 *     |              success              |  the one attempt fails |
 *     +-----------------------------------+-----------------------+
 *                 (from HALF_OPEN)
 *
 * While OPEN nothing is sent; HALF_OPEN lets exactly one attempt through.
 * Pure state: the caller passes the clock, so tests need no sleeping.
 * Thread: one breaker belongs to one output thread; `state` may be read
 * from any thread (a metric).
 */
#ifndef LF_BREAKER_H
#define LF_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

enum lf_breaker_state {
    LF_BREAKER_CLOSED = 0,
    LF_BREAKER_OPEN = 1,
    LF_BREAKER_HALF_OPEN = 2,
};

struct lf_breaker {
    int64_t failures_max; /* 0: the breaker never opens */
    int64_t cooldown_ms;
    int64_t failures; /* consecutive failed attempts */
    int64_t open_until_ms;
    atomic_int state; /* enum lf_breaker_state */
};

void lf_breaker_init(struct lf_breaker *b, int64_t failures_max,
                     int64_t cooldown_ms);
/* Milliseconds to wait before the next attempt may be sent (0: now).
 * Moves OPEN to HALF_OPEN once the cooldown has passed. */
int64_t lf_breaker_wait_ms(struct lf_breaker *b, int64_t now_ms);
/* Records the outcome of an attempt (ok: delivered, or refused for good:
 * the sink answered). Returns the new state. */
int lf_breaker_record(struct lf_breaker *b, int ok, int64_t now_ms);
/* "closed", "open", "half_open". */
const char *lf_breaker_state_name(int state);

/* Full jitter: a uniform delay in [0, min(max_ms, base_ms * 2^attempt)]
 * (attempt 0 is the first retry). seed is the caller's rand_r state. */
int64_t lf_breaker_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt,
                              unsigned *seed);

#endif
