/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_in_tail.c - the tail input (plugins/in_tail/) on the test host:
 * start offsets, line splitting, rotation both ways, truncation of long
 * lines, commit on ack and the state file; and the newline finders
 * (tail_newline.c), each against a plain byte loop.
 *
 * Each test gets a fresh directory; the input follows DIR/ *.log and keeps
 * its state in DIR/state.db. Live tests run the input on its own thread
 * and wait for lines with deadlines, never with sleep().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../plugins/in_tail/tail_newline.h"
#include "lf_test.h"
#include "mem.h"
#include "test_host.h"

extern const struct lfp_input_def in_tail_def;

#define TEST_RAW_CAP ((size_t)256 * 1024)
#define TEST_POOL 8
#define TEST_WAIT_MS 5000

struct tail_test {
    char *dir;
    char log[512];
    char db[512];
    void *conf;
    struct lf_test_host *th;
};

static int tail_test_setup(void **state)
{
    struct tail_test *t = lf_calloc(1, sizeof(*t));
    char pattern[600];

    t->dir = lf_test_tmpdir("in_tail");
    (void)snprintf(t->log, sizeof(t->log), "%s/a.log", t->dir);
    (void)snprintf(t->db, sizeof(t->db), "%s/state.db", t->dir);
    (void)snprintf(pattern, sizeof(pattern), "%s/*.log", t->dir);
    t->conf = lf_test_conf_new(in_tail_def.options, in_tail_def.conf_size);
    assert_int_equal(
        lf_test_conf_set(in_tail_def.options, t->conf, "path", pattern), 0);
    /* Fast rescans: the tests must not depend on inotify being there. */
    assert_int_equal(lf_test_conf_set(in_tail_def.options, t->conf,
                                      "refresh_interval", "50ms"),
                     0);
    *state = t;
    return 0;
}

static int tail_test_teardown(void **state)
{
    struct tail_test *t = *state;

    lf_test_host_free(t->th);
    lf_test_conf_free(in_tail_def.options, t->conf);
    lf_test_rmtree(t->dir);
    lf_free(t->dir);
    lf_free(t);
    return 0;
}

static void tail_test_set(struct tail_test *t, const char *key,
                          const char *value)
{
    assert_int_equal(lf_test_conf_set(in_tail_def.options, t->conf, key, value),
                     0);
}

/* A new host (freeing the previous one, which destroys its input) and an
 * initialised input on it. */
static void tail_test_init(struct tail_test *t, size_t raw_cap)
{
    struct lfp_err err = {0};
    int rc;

    lf_test_host_free(t->th);
    t->th = lf_test_host_new(raw_cap, TEST_POOL);
    rc = lf_test_host_input_init(t->th, &in_tail_def, t->conf, &err);
    if (rc != LFP_OK)
        print_error("init: %s\n", err.msg);
    assert_int_equal(rc, LFP_OK);
}

static void tail_test_write(const char *path, const char *text, int append)
{
    lf_test_write_file(path, text, strlen(text), append);
}

static void tail_assert_line(struct tail_test *t, size_t i, const char *text,
                             uint32_t flags)
{
    struct lf_test_line line = lf_test_host_line(t->th, i);

    assert_true(i < lf_test_host_nlines(t->th));
    assert_string_equal(line.text, text);
    assert_int_equal(line.flags, flags);
}

static void tail_assert_lines(struct tail_test *t, const char *const *texts,
                              size_t n)
{
    assert_int_equal(lf_test_host_nlines(t->th), n);
    for (size_t i = 0; i < n; i++)
        tail_assert_line(t, i, texts[i], 0);
}

/* The committed offset the state file holds for path, or -1. */
static long long tail_test_db_offset(const char *db, const char *path)
{
    char line[1024];
    long long off = -1;
    FILE *fp = fopen(db, "r");

    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp)) {
        char *p = line;
        unsigned long long v = 0;

        if (line[0] == '#')
            continue;
        for (int field = 0; field < 5; field++) {
            char *end;

            v = strtoull(p, &end, field == 3 ? 16 : 10);
            assert_true(end != p && *end == ' ');
            p = end + 1;
        }
        p[strcspn(p, "\n")] = '\0';
        if (strcmp(p, path) == 0)
            off = (long long)v;
    }
    (void)fclose(fp);
    return off;
}

