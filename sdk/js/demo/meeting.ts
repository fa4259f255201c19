// The demo's meeting (RTC-01, RTC-02, RTC-05): join a meeting room as a participant, who
// publishes camera and microphone, or as an observer, who only watches; every member's
// published stream is watched as it is announced and shown as a tile with what its
// connection receives (from getStats), and the active speaker the media server names is
// outlined. Stopping the camera unpublishes it; the others' tiles of it go away.

import type { MeridianClient, Resource, Room, RoomEvent, RoomRole, Speaker } from "../src/index.js";
import { $ } from "./view.js";

/** The stream id the demo publishes a participant's camera and microphone as. */
const CAMERA = "cam";
const STATS_EVERY_MS = 1_000;

export class Meeting {
  private room: Room | undefined;
  private camera: MediaStream | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly client: MeridianClient,
    private readonly me: string,
    private readonly banner: (text: string) => void,
  ) {
    client.on("rtcEvent", (event) => this.onEvent(event));
  }

  async join(roomId: string, role: RoomRole): Promise<void> {
    if (this.room) await this.leave();
    const room = await this.client.joinRoom(roomId, "meeting", role);
    this.room = room;
    room.on("speakers", (speakers) => this.showSpeakers(speakers));
    $("meeting-title").textContent = `meeting ${roomId} (${role})`;
    $("meeting").hidden = false;
    $("chat").hidden = true;
    $("meet-camera").hidden = role !== "participant";
    $("meet-mute").hidden = role !== "participant";
    if (role === "participant") await this.startCamera();
    for (const member of room.info.members) {
      if (member.userId !== this.me) for (const resource of member.resources) this.watch(member.userId, resource);
    }
    this.statsTimer = setInterval(() => void this.showStats(), STATS_EVERY_MS);
    document.body.dataset.meeting = roomId;
  }

  async leave(): Promise<void> {
    const room = this.room;
    this.room = undefined;
    clearInterval(this.statsTimer);
    this.camera?.getTracks().forEach((t) => t.stop());
    this.camera = undefined;
    $("tiles").replaceChildren();
    $("meeting").hidden = true;
    delete document.body.dataset.meeting;
    await room?.leave();
  }

  /** Publishes the camera and microphone, or stops publishing them. */
  async toggleCamera(): Promise<void> {
    if (!this.room) return;
    if (this.camera) {
      this.camera.getTracks().forEach((t) => t.stop());
      this.camera = undefined;
      this.tile(this.me, CAMERA)?.remove();
      await this.room.unpublish(CAMERA);
      $("meet-camera").textContent = "Start camera";
    } else {
      await this.startCamera();
    }
  }

  /** Mutes or unmutes the microphone: a muted track sends silence, so the room stops
   * hearing this member as a speaker. */
  toggleMute(): void {
    const track = this.camera?.getAudioTracks()[0];
    if (!track) return;
    track.enabled = !track.enabled;
    $("meet-mute").textContent = track.enabled ? "Mute" : "Unmute";
  }

  private async startCamera(): Promise<void> {
    const room = this.room;
    if (!room) return;
    this.camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    // One's own picture, without one's own sound.
    const own = this.addTile(this.me, CAMERA, this.camera);
    own.querySelector("video")!.muted = true;
    await room.publish(this.camera, CAMERA);
    $("meet-camera").textContent = "Stop camera";
    $("meet-mute").textContent = "Mute";
  }

  private onEvent(event: RoomEvent): void {
    const room = this.room;
    if (!room || event.roomId !== room.roomId) return;
    const notice = event.notice;
    if ("published" in notice) {
      const { userId, resources } = notice.published as { userId: string; resources: Resource[] };
      if (userId !== this.me) for (const resource of resources) this.watch(userId, resource);
    } else if ("unpublished" in notice) {
      const { userId, streamIds } = notice.unpublished as { userId: string; streamIds: string[] };
      for (const streamId of streamIds) this.unwatch(userId, streamId);
    } else if ("left" in notice) {
      const { userId } = notice.left as { userId: string };
      for (const tile of this.tilesOf(userId)) this.unwatch(userId, tile.dataset.stream ?? "");
    }
  }

  private watch(userId: string, resource: Resource): void {
    const room = this.room;
    if (!room) return;
    this.tile(userId, resource.streamId)?.remove();
    const stream = new MediaStream();
    const tile = this.addTile(userId, resource.streamId, stream);
    tile.dataset.resource = JSON.stringify(resource);
    room
      .watch(resource)
      .then((received) => {
        for (const track of received.getTracks()) stream.addTrack(track);
        received.addEventListener("addtrack", (e) => stream.addTrack(e.track));
      })
      .catch((e: unknown) => {
        tile.remove();
        this.banner(`cannot watch ${userId}: ${e instanceof Error ? e.message : String(e)}`);
      });
  }

  private unwatch(userId: string, streamId: string): void {
    const tile = this.tile(userId, streamId);
    if (!tile) return;
    tile.remove();
    const resource = JSON.parse(tile.dataset.resource ?? "null") as Resource | null;
    if (resource && this.room) void this.room.stopWatching(resource);
  }

  private addTile(userId: string, streamId: string, stream: MediaStream): HTMLElement {
    const figure = document.createElement("figure");
    figure.className = "tile";
    figure.dataset.user = userId;
    figure.dataset.stream = streamId;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.srcObject = stream;
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = userId === this.me ? `${userId} (you)` : userId;
    const stats = document.createElement("span");
    stats.className = "stats";
    caption.append(name, stats);
    figure.append(video, caption);
    $("tiles").append(figure);
    return figure;
  }

  private tile(userId: string, streamId: string): HTMLElement | undefined {
    return this.tilesOf(userId).find((t) => t.dataset.stream === streamId);
  }

  private tilesOf(userId: string): HTMLElement[] {
    return tiles().filter((t) => t.dataset.user === userId);
  }

  private showSpeakers(speakers: Speaker[]): void {
    const loudest = speakers[0];
    for (const tile of tiles()) {
      const speaking = loudest !== undefined && tile.dataset.user === loudest.userId && tile.dataset.stream === loudest.streamId;
      tile.dataset.speaking = String(speaking);
    }
  }

  /** What each watched tile's connection received: decoded frames, picture size, audio
   * packets, shown under it and kept in its data attributes. */
  private async showStats(): Promise<void> {
    const room = this.room;
    if (!room) return;
    for (const tile of tiles()) {
      const resource = JSON.parse(tile.dataset.resource ?? "null") as Resource | null;
      const pc = resource && room.connection(resource);
      if (!pc) continue;
      let frames = 0;
      let packets = 0;
      let size = "";
      (await pc.getStats()).forEach((s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number; frameWidth?: number; frameHeight?: number }) => {
        if (s.type !== "inbound-rtp") return;
        if (s.kind === "video") {
          frames = s.framesDecoded ?? 0;
          if (s.frameWidth) size = `${s.frameWidth}×${s.frameHeight ?? 0}`;
        }
        if (s.kind === "audio") packets = s.packetsReceived ?? 0;
      });
      tile.dataset.framesDecoded = String(frames);
      tile.dataset.audioPackets = String(packets);
      tile.querySelector(".stats")!.textContent = `${size} · ${frames} frames · ${packets} audio packets`;
    }
  }
}

function tiles(): HTMLElement[] {
  return Array.from($("tiles").querySelectorAll<HTMLElement>("figure.tile"));
}
