/* SPDX-License-Identifier: Apache-2.0 */
/* lf_test.c - helpers shared by the C tests. */
#include "lf_test.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

static int64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lf_test_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t end = test_now_ms() + (int64_t)timeout_ms * LF_TEST_SLOW;
    struct timespec pause = {0, 2L * 1000 * 1000};

    for (;;) {
        if (cond(arg))
            return 1;
        if (test_now_ms() > end)
            return 0;
        nanosleep(&pause, NULL);
    }
}

char *lf_test_tmpdir(const char *prefix)
{
    char tmpl[256];
    const char *base = getenv("TMPDIR");
    char *dir;

    (void)snprintf(tmpl, sizeof(tmpl), "%s/%s-XXXXXX", base ? base : "/tmp",
                   prefix);
    dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        abort();
    }
    return lf_strdup(dir);
}

static int test_rm_one(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path); /* best effort: cleanup only */
    return 0;
}

void lf_test_rmtree(const char *path)
{
    (void)nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void lf_test_write_file(const char *path, const char *data, size_t len,
                        int append)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0) {
            perror("write");
            abort();
        }
        data += n;
        len -= (size_t)n;
    }
    (void)close(fd);
}

char *lf_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n = -1;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        abort();
    }
    buf = lf_malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        abort();
    }
    (void)fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

const char *const lf_test_ngxu_groups[LF_TEST_NGXU_NGROUPS] = {
    "remote_addr",
    "remote_user",
    "time_local",
    "request_method",
    "request_uri",
    "http_version",
    "request",
    "status",
    "body_bytes_sent",
    "http_referer",
    "http_user_agent",
    "request_time",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_response_time",
    "upstream_addr",
    "upstream_status"};
