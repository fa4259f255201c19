//! A running cluster node: storage, Raft, the RPC and admin listeners, and the tasks that
//! keep metrics current.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use meridian_rpc::{RpcHandler, TlsSettings};
use openraft::async_runtime::WatchReceiver;
use openraft::errors::RaftError;
use openraft::{BasicNode, ServerState};
use prometheus::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::AdminApi;
use crate::api::*;
use crate::client::ClusterClient;
use crate::config::{ConfigError, NodeConfig};
use crate::metrics::ClusterMetrics;
use crate::raft::log_store::{LogStore, LogTuning};
use crate::raft::network::NetworkFactory;
use crate::raft::quorum::QuorumCheck;
use crate::raft::state_machine::StateMachineStore;
use crate::raft::Raft;
use crate::writer::Writer;

mod backup;
mod disk;
mod feed;
mod rpc;
mod sweeps;
use rpc::RpcService;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Listen(#[from] meridian_telemetry::ListenError),
    #[error("{what}: {reason}")]
    Storage { what: String, reason: String },
    #[error("tls: {0}")]
    Tls(String),
    #[error("raft: {0}")]
    Raft(String),
}

/// Shared by the RPC handler, the admin API and the node handle.
pub(crate) struct NodeCore {
    pub config: NodeConfig,
    pub raft: Raft,
    pub quorum: QuorumCheck,
    pub state_machine: StateMachineStore,
    pub log: LogStore,
    pub writer: Writer,
    pub metrics: ClusterMetrics,
    pub disk: disk::DiskReserve,
    pub feed_interests: feed::FeedInterests,
}

