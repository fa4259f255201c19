//! Black-box tests of the Server API's group paths against `meridian dev`.

mod common;

use common::{assert_error, binary, Api};
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

fn ids_of(value: &Value, list: &str, field: &str) -> Vec<String> {
    value[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

// covers: GRP-01, GRP-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_created_joined_synced_renamed_quit_and_dismissed() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok(
        "/group/create.json",
        "userId=alice&userId=bob&groupId=g1&groupName=Climbers",
    )
    .await;
    api.ok(
        "/group/join.json",
        "userId=carol&groupId=g1&groupName=Climbers",
    )
    .await;
    api.ok("/group/quit.json", "userId=bob&groupId=g1").await;
    let members = api.ok("/group/user/query.json", "groupId=g1").await;
    assert_eq!(ids_of(&members, "users", "id"), ["alice", "carol"]);

    // group[<id>]=<name>, the way SDKs send group/sync.
    api.ok(
        "/group/sync.json",
        "userId=alice&group[g2]=Runners&group[g3]=Swimmers",
    )
    .await;
    api.ok("/group/refresh.json", "groupId=g2&groupName=Trail Runners")
        .await;
    let groups = api.ok("/user/group/query.json", "userId=alice").await;
    assert_eq!(ids_of(&groups, "groups", "id"), ["g1", "g2", "g3"]);
    assert_eq!(groups["groups"][1]["name"], "Trail Runners");

    api.ok("/group/dismiss.json", "userId=alice&groupId=g3")
        .await;
    let groups = api.ok("/user/group/query.json", "userId=alice").await;
    assert_eq!(ids_of(&groups, "groups", "id"), ["g1", "g2"]);
    // API-05: a dismissed group is as one never created: no members.
    let members = api.ok("/group/user/query.json", "groupId=g3").await;
    assert_eq!(members["users"], json!([]));

    // 3000 members fit; the 3001st is refused with 405 and nothing changes.
    for batch in 0..3 {
        let users: String = (0..1000).map(|i| format!("userId=m{batch}-{i}&")).collect();
        api.ok("/group/join.json", &format!("{users}groupId=big"))
            .await;
    }
    let (answer, value) = api
        .form("/group/join.json", "userId=late&userId=m0-1&groupId=big")
        .await;
    assert_error(&answer, &value, 405, 405);
    let members = api.ok("/group/user/query.json", "groupId=big").await;
    assert_eq!(members["users"].as_array().unwrap().len(), 3000);
    let too_many: String = (0..1001).map(|i| format!("userId=x{i}&")).collect();
    let (answer, value) = api
        .form("/group/join.json", &format!("{too_many}groupId=other"))
        .await;
    assert_error(&answer, &value, 400, 1502);
    let (answer, value) = api
        .form("/group/create.json", "userId=a&groupId=bad id")
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: GRP-06, GRP-07
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_whole_groups_are_muted_and_unmuted() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok(
        "/group/create.json",
        "userId=alice&userId=bob&userId=carol&groupId=g1&groupName=G",
    )
    .await;

    api.ok(
        "/group/user/gag/add.json",
        "groupId=g1&userId=bob&userId=carol&minute=5",
    )
    .await;
    api.ok("/group/user/gag/rollback.json", "groupId=g1&userId=carol")
        .await;
    let gagged = api.ok("/group/user/gag/list.json", "groupId=g1").await;
    assert_eq!(ids_of(&gagged, "users", "userId"), ["bob"]);
    assert_eq!(gagged["users"][0]["time"].as_str().unwrap().len(), 19);
    // API-05: dave is not a member; the gag waits for him to join.
    api.ok(
        "/group/user/gag/add.json",
        "groupId=g1&userId=dave&minute=5",
    )
    .await;
    let gagged = api.ok("/group/user/gag/list.json", "groupId=g1").await;
    assert_eq!(ids_of(&gagged, "users", "userId"), ["bob", "dave"]);
    api.ok("/group/user/gag/rollback.json", "groupId=g1&userId=dave")
        .await;
    let (answer, value) = api
        .form(
            "/group/user/gag/add.json",
            "groupId=g1&userId=bob&minute=43201",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);

    api.ok("/group/ban/add.json", "groupId=g1").await;
    let banned = api.ok("/group/ban/query.json", "").await;
    assert_eq!(banned["groupinfo"], json!([{"groupId": "g1", "stat": 1}]));
    // Named groups answer each one's state; a page (size 1–200) ignores the names.
    api.ok("/group/ban/add.json", "groupId=g2").await;
    let named = api
        .ok("/group/ban/query.json", "groupId=g1&groupId=g9")
        .await;
    assert_eq!(
        named["groupinfo"],
        json!([{"groupId": "g1", "stat": 1}, {"groupId": "g9", "stat": 0}])
    );
    let second = api
        .ok("/group/ban/query.json", "groupId=g9&size=1&page=2")
        .await;
    assert_eq!(second["groupinfo"], json!([{"groupId": "g2", "stat": 1}]));
    let too_many = (0..21).map(|i| format!("groupId=x{i}")).collect::<Vec<_>>();
    for (bad, code) in [
        ("size=201".to_string(), 1002),
        ("size=0".to_string(), 1002),
        (too_many.join("&"), 1502),
    ] {
        let (answer, value) = api.form("/group/ban/query.json", &bad).await;
        assert_error(&answer, &value, 400, code);
    }
    api.ok("/group/ban/rollback.json", "groupId=g2").await;
    api.ok(
        "/group/user/ban/whitelist/add.json",
        "groupId=g1&userId=alice",
    )
    .await;
    let white = api
        .ok("/group/user/ban/whitelist/query.json", "groupId=g1")
        .await;
    assert_eq!(white["userIds"], json!(["alice"]));
    api.ok(
        "/group/user/ban/whitelist/rollback.json",
        "groupId=g1&userId=alice",
    )
    .await;
    api.ok("/group/ban/rollback.json", "groupId=g1").await;
    let banned = api.ok("/group/ban/query.json", "").await;
    assert_eq!(banned["groupinfo"], json!([]));
    let white = api
        .ok("/group/user/ban/whitelist/query.json", "groupId=g1")
        .await;
    assert_eq!(white["userIds"], json!([]));
}

