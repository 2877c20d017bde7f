/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - reading the INI-like configuration into sections.
 *
 *   [service]            section names: service input parser filter output
 *       log_level info   "key value": the first blank run separates them
 *   @include more.conf   relative to the including file; globs allowed
 *   path ${LOG_DIR}/x    environment expansion; unset is an error
 *
 * Keys are case-insensitive (stored lower case). "#" starts a comment at the
 * start of a line or after a blank; "\#" is a literal "#". Every key/value
 * remembers its file and line so later checks can name them. Meaning
 * (types, known keys) is checked by option.c against each plugin's table.
 */
#ifndef LF_CONFIG_H
#define LF_CONFIG_H

#include <stddef.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_kv {
    char *key;
    char *val;
    const char *file; /* owned by the config */
    int line;
};

struct lf_section {
    char *name; /* lower case: "service", "input", ... */
    const char *file;
    int line;
    struct lf_kv *kvs;
    size_t nkv;
};

struct lf_config {
    struct lf_section *secs;
    size_t nsec;
    char **files; /* every file read, for messages */
    size_t nfiles;
};

/* Reads path (and its includes). Errors are "file:line: message".
 * Caller frees *out with lf_config_free(). */
int lf_config_load_file(const char *path, struct lf_config **out,
                        struct lfp_err *err) LF_MUST_CHECK;
/* Reads configuration text; name stands for the file in messages and
 * includes are relative to base_dir (may be NULL: the current directory). */
int lf_config_load_string(const char *name, const char *text,
                          const char *base_dir, struct lf_config **out,
                          struct lfp_err *err) LF_MUST_CHECK;
void lf_config_free(struct lf_config *conf); /* NULL is a no-op */

/* The value of the first `key` in sec, or NULL. */
const char *lf_section_get(const struct lf_section *sec, const char *key);
/* The key/value of the first `key` in sec, or NULL. */
const struct lf_kv *lf_section_find(const struct lf_section *sec,
                                    const char *key);

#endif
