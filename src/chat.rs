//! `meridian chat`: try a deployment from a terminal. Driven by `endpoints.json` and the
//! demo app of an area; tokens come from that area's Server API, messages go through a
//! WebSocket session of the Rust client SDK like any app's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meridian_client::files;
use meridian_client::server_api::{form, post_form};
use meridian_client::{conversation, ConnectOptions, Connection, MessageBody};
use meridian_dev::endpoints::Endpoints;
use meridian_proto::files::{FileKind, UploadFor};
use meridian_proto::{ClientFrame, ServerFrame};
use serde_json::json;
use tokio::io::AsyncBufReadExt;

use crate::demo_app::DemoApp;

const ANSWER_WAIT: Duration = Duration::from_secs(15);
/// Below the edge's default heartbeat (30 s), so a quiet session is not closed as idle.
const PING_EVERY: Duration = Duration::from_secs(20);

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    who: Who,
    #[command(subcommand)]
    command: Option<ChatCommand>,
}

#[derive(Args, Clone)]
pub(crate) struct Who {
    #[command(flatten)]
    app: DemoApp,
    /// The user to act as (registered on first use).
    #[arg(long, global = true, default_value = "alice")]
    pub(crate) user: String,
}

#[derive(Subcommand)]
enum ChatCommand {
    /// Send one message and print its `msgUID` and `seq` as one JSON line.
    Send(SendArgs),
    /// Print one JSON line per message received; exit 0 after `--count` of them.
    Listen(ListenArgs),
}

#[derive(Args)]
struct Target {
    /// A private chat with this user.
    #[arg(long, conflicts_with_all = ["group", "chatroom"])]
    to: Option<String>,
    /// A group (created with the Server API).
    #[arg(long, conflicts_with = "chatroom")]
    group: Option<String>,
    /// A chatroom (created with the Server API); joined first.
    #[arg(long)]
    chatroom: Option<String>,
}

impl Target {
    fn resolve(&self) -> anyhow::Result<Conversation> {
        let (kind, target) = match (&self.to, &self.group, &self.chatroom) {
            (Some(user), None, None) => (conversation::PRIVATE, user),
            (None, Some(group), None) => (conversation::GROUP, group),
            (None, None, Some(room)) => (conversation::CHATROOM, room),
            _ => bail!("name one of --to USER, --group GROUP or --chatroom ROOM"),
        };
        Ok(Conversation {
            kind,
            target: target.clone(),
        })
    }
}

/// Where a message goes: a conversation type and its target.
struct Conversation {
    kind: u8,
    target: String,
}

impl std::fmt::Display for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            conversation::GROUP => write!(f, "group {}", self.target),
            conversation::CHATROOM => write!(f, "room {}", self.target),
            _ => f.write_str(&self.target),
        }
    }
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    target: Target,
    /// The message's text (an `RC:TxtMsg`).
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    text: Option<String>,
    /// Upload this file and send it: an image (`RC:ImgMsg`, with its thumbnail), GIF,
    /// voice clip, short video or any other file (`RC:FileMsg`), by its extension.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Args)]
struct ListenArgs {
    /// Exit after this many messages.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Give up (exit status 1) after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Also join this chatroom and print its messages.
    #[arg(long)]
    chatroom: Option<String>,
}

/// The session's device and where it keeps its sync cursor (beside endpoints.json), so a
/// listener resumes after the last message it printed, like a real device.
pub(crate) struct Device {
    id: String,
    platform: &'static str,
    cursor_file: PathBuf,
}

impl Device {
    pub(crate) fn new(who: &Who, role: &str, platform: &'static str) -> Self {
        let id = format!("cli-{role}-{}", who.user);
        let endpoints = who.app.endpoints.path();
        let dir = endpoints.parent().unwrap_or(Path::new("."));
        let cursor_file = dir.join(format!("chat-{}-{}-{id}.cursor", who.app.area, who.app.env));
        Self {
            id,
            platform,
            cursor_file,
        }
    }

