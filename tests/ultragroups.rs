//! Ultra groups through the Server API and through client sessions (ULG).

mod common;

use std::time::Duration;

use common::{binary, Api};
use meridian_client::{codes, ConnectOptions, Connection, MessageBody};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

async fn json_ok(api: &Api, path: &str, body: Value) -> Value {
    let (answer, value) = api.json(path, &body).await;
    assert_eq!(value["code"], 200, "{path}: {}", answer.text());
    value
}

async fn connect(api: &Api, ws: &str, user: &str) -> Connection {
    let token = api
        .ok("/user/getToken.json", &format!("userId={user}"))
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let options = ConnectOptions {
        url: ws.into(),
        app_key: api.key.clone(),
        token,
        device_id: format!("{user}-phone"),
        platform: "iOS".into(),
        cursor: None,
        tls: None,
    };
    let mut connection = Connection::connect(&options).await.unwrap();
    loop {
        if let ServerFrame::Synced { .. } = connection.next_within(WAIT).await.unwrap() {
            return connection;
        }
    }
}

async fn next_message(connection: &mut Connection) -> MessageBody {
    loop {
        if let ServerFrame::Message(body) = connection.next_within(WAIT).await.unwrap() {
            return body;
        }
    }
}

async fn answer(connection: &mut Connection, req_id: u64) -> ServerFrame {
    loop {
        let frame = connection.next_within(WAIT).await.unwrap();
        match &frame {
            ServerFrame::Done { req_id: r }
            | ServerFrame::UltraGroupChannels { req_id: r, .. }
            | ServerFrame::UltraGroupList { req_id: r, .. }
                if *r == req_id =>
            {
                return frame
            }
            ServerFrame::Error {
                req_id: Some(r), ..
            } if *r == req_id => return frame,
            _ => {}
        }
    }
}

fn send(client_id: &str, group: &str, channel: &str, content: &str) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.into(),
        conversation_type: 10,
        target_id: group.into(),
        channel_id: channel.into(),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    }
}

