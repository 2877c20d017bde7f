/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sketch.c - the DDSketch promises: every quantile within the
 * relative accuracy of the exact one, merges that equal the sketch of all
 * the values, a bounded bucket count that sacrifices the low quantiles
 * first.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem.h"
#include "metrics_sketch.h"

#define N 50000

static const double quantiles[] = {0.0, 0.01, 0.25, 0.5,   0.75,
                                   0.9, 0.95, 0.99, 0.999, 1.0};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* xorshift64*: deterministic values without libc's rand state. */
static uint64_t rng_state = 88172645463325252ULL;
static double rng_unit(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) /
           9007199254740992.0;
}

static double rng_lognormal(double mu, double sigma)
{
    double u1 = rng_unit() + 1e-300, u2 = rng_unit();
    return exp(mu + sigma * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

/* Checks every quantile of s against the sorted values. */
static void check_accuracy(const struct lf_sketch *s, double *vals, size_t n,
                           double a)
{
    qsort(vals, n, sizeof(double), cmp_double);
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(*quantiles); i++) {
        double q = quantiles[i];
        double want = vals[(size_t)floor(q * (double)(n - 1))];
        double got = lf_sketch_quantile(s, q);
        if (fabs(got - want) > a * want + 1e-12)
            fail_msg("q=%g: got %.9g, exact %.9g (accuracy %g)", q, got, want,
                     a);
    }
}

static void test_quantiles_within_relative_accuracy(void **state)
{
    const double accuracies[] = {0.01, 0.02, 0.001};
    double *vals = lf_calloc(N, sizeof(double));

    (void)state;
    for (size_t ai = 0; ai < 3; ai++) {
        struct lf_sketch_params p;
        struct lfp_err err = {0};
        struct lf_sketch *s;
        assert_int_equal(lf_sketch_params_init(&p, accuracies[ai], 16384, &err),
                         LFP_OK);
        s = lf_sketch_new(&p);
        for (size_t i = 0; i < N; i++) {
            /* Latency-like: lognormal, some exact zeros, a far tail. */
            vals[i] = i % 97 == 0    ? 0.0
                      : i % 501 == 0 ? 30.0 + rng_unit() * 60
                                     : rng_lognormal(-3.5, 1.2);
            lf_sketch_add(s, vals[i]);
        }
        assert_int_equal(s->count, N);
        check_accuracy(s, vals, N, accuracies[ai]);
        lf_sketch_free(s);
    }
    lf_free(vals);
}

static void test_merge_equals_sketch_of_all_values(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch *parts[3], *all, *merged;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 2048, &err), LFP_OK);
    all = lf_sketch_new(&p);
    merged = lf_sketch_new(&p);
    for (int k = 0; k < 3; k++)
        parts[k] = lf_sketch_new(&p);
    for (int i = 0; i < N; i++) {
        /* Each part sees a different range, so merges must widen. */
        double v = rng_lognormal(-4.0 + (i % 3), 0.8);
        lf_sketch_add(parts[i % 3], v);
        lf_sketch_add(all, v);
    }
    for (int k = 2; k >= 0; k--)
        lf_sketch_merge(merged, parts[k]);
    assert_int_equal(merged->count, all->count);
    assert_int_equal(merged->zero, all->zero);
    assert_int_equal(merged->offset, all->offset);
    assert_int_equal(merged->nbins, all->nbins);
    assert_memory_equal(merged->bins, all->bins,
                        sizeof(uint64_t) * (size_t)all->nbins);
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(*quantiles); i++)
        assert_true(lf_sketch_quantile(merged, quantiles[i]) ==
                    lf_sketch_quantile(all, quantiles[i]));
    for (int k = 0; k < 3; k++)
        lf_sketch_free(parts[k]);
    lf_sketch_free(all);
    lf_sketch_free(merged);
}

