"""Run a command where perf events are refused, as a seccomp profile does.

Usage: no_perf.py COMMAND [ARGS...]
Installs a seccomp filter under which perf_event_open fails with EACCES
(what Docker's default profile and an unprivileged perf_event_paranoid
give), then execs COMMAND: it and its children inherit the filter.
x86-64 only, as stetho.
"""
import ctypes
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EACCES = 13
NR_PERF_EVENT_OPEN = 298
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06     # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


PROGRAM = [
    (LD_W_ABS, 0, 0, 4),                    # seccomp_data.arch
    (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
    (RET_K, 0, 0, SECCOMP_RET_ALLOW),       # another ABI: left alone
    (LD_W_ABS, 0, 0, 0),                    # seccomp_data.nr
    (JEQ_K, 0, 1, NR_PERF_EVENT_OPEN),
    (RET_K, 0, 0, SECCOMP_RET_ERRNO | EACCES),
    (RET_K, 0, 0, SECCOMP_RET_ALLOW),
]


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    insns = (SockFilter * len(PROGRAM))(*[SockFilter(*i) for i in PROGRAM])
    prog = SockFprog(len(PROGRAM), insns)
    for args in [(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                 (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0)]:
        if libc.prctl(*[ctypes.c_ulong(a) for a in args]) != 0:
            sys.exit(f"no_perf.py: prctl: {os.strerror(ctypes.get_errno())}")
    os.execvp(sys.argv[1], sys.argv[1:])


main()