// covers: ULG-01, ULG-02, ULG-04, ULG-05, ULG-06, ULG-07
#[tokio::test]
async fn the_server_api_manages_ultra_groups_channels_mutes_and_history() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok(
        "/ultragroup/create.json",
        "userId=alice&groupId=u1&groupName=Ultra",
    )
    .await;
    for user in ["bob", "carol"] {
        api.ok(
            "/ultragroup/join.json",
            &format!("userId={user}&groupId=u1"),
        )
        .await;
    }
    let exists = api
        .ok("/ultragroup/member/exist.json", "groupId=u1&userId=bob")
        .await;
    assert_eq!(exists["status"], true);
    // Creating the same group again is refused.
    let (_, again) = api
        .form(
            "/ultragroup/create.json",
            "userId=alice&groupId=u1&groupName=U",
        )
        .await;
    assert_ne!(again["code"], 200);

    // Channels: one private with two users; 50 at most.
    api.ok(
        "/ultragroup/channel/create.json",
        "groupId=u1&busChannel=ops&type=1",
    )
    .await;
    api.ok(
        "/ultragroup/channel/private/users/add.json",
        "groupId=u1&busChannel=ops&userIds=alice,bob",
    )
    .await;
    let users = api
        .ok(
            "/ultragroup/channel/private/users/get.json",
            "groupId=u1&busChannel=ops&page=1&pageSize=10",
        )
        .await;
    // Plain ids, as the published Go and Java SDKs decode them.
    assert_eq!(users["users"], json!(["alice", "bob"]));
    for i in 0..49 {
        api.ok(
            "/ultragroup/channel/create.json",
            &format!("groupId=u1&busChannel=c{i}"),
        )
        .await;
    }
    let (_, over) = api
        .form(
            "/ultragroup/channel/create.json",
            "groupId=u1&busChannel=c50",
        )
        .await;
    assert_ne!(over["code"], 200, "the 51st channel is refused");
    let channels = api
        .ok(
            "/ultragroup/channel/get.json",
            "groupId=u1&page=1&limit=100",
        )
        .await;
    assert_eq!(channels["channelList"].as_array().unwrap().len(), 50);
    assert_eq!(channels["channelList"][0]["channelId"], "ops");
    assert_eq!(channels["channelList"][0]["type"], 1);

    // Publish (JSON), history, fetch by id, edit (ULG-07).
    let published = json_ok(
        &api,
        "/message/ultragroup/publish.json",
        json!({"fromUserId": "alice", "toGroupIds": ["u1"], "busChannel": "ops",
               "objectName": "RC:TxtMsg", "content": "{\"content\":\"plan\"}"}),
    )
    .await;
    let uid = published["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();
    api.ok(
        "/ultragroup/msg/modify.json",
        &format!(
            "groupId=u1&busChannel=ops&fromUserId=alice&msgUID={uid}&content=%7B%22content%22%3A%22new%20plan%22%7D"
        ),
    )
    .await;
    let (_, not_sender) = api
        .form(
            "/ultragroup/msg/modify.json",
            &format!("groupId=u1&fromUserId=bob&msgUID={uid}&content=%7B%7D"),
        )
        .await;
    assert_ne!(not_sender["code"], 200);
    let history = json_ok(
        &api,
        "/v3/message/ultragroup/query.json",
        json!({"groupId": "u1", "busChannel": "ops"}),
    )
    .await;
    assert_eq!(history["data"][0]["content"], "{\"content\":\"new plan\"}");
    assert_eq!(history["data"][0]["modified"], true);
    let by_id = api
        .ok(
            "/ultragroup/msg/get.json",
            &format!("groupId=u1&msgs=%5B%7B%22msgUID%22%3A%22{uid}%22%7D%5D"),
        )
        .await;
    assert_eq!(by_id["data"][0]["msgUID"], uid.as_str());
    let around = api
        .ok(
            "/ultragroup/hismsg/msgid/query.json",
            &format!("groupId=u1&busChannel=ops&msgUID={uid}&prevNum=5&lastNum=5"),
        )
        .await;
    assert_eq!(around["data"].as_array().unwrap().len(), 1);
    let by_time = api
        .ok(
            "/ultragroup/hismsg/query.json",
            "groupId=u1&busChannel=ops&fromUserId=alice&pageSize=10",
        )
        .await;
    assert_eq!(by_time["data"].as_array().unwrap().len(), 1);

    // Mutes and push levels.
    api.ok(
        "/ultragroup/userbanned/add.json",
        "groupId=u1&userIds=carol",
    )
    .await;
    let muted = api
        .ok("/ultragroup/userbanned/get.json", "groupId=u1")
        .await;
    assert_eq!(muted["users"], json!([{"id": "carol"}]));
    api.ok(
        "/ultragroup/globalbanned/set.json",
        "groupId=u1&status=true",
    )
    .await;
    assert_eq!(
        api.ok("/ultragroup/globalbanned/get.json", "groupId=u1")
            .await["status"],
        true
    );
    api.ok(
        "/ultragroup/banned/whitelist/add.json",
        "groupId=u1&userIds=alice",
    )
    .await;
    let white = api
        .ok("/ultragroup/banned/whitelist/get.json", "groupId=u1")
        .await;
    assert_eq!(white["users"], json!([{"id": "alice"}]));
    api.ok(
        "/ultragroup/notdisturb/set.json",
        "groupId=u1&busChannel=ops&unpushLevel=1",
    )
    .await;
    assert_eq!(
        api.ok(
            "/ultragroup/notdisturb/get.json",
            "groupId=u1&busChannel=ops"
        )
        .await["unpushLevel"],
        1
    );
    // Expansion on an ultra-group message.
    api.ok(
        "/ultragroup/message/expansion/set.json",
        &format!("msgUID={uid}&userId=alice&groupId=u1&busChannel=ops&extraKeyVal=%7B%22k%22%3A%22v%22%7D"),
    )
    .await;
    let expansion = api
        .ok(
            "/ultragroup/message/expansion/query.json",
            &format!("msgUID={uid}&groupId=u1"),
        )
        .await;
    assert_eq!(expansion["extraContent"]["k"]["v"], "v");

    // Removals and changes: each list loses its user, the channel changes type, goes away.
    for (path, body) in [
        (
            "/ultragroup/userbanned/del.json",
            "groupId=u1&userIds=carol",
        ),
        (
            "/ultragroup/banned/whitelist/del.json",
            "groupId=u1&userIds=alice",
        ),
        (
            "/ultragroup/channel/private/users/del.json",
            "groupId=u1&busChannel=ops&userIds=bob",
        ),
    ] {
        api.ok(path, body).await;
    }
    assert_eq!(
        api.ok("/ultragroup/userbanned/get.json", "groupId=u1")
            .await["users"],
        json!([])
    );
    assert_eq!(
        api.ok("/ultragroup/banned/whitelist/get.json", "groupId=u1")
            .await["users"],
        json!([])
    );
    assert_eq!(
        api.ok(
            "/ultragroup/channel/private/users/get.json",
            "groupId=u1&busChannel=ops"
        )
        .await["users"],
        json!(["alice"])
    );
    api.ok(
        "/ultragroup/channel/type/change.json",
        "groupId=u1&busChannel=ops&type=0",
    )
    .await;
    api.ok("/ultragroup/channel/del.json", "groupId=u1&busChannel=c0")
        .await;
    let channels = api
        .ok(
            "/ultragroup/channel/get.json",
            "groupId=u1&page=1&limit=100",
        )
        .await;
    assert_eq!(channels["channelList"].as_array().unwrap().len(), 49);
    assert_eq!(channels["channelList"][0]["type"], 0);
    api.ok(
        "/ultragroup/message/expansion/delete.json",
        &format!("msgUID={uid}&userId=alice&groupId=u1&busChannel=ops&extraKey=%5B%22k%22%5D"),
    )
    .await;
    assert_eq!(
        api.ok(
            "/ultragroup/message/expansion/query.json",
            &format!("msgUID={uid}&groupId=u1"),
        )
        .await["extraContent"],
        json!({})
    );
    api.ok("/ultragroup/refresh.json", "groupId=u1&groupName=Renamed")
        .await;

    api.ok("/ultragroup/quit.json", "userId=carol&groupId=u1")
        .await;
    assert_eq!(
        api.ok("/ultragroup/member/exist.json", "groupId=u1&userId=carol")
            .await["status"],
        false
    );
    api.ok("/ultragroup/dis.json", "groupId=u1").await;
    let (_, gone) = api
        .form("/ultragroup/member/exist.json", "groupId=u1&userId=bob")
        .await;
    assert_ne!(gone["code"], 200);
    dev.stop();
}

