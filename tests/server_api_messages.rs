//! Black-box tests of the Server API's message paths against `meridian dev`, speaking raw
//! HTTP as app servers' SDKs do.

mod common;

use common::{assert_error, binary, Api};
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

fn uids(answer: &Value) -> Vec<(String, String)> {
    answer["messageUIDs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userId"].as_str().unwrap().to_string(),
                u["messageUID"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn history(api: &Api, user: &str, target: &str, extra: Value) -> Vec<Value> {
    let mut body = json!({ "userId": user, "targetId": target });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (answer, value) = api.json("/v3/message/private/query.json", &body).await;
    assert_eq!(value["code"], 200, "{}", answer.text());
    value["data"].as_array().unwrap().clone()
}

// covers: PRV-01, PRV-04, PRV-12, MSG-05, MSG-07, SYS-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_system_messages_are_stored_once_per_conversation_and_paged() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");

    // Unencoded JSON content, as one published SDK sends it.
    let sent = api
        .ok(
            "/message/private/publish.json",
            r#"fromUserId=alice&toUserId=bob&toUserId=carol&objectName=RC:TxtMsg&content={"content":"hello there: a/b"}"#,
        )
        .await;
    let first = uids(&sent);
    assert_eq!(
        first.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["bob", "carol"]
    );
    assert_ne!(first[0].1, first[1].1, "every message has its own msgUID");
    api.ok(
        "/message/private/publish.json",
        "fromUserId=bob&toUserId=alice&objectName=RC%3ATxtMsg&content=%7B%22content%22%3A%22reply%22%7D",
    )
    .await;
    // A custom type passes through untouched; a status message is never stored.
    api.ok(
        "/message/private/publish.json",
        r#"fromUserId=alice&toUserId=bob&objectName=App:Card&content={"card":{"id":7}}"#,
    )
    .await;
    let typing = api
        .ok(
            "/message/private/publish.json",
            r#"fromUserId=alice&toUserId=bob&objectName=RC:TypSts&content={}"#,
        )
        .await;
    assert_eq!(uids(&typing).len(), 1);

    // Both sides see the same conversation, each with the other as target.
    let from_bob = history(&api, "bob", "alice", json!({"order": "asc"})).await;
    let contents: Vec<&str> = from_bob
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [
            r#"{"content":"hello there: a/b"}"#,
            r#"{"content":"reply"}"#,
            r#"{"card":{"id":7}}"#
        ]
    );
    assert_eq!(from_bob[0]["targetId"], "alice");
    assert_eq!(from_bob[0]["msgUID"], first[0].1.as_str());
    let seqs: Vec<u64> = from_bob
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    let from_alice = history(&api, "alice", "bob", json!({"pageSize": 1})).await;
    assert_eq!(from_alice.len(), 1);
    assert_eq!(
        from_alice[0]["objectName"], "App:Card",
        "newest first by default"
    );
    assert_eq!(from_alice[0]["targetId"], "bob");
    let none = history(&api, "alice", "bob", json!({"endTime": 1})).await;
    assert!(none.is_empty());

    let system = api
        .ok(
            "/message/system/publish.json",
            r#"fromUserId=__system__&toUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content={"content":"maintenance"}"#,
        )
        .await;
    assert_eq!(uids(&system).len(), 2);

    // Limits: content at 128 KiB passes, one byte more is refused and stores nothing.
    let pad = |n: usize| {
        format!(
            r#"{{"content":"{}"}}"#,
            "x".repeat(n - r#"{"content":""}"#.len())
        )
    };
    let at_limit = format!(
        "fromUserId=alice&toUserId=dave&objectName=RC:TxtMsg&content={}",
        pad(128 * 1024)
    );
    api.ok("/message/private/publish.json", &at_limit).await;
    let over = format!(
        "fromUserId=alice&toUserId=erin&objectName=RC:TxtMsg&content={}",
        pad(128 * 1024 + 1)
    );
    let (answer, value) = api.form("/message/private/publish.json", &over).await;
    assert_error(&answer, &value, 400, 1005);
    assert!(history(&api, "alice", "erin", json!({})).await.is_empty());
    let (answer, value) = api
        .form(
            "/message/private/publish.json",
            "fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content=not json",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let too_many: String = (0..1001).map(|i| format!("&toUserId=u{i}")).collect();
    let (answer, value) = api
        .form(
            "/message/private/publish.json",
            &format!(r#"fromUserId=alice{too_many}&objectName=RC:TxtMsg&content={{}}"#),
        )
        .await;
    assert_error(&answer, &value, 400, 1502);
    let (answer, value) = api
        .json(
            "/v3/message/private/query.json",
            &json!({"userId": "alice"}),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let (answer, value) = api
        .json(
            "/v3/message/private/query.json",
            &json!({"userId": "alice", "targetId": "bob", "pageSize": 101}),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: PRV-10
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blacklisted_sender_reaches_nobody_when_verification_is_asked() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok("/user/blacklist/add.json", "userId=bob&blackUserId=alice")
        .await;
    let sent = api
        .ok(
            "/message/private/publish.json",
            r#"fromUserId=alice&toUserId=bob&toUserId=carol&objectName=RC:TxtMsg&content={}&verifyBlacklist=1"#,
        )
        .await;
    assert_eq!(
        uids(&sent)
            .iter()
            .map(|(u, _)| u.as_str())
            .collect::<Vec<_>>(),
        ["carol"]
    );
    assert!(history(&api, "bob", "alice", json!({})).await.is_empty());
    assert_eq!(history(&api, "carol", "alice", json!({})).await.len(), 1);
}

// covers: PRV-08
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_recalls_a_message_and_both_sides_see_it() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let sent = api
        .ok(
            "/message/private/publish.json",
            r#"fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content={"content":"oops"}"#,
        )
        .await;
    let uid = uids(&sent)[0].1.clone();
    let recall = |from: &str, target: &str| {
        format!("fromUserId={from}&conversationType=1&targetId={target}&messageUID={uid}&sentTime=0&isDelete=1")
    };
    let (answer, value) = api
        .form("/message/recall.json", &recall("bob", "alice"))
        .await;
    assert_error(&answer, &value, 400, 1002);
    api.ok("/message/recall.json", &recall("alice", "bob"))
        .await;
    let seen = history(&api, "bob", "alice", json!({"order": "asc"})).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["recalled"], true);
    assert_eq!(seen[0]["content"], "");
    assert_eq!(seen[1]["objectName"], "RC:RcCmd");
    assert!(seen[1]["content"].as_str().unwrap().contains(&uid));
    let (answer, value) = api
        .form(
            "/message/recall.json",
            "fromUserId=alice&conversationType=2&targetId=bob&messageUID=X",
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: MSG-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_to_n_users_spend_n_of_the_6000_per_minute_budget() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let to: String = (0..1000).map(|i| format!("&toUserId=u{i}")).collect();
    let body = format!(r#"fromUserId=alice{to}&objectName=RC:TxtMsg&content={{}}"#);
    for _ in 0..6 {
        let sent = api.ok("/message/private/publish.json", &body).await;
        assert_eq!(uids(&sent).len(), 1000);
    }
    // The budget refills at 100/s: the 7th thousand, moments later, is refused whole.
    let to_others: String = (0..1000).map(|i| format!("&toUserId=v{i}")).collect();
    let refused = format!(r#"fromUserId=alice{to_others}&objectName=RC:TxtMsg&content={{}}"#);
    let (answer, value) = api.form("/message/private/publish.json", &refused).await;
    assert_error(&answer, &value, 429, 1008);
    for i in [0, 500, 999] {
        assert!(history(&api, &format!("v{i}"), "alice", json!({}))
            .await
            .is_empty());
    }
    // Other endpoints keep their own budget.
    api.ok("/user/getToken.json", "userId=alice").await;
}

// covers: SYS-02, SYS-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_everyone_at_most_twice_an_hour() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let body = r#"fromUserId=admin&objectName=RC:TxtMsg&content={"content":"news"}"#;
    let first = api.ok("/message/broadcast.json", body).await;
    let stored = first["id"].as_str().unwrap().to_string();
    api.ok("/message/broadcast.json", body).await;
    let (answer, value) = api.form("/message/broadcast.json", body).await;
    assert_error(&answer, &value, 429, 1008);
    // A stored broadcast is a message (it can carry expansion); an online-only one is not.
    api.ok("/message/expansion/query.json", &format!("msgUID={stored}"))
        .await;
    let online = api.ok("/message/online/broadcast.json", body).await;
    let (answer, value) = api
        .form(
            "/message/expansion/query.json",
            &format!("msgUID={}", online["id"].as_str().unwrap()),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
}
