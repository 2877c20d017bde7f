/* SPDX-License-Identifier: Apache-2.0 */
/* breaker.c - circuit breaker states and backoff with full jitter. */
#include "breaker.h"

#include <stdlib.h>

void lf_breaker_init(struct lf_breaker *b, int64_t failures_max,
                     int64_t cooldown_ms)
{
    b->failures_max = failures_max;
    b->cooldown_ms = cooldown_ms;
    b->failures = 0;
    b->open_until_ms = 0;
    atomic_init(&b->state, LF_BREAKER_CLOSED);
}

int64_t lf_breaker_wait_ms(struct lf_breaker *b, int64_t now_ms)
{
    if (atomic_load(&b->state) != LF_BREAKER_OPEN)
        return 0;
    if (now_ms < b->open_until_ms)
        return b->open_until_ms - now_ms;
    atomic_store(&b->state, LF_BREAKER_HALF_OPEN);
    return 0;
}

int lf_breaker_record(struct lf_breaker *b, int ok, int64_t now_ms)
{
    int state = atomic_load(&b->state);

    if (ok) {
        b->failures = 0;
        state = LF_BREAKER_CLOSED;
    } else {
        b->failures++;
        if (b->failures_max > 0 &&
            (state == LF_BREAKER_HALF_OPEN || b->failures >= b->failures_max)) {
            state = LF_BREAKER_OPEN;
            b->open_until_ms = now_ms + b->cooldown_ms;
        }
    }
    atomic_store(&b->state, state);
    return state;
}

const char *lf_breaker_state_name(int state)
{
    static const char *const names[] = {"closed", "open", "half_open"};

    return state >= 0 && state <= 2 ? names[state] : "?";
}

int64_t lf_breaker_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt,
                              unsigned *seed)
{
    int64_t cap = base_ms;

    for (unsigned i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    return (int64_t)((double)rand_r(seed) / ((double)RAND_MAX + 1.0) *
                     (double)(cap + 1));
}
