//! `meridian bench chatroom`: fan-out of one busy room to every member, in deliveries per
//! second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use meridian_client::conversation;
use meridian_proto::ServerFrame;
use serde::Serialize;
use tokio::sync::mpsc;

use meridian_client::server_api::post_form;

use super::lean::{self, FrameHandler, LiveSession, SessionTarget};
use super::{
    await_ack, forwarding_answers, interruptible, is_message, numbered_content, print_json,
    progress, settle, text_message, user_ids, TOKENS, UNTHROTTLED,
};
use crate::dev_child::DevChild;

#[derive(Args)]
pub struct ChatroomArgs {
    #[arg(long)]
    json: bool,
    /// Members in the room, all online.
    #[arg(long, default_value_t = 10_000)]
    members: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Members that send, each as fast as its acks come back (with 32, bursts reach the
    /// room's budget of 40 messages per 200 ms, so the room rather than the senders'
    /// round trips sets the rate).
    #[arg(long, default_value_t = 32)]
    senders: usize,
}

#[derive(Serialize)]
struct ChatroomFanout {
    members: usize,
    senders: usize,
    seconds: f64,
    messages_sent: u64,
    messages_per_sec: f64,
    /// Sends the room acknowledged as shed under load (CHR-06: 40 per 200 ms are accepted).
    messages_shed: u64,
    /// `message` frames received by all members during the sending window.
    deliveries: u64,
    deliveries_per_sec: f64,
    /// Deliveries counted each second of the window.
    deliveries_each_second: Vec<u64>,
    /// Every member but the sending device should get each message not shed.
    expected_deliveries: u64,
    /// Deliveries once the receivers had settled after the window.
    delivered_in_the_end: u64,
    sessions_ended: usize,
}

pub async fn run(args: ChatroomArgs) -> anyhow::Result<()> {
    let fit = lean::max_sessions()?;
    if args.senders == 0 || args.members <= args.senders || args.members > fit {
        bail!("--members must be more than --senders (at least 1) and at most {fit} (open files)");
    }
    let r = interruptible(measure(&args)).await?;
    if args.json {
        return print_json("chatroom", r);
    }
    println!("members  senders  messages/s    shed  deliveries/s  expected  delivered  ended");
    println!(
        "{:>7} {:>8} {:>11.0} {:>7} {:>13.0} {:>9} {:>10} {:>6}",
        r.members,
        r.senders,
        r.messages_per_sec,
        r.messages_shed,
        r.deliveries_per_sec,
        r.expected_deliveries,
        r.delivered_in_the_end,
        r.sessions_ended
    );
    println!(
        "(deliveries/s over {:.1} s of sending, target ≥ 1,000,000; tokens {TOKENS})",
        r.seconds
    );
    Ok(())
}

async fn measure(args: &ChatroomArgs) -> anyhow::Result<ChatroomFanout> {
    let dev = DevChild::start(UNTHROTTLED).await?;
    let members = user_ids("m", args.members);
    progress(&format!("registering {} members", args.members));
    dev.create_users(&members).await?;
    let endpoints = &dev.endpoints;
    let (key, secret) = (&endpoints.app_key, &endpoints.app_secret);
    let (path, form) = ("/chatroom/create.json", "chatroom[r1]=Room");
    post_form(&endpoints.api, key, secret, path, form)
        .await
        .context(path)?;
    progress(&format!("connecting {} members to room r1", args.members));
    let delivered = Arc::new(AtomicU64::new(0));
    let count_deliveries = || -> FrameHandler {
        let delivered = delivered.clone();
        Box::new(move |text| {
            if is_message(text) {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let (answer_senders, answer_receivers): (Vec<_>, Vec<_>) =
        (0..args.senders).map(|_| mpsc::unbounded_channel()).unzip();
    let target = SessionTarget::new(endpoints)?;
    let sessions = target
        .connect_all(&members, Some("r1"), |i| match answer_senders.get(i) {
            Some(answers) => forwarding_answers(answers.clone(), count_deliveries()),
            None => count_deliveries(),
        })
        .await?;
    progress(&format!(
        "{} senders sending for {} s",
        args.senders, args.seconds
    ));
    let at_start = delivered.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let sending = send_to_room(&sessions, answer_receivers, deadline);
    let sampling = count_each_second(&delivered, deadline);
    let (sending, deliveries_each_second) = tokio::join!(sending, sampling);
    let (messages_sent, messages_shed) = sending?;
    let seconds = started.elapsed().as_secs_f64();
    let deliveries = delivered.load(Ordering::Relaxed) - at_start;
    let expected_deliveries = (messages_sent - messages_shed) * (args.members as u64 - 1);
    settle(&delivered, at_start + expected_deliveries).await;
    Ok(ChatroomFanout {
        members: args.members,
        senders: args.senders,
        seconds,
        messages_sent,
        messages_per_sec: messages_sent as f64 / seconds,
        messages_shed,
        deliveries,
        deliveries_per_sec: deliveries as f64 / seconds,
        deliveries_each_second,
        expected_deliveries,
        delivered_in_the_end: delivered.load(Ordering::Relaxed) - at_start,
        sessions_ended: sessions.iter().filter(|s| s.has_ended()).count(),
    })
}

/// Each sender (the first sessions, one answer channel each) sends to room r1 until
/// `deadline`, the next message as soon as the last is acknowledged. Answers (messages
/// sent, messages the room shed).
async fn send_to_room(
    sessions: &[LiveSession],
    answer_receivers: Vec<mpsc::UnboundedReceiver<ServerFrame>>,
    deadline: Instant,
) -> anyhow::Result<(u64, u64)> {
    let senders = answer_receivers
        .into_iter()
        .enumerate()
        .map(|(i, mut answers)| async move {
            let (mut sent, mut shed) = (0u64, 0u64);
            while Instant::now() < deadline {
                let frame = text_message(
                    format!("{i}-{sent}"),
                    conversation::CHATROOM,
                    "r1",
                    numbered_content(sent),
                );
                sessions[i].send(&frame)?;
                let dropped = await_ack(&mut answers)
                    .await
                    .with_context(|| format!("sender {i}"))?;
                sent += 1;
                shed += u64::from(dropped);
            }
            Ok::<_, anyhow::Error>((sent, shed))
        });
    let tallies = futures::future::try_join_all(senders).await?;
    Ok(tallies
        .into_iter()
        .fold((0, 0), |(sent, shed), (s, d)| (sent + s, shed + d)))
}

/// How much `counter` grew in each second until `deadline`.
async fn count_each_second(counter: &AtomicU64, deadline: Instant) -> Vec<u64> {
    let mut each_second = Vec::new();
    let mut last = counter.load(Ordering::Relaxed);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    while Instant::now() < deadline {
        ticks.tick().await;
        let now = counter.load(Ordering::Relaxed);
        each_second.push(now - last);
        last = now;
    }
    each_second
}
