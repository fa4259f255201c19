// @meridian-im/client: the Meridian client SDK (browsers and Node). See README.md.

export { MeridianClient } from "./client.js";
export type {
  ClientEvents,
  ClientOptions,
  ConnectionChange,
  ConnectionState,
  OutgoingMessage,
  WebSocketConstructor,
  WebSocketLike,
} from "./options.js";
export * from "./errors.js";
export {
  CHUNK_BYTES,
  downloadFile,
  edgeBase,
  FileError,
  mediaMessage,
  uploadFile,
  type FileKind,
  type Uploaded,
  type UploadOptions,
} from "./files.js";
export { Navigator, NavUnreachableError, splitToken, type Route } from "./nav.js";
export * from "./protocol.js";
export {
  CALL_OBJECT_NAMES,
  callMessage,
  HangupReason,
  readCallSignal,
  type CallEvent,
  type CallMedia,
  type CallSignal,
} from "./calls.js";
export { MediaRefusedError, Room, type AudioLevel, type PublishOptions, type RoomEvents, type Speaker, type RoomSignals, type WatchOptions } from "./rtc.js";
export { byPinThenRecency, conversationKey, LocalArchive, searchableText } from "./archive.js";
export { IndexedDbStore, MemoryStore, type KeyValueStore } from "./store.js";