    fn cursor(&self) -> Option<u64> {
        std::fs::read_to_string(&self.cursor_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn save(&self, cursor: u64) {
        if let Err(e) = std::fs::write(&self.cursor_file, cursor.to_string()) {
            tracing::warn!(file = %self.cursor_file.display(), error = %e, "cannot keep the sync cursor");
        }
    }
}

/// A session of `who` on the first edge of its area, with the App Key and token it used
/// and the edge's session URL.
pub(crate) struct Session {
    pub(crate) connection: Connection,
    app_key: String,
    token: String,
    ws: String,
}

pub(crate) async fn connect(who: &Who, device: &Device) -> anyhow::Result<Session> {
    let endpoints = Endpoints::read(&who.app.endpoints.path())?;
    let area = endpoints.area(&who.app.area)?;
    let api = area.api()?;
    let ws = area.ws()?.to_string();
    let app = area.app(&who.app.env)?;
    let (key, secret) = (app.app_key.clone(), app.app_secret.clone());
    let answer = post_form(
        api,
        &key,
        &secret,
        "/user/getToken.json",
        &form(&[("userId", &who.user), ("name", &who.user)]),
    )
    .await?;
    let token = answer["token"]
        .as_str()
        .context("no token in the getToken answer")?
        .to_string();
    let options = ConnectOptions {
        url: ws.clone(),
        app_key: key.clone(),
        token: token.clone(),
        device_id: device.id.clone(),
        platform: device.platform.into(),
        cursor: device.cursor(),
        tls: None,
    };
    let mut connection = Connection::connect(&options).await?;
    match connection.next_within(ANSWER_WAIT).await? {
        ServerFrame::Connected { .. } => Ok(Session {
            connection,
            app_key: key,
            token,
            ws,
        }),
        ServerFrame::Error { code, message, .. } => bail!("refused ({code}): {message}"),
        other => bail!("unexpected first frame: {other:?}"),
    }
}

fn message_line(message: &MessageBody) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ChatCommand::Send(send)) => send_one(&args.who, send).await,
        Some(ChatCommand::Listen(listen)) => listen_for(&args.who, listen).await,
        None => interactive(&args.who).await,
    }
}

async fn join(connection: &mut Connection, room: &str) -> anyhow::Result<Vec<MessageBody>> {
    connection
        .send(&ClientFrame::JoinChatroom {
            req_id: 1,
            chatroom_id: room.into(),
        })
        .await?;
    loop {
        match connection.next_within(ANSWER_WAIT).await? {
            ServerFrame::ChatroomJoined { messages, .. } => return Ok(messages),
            ServerFrame::Error { code, message, .. } => bail!("join refused ({code}): {message}"),
            _ => {}
        }
    }
}

/// An audio/video room request of the interactive chat (`/rtc ROOM [KIND] [ROLE]`,
/// `/publish STREAM [KIND]`, `/unpublish STREAM`, `/leave`), or `None` for other lines.
fn rtc_request(
    line: &str,
    room: &mut Option<String>,
    req_id: u64,
) -> Option<anyhow::Result<ClientFrame>> {
    let mut words = line.split_whitespace();
    let command = words.next()?;
    let in_room = |room: &Option<String>| room.clone().context("join a room first: /rtc ROOM");
    let mut word = |usage: &str| words.next().map(str::to_string).context(usage.to_string());
    let frame = match command {
        "/rtc" => word("/rtc ROOM [meeting|live|call] [ROLE]").and_then(|room_id| {
            *room = Some(room_id.clone());
            Ok(ClientFrame::RtcJoin {
                req_id,
                room_id,
                kind: named(words.next(), "meeting")?,
                role: named(words.next(), "participant")?,
            })
        }),
        "/publish" => in_room(room).and_then(|room_id| {
            let usage = "/publish STREAM [audio|video|screen|custom]";
            let stream_id = words.next().context(usage)?.to_string();
            Ok(ClientFrame::RtcPublish {
                req_id,
                room_id,
                publish: vec![meridian_client::rtc::Resource {
                    stream_id,
                    kind: named(words.next(), "audio")?,
                    layers: Vec::new(),
                    media_server: String::new(),
                    params: String::new(),
                }],
                unpublish: Vec::new(),
            })
        }),
        "/unpublish" => in_room(room).and_then(|room_id| {
            Ok(ClientFrame::RtcPublish {
                req_id,
                room_id,
                publish: Vec::new(),
                unpublish: vec![word("/unpublish STREAM")?],
            })
        }),
        "/leave" => in_room(room).map(|room_id| ClientFrame::RtcLeave { req_id, room_id }),
        _ => return None,
    };
    Some(frame)
}

/// A kind or role by its protocol name (`meeting`, `host`, `video`, …), or `default`.
fn named<T: serde::de::DeserializeOwned>(word: Option<&str>, default: &str) -> anyhow::Result<T> {
    let name = word.unwrap_or(default);
    serde_json::from_value(json!(name)).with_context(|| format!("unknown kind or role {name}"))
}

/// Sends an audio/video room request and waits for its answer, printing what arrives
/// meanwhile (messages and room notices, one JSON line each).
async fn rtc_ask(connection: &mut Connection, frame: ClientFrame) -> anyhow::Result<()> {
    connection.send(&frame).await?;
    loop {
        let frame = connection.next_within(ANSWER_WAIT).await?;
        match &frame {
            ServerFrame::Message(_)
            | ServerFrame::RtcEvent { .. }
            | ServerFrame::RtcJoined { .. } => {
                println!("{}", serde_json::to_string(&frame)?)
            }
            _ => {}
        }
        match frame {
            ServerFrame::RtcJoined { .. } | ServerFrame::Done { .. } => return Ok(()),
            ServerFrame::Error { code, message, .. } => {
                eprintln!("error {code}: {message}");
                return Ok(());
            }
            _ => {}
        }
    }
}

