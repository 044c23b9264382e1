/* wire.c -- reading the agent's chunks (wire.h): the decoder the
 * description in wire.h makes, and its names. */
#include "wire/wire.h"

int wire_chunk_open(const uint8_t *chunk, size_t len, struct agent_chunk_header *h,
                    struct vcur *c)
{
    if (len < sizeof *h)
        return -1;
    memcpy(h, chunk, sizeof *h);
    if (h->magic != AGENT_MAGIC || h->version != AGENT_VERSION || h->len != len)
        return -1;
    *c = (struct vcur){ chunk + sizeof *h, chunk + len, 0 };
    return 0;
}

static struct wire_bytes get_bytes(struct vcur *c)
{
    uint64_t n = vcur_varint(c);
    if (c->bad || n > vcur_left(c)) {
        c->bad = 1;
        c->p = c->end;
        return (struct wire_bytes){ NULL, 0 };
    }
    struct wire_bytes b = { (const char *)c->p, (size_t)n };
    c->p += n;
    return b;
}

int wire_next(struct vcur *cur, struct wire_record *r)
{
    struct vcur k = *cur, *c = &k;      /* a local: kept in registers */
    if (c->bad)
        return -1;
    if (c->p >= c->end)
        return 0;
    uint8_t type = *c->p++;
    r->type = (enum agent_record)type;
    switch (type) {
#define GET_U(f) x->f = vcur_varint(c);
#define GET_S(f) x->f = get_bytes(c);
#define CASE(NAME, code, name, fields)            \
    case AGENT_REC_##NAME: {                      \
        struct wire_##name *x = &r->u.name;       \
        fields break;                             \
    }
        WIRE_RECORDS(CASE, GET_U, GET_S)
#undef CASE
#undef GET_U
#undef GET_S
    default:
        c->bad = 1;
        c->p = c->end;
    }
    *cur = k;
    return c->bad ? -1 : 1;
}

const char *wire_record_name(uint64_t type)
{
#define NAME_OF(NAME, code, name, fields) [code] = #name,
    static const char *const names[AGENT_RECORDS + 1] = { WIRE_RECORDS(NAME_OF, , ) };
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
