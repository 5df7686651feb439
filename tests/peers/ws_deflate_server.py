"""Python `websockets` as a permessage-deflate echo server for wirelab's client.

Usage: ws_deflate_server.py CONFIG, one of:
  default        accepts the offer as it is
  server-reset   server_no_context_takeover
  client-reset   client_no_context_takeover (asks the client to reset its window)
  client-9       client_max_window_bits=9 (asks the client for a 512-byte window)
  server-9       server_max_window_bits=9
Prints `listening on 127.0.0.1:PORT`, echoes every message, runs until killed.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory as F

CONFIGS = {
    "default": F(),
    "server-reset": F(server_no_context_takeover=True),
    "client-reset": F(client_no_context_takeover=True),
    "client-9": F(client_max_window_bits=9),
    "server-9": F(server_max_window_bits=9),
}


async def handler(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed:
        pass


async def main(config: str) -> None:
    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None,
                     extensions=[CONFIGS[config]], ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
