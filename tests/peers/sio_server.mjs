// A socket.io (npm) server for tests of `wirelab sio`: namespaces / and /admin, acks, a binary
// event, and connectionStateRecovery. Port from argv[2] (0 = free); prints "listening on PORT".
//   "chat message"  -> echoed to the sender
//   "with-ack"      -> acked with {got: [args]}
//   "bin" (bytes)   -> "bin-back" with bytes, and the ack carries the same bytes
//   "drop"          -> the server closes the transport, then emits "missed" to everyone: a
//                      client that reconnects with {pid, offset} gets it replayed
//   "bye"           -> server-side disconnect
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, {
  pingInterval: Number(process.env.PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT || 20000),
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
};
io.on("connection", onSocket(io.of("/")));
io.of("/admin").on("connection", onSocket(io.of("/admin")));
http.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening on ${http.address().port}`);
});
