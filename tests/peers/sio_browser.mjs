// The chat page (`hub serve` at /socket.io/chat.html, on the real socket.io-client bundle served at
// /socket.io/socket.io.js) in two tabs of headless Chromium (/usr/bin/chromium, playwright-core):
// both upgrade to WebSocket, tab A joins a room, a message from A reaches B, B drops its
// connection, A sends while B is away, and B reconnects with socket.recovered === true and the
// missed message. Usage: node sio_browser.mjs http://127.0.0.1:PORT/socket.io/chat.html
import { launch } from "./chromium.mjs";

const [url] = process.argv.slice(2);
const { context, close } = await launch();
const text = (id) => document.getElementById(id).textContent;
const logHas = (t) => document.getElementById("log").textContent.includes(t);
const wait = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 15000 });
let ok = false;
try {
  const a = context.pages()[0] ?? (await context.newPage());
  const b = await context.newPage();
  await a.goto(url);
  await b.goto(url);
  for (const p of [a, b]) {
    await wait(p, () => document.getElementById("status").textContent === "connected (websocket)");
  }
  console.log("browser: both tabs connected and upgraded to websocket");
  await a.fill("#roomname", "lobby");
  await a.click("#join");
  await wait(a, () => document.getElementById("rooms").textContent === "lobby");
  console.log("browser: tab A joined lobby");
  await a.fill("#msg", "hello from A");
  await a.click("#chat button");
  await wait(b, logHas, "hello from A");
  await wait(a, logHas, "delivered to 2");
  console.log("browser: tab B got A's message; A's ack counted 2 recipients");
  await b.click("#drop");
  await wait(b, () => document.getElementById("status").textContent.startsWith("disconnected"));
  await a.fill("#msg", "while you were away");
  await a.click("#chat button");
  await wait(b, () => document.getElementById("recovered").textContent === "true");
  await wait(b, logHas, "while you were away");
  const got = await b.evaluate(() => window.chat.received);
  if (got.filter((m) => m === "while you were away").length !== 1) throw new Error("got " + JSON.stringify(got));
  console.log("browser: tab B reconnected with socket.recovered === true and the missed message");
  ok = true;
} catch (e) {
  console.log("browser: FAIL " + (e && e.stack || e));
} finally {
  await close();
}
console.log(ok ? "browser: ok" : "browser: failed");
process.exit(ok ? 0 : 1);
