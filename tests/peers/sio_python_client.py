"""python-socketio's client against `hub serve`: connect on the given transport, join a room,
emit with an ack, receive the relayed event. usage: sio_python_client.py URL TRANSPORT"""
import sys
import threading

import socketio

url, transport = sys.argv[1], sys.argv[2]
got = threading.Event()
received = []
sio = socketio.Client(reconnection=False)


@sio.on("chat message")
def on_chat(*args):
    received.append(list(args))
    got.set()


sio.connect(url, transports=[transport], wait_timeout=10)
print("transport", sio.transport())
joined = sio.call("join", "py-room", timeout=10)
assert joined["join"] == "py-room" and joined["members"] == 1, joined
answer = sio.call("chat message", {"from": "python"}, timeout=10)
assert answer == {"recipients": 1}, answer
assert got.wait(10), "no relayed event"
assert received[0][0] == {"from": "python"}, received
print("ok", answer, received[0])
sio.disconnect()
