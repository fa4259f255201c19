// Never lose, never duplicate across leader kills: the area as separate processes (three
// nodes, an edge, a nav); two clients exchange messages while the Raft leader is
// SIGKILLed twice (each time started again, so the next kill still leaves a majority).
// SDK_FAILOVER_MESSAGES sets the total (default 1,000).
// covers: WEB-03, MSG-01

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Area } from "./area.js";
import { within } from "./dev.js";
import { assertExactlyOnce, mark, sendAll, side, type Side } from "./exchange.js";

const TOTAL = Number(process.env.SDK_FAILOVER_MESSAGES ?? 1_000);

describe("resume across leader kills", () => {
  let area: Area;

  before(async () => {
    area = await Area.start();
  });

  after(async () => {
    await area?.dispose();
  });

  test(`${TOTAL} messages between two clients while the leader is killed twice`, async () => {
    const perSide = TOTAL / 2;
    const alice = await side("alice", (name) => area.client(name));
    const bob = await side("bob", (name) => area.client(name));
    const started = Date.now();

    let acked = 0;
    const marks = [mark(Math.floor(TOTAL / 3)), mark(Math.floor((2 * TOTAL) / 3))];
    const progress = () => {
      acked += 1;
      for (const m of marks) if (acked === m.count) m.hit();
    };
    const killed: number[] = [];
    const faults = (async () => {
      for (const m of marks) {
        await m.reached;
        const leader = await area.leader();
        await area.killNode(leader);
        killed.push(leader);
        // A new leader is elected among the other two; then the killed node comes back.
        await area.leader(leader);
        area.startNode(leader);
      }
    })();

    await within(
      Promise.all([sendAll(alice, "bob", perSide, progress), sendAll(bob, "alice", perSide, progress), faults]),
      Math.max(120_000, TOTAL * 60),
      "every send acknowledged",
    );
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
    console.log(
      `failover: ${TOTAL} messages in ${seconds.toFixed(1)} s; leaders killed ${killed.join(", ")}; ` +
        `reconnects alice ${alice.client.stats.reconnects}, bob ${bob.client.stats.reconnects}; ` +
        `lost ${toBob.lost + toAlice.lost}; duplicated ${toBob.duplicated + toAlice.duplicated}`,
    );
    assert.equal(killed.length, 2);
    assert.deepEqual(toBob, { lost: 0, duplicated: 0 });
    assert.deepEqual(toAlice, { lost: 0, duplicated: 0 });
    assert.equal(bob.received.length, perSide);
    assert.equal(alice.received.length, perSide);
    await Promise.all([alice.client.close(), bob.client.close()]);
  });
});