struct tail_wait {
    struct tail_test *t;
    int counter;
    uint64_t min;
    long long offset;
    const char *needle;
};

static int tail_test_counter_reached(void *arg)
{
    struct tail_wait *w = arg;

    return lf_test_host_counter(w->t->th, w->counter) >= w->min;
}

static int tail_test_db_reached(void *arg)
{
    struct tail_wait *w = arg;

    return tail_test_db_offset(w->t->db, w->t->log) == w->offset;
}

static int tail_test_logged(void *arg)
{
    struct tail_wait *w = arg;

    return lf_test_host_log_has(w->t->th, LFP_LOG_INFO, w->needle);
}

/* ---- start offsets and line splitting ----------------------------- */

static void test_reads_from_head(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"one", "two", "three"};

    tail_test_write(t->log, "one\ntwo\nthree\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    tail_assert_lines(t, want, 3);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_begin, 0);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_end, 14);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_RECORDS_IN), 3);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_BYTES_IN), 14);
}

static void test_starts_at_end_without_read_from_head(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"new1", "new2"};

    tail_test_write(t->log, "old1\nold2\n", 0);
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    tail_test_write(t->log, "new1\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 1, TEST_WAIT_MS));
    tail_test_write(t->log, "new2\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_lines(t, want, 2);
    assert_int_equal(lf_test_host_line(t->th, 0).pos_begin, 10);
}

static void test_partial_line_held_until_its_newline(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"first", "partial"};
    struct tail_wait w = {.t = t, .counter = LFP_CNT_BYTES_IN, .min = 10};

    tail_test_write(t->log, "first\npart", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 1, TEST_WAIT_MS));
    assert_true(lf_test_wait_until(tail_test_counter_reached, &w, 2000));
    /* All 10 bytes were read, yet only the whole line came out. */
    assert_int_equal(lf_test_host_nlines(t->th), 1);
    tail_test_write(t->log, "ial\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_lines(t, want, 2);
    assert_int_equal(lf_test_host_line(t->th, 1).pos_begin, 6);
    assert_int_equal(lf_test_host_line(t->th, 1).pos_end, 14);
}

/* After a pass that read to the end, read_interval lets the file grow:
 * two writes made meanwhile, 200 ms apart, come in one chunk. */
static void test_read_interval_batches_writes_made_meanwhile(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"first", "b", "c"};
    struct timespec pause = {.tv_nsec = 200L * 1000 * 1000};

    tail_test_write(t->log, "first\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "read_interval", "3s");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 1, TEST_WAIT_MS));
    /* The pass that emitted "first" ends within microseconds; give it
     * time to reach the pause rather than race it. */
    (void)nanosleep(&pause, NULL);
    tail_test_write(t->log, "b\n", 1);
    /* Long enough for a read at once (read_interval 0) to take "b" alone. */
    (void)nanosleep(&pause, NULL);
    tail_test_write(t->log, "c\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 3, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_lines(t, want, 3);
    assert_int_equal(lf_test_host_line(t->th, 1).pos_begin, 6);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_begin, 6);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_end, 10);
}

/* Stopping is not held up by the pause. */
static void test_read_interval_pause_ends_on_stop(void **state)
{
    struct tail_test *t = *state;
    struct timespec t0, t1;

    tail_test_write(t->log, "first\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "read_interval", "1s");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 1, TEST_WAIT_MS));
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000 <
                900);
}

static void test_crlf_line_endings_are_stripped(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"a", "", "b"};

    tail_test_write(t->log, "a\r\n\r\nb\r\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    tail_assert_lines(t, want, 3);
}

static void test_exit_on_eof_emits_final_line_as_partial(void **state)
{
    struct tail_test *t = *state;

    tail_test_write(t->log, "a\nb\nlast", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    assert_int_equal(lf_test_host_nlines(t->th), 3);
    tail_assert_line(t, 0, "a", 0);
    tail_assert_line(t, 1, "b", 0);
    tail_assert_line(t, 2, "last", LFP_REC_PARTIAL);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_end, 8);
}

