"""About 200 MB allocated in mixed sizes, the same every run."""
import random
import sys


def churn(rng):
    keep = []
    total = 0
    while total < 200_000_000:
        r = rng.random()
        if r < 0.6:
            n = rng.randrange(16, 512)
        elif r < 0.9:
            n = rng.randrange(512, 16_384)
        elif r < 0.99:
            n = rng.randrange(16_384, 262_144)
        else:
            n = rng.randrange(262_144, 4_000_000)
        b = bytearray(n)
        total += n
        if rng.random() < 0.1:
            keep.append(b)
        if len(keep) > 1000:
            keep = keep[500:]
    return total


def main():
    print(churn(random.Random(1234)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
