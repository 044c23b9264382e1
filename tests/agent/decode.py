"""Decode what libstetho_agent.so writes to its FIFO (src/agent/protocol.h).

A test-side decoder, independent of stetho's: it reads chunks, keeps each
(pid, tid) stream's frame and stack definitions, and yields the events with
their stacks resolved to lists of frames (innermost first).

    python3 tests/agent/decode.py DUMPFILE      # print a summary
"""

import struct
import sys
from dataclasses import dataclass, field

MAGIC = 0x5354
VERSION = 1
HEADER = struct.Struct("<HBBHHiiQ")
CHUNK_MAX = 4096
NEW_STREAM = 0x01

REC_FRAME, REC_STACK, REC_ALLOC, REC_FREE, REC_FINALIZING, REC_SAMPLED = 1, 2, 3, 4, 5, 6
ALLOCATORS = ["malloc", "calloc", "realloc", "memalign", "mmap", "pymem_raw", "pymem",
              "pyobject"]
FRAME_KINDS = {0: "python", 1: "native", 2: "synthetic"}


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
    kind: str               # "alloc", "free", "finalizing"
    pid: int
    tid: int
    t_ns: int
    allocator: str = ""
    addr: int = 0
    size: int = 0
    stack: tuple = ()       # of Frame, innermost first
    sampled_mean: int = 0   # >0: a Poisson sample with this mean


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
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _bytes(buf, pos, end):
    n, pos = _varint(buf, pos, end)
    if pos + n > end:
        raise DecodeError("string runs past the chunk")
    return buf[pos:pos + n].decode("utf-8"), pos + n


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
        while len(buf) - pos >= HEADER.size:
            magic, version, flags, length, _, pid, tid, t_ns = HEADER.unpack_from(buf, pos)
            if magic != MAGIC or version != VERSION:
                raise DecodeError(f"bad chunk header at byte {pos}: magic {magic:#x}")
            if length < HEADER.size or length > CHUNK_MAX:
                raise DecodeError(f"bad chunk length {length}")
            if len(buf) - pos < length:
                break
            out.extend(self._chunk(buf, pos + HEADER.size, pos + length, flags, pid, tid, t_ns))
            pos += length
            self.chunks += 1
        self.pending = buf[pos:]
        return out

    def _chunk(self, buf, pos, end, flags, pid, tid, t0):
        key = (pid, tid)
        if flags & NEW_STREAM or key not in self.streams:
            self.streams[key] = Stream()
        st = self.streams[key]
        while pos < end:
            rec = buf[pos]
            pos += 1
            if rec == REC_FRAME:
                fid, pos = _varint(buf, pos, end)
                line, pos = _varint(buf, pos, end)
                first, pos = _varint(buf, pos, end)
                kind, pos = _varint(buf, pos, end)
                name, pos = _bytes(buf, pos, end)
                file, pos = _bytes(buf, pos, end)
                st.frames[fid] = Frame(name, file, line, first, FRAME_KINDS.get(kind, str(kind)))
                st.resolved.clear()
            elif rec == REC_STACK:
                sid, pos = _varint(buf, pos, end)
                parent, pos = _varint(buf, pos, end)
                fid, pos = _varint(buf, pos, end)
                st.stacks[sid] = (parent, fid)
                st.resolved.pop(sid, None)
            elif rec == REC_ALLOC:
                alloc, pos = _varint(buf, pos, end)
                addr, pos = _varint(buf, pos, end)
                size, pos = _varint(buf, pos, end)
                sid, pos = _varint(buf, pos, end)
                dt, pos = _varint(buf, pos, end)
                yield Event("alloc", pid, tid, t0 + dt, ALLOCATORS[alloc], addr, size,
                            st.stack(sid), st.mean)
            elif rec == REC_FREE:
                alloc, pos = _varint(buf, pos, end)
                addr, pos = _varint(buf, pos, end)
                dt, pos = _varint(buf, pos, end)
                yield Event("free", pid, tid, t0 + dt, ALLOCATORS[alloc], addr)
            elif rec == REC_FINALIZING:
                dt, pos = _varint(buf, pos, end)
                yield Event("finalizing", pid, tid, t0 + dt)
            elif rec == REC_SAMPLED:
                st.mean, pos = _varint(buf, pos, end)
            else:
                raise DecodeError(f"unknown record type {rec}")


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
        counts[k] = counts.get(k, 0) + 1
    print(f"{d.chunks} chunks, {len(d.streams)} streams")
    for k in sorted(counts):
        print(f"  {k}: {counts[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
