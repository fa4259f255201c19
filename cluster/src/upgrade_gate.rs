//! Rolling upgrades (LIFE-05): every node keeps the lowest command level among the
//! area's voters, polling each one's status every second, and the leader's writer refuses a command of a
//! higher level (`CommandError::Upgrading`) instead of proposing what some replica
//! could not apply. A voter's last known level is kept while it is unreachable; one never
//! heard from counts at the legacy level, as do builds that report none. Until every
//! voter has been heard from (an area's first moments), a command the gate would refuse
//! waits a little for the next poll ([`UpgradeGate::admit`]), so a fresh area does not
//! refuse what all its builds know.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_rpc::RpcError;
use tokio::sync::Notify;

use crate::api::{ApiReply, ApiRequest};
use crate::client::ClusterClient;
use crate::state::{Command, CommandError, LEGACY_COMMAND_LEVEL};

/// How often the leader asks its voters for their level.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a command waits for the voters to be heard from before it is refused.
const SETTLE_WAIT: Duration = Duration::from_secs(3);

/// The area's command level as this node last found it.
#[derive(Clone)]
pub struct UpgradeGate {
    area_level: Arc<AtomicU32>,
    known: Arc<Mutex<BTreeMap<u64, u32>>>,
    /// Whether every voter of the last poll has been heard from.
    settled: Arc<AtomicBool>,
    polled: Arc<Notify>,
}

impl UpgradeGate {
    /// Until the voters are polled, only what every build knows goes through.
    pub fn new() -> Self {
        Self {
            area_level: Arc::new(AtomicU32::new(LEGACY_COMMAND_LEVEL)),
            known: Arc::default(),
            settled: Arc::default(),
            polled: Arc::default(),
        }
    }

    pub fn area_level(&self) -> u32 {
        self.area_level.load(Ordering::Relaxed)
    }

    /// Why `command` may not be proposed now, if it may not.
    pub fn refusal(&self, command: &Command) -> Option<CommandError> {
        let (needed, area) = (command.level(), self.area_level());
        (needed > area).then_some(CommandError::Upgrading { needed, area })
    }

    /// [`UpgradeGate::refusal`], once every voter has been heard from (or after a short
    /// wait for it): a refusal only because the area's levels are not known yet waits.
    pub async fn admit(&self, command: &Command) -> Option<CommandError> {
        self.admit_within(command, SETTLE_WAIT).await
    }

    async fn admit_within(&self, command: &Command, wait: Duration) -> Option<CommandError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let polled = self.polled.notified();
            let refusal = self.refusal(command);
            if refusal.is_none() || self.settled.load(Ordering::Acquire) {
                return refusal;
            }
            if tokio::time::timeout_at(deadline, polled).await.is_err() {
                return self.refusal(command);
            }
        }
    }

    /// Asks every voter for its level (but this node, `own`: its id and level) and keeps
    /// the lowest.
    pub async fn poll(
        &self,
        (own_id, own_level): (u64, u32),
        voters: &BTreeMap<u64, String>,
        client: &ClusterClient,
    ) {
        let mut levels = Vec::with_capacity(voters.len());
        for (&id, addr) in voters {
            let level = if id == own_id {
                Some(own_level)
            } else {
                match tokio::time::timeout(POLL_EVERY, client.call_node(addr, &ApiRequest::Status))
                    .await
                {
                    Ok(Ok(ApiReply::Status(status))) => Some(status.command_level),
                    // An older build's status does not decode: it reports no level.
                    Ok(Err(RpcError::Codec(_))) => Some(LEGACY_COMMAND_LEVEL),
                    _ => None,
                }
            };
            let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            let level = match level {
                Some(level) => *known.entry(id).insert_entry(level).get(),
                None => known.get(&id).copied().unwrap_or(LEGACY_COMMAND_LEVEL),
            };
            levels.push(level);
        }
        let lowest = levels.into_iter().min().unwrap_or(LEGACY_COMMAND_LEVEL);
        self.area_level.store(lowest, Ordering::Relaxed);
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let settled = voters.keys().all(|id| known.contains_key(id));
        self.settled.store(settled, Ordering::Release);
        self.polled.notify_waiters();
    }
}

impl Default for UpgradeGate {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use meridian_regions::AreaCode;

    use super::*;
    use crate::state::usage::RecordUsage;
    use crate::state::{PutUser, COMMAND_LEVEL};

    fn commands() -> (Command, Command) {
        let old = Command::PutUser(PutUser {
            app_key: "k".into(),
            user_id: "ann".into(),
            name: None,
            portrait: None,
        });
        let new = Command::RecordUsage(RecordUsage {
            app_key: "k".into(),
            counts: Vec::new(),
        });
        (old, new)
    }

    #[tokio::test]
    async fn newer_commands_wait_until_every_voter_knows_them() {
        let (old, new) = commands();
        let gate = UpgradeGate::new();
        assert_eq!(gate.area_level(), LEGACY_COMMAND_LEVEL, "until polled");
        assert_eq!(gate.refusal(&old), None);
        let refused = Some(CommandError::Upgrading {
            needed: new.level(),
            area: LEGACY_COMMAND_LEVEL,
        });
        assert_eq!(gate.refusal(&new), refused);
        let both = Command::All(vec![old.clone(), new.clone()]);
        assert_eq!(
            gate.refusal(&both),
            refused,
            "all or nothing: the newest counts"
        );

        // A lone voter at this build's level: nothing to wait for.
        let client = ClusterClient::new(AreaCode::Sg, Vec::new(), None);
        let voters = BTreeMap::from([(1, "127.0.0.1:1".to_string())]);
        gate.poll((1, COMMAND_LEVEL), &voters, &client).await;
        assert_eq!(gate.refusal(&both), None);
        // A second voter never heard from counts at the legacy level.
        let voters = BTreeMap::from([(1, "127.0.0.1:1".into()), (2, "127.0.0.1:9".into())]);
        gate.poll((1, COMMAND_LEVEL), &voters, &client).await;
        assert_eq!(gate.refusal(&new), refused);
    }

    #[tokio::test]
    async fn a_fresh_gate_lets_a_command_wait_for_the_first_poll_instead_of_refusing_it() {
        let (_, new) = commands();
        let client = ClusterClient::new(AreaCode::Sg, Vec::new(), None);
        let gate = UpgradeGate::new();
        let waiting = tokio::spawn({
            let (gate, new) = (gate.clone(), new.clone());
            async move { gate.admit(&new).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "it waits for the voters' levels");
        let voters = BTreeMap::from([(1, "127.0.0.1:1".to_string())]);
        gate.poll((1, COMMAND_LEVEL), &voters, &client).await;
        assert_eq!(waiting.await.unwrap(), None, "admitted once polled");

        // A voter never heard from: refused after the wait, at the legacy level.
        let gate = UpgradeGate::new();
        let voters = BTreeMap::from([(1, "127.0.0.1:1".into()), (2, "127.0.0.1:9".into())]);
        gate.poll((1, COMMAND_LEVEL), &voters, &client).await;
        let refused = Some(CommandError::Upgrading {
            needed: new.level(),
            area: LEGACY_COMMAND_LEVEL,
        });
        let wait = Duration::from_millis(50);
        assert_eq!(gate.admit_within(&new, wait).await, refused);
    }
}
