"""fork() and a subprocess: the child allocates, prints its environment."""
import json
import os
import subprocess
import sys


def child_work():
    return bytearray(7_000_000)  # CHILD_LINE


def main():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        b = child_work()
        os.write(w, b"%d\n" % len(b))
        os._exit(0)
    os.close(w)
    got = os.read(r, 100)
    _, status = os.waitpid(pid, 0)
    out = subprocess.run(
        [sys.executable, "-c",
         "import os, json; b = bytearray(3_000_000); "
         "print(json.dumps(sorted(k for k in os.environ "
         "if k.startswith('STETHO') or k == 'LD_PRELOAD')))"],
        capture_output=True, text=True, check=True).stdout
    print(json.dumps({"child": got.decode().strip(), "status": status,
                      "sub_env": json.loads(out), "child_pid": pid}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
