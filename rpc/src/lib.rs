//! Internal RPC between Meridian processes: HTTP/2 requests whose bodies are a compact
//! binary encoding (bincode) of shared serde types. Raft traffic between cluster nodes
//! and the edge-facing cluster API both travel over it, optionally under mutual TLS.

pub mod client;
pub mod codec;
pub mod http;
pub mod outbound;
pub mod server;
pub mod tls;

pub use client::{RpcClient, RpcError};
pub use codec::{decode, encode, CodecError};
pub use outbound::OutboundClient;
pub use server::{serve, RpcHandler};
pub use tls::{client_config_trusting, DevPki, PublicTlsFiles, TlsFiles, TlsSettings};

/// Sets TCP_NODELAY: without it every small HTTP/2 frame waits for the delayed-ACK timer
/// (measured: ~40 ms per Raft RPC).
pub fn tune_socket(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
}

#[cfg(test)]
mod tests;
