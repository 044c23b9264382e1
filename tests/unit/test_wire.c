/*
 * test_wire.c -- the agent's records through the encoders and the decoder
 * of wire.h: every record type comes back as it went, sizes stay within
 * what wire_size_*() promises, and the decoder refuses what is malformed
 * (a varint over 64 bits or past the chunk, a string past the chunk, an
 * unknown type, a bad header) without reading past the chunk.
 */
#include "check.h"
#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>

static uint8_t buf[AGENT_CHUNK_MAX];

/* buf with a header for n bytes in all, and a cursor over its records */
static int open_chunk(size_t n, struct wire_cur *c)
{
    struct agent_chunk_header h;
    wire_put_header(buf, AGENT_CHUNK_NEW_STREAM, n, 42, 43, 1000);
    return wire_chunk_open(buf, n, &h, c);
}

int main(void)
{
    const size_t H = sizeof(struct agent_chunk_header);
    char name[WIRE_NAME_MAX], file[WIRE_FILE_MAX];
    memset(name, 'n', sizeof name);
    memset(file, 'f', sizeof file);

    /* one of each, with the largest values and strings there are */
    struct wire_frame fr = { UINT32_MAX, 7, UINT64_MAX, AGENT_FRAME_SYNTHETIC,
                             { name, sizeof name }, { file, sizeof file } };
    struct wire_stack st = { 3, 2, UINT32_MAX, 1 };
    struct wire_alloc al = { AGENT_ALLOC_PYOBJECT, UINT64_MAX, 1ull << 40, 3, 0, 5 };
    struct wire_native na = { 5, 4, UINT64_MAX };
    static const char lib[] = "/usr/lib/libfoo.so";
    struct wire_module mo = { 0x7f0000000000ull, 0x7f0000100000ull, WIRE_MODULE_INTERPRETER,
                              { lib, sizeof lib - 1 } };
    struct wire_free fe = { AGENT_ALLOC_MMAP, 0x7fff12345678ull, 99 };
    struct wire_finalizing fi = { 123456789 };
    struct wire_resident re = { 0x7fff00000000ull, 1ull << 36, UINT64_MAX };
    struct wire_sampled sa = { 1 << 20 };
    uint8_t *w = buf + H;
    w = wire_put_sampled(w, &sa);
    CHECK((size_t)(w - buf - H) <= wire_size_sampled(&sa));
    uint8_t *at = w;
    w = wire_put_frame(w, &fr);
    CHECK((size_t)(w - at) <= wire_size_frame(&fr));
    CHECK(wire_size_frame(&fr) == WIRE_FIXED_FRAME + sizeof name + sizeof file);
    at = w;
    w = wire_put_stack(w, &st);
    CHECK((size_t)(w - at) <= wire_size_stack(&st));
    at = w;
    w = wire_put_module(w, &mo);
    CHECK((size_t)(w - at) <= wire_size_module(&mo));
    at = w;
    w = wire_put_native(w, &na);
    CHECK((size_t)(w - at) <= WIRE_FIXED_NATIVE);
    at = w;
    struct wire_last last = { 0, 0 };   /* the free's D fields are relative to the alloc's */
    w = wire_put_alloc_after(w, &last, &al);
    CHECK((size_t)(w - at) <= WIRE_FIXED_ALLOC);
    w = wire_put_free_after(w, &last, &fe);
    CHECK(last.addr == fe.addr && last.dt_ns == fe.dt_ns);
    at = w;
    w = wire_put_resident(w, &re);
    CHECK((size_t)(w - at) <= WIRE_FIXED_RESIDENT);
    CHECK_EQ_INT(wire_size_resident(&re), WIRE_FIXED_RESIDENT);
    w = wire_put_finalizing(w, &fi);
    size_t n = (size_t)(w - buf);
    CHECK(n <= AGENT_CHUNK_MAX);

    struct wire_cur c;
    struct wire_record r;
    CHECK_EQ_INT(open_chunk(n, &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK_EQ_INT(r.type, AGENT_REC_SAMPLED);
    CHECK_EQ_INT(r.u.sampled.mean, sa.mean);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK_EQ_INT(r.type, AGENT_REC_FRAME);
    CHECK(r.u.frame.id == fr.id && r.u.frame.line == 7 && r.u.frame.first_line == UINT64_MAX);
    CHECK_EQ_INT(r.u.frame.kind, AGENT_FRAME_SYNTHETIC);
    CHECK(r.u.frame.name.len == sizeof name && !memcmp(r.u.frame.name.p, name, sizeof name));
    CHECK(r.u.frame.file.len == sizeof file && !memcmp(r.u.frame.file.p, file, sizeof file));
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_STACK && r.u.stack.id == 3 && r.u.stack.parent == 2 &&
          r.u.stack.frame == UINT32_MAX && r.u.stack.entry == 1);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_MODULE && r.u.module.start == mo.start &&
          r.u.module.end == mo.end && r.u.module.flags == WIRE_MODULE_INTERPRETER &&
          r.u.module.path.len == sizeof lib - 1 && !memcmp(r.u.module.path.p, lib, sizeof lib - 1));
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_NATIVE && r.u.native.id == 5 && r.u.native.parent == 4 &&
          r.u.native.pc == UINT64_MAX);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_ALLOC && r.u.alloc.allocator == AGENT_ALLOC_PYOBJECT &&
          r.u.alloc.addr == UINT64_MAX && r.u.alloc.size == 1ull << 40 &&
          r.u.alloc.stack == 3 && r.u.alloc.dt_ns == 0 && r.u.alloc.native == 5);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_FREE && r.u.free.allocator == AGENT_ALLOC_MMAP &&
          r.u.free.addr == fe.addr && r.u.free.dt_ns == 99);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_RESIDENT && r.u.resident.addr == re.addr &&
          r.u.resident.bytes == re.bytes && r.u.resident.dt_ns == UINT64_MAX);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_FINALIZING && r.u.finalizing.dt_ns == 123456789);
    CHECK_EQ_INT(wire_next(&c, &r), 0);
    CHECK_EQ_INT(wire_next(&c, &r), 0);

    /* every prefix of that chunk cut inside a record is refused, and
     * nothing is read past the cut */
    int refused = 0, cuts = 0;
    for (size_t cut = H + 1; cut < n; cut++) {
        struct wire_cur cc;
        if (open_chunk(cut, &cc) < 0)
            continue;
        int rc;
        while ((rc = wire_next(&cc, &r)) > 0)
            ;
        cuts++;
        refused += rc < 0;
        if (cc.v.p != cc.v.end)
            CHECK(!"stopped at the cut");
    }
    /* nine records end at eight of the cuts + the full length: the rest
     * are inside a record */
    CHECK_EQ_INT(refused, cuts - 8);

    /* addresses and times as differences: near ones take a byte or two,
     * and they come back whatever their distance (across 0 and 2^64 too) */
    static const uint64_t addrs[] = { 0x7f3a12345670ull, 0x7f3a12345690ull, 0x7f3a12345010ull,
                                      0x7f3a12345010ull, 0x55d0c0de0000ull, 8, UINT64_MAX - 7,
                                      0 };
    enum { NADDRS = sizeof addrs / sizeof *addrs };
    size_t at_of[NADDRS + 1];
    w = buf + H;
    last = (struct wire_last){ 0, 0 };
    for (size_t i = 0; i < NADDRS; i++) {
        at_of[i] = (size_t)(w - buf);
        if (i % 2)
            w = wire_put_free_after(w, &last, &(struct wire_free){ 1, addrs[i], i });
        else
            w = wire_put_alloc_after(w, &last, &(struct wire_alloc){ 0, addrs[i], 16, 0, i, 0 });
    }
    at_of[NADDRS] = (size_t)(w - buf);
    CHECK_EQ_INT(at_of[2] - at_of[1], 1 + 1 + 1 + 1);          /* +32: one byte */
    CHECK_EQ_INT(at_of[3] - at_of[2], 1 + 1 + 2 + 1 + 1 + 1 + 1); /* -1664: two */
    CHECK_EQ_INT(at_of[4] - at_of[3], 1 + 1 + 1 + 1);          /* the same: one */
    CHECK_EQ_INT(open_chunk(at_of[NADDRS], &c), 0);
    for (size_t i = 0; i < NADDRS; i++) {
        CHECK_EQ_INT(wire_next(&c, &r), 1);
        CHECK(i % 2 ? r.type == AGENT_REC_FREE && r.u.free.addr == addrs[i] &&
                          r.u.free.dt_ns == i
                    : r.type == AGENT_REC_ALLOC && r.u.alloc.addr == addrs[i] &&
                          r.u.alloc.dt_ns == i);
    }
    CHECK_EQ_INT(wire_next(&c, &r), 0);
    /* an ALLOC_LOCAL's address counts as an ALLOC's (the agent rewrites
     * the type byte only) */
    buf[at_of[0]] = AGENT_REC_ALLOC_LOCAL;
    CHECK_EQ_INT(open_chunk(at_of[NADDRS], &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_ALLOC_LOCAL && r.u.alloc_local.addr == addrs[0]);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.type == AGENT_REC_FREE && r.u.free.addr == addrs[1]);

    /* the 10th byte of a varint holds only bit 63 */
    w = buf + H;
    w = wire_put_free(w, &(struct wire_free){ 0, 0, 1ull << 63 });  /* zigzag: 2^64 - 1 */
    CHECK_EQ_INT(w[-1], 0x01);
    CHECK_EQ_INT(open_chunk((size_t)(w - buf), &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), 1);
    CHECK(r.u.free.dt_ns == 1ull << 63);
    w[-1] = 0x02;
    CHECK_EQ_INT(open_chunk((size_t)(w - buf), &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), -1);
    CHECK(c.v.p == c.v.end);
    CHECK_EQ_INT(wire_next(&c, &r), -1);
    /* eleven bytes of varint */
    memcpy(buf + H, "\x04\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x00", 14);
    CHECK_EQ_INT(open_chunk(H + 14, &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), -1);

    /* a string longer than what is left; an unknown type; type 0 */
    memcpy(buf + H, "\x01\x01\x00\x00\x00\x05" "ab", 8);
    CHECK_EQ_INT(open_chunk(H + 8, &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), -1);
    buf[H] = AGENT_RECORDS + 1;
    CHECK_EQ_INT(open_chunk(H + 1, &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), -1);
    buf[H] = 0;
    CHECK_EQ_INT(open_chunk(H + 1, &c), 0);
    CHECK_EQ_INT(wire_next(&c, &r), -1);

    /* headers: as written; too short, wrong length, magic, version */
    struct agent_chunk_header h;
    wire_put_header(buf, AGENT_CHUNK_NEW_STREAM, H + 1, 42, -43, 1000);
    CHECK_EQ_INT(wire_chunk_open(buf, H + 1, &h, &c), 0);
    CHECK(h.pid == 42 && h.tid == -43 && h.flags == AGENT_CHUNK_NEW_STREAM && h.t_ns == 1000 &&
          h.len == H + 1);
    CHECK(c.v.p == buf + H && c.v.end == buf + H + 1);
    CHECK_EQ_INT(wire_chunk_open(buf, H - 1, &h, &c), -1);
    CHECK_EQ_INT(wire_chunk_open(buf, H + 2, &h, &c), -1);
    CHECK_EQ_INT(wire_chunk_open(buf, H + 1, &h, &c), 0);
    buf[0] ^= 1;
    CHECK_EQ_INT(wire_chunk_open(buf, H + 1, &h, &c), -1);
    buf[0] ^= 1;
    buf[2] = AGENT_VERSION + 1;
    CHECK_EQ_INT(wire_chunk_open(buf, H + 1, &h, &c), -1);

    /* names */
    CHECK_EQ_STR(wire_record_name(AGENT_REC_ALLOC), "alloc");
    CHECK_EQ_STR(wire_record_name(AGENT_REC_RESIDENT), "resident");
    CHECK(wire_record_name(0) == NULL && wire_record_name(AGENT_RECORDS + 1) == NULL);
    CHECK_EQ_STR(wire_allocator_name(AGENT_ALLOC_PYMEM_RAW), "pymem_raw");
    CHECK(wire_allocator_name(AGENT_ALLOCATORS) == NULL);
    CHECK_EQ_STR(wire_frame_kind_name(AGENT_FRAME_SYNTHETIC), "synthetic");
    CHECK(wire_frame_kind_name(AGENT_FRAME_KINDS) == NULL);
    return CHECK_DONE();
}
