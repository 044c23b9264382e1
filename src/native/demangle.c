/*
 * demangle.c -- C++ names through libstdc++'s demangler (demangle.h).
 */
#include "native/demangle.h"

#include <stddef.h>
#include <string.h>

/* <cxxabi.h> is C++; the function has C linkage (the Itanium C++ ABI). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *native_demangle(const char *sym)
{
    /* only Itanium-mangled names: the demangler would also take a C
     * function called "i" for the type int */
    if (!sym || strncmp(sym, "_Z", 2))
        return NULL;
    int status = 0;
    char *out = __cxa_demangle(sym, NULL, NULL, &status);
    return status == 0 ? out : NULL;
}
