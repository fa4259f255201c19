// Every client frame of edge/PROTOCOL.md through the SDK against a real `meridian dev`,
// and the typed errors an app sees.
// covers: WEB-01, MSG-01, MSG-03, MSG-04, PRV-05, PRV-06, PRV-07, PRV-12, GRP-03, CHR-03,
// ULG-03, ULG-07, PUSH-01

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { WebSocket } from "ws";

import { ClosedError, Codes, RequestError, type Ack, type MeridianClient } from "../src/index.js";
import { Dev, Inbox, within } from "./dev.js";

const alice_bob = { conversationType: 1, targetId: "bob" } as const;
const bob_alice = { conversationType: 1, targetId: "alice" } as const;

describe("client frames against meridian dev", () => {
  let dev: Dev;
  let alice: MeridianClient;
  let bob: MeridianClient;
  let bobInbox: Inbox;
  let aliceInbox: Inbox;

  before(async () => {
    // Sessions silent for 3 s are closed: the heartbeat test below needs pings at 1 s.
    // The send limit is raised here; errors.test.ts checks the default one.
    const args = ["--nodes", "1", "--idle-timeout-ms", "3000", "--sends-per-second", "1000"];
    dev = await Dev.start("SG", args);
    alice = await dev.client("alice");
    bob = await dev.client("bob");
    aliceInbox = new Inbox(alice);
    bobInbox = new Inbox(bob);
    await Promise.all([alice.connect(), bob.connect()]);
  });

  after(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await dev?.dispose();
  });

  test("send is acknowledged and delivered; sync ends with synced", async () => {
    const ack = await alice.sendText(alice_bob, "hello bob");
    assert.ok(ack.seq > 0 && ack.msgUID.length > 0, JSON.stringify(ack));
    const got = await bobInbox.next((m) => m.msgUID === ack.msgUID);
    assert.equal(got.senderUserId, "alice");
    assert.equal(got.targetId, "alice", "a private chat is named by the peer");
    assert.equal(JSON.parse(got.content).content, "hello bob");
    assert.ok(got.cursor > 0, "live messages carry their feed position");

    const synced = bob.once("synced");
    const before = bobInbox.messages.length;
    bob.resync();
    assert.ok((await within(synced, 5_000, "synced")).cursor >= got.cursor);
    assert.ok(bob.cursor! >= got.cursor, "the processed message moved the stored cursor");
    assert.equal(bobInbox.messages.length, before, "a sync from the cursor repeats nothing");
  });

  test("history pages newest first, search, delete for one side, clear", async () => {
    const sent: Ack[] = [];
    for (const text of ["apple pie", "banana", "Apple tart"]) {
      sent.push(await alice.sendText(alice_bob, text));
    }
    await bobInbox.next((m) => m.msgUID === sent[2]!.msgUID);
    const page = await bob.history(bob_alice, { limit: 3 });
    assert.deepEqual(
      page.map((m) => m.msgUID),
      sent.map((a) => a.msgUID).reverse(),
    );
    const older = await bob.history(bob_alice, { beforeTime: page[2]!.sentTime, limit: 10 });
    assert.ok(older.every((m) => m.sentTime < page[2]!.sentTime));

    const apples = await bob.search(bob_alice, { keyword: "APPLE" });
    assert.deepEqual(
      apples.map((m) => m.msgUID),
      [sent[2]!.msgUID, sent[0]!.msgUID],
    );
    const fromBob = await bob.search(bob_alice, { senderUserId: "bob" });
    assert.equal(fromBob.length, 0);

    await bob.deleteMessages(bob_alice, [sent[1]!.msgUID]);
    const afterDelete = await bob.history(bob_alice, { limit: 3 });
    assert.ok(!afterDelete.some((m) => m.msgUID === sent[1]!.msgUID), "gone from bob's view");
    const alicesView = await alice.history(alice_bob, { limit: 3 });
    assert.ok(alicesView.some((m) => m.msgUID === sent[1]!.msgUID), "alice keeps it");

    await bob.clearHistory(bob_alice);
    assert.deepEqual(await bob.history(bob_alice), []);
  });

  test("recall reaches the other side as RC:RcCmd", async () => {
    const ack = await alice.sendText(alice_bob, "oops");
    await alice.recall(ack.msgUID);
    const notice = await bobInbox.next(
      (m) => m.objectName === "RC:RcCmd" && m.content.includes(ack.msgUID),
    );
    assert.equal(notice.senderUserId, "alice");
    const recalled = (await bob.history(bob_alice, { limit: 5 })).find((m) => m.msgUID === ack.msgUID);
    assert.equal(recalled?.recalled, true, "history keeps it, marked recalled");
  });

  test("conversation list, unread counts, markRead, pin, mute and removal", async () => {
    await alice.sendText(alice_bob, "one");
    const last = await alice.sendText(alice_bob, "two");
    await bobInbox.next((m) => m.msgUID === last.msgUID);
    const find = async () =>
      (await bob.conversations()).find((c) => c.conversationType === 1 && c.targetId === "alice");
    const before = await find();
    assert.ok(before && before.unread >= 2, JSON.stringify(before));
    assert.equal(before.lastMessage?.msgUID, last.msgUID);

    // Read up to the newest message before "two"'s millisecond: what came after it (two,
    // and one if it shares that millisecond) is what stays unread.
    const [earlier] = await bob.history(bob_alice, { beforeTime: last.sentTime, limit: 1 });
    assert.ok(earlier);
    await bob.markRead(bob_alice, { readTime: earlier.sentTime });
    const after = await bob.history(bob_alice, { afterTime: earlier.sentTime });
    assert.equal(after.at(-1)?.msgUID, last.msgUID, "oldest first, two last");
    assert.ok(after.every((m) => m.sentTime > earlier.sentTime));
    assert.equal((await find())?.unread, after.length);

    await bob.markRead(bob_alice, last.seq);
    assert.equal((await find())?.unread, 0);

    await bob.setConversation(bob_alice, { pinned: true, muted: true });
    const flagged = await find();
    assert.equal(flagged?.pinned, true);
    assert.equal(flagged?.muted, true);

    // Removed, it stays off the list until alice writes again.
    await bob.removeConversation(bob_alice);
    assert.equal(await find(), undefined);
    const again = await alice.sendText(alice_bob, "three");
    await bobInbox.next((m) => m.msgUID === again.msgUID);
    assert.equal((await find())?.unread, 1);

    // Several at once: none is refused, 100 of one are done.
    await assert.rejects(
      bob.removeConversations([]),
      (e: unknown) => e instanceof RequestError && e.code === Codes.BAD_REQUEST,
    );
    assert.equal((await find())?.unread, 1, "a refusal removes nothing");
    await bob.removeConversations(Array.from({ length: 100 }, () => bob_alice));
    assert.equal(await find(), undefined);
  });

  test("typing is delivered but not stored; a read receipt reaches the sender", async () => {
    const typing = await alice.sendTyping(alice_bob);
    assert.equal(typing.seq, 0, "status messages are not stored");
    const seen = await bobInbox.next((m) => m.objectName === "RC:TypSts");
    assert.equal(JSON.parse(seen.content).typingContentType, "RC:TxtMsg");

    const ack = await alice.sendText(alice_bob, "read me");
    const message = await bobInbox.next((m) => m.msgUID === ack.msgUID);
    await bob.sendReadReceipt("alice", message);
    const receipt = await aliceInbox.next((m) => m.objectName === "RC:ReadNtf");
    assert.equal(JSON.parse(receipt.content).messageUId, ack.msgUID);
  });

  test("group: message, read receipt to the sender, readers, expansion", async () => {
    await dev.api("/group/create.json", [
      ["userId", "alice"],
      ["userId", "bob"],
      ["groupId", "g1"],
      ["groupName", "Group one"],
    ]);
    const group = { conversationType: 3, targetId: "g1" } as const;
    const ack = await alice.sendText(group, "hi group");
    await bobInbox.next((m) => m.msgUID === ack.msgUID && m.conversationType === 3);

    await bob.groupReceipt("g1", [ack.msgUID]);
    const response = await aliceInbox.next((m) => m.objectName === "RC:RRRspMsg");
    // Keyed by the messages' sender (GRP-03); who read them is what readers() tells.
    assert.deepEqual(JSON.parse(response.content).receiptMessageDic, { alice: [ack.msgUID] });
    const readers = await alice.readers(ack.msgUID);
    assert.deepEqual(
      readers.map((r) => r.userId),
      ["bob"],
    );

    await alice.setExpansion(ack.msgUID, { set: { mood: "sunny" } });
    const change = await bobInbox.next((m) => m.objectName === "RC:MsgExMsg");
    const body = JSON.parse(change.content);
    assert.equal(body.msgUID, ack.msgUID);
    assert.deepEqual(body.set, { mood: "sunny" });
  });

  test("chatroom: join with latest messages, live messages, quit, chatroomLeft", async () => {
    await dev.api("/chatroom/create.json", [["chatroom[r1]", "Room one"]]);
    assert.deepEqual(await bob.joinChatroom("r1"), []);
    await alice.joinChatroom("r1");
    const room = { conversationType: 4, targetId: "r1" } as const;
    const ack = await alice.sendText(room, "hello room");
    await bobInbox.next((m) => m.msgUID === ack.msgUID);
    await bob.quitChatroom("r1");
    const latest = await bob.joinChatroom("r1");
    assert.deepEqual(
      latest.map((m) => m.msgUID),
      [ack.msgUID],
    );

    const left = bob.once("chatroomLeft");
    await dev.api("/chatroom/destroy.json", [["chatroomId", "r1"]]);
    assert.deepEqual(await within(left, 10_000, "chatroomLeft"), {
      chatroomId: "r1",
      code: Codes.CHATROOM_NOT_FOUND,
    });
    // Refusals of a request are typed errors with the code.
    await assert.rejects(bob.quitChatroom("r1"), (e: unknown) => e instanceof RequestError);
  });

  test("ultra group: channel message, channel list with unread, edit", async () => {
    await dev.api("/ultragroup/create.json", [
      ["userId", "alice"],
      ["groupId", "u1"],
      ["groupName", "Ultra"],
    ]);
    await dev.api("/ultragroup/join.json", [
      ["userId", "bob"],
      ["groupId", "u1"],
    ]);
    await dev.api("/ultragroup/channel/create.json", [
      ["groupId", "u1"],
      ["busChannel", "news"],
    ]);
    const channel = { conversationType: 10, targetId: "u1", channelId: "news" } as const;
    const ack = await alice.sendText(channel, "first news");
    const live = await bobInbox.next((m) => m.msgUID === ack.msgUID);
    assert.equal(live.channelId, "news");

    const channels = await bob.ultraGroupChannels("u1");
    const groups = await bob.ultraGroups();
    assert.deepEqual(groups.map((g) => g.groupId), ["u1"]);
    assert.deepEqual(groups[0]!.channels, channels);
    const news = channels.find((c) => c.channelId === "news");
    assert.ok(news && news.unread >= 1, JSON.stringify(channels));
    assert.equal(news.lastMessage?.msgUID, ack.msgUID);
    await bob.markRead(channel, ack.seq);
    assert.equal((await bob.ultraGroupChannels("u1")).find((c) => c.channelId === "news")?.unread, 0);

    await alice.editMessage("u1", ack.msgUID, { content: "corrected news" });
    const modify = await bobInbox.next((m) => m.objectName === "RC:MsgModify");
    assert.equal(JSON.parse(modify.content).msgUID, ack.msgUID);
    const [edited] = await bob.history(channel, { limit: 1 });
    assert.equal(JSON.parse(edited!.content).content, "corrected news");
  });

  test("push registration and clicks are accepted, and bad ones refused with their code", async () => {
    await bob.registerPush({ provider: "webhook", token: "bob-web-token", appId: "web" });
    await assert.rejects(
      bob.registerPush({ provider: "carrier-pigeon" as "fcm", token: "t", appId: "web" }),
      (e: unknown) => e instanceof RequestError && e.code === Codes.BAD_REQUEST,
    );
    await bob.pushClicked("huawei");
    await bob.setPushLanguage("en_US");
    await bob.setPushLanguage("");
    await assert.rejects(
      bob.setPushLanguage("not a language"),
      (e: unknown) => e instanceof RequestError && e.code === Codes.BAD_REQUEST,
    );
    await assert.rejects(
      bob.pushClicked("carrier-pigeon" as "fcm"),
      (e: unknown) => e instanceof RequestError && e.code === Codes.BAD_REQUEST,
    );
  });

  test("the heartbeat keeps a quiet session open; without pings the edge closes it", async () => {
    // The edge closes a session silent for 3 s (--idle-timeout-ms 3000) and tells
    // clients to ping every 1 s: the SDK's session survives 4 s of quiet on pings alone.
    const quiet = await dev.client("grace");
    await quiet.connect();
    const pongs = quiet.stats.pongs;
    await new Promise((r) => setTimeout(r, 4_000));
    assert.ok(quiet.stats.pongs - pongs >= 3, `pongs: ${quiet.stats.pongs - pongs}`);
    assert.equal(quiet.stats.reconnects, 0);
    assert.equal(quiet.state, "connected");
    await quiet.close();

    // Control: the same edge, a socket that never pings.
    const url = new URL(dev.endpoints.areas.SG!.edges[0]!.ws);
    url.search = new URLSearchParams({
      appId: dev.app.appKey,
      token: await dev.token("heidi"),
      deviceId: "heidi-raw",
      platform: "Web",
    }).toString();
    const raw = new WebSocket(url);
    const started = Date.now();
    await within(new Promise((r) => raw.once("close", r)), 10_000, "the silent socket is closed");
    assert.ok(Date.now() - started >= 2_500, "closed for silence, not at once");
  });

  test("logout ends the session; later calls fail with ClosedError", async () => {
    const ivan = await dev.client("ivan");
    await ivan.connect();
    await ivan.logout();
    assert.equal(ivan.state, "closed");
    await assert.rejects(ivan.conversations(), ClosedError);
  });
});
