/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_watch.c - inotify watches on pattern directories and open files.
 *
 * Directory watches carry a file name in their events; file watches do
 * not. So an event with a name, or one saying a file moved or went away,
 * asks for a rescan, and any other event only wakes the loop up.
 */
#include "tail_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define TAIL_WATCH_DIR_MASK                                                    \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)
#define TAIL_WATCH_FILE_MASK                                                   \
    (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

void tail_watch_open(struct tail_ctx *ctx)
{
    ctx->watch_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ctx->watch_fd < 0)
        TAIL_LOG(ctx, LFP_LOG_INFO,
                 "inotify unavailable (%s): polling files every pass and "
                 "rescanning every %lld ms",
                 strerror(errno), (long long)ctx->conf->refresh_interval_ms);
}

void tail_watch_close(struct tail_ctx *ctx)
{
    if (ctx->watch_fd >= 0)
        (void)close(ctx->watch_fd); /* drops every watch with it */
    ctx->watch_fd = -1;
}

/* Writes the directory of a pattern into dir; 0 if that directory holds
 * glob characters itself (then only the periodic rescan covers it). */
static int tail_watch_pattern_dir(const char *pat, char *dir, size_t cap)
{
    const char *slash = strrchr(pat, '/');
    size_t len;

    if (!slash)
        return snprintf(dir, cap, ".") > 0;
    len = slash == pat ? 1 : (size_t)(slash - pat);
    if (len >= cap || memchr(pat, '*', len) || memchr(pat, '?', len) ||
        memchr(pat, '[', len) || memchr(pat, '{', len))
        return 0;
    memcpy(dir, pat, len);
    dir[len] = '\0';
    return 1;
}

void tail_watch_dirs(struct tail_ctx *ctx)
{
    char dir[PATH_MAX];

    if (ctx->watch_fd < 0)
        return;
    for (size_t i = 0; i < ctx->conf->path.n; i++) {
        if (!tail_watch_pattern_dir(ctx->conf->path.items[i], dir, sizeof(dir)))
            continue;
        /* Adding an existing watch returns the same one: cheap to repeat.
         * A missing directory is retried at the next scan. */
        (void)inotify_add_watch(ctx->watch_fd, dir, TAIL_WATCH_DIR_MASK);
    }
}

void tail_watch_file(struct tail_ctx *ctx, struct tail_file *f)
{
    char proc[64];

    if (ctx->watch_fd < 0)
        return;
    /* Through /proc the watch lands on the inode we hold open, even if
     * the name was already reused by a rotation. */
    (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
    f->wd = inotify_add_watch(ctx->watch_fd, proc, TAIL_WATCH_FILE_MASK);
    if (f->wd < 0)
        f->wd = inotify_add_watch(ctx->watch_fd, f->path, TAIL_WATCH_FILE_MASK);
    if (f->wd < 0)
        TAIL_LOG(ctx, LFP_LOG_DEBUG, "inotify watch on %s: %s, polling it",
                 f->path, strerror(errno));
}

void tail_watch_forget(struct tail_ctx *ctx, struct tail_file *f)
{
    if (ctx->watch_fd >= 0 && f->wd >= 0)
        /* Fails harmlessly if the kernel already dropped it (deleted). */
        (void)inotify_rm_watch(ctx->watch_fd, f->wd);
    f->wd = -1;
}

int tail_watch_drain(struct tail_ctx *ctx)
{
    union {
        struct inotify_event ev;
        char buf[8192];
    } u;
    int need_scan = 0;

    for (;;) {
        ssize_t n = read(ctx->watch_fd, u.buf, sizeof(u.buf));
        size_t off = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN: drained */
        while (off + sizeof(struct inotify_event) <= (size_t)n) {
            struct inotify_event *ev = (struct inotify_event *)(u.buf + off);

            if (ev->len > 0 || (ev->mask & (IN_Q_OVERFLOW | IN_MOVE_SELF |
                                            IN_DELETE_SELF | IN_IGNORED)))
                need_scan = 1;
            off += sizeof(struct inotify_event) + ev->len;
        }
    }
    return need_scan;
}
