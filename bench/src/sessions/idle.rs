//! `meridian bench sessions`: idle sessions held by one edge, and the edge process's
//! memory per session. The edge runs as a process of its own in front of a `meridian
//! dev` child's cluster, so the node's share (presence records, its caches) is measured
//! apart.

use std::time::Duration;
use tokio::time::Instant;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::lean::{self, SessionTarget, FD_HEADROOM};
use super::{interruptible, print_json, progress, user_ids, TOKENS};
use crate::dev_child::DevChild;

#[derive(Args)]
pub struct SessionsArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Idle sessions to hold, comma separated; a fresh `meridian dev` child for each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    counts: Vec<usize>,
}

#[derive(Serialize)]
struct IdleSessions {
    sessions: usize,
    /// `sessions` of the edge's `/stats`: must equal `sessions`.
    edge_sessions: u64,
    connect_seconds: f64,
    rss_before_mib: f64,
    rss_after_mib: f64,
    kib_per_session: f64,
    /// The cluster node's growth (the dev child, without the edge under test).
    node_kib_per_session: f64,
}

#[derive(Serialize)]
struct Skipped {
    sessions: usize,
    reason: String,
}

pub async fn run(args: SessionsArgs) -> anyhow::Result<()> {
    let fit = lean::max_sessions()?;
    let (fitting, over): (Vec<usize>, Vec<usize>) =
        args.counts.iter().partition(|&&count| count <= fit);
    let skipped: Vec<Skipped> = over
        .into_iter()
        .map(|sessions| Skipped {
            sessions,
            reason: format!(
                "over {fit}, the open-files hard limit less {FD_HEADROOM} \
                 (a session holds a descriptor in the bench and one in the edge)"
            ),
        })
        .collect();
    let mut results = Vec::new();
    for count in fitting {
        results.push(interruptible(idle_sessions(count)).await?);
    }
    if args.json {
        return print_json(
            "sessions",
            json!({
                "child": "a fresh meridian dev per count, and a meridian edge process in front of it",
                "target_kib_per_session": 10,
                "results": results,
                "skipped": skipped,
            }),
        );
    }
    println!(
        "sessions  edge /stats  connect s  edge RSS before MiB  after MiB  KiB/session  node KiB/session"
    );
    for r in &results {
        println!(
            "{:>8} {:>12} {:>10.1} {:>20.1} {:>10.1} {:>12.2} {:>17.2}",
            r.sessions,
            r.edge_sessions,
            r.connect_seconds,
            r.rss_before_mib,
            r.rss_after_mib,
            r.kib_per_session,
            r.node_kib_per_session
        );
    }
    for s in &skipped {
        println!("skipped {} sessions: {}", s.sessions, s.reason);
    }
    println!(
        "(target ≤ 10 KiB/session of the edge process; a fresh `meridian dev` child and edge per count; tokens {TOKENS})"
    );
    Ok(())
}

/// Holds `count` idle sessions on a fresh edge process and measures its memory growth.
async fn idle_sessions(count: usize) -> anyhow::Result<IdleSessions> {
    let dev = DevChild::start(&[]).await?;
    let users = user_ids("u", count);
    progress(&format!("{count} sessions: registering {count} users"));
    dev.create_users(&users).await?;
    let edge = dev.standalone_edge().await?;
    let target = SessionTarget::new(&edge.endpoints)?;
    let (rss_before, node_before) = (edge.rss_bytes()?, dev.rss_bytes()?);
    progress(&format!("{count} sessions: connecting"));
    let started = Instant::now();
    let sessions = target
        .connect_all(&users, None, |_| Box::new(|_| {}))
        .await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    // Let the edge finish what connecting started (presence writes, freed handshakes).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_after, node_after) = (edge.rss_bytes()?, dev.rss_bytes()?);
    let edge_sessions = edge.sessions().await?;
    let ended = sessions.iter().filter(|s| s.has_ended()).count();
    if ended > 0 || edge_sessions != count as u64 {
        progress(&format!(
            "{count} sessions: {ended} ended early; the edge counts {edge_sessions}"
        ));
    }
    let per_session =
        |before: u64, after: u64| (after as f64 - before as f64) / 1024.0 / count.max(1) as f64;
    Ok(IdleSessions {
        sessions: count,
        edge_sessions,
        connect_seconds,
        rss_before_mib: mib(rss_before),
        rss_after_mib: mib(rss_after),
        kib_per_session: per_session(rss_before, rss_after),
        node_kib_per_session: per_session(node_before, node_after),
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
