// The web chat demo (WEB-05) on the SDK: sign in, a conversation list with unread counts
// and pins, private, group, ultra-group (channels) and chatroom chats, text and custom
// messages, photos and files (uploaded to the area's file service), typing, read
// receipts (private "read", group "read by N"), recall, history paging and local search.
// What it has seen is kept in IndexedDB (`LocalArchive`), so a reload shows the list and
// the latest messages before, or without, a connection. Meetings (audio and video) are
// `meeting.ts`'s.

import { byPinThenRecency, conversationKey, LocalArchive } from "../src/archive.js";
import {
  IndexedDbStore,
  mediaMessage,
  MeridianClient,
  MeridianError,
  type Conversation,
  type ConversationType,
  type Destination,
  type Message,
  type RoomRole,
} from "../src/index.js";
import { Meeting } from "./meeting.js";
import * as view from "./view.js";

interface Config {
  areas: { area: string; appKey: string }[];
  navs: string[];
}

/** What a tab keeps to sign in again after a reload, with or without the network. */
interface SignedIn {
  area: string;
  appKey: string;
  navs: string[];
  userId: string;
  token: string;
}

/** In sessionStorage: each tab may be another user, and a reload keeps its user. */
const SESSION_KEY = "meridian-demo/session";
const DEVICE_KEY = "meridian-demo/device";
/** Messages that change what is shown rather than being shown. */
const NOT_SHOWN = new Set(["RC:RcCmd", "RC:ReadNtf", "RC:RRRspMsg", "RC:RRReqMsg", "RC:TypSts"]);
const TYPING_SHOWN_MS = 4_000;
const TYPING_SENT_EVERY_MS = 2_000;

async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, { method: "POST", body: JSON.stringify(body) });
  const answer = (await response.json()) as T & { code?: number; errorMessage?: string; error?: string };
  if (!response.ok || (answer.code !== undefined && answer.code !== 200)) {
    throw new Error(answer.errorMessage ?? answer.error ?? `${path} answered ${response.status}`);
  }
  return answer;
}

class Chat {
  private readonly conversations = new Map<string, Conversation>();
  private open: Destination | undefined;
  /** The open conversation's messages, oldest first. */
  private shown: Message[] = [];
  /** Own private messages are read by the peer up to this sentTime. */
  private readonly peerReadUpTo = new Map<string, number>();
  /** How many members read each own group message. */
  private readonly readBy = new Map<string, number>();
  private readonly receipted = new Set<string>();
  private typingHidden: ReturnType<typeof setTimeout> | undefined;
  private lastTypingSent = 0;
  private nextLocalId = 0;

  constructor(
    private readonly client: MeridianClient,
    private readonly archive: LocalArchive,
    private readonly me: string,
  ) {}

  async start(): Promise<void> {
    for (const c of await this.archive.conversations()) this.conversations.set(conversationKey(c), c);
    this.renderList();
    document.body.dataset.archive = "shown";
    this.client.on("message", (m) => this.onMessage(m));
    this.client.on("synced", () => {
      void this.refreshConversations().catch((e: unknown) => this.banner(String(e)));
    });
    this.client.on("connection", (change) => {
      view.$("state").dataset.state = change.state;
      view.$("state").textContent = change.state;
      if (change.error) this.banner(change.error.message);
    });
    this.client.on("kicked", (k) => this.banner(`signed out: ${k.reason} (${k.code})`));
    this.client.on("chatroomLeft", (left) => this.banner(`left chatroom ${left.chatroomId} (${left.code})`));
    this.client.connect().catch((e: unknown) => this.banner(String(e)));
  }

  banner(text: string): void {
    view.$("banner").textContent = text;
  }

  private renderList(): void {
    view.renderConversations([...this.conversations.values()].sort(byPinThenRecency), this.open);
  }

  private async refreshConversations(): Promise<void> {
    const list = await this.client.conversations();
    this.conversations.clear();
    for (const c of list) this.conversations.set(conversationKey(c), c);
    await this.archive.putConversations(list);
    this.renderList();
    const open = this.open && this.conversations.get(conversationKey(this.open));
    if (open && open.unread > 0) await this.markOpenRead();
  }

  private isOpen(c: Destination): boolean {
    return this.open !== undefined && conversationKey(this.open) === conversationKey(c);
  }

