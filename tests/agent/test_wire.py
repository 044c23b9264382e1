"""The Python decoder of the agent's stream (decode.py) against the C one
(src/wire/wire.c, as the tool tests/agent/wire_dump): the same description
of the records, the same records out of real agent streams, and the same
streams refused."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decode  # noqa: E402
from harness import PROGRAMS, agent_path, build_dir, run_agent  # noqa: E402


def wire_dump():
    path = build_dir() / "tests" / "agent" / "wire_dump"
    if not path.is_file():
        pytest.fail(f"{path} is not built (meson's tests option is on by default)")
    return str(path)


def c_dump(tmp_path, data):
    """(exit status, records as dicts, stderr) of wire_dump over data."""
    f = tmp_path / "stream"
    f.write_bytes(data)
    p = subprocess.run([wire_dump(), str(f)], capture_output=True, timeout=60)
    lines = p.stdout.decode("utf-8").splitlines()
    return p.returncode, [json.loads(line) for line in lines], p.stderr.decode()


def test_same_description():
    p = subprocess.run([wire_dump(), "--schema"], capture_output=True, text=True, timeout=30,
                       check=True)
    c = json.loads(p.stdout)
    assert c["magic"] == decode.MAGIC
    assert c["version"] == decode.VERSION
    assert c["header_size"] == decode.HEADER.size
    assert c["chunk_max"] == decode.CHUNK_MAX
    assert c["new_stream"] == decode.NEW_STREAM
    py = {t: {"type": t, "name": name, "fields": [list(f) for f in fields]}
          for t, (name, fields) in decode.RECORDS.items()}
    assert {r["type"]: r for r in c["records"]} == py
    assert c["allocators"] == decode.ALLOCATORS
    assert c["frame_kinds"] == decode.FRAME_KINDS


# exact with threads, sampled, and several processes (forked, spawned,
# followed), so every record type and the new-stream flag come by
CASES = {
    "threads-exact": ("threads.py", "exact", False),
    "sampled": ("sampled.py", "sampled:65536", False),
    "forker-follow": ("forker.py", "exact", True),
}


@pytest.mark.parametrize("case", CASES)
def test_same_records(python, case, tmp_path):
    if not os.path.isfile(agent_path()):
        pytest.skip(f"agent not built: {agent_path()}")
    program, mode, follow = CASES[case]
    r = run_agent(python.path, [str(PROGRAMS / program)], mode=mode, follow=follow)
    assert r.returncode == 0, r.stderr
    status, c, err = c_dump(tmp_path, r.data)
    assert status == 0, err
    py = decode.dump(r.data)
    assert len(c) == len(py)
    assert c == py
    seen = {x["type"] for x in py if "type" in x}
    want = {"frame", "stack", "alloc", "free", "finalizing"} | ({"sampled"} if "sampled" in mode
                                                                 else set())
    assert want <= seen, seen


def chunk(body, length=None, pid=1, tid=1, flags=0):
    n = decode.HEADER.size + len(body) if length is None else length
    return decode.HEADER.pack(decode.MAGIC, decode.VERSION, flags, n, 0, pid, tid, 1000) + body


GOOD_FREE = bytes([4, 0, 0x80, 0x20, 7])       # FREE malloc 0x1000, dt 7

BAD = {
    # the 10th byte of a varint may only hold the 64th bit
    "varint over 64 bits": chunk(bytes([4, 0]) + b"\xff" * 9 + b"\x02" + b"\x00"),
    "varint over 10 bytes": chunk(bytes([4, 0]) + b"\x80" * 10 + b"\x00\x00"),
    "varint past the chunk": chunk(bytes([4, 0, 0x80])),
    "string past the chunk": chunk(bytes([1, 1, 0, 0, 0, 5]) + b"ab"),
    "unknown record": chunk(GOOD_FREE + bytes([99])),
    "bad magic": struct.pack("<H", 0x1234) + chunk(GOOD_FREE)[2:],
    "length short of the header": chunk(b"", length=8),
    "length past the end": chunk(GOOD_FREE, length=64),
}


@pytest.mark.parametrize("name", BAD)
def test_same_refusals(name, tmp_path):
    data = chunk(GOOD_FREE) + BAD[name]
    status, c, err = c_dump(tmp_path, data)
    assert status == 2 and err.startswith("wire_dump: "), (status, err)
    with pytest.raises(decode.DecodeError):
        decode.dump(data)
    # what came before the bad chunk is read alike
    assert c[:2] == decode.dump(chunk(GOOD_FREE))


def test_largest_varint_read_alike(tmp_path):
    data = chunk(bytes([4, 0]) + b"\xff" * 9 + b"\x01" + b"\x00")
    status, c, err = c_dump(tmp_path, data)
    assert status == 0, err
    assert c == decode.dump(data)
    assert c[1]["addr"] == 2**63     # the zigzag of -2**63, the farthest from 0
