/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - the configuration file reader.
 *
 * A small line-oriented parser: sections, key/value lines, @include with
 * globs, ${ENV} expansion. It knows the section names but not the keys;
 * those belong to the option tables (option.c).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define CONFIG_MAX_DEPTH 8
#define CONFIG_MAX_BYTES (16u << 20)

static const char *const config_sections[] = {
    "service", "input", "parser", "filter", "output", "plugin", NULL};

struct config_reader {
    struct lf_config *conf;
    struct lf_section *cur;
    int depth;
};

static const char *config_add_file(struct lf_config *conf, const char *name)
{
    conf->files = lf_realloc(conf->files, sizeof(char *) * (conf->nfiles + 1));
    conf->files[conf->nfiles] = lf_strdup(name);
    return conf->files[conf->nfiles++];
}

static char *config_trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* Cuts a comment: "#" at the start or after a blank; "\#" stays "#". */
static void config_strip_comment(char *s)
{
    char *w = s;

    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == '#') {
            *w++ = '#';
            r++;
            continue;
        }
        if (*r == '#' && (r == s || r[-1] == ' ' || r[-1] == '\t'))
            break;
        *w++ = *r;
    }
    *w = '\0';
}

/* Expands ${NAME}; returns a new string or NULL with err set. */
static char *config_expand(const char *s, const char *file, int line,
                           struct lfp_err *err)
{
    size_t cap = strlen(s) + 64, len = 0;
    char *out = lf_malloc(cap);

    while (*s) {
        const char *val;
        size_t vlen;

        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            /* "$${" is a literal "${": left for a plugin's own templates,
             * e.g. the kafka output's topic logs-$${upstream.name}. */
            val = s + 1;
            vlen = 2;
            s += 3;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            char name[256];
            if (!end || (size_t)(end - s - 2) >= sizeof(name) || end == s + 2) {
                lf_err_set(err, LFP_ERR_CONFIG,
                           "%s:%d: malformed ${...} reference", file, line);
                lf_free(out);
                return NULL;
            }
            memcpy(name, s + 2, (size_t)(end - s - 2));
            name[end - s - 2] = '\0';
            val = getenv(name);
            if (!val) {
                lf_err_set(err, LFP_ERR_CONFIG,
                           "%s:%d: environment variable %s is not set", file,
                           line, name);
                lf_free(out);
                return NULL;
            }
            vlen = strlen(val);
            s = end + 1;
        } else {
            val = s++;
            vlen = 1;
        }
        if (len + vlen + 1 > cap) {
            cap = (len + vlen + 1) * 2;
            out = lf_realloc(out, cap);
        }
        memcpy(out + len, val, vlen);
        len += vlen;
    }
    out[len] = '\0';
    return out;
}

static int config_section(struct config_reader *rd, char *s, const char *file,
                          int line, struct lfp_err *err)
{
    struct lf_config *conf = rd->conf;
    char *end = strchr(s, ']');
    struct lf_section *sec;
    int known = 0;

    if (!end || config_trim(end + 1)[0] != '\0')
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: expected [section] on this line", file, line);
    *end = '\0';
    s = config_trim(s + 1);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (int i = 0; config_sections[i]; i++)
        known |= strcmp(s, config_sections[i]) == 0;
    if (!known)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: unknown section [%s]; expected [service], "
                          "[input], [parser], [filter], [output] or [plugin]",
                          file, line, s);
    conf->secs = lf_realloc(conf->secs, sizeof(*sec) * (conf->nsec + 1));
    sec = &conf->secs[conf->nsec++];
    memset(sec, 0, sizeof(*sec));
    sec->name = lf_strdup(s);
    sec->file = file;
    sec->line = line;
    rd->cur = sec;
    return LFP_OK;
}

static int config_keyval(struct config_reader *rd, char *s, const char *file,
                         int line, struct lfp_err *err)
{
    struct lf_section *sec = rd->cur;
    char *val = s;
    struct lf_kv *kv;
    char *expanded;

    if (!sec)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: key outside of a section; start with "
                          "[service], [input], ... first",
                          file, line);
    while (*val && !isspace((unsigned char)*val))
        val++;
    if (*val)
        *val++ = '\0';
    val = config_trim(val);
    if (*val == '\0')
        return lf_err_set(err, LFP_ERR_CONFIG, "%s:%d: key '%s' has no value",
                          file, line, s);
    expanded = config_expand(val, file, line, err);
    if (!expanded)
        return LFP_ERR_CONFIG;
    sec->kvs = lf_realloc(sec->kvs, sizeof(*kv) * (sec->nkv + 1));
    kv = &sec->kvs[sec->nkv++];
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    kv->key = lf_strdup(s);
    kv->val = expanded;
    kv->file = file;
    kv->line = line;
    return LFP_OK;
}

static int config_read_text(struct config_reader *rd, const char *file,
                            char *text, const char *base_dir,
                            struct lfp_err *err);

static int config_include(struct config_reader *rd, const char *pattern,
                          const char *file, int line, const char *base_dir,
                          struct lfp_err *err);

static int config_line(struct config_reader *rd, char *s, const char *file,
                       int line, const char *base_dir, struct lfp_err *err)
{
    config_strip_comment(s);
    s = config_trim(s);
    if (*s == '\0')
        return LFP_OK;
    if (*s == '[')
        return config_section(rd, s, file, line, err);
    if (strncmp(s, "@include", 8) == 0 && isspace((unsigned char)s[8])) {
        char *pat = config_expand(config_trim(s + 8), file, line, err);
        int rc;
        if (!pat)
            return LFP_ERR_CONFIG;
        rc = config_include(rd, pat, file, line, base_dir, err);
        lf_free(pat);
        return rc;
    }
    if (*s == '@')
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: unknown directive '%s'; only @include", file,
                          line, s);
    return config_keyval(rd, s, file, line, err);
}

