"""A real aiohttp server on loopback under a bounded local load, for --async.

Usage: python async_server.py REQUESTS SECONDS

Serves GET /slow, whose handler awaits asyncio.sleep(SLEEP) (a sleep) and
then a reply from a local backend server that answers after BACKEND seconds
(a socket read).  CLIENTS threads request /slow with urllib until REQUESTS
answers arrived or SECONDS passed, then the server stops and prints:
  DONE <json>  {"requests": answered, "sleep": SLEEP, "backend": BACKEND}
"""

import asyncio
import json
import sys
import threading
import time
import urllib.request

from aiohttp import web

SLEEP = 0.03
BACKEND = 0.03
CLIENTS = 4


async def backend_reply(reader, writer):
    await reader.read(1)
    await asyncio.sleep(BACKEND)
    writer.write(b"ok")
    await writer.drain()
    writer.close()


async def slow(request):
    await asyncio.sleep(SLEEP)
    reader, writer = await asyncio.open_connection("127.0.0.1", request.app["backend"])
    writer.write(b"q")
    answer = await reader.read(10)
    writer.close()
    return web.Response(text=answer.decode())


def client(url, until, count, lock):
    while time.monotonic() < until:
        with lock:
            if count[0] <= 0:
                return
            count[0] -= 1
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
        with lock:
            count[1] += 1


async def main(requests, seconds):
    backend = await asyncio.start_server(backend_reply, "127.0.0.1", 0)
    app = web.Application()
    app["backend"] = backend.sockets[0].getsockname()[1]
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/slow"
    until = time.monotonic() + seconds
    count, lock = [requests, 0], threading.Lock()
    threads = [threading.Thread(target=client, args=(url, until, count, lock), daemon=True)
               for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        await asyncio.sleep(0.05)
    await runner.cleanup()
    backend.close()
    print("DONE " + json.dumps({"requests": count[1], "sleep": SLEEP, "backend": BACKEND}),
          flush=True)


asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
