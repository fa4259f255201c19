// Audio/video rooms in the browser (RTC-01, RTC-02, RTC-05, RTC-06): a `Room` is one
// joined room. Its members and their streams come with `rtcJoined` and every change as
// the client's `rtcEvent`; media goes to the area's media server over WHIP (publish) and
// WHEP (watch), authorized by the user's own token, one RTCPeerConnection a stream.
// Publishing announces the stream to the room (`rtcPublish`) with its WHEP path, so the
// other members find where to watch it (edge/PROTOCOL.md, docs/media.md).

import { Emitter } from "./emitter.js";
import type { Resource, RoomInfo, RoomRole } from "./protocol.js";

/** What a room asks of its client's session. */
export interface RoomSignals {
  publish(roomId: string, publish: Resource[], unpublish: string[]): Promise<void>;
  leave(roomId: string): Promise<void>;
  info(roomId: string): Promise<RoomInfo>;
  setRole(roomId: string, role: RoomRole): Promise<void>;
}

/** The media server refused an offer: its HTTP status and the session protocol's code
 * (53003 the role does not publish, 53002 not a member, 31004 token). */
export class MediaRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "MediaRefusedError";
  }
}

export interface PublishOptions {
  /** Simulcast layers, biggest first (each half the size of the one before), e.g.
   * `["big", "small"]`; watchers then get the layer their bandwidth carries. */
  layers?: string[];
}

export interface WatchOptions {
  /** Keep to this simulcast layer whatever the bandwidth. */
  layer?: string;
}

/** One WHIP or WHEP session: its connection and the resource URL that ends it. */
interface Link {
  pc: RTCPeerConnection;
  resource: string;
}

/** How loud a watched stream is now. */
export interface AudioLevel {
  resource: Resource;
  /** 0 (silence) to 1 (loudest), as the publisher's client measured it (RFC 6464). */
  level: number;
}

/** A stream the media server heard speaking in the room. */
export interface Speaker {
  userId: string;
  streamId: string;
  /** Its mean level over the last 300 ms, 0 (silence) to 1 (loudest). */
  level: number;
}

export interface RoomEvents {
  /** Who speaks changed: the room's speakers, loudest (the active speaker) first; empty
   * when everybody fell silent. Told by the media server over each stream's data channel. */
  speakers: Speaker[];
}

export class Room extends Emitter<RoomEvents> {
  /** The room as this member last read it (`refresh()` reads it again). */
  info: RoomInfo;
  /** Who speaks now, as the last `speakers` event told. */
  speakers: Speaker[] = [];
  private readonly published = new Map<string, Link>();
  private readonly watching = new Map<string, Link & { watched: Resource }>();

  constructor(
    private readonly signals: RoomSignals,
    info: RoomInfo,
    /** The area's media server, when it has one. */
    readonly mediaServer: string | undefined,
    readonly userId: string,
    private readonly token: string,
  ) {
    super();
    this.info = info;
  }

  get roomId(): string {
    return this.info.roomId;
  }

