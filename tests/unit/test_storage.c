/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_storage.c - the disk buffer: chunk files round-trip every field
 * type; corrupt and truncated files are refused with a reason and set
 * aside; the folder is a FIFO that survives a reopen; leftover temporary
 * files are removed. Also CRC-32C and the dead-letter file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "chunk.h"
#include "crc32c.h"
#include "dlq.h"
#include "lf_test.h"
#include "mem.h"
#include "storage.h"
#include "storage_codec.h"

/* A chunk with three records: typed fields, a nested array, a dropped
 * record and a parse error record. */
static struct lfp_chunk *test_chunk(void)
{
    static const char raw[] = "alpha line\ndropped\nbroken \"line\"\n";
    struct lfp_chunk *c = lf_chunk_new(4096, 4096);
    size_t cap;
    char *buf = lf_chunk_raw(c, &cap);
    struct lfp_record *rec;
    struct lfp_field *f, *arr;

    memcpy(buf, raw, sizeof(raw));
    lf_chunk_set_tag(c, "nginx.access", 12);
    lf_chunk_add_line(c, 0, 10, 0);
    lf_chunk_add_line(c, 11, 7, LFP_REC_DROPPED);
    lf_chunk_add_line(c, 19, 13, LFP_REC_PARSE_ERROR);
    rec = &c->records[0];
    rec->ts_ns = INT64_C(1748736003512000000);
    lf_field_set_str(lf_record_add(c, rec), "url.original", buf, 5);
    lf_field_set_int(lf_record_add(c, rec), "status", -502);
    lf_field_set_float(lf_record_add(c, rec), "rt", 0.125);
    f = lf_record_add(c, rec);
    f->key = "ok";
    f->key_len = 2;
    f->type = LFP_T_BOOL;
    f->v.i = 1;
    f = lf_record_add(c, rec);
    f->key = "none";
    f->key_len = 4;
    f->type = LFP_T_NULL;
    arr = lf_chunk_alloc(c, 2 * sizeof(*arr));
    memset(arr, 0, 2 * sizeof(*arr));
    lf_field_set_int(&arr[0], "", 7);
    lf_field_set_str(&arr[1], "", "x", 1);
    f = lf_record_add(c, rec);
    f->key = "list";
    f->key_len = 4;
    f->type = LFP_T_ARRAY;
    f->n = 2;
    f->v.arr = arr;
    c->records[2].ts_ns = 42;
    return c;
}

static void test_crc32c_known_value(void **state)
{
    (void)state;
    assert_int_equal(lf_crc32c(0, "123456789", 9), 0xe3069283u);
    /* Incremental equals one shot. */
    assert_int_equal(lf_crc32c(lf_crc32c(0, "1234", 4), "56789", 5),
                     0xe3069283u);
}

static void assert_field_eq(const struct lfp_field *a,
                            const struct lfp_field *b)
{
    assert_int_equal(a->key_len, b->key_len);
    assert_memory_equal(a->key, b->key, a->key_len);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    switch (a->type) {
    case LFP_T_STR:
    case LFP_T_JSON:
        assert_int_equal(a->n, b->n);
        assert_memory_equal(a->v.s, b->v.s, a->n);
        break;
    case LFP_T_INT:
    case LFP_T_BOOL:
        assert_true(a->v.i == b->v.i);
        break;
    case LFP_T_FLOAT:
        assert_true(a->v.d == b->v.d);
        break;
    case LFP_T_ARRAY:
        assert_int_equal(a->n, b->n);
        for (uint32_t i = 0; i < a->n; i++)
            assert_field_eq(&a->v.arr[i], &b->v.arr[i]);
        break;
    default:
        break;
    }
}

