// Typed errors: an app catches a class (`instanceof RateLimitError`) or reads `code`, the
// commercial SDKs' number from edge/PROTOCOL.md.

import { Codes } from "./protocol.js";

/** Any refusal by the service; `code` is the protocol's error code (0 when it has none). */
export class MeridianError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** 31004: the token does not verify (bad signature, unknown app or user, expired). Final. */
export class AuthError extends MeridianError {}

/** 31009: the user is banned. Final. */
export class BannedError extends MeridianError {}

/** 31010: the same user logged in on another device of this platform. Final. */
export class KickedError extends MeridianError {}

/** 20604: more than the connection's sends per second; nothing was stored. */
export class RateLimitError extends MeridianError {}

/** 1500: content over 128 KiB; nothing was stored. */
export class ContentTooLargeError extends MeridianError {}

/** Any other refusal of one request (not a member, muted, bad parameter…). */
export class RequestError extends MeridianError {}

/** No answer within the request's time limit (the request may still have been carried out). */
export class TimeoutError extends MeridianError {
  constructor(what: string, ms: number) {
    super(0, `${what}: no answer within ${ms} ms`);
  }
}

/** The client was closed (or logged out) before the request was answered. */
export class ClosedError extends MeridianError {
  constructor(why = "the client is closed") {
    super(0, why);
  }
}

/** The error class for a protocol code. */
export function errorFor(code: number, message: string): MeridianError {
  switch (code) {
    case Codes.TOKEN_INCORRECT:
      return new AuthError(code, message);
    case Codes.USER_BANNED:
      return new BannedError(code, message);
    case Codes.KICKED_OTHER_LOGIN:
      return new KickedError(code, message);
    case Codes.RATE_LIMITED:
      return new RateLimitError(code, message);
    case Codes.CONTENT_TOO_LARGE:
      return new ContentTooLargeError(code, message);
    default:
      return new RequestError(code, message);
  }
}

/** Codes after which reconnecting cannot help: the session is over for good. */
export function isFinal(code: number): boolean {
  return (
    code === Codes.TOKEN_INCORRECT ||
    code === Codes.USER_BANNED ||
    code === Codes.KICKED_OTHER_LOGIN
  );
}

/** Codes of a send or request that may succeed on a new session: resend, don't fail. */
export function isRetriable(code: number): boolean {
  return code === Codes.UNAVAILABLE || code === Codes.INTERNAL;
}
