// The commands of driver.mjs through @rongcloud/imlib-next's API (5.x).
import * as im from "@rongcloud/imlib-next";

const privately = (targetId) => ({ conversationType: im.ConversationType.PRIVATE, targetId });
const done = (result, data) => ({ code: result.code, ...data });
/** Every message received, by its messageUId, as the SDK gave it. */
const received = new Map();

export default {
  async connect({ appkey, nav, token }) {
    im.init({ appkey, navigators: [nav] });
    im.addEventListener(im.Events.MESSAGES, ({ messages }) => {
      for (const m of messages) {
        received.set(m.messageUId, m);
        window.report({
          event: "received",
          conversationType: m.conversationType,
          targetId: m.targetId,
          messageUId: m.messageUId,
          senderUserId: m.senderUserId,
          content: m.content,
        });
      }
    });
    im.addEventListener(im.Events.READ_RECEIPT_RECEIVED, ({ conversation, messageUId }) => {
      window.report({ event: "readReceipt", targetId: conversation.targetId, messageUId });
    });
    im.addEventListener(im.Events.EXPANSION, ({ updatedExpansion, deletedExpansion }) => {
      window.report({ event: "expansion", updatedExpansion, deletedExpansion });
    });
    im.addEventListener(im.Events.CHATROOM, (change) => {
      const { chatroomDestroyed, chatroomNotifyBan, chatroomNotifyBlock } = change;
      if (chatroomDestroyed) window.report({ event: "chatroomDestroyed", chatroomId: chatroomDestroyed });
      if (chatroomNotifyBan) window.report({ event: "chatroomBan", ...chatroomNotifyBan });
      if (chatroomNotifyBlock) window.report({ event: "chatroomBlock", ...chatroomNotifyBlock });
    });
    const answer = await im.connect(token);
    return { code: answer.code, userId: answer.data?.userId };
  },

  async send({ to, text }) {
    const sent = await im.sendMessage(privately(to), new im.TextMessage({ content: text }));
    return done(sent, { messageUId: sent.data?.messageUId, sentTime: sent.data?.sentTime });
  },

  async readReceipt({ to, messageUId, sentTime }) {
    return done(await im.sendReadReceiptMessage(to, messageUId, sentTime));
  },

  async sendUltra({ group, text }) {
    const guild = { conversationType: im.ConversationType.ULTRA_GROUP, targetId: group, channelId: "" };
    const sent = await im.sendMessage(guild, new im.TextMessage({ content: text }));
    return done(sent, { messageUId: sent.data?.messageUId });
  },

  async ultraGroups() {
    const list = await im.getUltraGroupList();
    return done(list, { groups: (list.data ?? []).map((g) => g.targetId) });
  },

  async conversations() {
    const list = await im.getConversationList();
    return done(list, {
      list: (list.data ?? []).map((c) => ({
        conversationType: c.conversationType,
        targetId: c.targetId,
        unreadMessageCount: c.unreadMessageCount,
        latestMessageUId: c.latestMessage?.messageUId,
      })),
    });
  },

  async history({ with: peer, count, timestamp, order = 0 }) {
    const page = await im.getHistoryMessages(privately(peer), { timestamp, count, order });
    return done(page, {
      hasMore: page.data?.hasMore,
      list: (page.data?.list ?? []).map((m) => ({
        messageUId: m.messageUId,
        sentTime: m.sentTime,
        senderUserId: m.senderUserId,
      })),
    });
  },

  // The server-side ("real-time") conversation list.
  async realtime({ count, startTime, order }) {
    const list = await im.getRealtimeConversations({ count, startTime, order });
    return done(list, {
      list: (list.data ?? []).map((c) => ({
        targetId: c.targetId,
        unreadMessageCount: c.unreadMessageCount,
        latestMessageUId: c.latestMessage?.messageUId,
      })),
    });
  },

  async realtimeTotal() {
    const total = await im.getRealtimeConTotalUnreadCount();
    return done(total, { total: total.data });
  },

  async realtimeUnread({ with: peers }) {
    const counts = await im.getRealtimeConUnreadCounts(peers.map(privately));
    return done(counts, {
      counts: Object.fromEntries((counts.data ?? []).map((c) => [c.targetId, c.unreadCount])),
    });
  },

  async realtimeClear({ with: peer }) {
    return done(await im.clearRealtimeConUnreadCount(privately(peer)));
  },

  async realtimeRemove({ with: peers }) {
    return done(await im.removeRealtimeConversations(peers.map(privately)));
  },

  // Changes the expansion of a message this page received.
  async expand({ messageUId, expansion }) {
    const message = received.get(messageUId);
    if (!message) return { code: -1, error: `no message ${messageUId} was received` };
    return done(await im.updateMessageExpansion(expansion, message));
  },

  async recall({ to, messageUId, sentTime }) {
    return done(await im.recallMessage(privately(to), { messageUId, sentTime }));
  },

  async join({ roomId }) {
    return done(await im.joinChatRoom(roomId, { count: 10 }));
  },
};
