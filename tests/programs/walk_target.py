"""A program with known, still stacks, for recording walker test images.

It parks a few threads, then writes what Python itself says about each
parked thread's stack (function -- qualified where the version has it --,
file, line, innermost first) to the path in argv[1] as text:
    thread <pthread ident>\t<thread name>
    <function>\t<file>\t<line>
and waits for stdin to close.  tools/record_images.py records stetho's reads of it.
"""
import sys
import threading

ready = threading.Event()
release = threading.Event()


def frame_name(code):
    return getattr(code, "co_qualname", code.co_name)


class Worker:
    def run(self, depth):
        if depth:
            return self.run(depth - 1)
        ready_count.release()
        release.wait()


def nested():
    def inner():
        gen = (x for x in block_in_generator())
        return list(gen)
    return inner()


def block_in_generator():
    ready_count.release()
    release.wait()
    yield 1


ready_count = threading.Semaphore(0)


def stacks():
    out = []
    names = {t.ident: t.name for t in threading.enumerate()}
    for tid, frame in sys._current_frames().items():
        if tid == threading.main_thread().ident:
            continue        # it moves on; the parked threads do not
        frames = []
        while frame is not None:
            frames.append({"function": frame_name(frame.f_code),
                           "file": frame.f_code.co_filename,
                           "line": frame.f_lineno})
            frame = frame.f_back
        out.append({"thread_ident": tid, "name": names[tid], "frames": frames})
    return out


def main():
    # named (one not in ASCII, one renamed): stetho reads the names too
    threads = [threading.Thread(target=Worker().run, args=(20,), daemon=True, name="worker"),
               threading.Thread(target=nested, daemon=True, name="before")]
    threads[1].name = "nested-\u00fcn\u00ef"
    for t in threads:
        t.start()
    for _ in threads:
        ready_count.acquire()
    here = stacks()
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        for t in here:
            f.write("thread %d\t%s\n" % (t["thread_ident"], t["name"]))
            for fr in t["frames"]:
                f.write("%s\t%s\t%d\n" % (fr["function"], fr["file"], fr["line"]))
    print("READY", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
