//! `meridian chaos`: starts one area as real processes of the built binary (cluster nodes
//! behind per-link proxies, edges, a nav), drives many clients through it while a seeded
//! schedule of faults runs (SIGKILLs of the leader and followers, partitions, edge
//! restarts, stepped app-server clocks), then heals everything and checks MSG-01 on what
//! every device received and what the cluster stored, that Server API writes and reads of
//! user names and group memberships were linearizable, and that every replica holds the
//! same state.

pub mod checker;
pub mod commercial;
pub mod deployment;
pub mod faults;
pub mod linearizability;
pub mod load;
pub mod proxy;
pub mod registers;
pub mod rooms;
pub mod small_disk;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use meridian_regions::AreaCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use checker::{longest_silence, Ledger, Verdict};
use deployment::{Deployment, Topology};
use load::{Cast, Controls, Load};
use registers::{ApiAccess, RegisterVerdict, Registers};
use rooms::check::{RoomLedger, RoomVerdict};
use rooms::{RoomControls, Rooms};

/// Seconds between fault starts: each fault is held for part of it.
const FAULT_SPACING: Duration = Duration::from_secs(5);
/// How long sends still waiting after the load stops may take, and deliveries to settle.
const SETTLE: Duration = Duration::from_secs(30);

pub struct ChaosOptions {
    /// The `meridian` binary to run as every process.
    pub binary: PathBuf,
    pub area: AreaCode,
    pub duration: Duration,
    pub seed: u64,
    pub nodes: u64,
    pub edges: usize,
    pub users: usize,
    /// Passed to the edges as [`meridian_edge::PLANTED_BUG_ENV`] (proving the checker).
    pub planted_bug: Option<String>,
    /// Keep processes' data and logs here (a temporary directory otherwise, kept only
    /// when the run fails).
    pub work_dir: Option<PathBuf>,
    /// Each node's data on a small disk of its own (a tmpfs: root only), and `fill-disk`
    /// faults in the schedule.
    pub small_disks: bool,
}

/// The size of each node's disk with [`ChaosOptions::small_disks`]: room for a
/// 10-minute run's data at the chaos load, which fills a tenth of it.
pub const SMALL_DISK_MIB: u64 = 2048;

/// Write outages per fault: the longest stretch without any acknowledgement from a
/// fault's start to the next fault's.
#[derive(Debug, Clone, Serialize)]
pub struct Outages {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Outages {
    fn of(per_fault: &[u64]) -> Self {
        let mut sorted = per_fault.to_vec();
        sorted.sort_unstable();
        let rank = |q| checker::nearest_rank(&sorted, q).unwrap_or(0);
        Self {
            p50: rank(0.5),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// The last line `meridian chaos` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The audio/video room traffic's findings.
    pub rooms: RoomVerdict,
    /// Whether the Server API's writes and reads of registers were linearizable.
    pub registers: RegisterVerdict,
    pub faults: u64,
    /// Faults by kind (`kill-leader`, `partition-follower`, …).
    pub fault_counts: BTreeMap<&'static str, u64>,
    /// The longest stretch of the whole run without an acknowledgement.
    pub max_write_outage_ms: u64,
    /// Each fault's write outage, in schedule order; printed as its percentiles.
    #[serde(rename = "write_outage_ms", serialize_with = "as_percentiles")]
    pub outage_per_fault_ms: Vec<u64>,
    /// The longest write outage after a fault of each kind: which faults cost the most.
    #[serde(rename = "write_outage_by_kind_ms")]
    pub outage_by_kind_ms: BTreeMap<&'static str, u64>,
    /// Whether every node ended with the same state digest at the same applied index.
    pub replicas_identical: bool,
    /// Processes that died without being killed.
    pub crashes: Vec<String>,
    pub seed: u64,
    pub areas: Vec<AreaCode>,
}

fn as_percentiles<S: serde::Serializer>(per_fault: &[u64], out: S) -> Result<S::Ok, S::Error> {
    Outages::of(per_fault).serialize(out)
}

impl Report {
    pub fn outages(&self) -> Outages {
        Outages::of(&self.outage_per_fault_ms)
    }

    /// One Markdown row per report (a seed sweep), with a header.
    pub fn table(reports: &[Report]) -> String {
        let mut table = String::from(
            "| seed | area | acked | delivered | lost | duplicated | reordered | phantoms | \
             room notices (changes) | room violations | register operations (open) | \
             linearizable | replicas identical | faults | outage p50 / p99 / max (ms) |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in reports {
            let (v, outages) = (&r.verdict, r.outages());
            let kinds: Vec<String> = r
                .fault_counts
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            let area = r.areas.iter().map(|a| a.as_str()).collect::<Vec<_>>();
            table.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} ({}) | {} | {} | \
                 {} ({}) | {} / {} / {} |\n",
                r.seed,
                area.join(","),
                v.acked,
                v.delivered,
                v.lost,
                v.duplicates,
                v.order_violations,
                v.phantoms,
                r.rooms.notices,
                r.rooms.changes,
                r.rooms.violations(),
                r.registers.operations,
                r.registers.open_writes,
                r.registers.clean(),
                r.replicas_identical,
                r.faults,
                kinds.join(", "),
                outages.p50,
                outages.p99,
                outages.max,
            ));
        }
        table
    }