/* ---- finding files and rotation ----------------------------------- */

static void test_glob_picks_up_new_file_while_running(void **state)
{
    struct tail_test *t = *state;
    char skipped[600];
    char fresh[600];

    (void)snprintf(skipped, sizeof(skipped), "%s/a_skip.log", t->dir);
    (void)snprintf(fresh, sizeof(fresh), "%s/b.log", t->dir);
    tail_test_set(t, "exclude_path", "*_skip.log");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    /* Found later: read from its start although read_from_head is off.
     * The excluded file sorts first, so it would have come out first. */
    tail_test_write(skipped, "excluded\n", 0);
    tail_test_write(fresh, "hello\nworld\n", 0);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_line(t, 0, "hello", 0);
    tail_assert_line(t, 1, "world", 0);
    assert_int_equal(lf_test_host_nlines(t->th), 2);
}

static void test_rotation_rename_drains_old_file_first(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"old1", "old2", "old3",
                                       "new1", "new2", "new3"};
    struct tail_wait closed = {.t = t, .needle = "rotated away and idle"};
    char rotated[600];

    (void)snprintf(rotated, sizeof(rotated), "%s/a.log.1", t->dir);
    tail_test_write(t->log, "old1\nold2\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "rotate_wait", "500ms");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));

    /* The writer still has the old file open after the rename. */
    assert_int_equal(rename(t->log, rotated), 0);
    tail_test_write(rotated, "old3\n", 1);
    tail_test_write(t->log, "new1\nnew2\n", 0);
    assert_true(lf_test_host_wait_lines(t->th, 5, TEST_WAIT_MS));
    tail_test_write(t->log, "new3\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 6, TEST_WAIT_MS));
    assert_true(lf_test_wait_until(tail_test_logged, &closed, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);

    tail_assert_lines(t, want, 6);
    assert_int_not_equal(lf_test_host_line(t->th, 2).pos_source,
                         lf_test_host_line(t->th, 3).pos_source);
    assert_int_equal(lf_test_host_line(t->th, 3).pos_begin, 0);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_ROTATIONS), 1);
}

static void test_copytruncate_restarts_at_zero(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"a1", "a2", "b1"};
    struct tail_wait w = {.t = t, .counter = LFP_CNT_ROTATIONS, .min = 1};

    tail_test_write(t->log, "a1\na2\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    /* What logrotate's copytruncate does once it copied the file. */
    assert_int_equal(truncate(t->log, 0), 0);
    assert_true(
        lf_test_wait_until(tail_test_counter_reached, &w, TEST_WAIT_MS));
    tail_test_write(t->log, "b1\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 3, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_lines(t, want, 3);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_begin, 0);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_end, 3);
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_INFO, "truncated"));
}

static void test_deleted_file_is_drained_then_closed(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"a", "b"};
    struct tail_wait closed = {.t = t, .needle = "deleted and read"};

    tail_test_write(t->log, "a\n", 0);
    tail_test_set(t, "read_from_head", "on");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_host_wait_lines(t->th, 1, TEST_WAIT_MS));
    tail_test_write(t->log, "b\n", 1);
    assert_int_equal(unlink(t->log), 0);
    assert_true(lf_test_wait_until(tail_test_logged, &closed, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    tail_assert_lines(t, want, 2);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_ROTATIONS), 1);
}

/* ---- max_line_size -------------------------------------------------- */

static char *tail_test_long_line(size_t n)
{
    char *s = lf_malloc(n + 1);

    memset(s, 'x', n);
    s[n] = '\0';
    return s;
}

