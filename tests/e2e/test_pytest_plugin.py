"""The pytest plugin (python/stetho/pytest_plugin.py) on a test project
(tests/pytest_plugin/project: tests that exceed and respect each limit) with
every interpreter that has pytest, and on a real third-party suite.

Each run: the interpreter under test, `-p stetho.pytest_plugin` with the
package from python/ (PYTHONPATH) and STETHO the binary under test; plugin
autoloading off, so an installed stetho's entry point does not load it a
second time (test_entry_point checks the entry point itself).

The third-party suite: more-itertools' own tests, from its sdist on PyPI
(tests/run and .ci/run fetch it into ~/.cache/stetho-tests/sdist with
`pip download --no-binary :all:`; it is never committed).
"""
import glob
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import INTERPRETERS, REPO, run

PROJECT = REPO / "tests" / "pytest_plugin" / "project"
SDIST_DIR = os.path.expanduser(os.environ.get("STETHO_SDIST_DIR",
                                              "~/.cache/stetho-tests/sdist"))
THIRD_PARTY = "more-itertools-10.5.0"
MB = 1 << 20


def has_module(python, name):
    return subprocess.run([python.path, "-c", f"import {name}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


@pytest.fixture
def pytest_python(python):
    if not has_module(python, "pytest"):
        pytest.skip(f"{python.path} has no pytest (tests/run installs it)")
    return python


def env_for(stetho, **extra):
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO / "python"), STETHO=stetho, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("STETHO_AGENT", None)
    env.update(extra)
    return env


def project(tmp_path):
    dst = tmp_path / "proj"
    shutil.copytree(PROJECT, dst)
    return dst


def pytest_run(python, stetho, cwd, *args, timeout=300, **env):
    cmd = [python.path, "-m", "pytest", "-p", "stetho.pytest_plugin", "-q",
           "-o", f"cache_dir={cwd / '.cache'}", *args]
    cp = run(cmd, cwd=cwd, env=env_for(stetho, **env), timeout=timeout)
    return cp.returncode, cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")


def failures(out):
    """{test name: its failure text} from pytest's FAILURES section."""
    got = {}
    for m in re.finditer(r"^_{3,} (\S+) _{3,}\n(.*?)(?=^_{3,} |^-{3,} |^={3,} )", out,
                         re.S | re.M):
        got[m.group(1)] = m.group(2)
    return got


LIMIT_FAILURES = {
    "test_memory_over": (r"limit_memory limit 24\.0 MiB exceeded: measured ([\d.]+) MiB",
                         40, "test_memory_over"),
    "test_leaks_over": (r"limit_leaks \(per stack\) limit 1\.0 MiB exceeded: measured "
                        r"([\d.]+) MiB", 3, "leak_here"),
    "test_wall_over": (r"limit_time wall limit 0\.300 s exceeded: measured ([\d.]+) s",
                       0.6, "test_wall_over"),
    "test_cpu_over": (r"limit_time cpu limit 0\.200 s exceeded: measured ([\d.]+) s",
                      0.5, "burn"),
}


def check_limits(rc, out):
    assert rc == 1, out
    f = failures(out)
    assert set(f) == set(LIMIT_FAILURES), (sorted(f), out)
    for test, (pattern, want, where) in LIMIT_FAILURES.items():
        text = f[test]
        m = re.search(pattern, text)
        assert m, f"{test}: {text}"
        got = float(m.group(1))
        tol = 0.02 if "MiB" in pattern else 0.25
        assert abs(got - want) <= tol * want + (0.15 if "wall" in pattern else 0), (test, got)
        lines = text.splitlines()
        head = next(i for i, line in enumerate(lines) if line.startswith("stetho: "))
        stacks = [line for line in lines[head + 1:] if line.strip()]
        assert 1 <= len(stacks) <= 3, text
        assert where in stacks[0], (test, stacks)
    assert re.search(r"stetho: \d+ slowest tests", out), out
    hungry = out.split("hungriest tests")[1].splitlines()[1]
    assert "test_leaks_under" in hungry and "peak" in hungry, hungry
    assert "passed" in out


def test_limits(pytest_python, stetho, tmp_path):
    cwd = project(tmp_path)
    check_limits(*pytest_run(pytest_python, stetho, cwd, "--stetho"))


def test_inert_without_flag(pytest_python, stetho, tmp_path):
    cwd = project(tmp_path)
    rc, out = pytest_run(pytest_python, stetho, cwd, "-W", "error::pytest.PytestUnknownMarkWarning")
    assert rc == 0 and "stetho" not in out, out


def test_bad_unit_fails_collection(pytest_python, stetho, tmp_path):
    cwd = project(tmp_path)
    (cwd / "test_bad.py").write_text("import pytest\n\n@pytest.mark.limit_memory('24 XB')\n"
                                     "def test_x():\n    pass\n")
    rc, out = pytest_run(pytest_python, stetho, cwd, "--stetho")
    lines = [line for line in out.splitlines() if "stetho" in line]
    assert rc == 4 and len(lines) == 1, out
    assert "limit_memory on test_bad.py::test_x: '24 XB' is not a size" in lines[0], out
    assert "Traceback" not in out, out


def test_stetho_dir(pytest_python, stetho, tmp_path):
    cwd = project(tmp_path)
    rc, out = pytest_run(pytest_python, stetho, cwd, "--stetho", "--stetho-dir", "caps",
                         "test_more.py")
    assert rc == 0, out
    files = sorted(os.path.basename(p) for p in glob.glob(str(cwd / "caps" / "*.stetho")))
    assert files == [f"test_more.py_test_param[{n}].stetho" for n in range(6)], files
    cp = run([stetho, "stats", str(cwd / "caps" / "test_more.py_test_param[3].stetho"),
              "--json"])
    stats = json.loads(cp.stdout)
    assert abs(stats["memory"]["alloc_bytes"] - 4 * MB) <= 0.1 * 4 * MB, stats["memory"]


def test_stetho_calls(pytest_python, stetho, tmp_path):
    """--stetho-calls: each test's capture has its exact call counts."""
    cwd = tmp_path / "calls"
    cwd.mkdir()
    (cwd / "test_c.py").write_text("def w_leaf(n):\n    return n\n\n\n"
                                   "def test_calls():\n    for i in range(37):\n"
                                   "        w_leaf(i)\n")
    rc, out = pytest_run(pytest_python, stetho, cwd, "--stetho", "--stetho-calls",
                         "--stetho-dir", "caps", "test_c.py")
    assert rc == 0, out
    cp = run([stetho, "table", str(cwd / "caps" / "test_c.py_test_calls.stetho"), "--calls",
              "--limit", "0"])
    assert cp.returncode == 0, cp.stderr.decode()
    rows = {m.group(2): int(m.group(1)) for m in
            re.finditer(r"^\s*(\d+)\s.*\((w_leaf|test_calls)\)$", cp.stdout.decode(), re.M)}
    assert rows == {"w_leaf": 37, "test_calls": 1}, cp.stdout.decode()


def test_fail_on_increase(pytest_python, stetho, tmp_path):
    cwd = project(tmp_path)
    args = ("--stetho", "--stetho-fail-on-increase", "-k", "test_grows")
    rc, out = pytest_run(pytest_python, stetho, cwd, *args, GROW_MB="2")
    assert rc == 0, out
    rc, out = pytest_run(pytest_python, stetho, cwd, *args, GROW_MB="12")
    assert rc == 1, out
    text = failures(out)["test_grows"]
    assert re.search(r"peak memory increased from 2\.\d MiB \(previous run\) to 12\.\d MiB",
                     text), text
    rc, out = pytest_run(pytest_python, stetho, cwd, *args, GROW_MB="12")
    assert rc == 0, out


def test_xdist(pytest_python, stetho, tmp_path):
    if not has_module(pytest_python, "xdist"):
        pytest.skip(f"{pytest_python.path} has no pytest-xdist (tests/run installs it)")
    cwd = project(tmp_path)
    rc, out = pytest_run(pytest_python, stetho, cwd, "-p", "xdist.plugin", "-n", "2",
                         "--stetho", "--stetho-top", "20")
    check_limits(rc, out)
    summary = out.split("slowest tests")[1].split("hungriest")[0]
    assert "test_more.py::test_param" in summary and "test_limits.py::" in summary, summary


def test_entry_point(stetho, tmp_path):
    """Installed, the plugin registers itself (pytest11): no -p needed."""
    py = shutil.which("python3")
    cp = run([py, "-c", "import importlib.metadata as m; print([e.value for e in "
              "m.entry_points().get('pytest11', [])] if hasattr(m.entry_points(), 'get') else "
              "[e.value for e in m.entry_points(group='pytest11')])"])
    if b"stetho.pytest_plugin" not in cp.stdout:
        pytest.skip("stetho is not pip-installed for python3 (.ci/run installs it)")
    cwd = project(tmp_path)
    env = dict(os.environ, STETHO=stetho)
    env.pop("PYTHONPATH", None)
    cp = run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--stetho", "test_more.py"],
             cwd=cwd, env=env, timeout=120)
    out = cp.stdout.decode(errors="replace")
    assert cp.returncode == 0 and "stetho: 5 slowest tests" in out, out


