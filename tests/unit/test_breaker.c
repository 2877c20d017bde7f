/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_breaker.c - the circuit breaker opens after N failures in a row,
 * stays open for the cooldown, lets one half-open attempt through, closes
 * on success and reopens on failure; backoff delays have full jitter under
 * a doubling, capped envelope.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "breaker.h"

static void test_breaker_opens_after_failures_in_a_row(void **state)
{
    struct lf_breaker b;

    (void)state;
    lf_breaker_init(&b, 3, 1000);
    assert_int_equal(lf_breaker_record(&b, 0, 0), LF_BREAKER_CLOSED);
    assert_int_equal(lf_breaker_record(&b, 0, 0), LF_BREAKER_CLOSED);
    /* A success resets the count. */
    assert_int_equal(lf_breaker_record(&b, 1, 0), LF_BREAKER_CLOSED);
    assert_int_equal(lf_breaker_record(&b, 0, 10), LF_BREAKER_CLOSED);
    assert_int_equal(lf_breaker_record(&b, 0, 10), LF_BREAKER_CLOSED);
    assert_int_equal(lf_breaker_wait_ms(&b, 10), 0);
    assert_int_equal(lf_breaker_record(&b, 0, 10), LF_BREAKER_OPEN);
    assert_int_equal(lf_breaker_wait_ms(&b, 10), 1000);
    assert_int_equal(lf_breaker_wait_ms(&b, 600), 410);
}

static void test_breaker_half_open_lets_one_attempt_through(void **state)
{
    struct lf_breaker b;

    (void)state;
    lf_breaker_init(&b, 1, 100);
    assert_int_equal(lf_breaker_record(&b, 0, 0), LF_BREAKER_OPEN);
    assert_int_equal(lf_breaker_wait_ms(&b, 100), 0);
    assert_int_equal(atomic_load(&b.state), LF_BREAKER_HALF_OPEN);
    /* The half-open attempt fails: open again for a full cooldown. */
    assert_int_equal(lf_breaker_record(&b, 0, 150), LF_BREAKER_OPEN);
    assert_int_equal(lf_breaker_wait_ms(&b, 150), 100);
    assert_int_equal(lf_breaker_wait_ms(&b, 250), 0);
    assert_int_equal(lf_breaker_record(&b, 1, 260), LF_BREAKER_CLOSED);
    assert_int_equal(lf_breaker_wait_ms(&b, 260), 0);
    assert_string_equal(lf_breaker_state_name(LF_BREAKER_HALF_OPEN),
                        "half_open");
}

static void test_breaker_with_zero_failures_never_opens(void **state)
{
    struct lf_breaker b;

    (void)state;
    lf_breaker_init(&b, 0, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(lf_breaker_record(&b, 0, i), LF_BREAKER_CLOSED);
}

static void
test_backoff_is_jittered_under_a_doubling_capped_envelope(void **state)
{
    unsigned seed = 12345;

    (void)state;
    for (unsigned attempt = 0; attempt < 12; attempt++) {
        int64_t cap = INT64_C(100) << attempt;
        int64_t lo = INT64_MAX, hi = 0, sum = 0;
        if (cap > 5000)
            cap = 5000;
        for (int i = 0; i < 2000; i++) {
            int64_t d = lf_breaker_backoff_ms(100, 5000, attempt, &seed);
            assert_true(d >= 0 && d <= cap);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += d;
        }
        /* Full jitter: spread over the whole range, mean near cap/2. */
        assert_true(lo < cap / 10);
        assert_true(hi > cap - cap / 10);
        assert_true(sum / 2000 > cap * 4 / 10 && sum / 2000 < cap * 6 / 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_opens_after_failures_in_a_row),
        cmocka_unit_test(test_breaker_half_open_lets_one_attempt_through),
        cmocka_unit_test(test_breaker_with_zero_failures_never_opens),
        cmocka_unit_test(
            test_backoff_is_jittered_under_a_doubling_capped_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