  /** Publishes `stream` (camera, microphone, screen) as `streamId` and tells the room. */
  async publish(stream: MediaStream, streamId: string, options: PublishOptions = {}): Promise<Resource> {
    const server = this.server();
    const layers = options.layers ?? [];
    const pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) {
      const init: RTCRtpTransceiverInit = { direction: "sendonly", streams: [stream] };
      if (track.kind === "video" && layers.length > 0) {
        init.sendEncodings = layers.map((rid, i) => ({ rid, scaleResolutionDownBy: 2 ** i }));
      }
      pc.addTransceiver(track, init);
    }
    this.listen(pc);
    const path = `/whip/${encodeURIComponent(this.roomId)}/${encodeURIComponent(streamId)}`;
    const resource = await offer(pc, server, path, this.token);
    this.published.get(streamId)?.pc.close();
    this.published.set(streamId, { pc, resource });
    const announced: Resource = {
      streamId,
      kind: stream.getVideoTracks().length > 0 ? "video" : "audio",
      layers,
      mediaServer: server,
      params: `/whep/${[this.roomId, this.userId, streamId].map(encodeURIComponent).join("/")}`,
    };
    await this.signals.publish(this.roomId, [announced], []);
    return announced;
  }

  /** Stops publishing `streamId`; its watchers' connections end. */
  async unpublish(streamId: string): Promise<void> {
    const link = this.published.get(streamId);
    this.published.delete(streamId);
    if (link) await hangUp(link, this.token);
    await this.signals.publish(this.roomId, [], [streamId]);
  }

  /** Watches a member's published stream; resolves with its tracks as they arrive. */
  async watch(resource: Resource, options: WatchOptions = {}): Promise<MediaStream> {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    this.listen(pc);
    const stream = new MediaStream();
    pc.addEventListener("track", (event) => stream.addTrack(event.track));
    const query = options.layer ? `?layer=${encodeURIComponent(options.layer)}` : "";
    const link = {
      pc,
      resource: await offer(pc, resource.mediaServer, resource.params + query, this.token),
      watched: resource,
    };
    const key = watchKey(resource);
    const earlier = this.watching.get(key);
    this.watching.set(key, link);
    if (earlier) await hangUp(earlier, this.token);
    return stream;
  }

  async stopWatching(resource: Resource): Promise<void> {
    const key = watchKey(resource);
    const link = this.watching.get(key);
    this.watching.delete(key);
    if (link) await hangUp(link, this.token);
  }

  /** How loud each watched stream with audio is now, loudest first: the first above a
   * threshold of the app's choosing (e.g. 0.05) is the active speaker. The levels are the
   * publishers' own measurements, which the media server passes on with each packet. */
  audioLevels(): AudioLevel[] {
    const levels: AudioLevel[] = [];
    for (const { pc, watched } of this.watching.values()) {
      for (const receiver of pc.getReceivers()) {
        if (receiver.track.kind !== "audio") continue;
        const source = receiver.getSynchronizationSources()[0];
        if (source?.audioLevel !== undefined) levels.push({ resource: watched, level: source.audioLevel });
      }
    }
    return levels.sort((a, b) => b.level - a.level);
  }

  /** The connection carrying a stream this member publishes or watches (for `getStats()`). */
  connection(streamIdOrResource: string | Resource): RTCPeerConnection | undefined {
    return typeof streamIdOrResource === "string"
      ? this.published.get(streamIdOrResource)?.pc
      : this.watching.get(watchKey(streamIdOrResource))?.pc;
  }

  /** Opens the connection's data channel, where the media server tells the room's
   * speakers. Every connection of this member's hears the same, so only changes are emitted. */
  private listen(pc: RTCPeerConnection): void {
    const channel = pc.createDataChannel("meridian");
    channel.addEventListener("message", (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      const { speakers } = JSON.parse(event.data) as { speakers?: Speaker[] };
      if (!speakers || JSON.stringify(speakers.map(who)) === JSON.stringify(this.speakers.map(who))) return;
      this.speakers = speakers;
      void this.emit("speakers", speakers);
    });
  }

  async setRole(role: RoomRole): Promise<void> {
    await this.signals.setRole(this.roomId, role);
  }

  async refresh(): Promise<RoomInfo> {
    this.info = await this.signals.info(this.roomId);
    return this.info;
  }

  /** Ends every stream of this member's and leaves the room. */
  async leave(): Promise<void> {
    const links = [...this.published.values(), ...this.watching.values()];
    this.published.clear();
    this.watching.clear();
    await Promise.all(links.map((link) => hangUp(link, this.token)));
    await this.signals.leave(this.roomId);
  }

  private server(): string {
    if (!this.mediaServer) throw new MediaRefusedError(503, 1050, "the area has no media server");
    return this.mediaServer;
  }
}

function who(speaker: Speaker): string {
  return `${speaker.userId}/${speaker.streamId}`;
}

function watchKey(resource: Resource): string {
  return `${resource.mediaServer}${resource.params}`;
}

/** The WHIP/WHEP exchange: our offer out, the server's answer in (ICE-lite: no candidates
 * of ours are needed). Resolves with the session's resource URL. */
async function offer(pc: RTCPeerConnection, server: string, path: string, token: string): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(`${server}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
    body: pc.localDescription?.sdp ?? "",
  });
  const body = await response.text();
  if (response.status !== 201) {
    pc.close();
    let code = 0;
    let message = body;
    try {
      ({ code, message } = JSON.parse(body) as { code: number; message: string });
    } catch {
      // Not JSON: the body is the message.
    }
    throw new MediaRefusedError(response.status, code, message);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: body });
  return new URL(response.headers.get("Location") ?? "", server).toString();
}

async function hangUp(link: Link, token: string): Promise<void> {
  link.pc.close();
  // Gone already (the room ended, the publisher left) is as good as ended.
  await fetch(link.resource, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } }).catch(
    () => undefined,
  );
}