static void test_long_line_is_truncated_and_next_line_intact(void **state)
{
    struct tail_test *t = *state;
    char *big = tail_test_long_line(1 << 20);
    struct lf_test_line line;

    tail_test_write(t->log, "short\n", 0);
    tail_test_write(t->log, big, 1);
    tail_test_write(t->log, "\nnext\n", 1);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);

    assert_int_equal(lf_test_host_nlines(t->th), 3);
    tail_assert_line(t, 0, "short", 0);
    line = lf_test_host_line(t->th, 1);
    assert_int_equal(line.len, 64 * 1024);
    assert_int_equal(line.flags, LFP_REC_TRUNCATED);
    assert_memory_equal(line.text, big, line.len);
    tail_assert_line(t, 2, "next", 0);
    assert_int_equal(lf_test_host_line(t->th, 2).pos_end,
                     6 + (1 << 20) + 1 + 5);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_TRUNCATED), 1);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_BYTES_IN),
                     6 + (1 << 20) + 1 + 5);
    lf_free(big);
}

static void test_long_line_written_in_pieces_is_cut_once(void **state)
{
    struct tail_test *t = *state;
    char *big = tail_test_long_line((size_t)300 * 1024);
    struct tail_wait w = {.t = t, .counter = LFP_CNT_BYTES_IN};

    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "max_line_size", "1K");
    tail_test_write(t->log, "", 0);
    tail_test_init(t, (size_t)8 * 1024);
    lf_test_host_input_start(t->th);
    for (int i = 1; i <= 3; i++) {
        tail_test_write(t->log, big, 1);
        w.min = (uint64_t)i * 300 * 1024;
        assert_true(
            lf_test_wait_until(tail_test_counter_reached, &w, TEST_WAIT_MS));
    }
    assert_int_equal(lf_test_host_nlines(t->th), 0);
    tail_test_write(t->log, "\r\nafter\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
    assert_int_equal(lf_test_host_nlines(t->th), 2);
    assert_int_equal(lf_test_host_line(t->th, 0).len, 1024);
    assert_int_equal(lf_test_host_line(t->th, 0).flags, LFP_REC_TRUNCATED);
    tail_assert_line(t, 1, "after", 0);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_TRUNCATED), 1);
    lf_free(big);
}

/* Line i of tail_test_write_mixed: 0 to 40 bytes, every seventh ending
 * in \r\n; line 1500 is 3000 bytes. */
static size_t tail_test_mixed_line(size_t i, char *buf)
{
    size_t len = i == 1500 ? 3000 : (i * 7) % 41;

    for (size_t k = 0; k < len; k++)
        buf[k] = (char)('a' + (i + k) % 26);
    return len;
}

/* n lines from tail_test_mixed_line; returns the bytes written. */
static size_t tail_test_write_mixed(const char *path, size_t n)
{
    char *text = lf_malloc(n * 48 + 3000);
    char line[3002];
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = tail_test_mixed_line(i, line);

        memcpy(text + used, line, len);
        used += len;
        if (i % 7 == 0)
            text[used++] = '\r';
        text[used++] = '\n';
    }
    lf_test_write_file(path, text, used, 0);
    lf_free(text);
    return used;
}

/* Thousands of lines in one read, more than one batch of newlines: each
 * comes out whole, \r stripped, the one over max_line_size cut. */
static void test_many_lines_in_one_read_come_out_whole(void **state)
{
    struct tail_test *t = *state;
    size_t n = 3000, size = tail_test_write_mixed(t->log, n);
    char want[3002];

    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_set(t, "max_line_size", "1K");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    assert_int_equal(lf_test_host_nlines(t->th), n);
    for (size_t i = 0; i < n; i++) {
        struct lf_test_line line = lf_test_host_line(t->th, i);
        size_t len = tail_test_mixed_line(i, want);

        assert_int_equal(line.flags, i == 1500 ? LFP_REC_TRUNCATED : 0);
        assert_int_equal(line.len, i == 1500 ? 1024 : len);
        assert_memory_equal(line.text, want, line.len);
    }
    assert_int_equal(lf_test_host_line(t->th, n - 1).pos_end, size);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_TRUNCATED), 1);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_RECORDS_IN), n);
}

/* The read that ends a long line being skipped goes on with hundreds of
 * lines: the first record is the cut line, the others are whole. */
