"""The indexed line-table lookup (src/cpython/linetable.c) gives the line
the decode from the table's start gives, for every instruction of real
code: what each interpreter compiles from its own standard library (the
top level, email and asyncio: ~10 k code objects, module bodies of
thousands of instructions among them), the table read from the field the
walker reads (3.9 co_lnotab, 3.10+ co_linetable), looked up in
increasing, decreasing and random order (tests/unit/linetable_check.c).
"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run

REPO = Path(__file__).resolve().parent.parent.parent

PROBE = r'''
import glob, os, sys
kind = 1 if sys.version_info < (3, 10) else 2 if sys.version_info < (3, 11) else 3
stdlib = os.path.dirname(os.__file__)
files = sorted(glob.glob(os.path.join(stdlib, "*.py")) +
               glob.glob(os.path.join(stdlib, "email", "*.py")) +
               glob.glob(os.path.join(stdlib, "asyncio", "*.py")))
def walk(co):
    table = co.co_lnotab if kind == 1 else co.co_linetable
    n = len(co.co_code) // (2 if kind == 3 else 1)   # 3.11+: in code units
    sys.stdout.write(f"{kind} {co.co_firstlineno} {n} {table.hex() or '-'}\n")
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            walk(c)
for f in files:
    try:
        with open(f, encoding="utf-8") as fh:
            walk(compile(fh.read(), f, "exec"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        pass    # a few stdlib files are test data or another version's
'''


def checker():
    build = (os.environ.get("STETHO_BUILDS", "build").split() or ["build"])[0]
    path = REPO / build / "tests" / "unit" / "linetable_check"
    if not path.is_file():
        pytest.skip(f"{path} not built")
    return str(path)


def test_indexed_lookup_matches_decode_from_start(python):
    tool = checker()
    tables = run([python.path, "-c", PROBE], timeout=120)
    assert tables.returncode == 0, tables.stderr.decode()[-2000:]
    r = subprocess.run([tool], input=tables.stdout, capture_output=True, timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out[-3000:] + r.stderr.decode()[-2000:]
    fields = dict(zip(out.split()[::2], map(int, out.split()[1::2])))
    # the stdlib is thousands of code objects, and hundreds of them have
    # tables long enough to be indexed: the comparison covered real work
    assert fields["codes"] > 2000 and fields["indexed"] > 100, out
    assert fields["wrong"] == 0, out
