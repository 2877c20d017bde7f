/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h - finding plugin definitions: built-in ones and shared objects.
 *
 * Built-ins are listed in the generated lf_builtin_plugins[] (see
 * cmake/plugins.cmake); a shared object adds its entry through
 * lf_registry_load(), which checks the ABI version and struct sizes first.
 * Thread: start-up only.
 */
#ifndef LF_REGISTRY_H
#define LF_REGISTRY_H

#include <logferry/plugin.h>

extern const struct lfp_plugin_entry lf_builtin_plugins[];

/* The definition of plugin `name` of `kind`, or NULL. */
const void *lf_registry_find(int kind, const char *name);
/* Like lf_registry_find, any kind; *kind is set. */
const void *lf_registry_find_any(const char *name, int *kind);
/* Registers a plugin linked into the process (tests, embedders). */
int lf_registry_add(const struct lfp_plugin_entry *e, struct lfp_err *err);
/* Loads a plugin from a shared object. */
int lf_registry_load(const char *path, struct lfp_err *err);
/* Loads every *.so in dir, in name order. */
int lf_registry_load_dir(const char *dir, struct lfp_err *err);
/* Calls fn for every known plugin. */
void lf_registry_each(void (*fn)(const struct lfp_plugin_entry *e, void *arg),
                      void *arg);
/* Closes loaded shared objects. */
void lf_registry_fini(void);

/* The common header of any definition. */
struct lf_def_header {
    LFP_DEF_HEADER;
};

#endif
