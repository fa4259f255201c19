// The client: one resilient session with an edge (edge/PROTOCOL.md).
//
// Never lose, never duplicate (MSG-01, WEB-03):
// * frames are handled one at a time, in arrival order; a message counts as processed once
//   every `message` listener has returned (async listeners are awaited), and only then is
//   its cursor stored;
// * a reconnect waits until every frame already received has been handled, then resumes
//   from the stored cursor, so the edge sends exactly what was not processed yet;
// * a send keeps its `clientId` until acknowledged and is written again on every new
//   session; the edge stores a repeated `clientId` once and acknowledges it again.
// * at most IN_FLIGHT sends and requests are written and unanswered at a time: the edge
//   queues 32 per session and refuses more with a 20604 that names no request, which
//   would leave that send waiting forever. The rest wait here, in order.

import { callMessage, readCallSignal, type CallEvent, type CallSignal } from "./calls.js";
import { Emitter } from "./emitter.js";
import {
  ClosedError,
  errorFor,
  isFinal,
  isRetriable,
  MeridianError,
  TimeoutError,
} from "./errors.js";
import { downloadFile, edgeBase, uploadFile, type UploadOptions, type Uploaded } from "./files.js";
import { Navigator, NavUnreachableError, splitToken } from "./nav.js";
import type {
  Ack,
  AnswerTo,
  Channel,
  ClientFrame,
  Conversation,
  ConversationType,
  Destination,
  Message,
  PushProvider,
  Reader,
  RequestFrame,
  RoomKind,
  RoomRole,
  SendFrame,
  ServerFrame,
} from "./protocol.js";
import { Room, type RoomSignals } from "./rtc.js";
import { MemoryStore, type KeyValueStore } from "./store.js";

import type {
  ClientEvents,
  ClientOptions,
  ConnectionChange,
  ConnectionState,
  OutgoingMessage,
  WebSocketConstructor,
  WebSocketLike,
} from "./options.js";

