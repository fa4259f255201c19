//! Every metric a cluster node exports (DESIGN §8: `meridian_cluster_<what>_<unit>`,
//! labelled only by area).

use meridian_telemetry::labels::{CounterFamily, GaugeFamily, HistogramFamily};
use meridian_telemetry::{histogram, label_set, LATENCY_BUCKETS};
use prometheus::{Histogram, IntCounter, IntGauge, Registry};

use crate::raft::state_machine::StateMachineMetrics;

label_set! {
    /// Whether a committed command applied (`ok`) or was refused.
    pub struct CommandResult { result: &'static str }
}

label_set! {
    /// A family of state records (a key's text up to its first `/`).
    pub struct RecordFamily { family: String }
}

label_set! {
    /// A callback's kind (`message`, `status`, `push`, …).
    pub struct CallbackKind { kind: &'static str }
}

label_set! {
    /// A callback attempt: its kind and how it went.
    pub struct CallbackAttempt { kind: &'static str, outcome: &'static str }
}

label_set! {
    /// How a call ended (RTC-10): `cancelled`, `rejected`, `busy`, `noAnswer`, `hangup`,
    /// `network`.
    pub struct CallOutcome { outcome: &'static str }
}

label_set! {
    /// A conversation type as the usage counters name it (`private`, `group`, …).
    pub struct MessageType { conversation_type: String }
}

#[derive(Clone)]
pub struct ClusterMetrics {
    pub term: IntGauge,
    /// 0 follower or learner, 1 candidate, 2 leader (see [`role_value`]).
    pub role: IntGauge,
    pub is_leader: IntGauge,
    pub last_log_index: IntGauge,
    pub commit_index: IntGauge,
    pub applied_index: IntGauge,
    pub apply_lag: IntGauge,
    pub snapshot_index: IntGauge,
    pub purged_index: IntGauge,
    pub voters: IntGauge,
    pub append_fsync_seconds: Histogram,
    pub state_machine: StateMachineMetrics,
    pub sled_bytes: IntGauge,
    pub raft_log_bytes: IntGauge,
    /// The newest snapshot's records and bytes by record family.
    pub state_family_records: GaugeFamily<RecordFamily>,
    pub state_family_bytes: GaugeFamily<RecordFamily>,
    pub writes_total: CounterFamily<CommandResult>,
    pub batch_commands: Histogram,
    pub write_seconds: Histogram,
    pub forwarded_total: IntCounter,
    pub quorum_fenced_total: IntCounter,
    /// Feed events the leader sent to edges (filtered by their interests when they send one).
    pub feed_events_served: IntCounter,
    /// From a feed event's apply on the leader to the answer of the poll that carries it.
    pub feed_wait_seconds: Histogram,
    /// The disk reserve (`node/disk.rs`).
    pub disk_free_bytes: IntGauge,
    pub disk_low: IntGauge,
    pub disk_refused_total: IntCounter,
    /// Callbacks to app servers (HOOK), by kind: routing, online_status, chatroom_state.
    pub callbacks_waiting: IntGauge,
    pub callback_attempts_total: CounterFamily<CallbackAttempt>,
    pub callback_dead_letters_total: CounterFamily<CallbackKind>,
    pub callback_seconds: HistogramFamily<CallbackKind>,
    /// Calls of the area ended, by outcome: the replicated tally, so every node of the
    /// area reports the same and a restart loses nothing.
    pub calls_total: CounterFamily<CallOutcome>,
    /// Messages of the area published, by conversation type: the replicated tally, like
    /// the calls' (the apps' usage figures add up to it, CON-01).
    pub messages_total: CounterFamily<MessageType>,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl ClusterMetrics {
    /// Registers into `registry`, which carries the process's constant labels (area).
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let writes_total = CounterFamily::counter(
            registry,
            "meridian_cluster_commands_total",
            "Commands committed through Raft, by result (ok or refused)",
        )?;
        let callback_seconds = HistogramFamily::histogram(
            registry,
            "meridian_cluster_callback_seconds",
            "Time an app server took to answer one callback attempt, by kind",
            Some(LATENCY_BUCKETS.to_vec()),
        )?;
        let calls_total = CounterFamily::counter(
            registry,
            "meridian_cluster_calls_total",
            "Calls of the area that ended, by outcome",
        )?;
        let messages_total = CounterFamily::counter(
            registry,
            "meridian_cluster_messages_total",
            "Messages of the area published (stored or status), by conversation type",
        )?;
        Ok(Self {
            calls_total,
            messages_total,
            term: gauge(registry, "meridian_cluster_raft_term", "Current Raft term")?,
            role: gauge(
                registry,
                "meridian_cluster_raft_role",
                "Raft role: 0 follower/learner, 1 candidate, 2 leader",
            )?,
            is_leader: gauge(
                registry,
                "meridian_cluster_raft_is_leader",
                "1 when this node is the leader",
            )?,
            last_log_index: gauge(
                registry,
                "meridian_cluster_raft_last_log_index",
                "Index of the last log entry",
            )?,
            commit_index: gauge(
                registry,
                "meridian_cluster_raft_commit_index",
                "Highest committed log index",
            )?,
            applied_index: gauge(
                registry,
                "meridian_cluster_raft_applied_index",
                "Highest applied log index",
            )?,
            apply_lag: gauge(
                registry,
                "meridian_cluster_raft_apply_lag_entries",
                "Committed entries not yet applied",
            )?,
            snapshot_index: gauge(
                registry,
                "meridian_cluster_raft_snapshot_index",
                "Last log index in the snapshot",
            )?,
            purged_index: gauge(
                registry,
                "meridian_cluster_raft_purged_index",
                "Last purged log index",
            )?,
            voters: gauge(
                registry,
                "meridian_cluster_raft_voters",
                "Voters in the current membership",
            )?,
            append_fsync_seconds: histogram(
                registry,
                "meridian_cluster_log_append_fsync_seconds",
                "Time from a log append to its fdatasync completing",
                LATENCY_BUCKETS,
            )?,
            state_machine: StateMachineMetrics {
                apply_seconds: histogram(
                    registry,
                    "meridian_cluster_apply_seconds",
                    "Time to apply one round of committed entries to the state machine",
                    LATENCY_BUCKETS,
                )?,
                snapshots_built: counter(
                    registry,
                    "meridian_cluster_snapshots_built_total",
                    "Snapshots built",
                )?,
                snapshots_installed: counter(
                    registry,
                    "meridian_cluster_snapshots_installed_total",
                    "Snapshots received from the leader and installed",
                )?,
                compactions: counter(
                    registry,
                    "meridian_cluster_sled_compactions_total",
                    "Rewrites of the state machine's sled into a fresh directory",
                )?,
                compacted_from_index: gauge(
                    registry,
                    "meridian_cluster_sled_compacted_from_index",
                    "The applied index the last finished rewrite of sled began at: nothing removed before it is left in sled's files (0: none since start)",
                )?,
            },
            sled_bytes: gauge(
                registry,
                "meridian_cluster_sled_size_bytes",
                "State machine size on disk",
            )?,
            raft_log_bytes: gauge(
                registry,
                "meridian_cluster_raft_log_size_bytes",
                "Raft log size on disk",
            )?,
            state_family_records: GaugeFamily::gauge(
                registry,
                "meridian_cluster_state_family_records",
                "State records in the newest snapshot, by family (a key's text up to its first /)",
            )?,
            state_family_bytes: GaugeFamily::gauge(
                registry,
                "meridian_cluster_state_family_bytes",
                "Bytes (keys and values) of state records in the newest snapshot, by family",
            )?,
            writes_total,
            batch_commands: histogram(
                registry,
                "meridian_cluster_batch_commands",
                "Commands carried by one Raft entry",
                &[
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
                ],
            )?,
            write_seconds: histogram(
                registry,
                "meridian_cluster_write_seconds",
                "Time from a write reaching the leader to its commit and apply",
                LATENCY_BUCKETS,
            )?,
            forwarded_total: counter(
                registry,
                "meridian_cluster_not_leader_answers_total",
                "Requests answered with a redirect to the leader",
            )?,
            quorum_fenced_total: counter(
                registry,
                "meridian_cluster_quorum_fenced_total",
                "Requests a leader refused, and writes it stopped waiting for (outcome unknown), because no majority had acknowledged it for an election timeout",
            )?,
            feed_events_served: counter(
                registry,
                "meridian_cluster_feed_events_served_total",
                "Feed events this node sent to edges as their leader (only those concerning an edge's sessions when it sends its interest)",
            )?,
            feed_wait_seconds: histogram(
                registry,
                "meridian_cluster_feed_wait_seconds",
                "Time from a feed event's apply on the leader to its edge's poll being answered with it",
                LATENCY_BUCKETS,
            )?,
            disk_free_bytes: gauge(
                registry,
                "meridian_cluster_disk_free_bytes",
                "Free space of the node's data directory",
            )?,
            disk_low: gauge(
                registry,
                "meridian_cluster_disk_low",
                "1 while the data directory's free space is below the reserve (storage.min_free_bytes) and the node takes no Raft entries",
            )?,
            disk_refused_total: counter(
                registry,
                "meridian_cluster_disk_refused_total",
                "Writes, appends and snapshots the node refused because its disk was below the reserve",
            )?,
            callbacks_waiting: gauge(
                registry,
                "meridian_cluster_callbacks_waiting",
                "Callbacks to app servers waiting in the replicated outbox",
            )?,
            callback_attempts_total: CounterFamily::counter(
                registry,
                "meridian_cluster_callback_attempts_total",
                "Callback attempts by the leader, by kind and outcome (delivered, failed, dropped)",
            )?,
            callback_dead_letters_total: CounterFamily::counter(
                registry,
                "meridian_cluster_callback_dead_letters_total",
                "Callbacks moved to dead letters after their app's retry cap, by kind",
            )?,
            callback_seconds,
        })
    }
}