static void test_lines_after_a_skipped_long_line_all_come_out(void **state)
{
    struct tail_test *t = *state;
    char *big = tail_test_long_line((size_t)20 * 1024);
    char line[16];

    tail_test_write(t->log, big, 0);
    tail_test_write(t->log, "\n", 1);
    for (int i = 0; i < 600; i++) {
        (void)snprintf(line, sizeof(line), "l%03d\r\n", i);
        tail_test_write(t->log, line, 1);
    }
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_set(t, "max_line_size", "1K");
    tail_test_init(t, (size_t)8 * 1024);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    assert_int_equal(lf_test_host_nlines(t->th), 601);
    assert_int_equal(lf_test_host_line(t->th, 0).len, 1024);
    assert_int_equal(lf_test_host_line(t->th, 0).flags, LFP_REC_TRUNCATED);
    for (int i = 0; i < 600; i++) {
        (void)snprintf(line, sizeof(line), "l%03d", i);
        tail_assert_line(t, (size_t)i + 1, line, 0);
    }
    assert_int_equal(lf_test_host_line(t->th, 600).pos_end,
                     20 * 1024 + 1 + 600 * 6);
    assert_int_equal(lf_test_host_counter(t->th, LFP_CNT_TRUNCATED), 1);
    lf_free(big);
}

static void test_max_line_size_over_half_chunk_fails_init(void **state)
{
    struct tail_test *t = *state;
    struct lfp_err err = {0};

    tail_test_set(t, "max_line_size", "2M");
    t->th = lf_test_host_new(1 << 20, 1);
    assert_int_equal(
        lf_test_host_input_init(t->th, &in_tail_def, t->conf, &err),
        LFP_ERR_CONFIG);
    assert_string_equal(err.msg, "max_line_size 2M needs chunk_size of at "
                                 "least 4M in [service]");
}

/* ---- acks and the state file --------------------------------------- */

/* 1000 lines of 9 bytes: with 4K chunks, three chunks of 455, 455, 90. */
static void tail_test_write_numbered(const char *path, int n)
{
    char line[32];

    tail_test_write(path, "", 0);
    for (int i = 0; i < n; i++) {
        (void)snprintf(line, sizeof(line), "line-%03d\n", i);
        tail_test_write(path, line, 1);
    }
}

static void test_restart_resumes_after_committed_offset(void **state)
{
    struct tail_test *t = *state;

    tail_test_write_numbered(t->log, 1000);
    tail_test_set(t, "db", t->db);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_set(t, "max_line_size", "1K");
    tail_test_init(t, 4096);
    lf_test_host_set_auto_ack(t->th, 0);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    assert_int_equal(lf_test_host_nlines(t->th), 1000);
    assert_int_equal(lf_test_host_held(t->th), 3);

    /* Chunks 0 and 2 acked, 1 never: only chunk 0 may be committed. */
    lf_test_host_ack(t->th, 2);
    lf_test_host_ack(t->th, 0);
    lf_test_host_input_destroy(t->th);
    assert_int_equal(tail_test_db_offset(t->db, t->log), 455 * 9);

    /* The restart re-reads chunks 1 and 2: at least once, nothing lost. */
    tail_test_set(t, "read_from_head", "off");
    tail_test_init(t, 4096);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    assert_int_equal(lf_test_host_nlines(t->th), 1000 - 455);
    tail_assert_line(t, 0, "line-455", 0);
    tail_assert_line(t, 544, "line-999", 0);
    assert_int_equal(lf_test_host_line(t->th, 0).pos_begin, 455 * 9);
    lf_test_host_input_destroy(t->th);
    assert_int_equal(tail_test_db_offset(t->db, t->log), 9000);
}

