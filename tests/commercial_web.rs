//! The commercial service's official Web SDKs, installed from npm and unmodified, in
//! Debian's chromium (`tests/commercial_web/driver.mjs`, puppeteer-core) against a
//! `meridian dev`. `@rongcloud/imlib-next` 5.38 (with `@rongcloud/engine` 5.38) finds the
//! edge through Meridian's nav (`navigators`, across origins), connects with a token from
//! the Server API over the commercial protocol (edge/COMMERCIAL-PROTOCOL.md),
//! exchanges text messages with a client of Meridian's Rust SDK, lists its conversations
//! with their unread counts (and the server-side "real-time" list: its total, named
//! counts, clearing one), pages its history both ways, expands a message and hears of an
//! expansion, recalls a message, joins a chatroom and hears that it was destroyed;
//! after the whole deployment is SIGKILLed and restarted, it reconnects by itself and gets
//! what was sent meanwhile, once. `@rongcloud/imlib-v2` 2.9 (with its engine 4.4, whose
//! navigation is `GET /navi.js`) connects, exchanges messages, lists its conversations,
//! reads its history, recalls a message, joins a chatroom and comes back after the restart
//! the same way.
//! `scripts/test` installs Node.js, npm and chromium; this test runs `npm ci` in
//! tests/commercial_web when its packages are missing or older than the lock file.
// covers: WEB-06

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{binary, text, Api};
use meridian_client::Connection;
use meridian_proto::ServerFrame;
use meridian_testkit::DevDeployment;
use meridian_testkit::{eventually, raw_http};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The browser starts, loads the SDK, asks nav and connects within this.
const WAIT: Duration = Duration::from_secs(60);

fn page_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/commercial_web")
}

/// The page's script, reporting one JSON event per line.
struct Page {
    child: Child,
    commands: ChildStdin,
    events: Lines<BufReader<ChildStdout>>,
}

impl Page {
    /// Opens a page with `sdk` (`next` or `v2`) and has it connect.
    async fn start(sdk: &str, nav: &str, api: &Api, token: &str) -> Self {
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(page_dir())
            .env("SDK", sdk)
            .env("NAV", nav)
            .env("APP_KEY", &api.key)
            .env("TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node (scripts/test installs Node.js)");
        let events = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let commands = child.stdin.take().expect("stdin");
        Self {
            child,
            commands,
            events,
        }
    }

    /// Has the page carry out `command`; what the SDK answered (its `code` must be 0).
    async fn ask(&mut self, command: Value) -> Value {
        let name = command["do"].as_str().expect("a command").to_string();
        let line = format!("{command}\n");
        self.commands
            .write_all(line.as_bytes())
            .await
            .expect("sent");
        let answer = self.event(&name).await;
        assert_eq!(answer["code"], 0, "{name}: {answer}");
        answer
    }

