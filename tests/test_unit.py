"""Run the C unit tests (TAP binaries built by meson) as pytest tests.

Each binary under <build>/tests/unit/unit_* becomes one test per build
directory in STETHO_BUILDS (default: build); a "not ok" line or a non-zero
exit fails it with the TAP lines that failed.  The binaries read fixtures
relative to the repository root.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILDS = os.environ.get("STETHO_BUILDS", "build").split()


def unit_binaries():
    found = []
    for b in BUILDS:
        d = REPO / b / "tests" / "unit"
        found += [pytest.param(p, id=f"{b}/{p.name}") for p in sorted(d.glob("unit_*"))
                  if os.access(p, os.X_OK) and p.is_file()]
    return found


def test_unit_binaries_exist():
    assert unit_binaries(), f"no C unit test binaries under {BUILDS}: build first (tests/run)"


@pytest.mark.parametrize("binary", unit_binaries())
def test_c_unit(binary):
    r = subprocess.run([str(binary)], cwd=REPO, capture_output=True, text=True, timeout=300)
    failed = [l for l in r.stdout.splitlines() if l.startswith("not ok")]
    assert r.returncode == 0 and not failed, (
        f"{binary.name} exit {r.returncode}\n" + "\n".join(failed[:30]) + "\n" + r.stderr[-3000:])
    assert any(l.startswith("1..") for l in r.stdout.splitlines()), "no TAP plan: crashed?"
