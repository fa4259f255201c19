// Calls (RTC-03, edge/PROTOCOL.md "Calls"): the CallLib's signalling messages, sent to a
// private chat or a group like any message and read back from received ones, so the
// commercial SDKs and this one ring each other. The server answers for a busy callee
// and for one that does not answer in time with hang-ups from it. Media goes through
// the audio/video room the invite names (`roomId`; `client.joinRoom(roomId, "call",
// "participant")`).

import type { Destination, Message } from "./protocol.js";

export const CALL_OBJECT_NAMES = {
  invite: "RC:VCInvite",
  ringing: "RC:VCRinging",
  accept: "RC:VCAccept",
  hangup: "RC:VCHangup",
  addCallees: "RC:VCModifyMem",
  switchMedia: "RC:VCModifyMedia",
} as const;

/** Hang-up reasons, as the one hanging up says them. */
export const HangupReason = {
  CANCEL: 1,
  REJECT: 2,
  HANGUP: 3,
  BUSY: 4,
  NO_RESPONSE: 5,
  NETWORK: 7,
} as const;

export type CallMedia = "audio" | "video";

/** One signal of a call. */
export type CallSignal =
  | { kind: "invite"; media: CallMedia; callees: string[]; roomId: string }
  | { kind: "ringing" }
  | { kind: "accept" }
  | { kind: "hangup"; reason: number }
  | { kind: "addCallees"; callees: string[] }
  | { kind: "switchMedia"; media: CallMedia };

/** A signal received: which call, from whom, in which conversation. */
export interface CallEvent {
  callId: string;
  from: string;
  signal: CallSignal;
  destination: Destination;
  sentTime: number;
}

const mediaType = (media: CallMedia) => (media === "video" ? 2 : 1);
const mediaOf = (value: unknown): CallMedia => (value === 2 ? "video" : "audio");
const users = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((u): u is string => typeof u === "string") : [];

/** The message carrying `signal` of call `callId`. */
export function callMessage(callId: string, signal: CallSignal): { objectName: string; content: Record<string, unknown> } {
  const content: Record<string, unknown> = { callId };
  switch (signal.kind) {
    case "invite":
      content.mediaType = mediaType(signal.media);
      content.inviteUserIds = signal.callees;
      content.channelInfo = { Id: signal.roomId, Key: "" };
      break;
    case "hangup":
      content.reason = signal.reason;
      break;
    case "addCallees":
      content.modifyMemType = 1;
      content.inviteUserIds = signal.callees;
      break;
    case "switchMedia":
      content.mediaType = mediaType(signal.media);
      break;
  }
  return { objectName: CALL_OBJECT_NAMES[signal.kind], content };
}

/** The call signal a received message carries, if it is one. */
export function readCallSignal(message: Message): CallEvent | undefined {
  const kind = (Object.keys(CALL_OBJECT_NAMES) as (keyof typeof CALL_OBJECT_NAMES)[]).find(
    (k) => CALL_OBJECT_NAMES[k] === message.objectName,
  );
  if (!kind) return undefined;
  let content: Record<string, unknown>;
  try {
    content = JSON.parse(message.content) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const callId = content.callId;
  if (typeof callId !== "string") return undefined;
  let signal: CallSignal;
  switch (kind) {
    case "invite": {
      const room = (content.channelInfo as { Id?: unknown } | undefined)?.Id;
      const roomId = typeof room === "string" && room.length > 0 ? room : callId;
      signal = { kind, media: mediaOf(content.mediaType), callees: users(content.inviteUserIds), roomId };
      break;
    }
    case "hangup":
      signal = { kind, reason: typeof content.reason === "number" ? content.reason : HangupReason.HANGUP };
      break;
    case "addCallees":
      signal = { kind, callees: users(content.inviteUserIds) };
      break;
    case "switchMedia":
      signal = { kind, media: mediaOf(content.mediaType) };
      break;
    default:
      signal = { kind };
  }
  const destination = {
    conversationType: message.conversationType,
    targetId: message.targetId,
    channelId: message.channelId,
  };
  return { callId, from: message.senderUserId, signal, destination, sentTime: message.sentTime };
}
