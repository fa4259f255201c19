// Two clients exchanging messages while something fails, and the check that every
// acknowledged message arrived exactly once, in seq order (shared by the resume tests).

import assert from "node:assert/strict";

import type { Ack, MeridianClient, Message } from "../src/index.js";

const WINDOW = 64;

/** Resolves when `count` progress calls were made: faults are injected at such marks. */
export function mark(count: number): { count: number; reached: Promise<void>; hit: () => void } {
  let hit!: () => void;
  const reached = new Promise<void>((r) => (hit = r));
  return { count, reached, hit };
}

/** What one side saw. */
export interface Side {
  name: string;
  client: MeridianClient;
  acked: Map<string, Ack>;
  received: Message[];
  reasons: Set<string>;
}

export async function side(
  name: string,
  makeClient: (name: string) => Promise<MeridianClient>,
): Promise<Side> {
  const client = await makeClient(name);
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
export async function sendAll(me: Side, peer: string, count: number, progress: () => void): Promise<void> {
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
export function assertExactlyOnce(from: Side, to: Side): { lost: number; duplicated: number } {
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

