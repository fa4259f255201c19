// Media for messages (FILE-01, docs/files.md): a file goes to the area's file service
// first (a grant from an edge with the user's token, then the bytes to the signed upload
// URL), and the message that carries it holds the link. The file service answers any
// origin, so a page uploads straight from the browser.

export type FileKind = "image" | "gif" | "voice" | "video" | "file";

export interface UploadOptions {
  kind: FileKind;
  /** Shown to recipients (at most 255 characters, no `/` or `\`). */
  name: string;
  /** Defaults by kind on the service (`image/gif`, `audio/aac`, `video/mp4`, else octet-stream). */
  contentType?: string;
  /** Keep the file only this long (disappearing media); at most the app's link lifetime. */
  keepSeconds?: number;
  /**
   * The conversation the file will be sent in (`type`: 1 private, 3 group, 4 chatroom,
   * 10 ultra group). The app's private mode requires it, and lets only that
   * conversation's members fetch the file.
   */
  conversation?: { type: number; targetId: string };
  /** Called as the bytes go up: after each chunk of a large file, and once at the end. */
  onProgress?: (sent: number, total: number) => void;
}

/** Files larger than this go up in chunks of this size (docs/files.md, resumable uploads). */
export const CHUNK_BYTES = 8 << 20;
/** A chunk that fails this many times in a row fails the upload. */
const CHUNK_ATTEMPTS = 5;

/** What the upload answered: what the message carries. */
export interface Uploaded {
  fileId: string;
  kind: FileKind;
  size: number;
  sha256: string;
  contentType: string;
  name: string;
  /** The signed download link. */
  url: string;
  /** Images, and videos' first frames: a small JPEG, base64 (the message's `content`). */
  thumbnail?: string;
  /** Images: a signed link to a preview of at most 1080 px a side. */
  previewUrl?: string;
  width?: number;
  height?: number;
  /** Videos: their length, when the service could read it. */
  durationMs?: number;
}

/** A refusal of the file service: its HTTP status and code (`too_large`, `quota`, `invalid`…). */
export class FileError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** For `too_large` and `quota`: the limit in bytes. */
    readonly limit?: number,
  ) {
    super(message);
    this.name = "FileError";
  }
}

/** `http(s)://host:port` of the edge a session URL (`ws(s)://host:port/websocket`) names. */
export function edgeBase(sessionUrl: string): string {
  const url = new URL(sessionUrl);
  const scheme = url.protocol === "wss:" || url.protocol === "https:" ? "https:" : "http:";
  return `${scheme}//${url.host}`;
}

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as T & { code?: string; error?: string; limit?: number };
  if (!response.ok) {
    throw new FileError(
      response.status,
      body.code ?? "unavailable",
      body.error ?? `the file service answered ${response.status}`,
      body.limit,
    );
  }
  return body;
}

/**
 * Uploads `body` through the file service of the edge at `edge`, as the token's user. A
 * file larger than `CHUNK_BYTES` goes up in chunks, and after a failed chunk the upload
 * goes on from what the service holds.
 */
export async function uploadFile(
  edge: string,
  token: string,
  body: Blob | Uint8Array<ArrayBuffer>,
  file: UploadOptions,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<Uploaded> {
  const size = body instanceof Uint8Array ? body.byteLength : body.size;
  const { onProgress, ...wanted } = file;
  const grant = await answer<{ uploadUrl: string }>(
    await fetchImpl(`${edge}/files/v1/grants`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ...wanted, size }),
    }),
  );
  if (size <= CHUNK_BYTES) {
    const uploaded = await answer<Uploaded>(await fetchImpl(grant.uploadUrl, { method: "PUT", body }));
    onProgress?.(size, size);
    return uploaded;
  }
  return sendChunks(grant.uploadUrl, body, size, fetchImpl, onProgress);
}

/** A resumable upload: chunk after chunk, each from where the service's bytes end. */
async function sendChunks(
  url: string,
  body: Blob | Uint8Array<ArrayBuffer>,
  size: number,
  fetchImpl: typeof fetch,
  onProgress?: (sent: number, total: number) => void,
): Promise<Uploaded> {
  let sent = 0;
  let failures = 0;
  let reported = 0;
  const report = (held: number) => {
    if (held > reported) onProgress?.((reported = held), size);
  };
  for (;;) {
    // All held (the last answer was lost): the last chunk again gets the file.
    const start = sent < size ? sent : Math.floor((size - 1) / CHUNK_BYTES) * CHUNK_BYTES;
    const end = Math.min(start + CHUNK_BYTES, size);
    const headers = { "Content-Range": `bytes ${start}-${end - 1}/${size}` };
    const response = await fetchImpl(url, { method: "PUT", headers, body: body.slice(start, end) }).catch(
      () => undefined,
    );
    if (response?.status === 202 || response?.status === 409) {
      sent = ((await response.json()) as { received: number }).received;
      failures = 0;
      report(sent);
      continue;
    }
    // Done, or refused for good (a 4xx is not worth repeating).
    if (response && (response.ok || response.status < 500)) {
      const uploaded = await answer<Uploaded>(response);
      report(size);
      return uploaded;
    }
    failures += 1;
    if (failures >= CHUNK_ATTEMPTS) {
      if (response) return answer<Uploaded>(response);
      throw new FileError(0, "unavailable", `the upload failed ${failures} times in a row`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** failures));
    // The chunk may have been stored before its answer was lost.
    const held = await fetchImpl(url)
      .then((r) => answer<{ received: number }>(r))
      .catch(() => undefined);
    sent = held?.received ?? sent;
    report(sent);
  }
}

/**
 * The bytes a file link serves, fetched as the token's user: in the app's private mode a
 * link alone is not enough (show them with `URL.createObjectURL`).
 */
export async function downloadFile(
  url: string,
  token: string,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): Promise<Blob> {
  const response = await fetchImpl(url, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) await answer(response);
  return response.blob();
}

/** The message that carries an upload, in the commercial SDKs' shapes (docs/files.md). */
export function mediaMessage(
  uploaded: Uploaded,
  extra: { durationSeconds?: number } = {},
): { objectName: string; content: Record<string, unknown> } {
  const { url } = uploaded;
  switch (uploaded.kind) {
    case "image":
      return { objectName: "RC:ImgMsg", content: { content: uploaded.thumbnail ?? "", imageUri: url } };
    case "gif":
      return {
        objectName: "RC:GIFMsg",
        content: { remoteUrl: url, gifDataSize: uploaded.size, width: uploaded.width ?? 0, height: uploaded.height ?? 0 },
      };
    case "voice":
      return { objectName: "RC:HQVCMsg", content: { remoteUrl: url, type: "aac", duration: extra.durationSeconds ?? 0 } };
    case "video":
      return {
        objectName: "RC:SightMsg",
        content: {
          sightUrl: url,
          size: uploaded.size,
          name: uploaded.name,
          content: uploaded.thumbnail ?? "",
          duration: extra.durationSeconds ?? Math.round((uploaded.durationMs ?? 0) / 1000),
        },
      };
    case "file": {
      const dot = uploaded.name.lastIndexOf(".");
      const type = dot >= 0 ? uploaded.name.slice(dot + 1) : "";
      return { objectName: "RC:FileMsg", content: { name: uploaded.name, size: uploaded.size, type, fileUrl: url } };
    }
  }
}
