//! Push notifications end to end (PUSH-01..05): devices register through the client
//! protocol, messages to offline users become pushes, and the cluster delivers them to
//! local fakes of APNs (HTTP/2, ES256 JWT), FCM HTTP v1 (OAuth service account), a
//! webhook and the Chinese Android vendor channels (Huawei, Xiaomi, OPPO, vivo, Meizu,
//! Honor), each speaking its provider's real protocol.

mod common;

use std::time::Duration;

use common::{admin_json, binary, pem, put_settings, synced, Api};
use meridian_client::Connection;
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_push::fake::{
    FakeApns, FakeFcm, FakeHonor, FakeHuawei, FakeMeizu, FakeOppo, FakeVivo, FakeWebhook,
    FakeXiaomi,
};
use meridian_testkit::{eventually, metric_sum, metric_value, DevDeployment};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);
const IOS: &str = "com.example.chat";
const ANDROID: &str = "com.example.chat.android";

struct Area {
    dev: DevDeployment,
    api: Api,
}

impl Area {
    /// A one-node SG deployment whose prod app pushes through a fake webhook.
    async fn pushing_through_a_webhook() -> (Area, FakeWebhook) {
        let webhook = FakeWebhook::start().await;
        let dev = DevDeployment::start(binary(), "SG", 1).await;
        let area = Area {
            api: Api::new(&dev, "SG", "prod"),
            dev,
        };
        let settings = json!({"push": {"webhookUrl": format!("{}/push", webhook.endpoint())}});
        assert_eq!(put_settings(&area.dev, &area.api.key, settings).await, 200);
        (area, webhook)
    }

    /// A one-node SG deployment whose prod app pushes to iOS devices (`IOS`) through
    /// `apns`, to Android ones (`ANDROID`) through `fcm`, and to a webhook if given.
    async fn pushing_through_apns_and_fcm(
        apns: &FakeApns,
        fcm: &FakeFcm,
        webhook_url: Option<String>,
    ) -> Area {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("fakes-ca.pem");
        std::fs::write(&ca, pem(&apns.ca_cert()) + &pem(&fcm.ca_cert())).unwrap();
        let args = ["--outbound-ca", ca.to_str().unwrap()];
        let dev = DevDeployment::start_with(binary(), "SG", 1, &args).await;
        let area = Area {
            api: Api::new(&dev, "SG", "prod"),
            dev,
        };
        let settings = json!({"push": {
            "apps": [
                {"appId": IOS, "apns": apns.credentials(IOS)},
                {"appId": ANDROID, "fcm": fcm.credentials("chat-project")},
            ],
            "webhookUrl": webhook_url,
        }});
        assert_eq!(put_settings(&area.dev, &area.api.key, settings).await, 200);
        area
    }

    /// `user`'s phone, synced.
    async fn connect(&self, user: &str) -> Connection {
        let (ws, device) = (self.dev.ws("SG"), format!("{user}-phone"));
        let mut connection = common::connect(&ws, &self.api, user, &device, "iOS", None).await;
        synced(&mut connection).await;
        connection
    }

    /// Registers `user`'s phone for push and leaves it offline.
    async fn register(&self, user: &str, provider: &str, token: &str, app_id: &str) {
        let ws = self.dev.ws("SG");
        common::register_push(&ws, &self.api, user, (provider, token, app_id)).await;
    }

    async fn wait_offline(&self, user: &str) {
        common::wait_offline(&self.api, user).await;
    }

    async fn say(&self, from: &str, to: &str, content: serde_json::Value) {
        let body = format!(
            "fromUserId={from}&toUserId={to}&objectName=RC:TxtMsg&content={}&pushData=extra-{to}",
            meridian_client::url_encode(&content.to_string())
        );
        self.api.ok("/message/private/publish.json", &body).await;
    }

    async fn say_in_group(&self, from: &str, group: &str, content: serde_json::Value) {
        let body = format!(
            "fromUserId={from}&toGroupId={group}&objectName=RC:TxtMsg&content={}",
            meridian_client::url_encode(&content.to_string())
        );
        self.api.ok("/message/group/publish.json", &body).await;
    }

    /// Waits until no push job waits and `expected` pushes in all had `outcome`
    /// (`delivered`, `token_gone`, …), as the node's metrics count them.
    async fn pushes_settled(&self, outcome: &str, expected: f64) {
        let label = format!("outcome=\"{outcome}\"");
        let what = format!("{expected} pushes {outcome} and an empty outbox");
        eventually(WAIT, &what, || async {
            let text = self.dev.node_metrics("SG").await?;
            let counted = metric_sum(
                &text,
                "meridian_cluster_callback_attempts_total",
                &["kind=\"push\"", &label],
            );
            let idle = metric_value(&text, "meridian_cluster_callbacks_waiting") == Some(0.0);
            (idle && counted == expected).then_some(())
        })
        .await
    }
}

