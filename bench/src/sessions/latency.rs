//! `meridian bench ws`: send → receive latency of private messages between SDK sessions
//! at a steady total rate.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use meridian_client::{conversation, Connection};
use meridian_proto::{ClientFrame, ServerFrame};
use serde::Serialize;
use tokio::sync::watch;

use crate::histogram::HistogramRead;
use crate::measure::{metric_sum, percentile_ms};

use super::ejabberd::{self, Ejabberd};
use super::lean::SessionTarget;
use super::{
    content_number, interruptible, numbered_content, print_json, progress, settle, text_message,
    user_ids, ANSWER_WAIT, TOKENS, UNTHROTTLED,
};
use crate::dev_child::{DevChild, Endpoints};

/// Sender → receiver pairs.
const PAIRS: usize = 50;

#[derive(Args)]
pub struct WsArgs {
    #[arg(long)]
    json: bool,
    /// Messages per second, over all 50 sender → receiver pairs.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// ejabberdctl of the XMPP baseline (Debian's ejabberd package).
    #[arg(long, default_value = "ejabberdctl")]
    ejabberd: String,
    /// Skip the ejabberd baseline.
    #[arg(long)]
    no_ejabberd: bool,
}

/// Meridian and, in the same run, the baseline.
#[derive(Serialize)]
struct Comparison {
    #[serde(flatten)]
    meridian: SteadyLatency,
    #[serde(skip_serializing_if = "Option::is_none")]
    ejabberd: Option<SteadyLatency>,
    /// ejabberd's p99 divided by Meridian's (above 1: Meridian is faster).
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_ratio: Option<f64>,
}

#[derive(Serialize)]
struct SteadyLatency {
    pairs: usize,
    target_rate: u32,
    seconds: u64,
    sent: u64,
    refused: u64,
    received: u64,
    lost: u64,
    achieved_rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Meridian's own timings of the hops, over the same window (empty for ejabberd).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hops: Vec<Hop>,
}

/// One hop of a message's way, as the servers timed it over the window.
#[derive(Serialize)]
struct Hop {
    hop: &'static str,
    metric: &'static str,
    observations: f64,
    mean_ms: f64,
    /// Upper bounds of the histogram buckets the quantiles fall in.
    p50_ms_at_most: f64,
    p99_ms_at_most: f64,
}

/// Where a hop's histogram lives.
#[derive(Clone, Copy)]
enum Timer {
    Edge,
    Leader,
}

/// The hops, in the order a message takes them: the sender's write, then the delivery
/// path from the apply on.
const HOPS: &[(&str, &str, Timer)] = &[
    (
        "edge: send frame → ack",
        "meridian_edge_send_seconds",
        Timer::Edge,
    ),
    (
        "leader: write reached it → committed and applied",
        "meridian_cluster_write_seconds",
        Timer::Leader,
    ),
    (
        "leader: log append → fdatasync done",
        "meridian_cluster_log_append_fsync_seconds",
        Timer::Leader,
    ),
    (
        "leader: one apply round",
        "meridian_cluster_apply_seconds",
        Timer::Leader,
    ),
    (
        "leader: applied → edge's feed poll answered",
        "meridian_cluster_feed_wait_seconds",
        Timer::Leader,
    ),
    (
        "edge: feed page arrived → session socket written",
        "meridian_edge_delivery_seconds",
        Timer::Edge,
    ),
];

/// Every hop's histogram as the edge and the leader report it now.
async fn read_hops(endpoints: &Endpoints) -> anyhow::Result<Vec<HistogramRead>> {
    let scrape = |url: String| async move {
        let answer = meridian_rpc::http::request("GET", &url, None, None, ANSWER_WAIT).await?;
        anyhow::Ok(answer.text())
    };
    let edge = scrape(endpoints.edge_metrics.clone()).await?;
    let mut leader = None;
    for url in &endpoints.node_metrics {
        let text = scrape(url.clone()).await?;
        if metric_sum(&text, "meridian_cluster_raft_is_leader") == 1.0 {
            leader = Some(text);
        }
    }
    let leader = leader.context("no node of the area says it leads")?;
    Ok(HOPS
        .iter()
        .map(|&(_, metric, timer)| match timer {
            Timer::Edge => HistogramRead::parse(&edge, metric),
            Timer::Leader => HistogramRead::parse(&leader, metric),
        })
        .collect())
}

fn hops_between(before: &[HistogramRead], after: &[HistogramRead]) -> Vec<Hop> {
    HOPS.iter()
        .zip(before.iter().zip(after))
        .map(|(&(hop, metric, _), (before, after))| {
            let window = after.since(before);
            Hop {
                hop,
                metric,
                observations: window.count(),
                mean_ms: window.mean_ms(),
                p50_ms_at_most: window.quantile_at_most_ms(0.50),
                p99_ms_at_most: window.quantile_at_most_ms(0.99),
            }
        })
        .collect()
}

/// What one sender did.
#[derive(Default)]
struct SenderTally {
    sent: u64,
    acked: u64,
    refused: u64,
}

