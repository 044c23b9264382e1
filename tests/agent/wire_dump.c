/*
 * wire_dump.c -- the C decoder of the agent's stream (src/wire/wire.c) as a
 * tool, so tests/agent/test_wire.py can hold the Python decoder
 * (decode.py) to it.
 *
 *   wire_dump FILE       one JSON line per chunk ({"pid", "tid", "flags",
 *                        "t_ns", "len"}), then one per record ({"type":
 *                        name, field: value, ...}, fields in wire order,
 *                        numbers as sent, strings as text)
 *   wire_dump --schema   the description itself (records and their fields,
 *                        allocators, frame kinds, header constants)
 *
 * A malformed stream: one line "wire_dump: ..." on stderr, exit status 2,
 * after the lines of what came before it.
 */
#include "wire/wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void json_str(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);        /* UTF-8 as it is */
    }
    putchar('"');
}

static void schema(void)
{
    printf("{\"magic\": %u, \"version\": %d, \"header_size\": %zu, \"chunk_max\": %d, "
           "\"new_stream\": %u, \"records\": [",
           AGENT_MAGIC, AGENT_VERSION, sizeof(struct agent_chunk_header), AGENT_CHUNK_MAX,
           AGENT_CHUNK_NEW_STREAM);
    const char *sep = "";
#define U(f) printf("%s[\"" #f "\", \"u\"]", fsep), fsep = ", ";
#define S(f) printf("%s[\"" #f "\", \"s\"]", fsep), fsep = ", ";
#define D(f) printf("%s[\"" #f "\", \"d\"]", fsep), fsep = ", ";
#define REC(NAME, code, name, fields)                                               \
    {                                                                               \
        const char *fsep = "";                                                      \
        printf("%s{\"type\": %d, \"name\": \"" #name "\", \"fields\": [", sep, code); \
        fields printf("]}");                                                        \
        sep = ", ";                                                                 \
    }
    WIRE_RECORDS(REC, U, S, D)
#undef REC
#undef U
#undef S
#undef D
    printf("], \"allocators\": [");
    for (int i = 0; i < AGENT_ALLOCATORS; i++)
        printf("%s\"%s\"", i ? ", " : "", wire_allocator_name((uint64_t)i));
    printf("], \"frame_kinds\": [");
    for (int i = 0; i < AGENT_FRAME_KINDS; i++)
        printf("%s\"%s\"", i ? ", " : "", wire_frame_kind_name((uint64_t)i));
    printf("]}\n");
}

static void print_record(const struct wire_record *r)
{
    printf("{\"type\": \"%s\"", wire_record_name(r->type));
#define U(f) printf(", \"" #f "\": %" PRIu64, x->f);
#define S(f) printf(", \"" #f "\": "), json_str(x->f.p, x->f.len);
#define D(f) U(f)
#define REC(NAME, code, name, fields)                   \
    case AGENT_REC_##NAME: {                            \
        const struct wire_##name *x = &r->u.name;       \
        fields break;                                   \
    }
    switch (r->type) {
        WIRE_RECORDS(REC, U, S, D)
    }
#undef REC
#undef U
#undef S
#undef D
    printf("}\n");
}

static int fail(const char *what, size_t at)
{
    fflush(stdout);
    fprintf(stderr, "wire_dump: %s at byte %zu\n", what, at);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--schema") == 0) {
        schema();
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "wire_dump: usage: wire_dump FILE | --schema\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "wire_dump: cannot open %s\n", argv[1]);
        return 2;
    }
    uint8_t chunk[AGENT_CHUNK_MAX];
    size_t at = 0;
    for (;;) {
        struct agent_chunk_header h;
        size_t got = fread(chunk, 1, sizeof h, f);
        if (got == 0)
            break;
        if (got < sizeof h)
            return fail("partial chunk header", at);
        memcpy(&h, chunk, sizeof h);
        if (h.len < sizeof h || h.len > AGENT_CHUNK_MAX)
            return fail("bad chunk length", at);
        if (fread(chunk + sizeof h, 1, h.len - sizeof h, f) != h.len - sizeof h)
            return fail("partial chunk", at);
        struct wire_cur c;
        if (wire_chunk_open(chunk, h.len, &h, &c) < 0)
            return fail("bad chunk header", at);
        printf("{\"pid\": %" PRId32 ", \"tid\": %" PRId32 ", \"flags\": %u, \"t_ns\": %" PRIu64
               ", \"len\": %u}\n",
               h.pid, h.tid, h.flags, h.t_ns, h.len);
        struct wire_record r = { 0 };
        int rc;
        while ((rc = wire_next(&c, &r)) > 0)
            print_record(&r);
        if (rc < 0)
            return fail("malformed record", at);
        at += h.len;
    }
    fclose(f);
    return 0;
}
