// The web console (`meridian dev` serves it) as people use it, in Debian's chromium: an
// operator signs in with the operator token, creates an app in SG, changes its settings
// through the form (read back through the admin API; a refused value shows the API's own
// words and changes nothing), makes a callback fail into a dead letter and retries it from
// the page; a developer signed in with one App Key is refused (403) every page of another
// app until they sign in with that key too; sensitive words, the broadcast budget and the
// user lookup show what the Server API says; messages sent through the Server API move the
// usage charts by as much as the usage API counts. Screenshots go to CONSOLE_SCREENSHOTS (the
// Rust test names a directory under the cargo target dir), else dist/screenshots/console.
// covers: CON-01, CON-02, CON-03

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { type Browser, type Page } from "puppeteer-core";

import { launchChromium } from "./chromium.js";

import { Dev } from "./dev.js";

const SCREENSHOTS =
  process.env.CONSOLE_SCREENSHOTS ??
  join(dirname(fileURLToPath(import.meta.url)), "..", "screenshots", "console");

/** A loopback port nothing listens on (bound, then closed): a callback URL that refuses. */
async function refusingPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Clicks a submit button and waits for the page the form leads to. */
async function submit(page: Page, selector: string): Promise<number> {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response?.status() ?? 0;
}

/** Submits a form that must be taken: 200, or the refusal the page shows. */
async function accepted(page: Page, selector: string): Promise<void> {
  const status = await submit(page, selector);
  const refusal = await page.$eval(".error", (e) => e.textContent).catch(() => "");
  assert.equal(status, 200, `refused: ${refusal}`);
}

/** Replaces an input's text, as a person selecting it all and typing would. */
async function retype(page: Page, selector: string, text: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.$eval(selector, (e) => ((e as HTMLInputElement).value = ""));
  await page.type(selector, text);
}

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (e) => (e.textContent ?? "").trim());
}

