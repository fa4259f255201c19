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

import type { Ack, MeridianClient, Message } from "../src/index.js";
import { FileStore } from "../src/node.js";
import { Dev, Inbox, within } from "./dev.js";

export const TOTAL = Number(process.env.SDK_EXCHANGE_MESSAGES ?? 2_000);
const WINDOW = 64;

/** What one side saw. */
interface Side {
  name: string;
  client: MeridianClient;
  acked: Map<string, Ack>;
  received: Message[];
  reasons: Set<string>;
}

async function side(dev: Dev, name: string): Promise<Side> {
  const client = await dev.client(name, { backoff: { firstMs: 100, maxMs: 1_000 } });
  const s: Side = { name, client, acked: new Map(), received: [], reasons: new Set() };
  client.on("message", (m) => {
    if (m.objectName === "RC:TxtMsg") s.received.push(m);
  });
  client.on("connection", (c) => {
    if (c.reason) s.reasons.add(c.reason);
  });
  await client.connect();
  return s;
}

/** Sends `count` messages to `peer`, at most WINDOW unacknowledged at a time. */
async function sendAll(me: Side, peer: string, count: number, progress: () => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const content = `${me.name}-${i}`;
      const ack = await me.client.send({
        conversationType: 1,
        targetId: peer,
        objectName: "RC:TxtMsg",
        content,
        clientId: content,
      });
      me.acked.set(content, ack);
      progress();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
}

/** Every acknowledged message of `from` reached `to` once, in seq order, with its content. */
function assertExactlyOnce(from: Side, to: Side): { lost: number; duplicated: number } {
  const got = new Map<string, number>();
  for (const m of to.received) got.set(m.msgUID, (got.get(m.msgUID) ?? 0) + 1);
  let lost = 0;
  for (const ack of from.acked.values()) if (!got.has(ack.msgUID)) lost += 1;
  const duplicated = [...got.values()].filter((n) => n > 1).length;
  const contents = new Map([...from.acked].map(([content, ack]) => [ack.msgUID, content]));
  for (const m of to.received) {
    assert.equal(contents.get(m.msgUID), m.content, `${m.msgUID} is one ${from.name} sent`);
  }
  const seqs = to.received.map((m) => m.seq);
  assert.ok(
    seqs.every((seq, i) => i === 0 || seqs[i - 1]! < seq),
    `${to.name} got ${from.name}'s messages in seq order`,
  );
  return { lost, duplicated };
}

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
    const alice = await side(dev, "alice");
    const bob = await side(dev, "bob");
    const started = Date.now();

    // Faults at a third and two thirds of the acknowledgements.
    let acked = 0;
    const at = (n: number) => {
      let reached!: () => void;
      const promise = new Promise<void>((r) => (reached = r));
      return { n, promise, reached };
    };
    const marks = [at(Math.floor(TOTAL / 3)), at(Math.floor((2 * TOTAL) / 3))];
    const progress = () => {
      acked += 1;
      for (const mark of marks) if (acked === mark.n) mark.reached();
    };
    const faults = (async () => {
      await marks[0]!.promise;
      await dev.stop("SIGTERM"); // drains: sessions get `reconnect`
      await dev.restart();
      await marks[1]!.promise;
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
