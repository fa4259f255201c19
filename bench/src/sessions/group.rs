//! `meridian bench group`: how long a group message takes to reach every online member.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use meridian_client::conversation;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::measure::percentile_ms;
use meridian_client::server_api::post_form;

use super::lean::{self, SessionTarget};
use super::{
    await_ack, forwarding_answers, interruptible, message_number, numbered_content, print_json,
    progress, text_message, user_ids, ANSWER_WAIT, TOKENS, UNTHROTTLED,
};
use crate::dev_child::DevChild;

/// `/group/create.json` and `/group/join.json` name at most 1000 `userId` per call
/// (edge/src/server_api/groups.rs).
const GROUP_USERS_PER_CALL: usize = 1000;
/// SPEC GRP-01: a group holds at most 3000 members.
const GROUP_MEMBER_CAP: usize = 3000;

#[derive(Args)]
pub struct GroupArgs {
    #[arg(long)]
    json: bool,
    /// Group members, all online (at most 3000, SPEC GRP-01).
    #[arg(long, default_value_t = 3000)]
    members: usize,
    /// Messages sent one at a time by one member.
    #[arg(long, default_value_t = 200)]
    messages: usize,
}

#[derive(Serialize)]
struct GroupFanout {
    members: usize,
    messages: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Counts each numbered message's receivers and notes when the last expected one got it.
struct FanoutTracker {
    received: Vec<AtomicUsize>,
    expected: usize,
    complete: mpsc::UnboundedSender<Instant>,
}

impl FanoutTracker {
    fn on_frame(&self, text: &str) {
        let Some(number) = message_number(text).map(|n| n as usize) else {
            return;
        };
        let Some(received) = self.received.get(number) else {
            return;
        };
        if received.fetch_add(1, Ordering::Relaxed) + 1 == self.expected {
            let _ = self.complete.send(Instant::now());
        }
    }
}

pub async fn run(args: GroupArgs) -> anyhow::Result<()> {
    let fit = lean::max_sessions()?;
    let most = GROUP_MEMBER_CAP.min(fit);
    if !(2..=most).contains(&args.members) {
        bail!("--members must be 2 to {most} (the group cap, and open files)");
    }
    let r = interruptible(measure(&args)).await?;
    if args.json {
        return print_json("group", r);
    }
    println!("members  messages   p50 ms   p99 ms   max ms");
    println!(
        "{:>7} {:>9} {:>8.2} {:>8.2} {:>8.2}",
        r.members, r.messages, r.p50_ms, r.p99_ms, r.max_ms
    );
    println!(
        "(send → the last of {} online members has it, target p99 < 50 ms; tokens {TOKENS})",
        r.members - 1
    );
    Ok(())
}

async fn measure(args: &GroupArgs) -> anyhow::Result<GroupFanout> {
    let dev = DevChild::start(UNTHROTTLED).await?;
    let members = user_ids("m", args.members);
    progress(&format!("registering {} members", args.members));
    dev.create_users(&members).await?;
    let endpoints = &dev.endpoints;
    for (i, batch) in members.chunks(GROUP_USERS_PER_CALL).enumerate() {
        let path = if i == 0 {
            "/group/create.json"
        } else {
            "/group/join.json"
        };
        let mut form = String::from("groupId=g1&groupName=g1");
        for member in batch {
            form.push_str(&format!("&userId={member}"));
        }
        let (key, secret) = (&endpoints.app_key, &endpoints.app_secret);
        post_form(&endpoints.api, key, secret, path, &form)
            .await
            .with_context(|| path.to_string())?;
    }
    progress(&format!("connecting {} members", args.members));
    let (complete, mut completions) = mpsc::unbounded_channel();
    let tracker = Arc::new(FanoutTracker {
        received: (0..args.messages).map(|_| AtomicUsize::new(0)).collect(),
        // The sending device gets an ack instead of a copy.
        expected: args.members - 1,
        complete,
    });
    let (answers, mut sender_answers) = mpsc::unbounded_channel();
    let target = SessionTarget::new(endpoints)?;
    let sessions = target
        .connect_all(&members, None, |i| {
            if i == 0 {
                forwarding_answers(answers.clone(), Box::new(|_| {}))
            } else {
                let tracker = tracker.clone();
                Box::new(move |text| tracker.on_frame(text))
            }
        })
        .await?;
    progress(&format!("sending {} messages", args.messages));
    let mut latencies = Vec::new();
    for number in 0..args.messages {
        let sent_at = Instant::now();
        let content = numbered_content(number as u64);
        let frame = text_message(format!("g{number}"), conversation::GROUP, "g1", content);
        sessions[0].send(&frame)?;
        await_ack(&mut sender_answers)
            .await
            .with_context(|| format!("message {number}"))?;
        let reached_all = tokio::time::timeout(ANSWER_WAIT, completions.recv()).await;
        // One message at a time: this completion is the message just sent.
        let Ok(Some(at)) = reached_all else {
            bail!(
                "message {number} reached {} of {} members within {ANSWER_WAIT:?}",
                tracker.received[number].load(Ordering::Relaxed),
                tracker.expected
            );
        };
        latencies.push(at - sent_at);
    }
    latencies.sort();
    Ok(GroupFanout {
        members: args.members,
        messages: args.messages,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: percentile_ms(&latencies, 1.0),
    })
}
