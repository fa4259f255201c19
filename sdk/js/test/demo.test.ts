// The web chat demo (sdk/js/demo) as a person uses it, in Debian's chromium: two browser
// contexts sign in as alice and bob on the page `meridian dev` serves, and chat through
// its form fields and buttons only: a message typed by one appears for the other, the
// unread badge rises and clears on read, typing and read receipts show, recall removes a
// message on both sides, a group message shows "read by 1". Then the whole dev process
// (edge, nav, node) is killed mid-chat: what alice types meanwhile waits as "sending",
// bob's reloaded page shows its conversations and messages from IndexedDB and searches
// them with nothing reachable, and once the process is back both pages reconnect by
// themselves and the message arrives once. A photo and a file picked in the page are
// uploaded from the browser and shown to the peer, and still open for the peer once the app
// turns on private mode, where a bare link is refused. Screenshots go to dist/screenshots (or
// DEMO_SCREENSHOTS).
// covers: WEB-04, WEB-05, FILE-01

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, request as httpRequest, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { type Browser, type Page } from "puppeteer-core";

import { launchChromium, screenshotPath } from "./chromium.js";

import { Dev, Inbox } from "./dev.js";


/**
 * The page's host, as a CDN would be: every GET is fetched from the dev process and kept,
 * and served from what was kept while the process is down (so a page can reload then);
 * POSTs (the token helper) pass through. One origin throughout, so IndexedDB stays.
 */
async function servePage(upstream: URL): Promise<{ server: Server; origin: string }> {
  const kept = new Map<string, { status: number; type: string; body: Buffer }>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on("data", (c: Buffer) => body.push(c));
          answer.on("end", () => {
            const entry = {
              status: answer.statusCode ?? 502,
              type: String(answer.headers["content-type"] ?? ""),
              body: Buffer.concat(body),
            };
            if (req.method === "GET" && entry.status === 200) kept.set(req.url ?? "", entry);
            res.writeHead(entry.status, { "Content-Type": entry.type, ...(answer.headers.location && { Location: answer.headers.location }) }).end(entry.body);
          });
        },
      );
      forward.on("error", () => {
        const entry = req.method === "GET" ? kept.get(req.url ?? "") : undefined;
        if (entry) res.writeHead(entry.status, { "Content-Type": entry.type }).end(entry.body);
        else res.writeHead(502).end();
      });
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { server, origin: `http://127.0.0.1:${port}` };
}

/** The texts of the open conversation's rows, as the page shows them. */
function rows(page: Page): Promise<{ uid: string; own: boolean; text: string; status: string }[]> {
  return page.$$eval("#messages li", (lis) =>
    lis.map((li) => ({
      uid: (li as HTMLElement).dataset.uid ?? "",
      own: (li as HTMLElement).dataset.own === "true",
      text: li.querySelector(".text")?.textContent ?? "",
      status: li.querySelector(".status")?.textContent ?? "",
    })),
  );
}

/** Waits until `selector` matches an element whose text is `text`. */
async function waitForText(page: Page, selector: string, text: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    (selector, text) => Array.from(document.querySelectorAll(selector)).some((e) => e.textContent === text),
    { timeout },
    selector,
    text,
  );
}

async function signIn(page: Page, origin: string, userId: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForSelector("#signin:not([hidden]) #area option");
  await page.type("#user", userId);
  await page.click("#signin-button");
  await page.waitForSelector('#state[data-state="connected"]');
  assert.equal(await page.$eval("#me", (e) => e.textContent), userId);
}

/** Opens a conversation through the "open" form; resolves once its latest page is shown. */
async function open(page: Page, type: "1" | "3" | "4" | "10", target: string): Promise<void> {
  await page.select("#open-type", type);
  await page.$eval("#open-target", (e) => ((e as HTMLInputElement).value = ""));
  await page.type("#open-target", target);
  await page.click("#open-button");
  await page.waitForFunction((t) => document.body.dataset.opened === t, {}, `${type}/${target}/`);
}

async function say(page: Page, text: string): Promise<void> {
  await page.type("#text", text);
  await page.keyboard.press("Enter");
}