static void test_codec_round_trips_records_and_types(void **state)
{
    struct lf_storage_codec *codec = lf_storage_codec_new(1);
    struct lfp_chunk *c = test_chunk(), *back = lf_chunk_new(16, 4096);
    struct lfp_err err = {0};
    const void *data;
    size_t len;
    uint32_t nrec;

    (void)state;
    assert_int_equal(lf_storage_encode(codec, c, &data, &len, &nrec, &err),
                     LFP_OK);
    assert_int_equal(nrec, 2); /* the dropped record is not stored */
    if (lf_storage_decode(codec, data, len, back, &err) != LFP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(back->tag_len, 12);
    assert_string_equal(back->tag, "nginx.access");
    assert_int_equal(back->nrecords, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const struct lfp_record *a = &c->records[i == 0 ? 0 : 2];
        const struct lfp_record *b = &back->records[i];
        assert_true(a->ts_ns == b->ts_ns);
        assert_int_equal(a->flags, b->flags);
        assert_int_equal(a->raw_len, b->raw_len);
        assert_memory_equal(a->raw, b->raw, a->raw_len);
        assert_int_equal(a->nfields, b->nfields);
        for (uint32_t j = 0; j < a->nfields; j++)
            assert_field_eq(&a->fields[j], &b->fields[j]);
    }
    lf_chunk_free(c);
    lf_chunk_free(back);
    lf_storage_codec_free(codec);
}

/* A decoded key lives in the decoded chunk, without the frame a parser
 * puts around its names: the codec drops LFP_FIELD_KEY_FRAMED, keeps the
 * other flags. */
static void test_codec_drops_the_framed_key_hint(void **state)
{
    static const char frame[32] = ",\"status\":";
    struct lf_storage_codec *codec = lf_storage_codec_new(1);
    struct lfp_chunk *c = lf_chunk_new(4096, 4096), *back;
    const uint8_t hints = LFP_FIELD_KEY_STABLE | LFP_FIELD_KEY_PLAIN;
    struct lfp_err err = {0};
    struct lfp_field *f;
    const void *data;
    size_t len, cap;
    uint32_t nrec;

    (void)state;
    memcpy(lf_chunk_raw(c, &cap), "x", 1);
    lf_chunk_add_line(c, 0, 1, 0);
    f = lf_record_add(c, &c->records[0]);
    lf_field_set_int(f, "status", 502);
    f->key = frame + 2;
    f->flags = hints | LFP_FIELD_KEY_FRAMED;
    assert_int_equal(lf_storage_encode(codec, c, &data, &len, &nrec, &err),
                     LFP_OK);
    back = lf_chunk_new(16, 4096);
    if (lf_storage_decode(codec, data, len, back, &err) != LFP_OK)
        fail_msg("%s", err.msg);
    f = &back->records[0].fields[0];
    assert_memory_equal(f->key, "status", 6);
    assert_int_equal(f->flags, hints);
    lf_chunk_free(c);
    lf_chunk_free(back);
    lf_storage_codec_free(codec);
}

/* Every single-byte flip and every truncation of a file is refused. */
static void test_codec_refuses_every_flip_and_truncation(void **state)
{
    struct lf_storage_codec *codec = lf_storage_codec_new(1);
    struct lfp_chunk *c = test_chunk(), *back = lf_chunk_new(16, 4096);
    const void *data;
    size_t len;
    uint32_t nrec;
    char *copy;
    struct lfp_err err = {0};

    (void)state;
    assert_int_equal(lf_storage_encode(codec, c, &data, &len, &nrec, &err),
                     LFP_OK);
    copy = lf_malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, data, len);
        copy[i] ^= 0x5a;
        lf_chunk_reset(back);
        memset(&err, 0, sizeof(err));
        if (lf_storage_decode(codec, copy, len, back, &err) == LFP_OK &&
            i != 28 && i != 29 && i != 30 && i != 31)
            fail_msg("flip at byte %zu accepted", i);
    }
    for (size_t n = 0; n < len; n++) {
        lf_chunk_reset(back);
        memset(&err, 0, sizeof(err));
        if (lf_storage_decode(codec, data, n, back, &err) == LFP_OK)
            fail_msg("truncation to %zu bytes accepted", n);
        assert_true(err.msg[0] != '\0');
    }
    lf_free(copy);
    lf_chunk_free(c);
    lf_chunk_free(back);
    lf_storage_codec_free(codec);
}

