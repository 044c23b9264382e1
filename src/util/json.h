/*
 * json.h -- writing JSON: string literals (the only part that needs care)
 * and nanoseconds as exact decimal seconds.
 *
 * Contract: json_string writes s as a JSON string literal, quotes
 * included, NULL as null; UTF-8 passes through, control characters are
 * escaped.  json_string_script does the same so that the text cannot end
 * a <script> element either ('<', '>' and '&' as \u escapes).
 * json_secs writes ns as exact decimal seconds: 1500000000 -> 1.5,
 * 7 -> 0.000000007.
 */
#ifndef STETHO_UTIL_JSON_H
#define STETHO_UTIL_JSON_H

#include <stdint.h>
#include <stdio.h>

void json_string(FILE *f, const char *s);
void json_string_script(FILE *f, const char *s);
void json_secs(FILE *f, uint64_t ns);

#endif
