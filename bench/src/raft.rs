//! `meridian bench raft`: acknowledged writes (durable and majority-committed) per second
//! and their latency on a 3-node loopback cluster, next to a 3-member etcd measured in the
//! same run with the same concurrency.

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
}

/// Acknowledged user writes per second for each writer count, on a fresh in-process area.
async fn bench_meridian(
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let (nodes, client, creds) = start_bench_area(dir).await?;
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

pub async fn run(args: RaftArgs) -> anyhow::Result<()> {
    let RaftArgs {
        json: as_json,
        writers,
        seconds,
        etcd,
        no_etcd,
    } = args;
    let duration = Duration::from_secs(seconds.max(1));
    let dir = scratch_dir()?;
    let meridian = bench_meridian(&dir.join("meridian"), &writers, duration).await?;
    let etcd_results = if no_etcd {
        None
    } else {
        let binary = find_binary(&etcd).with_context(|| {
            format!(
                "etcd binary {etcd:?} not found (install Debian's etcd-server, or pass --no-etcd)"
            )
        })?;
        Some(bench_etcd(&binary, &dir.join("etcd"), &writers, duration).await?)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let ratios: Option<Vec<f64>> = etcd_results.as_ref().map(|etcd| {
        meridian
            .iter()
            .zip(etcd)
            .map(|(m, e)| {
                if e.writes_per_sec > 0.0 {
                    m.writes_per_sec / e.writes_per_sec
                } else {
                    0.0
                }
            })
            .collect()
    });
    if as_json {
        println!(
            "{}",
            json!({
                "benchmark": "raft",
                "machine": machine(),
                "seconds_per_point": seconds,
                "meridian": meridian,
                "etcd": etcd_results,
                "ratio": ratios,
            })
        );
    } else {
        println!("writers  meridian w/s   p50 ms   p99 ms |   etcd w/s   p50 ms   p99 ms |  ratio");
        for (i, m) in meridian.iter().enumerate() {
            let e = etcd_results.as_ref().and_then(|e| e.get(i));
            let r = ratios.as_ref().and_then(|r| r.get(i));
            println!(
                "{:>7} {:>13.0} {:>8.2} {:>8.2} | {:>10} {:>8} {:>8} | {:>6}",
                m.writers,
                m.writes_per_sec,
                m.p50_ms,
                m.p99_ms,
                e.map_or("-".into(), |e| format!("{:.0}", e.writes_per_sec)),
                e.map_or("-".into(), |e| format!("{:.2}", e.p50_ms)),
                e.map_or("-".into(), |e| format!("{:.2}", e.p99_ms)),
                r.map_or("-".into(), |r| format!("{r:.1}x")),
            );
        }
    }
    Ok(())
}
