//! The key layout (`state/keys.rs`): no family captures another's keys, and keys are the
//! bytes they always were (what is on disk must still be found).

use meridian_regions::AreaCode;

use crate::raft::state_machine::META_PREFIX;
use crate::state::keys::{self, Kind, ALL};
use crate::state::Conversation;

fn text(key: Vec<u8>) -> String {
    String::from_utf8(key).expect("keys built from text are text")
}

#[test]
fn no_family_prefix_captures_another_key() {
    let mut all: Vec<(&str, &[u8], Kind)> = ALL.to_vec();
    all.push(("raft meta", META_PREFIX, Kind::Family));
    for (i, (name, prefix, kind)) in all.iter().enumerate() {
        assert!(!prefix.is_empty(), "{name} is empty");
        if *kind == Kind::Family {
            assert!(prefix.ends_with(b"/"), "{name} must end in '/'");
        }
        for (j, (other, other_prefix, _)) in all.iter().enumerate() {
            if i == j {
                continue;
            }
            assert_ne!(prefix, other_prefix, "{name} and {other} are the same key");
            // An exact key is only ever read whole, so being the start of another key
            // (`counter/outbox` of `counter/outbox-waiting`) captures nothing; a scanned
            // prefix must not be the start of any other family or key.
            if *kind == Kind::Family {
                assert!(
                    !other_prefix.starts_with(prefix),
                    "scanning {name} ({}) would also read {other} ({})",
                    String::from_utf8_lossy(prefix),
                    String::from_utf8_lossy(other_prefix),
                );
            }
        }
    }
}

/// Every byte-string constant of `keys.rs` is in [`ALL`], so the collision test sees it.
#[test]
fn every_prefix_of_the_key_module_is_checked() {
    let source = [
        include_str!("../keys/mod.rs"),
        include_str!("../keys/messages.rs"),
        include_str!("../keys/chatrooms.rs"),
        include_str!("../keys/ultragroups.rs"),
        include_str!("../keys/user_extras.rs"),
        include_str!("../keys/friends.rs"),
        include_str!("../keys/hosted_groups.rs"),
        include_str!("../keys/files.rs"),
        include_str!("../keys/rtc.rs"),
        include_str!("../keys/calls.rs"),
        include_str!("../keys/usage.rs"),
        include_str!("../keys/requests.rs"),
    ]
    .concat();
    let listed: Vec<String> = ALL
        .iter()
        .map(|(_, prefix, _)| String::from_utf8_lossy(prefix).into_owned())
        .collect();
    let mut found = 0;
    for line in source.lines() {
        let Some((_, literal)) = line.split_once(": &[u8] = b\"") else {
            continue;
        };
        let literal = literal.trim_end_matches("\";");
        found += 1;
        assert!(
            listed.iter().any(|l| l == literal),
            "{literal} is missing from keys::ALL"
        );
    }
    assert_eq!(found, ALL.len(), "keys::ALL lists something twice");
}

