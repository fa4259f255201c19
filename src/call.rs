//! `meridian call`: ring a user (or members of a group) from a terminal, or answer a
//! call, through a session of the Rust client SDK like any app's (RTC-03). Prints one
//! JSON line per event of the call.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meridian_client::calls::{reason, Media, Signal};
use meridian_client::{conversation, Connection, MessageBody};
use meridian_proto::ServerFrame;
use serde_json::json;

use crate::chat::{connect, sleep_until_some, Device, Who};

#[derive(Args)]
pub struct CallArgs {
    #[command(flatten)]
    who: Who,
    #[command(subcommand)]
    command: CallCommand,
}

#[derive(Subcommand)]
enum CallCommand {
    /// Ring someone and follow the call until the others hang up (or `--hang-up-after-ms`).
    Ring(RingArgs),
    /// Wait for a call, ring, then accept (or `--reject`) it.
    Answer(AnswerArgs),
}

#[derive(Args)]
struct RingArgs {
    /// A private call with this user.
    #[arg(long, required_unless_present = "group", conflicts_with = "group")]
    to: Option<String>,
    /// A group call in this group, ringing `--callee`s.
    #[arg(long, requires = "callees")]
    group: Option<String>,
    /// A member of `--group` to ring (repeatable).
    #[arg(long = "callee")]
    callees: Vec<String>,
    /// A video call (else audio).
    #[arg(long)]
    video: bool,
    #[command(flatten)]
    end: End,
}

#[derive(Args)]
struct AnswerArgs {
    /// Decline instead of accepting.
    #[arg(long)]
    reject: bool,
    #[command(flatten)]
    end: End,
}

#[derive(Args)]
struct End {
    /// Hang up this long after the call is answered (else wait for the others).
    #[arg(long)]
    hang_up_after_ms: Option<u64>,
    /// Give up (exit status 1) after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// A call this command is in: where its signals go, and messages that arrived while it
/// waited for an ack.
struct Call {
    id: String,
    kind: u8,
    target: String,
    next_client_id: u64,
    kept: Vec<MessageBody>,
}

impl Call {
    async fn send(&mut self, connection: &mut Connection, signal: Signal) -> anyhow::Result<()> {
        let client_id = format!("call-{}-{}", self.id, self.next_client_id);
        self.next_client_id += 1;
        let frame = signal.frame(&client_id, &self.id, self.kind, &self.target);
        connection.send(&frame).await?;
        loop {
            match connection.next_within(Duration::from_secs(15)).await? {
                ServerFrame::Ack { client_id: c, .. } if c == client_id => return Ok(()),
                ServerFrame::Error {
                    code,
                    message,
                    client_id: Some(c),
                    ..
                } if c == client_id => bail!("{signal:?} refused ({code}): {message}"),
                ServerFrame::Message(message) => self.kept.push(message),
                _ => {}
            }
        }
    }
}

pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    let device = Device::new(&args.who, "call", "iOS");
    let mut connection = connect(&args.who, &device).await?.connection;
    // Only what happens from now on: earlier calls are over.
    while !matches!(
        connection.next_within(Duration::from_secs(15)).await?,
        ServerFrame::Synced { .. }
    ) {}
    let me = args.who.user.clone();
    match args.command {
        CallCommand::Ring(ring) => ring_out(&mut connection, &me, ring).await,
        CallCommand::Answer(answer) => answer_one(&mut connection, &me, answer).await,
    }
}

fn event(name: &str, call_id: &str, more: serde_json::Value) {
    let mut line = json!({ "event": name, "callId": call_id });
    if let (Some(line), Some(more)) = (line.as_object_mut(), more.as_object()) {
        line.extend(more.clone());
    }
    println!("{line}");
}

