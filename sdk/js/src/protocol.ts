// The frames of edge/PROTOCOL.md, as TypeScript types. The Rust crate `meridian-proto`
// (proto/src/lib.rs) is the source of truth; field names here are its JSON names.

/** 1 private, 3 group, 4 chatroom, 6 system, 10 ultra group. */
export type ConversationType = 1 | 3 | 4 | 6 | 10;

export const ConversationTypes = {
  PRIVATE: 1,
  GROUP: 3,
  CHATROOM: 4,
  SYSTEM: 6,
  ULTRA_GROUP: 10,
} as const;

export type Platform =
  | "iOS"
  | "Android"
  | "HarmonyOS"
  | "Windows"
  | "macOS"
  | "Linux"
  | "Electron"
  | "PC"
  | "Web"
  | "MiniProgram";

/** A message as a client sees it. */
export interface Message {
  /** Feed position: the device's sync cursor after this message (0 in history pages). */
  cursor: number;
  msgUID: string;
  /** Order within the conversation; 0 for status messages, which are not stored. */
  seq: number;
  conversationType: ConversationType;
  /** The conversation as this user sees it: the peer for private chats. */
  targetId: string;
  channelId: string;
  senderUserId: string;
  objectName: string;
  content: string;
  sentTime: number;
  pushContent?: string;
  pushData?: string;
  recalled: boolean;
  /** The sender edited it (ultra groups). */
  modified?: boolean;
}

export interface Conversation {
  conversationType: ConversationType;
  targetId: string;
  channelId: string;
  unread: number;
  pinned: boolean;
  muted: boolean;
  lastMessage?: Message;
}

export interface Channel {
  channelId: string;
  unread: number;
  lastMessage?: Message;
}

/** One of the user's ultra groups, with the channels the user may read. */
export interface UltraGroup {
  groupId: string;
  channels: Channel[];
}

export interface Reader {
  userId: string;
  readTime: number;
}

/** Where a message goes: private (1), group (3), chatroom (4) or ultra group (10). */
export interface Destination {
  conversationType: ConversationType;
  targetId: string;
  /** Ultra-group channel; "" (the default channel) when left out. */
  channelId?: string;
}

// ---- client → edge -------------------------------------------------------------------

export interface SendFrame {
  type: "send";
  clientId: string;
  conversationType: ConversationType;
  targetId: string;
  channelId?: string;
  objectName: string;
  content: string;
  pushContent?: string;
  pushData?: string;
  toUserIds?: string[];
}

type Conv = { conversationType: ConversationType; targetId: string; channelId?: string };

/** Requests the edge answers with a frame carrying the same `reqId`. */
export type RequestFrame =
  | ({ type: "history"; reqId: number; beforeTime: number; afterTime?: number; limit: number } & Conv)
  | { type: "recall"; reqId: number; msgUID: string }
  | { type: "joinChatroom"; reqId: number; chatroomId: string }
  | { type: "quitChatroom"; reqId: number; chatroomId: string }
  | { type: "conversations"; reqId: number; limit: number }
  | ({ type: "markRead"; reqId: number } & ({ seq: number } | { readTime: number }) & Conv)
  | ({ type: "setConversation"; reqId: number; pinned?: boolean; muted?: boolean } & Conv)
  | ({ type: "removeConversation"; reqId: number } & Conv)
  | { type: "removeConversations"; reqId: number; conversations: Conv[] }
  | { type: "groupReceipt"; reqId: number; groupId: string; msgUIDs: string[] }
  | { type: "readers"; reqId: number; msgUID: string }
  | {
      type: "setExpansion";
      reqId: number;
      msgUID: string;
      set: Record<string, string>;
      remove: string[];
    }
  | ({ type: "deleteMessages"; reqId: number; msgUIDs: string[] } & Conv)
  | ({ type: "clearHistory"; reqId: number; beforeTime: number } & Conv)
  | ({
      type: "search";
      reqId: number;
      keyword?: string;
      senderUserId?: string;
      limit: number;
    } & Conv)
  | { type: "ultraGroupChannels"; reqId: number; groupId: string }
  | { type: "ultraGroups"; reqId: number }
  | { type: "editMessage"; reqId: number; groupId: string; msgUID: string; content: string }
  | { type: "registerPush"; reqId: number; provider: PushProvider; token: string; appId: string }
  | { type: "pushClicked"; reqId: number; provider: PushProvider }
  | { type: "setPushLanguage"; reqId: number; language: string }
  | { type: "rtcJoin"; reqId: number; roomId: string; kind: RoomKind; role: RoomRole }
  | { type: "rtcLeave"; reqId: number; roomId: string }
  | { type: "rtcRoom"; reqId: number; roomId: string }
  | { type: "rtcPublish"; reqId: number; roomId: string; publish: Resource[]; unpublish: string[] }
  | { type: "rtcSetRole"; reqId: number; roomId: string; role: RoomRole };

/** Audio/video rooms (edge/PROTOCOL.md, "Audio/video rooms"). */
export type RoomKind = "meeting" | "live" | "call";
/** `participant`/`observer` in meetings, `host`/`audience` in live rooms, `participant` in calls. */
export type RoomRole = "participant" | "observer" | "host" | "audience";

/** A published stream: where it is and how to watch it. */
export interface Resource {
  streamId: string;
  kind: "audio" | "video" | "screen" | "custom";
  /** Simulcast layers, biggest first, e.g. `["big", "small"]`. */
  layers: string[];
  mediaServer: string;
  /** For streams of the area's media server: its WHEP path. */
  params: string;
}

