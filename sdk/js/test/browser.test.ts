// The SDK in a real browser (Debian's chromium driven by puppeteer-core): the compiled ES
// modules load as they are (no bundler, no runtime dependency), nav is asked across
// origins (CORS), the browser's own WebSocket carries the session, and after a page
// reload the cursor kept in IndexedDB resumes exactly: what was missed, nothing twice.
// CHROMIUM names the browser (default /usr/bin/chromium).
// covers: WEB-01, WEB-02, WEB-03

import assert from "node:assert/strict";
import { type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import { type Browser, type Page } from "puppeteer-core";

import { launchChromium, serveSdkPage } from "./chromium.js";

import type { Ack, MeridianClient, Message } from "../src/index.js";
import type * as Sdk from "../src/index.js";
import { Dev, Inbox } from "./dev.js";

/** What the page keeps on `window`. */
interface PageGlobals {
  sdk: typeof Sdk;
  client: MeridianClient;
  received: Message[];
  synced: number;
}

/** Opens the page and starts a client there; resolves with what `connect()` said. */
async function startInPage(
  page: Page,
  options: { appKey: string; token: string; navs: string[]; deviceId: string },
): Promise<{ userId: string; edge: string; nav: string | undefined }> {
  await page.waitForFunction(() => "sdk" in globalThis);
  return page.evaluate(async (options) => {
    const w = globalThis as unknown as PageGlobals;
    w.received = [];
    w.synced = 0;
    w.client = new w.sdk.MeridianClient({ ...options, store: new w.sdk.IndexedDbStore() });
    w.client.on("message", (m) => {
      w.received.push(m);
    });
    w.client.on("synced", () => {
      w.synced += 1;
    });
    const connected = await w.client.connect();
    return { ...connected, nav: w.client.navSource };
  }, options);
}

describe("the SDK in chromium against meridian dev", () => {
  let dev: Dev;
  let browser: Browser;
  let site: { server: Server; origin: string };

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1", "--sends-per-second", "1000"]);
    site = await serveSdkPage();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    site?.server.close();
    await dev?.dispose();
  });

  test("a page chats through nav (CORS) and resumes from IndexedDB after a reload", async () => {
    const alice = await dev.client("alice");
    const aliceInbox = new Inbox(alice);
    await alice.connect();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${site.origin}/`);

    const options = {
      appKey: dev.app.appKey,
      token: await dev.token("bob"),
      navs: dev.endpoints.nav,
      deviceId: "bob-browser",
    };
    const started = await startInPage(page, options);
    assert.equal(started.userId, "bob");
    assert.equal(started.nav, dev.endpoints.nav[0], "the primary nav answered across origins");

    const first: Ack[] = [];
    for (const text of ["one", "two", "three"]) {
      first.push(await alice.sendText({ conversationType: 1, targetId: "bob" }, text));
    }
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).received.length >= 3);
    const got = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).received.map((m) => m.msgUID),
    );
    assert.deepEqual(got, first.map((a) => a.msgUID));

    // The page answers through the browser's WebSocket.
    const reply = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).client.sendText(
        { conversationType: 1, targetId: "alice" },
        "hi from the browser",
      ),
    );
    const heard = await aliceInbox.next((m) => m.msgUID === reply.msgUID);
    assert.equal(JSON.parse(heard.content).content, "hi from the browser");

    // The page goes away; messages sent meanwhile arrive after the reload, alone.
    await page.goto("about:blank");
    const missed: Ack[] = [];
    for (const text of ["four", "five"]) {
      missed.push(await alice.sendText({ conversationType: 1, targetId: "bob" }, text));
    }
    await page.goto(`${site.origin}/`);
    await startInPage(page, { ...options, token: await dev.token("bob") });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).synced > 0);
    const afterReload = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).received.map((m) => m.msgUID),
    );
    assert.deepEqual(afterReload, missed.map((a) => a.msgUID), "exactly what was missed");
    await page.evaluate(() => (globalThis as unknown as PageGlobals).client.close());
    assert.deepEqual(errors, []);
    await page.close();
  });
});