def test_third_party_suite(stetho, tmp_path):
    """more-itertools' own suite under the plugin, with the newest interpreter
    that has pytest: every test recorded, the slowest and hungriest named."""
    src = os.path.join(SDIST_DIR, THIRD_PARTY)
    if not os.path.isdir(os.path.join(src, "tests")):
        pytest.skip(f"{src} missing: tests/run fetches it (pip download --no-binary :all: "
                    "--no-deps more-itertools==10.5.0, unpacked there)")
    pythons = [i for i in INTERPRETERS if not i.missing and has_module(i, "pytest")]
    if not pythons:
        pytest.skip("no interpreter with pytest")
    python = max(pythons, key=lambda i: i.version)
    dst = tmp_path / THIRD_PARTY
    shutil.copytree(src, dst)
    rc, out = pytest_run(python, stetho, dst, "--stetho", "--stetho-top", "5", "tests",
                         timeout=900, PYTHONPATH=f"{dst}{os.pathsep}{REPO / 'python'}")
    assert rc == 0, out[-3000:]
    slow = out.split("5 slowest tests")[1].split("hungriest")[0]
    hungry = out.split("hungriest tests (peak memory) -")[1]
    assert len(re.findall(r"tests/test_(more|recipes)\.py::", slow)) == 5, slow
    assert len(re.findall(r"tests/test_(more|recipes)\.py::", hungry)) >= 5, hungry
    print(f"\nmore-itertools under {python.id}:\n" + out[out.index("---"):])
