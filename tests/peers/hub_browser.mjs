// Drives the hub page (served by `wirelab hub serve` at /) in headless Chromium (Debian's
// /usr/bin/chromium) with playwright-core: the page joins room "lobby"; wirelab's own
// `hub emit --ack` sends an event into the room from the terminal and must see the page's ack;
// then the page emits "hello" into the room (a `hub listen` started by the Rust test gets it).
// Usage: node hub_browser.mjs http://127.0.0.1:PORT/ /path/to/wirelab
import { execFileSync } from "node:child_process";
import { launch } from "./chromium.mjs";

const [url, wirelab] = process.argv.slice(2);
const { context, close } = await launch();
const logHas = (t) => document.getElementById("log").textContent.includes(t);
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("status").textContent === "open",
    null, { timeout: 10000 });
  await page.waitForFunction(logHas, '"type":"welcome"', { timeout: 10000 });
  console.log("browser: WebSocket open, welcome received");
  await page.fill("#room", "lobby");
  await page.click("#join");
  await page.waitForFunction(logHas, '{"type":"joined","room":"lobby"}', { timeout: 10000 });
  console.log("browser: joined lobby");
  const ws = url.replace("http://", "ws://");
  const emitted = execFileSync(wirelab, ["hub", "emit", ws, "news", '"from the terminal κόσμε"',
    "--room", "lobby", "--ack", "--timeout", "10"], { encoding: "utf8" });
  process.stdout.write(emitted);
  await page.waitForFunction(logHas, 'event news: "from the terminal κόσμε"', { timeout: 10000 });
  console.log("browser: event from the terminal shown");
  if (!emitted.includes('ack from conn-') || !emitted.includes('"got it"')) {
    throw new Error("the terminal did not get the page's ack");
  }
  await page.fill("#event", "hello");
  await page.fill("#data", '{"from":"chromium"}');
  await page.selectOption("#to", "rooms");
  await page.click("#emit");
  await page.waitForFunction(logHas, '"type":"emitted"', { timeout: 10000 });
  console.log("browser: ok");
} finally {
  await close();
}
