//! Per-app usage counters (CON-01) and push statistics (PUSH-09).

use super::*;
use crate::state::usage::{Category, RecordUsage, ReportedCount, UsageReport, HOUR_MS, KEEP_MS};

const APP: &str = "prodkey001";
/// Some hour well past the epoch, so a quarter before it exists.
const T0: u64 = 1_000 * 24 * HOUR_MS;

/// Applies envelopes as one apply round stamped `now_ms`.
fn run_at(
    tree: &sled::Tree,
    now_ms: u64,
    envelopes: &[Envelope],
) -> Vec<Result<Output, CommandError>> {
    let ctx = ApplyContext {
        area: AreaCode::Sg,
        now_ms,
    };
    let mut overlay = Overlay::new(tree);
    let out = envelopes
        .iter()
        .map(|e| apply(ctx, &mut overlay, e))
        .collect();
    tree.apply_batch(overlay.into_batch()).unwrap();
    out
}

fn report(tree: &sled::Tree, from_ms: u64, to_ms: u64) -> UsageReport {
    let asked = Query::Usage {
        app_key: APP.into(),
        from_ms,
        to_ms,
    };
    match query(tree, &asked).unwrap() {
        QueryOutput::Usage(report) => report,
        other => panic!("{other:?}"),
    }
}

/// The counter `name` of `category` in the hour starting at `hour`.
fn counter(report: &UsageReport, category: Category, hour: u64, name: &str) -> u64 {
    report
        .hours
        .iter()
        .find(|h| h.category == category && h.hour_start_ms == hour)
        .and_then(|h| h.counters.get(name).copied())
        .unwrap_or(0)
}

fn app_with_users() -> (tempfile::TempDir, sled::Tree) {
    let (dir, tree) = tree();
    let setup = [create_app("Chat", "devkey001", APP), put_user(APP, "ann")];
    assert!(run_at(&tree, T0, &setup).iter().all(Result::is_ok));
    (dir, tree)
}

fn publish_at(tree: &sled::Tree, now_ms: u64, messages: Vec<NewMessage>) {
    let publish = envelope(Command::Publish(Publish {
        app_key: APP.into(),
        messages,
    }));
    run_at(tree, now_ms, &[publish]).remove(0).unwrap();
}

// covers: CON-01

#[test]
fn messages_count_by_type_and_hour_and_add_up_to_the_area_total() {
    let (_dir, tree) = app_with_users();
    let group = Conversation {
        kind: ConversationType::Group,
        first: "g1".into(),
        second: String::new(),
        channel: String::new(),
    };
    publish_at(
        &tree,
        T0 + 10,
        vec![
            private_text("ann", "bob", "1"),
            private_text("ann", "bob", "2"),
        ],
    );
    publish_at(
        &tree,
        T0 + HOUR_MS + 5,
        vec![text(group, "ann", None, "hi")],
    );
    let mut status = private_text("ann", "bob", "typing");
    status.flags.persisted = false;
    publish_at(&tree, T0 + HOUR_MS + 6, vec![status]);

    let usage = report(&tree, T0, T0 + 2 * HOUR_MS);
    assert_eq!(counter(&usage, Category::Messages, T0, "private"), 2);
    assert_eq!(
        counter(&usage, Category::Messages, T0 + HOUR_MS, "group"),
        1
    );
    assert_eq!(
        counter(&usage, Category::Messages, T0 + HOUR_MS, "private"),
        1,
        "a status message counts too"
    );
    let only_first = report(&tree, T0, T0 + HOUR_MS);
    assert!(
        only_first.hours.iter().all(|h| h.hour_start_ms == T0),
        "the range ends before its end"
    );
    let QueryOutput::MessageTotals(totals) = query(&tree, &Query::MessageTotals).unwrap() else {
        panic!("totals");
    };
    assert_eq!(
        totals,
        vec![("group".to_string(), 1), ("private".to_string(), 3)]
    );
}

