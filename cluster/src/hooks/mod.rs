//! The leader's callback dispatcher (HOOK-01, HOOK-03, HOOK-04); every callback carries
//! the Server API's signature in its query (HOOK-05, `meridian_proto::signature`).
//!
//! Jobs wait in the replicated outbox (`state::outbox`). The leader reads them in id
//! order and gives each lane (a conversation, a user, a room, a device) to one task at a
//! time, which sends the lane's jobs one after the other, each only once the app server
//! took the one before, so every lane arrives in order; lanes go out side by side.
//! Outcomes are written back through Raft in batches. A new leader resumes from what was
//! committed: at worst it repeats jobs whose delivery was not recorded yet, in their
//! order, with the same `X-Meridian-Event-Id` (at least once, with a stable id).

mod deliver;
mod rate;
pub mod render;

use meridian_clock::now_ms;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_push::PushClient;
use meridian_rpc::OutboundClient;
use openraft::async_runtime::WatchReceiver;
use tokio::sync::mpsc;

use crate::metrics::{CallbackKind, ClusterMetrics};
use crate::raft::state_machine::StateMachineStore;
use crate::raft::Raft;
use crate::state::{self, AppSettings, Job, Query, QueryOutput};
use crate::writer::Writer;
use meridian_regions::AreaCode;

use self::deliver::{app_settings, attempt, record_outcomes, AppLookup, Attempt};
use self::rate::PushRates;
pub use self::render::{channel_type, render, target_id, url_encode, Rendered};
/// The header carrying a job's stable id: a repeated delivery has the same one.
pub const EVENT_ID_HEADER: &str = "x-meridian-event-id";
/// Lanes with a callback to an app server in flight at once.
const MAX_IN_FLIGHT: usize = 64;
/// Push lanes (one per device) in flight at once, apart from the callbacks: a fan-out's
/// pushes of one message share vendor requests (`meridian_push`'s batching) only if many
/// are in flight together, and providers take many concurrent requests (HTTP/2).
const MAX_PUSHES_IN_FLIGHT: usize = 1_024;
/// Jobs one lane is handed per pass.
const LANE_RUN: usize = 256;
/// Outcomes written through Raft in one write at most.
const RECORD_BATCH: usize = 1_000;
/// Passes are at least this far apart, however often jobs arrive.
const MIN_PASS_GAP: Duration = Duration::from_millis(20);
/// Jobs read per pass: lanes beyond these wait for a later pass.
const PASS_JOBS: usize = 5_000;
/// A pass also runs this often when nothing new arrives (backoffs run out).
const IDLE_PASS: Duration = Duration::from_millis(250);
/// How long an app server may take to answer a callback.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the dispatcher uses of its node and nothing more: the replicated state (the
/// outbox, app settings, devices), who leads, the writer outcomes commit through, and
/// the metrics.
pub(crate) struct HookNode {
    pub node_id: u64,
    pub area: AreaCode,
    pub raft: Raft,
    pub state_machine: StateMachineStore,
    pub writer: Writer,
    pub metrics: ClusterMetrics,
}

/// The two clients jobs go out through.
#[derive(Clone)]
pub(crate) struct Senders {
    pub callbacks: OutboundClient,
    pub push: PushClient,
}

/// A lane: its app and its name.
type LaneKey = (String, String);

/// Jobs whose outcome is known but not yet committed (`true`: it went out, `false`: it
/// failed). Passes skip delivered ones and hold a lane back behind a failed one, so no
/// job is sent twice by one leader and none overtakes an earlier one of its lane.
type Settled = Arc<Mutex<HashMap<u64, bool>>>;