impl SenderTally {
    fn count_answer(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Ack { .. } => self.acked += 1,
            ServerFrame::Error { .. } => self.refused += 1,
            _ => {}
        }
    }
}

/// An SDK session that has finished its offline sync.
async fn synced_connection(target: &SessionTarget, user: &str) -> anyhow::Result<Connection> {
    let mut connection = Connection::connect(&target.sdk_options(user)).await?;
    loop {
        match connection.next_within(ANSWER_WAIT).await? {
            ServerFrame::Synced { .. } => return Ok(connection),
            ServerFrame::Error { code, message, .. } => {
                bail!("{user}: edge error {code}: {message}")
            }
            _ => {}
        }
    }
}

pub async fn run(args: WsArgs) -> anyhow::Result<()> {
    if args.rate == 0 {
        bail!("--rate must be at least 1");
    }
    let ejabberdctl = match args.no_ejabberd {
        true => None,
        false => Some(ejabberd::locate(&args.ejabberd)?),
    };
    let meridian = interruptible(measure(&args)).await?;
    let ejabberd = match &ejabberdctl {
        Some(ctl) => Some(interruptible(measure_ejabberd(&args, ctl)).await?),
        None => None,
    };
    let p99_ratio = ejabberd
        .as_ref()
        .filter(|_| meridian.p99_ms > 0.0)
        .map(|e| e.p99_ms / meridian.p99_ms);
    let r = Comparison {
        meridian,
        ejabberd,
        p99_ratio,
    };
    if args.json {
        return print_json("ws", r);
    }
    println!(
        "server    pairs  target/s  achieved/s    sent  received  lost  refused  p50 ms  p99 ms  max ms"
    );
    let rows = std::iter::once(("meridian", &r.meridian))
        .chain(r.ejabberd.iter().map(|e| ("ejabberd", e)));
    for (server, m) in rows {
        println!(
            "{server:<9} {:>5} {:>9} {:>11.0} {:>7} {:>9} {:>5} {:>8} {:>7.2} {:>7.2} {:>7.2}",
            m.pairs,
            m.target_rate,
            m.achieved_rate,
            m.sent,
            m.received,
            m.lost,
            m.refused,
            m.p50_ms,
            m.p99_ms,
            m.max_ms
        );
    }
    if let Some(ratio) = r.p99_ratio {
        println!("ejabberd p99 / Meridian p99: {ratio:.2}");
    }
    println!("\nMeridian's hops (its own histograms over the window; quantiles are bucket bounds)");
    println!(
        "{:<52} {:>8} {:>8} {:>8} {:>8}",
        "hop", "count", "mean ms", "p50 ≤", "p99 ≤"
    );
    for hop in &r.meridian.hops {
        println!(
            "{:<52} {:>8} {:>8.3} {:>8.2} {:>8.2}",
            hop.hop, hop.observations, hop.mean_ms, hop.p50_ms_at_most, hop.p99_ms_at_most
        );
    }
    println!("(send → receive on loopback, target p99 < 5 ms; tokens {TOKENS})");
    Ok(())
}

/// The same load through ejabberd: its own accounts, XMPP chat messages, no acks (so
/// every message sent counts as acknowledged).
async fn measure_ejabberd(args: &WsArgs, ejabberdctl: &Path) -> anyhow::Result<SteadyLatency> {
    let dir = crate::host::scratch_dir()?.join("ejabberd");
    let _ = std::fs::remove_dir_all(&dir);
    let server = Ejabberd::start(ejabberdctl, &dir).await?;
    let senders = user_ids("s", PAIRS);
    let receivers = user_ids("r", PAIRS);
    let epoch = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let mut receiving = Vec::new();
    for receiver in &receivers {
        let session = server.online_user(receiver).await?;
        receiving.push(tokio::spawn(session.receive_stamped(
            epoch,
            received.clone(),
            stopped.clone(),
        )));
    }
    let mut sessions = Vec::new();
    for sender in &senders {
        sessions.push(server.online_user(sender).await?);
    }
    progress(&format!(
        "ejabberd: {PAIRS} pairs online; sending {} messages/s for {} s",
        args.rate, args.seconds
    ));
    let schedule = Schedule::new(args);
    let mut sending = Vec::new();
    for (i, (mut session, receiver)) in sessions.into_iter().zip(receivers).enumerate() {
        let mut ticks = schedule.ticks(i);
        let deadline = schedule.deadline;
        sending.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while ticks.tick().await < deadline {
                session
                    .send_number(&receiver, epoch.elapsed().as_nanos() as u64)
                    .await?;
                sent += 1;
            }
            anyhow::Ok((sent, session))
        }));
    }
    let mut tally = SenderTally::default();
    let mut open = Vec::new();
    for sender in sending {
        let (sent, session) = sender.await??;
        tally.sent += sent;
        tally.acked += sent;
        open.push(session);
    }
    settle(&received, tally.acked).await;
    let _ = stop.send(true);
    let mut latencies = Vec::new();
    for receiver in receiving {
        latencies.extend(receiver.await??);
    }
    drop(open);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summarize(args, &tally, latencies))
}

