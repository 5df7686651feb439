"""A python-socketio server (aiohttp) for tests of `wirelab sio`: namespaces / and /admin,
"chat message" echoed to the sender, "with-ack" acked with {"got": [args]}. Port from argv[1]
(0 = free); prints "listening on PORT"."""
import asyncio
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*")
app = web.Application()
sio.attach(app)


@sio.on("connect", namespace="*")
async def connect(namespace, sid, environ, auth=None):
    await sio.emit("welcome", {"nsp": namespace, "auth": auth}, to=sid, namespace=namespace)


@sio.on("chat message", namespace="*")
async def chat(namespace, sid, *args):
    await sio.emit("chat message", list(args), to=sid, namespace=namespace)


@sio.on("with-ack", namespace="*")
async def with_ack(namespace, sid, *args):
    return {"got": list(args)}


async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
