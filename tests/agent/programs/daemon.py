"""Daemon threads still allocating when the main thread exits."""
import sys
import threading
import time


def spin():
    while True:
        x = [bytearray(1000) for _ in range(100)]
        del x


def main():
    for _ in range(3):
        threading.Thread(target=spin, daemon=True).start()
    time.sleep(0.3)
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