#[test]
fn keys_are_the_bytes_they_always_were() {
    let private = Conversation::private("alice", "bob", "work");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (keys::apps::app("pk"), "app/pk"),
        (keys::apps::key_index("dk"), "appkey/dk"),
        (keys::apps::settings("dk"), "appsettings/dk"),
        (keys::areas::entry(AreaCode::SgB), "areacatalog/SG-B"),
        (keys::users::user("ak", "u1"), "user/ak/u1"),
        (keys::calls::call("ak", "c1"), "call/ak/c1"),
        (keys::calls::user_call("ak", "u1"), "calluser/ak/u1"),
        (keys::calls::ringing("ak", "c1", "u1"), "callring/ak/c1/u1"),
        (keys::calls::outcome("busy"), "callcount/busy"),
        (keys::users::block("ak", "u1"), "block/ak/u1"),
        (
            keys::users::list(keys::users::BLACKLIST, "ak", "u1"),
            "black/ak/u1/",
        ),
        (keys::sensitive::word("ak", "bad"), "sensitive/ak/bad/"),
        (
            keys::presence::session("ak", "u1", 7, 300),
            "presence/ak/u1/00000000000000000007/00000000000000000300",
        ),
        (
            keys::presence::by_edge(7, "ak", "u1", 300),
            "presence-edge/00000000000000000007/00000000000000000300/ak/u1",
        ),
        (keys::presence::lease(7), "edgelease/00000000000000000007"),
        (
            keys::conversations::settings("ak", "u1", 3, "g1", ""),
            "convset/ak/u1/3/g1/",
        ),
        (
            keys::conversations::type_level("ak", "u1", 6),
            "convtype/ak/u1/6",
        ),
        (
            keys::conversations::of_conversation(keys::conversations::READ, "ak", "bob", &private),
            "convread/ak/bob/1/alice/work",
        ),
        (
            keys::conversations::hidden("ak", "u1", "M1"),
            "convhide/ak/u1/M1",
        ),
        (keys::feed::event(5), "feed/00000000000000000005"),
        (
            keys::feed::positioned(&keys::feed::inbox("ak", "u1"), 5),
            "inbox/ak/u1/00000000000000000005",
        ),
        (keys::feed::broadcasts("ak"), "bcast/ak/"),
        (keys::groups::group("ak", "g1"), "group/ak/g1"),
        (keys::groups::member("ak", "g1", "u1"), "gmember/ak/g1/u1"),
        (
            keys::groups::user_group("ak", "u1", "g1"),
            "ugroup/ak/u1/g1",
        ),
        (
            keys::groups::whitelisted("ak", "g1", "u1"),
            "gwhite/ak/g1/u1",
        ),
        (keys::groups::remark("ak", "g1", "u1"), "gremark/ak/g1/u1"),
        (keys::groups::reader("ak", "M1", "u1"), "greadby/ak/M1/u1"),
        (keys::outbox::job(3), "outbox/00000000000000000003"),
        (
            keys::outbox::dead("ak", 3),
            "outbox-dead/ak/00000000000000000003/",
        ),
        (keys::push::token("ak", "u1", "d1"), "pushtoken/ak/u1/d1/"),
        (
            keys::messages::message("ak", &private, 2),
            "msg/ak/1/alice/bob/work/00000000000000000002",
        ),
        (
            keys::messages::last_seq("ak", &private),
            "conv/ak/1/alice/bob/work/",
        ),
        (keys::messages::uid("ak", "M1"), "msguid/ak/M1"),
        (keys::messages::expansions("ak", "M1"), "mexp/ak/M1/"),
        (
            keys::messages::archived("ak", 472_222, 9),
            "archive/ak/0000472222/00000000000000000009",
        ),
        (
            keys::messages::client_send("ak", "u1", "c1"),
            "clientsend/ak/u1/c1",
        ),
        (
            keys::messages::CLIENT_SENDS
                .by_time(1_000, &keys::messages::client_send("ak", "u1", "c1")),
            "clientsend-t/00000000000000001000/ak/u1/c1",
        ),
        (
            keys::requests::answer("ak", "private/u1/77"),
            "once/ak/private/u1/77",
        ),
        (
            keys::requests::ANSWERS.by_time(5, &keys::requests::answer("ak", "private/u1/77")),
            "once-t/00000000000000000005/ak/private/u1/77",
        ),
        (keys::chatrooms::room("ak", "r1"), "room/ak/r1"),
        (
            keys::chatrooms::set_member("ak", "*", "lowprio", "RC:TxtMsg"),
            "rset/ak/*/lowprio/RC:TxtMsg",
        ),
        (keys::chatrooms::entry("ak", "r1", "k"), "rentry/ak/r1/k"),
        (
            keys::chatrooms::member("ak", "r1", "u1"),
            "rmember/ak/r1/u1/",
        ),
        (
            keys::chatrooms::user_room("ak", "u1", "r1"),
            "ruser/ak/u1/r1/",
        ),
        (
            keys::chatrooms::offline("ak", "r1", "u1"),
            "roffline/ak/r1/u1/",
        ),
        (keys::chatrooms::window("ak", "r1"), "rwindow/ak/r1/"),
        (keys::ultragroups::group("ak", "ug1"), "ug/ak/ug1/"),
        (
            keys::ultragroups::member("ak", "ug1", "u1"),
            "ugmember/ak/ug1/u1/",
        ),
        (
            keys::ultragroups::user_group("ak", "u1", "ug1"),
            "uguser/ak/u1/ug1/",
        ),
        (
            keys::ultragroups::set_member("ak", "ug1", "c", "muted", "u1"),
            "ugset/ak/ug1/c/muted/u1",
        ),
        (
            keys::ultragroups::of_channel(keys::ultragroups::MUTED, "ak", "ug1", ""),
            "ugmuted/ak/ug1//",
        ),
    ];
    for (key, expected) in cases {
        assert_eq!(text(key), expected);
    }
}

#[test]
fn keys_read_back_are_taken_apart_into_what_built_them() {
    let session = keys::presence::session("ak", "u1", 7, 300);
    assert_eq!(
        keys::presence::session_owner(&session),
        Some(("ak".to_string(), "u1".to_string()))
    );
    assert_eq!(
        keys::presence::lease_edge(&keys::presence::lease(7)),
        Some(7)
    );
    assert_eq!(keys::feed::event_position(&keys::feed::event(42)), Some(42));
    let by_id = keys::messages::client_send("ak", "u1", "c1");
    assert_eq!(
        keys::messages::CLIENT_SENDS.indexed(&keys::messages::CLIENT_SENDS.by_time(9, &by_id)),
        Some((9, by_id))
    );
    let answer = keys::requests::answer("ak", "private/u1/77");
    assert_eq!(
        keys::requests::ANSWERS.indexed(&keys::requests::ANSWERS.by_time(9, &answer)),
        Some((9, answer))
    );
    let tokens = keys::of_app(keys::push::TOKEN, "ak");
    assert_eq!(
        keys::push::token_user(&tokens, &keys::push::token("ak", "u1", "d1")),
        Some("u1".to_string())
    );
    let room = keys::chatrooms::of_room(keys::chatrooms::OFFLINE, "ak", "r1");
    assert_eq!(
        keys::chatrooms::offline_user(&room, &keys::chatrooms::offline("ak", "r1", "u1")),
        "u1"
    );
    let group = keys::ultragroups::of_group(keys::ultragroups::MEMBER, "ak", "ug1");
    assert_eq!(
        keys::ultragroups::member_id(&group, &keys::ultragroups::member("ak", "ug1", "u1")),
        "u1"
    );
}