async fn ring_out(connection: &mut Connection, me: &str, args: RingArgs) -> anyhow::Result<()> {
    let (kind, target, callees) = match (args.to, args.group) {
        (Some(user), _) => (conversation::PRIVATE, user.clone(), vec![user]),
        (None, Some(group)) => (conversation::GROUP, group, args.callees),
        (None, None) => bail!("name --to USER or --group GROUP"),
    };
    let mut call = Call {
        id: format!("{me}-{}", meridian_clock::now_ms()),
        kind,
        target,
        next_client_id: 1,
        kept: Vec::new(),
    };
    let media = if args.video {
        Media::Video
    } else {
        Media::Audio
    };
    let mut waiting_for = callees.clone();
    let invite = Signal::Invite { media, callees };
    call.send(connection, invite).await?;
    event("calling", &call.id, json!({}));
    follow(
        connection,
        me,
        &mut call,
        &mut waiting_for,
        &args.end,
        false,
    )
    .await
}

async fn answer_one(connection: &mut Connection, me: &str, args: AnswerArgs) -> anyhow::Result<()> {
    event("waiting", "", json!({}));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.end.timeout);
    let (mut call, from) = loop {
        let message = next_message(connection, &mut Vec::new(), deadline).await?;
        let invited = match Signal::read(&message) {
            Some((id, Signal::Invite { callees, .. } | Signal::AddCallees(callees)))
                if callees.iter().any(|c| c == me) =>
            {
                id
            }
            _ => continue,
        };
        let call = Call {
            id: invited,
            kind: message.conversation_type,
            target: message.target_id.clone(),
            next_client_id: 1,
            kept: Vec::new(),
        };
        break (call, message.sender_user_id);
    };
    event("invited", &call.id, json!({ "from": from }));
    call.send(connection, Signal::Ringing).await?;
    if args.reject {
        let reject = Signal::Hangup {
            reason: reason::REJECT,
        };
        call.send(connection, reject).await?;
        event("rejected", &call.id, json!({}));
        return Ok(());
    }
    call.send(connection, Signal::Accept).await?;
    event("accepted", &call.id, json!({ "by": me }));
    let mut others = vec![from];
    follow(connection, me, &mut call, &mut others, &args.end, true).await
}

/// Prints the call's signals until nobody else is in it, or hangs up itself
/// `hang_up_after_ms` after it is answered (`answered`: from the start).
async fn follow(
    connection: &mut Connection,
    me: &str,
    call: &mut Call,
    others: &mut Vec<String>,
    end: &End,
    answered: bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(end.timeout);
    let after = |ms| tokio::time::Instant::now() + Duration::from_millis(ms);
    let mut hang_up_at = end.hang_up_after_ms.filter(|_| answered).map(after);
    while !others.is_empty() {
        let message = tokio::select! {
            message = next_message(connection, &mut call.kept, deadline) => message?,
            _ = sleep_until_some(hang_up_at) => {
                call.send(connection, Signal::Hangup { reason: reason::HANGUP }).await?;
                event("hungUp", &call.id, json!({}));
                return Ok(());
            }
        };
        let Some((id, signal)) = Signal::read(&message) else {
            continue;
        };
        let from = message.sender_user_id;
        if id != call.id || from == me {
            continue;
        }
        match signal {
            Signal::Ringing => event("ringing", &call.id, json!({ "from": from })),
            Signal::Accept => {
                event("accepted", &call.id, json!({ "by": from }));
                hang_up_at = hang_up_at.or(end.hang_up_after_ms.map(after));
            }
            Signal::Hangup { reason } => {
                event(
                    "hangup",
                    &call.id,
                    json!({ "from": from, "reason": reason }),
                );
                others.retain(|u| *u != from);
            }
            Signal::SwitchMedia(media) => {
                let video = media == Media::Video;
                event("media", &call.id, json!({ "from": from, "video": video }));
            }
            Signal::AddCallees(added) => {
                event("added", &call.id, json!({ "by": from, "users": added }));
                others.extend(added);
            }
            Signal::Invite { .. } => {}
        }
    }
    event("ended", &call.id, json!({}));
    Ok(())
}

/// The next message: those kept first, then the connection's.
async fn next_message(
    connection: &mut Connection,
    kept: &mut Vec<MessageBody>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<MessageBody> {
    if !kept.is_empty() {
        return Ok(kept.remove(0));
    }
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match connection.next_within(left).await.context("the call")? {
            ServerFrame::Message(message) => return Ok(message),
            ServerFrame::Kicked { reason, .. } => bail!("kicked: {reason}"),
            _ => {}
        }
    }
}
