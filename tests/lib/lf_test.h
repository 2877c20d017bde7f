/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lf_test.h - helpers shared by the C tests.
 */
#ifndef LF_TEST_H
#define LF_TEST_H

#include <stddef.h>
#include <stdint.h>

/* Deadline scale: longer under sanitizers. */
#ifdef LF_SANITIZED
#define LF_TEST_SLOW 4
#else
#define LF_TEST_SLOW 1
#endif

/* Polls cond(arg) every few ms until it is true or timeout_ms (scaled by
 * LF_TEST_SLOW) passes. Returns 1 if cond became true. Never sleep() to
 * wait for something: poll it. */
int lf_test_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

/* Makes a fresh temporary directory; returns its path (static buffer per
 * call, caller copies). */
char *lf_test_tmpdir(const char *prefix);
/* Removes a directory tree (test cleanup). */
void lf_test_rmtree(const char *path);
/* Writes or appends bytes to a file; aborts the test on failure. */
void lf_test_write_file(const char *path, const char *data, size_t len,
                        int append);
/* Reads a whole file, NUL-terminated; *len is its size. NULL when it does
 * not exist; aborts the test on any other failure. Free with lf_free. */
char *lf_test_read_file(const char *path, size_t *len);

/* The named groups of the built-in nginx_upstream pattern, in the
 * pattern's order (group 1 first). */
#define LF_TEST_NGXU_NGROUPS 17
extern const char *const lf_test_ngxu_groups[LF_TEST_NGXU_NGROUPS];

#endif