static int config_read_text(struct config_reader *rd, const char *file,
                            char *text, const char *base_dir,
                            struct lfp_err *err)
{
    int line = 0;
    char *p = text;

    while (p && *p) {
        char *nl = strchr(p, '\n');
        int rc;
        if (nl)
            *nl = '\0';
        line++;
        rc = config_line(rd, p, file, line, base_dir, err);
        if (rc != LFP_OK)
            return rc;
        p = nl ? nl + 1 : NULL;
    }
    return LFP_OK;
}

static char *config_slurp(const char *path, struct lfp_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t len = 0, cap = 4096;

    if (!f) {
        lf_err_errno(err, LFP_ERR_CONFIG, "cannot open %s", path);
        return NULL;
    }
    buf = lf_malloc(cap);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= CONFIG_MAX_BYTES)
                break;
            cap *= 2;
            buf = lf_realloc(buf, cap);
        }
    }
    if (ferror(f)) {
        lf_err_errno(err, LFP_ERR_CONFIG, "cannot read %s", path);
        (void)fclose(f);
        lf_free(buf);
        return NULL;
    }
    (void)fclose(f);
    buf[len] = '\0';
    return buf;
}

static char *config_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return lf_strdup(".");
    if (slash == path)
        return lf_strdup("/");
    return lf_strndup(path, (size_t)(slash - path));
}

static int config_read_file(struct config_reader *rd, const char *path,
                            struct lfp_err *err)
{
    const char *file;
    char *text, *dir;
    int rc;

    if (rd->depth >= CONFIG_MAX_DEPTH)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: @include nested deeper than %d levels", path,
                          CONFIG_MAX_DEPTH);
    text = config_slurp(path, err);
    if (!text)
        return LFP_ERR_CONFIG;
    file = config_add_file(rd->conf, path);
    dir = config_dirname(path);
    rd->depth++;
    rc = config_read_text(rd, file, text, dir, err);
    rd->depth--;
    lf_free(dir);
    lf_free(text);
    return rc;
}

static int config_include(struct config_reader *rd, const char *pattern,
                          const char *file, int line, const char *base_dir,
                          struct lfp_err *err)
{
    char path[4096];
    glob_t g;
    int rc = LFP_OK, grc;

    if (pattern[0] == '/' || !base_dir)
        (void)snprintf(path, sizeof(path), "%s", pattern);
    else
        (void)snprintf(path, sizeof(path), "%s/%s", base_dir, pattern);
    grc = glob(path, 0, NULL, &g);
    if (grc == GLOB_NOMATCH && !strpbrk(pattern, "*?["))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: @include %s: no such file", file, line, path);
    if (grc != 0 && grc != GLOB_NOMATCH)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s:%d: @include %s: glob failed", file, line, path);
    for (size_t i = 0; grc == 0 && i < g.gl_pathc && rc == LFP_OK; i++) {
        rc = config_read_file(rd, g.gl_pathv[i], err);
        if (rc != LFP_OK && strchr(err->msg, ':') == NULL)
            lf_err_prefix(err, "%s:%d", file, line);
    }
    if (grc == 0)
        globfree(&g);
    return rc;
}

int lf_config_load_file(const char *path, struct lf_config **out,
                        struct lfp_err *err)
{
    struct config_reader rd = {.conf = lf_calloc(1, sizeof(struct lf_config))};
    int rc = config_read_file(&rd, path, err);

    if (rc != LFP_OK) {
        lf_config_free(rd.conf);
        return rc;
    }
    *out = rd.conf;
    return LFP_OK;
}

int lf_config_load_string(const char *name, const char *text,
                          const char *base_dir, struct lf_config **out,
                          struct lfp_err *err)
{
    struct config_reader rd = {.conf = lf_calloc(1, sizeof(struct lf_config))};
    const char *file = config_add_file(rd.conf, name);
    char *copy = lf_strdup(text);
    int rc = config_read_text(&rd, file, copy, base_dir, err);

    lf_free(copy);
    if (rc != LFP_OK) {
        lf_config_free(rd.conf);
        return rc;
    }
    *out = rd.conf;
    return LFP_OK;
}

void lf_config_free(struct lf_config *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->nsec; i++) {
        struct lf_section *sec = &conf->secs[i];
        for (size_t j = 0; j < sec->nkv; j++) {
            lf_free(sec->kvs[j].key);
            lf_free(sec->kvs[j].val);
        }
        lf_free(sec->kvs);
        lf_free(sec->name);
    }
    lf_free(conf->secs);
    for (size_t i = 0; i < conf->nfiles; i++)
        lf_free(conf->files[i]);
    lf_free(conf->files);
    lf_free(conf);
}

const struct lf_kv *lf_section_find(const struct lf_section *sec,
                                    const char *key)
{
    for (size_t i = 0; i < sec->nkv; i++)
        if (strcmp(sec->kvs[i].key, key) == 0)
            return &sec->kvs[i];
    return NULL;
}

const char *lf_section_get(const struct lf_section *sec, const char *key)
{
    const struct lf_kv *kv = lf_section_find(sec, key);
    return kv ? kv->val : NULL;
}
