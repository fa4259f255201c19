//! `/friend/*` against `meridian dev`, over raw HTTP: requests by permission, mutual
//! friendships, paging with `pageToken`, remark names and extensions, and their limits.
//! Answers are compared with the commercial documentation's example answers.

mod common;

use common::{assert_error, binary, Api};
use meridian_client::url_encode;
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

fn ids(n: usize) -> String {
    (0..n)
        .map(|i| format!("x{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn refused(api: &Api, path: &str, body: &str, status: u16, code: u64) {
    let (answer, value) = api.form(path, body).await;
    assert_error(&answer, &value, status, code);
}

async fn check(api: &Api, user: &str, targets: &str) -> Value {
    api.ok(
        "/friend/check.json",
        &format!("userId={user}&targetIds={targets}"),
    )
    .await
}

fn friend_ids(page: &Value) -> Vec<&str> {
    page["friendList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["userId"].as_str().unwrap())
        .collect()
}

// covers: API-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_are_requested_approved_paged_described_and_removed() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    for user in ["a", "b", "c", "d"] {
        api.ok(
            "/user/getToken.json",
            &format!("userId={user}&name=name_{user}"),
        )
        .await;
    }

    // Nobody set a permission: each request needs approval (type 2).
    let permissions = api.ok("/friend/permission/get.json", "userIds=a,b").await;
    assert_eq!(
        permissions,
        json!({"code": 200, "permissionSettings": [
            {"userId": "a", "type": 2}, {"userId": "b", "type": 2}]})
    );
    // a asks b: nothing yet; b adding a back approves it, for both.
    api.ok("/friend/add.json", "userId=a&targetId=b&extra=hello")
        .await;
    assert_eq!(check(&api, "a", "b").await["results"][0]["result"], 1);
    api.ok("/friend/add.json", "userId=b&targetId=a&optType=1")
        .await;
    assert_eq!(
        check(&api, "a", "b,c").await,
        json!({"code": 200, "results": [
            {"userId": "b", "result": 4}, {"userId": "c", "result": 1}]})
    );
    // c lets anyone add it; d lets nobody, unless the app server adds directly.
    api.ok("/friend/permission/set.json", "userIds=c&permissionType=1")
        .await;
    api.ok("/friend/permission/set.json", "userIds=d&permissionType=3")
        .await;
    api.ok("/friend/add.json", "userId=a&targetId=c").await;
    refused(&api, "/friend/add.json", "userId=a&targetId=d", 400, 1002).await;
    assert_eq!(check(&api, "a", "d").await["results"][0]["result"], 1);
    api.ok("/friend/add.json", "userId=a&targetId=d&optType=2")
        .await;
    assert_eq!(check(&api, "d", "a").await["results"][0]["result"], 4);

    // /friend/get.json: {code, pageToken, totalCount, friendList: [{userId, name,
    // remarkName, friendExtProfile, time}]}, oldest friendship first.
    let first = api.ok("/friend/get.json", "userId=a&size=2").await;
    let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["code", "friendList", "pageToken", "totalCount"]);
    assert_eq!(first["totalCount"], 3);
    assert_eq!(friend_ids(&first), ["b", "c"]);
    let b = &first["friendList"][0];
    let mut entry: Vec<&String> = b.as_object().unwrap().keys().collect();
    entry.sort();
    assert_eq!(
        entry,
        ["friendExtProfile", "name", "remarkName", "time", "userId"]
    );
    assert_eq!(
        (&b["name"], &b["remarkName"]),
        (&json!("name_b"), &json!(""))
    );
    assert!(b["time"].as_u64().is_some_and(|t| t > 0));
    let token = first["pageToken"].as_str().unwrap();
    assert!(!token.is_empty());
    let rest = api
        .ok(
            "/friend/get.json",
            &format!("userId=a&size=2&pageToken={token}"),
        )
        .await;
    assert_eq!(
        (friend_ids(&rest), &rest["pageToken"]),
        (vec!["d"], &json!(""))
    );
    let newest = api.ok("/friend/get.json", "userId=a&order=1").await;
    assert_eq!(friend_ids(&newest), ["d", "c", "b"]);
    for bad in [
        "userId=a&size=101",
        "userId=a&size=0",
        "userId=a&pageToken=zz",
        "userId=a&order=3",
    ] {
        refused(&api, "/friend/get.json", bad, 400, 1002).await;
    }

    // /friend/profile/set.json: a's remark name and extension for b.
    let ext = |n: usize| {
        let map: serde_json::Map<String, Value> =
            (0..n).map(|i| (format!("ext_k{i}"), json!("v"))).collect();
        url_encode(&Value::from(map).to_string())
    };
    let remark = "r".repeat(64);
    api.ok(
        "/friend/profile/set.json",
        &format!(
            "userId=a&targetId=b&remarkName={remark}&friendExtProfile={}",
            ext(10)
        ),
    )
    .await;
    for (body, code) in [
        (
            format!("userId=a&targetId=b&remarkName={}", "r".repeat(65)),
            1002,
        ),
        (
            format!(
                "userId=a&targetId=b&friendExtProfile={}",
                url_encode(r#"{"ext_k10":"v"}"#)
            ),
            1502,
        ),
        (
            format!(
                "userId=a&targetId=b&friendExtProfile={}",
                url_encode(r#"{"k":"v"}"#)
            ),
            1002,
        ),
        ("userId=a&targetId=stranger&remarkName=x".to_string(), 1002),
    ] {
        refused(&api, "/friend/profile/set.json", &body, 400, code).await;
    }
    let b = &api.ok("/friend/get.json", "userId=a&size=1").await["friendList"][0];
    assert_eq!(b["remarkName"].as_str(), Some(remark.as_str()));
    let stored: Value = serde_json::from_str(b["friendExtProfile"].as_str().unwrap()).unwrap();
    assert_eq!(stored.as_object().unwrap().len(), 10);
    // b keeps its own view of a.
    let of_b = api.ok("/friend/get.json", "userId=b").await;
    assert_eq!(of_b["friendList"][0]["remarkName"], "");

    // Bad input and limits: nothing changes.
    api.ok(
        "/friend/add.json",
        &format!("userId=a&targetId=b&extra={}", "e".repeat(128)),
    )
    .await;
    for (path, body, code) in [
        (
            "/friend/add.json",
            format!("userId=a&targetId=c&extra={}", "e".repeat(129)),
            1005,
        ),
        (
            "/friend/add.json",
            "userId=a&targetId=c&optType=3".to_string(),
            1002,
        ),
        ("/friend/add.json", "userId=a&targetId=a".to_string(), 1002),
        ("/friend/add.json", "userId=a".to_string(), 1002),
        (
            "/friend/check.json",
            format!("userId=a&targetIds={}", ids(101)),
            1502,
        ),
        (
            "/friend/delete.json",
            format!("userId=a&targetIds={}", ids(101)),
            1502,
        ),
        (
            "/friend/permission/get.json",
            format!("userIds={}", ids(101)),
            1502,
        ),
        (
            "/friend/permission/set.json",
            format!("userIds={}&permissionType=1", ids(101)),
            1502,
        ),
        (
            "/friend/permission/set.json",
            "userIds=a&permissionType=4".to_string(),
            1002,
        ),
    ] {
        refused(&api, path, &body, 400, code).await;
    }
    assert_eq!(
        api.ok("/friend/get.json", "userId=a").await["totalCount"],
        3
    );
    api.ok(
        "/friend/delete.json",
        &format!("userId=x&targetIds={}", ids(100)),
    )
    .await;

    // Deleting ends the friendship for both; cleaning ends all of a user's.
    api.ok("/friend/delete.json", "userId=a&targetIds=b").await;
    assert_eq!(check(&api, "b", "a").await["results"][0]["result"], 1);
    api.ok("/friend/clean.json", "userId=a").await;
    let none = api.ok("/friend/get.json", "userId=a").await;
    assert_eq!(
        (&none["totalCount"], &none["friendList"]),
        (&json!(0), &json!([]))
    );
    assert_eq!(check(&api, "c", "a").await["results"][0]["result"], 1);
    refused(&api, "/friend/clean.json", "", 400, 1003).await;

    // Checking 100 users counts as 100 calls against the 100/s budget (the dev
    // environment's key has its own, untouched).
    let fresh = Api::new(&dev, "SG", "dev");
    let many = format!("userId=a&targetIds={}", ids(100));
    fresh.ok("/friend/check.json", &many).await;
    refused(&fresh, "/friend/check.json", &many, 429, 1008).await;
    dev.stop();
}
