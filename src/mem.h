/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem.h - heap allocation that never returns NULL.
 *
 * Out of memory aborts with a message: delivery resumes from committed
 * offsets, so a crash loses nothing, and no caller needs a NULL branch.
 * Raw malloc/calloc/realloc/free are banned outside mem.c.
 */
#ifndef LF_MEM_H
#define LF_MEM_H

#include <stddef.h>

void *lf_malloc(size_t n);
void *lf_calloc(size_t count, size_t size);
void *lf_realloc(void *p, size_t n);
char *lf_strdup(const char *s);
char *lf_strndup(const char *s, size_t n);
void lf_free(void *p); /* NULL is a no-op */

#endif