  // ---- receiving ---------------------------------------------------------------------

  /** Awaited by the SDK before the cursor moves past `m`: what it shows is archived
   * first; requests it causes are not awaited (their answers queue behind `m`). */
  private async onMessage(m: Message): Promise<void> {
    switch (m.objectName) {
      case "RC:TypSts":
        if (m.senderUserId !== this.me && this.isOpen(m)) this.showTyping(m.senderUserId);
        return;
      case "RC:RcCmd":
        return this.onRecalled(JSON.parse(m.content) as { messageUId: string });
      case "RC:ReadNtf": {
        if (m.senderUserId === this.me) return;
        const read = JSON.parse(m.content) as { lastMessageSendTime: number };
        this.peerReadUpTo.set(m.targetId, Math.max(read.lastMessageSendTime, this.peerReadUpTo.get(m.targetId) ?? 0));
        this.renderMessages();
        return;
      }
      case "RC:RRRspMsg":
        void this.onGroupReceipts(m.content).catch((e: unknown) => this.banner(String(e)));
        return;
    }
    if (NOT_SHOWN.has(m.objectName)) return;
    await this.archive.putMessages([m]);
    this.hideTyping();
    if (m.conversationType === 4) {
      // Chatrooms are not conversations: they show only while open.
      if (this.isOpen(m)) this.shown.push(m);
      this.renderMessages();
      return;
    }
    const key = conversationKey(m);
    const known = this.conversations.get(key);
    const own = m.senderUserId === this.me;
    const open = this.isOpen(m) && document.visibilityState === "visible";
    const entry: Conversation = {
      conversationType: m.conversationType,
      targetId: m.targetId,
      channelId: m.channelId,
      pinned: known?.pinned ?? false,
      muted: known?.muted ?? false,
      unread: own || open ? (known?.unread ?? 0) : (known?.unread ?? 0) + 1,
      lastMessage: m,
    };
    this.conversations.set(key, entry);
    await this.archive.putConversation(entry);
    if (this.isOpen(m)) {
      this.shown.push(m);
      this.renderMessages();
      if (open && !own) void this.markOpenRead().catch((e: unknown) => this.banner(String(e)));
    }
    this.renderList();
  }

  private async onRecalled(notice: { messageUId: string }): Promise<void> {
    await this.archive.markRecalled(notice.messageUId);
    for (const m of this.shown) if (m.msgUID === notice.messageUId) m.recalled = true;
    for (const c of this.conversations.values()) {
      if (c.lastMessage?.msgUID === notice.messageUId) c.lastMessage.recalled = true;
    }
    this.renderMessages();
    this.renderList();
  }

  /** `receiptMessageDic: {reader: [msgUID…]}`: who read which of this user's group messages. */
  private async onGroupReceipts(content: string): Promise<void> {
    const receipts = JSON.parse(content) as { receiptMessageDic?: Record<string, string[]> };
    const uids = new Set(Object.values(receipts.receiptMessageDic ?? {}).flat());
    for (const uid of uids) this.readBy.set(uid, (await this.client.readers(uid)).length);
    this.renderMessages();
  }

  private showTyping(who: string): void {
    view.$("typing").textContent = `${who} is typing…`;
    clearTimeout(this.typingHidden);
    this.typingHidden = setTimeout(() => this.hideTyping(), TYPING_SHOWN_MS);
  }

  private hideTyping(): void {
    clearTimeout(this.typingHidden);
    view.$("typing").textContent = "";
  }

  /** Clears the open conversation's unread count and tells the senders it was read. */
  private async markOpenRead(): Promise<void> {
    const open = this.open;
    const latest = [...this.shown].reverse().find((m) => m.senderUserId !== this.me && m.seq > 0);
    if (!open || !latest) return;
    const entry = this.conversations.get(conversationKey(open));
    if (entry) {
      entry.unread = 0;
      await this.archive.putConversation(entry);
    }
    await this.client.markRead(open, latest.seq);
    if (open.conversationType === 1) {
      await this.client.sendReadReceipt(open.targetId, latest);
    } else if (open.conversationType === 3) {
      const unreceipted = this.shown
        .filter((m) => m.senderUserId !== this.me && m.seq > 0 && !this.receipted.has(m.msgUID))
        .slice(-100)
        .map((m) => m.msgUID);
      unreceipted.forEach((uid) => this.receipted.add(uid));
      if (unreceipted.length > 0) await this.client.groupReceipt(open.targetId, unreceipted);
    }
    this.renderList();
  }