/// When each pair sends: staggered, so the pairs' sends spread evenly over each period.
struct Schedule {
    start: tokio::time::Instant,
    period: Duration,
    deadline: tokio::time::Instant,
}

impl Schedule {
    fn new(args: &WsArgs) -> Self {
        let start = tokio::time::Instant::now();
        Self {
            start,
            period: Duration::from_secs_f64(PAIRS as f64 / f64::from(args.rate)),
            deadline: start + Duration::from_secs(args.seconds),
        }
    }

    fn ticks(&self, pair: usize) -> tokio::time::Interval {
        let first = self.start + self.period.mul_f64(pair as f64 / PAIRS as f64);
        tokio::time::interval_at(first, self.period)
    }
}

fn summarize(args: &WsArgs, tally: &SenderTally, mut latencies: Vec<Duration>) -> SteadyLatency {
    latencies.sort();
    let received = latencies.len() as u64;
    SteadyLatency {
        pairs: PAIRS,
        target_rate: args.rate,
        seconds: args.seconds,
        sent: tally.sent,
        refused: tally.refused,
        received,
        lost: tally.acked.saturating_sub(received),
        achieved_rate: tally.acked as f64 / args.seconds.max(1) as f64,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: percentile_ms(&latencies, 1.0),
        hops: Vec::new(),
    }
}

async fn measure(args: &WsArgs) -> anyhow::Result<SteadyLatency> {
    let dev = DevChild::start(UNTHROTTLED).await?;
    let senders = user_ids("s", PAIRS);
    let receivers = user_ids("r", PAIRS);
    dev.create_users(&[senders.clone(), receivers.clone()].concat())
        .await?;
    let target = SessionTarget::new(&dev.endpoints)?;
    let epoch = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let mut receiving = Vec::new();
    for receiver in &receivers {
        let connection = synced_connection(&target, receiver).await?;
        let (received, stopped) = (received.clone(), stopped.clone());
        receiving.push(tokio::spawn(receive_stamped(
            connection, epoch, received, stopped,
        )));
    }
    let mut sender_connections = Vec::new();
    for sender in &senders {
        sender_connections.push(synced_connection(&target, sender).await?);
    }
    progress(&format!(
        "{PAIRS} pairs connected; sending {} messages/s for {} s",
        args.rate, args.seconds
    ));
    let hops_before = read_hops(&dev.endpoints).await?;
    let schedule = Schedule::new(args);
    let mut sending = Vec::new();
    for (i, (connection, receiver)) in sender_connections.into_iter().zip(receivers).enumerate() {
        sending.push(tokio::spawn(send_stamped(
            connection,
            receiver,
            epoch,
            schedule.ticks(i),
            schedule.deadline,
        )));
    }
    let mut tally = SenderTally::default();
    for sender in sending {
        let one = sender.await??;
        tally.sent += one.sent;
        tally.acked += one.acked;
        tally.refused += one.refused;
    }
    settle(&received, tally.acked).await;
    let hops = hops_between(&hops_before, &read_hops(&dev.endpoints).await?);
    let _ = stop.send(true);
    let mut latencies = Vec::new();
    for receiver in receiving {
        latencies.extend(receiver.await??);
    }
    Ok(SteadyLatency {
        hops,
        ..summarize(args, &tally, latencies)
    })
}

/// One sender: a message to `receiver` at every tick until `deadline`, each carrying its
/// send instant (nanoseconds after `epoch`); then waits for the outstanding acks.
async fn send_stamped(
    mut connection: Connection,
    receiver: String,
    epoch: Instant,
    mut ticks: tokio::time::Interval,
    deadline: tokio::time::Instant,
) -> anyhow::Result<SenderTally> {
    let mut tally = SenderTally::default();
    loop {
        tokio::select! {
            now = ticks.tick() => {
                if now >= deadline {
                    break;
                }
                let stamp = epoch.elapsed().as_nanos() as u64;
                let client_id = format!("{receiver}-{}", tally.sent);
                let content = numbered_content(stamp);
                let frame = text_message(client_id, conversation::PRIVATE, &receiver, content);
                connection.send(&frame).await?;
                tally.sent += 1;
            }
            frame = connection.next() => tally.count_answer(frame?),
        }
    }
    while tally.acked + tally.refused < tally.sent {
        tally.count_answer(connection.next_within(ANSWER_WAIT).await?);
    }
    connection.close().await;
    Ok(tally)
}

/// One receiver: the latency of every message, from the stamp it carries, until `stop`.
async fn receive_stamped(
    mut connection: Connection,
    epoch: Instant,
    received: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    // Receivers send nothing else, and the edge closes a session silent for 90 s.
    let mut pings = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            frame = connection.next() => {
                if let ServerFrame::Message(body) = frame? {
                    if let Some(stamp) = content_number(&body.content) {
                        let sent_at = Duration::from_nanos(stamp);
                        latencies.push(epoch.elapsed().saturating_sub(sent_at));
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = pings.tick() => connection.send(&ClientFrame::Ping).await?,
            _ = stop.changed() => break,
        }
    }
    connection.close().await;
    Ok(latencies)
}
