//! Tests of the state machine, one file per domain, around the shared fixtures here.

use meridian_regions::AreaCode;

use super::*;
use crate::state;

mod apps;
mod areas;
mod chatrooms;
mod conversations;
mod feed;
mod files;
mod groups;
mod keys;
mod messages;
mod mixing;
mod outbox;
mod presence;
mod push;
mod recording;
mod requests;
mod retention;
mod rtc;
mod rtc_blocks;
mod ultragroups;
mod usage;
mod users;
mod wire_format;

pub(super) fn ctx() -> ApplyContext {
    ApplyContext {
        area: AreaCode::Sg,
        now_ms: 1_000,
    }
}

pub(super) fn creds(key: &str) -> Credentials {
    Credentials {
        app_key: key.to_string(),
        app_secret: format!("{key}secret"),
    }
}

pub(super) fn create_app(name: &str, dev: &str, prod: &str) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command: Command::CreateApp(CreateApp {
            name: name.into(),
            dev: creds(dev),
            prod: creds(prod),
        }),
    }
}

pub(super) fn put_user(app_key: &str, user_id: &str) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command: Command::PutUser(PutUser {
            app_key: app_key.into(),
            user_id: user_id.into(),
            name: Some("name".into()),
            portrait: None,
        }),
    }
}

pub(super) fn tree() -> (tempfile::TempDir, sled::Tree) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .temporary(true)
        .open()
        .unwrap();
    let tree = db.open_tree("state").unwrap();
    (dir, tree)
}

/// Applies envelopes one by one and commits the overlay, like one apply round.
pub(super) fn run(tree: &sled::Tree, envelopes: &[Envelope]) -> Vec<Result<Output, CommandError>> {
    let mut overlay = Overlay::new(tree);
    let out = envelopes
        .iter()
        .map(|e| apply(ctx(), &mut overlay, e))
        .collect();
    tree.apply_batch(overlay.into_batch()).unwrap();
    out
}

/// Applies one command as an apply round stamped `now_ms`.
pub(super) fn at(tree: &sled::Tree, now_ms: u64, command: Command) -> Result<Output, CommandError> {
    let mut overlay = Overlay::new(tree);
    let ctx = ApplyContext {
        area: AreaCode::Sg,
        now_ms,
    };
    let out = apply(ctx, &mut overlay, &envelope(command));
    tree.apply_batch(overlay.into_batch()).unwrap();
    out
}

// covers: NAV-05

pub(super) fn envelope(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

pub(super) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// covers: PRV-10, PRV-11

pub(super) fn text(
    conversation: Conversation,
    sender: &str,
    recipient: Option<&str>,
    content: &str,
) -> NewMessage {
    NewMessage {
        conversation,
        sender: sender.into(),
        recipient: recipient.map(str::to_string),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        flags: MessageFlags::builtin("RC:TxtMsg"),
        push_content: None,
        push_data: None,
        verify_blacklist: true,
        visible_to: Vec::new(),
        sender_device: None,
    }
}

pub(super) fn publish(
    tree: &sled::Tree,
    messages: Vec<NewMessage>,
) -> Result<Output, CommandError> {
    run(
        tree,
        &[envelope(Command::Publish(Publish {
            app_key: "prodkey001".into(),
            messages,
        }))],
    )
    .remove(0)
}

pub(super) fn history(
    tree: &sled::Tree,
    conversation: &Conversation,
    newest_first: bool,
    limit: usize,
) -> Vec<Message> {
    match query(
        tree,
        &Query::History {
            app_key: "prodkey001".into(),
            page: HistoryPage {
                conversation: conversation.clone(),
                viewer: None,
                from_ms: 0,
                to_ms: u64::MAX,
                newest_first,
                limit,
                members_only: false,
                keyword: None,
                sender: None,
            },
        },
    )
    .unwrap()
    {
        QueryOutput::Messages(messages) => messages,
        other => panic!("{other:?}"),
    }
}

// covers: PRV-01, PRV-04, PRV-12, MSG-01

pub(super) fn join(group: &str, users: Vec<String>) -> Envelope {
    envelope(Command::JoinGroup(JoinGroup {
        app_key: "prodkey001".into(),
        group_id: group.into(),
        name: Some(format!("{group} name")),
        user_ids: users,
    }))
}

// covers: GRP-01, GRP-04

pub(super) fn sync_of(tree: &sled::Tree, user: &str, after: u64, limit: usize) -> SyncPage {
    match query(
        tree,
        &Query::Sync {
            app_key: "prodkey001".into(),
            request: SyncRequest {
                user_id: user.into(),
                after,
                since_ms: 0,
                limit,
            },
        },
    ) {
        Ok(QueryOutput::Sync(page)) => page,
        other => panic!("{other:?}"),
    }
}

pub(super) fn private_text(from: &str, to: &str, content: &str) -> NewMessage {
    text(Conversation::private(from, to, ""), from, Some(to), content)
}

pub(super) fn outbox(tree: &sled::Tree) -> (Vec<Job>, u64) {
    match query(
        tree,
        &Query::Outbox {
            after: 0,
            limit: 100,
        },
    )
    .unwrap()
    {
        QueryOutput::Jobs { jobs, waiting } => (jobs, waiting),
        other => panic!("{other:?}"),
    }
}

/// A web session of `user` (from 10.0.0.1:4242) started or ended on an edge.
pub(super) fn session_change(
    user: &str,
    edge_id: u64,
    session_id: u64,
    status: DeviceStatus,
) -> Command {
    Command::Presence(ChangePresence {
        app_key: "prodkey001".into(),
        user_id: user.into(),
        record: SessionRecord {
            edge_id,
            session_id,
            platform: "web".into(),
            since_ms: 0,
            client_ip: "10.0.0.1:4242".into(),
        },
        status,
    })
}

pub(super) fn command(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

// covers: HOOK-01
