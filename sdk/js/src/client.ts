// The client: what an app calls (messages, requests, files, calls, rooms) and listens to.
// The session with an edge underneath, and how it never loses nor duplicates a message,
// is `connection.ts`.

import { callMessage, readCallSignal, type CallEvent, type CallSignal } from "./calls.js";
import { Connection } from "./connection.js";
import { Emitter } from "./emitter.js";
import { downloadFile, edgeBase, uploadFile, type UploadOptions, type Uploaded } from "./files.js";
import { splitToken } from "./nav.js";
import type {
  Ack,
  Channel,
  UltraGroup,
  Conversation,
  ConversationType,
  Destination,
  Message,
  PushProvider,
  Reader,
  RoomKind,
  RoomRole,
} from "./protocol.js";
import { Room, type RoomSignals } from "./rtc.js";

import type { ClientEvents, ClientOptions, ConnectionState, OutgoingMessage } from "./options.js";

/** An invite older than the server's answer timeout (60 s) is not rung back. */
const RING_WINDOW_MS = 60_000;

export class MeridianClient extends Emitter<ClientEvents> {
  private readonly options: ClientOptions;
  private readonly connection: Connection;
  /** A send without a `clientId` of its own gets this prefix and a count. */
  private readonly idPrefix = Math.random().toString(36).slice(2, 10);
  private lastSendId = 0;

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.connection = new Connection(options, {
      emit: (event, value) => this.emit(event, value),
      received: (message) => this.received(message),
    });
  }

  /**
   * Sessions that reached `connected` after the first (reconnects), heartbeats answered, and
   * copies of this client's own sends that a resync brought back and were not emitted.
   */
  get stats() {
    return this.connection.stats;
  }

  /** The signed-in user, once connected. */
  get userId(): string | undefined {
    return this.connection.userId;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The last processed cursor (undefined before the first message on a new device). */
  get cursor(): number | undefined {
    return this.connection.cursor;
  }

  /** Which nav answered last ("cache" when none did). */
  get navSource(): string | undefined {
    return this.connection.navSource;
  }

  /**
   * Starts the session (nav, then the first edge that accepts) and resolves at the first
   * `connected`. Rejects with `AuthError` (bad token), `BannedError`, or `ClosedError`.
   * After that the client reconnects by itself until `close()` or `logout()`.
   */
  connect(): Promise<{ userId: string; edge: string }> {
    return this.connection.connect();
  }

  /** Ends the session without logging out; pending sends and requests fail with `ClosedError`. */
  close(): Promise<void> {
    return this.connection.close();
  }

  /** Logs out this device (the app server hears a logout; its push token is dropped), then closes. */
  logout(): Promise<void> {
    return this.connection.logout();
  }

  // ---- messages ----------------------------------------------------------------------

  /** Sends a message; resolves with its acknowledgement once the area's majority stored it. */
  send(message: OutgoingMessage): Promise<Ack> {
    return this.connection.send({
      type: "send",
      clientId: message.clientId ?? `${this.idPrefix}-${++this.lastSendId}`,
      conversationType: message.conversationType,
      targetId: message.targetId,
      channelId: message.channelId ?? "",
      objectName: message.objectName,
      content: typeof message.content === "string" ? message.content : JSON.stringify(message.content),
      ...(message.pushContent !== undefined && { pushContent: message.pushContent }),
      ...(message.pushData !== undefined && { pushData: message.pushData }),
      ...(message.toUserIds !== undefined && { toUserIds: message.toUserIds }),
    });
  }

  /** A text message (`RC:TxtMsg`). */
  sendText(to: Destination, text: string, extra: Partial<OutgoingMessage> = {}): Promise<Ack> {
    return this.send({ ...extra, ...to, objectName: "RC:TxtMsg", content: { content: text } });
  }

  /** "Typing…" (`RC:TypSts`): reaches online devices only and is never stored (PRV-12). */
  sendTyping(to: Destination, typingContentType = "RC:TxtMsg"): Promise<Ack> {
    return this.send({ ...to, objectName: "RC:TypSts", content: { typingContentType } });
  }

  /** A private read receipt (PRV-07): tells `peer` this user read up to `message`. */
  sendReadReceipt(peer: string, message: Pick<Message, "msgUID" | "sentTime">): Promise<Ack> {
    return this.send({
      conversationType: 1,
      targetId: peer,
      objectName: "RC:ReadNtf",
      content: { lastMessageSendTime: message.sentTime, messageUId: message.msgUID, type: 1 },
    });
  }

  /** Asks the edge to send everything after the current cursor again, then `synced`. */
  resync(): void {
    this.connection.resync();
  }

  // ---- requests ----------------------------------------------------------------------

  /**
   * A page of history, newest first, sent before `beforeTime` (ms; 0 or left out: now);
   * with `afterTime`, oldest first, sent after it.
   */
  async history(
    conversation: Destination,
    page: { beforeTime?: number; afterTime?: number; limit?: number } = {},
  ): Promise<Message[]> {
    const answer = await this.connection.request("history", {
      ...conv(conversation),
      beforeTime: page.beforeTime ?? 0,
      ...(page.afterTime === undefined ? {} : { afterTime: page.afterTime }),
      limit: page.limit ?? 20,
    });
    return answer.messages;
  }

  /** Searches a conversation by keyword (case-insensitive) and/or sender, newest first. */
  async search(
    conversation: Destination,
    query: { keyword?: string; senderUserId?: string; limit?: number },
  ): Promise<Message[]> {
    const answer = await this.connection.request("search", {
      ...conv(conversation),
      ...(query.keyword !== undefined && { keyword: query.keyword }),
      ...(query.senderUserId !== undefined && { senderUserId: query.senderUserId }),
      limit: query.limit ?? 20,
    });
    return answer.messages;
  }

  /** Recalls a message this user sent; every member gets an `RC:RcCmd` notice. */
  async recall(msgUID: string): Promise<void> {
    await this.connection.request("recall", { msgUID });
  }

  /** Joins a chatroom (leaving any other); resolves with its latest messages, oldest first. */
  async joinChatroom(chatroomId: string): Promise<Message[]> {
    return (await this.connection.request("joinChatroom", { chatroomId })).messages;
  }

  async quitChatroom(chatroomId: string): Promise<void> {
    await this.connection.request("quitChatroom", { chatroomId });
  }

  /** The conversation list: pinned first, then by last message, with unread counts. */
  async conversations(limit = 100): Promise<Conversation[]> {
    return (await this.connection.request("conversations", { limit })).conversations;
  }

  /**
   * This user read `conversation` up to `seq` (a number, or `{ seq }`), or up to the last
   * message sent at or before `{ readTime }` (ms): its unread count drops.
   */
  async markRead(
    conversation: Destination,
    upTo: number | { seq: number } | { readTime: number },
  ): Promise<void> {
    const mark = typeof upTo === "number" ? { seq: upTo } : upTo;
    await this.connection.request("markRead", { ...conv(conversation), ...mark });
  }

  /** Pins or mutes (do-not-disturb) a conversation for this user. */
  async setConversation(
    conversation: Destination,
    flags: { pinned?: boolean; muted?: boolean },
  ): Promise<void> {
    await this.connection.request("setConversation", { ...conv(conversation), ...flags });
  }

  /** Takes a conversation off this user's list until a newer message arrives in it. */
  async removeConversation(conversation: Destination): Promise<void> {
    await this.connection.request("removeConversation", conv(conversation));
  }

  /** Takes up to 100 conversations off this user's list at once, all or none. */
  async removeConversations(conversations: Destination[]): Promise<void> {
    await this.connection.request("removeConversations", { conversations: conversations.map(conv) });
  }

  /** Group read receipts (GRP-03): each sender gets an `RC:RRRspMsg` naming this reader. */
  async groupReceipt(groupId: string, msgUIDs: string[]): Promise<void> {
    await this.connection.request("groupReceipt", { groupId, msgUIDs });
  }

  /** Who read a group message, oldest first. */
  async readers(msgUID: string): Promise<Reader[]> {
    return (await this.connection.request("readers", { msgUID })).readers;
  }

  /** Sets and removes expansion keys of a message (MSG-04). */
  async setExpansion(
    msgUID: string,
    change: { set?: Record<string, string>; remove?: string[] },
  ): Promise<void> {
    await this.connection.request("setExpansion", {
      msgUID,
      set: change.set ?? {},
      remove: change.remove ?? [],
    });
  }

  /** Removes messages from this user's view of a conversation (the other side keeps them). */
  async deleteMessages(conversation: Destination, msgUIDs: string[]): Promise<void> {
    await this.connection.request("deleteMessages", { ...conv(conversation), msgUIDs });
  }

  /** This user's history of the conversation starts after `beforeTime` (ms; 0: now). */
  async clearHistory(conversation: Destination, beforeTime = 0): Promise<void> {
    await this.connection.request("clearHistory", { ...conv(conversation), beforeTime });
  }

  /** The ultra group's channels this user may read, with unread counts (ULG-03). */
  async ultraGroupChannels(groupId: string): Promise<Channel[]> {
    return (await this.connection.request("ultraGroupChannels", { groupId })).channels;
  }

  /** This user's ultra groups (the first 500 by id), each with its channels as `ultraGroupChannels` gives them. */
  async ultraGroups(): Promise<UltraGroup[]> {
    return (await this.connection.request("ultraGroups", {})).groups;
  }

  /** Replaces the content of this user's ultra-group message (ULG-07). */
  async editMessage(groupId: string, msgUID: string, content: string | Record<string, unknown>): Promise<void> {
    const text = typeof content === "string" ? content : JSON.stringify(content);
    await this.connection.request("editMessage", { groupId, msgUID, content: text });
  }

  /**
   * Uploads a file through the file service of the edge this client is connected to
   * (waiting for a connection), as this client's user; send `mediaMessage(uploaded)` next.
   * Refusals reject with a `FileError` (`too_large`, `quota`, `invalid`…).
   */
  async upload(body: Blob | Uint8Array<ArrayBuffer>, file: UploadOptions): Promise<Uploaded> {
    const first = await this.connect();
    const edge = edgeBase(this.connection.edge ?? first.edge);
    return uploadFile(edge, splitToken(this.options.token).token, body, file, this.options.fetch);
  }

  /** A file link's bytes as this client's user (the app's private mode asks who reads). */
  async download(url: string): Promise<Blob> {
    return downloadFile(url, splitToken(this.options.token).token, this.options.fetch);
  }

  /** Registers this device for push while it is offline (PUSH-01). */
  async registerPush(push: { provider: PushProvider; token: string; appId: string }): Promise<void> {
    await this.connection.request("registerPush", push);
  }

  /** Sends a signal of call `callId` to its conversation (RTC-03; `calls.ts`). A call
   * starts with an `invite` naming its callees and the room its media goes through. */
  sendCallSignal(to: Destination, callId: string, signal: CallSignal): Promise<Ack> {
    return this.send({ ...to, ...callMessage(callId, signal) });
  }

  /** Tells the listeners of a message; then, if it is a call signal, `callSignalled`. */
  private async received(message: Message): Promise<void> {
    await this.emit("message", message);
    const call = readCallSignal(message);
    if (call) await this.callSignalled(call);
  }

  /** Tells listeners of a call signal; rings back a fresh invite to this user, as the
   * CallLib does, so the caller hears that a device is ringing. */
  private async callSignalled(call: CallEvent): Promise<void> {
    await this.emit("call", call);
    const { signal } = call;
    const fresh = Date.now() - call.sentTime < RING_WINDOW_MS;
    const mine = this.userId !== undefined && signal.kind === "invite" && signal.callees.includes(this.userId);
    if (mine && fresh && call.from !== this.userId && this.options.ringOnInvite !== false) {
      // Not awaited: its ack comes through this same frame chain.
      this.sendCallSignal(call.destination, call.callId, { kind: "ringing" }).catch(() => undefined);
    }
  }

  /** Joins an audio/video room, creating it if nobody is in it (RTC-01). Its changes
   * come as `rtcEvent`s; media goes through the returned `Room` (`rtc.ts`). */
  async joinRoom(roomId: string, kind: RoomKind, role: RoomRole): Promise<Room> {
    const joined = await this.connection.request("rtcJoin", { roomId, kind, role });
    // A request is answered only on a session, which told who this user is.
    const userId = this.userId ?? "";
    const token = splitToken(this.options.token).token;
    return new Room(this.roomSignals, joined.room, joined.mediaServer, userId, token);
  }

  private readonly roomSignals: RoomSignals = {
    publish: async (roomId, publish, unpublish) => {
      await this.connection.request("rtcPublish", { roomId, publish, unpublish });
    },
    leave: async (roomId) => {
      await this.connection.request("rtcLeave", { roomId });
    },
    info: async (roomId) => (await this.connection.request("rtcRoom", { roomId })).room,
    setRole: async (roomId, role) => {
      await this.connection.request("rtcSetRole", { roomId, role });
    },
  };

  /** Reports that the user opened a notification from `provider`: counted in the app's
   * push statistics (PUSH-09). Call it from the app's notification tap handler. */
  async pushClicked(provider: PushProvider): Promise<void> {
    await this.connection.request("pushClicked", { provider });
  }

  /** The language of this user's push templates (PUSH-07; e.g. `zh_CN`; `""`: the
   * template's default), as the commercial SDKs' `setPushLanguageCode`. */
  async setPushLanguage(language: string): Promise<void> {
    await this.connection.request("setPushLanguage", { language });
  }

}

function conv(d: Destination): { conversationType: ConversationType; targetId: string; channelId: string } {
  return { conversationType: d.conversationType, targetId: d.targetId, channelId: d.channelId ?? "" };
}
