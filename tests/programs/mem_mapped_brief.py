"""Anonymous mappings whose life is shorter than stetho's lag: touched and
unmapped at once, or kept while the program ends at once.

    mem_mapped_brief.py TRUTH.json [exit|finalize]

kept() maps 32 MiB and touches 24 MiB of it, kept to the end; brief()
then maps 48 MiB, touches 40 MiB of it and unmaps it at once, ten times
(the heap's peak is during one of them: kept's 24 and brief's 40 MiB);
cut() maps 16 MiB, touches it all, and unmaps its second half, kept to
the end with 8 MiB.  Then the program writes, per function, the bytes it
touched and still holds, to TRUTH.json, and ends at once: with os._exit
("exit": no finalization) or by returning ("finalize").  Under stetho's
test hook STETHO_TEST_MEMORY_LAG_MS (docs/memory.md) no tick of stetho
sees any of these pages: only the agent's own measures can count them.
"""
import json
import mmap
import os
import sys

from mem_mapped import MB, touch    # the same one-byte-per-page touch (its directory is sys.path[0])

KEEP = []


def kept():
    m = mmap.mmap(-1, 32 * MB)
    touch(m, 24 * MB)
    KEEP.append(m)


def brief():
    for _ in range(10):
        m = mmap.mmap(-1, 48 * MB)
        touch(m, 40 * MB)
        m.close()


def cut():
    m = mmap.mmap(-1, 16 * MB)
    touch(m, 16 * MB)
    m.resize(8 * MB)                    # mremap, shrinking in place
    KEEP.append(m)


def main():
    kept()
    brief()
    cut()
    truth = {"peak": {"kept": 24 * MB, "brief": 40 * MB, "cut": 0},
             "leaked": {"kept": 24 * MB, "brief": 0, "cut": 8 * MB}}
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    if sys.argv[2:] == ["exit"]:
        os._exit(0)


main()
