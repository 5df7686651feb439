"""Speaks the hub protocol (docs/hub-protocol.md) with the Python `websockets` library, as an
independent client. Usage: hub_check.py SCENARIO ws://HOST:PORT
Scenarios: broadcast, namespaces, ack, errors, redeliver, too_big. Prints `ok SCENARIO` on success;
any failed expectation raises (exit 1)."""

import asyncio
import json
import sys

from websockets.asyncio.client import connect

TIMEOUT = 5


async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def recv_type(ws, ty):
    """The next frame of type `ty`, failing on any `event` seen first (nothing unexpected)."""
    while True:
        m = await recv(ws)
        if m["type"] == ty:
            return m
        assert m["type"] not in ("event", "error"), f"unexpected {m} while waiting for {ty}"


async def client(base, path="/", client_id=None):
    url = base.rstrip("/") + path + (f"?client={client_id}" if client_id else "")
    ws = await connect(url)
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def send(ws, **msg):
    await ws.send(json.dumps(msg))


async def marker(ws, name="marker"):
    """Sends an event to ourselves and returns the first event that arrives: if anything
    else was on its way to us, it comes before the marker (the hub keeps order)."""
    await send(ws, type="emit", event=name, to="self")
    ev = await recv_type(ws, "event")
    await recv_type(ws, "emitted")
    return ev


async def broadcast(base):
    a, _ = await client(base, "/chat")
    b, _ = await client(base, "/chat")
    c, _ = await client(base, "/chat")
    await send(a, type="emit", event="hello", data={"n": 1}, to="broadcast")
    emitted = await recv_type(a, "emitted")
    assert emitted["recipients"] == 2 and emitted["online"] == 2, emitted
    for other in (b, c):
        ev = await recv_type(other, "event")
        assert ev["event"] == "hello" and ev["data"] == {"n": 1}, ev
        assert ev["from"].startswith("conn-"), ev
    first = await marker(a)
    assert first["event"] == "marker", f"the sender got its own broadcast: {first}"
    # Rooms, with and without the sender.
    await send(a, type="join", room="r")
    await recv_type(a, "joined")
    await send(b, type="join", room="r")
    await recv_type(b, "joined")
    await send(a, type="emit", event="to-room", to="rooms", rooms=["r"])
    assert (await recv_type(b, "event"))["room"] == "r"
    assert (await marker(a))["event"] == "marker", "socket.to(room) excludes the sender"
    assert (await marker(c))["event"] == "marker", "c is not in room r"
    await send(a, type="emit", event="with-me", to="rooms", rooms=["r"], include_self=True)
    assert (await recv_type(a, "event"))["event"] == "with-me"
    assert (await recv_type(b, "event"))["event"] == "with-me"
    for ws in (a, b, c):
        await ws.close()


async def namespaces(base):
    x, wx = await client(base, "/one")
    y, wy = await client(base, "/two")
    assert wx["namespace"] == "/one" and wy["namespace"] == "/two"
    await send(x, type="join", room="same-name")
    await recv_type(x, "joined")
    await send(y, type="join", room="same-name")
    await recv_type(y, "joined")
    await send(x, type="emit", event="only-one", to="namespace")
    ev = await recv_type(x, "event")
    assert ev["event"] == "only-one" and ev["namespace"] == "/one", ev
    await send(x, type="emit", event="room-one", to="rooms", rooms=["same-name"], include_self=True)
    assert (await recv_type(x, "event"))["event"] == "room-one"
    first = await marker(y)
    assert first["event"] == "marker", f"namespace /two got an event of /one: {first}"
    await x.close()
    await y.close()


async def ack(base):
    r, _ = await client(base, "/acks")
    e, _ = await client(base, "/acks")
    await send(r, type="join", room="desk")
    await recv_type(r, "joined")
    await send(e, type="emit", event="question", data="2+2?", to="rooms", rooms=["desk"], ack=7)
    ev = await recv_type(r, "event")
    assert ev["ack"] is True and isinstance(ev["id"], int), ev
    await send(r, type="ack", id=ev["id"], data=4)
    emitted = await recv_type(e, "emitted")
    assert emitted["ack"] == 7 and emitted["recipients"] == 1, emitted
    reply = await recv_type(e, "ack_reply")
    assert reply["ack"] == 7 and reply["data"] == 4 and reply["id"] == ev["id"], reply
    await r.close()
    await e.close()


async def errors(base):
    ws, _ = await client(base)
    cases = [
        ("{not json", "not JSON"),
        ('{"type":"shout"}', 'unknown message type "shout"'),
        ('{"type":"join"}', '"join" needs "room"'),
        ('[1]', "got an array"),
        ('{"type":"emit","event":"e","to":"moon"}', 'unknown target "moon"'),
    ]
    for frame, needle in cases:
        await ws.send(frame)
        m = await recv(ws)
        assert m["type"] == "error" and needle in m["error"], (frame, m)
        assert m["input"] == frame[:80], m
    await ws.send(b"\x01\x02")
    m = await recv(ws)
    assert m["type"] == "error" and "binary" in m["error"], m
    # The connection is still up.
    await send(ws, type="join", room="still-here")
    assert (await recv(ws)) == {"type": "joined", "room": "still-here"}
    await ws.close()


async def redeliver(base):
    """Run against a hub with --ack-timeout 0.3: an event not acked comes again, same id."""
    e, _ = await client(base, "/q")
    await send(e, type="emit", event="job", data=1, to="client", client="worker")
    assert (await recv_type(e, "emitted"))["queued"] == 1
    w, welcome = await client(base, "/q", "worker")
    assert welcome["queued"] == 1, welcome
    first = await recv_type(w, "event")
    again = await recv_type(w, "event")
    assert again["id"] == first["id"] and again["redelivery"] is True, (first, again)
    await send(w, type="ack", id=first["id"])
    await w.close()
    # Reconnect: nothing is waiting any more.
    w, welcome = await client(base, "/q", "worker")
    assert welcome["queued"] == 0, welcome
    await w.close()
    await e.close()


async def too_big(base):
    """Run against a hub with --max-message 1024: a bigger frame closes with 1009."""
    from websockets.exceptions import ConnectionClosed
    ws, _ = await client(base)
    await send(ws, type="emit", event="big", data="x" * 2000, to="self")
    try:
        m = await recv(ws)
        raise AssertionError(f"a 2 kB frame was accepted: {m}")
    except ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == 1009, e
    # A small one on a new connection is fine.
    ws, _ = await client(base)
    await send(ws, type="emit", event="small", data="x" * 500, to="self")
    assert (await recv_type(ws, "event"))["event"] == "small"
    await ws.close()


async def main():
    scenario, base = sys.argv[1], sys.argv[2]
    await {"broadcast": broadcast, "namespaces": namespaces, "ack": ack, "errors": errors,
           "redeliver": redeliver, "too_big": too_big}[scenario](base)
    print("ok", scenario)


asyncio.run(main())
