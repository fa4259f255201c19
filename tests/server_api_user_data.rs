//! The tier-2 `/user/*` paths against `meridian dev`, over raw HTTP: paging through users,
//! hosted profiles, push remarks, private-chat bans, quiet hours and deleting users. The
//! answers are compared with the commercial documentation's example answers, key by key.

mod common;

use std::time::Duration;

use common::{assert_error, binary, connect, put_settings, register_push, synced, Api};
use meridian_client::{url_encode, ConnectOptions, Connection};
use meridian_proto::{codes, ClientFrame, ServerFrame};
use meridian_push::fake::FakeWebhook;
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

/// The keys of a JSON object, sorted: compared with the documented example's.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("{value} is not an object"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A JSON-text field of an answer, parsed.
fn parsed(text: &Value) -> Value {
    serde_json::from_str(text.as_str().expect("JSON text")).expect("valid JSON")
}

impl Api {
    /// Asserts the call is refused with HTTP `status` and `code`.
    async fn refused(&self, path: &str, body: &str, status: u16, code: u64) {
        let (answer, value) = self.form(path, body).await;
        assert_error(&answer, &value, status, code);
    }
}

fn many(prefix: &str, key: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{key}={prefix}{i}"))
        .collect::<Vec<_>>()
        .join("&")
}

