// The official @rongcloud/imlib-next (with @rongcloud/engine), as published on npm and
// unmodified, in Debian's chromium (puppeteer-core), initialised with `navigators` set to
// a meridian dev nav. Driven by tests/commercial_web.rs through lines of JSON:
//   env NAV, APP_KEY, TOKEN, CHROMIUM (SDK_CONSOLE=1 copies the page's console to stderr)
//   stdin:  one command a line: {"do":"send","to","text"}, {"do":"conversations"},
//           {"do":"history","with","count","timestamp"}, {"do":"recall","to","messageUId",
//           "sentTime"}, {"do":"join","roomId"}, {"do":"quit"}
//   stdout: {"event":"connected","userId"}, one answer per command (`event` is the
//           command's name: what the SDK answered), {"event":"received",…} for every
//           message, {"event":"error",…} when something fails.
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
  const options = { appkey: env("APP_KEY"), nav: env("NAV"), token: env("TOKEN") };
  const connected = await page.evaluate(async ({ appkey, nav, token }) => {
    const im = window.RongIMLib;
    im.init({ appkey, navigators: [nav] });
    im.addEventListener(im.Events.MESSAGES, ({ messages }) => {
      for (const m of messages) {
        window.report({
          event: "received",
          conversationType: m.conversationType,
          targetId: m.targetId,
          messageType: m.messageType,
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

  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    if (command.do === "quit") break;
    const answer = await page.evaluate(async (command) => {
      const im = window.RongIMLib;
      const privately = (targetId) => ({ conversationType: im.ConversationType.PRIVATE, targetId });
      const done = (result, data) => ({ code: result.code, ...data });
      switch (command.do) {
        case "send": {
          const sent = await im.sendMessage(
            privately(command.to),
            new im.TextMessage({ content: command.text }),
          );
          return done(sent, { messageUId: sent.data?.messageUId, sentTime: sent.data?.sentTime });
        }
        case "conversations": {
          const list = await im.getConversationList();
          return done(list, {
            list: (list.data ?? []).map((c) => ({
              conversationType: c.conversationType,
              targetId: c.targetId,
              unreadMessageCount: c.unreadMessageCount,
              latestMessageUId: c.latestMessage?.messageUId,
            })),
          });
        }
        case "history": {
          const page = await im.getHistoryMessages(privately(command.with), {
            timestamp: command.timestamp,
            count: command.count,
            order: 0,
          });
          return done(page, {
            hasMore: page.data?.hasMore,
            list: (page.data?.list ?? []).map((m) => ({
              messageUId: m.messageUId,
              sentTime: m.sentTime,
              senderUserId: m.senderUserId,
            })),
          });
        }
        case "recall": {
          const recalled = await im.recallMessage(privately(command.to), {
            messageUId: command.messageUId,
            sentTime: command.sentTime,
          });
          return done(recalled);
        }
        case "join": {
          return done(await im.joinChatRoom(command.roomId, { count: 10 }));
        }
        default:
          return { code: -1, error: `unknown command ${command.do}` };
      }
    }, command);
    report({ event: command.do, ...answer });
  }
  await quit(0);
} catch (e) {
  report({ event: "error", where: "script", error: String(e?.stack ?? e) });
  await quit(1);
}
