"""Closes every descriptor it did not open and reuses the numbers."""
import os
import sys


def main(path):
    os.closerange(3, 4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for n in (100, 200, 500, 1000):
        os.dup2(fd, n)
    junk = [bytearray(100_000) for _ in range(200)]
    junk += [str(i) for i in range(100_000)]
    print(len(junk))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