static void
test_bucket_cap_folds_lowest_buckets_and_keeps_the_tail(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch *s;
    double *vals = lf_calloc(N, sizeof(double));

    (void)state;
    /* 64 buckets at 1% span a factor of about 3.6: far less than the data
     * (1e-6 .. 1e3). */
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 64, &err), LFP_OK);
    s = lf_sketch_new(&p);
    for (int i = 0; i < N; i++) {
        vals[i] = pow(10.0, -6.0 + 9.0 * rng_unit());
        lf_sketch_add(s, vals[i]);
    }
    assert_true(s->nbins <= 64);
    assert_true(s->cap <= 64);
    assert_true(s->collapsed > 0);
    assert_int_equal(s->count, N);
    qsort(vals, N, sizeof(double), cmp_double);
    /* The top of the distribution keeps its guarantee. */
    for (int i = 0; i < 3; i++) {
        double q = (double[]){0.99, 0.999, 1.0}[i];
        double want = vals[(size_t)floor(q * (N - 1))];
        assert_true(fabs(lf_sketch_quantile(s, q) - want) <= 0.01 * want);
    }
    lf_sketch_free(s);
    lf_free(vals);
}

static void
test_empty_sketch_has_no_quantile_and_ignores_bad_values(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch *s;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 2048, &err), LFP_OK);
    s = lf_sketch_new(&p);
    assert_true(isnan(lf_sketch_quantile(s, 0.5)));
    lf_sketch_add(s, NAN);
    lf_sketch_add(s, -1.0);
    assert_int_equal(s->count, 0);
    lf_sketch_add(s, 0.0);
    lf_sketch_add(s, 0.0);
    lf_sketch_add(s, 2.0);
    assert_int_equal(s->zero, 2);
    assert_true(lf_sketch_quantile(s, 0.5) == 0.0);
    assert_true(lf_sketch_quantile(s, 1.0) == 2.0);
    lf_sketch_reset(s);
    assert_int_equal(s->count, 0);
    assert_true(isnan(lf_sketch_quantile(s, 0.5)));
    lf_sketch_free(s);
}

static void test_bad_parameters_are_refused(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.0, 2048, &err),
                     LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "accuracy"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 4, &err), LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "max_buckets"));
}

/* Adding at a precomputed index is adding. */
static void test_add_at_equals_add(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch *a, *b;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 64, &err), LFP_OK);
    a = lf_sketch_new(&p);
    b = lf_sketch_new(&p);
    for (int i = 0; i < 5000; i++) {
        /* Zeros and a span wider than 64 buckets: folding too. */
        double v = i % 7 == 0 ? 0.0 : rng_lognormal(-3.0, 2.0);
        lf_sketch_add(a, v);
        lf_sketch_add_at(b, v, v > p.min_value ? lf_sketch_index(&p, v) : 0);
    }
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->zero, b->zero);
    assert_int_equal(a->collapsed, b->collapsed);
    assert_int_equal(a->offset, b->offset);
    assert_int_equal(a->nbins, b->nbins);
    assert_memory_equal(a->bins, b->bins, sizeof(uint64_t) * (size_t)a->nbins);
    assert_true(a->sum == b->sum && a->min == b->min && a->max == b->max);
    lf_sketch_free(a);
    lf_sketch_free(b);
}

/* A 16-bit sketch whose buckets go to a full sketch before a span past
 * max_buckets, merged back with them, equals one full sketch of every
 * value: folding gives the same buckets whatever the order counts come
 * in, so the quantiles are the same. */
static void test_sketch16_with_its_spill_equals_one_sketch(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch *all, *spill, *merged;
    struct lf_sketch16 part;
    int spills = 0;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 32, &err), LFP_OK);
    all = lf_sketch_new(&p);
    spill = lf_sketch_new(&p);
    merged = lf_sketch_new(&p);
    lf_sketch16_init(&part);
    for (int i = 0; i < 20000; i++) {
        double v = i % 11 == 0 ? 0.0 : rng_lognormal(-3.0, 2.0);
        int32_t at = v > p.min_value ? lf_sketch_index(&p, v) : 0;
        lf_sketch_add(all, v);
        if (lf_sketch16_add(&part, v, at))
            continue;
        if (lf_sketch16_would_fold(&part, &p, at)) {
            lf_sketch_merge_bins16(spill, &part);
            lf_sketch16_clear_bins(&part);
            spills++;
        }
        lf_sketch16_grow(&part, &p, at);
        assert_true(part.nbins <= 32 && part.cap <= 32);
    }
    assert_true(spills > 0);
    assert_true(all->collapsed > 0);
    assert_int_equal(part.count, all->count);
    assert_int_equal(part.zero, all->zero);
    assert_true(part.sum == all->sum && part.min == all->min &&
                part.max == all->max);
    lf_sketch_merge16(merged, &part);
    lf_sketch_merge_bins(merged, spill);
    assert_int_equal(merged->offset, all->offset);
    assert_int_equal(merged->nbins, all->nbins);
    assert_memory_equal(merged->bins, all->bins,
                        sizeof(uint64_t) * (size_t)all->nbins);
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
        assert_true(lf_sketch_quantile(merged, quantiles[i]) ==
                    lf_sketch_quantile(all, quantiles[i]));
    lf_sketch16_fini(&part);
    lf_sketch_free(all);
    lf_sketch_free(spill);
    lf_sketch_free(merged);
}

