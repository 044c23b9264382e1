"""Live objects by type: stetho's census of the object allocator's blocks.

tests/programs/type_census.py keeps PAIRS reference cycles of two Leaf
objects (2 * PAIRS Leaf, made in make_pairs) and a cache of CACHE small
dicts, each made by add(); then holds them a while and prints the expected
figures.  The type table must show both with the right counts and the
right creating function, on every interpreter.

Tolerances.  Exact memory: Leaf within 1 % (every one is allocated after
the agent started and read at a census; no free list serves Leaf); the
dicts made by add() within 2 % (a dict free list of up to 80 entries may
hand add() a dict first allocated elsewhere, and those count there).
Sampled memory every 4 KiB: a 48-64 byte object is sampled about once in
70, some 600 samples per type, good to ~4 % (one sigma): held to 25 %.
"""

import json
import os

import pytest

from conftest import record_program, run


def record(stetho, interp, tmp, memory):
    return record_program(stetho, interp, tmp, "type_census.py", memory, "types")


def types_of(stetho, cap):
    cp = run([stetho, "leaks", "--json", str(cap)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return json.loads(cp.stdout.decode())["leaks"]["types"]


@pytest.mark.parametrize("memory, within", [("exact", (0.01, 0.02)),
                                            ("sampled:4096", (0.25, 0.25))])
def test_census_counts_and_creators(stetho, python, tmp_path, memory, within):
    cap, want = record(stetho, python, tmp_path, memory)
    types = types_of(stetho, cap)
    assert types["censuses"] >= 1
    assert types["estimated"] == (memory != "exact")
    rows = {r["type"]: r for r in types["rows"]}
    leaf, d = rows["Leaf"], rows["dict"]

    assert leaf["end_count"] == pytest.approx(want["leaf"], rel=within[0])
    assert leaf["created_at"]["function"] == "make_pairs"
    assert leaf["created_at"]["file"].endswith("type_census.py")
    assert leaf["created_at"]["share"] > 0.99
    # bytes: at least the objects' own size, at most pymalloc's largest block
    assert 16 * leaf["end_count"] <= leaf["end_bytes"] <= 512 * leaf["end_count"]

    assert d["created_at"]["function"] == "add"
    from_add = d["created_at"]["share"] * d["end_count"]
    assert from_add == pytest.approx(want["dicts"], rel=within[1])
    # growth: the last census minus the first (none with a single census)
    assert 0 <= d["growth_count"] <= d["end_count"]
    if types["censuses"] >= 2 and types["end_s"] > 1.0:
        assert d["growth_count"] > 0
    # sorted by bytes at the end
    ends = [r["end_bytes"] for r in types["rows"]]
    assert ends == sorted(ends, reverse=True)

    text = run([stetho, "leaks", str(cap)]).stdout.decode()
    assert "Live objects by type (" in text
    assert "created at make_pairs" in text and "created at add" in text
    # the text's figures are the JSON's
    assert f"  Leaf: {leaf['end_count']:,} objects" in text
    sign = "+" if d["growth_count"] >= 0 else "-"
    assert f"; {sign}{abs(d['growth_count']):,} since the first)" in text


def test_census_in_stats(stetho, python, tmp_path):
    cap, _ = record(stetho, python, tmp_path, "exact")
    cp = run([stetho, "stats", "--json", str(cap)])
    assert cp.returncode == 0
    doc = json.loads(cp.stdout.decode())
    assert any(r["type"] == "Leaf" for r in doc["leaks"]["types"]["rows"])
    assert "Live objects by type" in run([stetho, "stats", str(cap)]).stdout.decode()


def test_no_census_without_memory(stetho, python, tmp_path):
    cap = tmp_path / "off.stetho"
    cp = run([stetho, "run", "-q", "--memory", "off", "-o", str(cap), "--", python.path, "-c",
              "pass"], cwd=tmp_path)
    assert cp.returncode == 0
    cp = run([stetho, "leaks", str(cap)])
    assert cp.returncode == 0 and "Live objects by type" not in cp.stdout.decode()


def test_census_reads_a_reused_address_anew(stetho, python, tmp_path):
    # each live object's type is read once and kept: New objects made where
    # Old ones were (same size, freed) must count as New, none as Old
    cap, want = record_program(stetho, python, tmp_path, "type_reuse.py", "exact", "reuse")
    assert want["reused"] > 0.2         # else this would test nothing (0.37-0.95 seen)
    types = types_of(stetho, cap)
    assert types["censuses"] >= 3
    rows = {r["type"]: r for r in types["rows"]}
    assert rows["New"]["end_count"] == pytest.approx(want["new"], rel=0.01)
    assert rows["New"]["created_at"]["function"] == "make_new"
    assert rows.get("Old", {}).get("end_count", 0) <= 0.01 * want["new"]