static void test_state_file_follows_acks_while_running(void **state)
{
    struct tail_test *t = *state;
    struct tail_wait w = {.t = t, .offset = 0};

    tail_test_write(t->log, "", 0);
    tail_test_set(t, "db", t->db);
    tail_test_set(t, "db_sync_interval", "20ms");
    tail_test_init(t, TEST_RAW_CAP);
    lf_test_host_set_auto_ack(t->th, 0);
    lf_test_host_input_start(t->th);
    assert_true(lf_test_wait_until(tail_test_db_reached, &w, TEST_WAIT_MS));
    tail_test_write(t->log, "x1\nx2\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 2, TEST_WAIT_MS));
    tail_test_write(t->log, "x3\n", 1);
    assert_true(lf_test_host_wait_lines(t->th, 3, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_held(t->th), 2);
    assert_int_equal(tail_test_db_offset(t->db, t->log), 0);

    /* Acks, not reads, move the saved offset: x1 and x2 first, then x3. */
    lf_test_host_ack(t->th, 0);
    w.offset = 6;
    assert_true(lf_test_wait_until(tail_test_db_reached, &w, TEST_WAIT_MS));
    lf_test_host_ack(t->th, 0);
    w.offset = 9;
    assert_true(lf_test_wait_until(tail_test_db_reached, &w, TEST_WAIT_MS));
    assert_int_equal(lf_test_host_input_stop(t->th), LFP_INPUT_STOPPED);
}

static void test_inode_reuse_with_other_fingerprint_starts_at_zero(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"cccc", "dddd", "eeee"};
    struct stat before;
    struct stat after;

    tail_test_write(t->log, "aaaa\nbbbb\n", 0);
    tail_test_set(t, "db", t->db);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    lf_test_host_input_destroy(t->th);
    assert_int_equal(tail_test_db_offset(t->db, t->log), 10);

    /* Same inode, other content, longer than the saved offset. */
    assert_int_equal(stat(t->log, &before), 0);
    tail_test_write(t->log, "cccc\ndddd\neeee\n", 0);
    assert_int_equal(stat(t->log, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);

    tail_test_set(t, "read_from_head", "off");
    tail_test_init(t, TEST_RAW_CAP);
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_INFO, "another file"));
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    tail_assert_lines(t, want, 3);
}

static void test_corrupt_state_file_is_ignored_with_warning(void **state)
{
    struct tail_test *t = *state;
    static const char *const want[] = {"x", "y"};
    char text[700];

    (void)snprintf(text, sizeof(text),
                   "# logferry tail state v1\n"
                   "1 2 3 00000000000000ff 4 %s\n"
                   "this is not a state line\n",
                   t->log);
    tail_test_write(t->db, text, 0);
    tail_test_write(t->log, "x\ny\n", 0);
    tail_test_set(t, "db", t->db);
    tail_test_set(t, "read_from_head", "on");
    tail_test_set(t, "exit_on_eof", "on");
    tail_test_init(t, TEST_RAW_CAP);
    assert_true(lf_test_host_log_has(t->th, LFP_LOG_WARN, "state.db:3:"));
    assert_int_equal(lf_test_host_input_run(t->th), LFP_INPUT_DONE);
    tail_assert_lines(t, want, 2);
    lf_test_host_input_destroy(t->th);
    assert_int_equal(tail_test_db_offset(t->db, t->log), 4);
}

static void test_state_file_matched_by_path_fails_validation(void **state)
{
    struct tail_test *t = *state;
    char pattern[600];
    struct lfp_err err = {0};

    (void)snprintf(pattern, sizeof(pattern), "%s/*", t->dir);
    tail_test_set(t, "path", pattern);
    tail_test_set(t, "db", t->db);
    t->th = lf_test_host_new(TEST_RAW_CAP, 1);
    assert_int_equal(
        lf_test_host_input_init(t->th, &in_tail_def, t->conf, &err),
        LFP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "matches the state file"));
}

/* ---- the newline finders -------------------------------------------- */

/* Every newline of s[0, len) through find, calling again from *done as a
 * reader does, into out; returns how many. Checks the contract on the
 * way: at most TAIL_NEWLINE_MAX a call and nothing stored past them,
 * offsets inside what *done says was covered, progress on every call. */
static size_t tail_test_find_all(tail_newline_fn find, const char *s,
                                 size_t len, uint32_t *out)
{
    uint32_t at[TAIL_NEWLINE_MAX + 1];
    size_t off = 0, n = 0;

    at[TAIL_NEWLINE_MAX] = 0xdeadbeef; /* written only past the end */
    do {
        size_t done = (size_t)-1;
        uint32_t k = find(s + off, len - off, at, &done);

        assert_true(k <= TAIL_NEWLINE_MAX);
        assert_int_equal(at[TAIL_NEWLINE_MAX], 0xdeadbeef);
        assert_true(done <= len - off);
        assert_true(done > 0 || len == 0);
        for (uint32_t i = 0; i < k; i++) {
            assert_true(at[i] < done);
            out[n++] = (uint32_t)off + at[i];
        }
        off += done;
    } while (off < len);
    return n;
}

