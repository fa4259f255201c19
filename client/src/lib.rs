//! Rust client SDK: WebSocket sessions with an edge (`edge/PROTOCOL.md`).
//!
//! [`Connection`] is one connection: it connects, sends frames and yields the edge's
//! frames in order, keeping the sync cursor of every message it has handed out
//! ([`Connection::cursor`]). [`Client`] is what an app holds all day: it reconnects with
//! backoff, resumes at that cursor and resends unacknowledged messages.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use meridian_proto::{ClientFrame, ServerFrame};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

pub use meridian_proto::{codes, conversation, rtc, MessageBody};
pub use resilient::{Acked, Backoff, Client, Outgoing, SendError, Sender};

pub mod calls;
pub mod files;
pub mod nav;
mod resilient;
pub mod server_api;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("bad frame from the edge: {0}")]
    Frame(#[from] serde_json::Error),
    #[error("the edge closed the session")]
    Closed,
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    #[error("bad URL {0}")]
    Url(String),
    #[error("connect: {0}")]
    Io(String),
}

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `ws://host:port/websocket`
    pub url: String,
    pub app_key: String,
    pub token: String,
    pub device_id: String,
    pub platform: String,
    /// Resume after this cursor (from [`Connection::cursor`] of an earlier session).
    pub cursor: Option<u64>,
    /// For `wss://` URLs: the TLS client configuration (which CAs to trust).
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl ConnectOptions {
    /// The `/websocket` URL with the connect parameters, URL-encoded.
    pub fn request_url(&self) -> String {
        let mut url = format!(
            "{}?appId={}&token={}&deviceId={}&platform={}",
            self.url,
            url_encode(&self.app_key),
            url_encode(&self.token),
            url_encode(&self.device_id),
            url_encode(&self.platform)
        );
        if let Some(cursor) = self.cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        url
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for URLs and forms.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The socket under a session: plain TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Connection {
    ws: WebSocketStream<Box<dyn Io>>,
    cursor: u64,
}

impl Connection {
    /// Connects to `ws://` or, with [`ConnectOptions::tls`], `wss://` URLs.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ClientError> {
        let url = options.request_url();
        let uri: tokio_tungstenite::tungstenite::http::Uri = url
            .parse()
            .map_err(|_| ClientError::Url(options.url.clone()))?;
        let secure = uri.scheme_str() == Some("wss");
        let host = uri
            .host()
            .ok_or_else(|| ClientError::Url(options.url.clone()))?
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| ClientError::Io(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if secure {
            let config = options.tls.clone().ok_or_else(|| {
                ClientError::Url(format!("{}: wss needs a TLS configuration", options.url))
            })?;
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| ClientError::Url(options.url.clone()))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| ClientError::Io(e.to_string()))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let (ws, _) = tokio_tungstenite::client_async(url, io).await?;
        Ok(Self {
            ws,
            cursor: options.cursor.unwrap_or(0),
        })
    }

    /// The cursor of the newest message handed out: pass it to the next connect.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame)?;
        self.ws.send(WsMessage::text(text)).await?;
        Ok(())
    }

    /// The next frame from the edge (pings answered, cursors tracked).
    pub async fn next(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            let Some(message) = self.ws.next().await else {
                return Err(ClientError::Closed);
            };
            let text = match message? {
                WsMessage::Text(text) => text,
                WsMessage::Close(_) => return Err(ClientError::Closed),
                _ => continue,
            };
            let frame: ServerFrame = serde_json::from_str(text.as_str())?;
            match &frame {
                ServerFrame::Message(body) if body.cursor > 0 => {
                    self.cursor = self.cursor.max(body.cursor)
                }
                ServerFrame::Synced { cursor } => self.cursor = self.cursor.max(*cursor),
                _ => {}
            }
            return Ok(frame);
        }
    }

    /// [`Connection::next`] with a deadline.
    pub async fn next_within(&mut self, timeout: Duration) -> Result<ServerFrame, ClientError> {
        tokio::time::timeout(timeout, self.next())
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
