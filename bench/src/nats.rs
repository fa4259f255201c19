//! The second baseline of `bench raft`: NATS JetStream (Debian's `nats-server`), three
//! clustered servers on loopback and a stream of three replicas, published to with the
//! same concurrency as Meridian's cluster; a write counts once JetStream acknowledged it.
//! JetStream acknowledges after its replicas stored the message, without an fsync (it
//! syncs its files every two minutes by default), where Meridian acknowledges after
//! fdatasync on a majority.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use async_nats::jetstream;
use tokio::time::Instant;

use crate::host::free_port;
use crate::measure::{drive, Measurement};

/// The servers, killed when dropped.
struct NatsCluster {
    children: Vec<std::process::Child>,
    client_ports: Vec<u16>,
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts three servers with JetStream, each routed to the other two.
fn start_nats(binary: &Path, dir: &Path) -> anyhow::Result<NatsCluster> {
    let servers: Vec<(u16, u16)> = (0..3)
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let routes: Vec<String> = servers
        .iter()
        .map(|(_, route)| format!("nats://127.0.0.1:{route}"))
        .collect();
    let mut cluster = NatsCluster {
        children: Vec::new(),
        client_ports: servers.iter().map(|(client, _)| *client).collect(),
    };
    for (i, (client, route)) in servers.iter().enumerate() {
        let store = dir.join(format!("n{i}"));
        std::fs::create_dir_all(&store)?;
        let config = format!(
            "server_name: n{i}\nlisten: 127.0.0.1:{client}\n\
             jetstream {{ store_dir: {store:?} }}\n\
             cluster {{ name: bench, listen: 127.0.0.1:{route}, routes: [{}] }}\n",
            routes.join(", ")
        );
        let config_path = dir.join(format!("n{i}.conf"));
        std::fs::write(&config_path, config)?;
        let child = std::process::Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        cluster.children.push(child);
    }
    Ok(cluster)
}

/// The stream writes go to, created once the servers have elected their JetStream leader.
async fn create_stream(context: &jetstream::Context) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let config = jetstream::stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench.>".into()],
            num_replicas: 3,
            ..Default::default()
        };
        match context.create_stream(config).await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                bail!("no JetStream stream of three replicas within 30 s: {e}")
            }
            // Servers still meeting each other, or the meta leader not elected yet.
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn connect(port: u16) -> anyhow::Result<jetstream::Context> {
    let started = Instant::now();
    loop {
        match async_nats::connect(format!("127.0.0.1:{port}")).await {
            Ok(client) => return Ok(jetstream::new(client)),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                bail!("nats-server on port {port} did not answer within 30 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Acknowledged publishes per second for each writer count, on a fresh 3-server cluster.
pub(crate) async fn bench_nats(
    binary: &Path,
    dir: &Path,
    writers: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Measurement>> {
    let cluster = start_nats(binary, dir)?;
    create_stream(&connect(cluster.client_ports[0]).await?).await?;
    let mut results = Vec::new();
    for &count in writers {
        // One connection per writer, spread over the servers, as etcd's writers have.
        let mut contexts = Vec::with_capacity(count);
        for writer in 0..count {
            let port = cluster.client_ports[writer % cluster.client_ports.len()];
            contexts.push(connect(port).await?);
        }
        let contexts = std::sync::Arc::new(contexts);
        let measurement = drive(count, duration, move |writer, n| {
            let context = contexts[writer].clone();
            async move {
                let subject = format!("bench.w{count}.{writer}");
                let payload = format!("bench user {n}");
                context
                    .publish(subject, payload.into())
                    .await?
                    .await
                    .context("JetStream acknowledgement")?;
                Ok(())
            }
        })
        .await?;
        results.push(measurement);
    }
    drop(cluster);
    Ok(results)
}
