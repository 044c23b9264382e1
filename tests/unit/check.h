/*
 * check.h -- the smallest test harness: CHECK(cond) and CHECK_EQ_INT/STR,
 * printing TAP ("ok N - ...", "not ok N - ...") so `meson test` and the pytest
 * wrapper read the results.  A test binary's main() ends with CHECK_DONE().
 */
#ifndef STETHO_TEST_CHECK_H
#define STETHO_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond) do { \
    ++check_n; \
    if (cond) printf("ok %d - %s\n", check_n, #cond); \
    else { check_failed++; printf("not ok %d - %s (%s:%d)\n", check_n, #cond, __FILE__, __LINE__); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long va_ = (long long)(a), vb_ = (long long)(b); \
    ++check_n; \
    if (va_ == vb_) printf("ok %d - %s == %s\n", check_n, #a, #b); \
    else { check_failed++; printf("not ok %d - %s == %s: %lld != %lld (%s:%d)\n", \
                                  check_n, #a, #b, va_, vb_, __FILE__, __LINE__); } \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
    const char *sa_ = (a), *sb_ = (b); \
    ++check_n; \
    if (sa_ && sb_ && strcmp(sa_, sb_) == 0) printf("ok %d - %s == \"%s\"\n", check_n, #a, sb_); \
    else { check_failed++; printf("not ok %d - %s == \"%s\": got \"%s\" (%s:%d)\n", \
                                  check_n, #a, sb_ ? sb_ : "(null)", sa_ ? sa_ : "(null)", __FILE__, __LINE__); } \
} while (0)

#define CHECK_DONE() (printf("1..%d\n", check_n), check_failed ? 1 : 0)

#endif
