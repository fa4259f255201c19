//! The commercial service's lenient semantics (API-05) and the paths and parameters a
//! migrating app's server SDK relies on (API-06, API-07), through raw HTTP against
//! `meridian dev`. The commercial service keeps no directory of record for groups, rooms
//! or users (the app server does): calls naming ones it has not seen answer 200 there,
//! and here, and what they set applies once the group, room or user exists. Answers are
//! compared with the commercial documentation's examples (`docs/server-api.md`).

mod common;

use common::{assert_error, binary, connect, synced, Api, FRAME_WAIT};
use meridian_client::{Connection, MessageBody};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

/// The next message frame (other frames, such as conversation updates, are skipped).
async fn next_message(connection: &mut Connection) -> MessageBody {
    loop {
        if let ServerFrame::Message(body) =
            connection.next_within(FRAME_WAIT).await.expect("a frame")
        {
            return body;
        }
    }
}

fn ids(value: &Value, list: &str, field: &str) -> Vec<String> {
    value[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {value}"))
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

/// The documented example answer of a setting call: exactly `{"code":200}`.
async fn just_ok(api: &Api, path: &str, body: &str) {
    assert_eq!(api.ok(path, body).await, json!({"code": 200}), "{path}");
}

// covers: API-05
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_rooms_the_app_never_created_accept_settings_that_apply_later() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");

    // Groups: dismissing, quitting, muting and whitelisting before any member exists.
    just_ok(&api, "/group/dismiss.json", "userId=u1&groupId=ghost").await;
    just_ok(&api, "/group/quit.json", "userId=u1&groupId=ghost").await;
    let members = api.ok("/group/user/query.json", "groupId=ghost").await;
    assert_eq!(members, json!({"code": 200, "id": "ghost", "users": []}));
    just_ok(&api, "/group/ban/add.json", "groupId=g16&groupId=g17").await;
    just_ok(
        &api,
        "/group/user/ban/whitelist/add.json",
        "userId=u2&groupId=g16",
    )
    .await;
    just_ok(
        &api,
        "/group/user/gag/add.json",
        "userId=u3&groupId=g16&minute=10",
    )
    .await;
    let gagged = api.ok("/group/user/gag/list.json", "groupId=g16").await;
    assert_eq!(ids(&gagged, "users", "userId"), ["u3"]);
    // The group is created later: the mute, its whitelist and the gag are in force.
    just_ok(
        &api,
        "/group/create.json",
        "userId=u2&userId=u3&userId=u4&groupId=g16&groupName=G",
    )
    .await;
    let banned = api
        .ok("/group/ban/query.json", "groupId=g16&groupId=g17")
        .await;
    assert_eq!(ids(&banned, "groupinfo", "groupId"), ["g16", "g17"]);
    let white = api
        .ok("/group/user/ban/whitelist/query.json", "groupId=g16")
        .await;
    assert_eq!(white["userIds"], json!(["u2"]));
    let gagged = api.ok("/group/user/gag/list.json", "groupId=g16").await;
    assert_eq!(ids(&gagged, "users", "userId"), ["u3"]);
    just_ok(
        &api,
        "/group/user/gag/rollback.json",
        "userId=u3&groupId=g16",
    )
    .await;
    let gagged = api.ok("/group/user/gag/list.json", "groupId=g16").await;
    assert_eq!(gagged["users"], json!([]));
    // Renaming a group nobody is in keeps the name for its first members.
    just_ok(&api, "/group/refresh.json", "groupId=later&groupName=Later").await;
    api.ok(
        "/group/join.json",
        "userId=u5&groupId=later&groupName=Ignored",
    )
    .await;
    let groups = api.ok("/user/group/query.json", "userId=u5").await;
    assert_eq!(groups["groups"], json!([{"id": "later", "name": "Later"}]));

    // Chatrooms: flags and sets on a room that does not exist yet.
    just_ok(&api, "/chatroom/keepalive/add.json", "chatroomId=r1").await;
    just_ok(
        &api,
        "/chatroom/message/stopDistribution.json",
        "chatroomId=r1",
    )
    .await;
    just_ok(
        &api,
        "/chatroom/user/gag/add.json",
        "userId=u6&chatroomId=r1&minute=5",
    )
    .await;
    just_ok(
        &api,
        "/chatroom/user/block/add.json",
        "userId=u7&chatroomId=r1&minute=5",
    )
    .await;
    just_ok(
        &api,
        "/chatroom/user/whitelist/add.json",
        "userId=u8&chatroomId=r1",
    )
    .await;
    let members = api
        .ok(
            "/chatroom/user/query.json",
            "chatroomId=r1&count=10&order=1",
        )
        .await;
    assert_eq!(members, json!({"code": 200, "total": 0, "users": []}));
    let exists = api
        .ok("/chatroom/user/exist.json", "chatroomId=r1&userId=u6")
        .await;
    assert_eq!(exists, json!({"code": 200, "isInChrm": false}));
    // A room mute set before the room exists shows in the checks and lists; a room never
    // seen is not muted.
    just_ok(&api, "/chatroom/ban/add.json", "chatroomId=r1").await;
    let check = api.ok("/chatroom/ban/check.json", "chatroomId=r1").await;
    assert_eq!(check, json!({"code": 200, "status": 1}));
    let check = api.ok("/chatroom/ban/check.json", "chatroomId=ghost").await;
    assert_eq!(check, json!({"code": 200, "status": 0}));
    let banned = api.ok("/chatroom/ban/query.json", "").await;
    assert_eq!(
        banned["chatrooms"],
        json!([{"chatroomId": "r1", "time": ""}])
    );
    let alive = api.ok("/chatroom/keepalive/query.json", "").await;
    assert_eq!(alive["chatrooms"], json!(["r1"]));
    // The room is created: it starts kept alive, with its gag, ban and whitelist.
    just_ok(&api, "/chatroom/create.json", "chatroom[r1]=Room").await;
    let alive = api.ok("/chatroom/keepalive/query.json", "").await;
    assert_eq!(alive["chatrooms"], json!(["r1"]));
    let check = api.ok("/chatroom/ban/check.json", "chatroomId=r1").await;
    assert_eq!(check["status"], 1);
    let banned = api.ok("/chatroom/ban/query.json", "").await;
    assert_ne!(
        banned["chatrooms"][0]["time"], "",
        "a created room has its time"
    );
    let gagged = api
        .ok("/chatroom/user/gag/list.json", "chatroomId=r1")
        .await;
    assert_eq!(ids(&gagged, "users", "userId"), ["u6"]);
    let blocked = api
        .ok("/chatroom/user/block/list.json", "chatroomId=r1")
        .await;
    assert_eq!(ids(&blocked, "users", "userId"), ["u7"]);
    let white = api
        .ok("/chatroom/user/whitelist/query.json", "chatroomId=r1")
        .await;
    assert_eq!(white["users"], json!(["u8"]));
    // Destroying rooms the area does not know answers 200; the ones it knows go.
    just_ok(&api, "/chatroom/create.json", "chatroom[r2]=Two").await;
    just_ok(&api, "/chatroom/destroy.json", "chatroomId=ghost").await;
    just_ok(
        &api,
        "/chatroom/destroy.json",
        "chatroomId=r2&chatroomId=ghost",
    )
    .await;
    let left = api
        .ok("/chatroom/query.json", "chatroomId=r1&chatroomId=r2")
        .await;
    assert_eq!(ids(&left, "chatRooms", "chrmId"), ["r1"]);
    // Bad ids are still refused, and change nothing.
    let (answer, value) = api
        .form("/chatroom/keepalive/add.json", "chatroomId=bad id")
        .await;
    assert_error(&answer, &value, 400, 1002);
    let (answer, value) = api.form("/group/ban/add.json", "groupId=bad id").await;
    assert_error(&answer, &value, 400, 1002);

    // Users never registered: tags, profile refresh and token expiry are kept.
    just_ok(&api, "/user/refresh.json", "userId=newbie&name=Newbie").await;
    let info = api.ok("/user/info.json", "userId=newbie").await;
    assert_eq!(info["userName"], "Newbie");
    let (_, tagged) = api
        .json(
            "/user/tag/set.json",
            &json!({"userId": "tagged", "tags": ["bj", "男"]}),
        )
        .await;
    assert_eq!(tagged, json!({"code": 200}));
    let tags = api.ok("/user/tags/get.json", "userIds=tagged").await;
    assert_eq!(tags["result"]["tagged"], json!(["bj", "男"]));
    // The singular delete of older SDKs; an unknown word is already gone.
    just_ok(&api, "/sensitiveword/add.json", "word=spam").await;
    just_ok(&api, "/sensitiveword/delete.json", "word=spam").await;
    just_ok(&api, "/sensitiveword/delete.json", "word=never-added").await;
    // As commercially, a word is letters and digits of any script.
    for bad in ["word=-", "word=bad%20word", "word=a.b"] {
        let (answer, value) = api.form("/sensitiveword/add.json", bad).await;
        assert_error(&answer, &value, 400, 1002);
    }
    let words = api.ok("/sensitiveword/list.json", "").await;
    assert_eq!(words["words"], json!([]));
    just_ok(&api, "/sensitiveword/add.json", "word=我们2&replaceWord=**").await;
    let words = api.ok("/sensitiveword/list.json", "").await;
    assert_eq!(words["words"][0]["word"], "我们2");
}

// covers: API-05, API-06, SYS-01, SYS-02, SYS-03, SYS-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_unknown_conversations_templates_and_push_broadcasts() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");

    // A group with no members yet and a room that does not exist accept messages.
    let sent = api
        .ok(
            "/message/group/publish.json",
            r#"fromUserId=AAA&toGroupId=empty&objectName=RC:TxtMsg&content={"content":"hi"}"#,
        )
        .await;
    assert_eq!(ids(&sent, "messageUIDs", "groupId"), ["empty"]);
    let sent = api
        .ok(
            "/message/chatroom/publish.json",
            r#"fromUserId=AAA&toChatroomId=nowhere&objectName=RC:TxtMsg&content={"content":"hi"}"#,
        )
        .await;
    assert_eq!(ids(&sent, "messageUIDs", "chatroomId"), ["nowhere"]);

    // Recalling a message this area never kept still tells the conversation's devices.
    let mut bob = connect(&ws, &api, "bob", "bob-phone", "iOS", None).await;
    assert!(synced(&mut bob).await.is_empty());
    just_ok(
        &api,
        "/message/recall.json",
        "fromUserId=alice&conversationType=1&targetId=bob&messageUID=5FGT-7VA9-G4DD-4V5P&sentTime=1507778882124",
    )
    .await;
    let notice = next_message(&mut bob).await;
    assert_eq!(notice.object_name, "RC:RcCmd");
    let content: Value = serde_json::from_str(&notice.content).unwrap();
    assert_eq!(content["messageUId"], "5FGT-7VA9-G4DD-4V5P");
    assert_eq!(notice.target_id, "alice");

    // Templates: each recipient gets the content and push text with its own values.
    let body = json!({
        "fromUserId": "alice",
        "toUserId": ["bob", "carol"],
        "objectName": "RC:TxtMsg",
        "values": [{"{name}": "Bob", "{n}": "1"}, {"{name}": "Carol", "{n}": "2"}],
        "content": r#"{"content":"Hello {name}, #{n}"}"#,
        "pushContent": ["For {name}", "For {name}"],
        "pushData": ["d1", "d2"],
        "busChannel": "news",
    });
    let (_, answer) = api
        .json("/message/private/publish_template.json", &body)
        .await;
    assert_eq!(answer["code"], 200, "{answer}");
    assert_eq!(ids(&answer, "messageUIDs", "userId"), ["bob", "carol"]);
    let to_bob = next_message(&mut bob).await;
    assert_eq!(to_bob.content, r#"{"content":"Hello Bob, #1"}"#);
    assert_eq!(to_bob.channel_id, "news", "the Java SDK's busChannel");
    assert_eq!(to_bob.push_content.as_deref(), Some("For Bob"));
    assert_eq!(to_bob.push_data.as_deref(), Some("d1"));
    let (_, answer) = api
        .json(
            "/message/system/publish_template.json",
            &json!({
                "fromUserId": "__system__",
                "toUserId": ["bob"],
                "objectName": "RC:TxtMsg",
                "values": [{"{name}": "Bob"}],
                "content": r#"{"content":"Hi {name}"}"#,
            }),
        )
        .await;
    assert_eq!(ids(&answer, "messageUIDs", "userId"), ["bob"]);
    let system = next_message(&mut bob).await;
    assert_eq!(system.conversation_type, 6);
    assert_eq!(system.content, r#"{"content":"Hi Bob"}"#);
    // Entries must match the recipients one to one; a mismatch stores nothing.
    let mut short = body.clone();
    short["values"] = json!([{"{name}": "Bob"}]);
    let (answer, value) = api
        .json("/message/private/publish_template.json", &short)
        .await;
    assert_error(&answer, &value, 400, 1002);

    // `/push.json` with a message: a broadcast to the audience (named users win over
    // tags), its content percent-encoded as one published SDK sends it.
    let broadcast = json!({
        "platform": ["ios", "android"],
        "fromuserid": "news",
        "audience": {"tag": ["nobody-has-this"], "userid": ["bob"], "is_to_all": false},
        "message": {"content": "%7B%22content%22%3A%20%22extra%21%22%7D", "objectName": "RC:TxtMsg"},
        "notification": {"alert": "Extra!"},
    });
    for _ in 0..3 {
        // Not to everyone: outside the broadcast budget of 2 per hour (SYS-04).
        let (_, answer) = api.json("/push.json", &broadcast).await;
        assert_eq!(answer["code"], 200, "{answer}");
        assert!(answer["id"].is_string(), "{answer}");
        let landed = next_message(&mut bob).await;
        assert_eq!(
            (landed.conversation_type, landed.target_id.as_str()),
            (6, "news")
        );
        assert_eq!(landed.content, r#"{"content": "extra!"}"#);
        assert_eq!(landed.push_content.as_deref(), Some("Extra!"));
    }
    // The message's own disableUpdateLastMsg: bob's list keeps showing the one before.
    let mut quiet = broadcast.clone();
    quiet["message"] = json!({"content": r#"{"content":"quiet"}"#, "objectName": "RC:TxtMsg",
                              "disableUpdateLastMsg": true});
    let (_, answer) = api.json("/push.json", &quiet).await;
    assert_eq!(answer["code"], 200, "{answer}");
    assert_eq!(
        next_message(&mut bob).await.content,
        r#"{"content":"quiet"}"#
    );
    bob.send(&ClientFrame::Conversations {
        req_id: 9,
        limit: 10,
    })
    .await
    .unwrap();
    let list = loop {
        if let ServerFrame::ConversationList {
            req_id: 9,
            conversations,
        } = bob.next_within(FRAME_WAIT).await.expect("the list")
        {
            break conversations;
        }
    };
    let news = list.iter().find(|c| c.target_id == "news").expect("news");
    let last = news.last_message.as_ref().expect("a last message");
    assert_eq!(last.content, r#"{"content": "extra!"}"#);
    // A push-only notification to a tag, with no push settings: accepted, reaching nobody.
    let (_, answer) = api
        .json(
            "/push.json",
            &json!({"platform": ["ios"], "audience": {"tag": ["bj"], "is_to_all": false},
                    "notification": {"alert": "hello"}}),
        )
        .await;
    assert_eq!(answer["code"], 200, "{answer}");
    // To everyone: the third in an hour is refused.
    let everyone = json!({"platform": ["ios"], "audience": {"is_to_all": true},
                          "notification": {"alert": "all"}});
    for _ in 0..2 {
        let (_, answer) = api.json("/push.json", &everyone).await;
        assert_eq!(answer["code"], 200, "{answer}");
    }
    let (answer, value) = api.json("/push.json", &everyone).await;
    assert_error(&answer, &value, 429, 1008);
}

// covers: API-07, MSG-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_options_decide_who_gets_a_copy_what_lists_show_and_expansions() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = connect(&ws, &api, "alice", "alice-web", "Web", None).await;
    synced(&mut alice).await;
    let publish = |extra: &str, text: &str| {
        format!(
            r#"fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content={{"content":"{text}"}}{extra}"#
        )
    };

    // isIncludeSender: off by default, so alice's own devices get no copy of what the app
    // server sent for her; on, they do. (Her next message frame is the second one.)
    api.ok(
        "/message/private/publish.json",
        &publish("", "not to alice"),
    )
    .await;
    api.ok(
        "/message/private/publish.json",
        &publish("&isIncludeSender=1", "to alice too"),
    )
    .await;
    let copy = next_message(&mut alice).await;
    assert_eq!(copy.content, r#"{"content":"to alice too"}"#);
    // Nor does a reconnecting device of hers sync it; bob's gets both.
    let mut alice_phone = connect(&ws, &api, "alice", "alice-phone", "iOS", Some(0)).await;
    let synced_to_alice: Vec<String> = synced(&mut alice_phone)
        .await
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(synced_to_alice, [r#"{"content":"to alice too"}"#]);
    let mut bob = connect(&ws, &api, "bob", "bob-phone", "iOS", Some(0)).await;
    assert_eq!(synced(&mut bob).await.len(), 2);

    // disableUpdateLastMsg: bob's list keeps showing the message before it.
    api.ok(
        "/message/private/publish.json",
        &publish("&disableUpdateLastMsg=1&isIncludeSender=1", "quiet"),
    )
    .await;
    let quiet = next_message(&mut bob).await;
    assert_eq!(quiet.content, r#"{"content":"quiet"}"#);
    bob.send(&ClientFrame::Conversations {
        req_id: 7,
        limit: 10,
    })
    .await
    .unwrap();
    let list = loop {
        if let ServerFrame::ConversationList {
            req_id: 7,
            conversations,
        } = bob.next_within(FRAME_WAIT).await.expect("the list")
        {
            break conversations;
        }
    };
    let last = list[0].last_message.as_ref().expect("a last message");
    assert_eq!(last.content, r#"{"content":"to alice too"}"#);

    // expansion + extraContent: the message carries its expansion from the start.
    let sent = api
        .ok(
            "/message/private/publish.json",
            &publish(
                r#"&expansion=true&extraContent={"likes":"3","by":"carol"}"#,
                "expandable",
            ),
        )
        .await;
    let uid = sent["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();
    let expansion = api
        .ok("/message/expansion/query.json", &format!("msgUID={uid}"))
        .await;
    assert_eq!(expansion["extraContent"]["likes"]["v"], "3");
    assert_eq!(expansion["extraContent"]["by"]["v"], "carol");
    // Without `expansion`, or malformed, extraContent is refused and nothing is sent.
    for bad in [
        r#"&extraContent={"a":"b"}"#,
        "&expansion=1&extraContent=oops",
        "&pushExt=oops",
    ] {
        let (answer, value) = api
            .form("/message/private/publish.json", &publish(bad, "no"))
            .await;
        assert_error(&answer, &value, 400, 1002);
    }
    let history = api
        .json(
            "/v3/message/private/query.json",
            &json!({"userId": "alice", "targetId": "bob"}),
        )
        .await
        .1;
    assert_eq!(history["data"].as_array().unwrap().len(), 4, "{history}");
}

/// What the published Go and Java server SDKs send and read where it differs from the
/// documentation's examples (an audit of both SDKs' sources): ids as `targetId` and
/// numbers as strings on the v3 history queries, whose answers they read as `messageUID`
/// and `msgTime`; empty values for parameters not asked; numbers where the docs show
/// booleans; the answer names they decode.
// covers: API-05, API-06, API-07
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_and_java_sdks_shapes_are_taken_and_answered_as_they_read_them() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    just_ok(
        &api,
        "/user/refresh.json",
        "userId=ann&name=Ann&portraitUri=http://p/1",
    )
    .await;
    just_ok(
        &api,
        "/group/create.json",
        "userId=ann&userId=bob&groupId=g1&groupName=G",
    )
    .await;
    let sent = api
        .ok(
            "/message/group/publish.json",
            r#"fromUserId=ann&toGroupId=g1&objectName=RC:TxtMsg&content={"content":"hi"}&pushContent=&pushData="#,
        )
        .await;
    let uid = sent["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();

    // The Go SDK's v3 query: the group as `targetId`, every value a string.
    let query = json!({"userId": "ann", "targetId": "g1", "startTime": "0",
                       "endTime": "99999999999999", "includeStart": "true", "pageSize": "10"});
    let (answer, value) = api.json("/v3/message/group/query.json", &query).await;
    assert_eq!(answer.status, 200, "{value}");
    let message = &value["data"][0];
    assert_eq!(message["messageUID"], uid.as_str());
    assert_eq!(message["msgUID"], uid.as_str());
    assert_eq!(message["groupId"], "g1");
    assert!(
        message["msgTime"].as_u64().is_some_and(|t| t > 0),
        "{message}"
    );
    let (answer, value) = api
        .json(
            "/v3/message/group/query.json",
            &json!({"targetId": "g1", "pageSize": "ten"}),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);

    // bindNotifyMsg: a group operation comes with its notification message.
    let notify =
        r#"bindNotifyMsg=true&fromUserId=ann&objectName=RC:GrpNtf&content={"operation":"Create"}"#;
    let created = api
        .ok(
            "/group/create.json",
            &format!("userId=ann&userId=cat&groupId=g2&groupName=G2&{notify}"),
        )
        .await;
    let quit = api
        .ok(
            "/group/quit.json",
            &format!("userId=cat&groupId=g2&{notify}"),
        )
        .await;
    let history = api
        .json(
            "/v3/message/group/query.json",
            &json!({"targetId": "g2", "order": "asc"}),
        )
        .await
        .1;
    let uids: Vec<&Value> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["messageUID"])
        .collect();
    assert_eq!(
        uids,
        [&created["messageUID"], &quit["messageUID"]],
        "{history}"
    );
    let (answer, value) = api
        .form(
            "/group/join.json",
            "userId=dan&groupId=g2&bindNotifyMsg=true&fromUserId=ann",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let members = api.ok("/group/user/query.json", "groupId=g2").await;
    assert_eq!(
        members["users"].as_array().map(Vec::len),
        Some(1),
        "dan did not join: {members}"
    );

    // Broadcasts answer `messageUID` beside `id`.
    let broadcast = api
        .ok(
            "/message/broadcast.json",
            r#"fromUserId=news&objectName=RC:TxtMsg&content={"content":"all"}"#,
        )
        .await;
    assert_eq!(broadcast["id"], broadcast["messageUID"]);
    // The Go SDK recalls a broadcast by broadcasting its RC:RcCmd: a recall, not a message.
    let recall = |uid: &str| {
        format!(
            r#"fromUserId=news&objectName=RC:RcCmd&content={{"messageUId":"{uid}","conversationType":6,"targetId":"news"}}"#
        )
    };
    let (answer, value) = api
        .form("/message/broadcast.json", &recall("NOT-A-BROADCAST"))
        .await;
    assert_error(&answer, &value, 400, 1002);
    let recalled = api
        .ok(
            "/message/broadcast.json",
            &recall(broadcast["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(recalled, json!({"code": 200}), "a recall answers no new id");

    // Go's refresh sends both fields, one of them empty: the other is kept.
    just_ok(
        &api,
        "/user/refresh.json",
        "userId=ann&name=&portraitUri=http://p/2",
    )
    .await;
    let info = api.ok("/user/info.json", "userId=ann").await;
    assert_eq!(
        (info["userName"].as_str(), info["userPortrait"].as_str()),
        (Some("Ann"), Some("http://p/2"))
    );

    // Chatroom answers as both SDKs decode them.
    just_ok(&api, "/chatroom/create.json", "chatroom[r1]=Room").await;
    just_ok(&api, "/chatroom/keepalive/add.json", "chatroomId=r1").await;
    just_ok(&api, "/chatroom/ban/add.json", "chatroomId=r1").await;
    let kept = api.ok("/chatroom/keepalive/query.json", "").await;
    assert_eq!(kept["chatroomIds"], json!(["r1"]));
    let banned = api.ok("/chatroom/ban/query.json", "").await;
    assert_eq!(banned["chatroomIds"], json!(["r1"]));
    let room = api.ok("/chatroom/get.json", "chatroomId=r1").await;
    assert_eq!(room["chatroomId"], "r1");
    assert_eq!(
        (room["memberCount"].as_u64(), room["ban"].as_bool()),
        (Some(0), Some(true))
    );
    assert_eq!(
        (room["destroyType"].as_u64(), room["destroyTime"].as_u64()),
        (Some(0), Some(60))
    );
    assert!(room["createTime"].as_u64().is_some_and(|t| t > 0), "{room}");
    // create_new takes the destroy settings the SDKs send with it.
    just_ok(
        &api,
        "/chatroom/create_new.json",
        "chatroomId=r2&destroyType=1&destroyTime=90",
    )
    .await;
    let room = api.ok("/chatroom/get.json", "chatroomId=r2").await;
    assert_eq!(
        (room["destroyType"].as_u64(), room["destroyTime"].as_u64()),
        (Some(1), Some(90))
    );
    just_ok(
        &api,
        "/chatroom/entry/set.json",
        "chatroomId=r1&userId=ann&key=k&value=v&autoDelete=1",
    )
    .await;
    let entries = api.ok("/chatroom/entry/query.json", "chatroomId=r1").await;
    assert_eq!(
        entries["keys"][0]["autoDelete"], "1",
        "a string, as Go decodes it"
    );

    // A conversation's level as the SDKs send it beside (or instead of) isMuted.
    let target = "requestId=bob&conversationType=3&targetId=g1";
    just_ok(
        &api,
        "/conversation/notification/set.json",
        &format!("{target}&unpushLevel=1"),
    )
    .await;
    let muted = api.ok("/conversation/notification/get.json", target).await;
    assert_eq!(muted["isMuted"], 1);
    just_ok(
        &api,
        "/conversation/notification/set.json",
        &format!("{target}&unpushLevel=0"),
    )
    .await;
    let muted = api.ok("/conversation/notification/get.json", target).await;
    assert_eq!(muted["isMuted"], 0);
    let level = api
        .ok(
            "/conversation/type/notification/get.json",
            "requestId=bob&conversationType=3",
        )
        .await;
    assert_eq!(level["isMuted"], level["unpushLevel"]);

    // Ultra-group flags as strings (Go) or numbers (Java): not persisted is not stored.
    just_ok(
        &api,
        "/ultragroup/create.json",
        "userId=ann&groupId=u1&groupName=U",
    )
    .await;
    let ultra_history = async || {
        let query = json!({"targetId": "u1"});
        api.json("/v3/message/ultragroup/query.json", &query)
            .await
            .1
    };
    for persisted in [json!("0"), json!(0)] {
        let body = json!({"fromUserId": "ann", "toGroupIds": ["u1"], "objectName": "app:Ping",
                          "content": "{}", "isPersisted": persisted, "isCounted": "0"});
        let (answer, value) = api.json("/message/ultragroup/publish.json", &body).await;
        assert_eq!(answer.status, 200, "{value}");
    }
    let history = ultra_history().await;
    assert_eq!(history["data"], json!([]), "nothing was persisted");

    // A template recipient without values (Go sends null), with an empty push text, and
    // Java's pushExt per recipient.
    let template = json!({"fromUserId": "news", "toUserId": ["ann", "bob"], "objectName": "RC:TxtMsg",
                          "content": "{\"content\":\"hi {name}\"}", "values": [{"{name}": "Ann"}, null],
                          "pushContent": ["", ""], "pushData": ["", ""],
                          "pushExt": ["{\"title\":\"T\"}", "{\"title\":\"T\"}"]});
    let (answer, value) = api
        .json("/message/system/publish_template.json", &template)
        .await;
    assert_eq!(answer.status, 200, "{value}");

    // `msgRandom` (Java's and Go's request id): a publish repeated within a minute is
    // stored once and answered the same; the id on another request is refused; 0 (Go's
    // unset value) is no id.
    let marked = r#"fromUserId=ann&toUserId=bob&objectName=RC:TxtMsg&content={"content":"once"}&msgRandom=1717"#;
    let first = api.ok("/message/private/publish.json", marked).await;
    let again = api.ok("/message/private/publish.json", marked).await;
    assert_eq!(first, again);
    let query = json!({"userId": "ann", "targetId": "bob", "pageSize": "100"});
    let stored = api.json("/v3/message/private/query.json", &query).await.1;
    let copies = |history: &Value, text: &str| {
        let data = history["data"].as_array().cloned().unwrap_or_default();
        data.iter()
            .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(text)))
            .count()
    };
    assert_eq!(copies(&stored, "once"), 1, "{stored}");
    let (answer, value) = api
        .form(
            "/message/private/publish.json",
            r#"fromUserId=ann&toUserId=bob&objectName=RC:TxtMsg&content={"content":"other"}&msgRandom=1717"#,
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let unmarked = r#"fromUserId=ann&toUserId=bob&objectName=RC:TxtMsg&content={"content":"twice"}&msgRandom=0"#;
    let one = api.ok("/message/private/publish.json", unmarked).await;
    let two = api.ok("/message/private/publish.json", unmarked).await;
    assert_ne!(one, two);
    let (answer, value) = api
        .form(
            "/message/private/publish.json",
            r#"fromUserId=ann&toUserId=bob&objectName=RC:TxtMsg&content={}&msgRandom=soon"#,
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let stored = api.json("/v3/message/private/query.json", &query).await.1;
    assert_eq!(
        (
            copies(&stored, "once"),
            copies(&stored, "other"),
            copies(&stored, "twice")
        ),
        (1, 0, 2)
    );

    // The same on an ultra-group edit (Go's `UgMessageExtension`).
    let body = json!({"fromUserId": "ann", "toGroupIds": ["u1"], "objectName": "RC:TxtMsg",
                      "content": "{\"content\":\"v1\"}"});
    let sent = api.json("/message/ultragroup/publish.json", &body).await.1;
    let uid = sent["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();
    let edit = |text: &str| {
        format!(
            r#"groupId=u1&fromUserId=ann&msgUID={uid}&content={{"content":"{text}"}}&busChannel=&msgRandom=99"#
        )
    };
    just_ok(&api, "/ultragroup/msg/modify.json", &edit("v2")).await;
    just_ok(&api, "/ultragroup/msg/modify.json", &edit("v2")).await;
    let (answer, value) = api.form("/ultragroup/msg/modify.json", &edit("v3")).await;
    assert_error(&answer, &value, 400, 1002);
    let elsewhere = edit("v4").replace("busChannel=&", "busChannel=ops&");
    let (answer, value) = api.form("/ultragroup/msg/modify.json", &elsewhere).await;
    assert_error(&answer, &value, 400, 1002);
    let history = ultra_history().await;
    assert!(
        history["data"][0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("v2")),
        "{history}"
    );
    dev.stop();
}
