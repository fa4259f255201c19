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

/// Where [`free_loopback_port`] picks: below Linux's ephemeral range (32768 and up), so
/// no outgoing connection's source port takes a picked port before its process binds it,
/// or while a restarted process is down.
const PICKED_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A loopback port nobody listens on right now, for the caller to bind soon after (test
/// harnesses and benchmarks laying out processes). Each process walks the range from its
/// own random start and never hands a port out twice.
pub fn free_loopback_port() -> std::io::Result<u16> {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(u64::MAX);
    let span = u64::from(PICKED_PORTS.end - PICKED_PORTS.start);
    let start = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    // The first caller sets the start; later ones carry on from the last port handed out.
    let _ = NEXT.compare_exchange(u64::MAX, start % span, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let port = PICKED_PORTS.start + offset as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free loopback port in 20000-31999",
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn picked_ports_are_bindable_distinct_and_below_the_ephemeral_range() {
        let picked: Vec<u16> = (0..50)
            .map(|_| super::free_loopback_port().unwrap())
            .collect();
        let distinct: std::collections::BTreeSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), picked.len(), "{picked:?}");
        for port in picked {
            assert!(super::PICKED_PORTS.contains(&port), "{port}");
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
