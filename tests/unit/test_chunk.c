/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_chunk.c - adding records to a chunk one line at a time and in
 * batches: the record vector grows past its first capacity keeping what
 * it holds, and a reset chunk starts empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "mem.h"

#define TEST_RAW 4096

/* Checks that record i is raw[i % TEST_RAW, +1) with flags i % 3. */
static void test_chunk_assert_record(struct lfp_chunk *c, uint32_t i)
{
    size_t cap;
    const char *raw = lf_chunk_raw(c, &cap);
    const struct lfp_record *rec = &c->records[i];

    assert_ptr_equal(rec->raw, raw + i % TEST_RAW);
    assert_int_equal(rec->raw_len, 1);
    assert_int_equal(rec->flags, i % 3);
    assert_int_equal(rec->ts_ns, 0);
    assert_null(rec->fields);
    assert_int_equal(rec->nfields, 0);
    assert_int_equal(rec->fields_cap, 0);
}

static void test_add_records_grows_and_keeps_earlier_records(void **state)
{
    struct lfp_chunk *c = lf_chunk_new(TEST_RAW, 4096);
    size_t cap;
    char *raw = lf_chunk_raw(c, &cap);
    uint32_t n = 0;

    (void)state;
    assert_int_equal(cap, TEST_RAW);
    /* Batches of every size from 0 to 299, with single lines between:
     * the vector grows several times, by more than double at once too. */
    for (uint32_t batch = 0; batch < 300; batch++) {
        struct lfp_record *rec = lf_chunk_add_records(c, batch);

        assert_ptr_equal(rec, &c->records[n]);
        for (uint32_t k = 0; k < batch; k++, n++)
            lfp_record_set_line(&rec[k], raw + n % TEST_RAW, 1, n % 3);
        lf_chunk_add_line(c, n % TEST_RAW, 1, n % 3);
        n++;
        assert_int_equal(c->nrecords, n);
    }
    lf_chunk_add_records(c, 5000);
    for (uint32_t k = 0; k < 5000; k++, n++)
        lfp_record_set_line(&c->records[n], raw + n % TEST_RAW, 1, n % 3);
    assert_int_equal(c->nrecords, n);
    for (uint32_t i = 0; i < n; i++)
        test_chunk_assert_record(c, i);
    lf_chunk_reset(c);
    assert_int_equal(c->nrecords, 0);
    assert_ptr_equal(lf_chunk_add_records(c, 3), &c->records[0]);
    assert_int_equal(c->nrecords, 3);
    lf_chunk_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_records_grows_and_keeps_earlier_records),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
