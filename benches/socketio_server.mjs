// The npm socket.io server with the handlers `hub serve --relay rooms` has: join/leave are room
// operations answered through the ack, every other event goes to the sender's rooms
// (socket.to(rooms).emit) and its ack carries the recipient count. Prints "listening on ADDR".
import { createRequire } from "module";
import { createServer } from "http";
const require = createRequire(process.cwd() + "/");
const { Server } = require("socket.io");

const http = createServer();
const io = new Server(http, { transports: ["websocket", "polling"] });
io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack && ack({ join: room, members: io.of("/").adapter.rooms.get(room)?.size ?? 0 });
  });
  socket.onAny((event, ...args) => {
    if (event === "join" || event === "leave") return;
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    const rooms = [...socket.rooms].filter((r) => r !== socket.id);
    let n = 0;
    for (const r of rooms) n += (io.of("/").adapter.rooms.get(r)?.size ?? 1) - 1;
    if (rooms.length) socket.to(rooms).emit(event, ...args);
    if (ack) ack({ recipients: n });
  });
});
http.listen(0, "127.0.0.1", () => {
  const a = http.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
