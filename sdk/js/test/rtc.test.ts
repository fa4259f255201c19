// Audio/video rooms through the SDK in chromium, with its fake camera and microphone:
// two members of a meeting join through their sessions, one publishes over WHIP with
// `Room.publish`, the other finds the stream in the `published` notice and watches it
// over WHEP with `Room.watch` (video frames decode, audio arrives); unpublishing tells the
// room. In a live room the audience's publish is refused by the media server. Then three
// people meet through the web demo's meeting form (sdk/js/demo/meeting.ts).
// CHROMIUM names the browser (default /usr/bin/chromium).
// covers: RTC-01, RTC-02, RTC-05, WEB-01, WEB-05

import assert from "node:assert/strict";
import { type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import { type Browser, type Page } from "puppeteer-core";

import { FAKE_MEDIA, launchChromium, screenshotPath, serveSdkPage } from "./chromium.js";

import type * as Sdk from "../src/index.js";
import { Dev } from "./dev.js";

/** What the page keeps on `window`. */
interface PageGlobals {
  sdk: typeof Sdk;
}

/** What a page needs to connect alice and bob. */
interface Credentials {
  appKey: string;
  navs: string[];
  alice: string;
  bob: string;
}

describe("audio/video rooms with the SDK in chromium", () => {
  let dev: Dev;
  let browser: Browser;
  let site: { server: Server; origin: string };

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
    site = await serveSdkPage();
    browser = await launchChromium(FAKE_MEDIA);
  });

  after(async () => {
    await browser?.close();
    site?.server.close();
    await dev?.dispose();
  });

  async function open(): Promise<{ tab: Page; credentials: Credentials }> {
    const tab = await browser.newPage();
    await tab.goto(`${site.origin}/`);
    await tab.waitForFunction(() => "sdk" in globalThis);
    const credentials = {
      appKey: dev.app.appKey,
      navs: dev.endpoints.nav,
      alice: await dev.token("alice"),
      bob: await dev.token("bob"),
    };
    return { tab, credentials };
  }

  test("a member publishes its camera, another watches it, and unpublishing tells the room", async () => {
    const { tab, credentials } = await open();
    const seen = await tab.evaluate(async (c: Credentials) => {
      const { sdk } = globalThis as unknown as PageGlobals;
      const client = (token: string, deviceId: string) =>
        new sdk.MeridianClient({ appKey: c.appKey, token, navs: c.navs, deviceId });
      const alice = client(c.alice, "alice-web");
      const bob = client(c.bob, "bob-web");
      await Promise.all([alice.connect(), bob.connect()]);
      const notices: Sdk.RoomNotice[] = [];
      bob.on("rtcEvent", (event) => {
        notices.push(event.notice);
      });
      const until = async (what: () => Promise<boolean> | boolean) => {
        const deadline = Date.now() + 20_000;
        while (!(await what())) {
          if (Date.now() > deadline) throw new Error(`timed out; bob heard ${JSON.stringify(notices)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const heard = <K extends string>(kind: K) =>
        notices.find((n) => kind in n) as Record<K, Record<string, unknown>> | undefined;

      const aliceRoom = await alice.joinRoom("standup", "meeting", "participant");
      const bobRoom = await bob.joinRoom("standup", "meeting", "participant");
      const told: Sdk.Speaker[][] = [];
      bobRoom.on("speakers", (speakers) => {
        told.push(speakers);
      });
      const camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const announced = await aliceRoom.publish(camera, "cam");
      await until(() => heard("published") !== undefined);
      const resource = (heard("published")!.published.resources as Sdk.Resource[])[0];
      const stream = await bobRoom.watch(resource);
      let frames = 0;
      let packets = 0;
      await until(async () => {
        const stats = await bobRoom.connection(resource)?.getStats();
        stats?.forEach((s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
          if (s.type !== "inbound-rtp") return;
          if (s.kind === "video") frames = s.framesDecoded ?? 0;
          if (s.kind === "audio") packets = s.packetsReceived ?? 0;
        });
        return frames > 30 && packets > 30;
      });
      // Chromium's fake microphone beeps: its level, as alice's browser measured it,
      // reaches bob through the media server (read while bob plays what he receives).
      const speaker = new Audio();
      speaker.srcObject = stream;
      await speaker.play();
      let loudest = 0;
      await until(() => {
        loudest = Math.max(loudest, ...bobRoom.audioLevels().map((l) => l.level));
        return loudest > 0;
      });
      const levels = bobRoom.audioLevels();
      // The media server hears the same levels and tells the room who speaks, over the
      // data channel of bob's connection: alice's stream, the only one with sound.
      await until(() => told.length > 0);
      const speakers = told[0];

      await aliceRoom.unpublish("cam");
      await until(() => heard("unpublished") !== undefined);
      const unpublished = heard("unpublished")!.unpublished.streamIds;
      const members = (await bobRoom.refresh()).members.map((m) => [m.userId, m.resources.length]);
      await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
      await Promise.all([alice.close(), bob.close()]);
      const tracks = stream.getTracks().map((t) => t.kind).sort();
      return { announced, resource, frames, packets, tracks, unpublished, members, loudest, levels, speakers };
    }, credentials);
    assert.equal(seen.announced.params, "/whep/standup/alice/cam", "the stream's WHEP path");
    assert.deepEqual(seen.resource, seen.announced, "bob heard what alice announced");
    assert.ok(seen.frames > 30 && seen.packets > 30, JSON.stringify(seen));
    assert.deepEqual(seen.tracks, ["audio", "video"]);
    assert.ok(seen.loudest > 0 && seen.loudest <= 1, `alice's audio level reached bob: ${seen.loudest}`);
    assert.deepEqual(
      seen.levels.map((l) => l.resource.streamId),
      ["cam"],
      "one level per watched stream with audio",
    );
    assert.deepEqual(seen.unpublished, ["cam"]);
    assert.deepEqual(seen.members, [["alice", 0], ["bob", 0]]);
    await tab.close();
  });

  test("the media server refuses a publish from the audience of a live room", async () => {
    const { tab, credentials } = await open();
    const refused = await tab.evaluate(async (c: Credentials) => {
      const { sdk } = globalThis as unknown as PageGlobals;
      const alice = new sdk.MeridianClient({ appKey: c.appKey, token: c.alice, navs: c.navs, deviceId: "alice-fan" });
      await alice.connect();
      const room = await alice.joinRoom("stage", "live", "audience");
      const camera = await navigator.mediaDevices.getUserMedia({ audio: false, video: true });
      try {
        await room.publish(camera, "cam");
        return null;
      } catch (e) {
        const error = e as Sdk.MediaRefusedError;
        return { name: error.name, status: error.status, code: error.code };
      } finally {
        await room.leave();
        await alice.close();
      }
    }, credentials);
    assert.deepEqual(refused, { name: "MediaRefusedError", status: 403, code: 53003 });
    await tab.close();
  });

  const pageErrors: string[] = [];

  /** Signs `userId` in on the web demo `meridian dev` serves, in a context of its own. */
  async function person(userId: string): Promise<Page> {
    assert.ok(dev.endpoints.demo, "endpoints.json names the demo page");
    const page = await (await browser.createBrowserContext()).newPage();
    page.on("pageerror", (e) => pageErrors.push(`${userId}'s page: ${String(e)}`));
    await page.goto(dev.endpoints.demo);
    await page.waitForSelector("#signin:not([hidden]) #area option");
    await page.type("#user", userId);
    await page.click("#signin-button");
    await page.waitForSelector('#state[data-state="connected"]');
    return page;
  }

  async function joinMeeting(page: Page, roomId: string, role: "participant" | "observer"): Promise<void> {
    await page.type("#meet-room", roomId);
    await page.select("#meet-role", role);
    await page.click("#meet-button");
    await page.waitForFunction((id) => document.body.dataset.meeting === id, {}, roomId);
  }

  /** Waits until the page's tile of `userId`'s camera has received this much, by its
   * connection's getStats (the page shows it and keeps it in the tile's data). */
  async function receiving(page: Page, userId: string, frames = 100, packets = 100): Promise<void> {
    await page.waitForFunction(
      (user, frames, packets) => {
        const tile = document.querySelector<HTMLElement>(`#tiles figure[data-user="${user}"][data-stream="cam"]`);
        return (
          Number(tile?.dataset.framesDecoded ?? 0) > frames && Number(tile?.dataset.audioPackets ?? 0) > packets
        );
      },
      { timeout: 15_000 },
      userId,
      frames,
      packets,
    );
  }

  const tileUsers = (page: Page) =>
    page.$$eval("#tiles figure", (tiles) => tiles.map((t) => (t as HTMLElement).dataset.user ?? "").sort());

  test("three people meet in the web demo: two participants see and hear each other, an observer both", async () => {
    const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
    await joinMeeting(alice, "weekly", "participant");
    await joinMeeting(bob, "weekly", "participant");
    // Each participant receives the other's camera and microphone (getStats: frames
    // decoded, audio packets) within 15 s.
    await Promise.all([receiving(alice, "bob"), receiving(bob, "alice")]);
    assert.deepEqual(await tileUsers(alice), ["alice", "bob"], "alice sees herself and bob");

    // An observer publishes nothing and watches both.
    await joinMeeting(carol, "weekly", "observer");
    assert.equal(await carol.$eval("#meet-camera", (e) => (e as HTMLElement).hidden), true);
    await Promise.all([receiving(carol, "alice"), receiving(carol, "bob")]);
    assert.deepEqual(await tileUsers(carol), ["alice", "bob"]);
    // The media server names a speaker (everybody's fake microphone beeps); carol's page
    // outlines that tile.
    await carol.waitForSelector('#tiles figure[data-speaking="true"]', { timeout: 15_000 });
    await carol.screenshot({ path: screenshotPath("meeting.png") });

    // bob stops his camera: his tile goes from alice's and carol's pages (their
    // connections to his stream close), and his own preview from his.
    await bob.click("#meet-camera");
    for (const page of [alice, carol]) {
      await page.waitForFunction(() => !document.querySelector('#tiles figure[data-user="bob"]'), { timeout: 10_000 });
    }
    assert.deepEqual(await tileUsers(carol), ["alice"]);
    assert.deepEqual(await tileUsers(bob), ["alice"], "bob shows no picture of himself once stopped");
    assert.equal(await bob.$eval("#meet-camera", (e) => e.textContent), "Start camera");

    await Promise.all([alice, bob, carol].map((page) => page.click("#meet-leave")));
    await Promise.all([alice, bob, carol].map((page) => page.browserContext().close()));
    assert.deepEqual(pageErrors, []);
  });
});
