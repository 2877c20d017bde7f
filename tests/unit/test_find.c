/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_find.c - logferry/find.h: the fields found are those a plain scan
 * finds, whether the layout is remembered or not, and a remembered layout
 * is never trusted for keys that are not stable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <logferry/find.h>

#define STABLE (LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN)

static const char *const wanted[] = {"status", "upstream.address", "error",
                                     "status"};
#define NWANTED 4

static void set(struct lfp_field *f, const char *key, uint8_t flags, int64_t v)
{
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->key_len = (uint16_t)strlen(key);
    f->flags = flags;
    f->type = LFP_T_INT;
    f->v.i = v;
}

/* What a plain scan finds: the first field of each wanted key. */
static void scan(const struct lfp_record *rec, const struct lfp_field **got)
{
    for (int k = 0; k < NWANTED; k++) {
        got[k] = NULL;
        for (uint32_t i = 0; i < rec->nfields && !got[k]; i++)
            if (strlen(wanted[k]) == rec->fields[i].key_len &&
                memcmp(wanted[k], rec->fields[i].key, rec->fields[i].key_len) ==
                    0)
                got[k] = &rec->fields[i];
    }
}

static void check(struct lfp_find *fd, const struct lfp_record *rec)
{
    const struct lfp_field *got[NWANTED], *want[NWANTED];

    lfp_find_fields(fd, rec, got);
    scan(rec, want);
    for (int k = 0; k < NWANTED; k++)
        assert_ptr_equal(got[k], want[k]);
}

static void test_layouts_give_what_a_scan_gives(void **state)
{
    static const char *const keys[] = {"time",  "status", "referrer",
                                       "bytes", "error",  "upstream.address"};
    struct lfp_find fd;
    struct lfp_field fields[8];
    struct lfp_record rec = {.fields = fields};

    (void)state;
    lfp_find_init(&fd, wanted, NWANTED);
    /* Every subset of the six keys, in order, twice over: 64 layouts
     * through 8 slots, each seen again after it may have been replaced. */
    for (int round = 0; round < 2; round++) {
        for (unsigned mask = 0; mask < 64; mask++) {
            rec.nfields = 0;
            for (int i = 0; i < 6; i++)
                if (mask & (1u << i))
                    set(&fields[rec.nfields++], keys[i], STABLE, i);
            check(&fd, &rec);
            check(&fd, &rec); /* now from the remembered layout */
        }
    }
}

static void test_a_duplicate_key_gives_the_first(void **state)
{
    struct lfp_find fd;
    struct lfp_field fields[3];
    struct lfp_record rec = {.fields = fields, .nfields = 3};
    const struct lfp_field *got[NWANTED];

    (void)state;
    lfp_find_init(&fd, wanted, NWANTED);
    set(&fields[0], "status", STABLE, 1);
    set(&fields[1], "error", STABLE, 2);
    set(&fields[2], "status", STABLE, 3);
    for (int i = 0; i < 2; i++) {
        lfp_find_fields(&fd, &rec, got);
        assert_ptr_equal(got[0], &fields[0]);
        assert_ptr_equal(got[3], &fields[0]); /* a key wanted twice */
        assert_ptr_equal(got[2], &fields[1]);
        assert_null(got[1]);
    }
}

static void test_unstable_keys_are_compared_every_time(void **state)
{
    struct lfp_find fd;
    struct lfp_field fields[2];
    struct lfp_record rec = {.fields = fields, .nfields = 2};
    const struct lfp_field *got[NWANTED];
    char key[] = "status"; /* like a key in a line's buffer */

    (void)state;
    lfp_find_init(&fd, wanted, NWANTED);
    set(&fields[0], key, 0, 1);
    set(&fields[1], "error", STABLE, 2);
    lfp_find_fields(&fd, &rec, got);
    assert_ptr_equal(got[0], &fields[0]);
    memcpy(key, "statux", 6); /* same address, other key */
    lfp_find_fields(&fd, &rec, got);
    assert_null(got[0]);
    assert_ptr_equal(got[2], &fields[1]);
}

static void test_a_moved_key_is_not_taken_for_the_layout(void **state)
{
    struct lfp_find fd;
    struct lfp_field fields[3];
    struct lfp_record rec = {.fields = fields, .nfields = 3};

    (void)state;
    lfp_find_init(&fd, wanted, NWANTED);
    set(&fields[0], "status", STABLE, 1);
    set(&fields[1], "error", STABLE, 2);
    set(&fields[2], "upstream.address", STABLE, 3);
    check(&fd, &rec);
    /* Same count, two keys swapped: another layout. */
    set(&fields[0], "error", STABLE, 2);
    set(&fields[1], "status", STABLE, 1);
    check(&fd, &rec);
    rec.nfields = 0;
    check(&fd, &rec);
}

/* Keys at stable addresses: pool[i] is "k<i>", other[i] is "x<i>". */
#define POOL 80
static char pool[POOL][8], other[POOL][8];

static void pool_init(void)
{
    for (int i = 0; i < POOL; i++) {
        snprintf(pool[i], sizeof(pool[i]), "k%d", i);
        snprintf(other[i], sizeof(other[i]), "x%d", i);
    }
}

