"""IPython magics: `%load_ext stetho`, then

    %%stetho [--text] [--memory MODE] [--interval MS] [--threads all|current]
    <cell>                  the cell, profiled: its HTML report inline (an
                            iframe with the page in srcdoc, self-contained),
                            or with --text the call tree
    %stetho [options] statement     one line, the same way

The profile is a stetho.Profiler around the code, run in the notebook's
namespace; by default only the kernel's thread that runs the cell is
recorded (--threads all: the kernel's own threads too).
"""
import argparse
import html
import os
import re
import tempfile

from ._profiler import Profiler


def _parser():
    p = argparse.ArgumentParser(prog="%%stetho", add_help=False)
    p.add_argument("--text", action="store_true")
    p.add_argument("--memory", default="sampled")
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--threads", default="current", choices=("all", "current"))
    p.add_argument("--height", type=int, default=600)
    return p


_OPTION = re.compile(r"\s*(--text|--help)(?=\s|$)|\s*(--(?:memory|interval|threads|height))"
                     r"(?:=|\s+)(\S+)")


def _split(line):
    """(options, statement): the options are the leading --words; the
    statement is the rest of the line as typed."""
    opts, pos = [], 0
    while True:
        m = _OPTION.match(line, pos)
        if not m:
            return opts, line[pos:].strip()
        opts += [m.group(1)] if m.group(1) else [m.group(2), m.group(3)]
        pos = m.end()


def register(ipython):
    from IPython.core.magic import Magics, line_cell_magic, magics_class
    from IPython.display import HTML, display

    @magics_class
    class StethoMagics(Magics):
        @line_cell_magic
        def stetho(self, line, cell=None):
            opts, statement = _split(line)
            try:
                args = _parser().parse_args(opts)
            except SystemExit:
                print("usage: %%stetho [--text] [--memory exact|sampled|off] [--interval MS] "
                      "[--threads all|current] [--height PX]")
                return
            code = cell if cell is not None else statement
            if not code.strip():
                print("%stetho: nothing to profile")
                return
            # a file name IPython's tracebacks and stetho's tree can show
            filename = self.shell.compile.cache(code)
            compiled = compile(code, filename, "exec")
            p = Profiler(memory=args.memory, interval_ms=args.interval, threads=args.threads)
            p.start()
            try:
                exec(compiled, self.shell.user_ns)
            finally:
                p.stop()
                if args.text:
                    print(p.tree(), end="")
                else:
                    with tempfile.TemporaryDirectory(prefix="stetho-nb-") as d:
                        path = p.html(os.path.join(d, "report.html"))
                        with open(path, encoding="utf-8") as f:
                            page = f.read()
                    display(HTML(f'<div><iframe srcdoc="{html.escape(page, quote=True)}" '
                                 f'style="width:100%;height:{args.height}px;border:0" '
                                 'sandbox="allow-scripts"></iframe></div>'))

    ipython.register_magics(StethoMagics)