/// Runs on every node; does its work while this node leads.
///
/// A pass reads the waiting jobs and hands each idle lane its run of due jobs; the lane's
/// task sends them one after the other, each only after the one before was taken, and
/// stops at the first failure. Outcomes are written through Raft in batches by
/// [`record_outcomes`], so a busy conversation is not slowed to one commit per callback.
pub(crate) async fn dispatch(
    node: Arc<HookNode>,
    senders: Senders,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut head = node.state_machine.outbox_head();
    let settled: Settled = Arc::default();
    let (outcome_tx, outcome_rx) = mpsc::unbounded_channel::<(Job, Attempt)>();
    let (lane_done_tx, mut lane_done_rx) = mpsc::unbounded_channel::<LaneKey>();
    let (recorded_tx, mut recorded_rx) = mpsc::unbounded_channel::<()>();
    let recorder = tokio::spawn(record_outcomes(
        node.clone(),
        outcome_rx,
        settled.clone(),
        recorded_tx,
    ));
    let mut busy_lanes = BusyLanes::default();
    let mut push_rates = PushRates::default();
    let mut sweep = Sweep::default();
    let mut last_pass = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            changed = head.changed() => if changed.is_err() { break },
            Some(lane) = lane_done_rx.recv() => busy_lanes.remove(&lane),
            Some(()) = recorded_rx.recv() => {}
            _ = tokio::time::sleep(IDLE_PASS) => {}
        }
        while let Ok(lane) = lane_done_rx.try_recv() {
            busy_lanes.remove(&lane);
        }
        while recorded_rx.try_recv().is_ok() {}
        node.metrics
            .callbacks_waiting
            .set(waiting(&node).unwrap_or(0) as i64);
        let Some(term) = leading_term(&node) else {
            continue;
        };
        if busy_lanes.all_full() {
            continue;
        }
        // A burst of commits makes one pass, not one per commit.
        tokio::time::sleep_until(last_pass + MIN_PASS_GAP).await;
        last_pass = tokio::time::Instant::now();
        // Read the jobs under the lock: an outcome committed meanwhile must not have
        // left `settled` while its job is still in what we read (it would go out again,
        // after the jobs that followed it).
        let runs = {
            let settled = settled.lock().unwrap_or_else(|e| e.into_inner());
            // Retried dead letters come back under old ids, maybe behind the sweep: it
            // starts over.
            let retries = state::outbox::retries(&node.state_machine.state()).unwrap_or(0);
            if retries != sweep.retries {
                sweep = Sweep {
                    retries,
                    ..Sweep::default()
                };
            }
            let Ok(QueryOutput::Jobs { jobs, .. }) = state::query(
                &node.state_machine.state(),
                &Query::Outbox {
                    after: sweep.after,
                    limit: PASS_JOBS,
                },
            ) else {
                continue;
            };
            let (read, last) = (jobs.len(), jobs.last().map(|job| job.id));
            let runs = due_runs(jobs, &busy_lanes.lanes, &mut sweep.met, &settled, now_ms());
            sweep.advance(read, last);
            runs
        };
        let mut settings: HashMap<String, AppLookup> = HashMap::new();
        let mut rate_caps: HashMap<String, u32> = HashMap::new();
        let pass_started = tokio::time::Instant::now();
        for (lane, mut run) in runs {
            if busy_lanes.full(&lane) {
                continue;
            }
            let app = settings
                .entry(lane.0.clone())
                .or_insert_with(|| app_settings(&node, &lane.0))
                .clone();
            // Cannot read the app now: its lanes wait for a later pass.
            let AppLookup::Read(app) = app else {
                continue;
            };
            // PUSH-01: pushes beyond the app's rate wait for a later pass.
            if is_push_lane(&lane) {
                let cap = *rate_caps
                    .entry(lane.0.clone())
                    .or_insert_with(|| push_rate_cap(&node, &lane.0));
                let allowed = push_rates.take(&lane.0, cap, run.len(), pass_started);
                if allowed == 0 {
                    continue;
                }
                run.truncate(allowed);
            }
            busy_lanes.insert(&lane);
            let lane_task = Lane {
                key: lane,
                term,
                node: node.clone(),
                senders: senders.clone(),
                settled: settled.clone(),
                outcomes: outcome_tx.clone(),
                done: lane_done_tx.clone(),
            };
            tokio::spawn(lane_task.run(run, app));
        }
    }
    drop(outcome_tx);
    let _ = recorder.await;
}

/// The lanes with a task, and how many of them are push lanes: callbacks and pushes each
/// have their own cap on lanes in flight.
#[derive(Default)]
struct BusyLanes {
    lanes: HashSet<LaneKey>,
    pushes: usize,
}

fn is_push_lane(lane: &LaneKey) -> bool {
    lane.1.starts_with("push/")
}

impl BusyLanes {
    fn insert(&mut self, lane: &LaneKey) {
        if self.lanes.insert(lane.clone()) && is_push_lane(lane) {
            self.pushes += 1;
        }
    }

    fn remove(&mut self, lane: &LaneKey) {
        if self.lanes.remove(lane) && is_push_lane(lane) {
            self.pushes -= 1;
        }
    }

    /// Whether no more lanes of `lane`'s kind may start.
    fn full(&self, lane: &LaneKey) -> bool {
        match is_push_lane(lane) {
            true => self.pushes >= MAX_PUSHES_IN_FLIGHT,
            false => self.lanes.len() - self.pushes >= MAX_IN_FLIGHT,
        }
    }

    fn all_full(&self) -> bool {
        self.pushes >= MAX_PUSHES_IN_FLIGHT && self.lanes.len() - self.pushes >= MAX_IN_FLIGHT
    }
}

