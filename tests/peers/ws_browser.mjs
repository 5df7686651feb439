// Drives wirelab's demo page in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core: loads http://ADDR/, waits for the WebSocket to open, types a message,
// and waits for its echo to appear. Prints `browser: echo ok` on success.
// Usage: node ws_browser.mjs http://127.0.0.1:PORT/
import { launch } from "./chromium.mjs";

const url = process.argv[2];
const { context, close } = await launch();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("status").textContent === "open",
    null, { timeout: 10000 });
  console.log("browser: WebSocket open");
  const text = "hello from chromium κόσμε";
  await page.fill("#msg", text);
  await page.click("#send");
  await page.waitForFunction((t) => document.getElementById("log").textContent.includes("<- " + t),
    text, { timeout: 10000 });
  console.log("browser: echo ok");
} finally {
  await close();
}
