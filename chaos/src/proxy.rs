//! A TCP proxy on one directed link: from one cluster node to another, or from an edge to
//! a node. Cutting it drops the
//! link's open connections and refuses new ones until it is healed: a network partition
//! without network namespaces. Slowing it delays what it forwards: latency, jitter and
//! the stalls packet loss causes on a TCP connection.

use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A slow network on a link: each chunk of bytes waits `delay` plus up to `jitter`, and
/// one in `stall_one_in` waits `stall` more (a lost packet's retransmission, as TCP
/// turns loss into delay). Bytes keep their order, so a late chunk holds back the ones
/// behind it, as on a real connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowLink {
    pub delay: Duration,
    pub jitter: Duration,
    pub stall_one_in: u32,
    pub stall: Duration,
}

impl SlowLink {
    fn wait(&self, rng: &mut StdRng) -> Duration {
        let jitter = rng.random_range(0..=self.jitter.as_micros() as u64);
        let stalled = self.stall_one_in > 0 && rng.random_range(0..self.stall_one_in) == 0;
        self.delay
            + Duration::from_micros(jitter)
            + if stalled { self.stall } else { Duration::ZERO }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Healthy,
    Slow(SlowLink),
    Cut,
}

pub struct LinkProxy {
    addr: SocketAddr,
    state: watch::Sender<LinkState>,
    task: JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (state, state_rx) = watch::channel(LinkState::Healthy);
        let task = tokio::spawn(accept(listener, target, state_rx));
        Ok(Self { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link (or heals it, also of any slowness).
    pub fn set_cut(&self, cut: bool) {
        self.state.send_replace(if cut {
            LinkState::Cut
        } else {
            LinkState::Healthy
        });
    }

    /// Slows the link's open and new connections down (or makes it healthy again).
    pub fn set_slow(&self, slow: Option<SlowLink>) {
        self.state
            .send_replace(slow.map_or(LinkState::Healthy, LinkState::Slow));
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: String, state: watch::Receiver<LinkState>) {
    let mut connections = tokio::task::JoinSet::new();
    let mut seed = 0u64;
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        if *state.borrow() == LinkState::Cut {
            drop(inbound);
            continue;
        }
        seed += 1;
        connections.spawn(forward(inbound, target.clone(), state.clone(), seed));
    }
}

async fn forward(
    inbound: TcpStream,
    target: String,
    mut state: watch::Receiver<LinkState>,
    seed: u64,
) {
    let Ok(outbound) = TcpStream::connect(&target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::select! {
        _ = pump(in_read, out_write, state.clone(), seed * 2) => {}
        _ = pump(out_read, in_write, state.clone(), seed * 2 + 1) => {}
        _ = state.wait_for(|s| *s == LinkState::Cut) => {}
    }
}

/// Copies one direction, each chunk held for the link's slowness at the time it is read,
/// and never before the chunk ahead of it.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    state: watch::Receiver<LinkState>,
    seed: u64,
) {
    let (chunks, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut last_due = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            let wait = match *state.borrow() {
                LinkState::Slow(slow) => slow.wait(&mut rng),
                LinkState::Healthy | LinkState::Cut => Duration::ZERO,
            };
            last_due = last_due.max(Instant::now() + wait);
            if chunks.send((last_due, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = socket.read(&mut buf).await {
                        if socket.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> bool {
        if stream.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.is_ok() && &buf == b"ping"
    }

    #[tokio::test]
    async fn a_cut_link_drops_connections_until_healed() {
        let proxy = LinkProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut open).await);

        proxy.set_cut(true);
        let mut buf = [0u8; 1];
        // The open connection is closed from the proxy's side.
        assert_eq!(open.read(&mut buf).await.unwrap_or(0), 0);
        let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(!round_trip(&mut refused).await);

        proxy.set_cut(false);
        let mut healed = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut healed).await);
    }

    #[tokio::test]
    async fn a_slow_link_delays_open_connections_in_order_until_healed() {
        let proxy = LinkProxy::start(echo_server().await.to_string())
            .await
            .unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut open).await);
        let delay = Duration::from_millis(150);
        proxy.set_slow(Some(SlowLink {
            delay,
            jitter: Duration::from_millis(20),
            stall_one_in: 0,
            stall: Duration::ZERO,
        }));
        // Both ways are slowed: at least twice the delay for a round trip, bytes in order.
        let started = Instant::now();
        open.write_all(b"abcdefgh").await.unwrap();
        let mut echoed = [0u8; 8];
        open.read_exact(&mut echoed).await.unwrap();
        assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
        assert_eq!(&echoed, b"abcdefgh");

        proxy.set_slow(None);
        let started = Instant::now();
        assert!(round_trip(&mut open).await);
        assert!(started.elapsed() < delay, "{:?}", started.elapsed());
    }
}
