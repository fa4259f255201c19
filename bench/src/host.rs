//! What the benchmarks take from the machine they run on: loopback ports, binaries on the
//! PATH, a scratch directory, keep-alive HTTP/1.1 connections.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(meridian_telemetry::free_loopback_port()?)
}

/// How many port bases a benchmark deployment tries before giving up.
pub(crate) const PORT_BASE_ATTEMPTS: u16 = 5;

/// The first of consecutive loopback ports for a benchmark deployment: spread by process
/// id so concurrent runs rarely collide, and a different range on each retry if taken.
pub(crate) fn port_base(attempt: u16) -> u16 {
    // Below Linux's ephemeral range (32768+): thousands of benchmark client sockets,
    // some still closing from an earlier run, never hold these ports.
    20_000 + (std::process::id() % 300) as u16 * 20 + attempt * 1000
}

/// `name` itself when it is a path, else the first match on the PATH.
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// This run's directory under the system's temp dir (`meridian-bench-<pid>`); each
/// benchmark removes what it put there.
pub(crate) fn scratch_dir() -> anyhow::Result<PathBuf> {
    let dir = scratch_path();
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("meridian-bench-{}", std::process::id()))
}

/// Removes this run's directory once the benchmarks have emptied it; one that still
/// holds something (a benchmark stopped half-way) is left for a look.
pub(crate) fn remove_scratch_dir() {
    let _ = std::fs::remove_dir(scratch_path());
}

/// One writer's keep-alive HTTP/1.1 connection (to etcd's JSON gateway, or an edge).
pub(crate) async fn keepalive_connection(
    url: &str,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let authority = url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_dir_goes_once_empty_and_stays_while_it_holds_something() {
        let dir = scratch_dir().unwrap();
        std::fs::write(dir.join("left-behind"), b"x").unwrap();
        remove_scratch_dir();
        assert!(dir.exists(), "a directory with something in it is kept");
        std::fs::remove_file(dir.join("left-behind")).unwrap();
        remove_scratch_dir();
        assert!(!dir.exists(), "an empty directory is removed");
    }
}
