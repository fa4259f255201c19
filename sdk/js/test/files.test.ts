// Media from the SDK (FILE-01): `upload` gets a grant from the connected edge with the
// user's token and sends the bytes; the link it answers serves them back, the message
// built by `mediaMessage` reaches the peer in the commercial shape, and refusals are
// typed `FileError`s with the service's code.
// covers: FILE-01, WEB-01

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { CHUNK_BYTES, FileError, mediaMessage } from "../src/index.js";
import { Dev, Inbox } from "./dev.js";

describe("file uploads from the SDK against meridian dev", () => {
  let dev: Dev;

  before(async () => {
    dev = await Dev.start("SG", ["--nodes", "1"]);
  });

  after(async () => {
    await dev?.dispose();
  });

  test("a file goes up, its message reaches the peer, and its link serves the same bytes", async () => {
    const alice = await dev.client("alice");
    const bob = await dev.client("bob");
    const bobsInbox = new Inbox(bob);
    await Promise.all([alice.connect(), bob.connect()]);

    const bytes = new TextEncoder().encode("minutes of the meeting\n".repeat(100));
    const uploaded = await alice.upload(bytes, { kind: "file", name: "minutes.txt", contentType: "text/plain" });
    assert.equal(uploaded.size, bytes.byteLength);
    assert.equal(uploaded.name, "minutes.txt");
    assert.equal(uploaded.kind, "file");

    const message = mediaMessage(uploaded);
    assert.equal(message.objectName, "RC:FileMsg");
    const ack = await alice.send({ conversationType: 1, targetId: "bob", ...message });
    const got = await bobsInbox.next((m) => m.msgUID === ack.msgUID);
    const content = JSON.parse(got.content) as { fileUrl: string; name: string; size: number; type: string };
    assert.deepEqual(
      { name: content.name, size: content.size, type: content.type },
      { name: "minutes.txt", size: bytes.byteLength, type: "txt" },
    );
    const download = await fetch(content.fileUrl);
    assert.equal(download.status, 200);
    assert.deepEqual(new Uint8Array(await download.arrayBuffer()), bytes);
    assert.match(download.headers.get("content-disposition") ?? "", /attachment/);
  });

  test("in private mode an upload names its group, and only the group's members download it", async () => {
    const access = `/apps/${dev.app.appKey}/file-access`;
    assert.equal((await dev.admin("PUT", access, { private: true })).status, 200);
    try {
      await dev.api("/group/create.json", [["userId", "dora"], ["userId", "erin"], ["groupId", "crew"], ["groupName", "Crew"]]);
      const [dora, erin, frank] = await Promise.all(["dora", "erin", "frank"].map((user) => dev.client(user)));
      await dora.connect();
      const bytes = new TextEncoder().encode("crew roster");
      const unnamed = await dora.upload(bytes, { kind: "file", name: "roster.txt" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(unnamed instanceof FileError && unnamed.code === "invalid", String(unnamed));

      const uploaded = await dora.upload(bytes, {
        kind: "file",
        name: "roster.txt",
        conversation: { type: 3, targetId: "crew" },
      });
      assert.equal((await fetch(uploaded.url)).status, 401, "a link alone is not enough");
      const got = await erin!.download(uploaded.url);
      assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes);
      const refused = await frank!.download(uploaded.url).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(refused instanceof FileError, String(refused));
      assert.deepEqual([refused.status, refused.code], [403, "not_member"]);
      await Promise.all([dora, erin!, frank!].map((client) => client.close()));
    } finally {
      await dev.admin("PUT", access, {});
    }
  });

  test("a large file goes up in chunks with progress, and chunks whose answers are lost are not sent twice", async () => {
    const size = 2 * CHUNK_BYTES + 4321;
    const bytes = new Uint8Array(size).map((_, i) => i % 251);
    let puts = 0;
    // The second and the last chunk reach the service, but their answers never come back.
    const flaky: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === "PUT") puts += 1;
      if (init?.method === "PUT" && (puts === 2 || puts === 3)) throw new TypeError("network error");
      return response;
    };
    const gina = await dev.client("gina", { fetch: flaky });
    await gina.connect();
    const progress: number[] = [];
    const uploaded = await gina.upload(bytes, {
      kind: "file",
      name: "archive.bin",
      onProgress: (sent, total) => {
        assert.equal(total, size);
        progress.push(sent);
      },
    });
    assert.equal(puts, 4, "held chunks are not sent again; the last one's answer is asked for once more");
    assert.deepEqual(progress, [CHUNK_BYTES, 2 * CHUNK_BYTES, size]);
    assert.equal(uploaded.size, size);
    const got = new Uint8Array(await (await gina.download(uploaded.url)).arrayBuffer());
    assert.deepEqual(got, bytes);
    await gina.close();
  });

  test("bytes that are not an image, sent as one: FileError 400 invalid; an empty file too", async () => {
    const carol = await dev.client("carol");
    await carol.connect();
    const refused = await carol
      .upload(new TextEncoder().encode("not a picture"), { kind: "image", name: "fake.jpg" })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof FileError, String(refused));
    assert.equal(refused.status, 400);
    assert.equal(refused.code, "invalid");

    const empty = await carol.upload(new Uint8Array(0), { kind: "file", name: "empty.bin" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(empty instanceof FileError && empty.code === "invalid", "size must be at least 1");
  });
});
