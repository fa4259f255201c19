//! The client's socket as a session writes it, and the reasons a session ends.

use std::pin::Pin;
use std::time::Duration;

use futures::{Sink, SinkExt};
use meridian_proto::ServerFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::commercial::Commercial;
use super::error::SessionError;

/// How long a frame may wait for room in a client's queue before the client counts as
/// too slow.
const SLOW_AFTER: Duration = Duration::from_secs(5);

/// Why a session ended, for the metric and the log.
#[derive(Debug, Clone, Copy)]
pub(super) enum End {
    Closed,
    Idle,
    Kicked,
    Slow,
    Drain,
    Refused,
    LoggedOut,
    /// A commercial client's frame could not be read.
    BadFrame,
}

impl End {
    pub(super) fn label(self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::Idle => "idle",
            End::Kicked => "kicked",
            End::Slow => "slow",
            End::Drain => "drain",
            End::Refused => "refused",
            End::LoggedOut => "logged_out",
            End::BadFrame => "bad_frame",
        }
    }
}

/// The protocol a connection speaks: Meridian's JSON text frames (`PROTOCOL.md`) or the
/// commercial SDKs' binary ones (`COMMERCIAL-PROTOCOL.md`), chosen by its connect query.
pub(super) enum Wire {
    Json,
    Commercial(Box<Commercial>),
}

/// The client's socket, written through by the session's own task: an idle session needs
/// no writer task. A frame that cannot be written within 5 s ends the session as slow.
pub(super) struct Socket {
    pub(super) sink: Pin<Box<dyn Sink<WsMessage, Error = WsError> + Send + Sync>>,
    pub(super) frames_out: prometheus::IntCounter,
    pub(super) wire: Wire,
}

/// A socket write's outcome: one not done within [`SLOW_AFTER`] ends the session as slow.
async fn written(write: impl std::future::Future<Output = Result<(), WsError>>) -> Result<(), End> {
    match tokio::time::timeout(SLOW_AFTER, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Closed),
        Err(_) => Err(End::Slow),
    }
}

impl Socket {
    /// Sends a frame of the session core in the connection's protocol (which may have
    /// nothing to say for it).
    pub(super) async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        match self.frame(frame)? {
            Some(message) => self.send_raw(message).await,
            None => Ok(()),
        }
    }

    /// A frame of the session core in the connection's protocol, if it has one. One that
    /// cannot be made ends the session, so the device resyncs rather than missing it.
    pub(super) fn frame(&mut self, frame: &ServerFrame) -> Result<Option<WsMessage>, End> {
        Ok(match &mut self.wire {
            Wire::Json => {
                let text = serde_json::to_string(frame).map_err(|e| {
                    tracing::error!(error = %e, "a frame could not be serialized");
                    End::Closed
                })?;
                Some(WsMessage::Text(text.into()))
            }
            Wire::Commercial(wire) => wire.write(frame).map(|b| WsMessage::Binary(b.into())),
        })
    }

    /// Sends a frame already in the connection's protocol.
    pub(super) async fn send_raw(&mut self, message: WsMessage) -> Result<(), End> {
        written(self.sink.send(message)).await?;
        self.frames_out.inc();
        Ok(())
    }

    /// Queues a frame in the socket's write buffer; [`Socket::flush`] sends it.
    pub(super) async fn feed(&mut self, message: WsMessage) -> Result<(), End> {
        written(self.sink.feed(message)).await?;
        self.frames_out.inc();
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), End> {
        written(self.sink.flush()).await
    }

    /// Tells the client why something it did (not a numbered request) was refused.
    pub(super) async fn refuse(&mut self, error: SessionError) -> Result<(), End> {
        self.send(&error.into_frame(None, None)).await
    }

    pub(super) async fn close(&mut self) {
        let _ = tokio::time::timeout(SLOW_AFTER, self.sink.close()).await;
    }
}