/* What a plain scan finds for keys[0..nkeys), compared with the finder. */
static void check_keys(struct lfp_find *fd, const struct lfp_record *rec,
                       const char *const *keys, int nkeys)
{
    const struct lfp_field *got[LFP_FIND_MAX];

    lfp_find_fields(fd, rec, got);
    for (int k = 0; k < nkeys; k++) {
        const struct lfp_field *want = NULL;
        for (uint32_t i = 0; i < rec->nfields && !want; i++)
            if (strlen(keys[k]) == rec->fields[i].key_len &&
                memcmp(keys[k], rec->fields[i].key, rec->fields[i].key_len) ==
                    0)
                want = &rec->fields[i];
        assert_ptr_equal(got[k], want);
    }
}

/* Two layouts of n fields that differ in field p only, for every n and p:
 * the difference is seen wherever it falls, in a block of four, in the
 * last four that overlap the block before, or past the fields the hint
 * hashes. Finders of 1 to 9 keys: got[] is filled whole and no further. */
static void test_layouts_that_differ_in_one_field(void **state)
{
    struct lfp_field fields[40];
    struct lfp_record rec = {.fields = fields};
    const char *keys[9];
    struct lfp_find fd;

    (void)state;
    pool_init();
    for (int nkeys = 1; nkeys <= 9; nkeys++) {
        /* Keys at the front, in the middle, at the end and in no layout,
         * one of them a variant key. */
        for (int k = 0; k < nkeys; k++)
            keys[k] = k == 1 ? other[7] : pool[(k * 11) % POOL];
        lfp_find_init(&fd, keys, nkeys);
        for (uint32_t n = 1; n <= 40; n++) {
            for (uint32_t p = 0; p < n; p++) {
                for (int round = 0; round < 4; round++) {
                    rec.nfields = n;
                    for (uint32_t i = 0; i < n; i++)
                        set(&fields[i],
                            i == p && round % 2 ? other[i] : pool[i], STABLE,
                            i);
                    check_keys(&fd, &rec, keys, nkeys);
                }
            }
        }
    }
}

/* More layouts in turn than the finder has slots: each record finds its
 * slot taken by another layout, and is scanned. */
static void test_more_layouts_than_slots(void **state)
{
    struct lfp_field fields[4];
    struct lfp_record rec = {.fields = fields, .nfields = 4};
    const char *keys[] = {pool[0], pool[1], pool[2], pool[3]};
    struct lfp_find fd;

    (void)state;
    pool_init();
    lfp_find_init(&fd, keys, 4);
    for (int round = 0; round < 3; round++) {
        for (int j = 0; j < LFP_FIND_LAYOUTS + 3; j++) {
            /* Layout j: pool[j] at field j % 4 of x-keys. */
            for (int i = 0; i < 4; i++)
                set(&fields[i], i == j % 4 ? pool[j] : other[j + i], STABLE, i);
            check_keys(&fd, &rec, keys, 4);
            check_keys(&fd, &rec, keys, 4);
        }
    }
}

/* Records of two field counts in turn, the counts' low bits equal (the
 * longer one past any remembered layout), then two layouts of one count:
 * a slot remembered for a count is only where a lookup starts. */
static void test_layouts_of_aliased_counts_in_turn(void **state)
{
    struct lfp_field fields[LFP_FIND_FIELDS + 3];
    struct lfp_record rec = {.fields = fields};
    const char *keys[] = {pool[0], pool[2], other[1], pool[70]};
    struct lfp_find fd;

    (void)state;
    pool_init();
    lfp_find_init(&fd, keys, 4);
    for (int round = 0; round < 8; round++) {
        rec.nfields = round % 2 ? LFP_FIND_FIELDS + 3 : 3;
        for (uint32_t i = 0; i < rec.nfields; i++)
            set(&fields[i], pool[i % POOL], STABLE, i);
        check_keys(&fd, &rec, keys, 4);
        rec.nfields = 3;
        for (uint32_t i = 0; i < 3; i++)
            set(&fields[i], round % 4 < 2 && i == 1 ? other[i] : pool[i],
                STABLE, i);
        check_keys(&fd, &rec, keys, 4);
    }
}

/* A record longer than any remembered layout is scanned each time. */
static void test_a_long_record_is_scanned(void **state)
{
    struct lfp_field fields[LFP_FIND_FIELDS + 2];
    struct lfp_record rec = {.fields = fields, .nfields = LFP_FIND_FIELDS + 2};
    struct lfp_find fd;

    (void)state;
    pool_init();
    lfp_find_init(&fd, wanted, NWANTED);
    for (uint32_t i = 0; i < rec.nfields; i++)
        set(&fields[i], pool[i], STABLE, i);
    set(&fields[LFP_FIND_FIELDS + 1], "status", STABLE, 1);
    for (int round = 0; round < 2; round++)
        check(&fd, &rec);
    /* The same keys but one: still not taken for a layout. */
    set(&fields[LFP_FIND_FIELDS], "error", STABLE, 2);
    check(&fd, &rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_give_what_a_scan_gives),
        cmocka_unit_test(test_a_duplicate_key_gives_the_first),
        cmocka_unit_test(test_unstable_keys_are_compared_every_time),
        cmocka_unit_test(test_a_moved_key_is_not_taken_for_the_layout),
        cmocka_unit_test(test_layouts_that_differ_in_one_field),
        cmocka_unit_test(test_more_layouts_than_slots),
        cmocka_unit_test(test_layouts_of_aliased_counts_in_turn),
        cmocka_unit_test(test_a_long_record_is_scanned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
