// The commands of driver.mjs through @rongcloud/imlib-v2's API (2.9, callbacks).
import * as RongIMLib from "@rongcloud/imlib-v2";

const { RongIMClient } = RongIMLib;
const PRIVATE = 1;

/** A callback pair as a promise of the driver's answer. */
const called = (run, onSuccess) =>
  new Promise((resolve) =>
    run({
      onSuccess: (value) => resolve({ code: 0, ...onSuccess(value) }),
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
        onSuccess: (userId) => resolve({ code: 0, userId }),
        onTokenIncorrect: () => resolve({ code: 31004 }),
        onError: (code) => resolve({ code }),
      }),
    );
  },

  send({ to, text }) {
    const message = new RongIMLib.TextMessage({ content: text });
    return called(
      (callbacks) => RongIMClient.getInstance().sendMessage(PRIVATE, to, message, callbacks),
      (sent) => ({ messageUId: sent.messageUId, sentTime: sent.sentTime }),
    );
  },
};
