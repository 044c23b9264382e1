"""The overhead benchmark's second workload: small objects made 40 frames deep."""
import sys


def leaf(n):
    return [(i, str(i)) for i in range(n)]


def down(depth, n):
    if depth == 0:
        return leaf(n)
    return down(depth - 1, n)


def main():
    total = 0
    for _ in range(100):
        total += len(down(40, 5000))
    return total


if __name__ == "__main__":
    print(main())
    sys.exit(0)
