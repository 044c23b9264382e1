"""Decode what libstetho_agent.so writes to its FIFO (src/wire/wire.h).

A test-side decoder, independent of stetho's: it reads chunks, keeps each
(pid, tid) stream's frame and stack definitions, and yields the events with
their stacks resolved to lists of frames (innermost first).

    python3 tests/agent/decode.py DUMPFILE      # print a summary
"""

import struct
import sys
from dataclasses import dataclass, field

MAGIC = 0x5354
VERSION = 7
HEADER = struct.Struct("<HBBHHiiQ")
CHUNK_MAX = 4096
NEW_STREAM = 0x01

# The records as src/wire/wire.h describes them (test_wire.py checks this
# table against the C one): type byte -> (name, fields in wire order), a
# field "u" an unsigned varint, "s" a varint length and that many UTF-8 bytes,
# "d" the zigzag varint of its difference from the chunk's previous "d" field
# of the same name (from 0 for the first), modulo 2**64.
RECORDS = {
    1: ("frame", (("id", "u"), ("line", "u"), ("first_line", "u"), ("kind", "u"),
                  ("name", "s"), ("file", "s"))),
    2: ("stack", (("id", "u"), ("parent", "u"), ("frame", "u"), ("entry", "u"))),
    3: ("alloc", (("allocator", "u"), ("addr", "d"), ("size", "u"), ("stack", "u"),
                  ("dt_ns", "d"), ("native", "u"))),
    4: ("free", (("allocator", "u"), ("addr", "d"), ("dt_ns", "d"))),
    5: ("finalizing", (("dt_ns", "u"),)),
    6: ("sampled", (("mean", "u"),)),
    7: ("gc_pause", (("generation", "u"), ("collected", "u"), ("uncollectable", "u"),
                     ("duration_ns", "u"), ("dt_ns", "u"))),
    8: ("calls", (("caller", "u"), ("callee", "u"), ("calls", "u"), ("rec_calls", "u"),
                  ("cum_ns", "u"), ("own_ns", "u"))),
    9: ("native", (("id", "u"), ("parent", "u"), ("pc", "u"))),
    10: ("module", (("start", "u"), ("end", "u"), ("flags", "u"), ("path", "s"))),
    11: ("alloc_local", (("allocator", "u"), ("addr", "d"), ("size", "u"), ("stack", "u"),
                         ("dt_ns", "d"), ("native", "u"))),
    12: ("free_local", (("allocator", "u"), ("index", "u"), ("dt_ns", "d"))),
    13: ("resident", (("addr", "u"), ("bytes", "u"), ("dt_ns", "u"))),
    14: ("temps", (("allocator", "u"), ("stack", "u"), ("size_class", "u"), ("count", "u"),
                   ("bytes", "u"), ("temporary", "u"))),
}
TEMPORARY = 0x40    # in a free's allocator: the thread's last allocation
ALLOCATORS = ["malloc", "calloc", "realloc", "memalign", "mmap", "pymem_raw", "pymem",
              "pyobject"]
FRAME_KINDS = ["python", "native", "synthetic"]


class DecodeError(Exception):
    pass


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int
    first_line: int
    kind: str


@dataclass
class Event:
    kind: str               # "alloc", "free", "finalizing", "resident", "temps"
    pid: int
    tid: int
    t_ns: int
    allocator: str = ""
    addr: int = 0
    size: int = 0           # a resident's: its resident bytes
    stack: tuple = ()       # of Frame, innermost first
    sampled_mean: int = 0   # >0: a Poisson sample with this mean
    local: bool = False     # a free sent as FREE_LOCAL (its block's ALLOC in its chunk)
    alloc_ns: int = 0       # a FREE_LOCAL's: the time of that ALLOC
    temporary: int = 0      # a free's: 1 if it was its thread's last allocation;
                            # a temps': how many of its blocks were
    count: int = 1          # a temps': blocks allocated and freed (size: their bytes)
    size_class: int = 0     # a temps': each block's size's bit length


@dataclass
class Stream:
    frames: dict = field(default_factory=dict)
    stacks: dict = field(default_factory=dict)     # id -> (parent, frame id)
    resolved: dict = field(default_factory=dict)   # id -> tuple of Frame
    mean: int = 0

    def stack(self, sid):
        if sid == 0:
            return ()
        got = self.resolved.get(sid)
        if got is not None:
            return got
        chain = []
        s = sid
        while s:
            if s not in self.stacks:
                raise DecodeError(f"stack {s} used before it was defined")
            parent, fid = self.stacks[s]
            if fid not in self.frames:
                raise DecodeError(f"frame {fid} used before it was defined")
            chain.append(self.frames[fid])
            s = parent
        got = tuple(chain)          # innermost first
        self.resolved[sid] = got
        return got


def _varint(buf, pos, end):
    shift = 0
    value = 0
    while True:
        if pos >= end:
            raise DecodeError("varint runs past the chunk")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise DecodeError("varint longer than 64 bits")
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _bytes(buf, pos, end):
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise DecodeError("string runs past the chunk")
    return buf[pos:pos + n].decode("utf-8"), pos + n


