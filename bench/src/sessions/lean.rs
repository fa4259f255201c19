//! Thousands of WebSocket sessions from one process. `meridian_client::Connection` keeps
//! tungstenite's default buffers (128 KiB per connection); these keep a 4 KiB read
//! buffer and write straight through, and spread their source addresses over loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt, TryStreamExt};
use meridian_access::token::{self, TokenClaims};
use meridian_proto::{ClientFrame, ServerFrame};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::dev_child::Endpoints;

/// Connections per loopback source address: one address runs out of ephemeral ports
/// near 28k.
const CONNECTIONS_PER_SOURCE: usize = 15_000;
/// Connects in flight at once.
const CONNECTS_IN_FLIGHT: usize = 200;
/// The edge closes a session silent for 90 s.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long the edge may take to answer a connect or a join.
const ANSWER_WAIT: Duration = Duration::from_secs(60);
/// File descriptors kept free of sessions, for everything else the processes open.
pub const FD_HEADROOM: u64 = 500;
/// Linux's default `fs.nr_open`: no soft limit can go past it.
const NR_OPEN_DEFAULT: u64 = 1 << 20;

type WsStream = WebSocketStream<TcpStream>;

/// Called with each text frame a session receives.
pub type FrameHandler = Box<dyn FnMut(&str) + Send>;

/// Raises this process's soft open-files limit to its hard limit (the dev child inherits
/// it) and answers how many sessions fit: each holds a descriptor in both processes.
pub fn max_sessions() -> anyhow::Result<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
        }
        // An unlimited hard limit still stops at the kernel's per-process maximum.
        let most = limit.rlim_max.min(NR_OPEN_DEFAULT);
        if limit.rlim_cur < most {
            limit.rlim_cur = most;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
            }
        }
    }
    Ok(limit.rlim_cur.saturating_sub(FD_HEADROOM) as usize)
}

/// Where sessions connect, and the app whose users they are.
pub struct SessionTarget {
    ws_url: String,
    addr: SocketAddr,
    app_key: String,
    app_secret: String,
}

impl SessionTarget {
    pub fn new(endpoints: &Endpoints) -> anyhow::Result<Self> {
        let addr = endpoints
            .ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .and_then(|authority| authority.parse().ok())
            .with_context(|| format!("edge ws URL {} is not ws://ip:port/…", endpoints.ws))?;
        Ok(Self {
            ws_url: endpoints.ws.clone(),
            addr,
            app_key: endpoints.app_key.clone(),
            app_secret: endpoints.app_secret.clone(),
        })
    }

    /// A token for `user`, minted here with the App Secret instead of asking the Server
    /// API (`/user/getToken.json`) once per session.
    pub fn token(&self, user: &str) -> String {
        let issued_at_ms = meridian_clock::now_ms();
        token::issue(
            &self.app_secret,
            &TokenClaims {
                app_key: self.app_key.clone(),
                user_id: user.to_string(),
                issued_at_ms,
            },
        )
    }

    /// SDK options for `user` on an iOS device named after the user.
    pub fn sdk_options(&self, user: &str) -> meridian_client::ConnectOptions {
        meridian_client::ConnectOptions {
            url: self.ws_url.clone(),
            app_key: self.app_key.clone(),
            token: self.token(user),
            device_id: user.to_string(),
            platform: "iOS".into(),
            cursor: None,
            tls: None,
        }
    }

    fn request_url(&self, user: &str) -> String {
        self.sdk_options(user).request_url()
    }

