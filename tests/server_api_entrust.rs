//! `/entrust/*` (hosted group information) against `meridian dev`, over raw HTTP: groups
//! with owners, managers and members over the groups of `/group/*`, profiles, nicknames,
//! follows and remark names, paging with `pageToken`, and the documented limits. Answers
//! are compared key by key with the commercial documentation's examples.

mod common;

use common::{assert_error, binary, Api};
use meridian_client::url_encode;
use meridian_testkit::DevDeployment;
use serde_json::{json, Value};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn ids(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn user_ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_string())
        .collect()
}

fn enc(value: Value) -> String {
    url_encode(&value.to_string())
}

async fn refused(api: &Api, path: &str, body: &str, status: u16, code: u64) {
    let (answer, value) = api.form(path, body).await;
    assert_error(&answer, &value, status, code);
}

// covers: API-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_groups_keep_owners_managers_members_and_their_information() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");

    // create: the owner and the invited (≤ 30) become members of the group of /group/*.
    let profile = json!({"introduction": "i".repeat(512), "portraitUrl": "http://p/g.png"});
    let create = format!(
        "groupId=g1&name={}&owner=own&userIds=m1,m2,m3&groupProfile={}&permissions={}&groupExtProfile={}",
        "n".repeat(64),
        enc(profile),
        enc(json!({"joinPerm": 3, "memProfilePerm": 2})),
        enc(json!({"ext_a": "1"})),
    );
    api.ok("/entrust/group/create.json", &create).await;
    let plain = api.ok("/group/user/query.json", "groupId=g1").await;
    assert_eq!(plain["users"].as_array().unwrap().len(), 4, "{plain}");
    let bad_creates = [
        (create.clone(), 1002),
        (
            format!("groupId=g2&name={}&owner=own", "n".repeat(65)),
            1002,
        ),
        (
            format!("groupId=g2&name=n&owner=own&userIds={}", ids("u", 31)),
            1502,
        ),
        (
            format!(
                "groupId=g2&name=n&owner=own&groupProfile={}",
                enc(json!({"introduction": "i".repeat(513)}))
            ),
            1002,
        ),
        (
            format!(
                "groupId=g2&name=n&owner=own&permissions={}",
                enc(json!({"joinPerm": 4}))
            ),
            1002,
        ),
        ("groupId=g2&owner=own".to_string(), 1002),
    ];
    for (body, code) in &bad_creates {
        refused(&api, "/entrust/group/create.json", body, 400, *code).await;
    }
    let ext10: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("ext_k{i}"), json!("v"))).collect();
    let ext_body = |ext: Value| format!("groupId=g1&groupExtProfile={}", enc(ext));
    refused(
        &api,
        "/entrust/group/profile/update.json",
        &ext_body(Value::from(ext10.clone())),
        400,
        1502,
    )
    .await;
    api.ok(
        "/entrust/group/create.json",
        &format!("groupId=g2&name=two&owner=own&userIds={}", ids("u", 30)),
    )
    .await;

    // profile/query: {code, profiles: [{groupId, groupName, groupProfile, groupExtProfile,
    // permissions, owner, createTime, memberCount}]}; update renames through `name`.
    let update = format!(
        "groupId=g1&groupProfile={}",
        enc(json!({"name": "One", "announcement": "hi"}))
    );
    api.ok("/entrust/group/profile/update.json", &update).await;
    let profiles = api
        .ok(
            "/entrust/group/profile/query.json",
            "groupId=g1&groupId=nope",
        )
        .await;
    assert_eq!(keys(&profiles), ["code", "profiles"]);
    let one = &profiles["profiles"][0];
    assert_eq!(
        keys(one),
        [
            "createTime",
            "groupExtProfile",
            "groupId",
            "groupName",
            "groupProfile",
            "memberCount",
            "owner",
            "permissions"
        ]
    );
    assert_eq!(
        (&one["groupName"], &one["owner"], &one["memberCount"]),
        (&json!("One"), &json!("own"), &json!(4))
    );
    let stored: Value = serde_json::from_str(one["groupProfile"].as_str().unwrap()).unwrap();
    assert_eq!(stored["announcement"], "hi");
    assert_eq!(stored["introduction"].as_str().unwrap().len(), 512);
    let permissions: Value = serde_json::from_str(one["permissions"].as_str().unwrap()).unwrap();
    assert_eq!(permissions, json!({"joinPerm": 3, "memProfilePerm": 2}));
    api.ok(
        "/entrust/group/profile/query.json",
        &format!("groupIds={}", ids("g", 50)),
    )
    .await;
    refused(
        &api,
        "/entrust/group/profile/query.json",
        &format!("groupIds={}", ids("g", 51)),
        400,
        1502,
    )
    .await;

    // join answers the group: {code, groupId, name, groupProfile, groupExtProfile,
    // permissions, owner, createTime, memberCount}; at most 100 users a call.
    let joined = api
        .ok(
            "/entrust/group/join.json",
            "groupId=g1&userIds=m4&userIds=m5",
        )
        .await;
    assert_eq!(
        keys(&joined),
        [
            "code",
            "createTime",
            "groupExtProfile",
            "groupId",
            "groupProfile",
            "memberCount",
            "name",
            "owner",
            "permissions"
        ]
    );
    assert_eq!(
        (&joined["name"], &joined["memberCount"]),
        (&json!("One"), &json!(6))
    );
    refused(
        &api,
        "/entrust/group/join.json",
        &format!("groupId=g1&userIds={}", ids("u", 101)),
        400,
        1502,
    )
    .await;
    refused(
        &api,
        "/entrust/group/join.json",
        "groupId=nope&userIds=m1",
        400,
        1002,
    )
    .await;

    // Managers: members only (others are answered back), at most 10.
    let added = api
        .ok(
            "/entrust/group/manager/add.json",
            "groupId=g1&userIds=m1,stranger",
        )
        .await;
    assert_eq!(added, json!({"code": 200, "userIds": ["stranger"]}));
    let nine = (0..9)
        .map(|i| format!("u{i}"))
        .collect::<Vec<_>>()
        .join(",");
    api.ok(
        "/entrust/group/manager/add.json",
        &format!("groupId=g2&userIds={nine}"),
    )
    .await;
    api.ok("/entrust/group/manager/add.json", "groupId=g2&userIds=u9")
        .await;
    refused(
        &api,
        "/entrust/group/manager/add.json",
        "groupId=g2&userIds=u10",
        400,
        1502,
    )
    .await;
    refused(
        &api,
        "/entrust/group/manager/add.json",
        &format!("groupId=g2&userIds={}", ids("u", 11)),
        400,
        1502,
    )
    .await;
    api.ok(
        "/entrust/group/manager/remove.json",
        "groupId=g2&userIds=u9",
    )
    .await;
    api.ok("/entrust/group/manager/add.json", "groupId=g2&userIds=u10")
        .await;

    // Nicknames, then the member pages: {code, totalCount, pageToken, members: [{userId,
    // nickname, role, time, extra}]}, newest first by default; `type` picks a role.
    api.ok(
        "/entrust/group/member/set.json",
        &format!(
            "groupId=g1&userId=m1&nickname={}&extra={}",
            "k".repeat(64),
            "e".repeat(128)
        ),
    )
    .await;
    // What is left out stays, as the commercial SDKs send only what the app set.
    api.ok(
        "/entrust/group/member/set.json",
        "groupId=g1&userId=m1&extra=e2",
    )
    .await;
    for body in [
        "groupId=g1&userId=m1".to_string(),
        format!("groupId=g1&userId=m1&nickname={}", "k".repeat(65)),
        format!("groupId=g1&userId=m1&nickname=k&extra={}", "e".repeat(129)),
        "groupId=g1&userId=stranger&nickname=k".to_string(),
    ] {
        refused(&api, "/entrust/group/member/set.json", &body, 400, 1002).await;
    }
    let page = api
        .ok("/entrust/group/member/query.json", "groupId=g1&size=4")
        .await;
    assert_eq!(keys(&page), ["code", "members", "pageToken", "totalCount"]);
    assert_eq!(page["totalCount"], 6);
    let rest = api
        .ok(
            "/entrust/group/member/query.json",
            &format!(
                "groupId=g1&size=4&pageToken={}",
                page["pageToken"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(rest["pageToken"], "");
    let mut everyone = [user_ids(&page, "members"), user_ids(&rest, "members")].concat();
    assert_eq!(
        everyone[..2],
        ["m5".to_string(), "m4".to_string()],
        "newest first"
    );
    everyone.sort();
    assert_eq!(everyone, ["m1", "m2", "m3", "m4", "m5", "own"]);
    let owner = api
        .ok("/entrust/group/member/query.json", "groupId=g1&type=3")
        .await;
    assert_eq!(user_ids(&owner, "members"), ["own"]);
    let managers = api
        .ok("/entrust/group/member/query.json", "groupId=g1&type=2")
        .await;
    let m1 = &managers["members"][0];
    assert_eq!(keys(m1), ["extra", "nickname", "role", "time", "userId"]);
    assert_eq!(
        (&m1["userId"], &m1["role"], &m1["nickname"], &m1["extra"]),
        (
            &json!("m1"),
            &json!(2),
            &json!("k".repeat(64)),
            &json!("e2")
        )
    );
    refused(
        &api,
        "/entrust/group/member/query.json",
        "groupId=g1&size=101",
        400,
        1002,
    )
    .await;
    refused(
        &api,
        "/entrust/group/member/query.json",
        "groupId=g1&type=4",
        400,
        1002,
    )
    .await;
    let some = api
        .ok(
            "/entrust/group/member/specific/query.json",
            "groupId=g1&userIds=m2&userIds=stranger",
        )
        .await;
    assert_eq!(user_ids(&some, "members"), ["m2"]);
    assert_eq!(some["members"][0]["role"], 1);
    refused(
        &api,
        "/entrust/group/member/specific/query.json",
        &format!("groupId=g1&userIds={}", ids("u", 101)),
        400,
        1502,
    )
    .await;

    // Follows: members only, ≤ 100 a call; the list is answered as both documented names.
    api.ok(
        "/entrust/group/member/follow.json",
        "groupId=g1&userId=m2&followUserIds=m1,m3",
    )
    .await;
    refused(
        &api,
        "/entrust/group/member/follow.json",
        "groupId=g1&userId=m2&followUserIds=stranger",
        400,
        1002,
    )
    .await;
    refused(
        &api,
        "/entrust/group/member/follow.json",
        &format!("groupId=g1&userId=m2&followUserIds={}", ids("u", 101)),
        400,
        1502,
    )
    .await;
    api.ok(
        "/entrust/group/member/unfollow.json",
        "groupId=g1&userId=m2&followUserIds=m3",
    )
    .await;
    let followed = api
        .ok(
            "/entrust/group/member/followed/get.json",
            "groupId=g1&userId=m2",
        )
        .await;
    assert_eq!(
        keys(&followed),
        ["code", "followedMembers", "groupId", "members", "userId"]
    );
    assert_eq!(user_ids(&followed, "followedMembers"), ["m1"]);
    assert_eq!(followed["members"], followed["followedMembers"]);
    assert!(followed["members"][0]["timestamp"]
        .as_u64()
        .is_some_and(|t| t > 0));

    // Remark names: {code, remarkName}.
    api.ok(
        "/entrust/group/remarkname/set.json",
        &format!("groupId=g1&userId=m2&remarkName={}", "r".repeat(64)),
    )
    .await;
    refused(
        &api,
        "/entrust/group/remarkname/set.json",
        &format!("groupId=g1&userId=m2&remarkName={}", "r".repeat(65)),
        400,
        1002,
    )
    .await;
    let remark = api
        .ok(
            "/entrust/group/remarkname/query.json",
            "groupId=g1&userId=m2",
        )
        .await;
    assert_eq!(remark, json!({"code": 200, "remarkName": "r".repeat(64)}));

    // joined/group/query: the user's hosted groups with its role and remark.
    api.ok("/entrust/group/join.json", "groupId=g2&userIds=m2")
        .await;
    let joined = api
        .ok("/entrust/joined/group/query.json", "userId=m2&order=0")
        .await;
    assert_eq!(keys(&joined), ["code", "groups", "pageToken", "totalCount"]);
    assert_eq!(joined["totalCount"], 2);
    let g1 = &joined["groups"][0];
    assert_eq!(
        keys(g1),
        [
            "count",
            "createTime",
            "groupExtProfile",
            "groupId",
            "groupProfile",
            "joinTime",
            "name",
            "owner",
            "permissions",
            "remarkName",
            "role"
        ]
    );
    assert_eq!(
        (&g1["groupId"], &g1["role"], &g1["remarkName"]),
        (&json!("g1"), &json!(1), &json!("r".repeat(64)))
    );
    let owned = api
        .ok("/entrust/joined/group/query.json", "userId=own&role=3")
        .await;
    assert_eq!(owned["totalCount"], 2);
    api.ok(
        "/entrust/group/remarkname/delete.json",
        "groupId=g1&userId=m2",
    )
    .await;
    let gone = api
        .ok(
            "/entrust/group/remarkname/query.json",
            "groupId=g1&userId=m2",
        )
        .await;
    assert_eq!(gone["remarkName"], "");

    // group/query: {code, pageToken, groups: [{groupId, name, groupProfile, portraitUrl,
    // creator, owner, time}]}, newest first by default, ≤ 1000 a page.
    let all = api.ok("/entrust/group/query.json", "size=1").await;
    assert_eq!(keys(&all), ["code", "groups", "pageToken"]);
    let g2 = &all["groups"][0];
    assert_eq!(
        keys(g2),
        [
            "creator",
            "groupId",
            "groupProfile",
            "name",
            "owner",
            "portraitUrl",
            "time"
        ]
    );
    assert_eq!(g2["groupId"], "g2");
    let next = api
        .ok(
            "/entrust/group/query.json",
            &format!("size=1000&pageToken={}", all["pageToken"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (&next["groups"][0]["portraitUrl"], &next["pageToken"]),
        (&json!("http://p/g.png"), &json!(""))
    );
    refused(&api, "/entrust/group/query.json", "size=1001", 400, 1002).await;

    // Ownership: to a member only; the old owner may quit; the owner cannot leave.
    refused(
        &api,
        "/entrust/group/transfer/owner.json",
        "groupId=g1&newOwner=stranger",
        400,
        1002,
    )
    .await;
    refused(
        &api,
        "/entrust/group/quit.json",
        "groupId=g1&userIds=own",
        400,
        1002,
    )
    .await;
    api.ok(
        "/entrust/group/transfer/owner.json",
        "groupId=g1&newOwner=m1&isQuit=1",
    )
    .await;
    let owner = api
        .ok("/entrust/group/member/query.json", "groupId=g1&type=3")
        .await;
    assert_eq!(user_ids(&owner, "members"), ["m1"]);
    assert_eq!(
        api.ok("/entrust/group/member/query.json", "groupId=g1&type=2")
            .await["totalCount"],
        0
    );

    // Kicking m1's follower's target: m2 no longer follows whoever left (isDelFollowed).
    api.ok(
        "/entrust/group/member/follow.json",
        "groupId=g1&userId=m2&followUserIds=m3",
    )
    .await;
    api.ok("/entrust/group/member/kick.json", "groupId=g1&userIds=m3")
        .await;
    let followed = api
        .ok(
            "/entrust/group/member/followed/get.json",
            "groupId=g1&userId=m2",
        )
        .await;
    assert_eq!(user_ids(&followed, "members"), ["m1"]);
    api.ok(
        "/entrust/group/quit.json",
        "groupId=g1&userIds=m4&isDelFollowed=0",
    )
    .await;
    refused(
        &api,
        "/entrust/group/quit.json",
        "groupId=g1&userIds=m5&isDelBan=2",
        400,
        1002,
    )
    .await;
    // kick/all: m2 leaves every hosted group (it owns none).
    api.ok("/entrust/group/member/kick/all.json", "userId=m2")
        .await;
    assert_eq!(
        api.ok("/entrust/joined/group/query.json", "userId=m2")
            .await["totalCount"],
        0
    );
    assert_eq!(
        api.ok("/group/user/query.json", "groupId=g1").await["users"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A hosted group dismissed through /group/* is no longer hosted, and can be again.
    api.ok("/group/dismiss.json", "userId=own&groupId=g2").await;
    let left = api.ok("/entrust/group/query.json", "").await;
    assert_eq!(left["groups"].as_array().unwrap().len(), 1, "{left}");
    refused(
        &api,
        "/entrust/group/join.json",
        "groupId=g2&userIds=m1",
        400,
        1002,
    )
    .await;
    api.ok(
        "/entrust/group/create.json",
        "groupId=g2&name=again&owner=own",
    )
    .await;
    let again = api
        .ok("/entrust/group/member/query.json", "groupId=g2")
        .await;
    assert_eq!(user_ids(&again, "members"), ["own"]);
    // import hosts a group made with /group/*; dismiss ends one.
    api.ok(
        "/group/create.json",
        "userId=p1&userId=p2&groupId=plain&groupName=old",
    )
    .await;
    api.ok(
        "/entrust/group/import.json",
        "groupId=plain&name=Plain&owner=p1",
    )
    .await;
    let imported = api
        .ok("/entrust/group/profile/query.json", "groupIds=plain")
        .await;
    assert_eq!(
        (
            &imported["profiles"][0]["groupName"],
            &imported["profiles"][0]["memberCount"]
        ),
        (&json!("Plain"), &json!(2))
    );
    api.ok("/entrust/group/dismiss.json", "groupId=g1").await;
    let none = api
        .ok("/entrust/group/profile/query.json", "groupIds=g1")
        .await;
    assert_eq!(none["profiles"], json!([]));
    // The group is gone (a dismissed group has no members, API-05).
    let members = api.ok("/group/user/query.json", "groupId=g1").await;
    assert_eq!(members["users"], json!([]));
    dev.stop();
}
