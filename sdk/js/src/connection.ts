// The connection under a `MeridianClient` (`client.ts`): one resilient session with an
// edge (edge/PROTOCOL.md), through nav, reconnecting by itself until it is closed.
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

import {
  ClosedError,
  errorFor,
  isFinal,
  isRetriable,
  MeridianError,
  TimeoutError,
} from "./errors.js";
import { Navigator, NavUnreachableError, splitToken } from "./nav.js";
import type { Ack, AnswerTo, ClientFrame, Message, RequestFrame, SendFrame, ServerFrame } from "./protocol.js";
import { MemoryStore, type KeyValueStore } from "./store.js";

import type {
  ClientEvents,
  ClientOptions,
  ConnectionChange,
  ConnectionState,
  WebSocketConstructor,
  WebSocketLike,
} from "./options.js";

/** What a connection hands up to its client. */
export interface ClientHooks {
  /** Tells the app's listeners; resolves once they all returned. */
  emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): Promise<void>;
  /** A message for this device, not a copy of its own send: processed once this resolves. */
  received(message: Message): Promise<void>;
}

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

const CURSOR_KEY = (appKey: string, deviceId: string) => `meridian/${appKey}/${deviceId}/cursor`;
const OWN_KEY = (appKey: string, deviceId: string) => `meridian/${appKey}/${deviceId}/own`;

/** Stands in for a socket that could not be made (a malformed edge URL). */
const NO_SOCKET: WebSocketLike = {
  send() {},
  close() {},
  onopen: null,
  onmessage: null,
  onclose: null,
  onerror: null,
};

export class Connection {
  private readonly options: Required<
    Pick<ClientOptions, "platform" | "requestTimeoutMs" | "connectTimeoutMs">
  > &
    ClientOptions;
  private readonly store: KeyValueStore;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly navigator: Navigator;
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
  private lastReqId = 0;
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

  /** Counters the client shows as `MeridianClient.stats` (told there). */
  readonly stats = { reconnects: 0, sessions: 0, pongs: 0, ownCopiesSkipped: 0 };
  /** The signed-in user, once connected. */
  userId: string | undefined;

  constructor(
    options: ClientOptions,
    private readonly client: ClientHooks,
  ) {
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

  /** The WebSocket URL of the edge of the current socket, if there is one. */
  get edge(): string | undefined {
    return this.session?.url;
  }

  /** Starts the loop (once) and resolves at the first `connected`; see `MeridianClient.connect`. */
  connect(): Promise<{ userId: string; edge: string }> {
    if (this.stopped) return Promise.reject(new ClosedError());
    this.running ??= this.run();
    return this.ready;
  }

  async close(): Promise<void> {
    this.stop(new ClosedError(), "closed", false);
    await this.running;
  }

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

  // ---- sends and requests ------------------------------------------------------------

  /** Queues a send; a repeated `clientId` still waiting gets the same promise. */
  send(frame: SendFrame): Promise<Ack> {
    if (this.stopped) return Promise.reject(new ClosedError());
    const existing = this.pending.get(`s:${frame.clientId}`);
    if (existing?.promise) return existing.promise;
    let pending!: Pending;
    const promise = new Promise<Ack>((resolve, reject) => {
      pending = { frame, written: false, resolve: resolve as (a: never) => void, reject };
    });
    pending.promise = promise;
    this.pending.set(`s:${frame.clientId}`, pending);
    this.pump();
    return promise;
  }

  /** Asks the edge to send everything after the current cursor again, then `synced`. */
  resync(): void {
    if (this.session?.live) this.write(this.session, { type: "sync", cursor: this.cursorValue ?? 0 });
  }

  /** Queues a request; it fails with a `TimeoutError` if unanswered in `requestTimeoutMs`. */
  request<T extends RequestFrame["type"]>(
    type: T,
    body: Omit<Extract<RequestFrame, { type: T }>, "type" | "reqId">,
  ): Promise<AnswerTo<T>> {
    if (this.stopped) return Promise.reject(new ClosedError());
    const reqId = ++this.lastReqId;
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
        else await this.client.received(message);
        if (frame.cursor > 0) await this.saveCursor(frame.cursor);
        return;
      }
      case "synced":
        if (frame.cursor > (this.cursorValue ?? 0)) await this.saveCursor(frame.cursor);
        await this.client.emit("synced", { cursor: frame.cursor });
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
        await this.client.emit("kicked", { code: frame.code, reason: frame.reason });
        return;
      case "chatroomLeft":
        await this.client.emit("chatroomLeft", { chatroomId: frame.chatroomId, code: frame.code });
        return;
      case "reconnect":
        // The edge is draining: leave now, come back through nav after the hinted delay.
        session.hintMs = frame.afterMs;
        session.ws.close();
        return;
      case "rtcEvent":
        // Room notices reach online devices only (not replayed): the cursor stays.
        await this.client.emit("rtcEvent", { roomId: frame.roomId, version: frame.version, notice: frame.notice });
        return;
      case "pong":
        this.stats.pongs += 1;
        await this.client.emit("pong", { serverTime: frame.serverTime });
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
    void this.client.emit("connection", change);
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
