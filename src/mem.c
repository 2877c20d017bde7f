/* SPDX-License-Identifier: Apache-2.0 */
/* mem.c - the only place that calls the C allocator directly. */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mem_die(size_t n)
{
    (void)fprintf(stderr, "logferry: out of memory allocating %zu bytes\n", n);
    abort();
}

void *lf_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mem_die(n);
    return p;
}

void *lf_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        mem_die(count * size);
    return p;
}

void *lf_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mem_die(n);
    return q;
}

char *lf_strndup(const char *s, size_t n)
{
    char *p = lf_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *lf_strdup(const char *s)
{
    return lf_strndup(s, strlen(s));
}

void lf_free(void *p)
{
    free(p);
}
