//! Batches concurrent writes on the leader: while earlier Raft entries are in flight,
//! newly arriving commands queue up and go out together as one entry, so one append
//! and one fsync carry many commands.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openraft::errors::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::api::LeaderHint;
use crate::metrics::ClusterMetrics;
use crate::raft::{Raft, TypeConfig};
use crate::state::{Batch, CommandError, Envelope, Output};

/// Commands at most in one Raft entry.
pub const MAX_BATCH_COMMANDS: usize = 4096;
/// Raft entries proposed and not yet applied at once; further writes wait and batch.
const MAX_ENTRIES_IN_FLIGHT: usize = 32;
const QUEUE_DEPTH: usize = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    NotLeader(Option<LeaderHint>),
    Unavailable(String),
}

pub type WriteResult = Result<Vec<Result<Output, CommandError>>, WriteError>;

struct Job {
    commands: Vec<Envelope>,
    reply: oneshot::Sender<WriteResult>,
    received: Instant,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(raft: Raft, metrics: ClusterMetrics) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(raft, metrics, jobs));
        Self { queue }
    }

    pub async fn write(&self, commands: Vec<Envelope>) -> WriteResult {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        if commands.len() > MAX_BATCH_COMMANDS {
            return Err(WriteError::Unavailable(format!(
                "at most {MAX_BATCH_COMMANDS} commands per write"
            )));
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            commands,
            reply,
            received: Instant::now(),
        };
        if self.queue.send(job).await.is_err() {
            return Err(WriteError::Unavailable("node is shutting down".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(WriteError::Unavailable("node is shutting down".into())))
    }
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn run(raft: Raft, metrics: ClusterMetrics, mut jobs: mpsc::Receiver<Job>) {
    let in_flight = Arc::new(Semaphore::new(MAX_ENTRIES_IN_FLIGHT));
    let mut last_issued_ms = 0;
    // A job that did not fit the previous entry leads the next one.
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut size = first.commands.len();
        let mut batch_jobs = vec![first];
        while size < MAX_BATCH_COMMANDS {
            match jobs.try_recv() {
                Ok(job) if size + job.commands.len() <= MAX_BATCH_COMMANDS => {
                    size += job.commands.len();
                    batch_jobs.push(job);
                }
                Ok(job) => {
                    carried = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        // Stamps never go backwards, even if the wall clock does.
        last_issued_ms = last_issued_ms.max(now_ms());
        spawn_entry(&raft, &metrics, batch_jobs, last_issued_ms, permit);
    }
}

fn spawn_entry(
    raft: &Raft,
    metrics: &ClusterMetrics,
    jobs: Vec<Job>,
    issued_at_ms: u64,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let raft = raft.clone();
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let sizes: Vec<usize> = jobs.iter().map(|j| j.commands.len()).collect();
        let mut commands = Vec::with_capacity(sizes.iter().sum());
        let mut waiting = Vec::with_capacity(jobs.len());
        for job in jobs {
            commands.extend(job.commands);
            waiting.push((job.reply, job.received));
        }
        metrics.batch_commands.observe(commands.len() as f64);
        let result = raft
            .client_write(Batch {
                issued_at_ms,
                commands,
            })
            .await;
        drop(permit);
        match result {
            Ok(response) => {
                let mut outcomes = response.data.0.into_iter();
                for ((reply, received), size) in waiting.into_iter().zip(sizes) {
                    let mine: Vec<_> = outcomes.by_ref().take(size).collect();
                    let refused = mine.iter().filter(|r| r.is_err()).count() as u64;
                    metrics
                        .writes_total
                        .with_label_values(&["ok"])
                        .inc_by(size as u64 - refused);
                    metrics
                        .writes_total
                        .with_label_values(&["refused"])
                        .inc_by(refused);
                    metrics
                        .write_seconds
                        .observe(received.elapsed().as_secs_f64());
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let error = match &e {
                    RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                        WriteError::NotLeader(not_leader_hint(forward))
                    }
                    other => WriteError::Unavailable(other.to_string()),
                };
                for (reply, _) in waiting {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    });
}