  // ---- the open conversation ---------------------------------------------------------

  /** Opens a conversation: what the archive has at once, then the service's latest page. */
  async openConversation(dest: Destination, area: string): Promise<void> {
    if (this.open?.conversationType === 4 && !this.isOpen(dest)) {
      await this.client.quitChatroom(this.open.targetId).catch(() => undefined);
    }
    delete document.body.dataset.opened;
    this.open = { ...dest, channelId: dest.channelId ?? "" };
    this.shown = await this.archive.page(this.open);
    view.$("chat").hidden = false;
    view.$("chat-title").textContent = view.conversationTitle(this.open);
    view.$("channels").hidden = dest.conversationType !== 10;
    this.hideTyping();
    this.renderMessages();
    this.renderList();
    const type = dest.conversationType;
    if (type === 3 || type === 4 || type === 10) {
      // The app server's part (dev only): make this user a member.
      await post("/demo/join", { area, userId: this.me, conversationType: type, targetId: dest.targetId });
    }
    const latest =
      type === 4 ? await this.client.joinChatroom(dest.targetId) : (await this.client.history(this.open)).reverse();
    if (type === 10) await this.renderChannels(dest.targetId);
    await this.merge(latest);
    await this.markOpenRead();
    document.body.dataset.opened = conversationKey(this.open);
  }

  async switchChannel(channelId: string, area: string): Promise<void> {
    if (this.open?.conversationType !== 10) return;
    await this.openConversation({ ...this.open, channelId }, area);
  }

  private async renderChannels(groupId: string): Promise<void> {
    const channels = await this.client.ultraGroupChannels(groupId);
    const select = view.$<HTMLSelectElement>("channels");
    const ids = ["", ...channels.map((c) => c.channelId).filter((id) => id !== "")];
    select.replaceChildren(
      ...ids.map((id) => {
        const option = new Option(id === "" ? "# default" : `# ${id}`, id);
        option.selected = id === (this.open?.channelId ?? "");
        return option;
      }),
    );
  }

  /** Archives and adds what the service sent to the open conversation, each once, in time order. */
  private async merge(messages: Message[]): Promise<void> {
    const shown = messages.filter((m) => !NOT_SHOWN.has(m.objectName));
    await this.archive.putMessages(shown);
    const seen = new Set(this.shown.map((m) => m.msgUID));
    this.shown.push(...shown.filter((m) => !seen.has(m.msgUID)));
    this.shown.sort((a, b) => a.sentTime - b.sentTime);
    this.renderMessages();
  }

  async loadOlder(): Promise<void> {
    if (!this.open) return;
    const beforeTime = this.shown[0]?.sentTime ?? 0;
    const older =
      view.$("state").dataset.state === "connected"
        ? await this.client.history(this.open, { beforeTime })
        : await this.archive.page(this.open, beforeTime);
    await this.merge(older);
  }

  private renderMessages(): void {
    const ul = view.$("messages");
    const atBottom = ul.scrollTop + ul.clientHeight >= ul.scrollHeight - 8;
    ul.replaceChildren(...this.shown.map((m) => view.messageRow(m, this.me, this.status(m))));
    if (atBottom) ul.scrollTop = ul.scrollHeight;
  }

  private status(m: Message): string {
    if (!m.msgUID) return "sending";
    if (m.conversationType === 1) {
      return (this.peerReadUpTo.get(m.targetId) ?? 0) >= m.sentTime ? "read" : "sent";
    }
    const readers = this.readBy.get(m.msgUID);
    return m.conversationType === 3 && readers ? `read by ${readers}` : "sent";
  }

  // ---- sending -------------------------------------------------------------------------

