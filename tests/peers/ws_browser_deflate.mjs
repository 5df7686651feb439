// Headless Chromium as a permessage-deflate client: loads http://ADDR/ (for the origin),
// then in the page opens a WebSocket to ws://ADDR/ and echoes text and binary messages of
// 0 B, 125 B, 64 KiB and 1 MiB. Prints `browser deflate: extensions=...` (what the browser
// says was negotiated) and `browser deflate: all echoes ok`.
// Usage: node ws_browser_deflate.mjs http://127.0.0.1:PORT/
import { launch } from "./chromium.mjs";

const url = process.argv[2];
const { context, close } = await launch();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  const result = await page.evaluate(async (wsUrl) => {
    const ws = new WebSocket(wsUrl);
    ws.binaryType = "arraybuffer";
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    const checks = [];
    for (const n of [0, 125, 64 * 1024, 1 << 20]) {
      const text = "chat message; ".repeat(Math.ceil(n / 14) + 1).slice(0, n);
      let got = next();
      ws.send(text);
      checks.push(`text ${n}: ${(await got) === text}`);
      const bin = new Uint8Array(n).map((_, i) => (i * 7 + Math.floor(i / 100)) % 251);
      got = next();
      ws.send(bin);
      const back = new Uint8Array(await got);
      checks.push(`binary ${n}: ${back.length === n && back.every((b, i) => b === bin[i])}`);
    }
    ws.close(1000);
    return { extensions: ws.extensions, checks };
  }, url.replace("http://", "ws://"));
  console.log(`browser deflate: extensions=${result.extensions}`);
  for (const c of result.checks) console.log(`browser deflate: ${c}`);
  if (result.checks.every((c) => c.endsWith("true"))) console.log("browser deflate: all echoes ok");
} finally {
  await close();
}
