//! Black-box tests of message expansion and conversation settings against `meridian dev`.

mod common;

use common::{assert_error, binary, connect, synced, Api, FRAME_WAIT};
use meridian_client::Connection;
use meridian_proto::ServerFrame;
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

/// The content of the next `RC:MsgExMsg` a session hears.
async fn expansion_notice(connection: &mut Connection) -> Value {
    loop {
        if let ServerFrame::Message(m) = connection.next_within(FRAME_WAIT).await.unwrap() {
            if m.object_name == "RC:MsgExMsg" {
                return serde_json::from_str(&m.content).unwrap();
            }
        }
    }
}

// covers: MSG-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expansion_keys_are_set_deleted_queried_and_bounded() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let sent = api
        .ok(
            "/message/private/publish.json",
            r#"fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content={}"#,
        )
        .await;
    let uid = sent["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();
    // Online, bob hears each change as a client's change is heard; alice, who makes it,
    // only when she asks (`isSyncSender`).
    let ws = dev.ws("SG");
    let mut bob = connect(&ws, &api, "bob", "bob-phone", "iOS", None).await;
    let mut alice = connect(&ws, &api, "alice", "alice-phone", "iOS", None).await;
    synced(&mut bob).await;
    synced(&mut alice).await;
    let target = format!("msgUID={uid}&userId=alice&conversationType=1&targetId=bob");
    api.ok(
        "/message/expansion/set.json",
        &format!(r#"{target}&extraKeyVal={{"likes":"3","mood":"happy"}}"#),
    )
    .await;
    let notice = expansion_notice(&mut bob).await;
    assert_eq!(notice["msgUID"], uid.as_str());
    assert_eq!(notice["set"], json!({"likes": "3", "mood": "happy"}));
    api.ok(
        "/message/expansion/set.json",
        &format!(r#"{target}&extraKeyVal={{"likes":"3"}}&isSyncSender=1"#),
    )
    .await;
    let heard = expansion_notice(&mut alice).await;
    assert_eq!(
        (&heard["set"], &heard["remove"]),
        (&json!({"likes": "3"}), &json!([]))
    );
    expansion_notice(&mut bob).await;
    api.ok(
        "/message/expansion/delete.json",
        &format!(r#"{target}&extraKey=["mood"]"#),
    )
    .await;
    let notice = expansion_notice(&mut bob).await;
    assert_eq!(
        (&notice["set"], &notice["remove"]),
        (&json!({}), &json!(["mood"]))
    );
    // alice did not ask to hear the delete: the next thing she hears is bob's text.
    api.ok(
        "/message/private/publish.json",
        r#"fromUserId=bob&toUserId=alice&objectName=RC:TxtMsg&content={"content":"after"}"#,
    )
    .await;
    loop {
        match alice.next_within(FRAME_WAIT).await.unwrap() {
            ServerFrame::Message(m) => {
                assert_eq!(m.object_name, "RC:TxtMsg", "alice heard {m:?}");
                break;
            }
            _ => continue,
        }
    }
    let found = api
        .ok("/message/expansion/query.json", &format!("msgUID={uid}"))
        .await;
    assert_eq!(found["extraContent"]["likes"]["v"], "3");
    assert!(found["extraContent"]["likes"]["ts"].as_u64().unwrap() > 0);
    assert!(found["extraContent"].get("mood").is_none());

    // 300 keys per message: 299 more fit, one beyond is refused whole.
    for batch in 0..3 {
        let count = if batch == 2 { 99 } else { 100 };
        let kv: Vec<String> = (0..count)
            .map(|i| format!("\"b{batch}k{i}\":\"v\""))
            .collect();
        api.ok(
            "/message/expansion/set.json",
            &format!("{target}&extraKeyVal={{{}}}", kv.join(",")),
        )
        .await;
    }
    let (answer, value) = api
        .form(
            "/message/expansion/set.json",
            &format!(r#"{target}&extraKeyVal={{"one":"more"}}"#),
        )
        .await;
    assert_error(&answer, &value, 400, 1502);
    let found = api
        .ok("/message/expansion/query.json", &format!("msgUID={uid}"))
        .await;
    assert_eq!(found["extraContent"].as_object().unwrap().len(), 300);
    // A page holds 300: the first is all of them, the second none; a page is a number.
    for (page, held) in [(1, 300), (2, 0)] {
        let form = format!("msgUID={uid}&pageNo={page}");
        let found = api.ok("/message/expansion/query.json", &form).await;
        assert_eq!(found["extraContent"].as_object().unwrap().len(), held);
    }
    let (answer, value) = api
        .form(
            "/message/expansion/query.json",
            &format!("msgUID={uid}&pageNo=first"),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let long_key = "k".repeat(33);
    let (answer, value) = api
        .form(
            "/message/expansion/set.json",
            &format!(r#"{target}&extraKeyVal={{"{long_key}":"v"}}"#),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let (answer, value) = api
        .form(
            "/message/expansion/query.json",
            "msgUID=AAAA-BBBB-CCCC-DDDD",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: PRV-09, MSG-03
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_not_disturb_push_levels_and_pinning_are_per_user() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok(
        "/conversation/notification/set.json",
        "requestId=alice&conversationType=1&targetId=bob&isMuted=1",
    )
    .await;
    let alice = api
        .ok(
            "/conversation/notification/get.json",
            "requestId=alice&conversationType=1&targetId=bob",
        )
        .await;
    assert_eq!(alice["isMuted"], 1);
    let bob = api
        .ok(
            "/conversation/notification/get.json",
            "requestId=bob&conversationType=1&targetId=alice",
        )
        .await;
    assert_eq!(bob["isMuted"], 0, "the other side is not muted");
    api.ok(
        "/conversation/top/set.json",
        "userId=alice&conversationType=1&targetId=bob&setTop=true",
    )
    .await;
    let alice = api
        .ok(
            "/conversation/notification/get.json",
            "requestId=alice&conversationType=1&targetId=bob",
        )
        .await;
    assert_eq!(alice["isMuted"], 1, "pinning keeps the mute");

    api.ok(
        "/conversation/type/notification/set.json",
        "requestId=alice&conversationType=3&unpushLevel=1",
    )
    .await;
    let level = api
        .ok(
            "/conversation/type/notification/get.json",
            "requestId=alice&conversationType=3",
        )
        .await;
    assert_eq!(level["unpushLevel"], 1);
    let (answer, value) = api
        .form(
            "/conversation/type/notification/set.json",
            "requestId=alice&conversationType=3&unpushLevel=3",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let (answer, value) = api
        .form(
            "/conversation/notification/set.json",
            "requestId=alice&conversationType=2&targetId=bob&isMuted=1",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}
