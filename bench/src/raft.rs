//! `meridian bench raft`: acknowledged writes (durable and majority-committed) per second
//! and their latency on a 3-node loopback cluster, next to a 3-member etcd and a 3-server
//! NATS JetStream (a stream of three replicas) measured in the same run with the same
//! concurrency.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use meridian_cluster::state::{Command, Envelope, PutUser};
use meridian_regions::AreaCode;
use serde_json::json;

use crate::area::start_bench_area;
use crate::etcd::bench_etcd;
use crate::host::{find_binary, scratch_dir};
use crate::measure::{drive, machine, Measurement};
use crate::nats::bench_nats;

#[derive(Args)]
pub struct RaftArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Concurrent writers, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    writers: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// The etcd binary for the baseline (Debian's etcd-server installs /usr/bin/etcd).
    #[arg(long, default_value = "etcd")]
    etcd: String,
    /// Skip the etcd baseline.
    #[arg(long)]
    no_etcd: bool,
    /// The NATS server for the JetStream baseline (Debian's nats-server).
    #[arg(long, default_value = "nats-server")]
    nats: String,
    /// Skip the NATS JetStream baseline.
    #[arg(long)]
    no_nats: bool,
}

/// Acknowledged user writes per second for each writer count, on a fresh in-process area.
async fn bench_meridian(
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let (nodes, client, creds) = start_bench_area(dir, Vec::new()).await?;
    let mut results = Vec::new();
    for &count in writers {
        let client = client.clone();
        let app_key = creds.app_key.clone();
        let measurement = drive(count, duration, move |writer, n| {
            let client = client.clone();
            let envelope = Envelope {
                area: AreaCode::Sg,
                command: Command::PutUser(PutUser {
                    app_key: app_key.clone(),
                    user_id: format!("w{count}-{writer}-{n}"),
                    name: Some("bench user".into()),
                    portrait: None,
                }),
            };
            async move {
                client.write_one(envelope).await?;
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    for node in nodes {
        node.shutdown().await;
    }
    Ok(results)
}

/// A baseline's binary, or why the run cannot measure it.
fn baseline_binary(
    name: &str,
    package: &str,
    skip_flag: &str,
) -> anyhow::Result<std::path::PathBuf> {
    find_binary(name).with_context(|| {
        format!("{name:?} not found (install Debian's {package}, or pass {skip_flag})")
    })
}

/// Meridian's writes per second over a baseline's, point by point.
fn ratios(meridian: &[Measurement], baseline: &[Measurement]) -> Vec<f64> {
    meridian
        .iter()
        .zip(baseline)
        .map(|(m, b)| {
            if b.writes_per_sec > 0.0 {
                m.writes_per_sec / b.writes_per_sec
            } else {
                0.0
            }
        })
        .collect()
}

pub async fn run(args: RaftArgs) -> anyhow::Result<()> {
    let RaftArgs {
        json: as_json,
        writers,
        seconds,
        etcd,
        no_etcd,
        nats,
        no_nats,
    } = args;
    let duration = Duration::from_secs(seconds.max(1));
    let dir = scratch_dir()?;
    let meridian = bench_meridian(&dir.join("meridian"), &writers, duration).await?;
    let etcd_results = if no_etcd {
        None
    } else {
        let binary = baseline_binary(&etcd, "etcd-server", "--no-etcd")?;
        Some(bench_etcd(&binary, &dir.join("etcd"), &writers, duration).await?)
    };
    let nats_results = if no_nats {
        None
    } else {
        let binary = baseline_binary(&nats, "nats-server", "--no-nats")?;
        Some(bench_nats(&binary, &dir.join("nats"), &writers, duration).await?)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let etcd_ratios = etcd_results.as_ref().map(|etcd| ratios(&meridian, etcd));
    let nats_ratios = nats_results.as_ref().map(|nats| ratios(&meridian, nats));
    if as_json {
        println!(
            "{}",
            json!({
                "benchmark": "raft",
                "machine": machine(),
                "seconds_per_point": seconds,
                "meridian": meridian,
                "etcd": etcd_results,
                "ratio": etcd_ratios,
                "nats_jetstream": nats_results,
                "ratio_nats": nats_ratios,
            })
        );
    } else {
        println!(
            "writers  meridian w/s   p50 ms   p99 ms |   etcd w/s   p50 ms   p99 ms |  ratio |   nats w/s   p50 ms   p99 ms |  ratio"
        );
        let cells = |results: &Option<Vec<Measurement>>, ratios: &Option<Vec<f64>>, i: usize| {
            let m = results.as_ref().and_then(|r| r.get(i));
            let r = ratios.as_ref().and_then(|r| r.get(i));
            format!(
                "{:>10} {:>8} {:>8} | {:>6}",
                m.map_or("-".into(), |m| format!("{:.0}", m.writes_per_sec)),
                m.map_or("-".into(), |m| format!("{:.2}", m.p50_ms)),
                m.map_or("-".into(), |m| format!("{:.2}", m.p99_ms)),
                r.map_or("-".into(), |r| format!("{r:.2}x")),
            )
        };
        for (i, m) in meridian.iter().enumerate() {
            println!(
                "{:>7} {:>13.0} {:>8.2} {:>8.2} | {} | {}",
                m.writers,
                m.writes_per_sec,
                m.p50_ms,
                m.p99_ms,
                cells(&etcd_results, &etcd_ratios, i),
                cells(&nats_results, &nats_ratios, i),
            );
        }
    }
    Ok(())
}
