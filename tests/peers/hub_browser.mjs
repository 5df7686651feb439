// Drives the hub page (served by `wirelab hub serve` at /) in headless Chromium (Debian's
// /usr/bin/chromium) with playwright-core: the page joins room "lobby"; wirelab's own
// `hub emit --ack` sends an event into the room from the terminal and must see the page's ack;
// then the page emits "hello" into the room (a `hub listen` started by the Rust test gets it).
// Each frame must be drawn in the sequence diagram (#seq) as it happens: an arrow in the right
// direction, labelled with its type, a time since the open, and its JSON on a click.
// Usage: node hub_browser.mjs http://127.0.0.1:PORT/ /path/to/wirelab
import { execFileSync } from "node:child_process";
import { launch } from "./chromium.mjs";

const [url, wirelab] = process.argv.slice(2);
const { context, close } = await launch();
const logHas = (t) => document.getElementById("log").textContent.includes(t);
// The diagram's rows for frames of `type` going `dir` ("in": hub -> page, "out": page -> hub).
const arrows = (page, dir, type) => page.$$eval(`#seq .row.${dir}[data-type="${type}"]`,
  (rows) => rows.map((r) => ({ label: r.querySelector(".label").textContent,
    t: r.querySelector(".t").textContent, raw: r.querySelector(".raw").textContent })));
const arrowFor = async (page, dir, type, text) => {
  await page.waitForFunction(([d, ty, tx]) => [...document.querySelectorAll(`#seq .row.${d}[data-type="${ty}"] .label`)]
    .some((l) => l.textContent.includes(tx)), [dir, type, text], { timeout: 10000 });
  const found = (await arrows(page, dir, type)).filter((a) => a.label.includes(text));
  if (!/^\+\d+\.\d ms$/.test(found[0].t)) throw new Error(`no time on ${found[0].label}: ${found[0].t}`);
  return found[0];
};
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
  const news = await arrowFor(page, "in", "event", '"news"');
  if (!news.label.startsWith("\u2190") || !JSON.parse(news.raw).data.includes("κόσμε")) {
    throw new Error(`the event's arrow: ${JSON.stringify(news)}`);
  }
  const ack = await arrowFor(page, "out", "ack", "ack");
  if (!ack.label.endsWith("\u2192") || JSON.parse(ack.raw).data !== "got it") {
    throw new Error(`the page's ack arrow: ${JSON.stringify(ack)}`);
  }
  // A click on the arrow shows its JSON.
  await page.click('#seq .row.in[data-type="event"] .label');
  const shown = await page.$eval('#seq .row.in[data-type="event"] .raw', (p) => !p.hidden);
  if (!shown) throw new Error("a click on the arrow did not show the frame's JSON");
  console.log("browser: diagram shows the event (hub -> page) and the ack (page -> hub)");
  if (!emitted.includes('ack from conn-') || !emitted.includes('"got it"')) {
    throw new Error("the terminal did not get the page's ack");
  }
  await page.fill("#event", "hello");
  await page.fill("#data", '{"from":"chromium"}');
  await page.selectOption("#to", "rooms");
  await page.click("#emit");
  await page.waitForFunction(logHas, '"type":"emitted"', { timeout: 10000 });
  const emit = await arrowFor(page, "out", "emit", '"hello"');
  if (!emit.label.includes("to rooms lobby")) throw new Error(`the emit arrow: ${emit.label}`);
  await arrowFor(page, "in", "emitted", "recipient(s)");
  await arrowFor(page, "in", "joined", "lobby");
  console.log("browser: diagram shows the page's emit and the hub's answer");
  console.log("browser: ok");
} finally {
  await close();
}
