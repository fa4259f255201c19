// The demo's DOM: small functions that draw one thing each from plain data, so `app.ts`
// holds the chat logic and nothing here talks to the SDK.

import { conversationKey, searchableText } from "../src/archive.js";
import type { Conversation, Destination, Message } from "../src/index.js";

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

function element(tag: string, className: string, text = ""): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.textContent = text;
  return e;
}

const TYPE_NAMES: Record<number, string> = { 1: "", 3: "group ", 4: "chatroom ", 6: "system ", 10: "ultra group " };

export function conversationTitle(c: Destination): string {
  const channel = c.channelId ? ` #${c.channelId}` : "";
  return `${TYPE_NAMES[c.conversationType] ?? ""}${c.targetId}${channel}`;
}

/**
 * An image message's picture (its thumbnail, linking to the file) or a file's link. A link
 * is marked `media` so the app fetches it as the signed-in user: in an app's private mode a
 * link alone is refused.
 */
function mediaOf(m: Message): HTMLElement | undefined {
  let body: { content?: string; imageUri?: string; fileUrl?: string; name?: string };
  try {
    body = JSON.parse(m.content) as typeof body;
  } catch {
    return undefined;
  }
  if (m.objectName === "RC:ImgMsg" && body.imageUri) {
    const link = document.createElement("a");
    link.href = body.imageUri;
    link.className = "media photo";
    const img = document.createElement("img");
    img.src = body.content ? `data:image/jpeg;base64,${body.content}` : body.imageUri;
    img.alt = "photo";
    link.append(img);
    return link;
  }
  if (m.objectName === "RC:FileMsg" && body.fileUrl) {
    const link = document.createElement("a");
    link.href = body.fileUrl;
    link.className = "media file";
    link.dataset.name = body.name ?? "file";
    link.textContent = messageText(m);
    return link;
  }
  return undefined;
}

function fileName(m: Message): string {
  try {
    return (JSON.parse(m.content) as { name?: string }).name ?? "";
  } catch {
    return "";
  }
}

/** What a message shows as text: a text message's words, a card's title, a recall notice. */
export function messageText(m: Message): string {
  if (m.recalled) return "message recalled";
  if (m.objectName === "RC:ImgMsg") return "[photo]";
  if (m.objectName === "RC:FileMsg") return `[file] ${fileName(m)}`;
  if (m.objectName === "App:Card") {
    try {
      return `[card] ${(JSON.parse(m.content) as { title?: string }).title ?? ""}`;
    } catch {
      return "[card]";
    }
  }
  return searchableText(m);
}

export function renderConversations(list: Conversation[], open: Destination | undefined): void {
  const ul = $("conversations");
  const openKey = open && conversationKey(open);
  ul.replaceChildren(
    ...list.map((c) => {
      const li = element("li", conversationKey(c) === openKey ? "open" : "");
      li.dataset.key = conversationKey(c);
      li.dataset.type = String(c.conversationType);
      li.dataset.target = c.targetId;
      li.dataset.channel = c.channelId;
      const title = element("span", "title", conversationTitle(c));
      if (c.pinned) title.prepend(element("span", "pin", "pinned"));
      li.append(title, element("span", "unread", c.unread > 0 ? String(c.unread) : ""));
      li.append(element("span", "preview", c.lastMessage ? messageText(c.lastMessage) : ""));
      return li;
    }),
  );
}

/** One message's row: sender, text, its status (sending, sent, read, read by N) and actions. */
export function messageRow(m: Message, me: string, status: string): HTMLLIElement {
  const own = m.senderUserId === me;
  const li = element("li", m.recalled ? "recalled" : "") as HTMLLIElement;
  li.dataset.uid = m.msgUID;
  li.dataset.own = String(own);
  li.dataset.sentTime = String(m.sentTime);
  if (!own) li.append(element("span", "sender", m.senderUserId));
  const media = m.recalled ? undefined : mediaOf(m);
  if (media) li.append(media);
  // A picture or a file link says what it is; the text beside it stays empty.
  const text = element("span", m.objectName === "App:Card" ? "text card" : "text", media ? "" : messageText(m));
  li.append(text, element("span", "status", own ? status : ""));
  if (own && !m.recalled && m.msgUID) {
    const recall = element("button", "recall", "Recall");
    recall.setAttribute("type", "button");
    li.append(recall);
  }
  return li;
}

export function renderSearchResults(found: Message[]): void {
  $("search-results").replaceChildren(
    ...found.map((m) => {
      const li = element("li", "");
      li.dataset.key = conversationKey(m);
      li.dataset.type = String(m.conversationType);
      li.dataset.target = m.targetId;
      li.dataset.channel = m.channelId;
      li.dataset.uid = m.msgUID;
      li.append(element("span", "title", conversationTitle(m)), element("span", "preview", messageText(m)));
      return li;
    }),
  );
}
