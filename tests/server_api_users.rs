//! Black-box tests of the Server API's `/user/*` paths against `meridian dev`, speaking
//! raw HTTP exactly as COMPAT.md describes what app servers' SDKs send.

mod common;

use common::{assert_error, binary, now_secs, Api};
use meridian_testkit::{raw_http, signed_headers, DevDeployment};
use serde_json::Value;

// covers: API-01, API-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_register_get_tokens_refresh_and_expire_them() {
    let dev = DevDeployment::start(binary(), "SG,NA", 1).await;
    let api = Api::new(&dev, "SG", "prod");

    // Unencoded values (raw spaces, ':' and '/') as one published SDK sends them.
    let token = api
        .ok(
            "/user/getToken.json",
            "userId=ironman&name=Iron Man&portraitUri=http://abc.com/my portrait.jpg",
        )
        .await;
    assert_eq!(token["userId"], "ironman");
    let first = token["token"].as_str().unwrap().to_string();
    assert!(first.len() > 20);
    // A second getToken issues another token.
    let again = api.ok("/user/getToken.json", "userId=ironman").await;
    assert_ne!(again["token"].as_str().unwrap(), first);

    let info = api.ok("/user/info.json", "userId=ironman").await;
    assert_eq!(
        info["userName"], "Iron Man",
        "getToken without a name keeps the one given before"
    );
    assert_eq!(info["userPortrait"], "http://abc.com/my portrait.jpg");
    api.ok(
        "/user/refresh.json",
        "userId=ironman&name=Tony%20Stark&portraitUri=http%3A%2F%2Fa.b%2Fp.png",
    )
    .await;
    let info = api.ok("/user/info.json", "userId=ironman").await;
    assert_eq!(info["userName"], "Tony Stark");
    assert_eq!(info["userPortrait"], "http://a.b/p.png");
    let created = info["createTime"].as_str().unwrap();
    assert_eq!(created.len(), "2024-01-01 00:00:00".len(), "{created}");

    // RC- prefixed headers and a millisecond timestamp are accepted too.
    let ms = (now_secs() * 1000 + 123).to_string();
    let headers: Vec<(String, String)> = signed_headers(&api.key, &api.secret, "123456.789", &ms)
        .into_iter()
        .map(|(name, value)| (format!("RC-{name}"), value))
        .collect();
    let (answer, value) = api
        .send("/user/info.json", headers, b"userId=ironman")
        .await;
    assert_eq!(
        (answer.status, &value["code"]),
        (200, &Value::from(200)),
        "{}",
        answer.text()
    );

    // API-05: refreshing a user never registered registers it with that name.
    api.ok("/user/refresh.json", "userId=nobody&name=x").await;
    assert_eq!(
        api.ok("/user/info.json", "userId=nobody").await["userName"],
        "x"
    );
    let expire = format!("userId=ironman&time={}", now_secs() * 1000);
    api.ok("/user/token/expire.json", &expire).await;
}

// covers: API-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_commercial_error_codes_and_change_nothing() {
    let dev = DevDeployment::start(binary(), "SG,NA", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let url = format!("{}/user/getToken.json", api.base);

    // Wrong signature: 401 / 1004.
    let mut headers = signed_headers(&api.key, "not-the-secret", "1", &now_secs().to_string());
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let answer = raw_http(&url, "POST", &headers, b"userId=mallory").await;
    assert_error(
        &answer,
        &serde_json::from_slice(&answer.body).unwrap(),
        401,
        1004,
    );
    // No signature headers at all: 401 / 1004.
    let answer = raw_http(&url, "POST", &[], b"userId=mallory").await;
    assert_error(
        &answer,
        &serde_json::from_slice(&answer.body).unwrap(),
        401,
        1004,
    );
    // An App Key nobody knows: 401 / 1001.
    let stranger = Api {
        base: api.base.clone(),
        key: "unknownkey01".into(),
        secret: "whatever".into(),
    };
    let (answer, value) = stranger.form("/user/getToken.json", "userId=mallory").await;
    assert_error(&answer, &value, 401, 1001);
    // Nothing was registered by the refused calls.
    let (answer, value) = api.form("/user/info.json", "userId=mallory").await;
    assert_error(&answer, &value, 400, 1002);

    // Unknown path: 404.
    let (answer, value) = api.form("/user/nonexistent.json", "userId=a").await;
    assert_error(&answer, &value, 404, 404);
    // Missing parameter: 1002; empty body: 1003; too long: 1005.
    let (answer, value) = api.form("/user/getToken.json", "name=nobody").await;
    assert_error(&answer, &value, 400, 1002);
    let (answer, value) = api.form("/user/getToken.json", "").await;
    assert_error(&answer, &value, 400, 1003);
    let long_name = format!("userId=longname&name={}", "n".repeat(65));
    let (answer, value) = api.form("/user/getToken.json", &long_name).await;
    assert_error(&answer, &value, 400, 1005);
    let (answer, value) = api.form("/user/info.json", "userId=longname").await;
    assert_error(&answer, &value, 400, 1002);
    // A body over the Server API's 1 MiB limit: 1508.
    let huge = format!("userId=big&name={}", "x".repeat(1024 * 1024));
    let (answer, value) = api.form("/user/getToken.json", &huge).await;
    assert_error(&answer, &value, 400, 1508);
    // An invalid user id: 1002.
    let (answer, value) = api.form("/user/getToken.json", "userId=bad id!").await;
    assert_error(&answer, &value, 400, 1002);
}

