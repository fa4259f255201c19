//! `meridian bench sessions|ws|group|chatroom`: client sessions (`edge/PROTOCOL.md`)
//! against a `meridian dev` child process with one SG area of one node. Tokens are minted
//! here with the app's secret (`meridian_access::token::issue`), not fetched per user.
//! `meridian bench nav` lives here too: it drives the same kind of dev child with wrk.

mod chatroom;
mod ejabberd;
mod group;
mod idle;
mod latency;
mod lean;
mod nav;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

use anyhow::bail;
use meridian_proto::{ClientFrame, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use crate::measure::machine;
use lean::FrameHandler;

pub use chatroom::{run as chatroom, ChatroomArgs};
pub use group::{run as group, GroupArgs};
pub use idle::{run as sessions, SessionsArgs};
pub use latency::{run as ws, WsArgs};
pub use nav::{run as nav, NavArgs};

const TOKENS: &str = "minted locally with the app secret (meridian_access::token::issue)";
/// The benchmarks that send measure delivery, not the per-connection send limit (MSG-06).
const UNTHROTTLED: &[&str] = &["--sends-per-second", "1000000"];
/// How long an ack or a fan-out may take before the run counts as failed.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// Receivers still counting after the senders stop: done once nothing arrived for this long.
const SETTLE_QUIET: Duration = Duration::from_secs(2);

/// Runs a measurement until it ends or Ctrl-C; either way its dev child is stopped.
async fn interruptible<T>(
    measurement: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        result = measurement => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

fn progress(message: &str) {
    eprintln!("meridian bench: {message}");
}

fn user_ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

/// What the receivers look at in an edge frame, read without building a `ServerFrame`.
#[derive(Deserialize)]
struct FramePeek<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    content: Option<String>,
}

/// `RC:TxtMsg` content: `{"content":"…"}`.
#[derive(Deserialize)]
struct TextContent {
    content: String,
}

fn numbered_content(number: u64) -> String {
    json!({ "content": number.to_string() }).to_string()
}

fn content_number(content: &str) -> Option<u64> {
    serde_json::from_str::<TextContent>(content)
        .ok()?
        .content
        .parse()
        .ok()
}

/// The number a `message` frame carries; `None` for other frames.
fn message_number(text: &str) -> Option<u64> {
    let peek: FramePeek = serde_json::from_str(text).ok()?;
    if peek.kind != "message" {
        return None;
    }
    content_number(peek.content.as_deref()?)
}

fn is_message(text: &str) -> bool {
    serde_json::from_str::<FramePeek>(text).is_ok_and(|peek| peek.kind == "message")
}

fn text_message(
    client_id: String,
    conversation_type: u8,
    target: &str,
    content: String,
) -> ClientFrame {
    ClientFrame::Send {
        client_id,
        conversation_type,
        target_id: target.to_string(),
        channel_id: String::new(),
        object_name: "RC:TxtMsg".into(),
        content,
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    }
}

/// A sender's frame handler: hands acks, refusals and kicks to `answers`, and every frame
/// to `also`.
fn forwarding_answers(
    answers: mpsc::UnboundedSender<ServerFrame>,
    mut also: FrameHandler,
) -> FrameHandler {
    Box::new(move |text| {
        also(text);
        if let Ok(
            frame @ (ServerFrame::Ack { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Kicked { .. }),
        ) = serde_json::from_str::<ServerFrame>(text)
        {
            let _ = answers.send(frame);
        }
    })
}

/// Waits for the answer to a send: `Ok(true)` if the room shed it under load (CHR-06,
/// acknowledged but delivered to nobody).
async fn await_ack(answers: &mut mpsc::UnboundedReceiver<ServerFrame>) -> anyhow::Result<bool> {
    match tokio::time::timeout(ANSWER_WAIT, answers.recv()).await {
        Ok(Some(ServerFrame::Ack { dropped, .. })) => Ok(dropped),
        Ok(Some(ServerFrame::Error { code, message, .. })) => {
            bail!("send refused ({code}): {message}")
        }
        Ok(Some(ServerFrame::Kicked { code, reason })) => bail!("sender kicked ({code}): {reason}"),
        Ok(Some(other)) => bail!("unexpected answer {other:?}"),
        Ok(None) => bail!("the sender's session ended"),
        Err(_) => bail!("no ack within {ANSWER_WAIT:?}"),
    }
}

/// Waits until `counter` reaches `target`, or has not moved for [`SETTLE_QUIET`].
async fn settle(counter: &AtomicU64, target: u64) {
    let mut last = counter.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while last < target && quiet_since.elapsed() < SETTLE_QUIET {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = counter.load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

fn print_json(benchmark: &str, result: impl Serialize) -> anyhow::Result<()> {
    let mut object = serde_json::to_value(result)?;
    object["benchmark"] = json!(benchmark);
    object["machine"] = machine();
    object["tokens"] = json!(TOKENS);
    println!("{object}");
    Ok(())
}