/// Where passes read the outbox: they sweep it from the oldest job to the newest,
/// [`PASS_JOBS`] at a time, so a backlog of jobs backing off (one app's server down)
/// cannot hide due jobs behind it. Lanes met earlier in a sweep are passed over for the
/// rest of it: their oldest job was met then, and nothing of a lane may overtake it.
#[derive(Default)]
struct Sweep {
    /// The last job id read; the next pass reads after it.
    after: u64,
    /// Lanes met since the sweep began.
    met: HashSet<LaneKey>,
    /// The outbox's retry count when the sweep began.
    retries: u64,
}

impl Sweep {
    /// Moves past the `read` jobs a pass read, the last with id `last`; a short read ends
    /// the sweep, and the next pass starts again from the oldest job.
    fn advance(&mut self, read: usize, last: Option<u64>) {
        match last {
            Some(last) if read >= PASS_JOBS => self.after = last,
            _ => {
                self.after = 0;
                self.met.clear();
            }
        }
    }
}

/// Each idle lane's run of jobs that may go now, lanes in order of their oldest job: a
/// lane's jobs in id order, skipping those already delivered, up to the first that is
/// not due yet or whose failure is not committed yet. Lanes in `met` (met earlier in the
/// sweep) are passed over; the lanes of `jobs` join them.
fn due_runs(
    jobs: Vec<Job>,
    busy: &HashSet<LaneKey>,
    met: &mut HashSet<LaneKey>,
    settled: &HashMap<u64, bool>,
    now_ms: u64,
) -> Vec<(LaneKey, Vec<Job>)> {
    let mut runs: Vec<(LaneKey, Vec<Job>)> = Vec::new();
    let mut index: HashMap<LaneKey, usize> = HashMap::new();
    let mut blocked: HashSet<LaneKey> = HashSet::new();
    let mut seen: HashSet<LaneKey> = HashSet::new();
    for job in jobs {
        let lane = (job.app_key.clone(), job.lane.clone());
        if met.contains(&lane) {
            continue;
        }
        seen.insert(lane.clone());
        if busy.contains(&lane) || blocked.contains(&lane) {
            continue;
        }
        match settled.get(&job.id) {
            Some(true) => continue,
            Some(false) => {
                blocked.insert(lane);
                continue;
            }
            None => {}
        }
        if job.next_attempt_ms > now_ms {
            blocked.insert(lane);
            continue;
        }
        let at = *index.entry(lane.clone()).or_insert_with(|| {
            runs.push((lane.clone(), Vec::new()));
            runs.len() - 1
        });
        if runs[at].1.len() < LANE_RUN {
            runs[at].1.push(job);
        }
    }
    met.extend(seen);
    runs
}

/// What a lane's task needs; dropping it frees the lane (even if a send panicked).
struct Lane {
    key: LaneKey,
    /// The term the lane was handed out in: a deposed leader stops sending.
    term: u64,
    node: Arc<HookNode>,
    senders: Senders,
    settled: Settled,
    outcomes: mpsc::UnboundedSender<(Job, Attempt)>,
    done: mpsc::UnboundedSender<LaneKey>,
}

impl Drop for Lane {
    fn drop(&mut self) {
        let _ = self.done.send(self.key.clone());
    }
}

impl Lane {
    /// Sends the run in order, each after the one before was taken; stops at a failure,
    /// or as soon as this node no longer leads in the term it started in.
    async fn run(self, run: Vec<Job>, app: Option<Arc<(AppSettings, String)>>) {
        for job in run {
            if leading_term(&self.node) != Some(self.term) {
                break;
            }
            let started = tokio::time::Instant::now();
            let attempt = attempt(&self.node, &self.senders, &job, app.clone()).await;
            self.node
                .metrics
                .callback_seconds
                .with(&CallbackKind {
                    kind: job.event.kind(),
                })
                .observe(started.elapsed().as_secs_f64());
            let failed = matches!(attempt, Attempt::Failed(_));
            self.settled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(job.id, !failed);
            if self.outcomes.send((job, attempt)).is_err() || failed {
                break;
            }
        }
    }
}

/// The app's push rate cap (0: none, also when it cannot be read now).
fn push_rate_cap(node: &HookNode, app_key: &str) -> u32 {
    state::push_style::push_rate(&node.state_machine.state(), app_key)
        .map(|rate| rate.per_second)
        .unwrap_or(0)
}

/// The term this node leads in, if it leads.
fn leading_term(node: &HookNode) -> Option<u64> {
    let metrics = node.raft.metrics().borrow_watched().clone();
    (metrics.current_leader == Some(node.node_id)).then_some(metrics.current_term)
}