/* Checks every finder on s[0, len) against a byte loop. */
static void tail_test_find_check(const char *s, size_t len)
{
    uint32_t *want = lf_malloc(sizeof(*want) * (len + 1));
    uint32_t *got = lf_malloc(sizeof(*got) * (len + 1));
    size_t nwant = 0, nfinders = 0;
    tail_newline_fn find;

    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n')
            want[nwant++] = (uint32_t)i;
    while ((find = tail_newline_finder(nfinders)) != NULL) {
        size_t n = tail_test_find_all(find, s, len, got);

        if (n != nwant)
            print_error("finder %zu: %zu newlines in %zu bytes, want %zu\n",
                        nfinders, n, len, nwant);
        assert_int_equal(n, nwant);
        if (nwant > 0)
            assert_memory_equal(got, want, sizeof(*want) * nwant);
        nfinders++;
    }
    assert_true(nfinders >= 1);
    lf_free(want);
    lf_free(got);
}

static void test_newline_finders_agree_on_lines_of_every_length(void **state)
{
    char *buf = lf_malloc(2048);

    (void)state;
    /* Lines of 0 to 300 bytes cross the 32-, 64- and 128-byte steps at
     * every phase; every length of the text is tried, so its end (the
     * partial last block) falls everywhere too. */
    for (size_t line = 0; line <= 300; line++) {
        for (size_t i = 0; i < 2048; i++)
            buf[i] = (char)(i % (line + 1) == line ? '\n' : 'a' + i % 26);
        for (size_t len = 0; len <= 700; len++)
            tail_test_find_check(buf, len);
        tail_test_find_check(buf, 2048);
    }
    lf_free(buf);
}

static void test_newline_finders_see_a_newline_at_every_offset(void **state)
{
    char *buf = lf_malloc(1100);

    (void)state;
    /* Shifted so that the text starts at every alignment. */
    for (size_t shift = 0; shift < 32; shift += 7) {
        char *s = buf + shift;

        memset(buf, 'x', 1100);
        for (size_t at = 0; at < 1024; at++) {
            s[at] = '\n';
            tail_test_find_check(s, 1024);
            s[at] = 'x';
        }
    }
    lf_free(buf);
}

static void test_newline_finders_stop_when_offsets_fill(void **state)
{
    size_t len = 10 * TAIL_NEWLINE_MAX + 77;
    char *buf = lf_malloc(len);
    uint32_t *got = lf_malloc(sizeof(*got) * len);
    tail_newline_fn find;

    (void)state;
    memset(buf, '\n', len);
    for (size_t k = 0; (find = tail_newline_finder(k)) != NULL; k++) {
        uint32_t at[TAIL_NEWLINE_MAX];
        size_t done = 0;
        uint32_t n = find(buf, len, at, &done);

        /* Full: it stopped early, having listed every byte it covered. */
        assert_true(n > 0 && done < len);
        assert_int_equal(n, done);
        assert_int_equal(tail_test_find_all(find, buf, len, got), len);
    }
    tail_test_find_check(buf, len);
    /* Newlines every other byte, and in runs between long gaps. */
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i % 2 ? '\n' : 'b');
    tail_test_find_check(buf, len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i % 500 < 200 ? '\n' : 'c');
    tail_test_find_check(buf, len);
    /* k newlines, then only newlines: at[] holds every count when a
     * block of them comes. */
    for (size_t k = 0; k <= TAIL_NEWLINE_MAX; k++) {
        memset(buf, 'd', len);
        for (size_t i = 0; i < k; i++)
            buf[i * 2] = '\n';
        memset(buf + 2 * k, '\n', len - 2 * k);
        tail_test_find_check(buf, len);
    }
    lf_free(got);
    lf_free(buf);
}