#[test]
fn online_users_keep_their_peak_and_the_count_an_hour_ended_with() {
    let (_dir, tree) = app_with_users();
    let online = |user, session| command(session_change(user, 1, session, DeviceStatus::Online));
    let offline = |user, session| command(session_change(user, 1, session, DeviceStatus::Offline));
    // ann on two devices counts once; bob makes two.
    run_at(
        &tree,
        T0 + 1,
        &[online("ann", 1), online("ann", 2), online("bob", 3)],
    );
    run_at(&tree, T0 + 2, &[offline("ann", 1)]);
    run_at(&tree, T0 + 3, &[offline("bob", 3)]);
    let usage = report(&tree, T0, T0 + HOUR_MS);
    assert_eq!(counter(&usage, Category::Online, T0, "peak"), 2);
    assert_eq!(
        counter(&usage, Category::Online, T0, "last"),
        1,
        "ann's second device"
    );
    assert_eq!(usage.online_now, 1);
    // The next hour starts from the one ann left it with.
    run_at(&tree, T0 + HOUR_MS + 1, &[offline("ann", 2)]);
    let later = report(&tree, T0 + HOUR_MS, T0 + 2 * HOUR_MS);
    assert_eq!(counter(&later, Category::Online, T0 + HOUR_MS, "peak"), 1);
    assert_eq!(later.online_now, 0);
    assert_eq!(
        later.online_before.map(|h| h.hour_start_ms),
        Some(T0),
        "the record before the range carries its count"
    );
    // An edge that stops takes its users offline in the figures too.
    run_at(&tree, T0 + HOUR_MS + 2, &[online("cat", 4)]);
    run_at(
        &tree,
        T0 + HOUR_MS + 3,
        &[command(Command::EdgeStopped(EdgeStopped { edge_id: 1 }))],
    );
    assert_eq!(report(&tree, T0, T0 + 2 * HOUR_MS).online_now, 0);
}

// covers: PUSH-09