    pub fn passed(&self) -> bool {
        self.verdict.clean()
            && self.rooms.clean()
            && self.registers.clean()
            && self.replicas_identical
            && self.crashes.is_empty()
    }

    /// One report for runs of several areas: counts added, the worst outage.
    pub fn combine(reports: &[Report]) -> Report {
        let mut total = Report {
            verdict: Verdict::default(),
            rooms: RoomVerdict::default(),
            registers: RegisterVerdict::default(),
            faults: 0,
            fault_counts: BTreeMap::new(),
            max_write_outage_ms: 0,
            outage_per_fault_ms: Vec::new(),
            outage_by_kind_ms: BTreeMap::new(),
            replicas_identical: true,
            crashes: Vec::new(),
            seed: reports.first().map_or(0, |r| r.seed),
            areas: Vec::new(),
        };
        for report in reports {
            let (sum, part) = (&mut total.verdict, &report.verdict);
            sum.acked += part.acked;
            sum.delivered += part.delivered;
            sum.lost += part.lost;
            sum.duplicates += part.duplicates;
            sum.order_violations += part.order_violations;
            sum.phantoms += part.phantoms;
            let (sum, part) = (&mut total.rooms, &report.rooms);
            sum.notices += part.notices;
            sum.changes += part.changes;
            sum.lost += part.lost;
            sum.duplicates += part.duplicates;
            sum.reordered += part.reordered;
            sum.diverged += part.diverged;
            sum.phantoms += part.phantoms;
            sum.unobserved += part.unobserved;
            let (sum, part) = (&mut total.registers, &report.registers);
            sum.operations += part.operations;
            sum.open_writes += part.open_writes;
            sum.not_linearizable
                .extend(part.not_linearizable.iter().cloned());
            total.faults += report.faults;
            for (kind, n) in &report.fault_counts {
                *total.fault_counts.entry(kind).or_default() += n;
            }
            total
                .outage_per_fault_ms
                .extend(&report.outage_per_fault_ms);
            for (kind, ms) in &report.outage_by_kind_ms {
                let worst = total.outage_by_kind_ms.entry(kind).or_default();
                *worst = (*worst).max(*ms);
            }
            total.max_write_outage_ms = total.max_write_outage_ms.max(report.max_write_outage_ms);
            total.replicas_identical &= report.replicas_identical;
            total.crashes.extend(report.crashes.iter().cloned());
            for area in &report.areas {
                if !total.areas.contains(area) {
                    total.areas.push(*area);
                }
            }
        }
        total
    }
}

pub async fn run(options: ChaosOptions) -> anyhow::Result<Report> {
    let temp = tempfile::Builder::new()
        .prefix("meridian-chaos-")
        .tempdir()?;
    let dir = options
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let outcome = run_in(&options, &dir).await;
    let failed = !matches!(&outcome, Ok(report) if report.passed());
    if failed && options.work_dir.is_none() {
        let kept = temp.keep();
        eprintln!("chaos: logs and data kept in {}", kept.display());
    }
    outcome
}

