/* wire.c -- what of wire.h is not inline: opening a chunk, and the names
 * of records, allocators and frame kinds. */
#include "wire/wire.h"

int wire_chunk_open(const uint8_t *chunk, size_t len, struct agent_chunk_header *h,
                    struct wire_cur *c)
{
    if (len < sizeof *h)
        return -1;
    memcpy(h, chunk, sizeof *h);
    if (h->magic != AGENT_MAGIC || h->version != AGENT_VERSION || h->len != len)
        return -1;
    *c = (struct wire_cur){ { chunk + sizeof *h, chunk + len, 0 }, { 0, 0 } };
    return 0;
}

const char *wire_record_name(uint64_t type)
{
#define NAME_OF(NAME, code, name, fields) [code] = #name,
    static const char *const names[AGENT_RECORDS + 1] = { WIRE_RECORDS(NAME_OF, , , ) };
#undef NAME_OF
    return type <= AGENT_RECORDS ? names[type] : NULL;
}

const char *wire_allocator_name(uint64_t allocator)
{
#define NAME_OF(NAME, value, name) [value] = name,
    static const char *const names[AGENT_ALLOCATORS] = { AGENT_ALLOCATOR_LIST(NAME_OF) };
#undef NAME_OF
    return allocator < AGENT_ALLOCATORS ? names[allocator] : NULL;
}

const char *wire_frame_kind_name(uint64_t kind)
{
#define NAME_OF(NAME, value, name) [value] = name,
    static const char *const names[AGENT_FRAME_KINDS] = { AGENT_FRAME_KIND_LIST(NAME_OF) };
#undef NAME_OF
    return kind < AGENT_FRAME_KINDS ? names[kind] : NULL;
}
