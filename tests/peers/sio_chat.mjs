// The socket.io chat tutorial's flow, with the real socket.io-client, against `hub serve`.
// usage: node sio_chat.mjs URL MODE TRANSPORTS
//   MODE chat:  relay namespace: join, emit with ack (recipient counts), binary attachment,
//               unknown namespace -> connect_error, and the transport actually used
//   MODE rooms: relay rooms: only members of the sender's rooms receive
//   MODE recover: drops one client's transport, has another emit, asks (stdout "kill") for
//               the hub to be SIGKILLed and restarted, waits for "restarted" on stdin, then
//               reconnects and checks socket.recovered and the missed events
// TRANSPORTS: polling | websocket | both (polling, then upgrade)
import { createRequire } from "module";
import readline from "readline";
const require = createRequire(process.cwd() + "/");
const { io } = require("socket.io-client");

const [url, mode, tr] = process.argv.slice(2);
const transports = tr === "polling" ? ["polling"] : tr === "websocket" ? ["websocket"] : ["polling", "websocket"];
const upgrade = tr === "both";
const tag = Math.random().toString(36).slice(2, 8);
const fail = (m) => { console.log("FAIL " + m); process.exit(1); };
const check = (c, m) => { if (!c) fail(m); console.log("ok " + m); };
setTimeout(() => fail("timed out"), 20000).unref();
const client = (opts = {}) => io(url, { transports, upgrade, forceNew: true, ...opts });
const connected = (s) => new Promise((res, rej) => { s.once("connect", res); s.once("connect_error", rej); });
const once = (s, ev) => new Promise((res) => s.once(ev, (...a) => res(a)));
const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);
const upgraded = (s) => s.io.engine.transport.name === "websocket"
  ? Promise.resolve() : new Promise((res) => s.io.engine.once("upgrade", res));

async function chat() {
  const a = client(), b = client();
  await Promise.all([connected(a), connected(b)]);
  if (upgrade) await Promise.all([upgraded(a), upgraded(b)]);
  const want = tr === "polling" ? "polling" : "websocket";
  check(a.io.engine.transport.name === want, `transport is ${want}`);
  let j = await ack(a, "join", "lobby-" + tag);
  check(j.join === "lobby-" + tag && j.members === 1 && j.rooms.includes("lobby-" + tag), "join answered through the ack");
  j = await ack(b, "join", "lobby-" + tag);
  check(j.members === 2, "second member counted");
  const got = once(b, "chat message"), self = once(a, "chat message");
  const r = await ack(a, "chat message", "hi");
  check(r.recipients === 2, "ack carries the recipient count (io.emit reaches the sender too)");
  const [msg] = await got;
  check(msg === "hi", "the other tab got the message");
  const [mine] = await self;
  check(mine === "hi", "the sender got it too (relay namespace = io.emit)");
  const file = once(b, "file");
  a.emit("file", Buffer.from([1, 2, 3, 255]), "name.bin");
  const [buf, name] = await file;
  check(Buffer.isBuffer(buf) && buf.equals(Buffer.from([1, 2, 3, 255])) && name === "name.bin",
    "binary attachment relayed byte for byte");
  const bad = io(url + "nope", { transports, forceNew: true });
  const err = await once(bad, "connect_error");
  check(err[0].message === "Invalid namespace", "unknown namespace -> CONNECT_ERROR Invalid namespace");
  bad.close(); a.close(); b.close();
}

async function rooms() {
  const a = client(), b = client(), c = client();
  await Promise.all([connected(a), connected(b), connected(c)]);
  await ack(a, "join", "r1-" + tag); await ack(b, "join", "r1-" + tag);
  let cGot = false;
  c.on("news", () => { cGot = true; });
  const got = once(b, "news");
  const r = await ack(a, "news", 1);
  check(r.recipients === 1, "rooms relay: one other member in the sender's room");
  const [n] = await got;
  check(n === 1, "room member received");
  await ack(a, "leave", "r1-" + tag);
  const r2 = await ack(a, "news", 2);
  check(r2.recipients === 0, "after leave: no room, no recipients");
  check(!cGot, "a socket outside the room got nothing");
  a.close(); b.close(); c.close();
}

async function recover() {
  const a = client(), e = client();
  await Promise.all([connected(a), connected(e)]);
  check(a.recovered === false, "first connect is not recovered");
  const first = once(a, "chat message");
  await ack(e, "chat message", "one");
  const [m1, off1] = await first;
  check(m1 === "one" && typeof off1 === "string", "events carry an offset as their last argument");
  const oldId = a.id;
  const seen = [];
  a.on("chat message", (m) => seen.push(m));
  a.io.reconnection(false);
  const gone = once(a, "disconnect");
  a.io.engine.close();
  await gone;
  await ack(e, "chat message", "two");
  await ack(e, "chat message", "three");
  e.close();
  console.log("kill");
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((res) => rl.on("line", (l) => { if (l === "restarted") res(); }));
  rl.close();
  a.connect();
  await connected(a);
  await new Promise((r) => setTimeout(r, 300));
  check(a.recovered === true, "socket.recovered === true after the hub was SIGKILLed and restarted");
  check(a.id === oldId, "same socket id");
  check(JSON.stringify(seen) === JSON.stringify(["two", "three"]), "the missed events were replayed: " + JSON.stringify(seen));
  a.close();
}

const run = { chat, rooms, recover }[mode];
if (!run) fail("unknown mode " + mode);
run().then(() => { console.log("done"); setTimeout(() => process.exit(0), 300); }, (e) => fail(String(e && e.stack || e)));
