"""A server-like program for `stetho leaks`: it handles "requests" for
SECONDS (default 3), each parsing a payload into temporary objects.

MODE=leak (default): every request's response is remembered in a cache
that is never trimmed (remember()), so held memory grows at a steady rate.
MODE=steady: the cache keeps only the last 20 responses, so the program
allocates as much but holds steady.

At the end it prints the rate its cache grew at, as it measured it
itself: the bytes of the responses it remembered over the time between
the first and the last, and the time of the first (since its start).
"""
import os
import sys
import time

MODE = os.environ.get("MODE", "leak")
SECONDS = float(os.environ.get("SECONDS", "3"))
RESPONSE = 20000                # bytes per response
PERIOD = 0.01                   # a request every 10 ms


def parse(payload):
    # temporary objects: allocated, used, freed
    return [str(i) + payload for i in range(200)]


def respond(parsed):
    return bytes(RESPONSE - 33) + parsed[0][:0].encode()   # a RESPONSE-byte object


cache = []
kept = 0


def remember(response):
    global kept
    cache.append(response)
    kept += sys.getsizeof(response)
    if MODE == "steady" and len(cache) > 20:
        kept -= sys.getsizeof(cache.pop(0))


def main():
    start = time.monotonic()
    first = last = None
    grown = 0
    while time.monotonic() - start < SECONDS:
        response = respond(parse("x" * 50))
        remember(response)
        now = time.monotonic()
        if first is None:
            first = now
        last = now
        grown = kept
        time.sleep(PERIOD)
    rate = grown / (last - first) if MODE == "leak" else 0.0
    print(f"rate {rate:.0f} first {first - start:.3f} held {kept}")


main()