describe("the web chat demo in chromium", () => {
  let dev: Dev;
  let browser: Browser;
  let site: { server: Server; origin: string };
  const errors: string[] = [];

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1", "--sends-per-second", "1000"]);
    assert.ok(dev.endpoints.demo, "endpoints.json names the demo page");
    site = await servePage(new URL(dev.endpoints.demo));
    browser = await launchChromium();
  });

  async function person(userId: string): Promise<Page> {
    const page = await (await browser.createBrowserContext()).newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await signIn(page, site.origin, userId);
    return page;
  }

  after(async () => {
    await browser?.close();
    site?.server.close();
    await dev?.dispose();
  });

  test("two people chat, read, recall, and ride out a crash of the service", async () => {
    const alice = await person("alice");
    const bob = await person("bob");

    // alice writes; bob's list shows the conversation with one unread.
    await open(alice, "1", "bob");
    await say(alice, "hello bob");
    await waitForText(alice, "#messages li .status", "sent");
    const bobsEntry = '#conversations li[data-key="1/alice/"]';
    await waitForText(bob, `${bobsEntry} .unread`, "1");
    assert.equal(await bob.$eval(`${bobsEntry} .preview`, (e) => e.textContent), "hello bob");

    // bob opens it: the badge clears, and alice sees her message read.
    await bob.click(bobsEntry);
    await waitForText(bob, "#messages li .text", "hello bob");
    await bob.waitForFunction((s) => document.querySelector(s)?.textContent === "", {}, `${bobsEntry} .unread`);
    await waitForText(alice, "#messages li .status", "read");

    // bob types: alice sees it; then his answer arrives.
    await bob.type("#text", "hi");
    await waitForText(alice, "#typing", "bob is typing…");
    await bob.type("#text", " alice");
    await bob.keyboard.press("Enter");
    await waitForText(alice, "#messages li .text", "hi alice");
    assert.equal(await alice.$eval("#typing", (e) => e.textContent), "", "a message ends typing");
    await alice.screenshot({ path: screenshotPath("private-chat.png") });

    // alice recalls her first message: gone on both sides.
    await alice.click('#messages li[data-own="true"] .recall');
    await waitForText(alice, "#messages li.recalled .text", "message recalled");
    await waitForText(bob, "#messages li.recalled .text", "message recalled");

    // A group: bob is in it first, so alice's message is read by one member.
    await open(bob, "3", "team");
    await open(alice, "3", "team");
    await say(alice, "to the team");
    await waitForText(bob, "#messages li .text", "to the team");
    await waitForText(alice, "#messages li .status", "read by 1");
    await alice.screenshot({ path: screenshotPath("group-read-by.png") });

    // Back to the private chat; the service dies mid-chat.
    await alice.click('#conversations li[data-key="1/bob/"]');
    await waitForText(alice, "#messages li .text", "hi alice");
    await dev.stop("SIGKILL");
    await alice.waitForSelector('#state:not([data-state="connected"])');
    await say(alice, "typed while down");
    await waitForText(alice, "#messages li .status", "sending");

    // bob reloads with nothing reachable: his conversations and messages are local.
    await bob.reload();
    await bob.waitForFunction(() => document.body.dataset.archive === "shown");
    assert.notEqual(await bob.$eval("#state", (e) => e.getAttribute("data-state")), "connected");
    const offline = await bob.$$eval("#conversations li", (lis) => lis.map((li) => (li as HTMLElement).dataset.key));
    assert.deepEqual(new Set(offline), new Set(["1/alice/", "3/team/"]));
    await bob.click(bobsEntry);
    await waitForText(bob, "#messages li .text", "hi alice");
    assert.deepEqual(
      (await rows(bob)).map((r) => r.text),
      ["message recalled", "hi alice"],
      "the conversation as it was, receipts and recall notices not shown as messages",
    );
    await bob.type("#search-text", "TEAM");
    await bob.click("#search button");
    await waitForText(bob, "#search-results li .preview", "to the team");
    await bob.screenshot({ path: screenshotPath("offline-reload.png") });

    // The service returns: both pages reconnect by themselves; the message arrives once.
    await dev.restart();
    await alice.waitForFunction(
      () => !Array.from(document.querySelectorAll("#messages li .status")).some((e) => e.textContent === "sending"),
      { timeout: 30_000 },
    );
    await waitForText(bob, "#messages li .text", "typed while down", 30_000);
    await bob.waitForSelector('#state[data-state="connected"]');
    for (const page of [alice, bob]) {
      const shown = await rows(page);
      const uids = shown.map((r) => r.uid);
      assert.equal(new Set(uids).size, uids.length, `no message twice: ${JSON.stringify(shown)}`);
      assert.equal(shown.filter((r) => r.text === "typed while down").length, 1);
    }
    await bob.screenshot({ path: screenshotPath("after-restart.png") });
    assert.deepEqual(errors, []);
  });

  test("pins, cards, chatrooms, ultra-group channels and older pages", async () => {
    const carol = await person("carol");
    const dave = await person("dave");

    // 25 messages from an app's other client: the page shows the latest 20, then the rest.
    const erin = await dev.client("erin");
    await erin.connect();
    for (let i = 1; i <= 25; i++) await erin.sendText({ conversationType: 1, targetId: "dave" }, `note ${i}`);
    await waitForText(dave, '#conversations li[data-key="1/erin/"] .unread', "25");
    await open(dave, "1", "erin");
    let texts = (await rows(dave)).map((r) => r.text);
    assert.deepEqual(texts, Array.from({ length: 20 }, (_, i) => `note ${i + 6}`));
    await dave.click("#older");
    await waitForText(dave, "#messages li:first-child .text", "note 1");
    texts = (await rows(dave)).map((r) => r.text);
    assert.deepEqual(texts, Array.from({ length: 25 }, (_, i) => `note ${i + 1}`));

    // A card (an app-defined message type) reaches the other side as a card.
    const erinsInbox = new Inbox(erin);
    await dave.type("#text", "lunch?");
    await dave.click("#send-custom");
    const card = await erinsInbox.next((m) => m.objectName === "App:Card");
    assert.equal(JSON.parse(card.content).title, "lunch?");
    await waitForText(dave, "#messages li .card", "[card] lunch?");

    // Pinning puts a conversation first in the list, above a newer one.
    await open(dave, "1", "carol");
    await dave.click('#conversations li[data-key="1/erin/"]');
    await dave.waitForFunction(() => document.body.dataset.opened === "1/erin/");
    await dave.click("#pin");
    await dave.waitForSelector('#conversations li:first-child[data-key="1/erin/"] .pin');
    await open(carol, "1", "dave");
    await say(carol, "newer than erin's");
    await waitForText(dave, '#conversations li[data-key="1/carol/"] .preview', "newer than erin's");
    const order = await dave.$$eval("#conversations li", (lis) => lis.map((li) => (li as HTMLElement).dataset.key));
    assert.deepEqual(order.slice(0, 2), ["1/erin/", "1/carol/"], "pinned first");

    // A chatroom: online only, its latest messages on joining.
    await open(carol, "4", "lobby");
    await say(carol, "anyone in the lobby?");
    await waitForText(carol, "#messages li .status", "sent");
    await open(dave, "4", "lobby");
    await waitForText(dave, "#messages li .text", "anyone in the lobby?");
    await say(dave, "me");
    await waitForText(carol, "#messages li .text", "me");

    // An ultra group with a channel: what is said in it stays in it.
    await open(carol, "10", "guild");
    await dev.api("/ultragroup/channel/create.json", [["groupId", "guild"], ["busChannel", "raids"]]);
    await open(carol, "10", "guild"); // again, to list the new channel
    await open(dave, "10", "guild");
    assert.deepEqual(
      await dave.$$eval("#channels option", (os) => os.map((o) => (o as HTMLOptionElement).value)),
      ["", "raids"],
    );
    await carol.select("#channels", "raids");
    await carol.waitForFunction(() => document.body.dataset.opened === "10/guild/raids");
    await dave.select("#channels", "raids");
    await dave.waitForFunction(() => document.body.dataset.opened === "10/guild/raids");
    await say(carol, "raid at nine");
    await waitForText(dave, "#messages li .text", "raid at nine");
    await dave.select("#channels", "");
    await dave.waitForFunction(() => document.body.dataset.opened === "10/guild/");
    assert.ok(!(await rows(dave)).some((r) => r.text === "raid at nine"), "the default channel has its own messages");
    await dave.screenshot({ path: screenshotPath("ultra-group-channel.png") });
    assert.deepEqual(errors, []);
  });

  test("a photo and a file picked in the page reach the peer", async (t) => {
    const frank = await person("frank");
    const grace = await person("grace");
    await open(grace, "1", "frank");
    await open(frank, "1", "grace");

    // A real PNG, drawn by the browser.
    const png = await frank.evaluate(() => {
      const canvas = document.createElement("canvas");
      canvas.width = 640;
      canvas.height = 480;
      const g = canvas.getContext("2d")!;
      g.fillStyle = "#e85";
      g.fillRect(0, 0, 640, 480);
      g.fillStyle = "#258";
      g.fillRect(0, 320, 640, 160);
      return canvas.toDataURL("image/png").split(",")[1]!;
    });
    const dir = mkdtempSync(join(tmpdir(), "meridian-demo-files-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const photo = join(dir, "sunset.png");
    const notes = join(dir, "notes.txt");
    writeFileSync(photo, Buffer.from(png, "base64"));
    writeFileSync(notes, "bring sunscreen\n");

    const picker = (await frank.$("input#attach"))!;
    await picker.uploadFile(photo);
    // Acknowledged: "sent", or already "read" when grace's receipt came first.
    await frank.waitForFunction(() =>
      Array.from(document.querySelectorAll('#messages li[data-own="true"] .status')).some(
        (e) => e.textContent === "sent" || e.textContent === "read",
      ),
    );
    // grace's page shows the thumbnail the service made, and its link serves the original.
    await grace.waitForFunction(
      () => {
        const img = document.querySelector<HTMLImageElement>("#messages li img");
        return img !== null && img.complete && img.naturalWidth > 0;
      },
      { timeout: 15_000 },
    );
    const shown = await grace.$eval("#messages li img", (img) => ({
      width: (img as HTMLImageElement).naturalWidth,
      height: (img as HTMLImageElement).naturalHeight,
      href: (img.parentElement as HTMLAnchorElement).href,
    }));
    assert.deepEqual([shown.width, shown.height], [240, 180], "a thumbnail of at most 240 px a side");
    const original = await grace.evaluate(async (href) => {
      // Another origin: the file service answers any. Nothing is cached, so later fetches
      // ask the service again.
      const answer = await fetch(href, { cache: "no-store" });
      return { type: answer.headers.get("content-type"), size: (await answer.arrayBuffer()).byteLength };
    }, shown.href);
    assert.deepEqual(original, { type: "image/png", size: Buffer.from(png, "base64").byteLength });

    await picker.uploadFile(notes);
    await waitForText(grace, "#messages li a.file", "[file] notes.txt");
    const text = await grace.$eval(
      "#messages li a.file",
      async (a) => (await fetch((a as HTMLAnchorElement).href, { cache: "no-store" })).text(),
    );
    assert.equal(text, "bring sunscreen\n");
    // Found by its name locally; a photo's thumbnail is not searchable text.
    await grace.type("#search-text", "NOTES");
    await grace.click("#search button");
    await waitForText(grace, "#search-results li .preview", "[file] notes.txt");
    assert.equal(await grace.$$eval("#search-results li", (lis) => lis.length), 1);
    await grace.screenshot({ path: screenshotPath("photo-and-file.png") });

    // In the app's private mode a link alone is refused; the page fetches with grace's
    // token, so her clicks still save the file and open the photo.
    const set = await dev.admin("PUT", `/apps/${dev.app.appKey}/file-access`, { private: true });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const bare = await grace.$eval(
      "#messages li a.file",
      async (a) => (await fetch((a as HTMLAnchorElement).href, { cache: "no-store" })).status,
    );
    assert.equal(bare, 401, "a link alone is refused in private mode");

    const downloads = mkdtempSync(join(tmpdir(), "meridian-demo-downloads-"));
    t.after(() => rmSync(downloads, { recursive: true, force: true }));
    const cdp = await browser.target().createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow",
      downloadPath: downloads,
      browserContextId: grace.browserContext().id,
      eventsEnabled: true,
    });
    const saved = new Promise<void>((resolve, reject) =>
      cdp.on("Browser.downloadProgress", (e) => {
        if (e.state === "completed") resolve();
        if (e.state === "canceled") reject(new Error("the download was canceled"));
      }),
    );
    await grace.click("#messages li a.file");
    await saved;
    assert.equal(readFileSync(join(downloads, "notes.txt"), "utf8"), "bring sunscreen\n");

    const tab = browser.waitForTarget((t) => t.url().startsWith("blob:"));
    await grace.click("#messages li a.photo");
    const photoTab = (await (await tab).page())!;
    const opened = await photoTab.waitForFunction(() => {
      const img = document.images[0];
      return img?.complete && img.naturalWidth > 0 && [img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual(await opened.jsonValue(), [640, 480], "the original, not the thumbnail");
    assert.deepEqual(errors, []);
  });
});
