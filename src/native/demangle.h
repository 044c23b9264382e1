/*
 * demangle.h -- a C++ symbol as people write it.
 *
 * Contract: native_demangle() returns the demangled form of a mangled
 * C++ name ("_ZN2ns5Klass4spinEi" -> "ns::Klass::spin(int)") in memory the
 * caller frees, or NULL when sym is not a mangled name (C functions), does
 * not demangle, or memory runs out: the caller keeps sym then.  The work
 * is libstdc++'s __cxa_demangle (elfutils has no public demangler; its
 * eu-stack links the same function).
 */
#ifndef STETHO_NATIVE_DEMANGLE_H
#define STETHO_NATIVE_DEMANGLE_H

char *native_demangle(const char *sym);

#endif
