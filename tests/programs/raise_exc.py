"""Dies with an uncaught exception (status 1, traceback on stderr)."""
print("before the exception", flush=True)


def fail():
    raise ValueError("boom from raise_exc")


fail()
