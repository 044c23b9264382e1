"""numpy's data buffers come from malloc/calloc, not Python's allocators."""
import sys

import numpy as np


def make_array():
    return np.ones(2_000_000)  # NUMPY_LINE


def main():
    a = make_array()
    print(a.nbytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
