// The official @rongcloud/imlib-next (with @rongcloud/engine), as published on npm and
// unmodified, in Debian's chromium (puppeteer-core), initialised with `navigators` set to
// a meridian dev nav. Driven by tests/commercial_web.rs through lines of JSON:
//   env NAV, APP_KEY, TOKEN, PEER (the Meridian client's user), CHROMIUM
//   stdout: {"event":"connected","userId"}, {"event":"sent","messageUId"},
//           {"event":"received","messageUId","senderUserId","content"}, {"event":"error",…}
//   stdin:  one line "quit" ends it.
// A static server gives the page the packages' own ES modules from node_modules.

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join, normalize } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, "node_modules");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>imlib-next against Meridian</title>
<script type="importmap">
  { "imports": {
      "@rongcloud/engine": "/node_modules/@rongcloud/engine/index.esm.js",
      "@rongcloud/imlib-next": "/node_modules/@rongcloud/imlib-next/index.esm.js" } }
</script>
<script type="module">
  import * as RongIMLib from "@rongcloud/imlib-next";
  window.RongIMLib = RongIMLib;
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
      response.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
      return;
    }
    const file = normalize(join(HERE, path));
    if (!path.startsWith("/node_modules/@rongcloud/") || !file.startsWith(MODULES)) {
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
  await page.waitForFunction(() => "RongIMLib" in window);
  const options = {
    appkey: env("APP_KEY"),
    nav: env("NAV"),
    token: env("TOKEN"),
    peer: env("PEER"),
  };
  const connected = await page.evaluate(async ({ appkey, nav, token }) => {
    const im = window.RongIMLib;
    im.init({ appkey, navigators: [nav] });
    im.addEventListener(im.Events.MESSAGES, ({ messages }) => {
      for (const m of messages) {
        window.report({
          event: "received",
          messageUId: m.messageUId,
          senderUserId: m.senderUserId,
          content: m.content,
        });
      }
    });
    const answer = await im.connect(token);
    return { code: answer.code, userId: answer.data?.userId };
  }, options);
  if (connected.code !== 0) {
    report({ event: "error", where: "connect", error: connected });
    await quit(1);
  }
  report({ event: "connected", userId: connected.userId });

  const sent = await page.evaluate(async ({ peer }) => {
    const im = window.RongIMLib;
    const message = new im.TextMessage({ content: "hello from imlib-next" });
    const answer = await im.sendMessage(
      { conversationType: im.ConversationType.PRIVATE, targetId: peer },
      message,
    );
    return { code: answer.code, messageUId: answer.data?.messageUId };
  }, options);
  if (sent.code !== 0) {
    report({ event: "error", where: "send", error: sent });
    await quit(1);
  }
  report({ event: "sent", messageUId: sent.messageUId });

  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "quit") break;
  }
  await quit(0);
} catch (e) {
  report({ event: "error", where: "script", error: String(e?.stack ?? e) });
  await quit(1);
}
