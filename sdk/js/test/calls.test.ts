// Calls through the SDK against `meridian dev` (RTC-03): the CallLib's signals go out
// with `sendCallSignal` and come back as `call` events; a callee's SDK rings back a fresh
// invite on its own; a callee already in a call is answered for by the server ("busy").
// covers: RTC-03

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { HangupReason, type CallEvent } from "../src/index.js";
import { Dev, Inbox } from "./dev.js";

describe("calls through the SDK", () => {
  let dev: Dev;

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
  });

  after(async () => {
    await dev?.dispose();
  });

  test("a call rings back, is answered and hung up; a busy callee is answered for", async () => {
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => dev.client(u)));
    const [aliceCalls, bobCalls, carolCalls] = [alice!, bob!, carol!].map((c) => new Inbox(c, "call"));
    await Promise.all([alice!.connect(), bob!.connect(), carol!.connect()]);
    const toBob = { conversationType: 1 as const, targetId: "bob" };
    const toAlice = { conversationType: 1 as const, targetId: "alice" };
    const signal = (callId: string, from: string, kind: CallEvent["signal"]["kind"]) => (e: CallEvent) =>
      e.callId === callId && e.from === from && e.signal.kind === kind;

    await alice!.sendCallSignal(toBob, "c1", { kind: "invite", media: "video", callees: ["bob"], roomId: "c1-room" });
    // Bob's SDK rang back by itself.
    await aliceCalls!.next(signal("c1", "bob", "ringing"));
    await bob!.sendCallSignal(toAlice, "c1", { kind: "accept" });
    await aliceCalls!.next(signal("c1", "bob", "accept"));

    // Carol calls bob meanwhile: the server hangs up for him, busy.
    await carol!.sendCallSignal(toBob, "c2", { kind: "invite", media: "audio", callees: ["bob"], roomId: "c2" });
    const busy = await carolCalls!.next(signal("c2", "bob", "hangup"));
    assert.deepEqual(busy.signal, { kind: "hangup", reason: HangupReason.BUSY });

    await alice!.sendCallSignal(toBob, "c1", { kind: "hangup", reason: HangupReason.HANGUP });
    await bobCalls!.next(signal("c1", "alice", "hangup"));
    const heard = bobCalls!.messages.filter((e) => e.callId === "c1").map((e) => [e.from, e.signal]);
    assert.deepEqual(heard, [
      ["alice", { kind: "invite", media: "video", callees: ["bob"], roomId: "c1-room" }],
      ["alice", { kind: "hangup", reason: HangupReason.HANGUP }],
    ]);
    const rung = bobCalls!.messages.filter((e) => e.callId === "c2").map((e) => e.signal.kind);
    assert.deepEqual(rung, ["invite", "hangup"], "bob heard carol's call and the server's answer");
  });
});
