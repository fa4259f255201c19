// The client's public options and events: what an app passes to `MeridianClient` and
// what it listens to.

import type { MeridianError } from "./errors.js";
import type { CallEvent } from "./calls.js";
import type { Destination, Message, Platform, RoomEvent } from "./protocol.js";
import type { KeyValueStore } from "./store.js";

/**
 * What the client needs of a WebSocket: the browser's, Node 22's, or the `ws` package's.
 * Handlers take `any` events because each implementation declares its own event types.
 */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** The App Key. */
  appKey: string;
  /** From the Server API's `/user/getToken.json` (nav hosts after `@` are used first). */
  token: string;
  /** Nav base URLs, primary first (e.g. `["https://nav.example", "https://nav-backup.example"]`). */
  navs: string[];
  /** Stable per user and device (1–64 characters): it keys the stored cursor too. */
  deviceId: string;
  platform?: Platform;
  /** The area the app lives in, if known (nav then refuses other areas' apps). */
  area?: string;
  /** Keeps the cursor and nav's last answer; memory unless given (`IndexedDbStore`, `FileStore`). */
  store?: KeyValueStore;
  /** Defaults to `globalThis.WebSocket`; in Node 20 pass the `ws` package's `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /** Reconnect delays: doubling from `firstMs` up to `maxMs`, each jittered (default 250, 10000). */
  backoff?: { firstMs?: number; maxMs?: number };
  /** How long a request waits for its answer across reconnects (default 30 s). */
  requestTimeoutMs?: number;
  navTimeoutMs?: number;
  /** From opening a socket to the edge's `connected` frame (default 10 s). */
  connectTimeoutMs?: number;
  /** Answer a fresh call invite to this user with `ringing` at once (default true). */
  ringOnInvite?: boolean;
}

/** "idle" until `connect()`; "closed" after `close()`, `logout()` or a final refusal. */
export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export interface ConnectionChange {
  state: ConnectionState;
  /** The edge's WebSocket URL, when connected. */
  edge?: string;
  userId?: string;
  /** When reconnecting: in how long the next attempt starts. */
  retryInMs?: number;
  /** Why: "drain" (the edge asked to reconnect), "dropped", "nav", "closed", "logout", or an error. */
  reason?: string;
  /** When closed for good by the service (bad token, banned, logged in elsewhere). */
  error?: MeridianError;
}

export interface ClientEvents {
  /** A message for this device, once each, in feed order; the cursor moves after listeners return. */
  message: Message;
  /** Offline sync is complete up to `cursor`; live messages follow. */
  synced: { cursor: number };
  /** The edge ended the session (31010 logged in elsewhere, 31009 banned, 31011 too slow). */
  kicked: { code: number; reason: string };
  /** This device left a chatroom without asking: 23409 kicked or banned, 23410 destroyed. */
  chatroomLeft: { chatroomId: string; code: number };
  connection: ConnectionChange;
  /** Every `pong` (the heartbeat's answer). */
  pong: { serverTime: number };
  /** A change in an audio/video room this user is in (online devices only). */
  rtcEvent: RoomEvent;
  /** A call signal (RTC-03), after its `message` event. */
  call: CallEvent;
}

/** A message to send. Objects as `content` are JSON-encoded. */
export interface OutgoingMessage extends Destination {
  /** E.g. `RC:TxtMsg`, `RC:ImgMsg`, or the app's own type. */
  objectName: string;
  content: string | Record<string, unknown>;
  pushContent?: string;
  pushData?: string;
  /** A directed group message: only these members see it. */
  toUserIds?: string[];
  /** Pass your own (1–64 characters) to keep a send idempotent across client restarts. */
  clientId?: string;
}