    /// One established session of `user` (it has received `synced`), the `index`-th of
    /// this run; in `chatroom` too if one is named.
    async fn connect(
        &self,
        user: &str,
        index: usize,
        chatroom: Option<&str>,
    ) -> anyhow::Result<WsStream> {
        let source = Ipv4Addr::new(127, 0, 0, 1 + (index / CONNECTIONS_PER_SOURCE) as u8);
        let socket = TcpSocket::new_v4()?;
        socket
            .bind(SocketAddr::new(source.into(), 0))
            .with_context(|| format!("binding a client socket to {source}"))?;
        let stream = socket
            .connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            self.request_url(user),
            stream,
            Some(config),
        )
        .await
        .with_context(|| format!("WebSocket upgrade for {user}"))?;
        wait_for(&mut ws, |frame| matches!(frame, ServerFrame::Synced { .. })).await?;
        if let Some(chatroom) = chatroom {
            let join = ClientFrame::JoinChatroom {
                req_id: 1,
                chatroom_id: chatroom.to_string(),
            };
            ws.send(WsMessage::text(serde_json::to_string(&join)?))
                .await?;
            wait_for(&mut ws, |frame| {
                matches!(frame, ServerFrame::ChatroomJoined { .. })
            })
            .await?;
        }
        Ok(ws)
    }

    /// Establishes a session for each of `users` ([`CONNECTS_IN_FLIGHT`] at a time), in
    /// `chatroom` if one is named, each kept open by a [`LiveSession`] from the moment it
    /// is up. `handler(i)` receives the frames of `users[i]`'s session.
    pub async fn connect_all(
        &self,
        users: &[String],
        chatroom: Option<&str>,
        handler: impl Fn(usize) -> FrameHandler,
    ) -> anyhow::Result<Vec<LiveSession>> {
        let handler = &handler;
        futures::stream::iter(users.iter().enumerate())
            .map(|(index, user)| async move {
                let ws = self
                    .connect(user, index, chatroom)
                    .await
                    .with_context(|| format!("session {index} ({user})"))?;
                Ok::<_, anyhow::Error>(LiveSession::spawn(ws, handler(index)))
            })
            .buffered(CONNECTS_IN_FLIGHT)
            .try_collect()
            .await
    }
}

/// Reads frames until one matches `wanted`; a refusal, a kick or the end of the session
/// is an error.
async fn wait_for(
    ws: &mut WsStream,
    wanted: impl Fn(&ServerFrame) -> bool,
) -> anyhow::Result<ServerFrame> {
    let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .with_context(|| format!("no answer from the edge within {ANSWER_WAIT:?}"))?;
        let text = match message {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(_))) | None => bail!("the edge closed the session"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        };
        let frame: ServerFrame = serde_json::from_str(text.as_str())?;
        match frame {
            ServerFrame::Error { code, message, .. } => bail!("edge error {code}: {message}"),
            ServerFrame::Kicked { code, reason } => bail!("kicked ({code}): {reason}"),
            frame if wanted(&frame) => return Ok(frame),
            _ => {}
        }
    }
}

/// An established session kept open on its own task: every text frame goes to its
/// handler, frames queued with [`LiveSession::send`] go out, and a `ping` every 30 s
/// keeps the edge from closing it as idle. Dropping it closes the connection.
pub struct LiveSession {
    outgoing: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl LiveSession {
    fn spawn(ws: WsStream, mut on_frame: FrameHandler) -> Self {
        let (outgoing, mut queued) = mpsc::unbounded_channel::<String>();
        let task = tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let ping = serde_json::to_string(&ClientFrame::Ping).unwrap_or_default();
            let mut pings =
                tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
            loop {
                let sent = tokio::select! {
                    message = stream.next() => match message {
                        Some(Ok(WsMessage::Text(text))) => {
                            on_frame(text.as_str());
                            Ok(())
                        }
                        Some(Ok(WsMessage::Close(_)) | Err(_)) | None => return,
                        Some(Ok(_)) => Ok(()),
                    },
                    Some(text) = queued.recv() => sink.send(WsMessage::text(text)).await,
                    _ = pings.tick() => sink.send(WsMessage::text(ping.clone())).await,
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Self { outgoing, task }
    }

    pub fn send(&self, frame: &ClientFrame) -> anyhow::Result<()> {
        self.outgoing
            .send(serde_json::to_string(frame)?)
            .ok()
            .context("the session has ended")
    }

    /// Whether the connection has ended (closed by the edge, or failed).
    pub fn has_ended(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}
