/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_conf.h - the tail input's options and the struct the core fills
 * from them before init.
 *
 * Strings and lists are owned by the core and stay valid until destroy.
 */
#ifndef TAIL_CONF_H
#define TAIL_CONF_H

#include <stddef.h>
#include <stdint.h>

#include <logferry/plugin.h>

struct tail_conf {
    struct lfp_list path;         /* glob patterns, at least one */
    struct lfp_list exclude_path; /* glob patterns, may be empty */
    char *db;                     /* state file, or NULL */
    int64_t db_sync_interval_ms;
    int read_from_head;
    int exit_on_eof;
    int64_t max_line_bytes;
    int64_t refresh_interval_ms;
    int64_t rotate_wait_ms;
    int64_t read_interval_ms;
};

/* The option table, ended by a zeroed row. */
extern const struct lfp_option tail_options[];

/* Cross-key checks before anything starts: patterns not empty, the state
 * file not matched by a path pattern. Returns an lfp_rc, err filled. */
int tail_conf_validate(const void *conf, struct lfp_err *err);

/* Writes bytes the way users type sizes: "64K", "2M", or plain bytes. */
void tail_conf_fmt_size(int64_t bytes, char *buf, size_t cap);

#endif
