//! What the leader proposes on a timer: the chatroom sweep (CHR-07, CHR-08) with the
//! expiry of dead edges' sessions, and the next batches of broadcasts' pushes (SYS-02).

use std::sync::Arc;
use std::time::Duration;

use super::NodeCore;
use crate::state;

/// How often the leader sweeps chatrooms: CHR-08 destroys idle rooms after an hour, CHR-07
/// auto-exits offline members 30 s after the first message they missed (so within 40 s).
const CHATROOM_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// On the leader, proposes the chatroom sweep for every app environment and the expiry of
/// dead edges' sessions.
/// The command carries no clock: each replica judges idleness by the entry's stamp.
pub(super) async fn idle_chatrooms(
    core: Arc<NodeCore>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut every = tokio::time::interval(CHATROOM_SWEEP_EVERY);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = &mut stop => return,
        }
        if !core.raft.is_leader() {
            continue;
        }
        let apps = match state::query(core.state_machine.state(), &state::Query::ListApps) {
            Ok(state::QueryOutput::Apps(apps)) => apps,
            _ => continue,
        };
        let commands: Vec<state::Envelope> = apps
            .iter()
            .flat_map(|app| [&app.dev, &app.prod])
            .map(|creds| {
                state::Command::DestroyIdleChatrooms(state::DestroyIdleChatrooms {
                    app_key: creds.app_key.clone(),
                })
            })
            // Sessions of edges that stopped renewing their lease go offline.
            .chain(std::iter::once(state::Command::ExpireEdges(
                state::ExpireEdges,
            )))
            .map(|command| state::Envelope {
                area: core.config.area,
                command,
            })
            .collect();
        if !commands.is_empty() {
            if let Err(e) = core.writer.write(commands).await {
                tracing::debug!(error = ?e, "idle chatroom sweep not committed");
            }
        }
    }
}

/// How often the leader pushes the next batch of each pending broadcast: a batch is
/// `BROADCAST_PUSH_BATCH` devices, so about that many devices a second.
const BROADCAST_PUSH_EVERY: Duration = Duration::from_secs(1);

/// On the leader, proposes the next batch of pushes for every app with a broadcast whose
/// devices are still being gone through.
pub(super) async fn broadcast_pushes(
    core: Arc<NodeCore>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut every = tokio::time::interval(BROADCAST_PUSH_EVERY);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = &mut stop => return,
        }
        if !core.raft.is_leader() {
            continue;
        }
        let local = core.state_machine.state();
        let apps = match state::query(local, &state::Query::ListApps) {
            Ok(state::QueryOutput::Apps(apps)) => apps,
            _ => continue,
        };
        let commands: Vec<state::Envelope> = apps
            .iter()
            .flat_map(|app| [&app.dev, &app.prod])
            .filter(|creds| state::pending_broadcast_pushes(local, &creds.app_key).unwrap_or(false))
            .map(|creds| state::Envelope {
                area: core.config.area,
                command: state::Command::ExpandBroadcastPushes(state::ExpandBroadcastPushes {
                    app_key: creds.app_key.clone(),
                }),
            })
            .collect();
        if !commands.is_empty() {
            if let Err(e) = core.writer.write(commands).await {
                tracing::debug!(error = ?e, "broadcast pushes not committed");
            }
        }
    }
}
