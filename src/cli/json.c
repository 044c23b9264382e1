/* json.c -- JSON string literals (the only part of JSON that needs care),
 * and nanoseconds as exact decimal seconds. */
#include "cli/cli.h"

void json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);       /* UTF-8 passes through */
        }
    }
    fputc('"', f);
}

void json_secs(FILE *f, uint64_t ns)
{
    unsigned long long whole = ns / 1000000000u, frac = ns % 1000000000u;
    if (!frac) {
        fprintf(f, "%llu", whole);
        return;
    }
    int digits = 9;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    fprintf(f, "%llu.%0*llu", whole, digits, frac);
}
