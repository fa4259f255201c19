//! The baseline of `bench raft`: a 3-member etcd on loopback, written to through its JSON
//! gateway (`/v3/kv/put`) with the same concurrency as Meridian's cluster.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::host::{free_port, keepalive_connection};
use crate::measure::{drive, Measurement};

/// The members, killed when dropped.
struct EtcdCluster {
    children: Vec<std::process::Child>,
    client_url: String,
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the three members and waits until the first one reports itself healthy.
async fn start_etcd(binary: &Path, dir: &Path) -> anyhow::Result<EtcdCluster> {
    let members: Vec<(String, u16, u16)> = (1..=3)
        .map(|i| Ok((format!("e{i}"), free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let initial: Vec<String> = members
        .iter()
        .map(|(name, _, peer)| format!("{name}=http://127.0.0.1:{peer}"))
        .collect();
    let mut cluster = EtcdCluster {
        children: Vec::new(),
        client_url: format!("http://127.0.0.1:{}", members[0].1),
    };
    for (name, client, peer) in &members {
        let child = std::process::Command::new(binary)
            .args(["--name", name])
            .arg("--data-dir")
            .arg(dir.join(name))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        cluster.children.push(child);
    }
    let started = Instant::now();
    loop {
        let health = meridian_rpc::http::request(
            "GET",
            &format!("{}/health", cluster.client_url),
            None,
            None,
            Duration::from_secs(2),
        )
        .await;
        if matches!(&health, Ok(answer) if answer.status == 200 && answer.text().contains("true")) {
            return Ok(cluster);
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("etcd did not become healthy within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Acknowledged puts per second for each writer count, on a fresh 3-member etcd.
pub(crate) async fn bench_etcd(
    binary: &Path,
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let cluster = start_etcd(binary, dir).await?;
    let mut results = Vec::new();
    for &count in writers {
        let mut connections = Vec::new();
        for _ in 0..count {
            connections.push(tokio::sync::Mutex::new(
                keepalive_connection(&cluster.client_url).await?,
            ));
        }
        let connections = Arc::new(connections);
        let authority = cluster.client_url.trim_start_matches("http://").to_string();
        let measurement = drive(count, duration, move |writer, n| {
            let connections = connections.clone();
            let authority = authority.clone();
            async move {
                let b64 = base64::engine::general_purpose::STANDARD;
                let body = json!({
                    "key": b64.encode(format!("w{count}-{writer}-{n}")),
                    "value": b64.encode("bench user"),
                })
                .to_string();
                let request = hyper::Request::post("/v3/kv/put")
                    .header(hyper::header::HOST, authority)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))?;
                let mut sender = connections[writer].lock().await;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                if !status.is_success() {
                    bail!("etcd put answered {status}");
                }
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    Ok(results)
}