// covers: API-03, NAV-05
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_another_area_is_sent_to_its_home_area() {
    let dev = DevDeployment::start(binary(), "SG,NA", 1).await;
    let na_app = Api::new(&dev, "NA", "prod");
    let at_sg = Api {
        base: dev.api("SG"),
        ..na_app
    };
    let (answer, value) = at_sg.form("/user/getToken.json", "userId=traveller").await;
    assert_error(&answer, &value, 421, 1001);
    assert_eq!(value["area"], "NA");
    assert_eq!(value["apiHost"], dev.api("NA"));
    // Nothing of it was written in SG, and its home area serves it.
    let at_home = Api::new(&dev, "NA", "prod");
    let (answer, value) = at_home.form("/user/info.json", "userId=traveller").await;
    assert_error(&answer, &value, 400, 1002);
    at_home.ok("/user/getToken.json", "userId=traveller").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_environment_registers_at_most_100_users() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    for i in 0..100 {
        api.ok("/user/getToken.json", &format!("userId=u{i}")).await;
    }
    let (answer, value) = api.form("/user/getToken.json", "userId=one-too-many").await;
    assert_error(&answer, &value, 403, 2007);
    // Existing users still get tokens; the prod environment has no such cap.
    api.ok("/user/getToken.json", "userId=u7").await;
    Api::new(&dev, "SG", "prod")
        .ok("/user/getToken.json", "userId=one-too-many")
        .await;
}

// covers: MSG-08, PRV-10, PRV-11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_blacklists_whitelists_and_tags() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    for user in ["alice", "bob", "carol"] {
        api.ok("/user/getToken.json", &format!("userId={user}"))
            .await;
    }

    api.ok("/user/block.json", "userId=alice&userId=bob&minute=10")
        .await;
    api.ok("/user/unblock.json", "userId=bob").await;
    let blocked = api.ok("/user/block/query.json", "").await;
    let users = blocked["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userId"], "alice");
    assert!(users[0]["blockEndTime"].as_str().unwrap().len() == 19);
    let (answer, value) = api.form("/user/block.json", "userId=carol&minute=0").await;
    assert_error(&answer, &value, 400, 1002);

    api.ok(
        "/user/blacklist/add.json",
        "userId=alice&blackUserId=bob&blackUserId=carol",
    )
    .await;
    api.ok(
        "/user/blacklist/remove.json",
        "userId=alice&blackUserId=carol",
    )
    .await;
    let black = api.ok("/user/blacklist/query.json", "userId=alice").await;
    assert_eq!(black["users"], serde_json::json!(["bob"]));
    let too_many: String = (0..21).map(|i| format!("&blackUserId=x{i}")).collect();
    let (answer, value) = api
        .form(
            "/user/blacklist/add.json",
            &format!("userId=alice{too_many}"),
        )
        .await;
    assert_error(&answer, &value, 400, 1502);
    let black = api.ok("/user/blacklist/query.json", "userId=alice").await;
    assert_eq!(
        black["users"],
        serde_json::json!(["bob"]),
        "a refused call changed nothing"
    );

    api.ok("/user/whitelist/add.json", "userId=bob&whiteUserId=alice")
        .await;
    let white = api.ok("/user/whitelist/query.json", "userId=bob").await;
    assert_eq!(white["users"], serde_json::json!(["alice"]));
    api.ok(
        "/user/whitelist/remove.json",
        "userId=bob&whiteUserId=alice",
    )
    .await;
    let white = api.ok("/user/whitelist/query.json", "userId=bob").await;
    assert_eq!(white["users"], serde_json::json!([]));

    let (answer, value) = api
        .json(
            "/user/tag/set.json",
            &serde_json::json!({"userId": "alice", "tags": ["vip", "beta"]}),
        )
        .await;
    assert_eq!(
        (answer.status, &value["code"]),
        (200, &Value::from(200)),
        "{}",
        answer.text()
    );
    let (answer, value) = api
        .json(
            "/user/tag/batch/set.json",
            &serde_json::json!({"userIds": ["bob", "carol"], "tags": ["new"]}),
        )
        .await;
    assert_eq!(value["code"], 200, "{}", answer.text());
    // One malformed user id makes the whole batch fail, and nobody's tags change.
    let (answer, value) = api
        .json(
            "/user/tag/batch/set.json",
            &serde_json::json!({"userIds": ["bob", "no body"], "tags": ["changed"]}),
        )
        .await;
    assert_error(&answer, &value, 400, 1002);
    let tags = api
        .ok(
            "/user/tags/get.json",
            "userIds=alice&userIds=bob&userIds=carol",
        )
        .await;
    assert_eq!(tags["result"]["alice"], serde_json::json!(["vip", "beta"]));
    assert_eq!(tags["result"]["bob"], serde_json::json!(["new"]));
    assert_eq!(tags["result"]["carol"], serde_json::json!(["new"]));
    let (answer, value) = api
        .send("/user/tag/set.json", api.headers(), b"{not json")
        .await;
    assert_error(&answer, &value, 400, 1002);
}
