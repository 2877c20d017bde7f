/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - built-in plugin table plus plugins loaded with dlopen.
 *
 * A shared object is accepted only if its entry and definition carry our
 * ABI major version, a minor version not newer than ours, and struct sizes
 * we know how to read; the refusal names both versions.
 */
#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

struct registry_loaded {
    void *handle;
    const struct lfp_plugin_entry *entry;
};

static struct registry_loaded *registry_dyn;
static size_t registry_ndyn;

static const char *registry_def_name(const struct lfp_plugin_entry *e)
{
    return ((const struct lf_def_header *)e->def)->name;
}

static const struct lfp_plugin_entry *registry_find_entry(int kind,
                                                          const char *name)
{
    for (size_t i = 0; i < registry_ndyn; i++) {
        const struct lfp_plugin_entry *e = registry_dyn[i].entry;
        if ((kind == 0 || e->kind == kind) &&
            strcmp(registry_def_name(e), name) == 0)
            return e;
    }
    for (const struct lfp_plugin_entry *e = lf_builtin_plugins; e->def; e++)
        if ((kind == 0 || e->kind == kind) &&
            strcmp(registry_def_name(e), name) == 0)
            return e;
    return NULL;
}

const void *lf_registry_find(int kind, const char *name)
{
    const struct lfp_plugin_entry *e = registry_find_entry(kind, name);
    return e ? e->def : NULL;
}

const void *lf_registry_find_any(const char *name, int *kind)
{
    const struct lfp_plugin_entry *e = registry_find_entry(0, name);
    if (!e)
        return NULL;
    *kind = e->kind;
    return e->def;
}

/* The size of a definition of ABI 1.0, the smallest we accept. */
static size_t registry_def_min(int kind)
{
    switch (kind) {
    case LFP_KIND_INPUT:
        return offsetof(struct lfp_input_def, stats);
    case LFP_KIND_OUTPUT:
        return offsetof(struct lfp_output_def, stats);
    default:
        return sizeof(struct lfp_filter_def);
    }
}

static size_t registry_def_size(int kind)
{
    switch (kind) {
    case LFP_KIND_INPUT:
        return sizeof(struct lfp_input_def);
    case LFP_KIND_FILTER:
        return sizeof(struct lfp_filter_def);
    case LFP_KIND_OUTPUT:
        return sizeof(struct lfp_output_def);
    default:
        return 0;
    }
}

static int registry_check(const char *path, const struct lfp_plugin_entry *e,
                          struct lfp_err *err)
{
    const struct lf_def_header *def = e->def;

    if ((e->abi_version >> 16) != LFP_ABI_MAJOR ||
        (e->abi_version & 0xffff) > LFP_ABI_MINOR)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: plugin ABI %u.%u, this logferry has %u.%u", path,
                          e->abi_version >> 16, e->abi_version & 0xffff,
                          LFP_ABI_MAJOR, LFP_ABI_MINOR);
    if (e->struct_size < sizeof(*e) || registry_def_size(e->kind) == 0 || !def)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: malformed plugin entry (kind %d)", path,
                          e->kind);
    if (def->abi_version != e->abi_version ||
        def->struct_size < registry_def_min(e->kind) ||
        def->struct_size > registry_def_size(e->kind) || !def->name)
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: definition struct size %u or version differs "
                          "from this logferry's (%zu)",
                          path, def->struct_size, registry_def_size(e->kind));
    if (registry_find_entry(e->kind, def->name))
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: a plugin named '%s' is already registered", path,
                          def->name);
    return LFP_OK;
}

static void registry_append(void *handle, const struct lfp_plugin_entry *e)
{
    registry_dyn =
        lf_realloc(registry_dyn, sizeof(*registry_dyn) * (registry_ndyn + 1));
    registry_dyn[registry_ndyn].handle = handle;
    registry_dyn[registry_ndyn++].entry = e;
}

int lf_registry_add(const struct lfp_plugin_entry *e, struct lfp_err *err)
{
    if (registry_check("(in-process plugin)", e, err) != LFP_OK)
        return LFP_ERR_CONFIG;
    registry_append(NULL, e);
    return LFP_OK;
}

int lf_registry_load(const char *path, struct lfp_err *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const struct lfp_plugin_entry *e;

    if (!h)
        return lf_err_set(err, LFP_ERR_CONFIG, "cannot load plugin: %s",
                          dlerror());
    e = dlsym(h, LFP_ENTRY_SYMBOL);
    if (!e) {
        (void)dlclose(h);
        return lf_err_set(err, LFP_ERR_CONFIG,
                          "%s: no symbol %s: not a logferry plugin", path,
                          LFP_ENTRY_SYMBOL);
    }
    if (registry_check(path, e, err) != LFP_OK) {
        (void)dlclose(h);
        return LFP_ERR_CONFIG;
    }
    registry_append(h, e);
    return LFP_OK;
}

static int registry_is_so(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 3 && strcmp(d->d_name + n - 3, ".so") == 0;
}

int lf_registry_load_dir(const char *dir, struct lfp_err *err)
{
    struct dirent **list;
    int n = scandir(dir, &list, registry_is_so, alphasort);
    int rc = LFP_OK;

    if (n < 0)
        return lf_err_errno(err, LFP_ERR_CONFIG, "plugins_dir %s", dir);
    for (int i = 0; i < n; i++) {
        char path[4096];
        (void)snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        if (rc == LFP_OK)
            rc = lf_registry_load(path, err);
        lf_free(list[i]); /* from scandir: plain malloc */
    }
    lf_free(list);
    return rc;
}

void lf_registry_each(void (*fn)(const struct lfp_plugin_entry *e, void *arg),
                      void *arg)
{
    for (const struct lfp_plugin_entry *e = lf_builtin_plugins; e->def; e++)
        fn(e, arg);
    for (size_t i = 0; i < registry_ndyn; i++)
        fn(registry_dyn[i].entry, arg);
}

void lf_registry_fini(void)
{
    for (size_t i = 0; i < registry_ndyn; i++)
        if (registry_dyn[i].handle)
            (void)dlclose(registry_dyn[i].handle);
    lf_free(registry_dyn);
    registry_dyn = NULL;
    registry_ndyn = 0;
}
