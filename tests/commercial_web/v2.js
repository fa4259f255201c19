// The commands of driver.mjs through @rongcloud/imlib-v2's API (2.9, callbacks).
import * as RongIMLib from "@rongcloud/imlib-v2";

const { RongIMClient } = RongIMLib;
const PRIVATE = 1;
const im = () => RongIMClient.getInstance();

/** A callback pair as a promise of the driver's answer. */
const called = (run, onSuccess) =>
  new Promise((resolve) =>
    run({
      onSuccess: (value, more) => resolve({ code: 0, ...onSuccess(value, more) }),
      onError: (code) => resolve({ code }),
    }),
  );

export default {
  async connect({ appkey, nav, token }) {
    RongIMClient.init(appkey, null, { navi: nav });
    RongIMClient.setConnectionStatusListener({ onChanged() {} });
    RongIMClient.setOnReceiveMessageListener({
      onReceived(m) {
        window.report({
          event: "received",
          conversationType: m.conversationType,
          targetId: m.targetId,
          messageUId: m.messageUId,
          senderUserId: m.senderUserId,
          content: m.content,
        });
      },
    });
    return new Promise((resolve) =>
      RongIMClient.connect(token, {
        onSuccess: (userId) => {
          window.userId = userId;
          resolve({ code: 0, userId });
        },
        onTokenIncorrect: () => resolve({ code: 31004 }),
        onError: (code) => resolve({ code }),
      }),
    );
  },

  send({ to, text }) {
    const message = new RongIMLib.TextMessage({ content: text });
    return called(
      (callbacks) => im().sendMessage(PRIVATE, to, message, callbacks),
      (sent) => ({ messageUId: sent.messageUId, sentTime: sent.sentTime }),
    );
  },

  conversations() {
    return called(
      (callbacks) => im().getConversationList(callbacks, null, 100),
      (list) => ({
        list: list.map((c) => ({
          conversationType: c.conversationType,
          targetId: c.targetId,
          unreadMessageCount: c.unreadMessageCount,
          latestMessageUId: c.latestMessage?.messageUId,
        })),
      }),
    );
  },

  history({ with: peer, count, timestamp, order = 0 }) {
    return called(
      (callbacks) => im().getHistoryMessages(PRIVATE, peer, timestamp, count, callbacks, undefined, order),
      (list, hasMore) => ({
        hasMore,
        list: list.map((m) => ({ messageUId: m.messageUId, sentTime: m.sentTime, senderUserId: m.senderUserId })),
      }),
    );
  },

  // Recalls a message this page sent (as its answer to `send` describes it).
  recall({ to, messageUId, sentTime }) {
    const message = { conversationType: PRIVATE, targetId: to, messageUId, sentTime, senderUserId: window.userId };
    return called((callbacks) => im().sendRecallMessage(message, callbacks), () => ({}));
  },

  join({ roomId }) {
    return called((callbacks) => im().joinChatRoom(roomId, 10, callbacks), () => ({}));
  },
};