static void put_chunk(struct lf_storage *st, struct lf_storage_codec *codec,
                      struct lfp_chunk *c)
{
    struct lfp_err err = {0};
    const void *data;
    size_t len;
    uint32_t nrec;

    assert_int_equal(lf_storage_encode(codec, c, &data, &len, &nrec, &err),
                     LFP_OK);
    if (lf_storage_put(st, data, len, &err) != LFP_OK)
        fail_msg("%s", err.msg);
}

static void test_storage_is_a_fifo_that_survives_reopen(void **state)
{
    char *dir = lf_test_tmpdir("lfstore");
    char sub[512], path[600];
    struct lf_storage_codec *codec = lf_storage_codec_new(1);
    struct lfp_chunk *c = test_chunk();
    struct lf_storage *st = NULL;
    struct lfp_err err = {0};
    uint64_t id1, id2, id;
    char *buf = NULL;
    size_t cap = 0, len = 0;

    (void)state;
    (void)snprintf(sub, sizeof(sub), "%s/a/b", dir);
    assert_int_equal(lf_storage_open(sub, "t", &st, &err), LFP_OK);
    assert_int_equal(lf_storage_head(st, &id), 0);
    put_chunk(st, codec, c);
    put_chunk(st, codec, c);
    assert_int_equal(lf_storage_count(st), 2);
    assert_true(lf_storage_bytes(st) > (uint64_t)2 * LF_STORAGE_HEADER);
    assert_int_equal(lf_storage_head(st, &id1), 1);
    lf_storage_free(st);

    /* A crash mid-write leaves a .tmp: removed, never replayed. */
    (void)snprintf(path, sizeof(path), "%s/00000000000000ff.tmp", sub);
    lf_test_write_file(path, "partial", 7, 0);
    st = NULL;
    assert_int_equal(lf_storage_open(sub, "t", &st, &err), LFP_OK);
    assert_int_equal(lf_storage_count(st), 2);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(lf_storage_head(st, &id), 1);
    assert_true(id == id1);
    assert_int_equal(lf_storage_load(st, id, &buf, &cap, &len, &err), LFP_OK);
    lf_storage_drop(st, id);
    assert_int_equal(lf_storage_head(st, &id2), 1);
    assert_true(id2 > id1);
    put_chunk(st, codec, c); /* ids keep growing after a reopen */
    assert_int_equal(lf_storage_count(st), 2);
    lf_storage_drop(st, id2);
    assert_int_equal(lf_storage_head(st, &id), 1);
    assert_true(id > id2);
    lf_storage_drop(st, id);
    assert_int_equal(lf_storage_count(st), 0);
    assert_true(lf_storage_bytes(st) == 0);
    lf_free(buf);
    lf_storage_free(st);
    lf_chunk_free(c);
    lf_storage_codec_free(codec);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_storage_put_front_goes_before_the_oldest(void **state)
{
    char *dir = lf_test_tmpdir("lfstore");
    struct lf_storage_codec *codec = lf_storage_codec_new(1);
    struct lfp_chunk *c = test_chunk();
    struct lf_storage *st = NULL;
    struct lfp_err err = {0};
    const void *data;
    size_t len;
    uint32_t nrec;
    uint64_t first, id;

    (void)state;
    assert_int_equal(lf_storage_open(dir, "t", &st, &err), LFP_OK);
    /* Into an empty queue, then before an existing chunk. */
    assert_int_equal(lf_storage_encode(codec, c, &data, &len, &nrec, &err),
                     LFP_OK);
    assert_int_equal(lf_storage_put_front(st, data, len, &err), LFP_OK);
    put_chunk(st, codec, c);
    assert_int_equal(lf_storage_head(st, &first), 1);
    assert_int_equal(lf_storage_put_front(st, data, len, &err), LFP_OK);
    assert_int_equal(lf_storage_count(st), 3);
    assert_int_equal(lf_storage_head(st, &id), 1);
    assert_true(id < first);
    lf_storage_free(st);
    /* The order holds after a reopen (names sort like the queue). */
    st = NULL;
    assert_int_equal(lf_storage_open(dir, "t", &st, &err), LFP_OK);
    assert_int_equal(lf_storage_count(st), 3);
    assert_int_equal(lf_storage_head(st, &first), 1);
    assert_true(first == id);
    lf_storage_drop(st, id);
    assert_int_equal(lf_storage_head(st, &id), 1);
    assert_true(id > first);
    lf_storage_free(st);
    lf_chunk_free(c);
    lf_storage_codec_free(codec);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_storage_sets_aside_short_and_corrupt_files(void **state)
{
    char *dir = lf_test_tmpdir("lfstore");
    char path[600];
    struct lf_storage *st = NULL;
    struct lfp_err err = {0};
    struct stat sb;
    uint64_t id;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/0000000000000001.lfc", dir);
    lf_test_write_file(path, "LFCK", 4, 0); /* shorter than a header */
    (void)snprintf(path, sizeof(path), "%s/0000000000000002.lfc", dir);
    lf_test_write_file(path, "0123456789012345678901234567890123456789", 40, 0);
    assert_int_equal(lf_storage_open(dir, "t", &st, &err), LFP_OK);
    assert_int_equal(lf_storage_count(st), 1);
    assert_true(lf_storage_corrupt(st) == 1);
    (void)snprintf(path, sizeof(path), "%s/corrupt/0000000000000001.lfc", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(lf_storage_head(st, &id), 1);
    lf_storage_set_aside(st, id, "bad magic");
    assert_int_equal(lf_storage_count(st), 0);
    assert_true(lf_storage_corrupt(st) == 2);
    (void)snprintf(path, sizeof(path), "%s/corrupt/0000000000000002.lfc", dir);
    assert_int_equal(stat(path, &sb), 0);
    lf_storage_free(st);
    lf_test_rmtree(dir);
    lf_free(dir);
}

static void test_dlq_writes_one_json_line_per_live_record(void **state)
{
    char *dir = lf_test_tmpdir("lfdlq");
    char path[600], text[8192];
    struct lfp_chunk *c = test_chunk();
    struct lf_dlq *dlq = NULL;
    struct lfp_err err = {0};
    uint64_t n = 0;
    FILE *f;
    size_t len;
    int lines = 0;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/sub/dead.jsonl", dir);
    assert_int_equal(lf_dlq_open(path, "out_x:0", &dlq, &err), LFP_OK);
    assert_int_equal(lf_dlq_write(dlq, c, "HTTP 400: \"bad\"", 3, &n, &err),
                     LFP_OK);
    assert_true(n == 2);
    lf_dlq_free(dlq);
    f = fopen(path, "r");
    assert_non_null(f);
    len = fread(text, 1, sizeof(text) - 1, f);
    (void)fclose(f);
    text[len] = '\0';
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 2);
    assert_non_null(strstr(text, "\"output\":\"out_x:0\""));
    assert_non_null(strstr(text, "\"error\":\"HTTP 400: \\\"bad\\\"\""));
    assert_non_null(strstr(text, "\"attempts\":3"));
    assert_non_null(strstr(text, "\"status\":-502"));
    assert_null(strstr(text, "dropped"));
    lf_chunk_free(c);
    lf_test_rmtree(dir);
    lf_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_value),
        cmocka_unit_test(test_codec_round_trips_records_and_types),
        cmocka_unit_test(test_codec_drops_the_framed_key_hint),
        cmocka_unit_test(test_codec_refuses_every_flip_and_truncation),
        cmocka_unit_test(test_storage_is_a_fifo_that_survives_reopen),
        cmocka_unit_test(test_storage_put_front_goes_before_the_oldest),
        cmocka_unit_test(test_storage_sets_aside_short_and_corrupt_files),
        cmocka_unit_test(test_dlq_writes_one_json_line_per_live_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
