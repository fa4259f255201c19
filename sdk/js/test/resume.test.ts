// Never lose, never duplicate: two clients exchange messages while the deployment drains
// (SIGTERM: the edge's `reconnect` hint) and crashes (SIGKILL of `meridian dev`: the edge,
// both navs and all three nodes, the Raft leader among them) and comes back on the same
// data. And a client restarted from its FileStore resumes exactly where it stopped.
// SDK_EXCHANGE_MESSAGES sets the total (default 2,000; `npm run bench` runs 10,000).
// covers: WEB-03, MSG-01

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import type { Ack } from "../src/index.js";
import { FileStore } from "../src/node.js";
import { Dev, Inbox, within } from "./dev.js";
import { assertExactlyOnce, mark, sendAll, side, type Side } from "./exchange.js";

const TOTAL = Number(process.env.SDK_EXCHANGE_MESSAGES ?? 2_000);

describe("resume across a drain and a crash of meridian dev", () => {
  let dev: Dev;
  let dir: string;

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "3", "--sends-per-second", "100000"]);
    dir = mkdtempSync(join(tmpdir(), "meridian-sdk-js-store-"));
  });

  after(async () => {
    await dev?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(`${TOTAL} messages between two clients: none lost, none repeated`, async () => {
    const perSide = TOTAL / 2;
    const client = (name: string) => dev.client(name, { backoff: { firstMs: 100, maxMs: 1_000 } });
    const alice = await side("alice", client);
    const bob = await side("bob", client);
    const started = Date.now();

    // Faults at a third and two thirds of the acknowledgements.
    let acked = 0;
    const marks = [mark(Math.floor(TOTAL / 3)), mark(Math.floor((2 * TOTAL) / 3))];
    const progress = () => {
      acked += 1;
      for (const m of marks) if (acked === m.count) m.hit();
    };
    const faults = (async () => {
      await marks[0]!.reached;
      await dev.stop("SIGTERM"); // drains: sessions get `reconnect`
      await dev.restart();
      await marks[1]!.reached;
      await dev.stop("SIGKILL"); // a crash: nothing shuts down cleanly
      await dev.restart();
    })();

    await within(
      Promise.all([sendAll(alice, "bob", perSide, progress), sendAll(bob, "alice", perSide, progress), faults]),
      Math.max(120_000, TOTAL * 30),
      "every send acknowledged",
    );
    // Whatever is still on its way has been processed once `synced` answers a sync.
    const everything = async (s: Side) => {
      while (s.received.length < perSide) await within(s.client.once("message"), 30_000, `${s.name}'s messages`);
      const synced = s.client.once("synced");
      s.client.resync();
      await within(synced, 10_000, "synced");
    };
    await Promise.all([everything(alice), everything(bob)]);
    const seconds = (Date.now() - started) / 1000;

    const toBob = assertExactlyOnce(alice, bob);
    const toAlice = assertExactlyOnce(bob, alice);
    const own = alice.client.stats.ownCopiesSkipped + bob.client.stats.ownCopiesSkipped;
    console.log(
      `exchange: ${TOTAL} messages in ${seconds.toFixed(1)} s; reconnects alice ${alice.client.stats.reconnects}, ` +
        `bob ${bob.client.stats.reconnects}; lost ${toBob.lost + toAlice.lost}; ` +
        `duplicated ${toBob.duplicated + toAlice.duplicated}; own copies skipped ${own}`,
    );
    assert.deepEqual(toBob, { lost: 0, duplicated: 0 });
    assert.deepEqual(toAlice, { lost: 0, duplicated: 0 });
    assert.equal(bob.received.length, perSide);
    assert.equal(alice.received.length, perSide);
    for (const s of [alice, bob]) {
      assert.ok(s.client.stats.reconnects >= 2, `${s.name} reconnected after each fault`);
      assert.ok(s.reasons.has("drain"), `${s.name} obeyed the draining edge's reconnect hint`);
    }
    await Promise.all([alice.client.close(), bob.client.close()]);
  });

  test("a client restarted from its FileStore gets what it missed, and nothing twice", async () => {
    const path = join(dir, "cursor.json");
    const sender = await dev.client("sam");
    await sender.connect();
    const say = (text: string) => sender.sendText({ conversationType: 1, targetId: "tess" }, text);

    const first = await dev.client("tess", { store: new FileStore(path), deviceId: "tess-laptop" });
    const firstInbox = new Inbox(first);
    await first.connect();
    const before: Ack[] = [];
    for (let i = 0; i < 5; i++) before.push(await say(`before ${i}`));
    await firstInbox.next((m) => m.msgUID === before[4]!.msgUID);
    await first.close();

    const missed: Ack[] = [];
    for (let i = 0; i < 5; i++) missed.push(await say(`missed ${i}`));

    // A new process: a new store object reading the same file.
    const second = await dev.client("tess", { store: new FileStore(path), deviceId: "tess-laptop" });
    const secondInbox = new Inbox(second);
    const synced = second.once("synced");
    await second.connect();
    await within(synced, 10_000, "synced");
    assert.deepEqual(
      secondInbox.messages.map((m) => m.msgUID),
      missed.map((a) => a.msgUID),
      "exactly the messages sent while it was away, in order",
    );
    await Promise.all([second.close(), sender.close()]);
  });
});
