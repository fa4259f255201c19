//! Batches concurrent writes on the leader: while earlier Raft entries are in flight,
//! newly arriving commands queue up and go out together as one entry, so one append
//! and one fsync carry many commands.

use meridian_clock::now_ms;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::Instant;

use openraft::errors::ClientWriteError;
use openraft::impls::ProgressResponder;

use crate::api::LeaderHint;
use crate::coalesce::{Coalescer, Rejected};
use crate::metrics::{ClusterMetrics, CommandResult};
use crate::raft::quorum::QuorumCheck;
use crate::raft::state_machine::StateMachineStore;
use crate::raft::{Raft, TypeConfig};
use crate::state::{Batch, CommandError, EncodedBatch, Envelope, Output};
use crate::upgrade_gate::UpgradeGate;

/// Commands at most in one Raft entry (and in one write request).
pub const MAX_BATCH_COMMANDS: usize = 4096;
/// Raft entries proposed and not yet applied at once; further writes wait and batch.
const MAX_ENTRIES_IN_FLIGHT: usize = 32;
const QUEUE_DEPTH: usize = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    NotLeader(Option<LeaderHint>),
    Unavailable(String),
    /// Proposed, then not seen through (the leader lost its quorum, openraft discarded
    /// the entry on a leader change, or Raft stopped): it may or may not commit.
    Ambiguous(String),
}

pub type WriteResult = Result<Vec<Result<Output, CommandError>>, WriteError>;

#[derive(Clone)]
pub struct Writer {
    entries: Coalescer<Envelope, Result<Output, CommandError>, WriteError>,
    metrics: ClusterMetrics,
    gate: UpgradeGate,
}

pub(crate) fn not_leader_hint(
    forward: &openraft::errors::ForwardToLeader<TypeConfig>,
) -> Option<LeaderHint> {
    match (&forward.leader_id, &forward.leader_node) {
        (Some(id), Some(node)) => Some(LeaderHint {
            id: *id,
            addr: node.addr.clone(),
        }),
        _ => None,
    }
}

impl Writer {
    /// `applied`: the node's state machine, whose newest applied stamp no new one goes
    /// below.
    pub fn start(
        raft: Raft,
        quorum: QuorumCheck,
        metrics: ClusterMetrics,
        gate: UpgradeGate,
        applied: StateMachineStore,
    ) -> Self {
        // Rounds run as concurrent tasks. Stamping a batch and handing it to Raft happen
        // in one turn under this lock, so log order is stamp order: a conversation's
        // history is in time order, which paging by time relies on. The lock also
        // holds the last stamp, so stamps never go backwards even if the wall clock does;
        // nor across a change of leader to a node whose clock is behind: no stamp goes
        // below the newest this node applied, its predecessor's included.
        let turn = Arc::new(Mutex::new(0u64));
        let round_metrics = metrics.clone();
        let entries = Coalescer::start(
            MAX_BATCH_COMMANDS,
            MAX_ENTRIES_IN_FLIGHT,
            QUEUE_DEPTH,
            move |commands: Vec<Envelope>| {
                let (raft, turn, quorum) = (raft.clone(), turn.clone(), quorum.clone());
                let applied = applied.clone();
                let metrics = round_metrics.clone();
                async move {
                    metrics.batch_commands.observe(commands.len() as f64);
                    let answer = {
                        let mut last_issued_ms = turn.lock().await;
                        *last_issued_ms = now_ms().max(*last_issued_ms).max(applied.newest_stamp());
                        let batch = Batch {
                            issued_at_ms: *last_issued_ms,
                            commands,
                        };
                        let encoded = EncodedBatch::encode(&batch).map_err(|e| {
                            WriteError::Unavailable(format!("cannot encode batch: {e}"))
                        })?;
                        let (responder, answer) = ProgressResponder::complete_only();
                        raft.write(encoded)
                            .responder(responder)
                            .await
                            .map_err(|fatal| WriteError::Unavailable(fatal.to_string()))?;
                        answer
                    };
                    // A leader cut off from its quorum stops waiting: the sessions behind
                    // this entry retry at the new leader instead of sitting out the
                    // partition, and their retries are deduplicated there.
                    let answer = tokio::select! {
                        answer = answer => answer,
                        () = quorum.lost() => {
                            metrics.quorum_fenced_total.inc();
                            return Err(WriteError::Ambiguous(
                                "the leader lost its quorum before the write committed".into(),
                            ))
                        }
                    };
                    match answer {
                        Ok(Ok(response)) => Ok(response.data.0),
                        Ok(Err(ClientWriteError::ForwardToLeader(forward))) => {
                            Err(WriteError::NotLeader(not_leader_hint(&forward)))
                        }
                        // Discarded on a leader change: it may still commit elsewhere.
                        Ok(Err(discarded @ ClientWriteError::LogEntryDiscarded(_))) => {
                            Err(WriteError::Ambiguous(discarded.to_string()))
                        }
                        Ok(Err(other)) => Err(WriteError::Unavailable(other.to_string())),
                        Err(_) => Err(WriteError::Ambiguous("raft stopped".into())),
                    }
                }
            },
        );
        Self {
            entries,
            metrics,
            gate,
        }
    }

    /// The area's command level as this node last found it (LIFE-05).
    pub fn gate(&self) -> &UpgradeGate {
        &self.gate
    }

    pub async fn write(&self, commands: Vec<Envelope>) -> WriteResult {
        let received = Instant::now();
        // A command some voter's build cannot apply is refused, not proposed.
        let mut refusals: Vec<Option<CommandError>> = Vec::with_capacity(commands.len());
        for envelope in &commands {
            refusals.push(self.gate.admit(&envelope.command).await);
        }
        let results = if refusals.iter().all(Option::is_none) {
            self.submit(commands).await?
        } else {
            let allowed = commands
                .into_iter()
                .zip(&refusals)
                .filter(|(_, refusal)| refusal.is_none())
                .map(|(envelope, _)| envelope)
                .collect::<Vec<_>>();
            let mut written = match allowed.is_empty() {
                true => Vec::new(),
                false => self.submit(allowed).await?,
            }
            .into_iter();
            refusals
                .into_iter()
                .map(|refusal| match refusal {
                    Some(refusal) => Err(refusal),
                    None => written
                        .next()
                        .unwrap_or_else(|| Err(CommandError::Storage("no result".into()))),
                })
                .collect()
        };
        let refused = results.iter().filter(|r| r.is_err()).count() as u64;
        let writes = &self.metrics.writes_total;
        let ok = results.len() as u64 - refused;
        writes.with(&CommandResult { result: "ok" }).inc_by(ok);
        writes
            .with(&CommandResult { result: "refused" })
            .inc_by(refused);
        self.metrics
            .write_seconds
            .observe(received.elapsed().as_secs_f64());
        Ok(results)
    }

    async fn submit(&self, commands: Vec<Envelope>) -> WriteResult {
        self.entries
            .submit(commands)
            .await
            .map_err(|rejected| match rejected {
                Rejected::Failed(error) => error,
                Rejected::TooLarge { limit } => {
                    WriteError::Unavailable(format!("at most {limit} commands per write"))
                }
                Rejected::Closed => WriteError::Unavailable("node is shutting down".into()),
            })
    }
}
