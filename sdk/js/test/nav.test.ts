// Navigation: primary nav down → backup; every nav down → the cached answer; nav hosts
// carried after `@` in the token asked first; a dead edge in the answer skipped.
// covers: WEB-01

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";

import { MemoryStore, type ConnectionChange } from "../src/index.js";
import { Dev, within } from "./dev.js";

/** A loopback URL nothing listens on: a port the OS handed out and that was closed again. */
async function deadUrl(scheme: "http" | "ws"): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `${scheme}://127.0.0.1:${port}`;
}

describe("navigation against meridian dev", () => {
  let dev: Dev;
  let deadNav: string;

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
    deadNav = await deadUrl("http");
  });

  after(async () => {
    await dev?.dispose();
  });

  test("the primary nav unreachable: the backup answers; every nav down: the cached answer", async () => {
    const backup = dev.endpoints.nav[1]!;
    const store = new MemoryStore();
    const first = await dev.client("alice", { navs: [deadNav, backup], store });
    await first.connect();
    assert.equal(first.navSource, backup);
    assert.equal(first.state, "connected");
    await first.conversations(); // the session works, not just the socket
    await first.close();

    // Same store (a reload in a browser with IndexedDB), no nav reachable at all.
    const second = await dev.client("alice", { navs: [deadNav], store });
    await second.connect();
    assert.equal(second.navSource, "cache");
    await second.conversations();
    await second.close();
  });

  test("nav hosts after @ in the token are asked first", async () => {
    const token = await dev.token("bob");
    const host = new URL(dev.endpoints.nav[1]!).host;
    const client = await dev.client("bob", { token: `${token}@${host}`, navs: [deadNav] });
    await client.connect();
    assert.equal(client.navSource, `http://${host}`);
    assert.equal(client.userId, "bob");
    await client.close();
  });

  test("no nav and nothing cached: the client keeps trying and says why", async () => {
    const client = await dev.client("carol", { navs: [deadNav] });
    const retrying = client.once(
      "connection",
      (c: ConnectionChange) => c.state === "connecting" && c.reason === "nav",
    );
    const connecting = client.connect();
    connecting.catch(() => {});
    const change = await within(retrying, 10_000, "a retry after nav failed");
    assert.ok(change.retryInMs! > 0);
    await client.close();
    await assert.rejects(connecting);
  });

  test("an edge that does not answer is skipped for the next one in nav's answer", async () => {
    const store = new MemoryStore();
    const edge = dev.endpoints.areas.SG!.edges[0]!.ws;
    const deadEdge = `${await deadUrl("ws")}/websocket`;
    // Nav's answer as the client cached it, with a dead edge ranked first.
    const route = { area: "SG", edges: [{ ws: deadEdge }, { ws: edge }], heartbeatMs: 30_000, api: [] };
    await store.set(`meridian/${dev.app.appKey}/nav`, JSON.stringify(route));
    const client = await dev.client("dave", { navs: [deadNav], store });
    const { edge: used } = await client.connect();
    assert.equal(used, edge);
    await client.close();
  });
});
