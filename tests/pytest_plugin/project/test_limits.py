"""Tests that exceed and respect each stetho limit (see test_pytest_plugin.py)."""
import os
import time

import pytest

MB = 1 << 20
kept = []


def burn(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def big_list(n):
    return [bytearray(MB) for _ in range(n)]


@pytest.mark.limit_memory("24 MB")
def test_memory_over():
    x = big_list(40)
    assert len(x) == 40


@pytest.mark.limit_memory("24 MB")
def test_memory_under():
    x = big_list(8)
    assert len(x) == 8


def leak_here(n):
    kept.extend(bytearray(MB) for _ in range(n))


@pytest.mark.limit_leaks("1 MB")
def test_leaks_over():
    leak_here(3)


@pytest.mark.limit_leaks("1 MB")
def test_leaks_under():
    # freed again: neither these blocks nor pymalloc's arenas are leaks
    x = big_list(30)
    d = {i: str(i) * 3 for i in range(200000)}
    del x, d


@pytest.mark.limit_time(wall="0.3 s")
def test_wall_over():
    time.sleep(0.6)


@pytest.mark.limit_time(cpu="200 ms")
def test_cpu_over():
    burn(0.5)


@pytest.mark.limit_time(wall="5 s", cpu="2 s")
def test_time_under():
    burn(0.1)


def test_grows():
    x = big_list(int(os.environ.get("GROW_MB", "2")))
    assert x


def test_plain():
    assert sum(range(1000)) == 499500
