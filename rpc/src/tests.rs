use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::{codec, serve, DevPki, RpcClient, RpcError, RpcHandler, TlsSettings};

struct Echo;

impl RpcHandler for Echo {
    fn handle(&self, path: &str, body: Bytes) -> Option<BoxFuture<'static, Bytes>> {
        if path != "/echo" {
            return None;
        }
        Some(
            async move {
                let text: String = codec::decode(&body).unwrap_or_default();
                codec::encode(&format!("echo:{text}")).unwrap_or_default()
            }
            .boxed(),
        )
    }
}

async fn start(tls: Option<TlsSettings>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, tls, Arc::new(Echo), async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx)
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn plain_call_round_trips_and_unknown_path_is_404() {
    let (addr, _stop) = start(None).await;
    let client = RpcClient::new(addr, None);
    let reply: String = client.call("/echo", "hi", T).await.unwrap();
    assert_eq!(reply, "echo:hi");
    let err = client.call::<_, String>("/nope", "x", T).await.unwrap_err();
    assert!(matches!(err, RpcError::Status { status: 404, .. }), "{err}");
}

#[tokio::test]
async fn unreachable_peer_is_reported_as_such() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = RpcClient::new(addr, None)
        .call::<_, String>("/echo", "x", T)
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
}

#[tokio::test]
async fn mutual_tls_accepts_members_and_refuses_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevPki::new().unwrap();
    let server_files = pki.write_node(dir.path(), "node-1").unwrap();
    let client_files = pki.write_node(dir.path(), "node-2").unwrap();
    let (addr, _stop) = start(Some(TlsSettings::load(&server_files).unwrap())).await;

    let member = RpcClient::new(
        addr.clone(),
        Some(TlsSettings::load(&client_files).unwrap()),
    );
    let reply: String = member.call("/echo", "secure", T).await.unwrap();
    assert_eq!(reply, "echo:secure");

    // A node with a certificate from another CA is refused.
    let other_dir = tempfile::tempdir().unwrap();
    let stranger_files = DevPki::new()
        .unwrap()
        .write_node(other_dir.path(), "stranger")
        .unwrap();
    let stranger = RpcClient::new(
        addr.clone(),
        Some(TlsSettings::load(&stranger_files).unwrap()),
    );
    assert!(stranger.call::<_, String>("/echo", "x", T).await.is_err());

    // A plain-text client cannot talk to a TLS node.
    let plain = RpcClient::new(addr, None);
    assert!(plain.call::<_, String>("/echo", "x", T).await.is_err());
}
