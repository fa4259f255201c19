//! Requests marked with an id (`msgRandom`): applied once within a minute, refused when
//! the id names another request, applied again after the minute, and pruned.

use super::*;
use crate::state::keys;
use crate::state::requests::KEPT_MS;

const APP: &str = "prodkey001";
const T0: u64 = 10_000_000;

fn once(request_id: &str, content: &str) -> Command {
    Command::Once(Once {
        app_key: APP.into(),
        request_id: request_id.into(),
        command: Box::new(Command::Publish(Publish {
            app_key: APP.into(),
            messages: vec![private_text("alice", "bob", content)],
        })),
    })
}

fn stored(tree: &sled::Tree) -> Vec<String> {
    history(tree, &Conversation::private("alice", "bob", ""), false, 100)
        .into_iter()
        .map(|m| m.content)
        .collect()
}

fn answer_kept(tree: &sled::Tree, request_id: &str) -> bool {
    tree.get(keys::requests::answer(APP, request_id))
        .unwrap()
        .is_some()
}

// covers: API-07

#[test]
fn a_marked_request_is_applied_once_within_a_minute_and_answered_the_same() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    let first = at(&tree, T0, once("private/alice/7", "{\"content\":\"a\"}")).unwrap();
    let Output::Published(published) = &first else {
        panic!("{first:?}")
    };
    assert!(matches!(published[..], [Publication::Stored { .. }]));
    let again = at(
        &tree,
        T0 + KEPT_MS,
        once("private/alice/7", "{\"content\":\"a\"}"),
    );
    assert_eq!(again.unwrap(), first, "the retry gets the first answer");
    assert_eq!(stored(&tree), ["{\"content\":\"a\"}"]);

    let other = at(
        &tree,
        T0 + 1,
        once("private/alice/7", "{\"content\":\"b\"}"),
    );
    assert!(
        matches!(&other, Err(CommandError::Invalid { field, .. }) if field == "msgRandom"),
        "{other:?}"
    );
    assert_eq!(
        stored(&tree),
        ["{\"content\":\"a\"}"],
        "a refusal stores nothing"
    );

    let after = at(
        &tree,
        T0 + KEPT_MS + 1,
        once("private/alice/7", "{\"content\":\"a\"}"),
    );
    assert_ne!(after.unwrap(), first, "after a minute the id is free again");
    assert_eq!(stored(&tree).len(), 2);
}

#[test]
fn answers_are_pruned_by_later_requests_but_a_reused_id_keeps_its_new_answer() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    at(&tree, T0, once("r1", "{\"n\":1}")).unwrap();
    // Reused after its minute: its first index entry must not take the new answer.
    let renewed = at(&tree, T0 + KEPT_MS + 1, once("r1", "{\"n\":1}")).unwrap();
    at(&tree, T0 + KEPT_MS + 2, once("r2", "{\"n\":2}")).unwrap();
    assert!(
        answer_kept(&tree, "r1"),
        "pruning r1's old entry left its new answer"
    );
    let retried = at(&tree, T0 + KEPT_MS + 3, once("r1", "{\"n\":1}")).unwrap();
    assert_eq!(retried, renewed);

    // Much later, each new request prunes up to two expired answers, oldest first.
    at(&tree, T0 + 10 * KEPT_MS, once("r3", "{\"n\":3}")).unwrap();
    assert!(!answer_kept(&tree, "r1") && !answer_kept(&tree, "r2"));
    assert!(answer_kept(&tree, "r3"));
    let index = tree.scan_prefix(keys::requests::ANSWER_BY_TIME).count();
    assert_eq!(index, 1, "only r3 is indexed");
}

#[test]
fn deleting_the_app_removes_its_answers() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    at(&tree, T0, once("r1", "{\"n\":1}")).unwrap();
    at(
        &tree,
        T0 + 1,
        Command::DeleteApp(DeleteApp {
            app_key: APP.into(),
        }),
    )
    .unwrap();
    assert!(!answer_kept(&tree, "r1"));
}
