"""Prints, as JSON, the process attributes a wrapper must not change:
argv, environment, cwd, open fds, signal mask, inherited signal
dispositions, process group / session, umask."""
import json
import os
import signal
import sys


def disposition(h):
    if h is signal.SIG_DFL:
        return "SIG_DFL"
    if h is signal.SIG_IGN:
        return "SIG_IGN"
    if h is None:
        return "None"
    return getattr(h, "__name__", repr(h))


handlers = {}
for s in sorted(signal.valid_signals()):
    if s in (signal.SIGKILL, signal.SIGSTOP):
        continue
    try:
        handlers[str(int(s))] = disposition(signal.getsignal(s))
    except (ValueError, OSError):
        pass

umask = os.umask(0)
os.umask(umask)

state = {
    "argv": sys.argv,
    "env": dict(os.environ),
    "cwd": os.getcwd(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "fd_targets": {fd: os.readlink("/proc/self/fd/" + fd) for fd in os.listdir("/proc/self/fd")
                   if os.path.exists("/proc/self/fd/" + fd)},
    "sigmask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "handlers": handlers,
    "pgid_is_sid_leader": os.getpgid(0) == os.getsid(0),
    "pgid_equals_parent_pgid": os.getpgid(0) == os.getpgid(os.getppid()),
    "umask": umask,
    "stdin_isatty": os.isatty(0),
}
print(json.dumps(state, sort_keys=True))
