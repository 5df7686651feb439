"""Python `websockets` as a permessage-deflate client against a WebSocket echo server.

Usage: ws_deflate_client.py ws://HOST:PORT/ OFFER [SIZE]
OFFER names the offer sent (the ones Autobahn 13.x tests, which kosoku 0.1.0 cannot run):
  default          permessage-deflate; client_max_window_bits
  server-reset     server_no_context_takeover                 (Autobahn 13.2)
  server-reset-9   server_no_context_takeover; server_max_window_bits=9   (13.5)
  server-reset-15  server_no_context_takeover; server_max_window_bits=15  (13.6)
  several          the three offers of 13.7 in one header
  client-reset     client_no_context_takeover
  server-8         server_max_window_bits=8
  bomb             default offer, then one message of SIZE zero bytes (third argument)
Prints `negotiated: VALUE` (the server's Sec-WebSocket-Extensions), one line per echo check,
and `python deflate client: all checks passed`; for `bomb`, `closed CODE`.
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory as F

OFFERS = {
    "default": [F(client_max_window_bits=True)],
    "server-reset": [F(server_no_context_takeover=True)],
    "server-reset-9": [F(server_no_context_takeover=True, server_max_window_bits=9)],
    "server-reset-15": [F(server_no_context_takeover=True, server_max_window_bits=15)],
    "several": [
        F(server_no_context_takeover=True, server_max_window_bits=9),
        F(server_no_context_takeover=True),
        F(),
    ],
    "client-reset": [F(client_no_context_takeover=True)],
    "server-8": [F(server_max_window_bits=8)],
    "bomb": [F(client_max_window_bits=True)],
}
SIZES = [0, 125, 64 * 1024, 1 << 20]
PATTERN = bytes((i * 7 + i // 100) % 251 for i in range(100_003))


async def main(url: str, offer: str) -> None:
    async with connect(url, max_size=None, extensions=OFFERS[offer], compression=None,
                       ping_interval=None) as ws:
        print(f"negotiated: {ws.response.headers.get('Sec-WebSocket-Extensions')}", flush=True)
        if offer == "bomb":
            n = int(sys.argv[3])
            try:
                await ws.send(bytes(n))
                await ws.recv()
                print(f"{n} zeros came back", flush=True)
            except ConnectionClosed:
                print(f"closed {ws.close_code}", flush=True)
            return
        for round_ in range(2):  # twice: the second round runs on a used window
            for n in SIZES:
                data = (PATTERN * (n // len(PATTERN) + 1))[:n]
                await ws.send(data)
                got = await ws.recv()
                assert got == data, f"binary {n}: got {len(got)} bytes back"
                text = ("chat message %d; " % n) * (n // 20) + "x" * (n % 20)
                text = text[:n]
                await ws.send(text)
                got = await ws.recv()
                assert got == text, f"text {n}: got {len(got)} chars back"
                print(f"round {round_}: echo {n} bytes text+binary ok", flush=True)
        await ws.send(["frag", "mented ", "κόσμε"])
        assert await ws.recv() == "fragmented κόσμε"
        print("fragmented message ok", flush=True)
    print("python deflate client: all checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