#[test]
fn push_and_callback_outcomes_count_per_provider_and_kind() {
    let (_dir, tree) = app_with_users();
    let settings = AppSettings {
        push: PushSettings {
            webhook_url: Some("https://app.example.com/push".into()),
            ..PushSettings::default()
        },
        callbacks: CallbackSettings {
            routing_url: Some("https://app.example.com/route".into()),
            max_attempts: 2,
            ..CallbackSettings::default()
        },
        ..AppSettings::default()
    };
    let set = command(Command::SetAppSettings(SetAppSettings {
        app_key: APP.into(),
        settings,
    }));
    run_at(&tree, T0, &[set]).remove(0).unwrap();
    for device in ["bob-phone", "bob-tablet"] {
        let register = command(Command::RegisterPushToken(RegisterPushToken {
            app_key: APP.into(),
            user_id: "bob".into(),
            device: DeviceToken {
                device_id: device.into(),
                provider: PushProvider::Webhook,
                token: format!("token-{device}"),
                app_id: "web".into(),
            },
        }));
        run_at(&tree, T0, &[register]).remove(0).unwrap();
    }
    publish_at(
        &tree,
        T0 + 1,
        vec![private_text("ann", "bob", r#"{"content":"hello"}"#)],
    );
    let (jobs, _) = outbox(&tree);
    let id_of = |kind: &str| -> Vec<u64> {
        jobs.iter()
            .filter(|j| j.event.kind() == kind)
            .map(|j| j.id)
            .collect()
    };
    let (pushes, routing) = (id_of("push"), id_of("routing"));
    assert_eq!((pushes.len(), routing.len()), (2, 1));
    let settled = command(Command::OutboxSettled(OutboxSettled {
        jobs: vec![
            (pushes[0], Settlement::Delivered),
            (pushes[1], Settlement::TokenGone),
        ],
    }));
    let failed = || {
        command(Command::OutboxFailed(OutboxFailed {
            failures: vec![(routing[0], "503".into())],
        }))
    };
    run_at(&tree, T0 + 2, &[settled.clone(), failed()]);
    run_at(&tree, T0 + 3, &[failed()]);
    // Reported again (a new leader repeating a batch): nothing counts twice.
    run_at(&tree, T0 + 4, &[settled]);

    let usage = report(&tree, T0, T0 + HOUR_MS);
    assert_eq!(counter(&usage, Category::Push, T0, "webhook.sent"), 2);
    assert_eq!(counter(&usage, Category::Push, T0, "webhook.accepted"), 1);
    assert_eq!(
        counter(&usage, Category::Push, T0, "webhook.failed.token_gone"),
        1
    );
    assert_eq!(
        counter(&usage, Category::Callbacks, T0, "routing.failed_attempt"),
        2
    );
    assert_eq!(counter(&usage, Category::Callbacks, T0, "routing.dead"), 1);
}

fn reported(hour_start_ms: u64, category: Category, name: &str) -> ReportedCount {
    ReportedCount {
        hour_start_ms,
        category,
        name: name.into(),
        count: 4,
    }
}

fn record(
    tree: &sled::Tree,
    now_ms: u64,
    counts: Vec<ReportedCount>,
) -> Result<Output, CommandError> {
    let command = command(Command::RecordUsage(RecordUsage {
        app_key: APP.into(),
        counts,
    }));
    run_at(tree, now_ms, &[command]).remove(0)
}

#[test]
fn edges_report_api_calls_and_clicks_within_the_limits() {
    let (_dir, tree) = app_with_users();
    let now = T0 + 30 * 60_000;
    let longest = "/".repeat(128);
    record(
        &tree,
        now,
        vec![
            reported(T0, Category::Api, "/user/getToken.json ok"),
            reported(T0 - 48 * HOUR_MS, Category::Push, "apns.clicked"),
            reported(T0 + HOUR_MS, Category::Api, &longest),
        ],
    )
    .unwrap();
    let usage = report(&tree, T0 - 48 * HOUR_MS, T0 + 2 * HOUR_MS);
    assert_eq!(
        counter(&usage, Category::Api, T0, "/user/getToken.json ok"),
        4
    );
    assert_eq!(
        counter(&usage, Category::Push, T0 - 48 * HOUR_MS, "apns.clicked"),
        4
    );
    assert_eq!(counter(&usage, Category::Api, T0 + HOUR_MS, &longest), 4);

    let refusals = [
        (
            vec![reported(T0, Category::Messages, "private")],
            "category",
        ),
        (vec![reported(T0, Category::Api, &"/".repeat(129))], "name"),
        (vec![reported(T0, Category::Api, "")], "name"),
        (vec![reported(T0 + 1, Category::Api, "x ok")], "hourStartMs"),
        (
            vec![reported(T0 - 49 * HOUR_MS, Category::Api, "x ok")],
            "hourStartMs",
        ),
        (
            vec![reported(T0 + 2 * HOUR_MS, Category::Api, "x ok")],
            "hourStartMs",
        ),
    ];
    for (counts, field) in refusals {
        match record(&tree, now, counts) {
            Err(CommandError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let too_many = vec![reported(T0, Category::Api, "x ok"); crate::state::usage::MAX_REPORTED + 1];
    assert!(matches!(
        record(&tree, now, too_many),
        Err(CommandError::Limit { .. })
    ));
    let at_limit = vec![reported(T0, Category::Api, "x ok"); crate::state::usage::MAX_REPORTED];
    record(&tree, now, at_limit).unwrap();
    let after = report(&tree, T0, T0 + HOUR_MS);
    assert_eq!(
        counter(&after, Category::Api, T0, "/user/getToken.json ok"),
        4,
        "refusals changed nothing"
    );
    assert_eq!(
        counter(&after, Category::Api, T0, "x ok"),
        4 * crate::state::usage::MAX_REPORTED as u64
    );
    // A new hour of counters has room for MAX_COUNTERS names, not one more.
    let names: Vec<ReportedCount> = (0..=crate::state::usage::MAX_COUNTERS)
        .map(|i| reported(T0 + HOUR_MS, Category::Push, &format!("p{i}.clicked")))
        .collect();
    assert!(matches!(
        record(&tree, now, names),
        Err(CommandError::Limit { .. })
    ));
}

#[test]
fn a_quarter_is_kept_and_the_records_go_with_the_app() {
    let (_dir, tree) = app_with_users();
    publish_at(&tree, T0, vec![private_text("ann", "bob", "old")]);
    publish_at(
        &tree,
        T0 + KEEP_MS,
        vec![private_text("ann", "bob", "a quarter on")],
    );
    let kept = report(&tree, T0, T0 + KEEP_MS + HOUR_MS);
    assert_eq!(
        counter(&kept, Category::Messages, T0, "private"),
        1,
        "exactly a quarter old"
    );
    publish_at(
        &tree,
        T0 + KEEP_MS + HOUR_MS,
        vec![private_text("ann", "bob", "later")],
    );
    let later = report(&tree, T0, T0 + KEEP_MS + 2 * HOUR_MS);
    assert_eq!(
        counter(&later, Category::Messages, T0, "private"),
        0,
        "dropped"
    );
    assert_eq!(
        counter(&later, Category::Messages, T0 + KEEP_MS, "private"),
        1
    );

    let QueryOutput::Storage(families) = query(
        &tree,
        &Query::Storage {
            app_key: APP.into(),
        },
    )
    .unwrap() else {
        panic!("storage");
    };
    let messages = families
        .iter()
        .find(|f| f.family == "msg")
        .expect("messages are kept");
    assert_eq!(messages.records, 3, "history keeps them all (six months)");
    assert!(families.iter().any(|f| f.family == "usage"));

    let delete = command(Command::DeleteApp(DeleteApp {
        app_key: APP.into(),
    }));
    run_at(&tree, T0 + KEEP_MS + HOUR_MS, &[delete])
        .remove(0)
        .unwrap();
    let left = tree
        .scan_prefix(b"usage")
        .filter_map(Result::ok)
        .filter(|(key, _)| key.windows(APP.len()).any(|w| w == APP.as_bytes()))
        .count();
    assert_eq!(left, 0, "nothing of the app's usage stays");
}
