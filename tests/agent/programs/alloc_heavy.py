"""The overhead benchmark's workload: 2M small tuples and 200k dicts."""
import sys


def build():
    items = [(i, i + 1) for i in range(2_000_000)]
    dicts = [{"a": i, "b": str(i)} for i in range(200_000)]
    return len(items) + len(dicts)


if __name__ == "__main__":
    print(build())
    sys.exit(0)
