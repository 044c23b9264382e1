#!/usr/bin/env python3
"""Record frame-walker test images: tests/data/walk-<version>.img + .txt.

For each interpreter given (default: every pyenv 3.9-3.13 and
/usr/bin/python3), start tests/programs/walk_target.py, let it write what
Python knows of its own stacks, then run `stetho dump --record` on it.  The
unit test tests/unit/test_walker.c replays each image through the walker and
compares with the text.  Rerun after changing the walker's reads.

usage: tools/record_images.py [--stetho build/stetho] [PYTHON ...]
"""
import argparse
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_pythons():
    found = []
    for minor in range(9, 14):
        found += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3")))[-1:]
    if os.path.exists("/usr/bin/python3"):
        found.append("/usr/bin/python3")
    return found


def record(stetho, python):
    tag = subprocess.check_output([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                  text=True).strip()
    if python.startswith("/usr/bin"):
        tag = "debian-" + tag
    out_txt = os.path.join(ROOT, "tests", "data", f"walk-{tag}.txt")
    out_img = os.path.join(ROOT, "tests", "data", f"walk-{tag}.img")
    target = os.path.join("tests", "programs", "walk_target.py")   # relative: stable paths
    p = subprocess.Popen([python, target, out_txt], cwd=ROOT, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "READY"
        subprocess.check_call([stetho, "dump", "--record", out_img, str(p.pid)],
                              stdout=subprocess.DEVNULL)
    finally:
        p.stdin.close()
        p.wait(10)
    print(f"{python}: {out_img} ({os.path.getsize(out_img)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stetho", default=os.path.join(ROOT, "build", "stetho"))
    ap.add_argument("pythons", nargs="*")
    args = ap.parse_args()
    for py in args.pythons or default_pythons():
        record(args.stetho, py)


if __name__ == "__main__":
    sys.exit(main())