/** A send (keyed `s:<clientId>`) or a request (`r:<reqId>`) waiting for its answer. */
interface Pending {
  frame: SendFrame | RequestFrame;
  /** Written on the current session. */
  written: boolean;
  promise?: Promise<Ack>;
  resolve: (answer: never) => void;
  reject: (error: MeridianError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Sends and requests written and not yet answered, per session (the edge queues 32). */
const IN_FLIGHT = 32;
/** How many of its own acknowledged msgUIDs the client remembers (see `ownSent`)... */
const OWN_SENT_KEPT = 4096;
/** ...and how many of the latest it stores, for the sync after a reload. */
const OWN_SENT_STORED = 256;

/** One socket's life. */
interface Session {
  ws: WebSocketLike;
  url: string;
  /** The edge said `connected` and the socket is open: frames may be written. */
  live: boolean;
  /** The edge said `connected` at some point (the session got through). */
  accepted: boolean;
  lastHeard: number;
  heartbeat?: ReturnType<typeof setInterval>;
  /** The edge asked to reconnect after this delay (it is draining). */
  hintMs?: number;
  /** The service refused us for good. */
  final?: MeridianError;
  closed: Promise<void>;
}

/** An invite older than the server's answer timeout (60 s) is not rung back. */
const RING_WINDOW_MS = 60_000;
const CURSOR_KEY = (appKey: string, deviceId: string) => `meridian/${appKey}/${deviceId}/cursor`;
const OWN_KEY = (appKey: string, deviceId: string) => `meridian/${appKey}/${deviceId}/own`;

export class MeridianClient extends Emitter<ClientEvents> {
  private readonly options: Required<
    Pick<ClientOptions, "platform" | "requestTimeoutMs" | "connectTimeoutMs">
  > &
    ClientOptions;
  private readonly store: KeyValueStore;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly navigator: Navigator;
  private readonly idPrefix = Math.random().toString(36).slice(2, 10);
  /** Unanswered sends and requests, oldest first: written in this order, again after a reconnect. */
  private readonly pending = new Map<string, Pending>();
  private inFlight = 0;
  /**
   * msgUIDs this device sent and had acknowledged. The edge hands the sending device an
   * ack, not a copy, while its session lives, and its cursor stays before them until a
   * later message arrives; a sync after a reconnect or a reload would bring them back.
   * The latest are stored beside the cursor so a reloaded page skips them too.
   */
  private readonly ownSent = new Set<string>();
  private nextId = 0;
  private session: Session | undefined;
  /** Frames are handled in this chain, one after another. */
  private inbox: Promise<void> = Promise.resolve();
  private cursorValue: number | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly ready: Promise<{ userId: string; edge: string }>;
  private settleReady!: { resolve: (v: { userId: string; edge: string }) => void; reject: (e: MeridianError) => void };
  private currentState: ConnectionState = "idle";

  /**
   * Sessions that reached `connected` after the first (reconnects), heartbeats answered, and
   * copies of this client's own sends that a resync brought back and were not emitted.
   */
  readonly stats = { reconnects: 0, sessions: 0, pongs: 0, ownCopiesSkipped: 0 };
  /** The signed-in user, once connected. */
  userId: string | undefined;

  constructor(options: ClientOptions) {
    super();
    this.options = {
      platform: "Web",
      requestTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      ...options,
    };
    // The edge refuses these with 1002 on every connect: say so now instead of retrying.
    if (options.deviceId.length < 1 || options.deviceId.length > 64) {
      throw new Error("deviceId must be 1 to 64 characters");
    }
    this.store = options.store ?? new MemoryStore();
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) {
      throw new Error(
        "no WebSocket: pass one (e.g. `import { WebSocket } from 'ws'`) as options.WebSocket",
      );
    }
    this.WebSocketImpl = ws;
    this.navigator = new Navigator({
      appKey: options.appKey,
      navs: options.navs,
      area: options.area,
      store: this.store,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      timeoutMs: options.navTimeoutMs ?? 5_000,
    });
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Rejections are for whoever awaits connect(); never an unhandled one.
    this.ready.catch(() => {});
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The last processed cursor (undefined before the first message on a new device). */
  get cursor(): number | undefined {
    return this.cursorValue;
  }

  /** Which nav answered last ("cache" when none did). */
  get navSource(): string | undefined {
    return this.navigator.lastSource;
  }

  /**
   * Starts the session (nav, then the first edge that accepts) and resolves at the first
   * `connected`. Rejects with `AuthError` (bad token), `BannedError`, or `ClosedError`.
   * After that the client reconnects by itself until `close()` or `logout()`.
   */
  connect(): Promise<{ userId: string; edge: string }> {
    if (this.stopped) return Promise.reject(new ClosedError());
    this.running ??= this.run();
    return this.ready;
  }

  /** Ends the session without logging out; pending sends and requests fail with `ClosedError`. */
  async close(): Promise<void> {
    this.stop(new ClosedError(), "closed", false);
    await this.running;
  }

  /** Logs out this device (the app server hears a logout; its push token is dropped), then closes. */
  async logout(): Promise<void> {
    const session = this.session;
    if (session?.live) {
      this.write(session, { type: "logout" });
      // The edge ends the session; don't wait forever if the socket hangs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([session.closed, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
    }
    this.stop(new ClosedError("logged out"), "logout", false);
    await this.running;
  }

  // ---- messages ----------------------------------------------------------------------

  /** Sends a message; resolves with its acknowledgement once the area's majority stored it. */
  send(message: OutgoingMessage): Promise<Ack> {
    if (this.stopped) return Promise.reject(new ClosedError());
    const clientId = message.clientId ?? `${this.idPrefix}-${++this.nextId}`;
    const existing = this.pending.get(`s:${clientId}`);
    if (existing?.promise) return existing.promise;
    const frame: SendFrame = {
      type: "send",
      clientId,
      conversationType: message.conversationType,
      targetId: message.targetId,
      channelId: message.channelId ?? "",
      objectName: message.objectName,
      content: typeof message.content === "string" ? message.content : JSON.stringify(message.content),
      ...(message.pushContent !== undefined && { pushContent: message.pushContent }),
      ...(message.pushData !== undefined && { pushData: message.pushData }),
      ...(message.toUserIds !== undefined && { toUserIds: message.toUserIds }),
    };
    let pending!: Pending;
    const promise = new Promise<Ack>((resolve, reject) => {
      pending = { frame, written: false, resolve: resolve as (a: never) => void, reject };
    });
    pending.promise = promise;
    this.pending.set(`s:${clientId}`, pending);
    this.pump();
    return promise;
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
    if (this.session?.live) this.write(this.session, { type: "sync", cursor: this.cursorValue ?? 0 });
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
    const answer = await this.request("history", {
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
    const answer = await this.request("search", {
      ...conv(conversation),
      ...(query.keyword !== undefined && { keyword: query.keyword }),
      ...(query.senderUserId !== undefined && { senderUserId: query.senderUserId }),
      limit: query.limit ?? 20,
    });
    return answer.messages;
  }

  /** Recalls a message this user sent; every member gets an `RC:RcCmd` notice. */
  async recall(msgUID: string): Promise<void> {
    await this.request("recall", { msgUID });
  }

  /** Joins a chatroom (leaving any other); resolves with its latest messages, oldest first. */
  async joinChatroom(chatroomId: string): Promise<Message[]> {
    return (await this.request("joinChatroom", { chatroomId })).messages;
  }

  async quitChatroom(chatroomId: string): Promise<void> {
    await this.request("quitChatroom", { chatroomId });
  }

  /** The conversation list: pinned first, then by last message, with unread counts. */
  async conversations(limit = 100): Promise<Conversation[]> {
    return (await this.request("conversations", { limit })).conversations;
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
    await this.request("markRead", { ...conv(conversation), ...mark });
  }

  /** Pins or mutes (do-not-disturb) a conversation for this user. */
  async setConversation(
    conversation: Destination,
    flags: { pinned?: boolean; muted?: boolean },
  ): Promise<void> {
    await this.request("setConversation", { ...conv(conversation), ...flags });
  }

  /** Takes a conversation off this user's list until a newer message arrives in it. */
  async removeConversation(conversation: Destination): Promise<void> {
    await this.request("removeConversation", conv(conversation));
  }

  /** Group read receipts (GRP-03): each sender gets an `RC:RRRspMsg` naming this reader. */
  async groupReceipt(groupId: string, msgUIDs: string[]): Promise<void> {
    await this.request("groupReceipt", { groupId, msgUIDs });
  }

  /** Who read a group message, oldest first. */
  async readers(msgUID: string): Promise<Reader[]> {
    return (await this.request("readers", { msgUID })).readers;
  }

  /** Sets and removes expansion keys of a message (MSG-04). */
  async setExpansion(
    msgUID: string,
    change: { set?: Record<string, string>; remove?: string[] },
  ): Promise<void> {
    await this.request("setExpansion", {
      msgUID,
      set: change.set ?? {},
      remove: change.remove ?? [],
    });
  }

  /** Removes messages from this user's view of a conversation (the other side keeps them). */
  async deleteMessages(conversation: Destination, msgUIDs: string[]): Promise<void> {
    await this.request("deleteMessages", { ...conv(conversation), msgUIDs });
  }

  /** This user's history of the conversation starts after `beforeTime` (ms; 0: now). */
  async clearHistory(conversation: Destination, beforeTime = 0): Promise<void> {
    await this.request("clearHistory", { ...conv(conversation), beforeTime });
  }

  /** The ultra group's channels this user may read, with unread counts (ULG-03). */
  async ultraGroupChannels(groupId: string): Promise<Channel[]> {
    return (await this.request("ultraGroupChannels", { groupId })).channels;
  }

  /** Replaces the content of this user's ultra-group message (ULG-07). */
  async editMessage(groupId: string, msgUID: string, content: string | Record<string, unknown>): Promise<void> {
    const text = typeof content === "string" ? content : JSON.stringify(content);
    await this.request("editMessage", { groupId, msgUID, content: text });
  }

  /**
   * Uploads a file through the file service of the edge this client is connected to
   * (waiting for a connection), as this client's user; send `mediaMessage(uploaded)` next.
   * Refusals reject with a `FileError` (`too_large`, `quota`, `invalid`…).
   */
  async upload(body: Blob | Uint8Array<ArrayBuffer>, file: UploadOptions): Promise<Uploaded> {
    const first = await this.connect();
    const edge = edgeBase(this.session?.url ?? first.edge);
    return uploadFile(edge, splitToken(this.options.token).token, body, file, this.options.fetch);
  }

  /** A file link's bytes as this client's user (the app's private mode asks who reads). */
  async download(url: string): Promise<Blob> {
    return downloadFile(url, splitToken(this.options.token).token, this.options.fetch);
  }

  /** Registers this device for push while it is offline (PUSH-01). */
  async registerPush(push: { provider: PushProvider; token: string; appId: string }): Promise<void> {
    await this.request("registerPush", push);
  }

  /** Sends a signal of call `callId` to its conversation (RTC-03; `calls.ts`). A call
   * starts with an `invite` naming its callees and the room its media goes through. */
  sendCallSignal(to: Destination, callId: string, signal: CallSignal): Promise<Ack> {
    return this.send({ ...to, ...callMessage(callId, signal) });
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
    const joined = await this.request("rtcJoin", { roomId, kind, role });
    // A request is answered only on a session, which told who this user is.
    const userId = this.userId ?? "";
    const token = splitToken(this.options.token).token;
    return new Room(this.roomSignals, joined.room, joined.mediaServer, userId, token);
  }

  private readonly roomSignals: RoomSignals = {
    publish: async (roomId, publish, unpublish) => {
      await this.request("rtcPublish", { roomId, publish, unpublish });
    },
    leave: async (roomId) => {
      await this.request("rtcLeave", { roomId });
    },
    info: async (roomId) => (await this.request("rtcRoom", { roomId })).room,
    setRole: async (roomId, role) => {
      await this.request("rtcSetRole", { roomId, role });
    },
  };

  /** Reports that the user opened a notification from `provider`: counted in the app's
   * push statistics (PUSH-09). Call it from the app's notification tap handler. */
  async pushClicked(provider: PushProvider): Promise<void> {
    await this.request("pushClicked", { provider });
  }

  /** The language of this user's push templates (PUSH-07; e.g. `zh_CN`; `""`: the
   * template's default), as the commercial SDKs' `setPushLanguageCode`. */
  async setPushLanguage(language: string): Promise<void> {
    await this.request("setPushLanguage", { language });
  }

  private request<T extends RequestFrame["type"]>(
    type: T,
    body: Omit<Extract<RequestFrame, { type: T }>, "type" | "reqId">,
  ): Promise<AnswerTo<T>> {
    if (this.stopped) return Promise.reject(new ClosedError());
    const reqId = ++this.nextId;
    const frame = { type, reqId, ...body } as unknown as RequestFrame;
    return new Promise<AnswerTo<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answered(`r:${reqId}`);
        reject(new TimeoutError(type, this.options.requestTimeoutMs));
      }, this.options.requestTimeoutMs);
      const pending = { frame, written: false, resolve: resolve as (a: never) => void, reject, timer };
      this.pending.set(`r:${reqId}`, pending);
      this.pump();
    });
  }