async fn run_in(options: &ChaosOptions, dir: &std::path::Path) -> anyhow::Result<Report> {
    let topology = Topology {
        nodes: options.nodes,
        edges: options.edges,
        small_disks_mib: options.small_disks.then_some(SMALL_DISK_MIB),
        planted_bug: options.planted_bug.clone(),
        whole_feed: false,
    };
    let mut deployment = Deployment::start(&options.binary, dir, &topology, options.area).await?;
    let cast = Arc::new(Cast::set_up(&deployment, options.users).await?);
    let register_access = ApiAccess {
        bases: deployment.edges.iter().map(|e| e.public.clone()).collect(),
        app_key: cast.app_key().to_string(),
        app_secret: cast.app_secret().to_string(),
    };
    Registers::set_up(&register_access).await?;
    let ledger = Arc::new(Ledger::default());
    let (sending_tx, sending) = watch::channel(true);
    let (give_up_tx, give_up) = watch::channel(false);
    let controls = Controls {
        ledger: ledger.clone(),
        started: Instant::now(),
        clock_offset: Arc::new(AtomicI64::new(0)),
        sending,
        give_up,
    };
    let room_ledger = Arc::new(RoomLedger::default());
    let (watchers, actors) = cast.room_users(&deployment);
    let room_controls = RoomControls {
        ledger: room_ledger.clone(),
        app_key: cast.app_key().to_string(),
        started: controls.started,
        sending: controls.sending.clone(),
    };
    let mut rooms = Rooms::start(watchers, actors, room_controls, options.seed).await?;
    let mut load = Load::start(cast.clone(), &deployment, controls.clone(), options.seed);
    let registers = Registers::start(
        register_access.clone(),
        controls.started,
        controls.sending.clone(),
        options.seed,
    );

    let count = (options.duration.as_secs() / FAULT_SPACING.as_secs()) as usize;
    let schedule = faults::schedule(options.seed, count, options.small_disks);
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5eed);
    let load_started = controls.started.elapsed().as_millis() as u64;
    let mut fault_starts = Vec::with_capacity(schedule.len());
    for (index, fault) in schedule.iter().enumerate() {
        // One fault per slot, after a first quiet second so traffic is flowing.
        let slot_start = controls.started + Duration::from_secs(1) + FAULT_SPACING * index as u32;
        tokio::time::sleep_until(slot_start).await;
        let hold = Duration::from_millis(rng.random_range(1_000..3_000));
        let at_ms = controls.started.elapsed().as_millis() as u64;
        fault_starts.push(at_ms);
        faults::inflict(
            &mut deployment,
            *fault,
            hold,
            &controls.clock_offset,
            &mut rng,
            at_ms,
        )
        .await?;
    }
    // Everything is healed; a last quiet slot shows writes flowing again.
    tokio::time::sleep(FAULT_SPACING).await;
    let load_ended = controls.started.elapsed().as_millis() as u64;
    sending_tx.send_replace(false);
    let settle_by = Instant::now() + SETTLE;
    if tokio::time::timeout_at(settle_by, load.senders_done())
        .await
        .is_err()
    {
        give_up_tx.send_replace(true);
        load.senders_done().await;
    }
    while ledger.missing_deliveries() > 0 && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rooms.settle().await;
    let register_verdict = registers.verify().await;
    load.stop().await;
    rooms.stop().await;

    cast.read_storage(&deployment, &ledger).await?;
    let verdict = ledger.verify();
    let room_verdict = room_ledger.verify();
    for example in verdict.examples.iter().chain(&room_verdict.examples) {
        eprintln!("chaos: violation: {example}");
    }
    let digests = deployment.settled_digests(SETTLE).await;
    let replicas_identical = deployment::replicas_identical(&digests);
    let crashes = deployment.crashed();
    if !replicas_identical {
        eprintln!("chaos: replicas differ: {digests:?}");
        explain_differing_replicas(&mut deployment).await;
    }
    let ack_times = ledger.ack_times();
    let fault_ends = fault_starts.iter().skip(1).chain(Some(&load_ended));
    let outage_per_fault_ms: Vec<u64> = fault_starts
        .iter()
        .zip(fault_ends)
        .map(|(start, end)| longest_silence(&ack_times, (*start, *end)))
        .collect();
    let mut fault_counts = BTreeMap::new();
    let mut outage_by_kind_ms = BTreeMap::new();
    for (fault, outage) in schedule.iter().zip(&outage_per_fault_ms) {
        *fault_counts.entry(fault.name()).or_default() += 1;
        let worst: &mut u64 = outage_by_kind_ms.entry(fault.name()).or_default();
        *worst = (*worst).max(*outage);
    }
    Ok(Report {
        verdict,
        rooms: room_verdict,
        registers: register_verdict,
        faults: schedule.len() as u64,
        fault_counts,
        max_write_outage_ms: longest_silence(&ack_times, (load_started, load_ended)),
        outage_per_fault_ms,
        outage_by_kind_ms,
        replicas_identical,
        crashes,
        seed: options.seed,
        areas: vec![options.area],
    })
}

/// What tells a lagging replica from a diverged one: each node's view of the group (on the
/// leader, what each member is known to hold), then the records the stopped nodes hold
/// differently.
async fn explain_differing_replicas(deployment: &mut Deployment) {
    for status in deployment.statuses().await {
        eprintln!("chaos: node status: {status:?}");
    }
    let data_dirs = match deployment.stop_nodes_keeping_data().await {
        Ok(dirs) => dirs,
        Err(e) => return eprintln!("chaos: keeping the nodes' data: {e:#}"),
    };
    let compared = tokio::task::spawn_blocking(move || {
        meridian_cluster::raft::record_differences(&data_dirs, 20)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|compared| compared);
    match compared {
        Ok(differences) if differences.is_empty() => {
            eprintln!("chaos: stopped, the nodes hold the same records");
        }
        Ok(differences) => {
            for difference in differences {
                eprintln!("chaos: record differs: {difference}");
            }
        }
        Err(e) => eprintln!("chaos: comparing the nodes' records: {e}"),
    }
}
