//! `meridian chaos`: one area as real processes under a seeded schedule of faults, checked
//! (the `meridian-chaos` crate does the work).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use meridian_regions::AreaCode;

use crate::until_signalled;

#[derive(Args)]
pub struct ChaosArgs {
    /// Areas to run, one after the other, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "SG")]
    areas: Vec<AreaCode>,
    /// How long faults are injected (one every 5 s, at least 10), e.g. 60s or 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Seed of the fault schedule and the traffic.
    #[arg(long, default_value_t = 1, conflicts_with = "seeds")]
    seed: u64,
    /// A sweep: every seed of `FIRST..LAST` (inclusive) in turn, one verdict line each,
    /// then the combined verdict and a Markdown table (stderr).
    #[arg(long, value_parser = parse_seed_range)]
    seeds: Option<std::ops::RangeInclusive<u64>>,
    /// Cluster nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Edges (sessions are spread over them).
    #[arg(long, default_value_t = 2)]
    edges: usize,
    /// Users, each with one WebSocket session.
    #[arg(long, default_value_t = 6)]
    users: usize,
    /// Keep processes' data and logs here (otherwise a temporary directory, kept on failure).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Each node's data on a small disk of its own (a 2 GiB tmpfs: needs root), and
    /// faults that fill a follower's disk.
    #[arg(long)]
    small_disks: bool,
    /// Test only: plant bugs in the edges to prove the checker catches them
    /// (`ack-before-commit`, `drop-room-notice`, `stale-user-info`, comma-separated).
    #[arg(long, hide = true)]
    plant_bug: Option<String>,
}

/// `90`, `90s`, `2m` or `500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with s, m or ms"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "ms" => Ok(Duration::from_millis(number)),
        _ => Err(format!("{text:?}: unknown unit {unit:?} (s, m or ms)")),
    }
}

/// `1..20`: the seeds 1 to 20.
fn parse_seed_range(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let (first, last) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?}: expected FIRST..LAST, e.g. 1..20"))?;
    let number = |n: &str| {
        n.parse::<u64>()
            .map_err(|_| format!("{text:?}: {n:?} is not a seed"))
    };
    let (first, last) = (number(first)?, number(last)?);
    if first > last {
        return Err(format!("{text:?}: the first seed is after the last"));
    }
    Ok(first..=last)
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    if args.nodes < 3 || args.nodes.is_multiple_of(2) {
        bail!("--nodes must be odd and at least 3 (a fault must leave a majority)");
    }
    if args.edges == 0 || args.users < 3 {
        bail!("--edges must be at least 1 and --users at least 3");
    }
    if args.plant_bug.is_some() && !meridian_edge::PLANTED_BUG_AVAILABLE {
        bail!("--plant-bug needs a build with the planted-bug feature (the tests' build)");
    }
    let ignored: Vec<&str> = [
        (meridian_cluster::raft::slow_fsync::AVAILABLE, "slow-fsync"),
        (meridian_clock::JUMPS_AVAILABLE, "jump-clock"),
    ]
    .into_iter()
    .filter_map(|(available, fault)| (!available).then_some(fault))
    .collect();
    if !ignored.is_empty() {
        eprintln!(
            "meridian chaos: this build ignores the {} faults it schedules \
             (build with --features planted-bug, as the tests' build is)",
            ignored.join(" and ")
        );
    }
    let sweep = args.seeds.clone();
    let seeds = sweep.clone().unwrap_or(args.seed..=args.seed);
    let mut reports = Vec::new();
    for seed in seeds {
        for &area in &args.areas {
            let work_dir = args.work_dir.as_ref().map(|dir| match sweep {
                Some(_) => dir.join(format!("seed-{seed}")).join(area.as_str()),
                None => dir.join(area.as_str()),
            });
            let run = meridian_chaos::run(meridian_chaos::ChaosOptions {
                binary: std::env::current_exe().context("locating the meridian binary")?,
                area,
                duration: args.duration,
                seed,
                nodes: args.nodes,
                edges: args.edges,
                users: args.users,
                planted_bug: args.plant_bug.clone(),
                work_dir,
                small_disks: args.small_disks,
            });
            // Ctrl-C or SIGTERM drops the run: its processes are killed, its disks
            // unmounted and its directory removed, instead of left behind.
            let report = tokio::select! {
                report = run => report?,
                () = until_signalled() => bail!("interrupted: the run's processes are stopped"),
            };
            if sweep.is_some() {
                println!("{}", serde_json::to_string(&report)?);
            }
            reports.push(report);
        }
    }
    let passed = reports.iter().all(|r| r.passed());
    let last = match reports.len() {
        1 => serde_json::to_string(&reports[0])?,
        _ => serde_json::to_string(&meridian_chaos::Report::combine(&reports))?,
    };
    if sweep.is_some() {
        eprintln!("{}", meridian_chaos::Report::table(&reports));
    }
    println!("{last}");
    if !passed {
        bail!("the chaos run found violations");
    }
    Ok(())
}
