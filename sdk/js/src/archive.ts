// The browser's local store of messages and conversations (WEB-04): what a page shows
// before it is connected, or with no network at all (the conversation list, the latest
// pages of each conversation) and where it searches locally, as the seed's local storage
// and local search do. IndexedDB, one database per app and user.

import type { Conversation, Destination, Message } from "./protocol.js";

const VERSION = 1;
const MESSAGES = "messages";
const CONVERSATIONS = "conversations";
/** Index of MESSAGES by [conversation key, sentTime]. */
const BY_CONVERSATION = "byConversation";

/** A conversation's key: type, target and ultra-group channel. */
export function conversationKey(c: Destination): string {
  return `${c.conversationType}/${c.targetId}/${c.channelId ?? ""}`;
}

interface StoredMessage extends Message {
  key: string;
}

interface StoredConversation extends Conversation {
  key: string;
}

/** Media whose content is links and pictures, not words: found by name, if they have one. */
const MEDIA = new Set(["RC:ImgMsg", "RC:GIFMsg", "RC:HQVCMsg", "RC:SightMsg", "RC:FileMsg"]);

/**
 * The text a person would search: a text message's `content`, a file's or video's name;
 * nothing of other media (their content is a thumbnail and links); an app's own message
 * types as their raw content.
 */
export function searchableText(message: Pick<Message, "objectName" | "content">): string {
  let body: { content?: unknown; name?: unknown } | undefined;
  try {
    body = JSON.parse(message.content) as typeof body;
  } catch {
    // Not JSON: search it as it is.
  }
  if (MEDIA.has(message.objectName)) return typeof body?.name === "string" ? body.name : "";
  if (typeof body?.content === "string") return body.content;
  return message.content;
}

export class LocalArchive {
  private db: Promise<IDBDatabase> | undefined;

  /** One archive per app and user: another user signing in on the page sees nothing of it. */
  constructor(
    appKey: string,
    userId: string,
    private readonly name = `meridian-archive/${appKey}/${userId}`,
  ) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(this.name, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore(MESSAGES, { keyPath: "msgUID" }).createIndex(BY_CONVERSATION, [
          "key",
          "sentTime",
        ]);
        db.createObjectStore(CONVERSATIONS, { keyPath: "key" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  }

  /** Runs `work` in one transaction; resolves once it is durable. */
  private async transaction<T>(
    stores: string[],
    mode: IDBTransactionMode,
    work: (tx: IDBTransaction) => T,
  ): Promise<T> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(stores, mode);
      const result = work(tx);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  /** Keeps stored messages (history pages, live messages); status messages (seq 0) are not. */
  async putMessages(messages: Message[]): Promise<void> {
    const kept = messages.filter((m) => m.seq > 0);
    if (kept.length === 0) return;
    await this.transaction([MESSAGES], "readwrite", (tx) => {
      const store = tx.objectStore(MESSAGES);
      for (const m of kept) store.put({ ...m, key: conversationKey(m) } satisfies StoredMessage);
    });
  }

  /** Marks a message recalled (an `RC:RcCmd` arrived for it). */
  async markRecalled(msgUID: string): Promise<void> {
    await this.transaction([MESSAGES], "readwrite", (tx) => {
      const store = tx.objectStore(MESSAGES);
      const request = store.get(msgUID);
      request.onsuccess = () => {
        const stored = request.result as StoredMessage | undefined;
        if (stored) store.put({ ...stored, recalled: true });
      };
    });
  }

  /** Up to `limit` messages of a conversation sent before `beforeTime` (0: the latest), oldest first. */
  async page(conversation: Destination, beforeTime = 0, limit = 20): Promise<Message[]> {
    const key = conversationKey(conversation);
    const upper = beforeTime > 0 ? beforeTime : Number.MAX_SAFE_INTEGER;
    const range = IDBKeyRange.bound([key, 0], [key, upper], false, beforeTime > 0);
    const found: Message[] = [];
    await this.transaction([MESSAGES], "readonly", (tx) => {
      const request = tx.objectStore(MESSAGES).index(BY_CONVERSATION).openCursor(range, "prev");
      request.onsuccess = () => {
        const cursor = request.result;
        if (!cursor || found.length >= limit) return;
        found.push(strip(cursor.value as StoredMessage));
        cursor.continue();
      };
    });
    return found.reverse();
  }

  /** Replaces the stored conversation list with the server's. */
  async putConversations(conversations: Conversation[]): Promise<void> {
    await this.transaction([CONVERSATIONS], "readwrite", (tx) => {
      const store = tx.objectStore(CONVERSATIONS);
      store.clear();
      for (const c of conversations) store.put({ ...c, key: conversationKey(c) } satisfies StoredConversation);
    });
  }

  /** Keeps one conversation's entry (a new message, a read, a pin). */
  async putConversation(conversation: Conversation): Promise<void> {
    await this.transaction([CONVERSATIONS], "readwrite", (tx) => {
      tx.objectStore(CONVERSATIONS).put({ ...conversation, key: conversationKey(conversation) });
    });
  }

  /** The stored list: pinned first, then by last message, newest first. */
  async conversations(): Promise<Conversation[]> {
    const all = await this.transaction([CONVERSATIONS], "readonly", (tx) => {
      const request = tx.objectStore(CONVERSATIONS).getAll();
      return request;
    });
    return (all.result as StoredConversation[]).map(strip).sort(byPinThenRecency);
  }

  /** Stored messages whose text holds `keyword` (case-insensitive), newest first. */
  async search(keyword: string, limit = 50): Promise<Message[]> {
    const needle = keyword.toLowerCase();
    const found: Message[] = [];
    if (needle.length === 0) return found;
    await this.transaction([MESSAGES], "readonly", (tx) => {
      const request = tx.objectStore(MESSAGES).openCursor();
      request.onsuccess = () => {
        const cursor = request.result;
        if (!cursor) return;
        const m = cursor.value as StoredMessage;
        if (!m.recalled && searchableText(m).toLowerCase().includes(needle)) found.push(strip(m));
        cursor.continue();
      };
    });
    return found.sort((a, b) => b.sentTime - a.sentTime).slice(0, limit);
  }
}

/** Orders a conversation list as apps show it. */
export function byPinThenRecency(a: Conversation, b: Conversation): number {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  return (b.lastMessage?.sentTime ?? 0) - (a.lastMessage?.sentTime ?? 0);
}

function strip<T extends { key: string }>(stored: T): Omit<T, "key"> {
  const { key: _key, ...rest } = stored;
  return rest;
}
