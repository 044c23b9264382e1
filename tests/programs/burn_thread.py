"""Burns CPU in burn_in_thread() on a non-main thread for argv[1] seconds."""
import sys
import threading
import time


def burn_in_thread(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1


t = threading.Thread(target=burn_in_thread, args=(float(sys.argv[1]),))
t.start()
t.join()
print("done")