/* A 16-bit count that wraps says so: the value is counted (count, sum)
 * and the bucket reads 0, for the caller to move 2^16 elsewhere. */
static void test_sketch16_reports_a_count_that_wraps(void **state)
{
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch16 s;
    struct lf_sketch *full;
    int32_t at;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 2048, &err), LFP_OK);
    lf_sketch16_init(&s);
    at = lf_sketch_index(&p, 0.25);
    assert_int_equal(lf_sketch16_add(&s, 0.25, at), 0); /* no span yet */
    lf_sketch16_grow(&s, &p, at);
    s.bins[at - s.offset] = UINT16_MAX - 1;
    assert_int_equal(lf_sketch16_add(&s, 0.25, at), 1);
    assert_int_equal(lf_sketch16_add(&s, 0.25, at), 0); /* wrapped */
    assert_true(lf_sketch16_covers(&s, at));
    assert_int_equal(s.bins[at - s.offset], 0);
    assert_int_equal(s.count, 3);
    full = lf_sketch_new(&p);
    lf_sketch_add_bucket(full, at, UINT64_C(1) << 16);
    lf_sketch_merge16(full, &s);
    assert_int_equal(full->nbins, 1);
    assert_true(full->bins[0] == UINT64_C(1) << 16);
    lf_sketch16_fini(&s);
    lf_sketch_free(full);
}

/* Zeros added by lf_sketch16_add_zero leave the sketch as
 * lf_sketch16_add(0.0) does, before, among and after other values. */
static void test_sketch16_add_zero_equals_add_of_zero(void **state)
{
    static const double v[] = {0.0, 0.25, 0.0, 1e-12, 3.5, 0.0};
    struct lf_sketch_params p;
    struct lfp_err err = {0};
    struct lf_sketch16 a, b;

    (void)state;
    assert_int_equal(lf_sketch_params_init(&p, 0.01, 2048, &err), LFP_OK);
    lf_sketch16_init(&a);
    lf_sketch16_init(&b);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (v[i] == 0.0) {
            assert_int_equal(lf_sketch16_add(&a, 0.0, 0), 1);
            lf_sketch16_add_zero(&b);
        } else {
            int32_t at =
                v[i] > LF_SKETCH_MIN_VALUE ? lf_sketch_index(&p, v[i]) : 0;
            if (!lf_sketch16_add(&a, v[i], at))
                lf_sketch16_grow(&a, &p, at);
            if (!lf_sketch16_add(&b, v[i], at))
                lf_sketch16_grow(&b, &p, at);
        }
        assert_int_equal(a.count, b.count);
        assert_int_equal(a.zero, b.zero);
        assert_memory_equal(&a.sum, &b.sum, sizeof(a.sum));
        assert_memory_equal(&a.min, &b.min, sizeof(a.min));
        assert_memory_equal(&a.max, &b.max, sizeof(a.max));
        assert_int_equal(a.nbins, b.nbins);
    }
    lf_sketch16_fini(&a);
    lf_sketch16_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_within_relative_accuracy),
        cmocka_unit_test(test_merge_equals_sketch_of_all_values),
        cmocka_unit_test(test_add_at_equals_add),
        cmocka_unit_test(
            test_bucket_cap_folds_lowest_buckets_and_keeps_the_tail),
        cmocka_unit_test(
            test_empty_sketch_has_no_quantile_and_ignores_bad_values),
        cmocka_unit_test(test_bad_parameters_are_refused),
        cmocka_unit_test(test_sketch16_with_its_spill_equals_one_sketch),
        cmocka_unit_test(test_sketch16_reports_a_count_that_wraps),
        cmocka_unit_test(test_sketch16_add_zero_equals_add_of_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