// covers: ULG-02, ULG-03, ULG-07, ULG-08
#[tokio::test]
async fn ultra_group_channels_over_sessions_isolate_private_channels_and_show_edits() {
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--sends-per-second", "100"]).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    api.ok(
        "/ultragroup/create.json",
        "userId=alice&groupId=u1&groupName=Ultra",
    )
    .await;
    api.ok(
        "/ultragroup/channel/create.json",
        "groupId=u1&busChannel=ops&type=1",
    )
    .await;
    api.ok(
        "/ultragroup/channel/private/users/add.json",
        "groupId=u1&busChannel=ops&userIds=alice,bob",
    )
    .await;
    let mut alice = connect(&api, &ws, "alice").await;
    let mut bob = connect(&api, &ws, "bob").await;
    let mut carol = connect(&api, &ws, "carol").await;
    // bob and carol join while connected: their sessions learn it from the feed.
    for user in ["bob", "carol"] {
        api.ok(
            "/ultragroup/join.json",
            &format!("userId={user}&groupId=u1"),
        )
        .await;
    }
    alice
        .send(&send("a1", "u1", "ops", "private"))
        .await
        .unwrap();
    alice.send(&send("a2", "u1", "", "lobby")).await.unwrap();
    let bob_got = [next_message(&mut bob).await, next_message(&mut bob).await];
    assert_eq!(
        bob_got
            .iter()
            .map(|m| m.channel_id.as_str())
            .collect::<Vec<_>>(),
        ["ops", ""]
    );
    // carol is not in the private channel: she gets the lobby message only.
    let carol_got = next_message(&mut carol).await;
    assert_eq!(
        (carol_got.channel_id.as_str(), carol_got.content.as_str()),
        ("", "lobby")
    );
    carol
        .send(&send("c1", "u1", "ops", "let me in"))
        .await
        .unwrap();
    loop {
        match carol.next_within(WAIT).await.unwrap() {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, codes::NOT_IN_GROUP);
                break;
            }
            ServerFrame::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }

    // No offline store (ULG-03): carol reconnects to no sync, but sees unread per channel.
    carol.close().await;
    alice
        .send(&send("a3", "u1", "", "while away"))
        .await
        .unwrap();
    next_message(&mut bob).await;
    let mut carol = connect(&api, &ws, "carol").await;
    carol
        .send(&ClientFrame::UltraGroupChannels {
            req_id: 1,
            group_id: "u1".into(),
        })
        .await
        .unwrap();
    let ServerFrame::UltraGroupChannels { channels, .. } = answer(&mut carol, 1).await else {
        panic!("channels")
    };
    let lobby = channels.iter().find(|c| c.channel_id.is_empty()).unwrap();
    assert_eq!(lobby.unread, 2);
    assert_eq!(
        lobby.last_message.as_ref().map(|m| m.content.as_str()),
        Some("while away")
    );
    assert!(
        channels.iter().all(|c| c.channel_id != "ops"),
        "ops is private"
    );
    // Every group of hers at once, each with the same channels.
    carol
        .send(&ClientFrame::UltraGroups { req_id: 9 })
        .await
        .unwrap();
    let ServerFrame::UltraGroupList { groups, .. } = answer(&mut carol, 9).await else {
        panic!("groups")
    };
    let ids: Vec<&str> = groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(ids, ["u1"]);
    assert_eq!(groups[0].channels, channels);

    // Edit (ULG-07): members online see RC:MsgModify.
    alice
        .send(&ClientFrame::EditMessage {
            req_id: 2,
            group_id: "u1".into(),
            msg_uid: bob_got[1].msg_uid.clone(),
            content: "lobby (edited)".into(),
        })
        .await
        .unwrap();
    assert!(matches!(
        answer(&mut alice, 2).await,
        ServerFrame::Done { .. }
    ));
    let edit = next_message(&mut carol).await;
    assert_eq!(edit.object_name, "RC:MsgModify");
    assert!(edit.content.contains("lobby (edited)"));
    dev.stop();
}
