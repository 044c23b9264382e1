"""Code objects that die and are replaced; deep recursion; a generator;
__init__ called by the type (3.13 runs it under a shim frame)."""
import sys


def via_exec():
    for i in range(200):
        ns = {}
        exec(f"def f_{i}():\n    return bytearray({100_000 + i})\n", ns)
        ns[f"f_{i}"]()
        del ns


def deep(n):
    if n == 0:
        return bytearray(2_000_000)  # DEEP_LINE
    return deep(n - 1)


def gen():
    yield bytearray(3_000_000)  # GEN_LINE


class Holder:
    def __init__(self):
        self.b = bytearray(5_000_000)  # INIT_LINE


def main():
    h = Holder()
    via_exec()
    deep(300)
    for _ in gen():
        pass
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
