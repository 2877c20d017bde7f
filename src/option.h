/* SPDX-License-Identifier: Apache-2.0 */
/*
 * option.h - checking a config section against an option table and filling
 * the plugin's conf struct.
 *
 * The table (struct lfp_option rows) is the single source of truth: it
 * validates, fills defaults, prints --help-plugin and generates the
 * reference docs. Errors name file:line and what was expected.
 */
#ifndef LF_OPTION_H
#define LF_OPTION_H

#include <stdint.h>
#include <stdio.h>

#include <logferry/plugin.h>

#include "err.h"

struct lf_section;

/* Fills conf (zeroed by the caller, table->conf_size bytes) from sec.
 * Keys listed in core_keys (NULL-terminated) are skipped: the core handles
 * them. `what` names the plugin in messages ("input tail"). */
int lf_option_apply(const struct lfp_option *table, const char *what,
                    const struct lf_section *sec, const char *const *core_keys,
                    void *conf, struct lfp_err *err) LF_MUST_CHECK;
/* Like lf_option_apply, for keys collected by a LFP_OPT_PREFIX option
 * (e.g. [service] metrics.*, prefix removed): fills conf from kv as if they
 * were the keys of a section at origin's file:line. */
int lf_option_apply_kvlist(const struct lfp_option *table, const char *what,
                           const struct lfp_kvlist *kv,
                           const struct lf_section *origin, void *conf,
                           struct lfp_err *err) LF_MUST_CHECK;
/* Fails with "file:line: duplicate key" if sec->kvs[i]'s key was already
 * set earlier in sec. */
int lf_option_check_duplicate(const struct lf_section *sec, size_t i,
                              struct lfp_err *err) LF_MUST_CHECK;
/* Whether key is one of core_keys (NULL-terminated; NULL: none). */
int lf_option_is_core_key(const char *const *core_keys, const char *key);
/* Frees what lf_option_apply allocated inside conf (not conf itself). */
void lf_option_free(const struct lfp_option *table, void *conf);

/* Prints the table as aligned text (for --help-plugin). */
void lf_option_print(FILE *out, const struct lfp_option *table);
/* Prints the table as a Markdown table (for docs/reference). */
void lf_option_print_markdown(FILE *out, const struct lfp_option *table);

/* Value parsers, shared with the [service] section. */
int lf_option_parse_size(const char *s, int64_t *bytes);
int lf_option_parse_duration(const char *s, int64_t *ms);
int lf_option_parse_bool(const char *s, int *b);
int lf_option_parse_int(const char *s, int64_t *v);

#endif
