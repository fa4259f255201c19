//! History retention through real `meridian cluster run` processes (LIFE-01): the
//! leader finds messages past their app's retention and removes them through Raft, so
//! they are gone from every replica's history, and nothing newer goes with them.

use std::path::Path;
use std::time::Duration;

use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{
    AppLimits, Command, Conversation, CreateApp, Envelope, HistoryPage, ImportMessages,
    ImportedMessage, MessageFlags, NewMessage, Publish, Query, QueryOutput, SetAppLimits,
};
use meridian_cluster::ClusterClient;
use meridian_regions::AreaCode;
use meridian_testkit::{eventually, ClusterOptions, ProcessCluster};

const DAY_MS: u64 = 24 * 3600 * 1000;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

async fn write(client: &ClusterClient, command: Command) {
    let envelope = Envelope {
        area: AreaCode::Sg,
        command,
    };
    client.write_one(envelope).await.expect("committed");
}

fn imported(conversation: &Conversation, content: &str, sent_time_ms: u64) -> ImportedMessage {
    ImportedMessage {
        conversation: conversation.clone(),
        sender: conversation.first.clone(),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        sent_time_ms,
        msg_uid: None,
    }
}

fn history_of(app_key: &str, conversation: &Conversation) -> Query {
    Query::History {
        app_key: app_key.into(),
        page: HistoryPage {
            conversation: conversation.clone(),
            viewer: None,
            from_ms: 0,
            to_ms: u64::MAX,
            newest_first: false,
            limit: 100,
            members_only: false,
            keyword: None,
            sender: None,
        },
    }
}

// covers: LIFE-01, PRV-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_past_its_retention_leaves_every_replica_and_newer_messages_stay() {
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let prod = generate_credentials();
    let app_key = prod.app_key.clone();
    write(
        &client,
        Command::CreateApp(CreateApp {
            name: "retention".into(),
            dev: generate_credentials(),
            prod,
        }),
    )
    .await;
    // Private history is kept 2 days, groups the default 180.
    let mut limits = AppLimits::default();
    limits.retention_days.private = 2;
    write(
        &client,
        Command::SetAppLimits(SetAppLimits {
            app_key: app_key.clone(),
            limits,
        }),
    )
    .await;

    // Moved-in history: alice and bob spoke 3 days ago (due), alice and carol a day
    // ago (kept); then alice writes to bob now.
    let now = meridian_clock::now_ms();
    let ab = Conversation::private("alice", "bob", "");
    let ac = Conversation::private("alice", "carol", "");
    write(
        &client,
        Command::ImportMessages(ImportMessages {
            app_key: app_key.clone(),
            messages: vec![
                imported(&ab, "three days ago", now - 3 * DAY_MS),
                imported(&ab, "still three days ago", now - 3 * DAY_MS + 1),
                imported(&ac, "yesterday", now - DAY_MS),
            ],
        }),
    )
    .await;
    write(
        &client,
        Command::Publish(Publish {
            app_key: app_key.clone(),
            messages: vec![NewMessage {
                conversation: ab.clone(),
                sender: "alice".into(),
                recipient: Some("bob".into()),
                object_name: "RC:TxtMsg".into(),
                content: "now".into(),
                flags: MessageFlags::builtin("RC:TxtMsg"),
                push_content: None,
                push_data: None,
                verify_blacklist: false,
                visible_to: Vec::new(),
                sender_device: None,
            }],
        }),
    )
    .await;

    // Within a few sweeps, every replica's history of alice and bob holds only "now".
    for id in cluster.running_ids() {
        let history = |conversation: Conversation| {
            let (cluster, app_key) = (&cluster, &app_key);
            async move {
                match cluster
                    .local_read(id, history_of(app_key, &conversation))
                    .await
                {
                    Some(QueryOutput::Messages(messages)) => {
                        Some(messages.into_iter().map(|m| m.content).collect::<Vec<_>>())
                    }
                    _ => None,
                }
            }
        };
        eventually(
            Duration::from_secs(30),
            &format!("node {id} without expired history"),
            || async { (history(ab.clone()).await? == ["now"]).then_some(()) },
        )
        .await;
        assert_eq!(history(ac.clone()).await.unwrap(), ["yesterday"]);
    }
}
