//! Binding a process's listeners, with an error that names the configuration key.

use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({key}): {source}")]
pub struct ListenError {
    /// The configuration key the address came from, e.g. `rpc_listen`.
    pub key: &'static str,
    pub addr: String,
    #[source]
    pub source: std::io::Error,
}

pub async fn listen(key: &'static str, addr: &str) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|source| ListenError {
        key,
        addr: addr.to_string(),
        source,
    })
}

/// A loopback port nobody listens on right now: the OS picks it, and the caller binds it
/// soon after (test harnesses and benchmarks laying out processes).
pub fn free_loopback_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