pub struct ClusterNode {
    core: Arc<NodeCore>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    rpc_addr: std::net::SocketAddr,
    admin_addr: std::net::SocketAddr,
    registry: Registry,
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl ClusterNode {
    pub async fn start(config: NodeConfig) -> Result<Self, StartError> {
        config.validate()?;
        let raft_config = Arc::new(config.openraft_config()?);
        let rpc_listener = meridian_telemetry::listen("rpc_listen", &config.rpc_listen).await?;
        let admin_listener =
            meridian_telemetry::listen("admin_listen", &config.admin_listen).await?;
        let rpc_addr = rpc_listener
            .local_addr()
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let outbound = meridian_rpc::OutboundClient::with_ca_files(&config.outbound_ca_files)
            .map_err(|e| StartError::Tls(e.to_string()))?;
        let tls = match &config.tls {
            Some(files) => {
                Some(TlsSettings::load(files).map_err(|e| StartError::Tls(e.to_string()))?)
            }
            None => None,
        };

        let labels = [("area".to_string(), config.area.to_string())]
            .into_iter()
            .collect();
        let registry = Registry::new_custom(None, Some(labels))
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let metrics =
            ClusterMetrics::register(&registry).map_err(|e| StartError::Raft(e.to_string()))?;

        let storage_err = |what: &str, e: std::io::Error| StartError::Storage {
            what: format!("{} ({what})", config.data_dir.display()),
            reason: e.to_string(),
        };
        let log = LogStore::open(
            &config.log_dir(),
            LogTuning {
                cache_items: config.storage.log_cache_entries,
                cache_bytes: config.storage.log_cache_bytes,
                flush_batch_wait: Duration::from_micros(config.storage.log_flush_wait_us),
                chunk_bytes: config.storage.log_chunk_bytes,
            },
            metrics.append_fsync_seconds.clone(),
        )
        .map_err(|e| storage_err("raft log", e))?;
        let state_machine = StateMachineStore::open(
            &config.data_dir.join("state"),
            config.area,
            &config.storage,
            metrics.state_machine.clone(),
        )
        .map_err(|e| storage_err("state machine", e))?;

        let raft = Raft::new(
            config.node_id,
            raft_config,
            NetworkFactory::new(
                tls.clone(),
                config
                    .peer_routes
                    .iter()
                    .map(|route| (route.id, route.addr.clone()))
                    .collect(),
                Duration::from_millis(config.raft.election_timeout_min_ms),
            ),
            log.clone(),
            state_machine.clone(),
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let gate = crate::upgrade_gate::UpgradeGate::new();
        let quorum = QuorumCheck::new(
            raft.clone(),
            Duration::from_millis(config.raft.election_timeout_max_ms),
        );
        let writer = Writer::start(
            raft.clone(),
            quorum.clone(),
            metrics.clone(),
            gate.clone(),
            state_machine.clone(),
        );
        let core = Arc::new(NodeCore {
            config: config.clone(),
            raft: raft.clone(),
            quorum,
            state_machine,
            log,
            writer,
            metrics,
            disk: disk::DiskReserve::new(config.data_dir.clone(), config.storage.min_free_bytes),
            feed_interests: feed::FeedInterests::default(),
        });

        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let handler: Arc<dyn RpcHandler> = Arc::new(RpcService { core: core.clone() });
        tasks.push(tokio::spawn({
            let stop = stopped(stop_rx.clone());
            let tls = tls.clone();
            async move {
                if let Err(e) = meridian_rpc::serve(rpc_listener, tls, handler, stop).await {
                    tracing::error!(error = %e, "rpc server failed");
                }
            }
        }));
        let local = ClusterClient::new(
            config.area,
            vec![config.advertised_rpc().to_string()],
            tls.clone(),
        );
        tasks.push(tokio::spawn(poll_command_levels(
            core.clone(),
            gate,
            ClusterClient::new(config.area, Vec::new(), tls),
            stopped(stop_rx.clone()),
        )));
        let admin = Arc::new(AdminApi::new(
            config.operator_token.clone(),
            Arc::new(local),
        ));
        let hooks = Arc::new(AdminHooks {
            core: core.clone(),
            admin,
        });
        tasks.push(tokio::spawn({
            let stop = stopped(stop_rx.clone());
            let registry = registry.clone();
            async move {
                if let Err(e) =
                    meridian_telemetry::serve_admin(admin_listener, registry, hooks, stop).await
                {
                    tracing::error!(error = %e, "admin server failed");
                }
            }
        }));
        tasks.push(tokio::spawn(track_metrics(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(disk::watch(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(crate::raft::snapshot_schedule::run(
            raft.clone(),
            core.state_machine.clone(),
            config.raft.snapshot_every_entries,
            config.node_id,
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::area_level(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::idle_chatrooms(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::broadcast_pushes(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::absent_rtc_members(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::unanswered_calls(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::vanished_call_parties(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::expired_history(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(sweeps::old_feed_events(
            core.clone(),
            stopped(stop_rx.clone()),
        )));
        let senders = crate::hooks::Senders {
            push: meridian_push::PushClient::with_client(outbound.clone()),
            callbacks: outbound,
        };
        let hook_node = crate::hooks::HookNode {
            node_id: config.node_id,
            area: config.area,
            raft: core.raft.clone(),
            state_machine: core.state_machine.clone(),
            writer: core.writer.clone(),
            metrics: core.metrics.clone(),
        };
        tasks.push(tokio::spawn(crate::hooks::dispatch(
            Arc::new(hook_node),
            senders,
            stopped(stop_rx),
        )));

        let node = Self {
            core,
            stop,
            tasks,
            rpc_addr,
            admin_addr,
            registry,
        };
        node.bootstrap().await?;
        Ok(node)
    }

    /// A fresh node listed first among its peers initializes the cluster; the others
    /// wait for it. Already-initialized nodes just resume.
    async fn bootstrap(&self) -> Result<(), StartError> {
        let config = &self.core.config;
        let Some(first) = config.peers.iter().map(|p| p.id).min() else {
            return Ok(());
        };
        let initialized = self
            .core
            .raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if initialized || first != config.node_id {
            return Ok(());
        }
        let members: BTreeMap<u64, BasicNode> = config
            .peers
            .iter()
            .map(|p| {
                (
                    p.id,
                    BasicNode {
                        addr: p.addr.clone(),
                    },
                )
            })
            .collect();
        match self.core.raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Another start already initialized it (e.g. restart during bootstrap).
            Err(RaftError::APIError(openraft::errors::InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(StartError::Raft(e.to_string())),
        }
    }

    pub fn node_id(&self) -> u64 {
        self.core.config.node_id
    }

    pub fn rpc_addr(&self) -> std::net::SocketAddr {
        self.rpc_addr
    }

    pub fn admin_addr(&self) -> std::net::SocketAddr {
        self.admin_addr
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn status(&self) -> NodeStatus {
        status(&self.core)
    }

    /// Waits until this node knows a leader, up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let mut metrics = self.core.raft.metrics();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                if let Some(leader) = metrics.borrow_watched().current_leader {
                    return Some(leader);
                }
                if metrics.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        waited.ok().flatten()
    }

    /// Resolves with the reason once Raft has stopped on a fatal error (a storage failure
    /// such as a full disk the reserve did not foresee): the node can no longer take
    /// part, so its process should exit and be restarted, which recovers from the last
    /// durable state and catches up from the leader.
    pub async fn failed(&self) -> String {
        let mut metrics = self.core.raft.metrics();
        loop {
            if let Err(fatal) = &metrics.borrow_watched().running_state {
                return fatal.to_string();
            }
            if metrics.changed().await.is_err() {
                return "raft stopped".into();
            }
        }
    }

    /// Stops serving, stops Raft and waits for every task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.core.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

pub(crate) fn status(core: &NodeCore) -> NodeStatus {
    let metrics = core.raft.metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    NodeStatus {
        area: core.config.area,
        node_id: core.config.node_id,
        role: format!("{:?}", metrics.state).to_lowercase(),
        term: metrics.current_term,
        leader: metrics.current_leader,
        last_log_index: metrics.last_log_index,
        committed_index: metrics.local_committed.as_ref().map(|id| id.index),
        applied_index: metrics.last_applied.as_ref().map(|id| id.index),
        snapshot_index: metrics.snapshot.as_ref().map(|id| id.index),
        purged_index: metrics.purged.as_ref().map(|id| id.index),
        learners: membership.learner_ids().collect(),
        voters: voters.into_iter().collect(),
        nodes: membership
            .nodes()
            .map(|(id, node)| (*id, node.addr.clone()))
            .collect(),
        command_level: core.config.claimed_command_level(),
        matched: metrics
            .replication
            .iter()
            .flatten()
            .map(|(id, matched)| (*id, matched.as_ref().map(|log| log.index)))
            .collect(),
    }
}

/// Mirrors Raft metrics and storage sizes into Prometheus gauges.
async fn track_metrics(core: Arc<NodeCore>, stop: impl std::future::Future<Output = ()>) {
    let mut raft_metrics = core.raft.metrics();
    let mut sizes = tokio::time::interval(Duration::from_secs(5));
    tokio::pin!(stop);
    loop {
        {
            let m = raft_metrics.borrow_watched().clone();
            let g = &core.metrics;
            g.term.set(m.current_term as i64);
            let role = match m.state {
                ServerState::Leader => 2,
                ServerState::Candidate => 1,
                _ => 0,
            };
            g.role.set(role);
            g.is_leader.set((role == 2) as i64);
            let index = |id: &Option<crate::raft::LogId>| {
                id.as_ref().map(|id| id.index as i64).unwrap_or(0)
            };
            g.last_log_index.set(m.last_log_index.unwrap_or(0) as i64);
            g.commit_index.set(index(&m.local_committed));
            g.applied_index.set(index(&m.last_applied));
            g.apply_lag
                .set((index(&m.local_committed) - index(&m.last_applied)).max(0));
            g.snapshot_index.set(index(&m.snapshot));
            g.purged_index.set(index(&m.purged));
            g.voters
                .set(m.membership_config.membership().voter_ids().count() as i64);
        }
        tokio::select! {
            changed = raft_metrics.changed() => if changed.is_err() { return },
            _ = sizes.tick() => {
                core.metrics.sled_bytes.set(core.state_machine.sled_bytes_on_disk() as i64);
                core.metrics.raft_log_bytes.set(core.log.on_disk_bytes() as i64);
                for size in core.state_machine.family_sizes() {
                    let family = crate::metrics::RecordFamily { family: size.family };
                    core.metrics.state_family_records.with(&family).set(size.records as i64);
                    core.metrics.state_family_bytes.with(&family).set(size.bytes as i64);
                }
                calls_counted(&core);
                messages_counted(&core);
            }
            _ = &mut stop => return,
        }
    }
}

/// Brings the call-outcome counters up to the replicated tally (it only grows).
fn calls_counted(core: &NodeCore) {
    let query = crate::state::Query::CallOutcomes;
    let Ok(crate::state::QueryOutput::CallOutcomes(counts)) =
        crate::state::query(&core.state_machine.state(), &query)
    else {
        return;
    };
    for (reason, count) in counts {
        let outcome = crate::metrics::CallOutcome {
            outcome: reason.label(),
        };
        let counter = core.metrics.calls_total.with(&outcome);
        counter.inc_by(count.saturating_sub(counter.get()));
    }
}

/// Asks the voters for their command level (LIFE-05); every node does, so one that
/// becomes leader already knows.
async fn poll_command_levels(
    core: Arc<NodeCore>,
    gate: crate::upgrade_gate::UpgradeGate,
    client: ClusterClient,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut every = tokio::time::interval(crate::upgrade_gate::POLL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut raft_metrics = core.raft.metrics();
    let mut polled_voters = BTreeMap::new();
    tokio::pin!(stop);
    loop {
        let membership_changed = tokio::select! {
            _ = every.tick() => false,
            changed = raft_metrics.changed() => {
                if changed.is_err() {
                    return;
                }
                true
            }
            _ = &mut stop => return,
        };
        let metrics = raft_metrics.borrow_and_update().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeMap<u64, String> = membership
            .voter_ids()
            .filter_map(|id| Some((id, membership.get_node(&id)?.addr.clone())))
            .collect();
        // Metrics change with every entry: poll early only for a new set of voters (the
        // area's first moments, a membership change), else once a period.
        if membership_changed && voters == polled_voters {
            continue;
        }
        let own = (core.config.node_id, core.config.claimed_command_level());
        gate.poll(own, &voters, &client).await;
        polled_voters = voters;
    }
}

/// Brings the message counters up to the replicated tally (it only grows).
fn messages_counted(core: &NodeCore) {
    let query = crate::state::Query::MessageTotals;
    let Ok(crate::state::QueryOutput::MessageTotals(totals)) =
        crate::state::query(&core.state_machine.state(), &query)
    else {
        return;
    };
    for (conversation_type, count) in totals {
        let counter = core
            .metrics
            .messages_total
            .with(&crate::metrics::MessageType { conversation_type });
        counter.inc_by(count.saturating_sub(counter.get()));
    }
}

struct AdminHooks {
    core: Arc<NodeCore>,
    admin: Arc<AdminApi>,
}

impl meridian_telemetry::AdminHooks for AdminHooks {
    fn stats(&self) -> serde_json::Value {
        let status = status(&self.core);
        serde_json::json!({
            "component": "cluster",
            "area": status.area,
            "nodeId": status.node_id,
            "role": status.role,
            "term": status.term,
            "leader": status.leader,
            "lastLogIndex": status.last_log_index,
            "committedIndex": status.committed_index,
            "appliedIndex": status.applied_index,
            "snapshotIndex": status.snapshot_index,
            "purgedIndex": status.purged_index,
            "voters": status.voters,
            "learners": status.learners,
            "sledBytes": self.core.state_machine.sled_bytes_on_disk(),
            "raftLogBytes": self.core.log.on_disk_bytes(),
            // What the newest snapshot holds, by record family, largest first.
            "stateFamilies": self.core.state_machine.family_sizes(),
        })
    }

    /// Ready once this node knows a leader (it can serve or forward requests).
    fn ready(&self) -> bool {
        self.core
            .raft
            .metrics()
            .borrow_watched()
            .current_leader
            .is_some()
    }

    fn route(&self, request: http::Request<Bytes>) -> BoxFuture<'static, http::Response<Bytes>> {
        let admin = self.admin.clone();
        async move { admin.handle(request).await }.boxed()
    }
}