// covers: GRP-02, GRP-08, GRP-10
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_are_stored_once_and_directed_ones_reach_only_their_members() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok(
        "/group/create.json",
        "userId=alice&userId=bob&userId=carol&groupId=g1&groupName=G",
    )
    .await;
    api.ok("/group/create.json", "userId=alice&groupId=g2&groupName=H")
        .await;

    let sent = api
        .ok(
            "/message/group/publish.json",
            r#"fromUserId=alice&toGroupId=g1&toGroupId=g2&objectName=RC:TxtMsg&content={"content":"hi all"}"#,
        )
        .await;
    assert_eq!(ids_of(&sent, "messageUIDs", "groupId"), ["g1", "g2"]);
    api.ok(
        "/message/group/publish.json",
        r#"fromUserId=alice&toGroupId=g1&toUserId=bob&objectName=RC:TxtMsg&content={"content":"just bob"}"#,
    )
    .await;

    let query = |viewer: Option<&str>| {
        let mut body = json!({"groupId": "g1", "order": "asc"});
        if let Some(viewer) = viewer {
            body["userId"] = json!(viewer);
        }
        body
    };
    let contents = |value: &Value| -> Vec<String> {
        value["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, bob) = api
        .json("/v3/message/group/query.json", &query(Some("bob")))
        .await;
    assert_eq!(
        contents(&bob),
        [r#"{"content":"hi all"}"#, r#"{"content":"just bob"}"#]
    );
    assert_eq!(bob["data"][0]["targetId"], "g1");
    let (_, carol) = api
        .json("/v3/message/group/query.json", &query(Some("carol")))
        .await;
    assert_eq!(contents(&carol), [r#"{"content":"hi all"}"#]);
    let (_, everyone) = api.json("/v3/message/group/query.json", &query(None)).await;
    assert_eq!(contents(&everyone).len(), 2);

    // API-05: a group with no members accepts the message; nobody is there to get it.
    api.ok(
        "/message/group/publish.json",
        r#"fromUserId=alice&toGroupId=nope&objectName=RC:TxtMsg&content={}"#,
    )
    .await;
    let (answer, value) = api
        .form(
            "/message/group/publish.json",
            r#"fromUserId=alice&toGroupId=a&toGroupId=b&toGroupId=c&toGroupId=d&objectName=RC:TxtMsg&content={}"#,
        )
        .await;
    assert_error(&answer, &value, 400, 1502);

    // isMentioned 1: the content says whom it mentions, and a directed message mentions
    // only whom it is directed to.
    let mention = |extra: &str, info: &str| {
        format!(
            r#"fromUserId=alice&toGroupId=g1&objectName=RC:TxtMsg&{extra}&content={{"content":"@","mentionedInfo":{info}}}"#
        )
    };
    let everyone = r#"{"type":1}"#;
    let bob = r#"{"type":2,"userIdList":["bob"]}"#;
    let carol = r#"{"type":2,"userIdList":["carol"]}"#;
    for bad in [
        mention("isMentioned=1", "null"),
        mention("isMentioned=1", r#"{"type":2,"userIdList":[]}"#),
        mention("isMentioned=1&toUserId=bob", carol),
        mention("isMentioned=yes", everyone),
    ] {
        let (answer, value) = api.form("/message/group/publish.json", &bad).await;
        assert_error(&answer, &value, 400, 1002);
    }
    for good in [
        mention("isMentioned=1", everyone),
        mention("isMentioned=1&toUserId=bob", bob),
    ] {
        api.ok("/message/group/publish.json", &good).await;
    }
}