  /** Shows the message at once as "sending"; the SDK retries it until the service acks. */
  async send(objectName: string, content: Record<string, unknown>): Promise<void> {
    const open = this.open;
    if (!open) return;
    const local: Message = {
      cursor: 0,
      msgUID: "",
      seq: 0,
      conversationType: open.conversationType,
      targetId: open.targetId,
      channelId: open.channelId ?? "",
      senderUserId: this.me,
      objectName,
      content: JSON.stringify(content),
      sentTime: Date.now() + ++this.nextLocalId,
      recalled: false,
    };
    this.shown.push(local);
    this.renderMessages();
    try {
      const ack = await this.client.send({ ...open, objectName, content });
      Object.assign(local, { msgUID: ack.msgUID, seq: ack.seq, sentTime: ack.sentTime });
      await this.archive.putMessages([local]);
      if (open.conversationType !== 4) {
        const key = conversationKey(open);
        const entry = this.conversations.get(key) ?? { ...open, channelId: open.channelId ?? "", unread: 0, pinned: false, muted: false };
        entry.lastMessage = local;
        this.conversations.set(key, entry);
        await this.archive.putConversation(entry);
        this.renderList();
      }
    } catch (e) {
      this.shown = this.shown.filter((m) => m !== local);
      this.banner(e instanceof MeridianError ? `not sent: ${e.message} (${e.code})` : String(e));
    }
    this.renderMessages();
  }