static void test_newline_finders_on_a_huge_line_and_none_at_all(void **state)
{
    size_t len = (size_t)3 << 20;
    char *buf = lf_malloc(len);
    uint32_t at[TAIL_NEWLINE_MAX];
    tail_newline_fn find;

    (void)state;
    memset(buf, 'x', len);
    for (size_t k = 0; (find = tail_newline_finder(k)) != NULL; k++) {
        size_t done = 0;

        assert_int_equal(find(buf, len, at, &done), 0);
        assert_int_equal(done, len);
        assert_int_equal(find(buf, 0, at, &done), 0);
        assert_int_equal(done, 0);
    }
    tail_test_find_check(buf, len);
    buf[len - 1] = '\n';
    tail_test_find_check(buf, len);
    buf[0] = '\n';
    tail_test_find_check(buf, len);
    lf_free(buf);
}

/* Random text, from few newlines to many, against the byte loop. */
static void test_newline_finders_agree_on_random_text(void **state)
{
    size_t len = (size_t)200 * 1000;
    char *buf = lf_malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15u;

    (void)state;
    for (unsigned density = 1; density <= 256; density *= 4) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (char)((x >> 8) % 256 < density ? '\n' : (char)(x >> 24));
        }
        tail_test_find_check(buf, len);
        tail_test_find_check(buf + 3, len - 3 - 101);
    }
    lf_free(buf);
}

/* A finder reads nothing past s + len: the text ends where an unreadable
 * page starts, so a read past it faults. */
static void test_newline_finders_read_nothing_past_the_end(void **state)
{
    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *end = map + page;

    (void)state;
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(end, (size_t)page, PROT_NONE), 0);
    for (size_t i = 0; i < (size_t)page; i++)
        map[i] = (char)(i % 97 == 0 ? '\n' : 'y');
    for (size_t len = 0; len <= 600; len++)
        tail_test_find_check(end - len, len);
    tail_test_find_check(map, (size_t)page);
    assert_int_equal(munmap(map, (size_t)page * 2), 0);
}

#define TAIL_TEST(fn)                                                          \
    cmocka_unit_test_setup_teardown(fn, tail_test_setup, tail_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TAIL_TEST(test_reads_from_head),
        TAIL_TEST(test_starts_at_end_without_read_from_head),
        TAIL_TEST(test_partial_line_held_until_its_newline),
        TAIL_TEST(test_read_interval_batches_writes_made_meanwhile),
        TAIL_TEST(test_read_interval_pause_ends_on_stop),
        TAIL_TEST(test_crlf_line_endings_are_stripped),
        TAIL_TEST(test_exit_on_eof_emits_final_line_as_partial),
        TAIL_TEST(test_glob_picks_up_new_file_while_running),
        TAIL_TEST(test_rotation_rename_drains_old_file_first),
        TAIL_TEST(test_copytruncate_restarts_at_zero),
        TAIL_TEST(test_deleted_file_is_drained_then_closed),
        TAIL_TEST(test_long_line_is_truncated_and_next_line_intact),
        TAIL_TEST(test_long_line_written_in_pieces_is_cut_once),
        TAIL_TEST(test_many_lines_in_one_read_come_out_whole),
        TAIL_TEST(test_lines_after_a_skipped_long_line_all_come_out),
        TAIL_TEST(test_max_line_size_over_half_chunk_fails_init),
        TAIL_TEST(test_restart_resumes_after_committed_offset),
        TAIL_TEST(test_state_file_follows_acks_while_running),
        TAIL_TEST(test_inode_reuse_with_other_fingerprint_starts_at_zero),
        TAIL_TEST(test_corrupt_state_file_is_ignored_with_warning),
        TAIL_TEST(test_state_file_matched_by_path_fails_validation),
        cmocka_unit_test(test_newline_finders_agree_on_lines_of_every_length),
        cmocka_unit_test(test_newline_finders_see_a_newline_at_every_offset),
        cmocka_unit_test(test_newline_finders_stop_when_offsets_fill),
        cmocka_unit_test(test_newline_finders_on_a_huge_line_and_none_at_all),
        cmocka_unit_test(test_newline_finders_agree_on_random_text),
        cmocka_unit_test(test_newline_finders_read_nothing_past_the_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
