/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tail_conf.c - the tail input's option table and cross-key checks.
 *
 * The table is the single source of truth: the core validates the config
 * against it, fills struct tail_conf, prints --help-plugin tail and
 * generates docs/reference/in_tail.md from it.
 */
#include "tail_conf.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "tail.h"

#define TAIL_HOUR_MS INT64_C(3600000)

const struct lfp_option tail_options[] = {
    {.name = "path",
     .type = LFP_OPT_LIST,
     .flags = LFP_OPT_REQUIRED,
     .offset = offsetof(struct tail_conf, path),
     .desc = "Files to follow: one or more glob patterns such as "
             "/var/log/nginx/*.log, separated by commas or spaces."},
    {.name = "exclude_path",
     .type = LFP_OPT_LIST,
     .offset = offsetof(struct tail_conf, exclude_path),
     .desc = "Glob patterns of files to leave alone although path matches "
             "them, e.g. *.gz. A pattern is tried against the full path and "
             "against the file name."},
    {.name = "db",
     .type = LFP_OPT_STR,
     .offset = offsetof(struct tail_conf, db),
     .desc = "State file keeping, for each file, the offset up to which "
             "every output has acknowledged the lines, so that a restart "
             "resumes there. Without it offsets are not persisted."},
    {.name = "db_sync_interval",
     .type = LFP_OPT_DURATION,
     .def = "1s",
     .min = 0,
     .max = TAIL_HOUR_MS,
     .offset = offsetof(struct tail_conf, db_sync_interval_ms),
     .desc = "Longest time, in milliseconds or with a unit (250ms, 1s), "
             "between an offset being acknowledged and the state file being "
             "rewritten with it. The file is written only when something "
             "changed, and always at shutdown."},
    {.name = "read_from_head",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct tail_conf, read_from_head),
     .desc = "For files found at start-up without a saved offset, start at "
             "their first byte instead of their end. Files that appear "
             "later are always read from their first byte."},
    {.name = "exit_on_eof",
     .type = LFP_OPT_BOOL,
     .def = "off",
     .offset = offsetof(struct tail_conf, exit_on_eof),
     .desc = "Read every matched file to its end, emit everything (a last "
             "line without a newline is marked partial), then stop this "
             "input. For batch jobs and benchmarks."},
    {.name = "max_line_size",
     .type = LFP_OPT_SIZE,
     .def = "64K",
     .min = 1024,
     .max = INT64_C(256) << 20,
     .offset = offsetof(struct tail_conf, max_line_bytes),
     .desc = "Longest line kept, in bytes (not counting its newline). A "
             "longer line is cut to this size, marked truncated and counted; "
             "the rest of it is skipped up to its newline. At most half of "
             "the service chunk_size."},
    {.name = "read_interval",
     .type = LFP_OPT_DURATION,
     .def = "50ms",
     .min = 0,
     .max = 1000,
     .offset = offsetof(struct tail_conf, read_interval_ms),
     .desc = "Once every file is read to its end, how long, in milliseconds "
             "or with a unit, to let them grow before reading again. A busy "
             "file is then read in fewer, larger chunks, which costs less "
             "CPU per line, for at most this much more latency; 0 reads as "
             "soon as inotify reports a write. A file with more to read "
             "than a pass takes is read again at once."},
    {.name = "refresh_interval",
     .type = LFP_OPT_DURATION,
     .def = "1s",
     .min = 10,
     .max = TAIL_HOUR_MS,
     .offset = offsetof(struct tail_conf, refresh_interval_ms),
     .desc = "How often, in milliseconds or with a unit, the path patterns "
             "are expanded again to find new and rotated files. Directory "
             "events seen through inotify trigger a rescan sooner."},
    {.name = "rotate_wait",
     .type = LFP_OPT_DURATION,
     .def = "5s",
     .min = 0,
     .max = 24 * TAIL_HOUR_MS,
     .offset = offsetof(struct tail_conf, rotate_wait_ms),
     .desc = "How long, in milliseconds or with a unit, a file that was "
             "renamed away by rotation keeps being read after its last new "
             "data before it is closed."},
    {0},
};

/* Whether a path pattern would make the input follow its own state file. */
static int tail_conf_matches_db(const struct tail_conf *conf, const char *pat)
{
    char tmp[4096];

    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", conf->db);
    return fnmatch(pat, conf->db, FNM_PATHNAME) == 0 ||
           fnmatch(pat, tmp, FNM_PATHNAME) == 0;
}

int tail_conf_validate(const void *vconf, struct lfp_err *err)
{
    const struct tail_conf *conf = vconf;

    if (conf->path.n == 0)
        return tail_err_set(err, LFP_ERR_CONFIG,
                            "path: at least one glob pattern is needed");
    for (size_t i = 0; i < conf->path.n; i++) {
        const char *pat = conf->path.items[i];

        if (pat[0] == '\0')
            return tail_err_set(err, LFP_ERR_CONFIG, "path: empty pattern");
        if (conf->db && tail_conf_matches_db(conf, pat))
            return tail_err_set(err, LFP_ERR_CONFIG,
                                "path %s matches the state file %s: the "
                                "input would follow its own state",
                                pat, conf->db);
    }
    if (conf->db && conf->db[0] == '\0')
        return tail_err_set(err, LFP_ERR_CONFIG,
                            "db: empty path; leave db out to keep no state");
    return LFP_OK;
}

void tail_conf_fmt_size(int64_t bytes, char *buf, size_t cap)
{
    static const char units[] = "KMG";
    int u = -1;

    while (u < 2 && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    if (u < 0)
        (void)snprintf(buf, cap, "%lld", (long long)bytes);
    else
        (void)snprintf(buf, cap, "%lld%c", (long long)bytes, units[u]);
}