/// The `n`th send's client id: unique to this process, so a retry is recognised.
fn client_id(n: u64) -> String {
    format!("cli-{}-{n}", std::process::id())
}

fn send_frame(client_id: String, to: &Conversation, text: &str) -> ClientFrame {
    let content = json!({ "content": text }).to_string();
    send_content(client_id, to, "RC:TxtMsg", content)
}

fn send_content(
    client_id: String,
    to: &Conversation,
    object_name: &str,
    content: String,
) -> ClientFrame {
    ClientFrame::Send {
        client_id,
        conversation_type: to.kind,
        target_id: to.target.clone(),
        channel_id: String::new(),
        object_name: object_name.into(),
        content,
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    }
}

/// What a file is, by its extension: the message type it goes in and its content type.
fn file_kind(name: &str) -> (FileKind, &'static str) {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => (FileKind::Image, "image/jpeg"),
        "png" => (FileKind::Image, "image/png"),
        "webp" => (FileKind::Image, "image/webp"),
        "gif" => (FileKind::Gif, "image/gif"),
        "aac" | "m4a" => (FileKind::Voice, "audio/aac"),
        "mp3" => (FileKind::Voice, "audio/mpeg"),
        "mp4" => (FileKind::Video, "video/mp4"),
        "mov" => (FileKind::Video, "video/quicktime"),
        "pdf" => (FileKind::File, "application/pdf"),
        "txt" => (FileKind::File, "text/plain"),
        _ => (FileKind::File, "application/octet-stream"),
    }
}

async fn send_one(who: &Who, args: SendArgs) -> anyhow::Result<()> {
    let to = args.target.resolve()?;
    let device = Device::new(who, "send", "Web");
    let Session {
        mut connection,
        token,
        ws,
        ..
    } = connect(who, &device).await?;
    if to.kind == conversation::CHATROOM {
        join(&mut connection, &to.target).await?;
    }
    let frame = match (&args.text, &args.file) {
        (Some(text), _) => send_frame(client_id(0), &to, text),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (kind, content_type) = file_kind(&name);
            let edge = files::edge_base(&ws);
            let conversation = UploadFor {
                conversation_type: to.kind,
                target_id: to.target.clone(),
                sender_id: String::new(),
            };
            let uploaded = files::upload(
                &edge,
                &token,
                kind,
                &name,
                content_type,
                Some(conversation),
                bytes.into(),
            )
            .await?;
            let content = files::message_content(&uploaded).to_string();
            send_content(client_id(0), &to, kind.object_name(), content)
        }
        (None, None) => bail!("--text or --file is needed"),
    };
    connection.send(&frame).await?;
    loop {
        match connection.next_within(ANSWER_WAIT).await? {
            ServerFrame::Ack {
                msg_uid,
                seq,
                sent_time,
                ..
            } => {
                println!(
                    "{}",
                    json!({ "msgUID": msg_uid, "seq": seq, "sentTime": sent_time })
                );
                connection.close().await;
                return Ok(());
            }
            ServerFrame::Error { code, message, .. } => bail!("refused ({code}): {message}"),
            _ => {}
        }
    }
}