// covers: PUSH-01, PUSH-02, PUSH-03, PUSH-04, PUSH-07, PRV-03, GRP-09
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_devices_get_pushes_through_apns_fcm_and_a_webhook_as_their_settings_allow() {
    let (apns, fcm) = (FakeApns::start().await, FakeFcm::start().await);
    let webhook = FakeWebhook::start().await;
    let webhook_url = format!("{}/push", webhook.endpoint());
    let area = Area::pushing_through_apns_and_fcm(&apns, &fcm, Some(webhook_url)).await;
    // Private keys never come back; sending the placeholder back keeps them.
    let path = format!("/admin/v1/apps/{}/settings", area.api.key);
    let (status, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(status, 200);
    let apps = &shown["settings"]["push"]["apps"];
    assert_eq!(apps[0]["apns"]["privateKeyPem"], "<redacted>");
    assert_eq!(apps[1]["fcm"]["privateKeyPem"], "<redacted>");
    assert!(!shown.to_string().contains("PRIVATE KEY"));
    let (status, _) = admin_json(&area.dev, "PUT", &path, shown["settings"].clone()).await;
    assert_eq!(status, 200);

    // PUSH-07: the app's notification sound.
    let style = format!("/admin/v1/apps/{}/push-style", area.api.key);
    let (status, _) = admin_json(&area.dev, "PUT", &style, json!({"sound": "ding.caf"})).await;
    assert_eq!(status, 200);

    let ivy_token = "a1".repeat(32);
    area.register("ivy", "apns", &ivy_token, IOS).await;
    area.register("andy", "fcm", "fcm-token-andy", ANDROID)
        .await;
    area.register("will", "webhook", "hook-token-will", "web")
        .await;
    area.register("mia", "apns", &"b2".repeat(32), IOS).await;
    // olga stays online: her messages arrive live, no push.
    area.register("olga", "webhook", "hook-token-olga", "web")
        .await;
    let _olga_online = area.connect("olga").await;
    // mia mutes her chat with alice (PUSH-03).
    area.api
        .ok(
            "/conversation/notification/set.json",
            "conversationType=1&requestId=mia&targetId=alice&isMuted=1",
        )
        .await;

    for user in ["ivy", "andy", "will", "mia", "olga"] {
        area.say("alice", user, json!({"content": format!("hi {user}")}))
            .await;
    }
    // The muted chat still pushes a message that mentions mia.
    area.say(
        "alice",
        "mia",
        json!({"content": "look, mia", "mentionedInfo": {"type": 2, "userIdList": ["mia"]}}),
    )
    .await;
    // GRP-09: in a group mia muted, only messages mentioning her or everyone push.
    area.api
        .ok(
            "/group/create.json",
            "userId=alice&userId=mia&groupId=team&groupName=Team",
        )
        .await;
    area.api
        .ok(
            "/conversation/notification/set.json",
            "conversationType=3&requestId=mia&targetId=team&isMuted=1",
        )
        .await;
    for content in [
        json!({"content": "team news"}),
        json!({"content": "team, mia", "mentionedInfo": {"type": 2, "userIdList": ["mia"]}}),
        json!({"content": "team, all", "mentionedInfo": {"type": 1}}),
    ] {
        area.say_in_group("alice", "team", content).await;
    }

    // APNs (HTTP/2, the fake verified the ES256 provider token and the topic).
    let pushed = apns.wait_for(4, WAIT).await.expect("four APNs pushes");
    let ivy = pushed.iter().find(|p| p.device_token == ivy_token).unwrap();
    assert_eq!((ivy.title.as_str(), ivy.body.as_str()), ("alice", "hi ivy"));
    assert_eq!(ivy.data.as_deref(), Some("extra-ivy"));
    assert_eq!(ivy.version, http::Version::HTTP_2);
    assert_eq!(ivy.headers["apns-topic"], IOS);
    // PUSH-07: the badge is ivy's unread total, one message.
    assert_eq!(ivy.json["aps"]["badge"], 1);
    assert_eq!(ivy.json["aps"]["sound"], "ding.caf");
    let mut mia: Vec<&str> = pushed
        .iter()
        .filter(|p| p.device_token != ivy_token)
        .map(|p| p.body.as_str())
        .collect();
    mia.sort();
    assert_eq!(
        mia,
        ["look, mia", "team, all", "team, mia"],
        "muted conversations push only mentions"
    );
    // FCM HTTP v1 (the fake issued the OAuth token from the service account's assertion).
    let pushed = fcm.wait_for(1, WAIT).await.expect("an FCM push");
    assert_eq!(pushed[0].device_token, "fcm-token-andy");
    assert_eq!(
        pushed[0].json["message"]["android"]["notification"]["sound"],
        "ding.caf"
    );
    assert_eq!(pushed[0].body, "hi andy");
    assert_eq!(
        pushed[0].json["message"]["android"]["notification"]["notification_count"],
        1
    );
    assert_eq!(fcm.tokens_issued(), 1);
    // The webhook: signed like every callback (HOOK-05).
    let pushed = webhook.wait_for(1, WAIT).await.expect("a webhook push");
    assert_eq!(pushed[0].device_token, "hook-token-will");
    assert_eq!(pushed[0].user_id.as_deref(), Some("will"));
    for field in ["appKey=", "nonce=", "signTimestamp=", "signature="] {
        assert!(pushed[0].uri.contains(field), "{}", pushed[0].uri);
    }
    // Exactly these six: none for olga (online) nor mia's muted "hi mia" and "team news".
    area.pushes_settled("delivered", 6.0).await;

    // APNs says ivy's token is gone: the token is dropped with the job's outcome.
    apns.mark_gone(&ivy_token);
    let tried = apns.requests();
    area.say("alice", "ivy", json!({"content": "still there?"}))
        .await;
    eventually(WAIT, "APNs asked about the gone token", || async {
        (apns.requests() == tried + 1).then_some(())
    })
    .await;
    area.pushes_settled("token_gone", 1.0).await;

    // andy logs out on his phone: it stops getting pushes.
    let mut andy = area.connect("andy").await;
    andy.send(&ClientFrame::Logout).await.unwrap();
    area.wait_offline("andy").await;

    // Neither ivy's dropped token nor andy's is pushed to; will's push, sent last, is
    // the barrier: once it is in and nothing waits, every earlier job was tried.
    area.say("alice", "ivy", json!({"content": "anyone?"}))
        .await;
    area.say("alice", "andy", json!({"content": "bye"})).await;
    area.say("alice", "will", json!({"content": "and you?"}))
        .await;
    webhook.wait_for(2, WAIT).await.expect("will's second push");
    area.pushes_settled("delivered", 7.0).await;
    assert_eq!(
        apns.requests(),
        tried + 1,
        "a gone token is not tried again"
    );
    assert_eq!(fcm.received().len(), 1, "a logged-out device is not pushed");
    area.dev.stop();
}

// covers: SYS-03, SYS-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_only_notices_reach_tagged_and_listed_users_devices_without_a_message() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    for user in ["ann", "bob", "cat"] {
        area.register(user, "webhook", &format!("hook-{user}"), "web")
            .await;
    }
    // bob is online: a notice is not a message, his device gets it all the same.
    let mut bob = area.connect("bob").await;
    for (user, tags) in [("ann", json!(["vip", "sg"])), ("bob", json!(["vip"]))] {
        let (answer, value) = area
            .api
            .json("/user/tag/set.json", &json!({"userId": user, "tags": tags}))
            .await;
        assert_eq!(answer.status, 200, "{value}");
    }

    let notify = json!({
        "platform": ["ios", "android", "web"],
        "audience": {"tag": ["vip"], "is_to_all": false},
        "notification": {"title": "News", "alert": "Doors open at 9",
                          "android": {"extras": {"page": "news"}}},
    });
    let (answer, value) = area.api.json("/push.json", &notify).await;
    assert_eq!(answer.status, 200, "{value}");
    assert!(
        value["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{value}"
    );
    let mut pushed: Vec<(String, String)> = webhook
        .wait_for(2, WAIT)
        .await
        .expect("the vip users' pushes")
        .into_iter()
        .map(|p| {
            assert_eq!(
                (p.title.as_str(), p.body.as_str()),
                ("News", "Doors open at 9")
            );
            assert_eq!(p.data.as_deref(), Some(r#"{"page":"news"}"#));
            (p.user_id.unwrap_or_default(), p.device_token)
        })
        .collect();
    pushed.sort();
    assert_eq!(
        pushed,
        [
            ("ann".to_string(), "hook-ann".to_string()),
            ("bob".to_string(), "hook-bob".to_string())
        ]
    );

    let direct =
        json!({"userIds": ["cat"], "notification": {"title": "Hi", "pushContent": "Just you"}});
    let (answer, value) = area.api.json("/push/user.json", &direct).await;
    assert_eq!(answer.status, 200, "{value}");
    let cat = webhook.wait_for(3, WAIT).await.expect("cat's push");
    assert!(cat
        .iter()
        .any(|p| p.device_token == "hook-cat" && p.body == "Just you"));
    area.pushes_settled("delivered", 3.0).await;

    // Bad input is refused and pushes nothing. (A /push.json call to everyone spends the
    // broadcast budget, so those go to the app's dev environment, which has its own.)
    let dev_env = Api::new(&area.dev, "SG", "dev");
    let settings = json!({"push": {"webhookUrl": format!("{}/push", webhook.endpoint())}});
    assert_eq!(put_settings(&area.dev, &dev_env.key, settings).await, 200);
    let too_many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let bad = [
        (
            &dev_env,
            "/push.json",
            json!({"audience": {}, "notification": {"alert": "x"}}),
            "audience",
        ),
        (
            &dev_env,
            "/push.json",
            json!({"platform": ["fax"], "audience": {"is_to_all": true}, "notification": {"alert": "x"}}),
            "platform",
        ),
        (
            &area.api,
            "/push/user.json",
            json!({"userIds": too_many, "notification": {"pushContent": "x"}}),
            "userIds",
        ),
        (
            &area.api,
            "/push/user.json",
            json!({"userIds": ["cat"], "notification": {}}),
            "pushContent",
        ),
    ];
    for (api, path, body, named) in bad {
        let (answer, value) = api.json(path, &body).await;
        assert_eq!(answer.status, 400, "{path} {body}: {value}");
        assert!(value.to_string().contains(named), "{path}: {value}");
    }
    // No message was made: the first message bob's session gets is one sent after.
    area.say("alice", "bob", json!({"content": "after the notices"}))
        .await;
    loop {
        match bob.next_within(WAIT).await.expect("a frame") {
            ServerFrame::Message(message) => {
                assert!(message.content.contains("after the notices"), "{message:?}");
                break;
            }
            _ => continue,
        }
    }

    // SYS-04: /push.json to everyone shares the broadcast budget, two an hour (the tag
    // notice above did not spend it): the third is refused.
    let everyone = json!({"audience": {"is_to_all": true}, "notification": {"alert": "All"}});
    for _ in 0..2 {
        let (answer, value) = area.api.json("/push.json", &everyone).await;
        assert_eq!(answer.status, 200, "{value}");
    }
    let (answer, value) = area.api.json("/push.json", &everyone).await;
    common::assert_error(&answer, &value, 429, 1008);
    let broadcast = "fromUserId=alice&objectName=RC:TxtMsg&content=%7B%7D";
    let (answer, value) = area.api.form("/message/broadcast.json", broadcast).await;
    common::assert_error(&answer, &value, 429, 1008);
    // Each notice to everyone reaches all three devices, and nothing more goes out.
    let pushed = webhook
        .wait_for(9, WAIT)
        .await
        .expect("the notices to everyone");
    let mut everyone_reached: Vec<&str> = pushed
        .iter()
        .filter(|p| p.body == "All")
        .map(|p| p.device_token.as_str())
        .collect();
    everyone_reached.sort();
    assert_eq!(
        everyone_reached,
        ["hook-ann", "hook-ann", "hook-bob", "hook-bob", "hook-cat", "hook-cat"]
    );
    area.pushes_settled("delivered", 9.0).await;
    area.dev.stop();
}

// covers: API-07, PUSH-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_options_title_and_withhold_pushes() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    area.register("bob", "webhook", "hook-bob", "web").await;
    let publish = |extra: &str, text: &str| {
        format!(
            r#"fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content={{"content":"{text}"}}{extra}"#
        )
    };
    // pushExt.title replaces the sender's name; disablePush sends nothing.
    area.api
        .ok(
            "/message/private/publish.json",
            &publish(
                r#"&pushExt={"title":"Breaking","forceShowPushContent":1}"#,
                "titled",
            ),
        )
        .await;
    area.api
        .ok(
            "/message/private/publish.json",
            &publish("&disablePush=true", "silent"),
        )
        .await;
    // Empty pushContent and pushData, as the Go SDK sends them when not asked: the text.
    area.api
        .ok(
            "/message/private/publish.json",
            &publish("&pushContent=&pushData=", "plain"),
        )
        .await;
    let pushed = webhook.wait_for(2, WAIT).await.expect("two pushes");
    let seen: Vec<(&str, &str)> = pushed
        .iter()
        .map(|p| (p.title.as_str(), p.body.as_str()))
        .collect();
    assert_eq!(seen, [("Breaking", "titled"), ("alice", "plain")]);
    area.pushes_settled("delivered", 2.0).await;
    assert_eq!(
        webhook.received().len(),
        2,
        "the disabled push never went out"
    );
    area.dev.stop();
}

// covers: API-07, PUSH-05, SYS-03
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_app_server_asks_of_a_notification_reaches_apns_and_fcm() {
    let (apns, fcm) = (FakeApns::start().await, FakeFcm::start().await);
    let area = Area::pushing_through_apns_and_fcm(&apns, &fcm, None).await;
    let (ivy_token, jan_token) = ("a1".repeat(32), "b2".repeat(32));
    area.register("ivy", "apns", &ivy_token, IOS).await;
    area.register("jan", "apns", &jan_token, IOS).await;
    area.register("andy", "fcm", "fcm-token-andy", ANDROID)
        .await;
    for user in ["ivy", "jan", "andy"] {
        area.wait_offline(user).await;
    }
    let publish = |to: &str, extra: &str| {
        format!(
            r#"fromUserId=alice&toUserId={to}&objectName=RC:TxtMsg&content={{"content":"hi {to}"}}{extra}"#
        )
    };
    // The shape the published server SDKs send: `count`, `contentAvailable`, and the
    // vendor options in `pushExt.pushConfigs`.
    let push_ext = r#"{"title":"T","pushConfigs":[{"APNs":{"thread-id":"th-1","apns-collapse-id":"c-1"}},{"FCM":{"channelId":"chat","collapse_key":"k"}},{"HW":{"channelId":"hw-1"}}]}"#;
    let extra = format!(
        "&count=7&contentAvailable=1&pushExt={}",
        meridian_client::url_encode(push_ext)
    );
    area.api
        .ok("/message/private/publish.json", &publish("ivy", &extra))
        .await;
    let ivy = &apns.wait_for(1, WAIT).await.expect("ivy's push")[0];
    assert_eq!(ivy.title, "T");
    let aps = &ivy.json["aps"];
    assert_eq!(aps["badge"], 7, "the call's count, not the unread total");
    assert_eq!(aps["content-available"], 1);
    assert_eq!(aps["thread-id"], "th-1");
    assert_eq!(ivy.headers["apns-collapse-id"], "c-1");
    area.api
        .ok("/message/private/publish.json", &publish("andy", &extra))
        .await;
    let andy = &fcm.wait_for(1, WAIT).await.expect("andy's push")[0];
    let android = &andy.json["message"]["android"];
    assert_eq!(android["notification"]["channel_id"], "chat");
    assert_eq!(android["collapse_key"], "k");
    assert_eq!(android["notification"]["notification_count"], 7);
    // Without them (a count of -1 is the Java SDK's "unchanged"), the badge is the unread
    // total (ivy now has two).
    area.api
        .ok(
            "/message/private/publish.json",
            &publish("ivy", "&count=-1"),
        )
        .await;
    let ivy = &apns.wait_for(2, WAIT).await.expect("ivy's second push")[1];
    assert_eq!(ivy.json["aps"]["badge"], 2);
    assert!(ivy.json["aps"].get("thread-id").is_none());

    // Push Plus: a tag expression (vip and not muted) and iOS options.
    for (user, tags) in [("ivy", json!(["vip"])), ("jan", json!(["vip", "muted"]))] {
        let (answer, value) = area
            .api
            .json("/user/tag/set.json", &json!({"userId": user, "tags": tags}))
            .await;
        assert_eq!(answer.status, 200, "{value}");
    }
    let custom = json!({
        "platform": ["ios", "android"],
        "audience": {"is_to_all": false, "packageName": IOS, "tagItems": [
            {"tags": ["vip"], "isNot": false, "tagsOperator": "OR", "itemsOperator": "OR"},
            {"tags": ["muted"], "isNot": true, "tagsOperator": "OR", "itemsOperator": "AND"},
        ]},
        "notification": {"title": "Sale", "alert": "Half price today",
                          "ios": {"badge": 1, "thread-id": "sale", "interruption-level": "passive"}},
    });
    let (answer, value) = area.api.json("/push/custom.json", &custom).await;
    assert_eq!(answer.status, 200, "{value}");
    assert!(
        value["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{value}"
    );
    let sale = &apns.wait_for(3, WAIT).await.expect("the sale push")[2];
    assert_eq!(
        (sale.title.as_str(), sale.body.as_str()),
        ("Sale", "Half price today")
    );
    assert_eq!(sale.device_token, ivy_token, "jan is muted");
    assert_eq!(sale.json["aps"]["badge"], 1);
    assert_eq!(sale.json["aps"]["thread-id"], "sale");
    assert_eq!(sale.json["aps"]["interruption-level"], "passive");

    // Bad options are refused with 1002 and push nothing. (A count of -1, the Java SDK's
    // "unchanged", is no count: the unread total stays the badge.)
    let bad_configs = format!(
        "&pushExt={}",
        meridian_client::url_encode(r#"{"pushConfigs":[{"VIVO":{"classification":"5"}}]}"#)
    );
    for extra in [
        bad_configs.as_str(),
        "&count=many",
        "&contentAvailable=maybe",
    ] {
        let (answer, value) = area
            .api
            .form("/message/private/publish.json", &publish("ivy", extra))
            .await;
        common::assert_error(&answer, &value, 400, 1002);
    }
    let mut bad_custom = custom.clone();
    bad_custom["audience"]["tagItems"][0]["tagsOperator"] = json!("XOR");
    let (answer, value) = area.api.json("/push/custom.json", &bad_custom).await;
    common::assert_error(&answer, &value, 400, 1002);
    area.pushes_settled("delivered", 4.0).await;
    assert_eq!(apns.received().len(), 3, "nothing refused went out");
    area.dev.stop();
}

// covers: ULG-06, API-08
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ultra_group_pushes_at_the_pace_the_app_sets() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    area.register("bob", "webhook", "hook-bob", "web").await;
    area.wait_offline("bob").await;
    let path = format!("/admin/v1/apps/{}/ultra-group-push", area.api.key);
    let (status, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(
        (status, &shown["ultraGroupPush"]),
        (200, &json!({"intervalSecs": 0}))
    );
    // Refused past a day, or with a field it does not know, and nothing changes.
    for bad in [
        json!({"intervalSecs": 86_401}),
        json!({"intervalSecs": 5, "x": 1}),
    ] {
        let (status, _) = admin_json(&area.dev, "PUT", &path, bad).await;
        assert_eq!(status, 400);
    }
    let (status, _) = admin_json(&area.dev, "PUT", &path, json!({"intervalSecs": 3600})).await;
    assert_eq!(status, 200);
    let (_, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(shown["ultraGroupPush"]["intervalSecs"], 3600);

    area.api
        .ok(
            "/ultragroup/create.json",
            "userId=ann&groupId=fans&groupName=Fans",
        )
        .await;
    area.api
        .ok("/ultragroup/join.json", "userId=bob&groupId=fans")
        .await;
    for content in [
        json!({"content": "first"}),
        json!({"content": "second"}),
        json!({"content": "@bob third", "mentionedInfo": {"type": 2, "userIdList": ["bob"]}}),
    ] {
        let body = json!({"fromUserId": "ann", "toGroupIds": ["fans"],
                          "objectName": "RC:TxtMsg", "content": content.to_string()});
        let (answer, value) = area
            .api
            .json("/message/ultragroup/publish.json", &body)
            .await;
        assert_eq!(answer.status, 200, "{value}");
    }
    area.pushes_settled("delivered", 2.0).await;
    let bodies: Vec<String> = webhook.received().into_iter().map(|p| p.body).collect();
    assert_eq!(
        bodies,
        ["first", "@bob third"],
        "the second waits out the hour"
    );
    area.dev.stop();
}

/// The app caps how fast its pushes go out: a notice to 24 devices at 8 a second goes
/// out a second's worth at once and the other 16 over the next 2 s (uncapped, all 24 take
/// a fraction of a second), each device once.
// covers: PUSH-01, API-08
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_pushes_go_out_no_faster_than_the_rate_it_caps_them_at() {
    const DEVICES: usize = 24;
    const PER_SECOND: u64 = 8;
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    let path = format!("/admin/v1/apps/{}/push-rate", area.api.key);
    let (status, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(
        (status, &shown["pushRate"]),
        (200, &json!({"perSecond": 0}))
    );
    // At the limit's edge: 100,000 is taken, one more or a field it does not know is
    // refused, and a refusal changes nothing.
    let (status, _) = admin_json(&area.dev, "PUT", &path, json!({"perSecond": 100_000})).await;
    assert_eq!(status, 200);
    for bad in [
        json!({"perSecond": 100_001}),
        json!({"perSecond": -1}),
        json!({"perSecond": 5, "burst": 1}),
    ] {
        let (status, _) = admin_json(&area.dev, "PUT", &path, bad).await;
        assert_eq!(status, 400);
    }
    let (_, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(shown["pushRate"]["perSecond"], 100_000);
    let (status, _) = admin_json(&area.dev, "PUT", &path, json!({"perSecond": PER_SECOND})).await;
    assert_eq!(status, 200);

    let users: Vec<String> = (0..DEVICES).map(|n| format!("u{n:02}")).collect();
    for user in &users {
        area.register(user, "webhook", &format!("hook-{user}"), "web")
            .await;
    }
    let notice =
        json!({"userIds": users, "notification": {"title": "Sale", "pushContent": "Today only"}});
    let sent = tokio::time::Instant::now();
    let (answer, value) = area.api.json("/push/user.json", &notice).await;
    assert_eq!(answer.status, 200, "{value}");
    area.pushes_settled("delivered", DEVICES as f64).await;
    let took = sent.elapsed();
    let mut tokens: Vec<String> = webhook
        .received()
        .into_iter()
        .map(|p| p.device_token)
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), DEVICES, "each device once");
    let earliest = Duration::from_millis((DEVICES as u64 - PER_SECOND) * 1_000 / PER_SECOND);
    assert!(
        took >= earliest - Duration::from_millis(50),
        "{DEVICES} pushes at {PER_SECOND}/s went out in {took:?}"
    );
    area.dev.stop();
}

/// PUSH-07: the app keeps a push template through the admin API; bob's client sets his
/// push language; a message naming the template pushes bob its Chinese text and carol,
/// who set none, its default.
// covers: PUSH-07
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_template_is_pushed_in_the_language_each_client_set() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    let templates = format!("/admin/v1/apps/{}/push-templates", area.api.key);
    let template = json!({
        "default": {"body": "You have a new message"},
        "languages": {"zh_CN": {"title": "新消息", "body": "您有一条新消息"}},
    });
    let path = format!("{templates}/new-message");
    let (status, answer) = admin_json(&area.dev, "PUT", &path, template.clone()).await;
    assert_eq!(status, 200, "{answer}");
    for bad in [
        json!({"default": {"body": ""}}),
        json!({"default": {"body": "b"}, "languages": {"e": {"body": "b"}}}),
        json!({"default": {"body": "b"}, "colour": "red"}),
    ] {
        let (status, _) = admin_json(&area.dev, "PUT", &path, bad).await;
        assert_eq!(status, 400);
    }
    let (_, listed) = admin_json(&area.dev, "GET", &templates, json!({})).await;
    assert_eq!(
        listed["pushTemplates"]["new-message"]["languages"],
        template["languages"]
    );

    for user in ["bob", "carol"] {
        area.register(user, "webhook", &format!("hook-{user}"), "web")
            .await;
    }
    let mut bob = area.connect("bob").await;
    for (req_id, language, accepted) in [(1, "z", false), (2, "zh_CN", true)] {
        bob.send(&ClientFrame::SetPushLanguage {
            req_id,
            language: language.into(),
        })
        .await
        .unwrap();
        match bob
            .next_within(common::FRAME_WAIT)
            .await
            .expect("an answer")
        {
            ServerFrame::Done { req_id: done } if accepted => assert_eq!(done, req_id),
            ServerFrame::Error { code, .. } if !accepted => assert_eq!(code, 1002),
            other => panic!("{language}: {other:?}"),
        }
    }
    bob.close().await;
    area.wait_offline("bob").await;

    let body = format!(
        "fromUserId=ann&toUserId=bob&toUserId=carol&objectName=RC:TxtMsg&content={}&pushExt={}",
        meridian_client::url_encode(r#"{"content":"the plan"}"#),
        meridian_client::url_encode(r#"{"templateId":"new-message"}"#)
    );
    area.api.ok("/message/private/publish.json", &body).await;
    let mut pushed: Vec<(String, String, String)> = webhook
        .wait_for(2, WAIT)
        .await
        .expect("both pushes")
        .into_iter()
        .map(|p| (p.device_token, p.title, p.body))
        .collect();
    pushed.sort();
    assert_eq!(
        pushed,
        [
            ("hook-bob".into(), "新消息".into(), "您有一条新消息".into()),
            (
                "hook-carol".into(),
                "ann".into(),
                "You have a new message".into()
            ),
        ]
    );
    // Removed, the template no longer applies: the message's own text is pushed.
    let (status, _) = admin_json(&area.dev, "DELETE", &path, json!({})).await;
    assert_eq!(status, 200);
    area.api.ok("/message/private/publish.json", &body).await;
    let later = webhook.wait_for(4, WAIT).await.expect("two more pushes");
    assert!(later[2..].iter().all(|p| p.body == "the plan"), "{later:?}");
    area.dev.stop();
}

// covers: PUSH-08
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_quiet_hours_hold_pushes_back_but_mentions_at_level_one() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    area.register("bob", "webhook", "hook-bob", "web").await;
    let style = format!("/admin/v1/apps/{}/push-style", area.api.key);
    // A window from a minute ago for ten minutes (UTC seconds of the day).
    let day_secs = 86_400;
    let now_secs = meridian_clock::now_secs();
    let start = (now_secs % day_secs + day_secs - 60) % day_secs;
    let quiet = json!({"quietHours": {"startSecs": start, "periodMinutes": 10, "level": 1}});
    let (status, answer) = admin_json(&area.dev, "PUT", &style, quiet.clone()).await;
    assert_eq!(status, 200, "{answer}");
    // Bad input is refused by name and changes nothing.
    for bad in [
        json!({"sound": "two words"}),
        json!({"quietHours": {"startSecs": 86_400, "periodMinutes": 10, "level": 1}}),
        json!({"quietHours": {"startSecs": 0, "periodMinutes": 10, "level": 3}}),
        json!({"volume": 11}),
    ] {
        let (status, answer) = admin_json(&area.dev, "PUT", &style, bad.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid")),
            "{bad}: {answer}"
        );
    }
    let (_, shown) = admin_json(&area.dev, "GET", &style, json!({})).await;
    assert_eq!(shown["pushStyle"]["quietHours"], quiet["quietHours"]);

    area.say("alice", "bob", json!({"content": "hush"})).await;
    area.say(
        "alice",
        "bob",
        json!({"content": "bob, urgent", "mentionedInfo": {"type": 2, "userIdList": ["bob"]}}),
    )
    .await;
    webhook.wait_for(1, WAIT).await.expect("the mention's push");
    area.pushes_settled("delivered", 1.0).await;
    let bodies: Vec<String> = webhook.received().iter().map(|p| p.body.clone()).collect();
    assert_eq!(
        bodies,
        ["bob, urgent"],
        "the plain message waited out the window"
    );

    // Without the window, every message pushes again.
    let (status, _) = admin_json(&area.dev, "PUT", &style, json!({})).await;
    assert_eq!(status, 200);
    area.say("alice", "bob", json!({"content": "morning"}))
        .await;
    let pushed = webhook.wait_for(2, WAIT).await.expect("the next push");
    assert_eq!(pushed[1].body, "morning");
    area.dev.stop();
}

// covers: SYS-02, PUSH-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_is_pushed_to_offline_users_devices() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    for user in ["ann", "bob"] {
        area.register(user, "webhook", &format!("hook-{user}"), "web")
            .await;
    }
    // bob is online: he gets the broadcast in his session, not as a push.
    let mut bob = area.connect("bob").await;
    area.api
        .ok(
            "/message/broadcast.json",
            r#"fromUserId=news&objectName=RC:TxtMsg&content={"content":"Doors open at 9"}&pushContent=Doors open"#,
        )
        .await;
    loop {
        if let ServerFrame::Message(message) = bob.next_within(WAIT).await.expect("the broadcast") {
            assert!(message.content.contains("Doors open at 9"), "{message:?}");
            break;
        }
    }
    let pushed = webhook.wait_for(1, WAIT).await.expect("ann's push");
    assert_eq!(
        (
            pushed[0].device_token.as_str(),
            pushed[0].title.as_str(),
            pushed[0].body.as_str()
        ),
        ("hook-ann", "news", "Doors open")
    );
    // With disablePush, a broadcast reaches sessions only (seen by bob once applied,
    // when its pushes, if any, would be in the outbox).
    area.api
        .ok(
            "/message/broadcast.json",
            r#"fromUserId=news&objectName=RC:TxtMsg&content={"content":"quietly"}&disablePush=1"#,
        )
        .await;
    loop {
        if let ServerFrame::Message(message) = bob.next_within(WAIT).await.expect("the broadcast") {
            assert!(message.content.contains("quietly"), "{message:?}");
            break;
        }
    }
    area.pushes_settled("delivered", 1.0).await;
    assert_eq!(
        webhook.received().len(),
        1,
        "only ann's first push went out"
    );

    area.dev.stop();
}

/// `/message/broadcast.json`'s `os`: everyone keeps the broadcast, only that platform's
/// devices are pushed; an unknown platform is refused.
// covers: SYS-02, PUSH-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_for_one_platform_pushes_only_its_devices() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    area.register("ann", "webhook", "hook-ann", "web").await;
    let mut bob = area.connect("bob").await;
    // Two broadcasts: the hourly budget. The iOS one pushes no webhook device.
    for (os, text) in [("iOS", "for iPhones"), ("web", "for the web")] {
        area.api
            .ok(
                "/message/broadcast.json",
                &format!(r#"fromUserId=news&objectName=RC:TxtMsg&content={{"content":"{text}"}}&pushContent={text}&os={os}"#),
            )
            .await;
        loop {
            let frame = bob.next_within(WAIT).await.expect("the broadcast");
            if let ServerFrame::Message(message) = frame {
                assert!(message.content.contains(text), "{message:?}");
                break;
            }
        }
    }
    let pushed = webhook.wait_for(1, WAIT).await.expect("ann's web push");
    assert_eq!(pushed[0].body, "for the web", "not the iOS one");
    area.pushes_settled("delivered", 1.0).await;
    assert_eq!(webhook.received().len(), 1);
    // The app's other environment has a budget of its own.
    let dev_env = Api::new(&area.dev, "SG", "dev");
    let (answer, value) = dev_env
        .form(
            "/message/broadcast.json",
            r#"fromUserId=news&objectName=RC:TxtMsg&content={}&os=Symbian"#,
        )
        .await;
    common::assert_error(&answer, &value, 400, 1002);
    area.dev.stop();
}

// covers: PUSH-05
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_android_devices_get_pushes_through_the_vendor_channels() {
    let huawei = FakeHuawei::start().await;
    let xiaomi = FakeXiaomi::start().await;
    let oppo = FakeOppo::start().await;
    let vivo = FakeVivo::start().await;
    let meizu = FakeMeizu::start().await;
    let honor = FakeHonor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("fakes-ca.pem");
    let fakes = [
        huawei.ca_cert(),
        xiaomi.ca_cert(),
        oppo.ca_cert(),
        vivo.ca_cert(),
        meizu.ca_cert(),
        honor.ca_cert(),
    ];
    std::fs::write(&ca, fakes.iter().map(pem).collect::<String>()).unwrap();
    let dev =
        DevDeployment::start_with(binary(), "SG", 1, &["--outbound-ca", ca.to_str().unwrap()])
            .await;
    let area = Area {
        api: Api::new(&dev, "SG", "prod"),
        dev,
    };
    let hw = huawei.credentials();
    let mi = xiaomi.credentials(ANDROID);
    let path = format!("/admin/v1/apps/{}/push-vendors", area.api.key);
    let (op, vi, mz) = (oppo.credentials(), vivo.credentials(), meizu.credentials());
    let ho = honor.credentials();
    let vendors = json!({"apps": [{"appId": ANDROID, "channels": [{"huawei": hw},
        {"xiaomi": mi}, {"oppo": op}, {"vivo": vi}, {"meizu": mz}, {"honor": ho}]}]});
    let (status, answer) = admin_json(&area.dev, "PUT", &path, vendors).await;
    assert_eq!(status, 200, "{answer}");
    // Secrets never come back; sending the placeholder back keeps them.
    let (status, shown) = admin_json(&area.dev, "GET", &path, json!({})).await;
    assert_eq!(status, 200);
    let channels = &shown["pushVendors"]["apps"][0]["channels"];
    assert_eq!(channels[0]["huawei"]["appSecret"], "<redacted>");
    assert_eq!(channels[1]["xiaomi"]["appSecret"], "<redacted>");
    assert_eq!(channels[2]["oppo"]["masterSecret"], "<redacted>");
    assert_eq!(channels[3]["vivo"]["appSecret"], "<redacted>");
    assert_eq!(channels[4]["meizu"]["appSecret"], "<redacted>");
    assert_eq!(channels[5]["honor"]["clientSecret"], "<redacted>");
    assert!(!shown.to_string().contains(&hw.app_secret));
    let (status, _) = admin_json(&area.dev, "PUT", &path, shown["pushVendors"].clone()).await;
    assert_eq!(status, 200);
    // A channel that cannot work is refused.
    let bad = json!({"apps": [{"appId": ANDROID,
        "channels": [{"xiaomi": {"appSecret": "s", "packageName": "nodots"}}]}]});
    let (status, answer) = admin_json(&area.dev, "PUT", &path, bad).await;
    assert_eq!(status, 400, "{answer}");

    area.register("hana", "huawei", "hw-token-hana", ANDROID)
        .await;
    area.register("mimi", "xiaomi", "mi-regid-mimi", ANDROID)
        .await;
    area.register("olaf", "xiaomi", "mi-regid-olaf", ANDROID)
        .await;
    area.register("otto", "oppo", "CN_oppo-otto", ANDROID).await;
    area.register("vera", "vivo", "vivo-reg-vera", ANDROID)
        .await;
    area.register("mark", "meizu", "mz-push-mark", ANDROID)
        .await;
    area.register("hugo", "honor", "honor-token-hugo", ANDROID)
        .await;
    xiaomi.mark_gone("mi-regid-olaf");
    for user in ["hana", "mimi", "olaf", "otto", "vera", "mark", "hugo"] {
        area.say("alice", user, json!({"content": format!("hi {user}")}))
            .await;
    }

    // Huawei Push Kit: the fake issued the OAuth token to the app id and secret.
    let pushed = huawei.wait_for(1, WAIT).await.expect("a Huawei push");
    assert_eq!(pushed[0].device_token, "hw-token-hana");
    assert_eq!(
        (pushed[0].title.as_str(), pushed[0].body.as_str()),
        ("alice", "hi hana")
    );
    assert_eq!(pushed[0].data.as_deref(), Some("extra-hana"));
    assert_eq!(huawei.tokens_issued(), 1);
    // MiPush: the fake checked the AppSecret and the package name.
    let pushed = xiaomi.wait_for(1, WAIT).await.expect("a Xiaomi push");
    assert_eq!(pushed[0].device_token, "mi-regid-mimi");
    assert_eq!(pushed[0].body, "hi mimi");
    // OPPO PUSH: the fake checked the sha256 sign and the auth_token it issued.
    let pushed = oppo.wait_for(1, WAIT).await.expect("an OPPO push");
    assert_eq!(pushed[0].device_token, "CN_oppo-otto");
    assert_eq!(pushed[0].body, "hi otto");
    assert_eq!(oppo.tokens_issued(), 1);
    // vivo: the fake checked the md5 sign and the authToken header against the appId.
    let pushed = vivo.wait_for(1, WAIT).await.expect("a vivo push");
    assert_eq!(pushed[0].device_token, "vivo-reg-vera");
    assert_eq!(pushed[0].body, "hi vera");
    // Meizu: the fake checked the md5 signature over the sorted parameters.
    let pushed = meizu.wait_for(1, WAIT).await.expect("a Meizu push");
    assert_eq!(pushed[0].device_token, "mz-push-mark");
    assert_eq!(pushed[0].body, "hi mark");
    // Honor: the fake issued the OAuth token to the app's client.
    let pushed = honor.wait_for(1, WAIT).await.expect("a Honor push");
    assert_eq!(pushed[0].device_token, "honor-token-hugo");
    assert_eq!(pushed[0].body, "hi hugo");
    area.pushes_settled("delivered", 6.0).await;
    area.pushes_settled("token_gone", 1.0).await;

    // olaf's regid was dropped: only mimi's second push reaches MiPush.
    let tried = xiaomi.requests();
    area.say("alice", "olaf", json!({"content": "still there?"}))
        .await;
    area.say("alice", "mimi", json!({"content": "again"})).await;
    xiaomi.wait_for(2, WAIT).await.expect("mimi's second push");
    area.pushes_settled("delivered", 7.0).await;
    assert_eq!(
        xiaomi.requests(),
        tried + 1,
        "a gone regid is not tried again"
    );

    // `platform: android` of a push-only notice reaches the vendor channels too.
    let notify = json!({
        "platform": ["android"],
        "audience": {"userid": ["hana", "vera"], "is_to_all": false},
        "notification": {"title": "News", "alert": "Doors open at 9"},
    });
    let (answer, value) = area.api.json("/push.json", &notify).await;
    assert_eq!(answer.status, 200, "{value}");
    let pushed = huawei.wait_for(2, WAIT).await.expect("hana's notice");
    assert_eq!(pushed[1].body, "Doors open at 9");
    let pushed = vivo.wait_for(2, WAIT).await.expect("vera's notice");
    assert_eq!(pushed[1].title, "News");
    area.dev.stop();
}

// covers: CON-01, PUSH-09
/// The app's usage figures (messages, Server API calls, online users, pushes with their
/// clicks, callbacks) as the admin API answers them agree with the metrics counting the
/// same events on their own: the cluster's per type and outcome, the edge's per path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_figures_per_app_agree_with_the_metrics() {
    let (area, webhook) = Area::pushing_through_a_webhook().await;
    // Routing goes to a port nobody listens on, tried once: each message a dead letter.
    let nobody = format!("http://127.0.0.1:{}/route", meridian_testkit::free_port());
    let settings = json!({
        "push": {"webhookUrl": format!("{}/push", webhook.endpoint())},
        "callbacks": {"routingUrl": nobody, "maxAttempts": 1},
    });
    assert_eq!(put_settings(&area.dev, &area.api.key, settings).await, 200);
    area.register("bob", "webhook", "hook-token-bob", "web")
        .await;
    let mut cat = area.connect("cat").await;
    for (req_id, provider) in [(7, "webhook"), (8, "pigeon")] {
        let provider = provider.into();
        cat.send(&ClientFrame::PushClicked { req_id, provider })
            .await
            .unwrap();
        let answer = cat.next_within(WAIT).await.unwrap();
        match req_id {
            7 => assert!(
                matches!(answer, ServerFrame::Done { req_id: 7 }),
                "{answer:?}"
            ),
            _ => assert!(
                matches!(
                    answer,
                    ServerFrame::Error {
                        req_id: Some(8),
                        ..
                    }
                ),
                "an unknown provider is refused: {answer:?}"
            ),
        }
    }
    for n in 0..3 {
        area.say("ann", "bob", json!({ "content": format!("hi {n}") }))
            .await;
    }
    area.say_in_group("ann", "g1", json!({"content": "nobody here"}))
        .await;
    let (answer, _) = area
        .api
        .form("/message/private/publish.json", "fromUserId=ann")
        .await;
    assert_eq!(answer.status, 400, "a call the app signed that failed");
    area.pushes_settled("delivered", 3.0).await;

    let usage_path = format!("/admin/v1/apps/{}/usage", area.api.key);
    let (usage, edge, node) = eventually(WAIT, "usage figures equal to the metrics", || async {
        let (status, usage) = admin_json(&area.dev, "GET", &usage_path, json!(null)).await;
        assert_eq!(status, 200, "{usage}");
        let edge = area.dev.edge_metrics("SG").await?;
        let node = area.dev.node_metrics("SG").await?;
        let buckets = usage["buckets"].as_array()?;
        let sum = |f: &dyn Fn(&serde_json::Value) -> u64| buckets.iter().map(f).sum::<u64>();
        let api_calls = sum(&|b| b["apiCalls"]["total"].as_u64().unwrap_or(0)) as f64;
        let messages = sum(&|b| b["messages"]["total"].as_u64().unwrap_or(0)) as f64;
        let dead = sum(&|b| b["callbacks"]["deadLetters"].as_u64().unwrap_or(0)) as f64;
        let settled = api_calls == metric_sum(&edge, "meridian_edge_api_requests_total", &[])
            && messages == metric_sum(&node, "meridian_cluster_messages_total", &[])
            && dead == 4.0;
        settled.then_some((usage, edge, node))
    })
    .await;
    let buckets = usage["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24, "the last day, an hour a bucket");
    let total = |pointer: &str| -> u64 {
        buckets
            .iter()
            .map(|b| b.pointer(pointer).and_then(|v| v.as_u64()).unwrap_or(0))
            .sum()
    };
    assert_eq!(total("/messages/private"), 3);
    assert_eq!(total("/messages/group"), 1);
    assert_eq!(
        total("/messages/group") as f64,
        metric_sum(&node, "meridian_cluster_messages_total", &["group"])
    );
    assert_eq!(total("/pushes/sent"), 3, "one device, three messages");
    assert_eq!(
        total("/pushes/accepted") as f64,
        metric_sum(
            &node,
            "meridian_cluster_callback_attempts_total",
            &["kind=\"push\"", "outcome=\"delivered\""]
        )
    );
    assert_eq!(total("/pushes/providers/webhook/accepted"), 3);
    assert_eq!(
        total("/pushes/clicked"),
        1,
        "the unknown provider was refused"
    );
    assert_eq!(
        total("/callbacks/deadLetters") as f64,
        metric_sum(
            &node,
            "meridian_cluster_callback_dead_letters_total",
            &["kind=\"routing\""]
        )
    );
    let failed_calls = metric_sum(&edge, "meridian_edge_api_requests_total", &[])
        - metric_sum(&edge, "meridian_edge_api_requests_total", &["code=\"200\""]);
    assert_eq!(total("/apiCalls/failed") as f64, failed_calls);
    assert_eq!(
        total("/apiCalls/paths/~1message~1private~1publish.json/ok"),
        3
    );
    assert_eq!(
        total("/apiCalls/paths/~1message~1private~1publish.json/failed"),
        1
    );
    assert_eq!(usage["onlineUsers"], 1, "cat");
    let peak = buckets
        .iter()
        .filter_map(|b| b["onlineUsersPeak"].as_u64())
        .max();
    assert!(matches!(peak, Some(1..=2)), "{peak:?}");

    let (status, days) = admin_json(
        &area.dev,
        "GET",
        &format!("{usage_path}?by=day"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    let days = days["buckets"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(
        days[29]["messages"]["total"], 4,
        "today holds every message"
    );
    let (status, refused) = admin_json(
        &area.dev,
        "GET",
        &format!("{usage_path}?by=week"),
        json!(null),
    )
    .await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid")));

    let (status, storage) = admin_json(
        &area.dev,
        "GET",
        &format!("{usage_path}/storage"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{storage}");
    let families = storage["families"].as_array().unwrap();
    let messages = families.iter().find(|f| f["family"] == "msg").expect("msg");
    assert_eq!(messages["records"], 4);
    assert!(storage["total"]["bytes"].as_u64().unwrap() > messages["bytes"].as_u64().unwrap());
    area.dev.stop();
}
