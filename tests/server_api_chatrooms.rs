//! Black-box tests of the Server API's chatroom paths against `meridian dev`.

mod common;

use common::{assert_error, binary, Api};
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

fn list(value: &Value, field: &str, key: &str) -> Vec<String> {
    value[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

// covers: CHR-01, CHR-08, CHR-09
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_created_queried_kept_alive_given_attributes_and_destroyed() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    // chatroom[<id>]=<name>, unencoded, as SDKs send it.
    api.ok(
        "/chatroom/create.json",
        "chatroom[r1]=Room One&chatroom[r2]=Room Two",
    )
    .await;
    let rooms = api
        .ok(
            "/chatroom/query.json",
            "chatroomId=r1&chatroomId=r2&chatroomId=nope",
        )
        .await;
    assert_eq!(list(&rooms, "chatRooms", "chrmId"), ["r1", "r2"]);
    assert_eq!(rooms["chatRooms"][0]["name"], "Room One");
    api.ok(
        "/chatroom/create_new.json",
        r#"chatroomId=r3&isBan=1&whiteUserIds=host&entryOwnerId=host&entryInfo={"topic":"launch"}"#,
    )
    .await;
    assert_eq!(
        api.ok("/chatroom/ban/check.json", "chatroomId=r3").await["status"],
        1
    );
    let white = api
        .ok("/chatroom/user/ban/whitelist/query.json", "chatroomId=r3")
        .await;
    assert_eq!(white["userIds"], json!(["host"]));

    api.ok("/chatroom/keepalive/add.json", "chatroomId=r1")
        .await;
    assert_eq!(
        api.ok("/chatroom/keepalive/query.json", "").await["chatrooms"],
        json!(["r1"])
    );
    api.ok("/chatroom/keepalive/remove.json", "chatroomId=r1")
        .await;
    assert_eq!(
        api.ok("/chatroom/keepalive/query.json", "").await["chatrooms"],
        json!([])
    );

    api.ok(
        "/chatroom/entry/set.json",
        "chatroomId=r1&userId=alice&key=score&value=3:1",
    )
    .await;
    let batch: String = (0..99).map(|i| format!("\"k{i}\":\"v\",")).collect();
    let batch = format!("{{{}}}", batch.trim_end_matches(','));
    api.ok(
        "/chatroom/entry/batch/set.json",
        &format!("chatroomId=r1&entryOwnerId=alice&entryInfo={batch}"),
    )
    .await;
    let (answer, value) = api
        .form(
            "/chatroom/entry/set.json",
            "chatroomId=r1&userId=alice&key=k100&value=v",
        )
        .await;
    assert_error(&answer, &value, 400, 1502);
    let long_key = "k".repeat(129);
    let (answer, value) = api
        .form(
            "/chatroom/entry/set.json",
            &format!("chatroomId=r1&userId=alice&key={long_key}&value=v"),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let entries = api
        .ok("/chatroom/entry/query.json", "chatroomId=r1&keys=score")
        .await;
    assert_eq!(entries["keys"][0]["value"], "3:1");
    assert_eq!(entries["keys"][0]["userId"], "alice");
    api.ok(
        "/chatroom/entry/remove.json",
        "chatroomId=r1&userId=alice&key=score",
    )
    .await;
    let entries = api.ok("/chatroom/entry/query.json", "chatroomId=r1").await;
    assert_eq!(entries["keys"].as_array().unwrap().len(), 99);

    // A change the app names a message for (the Java SDK's objectName and content) is
    // announced in the room, from the entry's user; an RC:chrmKVNotiMsg without content
    // gets the {type, key, value} clients read. A custom type needs its content.
    api.ok(
        "/chatroom/entry/set.json",
        "chatroomId=r1&userId=alice&key=topic&value=news&objectName=RC:chrmKVNotiMsg",
    )
    .await;
    api.ok(
        "/chatroom/entry/remove.json",
        r#"chatroomId=r1&userId=alice&key=topic&objectName=App:KV&content={"gone":"topic"}"#,
    )
    .await;
    let (answer, value) = api
        .form(
            "/chatroom/entry/set.json",
            "chatroomId=r1&userId=alice&key=k&value=v&objectName=App:KV",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let entries = api.ok("/chatroom/entry/query.json", "chatroomId=r1").await;
    assert_eq!(entries["keys"].as_array().unwrap().len(), 99, "nothing set");
    let (_, history) = api
        .json(
            "/v3/message/chatroom/query.json",
            &json!({"chatroomId": "r1", "order": "asc"}),
        )
        .await;
    let notices: Vec<(&str, &str, Value)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let content = serde_json::from_str(m["content"].as_str().unwrap()).unwrap();
            (
                m["fromUserId"].as_str().unwrap(),
                m["objectName"].as_str().unwrap(),
                content,
            )
        })
        .collect();
    assert_eq!(
        notices,
        [
            (
                "alice",
                "RC:chrmKVNotiMsg",
                json!({"type": 1, "key": "topic", "value": "news"})
            ),
            ("alice", "App:KV", json!({"gone": "topic"})),
        ]
    );

    api.ok("/chatroom/destroy.json", "chatroomId=r1&chatroomId=r3")
        .await;
    let rooms = api
        .ok(
            "/chatroom/query.json",
            "chatroomId=r1&chatroomId=r2&chatroomId=r3",
        )
        .await;
    assert_eq!(list(&rooms, "chatRooms", "chrmId"), ["r2"]);
    let (answer, value) = api
        .form("/chatroom/entry/query.json", "chatroomId=r1")
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: CHR-04, CHR-05, CHR-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutes_bans_blocks_whitelists_and_priorities() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok("/chatroom/create.json", "chatroom[r1]=One").await;

    api.ok(
        "/chatroom/user/gag/add.json",
        "chatroomId=r1&userId=alice&userId=bob&minute=5",
    )
    .await;
    api.ok(
        "/chatroom/user/gag/rollback.json",
        "chatroomId=r1&userId=bob",
    )
    .await;
    assert_eq!(
        list(
            &api.ok("/chatroom/user/gag/list.json", "chatroomId=r1")
                .await,
            "users",
            "userId"
        ),
        ["alice"]
    );

    // A `needNotify` that is not a boolean, or an `extra` too long for a message, is
    // refused and gags nobody.
    let too_long = "x".repeat(128 * 1024);
    for bad in [
        "needNotify=maybe".to_string(),
        format!("needNotify=true&extra={too_long}"),
    ] {
        let (answer, value) = api
            .form(
                "/chatroom/user/gag/add.json",
                &format!("chatroomId=r1&userId=erin&minute=5&{bad}"),
            )
            .await;
        let code = if bad.len() < 100 { 1002 } else { 1005 };
        assert_error(&answer, &value, 400, code);
    }
    let gagged = api
        .ok("/chatroom/user/gag/list.json", "chatroomId=r1")
        .await;
    assert_eq!(list(&gagged, "users", "userId"), ["alice"]);

    api.ok("/chatroom/user/ban/add.json", "userId=carol&minute=10")
        .await;
    assert_eq!(
        list(
            &api.ok("/chatroom/user/ban/query.json", "").await,
            "users",
            "userId"
        ),
        ["carol"]
    );
    api.ok("/chatroom/user/ban/remove.json", "userId=carol")
        .await;
    assert_eq!(
        api.ok("/chatroom/user/ban/query.json", "").await["users"],
        json!([])
    );

    api.ok("/chatroom/ban/add.json", "chatroomId=r1").await;
    assert_eq!(
        list(
            &api.ok("/chatroom/ban/query.json", "").await,
            "chatrooms",
            "chatroomId"
        ),
        ["r1"]
    );
    // Paged by `size` (1–1,000) and `page`; `total` counts them all.
    let past = api.ok("/chatroom/ban/query.json", "size=1&page=2").await;
    assert_eq!(
        (&past["total"], &past["chatroomIds"]),
        (&json!(1), &json!([]))
    );
    for bad in ["size=1001", "size=0", "page=x"] {
        let (answer, value) = api.form("/chatroom/ban/query.json", bad).await;
        assert_error(&answer, &value, 400, 1002);
    }
    api.ok("/chatroom/ban/rollback.json", "chatroomId=r1").await;
    assert_eq!(
        api.ok("/chatroom/ban/check.json", "chatroomId=r1").await["status"],
        0
    );

    api.ok(
        "/chatroom/user/block/add.json",
        "chatroomId=r1&userId=dave&minute=1",
    )
    .await;
    assert_eq!(
        list(
            &api.ok("/chatroom/user/block/list.json", "chatroomId=r1")
                .await,
            "users",
            "userId"
        ),
        ["dave"]
    );
    api.ok(
        "/chatroom/user/block/rollback.json",
        "chatroomId=r1&userId=dave",
    )
    .await;
    assert_eq!(
        api.ok("/chatroom/user/block/list.json", "chatroomId=r1")
            .await["users"],
        json!([])
    );

    api.ok(
        "/chatroom/user/whitelist/add.json",
        "chatroomId=r1&userId=vip",
    )
    .await;
    assert_eq!(
        api.ok("/chatroom/user/whitelist/query.json", "chatroomId=r1")
            .await["users"],
        json!(["vip"])
    );
    api.ok(
        "/chatroom/whitelist/add.json",
        "objectnames=RC:TxtMsg&objectnames=App:Gift",
    )
    .await;
    api.ok("/chatroom/whitelist/delete.json", "objectnames=RC:TxtMsg")
        .await;
    assert_eq!(
        api.ok("/chatroom/whitelist/query.json", "").await["whitlistMsgType"],
        json!(["App:Gift"])
    );
    api.ok("/chatroom/message/priority/add.json", "objectName=App:Like")
        .await;
    assert_eq!(
        api.ok("/chatroom/message/priority/query.json", "").await["objectNames"],
        json!(["App:Like"])
    );
    api.ok(
        "/chatroom/message/priority/remove.json",
        "objectName=App:Like",
    )
    .await;
    assert_eq!(
        api.ok("/chatroom/message/priority/query.json", "").await["objectNames"],
        json!([])
    );

    api.ok("/chatroom/message/stopDistribution.json", "chatroomId=r1")
        .await;
    api.ok("/chatroom/message/resumeDistribution.json", "chatroomId=r1")
        .await;

    // Nobody has joined from a client yet.
    let members = api
        .ok(
            "/chatroom/user/query.json",
            "chatroomId=r1&count=500&order=2",
        )
        .await;
    assert_eq!(members["total"], 0);
    let exists = api
        .ok(
            "/chatroom/users/exist.json",
            "chatroomId=r1&userId=alice&userId=bob",
        )
        .await;
    assert_eq!(
        exists["result"][1],
        // A number, as the published Go and Java SDKs decode it.
        json!({"userId": "bob", "isInChrm": 0})
    );
    let (answer, value) = api
        .form("/chatroom/user/query.json", "chatroomId=r1&count=501")
        .await;
    assert_error(&answer, &value, 400, 1002);
    // API-05: a gag in a room that does not exist yet is kept for it.
    api.ok(
        "/chatroom/user/gag/add.json",
        "chatroomId=nope&userId=alice&minute=5",
    )
    .await;
    let (answer, value) = api
        .form(
            "/chatroom/user/gag/add.json",
            "chatroomId=r1&userId=alice&minute=0",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: CHR-11, CHR-12
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatroom_messages_and_broadcasts() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok("/chatroom/create.json", "chatroom[r1]=One&chatroom[r2]=Two")
        .await;
    let sent = api
        .ok(
            "/message/chatroom/publish.json",
            r#"fromUserId=host&toChatroomId=r1&objectName=RC:TxtMsg&content={"content":"welcome"}"#,
        )
        .await;
    assert_eq!(list(&sent, "messageUIDs", "chatroomId"), ["r1"]);
    let broadcast = api
        .ok(
            "/message/chatroom/broadcast.json",
            r#"fromUserId=admin&objectName=RC:TxtMsg&content={"content":"to all rooms"}"#,
        )
        .await;
    assert_eq!(list(&broadcast, "messageUIDs", "chatroomId"), ["r1", "r2"]);
    // One broadcast per second.
    let (answer, value) = api
        .form(
            "/message/chatroom/broadcast.json",
            r#"fromUserId=admin&objectName=RC:TxtMsg&content={}"#,
        )
        .await;
    assert_error(&answer, &value, 429, 1008);

    let (answer, history) = api
        .json(
            "/v3/message/chatroom/query.json",
            &json!({"chatroomId": "r1", "order": "asc"}),
        )
        .await;
    assert_eq!(history["code"], 200, "{}", answer.text());
    let contents: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [r#"{"content":"welcome"}"#, r#"{"content":"to all rooms"}"#]
    );
    assert_eq!(history["data"][0]["conversationType"], 4);

    // API-05: a room that does not exist accepts the message, which reaches nobody and
    // is not kept.
    api.ok(
        "/message/chatroom/publish.json",
        r#"fromUserId=host&toChatroomId=nope&objectName=RC:TxtMsg&content={}"#,
    )
    .await;
    let (_, none) = api
        .json(
            "/v3/message/chatroom/query.json",
            &json!({"chatroomId": "nope"}),
        )
        .await;
    assert_eq!(none["data"], json!([]), "{none}");
}
