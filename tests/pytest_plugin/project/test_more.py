"""More tests, so that pytest-xdist has something to spread."""
import time

import pytest

MB = 1 << 20


@pytest.mark.parametrize("n", range(6))
def test_param(n):
    x = [bytearray(MB) for _ in range(n + 1)]
    time.sleep(0.02 * n)
    assert len(x) == n + 1
