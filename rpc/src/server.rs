//! The RPC server: HTTP/2 (prior knowledge, or ALPN `h2` under TLS), one POST per call.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::codec::MAX_BODY_BYTES;
use crate::tls::TlsSettings;

/// Answers calls by path. The body is the encoded request; the answer is the encoded reply.
pub trait RpcHandler: Send + Sync + 'static {
    /// `None` when the path is unknown (answered with 404).
    fn handle(&self, path: &str, body: Bytes) -> Option<BoxFuture<'static, Bytes>>;
}

/// Serves `handler` on `listener` until `shutdown` resolves; then stops accepting and
/// closes open connections gracefully.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsSettings>,
    handler: Arc<dyn RpcHandler>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let (closing_tx, closing_rx) = watch::channel(false);
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "rpc accept failed");
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        crate::tune_socket(&stream);
        let handler = handler.clone();
        let acceptor = acceptor.clone();
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => serve_connection(tls_stream, handler, closing).await,
                    Err(e) => tracing::warn!(%peer, error = %e, "rpc tls handshake refused"),
                },
                None => serve_connection(stream, handler, closing).await,
            }
        });
    }
    let _ = closing_tx.send(true);
    Ok(())
}

async fn serve_connection<IO>(
    io: IO,
    handler: Arc<dyn RpcHandler>,
    mut closing: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(answer(handler, req).await) }
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .max_concurrent_streams(1024)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024)
        .max_frame_size(1024 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "rpc connection ended");
            }
        }
        _ = async { closing.wait_for(|closing| *closing).await.map(|_| ()) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn status(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = code;
    response
}

async fn answer(handler: Arc<dyn RpcHandler>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::POST {
        return status(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return status(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
            }
            return status(StatusCode::BAD_REQUEST, "unreadable body");
        }
    };
    match handler.handle(&path, body) {
        Some(reply) => Response::new(Full::new(reply.await)),
        None => status(StatusCode::NOT_FOUND, "unknown rpc path"),
    }
}