  /** Writes waiting sends and requests, oldest first, while the window has room. */
  private pump(): void {
    const session = this.session;
    if (!session?.live) return;
    for (const pending of this.pending.values()) {
      if (this.inFlight >= IN_FLIGHT) return;
      if (pending.written) continue;
      pending.written = true;
      this.inFlight += 1;
      this.write(session, pending.frame);
    }
  }

  /** Takes an answered (or abandoned) entry out, freeing its place in the window. */
  private answered(key: string): Pending | undefined {
    const pending = this.pending.get(key);
    if (!pending) return undefined;
    this.pending.delete(key);
    clearTimeout(pending.timer);
    if (pending.written) this.inFlight -= 1;
    this.pump();
    return pending;
  }

  // ---- the connection loop -----------------------------------------------------------

  private async run(): Promise<void> {
    const stored = await this.store.get(CURSOR_KEY(this.options.appKey, this.options.deviceId));
    this.cursorValue = stored === undefined ? undefined : Number(stored);
    const own = await this.store.get(OWN_KEY(this.options.appKey, this.options.deviceId));
    for (const msgUID of own === undefined ? [] : (JSON.parse(own) as string[])) {
      this.ownSent.add(msgUID);
    }
    let failures = 0;
    let everConnected = false;
    while (!this.stopped) {
      this.setState({ state: everConnected ? "reconnecting" : "connecting" });
      let hintMs: number | undefined;
      let reason = "dropped";
      try {
        const route = await this.navigator.route(this.options.token);
        if (this.stopped) return;
        // The first edge that accepts a session wins; a connected session that ends goes
        // back to nav, whose answer may have changed (an edge drained or died).
        for (const edge of route.edges) {
          const session = await this.connectTo(edge.ws);
          if (session.accepted) {
            everConnected = true;
            failures = 0;
          }
          if (session.final) return this.finish(session.final);
          if (this.stopped) return;
          if (session.hintMs !== undefined) {
            hintMs = session.hintMs;
            reason = "drain";
          }
          if (session.accepted || hintMs !== undefined) break;
        }
      } catch (e) {
        if (e instanceof MeridianError && !(e instanceof NavUnreachableError)) {
          return this.finish(e);
        }
        reason = "nav";
      }
      if (this.stopped) return;
      failures += 1;
      const wait = hintMs !== undefined ? hintMs + Math.random() * hintMs : this.backoff(failures);
      const state = everConnected ? "reconnecting" : "connecting";
      this.setState({ state, retryInMs: Math.round(wait), reason });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Doubling delays with "equal jitter": clients dropped together don't return together. */
  private backoff(failures: number): number {
    const first = this.options.backoff?.firstMs ?? 250;
    const max = this.options.backoff?.maxMs ?? 10_000;
    const cap = Math.min(max, first * 2 ** Math.min(failures - 1, 30));
    return cap / 2 + (Math.random() * cap) / 2;
  }

  /** Runs one socket to its end; resolves once every frame it brought has been handled. */
  private connectTo(base: string): Promise<Session> {
    const params = new URLSearchParams({
      appId: this.options.appKey,
      token: splitToken(this.options.token).token,
      deviceId: this.options.deviceId,
      platform: this.options.platform,
    });
    if (this.cursorValue !== undefined) params.set("cursor", String(this.cursorValue));
    const url = `${base}?${params}`;
    return new Promise<Session>((resolve) => {
      let ws: WebSocketLike;
      try {
        ws = new this.WebSocketImpl(url);
      } catch {
        // A malformed edge URL in nav's answer: try the next edge.
        resolve({ ws: NO_SOCKET, url: base, live: false, accepted: false, lastHeard: 0, closed: Promise.resolve() });
        return;
      }
      let closed!: () => void;
      const session: Session = {
        ws,
        url: base,
        live: false,
        accepted: false,
        lastHeard: Date.now(),
        closed: new Promise((r) => (closed = r)),
      };
      this.session = session;
      const opening = setTimeout(() => session.live || ws.close(), this.options.connectTimeoutMs);
      ws.onmessage = (event: { data: unknown }) => {
        session.lastHeard = Date.now();
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(event.data)) as ServerFrame;
        } catch {
          return; // Not ours to understand; the edge only sends JSON text.
        }
        this.inbox = this.inbox
          .then(() => this.handle(session, frame))
          .catch((e: unknown) => {
            // A store write failed (or a listener broke the chain): start a new session,
            // which resumes after the last message processed.
            console.error("meridian: handling a frame failed", e);
            session.ws.close();
          });
      };
      ws.onerror = () => {}; // `close` follows and does the work.
      ws.onclose = () => {
        clearTimeout(opening);
        clearInterval(session.heartbeat);
        session.live = false;
        closed();
        this.inbox = this.inbox.then(() => {
          if (this.session === session) this.session = undefined;
          resolve(session);
        });
      };
    });
  }

