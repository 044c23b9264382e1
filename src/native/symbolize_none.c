/*
 * symbolize_none.c -- re-symbolizing in a stetho built without elfutils:
 * says so (symbolize.h).
 */
#include "native/symbolize.h"
#include "native/unwind.h"

#include <stdio.h>

int native_symbolize(struct capture *c, size_t *found, size_t *resolved, char *err,
                     size_t errlen)
{
    (void)c;
    *found = *resolved = 0;
    snprintf(err, errlen, "%s", native_unsupported());
    return -1;
}
