// A socket.io (npm) server for tests of `wirelab sio`: namespaces / and /admin, acks, a binary
// event, and connectionStateRecovery. Port from argv[2] (0 = free); prints "listening on PORT".
//   "chat message"  -> echoed to the sender
//   "with-ack"      -> acked with {got: [args]}
//   "bin" (bytes)   -> "bin-back" with bytes, and the ack carries the same bytes
//   "drop"          -> the server closes the transport, then emits "missed" to everyone: a
//                      client that reconnects with {pid, offset} gets it replayed
//   "bye"           -> server-side disconnect
//   "ask-later" ms  -> after ms, emitWithAck("question") to the sender (ASK_TIMEOUT ms, 2000);
//                      prints "acked question" or "no ack for question: REASON"
// With WS_PING=1 each WebSocket transport gets an RFC 6455 ping "hello" frame; the pong it
// answers with is printed as "ws pong PAYLOAD".
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, {
  pingInterval: Number(process.env.PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT || 20000),
  maxHttpBufferSize: Number(process.env.MAX_PAYLOAD || 1e6),
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
});
const onSocket = (nsp) => (socket) => {
  socket.emit("welcome", { nsp: nsp.name, auth: socket.handshake.auth, recovered: socket.recovered });
  socket.on("chat message", (...args) => socket.emit("chat message", ...args));
  socket.on("with-ack", (...args) => {
    const cb = args.pop();
    cb({ got: args });
  });
  socket.on("bin", (buf, cb) => {
    socket.emit("bin-back", Buffer.from([1, 2, 3]), { nested: Buffer.from(buf) });
    if (typeof cb === "function") cb(Buffer.from(buf));
  });
  socket.on("drop", () => {
    socket.conn.close();
    setTimeout(() => nsp.emit("missed", "while you were away"), 50);
  });
  socket.on("bye", () => socket.disconnect(true));
  socket.on("ask-later", (ms) => {
    setTimeout(async () => {
      try {
        await socket.timeout(Number(process.env.ASK_TIMEOUT || 2000)).emitWithAck("question", "why?");
        console.log("acked question");
      } catch (e) {
        console.log(`no ack for question: ${e.message}`);
      }
    }, Number(ms));
  });
};
const wsPing = (transport) => {
  if (process.env.WS_PING && transport.name === "websocket") {
    transport.socket.on("pong", (d) => console.log(`ws pong ${d}`));
    transport.socket.ping(Buffer.from("hello"));
  }
};
io.engine.on("connection", (conn) => {
  wsPing(conn.transport);
  conn.on("upgrade", wsPing);
});
io.on("connection", onSocket(io.of("/")));
io.of("/admin").on("connection", onSocket(io.of("/admin")));
http.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening on ${http.address().port}`);
});