export interface RoomMember {
  userId: string;
  role: RoomRole;
  joinedAt: number;
  /** False while its session is gone and it may still come back. */
  online: boolean;
  resources: Resource[];
}

export interface RoomInfo {
  roomId: string;
  kind: RoomKind;
  sessionId: string;
  createdAt: number;
  version: number;
  members: RoomMember[];
  attributes: Record<string, string>;
  /** The live room this one is in a cross-room PK with: its members may watch `host`. */
  pk: PkPartner | null;
}

export interface PkPartner {
  roomId: string;
  /** The other room's host in the PK. */
  host: string;
  /** This room's host in the PK. */
  localHost: string;
}

/** A change in a room, as every member hears it. */
export type RoomNotice =
  | { joined: { member: RoomMember } }
  | { left: { userId: string; reason: "left" | "timedOut" | "kicked" } }
  | { published: { userId: string; resources: Resource[] } }
  | { unpublished: { userId: string; streamIds: string[] } }
  | { attributes: { userId: string; set: Record<string, string>; removed: string[] } }
  | { roleChanged: { userId: string; role: RoomRole } }
  | Record<string, unknown>;

export interface RoomEvent {
  roomId: string;
  version: number;
  notice: RoomNotice;
}

/** Where a device's pushes go: APNs (`apns_voip` for a PushKit token), FCM, the app's
 * webhook, or a Chinese Android vendor channel (PUSH-05). */
export type PushProvider =
  | "apns"
  | "apns_voip"
  | "fcm"
  | "webhook"
  | "huawei"
  | "xiaomi"
  | "oppo"
  | "vivo"
  | "meizu"
  | "honor";

export type ClientFrame =
  | SendFrame
  | RequestFrame
  | { type: "sync"; cursor: number }
  | { type: "ping" }
  | { type: "logout" };

// ---- edge → client -------------------------------------------------------------------

export interface Ack {
  clientId: string;
  msgUID: string;
  /** 0 for status messages (typing), which are not stored. */
  seq: number;
  sentTime: number;
  /** A busy chatroom shed the message (CHR-06): accepted, delivered to nobody. */
  dropped?: boolean;
}

export type ServerFrame =
  | { type: "connected"; userId: string; serverTime: number; cursor: number; heartbeatMs: number }
  | ({ type: "message" } & Message)
  | { type: "synced"; cursor: number }
  | ({ type: "ack" } & Ack)
  | { type: "historyPage"; reqId: number; messages: Message[] }
  | { type: "chatroomJoined"; reqId: number; chatroomId: string; messages: Message[] }
  | { type: "conversationList"; reqId: number; conversations: Conversation[] }
  | { type: "readerList"; reqId: number; msgUID: string; readers: Reader[] }
  | { type: "ultraGroupChannels"; reqId: number; groupId: string; channels: Channel[] }
  | { type: "ultraGroupList"; reqId: number; groups: UltraGroup[] }
  | { type: "chatroomLeft"; chatroomId: string; code: number }
  | { type: "done"; reqId: number }
  | { type: "pong"; serverTime: number }
  | { type: "error"; code: number; message: string; clientId?: string; reqId?: number }
  | { type: "kicked"; code: number; reason: string }
  | { type: "reconnect"; afterMs: number }
  | { type: "rtcJoined"; reqId: number; room: RoomInfo; mediaServer?: string }
  | { type: "rtcRoom"; reqId: number; room: RoomInfo }
  | ({ type: "rtcEvent"; cursor: number } & RoomEvent);

/** What the edge answers a request of type `T` with. */
export type AnswerTo<T extends RequestFrame["type"]> = T extends "history" | "search"
  ? Extract<ServerFrame, { type: "historyPage" }>
  : T extends "joinChatroom"
    ? Extract<ServerFrame, { type: "chatroomJoined" }>
    : T extends "conversations"
      ? Extract<ServerFrame, { type: "conversationList" }>
      : T extends "readers"
        ? Extract<ServerFrame, { type: "readerList" }>
        : T extends "ultraGroupChannels"
          ? Extract<ServerFrame, { type: "ultraGroupChannels" }>
          : T extends "ultraGroups"
            ? Extract<ServerFrame, { type: "ultraGroupList" }>
            : T extends "rtcJoin"
            ? Extract<ServerFrame, { type: "rtcJoined" }>
            : T extends "rtcRoom"
              ? Extract<ServerFrame, { type: "rtcRoom" }>
              : Extract<ServerFrame, { type: "done" }>;

/** The error codes of edge/PROTOCOL.md (the commercial SDKs' codes). */
export const Codes = {
  BLOCKED_BY_BLACKLIST: 405,
  INTERNAL: 1000,
  BAD_REQUEST: 1002,
  UNAVAILABLE: 1050,
  CONTENT_TOO_LARGE: 1500,
  RATE_LIMITED: 20604,
  CONTENT_REFUSED: 21501,
  NOT_IN_GROUP: 22406,
  MUTED_IN_GROUP: 22408,
  NOT_IN_CHATROOM: 23406,
  MUTED_IN_CHATROOM: 23408,
  KICKED_FROM_CHATROOM: 23409,
  CHATROOM_NOT_FOUND: 23410,
  TOKEN_INCORRECT: 31004,
  USER_BANNED: 31009,
  KICKED_OTHER_LOGIN: 31010,
  SLOW_CONSUMER: 31011,
} as const;
