// An official commercial Web SDK, as published on npm and unmodified, in Debian's chromium
// (puppeteer-core), pointed at a meridian dev nav: SDK=next (@rongcloud/imlib-next with
// @rongcloud/engine 5.x, adapter next.js) or SDK=v2 (@rongcloud/imlib-v2 2.9 with its
// @rongcloud/engine 4.4, adapter v2.js). Driven by tests/commercial_web.rs through lines
// of JSON:
//   env SDK, NAV, APP_KEY, TOKEN, CHROMIUM (SDK_CONSOLE=1 copies the page's console to
//   stderr)
//   stdin:  one command a line: {"do":"send","to","text"}, {"do":"conversations"},
//           {"do":"history","with","count","timestamp","order"?}, {"do":"recall","to",
//           "messageUId","sentTime"}, {"do":"join","roomId"}, the server-side list's
//           {"do":"realtime","count","startTime","order"}, {"do":"realtimeTotal"},
//           {"do":"realtimeUnread","with":[…]}, {"do":"realtimeClear","with"},
//           {"do":"expand","messageUId","expansion"} (next only), {"do":"quit"}
//   stdout: {"event":"connected","userId"}, one answer per command (`event` is the
//           command's name: what the SDK answered), {"event":"received",…} for every
//           message, {"event":"expansion",…} for every expansion change and
//           {"event":"chatroomDestroyed","chatroomId"} (next only), {"event":"error",…}
//           when something fails.
// A static server gives the page the packages' own ES modules from node_modules, mapped
// by an import map, and the adapter, which calls the SDK's API for each command.

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join, normalize } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, "node_modules");

/** Where each SDK's modules are: the v2 SDK keeps its own engine (4.4) beside it. */
const SDKS = {
  next: {
    "@rongcloud/engine": "/node_modules/@rongcloud/engine/index.esm.js",
    "@rongcloud/imlib-next": "/node_modules/@rongcloud/imlib-next/index.esm.js",
  },
  v2: {
    "@rongcloud/engine": "/node_modules/@rongcloud/imlib-v2/node_modules/@rongcloud/engine/dist/index.esm.js",
    "@rongcloud/imlib-v2": "/node_modules/@rongcloud/imlib-v2/dist/index.esm.js",
  },
};

const html = (sdk) => `<!doctype html>
<meta charset="utf-8">
<title>${sdk} against Meridian</title>
<script type="importmap">${JSON.stringify({ imports: SDKS[sdk] })}</script>
<script type="module">
  import adapter from "/${sdk}.js";
  window.sdk = adapter;
</script>`;

const report = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function servePage() {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/") {
      response.writeHead(200, { "Content-Type": "text/html" }).end(html(env("SDK")));
      return;
    }
    const file = normalize(join(HERE, path));
    const adapter = path === "/next.js" || path === "/v2.js";
    if (!adapter && (!path.startsWith("/node_modules/@rongcloud/") || !file.startsWith(MODULES))) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "Content-Type": "text/javascript" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

const site = await servePage();
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  protocolTimeout: 30_000,
  // Chromium's sandbox refuses to run as root (CI runs as root).
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
const quit = async (code) => {
  await browser.close();
  site.server.close();
  process.exit(code);
};
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => report({ event: "error", where: "page", error: String(e) }));
  if (process.env.SDK_CONSOLE) {
    page.on("console", (m) => process.stderr.write(`page: ${m.text()}\n`));
  }
  await page.exposeFunction("report", report);
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => "sdk" in window);
  const options = { appkey: env("APP_KEY"), nav: env("NAV"), token: env("TOKEN") };
  const connected = await page.evaluate((options) => window.sdk.connect(options), options);
  if (connected.code !== 0) {
    report({ event: "error", where: "connect", error: connected });
    await quit(1);
  }
  report({ event: "connected", userId: connected.userId });

  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    if (command.do === "quit") break;
    const answer = await page.evaluate(async (command) => {
      const run = window.sdk[command.do];
      return run ? run(command) : { code: -1, error: `unknown command ${command.do}` };
    }, command);
    report({ event: command.do, ...answer });
  }
  await quit(0);
} catch (e) {
  report({ event: "error", where: "script", error: String(e?.stack ?? e) });
  await quit(1);
}