  /** Uploads a picked file (an image as a photo message, anything else as a file) and sends it. */
  async attach(file: File): Promise<void> {
    if (!this.open) return;
    const kind = file.type.startsWith("image/") && file.type !== "image/gif" ? "image" : "file";
    this.banner(`uploading ${file.name}…`);
    try {
      const conversation = { type: this.open.conversationType, targetId: this.open.targetId };
      const uploaded = await this.client.upload(file, { kind, name: file.name, contentType: file.type, conversation });
      this.banner("");
      const { objectName, content } = mediaMessage(uploaded);
      await this.send(objectName, content);
    } catch (e) {
      this.banner(`not uploaded: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  typing(): void {
    const now = Date.now();
    if (!this.open || now - this.lastTypingSent < TYPING_SENT_EVERY_MS) return;
    if (this.open.conversationType !== 1 && this.open.conversationType !== 3) return;
    this.lastTypingSent = now;
    this.client.sendTyping(this.open).catch(() => undefined);
  }

  /**
   * Fetches a photo or a file with the session's token and hands it over: a photo opens in
   * a tab of its own, a file is saved under its name.
   */
  async openMedia(link: HTMLAnchorElement): Promise<void> {
    const blob = await this.client.download(link.href);
    const local = document.createElement("a");
    local.href = URL.createObjectURL(blob);
    if (link.classList.contains("file")) local.download = link.dataset.name ?? "file";
    else local.target = "_blank";
    local.click();
    // The tab or the download has the bytes once it started; the page need not keep them.
    setTimeout(() => URL.revokeObjectURL(local.href), 60_000);
  }

  async recall(msgUID: string): Promise<void> {
    await this.client.recall(msgUID);
    await this.onRecalled({ messageUId: msgUID });
  }

  async togglePin(): Promise<void> {
    if (!this.open) return;
    const key = conversationKey(this.open);
    const entry = this.conversations.get(key);
    const pinned = !(entry?.pinned ?? false);
    await this.client.setConversation(this.open, { pinned });
    if (entry) {
      entry.pinned = pinned;
      await this.archive.putConversation(entry);
    }
    this.renderList();
  }

  async search(text: string): Promise<void> {
    view.renderSearchResults(await this.archive.search(text));
  }

  async signOut(): Promise<void> {
    await this.client.logout().catch(() => undefined);
  }
}

// ---- the page ------------------------------------------------------------------------

function deviceId(): string {
  let id = sessionStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `web-${crypto.randomUUID().slice(0, 8)}`;
    sessionStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

async function signIn(config: Config): Promise<SignedIn> {
  const form = view.$<HTMLFormElement>("signin");
  const select = view.$<HTMLSelectElement>("area");
  select.replaceChildren(...config.areas.map((a) => new Option(a.area, a.area)));
  form.hidden = false;
  return new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      const area = config.areas.find((a) => a.area === select.value);
      const userId = view.$<HTMLInputElement>("user").value.trim();
      if (!area) return;
      try {
        const { token } = await post<{ token: string }>("/demo/token", { area: area.area, userId });
        form.hidden = true;
        resolve({ area: area.area, appKey: area.appKey, navs: config.navs, userId, token });
      } catch (e) {
        form.querySelector(".hint")!.textContent = String(e);
      }
    };
  });
}

function wireMeeting(meeting: Meeting, chat: Chat): void {
  const failed = (e: unknown) => chat.banner(e instanceof Error ? e.message : String(e));
  view.$("meet").onsubmit = (event) => {
    event.preventDefault();
    const roomId = view.$<HTMLInputElement>("meet-room").value.trim();
    const role = view.$<HTMLSelectElement>("meet-role").value as RoomRole;
    meeting.join(roomId, role).catch(failed);
  };
  view.$("meet-camera").onclick = () => meeting.toggleCamera().catch(failed);
  view.$("meet-mute").onclick = () => meeting.toggleMute();
  view.$("meet-leave").onclick = () => meeting.leave().catch(failed);
}

function wire(chat: Chat, session: SignedIn): void {
  const typeOf = (value: string | undefined) => Number(value) as ConversationType;
  view.$("open").onsubmit = (event) => {
    event.preventDefault();
    const type = typeOf(view.$<HTMLSelectElement>("open-type").value);
    const targetId = view.$<HTMLInputElement>("open-target").value.trim();
    chat.openConversation({ conversationType: type, targetId }, session.area).catch((e) => chat.banner(String(e)));
  };
  const openFromList = (event: Event) => {
    const li = (event.target as HTMLElement).closest("li");
    if (!li?.dataset.target) return;
    const dest = { conversationType: typeOf(li.dataset.type), targetId: li.dataset.target, channelId: li.dataset.channel ?? "" };
    chat.openConversation(dest, session.area).catch((e) => chat.banner(String(e)));
  };
  view.$("conversations").onclick = openFromList;
  view.$("search-results").onclick = openFromList;
  view.$("channels").onchange = () => {
    const channelId = view.$<HTMLSelectElement>("channels").value;
    chat.switchChannel(channelId, session.area).catch((e) => chat.banner(String(e)));
  };
  view.$("composer").onsubmit = (event) => {
    event.preventDefault();
    const input = view.$<HTMLInputElement>("text");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    void chat.send("RC:TxtMsg", { content: text });
  };
  view.$("text").oninput = () => chat.typing();
  view.$("send-custom").onclick = () => {
    const input = view.$<HTMLInputElement>("text");
    void chat.send("App:Card", { title: input.value || "a card", sentFrom: "web demo" });
    input.value = "";
  };
  view.$("messages").onclick = (event) => {
    const target = event.target as HTMLElement;
    const uid = target.closest("li")?.dataset.uid;
    if (target.classList.contains("recall") && uid) chat.recall(uid).catch((e) => chat.banner(String(e)));
    const media = target.closest<HTMLAnchorElement>("a.media");
    if (media) {
      event.preventDefault();
      chat.openMedia(media).catch((e) => chat.banner(`not opened: ${e instanceof Error ? e.message : String(e)}`));
    }
  };
  const attach = view.$<HTMLInputElement>("attach");
  attach.onchange = () => {
    const file = attach.files?.[0];
    attach.value = "";
    if (file) void chat.attach(file);
  };
  view.$("older").onclick = () => void chat.loadOlder().catch((e) => chat.banner(String(e)));
  view.$("pin").onclick = () => void chat.togglePin().catch((e) => chat.banner(String(e)));
  view.$("search").onsubmit = (event) => {
    event.preventDefault();
    void chat.search(view.$<HTMLInputElement>("search-text").value);
  };
  view.$("signout").onclick = async () => {
    await chat.signOut();
    sessionStorage.removeItem(SESSION_KEY);
    location.reload();
  };
}

async function main(): Promise<void> {
  // A tab signed in before starts again from what it kept, even with the service down.
  const saved = sessionStorage.getItem(SESSION_KEY);
  const session: SignedIn = saved
    ? (JSON.parse(saved) as SignedIn)
    : await signIn((await (await fetch("/demo/config.json")).json()) as Config);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  const client = new MeridianClient({
    appKey: session.appKey,
    token: session.token,
    navs: session.navs,
    area: session.area,
    deviceId: deviceId(),
    store: new IndexedDbStore(),
  });
  const chat = new Chat(client, new LocalArchive(session.appKey, session.userId), session.userId);
  view.$("me").textContent = session.userId;
  view.$("app").hidden = false;
  wire(chat, session);
  wireMeeting(new Meeting(client, session.userId, (text) => chat.banner(text)), chat);
  await chat.start();
}

main().catch((e: unknown) => {
  document.body.textContent = `The demo could not start: ${String(e)}`;
});