def records(buf, pos, end):
    """The records of buf[pos:end] (a chunk's body): (name, {field: value})."""
    last = {}           # the chunk's previous "d" field of each name
    while pos < end:
        rec = buf[pos]
        pos += 1
        if rec not in RECORDS:
            raise DecodeError(f"unknown record type {rec}")
        name, fields = RECORDS[rec]
        values = {}
        for field, kind in fields:
            if kind == "d":
                delta, pos = _varint(buf, pos, end)
                last[field] = (last.get(field, 0) + ((delta >> 1) ^ -(delta & 1))) % (1 << 64)
                values[field] = last[field]
            else:
                values[field], pos = (_varint if kind == "u" else _bytes)(buf, pos, end)
        yield name, values


def chunks(data):
    """The chunks of a whole stream: (header fields, start, end) of each."""
    pos = 0
    while len(data) - pos >= HEADER.size:
        magic, version, flags, length, _, pid, tid, t_ns = HEADER.unpack_from(data, pos)
        if magic != MAGIC or version != VERSION:
            raise DecodeError(f"bad chunk header at byte {pos}: magic {magic:#x}")
        if length < HEADER.size or length > CHUNK_MAX:
            raise DecodeError(f"bad chunk length {length}")
        if len(data) - pos < length:
            break
        yield {"pid": pid, "tid": tid, "flags": flags, "t_ns": t_ns, "len": length}, pos
        pos += length


def dump(data):
    """What tests/agent/wire_dump prints for a stream, as a list of dicts:
    each chunk's header, then each of its records."""
    out, pos = [], 0
    for h, pos in chunks(data):
        out.append(h)
        out.extend(dict(type=name, **values)
                   for name, values in records(data, pos + HEADER.size, pos + h["len"]))
        pos += h["len"]
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} bytes of a partial chunk at the end")
    return out


class Decoder:
    """Feed it bytes (in any pieces); it yields events as chunks complete."""

    def __init__(self):
        self.pending = b""
        self.streams = {}
        self.chunks = 0

    def feed(self, data):
        buf = self.pending + data
        pos = 0
        out = []
        for h, pos in chunks(buf):
            out.extend(self._chunk(buf, pos + HEADER.size, pos + h["len"], h["flags"],
                                   h["pid"], h["tid"], h["t_ns"]))
            pos += h["len"]
            self.chunks += 1
        self.pending = buf[pos:]
        return out

    def _chunk(self, buf, pos, end, flags, pid, tid, t0):
        key = (pid, tid)
        if flags & NEW_STREAM or key not in self.streams:
            self.streams[key] = Stream()
        st = self.streams[key]
        allocs = []         # the chunk's allocation records: [addr, an unfreed ALLOC_LOCAL, t]
        for rec, r in records(buf, pos, end):
            if rec == "frame":
                kind = FRAME_KINDS[r["kind"]] if r["kind"] < len(FRAME_KINDS) else str(r["kind"])
                st.frames[r["id"]] = Frame(r["name"], r["file"], r["line"], r["first_line"],
                                           kind)
                st.resolved.clear()
            elif rec == "stack":
                st.stacks[r["id"]] = (r["parent"], r["frame"])
                st.resolved.pop(r["id"], None)
            elif rec in ("alloc", "alloc_local"):
                # an ALLOC_LOCAL's block is freed later in this chunk (FREE_LOCAL)
                allocs.append([r["addr"], rec == "alloc_local", t0 + r["dt_ns"]])
                yield Event("alloc", pid, tid, t0 + r["dt_ns"], ALLOCATORS[r["allocator"]],
                            r["addr"], r["size"], st.stack(r["stack"]), st.mean)
            elif rec == "free_local":
                i = r["index"]
                if i >= len(allocs) or not allocs[i][1]:
                    raise DecodeError(f"free_local of allocation {i}: not an unfreed alloc_local")
                allocs[i][1] = False
                yield Event("free", pid, tid, t0 + r["dt_ns"],
                            ALLOCATORS[r["allocator"] & ~TEMPORARY], allocs[i][0], local=True,
                            alloc_ns=allocs[i][2], temporary=int(bool(r["allocator"] & TEMPORARY)))
            elif rec == "free":
                yield Event("free", pid, tid, t0 + r["dt_ns"],
                            ALLOCATORS[r["allocator"] & ~TEMPORARY], r["addr"],
                            temporary=int(bool(r["allocator"] & TEMPORARY)))
            elif rec == "temps":
                # stamped with the chunk's start: it sums blocks of this chunk
                yield Event("temps", pid, tid, t0, ALLOCATORS[r["allocator"]], 0, r["bytes"],
                            st.stack(r["stack"]), st.mean, temporary=r["temporary"],
                            count=r["count"], size_class=r["size_class"])
            elif rec == "finalizing":
                yield Event("finalizing", pid, tid, t0 + r["dt_ns"])
            elif rec == "resident":
                yield Event("resident", pid, tid, t0 + r["dt_ns"], "mmap", r["addr"],
                            r["bytes"])
            elif rec == "sampled":
                st.mean = r["mean"]


def decode_bytes(data):
    d = Decoder()
    events = d.feed(data)
    if d.pending:
        raise DecodeError(f"{len(d.pending)} bytes of a partial chunk at the end")
    return events, d


def main(argv):
    with open(argv[1], "rb") as f:
        events, d = decode_bytes(f.read())
    counts = {}
    for e in events:
        k = e.kind if e.kind != "alloc" else "alloc/" + e.allocator
        k += "/local" if e.local else ""
        counts[k] = counts.get(k, 0) + 1
    print(f"{d.chunks} chunks, {len(d.streams)} streams")
    for k in sorted(counts):
        print(f"  {k}: {counts[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
