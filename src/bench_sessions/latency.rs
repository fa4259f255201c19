//! `meridian bench ws`: send → receive latency of private messages between SDK sessions
//! at a steady total rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use meridian_client::{conversation, Connection};
use meridian_proto::{ClientFrame, ServerFrame};
use serde::Serialize;
use tokio::sync::watch;

use crate::bench::percentile_ms;

use super::dev_child::DevChild;
use super::lean::SessionTarget;
use super::{
    content_number, interruptible, numbered_content, print_json, progress, settle, text_message,
    user_ids, ANSWER_WAIT, TOKENS, UNTHROTTLED,
};

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
    let r = interruptible(measure(&args)).await?;
    if args.json {
        return print_json("ws", r);
    }
    println!(
        "pairs  target/s  achieved/s    sent  received  lost  refused  p50 ms  p99 ms  max ms"
    );
    println!(
        "{:>5} {:>9} {:>11.0} {:>7} {:>9} {:>5} {:>8} {:>7.2} {:>7.2} {:>7.2}",
        r.pairs,
        r.target_rate,
        r.achieved_rate,
        r.sent,
        r.received,
        r.lost,
        r.refused,
        r.p50_ms,
        r.p99_ms,
        r.max_ms
    );
    println!("(send → receive on loopback, target p99 < 5 ms; tokens {TOKENS})");
    Ok(())
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
    let period = Duration::from_secs_f64(PAIRS as f64 / f64::from(args.rate));
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut sending = Vec::new();
    for (i, (connection, receiver)) in sender_connections.into_iter().zip(receivers).enumerate() {
        // Staggered, so the pairs' sends spread evenly over each period.
        let first = start + period.mul_f64(i as f64 / PAIRS as f64);
        sending.push(tokio::spawn(send_stamped(
            connection, receiver, epoch, first, period, deadline,
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
    let _ = stop.send(true);
    let mut latencies = Vec::new();
    for receiver in receiving {
        latencies.extend(receiver.await??);
    }
    latencies.sort();
    let received = latencies.len() as u64;
    Ok(SteadyLatency {
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
    })
}

/// One sender: a message to `receiver` at every tick until `deadline`, each carrying its
/// send instant (nanoseconds after `epoch`); then waits for the outstanding acks.
async fn send_stamped(
    mut connection: Connection,
    receiver: String,
    epoch: Instant,
    first: tokio::time::Instant,
    period: Duration,
    deadline: tokio::time::Instant,
) -> anyhow::Result<SenderTally> {
    let mut tally = SenderTally::default();
    let mut ticks = tokio::time::interval_at(first, period);
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
