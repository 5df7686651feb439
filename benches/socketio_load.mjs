// One Node load client (socket.io-client, WebSocket transport) for benches/socketio.sh.
// usage: node socketio_load.mjs URL SERVER_PID fanout CLIENTS EVENTS
//        node socketio_load.mjs URL SERVER_PID ack CLIENTS SECONDS
// Prints one JSON line: rate and the server's CPU time (utime+stime from /proc/PID/stat).
import { createRequire } from "module";
import { readFileSync } from "fs";
const require = createRequire(process.cwd() + "/");
const { io } = require("socket.io-client");

const [url, pid, mode, nArg, mArg] = process.argv.slice(2);
const n = Number(nArg), m = Number(mArg);
const tick = 100; // USER_HZ on Linux
const cpu = () => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / tick; // fields 14 and 15
};
const connect = () => new Promise((res, rej) => {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  s.once("connect", () => res(s));
  s.once("connect_error", rej);
});
const all = async (k) => { const out = []; for (let i = 0; i < k; i++) out.push(await connect()); return out; };

if (mode === "fanout") {
  const clients = await all(n);
  await Promise.all(clients.map((c) => c.timeout(10000).emitWithAck("join", "bench")));
  const [sender, ...rest] = clients;
  let left = rest.length * m;
  const done = new Promise((res) => rest.forEach((c) => c.on("tick", () => { if (--left === 0) res(); })));
  const c0 = cpu(), t0 = process.hrtime.bigint();
  for (let i = 0; i < m; i++) sender.emit("tick", i);
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9, used = cpu() - c0;
  const deliveries = rest.length * m;
  console.log(JSON.stringify({ type: "report", mode, clients: n, events: m, deliveries,
    seconds: +secs.toFixed(3), deliveries_per_s: Math.round(deliveries / secs),
    server_cpu_us_per_delivery: +(used * 1e6 / deliveries).toFixed(2) }));
  clients.forEach((c) => c.close());
} else {
  const clients = await all(n);
  let trips = 0;
  const until = Date.now() + m * 1000;
  const c0 = cpu(), t0 = process.hrtime.bigint();
  await Promise.all(clients.map(async (c) => {
    while (Date.now() < until) { await c.emitWithAck("ping", trips); trips++; }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9, used = cpu() - c0;
  console.log(JSON.stringify({ type: "report", mode, clients: n, round_trips: trips,
    seconds: +secs.toFixed(3), round_trips_per_s: Math.round(trips / secs),
    server_cpu_us_per_round_trip: +(used * 1e6 / trips).toFixed(2) }));
  clients.forEach((c) => c.close());
}
setTimeout(() => process.exit(0), 200);
