"""Objects of one type replaced by objects of another at the same addresses,
for the type census: the census keeps each live object's type once read
(src/memory/memtrack.c), so a new object where an old one was must be read
anew, not counted under the old one's type.

Makes N Old objects and holds them HOLD seconds (several censuses read and
keep them), drops them, makes N New objects of the same size (pymalloc hands
the freed blocks out again: 37-95 % of them, by version) and holds them
HOLD seconds more; then prints the expected figures as JSON, with the share
of New objects that took an address an Old one had (the test needs many).
"""
import json
import os
import time

N = int(os.environ.get("N", "30000"))
HOLD = float(os.environ.get("HOLD", "1.5"))


class Old:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = self.b = None


class New:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = self.b = None


def make_old():
    objs = []
    for _ in range(N):
        objs.append(Old())
    return objs


def make_new():
    objs = []
    for _ in range(N):
        objs.append(New())
    return objs


def main():
    old = make_old()
    addresses = {id(o) for o in old}
    time.sleep(HOLD)
    del old
    new = make_new()
    reused = sum(id(o) in addresses for o in new) / N
    time.sleep(HOLD)
    print(json.dumps({"new": len(new), "reused": reused}))


main()
