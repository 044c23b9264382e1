"""stetho: profile a block of code, a function, a test or a notebook cell.

    with stetho.profile(memory="sampled", interval_ms=10) as p:
        work()
    p.print(); p.stats(); p.save("x.stetho"); p.html("report.html")

The C engine does the work (docs/python-api.md): this package starts it on
its own process and reads its capture.
"""
from ._engine import StethoError
from ._profiler import Profiler, profile

__all__ = ["Profiler", "StethoError", "profile", "load_ipython_extension"]


def load_ipython_extension(ipython):
    """`%load_ext stetho`: the %stetho and %%stetho magics."""
    from ._magics import register
    register(ipython)