fn waiting(node: &HookNode) -> Result<u64, state::CommandError> {
    state::outbox::waiting_count(&node.state_machine.state())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DeviceStatus, HookEvent, StatusChange};

    fn job(id: u64, lane: &str, next_attempt_ms: u64) -> Job {
        Job {
            id,
            app_key: "app".into(),
            lane: lane.into(),
            event: HookEvent::Status(StatusChange {
                user_id: lane.into(),
                status: DeviceStatus::Online,
                platform: "iOS".into(),
                client_ip: String::new(),
                session_id: String::new(),
                time_ms: 0,
            }),
            created_ms: 0,
            attempts: 0,
            next_attempt_ms,
            last_error: String::new(),
        }
    }

    fn ids(runs: &[(LaneKey, Vec<Job>)]) -> Vec<(String, Vec<u64>)> {
        runs.iter()
            .map(|(lane, run)| (lane.1.clone(), run.iter().map(|j| j.id).collect()))
            .collect()
    }

    // covers: HOOK-01
    #[test]
    fn a_lane_runs_its_due_jobs_in_order_and_waits_behind_a_failure_or_a_backoff() {
        let jobs = || {
            vec![
                job(1, "a", 0),
                job(2, "b", 0),
                job(3, "a", 0),
                job(4, "c", 5_000),
                job(5, "c", 0),
                job(6, "d", 0),
                job(7, "a", 0),
                job(8, "d", 0),
                job(9, "e", 0),
            ]
        };
        let none = HashMap::new();
        let busy = HashSet::from([("app".to_string(), "e".to_string())]);
        // c's first job is backing off: nothing of c may overtake it; e is busy.
        assert_eq!(
            ids(&due_runs(jobs(), &busy, &mut HashSet::new(), &none, 1_000)),
            [
                ("a".to_string(), vec![1, 3, 7]),
                ("b".to_string(), vec![2]),
                ("d".to_string(), vec![6, 8]),
            ]
        );
        // 1 went out (not committed yet): a resumes at 3. 6 failed (not committed yet):
        // d waits. Once c's backoff ran out, c goes.
        let settled = HashMap::from([(1, true), (6, false)]);
        assert_eq!(
            ids(&due_runs(
                jobs(),
                &HashSet::new(),
                &mut HashSet::new(),
                &settled,
                5_000
            )),
            [
                ("b".to_string(), vec![2]),
                ("a".to_string(), vec![3, 7]),
                ("c".to_string(), vec![4, 5]),
                ("e".to_string(), vec![9]),
            ]
        );
        let many: Vec<Job> = (1..=LANE_RUN as u64 + 10)
            .map(|id| job(id, "a", 0))
            .collect();
        assert_eq!(
            due_runs(many, &HashSet::new(), &mut HashSet::new(), &none, 0)[0]
                .1
                .len(),
            LANE_RUN
        );
    }

    // covers: HOOK-01
    #[test]
    fn a_sweep_reaches_due_jobs_behind_a_full_page_of_waiting_ones_without_reordering_a_lane() {
        // A full page: "stuck" backs off (its app server is down) ahead of everything.
        let mut first_page: Vec<Job> = (1..=PASS_JOBS as u64 - 1)
            .map(|id| job(id, "stuck", 60_000))
            .collect();
        first_page.push(job(PASS_JOBS as u64, "a", 60_000));
        let second_page = vec![
            job(PASS_JOBS as u64 + 1, "a", 0),
            job(PASS_JOBS as u64 + 2, "fresh", 0),
            job(PASS_JOBS as u64 + 3, "stuck", 0),
        ];
        let none = HashMap::new();
        let mut sweep = Sweep::default();
        let runs = due_runs(first_page, &HashSet::new(), &mut sweep.met, &none, 1_000);
        assert!(runs.is_empty());
        sweep.advance(PASS_JOBS, Some(PASS_JOBS as u64));
        assert_eq!(sweep.after, PASS_JOBS as u64);
        // The next pass reads on from there: "fresh" goes; "a" and "stuck" wait behind
        // their oldest jobs, met on the first page.
        let runs = due_runs(second_page, &HashSet::new(), &mut sweep.met, &none, 1_000);
        assert_eq!(
            ids(&runs),
            [("fresh".to_string(), vec![PASS_JOBS as u64 + 2])]
        );
        // That read was short: the sweep starts over from the oldest job.
        sweep.advance(3, Some(PASS_JOBS as u64 + 3));
        assert_eq!((sweep.after, sweep.met.len()), (0, 0));
    }
}
