"""Python `websockets` as an echo server for wirelab's client.

Prints `listening on 127.0.0.1:PORT`, echoes every message; on the text "ping-me" it pings
the client, waits for the pong and answers "pong-ok". When a client closes it prints
`closed CODE REASON`. Runs until killed.
"""
import asyncio

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def handler(ws):
    try:
        async for msg in ws:
            if msg == "ping-me":
                pong = await ws.ping(b"server-ping")
                await asyncio.wait_for(pong, 5)
                await ws.send("pong-ok")
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass  # closed with a code other than 1000/1001: reported below
    finally:
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None,
                     ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