  private async handle(session: Session, frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case "connected": {
        session.live = true;
        session.accepted = true;
        this.userId = frame.userId;
        this.stats.sessions += 1;
        if (this.stats.sessions > 1) this.stats.reconnects += 1;
        this.startHeartbeat(session, frame.heartbeatMs);
        // Everything unanswered goes out again, in the order it was first asked.
        this.inFlight = 0;
        for (const pending of this.pending.values()) pending.written = false;
        this.pump();
        this.setState({ state: "connected", edge: session.url, userId: frame.userId });
        this.settleReady.resolve({ userId: frame.userId, edge: session.url });
        return;
      }
      case "message": {
        // The edge never repeats a cursor; this guards the resume against any overlap.
        if (frame.cursor > 0 && this.cursorValue !== undefined && frame.cursor <= this.cursorValue) return;
        const { type: _type, ...message } = frame;
        if (this.isOwnCopy(message)) this.stats.ownCopiesSkipped += 1;
        else {
          await this.emit("message", message);
          const call = readCallSignal(message);
          if (call) await this.callSignalled(call);
        }
        if (frame.cursor > 0) await this.saveCursor(frame.cursor);
        return;
      }
      case "synced":
        if (frame.cursor > (this.cursorValue ?? 0)) await this.saveCursor(frame.cursor);
        await this.emit("synced", { cursor: frame.cursor });
        return;
      case "ack": {
        const { type: _type, ...ack } = frame;
        await this.rememberOwn(frame.msgUID);
        this.answered(`s:${frame.clientId}`)?.resolve(ack as never);
        return;
      }
      case "error":
        return this.refused(session, frame);
      case "kicked":
        if (isFinal(frame.code)) session.final = errorFor(frame.code, frame.reason);
        await this.emit("kicked", { code: frame.code, reason: frame.reason });
        return;
      case "chatroomLeft":
        await this.emit("chatroomLeft", { chatroomId: frame.chatroomId, code: frame.code });
        return;
      case "reconnect":
        // The edge is draining: leave now, come back through nav after the hinted delay.
        session.hintMs = frame.afterMs;
        session.ws.close();
        return;
      case "rtcEvent":
        // Room notices reach online devices only (not replayed): the cursor stays.
        await this.emit("rtcEvent", { roomId: frame.roomId, version: frame.version, notice: frame.notice });
        return;
      case "pong":
        this.stats.pongs += 1;
        await this.emit("pong", { serverTime: frame.serverTime });
        return;
      default:
        this.answered(`r:${frame.reqId}`)?.resolve(frame as never);
    }
  }

  private refused(session: Session, frame: Extract<ServerFrame, { type: "error" }>): void {
    const error = errorFor(frame.code, frame.message);
    if (isRetriable(frame.code)) {
      // The area is unreachable from this edge: a new session resends what is pending.
      session.ws.close();
      return;
    }
    if (frame.clientId !== undefined) {
      this.answered(`s:${frame.clientId}`)?.reject(error);
    } else if (frame.reqId !== undefined) {
      this.answered(`r:${frame.reqId}`)?.reject(error);
    } else if (isFinal(frame.code)) {
      session.final = error; // A refused session (bad token, banned): the socket closes next.
    }
  }

  private startHeartbeat(session: Session, heartbeatMs: number): void {
    const every = Math.max(100, heartbeatMs);
    session.heartbeat = setInterval(() => {
      // Nothing heard for two beats (not even a pong): the link is dead though no close came.
      if (Date.now() - session.lastHeard > 2 * every) {
        session.ws.close();
        return;
      }
      this.write(session, { type: "ping" });
    }, every);
  }

  private write(session: Session, frame: ClientFrame): void {
    try {
      session.ws.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its `close` event triggers the reconnect and the resend.
    }
  }

  /**
   * A copy of one of this client's sends that a sync brought back: an acknowledged one,
   * or one written before a disconnect and not yet acknowledged again (its ack, naming
   * the same message, follows the sync), recognised by destination, type and content.
   */
  private isOwnCopy(message: Message): boolean {
    if (message.senderUserId !== this.userId) return false;
    if (this.ownSent.has(message.msgUID)) return true;
    for (const pending of this.pending.values()) {
      const f = pending.frame;
      if (
        f.type === "send" &&
        f.conversationType === message.conversationType &&
        f.targetId === message.targetId &&
        f.channelId === message.channelId &&
        f.objectName === message.objectName &&
        f.content === message.content
      ) {
        return true;
      }
    }
    return false;
  }

  private async rememberOwn(msgUID: string): Promise<void> {
    if (this.ownSent.has(msgUID)) return;
    this.ownSent.add(msgUID);
    if (this.ownSent.size > OWN_SENT_KEPT) {
      this.ownSent.delete(this.ownSent.values().next().value as string);
    }
    const latest = [...this.ownSent].slice(-OWN_SENT_STORED);
    await this.store.set(OWN_KEY(this.options.appKey, this.options.deviceId), JSON.stringify(latest));
  }

  private async saveCursor(cursor: number): Promise<void> {
    this.cursorValue = cursor;
    await this.store.set(CURSOR_KEY(this.options.appKey, this.options.deviceId), String(cursor));
  }

  private setState(change: ConnectionChange): void {
    this.currentState = change.state;
    void this.emit("connection", change);
  }

  /** The service ended the session for good (bad token, banned, logged in elsewhere). */
  private finish(error: MeridianError): void {
    this.stop(error, error.message, true);
  }

  private stop(error: MeridianError, reason: string, final: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    this.settleReady.reject(error);
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    this.session?.ws.close();
    this.wake?.();
    this.setState({ state: "closed", reason, ...(final && { error }) });
  }
}

const NO_SOCKET: WebSocketLike = {
  send() {},
  close() {},
  onopen: null,
  onmessage: null,
  onclose: null,
  onerror: null,
};

function conv(d: Destination): { conversationType: ConversationType; targetId: string; channelId: string } {
  return { conversationType: d.conversationType, targetId: d.targetId, channelId: d.channelId ?? "" };
}
