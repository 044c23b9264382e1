/* json.c -- JSON string literals and exact seconds (json.h). */
#include "util/json.h"

static void put_string(FILE *f, const char *s, int script)
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
        case '\t': fputs("\\t", f); break;
        case '\r':
            fputs(script ? "\\u000d" : "\\r", f);
            break;
        case '<': case '>': case '&':
            if (script)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);       /* UTF-8 passes through */
        }
    }
    fputc('"', f);
}

void json_string(FILE *f, const char *s)
{
    put_string(f, s, 0);
}

void json_string_script(FILE *f, const char *s)
{
    put_string(f, s, 1);
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
