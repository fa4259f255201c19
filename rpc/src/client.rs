//! The RPC client: one multiplexed HTTP/2 connection per peer, re-dialled on failure.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::codec::{self, CodecError, MAX_BODY_BYTES};
use crate::tls::TlsSettings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The peer could not be reached at all: nothing was sent.
    #[error("cannot reach {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    /// The call was sent (or may have been) but no answer arrived in time.
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The connection broke while the call was under way.
    #[error("transport error with {addr}: {reason}")]
    Transport { addr: String, reason: String },
    #[error("{addr} answered HTTP {status}")]
    Status { addr: String, status: u16 },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl RpcError {
    /// True when the request certainly never reached the peer's handler.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RpcError::Unreachable { .. })
    }
}

pub struct RpcClient {
    addr: String,
    tls: Option<TlsSettings>,
    sender: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("addr", &self.addr)
            .finish()
    }
}

impl RpcClient {
    pub fn new(addr: impl Into<String>, tls: Option<TlsSettings>) -> Self {
        Self {
            addr: addr.into(),
            tls,
            sender: Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Encodes `request`, posts it to `path` and decodes the answer.
    pub async fn call<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RpcError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let body = codec::encode(request)?;
        let reply = self.call_raw(path, body, timeout).await?;
        Ok(codec::decode(&reply)?)
    }

    pub async fn call_raw(
        &self,
        path: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, RpcError> {
        match tokio::time::timeout(timeout, self.exchange(path, body)).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::Timeout {
                addr: self.addr.clone(),
                timeout,
            }),
        }
    }

    async fn exchange(&self, path: &str, body: Bytes) -> Result<Bytes, RpcError> {
        let mut sender = self.sender().await?;
        let uri = format!("http://{}{}", self.addr, path);
        let request = Request::post(uri)
            .body(Full::new(body))
            .map_err(|e| self.transport(e.to_string()))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender.lock().await.take();
                return Err(self.transport(e.to_string()));
            }
        };
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| self.transport(e.to_string()))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(RpcError::Status {
                addr: self.addr.clone(),
                status: status.as_u16(),
            });
        }
        Ok(bytes)
    }

    fn transport(&self, reason: String) -> RpcError {
        RpcError::Transport {
            addr: self.addr.clone(),
            reason,
        }
    }

    fn unreachable(&self, reason: String) -> RpcError {
        RpcError::Unreachable {
            addr: self.addr.clone(),
            reason,
        }
    }

    /// The live connection, dialling a new one when there is none or it has closed.
    async fn sender(&self) -> Result<SendRequest<Full<Bytes>>, RpcError> {
        let mut slot = self.sender.lock().await;
        if let Some(sender) = slot.as_mut() {
            if sender.ready().await.is_ok() {
                return Ok(sender.clone());
            }
        }
        *slot = None;
        let sender = self.dial().await?;
        *slot = Some(sender.clone());
        Ok(sender)
    }

    async fn dial(&self) -> Result<SendRequest<Full<Bytes>>, RpcError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| self.unreachable("connect timed out".into()))?
            .map_err(|e| self.unreachable(e.to_string()))?;
        crate::tune_socket(&stream);
        match &self.tls {
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                let stream = connector
                    .connect(tls.server_name.clone(), stream)
                    .await
                    .map_err(|e| self.unreachable(format!("tls: {e}")))?;
                self.handshake(stream).await
            }
            None => self.handshake(stream).await,
        }
    }

    async fn handshake<IO>(&self, io: IO) -> Result<SendRequest<Full<Bytes>>, RpcError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .initial_stream_window_size(4 * 1024 * 1024)
            .initial_connection_window_size(16 * 1024 * 1024)
            .max_frame_size(1024 * 1024);
        let (sender, connection) = builder
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| self.unreachable(format!("http2 handshake: {e}")))?;
        let addr = self.addr.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%addr, error = %e, "rpc client connection ended");
            }
        });
        Ok(sender)
    }
}
