"""The fuzzers of the readers of untrusted bytes (tests/fuzz/README.md) build
and run: each is compiled with clang's libFuzzer, ASan and UBSan exactly as
the README says, replays its checked-in corpus and fuzzes for a few
seconds more; any finding (a crash, a sanitizer report, a harness's own
abort) fails the test.  They are not in the meson build, and one of them
(fuzz_wire) once stopped compiling without anyone noticing: this keeps
them building and finding nothing on every change.  The long runs stay by
hand.  Once per CI run, in the plain half (they link the plain build's core
library); without clang and its libFuzzer, a loud skip.
"""
import os
import shutil
import subprocess

import pytest

from conftest import REPO, run

FUZZ = REPO / "tests" / "fuzz"
SECONDS = 8          # fuzzing after the corpus replay, per fuzzer
FLAGS = ["-g", "-O1", "-D_GNU_SOURCE", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all", "-I" + str(REPO / "src")]

# name -> (sources past the harness, libraries, corpus dir or None, -max_len)
FUZZERS = {
    "fuzz_capture": (["src/capture/reader.c", "src/util/kmap.c"], ["-lzstd"], "capture", 8192),
    "fuzz_elf": (["src/proc/elf.c"], [], None, 65536),
    "fuzz_wire": (["src/memory/memtrack.c", "src/wire/wire.c", "build/libstetho_core.a"],
                  ["-lzstd", "-lm", "-ldw", "-lelf", "-lz", "-lpthread"], "wire", 8192),
    "fuzz_linetable": (["src/cpython/linetable.c"], [], "linetable", 4096),
    "fuzz_ring": (["src/memory/ringread.c", "src/wire/wire.c"], [], "ring", 16384),
}


@pytest.fixture(scope="module")
def clang():
    if os.environ.get("STETHO_BUILDS", "build") != "build":
        pytest.skip("the fuzzers run once, in the plain half (they link build/'s core library)")
    cc = shutil.which("clang")
    if not cc:
        pytest.skip("MISSING TOOL: clang (apt-get install clang) -- the fuzzers were not built")
    probe = subprocess.run([cc, "-fsanitize=fuzzer", "-x", "c", "-", "-o", os.devnull],
                           input=b"#include <stdint.h>\n#include <stddef.h>\n"
                                 b"int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                                 b"{(void)d;(void)n;return 0;}\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if probe.returncode != 0:
        pytest.skip("MISSING TOOL: clang's libFuzzer (apt-get install clang) -- "
                    + probe.stderr.decode(errors="replace").strip().splitlines()[-1])
    return cc


@pytest.mark.parametrize("name", sorted(FUZZERS))
def test_fuzzer_builds_and_finds_nothing(clang, name, tmp_path):
    sources, libs, corpus, max_len = FUZZERS[name]
    exe = tmp_path / name
    cp = run([clang, *FLAGS, str(FUZZ / (name + ".c")), *[str(REPO / s) for s in sources],
              *libs, "-o", str(exe)], cwd=REPO, timeout=300)
    assert cp.returncode == 0, f"{name} does not build:\n" + cp.stderr.decode(errors="replace")

    work = tmp_path / "corpus"          # new finds go here, not into the checked-in corpus
    work.mkdir()
    dirs = [str(work)]
    if corpus:
        dirs.append(str(FUZZ / "corpus" / corpus))
        assert any((FUZZ / "corpus" / corpus).iterdir()), f"{name}: empty corpus"
    else:                               # fuzz_elf: real ELF files as seeds
        for seed in ("/bin/true", str(REPO / "build" / "libstetho_agent.so")):
            if os.path.exists(seed):
                shutil.copy(seed, work / os.path.basename(seed))
    cp = run([str(exe), f"-max_total_time={SECONDS}", f"-max_len={max_len}",
              "-rss_limit_mb=4096", "-print_final_stats=1", *dirs],
             cwd=tmp_path, timeout=SECONDS + 240)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, f"{name} found something:\n" + err[-4000:]
    runs = [line for line in err.splitlines() if line.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[-1].split(":")[-1]) > 0, err[-2000:]