    /// The next event named `name`; the script's errors fail the test.
    async fn event(&mut self, name: &str) -> Value {
        loop {
            let line = tokio::time::timeout(WAIT, self.events.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within {WAIT:?}"))
                .expect("the script's output")
                .unwrap_or_else(|| panic!("the script ended before {name}"));
            let event: Value = serde_json::from_str(&line).expect("a JSON line");
            match event["event"].as_str() {
                Some(found) if found == name => return event,
                Some("error") => panic!("the page failed: {event}"),
                _ => continue,
            }
        }
    }

    async fn quit(mut self) {
        let quit = b"{\"do\":\"quit\"}\n";
        self.commands.write_all(quit).await.expect("quit");
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the script ends")
            .expect("its status");
        assert!(status.success(), "the script failed: {status}");
    }
}

async fn message(connection: &mut Connection) -> meridian_client::MessageBody {
    loop {
        match connection.next_within(WAIT).await.expect("a frame") {
            ServerFrame::Message(body) => return body,
            ServerFrame::Synced { .. } | ServerFrame::Ack { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Sends a text from the Rust client; its msgUID and sent time.
async fn send(
    connection: &mut Connection,
    client_id: &str,
    kind: u8,
    to: &str,
    said: &str,
) -> (String, u64) {
    let content = serde_json::json!({ "content": said }).to_string();
    connection
        .send(&text(client_id, kind, to, &content))
        .await
        .unwrap();
    loop {
        match connection.next_within(WAIT).await.expect("ack") {
            ServerFrame::Ack {
                msg_uid, sent_time, ..
            } => return (msg_uid, sent_time),
            ServerFrame::Message(_)
            | ServerFrame::Synced { .. }
            | ServerFrame::ChatroomJoined { .. } => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
}

/// A `meridian dev`, a Rust SDK client "alice" and a page with `sdk` connected as "bob".
async fn chat(sdk: &str) -> (DevDeployment, Api, Connection, Page) {
    common::npm_install(&page_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let mut alice = common::connect(&dev.ws("SG"), &api, "alice", "alice-phone", "iOS", None).await;
    common::synced(&mut alice).await;
    let nav = dev.endpoints["nav"][0].as_str().expect("a nav").to_string();
    let token = api.token("bob").await;
    let mut page = Page::start(sdk, &nav, &api, &token).await;
    assert_eq!(page.event("connected").await["userId"], "bob");
    (dev, api, alice, page)
}

/// The page sends a text; alice receives it. The page's answer.
async fn page_says(page: &mut Page, alice: &mut Connection, said: &str) -> Value {
    let sent = page
        .ask(json!({"do": "send", "to": "alice", "text": said}))
        .await;
    let got = message(alice).await;
    assert_eq!(Some(got.msg_uid.as_str()), sent["messageUId"].as_str());
    assert_eq!(
        (got.sender_user_id.as_str(), got.object_name.as_str()),
        ("bob", "RC:TxtMsg")
    );
    let content: Value = serde_json::from_str(&got.content).expect("JSON content");
    assert_eq!(content["content"], said);
    sent
}

#[tokio::test]
async fn the_official_imlib_next_in_chromium_chats_with_a_meridian_client() {
    let (dev, api, mut alice, mut page) = chat("next").await;
    let hello = page_says(&mut page, &mut alice, "hello from imlib-next").await;

    // The Meridian client answers three times; the page receives each once, in order.
    let (mut replies, mut reply_times) = (Vec::new(), Vec::new());
    for (i, said) in ["one", "two", "three"].into_iter().enumerate() {
        let (uid, sent_time) = send(&mut alice, &format!("a{i}"), 1, "bob", said).await;
        replies.push(uid);
        reply_times.push(sent_time);
    }
    for (uid, said) in replies.iter().zip(["one", "two", "three"]) {
        let received = page.event("received").await;
        assert_eq!(received["messageUId"], uid.as_str());
        assert_eq!(received["senderUserId"], "alice");
        assert_eq!(received["content"]["content"], said);
    }

    // Its conversation list: alice's chat, three unread, the last message "three".
    let listed = page.ask(json!({"do": "conversations"})).await;
    let chats = listed["list"].as_array().expect("a list");
    let chat = chats
        .iter()
        .find(|c| c["targetId"] == "alice")
        .unwrap_or_else(|| panic!("alice's chat in {listed}"));
    assert_eq!(chat["conversationType"], 1);
    assert_eq!(chat["unreadMessageCount"], 3);
    assert_eq!(chat["latestMessageUId"], replies[2].as_str());

    // Its history in pages of two, the newest first: (two, three), then what was sent
    // before "two" (hello and one, unless one shares its millisecond: pages go by time).
    let uids = |page: &Value| -> Vec<String> {
        let list = page["list"].as_array().expect("a list");
        list.iter()
            .map(|m| m["messageUId"].as_str().expect("uid").to_string())
            .collect()
    };
    let newest = page
        .ask(json!({"do": "history", "with": "alice", "count": 2, "timestamp": 0}))
        .await;
    assert_eq!(uids(&newest), [replies[1].clone(), replies[2].clone()]);
    assert_eq!(newest["hasMore"], true);
    let before = newest["list"][0]["sentTime"].as_u64().expect("a time");
    assert_eq!(before, reply_times[1]);
    let older = page
        .ask(json!({"do": "history", "with": "alice", "count": 2, "timestamp": before}))
        .await;
    let hello_uid = hello["messageUId"].as_str().expect("uid").to_string();
    let hello_time = hello["sentTime"].as_u64().expect("a time");
    let sent_before: Vec<String> = [(&hello_uid, hello_time), (&replies[0], reply_times[0])]
        .into_iter()
        .filter(|&(_, time)| time < before)
        .map(|(uid, _)| uid.clone())
        .collect();
    assert_eq!(uids(&older), sent_before);
    // Forwards (order 1) from hello: what was sent after it, oldest first.
    let forwards = page
        .ask(
            json!({"do": "history", "with": "alice", "count": 10, "timestamp": hello_time,
                    "order": 1}),
        )
        .await;
    let sent_after: Vec<String> = replies
        .iter()
        .zip(&reply_times)
        .filter(|&(_, &time)| time > hello_time)
        .map(|(uid, _)| uid.clone())
        .collect();
    assert_eq!(uids(&forwards), sent_after);
    assert!(!sent_after.is_empty(), "the replies came after hello");

    // It likes alice's last message (expansion, MSG-04): alice is told; alice's own change
    // reaches the page as the SDK's expansion event.
    page.ask(json!({"do": "expand", "messageUId": replies[2], "expansion": {"likes": "1"}}))
        .await;
    let notice = message(&mut alice).await;
    assert_eq!(notice.object_name, "RC:MsgExMsg");
    let change: Value = serde_json::from_str(&notice.content).expect("JSON content");
    assert_eq!(
        (&change["msgUID"], &change["set"]),
        (&json!(replies[2]), &json!({"likes": "1"}))
    );
    let seen = [("seen".to_string(), "yes".to_string())].into();
    let expand = meridian_proto::ClientFrame::SetExpansion {
        req_id: 90,
        msg_uid: replies[2].clone(),
        set: seen,
        remove: Vec::new(),
    };
    alice.send(&expand).await.unwrap();
    // Answered, and (as every member's devices are) told of it.
    let (mut answered, mut told) = (false, false);
    while !(answered && told) {
        match alice.next_within(WAIT).await.expect("a frame") {
            ServerFrame::Done { req_id: 90 } => answered = true,
            ServerFrame::Message(m) if m.object_name == "RC:MsgExMsg" => told = true,
            ServerFrame::Error { message, .. } => panic!("expansion refused: {message}"),
            _ => continue,
        }
    }
    let updated = loop {
        let event = page.event("expansion").await;
        if event["updatedExpansion"]["expansion"]["seen"] == "yes" {
            break event["updatedExpansion"].clone();
        }
    };
    assert_eq!(updated["messageUId"], replies[2].as_str());
    assert_eq!(
        (&updated["conversationType"], &updated["targetId"]),
        (&json!(1), &json!("alice"))
    );

    // It recalls its message: the Meridian client is told which.
    page.ask(
        json!({"do": "recall", "to": "alice", "messageUId": hello_uid,
                    "sentTime": hello["sentTime"]}),
    )
    .await;
    let notice = message(&mut alice).await;
    assert_eq!(notice.object_name, "RC:RcCmd");
    assert!(notice.content.contains(&hello_uid), "{}", notice.content);

    // The app switches the SDK's "real-time conversations" on: a page that connects now
    // asks the server for its list, unread total and counts, and clears one there.
    realtime_conversations(&dev, &api, &mut alice).await;

    read_receipts(&mut alice, &mut page, &replies[2], reply_times[2]).await;
    ultra_group(&api, &mut alice, &mut page).await;

    // It joins a chatroom and hears what is said there.
    api.ok("/chatroom/create.json", "chatroom[lobby]=Lobby")
        .await;
    page.ask(json!({"do": "join", "roomId": "lobby"})).await;
    alice
        .send(&meridian_proto::ClientFrame::JoinChatroom {
            req_id: 1,
            chatroom_id: "lobby".into(),
        })
        .await
        .unwrap();
    let (in_room, _) = send(&mut alice, "r1", 4, "lobby", "welcome").await;
    let heard = page.event("received").await;
    assert_eq!(
        (heard["conversationType"].clone(), heard["targetId"].clone()),
        (json!(4), json!("lobby"))
    );
    assert_eq!(heard["messageUId"], in_room.as_str());
    // The app server mutes bob there and everywhere, asking for notices: the SDK reports
    // each as its chatroom event.
    api.ok(
        "/chatroom/user/gag/add.json",
        r#"chatroomId=lobby&userId=bob&minute=5&needNotify=true&extra={"why":"spam"}"#,
    )
    .await;
    let ban = page.event("chatroomBan").await;
    assert_eq!(
        (&ban["chatroomId"], &ban["banType"], &ban["userIdList"]),
        (&json!("lobby"), &json!(1), &json!(["bob"]))
    );
    assert_eq!(
        (&ban["durationTime"], &ban["extra"]),
        (&json!(300_000), &json!(r#"{"why":"spam"}"#))
    );
    api.ok(
        "/chatroom/user/ban/add.json",
        "userId=bob&minute=1&needNotify=1",
    )
    .await;
    let ban = page.event("chatroomBan").await;
    assert_eq!(
        (&ban["banType"], &ban["userIdList"]),
        (&json!(7), &json!(["bob"]))
    );
    for (call, ban_type) in [("add", 3), ("rollback", 2)] {
        api.ok(
            &format!("/chatroom/ban/{call}.json"),
            "chatroomId=lobby&needNotify=true",
        )
        .await;
        let ban = page.event("chatroomBan").await;
        assert_eq!(
            (&ban["chatroomId"], &ban["banType"]),
            (&json!("lobby"), &json!(ban_type))
        );
    }
    // The app server destroys the room: the SDK is told, as the commercial service tells it.
    api.ok("/chatroom/destroy.json", "chatroomId=lobby").await;
    let destroyed = page.event("chatroomDestroyed").await;
    assert_eq!(destroyed["chatroomId"], "lobby");
    // Blocked from a room with a notice, bob hears it (and leaves), then hears the unblock
    // (sent to him alone: he is no longer in the room).
    api.ok("/chatroom/create.json", "chatroom[den]=Den").await;
    page.ask(json!({"do": "join", "roomId": "den"})).await;
    for (call, operate_type) in [("add", 1), ("rollback", 0)] {
        let form = "chatroomId=den&userId=bob&minute=10&needNotify=true";
        api.ok(&format!("/chatroom/user/block/{call}.json"), form)
            .await;
        let block = page.event("chatroomBlock").await;
        assert_eq!(
            (
                &block["chatroomId"],
                &block["operateType"],
                &block["userIdList"]
            ),
            (&json!("den"), &json!(operate_type), &json!(["bob"]))
        );
    }

    drop(alice);
    misses_nothing_across_a_restart(dev, &api, page).await;
}

/// Private read receipts both ways (PRV-07): the SDK's is an `RC:ReadNtf` alice
/// receives, and alice's reaches the SDK as its read-receipt event.
async fn read_receipts(alice: &mut Connection, page: &mut Page, last_uid: &str, last_time: u64) {
    let read = json!({"do": "readReceipt", "to": "alice", "messageUId": last_uid,
        "sentTime": last_time});
    assert_eq!(page.ask(read).await["code"], 0);
    let got = message(alice).await;
    assert_eq!(
        (got.object_name.as_str(), got.sender_user_id.as_str()),
        ("RC:ReadNtf", "bob")
    );
    let content: Value = serde_json::from_str(&got.content).expect("JSON content");
    assert_eq!(content["messageUId"], last_uid);

    let hello = page_says(page, alice, "read this").await;
    let uid = hello["messageUId"].as_str().expect("uid");
    let content = json!({"messageUId": uid, "lastMessageSendTime": hello["sentTime"], "type": 1});
    let receipt = meridian_proto::ClientFrame::Send {
        client_id: "rr1".into(),
        conversation_type: 1,
        target_id: "bob".into(),
        channel_id: String::new(),
        object_name: "RC:ReadNtf".into(),
        content: content.to_string(),
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    };
    alice.send(&receipt).await.unwrap();
    loop {
        match alice.next_within(WAIT).await.expect("the receipt's ack") {
            ServerFrame::Ack { client_id, .. } if client_id == "rr1" => break,
            ServerFrame::Ack { .. } | ServerFrame::Message(_) | ServerFrame::Synced { .. } => {}
            other => panic!("expected the receipt's ack, got {other:?}"),
        }
    }
    let event = page.event("readReceipt").await;
    assert_eq!(
        (&event["targetId"], &event["messageUId"]),
        (&json!("alice"), &json!(uid))
    );
}

/// bob (the page) and alice are in an ultra group: the SDK syncs it at connect, hears
/// alice there once, and its own message there reaches alice and is not shown back to it.
async fn ultra_group(api: &Api, alice: &mut Connection, page: &mut Page) {
    api.ok(
        "/ultragroup/create.json",
        "userId=alice&groupId=guild&groupName=Guild",
    )
    .await;
    api.ok("/ultragroup/join.json", "userId=bob&groupId=guild")
        .await;
    let listed = page.ask(json!({"do": "ultraGroups"})).await;
    assert_eq!(listed["code"], 0, "the SDK's ultra-group sync: {listed}");
    let (first, _) = send(alice, "u0", 10, "guild", "hello guild").await;
    let heard = page.event("received").await;
    assert_eq!(
        (
            &heard["conversationType"],
            &heard["targetId"],
            &heard["messageUId"]
        ),
        (&json!(10), &json!("guild"), &json!(first))
    );
    let sent = page
        .ask(json!({"do": "sendUltra", "group": "guild", "text": "hi all"}))
        .await;
    assert_eq!(sent["code"], 0, "{sent}");
    let got = message(alice).await;
    assert_eq!(Some(got.msg_uid.as_str()), sent["messageUId"].as_str());
    // The next message the page shows is alice's next one, not its own again.
    let (second, _) = send(alice, "u1", 10, "guild", "welcome").await;
    let heard = page.event("received").await;
    assert_eq!(heard["messageUId"], second.as_str(), "{heard}");
    let listed = page.ask(json!({"do": "ultraGroups"})).await;
    assert_eq!(listed["groups"], json!(["guild"]), "{listed}");
}

/// Switches the app's real-time conversations on (nav then says `sessionMode` 1), and has
/// a page connected as "carol" use them: alice's two messages sent while carol was away
/// are two unread on the server until carol clears them there.
async fn realtime_conversations(dev: &DevDeployment, api: &Api, alice: &mut Connection) {
    let path = format!("/admin/v1/apps/{}/sdk-features", api.key);
    for bad in [
        json!({"realtimeConversations": "yes"}),
        json!({"sessionMode": 1}),
    ] {
        let (status, _) = common::admin_json(dev, "PUT", &path, bad).await;
        assert_eq!(status, 400);
    }
    let (_, shown) = common::admin_json(dev, "GET", &path, json!(null)).await;
    assert_eq!(shown["sdkFeatures"]["realtimeConversations"], false);
    let on = json!({"realtimeConversations": true});
    let (status, shown) = common::admin_json(dev, "PUT", &path, on).await;
    assert_eq!(
        (status, &shown["sdkFeatures"]["realtimeConversations"]),
        (200, &json!(true))
    );

    let nav = dev.endpoints["nav"][0].as_str().expect("a nav").to_string();
    let token = api.token("carol").await;
    // Nav reads app switches through a one-second cache.
    eventually(WAIT, "nav to say sessionMode 1", || async {
        let headers = [("RC-Appkey".to_string(), api.key.clone())];
        let body = meridian_client::server_api::form(&[("token", token.as_str())]);
        let url = format!("{nav}/v2/navi.json");
        let answer = raw_http(&url, "POST", &headers, body.as_bytes()).await;
        let navi: Value = serde_json::from_slice(&answer.body).ok()?;
        (navi["sessionMode"] == 1).then_some(())
    })
    .await;

    send(alice, "c0", 1, "carol", "are you there").await;
    let (last, _) = send(alice, "c1", 1, "carol", "carol?").await;
    let mut carol = Page::start("next", &nav, api, &token).await;
    assert_eq!(carol.event("connected").await["userId"], "carol");
    let listed = carol
        .ask(json!({"do": "realtime", "count": 10, "startTime": 0, "order": 0}))
        .await;
    let lines = listed["list"].as_array().expect("a list");
    let chat = lines.iter().find(|c| c["targetId"] == "alice");
    let chat = chat.unwrap_or_else(|| panic!("alice's chat in {listed}"));
    assert_eq!(chat["unreadMessageCount"], 2);
    assert_eq!(chat["latestMessageUId"], last.as_str());
    assert_eq!(carol.ask(json!({"do": "realtimeTotal"})).await["total"], 2);
    let counts = carol
        .ask(json!({"do": "realtimeUnread", "with": ["alice", "nobody"]}))
        .await;
    assert_eq!(counts["counts"], json!({"alice": 2, "nobody": 0}));
    // Clearing it marks the chat read on the server: the total drops to nothing.
    carol
        .ask(json!({"do": "realtimeClear", "with": "alice"}))
        .await;
    assert_eq!(carol.ask(json!({"do": "realtimeTotal"})).await["total"], 0);
    let counts = carol
        .ask(json!({"do": "realtimeUnread", "with": ["alice"]}))
        .await;
    assert_eq!(counts["counts"], json!({"alice": 0}));

    // Removing the chat takes it off the server-side list until alice writes again.
    let listed_peers = |listed: Value| -> Vec<String> {
        let lines = listed["list"].as_array().expect("a list").iter();
        lines
            .map(|c| c["targetId"].as_str().unwrap().to_string())
            .collect()
    };
    let everyone = json!({"do": "realtime", "count": 10, "startTime": 0, "order": 0});
    let removed = carol
        .ask(json!({"do": "realtimeRemove", "with": ["alice"]}))
        .await;
    assert_eq!(removed["code"], 0, "{removed}");
    assert!(!listed_peers(carol.ask(everyone.clone()).await).contains(&"alice".into()));
    send(alice, "c2", 1, "carol", "back again").await;
    let listed = carol.ask(everyone).await;
    assert!(
        listed_peers(listed.clone()).contains(&"alice".into()),
        "{listed}"
    );
    assert_eq!(carol.ask(json!({"do": "realtimeTotal"})).await["total"], 1);
    carol.quit().await;
}

#[tokio::test]
async fn the_official_imlib_v2_in_chromium_chats_with_a_meridian_client() {
    let (dev, api, mut alice, mut page) = chat("v2").await;
    let hello = page_says(&mut page, &mut alice, "hello from imlib-v2").await;
    let mut replies = Vec::new();
    for (i, said) in ["hi v2", "still there?"].into_iter().enumerate() {
        let (reply, _) = send(&mut alice, &format!("a{i}"), 1, "bob", said).await;
        let received = page.event("received").await;
        assert_eq!(received["messageUId"], reply.as_str());
        assert_eq!(received["senderUserId"], "alice");
        assert_eq!(received["content"]["content"], said);
        replies.push(reply);
    }

    // Its conversation list and the newest page of history, through the v2 API.
    let listed = page.ask(json!({"do": "conversations"})).await;
    let chats = listed["list"].as_array().expect("a list");
    let chat = chats.iter().find(|c| c["targetId"] == "alice");
    let chat = chat.unwrap_or_else(|| panic!("alice's chat in {listed}"));
    assert_eq!(chat["unreadMessageCount"], 2);
    assert_eq!(chat["latestMessageUId"], replies[1].as_str());
    let newest = page
        .ask(json!({"do": "history", "with": "alice", "count": 1, "timestamp": 0}))
        .await;
    assert_eq!(newest["list"][0]["messageUId"], replies[1].as_str());
    assert_eq!(newest["hasMore"], true);

    // It recalls its hello: alice is told which.
    page.ask(
        json!({"do": "recall", "to": "alice", "messageUId": hello["messageUId"],
                    "sentTime": hello["sentTime"]}),
    )
    .await;
    let notice = message(&mut alice).await;
    assert_eq!(notice.object_name, "RC:RcCmd");
    let hello_uid = hello["messageUId"].as_str().expect("uid");
    assert!(notice.content.contains(hello_uid), "{}", notice.content);

    // It joins a chatroom and hears what is said there.
    api.ok("/chatroom/create.json", "chatroom[hall]=Hall").await;
    page.ask(json!({"do": "join", "roomId": "hall"})).await;
    let join = meridian_proto::ClientFrame::JoinChatroom {
        req_id: 1,
        chatroom_id: "hall".into(),
    };
    alice.send(&join).await.unwrap();
    let (in_room, _) = send(&mut alice, "r1", 4, "hall", "welcome, v2").await;
    let heard = page.event("received").await;
    assert_eq!(
        (&heard["conversationType"], &heard["targetId"]),
        (&json!(4), &json!("hall"))
    );
    assert_eq!(heard["messageUId"], in_room.as_str());

    drop(alice);
    misses_nothing_across_a_restart(dev, &api, page).await;
}

/// The whole deployment (the edge too) dies and comes back; the page's SDK reconnects by
/// itself. What alice sends meanwhile arrives once, in order, and nothing from before
/// again.
async fn misses_nothing_across_a_restart(mut dev: DevDeployment, api: &Api, mut page: Page) {
    dev.kill_and_restart().await;
    let ws = dev.ws("SG");
    let mut alice = common::connect(&ws, api, "alice", "alice-phone", "iOS", None).await;
    let mut later = Vec::new();
    for (i, said) in ["after", "the", "restart"].into_iter().enumerate() {
        later.push(send(&mut alice, &format!("b{i}"), 1, "bob", said).await.0);
    }
    for uid in &later {
        let received = page.event("received").await;
        assert_eq!(received["messageUId"], uid.as_str(), "{received}");
    }
    page.quit().await;
}
