// The typed errors an app sees: the session limits, bad tokens, a login elsewhere.
// covers: WEB-01, MSG-02, MSG-06, MSG-07

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AuthError,
  ClosedError,
  Codes,
  ContentTooLargeError,
  KickedError,
  RateLimitError,
  type ConnectionChange,
} from "../src/index.js";
import { Dev, within } from "./dev.js";

const alice_bob = { conversationType: 1, targetId: "bob" } as const;

describe("typed errors against meridian dev (default limits)", () => {
  let dev: Dev;

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
  });

  after(async () => {
    await dev?.dispose();
  });

  test("over 5 sends a second: RateLimitError 20604; over 128 KiB: ContentTooLargeError 1500", async () => {
    const carol = await dev.client("carol");
    await carol.connect();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => carol.sendText(alice_bob, `burst ${i}`)),
    );
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => o.reason);
    assert.ok(refused.length > 0, "a burst of 12 exceeds 5 per second");
    for (const error of refused) {
      assert.ok(error instanceof RateLimitError, String(error));
      assert.equal(error.code, Codes.RATE_LIMITED);
    }
    assert.ok(outcomes.some((o) => o.status === "fulfilled"), "the first ones pass");

    await carol.close();

    // Another connection, with its own budget: content over 128 KiB.
    const dan = await dev.client("dan");
    await dan.connect();
    const big = "x".repeat(129 * 1024);
    await assert.rejects(dan.send({ ...alice_bob, objectName: "RC:TxtMsg", content: big }), (e: unknown) => {
      return e instanceof ContentTooLargeError && e.code === Codes.CONTENT_TOO_LARGE;
    });
    // Just under the limit passes: the refusal is about the size.
    const fits = "x".repeat(127 * 1024);
    assert.ok((await dan.send({ ...alice_bob, objectName: "RC:TxtMsg", content: fits })).seq > 0);
    await dan.close();
  });

  test("a bad token is a typed AuthError, from nav and from the edge", async () => {
    const forged = await dev.client("dave", { token: "not-a-token" });
    await assert.rejects(forged.connect(), (e: unknown) => e instanceof AuthError && e.code === 31004);
    assert.equal(forged.state, "closed");

    // A token nav accepts (its signature verifies) but the edge refuses: expired by the app.
    const token = await dev.token("erin");
    await dev.api("/user/token/expire.json", [
      ["userId", "erin"],
      ["time", String(Date.now() + 1_000)],
    ]);
    const expired = await dev.client("erin", { token });
    const closed = expired.once("connection", (c: ConnectionChange) => c.state === "closed");
    await assert.rejects(expired.connect(), (e: unknown) => e instanceof AuthError && e.code === 31004);
    assert.ok((await closed).error instanceof AuthError);
    await assert.rejects(expired.sendText(alice_bob, "x"), ClosedError);
  });

  test("a second web login kicks the first with 31010, which stops for good", async () => {
    const first = await dev.client("frank", { deviceId: "frank-tab-1" });
    await first.connect();
    const pending = first.once("kicked");
    const closed = first.once("connection", (c) => c.state === "closed");
    const second = await dev.client("frank", { deviceId: "frank-tab-2" });
    await second.connect();
    assert.deepEqual((await within(pending, 10_000, "kicked")).code, Codes.KICKED_OTHER_LOGIN);
    assert.ok((await within(closed, 10_000, "closed")).error instanceof KickedError);
    await second.close();
  });

});