// covers: API-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_profiles_and_remarks_are_kept_paged_and_validated() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    for user in ["u1", "u2", "u3"] {
        api.ok(
            "/user/getToken.json",
            &format!("userId={user}&name=name_{user}&portraitUri=http://abc.com/{user}.jpg"),
        )
        .await;
    }

    // /user/query.json: the documented answer {code, total, users: [{regTime, userPortrait,
    // userName, userId}]}, registration order, paged.
    let first = api
        .ok("/user/query.json", "pageSize=2&page=1&order=0")
        .await;
    assert_eq!(keys(&first), ["code", "total", "users"]);
    assert_eq!(first["total"], 3);
    let user = &first["users"][0];
    assert_eq!(
        keys(user),
        ["regTime", "userId", "userName", "userPortrait"]
    );
    assert_eq!(
        (&user["userId"], &user["userName"], &user["userPortrait"]),
        (
            &json!("u1"),
            &json!("name_u1"),
            &json!("http://abc.com/u1.jpg")
        )
    );
    assert_eq!(
        user["regTime"].as_str().unwrap().len(),
        "2018-08-31 14:39:15".len()
    );
    let ids = |page: &Value| -> Vec<String> {
        page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first), ["u1", "u2"]);
    assert_eq!(
        ids(&api.ok("/user/query.json", "pageSize=2&page=2").await),
        ["u3"]
    );
    assert_eq!(
        ids(&api.ok("/user/query.json", "order=1").await),
        ["u3", "u2", "u1"]
    );
    assert_eq!(
        ids(&api.ok("/user/query.json", "pageSize=100").await).len(),
        3
    );
    for bad in ["pageSize=101", "pageSize=0", "order=2", "page=x"] {
        api.refused("/user/query.json", bad, 400, 1002).await;
    }
    // Page 0, which typed SDKs send unset, is the first page, as on every paged path.
    assert_eq!(
        api.ok("/user/query.json", "page=0&pageSize=1").await,
        api.ok("/user/query.json", "page=1&pageSize=1").await
    );

    // /user/profile/set.json and batch/query.json: {code, userList: [{userId, version,
    // userProfile, userExtProfile}]}, the profiles as JSON text; undocumented keys dropped.
    let set = |user: &str, profile: &str, ext: &str| {
        format!(
            "userId={user}&userProfile={}&userExtProfile={}",
            url_encode(profile),
            url_encode(ext)
        )
    };
    let nick = r#"{"name":"Nick","gender":1,"level":100,"AppName":"x"}"#;
    api.ok(
        "/user/profile/set.json",
        &set("u1", nick, r#"{"ext_Profile":"testpro1"}"#),
    )
    .await;
    let batch = api
        .ok("/user/profile/batch/query.json", "userId=u1&userId=nobody")
        .await;
    assert_eq!(keys(&batch), ["code", "userList"]);
    assert_eq!(batch["userList"].as_array().unwrap().len(), 1, "{batch}");
    let entry = &batch["userList"][0];
    assert_eq!(
        keys(entry),
        ["userExtProfile", "userId", "userProfile", "version"]
    );
    assert_eq!(entry["userId"], "u1");
    assert!(entry["version"].as_u64().is_some_and(|v| v > 0));
    assert_eq!(
        parsed(&entry["userProfile"]),
        json!({"name": "Nick", "gender": 1, "level": 100})
    );
    assert_eq!(
        parsed(&entry["userExtProfile"]),
        json!({"ext_Profile": "testpro1"})
    );

    // Limits at their edges; a refused set changes nothing.
    let name = |n: usize| format!(r#"{{"name":"{}"}}"#, "n".repeat(n));
    api.ok("/user/profile/set.json", &set("u2", &name(64), "{}"))
        .await;
    let ext20: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("ext_k{i}"), json!("v"))).collect();
    api.ok(
        "/user/profile/set.json",
        &set("u2", "{}", &Value::from(ext20).to_string()),
    )
    .await;
    let value256 = json!({ "ext_k0": "v".repeat(256) }).to_string();
    api.ok("/user/profile/set.json", &set("u2", "{}", &value256))
        .await;
    let refusals = [
        (set("u1", &name(65), "{}"), 1002),
        (set("u1", r#"{"gender":3}"#, "{}"), 1002),
        (set("u1", r#"{"level":101}"#, "{}"), 1002),
        (set("u1", r#"{"name":7}"#, "{}"), 1002),
        (set("u1", "not json", "{}"), 1002),
        (set("u1", "{}", r#"{"Profile":"no prefix"}"#), 1002),
        (
            set("u1", "{}", &json!({ "ext_k": "v".repeat(257) }).to_string()),
            1002,
        ),
        (set("u2", "{}", r#"{"ext_k20":"one too many"}"#), 1502),
    ];
    for (body, code) in &refusals {
        api.refused("/user/profile/set.json", body, 400, *code)
            .await;
    }
    let after = api
        .ok("/user/profile/batch/query.json", "userId=u1&userId=u2")
        .await;
    assert_eq!(
        parsed(&after["userList"][0]["userProfile"]),
        parsed(&entry["userProfile"])
    );
    assert_eq!(
        parsed(&after["userList"][1]["userExtProfile"])
            .as_object()
            .unwrap()
            .len(),
        20
    );
    // The published Go SDK joins ids with commas.
    let joined = api
        .ok("/user/profile/batch/query.json", "userId=u1,u2")
        .await;
    assert_eq!(joined, after);
    api.ok("/user/profile/batch/query.json", &many("x", "userId", 100))
        .await;
    api.refused(
        "/user/profile/batch/query.json",
        &many("x", "userId", 101),
        400,
        1502,
    )
    .await;

    // /user/profile/query.json pages through them: {code, userList: [{userId,
    // userProfile, userExtProfile}]}; the docs' example names the size `count`.
    let page = api
        .ok("/user/profile/query.json", "page=1&count=1&order=1")
        .await;
    assert_eq!(keys(&page), ["code", "userList"]);
    // `version` too, which the Go SDK reads.
    assert_eq!(
        keys(&page["userList"][0]),
        ["userExtProfile", "userId", "userProfile", "version"]
    );
    assert_eq!(page["userList"][0]["userId"], "u2");
    let all = api.ok("/user/profile/query.json", "").await;
    assert_eq!(all["userList"].as_array().unwrap().len(), 2);
    api.refused("/user/profile/query.json", "size=101", 400, 1002)
        .await;

    // /user/profile/clean.json: at most 20 users a call.
    api.refused(
        "/user/profile/clean.json",
        &many("x", "userId", 21),
        400,
        1502,
    )
    .await;
    api.ok(
        "/user/profile/clean.json",
        &format!("userId=u1&{}", many("x", "userId", 19)),
    )
    .await;
    let cleaned = api.ok("/user/profile/batch/query.json", "userId=u1").await;
    assert_eq!(cleaned["userList"], json!([]));

    // /user/remarks/*: {code, total, users: [{id, remark}]}, 50 a page.
    let remarks = json!([{"id": "u2", "remark": "Two"}, {"id": "u3", "remark": "Three"}]);
    let body = format!("userId=u1&remarks={}", url_encode(&remarks.to_string()));
    api.ok("/user/remarks/set.json", &body).await;
    let got = api.ok("/user/remarks/get.json", "userId=u1").await;
    assert_eq!(
        got,
        json!({"code": 200, "total": 2, "users": [
            {"id": "u2", "remark": "Two"}, {"id": "u3", "remark": "Three"}]})
    );
    let second = api
        .ok("/user/remarks/get.json", "userId=u1&page=2&size=1")
        .await;
    assert_eq!(second["users"], json!([{"id": "u3", "remark": "Three"}]));
    assert_eq!(second["total"], 2);
    api.refused("/user/remarks/get.json", "userId=u1&size=51", 400, 1002)
        .await;
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("t{i}"), "remark": "r"}))
        .collect();
    let over = [hundred.clone(), vec![json!({"id": "t100", "remark": "r"})]].concat();
    let long = json!([{"id": "u3", "remark": "r".repeat(65)}]);
    for (remarks, code) in [(json!(over), 1502), (long, 1002), (json!("nope"), 1002)] {
        let body = format!("userId=u1&remarks={}", url_encode(&remarks.to_string()));
        api.refused("/user/remarks/set.json", &body, 400, code)
            .await;
    }
    assert_eq!(api.ok("/user/remarks/get.json", "userId=u1").await, got);
    let body = format!(
        "userId=u9&remarks={}",
        url_encode(&json!(hundred).to_string())
    );
    api.ok("/user/remarks/set.json", &body).await;
    assert_eq!(
        api.ok("/user/remarks/get.json", "userId=u9").await["total"],
        100
    );
    api.ok("/user/remarks/del.json", "userId=u1&targetId=u2")
        .await;
    let left = api.ok("/user/remarks/get.json", "userId=u1").await;
    assert_eq!(left["users"], json!([{"id": "u3", "remark": "Three"}]));
    api.refused("/user/remarks/del.json", "userId=u1", 400, 1002)
        .await;
    dev.stop();
}

fn send(client_id: &str, target: &str) -> ClientFrame {
    common::text(client_id, 1, target, r#"{"content":"hi"}"#)
}

/// The frame answering a send: `Ok(())` for an ack, else the error's code.
async fn send_outcome(
    connection: &mut Connection,
    client_id: &str,
    target: &str,
) -> Result<(), u32> {
    connection.send(&send(client_id, target)).await.unwrap();
    match connection.next_within(WAIT).await.expect("an answer") {
        ServerFrame::Ack { .. } => Ok(()),
        ServerFrame::Error { code, .. } => Err(code),
        other => panic!("expected the answer to {client_id}, got {other:?}"),
    }
}

/// A private message through the Server API; the sender's own devices get a copy too.
async fn say(api: &Api, from: &str, to: &str, content: Value) {
    let body = format!(
        "fromUserId={from}&toUserId={to}&objectName=RC:TxtMsg&content={}&isIncludeSender=1",
        url_encode(&content.to_string())
    );
    api.ok("/message/private/publish.json", &body).await;
}

/// `HH:MM:SS` (UTC) `minutes_ago` minutes before now.
fn clock_minutes_ago(minutes_ago: u64) -> String {
    let secs = (common::now_secs() + 86_400 - minutes_ago * 60) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

// covers: API-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_bans_quiet_hours_and_deleting_users_act() {
    let webhook = FakeWebhook::start().await;
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let settings = json!({"push": {"webhookUrl": format!("{}/push", webhook.endpoint())}});
    assert_eq!(put_settings(&dev, &api.key, settings).await, 200);

    // /user/chat/fb/*: a forbidden user's client private sends are refused with 20106;
    // the Server API still sends for it (as commercially); lifting the ban lets it send.
    api.token("peer").await;
    let mut talker = connect(&ws, &api, "talker", "talker-phone", "iOS", None).await;
    synced(&mut talker).await;
    api.ok(
        "/user/chat/fb/set.json",
        "userId=talker&state=1&type=PERSON",
    )
    .await;
    assert_eq!(
        send_outcome(&mut talker, "c1", "peer").await,
        Err(codes::FORBIDDEN_IN_PRIVATE)
    );
    say(&api, "talker", "peer", json!({"content": "via the API"})).await;
    match talker.next_within(WAIT).await.expect("the sender's copy") {
        ServerFrame::Message(body) => assert_eq!(body.content, r#"{"content":"via the API"}"#),
        other => panic!("expected the copy of the API's message, got {other:?}"),
    }
    let list = api
        .ok(
            "/user/chat/fb/querylist.json",
            "num=10&offset=0&type=PERSON",
        )
        .await;
    assert_eq!(list, json!({"code": 200, "total": 1, "users": ["talker"]}));
    for bad in [
        "userId=talker&state=1&type=GROUP",
        "userId=talker&state=2&type=PERSON",
        "userId=talker&state=1",
    ] {
        api.refused("/user/chat/fb/set.json", bad, 400, 1002).await;
    }
    let at_most = |n| format!("{}&state=1&type=PERSON", many("b", "userId", n));
    api.refused("/user/chat/fb/set.json", &at_most(1001), 400, 1502)
        .await;
    api.ok("/user/chat/fb/set.json", &at_most(1000)).await;
    let page = api
        .ok(
            "/user/chat/fb/querylist.json",
            "num=200&offset=1000&type=PERSON",
        )
        .await;
    assert_eq!(
        (&page["total"], &page["users"]),
        (&json!(1001), &json!(["talker"]))
    );
    api.refused(
        "/user/chat/fb/querylist.json",
        "num=201&type=PERSON",
        400,
        1002,
    )
    .await;
    api.refused("/user/chat/fb/querylist.json", "num=10", 400, 1002)
        .await;
    api.ok(
        "/user/chat/fb/set.json",
        "userId=talker&state=0&type=PERSON",
    )
    .await;
    assert_eq!(send_outcome(&mut talker, "c2", "peer").await, Ok(()));
    talker.close().await;

    // /user/blockPushPeriod/*: within the window, level 5 holds every push back, level 1
    // all but mentions; the remark the sleeper gave the sender titles its pushes.
    register_push(&ws, &api, "sleeper", ("webhook", "hook-sleeper", "web")).await;
    let start = clock_minutes_ago(1);
    let quiet = |level: u8| format!("userId=sleeper&startTime={start}&period=10&level={level}");
    api.ok("/user/blockPushPeriod/set.json", &quiet(5)).await;
    let got = api
        .ok("/user/blockPushPeriod/get.json", "userId=sleeper")
        .await;
    assert_eq!(
        got,
        // `level` too: the Java SDK reads it under that name.
        json!({"code": 200, "data": {"startTime": start, "period": 10, "unPushLevel": 5, "level": 5}})
    );
    for bad in [
        "userId=sleeper&startTime=24:00:00&period=10&level=5".to_string(),
        "userId=sleeper&startTime=7:00:00&period=10&level=5".to_string(),
        format!("userId=sleeper&startTime={start}&period=1440&level=5"),
        format!("userId=sleeper&startTime={start}&period=10&level=2"),
        "userId=sleeper&period=10&level=5".to_string(),
    ] {
        api.refused("/user/blockPushPeriod/set.json", &bad, 400, 1002)
            .await;
    }
    assert_eq!(
        api.ok("/user/blockPushPeriod/get.json", "userId=sleeper")
            .await,
        got
    );
    let remark = url_encode(r#"[{"id":"boss","remark":"The Boss"}]"#);
    api.ok(
        "/user/remarks/set.json",
        &format!("userId=sleeper&remarks={remark}"),
    )
    .await;

    say(
        &api,
        "boss",
        "sleeper",
        json!({"content": "held back (level 5)"}),
    )
    .await;
    api.ok("/user/blockPushPeriod/set.json", &quiet(1)).await;
    let mention =
        json!({"content": "mention", "mentionedInfo": {"type": 2, "userIdList": ["sleeper"]}});
    say(&api, "boss", "sleeper", mention).await;
    say(
        &api,
        "boss",
        "sleeper",
        json!({"content": "held back (level 1)"}),
    )
    .await;
    api.ok("/user/blockPushPeriod/delete.json", "userId=sleeper")
        .await;
    let unset = api
        .ok("/user/blockPushPeriod/get.json", "userId=sleeper")
        .await;
    assert_eq!(unset["data"]["period"], 0);
    say(&api, "boss", "sleeper", json!({"content": "after"})).await;
    // One device, one lane: pushes leave in order, so a push that was not held back would
    // be among the first two.
    let pushed = webhook.wait_for(2, WAIT).await.expect("two pushes");
    let seen: Vec<(&str, &str)> = pushed
        .iter()
        .map(|p| (p.title.as_str(), p.body.as_str()))
        .collect();
    assert_eq!(seen, [("The Boss", "mention"), ("The Boss", "after")]);

    // /user/delusers.json: the user's session ends, its token stops working and what the
    // user paths keep about it is gone.
    let gone_token = api.token("gone").await;
    api.ok("/user/chat/fb/set.json", "userId=gone&state=1&type=PERSON")
        .await;
    api.ok(
        "/user/profile/set.json",
        "userId=gone&userProfile={\"name\":\"G\"}",
    )
    .await;
    api.ok(
        "/user/remarks/set.json",
        &format!("userId=gone&remarks={remark}"),
    )
    .await;
    api.ok(
        "/user/blockPushPeriod/set.json",
        "userId=gone&startTime=00:00:00&period=5&level=5",
    )
    .await;
    let mut gone = connect(&ws, &api, "gone", "gone-phone", "iOS", None).await;
    synced(&mut gone).await;
    api.refused("/user/delusers.json", &many("x", "userId", 101), 400, 1502)
        .await;
    api.ok(
        "/user/delusers.json",
        &format!("userId=gone&{}", many("x", "userId", 99)),
    )
    .await;
    match gone.next_within(WAIT).await.expect("the session ends") {
        ServerFrame::Kicked { code, .. } => assert_eq!(code, codes::USER_BLOCKED),
        other => panic!("expected the session to end, got {other:?}"),
    }
    let options = ConnectOptions {
        url: ws.clone(),
        app_key: api.key.clone(),
        token: gone_token,
        device_id: "gone-phone".into(),
        platform: "iOS".into(),
        cursor: None,
        tls: None,
    };
    let mut again = Connection::connect(&options).await.unwrap();
    match again.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::TOKEN_INCORRECT),
        other => panic!("a deleted user's token must not connect: {other:?}"),
    }
    api.refused("/user/info.json", "userId=gone", 400, 1002)
        .await;
    let profile = api
        .ok("/user/profile/batch/query.json", "userId=gone")
        .await;
    assert_eq!(profile["userList"], json!([]));
    assert_eq!(
        api.ok("/user/remarks/get.json", "userId=gone").await["total"],
        0
    );
    // b0..b999 stay banned; "gone" sorted after them.
    let banned = api
        .ok(
            "/user/chat/fb/querylist.json",
            "num=200&offset=1000&type=PERSON",
        )
        .await;
    assert_eq!(
        (&banned["total"], &banned["users"]),
        (&json!(1000), &json!([]))
    );
    let quiet = api
        .ok("/user/blockPushPeriod/get.json", "userId=gone")
        .await;
    assert_eq!(quiet["data"]["period"], 0);
    dev.stop();
}
