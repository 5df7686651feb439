"""Python `websockets` as a client against a WebSocket echo server (wirelab ws serve --echo).

Usage: ws_client_check.py ws://HOST:PORT/
Sends text and binary messages of 0, 125, 126, 65535, 65536 and 1 MiB bytes, a fragmented
message, a ping; closes with 4000 and checks the server echoed the code. Prints one line per
check and `python client: all checks passed` at the end; exits non-zero on any mismatch.
"""
import asyncio
import sys

from websockets.asyncio.client import connect

SIZES = [0, 125, 126, 65535, 65536, 1 << 20]


async def main(url: str) -> None:
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        for n in SIZES:
            data = bytes(i % 251 for i in range(n))
            await ws.send(data)
            got = await ws.recv()
            assert got == data, f"binary {n}: got {len(got)} bytes back"
            text = "".join(chr(0x61 + i % 26) for i in range(n))
            await ws.send(text)
            got = await ws.recv()
            assert got == text, f"text {n}: got {len(got)} chars back"
            print(f"echo {n} bytes text+binary ok", flush=True)
        await ws.send(["frag", "mented ", "κόσμε"])
        got = await ws.recv()
        assert got == "fragmented κόσμε", got
        print("fragmented message ok", flush=True)
        pong = await ws.ping(b"python-ping")
        latency = await asyncio.wait_for(pong, 5)
        print(f"ping/pong ok ({latency * 1000:.2f} ms)", flush=True)
        await ws.close(code=4000, reason="python says bye")
        assert ws.close_code == 4000, f"server answered close with {ws.close_code}"
        print("close code 4000 echoed ok", flush=True)
    print("python client: all checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