/** Polls `read` until it answers something, for events the test awaits from outside. */
async function eventually<T>(what: string, read: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the web console in chromium", () => {
  let dev: Dev;
  let browser: Browser;
  let consoleUrl: string;
  /** The app the operator creates: its App Key and Secret as the page shows them. */
  const created = { appKey: "", appSecret: "" };

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
    assert.ok(dev.endpoints.console, "endpoints.json names the console");
    consoleUrl = dev.endpoints.console.replace(/\/$/, "");
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await dev?.dispose();
  });

  async function operator(): Promise<Page> {
    const page = await (await browser.createBrowserContext()).newPage();
    await page.goto(`${consoleUrl}/`);
    await page.type("#operator-token", dev.endpoints.operatorToken);
    assert.equal(await submit(page, "#operator-signin"), 200);
    assert.equal(new URL(page.url()).pathname, "/apps");
    return page;
  }

  test("an operator creates an app in SG and changes its settings, read back through the admin API", async () => {
    const page = await operator();
    await page.type("#new-app-SG", "console-made");
    assert.equal(await submit(page, 'section[data-area="SG"] button[type="submit"]'), 200);
    assert.match(await text(page, ".flash"), /App console-made created in SG/);
    created.appKey = await text(page, "#app-key");
    created.appSecret = await text(page, "#app-secret");
    const made = await dev.admin("GET", `/apps/${created.appKey}`);
    assert.equal(made.status, 200);
    assert.equal(made.body.app.name, "console-made");
    assert.equal(made.body.app.home, "SG");
    assert.equal(made.body.app[made.body.env].appSecret, created.appSecret, "the page shows the secret");
    await page.screenshot({ path: join(SCREENSHOTS, "app-created.png"), fullPage: true });

    // Two settings changed through the form, seen by the admin API.
    await Promise.all([page.waitForNavigation(), page.click('a[href$="/settings"]')]);
    await retype(page, "#f-offlineWindowDays", "2");
    await page.click("#f-multiDevice");
    await retype(page, "#f-secureDomains", "https://chat.example.com");
    await accepted(page, "#save");
    assert.equal(await text(page, ".flash"), "Settings saved.");
    const settings = (await dev.admin("GET", `/apps/${created.appKey}/settings`)).body.settings;
    assert.equal(settings.offlineWindowDays, 2);
    assert.equal(settings.multiDevice, true);
    assert.deepEqual(settings.secureDomains, ["https://chat.example.com"]);
    assert.equal(await page.$eval("#f-offlineWindowDays", (e) => (e as HTMLInputElement).value), "2");

    // A value the API refuses: its own words beside the form, what was typed kept, nothing changed.
    await retype(page, "#f-offlineWindowDays", "9");
    assert.equal(await submit(page, "#save"), 400);
    const direct = await dev.admin("PUT", `/apps/${created.appKey}/settings`, { ...settings, offlineWindowDays: 9 });
    assert.equal(direct.status, 400);
    assert.equal(await text(page, ".error"), direct.body.error, "the page shows the API's error text");
    assert.equal(await page.$eval("#f-offlineWindowDays", (e) => (e as HTMLInputElement).value), "9");
    const after = (await dev.admin("GET", `/apps/${created.appKey}/settings`)).body.settings;
    assert.deepEqual(after, settings, "a refused form changes nothing");
    await page.screenshot({ path: join(SCREENSHOTS, "settings-refused.png"), fullPage: true });

    // Limits: the broadcast budget set here is what the broadcast page shows.
    await Promise.all([page.waitForNavigation(), page.click('a[href$="/limits"]')]);
    await retype(page, "#f-apiRates-broadcastsPerHour", "1");
    await accepted(page, "#save");
    const limits = (await dev.admin("GET", `/apps/${created.appKey}/limits`)).body.limits;
    assert.equal(limits.apiRates.broadcastsPerHour, 1);
    await Promise.all([page.waitForNavigation(), page.click('a[href$="/broadcast"]')]);
    assert.equal(await text(page, "#per-hour"), "1");
    assert.equal(await text(page, "#per-day"), "3 (default)");
    await retype(page, "#content", JSON.stringify({ content: "maintenance at noon" }));
    assert.equal(await submit(page, "#send-broadcast"), 200);
    assert.match(await text(page, ".flash"), /^Broadcast sent \(id \S+\)\.$/);
    // Once the budget is spent (one an hour now; the edge may hold the default of two
    // for its cache's second), the Server API's refusal is shown in its own words.
    let status = 200;
    for (let sent = 1; status === 200 && sent <= 3; sent++) {
      status = await submit(page, "#send-broadcast");
    }
    assert.equal(status, 400, "the budget refuses a broadcast");
    assert.match(await text(page, ".error"), /^rate limit exceeded/);
  });

  test("a callback that fails becomes a dead letter, retried from the page and counted", async () => {
    assert.ok(created.appKey, "the app of the first test");
    const page = await operator();
    await page.goto(`${consoleUrl}/apps/${created.appKey}/settings`);
    const refusing = `http://127.0.0.1:${await refusingPort()}/route`;
    await retype(page, "#f-callbacks-routingUrl", refusing);
    await retype(page, "#f-callbacks-maxAttempts", "1");
    await accepted(page, "#save");
    const callbacks = (await dev.admin("GET", `/apps/${created.appKey}/settings`)).body.settings.callbacks;
    assert.equal(callbacks.routingUrl, refusing);
    assert.equal(callbacks.maxAttempts, 1);

    await dev.api(
      "/message/private/publish.json",
      [
        ["fromUserId", "ann"],
        ["toUserId", "ben"],
        ["objectName", "RC:TxtMsg"],
        ["content", JSON.stringify({ content: "routed nowhere" })],
      ],
      created,
    );
    const deadLetters = `/apps/${created.appKey}/callbacks/dead-letters`;
    await eventually("the routing callback's dead letter", async () => {
      const { body } = await dev.admin("GET", deadLetters);
      return body.deadLetters.length === 1 ? body : undefined;
    });

    await page.goto(`${consoleUrl}/apps/${created.appKey}/dead-letters`);
    assert.equal(await text(page, "#dead-count"), "1");
    assert.match(await text(page, "#dead-letters tbody"), /routing/);
    await page.screenshot({ path: join(SCREENSHOTS, "dead-letters.png"), fullPage: true });
    assert.equal(await submit(page, "#retry"), 200);
    assert.equal(await text(page, ".flash"), "1 dead letter(s) put back in the outbox.");
    // Back in the outbox, tried once more against the refusing URL, dead again.
    await eventually("the retried callback dead again", async () => {
      const { body } = await dev.admin("GET", deadLetters);
      return body.deadLetters.length === 1 && body.waiting === 0 ? body : undefined;
    });
  });

  test("a developer of one app is refused another app's pages (403) until they sign in with its key", async () => {
    assert.ok(created.appKey, "the app of the first test");
    const page = await (await browser.createBrowserContext()).newPage();
    await page.goto(`${consoleUrl}/signin`);
    await page.type("#app-key", dev.app.appKey);
    await page.type("#app-secret", "wrongsecret1");
    assert.equal(await submit(page, "#developer-signin"), 401);
    assert.equal(await text(page, ".error"), "No app has that App Key and Secret.");

    await retype(page, "#app-key", dev.app.appKey);
    await page.type("#app-secret", dev.app.appSecret);
    assert.equal(await submit(page, "#developer-signin"), 200);
    assert.equal(await text(page, "#app-key"), dev.app.appKey);
    const listed = await page.goto(`${consoleUrl}/apps`);
    assert.equal(listed?.status(), 200);
    assert.deepEqual(await page.$$eval("table a", (as) => as.map((a) => a.textContent)), [dev.app.appKey]);

    const other = created.appKey;
    const prodOfSameApp = dev.endpoints.areas.SG!.apps.find((a) => a.env === "prod")!.appKey;
    for (const path of [`/apps/${other}`, `/apps/${other}/settings`, `/apps/${other}/dead-letters`,
      `/apps/${other}/usage`, `/apps/${prodOfSameApp}`, "/areas"]) {
      const response = await page.goto(`${consoleUrl}${path}`);
      assert.equal(response?.status(), 403, path);
      assert.match(await text(page, ".error"), /not in your session's scope/, path);
    }
    await page.screenshot({ path: join(SCREENSHOTS, "developer-403.png"), fullPage: true });

    // Signing in with the other key adds that app to the same session.
    await page.goto(`${consoleUrl}/signin`);
    await page.type("#app-key", created.appKey);
    await page.type("#app-secret", created.appSecret);
    assert.equal(await submit(page, "#developer-signin"), 200);
    assert.equal((await page.goto(`${consoleUrl}/apps/${other}/settings`))?.status(), 200);
    assert.equal((await page.goto(`${consoleUrl}/apps/${dev.app.appKey}`))?.status(), 200);
  });

  test("a developer keeps sensitive words and looks a user up as the Server API sees them", async () => {
    const page = await (await browser.createBrowserContext()).newPage();
    await page.goto(`${consoleUrl}/signin`);
    await page.type("#app-key", dev.app.appKey);
    await page.type("#app-secret", dev.app.appSecret);
    assert.equal(await submit(page, "#developer-signin"), 200);

    await page.goto(`${consoleUrl}/apps/${dev.app.appKey}/sensitive-words`);
    await page.type("#word", "darn");
    await page.type("#replace", "***");
    assert.equal(await submit(page, 'form[action$="/sensitive-words"] button'), 200);
    const words = (await dev.api("/sensitiveword/list.json", [])).words as { word: string; replaceWord: string }[];
    assert.deepEqual(words.map((w) => [w.word, w.replaceWord]), [["darn", "***"]]);
    assert.match(await text(page, "#words tbody"), /darn\s*\*\*\*/);

    await dev.api("/user/getToken.json", [["userId", "lookup-user"], ["name", "Lookup User"]]);
    await dev.api("/user/block.json", [["userId", "lookup-user"], ["minute", "60"]]);
    await page.goto(`${consoleUrl}/apps/${dev.app.appKey}/users`);
    await page.type("#user-id", "lookup-user");
    assert.equal(await submit(page, "#lookup"), 200);
    assert.equal(await text(page, "#online"), "offline");
    assert.match(await text(page, "#ban"), /^banned until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(await text(page, "#tokens"), "every token issued is valid");
    assert.equal(await submit(page, 'form[action$="/expire-tokens"] button'), 200);
    assert.match(await text(page, "#tokens"), /^tokens issued before .* are refused$/);
    const user = (await dev.admin("GET", `/apps/${dev.app.appKey}/users/lookup-user`)).body.user;
    assert.ok(user.tokensValidAfterMs > 0, "the admin API sees the tokens expired");
    await page.screenshot({ path: join(SCREENSHOTS, "user-lookup.png"), fullPage: true });
  });

  test("messages sent through the Server API move the usage charts by what the usage API counts", async () => {
    const page = await operator();
    const usage = `${consoleUrl}/apps/${dev.app.appKey}/usage?by=hour`;
    /** A chart's figure as the page shows it. */
    const shown = (metric: string) =>
      page.$eval(`figure[data-metric="${metric}"]`, (f) => Number((f as HTMLElement).dataset.total));
    await page.goto(usage);
    const before = { messages: await shown("messages"), api: await shown("api-calls") };

    for (const n of [1, 2, 3]) {
      await dev.api("/message/private/publish.json", [
        ["fromUserId", "chart-a"],
        ["toUserId", "chart-b"],
        ["objectName", "RC:TxtMsg"],
        ["content", JSON.stringify({ content: `counted ${n}` })],
      ]);
    }
    // Messages are counted as they are stored; the edge sends its API call counts every
    // two seconds: reload until both charts moved and the three calls are in the table
    // (the API chart alone can move by the earlier tests' calls, sent late).
    const publishes = /\/message\/private\/publish\.json\s*3\s*0/;
    await eventually("the charts to move", async () => {
      await page.goto(usage);
      const messages = await shown("messages");
      const api = await shown("api-calls");
      const moved = messages >= before.messages + 3 && api >= before.api + 3;
      return moved && publishes.test(await text(page, "#api-by-path")) ? true : undefined;
    });
    // What the page draws is what the usage API answers (nothing is sent meanwhile).
    const answered = (await dev.admin("GET", `/apps/${dev.app.appKey}/usage?by=hour`)).body;
    const sum = (pick: (b: any) => number) => answered.buckets.reduce((n: number, b: any) => n + pick(b), 0);
    assert.equal(await shown("messages"), sum((b) => b.messages.total));
    assert.equal(await shown("api-calls"), sum((b) => b.apiCalls.total));
    assert.equal(await shown("messages"), before.messages + 3, "exactly the three messages");
    assert.match(await text(page, "#api-by-path"), publishes);
    assert.ok(Number(await text(page, "#storage tfoot td")) > 0, "storage figures shown");
    await page.screenshot({ path: join(SCREENSHOTS, "usage.png"), fullPage: true });

    // By day: the same messages in today's bucket.
    await page.goto(`${consoleUrl}/apps/${dev.app.appKey}/usage?by=day`);
    assert.equal(await shown("messages"), before.messages + 3);
  });

  test("every record's form sent untouched changes nothing, and moderation rules and APNs keys go in as JSON", async () => {
    const page = await operator();
    const key = created.appKey;
    for (const [slug, field, title] of [
      ["settings", "settings", "Settings"],
      ["limits", "limits", "Limits"],
      ["file-limits", "fileLimits", "File limits"],
      ["file-access", "fileAccess", "File access"],
      ["push-style", "pushStyle", "Push style"],
      ["push-vendors", "pushVendors", "Push vendors"],
      ["sdk-features", "sdkFeatures", "SDK features"],
    ] as const) {
      const before = (await dev.admin("GET", `/apps/${key}/${slug}`)).body[field];
      await page.goto(`${consoleUrl}/apps/${key}/${slug}`);
      await accepted(page, "#save");
      assert.equal(await text(page, ".flash"), `${title} saved.`);
      assert.deepEqual((await dev.admin("GET", `/apps/${key}/${slug}`)).body[field], before, slug);
    }

    // A switch is a checkbox: ticked and saved, the API has it on.
    await page.goto(`${consoleUrl}/apps/${key}/sdk-features`);
    await page.click("#f-realtimeConversations");
    await accepted(page, "#save");
    const features = (await dev.admin("GET", `/apps/${key}/sdk-features`)).body.sdkFeatures;
    assert.equal(features.realtimeConversations, true);
    await page.goto(`${consoleUrl}/apps/${key}/file-access`);
    await page.click("#f-private");
    await accepted(page, "#save");
    assert.equal((await dev.admin("GET", `/apps/${key}/file-access`)).body.fileAccess.private, true);

    // A moderation rule and an app identifier with APNs credentials, one JSON object a line.
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const rule = { url: "https://mod.example.com/check", objectNames: ["RC:TxtMsg"], defaultAction: "block" };
    const apns = { teamId: "ABCDE12345", keyId: "KEY1234567", privateKeyPem: pem, bundleId: "com.example.chat" };
    await page.goto(`${consoleUrl}/apps/${key}/settings`);
    await retype(page, "#f-callbacks-moderation", JSON.stringify(rule));
    await retype(page, "#f-push-apps", JSON.stringify({ appId: "com.example.chat", apns }));
    await accepted(page, "#save");
    const stored = (await dev.admin("GET", `/apps/${key}/settings`)).body.settings;
    assert.equal(stored.callbacks.moderation.length, 1);
    assert.equal(stored.callbacks.moderation[0].url, rule.url);
    assert.equal(stored.callbacks.moderation[0].defaultAction, "block");
    assert.equal(stored.push.apps[0].apns.teamId, "ABCDE12345");
    assert.equal(stored.push.apps[0].apns.privateKeyPem, "<redacted>");
    // The page shows the key redacted; sent back as it is, the stored key stays.
    await page.goto(`${consoleUrl}/apps/${key}/settings`);
    const shown = await page.$eval("#f-push-apps", (e) => (e as HTMLTextAreaElement).value);
    assert.ok(shown.includes("<redacted>") && !shown.includes("PRIVATE KEY"), shown);
    await accepted(page, "#save");
    assert.deepEqual((await dev.admin("GET", `/apps/${key}/settings`)).body.settings, stored);
    // A key that is no key: refused in the API's words.
    await retype(page, "#f-push-apps", JSON.stringify([{ appId: "com.example.chat", apns: { ...apns, privateKeyPem: "nope" } }]));
    assert.equal(await submit(page, "#save"), 400);
    assert.match(await text(page, ".error"), /privateKeyPem/);
    assert.deepEqual((await dev.admin("GET", `/apps/${key}/settings`)).body.settings, stored);
    // Text that is not JSON never reaches the API.
    await retype(page, "#f-push-apps", "[{");
    assert.equal(await submit(page, "#save"), 400);
    assert.match(await text(page, ".error"), /^push\.apps is not JSON/);
  });

  test("an operator imports an export file into an app and reads the area catalog", async (t) => {
    const page = await operator();
    const dir = mkdtempSync(join(tmpdir(), "meridian-console-import-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "export.ndjson");
    writeFileSync(
      file,
      [
        { kind: "user", userId: "imported-1", name: "Imported One", portraitUri: "" },
        { kind: "user", userId: "imported-2", name: "Imported Two", portraitUri: "" },
      ]
        .map((line) => JSON.stringify(line))
        .join("\n") + "\n",
    );
    await page.goto(`${consoleUrl}/apps/${created.appKey}`);
    const input = await page.$("input#import-file");
    assert.ok(input, "the import form");
    await input.uploadFile(file);
    await accepted(page, 'form[action$="/import"] button');
    assert.equal(await text(page, ".flash"), "Imported 2 users, 0 groups, 0 ultraGroups, 0 messages.");
    const user = await dev.admin("GET", `/apps/${created.appKey}/users/imported-2`);
    assert.equal(user.body.user.name, "Imported Two");

    const entry = {
      nav: { primary: "https://nav.na.example.com", backup: "https://nav2.na.example.com" },
      api: { primary: "https://api.na.example.com", backup: "https://api2.na.example.com" },
      edges: { static: ["edge1.na.example.com:443"] },
    };
    assert.equal((await dev.admin("PUT", "/areas/NA", entry)).status, 200);
    await page.goto(`${consoleUrl}/areas`);
    assert.match(await text(page, "main"), /https:\/\/api\.na\.example\.com/);
    assert.equal((await dev.admin("DELETE", "/areas/NA")).status, 200);
  });

  test("a rotated secret is shown, and a developer who signed in with the old one must sign in again", async () => {
    const developer = await (await browser.createBrowserContext()).newPage();
    await developer.goto(`${consoleUrl}/signin`);
    await developer.type("#app-key", created.appKey);
    await developer.type("#app-secret", created.appSecret);
    await accepted(developer, "#developer-signin");

    const page = await operator();
    await page.goto(`${consoleUrl}/apps/${created.appKey}`);
    await retype(page, "#overlap", "60");
    await accepted(page, "#rotate");
    assert.match(await text(page, ".flash"), /^Secret rotated: the old one is accepted until /);
    const rotated = await text(page, "#app-secret");
    assert.notEqual(rotated, created.appSecret);
    const app = (await dev.admin("GET", `/apps/${created.appKey}`)).body;
    assert.equal(app.app[app.env].appSecret, rotated, "the page shows the new secret");

    const refused = await developer.goto(`${consoleUrl}/apps/${created.appKey}/settings`);
    assert.equal(refused?.status(), 403);
    assert.match(await text(developer, ".error"), /secret was rotated/);

    // Signed in with the new one, a developer who rotates it themselves keeps their pages.
    await developer.goto(`${consoleUrl}/signin`);
    await developer.type("#app-key", created.appKey);
    await developer.type("#app-secret", rotated);
    await accepted(developer, "#developer-signin");
    await accepted(developer, "#rotate");
    const own = await text(developer, "#app-secret");
    assert.notEqual(own, rotated);
    assert.equal((await developer.goto(`${consoleUrl}/apps/${created.appKey}/limits`))?.status(), 200);
    created.appSecret = own;
  });
});