async fn listen_for(who: &Who, args: ListenArgs) -> anyhow::Result<()> {
    let device = Device::new(who, "listen", "Desktop");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let Session { mut connection, .. } = connect(who, &device).await?;
    let mut printed = 0;
    if let Some(room) = &args.chatroom {
        // The room's latest messages are context, not received messages.
        join(&mut connection, room).await?;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    while printed < args.count {
        let frame = tokio::select! {
            () = tokio::time::sleep_until(deadline) => bail!(
                "timed out after {} s with {printed} of {} messages",
                args.timeout,
                args.count
            ),
            _ = ping.tick() => {
                connection.send(&ClientFrame::Ping).await?;
                continue;
            }
            frame = connection.next() => frame,
        };
        match frame? {
            ServerFrame::Message(message) => {
                println!("{}", message_line(&message));
                printed += 1;
                device.save(connection.cursor());
            }
            ServerFrame::Kicked { code, reason } => bail!("kicked ({code}): {reason}"),
            ServerFrame::Error { code, message, .. } => bail!("error ({code}): {message}"),
            _ => {}
        }
    }
    connection.close().await;
    Ok(())
}

/// Lines starting with `/to USER`, `/group G` or `/room R` choose where the next lines go;
/// `/rtc`, `/publish`, `/unpublish` and `/leave` act in an audio/video room; other lines
/// are sent, and confirmed on stderr once the edge acknowledges them; received
/// messages are printed as they come. At the end of the input it waits (up to
/// [`ANSWER_WAIT`]) for the answers to what it sent.
async fn interactive(who: &Who) -> anyhow::Result<()> {
    let device = Device::new(who, "chat", "Desktop");
    let Session {
        mut connection,
        app_key,
        ..
    } = connect(who, &device).await?;
    eprintln!(
        "connected as {} to {}'s demo app, env {} (app key {app_key}).\n\
         /to USER, /group GROUP, /room ROOM choose the conversation; /rtc ROOM [KIND] [ROLE],\n\
         /publish STREAM [KIND], /unpublish STREAM, /leave act in an audio/video room; Ctrl-D quits.",
        who.user, who.app.area, who.app.env
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut chosen: Option<Conversation> = None;
    let mut rtc_room: Option<String> = None;
    // Sends not answered yet, by client id: where each went.
    let mut unanswered: HashMap<String, String> = HashMap::new();
    let mut sent = 0u64;
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut input_ended: Option<tokio::time::Instant> = None;
    while input_ended.is_none() || !unanswered.is_empty() {
        let answers_due = input_ended.map(|ended| ended + ANSWER_WAIT);
        tokio::select! {
            _ = ping.tick() => connection.send(&ClientFrame::Ping).await?,
            () = sleep_until_some(answers_due) => {
                eprintln!("no answer within {ANSWER_WAIT:?} for {} message(s)", unanswered.len());
                break;
            }
            line = lines.next_line(), if input_ended.is_none() => {
                let Some(line) = line? else {
                    input_ended = Some(tokio::time::Instant::now());
                    continue;
                };
                let line = line.trim();
                let choose = |prefix: &str| line.strip_prefix(prefix).map(|rest| rest.trim().to_string());
                if let Some(user) = choose("/to ") {
                    chosen = Some(Conversation { kind: conversation::PRIVATE, target: user });
                } else if let Some(group) = choose("/group ") {
                    chosen = Some(Conversation { kind: conversation::GROUP, target: group });
                } else if let Some(room) = choose("/room ") {
                    for message in join(&mut connection, &room).await? {
                        println!("{}", message_line(&message));
                    }
                    chosen = Some(Conversation { kind: conversation::CHATROOM, target: room });
                } else if let Some(request) = rtc_request(line, &mut rtc_room, sent + 1) {
                    match request {
                        Ok(frame) => rtc_ask(&mut connection, frame).await?,
                        Err(e) => eprintln!("{e}"),
                    }
                } else if !line.is_empty() {
                    let Some(to) = &chosen else {
                        eprintln!("choose a conversation first: /to USER");
                        continue;
                    };
                    sent += 1;
                    let client_id = client_id(sent);
                    connection.send(&send_frame(client_id.clone(), to, line)).await?;
                    unanswered.insert(client_id, to.to_string());
                }
            }
            frame = connection.next() => match frame? {
                ServerFrame::Message(message) => {
                    println!("{}", message_line(&message));
                    device.save(connection.cursor());
                }
                ServerFrame::Ack { client_id, msg_uid, seq, .. } => {
                    match unanswered.remove(&client_id) {
                        Some(to) => eprintln!("→ sent to {to} (msg id {msg_uid}, seq {seq})"),
                        None => eprintln!("→ sent (msg id {msg_uid}, seq {seq})"),
                    }
                }
                ServerFrame::Error { code, message, client_id, .. } => {
                    match client_id.and_then(|id| unanswered.remove(&id)) {
                        Some(to) => eprintln!("✗ not sent to {to}: error {code}: {message}"),
                        None => eprintln!("error {code}: {message}"),
                    }
                }
                ServerFrame::Kicked { code, reason } => bail!("kicked ({code}): {reason}"),
                frame @ ServerFrame::RtcEvent { .. } => println!("{}", serde_json::to_string(&frame)?),
                _ => {}
            },
        }
    }
    connection.close().await;
    Ok(())
}

/// Sleeps until `deadline`, or forever when there is none.
pub(crate) async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command};

    /// Every flag of `command` and its subcommands, as `path --flag`, that has no help.
    fn undocumented(command: &Command, path: &str) -> Vec<String> {
        let mut missing: Vec<String> = command
            .get_arguments()
            .filter(|arg| arg.get_help().is_none())
            .map(|arg| format!("{path} --{}", arg.get_id()))
            .collect();
        for sub in command.get_subcommands() {
            missing.extend(undocumented(sub, &format!("{path} {}", sub.get_name())));
        }
        missing
    }

    #[test]
    fn every_chat_flag_has_help() {
        let mut chat = super::ChatArgs::augment_args(Command::new("chat"));
        chat.build();
        assert_eq!(undocumented(&chat, "meridian chat"), Vec::<String>::new());
    }
}
